//! Indirect export (mplane.md §11): the three external protocols by which measurements leave
//! the probe for a repository, each driven by a `tstat-exporter_*` capability, and what they
//! share. The repository side is [`crate::repository`].
//!
//! | module | capability | protocol | repository port |
//! |---|---|---|---|
//! | [`rrd`] | `tstat-exporter_rrd` | HTTPS `POST /register/result/indirect_export`, a JSON list of `[file, time, value]` every 300 s (§11.1) | 9000 |
//! | [`streaming`] | `tstat-exporter_streaming` | raw TCP, `<log path> <line>\n` per log line (§11.2), with an optional acknowledgement extension | 9001 |
//! | [`bulk`] | `tstat-exporter_log` | HTTPS upload of completed log files with resumption (replaces DBStream's lost `math_probe`, §11.3) | 3000 |
//!
//! Every exporter is one async function that runs until its `stop` watch turns true (the
//! scope's end or an interrupt) or, for streaming, until the log goes quiet, and returns a
//! summary for the mPlane result. None of them panics on what the network or the files hold,
//! every buffer is bounded, and every failure is logged with where it happened and retried.
//!
//! `repository.url` is `host:port`, as the 2015 proxy took it; the HTTPS exporters also take
//! `https://host:port` (and, for tests without certificates, `http://host:port`).
//!
//! Not here: choosing which exporter a specification runs and turning a summary into a result
//! message (the component runtime does that with [`super::tstat::TstatAction`]).

pub mod bulk;
pub mod rrd;
pub mod streaming;

pub use bulk::{export_logs, LogExportConfig, LogExportSummary};
pub use rrd::{export_rrd, RrdExportConfig, RrdExportSummary, Triple};
pub use streaming::{stream_logs, StreamingConfig, StreamingSummary};

use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// The path the RRD triples are POSTed to (§8, §11.1).
pub const INDIRECT_EXPORT_PATH: &str = "/register/result/indirect_export";

/// The content type of the RRD triples, compared for exact equality by the repository.
pub const JSON_CONTENT_TYPE: &str = "application/json";

/// Resolves when `stop` is true; never when its sender is gone without having said so.
pub(crate) async fn until_stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Sleeps `d`; true if `stop` turned true first (or already was).
pub(crate) async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = until_stopped(stop) => true,
    }
}

/// Writes all of `buf` to `stream` (tokio's `io-util` is not among the workspace's features:
/// readiness plus `try_write`).
pub(crate) async fn write_all(stream: &TcpStream, mut buf: &[u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        stream.writable().await?;
        match stream.try_write(buf) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether the `n`th failure in a row of a retried operation is logged as a warning: the
/// first, then one in 30 (once a minute at the 2 s retry interval), so that a peer away for
/// hours leaves a trace without flooding the log.
pub(crate) fn worth_warning(n: u64) -> bool {
    n == 1 || n % 30 == 0
}

/// The seconds since the Unix epoch, now.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The order of Tstat output directories: `<YYYY_MM_DD_HH_MM>.out`, and this project's
/// `<YYYY_MM_DD_HH_MM>-<N>.out` for a second directory opened within the same minute
/// ([`crate::live`]), `N` from 2. Plain name order would put `…_00-2.out` before `…_00.out`
/// (`-` sorts before `.`) and `-10` before `-2`; this key orders by the name without the
/// suffix, then by `N` (1 without one). `None` for a name that does not end in `.out`.
pub fn out_dir_key(name: &str) -> Option<(&str, u64)> {
    let base = name.strip_suffix(".out")?;
    if base.is_empty() {
        return None;
    }
    if let Some((stem, n)) = base.rsplit_once('-') {
        if !stem.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = n.parse::<u64>() {
                return Some((stem, n));
            }
        }
    }
    Some((base, 1))
}

/// The `*.out` directories directly under `root`, oldest first by [`out_dir_key`].
pub fn out_dirs(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut dirs: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if out_dir_key(&name).is_none() {
            continue;
        }
        // Follow symbolic links, as `os.listdir` + string concatenation did in 2015.
        if std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir()) {
            dirs.push((name, entry.path()));
        }
    }
    dirs.sort_by(|(a, _), (b, _)| {
        let (ka, kb) = (out_dir_key(a), out_dir_key(b));
        ka.cmp(&kb).then_with(|| a.cmp(b))
    });
    Ok(dirs.into_iter().map(|(_, p)| p).collect())
}

/// Whether `s` can be one component of a path in the repository's store and in an upload URL
/// as it is: 1 to 255 bytes of `A-Z a-z 0-9 . _ -`, not `.` or `..`.
pub fn is_safe_component(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `s` made safe for one path component: every byte outside `A-Z a-z 0-9 . _ -` becomes `_`,
/// cut to 255 bytes; `""`, `.` and `..` become `_`.
pub fn sanitize_component(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(255)
        .collect();
    if out.is_empty() || out == "." || out == ".." {
        out = "_".into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_directories_in_writing_order() {
        let mut names = vec![
            "2026_11_22_10_05.out",
            "2026_11_22_10_00-10.out",
            "2026_11_22_10_00.out",
            "2026_11_22_10_00-2.out",
            "2026_11_22_09_59.out",
        ];
        names.sort_by_key(|n| out_dir_key(n));
        assert_eq!(
            names,
            [
                "2026_11_22_09_59.out",
                "2026_11_22_10_00.out",
                "2026_11_22_10_00-2.out",
                "2026_11_22_10_00-10.out",
                "2026_11_22_10_05.out",
            ]
        );
        assert_eq!(out_dir_key("x.out.gz"), None);
        assert_eq!(out_dir_key(".out"), None);
        assert_eq!(out_dir_key("a-.out"), Some(("a-", 1)));
        assert_eq!(out_dir_key("-3.out"), Some(("-3", 1)));

        let d = std::env::temp_dir().join(format!("export-outdirs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for n in [
            "2026_11_22_10_00-2.out",
            "2026_11_22_10_00.out",
            "notes.out",
        ] {
            std::fs::create_dir_all(d.join(n)).unwrap();
        }
        std::fs::write(d.join("file.out"), b"not a directory").unwrap();
        std::fs::write(d.join("CPanKey_2026_11_22_10_00"), b"k").unwrap();
        let got: Vec<_> = out_dirs(&d)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            got,
            [
                "2026_11_22_10_00.out",
                "2026_11_22_10_00-2.out",
                "notes.out"
            ]
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn repeated_failures_warn_sparsely() {
        let warned: Vec<u64> = (1..=90).filter(|&n| worth_warning(n)).collect();
        assert_eq!(warned, [1, 30, 60, 90]);
    }

    #[test]
    fn path_components() {
        assert!(is_safe_component("2026_11_22_10_00.out"));
        assert!(is_safe_component("log_tcp_complete.gz"));
        assert!(is_safe_component("org.mplane.SSB.Components.Tstat-1"));
        for bad in ["", ".", "..", "a/b", "a b", "a\0b", "é", &"x".repeat(256)] {
            assert!(!is_safe_component(bad), "{bad:?}");
        }
        assert_eq!(sanitize_component("a/b c"), "a_b_c");
        assert_eq!(sanitize_component(".."), "_");
        assert_eq!(sanitize_component(""), "_");
        assert_eq!(sanitize_component("Tstat-1"), "Tstat-1");
        assert!(is_safe_component(&sanitize_component(&"é".repeat(300))));
    }
}
