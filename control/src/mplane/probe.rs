//! The probe side of mPlane: Tstat's ten capabilities as services of the control plane
//! ([`tstat_component`]), the runtime switches they hold ([`Switchboard`]), and the rows they
//! report.
//!
//! **Switches, reference counted.** A `log_*` job holds the runtime.conf keys of its
//! capability ([`TstatAction::switches_on`]) for exactly its window. The switches in force are
//! runtime.conf's own (the operator's file, watched as before) with every key held by at least
//! one job forced on ([`Switchboard::overlay`]). When the last job holding a key ends or is
//! interrupted, the key goes back to what runtime.conf says, whatever order the windows end
//! in. Unlike the 2015 proxy this also gives `log_tcp_complete` back when `-core` (or a column
//! group) ends, when runtime.conf has it off; it never edits runtime.conf. Jobs do not survive
//! a restart of the control plane: its successor starts from runtime.conf alone.
//!
//! **Results are real.** A log job's result carries the rows written to its log during the
//! window, turned into the capability's columns ([`super::rows`]), at most `row_limit` of them;
//! its metadata `log.folder` names every file the window's rows went to and `log.type` says
//! how many rows there were and how many the result leaves out. `tstat-log_rrds` reports, per
//! family of Tstat's RRD files, which files the window updated and the last average each holds.

use super::component::{run_with_supervisor, Component, Job, JobOutcome, LinkStats, Offered};
use super::component::{Service, SupervisorLink};
use super::net::{Endpoint, ServerLimits, TlsFiles};
use super::rbac::Rbac;
use super::registry::Registries;
use super::rows::{HttpRows, TcpHeader};
use super::tstat::{capabilities, TstatAction, TstatIdentity};
use crate::conf::Runtime;
use crate::tap::{Captured, Tap, TapLog};
use anyhow::Context;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The runtime switches held by running jobs.
#[derive(Default)]
pub struct Switchboard {
    held: Mutex<BTreeMap<&'static str, u32>>,
    generation: AtomicU64,
    applied: AtomicU64,
}

/// Keys held by one job; dropping it gives them back.
pub struct Lease {
    board: Arc<Switchboard>,
    keys: &'static [&'static str],
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut held = self.board.lock();
        for k in self.keys {
            if let Some(n) = held.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    held.remove(k);
                }
            }
        }
        self.board.generation.fetch_add(1, Ordering::Release);
    }
}

impl Switchboard {
    /// A board with nothing held.
    pub fn new() -> Arc<Switchboard> {
        Arc::new(Switchboard::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, u32>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds `keys` on until the lease is dropped.
    pub fn acquire(self: &Arc<Self>, keys: &'static [&'static str]) -> Lease {
        let mut held = self.lock();
        for k in keys {
            *held.entry(k).or_insert(0) += 1;
        }
        self.generation.fetch_add(1, Ordering::Release);
        Lease {
            board: Arc::clone(self),
            keys,
        }
    }

    /// Changes with every acquire and release: the plane re-applies the switches when it
    /// moves.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Said by the log writer's thread once the switches of `generation` are in force: every
    /// row written after this follows them.
    pub fn applied(&self, generation: u64) {
        self.applied.fetch_max(generation, Ordering::AcqRel);
    }

    /// Waits (at most `patience`) until the writer has applied the switches as they are now,
    /// so that a job's window in the logs starts and ends exactly where its rows do. False
    /// when nobody applied them in time (no writer attached).
    pub async fn settle(&self, patience: Duration) -> bool {
        let want = self.generation();
        let t0 = std::time::Instant::now();
        while self.applied.load(Ordering::Acquire) < want {
            if t0.elapsed() >= patience {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// The switches in force: `base` (runtime.conf) with every held key on.
    pub fn overlay(&self, base: &Runtime) -> Runtime {
        let mut rt = base.clone();
        for k in self.lock().keys() {
            if let Err(e) = crate::conf::set_switch(&mut rt, k, true) {
                tracing::error!("mplane: cannot switch {k} on: {e}");
            }
        }
        rt
    }

    /// The keys held now, with how many jobs hold each.
    pub fn held(&self) -> Vec<(&'static str, u32)> {
        self.lock().iter().map(|(k, n)| (*k, *n)).collect()
    }
}

/// How long a job waits for the log writer to apply its switches.
const SETTLE: Duration = Duration::from_secs(5);

/// What the Tstat services reach in the control plane.
pub struct ProbeContext {
    /// The output root (`-s`), whose `.out` directories the log exporters read.
    pub out_dir: PathBuf,
    /// Where the bulk log export keeps its progress.
    pub state_dir: PathBuf,
    /// The probe's certificate, key and CA, for the HTTPS exports.
    pub tls: Option<TlsFiles>,
    /// The switches jobs hold.
    pub board: Arc<Switchboard>,
    /// The rows of the logs being written.
    pub tap: Arc<Tap>,
    /// The RRD directory (`-r`), if any.
    pub rrd_dir: Option<PathBuf>,
    /// At most this many rows in one result.
    pub row_limit: usize,
}

struct TstatService {
    action: TstatAction,
    ctx: Arc<ProbeContext>,
}

impl Service for TstatService {
    fn run(self: Arc<Self>, job: Job) -> Pin<Box<dyn Future<Output = JobOutcome> + Send>> {
        Box::pin(async move {
            match self.action {
                TstatAction::TcpLog(_) | TstatAction::HttpLog => self.log_job(job).await,
                TstatAction::RrdEngine => self.rrd_job(job).await,
                TstatAction::RrdExporter
                | TstatAction::StreamingExporter
                | TstatAction::LogExporter => self.export_job(job).await,
            }
        })
    }
}

/// Metadata a log result adds: which files hold the window's rows, and how many it leaves out.
fn describe(log: &str, seen: &Captured, kept: usize, unusable: usize) -> [(String, String); 2] {
    let total = seen.rows.len() as u64 + seen.left_out;
    let files: Vec<String> = seen
        .files
        .iter()
        .map(|f| {
            std::path::absolute(f)
                .unwrap_or_else(|_| f.clone())
                .display()
                .to_string()
        })
        .collect();
    [
        ("log.folder".to_string(), files.join(",")),
        (
            "log.type".to_string(),
            format!(
                "{log}: {total} rows written in the window, {kept} in this result, {} left out \
                 (row limit), {unusable} without the columns of this capability; all are in \
                 the files of log.folder",
                seen.left_out
            ),
        ),
    ]
}

impl TstatService {
    async fn log_job(&self, mut job: Job) -> JobOutcome {
        let (log, name) = match self.action {
            TstatAction::HttpLog => (TapLog::HttpComplete, "log_http_complete"),
            _ => (TapLog::TcpComplete, "log_tcp_complete"),
        };
        if !job.wait_start().await {
            let t = super::component::now();
            return Ok(job.result(t, t, Vec::new()));
        }
        let start = super::component::now();
        let lease = self.ctx.board.acquire(self.action.switches_on());
        // Rows count from the moment the writer follows the new switches to the moment it
        // stops following them (the writer's thread opens and seals the capture between two
        // rows): exactly the rows of the window's directory.
        let capture = self
            .ctx
            .tap
            .start_at(log, self.ctx.row_limit, self.ctx.board.generation());
        self.ctx.board.settle(SETTLE).await;
        let (end, _) = job.wait_end().await;
        drop(lease);
        self.ctx.tap.stop_at(capture, self.ctx.board.generation());
        self.ctx.board.settle(SETTLE).await;
        let seen = self.ctx.tap.finish(capture);
        let mut rows = Vec::with_capacity(seen.rows.len());
        let mut unusable = 0usize;
        match self.action {
            TstatAction::TcpLog(group) => {
                let mut parsed: Option<(Arc<str>, TcpHeader)> = None;
                for r in &seen.rows {
                    if parsed
                        .as_ref()
                        .is_none_or(|(h, _)| !Arc::ptr_eq(h, &r.header))
                    {
                        match TcpHeader::parse(&r.header) {
                            Ok(h) => parsed = Some((Arc::clone(&r.header), h)),
                            Err(e) => {
                                tracing::warn!("mplane: {name} header: {e}");
                                unusable += 1;
                                continue;
                            }
                        }
                    }
                    let Some((_, h)) = &parsed else { continue };
                    match h.row(group, &r.line) {
                        Ok(v) => rows.push(v),
                        Err(_) => unusable += 1,
                    }
                }
            }
            _ => {
                let mut http = HttpRows::new();
                for r in &seen.rows {
                    if http.push(&r.line).is_err() {
                        unusable += 1;
                    }
                }
                rows = http.finish();
            }
        }
        let mut result = job.result(start, end, Vec::new());
        for (k, v) in describe(name, &seen, rows.len(), unusable) {
            result.statement.metadata.insert(k, v);
        }
        result.values = rows;
        Ok(result)
    }

    async fn rrd_job(&self, mut job: Job) -> JobOutcome {
        if !job.wait_start().await {
            let t = super::component::now();
            return Ok(job.result(t, t, Vec::new()));
        }
        let start = super::component::now();
        let since = std::time::SystemTime::now();
        let lease = self.ctx.board.acquire(self.action.switches_on());
        let (end, _) = job.wait_end().await;
        drop(lease);
        let families = rrd_families();
        let mut updated: Vec<Vec<String>> = vec![Vec::new(); families.len()];
        if let Some(dir) = &self.ctx.rrd_dir {
            if let Ok(rd) = std::fs::read_dir(dir) {
                let mut names: Vec<(String, std::time::SystemTime)> = rd
                    .flatten()
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let m = e.metadata().ok()?.modified().ok()?;
                        name.ends_with(".rrd").then_some((name, m))
                    })
                    .collect();
                names.sort();
                for (name, modified) in names {
                    if modified < since {
                        continue;
                    }
                    let i = families
                        .iter()
                        .position(|(_, f)| f(&name))
                        .unwrap_or(families.len() - 1);
                    updated[i].push(name);
                }
            }
        }
        // Each file with the last average it holds for the window (librrd, off the async
        // thread).
        let dir = self.ctx.rrd_dir.clone();
        let (from, to) = (start.and_utc().timestamp(), end.and_utc().timestamp());
        let row = tokio::task::spawn_blocking(move || {
            updated
                .iter()
                .map(|names| {
                    let values: Vec<String> = names
                        .iter()
                        .map(|n| {
                            let last = dir.as_ref().and_then(|d| {
                                let f = rrd_sys::fetch(&d.join(n), "AVERAGE", from - 600, to, 1)
                                    .ok()?;
                                f.rows
                                    .iter()
                                    .rev()
                                    .find_map(|r| r.first().copied().filter(|v| v.is_finite()))
                            });
                            match last {
                                Some(v) => format!("{n}={}", super::value::py_float_repr(v)),
                                None => format!("{n}=nan"),
                            }
                        })
                        .collect();
                    if names.is_empty() {
                        "0 files updated".to_string()
                    } else {
                        format!("{} files updated: {}", names.len(), values.join(" "))
                    }
                })
                .collect::<Vec<String>>()
        })
        .await
        .map_err(|e| format!("reading the RRD files failed: {e}"))?;
        let mut result = job.result(start, end, vec![row]);
        if let Some(d) = &self.ctx.rrd_dir {
            result
                .statement
                .metadata
                .insert("log.folder".into(), d.display().to_string());
        }
        Ok(result)
    }
}

impl TstatService {
    /// `tstat-exporter_rrd`, `-streaming`, `-log`: runs the exporter for the window and
    /// reports what it exported.
    async fn export_job(&self, mut job: Job) -> JobOutcome {
        use super::export;
        let params = job.spec.parameters.clone();
        let param = |name: &str| -> Result<String, String> {
            params
                .get(name)
                .cloned()
                .ok_or_else(|| format!("parameter {name} is missing"))
        };
        let repository = param("repository.url")?;
        if !job.wait_start().await {
            let t = super::component::now();
            return Ok(job.result(t, t, Vec::new()));
        }
        let start = super::component::now();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let ctx = &self.ctx;
        let (end, rows, summary) = match self.action {
            TstatAction::RrdExporter => {
                let dir = ctx.rrd_dir.clone().ok_or(
                    "this probe writes no RRD files (output.rrd_conf and rrd_dir are not set)",
                )?;
                let mut cfg = export::RrdExportConfig::new(
                    dir,
                    repository,
                    ctx.tls.clone(),
                    start.and_utc().timestamp(),
                );
                cfg.result_rows = ctx.row_limit;
                let task = tokio::spawn(export::export_rrd(cfg, stop_rx));
                let (end, _) = job.wait_end().await;
                let _ = stop_tx.send(true);
                let s = task
                    .await
                    .map_err(|e| format!("the RRD exporter failed: {e}"))?;
                let rows = s
                    .recent
                    .iter()
                    .map(|t| {
                        vec![
                            super::value::py_float_repr(t.timestamp),
                            t.metric.to_string(),
                            super::value::py_float_repr(t.value),
                        ]
                    })
                    .collect();
                let text = format!(
                    "{} values exported in {} posts ({} failed, {} rejected, {} unsent); the \
                     result holds the last {} ({} left out){}",
                    s.triples_sent,
                    s.posts,
                    s.failures,
                    s.rejected,
                    s.unsent,
                    s.recent.len(),
                    s.recent_left_out,
                    s.last_error
                        .map(|e| format!("; last error: {e}"))
                        .unwrap_or_default()
                );
                (end, rows, text)
            }
            TstatAction::StreamingExporter => {
                let minutes = param("log.time")?
                    .parse::<u64>()
                    .map_err(|_| "log.time is not a number of minutes".to_string())?;
                let cfg = export::StreamingConfig::new(
                    repository,
                    param("log.folder")?,
                    param("log.type")?,
                    minutes,
                );
                let mut task = tokio::spawn(export::stream_logs(cfg, stop_rx));
                // The stream ends with the window, or by itself once the log goes quiet.
                let (end, done) = tokio::select! {
                    (end, _) = job.wait_end() => (end, None),
                    r = &mut task => (super::component::now(), Some(r)),
                };
                let r = match done {
                    Some(r) => r,
                    None => {
                        let _ = stop_tx.send(true);
                        task.await
                    }
                };
                let s = r.map_err(|e| format!("the streaming exporter failed: {e}"))?;
                let files: Vec<String> = s.files.iter().map(|f| f.display().to_string()).collect();
                let text =
                    format!(
                    "{} lines ({} bytes) streamed from {}; {} reconnects, {} lines undelivered; \
                     ended: {:?}{}",
                    s.lines,
                    s.bytes,
                    files.join(","),
                    s.reconnects,
                    s.undelivered,
                    s.end,
                    s.last_error.map(|e| format!("; last error: {e}")).unwrap_or_default()
                );
                (end, Vec::new(), text)
            }
            _ => {
                let cfg = export::LogExportConfig::new(
                    ctx.out_dir.clone(),
                    repository,
                    ctx.tls.clone(),
                    ctx.state_dir.join("log-export.state"),
                );
                let task = tokio::spawn(export::export_logs(cfg, stop_rx));
                let (end, _) = job.wait_end().await;
                let _ = stop_tx.send(true);
                let s = task
                    .await
                    .map_err(|e| format!("the log exporter failed: {e}"))?;
                let text = format!(
                    "{} files ({} bytes) uploaded, {} failures, {} skipped{}",
                    s.files,
                    s.bytes,
                    s.failures,
                    s.skipped,
                    s.last_error
                        .map(|e| format!("; last error: {e}"))
                        .unwrap_or_default()
                );
                (end, Vec::new(), text)
            }
        };
        tracing::info!("mplane: {}: {summary}", self.action.label());
        let mut result = job.result(start, end, rows);
        result.statement.metadata.insert("log.type".into(), summary);
        Ok(result)
    }
}

type Family = (&'static str, fn(&str) -> bool);

/// The nine result columns of `tstat-log_rrds` and which of Tstat's RRD files (by name)
/// belong to each; the last, `Profile`, takes what no other family claims.
fn rrd_families() -> [Family; 9] {
    [
        ("Ethernet", |n| n.starts_with("eth") || n.starts_with("L2_")),
        ("IP", |n| n.starts_with("ip_") || n.starts_with("L3_")),
        ("TCP", |n| n.starts_with("tcp_") || n.starts_with("L4_TCP")),
        ("UDP", |n| n.starts_with("udp_") || n.starts_with("L4_UDP")),
        ("MMedia", |n| {
            n.starts_with("mm_") || n.starts_with("rtp") || n.starts_with("rtcp")
        }),
        ("Classifier", |n| {
            n.starts_with("L7_") || n.starts_with("L4_")
        }),
        ("P2P-TV", |n| {
            n.starts_with("p2ptv") || n.starts_with("chat")
        }),
        ("Video", |n| {
            n.starts_with("video") || n.starts_with("vd_") || n.starts_with("yt")
        }),
        ("Profile", |_| true),
    ]
}

/// The Tstat capabilities backed by this plane, with the access control of `rbac` for
/// client-initiated peers.
pub fn tstat_component(
    identity: &TstatIdentity,
    ctx: Arc<ProbeContext>,
    rbac: Option<Rbac>,
) -> anyhow::Result<Arc<Component>> {
    let offered = capabilities(identity)?
        .into_iter()
        .map(|c| Offered {
            capability: c.capability,
            service: Arc::new(TstatService {
                action: c.action,
                ctx: Arc::clone(&ctx),
            }),
        })
        .collect();
    Ok(Component::new(offered, Registries::builtin(), rbac))
}

/// The mPlane component's settings (`[mplane]` of the configuration file), as the control
/// plane receives them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MplaneConf {
    /// The supervisor to register with (component-initiated workflow).
    pub supervisor: Option<String>,
    /// Where to serve clients (client-initiated workflow).
    pub listen: Option<std::net::SocketAddr>,
    /// The URL advertised in served capabilities.
    pub link: Option<String>,
    /// Certificate, key and CA (none: plain HTTP, every peer unauthenticated).
    pub tls: Option<TlsFiles>,
    /// `[Roles]` and `[Authorizations]` for `listen`.
    pub access: Option<PathBuf>,
    /// The `System_ID` parameter.
    pub system_id: String,
    /// Poll interval, seconds.
    pub poll_s: f64,
    /// Registration interval, seconds.
    pub reregister_s: f64,
    /// Rows per result at most.
    pub row_limit: usize,
}

impl MplaneConf {
    /// Validates `[mplane]`; `None` when neither `supervisor` nor `listen` is set.
    pub fn from_raw(raw: crate::appconf::RawMplane) -> anyhow::Result<Option<MplaneConf>> {
        use anyhow::bail;
        if raw.supervisor.is_none() && raw.listen.is_none() {
            return Ok(None);
        }
        if let Some(s) = &raw.supervisor {
            Endpoint::parse(s).map_err(|e| anyhow::anyhow!("mplane.supervisor: {e}"))?;
        }
        let listen = match &raw.listen {
            Some(l) => Some(
                l.parse()
                    .map_err(|_| anyhow::anyhow!("mplane.listen: {l:?} is not address:port"))?,
            ),
            None => None,
        };
        let tls = match (raw.cert, raw.key, raw.ca) {
            (Some(cert), Some(key), Some(ca)) => Some(TlsFiles { cert, key, ca }),
            (None, None, None) => None,
            _ => bail!("mplane.cert, mplane.key and mplane.ca go together"),
        };
        let positive = |v: Option<f64>, d: f64, what: &str| match v {
            None => Ok(d),
            Some(x) if x > 0.0 && x.is_finite() => Ok(x),
            Some(x) => Err(anyhow::anyhow!(
                "mplane.{what}: {x} is not a positive number"
            )),
        };
        let system_id = raw
            .system_id
            .unwrap_or_else(|| super::tstat::DEFAULT_SYSTEM_ID.to_string());
        let identity = TstatIdentity {
            system_id: system_id.clone(),
            ..TstatIdentity::default()
        };
        capabilities(&identity).map_err(|e| anyhow::anyhow!("mplane.system_id: {e}"))?;
        if let Some(a) = &raw.access {
            Rbac::load(a)?;
        }
        Ok(Some(MplaneConf {
            supervisor: raw.supervisor,
            listen,
            link: raw.link,
            tls,
            access: raw.access,
            system_id,
            poll_s: positive(raw.poll_s, 5.0, "poll_s")?,
            reregister_s: positive(raw.reregister_s, 60.0, "reregister_s")?,
            row_limit: raw.row_limit.unwrap_or(10_000),
        }))
    }
}

/// The running mPlane component of the control plane.
pub struct ProbeHandle {
    stop: tokio::sync::watch::Sender<bool>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The workflow's counters.
    pub stats: Arc<Mutex<LinkStats>>,
    /// The address the client-initiated server listens on.
    pub listening: Option<std::net::SocketAddr>,
    /// The component (its jobs).
    pub component: Arc<Component>,
}

impl ProbeHandle {
    /// The component's counters for the metrics endpoint.
    pub fn metrics(&self, board: &Switchboard) -> crate::metrics::MplaneMetrics {
        crate::metrics::MplaneMetrics {
            link: *self.stats.lock().unwrap_or_else(|p| p.into_inner()),
            jobs_running: self.component.running() as u64,
            switches_held: board.held().len() as u64,
        }
    }
}

impl ProbeHandle {
    /// Interrupts the running jobs, delivers their results (for at most a few seconds) and
    /// stops.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

/// Starts the mPlane component of the control plane on a thread of its own.
pub fn start_probe(conf: &MplaneConf, ctx: Arc<ProbeContext>) -> anyhow::Result<ProbeHandle> {
    let identity = TstatIdentity {
        system_id: conf.system_id.clone(),
        ..TstatIdentity::default()
    };
    let rbac = match &conf.access {
        Some(a) => Some(Rbac::load(a)?),
        None => None,
    };
    let component = tstat_component(&identity, ctx, rbac)?;
    let handle_component = Arc::clone(&component);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("mplane: tokio runtime")?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stats = Arc::new(Mutex::new(LinkStats::default()));
    let server = match conf.listen {
        Some(addr) => {
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind(addr))
                .with_context(|| format!("mplane.listen: cannot listen on {addr}"))?;
            let local = listener.local_addr()?;
            let tls = match &conf.tls {
                Some(f) => Some(super::net::server_config(f)?),
                None => None,
            };
            let link = conf.link.clone().unwrap_or_else(|| {
                format!(
                    "{}://{local}/",
                    if tls.is_some() { "https" } else { "http" }
                )
            });
            Some((listener, tls, link, local))
        }
        None => None,
    };
    let listening = server.as_ref().map(|s| s.3);
    let link = match &conf.supervisor {
        Some(s) => {
            let mut l = SupervisorLink::new(Endpoint::parse(s)?, conf.tls.clone());
            l.poll = Duration::from_secs_f64(conf.poll_s);
            l.reregister = Duration::from_secs_f64(conf.reregister_s);
            Some(l)
        }
        None => None,
    };
    let st = Arc::clone(&stats);
    let thread = std::thread::Builder::new()
        .name("mplane".into())
        .spawn(move || {
            runtime.block_on(async move {
                let mut tasks = Vec::new();
                if let Some((listener, tls, link, _)) = server {
                    let handler = super::component::client_handler(Arc::clone(&component), link);
                    let stop = stop_rx.clone();
                    tasks.push(tokio::spawn(async move {
                        if let Err(e) =
                            super::net::serve(listener, tls, ServerLimits::default(), handler, stop)
                                .await
                        {
                            tracing::error!("mplane server: {e:#}");
                        }
                    }));
                }
                if let Some(link) = link {
                    let c = Arc::clone(&component);
                    let stop = stop_rx.clone();
                    tasks.push(tokio::spawn(async move {
                        if let Err(e) = run_with_supervisor(c, link, stop, st).await {
                            tracing::error!("mplane: {e:#}");
                        }
                    }));
                }
                for t in tasks {
                    let _ = t.await;
                }
            })
        })
        .context("mplane: cannot start its thread")?;
    Ok(ProbeHandle {
        stop: stop_tx,
        thread: Mutex::new(Some(thread)),
        stats,
        listening,
        component: handle_component,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tstat::TcpColumnGroup;
    use super::*;

    #[tokio::test]
    async fn log_rrds_reports_the_files_the_window_updated_with_their_values() {
        let dir = std::env::temp_dir().join(format!("tstat-dpdk-logrrds-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let now = chrono::Utc::now().timestamp();
        let old = dir.join("tcp_old.rrd");
        rrd_sys::create(
            &old,
            1,
            now - 100,
            &["DS:v:GAUGE:600:U:U", "RRA:AVERAGE:0.5:1:1000"],
        )
        .unwrap();
        // Modified before the window: not reported.
        let t0 = std::time::SystemTime::now() - Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(t0)
            .unwrap();
        let ctx = Arc::new(ProbeContext {
            out_dir: dir.clone(),
            state_dir: dir.clone(),
            tls: None,
            board: Switchboard::new(),
            tap: Tap::new(),
            rrd_dir: Some(dir.clone()),
            row_limit: 10,
        });
        let c = tstat_component(&TstatIdentity::default(), ctx, None).unwrap();
        let cap = c
            .capabilities()
            .find(|c| c.label.as_deref() == Some("tstat-log_rrds"))
            .unwrap()
            .clone();
        let mut spec = super::super::matching::derive_specification(
            &cap,
            "now + 2s".parse().unwrap(),
            &Default::default(),
            0,
            &Registries::builtin(),
            super::super::component::now(),
        )
        .unwrap();
        spec.token = Some("t".into());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let receipt = c.submit(spec, None, Some(tx));
        assert!(
            matches!(receipt, super::super::Message::Receipt(_)),
            "{receipt:?}"
        );
        // The window (started once the job runs) updates an IP file.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let f = dir.join("ip_test_in.rrd");
        let now = chrono::Utc::now().timestamp();
        rrd_sys::create(
            &f,
            1,
            now - 10,
            &["DS:v:GAUGE:600:U:U", "RRA:AVERAGE:0.5:1:1000"],
        )
        .unwrap();
        rrd_sys::update(
            &f,
            &[&format!("{}:42.5", now - 5), &format!("{}:42.5", now - 4)],
        )
        .unwrap();
        let Some(super::super::Message::Result(r)) = rx.recv().await else {
            panic!("no result");
        };
        let row = &r.values[0];
        assert_eq!(row.len(), 9);
        assert_eq!(row[1], "1 files updated: ip_test_in.rrd=42.5", "{row:?}");
        assert!(row.iter().all(|v| !v.contains("tcp_old")), "{row:?}");
        assert_eq!(row[2], "0 files updated");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn overlapping_leases_restore_the_file_state() {
        let board = Switchboard::new();
        let mut base = Runtime::default();
        crate::conf::set_switch(&mut base, "tcplog_end_to_end", false).unwrap();
        crate::conf::set_switch(&mut base, "log_tcp_complete", false).unwrap();
        let g0 = board.generation();
        let a = board.acquire(TstatAction::TcpLog(TcpColumnGroup::EndToEnd).switches_on());
        let b = board.acquire(TstatAction::TcpLog(TcpColumnGroup::Core).switches_on());
        assert_ne!(board.generation(), g0);
        let on = board.overlay(&base);
        assert!(on.logs.tcp_complete);
        assert!(on.tcp_level.0 & crate::logs::TcpLevel::END_TO_END != 0);
        // The first job ends: log_tcp_complete is still held by the second.
        drop(a);
        let mid = board.overlay(&base);
        assert!(mid.logs.tcp_complete);
        assert_eq!(mid.tcp_level.0 & crate::logs::TcpLevel::END_TO_END, 0);
        drop(b);
        assert_eq!(board.overlay(&base), base);
        assert!(board.held().is_empty());
    }
}
