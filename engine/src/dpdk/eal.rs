//! The Environment Abstraction Layer: initialised once per process from the configured
//! arguments, cleaned up when the [`Eal`] handle is dropped.

use super::{last_error, sys, Error};
use std::ffi::{c_char, CString};
use std::sync::atomic::{AtomicBool, Ordering};

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// Proof that EAL is initialised in this process. Every DPDK object (mempool, port, ring
/// device) holds a clone, so `rte_eal_cleanup` runs only when the last of them and the last
/// handle are gone; DPDK cannot be used again in this process afterwards (an EAL limitation).
#[derive(Debug, Clone)]
pub struct Eal {
    _inner: std::sync::Arc<EalInner>,
}

#[derive(Debug)]
struct EalInner;

impl Eal {
    /// Initialises EAL with `args` (without the program name). EAL can be initialised only
    /// once per process; a second call is refused without calling DPDK.
    pub fn init(args: &[String]) -> Result<Eal, Error> {
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(Error::Config(
                "EAL is already initialised in this process (it can be only once)".into(),
            ));
        }
        let mut owned = Vec::with_capacity(args.len() + 1);
        owned.push(CString::new("tstat-dpdk").expect("no NUL in a literal"));
        for a in args {
            owned.push(
                CString::new(a.as_str()).map_err(|_| {
                    Error::Config(format!("EAL argument {a:?} contains a NUL byte"))
                })?,
            );
        }
        // EAL may keep pointers into argv (and permute it), so the strings live as long as
        // the process: leaked once, at start-up.
        let owned: &'static [CString] = Box::leak(owned.into_boxed_slice());
        let argv: &'static mut [*mut c_char] = Box::leak(
            owned
                .iter()
                .map(|c| c.as_ptr().cast_mut())
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        let argc = i32::try_from(argv.len()).expect("a handful of EAL arguments");
        // SAFETY: argv holds argc valid NUL-terminated strings that live for the rest of the
        // process (leaked above); rte_eal_init is called at most once (INITIALISED guard).
        let rc = unsafe { sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if rc < 0 {
            return Err(last_error("rte_eal_init"));
        }
        Ok(Eal {
            _inner: std::sync::Arc::new(EalInner),
        })
    }

    /// Number of lcores EAL runs (the main one included).
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: EAL is initialised (this handle exists); the call reads EAL's config.
        unsafe { sys::rte_lcore_count() }
    }

    /// The worker lcores (every enabled lcore but the main one), in order.
    pub fn worker_lcores(&self) -> Vec<u32> {
        let mut out = Vec::new();
        // SAFETY: EAL is initialised; rte_get_next_lcore only reads EAL's lcore table.
        let mut id = unsafe { sys::rte_get_next_lcore(u32::MAX, 1, 0) };
        while id < sys::RTE_MAX_LCORE {
            out.push(id);
            // SAFETY: as above.
            id = unsafe { sys::rte_get_next_lcore(id, 1, 0) };
        }
        out
    }

    /// The NUMA socket of an lcore.
    pub fn socket_of(&self, lcore: u32) -> u32 {
        // SAFETY: EAL is initialised; any lcore id is accepted (unknown ones map to 0).
        unsafe { sys::rte_lcore_to_socket_id(lcore) }
    }

    /// TSC frequency in Hz, as EAL calibrated it.
    pub fn tsc_hz(&self) -> u64 {
        // SAFETY: EAL is initialised; this reads the calibrated frequency.
        unsafe { sys::rte_get_tsc_hz() }
    }
}

impl Drop for EalInner {
    fn drop(&mut self) {
        // SAFETY: EAL was initialised (EalInner exists only after rte_eal_init succeeded);
        // this is the last clone, so no mempool, port or ring device is left, and every lcore
        // job has been waited for (lcore::Launched borrows an Eal handle).
        unsafe { sys::rte_eal_cleanup() };
    }
}
