//! End-to-end tests of `tstat-dpdk start` over DPDK virtual devices, unprivileged
//! (`--no-huge --no-shconf --no-pci`): the appliance must write the same logs as `analyze` of
//! the same trace, spread flows over cores without splitting any, stop cleanly on SIGTERM and
//! `tstat-dpdk stop`, and fail with a clear message on bad devices and EAL arguments.
//!
//! Each run is its own process (EAL can be initialised once per process) with its own
//! `--file-prefix`. Lcores are mapped onto the CPUs there are (`--lcores=0@0,1@1,2@1`), and
//! cores yield when idle: on a 2-CPU machine busy pollers would starve each other.
#![cfg(feature = "dpdk")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn pcap(name: &str) -> PathBuf {
    root().join("tests/pcaps").join(name)
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tstat-dpdk-start-{}-{}", std::process::id(), name));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// EAL arguments for `lcores` lcores on whatever CPUs exist, no hugepages, no PCI.
fn eal(prefix: &str, lcores: usize, extra: &str) -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let map: Vec<String> = (0..lcores).map(|l| format!("{l}@{}", l % cpus)).collect();
    format!(
        "--lcores={} --no-huge --no-shconf --no-pci -m 512 --file-prefix={prefix}-{} --log-level=lib.eal:error {extra}",
        map.join(","),
        std::process::id()
    )
}

fn start_cmd(dir: &Path, eal_args: &str, workers: u16, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tstat-dpdk"));
    c.arg("start")
        .arg("-c")
        .arg(root().join("conf/tstat-dpdk.toml"))
        .arg(format!("--eal={eal_args}"))
        .args(["--workers", &workers.to_string(), "--idle", "yield"])
        .arg("-s")
        .arg(dir.join("out"))
        .arg("--socket")
        .arg(dir.join("ctl.sock"))
        .args(extra)
        .env("TZ", "UTC");
    c
}

fn analyze(trace: &Path, dir: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_tstat-dpdk"))
        .args(["analyze", "--quiet", "--workers", "1", "-s"])
        .arg(dir.join("ref"))
        .arg(trace)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Every log of the one `<date>.out` under `root`, as sorted row lists.
fn logs(root: &Path) -> BTreeMap<String, Vec<String>> {
    let dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "out"))
        .collect();
    assert_eq!(
        dirs.len(),
        1,
        "one output directory under {}: {dirs:?}",
        root.display()
    );
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&dirs[0]).unwrap() {
        let p = e.unwrap().path();
        let mut rows: Vec<String> = std::fs::read_to_string(&p)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        rows.sort();
        out.insert(p.file_name().unwrap().to_string_lossy().into_owned(), rows);
    }
    out
}

fn assert_same_logs(reference: &Path, ours: &Path) -> usize {
    let (a, b) = (logs(reference), logs(ours));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same log files"
    );
    let mut rows = 0;
    for (name, rows_a) in &a {
        assert_eq!(
            rows_a, &b[name],
            "{name}: rows differ between analyze and start"
        );
        rows += rows_a.len();
    }
    rows
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A number following `label` in `s` ("drops: 0 records" → label "drops:").
fn number_after(s: &str, label: &str) -> u64 {
    let at = s
        .find(label)
        .unwrap_or_else(|| panic!("{label:?} not in {s}"));
    s[at + label.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn r4_net_pcap_vdev_writes_the_logs_of_analyze() {
    for name in [
        "zeek__bro.org.pcap",
        "ndpi__dns_ambiguous_names.pcap",
        "ndpi__quic.compact.pcap",
    ] {
        let dir = scratch(&format!("pcap-{name}"));
        let trace = pcap(name);
        let args = eal(
            "pcap",
            2,
            &format!("--vdev=net_pcap0,rx_pcap={}", trace.display()),
        );
        let o = start_cmd(&dir, &args, 1, &["--port", "net_pcap0", "--idle-exit", "1"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{name}: {}", text(&o));
        analyze(&trace, &dir);
        let rows = assert_same_logs(&dir.join("ref"), &dir.join("out"));
        assert!(rows > 0, "{name}: some rows compared");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn r4_ring_device_spreads_flows_over_two_queues_without_splitting_any() {
    for name in [
        "zeek__wikipedia.pcap",
        "ndpi__bittorrent.pcap",
        "ndpi__quic.compact.pcap",
    ] {
        let dir = scratch(&format!("ring-{name}"));
        let trace = pcap(name);
        let o = start_cmd(
            &dir,
            &eal("ring", 3, ""),
            2,
            &["--replay", trace.to_str().unwrap()],
        )
        .output()
        .unwrap();
        let out = text(&o);
        assert!(o.status.success(), "{name}: {out}");
        analyze(&trace, &dir);
        assert_same_logs(&dir.join("ref"), &dir.join("out"));
        // Both cores worked, and every frame a core received was one its own hash sends it:
        // with a symmetric hash, both directions of each flow met on one core.
        let (c0, c1) = (number_after(&out, "core 0:"), number_after(&out, "core 1:"));
        assert!(
            c0 > 0 && c1 > 0,
            "{name}: both queues used ({c0}, {c1})\n{out}"
        );
        assert_eq!(number_after(&out, "DN-Hunter entries,"), 0, "{out}");
        let foreign = out
            .split("frames on a foreign core")
            .next()
            .unwrap()
            .rsplit(' ')
            .nth(1)
            .unwrap();
        assert_eq!(
            foreign, "0",
            "{name}: no frame on a core its hash does not name\n{out}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn status_json(dir: &Path) -> Option<serde_json::Value> {
    let o = Command::new(env!("CARGO_BIN_EXE_tstat-dpdk"))
        .args(["status", "--json", "--socket"])
        .arg(dir.join("ctl.sock"))
        .output()
        .ok()?;
    if !o.status.success() {
        return None;
    }
    serde_json::from_slice(&o.stdout).ok()
}

#[test]
fn r4_status_then_sigterm_flushes_every_open_flow() {
    let dir = scratch("sigterm");
    let trace = pcap("zeek__bro.org.pcap");
    let args = eal(
        "sig",
        2,
        &format!("--vdev=net_pcap0,rx_pcap={}", trace.display()),
    );
    let child = start_cmd(&dir, &args, 1, &["--port", "net_pcap0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut status = serde_json::Value::Null;
    wait_for("all 751 frames", Duration::from_secs(30), || {
        status = status_json(&dir).unwrap_or_default();
        // Port counters are refreshed every 100 ms, the cores' every few dozen polls.
        status["cores"][0]["packets"].as_u64() == Some(751)
            && status["ports"][0]["ipackets"].as_u64() == Some(751)
    });
    // The status reply carries every counter the operator needs.
    let core = &status["cores"][0];
    for k in [
        "bytes",
        "tcp_flows_open",
        "udp_flows_open",
        "malformed",
        "evicted",
        "records_dropped",
        "ring_used",
        "ring_size",
    ] {
        assert!(core[k].is_u64(), "status has {k}: {status}");
    }
    assert_eq!(
        status["ports"][0]["ipackets"].as_u64(),
        Some(751),
        "{status}"
    );
    assert_eq!(status["ports"][0]["imissed"].as_u64(), Some(0), "{status}");
    assert!(status["uptime_s"].is_f64());
    // SIGTERM: the flows still open are written, as at the end of a trace.
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    analyze(&trace, &dir);
    assert_same_logs(&dir.join("ref"), &dir.join("out"));
    assert!(
        !dir.join("ctl.sock").exists(),
        "the control socket is removed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn r4_stop_command_stops_the_running_instance() {
    let dir = scratch("stop");
    let trace = pcap("ndpi__google_ssl.pcap");
    let args = eal(
        "stop",
        2,
        &format!("--vdev=net_pcap0,rx_pcap={}", trace.display()),
    );
    let child = start_cmd(&dir, &args, 1, &["--port", "net_pcap0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the control socket", Duration::from_secs(30), || {
        status_json(&dir).is_some()
    });
    let o = Command::new(env!("CARGO_BIN_EXE_tstat-dpdk"))
        .args(["stop", "--socket"])
        .arg(dir.join("ctl.sock"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn r4_bad_devices_and_eal_arguments_fail_with_a_clear_message() {
    let dir = scratch("errors");
    let cases: [(String, Vec<&str>, &str); 3] = [
        (
            eal("e1", 2, ""),
            vec!["--port", "0000:99:00.0"],
            "no DPDK port named \"0000:99:00.0\"",
        ),
        (
            eal("e2", 2, "--vdev=net_nosuchpmd0"),
            vec![],
            "rte_eal_init failed",
        ),
        (
            eal("e3", 2, "--no-such-eal-option"),
            vec![],
            "rte_eal_init failed",
        ),
    ];
    for (args, extra, want) in cases {
        let o = start_cmd(&dir, &args, 1, &extra).output().unwrap();
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{want}: exit 2\n{t}");
        assert!(t.contains(want), "{want:?} in:\n{t}");
        assert!(!t.contains("panicked"), "{t}");
    }
    // More workers than EAL lcores.
    let o = start_cmd(&dir, &eal("e5", 2, "--vdev=net_null0"), 3, &[])
        .output()
        .unwrap();
    assert!(text(&o).contains("worker lcore"), "{}", text(&o));
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}
