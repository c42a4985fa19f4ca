//! Address anonymisation end to end: `tstat-dpdk analyze -Y nets [-W nets] [key option]` over
//! the traces in `tests/pcaps`, compared with a run without `-Y`.

use control::cryptopan::{base64, key_from_material, CryptoPan};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const KEY: &str = "tstat-dpdk anonymisation test";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn pcap(name: &str) -> String {
    root()
        .join("tests/pcaps")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tstat-dpdk-anon-{}-{}", std::process::id(), name));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn analyze(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_tstat-dpdk"))
        .arg("analyze")
        .arg("--quiet")
        .arg("--workers")
        .arg("1")
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("running tstat-dpdk");
    assert!(
        out.status.success(),
        "tstat-dpdk {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

/// One log: column names and rows as name → value maps.
struct Log {
    rows: Vec<HashMap<String, String>>,
}

fn read_log(path: &Path) -> Log {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut names: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix('#') {
            // `#15#c_ip:1 ...` (TCP, with the level) or `#c_ip:1 ...`.
            let body = match h.split_once('#') {
                Some((lvl, b)) if lvl.chars().all(|c| c.is_ascii_digit()) => b,
                _ => h,
            };
            names = body
                .split_whitespace()
                .map(|c| c.split(':').next().unwrap().to_string())
                .collect();
        } else if !line.trim().is_empty() {
            let values: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(values.len(), names.len(), "{}: {line}", path.display());
            rows.push(
                names
                    .iter()
                    .cloned()
                    .zip(values.into_iter().map(str::to_string))
                    .collect(),
            );
        }
    }
    Log { rows }
}

/// The single `<date>.out` directory under `root`.
fn out_dir(root: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

fn logs(root: &Path, names: &[&str]) -> Vec<Log> {
    let d = out_dir(root);
    names.iter().map(|n| read_log(&d.join(n))).collect()
}

fn pan(key: &str) -> CryptoPan {
    CryptoPan::new(&key_from_material(key.as_bytes()).bytes)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const VLAN: &str = "zeek__http-vlan-0.pcap";
const CLIENT: &str = "141.142.228.5";
const SERVER: &str = "192.150.187.43";

#[test]
fn client_network_is_anonymised_and_nothing_else_changes() {
    let dir = scratch("vlan");
    let y = write(
        &dir,
        "crypto.conf",
        "# the client's network\n141.142.228.0/24\n",
    );
    let plain = dir.join("plain");
    let anon = dir.join("anon");
    analyze(&["-s", plain.to_str().unwrap(), &pcap(VLAN)]);
    analyze(&[
        "-Y",
        &y,
        "--keyvalue",
        KEY,
        "-s",
        anon.to_str().unwrap(),
        &pcap(VLAN),
    ]);
    let p = &logs(&plain, &["log_tcp_complete"])[0];
    let a = &logs(&anon, &["log_tcp_complete"])[0];
    assert_eq!(p.rows.len(), 1);
    assert_eq!(a.rows.len(), 1);
    let (p, a) = (&p.rows[0], &a.rows[0]);
    assert_eq!(p["c_ip"], CLIENT);
    let expected = pan(KEY).anonymize(ip(CLIENT)).to_string();
    assert_ne!(expected, CLIENT);
    assert_eq!(a["c_ip"], expected);
    assert_eq!(a["s_ip"], SERVER);
    assert_eq!(a["c_iscrypto"], "1");
    assert_eq!(a["s_iscrypto"], "0");
    assert_eq!(a["dns_enc"], "0");
    for (k, v) in p {
        if !["c_ip", "c_iscrypto"].contains(&k.as_str()) {
            assert_eq!(&a[k], v, "column {k}");
        }
    }

    // The key is saved next to the output directory, Base64-encoded, as Tstat does; reading
    // it back with --keybase64 gives the same logs.
    let key_file = anon.join("CPanKey_2013_03_07_21_42");
    let saved = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(
        saved,
        format!("{}\n", base64(&key_from_material(KEY.as_bytes()).bytes))
    );
    let again = dir.join("again");
    analyze(&[
        "-Y",
        &y,
        "--keybase64",
        key_file.to_str().unwrap(),
        "-s",
        again.to_str().unwrap(),
        &pcap(VLAN),
    ]);
    let b = &logs(&again, &["log_tcp_complete"])[0];
    assert_eq!(&b.rows[0], a);
    // --keyfile takes the same string from a file.
    let kf = write(&dir, "key.txt", &format!("{KEY}\n"));
    let third = dir.join("third");
    analyze(&[
        "-Y",
        &y,
        "--keyfile",
        &kf,
        "-s",
        third.to_str().unwrap(),
        &pcap(VLAN),
    ]);
    assert_eq!(&logs(&third, &["log_tcp_complete"])[0].rows[0], a);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn whitelisted_addresses_are_not_anonymised() {
    let dir = scratch("white");
    let y = write(&dir, "crypto.conf", "141.142.0.0/255.255.0.0\n");
    let w = write(&dir, "white.conf", &format!("{CLIENT}/32\n"));
    let plain = dir.join("plain");
    let white = dir.join("white");
    analyze(&["-s", plain.to_str().unwrap(), &pcap(VLAN)]);
    analyze(&[
        "-Y",
        &y,
        "-W",
        &w,
        "--keyvalue",
        KEY,
        "-s",
        white.to_str().unwrap(),
        &pcap(VLAN),
    ]);
    let p = &logs(&plain, &["log_tcp_complete"])[0];
    let a = &logs(&white, &["log_tcp_complete"])[0];
    assert_eq!(a.rows, p.rows);
    assert_eq!(a.rows[0]["c_ip"], CLIENT);
    assert_eq!(a.rows[0]["c_iscrypto"], "0");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn anonymisation_is_consistent_across_rows_and_logs() {
    // zeek__wikipedia: one client with TCP and UDP (DNS) flows, its DNS server in the same
    // /16, multicast destinations and IPv6 link-local hosts.
    let dir = scratch("wiki");
    let y = write(&dir, "crypto.conf", "141.142.0.0/16\nfe80::/10\n");
    let plain = dir.join("plain");
    let anon = dir.join("anon");
    let trace = pcap("zeek__wikipedia.pcap");
    analyze(&["-s", plain.to_str().unwrap(), &trace]);
    analyze(&[
        "-Y",
        &y,
        "--keyvalue",
        KEY,
        "-s",
        anon.to_str().unwrap(),
        &trace,
    ]);
    let names = ["log_tcp_complete", "log_tcp_nocomplete", "log_udp_complete"];
    let pl = logs(&plain, &names);
    let an = logs(&anon, &names);
    let pan = pan(KEY);
    let is_crypto = |a: &IpAddr| match a {
        IpAddr::V4(v) => v.octets()[..2] == [141, 142],
        IpAddr::V6(v) => v.segments()[0] & 0xffc0 == 0xfe80,
    };
    let mut mapping: HashMap<IpAddr, IpAddr> = HashMap::new();
    let mut anonymised_rows = 0;
    for (p, a) in pl.iter().zip(&an) {
        assert_eq!(p.rows.len(), a.rows.len());
        for (pr, ar) in p.rows.iter().zip(&a.rows) {
            for (addr, flag) in [("c_ip", "c_iscrypto"), ("s_ip", "s_iscrypto")] {
                let real = ip(&pr[addr]);
                let shown = ip(&ar[addr]);
                assert_eq!(ar[flag], if is_crypto(&real) { "1" } else { "0" });
                if is_crypto(&real) {
                    anonymised_rows += 1;
                    assert_ne!(shown, real);
                    assert_eq!(shown, pan.anonymize(real));
                } else {
                    assert_eq!(shown, real);
                }
                // One printed address per real address, in every row of every log.
                assert_eq!(*mapping.entry(real).or_insert(shown), shown, "{real}");
            }
            for (k, v) in pr {
                if !["c_ip", "s_ip", "c_iscrypto", "s_iscrypto"].contains(&k.as_str()) {
                    assert_eq!(&ar[k], v, "column {k}");
                }
            }
        }
    }
    assert!(anonymised_rows > 20, "{anonymised_rows}");
    // Distinct addresses stay distinct, and prefixes are preserved (Crypto-PAn).
    let client = mapping[&ip("141.142.220.118")];
    let dns = mapping[&ip("141.142.2.2")];
    assert_ne!(client, dns);
    let bits = |a: IpAddr| match a {
        IpAddr::V4(v) => u32::from(v),
        IpAddr::V6(_) => unreachable!(),
    };
    assert_eq!(
        (bits(client) ^ bits(dns)).leading_zeros(),
        (bits(ip("141.142.220.118")) ^ bits(ip("141.142.2.2"))).leading_zeros()
    );
    assert!(mapping.contains_key(&ip("fe80::217:f2ff:fed7:cf65")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_random_key_is_saved_and_reusable() {
    let dir = scratch("random");
    let y = write(&dir, "crypto.conf", "141.142.228.0/24\n");
    let first = dir.join("first");
    analyze(&["-Y", &y, "-s", first.to_str().unwrap(), &pcap(VLAN)]);
    let key_file = first.join("CPanKey_2013_03_07_21_42");
    let saved = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(saved.len(), 45, "{saved:?}");
    let second = dir.join("second");
    analyze(&[
        "-Y",
        &y,
        "--keybase64",
        key_file.to_str().unwrap(),
        "-s",
        second.to_str().unwrap(),
        &pcap(VLAN),
    ]);
    let a = &logs(&first, &["log_tcp_complete"])[0];
    let b = &logs(&second, &["log_tcp_complete"])[0];
    assert_eq!(a.rows, b.rows);
    assert_ne!(a.rows[0]["c_ip"], CLIENT);
    assert_eq!(
        std::fs::read_to_string(second.join("CPanKey_2013_03_07_21_42")).unwrap(),
        saved
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn only_one_key_option() {
    let dir = scratch("conflict");
    let y = write(&dir, "crypto.conf", "141.142.228.0/24\n");
    let kf = write(&dir, "key.txt", "abc\n");
    let out = Command::new(env!("CARGO_BIN_EXE_tstat-dpdk"))
        .args([
            "analyze",
            "--quiet",
            "-Y",
            &y,
            "--keyvalue",
            "x",
            "--keyfile",
        ])
        .arg(&kf)
        .arg("-s")
        .arg(dir.join("out"))
        .arg(pcap(VLAN))
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(!out.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}
