//! `tstat-dpdk analyze`: Tstat-compatible analysis of trace files on every core.
//!
//! The calling thread reads the trace (memory-mapped or gunzipped in large chunks) and spreads
//! packet descriptors over N worker threads by the symmetric flow hash, so both directions of a
//! flow reach the same worker. Each worker owns its flow table and hands finished flow records
//! to the writer thread through its own SPSC ring; the writer alone formats text and writes the
//! logs. Offline, a full ring makes the worker wait (counted) instead of dropping, so `analyze`
//! never loses a record.

use crate::conf::Runtime;
use crate::logs::video::VideoLevel;
use crate::output::LogSet;
use anyhow::{bail, Context};
use engine::config::EngineConfig;
use engine::l7::dns::{DnsEntry, DnsSnoop};
use engine::record::FlowRecord;
use engine::source::{Block, PacketDesc, TraceFile};
use engine::stats::CoreStats;
use engine::time::Timestamp;
use engine::worker::{FullPolicy, Worker};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything `analyze` needs, validated.
#[derive(Debug, Clone)]
pub struct Options {
    /// Trace files, in order.
    pub files: Vec<PathBuf>,
    /// Output root (`-s`); default `<first trace>.out`.
    pub out_root: Option<PathBuf>,
    /// Runtime configuration (`-T`).
    pub runtime: Runtime,
    /// The engine's configuration (`-N`, `-u`, `-6`, timeouts).
    pub engine: EngineConfig,
    /// Worker threads.
    pub workers: usize,
    /// Treat all files as one trace (`-c`).
    pub concat: bool,
    /// gzip the logs (`-Z`).
    pub gzip: bool,
    /// Write logs at all (`-L` turns them off).
    pub logs: bool,
    /// Show a progress bar (only when stderr is a terminal).
    pub progress: bool,
    /// Address anonymisation (`-Y`, `-W`, key options); `None` without `-Y`.
    pub crypto: Option<crate::cryptopan::CryptoConfig>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Counters of all workers together.
    pub stats: CoreStats,
    /// Output directories written.
    pub dirs: Vec<PathBuf>,
    /// Faults met while reading (one line each); the logs hold everything read before them.
    pub faults: Vec<String>,
    /// Wall-clock time of the analysis.
    pub elapsed: Duration,
    /// Packet time of the first and last packet.
    pub span: Option<(Timestamp, Timestamp)>,
}

enum Msg {
    Batch {
        block: Arc<Block>,
        pkts: Vec<PacketDesc>,
    },
    Dns(Arc<DnsEntry>),
    Finish(Timestamp),
}

const BATCH: usize = 512;
const WORK_RING: usize = 256;
/// Records per worker ring: ~1.7 KiB each (the largest record carries a copied message), so a
/// ring costs ~28 MiB; deep enough that the writer absorbs bursts of closing flows.
const RECORD_RING: usize = 1 << 14;

/// Runs the analysis of every trace (one output directory per file, or one for all with `-c`).
pub fn run(opts: &Options) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let mut summary = Summary::default();
    let groups: Vec<Vec<PathBuf>> = if opts.concat {
        vec![opts.files.clone()]
    } else {
        opts.files.iter().map(|f| vec![f.clone()]).collect()
    };
    let total_bytes: u64 = opts
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = progress_bar(opts.progress, total_bytes);
    let mut done_bytes = 0u64;
    for group in &groups {
        let root = match &opts.out_root {
            Some(r) => r.clone(),
            None => PathBuf::from(format!("{}.out", group[0].display())),
        };
        run_group(opts, group, &root, &mut summary, &bar, &mut done_bytes)?;
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

fn progress_bar(wanted: bool, total: u64) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !wanted || !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(total);
    b.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(b)
}

struct Pipeline {
    inputs: Vec<rtrb::Producer<Msg>>,
    returns: Vec<rtrb::Consumer<Vec<PacketDesc>>>,
    workers: Vec<std::thread::JoinHandle<CoreStats>>,
    writer: std::thread::JoinHandle<anyhow::Result<()>>,
}

impl Pipeline {
    fn start(opts: &Options, logs: LogSet) -> Pipeline {
        let mut engine = opts.engine.clone();
        // The Advanced group of log_video_complete needs per-flow rate samples, which only
        // the workers can take: they keep them when that group is printed.
        let rt = &opts.runtime;
        engine.video_rates =
            opts.logs && rt.logs.video_complete && rt.video_level.has(VideoLevel::ADVANCED);
        let cfg = Arc::new(engine);
        let n = opts.workers.max(1);
        let mut inputs = Vec::new();
        let mut returns = Vec::new();
        let mut workers = Vec::new();
        let mut consumers = Vec::new();
        for i in 0..n {
            let (in_tx, mut in_rx) = rtrb::RingBuffer::<Msg>::new(WORK_RING);
            let (mut ret_tx, ret_rx) = rtrb::RingBuffer::<Vec<PacketDesc>>::new(WORK_RING * 2);
            let (rec_tx, rec_rx) = rtrb::RingBuffer::<FlowRecord>::new(RECORD_RING);
            consumers.push(rec_rx);
            inputs.push(in_tx);
            returns.push(ret_rx);
            let cfg = Arc::clone(&cfg);
            let handle = std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    let mut w = Worker::new(cfg, rec_tx, FullPolicy::Wait);
                    let mut idle = 0u32;
                    loop {
                        match in_rx.pop() {
                            Ok(Msg::Batch { block, mut pkts }) => {
                                idle = 0;
                                for p in &pkts {
                                    let data = block
                                        .get(p.offset..p.offset + p.caplen as usize)
                                        .unwrap_or(&[]);
                                    w.process(p.ts, p.link, data);
                                }
                                pkts.clear();
                                let _ = ret_tx.push(pkts);
                            }
                            Ok(Msg::Dns(e)) => w.add_dns(e),
                            Ok(Msg::Finish(last)) => {
                                w.finish(last);
                                return w.stats().clone();
                            }
                            Err(_) => backoff(&mut idle),
                        }
                    }
                })
                .expect("spawning a worker thread");
            workers.push(handle);
        }
        let writer = std::thread::Builder::new()
            .name("writer".into())
            .spawn(move || write_logs(logs, consumers))
            .expect("spawning the writer thread");
        Pipeline {
            inputs,
            returns,
            workers,
            writer,
        }
    }

    fn send(&mut self, w: usize, mut msg: Msg) {
        let mut idle = 0u32;
        loop {
            match self.inputs[w].push(msg) {
                Ok(()) => return,
                Err(rtrb::PushError::Full(m)) => {
                    msg = m;
                    backoff(&mut idle);
                }
            }
        }
    }

    /// Sends every non-empty pending descriptor list to its worker.
    fn flush(&mut self, pending: &mut [Vec<PacketDesc>], block: &Arc<Block>) {
        for (w, slot) in pending.iter_mut().enumerate() {
            if !slot.is_empty() {
                let pkts = std::mem::take(slot);
                self.send(
                    w,
                    Msg::Batch {
                        block: Arc::clone(block),
                        pkts,
                    },
                );
                *slot = self.buffer(w);
            }
        }
    }

    fn buffer(&mut self, w: usize) -> Vec<PacketDesc> {
        self.returns[w]
            .pop()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH))
    }

    fn finish(mut self, last: Timestamp) -> anyhow::Result<CoreStats> {
        for w in 0..self.inputs.len() {
            self.send(w, Msg::Finish(last));
        }
        let mut total = CoreStats::default();
        for h in self.workers {
            let s = h
                .join()
                .map_err(|_| anyhow::anyhow!("a worker thread failed"))?;
            total.merge(&s);
        }
        self.writer
            .join()
            .map_err(|_| anyhow::anyhow!("the writer thread failed"))??;
        Ok(total)
    }
}

/// Waiting for a ring: a few spins, then yields, then sleeps growing from 20 µs to 2 ms. On a
/// machine with few cores an idle thread must not steal time from the busy ones; rings are deep
/// enough (hundreds of batches, tens of thousands of records) that a sleeping consumer never
/// stalls its producer.
fn backoff(idle: &mut u32) {
    *idle += 1;
    if *idle < 32 {
        std::hint::spin_loop();
    } else if *idle < 48 {
        std::thread::yield_now();
    } else {
        let shift = (*idle - 48).min(7);
        std::thread::sleep(Duration::from_micros(20 << shift));
    }
}

fn write_logs(mut logs: LogSet, mut rings: Vec<rtrb::Consumer<FlowRecord>>) -> anyhow::Result<()> {
    let mut idle = 0u32;
    loop {
        let mut any = false;
        let mut all_done = true;
        for r in rings.iter_mut() {
            let done = r.is_abandoned();
            while let Ok(rec) = r.pop() {
                any = true;
                logs.write(&rec)?;
            }
            all_done &= done;
        }
        if all_done {
            break;
        }
        if any {
            idle = 0;
        } else {
            backoff(&mut idle);
        }
    }
    logs.finish()
}

fn run_group(
    opts: &Options,
    files: &[PathBuf],
    root: &Path,
    summary: &mut Summary,
    bar: &Option<indicatif::ProgressBar>,
    done_bytes: &mut u64,
) -> anyhow::Result<()> {
    let n = opts.workers.max(1);
    let hasher = engine::hash::symmetric();
    let mut pipeline: Option<Pipeline> = None;
    let mut last = Timestamp::ZERO;
    let mut first = None;
    let mut spread = 0usize;
    let mut snoop = DnsSnoop::default();
    let mut pending: Vec<Vec<PacketDesc>> = (0..n).map(|_| Vec::new()).collect();
    for path in files {
        let mut trace = match TraceFile::open(path) {
            Ok(t) => t,
            Err(e) => {
                summary.faults.push(e.to_string());
                continue;
            }
        };
        loop {
            let batch = match trace.next_batch(BATCH * n.min(4)) {
                Ok(Some(b)) => b,
                Ok(None) => break,
                Err(e) => {
                    summary.faults.push(e.to_string());
                    break;
                }
            };
            if batch.packets.is_empty() {
                continue;
            }
            if pipeline.is_none() {
                let t0 = batch.packets[0].ts;
                first = Some(t0);
                let logs = LogSet::create(
                    root,
                    t0,
                    &opts.runtime,
                    opts.gzip,
                    opts.logs,
                    opts.crypto.as_ref(),
                )?;
                summary.dirs.push(logs.dir().to_path_buf());
                let mut p = Pipeline::start(opts, logs);
                for (w, slot) in pending.iter_mut().enumerate() {
                    *slot = p.buffer(w);
                }
                pipeline = Some(p);
            }
            let p = pipeline.as_mut().expect("started above");
            for d in &batch.packets {
                let data = batch.data(d);
                let r = engine::dispatch::route(hasher, d.link, data);
                let w = match r.hash {
                    Some(h) => h as usize % n,
                    None => {
                        spread += 1;
                        spread % n
                    }
                };
                let entry = if r.dns {
                    engine::wire::decode(d.link, data)
                        .ok()
                        .and_then(|pkt| snoop.observe(&pkt, d.ts))
                } else {
                    None
                };
                pending[w].push(*d);
                last = d.ts;
                if let Some(e) = entry {
                    // Every worker must see the entry after the packets before it and before
                    // the packets after it, as Tstat's single cache does.
                    p.flush(&mut pending, &batch.block);
                    for w in 0..n {
                        p.send(w, Msg::Dns(Arc::clone(&e)));
                    }
                }
            }
            p.flush(&mut pending, &batch.block);
            if let Some(b) = bar {
                b.set_position(*done_bytes + trace.position());
            }
        }
        *done_bytes += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    }
    let Some(p) = pipeline else {
        if summary.faults.is_empty() {
            bail!(
                "{}: no packets in the trace",
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        return Ok(());
    };
    let stats = p.finish(last).context("analysis failed")?;
    summary.stats.merge(&stats);
    let f = first.unwrap_or(last);
    summary.span = Some(match summary.span {
        Some((a, _)) => (a, last),
        None => (f, last),
    });
    Ok(())
}
