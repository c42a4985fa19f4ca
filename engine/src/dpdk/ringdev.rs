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
//! [`RingFeeder::prebuild`] and [`RingFeeder::play`] replay a trace held in pre-built mbufs lap
//! after lap with no copy at all: lap k rewrites only a few bytes of each mbuf in place — the
//! timestamp field and the last two bytes of each IP address XORed with k, as
//! `perf/gen/mktrace.py` makes copy k of the benchmark trace — so every lap is new flows, then
//! enqueues the mbuf once more by reference count. A pre-built mbuf is rewritten only when the
//! cores have freed it (its reference count back at 1).
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
use std::sync::atomic::{AtomicBool, Ordering};
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

    /// Pre-builds `frame` (one copy, now) for [`RingFeeder::play`].
    pub fn prebuild(
        &mut self,
        ts: Timestamp,
        link: LinkType,
        frame: &[u8],
    ) -> Result<Prebuilt, Error> {
        let (mbuf, queue) = self.build(ts, link, frame)?;
        Ok(Prebuilt {
            mbuf,
            queue,
            ts,
            link,
            lap: 0,
            addr_tails: if link == LinkType::Ethernet {
                address_tails(frame)
            } else {
                None
            },
        })
    }

    /// Enqueues pre-built frame `p` once more as lap `lap` of its trace, `shift_us` later per
    /// lap: waits (yielding) until the cores have freed its previous lap, rewrites its
    /// timestamp and, from the second lap on, the last two bytes of its IP addresses in place,
    /// and hashes it again. `lossy`: a full queue, or a previous lap still queued, drops the
    /// frame (counted as missed, as [`RingFeeder::offer`] does) instead of waiting; `halt`
    /// ends any wait. Returns whether it was enqueued.
    pub fn play(
        &mut self,
        p: &mut Prebuilt,
        lap: u16,
        shift_us: i64,
        lossy: bool,
        halt: &AtomicBool,
    ) -> bool {
        let m = p.mbuf.as_ptr();
        // SAFETY: m is a valid mbuf we hold a reference to (the Prebuilt owns it).
        while unsafe { sys::shim_mbuf_refcnt_read(m) } != 1 {
            if lossy {
                // Its previous lap still waits in a queue: the NIC would have had to drop
                // this frame (a queue that holds a whole lap is a full one).
                self.missed[p.queue] += 1;
                return false;
            }
            if halt.load(Ordering::Relaxed) {
                return false;
            }
            std::thread::yield_now();
        }
        // The count is 1 (read with acquire ordering): every other reference is gone and its
        // holder's last access happened before, so the mbuf is exclusively ours to rewrite.
        if p.lap != lap {
            if let Some(tails) = p.addr_tails {
                let x = (lap ^ p.lap).to_be_bytes();
                // SAFETY: exclusively ours (above); the data room holds the frame, and the
                // tails were found inside it by address_tails.
                let mb = unsafe { &mut *m };
                let start = mb
                    .buf_addr
                    .cast::<u8>()
                    .wrapping_add(usize::from(mb.data_off));
                // SAFETY: as above: data_len bytes at start, written by build(), ours alone.
                let data =
                    unsafe { std::slice::from_raw_parts_mut(start, usize::from(mb.data_len)) };
                for t in tails {
                    if let Some(b) = data.get_mut(t..t + 2) {
                        b[0] ^= x[0];
                        b[1] ^= x[1];
                    }
                }
                let route = if self.rss {
                    crate::dispatch::route(self.hasher, p.link, data)
                } else {
                    crate::dispatch::Route {
                        hash: None,
                        dns: false,
                    }
                };
                if let Some(h) = route.hash {
                    mb.__bindgen_anon_2.hash = sys::rte_mbuf__bindgen_ty_2__bindgen_ty_1 { rss: h };
                    p.queue = crate::hash::reta_queue(h, self.rings.len());
                }
            }
            p.lap = lap;
        }
        if !self.rss {
            self.spread += 1;
            p.queue = self.spread % self.rings.len();
        }
        let field = m.cast::<u8>().wrapping_add(self.ts_offset).cast::<u64>();
        let ts = p.ts.0 + i64::from(lap) * shift_us;
        // SAFETY: the registered timestamp dynfield lies inside the mbuf header; the mbuf is
        // exclusively ours (above).
        unsafe { std::ptr::write_unaligned(field, ts as u64) };
        p.mbuf.retain();
        let mut ptr = m;
        loop {
            // SAFETY: the ring is valid and this feeder is its only producer; the mbuf holds
            // the extra reference taken above, which the consumer frees.
            if unsafe { sys::shim_ring_enqueue_burst(self.rings[p.queue].as_ptr(), &mut ptr, 1) }
                == 1
            {
                self.enqueued[p.queue] += 1;
                return true;
            }
            if lossy || halt.load(Ordering::Relaxed) {
                // SAFETY: not enqueued: drop the reference taken above (the mbuf stays ours).
                unsafe { sys::shim_pktmbuf_free(m) };
                if lossy {
                    self.missed[p.queue] += 1;
                }
                return false;
            }
            std::thread::yield_now();
        }
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

/// A frame pre-built in an mbuf for lap after lap of [`RingFeeder::play`].
pub struct Prebuilt {
    mbuf: Mbuf,
    queue: usize,
    /// The frame's time in the trace (lap 0).
    ts: Timestamp,
    link: LinkType,
    /// The lap its bytes hold now.
    lap: u16,
    /// Offsets of the last two bytes of its outer IP source and destination addresses.
    addr_tails: Option<[usize; 2]>,
}

/// Offsets of the last two bytes of the source and destination addresses of an Ethernet
/// frame's outer IPv4 or IPv6 header (untagged, 802.1Q, 802.1ad/QinQ), as mktrace.py rewrites
/// them; `None` for other frames (left unchanged from lap to lap).
fn address_tails(frame: &[u8]) -> Option<[usize; 2]> {
    let be16 = |at: usize| Some(u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]));
    let mut off = 12;
    let mut ethertype = be16(off)?;
    // At most four tags, as mktrace.py walks them.
    for _ in 0..4 {
        if !matches!(ethertype, 0x8100 | 0x88a8 | 0x9100 | 0x9200) {
            break;
        }
        off += 4;
        ethertype = be16(off)?;
    }
    let ip = off + 2;
    let version = *frame.get(ip)? >> 4;
    let tails = match ethertype {
        0x0800 if frame.len() >= ip + 20 && version == 4 => [ip + 14, ip + 18],
        0x86dd if frame.len() >= ip + 40 && version == 6 => [ip + 22, ip + 38],
        _ => return None,
    };
    Some(tails)
}

#[cfg(test)]
mod tests {
    use super::address_tails;

    #[test]
    fn address_tails_walk_vlan_tags_to_the_outer_ip_header() {
        // Untagged IPv4: IP at 14, addresses at 26 and 30, their last two bytes at 28, 32.
        let mut v4 = vec![0u8; 34];
        v4[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(address_tails(&v4), None, "not version 4");
        v4[14] = 0x45;
        assert_eq!(address_tails(&v4), Some([28, 32]));
        // QinQ (two tags) then IPv6: IP at 22, addresses at 30 and 46, tails at 44 and 60.
        let mut v6 = vec![0u8; 62];
        v6[12..14].copy_from_slice(&[0x88, 0xa8]);
        v6[16..18].copy_from_slice(&[0x81, 0x00]);
        v6[20..22].copy_from_slice(&[0x86, 0xdd]);
        v6[22] = 0x60;
        assert_eq!(address_tails(&v6), Some([44, 60]));
        // Truncated headers and other protocols are left alone.
        assert_eq!(address_tails(&v4[..33]), None);
        assert_eq!(address_tails(&v6[..61]), None);
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(address_tails(&arp), None);
        assert_eq!(address_tails(&[0u8; 5]), None);
    }
}
