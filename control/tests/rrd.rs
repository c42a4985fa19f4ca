//! End-to-end tests of Tstat's RRD files (`analyze -H -R -r`): the files written for traces of
//! `tests/pcaps` must be the ones Tstat 3.3 created (`tests/rrd/<trace>/rrd-files.txt`), and
//! `rrdtool info` and `rrdtool fetch` of the reference files must read as Tstat's did, except
//! each archive's `cur_row`, which librrd picks at random (see `tests/rrd/README.md`).
//!
//! Needs the `rrdtool` command to read the files back: without it the checks are skipped with a
//! message (the files are still written and counted).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tstat-dpdk-rrd-{}-{}", std::process::id(), name));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `tstat-dpdk analyze --quiet ARGS`, run in `cwd`.
fn analyze(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tstat-dpdk"))
        .current_dir(cwd)
        .arg("analyze")
        .arg("--quiet")
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("running tstat-dpdk")
}

fn have_rrdtool() -> bool {
    let ok = Command::new("rrdtool")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!(
            "SKIPPED: the rrdtool command is missing (Debian: apt-get install rrdtool): \
             RRD files not read back"
        );
    }
    ok
}

fn rrdtool(cwd: &Path, args: &[&str]) -> String {
    let o = Command::new("rrdtool")
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("running rrdtool");
    assert!(
        o.status.success(),
        "rrdtool {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// `rrdtool info` without the archives' `cur_row` (random at creation).
fn info_without_cur_row(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains(".cur_row = "))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// Runs `trace` as Tstat's reference run was made and compares the RRD files.
fn check_trace(trace: &str, updates: u64) {
    let base = root();
    let golden = base.join("tests/rrd").join(trace);
    let work = scratch(trace);
    let histo_conf = work.join("histo.conf");
    std::fs::write(&histo_conf, "include ALL\n").unwrap();
    let o = analyze(
        &work,
        &[
            "-T",
            base.join("tests/runtime-all.conf").to_str().unwrap(),
            "-H",
            histo_conf.to_str().unwrap(),
            "-R",
            base.join("tests/rrd/rrd.conf").to_str().unwrap(),
            "-r",
            "rrd",
            "-s",
            "out",
            base.join("tests/pcaps")
                .join(format!("{trace}.pcap"))
                .to_str()
                .unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "1491 files created, {updates} updates, 0 errors, in rrd"
        )),
        "{stdout}"
    );
    // The file names Tstat created.
    let want: Vec<String> = std::fs::read_to_string(golden.join("rrd-files.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(files(&work.join("rrd")), want);
    if !have_rrdtool() {
        let _ = std::fs::remove_dir_all(&work);
        return;
    }
    let mut checked = 0;
    for name in files(&golden) {
        let Some(base_name) = name.strip_suffix(".info") else {
            continue;
        };
        let rrd = format!("rrd/{base_name}.rrd");
        let tstat = std::fs::read_to_string(golden.join(&name)).unwrap();
        let ours = rrdtool(&work, &["info", &rrd]);
        assert_eq!(
            info_without_cur_row(&ours),
            info_without_cur_row(&tstat),
            "{trace}: rrdtool info {rrd}"
        );
        // The reference fetch: the last hour at 300 s resolution, up to the last update.
        let last: i64 = tstat
            .lines()
            .find_map(|l| l.strip_prefix("last_update = "))
            .and_then(|v| v.parse().ok())
            .expect("last_update in the reference info");
        let ours = rrdtool(
            &work,
            &[
                "fetch",
                &rrd,
                "AVERAGE",
                "-r",
                "300",
                "-s",
                &(last - 3600).to_string(),
                "-e",
                &last.to_string(),
            ],
        );
        let tstat = std::fs::read_to_string(golden.join(format!("{base_name}.fetch"))).unwrap();
        assert_eq!(ours, tstat, "{trace}: rrdtool fetch {rrd}");
        checked += 1;
    }
    assert_eq!(checked, 5, "{trace}: reference files");
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn wikipedia_rrd_files_are_tstat_s() {
    // One dump (LAST): every file created and updated once.
    check_trace("zeek__wikipedia", 1491);
}

#[test]
fn two_intervals_accumulate_as_in_tstat() {
    // Two dumps (000/ at the first 900 s gap, LAST/): the second updates every file but the
    // min/max of histograms without samples since the first.
    check_trace("ndpi__1kxun.compact", 2897);
}

#[test]
fn rrd_without_histo_collects_the_histograms_it_names() {
    let base = root();
    let work = scratch("no-h");
    let conf = work.join("rrd.conf");
    std::fs::write(
        &conf,
        "ip_len_loc avg max prc:50\nL4_flow_number idx:0,1,other\n",
    )
    .unwrap();
    let pcap = base.join("tests/pcaps/zeek__wikipedia.pcap");
    let o = analyze(
        &work,
        &[
            "-R",
            conf.to_str().unwrap(),
            "-r",
            "rrd",
            "-s",
            "out",
            pcap.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}");
    assert!(
        stdout.contains("6 files created, 6 updates, 0 errors"),
        "{stdout}"
    );
    assert_eq!(
        files(&work.join("rrd")),
        [
            "L4_flow_number.idx0.rrd",
            "L4_flow_number.idx1.rrd",
            "L4_flow_number.idxoth.rrd",
            "ip_len_loc.avg.rrd",
            "ip_len_loc.max.rrd",
            "ip_len_loc.prc50.rrd",
        ]
    );
    // As Tstat does, the histograms rrd.conf names are written at every dump, the others not.
    let out = work.join("out");
    let date = files(&out).pop().expect("an output directory");
    assert_eq!(
        files(&out.join(date).join("LAST")),
        ["L4_flow_number", "ip_len_loc"]
    );
    if have_rrdtool() {
        let info = rrdtool(&work, &["info", "rrd/L4_flow_number.idx0.rrd"]);
        assert!(
            info.contains("ds[L4_flow_number].last_ds = \"8.000000\""),
            "{info}"
        );
    }
    // -R and -r go together, as in Tstat.
    let o = analyze(
        &work,
        &["-R", conf.to_str().unwrap(), pcap.to_str().unwrap()],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("-r <DIR>"));
    let _ = std::fs::remove_dir_all(&work);
}
