//! The DPDK driver: the only module of the workspace that calls `dpdk-sys`, and with the
//! trace reader's mmap, the only `unsafe` code of `engine`.
//!
//! It owns the Environment Abstraction Layer ([`Eal`], once per process), packet mempools
//! ([`Mempool`], one per NUMA socket), ports with N RX queues and a symmetric Toeplitz RSS key
//! ([`Port`]), bursts of received mbufs ([`RxQueue`], freed in bulk after the worker has seen
//! them), what each core polls and the software spreading of ports without RSS over the cores
//! ([`CoreQueue`], [`Spreader`]), the owning [`Mbuf`] type, lcore launch ([`lcore`]) and the
//! in-process ring device used by tests and the replay benchmark ([`RingDevice`]). Every DPDK return code becomes an
//! [`Error`] naming the call; `rte_*` names never leave this module.
//!
//! It deliberately knows nothing of flows or logs: a queue hands frames (bytes, timestamp,
//! NIC hash) to whatever closure the per-core loop ([`crate::rx`]) passes it.

mod dispatch;
mod eal;
pub mod lcore;
mod mbuf;
mod mempool;
mod port;
mod ringdev;

pub use dispatch::{CoreQueue, Spreader, MAX_HANDOFF_DEPTH, MIN_HANDOFF_DEPTH};
pub use eal::Eal;
pub use mbuf::Mbuf;
pub use mempool::Mempool;
pub use port::{
    port_names, port_socket, ClockReport, Port, PortConfig, PortStats, RxQueue, RxTimestamps,
};
pub use ringdev::{Prebuilt, RingDevice, RingFeeder};

use dpdk_sys as sys;
use std::ffi::CStr;

/// A failed DPDK call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A DPDK function returned an error code.
    #[error("{op} failed: {} (errno {errno})", strerror(*errno))]
    Dpdk {
        /// The DPDK function that failed.
        op: &'static str,
        /// The positive errno (from the return code or `rte_errno`).
        errno: i32,
    },
    /// A configuration the driver refuses before calling DPDK.
    #[error("{0}")]
    Config(String),
    /// No port by that name: neither a probed PCI device nor a created vdev.
    #[error("no DPDK port named {name:?} (ports present: {present}); check the PCI address is bound to vfio-pci (scripts/bind-nic.sh --status) or the --vdev argument")]
    NoSuchPort {
        /// The name asked for.
        name: String,
        /// The ports EAL did find.
        present: String,
    },
}

/// DPDK's text for an errno (its own codes above 1000 included).
fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror accepts any int and returns a pointer to a static or thread-local
    // NUL-terminated string that stays valid until the next call on this thread; it is copied
    // out at once.
    let p = unsafe { sys::rte_strerror(errno) };
    if p.is_null() {
        return format!("error {errno}");
    }
    // SAFETY: non-null, NUL-terminated (rte_strerror's contract), read before any other call.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Asks for the cache line holding `p` (a hint: never faults, whatever `p` is).
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint with no architectural effect and does not fault on any
    // address; SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Maps a negative-errno return code (DPDK's ethdev convention) to an [`Error`].
fn check(op: &'static str, rc: i32) -> Result<i32, Error> {
    if rc < 0 {
        Err(Error::Dpdk { op, errno: -rc })
    } else {
        Ok(rc)
    }
}

/// The current `rte_errno` of this thread, as an [`Error`] for `op`.
fn last_error(op: &'static str) -> Error {
    // SAFETY: shim_rte_errno reads the calling thread's rte_errno; no pointers involved.
    let errno = unsafe { sys::shim_rte_errno() };
    Error::Dpdk { op, errno }
}
