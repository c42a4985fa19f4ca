//! A small mPlane client of the client-initiated workflow (mplane.md §9), for operators and
//! tests: `tstat-dpdk ctl`. It talks to the RI supervisor's client port or to a probe's own
//! server (`[mplane] listen`, [`super::component::client_handler`]) alike.
//!
//! The workflow, as the RI serves it:
//! - `GET /capability` is an HTML page with one `<a href='/capability/<token>'>` per capability
//!   the caller may see; [`capability_links`] reads the tokens out of it (either quote, or
//!   none; relative or absolute links), and `GET /capability/<token>` returns each capability.
//! - `POST /` with content type exactly [`CONTENT_TYPE`] takes a specification, a redemption
//!   or an interrupt and answers with a receipt, a result or an exception. The supervisor may
//!   hold a specification up to ~5 s waiting for an immediate result (§8), hence the 60 s
//!   default timeout ([`DEFAULT_TIMEOUT`]).
//! - Specifications are derived as RI clients derive them ([`derive_specification`]):
//!   single-value constraints (`System_ID`) filled in, metadata and result columns copied,
//!   label `<capability label>-<N>` (the supervisor strips `-<digits>` to find the capability,
//!   §6), a fresh token (§6).
//! - Redemptions and interrupts are sent in full form when this client sent the specification
//!   (the RI does so), else token-only with a `registry` ([`MplaneClient::set_notification_registry`]),
//!   which the RI needs to re-serialise them (§3.1 footnote).
//!
//! Everything is sent to the URL the client was made for, not to a capability's `link`: the
//! link a supervisor advertises is its `listen-cap-link` setting, which need not be reachable
//! from here, and the client-facing endpoint is the same server anyway (§9).
//!
//! Nothing a peer sends can panic the client; every error says what was asked, where, and what
//! came back ([`ClientError`]).

use super::component::now;
use super::matching::{derive_specification, MatchError};
use super::model::{is_mplane_content_type, Kind, CONTENT_TYPE, VERB_MEASURE};
use super::model::{Capability, Message, Notification, Specification};
use super::net::{Endpoint, HttpClient, HttpReply, TlsFiles};
use super::registry::{Registries, CORE_REGISTRY_URI};
use super::when::When;
use serde_json::{json, Value as Json};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// HTTP timeout of one exchange: the RI supervisor holds a specification up to ~5 s and
/// serves nothing else meanwhile (§8), so be generous.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Longest piece of a reply body an error repeats.
const EXCERPT: usize = 300;

/// The exit statuses of `tstat-dpdk ctl`, as `client_drive.py` of the interop test bed has
/// them.
pub mod exit {
    /// Success: list/show done; a result arrived; `run` without `--wait` got its receipt; an
    /// interrupt was acknowledged.
    pub const OK: u8 = 0;
    /// Usage, configuration or connection error, or a reply that is not an mPlane message.
    pub const ERROR: u8 = 1;
    /// The peer answered with an mPlane exception.
    pub const EXCEPTION: u8 = 2;
    /// No result within `--timeout`.
    pub const TIMEOUT: u8 = 3;
    /// No capability with that label (or token) is visible to this client.
    pub const NO_CAPABILITY: u8 = 4;
    /// `redeem` without `--wait`: the result is not ready yet.
    pub const PENDING: u8 = 5;
}

/// What went wrong talking to a peer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The client could not be set up (URL, certificates, registries).
    #[error("{0:#}")]
    Setup(anyhow::Error),
    /// No exchange: connection refused, TLS handshake, timeout, a broken connection.
    #[error("{method} {url}: {}", transport_text(method, url, error))]
    Transport {
        /// `GET` or `POST`.
        method: &'static str,
        /// The URL asked.
        url: String,
        /// What happened.
        error: anyhow::Error,
    },
    /// The peer answered with an HTTP status other than 200 and no mPlane exception.
    #[error("{method} {url}: HTTP {status}{}: {excerpt}", content_type.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Http {
        /// `GET` or `POST`.
        method: &'static str,
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The reply's content type.
        content_type: Option<String>,
        /// The start of the body.
        excerpt: String,
    },
    /// A 200 reply whose body is not an mPlane message, or not of the kind expected.
    #[error("{method} {url}: {why}: {excerpt}")]
    NotMplane {
        /// `GET` or `POST`.
        method: &'static str,
        /// The URL asked.
        url: String,
        /// What is wrong with it.
        why: String,
        /// The start of the body.
        excerpt: String,
    },
    /// No visible capability has this label or token.
    #[error(
        "{url}: no capability labelled {name:?} (or with that token) is visible to this client"
    )]
    NoSuchCapability {
        /// The label or token asked for.
        name: String,
        /// The index crawled.
        url: String,
    },
    /// The specification cannot be derived from the capability (a missing or unknown
    /// parameter, a value outside its constraint, a scope outside the capability's).
    #[error("{0}")]
    Specification(#[from] MatchError),
}

/// What went wrong with the connection, without the URL the error repeats.
fn transport_text(method: &str, url: &str, error: &anyhow::Error) -> String {
    let text = format!("{error:#}");
    let server = match url.find("://") {
        Some(i) => url[i + 3..].find('/').map_or(url, |j| &url[..i + 3 + j]),
        None => url,
    };
    let rest = [url, server]
        .iter()
        .find_map(|p| text.strip_prefix(p).and_then(|r| r.strip_prefix(": ")))
        .unwrap_or(&text);
    match rest.strip_prefix(&format!("{method} failed: ")) {
        Some(why) => format!("the connection failed: {why}"),
        None => rest.to_string(),
    }
}

impl ClientError {
    /// The exit status of `tstat-dpdk ctl` for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::NoSuchCapability { .. } => exit::NO_CAPABILITY,
            _ => exit::ERROR,
        }
    }
}

/// The start of a body, as text on one line, for error messages.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut chars = 0usize;
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in word.chars() {
            if chars == EXCERPT {
                out.push('…');
                return out;
            }
            out.push(if c.is_control() { '?' } else { c });
            chars += 1;
        }
    }
    if out.is_empty() {
        out.push_str("(empty body)");
    }
    out
}

/// The token a capability link names: the path segment after the last `capability/`, with
/// any query or fragment removed. `None` for other links.
pub fn token_of_link(href: &str) -> Option<String> {
    let href = href.trim();
    let href = href.split(['#', '?']).next().unwrap_or("");
    let i = href.rfind("capability/")?;
    if i > 0 && !href[..i].ends_with('/') {
        return None;
    }
    let token = href[i + "capability/".len()..].trim_end_matches('/');
    let usable = |c: char| {
        c.is_ascii_graphic()
            && !matches!(
                c,
                '"' | '\'' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}' | '/'
            )
    };
    (!token.is_empty() && token.chars().all(usable)).then(|| token.to_string())
}

/// The capability tokens an index page links to (`GET /capability`, §9), in page order,
/// each once. Reads `href` attributes of any case, with `'`, `"` or no quotes, relative or
/// absolute; other links are skipped.
pub fn capability_links(html: &str) -> Vec<String> {
    // ASCII lower-casing keeps every byte where it was, so offsets carry over.
    let lower = html.to_ascii_lowercase();
    let bytes = html.as_bytes();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(p) = lower[i..].find("href") {
        let mut j = i + p + 4;
        i = j;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if j >= bytes.len() || bytes[j] != b'=' {
            continue;
        }
        j += 1;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        let (start, end) = match bytes.get(j) {
            Some(&q @ (b'\'' | b'"')) => {
                let s = j + 1;
                let e = bytes[s..]
                    .iter()
                    .position(|&b| b == q)
                    .map_or(bytes.len(), |n| s + n);
                (s, e)
            }
            Some(_) => {
                let e = bytes[j..]
                    .iter()
                    .position(|&b| b.is_ascii_whitespace() || b == b'>')
                    .map_or(bytes.len(), |n| j + n);
                (j, e)
            }
            None => break,
        };
        i = end;
        if let Some(t) = token_of_link(&html[start..end].replace("&amp;", "&")) {
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

/// `NAME=VALUE` pairs (`--param`) as parameter values; a name may be given once.
pub fn parse_params(pairs: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for p in pairs {
        let Some((name, value)) = p.split_once('=').filter(|(n, _)| !n.is_empty()) else {
            return Err(format!("--param takes NAME=VALUE, not {p:?}"));
        };
        if out.insert(name.to_string(), value.to_string()).is_some() {
            return Err(format!("--param {name} is given twice"));
        }
    }
    Ok(out)
}

/// An mPlane client of one server (a supervisor's client port or a probe's own server).
pub struct MplaneClient {
    http: HttpClient,
    registries: Registries,
    notify_registry: String,
    sent: HashMap<String, Specification>,
    serial: u64,
}

impl MplaneClient {
    /// A client of `url` (`https://host:port`, or `http://` for a peer without TLS), with the
    /// certificate, key and CA of this client for https, and [`DEFAULT_TIMEOUT`].
    pub fn new(url: &str, tls: Option<&TlsFiles>) -> Result<MplaneClient, ClientError> {
        MplaneClient::with_timeout(url, tls, DEFAULT_TIMEOUT)
    }

    /// As [`MplaneClient::new`], with another HTTP timeout.
    pub fn with_timeout(
        url: &str,
        tls: Option<&TlsFiles>,
        timeout: Duration,
    ) -> Result<MplaneClient, ClientError> {
        let endpoint = Endpoint::parse(url).map_err(ClientError::Setup)?;
        let http = HttpClient::new(endpoint, tls, timeout).map_err(ClientError::Setup)?;
        Ok(MplaneClient::with_http(http, Registries::builtin()))
    }

    /// A client over a ready HTTP client, resolving elements in `registries`.
    pub fn with_http(http: HttpClient, registries: Registries) -> MplaneClient {
        // Labels `<capability label>-<N>`: a serial that differs between invocations of the
        // command (milliseconds of the clock), counting up within one.
        let serial = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| (d.as_millis() % 1_000_000_000) as u64);
        MplaneClient {
            http,
            registries,
            notify_registry: CORE_REGISTRY_URI.to_string(),
            sent: HashMap::new(),
            serial,
        }
    }

    /// The server it talks to.
    pub fn endpoint(&self) -> &Endpoint {
        self.http.endpoint()
    }

    /// The registries specifications are checked and tokens computed with (the core, demo
    /// and Tstat registries to begin with): add others here.
    pub fn registries_mut(&mut self) -> &mut Registries {
        &mut self.registries
    }

    /// The registry named in token-only redemptions and interrupts (default: the core
    /// registry, which every RI process resolves). It must be one the peer can resolve.
    pub fn set_notification_registry(&mut self, uri: &str) {
        self.notify_registry = uri.to_string();
    }

    /// The specification this client sent with this token (or whose receipt had it).
    pub fn specification(&self, token: &str) -> Option<&Specification> {
        self.sent.get(token)
    }

    async fn exchange(
        &mut self,
        method: &'static str,
        path: &str,
        body: Option<&Message>,
    ) -> Result<(String, HttpReply), ClientError> {
        let url = self.http.endpoint().url(path);
        let (ct, bytes) = match body {
            Some(m) => (Some(CONTENT_TYPE), m.to_json().into_bytes()),
            None => (None, Vec::new()),
        };
        match self.http.request(method, path, ct, bytes).await {
            Ok(r) => Ok((url, r)),
            Err(error) => Err(ClientError::Transport { method, url, error }),
        }
    }

    /// An mPlane reply: the message of a 200 reply, or an exception sent with any status.
    fn message_of(
        method: &'static str,
        url: String,
        r: &HttpReply,
    ) -> Result<Message, ClientError> {
        let mplane_type = r
            .content_type
            .as_deref()
            .is_some_and(is_mplane_content_type);
        let parsed = (mplane_type || r.status == 200).then(|| Message::from_json(&r.body));
        match parsed {
            Some(Ok(m)) if r.status == 200 || m.kind() == Kind::Exception => Ok(m),
            Some(Err(e)) if r.status == 200 => Err(ClientError::NotMplane {
                method,
                url,
                why: format!(
                    "the reply ({}) is not an mPlane message: {e}",
                    r.content_type.as_deref().unwrap_or("no content type")
                ),
                excerpt: excerpt(&r.body),
            }),
            _ => Err(ClientError::Http {
                method,
                url,
                status: r.status,
                content_type: r.content_type.clone(),
                excerpt: excerpt(&r.body),
            }),
        }
    }

    /// The tokens of the capabilities this client may see (`GET /capability`).
    pub async fn capability_tokens(&mut self) -> Result<Vec<String>, ClientError> {
        let (url, r) = self.exchange("GET", "/capability", None).await?;
        if r.status != 200 {
            return Err(ClientError::Http {
                method: "GET",
                url,
                status: r.status,
                content_type: r.content_type.clone(),
                excerpt: excerpt(&r.body),
            });
        }
        Ok(capability_links(&String::from_utf8_lossy(&r.body)))
    }

    /// One capability by its token (`GET /capability/<token>`).
    pub async fn capability_by_token(&mut self, token: &str) -> Result<Capability, ClientError> {
        let path = format!("/capability/{token}");
        let (url, r) = self.exchange("GET", &path, None).await?;
        match MplaneClient::message_of("GET", url.clone(), &r)? {
            Message::Capability(c) => Ok(c),
            other => Err(ClientError::NotMplane {
                method: "GET",
                url,
                why: format!("expected a capability, got a {}", other.kind()),
                excerpt: excerpt(&r.body),
            }),
        }
    }

    /// Every capability this client may see, in the index's order: the RI client's crawl of
    /// `GET /capability` and each `GET /capability/<token>`.
    pub async fn capabilities(&mut self) -> Result<Vec<Capability>, ClientError> {
        let tokens = self.capability_tokens().await?;
        let mut caps = Vec::with_capacity(tokens.len());
        for t in tokens {
            caps.push(self.capability_by_token(&t).await?);
        }
        Ok(caps)
    }

    /// The capability with this label (the first one, should several have it), or else this
    /// token, among those this client may see.
    pub async fn capability(&mut self, label_or_token: &str) -> Result<Capability, ClientError> {
        let mut caps = self.capabilities().await?;
        let by_label = caps
            .iter()
            .position(|c| c.label.as_deref() == Some(label_or_token));
        let by_token = || {
            caps.iter()
                .position(|c| c.token.as_deref() == Some(label_or_token))
        };
        match by_label.or_else(by_token) {
            Some(i) => Ok(caps.swap_remove(i)),
            None => Err(ClientError::NoSuchCapability {
                name: label_or_token.to_string(),
                url: self.http.endpoint().url("/capability"),
            }),
        }
    }

    /// The specification an RI client would send for `cap` ([`derive_specification`]):
    /// parameters from `params`, single-value constraints filled in, label `label` or
    /// `<capability label>-<N>`, a fresh token.
    pub fn specify(
        &mut self,
        cap: &Capability,
        when: When,
        params: &BTreeMap<String, String>,
        label: Option<String>,
    ) -> Result<Specification, ClientError> {
        let serial = self.serial;
        self.serial += 1;
        let mut spec = derive_specification(cap, when, params, serial, &self.registries, now())?;
        if label.is_some() {
            spec.label = label;
        }
        Ok(spec)
    }

    /// Sends a specification (`POST /`) and returns the first reply: a receipt, a result or
    /// an exception. The client remembers it, to redeem and interrupt it in full form.
    pub async fn send(&mut self, spec: Specification) -> Result<Message, ClientError> {
        if let Some(t) = &spec.token {
            self.sent.insert(t.clone(), spec.clone());
        }
        self.post(&Message::Specification(spec)).await
    }

    /// Derives a specification from `cap` ([`MplaneClient::specify`]) and sends it.
    pub async fn run(
        &mut self,
        cap: &Capability,
        when: When,
        params: BTreeMap<String, String>,
        label: Option<String>,
    ) -> Result<Message, ClientError> {
        let spec = self.specify(cap, when, &params, label)?;
        self.send(spec).await
    }

    fn notification(&self, token: &str) -> Notification {
        match self.sent.get(token) {
            Some(spec) => Notification::for_specification(spec),
            None => Notification::TokenOnly {
                verb: VERB_MEASURE.to_string(),
                registry: Some(self.notify_registry.clone()),
                label: None,
                token: token.to_string(),
            },
        }
    }

    /// Asks for the result of the specification with this token: its result, its receipt
    /// while it runs, or an exception (an unknown token).
    pub async fn redeem(&mut self, token: &str) -> Result<Message, ClientError> {
        let msg = Message::Redemption(self.notification(token));
        self.post(&msg).await
    }

    /// Interrupts the specification with this token: its receipt (the result comes with a
    /// later redemption), its result if it had ended, or an exception.
    pub async fn interrupt(&mut self, token: &str) -> Result<Message, ClientError> {
        let msg = Message::Interrupt(self.notification(token));
        self.post(&msg).await
    }

    /// POSTs any message to `/` and returns the mPlane reply.
    pub async fn post(&mut self, msg: &Message) -> Result<Message, ClientError> {
        let (url, r) = self.exchange("POST", "/", Some(msg)).await?;
        MplaneClient::message_of("POST", url, &r)
    }

    /// Follows a specification from its first reply `first` (sent at `t0`) to an outcome:
    /// a result or an exception; the receipt when `how.wait` is off; a timeout after
    /// `how.timeout`. While waiting it redeems every `how.poll`, and interrupts once after
    /// `how.interrupt_after` (counted from `t0`).
    pub async fn follow(
        &mut self,
        token: &str,
        first: Message,
        how: &Follow,
        t0: Instant,
    ) -> Result<Outcome, ClientError> {
        let mut token = token.to_string();
        let mut reply = first;
        let mut receipt: Option<Message> = None;
        let mut interrupted = false;
        loop {
            let kind = match reply.kind() {
                Kind::Exception => Some(OutcomeKind::Exception),
                Kind::Result | Kind::Envelope => Some(OutcomeKind::Result),
                Kind::Receipt => None,
                other => {
                    return Err(ClientError::NotMplane {
                        method: "POST",
                        url: self.http.endpoint().url("/"),
                        why: format!("expected a receipt, a result or an exception, got a {other}"),
                        excerpt: excerpt(reply.to_json().as_bytes()),
                    })
                }
            };
            if let Some(kind) = kind {
                return Ok(self.outcome(kind, &token, t0, receipt, reply));
            }
            if receipt.is_none() {
                // The receipt's token is the one the peer knows the job by.
                if let Some(t) = reply.token().filter(|t| *t != token).map(str::to_string) {
                    if let Some(s) = self.sent.get(&token).cloned() {
                        self.sent.insert(t.clone(), s);
                    }
                    token = t;
                }
                receipt = Some(reply.clone());
            }
            if !how.wait {
                return Ok(self.outcome(OutcomeKind::Receipt, &token, t0, receipt, reply));
            }
            let elapsed = t0.elapsed();
            if let Some(after) = how.interrupt_after.filter(|_| !interrupted) {
                if elapsed >= after {
                    tracing::info!("interrupting {token}");
                    reply = self.interrupt(&token).await?;
                    interrupted = true;
                    continue;
                }
            }
            if elapsed >= how.timeout {
                return Ok(self.outcome(OutcomeKind::Timeout, &token, t0, receipt, reply));
            }
            let mut wait = how.poll.min(how.timeout - elapsed);
            if let Some(after) = how.interrupt_after.filter(|_| !interrupted) {
                wait = wait.min(after.saturating_sub(elapsed));
            }
            tokio::time::sleep(wait).await;
            reply = self.redeem(&token).await?;
        }
    }

    fn outcome(
        &self,
        kind: OutcomeKind,
        token: &str,
        t0: Instant,
        receipt: Option<Message>,
        reply: Message,
    ) -> Outcome {
        Outcome {
            kind,
            elapsed: t0.elapsed(),
            specification: self.sent.get(token).cloned(),
            receipt,
            reply,
        }
    }
}

/// How [`MplaneClient::follow`] waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Follow {
    /// Redeem until a result (or exception) arrives; off: stop at the receipt.
    pub wait: bool,
    /// Time between redemptions.
    pub poll: Duration,
    /// Give up after this long (counted from the specification's sending).
    pub timeout: Duration,
    /// Interrupt once after this long.
    pub interrupt_after: Option<Duration>,
}

impl Default for Follow {
    /// `client_drive.py`'s defaults: redeem every 2 s for at most 120 s.
    fn default() -> Self {
        Follow {
            wait: true,
            poll: Duration::from_secs(2),
            timeout: Duration::from_secs(120),
            interrupt_after: None,
        }
    }
}

/// How following a specification ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    /// A result (or an envelope of results).
    Result,
    /// Only a receipt (not waiting).
    Receipt,
    /// An exception.
    Exception,
    /// Still only a receipt after the timeout.
    Timeout,
}

impl OutcomeKind {
    /// `result`, `receipt`, `exception`, `timeout`.
    pub fn name(self) -> &'static str {
        match self {
            OutcomeKind::Result => "result",
            OutcomeKind::Receipt => "receipt",
            OutcomeKind::Exception => "exception",
            OutcomeKind::Timeout => "timeout",
        }
    }
}

/// How a specification ended, with the messages that tell.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How it ended.
    pub kind: OutcomeKind,
    /// Time since it was sent (or the first redemption).
    pub elapsed: Duration,
    /// The specification, when this client sent it.
    pub specification: Option<Specification>,
    /// The first receipt, if any.
    pub receipt: Option<Message>,
    /// The last reply.
    pub reply: Message,
}

impl Outcome {
    /// The exit status of `tstat-dpdk ctl` ([`exit`]); `receipt_ok`: whether stopping at a
    /// receipt is success (`run` without `--wait`, `interrupt`) or "not ready" (`redeem`).
    pub fn exit_code(&self, receipt_ok: bool) -> u8 {
        match self.kind {
            OutcomeKind::Result => exit::OK,
            OutcomeKind::Receipt if receipt_ok => exit::OK,
            OutcomeKind::Receipt => exit::PENDING,
            OutcomeKind::Exception => exit::EXCEPTION,
            OutcomeKind::Timeout => exit::TIMEOUT,
        }
    }

    /// `client_drive.py`'s JSON form: `{"outcome", "elapsed_s", "specification"?, "receipt"?,
    /// "reply"}`, the messages in their wire form.
    pub fn to_json(&self) -> Json {
        let mut doc = json!({
            "outcome": self.kind.name(),
            "elapsed_s": (self.elapsed.as_secs_f64() * 10.0).round() / 10.0,
            "reply": self.reply.to_value(),
        });
        if let Some(s) = &self.specification {
            doc["specification"] = Message::Specification(s.clone()).to_value();
        }
        if let Some(r) = &self.receipt {
            doc["receipt"] = r.to_value();
        }
        doc
    }
}

/// One line per capability: `LABEL token=... when=...` (`client_drive.py list`).
pub fn capability_line(cap: &Capability) -> String {
    format!(
        "{:<40} token={} when={}",
        cap.label.as_deref().unwrap_or("(unlabelled)"),
        cap.token.as_deref().unwrap_or("-"),
        cap.when
    )
}

/// A capability, one section per line.
pub fn render_capability(cap: &Capability) -> String {
    let mut out = Vec::new();
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    out.push(format!("label      {}", opt(&cap.label)));
    out.push(format!("verb       {}", cap.verb));
    out.push(format!("token      {}", opt(&cap.token)));
    out.push(format!("registry   {}", cap.registry));
    out.push(format!("when       {}", cap.when));
    if let Some(l) = &cap.link {
        out.push(format!("link       {l}"));
    }
    if let Some(e) = &cap.export {
        out.push(format!("export     {e}"));
    }
    for (k, c) in &cap.parameters {
        out.push(format!("parameter  {k} = {c}"));
    }
    for (k, v) in &cap.metadata {
        out.push(format!("metadata   {k} = {v}"));
    }
    for r in &cap.results {
        out.push(format!("result     {r}"));
    }
    out.join("\n")
}

/// Rows under their column names, columns aligned (the last one not padded).
pub fn result_table(columns: &[String], rows: &[Vec<String>]) -> String {
    let n = columns
        .len()
        .max(rows.iter().map(Vec::len).max().unwrap_or(0));
    fn cell(row: &[String], i: usize) -> &str {
        row.get(i).map(String::as_str).unwrap_or("")
    }
    let mut width = vec![0usize; n];
    for row in std::iter::once(columns).chain(rows.iter().map(Vec::as_slice)) {
        for (i, w) in width.iter_mut().enumerate() {
            *w = (*w).max(cell(row, i).chars().count());
        }
    }
    let line = |row: &[String]| {
        let mut s = String::new();
        for (i, w) in width.iter().enumerate() {
            let c = cell(row, i);
            s.push_str(c);
            if i + 1 < n {
                s.push_str(&" ".repeat(w - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = vec![line(columns)];
    out.extend(rows.iter().map(|r| line(r)));
    out.join("\n")
}

/// A message for people: receipts and exceptions in one line, results with their metadata
/// and their rows as a table, envelopes message by message.
pub fn render_message(msg: &Message) -> String {
    let head = |kind: &str, s: &Specification| {
        format!(
            "{kind} token={} label={} when={}",
            s.token.as_deref().unwrap_or("-"),
            s.label.as_deref().unwrap_or("-"),
            s.when
        )
    };
    match msg {
        Message::Receipt(s) => head("receipt", s),
        Message::Result(r) => {
            let mut out = vec![head("result", &r.statement)];
            for (k, v) in &r.statement.parameters {
                out.push(format!("parameter {k} = {v}"));
            }
            for (k, v) in &r.statement.metadata {
                out.push(format!("metadata {k} = {v}"));
            }
            out.push(result_table(&r.statement.results, &r.values));
            out.push(format!(
                "({} row{})",
                r.values.len(),
                if r.values.len() == 1 { "" } else { "s" }
            ));
            out.join("\n")
        }
        Message::Exception(e) => format!(
            "exception token={}: {}",
            e.token.as_deref().unwrap_or("-"),
            e.message
        ),
        Message::Envelope(e) => e
            .contents
            .iter()
            .map(render_message)
            .collect::<Vec<_>>()
            .join("\n"),
        Message::Capability(c) => render_capability(c),
        other => format!(
            "{} token={} label={}",
            other.kind(),
            other.token().unwrap_or("-"),
            other.label().unwrap_or("-")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_of_an_index_page() {
        let page = "<html><body><a href='/capability/abc123'>abc123</a><br/>\n\
                    <A HREF=\"/capability/def456\">x</A> <a href = /capability/0ff/ >y</a>\
                    <a href='https://127.0.0.1:8890/capability/beef?x=1#f'>z</a>\
                    <a href='/capability'>index</a><a href='/capability/abc123'>again</a>\
                    <a href='/notcapability/zzz'>no</a><a href='capability/rel'>rel</a>\
                    <a href=''>empty</a><a href='/capability/a b'>space</a>\
                    <a href='/capability/x/y'>deeper</a> href <a href=\"/capability/open";
        assert_eq!(
            capability_links(page),
            ["abc123", "def456", "0ff", "beef", "rel", "open"]
        );
        assert!(capability_links("").is_empty());
        assert!(capability_links("href").is_empty());
        assert!(capability_links("href=").is_empty());
        assert!(capability_links("<a href='/capability/ünï'>").is_empty());
        assert_eq!(capability_links("héllo href='/capability/t' ü"), ["t"]);
    }

    #[test]
    fn transport_errors_name_the_url_once() {
        let url = "http://127.0.0.1:9/capability";
        let e = ClientError::Transport {
            method: "GET",
            url: url.into(),
            error: anyhow::anyhow!("http://127.0.0.1:9: cannot connect: refused"),
        };
        assert_eq!(e.to_string(), format!("GET {url}: cannot connect: refused"));
        let e = ClientError::Transport {
            method: "POST",
            url: "https://h:1/".into(),
            error: anyhow::anyhow!("https://h:1/: POST failed: canceled"),
        };
        assert_eq!(
            e.to_string(),
            "POST https://h:1/: the connection failed: canceled"
        );
        let e = ClientError::Transport {
            method: "GET",
            url: "x".into(),
            error: anyhow::anyhow!("other"),
        };
        assert_eq!(e.to_string(), "GET x: other");
    }

    #[test]
    fn excerpts() {
        assert_eq!(
            excerpt(b"  <html>\n  <b>oops</b>\r\n</html> "),
            "<html> <b>oops</b> </html>"
        );
        assert_eq!(excerpt(b""), "(empty body)");
        assert_eq!(excerpt(b"\xff\x01x"), "\u{fffd}?x");
        let long = "a".repeat(1000);
        let e = excerpt(long.as_bytes());
        assert_eq!(e.chars().count(), EXCERPT + 1);
        assert!(e.ends_with('…'));
    }

    #[test]
    fn tables() {
        let cols = vec!["a".to_string(), "long name".to_string(), "c".to_string()];
        let rows = vec![
            vec!["1".to_string(), "2".to_string(), "3".to_string()],
            vec!["wide value".to_string()],
            vec![
                "x".to_string(),
                "y".to_string(),
                "z".to_string(),
                "extra".to_string(),
            ],
        ];
        assert_eq!(
            result_table(&cols, &rows),
            "a           long name  c\n\
             1           2          3\n\
             wide value\n\
             x           y          z  extra"
        );
        assert_eq!(result_table(&[], &[]), "");
    }

    #[test]
    fn specifications_as_the_ri_client_derives_them() {
        let caps = super::super::tstat::capabilities(&Default::default()).unwrap();
        let cap = &caps
            .iter()
            .find(|c| c.capability.label.as_deref() == Some("tstat-log_rrds"))
            .unwrap()
            .capability;
        let http = HttpClient::with_config(
            Endpoint::parse("http://127.0.0.1:9").unwrap(),
            None,
            DEFAULT_TIMEOUT,
        );
        let mut c = MplaneClient::with_http(http, Registries::builtin());
        let when: When = "now + 1h".parse().unwrap();
        let a = c
            .specify(cap, when.clone(), &BTreeMap::new(), None)
            .unwrap();
        let b = c
            .specify(cap, when.clone(), &BTreeMap::new(), None)
            .unwrap();
        assert_eq!(a.parameters["System_ID"], "01");
        assert_eq!(a.results, cap.results);
        assert_eq!(a.metadata, cap.metadata);
        let la = a.label.clone().unwrap();
        let lb = b.label.clone().unwrap();
        assert_ne!(la, lb);
        assert_eq!(super::super::matching::base_label(&la), "tstat-log_rrds");
        assert_eq!(a.token.as_ref().map(String::len), Some(32));
        let named = c
            .specify(cap, when.clone(), &BTreeMap::new(), Some("mine-7".into()))
            .unwrap();
        assert_eq!(named.label.as_deref(), Some("mine-7"));
        let mut bad = BTreeMap::new();
        bad.insert("nope".to_string(), "1".to_string());
        assert!(matches!(
            c.specify(cap, when, &bad, None),
            Err(ClientError::Specification(
                MatchError::UnknownParameter { .. }
            ))
        ));
        // Notifications: full form for a known specification, token-only with a registry else.
        c.sent.insert(a.token.clone().unwrap(), a.clone());
        match c.notification(a.token.as_deref().unwrap()) {
            Notification::Full(s) => assert_eq!(*s, a.echo()),
            other => panic!("{other:?}"),
        }
        match c.notification("feed") {
            Notification::TokenOnly {
                registry, token, ..
            } => {
                assert_eq!(registry.as_deref(), Some(CORE_REGISTRY_URI));
                assert_eq!(token, "feed");
            }
            other => panic!("{other:?}"),
        }
    }
}
