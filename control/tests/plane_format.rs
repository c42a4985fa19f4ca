//! The control plane formatting rows on several threads writes the bytes one thread writes:
//! the records of a bundled trace (every log on) go into closed record rings as `start`'s
//! workers frame them, and the real plane (`control::plane::run`) drains them with 1 and 3
//! format threads. Closed rings hand the plane every record at once, so its batch is split
//! into several pieces every time (render::MIN_PIECE is 256 records).

#[path = "common/rings.rs"]
mod rings;

use std::path::Path;
use std::sync::atomic::AtomicBool;
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
