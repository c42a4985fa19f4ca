//! The libpcap side of `tstat-dpdk start` (`capture.driver = "pcap"`, `--driver pcap -i IFACE`):
//! live capture on a kernel interface, as Tstat's `-i IFACE` does, for hosts without a DPDK NIC.
//! It feeds the same per-core engine workers ([`engine::rx::Core`]) and the same control plane
//! as the DPDK driver; only the receive side differs.
//!
//! ```text
//!  interface ──libpcap (TPACKET_V3 ring, BPF filter)──> capture thread
//!      route(symmetric Toeplitz hash) → copy into a free slot of worker i's queue
//!      (full: drop + count) ──SPSC──> worker thread i (engine::rx::Core over a PcapQueue)
//!      slots cycle back through a second SPSC ring: no allocation per frame once warm
//! ```
//!
//! Owns: opening the interface (snaplen, promiscuous mode, kernel buffer, the BPF filter of
//! `pcap.filter_file` compiled for the interface's link type), the mapping of libpcap's link type to [`engine::wire::LinkType`], the
//! software dispatch to worker threads, and the port counters (`ps_drop`, `ps_ifdrop`, dispatch
//! drops) in the same JSON shape as the DPDK ports. It does not own the workers, their record
//! rings, the control socket or the final flush: those are [`crate::start`]'s, as for DPDK.
//!
//! One capture thread reads the interface, because a libpcap handle delivers frames in one
//! order and that order is what Tstat's single-threaded analysis follows. It routes each frame
//! with [`engine::dispatch::route`] — the routing of `analyze` — so both directions of a flow meet
//! on one worker, and copies it into a preallocated slot of that worker's queue; when the worker
//! has no free slot the frame is dropped and counted (`rx_nombuf` of the port, per worker in
//! `q_dropped`), so that a slow worker never stalls the capture of the others. Packet times are
//! libpcap's header times in µs (the kernel's ns truncated, as the engine reads ns traces).
//!
//! The capture thread looks at the stop flag between bursts of `pcap_dispatch`; a read blocked
//! in the kernel on a quiet interface (libpcap's block ring hands over nothing while a block is
//! empty) is woken by `pcap_breakloop`, which libpcap 1.10 turns into an eventfd wake-up. When
//! the capture stops, the workers first analyse what is queued (those frames were captured),
//! then stop, and `start` flushes every open flow as for DPDK. A libpcap error (the interface
//! went away) ends the capture the same way, as the end of a trace ends Tstat's, with a message.
//!
//! DN-Hunter across workers is exact, not approximate as over NIC queues: the DNS answer is
//! analysed by the worker its flow hashes to, which snoops it and sends the entry to every other
//! worker through the DN-Hunter mesh of [`engine::rx`]; the queues order those entries as the
//! trace reader of `analyze` orders them in-band. The capture thread numbers the answers it
//! queues (it recognises them with the snoop's own parser), and each queued frame carries how
//! many answers came before it. A worker analyses a frame only once every earlier answer has
//! been analysed *and* it has drained the mesh since (the check is made at the end of one poll;
//! the core drains the mesh before the next), and the worker owning an answer analyses it only
//! once every other worker has analysed everything queued to it before the answer and drained
//! every earlier entry. So each worker's cache receives each entry after every frame before the
//! answer and before every frame after it, in capture order, as Tstat's single cache does. The
//! price is a short barrier per DNS answer (a poll of every worker), none with one worker.

use crate::start::{Capture, CoreContext, CoreJob, RingSink, StartOptions};
use anyhow::{bail, Context};
use engine::hash::Toeplitz;
use engine::rx::{Frame, PacketQueue, Stopped};
use engine::time::Timestamp;
use engine::wire::{LinkType, L4};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Frames a worker's queue holds (its preallocated slots).
const QUEUE_FRAMES: usize = 4096;
/// Initial room of a slot: an Ethernet frame of the usual MTU. A larger frame (jumbo, or merged
/// by a receive offload) grows its slot once; the slot keeps that room.
const SLOT_BYTES: usize = 2048;
/// Frames a worker takes from its queue per poll (DPDK's usual burst).
const WORKER_BURST: usize = 32;
/// Frames the capture thread handles per `pcap_dispatch` call between looks at the stop flag.
const CAPTURE_BURST: usize = 512;
/// libpcap's read timeout: the kernel hands over a partly filled block after this long (an
/// empty one waits for a frame or `pcap_breakloop`).
const READ_TIMEOUT_MS: i32 = 50;
/// How often the capture thread asks the kernel for its drop counters.
const STATS_EVERY: Duration = Duration::from_millis(100);
/// How long the end of a capture waits for a capture thread blocked in the kernel.
const CAPTURE_JOIN_PATIENCE: Duration = Duration::from_secs(2);
/// How long the end of a capture waits for the workers to analyse what is queued, without
/// progress, before stopping them anyway.
const DRAIN_PATIENCE: Duration = Duration::from_secs(10);

/// Reads a BPF filter file as Tstat's `-f FILE` does (the whole file is the expression; line
/// breaks are blanks), also dropping `#` comments to the end of a line as `tcpdump -F` does
/// (`#` has no meaning in the filter language). An empty expression captures everything.
fn read_filter(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the BPF filter file", path.display()))?;
    if text.contains('\0') {
        bail!("{}: the BPF filter file holds a NUL byte", path.display());
    }
    let expr: Vec<&str> = text
        .lines()
        .map(|l| l.split_once('#').map_or(l, |(code, _)| code).trim())
        .filter(|l| !l.is_empty())
        .collect();
    Ok(expr.join(" "))
}

/// The engine's name for libpcap's link type (`pcap_datalink`), or why it cannot be analysed.
fn link_type(iface: &str, dlt: pcap::Linktype) -> anyhow::Result<LinkType> {
    // DLT and LINKTYPE numbers agree for every type the engine decodes, DLT_RAW (12, or 14 on
    // OpenBSD) included.
    match u32::try_from(dlt.0).map(LinkType::from_linktype) {
        Ok(LinkType::Unknown(_)) | Err(_) => bail!(
            "{iface}: link type {} (DLT {}) is not supported: the engine decodes Ethernet, Linux \
             cooked (SLL, SLL2), raw IP, IPv4, IPv6, BSD and OpenBSD loopback",
            dlt.get_name().unwrap_or_else(|_| "unknown".into()),
            dlt.0
        ),
        Ok(l) => Ok(l),
    }
}

/// An open, filtered interface.
struct Interface {
    cap: pcap::Capture<pcap::Active>,
    link: LinkType,
    link_name: String,
    filter: Option<String>,
}

fn open(opts: &StartOptions) -> anyhow::Result<Interface> {
    let cfg = &opts.cfg;
    let Some(iface) = cfg.interface.as_deref() else {
        bail!("the pcap driver needs an interface: pcap.interface in the file or -i IFACE");
    };
    // Read the filter before touching the interface: a bad file is the operator's to fix first.
    let filter = match &cfg.filter_file {
        Some(f) => Some((f, read_filter(f)?)),
        None => None,
    };
    let snaplen = i32::try_from(cfg.snaplen).unwrap_or(i32::MAX);
    let buffer = i32::try_from(cfg.pcap_buffer_bytes).unwrap_or(i32::MAX);
    let mut cap = pcap::Capture::from_device(iface)
        .and_then(|c| {
            c.snaplen(snaplen)
                .promisc(cfg.promiscuous)
                .buffer_size(buffer)
                .timeout(READ_TIMEOUT_MS)
                .open()
        })
        .map_err(|e| anyhow::anyhow!("{iface}: cannot capture: {}", pcap_message(&e)))?;
    let dlt = cap.get_datalink();
    let link = link_type(iface, dlt)?;
    let link_name = dlt.get_name().unwrap_or_else(|_| format!("DLT {}", dlt.0));
    if let Some((file, expr)) = &filter {
        cap.filter(expr, true).map_err(|e| {
            anyhow::anyhow!(
                "{}: BPF filter {expr:?} does not compile for {iface} (link type {link_name}): {}",
                file.display(),
                pcap_message(&e)
            )
        })?;
    }
    Ok(Interface {
        cap,
        link,
        link_name,
        filter: filter.map(|(_, e)| e),
    })
}

/// What libpcap said, without the binding's "libpcap error: " prefix.
fn pcap_message(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) if !s.is_empty() => s.clone(),
        other => other.to_string(),
    }
}

/// One frame on its way from the capture thread to a worker: a slot that cycles between the
/// two (its buffers keep their room).
struct Slot {
    ts: Timestamp,
    /// Position in the capture's dispatch order (frames queued so far, all workers).
    seq: u64,
    /// DNS answers queued before this frame.
    fences: u64,
    /// This frame is DNS answer number `fences`.
    fence: bool,
    /// With `fence`: per worker, `seq + 1` of the last frame queued to it before this one.
    need: Vec<u64>,
    data: Vec<u8>,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            ts: Timestamp::ZERO,
            seq: 0,
            fences: 0,
            fence: false,
            need: Vec::new(),
            data: Vec::with_capacity(SLOT_BYTES),
        }
    }
}

/// A counter on a cache line of its own: written by one thread, read by others.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Padded(AtomicU64);

/// The DN-Hunter ordering the queues enforce (see the module documentation).
struct Order {
    /// DNS answers analysed so far; they are analysed in dispatch order.
    done: AtomicU64,
    /// Per worker, `seq + 1` of the last frame it analysed.
    consumed: Vec<Padded>,
    /// Per worker, answers whose entries it has certainly drained from the mesh (what it saw
    /// of `done` at the end of a poll, published at the start of the next).
    synced: Vec<Padded>,
}

impl Order {
    fn new(n: usize) -> Order {
        Order {
            done: AtomicU64::new(0),
            consumed: (0..n).map(|_| Padded::default()).collect(),
            synced: (0..n).map(|_| Padded::default()).collect(),
        }
    }

    /// Whether every worker but `me` has analysed what was queued to it before the answer in
    /// `slot` and drained every earlier entry.
    fn caught_up(&self, me: usize, slot: &Slot) -> bool {
        slot.need.iter().enumerate().all(|(j, &need)| {
            j == me
                || (self.consumed[j].0.load(Ordering::Acquire) >= need
                    && self.synced[j].0.load(Ordering::Acquire) >= slot.fences)
        })
    }
}

/// A worker's end of its queue from the capture thread.
struct PcapQueue {
    index: usize,
    frames: rtrb::Consumer<Slot>,
    free: rtrb::Producer<Slot>,
    order: Arc<Order>,
    /// DNS answers this worker knows to be in its cache, or in its mesh rings before the
    /// core's last drain.
    seen: u64,
}

impl PacketQueue for PcapQueue {
    fn poll<F: FnMut(Frame<'_>)>(&mut self, mut f: F) -> usize {
        let order = &*self.order;
        // What this queue saw at the end of its last poll was seen before the core drained the
        // mesh, between that poll and this one.
        order.synced[self.index]
            .0
            .store(self.seen, Ordering::Release);
        let mut n = 0;
        while n < WORKER_BURST {
            let Ok(slot) = self.frames.peek() else {
                break;
            };
            if slot.fences > self.seen || (slot.fence && !order.caught_up(self.index, slot)) {
                break;
            }
            let Ok(slot) = self.frames.pop() else {
                break;
            };
            f(Frame {
                ts: slot.ts,
                data: &slot.data,
                hash: None,
            });
            order.consumed[self.index]
                .0
                .store(slot.seq + 1, Ordering::Release);
            if slot.fence {
                // The core snooped the answer into its own cache and sent the entry to the
                // others' rings within `f`.
                self.seen = slot.fences + 1;
                order.done.store(self.seen, Ordering::Release);
            }
            // The return ring holds every slot: never full.
            let _ = self.free.push(slot);
            n += 1;
        }
        self.seen = self.seen.max(order.done.load(Ordering::Acquire));
        n
    }
}

/// Counters of the interface, written by the capture thread, read by `port_stats`.
#[derive(Default)]
struct PortCounters {
    /// Frames libpcap delivered.
    ipackets: AtomicU64,
    /// Their bytes on the wire.
    ibytes: AtomicU64,
    /// libpcap's `ps_recv`, `ps_drop` and `ps_ifdrop`, widened to 64 bits.
    ps_recv: AtomicU64,
    ps_drop: AtomicU64,
    ps_ifdrop: AtomicU64,
    /// Per worker: frames queued to it, frames dropped because its queue was full.
    queued: Vec<AtomicU64>,
    dropped: Vec<AtomicU64>,
    /// Per worker: `seq + 1` of the last frame queued to it.
    tail: Vec<AtomicU64>,
    /// Why the capture ended early, if it did.
    error: Mutex<Option<String>>,
}

/// The capture thread's state: routing, the producer ends of the queues, and its counters
/// (published after every burst).
struct Dispatcher {
    n: usize,
    link: LinkType,
    hasher: &'static Toeplitz,
    to: Vec<rtrb::Producer<Slot>>,
    free: Vec<rtrb::Consumer<Slot>>,
    seq: u64,
    fences: u64,
    last: Vec<u64>,
    spread: usize,
    ipackets: u64,
    ibytes: u64,
    queued: Vec<u64>,
    dropped: Vec<u64>,
    /// libpcap's 32-bit counters as last read, and their 64-bit sums.
    stat_raw: [u32; 3],
    stat: [u64; 3],
}

impl Dispatcher {
    fn dispatch(&mut self, p: &pcap::Packet<'_>) {
        let data = p.data;
        self.ipackets += 1;
        self.ibytes += u64::from(p.header.len);
        let ts = header_time(p.header);
        let r = engine::dispatch::route(self.hasher, self.link, data);
        let w = match r.hash {
            Some(h) => h as usize % self.n,
            None => {
                // No flow: any worker, only so that the frame is counted once.
                self.spread = (self.spread + 1) % self.n;
                self.spread
            }
        };
        let fence = self.n > 1 && r.dns && is_answer(self.link, data);
        let Ok(mut slot) = self.free[w].pop() else {
            self.dropped[w] += 1;
            return;
        };
        slot.ts = ts;
        slot.seq = self.seq;
        slot.fences = self.fences;
        slot.fence = fence;
        if fence {
            slot.need.clear();
            slot.need.extend_from_slice(&self.last);
        }
        slot.data.clear();
        slot.data.extend_from_slice(data);
        if self.to[w].push(slot).is_err() {
            // Cannot happen: a queue holds as many frames as there are slots.
            self.dropped[w] += 1;
            return;
        }
        self.seq += 1;
        self.last[w] = self.seq;
        if fence {
            self.fences += 1;
        }
        self.queued[w] += 1;
    }

    fn publish(&self, c: &PortCounters) {
        c.ipackets.store(self.ipackets, Ordering::Relaxed);
        c.ibytes.store(self.ibytes, Ordering::Relaxed);
        for w in 0..self.n {
            c.queued[w].store(self.queued[w], Ordering::Relaxed);
            c.dropped[w].store(self.dropped[w], Ordering::Relaxed);
            c.tail[w].store(self.last[w], Ordering::Relaxed);
        }
        c.ps_recv.store(self.stat[0], Ordering::Relaxed);
        c.ps_drop.store(self.stat[1], Ordering::Relaxed);
        c.ps_ifdrop.store(self.stat[2], Ordering::Relaxed);
    }

    /// Adds what libpcap counted since the last read (its counters are 32 bits and wrap).
    fn read_stats(&mut self, cap: &mut pcap::Capture<pcap::Active>) {
        if let Ok(s) = cap.stats() {
            for (i, v) in [s.received, s.dropped, s.if_dropped]
                .into_iter()
                .enumerate()
            {
                self.stat[i] += u64::from(v.wrapping_sub(self.stat_raw[i]));
                self.stat_raw[i] = v;
            }
        }
    }
}

/// A libpcap header's capture time (µs resolution).
// `time_t` and `suseconds_t` are `i64` on 64-bit targets only: the conversion is needed
// elsewhere.
#[allow(clippy::useless_conversion)]
fn header_time(h: &pcap::PacketHeader) -> Timestamp {
    Timestamp::from_sec_usec(i64::from(h.ts.tv_sec), i64::from(h.ts.tv_usec))
}

/// Whether a frame is a DNS answer the DN-Hunter snoop turns into a cache entry: UDP to or
/// from port 53 that the snoop's own parser accepts ([`engine::l7::dns::DnsSnoop::observe`]
/// produces an entry exactly then).
fn is_answer(link: LinkType, frame: &[u8]) -> bool {
    let Ok(p) = engine::wire::decode(link, frame) else {
        return false;
    };
    match &p.l4 {
        L4::Udp(u) if u.src_port == 53 || u.dst_port == 53 => {
            engine::l7::dns::parse_response(u.payload, p.src.is_ipv6()).is_some()
        }
        _ => false,
    }
}

/// Reads the interface until `stop`, or until libpcap fails (the reason is returned).
fn capture_loop(
    mut cap: pcap::Capture<pcap::Active>,
    d: &mut Dispatcher,
    stop: &AtomicBool,
    counters: &PortCounters,
) -> Option<String> {
    let mut stats_at = Instant::now();
    let mut failure = None;
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = cap.dispatch(Some(CAPTURE_BURST), |p| d.dispatch(&p)) {
            // pcap_breakloop makes the call fail: that is the stop, not a fault.
            if !stop.load(Ordering::Relaxed) {
                failure = Some(pcap_message(&e));
            }
            break;
        }
        if stats_at.elapsed() >= STATS_EVERY {
            stats_at = Instant::now();
            d.read_stats(&mut cap);
        }
        d.publish(counters);
    }
    d.read_stats(&mut cap);
    d.publish(counters);
    failure
}

/// Everything the runner needs besides the jobs.
struct Rig {
    iface: String,
    interface: Interface,
    dispatcher: Dispatcher,
    counters: Arc<PortCounters>,
    order: Arc<Order>,
}

/// Opens the interface and builds one job per worker over its queue from the capture thread.
pub(crate) fn capture(opts: &StartOptions, ctx: CoreContext) -> anyhow::Result<Capture> {
    if let Some(trace) = &opts.replay {
        bail!(
            "--replay {}: replaying a trace needs the dpdk driver (or use `tstat-dpdk analyze`)",
            trace.display()
        );
    }
    let n = usize::from(opts.cfg.workers);
    let interface = open(opts)?;
    let iface = opts.cfg.interface.clone().unwrap_or_default();
    let order = Arc::new(Order::new(n));
    let mut to = Vec::new();
    let mut free = Vec::new();
    let mut queues = Vec::new();
    for index in 0..n {
        let (tx, frames) = rtrb::RingBuffer::<Slot>::new(QUEUE_FRAMES);
        let (mut back, spare) = rtrb::RingBuffer::<Slot>::new(QUEUE_FRAMES);
        for _ in 0..QUEUE_FRAMES {
            if back.push(Slot::new()).is_err() {
                break;
            }
        }
        to.push(tx);
        free.push(spare);
        queues.push(PcapQueue {
            index,
            frames,
            free: back,
            order: Arc::clone(&order),
            seen: 0,
        });
    }
    let counters = Arc::new(PortCounters {
        queued: (0..n).map(|_| AtomicU64::new(0)).collect(),
        dropped: (0..n).map(|_| AtomicU64::new(0)).collect(),
        tail: (0..n).map(|_| AtomicU64::new(0)).collect(),
        ..PortCounters::default()
    });
    let dispatcher = Dispatcher {
        n,
        link: interface.link,
        hasher: engine::hash::symmetric(),
        to,
        free,
        seq: 0,
        fences: 0,
        last: vec![0; n],
        spread: 0,
        ipackets: 0,
        ibytes: 0,
        queued: vec![0; n],
        dropped: vec![0; n],
        stat_raw: [0; 3],
        stat: [0; 3],
    };
    tracing::info!(
        interface = %iface,
        link = %interface.link_name,
        workers = n,
        filter = interface.filter.as_deref().unwrap_or(""),
        "pcap capture open"
    );
    let jobs = ctx.jobs(queues, interface.link);
    let stats = Arc::clone(&counters);
    let (name, link_name) = (iface.clone(), interface.link_name.clone());
    let filter = interface.filter.clone();
    let port_stats = Box::new(move || vec![port_json(&name, &link_name, &filter, &stats)]);
    let rig = Rig {
        iface,
        interface,
        dispatcher,
        counters,
        order,
    };
    let runner = Box::new(
        move |jobs: Vec<CoreJob>, control: &mut dyn FnMut() -> bool, stop: Arc<AtomicBool>| {
            run_threads(rig, jobs, control, stop)
        },
    );
    Ok(Capture {
        jobs,
        port_stats,
        runner,
    })
}

/// The interface's counters in the shape of a DPDK port's: `imissed` is libpcap's `ps_drop`
/// (the kernel buffer was full), `ierrors` its `ps_ifdrop` (the interface or its driver
/// dropped), `rx_nombuf` the frames dropped because their worker's queue had no free slot
/// (per worker in `q_dropped`); `ipackets` counts every frame libpcap delivered, those
/// included.
fn port_json(
    name: &str,
    link: &str,
    filter: &Option<String>,
    c: &PortCounters,
) -> serde_json::Value {
    let load =
        |v: &[AtomicU64]| -> Vec<u64> { v.iter().map(|a| a.load(Ordering::Relaxed)).collect() };
    let dropped = load(&c.dropped);
    let mut v = serde_json::json!({
        "port": name,
        "driver": "pcap",
        "link": link,
        "filter": filter,
        "ipackets": c.ipackets.load(Ordering::Relaxed),
        "ibytes": c.ibytes.load(Ordering::Relaxed),
        "imissed": c.ps_drop.load(Ordering::Relaxed),
        "ierrors": c.ps_ifdrop.load(Ordering::Relaxed),
        "rx_nombuf": dropped.iter().sum::<u64>(),
        "ps_recv": c.ps_recv.load(Ordering::Relaxed),
        "q_ipackets": load(&c.queued),
        "q_dropped": dropped,
    });
    if let Some(e) = c.error.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
        v["error"] = e.clone().into();
    }
    v
}

fn run_threads(
    rig: Rig,
    jobs: Vec<CoreJob>,
    control: &mut dyn FnMut() -> bool,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Vec<Stopped<RingSink>>> {
    let Rig {
        iface,
        interface,
        mut dispatcher,
        counters,
        order,
    } = rig;
    let mut workers = Vec::new();
    for (i, job) in jobs.into_iter().enumerate() {
        match std::thread::Builder::new()
            .name(format!("pcap-worker-{i}"))
            .spawn(job)
        {
            Ok(h) => workers.push(h),
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                for h in workers {
                    let _ = h.join();
                }
                return Err(anyhow::Error::new(e).context("spawning a worker thread"));
            }
        }
    }
    let mut cap = interface.cap;
    let breaker = cap.breakloop_handle();
    let capture_stop = Arc::new(AtomicBool::new(false));
    let thread_stop = Arc::clone(&capture_stop);
    let thread_counters = Arc::clone(&counters);
    let reader = std::thread::Builder::new()
        .name("pcap-capture".into())
        .spawn(move || capture_loop(cap, &mut dispatcher, &thread_stop, &thread_counters));
    let reader = match reader {
        Ok(r) => r,
        Err(e) => {
            stop.store(true, Ordering::Relaxed);
            for h in workers {
                let _ = h.join();
            }
            return Err(anyhow::Error::new(e).context("spawning the capture thread"));
        }
    };
    while !reader.is_finished() && control() {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Stop reading: the flag ends the loop between bursts, pcap_breakloop a read blocked in
    // the kernel on a quiet interface.
    capture_stop.store(true, Ordering::Relaxed);
    let t0 = Instant::now();
    while !reader.is_finished() && t0.elapsed() < CAPTURE_JOIN_PATIENCE {
        breaker.breakloop();
        control();
        std::thread::sleep(Duration::from_millis(5));
    }
    if reader.is_finished() {
        match reader.join() {
            Ok(Some(failure)) => {
                eprintln!("tstat-dpdk: pcap: {iface}: {failure}; capture stopped");
                *counters.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(failure);
            }
            Ok(None) => {}
            Err(_) => eprintln!("tstat-dpdk: pcap: {iface}: the capture thread failed"),
        }
    } else {
        // A libpcap that cannot be woken (older than 1.10): the thread ends with the process.
        eprintln!("tstat-dpdk: pcap: {iface}: the capture thread does not return; going on");
    }
    // Let the workers analyse what is queued (the frames were captured), then stop them.
    let tails: Vec<u64> = counters
        .tail
        .iter()
        .map(|t| t.load(Ordering::Relaxed))
        .collect();
    // How far behind the capture the workers are, in dispatch order: 0 once every queue is
    // empty, smaller at each frame analysed.
    let backlog = || -> u64 {
        tails
            .iter()
            .zip(&order.consumed)
            .map(|(&t, c)| t.saturating_sub(c.0.load(Ordering::Acquire)))
            .sum()
    };
    let mut left = backlog();
    let mut progress = Instant::now();
    while left > 0 && progress.elapsed() < DRAIN_PATIENCE {
        control();
        std::thread::sleep(Duration::from_millis(5));
        let now = backlog();
        if now < left {
            progress = Instant::now();
        }
        left = now;
    }
    stop.store(true, Ordering::Relaxed);
    let mut out = Vec::new();
    let mut failed = false;
    for h in workers {
        match h.join() {
            Ok(s) => out.push(s),
            Err(_) => failed = true,
        }
    }
    if failed {
        bail!("a pcap worker thread failed");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_files_read_as_tstat_and_tcpdump_do() {
        let dir = std::env::temp_dir().join(format!("tstat-pcap-filter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("f.bpf");
        std::fs::write(
            &f,
            "# only the web\ntcp port 80   # HTTP\n\n  or udp port 53\n",
        )
        .unwrap();
        assert_eq!(read_filter(&f).unwrap(), "tcp port 80 or udp port 53");
        std::fs::write(&f, "").unwrap();
        assert_eq!(read_filter(&f).unwrap(), "");
        std::fs::write(&f, "tcp\0").unwrap();
        assert!(read_filter(&f).unwrap_err().to_string().contains("NUL"));
        let e = read_filter(&dir.join("missing")).unwrap_err();
        assert!(
            format!("{e:#}").contains("missing: cannot read the BPF filter file"),
            "{e:#}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn link_types_map_or_are_refused_by_name() {
        assert_eq!(
            link_type("x", pcap::Linktype(1)).unwrap(),
            LinkType::Ethernet
        );
        assert_eq!(
            link_type("x", pcap::Linktype(113)).unwrap(),
            LinkType::LinuxSll
        );
        assert_eq!(
            link_type("x", pcap::Linktype(276)).unwrap(),
            LinkType::LinuxSll2
        );
        assert_eq!(link_type("x", pcap::Linktype(12)).unwrap(), LinkType::RawIp);
        assert_eq!(link_type("x", pcap::Linktype(0)).unwrap(), LinkType::Null);
        // DLT_IEEE802_11_RADIO
        let e = link_type("wlan0", pcap::Linktype(127))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("wlan0") && e.contains("IEEE802_11_RADIO") && e.contains("127"),
            "{e}"
        );
    }

    type Ends = Vec<(rtrb::Producer<Slot>, rtrb::Consumer<Slot>)>;

    /// `n` queues over one [`Order`], and the capture's ends of them.
    fn queues(n: usize) -> (Vec<PcapQueue>, Ends) {
        let order = Arc::new(Order::new(n));
        let mut ends = Vec::new();
        let mut queues = Vec::new();
        for index in 0..n {
            let (tx, frames) = rtrb::RingBuffer::<Slot>::new(8);
            let (back, spare) = rtrb::RingBuffer::<Slot>::new(8);
            ends.push((tx, spare));
            queues.push(PcapQueue {
                index,
                frames,
                free: back,
                order: Arc::clone(&order),
                seen: 0,
            });
        }
        (queues, ends)
    }

    fn slot(seq: u64, fences: u64, need: Option<Vec<u64>>) -> Slot {
        Slot {
            ts: Timestamp(seq as i64),
            seq,
            fences,
            fence: need.is_some(),
            need: need.unwrap_or_default(),
            data: vec![seq as u8],
        }
    }

    /// One poll of a queue, as a core runs it: the frames analysed.
    fn poll(q: &mut PcapQueue) -> Vec<u8> {
        let mut v = Vec::new();
        q.poll(|f| v.push(f.data[0]));
        v
    }

    const NONE: Vec<u8> = Vec::new();

    /// Two workers and a queue each, driven by hand: the queues let an answer's entry reach
    /// every worker exactly between the frames before and after it.
    #[test]
    fn queues_order_dns_answers_as_the_capture_did() {
        let (mut q, mut ends) = queues(2);
        // Capture order: 0 → w1, 1 (the answer, w0), 2 → w1, 3 → w0.
        ends[1].0.push(slot(0, 0, None)).unwrap();
        ends[0].0.push(slot(1, 0, Some(vec![0, 1]))).unwrap();
        ends[1].0.push(slot(2, 1, None)).unwrap();
        ends[0].0.push(slot(3, 1, None)).unwrap();
        // The answer waits for worker 1 to analyse frame 0.
        assert_eq!(poll(&mut q[0]), NONE);
        // Worker 1 takes frame 0 but not frame 2, which comes after the answer.
        assert_eq!(poll(&mut q[1]), vec![0]);
        assert_eq!(poll(&mut q[1]), NONE);
        // Now worker 0 analyses the answer and what follows it on its own queue.
        assert_eq!(poll(&mut q[0]), vec![1, 3]);
        // Worker 1 saw the answer done at the end of a poll, drains, and only then goes on.
        assert_eq!(poll(&mut q[1]), NONE);
        assert_eq!(poll(&mut q[1]), vec![2]);
        // Every slot came back.
        assert_eq!(ends[0].1.slots(), 2);
        assert_eq!(ends[1].1.slots(), 2);
    }

    /// Three workers: an answer waits until every other worker has drained the entry of the
    /// answer before it, so that one that saw no frame in between still receives the two in
    /// capture order (they come from two different rings).
    #[test]
    fn an_answer_waits_for_every_worker_to_drain_the_one_before() {
        let (mut q, mut ends) = queues(3);
        // Capture order: 0 (answer, w0), 1 (answer, w1), 2 → w2.
        ends[0].0.push(slot(0, 0, Some(vec![0, 0, 0]))).unwrap();
        ends[1].0.push(slot(1, 1, Some(vec![1, 0, 0]))).unwrap();
        ends[2].0.push(slot(2, 2, None)).unwrap();
        assert_eq!(poll(&mut q[0]), vec![0]);
        // Worker 1 sees the first answer done at the end of this poll ...
        assert_eq!(poll(&mut q[1]), NONE);
        // ... but must wait for workers 0 and 2 to have polled since (drained the entry).
        assert_eq!(poll(&mut q[1]), NONE);
        assert_eq!(poll(&mut q[2]), NONE);
        assert_eq!(poll(&mut q[2]), NONE);
        assert_eq!(poll(&mut q[1]), NONE);
        assert_eq!(poll(&mut q[0]), NONE);
        assert_eq!(poll(&mut q[1]), vec![1]);
        // Worker 2's frame comes after both answers.
        assert_eq!(poll(&mut q[2]), NONE);
        assert_eq!(poll(&mut q[2]), vec![2]);
    }
}
