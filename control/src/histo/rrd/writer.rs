//! [`RrdWriter`]: the thread that writes the RRD files, fed complete intervals through a
//! bounded queue.
//!
//! RRD writes are slow disk I/O (a create writes ~20 KiB per file, an update reads and writes
//! a few pages per file, ~1500 files per interval with the shipped `rrd.conf`), so they happen
//! on a thread of their own, never on the packet path nor in the log writer. The producer
//! never blocks: when the queue is full, the interval is dropped for RRD (logged, counted),
//! and the RRD files miss that update.
//!
//! The thread does what Tstat's `rrdtool_update_all` does at every histogram dump, with the
//! dump's packet time `t` (the interval's end, in whole seconds): for every histogram of the
//! `-R` file, unless it was already updated at second `t`, it writes the values of
//! [`values`](super::values::values) to `<dir>/<histo>.<stat>.rrd`. Before the first update
//! of a file that does not exist, every missing file is created with `--step 300 --start
//! t−10`, one `GAUGE` data source named after the histogram (heartbeat 600, no min/max) and
//! four `AVERAGE` archives. Unlike Tstat, an RRD error is not fatal: it is logged with the
//! file name and counted, and the other files go on.

use super::conf::RrdConf;
use super::values::{c_f, values, Running};
use crate::histo::merge::IntervalHisto;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Tstat's RRD step: `Max_Time_Step`, 300 s.
pub const STEP_S: u64 = 300;
/// Tstat's heartbeat: twice the step.
pub const HEARTBEAT_S: u64 = 600;
/// Tstat's archives (`RRA_DAILY`, `RRA_WEEKLY`, `RRA_MONTHLY`, `RRA_YEARLY`).
pub const ARCHIVES: [&str; 4] = [
    "RRA:AVERAGE:0.5:1:600",
    "RRA:AVERAGE:0.5:6:700",
    "RRA:AVERAGE:0.5:24:775",
    "RRA:AVERAGE:0.5:288:797",
];
/// Intervals waiting for the thread: at one interval per 300 s of traffic, a queue this deep
/// is only full when the disk is minutes behind.
pub const QUEUE: usize = 16;
/// Error messages kept in [`RrdSummary::errors`] (all are counted and logged).
const KEPT_ERRORS: usize = 20;

/// What the writer did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RrdSummary {
    /// Intervals written.
    pub intervals: u64,
    /// Intervals dropped because the queue was full (or the thread gone).
    pub intervals_dropped: u64,
    /// RRD files created.
    pub files_created: u64,
    /// Successful updates (one value into one file).
    pub updates: u64,
    /// Histogram updates skipped: a second update at the same second (Tstat's rule).
    pub skipped_same_second: u64,
    /// Failed creates and updates.
    pub error_count: u64,
    /// The first error messages, each naming its file.
    pub errors: Vec<String>,
}

/// The producer side of an [`RrdWriter`], cloneable, for a thread other than the owner's.
#[derive(Debug, Clone)]
pub struct RrdSender {
    tx: SyncSender<Arc<IntervalHisto>>,
    dropped: Arc<AtomicU64>,
}

impl RrdSender {
    /// Queues a complete interval; never blocks. `false`: the queue was full (or the writer
    /// gone) and the interval is dropped for RRD, counted and logged.
    pub fn send(&self, iv: Arc<IntervalHisto>) -> bool {
        let index = iv.index;
        match self.tx.try_send(iv) {
            Ok(()) => true,
            Err(e) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                let why = match e {
                    TrySendError::Full(_) => "queue full",
                    TrySendError::Disconnected(_) => "writer gone",
                };
                // Rate-limited: the first drops, then every 100th.
                if n <= 10 || n % 100 == 0 {
                    tracing::warn!(
                        interval = index,
                        dropped = n,
                        "RRD: interval dropped ({why})"
                    );
                }
                false
            }
        }
    }

    /// Queues a complete interval, waiting for room: for offline analysis, where an interval
    /// must not be lost. `false`: the writer is gone (counted as dropped).
    pub fn send_wait(&self, iv: Arc<IntervalHisto>) -> bool {
        let index = iv.index;
        if self.tx.send(iv).is_ok() {
            return true;
        }
        self.dropped.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(interval = index, "RRD: interval dropped (writer gone)");
        false
    }
}

/// The RRD writer thread and the producer end of its queue.
///
/// ```no_run
/// # use control::histo::rrd::{RrdConf, RrdWriter};
/// # use std::sync::Arc;
/// # fn f(iv: control::histo::IntervalHisto) -> anyhow::Result<()> {
/// let conf = RrdConf::parse_file("rrd.conf".as_ref())?;
/// let rrd = RrdWriter::spawn(conf, "rrd".into())?;
/// rrd.send(Arc::new(iv)); // every complete interval, in order
/// let summary = rrd.finish()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RrdWriter {
    sender: RrdSender,
    handle: JoinHandle<RrdSummary>,
    dir: PathBuf,
}

impl RrdWriter {
    /// Creates `dir` if needed and starts the writer thread for the histograms of `conf`
    /// (which the caller must collect: [`RrdConf::enable`]), with a queue of [`QUEUE`]
    /// intervals.
    pub fn spawn(conf: RrdConf, dir: PathBuf) -> anyhow::Result<RrdWriter> {
        RrdWriter::with_queue(conf, dir, QUEUE)
    }

    /// [`spawn`](Self::spawn) with a queue of `queue` intervals (at least 1).
    pub fn with_queue(conf: RrdConf, dir: PathBuf, queue: usize) -> anyhow::Result<RrdWriter> {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create the RRD directory", dir.display()))?;
        let (tx, rx) = mpsc::sync_channel::<Arc<IntervalHisto>>(queue.max(1));
        let mut state = State::new(conf, dir.clone());
        let handle = std::thread::Builder::new()
            .name("rrd-writer".to_string())
            .spawn(move || {
                for iv in rx {
                    state.interval(&iv);
                }
                state.summary
            })
            .context("cannot start the RRD writer thread")?;
        Ok(RrdWriter {
            sender: RrdSender {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            handle,
            dir,
        })
    }

    /// Queues a complete interval (intervals must come in order); never blocks. `false`: the
    /// queue was full and the interval is dropped for RRD (counted, logged).
    pub fn send(&self, iv: Arc<IntervalHisto>) -> bool {
        self.sender.send(iv)
    }

    /// A producer end for another thread.
    pub fn sender(&self) -> RrdSender {
        self.sender.clone()
    }

    /// The RRD directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Closes the queue, waits for the thread to write what is queued, and says what it did.
    /// Senders handed out by [`sender`](Self::sender) must be dropped first, or this waits
    /// for them.
    pub fn finish(self) -> anyhow::Result<RrdSummary> {
        let RrdWriter { sender, handle, .. } = self;
        let dropped = sender.dropped.load(Ordering::Relaxed);
        drop(sender);
        let mut s = handle
            .join()
            .map_err(|_| anyhow::anyhow!("the RRD writer thread failed"))?;
        s.intervals_dropped += dropped;
        Ok(s)
    }
}

/// The thread's state: the configuration and every histogram's running statistics.
struct State {
    conf: RrdConf,
    dir: PathBuf,
    running: Vec<Running>,
    summary: RrdSummary,
}

impl State {
    fn new(conf: RrdConf, dir: PathBuf) -> State {
        let running = vec![Running::default(); conf.entries.len()];
        State {
            conf,
            dir,
            running,
            summary: RrdSummary::default(),
        }
    }

    fn path(&self, histo: &str, stat: &str) -> PathBuf {
        self.dir.join(format!("{histo}.{stat}.rrd"))
    }

    fn error(&mut self, path: &Path, e: &rrd_sys::Error) {
        self.summary.error_count += 1;
        let msg = format!("{}: {e}", path.display());
        if self.summary.error_count <= 100 {
            tracing::warn!("RRD: {msg}");
        }
        if self.summary.errors.len() < KEPT_ERRORS {
            self.summary.errors.push(msg);
        }
    }

    /// Tstat's `rrdtool_update_all` at the dump ending `iv`.
    fn interval(&mut self, iv: &IntervalHisto) {
        self.summary.intervals += 1;
        let t = iv.end.0.div_euclid(1_000_000);
        for k in 0..self.conf.entries.len() {
            let hid = usize::from(self.conf.entries[k].hid);
            if let Some(s) = iv.samples.get(hid) {
                self.running[k].add(s);
            }
            if self.running[k].last_s >= t {
                self.summary.skipped_same_second += 1;
                continue;
            }
            self.running[k].last_s = t;
            let e = &self.conf.entries[k];
            let updates: Vec<(PathBuf, String)> = values(e, iv, &self.running[k].samples)
                .into_iter()
                .map(|(stat, v)| (self.path(e.name, &stat), format!("{t}:{}", c_f(v))))
                .collect();
            for (path, value) in updates {
                if !path.exists() {
                    self.create_missing(t);
                }
                match rrd_sys::update(&path, &[&value]) {
                    Ok(()) => self.summary.updates += 1,
                    Err(e) => self.error(&path, &e),
                }
            }
            self.running[k].reset();
        }
    }

    /// Tstat's `rrdtool_create_all`: every file of the configuration that does not exist,
    /// starting 10 s before `t`.
    fn create_missing(&mut self, t: i64) {
        let start = t - 10;
        for k in 0..self.conf.entries.len() {
            let e = &self.conf.entries[k];
            let ds = format!("DS:{}:GAUGE:{HEARTBEAT_S}:U:U", e.name);
            let mut defs = vec![ds.as_str()];
            defs.extend(ARCHIVES);
            let paths: Vec<PathBuf> = e.stats().iter().map(|s| self.path(e.name, s)).collect();
            for path in paths {
                if path.exists() {
                    continue;
                }
                match rrd_sys::create(&path, STEP_S, start, &defs) {
                    Ok(()) => self.summary.files_created += 1,
                    Err(err) => self.error(&path, &err),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::histo::defs::id;
    use engine::histo::{HistoChunk, HistoItem};
    use engine::time::Timestamp;

    fn interval(index: u32, end_s: i64, items: &[HistoItem]) -> Arc<IntervalHisto> {
        let mut m = crate::histo::merge::Merger::new(1);
        let mut c = HistoChunk::new(
            index,
            0,
            [
                Timestamp((end_s - 300) * 1_000_000),
                Timestamp(end_s * 1_000_000),
            ],
            false,
        );
        for i in items {
            c.push(*i);
        }
        c.done = true;
        Arc::new(m.add(&c).unwrap())
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rrd-writer-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn creates_every_file_at_the_first_update_and_counts_errors() {
        let dir = scratch("basic");
        let conf = RrdConf::parse("L4_flow_number idx:0,1,other\nip_ttl_in avg max\n").unwrap();
        let w = RrdWriter::spawn(conf, dir.clone()).unwrap();
        let flows = HistoItem::Bin {
            id: id::L4_FLOW_NUMBER,
            bin: 1,
            count: 8,
        };
        assert!(w.send(interval(0, 1_300_475_173, &[flows])));
        // The same second, then back in time: skipped (both histograms), as in Tstat.
        assert!(w.send(interval(1, 1_300_475_173, &[flows])));
        assert!(w.send(interval(2, 1_300_475_000, &[flows])));
        let s = w.finish().unwrap();
        assert_eq!(s.intervals, 3);
        assert_eq!(s.files_created, 5);
        // idx0, idx1, idxoth; ip_ttl_in's avg, and its max (0: Tstat's zeroed start).
        assert_eq!(s.updates, 5);
        assert_eq!(s.skipped_same_second, 4);
        assert_eq!(s.error_count, 0);
        // A second run into the same directory, earlier in time: the files exist, librrd
        // refuses every update; counted and logged, not fatal.
        let conf = RrdConf::parse("L4_flow_number idx:0,1,other\nip_ttl_in avg max\n").unwrap();
        let w = RrdWriter::spawn(conf, dir.clone()).unwrap();
        assert!(w.send(interval(0, 1_300_474_873, &[flows])));
        let s = w.finish().unwrap();
        assert_eq!((s.files_created, s.updates, s.error_count), (0, 0, 5));
        assert!(
            s.errors[0].contains("L4_flow_number.idx0.rrd: rrd update:"),
            "{:?}",
            s.errors
        );
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "L4_flow_number.idx0.rrd",
                "L4_flow_number.idx1.rrd",
                "L4_flow_number.idxoth.rrd",
                "ip_ttl_in.avg.rrd",
                "ip_ttl_in.max.rrd"
            ]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_full_queue_drops_the_interval() {
        let dir = scratch("full");
        let conf = RrdConf::parse("ip_ttl_in avg\n").unwrap();
        let w = RrdWriter::with_queue(conf, dir.clone(), 1).unwrap();
        let tx = w.sender();
        // Far more than one queue slot while the thread writes: some are dropped.
        let sent = (0..200)
            .filter(|i| tx.send(interval(*i, 1_300_000_000 + 300 * i64::from(*i), &[])))
            .count() as u64;
        drop(tx);
        let s = w.finish().unwrap();
        assert_eq!(s.intervals, sent);
        assert_eq!(s.intervals + s.intervals_dropped, 200);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
