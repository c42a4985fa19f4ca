//! Zero-copy packet views and the decode chain from a captured frame to a layer-4 summary.
//!
//! Owns: link-layer decoding (Ethernet, 802.1Q, QinQ, MPLS, PPPoE, Linux SLL/SLL2, BSD NULL,
//! raw IP), IPv4 (options, fragments), IPv6 (extension headers), one level of IP-in-IP / 6in4,
//! TCP (all options) and UDP. Does not own: flows, statistics or anything that outlives the
//! packet. Nothing here panics on any byte sequence: after a view's `new_checked` succeeds, no
//! accessor panics, and [`decode`] returns a counted [`Skip`] reason instead of failing loudly.

use std::net::IpAddr;

mod chain;
pub mod ethernet;
pub mod ip;
pub mod tcp;
pub mod udp;

pub use chain::decode;

/// The link type of a capture (pcap `LINKTYPE_*` / DLT values we decode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_RAW (101) or DLT_RAW (12/14): the frame starts with an IPv4 or IPv6 header.
    RawIp,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_LINUX_SLL (113), the Linux "cooked" header, version 1.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276).
    LinuxSll2,
    /// LINKTYPE_NULL (0): BSD loopback, 4-byte address family in host byte order.
    Null,
    /// LINKTYPE_LOOP (108): OpenBSD loopback, 4-byte address family in network byte order.
    Loop,
    /// Any other link type: every frame is skipped as [`Skip::UnsupportedLink`].
    Unknown(u32),
}

impl LinkType {
    /// Maps a pcap/pcapng link-type number to a [`LinkType`].
    pub fn from_linktype(value: u32) -> LinkType {
        match value {
            1 => LinkType::Ethernet,
            101 | 12 | 14 => LinkType::RawIp,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            other => LinkType::Unknown(other),
        }
    }
}

/// Why a frame was not analysed at layer 4. `Copy` and allocation-free: it is counted, not
/// logged. `Truncated` (a snaplen cut inside a header, normal) is kept apart from `Malformed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// The link type is not one we decode.
    UnsupportedLink,
    /// The frame carries neither IPv4 nor IPv6 (ARP, LLDP, STP, IPX, ...).
    NotIp,
    /// A header was cut short by the snap length or a short frame.
    Truncated,
    /// A header field is out of range (IHL < 5, bad TCP data offset, IP version mismatch, ...).
    Malformed,
    /// A non-first IPv4/IPv6 fragment: not layer-4 data.
    Fragment,
    /// IP carrying something other than TCP or UDP (ICMP, GRE, ESP, ...).
    OtherL4,
}

impl Skip {
    /// Number of variants, for counter arrays indexed by [`Skip::index`].
    pub const COUNT: usize = 6;

    /// Stable index for counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// A short name for summaries and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Skip::UnsupportedLink => "unsupported_link",
            Skip::NotIp => "not_ip",
            Skip::Truncated => "truncated",
            Skip::Malformed => "malformed",
            Skip::Fragment => "fragment",
            Skip::OtherL4 => "other_l4",
        }
    }

    /// All variants, in index order.
    pub const ALL: [Skip; Skip::COUNT] = [
        Skip::UnsupportedLink,
        Skip::NotIp,
        Skip::Truncated,
        Skip::Malformed,
        Skip::Fragment,
        Skip::OtherL4,
    ];
}

/// TCP flag bits as they sit in the header's flags byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;

    /// FIN set.
    #[inline]
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    /// SYN set.
    #[inline]
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    /// RST set.
    #[inline]
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    /// PSH set.
    #[inline]
    pub fn psh(self) -> bool {
        self.0 & Self::PSH != 0
    }
    /// ACK set.
    #[inline]
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// The TCP options Tstat's statistics use, copied out of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum Segment Size option (kind 2).
    pub mss: Option<u16>,
    /// Window Scale option shift (kind 3), as sent (not clamped).
    pub window_scale: Option<u8>,
    /// SACK-permitted option (kind 4) present.
    pub sack_permitted: bool,
    /// Number of SACK blocks (kind 5); 0 when absent.
    pub sack_blocks: u8,
    /// Timestamp option (kind 8): (TSval, TSecr).
    pub timestamp: Option<(u32, u32)>,
}

/// An owned summary of a TCP segment plus a borrow of its captured payload.
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags byte.
    pub flags: TcpFlags,
    /// Advertised window, unscaled.
    pub window: u16,
    /// Header length in bytes (`4 * data offset`).
    pub header_len: u16,
    /// Payload length from the IP header (total length − IP headers − TCP header), as Tstat
    /// counts it: snap-length truncation does not change it. Saturates at 0.
    pub payload_len: u32,
    /// The captured part of the payload (may be shorter than `payload_len`).
    pub payload: &'a [u8],
    /// Options of interest.
    pub options: TcpOptions,
}

/// An owned summary of a UDP datagram plus a borrow of its captured payload.
#[derive(Debug, Clone, Copy)]
pub struct UdpDatagram<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// `UDP length − 8`, as Tstat counts bytes (saturating at 0).
    pub payload_len: u32,
    /// The captured part of the payload.
    pub payload: &'a [u8],
}

/// The layer-4 content of a decoded packet.
#[derive(Debug, Clone, Copy)]
pub enum L4<'a> {
    /// A TCP segment.
    Tcp(TcpSegment<'a>),
    /// A UDP datagram.
    Udp(UdpDatagram<'a>),
}

/// What the decode chain extracts from a frame that carries TCP or UDP.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// IP source (the innermost header after one level of IP-in-IP is stripped).
    pub src: IpAddr,
    /// IP destination.
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// IPv4 identification field; 0 for IPv6.
    pub ip_id: u16,
    /// IP length as the header states it: IPv4 total length, IPv6 payload length + 40.
    pub ip_len: u32,
    /// The layer-4 segment or datagram.
    pub l4: L4<'a>,
}

/// The flow key of a decoded packet, as seen in its own direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FiveTuple {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// 6 (TCP) or 17 (UDP).
    pub proto: u8,
}

impl Packet<'_> {
    /// The packet's five-tuple.
    pub fn five_tuple(&self) -> FiveTuple {
        let (sp, dp, proto) = match &self.l4 {
            L4::Tcp(t) => (t.src_port, t.dst_port, 6),
            L4::Udp(u) => (u.src_port, u.dst_port, 17),
        };
        FiveTuple {
            src: self.src,
            dst: self.dst,
            src_port: sp,
            dst_port: dp,
            proto,
        }
    }
}
