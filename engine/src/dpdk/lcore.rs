//! Handing work to an EAL lcore: the closure (a per-core loop that owns its queue, worker and
//! ring producer) is boxed, moved through `rte_eal_remote_launch` and reclaimed exactly once on
//! the lcore, where it runs to completion.

use super::{sys, Eal, Error};
use std::ffi::{c_int, c_void};

type Job = Box<dyn FnOnce() -> i32 + Send + 'static>;

extern "C" fn lcore_entry(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the pointer produced by `Box::into_raw` in `launch`, handed to exactly
    // one lcore; this is the only place it is turned back into a Box, so it is freed once.
    let job = unsafe { Box::from_raw(arg.cast::<Job>()) };
    job()
}

/// A job running on an lcore; [`Launched::wait`] joins it.
#[derive(Debug)]
#[must_use = "an lcore job must be waited for"]
pub struct Launched<'eal> {
    lcore: u32,
    _eal: &'eal Eal,
}

/// Runs `job` on worker lcore `lcore`. The job owns everything it uses (`Send + 'static`).
pub fn launch<F>(eal: &Eal, lcore: u32, job: F) -> Result<Launched<'_>, Error>
where
    F: FnOnce() -> i32 + Send + 'static,
{
    let boxed: Box<Job> = Box::new(Box::new(job));
    let raw = Box::into_raw(boxed).cast::<c_void>();
    // SAFETY: `lcore_entry` has the lcore_function_t ABI and takes ownership of `raw`; EAL is
    // initialised (`eal` borrows it); on failure ownership is reclaimed below.
    let rc = unsafe { sys::rte_eal_remote_launch(Some(lcore_entry), raw, lcore) };
    if rc != 0 {
        // SAFETY: the launch failed, so no lcore received `raw`; we still own it.
        drop(unsafe { Box::from_raw(raw.cast::<Job>()) });
        return Err(Error::Dpdk {
            op: "rte_eal_remote_launch",
            errno: -rc,
        });
    }
    Ok(Launched { lcore, _eal: eal })
}

impl Launched<'_> {
    /// Waits for the job to return and gives its return code.
    pub fn wait(self) -> i32 {
        // SAFETY: EAL is initialised (borrowed for 'eal) and `lcore` was launched by us.
        unsafe { sys::rte_eal_wait_lcore(self.lcore) }
    }

    /// The lcore the job runs on.
    pub fn lcore(&self) -> u32 {
        self.lcore
    }
}
