//! The in-process ring device: an ethdev (`rte_eth_from_rings`) whose RX queues are rings a
//! generator thread fills, standing in for a multi-queue RSS NIC on machines without one.
//!
//! [`RingFeeder`] plays the NIC: for each frame it computes the symmetric Toeplitz hash in
//! software (the hash a NIC programmed with the symmetric key computes), stores it in the mbuf
//! with `RTE_MBUF_F_RX_RSS_HASH`, stamps the rx-timestamp dynfield with the frame's capture time
//! and enqueues it on queue `RETA[hash % 128]`, with the default redirection table
//! (`RETA[i] = i % queues`). Replays either copy each frame into a fresh mbuf ([`RingFeeder::feed`],
//! lossless: waits for room) or recycle pre-built mbufs by reference count
//! ([`RingFeeder::replay`], no copy per packet: the benchmark's path).
//!
//! [`RingFeeder::without_rss`] plays a multi-queue NIC without RSS instead (memif, vhost,
//! af_packet under rollover): frames go to the queues in turn, flow-blind, and carry no hash;
//! the cores must then spread them by flow in software ([`super::dispatch`]).

use super::{last_error, sys, Eal, Error, Mbuf, Mempool};
use crate::hash::Toeplitz;
use crate::time::Timestamp;
use crate::wire::LinkType;
use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::Arc;

/// Rings behind an ethdev; the port is opened by name with [`super::Port::open`].
pub struct RingDevice {
    name: String,
    rings: Vec<NonNull<sys::rte_ring>>,
    /// Keeps EAL alive until the rings are freed.
    _eal: Eal,
}

// SAFETY: the rings are multi-thread safe DPDK objects; the handle only carries pointers and
// frees them once, on drop, after the port using them is closed.
unsafe impl Send for RingDevice {}

impl std::fmt::Debug for RingDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingDevice")
            .field("name", &self.name)
            .field("queues", &self.rings.len())
            .finish()
    }
}

impl RingDevice {
    /// Creates `queues` rings of `depth` entries (a power of two) and an ethdev `name` over
    /// them, on NUMA socket `socket`.
    pub fn create(
        eal: &Eal,
        name: &str,
        queues: u16,
        depth: u32,
        socket: u32,
    ) -> Result<RingDevice, Error> {
        if queues == 0 || !depth.is_power_of_two() {
            return Err(Error::Config(format!(
                "ring device {name}: need ≥ 1 queue and a power-of-two depth"
            )));
        }
        let mut rings = Vec::new();
        for q in 0..queues {
            let rname = CString::new(format!("{name}_q{q}")).map_err(|_| {
                Error::Config(format!("ring device name {name:?} contains a NUL byte"))
            })?;
            // SAFETY: EAL is initialised; the name is NUL-terminated. Single producer (the
            // feeder) and single consumer (the queue's lcore).
            let r = unsafe {
                sys::rte_ring_create(
                    rname.as_ptr(),
                    depth,
                    socket as i32,
                    sys::RING_F_SP_ENQ | sys::RING_F_SC_DEQ,
                )
            };
            rings.push(NonNull::new(r).ok_or_else(|| last_error("rte_ring_create"))?);
        }
        let cname = CString::new(name)
            .map_err(|_| Error::Config(format!("{name:?} contains a NUL byte")))?;
        let mut raw: Vec<*mut sys::rte_ring> = rings.iter().map(|r| r.as_ptr()).collect();
        // SAFETY: raw holds `queues` valid rings, used as RX and TX queues (nothing is sent);
        // the ethdev keeps the pointers, and the rings outlive it (freed in Drop, after the
        // caller closed the port).
        let rc = unsafe {
            sys::rte_eth_from_rings(
                cname.as_ptr(),
                raw.as_mut_ptr(),
                queues as u32,
                raw.as_mut_ptr(),
                queues as u32,
                socket,
            )
        };
        // The ring PMD names its ethdev "net_ring_<name>".
        let dev = RingDevice {
            name: format!("net_ring_{name}"),
            rings,
            _eal: eal.clone(),
        };
        if rc < 0 {
            return Err(last_error("rte_eth_from_rings"));
        }
        Ok(dev)
    }

    /// The ethdev's name, to open it as a port.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A feeder playing the NIC for these rings, taking mbufs from `pool`.
    pub fn feeder(&self, pool: Arc<Mempool>) -> Result<RingFeeder, Error> {
        let (mut offset, mut flag) = (0i32, 0u64);
        // SAFETY: EAL is initialised; valid out-pointers; returns the existing registration.
        super::check("rte_mbuf_dyn_rx_timestamp_register", unsafe {
            sys::rte_mbuf_dyn_rx_timestamp_register(&mut offset, &mut flag)
        })?;
        Ok(RingFeeder {
            rings: self.rings.clone(),
            pool,
            ts_offset: offset as usize,
            ts_flag: flag,
            hasher: crate::hash::symmetric(),
            spread: 0,
            rss: true,
            enqueued: vec![0; self.rings.len()],
            missed: vec![0; self.rings.len()],
            nombuf: 0,
        })
    }
}

impl Drop for RingDevice {
    fn drop(&mut self) {
        for r in &self.rings {
            // SAFETY: the ring was created by this device; the port over it is closed by now
            // (the caller drops the Port first) and the feeder is gone.
            unsafe { sys::rte_ring_free(r.as_ptr()) };
        }
    }
}

/// The generator side of a [`RingDevice`]: one thread, the rings' single producer.
pub struct RingFeeder {
    rings: Vec<NonNull<sys::rte_ring>>,
    pool: Arc<Mempool>,
    ts_offset: usize,
    ts_flag: u64,
    hasher: &'static Toeplitz,
    spread: usize,
    /// Spread by the symmetric hash and set it (an RSS NIC); false: queues in turn, no hash.
    rss: bool,
    enqueued: Vec<u64>,
    missed: Vec<u64>,
    nombuf: u64,
}

// SAFETY: the feeder is the rings' only producer and is used by one thread at a time; the
// rings and pool are thread-safe DPDK objects kept alive by the device and the Arc.
unsafe impl Send for RingFeeder {}

impl RingFeeder {
    /// Plays a NIC without RSS: each frame goes to the next queue in turn, whatever its flow,
    /// and carries no hash (`RTE_MBUF_F_RX_RSS_HASH` unset), so both directions of a flow, and
    /// the packets of one direction, reach different queues.
    pub fn without_rss(mut self) -> RingFeeder {
        self.rss = false;
        self
    }

    /// Builds an mbuf holding a copy of `frame`, with its hash, flags and timestamp set, and
    /// the queue it goes to. `None` when the pool is empty.
    pub fn build(
        &mut self,
        ts: Timestamp,
        link: LinkType,
        frame: &[u8],
    ) -> Result<(Mbuf, usize), Error> {
        let len = u16::try_from(frame.len()).map_err(|_| {
            Error::Config(format!(
                "frame of {} bytes does not fit an mbuf",
                frame.len()
            ))
        })?;
        let mut raw: *mut sys::rte_mbuf = std::ptr::null_mut();
        // SAFETY: the pool is valid (Arc); raw is a valid out-array of one pointer.
        if unsafe { sys::shim_pktmbuf_alloc_bulk(self.pool.as_ptr(), &mut raw, 1) } != 0 {
            return Err(Error::Dpdk {
                op: "rte_pktmbuf_alloc_bulk",
                errno: 105,
            });
        }
        // SAFETY: alloc_bulk succeeded: raw is a fresh mbuf whose single reference we own.
        let m = unsafe { Mbuf::from_ptr(NonNull::new(raw).expect("alloc_bulk returned 0")) };
        // SAFETY: m is a fresh single-segment mbuf; append reserves len bytes in its tailroom
        // or returns null.
        let dst = unsafe { sys::shim_pktmbuf_append(m.as_ptr(), len) };
        if dst.is_null() {
            return Err(Error::Config(format!(
                "frame of {len} bytes exceeds the mbuf data room"
            )));
        }
        // SAFETY: dst points at len writable bytes inside m's buffer (append's contract),
        // which cannot overlap `frame` (a caller's slice outside any mempool we own).
        unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), dst.cast::<u8>(), frame.len()) };
        let route = if self.rss {
            crate::dispatch::route(self.hasher, link, frame)
        } else {
            crate::dispatch::Route {
                hash: None,
                dns: false,
            }
        };
        let nq = self.rings.len();
        let q = match route.hash {
            Some(h) => crate::hash::reta_queue(h, nq),
            None => {
                self.spread += 1;
                self.spread % nq
            }
        };
        // SAFETY: m is exclusively ours (not yet enqueued), so a unique reference to it is
        // sound for this scope.
        let mb = unsafe { &mut *m.as_ptr() };
        if let Some(h) = route.hash {
            mb.__bindgen_anon_2.hash = sys::rte_mbuf__bindgen_ty_2__bindgen_ty_1 { rss: h };
            mb.ol_flags |= u64::from(sys::RTE_MBUF_F_RX_RSS_HASH);
        }
        mb.ol_flags |= self.ts_flag;
        let field = m
            .as_ptr()
            .cast::<u8>()
            .wrapping_add(self.ts_offset)
            .cast::<u64>();
        // SAFETY: the registered 8-byte timestamp dynfield at ts_offset lies inside the mbuf
        // header's dynfield area (rte_mbuf_dyn_rx_timestamp_register); m is exclusively ours.
        unsafe { std::ptr::write_unaligned(field, ts.0 as u64) };
        Ok((m, q))
    }

    /// Copies `frame` into an mbuf and enqueues it, waiting (yielding) while its queue is
    /// full: lossless, for tests.
    pub fn feed(&mut self, ts: Timestamp, link: LinkType, frame: &[u8]) -> Result<(), Error> {
        let (m, q) = loop {
            match self.build(ts, link, frame) {
                Err(Error::Dpdk {
                    op: "rte_pktmbuf_alloc_bulk",
                    ..
                }) => std::thread::yield_now(),
                other => break other?,
            }
        };
        let mut ptr = m.as_ptr();
        loop {
            // SAFETY: the ring is valid and this feeder is its only producer; ptr is one mbuf.
            if unsafe { sys::shim_ring_enqueue_burst(self.rings[q].as_ptr(), &mut ptr, 1) } == 1 {
                break;
            }
            std::thread::yield_now();
        }
        // The consumer's free now owns the reference.
        std::mem::forget(m);
        self.enqueued[q] += 1;
        Ok(())
    }

    /// Copies `frame` into an mbuf and enqueues it if its queue has room, as a NIC does:
    /// `Ok(false)` when the frame is dropped (queue full, counted as missed; or no free mbuf,
    /// counted as `nombuf`). Never waits: the zero-loss benchmark looks for the rate at which
    /// nothing is dropped.
    pub fn offer(&mut self, ts: Timestamp, link: LinkType, frame: &[u8]) -> Result<bool, Error> {
        let (m, q) = match self.build(ts, link, frame) {
            Err(Error::Dpdk {
                op: "rte_pktmbuf_alloc_bulk",
                ..
            }) => {
                self.nombuf += 1;
                return Ok(false);
            }
            other => other?,
        };
        let mut ptr = m.as_ptr();
        // SAFETY: the ring is valid and this feeder is its only producer; ptr is one mbuf.
        if unsafe { sys::shim_ring_enqueue_burst(self.rings[q].as_ptr(), &mut ptr, 1) } == 1 {
            // The consumer's free now owns the reference.
            std::mem::forget(m);
            self.enqueued[q] += 1;
            Ok(true)
        } else {
            // Not enqueued: `m` is freed when dropped here.
            self.missed[q] += 1;
            Ok(false)
        }
    }

    /// Frames [`RingFeeder::offer`] dropped because their queue was full, per queue.
    pub fn missed(&self) -> &[u64] {
        &self.missed
    }

    /// Frames [`RingFeeder::offer`] dropped for want of a free mbuf.
    pub fn nombuf(&self) -> u64 {
        self.nombuf
    }

    /// Enqueues pre-built mbufs (from [`RingFeeder::build`]) once more each, without copying:
    /// each gets one more reference that the consumer's free drops. Returns how many were
    /// enqueued; a full queue drops the rest of `batch` for that queue and they are counted
    /// by the caller (the benchmark looks for the rate at which that stays zero).
    pub fn replay(&mut self, batch: &[(Mbuf, usize)]) -> usize {
        let mut sent = 0;
        for (m, q) in batch {
            m.retain();
            let mut ptr = m.as_ptr();
            // SAFETY: the ring is valid and this feeder is its only producer; the mbuf holds
            // the extra reference taken above, which the consumer frees.
            if unsafe { sys::shim_ring_enqueue_burst(self.rings[*q].as_ptr(), &mut ptr, 1) } == 1 {
                sent += 1;
                self.enqueued[*q] += 1;
            } else {
                // SAFETY: not enqueued: drop the reference taken above (the mbuf stays ours).
                unsafe { sys::shim_pktmbuf_free(m.as_ptr()) };
            }
        }
        sent
    }

    /// Frames enqueued per queue so far.
    pub fn enqueued(&self) -> &[u64] {
        &self.enqueued
    }

    /// Frames waiting in each queue now.
    pub fn backlog(&self) -> Vec<u32> {
        self.rings
            .iter()
            // SAFETY: the rings are valid while the device lives.
            .map(|r| unsafe { sys::shim_ring_count(r.as_ptr()) })
            .collect()
    }
}
