//! The packet rate of one worker alone: `worker-rate TRACE [MAX_PACKETS] [REPS]`.
//!
//! Loads up to MAX_PACKETS frames of TRACE (default: all) into one buffer in memory, each at a
//! 64-byte aligned offset as a NIC driver's packet buffers are, then REPS times (default 5)
//! runs a fresh `Worker` with the default `EngineConfig` over every frame in capture order and
//! times the `process` calls only (not the trace parsing, not `finish`). Records are counted
//! and dropped. Prints each repetition and the min / median nanoseconds per packet and Mpps.
//!
//! Unlike `analyze` (reader + workers + writer threads) or the `stages worker` example (which
//! walks the memory-mapped trace, page faults included, in the same loop), this measures the
//! worker's own cost per packet, the figure a receive core's budget is made of. It uses only
//! API that exists since the first engine commits (`TraceFile`, `Worker::new/process/finish`),
//! so the same file builds against an older checkout's engine for before/after comparisons
//! (see perf/README.md).

use engine::config::EngineConfig;
use engine::record::FlowRecord;
use engine::source::TraceFile;
use engine::time::Timestamp;
use engine::wire::LinkType;
use engine::worker::{FullPolicy, Worker};
use std::sync::Arc;
use std::time::Instant;

/// Counts records and forgets them.
struct Discard(u64);

#[allow(clippy::result_large_err)]
impl engine::worker::RecordSink for Discard {
    fn offer(&mut self, _rec: FlowRecord) -> Result<(), FlowRecord> {
        self.0 += 1;
        Ok(())
    }
}

struct Frame {
    ts: Timestamp,
    link: LinkType,
    at: usize,
    len: usize,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: worker-rate TRACE [MAX_PACKETS] [REPS]");
        std::process::exit(2);
    };
    let max: usize = args
        .get(2)
        .map_or(usize::MAX, |s| s.parse().expect("MAX_PACKETS"));
    let reps: usize = args.get(3).map_or(5, |s| s.parse().expect("REPS"));

    let mut trace = TraceFile::open(std::path::Path::new(path)).expect("open the trace");
    let mut arena: Vec<u8> = Vec::new();
    let mut frames: Vec<Frame> = Vec::new();
    'load: while let Some(b) = trace.next_batch(256).expect("read the trace") {
        for p in &b.packets {
            if frames.len() == max {
                break 'load;
            }
            let data = b.data(p);
            let at = arena.len().next_multiple_of(64);
            arena.resize(at, 0);
            arena.extend_from_slice(data);
            frames.push(Frame {
                ts: p.ts,
                link: p.link,
                at,
                len: data.len(),
            });
        }
    }
    let n = frames.len();
    println!(
        "loaded {n} packets, {} bytes in memory, from {path}",
        arena.len()
    );

    let mut ns_per_pkt = Vec::new();
    for rep in 1..=reps {
        let mut w = Worker::new(
            Arc::new(EngineConfig::default()),
            Discard(0),
            FullPolicy::Drop,
        );
        let t0 = Instant::now();
        for f in &frames {
            w.process(f.ts, f.link, &arena[f.at..f.at + f.len]);
        }
        let secs = t0.elapsed().as_secs_f64();
        let last = frames.last().map_or(Timestamp(0), |f| f.ts);
        w.finish(last);
        let records = w.into_sink().0;
        let ns = secs * 1e9 / n as f64;
        println!(
            "rep {rep}: {secs:.4} s, {ns:.1} ns/packet, {:.3} Mpps, {records} records",
            n as f64 / secs / 1e6
        );
        ns_per_pkt.push(ns);
    }
    ns_per_pkt.sort_by(f64::total_cmp);
    let min = ns_per_pkt[0];
    let med = ns_per_pkt[ns_per_pkt.len() / 2];
    println!(
        "min {min:.1} ns/packet ({:.3} Mpps), median {med:.1} ns/packet ({:.3} Mpps)",
        1e3 / min,
        1e3 / med
    );
}
