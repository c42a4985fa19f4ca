//! Tstat's UDP classification, as its default build runs it on every datagram
//! (`proto_analyzer` after `udp_flow_stat`): the `c_type`/`s_type` codes and the QUIC columns
//! of `log_udp_complete`.
//!
//! Owns the per-flow UDP classifier state ([`UdpL7`]) and the order in which Tstat's plugins see
//! a datagram:
//! 1. `P2P` (`p2p.c`, module `ipp2p`): payload signatures, only while the direction is unknown
//!    (or uTP) and has sent at most 40 datagrams;
//! 2. `RTP` (`rtp.c`, module `rtp`): RTP/RTCP/RFC 7983 multiplexing (`FIRST_RTP_PLUS`,
//!    `RTP_PLUS`);
//! 3. `BEHAVIORAL` (`udp.c`, module `behavioral`): uTP (while the flow has fewer than 40
//!    datagrams, this one included), IETF QUIC (60), MPEG2-TS VOD (40) and obfuscated-KAD sizes
//!    (10); each QUIC Initial is also decrypted for the ClientHello (module `quic_tls`, with the
//!    AES/SHA-256/HKDF of module `crypto`): `quic_SNI`, `quic_UA`, `quic_ech`.
//!
//! The Skype plugin is registered only with `-B` (Bayesian engine), so Skype codes never appear
//! here; neither do the `P2P_OLDPROTO` signatures (Gnutella, Kazaa, DirectConnect), compiled
//! out of Tstat's default build. Types are kept per direction; [`UdpL7::record`] applies
//! Tstat's printing rules (`UDP_p2p_to_logtype`): an unknown direction of a flow that matched
//! an obfuscated-KAD size pattern prints 18 unless port 123 is involved.
//!
//! Not owned: the flow counters (`crate::udp`), DN-Hunter, and the DNS log (with
//! `log_dns_complete`, Tstat also turns LDNS-parseable datagrams of unknown directions into 19:
//! done here, last, with [`ldns`], which also flags the datagram for the DNS log).

mod behavioral;
mod crypto;
mod ipp2p;
pub mod ldns;
mod quic_tls;
mod rtp;

use super::UdpCtx;
use crate::record::{InlineStr, UdpL7Record};
use behavioral::okad;
use ipp2p::P2p;

/// Tstat's UDP type codes (`enum udp_type`), as printed in `c_type` / `s_type`.
pub mod types {
    /// Unknown.
    pub const UDP_UNKNOWN: u8 = 0;
    /// Possible RTP (legacy, first packet).
    pub const FIRST_RTP: u8 = 1;
    /// Possible RTCP (legacy, first packet).
    pub const FIRST_RTCP: u8 = 2;
    /// RTP (legacy).
    pub const RTP: u8 = 3;
    /// RTCP (legacy).
    pub const RTCP: u8 = 4;
    /// Skype end-to-end.
    pub const SKYPE_E2E: u8 = 5;
    /// SkypeOut.
    pub const SKYPE_OUT: u8 = 6;
    /// Skype signalling.
    pub const SKYPE_SIG: u8 = 7;
    /// eDonkey / eMule.
    pub const P2P_EDK: u8 = 8;
    /// KAD.
    pub const P2P_KAD: u8 = 9;
    /// KAD AdunanzA.
    pub const P2P_KADU: u8 = 10;
    /// Gnutella.
    pub const P2P_GNU: u8 = 11;
    /// BitTorrent DHT.
    pub const P2P_BT: u8 = 12;
    /// DirectConnect.
    pub const P2P_DC: u8 = 13;
    /// Kazaa.
    pub const P2P_KAZAA: u8 = 14;
    /// PPLive.
    pub const P2P_PPLIVE: u8 = 15;
    /// SopCast.
    pub const P2P_SOPCAST: u8 = 16;
    /// TVAnts.
    pub const P2P_TVANTS: u8 = 17;
    /// Obfuscated KAD (printing rule only).
    pub const P2P_OKAD: u8 = 18;
    /// DNS.
    pub const DNS: u8 = 19;
    /// uTP.
    pub const P2P_UTP: u8 = 20;
    /// uTP carrying BitTorrent DHT.
    pub const P2P_UTPBT: u8 = 21;
    /// MPEG2-TS video on demand.
    pub const UDP_VOD: u8 = 22;
    /// PPStream.
    pub const P2P_PPSTREAM: u8 = 23;
    /// Teredo.
    pub const TEREDO: u8 = 24;
    /// SIP.
    pub const UDP_SIP: u8 = 25;
    /// DTLS.
    pub const UDP_DTLS: u8 = 26;
    /// QUIC.
    pub const UDP_QUIC: u8 = 27;
    /// Possible RTP/RTCP multiplexed per RFC 7983.
    pub const FIRST_RTP_PLUS: u8 = 28;
    /// RTP/RTCP multiplexed per RFC 7983.
    pub const RTP_PLUS: u8 = 29;
    /// Skype/Teams MTURN.
    pub const UDP_MTURN: u8 = 30;
}

use types::*;

/// `MAX_UNKNOWN_PACKETS`: datagrams per direction the P2P signatures are tried on.
const MAX_UNKNOWN_PACKETS: u8 = 40;
/// `MAX_UDP_UTP`: the uTP check runs while the flow has fewer datagrams (this one included).
const MAX_UDP_UTP: u64 = 40;
/// `MAX_UDP_QUIC`.
const MAX_UDP_QUIC: u64 = 60;
/// `MAX_UDP_VOD`.
const MAX_UDP_VOD: u64 = 40;
/// `MAX_UDP_OBFUSCATE`.
const MAX_UDP_OBFUSCATE: u64 = 10;

/// Classifier state of one direction (the classification part of Tstat's `ucb`).
#[derive(Debug, Default)]
struct Dir {
    /// `type`: the direction's UDP type code.
    ty: u8,
    /// Datagrams of the direction so far (saturating; only compared with 40).
    pkts: u8,
    kad_state: u8,
    obfuscate_state: bool,
    obfuscate_last_len: u16,
    utp_state: u8,
    is_utp: bool,
    utp_conn_id: u16,
    utp_syn_seq_nr: u16,
    quic_state: u8,
    is_quic: bool,
    vod_sig: [i16; 2],
    vod_count: u16,
    first_vod: bool,
    is_vod: bool,
    /// The RTP plugin's SSRC lists, allocated once by the first RTP/RTCP-looking datagram.
    rtp: Option<Box<rtp::RtpDir>>,
}

/// Flow-level QUIC facts (Tstat keeps them in the `udp_pair`).
#[derive(Debug, Default)]
struct QuicFlow {
    /// Versions of the client's and of the server's Initial.
    vers: [[u8; 4]; 2],
    /// 0-RTT packets (Tstat's `uint8_t`, wrapping).
    zero_rtt: u8,
    /// ClientHello reassembly and the fields found in it; allocated by the first Initial.
    hello: Option<Box<quic_tls::Hello>>,
}

/// Per-flow UDP classifier state.
#[derive(Debug, Default)]
pub struct UdpL7 {
    dirs: [Dir; 2],
    /// Client and server ports (from the first datagram).
    ports: [u16; 2],
    /// `pup->kad_state`: the obfuscated-KAD pattern the flow matched, if any.
    kad_state: u8,
    quic: QuicFlow,
    /// The last datagram parsed as DNS with the DNS log on (`log_dns_complete`).
    dns_message: bool,
}

impl UdpL7 {
    /// Whether the datagram just looked at is a DNS message for `log_dns_complete`. Taken once.
    #[inline]
    pub fn take_dns_message(&mut self) -> bool {
        std::mem::take(&mut self.dns_message)
    }

    /// Looks at one datagram (after the flow's counters were updated).
    pub fn on_datagram(&mut self, ctx: &UdpCtx<'_>) {
        let dir = ctx.dir & 1;
        if ctx.packets <= 1 {
            self.ports = if dir == 0 {
                [ctx.src_port, ctx.dst_port]
            } else {
                [ctx.dst_port, ctx.src_port]
            };
        }
        let [c2s, s2c] = &mut self.dirs;
        let (this, other) = if dir == 0 { (c2s, s2c) } else { (s2c, c2s) };
        this.pkts = this.pkts.saturating_add(1);
        let p = ctx.payload;

        // P2P plugin (`p2p_flow_stat`).
        if (this.ty == UDP_UNKNOWN || this.ty == P2P_UTP) && this.pkts <= MAX_UNKNOWN_PACKETS {
            if let Some(m) = ipp2p::udp_match(p, ctx.payload_len) {
                this.ty = match m {
                    P2p::Edk => P2P_EDK,
                    P2p::Kad => P2P_KAD,
                    P2p::Kadu => P2P_KADU,
                    P2p::Bit if this.ty == P2P_UTP => P2P_UTPBT,
                    P2p::Bit => P2P_BT,
                    P2p::PpLive if self.ports.iter().any(|&x| x == 53 || x == 137) => this.ty,
                    P2p::PpLive => P2P_PPLIVE,
                    P2p::SopCast => P2P_SOPCAST,
                    P2p::TvAnts => P2P_TVANTS,
                    P2p::Dns => DNS,
                    P2p::PpStream => P2P_PPSTREAM,
                    P2p::Teredo => TEREDO,
                    P2p::Sip => UDP_SIP,
                    P2p::Dtls => UDP_DTLS,
                    P2p::Mturn => UDP_MTURN,
                };
            }
        }

        // RTP plugin (`getrtp` needs the 12-byte RTP header).
        if p.len() >= 12 && rtp::wants(this.ty, &this.rtp) {
            let d = rtp::Dgram {
                p,
                payload_len: ctx.payload_len,
                high_ports: self.ports.iter().all(|&x| x > 1024),
            };
            rtp::flow_stat(&mut this.ty, &mut this.rtp, &d);
        }

        // BEHAVIORAL plugin.
        let n = ctx.packets;
        if n < MAX_UDP_UTP {
            behavioral::check_utp(this, other, p, ctx.payload_len);
        }
        if n < MAX_UDP_QUIC {
            let q = &mut self.quic;
            if let Some(h) = behavioral::check_quic(this, other, q, p, ctx.payload_len) {
                q.hello
                    .get_or_insert_with(Default::default)
                    .on_initial(p, &h);
            }
        }
        if n < MAX_UDP_VOD {
            behavioral::check_vod(this, other, p, ctx.payload_len);
        }
        if n < MAX_UDP_OBFUSCATE {
            behavioral::check_obfuscate(this, other, &mut self.kad_state, ctx.payload_len + 8);
        }

        // With `log_dns_complete`, a datagram LDNS parses is logged and types an unknown
        // direction as DNS.
        if ctx.dns_log {
            let n = p.len().min(ctx.payload_len as usize);
            if ldns::parses(&p[..n]) {
                self.dns_message = true;
                let d = &mut self.dirs[dir];
                if d.ty == UDP_UNKNOWN {
                    d.ty = DNS;
                }
            }
        }
    }

    /// The type a direction is printed with (`UDP_p2p_to_logtype`).
    fn log_type(&self, d: &Dir) -> u8 {
        match d.ty {
            UDP_UNKNOWN | FIRST_RTP | FIRST_RTCP | FIRST_RTP_PLUS => {
                let okad = matches!(
                    self.kad_state,
                    okad::RES52_K25
                        | okad::RES68_K25
                        | okad::SIZE_IN_46_57
                        | okad::SIZEX_22
                        | okad::SIZEX_52
                );
                if okad && !self.ports.contains(&123) {
                    P2P_OKAD
                } else {
                    d.ty
                }
            }
            // Printed only when the Bayesian classifier confirmed them.
            SKYPE_E2E | SKYPE_OUT => UDP_UNKNOWN,
            t => t,
        }
    }

    /// Each direction's UDP type code as classified so far (Tstat's `ucb.type`).
    #[inline]
    pub fn raw_types(&self) -> [u8; 2] {
        [self.dirs[0].ty, self.dirs[1].ty]
    }

    /// The `L7_FLOW_*` class of direction `dir` in the histograms (`UDP_p2p_to_L7type`).
    /// Without Tstat's Bayesian Skype classifier the Skype types count as unknown, and an
    /// `RTP_PLUS` direction (confirmed by an RTP or RTCP packet) as RTP.
    pub fn l7_type(&self, dir: usize) -> u8 {
        use crate::histo::l7_flow as f;
        match self.dirs[dir & 1].ty {
            RTP | RTP_PLUS => f::RTP,
            RTCP => f::RTCP,
            SKYPE_SIG => f::SKYPE_SIG,
            P2P_EDK => f::EDK,
            P2P_KAD => f::KAD,
            P2P_KADU => f::KADU,
            P2P_DC => f::DC,
            P2P_GNU => f::GNU,
            P2P_KAZAA => f::KAZAA,
            P2P_BT => f::BIT,
            P2P_UTP | P2P_UTPBT => f::UTP,
            P2P_PPLIVE => f::PPLIVE,
            P2P_SOPCAST => f::SOPCAST,
            P2P_TVANTS => f::TVANTS,
            DNS => f::DNS,
            UDP_VOD => f::VOD,
            P2P_PPSTREAM => f::PPSTREAM,
            TEREDO => f::TEREDO,
            UDP_SIP => f::SIP,
            UDP_DTLS => f::DTLS,
            UDP_QUIC => f::QUIC,
            UDP_MTURN => f::MTURN,
            UDP_UNKNOWN | FIRST_RTP | FIRST_RTCP | FIRST_RTP_PLUS
                if self.log_type(&self.dirs[dir & 1]) == P2P_OKAD =>
            {
                f::OBF_KAD
            }
            _ => f::UNKNOWN,
        }
    }

    /// The layer-7 part of the flow's record.
    pub fn record(&self) -> UdpL7Record {
        let mut r = UdpL7Record {
            types: [self.log_type(&self.dirs[0]), self.log_type(&self.dirs[1])],
            ..UdpL7Record::default()
        };
        if let Some(h) = &self.quic.hello {
            r.quic_sni = InlineStr::new(h.sni());
            r.quic_ua = InlineStr::new(h.user_agent());
        }
        if self.dirs[0].is_quic && self.dirs[1].is_quic {
            r.quic_vers = self.quic.vers.map(|v| Some(u32::from_be_bytes(v)));
            r.quic_zero_rtt = u32::from(self.quic.zero_rtt);
            r.quic_ech = self.quic.hello.as_ref().map_or(0, |h| h.ech());
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    struct Flow {
        l7: UdpL7,
        n: u64,
        ports: [u16; 2],
        dns_log: bool,
    }

    impl Flow {
        fn new(c: u16, s: u16) -> Self {
            Flow {
                l7: UdpL7::default(),
                n: 0,
                ports: [c, s],
                dns_log: false,
            }
        }
        fn send(&mut self, dir: usize, p: &[u8]) {
            self.n += 1;
            let (src_port, dst_port) = if dir == 0 {
                (self.ports[0], self.ports[1])
            } else {
                (self.ports[1], self.ports[0])
            };
            self.l7.on_datagram(&UdpCtx {
                dir,
                payload: p,
                payload_len: p.len() as u32,
                src_port,
                dst_port,
                now: Timestamp::default(),
                packets: self.n,
                dns_log: self.dns_log,
            });
        }
        fn types(&self) -> [u8; 2] {
            self.l7.record().types
        }
    }

    const DNS_QUERY: &[u8] = &[
        0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, //
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'o', b'r', b'g', 0, //
        0x00, 0x1c, 0x00, 0x01, // AAAA IN
    ];

    #[test]
    fn dns_both_ways() {
        let mut f = Flow::new(40000, 53);
        f.send(0, DNS_QUERY);
        assert_eq!(f.types(), [DNS, UDP_UNKNOWN]);
        let mut resp = DNS_QUERY.to_vec();
        resp[2] = 0x81;
        f.send(1, &resp);
        assert_eq!(f.types(), [DNS, DNS]);
    }

    #[test]
    fn dns_log_types_ldns_parseable_datagrams() {
        // A NetBIOS name query: not DNS for the P2P signatures, DNS for LDNS.
        let mut nb = vec![0xb1, 0xe6, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 32];
        nb.extend_from_slice(b"FHFAEBEECACACACACACACACACACACAAA");
        nb.extend_from_slice(&[0, 0x00, 0x20, 0x00, 0x01]);
        let mut off = Flow::new(137, 137);
        off.send(0, &nb);
        assert_eq!(off.types(), [UDP_UNKNOWN, UDP_UNKNOWN]);
        assert!(!off.l7.take_dns_message());
        let mut on = Flow::new(137, 137);
        on.dns_log = true;
        on.send(0, &nb);
        assert_eq!(on.types(), [DNS, UDP_UNKNOWN]);
        assert!(on.l7.take_dns_message());
        assert!(!on.l7.take_dns_message());
        on.send(1, &[0xff; 5]);
        assert_eq!(on.types(), [DNS, UDP_UNKNOWN]);
        assert!(!on.l7.take_dns_message());
    }

    #[test]
    fn rtp_flow_becomes_rtp_plus() {
        let mut f = Flow::new(16384, 16386);
        let rtp = |seq: u16| {
            let mut p = vec![0x80, 0x08];
            p.extend_from_slice(&seq.to_be_bytes());
            p.extend_from_slice(&[0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef]);
            p.extend_from_slice(&[0xd5; 160]);
            p
        };
        f.send(0, &rtp(7));
        assert_eq!(f.types(), [FIRST_RTP_PLUS, UDP_UNKNOWN]);
        f.send(0, &rtp(8));
        assert_eq!(f.types(), [RTP_PLUS, UDP_UNKNOWN]);
        // On low ports the same packets are not RTP.
        let mut g = Flow::new(1000, 16386);
        g.send(0, &rtp(7));
        assert_eq!(g.types(), [UDP_UNKNOWN, UDP_UNKNOWN]);
    }

    /// `n` bytes no signature recognises (distinct, increasing values).
    fn opaque(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + 0x51) as u8).collect()
    }

    #[test]
    fn okad_printing_rule() {
        let mut f = Flow::new(4672, 5000);
        f.send(0, &opaque(35)); // UDP length 43
        f.send(1, &opaque(44)); // UDP length 52
        assert_eq!(f.types(), [P2P_OKAD, P2P_OKAD]);
        let mut ntp = Flow::new(123, 5000);
        ntp.send(0, &opaque(35));
        ntp.send(1, &opaque(44));
        assert_eq!(ntp.types(), [UDP_UNKNOWN, UDP_UNKNOWN]);
        // A recognised direction keeps its own type.
        let mut d = Flow::new(4672, 53);
        d.send(0, DNS_QUERY); // UDP length 37, no pattern
        assert_eq!(d.types(), [DNS, UDP_UNKNOWN]);
    }

    #[test]
    fn p2p_gives_up_after_40_datagrams() {
        let mut f = Flow::new(40000, 53);
        for _ in 0..40 {
            f.send(0, &opaque(30));
        }
        f.send(0, DNS_QUERY);
        assert_eq!(f.types()[0], UDP_UNKNOWN);
    }

    #[test]
    fn quic_columns() {
        let mut f = Flow::new(50000, 443);
        let initial = |dcid: &[u8], scid: &[u8]| {
            let mut p = vec![0xc0, 0, 0, 0, 1, dcid.len() as u8];
            p.extend_from_slice(dcid);
            p.push(scid.len() as u8);
            p.extend_from_slice(scid);
            p.extend_from_slice(&[0, 0x40, 0x30]);
            p.extend_from_slice(&[0x5a; 48]);
            p
        };
        f.send(0, &initial(&[9; 8], &[]));
        let r = f.l7.record();
        assert_eq!((r.types, r.quic_vers), ([0, 0], [None, None]));
        f.send(1, &initial(&[], &[7; 8]));
        let r = f.l7.record();
        assert_eq!(r.types, [UDP_QUIC, UDP_QUIC]);
        assert_eq!(r.quic_vers, [Some(1), Some(1)]);
        assert_eq!(r.quic_zero_rtt, 0);
    }

    #[test]
    fn never_panics_on_odd_payloads() {
        let mut f = Flow::new(5000, 6000);
        for len in 0..64usize {
            for fill in [0x00u8, 0x41, 0x80, 0xc0, 0xe4, 0xff] {
                let p: Vec<u8> = (0..len).map(|i| fill ^ (i as u8)).collect();
                f.send(len % 2, &p);
            }
        }
        let _ = f.l7.record();
        // Pseudo-random datagrams with plausible first bytes, on high ports (RTP) and 443.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for ports in [(40000, 50000), (50000, 443)] {
            let mut f = Flow::new(ports.0, ports.1);
            for i in 0..300 {
                let len = (rnd() % 1400) as usize;
                let mut p: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
                if let Some(b) = p.first_mut() {
                    *b = [0x80, 0xc0, 0xc3, 0x41, 0x21, 0x01, 0xff, 0x06][i % 8];
                }
                f.send((rnd() % 2) as usize, &p);
            }
            let _ = f.l7.record();
        }
    }

    #[test]
    fn state_is_small() {
        assert!(
            std::mem::size_of::<UdpL7>() <= 128,
            "{}",
            std::mem::size_of::<UdpL7>()
        );
    }
}
