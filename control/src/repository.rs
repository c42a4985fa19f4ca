//! The repository: the receiving end of the three indirect exports (mplane.md §11, §12.4),
//! run by `tstat-dpdk repository -c FILE`, and its three `repository-collect_*` capabilities.
//!
//! | port (default) | protocol | what it does with it |
//! |---|---|---|
//! | `rrd_port` (9000) | HTTPS, mutual TLS: `POST /register/result/indirect_export` | each `[file, time, value]` triple becomes a Graphite plaintext line `tstat.<id>.<metric> <value> <time>` sent to carbon |
//! | `streaming_port` (9001) | raw TCP: `<log path> <line>\n` | each line appended to `<store>/streaming/<peer ip>/<dir>.out/<log>` |
//! | `log_port` (3000) | HTTPS, mutual TLS: the resumable upload of [`crate::mplane::export::bulk`] | files stored as `<store>/logs/<identity>/<dir>.out/<file>` |
//!
//! **RRD import** (§11.1). The body must come with `Content-Type: application/json` exactly and
//! be a JSON list of `[string, number, number]`: a wrong content type or a body that is not JSON
//! gets `400 Invalid format`, a body that is not a list `400 Not a result (or exception)` (the
//! 2015 texts), a malformed item `400 Invalid format: item N: …`; otherwise `200` with an empty
//! `text/html` body, once the lines are queued for carbon. With `require_identity` set, a sender
//! whose identity does not contain it gets `401` (the 2015 repository required `Components`).
//! The Graphite path is `tstat.<id>.<metric path>`:
//! - `<id>` is the last `-`-separated piece of the sender's identity (`…Components.Tstat-1` →
//!   `1`), as in 2015; characters outside `A-Z a-z 0-9 _ -` (dots included) become `_`, so it
//!   is always one node;
//! - the metric path is [`metric_path`] of the file name: `<first two _-pieces of the
//!   histogram>.<histogram>[.<statistic>][.<data source>]`, every node cleaned the same way —
//!   `ip_bitrate_in.rrd` → `ip.bitrate.ip_bitrate_in`, `ip_len_in.avg.rrd` →
//!   `ip.len.ip_len_in.avg`, `L4_flow_number.idx0.rrd` → `L4.flow.L4_flow_number.idx0`,
//!   `cpu.rrd:user` → `cpu.user`. (The 2015 repository's hand-written classifier,
//!   `rrd_file_grouping.py`, spelt out indices as names with spaces and fell back to
//!   `Unkown_in_out_loc` for many files, e.g. `ip.bitrate.Unkown_in_out_loc.ip_bitrate_in`; this
//!   rule is regular, keeps every file apart, and keeps a file's statistics under one node.)
//!
//! Values and times are written in Rust's shortest round-trip decimal form. Lines wait for
//! carbon in a queue of at most `carbon_backlog` lines (full: the oldest are dropped and
//! counted); the connection is opened again every 2 s while carbon is away, and a batch that
//! failed is sent again whole — carbon keeps one value per path and time, so a repeated line is
//! harmless.
//!
//! **Streaming** (§11.2). The lines carry no identity (the protocol is plain TCP), so they are
//! filed by the peer's IP address. The log path of a line is cut to its part from the last
//! directory named `*.out` (or to its last two components when there is none), a `.gz` suffix
//! is dropped (lines arrive decoded), and every component is cleaned as above. Right after
//! accepting, the repository sends `ACK 0\n`, and after storing each batch read `ACK <n>\n`,
//! `n` the lines stored from this connection: the exporter resends what is not acknowledged
//! ([`crate::mplane::export::streaming`]); the 2015 exporter never reads them. A batch that
//! cannot be stored closes the connection unacknowledged, so the exporter sends it again. A
//! line without a space, or longer than 1 MiB, is dropped and counted.
//!
//! **Bulk upload.** The protocol of [`crate::mplane::export::bulk`], files filed by the
//! uploader's identity (cleaned as one path component).
//!
//! The configuration file (TOML, unknown keys refused; relative paths are relative to the
//! file's directory):
//!
//! ```toml
//! # The address put in the capabilities' repository.url (the 2015 repository_ip). Required.
//! ip = "192.0.2.10"
//! # The address the three servers listen on. Default: `ip` when it is an address, else
//! # 0.0.0.0.
//! bind = "0.0.0.0"
//! # Ports (0: any free port). Defaults 9000, 9001, 3000 (2015's).
//! rrd_port = 9000
//! streaming_port = 9001
//! log_port = 3000
//! # Where streamed lines and uploaded logs are stored. Required.
//! store = "/var/lib/tstat-dpdk/repository"
//! # Graphite's carbon plaintext receiver, host:port. Default "127.0.0.1:2003".
//! carbon = "127.0.0.1:2003"
//! # Lines waiting for carbon, at most. Default 100000.
//! carbon_backlog = 100000
//! # If set, only senders whose identity contains this may POST RRD triples. Default unset.
//! # require_identity = "Components"
//! # The repository's certificate, key and the domain CA (PEM). Without this table both HTTPS
//! # ports speak plain HTTP and every sender is Identity.Unauthenticated.Default.
//! [tls]
//! cert = "pki/Repository-1.pem"
//! key = "pki/Repository-1-plaintext.key"
//! ca = "pki/root-ca.pem"
//! ```

use crate::mplane::export::bulk::LOG_PATH_PREFIX;
use crate::mplane::export::rrd::Triple;
use crate::mplane::export::{
    is_safe_component, sanitize_component, sleep_or_stop, until_stopped, worth_warning, write_all,
    INDIRECT_EXPORT_PATH, JSON_CONTENT_TYPE,
};
use crate::mplane::matching::validate_capability;
use crate::mplane::model::{Capability, VERB_MEASURE};
use crate::mplane::net::{self, Handler, Reply, Request, ServerLimits, TlsFiles};
use crate::mplane::registry::{Registries, TSTAT_REGISTRY_URI};
use crate::mplane::{capability_token, Constraint, When};
use anyhow::{bail, Context};
use serde::Deserialize;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};

/// Default ports (2015's).
pub const DEFAULT_RRD_PORT: u16 = 9000;
/// Default streaming port.
pub const DEFAULT_STREAMING_PORT: u16 = 9001;
/// Default bulk upload port.
pub const DEFAULT_LOG_PORT: u16 = 3000;
/// Default carbon plaintext receiver.
pub const DEFAULT_CARBON: &str = "127.0.0.1:2003";

/// Longest streamed line accepted: the exporter's longest line plus room for its path.
const MAX_STREAM_LINE: usize = (1 << 20) + 4096;
/// Streaming connections served at once.
const MAX_STREAM_CONNECTIONS: usize = 256;
/// Files a streaming connection keeps open.
const MAX_OPEN_FILES: usize = 16;
/// Lines per write to carbon.
const CARBON_BATCH: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConf {
    ip: String,
    bind: Option<IpAddr>,
    rrd_port: Option<u16>,
    streaming_port: Option<u16>,
    log_port: Option<u16>,
    store: PathBuf,
    carbon: Option<String>,
    carbon_backlog: Option<usize>,
    require_identity: Option<String>,
    tls: Option<RawTls>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
}

/// The repository's configuration (the keys are documented in the module's text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryConf {
    /// The address advertised in `repository.url`.
    pub ip: String,
    /// The address the servers listen on.
    pub bind: IpAddr,
    /// RRD import port (HTTPS). Default 9000; 0 picks a free one.
    pub rrd_port: u16,
    /// Streaming port (TCP). Default 9001.
    pub streaming_port: u16,
    /// Bulk upload port (HTTPS). Default 3000.
    pub log_port: u16,
    /// Root of the stored lines and logs.
    pub store: PathBuf,
    /// Carbon's plaintext receiver, `host:port`. Default `127.0.0.1:2003`.
    pub carbon: String,
    /// Lines waiting for carbon, at most. Default 100 000.
    pub carbon_backlog: usize,
    /// Time between connection attempts to carbon. Default 2 s (not in the file).
    pub carbon_reconnect: Duration,
    /// Only identities containing this may POST RRD triples. Default none.
    pub require_identity: Option<String>,
    /// The server identity; `None`: plain HTTP.
    pub tls: Option<TlsFiles>,
}

impl RepositoryConf {
    /// The defaults for the advertised address and the store.
    pub fn new(ip: impl Into<String>, store: impl Into<PathBuf>) -> RepositoryConf {
        let ip = ip.into();
        RepositoryConf {
            bind: ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            ip,
            rrd_port: DEFAULT_RRD_PORT,
            streaming_port: DEFAULT_STREAMING_PORT,
            log_port: DEFAULT_LOG_PORT,
            store: store.into(),
            carbon: DEFAULT_CARBON.into(),
            carbon_backlog: 100_000,
            carbon_reconnect: Duration::from_secs(2),
            require_identity: None,
            tls: None,
        }
    }

    /// Parses the TOML text; relative paths are taken relative to `base`.
    pub fn from_toml(text: &str, base: &Path) -> anyhow::Result<RepositoryConf> {
        let raw: RawConf = toml::from_str(text).context("repository configuration")?;
        let ip = raw.ip.trim().to_string();
        if ip.is_empty()
            || ip == "*"
            || ip.contains(',')
            || ip.contains(" ... ")
            || ip.bytes().any(|b| b.is_ascii_whitespace())
        {
            bail!("ip {:?}: not an address or host name", raw.ip);
        }
        let resolve = |p: PathBuf| if p.is_relative() { base.join(p) } else { p };
        let mut conf = RepositoryConf::new(ip, resolve(raw.store));
        if let Some(b) = raw.bind {
            conf.bind = b;
        }
        conf.rrd_port = raw.rrd_port.unwrap_or(DEFAULT_RRD_PORT);
        conf.streaming_port = raw.streaming_port.unwrap_or(DEFAULT_STREAMING_PORT);
        conf.log_port = raw.log_port.unwrap_or(DEFAULT_LOG_PORT);
        if let Some(c) = raw.carbon {
            if c.rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .is_none()
            {
                bail!("carbon {c:?}: not host:port");
            }
            conf.carbon = c;
        }
        if let Some(n) = raw.carbon_backlog {
            if n == 0 {
                bail!("carbon_backlog must be at least 1");
            }
            conf.carbon_backlog = n;
        }
        conf.require_identity = raw.require_identity.filter(|s| !s.is_empty());
        conf.tls = raw.tls.map(|t| TlsFiles {
            cert: resolve(t.cert),
            key: resolve(t.key),
            ca: resolve(t.ca),
        });
        Ok(conf)
    }

    /// Reads and parses the file `path`.
    pub fn load(path: &Path) -> anyhow::Result<RepositoryConf> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        RepositoryConf::from_toml(&text, base).with_context(|| path.display().to_string())
    }
}

/// Counters of a running repository.
#[derive(Debug, Default)]
pub struct RepositoryStats {
    /// RRD POSTs accepted.
    pub rrd_posts: AtomicU64,
    /// Triples received in them.
    pub triples: AtomicU64,
    /// RRD POSTs refused (400, 401).
    pub rrd_refused: AtomicU64,
    /// Lines written to carbon.
    pub carbon_sent: AtomicU64,
    /// Lines dropped because the carbon queue was full.
    pub carbon_dropped: AtomicU64,
    /// Connections to carbon opened.
    pub carbon_connections: AtomicU64,
    /// Streaming connections accepted.
    pub streaming_connections: AtomicU64,
    /// Streamed lines stored.
    pub streaming_lines: AtomicU64,
    /// Streamed lines dropped (no path, too long).
    pub streaming_rejected: AtomicU64,
    /// Uploaded log bytes stored.
    pub log_bytes: AtomicU64,
    /// Uploads whose completion check passed.
    pub log_completed: AtomicU64,
    /// The last triples received, numbered from 1 (for the results of `repository-collect_rrd`).
    pub recent: std::sync::Mutex<std::collections::VecDeque<(u64, Triple)>>,
}

/// How many received triples the repository keeps for the results of its collect jobs.
pub const RECENT_TRIPLES: usize = 10_000;

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------------------------
// Graphite paths and carbon.

/// One Graphite node: `A-Z a-z 0-9 _ -` kept, anything else `_`; never empty.
fn graphite_node(s: &str) -> String {
    let n: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if n.is_empty() {
        "_".into()
    } else {
        n
    }
}

/// The `<id>` node of a sender: the last `-`-separated piece of its identity, cleaned.
pub fn identity_node(identity: &str) -> String {
    graphite_node(identity.rsplit('-').next().unwrap_or(identity))
}

/// The readable Graphite path of an RRD file name (the rule is in the module's text).
pub fn metric_path(name: &str) -> String {
    let (file, ds) = match name.rsplit_once(':') {
        Some((f, d)) => (f, Some(d)),
        None => (name, None),
    };
    let stem = file.strip_suffix(".rrd").unwrap_or(file);
    let (histo, stat) = match stem.split_once('.') {
        Some((h, s)) => (h, Some(s)),
        None => (stem, None),
    };
    let pieces: Vec<&str> = histo.split('_').filter(|p| !p.is_empty()).collect();
    let mut nodes: Vec<&str> = Vec::new();
    if pieces.len() >= 2 {
        nodes.extend(&pieces[..2]);
    }
    nodes.push(histo);
    if let Some(st) = stat {
        nodes.extend(st.split('.'));
    }
    if let Some(d) = ds {
        nodes.push(d);
    }
    let nodes: Vec<String> = nodes
        .into_iter()
        .filter(|n| !n.is_empty())
        .map(graphite_node)
        .collect();
    if nodes.is_empty() {
        "_".into()
    } else {
        nodes.join(".")
    }
}

/// The full Graphite path of a triple from `identity`: `tstat.<id>.<metric path>`.
pub fn carbon_path(identity: &str, metric: &str) -> String {
    format!("tstat.{}.{}", identity_node(identity), metric_path(metric))
}

/// The carbon plaintext line of a triple: `<path> <value> <time>\n`.
pub fn carbon_line(identity: &str, t: &Triple) -> String {
    format!(
        "{} {} {}\n",
        carbon_path(identity, &t.metric),
        t.value,
        t.timestamp
    )
}

struct CarbonShared {
    queue: Mutex<VecDeque<String>>,
    notify: Notify,
    max: usize,
    stats: Arc<RepositoryStats>,
}

/// The queue of lines for carbon, and its forwarder ([`CarbonSink::forward`]).
#[derive(Clone)]
pub struct CarbonSink {
    shared: Arc<CarbonShared>,
}

impl CarbonSink {
    /// An empty queue of at most `max_lines` lines.
    pub fn new(max_lines: usize, stats: Arc<RepositoryStats>) -> CarbonSink {
        CarbonSink {
            shared: Arc::new(CarbonShared {
                queue: Mutex::new(VecDeque::new()),
                notify: Notify::new(),
                max: max_lines.max(1),
                stats,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<String>> {
        // A poisoned queue still holds valid lines: nothing panics while holding it anyway.
        self.shared.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues lines, dropping the oldest beyond the bound.
    pub fn push(&self, lines: impl IntoIterator<Item = String>) {
        let mut dropped = 0u64;
        {
            let mut q = self.lock();
            for l in lines {
                if q.len() == self.shared.max {
                    q.pop_front();
                    dropped += 1;
                }
                q.push_back(l);
            }
        }
        if dropped > 0 {
            add(&self.shared.stats.carbon_dropped, dropped);
            tracing::warn!(dropped, "carbon queue full: oldest lines dropped");
        }
        self.shared.notify.notify_one();
    }

    /// Lines waiting.
    pub fn queued(&self) -> usize {
        self.lock().len()
    }

    /// Puts a batch that failed back at the front, within the bound.
    fn requeue(&self, batch: Vec<String>) {
        let mut q = self.lock();
        let mut dropped = 0u64;
        for l in batch.into_iter().rev() {
            if q.len() == self.shared.max {
                dropped += 1;
                continue;
            }
            q.push_front(l);
        }
        drop(q);
        add(&self.shared.stats.carbon_dropped, dropped);
    }

    fn take(&self) -> Vec<String> {
        let mut q = self.lock();
        let n = q.len().min(CARBON_BATCH);
        q.drain(..n).collect()
    }

    /// Sends queued lines to carbon at `addr` until `stop`, reconnecting every `reconnect`;
    /// at `stop`, what is queued gets one more second.
    pub async fn forward(self, addr: String, reconnect: Duration, mut stop: watch::Receiver<bool>) {
        let mut stream: Option<TcpStream> = None;
        let mut failures = 0u64;
        let mut stopping = false;
        let deadline_after_stop = Duration::from_secs(1);
        let mut stop_deadline: Option<tokio::time::Instant> = None;
        loop {
            if stopping && (self.queued() == 0 || stream.is_none()) {
                return;
            }
            if !stopping && self.queued() == 0 {
                tokio::select! {
                    _ = self.shared.notify.notified() => {}
                    _ = until_stopped(&mut stop) => {
                        stopping = true;
                        stop_deadline = Some(tokio::time::Instant::now() + deadline_after_stop);
                        continue;
                    }
                }
            }
            if stopping && stop_deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                return;
            }
            let s = match stream.take() {
                Some(s) => s,
                None => {
                    match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&addr))
                        .await
                    {
                        Ok(Ok(s)) => {
                            failures = 0;
                            add(&self.shared.stats.carbon_connections, 1);
                            tracing::info!(carbon = %addr, queued = self.queued(), "connected to carbon");
                            s
                        }
                        Ok(Err(e)) => {
                            failures += 1;
                            if worth_warning(failures) {
                                tracing::warn!(
                                    carbon = %addr,
                                    queued = self.queued(),
                                    "cannot connect to carbon: {e}; retrying every {} s \
                                     ({failures} failed in a row)",
                                    reconnect.as_secs_f64()
                                );
                            }
                            if stopping {
                                return;
                            }
                            if sleep_or_stop(reconnect, &mut stop).await {
                                stopping = true;
                                stop_deadline =
                                    Some(tokio::time::Instant::now() + deadline_after_stop);
                            }
                            continue;
                        }
                        Err(_) => {
                            tracing::warn!(carbon = %addr, "connecting to carbon timed out");
                            if stopping {
                                return;
                            }
                            continue;
                        }
                    }
                }
            };
            let batch = self.take();
            if batch.is_empty() {
                stream = Some(s);
                continue;
            }
            let bytes: Vec<u8> = batch.iter().flat_map(|l| l.bytes()).collect();
            match tokio::time::timeout(Duration::from_secs(30), write_all(&s, &bytes)).await {
                Ok(Ok(())) => {
                    add(&self.shared.stats.carbon_sent, batch.len() as u64);
                    stream = Some(s);
                }
                Ok(Err(e)) => {
                    tracing::warn!(carbon = %addr, lines = batch.len(), "writing to carbon failed: {e}; reconnecting");
                    self.requeue(batch);
                }
                Err(_) => {
                    tracing::warn!(carbon = %addr, lines = batch.len(), "carbon took no data for 30 s; reconnecting");
                    self.requeue(batch);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RRD import.

/// Handles one request on the RRD port: the decision of §11.1, the lines queued on `sink`.
pub fn handle_rrd(
    req: &Request,
    sink: &CarbonSink,
    require_identity: Option<&str>,
    stats: &RepositoryStats,
) -> Reply {
    let path = req.path.trim_end_matches('/');
    if path != INDIRECT_EXPORT_PATH {
        return Reply::text(404, "Not found");
    }
    if req.method != "POST" {
        return Reply::text(405, "Method not allowed");
    }
    if let Some(need) = require_identity {
        if !req.peer.identity.contains(need) {
            add(&stats.rrd_refused, 1);
            return Reply::text(401, "Not Authorized. Only Components can use this function");
        }
    }
    if req.content_type() != Some(JSON_CONTENT_TYPE) {
        add(&stats.rrd_refused, 1);
        return Reply::text(400, "Invalid format");
    }
    let triples = match Triple::parse_list(&req.body) {
        Ok(t) => t,
        Err(e) => {
            add(&stats.rrd_refused, 1);
            tracing::info!(peer = %req.peer.addr, identity = %req.peer.identity, "RRD import refused: {e}");
            return match e {
                crate::mplane::export::rrd::TripleError::NotAList => {
                    Reply::text(400, "Not a result (or exception)")
                }
                crate::mplane::export::rrd::TripleError::NotJson(_) => {
                    Reply::text(400, "Invalid format")
                }
                other => Reply::text(400, format!("Invalid format: {other}")),
            };
        }
    };
    add(&stats.rrd_posts, 1);
    let first = stats
        .triples
        .fetch_add(triples.len() as u64, Ordering::Relaxed)
        + 1;
    {
        let mut recent = stats.recent.lock().unwrap_or_else(|p| p.into_inner());
        for (i, t) in triples.iter().enumerate() {
            if recent.len() == RECENT_TRIPLES {
                recent.pop_front();
            }
            recent.push_back((first + i as u64, t.clone()));
        }
    }
    let identity = &req.peer.identity;
    sink.push(triples.iter().map(|t| carbon_line(identity, t)));
    Reply::new(200, "text/html", Vec::new())
}

// ---------------------------------------------------------------------------------------------
// Streaming.

/// Where a streamed line of the log `log_path` from `peer` is stored under `root`
/// (`<store>/streaming`); `None` for a path with no file name.
pub fn streaming_store_path(root: &Path, peer: IpAddr, log_path: &Path) -> Option<PathBuf> {
    let names: Vec<String> = log_path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if names.is_empty() {
        return None;
    }
    let from = names
        .iter()
        .rposition(|n| n.ends_with(".out"))
        .filter(|&i| i + 1 < names.len())
        .unwrap_or(names.len().saturating_sub(2));
    let mut rel: Vec<String> = names[from..].to_vec();
    if rel.len() > 4 {
        rel.drain(..rel.len() - 4);
    }
    if let Some(last) = rel.last_mut() {
        if let Some(s) = last.strip_suffix(".gz").filter(|s| !s.is_empty()) {
            *last = s.to_string();
        }
    }
    let mut p = root.join(sanitize_component(&peer.to_string()));
    for n in rel {
        p.push(sanitize_component(&n));
    }
    Some(p)
}

/// Appends each batch of lines to its file (opening at most [`MAX_OPEN_FILES`] at a time).
fn store_batches(
    batches: &mut HashMap<PathBuf, Vec<u8>>,
    files: &mut HashMap<PathBuf, std::fs::File>,
) -> Result<(), String> {
    for (path, bytes) in batches.drain() {
        if !files.contains_key(&path) {
            if files.len() >= MAX_OPEN_FILES {
                files.clear();
            }
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
            }
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
            files.insert(path.clone(), f);
        }
        if let Some(f) = files.get_mut(&path) {
            use std::io::Write;
            f.write_all(&bytes)
                .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
        }
    }
    Ok(())
}

async fn stream_connection(
    sock: TcpStream,
    peer: SocketAddr,
    root: PathBuf,
    stats: Arc<RepositoryStats>,
    mut stop: watch::Receiver<bool>,
) {
    add(&stats.streaming_connections, 1);
    tracing::info!(%peer, "streaming connection");
    if tokio::time::timeout(Duration::from_secs(5), write_all(&sock, b"ACK 0\n"))
        .await
        .map_or(true, |r| r.is_err())
    {
        tracing::info!(%peer, "streaming peer gone before the greeting");
        return;
    }
    let mut buf: Vec<u8> = Vec::with_capacity(64 << 10);
    let mut discarding = false;
    let mut stored: u64 = 0;
    let mut files: HashMap<PathBuf, std::fs::File> = HashMap::new();
    let mut batches: HashMap<PathBuf, Vec<u8>> = HashMap::new();
    let mut tmp = vec![0u8; 64 << 10];
    let mut warned = false;
    let mut ack_out: Vec<u8> = Vec::new();
    loop {
        tokio::select! {
            r = sock.readable() => if let Err(e) = r {
                tracing::info!(%peer, "streaming connection failed: {e}");
                return;
            },
            _ = until_stopped(&mut stop) => return,
        }
        let mut eof = false;
        let mut read = 0usize;
        while read < (1 << 20) {
            match sock.try_read(&mut tmp) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    read += n;
                    buf.extend_from_slice(&tmp[..n]);
                    if buf.len() > MAX_STREAM_LINE && !buf.contains(&b'\n') {
                        // A line too long: drop what there is of it up to its newline.
                        buf.clear();
                        if !discarding {
                            discarding = true;
                            add(&stats.streaming_rejected, 1);
                            stored += 1; // acknowledged like any other line once it ends
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::info!(%peer, "streaming connection failed: {e}");
                    return;
                }
            }
        }
        let mut lines = 0u64;
        let mut kept = 0u64;
        let mut start = 0usize;
        while let Some(i) = buf[start..].iter().position(|&b| b == b'\n') {
            let line = &buf[start..start + i];
            start += i + 1;
            if discarding {
                discarding = false;
                continue;
            }
            // Every complete line counts for the acknowledgement, stored or dropped.
            lines += 1;
            let Some(sp) = line.iter().position(|&b| b == b' ') else {
                add(&stats.streaming_rejected, 1);
                if !warned {
                    warned = true;
                    tracing::warn!(%peer, "streamed line without a path: dropped");
                }
                continue;
            };
            let log = Path::new(std::ffi::OsStr::from_bytes(&line[..sp]));
            let Some(dest) = streaming_store_path(&root, peer.ip(), log) else {
                add(&stats.streaming_rejected, 1);
                continue;
            };
            let b = batches.entry(dest).or_default();
            b.extend_from_slice(&line[sp + 1..]);
            b.push(b'\n');
            kept += 1;
        }
        buf.drain(..start);
        if discarding {
            buf.clear();
        }
        if let Err(e) = store_batches(&mut batches, &mut files) {
            tracing::error!(%peer, "streamed lines not stored: {e}; closing without acknowledging them");
            return;
        }
        add(&stats.streaming_lines, kept);
        stored += lines;
        // No await between storing and acknowledging: a task aborted here has done both or
        // neither. What a full send buffer did not take goes first next time; while much is
        // waiting, an acknowledgement is skipped (the next one counts its lines too).
        if ack_out.len() < 1024 {
            ack_out.extend_from_slice(format!("ACK {stored}\n").as_bytes());
        }
        if let Ok(n) = sock.try_write(&ack_out) {
            ack_out.drain(..n);
        }
        if eof {
            tracing::info!(%peer, stored, "streaming connection closed by the peer");
            return;
        }
    }
}

/// Serves the streaming port until `stop`: each connection stores its lines under `root`.
pub async fn serve_streaming(
    listener: TcpListener,
    root: PathBuf,
    stats: Arc<RepositoryStats>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        tokio::select! {
            r = listener.accept() => match r {
                Ok((sock, peer)) => {
                    if tasks.len() >= MAX_STREAM_CONNECTIONS {
                        tracing::warn!(%peer, "too many streaming connections: refused");
                        continue;
                    }
                    let _ = sock.set_nodelay(true);
                    tasks.spawn(stream_connection(sock, peer, root.clone(), Arc::clone(&stats), stop.clone()));
                }
                Err(e) => {
                    tracing::warn!("streaming accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = until_stopped(&mut stop) => break,
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Bulk upload.

fn json_reply(status: u16, v: serde_json::Value) -> Reply {
    Reply::new(status, "application/json", v.to_string().into_bytes())
}

fn query_value<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The size of `path` and its CRC-32.
fn crc_of_file(path: &Path) -> std::io::Result<(u64, u32)> {
    let size = std::fs::metadata(path)?.len();
    Ok((size, crate::mplane::export::bulk::crc_of(path, size)?))
}

/// Handles one request of the bulk upload protocol, storing under `root` (`<store>/logs`).
/// `lock` serialises the changes to the store.
pub async fn handle_log(
    req: Request,
    root: &Path,
    lock: &tokio::sync::Mutex<()>,
    stats: &RepositoryStats,
) -> Reply {
    let Some(rel) = req.path.strip_prefix(LOG_PATH_PREFIX) else {
        return Reply::text(404, "Not found");
    };
    let parts: Vec<&str> = rel.split('/').collect();
    if !(2..=4).contains(&parts.len()) || !parts.iter().all(|p| is_safe_component(p)) {
        return Reply::text(
            400,
            "the path must be /log/<dir>/<file> (up to two more levels), components of A-Z a-z 0-9 . _ -",
        );
    }
    let mut path = root.join(sanitize_component(&req.peer.identity));
    for p in &parts {
        path.push(p);
    }
    let held = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    match req.method.as_str() {
        "GET" => json_reply(200, serde_json::json!({ "size": held(&path) })),
        "PUT" => {
            let Some(offset) =
                query_value(req.query.as_deref(), "offset").and_then(|v| v.parse::<u64>().ok())
            else {
                return Reply::text(400, "PUT needs ?offset=N");
            };
            let _guard = lock.lock().await;
            let have = held(&path);
            if offset != 0 && offset != have {
                return json_reply(409, serde_json::json!({ "size": have }));
            }
            let body = req.body.clone();
            let p = path.clone();
            let written = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
                if let Some(d) = p.parent() {
                    std::fs::create_dir_all(d)?;
                }
                let mut o = std::fs::OpenOptions::new();
                o.create(true).write(true);
                if offset == 0 {
                    o.truncate(true);
                } else {
                    o.append(true);
                }
                let mut f = o.open(&p)?;
                use std::io::Write;
                f.write_all(&body)?;
                Ok(f.metadata()?.len())
            })
            .await;
            match written {
                Ok(Ok(n)) => {
                    add(&stats.log_bytes, req.body.len() as u64);
                    json_reply(200, serde_json::json!({ "size": n }))
                }
                Ok(Err(e)) => {
                    tracing::error!(file = %path.display(), "cannot store an upload: {e}");
                    Reply::text(500, format!("cannot store: {e}"))
                }
                Err(e) => Reply::text(500, format!("cannot store: {e}")),
            }
        }
        "POST" => {
            let q = req.query.as_deref();
            let (Some(size), Some(crc)) = (
                query_value(q, "complete").and_then(|v| v.parse::<u64>().ok()),
                query_value(q, "crc32").and_then(|v| u32::from_str_radix(v, 16).ok()),
            ) else {
                return Reply::text(400, "POST needs ?complete=N&crc32=HEX");
            };
            let _guard = lock.lock().await;
            let p = path.clone();
            let got = tokio::task::spawn_blocking(move || crc_of_file(&p)).await;
            let (have, have_crc) = match got {
                Ok(Ok(x)) => x,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => (0, 0),
                Ok(Err(e)) => return Reply::text(500, format!("cannot read the stored copy: {e}")),
                Err(e) => return Reply::text(500, format!("cannot read the stored copy: {e}")),
            };
            let answer = serde_json::json!({ "size": have, "crc32": format!("{have_crc:08x}") });
            if have == size && have_crc == crc {
                add(&stats.log_completed, 1);
                tracing::info!(identity = %req.peer.identity, file = %path.display(), size, "log upload complete");
                json_reply(200, answer)
            } else {
                json_reply(409, answer)
            }
        }
        _ => Reply::text(405, "Method not allowed"),
    }
}

// ---------------------------------------------------------------------------------------------
// Capabilities.

/// The three `repository-collect_*` capabilities of the 2015 repository proxy (§12.4): verb
/// `measure`, the Tstat registry, metadata `System_type: repository`, `System_ID:
/// repository-Proxy`, `System_version: 0.1`, the single-value parameter `repository.url`
/// `<ip>:<port>`, each with its RI token.
pub fn repository_capabilities(conf: &RepositoryConf) -> Vec<Capability> {
    let registries = Registries::builtin();
    let caps: [(&str, &str, u16, &[&str]); 3] = [
        (
            "repository-collect_rrd",
            "past ... future",
            conf.rrd_port,
            &["rrdtimestamp", "rrdMetirc", "rrdValue"],
        ),
        (
            "repository-collect_streaming",
            "now ... future",
            conf.streaming_port,
            &[],
        ),
        (
            "repository-collect_log",
            "past ... future",
            conf.log_port,
            &[],
        ),
    ];
    caps.into_iter()
        .filter_map(|(label, when, port, results)| {
            let when: When = match when.parse() {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!("{label}: scope {when:?}: {e}");
                    return None;
                }
            };
            let url = format!("{}:{port}", conf.ip);
            let Some(constraint) = Constraint::single(&url) else {
                tracing::error!("{label}: repository.url {url:?} cannot be a single value");
                return None;
            };
            let mut cap = Capability::new(VERB_MEASURE, TSTAT_REGISTRY_URI, when);
            cap.label = Some(label.to_string());
            cap.parameters.insert("repository.url".into(), constraint);
            for (k, v) in [
                ("System_type", "repository"),
                ("System_ID", "repository-Proxy"),
                ("System_version", "0.1"),
            ] {
                cap.metadata.insert(k.into(), v.into());
            }
            cap.results = results.iter().map(|s| s.to_string()).collect();
            if let Err(e) = validate_capability(&cap, &registries) {
                tracing::error!("{label}: {e}");
                return None;
            }
            match capability_token(&cap, &registries) {
                Ok(t) => cap.token = Some(t),
                Err(e) => tracing::error!("{label}: no token: {e}"),
            }
            Some(cap)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The whole repository.

/// A repository with its three listeners bound.
pub struct Repository {
    conf: RepositoryConf,
    rrd: TcpListener,
    streaming: TcpListener,
    logs: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    stats: Arc<RepositoryStats>,
}

impl Repository {
    /// Reads the TLS files, creates the store and binds the three ports.
    pub async fn bind(conf: RepositoryConf) -> anyhow::Result<Repository> {
        let tls = match &conf.tls {
            Some(f) => Some(net::server_config(f).context("repository TLS")?),
            None => {
                tracing::warn!(
                    "repository without [tls]: plain HTTP, every sender unauthenticated"
                );
                None
            }
        };
        for sub in ["streaming", "logs"] {
            let d = conf.store.join(sub);
            std::fs::create_dir_all(&d)
                .with_context(|| format!("{}: cannot create the store", d.display()))?;
        }
        let bind = |port: u16, what: &'static str| {
            let addr = SocketAddr::new(conf.bind, port);
            async move {
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("{addr}: cannot listen for {what}"))
            }
        };
        let rrd = bind(conf.rrd_port, "RRD import").await?;
        let streaming = bind(conf.streaming_port, "log streaming").await?;
        let logs = bind(conf.log_port, "log upload").await?;
        Ok(Repository {
            conf,
            rrd,
            streaming,
            logs,
            tls,
            stats: Arc::new(RepositoryStats::default()),
        })
    }

    /// The RRD import address.
    pub fn rrd_addr(&self) -> std::io::Result<SocketAddr> {
        self.rrd.local_addr()
    }

    /// The streaming address.
    pub fn streaming_addr(&self) -> std::io::Result<SocketAddr> {
        self.streaming.local_addr()
    }

    /// The bulk upload address.
    pub fn log_addr(&self) -> std::io::Result<SocketAddr> {
        self.logs.local_addr()
    }

    /// Its counters.
    pub fn stats(&self) -> Arc<RepositoryStats> {
        Arc::clone(&self.stats)
    }

    /// Serves until `stop` turns true.
    pub async fn run(self, stop: watch::Receiver<bool>) -> anyhow::Result<()> {
        let Repository {
            conf,
            rrd,
            streaming,
            logs,
            tls,
            stats,
        } = self;
        tracing::info!(
            rrd = ?rrd.local_addr().ok(),
            streaming = ?streaming.local_addr().ok(),
            logs = ?logs.local_addr().ok(),
            store = %conf.store.display(),
            carbon = %conf.carbon,
            "repository running"
        );
        let sink = CarbonSink::new(conf.carbon_backlog, Arc::clone(&stats));
        // In a JoinSet, so that the forwarder ends with this task even when it is aborted.
        let mut forwarder = tokio::task::JoinSet::new();
        forwarder.spawn(sink.clone().forward(
            conf.carbon.clone(),
            conf.carbon_reconnect,
            stop.clone(),
        ));
        let rrd_handler: Handler = {
            let sink = sink.clone();
            let stats = Arc::clone(&stats);
            let need = conf.require_identity.clone();
            Arc::new(move |req: Request| {
                let reply = handle_rrd(&req, &sink, need.as_deref(), &stats);
                Box::pin(async move { reply })
            })
        };
        let log_handler: Handler = {
            let root = Arc::new(conf.store.join("logs"));
            let lock = Arc::new(tokio::sync::Mutex::new(()));
            let stats = Arc::clone(&stats);
            Arc::new(move |req: Request| {
                let (root, lock, stats) =
                    (Arc::clone(&root), Arc::clone(&lock), Arc::clone(&stats));
                Box::pin(async move { handle_log(req, &root, &lock, &stats).await })
            })
        };
        let limits = ServerLimits::default();
        let r = tokio::try_join!(
            net::serve(rrd, tls.clone(), limits, rrd_handler, stop.clone()),
            net::serve(logs, tls, limits, log_handler, stop.clone()),
            serve_streaming(
                streaming,
                conf.store.join("streaming"),
                Arc::clone(&stats),
                stop.clone()
            ),
        );
        if r.is_err() {
            forwarder.abort_all();
        }
        while forwarder.join_next().await.is_some() {}
        r.map(|_| ())
    }
}

/// Binds and serves the repository of `conf` until `stop` turns true.
pub async fn run_repository(
    conf: RepositoryConf,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    Repository::bind(conf).await?.run(stop).await
}

// ---------------------------------------------------------------------------------------------
// The collect capabilities as mPlane services.

/// Runs a `repository-collect_*` specification: for its window, reports what the repository
/// received — the triples (at most `row_limit`, the latest; the count of the others in
/// metadata) for `collect_rrd`, the lines or bytes stored for the other two. (In 2015 these
/// jobs always failed, §12.4.)
struct CollectService {
    label: &'static str,
    stats: Arc<RepositoryStats>,
    row_limit: usize,
}

impl crate::mplane::component::Service for CollectService {
    fn run(
        self: Arc<Self>,
        mut job: crate::mplane::component::Job,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = crate::mplane::component::JobOutcome> + Send>,
    > {
        Box::pin(async move {
            let st = &self.stats;
            let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
            job.wait_start().await;
            let start = crate::mplane::component::now();
            let before = (
                load(&st.triples),
                load(&st.rrd_posts),
                load(&st.streaming_lines),
                load(&st.log_bytes),
                load(&st.log_completed),
            );
            let (end, _) = job.wait_end().await;
            let mut rows = Vec::new();
            let summary = match self.label {
                "repository-collect_rrd" => {
                    let recent = st.recent.lock().unwrap_or_else(|p| p.into_inner());
                    let window: Vec<&Triple> = recent
                        .iter()
                        .filter(|(n, _)| *n > before.0)
                        .map(|(_, t)| t)
                        .collect();
                    let keep = window.len().min(self.row_limit);
                    for t in &window[window.len() - keep..] {
                        rows.push(vec![
                            crate::mplane::value::py_float_repr(t.timestamp),
                            t.metric.to_string(),
                            crate::mplane::value::py_float_repr(t.value),
                        ]);
                    }
                    let got = load(&st.triples) - before.0;
                    format!(
                        "{got} values received in {} exports; the result holds the last {keep}",
                        load(&st.rrd_posts) - before.1
                    )
                }
                "repository-collect_streaming" => format!(
                    "{} streamed lines stored",
                    load(&st.streaming_lines) - before.2
                ),
                _ => format!(
                    "{} log bytes stored, {} files completed",
                    load(&st.log_bytes) - before.3,
                    load(&st.log_completed) - before.4
                ),
            };
            let mut r = job.result(start, end, rows);
            r.statement.metadata.insert("log.type".into(), summary);
            Ok(r)
        })
    }
}

/// The repository's three capabilities with the services that run them.
pub fn repository_component(
    conf: &RepositoryConf,
    stats: Arc<RepositoryStats>,
    row_limit: usize,
) -> Arc<crate::mplane::component::Component> {
    let offered = repository_capabilities(conf)
        .into_iter()
        .filter_map(|capability| {
            let label = match capability.label.as_deref()? {
                "repository-collect_rrd" => "repository-collect_rrd",
                "repository-collect_streaming" => "repository-collect_streaming",
                _ => "repository-collect_log",
            };
            Some(crate::mplane::component::Offered {
                capability,
                service: Arc::new(CollectService {
                    label,
                    stats: Arc::clone(&stats),
                    row_limit,
                }),
            })
        })
        .collect();
    crate::mplane::component::Component::new(offered, Registries::builtin(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphite_paths() {
        assert_eq!(metric_path("ip_bitrate_in.rrd"), "ip.bitrate.ip_bitrate_in");
        assert_eq!(metric_path("ip_len_in.avg.rrd"), "ip.len.ip_len_in.avg");
        assert_eq!(
            metric_path("L4_flow_number.idx0.rrd"),
            "L4.flow.L4_flow_number.idx0"
        );
        assert_eq!(metric_path("cpu.rrd:user"), "cpu.user");
        assert_eq!(metric_path("two.rrd:a b"), "two.a_b");
        assert_eq!(metric_path("_x__y.prc.90.rrd"), "x.y._x__y.prc.90");
        assert_eq!(metric_path(""), "_");
        assert_eq!(metric_path(".rrd"), "_");
        assert_eq!(identity_node("org.mplane.SSB.Components.Tstat-1"), "1");
        assert_eq!(
            identity_node("Identity.Unauthenticated.Default"),
            "Identity_Unauthenticated_Default"
        );
        assert_eq!(identity_node("a-"), "_");
        let t = Triple {
            metric: Arc::from("ip_bitrate_in.rrd"),
            timestamp: 1795319700.0,
            value: 1116.433333,
        };
        assert_eq!(
            carbon_line("org.mplane.SSB.Components.Tstat-1", &t),
            "tstat.1.ip.bitrate.ip_bitrate_in 1116.433333 1795319700\n"
        );
    }

    #[test]
    fn streaming_paths() {
        let root = Path::new("/store/streaming");
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let p = |s: &str| streaming_store_path(root, ip, Path::new(s));
        assert_eq!(
            p("/var/tstat/2026_11_22_10_00.out/log_tcp_complete.gz"),
            Some(PathBuf::from(
                "/store/streaming/192.0.2.7/2026_11_22_10_00.out/log_tcp_complete"
            ))
        );
        assert_eq!(
            p("/x/y/log_udp_complete"),
            Some(PathBuf::from(
                "/store/streaming/192.0.2.7/y/log_udp_complete"
            ))
        );
        assert_eq!(
            p("/../../etc/passwd"),
            Some(PathBuf::from("/store/streaming/192.0.2.7/etc/passwd"))
        );
        assert_eq!(
            p("a b/.."),
            Some(PathBuf::from("/store/streaming/192.0.2.7/a_b"))
        );
        assert_eq!(p("/"), None);
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(
            streaming_store_path(root, v6, Path::new("/o/d.out/f")),
            Some(PathBuf::from("/store/streaming/__1/d.out/f"))
        );
    }

    #[test]
    fn configuration() {
        let c = RepositoryConf::from_toml(
            "ip = \"127.0.0.1\"\nstore = \"repo\"\n[tls]\ncert = \"c.pem\"\nkey = \"/k.pem\"\nca = \"ca.pem\"\n",
            Path::new("/etc/tstat"),
        )
        .unwrap();
        assert_eq!(c.store, PathBuf::from("/etc/tstat/repo"));
        assert_eq!(c.bind, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(
            (c.rrd_port, c.streaming_port, c.log_port),
            (9000, 9001, 3000)
        );
        assert_eq!(c.carbon, "127.0.0.1:2003");
        let tls = c.tls.unwrap();
        assert_eq!(tls.cert, PathBuf::from("/etc/tstat/c.pem"));
        assert_eq!(tls.key, PathBuf::from("/k.pem"));
        let c = RepositoryConf::from_toml(
            "ip = \"repo.example.org\"\nstore = \"/s\"\nrrd_port = 1\ncarbon = \"[::1]:2003\"\nrequire_identity = \"Components\"",
            Path::new("."),
        )
        .unwrap();
        assert_eq!(c.bind, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(c.rrd_port, 1);
        assert_eq!(c.require_identity.as_deref(), Some("Components"));
        for bad in [
            "ip = \"\"\nstore = \"/s\"",
            "ip = \"a,b\"\nstore = \"/s\"",
            "ip = \"x\"",
            "ip = \"x\"\nstore = \"/s\"\nunknown = 1",
            "ip = \"x\"\nstore = \"/s\"\ncarbon = \"nohost\"",
            "ip = \"x\"\nstore = \"/s\"\ncarbon_backlog = 0",
            "ip = \"x\"\nstore = \"/s\"\n[tls]\ncert = \"c\"",
        ] {
            assert!(
                RepositoryConf::from_toml(bad, Path::new(".")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn capabilities_and_their_2015_tokens() {
        let conf = RepositoryConf::new("127.0.0.1", "/s");
        let caps = repository_capabilities(&conf);
        let got: Vec<(&str, &str)> = caps
            .iter()
            .map(|c| (c.label.as_deref().unwrap(), c.token.as_deref().unwrap()))
            .collect();
        // The tokens the 2015 README printed for the repository proxy at 127.0.0.1 with the
        // default ports (fp7mplane/components tstat/README.md, `listcap`).
        assert_eq!(
            got,
            [
                ("repository-collect_rrd", "5628ceb366cf23076ab131f701b6dbd0"),
                (
                    "repository-collect_streaming",
                    "39de2de6bf9e6b1423cb42f258a40683"
                ),
                ("repository-collect_log", "0ccb3dc4c3290bbbb63caeb1a9f44a6d"),
            ]
        );
        let rrd = &caps[0];
        assert_eq!(rrd.verb, "measure");
        assert_eq!(
            rrd.parameters["repository.url"].single_value(),
            Some("127.0.0.1:9000")
        );
        assert_eq!(rrd.results, ["rrdtimestamp", "rrdMetirc", "rrdValue"]);
        assert_eq!(rrd.metadata["System_ID"], "repository-Proxy");
        assert!(caps[1].results.is_empty());
    }

    #[test]
    fn queries() {
        assert_eq!(query_value(Some("offset=5"), "offset"), Some("5"));
        assert_eq!(
            query_value(Some("complete=5&crc32=00ff"), "crc32"),
            Some("00ff")
        );
        assert_eq!(query_value(Some("x"), "x"), None);
        assert_eq!(query_value(None, "x"), None);
    }

    #[test]
    fn carbon_queue_is_bounded() {
        let stats = Arc::new(RepositoryStats::default());
        let sink = CarbonSink::new(3, Arc::clone(&stats));
        sink.push((0..5).map(|i| format!("l{i}\n")));
        assert_eq!(sink.queued(), 3);
        assert_eq!(stats.carbon_dropped.load(Ordering::Relaxed), 2);
        let batch = sink.take();
        assert_eq!(batch, ["l2\n", "l3\n", "l4\n"]);
        sink.push(["n\n".to_string()]);
        sink.requeue(batch);
        assert_eq!(sink.queued(), 3);
        assert_eq!(sink.take(), ["l3\n", "l4\n", "n\n"]);
    }
}
