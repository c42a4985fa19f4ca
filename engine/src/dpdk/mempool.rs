//! Packet buffer pools: one `rte_pktmbuf_pool` per NUMA socket that has RX queues.

use super::{last_error, sys, Eal, Error};
use std::ffi::CString;
use std::ptr::NonNull;

/// An owning handle on a packet mempool; freed on drop.
#[derive(Debug)]
pub struct Mempool {
    raw: NonNull<sys::rte_mempool>,
    /// Keeps EAL alive until the pool is freed (fields drop after `Drop::drop`).
    _eal: Eal,
}

// SAFETY: a mempool is designed for concurrent use from every lcore (per-lcore caches plus a
// lock-free ring); the handle only carries the pointer.
unsafe impl Send for Mempool {}
// SAFETY: as above; &Mempool only exposes counters and the pointer for queue set-up.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `size` mbufs (2 KiB data room, per-lcore cache of 256) on `socket`.
    pub fn new(eal: &Eal, name: &str, size: u32, socket: i32) -> Result<Mempool, Error> {
        Self::with_data_room(eal, name, size, socket, Self::DEFAULT_DATA_ROOM)
    }

    /// DPDK's default mbuf buffer: 2 KiB of data plus the headroom.
    pub const DEFAULT_DATA_ROOM: u16 = sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16;

    /// Bytes reserved in front of the data in every mbuf.
    pub const HEADROOM: u16 = sys::RTE_PKTMBUF_HEADROOM as u16;

    /// Creates a pool whose mbufs hold `data_room` bytes (headroom included): large rooms for
    /// replays of traces captured with segmentation offloads (frames of tens of KiB).
    pub fn with_data_room(
        eal: &Eal,
        name: &str,
        size: u32,
        socket: i32,
        data_room: u16,
    ) -> Result<Mempool, Error> {
        let cname = CString::new(name)
            .map_err(|_| Error::Config(format!("mempool name {name:?} contains a NUL byte")))?;
        // SAFETY: EAL is initialised (borrowed); cname is NUL-terminated and outlives the call.
        let raw = unsafe {
            sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                size,
                256.min(size / 2),
                0,
                data_room,
                socket,
            )
        };
        NonNull::new(raw)
            .map(|raw| Mempool {
                raw,
                _eal: eal.clone(),
            })
            .ok_or_else(|| last_error("rte_pktmbuf_pool_create"))
    }

    /// Mbufs available in the pool (per-lcore caches included).
    pub fn available(&self) -> u32 {
        // SAFETY: the pool is valid for the life of this handle.
        unsafe { sys::rte_mempool_avail_count(self.raw.as_ptr()) }
    }

    /// Mbufs taken from the pool and not yet returned.
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool is valid for the life of this handle.
        unsafe { sys::rte_mempool_in_use_count(self.raw.as_ptr()) }
    }

    pub(super) fn as_ptr(&self) -> *mut sys::rte_mempool {
        self.raw.as_ptr()
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: the pool was created by this handle; ports using it are stopped and closed
        // first (Port borrows the pool), and no mbuf from it is held any longer.
        unsafe { sys::rte_mempool_free(self.raw.as_ptr()) };
    }
}
