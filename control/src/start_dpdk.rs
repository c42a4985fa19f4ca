//! The DPDK side of `tstat-dpdk start`: EAL from the configuration, one mempool per NUMA
//! socket, every port with one RX queue per worker, one worker lcore per queue index (queue i
//! of every port feeds core i, so with a symmetric key both directions of a flow, even seen on
//! the two ports of an optical tap, meet on one core). A port that does not spread flows
//! itself (no RSS, or fewer queues than workers: `net_pcap`, memif, vhost) is spread by the
//! cores in software (`dpdk.software_rss`, [`engine::dpdk::CoreQueue`]); when the capture
//! stops, the cores stop receiving and drain their hand-off rings before they are stopped.
//! With `--replay`, the port is the in-process ring device and a feeder thread plays the NIC
//! from a trace file.

use crate::appconf::{RxTimestampMode, SoftwareRss};
use crate::start::{Capture, CoreContext, CoreJob, StartOptions};
use anyhow::{bail, Context};
use engine::dpdk::{self, CoreQueue, Eal, Mempool, Port, PortConfig, RingDevice, Spreader};
use engine::source::TraceFile;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a stopping capture waits for the cores to drain their hand-off rings.
const DRAIN_PATIENCE: Duration = Duration::from_secs(5);

/// Everything DPDK, dropped in field order: ports (closed once their queues are gone), the
/// ring device, the mempools, and EAL last.
struct Rig {
    ports: Vec<Port>,
    _device: Option<RingDevice>,
    _pools: BTreeMap<u32, Arc<Mempool>>,
    eal: Eal,
}

pub(crate) fn capture(opts: &StartOptions, ctx: CoreContext) -> anyhow::Result<Capture> {
    let cfg = &opts.cfg;
    let eal = Eal::init(&cfg.eal_args).context("DPDK EAL initialisation (check dpdk.eal_args)")?;
    let lcores = eal.worker_lcores();
    let workers = usize::from(cfg.workers);
    if lcores.len() < workers {
        bail!(
            "EAL runs {} worker lcore(s) but capture.workers = {workers}: give EAL {} lcores (e.g. -l 0-{workers}); the main lcore runs the control plane",
            lcores.len(),
            workers + 1
        );
    }
    let mut pools: BTreeMap<u32, Arc<Mempool>> = BTreeMap::new();
    let socket = eal.socket_of(lcores[0]);
    let mut device = None;
    let names = if let Some(trace) = &opts.replay {
        if !trace.exists() {
            bail!("{}: no such trace to replay", trace.display());
        }
        let d = RingDevice::create(&eal, "replay", cfg.workers, 4096, socket)
            .context("creating the in-process ring device")?;
        let name = d.name().to_string();
        device = Some(d);
        vec![name]
    } else if cfg.ports.is_empty() {
        let all = dpdk::port_names(&eal);
        if all.is_empty() {
            bail!("DPDK found no port: bind a NIC to vfio-pci (scripts/bind-nic.sh) or pass a --vdev in dpdk.eal_args");
        }
        all
    } else {
        cfg.ports.clone()
    };
    let mut ports = Vec::new();
    let mut spread = Vec::new();
    for name in &names {
        let sock = dpdk::port_socket(&eal, name).unwrap_or(socket);
        let pool = match pools.get(&sock) {
            Some(p) => Arc::clone(p),
            None => {
                // A replayed trace may hold frames larger than DPDK's 2 KiB buffers (captures
                // made with segmentation offloads): then fewer, larger mbufs (256 MiB in all).
                // Replayed in laps, every frame of the trace is pre-built: one mbuf each.
                let (room, size) = match &opts.replay {
                    Some(trace) => {
                        let (frames, largest) = trace_shape(trace)?;
                        let need = (largest + usize::from(Mempool::HEADROOM))
                            .max(usize::from(Mempool::DEFAULT_DATA_ROOM));
                        let room = u16::try_from(need.next_multiple_of(64)).map_err(|_| {
                            anyhow::anyhow!(
                                "{}: a frame of {largest} bytes does not fit an mbuf",
                                trace.display()
                            )
                        })?;
                        if opts.replay_laps.is_some() {
                            let size = u32::try_from(frames + 64).map_err(|_| {
                                anyhow::anyhow!("{}: too many frames to pre-build", trace.display())
                            })?;
                            eprintln!(
                                "tstat-dpdk: replay: pre-building the {frames} frames of {} in {size} mbufs of {room} bytes ({} MiB)",
                                trace.display(),
                                (u64::from(size) * u64::from(room)) >> 20
                            );
                            (room, size)
                        } else if room > Mempool::DEFAULT_DATA_ROOM {
                            let size = (256u32 << 20) / u32::from(room);
                            (room, cfg.mempool_size.min(size.max(1024)))
                        } else {
                            (Mempool::DEFAULT_DATA_ROOM, cfg.mempool_size)
                        }
                    }
                    None => (Mempool::DEFAULT_DATA_ROOM, cfg.mempool_size),
                };
                let p = Arc::new(
                    Mempool::with_data_room(&eal, &format!("mbufs_s{sock}"), size, sock as i32, room)
                        .with_context(|| format!("creating the mbuf pool on socket {sock} ({size} mbufs of {room} bytes: more hugepages or EAL memory (-m), or a smaller dpdk.mempool_size)"))?,
                );
                pools.insert(sock, Arc::clone(&p));
                p
            }
        };
        let pc = PortConfig {
            rx_queues: cfg.workers,
            fit_queues: cfg.software_rss != SoftwareRss::Never,
            rx_desc: cfg.rx_desc,
            rss: cfg.rss,
            promiscuous: true,
            timestamps: match cfg.rx_timestamps {
                RxTimestampMode::Auto => dpdk::RxTimestamps::Auto,
                RxTimestampMode::Device => dpdk::RxTimestamps::Device,
                RxTimestampMode::Software => dpdk::RxTimestamps::Software,
            },
        };
        let port =
            Port::open(&eal, name, &pc, pool).with_context(|| format!("starting port {name}"))?;
        // The replay device plays an RSS NIC unless told otherwise.
        let by_flow = port.hardware_rss() || (device.is_some() && !opts.replay_no_rss);
        let spreads_itself = by_flow && port.queues() == cfg.workers;
        let soft = workers > 1
            && match cfg.software_rss {
                SoftwareRss::Always => true,
                SoftwareRss::Auto => !spreads_itself,
                SoftwareRss::Never => false,
            };
        if !spreads_itself && !soft && workers > 1 {
            eprintln!(
                "tstat-dpdk: warning: port {name} ({}) offers no RSS and dpdk.software_rss = \"never\": with {workers} workers each queue's flows stay on its core only if the device spreads them by flow",
                port.driver()
            );
        }
        tracing::info!(port = %name, driver = port.driver(), rss = port.hardware_rss(), queues = port.queues(), software_rss = soft, "port started");
        ports.push(port);
        spread.push(soft);
    }
    // Core i: queue i of every port that has one, analysed in place or spread by flow.
    let mut per_core = Vec::new();
    for i in 0..cfg.workers {
        let (mut direct, mut soft) = (Vec::new(), Vec::new());
        for (p, &s) in ports.iter_mut().zip(&spread) {
            if i < p.queues() {
                let q = p.rx_queue(i)?;
                if s {
                    soft.push(q);
                } else {
                    direct.push(q);
                }
            }
        }
        per_core.push((direct, soft));
    }
    // Hand-off rings may hold a quarter of the mbufs when they are all full.
    let (queues, spreader) = CoreQueue::build(
        per_core,
        engine::wire::LinkType::Ethernet,
        cfg.mempool_size as usize / 4,
    );
    let feeder = match (&opts.replay, &device) {
        (Some(trace), Some(d)) => {
            let pool = pools.values().next().cloned().expect("one pool per port");
            let f = d.feeder(pool)?;
            let f = if opts.replay_no_rss {
                f.without_rss()
            } else {
                f
            };
            Some((trace.clone(), f))
        }
        _ => None,
    };
    let jobs = ctx.jobs(queues, engine::wire::LinkType::Ethernet);
    let rig = Rc::new(Rig {
        ports,
        _device: device,
        _pools: pools,
        eal,
    });
    let stats_rig = Rc::clone(&rig);
    // What a lossy replay dropped, as the NIC's own counters would show it: per queue, then
    // the mbuf shortage.
    let replay_drops: Arc<Vec<AtomicU64>> = Arc::new(
        (0..=usize::from(cfg.workers))
            .map(|_| AtomicU64::new(0))
            .collect(),
    );
    let drops = Arc::clone(&replay_drops);
    let port_stats = Box::new(move || {
        let missed: u64 = drops[..drops.len() - 1]
            .iter()
            .map(|d| d.load(Ordering::Relaxed))
            .sum();
        let nombuf = drops[drops.len() - 1].load(Ordering::Relaxed);
        stats_rig
            .ports
            .iter()
            .zip(&spread)
            .map(|(p, &soft)| match p.stats() {
                Ok(s) => {
                    // The driver's own counters, by its names (drop causes the basic
                    // counters fold together or leave out); an error leaves them out.
                    let xstats: serde_json::Map<String, serde_json::Value> = p
                        .xstats()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(name, v)| (name, v.into()))
                        .collect();
                    serde_json::json!({
                        "port": p.name(), "driver": p.driver(),
                        "hardware_rss": p.hardware_rss(),
                        "software_rss": soft,
                        "rx_queues": p.queues(),
                        "rx_timestamps": if p.device_timestamps() { "device" } else { "software" },
                        "clock": clock_json(&p.clock_report()),
                        "ipackets": s.ipackets, "ibytes": s.ibytes,
                        "imissed": s.imissed + missed,
                        "ierrors": s.ierrors, "rx_nombuf": s.rx_nombuf + nombuf,
                        "q_ipackets": s.q_ipackets, "q_errors": s.q_errors,
                        "xstats": xstats,
                    })
                }
                Err(e) => serde_json::json!({"port": p.name(), "error": e.to_string()}),
            })
            .collect()
    });
    let pps = opts.replay_pps;
    let laps = opts.replay_laps;
    let lossy = opts.replay_lossy.then_some(replay_drops);
    let runner = Box::new(
        move |jobs: Vec<CoreJob>, control: &mut dyn FnMut() -> bool, stop: Arc<AtomicBool>| {
            run_lcores(
                rig,
                jobs,
                control,
                feeder,
                (pps, laps, lossy),
                spreader,
                stop,
            )
        },
    );
    Ok(Capture {
        jobs,
        port_stats,
        runner,
    })
}

type Slot = Arc<Mutex<Option<engine::rx::Stopped<crate::start::RingSink>>>>;

/// How often the main lcore disciplines the ports' clocks against the system clock.
const CLOCK_EVERY: Duration = Duration::from_secs(1);

fn clock_json(r: &dpdk::ClockReport) -> serde_json::Value {
    if r.tsc_hz == 0.0 {
        // Not read yet (the first reading comes a second into the capture).
        return serde_json::Value::Null;
    }
    let mut v = serde_json::json!({
        "tsc_hz": r.tsc_hz.round(),
        "tsc_offset_ns": r.tsc_offset_ns,
        "tsc_steps": r.tsc_steps,
    });
    if let Some((hz, offset, steps)) = r.device {
        v["device_hz"] = hz.round().into();
        v["device_offset_ns"] = offset.into();
        v["device_steps"] = steps.into();
    }
    v
}

fn run_lcores(
    rig: Rc<Rig>,
    jobs: Vec<CoreJob>,
    control: &mut dyn FnMut() -> bool,
    feeder: Option<(std::path::PathBuf, dpdk::RingFeeder)>,
    (pps, laps, lossy): (Option<f64>, Option<u16>, Option<Arc<Vec<AtomicU64>>>),
    spreader: Option<Arc<Spreader>>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Vec<engine::rx::Stopped<crate::start::RingSink>>> {
    let lcores = rig.eal.worker_lcores();
    let mut slots: Vec<Slot> = Vec::new();
    let mut launched = Vec::new();
    let mut failure = None;
    for (job, lc) in jobs.into_iter().zip(lcores) {
        let slot: Slot = Arc::default();
        let out = Arc::clone(&slot);
        match dpdk::lcore::launch(&rig.eal, lc, move || {
            let s = job();
            *out.lock().unwrap_or_else(|p| p.into_inner()) = Some(s);
            0
        }) {
            Ok(l) => {
                launched.push(l);
                slots.push(slot);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    // The replay thread hands its feeder back when the trace is fed, so that the queues'
    // backlog can be watched: the replay is over once every queue is empty (each core
    // finishes the burst it holds before it looks at the stop flag).
    // Asked to stop before the trace is over, the replay ends at the next packet.
    let halt = Arc::new(AtomicBool::new(false));
    let mut replay = match (feeder, &failure) {
        (Some((trace, mut f)), None) => {
            let halt = Arc::clone(&halt);
            Some(
                std::thread::Builder::new()
                    .name("replay".into())
                    .spawn(move || {
                        let r = match laps {
                            Some(laps) => {
                                replay_laps(&trace, &mut f, laps, pps, lossy.as_deref(), &halt)
                            }
                            None => replay_trace(&trace, &mut f, pps, lossy.as_deref(), &halt),
                        };
                        (f, r)
                    })?,
            )
        }
        _ => None,
    };
    let mut fed: Option<dpdk::RingFeeder> = None;
    let mut clocks_at = std::time::Instant::now();
    while failure.is_none() && control() {
        if clocks_at.elapsed() >= CLOCK_EVERY {
            clocks_at = std::time::Instant::now();
            for p in &rig.ports {
                p.discipline_clocks();
            }
        }
        if replay.as_ref().is_some_and(|t| t.is_finished()) {
            let (f, r) = replay
                .take()
                .expect("checked above")
                .join()
                .map_err(|_| anyhow::anyhow!("the replay thread failed"))?;
            match r {
                // The rate the feeder reached: a benchmark asking for more measured the feeder.
                Ok((n, t)) => eprintln!(
                    "tstat-dpdk: replay: {n} frames offered in {:.3} s ({:.0} frames/s)",
                    t.as_secs_f64(),
                    n as f64 / t.as_secs_f64().max(1e-9)
                ),
                Err(e) => eprintln!("tstat-dpdk: replay: {e:#}"),
            }
            fed = Some(f);
        }
        if fed
            .as_ref()
            .is_some_and(|f| f.backlog().iter().all(|&b| b == 0))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // The replay stops first, while the cores still drain its queues (it may be waiting for
    // room in one), then the cores.
    halt.store(true, Ordering::Relaxed);
    if let Some(t) = replay.take() {
        let _ = t.join();
    }
    // Frames handed from core to core were captured: analysed before the cores stop.
    if let (Some(sp), None) = (&spreader, &failure) {
        if !sp.quiesce(DRAIN_PATIENCE) {
            eprintln!(
                "tstat-dpdk: warning: {} frame(s) still in the cores' hand-off rings after {DRAIN_PATIENCE:?}; not analysed",
                sp.in_flight()
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    for l in launched {
        l.wait();
    }
    drop(fed);
    if let Some(e) = failure {
        return Err(anyhow::Error::new(e).context("launching a worker lcore"));
    }
    let mut out = Vec::new();
    for s in slots {
        let v = s.lock().unwrap_or_else(|p| p.into_inner()).take();
        out.push(v.context("a worker lcore returned without its worker")?);
    }
    Ok(out)
}

/// Feeds the trace to the ring device, as fast as the cores take it or at `pps` packets a
/// second; `lossy`: as a NIC does, dropping a frame whose queue is full (counted per queue,
/// then the mbuf shortage) instead of waiting.
fn replay_trace(
    path: &std::path::Path,
    f: &mut dpdk::RingFeeder,
    pps: Option<f64>,
    lossy: Option<&Vec<AtomicU64>>,
    halt: &AtomicBool,
) -> anyhow::Result<(u64, Duration)> {
    let mut t = TraceFile::open(path)?;
    let mut pace = Pacer::new(pps);
    while let Some(b) = t.next_batch(512)? {
        for d in &b.packets {
            if halt.load(Ordering::Relaxed) {
                return Ok(pace.done());
            }
            pace.next();
            match lossy {
                Some(_) => {
                    f.offer(d.ts, d.link, b.data(d))?;
                }
                None => f.feed(d.ts, d.link, b.data(d))?,
            }
        }
        publish_missed(f, lossy);
    }
    Ok(pace.done())
}

/// Paces a replay at `pps` frames a second (none: as fast as it goes) and counts the frames.
struct Pacer {
    pps: Option<f64>,
    t0: std::time::Instant,
    sent: u64,
}

impl Pacer {
    fn new(pps: Option<f64>) -> Pacer {
        Pacer {
            pps,
            t0: std::time::Instant::now(),
            sent: 0,
        }
    }

    /// Waits until the next frame is due, and counts it.
    fn next(&mut self) {
        if let Some(pps) = self.pps {
            let due = Duration::from_secs_f64(self.sent as f64 / pps);
            if let Some(wait) = due.checked_sub(self.t0.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        self.sent += 1;
    }

    /// Frames sent and the time taken.
    fn done(&self) -> (u64, Duration) {
        (self.sent, self.t0.elapsed())
    }
}

/// Plays the trace `laps` times from pre-built mbufs, without copying a frame: lap k is the
/// trace with k XORed into the last two bytes of every IP address and its times shifted by k
/// times (the trace's span + 1 s), as `perf/gen/mktrace.py` makes copy k of the benchmark
/// trace; pacing and losses as [`replay_trace`].
fn replay_laps(
    path: &std::path::Path,
    f: &mut dpdk::RingFeeder,
    laps: u16,
    pps: Option<f64>,
    lossy: Option<&Vec<AtomicU64>>,
    halt: &AtomicBool,
) -> anyhow::Result<(u64, Duration)> {
    let mut t = TraceFile::open(path)?;
    let mut frames = Vec::new();
    let (mut first, mut last) = (
        None::<engine::time::Timestamp>,
        engine::time::Timestamp::ZERO,
    );
    while let Some(b) = t.next_batch(4096)? {
        for d in &b.packets {
            first = Some(first.map_or(d.ts, |f| f.min(d.ts)));
            last = last.max(d.ts);
            frames.push(f.prebuild(d.ts, d.link, b.data(d))?);
        }
    }
    let shift = last.0 - first.map_or(last.0, |t| t.0) + 1_000_000;
    let mut pace = Pacer::new(pps);
    for lap in 0..laps {
        for (i, p) in frames.iter_mut().enumerate() {
            if halt.load(Ordering::Relaxed) {
                return Ok(pace.done());
            }
            pace.next();
            f.play(p, lap, shift, lossy.is_some(), halt);
            if i % 512 == 511 {
                publish_missed(f, lossy);
            }
        }
    }
    publish_missed(f, lossy);
    Ok(pace.done())
}

/// What a lossy replay dropped so far, where the port counters read it.
fn publish_missed(f: &dpdk::RingFeeder, lossy: Option<&Vec<AtomicU64>>) {
    if let Some(drops) = lossy {
        for (d, m) in drops.iter().zip(f.missed()) {
            d.store(*m, Ordering::Relaxed);
        }
        if let Some(n) = drops.last() {
            n.store(f.nombuf(), Ordering::Relaxed);
        }
    }
}

/// A trace's number of frames and its largest frame (a replay's mbufs must hold it in one
/// segment).
fn trace_shape(path: &std::path::Path) -> anyhow::Result<(usize, usize)> {
    let mut t = TraceFile::open(path)?;
    let (mut frames, mut most) = (0, 0);
    while let Some(b) = t.next_batch(4096)? {
        frames += b.packets.len();
        most = b.packets.iter().fold(most, |m, d| m.max(d.caplen as usize));
    }
    Ok((frames, most))
}
