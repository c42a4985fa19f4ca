//! The decode chain: from a captured frame of a given [`LinkType`] down to a [`Packet`] with its
//! TCP or UDP layer, or a [`Skip`] reason.
//!
//! Owns: the order of the layers and the policy of what is decoded (stacked VLAN tags, MPLS
//! stacks of any depth, PPPoE, one level of IP-in-IP / 6in4, non-first fragments skipped, first
//! fragments decoded) and the Tstat way of computing payload lengths from the IP header rather
//! than from the captured length. Does not own: reading individual header fields (the views in
//! the sibling modules do that), flows, or statistics.
//!
//! Nothing here allocates or panics, whatever the bytes: every header goes through its view's
//! `new_checked`, and every length computation saturates.

use super::ethernet::{
    bsd_af, ethertype, ppp, EthernetFrame, LinuxSll, LinuxSll2, MplsEntry, PppoeSession, VlanTag,
};
use super::ip::{protocol, walk_ipv6_extensions, Ipv4Packet, Ipv6Packet};
use super::tcp::TcpPacket;
use super::udp::UdpPacket;
use super::{LinkType, Packet, Skip, TcpSegment, UdpDatagram, L4};
use std::net::IpAddr;

/// Decodes a captured frame down to its TCP/UDP layer.
///
/// Link layers: Ethernet with any number of 802.1Q / 802.1ad (0x88A8, 0x9100) tags, MPLS label
/// stacks of any depth (the payload's IP version is guessed from its first nibble), PPPoE
/// sessions carrying IPv4/IPv6; Linux SLL and SLL2; BSD NULL (address family in either byte
/// order) and LOOP (network order); raw IPv4/IPv6. The returned [`Packet`] describes the
/// innermost IP header after at most one level of IP-in-IP / IPv6-in-IP is stripped.
///
/// Lengths follow Tstat: a TCP `payload_len` is the IP length minus the IP and TCP headers, and a
/// UDP `payload_len` is the UDP length minus 8, both saturating at 0 and independent of the
/// snap length; `payload` is the captured part of the payload, never longer than `payload_len`
/// (link-layer padding never shows up as payload).
///
/// Errors: [`Skip::UnsupportedLink`] for [`LinkType::Unknown`]; [`Skip::NotIp`] for any other
/// EtherType / PPP protocol / address family; [`Skip::Truncated`] when a header is cut by the
/// capture; [`Skip::Malformed`] for impossible fields (IP version mismatch, IHL < 5, IPv4 total
/// length below the header, TCP data offset < 5); [`Skip::Fragment`] for non-first fragments;
/// [`Skip::OtherL4`] for anything but TCP and UDP, including a second level of encapsulation.
#[inline]
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Packet<'_>, Skip> {
    match link {
        LinkType::Ethernet => {
            let eth = EthernetFrame::new_checked(frame)?;
            by_ethertype(eth.ethertype(), eth.payload())
        }
        LinkType::RawIp => by_version(frame),
        LinkType::Ipv4 => ipv4::<false>(frame),
        LinkType::Ipv6 => ipv6::<false>(frame),
        LinkType::LinuxSll => {
            let sll = LinuxSll::new_checked(frame)?;
            by_ethertype(sll.protocol(), sll.payload())
        }
        LinkType::LinuxSll2 => {
            let sll = LinuxSll2::new_checked(frame)?;
            by_ethertype(sll.protocol(), sll.payload())
        }
        LinkType::Null => bsd_loopback(frame, true),
        LinkType::Loop => bsd_loopback(frame, false),
        LinkType::Unknown(_) => Err(Skip::UnsupportedLink),
    }
}

/// Follows an EtherType through VLAN tags, MPLS and PPPoE down to IP.
#[inline(always)]
fn by_ethertype(mut ethertype: u16, mut rest: &[u8]) -> Result<Packet<'_>, Skip> {
    // Terminates: every tag consumes 4 bytes of `rest`.
    loop {
        match ethertype {
            ethertype::IPV4 => return ipv4::<false>(rest),
            ethertype::IPV6 => return ipv6::<false>(rest),
            ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD => {
                let tag = VlanTag::new_checked(rest)?;
                ethertype = tag.ethertype();
                rest = tag.payload();
            }
            ethertype::MPLS_UNICAST | ethertype::MPLS_MULTICAST => return mpls(rest),
            ethertype::PPPOE_SESSION => return pppoe(rest),
            _ => return Err(Skip::NotIp),
        }
    }
}

/// Skips an MPLS label stack down to the bottom-of-stack entry, then guesses the payload.
fn mpls(mut rest: &[u8]) -> Result<Packet<'_>, Skip> {
    // Terminates: every entry consumes 4 bytes of `rest`.
    loop {
        let entry = MplsEntry::new_checked(rest)?;
        rest = entry.payload();
        if entry.bottom_of_stack() {
            return by_version(rest);
        }
    }
}

/// PPPoE session stage: only PPP-encapsulated IPv4 and IPv6 are decoded.
fn pppoe(rest: &[u8]) -> Result<Packet<'_>, Skip> {
    let session = PppoeSession::new_checked(rest)?;
    match session.protocol() {
        ppp::IPV4 => ipv4::<false>(session.payload()),
        ppp::IPV6 => ipv6::<false>(session.payload()),
        _ => Err(Skip::NotIp),
    }
}

/// BSD loopback: a 4-byte address family, in the capturing host's byte order for NULL (so
/// accepted in either order) and in network order for LOOP.
fn bsd_loopback(frame: &[u8], either_order: bool) -> Result<Packet<'_>, Skip> {
    let header = frame.get(..bsd_af::HEADER_LEN).ok_or(Skip::Truncated)?;
    let rest = frame.get(bsd_af::HEADER_LEN..).unwrap_or(&[]);
    let raw = [header[0], header[1], header[2], header[3]];
    let be = u32::from_be_bytes(raw);
    let le = u32::from_le_bytes(raw);
    let is = |family: u32| be == family || (either_order && le == family);
    if is(bsd_af::INET) {
        ipv4::<false>(rest)
    } else if bsd_af::INET6.iter().any(|&family| is(family)) {
        ipv6::<false>(rest)
    } else {
        Err(Skip::NotIp)
    }
}

/// Raw IP (and the payload of an MPLS stack): picks IPv4 or IPv6 from the version nibble.
#[inline]
fn by_version(bytes: &[u8]) -> Result<Packet<'_>, Skip> {
    match bytes.first().map(|b| b >> 4) {
        Some(4) => ipv4::<false>(bytes),
        Some(6) => ipv6::<false>(bytes),
        Some(_) => Err(Skip::NotIp),
        None => Err(Skip::Truncated),
    }
}

/// What the IP layer hands to the transport layer.
struct Network<'a> {
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    ip_id: u16,
    /// IP length as declared (IPv4 total length, IPv6 payload length + 40).
    ip_len: u32,
    /// Upper-layer protocol.
    protocol: u8,
    /// Declared bytes after all IP headers (saturating at 0).
    l4_len: u32,
    /// Captured bytes after all IP headers (may include link-layer padding).
    l4: &'a [u8],
}

/// IPv4: version/IHL/total-length checks, non-first fragments skipped, then the upper layer.
#[inline(always)]
fn ipv4<const ENCAPSULATED: bool>(bytes: &[u8]) -> Result<Packet<'_>, Skip> {
    let ip = Ipv4Packet::new_checked(bytes)?;
    if ip.frag_offset() != 0 {
        return Err(Skip::Fragment);
    }
    let total_len = ip.total_len();
    transport::<ENCAPSULATED>(Network {
        src: IpAddr::V4(ip.src_addr()),
        dst: IpAddr::V4(ip.dst_addr()),
        ttl: ip.ttl(),
        ip_id: ip.ident(),
        ip_len: u32::from(total_len),
        protocol: ip.protocol(),
        l4_len: u32::from(total_len).saturating_sub(ip.header_len() as u32),
        l4: ip.captured_payload(),
    })
}

/// IPv6: the fixed header, the extension-header walk, then the upper layer.
#[inline(always)]
fn ipv6<const ENCAPSULATED: bool>(bytes: &[u8]) -> Result<Packet<'_>, Skip> {
    let ip = Ipv6Packet::new_checked(bytes)?;
    let after_fixed = ip.captured_payload();
    let upper = walk_ipv6_extensions(ip.next_header(), after_fixed)?;
    let payload_len = u32::from(ip.payload_len());
    transport::<ENCAPSULATED>(Network {
        src: IpAddr::V6(ip.src_addr()),
        dst: IpAddr::V6(ip.dst_addr()),
        ttl: ip.hop_limit(),
        ip_id: 0,
        ip_len: payload_len + Ipv6Packet::<&[u8]>::HEADER_LEN as u32,
        protocol: upper.protocol,
        l4_len: payload_len.saturating_sub(u32::try_from(upper.ext_len).unwrap_or(u32::MAX)),
        l4: after_fixed.get(upper.ext_len..).unwrap_or(&[]),
    })
}

/// Dispatches on the upper-layer protocol; strips one level of IP-in-IP / IPv6-in-IP.
#[inline(always)]
fn transport<const ENCAPSULATED: bool>(net: Network<'_>) -> Result<Packet<'_>, Skip> {
    let l4 = match net.protocol {
        protocol::TCP => L4::Tcp(tcp(net.l4, net.l4_len)?),
        protocol::UDP => L4::Udp(udp(net.l4)?),
        protocol::IPV4 | protocol::IPV6 if !ENCAPSULATED => return tunnel(net.protocol, net.l4),
        _ => return Err(Skip::OtherL4),
    };
    Ok(Packet {
        src: net.src,
        dst: net.dst,
        ttl: net.ttl,
        ip_id: net.ip_id,
        ip_len: net.ip_len,
        l4,
    })
}

/// The inner header of IP-in-IP / IPv6-in-IP: out of line, so that the common path stays small.
#[cold]
#[inline(never)]
fn tunnel(proto: u8, inner: &[u8]) -> Result<Packet<'_>, Skip> {
    if proto == protocol::IPV4 {
        ipv4::<true>(inner)
    } else {
        ipv6::<true>(inner)
    }
}

/// TCP: header checks, options, and the Tstat payload length `l4_len − data offset × 4`.
#[inline(always)]
fn tcp(bytes: &[u8], l4_len: u32) -> Result<TcpSegment<'_>, Skip> {
    let seg = TcpPacket::new_checked(bytes)?;
    let header_len = seg.header_len();
    let payload_len = l4_len.saturating_sub(header_len as u32);
    let captured = seg.payload();
    let payload = captured.get(..payload_len as usize).unwrap_or(captured);
    Ok(TcpSegment {
        src_port: seg.src_port(),
        dst_port: seg.dst_port(),
        seq: seg.seq(),
        ack: seg.ack(),
        flags: seg.flags(),
        window: seg.window(),
        header_len: header_len as u16,
        payload_len,
        payload,
        options: seg.options(),
    })
}

/// UDP: the header, `payload_len = length − 8` (saturating), the payload clamped to it.
#[inline(always)]
fn udp(bytes: &[u8]) -> Result<UdpDatagram<'_>, Skip> {
    let dgram = UdpPacket::new_checked(bytes)?;
    Ok(UdpDatagram {
        src_port: dgram.src_port(),
        dst_port: dgram.dst_port(),
        payload_len: u32::from(dgram.payload_len()),
        payload: dgram.payload(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{TcpFlags, TcpOptions};
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    /// An Ethernet II header with the given EtherType.
    fn eth(ethertype: u16) -> Vec<u8> {
        let [hi, lo] = ethertype.to_be_bytes();
        vec![
            0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // destination MAC
            0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // source MAC
            hi, lo, // EtherType
        ]
    }

    /// A 20-byte IPv4 header 192.168.1.1 → 192.168.1.2, TTL 64, id 0x1234, DF.
    fn ipv4_hdr(total_len: u16, proto: u8) -> Vec<u8> {
        let [hi, lo] = total_len.to_be_bytes();
        vec![
            0x45, // version 4, IHL 5
            0x00, // TOS
            hi, lo, // total length
            0x12, 0x34, // identification
            0x40, 0x00,  // flags DF, fragment offset 0
            0x40,  // TTL 64
            proto, // protocol
            0x00, 0x00, // header checksum (not verified)
            192, 168, 1, 1, // source 192.168.1.1
            192, 168, 1, 2, // destination 192.168.1.2
        ]
    }

    /// A 40-byte IPv6 header 2001:db8::1 → 2001:db8::2, hop limit 64.
    fn ipv6_hdr(payload_len: u16, next_header: u8) -> Vec<u8> {
        let [hi, lo] = payload_len.to_be_bytes();
        vec![
            0x60,
            0x00,
            0x00,
            0x00, // version 6, traffic class 0, flow label 0
            hi,
            lo,          // payload length
            next_header, // next header
            0x40,        // hop limit 64
            0x20,
            0x01,
            0x0d,
            0xb8,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0x01, // source 2001:db8::1
            0x20,
            0x01,
            0x0d,
            0xb8,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0x02, // dest 2001:db8::2
        ]
    }

    /// A 20-byte TCP header 40000 → 80, seq 1000, ack 2000, given flags, window 1024.
    fn tcp20(flags: u8) -> Vec<u8> {
        vec![
            0x9c, 0x40, // source port 40000
            0x00, 0x50, // destination port 80
            0x00, 0x00, 0x03, 0xe8, // sequence number 1000
            0x00, 0x00, 0x07, 0xd0,  // acknowledgement number 2000
            0x50,  // data offset 5
            flags, // flags
            0x04, 0x00, // window 1024
            0x00, 0x00, // checksum (not verified)
            0x00, 0x00, // urgent pointer
        ]
    }

    /// A UDP header 5353 → 53 with the given length field.
    fn udp8(length: u16) -> Vec<u8> {
        let [hi, lo] = length.to_be_bytes();
        vec![
            0x14, 0xe9, // source port 5353
            0x00, 0x35, // destination port 53
            hi, lo, // length
            0x00, 0x00, // checksum (not verified)
        ]
    }

    /// A SYN whose 32 option bytes carry every option kind we parse.
    const TCP_ALL_OPTIONS: [u8; 52] = [
        0x04, 0xd2, // source port 1234
        0x01, 0xbb, // destination port 443
        0x11, 0x22, 0x33, 0x44, // sequence number
        0x00, 0x00, 0x00, 0x00, // acknowledgement number
        0xd0, // data offset 13 (52 bytes)
        0x02, // flags SYN
        0x72, 0x10, // window 29200
        0x00, 0x00, // checksum (not verified)
        0x00, 0x00, // urgent pointer
        0x02, 0x04, 0x05, 0xb4, // MSS 1460
        0x04, 0x02, // SACK permitted
        0x08, 0x0a, // timestamps, length 10
        0x00, 0x00, 0x00, 0x64, // TSval 100
        0x00, 0x00, 0x00, 0x00, // TSecr 0
        0x01, // NOP
        0x03, 0x03, 0x07, // window scale 7
        0x05, 0x0a, // SACK, length 10: one block
        0x00, 0x00, 0x00, 0x01, // left edge
        0x00, 0x00, 0x00, 0x02, // right edge
        0x00, // EOL
        0x00, // padding
    ];

    fn tcp_of<'a>(p: &Packet<'a>) -> TcpSegment<'a> {
        match p.l4 {
            L4::Tcp(t) => t,
            L4::Udp(_) => panic!("expected TCP"),
        }
    }

    fn tcp_payload<'a>(p: &Packet<'a>) -> &'a [u8] {
        match p.l4 {
            L4::Tcp(t) => t.payload,
            L4::Udp(_) => panic!("expected TCP"),
        }
    }

    fn udp_of<'a>(p: &Packet<'a>) -> UdpDatagram<'a> {
        match p.l4 {
            L4::Udp(u) => u,
            L4::Tcp(_) => panic!("expected UDP"),
        }
    }

    const V4_SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1));
    const V4_DST: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2));
    const V6_SRC: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    const V6_DST: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));

    /// Ethernet + IPv4 + TCP SYN with every option + 5 bytes of payload.
    fn eth_ipv4_tcp_all_options() -> Vec<u8> {
        cat(&[
            &eth(0x0800),
            &ipv4_hdr(20 + 52 + 5, 6),
            &TCP_ALL_OPTIONS,
            b"hello",
        ])
    }

    #[test]
    fn ethernet_ipv4_tcp_every_option() {
        let frame = eth_ipv4_tcp_all_options();
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!((p.src, p.dst), (V4_SRC, V4_DST));
        assert_eq!(p.ttl, 64);
        assert_eq!(p.ip_id, 0x1234);
        assert_eq!(p.ip_len, 77);
        let t = tcp_of(&p);
        assert_eq!((t.src_port, t.dst_port), (1234, 443));
        assert_eq!(t.seq, 0x1122_3344);
        assert_eq!(t.ack, 0);
        assert_eq!(t.flags, TcpFlags(TcpFlags::SYN));
        assert_eq!(t.window, 29200);
        assert_eq!(t.header_len, 52);
        assert_eq!(t.payload_len, 5);
        assert_eq!(tcp_payload(&p), b"hello");
        assert_eq!(
            t.options,
            TcpOptions {
                mss: Some(1460),
                window_scale: Some(7),
                sack_permitted: true,
                sack_blocks: 1,
                timestamp: Some((100, 0)),
            }
        );
        let ft = p.five_tuple();
        assert_eq!((ft.src_port, ft.dst_port, ft.proto), (1234, 443, 6));
    }

    #[test]
    fn vlan() {
        let frame = cat(&[
            &eth(0x8100),
            &[
                0x00, 0x64, // TCI: VID 100
                0x08, 0x00, // EtherType IPv4
            ],
            &ipv4_hdr(20 + 20 + 3, 6),
            &tcp20(TcpFlags::ACK | TcpFlags::PSH),
            b"abc",
        ]);
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(p.src, V4_SRC);
        let t = tcp_of(&p);
        assert_eq!(
            (t.src_port, t.dst_port, t.seq, t.ack),
            (40000, 80, 1000, 2000)
        );
        assert_eq!(t.payload_len, 3);
        assert_eq!(tcp_payload(&p), b"abc");
    }

    #[test]
    fn qinq() {
        let frame = cat(&[
            &eth(0x88a8),
            &[
                0x00, 0x0a, // S-tag TCI: VID 10
                0x81, 0x00, // EtherType 802.1Q
            ],
            &[
                0x00, 0x14, // C-tag TCI: VID 20
                0x86, 0xdd, // EtherType IPv6
            ],
            &ipv6_hdr(8 + 4, 17),
            &udp8(12),
            b"dns!",
        ]);
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!((p.src, p.dst), (V6_SRC, V6_DST));
        assert_eq!(p.ip_id, 0);
        assert_eq!(p.ip_len, 52);
        let u = udp_of(&p);
        assert_eq!((u.src_port, u.dst_port, u.payload_len), (5353, 53, 4));
        assert_eq!(u.payload, b"dns!");
        // The pre-standard 0x9100 outer tag is accepted too.
        let mut old = frame.clone();
        old[12..14].copy_from_slice(&[0x91, 0x00]);
        assert!(decode(LinkType::Ethernet, &old).is_ok());
    }

    #[test]
    fn mpls_two_labels() {
        let frame = cat(&[
            &eth(0x8847),
            &[
                0x00, 0x3e, 0x80, // label 1000, TC 0, bottom-of-stack 0
                0x40, // TTL 64
            ],
            &[
                0x00, 0x7d, 0x01, // label 2000, TC 0, bottom-of-stack 1
                0x40, // TTL 64
            ],
            &ipv4_hdr(20 + 8, 17),
            &udp8(8),
        ]);
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(p.src, V4_SRC);
        assert_eq!(udp_of(&p).payload_len, 0);

        // Multicast MPLS, one label, IPv6 payload.
        let v6 = cat(&[
            &eth(0x8848),
            &[
                0x00, 0x01, 0x01, // label 16, bottom-of-stack 1
                0xff, // TTL 255
            ],
            &ipv6_hdr(20, 6),
            &tcp20(TcpFlags::ACK),
        ]);
        assert_eq!(decode(LinkType::Ethernet, &v6).unwrap().src, V6_SRC);

        // A pseudowire control word (first nibble 0) is not IP.
        let pw = cat(&[
            &eth(0x8847),
            &[
                0x00, 0x01, 0x01, // label 16, bottom-of-stack 1
                0x40, // TTL 64
            ],
            &[0x00, 0x00, 0x00, 0x00], // control word
            &eth(0x0800),
        ]);
        assert_eq!(decode(LinkType::Ethernet, &pw).err(), Some(Skip::NotIp));

        // Stack cut before the bottom of stack, and nothing after it.
        assert_eq!(
            decode(LinkType::Ethernet, &frame[..18]).err(),
            Some(Skip::Truncated)
        );
        assert_eq!(
            decode(LinkType::Ethernet, &frame[..22]).err(),
            Some(Skip::Truncated)
        );
    }

    #[test]
    fn pppoe() {
        let frame = cat(&[
            &eth(0x8864),
            &[
                0x11, // version 1, type 1
                0x00, // code: session data
                0x12, 0x34, // session id
                0x00, 0x2a, // length 42 (PPP protocol + IP)
                0x00, 0x21, // PPP protocol IPv4
            ],
            &ipv4_hdr(40, 6),
            &tcp20(TcpFlags::SYN),
        ]);
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(p.dst, V4_DST);
        assert!(tcp_of(&p).flags.syn());

        let v6 = cat(&[
            &eth(0x8864),
            &[
                0x11, // version 1, type 1
                0x00, // code
                0x12, 0x34, // session id
                0x00, 0x3e, // length 62
                0x00, 0x57, // PPP protocol IPv6
            ],
            &ipv6_hdr(20, 6),
            &tcp20(TcpFlags::SYN),
        ]);
        assert_eq!(decode(LinkType::Ethernet, &v6).unwrap().src, V6_SRC);

        let lcp = cat(&[
            &eth(0x8864),
            &[
                0x11, 0x00, // version/type, code
                0x12, 0x34, // session id
                0x00, 0x06, // length
                0xc0, 0x21, // PPP protocol LCP
            ],
            &[0x09, 0x01, 0x00, 0x04], // LCP echo request
        ]);
        assert_eq!(decode(LinkType::Ethernet, &lcp).err(), Some(Skip::NotIp));
    }

    #[test]
    fn linux_sll() {
        let frame = cat(&[
            &[
                0x00, 0x00, // packet type: to us
                0x00, 0x01, // ARPHRD_ETHER
                0x00, 0x06, // link-layer address length
                0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, // address, padded to 8
                0x08, 0x00, // protocol IPv4
            ],
            &ipv4_hdr(40, 6),
            &tcp20(TcpFlags::ACK),
        ]);
        let p = decode(LinkType::LinuxSll, &frame).unwrap();
        assert_eq!(p.src, V4_SRC);
        assert_eq!(tcp_of(&p).payload_len, 0);
        assert_eq!(
            decode(LinkType::LinuxSll, &frame[..15]).err(),
            Some(Skip::Truncated)
        );
    }

    #[test]
    fn linux_sll2() {
        let frame = cat(&[
            &[
                0x86, 0xdd, // protocol IPv6
                0x00, 0x00, // reserved
                0x00, 0x00, 0x00, 0x02, // interface index 2
                0x00, 0x01, // ARPHRD_ETHER
                0x04, // packet type: outgoing
                0x06, // link-layer address length
                0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, // address, padded to 8
            ],
            &ipv6_hdr(20 + 2, 6),
            &tcp20(TcpFlags::ACK),
            b"hi",
        ]);
        let p = decode(LinkType::LinuxSll2, &frame).unwrap();
        assert_eq!(p.src, V6_SRC);
        assert_eq!(p.ip_len, 62);
        assert_eq!(tcp_of(&p).payload_len, 2);
        assert_eq!(tcp_payload(&p), b"hi");
        assert_eq!(
            decode(LinkType::LinuxSll2, &frame[..19]).err(),
            Some(Skip::Truncated)
        );
    }

    #[test]
    fn bsd_null_and_loop() {
        let v4 = cat(&[&ipv4_hdr(40, 6), &tcp20(TcpFlags::ACK)]);
        let v6 = cat(&[&ipv6_hdr(20, 6), &tcp20(TcpFlags::ACK)]);
        let inet_le: [u8; 4] = [0x02, 0x00, 0x00, 0x00]; // AF_INET, little-endian host
        let inet_be: [u8; 4] = [0x00, 0x00, 0x00, 0x02]; // AF_INET, big-endian host
        assert_eq!(
            decode(LinkType::Null, &cat(&[&inet_le, &v4])).unwrap().src,
            V4_SRC
        );
        assert_eq!(
            decode(LinkType::Null, &cat(&[&inet_be, &v4])).unwrap().src,
            V4_SRC
        );
        for family in [10u32, 24, 28, 30] {
            let le = family.to_le_bytes(); // AF_INET6 of some OS, little-endian host
            let be = family.to_be_bytes(); // AF_INET6 of some OS, big-endian host
            assert_eq!(
                decode(LinkType::Null, &cat(&[&le, &v6])).unwrap().src,
                V6_SRC
            );
            assert_eq!(
                decode(LinkType::Null, &cat(&[&be, &v6])).unwrap().src,
                V6_SRC
            );
            assert_eq!(
                decode(LinkType::Loop, &cat(&[&be, &v6])).unwrap().src,
                V6_SRC
            );
        }
        // LOOP is network order only.
        assert_eq!(
            decode(LinkType::Loop, &cat(&[&inet_be, &v4])).unwrap().src,
            V4_SRC
        );
        assert_eq!(
            decode(LinkType::Loop, &cat(&[&inet_le, &v4])).err(),
            Some(Skip::NotIp)
        );
        let ipx: [u8; 4] = [0x17, 0x00, 0x00, 0x00]; // AF 23 (IPX on some BSDs)
        assert_eq!(
            decode(LinkType::Null, &cat(&[&ipx, &v4])).err(),
            Some(Skip::NotIp)
        );
        assert_eq!(
            decode(LinkType::Null, &inet_le[..3]).err(),
            Some(Skip::Truncated)
        );
    }

    /// Raw IPv6 with a hop-by-hop header and a fragment header (first fragment), TCP, 4 bytes.
    fn raw_v6_hbh_frag() -> Vec<u8> {
        cat(&[
            &ipv6_hdr(8 + 8 + 20 + 4, 0),
            &[
                0x2c, // hop-by-hop: next header fragment
                0x00, // length 0 (8 bytes)
                0x05, 0x02, 0x00, 0x00, // router alert option
                0x01, 0x00, // PadN
            ],
            &[
                0x06, // fragment: next header TCP
                0x00, // reserved
                0x00, 0x01, // fragment offset 0, M = 1
                0xca, 0xfe, 0xba, 0xbe, // identification
            ],
            &tcp20(TcpFlags::ACK),
            b"frag",
        ])
    }

    #[test]
    fn raw_ipv6_extension_headers_and_fragments() {
        let frame = raw_v6_hbh_frag();
        for link in [LinkType::RawIp, LinkType::Ipv6] {
            let p = decode(link, &frame).unwrap();
            assert_eq!((p.src, p.dst), (V6_SRC, V6_DST));
            assert_eq!(p.ip_len, 40 + 40);
            let t = tcp_of(&p);
            assert_eq!(t.payload_len, 4);
            assert_eq!(tcp_payload(&p), b"frag");
        }
        // Non-first fragment: offset 1 (8 bytes).
        let mut nonfirst = frame.clone();
        nonfirst[50..52].copy_from_slice(&[0x00, 0x08]);
        assert_eq!(
            decode(LinkType::RawIp, &nonfirst).err(),
            Some(Skip::Fragment)
        );
        // Cut inside the extension headers.
        assert_eq!(
            decode(LinkType::RawIp, &frame[..44]).err(),
            Some(Skip::Truncated)
        );
        assert_eq!(
            decode(LinkType::RawIp, &frame[..52]).err(),
            Some(Skip::Truncated)
        );
        // An IPv4 header on the IPv6 link type is malformed; an unknown version on raw is not IP.
        let v4 = cat(&[&ipv4_hdr(40, 6), &tcp20(TcpFlags::ACK)]);
        assert_eq!(decode(LinkType::Ipv6, &v4).err(), Some(Skip::Malformed));
        assert_eq!(decode(LinkType::Ipv4, &v4).unwrap().src, V4_SRC);
        assert_eq!(
            decode(LinkType::RawIp, &[0x50; 40]).err(),
            Some(Skip::NotIp)
        );
        assert_eq!(decode(LinkType::RawIp, &[]).err(), Some(Skip::Truncated));
        // No next header.
        let nnh = cat(&[&ipv6_hdr(0, 59)]);
        assert_eq!(decode(LinkType::RawIp, &nnh).err(), Some(Skip::OtherL4));
    }

    #[test]
    fn ipv4_options() {
        let frame = cat(&[
            &eth(0x0800),
            &[
                0x46, // version 4, IHL 6 (24 bytes)
                0x00, // TOS
                0x00, 0x2e, // total length 46
                0x00, 0x07, // identification 7
                0x00, 0x00, // no flags, offset 0
                0x20, // TTL 32
                0x11, // protocol UDP
                0x00, 0x00, // checksum (not verified)
                10, 0, 0, 1, // source 10.0.0.1
                10, 0, 0, 2, // destination 10.0.0.2
                0x94, 0x04, 0x00, 0x00, // router alert option
            ],
            &udp8(22),
            b"fourteen bytes",
        ]);
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(p.src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!((p.ttl, p.ip_id, p.ip_len), (32, 7, 46));
        let u = udp_of(&p);
        assert_eq!((u.src_port, u.dst_port, u.payload_len), (5353, 53, 14));
        assert_eq!(u.payload, b"fourteen bytes");
    }

    #[test]
    fn ipv4_fragments() {
        let mut first = cat(&[
            &eth(0x0800),
            &ipv4_hdr(20 + 20 + 4, 6),
            &tcp20(0x10),
            b"1234",
        ]);
        first[20..22].copy_from_slice(&[0x20, 0x00]); // flags MF, offset 0
        let p = decode(LinkType::Ethernet, &first).unwrap();
        assert_eq!(tcp_of(&p).payload_len, 4);
        let mut later = first.clone();
        later[20..22].copy_from_slice(&[0x00, 0xb9]); // flags none, offset 185 (1480 bytes)
        assert_eq!(
            decode(LinkType::Ethernet, &later).err(),
            Some(Skip::Fragment)
        );
        let mut middle = first;
        middle[20..22].copy_from_slice(&[0x20, 0x01]); // flags MF, offset 1
        assert_eq!(
            decode(LinkType::Ethernet, &middle).err(),
            Some(Skip::Fragment)
        );
    }

    #[test]
    fn ip_in_ip_and_6in4() {
        let inner = cat(&[
            &[
                0x45, // version 4, IHL 5
                0x00, // TOS
                0x00, 0x2a, // total length 42
                0xab, 0xcd, // identification
                0x00, 0x00, // flags, offset
                0x3f, // TTL 63
                0x06, // protocol TCP
                0x00, 0x00, // checksum (not verified)
                172, 16, 0, 1, // source 172.16.0.1
                172, 16, 0, 2, // destination 172.16.0.2
            ],
            &tcp20(TcpFlags::ACK),
            b"in",
        ]);
        let frame = cat(&[&eth(0x0800), &ipv4_hdr(20 + 42, 4), &inner]);
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(p.src, IpAddr::V4(Ipv4Addr::new(172, 16, 0, 1)));
        assert_eq!(p.dst, IpAddr::V4(Ipv4Addr::new(172, 16, 0, 2)));
        assert_eq!((p.ttl, p.ip_id, p.ip_len), (63, 0xabcd, 42));
        assert_eq!(tcp_of(&p).payload_len, 2);
        assert_eq!(tcp_payload(&p), b"in");

        // 6in4.
        let v6 = cat(&[&ipv6_hdr(8 + 1, 17), &udp8(9), b"x"]);
        let frame = cat(&[&eth(0x0800), &ipv4_hdr(20 + 49, 41), &v6]);
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(
            (p.src, p.dst, p.ttl, p.ip_id, p.ip_len),
            (V6_SRC, V6_DST, 64, 0, 49)
        );
        assert_eq!(udp_of(&p).payload, b"x");

        // IPv4 in IPv6.
        let frame = cat(&[&ipv6_hdr(42, 4), &inner]);
        let p = decode(LinkType::RawIp, &frame).unwrap();
        assert_eq!(p.src, IpAddr::V4(Ipv4Addr::new(172, 16, 0, 1)));

        // Two levels: only one is stripped.
        let twice = cat(&[
            &eth(0x0800),
            &ipv4_hdr(20 + 20 + 42, 4),
            &ipv4_hdr(20 + 42, 4),
            &inner,
        ]);
        assert_eq!(
            decode(LinkType::Ethernet, &twice).err(),
            Some(Skip::OtherL4)
        );

        // Protocol 41 with an IPv4 header inside.
        let wrong = cat(&[&eth(0x0800), &ipv4_hdr(20 + 42, 41), &inner]);
        assert_eq!(
            decode(LinkType::Ethernet, &wrong).err(),
            Some(Skip::Malformed)
        );
    }

    #[test]
    fn truncated_at_each_layer() {
        // Ethernet + VLAN + IPv4 (IHL 6) + TCP (doff 7) with payload.
        let frame = cat(&[
            &eth(0x8100),
            &[
                0x00, 0x01, // TCI: VID 1
                0x08, 0x00, // EtherType IPv4
            ],
            &[
                0x46, // version 4, IHL 6
                0x00, // TOS
                0x00, 0x3c, // total length 60
                0x00, 0x01, // identification
                0x00, 0x00, // flags, offset
                0x40, // TTL
                0x06, // protocol TCP
                0x00, 0x00, // checksum
                1, 1, 1, 1, // source
                2, 2, 2, 2, // destination
                0x01, 0x01, 0x01, 0x01, // options: NOPs
            ],
            &[
                0x00, 0x01, // source port
                0x00, 0x02, // destination port
                0, 0, 0, 1, // sequence number
                0, 0, 0, 0,    // acknowledgement number
                0x70, // data offset 7 (28 bytes)
                0x02, // SYN
                0x10, 0x00, // window
                0x00, 0x00, // checksum
                0x00, 0x00, // urgent pointer
                0x02, 0x04, 0x05, 0xb4, // MSS 1460
                0x01, 0x03, 0x03, 0x02, // NOP, window scale 2
            ],
            b"payload!",
        ]);
        let full = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(tcp_of(&full).payload_len, 8);
        // Header boundaries: Ethernet 14, VLAN 18, IPv4 42, TCP 70.
        for cut in [0, 13, 14, 17, 18, 37, 38, 41, 42, 61, 62, 69] {
            assert_eq!(
                decode(LinkType::Ethernet, &frame[..cut]).err(),
                Some(Skip::Truncated),
                "{cut}"
            );
        }
        // Cut in the payload: decoded, payload_len from the IP header, payload what was captured.
        let p = decode(LinkType::Ethernet, &frame[..73]).unwrap();
        assert_eq!(tcp_of(&p).payload_len, 8);
        assert_eq!(tcp_payload(&p), b"pay");

        // UDP header cut.
        let udp = cat(&[&eth(0x0800), &ipv4_hdr(28, 17), &udp8(8)]);
        assert!(decode(LinkType::Ethernet, &udp).is_ok());
        assert_eq!(
            decode(LinkType::Ethernet, &udp[..41]).err(),
            Some(Skip::Truncated)
        );
    }

    #[test]
    fn malformed_headers() {
        let good = cat(&[&eth(0x0800), &ipv4_hdr(40, 6), &tcp20(TcpFlags::ACK)]);
        assert!(decode(LinkType::Ethernet, &good).is_ok());

        let mut bad_ihl = good.clone();
        bad_ihl[14] = 0x44; // version 4, IHL 4
        assert_eq!(
            decode(LinkType::Ethernet, &bad_ihl).err(),
            Some(Skip::Malformed)
        );

        let mut bad_version = good.clone();
        bad_version[14] = 0x65; // version 6 behind EtherType IPv4
        assert_eq!(
            decode(LinkType::Ethernet, &bad_version).err(),
            Some(Skip::Malformed)
        );

        let mut short_total = good.clone();
        short_total[16..18].copy_from_slice(&[0x00, 0x13]); // total length 19 < 20
        assert_eq!(
            decode(LinkType::Ethernet, &short_total).err(),
            Some(Skip::Malformed)
        );

        let mut bad_doff = good.clone();
        bad_doff[14 + 20 + 12] = 0x40; // data offset 4
        assert_eq!(
            decode(LinkType::Ethernet, &bad_doff).err(),
            Some(Skip::Malformed)
        );

        let mut zero_doff = good;
        zero_doff[14 + 20 + 12] = 0x00; // data offset 0
        assert_eq!(
            decode(LinkType::Ethernet, &zero_doff).err(),
            Some(Skip::Malformed)
        );
    }

    #[test]
    fn options_overrunning_the_header() {
        let frame = cat(&[
            &eth(0x0800),
            &ipv4_hdr(20 + 28, 6),
            &[
                0x00, 0x01, // source port
                0x00, 0x02, // destination port
                0, 0, 0, 1, // sequence number
                0, 0, 0, 0,    // acknowledgement number
                0x70, // data offset 7 (28 bytes: 8 bytes of options)
                0x02, // SYN
                0x10, 0x00, // window
                0x00, 0x00, // checksum
                0x00, 0x00, // urgent pointer
                0x03, 0x03, 0x05, // window scale 5
                0x04, 0x02, // SACK permitted
                0x08, 0x0a, 0x00, // timestamps, length 10: runs past the header end
            ],
            &[0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02], // payload bytes, not options
        ]);
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        let t = tcp_of(&p);
        assert_eq!(t.options.window_scale, Some(5));
        assert!(t.options.sack_permitted);
        assert_eq!(t.options.timestamp, None);
        assert_eq!(t.header_len, 28);
        assert_eq!(t.payload_len, 0);
        assert!(tcp_payload(&p).is_empty());
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        // 54 bytes of headers padded to the 60-byte Ethernet minimum.
        let frame = cat(&[
            &eth(0x0800),
            &ipv4_hdr(40, 6),
            &tcp20(TcpFlags::ACK),
            &[0u8; 6],
        ]);
        assert_eq!(frame.len(), 60);
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(p.ip_len, 40);
        assert_eq!(tcp_of(&p).payload_len, 0);
        assert!(tcp_payload(&p).is_empty());

        let udp = cat(&[
            &eth(0x0800),
            &ipv4_hdr(30, 17),
            &udp8(10),
            b"ok",
            &[0u8; 16],
        ]);
        let u = udp_of(&decode(LinkType::Ethernet, &udp).unwrap());
        assert_eq!(u.payload_len, 2);
        assert_eq!(u.payload, b"ok");
    }

    #[test]
    fn ip_length_below_headers_saturates() {
        // IPv4 total length 30 covers only half of the TCP header.
        let frame = cat(&[&eth(0x0800), &ipv4_hdr(30, 6), &tcp20(TcpFlags::ACK), b"zz"]);
        let p = decode(LinkType::Ethernet, &frame).unwrap();
        assert_eq!(tcp_of(&p).payload_len, 0);
        assert!(tcp_payload(&p).is_empty());
        // IPv6 payload length 0 (as with jumbograms) and a TCP header.
        let v6 = cat(&[&ipv6_hdr(0, 6), &tcp20(TcpFlags::ACK), b"zz"]);
        let p = decode(LinkType::RawIp, &v6).unwrap();
        assert_eq!(p.ip_len, 40);
        assert_eq!(tcp_of(&p).payload_len, 0);
    }

    #[test]
    fn udp_length_below_header() {
        let frame = cat(&[&eth(0x0800), &ipv4_hdr(28 + 2, 17), &udp8(5), b"xy"]);
        let u = udp_of(&decode(LinkType::Ethernet, &frame).unwrap());
        assert_eq!(u.payload_len, 0);
        assert!(u.payload.is_empty());
    }

    #[test]
    fn not_tcp_or_udp() {
        let icmp = cat(&[&eth(0x0800), &ipv4_hdr(28, 1), &[8, 0, 0, 0, 0, 1, 0, 1]]);
        assert_eq!(decode(LinkType::Ethernet, &icmp).err(), Some(Skip::OtherL4));
        let arp = cat(&[&eth(0x0806), &[0u8; 28]]);
        assert_eq!(decode(LinkType::Ethernet, &arp).err(), Some(Skip::NotIp));
        assert_eq!(
            decode(LinkType::Unknown(147), &arp).err(),
            Some(Skip::UnsupportedLink)
        );
    }

    /// Decodes every prefix and every single-byte mutation of a few valid frames: no panic.
    #[test]
    fn no_panic_on_prefixes_and_mutations() {
        let frames: Vec<(LinkType, Vec<u8>)> = vec![
            (LinkType::Ethernet, eth_ipv4_tcp_all_options()),
            (LinkType::RawIp, raw_v6_hbh_frag()),
            (
                LinkType::Ethernet,
                cat(&[
                    &eth(0x8100),
                    &[0x00, 0x01, 0x88, 0x47],  // VLAN 1, EtherType MPLS
                    &[0x00, 0x01, 0x01, 0x40],  // label 16, bottom-of-stack
                    &ipv4_hdr(20 + 40 + 8, 41), // 6in4
                    &ipv6_hdr(8, 17),
                    &udp8(8),
                ]),
            ),
            (
                LinkType::LinuxSll,
                cat(&[
                    &[0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0], // SLL header up to protocol
                    &[0x88, 0x64],                               // protocol PPPoE session
                    &[0x11, 0x00, 0x00, 0x01, 0x00, 0x2a, 0x00, 0x21], // PPPoE + PPP IPv4
                    &ipv4_hdr(40, 6),
                    &tcp20(TcpFlags::ACK),
                ]),
            ),
        ];
        let links = [
            LinkType::Ethernet,
            LinkType::RawIp,
            LinkType::LinuxSll,
            LinkType::LinuxSll2,
            LinkType::Null,
            LinkType::Loop,
        ];
        let mut decoded = 0usize;
        for (link, frame) in &frames {
            assert!(decode(*link, frame).is_ok());
            for link in links {
                for len in 0..=frame.len() {
                    decoded += usize::from(decode(link, &frame[..len]).is_ok());
                }
            }
            let mut copy = frame.clone();
            for pos in 0..copy.len() {
                let orig = copy[pos];
                for value in 0..=255u8 {
                    copy[pos] = value;
                    if let Ok(p) = decode(*link, &copy) {
                        decoded += 1;
                        let (payload_len, payload) = match p.l4 {
                            L4::Tcp(t) => (t.payload_len, t.payload),
                            L4::Udp(u) => (u.payload_len, u.payload),
                        };
                        assert!(payload.len() as u64 <= u64::from(payload_len));
                    }
                }
                copy[pos] = orig;
            }
        }
        assert!(decoded > 0);
    }
}
