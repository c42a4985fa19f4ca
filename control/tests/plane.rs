//! The real control plane (`control::plane::run`) over record rings this test fills as
//! `start`'s workers fill them, without an engine process.
//!
//! - Formatting rows on several threads writes the bytes one thread writes: closed rings hand
//!   the plane every record at once, so its batch is split into several pieces every time
//!   (render::MIN_PIECE is 256 records).
//! - A plane stopped after a checkpoint and started again goes on from it: logs and traffic
//!   counters are those of one uninterrupted run.

#[path = "common/rings.rs"]
mod rings;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[test]
fn format_threads_write_the_same_logs_as_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let trace = root.join("tests/pcaps/ndpi__1kxun.compact.pcap");
    let conf = root.join("tests/runtime-all.conf");
    let rt = control::conf::parse_runtime_conf(&conf).unwrap();
    let recs = rings::trace_records(&trace, u64::MAX, &rt);
    assert!(recs.len() > 2 * 256, "{} records", recs.len());
    let mut results = Vec::new();
    for threads in [1, 3] {
        let dir = std::env::temp_dir().join(format!(
            "tstat-dpdk-plane-format-{}-{threads}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let paths = rings::fill_rings(&dir, 2, &recs);
        let spec = rings::plane_spec(&dir, paths, Some(conf.clone()), threads);
        let s = control::plane::run(&spec, Arc::new(AtomicBool::new(false))).unwrap();
        assert_eq!(s.written, recs.len() as u64, "{threads} threads");
        assert_eq!(s.corrupt, 0);
        results.push(rings::files_under(&spec.out_dir));
        let _ = std::fs::remove_dir_all(&dir);
    }
    let rows: usize = results[0]
        .values()
        .map(|v| v.iter().filter(|&&b| b == b'\n').count())
        .sum();
    assert!(
        rows > recs.len() / 2,
        "{rows} rows of {} records",
        recs.len()
    );
    assert!(
        results[0] == results[1],
        "the logs of 1 and 3 format threads differ"
    );
}

/// A plane stopped while the engine runs (an upgrade) checkpoints; the next one resumes from
/// the checkpoint: the logs equal one uninterrupted plane's, and the traffic counters (what
/// Prometheus shows) count every record, not only those after the restart.
#[test]
fn a_restarted_plane_goes_on_from_its_checkpoint() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let trace = root.join("tests/pcaps/ndpi__1kxun.compact.pcap");
    let conf = root.join("tests/runtime-all.conf");
    let rt = control::conf::parse_runtime_conf(&conf).unwrap();
    let recs = rings::trace_records(&trace, u64::MAX, &rt);
    let base =
        std::env::temp_dir().join(format!("tstat-dpdk-plane-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    // One uninterrupted plane.
    let straight = base.join("straight");
    std::fs::create_dir_all(&straight).unwrap();
    // One ring: rows of several rings interleave as the plane's reads fall, one ring's keep
    // their order, so the logs can be compared byte for byte.
    let paths = rings::fill_rings(&straight, 1, &recs);
    let spec = rings::plane_spec(&straight, paths, Some(conf.clone()), 2);
    control::plane::run(&spec, Arc::new(AtomicBool::new(false))).unwrap();
    let reference = rings::files_under(&spec.out_dir);
    // Half the records, a plane asked to stop, the other half, a second plane.
    let dir = base.join("restarted");
    std::fs::create_dir_all(&dir).unwrap();
    let (mut producers, paths) = rings::create_rings(&dir, 1, rings::frame_bytes(&recs));
    let half = recs.len() / 2;
    rings::push_records(&mut producers, &recs[..half]);
    let spec = rings::plane_spec(&dir, paths, Some(conf.clone()), 2);
    let stop = Arc::new(AtomicBool::new(false));
    let first = {
        let (spec, stop) = (spec.clone(), Arc::clone(&stop));
        std::thread::spawn(move || control::plane::run(&spec, stop))
    };
    let t0 = std::time::Instant::now();
    loop {
        let written = control::plane::Checkpoint::load(&spec.state)
            .ok()
            .flatten()
            .map_or(0, |c| c.live.written);
        if written == half as u64 {
            break;
        }
        assert!(
            t0.elapsed().as_secs() < 20,
            "the first plane wrote {written} of {half}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let s = first.join().unwrap().unwrap();
    assert_eq!(s.written, half as u64);
    let saved = control::plane::Checkpoint::load(&spec.state)
        .unwrap()
        .unwrap();
    assert!(!saved.done);
    rings::push_records(&mut producers, &recs[half..]);
    for p in producers {
        p.close();
    }
    let s = control::plane::run(&spec, Arc::new(AtomicBool::new(false))).unwrap();
    assert_eq!(s.written, recs.len() as u64);
    let got = rings::files_under(&spec.out_dir);
    assert!(
        got == reference,
        "the restarted plane's logs differ from the uninterrupted one's"
    );
    let end = control::plane::Checkpoint::load(&spec.state)
        .unwrap()
        .unwrap();
    let expected = control::metrics::TrafficAccumulator::new();
    for (_, r) in &recs {
        expected.add(r);
    }
    assert_eq!(end.traffic, Some(expected.save()));
    let _ = std::fs::remove_dir_all(&base);
}
