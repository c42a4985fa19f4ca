//! TCP header view and option parser.
//!
//! Owns: reading the TCP header fields and the options Tstat's statistics use (MSS, window
//! scale, SACK-permitted, SACK blocks, timestamps) from a borrowed buffer. Does not own: the
//! payload length (it comes from the IP header, computed by the decode chain), checksums (never
//! verified, as in Tstat), or any connection state.
//!
//! Contract: [`TcpPacket::new_checked`] validates the buffer once, and **after `new_checked`
//! succeeds, no accessor panics**. Option parsing never fails: a malformed option ends it and
//! what was parsed so far is kept.

use super::{Skip, TcpFlags, TcpOptions};

/// TCP option kinds.
pub mod option {
    /// End of option list.
    pub const EOL: u8 = 0;
    /// No operation (padding).
    pub const NOP: u8 = 1;
    /// Maximum segment size, length 4.
    pub const MSS: u8 = 2;
    /// Window scale, length 3.
    pub const WINDOW_SCALE: u8 = 3;
    /// SACK permitted, length 2.
    pub const SACK_PERMITTED: u8 = 4;
    /// SACK blocks, length 2 + 8n.
    pub const SACK: u8 = 5;
    /// Timestamps, length 10.
    pub const TIMESTAMP: u8 = 8;
}

/// Reads a big-endian `u16` at `at`. Callers guarantee `at + 2 <= data.len()`.
#[inline(always)]
fn be16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

/// Reads a big-endian `u32` at `at`. Callers guarantee `at + 4 <= data.len()`.
#[inline(always)]
fn be32(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// A read-only view of a TCP header and the captured bytes after it.
///
/// After [`TcpPacket::new_checked`] succeeds, no accessor panics: the whole header, options
/// included (data offset × 4 bytes), is captured.
#[derive(Debug, Clone, Copy)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
    pub const OPTIONS: usize = 20;
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Length of a TCP header without options.
    pub const MIN_HEADER_LEN: usize = field::OPTIONS;

    /// Wraps `buffer` after checking it: fewer than 20 bytes, or options not captured
    /// (data offset × 4 > buffer length) → [`Skip::Truncated`]; data offset < 5 →
    /// [`Skip::Malformed`]. After this succeeds, no accessor panics.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, Skip> {
        let data = buffer.as_ref();
        if data.len() < Self::MIN_HEADER_LEN {
            return Err(Skip::Truncated);
        }
        let header_len = usize::from(data[field::DATA_OFFSET] >> 4) * 4;
        if header_len < Self::MIN_HEADER_LEN {
            return Err(Skip::Malformed);
        }
        if header_len > data.len() {
            return Err(Skip::Truncated);
        }
        Ok(TcpPacket { buffer })
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

    /// Sequence number.
    #[inline]
    pub fn seq(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SEQ)
    }

    /// Acknowledgement number.
    #[inline]
    pub fn ack(&self) -> u32 {
        be32(self.buffer.as_ref(), field::ACK)
    }

    /// Header length in bytes (data offset × 4, 20..=60).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFFSET] >> 4) * 4
    }

    /// The flags byte (CWR, ECE, URG, ACK, PSH, RST, SYN, FIN).
    #[inline]
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[field::FLAGS])
    }

    /// Advertised window, unscaled.
    #[inline]
    pub fn window(&self) -> u16 {
        be16(self.buffer.as_ref(), field::WINDOW)
    }

    /// Checksum (not verified anywhere).
    #[inline]
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Urgent pointer.
    #[inline]
    pub fn urgent(&self) -> u16 {
        be16(self.buffer.as_ref(), field::URGENT)
    }

    /// The options of interest, parsed from the option bytes (see [`parse_options`]).
    #[inline]
    pub fn options(&self) -> TcpOptions {
        let data = self.buffer.as_ref();
        parse_options(data.get(field::OPTIONS..self.header_len()).unwrap_or(&[]))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> TcpPacket<&'a T> {
    /// The raw option bytes (empty when the data offset is 5).
    #[inline]
    pub fn option_bytes(&self) -> &'a [u8] {
        self.buffer
            .as_ref()
            .get(field::OPTIONS..self.header_len())
            .unwrap_or(&[])
    }

    /// Everything captured after the header. This may include link-layer padding: the decode
    /// chain clamps it to the payload length declared by the IP header.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.buffer.as_ref().get(self.header_len()..).unwrap_or(&[])
    }
}

/// Parses TCP option bytes into the [`TcpOptions`] Tstat uses.
///
/// Recognised: MSS (kind 2, length 4), window scale (3, length 3), SACK permitted (4, length
/// 2), SACK (5, length 2 + 8n → `sack_blocks = n`), timestamps (8, length 10). NOP (1) is
/// skipped, EOL (0) stops. A recognised kind with an unexpected length, and any unknown kind, is
/// stepped over by its length. An option whose length byte is missing, < 2, or runs past the end
/// of `bytes` stops parsing; what was parsed so far is kept. Never panics.
#[inline]
pub fn parse_options(bytes: &[u8]) -> TcpOptions {
    // Fast path: NOP, NOP, timestamps, the layout of nearly every segment after the handshake.
    if let [option::NOP, option::NOP, option::TIMESTAMP, 10, ts @ ..] = bytes {
        if ts.len() == 8 {
            return TcpOptions {
                timestamp: Some((be32(ts, 0), be32(ts, 4))),
                ..TcpOptions::default()
            };
        }
    }
    let mut opts = TcpOptions::default();
    let mut i = 0usize;
    while let Some(&kind) = bytes.get(i) {
        match kind {
            option::EOL => break,
            option::NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = match bytes.get(i + 1) {
            Some(&l) if l >= 2 => usize::from(l),
            _ => break,
        };
        let Some(body) = bytes.get(i + 2..i + len) else {
            break;
        };
        match (kind, body.len()) {
            (option::MSS, 2) => opts.mss = Some(be16(body, 0)),
            (option::WINDOW_SCALE, 1) => opts.window_scale = Some(body[0]),
            (option::SACK_PERMITTED, 0) => opts.sack_permitted = true,
            (option::SACK, n) if n >= 8 && n % 8 == 0 => opts.sack_blocks = (n / 8) as u8,
            (option::TIMESTAMP, 8) => opts.timestamp = Some((be32(body, 0), be32(body, 4))),
            _ => {}
        }
        i += len;
    }
    opts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields() {
        let seg: [u8; 24] = [
            0x30, 0x39, // source port 12345
            0x00, 0x50, // destination port 80
            0x01, 0x02, 0x03, 0x04, // sequence number
            0x05, 0x06, 0x07, 0x08, // acknowledgement number
            0x50, // data offset 5
            0x18, // flags PSH|ACK
            0xff, 0xff, // window 65535
            0x12, 0x34, // checksum (not verified)
            0x00, 0x07, // urgent pointer 7
            b'd', b'a', b't', b'a', // payload
        ];
        let tcp = TcpPacket::new_checked(&seg[..]).unwrap();
        assert_eq!(tcp.src_port(), 12345);
        assert_eq!(tcp.dst_port(), 80);
        assert_eq!(tcp.seq(), 0x0102_0304);
        assert_eq!(tcp.ack(), 0x0506_0708);
        assert_eq!(tcp.header_len(), 20);
        assert_eq!(tcp.flags(), TcpFlags(TcpFlags::PSH | TcpFlags::ACK));
        assert_eq!(tcp.window(), 65535);
        assert_eq!(tcp.checksum(), 0x1234);
        assert_eq!(tcp.urgent(), 7);
        assert!(tcp.option_bytes().is_empty());
        assert_eq!(tcp.options(), TcpOptions::default());
        assert_eq!(tcp.payload(), b"data");
    }

    #[test]
    fn header_checks() {
        let mut seg = [0u8; 24];
        seg[12] = 0x40; // data offset 4
        assert_eq!(
            TcpPacket::new_checked(&seg[..]).err(),
            Some(Skip::Malformed)
        );
        seg[12] = 0x70; // data offset 7 = 28 bytes > 24 captured
        assert_eq!(
            TcpPacket::new_checked(&seg[..]).err(),
            Some(Skip::Truncated)
        );
        seg[12] = 0x60; // data offset 6 = 24 bytes
        assert!(TcpPacket::new_checked(&seg[..]).is_ok());
        assert_eq!(
            TcpPacket::new_checked(&seg[..19]).err(),
            Some(Skip::Truncated)
        );
    }

    #[test]
    fn every_option_kind() {
        let opts: [u8; 32] = [
            0x02, 0x04, 0x05, 0xb4, // MSS 1460
            0x01, // NOP
            0x03, 0x03, 0x07, // window scale 7
            0x04, 0x02, // SACK permitted
            0x05, 0x12, // SACK, length 18: 2 blocks
            0, 0, 0, 1, 0, 0, 0, 2, // block 1
            0, 0, 0, 3, 0, 0, 0, 4, // block 2
            0x08, 0x0a, // timestamps, length 10 (cut: only 2 bytes left) → stops
            0x00, 0x00,
        ];
        let o = parse_options(&opts);
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.window_scale, Some(7));
        assert!(o.sack_permitted);
        assert_eq!(o.sack_blocks, 2);
        assert_eq!(o.timestamp, None);
    }

    #[test]
    fn nop_nop_timestamp_fast_path() {
        let opts: [u8; 12] = [
            0x01, 0x01, // NOP, NOP
            0x08, 0x0a, // timestamps, length 10
            0x00, 0x01, 0x00, 0x00, // TSval 65536
            0xff, 0xff, 0xff, 0xff, // TSecr u32::MAX
        ];
        let o = parse_options(&opts);
        assert_eq!(
            o,
            TcpOptions {
                timestamp: Some((65536, u32::MAX)),
                ..TcpOptions::default()
            }
        );
        // Same prefix, different length: the general loop, which stops at the overrun.
        assert_eq!(parse_options(&opts[..11]), TcpOptions::default());
        let mut longer = [0u8; 16];
        longer[..12].copy_from_slice(&opts);
        longer[12..15].copy_from_slice(&[0x03, 0x03, 0x09]); // window scale 9
        let o = parse_options(&longer);
        assert_eq!(o.timestamp, Some((65536, u32::MAX)));
        assert_eq!(o.window_scale, Some(9));
    }

    #[test]
    fn eol_and_bad_lengths_stop_parsing() {
        let eol: [u8; 8] = [
            0x02, 0x04, 0x05, 0xb4, // MSS 1460
            0x00, // EOL
            0x03, 0x03, 0x07, // window scale after EOL: ignored
        ];
        let o = parse_options(&eol);
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.window_scale, None);

        let zero_len: [u8; 8] = [
            0x04, 0x02, // SACK permitted
            0x1e, 0x00, // unknown kind 30 with length 0: stops
            0x02, 0x04, 0x05, 0xb4, // MSS: never reached
        ];
        let o = parse_options(&zero_len);
        assert!(o.sack_permitted);
        assert_eq!(o.mss, None);

        let unknown: [u8; 8] = [
            0x1e, 0x04, 0xaa, 0xbb, // unknown kind 30, length 4: stepped over
            0x02, 0x04, 0x01, 0x00, // MSS 256
        ];
        assert_eq!(parse_options(&unknown).mss, Some(256));

        let missing_len: [u8; 1] = [0x02]; // MSS kind with no length byte
        assert_eq!(parse_options(&missing_len), TcpOptions::default());

        let bad_mss: [u8; 4] = [0x02, 0x03, 0x05, 0x00]; // MSS with length 3: ignored
        assert_eq!(parse_options(&bad_mss).mss, None);
    }
}
