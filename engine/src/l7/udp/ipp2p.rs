//! Tstat's UDP payload signatures (`ipp2p_tstat.c`, the `udp_list` table of the default build,
//! i.e. without `P2P_OLDPROTO`): DNS, BitTorrent DHT, eDonkey/KAD/KADU, SIP, PPLive, SopCast,
//! TVAnts, PPStream, Teredo, DTLS and MTURN, tried in that order on one datagram.
//!
//! Owns only the per-datagram matching; which flows are matched and what the result does to a
//! direction's type is the caller's (`p2p_flow_stat`). Tstat reads bytes past the captured
//! data when a datagram is truncated; here a byte that was not captured never matches.

/// What a datagram was recognised as (Tstat's `IPP2P_*` protocol of the return code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum P2p {
    /// eDonkey / eMule (`IPP2P_EDK`).
    Edk,
    /// KAD (`IPP2P_KAD`).
    Kad,
    /// KAD AdunanzA (`IPP2P_KADU`).
    Kadu,
    /// BitTorrent DHT (`IPP2P_BIT`).
    Bit,
    /// PPLive (`IPP2P_PPLIVE`).
    PpLive,
    /// SopCast (`IPP2P_SOPCAST`).
    SopCast,
    /// TVAnts (`IPP2P_TVANTS`).
    TvAnts,
    /// DNS (`IPP2P_DNS`).
    Dns,
    /// PPStream (`IPP2P_PPSTREAM`).
    PpStream,
    /// Teredo (`IPP2P_TEREDO`).
    Teredo,
    /// SIP (`IPP2P_SIP`).
    Sip,
    /// DTLS (`IPP2P_DTLS`).
    Dtls,
    /// Skype/Teams MTURN (`IPP2P_MTURN`).
    Mturn,
}

/// One datagram as the IPP2P functions see it. Tstat indexes from the start of the UDP header
/// (`haystack`), so offset 8 is the first payload byte.
#[derive(Clone, Copy)]
struct Hay<'a> {
    /// Captured payload (after the UDP header).
    p: &'a [u8],
    /// The UDP length field (header included): IPP2P's `packet_len`.
    ulen: i64,
    /// Captured bytes from the start of the UDP header: IPP2P's `payload_len`.
    cap: i64,
}

impl Hay<'_> {
    /// Payload byte `i` (`t[i]`, i.e. `haystack[8 + i]`).
    #[inline]
    fn t(&self, i: usize) -> Option<u8> {
        self.p.get(i).copied()
    }

    #[inline]
    fn is(&self, i: usize, v: u8) -> bool {
        self.t(i) == Some(v)
    }

    /// Big-endian 32-bit word at payload offset `i`.
    #[inline]
    fn be32(&self, i: usize) -> Option<u32> {
        let b = self.p.get(i..i + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    #[inline]
    fn starts(&self, s: &[u8]) -> bool {
        self.p.starts_with(s)
    }
}

/// `p2p_udp_match`: tries the signatures in table order; a signature is tried only when the
/// UDP length field exceeds its minimum. `payload_len` is `UDP length − 8`.
pub(super) fn udp_match(payload: &[u8], payload_len: u32) -> Option<P2p> {
    let h = Hay {
        p: payload,
        ulen: i64::from(payload_len) + 8,
        cap: payload.len() as i64 + 8,
    };
    // Tstat's table, in order, each entry with its minimum UDP length (written out rather
    // than looped over, so that the matchers are inlined).
    macro_rules! try_match {
        ($($min:literal => $f:ident),* $(,)?) => {$(
            if h.ulen > $min {
                if let Some(m) = $f(&h) {
                    return Some(m);
                }
            }
        )*};
    }
    try_match!(
        22 => dns,
        23 => bit,
        9 => edk,
        22 => sip,
        22 => pplive,
        22 => sopcast,
        22 => tvants,
        12 => ppstream,
        21 => teredo,
        25 => dtls,
        22 => mturn,
    );
    None
}

/// `udp_search_dns`: QDCOUNT 1 or 2, a first label of 1–63 bytes starting with an alphanumeric
/// character, and (when the whole question is captured) a common QTYPE and QCLASS.
fn dns(h: &Hay<'_>) -> Option<P2p> {
    if !(h.is(4, 0) && (h.is(5, 1) || h.is(5, 2))) {
        return None;
    }
    let l = h.t(12)?;
    if !(0x01..=0x3f).contains(&l) || !h.t(13)?.is_ascii_alphanumeric() {
        return None;
    }
    if h.cap > 22 {
        let plen = h.p.len();
        let idx = h.p.get(14..).and_then(|q| q.iter().position(|&c| c == 0));
        let idx = idx.map_or(plen, |i| 14 + i);
        if idx + 4 < plen {
            let qtype = h.p[idx + 2];
            let ok = h.p[idx + 1] == 0
                && ((0x01..=0x10).contains(&qtype)
                    || matches!(qtype, 0x1c | 0x40 | 0x41 | 0x21 | 0x2e | 0xff | 0xfd | 0xfc))
                && h.p[idx + 3] == 0
                && matches!(h.p[idx + 4], 0x01 | 0x03 | 0x04 | 0xff);
            return ok.then_some(P2p::Dns);
        }
    }
    Some(P2p::Dns)
}

/// `udp_search_bit`: mainline DHT bencoded messages, Azureus/Vuze DHT, and the historical
/// fixed-size IPP2P rules.
fn bit(h: &Hay<'_>) -> Option<P2p> {
    if h.cap > 30
        && h.starts(b"d1:")
        && (h.is(3, b'a') || h.is(3, b'r'))
        && h.p.get(4..12) == Some(b"d2:id20:")
    {
        return Some(P2p::Bit);
    }
    if h.cap >= 20 {
        let (t0, t1, t2, t3) = (h.t(0)?, h.t(1)?, h.t(2)?, h.t(3)?);
        let (t8, t9, t10, t11) = (h.t(8)?, h.t(9)?, h.t(10)?, h.t(11)?);
        if t8 == 0 && t9 == 0 && t10 == 4 && t0 & 0x80 != 0 {
            if matches!(t11, 0x00 | 0x02 | 0x04 | 0x06 | 0x0a | 0x0b | 0x0c) {
                return Some(P2p::Bit);
            }
        } else if t0 == 0
            && t1 == 0
            && t2 == 4
            && t8 & 0x80 != 0
            && matches!(t3, 0x01 | 0x03 | 0x05 | 0x07 | 0x08 | 0x09 | 0x0d)
        {
            return Some(P2p::Bit);
        }
    }
    let w = |i| h.be32(i);
    let hit = match h.ulen {
        24 => h.cap >= 16 && w(0) == Some(0x417) && w(4) == Some(0x2710_1980),
        44 | 65 | 67 => {
            let action = match h.ulen {
                44 => 0x400,
                65 => 0x404,
                _ => 0x406,
            };
            (h.cap >= 40 && w(8) == Some(action) && w(28) == Some(0x104))
                || (h.cap >= 20 && w(8) == Some(action))
        }
        211 => h.cap >= 12 && w(0) == Some(0x405),
        29 => h.cap >= 12 && w(0) == Some(0x401),
        52 => h.cap >= 16 && w(0) == Some(0x827) && w(4) == Some(0x3750_2950),
        _ => h.ulen >= 40 && w(8) == Some(0x402) && w(28) == Some(0x104),
    };
    hit.then_some(P2p::Bit)
}

/// `udp_search_edk`: eDonkey (0xe3), eMule extended (0xc5), KAD/KADU plain (0xe4/0xa4) and
/// compressed (0xe5/0xa5) messages, mostly recognised by opcode and exact size. The C switch
/// falls through in a few places (KAD2 HELLO_REQ, PUBLISH_RES, eMule 0xFE); kept here.
fn edk(h: &Hay<'_>) -> Option<P2p> {
    let (t0, t1) = (h.t(0)?, h.t(1)?);
    let pl = h.ulen;
    let hit = |b: bool, p: P2p| b.then_some(p);
    match t0 {
        0xe3 => {
            let ff_f0 = h.is(2, 0xff) && h.is(3, 0xf0);
            let b = match t1 {
                0x96 => pl == 14,
                0x97 => matches!(pl, 42 | 22 | 26 | 34 | 38 | 50),
                0xa2 => pl == 14 && h.cap > 14 && ff_f0,
                0xa3 => pl >= 50 && h.cap > 14 && ff_f0,
                0x9a => (pl - 10) % 16 == 0,
                0x9b => matches!(pl, 33 | 39 | 56 | 68 | 79 | 97),
                0x92 | 0x98 | 0x99 => true,
                _ => false,
            };
            hit(b, P2p::Edk)
        }
        0xe4 | 0xa4 => {
            let k = if t0 == 0xa4 { P2p::Kadu } else { P2p::Kad };
            let hello2 = || {
                pl == 30
                    || (pl > 30
                        && h.cap > 30
                        && h.t(21).is_some_and(|v| v != 0)
                        && h.t(22).is_some_and(|v| (0x01..0x0b).contains(&v)))
            };
            let b = match t1 {
                0x00 => pl == 35,
                0x01 => pl == 10,
                0x08 => (pl - 12) % 25 == 0,
                0x09 => (pl - 31) % 25 == 0,
                0x10 => pl == 35,
                0x11 => hello2() || pl == 35,
                0x18 => pl == 35,
                0x19 => hello2(),
                0x20 => pl == 43 && h.cap > 10 && h.t(2).is_some_and(|v| v != 0),
                0x21 => pl == 43,
                0x22 | 0x30 => pl >= 27,
                0x28 | 0x29 => (pl - 52) % 25 == 0,
                0x32 => pl == 42,
                0x33 | 0x34 | 0x35 | 0x3b | 0x43 | 0x44 | 0x45 => true,
                0x38 | 0x3a | 0x40 | 0x42 => pl >= 47,
                0x48 | 0x4a => matches!(pl, 26 | 27 | 10 | 12),
                0x4b => matches!(pl, 27 | 10 | 12),
                0x4c => matches!(pl, 10 | 12),
                0x50 => pl == 12,
                0x51 | 0x5a => pl == 44 || pl == 45,
                0x52 => pl == 44,
                0x53 => pl == 29,
                0x58 => pl == 14,
                0x59 => pl == 10,
                0x60 | 0x61 => pl == 10,
                0x62 => pl == 13,
                _ => false,
            };
            hit(b, k)
        }
        0xc5 => {
            let b = match t1 {
                0x90 | 0x91 | 0x94 => true,
                0xfe => pl == 11 || pl == 10,
                0x92 | 0x93 => pl == 10,
                0x95 => pl == 29,
                _ => false,
            };
            hit(b, P2p::Edk)
        }
        0xe5 | 0xa5 => {
            let b = h.cap > 12 && h.is(2, 0x78) && (h.is(3, 0xda) || h.is(3, 0x9c));
            hit(b, if t0 == 0xa5 { P2p::Kadu } else { P2p::Kad })
        }
        _ => None,
    }
}

/// `udp_search_sip`: a status line or one of the RFC 3261 family request lines (picked by
/// their first byte).
fn sip(h: &Hay<'_>) -> Option<P2p> {
    let hit = match h.t(0)? {
        b'S' => h.starts(b"SIP/2.0") || h.starts(b"SUBSCRIBE sip:"),
        b'R' => h.starts(b"REGISTER sip:") || h.starts(b"REFER sip:"),
        b'A' => h.starts(b"ACK sip:"),
        b'I' => h.starts(b"INVITE sip:") || h.starts(b"INFO sip:"),
        b'P' => h.starts(b"PRACK sip:") || h.starts(b"PUBLISH sip:"),
        b'B' => h.starts(b"BYE sip:"),
        b'O' => h.starts(b"OPTIONS sip:"),
        b'C' => h.starts(b"CANCEL sip:"),
        b'U' => h.starts(b"UPDATE sip:"),
        b'N' => h.starts(b"NOTIFY sip:"),
        b'M' => h.starts(b"MESSAGE sip:"),
        _ => false,
    };
    hit.then_some(P2p::Sip)
}

/// `udp_search_pplive`: a fixed 6-byte header, or the byte-pair relation of the other PPLive
/// message family.
fn pplive(h: &Hay<'_>) -> Option<P2p> {
    let fixed = h.is(0, 0xe9)
        && h.is(1, 0x03)
        && h.is(4, 0x98)
        && h.is(5, 0xab)
        && h.is(6, 0x01)
        && h.is(7, 0x02);
    if fixed {
        return Some(P2p::PpLive);
    }
    let (x1, x2, x3) = (h.t(0)?, h.t(1)?, h.t(2)?);
    let ind = usize::from((x1 & 0x0f) % 8 / 2) * 2 + 5;
    let (v1, v2) = (u32::from(x3), u32::from(h.t(ind + 1)?));
    let hit = x1 != 0
        && x2 != 0
        && x3 != 0
        && h.t(ind)? == x2
        && ((v1 % 2 == 0 && v2 == v1 + 1) || v2 + 1 == v1 || v1 == v2);
    hit.then_some(P2p::PpLive)
}

/// `udp_search_sopcast`: two header families whose length field matches the datagram.
fn sopcast(h: &Hay<'_>) -> Option<P2p> {
    let hit = match h.t(0)? {
        0x00 => {
            let pair = (h.t(8)?, h.t(9)?);
            h.is(2, 0x01)
                && matches!(
                    pair,
                    (0x06, 0x01) | (0x01, 0x01) | (0x01, 0xff) | (0x03, 0xff)
                )
                && i64::from(h.t(10)?) * 256 + i64::from(h.t(11)?) + 16 == h.ulen
        }
        0xff => {
            h.is(1, 0xff) && h.is(2, 0x01) && h.is(10, 0x00) && i64::from(h.t(11)?) + 16 == h.ulen
        }
        _ => false,
    };
    hit.then_some(P2p::SopCast)
}

/// `udp_search_mturn`: `ff 10` followed by a length field equal to the UDP length − 12.
fn mturn(h: &Hay<'_>) -> Option<P2p> {
    let len = i64::from(u16::from_be_bytes([h.t(2)?, h.t(3)?]));
    (h.is(0, 0xff) && h.is(1, 0x10) && len == h.ulen - 12).then_some(P2p::Mturn)
}

/// `udp_search_tvants`: a 13-byte header with fixed values.
fn tvants(h: &Hay<'_>) -> Option<P2p> {
    let one_of = |i, a: &[u8]| h.t(i).is_some_and(|v| a.contains(&v));
    let hit = h.is(0, 0x04)
        && h.is(1, 0x00)
        && one_of(2, &[0x07, 0x05])
        && h.is(3, 0x00)
        && h.is(6, 0x00)
        && h.is(7, 0x00)
        && one_of(8, &[0x53, 0x44])
        && h.is(9, 0x53)
        && h.is(10, 0x00)
        && one_of(11, &[0x11, 0x12, 0x13])
        && h.is(12, 0x00);
    hit.then_some(P2p::TvAnts)
}

/// `udp_search_ppstream`: byte 2 is 0x43 and the first two bytes, read in host (little-endian)
/// order as Tstat does, give the UDP length minus 8, 12 or 14.
fn ppstream(h: &Hay<'_>) -> Option<P2p> {
    if !h.is(2, 0x43) {
        return None;
    }
    let len = i64::from(u16::from_le_bytes([h.t(0)?, h.t(1)?]));
    [8, 12, 14]
        .iter()
        .any(|d| len == h.ulen - d)
        .then_some(P2p::PpStream)
}

/// `udp_search_teredo`: an IPv6 header (`60 00 00 00`) whose source starts with the Teredo
/// prefix `2001:0000`.
fn teredo(h: &Hay<'_>) -> Option<P2p> {
    let hit =
        h.p.get(0..4) == Some(&[0x60, 0, 0, 0]) && h.p.get(8..12) == Some(&[0x20, 0x01, 0, 0]);
    hit.then_some(P2p::Teredo)
}

/// `udp_search_dtls`: a DTLS handshake record (`16 fe` + version `fb`–`ff`).
fn dtls(h: &Hay<'_>) -> Option<P2p> {
    let hit = h.is(0, 0x16)
        && h.is(1, 0xfe)
        && h.t(2).is_some_and(|v| v >= 0xfb)
        && h.t(11).is_some_and(|v| v <= 0x39);
    hit.then_some(P2p::Dtls)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request lines and the status line `udp_search_sip` accepts.
    const SIP_STARTS: [&[u8]; 15] = [
        b"SIP/2.0",
        b"REGISTER sip:",
        b"ACK sip:",
        b"INVITE sip:",
        b"PRACK sip:",
        b"BYE sip:",
        b"OPTIONS sip:",
        b"CANCEL sip:",
        b"UPDATE sip:",
        b"SUBSCRIBE sip:",
        b"NOTIFY sip:",
        b"PUBLISH sip:",
        b"INFO sip:",
        b"REFER sip:",
        b"MESSAGE sip:",
    ];

    fn m(p: &[u8]) -> Option<P2p> {
        udp_match(p, p.len() as u32)
    }

    #[test]
    fn dns_query_and_response() {
        // Query for "www.example.com" A IN.
        let q: &[u8] = &[
            0x12, 0x34, // id
            0x01, 0x00, // flags: RD
            0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // qd=1
            3, b'w', b'w', b'w', 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm',
            0, // root
            0x00, 0x01, // QTYPE A
            0x00, 0x01, // QCLASS IN
        ];
        assert_eq!(m(q), Some(P2p::Dns));
        // Response: same question, one answer appended.
        let mut r = q.to_vec();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 1;
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]);
        assert_eq!(m(&r), Some(P2p::Dns));
        // An unusual QTYPE (NULL = 10 is accepted, 0x99 is not).
        let mut odd = q.to_vec();
        odd[30] = 0x99;
        assert_eq!(m(&odd), None);
        // QDCOUNT 0 is not DNS for IPP2P.
        let mut zero = q.to_vec();
        zero[5] = 0;
        assert_eq!(m(&zero), None);
    }

    #[test]
    fn short_dns_is_not_tried() {
        // UDP length 22 (payload 14) is below the table's minimum (> 22).
        let q = [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w'];
        assert_eq!(m(&q), None);
    }

    #[test]
    fn bittorrent_dht() {
        let ping = b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
        assert_eq!(m(ping), Some(P2p::Bit));
        let resp = b"d1:rd2:id20:abcdefghij0123456789e1:t2:aa1:y1:re";
        assert_eq!(m(resp), Some(P2p::Bit));
        // Vuze request: connection id with MSB set, action 0x400 (PING).
        let mut vuze = vec![0x80, 1, 2, 3, 4, 5, 6, 7, 0x00, 0x00, 0x04, 0x00];
        vuze.extend_from_slice(&[0; 12]);
        assert_eq!(m(&vuze), Some(P2p::Bit));
    }

    #[test]
    fn kad_and_edk() {
        // KAD2 PING: e4 60, UDP length 10.
        assert_eq!(m(&[0xe4, 0x60]), Some(P2p::Kad));
        // KADU (AdunanzA) compressed with a zlib header.
        assert_eq!(m(&[0xa5, 0x33, 0x78, 0x9c, 1, 2, 3, 4]), Some(P2p::Kadu));
        // eDonkey server status request: e3 96 + 4 bytes (UDP length 14).
        assert_eq!(m(&[0xe3, 0x96, 1, 2, 3, 4]), Some(P2p::Edk));
        // Wrong size for the status request.
        assert_eq!(m(&[0xe3, 0x96, 1, 2, 3]), None);
        // KAD PUBLISH_RES falls through to the FIREWALLED_REQ size (UDP length 12).
        assert_eq!(m(&[0xe4, 0x48, 0, 0]), Some(P2p::Kad));
    }

    #[test]
    fn sip_teredo_dtls_mturn() {
        assert_eq!(
            m(b"OPTIONS sip:alice@example.com SIP/2.0\r\n"),
            Some(P2p::Sip)
        );
        let mut teredo = vec![0x60, 0, 0, 0, 0, 8, 0x3b, 0x15];
        teredo.extend_from_slice(&[0x20, 0x01, 0, 0, 1, 2, 3, 4]);
        teredo.extend_from_slice(&[0; 24]);
        assert_eq!(m(&teredo), Some(P2p::Teredo));
        let mut hello = vec![0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x40, 0x01];
        hello.extend_from_slice(&[0; 20]);
        assert_eq!(m(&hello), Some(P2p::Dtls));
        let mut mt = vec![0xff, 0x10, 0x00, 20];
        mt.extend_from_slice(&[7; 20]);
        assert_eq!(m(&mt), Some(P2p::Mturn));
    }

    /// Tstat's table as a loop, and SIP as a scan of the whole list: what `udp_match` and
    /// `sip` must keep answering.
    fn reference(payload: &[u8], payload_len: u32) -> Option<P2p> {
        let h = Hay {
            p: payload,
            ulen: i64::from(payload_len) + 8,
            cap: payload.len() as i64 + 8,
        };
        fn sip_list(h: &Hay<'_>) -> Option<P2p> {
            SIP_STARTS.iter().any(|s| h.starts(s)).then_some(P2p::Sip)
        }
        type Matcher = fn(&Hay<'_>) -> Option<P2p>;
        const LIST: [(i64, Matcher); 11] = [
            (22, dns),
            (23, bit),
            (9, edk),
            (22, sip_list),
            (22, pplive),
            (22, sopcast),
            (22, tvants),
            (12, ppstream),
            (21, teredo),
            (25, dtls),
            (22, mturn),
        ];
        LIST.iter()
            .filter(|(min, _)| h.ulen > *min)
            .find_map(|(_, f)| f(&h))
    }

    #[test]
    fn same_answers_as_the_table() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let firsts: Vec<u8> = [
            0u8, 0x04, 0x13, 0x16, 0x60, 0xa4, 0xa5, 0xc5, 0xe3, 0xe4, 0xe5,
        ]
        .into_iter()
        .chain(0xe9..=0xff)
        .chain(SIP_STARTS.iter().map(|s| s[0]))
        .collect();
        let mut hits = 0;
        for i in 0..200_000u32 {
            let len = (rnd() % 80) as usize;
            let mut p: Vec<u8> = (0..len).map(|_| (rnd() % 8) as u8).collect();
            if let Some(b) = p.first_mut() {
                *b = firsts[i as usize % firsts.len()];
            }
            if i % 7 == 0 && len > 0 {
                let s = SIP_STARTS[i as usize % SIP_STARTS.len()];
                let n = s.len().min(len - (i as usize % 3).min(len));
                p[..n].copy_from_slice(&s[..n]);
            }
            let declared = match i % 3 {
                0 => len as u32,
                1 => len as u32 + (rnd() % 64) as u32,
                _ => (rnd() % 96) as u32,
            };
            let want = reference(&p, declared);
            hits += usize::from(want.is_some());
            assert_eq!(udp_match(&p, declared), want, "{p:02x?} {declared}");
        }
        assert!(hits > 1000, "{hits}");
        for s in SIP_STARTS {
            let mut p = s.to_vec();
            p.extend_from_slice(b"x@example.org SIP/2.0\r\n");
            assert_eq!(udp_match(&p, p.len() as u32), Some(P2p::Sip));
            p[s.len() - 1] ^= 0x20;
            assert_eq!(udp_match(&p, p.len() as u32), reference(&p, p.len() as u32));
        }
    }

    #[test]
    fn nothing_on_garbage_or_empty() {
        assert_eq!(m(&[]), None);
        assert_eq!(m(&[0x17; 3]), None);
        // A truncated capture (declared 100 bytes, 3 captured) never panics.
        assert_eq!(udp_match(&[0xe4, 0x11, 0], 100), None);
    }
}
