//! End-to-end tests of Tstat's histograms (`analyze -H`): the interval directories written for
//! the traces of `tests/pcaps` must equal, file for file and byte for byte, what Tstat 3.3 wrote
//! for them (`tests/histo/<trace>/<date>.out/<interval>.golden`, see `tests/histo/README.md`),
//! whatever the number of workers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tstat-dpdk-histo-{}-{}", std::process::id(), name));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn analyze(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tstat-dpdk"))
        .arg("analyze")
        .arg("--quiet")
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("running tstat-dpdk")
}

/// An interval directory in the golden format: every file, in name order, after a
/// `==> name <==` line.
fn render(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut out = String::new();
    for n in names {
        out.push_str(&format!("==> {n} <==\n"));
        out.push_str(&std::fs::read_to_string(dir.join(&n)).unwrap());
    }
    out
}

/// The first file whose section differs, with both versions.
fn first_difference(ours: &str, golden: &str) -> String {
    let split = |s: &str| -> Vec<(String, String)> {
        s.split("==> ")
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (name, body) = p.split_once(" <==\n").unwrap_or((p, ""));
                (name.to_string(), body.to_string())
            })
            .collect()
    };
    let (o, g) = (split(ours), split(golden));
    for (name, body) in &g {
        match o.iter().find(|(n, _)| n == name) {
            None => return format!("{name}: missing"),
            Some((_, b)) if b != body => {
                return format!("{name}:\n--- Tstat\n{body}--- ours\n{b}");
            }
            _ => {}
        }
    }
    format!("{} files in ours, {} in Tstat's", o.len(), g.len())
}

fn histo_conf(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("histo.conf");
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs `trace` with every histogram and compares every interval Tstat wrote.
fn check_trace(trace: &str, workers: usize) {
    let base = root();
    let golden_root = base.join("tests/histo").join(trace);
    let date = std::fs::read_dir(&golden_root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|n| n.ends_with(".out"))
        .expect("a <date>.out golden directory");
    let out = scratch(&format!("{trace}-{workers}"));
    let conf = histo_conf(&out, "# every histogram\ninclude ALL\n");
    let pcap = base.join("tests/pcaps").join(format!("{trace}.pcap"));
    let runtime = base.join("tests/runtime-all.conf");
    let w = workers.to_string();
    let r = analyze(&[
        "-T",
        runtime.to_str().unwrap(),
        "-H",
        conf.to_str().unwrap(),
        "--workers",
        &w,
        "-s",
        out.join("o").to_str().unwrap(),
        pcap.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let ours_dir = out.join("o").join(&date);
    let mut intervals = Vec::new();
    for g in std::fs::read_dir(golden_root.join(&date)).unwrap() {
        let g = g.unwrap().path();
        let interval = g.file_stem().unwrap().to_str().unwrap().to_string();
        let golden = std::fs::read_to_string(&g).unwrap();
        let ours = render(&ours_dir.join(&interval));
        assert!(
            ours == golden,
            "{trace} with {workers} workers, {interval}/: {}",
            first_difference(&ours, &golden)
        );
        intervals.push(interval);
    }
    // No interval directory Tstat did not write.
    let mut written: Vec<String> = std::fs::read_dir(&ours_dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    written.sort();
    intervals.sort();
    assert_eq!(written, intervals, "{trace}: interval directories");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn wikipedia_histograms_equal_tstat_s() {
    check_trace("zeek__wikipedia", 1);
    check_trace("zeek__wikipedia", 3);
}

#[test]
fn bro_org_histograms_equal_tstat_s() {
    check_trace("zeek__bro.org", 1);
    check_trace("zeek__bro.org", 2);
}

/// Two intervals (000/ after the 900 s gap, then LAST/): flows timed out in the gap close in
/// the first one whichever worker holds them, and `profile_flows` averages the tracked flows.
#[test]
fn an_interval_boundary_splits_1kxun_as_tstat_does() {
    check_trace("ndpi__1kxun.compact", 1);
    check_trace("ndpi__1kxun.compact", 4);
}

#[test]
fn a_selection_writes_only_its_histograms_and_no_addresses() {
    let out = scratch("selection");
    let conf = histo_conf(&out, "include ip_len_loc\ninclude_matching tcp_rtt_avg\n");
    let pcap = root().join("tests/pcaps/zeek__wikipedia.pcap");
    let r = analyze(&[
        "-H",
        conf.to_str().unwrap(),
        "-s",
        out.join("o").to_str().unwrap(),
        pcap.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let last = out.join("o/2011_03_18_19_06.out/LAST");
    let mut names: Vec<String> = std::fs::read_dir(&last)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ip_len_loc",
            "tcp_rtt_avg_c2s",
            "tcp_rtt_avg_in",
            "tcp_rtt_avg_loc",
            "tcp_rtt_avg_out",
            "tcp_rtt_avg_s2c"
        ]
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn without_h_no_histogram_is_written_and_a_bad_file_is_refused() {
    let out = scratch("none");
    let pcap = root().join("tests/pcaps/zeek__wikipedia.pcap");
    let r = analyze(&[
        "-s",
        out.join("o").to_str().unwrap(),
        pcap.to_str().unwrap(),
    ]);
    assert!(r.status.success());
    let dir = out.join("o/2011_03_18_19_06.out");
    assert!(std::fs::read_dir(&dir)
        .unwrap()
        .all(|e| !e.unwrap().path().is_dir()));

    let conf = histo_conf(&out, "include ALL\ninclude no_such_histogram\n");
    let r = analyze(&[
        "-H",
        conf.to_str().unwrap(),
        "-s",
        out.join("p").to_str().unwrap(),
        pcap.to_str().unwrap(),
    ]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("histo.conf:2") && err.contains("no_such_histogram"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&out);
}
