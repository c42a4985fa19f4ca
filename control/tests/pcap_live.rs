//! End-to-end tests of `tstat-dpdk start --driver pcap`: live capture with libpcap on a veth
//! pair each test creates (unique names, removed when the test ends, even on failure), traffic
//! injected into the other end with `tcpreplay`, two worker threads.
//!
//! The live logs must equal, row for row, those of `analyze` over the very frames captured: a
//! recording the test makes on the same interface at the same time. While a test runs, a socket
//! asking for `SO_TIMESTAMP` makes the kernel stamp each frame once on receipt, so the recording
//! carries the packet times `start` saw. Where the replay keeps a trace's timeline close enough,
//! the logs must also agree with `analyze` of the original trace on every column that does not
//! depend on timing (addresses, ports, packet and byte counts, DN-Hunter names, classes):
//! tcpreplay sends frames at its own pace, so times, durations and rates are the replay's.
//! DN-Hunter across workers is checked on a generated trace where each connection starts right
//! after the DNS answer naming its server, many of them on the other worker, replayed at full speed.
//!
//! Root only (creating interfaces, capturing): without root, `ip` or `tcpreplay` each test
//! prints why and returns. The machine's own interfaces are never touched: the veth pair is
//! created here, with IPv6 off so that the kernel adds no traffic of its own, and with an MTU
//! of 65535 so that the large frames of a segmentation-offload capture go through.

#[path = "support/prometheus.rs"]
mod prometheus;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn trace(name: &str) -> PathBuf {
    root().join("tests/pcaps").join(name)
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tstat-dpdk-pcap-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn runs(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether this machine can run the tests; prints why not.
fn can_run(test: &str) -> bool {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let why = if uid != "0" {
        "not root (creating a veth pair and capturing need it)"
    } else if !runs("ip", &["-V"]) {
        "`ip` (iproute2) is missing"
    } else if !runs("tcpreplay", &["-V"]) {
        "`tcpreplay` is missing (scripts/setup.sh installs it)"
    } else {
        return true;
    };
    eprintln!("pcap_live::{test}: skipped: {why}");
    false
}

/// A veth pair of this test: frames sent into `tx` come out of `rx`, where `start` captures.
/// Dropping it deletes both ends.
struct Veth {
    tx: String,
    rx: String,
}

impl Veth {
    fn create() -> Veth {
        static N: AtomicUsize = AtomicUsize::new(0);
        // Interface names have 15 bytes at most.
        let id = format!(
            "{}{}",
            std::process::id() % 100_000,
            N.fetch_add(1, Ordering::Relaxed)
        );
        let v = Veth {
            tx: format!("tsp{id}t"),
            rx: format!("tsp{id}r"),
        };
        assert!(
            runs(
                "ip",
                &["link", "add", &v.tx, "type", "veth", "peer", "name", &v.rx]
            ),
            "ip link add {} type veth peer name {}",
            v.tx,
            v.rx
        );
        for dev in [&v.tx, &v.rx] {
            // No router solicitations or MLD reports of the kernel's in the capture.
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"), "1");
            // Room for the largest frame of the fixtures (a segmentation-offload capture).
            assert!(runs("ip", &["link", "set", dev, "mtu", "65535", "up"]));
        }
        v
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        if !runs("ip", &["link", "del", &self.tx]) {
            eprintln!(
                "pcap_live: could not delete the veth pair {}/{}",
                self.tx, self.rx
            );
        }
    }
}

/// A `tstat-dpdk start` of this test, killed if the test ends before it does.
struct Start(Option<Child>);

impl Start {
    fn wait(mut self) -> Output {
        self.0.take().expect("running").wait_with_output().unwrap()
    }
}

impl Drop for Start {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `tstat-dpdk start` on `iface` with two workers, with the shipped configuration or `conf`.
fn start_cmd(dir: &Path, iface: &str, conf: Option<&Path>, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tstat-dpdk"));
    c.arg("start")
        .arg("-c")
        .arg(conf.map_or_else(|| root().join("conf/tstat-dpdk.toml"), Path::to_path_buf))
        // Worker threads yield when idle: on a machine of two cores busy pollers would starve
        // the capture thread.
        .args([
            "--driver",
            "pcap",
            "-i",
            iface,
            "--workers",
            "2",
            "--idle",
            "yield",
        ])
        .arg("-s")
        .arg(dir.join("out"))
        .arg("--socket")
        .arg(dir.join("ctl.sock"))
        .arg("--run-dir")
        .arg(dir.join("run"))
        .args(extra)
        .env("TZ", "UTC");
    if !extra.contains(&"--metrics") {
        c.args(["--metrics", "127.0.0.1:0"]);
    }
    c
}

fn spawn(mut c: Command) -> Start {
    Start(Some(
        c.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
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

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends `trace` into `iface` at `pps` packets a second.
fn replay(iface: &str, trace: &Path, pps: u32) {
    let o = Command::new("tcpreplay")
        .args(["-q", "-i", iface, "--pps", &pps.to_string()])
        .arg(trace)
        .output()
        .unwrap();
    assert!(o.status.success(), "tcpreplay: {}", text(&o));
}

/// Records what `iface` receives into a pcap file while the test runs.
struct Recorder {
    stop: Arc<AtomicBool>,
    breaker: pcap::BreakLoop,
    thread: std::thread::JoinHandle<usize>,
}

impl Recorder {
    fn start(iface: &str, path: &Path) -> Recorder {
        let mut cap = pcap::Capture::from_device(iface)
            .unwrap()
            .snaplen(65535)
            .promisc(true)
            // As `start` opens it: the kernel's block ring, roomy enough for a burst of
            // large frames (an immediate-mode ring has one 64 KiB slot per frame).
            .buffer_size(32 << 20)
            .timeout(20)
            .open()
            .unwrap_or_else(|e| panic!("recording on {iface}: {e}"));
        let mut file = cap.savefile(path).unwrap();
        let breaker = cap.breakloop_handle();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut n = 0;
            loop {
                match cap.next_packet() {
                    Ok(p) => {
                        file.write(&p);
                        n += 1;
                    }
                    // A read blocked on a quiet interface ends with pcap_breakloop.
                    Err(_) if flag.load(Ordering::Relaxed) => break,
                    Err(pcap::Error::TimeoutExpired) => {}
                    Err(e) => panic!("recording: {e}"),
                }
            }
            file.flush().unwrap();
            n
        });
        Recorder {
            stop,
            breaker,
            thread,
        }
    }

    /// Frames recorded.
    fn finish(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        while !self.thread.is_finished() {
            self.breaker.breakloop();
            std::thread::sleep(Duration::from_millis(10));
        }
        self.thread.join().unwrap()
    }
}

fn analyze(trace: &Path, out: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_tstat-dpdk"))
        .args(["analyze", "--quiet", "--workers", "1", "-s"])
        .arg(out)
        .arg(trace)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

/// Every log of the one `<date>.out` under `root`: its header line and its sorted rows.
fn logs(root: &Path) -> BTreeMap<String, (String, Vec<String>)> {
    let dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "out"))
        .collect();
    assert_eq!(
        dirs.len(),
        1,
        "one output directory under {}",
        root.display()
    );
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&dirs[0]).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let mut lines = text.lines().map(str::to_string);
        let header = lines.next().unwrap_or_default();
        let mut rows: Vec<String> = lines.collect();
        rows.sort();
        out.insert(
            p.file_name().unwrap().to_string_lossy().into_owned(),
            (header, rows),
        );
    }
    out
}

/// Asserts that two output roots hold the same logs; returns the rows compared.
fn assert_same_logs(reference: &Path, ours: &Path, what: &str) -> usize {
    let (a, b) = (logs(reference), logs(ours));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{what}: the same log files"
    );
    let mut n = 0;
    for (name, (header, rows)) in &a {
        assert_eq!(header, &b[name].0, "{what}: {name}: header");
        if rows != &b[name].1 {
            let only_a: Vec<_> = rows.iter().filter(|r| !b[name].1.contains(r)).collect();
            let only_b: Vec<_> = b[name].1.iter().filter(|r| !rows.contains(r)).collect();
            panic!("{what}: {name}: rows differ\nonly in analyze: {only_a:#?}\nonly in start: {only_b:#?}");
        }
        n += rows.len();
    }
    n
}

/// Columns whose values do not depend on when packets arrive, by their header names.
const TIMELESS: &[&str] = &[
    "c_ip",
    "c_port",
    "s_ip",
    "s_port",
    "c_pkts_all",
    "s_pkts_all",
    "c_bytes_all",
    "s_bytes_all",
    "c_pkts_data",
    "s_pkts_data",
    "c_bytes_uniq",
    "s_bytes_uniq",
    "c_ack_cnt",
    "s_ack_cnt",
    "c_pkts_retx",
    "s_pkts_retx",
    "c_bytes_retx",
    "s_bytes_retx",
    "c_pkts_ooo",
    "s_pkts_ooo",
    "c_syn_cnt",
    "s_syn_cnt",
    "c_fin_cnt",
    "s_fin_cnt",
    "c_rst_cnt",
    "s_rst_cnt",
    "con_t",
    "p2p_t",
    "http_t",
    "c_tls_SNI",
    "s_tls_SCN",
    "http_hostname",
    "fqdn",
    "dns_rslv",
    "c_type",
    "s_type",
    "quic_SNI",
];

/// Each log's rows cut down to [`TIMELESS`] columns, sorted.
fn timeless(root: &Path) -> BTreeMap<String, Vec<String>> {
    logs(root)
        .into_iter()
        .map(|(name, (header, rows))| {
            let keep: Vec<usize> = TIMELESS
                .iter()
                .filter_map(|c| column_index(&header, c))
                .collect();
            let mut cut: Vec<String> = rows
                .iter()
                .map(|r| {
                    let cells: Vec<&str> = r.split_whitespace().collect();
                    keep.iter()
                        .map(|&i| cells.get(i).copied().unwrap_or(""))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            cut.sort();
            (name, cut)
        })
        .collect()
}

/// The position of column `name` in a log's header line (`#15#c_ip:1 c_port:2 ...`).
fn column_index(header: &str, name: &str) -> Option<usize> {
    header.split_whitespace().position(|h| {
        let h = h.rsplit('#').next().unwrap_or_default();
        h.split(':').next() == Some(name)
    })
}

/// The values of column `name` of `log`, in row order.
fn column(root: &Path, log: &str, name: &str) -> Vec<String> {
    let (header, rows) = &logs(root)[log];
    let i = column_index(header, name).unwrap_or_else(|| panic!("{log} has no {name}"));
    rows.iter()
        .map(|r| r.split_whitespace().nth(i).unwrap_or_default().to_string())
        .collect()
}

/// Frames in a trace file.
fn frames_in(path: &Path) -> usize {
    let mut cap = pcap::Capture::from_file(path).unwrap();
    let mut n = 0;
    while cap.next_packet().is_ok() {
        n += 1;
    }
    n
}

/// The summary's packet counts: received, TCP, UDP, not analysed.
fn packets(out: &str) -> [u64; 4] {
    let line = out
        .lines()
        .find(|l| l.starts_with("packets: "))
        .unwrap_or_else(|| panic!("a packets line in {out}"));
    let n: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    n.try_into()
        .unwrap_or_else(|_| panic!("four counts in {line:?}"))
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
        .trim_end_matches(',')
        .parse()
        .unwrap()
}

/// The value of the Prometheus sample `name{...label...}` in a `/metrics` page.
fn sample(page: &str, name: &str, label: &str) -> Option<f64> {
    page.lines()
        .filter(|l| l.starts_with(name) && l.contains(label))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Holds a socket asking for `SO_TIMESTAMP`: while one exists the kernel stamps every frame
/// once on receipt, and every capture of it (ours, and the recording beside it) reads that
/// stamp. Without one, each packet socket takes the time itself, a microsecond or so apart.
fn kernel_stamps() -> std::net::UdpSocket {
    use nix::sys::socket::{setsockopt, sockopt::ReceiveTimestamp};
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    setsockopt(&s, ReceiveTimestamp, &true).unwrap();
    // The kernel turns its receive stamps on from a work item.
    std::thread::sleep(Duration::from_millis(100));
    s
}

/// One live capture of `trace` replayed into a fresh veth pair (`tcpreplay` arguments in
/// `rate`), checked against `analyze` of a recording of the same frames; returns the scratch
/// directory (`out/` the live logs) for further checks.
fn live_run(case: &str, trace: &Path, rate: &[&str]) -> PathBuf {
    let _stamps = kernel_stamps();
    let dir = scratch(&format!("live-{case}"));
    let veth = Veth::create();
    let recording = dir.join("recorded.pcap");
    let recorder = Recorder::start(&veth.rx, &recording);
    let metrics = prometheus::free_port();
    let start = spawn(start_cmd(
        &dir,
        &veth.rx,
        None,
        &["--idle-exit", "2", "--metrics", &metrics.to_string()],
    ));
    let mut status = serde_json::Value::Null;
    wait_for("the control socket", Duration::from_secs(30), || {
        status = status_json(&dir).unwrap_or_default();
        !status.is_null()
    });
    assert_eq!(status["driver"], "pcap", "{status}");
    let port = &status["ports"][0];
    assert_eq!(port["port"], veth.rx.as_str(), "{status}");
    assert_eq!(port["driver"], "pcap", "{status}");
    assert_eq!(port["link"], "EN10MB", "{status}");
    assert_eq!(
        status["cores"].as_array().map(Vec::len),
        Some(2),
        "{status}"
    );
    let o = Command::new("tcpreplay")
        .args(["-q", "-i", &veth.tx])
        .args(rate)
        .arg(trace)
        .output()
        .unwrap();
    assert!(o.status.success(), "tcpreplay: {}", text(&o));
    // Kernel drops reach Prometheus through the control plane, which asks the engine.
    let mut page = String::new();
    wait_for("the metrics endpoint", Duration::from_secs(20), || {
        page = prometheus::http_get(metrics, "/metrics")
            .map(|r| r.body)
            .unwrap_or_default();
        sample(&page, "tstat_port_drops_total", "cause=\"imissed\"").is_some()
    });
    let o = start.wait();
    let out = text(&o);
    assert!(o.status.success(), "{case}: {out}");
    let frames = recorder.finish();
    drop(veth);
    assert_eq!(
        sample(&page, "tstat_port_drops_total", "cause=\"imissed\""),
        Some(0.0),
        "{page}"
    );
    // Everything was captured and analysed: no kernel drop, no full worker queue.
    let sent = frames_in(trace);
    assert_eq!(frames, sent, "{case}: the recording holds every frame sent");
    assert_eq!(packets(&out)[0], sent as u64, "{out}");
    assert_eq!(number_after(&out, "drops:"), 0, "{out}");
    let port = out
        .lines()
        .find_map(|l| l.strip_prefix("port: "))
        .unwrap_or_else(|| panic!("a port line in {out}"));
    let port: serde_json::Value = serde_json::from_str(port).unwrap();
    for k in ["imissed", "ierrors", "rx_nombuf"] {
        assert_eq!(port[k], 0, "{k}: {port}");
    }
    assert_eq!(port["ipackets"], sent, "{port}");
    let queued: Vec<u64> = port["q_ipackets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(queued.iter().all(|&q| q > 0), "both workers used: {port}");
    // The same logs as analyze of the frames captured, row for row.
    analyze(&recording, &dir.join("ref"));
    let rows = assert_same_logs(&dir.join("ref"), &dir.join("out"), case);
    assert!(rows > 10, "{case}: {rows} rows compared");
    dir
}

#[test]
fn live_capture_writes_the_logs_of_analyze() {
    if !can_run("live_capture_writes_the_logs_of_analyze") {
        return;
    }
    // A web trace whose timeline the replay keeps close enough: but for timing, its logs are
    // those of the trace itself.
    let name = "zeek__bro.org.pcap";
    let dir = live_run(name, &trace(name), &["--pps", "1000"]);
    analyze(&trace(name), &dir.join("orig"));
    assert_eq!(
        timeless(&dir.join("orig")),
        timeless(&dir.join("out")),
        "{name}: timing-free columns of analyze of the trace"
    );
    let _ = std::fs::remove_dir_all(&dir);
    // UDP, a video flow, frames of 37 KB (the veth MTU is raised for them). Its minutes-long
    // gaps shrink to milliseconds in the replay, so flows that time out in the trace are
    // still open at its end here: only the recording of the replay is the reference.
    let name = "ndpi__1kxun.compact.pcap";
    let dir = live_run(name, &trace(name), &["--pps", "1000"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A synthetic Ethernet/IPv4 trace (checksums computed, times 1 ms apart).
#[derive(Default)]
struct TraceBuilder {
    frames: Vec<Vec<u8>>,
}

fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    let mut odd = None;
    for b in parts.iter().flat_map(|p| p.iter()) {
        match odd.take() {
            None => odd = Some(*b),
            Some(hi) => sum += u32::from(u16::from_be_bytes([hi, *b])),
        }
    }
    if let Some(hi) = odd {
        sum += u32::from(hi) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN_ACK: u8 = 0x11;
const SYN_ACK: u8 = 0x12;

impl TraceBuilder {
    fn ipv4(&mut self, src: [u8; 4], dst: [u8; 4], proto: u8, mut l4: Vec<u8>) {
        let (sum_at, pseudo_proto) = if proto == 6 { (16, 6u8) } else { (6, 17u8) };
        let len = l4.len() as u16;
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&src);
        pseudo.extend_from_slice(&dst);
        pseudo.extend_from_slice(&[0, pseudo_proto]);
        pseudo.extend_from_slice(&len.to_be_bytes());
        let c = checksum(&[&pseudo, &l4]);
        l4[sum_at..sum_at + 2].copy_from_slice(&c.to_be_bytes());
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&(20 + len).to_be_bytes());
        ip.extend_from_slice(&(self.frames.len() as u16).to_be_bytes());
        ip.extend_from_slice(&[0x40, 0, 64, proto, 0, 0]);
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        let c = checksum(&[&ip]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        // Locally administered MACs, one per end.
        let (a, b) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
        let (smac, dmac) = if src[0] == 10 && src[1] == 1 && src[3] == 1 {
            (a, b)
        } else {
            (b, a)
        };
        let mut f = Vec::new();
        f.extend_from_slice(&dmac);
        f.extend_from_slice(&smac);
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&l4);
        self.frames.push(f);
    }

    fn udp(&mut self, src: ([u8; 4], u16), dst: ([u8; 4], u16), payload: &[u8]) {
        let mut l4 = Vec::new();
        l4.extend_from_slice(&src.1.to_be_bytes());
        l4.extend_from_slice(&dst.1.to_be_bytes());
        l4.extend_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        l4.extend_from_slice(&[0, 0]);
        l4.extend_from_slice(payload);
        self.ipv4(src.0, dst.0, 17, l4);
    }

    fn tcp(&mut self, src: ([u8; 4], u16), dst: ([u8; 4], u16), seq: u32, ack: u32, flags: u8) {
        let mut l4 = Vec::new();
        l4.extend_from_slice(&src.1.to_be_bytes());
        l4.extend_from_slice(&dst.1.to_be_bytes());
        l4.extend_from_slice(&seq.to_be_bytes());
        l4.extend_from_slice(&ack.to_be_bytes());
        l4.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        self.ipv4(src.0, dst.0, 6, l4);
    }

    /// A DNS query for `name` and its answer `addr`.
    fn dns(&mut self, client: ([u8; 4], u16), server: [u8; 4], name: &str, addr: [u8; 4]) {
        let id = client.1.to_be_bytes();
        let mut q = Vec::new();
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut query = vec![id[0], id[1], 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        query.extend_from_slice(&q);
        let mut answer = vec![id[0], id[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        answer.extend_from_slice(&q);
        answer.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
        answer.extend_from_slice(&addr);
        self.udp(client, (server, 53), &query);
        self.udp((server, 53), client, &answer);
    }

    /// The first packet of a connection (its SYN).
    fn open(&mut self, c: ([u8; 4], u16), s: ([u8; 4], u16)) {
        self.tcp(c, s, 1000, 0, SYN);
    }

    /// The rest of a connection opened with [`TraceBuilder::open`]: handshake and FINs.
    fn close(&mut self, c: ([u8; 4], u16), s: ([u8; 4], u16)) {
        self.tcp(s, c, 5000, 1001, SYN_ACK);
        self.tcp(c, s, 1001, 5001, ACK);
        self.tcp(c, s, 1001, 5001, FIN_ACK);
        self.tcp(s, c, 5001, 1002, ACK);
        self.tcp(s, c, 5001, 1002, FIN_ACK);
        self.tcp(c, s, 1002, 5002, ACK);
    }

    /// `n` datagrams of one UDP flow that worker `w` owns (a filler port is searched for).
    fn burst_to(&mut self, w: Option<u32>, n: usize) {
        for port in 20000u16.. {
            self.udp(([10, 3, 0, 1], port), ([10, 3, 0, 2], 9), &[0; 64]);
            let f = self.frames.pop().expect("just built");
            if worker_of(&f) == w {
                self.frames.extend(std::iter::repeat_n(f, n));
                return;
            }
        }
    }

    fn write(&self, path: &Path) {
        let mut b = Vec::new();
        for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for (i, f) in self.frames.iter().enumerate() {
            let t = 1_700_000_000_000_000u64 + i as u64 * 1000;
            for v in [t / 1_000_000, t % 1_000_000, f.len() as u64, f.len() as u64] {
                b.extend_from_slice(&(v as u32).to_le_bytes());
            }
            b.extend_from_slice(f);
        }
        std::fs::write(path, b).unwrap();
    }
}

/// The worker (of two) a frame goes to: the symmetric hash of its flow, as `start` routes.
fn worker_of(frame: &[u8]) -> Option<u32> {
    let r = engine::dispatch::route(
        engine::hash::symmetric(),
        engine::wire::LinkType::Ethernet,
        frame,
    );
    r.hash.map(|h| h % 2)
}

#[test]
fn dn_hunter_names_follow_capture_order_across_workers() {
    if !can_run("dn_hunter_names_follow_capture_order_across_workers") {
        return;
    }
    let client = [10, 1, 0, 1];
    let resolver = [10, 1, 0, 53];
    let mut t = TraceBuilder::default();
    // Client port → the name DN-Hunter must give the connection ("-": none).
    let mut want: BTreeMap<u16, String> = BTreeMap::new();
    let mut crossing = 0;
    let mut busy_elsewhere = 0;
    for i in 0..48u16 {
        let addr = [10, 2, 0, 1 + i as u8];
        let name = format!("host{i}.example.com");
        let server = (addr, 80);
        let before = i % 4 == 0;
        if before {
            // A connection opened just before the answer must not get the name, even when its
            // worker is still busy with a burst queued before it as the answer arrives.
            t.open((client, 50000 + i), server);
            let syn = t.frames.pop().expect("just built");
            t.burst_to(worker_of(&syn), 300);
            t.frames.push(syn);
            want.insert(50000 + i, "-".into());
        }
        t.dns((client, 30000 + i), resolver, &name, addr);
        let answer = t.frames.len() - 1;
        if before && worker_of(&t.frames[answer]) != worker_of(&t.frames[answer - 2]) {
            busy_elsewhere += 1;
        }
        // Opened right after the answer, on whichever worker its own hash names.
        t.open((client, 40000 + i), server);
        crossing += usize::from(worker_of(&t.frames[answer]) != worker_of(&t.frames[answer + 1]));
        want.insert(40000 + i, name);
        if before {
            t.close((client, 50000 + i), server);
        }
        t.close((client, 40000 + i), server);
        if i % 6 == 0 {
            // The address is given another name: connections from now on carry it.
            let again = format!("again{i}.example.com");
            t.dns((client, 31000 + i), resolver, &again, addr);
            t.open((client, 60000 + i), server);
            t.close((client, 60000 + i), server);
            want.insert(60000 + i, again);
        }
    }
    assert!(
        crossing >= 10 && busy_elsewhere >= 3,
        "answers and the connections around them on different workers: {crossing} after, \
         {busy_elsewhere} before"
    );
    let dir = scratch("dns-trace");
    let path = dir.join("dn-hunter.pcap");
    t.write(&path);
    // As fast as tcpreplay goes: answer and connection arrive microseconds apart, on different
    // workers, and the queues still order the name between them (every frame fits the
    // queues and the kernel buffer, nothing is dropped).
    let live = live_run("dn-hunter", &path, &["--topspeed"]);
    let ports = column(&live.join("out"), "log_tcp_complete", "c_port");
    let names = column(&live.join("out"), "log_tcp_complete", "fqdn");
    let got: BTreeMap<u16, String> = ports
        .iter()
        .map(|p| p.parse().unwrap())
        .zip(names)
        .collect();
    assert_eq!(got, want, "the name of each connection");
    analyze(&path, &live.join("orig"));
    assert_eq!(
        timeless(&live.join("orig")),
        timeless(&live.join("out")),
        "timing-free columns of analyze of the trace"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&live);
}

/// The DNS flows of a trace, as (client, server) address and port pairs.
fn dns_flows(root: &Path) -> Vec<String> {
    timeless(root)["log_udp_complete"]
        .iter()
        .filter(|r| {
            let c: Vec<&str> = r.split(' ').collect();
            c.len() > 3 && (c[1] == "53" || c[3] == "53")
        })
        .cloned()
        .collect()
}

#[test]
fn a_bpf_filter_file_keeps_only_its_port() {
    if !can_run("a_bpf_filter_file_keeps_only_its_port") {
        return;
    }
    let dir = scratch("filter");
    let veth = Veth::create();
    let filter = dir.join("dns.bpf");
    // Tstat's -f file: an expression over lines; comments as tcpdump -F takes them.
    std::fs::write(
        &filter,
        "# DNS only\nudp\n  and port 53   # both directions\n",
    )
    .unwrap();
    let conf = dir.join("tstat-dpdk.toml");
    let shipped = std::fs::read_to_string(root().join("conf/tstat-dpdk.toml")).unwrap();
    let with_filter = shipped.replace(
        "# filter_file = \"/etc/tstat-dpdk/filter.bpf\"",
        &format!("filter_file = \"{}\"", filter.display()),
    );
    assert_ne!(
        shipped, with_filter,
        "the shipped [pcap] section names filter_file"
    );
    std::fs::write(&conf, with_filter).unwrap();
    let start = spawn(start_cmd(
        &dir,
        &veth.rx,
        Some(&conf),
        &["--idle-exit", "2"],
    ));
    let mut status = serde_json::Value::Null;
    wait_for("the control socket", Duration::from_secs(30), || {
        status = status_json(&dir).unwrap_or_default();
        !status.is_null()
    });
    assert_eq!(status["ports"][0]["filter"], "udp and port 53", "{status}");
    let name = "zeek__wikipedia.pcap";
    replay(&veth.tx, &trace(name), 500);
    let o = start.wait();
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    analyze(&trace(name), &dir.join("orig"));
    let want = dns_flows(&dir.join("orig"));
    assert!(want.len() >= 10, "the trace has DNS flows: {want:?}");
    let got = timeless(&dir.join("out"));
    assert_eq!(got["log_udp_complete"], want, "exactly the DNS flows");
    for (log, rows) in &got {
        if log != "log_udp_complete" {
            assert!(rows.is_empty(), "{log}: nothing but DNS: {rows:?}");
        }
    }
    // Only the frames the filter passed reached the engine: all of them UDP.
    let [received, tcp, udp, _] = packets(&out);
    assert!(received > 0 && tcp == 0 && udp == received, "{out}");
    drop(veth);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_quiet_interface_stops_at_once() {
    if !can_run("a_quiet_interface_stops_at_once") {
        return;
    }
    let dir = scratch("quiet");
    let veth = Veth::create();
    let start = spawn(start_cmd(&dir, &veth.rx, None, &[]));
    wait_for("the control socket", Duration::from_secs(30), || {
        status_json(&dir).is_some()
    });
    // Nothing arrives: the capture thread waits in the kernel, and still stops promptly.
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_tstat-dpdk"))
        .args(["stop", "--socket"])
        .arg(dir.join("ctl.sock"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = start.wait();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "stopped in {:?}",
        t.elapsed()
    );
    drop(veth);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_filters_and_interfaces_fail_with_a_clear_message_and_status_2() {
    if !can_run("bad_filters_and_interfaces_fail_with_a_clear_message_and_status_2") {
        return;
    }
    let dir = scratch("errors");
    let veth = Veth::create();
    let bad = dir.join("bad.bpf");
    std::fs::write(&bad, "tcp port eighty\n").unwrap();
    let conf_with = |filter: &Path| {
        let conf = dir.join(format!(
            "{}.toml",
            filter.file_name().unwrap().to_string_lossy()
        ));
        let text = std::fs::read_to_string(root().join("conf/tstat-dpdk.toml"))
            .unwrap()
            .replace(
                "# filter_file = \"/etc/tstat-dpdk/filter.bpf\"",
                &format!("filter_file = \"{}\"", filter.display()),
            );
        std::fs::write(&conf, text).unwrap();
        conf
    };
    let missing = dir.join("missing.bpf");
    let cases: [(String, Option<PathBuf>, Vec<String>); 3] = [
        (
            "tspnosuch0".into(),
            None,
            vec!["tspnosuch0: cannot capture".into()],
        ),
        (
            veth.rx.clone(),
            Some(conf_with(&bad)),
            vec![
                format!(
                    "{}: BPF filter \"tcp port eighty\" does not compile",
                    bad.display()
                ),
                format!("for {} (link type EN10MB)", veth.rx),
                "eighty".into(),
            ],
        ),
        (
            veth.rx.clone(),
            Some(conf_with(&missing)),
            vec![format!(
                "{}: cannot read the BPF filter file",
                missing.display()
            )],
        ),
    ];
    for (iface, conf, want) in cases {
        let o = start_cmd(&dir, &iface, conf.as_deref(), &[])
            .output()
            .unwrap();
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{want:?}: exit 2\n{t}");
        for w in &want {
            assert!(t.contains(w.as_str()), "{w:?} in:\n{t}");
        }
        assert!(!t.contains("panicked"), "{t}");
    }
    drop(veth);
    let _ = std::fs::remove_dir_all(&dir);
}
