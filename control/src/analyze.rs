//! `tstat-dpdk analyze`: Tstat-compatible analysis of trace files on every core.
//!
//! The calling thread reads the trace (memory-mapped or gunzipped in large chunks) and spreads
//! packet descriptors over N worker threads by the symmetric flow hash, so both directions of a
//! flow reach the same worker. Each worker owns its flow table and hands finished flow records
//! to the writer thread through its own SPSC ring; the writer alone formats text and writes the
//! logs. Offline, a full ring makes the worker wait (counted) instead of dropping, so `analyze`
//! never loses a record.
//!
//! With histograms (`-H`), the reader also keeps Tstat's histogram clock: it sees every packet
//! in capture order, so it decides where an interval ends (the first IP packet more than
//! `Max_Time_Step` after the previous end) and tells every worker in-band, right after the
//! packets before the boundary, as it does with DN-Hunter entries. Each worker emits its part
//! of the interval as records; the writer merges them and writes `NNN/` and `LAST/`.
//!
//! With RRD files (`-R`/`-r`), the writer hands every complete interval to the RRD writer
//! thread (`histo::rrd::RrdWriter`), one for the whole run; offline it waits for room in its
//! queue rather than drop an interval.

use crate::conf::Runtime;
use crate::histo::rrd::{RrdConf, RrdSender, RrdSummary, RrdWriter};
use crate::histo::{HistoOutput, HistoSpec};
use crate::logs::video::VideoLevel;
use crate::output::LogSet;
use crate::render::{render_parallel, Rendered, Renderer};
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
    /// Threads formatting the logs' rows (the writer's included).
    pub format_threads: usize,
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
    /// Histogram directories written (`-H`).
    pub histo_dirs: Vec<PathBuf>,
    /// What the RRD writer did (`-R`/`-r`).
    pub rrd: Option<RrdSummary>,
}

/// Tstat's RRD files (`-R rrd.conf -r DIR`).
#[derive(Debug, Clone)]
pub struct RrdOptions {
    /// The `-R` file.
    pub conf: RrdConf,
    /// The `-r` directory (created if needed).
    pub dir: PathBuf,
}

enum Msg {
    Batch {
        block: Arc<Block>,
        pkts: Vec<PacketDesc>,
    },
    Dns(Arc<DnsEntry>),
    /// The first IP packet's time: the first histogram interval starts there.
    HistoStart(Timestamp),
    /// A histogram interval is about to end: reply with the last flow creation time.
    HistoSync,
    /// A histogram interval ends at packet time `end` (after the packets sent before); run
    /// the collector as of `collect_at` first.
    HistoTick {
        end: Timestamp,
        collect_at: Timestamp,
    },
    Finish(Timestamp),
}

/// Tstat's `Max_Time_Step`: histograms are dumped at the first IP packet more than 300 s of
/// packet time after the previous dump.
const MAX_TIME_STEP_US: i64 = 300_000_000;

const BATCH: usize = 512;
const WORK_RING: usize = 256;
/// Records per worker ring: ~1.7 KiB each (the largest record carries a copied message), so a
/// ring costs ~28 MiB; deep enough that the writer absorbs bursts of closing flows.
const RECORD_RING: usize = 1 << 14;

/// Runs the analysis of every trace (one output directory per file, or one for all with `-c`).
pub fn run(opts: &Options) -> anyhow::Result<Summary> {
    run_with_histo(opts, None)
}

/// [`run`], also collecting Tstat's histograms as `histo` selects them (`-H`) and writing them
/// next to the logs.
pub fn run_with_histo(opts: &Options, histo: Option<&HistoSpec>) -> anyhow::Result<Summary> {
    run_with_rrd(opts, histo, None)
}

/// [`run_with_histo`], also writing Tstat's RRD files as `rrd` says. `histo` must collect the
/// histograms of the RRD configuration (`RrdConf::enable`); the RRD files are updated at every
/// interval `histo` writes.
pub fn run_with_rrd(
    opts: &Options,
    histo: Option<&HistoSpec>,
    rrd: Option<RrdOptions>,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let mut summary = Summary::default();
    let rrd = match rrd {
        Some(r) => Some(RrdWriter::spawn(r.conf, r.dir)?),
        None => None,
    };
    let rrd_tx = rrd.as_ref().map(RrdWriter::sender);
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
        run_group(
            opts,
            histo,
            rrd_tx.clone(),
            group,
            &root,
            &mut summary,
            &bar,
            &mut done_bytes,
        )?;
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    drop(rrd_tx);
    if let Some(w) = rrd {
        summary.rrd = Some(w.finish()?);
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
    /// Each worker's answer to [`Msg::HistoSync`].
    replies: Vec<rtrb::Consumer<Timestamp>>,
    workers: Vec<std::thread::JoinHandle<CoreStats>>,
    writer: std::thread::JoinHandle<anyhow::Result<Vec<PathBuf>>>,
}

impl Pipeline {
    fn start(
        opts: &Options,
        logs: LogSet,
        histo: Option<&HistoSpec>,
        rrd: Option<RrdSender>,
    ) -> Pipeline {
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
        let mut replies = Vec::new();
        let histo_cfg = histo.map(HistoSpec::engine);
        for i in 0..n {
            let (mut reply_tx, reply_rx) = rtrb::RingBuffer::<Timestamp>::new(4);
            replies.push(reply_rx);
            let (in_tx, mut in_rx) = rtrb::RingBuffer::<Msg>::new(WORK_RING);
            let (mut ret_tx, ret_rx) = rtrb::RingBuffer::<Vec<PacketDesc>>::new(WORK_RING * 2);
            let (rec_tx, rec_rx) = rtrb::RingBuffer::<FlowRecord>::new(RECORD_RING);
            consumers.push(rec_rx);
            inputs.push(in_tx);
            returns.push(ret_rx);
            let cfg = Arc::clone(&cfg);
            let histo_cfg = histo_cfg.clone();
            let handle = std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    let mut w = Worker::new(cfg, rec_tx, FullPolicy::Wait);
                    if let Some(h) = histo_cfg {
                        w.enable_histo(h, i as u16);
                    }
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
                            Ok(Msg::HistoStart(t)) => w.histo_start(t),
                            Ok(Msg::HistoSync) => {
                                let _ = reply_tx.push(w.last_flow_created());
                            }
                            Ok(Msg::HistoTick { end, collect_at }) => w.histo_tick(end, collect_at),
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
        let histo_out = histo.map(|h| HistoOutput::new(logs.dir().to_path_buf(), h.clone(), n));
        let format_threads = opts.format_threads;
        let writer = std::thread::Builder::new()
            .name("writer".into())
            .spawn(move || write_logs(logs, consumers, histo_out, rrd, format_threads))
            .expect("spawning the writer thread");
        Pipeline {
            inputs,
            returns,
            replies,
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

    /// Sends `msg` to every worker (after the packets already sent to them).
    fn broadcast(&mut self, msg: &Msg) {
        for w in 0..self.inputs.len() {
            let m = match msg {
                Msg::HistoStart(t) => Msg::HistoStart(*t),
                Msg::HistoSync => Msg::HistoSync,
                &Msg::HistoTick { end, collect_at } => Msg::HistoTick { end, collect_at },
                Msg::Dns(e) => Msg::Dns(Arc::clone(e)),
                Msg::Finish(t) => Msg::Finish(*t),
                Msg::Batch { .. } => continue,
            };
            self.send(w, m);
        }
    }

    /// Ends a histogram interval at `end` (every packet before it already sent): asks every
    /// worker for its last flow creation, then has them all collect as of the latest one and
    /// emit the interval.
    fn histo_tick(&mut self, end: Timestamp) {
        self.broadcast(&Msg::HistoSync);
        let mut collect_at = Timestamp::ZERO;
        for r in &mut self.replies {
            let mut idle = 0u32;
            loop {
                match r.pop() {
                    Ok(t) => {
                        collect_at = collect_at.max(t);
                        break;
                    }
                    Err(_) => backoff(&mut idle),
                }
            }
        }
        self.broadcast(&Msg::HistoTick { end, collect_at });
    }

    fn finish(mut self, last: Timestamp) -> anyhow::Result<(CoreStats, Vec<PathBuf>)> {
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
        let histo_dirs = self
            .writer
            .join()
            .map_err(|_| anyhow::anyhow!("the writer thread failed"))??;
        Ok((total, histo_dirs))
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

/// Records the writer takes from the rings at once, at most: rendered on the format threads,
/// then written in order.
const WRITE_BATCH: usize = 8192;

fn write_logs(
    mut logs: LogSet,
    mut rings: Vec<rtrb::Consumer<FlowRecord>>,
    mut histo: Option<HistoOutput>,
    rrd: Option<RrdSender>,
    format_threads: usize,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut renderers: Vec<Renderer> = (0..format_threads.max(1))
        .map(|_| Renderer::new(logs.render_conf().clone()))
        .collect();
    let mut batch: Vec<FlowRecord> = Vec::with_capacity(WRITE_BATCH);
    let mut rendered: Vec<Rendered> = Vec::new();
    // Each ring's share of a batch, so that a busy worker does not starve the others' rings.
    let share = (WRITE_BATCH / rings.len().max(1)).max(256);
    let mut idle = 0u32;
    loop {
        let mut all_done = true;
        for r in rings.iter_mut() {
            let done = r.is_abandoned();
            let take = r.slots().min(share);
            if let Ok(chunk) = r.read_chunk(take) {
                batch.extend(chunk);
            }
            all_done &= done && r.is_empty();
        }
        if !batch.is_empty() {
            idle = 0;
            let pieces = render_parallel(&mut renderers, &batch, &mut rendered, |r, rec, out| {
                r.render(rec, out)
            });
            let rows = rendered[..pieces].iter().flat_map(|p| p.records());
            for (rec, (of, ())) in batch.iter().zip(rows) {
                match (rec, &mut histo) {
                    (FlowRecord::Histo(c), Some(h)) => {
                        if let (Some(iv), Some(r)) = (h.chunk(c)?, &rrd) {
                            // Offline nothing is dropped: wait for room in the queue.
                            r.send_wait(Arc::new(iv));
                        }
                    }
                    _ => logs.write_rows(of)?,
                }
            }
            batch.clear();
            continue;
        }
        if all_done {
            break;
        }
        backoff(&mut idle);
    }
    logs.finish()?;
    match histo {
        Some(h) => {
            h.finish()?;
            Ok(h.written().to_vec())
        }
        None => Ok(Vec::new()),
    }
}

#[allow(clippy::too_many_arguments)]
fn run_group(
    opts: &Options,
    histo: Option<&HistoSpec>,
    rrd: Option<RrdSender>,
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
    // Tstat's `last_time_step`: the first IP packet, then the packet of each dump.
    let mut histo_step: Option<Timestamp> = None;
    for (file_no, path) in files.iter().enumerate() {
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
                let mut p = Pipeline::start(opts, logs, histo, rrd.clone());
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
                    p.broadcast(&Msg::Dns(e));
                }
                if histo.is_some() && (r.hash.is_some() || engine::histo::is_ip(d.link, data)) {
                    match histo_step {
                        None => {
                            histo_step = Some(d.ts);
                            p.broadcast(&Msg::HistoStart(d.ts));
                        }
                        Some(step) if d.ts.0 - step.0 > MAX_TIME_STEP_US => {
                            histo_step = Some(d.ts);
                            p.flush(&mut pending, &batch.block);
                            p.histo_tick(d.ts);
                        }
                        Some(_) => {}
                    }
                }
            }
            p.flush(&mut pending, &batch.block);
            if let Some(b) = bar {
                b.set_position(*done_bytes + trace.position());
            }
        }
        *done_bytes += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        // With -c, Tstat dumps its histograms at the end of every file but the last.
        if file_no + 1 < files.len() && histo_step.is_some() {
            if let Some(p) = pipeline.as_mut() {
                histo_step = Some(last);
                p.histo_tick(last);
            }
        }
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
    let (stats, histo_dirs) = p.finish(last).context("analysis failed")?;
    summary.stats.merge(&stats);
    summary.histo_dirs.extend(histo_dirs);
    let f = first.unwrap_or(last);
    summary.span = Some(match summary.span {
        Some((a, _)) => (a, last),
        None => (f, last),
    });
    Ok(())
}
