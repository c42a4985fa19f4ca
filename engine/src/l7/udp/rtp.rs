//! Tstat's RTP plugin as far as it decides a direction's type (`rtp.c`: `rtp_flow_stat`,
//! `init_rtp`, `rtp_plus_check`, `rtp_plus_stat`, `RFC7983_classify`): a direction whose
//! datagram looks like RTP or RTCP (RFC 7983 demultiplexing, both ports above 1024) becomes
//! `FIRST_RTP_PLUS` (28) and is confirmed `RTP_PLUS` (29) by the next in-sequence RTP packet or
//! second RTCP packet of a known SSRC; anything that is neither RTP/RTCP nor an allowed
//! multiplexed protocol (STUN, ZRTP, DTLS, TURN, MTURN) sends it back to unknown.
//!
//! Owns the per-direction SSRC lists (allocated once, on the first candidate datagram). The
//! media statistics of `log_mm_complete` are not computed here.

use super::types::{FIRST_RTP_PLUS, RTP_PLUS, UDP_DTLS, UDP_UNKNOWN};

/// `MAX_COUNT_RTP_SSRC`: longest SSRC list a direction may hold.
const MAX_SSRC: usize = 1000;
/// `RTP_SSRC_MAX_SINGLETON`: most SSRCs seen only once before the direction is dropped.
const MAX_SINGLETON: usize = 10;
/// `RTCP_MIN_PT` / `RTCP_MAX_PT`.
const RTCP_PT: std::ops::RangeInclusive<u8> = 200..=204;

/// RFC 7983 first-byte demultiplexing, as `RFC7983_classify` does it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rfc7983 {
    /// STUN (0–3).
    Stun,
    /// ZRTP (16–19).
    Zrtp,
    /// DTLS (20–63).
    Dtls,
    /// TURN channel (64–79).
    Turn,
    /// RTP (128–191, an assigned payload type).
    Rtp,
    /// RTCP (128–191, packet type 200–204).
    Rtcp,
    /// Skype/Teams MTURN (`ff 10`).
    Mturn,
    /// Anything else.
    Unknown,
}

/// Payload types Tstat accepts as RTP (`rtp_valid_pt`).
fn valid_pt(pt: u8) -> bool {
    matches!(pt, 0 | 3..=18 | 25 | 26 | 28 | 31..=34 | 96..=127)
}

/// Classifies a datagram by its first bytes (`p` holds at least 2 bytes).
pub(super) fn classify(p: &[u8]) -> Rfc7983 {
    let (b0, b1) = match p {
        [a, b, ..] => (*a, *b),
        _ => return Rfc7983::Unknown,
    };
    match b0 {
        0..=3 => Rfc7983::Stun,
        16..=19 => Rfc7983::Zrtp,
        20..=63 => Rfc7983::Dtls,
        64..=79 => Rfc7983::Turn,
        128..=191 if valid_pt(b1 & 0x7f) => Rfc7983::Rtp,
        128..=191 if RTCP_PT.contains(&b1) => Rfc7983::Rtcp,
        0xff if b1 == 0x10 => Rfc7983::Mturn,
        _ => Rfc7983::Unknown,
    }
}

/// One SSRC sub-flow: what the type decisions need of Tstat's `struct rtp` / `struct rtcp`.
#[derive(Debug, Clone, Copy)]
struct Sub {
    ssrc: u32,
    /// First sequence number (RTP only).
    seq0: u16,
    /// Packets counted for the sub-flow (`pnum`), saturating.
    pnum: u32,
}

/// A direction's RTP and RTCP SSRC lists (Tstat's `flow_ptr`); present once `init_rtp`
/// accepted a datagram, and never dropped afterwards.
#[derive(Debug, Default)]
pub(super) struct RtpDir {
    rtp: Vec<Sub>,
    rtcp: Vec<Sub>,
}

/// The fields of the fixed RTP header (`p` holds at least 12 bytes).
struct Hdr {
    seq: u16,
    /// RTP timestamp, which is where RTCP carries its sender SSRC.
    ts: u32,
    ssrc: u32,
}

fn hdr(p: &[u8]) -> Hdr {
    let be32 = |i: usize| u32::from_be_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
    Hdr {
        seq: u16::from_be_bytes([p[2], p[3]]),
        ts: be32(4),
        ssrc: be32(8),
    }
}

/// `rtp_extensions_size`: 4 bytes plus the RFC 5285 extension length when the X bit is set.
/// Bytes that were not captured count as zero.
fn extensions_size(p: &[u8]) -> i64 {
    if p[0] & 0x10 == 0 {
        return 0;
    }
    let at = 12 + usize::from(p[0] & 0x0f) * 4;
    let b = |i: usize| p.get(at + i).copied().unwrap_or(0);
    let words = i64::from(u16::from_be_bytes([b(2), b(3)]));
    if (b(0) == 0xbe && b(1) == 0xde) || (b(0) == 0x10 && b(1) & 0xf0 == 0) {
        4 + 4 * words
    } else {
        4
    }
}

/// Outcome of looking an SSRC up (`rtp_locate_ssrc`): its index, or whether a new sub-flow may
/// be added (list not too long, not too many singletons).
enum Lookup {
    Found(usize),
    Add,
    Reject,
}

fn lookup(list: &[Sub], ssrc: u32) -> Lookup {
    if let Some(i) = list.iter().position(|s| s.ssrc == ssrc) {
        return Lookup::Found(i);
    }
    let singletons = list.iter().filter(|s| s.pnum <= 1).count();
    if list.len() < MAX_SSRC && singletons <= MAX_SINGLETON {
        Lookup::Add
    } else {
        Lookup::Reject
    }
}

/// What the RTP plugin sees of the current datagram.
pub(super) struct Dgram<'a> {
    /// Captured payload (at least 12 bytes: `getrtp` refuses shorter ones).
    pub p: &'a [u8],
    /// `UDP length − 8`.
    pub payload_len: u32,
    /// Both ports of the flow are above 1024.
    pub high_ports: bool,
}

/// Whether [`flow_stat`] can do anything for a direction of type `ty` with lists `state`.
#[inline]
pub(super) fn wants(ty: u8, state: &Option<Box<RtpDir>>) -> bool {
    match ty {
        UDP_UNKNOWN | UDP_DTLS => state.is_none(),
        FIRST_RTP_PLUS | RTP_PLUS => state.is_some(),
        _ => false,
    }
}

/// `rtp_flow_stat` for one direction: updates `ty` and the lists in `state`.
pub(super) fn flow_stat(ty: &mut u8, state: &mut Option<Box<RtpDir>>, d: &Dgram<'_>) {
    match *ty {
        UDP_UNKNOWN | UDP_DTLS if state.is_none() => init(ty, state, d),
        FIRST_RTP_PLUS => {
            if let Some(s) = state {
                plus_check(ty, s, d);
            }
        }
        RTP_PLUS => {
            if let Some(s) = state {
                plus_stat(ty, s, d);
            }
        }
        _ => {}
    }
}

/// `init_rtp`: the first RTP or RTCP datagram of the direction (ports above 1024) opens the
/// corresponding list and makes the direction `FIRST_RTP_PLUS`.
fn init(ty: &mut u8, state: &mut Option<Box<RtpDir>>, d: &Dgram<'_>) {
    if !d.high_ports {
        return;
    }
    let h = hdr(d.p);
    let mut s = RtpDir::default();
    match classify(d.p) {
        Rfc7983::Rtcp => s.rtcp.push(Sub {
            ssrc: h.ts,
            seq0: 0,
            pnum: 1,
        }),
        Rfc7983::Rtp => s.rtp.push(Sub {
            ssrc: h.ssrc,
            seq0: h.seq,
            pnum: 1,
        }),
        _ => return,
    }
    *state = Some(Box::new(s));
    *ty = FIRST_RTP_PLUS;
}

/// The MTURN format check shared by both states: `ff 10`, a length equal to the UDP length
/// − 12; otherwise the direction is no longer RTP.
fn mturn_ok(d: &Dgram<'_>) -> bool {
    i64::from(d.payload_len) + 8 == i64::from(u16::from_be_bytes([d.p[2], d.p[3]])) + 12
}

/// `rtp_plus_check`: a `FIRST_RTP_PLUS` direction waits for confirmation.
fn plus_check(ty: &mut u8, s: &mut RtpDir, d: &Dgram<'_>) {
    let h = hdr(d.p);
    match classify(d.p) {
        Rfc7983::Rtp => match lookup(&s.rtp, h.ssrc) {
            Lookup::Found(i) => {
                let sub = &mut s.rtp[i];
                if sub.seq0.wrapping_add(sub.pnum as u16) == h.seq {
                    sub.pnum = sub.pnum.saturating_add(1);
                    *ty = RTP_PLUS;
                }
            }
            Lookup::Add => s.rtp.push(Sub {
                ssrc: h.ssrc,
                seq0: h.seq,
                pnum: 1,
            }),
            Lookup::Reject => *ty = UDP_UNKNOWN,
        },
        Rfc7983::Rtcp => match lookup(&s.rtcp, h.ts) {
            Lookup::Found(i) => {
                let sub = &mut s.rtcp[i];
                if sub.pnum == 1 {
                    sub.pnum = 2;
                    *ty = RTP_PLUS;
                }
            }
            Lookup::Add => s.rtcp.push(Sub {
                ssrc: h.ts,
                seq0: 0,
                pnum: 1,
            }),
            Lookup::Reject => *ty = UDP_UNKNOWN,
        },
        Rfc7983::Unknown => *ty = UDP_UNKNOWN,
        Rfc7983::Mturn => {
            if !mturn_ok(d) {
                *ty = UDP_UNKNOWN;
            }
        }
        Rfc7983::Stun | Rfc7983::Zrtp | Rfc7983::Dtls | Rfc7983::Turn => {}
    }
}

/// `rtp_plus_stat`: a confirmed `RTP_PLUS` direction keeps its type while datagrams stay
/// RTP/RTCP (or allowed multiplexed protocols).
fn plus_stat(ty: &mut u8, s: &mut RtpDir, d: &Dgram<'_>) {
    let h = hdr(d.p);
    let kind = classify(d.p);
    if matches!(kind, Rfc7983::Rtp | Rfc7983::Rtcp) && !d.high_ports {
        *ty = UDP_UNKNOWN;
        return;
    }
    match kind {
        Rfc7983::Rtp => match lookup(&s.rtp, h.ssrc) {
            Lookup::Found(i) => {
                let cc = i64::from(d.p[0] & 0x0f);
                if i64::from(d.payload_len) - 12 - cc * 4 - extensions_size(d.p) >= 0 {
                    let sub = &mut s.rtp[i];
                    sub.pnum = sub.pnum.saturating_add(1);
                } else {
                    *ty = UDP_UNKNOWN;
                }
            }
            Lookup::Add => s.rtp.push(Sub {
                ssrc: h.ssrc,
                seq0: h.seq,
                pnum: 1,
            }),
            Lookup::Reject => *ty = UDP_UNKNOWN,
        },
        Rfc7983::Rtcp => match lookup(&s.rtcp, h.ts) {
            Lookup::Found(i) => {
                let sub = &mut s.rtcp[i];
                sub.pnum = sub.pnum.saturating_add(1);
            }
            Lookup::Add => s.rtcp.push(Sub {
                ssrc: h.ts,
                seq0: 0,
                pnum: 1,
            }),
            Lookup::Reject => *ty = UDP_UNKNOWN,
        },
        Rfc7983::Unknown => *ty = UDP_UNKNOWN,
        Rfc7983::Mturn => {
            if !mturn_ok(d) {
                *ty = UDP_UNKNOWN;
            }
        }
        Rfc7983::Stun | Rfc7983::Zrtp | Rfc7983::Dtls | Rfc7983::Turn => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RTP packet: V=2, PT 0 (PCMU), the given sequence number, SSRC 0x11223344, 20 bytes of
    /// media.
    fn rtp(seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, 0x00];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 160]); // timestamp
        p.extend_from_slice(&[0x11, 0x22, 0x33, 0x44]); // SSRC
        p.extend_from_slice(&[0xff; 20]);
        p
    }

    /// An RTCP receiver report (PT 201, RC 0) from SSRC 0x55667788.
    fn rtcp() -> Vec<u8> {
        vec![0x80, 201, 0, 1, 0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0]
    }

    fn run(ty: &mut u8, s: &mut Option<Box<RtpDir>>, p: &[u8], high: bool) {
        let d = Dgram {
            p,
            payload_len: p.len() as u32,
            high_ports: high,
        };
        flow_stat(ty, s, &d);
    }

    #[test]
    fn rfc7983_first_byte() {
        assert_eq!(classify(&rtp(1)), Rfc7983::Rtp);
        assert_eq!(classify(&rtcp()), Rfc7983::Rtcp);
        assert_eq!(classify(&[0x00, 0x01]), Rfc7983::Stun);
        assert_eq!(classify(&[0x17, 0xfe]), Rfc7983::Dtls);
        assert_eq!(classify(&[0xff, 0x10]), Rfc7983::Mturn);
        // PT 72 is neither an assigned RTP type nor RTCP (200 = 0x80|72).
        assert_eq!(classify(&[0x80, 72]), Rfc7983::Unknown);
        assert_eq!(classify(&[0x50, 0]), Rfc7983::Unknown);
    }

    #[test]
    fn rtp_confirmed_by_next_sequence_number() {
        let (mut ty, mut s) = (UDP_UNKNOWN, None);
        run(&mut ty, &mut s, &rtp(100), true);
        assert_eq!(ty, FIRST_RTP_PLUS);
        run(&mut ty, &mut s, &rtp(105), true); // out of sequence: still waiting
        assert_eq!(ty, FIRST_RTP_PLUS);
        run(&mut ty, &mut s, &rtp(101), true);
        assert_eq!(ty, RTP_PLUS);
        run(
            &mut ty,
            &mut s,
            &[0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0],
            true,
        ); // STUN
        assert_eq!(ty, RTP_PLUS);
        run(&mut ty, &mut s, &[0x50; 12], true);
        assert_eq!(ty, UDP_UNKNOWN);
        // The lists stay: the direction is never re-initialised.
        run(&mut ty, &mut s, &rtp(200), true);
        assert_eq!(ty, UDP_UNKNOWN);
    }

    #[test]
    fn rtcp_needs_two_packets_and_high_ports() {
        let (mut ty, mut s) = (UDP_UNKNOWN, None);
        run(&mut ty, &mut s, &rtcp(), false);
        assert_eq!((ty, s.is_none()), (UDP_UNKNOWN, true));
        run(&mut ty, &mut s, &rtcp(), true);
        assert_eq!(ty, FIRST_RTP_PLUS);
        run(&mut ty, &mut s, &rtcp(), true);
        assert_eq!(ty, RTP_PLUS);
    }

    #[test]
    fn too_many_singletons_drop_the_direction() {
        let (mut ty, mut s) = (UDP_UNKNOWN, None);
        for ssrc in 0..=11u8 {
            let mut p = rtp(1);
            p[11] = ssrc;
            run(&mut ty, &mut s, &p, true);
        }
        assert_eq!(ty, UDP_UNKNOWN);
    }
}
