//! The few functions of the system librrd (RRDtool) that tstat-dpdk calls, and a minimal safe
//! wrapper over them: [`create`] and [`update`] of an RRD file, [`fetch`] of its consolidated
//! rows, [`version`].
//!
//! Only librrd's thread-safe entry points are used (`rrd_create_r`, `rrd_update_r`,
//! `rrd_fetch_r`): they take
//! their arguments as values instead of a command line and keep no global state. Errors are kept
//! by librrd per thread (`rrd_get_error` reads the calling thread's context), so a call and the
//! reading of its error happen on the same thread, inside one wrapper function.
//!
//! Declared by hand rather than generated: the functions and their C types are stable
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

        /// Reads consolidated rows of `filename`: consolidation function `cf` (`AVERAGE`, ...),
        /// wished range `*start` .. `*end` and resolution `*step` (seconds), all three rewritten
        /// to what the chosen archive gives. On success `*ds_cnt` is the number of data
        /// sources, `*ds_namv` a `malloc`ed array of `*ds_cnt` `malloc`ed names, and `*data` a
        /// `malloc`ed array of `((*end - *start) / *step + 1) * *ds_cnt` values, row-major,
        /// row `i` covering `(*start + i * step, *start + (i + 1) * step]`; the caller frees all
        /// of them ([`rrd_freemem`]). 0 on success, -1 on error.
        pub fn rrd_fetch_r(
            filename: *const c_char,
            cf: *const c_char,
            start: *mut c_long,
            end: *mut c_long,
            step: *mut c_ulong,
            ds_cnt: *mut c_ulong,
            ds_namv: *mut *mut *mut c_char,
            data: *mut *mut f64,
        ) -> c_int;

        /// Frees memory librrd allocated for the caller (`free`).
        pub fn rrd_freemem(mem: *mut std::ffi::c_void);
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

/// Consolidated rows of an RRD file, as [`fetch`] returns them (`rrdtool fetch`'s output).
#[derive(Debug, Clone, PartialEq)]
pub struct Fetched {
    /// Start of the range the archive gave (Unix seconds, a multiple of `step`): the first
    /// row ends `step` seconds later.
    pub start: i64,
    /// End of the range (Unix seconds): the last row ends here.
    pub end: i64,
    /// Seconds each row covers (the resolution of the archive chosen).
    pub step: u64,
    /// The data sources' names, in the file's order.
    pub names: Vec<String>,
    /// One row per step, one value per data source; NaN where unknown.
    pub rows: Vec<Vec<f64>>,
}

impl Fetched {
    /// The time row `i` stands for: the end of the interval it consolidates, `start + (i + 1)
    /// * step`, as `rrdtool fetch` prints it.
    pub fn time_of(&self, i: usize) -> i64 {
        let step = i64::try_from(self.step).unwrap_or(i64::MAX);
        let n = i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1);
        self.start.saturating_add(n.saturating_mul(step))
    }
}

/// Frees a pointer that librrd allocated for us (null is a no-op, as for `free`).
fn freemem<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: every pointer handed here was allocated by librrd (malloc) for the caller
        // of rrd_fetch_r and is freed exactly once, by the single owner `FetchOut`.
        unsafe { raw::rrd_freemem(ptr.cast()) };
    }
}

/// What `rrd_fetch_r` handed over, freed on drop (also on every early return).
struct FetchOut {
    ds_cnt: usize,
    names: *mut *mut c_char,
    data: *mut f64,
}

impl FetchOut {
    /// The name pointers librrd handed over (empty when there are none).
    fn names(&self) -> &[*mut c_char] {
        if self.names.is_null() || self.ds_cnt == 0 {
            return &[];
        }
        // SAFETY: on success rrd_fetch_r sets `names` to a malloc'ed array of `ds_cnt` name
        // pointers (checked non-null above), which stays allocated until `self` is dropped and
        // is only read through this slice.
        unsafe { std::slice::from_raw_parts(self.names, self.ds_cnt) }
    }
}

impl Drop for FetchOut {
    fn drop(&mut self) {
        for &name in self.names() {
            freemem(name);
        }
        freemem(self.names);
        freemem(self.data);
    }
}

/// `c_long` is `i64` where librrd runs here (LP64), `i32` elsewhere: widening, never lossy.
#[allow(clippy::useless_conversion)]
fn wide(v: c_long) -> i64 {
    i64::from(v)
}

/// `c_ulong` widened to `u64` (never lossy).
#[allow(clippy::useless_conversion)]
fn wide_u(v: c_ulong) -> u64 {
    u64::from(v)
}

/// Reads the rows of `path` consolidated with `cf` (`AVERAGE`, `MIN`, `MAX`, `LAST`) over
/// `start` .. `end` (Unix seconds) at the wished resolution `resolution_s`, as `rrdtool fetch
/// path cf --resolution R --start S --end E` does. librrd picks the archive that best covers the
/// range at that resolution and aligns the range to its step; [`Fetched::time_of`] gives each
/// row's time. Unknown values are NaN.
pub fn fetch(
    path: &Path,
    cf: &str,
    start: i64,
    end: i64,
    resolution_s: u64,
) -> Result<Fetched, Error> {
    const OP: &str = "fetch";
    let fail = |message: String| Error { op: OP, message };
    let file = c_string(OP, path.as_os_str().as_bytes())?;
    let cf = c_string(OP, cf.as_bytes())?;
    let mut c_start =
        c_long::try_from(start).map_err(|_| fail(format!("start {start} out of range")))?;
    let mut c_end = c_long::try_from(end).map_err(|_| fail(format!("end {end} out of range")))?;
    let mut step = c_ulong::try_from(resolution_s)
        .map_err(|_| fail(format!("resolution {resolution_s} out of range")))?;
    let mut ds_cnt: c_ulong = 0;
    let mut names: *mut *mut c_char = std::ptr::null_mut();
    let mut data: *mut f64 = std::ptr::null_mut();
    // SAFETY: `file` and `cf` are NUL-terminated strings alive for the call; every other
    // argument points to a local of the declared C type, alive and writable for the call.
    // rrd_fetch_r keeps no pointer after returning; on success it hands over `names` and
    // `data`, which `FetchOut` below owns and frees; on failure it frees them itself.
    let rc = unsafe {
        raw::rrd_fetch_r(
            file.as_ptr(),
            cf.as_ptr(),
            &mut c_start,
            &mut c_end,
            &mut step,
            &mut ds_cnt,
            &mut names,
            &mut data,
        )
    };
    check(OP, rc)?;
    let out = FetchOut {
        ds_cnt: usize::try_from(ds_cnt).unwrap_or(0),
        names,
        data,
    };
    if step == 0 || c_end < c_start || (out.ds_cnt > 0 && (names.is_null() || data.is_null())) {
        return Err(fail(format!(
            "librrd returned an inconsistent range (start {c_start}, end {c_end}, step {step}, \
             {ds_cnt} data sources)"
        )));
    }
    let mut result = Fetched {
        start: wide(c_start),
        end: wide(c_end),
        step: wide_u(step),
        names: Vec::with_capacity(out.ds_cnt),
        rows: Vec::new(),
    };
    for &name in out.names() {
        if name.is_null() {
            result.names.push(String::new());
            continue;
        }
        // SAFETY: a non-null entry of `ds_namv` is a NUL-terminated string librrd allocated,
        // alive until `out` is dropped, after this copy.
        let name = unsafe { CStr::from_ptr(name) };
        result.names.push(name.to_string_lossy().into_owned());
    }
    // librrd allocates `(end - start) / step + 1` rows and fills them, but the rows that stand
    // for the range are the first `(end - start) / step` (rrd_fetch.c; rrdtool fetch prints
    // those): read only these.
    let span = u64::try_from(wide(c_end) - wide(c_start)).unwrap_or(0);
    let n_rows = usize::try_from(span / wide_u(step))
        .map_err(|_| fail(format!("{span} s at step {step} is too many rows")))?;
    let values = n_rows
        .checked_mul(out.ds_cnt)
        .ok_or_else(|| fail(format!("{n_rows} rows of {ds_cnt} values overflow")))?;
    if values > 0 {
        // SAFETY: `data` is non-null (checked above) and points to at least
        // `(n_rows + 1) * ds_cnt` initialised doubles (rrd_fetch_r's allocation), so the
        // first `values = n_rows * ds_cnt` form a valid slice; it is only read, and copied out
        // before `out` frees it.
        let all = unsafe { std::slice::from_raw_parts(out.data, values) };
        result.rows = all.chunks_exact(out.ds_cnt).map(<[f64]>::to_vec).collect();
    }
    drop(out);
    Ok(result)
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

    #[test]
    fn fetch_rows_as_rrdtool_prints_them() {
        let d = scratch("fetch");
        let f = d.join("two.rrd");
        // Step 300 s, two data sources; start just before a 300 s boundary.
        let t0: i64 = 1_700_000_100; // a multiple of 300
        create(
            &f,
            300,
            t0 - 10,
            &[
                "DS:a:GAUGE:600:U:U",
                "DS:b:GAUGE:600:U:U",
                "RRA:AVERAGE:0.5:1:600",
                "RRA:MAX:0.5:1:600",
            ],
        )
        .unwrap();
        // A constant value over each 300 s step: a = 10 * k, b = -k.
        let mut ups = Vec::new();
        for k in 1..=6i64 {
            for s in (0..300).step_by(60) {
                ups.push(format!("{}:{}:{}", t0 + (k - 1) * 300 + s + 60, 10 * k, -k));
            }
        }
        let refs: Vec<&str> = ups.iter().map(String::as_str).collect();
        update(&f, &refs).unwrap();
        let got = fetch(&f, "AVERAGE", t0 - 300, t0 + 6 * 300, 300).unwrap();
        assert_eq!(got.names, ["a", "b"]);
        assert_eq!(got.step, 300);
        assert_eq!(got.start % 300, 0);
        assert_eq!(got.rows.len() as i64, (got.end - got.start) / 300);
        // Every row is known exactly where a whole step was covered by updates; its time is
        // the end of the step (rows of step k end at t0 + k * 300).
        let mut known = 0;
        for (i, row) in got.rows.iter().enumerate() {
            let t = got.time_of(i);
            let k = (t - t0) / 300;
            if (2..=6).contains(&k) {
                assert_eq!(row, &vec![(10 * k) as f64, -k as f64], "row at {t}");
                known += 1;
            } else if t <= t0 || t > t0 + 6 * 300 {
                assert!(row.iter().all(|v| v.is_nan()), "row at {t}: {row:?}");
            }
        }
        assert_eq!(known, 5);
        // The same rows as the rrdtool command prints, when it is installed.
        if let Ok(out) = std::process::Command::new("rrdtool")
            .arg("fetch")
            .arg(&f)
            .args(["AVERAGE", "-r", "300", "-s"])
            .arg((t0 - 300).to_string())
            .arg("-e")
            .arg((t0 + 6 * 300).to_string())
            .output()
        {
            let text = String::from_utf8_lossy(&out.stdout);
            let printed: Vec<(i64, Vec<f64>)> = text
                .lines()
                .filter_map(|l| l.split_once(':'))
                .filter_map(|(t, v)| {
                    let t = t.trim().parse().ok()?;
                    let v = v
                        .split_whitespace()
                        .map(|x| x.parse::<f64>().unwrap_or(f64::NAN))
                        .collect();
                    Some((t, v))
                })
                .collect();
            assert_eq!(printed.len(), got.rows.len(), "{text}");
            for (i, (t, v)) in printed.iter().enumerate() {
                assert_eq!(*t, got.time_of(i));
                for (a, b) in v.iter().zip(&got.rows[i]) {
                    assert!(a == b || (a.is_nan() && b.is_nan()), "{t}: {a} vs {b}");
                }
            }
        }
        // MAX is another archive of the same file.
        assert_eq!(fetch(&f, "MAX", t0, t0 + 600, 300).unwrap().names.len(), 2);
        let e = fetch(&f, "BOGUS", t0, t0 + 600, 300).unwrap_err();
        assert_eq!(e.op, "fetch");
        assert!(!e.message.is_empty());
        let e = fetch(&d.join("missing.rrd"), "AVERAGE", t0, t0 + 600, 300).unwrap_err();
        assert!(e.to_string().starts_with("rrd fetch: "), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
