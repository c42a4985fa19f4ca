//! `log_dns_complete` rows (Tstat's `log_dns.c` over LDNS): one per question of a query, one per
//! answer RR of a response, one `RESP_ERR` row for a response with a non-zero RCODE.
//!
//! The client is the querier: a response sent by the flow's client, or a query sent by its
//! server ("spurious" packets), swaps the two endpoints. Queries and error responses print the
//! question name as Tstat rebuilds it from the wire (label bytes raw, lengths turned into dots,
//! `-` for the root) with Tstat's own class/type names; answers print LDNS's `ldns_rr2str`
//! text, its first four TABs turned into spaces and the spaces of the RDATA into TABs.

use super::endpoint;
use super::num::F6;
use crate::cryptopan::Anonymizer;
use engine::l7::udp::ldns::{self, Message, Rr};
use engine::record::MessageRecord;
use std::io::Write as _;

/// Tstat's `MAX_STR_DNS`.
const MAX_STR_DNS: usize = 4096;

/// Appends the rows of one DNS message (none if it does not parse).
pub fn rows(out: &mut Vec<u8>, m: &MessageRecord, mut anon: Option<&mut Anonymizer>) {
    let bytes = m.bytes.as_bytes();
    let n = bytes.len().min(m.len as usize);
    let Some(msg) = ldns::parse(&bytes[..n]) else {
        return;
    };
    let (c_ip, c_crypto) = endpoint(&mut anon, m.c_ip);
    let (s_ip, s_crypto) = endpoint(&mut anon, m.s_ip);
    let mut client = (c_ip, m.c_port, m.c_isint, c_crypto);
    let mut server = (s_ip, m.s_port, m.s_isint, s_crypto);
    if (msg.qr && m.dir == 0) || (!msg.qr && m.dir != 0) {
        std::mem::swap(&mut client, &mut server);
    }
    let mut prefix = Vec::with_capacity(128);
    let _ = write!(
        prefix,
        "{} {} {} {} {} {} {} {} {}",
        client.0,
        client.1,
        u8::from(client.2),
        u8::from(client.3),
        server.0,
        server.1,
        u8::from(server.2),
        u8::from(server.3),
        F6(m.time.epoch_ms())
    );
    let tail = tail(&msg, m.len);
    if msg.qr && msg.rcode != 0 {
        out.extend_from_slice(&prefix);
        let _ = write!(out, " RESP_ERR 0x{:04x} ", msg.id);
        match msg.questions.first() {
            Some(q) => {
                question(out, q);
                let _ = write!(
                    out,
                    " - {} {} {}",
                    tstat_class(q.class),
                    tstat_type(q.rtype),
                    rcode_name(msg.rcode)
                );
            }
            None => {
                let _ = write!(out, "- - - - {}", rcode_name(msg.rcode));
            }
        }
        out.extend_from_slice(tail.as_bytes());
    } else if msg.qr {
        for a in &msg.answers {
            out.extend_from_slice(&prefix);
            let _ = write!(out, " RESP 0x{:04x} ", msg.id);
            out.extend_from_slice(answer_text(a).as_bytes());
            out.extend_from_slice(tail.as_bytes());
        }
    } else {
        for q in &msg.questions {
            out.extend_from_slice(&prefix);
            let _ = write!(out, " REQ 0x{:04x} ", msg.id);
            question(out, q);
            let _ = write!(out, " - {} {} -", tstat_class(q.class), tstat_type(q.rtype));
            out.extend_from_slice(tail.as_bytes());
        }
    }
}

/// The common end of a row: flags, the four counts, the message size, newline.
fn tail(msg: &Message, size: u32) -> String {
    let [qd, an, ns, ar] = msg.counts;
    format!(" 0x{:02x} {qd} {an} {ns} {ar} {size}\n", msg.flags())
}

/// The question name as Tstat prints it: the wire form with each length byte turned into a dot
/// (the first one dropped), cut at a NUL inside a label; `-` for the root.
fn question(out: &mut Vec<u8>, q: &Rr) {
    let mut s: Vec<u8> = q.owner.iter().take(MAX_STR_DNS).copied().collect();
    let mut i = 0usize;
    while i < s.len() {
        let l = usize::from(s[i]);
        s[i] = b'.';
        i += l + 1;
    }
    let text = &s[1.min(s.len())..];
    let text = match text.iter().position(|&b| b == 0) {
        Some(p) => &text[..p],
        None => text,
    };
    if text.is_empty() {
        out.push(b'-');
    } else {
        out.extend_from_slice(text);
    }
}

/// An answer RR as Tstat prints `ldns_rr2str`: owner, TTL, class and type separated by spaces,
/// then the RDATA with its spaces turned into TABs (at most `MAX_STR_DNS - 1` bytes in all).
fn answer_text(r: &Rr) -> String {
    let mut s = ldns::rr_text(r);
    s.push('\n');
    if s.len() > MAX_STR_DNS {
        let mut cut = MAX_STR_DNS;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s.pop();
    let mut tabs = 0;
    let mut last = 0;
    let mut b = s.into_bytes();
    for (i, c) in b.iter_mut().enumerate() {
        if *c == b'\t' && tabs < 4 {
            *c = b' ';
            tabs += 1;
            last = i;
        }
    }
    let start = if tabs > 0 { last + 1 } else { 0 };
    for c in b.iter_mut().skip(start) {
        if *c == b' ' {
            *c = b'\t';
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// Tstat's `rr_class2str`.
fn tstat_class(c: u16) -> &'static str {
    match c {
        1 => "IN",
        3 => "CH",
        4 => "HS",
        254 => "NONE",
        255 => "ANY",
        _ => "OTHER",
    }
}

/// Tstat's `rr_type2str`.
fn tstat_type(t: u16) -> &'static str {
    match t {
        1 => "A",
        28 => "AAAA",
        5 => "CNAME",
        12 => "PTR",
        6 => "SOA",
        2 => "NS",
        15 => "MX",
        16 => "TXT",
        13 => "HINFO",
        44 => "SSHFP",
        27 => "GPOS",
        29 => "LOC",
        48 => "DNSKEY",
        51 => "NSEC3PARAM",
        50 => "NSEC3",
        47 => "NSEC",
        46 => "RRSIG",
        43 => "DS",
        39 => "DNAME",
        35 => "NAPTR",
        17 => "RP",
        33 => "SRV",
        99 => "SPF",
        32 => "NB",
        _ => "OTHER",
    }
}

/// Tstat's `pkt_rcode2str`.
fn rcode_name(r: u8) -> &'static str {
    match r {
        0 => "NO_ERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMPL",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => "UNKNOWN-ERROR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::record::InlineStr;
    use engine::time::Timestamp;
    use std::net::{IpAddr, Ipv4Addr};

    fn record(dir: u8, p: &[u8]) -> MessageRecord {
        MessageRecord {
            c_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            c_port: 40000,
            s_ip: IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)),
            s_port: 53,
            c_isint: true,
            s_isint: false,
            time: Timestamp::from_sec_usec(1_300_000_000, 500),
            dir,
            kind: 0,
            len: p.len() as u32,
            bytes: InlineStr::new(p),
            fqdn: Default::default(),
        }
    }

    fn text(dir: u8, p: &[u8]) -> String {
        let mut out = Vec::new();
        rows(&mut out, &record(dir, p), None);
        String::from_utf8(out).unwrap()
    }

    const NAME: &[u8] = b"\x07example\x03org\x00";

    fn header(id: u16, flags: [u8; 2], counts: [u16; 4]) -> Vec<u8> {
        let mut v = id.to_be_bytes().to_vec();
        v.extend_from_slice(&flags);
        for c in counts {
            v.extend_from_slice(&c.to_be_bytes());
        }
        v
    }

    fn question_bytes(t: u16) -> Vec<u8> {
        let mut v = NAME.to_vec();
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(&[0, 1]);
        v
    }

    /// An answer RR owned by the question name (compressed pointer to offset 12).
    fn answer(t: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
        let mut v = vec![0xc0, 0x0c];
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(&[0, 1]);
        v.extend_from_slice(&ttl.to_be_bytes());
        v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        v.extend_from_slice(rdata);
        v
    }

    fn response(rcode: u8, answers: &[Vec<u8>]) -> Vec<u8> {
        let mut v = header(
            0xbeef,
            [0x81, 0x80 | rcode],
            [1, answers.len() as u16, 0, 0],
        );
        v.extend_from_slice(&question_bytes(1));
        for a in answers {
            v.extend_from_slice(a);
        }
        v
    }

    const PREFIX: &str = "10.0.0.1 40000 1 0 8.8.8.8 53 0 0 1300000000000.500000";

    #[test]
    fn query_row() {
        let mut p = header(0x0abc, [0x01, 0x20], [1, 0, 0, 1]);
        p.extend_from_slice(&question_bytes(28));
        // EDNS OPT: not counted in arcount.
        p.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        let t = text(0, &p);
        assert_eq!(
            t,
            format!(
                "{PREFIX} REQ 0x0abc example.org. - IN AAAA - 0x0a 1 0 0 0 {}\n",
                p.len()
            )
        );
        // Sent by the server: spurious, endpoints swapped.
        assert!(text(1, &p).starts_with("8.8.8.8 53 0 0 10.0.0.1 40000 1 0 "));
        // Unknown type 65 is OTHER for Tstat, NetBIOS 32 is NB.
        let mut p = header(1, [0, 0], [1, 0, 0, 0]);
        p.extend_from_slice(&question_bytes(65));
        assert!(text(0, &p).contains(" example.org. - IN OTHER - 0x00 "));
    }

    #[test]
    fn answer_rows() {
        let cname = b"\x03www\xc0\x0c";
        let p = response(
            0,
            &[
                answer(5, 300, cname),
                answer(1, 60, &[1, 2, 3, 4]),
                answer(
                    28,
                    60,
                    &[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                ),
                answer(15, 60, b"\x00\x0a\x02mx\xc0\x0c"),
                answer(16, 60, b"\x0bhello world\x03a\"b"),
                answer(
                    6,
                    60,
                    &[
                        b"\x02ns\xc0\x0c\x05admin\xc0\x0c".as_slice(),
                        &[
                            0, 0, 0, 7, 0, 0, 0x0e, 0x10, 0, 0, 0, 60, 0, 1, 0, 0, 0, 0, 1, 0,
                        ],
                    ]
                    .concat(),
                ),
                answer(999, 60, &[0xab, 0xcd]),
            ],
        );
        let t = text(1, &p);
        let lines: Vec<&str> = t.lines().collect();
        let tail = format!(" 0x0c 1 7 0 0 {}", p.len());
        let want = [
            "example.org. 300 IN CNAME www.example.org.",
            "example.org. 60 IN A 1.2.3.4",
            "example.org. 60 IN AAAA 2001:db8::1",
            "example.org. 60 IN MX 10\tmx.example.org.",
            "example.org. 60 IN TXT \"hello\tworld\"\t\"a\\\"b\"",
            "example.org. 60 IN SOA ns.example.org.\tadmin.example.org.\t7\t3600\t60\t65536\t256",
            "example.org. 60 IN TYPE999 \\#\t2\tabcd",
        ];
        assert_eq!(lines.len(), want.len());
        for (l, w) in lines.iter().zip(want) {
            assert_eq!(*l, format!("{PREFIX} RESP 0xbeef {w}{tail}"));
        }
        // Sent by the client: spurious, swapped.
        assert!(text(0, &p).starts_with("8.8.8.8 53 0 0 10.0.0.1 40000 1 0 "));
    }

    #[test]
    fn error_response() {
        let p = response(3, &[]);
        assert_eq!(
            text(1, &p),
            format!(
                "{PREFIX} RESP_ERR 0xbeef example.org. - IN A NXDOMAIN 0x0c 1 0 0 0 {}\n",
                p.len()
            )
        );
        let mut p = header(7, [0x80, 0x02], [0, 0, 0, 0]);
        p.truncate(12);
        assert!(text(1, &p).contains(" RESP_ERR 0x0007 - - - - SERVFAIL 0x00 0 0 0 0 12\n"));
    }

    #[test]
    fn garbage_gives_nothing() {
        let p = response(0, &[answer(1, 60, &[1, 2, 3, 4])]);
        for n in 0..p.len() {
            assert_eq!(text(1, &p[..n]), "", "{n}");
        }
        assert_eq!(text(1, b"GET / HTTP/1.1\r\n\r\n"), "");
        // A record whose RDATA is too short.
        assert_eq!(text(1, &response(0, &[answer(1, 60, &[1, 2, 3])])), "");
    }
}
