//! Helpers of the crate's unit tests.

use engine::record::FlowRecord;
use engine::time::Timestamp;
use std::path::Path;

/// The records of a bundled trace (`tests/pcaps/<name>`) with every record kind on, as one
/// worker emits them.
pub fn trace_records(name: &str) -> Vec<FlowRecord> {
    use engine::config::EngineConfig;
    use engine::worker::{FullPolicy, Worker};
    let cfg = EngineConfig {
        http_log: true,
        dns_log: true,
        tcp_periodic: true,
        udp_periodic: true,
        ..EngineConfig::default()
    };
    let mut w = Worker::new(std::sync::Arc::new(cfg), Vec::new(), FullPolicy::Drop);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/pcaps")
        .join(name);
    let mut tf = engine::source::TraceFile::open(&path).unwrap();
    let mut last = Timestamp::ZERO;
    while let Some(b) = tf.next_batch(256).unwrap() {
        for p in &b.packets {
            w.process(p.ts, p.link, b.data(p));
            last = p.ts;
        }
    }
    w.finish(last);
    w.into_sink()
}

/// runtime.conf with the logs those records go to turned on.
pub fn runtime_all_logs() -> crate::conf::Runtime {
    crate::conf::Runtime {
        logs: crate::conf::LogSwitches {
            http_complete: true,
            dns_complete: true,
            tcp_periodic: true,
            udp_periodic: true,
            video_complete: true,
            ..Default::default()
        },
        ..Default::default()
    }
}
