//! The IP-level view the histograms need and the flow decoder does not keep: the TOS byte, the
//! protocol of packets that carry neither TCP nor UDP (ICMP, fragments, ...), the IPv6 fixed
//! header's next header and payload length, the ICMPv6 type and the MPTCP option.
//!
//! Read only while histograms are on, from the same captured bytes as the decode chain, with
//! the same link-layer views. Tstat's own rules apply: one IPv4 header carrying IPv4 or IPv6
//! is stripped (its `ProcessPacket`), an IPv6 header is looked at as it stands.

use crate::wire::ethernet::{
    bsd_af, ethertype, ppp, EthernetFrame, LinuxSll, LinuxSll2, MplsEntry, PppoeSession, VlanTag,
};
use crate::wire::ip::{Ipv4Packet, Ipv6Packet};
use crate::wire::LinkType;
use std::net::IpAddr;

/// IP protocol number of ICMPv6.
const ICMPV6: u8 = 58;
/// TCP option kind of MPTCP.
const MPTCP: u8 = 30;

/// What [`peek`] finds in the IP header of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpHeader {
    /// IPv6 (true) or IPv4.
    pub v6: bool,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IPv4 protocol; IPv6 fixed header's next header.
    pub proto: u8,
    /// IPv4 TOS (0 for IPv6).
    pub tos: u8,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 total length; IPv6 payload length.
    pub len: u16,
    /// ICMPv6 type, when the fixed header's next header is ICMPv6 and it was captured.
    pub icmp6_type: Option<u8>,
    /// A TCP segment right after the IP header carries the MPTCP option.
    pub mptcp: bool,
}

/// Finds the IP header of a frame (after at most one IPv4 header carrying IP); `None` for a
/// frame that is not IP.
pub(crate) fn peek(link: LinkType, frame: &[u8]) -> Option<IpHeader> {
    let ip = match link {
        LinkType::Ethernet => {
            let eth = EthernetFrame::new_checked(frame).ok()?;
            by_ethertype(eth.ethertype(), eth.payload())?
        }
        LinkType::RawIp => frame,
        LinkType::Ipv4 | LinkType::Ipv6 => frame,
        LinkType::LinuxSll => {
            let sll = LinuxSll::new_checked(frame).ok()?;
            by_ethertype(sll.protocol(), sll.payload())?
        }
        LinkType::LinuxSll2 => {
            let sll = LinuxSll2::new_checked(frame).ok()?;
            by_ethertype(sll.protocol(), sll.payload())?
        }
        LinkType::Null | LinkType::Loop => {
            let af = frame.get(..bsd_af::HEADER_LEN)?;
            let raw = [af[0], af[1], af[2], af[3]];
            let (be, le) = (u32::from_be_bytes(raw), u32::from_le_bytes(raw));
            let is = |f: u32| be == f || (link == LinkType::Null && le == f);
            if !is(bsd_af::INET) && !bsd_af::INET6.iter().any(|&f| is(f)) {
                return None;
            }
            frame.get(bsd_af::HEADER_LEN..)?
        }
        LinkType::Unknown(_) => return None,
    };
    header(ip, true)
}

fn by_ethertype(mut et: u16, mut rest: &[u8]) -> Option<&[u8]> {
    loop {
        match et {
            ethertype::IPV4 | ethertype::IPV6 => return Some(rest),
            ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD => {
                let tag = VlanTag::new_checked(rest).ok()?;
                et = tag.ethertype();
                rest = tag.payload();
            }
            ethertype::MPLS_UNICAST | ethertype::MPLS_MULTICAST => loop {
                let e = MplsEntry::new_checked(rest).ok()?;
                rest = e.payload();
                if e.bottom_of_stack() {
                    return Some(rest);
                }
            },
            ethertype::PPPOE_SESSION => {
                let s = PppoeSession::new_checked(rest).ok()?;
                return matches!(s.protocol(), ppp::IPV4 | ppp::IPV6).then(|| s.payload());
            }
            _ => return None,
        }
    }
}

fn header(bytes: &[u8], outer: bool) -> Option<IpHeader> {
    match bytes.first()? >> 4 {
        4 => {
            let ip = Ipv4Packet::new_checked(bytes).ok()?;
            let proto = ip.protocol();
            if outer && (proto == 4 || proto == 41) {
                return header(ip.captured_payload(), false);
            }
            let first = ip.frag_offset() == 0;
            Some(IpHeader {
                v6: false,
                src: IpAddr::V4(ip.src_addr()),
                dst: IpAddr::V4(ip.dst_addr()),
                proto,
                tos: ip.tos(),
                ttl: ip.ttl(),
                len: ip.total_len(),
                icmp6_type: None,
                mptcp: proto == 6 && first && has_mptcp(ip.captured_payload()),
            })
        }
        6 => {
            let ip = Ipv6Packet::new_checked(bytes).ok()?;
            let nh = ip.next_header();
            let l4 = ip.captured_payload();
            Some(IpHeader {
                v6: true,
                src: IpAddr::V6(ip.src_addr()),
                dst: IpAddr::V6(ip.dst_addr()),
                proto: nh,
                tos: 0,
                ttl: ip.hop_limit(),
                len: ip.payload_len(),
                icmp6_type: if nh == ICMPV6 {
                    l4.first().copied()
                } else {
                    None
                },
                mptcp: nh == 6 && has_mptcp(l4),
            })
        }
        _ => None,
    }
}

/// Whether the TCP header at the start of `tcp` carries an MPTCP option (Tstat's
/// `ParseOptions`: EOL and NOP are one byte, every other option has a length byte; a zero or
/// overlong length ends the walk).
fn has_mptcp(tcp: &[u8]) -> bool {
    let Some(&doff) = tcp.get(12) else {
        return false;
    };
    let end = (usize::from(doff >> 4) * 4).min(tcp.len());
    let mut i = 20;
    while i < end {
        match tcp[i] {
            0 | 1 => i += 1,
            kind => {
                let Some(&len) = tcp.get(i + 1) else {
                    return false;
                };
                if len == 0 || i + usize::from(len) > end {
                    return false;
                }
                if kind == MPTCP {
                    return true;
                }
                i += usize::from(len);
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(proto: u8, tos: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + payload.len()) as u16;
        f.extend_from_slice(&[0x45, tos]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 1, 0, 0, 33, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn ipv4_header_fields_and_icmp() {
        let f = v4(1, 0x28, &[8, 0, 0, 0, 0, 0, 0, 0]);
        let h = peek(LinkType::Ethernet, &f).unwrap();
        assert_eq!(
            (h.v6, h.proto, h.tos, h.ttl, h.len),
            (false, 1, 0x28, 33, 28)
        );
        assert!(!h.mptcp);
        assert_eq!(peek(LinkType::Ethernet, &f[..20]), None);
        let mut arp = f.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(peek(LinkType::Ethernet, &arp), None);
    }

    #[test]
    fn mptcp_option_is_found_among_the_tcp_options() {
        let mut tcp = vec![0u8; 12];
        tcp.push(0x80); // data offset 8: 12 option bytes
        tcp.extend_from_slice(&[0x02, 0xff, 0xff, 0, 0, 0, 0]);
        tcp.extend_from_slice(&[2, 4, 5, 0xb4, 1, 1, 30, 4, 0, 0x81, 0, 0]);
        assert!(peek(LinkType::Ethernet, &v4(6, 0, &tcp)).unwrap().mptcp);
        tcp[26] = 8; // timestamp kind instead
        assert!(!peek(LinkType::Ethernet, &v4(6, 0, &tcp)).unwrap().mptcp);
    }

    #[test]
    fn ip_in_ip_is_stripped_once() {
        let inner = v4(17, 4, &[0; 8]);
        let f = v4(4, 0, &inner[14..]);
        let h = peek(LinkType::Ethernet, &f).unwrap();
        assert_eq!((h.proto, h.tos), (17, 4));
    }
}
