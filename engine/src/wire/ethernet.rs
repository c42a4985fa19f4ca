//! Link-layer views: Ethernet II, 802.1Q / QinQ tags, MPLS label stack entries, PPPoE session
//! headers, and the Linux "cooked" SLL / SLL2 headers, plus the EtherType and BSD address-family
//! constants the decode chain dispatches on.
//!
//! Owns: reading these headers from a borrowed byte buffer. Does not own: deciding what to do with
//! the result (the loop over stacked tags, the MPLS payload guess, the BSD NULL/LOOP family check
//! are in the decode chain) nor anything above the link layer.
//!
//! Every view follows one contract: `new_checked` validates the buffer length once, and **after
//! `new_checked` succeeds, no accessor panics**. The views never copy: they read fields with
//! `u16::from_be_bytes` and friends on demand.

use super::Skip;

/// EtherType values the decode chain understands.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// IPv6.
    pub const IPV6: u16 = 0x86DD;
    /// IEEE 802.1Q customer VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// IEEE 802.1ad service VLAN tag (QinQ outer tag).
    pub const QINQ: u16 = 0x88A8;
    /// Pre-standard QinQ outer tag used by some vendors.
    pub const QINQ_OLD: u16 = 0x9100;
    /// MPLS unicast.
    pub const MPLS_UNICAST: u16 = 0x8847;
    /// MPLS multicast.
    pub const MPLS_MULTICAST: u16 = 0x8848;
    /// PPPoE session stage.
    pub const PPPOE_SESSION: u16 = 0x8864;
}

/// PPP protocol numbers carried inside a PPPoE session.
pub mod ppp {
    /// IPv4 (IPCP-negotiated IP).
    pub const IPV4: u16 = 0x0021;
    /// IPv6.
    pub const IPV6: u16 = 0x0057;
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

/// A read-only view of an Ethernet II frame.
///
/// After [`EthernetFrame::new_checked`] succeeds, no accessor panics.
#[derive(Debug, Clone, Copy)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

mod eth_field {
    use core::ops::Range;
    pub const DST: usize = 0;
    pub const SRC: usize = 6;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const PAYLOAD: usize = 14;
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Length of the Ethernet II header (two MAC addresses and the EtherType).
    pub const HEADER_LEN: usize = eth_field::PAYLOAD;

    /// Wraps `buffer`, checking that it holds a whole Ethernet header ([`Skip::Truncated`]
    /// otherwise). After this succeeds, no accessor panics.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Skip> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(Skip::Truncated);
        }
        Ok(EthernetFrame { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination MAC address.
    #[inline]
    pub fn dst_addr(&self) -> [u8; 6] {
        bytes(self.buffer.as_ref(), eth_field::DST)
    }

    /// Source MAC address.
    #[inline]
    pub fn src_addr(&self) -> [u8; 6] {
        bytes(self.buffer.as_ref(), eth_field::SRC)
    }

    /// The EtherType (or 802.3 length, which the decode chain treats as "not IP").
    #[inline]
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), eth_field::ETHERTYPE.start)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> EthernetFrame<&'a T> {
    /// Everything after the 14-byte header (including any link-layer padding).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let data = self.buffer.as_ref();
        data.get(eth_field::PAYLOAD..).unwrap_or(&[])
    }
}

/// A read-only view of one 802.1Q / 802.1ad tag as it follows an EtherType: the 2-byte TCI and
/// the 2-byte EtherType of what comes next.
///
/// After [`VlanTag::new_checked`] succeeds, no accessor panics.
#[derive(Debug, Clone, Copy)]
pub struct VlanTag<T: AsRef<[u8]>> {
    buffer: T,
}

mod vlan_field {
    pub const TCI: usize = 0;
    pub const ETHERTYPE: usize = 2;
    pub const PAYLOAD: usize = 4;
}

impl<T: AsRef<[u8]>> VlanTag<T> {
    /// Length of a tag.
    pub const HEADER_LEN: usize = vlan_field::PAYLOAD;

    /// Wraps `buffer`, checking that it holds a whole tag ([`Skip::Truncated`] otherwise). After
    /// this succeeds, no accessor panics.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Skip> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(Skip::Truncated);
        }
        Ok(VlanTag { buffer })
    }

    /// The 12-bit VLAN identifier.
    #[inline]
    pub fn vlan_id(&self) -> u16 {
        be16(self.buffer.as_ref(), vlan_field::TCI) & 0x0FFF
    }

    /// The 3-bit priority code point.
    #[inline]
    pub fn priority(&self) -> u8 {
        (be16(self.buffer.as_ref(), vlan_field::TCI) >> 13) as u8
    }

    /// The EtherType of the encapsulated frame (possibly another tag).
    #[inline]
    pub fn ethertype(&self) -> u16 {
        be16(self.buffer.as_ref(), vlan_field::ETHERTYPE)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> VlanTag<&'a T> {
    /// Everything after the tag.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.buffer
            .as_ref()
            .get(vlan_field::PAYLOAD..)
            .unwrap_or(&[])
    }
}

/// A read-only view of one 4-byte MPLS label stack entry (RFC 3032).
///
/// After [`MplsEntry::new_checked`] succeeds, no accessor panics.
#[derive(Debug, Clone, Copy)]
pub struct MplsEntry<T: AsRef<[u8]>> {
    buffer: T,
}

mod mpls_field {
    pub const ENTRY: usize = 0;
    pub const BOTTOM: usize = 2;
    pub const TTL: usize = 3;
    pub const PAYLOAD: usize = 4;
}

impl<T: AsRef<[u8]>> MplsEntry<T> {
    /// Length of a label stack entry.
    pub const HEADER_LEN: usize = mpls_field::PAYLOAD;

    /// Wraps `buffer`, checking that it holds a whole entry ([`Skip::Truncated`] otherwise).
    /// After this succeeds, no accessor panics.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Skip> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(Skip::Truncated);
        }
        Ok(MplsEntry { buffer })
    }

    /// The 20-bit label.
    #[inline]
    pub fn label(&self) -> u32 {
        let d = self.buffer.as_ref();
        let e = mpls_field::ENTRY;
        (u32::from(d[e]) << 12) | (u32::from(d[e + 1]) << 4) | (u32::from(d[e + 2]) >> 4)
    }

    /// The bottom-of-stack bit: this is the last entry.
    #[inline]
    pub fn bottom_of_stack(&self) -> bool {
        self.buffer.as_ref()[mpls_field::BOTTOM] & 0x01 != 0
    }

    /// The entry's TTL.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[mpls_field::TTL]
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> MplsEntry<&'a T> {
    /// Everything after this entry (the next entry, or the payload at bottom of stack).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.buffer
            .as_ref()
            .get(mpls_field::PAYLOAD..)
            .unwrap_or(&[])
    }
}

/// A read-only view of a PPPoE session-stage header (RFC 2516) followed by the 2-byte PPP
/// protocol field.
///
/// After [`PppoeSession::new_checked`] succeeds, no accessor panics.
#[derive(Debug, Clone, Copy)]
pub struct PppoeSession<T: AsRef<[u8]>> {
    buffer: T,
}

mod pppoe_field {
    pub const VER_TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const SESSION: usize = 2;
    pub const LENGTH: usize = 4;
    pub const PROTOCOL: usize = 6;
    pub const PAYLOAD: usize = 8;
}

impl<T: AsRef<[u8]>> PppoeSession<T> {
    /// Length of the PPPoE header plus the PPP protocol field.
    pub const HEADER_LEN: usize = pppoe_field::PAYLOAD;

    /// Wraps `buffer`, checking that it holds the PPPoE header and PPP protocol
    /// ([`Skip::Truncated`] otherwise). After this succeeds, no accessor panics.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Skip> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(Skip::Truncated);
        }
        Ok(PppoeSession { buffer })
    }

    /// Version (high nibble) and type (low nibble); 0x11 for RFC 2516.
    #[inline]
    pub fn ver_type(&self) -> u8 {
        self.buffer.as_ref()[pppoe_field::VER_TYPE]
    }

    /// Code; 0 in the session stage.
    #[inline]
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[pppoe_field::CODE]
    }

    /// Session identifier.
    #[inline]
    pub fn session_id(&self) -> u16 {
        be16(self.buffer.as_ref(), pppoe_field::SESSION)
    }

    /// PPPoE payload length (PPP protocol field included).
    #[inline]
    pub fn length(&self) -> u16 {
        be16(self.buffer.as_ref(), pppoe_field::LENGTH)
    }

    /// The PPP protocol number (see [`ppp`]).
    #[inline]
    pub fn protocol(&self) -> u16 {
        be16(self.buffer.as_ref(), pppoe_field::PROTOCOL)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> PppoeSession<&'a T> {
    /// Everything after the PPP protocol field.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.buffer
            .as_ref()
            .get(pppoe_field::PAYLOAD..)
            .unwrap_or(&[])
    }
}

/// A read-only view of a Linux cooked-capture header, version 1 (`LINKTYPE_LINUX_SLL`, 16
/// bytes, the protocol EtherType at offset 14).
///
/// After [`LinuxSll::new_checked`] succeeds, no accessor panics.
#[derive(Debug, Clone, Copy)]
pub struct LinuxSll<T: AsRef<[u8]>> {
    buffer: T,
}

mod sll_field {
    pub const PACKET_TYPE: usize = 0;
    pub const ARPHRD: usize = 2;
    pub const PROTOCOL: usize = 14;
    pub const PAYLOAD: usize = 16;
}

impl<T: AsRef<[u8]>> LinuxSll<T> {
    /// Length of the SLL header.
    pub const HEADER_LEN: usize = sll_field::PAYLOAD;

    /// Wraps `buffer`, checking that it holds a whole SLL header ([`Skip::Truncated`]
    /// otherwise). After this succeeds, no accessor panics.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Skip> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(Skip::Truncated);
        }
        Ok(LinuxSll { buffer })
    }

    /// Packet type (0 to us, 1 broadcast, 2 multicast, 3 other host, 4 outgoing).
    #[inline]
    pub fn packet_type(&self) -> u16 {
        be16(self.buffer.as_ref(), sll_field::PACKET_TYPE)
    }

    /// ARPHRD_ type of the interface.
    #[inline]
    pub fn arphrd_type(&self) -> u16 {
        be16(self.buffer.as_ref(), sll_field::ARPHRD)
    }

    /// The protocol, an EtherType for Ethernet-like interfaces.
    #[inline]
    pub fn protocol(&self) -> u16 {
        be16(self.buffer.as_ref(), sll_field::PROTOCOL)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> LinuxSll<&'a T> {
    /// Everything after the 16-byte header.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.buffer
            .as_ref()
            .get(sll_field::PAYLOAD..)
            .unwrap_or(&[])
    }
}

/// A read-only view of a Linux cooked-capture header, version 2 (`LINKTYPE_LINUX_SLL2`, 20
/// bytes, the protocol EtherType at offset 0).
///
/// After [`LinuxSll2::new_checked`] succeeds, no accessor panics.
#[derive(Debug, Clone, Copy)]
pub struct LinuxSll2<T: AsRef<[u8]>> {
    buffer: T,
}

mod sll2_field {
    pub const PROTOCOL: usize = 0;
    pub const IFINDEX: usize = 4;
    pub const ARPHRD: usize = 8;
    pub const PACKET_TYPE: usize = 10;
    pub const PAYLOAD: usize = 20;
}

impl<T: AsRef<[u8]>> LinuxSll2<T> {
    /// Length of the SLL2 header.
    pub const HEADER_LEN: usize = sll2_field::PAYLOAD;

    /// Wraps `buffer`, checking that it holds a whole SLL2 header ([`Skip::Truncated`]
    /// otherwise). After this succeeds, no accessor panics.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Skip> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(Skip::Truncated);
        }
        Ok(LinuxSll2 { buffer })
    }

    /// The protocol, an EtherType for Ethernet-like interfaces.
    #[inline]
    pub fn protocol(&self) -> u16 {
        be16(self.buffer.as_ref(), sll2_field::PROTOCOL)
    }

    /// Interface index the packet was captured on.
    #[inline]
    pub fn interface_index(&self) -> u32 {
        u32::from_be_bytes(bytes(self.buffer.as_ref(), sll2_field::IFINDEX))
    }

    /// ARPHRD_ type of the interface.
    #[inline]
    pub fn arphrd_type(&self) -> u16 {
        be16(self.buffer.as_ref(), sll2_field::ARPHRD)
    }

    /// Packet type (0 to us, 1 broadcast, 2 multicast, 3 other host, 4 outgoing).
    #[inline]
    pub fn packet_type(&self) -> u8 {
        self.buffer.as_ref()[sll2_field::PACKET_TYPE]
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> LinuxSll2<&'a T> {
    /// Everything after the 20-byte header.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.buffer
            .as_ref()
            .get(sll2_field::PAYLOAD..)
            .unwrap_or(&[])
    }
}

/// BSD loopback (`LINKTYPE_NULL` / `LINKTYPE_LOOP`) address families.
pub mod bsd_af {
    /// AF_INET on every BSD and Linux.
    pub const INET: u32 = 2;
    /// AF_INET6 values in use: Linux (10), NetBSD/OpenBSD (24), FreeBSD (28), Darwin (30).
    pub const INET6: [u32; 4] = [10, 24, 28, 30];
    /// Length of the address-family header.
    pub const HEADER_LEN: usize = 4;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_reject_short_buffers() {
        assert_eq!(
            EthernetFrame::new_checked(&[0u8; 13][..]).err(),
            Some(Skip::Truncated)
        );
        assert_eq!(
            VlanTag::new_checked(&[0u8; 3][..]).err(),
            Some(Skip::Truncated)
        );
        assert_eq!(
            MplsEntry::new_checked(&[0u8; 3][..]).err(),
            Some(Skip::Truncated)
        );
        assert_eq!(
            PppoeSession::new_checked(&[0u8; 7][..]).err(),
            Some(Skip::Truncated)
        );
        assert_eq!(
            LinuxSll::new_checked(&[0u8; 15][..]).err(),
            Some(Skip::Truncated)
        );
        assert_eq!(
            LinuxSll2::new_checked(&[0u8; 19][..]).err(),
            Some(Skip::Truncated)
        );
    }

    #[test]
    fn ethernet_and_tag_fields() {
        let frame: [u8; 18] = [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, // dst MAC
            0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, // src MAC
            0x81, 0x00, // EtherType 802.1Q
            0xa0, 0x64, // TCI: PCP 5, DEI 0, VID 100
            0x08, 0x00, // inner EtherType IPv4
        ];
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        assert_eq!(eth.dst_addr(), [0x00, 0x11, 0x22, 0x33, 0x44, 0x55]);
        assert_eq!(eth.src_addr(), [0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb]);
        assert_eq!(eth.ethertype(), ethertype::VLAN);
        let tag = VlanTag::new_checked(eth.payload()).unwrap();
        assert_eq!(tag.vlan_id(), 100);
        assert_eq!(tag.priority(), 5);
        assert_eq!(tag.ethertype(), ethertype::IPV4);
        assert!(tag.payload().is_empty());
    }

    #[test]
    fn mpls_fields() {
        let entry: [u8; 4] = [
            0x00, 0x01, 0x41, // label 20 (0x00014), TC 0, bottom-of-stack 1
            0x40, // TTL 64
        ];
        let e = MplsEntry::new_checked(&entry[..]).unwrap();
        assert_eq!(e.label(), 20);
        assert!(e.bottom_of_stack());
        assert_eq!(e.ttl(), 64);
    }
}
