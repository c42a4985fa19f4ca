//! The few functions of the system librrd (RRDtool) that tstat-dpdk calls, and a minimal safe
//! wrapper over them: [`create`] and [`update`] of an RRD file, [`version`].
//!
//! Only librrd's thread-safe entry points are used (`rrd_create_r`, `rrd_update_r`): they take
//! their arguments as values instead of a command line and keep no global state. Errors are kept
//! by librrd per thread (`rrd_get_error` reads the calling thread's context), so a call and the
//! reading of its error happen on the same thread, inside one wrapper function.
//!
//! Declared by hand rather than generated: the four functions and their C types are stable
//! across librrd 1.4 – 1.9 (`rrd.h`), and the crate then needs neither bindgen nor libclang.
//! `build.rs` links `librrd` as `pkg-config librrd` says, and fails with the Debian package to
//! install when it is missing.

use std::ffi::{c_char, c_int, c_long, c_ulong, CStr, CString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Raw declarations, as in librrd's `rrd.h`.
pub mod raw {
    use std::ffi::{c_char, c_int, c_long, c_ulong};

    extern "C" {
        /// Creates `filename` with a PDP step of `pdp_step` s, last update at `last_up`, and
        /// the `DS:` and `RRA:` definitions of `argv`. 0 on success, -1 on error (see
        /// [`rrd_get_error`]). `time_t` is a C `long` on the platforms librrd is built for.
        pub fn rrd_create_r(
            filename: *const c_char,
            pdp_step: c_ulong,
            last_up: c_long,
            argc: c_int,
            argv: *const *const c_char,
        ) -> c_int;

        /// Updates `filename` with the `time:value[:value...]` strings of `argv`; `template`
        /// may be null. 0 on success, -1 on error.
        pub fn rrd_update_r(
            filename: *const c_char,
            template: *const c_char,
            argc: c_int,
            argv: *const *const c_char,
        ) -> c_int;

        /// The calling thread's last error message (never null; empty without an error).
        pub fn rrd_get_error() -> *mut c_char;

        /// Clears the calling thread's error message.
        pub fn rrd_clear_error();

        /// The library's version, e.g. `1.7.2` (a static string).
        pub fn rrd_strversion() -> *const c_char;
    }
}

/// A failed librrd call: which one, and librrd's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The librrd operation (`create`, `update`).
    pub op: &'static str,
    /// librrd's error message, or why the call could not be made.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rrd {}: {}", self.op, self.message)
    }
}

impl std::error::Error for Error {}

fn c_string(op: &'static str, bytes: &[u8]) -> Result<CString, Error> {
    CString::new(bytes).map_err(|_| Error {
        op,
        message: format!(
            "argument contains a NUL byte: {:?}",
            String::from_utf8_lossy(bytes)
        ),
    })
}

/// The arguments as C strings, and the pointer array over them (which borrows them: keep both
/// alive for the call).
fn c_args(op: &'static str, args: &[&str]) -> Result<(Vec<CString>, Vec<*const c_char>), Error> {
    let owned = args
        .iter()
        .map(|a| c_string(op, a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let ptrs = owned.iter().map(|c| c.as_ptr()).collect();
    Ok((owned, ptrs))
}

/// Turns a librrd return code into a result, reading and clearing this thread's error message.
fn check(op: &'static str, rc: c_int) -> Result<(), Error> {
    if rc == 0 {
        return Ok(());
    }
    // SAFETY: takes no argument and only reads the calling thread's librrd context.
    let ptr = unsafe { raw::rrd_get_error() };
    // SAFETY: `ptr` points to the calling thread's error buffer inside its librrd context,
    // NUL-terminated and never null; it stays valid until the next librrd call on this thread,
    // and the message is copied out before `rrd_clear_error` below.
    let message = unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: takes no argument; it only resets this thread's error buffer.
    unsafe { raw::rrd_clear_error() };
    Err(Error {
        op,
        message: if message.is_empty() {
            format!("failed (code {rc}) without a message")
        } else {
            message
        },
    })
}

/// Creates the RRD file `path`: PDP step `step_s` seconds, last update (start) `start` (Unix
/// seconds), data sources and archives from `defs` (`DS:name:GAUGE:600:U:U`,
/// `RRA:AVERAGE:0.5:1:600`, ...), as `rrdtool create path --step S --start T defs...` does.
/// An existing file is overwritten.
pub fn create(path: &Path, step_s: u64, start: i64, defs: &[&str]) -> Result<(), Error> {
    const OP: &str = "create";
    let file = c_string(OP, path.as_os_str().as_bytes())?;
    let (_owned, argv) = c_args(OP, defs)?;
    let argc = c_int::try_from(argv.len()).map_err(|_| Error {
        op: OP,
        message: "too many definitions".to_string(),
    })?;
    let step = c_ulong::try_from(step_s).map_err(|_| Error {
        op: OP,
        message: format!("step {step_s} out of range"),
    })?;
    let start = c_long::try_from(start).map_err(|_| Error {
        op: OP,
        message: format!("start {start} out of range"),
    })?;
    // SAFETY: `file` and every pointer of `argv` point to NUL-terminated strings owned by
    // `file` and `_owned`, both alive until the call returns; `argc` is the length of `argv`.
    // rrd_create_r only reads them, keeps no pointer after returning, and reports errors in the
    // calling thread's context, read by `check` on this same thread.
    let rc = unsafe { raw::rrd_create_r(file.as_ptr(), step, start, argc, argv.as_ptr()) };
    check(OP, rc)
}

/// Updates the RRD file `path` with `values`, each `time:value` (`1300475173:8.000000`), as
/// `rrdtool update path values...` does. Numeric times only: librrd's at-style time parsing
/// is not thread-safe.
pub fn update(path: &Path, values: &[&str]) -> Result<(), Error> {
    const OP: &str = "update";
    let file = c_string(OP, path.as_os_str().as_bytes())?;
    let (_owned, argv) = c_args(OP, values)?;
    let argc = c_int::try_from(argv.len()).map_err(|_| Error {
        op: OP,
        message: "too many values".to_string(),
    })?;
    // SAFETY: as in `create`: `file` and the strings behind `argv` are alive and
    // NUL-terminated for the whole call, `argc` is `argv`'s length, and a null template is
    // allowed (no template). rrd_update_r keeps no pointer after returning.
    let rc = unsafe { raw::rrd_update_r(file.as_ptr(), std::ptr::null(), argc, argv.as_ptr()) };
    check(OP, rc)
}

/// The version of the librrd linked, e.g. `1.7.2`.
pub fn version() -> String {
    // SAFETY: takes no argument; returns a pointer to a static string of the library.
    let ptr = unsafe { raw::rrd_strversion() };
    // SAFETY: `ptr` is a static NUL-terminated string of librrd, valid for the life of the
    // process.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("rrd-sys-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn create_update_and_errors() {
        assert!(version().starts_with('1'), "{}", version());
        let d = scratch("basic");
        let f = d.join("x.avg.rrd");
        create(
            &f,
            300,
            1_300_475_163,
            &["DS:x:GAUGE:600:U:U", "RRA:AVERAGE:0.5:1:600"],
        )
        .unwrap();
        update(&f, &["1300475173:8.000000"]).unwrap();
        // The same second again: librrd refuses, and the message is this update's.
        let e = update(&f, &["1300475173:1.000000"]).unwrap_err();
        assert_eq!(e.op, "update");
        assert!(e.message.contains("minimum one second step"), "{e}");
        // The error was cleared: the next good update succeeds.
        update(&f, &["1300475174:2.000000"]).unwrap();
        let e = update(&d.join("missing.rrd"), &["1300475173:1"]).unwrap_err();
        assert!(e.to_string().starts_with("rrd update: "), "{e}");
        let e = create(&f, 300, 0, &["DS:bad"]).unwrap_err();
        assert_eq!(e.op, "create");
        assert!(update(&f, &["1300475175:1\0"]).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
