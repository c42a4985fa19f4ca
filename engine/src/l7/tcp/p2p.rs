//! TCP P2P signatures as Tstat builds them without `P2P_OLDPROTO` (`ipp2p_tstat.c`,
//! `p2p.c`): eMule/eDonkey messages and BitTorrent (handshake and tracker requests), and the
//! ED2K message-kind predicates behind the `ed2k_*` counters.
//!
//! Codes are IPP2P's `protocol × 100 + subtype`. Matchers take the payload as captured plus the
//! IP payload length, exactly as Tstat passes `(haystack, payload_len, data_len)`. Owns no
//! state.

use super::peek::Peek;

/// IPP2P protocol number of eMule/eDonkey.
pub(crate) const IPP2P_EDK: u32 = 1;
/// IPP2P protocol number of BitTorrent.
pub(crate) const IPP2P_BIT: u32 = 9;

/// A matcher hit: the IPP2P code and, for eDonkey, the message type and opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    /// `protocol × 100 + subtype`.
    pub code: u32,
    /// First payload byte (eDonkey protocol marker).
    pub ed2k_type: u8,
    /// Sixth payload byte (eDonkey opcode).
    pub ed2k_subtype: u8,
}

/// Tstat's `p2p_tcp_match`: the enabled matchers in their table order, each only when the IP
/// payload is longer than its minimum (20 bytes for both).
pub(crate) fn tcp_match(p: &[u8], payload_len: u32) -> Option<Hit> {
    if p.is_empty() || payload_len == 0 {
        return None;
    }
    if payload_len > 20 {
        if let Some(h) = search_all_edk(p, payload_len) {
            return Some(h);
        }
        if let Some(code) = search_bittorrent(p, payload_len) {
            return Some(Hit {
                code,
                ed2k_type: 0,
                ed2k_subtype: 0,
            });
        }
    }
    None
}

/// IPP2P's `search_all_edk`: an eDonkey/eMule message header (`0xe3`, `0xc5` or `0xd4`, a
/// little-endian length, an opcode), checked against the segment size or, for messages longer
/// than a segment, against the known opcodes.
fn search_all_edk(p: &[u8], plen: u32) -> Option<Hit> {
    let b = Peek(p);
    let t = b.u8(0);
    if !matches!(t, 0xe3 | 0xc5 | 0xd4) {
        return None;
    }
    let cmd = i64::from(u16::from_le_bytes([b.u8(1), b.u8(2)]));
    let op = b.u8(5);
    let edk = |sub: u32| {
        Some(Hit {
            code: IPP2P_EDK * 100 + sub,
            ed2k_type: t,
            ed2k_subtype: op,
        })
    };
    let generic = u32::from(op % 100);
    if cmd == i64::from(plen) - 5 {
        return match op {
            0x01 => edk(1),
            0x4c => edk(9),
            0x40 if matches!(t, 0xc5 | 0xd4) => edk(3),
            0x46 if t == 0xe3 => edk(4),
            _ => edk(generic),
        };
    }
    if b.u8(3) != 0 || b.u8(4) != 0 {
        return None;
    }
    // A message larger than the segment: only plausible opcodes (eMule 0.48a `opcodes.h`).
    let e3 = |op: u8| {
        matches!(op,
            0x01 | 0x05 | 0x14 | 0x15 | 0x16 | 0x18 | 0x19 | 0x1a | 0x1c | 0x1d | 0x1e | 0x1f
            | 0x21 | 0x23 | 0x32..=0x36 | 0x38..=0x3d | 0x40..=0x44 | 0x47..=0x59
            | 0x5b..=0x61)
    };
    let c5 = |op: u8| matches!(op, 0x01 | 0x02 | 0x60 | 0x81..=0x87 | 0x90..=0xa4);
    match t {
        0xe3 if op == 0x46 => edk(4),
        0xe3 if e3(op) => edk(generic),
        0xe3 => None,
        // The 0xd4 case has no `break` in Tstat and falls into the 0xc5 one.
        0xd4 if op == 0x15 => edk(generic),
        _ if op == 0x40 => edk(3),
        _ if c5(op) => edk(generic),
        _ => None,
    }
}

/// IPP2P's `search_bittorrent`: the `0x13 "BitTorrent protocol"` handshake or a tracker
/// `GET /announce?info_hash=`-style request (also behind a 33-byte prefix).
fn search_bittorrent(p: &[u8], plen: u32) -> Option<u32> {
    let b = Peek(p);
    let cap = b.len();
    if !(plen > 20 && cap > 6) {
        return None;
    }
    if b.u8(0) == 0x13 && b.cmp_n(1, b"BitTorrent protocol", (cap - 1).min(19)) {
        return Some(IPP2P_BIT * 100);
    }
    if b.eq_at(0, b"GET /") {
        let tracker = |off: i64| -> Option<u32> {
            let m = |pat: &[u8]| b.cmp_n(off, pat, (cap - off).min(pat.len() as i64));
            if m(b"scrape?info_hash=") {
                Some(1)
            } else if m(b"announce?info_hash=") {
                Some(2)
            } else if m(b"announce.php?info_hash=") {
                Some(3)
            } else if m(b"announce.php?passkey=") {
                Some(4)
            } else if m(b"announce.php?pid=") {
                Some(5)
            } else {
                None
            }
        };
        let sub = if matches!(b.u8(5), b'a' | b's') {
            tracker(5)
        } else if cap > 45 && matches!(b.u8(38), b'a' | b's') {
            tracker(38)
        } else {
            None
        };
        return sub.map(|s| IPP2P_BIT * 100 + s);
    }
    None
}

/// Tstat's `ED2K_is_data`: a file-part message.
pub(crate) fn ed2k_is_data(t: u8, sub: u8) -> bool {
    matches!((t, sub), (0xe3, 0x46) | (0xd4, 0x40) | (0xc5, 0x40))
}

/// Tstat's `ED2K_is_C2S`: a client-to-server message.
pub(crate) fn ed2k_is_c2s(t: u8, sub: u8) -> bool {
    match t {
        0xe3 => matches!(
            sub,
            0x01 | 0x05 | 0x14 | 0x15 | 0x16 | 0x18 | 0x19 | 0x1a | 0x1c | 0x1d | 0x1e | 0x1f
                | 0x21 | 0x23 | 0x32..=0x36 | 0x38..=0x3d | 0x40..=0x44
        ),
        0xd4 => sub == 0x15,
        _ => false,
    }
}

/// Tstat's `ED2K_is_msg`: a chat message.
pub(crate) fn ed2k_is_msg(t: u8, sub: u8) -> bool {
    t == 0xe3 && sub == 0x4e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bittorrent_handshake_and_tracker() {
        let mut hs = vec![0x13];
        hs.extend_from_slice(b"BitTorrent protocol");
        hs.extend_from_slice(&[0; 48]);
        assert_eq!(tcp_match(&hs, hs.len() as u32).unwrap().code, 900);
        let ann = b"GET /announce?info_hash=%12%34&peer_id=x HTTP/1.0\r\n\r\n";
        assert_eq!(tcp_match(ann, ann.len() as u32).unwrap().code, 902);
        let scrape = b"GET /scrape?info_hash=%12 HTTP/1.0\r\n\r\n";
        assert_eq!(tcp_match(scrape, scrape.len() as u32).unwrap().code, 901);
        let web = b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(tcp_match(web, web.len() as u32), None);
        // Too short an IP payload: no matcher runs.
        assert_eq!(tcp_match(&hs[..20], 20), None);
    }

    #[test]
    fn edonkey_hello() {
        // 0xe3, length 0x0054 (little endian) = plen - 5, opcode 0x01 (hello).
        let mut m = vec![0xe3, 0x54, 0x00, 0x00, 0x00, 0x01];
        m.resize(0x54 + 5, 0xaa);
        let h = tcp_match(&m, m.len() as u32).unwrap();
        assert_eq!(h.code, 101);
        assert_eq!((h.ed2k_type, h.ed2k_subtype), (0xe3, 0x01));
        // A sending-part message spanning segments.
        let mut big = vec![0xe3, 0x00, 0x28, 0x00, 0x00, 0x46];
        big.resize(1400, 0);
        assert_eq!(tcp_match(&big, 1400).unwrap().code, 104);
        assert!(ed2k_is_data(0xe3, 0x46));
        assert!(!ed2k_is_c2s(0xe3, 0x46));
        assert!(ed2k_is_c2s(0xe3, 0x14));
        assert!(ed2k_is_msg(0xe3, 0x4e));
        // 0xd4 with another opcode falls into the 0xc5 list.
        let mut d4 = vec![0xd4, 0x00, 0x28, 0x00, 0x00, 0x40];
        d4.resize(100, 0);
        assert_eq!(tcp_match(&d4, 100).unwrap().code, 103);
        for n in 0..m.len() {
            let _ = tcp_match(&m[..n], 100);
        }
    }
}
