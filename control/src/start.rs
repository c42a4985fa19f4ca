//! `tstat-dpdk start`: the appliance. One receive core per RX queue (a DPDK lcore, or a thread
//! for the libpcap driver and replays), each owning an engine worker; a writer thread turning
//! records into Tstat's logs with live rotation; the main thread serving the control socket
//! (`status`, `stop`) and watching for SIGINT/SIGTERM, after which every open flow is flushed.
//!
//! Live capture never waits for the writer: a full record ring drops the record and counts it
//! (`records_dropped`), as every other drop is counted (NIC `imissed`, `rx_nombuf`, malformed
//! frames, flow-table evictions, DN-Hunter entries between cores).

use crate::appconf::{AppConfig, Driver};
use crate::conf::Runtime;
use crate::live::{LiveWriter, Rotation};
use anyhow::{bail, Context};
use engine::config::EngineConfig;
use engine::record::FlowRecord;
use engine::rx::{CoreSnapshot, IdlePolicy, PacketQueue, Stopped};
use engine::stats::CoreStats;
use engine::time::Timestamp;
use engine::worker::{FullPolicy, Worker};
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
    ring_size: usize,
    written: Arc<AtomicU64>,
    started: Instant,
    driver: &'static str,
}

impl Shared {
    fn clock(&self) -> Timestamp {
        self.snapshots
            .iter()
            .map(|s| s.lock().map(|g| g.last).unwrap_or(Timestamp::ZERO))
            .max()
            .unwrap_or(Timestamp::ZERO)
    }

    /// The earliest first-packet time any core has published.
    fn first(&self) -> Option<Timestamp> {
        self.snapshots
            .iter()
            .filter_map(|s| s.lock().ok().map(|g| g.first))
            .filter(|t| *t != Timestamp::ZERO)
            .min()
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
            "records_written": self.written.load(Ordering::Relaxed),
        })
    }
}

fn core_json(i: usize, s: &CoreSnapshot, ring_used: u64, ring_size: usize) -> serde_json::Value {
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
        "ring_used": ring_used,
        "ring_size": ring_size,
        "last_packet_us": s.last.0,
    })
}

/// A record ring producer that also tells the control plane how full the ring is.
pub(crate) struct CountingSink {
    ring: rtrb::Producer<FlowRecord>,
    used: Arc<AtomicU64>,
}

impl engine::worker::RecordSink for CountingSink {
    #[inline]
    fn offer(&mut self, rec: FlowRecord) -> Result<(), FlowRecord> {
        let r = self.ring.push(rec).map_err(|rtrb::PushError::Full(r)| r);
        self.used.store(
            (self.ring.buffer().capacity() - self.ring.slots()) as u64,
            Ordering::Relaxed,
        );
        r
    }
}

/// One core's work, ready to be moved to its lcore or thread.
pub(crate) type CoreJob = Box<dyn FnOnce() -> Stopped<CountingSink> + Send>;

/// Runs the jobs with a control callback (false: stop) and the cores' stop flag; returns
/// when every core has stopped.
pub(crate) type Runner = Box<
    dyn FnOnce(
        Vec<CoreJob>,
        &mut dyn FnMut() -> bool,
        Arc<AtomicBool>,
    ) -> anyhow::Result<Vec<Stopped<CountingSink>>>,
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
    let listener = bind_socket(&cfg.socket)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    let n = usize::from(cfg.workers);
    let engine = Arc::new(opts.engine.clone());
    let core_stop = Arc::new(AtomicBool::new(false));
    let snapshots: Vec<Arc<Mutex<CoreSnapshot>>> = (0..n).map(|_| Arc::default()).collect();
    let ring_used: Vec<Arc<AtomicU64>> = (0..n).map(|_| Arc::default()).collect();
    let mut consumers = Vec::new();
    let mut workers = Vec::new();
    for used in &ring_used {
        let (tx, rx) = rtrb::RingBuffer::<FlowRecord>::new(cfg.record_ring);
        consumers.push(rx);
        let sink = CountingSink {
            ring: tx,
            used: Arc::clone(used),
        };
        workers.push(Worker::new(Arc::clone(&engine), sink, FullPolicy::Drop));
    }
    let shared = Arc::new(Shared {
        snapshots: snapshots.clone(),
        rings: ring_used,
        ring_size: cfg.record_ring,
        written: Arc::default(),
        started: Instant::now(),
        driver: match cfg.driver {
            Driver::Dpdk => "dpdk",
            Driver::Pcap => "pcap",
        },
    });
    let writer = {
        let w = LiveWriter::new(
            &cfg.out_dir,
            opts.runtime.clone(),
            cfg.gzip,
            Rotation {
                flush_interval: cfg.flush_interval,
                flushes_per_dir: cfg.flushes_per_dir,
            },
        );
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("writer".into())
            .spawn(move || write_loop(w, consumers, &shared))
            .context("spawning the writer thread")?
    };
    let ctx = CoreContext {
        workers,
        snapshots,
        stop: Arc::clone(&core_stop),
        idle: cfg.idle,
    };
    let capture = match cfg.driver {
        Driver::Dpdk => dpdk_capture(opts, ctx)?,
        Driver::Pcap => {
            bail!("the pcap driver is not available in this build yet: use driver = \"dpdk\"")
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
    let mut control = |ports_now: &mut Vec<serde_json::Value>| -> bool {
        if tick.elapsed() >= Duration::from_millis(100) {
            tick = Instant::now();
            *ports_now = port_stats();
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
        serve(&listener, &shared, ports_now, &stop);
        !stop.load(Ordering::Relaxed)
    };
    let started = Instant::now();
    let stopped = runner(
        jobs,
        &mut || control(&mut ports_now),
        Arc::clone(&core_stop),
    )?;
    // Every core has stopped: end the capture at the latest packet time any of them saw,
    // as the end of a trace, and flush every open flow.
    let last = stopped
        .iter()
        .map(|s| s.last)
        .max()
        .unwrap_or(Timestamp::ZERO);
    let mut summary = Summary::default();
    for mut s in stopped {
        s.worker.finish(last);
        let mut snap = s.snapshot;
        snap.stats = s.worker.stats().clone();
        summary.stats.merge(&snap.stats);
        summary.cores.push(snap);
    }
    summary.ports = port_stats();
    let (dirs, written) = writer
        .join()
        .map_err(|_| anyhow::anyhow!("the writer thread failed"))??;
    summary.dirs = dirs;
    summary.written = written;
    summary.elapsed = started.elapsed();
    let _ = std::fs::remove_file(&cfg.socket);
    Ok(summary)
}

pub(crate) struct CoreContext {
    workers: Vec<Worker<CountingSink>>,
    snapshots: Vec<Arc<Mutex<CoreSnapshot>>>,
    stop: Arc<AtomicBool>,
    idle: IdlePolicy,
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
            let core =
                engine::rx::Core::new(q, w, link, links, Arc::clone(&self.stop), snap, self.idle)
                    .with_index(i, n);
            jobs.push(Box::new(move || core.run()));
        }
        jobs.reverse();
        jobs
    }
}

fn write_loop(
    mut w: LiveWriter,
    mut rings: Vec<rtrb::Consumer<FlowRecord>>,
    shared: &Shared,
) -> anyhow::Result<(Vec<PathBuf>, u64)> {
    let mut idle = 0u32;
    let mut tick = Instant::now();
    loop {
        let mut any = false;
        let mut all_done = true;
        for r in rings.iter_mut() {
            let done = r.is_abandoned();
            while let Ok(rec) = r.pop() {
                any = true;
                if !w.is_open() {
                    // The first directory is named after the first packet, as Tstat's is.
                    if let Some(t) = shared.first() {
                        w.advance(t)?;
                    }
                }
                w.write(&rec)?;
            }
            all_done &= done;
        }
        if all_done {
            break;
        }
        if tick.elapsed() >= Duration::from_millis(200) {
            tick = Instant::now();
            w.advance(shared.clock())?;
            shared.written.store(w.written(), Ordering::Relaxed);
        }
        if any {
            idle = 0;
        } else {
            idle += 1;
            std::thread::sleep(Duration::from_micros(if idle < 10 { 50 } else { 1000 }));
        }
    }
    // A capture whose flows all stayed unlogged still gets its directory, as `analyze` does.
    if let Some(t) = shared.first() {
        w.advance(t)?;
    }
    let written = w.written();
    shared.written.store(written, Ordering::Relaxed);
    Ok((w.finish()?, written))
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
fn serve(listener: &UnixListener, shared: &Shared, ports: &[serde_json::Value], stop: &AtomicBool) {
    while let Ok((stream, _)) = listener.accept() {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut line = String::new();
        let mut reader = BufReader::new(&stream);
        if reader.read_line(&mut line).is_err() {
            continue;
        }
        let reply = match line.trim() {
            "status" => shared.status(ports),
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
