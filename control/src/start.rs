//! `tstat-dpdk start`: the appliance's capture engine. One receive core per RX queue (a DPDK
//! lcore), each owning an engine worker whose records go into a shared-memory ring
//! (`<run_dir>/ring-i`) to the control-plane process ([`crate::plane`], started and
//! supervised through [`crate::supervise`]); the main thread serves the control socket
//! (`status`, `stop`) and watches for SIGINT/SIGTERM, after which every open flow is flushed
//! into the rings and the plane drains them.
//!
//! Live capture never waits for the control plane: a full record ring drops the record and
//! counts it (`records_dropped`), as every other drop is counted (NIC `imissed`, `rx_nombuf`,
//! malformed frames, flow-table evictions, DN-Hunter entries between cores). Only the final
//! flush, when nothing is captured any more, waits for room.

use crate::appconf::{AppConfig, Driver};
use crate::conf::Runtime;
use crate::plane::{Checkpoint, PlaneSpec, Slot, SWITCH_SLOT, SWITCH_VALID};
use anyhow::{bail, Context};
use engine::codec::MAX_ENCODED;
use engine::config::EngineConfig;
use engine::record::FlowRecord;
use engine::rx::{CoreSnapshot, IdlePolicy, PacketQueue, Stopped};
use engine::stats::CoreStats;
use engine::time::Timestamp;
use engine::worker::{FullPolicy, RecordSink, Worker};
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Everything `start` needs, validated.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// The appliance configuration (file plus command-line overrides).
    pub cfg: AppConfig,
    /// The runtime configuration (`-T`).
    pub runtime: Runtime,
    /// The engine configuration (`-N` and the per-message logs).
    pub engine: EngineConfig,
    /// Replay this trace through the in-process ring device instead of capturing (DPDK
    /// driver): tests and the in-box benchmark.
    pub replay: Option<PathBuf>,
    /// Replay at this many packets a second (default: as fast as the cores take them).
    pub replay_pps: Option<f64>,
    /// Replay as a NIC receives: a frame whose queue is full is dropped (`imissed`) instead
    /// of waiting (the zero-loss benchmark).
    pub replay_lossy: bool,
    /// The replay device plays a NIC without RSS (the cores spread flows in software).
    pub replay_no_rss: bool,
    /// Replay the trace this many times from pre-built mbufs, without copying a frame (lap k
    /// as copy k of `perf/gen/mktrace.py`); `None`: once, each frame copied into an mbuf.
    pub replay_laps: Option<u16>,
    /// Tstat's histograms (`-H`), when collected.
    pub histo: Option<crate::histo::HistoSpec>,
    /// The `-H` file the control plane reads (`None` with histograms from `-R` alone).
    pub histo_conf: Option<PathBuf>,
    /// RRD files (`-R` file, `-r` directory), when written.
    pub rrd: Option<(PathBuf, PathBuf)>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Counters of all cores together.
    pub stats: CoreStats,
    /// Per-core final snapshots.
    pub cores: Vec<CoreSnapshot>,
    /// Output directories written.
    pub dirs: Vec<PathBuf>,
    /// Records written to the logs.
    pub written: u64,
    /// Wall-clock duration.
    pub elapsed: Duration,
    /// Port counters at the end (one line each), DPDK only.
    pub ports: Vec<serde_json::Value>,
    /// Times the control-plane process was started again after dying.
    pub plane_restarts: u64,
    /// Records the control plane could not decode.
    pub corrupt: u64,
}

/// Turns the runtime switches into the engine's per-message settings: messages are copied
/// by the workers only for the logs that are written.
pub fn engine_for(mut engine: EngineConfig, runtime: &Runtime, logs: bool) -> EngineConfig {
    engine.http_log = runtime.logs.http_complete && logs;
    engine.dns_log = runtime.logs.dns_complete && logs;
    engine.tcp_periodic = runtime.logs.tcp_periodic && logs;
    engine.udp_periodic = runtime.logs.udp_periodic && logs;
    // The Advanced group of log_video_complete needs per-flow rate samples.
    engine.video_rates = logs
        && runtime.logs.video_complete
        && runtime
            .video_level
            .has(crate::logs::video::VideoLevel::ADVANCED);
    engine
}

/// State shared by the main thread (control socket, status) and nothing on the packet path.
struct Shared {
    snapshots: Vec<Arc<Mutex<CoreSnapshot>>>,
    rings: Vec<Arc<AtomicU64>>,
    ring_size: u64,
    started: Instant,
    driver: &'static str,
}

impl Shared {
    /// The latest packet time any core has published.
    fn clock(&self) -> Timestamp {
        self.snapshots
            .iter()
            .map(|s| s.lock().map(|g| g.last).unwrap_or(Timestamp::ZERO))
            .max()
            .unwrap_or(Timestamp::ZERO)
    }

    fn packets(&self) -> u64 {
        self.snapshots
            .iter()
            .map(|s| s.lock().map(|g| g.stats.packets).unwrap_or(0))
            .sum()
    }

    fn status(&self, ports: &[serde_json::Value]) -> serde_json::Value {
        let cores: Vec<serde_json::Value> = self
            .snapshots
            .iter()
            .zip(&self.rings)
            .enumerate()
            .map(|(i, (s, ring))| {
                let s = s.lock().map(|g| g.clone()).unwrap_or_default();
                core_json(i, &s, ring.load(Ordering::Relaxed), self.ring_size)
            })
            .collect();
        json!({
            "uptime_s": self.started.elapsed().as_secs_f64(),
            "driver": self.driver,
            "cores": cores,
            "ports": ports,
        })
    }
}

fn core_json(i: usize, s: &CoreSnapshot, ring_used: u64, ring_size: u64) -> serde_json::Value {
    let st = &s.stats;
    json!({
        "core": i,
        "packets": st.packets,
        "bytes": st.bytes,
        "tcp_flows_open": s.tcp_open,
        "udp_flows_open": s.udp_open,
        "tcp_flows": st.tcp_flows,
        "udp_flows": st.udp_flows,
        "tcp_complete": st.tcp_complete,
        "tcp_nocomplete": st.tcp_nocomplete,
        "udp_closed": st.udp_closed,
        "malformed": st.skipped_total(),
        "tcp_trash": st.tcp_trash,
        "evicted": st.evicted,
        "records_dropped": st.records_dropped,
        "dns_sent": s.dns_sent,
        "dns_dropped": s.dns_dropped,
        "foreign": s.foreign,
        "forwarded": s.forwarded,
        "handoff_dropped": s.handoff_dropped,
        "ring_used_bytes": ring_used,
        "ring_bytes": ring_size,
        "last_packet_us": s.last.0,
    })
}

/// A worker's end of its record ring to the control-plane process: records are encoded
/// into the shared-memory ring ([`engine::codec`]); the core's counters are published in the
/// ring's counter slots; the plane's runtime switches are read from it.
pub(crate) struct RingSink {
    ring: engine::ring::Producer,
    used: Arc<AtomicU64>,
    /// At the final flush nothing is captured any more: wait for room (up to a deadline
    /// without progress) instead of dropping.
    lossless: bool,
    /// Bytes kept free for histogram chunks: flow records are refused (and counted) first,
    /// so that an interval's parts still get through when the ring is nearly full.
    reserve: u64,
    /// Packet time of the frame being analysed: each record's frame starts with it (8 bytes,
    /// little-endian µs), the time the plane's rotation follows.
    now: Timestamp,
}

/// The frame of a record in a ring (emission time, then [`engine::codec`]) enters the ring's
/// layout fingerprint with the record encoding's.
pub const FRAME_FORMAT: u64 = 0x7473_7461_7466_0001;

/// Room a record takes in a ring at most: its emission time and its encoding.
pub const RECORD_ROOM: usize = 8 + MAX_ENCODED;

/// How long the final flush waits for a control plane that releases nothing.
const FLUSH_PATIENCE: Duration = Duration::from_secs(60);

impl engine::worker::RecordSink for RingSink {
    #[inline]
    fn offer(&mut self, rec: FlowRecord) -> Result<(), FlowRecord> {
        if self.lossless && !self.ring.has_room(RECORD_ROOM) {
            let mut t0 = Instant::now();
            let mut used = self.ring.used_bytes();
            while !self.ring.has_room(RECORD_ROOM) {
                std::thread::sleep(Duration::from_micros(200));
                let u = self.ring.used_bytes();
                if u < used {
                    used = u;
                    t0 = Instant::now();
                } else if t0.elapsed() > FLUSH_PATIENCE {
                    // Nobody drains: drop (and count) from now on.
                    self.lossless = false;
                    break;
                }
            }
        }
        if self.reserve > 0
            && !self.lossless
            && !matches!(rec, FlowRecord::Histo(_))
            && self.ring.capacity() - self.ring.used_bytes() < self.reserve + RECORD_ROOM as u64
        {
            return Err(rec);
        }
        let mut bad = false;
        let now = self.now.0.to_le_bytes();
        let pushed = self.ring.try_push(RECORD_ROOM, |buf| {
            match engine::codec::encode(&rec, &mut buf[8..]) {
                Ok(n) => {
                    buf[..8].copy_from_slice(&now);
                    n + 8
                }
                Err(_) => {
                    // Cannot happen within MAX_ENCODED (tested); an empty record is then
                    // counted as corrupt by the plane rather than silently lost.
                    bad = true;
                    0
                }
            }
        });
        debug_assert!(!bad);
        if pushed {
            Ok(())
        } else {
            Err(rec)
        }
    }

    fn publish(&mut self, snapshot: &CoreSnapshot) {
        let slots = self.ring.stats();
        for s in Slot::ALL {
            slots[s as usize].store(s.of(snapshot), Ordering::Relaxed);
        }
        self.used.store(self.ring.used_bytes(), Ordering::Relaxed);
    }

    fn switches(&self) -> Option<u32> {
        let v = self.ring.stats()[SWITCH_SLOT].load(Ordering::Relaxed);
        (v & SWITCH_VALID != 0).then_some(v as u32)
    }

    #[inline]
    fn clock(&mut self, now: Timestamp) {
        self.now = now;
    }
}

/// One core's work, ready to be moved to its lcore or thread.
pub(crate) type CoreJob = Box<dyn FnOnce() -> Stopped<RingSink> + Send>;

/// Runs the jobs with a control callback (false: stop) and the cores' stop flag; returns
/// when every core has stopped.
pub(crate) type Runner = Box<
    dyn FnOnce(
        Vec<CoreJob>,
        &mut dyn FnMut() -> bool,
        Arc<AtomicBool>,
    ) -> anyhow::Result<Vec<Stopped<RingSink>>>,
>;

/// The receive side of one driver: a job per core and a way to read port counters.
pub(crate) struct Capture {
    pub(crate) jobs: Vec<CoreJob>,
    pub(crate) port_stats: Box<dyn FnMut() -> Vec<serde_json::Value>>,
    /// Runs the jobs and returns when they have all stopped.
    pub(crate) runner: Runner,
}

/// Runs the appliance until SIGINT/SIGTERM, `tstat-dpdk stop`, or the idle exit.
pub fn run(opts: &StartOptions) -> anyhow::Result<Summary> {
    let cfg = &opts.cfg;
    std::fs::create_dir_all(&cfg.out_dir)
        .with_context(|| format!("{}: cannot create the output root", cfg.out_dir.display()))?;
    std::fs::create_dir_all(&cfg.run_dir)
        .with_context(|| format!("{}: cannot create the run directory", cfg.run_dir.display()))?;
    let listener = bind_socket(&cfg.socket)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    let n = usize::from(cfg.workers);
    let mut engine = opts.engine.clone();
    if n > 1 {
        // A DNS response and the flow it names may be on two cores: look late names up.
        engine.dns_late_packets = 16;
    }
    let engine = Arc::new(engine);
    let core_stop = Arc::new(AtomicBool::new(false));
    let snapshots: Vec<Arc<Mutex<CoreSnapshot>>> = (0..n).map(|_| Arc::default()).collect();
    let ring_used: Vec<Arc<AtomicU64>> = (0..n).map(|_| Arc::default()).collect();
    let mut workers = Vec::new();
    let mut ring_paths = Vec::new();
    for (i, used) in ring_used.iter().enumerate() {
        let path = cfg.run_dir.join(format!("ring-{i}"));
        let ring = engine::ring::RingFile::create(
            &path,
            cfg.record_ring_bytes,
            RECORD_ROOM,
            engine::codec::LAYOUT ^ FRAME_FORMAT,
        )
        .with_context(|| format!("{}: cannot create the record ring", path.display()))?;
        ring_paths.push(path);
        let sink = RingSink {
            ring,
            used: Arc::clone(used),
            lossless: false,
            reserve: if opts.histo.is_some() {
                (cfg.record_ring_bytes / 16).max(MAX_ENCODED as u64)
            } else {
                0
            },
            now: Timestamp::ZERO,
        };
        let mut w = Worker::new(Arc::clone(&engine), sink, FullPolicy::Drop);
        if let Some(h) = &opts.histo {
            w.enable_histo(h.engine(), i as u16);
        }
        workers.push(w);
    }
    let histo_clock = opts
        .histo
        .as_ref()
        .map(|_| Arc::new(engine::rx::HistoClock::default()));
    let spec = PlaneSpec {
        out_dir: cfg.out_dir.clone(),
        runtime_conf: cfg.runtime_conf.clone(),
        gzip: cfg.gzip,
        flush_interval_s: cfg.flush_interval.as_secs(),
        flushes_per_dir: cfg.flushes_per_dir,
        rings: ring_paths,
        state: cfg.run_dir.join("plane.state"),
        metrics: cfg.metrics,
        engine_socket: cfg.socket.clone(),
        histo_conf: opts.histo_conf.clone(),
        rrd: opts.rrd.clone(),
        mplane: cfg.mplane.clone(),
        format_threads: cfg.format_threads,
    };
    // A checkpoint of an earlier run belongs to rings that are gone.
    let _ = std::fs::remove_file(&spec.state);
    let spec_path = cfg.run_dir.join("plane.json");
    spec.save(&spec_path)?;
    let user = match &cfg.user {
        Some(u) => Some(crate::supervise::PlaneUser::lookup(u)?),
        None => None,
    };
    if let Some((_, dir)) = &opts.rrd {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create the RRD directory", dir.display()))?;
        if let Some(u) = &user {
            u.hand_over(&[dir])?;
        }
    }
    if let Some(u) = &user {
        // The socket too: the plane asks the engine for port counters.
        u.hand_over(&[&cfg.run_dir, &cfg.out_dir, &cfg.socket])?;
        for p in &spec.rings {
            u.hand_over(&[p])?;
        }
        u.hand_over(&[&spec_path])?;
    }
    let mut plane = crate::supervise::Plane::spawn(spec_path, user)?;
    let shared = Arc::new(Shared {
        snapshots: snapshots.clone(),
        rings: ring_used,
        ring_size: cfg.record_ring_bytes,
        started: Instant::now(),
        driver: match cfg.driver {
            Driver::Dpdk => "dpdk",
            Driver::Pcap => "pcap",
        },
    });
    let ctx = CoreContext {
        workers,
        snapshots,
        stop: Arc::clone(&core_stop),
        idle: cfg.idle,
        histo: histo_clock.clone(),
    };
    let mut histo_step: Option<Timestamp> = None;
    let capture = match cfg.driver {
        Driver::Dpdk => dpdk_capture(opts, ctx),
        Driver::Pcap => pcap_capture(opts, ctx),
    };
    let capture = match capture {
        Ok(c) => c,
        Err(e) => {
            plane.kill();
            return Err(e);
        }
    };
    let Capture {
        jobs,
        mut port_stats,
        runner,
    } = capture;
    let mut ports_now = port_stats();
    let mut last_packets = 0u64;
    let mut last_change = Instant::now();
    let mut tick = Instant::now();
    let mut control =
        |ports_now: &mut Vec<serde_json::Value>, plane: &mut crate::supervise::Plane| -> bool {
            if tick.elapsed() >= Duration::from_millis(100) {
                tick = Instant::now();
                *ports_now = port_stats();
                plane.check();
                // Tstat's histogram clock: an interval ends at the first packet more than
                // Max_Time_Step after the previous end, on the latest time any core has seen.
                if let Some(c) = &histo_clock {
                    if let Some(start) = c.started() {
                        let step = *histo_step.get_or_insert(start);
                        let now = shared.clock();
                        if now.0 - step.0 > cfg.flush_interval.as_micros() as i64 {
                            c.tick(now);
                            histo_step = Some(now);
                        }
                    }
                }
                let p = shared.packets();
                if p != last_packets {
                    last_packets = p;
                    last_change = Instant::now();
                }
                if let Some(idle) = cfg.idle_exit {
                    if p > 0 && last_change.elapsed() >= idle {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
            serve(&listener, &shared, ports_now, plane, &stop);
            !stop.load(Ordering::Relaxed)
        };
    let started = Instant::now();
    let stopped = runner(
        jobs,
        &mut || control(&mut ports_now, &mut plane),
        Arc::clone(&core_stop),
    );
    let stopped = match stopped {
        Ok(s) => s,
        Err(e) => {
            plane.kill();
            return Err(e);
        }
    };
    // Every core has stopped: end the capture at the latest packet time any of them saw,
    // as the end of a trace, and flush every open flow, waiting for ring room now that
    // nothing is captured, while this thread goes on supervising the control plane.
    let last = stopped
        .iter()
        .map(|s| s.last)
        .max()
        .unwrap_or(Timestamp::ZERO);
    let finisher = std::thread::Builder::new()
        .name("final-flush".into())
        .spawn(move || {
            let mut cores = Vec::new();
            for mut s in stopped {
                s.worker.sink_mut().lossless = true;
                s.worker.finish(last);
                let mut snap = s.snapshot;
                snap.stats = s.worker.stats().clone();
                s.worker.sink_mut().publish(&snap);
                s.worker.into_sink().ring.close();
                cores.push(snap);
            }
            cores
        })
        .context("spawning the final flush")?;
    while !finisher.is_finished() {
        std::thread::sleep(Duration::from_millis(20));
        plane.check();
        serve(&listener, &shared, &ports_now, &plane, &stop);
    }
    let cores = finisher
        .join()
        .map_err(|_| anyhow::anyhow!("the final flush failed"))?;
    let mut summary = Summary::default();
    for snap in cores {
        summary.stats.merge(&snap.stats);
        summary.cores.push(snap);
    }
    summary.ports = port_stats();
    // The plane drains the closed rings and exits.
    plane.wait_done(|p| serve(&listener, &shared, &ports_now, p, &stop))?;
    summary.plane_restarts = plane.restarts();
    if let Some(c) = Checkpoint::load(&spec.state)? {
        summary.dirs = c.live.dirs;
        summary.written = c.live.written;
        summary.corrupt = c.corrupt;
    }
    summary.elapsed = started.elapsed();
    let _ = std::fs::remove_file(&cfg.socket);
    Ok(summary)
}

pub(crate) struct CoreContext {
    workers: Vec<Worker<RingSink>>,
    snapshots: Vec<Arc<Mutex<CoreSnapshot>>>,
    stop: Arc<AtomicBool>,
    idle: IdlePolicy,
    histo: Option<Arc<engine::rx::HistoClock>>,
}

impl CoreContext {
    /// One job per core over `queues` (queue i feeds worker i).
    pub(crate) fn jobs<Q: PacketQueue + Send + 'static>(
        self,
        queues: Vec<Q>,
        link: engine::wire::LinkType,
    ) -> Vec<CoreJob> {
        let n = queues.len();
        let mut mesh = engine::rx::dns_mesh(n, 4096);
        let mut jobs: Vec<CoreJob> = Vec::new();
        for (i, ((q, w), snap)) in queues
            .into_iter()
            .zip(self.workers)
            .zip(self.snapshots)
            .enumerate()
            .rev()
        {
            let links = mesh.pop().expect("one DNS link set per core");
            let mut core =
                engine::rx::Core::new(q, w, link, links, Arc::clone(&self.stop), snap, self.idle)
                    .with_index(i, n);
            if let Some(c) = &self.histo {
                core = core.with_histo_clock(Arc::clone(c));
            }
            jobs.push(Box::new(move || core.run()));
        }
        jobs.reverse();
        jobs
    }
}

/// Binds the control socket; a stale socket file (no one answering) is replaced, a live one
/// means another instance runs.
fn bind_socket(path: &Path) -> anyhow::Result<UnixListener> {
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            bail!(
                "{}: another tstat-dpdk instance is running (tstat-dpdk stop --socket {} first)",
                path.display(),
                path.display()
            );
        }
        std::fs::remove_file(path).with_context(|| {
            format!("{}: cannot remove the stale control socket", path.display())
        })?;
    }
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("{}: cannot create", dir.display()))?;
        }
    }
    let l = UnixListener::bind(path)
        .with_context(|| format!("{}: cannot bind the control socket", path.display()))?;
    l.set_nonblocking(true).context("control socket")?;
    Ok(l)
}

/// Answers every pending control connection: one request line, one JSON reply.
fn serve(
    listener: &UnixListener,
    shared: &Shared,
    ports: &[serde_json::Value],
    plane: &crate::supervise::Plane,
    stop: &AtomicBool,
) {
    while let Ok((stream, _)) = listener.accept() {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut line = String::new();
        let mut reader = BufReader::new(&stream);
        if reader.read_line(&mut line).is_err() {
            continue;
        }
        let reply = match line.trim() {
            "status" => {
                let mut s = shared.status(ports);
                s["plane"] = plane.status();
                s
            }
            "stop" => {
                stop.store(true, Ordering::Relaxed);
                json!({"stopping": true})
            }
            other => json!({"error": format!("unknown request {other:?}: status or stop")}),
        };
        let mut out = &stream;
        let _ = writeln!(out, "{reply}");
    }
}

/// Sends one request to a running instance and returns its JSON reply.
pub fn request(socket: &Path, what: &str) -> anyhow::Result<serde_json::Value> {
    let mut s = UnixStream::connect(socket).with_context(|| {
        format!(
            "{}: cannot reach a running tstat-dpdk (is `tstat-dpdk start` running with this control socket?)",
            socket.display()
        )
    })?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    writeln!(s, "{what}")?;
    let mut line = String::new();
    BufReader::new(&s)
        .read_line(&mut line)
        .context("reading the reply")?;
    serde_json::from_str(&line).with_context(|| format!("bad reply {line:?}"))
}

#[cfg(feature = "dpdk")]
fn dpdk_capture(opts: &StartOptions, ctx: CoreContext) -> anyhow::Result<Capture> {
    crate::start_dpdk::capture(opts, ctx)
}

#[cfg(not(feature = "dpdk"))]
fn dpdk_capture(_opts: &StartOptions, _ctx: CoreContext) -> anyhow::Result<Capture> {
    bail!("this tstat-dpdk was built without DPDK (--no-default-features): use driver = \"pcap\"")
}

fn pcap_capture(opts: &StartOptions, ctx: CoreContext) -> anyhow::Result<Capture> {
    crate::start_pcap::capture(opts, ctx)
}
