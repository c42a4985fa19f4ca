//! What one core polls: queue i of every port, and — for ports that do not spread flows over
//! queues themselves — the software spreading that sends each frame to the core its flow
//! belongs to.
//!
//! A port with RSS (a NIC programmed with the symmetric key) already delivers both directions of
//! a flow to one queue, and queue i feeds core i: its frames are analysed where they arrive
//! ([`CoreQueue`]'s direct queues). A port without RSS (`net_pcap`, memif, vhost, af_packet whose
//! fanout rolls flows over, or any NIC whose spreading cannot be made symmetric) hands frames to
//! queues flow-blind, or has a single queue: each core that polls such a queue hashes every frame
//! with the symmetric Toeplitz hash ([`crate::dispatch::route`], the routing of `analyze`), maps
//! the hash to a core with the default redirection table ([`crate::hash::reta_queue`], the core
//! a NIC would have chosen), analyses the frame itself when it is its own, and otherwise moves
//! the mbuf — not a copy — through a single-producer single-consumer ring to that core. Every
//! core drains the rings from the others before it polls its own queues. A full ring drops the
//! frame (its mbuf is freed) and counts it, so one slow core never stalls the others.
//!
//! Ordering: the frames of one flow that arrive on one queue stay in order (one ring per pair
//! of cores, FIFO); frames a flow-blind device spreads over several queues were already
//! reordered by the device. A frame keeps the capture time its receiving queue gave it.
//!
//! Stopping: frames in the rings were captured and must be analysed. [`Spreader::quiesce`]
//! first holds every core's receiving (no new frame enters a ring), waits until each core has
//! finished a poll under the hold, then until every ring is drained; only then may the cores
//! be stopped. The counters behind it are published once per poll, never per frame.

use super::mbuf::free_bulk;
use super::port::BURST;
use super::{prefetch, sys, Mbuf, RxQueue};
use crate::hash::{reta_queue, Toeplitz};
use crate::rx::{Frame, Handoffs, PacketQueue};
use crate::time::Timestamp;
use crate::wire::LinkType;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Deepest hand-off ring: an RX queue's usual depth (a core descheduled for a moment loses no
/// more to its hand-off rings than to its own queue).
pub const MAX_HANDOFF_DEPTH: usize = 4096;
/// Shallowest hand-off ring.
pub const MIN_HANDOFF_DEPTH: usize = 256;

/// One frame moving to the core its flow belongs to.
struct Handoff {
    mbuf: Mbuf,
    ts: Timestamp,
    hash: Option<u32>,
}

/// The counters the cores of a spreading capture share: what each core put in each other
/// core's ring and what each took out, and the hold of [`Spreader::quiesce`].
#[derive(Debug)]
pub struct Spreader {
    cores: usize,
    /// Row length of the matrices, a multiple of 8 counters (a cache line's worth), so that
    /// the cores' rows mostly sit on lines of their own (the counters are written once a
    /// poll, and only when they changed).
    stride: usize,
    hold: AtomicBool,
    /// `sent[s * stride + t]`: frames core s put in core t's ring.
    sent: Vec<AtomicU64>,
    /// `taken[t * stride + s]`: frames core t took from core s's ring.
    taken: Vec<AtomicU64>,
    /// `held[s * 8]`: core s finished a poll that began under the hold.
    held: Vec<AtomicBool>,
}

impl Spreader {
    fn new(cores: usize) -> Spreader {
        let stride = cores.next_multiple_of(8);
        Spreader {
            cores,
            stride,
            hold: AtomicBool::new(false),
            sent: (0..cores * stride).map(|_| AtomicU64::new(0)).collect(),
            taken: (0..cores * stride).map(|_| AtomicU64::new(0)).collect(),
            held: (0..cores * 8).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// Frames sitting in the rings now (handed off, not yet taken), by the last counters the
    /// cores published.
    pub fn in_flight(&self) -> u64 {
        let mut n = 0u64;
        for s in 0..self.cores {
            for t in 0..self.cores {
                let sent = self.sent[s * self.stride + t].load(Ordering::Acquire);
                let taken = self.taken[t * self.stride + s].load(Ordering::Acquire);
                n += sent.saturating_sub(taken);
            }
        }
        n
    }

    /// Holds every core's receiving: from their next poll on, the cores only drain the rings.
    pub fn hold(&self) {
        self.hold.store(true, Ordering::Release);
    }

    /// Holds every core's receiving and waits, at most `patience`, until no frame is left in
    /// any ring: then every frame received has been analysed (or counted as dropped), and the
    /// cores can be stopped. Returns false if the patience ran out (a core stuck or gone).
    pub fn quiesce(&self, patience: Duration) -> bool {
        self.hold();
        let t0 = Instant::now();
        loop {
            let all_held = (0..self.cores).all(|c| self.held[c * 8].load(Ordering::Acquire));
            if all_held && self.in_flight() == 0 {
                return true;
            }
            if t0.elapsed() > patience {
                return false;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// Core i's receive side: queue i of every port with RSS (analysed here), queue i of every
/// port without (spread by flow over the cores), and the rings from the other cores.
pub struct CoreQueue {
    index: usize,
    cores: usize,
    direct: Vec<RxQueue>,
    spread: Vec<RxQueue>,
    link: LinkType,
    hasher: &'static Toeplitz,
    /// `to[t]`: the ring to core t (none to itself, none when this core spreads nothing).
    to: Vec<Option<rtrb::Producer<Handoff>>>,
    /// `(s, ring)`: the ring from core s.
    from: Vec<(usize, rtrb::Consumer<Handoff>)>,
    sent: Vec<u64>,
    taken: Vec<u64>,
    dropped: u64,
    dirty: bool,
    shared: Option<Arc<Spreader>>,
    depth: usize,
}

impl CoreQueue {
    /// Core queues over `ports[c] = (direct, spread)`: for core c, the RX queues (one per port)
    /// it analyses in place and those whose frames it spreads by flow. Rings are made only
    /// from cores that spread; with none, the result is plain polling and no [`Spreader`].
    /// Full rings should hold about `mbuf_budget` mbufs in all (a share of the mempool, so
    /// that one stalled core cannot starve every queue of buffers): each ring gets that
    /// budget's share, a power of two from [`MIN_HANDOFF_DEPTH`] to [`MAX_HANDOFF_DEPTH`] —
    /// the floor can exceed the budget when many cores spread (16 spreading cores: 240 rings
    /// of 256).
    pub fn build(
        ports: Vec<(Vec<RxQueue>, Vec<RxQueue>)>,
        link: LinkType,
        mbuf_budget: usize,
    ) -> (Vec<CoreQueue>, Option<Arc<Spreader>>) {
        let cores = ports.len();
        let spreading: Vec<bool> = ports.iter().map(|(_, s)| !s.is_empty()).collect();
        let rings = spreading.iter().filter(|&&s| s).count() * cores.saturating_sub(1);
        let depth = handoff_depth(mbuf_budget, rings);
        let shared =
            (cores > 1 && spreading.iter().any(|&s| s)).then(|| Arc::new(Spreader::new(cores)));
        let mut to: Vec<Vec<Option<rtrb::Producer<Handoff>>>> = (0..cores)
            .map(|_| (0..cores).map(|_| None).collect())
            .collect();
        let mut from: Vec<Vec<(usize, rtrb::Consumer<Handoff>)>> =
            (0..cores).map(|_| Vec::new()).collect();
        if shared.is_some() {
            for s in (0..cores).filter(|&s| spreading[s]) {
                for t in (0..cores).filter(|&t| t != s) {
                    let (p, c) = rtrb::RingBuffer::new(depth);
                    to[s][t] = Some(p);
                    from[t].push((s, c));
                }
            }
        }
        let queues = ports
            .into_iter()
            .zip(to)
            .zip(from)
            .enumerate()
            .map(|(index, (((mut direct, spread), to), from))| CoreQueue {
                index,
                cores,
                // With one core every frame is this core's: nothing to spread.
                spread: if shared.is_some() {
                    spread
                } else {
                    direct.extend(spread);
                    Vec::new()
                },
                direct,
                link,
                hasher: crate::hash::symmetric(),
                to,
                from,
                sent: vec![0; cores],
                taken: vec![0; cores],
                dropped: 0,
                dirty: false,
                shared: shared.clone(),
                depth,
            })
            .collect();
        (queues, shared)
    }

    /// Frames each hand-off ring to another core holds.
    pub fn handoff_depth(&self) -> usize {
        self.depth
    }
}

/// The depth of each of `rings` hand-off rings sharing `mbuf_budget` mbufs.
fn handoff_depth(mbuf_budget: usize, rings: usize) -> usize {
    let share = mbuf_budget / rings.max(1);
    let pow2 = if share == 0 { 0 } else { 1 << share.ilog2() };
    pow2.clamp(MIN_HANDOFF_DEPTH, MAX_HANDOFF_DEPTH)
}

impl PacketQueue for CoreQueue {
    #[inline]
    fn poll<F: FnMut(Frame<'_>)>(&mut self, mut f: F) -> usize {
        let CoreQueue {
            index,
            cores,
            direct,
            spread,
            link,
            hasher,
            to,
            from,
            sent,
            taken,
            dropped,
            dirty,
            shared,
            depth: _,
        } = self;
        let (index, cores, link, hasher) = (*index, *cores, *link, *hasher);
        let mut n = 0;
        // Frames the other cores handed over first: they were received earlier.
        for (s, rx) in from.iter_mut() {
            let k = rx.slots().min(BURST);
            if k == 0 {
                continue;
            }
            let Ok(chunk) = rx.read_chunk(k) else {
                continue;
            };
            // The headers were last written on the core that received them: ask for all of
            // them at once (see RxQueue::poll_split); the data lines are already in that
            // core's cache, one transfer each.
            let (a, b) = chunk.as_slices();
            for h in a.iter().chain(b) {
                prefetch(h.mbuf.as_ptr().cast::<u8>());
            }
            let mut done = [std::ptr::null_mut::<sys::rte_mbuf>(); BURST];
            for (slot, h) in done.iter_mut().zip(chunk) {
                f(Frame {
                    ts: h.ts,
                    data: h.mbuf.data(),
                    hash: h.hash,
                });
                *slot = h.mbuf.into_raw();
            }
            // SAFETY: each non-null entry is an mbuf popped above whose ownership into_raw
            // gave up, used no more; the rest are null.
            unsafe { free_bulk(&mut done[..k]) };
            taken[*s] += k as u64;
            n += k;
            *dirty = true;
        }
        let hold = shared
            .as_ref()
            .is_some_and(|sh| sh.hold.load(Ordering::Acquire));
        if !hold {
            for q in direct.iter_mut() {
                n += q.poll(&mut f);
            }
            // The software hash of the frame `keep` just routed, for `give`.
            let routed = std::cell::Cell::new(None);
            for q in spread.iter_mut() {
                n += q.poll_split(
                    |frame| {
                        let soft = crate::dispatch::route(hasher, link, frame.data).hash;
                        routed.set(soft);
                        let core = match soft {
                            Some(h) => reta_queue(h, cores),
                            // No flow: analysed (and counted) where it arrived.
                            None => index,
                        };
                        if core == index {
                            // The hash that placed the frame is the software one.
                            f(Frame {
                                hash: soft.or(frame.hash),
                                ..frame
                            });
                            None
                        } else {
                            Some(core)
                        }
                    },
                    |core, mbuf, ts, _| {
                        // The receiving core sees the hash that sent the frame to it.
                        let hash = routed.get();
                        *dirty = true;
                        match to.get_mut(core).and_then(Option::as_mut) {
                            // A full ring gives the hand-off back: dropped here, mbuf freed.
                            Some(ring) => match ring.push(Handoff { mbuf, ts, hash }) {
                                Ok(()) => sent[core] += 1,
                                Err(_) => *dropped += 1,
                            },
                            None => *dropped += 1,
                        }
                    },
                );
            }
        }
        if let Some(sh) = shared {
            if *dirty {
                *dirty = false;
                for c in 0..cores {
                    sh.sent[index * sh.stride + c].store(sent[c], Ordering::Release);
                    sh.taken[index * sh.stride + c].store(taken[c], Ordering::Release);
                }
            }
            if hold {
                sh.held[index * 8].store(true, Ordering::Release);
            }
        }
        n
    }

    fn handoffs(&self) -> Handoffs {
        Handoffs {
            forwarded: self.sent.iter().sum(),
            dropped: self.dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_off_rings_share_the_mbuf_budget_within_bounds() {
        // net_pcap over 2 workers, the default pool: one ring, as deep as an RX queue.
        assert_eq!(handoff_depth(65535 / 4, 1), 4096);
        // 16 cores all spreading: 240 rings share 16 k mbufs: 64 each, raised to the floor.
        assert_eq!(handoff_depth(65535 / 4, 240), MIN_HANDOFF_DEPTH);
        // One spreading core of 8: 7 rings, 2340 each, rounded down to a power of two.
        assert_eq!(handoff_depth(65535 / 4, 7), 2048);
        assert_eq!(handoff_depth(1024, 1), 1024);
        assert_eq!(handoff_depth(0, 0), MIN_HANDOFF_DEPTH);
    }
}
