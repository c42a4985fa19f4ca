//! The per-core receive loop: poll a queue, hand each frame to the core's worker, exchange
//! DN-Hunter entries with the other cores, publish counters, stop on request.
//!
//! One [`Core`] runs per RX queue (a DPDK lcore, or a thread for libpcap and tests). It owns
//! its queue, its [`Worker`] (flow table, statistics, record ring producer) and its DNS snoop;
//! the only state shared with other cores is the stop flag, the counter snapshot (a mutex taken
//! with `try_lock` every few dozen polls, never per packet) and the DN-Hunter rings.
//!
//! DN-Hunter across cores: both directions of a DNS exchange hash to the same core, which
//! snoops the response, caches the name itself and pushes the entry into one SPSC ring per
//! other core; each core drains its incoming rings before every poll. A flow that starts on
//! another core within the same burst as the response (microseconds later) may miss the name:
//! the trace reader of `analyze` orders entries exactly, the live path to within a burst. A full
//! DNS ring drops the entry for that core and counts it.
//!
//! Time is an input here as everywhere: the loop never reads the clock for analysis; the
//! worker's timers follow packet timestamps.

use crate::l7::dns::{DnsEntry, DnsSnoop};
use crate::stats::CoreStats;
use crate::time::Timestamp;
use crate::wire::LinkType;
use crate::worker::{RecordSink, Worker};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One received frame, borrowed from the source for the duration of the callback.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Capture time.
    pub ts: Timestamp,
    /// The frame's bytes (first segment).
    pub data: &'a [u8],
    /// The NIC's RSS hash, when it gave one.
    pub hash: Option<u32>,
}

/// A source of frames owned by one core: a DPDK RX queue, a libpcap handle, a test vector.
pub trait PacketQueue {
    /// Receives at most one burst, calling `f` for each frame; returns how many frames it
    /// handled (given to `f`, handed to another core, or dropped): 0 means an idle poll.
    fn poll<F: FnMut(Frame<'_>)>(&mut self, f: F) -> usize;

    /// What the queue handed to other cores so far, when it spreads frames by flow in
    /// software (DPDK ports without RSS); zero otherwise.
    fn handoffs(&self) -> Handoffs {
        Handoffs::default()
    }
}

/// Frames a core received but did not analyse itself, because their flow belongs to another
/// core (software spreading of a port without RSS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handoffs {
    /// Frames handed to the core their flow hashes to.
    pub forwarded: u64,
    /// Frames dropped because that core's hand-off ring was full.
    pub dropped: u64,
}

/// What a core does when a poll finds nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdlePolicy {
    /// Poll again at once (a dedicated core, production).
    Busy,
    /// Yield the CPU (cores shared with other threads: tests, small machines).
    Yield,
    /// Sleep this long (an idle appliance that should not burn a core).
    Sleep(Duration),
}

/// A core's counters as last published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreSnapshot {
    /// The worker's counters.
    pub stats: CoreStats,
    /// TCP flows open now.
    pub tcp_open: u64,
    /// UDP flows open now.
    pub udp_open: u64,
    /// Capture time of the first frame (published as soon as it is seen: it names the first
    /// output directory).
    pub first: Timestamp,
    /// Capture time of the last frame.
    pub last: Timestamp,
    /// DN-Hunter entries sent to other cores.
    pub dns_sent: u64,
    /// DN-Hunter entries dropped because another core's DNS ring was full.
    pub dns_dropped: u64,
    /// Polls that found no frame.
    pub empty_polls: u64,
    /// Frames whose NIC hash sends them to another core under the default redirection table
    /// (`RETA[h % 128] = (h % 128) % cores`): always 0 unless the NIC's spreading differs from
    /// the symmetric hash's. The proof, in tests, that no flow is split across cores.
    pub foreign: u64,
    /// Frames this core received and handed to the core their flow hashes to (software
    /// spreading of a port without RSS).
    pub forwarded: u64,
    /// Frames this core dropped because the hand-off ring to their core was full.
    pub handoff_dropped: u64,
}

/// DN-Hunter rings between `n` cores: `links[i]` holds core i's producers (to every other
/// core) and consumers (from every other core).
pub fn dns_mesh(n: usize, depth: usize) -> Vec<DnsLinks> {
    let mut links: Vec<DnsLinks> = (0..n).map(|_| DnsLinks::default()).collect();
    for from in 0..n {
        for to in 0..n {
            if from != to {
                let (tx, rx) = rtrb::RingBuffer::new(depth);
                links[from].tx.push(tx);
                links[to].rx.push(rx);
            }
        }
    }
    links
}

/// One core's ends of the DN-Hunter mesh.
#[derive(Default)]
pub struct DnsLinks {
    tx: Vec<rtrb::Producer<Arc<DnsEntry>>>,
    rx: Vec<rtrb::Consumer<Arc<DnsEntry>>>,
}

/// What a stopped core gives back: its worker (to be finished at the trace's last time) and
/// the capture time of its last frame.
pub struct Stopped<S: RecordSink> {
    /// The worker, still holding its open flows.
    pub worker: Worker<S>,
    /// Capture time of the core's last frame (`Timestamp::ZERO` if it saw none).
    pub last: Timestamp,
    /// The final snapshot.
    pub snapshot: CoreSnapshot,
}

/// One receive core.
pub struct Core<Q: PacketQueue, S: RecordSink> {
    queue: Q,
    worker: Worker<S>,
    link: LinkType,
    dns: DnsLinks,
    stop: Arc<AtomicBool>,
    snapshot: Arc<Mutex<CoreSnapshot>>,
    idle: IdlePolicy,
    index: usize,
    cores: usize,
    histo: Option<Arc<HistoClock>>,
}

/// The histogram clock of a live capture, shared by every core: Tstat dumps its histograms
/// at the first packet more than `Max_Time_Step` after the previous dump, a moment only the
/// whole capture knows. The first packet any core sees starts the first interval; whoever
/// watches every core's packet time (the engine's main thread) ends intervals with
/// [`HistoClock::tick`]; each core ends its part between two polls.
#[derive(Debug, Default)]
pub struct HistoClock {
    start: std::sync::atomic::AtomicI64,
    end: std::sync::atomic::AtomicI64,
    epoch: std::sync::atomic::AtomicU64,
}

impl HistoClock {
    /// Notes a core's first packet time `ts` and returns the capture's first packet time so
    /// far (cores race: a later packet may be seen first, so this only ever decreases; the
    /// control plane takes the earliest start of an interval's parts).
    pub fn start(&self, ts: Timestamp) -> Timestamp {
        let mut cur = self.start.load(Ordering::Acquire);
        loop {
            if cur != 0 && cur <= ts.0 {
                return Timestamp(cur);
            }
            match self
                .start
                .compare_exchange(cur, ts.0, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return ts,
                Err(now) => cur = now,
            }
        }
    }

    /// The first packet time, if a core has seen one.
    pub fn started(&self) -> Option<Timestamp> {
        match self.start.load(Ordering::Acquire) {
            0 => None,
            t => Some(Timestamp(t)),
        }
    }

    /// Ends the current interval at packet time `end`.
    pub fn tick(&self, end: Timestamp) {
        self.end.store(end.0, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Intervals ended so far, and the end of the latest.
    fn epoch(&self) -> (u64, Timestamp) {
        let e = self.epoch.load(Ordering::Acquire);
        (e, Timestamp(self.end.load(Ordering::Acquire)))
    }
}

/// Polls between counter publications.
const PUBLISH_EVERY: u32 = 64;

impl<Q: PacketQueue, S: RecordSink> Core<Q, S> {
    /// A core polling `queue` (frames of link type `link`) into `worker`.
    pub fn new(
        queue: Q,
        worker: Worker<S>,
        link: LinkType,
        dns: DnsLinks,
        stop: Arc<AtomicBool>,
        snapshot: Arc<Mutex<CoreSnapshot>>,
        idle: IdlePolicy,
    ) -> Self {
        Core {
            queue,
            worker,
            link,
            dns,
            stop,
            snapshot,
            idle,
            index: 0,
            cores: 1,
            histo: None,
        }
    }

    /// Follows the capture's histogram clock (a worker with histograms on).
    pub fn with_histo_clock(mut self, clock: Arc<HistoClock>) -> Self {
        self.histo = Some(clock);
        self
    }

    /// Says which of `cores` cores this is (queue `index`), to count foreign frames.
    pub fn with_index(mut self, index: usize, cores: usize) -> Self {
        self.index = index;
        self.cores = cores.max(1);
        self
    }

    /// Runs until the stop flag is raised; gives back the worker with its open flows.
    pub fn run(self) -> Stopped<S> {
        let Core {
            mut queue,
            mut worker,
            link,
            mut dns,
            stop,
            snapshot,
            idle,
            index,
            cores,
            histo,
        } = self;
        let mut histo_started = false;
        let mut histo_epoch = 0u64;
        let mut snoop = DnsSnoop::default();
        let mut snap = CoreSnapshot::default();
        let mut polls = 0u32;
        let mut idle_run = 0u32;
        loop {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            for rx in &mut dns.rx {
                while let Ok(e) = rx.pop() {
                    worker.add_dns(e);
                }
            }
            if let Some(clock) = &histo {
                let (e, end) = clock.epoch();
                while histo_epoch < e {
                    // Every core ends every interval, one that saw no packet yet included,
                    // so that each interval gets a part from every core.
                    histo_epoch += 1;
                    if !histo_started {
                        worker.histo_start(clock.started().unwrap_or(end));
                        histo_started = true;
                    }
                    worker.histo_tick(end, end);
                }
            }
            let mut last = snap.last;
            let mut first = Timestamp::ZERO;
            let n = queue.poll(|f| {
                if first == Timestamp::ZERO {
                    first = f.ts;
                }
                if !histo_started {
                    if let Some(clock) = &histo {
                        worker.histo_start(clock.start(f.ts));
                        histo_started = true;
                    }
                }
                last = f.ts;
                if let Some(h) = f.hash {
                    if crate::hash::reta_queue(h, cores) != index {
                        snap.foreign += 1;
                    }
                }
                worker.sink_mut().clock(f.ts);
                if let Some(e) = worker.process_snooping(f.ts, link, f.data, &mut snoop) {
                    for tx in &mut dns.tx {
                        match tx.push(Arc::clone(&e)) {
                            Ok(()) => snap.dns_sent += 1,
                            Err(_) => snap.dns_dropped += 1,
                        }
                    }
                }
            });
            snap.last = last;
            let h = queue.handoffs();
            snap.forwarded = h.forwarded;
            snap.handoff_dropped = h.dropped;
            polls += 1;
            // (A poll may hand every frame to other cores: only a frame analysed here counts.)
            if first != Timestamp::ZERO && snap.first == Timestamp::ZERO {
                snap.first = first;
                publish(&snapshot, &mut snap, &mut worker, true);
            }
            if polls >= PUBLISH_EVERY {
                polls = 0;
                publish(&snapshot, &mut snap, &mut worker, false);
                // Runtime switches the consumer asks for apply to flows created from now on.
                if let Some(bits) = worker.sink().switches() {
                    if bits != worker.config().switch_bits() {
                        let cfg = Arc::new(worker.config().with_switch_bits(bits));
                        worker.set_config(cfg);
                    }
                }
            }
            if n == 0 {
                snap.empty_polls += 1;
                idle_run = idle_run.saturating_add(1);
                match idle {
                    IdlePolicy::Busy => std::hint::spin_loop(),
                    IdlePolicy::Yield => {
                        if idle_run > 64 {
                            std::thread::sleep(Duration::from_micros(50));
                        } else {
                            std::thread::yield_now();
                        }
                    }
                    IdlePolicy::Sleep(d) => std::thread::sleep(d),
                }
            } else {
                idle_run = 0;
            }
        }
        // Entries still in flight belong to flows this core may hold.
        for rx in &mut dns.rx {
            while let Ok(e) = rx.pop() {
                worker.add_dns(e);
            }
        }
        publish(&snapshot, &mut snap, &mut worker, true);
        Stopped {
            last: snap.last,
            snapshot: snap,
            worker,
        }
    }
}

fn publish<S: RecordSink>(
    shared: &Mutex<CoreSnapshot>,
    snap: &mut CoreSnapshot,
    worker: &mut Worker<S>,
    wait: bool,
) {
    let (tcp, udp) = worker.flow_counts();
    snap.stats.clone_from(worker.stats());
    snap.tcp_open = tcp as u64;
    snap.udp_open = udp as u64;
    worker.sink_mut().publish(snap);
    let guard = if wait {
        Some(shared.lock().unwrap_or_else(|p| p.into_inner()))
    } else {
        shared.try_lock().ok()
    };
    if let Some(mut g) = guard {
        g.clone_from(snap);
    }
}
