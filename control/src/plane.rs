//! The control-plane process of `tstat-dpdk start`: it drains the engine's record rings (one
//! shared-memory ring per core, [`engine::ring`]), writes Tstat's logs with live rotation,
//! follows the runtime switches (`runtime.conf`, watched), and can be killed and restarted at
//! any moment without losing or repeating a row.
//!
//! The engine process (`start`, privileged) creates the rings and a [`PlaneSpec`] file, then
//! runs `tstat-dpdk plane --spec FILE` as the configured unprivileged user, and starts it
//! again whenever it dies. Exactly-once across restarts comes from the split read/release of
//! the rings: the plane reads records without releasing them, writes their rows, writes the
//! logs out and saves a [`Checkpoint`] (ring positions, log lengths, rotation state; written
//! to a temporary file and renamed), and only then releases the ring space. A restarted plane
//! loads the checkpoint, cuts each log back to its checkpointed length (rows of records it
//! had not checkpointed are written again) and reads on from the checkpointed positions.

use crate::conf::Runtime;
use crate::live::{LiveState, LiveWriter, Rotation};
use crate::render::{render_parallel, RenderConf, Rendered, Renderer};
use anyhow::{bail, Context};
use engine::ring::Consumer;
use engine::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the engine tells the control-plane process (`<run dir>/plane.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaneSpec {
    /// Output root (`-s`).
    pub out_dir: PathBuf,
    /// Runtime configuration file (`-T`), watched for changes.
    pub runtime_conf: Option<PathBuf>,
    /// gzip the logs (`-Z`).
    pub gzip: bool,
    /// Traffic time between flushes, seconds.
    pub flush_interval_s: u64,
    /// Flushes per directory.
    pub flushes_per_dir: u32,
    /// One record ring file per core.
    pub rings: Vec<PathBuf>,
    /// The checkpoint file.
    pub state: PathBuf,
    /// Prometheus endpoint address (none: no endpoint).
    pub metrics: Option<std::net::SocketAddr>,
    /// The engine's control socket (port counters for the metrics).
    pub engine_socket: PathBuf,
    /// Tstat's histograms (`-H` file), when the engine collects them.
    pub histo_conf: Option<PathBuf>,
    /// Tstat's RRD files (`-R` file and `-r` directory), fed from the histogram intervals.
    pub rrd: Option<(PathBuf, PathBuf)>,
    /// The mPlane component (`[mplane]`), when configured.
    #[serde(default)]
    pub mplane: Option<crate::mplane::probe::MplaneConf>,
    /// Threads formatting log rows (the plane's main thread included).
    #[serde(default = "one")]
    pub format_threads: usize,
}

fn one() -> usize {
    1
}

impl PlaneSpec {
    /// Reads a spec file.
    pub fn load(path: &Path) -> anyhow::Result<PlaneSpec> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the plane spec", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: bad plane spec", path.display()))
    }

    /// Writes a spec file.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        write_atomically(path, &serde_json::to_vec_pretty(self)?)
    }

    fn rotation(&self) -> Rotation {
        Rotation {
            flush_interval: Duration::from_secs(self.flush_interval_s),
            flushes_per_dir: self.flushes_per_dir,
        }
    }
}

/// Slots of a ring's counter area ([`engine::ring`] stats) the engine publishes its core's
/// counters into; the plane reads the packet clock from them and exports them as metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Slot {
    /// First packet time of the core (µs, 0: none yet).
    First,
    /// Latest packet time of the core (µs).
    Last,
    /// Packets.
    Packets,
    /// Bytes.
    Bytes,
    /// TCP flows opened.
    TcpFlows,
    /// UDP flows opened.
    UdpFlows,
    /// TCP flows closed complete.
    TcpComplete,
    /// TCP flows closed incomplete.
    TcpNocomplete,
    /// UDP flows closed.
    UdpClosed,
    /// Frames not analysed (malformed, truncated, not IP...).
    Malformed,
    /// TCP segments of no flow (Tstat's trash).
    TcpTrash,
    /// Flows evicted from a full flow table.
    Evicted,
    /// Records dropped because the ring was full.
    RecordsDropped,
    /// DN-Hunter entries sent to other cores.
    DnsSent,
    /// DN-Hunter entries dropped (a full inter-core ring).
    DnsDropped,
    /// Frames whose NIC hash names another core.
    Foreign,
    /// TCP flows open now.
    TcpOpen,
    /// UDP flows open now.
    UdpOpen,
    /// Frames handed to the core their flow hashes to (software spreading).
    Forwarded,
    /// Frames dropped on a full hand-off ring between cores.
    HandoffDropped,
}

impl Slot {
    /// Every slot, in order.
    pub const ALL: [Slot; 20] = [
        Slot::First,
        Slot::Last,
        Slot::Packets,
        Slot::Bytes,
        Slot::TcpFlows,
        Slot::UdpFlows,
        Slot::TcpComplete,
        Slot::TcpNocomplete,
        Slot::UdpClosed,
        Slot::Malformed,
        Slot::TcpTrash,
        Slot::Evicted,
        Slot::RecordsDropped,
        Slot::DnsSent,
        Slot::DnsDropped,
        Slot::Foreign,
        Slot::TcpOpen,
        Slot::UdpOpen,
        Slot::Forwarded,
        Slot::HandoffDropped,
    ];

    /// The value of a core snapshot for this slot.
    pub fn of(self, s: &engine::rx::CoreSnapshot) -> u64 {
        let st = &s.stats;
        match self {
            Slot::First => s.first.0.max(0) as u64,
            Slot::Last => s.last.0.max(0) as u64,
            Slot::Packets => st.packets,
            Slot::Bytes => st.bytes,
            Slot::TcpFlows => st.tcp_flows,
            Slot::UdpFlows => st.udp_flows,
            Slot::TcpComplete => st.tcp_complete,
            Slot::TcpNocomplete => st.tcp_nocomplete,
            Slot::UdpClosed => st.udp_closed,
            Slot::Malformed => st.skipped_total(),
            Slot::TcpTrash => st.tcp_trash,
            Slot::Evicted => st.evicted,
            Slot::RecordsDropped => st.records_dropped,
            Slot::DnsSent => s.dns_sent,
            Slot::DnsDropped => s.dns_dropped,
            Slot::Foreign => s.foreign,
            Slot::TcpOpen => s.tcp_open,
            Slot::UdpOpen => s.udp_open,
            Slot::Forwarded => s.forwarded,
            Slot::HandoffDropped => s.handoff_dropped,
        }
    }
}

/// Index of the counter slot holding the runtime-switch bits the plane wants the engine's
/// workers to follow ([`engine::config::switch`]); the engine reads it, the plane writes it.
pub const SWITCH_SLOT: usize = 63;
/// Set in [`SWITCH_SLOT`] once the plane has published switches (0 alone means "none yet").
pub const SWITCH_VALID: u64 = 1 << 32;

/// Where the plane stands, saved after the logs are written out and before ring space is
/// released.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The rings' run identity: a checkpoint of an earlier engine run is not resumed.
    pub run: u64,
    /// Read position of each ring.
    pub positions: Vec<u64>,
    /// The runtime switches the current directory was opened with.
    pub runtime: Option<Runtime>,
    /// The log writer's state.
    pub live: LiveState,
    /// Records that did not decode (counted, skipped).
    pub corrupt: u64,
    /// Histogram intervals being merged and where they go.
    pub histo: Option<HistoState>,
    /// The engine's rings were all closed and drained: the run is over.
    pub done: bool,
    /// The traffic counters of the records written (Prometheus counters go on from them).
    #[serde(default)]
    pub traffic: Option<crate::metrics::TrafficState>,
}

impl Checkpoint {
    /// Reads a checkpoint; `None` when there is none.
    pub fn load(path: &Path) -> anyhow::Result<Option<Checkpoint>> {
        match std::fs::read(path) {
            Ok(b) => Ok(Some(serde_json::from_slice(&b).with_context(|| {
                format!(
                    "{}: bad checkpoint (remove it to start afresh)",
                    path.display()
                )
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
        }
    }

    /// Saves atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        write_atomically(path, &serde_json::to_vec(self)?)
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("{}: cannot write", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot rename", path.display()))
}

/// The histograms of a live run: the workers' parts of intervals not yet complete, and the
/// directory numbering (`NNN/` counts the intervals of each `<date>.out`, as in Tstat's
/// live runs).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HistoState {
    /// The merger (bincode: sample extremes may be infinite, which JSON cannot hold).
    merger: Vec<u8>,
    /// The directory the last interval went to.
    dir: Option<PathBuf>,
    /// Interval number of that directory's `000/`.
    base: u32,
    /// Intervals written.
    pub written: u64,
    /// Intervals written with a part missing (a full record ring).
    pub partial: u64,
}

/// The live histogram writer of the plane.
struct LiveHisto {
    spec: crate::histo::HistoSpec,
    merger: crate::histo::Merger,
    state: HistoState,
    /// RRD updates, on their own thread (never waited for: a full queue drops and counts).
    rrd: Option<crate::histo::rrd::RrdWriter>,
    /// runtime.conf's `histo_engine` and `rrd_engine` now: intervals are merged either way
    /// (the cores go on counting), and written to files / RRD only while their switch is on.
    on: [bool; 2],
}

impl LiveHisto {
    fn new(spec: crate::histo::HistoSpec, workers: usize, saved: Option<HistoState>) -> LiveHisto {
        let saved = saved.unwrap_or_default();
        let merger = bincode::deserialize(&saved.merger)
            .unwrap_or_else(|_| crate::histo::Merger::new(workers));
        LiveHisto {
            spec,
            merger,
            state: saved,
            rrd: None,
            on: [true; 2],
        }
    }

    /// Follows runtime.conf's `histo_engine` and `rrd_engine`.
    fn follow(&mut self, rt: &Runtime) {
        self.on = [rt.logs.histo_engine, rt.logs.rrd_engine];
    }

    /// Takes a chunk; writes the intervals it completes into `dir`.
    fn chunk(&mut self, c: &engine::histo::HistoChunk, dir: &Path) -> anyhow::Result<()> {
        let Some(iv) = self.merger.add(c) else {
            return Ok(());
        };
        for old in self.merger.take_older(iv.index) {
            tracing::warn!(
                "histogram interval {} lacks a core's part (a full record ring): written as is",
                old.index
            );
            self.state.partial += 1;
            self.write(old, dir)?;
        }
        self.write(iv, dir)
    }

    fn write(&mut self, mut iv: crate::histo::IntervalHisto, dir: &Path) -> anyhow::Result<()> {
        if self.state.dir.as_deref() != Some(dir) {
            self.state.dir = Some(dir.to_path_buf());
            self.state.base = iv.index;
        }
        if let Some(r) = self.rrd.as_ref().filter(|_| self.on[1]) {
            r.send(Arc::new(iv.clone()));
        }
        iv.index = iv.index.saturating_sub(self.state.base);
        if self.on[0] {
            crate::histo::write::write_interval(dir, &self.spec, &iv)?;
            self.state.written += 1;
        }
        Ok(())
    }

    fn checkpoint(&mut self) -> HistoState {
        HistoState {
            merger: bincode::serialize(&self.merger).unwrap_or_default(),
            dir: self.state.dir.clone(),
            base: self.state.base,
            written: self.state.written,
            partial: self.state.partial,
        }
    }
}

/// Records the plane reads from its rings before rendering and writing them, at most.
const PLANE_BATCH: usize = 8192;

/// A record read from a ring, its bytes in the batch's arena.
struct Item {
    ring: usize,
    /// The packet time it was emitted at.
    now: Timestamp,
    bytes: std::ops::Range<usize>,
}

/// What a format thread says of a record besides its rows.
enum Mark {
    /// Rows to write at this packet time.
    Rows(Timestamp),
    /// A histogram part, merged by the plane's thread.
    Histo(Box<engine::histo::HistoChunk>),
    /// A record that does not decode (its ring, why).
    Corrupt(usize, String),
}

/// How the plane's run ended.
#[derive(Debug, Default)]
pub struct PlaneSummary {
    /// Records written to the logs in this run of the plane and the ones before it.
    pub written: u64,
    /// Directories written.
    pub dirs: Vec<PathBuf>,
    /// Records that did not decode.
    pub corrupt: u64,
}

/// Watches the runtime configuration file: a change is applied once the file has been quiet
/// for a moment (an editor's write is complete), within a second of it.
struct RuntimeWatch {
    path: PathBuf,
    stamp: Option<(std::time::SystemTime, u64)>,
    changed_at: Option<Instant>,
    _watcher: Option<notify::RecommendedWatcher>,
    events: Option<std::sync::mpsc::Receiver<()>>,
}

impl RuntimeWatch {
    fn new(path: PathBuf) -> RuntimeWatch {
        use notify::Watcher;
        let (tx, rx) = std::sync::mpsc::channel();
        let name = path.file_name().map(|n| n.to_os_string());
        // Watch the directory: editors replace files by renaming over them.
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            if let Ok(ev) = ev {
                if ev.paths.iter().any(|p| p.file_name() == name.as_deref()) {
                    let _ = tx.send(());
                }
            }
        })
        .and_then(|mut w| {
            w.watch(&dir, notify::RecursiveMode::NonRecursive)
                .map(|_| w)
        });
        let (watcher, events) = match watcher {
            Ok(w) => (Some(w), Some(rx)),
            Err(e) => {
                tracing::warn!(
                    "{}: cannot watch ({e}); checking its modification time instead",
                    path.display()
                );
                (None, None)
            }
        };
        let stamp = stamp(&path);
        RuntimeWatch {
            path,
            stamp,
            changed_at: None,
            _watcher: watcher,
            events,
        }
    }

    /// Whether the file changed and has been quiet for 300 ms since.
    fn poll(&mut self) -> bool {
        let mut event = false;
        if let Some(rx) = &self.events {
            while rx.try_recv().is_ok() {
                event = true;
            }
        }
        let now = stamp(&self.path);
        if now != self.stamp {
            self.stamp = now;
            event = true;
        }
        if event {
            self.changed_at = Some(Instant::now());
            return false;
        }
        match self.changed_at {
            Some(t) if t.elapsed() >= Duration::from_millis(300) => {
                self.changed_at = None;
                true
            }
            _ => false,
        }
    }
}

fn stamp(path: &Path) -> Option<(std::time::SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Attaches to every ring, waiting up to `wait` for the engine to create them.
fn attach(spec: &PlaneSpec, wait: Duration) -> anyhow::Result<Vec<Consumer>> {
    let t0 = Instant::now();
    let mut rings = Vec::new();
    for path in &spec.rings {
        loop {
            match engine::ring::RingFile::attach(
                path,
                engine::codec::LAYOUT ^ crate::start::FRAME_FORMAT,
            ) {
                Ok(c) => {
                    rings.push(c);
                    break;
                }
                Err(e) if t0.elapsed() < wait && !path.exists() => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e).with_context(|| format!("{}", path.display())),
            }
        }
    }
    Ok(rings)
}

/// The switch bits the engine's workers need for `rt`.
pub fn switch_bits(rt: &Runtime) -> u32 {
    crate::start::engine_for(engine::config::EngineConfig::default(), rt, true).switch_bits()
}

/// Runs the control plane until every ring is closed by the engine and drained.
pub fn run(
    spec: &PlaneSpec,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<PlaneSummary> {
    let mut rings = attach(spec, Duration::from_secs(10))?;
    if rings.is_empty() {
        bail!("the plane spec lists no record ring");
    }
    let run_id = rings[0].instance();
    let mut watch = spec.runtime_conf.clone().map(RuntimeWatch::new);
    let mut file_runtime = match &spec.runtime_conf {
        Some(p) => crate::conf::parse_runtime_conf(p)?,
        None => Runtime::default(),
    };
    let mut saved = Checkpoint::load(&spec.state)?.filter(|c| c.run == run_id && !c.done);
    let saved_traffic = saved.as_mut().and_then(|c| c.traffic.take());
    let mut histo = match (&spec.histo_conf, &spec.rrd) {
        (None, None) => None,
        (h, _) => Some(LiveHisto::new(
            match h {
                Some(p) => crate::histo::conf::parse_file(p)?,
                None => crate::histo::HistoSpec::default(),
            },
            rings.len(),
            saved.as_mut().and_then(|c| c.histo.take()),
        )),
    };
    if let (Some(h), Some((conf, dir))) = (&mut histo, &spec.rrd) {
        let conf = crate::histo::rrd::RrdConf::parse_file(conf)?;
        conf.enable(&mut h.spec);
        // Its own state file: a restarted plane replays the intervals after its checkpoint,
        // and the writer skips those it already applied (exactly-once RRD updates).
        h.rrd = Some(crate::histo::rrd::RrdWriter::spawn_resumable(
            conf,
            dir.clone(),
            spec.state.with_file_name("rrd-writer.json"),
            run_id,
        )?);
    }
    let (mut pos, mut writer, mut corrupt) = match saved {
        Some(c) if c.positions.len() == rings.len() => {
            let rt = c.runtime.clone().unwrap_or_else(|| file_runtime.clone());
            tracing::info!(
                "resuming at ring positions {:?}, {} records written",
                c.positions,
                c.live.written
            );
            let w = LiveWriter::resume(&spec.out_dir, rt, spec.gzip, spec.rotation(), c.live)?;
            (c.positions, w, c.corrupt)
        }
        _ => {
            let w = LiveWriter::new(
                &spec.out_dir,
                file_runtime.clone(),
                spec.gzip,
                spec.rotation(),
            );
            (rings.iter().map(|r| r.tail()).collect(), w, 0)
        }
    };
    for (r, p) in rings.iter().zip(&pos) {
        if *p < r.tail() || *p > r.head() {
            bail!(
                "checkpoint position {p} is outside the ring's published range {}..{}",
                r.tail(),
                r.head()
            );
        }
    }
    // A runtime change made while the plane was down applies now.
    if writer.runtime() != &file_runtime {
        writer.set_runtime(file_runtime.clone())?;
    }
    publish_switches(&rings, writer.runtime());
    // mPlane jobs hold switches on top of runtime.conf's (mplane::probe::Switchboard) and
    // listen to the rows written during their windows.
    let board = crate::mplane::probe::Switchboard::new();
    let mut board_seen = board.generation();
    let tap = crate::tap::Tap::new();
    let probe: Option<Arc<crate::mplane::probe::ProbeHandle>> = match &spec.mplane {
        Some(conf) => {
            writer.set_tap(Arc::clone(&tap));
            let ctx = crate::mplane::probe::ProbeContext {
                out_dir: spec.out_dir.clone(),
                state_dir: spec
                    .state
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default(),
                tls: conf.tls.clone(),
                board: Arc::clone(&board),
                tap: Arc::clone(&tap),
                rrd_dir: spec.rrd.as_ref().map(|r| r.1.clone()),
                row_limit: conf.row_limit,
            };
            Some(Arc::new(crate::mplane::probe::start_probe(
                conf,
                Arc::new(ctx),
            )?))
        }
        None => None,
    };
    let traffic = Arc::new(crate::metrics::TrafficAccumulator::new());
    if let Some(t) = &saved_traffic {
        traffic.restore(t);
    }
    let published = Arc::new(std::sync::Mutex::new(
        crate::metrics::MetricsSnapshot::default(),
    ));
    let started = Instant::now();
    let _metrics = match spec.metrics {
        Some(addr) => Some(metrics_server(
            addr,
            Arc::clone(&published),
            Arc::clone(&traffic),
            spec.engine_socket.clone(),
            started,
            probe.clone().map(|p| (p, Arc::clone(&board))),
        )?),
        None => None,
    };
    std::fs::create_dir_all(&spec.out_dir)
        .with_context(|| format!("{}: cannot create the output root", spec.out_dir.display()))?;
    let mut tick = Instant::now();
    let mut idle = 0u32;
    let mut dirty = false;
    // A batch: records copied out of the rings (the packet time each was emitted at, its bytes
    // in `arena`), rendered on the format threads, then written in the order read.
    let mut arena: Vec<u8> = Vec::new();
    let mut items: Vec<Item> = Vec::new();
    let mut rendered: Vec<Rendered<Mark>> = Vec::new();
    let mut renderers: Vec<Renderer> = Vec::new();
    let mut render_rt: Option<Runtime> = None;
    loop {
        let mut drained;
        let first = first_time(&rings);
        arena.clear();
        items.clear();
        let mut next = pos.clone();
        loop {
            let mut got = false;
            drained = true;
            for (i, r) in rings.iter_mut().enumerate() {
                let closed = r.is_closed();
                let head = r.head();
                // Nothing is written before the first packet time is known: it names the
                // first directory (a core publishes it right after the poll that saw its first
                // packet).
                let waiting = !writer.is_open() && first.is_none() && !closed;
                if next[i] < head && !waiting {
                    got = true;
                    if !writer.is_open() {
                        // The first directory is named after the first packet, as Tstat's is.
                        if let Some(t) = first {
                            writer.advance(t)?;
                        }
                    }
                    // Small reads per ring keep the rings' records close in time order.
                    next[i] = r.read(next[i], 256, |_, bytes| {
                        let (now, bytes) = match bytes.split_first_chunk::<8>() {
                            Some((t, rest)) => (Timestamp(i64::from_le_bytes(*t)), rest),
                            None => (Timestamp::ZERO, bytes),
                        };
                        let start = arena.len();
                        arena.extend_from_slice(bytes);
                        items.push(Item {
                            ring: i,
                            now,
                            bytes: start..arena.len(),
                        });
                    })?;
                }
                drained &= closed && next[i] == r.head();
            }
            if !got || items.len() >= PLANE_BATCH {
                break;
            }
        }
        let any = !items.is_empty();
        if any {
            if render_rt.as_ref() != Some(writer.runtime()) {
                let conf = RenderConf::new(writer.runtime(), true, None);
                renderers = (0..spec.format_threads.max(1))
                    .map(|_| Renderer::new(conf.clone()))
                    .collect();
                render_rt = Some(writer.runtime().clone());
            }
            let traffic = &*traffic;
            let arena = &arena;
            let pieces = render_parallel(&mut renderers, &items, &mut rendered, |r, it, out| {
                match engine::codec::decode(&arena[it.bytes.clone()]) {
                    Ok(engine::record::FlowRecord::Histo(c)) => Mark::Histo(Box::new(c)),
                    Ok(rec) => {
                        traffic.add(&rec);
                        r.render(&rec, out);
                        Mark::Rows(it.now.max(crate::live::record_time(&rec)))
                    }
                    Err(e) => Mark::Corrupt(it.ring, e.to_string()),
                }
            });
            for (rows, mark) in rendered[..pieces].iter().flat_map(|p| p.records()) {
                match mark {
                    Mark::Rows(at) => writer.write_rows_at(*at, rows)?,
                    Mark::Histo(c) => {
                        if let (Some(h), Some(dir)) = (&mut histo, writer.dir()) {
                            let dir = dir.to_path_buf();
                            h.follow(writer.runtime());
                            h.chunk(c, &dir)?;
                        }
                    }
                    Mark::Corrupt(i, e) => {
                        corrupt += 1;
                        tracing::warn!("ring {i}: a record that does not decode: {e}");
                    }
                }
            }
            dirty = true;
        }
        pos = next;
        if drained {
            break;
        }
        if tick.elapsed() >= Duration::from_millis(200) {
            tick = Instant::now();
            publish_metrics(&rings, &published, writer.written());
            // The cores' packet clock moves rotation on while the rings are idle; with a
            // backlog the records themselves do, so that a plane that lags (or comes back
            // after a restart) still rotates where their times say.
            let caught_up = rings.iter().zip(&pos).all(|(r, p)| *p == r.head());
            if let Some(t) = last_time(&rings).filter(|_| caught_up) {
                if writer.is_open() || first_time(&rings).is_some() {
                    writer.advance(t)?;
                    dirty = true;
                }
            }
            if let Some(w) = &mut watch {
                if w.poll() {
                    match crate::conf::reload_runtime_conf(&w.path, &file_runtime) {
                        Ok(rt) => {
                            file_runtime = rt;
                            if writer.set_runtime(board.overlay(&file_runtime))? {
                                tracing::info!(
                                    "{}: switches changed, new directory",
                                    w.path.display()
                                );
                            }
                            publish_switches(&rings, writer.runtime());
                            dirty = true;
                        }
                        Err(e) => tracing::error!("{e}: keeping the switches in force"),
                    }
                }
            }
            if board.generation() != board_seen {
                board_seen = board.generation();
                if writer.set_runtime(board.overlay(&file_runtime))? {
                    tracing::info!("mplane: switches changed, new directory");
                }
                tap.advance(board_seen);
                board.applied(board_seen);
                publish_switches(&rings, writer.runtime());
                dirty = true;
            }
            if dirty {
                checkpoint(
                    spec,
                    &mut rings,
                    &pos,
                    &mut writer,
                    histo.as_mut(),
                    &traffic,
                    run_id,
                    corrupt,
                    false,
                )?;
                dirty = false;
            }
            let engine_pid = rings[0].producer_pid();
            if !rings.iter().all(|r| r.is_closed())
                && !Path::new(&format!("/proc/{engine_pid}")).exists()
            {
                bail!(
                    "the engine (pid {engine_pid}) is gone without closing its rings; \
                     what it published is written and checkpointed"
                );
            }
            if stop.load(Ordering::Relaxed) {
                // Asked to stop while the engine runs (an upgrade): everything read is
                // written and checkpointed; the next plane goes on from here.
                return Ok(PlaneSummary {
                    written: writer.written(),
                    dirs: Vec::new(),
                    corrupt,
                });
            }
        }
        if any {
            idle = 0;
        } else {
            idle += 1;
            std::thread::sleep(Duration::from_micros(if idle < 10 { 100 } else { 2000 }));
        }
    }
    // A capture whose flows all stayed unlogged still gets its directory, as `analyze` does.
    if let Some(t) = first_time(&rings) {
        writer.advance(t)?;
    }
    if let (Some(h), Some(dir)) = (&mut histo, writer.dir()) {
        let dir = dir.to_path_buf();
        h.follow(writer.runtime());
        for old in h.merger.take_older(u32::MAX) {
            h.state.partial += 1;
            h.write(old, &dir)?;
        }
    }
    checkpoint(
        spec,
        &mut rings,
        &pos,
        &mut writer,
        histo.as_mut(),
        &traffic,
        run_id,
        corrupt,
        true,
    )?;
    publish_metrics(&rings, &published, writer.written());
    if let Some(p) = &probe {
        // Running jobs are interrupted and their results delivered before the plane ends.
        p.stop();
    }
    let written = writer.written();
    let dirs = writer.finish()?;
    if let Some(r) = histo.and_then(|h| h.rrd) {
        let r = r.finish()?;
        tracing::info!(
            "rrd: {} intervals ({} dropped, {} replayed after a restart skipped), {} files \
             created, {} updates, {} errors",
            r.intervals,
            r.intervals_dropped,
            r.replayed_skipped,
            r.files_created,
            r.updates,
            r.error_count
        );
    }
    Ok(PlaneSummary {
        written,
        dirs,
        corrupt,
    })
}

#[allow(clippy::too_many_arguments)]
fn checkpoint(
    spec: &PlaneSpec,
    rings: &mut [Consumer],
    pos: &[u64],
    writer: &mut LiveWriter,
    histo: Option<&mut LiveHisto>,
    traffic: &crate::metrics::TrafficAccumulator,
    run: u64,
    corrupt: u64,
    done: bool,
) -> anyhow::Result<()> {
    let live = writer.checkpoint()?;
    Checkpoint {
        run,
        positions: pos.to_vec(),
        runtime: Some(writer.runtime().clone()),
        live,
        corrupt,
        histo: histo.map(LiveHisto::checkpoint),
        done,
        traffic: Some(traffic.save()),
    }
    .save(&spec.state)?;
    for (r, p) in rings.iter_mut().zip(pos) {
        r.release(*p)?;
    }
    Ok(())
}

fn publish_switches(rings: &[Consumer], rt: &Runtime) {
    let bits = u64::from(switch_bits(rt)) | SWITCH_VALID;
    for r in rings {
        r.set_stat(SWITCH_SLOT, bits);
    }
}

fn first_time(rings: &[Consumer]) -> Option<Timestamp> {
    rings
        .iter()
        .map(|r| r.stat(Slot::First as usize))
        .filter(|t| *t != 0)
        .min()
        .map(|t| Timestamp(t as i64))
}

fn last_time(rings: &[Consumer]) -> Option<Timestamp> {
    rings
        .iter()
        .map(|r| r.stat(Slot::Last as usize))
        .filter(|t| *t != 0)
        .max()
        .map(|t| Timestamp(t as i64))
}

/// The cores' counters as the engine published them in the rings, for the metrics endpoint.
fn publish_metrics(
    rings: &[Consumer],
    out: &std::sync::Mutex<crate::metrics::MetricsSnapshot>,
    written: u64,
) {
    let cores = rings
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let v = |s: Slot| r.stat(s as usize);
            crate::metrics::CoreMetrics {
                core: i,
                packets: v(Slot::Packets),
                bytes: v(Slot::Bytes),
                tcp_flows: v(Slot::TcpFlows),
                udp_flows: v(Slot::UdpFlows),
                tcp_complete: v(Slot::TcpComplete),
                tcp_nocomplete: v(Slot::TcpNocomplete),
                udp_closed: v(Slot::UdpClosed),
                malformed: v(Slot::Malformed),
                tcp_trash: v(Slot::TcpTrash),
                evicted: v(Slot::Evicted),
                records_dropped: v(Slot::RecordsDropped),
                dns_dropped: v(Slot::DnsDropped),
                foreign: v(Slot::Foreign),
                forwarded: v(Slot::Forwarded),
                handoff_dropped: v(Slot::HandoffDropped),
                ring_used_bytes: r.head().saturating_sub(r.tail()),
                ring_capacity_bytes: r.capacity(),
                flows_open_tcp: v(Slot::TcpOpen),
                flows_open_udp: v(Slot::UdpOpen),
            }
        })
        .collect();
    let mut g = out.lock().unwrap_or_else(|p| p.into_inner());
    g.cores = cores;
    g.records_written = written;
}

/// Serves `/metrics`: the cores' counters the plane loop publishes, the traffic of the
/// records written, and the ports' counters asked from the engine at each scrape.
fn metrics_server(
    addr: std::net::SocketAddr,
    published: Arc<std::sync::Mutex<crate::metrics::MetricsSnapshot>>,
    traffic: Arc<crate::metrics::TrafficAccumulator>,
    engine_socket: PathBuf,
    started: Instant,
    mplane: Option<(
        Arc<crate::mplane::probe::ProbeHandle>,
        Arc<crate::mplane::probe::Switchboard>,
    )>,
) -> anyhow::Result<crate::metrics::MetricsServer> {
    let source = move || {
        let mut s = published.lock().unwrap_or_else(|p| p.into_inner()).clone();
        s.mplane = mplane.as_ref().map(|(p, b)| p.metrics(b));
        s.traffic = traffic.metrics();
        s.uptime_s = started.elapsed().as_secs_f64();
        if let Ok(v) = crate::start::request(&engine_socket, "status") {
            s.ports = v["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["ipackets"].is_u64())
                .map(|p| crate::metrics::PortMetrics {
                    name: p["port"].as_str().unwrap_or("?").to_string(),
                    ipackets: p["ipackets"].as_u64().unwrap_or(0),
                    ibytes: p["ibytes"].as_u64().unwrap_or(0),
                    imissed: p["imissed"].as_u64().unwrap_or(0),
                    ierrors: p["ierrors"].as_u64().unwrap_or(0),
                    rx_nombuf: p["rx_nombuf"].as_u64().unwrap_or(0),
                    xstats: p["xstats"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
                        .collect(),
                })
                .collect();
        }
        s
    };
    let server = crate::metrics::MetricsServer::spawn(addr, Arc::new(source))?;
    tracing::info!("metrics on http://{}/metrics", server.local_addr());
    Ok(server)
}
