//! A real Prometheus server for integration tests, and a tiny HTTP/1.0 client over `std::net`.
//!
//! Include it from a test with `#[path = "support/prometheus.rs"] mod prometheus;`.
//!
//! [`Prometheus::start`] finds the `prometheus` binary (`$PROMETHEUS_BIN`, then `PATH`, then
//! `/usr/bin/prometheus`; Debian's package `prometheus` installs it, see `scripts/setup.sh`),
//! writes a configuration scraping the given targets every second, starts it on a free loopback
//! port with its storage in a temporary directory, waits until it is ready and kills it (and
//! removes the directory) when dropped. Without the binary it prints
//! `prometheus not installed: skipping` and returns `None`, so the calling test returns early.
//! Everything stays on loopback.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The job name of the scrape configuration (`up{job="tstat"}`).
pub const JOB: &str = "tstat";

/// How long Prometheus may take to start and report ready.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The `prometheus` binary, if one is installed.
pub fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PROMETHEUS_BIN") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("prometheus"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let p = PathBuf::from("/usr/bin/prometheus");
        p.is_file().then_some(p)
    })
}

/// A Prometheus server of this test process.
pub struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`host:port`, path `/metrics`) every second, or
    /// returns `None` (after printing why) when it is not installed. Panics if an installed
    /// Prometheus does not come up.
    pub fn start(targets: &[SocketAddr]) -> Option<Prometheus> {
        let Some(bin) = binary() else {
            eprintln!("prometheus not installed: skipping");
            return None;
        };
        static RUNS: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tstat-dpdk-prometheus-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).expect("creating the Prometheus directory");
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
        std::fs::write(dir.join("prometheus.yml"), config).expect("writing prometheus.yml");
        // The free port is found by binding port 0 and letting it go, so another process may
        // take it first: a server that exits at once is retried on a new port.
        for _ in 0..3 {
            let addr = free_port();
            let log = std::fs::File::create(dir.join("prometheus.log")).expect("creating the log");
            let child = Command::new(&bin)
                .arg(format!(
                    "--config.file={}",
                    dir.join("prometheus.yml").display()
                ))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("data").display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("cloning the log handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
            let mut p = Prometheus {
                child,
                addr,
                dir: dir.clone(),
            };
            if p.wait_ready() {
                return Some(p);
            }
            if p.child.try_wait().ok().flatten().is_none() {
                panic!(
                    "prometheus at {addr} not ready after {READY_TIMEOUT:?}:\n{}",
                    p.log()
                );
            }
            eprintln!("prometheus exited at start, retrying:\n{}", p.log());
            p.dir = PathBuf::new(); // keep the directory for the next try
        }
        panic!("prometheus would not start; see {}", dir.display());
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return false;
            }
            if matches!(http_get(self.addr, "/-/ready"), Ok(r) if r.status == 200) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// Evaluates `expr` now (`/api/v1/query`): every sample of the result, with its labels
    /// (`{k="v",...}`, sorted) and value. Panics on an error answer (a bad expression).
    pub fn query_all(&self, expr: &str) -> Vec<(String, f64)> {
        let path = format!("/api/v1/query?query={}", percent_encode(expr));
        let r = http_get(self.addr, &path).unwrap_or_else(|e| panic!("querying {expr}: {e}"));
        let v: serde_json::Value = serde_json::from_str(&r.body)
            .unwrap_or_else(|e| panic!("querying {expr}: {e} in {:?}", r.body));
        assert_eq!(v["status"], "success", "querying {expr}: {}", r.body);
        let number = |pair: &serde_json::Value| -> f64 {
            let s = pair[1].as_str().expect("a sample value is a string");
            s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
        };
        let data = &v["data"];
        match data["resultType"].as_str() {
            Some("vector") => data["result"]
                .as_array()
                .expect("a vector result is an array")
                .iter()
                .map(|s| {
                    let mut labels: Vec<String> = s["metric"]
                        .as_object()
                        .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                        .unwrap_or_default();
                    labels.sort();
                    (format!("{{{}}}", labels.join(",")), number(&s["value"]))
                })
                .collect(),
            Some("scalar") => vec![(String::from("{}"), number(&data["result"]))],
            other => panic!("querying {expr}: unexpected result type {other:?}"),
        }
    }

    /// The value of `expr` if it evaluates to exactly one sample now.
    pub fn query(&self, expr: &str) -> Option<f64> {
        match self.query_all(expr).as_slice() {
            [(_, v)] => Some(*v),
            _ => None,
        }
    }

    /// Polls [`query`](Self::query) until `done` holds for its value or `timeout` passes;
    /// returns the last value seen.
    pub fn wait_for(
        &self,
        expr: &str,
        timeout: Duration,
        done: impl Fn(f64) -> bool,
    ) -> Option<f64> {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.query(expr);
            if v.is_some_and(&done) || Instant::now() >= deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A loopback address with a port nobody listened on a moment ago.
pub fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding a free loopback port");
    l.local_addr().expect("reading the bound address")
}

/// An HTTP response.
#[derive(Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header lines, as received (without the status line).
    pub headers: Vec<String>,
    /// Body, as text.
    pub body: String,
}

impl HttpResponse {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|h| {
            let (k, v) = h.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// `GET path` over HTTP/1.0 (the server closes the connection after the response, so there is
/// no chunked body to decode).
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<HttpResponse> {
    http_request(addr, "GET", path)
}

/// One HTTP/1.0 request without a body.
pub fn http_request(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<HttpResponse> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: tstat-dpdk-tests\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let bad = |what: &str| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{what}: {text:?}"))
    };
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    Ok(HttpResponse {
        status,
        headers: lines.map(str::to_string).collect(),
        body: body.to_string(),
    })
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for a query parameter.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
