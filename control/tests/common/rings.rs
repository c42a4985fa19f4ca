//! Record rings filled the way `start`'s workers fill them, for tests and benchmarks that
//! drive the real control plane (`control::plane::run`) without an engine process.

#![allow(dead_code)]

use control::plane::Slot;
use engine::record::FlowRecord;
use engine::ring::Producer;
use engine::time::Timestamp;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The records of a trace's first `packets` packets as one engine worker emits them (the logs
/// of `rt` on), each with the packet time it was emitted at.
pub fn trace_records(
    trace: &Path,
    packets: u64,
    rt: &control::conf::Runtime,
) -> Vec<(Timestamp, FlowRecord)> {
    use engine::worker::{FullPolicy, Worker};
    let cfg = engine::config::EngineConfig {
        http_log: rt.logs.http_complete,
        dns_log: rt.logs.dns_complete,
        tcp_periodic: rt.logs.tcp_periodic,
        udp_periodic: rt.logs.udp_periodic,
        ..Default::default()
    };
    let mut w = Worker::new(Arc::new(cfg), Vec::new(), FullPolicy::Drop);
    let mut tf = engine::source::TraceFile::open(trace)
        .unwrap_or_else(|e| panic!("{}: {e}", trace.display()));
    let mut last = Timestamp::ZERO;
    let mut n = 0u64;
    let mut out = Vec::new();
    'read: while let Some(b) = tf.next_batch(256).expect("reading the trace") {
        for p in &b.packets {
            if n == packets {
                break 'read;
            }
            n += 1;
            w.process(p.ts, p.link, b.data(p));
            last = p.ts;
            for r in w.sink_mut().drain(..) {
                out.push((p.ts, r));
            }
        }
    }
    w.finish(last);
    out.extend(w.into_sink().into_iter().map(|r| (last, r)));
    out
}

/// Open rings under `dir` (`ring-0`...), each able to hold `bytes` of frames.
pub fn create_rings(dir: &Path, rings: usize, bytes: u64) -> (Vec<Producer>, Vec<PathBuf>) {
    let capacity = (bytes * 2).next_power_of_two().max(1 << 22);
    (0..rings)
        .map(|i| {
            let p = dir.join(format!("ring-{i}"));
            let ring = engine::ring::RingFile::create(
                &p,
                capacity,
                control::start::RECORD_ROOM,
                engine::codec::LAYOUT ^ control::start::FRAME_FORMAT,
            )
            .expect("creating a ring");
            (ring, p)
        })
        .unzip()
}

/// Bytes the frames of `recs` take.
pub fn frame_bytes(recs: &[(Timestamp, FlowRecord)]) -> u64 {
    let mut enc = vec![0u8; control::start::RECORD_ROOM];
    recs.iter()
        .map(|(_, r)| engine::codec::encode(r, &mut enc[8..]).expect("encodable") as u64 + 16)
        .sum()
}

/// Pushes the records round robin, framed as `start`'s workers frame them (emission time,
/// then the codec), and publishes their last packet time (and the first, if none yet).
pub fn push_records(producers: &mut [Producer], recs: &[(Timestamp, FlowRecord)]) {
    let room = control::start::RECORD_ROOM;
    let n = producers.len();
    for (k, (now, r)) in recs.iter().enumerate() {
        let ok = producers[k % n].try_push(room, |buf| {
            let len = engine::codec::encode(r, &mut buf[8..]).expect("encodable");
            buf[..8].copy_from_slice(&now.0.to_le_bytes());
            len + 8
        });
        assert!(ok, "the ring holds every record");
    }
    let (Some(first), Some(last)) = (recs.first(), recs.last()) else {
        return;
    };
    for p in producers.iter() {
        let slots = p.stats();
        if slots[Slot::First as usize].load(Ordering::Relaxed) == 0 {
            slots[Slot::First as usize].store(first.0 .0 as u64, Ordering::Relaxed);
        }
        slots[Slot::Last as usize].store(last.0 .0 as u64, Ordering::Relaxed);
    }
}

/// `rings` closed rings under `dir` holding every record (round robin).
pub fn fill_rings(dir: &Path, rings: usize, recs: &[(Timestamp, FlowRecord)]) -> Vec<PathBuf> {
    let (mut producers, paths) = create_rings(dir, rings, frame_bytes(recs) / rings as u64);
    push_records(&mut producers, recs);
    for p in producers {
        p.close();
    }
    paths
}

/// A plane spec for rings written by [`fill_rings`] under `dir`: plain logs into `dir/out`.
pub fn plane_spec(
    dir: &Path,
    rings: Vec<PathBuf>,
    runtime_conf: Option<PathBuf>,
    format_threads: usize,
) -> control::plane::PlaneSpec {
    control::plane::PlaneSpec {
        out_dir: dir.join("out"),
        runtime_conf,
        gzip: false,
        flush_interval_s: 300,
        flushes_per_dir: 12,
        rings,
        state: dir.join("plane.state"),
        metrics: None,
        engine_socket: dir.join("no-engine.sock"),
        histo_conf: None,
        rrd: None,
        mplane: None,
        format_threads,
    }
}

/// Every file under `root`, path relative to it → bytes.
pub fn files_under(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("a directory").flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                let name = e.path().strip_prefix(root).unwrap().display().to_string();
                out.insert(name, std::fs::read(e.path()).expect("a file"));
            }
        }
    }
    out
}
