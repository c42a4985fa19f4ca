//! Runs the stages of the data path single-threaded over a trace, for profiling with callgrind
//! or perf: `cargo run --release --example stages -- <read|dispatch|worker> trace.pcap`.
//!
//! `read` only walks the trace; `dispatch` also routes every packet (software RSS) and snoops
//! DNS, the reader thread's work in `analyze`; `worker` runs one worker over every packet
//! inline.

use engine::config::EngineConfig;
use engine::l7::dns::DnsSnoop;
use engine::record::FlowRecord;
use engine::source::TraceFile;
use engine::worker::{FullPolicy, Worker};
use std::sync::Arc;

/// Counts heap allocations, to check that the worker allocates nothing per packet once warm.
struct Counting;

static ALLOCS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

// SAFETY: every method forwards to the system allocator with the caller's arguments unchanged,
// so the `GlobalAlloc` contract is exactly the system allocator's; the counter is only an atomic.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: `ptr` came from `alloc` above, i.e. from the system allocator, with `layout`.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A sink that counts and forgets records, so the worker stage is measured alone.
struct Discard(u64);

#[allow(clippy::result_large_err)]
impl engine::worker::RecordSink for Discard {
    fn offer(&mut self, _rec: FlowRecord) -> Result<(), FlowRecord> {
        self.0 += 1;
        Ok(())
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, path) = match (args.get(1), args.get(2)) {
        (Some(m), Some(p)) => (m.as_str(), p.as_str()),
        _ => {
            eprintln!("usage: stages <read|dispatch|worker> TRACE");
            std::process::exit(2);
        }
    };
    let mut trace = TraceFile::open(std::path::Path::new(path)).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let hasher = engine::hash::symmetric();
    let mut snoop = DnsSnoop::default();
    let mut worker = Worker::new(
        Arc::new(EngineConfig::default()),
        Discard(0),
        FullPolicy::Drop,
    );
    let (mut packets, mut acc, mut last) = (0u64, 0u64, engine::time::Timestamp::ZERO);
    let start = std::time::Instant::now();
    let allocs_before = ALLOCS.load(std::sync::atomic::Ordering::Relaxed);
    while let Ok(Some(batch)) = trace.next_batch(1024) {
        for d in &batch.packets {
            packets += 1;
            last = d.ts;
            let data = batch.data(d);
            match mode {
                "read" => acc += data.len() as u64,
                "dispatch" => {
                    let r = engine::dispatch::route(hasher, d.link, data);
                    acc += u64::from(r.hash.unwrap_or(0) & 1);
                    if r.dns {
                        if let Some(e) = engine::wire::decode(d.link, data)
                            .ok()
                            .and_then(|p| snoop.observe(&p, d.ts))
                        {
                            acc += e.addrs.len() as u64;
                        }
                    }
                }
                _ => worker.process(d.ts, d.link, data),
            }
        }
    }
    let allocs = ALLOCS.load(std::sync::atomic::Ordering::Relaxed) - allocs_before;
    let flows = worker.stats().tcp_flows + worker.stats().udp_flows;
    worker.finish(last);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{mode}: {packets} packets, {:.3} s, {:.2} Mpps ({acc})",
        secs,
        packets as f64 / secs / 1e6
    );
    println!(
        "allocations during the pass: {allocs} ({:.4} per packet, {:.2} per flow created; {flows} flows)",
        allocs as f64 / packets.max(1) as f64,
        allocs as f64 / flows.max(1) as f64
    );
}
