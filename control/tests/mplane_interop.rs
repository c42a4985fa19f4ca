//! tstat-dpdk's mPlane component against the real 2015 reference implementation: the
//! supervisor `mpsup` and the client API of PyPI `mplane-sdk==0.9.0`, run by the test bed in
//! `tests/mplane-interop/` (a copy of the project's shared interop folder; its README says
//! what each script does).
//!
//! One probe (`tstat-dpdk start`, replaying a generated trace through the DPDK ring vdev) and
//! one supervisor serve every check, in order:
//! 1. the real client lists the ten capabilities with their historic labels and tokens;
//!    Client-2 (role restricted) sees only `tstat-log_rrds`, Stranger-1 nothing;
//! 2. `tstat-log_tcp_complete-end_to_end` for `now + 10s` turns the column group on in the
//!    logs during the window and off after it, and its result carries exactly the rows
//!    written in the window;
//! 3. an interrupt ends a `now + 1h` run early, with the switch restored;
//! 4. the probe serves clients itself (client-initiated): the real client sees what the
//!    probe's `[Authorizations]` grants each identity; a peer without a certificate from the
//!    CA cannot connect;
//! 5. the supervisor is killed and restarted: the probe registers again and a new
//!    specification runs.
//!
//! The SDK needs Python 3.11 (and PyPI the first time, for the venv kept under target/); the
//! test says so and skips where no Python 3.11 exists.
#![cfg(feature = "dpdk")]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bed() -> PathBuf {
    root().join("tests/mplane-interop")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn python311() -> Option<String> {
    for p in ["python3.11", "python3"] {
        let ok = Command::new(p)
            .args([
                "-c",
                "import sys; sys.exit(sys.version_info[:2] != (3, 11))",
            ])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(p.to_string());
        }
    }
    None
}

/// The test bed's environment directory with a running supervisor.
struct Bed {
    env: PathBuf,
    cport: u16,
    lport: u16,
}

impl Bed {
    fn supervisor(&self, action: &str) {
        let o = Command::new("bash")
            .arg(bed().join("supervisor.sh"))
            .arg(action)
            .arg(&self.env)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "supervisor.sh {action}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn pki(&self, name: &str) -> PathBuf {
        self.env.join("pki").join(name)
    }

    /// client_drive.py with `args`; its JSON output and exit status.
    fn drive(&self, args: &[&str]) -> (serde_json::Value, i32) {
        let o = Command::new(self.env.join("venv/bin/python"))
            .arg(bed().join("client_drive.py"))
            .arg("--env")
            .arg(&self.env)
            .arg("--json")
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        let v = serde_json::from_str(&text).unwrap_or_else(|_| {
            panic!(
                "client_drive {args:?}: not JSON: {text}\n{}",
                String::from_utf8_lossy(&o.stderr)
            )
        });
        (v, o.status.code().unwrap_or(-1))
    }

    fn labels(&self, args: &[&str]) -> Vec<String> {
        let mut a = args.to_vec();
        a.push("list");
        let (v, rc) = self.drive(&a);
        assert_eq!(rc, 0, "list {args:?}: {v}");
        let mut l: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["label"].as_str().unwrap().to_string())
            .collect();
        l.sort();
        l
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(bed().join("supervisor.sh"))
            .arg("stop")
            .arg(&self.env)
            .output();
    }
}

fn set_up_bed() -> Option<Bed> {
    let Some(py) = python311() else {
        eprintln!(
            "SKIPPED: the mPlane interop test needs Python 3.11 (mplane-sdk 0.9.0 calls \
             ssl.wrap_socket, gone in 3.12); install python3.11 and python3.11-venv"
        );
        return None;
    };
    let env = Path::new(env!("CARGO_TARGET_TMPDIR")).join("mplane-interop-env");
    let (cport, lport) = (free_port(), free_port());
    let o = Command::new("bash")
        .arg(bed().join("setup.sh"))
        .arg(&env)
        .env("PYTHON", &py)
        .env("MPLANE_COMPONENT_PORT", cport.to_string())
        .env("MPLANE_CLIENT_PORT", lport.to_string())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "setup.sh failed (it needs PyPI the first time):\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let bed = Bed { env, cport, lport };
    bed.supervisor("start");
    Some(bed)
}

/// A trace of `flows` short TCP connections (handshake, one request and one answer, FIN
/// both ways), interleaved so that flows end all along the trace, 5 ms apart per packet.
fn write_trace(path: &Path, flows: u32) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let mut t_us: u64 = 1_700_000_000_000_000;
    let csum = |b: &[u8]| -> u16 {
        let mut s: u32 = 0;
        for c in b.chunks(2) {
            s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    };
    let mut packet = |out: &mut Vec<u8>,
                      src: [u8; 4],
                      dst: [u8; 4],
                      sport: u16,
                      dport: u16,
                      seq: u32,
                      ack: u32,
                      flags: u8,
                      payload: &[u8]| {
        let mut f = Vec::new();
        f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let total = 20 + 20 + payload.len();
        let mut ip = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        let c = csum(&ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
        let mut tcp = Vec::new();
        tcp.extend_from_slice(&sport.to_be_bytes());
        tcp.extend_from_slice(&dport.to_be_bytes());
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&ack.to_be_bytes());
        tcp.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        tcp.extend_from_slice(payload);
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&src);
        pseudo.extend_from_slice(&dst);
        pseudo.extend_from_slice(&[0, 6, 0, (20 + payload.len()) as u8]);
        pseudo.extend_from_slice(&tcp);
        let c = csum(&pseudo);
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&tcp);
        out.extend_from_slice(&((t_us / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((t_us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&f);
        t_us += 5_000;
    };
    let server = [192, 0, 2, 80];
    let req = b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n";
    let resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    // Three flows in flight at a time, each a step further than the one before.
    let steps = 9u32;
    for round in 0..flows + steps {
        for lag in 0..3u32 {
            let Some(flow) = round.checked_sub(lag * 3) else {
                continue;
            };
            if flow >= flows {
                continue;
            }
            let step = lag * 3;
            let client = [10, 1, (flow >> 8) as u8, flow as u8];
            let cport = 20000 + (flow % 40000) as u16;
            let (c0, s0) = (1000u32, 5000u32);
            let (cr, sr) = (c0 + 1 + req.len() as u32, s0 + 1 + resp.len() as u32);
            for s in step..step + 3 {
                match s {
                    0 => packet(&mut out, client, server, cport, 80, c0, 0, 0x02, &[]),
                    1 => packet(&mut out, server, client, 80, cport, s0, c0 + 1, 0x12, &[]),
                    2 => packet(
                        &mut out,
                        client,
                        server,
                        cport,
                        80,
                        c0 + 1,
                        s0 + 1,
                        0x10,
                        &[],
                    ),
                    3 => packet(
                        &mut out,
                        client,
                        server,
                        cport,
                        80,
                        c0 + 1,
                        s0 + 1,
                        0x18,
                        req,
                    ),
                    4 => packet(&mut out, server, client, 80, cport, s0 + 1, cr, 0x18, resp),
                    5 => packet(&mut out, client, server, cport, 80, cr, sr, 0x11, &[]),
                    6 => packet(&mut out, server, client, 80, cport, sr, cr + 1, 0x11, &[]),
                    7 => packet(
                        &mut out,
                        client,
                        server,
                        cport,
                        80,
                        cr + 1,
                        sr + 1,
                        0x10,
                        &[],
                    ),
                    _ => {}
                }
            }
        }
    }
    std::fs::write(path, out).unwrap();
}

fn eal(prefix: &str) -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let map: Vec<String> = (0..3).map(|l| format!("{l}@{}", l % cpus)).collect();
    format!(
        "--lcores={} --no-huge --no-shconf --no-pci -m 512 --file-prefix={prefix}-{} --log-level=lib.eal:error",
        map.join(","),
        std::process::id()
    )
}

/// The data rows and the header of a log file.
fn log_rows(path: &Path) -> (String, usize) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("").to_string();
    (header, lines.filter(|l| !l.starts_with('#')).count())
}

fn dirs(out: &Path) -> Vec<PathBuf> {
    let mut d: Vec<PathBuf> = std::fs::read_dir(out)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    // Creation order: the directories of a run are named by packet time, a switch inside the
    // same minute adds -2, -3...
    d.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    d
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

struct Probe(Child);

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
    }
}

const ROLES: &str = "\
[Roles]
org.mplane.SSB.Clients.Client-1 = guest
org.mplane.SSB.Clients.Client-2 = restricted
org.mplane.SSB.Supervisors.Supervisor-1 = admin
[Authorizations]
tstat-log_tcp_complete-core = guest,admin
tstat-log_tcp_complete-end_to_end = guest,admin
tstat-log_tcp_complete-tcp_options = guest,admin
tstat-log_tcp_complete-p2p_stats = guest,admin
tstat-log_tcp_complete-layer7 = guest,admin
tstat-log_http_complete = guest,admin
tstat-log_rrds = guest,admin,restricted
tstat-exporter_rrd = guest,admin
tstat-exporter_streaming = guest,admin
tstat-exporter_log = guest,admin
";

#[test]
fn real_supervisor_and_client_drive_the_probe() {
    let Some(bed) = set_up_bed() else {
        return;
    };
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("mplane-probe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("flows.pcap");
    // 8000 flows of 8 packets at 400 pps: 160 s of capture (the probe runs as long as the
    // replay), ~50 flows ending every second.
    write_trace(&trace, 8000);
    let rt = dir.join("runtime.conf");
    std::fs::write(
        &rt,
        "[log]\nlog_tcp_complete = 1\nlog_http_complete = 0\nrrd_engine = 0\n\
         [options]\ntcplog_end_to_end = 0\ntcplog_layer7 = 1\ntcplog_p2p = 0\ntcplog_options = 0\n",
    )
    .unwrap();
    let access = dir.join("access.conf");
    std::fs::write(&access, ROLES).unwrap();
    let listen = free_port();
    let mut conf = std::fs::read_to_string(root().join("conf/tstat-dpdk.toml")).unwrap();
    // The shipped file ends with a commented-out [mplane] table: ours replaces it.
    if let Some(i) = conf.find("\n[mplane]") {
        conf.truncate(i);
    }
    conf.push_str(&format!(
        "\n[mplane]\nsupervisor = \"https://127.0.0.1:{}\"\nlisten = \"127.0.0.1:{listen}\"\n\
         cert = {:?}\nkey = {:?}\nca = {:?}\naccess = {:?}\npoll_s = 1\nreregister_s = 2\n",
        bed.cport,
        bed.pki("Tstat-DPDK-1.pem"),
        bed.pki("Tstat-DPDK-1-plaintext.key"),
        bed.pki("root-ca.pem"),
        access,
    ));
    let conf_path = dir.join("probe.toml");
    std::fs::write(&conf_path, conf).unwrap();
    let out = dir.join("out");
    // An RRD file with recent values for tstat-exporter_rrd (the probe's own RRD files get
    // their first interval only after 5 minutes of traffic time).
    let rrd_dir = dir.join("rrd");
    std::fs::create_dir_all(&rrd_dir).unwrap();
    let now = chrono::Utc::now().timestamp();
    let test_rrd = rrd_dir.join("test_export.rrd");
    rrd_sys::create(
        &test_rrd,
        300,
        now - 3600,
        &["DS:v:GAUGE:600:U:U", "RRA:AVERAGE:0.5:1:100"],
    )
    .unwrap();
    // Values up to 10 minutes ahead: the export (a minute or so from now) reads from its
    // start − 300 s on, and the interval ending in that window must be complete whatever the
    // wall clock's phase against the 300 s grid (values up to `now` alone left it unknown
    // when `now` was late in its interval).
    let updates: Vec<String> = [900, 600, 300, 0, -300, -600]
        .iter()
        .map(|ago| format!("{}:7.5", now - ago))
        .collect();
    rrd_sys::update(
        &test_rrd,
        &updates.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .unwrap();
    let metrics_port = free_port();
    let log = std::fs::File::create(dir.join("probe.log")).unwrap();
    let probe = Probe(
        Command::new(env!("CARGO_BIN_EXE_tstat-dpdk"))
            .arg("start")
            .arg("-c")
            .arg(&conf_path)
            .arg("--metrics")
            .arg(format!("127.0.0.1:{metrics_port}"))
            .arg(format!("--eal={}", eal("mplane")))
            .args(["--workers", "2", "--idle", "yield", "-s"])
            .arg(&out)
            .arg("--socket")
            .arg(dir.join("ctl.sock"))
            .arg("--run-dir")
            .arg(dir.join("run"))
            .arg("--replay")
            .arg(&trace)
            .args(["--replay-pps", "400", "-T"])
            .arg(&rt)
            .arg("-R")
            .arg(root().join("tests/rrd/rrd.conf"))
            .arg("-r")
            .arg(&rrd_dir)
            .env("TZ", "UTC")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );

    // 1. Capabilities, with the supervisor's access control.
    let all: Vec<String> = {
        let mut v: Vec<String> = control::mplane::TstatAction::ALL
            .iter()
            .map(|a| a.label().to_string())
            .collect();
        v.sort();
        v
    };
    wait_for("the probe's registration", Duration::from_secs(30), || {
        bed.labels(&[]) == all
    });
    let (shown, rc) = bed.drive(&["show", "tstat-log_tcp_complete-end_to_end"]);
    assert_eq!(rc, 0);
    assert_eq!(
        shown["token"], "8d6d3a2a8acd432f6e0f67e0d07b089c",
        "the 2015 token"
    );
    assert_eq!(bed.labels(&["--client", "client-2"]), ["tstat-log_rrds"]);
    assert!(bed.labels(&["--client", "stranger"]).is_empty());

    // 2. A ten-second window of the end_to_end column group.
    let before = dirs(&out).len();
    let (run, rc) = bed.drive(&[
        "run",
        "tstat-log_tcp_complete-end_to_end",
        "--when",
        "now + 10s",
    ]);
    assert_eq!(rc, 0, "{run}");
    assert_eq!(run["outcome"], "result", "{run}");
    let reply = &run["reply"];
    let when = reply["when"].as_str().unwrap();
    let (a, b) = when.split_once(" ... ").expect("an absolute when");
    let t = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.6f").unwrap();
    let span = (t(b) - t(a)).num_milliseconds();
    assert!((9_500..=11_000).contains(&span), "window {when}");
    let rows = reply["resultvalues"].as_array().unwrap();
    assert!(
        rows.len() > 50,
        "rows of 10 s at ~50 flows/s: {}",
        rows.len()
    );
    let folder = reply["metadata"]["log.folder"].as_str().unwrap();
    let files: Vec<&str> = folder.split(',').collect();
    assert_eq!(files.len(), 1, "one directory for the window: {folder}");
    let (header, n) = log_rows(Path::new(files[0]));
    assert!(
        header.contains("c_rtt_avg"),
        "end_to_end columns in the window: {header}"
    );
    assert_eq!(n, rows.len(), "the result carries every row of the window");
    // Every row has the capability's seven columns; the RTT and TTL values are the log's.
    for r in rows {
        assert_eq!(r.as_array().unwrap().len(), 7);
    }
    let after: Vec<PathBuf> = dirs(&out);
    assert!(after.len() > before);
    wait_for(
        "the directory after the window",
        Duration::from_secs(10),
        || {
            dirs(&out)
                .last()
                .is_some_and(|d| d.as_path() != Path::new(files[0]).parent().unwrap())
        },
    );
    let last = dirs(&out).last().unwrap().clone();
    let (header, _) = log_rows(&last.join("log_tcp_complete"));
    assert!(
        !header.contains("c_rtt_avg"),
        "end_to_end off after the window: {header}"
    );

    // 3. Interrupted after 3 s of a one-hour window.
    let (run, rc) = bed.drive(&[
        "run",
        "tstat-log_tcp_complete-end_to_end",
        "--when",
        "now + 1h",
        "--interrupt-after",
        "3",
    ]);
    assert_eq!(rc, 0, "{run}");
    assert_eq!(run["outcome"], "result", "{run}");
    let when = run["reply"]["when"].as_str().unwrap();
    let (a, b) = when.split_once(" ... ").unwrap();
    assert!(
        (t(b) - t(a)).num_seconds() < 60,
        "interrupted early: {when}"
    );
    wait_for(
        "end_to_end off after the interrupt",
        Duration::from_secs(10),
        || {
            let last = dirs(&out).last().unwrap().clone();
            !log_rows(&last.join("log_tcp_complete"))
                .0
                .contains("c_rtt_avg")
        },
    );

    // 4. Client-initiated: the probe serves the real client itself, with its own RBAC.
    let direct = |name: &str, file: &str| -> PathBuf {
        let src =
            std::fs::read_to_string(bed.env.join("conf").join(format!("{file}.conf"))).unwrap();
        let conf = src.replace(
            &format!("127.0.0.1:{}/", bed.lport),
            &format!("127.0.0.1:{listen}/"),
        );
        let p = dir.join(format!("direct-{name}.conf"));
        std::fs::write(&p, conf).unwrap();
        p
    };
    let c1 = direct("client-1", "client-1");
    assert_eq!(bed.labels(&["--config", c1.to_str().unwrap()]), all);
    let c2 = direct("client-2", "client-2");
    assert_eq!(
        bed.labels(&["--config", c2.to_str().unwrap()]),
        ["tstat-log_rrds"]
    );
    let st = direct("stranger", "stranger");
    assert!(bed.labels(&["--config", st.to_str().unwrap()]).is_empty());
    let (run, rc) = bed.drive(&[
        "--config",
        c1.to_str().unwrap(),
        "run",
        "tstat-log_tcp_complete-core",
        "--when",
        "now + 2s",
    ]);
    assert_eq!(rc, 0, "{run}");
    assert_eq!(run["outcome"], "result", "{run}");
    assert!(!run["reply"]["resultvalues"].as_array().unwrap().is_empty());
    // No certificate: the handshake fails. A certificate of another CA: likewise.
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .args(["-s", "-o", "/dev/null", "--max-time", "10", "--cacert"])
            .arg(bed.pki("root-ca.pem"))
            .args(extra)
            .arg(format!("https://127.0.0.1:{listen}/capability"))
            .status()
            .map(|s| s.success())
    };
    if let Ok(ok) = curl(&[]) {
        assert!(!ok, "a peer without a certificate was served");
        let with_cert = curl(&[
            "--cert",
            bed.pki("Client-1.pem").to_str().unwrap(),
            "--key",
            bed.pki("Client-1-plaintext.key").to_str().unwrap(),
        ])
        .unwrap();
        assert!(with_cert, "Client-1 with its certificate was refused");
    } else {
        eprintln!("curl not installed: the no-certificate handshake check is skipped");
    }

    // 5. The supervisor restarts: the probe registers again, specifications work again.
    bed.supervisor("stop");
    bed.supervisor("start");
    wait_for(
        "the registration after the restart",
        Duration::from_secs(30),
        || bed.labels(&[]) == all,
    );
    let (run, rc) = bed.drive(&["run", "tstat-log_rrds", "--when", "now + 2s"]);
    assert_eq!(rc, 0, "{run}");
    assert_eq!(run["outcome"], "result", "{run}");
    assert_eq!(
        run["reply"]["resultvalues"].as_array().unwrap()[0]
            .as_array()
            .unwrap()
            .len(),
        9
    );

    // 6. The repository (in this process, registered as Repository-1) collects a log the
    //    probe streams to it through tstat-exporter_streaming, line for line.
    let store = dir.join("store");
    let mut rconf = control::repository::RepositoryConf::new("127.0.0.1", &store);
    rconf.rrd_port = free_port();
    rconf.streaming_port = free_port();
    rconf.log_port = free_port();
    // Carbon's plaintext port, played by this test (a real carbon-cache receives the same
    // lines in control/tests/export.rs).
    let carbon = TcpListener::bind("127.0.0.1:0").unwrap();
    rconf.carbon = carbon.local_addr().unwrap().to_string();
    let carbon_lines = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    {
        let lines = std::sync::Arc::clone(&carbon_lines);
        std::thread::spawn(move || {
            use std::io::Read;
            for conn in carbon.incoming().flatten() {
                let mut conn = conn;
                let mut buf = [0u8; 4096];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    lines
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
    }
    let rrd_port = rconf.rrd_port;
    rconf.tls = Some(control::mplane::net::TlsFiles {
        cert: bed.pki("Repository-1.pem"),
        key: bed.pki("Repository-1-plaintext.key"),
        ca: bed.pki("root-ca.pem"),
    });
    let streaming_port = rconf.streaming_port;
    let (stop_repo, stop_rx) = tokio::sync::watch::channel(false);
    let supervisor = format!("https://127.0.0.1:{}", bed.cport);
    let repo_thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let repo = control::repository::Repository::bind(rconf.clone())
                .await
                .unwrap();
            let component = control::repository::repository_component(&rconf, repo.stats(), 1000);
            let mut link = control::mplane::component::SupervisorLink::new(
                control::mplane::net::Endpoint::parse(&supervisor).unwrap(),
                rconf.tls.clone(),
            );
            link.poll = Duration::from_secs(1);
            link.reregister = Duration::from_secs(2);
            let stats = Default::default();
            let l = tokio::spawn(control::mplane::component::run_with_supervisor(
                component,
                link,
                stop_rx.clone(),
                stats,
            ));
            repo.run(stop_rx).await.unwrap();
            let _ = l.await;
        })
    });
    wait_for(
        "the repository's registration",
        Duration::from_secs(30),
        || {
            bed.labels(&[])
                .iter()
                .any(|l| l == "repository-collect_streaming")
        },
    );
    let folder = format!("{}/", out.display());
    let (run, rc) = bed.drive(&[
        "run",
        "tstat-exporter_streaming",
        "--when",
        "now + 6s",
        "--param",
        &format!("repository.url=127.0.0.1:{streaming_port}"),
        "--param",
        &format!("log.folder={folder}"),
        "--param",
        "log.type=log_tcp_complete",
        "--param",
        "log.time=1",
    ]);
    assert_eq!(rc, 0, "{run}");
    assert_eq!(run["outcome"], "result", "{run}");
    let summary = run["reply"]["metadata"]["log.type"]
        .as_str()
        .unwrap()
        .to_string();
    // What the repository stored is the probe's log, line for line.
    let mut stored = Vec::new();
    let mut stack = vec![store.join("streaming")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                stored.push(e.path());
            }
        }
    }
    assert_eq!(stored.len(), 1, "one log streamed: {stored:?} ({summary})");
    let got = std::fs::read_to_string(&stored[0]).unwrap();
    let dir_name = stored[0].parent().unwrap().file_name().unwrap();
    let source = std::fs::read_to_string(out.join(dir_name).join("log_tcp_complete")).unwrap();
    assert!(got.lines().count() > 10, "{summary}");
    assert!(
        source.starts_with(&got),
        "the stored lines are the log's first {} lines ({summary})",
        got.lines().count()
    );
    let n = got.lines().count();
    assert!(
        summary.starts_with(&format!("{n} lines")),
        "{summary} vs {n} stored"
    );

    // 7. tstat-exporter_rrd sends the probe's RRD values over HTTPS to the repository, which
    //    hands them to carbon under the probe's identity.
    let (run, rc) = bed.drive(&[
        "run",
        "tstat-exporter_rrd",
        "--when",
        "now + 3s",
        "--param",
        &format!("repository.url=127.0.0.1:{rrd_port}"),
    ]);
    assert_eq!(rc, 0, "{run}");
    assert_eq!(run["outcome"], "result", "{run}");
    let rows = run["reply"]["resultvalues"].as_array().unwrap().clone();
    let summary = run["reply"]["metadata"]["log.type"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(!rows.is_empty(), "values exported: {summary}");
    for r in &rows {
        assert_eq!(r[1], "test_export.rrd", "{summary}");
        assert_eq!(r[2], "7.5", "{summary}");
    }
    wait_for("carbon's lines", Duration::from_secs(10), || {
        carbon_lines
            .lock()
            .unwrap()
            .lines()
            .any(|l| l.starts_with("tstat.1.") && l.contains("test_export") && l.contains(" 7.5 "))
    });
    let _ = stop_repo.send(true);
    repo_thread.join().unwrap();

    // 8. The component's exchanges are on the Prometheus endpoint.
    let scrape = {
        use std::io::Read;
        let mut c = std::net::TcpStream::connect(("127.0.0.1", metrics_port)).unwrap();
        c.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut body = String::new();
        c.read_to_string(&mut body).unwrap();
        body
    };
    let metric = |line: &str| -> f64 {
        scrape
            .lines()
            .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{line} not in the scrape:\n{scrape}"))
    };
    assert!(metric("tstat_mplane_exchanges_total{kind=\"registration\"}") >= 2.0);
    assert!(metric("tstat_mplane_exchanges_total{kind=\"specification\"}") >= 4.0);
    assert!(metric("tstat_mplane_exchanges_total{kind=\"delivered\"}") >= 8.0);
    assert_eq!(metric("tstat_mplane_jobs"), 0.0);
    assert_eq!(metric("tstat_mplane_switches_held"), 0.0);
    drop(probe);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("probe.log"))
        .unwrap();
    let _ = writeln!(f, "-- test done");
}
