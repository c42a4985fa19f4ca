//! Bulk log export, the `tstat-exporter_log` capability: every completed log file of the
//! output tree uploaded to the repository's `collect_log` port over HTTPS with the probe's
//! certificate, resuming where an interrupted upload stopped.
//!
//! The 2015 proxy ran DBStream's `math_probe` for this (mplane.md §11.3), a binary that was
//! never published, speaking DBStream's protocol. This is a small protocol of our own, served by
//! [`crate::repository`]:
//!
//! | request | answer |
//! |---|---|
//! | `GET /log/<dir>/<file>` | `200 {"size": N}`: the bytes the repository holds of that file (0 if none) |
//! | `PUT /log/<dir>/<file>?offset=N` with bytes | `200 {"size": M}` once appended, when `N` is what it holds (or 0: start again, cutting what it held); `409 {"size": M}` otherwise |
//! | `POST /log/<dir>/<file>?complete=N&crc32=HEX` | `200 {"size": N, "crc32": HEX}` when its copy has exactly these size and CRC-32 (IEEE, as gzip's); `409` with its own size and CRC otherwise |
//!
//! `<dir>` is the `<date>.out` directory and `<file>` the path inside it (at most two more
//! levels), every component of `A-Z a-z 0-9 . _ -` (no percent-encoding; other names are not
//! uploaded, and said so once). Bodies are `application/octet-stream`, at most
//! [`LogExportConfig::chunk_bytes`] each; answers are `application/json`. The repository files
//! them under the uploader's certificate identity.
//!
//! **What is uploaded.** A `*.out` directory directly under the output root is complete once a
//! newer one exists (the writer finishes a directory before it opens the next); at `stop` the
//! newest is uploaded too ([`LogExportConfig::upload_newest_at_stop`], within
//! [`LogExportConfig::stop_grace`]). Files are uploaded as they are (`.gz` stays compressed).
//! Nothing outside the `.out` directories leaves the probe (notably not the Crypto-PAn key
//! files next to them).
//!
//! **Resumption.** For each file the repository's size is asked first and only the rest is
//! sent; the upload ends with the `complete` check, and a mismatch (a stored copy that differs)
//! sends the whole file again, once. A file that passed is written to the local state file
//! (JSON, replaced atomically) with its size and CRC and is not looked at again while its size
//! is the same; a file that grew (the newest directory uploaded at a stop and then written on)
//! is resumed. The state file only saves work: lost, every file is asked again and completes
//! without sending bytes the repository has. On any failure (network, an answer that is not
//! 200/409) the pass ends and starts again after [`LogExportConfig::retry_interval`].

use super::{out_dirs, sleep_or_stop, until_stopped};
use crate::mplane::net::{Endpoint, HttpClient, TlsFiles};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

/// The path prefix of the upload protocol.
pub const LOG_PATH_PREFIX: &str = "/log/";

/// Levels of subdirectories inside a `.out` directory that are uploaded.
const MAX_DEPTH: usize = 2;

/// What [`export_logs`] needs; [`LogExportConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct LogExportConfig {
    /// The output root holding the `<date>.out` directories (Tstat's `-s`).
    pub output_root: PathBuf,
    /// `repository.url`: `host:port` (HTTPS), `https://host:port`, or `http://host:port`.
    pub repository: String,
    /// The probe's certificate, key and CA (required for HTTPS).
    pub tls: Option<TlsFiles>,
    /// Where the files already uploaded are remembered.
    pub state_file: PathBuf,
    /// Time between looks for newly completed directories. Default 60 s.
    pub scan_interval: Duration,
    /// Time before trying again after a failure. Default 10 s.
    pub retry_interval: Duration,
    /// Bytes per PUT, at most. Default 4 MiB (the repository accepts up to 16 MiB).
    pub chunk_bytes: usize,
    /// Time allowed for one request and its answer. Default 60 s.
    pub http_timeout: Duration,
    /// At `stop`, upload the newest directory too. Default true.
    pub upload_newest_at_stop: bool,
    /// Time allowed for that last pass. Default 60 s.
    pub stop_grace: Duration,
}

impl LogExportConfig {
    /// The defaults for the output root, `repository.url`, the probe's TLS files and the state
    /// file.
    pub fn new(
        output_root: impl Into<PathBuf>,
        repository: impl Into<String>,
        tls: Option<TlsFiles>,
        state_file: impl Into<PathBuf>,
    ) -> LogExportConfig {
        LogExportConfig {
            output_root: output_root.into(),
            repository: repository.into(),
            tls,
            state_file: state_file.into(),
            scan_interval: Duration::from_secs(60),
            retry_interval: Duration::from_secs(10),
            chunk_bytes: 4 << 20,
            http_timeout: Duration::from_secs(60),
            upload_newest_at_stop: true,
            stop_grace: Duration::from_secs(60),
        }
    }
}

/// What a bulk export did.
#[derive(Debug, Clone, Default)]
pub struct LogExportSummary {
    /// Files whose upload completed (checked by the repository) in this run.
    pub files: u64,
    /// Bytes sent in PUT bodies.
    pub bytes: u64,
    /// Requests or reads that failed (each ends its pass; the upload resumes later).
    pub failures: u64,
    /// Files found already uploaded in the state file.
    pub skipped: u64,
    /// Files whose names cannot be uploaded (counted once each).
    pub refused_names: u64,
    /// Passes over the output tree.
    pub passes: u64,
    /// The last error, with where it happened.
    pub last_error: Option<String>,
}

impl LogExportSummary {
    fn fail(&mut self, msg: String) {
        tracing::warn!("{msg}");
        self.failures += 1;
        self.last_error = Some(msg);
    }
}

/// The local record of completed uploads.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// Format version (1).
    version: u32,
    /// `<dir>/<file>` → what was uploaded.
    done: BTreeMap<String, Done>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Done {
    size: u64,
    crc32: String,
}

impl State {
    fn load(path: &Path) -> State {
        match std::fs::read(path) {
            Ok(b) => match serde_json::from_slice::<State>(&b) {
                Ok(s) if s.version == 1 => s,
                Ok(s) => {
                    tracing::warn!(
                        file = %path.display(),
                        version = s.version,
                        "unknown state file version: asking the repository for every file"
                    );
                    State::default()
                }
                Err(e) => {
                    tracing::warn!(
                        file = %path.display(),
                        "unreadable state file ({e}): asking the repository for every file"
                    );
                    State::default()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => {
                tracing::warn!(file = %path.display(), "cannot read the state file: {e}");
                State::default()
            }
        }
    }

    fn save(&mut self, path: &Path) -> Result<(), String> {
        self.version = 1;
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| format!("{}: cannot encode the state: {e}", path.display()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("{}: cannot write the state: {e}", path.display()))
    }
}

/// The files of a `.out` directory, as `(key, path)` with `key = "<dir>/<relative path>"`,
/// sorted; names that cannot be uploaded go to `refused`.
fn files_of(dir: &Path, refused: &mut Vec<PathBuf>) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let Some(dname) = dir.file_name().and_then(|n| n.to_str()) else {
        refused.push(dir.to_path_buf());
        return Ok(out);
    };
    if !super::is_safe_component(dname) {
        refused.push(dir.to_path_buf());
        return Ok(out);
    }
    walk(dir, dname.to_string(), 0, &mut out, refused)?;
    out.sort();
    Ok(out)
}

fn walk(
    dir: &Path,
    key: String,
    depth: usize,
    out: &mut Vec<(String, PathBuf)>,
    refused: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let name = entry.file_name();
        let name = match name.to_str() {
            Some(n) if super::is_safe_component(n) => n.to_string(),
            _ => {
                refused.push(path);
                continue;
            }
        };
        if meta.is_file() {
            out.push((format!("{key}/{name}"), path));
        } else if meta.is_dir() && depth < MAX_DEPTH {
            walk(&path, format!("{key}/{name}"), depth + 1, out, refused)?;
        }
    }
    Ok(())
}

/// The CRC-32 of the first `size` bytes of `path` (the repository checks uploads with it too).
pub(crate) fn crc_of(path: &Path, size: u64) -> std::io::Result<u32> {
    let f = std::fs::File::open(path)?;
    let mut crc = flate2::Crc::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < size {
        let want = usize::try_from(size - at)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        f.read_exact_at(&mut buf[..want], at)?;
        crc.update(&buf[..want]);
        at += want as u64;
    }
    Ok(crc.sum())
}

async fn read_chunk(path: PathBuf, at: u64, len: usize) -> Result<Vec<u8>, String> {
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&path)?;
        let mut buf = vec![0u8; len];
        f.read_exact_at(&mut buf, at)?;
        Ok::<_, std::io::Error>(buf)
    })
    .await
    .map_err(|e| format!("{shown}: reading failed: {e}"))?
    .map_err(|e| format!("{shown}: cannot read {len} bytes at {at}: {e}"))
}

/// The `size` of a JSON answer.
fn size_of_answer(body: &[u8]) -> Option<u64> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()?
        .get("size")?
        .as_u64()
}

fn answer_text(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
}

/// Uploads one file of `size` bytes; its CRC once the repository confirmed its copy.
async fn upload(
    client: &mut HttpClient,
    cfg: &LogExportConfig,
    key: &str,
    path: &Path,
    size: u64,
    s: &mut LogExportSummary,
) -> Result<u32, String> {
    let url_path = format!("{LOG_PATH_PREFIX}{key}");
    let url = client.endpoint().url(&url_path);
    let r = client
        .request("GET", &url_path, None, Vec::new())
        .await
        .map_err(|e| format!("{e:#}"))?;
    let held = match (r.status, size_of_answer(&r.body)) {
        (200, Some(n)) => n,
        _ => {
            return Err(format!(
                "{url}: GET answered {} {}",
                r.status,
                answer_text(&r.body)
            ))
        }
    };
    let mut restarted = false;
    let mut offset = held;
    if held > size {
        tracing::warn!(
            %url,
            held,
            size,
            "the repository holds more than the file: uploading it again"
        );
        offset = 0;
        restarted = true;
    }
    let mut conflicts = 0u32;
    loop {
        // Send what the repository lacks (an empty file still gets its PUT, which creates it).
        let mut first = true;
        while offset < size || (first && offset == 0 && size == 0) {
            first = false;
            let len = usize::try_from(size - offset)
                .unwrap_or(usize::MAX)
                .min(cfg.chunk_bytes.max(1));
            let body = read_chunk(path.to_path_buf(), offset, len).await?;
            let put = format!("{url_path}?offset={offset}");
            let r = client
                .request("PUT", &put, Some("application/octet-stream"), body)
                .await
                .map_err(|e| format!("{e:#}"))?;
            let answered = size_of_answer(&r.body);
            match (r.status, answered) {
                (200, Some(n)) if n == offset + len as u64 => {
                    s.bytes += len as u64;
                    offset = n;
                }
                (409, Some(n)) if n <= size && conflicts < 3 => {
                    conflicts += 1;
                    tracing::info!(%url, offset, held = n, "the repository holds another length: going on from it");
                    offset = n;
                }
                (409, Some(_)) if !restarted => {
                    restarted = true;
                    offset = 0;
                }
                _ => {
                    return Err(format!(
                        "{url}: PUT at {offset} answered {} {}",
                        r.status,
                        answer_text(&r.body)
                    ))
                }
            }
        }
        let p = path.to_path_buf();
        let crc = tokio::task::spawn_blocking(move || crc_of(&p, size))
            .await
            .map_err(|e| format!("{}: CRC failed: {e}", path.display()))?
            .map_err(|e| format!("{}: cannot read for the CRC: {e}", path.display()))?;
        let check = format!("{url_path}?complete={size}&crc32={crc:08x}");
        let r = client
            .request("POST", &check, None, Vec::new())
            .await
            .map_err(|e| format!("{e:#}"))?;
        match r.status {
            200 => return Ok(crc),
            409 if !restarted => {
                tracing::warn!(
                    %url,
                    answer = %answer_text(&r.body),
                    "the stored copy differs: uploading the whole file again"
                );
                restarted = true;
                offset = 0;
            }
            _ => {
                return Err(format!(
                    "{url}: completion check answered {} {}",
                    r.status,
                    answer_text(&r.body)
                ))
            }
        }
    }
}

/// One pass over the completed directories (all of them with `include_newest`). Ends early,
/// `false`, at the first failure, or when `stop` turns true.
async fn pass(
    client: &mut HttpClient,
    cfg: &LogExportConfig,
    state: &mut State,
    warned: &mut HashSet<PathBuf>,
    s: &mut LogExportSummary,
    include_newest: bool,
    stop: Option<&watch::Receiver<bool>>,
) -> bool {
    s.passes += 1;
    let mut dirs = match out_dirs(&cfg.output_root) {
        Ok(d) => d,
        Err(e) => {
            s.fail(format!(
                "bulk export: {}: cannot list the output directory: {e}",
                cfg.output_root.display()
            ));
            return false;
        }
    };
    if !include_newest {
        dirs.pop();
    }
    for dir in dirs {
        let mut refused = Vec::new();
        let files = match files_of(&dir, &mut refused) {
            Ok(f) => f,
            Err(e) => {
                s.fail(format!("bulk export: {}: cannot list: {e}", dir.display()));
                return false;
            }
        };
        for p in refused {
            if warned.insert(p.clone()) {
                s.refused_names += 1;
                tracing::warn!(
                    file = %p.display(),
                    "bulk export: a name outside A-Z a-z 0-9 . _ - is not uploaded"
                );
            }
        }
        for (key, path) in files {
            if stop.is_some_and(|st| *st.borrow()) {
                return true;
            }
            let size = match std::fs::metadata(&path) {
                Ok(m) => m.len(),
                Err(e) => {
                    s.fail(format!("bulk export: {}: cannot stat: {e}", path.display()));
                    return false;
                }
            };
            if state.done.get(&key).is_some_and(|d| d.size == size) {
                s.skipped += 1;
                continue;
            }
            match upload(client, cfg, &key, &path, size, s).await {
                Ok(crc) => {
                    s.files += 1;
                    tracing::debug!(file = %path.display(), size, "uploaded");
                    state.done.insert(
                        key,
                        Done {
                            size,
                            crc32: format!("{crc:08x}"),
                        },
                    );
                    if let Err(e) = state.save(&cfg.state_file) {
                        tracing::warn!("bulk export: {e}");
                    }
                }
                Err(e) => {
                    s.fail(format!(
                        "bulk export: {e}; resuming in {} s",
                        cfg.retry_interval.as_secs_f64()
                    ));
                    return false;
                }
            }
        }
    }
    true
}

/// Uploads every completed log directory, looking again every
/// [`LogExportConfig::scan_interval`], until `stop` turns true; then, by default, the newest
/// directory too.
pub async fn export_logs(
    cfg: LogExportConfig,
    mut stop: watch::Receiver<bool>,
) -> LogExportSummary {
    let mut s = LogExportSummary::default();
    let endpoint = match Endpoint::parse(&cfg.repository) {
        Ok(e) => e,
        Err(e) => {
            s.fail(format!(
                "bulk export: repository.url {:?}: {e:#}",
                cfg.repository
            ));
            return s;
        }
    };
    let mut client = match HttpClient::new(endpoint.clone(), cfg.tls.as_ref(), cfg.http_timeout) {
        Ok(c) => c,
        Err(e) => {
            s.fail(format!("bulk export to {endpoint}: {e:#}"));
            return s;
        }
    };
    tracing::info!(
        repository = %endpoint,
        root = %cfg.output_root.display(),
        "bulk log export started"
    );
    let mut state = State::load(&cfg.state_file);
    let mut warned = HashSet::new();
    loop {
        // A stop ends the pass at once, even inside an upload: the last pass resumes it.
        let mut watcher = stop.clone();
        let ok = tokio::select! {
            ok = pass(&mut client, &cfg, &mut state, &mut warned, &mut s, false, Some(&stop)) => ok,
            _ = until_stopped(&mut watcher) => break,
        };
        let wait = if ok {
            cfg.scan_interval
        } else {
            cfg.retry_interval
        };
        if sleep_or_stop(wait, &mut stop).await {
            break;
        }
    }
    if cfg.upload_newest_at_stop {
        // A new client: the pass cut by the stop may have left a request half-way.
        let mut client = match HttpClient::new(endpoint.clone(), cfg.tls.as_ref(), cfg.http_timeout)
        {
            Ok(c) => c,
            Err(e) => {
                s.fail(format!("bulk export to {endpoint}: {e:#}"));
                return s;
            }
        };
        let last = pass(
            &mut client,
            &cfg,
            &mut state,
            &mut warned,
            &mut s,
            true,
            None,
        );
        if tokio::time::timeout(cfg.stop_grace, last).await.is_err() {
            s.fail(format!(
                "bulk export: the last pass did not end within {} s; it resumes next time",
                cfg.stop_grace.as_secs_f64()
            ));
        }
    }
    tracing::info!(
        files = s.files,
        bytes = s.bytes,
        failures = s.failures,
        "bulk log export ended"
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_state() {
        let d = std::env::temp_dir().join(format!("bulk-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let out = d.join("2026_11_22_10_00.out");
        std::fs::create_dir_all(out.join("LAST/deep/deeper")).unwrap();
        std::fs::write(out.join("log_tcp_complete"), b"x").unwrap();
        std::fs::write(out.join("LAST/histo"), b"y").unwrap();
        std::fs::write(out.join("LAST/deep/deeper/too_deep"), b"z").unwrap();
        std::fs::write(out.join("bad name"), b"z").unwrap();
        let mut refused = Vec::new();
        let files: Vec<String> = files_of(&out, &mut refused)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            files,
            [
                "2026_11_22_10_00.out/LAST/histo",
                "2026_11_22_10_00.out/log_tcp_complete"
            ]
        );
        assert_eq!(refused, [out.join("bad name")]);
        assert_eq!(crc_of(&out.join("log_tcp_complete"), 1).unwrap(), {
            let mut c = flate2::Crc::new();
            c.update(b"x");
            c.sum()
        });

        let sf = d.join("state/bulk.json");
        let mut st = State::load(&sf);
        assert!(st.done.is_empty());
        st.done.insert(
            "a.out/f".into(),
            Done {
                size: 3,
                crc32: "0000abcd".into(),
            },
        );
        st.save(&sf).unwrap();
        assert_eq!(State::load(&sf).done, st.done);
        std::fs::write(&sf, b"{broken").unwrap();
        assert!(State::load(&sf).done.is_empty());
        assert_eq!(size_of_answer(br#"{"size": 42}"#), Some(42));
        assert_eq!(size_of_answer(br#"{"size": -1}"#), None);
        assert_eq!(size_of_answer(b"42"), None);
        let _ = std::fs::remove_dir_all(&d);
    }
}
