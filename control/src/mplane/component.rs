//! The mPlane component runtime: the capabilities a process offers, the jobs that run their
//! specifications, and the two ways peers reach them (mplane.md §8, §9).
//!
//! - **Component-initiated** ([`run_with_supervisor`]): the component registers an envelope
//!   of its capabilities with the supervisor, polls for specifications and interrupts, answers
//!   each specification with a receipt at once and with a result (or an exception) when the
//!   job ends. It registers again every `reregister` interval, at once on a 428, and after any
//!   failed exchange (a restarted 0.9.0 supervisor has forgotten it and never says so).
//!   Receipts and results wait in an outbox until the supervisor has taken them, so a
//!   supervisor restart loses nothing the component produced.
//! - **Client-initiated** ([`client_handler`]): the component serves HTTPS itself, with the
//!   RI's paths (`GET /`, `GET /capability`, `GET /capability/<token>`, `POST /` for
//!   specifications, redemptions and interrupts) and the RI's access control ([`Rbac`]).
//!
//! Jobs are found by the capability a specification matches (schema, verb, `when`; the label
//! arrives as `<label>-<N>` and only breaks ties), never by a raw label. A job's outcome stays
//! redeemable for [`KEEP_OUTCOME`] after it ends.

use super::model::{is_mplane_content_type, parse_registration_reply, Registration, CONTENT_TYPE};
use super::model::{Capability, Envelope, Exception, Message, ResultMessage, Specification};
use super::net::{Endpoint, HttpClient, Reply, Request, TlsFiles};
use super::rbac::Rbac;
use super::registry::Registries;
use super::when::When;
use chrono::NaiveDateTime;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// The owner of the jobs the supervisor relays.
const SUPERVISOR: &str = "(the supervisor)";

/// How long a finished job's outcome stays redeemable.
pub const KEEP_OUTCOME: Duration = Duration::from_secs(3600);

/// The current time, UTC, as mPlane scopes use it.
pub fn now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// One running specification, as its service sees it.
pub struct Job {
    /// The specification as received (its label and token are the requester's).
    pub spec: Specification,
    /// The capability it matched.
    pub capability: Capability,
    /// When it starts (possibly already past: start at once).
    pub start: NaiveDateTime,
    /// When it ends (`None`: when interrupted).
    pub end: Option<NaiveDateTime>,
    interrupt: watch::Receiver<bool>,
}

impl Job {
    fn until(t: NaiveDateTime) -> Duration {
        (t - now()).to_std().unwrap_or(Duration::ZERO)
    }

    /// Waits for the start; false when interrupted first.
    pub async fn wait_start(&mut self) -> bool {
        let wait = Job::until(self.start);
        tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            _ = self.interrupt.wait_for(|i| *i) => false,
        }
    }

    /// Waits for the end of the window or an interrupt, whichever comes first, and returns
    /// the time it happened and whether it was the interrupt.
    pub async fn wait_end(&mut self) -> (NaiveDateTime, bool) {
        let interrupted = match self.end {
            Some(e) => tokio::select! {
                _ = tokio::time::sleep(Job::until(e)) => false,
                _ = self.interrupt.wait_for(|i| *i) => true,
            },
            None => {
                let _ = self.interrupt.wait_for(|i| *i).await;
                true
            }
        };
        (now(), interrupted)
    }

    /// A receiver that turns true on interrupt (for services that run sub-tasks).
    pub fn interrupt_signal(&self) -> watch::Receiver<bool> {
        self.interrupt.clone()
    }

    /// A result for this job covering `start ... end`.
    pub fn result(
        &self,
        start: NaiveDateTime,
        end: NaiveDateTime,
        rows: Vec<Vec<String>>,
    ) -> ResultMessage {
        ResultMessage::new(&self.spec, When::between(start, end), rows)
    }
}

/// What a job's future resolves to: its result, or the text of an exception.
pub type JobOutcome = Result<ResultMessage, String>;

/// Something that runs the specifications of one capability.
pub trait Service: Send + Sync + 'static {
    /// Runs one job to its end (the window's end, or an interrupt).
    fn run(self: Arc<Self>, job: Job) -> Pin<Box<dyn Future<Output = JobOutcome> + Send>>;
}

/// A capability with the service behind it.
#[derive(Clone)]
pub struct Offered {
    /// The capability, with its token.
    pub capability: Capability,
    /// What runs it.
    pub service: Arc<dyn Service>,
}

impl AsRef<Capability> for Offered {
    fn as_ref(&self) -> &Capability {
        &self.capability
    }
}

struct JobEntry {
    receipt: Specification,
    owner: String,
    interrupt: watch::Sender<bool>,
    outcome: Option<Message>,
    ended: Option<Instant>,
}

/// The capabilities a process offers and the jobs running them.
pub struct Component {
    offered: Vec<Offered>,
    registries: Registries,
    rbac: Option<Rbac>,
    jobs: Mutex<HashMap<String, JobEntry>>,
}

impl Component {
    /// A component offering `offered`; `rbac` restricts what client identities see and run
    /// in the client-initiated workflow (none: everything for everyone).
    pub fn new(
        offered: Vec<Offered>,
        registries: Registries,
        rbac: Option<Rbac>,
    ) -> Arc<Component> {
        Arc::new(Component {
            offered,
            registries,
            rbac,
            jobs: Mutex::new(HashMap::new()),
        })
    }

    /// Every capability offered.
    pub fn capabilities(&self) -> impl Iterator<Item = &Capability> {
        self.offered.iter().map(|o| &o.capability)
    }

    fn allowed(&self, identity: &str, cap: &Capability) -> bool {
        match &self.rbac {
            None => true,
            Some(r) => r.allows(identity, cap.label.as_deref().unwrap_or("")),
        }
    }

    /// The capabilities `identity` may see and use.
    pub fn capabilities_for<'a>(
        &'a self,
        identity: &'a str,
    ) -> impl Iterator<Item = &'a Capability> {
        self.capabilities()
            .filter(move |c| self.allowed(identity, c))
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, HashMap<String, JobEntry>> {
        // A panic while holding the lock cannot leave the map half-updated (every update is
        // one insert or field store), so a poisoned lock is still usable.
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Accepts a specification from `identity` (checked against the access control) or from
    /// the supervisor (`None`: it checked its client's rights itself, §7.3): starts its job
    /// and returns the receipt, or an exception. When the job ends its outcome goes to `done`
    /// (if given) and stays redeemable.
    pub fn submit(
        self: &Arc<Self>,
        spec: Specification,
        identity: Option<&str>,
        done: Option<mpsc::UnboundedSender<Message>>,
    ) -> Message {
        let token = spec.token.clone();
        let exception = |m: String| Message::Exception(Exception::new(token.as_deref(), m));
        let Some(tok) = token.clone() else {
            return exception("a specification needs a token".into());
        };
        let tzero = now();
        let offered = match super::matching::match_specification(
            &self.offered,
            &spec,
            &self.registries,
            tzero,
        ) {
            Ok(o) => o.clone(),
            Err(e) => return exception(e.to_string()),
        };
        if identity.is_some_and(|i| !self.allowed(i, &offered.capability)) {
            return exception("User has no permission to request this capability".into());
        }
        let (start, end) = match spec.when.job_window(tzero) {
            Ok(w) => w,
            Err(e) => return exception(format!("temporal scope {}: {e}", spec.when)),
        };
        let receipt = spec.echo();
        let (tx, rx) = watch::channel(false);
        {
            let mut jobs = self.jobs();
            jobs.retain(|_, j| j.ended.is_none_or(|t| t.elapsed() < KEEP_OUTCOME));
            if jobs.contains_key(&tok) {
                return exception(format!("token {tok} is already in use"));
            }
            jobs.insert(
                tok.clone(),
                JobEntry {
                    receipt: receipt.clone(),
                    owner: identity.unwrap_or(SUPERVISOR).to_string(),
                    interrupt: tx,
                    outcome: None,
                    ended: None,
                },
            );
        }
        let job = Job {
            spec,
            capability: offered.capability.clone(),
            start,
            end,
            interrupt: rx,
        };
        tracing::info!(
            "mplane: job {tok} ({}) for {}: {} ... {}",
            job.spec.label.as_deref().unwrap_or("-"),
            identity.unwrap_or(SUPERVISOR),
            super::when::format_time(&start),
            end.map(|e| super::when::format_time(&e))
                .unwrap_or_else(|| "interrupt".into())
        );
        let me = Arc::clone(self);
        let service = Arc::clone(&offered.service);
        tokio::spawn(async move {
            let outcome = match service.run(job).await {
                Ok(r) => Message::Result(r),
                Err(e) => Message::Exception(Exception::new(Some(&tok), e)),
            };
            tracing::info!("mplane: job {tok} ended ({})", outcome.kind());
            if let Some(j) = me.jobs().get_mut(&tok) {
                j.outcome = Some(outcome.clone());
                j.ended = Some(Instant::now());
            }
            if let Some(d) = done {
                let _ = d.send(outcome);
            }
        });
        Message::Receipt(receipt)
    }

    /// Interrupts the job with this token (asked by `identity`); its receipt, or an exception
    /// when there is no such job of this identity.
    pub fn interrupt(&self, token: &str, identity: Option<&str>) -> Message {
        let jobs = self.jobs();
        match jobs.get(token) {
            Some(j) if identity.is_none_or(|i| i == j.owner) => {
                let _ = j.interrupt.send(true);
                match &j.outcome {
                    Some(o) => o.clone(),
                    None => Message::Receipt(j.receipt.clone()),
                }
            }
            _ => Message::Exception(Exception::new(Some(token), "Unknown job")),
        }
    }

    /// What a redemption by `identity` gets: the outcome once the job ended (the job is then
    /// forgotten), its receipt before, an exception for an unknown token.
    pub fn redeem(&self, token: &str, identity: &str) -> Message {
        let mut jobs = self.jobs();
        match jobs.get(token) {
            Some(j) if j.owner == identity => match &j.outcome {
                Some(o) => {
                    let o = o.clone();
                    jobs.remove(token);
                    o
                }
                None => Message::Receipt(j.receipt.clone()),
            },
            _ => Message::Exception(Exception::new(Some(token), "Unknown job")),
        }
    }

    /// Interrupts every job (at shutdown) and returns how many were running.
    pub fn interrupt_all(&self) -> usize {
        let jobs = self.jobs();
        let mut n = 0;
        for j in jobs.values().filter(|j| j.outcome.is_none()) {
            let _ = j.interrupt.send(true);
            n += 1;
        }
        n
    }

    /// Jobs still running.
    pub fn running(&self) -> usize {
        self.jobs().values().filter(|j| j.outcome.is_none()).count()
    }
}

/// The component-initiated workflow's settings (§8).
#[derive(Debug, Clone)]
pub struct SupervisorLink {
    /// The supervisor's component-facing URL (`https://host:8889`).
    pub supervisor: Endpoint,
    /// This component's certificate, key and the domain CA (none: plain HTTP).
    pub tls: Option<TlsFiles>,
    /// Poll interval (the RI polls every 5 s).
    pub poll: Duration,
    /// Registration is repeated this often.
    pub reregister: Duration,
    /// HTTP timeout; the RI supervisor stalls up to ~5 s, so ≥ 30 s.
    pub timeout: Duration,
    /// `register/capability`.
    pub register_path: String,
    /// `show/specification`.
    pub poll_path: String,
    /// `register/result`.
    pub result_path: String,
}

impl SupervisorLink {
    /// The RI's paths and timings for a supervisor at `supervisor`.
    pub fn new(supervisor: Endpoint, tls: Option<TlsFiles>) -> SupervisorLink {
        SupervisorLink {
            supervisor,
            tls,
            poll: Duration::from_secs(5),
            reregister: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
            register_path: "/register/capability".into(),
            poll_path: "/show/specification".into(),
            result_path: "/register/result".into(),
        }
    }
}

/// Counters of the component-initiated workflow.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LinkStats {
    /// Successful registrations.
    pub registrations: u64,
    /// Polls answered.
    pub polls: u64,
    /// Specifications received.
    pub specifications: u64,
    /// Interrupts received.
    pub interrupts: u64,
    /// Receipts, results and exceptions delivered.
    pub delivered: u64,
    /// Failed exchanges.
    pub failures: u64,
}

async fn post_message(
    client: &mut HttpClient,
    path: &str,
    msg: &Message,
) -> anyhow::Result<super::net::HttpReply> {
    client
        .request("POST", path, Some(CONTENT_TYPE), msg.to_json().into_bytes())
        .await
}

/// Runs the component-initiated workflow against one supervisor until `stop` turns true;
/// then interrupts the running jobs and delivers their results (for at most `timeout`).
pub async fn run_with_supervisor(
    component: Arc<Component>,
    link: SupervisorLink,
    mut stop: watch::Receiver<bool>,
    stats: Arc<Mutex<LinkStats>>,
) -> anyhow::Result<()> {
    let mut client = HttpClient::new(link.supervisor.clone(), link.tls.as_ref(), link.timeout)?;
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Message>();
    let mut outbox: VecDeque<(Message, u32)> = VecDeque::new();
    let mut registered_at: Option<Instant> = None;
    let mut backoff = Duration::from_millis(500);
    let bump = |f: &dyn Fn(&mut LinkStats)| f(&mut stats.lock().unwrap_or_else(|p| p.into_inner()));
    let envelope = Message::Envelope(Envelope::new(
        component
            .capabilities()
            .cloned()
            .map(Message::Capability)
            .collect(),
    ));
    let mut stopping: Option<Instant> = None;
    loop {
        let mut failed = false;
        // 1. Registration: at start, periodically, and after any failure or a 428.
        if stopping.is_none() && registered_at.is_none_or(|t| t.elapsed() >= link.reregister) {
            match post_message(&mut client, &link.register_path, &envelope).await {
                Ok(r) if r.status == 200 => {
                    match parse_registration_reply(&r.body) {
                        Ok(map) => {
                            for (label, reg) in &map {
                                if let Registration::Refused { reason } = reg {
                                    tracing::warn!("mplane: {label} not registered: {reason}");
                                }
                            }
                            if registered_at.is_none() {
                                tracing::info!(
                                    "mplane: registered {} capabilities with {}",
                                    map.len(),
                                    link.supervisor
                                );
                            }
                        }
                        Err(e) => tracing::warn!("mplane: unreadable registration reply: {e}"),
                    }
                    registered_at = Some(Instant::now());
                    bump(&|s| s.registrations += 1);
                }
                Ok(r) => {
                    tracing::warn!(
                        "mplane: registration refused by {}: HTTP {} {}",
                        link.supervisor,
                        r.status,
                        String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
                    );
                    failed = true;
                }
                Err(e) => {
                    tracing::warn!("mplane: registration failed: {e:#}");
                    failed = true;
                }
            }
        }
        // 2. Poll for specifications and interrupts.
        if !failed && stopping.is_none() {
            match client
                .request("GET", &link.poll_path, None, Vec::new())
                .await
            {
                Ok(r) if r.status == 200 => {
                    bump(&|s| s.polls += 1);
                    match Message::from_json(&r.body) {
                        Ok(m) => {
                            for msg in m.flatten() {
                                match msg {
                                    Message::Specification(spec) => {
                                        bump(&|s| s.specifications += 1);
                                        let reply =
                                            component.submit(spec, None, Some(done_tx.clone()));
                                        outbox.push_back((reply, 0));
                                    }
                                    Message::Interrupt(n) => {
                                        bump(&|s| s.interrupts += 1);
                                        if let Some(t) = n.token() {
                                            if let Message::Exception(e) =
                                                component.interrupt(t, None)
                                            {
                                                outbox.push_back((Message::Exception(e), 0));
                                            }
                                        }
                                    }
                                    other => tracing::warn!(
                                        "mplane: ignoring a {} in a poll reply",
                                        other.kind()
                                    ),
                                }
                            }
                        }
                        Err(e) => tracing::warn!("mplane: unreadable poll reply: {e}"),
                    }
                }
                Ok(r) if r.status == 428 => {
                    tracing::info!("mplane: supervisor says not registered; registering again");
                    registered_at = None;
                    continue;
                }
                Ok(r) => {
                    tracing::warn!("mplane: poll: HTTP {}", r.status);
                    failed = true;
                }
                Err(e) => {
                    tracing::warn!("mplane: poll failed: {e:#}");
                    failed = true;
                }
            }
        }
        // 3. Deliver receipts, results and exceptions, oldest first.
        while let Ok(m) = done_rx.try_recv() {
            outbox.push_back((m, 0));
        }
        while !failed {
            let Some((msg, tries)) = outbox.pop_front() else {
                break;
            };
            match post_message(&mut client, &link.result_path, &msg).await {
                Ok(r) if r.status == 200 => bump(&|s| s.delivered += 1),
                Ok(r) if r.status == 428 => {
                    registered_at = None;
                    outbox.push_front((msg, tries + 1));
                    break;
                }
                Ok(r) => {
                    // The supervisor read it and refused it: sending it again will not help.
                    tracing::warn!(
                        "mplane: {} for {} refused: HTTP {} {}",
                        msg.kind(),
                        msg.token().unwrap_or("-"),
                        r.status,
                        String::from_utf8_lossy(&r.body[..r.body.len().min(200)])
                    );
                }
                Err(e) => {
                    tracing::warn!("mplane: delivering a {} failed: {e:#}", msg.kind());
                    failed = true;
                    if tries < 100 {
                        outbox.push_front((msg, tries + 1));
                    }
                }
            }
        }
        if failed {
            bump(&|s| s.failures += 1);
            registered_at = None;
        }
        if let Some(t) = stopping {
            if (component.running() == 0 && outbox.is_empty() && done_rx.is_empty())
                || t.elapsed() > link.timeout
            {
                return Ok(());
            }
        }
        let wait = if failed {
            let w = backoff;
            backoff = (backoff * 2).min(link.poll.max(Duration::from_secs(5)));
            w
        } else {
            backoff = Duration::from_millis(500);
            link.poll
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            m = done_rx.recv() => if let Some(m) = m { outbox.push_back((m, 0)); },
            _ = stop.changed(), if stopping.is_none() => {
                let n = component.interrupt_all();
                tracing::info!("mplane: stopping; {n} jobs interrupted");
                stopping = Some(Instant::now());
            }
        }
    }
}

fn mplane_reply(msg: &Message) -> Reply {
    Reply::new(200, CONTENT_TYPE, msg.to_json().into_bytes())
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;")
}

/// The client-initiated workflow's HTTP handler (§9), serving `component` at `link` (the URL
/// advertised in the capabilities' `link`).
pub fn client_handler(component: Arc<Component>, link: String) -> super::net::Handler {
    Arc::new(move |req: Request| {
        let component = Arc::clone(&component);
        let link = link.clone();
        Box::pin(async move { handle_client(&component, &link, req) })
    })
}

fn handle_client(component: &Arc<Component>, link: &str, req: Request) -> Reply {
    let who = req.peer.identity.clone();
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/") => {
            let caps: Vec<String> = component
                .capabilities_for(&who)
                .map(|c| Message::Capability(c.clone()).to_json_pretty())
                .collect();
            Reply::new(
                200,
                "text/html",
                format!(
                    "<html><head><title>mPlane component</title></head><body>\
                     <p><a href='/capability'>capabilities</a></p><pre>{}</pre></body></html>",
                    html_escape(&caps.join("\n"))
                ),
            )
        }
        ("GET", "/capability") => {
            let links: Vec<String> = component
                .capabilities_for(&who)
                .filter_map(|c| c.token.as_deref())
                .map(|t| format!("<a href='/capability/{t}'>{t}</a><br/>"))
                .collect();
            Reply::new(
                200,
                "text/html",
                format!("<html><body>{}</body></html>", links.join("\n")),
            )
        }
        ("GET", p) if p.starts_with("/capability/") => {
            let token = &p["/capability/".len()..];
            match component
                .capabilities_for(&who)
                .find(|c| c.token.as_deref() == Some(token))
            {
                Some(c) => {
                    let mut c = c.clone();
                    c.link = Some(link.to_string());
                    mplane_reply(&Message::Capability(c))
                }
                None => Reply::text(404, "no such capability"),
            }
        }
        ("POST", "/") => {
            if !req.content_type().is_some_and(is_mplane_content_type) {
                return Reply::text(400, "Invalid format");
            }
            let msg = match Message::from_json(&req.body) {
                Ok(m) => m,
                Err(e) => {
                    return Reply::new(
                        400,
                        CONTENT_TYPE,
                        Message::Exception(Exception::new(None, e.to_string()))
                            .to_json()
                            .into_bytes(),
                    )
                }
            };
            let reply = match msg {
                Message::Specification(s) => component.submit(s, Some(&who), None),
                Message::Redemption(n) => match n.token() {
                    Some(t) => component.redeem(t, &who),
                    None => Message::Exception(Exception::new(None, "a redemption needs a token")),
                },
                Message::Interrupt(n) => match n.token() {
                    Some(t) => component.interrupt(t, Some(&who)),
                    None => Message::Exception(Exception::new(None, "an interrupt needs a token")),
                },
                other => Message::Exception(Exception::new(
                    other.token(),
                    format!("a component does not take a {} here", other.kind()),
                )),
            };
            mplane_reply(&reply)
        }
        ("GET" | "POST", _) => Reply::text(404, "not found"),
        _ => Reply::text(405, "method not allowed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mplane::net::{serve, HttpClient, ServerLimits};
    use std::collections::BTreeMap;

    /// Waits out its window and reports one row: how it ended.
    struct Waiter;

    impl Service for Waiter {
        fn run(self: Arc<Self>, mut job: Job) -> Pin<Box<dyn Future<Output = JobOutcome> + Send>> {
            Box::pin(async move {
                job.wait_start().await;
                let start = now();
                let (end, interrupted) = job.wait_end().await;
                let row = job
                    .spec
                    .results
                    .iter()
                    .map(|_| if interrupted { "interrupted" } else { "done" }.to_string())
                    .collect();
                Ok(job.result(start, end, vec![row]))
            })
        }
    }

    fn component() -> Arc<Component> {
        let caps = crate::mplane::tstat::capabilities(&Default::default()).unwrap();
        let offered = caps
            .into_iter()
            .map(|c| Offered {
                capability: c.capability,
                service: Arc::new(Waiter),
            })
            .collect();
        Component::new(offered, Registries::builtin(), None)
    }

    async fn server(c: Arc<Component>) -> (HttpClient, watch::Sender<bool>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(false);
        let limits = ServerLimits {
            max_body: 64 << 10,
            ..ServerLimits::default()
        };
        let handler = client_handler(c, format!("http://{addr}/"));
        tokio::spawn(serve(listener, None, limits, handler, rx));
        let ep = Endpoint::parse(&format!("http://{addr}")).unwrap();
        (
            HttpClient::new(ep, None, Duration::from_secs(10)).unwrap(),
            tx,
        )
    }

    fn spec_for(c: &Component, label: &str, when: &str) -> Specification {
        let cap = c
            .capabilities()
            .find(|c| c.label.as_deref() == Some(label))
            .unwrap();
        let mut s = crate::mplane::matching::derive_specification(
            cap,
            when.parse().unwrap(),
            &BTreeMap::new(),
            0,
            &Registries::builtin(),
            now(),
        )
        .unwrap();
        s.token = Some(format!("tok-{label}-{when}"));
        s
    }

    async fn post(http: &mut HttpClient, ct: &str, body: Vec<u8>) -> (u16, Option<Message>) {
        let r = http.request("POST", "/", Some(ct), body).await.unwrap();
        (r.status, Message::from_json(&r.body).ok())
    }

    #[tokio::test]
    async fn bad_input_gets_errors_and_exceptions_never_a_crash() {
        let c = component();
        let (mut http, _stop) = server(Arc::clone(&c)).await;
        // Wrong content type: 400, as the RI answers.
        let body = Message::Specification(spec_for(&c, "tstat-log_rrds", "now + 1s"))
            .to_json()
            .into_bytes();
        let (st, _) = post(&mut http, "application/json", body.clone()).await;
        assert_eq!(st, 400);
        // Not JSON, not a message, a message of the wrong kind: exceptions.
        for junk in [&b"{not json"[..], b"[]", b"{\"version\": 1}", b"\xff\xfe"] {
            let (st, m) = post(&mut http, CONTENT_TYPE, junk.to_vec()).await;
            assert_eq!(st, 400, "{junk:?}");
            assert!(matches!(m, Some(Message::Exception(_))), "{junk:?}");
        }
        let cap = Message::Capability(c.capabilities().next().unwrap().clone());
        let (st, m) = post(&mut http, CONTENT_TYPE, cap.to_json().into_bytes()).await;
        assert_eq!(st, 200);
        assert!(matches!(m, Some(Message::Exception(_))));
        // Oversized: 413, and the server still answers afterwards.
        let (st, _) = post(&mut http, CONTENT_TYPE, vec![b' '; 65 << 10]).await;
        assert_eq!(st, 413);
        // Unknown tokens.
        for kind in ["redemption", "interrupt"] {
            let n = format!(
                "{{\"{kind}\": \"measure\", \"version\": 1, \"registry\": \"{}\", \"token\": \"nope\"}}",
                crate::mplane::registry::TSTAT_REGISTRY_URI
            );
            let (st, m) = post(&mut http, CONTENT_TYPE, n.into_bytes()).await;
            assert_eq!(st, 200);
            match m {
                Some(Message::Exception(e)) => assert_eq!(e.token.as_deref(), Some("nope")),
                other => panic!("{kind}: {other:?}"),
            }
        }
        // A specification no capability matches, one already over, one with a foreign value.
        let mut s = spec_for(&c, "tstat-log_rrds", "now + 1s");
        s.results.pop();
        let (_, m) = post(
            &mut http,
            CONTENT_TYPE,
            Message::Specification(s).to_json().into_bytes(),
        )
        .await;
        assert!(matches!(m, Some(Message::Exception(_))));
        let mut s = spec_for(&c, "tstat-log_rrds", "now + 1s");
        s.when = "2001-01-01 00:00:00 ... 2001-01-01 01:00:00"
            .parse()
            .unwrap();
        let (_, m) = post(
            &mut http,
            CONTENT_TYPE,
            Message::Specification(s).to_json().into_bytes(),
        )
        .await;
        assert!(matches!(m, Some(Message::Exception(_))));
        let mut s = spec_for(&c, "tstat-log_rrds", "now + 1s");
        s.parameters.insert("System_ID".into(), "02".into());
        let (_, m) = post(
            &mut http,
            CONTENT_TYPE,
            Message::Specification(s).to_json().into_bytes(),
        )
        .await;
        assert!(matches!(m, Some(Message::Exception(_))));
        // Unknown paths and methods.
        for (method, path, status) in [
            ("GET", "/nothing", 404),
            ("DELETE", "/", 405),
            ("GET", "/capability/nope", 404),
        ] {
            let r = http.request(method, path, None, Vec::new()).await.unwrap();
            assert_eq!(r.status, status, "{method} {path}");
        }
        // And after all that, a good specification runs, is interrupted and redeemed once.
        let s = spec_for(&c, "tstat-log_rrds", "now + 1h");
        let tok = s.token.clone().unwrap();
        let (_, m) = post(
            &mut http,
            CONTENT_TYPE,
            Message::Specification(s.clone()).to_json().into_bytes(),
        )
        .await;
        assert!(matches!(m, Some(Message::Receipt(_))));
        let (_, m) = post(
            &mut http,
            CONTENT_TYPE,
            Message::Specification(s.clone()).to_json().into_bytes(),
        )
        .await;
        assert!(matches!(m, Some(Message::Exception(_))), "a token in use");
        let redeem = Message::Redemption(crate::mplane::Notification::for_specification(&s));
        let (_, m) = post(&mut http, CONTENT_TYPE, redeem.to_json().into_bytes()).await;
        assert!(matches!(m, Some(Message::Receipt(_))), "not ready yet");
        let int = Message::Interrupt(crate::mplane::Notification::for_specification(&s));
        post(&mut http, CONTENT_TYPE, int.to_json().into_bytes()).await;
        let mut got = None;
        for _ in 0..50 {
            let (_, m) = post(&mut http, CONTENT_TYPE, redeem.to_json().into_bytes()).await;
            if let Some(Message::Result(r)) = m {
                got = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let r = got.expect("a result after the interrupt");
        assert_eq!(r.statement.token.as_deref(), Some(tok.as_str()));
        assert!(r.values[0].iter().all(|v| v == "interrupted"));
        let (_, m) = post(&mut http, CONTENT_TYPE, redeem.to_json().into_bytes()).await;
        assert!(matches!(m, Some(Message::Exception(_))), "redeemed once");
    }
}
