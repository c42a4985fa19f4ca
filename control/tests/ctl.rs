//! `tstat-dpdk ctl`, the mPlane client, against the probe's own client-initiated server on
//! loopback: the component runtime and its client handler (`component::client_handler`)
//! offering the ten Tstat capabilities (`tstat::capabilities`, the 2015 labels and tokens),
//! each backed by a small service that runs the job's window and answers with the 2015
//! proxy's placeholder row (no capture engine), served by `net::serve` over plain HTTP (every
//! peer `Identity.Unauthenticated.Default`) or mutual TLS with a throw-away PKI made with the
//! `openssl` command (skipped, and said so, without it).
//!
//! The real binary runs each command, and the checks read its standard output (human or
//! `--json`) and exit status (0 ok, 1 error, 2 exception, 3 timeout, 4 no such capability,
//! 5 not ready). Runs use `tstat-log_rrds` (nine result columns).

#[path = "common/pki.rs"]
mod pki;

use control::mplane::component::{client_handler, Component, Job, JobOutcome, Offered, Service};
use control::mplane::matching::base_label;
use control::mplane::net::{self, Handler, Reply, Request, ServerLimits, TlsFiles};
use control::mplane::tstat::{capabilities, TstatAction, TstatCapability, TstatIdentity};
use control::mplane::{Registries, When};
use pki::TestPki;
use serde_json::Value as Json;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

const END_TO_END_TOKEN: &str = "8d6d3a2a8acd432f6e0f67e0d07b089c";

// ---------------------------------------------------------------------------------------------
// A probe component on loopback.

/// What stands behind each Tstat capability here: the job's window (ended early by an
/// interrupt), then the 2015 proxy's placeholder row (one value per result column). No
/// capture engine, no log writer: the protocol is what is under test.
struct Window {
    cap: TstatCapability,
    registries: Registries,
}

impl Service for Window {
    fn run(self: Arc<Self>, mut job: Job) -> Pin<Box<dyn Future<Output = JobOutcome> + Send>> {
        Box::pin(async move {
            let start = chrono::Utc::now().naive_utc();
            if !job.wait_start().await {
                return Ok(job.result(start, start, Vec::new()));
            }
            let start = chrono::Utc::now().naive_utc();
            let (end, _) = job.wait_end().await;
            let row = self.cap.placeholder_row(start, &self.registries);
            Ok(job.result(start, end, vec![row]))
        })
    }
}

/// The ten Tstat capabilities, with their 2015 labels and tokens.
fn tstat_like_component() -> Arc<Component> {
    let offered = capabilities(&TstatIdentity::default())
        .unwrap()
        .into_iter()
        .map(|cap| Offered {
            capability: cap.capability.clone(),
            service: Arc::new(Window {
                cap,
                registries: Registries::builtin(),
            }),
        })
        .collect();
    Component::new(offered, Registries::builtin(), None)
}

/// Rewrites the handler of a server that knows its own port.
type Wrap = fn(Handler, u16) -> Handler;

struct Server {
    port: u16,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// The Tstat component, served over TLS when `tls` is given, its handler passed through
    /// `wrap`.
    fn start(tls: Option<TlsFiles>, wrap: Wrap) -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, rx) = tokio::sync::watch::channel(false);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let component = tstat_like_component();
                let scheme = if tls.is_some() { "https" } else { "http" };
                let handler = wrap(
                    client_handler(component, format!("{scheme}://127.0.0.1:{port}/")),
                    port,
                );
                let tls = tls.map(|f| net::server_config(&f).unwrap());
                net::serve(listener, tls, ServerLimits::default(), handler, rx)
                    .await
                    .unwrap();
            });
        });
        Server {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn plain() -> Server {
        Server::start(None, |h, _| h)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running the command.

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Out {
    fn json(&self) -> Json {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}):\n{self}"))
    }

    fn expect(self, code: i32) -> Out {
        assert_eq!(self.code, code, "{self}");
        self
    }
}

fn ctl_with(url: &str, extra: &[&str], args: &[&str]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_tstat-dpdk"))
        .arg("ctl")
        .arg("--url")
        .arg(url)
        .args(extra)
        .args(args)
        .output()
        .expect("tstat-dpdk runs");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn ctl(url: &str, args: &[&str]) -> Out {
    ctl_with(url, &[], args)
}

/// The token of the `receipt token=... label=... when=...` line.
fn receipt_token(out: &Out) -> String {
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("receipt token="))
        .unwrap_or_else(|| panic!("no receipt line:\n{out}"));
    line["receipt token=".len()..]
        .split(' ')
        .next()
        .unwrap()
        .to_string()
}

/// A result's `when` as absolute start and end.
fn absolute_window(reply: &Json) -> (chrono::NaiveDateTime, chrono::NaiveDateTime) {
    let text = reply["when"].as_str().expect("a result has a when");
    let when: When = text.parse().unwrap();
    assert!(when.is_definite(), "{text} is not absolute");
    let tzero = chrono::Utc::now().naive_utc();
    match when.datetimes(tzero).unwrap() {
        (Some(a), Some(b)) => (a, b),
        other => panic!("{text}: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Listing and showing.

#[test]
fn list_and_show_the_ten_capabilities() {
    let s = Server::plain();
    let out = ctl(&s.url(), &["list"]).expect(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 10, "{out}");
    for a in TstatAction::ALL {
        assert!(
            lines
                .iter()
                .any(|l| l.split_whitespace().next() == Some(a.label())),
            "{} missing:\n{out}",
            a.label()
        );
    }
    let e2e = lines
        .iter()
        .find(|l| l.starts_with("tstat-log_tcp_complete-end_to_end "))
        .unwrap();
    assert!(e2e.contains(&format!("token={END_TO_END_TOKEN}")), "{e2e}");
    assert!(e2e.contains("when=now ... future"), "{e2e}");

    let list = ctl(&s.url(), &["--json", "list"]).expect(0).json();
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), 10);
    assert!(list.iter().all(|c| c["capability"] == "measure"));

    let show = ctl(&s.url(), &["show", "tstat-log_tcp_complete-end_to_end"]).expect(0);
    assert!(
        show.stdout
            .contains(&format!("token      {END_TO_END_TOKEN}")),
        "{show}"
    );
    assert!(show.stdout.contains("parameter  System_ID = 01"), "{show}");
    assert!(
        show.stdout.contains(&format!("link       {}/", s.url())),
        "{show}"
    );

    // By token, and --json after the subcommand.
    let cap = ctl(&s.url(), &["show", END_TO_END_TOKEN, "--json"])
        .expect(0)
        .json();
    assert_eq!(cap["label"], "tstat-log_tcp_complete-end_to_end");
    assert_eq!(cap["token"], END_TO_END_TOKEN);
    assert_eq!(cap["parameters"]["System_ID"], "01");

    let none = ctl(&s.url(), &["show", "tstat-log_nothing"]).expect(4);
    assert!(none.stderr.contains("tstat-log_nothing"), "{none}");
    ctl(
        &s.url(),
        &["run", "tstat-log_nothing", "--when", "now + 1s"],
    )
    .expect(4);
}

// ---------------------------------------------------------------------------------------------
// Running, redeeming, interrupting.

#[test]
fn run_waits_for_the_result() {
    let s = Server::plain();
    let t0 = Instant::now();
    let out = ctl(
        &s.url(),
        &[
            "--json",
            "run",
            "tstat-log_rrds",
            "--when",
            "now + 2s",
            "--wait",
            "--poll",
            "0.5",
        ],
    )
    .expect(0);
    assert!(t0.elapsed() >= Duration::from_secs(2));
    let doc = out.json();
    assert_eq!(doc["outcome"], "result", "{out}");
    let spec = &doc["specification"];
    assert_eq!(spec["specification"], "measure");
    assert_eq!(spec["parameters"]["System_ID"], "01", "filled in: {out}");
    assert_eq!(spec["when"], "now + 2s");
    let label = spec["label"].as_str().unwrap();
    assert_ne!(base_label(label), label, "{label} ends in -<digits>");
    assert_eq!(base_label(label), "tstat-log_rrds");
    let token = spec["token"].as_str().unwrap();
    assert_eq!(token.len(), 32);
    assert_eq!(doc["receipt"]["receipt"], "measure");
    assert_eq!(doc["receipt"]["token"], token);
    let reply = &doc["reply"];
    assert_eq!(reply["result"], "measure");
    assert_eq!(reply["token"], token);
    assert_eq!(reply["label"], label);
    assert_eq!(reply["results"].as_array().unwrap().len(), 9);
    let rows = reply["resultvalues"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].as_array().unwrap().len(), 9);
    let (a, b) = absolute_window(reply);
    let secs = (b - a).num_milliseconds() as f64 / 1000.0;
    assert!((1.5..10.0).contains(&secs), "window of {secs} s");

    // The same for people: the receipt's token, then the result's rows as a table.
    let out = ctl(
        &s.url(),
        &[
            "run",
            "tstat-log_rrds",
            "--when",
            "now + 1s",
            "--wait",
            "--poll",
            "0.3",
        ],
    )
    .expect(0);
    let token = receipt_token(&out);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("receipt token="), "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("result token={token} label=tstat-log_rrds-"))),
        "{out}"
    );
    let header = lines
        .iter()
        .position(|l| l.starts_with("Ethernet.Related.metrics"))
        .unwrap_or_else(|| panic!("no table:\n{out}"));
    assert!(lines[header].contains("Profile.Related.metrics"), "{out}");
    assert!(lines[header + 1].starts_with("hello  "), "{out}");
    assert_eq!(lines.last(), Some(&"(1 row)"), "{out}");

    // Without --wait: the receipt, exit 0.
    let out = ctl(&s.url(), &["run", "tstat-log_rrds", "--when", "now + 1s"]).expect(0);
    assert_eq!(out.stdout.lines().count(), 1, "{out}");
    receipt_token(&out);
}

#[test]
fn interrupt_ends_a_run_early() {
    let s = Server::plain();
    let run = ctl(&s.url(), &["run", "tstat-log_rrds", "--when", "now + 1h"]).expect(0);
    let token = receipt_token(&run);
    let pending = ctl(&s.url(), &["redeem", &token]).expect(5);
    assert!(pending.stdout.starts_with("receipt token="), "{pending}");
    assert!(pending.stderr.contains("not ready"), "{pending}");
    let t0 = Instant::now();
    let int = ctl(&s.url(), &["interrupt", &token]).expect(0);
    assert!(
        int.stdout.starts_with(&format!("receipt token={token}"))
            || int.stdout.starts_with(&format!("result token={token}")),
        "{int}"
    );
    let doc = ctl(
        &s.url(),
        &[
            "--json",
            "redeem",
            &token,
            "--wait",
            "--poll",
            "0.2",
            "--timeout",
            "30",
        ],
    )
    .expect(0)
    .json();
    assert!(t0.elapsed() < Duration::from_secs(30));
    assert_eq!(doc["outcome"], "result");
    assert_eq!(doc["reply"]["token"], token.as_str());
    assert!(
        doc.get("specification").is_none(),
        "a fresh process: token only"
    );
    let (a, b) = absolute_window(&doc["reply"]);
    assert!(b - a < chrono::TimeDelta::minutes(5), "{a} ... {b}");
    // The outcome was handed out: the job is forgotten.
    let gone = ctl(&s.url(), &["redeem", &token]).expect(2);
    assert!(gone.stdout.contains("Unknown job"), "{gone}");

    // In one process: the interrupt in full form after 0.5 s, then redemptions.
    let t0 = Instant::now();
    let doc = ctl(
        &s.url(),
        &[
            "--json",
            "run",
            "tstat-log_rrds",
            "--when",
            "now + 1h",
            "--interrupt-after",
            "0.5",
            "--poll",
            "0.2",
            "--timeout",
            "30",
        ],
    )
    .expect(0)
    .json();
    assert!(t0.elapsed() < Duration::from_secs(30));
    assert_eq!(doc["outcome"], "result");
    let (a, b) = absolute_window(&doc["reply"]);
    assert!(b - a < chrono::TimeDelta::minutes(5), "{a} ... {b}");
}

#[test]
fn timeouts_exceptions_and_usage_errors() {
    let s = Server::plain();
    let url = s.url();
    // A token nobody issued: an mPlane exception.
    let r = ctl(&url, &["redeem", "0123456789abcdef0123456789abcdef"]).expect(2);
    assert!(r.stdout.contains("exception token=0123456789abcdef"), "{r}");
    assert!(r.stdout.contains("Unknown job"), "{r}");
    ctl(&url, &["interrupt", "feedfeed"]).expect(2);
    let doc = ctl(&url, &["--json", "redeem", "feedfeed", "--wait"])
        .expect(2)
        .json();
    assert_eq!(doc["outcome"], "exception");
    assert_eq!(doc["reply"]["exception"], "feedfeed");

    // Still running at the timeout: exit 3 (then stop it).
    let out = ctl(
        &url,
        &[
            "run",
            "tstat-log_rrds",
            "--when",
            "now + 1h",
            "--wait",
            "--timeout",
            "1",
            "--poll",
            "0.3",
        ],
    )
    .expect(3);
    assert!(out.stderr.contains("no result after"), "{out}");
    ctl(&url, &["interrupt", &receipt_token(&out)]).expect(0);

    // Usage errors: exit 1, saying what.
    let bad_when = ctl(&url, &["run", "tstat-log_rrds", "--when", "soon"]).expect(1);
    assert!(bad_when.stderr.contains("--when"), "{bad_when}");
    let bad = ctl(
        &url,
        &[
            "run",
            "tstat-log_rrds",
            "--when",
            "now + 1s",
            "--param",
            "nope=1",
        ],
    )
    .expect(1);
    assert!(bad.stderr.contains("nope"), "{bad}");
    let bad = ctl(
        &url,
        &[
            "run",
            "tstat-log_rrds",
            "--when",
            "now + 1s",
            "--param",
            "System_ID=02",
        ],
    )
    .expect(1);
    assert!(bad.stderr.contains("System_ID"), "{bad}");
    ctl(
        &url,
        &[
            "run",
            "tstat-log_rrds",
            "--when",
            "now + 1s",
            "--param",
            "novalue",
        ],
    )
    .expect(1);
    ctl(
        &url,
        &[
            "run",
            "tstat-log_rrds",
            "--when",
            "now + 1s",
            "--poll",
            "0",
            "--wait",
        ],
    )
    .expect(1);

    // Nobody listening: exit 1, naming the URL.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = ctl(&format!("http://127.0.0.1:{port}"), &["list"]).expect(1);
    assert!(dead.stderr.contains(&format!("127.0.0.1:{port}")), "{dead}");
    let bad_url = ctl("ftp://127.0.0.1:1", &["list"]).expect(1);
    assert!(bad_url.stderr.contains("ftp://"), "{bad_url}");
}

// ---------------------------------------------------------------------------------------------
// Servers that answer oddly.

/// The index with `"`-quoted, upper-case, absolute links.
fn odd_index(inner: Handler, port: u16) -> Handler {
    Arc::new(move |req: Request| {
        let inner = Arc::clone(&inner);
        Box::pin(async move {
            let index = req.method == "GET" && req.path == "/capability";
            let mut reply = inner(req).await;
            if index {
                let body = String::from_utf8_lossy(&reply.body)
                    .replace(
                        "href='/capability/",
                        &format!("HREF = \"http://127.0.0.1:{port}/capability/"),
                    )
                    .replace("'>", "\">");
                reply.body =
                    format!("<!DOCTYPE html>\n<a href=\"/\">home</a>\n{body}").into_bytes();
            }
            reply
        })
    })
}

fn broken(_inner: Handler, _port: u16) -> Handler {
    Arc::new(|_req: Request| {
        Box::pin(async {
            Reply::new(
                500,
                "text/html",
                "<html><title>500: Internal Server Error</title>\n<body>boom</body></html>",
            )
        })
    })
}

fn not_mplane(inner: Handler, _port: u16) -> Handler {
    Arc::new(move |req: Request| {
        let inner = Arc::clone(&inner);
        Box::pin(async move {
            if req.method == "GET" && req.path.starts_with("/capability/") {
                return Reply::new(200, "text/html", "<p>hello</p>");
            }
            if req.method == "POST" {
                return Reply::new(200, "application/x-mplane+json", "{\"capability\": 1}");
            }
            inner(req).await
        })
    })
}

#[test]
fn odd_servers() {
    let s = Server::start(None, odd_index);
    let out = ctl(&s.url(), &["list"]).expect(0);
    assert_eq!(out.stdout.lines().count(), 10, "{out}");

    let s = Server::start(None, broken);
    let out = ctl(&s.url(), &["list"]).expect(1);
    assert!(
        out.stderr
            .contains(&format!("GET {}/capability: HTTP 500", s.url())),
        "{out}"
    );
    assert!(out.stderr.contains("boom"), "{out}");

    let s = Server::start(None, not_mplane);
    let out = ctl(&s.url(), &["list"]).expect(1);
    assert!(out.stderr.contains("not an mPlane message"), "{out}");
    assert!(out.stderr.contains("<p>hello</p>"), "{out}");
    let out = ctl(&s.url(), &["interrupt", "feed"]).expect(1);
    assert!(out.stderr.contains(&format!("POST {}/", s.url())), "{out}");
}

// ---------------------------------------------------------------------------------------------
// Mutual TLS.

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tstat-ctl-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn mutual_tls() {
    let dir = scratch("pki");
    // A CA, a server and a client certificate it signs, and a self-signed stranger.
    let Some(pki) = TestPki::new(&dir) else {
        eprintln!("ctl: no openssl command; the TLS test is skipped");
        return;
    };
    pki.self_signed("stranger", "/DC=org/DC=elsewhere/CN=Stranger-1");
    pki.issue(
        "probe",
        "/DC=org/DC=mplane/O=Polito/OU=Probes/CN=Tstat-DPDK-1",
    );
    pki.issue("client", "/DC=org/DC=mplane/O=SSB/OU=Clients/CN=Client-1");
    let p = |f: &str| dir.join(f).display().to_string();
    let s = Server::start(
        Some(TlsFiles {
            cert: dir.join("probe.pem"),
            key: dir.join("probe.key"),
            ca: dir.join("ca.pem"),
        }),
        |h, _| h,
    );
    let url = format!("https://127.0.0.1:{}", s.port);
    let (cert, key, ca) = (p("client.pem"), p("client.key"), p("ca.pem"));
    let tls = ["--cert", &cert, "--key", &key, "--ca", &ca];

    let out = ctl_with(&url, &tls, &["list"]).expect(0);
    assert_eq!(out.stdout.lines().count(), 10, "{out}");
    let cap = ctl_with(&url, &tls, &["--json", "show", "tstat-log_rrds"])
        .expect(0)
        .json();
    assert_eq!(cap["link"], format!("{url}/"));
    let doc = ctl_with(
        &url,
        &tls,
        &[
            "--json",
            "run",
            "tstat-log_rrds",
            "--when",
            "now + 1s",
            "--wait",
            "--poll",
            "0.3",
        ],
    )
    .expect(0)
    .json();
    assert_eq!(doc["outcome"], "result");
    assert_eq!(doc["reply"]["resultvalues"][0].as_array().unwrap().len(), 9);

    // No certificate: refused before anything is sent, saying what is missing.
    let out = ctl(&url, &["list"]).expect(1);
    assert!(out.stderr.contains("--cert"), "{out}");
    // Only some of the files: a usage error of the command line.
    let out = ctl_with(&url, &["--cert", &cert], &["list"]);
    assert_ne!(out.code, 0, "{out}");
    // A certificate the server's CA did not sign: the server refuses it.
    let (scert, skey) = (p("stranger.pem"), p("stranger.key"));
    let out = ctl_with(
        &url,
        &["--cert", &scert, "--key", &skey, "--ca", &ca],
        &["list"],
    )
    .expect(1);
    assert!(out.stderr.contains(&url), "{out}");
    // A server the client's CA did not sign: the client refuses it.
    let out = ctl_with(
        &url,
        &["--cert", &cert, "--key", &key, "--ca", &p("stranger.pem")],
        &["list"],
    )
    .expect(1);
    assert!(out.stderr.contains("TLS handshake failed"), "{out}");
    // Plain HTTP to a TLS server: an error, not a hang.
    ctl(&format!("http://127.0.0.1:{}", s.port), &["list"]).expect(1);
    let _ = std::fs::remove_dir_all(&dir);
}
