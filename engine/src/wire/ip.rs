//! Network-layer views: IPv4 (with options and fragment fields) and IPv6 (fixed header), the
//! IPv6 extension-header walk, and the IP protocol numbers the decode chain dispatches on.
//!
//! Owns: reading and validating IP headers from a borrowed byte buffer. Does not own: the
//! decision to strip IP-in-IP, layer-4 parsing, checksums (never verified, as in Tstat) nor
//! fragment reassembly (non-first fragments are skipped by the chain).
//!
//! Every view follows one contract: `new_checked` validates the buffer once, and **after
//! `new_checked` succeeds, no accessor panics**. Headers cut by the capture are reported as
//! [`Skip::Truncated`], impossible field values as [`Skip::Malformed`].

use super::Skip;
use std::net::{Ipv4Addr, Ipv6Addr};

/// IP protocol / IPv6 next-header numbers the decode chain understands.
pub mod protocol {
    /// IPv6 hop-by-hop options extension header.
    pub const HOP_BY_HOP: u8 = 0;
    /// IPv4 encapsulated in IP (IP-in-IP).
    pub const IPV4: u8 = 4;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 encapsulated in IP (6in4 / 6in6).
    pub const IPV6: u8 = 41;
    /// IPv6 routing extension header.
    pub const ROUTING: u8 = 43;
    /// IPv6 fragment extension header.
    pub const FRAGMENT: u8 = 44;
    /// Authentication header.
    pub const AH: u8 = 51;
    /// IPv6 "no next header".
    pub const NO_NEXT_HEADER: u8 = 59;
    /// IPv6 destination options extension header.
    pub const DEST_OPTS: u8 = 60;
    /// IPv6 mobility extension header.
    pub const MOBILITY: u8 = 135;
}

/// Reads a big-endian `u16` at `at`. Callers guarantee `at + 2 <= data.len()`.
#[inline(always)]
fn be16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

/// Copies `N` bytes starting at `at`. Callers guarantee `at + N <= data.len()`.
#[inline(always)]
fn bytes<const N: usize>(data: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&data[at..at + N]);
    out
}

/// A read-only view of an IPv4 header and what follows it.
///
/// After [`Ipv4Packet::new_checked`] succeeds, no accessor panics: the fixed header and the
/// options (IHL × 4 bytes) are captured, and the total length is at least the header length.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

mod v4_field {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
    pub const OPTIONS: usize = 20;
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Length of the IPv4 header without options.
    pub const MIN_HEADER_LEN: usize = v4_field::OPTIONS;

    /// Wraps `buffer` after checking it:
    /// fewer than 20 bytes or options not captured → [`Skip::Truncated`];
    /// version ≠ 4, IHL < 5, or total length < IHL × 4 → [`Skip::Malformed`].
    /// After this succeeds, no accessor panics.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Skip> {
        let data = buffer.as_ref();
        if data.len() < Self::MIN_HEADER_LEN {
            return Err(Skip::Truncated);
        }
        let ver_ihl = data[v4_field::VER_IHL];
        let header_len = usize::from(ver_ihl & 0x0F) * 4;
        if ver_ihl >> 4 != 4 || header_len < Self::MIN_HEADER_LEN {
            return Err(Skip::Malformed);
        }
        if header_len > data.len() {
            return Err(Skip::Truncated);
        }
        if usize::from(be16(data, v4_field::LENGTH)) < header_len {
            return Err(Skip::Malformed);
        }
        Ok(Ipv4Packet { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Header length in bytes (IHL × 4, 20..=60).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[v4_field::VER_IHL] & 0x0F) * 4
    }

    /// The type-of-service byte (DSCP and ECN).
    #[inline]
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[v4_field::TOS]
    }

    /// Total length as the header states it (header plus payload).
    #[inline]
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), v4_field::LENGTH)
    }

    /// Identification field.
    #[inline]
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), v4_field::IDENT)
    }

    /// Don't Fragment flag.
    #[inline]
    pub fn dont_frag(&self) -> bool {
        be16(self.buffer.as_ref(), v4_field::FLG_OFF) & 0x4000 != 0
    }

    /// More Fragments flag.
    #[inline]
    pub fn more_frags(&self) -> bool {
        be16(self.buffer.as_ref(), v4_field::FLG_OFF) & 0x2000 != 0
    }

    /// Fragment offset, in 8-byte units as carried (0 for unfragmented and first fragments).
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        be16(self.buffer.as_ref(), v4_field::FLG_OFF) & 0x1FFF
    }

    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[v4_field::TTL]
    }

    /// The payload's protocol number (see [`protocol`]).
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[v4_field::PROTOCOL]
    }

    /// Header checksum (not verified anywhere).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), v4_field::CHECKSUM)
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(bytes::<4>(self.buffer.as_ref(), v4_field::SRC))
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(bytes::<4>(self.buffer.as_ref(), v4_field::DST))
    }

    /// Declared payload length: total length − header length (never underflows after
    /// `new_checked`).
    #[inline]
    pub fn payload_len(&self) -> usize {
        usize::from(self.total_len()).saturating_sub(self.header_len())
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv4Packet<&'a T> {
    /// The option bytes (empty when IHL is 5).
    #[inline]
    pub fn options(&self) -> &'a [u8] {
        let data = self.buffer.as_ref();
        data.get(v4_field::OPTIONS..self.header_len())
            .unwrap_or(&[])
    }

    /// The payload as declared by the total length, clamped to what was captured: link-layer
    /// padding after the datagram is excluded.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let data = self.buffer.as_ref();
        let end = usize::from(self.total_len()).min(data.len());
        data.get(self.header_len()..end).unwrap_or(&[])
    }

    /// Everything captured after the header, regardless of the total length (may include
    /// link-layer padding, or be shorter than declared when the capture was cut).
    #[inline]
    pub fn captured_payload(&self) -> &'a [u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }
}

/// A read-only view of an IPv6 fixed header and what follows it.
///
/// After [`Ipv6Packet::new_checked`] succeeds, no accessor panics: the 40-byte fixed header is
/// captured and the version is 6.
#[derive(Debug, Clone, Copy)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

mod v6_field {
    pub const VER_TC_FL: usize = 0;
    pub const LENGTH: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
    pub const PAYLOAD: usize = 40;
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Length of the fixed IPv6 header.
    pub const HEADER_LEN: usize = v6_field::PAYLOAD;

    /// Wraps `buffer` after checking it: fewer than 40 bytes → [`Skip::Truncated`]; version ≠ 6
    /// → [`Skip::Malformed`]. After this succeeds, no accessor panics.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Skip> {
        let data = buffer.as_ref();
        if data.len() < Self::HEADER_LEN {
            return Err(Skip::Truncated);
        }
        if data[v6_field::VER_TC_FL] >> 4 != 6 {
            return Err(Skip::Malformed);
        }
        Ok(Ipv6Packet { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Traffic class.
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (be16(self.buffer.as_ref(), v6_field::VER_TC_FL) >> 4) as u8
    }

    /// 20-bit flow label.
    #[inline]
    pub fn flow_label(&self) -> u32 {
        u32::from_be_bytes(bytes(self.buffer.as_ref(), v6_field::VER_TC_FL)) & 0x000F_FFFF
    }

    /// Payload length as the header states it (extension headers included, fixed header not).
    #[inline]
    pub fn payload_len(&self) -> u16 {
        be16(self.buffer.as_ref(), v6_field::LENGTH)
    }

    /// Next header of the fixed header (an extension header or the upper-layer protocol).
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[v6_field::NEXT_HEADER]
    }

    /// Hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[v6_field::HOP_LIMIT]
    }

    /// Source address.
    #[inline]
    pub fn src_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(bytes::<16>(self.buffer.as_ref(), v6_field::SRC))
    }

    /// Destination address.
    #[inline]
    pub fn dst_addr(&self) -> Ipv6Addr {
        Ipv6Addr::from(bytes::<16>(self.buffer.as_ref(), v6_field::DST))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv6Packet<&'a T> {
    /// The payload (extension headers included) as declared by the payload length, clamped to
    /// what was captured.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let data = self.buffer.as_ref();
        let end = (Self::HEADER_LEN + usize::from(self.payload_len())).min(data.len());
        data.get(Self::HEADER_LEN..end).unwrap_or(&[])
    }

    /// Everything captured after the fixed header, regardless of the payload length.
    #[inline]
    pub fn captured_payload(&self) -> &'a [u8] {
        self.buffer.as_ref().get(Self::HEADER_LEN..).unwrap_or(&[])
    }
}

/// Where an IPv6 extension-header chain ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Upper {
    /// The first next-header value that is not an extension header (TCP, UDP, 4, 41, 59, ...).
    pub protocol: u8,
    /// Total bytes of extension headers walked over.
    pub ext_len: usize,
}

/// Walks the IPv6 extension headers starting with `next_header` over `data` (the bytes after the
/// fixed header): hop-by-hop (0), routing (43), destination options (60), mobility (135) of
/// `(len + 1) × 8` bytes, AH (51) of `(len + 2) × 4` bytes, and fragment (44) of 8 bytes.
///
/// Returns the upper-layer protocol and the bytes walked over. A header not fully captured →
/// [`Skip::Truncated`]; a fragment header with a non-zero offset → [`Skip::Fragment`] (first
/// fragments continue to their upper layer). Never panics; terminates because every header
/// consumes at least 8 bytes.
#[inline]
pub fn walk_ipv6_extensions(mut next_header: u8, data: &[u8]) -> Result<Ipv6Upper, Skip> {
    let mut offset = 0usize;
    loop {
        let len = match next_header {
            protocol::HOP_BY_HOP | protocol::ROUTING | protocol::DEST_OPTS | protocol::MOBILITY => {
                let hdr_len = *data.get(offset + 1).ok_or(Skip::Truncated)?;
                (usize::from(hdr_len) + 1) * 8
            }
            protocol::AH => {
                let hdr_len = *data.get(offset + 1).ok_or(Skip::Truncated)?;
                (usize::from(hdr_len) + 2) * 4
            }
            protocol::FRAGMENT => {
                let hdr = data.get(offset..offset + 8).ok_or(Skip::Truncated)?;
                if be16(hdr, 2) & 0xFFF8 != 0 {
                    return Err(Skip::Fragment);
                }
                8
            }
            other => {
                return Ok(Ipv6Upper {
                    protocol: other,
                    ext_len: offset,
                })
            }
        };
        let end = offset + len;
        if end > data.len() {
            return Err(Skip::Truncated);
        }
        next_header = data[offset];
        offset = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4_HEADER: [u8; 24] = [
        0x46, // version 4, IHL 6 (24 bytes)
        0x00, // TOS
        0x00, 0x30, // total length 48
        0xbe, 0xef, // identification
        0x20, 0x00, // flags MF, fragment offset 0
        0x40, // TTL 64
        0x06, // protocol TCP
        0x00, 0x00, // checksum (not verified)
        10, 0, 0, 1, // source
        10, 0, 0, 2, // destination
        0x01, 0x01, 0x01, 0x00, // options: NOP NOP NOP EOL
    ];

    #[test]
    fn ipv4_fields() {
        let mut buf = V4_HEADER.to_vec();
        buf.extend_from_slice(&[0xaa; 30]); // 24 bytes declared payload + 6 bytes padding
        let ip = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(ip.header_len(), 24);
        assert_eq!(ip.total_len(), 48);
        assert_eq!(ip.ident(), 0xbeef);
        assert!(ip.more_frags());
        assert!(!ip.dont_frag());
        assert_eq!(ip.frag_offset(), 0);
        assert_eq!(ip.ttl(), 64);
        assert_eq!(ip.protocol(), protocol::TCP);
        assert_eq!(ip.src_addr(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(ip.dst_addr(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(ip.options(), &[1, 1, 1, 0]);
        assert_eq!(ip.payload().len(), 24);
        assert_eq!(ip.payload_len(), 24);
        assert_eq!(ip.captured_payload().len(), 30);
    }

    #[test]
    fn ipv4_checks() {
        assert_eq!(
            Ipv4Packet::new_checked(&V4_HEADER[..19]).err(),
            Some(Skip::Truncated)
        );
        // options not captured
        assert_eq!(
            Ipv4Packet::new_checked(&V4_HEADER[..22]).err(),
            Some(Skip::Truncated)
        );
        let mut bad = V4_HEADER;
        bad[0] = 0x44; // IHL 4
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).err(),
            Some(Skip::Malformed)
        );
        let mut bad = V4_HEADER;
        bad[0] = 0x66; // version 6
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).err(),
            Some(Skip::Malformed)
        );
        let mut bad = V4_HEADER;
        bad[3] = 23; // total length below the header length
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).err(),
            Some(Skip::Malformed)
        );
    }

    #[test]
    fn ipv6_fields_and_extensions() {
        let buf: [u8; 56] = [
            0x60, 0x12, 0x34, 0x56, // version 6, traffic class 0x01, flow label 0x23456
            0x00, 0x10, // payload length 16
            0x00, // next header: hop-by-hop
            0x3f, // hop limit 63
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // source 2001:db8::1
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, // dest 2001:db8::2
            // hop-by-hop
            0x2c, // next header: fragment
            0x00, // length 0 → 8 bytes
            0x01, 0x04, 0x00, 0x00, 0x00, 0x00, // PadN
            // fragment
            0x3b, // next header: no next header
            0x00, // reserved
            0x00, 0x01, // offset 0, M = 1 (first fragment)
            0x00, 0x00, 0x00, 0x07, // identification
        ];
        let ip = Ipv6Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(ip.traffic_class(), 0x01);
        assert_eq!(ip.flow_label(), 0x23456);
        assert_eq!(ip.payload_len(), 16);
        assert_eq!(ip.hop_limit(), 63);
        assert_eq!(ip.src_addr(), "2001:db8::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(ip.dst_addr(), "2001:db8::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(ip.payload().len(), 16);
        let upper = walk_ipv6_extensions(ip.next_header(), ip.captured_payload()).unwrap();
        assert_eq!(
            upper,
            Ipv6Upper {
                protocol: protocol::NO_NEXT_HEADER,
                ext_len: 16
            }
        );
        // Cut inside the fragment header.
        assert_eq!(
            walk_ipv6_extensions(0, &buf[40..50]).err(),
            Some(Skip::Truncated)
        );
        // Non-first fragment.
        let mut nonfirst = buf;
        nonfirst[51] = 0x08; // offset 1 (8 bytes)
        assert_eq!(
            walk_ipv6_extensions(0, &nonfirst[40..]).err(),
            Some(Skip::Fragment)
        );
        // Version check.
        let mut bad = buf;
        bad[0] = 0x40;
        assert_eq!(
            Ipv6Packet::new_checked(&bad[..]).err(),
            Some(Skip::Malformed)
        );
        assert_eq!(
            Ipv6Packet::new_checked(&buf[..39]).err(),
            Some(Skip::Truncated)
        );
    }

    #[test]
    fn ipv6_ah_length() {
        let ext: [u8; 12] = [
            0x06, // next header: TCP
            0x01, // payload len 1 → (1 + 2) × 4 = 12 bytes
            0x00, 0x00, // reserved
            0x00, 0x00, 0x00, 0x01, // SPI
            0x00, 0x00, 0x00, 0x02, // sequence number
        ];
        let upper = walk_ipv6_extensions(protocol::AH, &ext).unwrap();
        assert_eq!(
            upper,
            Ipv6Upper {
                protocol: protocol::TCP,
                ext_len: 12
            }
        );
        assert_eq!(
            walk_ipv6_extensions(protocol::AH, &ext[..11]).err(),
            Some(Skip::Truncated)
        );
    }
}
