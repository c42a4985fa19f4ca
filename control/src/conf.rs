//! Tstat's configuration files: the internal-networks list (`-N net.conf`) and the runtime
//! configuration (`-T runtime.conf`, INI sections `[log]`, `[options]`, `[dump]`).
//!
//! Raw text is checked here and turned into validated values; every error names the file, the
//! line and what was wrong.

use crate::logs::video::VideoLevel;
use crate::logs::TcpLevel;
use engine::net::NetSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("{path}: cannot read")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line is not valid.
    #[error("{path}:{line}: {what}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        what: String,
    },
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Parses Tstat's internal-networks file: `a.b.c.d/len`, `a.b.c.d/m.m.m.m`, `ipv6/len`, or the
/// legacy two-line form (a network line followed by a netmask line). `#` starts a comment.
pub fn parse_net_conf(path: &Path) -> Result<NetSet, Error> {
    parse_net_text(&read(path)?, path)
}

fn parse_net_text(text: &str, path: &Path) -> Result<NetSet, Error> {
    let err = |line: usize, what: String| Error::Syntax {
        path: path.to_path_buf(),
        line,
        what,
    };
    let mut set = NetSet::default();
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split('#').next().unwrap_or("").trim()))
        .filter(|(_, l)| !l.is_empty());
    while let Some((n, l)) = lines.next() {
        if let Some((a, m)) = l.split_once('/') {
            let addr: IpAddr = a
                .trim()
                .parse()
                .map_err(|_| err(n, format!("'{a}' is not an IP address")))?;
            let m = m.trim();
            if let Ok(len) = m.parse::<u8>() {
                let max = if addr.is_ipv4() { 32 } else { 128 };
                if len > max {
                    return Err(err(n, format!("prefix length {len} is larger than {max}")));
                }
                set.add(addr, len);
            } else if let (IpAddr::V4(net), Ok(mask)) = (addr, m.parse::<Ipv4Addr>()) {
                set.add_v4_mask(net, mask);
            } else {
                return Err(err(
                    n,
                    format!("'{m}' is neither a prefix length nor a netmask"),
                ));
            }
        } else {
            let net: Ipv4Addr = l.parse().map_err(|_| {
                err(
                    n,
                    format!("'{l}' is not a network (expected a.b.c.d/len or ipv6/len)"),
                )
            })?;
            let (n2, m) = lines
                .next()
                .ok_or_else(|| err(n, format!("network {net} has no netmask line after it")))?;
            let mask: Ipv4Addr = m
                .parse()
                .map_err(|_| err(n2, format!("'{m}' is not a netmask")))?;
            set.add_v4_mask(net, mask);
        }
    }
    Ok(set)
}

/// Which logs are written (Tstat's `[log]` bits).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogSwitches {
    /// `log_tcp_complete`.
    pub tcp_complete: bool,
    /// `log_tcp_nocomplete`.
    pub tcp_nocomplete: bool,
    /// `log_udp_complete`.
    pub udp_complete: bool,
    /// `log_mm_complete`.
    pub mm_complete: bool,
    /// `log_skype_complete` (needs the Bayesian classifier; never written here).
    pub skype_complete: bool,
    /// `log_chat_complete`.
    pub chat_complete: bool,
    /// `log_chat_messages`.
    pub chat_messages: bool,
    /// `log_video_complete`.
    pub video_complete: bool,
    /// `log_http_complete`.
    pub http_complete: bool,
    /// `log_dns_complete`.
    pub dns_complete: bool,
    /// `log_tcp_periodic`.
    pub tcp_periodic: bool,
    /// `log_udp_periodic`.
    pub udp_periodic: bool,
    /// `histo_engine`.
    pub histo_engine: bool,
    /// `rrd_engine`.
    pub rrd_engine: bool,
}

impl Default for LogSwitches {
    /// Tstat's defaults: the first nine logs on, HTTP, DNS and periodic logs off.
    fn default() -> Self {
        LogSwitches {
            tcp_complete: true,
            tcp_nocomplete: true,
            udp_complete: true,
            mm_complete: true,
            skype_complete: true,
            chat_complete: true,
            chat_messages: true,
            video_complete: true,
            http_complete: false,
            dns_complete: false,
            tcp_periodic: false,
            udp_periodic: false,
            histo_engine: true,
            rrd_engine: true,
        }
    }
}

/// The validated content of a runtime configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Runtime {
    /// Which logs are on.
    pub logs: LogSwitches,
    /// TCP column groups.
    pub tcp_level: TcpLevel,
    /// Video log groups (Tstat's `videolog_*` bits).
    pub video_level: VideoLevel,
    /// `httplog_full_url` (0, 1 or 2).
    pub httplog_full_url: u8,
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime {
            logs: LogSwitches::default(),
            tcp_level: TcpLevel::DEFAULT,
            video_level: VideoLevel::DEFAULT,
            httplog_full_url: 0,
        }
    }
}

/// Parses a runtime configuration (`-T`). Keys not mentioned keep their defaults; unknown keys
/// and sections are errors, as in Tstat.
pub fn parse_runtime_conf(path: &Path) -> Result<Runtime, Error> {
    parse_runtime_text(&read(path)?, path, Runtime::default())
}

/// Re-reads a runtime configuration while running: keys not mentioned keep their value in
/// `current`, as in Tstat's reload.
pub fn reload_runtime_conf(path: &Path, current: &Runtime) -> Result<Runtime, Error> {
    parse_runtime_text(&read(path)?, path, current.clone())
}

fn parse_value(v: &str) -> Option<f64> {
    let v = v.trim();
    if v.is_empty() {
        return Some(1.0);
    }
    if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        return i64::from_str_radix(h, 16).ok().map(|x| x as f64);
    }
    v.parse::<f64>().ok()
}

fn parse_runtime_text(text: &str, path: &Path, base: Runtime) -> Result<Runtime, Error> {
    let err = |line: usize, what: String| Error::Syntax {
        path: path.to_path_buf(),
        line,
        what,
    };
    let mut rt = base;
    let mut section = String::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let l = raw.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        if let Some(s) = l.strip_prefix('[') {
            let name = s
                .strip_suffix(']')
                .ok_or_else(|| err(n, format!("'{l}' is not a section header")))?;
            section = name.trim().to_ascii_lowercase();
            if !matches!(section.as_str(), "log" | "options" | "dump") {
                return Err(err(
                    n,
                    format!("unknown section [{name}] (expected [log], [options] or [dump])"),
                ));
            }
            continue;
        }
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        let key = k.trim().to_ascii_lowercase();
        let val =
            parse_value(v).ok_or_else(|| err(n, format!("'{}' is not a number", v.trim())))?;
        if section.is_empty() {
            return Err(err(n, format!("key '{key}' outside of any section")));
        }
        apply_key(&mut rt, &section, &key, val).map_err(|what| err(n, what))?;
    }
    Ok(rt)
}

/// Sets one runtime.conf key of `section` to `val`, as a line `key = val` would.
fn apply_key(rt: &mut Runtime, section: &str, key: &str, val: f64) -> Result<(), String> {
    let on = val != 0.0;
    let lg = &mut rt.logs;
    let bit = |b: u8, on: bool, level: &mut u8| {
        if on {
            *level |= b
        } else {
            *level &= !b
        }
    };
    match (section, key) {
        ("log", "histo_engine") => lg.histo_engine = on,
        ("log", "rrd_engine") => lg.rrd_engine = on,
        ("log", "log_tcp_complete") => lg.tcp_complete = on,
        ("log", "log_tcp_nocomplete") => lg.tcp_nocomplete = on,
        ("log", "log_udp_complete") => lg.udp_complete = on,
        ("log", "log_mm_complete") => lg.mm_complete = on,
        ("log", "log_skype_complete") => lg.skype_complete = on,
        ("log", "log_chat_complete") => lg.chat_complete = on,
        ("log", "log_chat_messages") => lg.chat_messages = on,
        ("log", "log_video_complete") => lg.video_complete = on,
        ("log", "log_http_complete") => lg.http_complete = on,
        ("log", "log_dns_complete") => lg.dns_complete = on,
        ("log", "log_tcp_periodic") => lg.tcp_periodic = on,
        ("log", "log_udp_periodic") => lg.udp_periodic = on,
        ("options", "tcplog_end_to_end") => bit(TcpLevel::END_TO_END, on, &mut rt.tcp_level.0),
        ("options", "tcplog_layer7") => bit(TcpLevel::LAYER7, on, &mut rt.tcp_level.0),
        ("options", "tcplog_p2p") => bit(TcpLevel::P2P, on, &mut rt.tcp_level.0),
        ("options", "tcplog_options") => bit(TcpLevel::OPTIONS, on, &mut rt.tcp_level.0),
        ("options", "tcplog_advanced") => bit(TcpLevel::ADVANCED, on, &mut rt.tcp_level.0),
        ("options", "videolog_end_to_end") => {
            bit(VideoLevel::END_TO_END, on, &mut rt.video_level.0)
        }
        ("options", "videolog_layer7") => bit(VideoLevel::LAYER7, on, &mut rt.video_level.0),
        ("options", "videolog_options") => bit(VideoLevel::OPTIONS, on, &mut rt.video_level.0),
        ("options", "videolog_videoinfo") => bit(VideoLevel::VIDEOINFO, on, &mut rt.video_level.0),
        ("options", "videolog_youtube") => bit(VideoLevel::YOUTUBE, on, &mut rt.video_level.0),
        ("options", "videolog_advanced") => bit(VideoLevel::ADVANCED, on, &mut rt.video_level.0),
        ("options", "httplog_full_url") => {
            if !(0.0..=2.0).contains(&val) {
                return Err(format!("httplog_full_url must be 0, 1 or 2, not {val}"));
            }
            rt.httplog_full_url = val as u8;
        }
        ("dump", k) if DUMP_KEYS.contains(&k) => {}
        (s, k) => return Err(format!("unknown key '{k}' in [{s}]")),
    }
    Ok(())
}

/// Turns a switch of runtime.conf (`log_*` of `[log]`, `histo_engine`, `rrd_engine`,
/// `tcplog_*`/`videolog_*` of `[options]`) on or off, as the mPlane capabilities do.
pub fn set_switch(rt: &mut Runtime, key: &str, on: bool) -> Result<(), String> {
    let val = if on { 1.0 } else { 0.0 };
    let section = if key.starts_with("tcplog_") || key.starts_with("videolog_") {
        "options"
    } else {
        "log"
    };
    apply_key(rt, section, key, val)
}

/// Keys of the `[dump]` section (the packet-dump engine is not part of this product yet; the
/// keys are accepted so Tstat's files load unchanged).
const DUMP_KEYS: &[&str] = &[
    "snap_len",
    "slice_win",
    "udp_dns",
    "udp_rtp",
    "udp_rtcp",
    "udp_edk",
    "udp_kad",
    "udp_kadu",
    "udp_okad",
    "udp_gnutella",
    "udp_bittorrent",
    "udp_utp",
    "udp_dc",
    "udp_kazaa",
    "udp_pplive",
    "udp_sopcast",
    "udp_tvants",
    "udp_ppstream",
    "udp_teredo",
    "udp_vod",
    "udp_sip",
    "udp_dtls",
    "udp_quic",
    "udp_mturn",
    "udp_sye",
    "udp_stun",
    "udp_unknown",
    "tcp_videostreaming",
    "ip_complete",
    "udp_complete",
    "tcp_complete",
    "udp_maxpackets",
    "udp_maxbytes",
    "tcp_maxpackets",
    "tcp_maxbytes",
    "dns_filter",
    "stop_dumping_mask",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_conf_forms() {
        let p = Path::new("net.conf");
        let set = parse_net_text("# comment\n10.0.0.0/8\n192.168.0.0/255.255.0.0\n172.16.0.0\n255.240.0.0\nfc00::/7 # ula\n", p).unwrap();
        assert_eq!(set.len(), (3, 1));
        assert!(set.is_internal(&"172.20.1.1".parse().unwrap()));
        assert!(!set.is_internal(&"172.32.1.1".parse().unwrap()));
        let e = parse_net_text("10.0.0.0/40\n", p).unwrap_err().to_string();
        assert_eq!(e, "net.conf:1: prefix length 40 is larger than 32");
        let e = parse_net_text("\n\nbogus\n", p).unwrap_err().to_string();
        assert!(e.starts_with("net.conf:3: 'bogus' is not a network"), "{e}");
    }

    #[test]
    fn runtime_conf_levels_and_errors() {
        let p = Path::new("runtime.conf");
        let rt = parse_runtime_text("[log]\nlog_http_complete = 1\n[options]\ntcplog_p2p = 0\ntcplog_options\nhttplog_full_url = 2\n[dump]\nsnap_len = 0\n", p, Runtime::default()).unwrap();
        assert!(rt.logs.http_complete);
        assert_eq!(rt.tcp_level, TcpLevel(11));
        assert_eq!(rt.httplog_full_url, 2);
        let e = parse_runtime_text("[log]\nlog_foo = 1\n", p, Runtime::default())
            .unwrap_err()
            .to_string();
        assert_eq!(e, "runtime.conf:2: unknown key 'log_foo' in [log]");
        assert!(parse_runtime_text("[globals]\n", p, Runtime::default()).is_err());
    }

    #[test]
    fn shipped_conf_files_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf");
        parse_net_conf(&dir.join("net.conf")).unwrap();
        parse_runtime_conf(&dir.join("runtime.conf")).unwrap();
    }
}
