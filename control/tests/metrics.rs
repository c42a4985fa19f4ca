//! The Prometheus endpoint over real sockets: routes, bind errors, shutdown, and a real
//! Prometheus server scraping the counters of a trace analysed by the engine (skipped, with a
//! message, where Prometheus is not installed). Loopback only.

#[path = "support/prometheus.rs"]
mod prometheus;

use control::metrics::{
    CoreMetrics, MetricsServer, MetricsSnapshot, MetricsSource, TrafficAccumulator, CONTENT_TYPE,
};
use engine::config::EngineConfig;
use engine::record::FlowRecord;
use engine::source::TraceFile;
use engine::stats::CoreStats;
use engine::time::Timestamp;
use engine::worker::{FullPolicy, Worker};
use prometheus::{http_get, http_request, Prometheus};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A small trace with TCP, UDP and DNS (27 KB).
const TRACE: &str = "zeek__wikipedia.pcap";

fn trace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/pcaps")
        .join(TRACE)
}

/// The tests of this file take loopback ports one at a time: a port one test has just freed
/// (and checks is closed) must not be taken meanwhile by another test's server.
fn ports() -> std::sync::MutexGuard<'static, ()> {
    static PORTS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    PORTS.lock().unwrap_or_else(|p| p.into_inner())
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Records in a classic pcap file, counted from the file format alone (magic, then 16-byte
/// record headers whose `incl_len` says how far the next one is), independently of the engine.
fn pcap_records(path: &Path) -> u64 {
    let b = std::fs::read(path).unwrap();
    let magic = u32::from_le_bytes(b[0..4].try_into().unwrap());
    let le = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        m => panic!("{}: not a classic pcap (magic {m:#x})", path.display()),
    };
    let u32_at = |i: usize| {
        let w: [u8; 4] = b[i..i + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let (mut at, mut n) = (24usize, 0u64);
    while at + 16 <= b.len() {
        let incl = u32_at(at + 8) as usize;
        at += 16 + incl;
        assert!(at <= b.len(), "record {n} runs past the end");
        n += 1;
    }
    assert_eq!(at, b.len(), "trailing bytes");
    n
}

/// What the engine made of a trace on `n` workers (frames spread by the symmetric flow hash,
/// as `analyze` and the NIC do).
struct Analysed {
    stats: Vec<CoreStats>,
    /// TCP and UDP flows open at the last packet, per worker, before the final flush.
    open: Vec<(usize, usize)>,
    records: Vec<FlowRecord>,
}

fn analyse(path: &Path, n: usize) -> Analysed {
    let cfg = Arc::new(EngineConfig::default());
    let mut workers: Vec<Worker<Vec<FlowRecord>>> = (0..n)
        .map(|_| Worker::new(Arc::clone(&cfg), Vec::new(), FullPolicy::Wait))
        .collect();
    let hasher = engine::hash::symmetric();
    let mut trace = TraceFile::open(path).unwrap();
    let mut last = Timestamp::default();
    while let Some(batch) = trace.next_batch(256).unwrap() {
        for p in &batch.packets {
            let frame = batch.data(p);
            let route = engine::dispatch::route(hasher, p.link, frame);
            let w = route.hash.map_or(0, |h| h as usize % n);
            workers[w].process(p.ts, p.link, frame);
            last = last.max(p.ts);
        }
    }
    let open = workers.iter().map(|w| w.flow_counts()).collect();
    let mut stats = Vec::new();
    let mut records = Vec::new();
    for mut w in workers {
        w.finish(last);
        stats.push(w.stats().clone());
        records.extend(w.into_sink());
    }
    Analysed {
        stats,
        open,
        records,
    }
}

/// The snapshot the appliance would publish for that analysis.
fn snapshot_of(a: &Analysed, traffic: &TrafficAccumulator) -> MetricsSnapshot {
    let cores = a
        .stats
        .iter()
        .zip(&a.open)
        .enumerate()
        .map(|(i, (s, (tcp, udp)))| CoreMetrics {
            flows_open_tcp: *tcp as u64,
            flows_open_udp: *udp as u64,
            ..CoreMetrics::from_stats(i, s)
        })
        .collect();
    MetricsSnapshot {
        cores,
        ports: Vec::new(),
        traffic: traffic.metrics(),
        records_written: a.records.len() as u64,
        uptime_s: 1.5,
        mplane: None,
    }
}

fn fixed(packets: u64) -> Arc<dyn MetricsSource> {
    Arc::new(move || MetricsSnapshot {
        cores: vec![CoreMetrics {
            core: 0,
            packets,
            ..CoreMetrics::default()
        }],
        ..MetricsSnapshot::default()
    })
}

#[test]
fn routes_answer_as_documented() {
    let _ports = ports();
    let server = MetricsServer::spawn(loopback(), fixed(5)).unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);

    let r = http_get(addr, "/metrics").unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("content-type"), Some(CONTENT_TYPE));
    assert!(r.body.contains("# HELP tstat_packets_total "), "{}", r.body);
    assert!(
        r.body.contains("# TYPE tstat_packets_total counter"),
        "{}",
        r.body
    );
    assert!(
        r.body
            .lines()
            .any(|l| l == "tstat_packets_total{core=\"0\"} 5"),
        "{}",
        r.body
    );

    let r = http_get(addr, "/").unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.contains("/metrics"), "{}", r.body);

    let r = http_get(addr, "/nope").unwrap();
    assert_eq!(r.status, 404);
    let r = http_get(addr, "/metrics/extra").unwrap();
    assert_eq!(r.status, 404);

    let r = http_request(addr, "POST", "/metrics").unwrap();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));

    let r = http_request(addr, "HEAD", "/metrics").unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty(), "HEAD has no body: {:?}", r.body);

    server.shutdown();
}

#[test]
fn every_scrape_renders_a_fresh_snapshot() {
    let _ports = ports();
    let calls = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&calls);
    let source: Arc<dyn MetricsSource> = Arc::new(move || MetricsSnapshot {
        records_written: seen.fetch_add(1, Ordering::Relaxed) + 1,
        ..MetricsSnapshot::default()
    });
    let server = MetricsServer::spawn(loopback(), source).unwrap();
    for want in 1..=3 {
        let r = http_get(server.local_addr(), "/metrics").unwrap();
        let line = format!("tstat_records_written_total {want}");
        assert!(r.body.lines().any(|l| l == line), "{line} in {}", r.body);
    }
    // The index page does not take a snapshot.
    http_get(server.local_addr(), "/").unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 3);
}

#[test]
fn bind_errors_name_the_address() {
    let _ports = ports();
    let taken = std::net::TcpListener::bind(loopback()).unwrap();
    let addr = taken.local_addr().unwrap();
    let err = MetricsServer::spawn(addr, fixed(0)).expect_err("the port is taken");
    let msg = format!("{err:#}");
    assert!(msg.contains(&addr.to_string()), "{msg}");
    assert!(msg.contains("metrics endpoint"), "{msg}");
}

#[test]
fn shutdown_closes_the_listener_and_joins() {
    let _ports = ports();
    let server = MetricsServer::spawn(loopback(), fixed(1)).unwrap();
    let addr = server.local_addr();
    // A kept-alive connection must not hold the shutdown up.
    let idle = TcpStream::connect(addr).unwrap();
    assert_eq!(http_get(addr, "/metrics").unwrap().status, 200);
    server.shutdown();
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
        "still accepting after shutdown"
    );
    drop(idle);
    // Dropping a server stops it too.
    let server = MetricsServer::spawn(loopback(), fixed(1)).unwrap();
    let addr = server.local_addr();
    drop(server);
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

#[test]
fn prometheus_scrapes_the_counters_of_a_real_trace() {
    let _ports = ports();
    let path = trace();
    let packets = pcap_records(&path);
    assert!(packets > 50, "{TRACE}: {packets} records");

    let analysed = analyse(&path, 2);
    let traffic = TrafficAccumulator::new();
    for r in &analysed.records {
        traffic.add(r);
    }
    let snap = snapshot_of(&analysed, &traffic);
    let engine_packets: u64 = analysed.stats.iter().map(|s| s.packets).sum();
    assert_eq!(engine_packets, packets, "the engine saw every frame");
    assert!(
        analysed.stats.iter().all(|s| s.packets > 0),
        "both workers got frames"
    );
    // `analyze`, the library's own pipeline, agrees on the totals.
    let out = std::env::temp_dir().join(format!("tstat-dpdk-metrics-{}", std::process::id()));
    let summary = control::analyze::run(&control::analyze::Options {
        files: vec![path.clone()],
        out_root: Some(out.clone()),
        runtime: Default::default(),
        engine: EngineConfig::default(),
        workers: 2,
        format_threads: 2,
        concat: false,
        gzip: false,
        logs: false,
        progress: false,
        crypto: None,
    })
    .unwrap();
    let _ = std::fs::remove_dir_all(&out);
    assert_eq!(summary.stats.packets, packets);
    let flows: u64 = analysed
        .stats
        .iter()
        .map(|s| s.tcp_flows + s.udp_flows)
        .sum();
    assert_eq!(flows, summary.stats.tcp_flows + summary.stats.udp_flows);
    let t = &snap.traffic;
    let traffic_bytes = t.bytes_in + t.bytes_out + t.bytes_local;
    assert!(traffic_bytes > 0);
    let l7_flows: u64 = t.l7_flows.values().sum();
    let closed: u64 = analysed
        .stats
        .iter()
        .map(|s| s.tcp_complete + s.tcp_nocomplete + s.udp_closed)
        .sum();
    assert_eq!(l7_flows, closed, "every closed flow has one class");

    let expected = Arc::new(snap);
    let source = Arc::clone(&expected);
    let server = MetricsServer::spawn(loopback(), Arc::new(move || (*source).clone())).unwrap();
    let Some(prom) = Prometheus::start(&[server.local_addr()]) else {
        return;
    };
    let timeout = Duration::from_secs(20);
    let got = prom.wait_for("sum(tstat_packets_total)", timeout, |v| v == packets as f64);
    assert_eq!(got, Some(packets as f64), "prometheus log:\n{}", prom.log());

    let job = prometheus::JOB;
    assert_eq!(prom.query(&format!("up{{job=\"{job}\"}}")), Some(1.0));
    // Prometheus took every sample of the page: as many as the page has lines that are not
    // comments.
    let page = http_get(server.local_addr(), "/metrics").unwrap().body;
    let samples = page.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(
        prom.query(&format!("scrape_samples_scraped{{job=\"{job}\"}}")),
        Some(samples as f64)
    );
    assert_eq!(prom.query("count(tstat_packets_total)"), Some(2.0));
    assert_eq!(
        prom.query("sum(tstat_flows_opened_total)"),
        Some(flows as f64)
    );
    assert_eq!(
        prom.query("sum(tstat_flows_closed_total)"),
        Some(closed as f64)
    );
    assert_eq!(
        prom.query("sum(tstat_l7_flows_total)"),
        Some(l7_flows as f64)
    );
    assert_eq!(
        prom.query("sum(tstat_traffic_bytes_total)"),
        Some(traffic_bytes as f64)
    );
    let malformed: u64 = analysed.stats.iter().map(|s| s.skipped_total()).sum();
    assert_eq!(
        prom.query("sum(tstat_drops_total{cause=\"malformed\"})"),
        Some(malformed as f64)
    );
    assert_eq!(
        prom.query("tstat_records_written_total"),
        Some(expected.records_written as f64)
    );
    assert_eq!(prom.query("tstat_uptime_seconds"), Some(1.5));
    server.shutdown();
}
