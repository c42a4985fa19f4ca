//! A DNS message parser that accepts and rejects exactly what LDNS's `ldns_wire2pkt` does (as
//! far as the RR types it models go), and LDNS's text presentation of RRs (`ldns_rr2str`).
//!
//! Used twice: by the UDP classifier (with `log_dns_complete`, any datagram LDNS parses types an
//! unknown direction as DNS and is logged) and by the `log_dns_complete` writer (rows).
//!
//! LDNS behaviour reproduced:
//! - header of 12 bytes, then `qdcount` questions, `ancount` answers, `nscount` authority and
//!   `arcount` additional RRs, all of which must parse (trailing bytes are ignored);
//! - names: compression pointers (non-zero, inside the message, at most 65535 followed), labels
//!   of at most 63 bytes, names of at most 255 bytes;
//! - RDATA split into typed fields per the type's descriptor; the fields are read while bytes of
//!   the RDATA remain and the descriptor has fields left (a name may run past the RDATA; the next
//!   RR starts where the fields ended, as in LDNS);
//! - each EDNS OPT RR of the additional section is taken out of it and `arcount` decremented.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

/// `LDNS_MAX_DOMAINLEN`.
const MAX_DOMAINLEN: usize = 255;
/// `LDNS_MAX_LABELLEN`.
const MAX_LABELLEN: u8 = 63;
/// `LDNS_MAX_POINTERS`.
const MAX_POINTERS: u32 = 65535;

/// RR type OPT.
const TYPE_OPT: u16 = 41;

/// One typed RDATA field (an LDNS `rdf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rdf {
    /// A domain name, uncompressed wire form (labels and the final zero byte).
    Dname(Vec<u8>),
    /// IPv4 address.
    A([u8; 4]),
    /// IPv6 address.
    Aaaa([u8; 16]),
    /// 16-bit integer.
    Int16(u16),
    /// 32-bit integer (also LDNS's `PERIOD`).
    Int32(u32),
    /// Character string, length byte included.
    Str(Vec<u8>),
    /// Opaque rest of the RDATA.
    Unknown(Vec<u8>),
}

/// One resource record (or question).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rr {
    /// Owner name, uncompressed wire form.
    pub owner: Vec<u8>,
    /// RR type.
    pub rtype: u16,
    /// RR class.
    pub class: u16,
    /// TTL (0 for questions).
    pub ttl: u32,
    /// RDATA fields (none for questions).
    pub rdata: Vec<Rdf>,
}

/// A parsed DNS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Transaction ID.
    pub id: u16,
    /// QR bit: a response.
    pub qr: bool,
    /// AA, TC, RD, RA, AD, CD bits.
    pub aa: bool,
    /// Truncated.
    pub tc: bool,
    /// Recursion desired.
    pub rd: bool,
    /// Recursion available.
    pub ra: bool,
    /// Authentic data.
    pub ad: bool,
    /// Checking disabled.
    pub cd: bool,
    /// The 4-bit RCODE.
    pub rcode: u8,
    /// Header counts (`arcount` less the OPT RRs, as LDNS reports it).
    pub counts: [u16; 4],
    /// Question section.
    pub questions: Vec<Rr>,
    /// Answer section.
    pub answers: Vec<Rr>,
}

impl Message {
    /// Tstat's flags bitmap: AA=32, TC=16, RD=8, RA=4, AD=2, CD=1.
    pub fn flags(&self) -> u8 {
        (u8::from(self.aa) << 5)
            | (u8::from(self.tc) << 4)
            | (u8::from(self.rd) << 3)
            | (u8::from(self.ra) << 2)
            | (u8::from(self.ad) << 1)
            | u8::from(self.cd)
    }
}

/// Whether LDNS parses `wire` as a DNS message.
pub fn parses(wire: &[u8]) -> bool {
    parse(wire).is_some()
}

/// Parses `wire` as `ldns_wire2pkt` does; `None` where LDNS returns an error.
pub fn parse(wire: &[u8]) -> Option<Message> {
    if wire.len() < 12 {
        return None;
    }
    let u16at = |i: usize| u16::from_be_bytes([wire[i], wire[i + 1]]);
    let (b2, b3) = (wire[2], wire[3]);
    let mut m = Message {
        id: u16at(0),
        qr: b2 & 0x80 != 0,
        aa: b2 & 0x04 != 0,
        tc: b2 & 0x02 != 0,
        rd: b2 & 0x01 != 0,
        ra: b3 & 0x80 != 0,
        ad: b3 & 0x20 != 0,
        cd: b3 & 0x10 != 0,
        rcode: b3 & 0x0f,
        counts: [u16at(4), u16at(6), u16at(8), u16at(10)],
        questions: Vec::new(),
        answers: Vec::new(),
    };
    let mut pos = 12;
    for _ in 0..m.counts[0] {
        m.questions.push(rr(wire, &mut pos, true)?);
    }
    for _ in 0..m.counts[1] {
        m.answers.push(rr(wire, &mut pos, false)?);
    }
    for _ in 0..m.counts[2] {
        rr(wire, &mut pos, false)?;
    }
    let mut opts = 0u16;
    for _ in 0..m.counts[3] {
        if rr(wire, &mut pos, false)?.rtype == TYPE_OPT {
            opts += 1;
        }
    }
    m.counts[3] = m.counts[3].wrapping_sub(opts);
    Some(m)
}

/// `ldns_wire2dname`.
fn dname(wire: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
    let max = wire.len();
    if *pos >= max {
        return None;
    }
    let mut out = Vec::with_capacity(32);
    let mut compression_pos = 0usize;
    let mut pointers = 0u32;
    let mut label = wire[*pos];
    while label > 0 {
        while label >= 192 {
            if compression_pos == 0 {
                compression_pos = *pos + 2;
            }
            pointers += 1;
            if *pos + 2 > max {
                return None;
            }
            let target = (usize::from(wire[*pos] & 63) << 8) | usize::from(wire[*pos + 1]);
            if target == 0 || target >= max || pointers > MAX_POINTERS {
                return None;
            }
            *pos = target;
            label = wire[*pos];
        }
        if label == 0 {
            break;
        }
        if label > MAX_LABELLEN || *pos + 1 + usize::from(label) > max {
            return None;
        }
        if out.len() + 1 > MAX_DOMAINLEN {
            return None;
        }
        out.push(label);
        *pos += 1;
        let l = usize::from(label);
        if out.len() + l > MAX_DOMAINLEN {
            return None;
        }
        out.extend_from_slice(&wire[*pos..*pos + l]);
        *pos += l;
        if *pos < max {
            label = wire[*pos];
        }
    }
    if compression_pos > 0 {
        *pos = compression_pos;
    } else {
        *pos += 1;
    }
    if out.len() >= MAX_DOMAINLEN {
        return None;
    }
    out.push(0);
    Some(out)
}

/// Field kinds of an RDATA descriptor.
#[derive(Clone, Copy)]
enum Kind {
    Dname,
    A,
    Aaaa,
    Int16,
    Int32,
    Str,
    Unknown,
}

/// The descriptor of `rtype`: its fields, the last one repeated when `repeat`.
fn descriptor(rtype: u16) -> (&'static [Kind], bool) {
    use Kind::*;
    match rtype {
        1 => (&[A], false),
        2 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 39 => (&[Dname], false),
        6 => (&[Dname, Dname, Int32, Int32, Int32, Int32, Int32], false),
        13 => (&[Str, Str], false),
        14 | 17 => (&[Dname, Dname], false),
        15 | 18 | 21 | 36 => (&[Int16, Dname], false),
        16 | 99 => (&[Str], true),
        28 => (&[Aaaa], false),
        33 => (&[Int16, Int16, Int16, Dname], false),
        _ => (&[Unknown], false),
    }
}

/// `ldns_wire2rr` (with `ldns_wire2rdf`).
fn rr(wire: &[u8], pos: &mut usize, question: bool) -> Option<Rr> {
    let max = wire.len();
    let owner = dname(wire, pos)?;
    if *pos + 4 > max {
        return None;
    }
    let rtype = u16::from_be_bytes([wire[*pos], wire[*pos + 1]]);
    let class = u16::from_be_bytes([wire[*pos + 2], wire[*pos + 3]]);
    *pos += 4;
    let mut r = Rr {
        owner,
        rtype,
        class,
        ttl: 0,
        rdata: Vec::new(),
    };
    if question {
        return Some(r);
    }
    if *pos + 4 > max {
        return None;
    }
    r.ttl = u32::from_be_bytes([wire[*pos], wire[*pos + 1], wire[*pos + 2], wire[*pos + 3]]);
    *pos += 4;
    if *pos + 2 > max {
        return None;
    }
    let rdlen = usize::from(u16::from_be_bytes([wire[*pos], wire[*pos + 1]]));
    *pos += 2;
    if *pos + rdlen > max {
        return None;
    }
    let end = *pos + rdlen;
    let (fields, repeat) = descriptor(rtype);
    let mut i = 0usize;
    while *pos < end && (repeat || i < fields.len()) {
        let kind = fields[i.min(fields.len() - 1)];
        let fixed = |n: usize, pos: &mut usize| -> Option<&[u8]> {
            if *pos + n > end {
                return None;
            }
            let s = &wire[*pos..*pos + n];
            *pos += n;
            Some(s)
        };
        let f = match kind {
            Kind::Dname => Rdf::Dname(dname(wire, pos)?),
            Kind::A => Rdf::A(fixed(4, pos)?.try_into().ok()?),
            Kind::Aaaa => Rdf::Aaaa(fixed(16, pos)?.try_into().ok()?),
            Kind::Int16 => {
                let s = fixed(2, pos)?;
                Rdf::Int16(u16::from_be_bytes([s[0], s[1]]))
            }
            Kind::Int32 => {
                let s = fixed(4, pos)?;
                Rdf::Int32(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
            }
            Kind::Str => {
                let n = usize::from(wire[*pos]) + 1;
                Rdf::Str(fixed(n, pos)?.to_vec())
            }
            Kind::Unknown => Rdf::Unknown(fixed(end - *pos, pos)?.to_vec()),
        };
        r.rdata.push(f);
        i += 1;
    }
    Some(r)
}

/// LDNS's name of an RR type (`ldns_rr_type2buffer_str`).
pub fn type_name(t: u16) -> String {
    let n = match t {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        19 => "X25",
        20 => "ISDN",
        21 => "RT",
        22 => "NSAP",
        23 => "NSAP-PTR",
        24 => "SIG",
        25 => "KEY",
        26 => "PX",
        27 => "GPOS",
        28 => "AAAA",
        29 => "LOC",
        30 => "NXT",
        31 => "EID",
        32 => "NIMLOC",
        33 => "SRV",
        34 => "ATMA",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        38 => "A6",
        39 => "DNAME",
        40 => "SINK",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        53 => "SMIMEA",
        55 => "HIP",
        56 => "NINFO",
        57 => "RKEY",
        58 => "TALINK",
        59 => "CDS",
        60 => "CDNSKEY",
        61 => "OPENPGPKEY",
        62 => "CSYNC",
        63 => "ZONEMD",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        100 => "UINFO",
        101 => "UID",
        102 => "GID",
        103 => "UNSPEC",
        104 => "NID",
        105 => "L32",
        106 => "L64",
        107 => "LP",
        108 => "EUI48",
        109 => "EUI64",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        253 => "MAILB",
        254 => "MAILA",
        255 => "ANY",
        256 => "URI",
        257 => "CAA",
        258 => "AVC",
        32768 => "TA",
        32769 => "DLV",
        _ => return format!("TYPE{t}"),
    };
    n.to_string()
}

/// LDNS's name of an RR class (`ldns_rr_class2buffer_str`).
pub fn class_name(c: u16) -> String {
    match c {
        1 => "IN".into(),
        3 => "CH".into(),
        4 => "HS".into(),
        254 => "NONE".into(),
        255 => "ANY".into(),
        _ => format!("CLASS{c}"),
    }
}

/// Appends the presentation of a wire-form name (`ldns_rdf2buffer_str_dname`).
pub fn push_dname(out: &mut String, name: &[u8]) {
    if name.len() == 1 && name[0] == 0 {
        out.push('.');
        return;
    }
    let mut i = 0;
    while i < name.len() {
        let len = usize::from(name[i]);
        if len == 0 {
            break;
        }
        i += 1;
        for &c in name.get(i..i + len).unwrap_or(&[]) {
            match c {
                b'.' | b';' | b'(' | b')' | b'\\' => {
                    out.push('\\');
                    out.push(char::from(c));
                }
                c if c.is_ascii_graphic() => out.push(char::from(c)),
                c => {
                    let _ = write!(out, "\\{c:03}");
                }
            }
        }
        i += len;
        if i < name.len() {
            out.push('.');
        }
    }
}

/// glibc's `inet_ntop(AF_INET6)`.
fn push_ipv6(out: &mut String, b: &[u8; 16]) {
    let w: Vec<u16> = b
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    // The longest (first) run of at least two zero words.
    let (mut best, mut cur) = ((0usize, 0usize), (0usize, 0usize));
    for (i, &x) in w.iter().enumerate() {
        if x == 0 {
            if cur.1 == 0 {
                cur.0 = i;
            }
            cur.1 += 1;
            if cur.1 > best.1 {
                best = cur;
            }
        } else {
            cur.1 = 0;
        }
    }
    if best.0 == 0 && (best.1 == 6 || (best.1 == 5 && w[5] == 0xffff)) {
        let v4 = Ipv4Addr::new(b[12], b[13], b[14], b[15]);
        let _ = write!(out, "{}{v4}", if best.1 == 6 { "::" } else { "::ffff:" });
        return;
    }
    let _ = write!(out, "{}", Ipv6Addr::from(*b));
}

/// Appends a character string (`ldns_rdf2buffer_str_str`).
fn push_str(out: &mut String, s: &[u8]) {
    out.push('"');
    for &c in s.iter().skip(1) {
        if c == b'"' || c == b'\\' {
            out.push('\\');
            out.push(char::from(c));
        } else if (0x20..0x7f).contains(&c) || c == b'\t' {
            out.push(char::from(c));
        } else {
            let _ = write!(out, "\\{c:03}");
        }
    }
    out.push('"');
}

/// `ldns_rr2str` of an answer RR, without the final newline: owner, TTL, class, type and the
/// RDATA fields, the first four separated by TABs, the RDATA fields by spaces.
pub fn rr_text(r: &Rr) -> String {
    let mut s = String::with_capacity(64);
    push_dname(&mut s, &r.owner);
    let _ = write!(
        s,
        "\t{}\t{}\t{}",
        r.ttl,
        class_name(r.class),
        type_name(r.rtype)
    );
    if r.rdata.is_empty() {
        s.push_str("\t\\# 0");
        return s;
    }
    s.push('\t');
    for (i, f) in r.rdata.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        match f {
            Rdf::Dname(n) => push_dname(&mut s, n),
            Rdf::A(a) => {
                let _ = write!(s, "{}", Ipv4Addr::from(*a));
            }
            Rdf::Aaaa(a) => push_ipv6(&mut s, a),
            Rdf::Int16(v) => {
                let _ = write!(s, "{v}");
            }
            Rdf::Int32(v) => {
                let _ = write!(s, "{v}");
            }
            Rdf::Str(v) => push_str(&mut s, v),
            Rdf::Unknown(v) => {
                let _ = write!(s, "\\# {} ", v.len());
                for b in v {
                    let _ = write!(s, "{b:02x}");
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(name: &[u8], t: u16) -> Vec<u8> {
        let mut v = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        v.extend_from_slice(name);
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(&[0, 1]);
        v
    }

    #[test]
    fn query_parses() {
        let m = parse(&q(b"\x07example\x03org\x00", 1)).unwrap();
        assert!(!m.qr);
        assert_eq!(m.flags(), 8);
        assert_eq!(m.questions.len(), 1);
        assert_eq!(m.questions[0].owner, b"\x07example\x03org\x00");
    }

    #[test]
    fn garbage_rejected_never_panics() {
        assert!(!parses(&[]));
        assert!(!parses(&[0; 11]));
        assert!(parses(&[0; 12]));
        let full = q(b"\x07example\x03org\x00", 1);
        for n in 0..full.len() {
            assert!(!parses(&full[..n]), "{n}");
        }
        // Pointer loop, pointer to 0, label too long.
        assert!(!parses(&q(b"\xc0\x0c", 1)));
        assert!(!parses(&q(b"\xc0\x00", 1)));
        assert!(!parses(&q(b"\x40", 1)));
        let mut x: u32 = 1;
        for len in 0..200 {
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = parse(&v);
            let mut w = full.clone();
            w.extend_from_slice(&v);
            w[7] = 3;
            let _ = parse(&w).map(|m| m.answers.iter().map(rr_text).count());
        }
    }

    #[test]
    fn texts() {
        let mut s = String::new();
        push_dname(&mut s, b"\x00");
        assert_eq!(s, ".");
        s.clear();
        push_dname(&mut s, b"\x03a.b\x02c \x00");
        assert_eq!(s, "a\\.b.c\\032.");
        s.clear();
        push_ipv6(
            &mut s,
            &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4],
        );
        assert_eq!(s, "::ffff:1.2.3.4");
        s.clear();
        push_ipv6(
            &mut s,
            &[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        );
        assert_eq!(s, "2001:db8::1");
        assert_eq!(type_name(65), "HTTPS");
        assert_eq!(type_name(1234), "TYPE1234");
        assert_eq!(class_name(0x8001), "CLASS32769");
    }
}
