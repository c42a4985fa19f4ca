//! Tstat's behavioural UDP classifiers (`udp.c`, run by the `BEHAVIORAL` plugin after the DPI
//! ones): uTP (`check_uTP`), IETF QUIC (`check_QUIC`), MPEG2-TS video on demand
//! (`check_udp_vod`) and the obfuscated-KAD size patterns (`check_udp_obfuscate`).
//!
//! Each function looks at one datagram of the direction `this` and may change both directions'
//! state and types; the caller applies the per-flow packet limits.

use super::types::{P2P_BT, P2P_UTP, P2P_UTPBT, UDP_QUIC, UDP_VOD};
use super::{Dir, QuicFlow};

/// `enum uTP_udp_state`.
mod utp {
    pub const UNKNOWN: u8 = 0;
    pub const SYN_SEEN: u8 = 1;
    pub const DATA_SEEN: u8 = 2;
    pub const ACK_SEEN: u8 = 3;
    pub const SYN_SENT: u8 = 4;
    pub const DATA_SENT: u8 = 5;
    pub const ACK_SENT: u8 = 6;
}

/// `enum QUIC_udp_state` (only the states the IETF code uses).
pub(super) mod quic {
    pub const UNKNOWN: u8 = 0;
    pub const OPEN_SENT: u8 = 2;
    pub const DATA_SENT: u8 = 3;
}

/// `enum obfuscate_udp_state`.
pub(super) mod okad {
    pub const UNKNOWN: u8 = 0;
    pub const REQ43: u8 = 1;
    pub const RES52_K25: u8 = 2;
    pub const REQ59: u8 = 3;
    pub const RES68_K25: u8 = 4;
    pub const SIZEX_22: u8 = 5;
    pub const SIZEX_52: u8 = 6;
    pub const SIZE_IN_46_57: u8 = 7;
}

#[inline]
fn be16(p: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?]))
}

/// `check_uTP`: a uTP exchange is recognised when a packet's connection id matches what the
/// other direction announced (SYN → STATE/FIN/RESET, or DATA/STATE → next packet with the
/// id ± 1). Both directions then become uTP (uTP+BitTorrent where the DHT was seen).
pub(super) fn check_utp(this: &mut Dir, other: &mut Dir, p: &[u8], payload_len: u32) {
    if this.is_utp && other.is_utp {
        return;
    }
    // At least the 20-byte uTP header (Tstat: 8 + 20 bytes from the UDP header).
    let (Some(&b0), Some(&b1), Some(cid)) = (p.first(), p.get(1), be16(p, 2)) else {
        return;
    };
    if p.len() < 20 || payload_len + 8 == 0 {
        return;
    }
    if !((b0 & 0x31 != 0 || b0 == 0x41) && b1 <= 2) {
        return;
    }
    let confirm = |this: &mut Dir, other: &mut Dir| {
        this.utp_conn_id = cid;
        this.is_utp = true;
        other.is_utp = true;
    };
    match this.utp_state {
        utp::UNKNOWN | utp::DATA_SENT | utp::SYN_SENT | utp::ACK_SENT => {
            let (mine, theirs) = match b0 {
                0x01 => (utp::DATA_SENT, utp::DATA_SEEN),
                0x21 => (utp::ACK_SENT, utp::ACK_SEEN),
                0x41 => (utp::SYN_SENT, utp::SYN_SEEN),
                _ => return,
            };
            this.utp_conn_id = cid;
            if b0 == 0x41 {
                this.utp_syn_seq_nr = be16(p, 16).unwrap_or(0);
            }
            this.utp_state = mine;
            other.utp_state = theirs;
        }
        utp::SYN_SEEN => match b0 {
            0x11 | 0x31 if cid == other.utp_conn_id => confirm(this, other),
            0x21 => {
                let seq = be16(p, 18).unwrap_or(0);
                if seq == other.utp_syn_seq_nr && cid == other.utp_conn_id {
                    confirm(this, other);
                }
            }
            0x41 => {
                this.utp_conn_id = cid;
                this.utp_syn_seq_nr = be16(p, 16).unwrap_or(0);
                this.utp_state = utp::SYN_SENT;
                other.utp_state = utp::SYN_SEEN;
            }
            _ => {}
        },
        utp::DATA_SEEN | utp::ACK_SEEN => match b0 {
            // The neighbouring id, compared as `int`: no wrap-around at 0 or 65535.
            0x01 | 0x11 | 0x21 if cid.abs_diff(other.utp_conn_id) == 1 => confirm(this, other),
            0x31 if cid == other.utp_conn_id => confirm(this, other),
            _ => {}
        },
        _ => {}
    }
    if this.is_utp && other.is_utp {
        for d in [this, other] {
            d.ty = if d.ty == P2P_BT { P2P_UTPBT } else { P2P_UTP };
        }
    }
}

/// The fields of a QUIC long header that Tstat's `parse_quic_hdr` extracts. Lengths that
/// failed a bound check are left as read (and the later fields zero), as in Tstat.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct QuicHdr {
    pub long: bool,
    pub fixed: bool,
    pub ptype: u8,
    pub version: [u8; 4],
    pub dcid_len: u8,
    pub scid_len: u8,
    /// Token length field plus token (kept in 8 bits, as Tstat's `uint8_t`).
    pub token_len: u8,
    /// Length field of an Initial.
    pub pkt_len: u64,
}

/// `read_var_len_int`: a QUIC variable-length integer and the number of bytes Tstat thinks it
/// took (16, not 8, for the 8-byte form). Bytes past the buffer read as zero.
pub(super) fn varint(p: &[u8], at: usize) -> (u64, usize) {
    let b = |i: usize| u64::from(p.get(at + i).copied().unwrap_or(0));
    match b(0) >> 6 {
        0 => (b(0) & 0x3f, 1),
        1 => (((b(0) << 8) | b(1)) & 0x3fff, 2),
        2 => ((0..4).fold(0, |v, i| (v << 8) | b(i)) & 0x3fff_ffff, 4),
        _ => (
            (0..8).fold(0, |v, i| (v << 8) | b(i)) & 0x3fff_ffff_ffff_ffff,
            16,
        ),
    }
}

/// `parse_quic_hdr` over a UDP payload.
pub(super) fn parse_quic_hdr(p: &[u8]) -> QuicHdr {
    let mut h = QuicHdr::default();
    let len = p.len();
    if len <= 5 {
        return h;
    }
    h.long = p[0] & 0x80 != 0;
    h.fixed = p[0] & 0x40 != 0;
    if !h.long {
        return h;
    }
    h.ptype = (p[0] >> 4) & 3;
    h.version = [p[1], p[2], p[3], p[4]];
    h.dcid_len = p[5];
    let dcid = usize::from(h.dcid_len);
    if dcid > 20 || 6 + dcid >= len {
        return h;
    }
    h.scid_len = p[6 + dcid];
    let scid = usize::from(h.scid_len);
    if scid > 20 || 7 + dcid + scid >= len {
        return h;
    }
    if h.ptype == 0 {
        let at = 7 + dcid + scid;
        if at + 4 >= len {
            return h;
        }
        let (tok, n) = varint(p, at);
        h.token_len = (tok as u8).wrapping_add(n as u8);
        let Some(at) = (at as u64).checked_add(n as u64 + tok) else {
            return h;
        };
        if at + 4 >= len as u64 {
            return h;
        }
        h.pkt_len = varint(p, at as usize).0;
    }
    h
}

/// `check_QUIC` (IETF QUIC): a direction that sends a well-formed Initial with a DCID opens
/// the exchange (storing the client version); the other direction's Initial with an SCID and
/// the same version makes both directions QUIC. 0-RTT long headers seen in between are
/// counted. Returns the header of a well-formed Initial, for the ClientHello search.
pub(super) fn check_quic(
    this: &mut Dir,
    other: &mut Dir,
    q: &mut QuicFlow,
    p: &[u8],
    payload_len: u32,
) -> Option<QuicHdr> {
    if this.is_quic && other.is_quic {
        return None;
    }
    // Tstat: at least 8 + 19 captured bytes.
    if p.len() < 19 || payload_len + 8 == 0 {
        return None;
    }
    if this.quic_state != quic::UNKNOWN && this.quic_state != quic::OPEN_SENT {
        return None;
    }
    // Only a long header with the fixed bit set can pass the checks below: anything else
    // changes nothing (both directions are not yet QUIC), so it is not parsed.
    if p[0] & 0xc0 != 0xc0 {
        return None;
    }
    let h = parse_quic_hdr(p);
    let sane = h.long && h.fixed && h.dcid_len <= 20 && h.scid_len <= 20;
    let mut initial = None;
    if sane && h.ptype == 0 {
        if h.dcid_len > 0 && other.quic_state != quic::OPEN_SENT {
            q.vers[0] = h.version;
            this.quic_state = quic::OPEN_SENT;
        } else if h.scid_len > 0 && other.quic_state == quic::OPEN_SENT {
            q.vers[1] = h.version;
            if q.vers[0] == q.vers[1] {
                this.quic_state = quic::DATA_SENT;
                other.quic_state = quic::DATA_SENT;
                this.is_quic = true;
                other.is_quic = true;
            }
        }
        // Tstat also looks for a 0-RTT packet coalesced after the Initial, but parses its
        // header from a 5-byte window, which never yields a long header: nothing is counted.
        initial = Some(h);
    } else if sane && h.ptype == 1 && h.dcid_len > 0 && this.quic_state == quic::OPEN_SENT {
        q.zero_rtt = q.zero_rtt.wrapping_add(1);
    }
    if this.is_quic && other.is_quic {
        this.ty = UDP_QUIC;
        other.ty = UDP_QUIC;
    }
    initial
}

/// `check_udp_vod`: 1316-byte datagrams (7 MPEG2-TS packets) starting with the 0x47 sync byte,
/// or three consecutive ones with the same scrambled first bytes, make both directions VOD.
pub(super) fn check_vod(this: &mut Dir, other: &mut Dir, p: &[u8], payload_len: u32) {
    if this.is_vod && other.is_vod {
        return;
    }
    let Some(&first) = p.first() else {
        this.first_vod = true;
        return;
    };
    if payload_len + 8 != 1324 {
        this.first_vod = true;
        return;
    }
    // Tstat's `data_len > 196`: the second TS packet's sync byte is captured.
    let second = p.get(188).copied();
    let confirm = |this: &mut Dir, other: &mut Dir| {
        this.is_vod = true;
        other.is_vod = true;
        this.ty = UDP_VOD;
        other.ty = UDP_VOD;
    };
    let sync = match second {
        Some(s) => first == 0x47 && s == 0x47,
        None => first == 0x47,
    };
    if sync {
        this.first_vod = false;
        confirm(this, other);
        return;
    }
    let sig = [i16::from(first), second.map_or(-1, i16::from)];
    if this.first_vod {
        this.first_vod = false;
        this.vod_sig = sig;
        this.vod_count = 1;
        return;
    }
    let same = match second {
        Some(_) => this.vod_sig == sig,
        None => this.vod_sig[0] == sig[0],
    };
    if same {
        this.vod_count = this.vod_count.wrapping_add(1);
        if this.vod_count == 3 {
            confirm(this, other);
        }
    } else {
        this.first_vod = true;
    }
}

/// `check_udp_obfuscate`: request/response size pairs typical of obfuscated eMule KAD
/// (43 → 52+25k, 59 → 68+25k, 36..70 → 22, 46..57 → 52 or 46..57). A match marks the flow
/// (`flow_kad`), which is printed as obfuscated KAD where the type stayed unknown.
pub(super) fn check_obfuscate(this: &mut Dir, other: &mut Dir, flow_kad: &mut u8, ulen: u32) {
    if this.obfuscate_state || other.obfuscate_state {
        return;
    }
    let mut mark = |other: &mut Dir, state: u8| {
        other.kad_state = state;
        other.obfuscate_state = true;
        *flow_kad = state;
    };
    let last = u32::from(other.obfuscate_last_len);
    match ulen {
        43 => this.kad_state = okad::REQ43,
        59 => this.kad_state = okad::REQ59,
        22 => {
            if (36..=70).contains(&last) {
                mark(other, okad::SIZEX_22);
            }
        }
        _ if ulen >= 52 && (ulen - 52) % 25 == 0 => {
            if other.kad_state == okad::REQ43 {
                mark(other, okad::RES52_K25);
            } else if ulen == 52 && (46..=57).contains(&last) {
                mark(other, okad::SIZEX_52);
            } else {
                other.kad_state = okad::UNKNOWN;
            }
        }
        _ if ulen >= 68 && (ulen - 68) % 25 == 0 => {
            if other.kad_state == okad::REQ59 {
                mark(other, okad::RES68_K25);
            } else {
                other.kad_state = okad::UNKNOWN;
            }
        }
        _ if (46..=57).contains(&ulen) && (46..=57).contains(&last) => {
            mark(other, okad::SIZE_IN_46_57);
        }
        _ => {
            this.kad_state = okad::UNKNOWN;
            other.kad_state = okad::UNKNOWN;
        }
    }
    this.obfuscate_last_len = ulen as u16;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::l7::udp::types::UDP_UNKNOWN;

    /// A 20-byte uTP header: type/version byte, extension, connection id, then zeros except the
    /// sequence number (offset 16) and ack number (offset 18).
    fn utp(ty_ver: u8, conn: u16, seq: u16, ack: u16) -> Vec<u8> {
        let mut p = vec![ty_ver, 0];
        p.extend_from_slice(&conn.to_be_bytes());
        p.extend_from_slice(&[0; 12]);
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ack.to_be_bytes());
        p
    }

    #[test]
    fn utp_syn_then_state() {
        let (mut c, mut s) = (Dir::default(), Dir::default());
        // ST_SYN (0x41) from the client with connection id 1000, seq 7.
        let syn = utp(0x41, 1000, 7, 0);
        check_utp(&mut c, &mut s, &syn, syn.len() as u32);
        assert_eq!((c.utp_state, s.utp_state), (utp::SYN_SENT, utp::SYN_SEEN));
        // ST_STATE (0x21) from the server: same connection id, ack = the SYN's seq.
        let st = utp(0x21, 1000, 50, 7);
        check_utp(&mut s, &mut c, &st, st.len() as u32);
        assert!(c.is_utp && s.is_utp);
        assert_eq!((c.ty, s.ty), (P2P_UTP, P2P_UTP));
    }

    #[test]
    fn utp_data_with_neighbour_id_and_bt() {
        let (mut c, mut s) = (Dir::default(), Dir::default());
        c.ty = P2P_BT;
        check_utp(&mut c, &mut s, &utp(0x01, 500, 1, 0), 20);
        // Wrong id: nothing.
        check_utp(&mut s, &mut c, &utp(0x21, 510, 1, 1), 20);
        assert!(!s.is_utp);
        check_utp(&mut s, &mut c, &utp(0x21, 501, 1, 1), 20);
        assert_eq!((c.ty, s.ty), (P2P_UTPBT, P2P_UTP));
        // No wrap-around: 65535 and 0 are not neighbours.
        let (mut a, mut b) = (Dir::default(), Dir::default());
        check_utp(&mut a, &mut b, &utp(0x01, 65535, 1, 0), 20);
        check_utp(&mut b, &mut a, &utp(0x21, 0, 1, 1), 20);
        assert!(!b.is_utp);
        // Too short or not uTP-looking datagrams are ignored.
        let (mut a, mut b) = (Dir::default(), Dir::default());
        check_utp(&mut a, &mut b, &utp(0x41, 1, 1, 1)[..19], 19);
        check_utp(&mut a, &mut b, &utp(0x40, 1, 1, 1), 20);
        assert_eq!(a.utp_state, utp::UNKNOWN);
    }

    /// A QUIC v1 Initial: long header, DCID/SCID, empty token, a 2-byte length and payload.
    fn initial(version: u32, dcid: &[u8], scid: &[u8]) -> Vec<u8> {
        let mut p = vec![0xc3];
        p.extend_from_slice(&version.to_be_bytes());
        p.push(dcid.len() as u8);
        p.extend_from_slice(dcid);
        p.push(scid.len() as u8);
        p.extend_from_slice(scid);
        p.push(0); // token length
        p.extend_from_slice(&[0x44, 0xd0]); // length 1232
        p.extend_from_slice(&[0xaa; 40]);
        p
    }

    #[test]
    fn quic_header_fields() {
        let p = initial(1, &[1; 8], &[]);
        let h = parse_quic_hdr(&p);
        assert!(h.long && h.fixed);
        assert_eq!(
            (h.ptype, h.version, h.dcid_len, h.scid_len),
            (0, [0, 0, 0, 1], 8, 0)
        );
        assert_eq!((h.token_len, h.pkt_len), (1, 0x4d0));
        assert_eq!(varint(&[0x25], 0), (0x25, 1));
        assert_eq!(varint(&[0x7b, 0xbd], 0), (0x3bbd, 2));
        assert_eq!(varint(&[0x9d, 0x7f, 0x3e, 0x7d], 0), (0x1d7f_3e7d, 4));
        assert_eq!(parse_quic_hdr(&[0x40, 1, 2]), QuicHdr::default());
    }

    #[test]
    fn quic_initial_exchange() {
        let (mut c, mut s, mut q) = (Dir::default(), Dir::default(), QuicFlow::default());
        let ci = initial(1, &[1; 8], &[]);
        assert!(check_quic(&mut c, &mut s, &mut q, &ci, ci.len() as u32).is_some());
        assert_eq!(c.quic_state, quic::OPEN_SENT);
        // A 0-RTT packet (type 1) from the client before the server answers.
        let mut zrtt = initial(1, &[1; 8], &[]);
        zrtt[0] = 0xd3;
        check_quic(&mut c, &mut s, &mut q, &zrtt, zrtt.len() as u32);
        assert_eq!(q.zero_rtt, 1);
        let si = initial(1, &[], &[2; 8]);
        check_quic(&mut s, &mut c, &mut q, &si, si.len() as u32);
        assert!(c.is_quic && s.is_quic);
        assert_eq!((c.ty, s.ty), (UDP_QUIC, UDP_QUIC));
        assert_eq!(q.vers, [[0, 0, 0, 1]; 2]);
    }

    #[test]
    fn quic_version_mismatch_and_gquic() {
        let (mut c, mut s, mut q) = (Dir::default(), Dir::default(), QuicFlow::default());
        let ci = initial(1, &[1; 8], &[]);
        check_quic(&mut c, &mut s, &mut q, &ci, ci.len() as u32);
        let si = initial(0x6b33_43cf, &[], &[2; 8]);
        check_quic(&mut s, &mut c, &mut q, &si, si.len() as u32);
        assert!(!c.is_quic);
        // Google QUIC Q043 public header (flags 0x0d): not recognised.
        let (mut a, mut b, mut q2) = (Dir::default(), Dir::default(), QuicFlow::default());
        let mut g = vec![0x0d, 1, 2, 3, 4, 5, 6, 7, 8, b'Q', b'0', b'4', b'3', 1];
        g.extend_from_slice(&[0; 30]);
        check_quic(&mut a, &mut b, &mut q2, &g, g.len() as u32);
        assert_eq!(a.quic_state, quic::UNKNOWN);
    }

    #[test]
    fn vod_sync_bytes() {
        let (mut c, mut s) = (Dir::default(), Dir::default());
        let mut p = vec![0u8; 1316];
        p[0] = 0x47;
        p[188] = 0x47;
        check_vod(&mut c, &mut s, &p, 1316);
        assert_eq!((c.ty, s.ty), (UDP_VOD, UDP_VOD));
        // Wrong size: never.
        let (mut a, mut b) = (Dir::default(), Dir::default());
        check_vod(&mut a, &mut b, &p[..1000], 1000);
        assert_eq!(a.ty, UDP_UNKNOWN);
    }

    #[test]
    fn vod_scrambled_needs_three() {
        let (mut c, mut s) = (Dir::default(), Dir::default());
        let mut p = vec![0u8; 1316];
        p[0] = 0x12;
        p[188] = 0x34;
        check_vod(&mut c, &mut s, &[1], 1); // sets first_vod
        for _ in 0..2 {
            check_vod(&mut c, &mut s, &p, 1316);
            assert_eq!(c.ty, UDP_UNKNOWN);
        }
        check_vod(&mut c, &mut s, &p, 1316);
        assert_eq!(c.ty, UDP_VOD);
    }

    #[test]
    fn obfuscated_kad_sizes() {
        let (mut c, mut s, mut k) = (Dir::default(), Dir::default(), 0);
        check_obfuscate(&mut c, &mut s, &mut k, 43);
        check_obfuscate(&mut s, &mut c, &mut k, 77); // 52 + 25
        assert_eq!(k, okad::RES52_K25);
        assert!(c.obfuscate_state);
        let (mut c, mut s, mut k) = (Dir::default(), Dir::default(), 0);
        check_obfuscate(&mut c, &mut s, &mut k, 50);
        check_obfuscate(&mut s, &mut c, &mut k, 22);
        assert_eq!(k, okad::SIZEX_22);
        let (mut c, mut s, mut k) = (Dir::default(), Dir::default(), 0);
        check_obfuscate(&mut c, &mut s, &mut k, 100);
        check_obfuscate(&mut s, &mut c, &mut k, 200);
        assert_eq!(k, okad::UNKNOWN);
    }
}
