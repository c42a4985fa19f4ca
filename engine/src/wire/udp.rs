//! UDP header view.
//!
//! Owns: reading the 8-byte UDP header from a borrowed buffer. Does not own: the payload length
//! policy beyond the header's own length field (the decode chain clamps the payload), checksums
//! (never verified), or anything about the application protocol.
//!
//! Contract: [`UdpPacket::new_checked`] validates the buffer once, and **after `new_checked`
//! succeeds, no accessor panics**.

use super::Skip;

/// Reads a big-endian `u16` at `at`. Callers guarantee `at + 2 <= data.len()`.
#[inline(always)]
fn be16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

/// A read-only view of a UDP header and the captured bytes after it.
///
/// After [`UdpPacket::new_checked`] succeeds, no accessor panics.
#[derive(Debug, Clone, Copy)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
    pub const PAYLOAD: usize = 8;
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Length of the UDP header.
    pub const HEADER_LEN: usize = field::PAYLOAD;

    /// Wraps `buffer`, checking that the 8-byte header is captured ([`Skip::Truncated`]
    /// otherwise). The length field is not validated: see [`UdpPacket::payload_len`]. After this
    /// succeeds, no accessor panics.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Skip> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(Skip::Truncated);
        }
        Ok(UdpPacket { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// The length field (header plus payload) as carried.
    #[inline]
    pub fn length(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Checksum (not verified anywhere).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Payload length as Tstat counts it: length field − 8, saturating at 0.
    #[inline]
    pub fn payload_len(&self) -> u16 {
        self.length().saturating_sub(Self::HEADER_LEN as u16)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> UdpPacket<&'a T> {
    /// The captured payload, clamped to [`UdpPacket::payload_len`] (link-layer padding
    /// excluded).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let data = self.buffer.as_ref();
        let end = (field::PAYLOAD + usize::from(self.payload_len())).min(data.len());
        data.get(field::PAYLOAD..end).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_clamping() {
        let dgram: [u8; 14] = [
            0x00, 0x35, // source port 53
            0xc0, 0x00, // destination port 49152
            0x00, 0x0b, // length 11: 3 bytes of payload
            0xab, 0xcd, // checksum (not verified)
            b'a', b'b', b'c', // payload
            0x00, 0x00, 0x00, // link-layer padding
        ];
        let udp = UdpPacket::new_checked(&dgram[..]).unwrap();
        assert_eq!(udp.src_port(), 53);
        assert_eq!(udp.dst_port(), 49152);
        assert_eq!(udp.length(), 11);
        assert_eq!(udp.checksum(), 0xabcd);
        assert_eq!(udp.payload_len(), 3);
        assert_eq!(udp.payload(), b"abc");
        assert_eq!(
            UdpPacket::new_checked(&dgram[..7]).err(),
            Some(Skip::Truncated)
        );
    }

    #[test]
    fn length_below_header() {
        let dgram: [u8; 10] = [
            0x00, 0x35, // source port 53
            0x00, 0x35, // destination port 53
            0x00, 0x04, // length 4 (< 8)
            0x00, 0x00, // checksum
            0x01, 0x02, // stray bytes
        ];
        let udp = UdpPacket::new_checked(&dgram[..]).unwrap();
        assert_eq!(udp.payload_len(), 0);
        assert!(udp.payload().is_empty());
    }
}
