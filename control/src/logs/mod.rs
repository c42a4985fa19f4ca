//! Tstat's log formats: header lines and rows of every log, column for column.
//!
//! Owns the text layout (`%f` of millisecond doubles computed as Tstat computes them, `-` for
//! missing strings, Tstat's `sum/(n+0.0001)` averages) of `log_tcp_complete`,
//! `log_tcp_nocomplete` and `log_udp_complete` (and, in `video`, of `log_video_complete`, made
//! of the same TCP column groups), and the header lines of every other log.
//! Does not own files or directories (see `output`).

pub mod columns;
pub mod dns;
pub mod http;
pub mod num;
pub mod periodic;
pub mod video;

use num::F6;

use crate::cryptopan::Anonymizer;
use engine::record::{DnsInfo, InlineStr, TcpDirRecord, TcpRecord, UdpDirRecord, UdpRecord};
use engine::tcp::{average, stdev};
use engine::time::Timestamp;
use std::io::Write;
use std::net::IpAddr;

/// The active TCP column groups: Tstat's log-level bitmask (`#NN#` in the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TcpLevel(pub u8);

impl TcpLevel {
    /// End_to_end (RTT/TTL) group.
    pub const END_TO_END: u8 = 1;
    /// Layer7 group.
    pub const LAYER7: u8 = 2;
    /// P2P group.
    pub const P2P: u8 = 4;
    /// Options group.
    pub const OPTIONS: u8 = 8;
    /// Advanced group (no columns in the default build).
    pub const ADVANCED: u8 = 16;
    /// Tstat's level without `-T`: every group but Advanced (`#15#`).
    pub const DEFAULT: TcpLevel = TcpLevel(15);

    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// The header line of `log_tcp_complete` (`complete`) or `log_tcp_nocomplete`, with newline.
pub fn tcp_header(level: TcpLevel, complete: bool) -> String {
    let mut groups: Vec<&[&str]> = vec![columns::CORE];
    if complete {
        if level.has(TcpLevel::END_TO_END) {
            groups.push(columns::END_TO_END);
        }
        if level.has(TcpLevel::P2P) {
            groups.push(columns::P2P);
        }
        if level.has(TcpLevel::OPTIONS) {
            groups.push(columns::OPTIONS);
        }
        if level.has(TcpLevel::LAYER7) {
            groups.push(columns::LAYER7);
        }
    }
    header_line(level.0, &groups)
}

/// A header line: Tstat's `#NN#` magic (the level bitmask) and `name:index` for every column
/// of `groups`, with newline.
fn header_line(level: u8, groups: &[&[&str]]) -> String {
    let mut s = format!("#{level:02}#");
    let mut n = 0;
    for name in groups.iter().flat_map(|g| g.iter()) {
        n += 1;
        if n > 1 {
            s.push(' ');
        }
        let _ = std::fmt::Write::write_fmt(&mut s, format_args!("{name}:{n}"));
    }
    s.push('\n');
    s
}

/// Header lines of the logs whose layout does not depend on the TCP level (verbatim Tstat).
pub fn static_header(log: &str) -> Option<&'static str> {
    Some(match log {
        "log_udp_complete" => include_str!("headers/log_udp_complete.header"),
        "log_mm_complete" => include_str!("headers/log_mm_complete.header"),
        "log_chat_complete" => include_str!("headers/log_chat_complete.header"),
        "log_chat_messages" => include_str!("headers/log_chat_messages.header"),
        "log_http_complete" => include_str!("headers/log_http_complete.header"),
        "log_dns_complete" => include_str!("headers/log_dns_complete.header"),
        "log_tcp_periodic" => include_str!("headers/log_tcp_periodic.header"),
        "log_udp_periodic" => include_str!("headers/log_udp_periodic.header"),
        _ => return None,
    })
}

/// Tstat's `elapsed(first, t) / 1000.0`: milliseconds, 0 for "never" or negative intervals.
#[inline]
fn rel_ms(first: Timestamp, t: Timestamp) -> f64 {
    Timestamp::elapsed_ms(first, t)
}

fn core_dir(s: &mut Vec<u8>, d: &TcpDirRecord) {
    let _ = write!(
        s,
        " {} {} {} {} {} {} {} {} {} {} {} {}",
        d.packets,
        d.rst_cnt,
        d.ack_cnt,
        d.ack_cnt_p,
        d.bytes_uniq,
        d.pkts_data,
        d.bytes_all,
        d.pkts_retx,
        d.bytes_retx,
        d.pkts_ooo,
        d.syn_cnt,
        d.fin_cnt
    );
}

fn e2e_dir(s: &mut Vec<u8>, d: &TcpDirRecord) {
    let _ = write!(
        s,
        " {} {} {} {} {} {} {}",
        F6(average(d.rtt_sum, d.rtt_cnt) / 1000.0),
        F6(d.rtt_min_us as f64 / 1000.0),
        F6(d.rtt_max_us as f64 / 1000.0),
        F6(stdev(d.rtt_sum, d.rtt_sum2, d.rtt_cnt) / 1000.0),
        d.rtt_cnt,
        d.ttl_min,
        d.ttl_max
    );
}

fn options_dir(s: &mut Vec<u8>, d: &TcpDirRecord) {
    let _ = write!(
        s,
        " {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {}",
        u8::from(d.f1323_ws),
        u8::from(d.f1323_ts),
        d.win_scl,
        u8::from(d.sack_req),
        d.sack_cnt,
        d.mss,
        d.mss_max,
        d.mss_min,
        d.win_max,
        d.win_min,
        d.win_0,
        d.cwin_max,
        d.cwin_min,
        d.cwin_ini,
        d.pkts_rto,
        d.pkts_fs,
        d.pkts_reor,
        d.pkts_dup,
        d.pkts_unk,
        d.pkts_fc,
        d.pkts_unrto,
        d.pkts_unfs,
        u8::from(d.syn_retx)
    );
}

/// The address printed for `ip` and its `iscrypto` flag: Crypto-PAn for the `-Y` networks
/// when anonymisation is on, the address itself otherwise.
fn endpoint(anon: &mut Option<&mut Anonymizer>, ip: IpAddr) -> (IpAddr, bool) {
    match anon {
        Some(a) => a.printed(ip),
        None => (ip, false),
    }
}

/// Appends one `log_tcp_complete` row (all groups of `level`) or `log_tcp_nocomplete` row
/// (core only) for `r`, newline included, without address anonymisation.
pub fn tcp_row(s: &mut Vec<u8>, r: &TcpRecord, level: TcpLevel, complete: bool) {
    tcp_row_with(s, r, level, complete, None);
}

/// [`tcp_row`] with Tstat's address anonymisation (`-Y`): endpoints and the DNS server in the
/// `-Y` networks are printed as their Crypto-PAn addresses, and `c_iscrypto`, `s_iscrypto` and
/// `dns_enc` say which were.
pub fn tcp_row_with(
    s: &mut Vec<u8>,
    r: &TcpRecord,
    level: TcpLevel,
    complete: bool,
    mut anon: Option<&mut Anonymizer>,
) {
    core_group(s, r, &mut anon);
    if complete {
        if level.has(TcpLevel::END_TO_END) {
            e2e_group(s, r);
        }
        if level.has(TcpLevel::P2P) {
            let l7 = &r.l7;
            let e = &l7.ed2k;
            let _ = write!(
                s,
                " {} {} {} {} {} {}",
                l7.p2p_type % 100,
                e[0],
                e[1],
                e[2],
                e[3],
                e[4]
            );
        }
        if level.has(TcpLevel::OPTIONS) {
            options_group(s, r);
        }
        if level.has(TcpLevel::LAYER7) {
            layer7_group(s, r, &mut anon);
        }
    }
    s.push(b'\n');
}

/// The Core group (Tstat's `print_tcp_stats_core`), first column without a leading space.
fn core_group(s: &mut Vec<u8>, r: &TcpRecord, anon: &mut Option<&mut Anonymizer>) {
    let [c, sv] = &r.dirs;
    let (c_ip, c_crypto) = endpoint(anon, r.c_ip);
    let (s_ip, s_crypto) = endpoint(anon, r.s_ip);
    let _ = write!(s, "{} {}", c_ip, r.c_port);
    core_dir(s, c);
    let _ = write!(s, " {} {}", s_ip, r.s_port);
    core_dir(s, sv);
    let f = r.first;
    let l7 = &r.l7;
    let http = l7.con_t & CON_HTTP != 0;
    let _ = write!(
        s,
        " {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {}",
        F6(f.epoch_ms()),
        F6(r.last.epoch_ms()),
        F6(rel_ms(f, r.last)),
        F6(rel_ms(f, c.payload_start)),
        F6(rel_ms(f, sv.payload_start)),
        F6(rel_ms(f, c.payload_end)),
        F6(rel_ms(f, sv.payload_end)),
        F6(rel_ms(f, c.ack_start)),
        F6(rel_ms(f, sv.ack_start)),
        u8::from(r.c_isint),
        u8::from(r.s_isint),
        u8::from(c_crypto),
        u8::from(s_crypto),
        l7.con_t,
        l7.p2p_type / 100,
        if http { u32::from(l7.http_data) + 1 } else { 0 }
    );
}

/// The End_to_end group (`print_tcp_stats_e2e`).
fn e2e_group(s: &mut Vec<u8>, r: &TcpRecord) {
    e2e_dir(s, &r.dirs[0]);
    e2e_dir(s, &r.dirs[1]);
}

/// The Options group (`print_tcp_stats_options`).
fn options_group(s: &mut Vec<u8>, r: &TcpRecord) {
    options_dir(s, &r.dirs[0]);
    options_dir(s, &r.dirs[1]);
}

/// The Layer7 group (`print_tcp_stats_layer7`).
fn layer7_group(s: &mut Vec<u8>, r: &TcpRecord, anon: &mut Option<&mut Anonymizer>) {
    let [c, sv] = &r.dirs;
    let f = r.first;
    let l7 = &r.l7;
    let http = l7.con_t & CON_HTTP != 0;
    let _ = write!(s, " {} {} ", l7.http_req_cnt, l7.http_res_cnt);
    if http {
        // Tstat prints the code as a C string: a code cut at a non-digit is shorter.
        let n = l7.http_res.iter().position(|&c| c == 0).unwrap_or(3);
        s.extend_from_slice(&l7.http_res[..n]);
    } else {
        s.extend_from_slice(b"---");
    }
    let _ = write!(s, " {} {}", c.pkts_push, sv.pkts_push);
    text(s, &l7.tls_sni);
    text(s, &l7.tls_scn);
    let ssl = l7.con_t & CON_SSL != 0;
    let hs = |t| if ssl { rel_ms(f, t) } else { 0.0 };
    let _ = write!(
        s,
        " {} {} {} {} {} {} {} {} {}",
        l7.npnalpn[0],
        l7.npnalpn[1],
        l7.tls_session_stat,
        F6(hs(l7.last_handshake[0])),
        F6(hs(l7.last_handshake[1])),
        F6(rel_ms(f, l7.appdata_time[0])),
        F6(rel_ms(f, l7.appdata_time[1])),
        l7.appdata_bytes[0],
        l7.appdata_bytes[1]
    );
    let dns_enc = dns_columns(s, &r.dns, true, anon);
    text(s, &l7.http_hostname);
    text(s, &l7.tls_vers[0]);
    text(s, &l7.tls_vers[1]);
    let _ = write!(s, " {}", u8::from(dns_enc));
}

/// `con_t` bit of HTTP.
pub const CON_HTTP: u32 = 1;
/// `con_t` bit of SSL/TLS.
pub const CON_SSL: u32 = 8192;

/// Appends ` <bytes>`, or ` -` when empty.
fn text<const N: usize>(s: &mut Vec<u8>, v: &InlineStr<N>) {
    s.push(b' ');
    if v.is_empty() {
        s.push(b'-');
    } else {
        s.extend_from_slice(v.as_bytes());
    }
}

/// DN-Hunter columns: `fqdn` (and for TCP `dns_rslv req_tm res_tm`), Tstat's `- - 0.0 0.0`
/// when the flow's client resolved nothing. Returns whether the printed DNS server address
/// is a Crypto-PAn one (`dns_enc`).
fn dns_columns(
    s: &mut Vec<u8>,
    d: &DnsInfo,
    full: bool,
    anon: &mut Option<&mut Anonymizer>,
) -> bool {
    let mut enc = false;
    match (d.fqdn.is_empty(), full) {
        (true, true) => s.extend_from_slice(b" - - 0.0 0.0"),
        (true, false) => s.extend_from_slice(b" -"),
        (false, _) => {
            text(s, &d.fqdn);
            if full {
                match d.server {
                    Some(a) => {
                        let (a, crypto) = endpoint(anon, a);
                        enc = crypto;
                        let _ = write!(s, " {a}");
                    }
                    None => s.extend_from_slice(b" -"),
                }
                let _ = write!(s, " {} {}", F6(d.req.epoch_ms()), F6(d.res.epoch_ms()));
            }
        }
    }
    enc
}

fn udp_dir(s: &mut Vec<u8>, d: &UdpDirRecord) {
    let _ = write!(
        s,
        " {} {} {} {}",
        F6(d.first.epoch_ms()),
        F6(Timestamp::elapsed_us(d.first, d.last) / 1e6),
        d.bytes,
        d.packets
    );
}

/// Appends one `log_udp_complete` row, newline included, without address anonymisation.
pub fn udp_row(s: &mut Vec<u8>, r: &UdpRecord) {
    udp_row_with(s, r, None);
}

/// [`udp_row`] with Tstat's address anonymisation (`-Y`, see [`tcp_row_with`]).
pub fn udp_row_with(s: &mut Vec<u8>, r: &UdpRecord, mut anon: Option<&mut Anonymizer>) {
    let [c, sv] = &r.dirs;
    let l7 = &r.l7;
    let (c_ip, c_crypto) = endpoint(&mut anon, r.c_ip);
    let (s_ip, s_crypto) = endpoint(&mut anon, r.s_ip);
    let _ = write!(s, "{} {}", c_ip, r.c_port);
    udp_dir(s, c);
    let _ = write!(
        s,
        " {} {} {} {} {}",
        u8::from(r.c_isint),
        u8::from(c_crypto),
        l7.types[0],
        s_ip,
        r.s_port
    );
    udp_dir(s, sv);
    let _ = write!(
        s,
        " {} {} {}",
        u8::from(r.s_isint),
        u8::from(s_crypto),
        l7.types[1]
    );
    dns_columns(s, &r.dns, false, &mut anon);
    text(s, &l7.quic_sni);
    text(s, &l7.quic_ua);
    for v in l7.quic_vers {
        match v {
            Some(v) => {
                let _ = write!(s, " 0x{v:08x}");
            }
            None => s.extend_from_slice(b" -"),
        }
    }
    let _ = write!(s, " {} {}", l7.quic_zero_rtt, l7.quic_ech);
    s.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_headers_match_tstat() {
        let reference = include_str!("headers/log_tcp_complete.header");
        assert_eq!(tcp_header(TcpLevel::DEFAULT, true), reference);
        let nocomplete = tcp_header(TcpLevel::DEFAULT, false);
        assert!(nocomplete.starts_with("#15#c_ip:1 "));
        assert!(nocomplete.trim_end().ends_with("http_t:44"));
        assert!(tcp_header(TcpLevel(0), true).starts_with("#00#"));
    }

    #[test]
    fn epoch_ms_noise_matches_c_double_arithmetic() {
        // From zeek__http-vlan-0: first packet 1362692526.869344.
        let t = Timestamp::from_sec_usec(1_362_692_526, 869_344);
        assert_eq!(format!("{:.6}", t.epoch_ms()), "1362692526869.343994");
    }

    fn sample_tcp() -> TcpRecord {
        TcpRecord {
            c_ip: "10.0.0.1".parse().unwrap(),
            c_port: 40000,
            s_ip: "192.0.2.7".parse().unwrap(),
            s_port: 80,
            c_isint: true,
            s_isint: false,
            first: Timestamp::from_sec_usec(1_362_692_526, 869_344),
            last: Timestamp::from_sec_usec(1_362_692_527, 0),
            complete: true,
            dirs: Default::default(),
            l7: Default::default(),
            dns: DnsInfo {
                fqdn: InlineStr::new(b"example.org"),
                server: Some("10.0.0.53".parse().unwrap()),
                req: Timestamp::from_sec_usec(1_362_692_526, 0),
                res: Timestamp::from_sec_usec(1_362_692_526, 500),
            },
            rates: Default::default(),
        }
    }

    fn cells(row: &[u8]) -> std::collections::HashMap<String, String> {
        let header = tcp_header(TcpLevel::DEFAULT, true);
        let names = header[4..]
            .split_whitespace()
            .map(|c| c.split(':').next().unwrap().to_string());
        let row = String::from_utf8(row.to_vec()).unwrap();
        let values: Vec<String> = row.split_whitespace().map(str::to_string).collect();
        let names: Vec<String> = names.collect();
        assert_eq!(names.len(), values.len());
        names.into_iter().zip(values).collect()
    }

    #[test]
    fn anonymised_tcp_row() {
        let r = sample_tcp();
        let mut plain = Vec::new();
        tcp_row(&mut plain, &r, TcpLevel::DEFAULT, true);
        let mut none = Vec::new();
        tcp_row_with(&mut none, &r, TcpLevel::DEFAULT, true, None);
        assert_eq!(plain, none);
        let p = cells(&plain);
        assert_eq!(p["c_ip"], "10.0.0.1");
        assert_eq!(
            (p["c_iscrypto"].as_str(), p["s_iscrypto"].as_str()),
            ("0", "0")
        );
        assert_eq!(
            (p["dns_rslv"].as_str(), p["dns_enc"].as_str()),
            ("10.0.0.53", "0")
        );

        let mut nets = engine::net::NetSet::default();
        nets.add("10.0.0.0".parse().unwrap(), 8);
        let conf = crate::cryptopan::CryptoConfig {
            nets,
            white: Default::default(),
            key: *b"0123456789abcdef0123456789abcdef",
        };
        let pan = crate::cryptopan::CryptoPan::new(&conf.key);
        let mut anon = Anonymizer::new(&conf);
        let mut row = Vec::new();
        tcp_row_with(&mut row, &r, TcpLevel::DEFAULT, true, Some(&mut anon));
        let a = cells(&row);
        assert_eq!(a["c_ip"], pan.anonymize(r.c_ip).to_string());
        assert_eq!(a["s_ip"], "192.0.2.7");
        assert_eq!(
            (a["c_iscrypto"].as_str(), a["s_iscrypto"].as_str()),
            ("1", "0")
        );
        let rslv = pan.anonymize("10.0.0.53".parse().unwrap()).to_string();
        assert_eq!(
            (a["dns_rslv"].as_str(), a["dns_enc"].as_str()),
            (rslv.as_str(), "1")
        );
        // Everything else is as without anonymisation.
        for (k, v) in &p {
            if !["c_ip", "c_iscrypto", "dns_rslv", "dns_enc"].contains(&k.as_str()) {
                assert_eq!(&a[k], v, "{k}");
            }
        }
    }

    #[test]
    fn tstat_average_rule() {
        // Six samples of 10 ms print as 9.999833, not 10.
        assert_eq!(format!("{:.6}", average(60_000.0, 6) / 1000.0), "9.999833");
    }
}
