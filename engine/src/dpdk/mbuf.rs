//! The owning mbuf: one packet buffer taken from a mempool, returned to it on drop.

use super::sys;
use std::ptr::NonNull;

/// One mbuf, owned: freed (its reference dropped) on `Drop`, never `Clone`.
#[derive(Debug)]
pub struct Mbuf {
    raw: NonNull<sys::rte_mbuf>,
}

// SAFETY: an mbuf is a plain buffer owned by whoever holds the pointer; DPDK's free path is
// safe from any lcore or thread (mempool ops are multi-producer), and `Mbuf` is the only owner.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Adopts a raw mbuf.
    ///
    /// # Safety
    /// `raw` must be a valid mbuf from a live mempool whose reference the caller owns and
    /// hands over: nothing else frees it or uses it afterwards.
    pub(super) unsafe fn from_ptr(raw: NonNull<sys::rte_mbuf>) -> Mbuf {
        Mbuf { raw }
    }

    /// The first segment's data.
    pub fn data(&self) -> &[u8] {
        // SAFETY: the mbuf is valid while owned (from_ptr's contract).
        let m = unsafe { self.raw.as_ref() };
        let start = m
            .buf_addr
            .cast::<u8>()
            .wrapping_add(usize::from(m.data_off));
        // SAFETY: buf_addr + data_off points at data_len initialised bytes inside the mbuf's
        // buffer (DPDK's mbuf invariant), alive as long as `self`.
        unsafe { std::slice::from_raw_parts(start, usize::from(m.data_len)) }
    }

    /// The raw pointer, still owned by `self`.
    pub(super) fn as_ptr(&self) -> *mut sys::rte_mbuf {
        self.raw.as_ptr()
    }

    /// Gives up ownership: the caller must free the returned mbuf (e.g. with [`free_bulk`]).
    pub(super) fn into_raw(self) -> *mut sys::rte_mbuf {
        let p = self.raw.as_ptr();
        std::mem::forget(self);
        p
    }

    /// Takes one more reference (the ring feeder's replay: the consumer's free drops it).
    pub(super) fn retain(&self) {
        // SAFETY: the mbuf is valid while owned; a refcount increment has no other effect.
        unsafe { sys::shim_mbuf_refcnt_update(self.raw.as_ptr(), 1) };
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we own one reference (from_ptr's contract); this drops it exactly once.
        unsafe { sys::shim_pktmbuf_free(self.raw.as_ptr()) };
    }
}

/// Frees mbufs in one call (null entries are skipped: DPDK's `rte_pktmbuf_free_bulk`).
///
/// # Safety
/// Each non-null entry must be a valid mbuf whose reference the caller owns (e.g. from
/// [`Mbuf::into_raw`]) and never uses again.
pub(super) unsafe fn free_bulk(mbufs: &mut [*mut sys::rte_mbuf]) {
    if !mbufs.is_empty() {
        // SAFETY: the caller's contract; the length fits u32 (bursts of at most a few dozen).
        unsafe { sys::rte_pktmbuf_free_bulk(mbufs.as_mut_ptr(), mbufs.len() as u32) };
    }
}
