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
//! [`values`] to `<dir>/<histo>.<stat>.rrd`. Before the first update
//! of a file that does not exist, every missing file is created with `--step 300 --start
//! t−10`, one `GAUGE` data source named after the histogram (heartbeat 600, no min/max) and
//! four `AVERAGE` archives. Unlike Tstat, an RRD error is not fatal: it is logged with the
//! file name and counted, and the other files go on.
//!
//! A writer started with [`RrdWriter::spawn_resumable`] is *resumable*: after every interval
//! it applies, it saves its memory to a state file, atomically (written beside it with `.tmp`
//! appended to its name, then renamed): the run id it was given, the end second of the last
//! interval applied, and every histogram's [`Running`] (the samples since its last update and
//! the second of that update). A writer started again with the same file and the same run id
//! restores that memory, and skips whole every interval ending at or before the last one
//! applied (counted in [`RrdSummary::replayed_skipped`]): its samples are not added again, no
//! file is updated. A process that restarts from a checkpoint and replays intervals it had
//! already handed to the writer thus updates every file once per interval, with the same
//! values as if it had never stopped. A state file of another run or of another
//! configuration is ignored (the writer starts afresh), and so is one that cannot be read or
//! parsed (a warning names it): never fatal. The state is saved after the interval's updates,
//! so a kill between the two replays that one interval: librrd refuses the updates already
//! made (counted errors) and takes the others.

use super::conf::RrdConf;
use super::values::{c_f, values, Running};
use crate::histo::merge::{IntervalHisto, Samples};
use anyhow::Context;
use std::io::Write;
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
    /// Intervals skipped whole by a resumable writer ([`RrdWriter::spawn_resumable`]): they
    /// end at or before the last interval applied before the writer started (restored from
    /// its state file), so they were applied already, before a restart. Not in
    /// [`intervals`](Self::intervals).
    pub replayed_skipped: u64,
    /// Failed creates and updates, and failed saves of a resumable writer's state file.
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
        RrdWriter::start(conf, dir, queue, None)
    }

    /// [`spawn`](Self::spawn), resumable (see the [module](self)): the writer keeps its memory
    /// in the file `state` after every interval it applies, tagged with `run`. If `state`
    /// holds the memory of the same `run` and of the same histograms (the entries of `conf`,
    /// in the same order), the writer takes it back and skips every interval that ends at or
    /// before the last one it applied ([`RrdSummary::replayed_skipped`]); otherwise, or if
    /// `state` cannot be read or parsed (a warning names it), it starts afresh. Fails only as
    /// [`spawn`](Self::spawn) does.
    pub fn spawn_resumable(
        conf: RrdConf,
        dir: PathBuf,
        state: PathBuf,
        run: u64,
    ) -> anyhow::Result<RrdWriter> {
        RrdWriter::start(conf, dir, QUEUE, Some((state, run)))
    }

    /// The writer thread, resumable with `resume` (state file, run id).
    fn start(
        conf: RrdConf,
        dir: PathBuf,
        queue: usize,
        resume: Option<(PathBuf, u64)>,
    ) -> anyhow::Result<RrdWriter> {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: cannot create the RRD directory", dir.display()))?;
        let (tx, rx) = mpsc::sync_channel::<Arc<IntervalHisto>>(queue.max(1));
        let mut state = State::new(conf, dir.clone());
        if let Some((path, run)) = resume {
            state.resume(path, run);
        }
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

/// Layout version of a resumable writer's state file.
const STATE_VERSION: u32 = 1;

/// A resumable writer's state file, as JSON.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct SavedState {
    /// [`STATE_VERSION`].
    version: u32,
    /// The run id the writer was given.
    run: u64,
    /// End (Unix second) of the last interval applied.
    last_end_s: i64,
    /// Every histogram of the configuration, in its order.
    entries: Vec<SavedRunning>,
}

/// One histogram's [`Running`] in the state file. The floats are kept as their bit patterns:
/// JSON has no infinities (an unset `min`/`max` is ±∞) nor NaN, and the bits come back
/// exactly, `-0` included.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct SavedRunning {
    /// The histogram's name.
    name: String,
    /// Samples since the last update.
    n: u64,
    /// Their sum, as `f64::to_bits`.
    sum: u64,
    /// The sum of their squares, as `f64::to_bits`.
    sum2: u64,
    /// Their minimum, as `f64::to_bits`.
    min: u64,
    /// Their maximum, as `f64::to_bits`.
    max: u64,
    /// [`Running::last_s`].
    last_s: i64,
}

impl SavedRunning {
    fn of(name: &str, r: &Running) -> SavedRunning {
        SavedRunning {
            name: name.to_string(),
            n: r.samples.n,
            sum: r.samples.sum.to_bits(),
            sum2: r.samples.sum2.to_bits(),
            min: r.samples.min.to_bits(),
            max: r.samples.max.to_bits(),
            last_s: r.last_s,
        }
    }

    fn running(&self) -> Running {
        Running {
            samples: Samples {
                n: self.n,
                sum: f64::from_bits(self.sum),
                sum2: f64::from_bits(self.sum2),
                min: f64::from_bits(self.min),
                max: f64::from_bits(self.max),
            },
            last_s: self.last_s,
        }
    }
}

/// Where a resumable writer keeps its memory, and where it stands.
struct Resume {
    /// The state file.
    path: PathBuf,
    /// The run id saved with it.
    run: u64,
    /// End second of the last interval applied before this writer started (restored): an
    /// interval ending at or before it is a replay.
    replay_until_s: Option<i64>,
    /// End second of the last interval applied, restored or since.
    last_end_s: Option<i64>,
}

/// Reads the state file `path` of run `run` for `conf`: the last interval end applied and
/// every histogram's running statistics, or `None` (logged) to start afresh.
fn load_state(path: &Path, run: u64, conf: &RrdConf) -> Option<(i64, Vec<Running>)> {
    let afresh = |why: &str| {
        tracing::warn!(
            "RRD: {}: {why}: the RRD writer starts afresh",
            path.display()
        );
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            afresh(&format!("cannot read the RRD writer's state ({e})"));
            return None;
        }
    };
    let saved: SavedState = match serde_json::from_slice(&bytes) {
        Ok(s) => s,
        Err(e) => {
            afresh(&format!("corrupt RRD writer's state ({e})"));
            return None;
        }
    };
    if saved.version != STATE_VERSION {
        afresh(&format!(
            "RRD writer's state of version {}, not {STATE_VERSION}",
            saved.version
        ));
        return None;
    }
    if saved.run != run {
        // A new run of the process, not a restart: expected, not a warning.
        tracing::info!(
            "RRD: {}: the RRD writer's state is of run {}, not {run}: starting afresh",
            path.display(),
            saved.run
        );
        return None;
    }
    let same = saved.entries.len() == conf.entries.len()
        && saved
            .entries
            .iter()
            .zip(&conf.entries)
            .all(|(s, e)| s.name == e.name);
    if !same {
        afresh("the RRD writer's state is of other histograms than the configuration's");
        return None;
    }
    let running = saved.entries.iter().map(SavedRunning::running).collect();
    Some((saved.last_end_s, running))
}

/// The temporary file of the state file `path`: `path` with `.tmp` appended (not its extension
/// replaced, so that it never is the `.tmp` of a file beside it with the same stem, such as
/// the plane's checkpoint).
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Writes `bytes` to `path` atomically: to [`tmp_path`], synced, renamed.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = tmp_path(path);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// The thread's state: the configuration and every histogram's running statistics.
struct State {
    conf: RrdConf,
    dir: PathBuf,
    running: Vec<Running>,
    summary: RrdSummary,
    /// A resumable writer's state file.
    resume: Option<Resume>,
}

impl State {
    fn new(conf: RrdConf, dir: PathBuf) -> State {
        let running = vec![Running::default(); conf.entries.len()];
        State {
            conf,
            dir,
            running,
            summary: RrdSummary::default(),
            resume: None,
        }
    }

    /// Makes the writer resumable with the state file `path` of run `run`, restoring what it
    /// holds if it is of that run and of this configuration.
    fn resume(&mut self, path: PathBuf, run: u64) {
        let restored = load_state(&path, run, &self.conf);
        let last_end_s = restored.map(|(last_end_s, running)| {
            self.running = running;
            tracing::info!(
                "RRD: {}: RRD writer's state restored: intervals ending at or before {last_end_s} \
                 are skipped",
                path.display()
            );
            last_end_s
        });
        self.resume = Some(Resume {
            path,
            run,
            replay_until_s: last_end_s,
            last_end_s,
        });
    }

    /// Saves a resumable writer's state (a failure is an error, counted and logged).
    fn save(&mut self) {
        let Some(r) = &self.resume else {
            return;
        };
        let Some(last_end_s) = r.last_end_s else {
            return;
        };
        let saved = SavedState {
            version: STATE_VERSION,
            run: r.run,
            last_end_s,
            entries: self
                .conf
                .entries
                .iter()
                .zip(&self.running)
                .map(|(e, r)| SavedRunning::of(e.name, r))
                .collect(),
        };
        let result = serde_json::to_vec(&saved)
            .map_err(std::io::Error::from)
            .and_then(|bytes| write_atomically(&r.path, &bytes));
        if let Err(e) = result {
            let path = r.path.clone();
            self.error(&path, &format!("cannot save the RRD writer's state: {e}"));
        }
    }

    fn path(&self, histo: &str, stat: &str) -> PathBuf {
        self.dir.join(format!("{histo}.{stat}.rrd"))
    }

    fn error(&mut self, path: &Path, e: &dyn std::fmt::Display) {
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
        let t = iv.end.0.div_euclid(1_000_000);
        if let Some(until) = self.resume.as_ref().and_then(|r| r.replay_until_s) {
            if t <= until {
                self.summary.replayed_skipped += 1;
                tracing::debug!(
                    interval = iv.index,
                    end_s = t,
                    "RRD: interval applied before the restart, skipped"
                );
                return;
            }
        }
        self.summary.intervals += 1;
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
        if let Some(r) = &mut self.resume {
            r.last_end_s = Some(r.last_end_s.map_or(t, |l| l.max(t)));
            self.save();
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
    use crate::histo::rrd::values::tests::samples;
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

    const RESUME_CONF: &str = "ip_ttl_in avg min max var stdev hit prc:50 idx:64,other\n\
                               L4_flow_number idx:0,1,other\n";
    /// On a step boundary, so that each row of the first archive holds one update's value.
    const T0: i64 = 1_300_475_100;

    /// Five intervals, 1..=5 (index i at position i − 1). The third ends at the same second
    /// as the second: its update is skipped (Tstat's rule) and its samples carry on into the
    /// fourth's, which has none of its own, so the fourth's values come from the memory.
    fn five() -> Vec<Arc<IntervalHisto>> {
        let flows = |bin, count| HistoItem::Bin {
            id: id::L4_FLOW_NUMBER,
            bin,
            count,
        };
        let with = |v: &[f64], f: HistoItem| {
            let mut items = samples(id::IP_TTL_IN, v);
            items.push(f);
            items
        };
        vec![
            interval(1, T0, &with(&[64.0, 128.0, 32.0], flows(1, 8))),
            interval(2, T0 + 300, &with(&[64.0], flows(0, 3))),
            interval(3, T0 + 300, &with(&[1.0, 255.0, 64.0], flows(1, 2))),
            interval(4, T0 + 600, &[flows(2, 5)]),
            interval(5, T0 + 900, &with(&[100.0, 64.0], flows(1, 1))),
        ]
    }

    fn saved(path: &Path) -> SavedState {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    }

    /// Per file: its name, and per resolution fetched: start, end, data sources, rows.
    type Contents = Vec<(String, Vec<(i64, i64, Vec<String>, Vec<Vec<u64>>)>)>;

    /// Every file of `dir` by name, with its `AVERAGE` rows over the five intervals at the
    /// step of the first two archives (values as bits, NaN included). Not the bytes: librrd
    /// starts each archive at a random row.
    fn contents(dir: &Path) -> Contents {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|n| {
                let path = dir.join(&n);
                let fetched = [STEP_S, 6 * STEP_S]
                    .into_iter()
                    .map(|res| {
                        let f = rrd_sys::fetch(&path, "AVERAGE", T0 - 600, T0 + 1800, res).unwrap();
                        assert_eq!(f.step, res);
                        let rows = f
                            .rows
                            .iter()
                            .map(|r| r.iter().map(|v| v.to_bits()).collect())
                            .collect();
                        (f.start, f.end, f.names, rows)
                    })
                    .collect();
                (n, fetched)
            })
            .collect()
    }

    #[test]
    fn a_replay_after_a_restart_is_skipped_and_the_files_are_those_of_one_run() {
        let conf = || RrdConf::parse(RESUME_CONF).unwrap();
        let ivs = five();
        // Uninterrupted: 1..=5 (a resumable writer without a state behaves as `spawn`).
        let whole = scratch("resume-whole");
        let w = RrdWriter::spawn(conf(), whole.clone()).unwrap();
        for iv in &ivs {
            assert!(w.sender().send_wait(Arc::clone(iv)));
        }
        let s = w.finish().unwrap();
        assert_eq!((s.intervals, s.replayed_skipped, s.error_count), (5, 0, 0));
        assert_eq!(s.skipped_same_second, 2);

        // Killed after 1..=3, restarted, 2..=5 replayed.
        let dir = scratch("resume-split");
        let state = scratch("resume-split-state").with_extension("json");
        let _ = std::fs::remove_file(&state);
        let w = RrdWriter::spawn_resumable(conf(), dir.clone(), state.clone(), 42).unwrap();
        for iv in &ivs[..3] {
            assert!(w.sender().send_wait(Arc::clone(iv)));
        }
        let first = w.finish().unwrap();
        assert_eq!((first.intervals, first.error_count), (3, 0));
        let st = saved(&state);
        assert_eq!((st.version, st.run, st.last_end_s), (1, 42, T0 + 300));
        assert!(!tmp_path(&state).exists());
        assert_eq!(tmp_path(&state).extension().unwrap(), "tmp");
        assert_eq!(
            tmp_path(Path::new("d/rrd.json")),
            Path::new("d/rrd.json.tmp")
        );
        // ip_ttl_in carries the third interval's samples; L4_flow_number has none (±∞).
        let ttl = st.entries[0].running();
        assert_eq!(st.entries[0].name, "ip_ttl_in");
        assert_eq!(
            (ttl.samples.n, ttl.samples.min, ttl.samples.max, ttl.last_s),
            (3, 1.0, 255.0, T0 + 300)
        );
        let fl = st.entries[1].running();
        assert_eq!(
            (fl.samples.n, fl.samples.min, fl.samples.max, fl.last_s),
            (0, f64::INFINITY, f64::NEG_INFINITY, T0 + 300)
        );

        let w = RrdWriter::spawn_resumable(conf(), dir.clone(), state.clone(), 42).unwrap();
        for iv in &ivs[1..] {
            assert!(w.sender().send_wait(Arc::clone(iv)));
        }
        let second = w.finish().unwrap();
        assert_eq!(
            (
                second.intervals,
                second.replayed_skipped,
                second.error_count
            ),
            (2, 2, 0),
            "{:?}",
            second.errors
        );
        assert_eq!(second.files_created, 0);
        assert_eq!(first.updates + second.updates, s.updates);
        assert_eq!(saved(&state).last_end_s, T0 + 900);
        let (a, b) = (contents(&whole), contents(&dir));
        assert_eq!(a.len(), 12);
        assert_eq!(a, b);
        // The rows ending at the second, fourth and fifth updates hold their values: the
        // fourth interval's hit is 3, the samples of the third, kept across the restart.
        let hit =
            rrd_sys::fetch(&dir.join("ip_ttl_in.hit.rrd"), "AVERAGE", T0, T0 + 900, 300).unwrap();
        assert_eq!(hit.rows[..3], [[1.0], [3.0], [2.0]], "{hit:?}");
        let min =
            rrd_sys::fetch(&dir.join("ip_ttl_in.min.rrd"), "AVERAGE", T0, T0 + 900, 300).unwrap();
        assert_eq!(min.rows[..3], [[64.0], [1.0], [64.0]], "{min:?}");

        // Without the state, the same replay is refused by librrd.
        let w = RrdWriter::spawn(conf(), dir.clone()).unwrap();
        assert!(w.sender().send_wait(Arc::clone(&ivs[1])));
        assert!(w.finish().unwrap().error_count > 0);
        for d in [&whole, &dir] {
            let _ = std::fs::remove_dir_all(d);
        }
        let _ = std::fs::remove_file(&state);
    }

    #[test]
    fn a_state_of_another_run_or_configuration_or_corrupt_is_ignored() {
        let conf = || RrdConf::parse(RESUME_CONF).unwrap();
        let ivs = five();
        let state = scratch("resume-other-state").with_extension("json");
        let run = |dir: &Path, conf: RrdConf, run: u64, ivs: &[Arc<IntervalHisto>]| {
            let w =
                RrdWriter::spawn_resumable(conf, dir.to_path_buf(), state.clone(), run).unwrap();
            for iv in ivs {
                assert!(w.sender().send_wait(Arc::clone(iv)));
            }
            w.finish().unwrap()
        };
        let a = scratch("resume-other-a");
        let s = run(&a, conf(), 7, &ivs[..2]);
        assert_eq!((s.intervals, s.replayed_skipped, s.error_count), (2, 0, 0));
        // Another run: the same intervals into a new directory are all applied.
        let b = scratch("resume-other-b");
        let s = run(&b, conf(), 8, &ivs[..2]);
        assert_eq!((s.intervals, s.replayed_skipped, s.error_count), (2, 0, 0));
        assert_eq!(saved(&state).run, 8);
        // Another configuration (other histograms), the same run: afresh.
        let c = scratch("resume-other-c");
        let other = RrdConf::parse("L4_flow_number idx:0,1,other\n").unwrap();
        let s = run(&c, other, 8, &ivs[..2]);
        assert_eq!((s.intervals, s.replayed_skipped, s.error_count), (2, 0, 0));
        assert_eq!(saved(&state).entries.len(), 1);
        // A corrupt state: afresh, no panic, and a good state saved after the interval.
        for junk in [&b"{\"version\":1,\"run\":8"[..], b"\xff\x00 not json", b""] {
            std::fs::write(&state, junk).unwrap();
            let d = scratch("resume-other-d");
            let s = run(&d, conf(), 8, &ivs[..1]);
            assert_eq!((s.intervals, s.replayed_skipped, s.error_count), (1, 0, 0));
            assert_eq!(saved(&state).last_end_s, T0);
            let _ = std::fs::remove_dir_all(&d);
        }
        // A state file that cannot be written: counted as an error, not fatal.
        let e = scratch("resume-other-e");
        let w =
            RrdWriter::spawn_resumable(conf(), e.clone(), e.join("no/such/dir/state"), 1).unwrap();
        assert!(w.sender().send_wait(Arc::clone(&ivs[0])));
        let s = w.finish().unwrap();
        assert_eq!((s.intervals, s.error_count), (1, 1));
        assert!(
            s.errors[0].contains("cannot save the RRD writer's state"),
            "{s:?}"
        );
        for d in [&a, &b, &c, &e] {
            let _ = std::fs::remove_dir_all(d);
        }
        let _ = std::fs::remove_file(&state);
    }

    #[test]
    fn non_finite_statistics_survive_the_state_file() {
        let odd = [
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            -0.0,
            f64::MIN_POSITIVE,
            1e99,
        ];
        for &min in &odd {
            for &max in &odd {
                let r = Running {
                    samples: Samples {
                        n: 3,
                        sum: max,
                        sum2: min,
                        min,
                        max,
                    },
                    last_s: -5,
                };
                let text = serde_json::to_string(&SavedRunning::of("h", &r)).unwrap();
                let back: SavedRunning = serde_json::from_str(&text).unwrap();
                let b = back.running();
                let bits = |r: &Running| {
                    let s = &r.samples;
                    [s.sum, s.sum2, s.min, s.max].map(f64::to_bits)
                };
                assert_eq!(bits(&b), bits(&r), "{text}");
                assert_eq!((b.samples.n, b.last_s, back.name.as_str()), (3, -5, "h"));
            }
        }
        // Why the bits: serde_json writes an infinity as null, which does not read back.
        let plain = serde_json::to_string(&Samples::default()).unwrap();
        assert!(serde_json::from_str::<Samples>(&plain).is_err(), "{plain}");
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
