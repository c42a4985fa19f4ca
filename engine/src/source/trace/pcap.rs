//! Classic pcap: the global header and the per-packet records, in µs or ns resolution and either
//! byte order, plus the Kuznetzov "modified" variant (24-byte record headers). Follows libpcap's
//! `sf-pcap.c`: version checks, the swapped caplen/len quirk of versions before 2.4, and
//! sub-µs truncation of nanosecond timestamps.

use super::{caplen_limit, u16_at, u32_at, Fault, Step};
use crate::time::Timestamp;
use crate::wire::LinkType;

/// Size of the global header.
pub(crate) const GLOBAL_HEADER_LEN: usize = 24;
/// Size of a standard record header.
const RECORD_HEADER_LEN: usize = 16;
/// Size of a Kuznetzov "modified" record header (adds ifindex, protocol, pkt_type, padding).
const KUZNETZOV_RECORD_HEADER_LEN: usize = 24;

/// libpcap's `LT_LINKTYPE`: the link type without the FCS-length bits.
const LINKTYPE_MASK: u32 = 0x03ff_ffff;

/// Whether caplen and len are stored in the wrong order (libpcap's `lengths_swapped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LengthsSwapped {
    No,
    Yes,
    /// Version 2.3: swapped only when caplen > len.
    Maybe,
}

/// Decoding state of a classic pcap stream.
#[derive(Debug)]
pub(crate) struct Decoder {
    le: bool,
    nanos: bool,
    record_header_len: usize,
    link: LinkType,
    limit: u32,
    swapped: LengthsSwapped,
}

impl Decoder {
    /// Parses the global header at the start of `d` (which must hold at least
    /// [`GLOBAL_HEADER_LEN`] bytes and start with a known pcap magic).
    pub(crate) fn from_header(d: &[u8]) -> Result<Decoder, Fault> {
        let short = || Fault::BadBlock {
            block_type: 0,
            reason: "pcap global header cut short".to_string(),
        };
        let magic_le = u32_at(d, 0, true).ok_or_else(short)?;
        let (le, nanos, kuz) = match magic_le {
            0xa1b2_c3d4 => (true, false, false),
            0xd4c3_b2a1 => (false, false, false),
            0xa1b2_3c4d => (true, true, false),
            0x4d3c_b2a1 => (false, true, false),
            0xa1b2_cd34 => (true, false, true),
            0x34cd_b2a1 => (false, false, true),
            other => {
                return Err(Fault::BadBlock {
                    block_type: 0,
                    reason: format!("unknown pcap magic {other:#010x}"),
                })
            }
        };
        let major = u16_at(d, 4, le).ok_or_else(short)?;
        let minor = u16_at(d, 6, le).ok_or_else(short)?;
        let swapped = match (major, minor) {
            (2, 0..=2) => LengthsSwapped::Yes,
            (2, 3) => LengthsSwapped::Maybe,
            (2, 4) => LengthsSwapped::No,
            (543, 0) => LengthsSwapped::Yes,
            _ => {
                return Err(Fault::UnsupportedVersion {
                    format: "pcap",
                    major,
                    minor,
                })
            }
        };
        let snaplen = u32_at(d, 16, le).ok_or_else(short)?;
        let linktype = u32_at(d, 20, le).ok_or_else(short)?;
        Ok(Decoder {
            le,
            nanos,
            record_header_len: if kuz {
                KUZNETZOV_RECORD_HEADER_LEN
            } else {
                RECORD_HEADER_LEN
            },
            link: LinkType::from_linktype(linktype & LINKTYPE_MASK),
            limit: caplen_limit(snaplen),
            swapped,
        })
    }

    /// Decodes the record at the start of `d`.
    #[inline]
    pub(crate) fn step(&mut self, d: &[u8]) -> Step {
        let h = self.record_header_len;
        let Some(hdr) = d.get(..RECORD_HEADER_LEN).filter(|_| d.len() >= h) else {
            return Step::Need {
                needed: h,
                what: "record header",
            };
        };
        let le = self.le;
        let field = |off| u32_at(hdr, off, le).unwrap_or(0);
        let (sec, frac) = (field(0), field(4));
        let (mut caplen, mut wirelen) = (field(8), field(12));
        if self.swapped == LengthsSwapped::Yes
            || (self.swapped == LengthsSwapped::Maybe && caplen > wirelen)
        {
            std::mem::swap(&mut caplen, &mut wirelen);
        }
        if caplen > self.limit {
            return Step::Fail(Fault::BadRecordLength {
                caplen,
                limit: self.limit,
            });
        }
        let len = h + caplen as usize;
        if d.len() < len {
            return Step::Need {
                needed: len,
                what: "record",
            };
        }
        let usec = if self.nanos { frac / 1000 } else { frac };
        Step::Packet {
            len,
            data_off: h,
            caplen,
            wirelen,
            ts: Timestamp::from_sec_usec(i64::from(sec), i64::from(usec)),
            link: self.link,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(magic: u32, le: bool, major: u16, minor: u16, snaplen: u32, link: u32) -> Vec<u8> {
        let mut v = Vec::new();
        let w16 = |v: &mut Vec<u8>, x: u16| {
            v.extend_from_slice(&if le { x.to_le_bytes() } else { x.to_be_bytes() })
        };
        let w32 = |v: &mut Vec<u8>, x: u32| {
            v.extend_from_slice(&if le { x.to_le_bytes() } else { x.to_be_bytes() })
        };
        w32(&mut v, magic);
        w16(&mut v, major);
        w16(&mut v, minor);
        w32(&mut v, 0);
        w32(&mut v, 0);
        w32(&mut v, snaplen);
        w32(&mut v, link);
        v
    }

    #[test]
    fn versions_follow_libpcap() {
        for (major, minor, ok) in [
            (2, 4, true),
            (2, 3, true),
            (2, 1, true),
            (543, 0, true),
            (1, 0, false),
            (2, 5, false),
            (3, 0, false),
        ] {
            let h = header(0xa1b2_c3d4, true, major, minor, 65535, 1);
            assert_eq!(Decoder::from_header(&h).is_ok(), ok, "{major}.{minor}");
        }
    }

    #[test]
    fn old_versions_swap_lengths() {
        let h = header(0xa1b2_c3d4, false, 2, 2, 65535, 1);
        let mut d = Decoder::from_header(&h).expect("valid header");
        let mut rec = Vec::new();
        for x in [1u32, 2, 100, 10] {
            rec.extend_from_slice(&x.to_be_bytes());
        }
        rec.extend_from_slice(&[0; 10]);
        match d.step(&rec) {
            Step::Packet {
                caplen, wirelen, ..
            } => assert_eq!((caplen, wirelen), (10, 100)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn fcs_bits_are_masked_and_limit_follows_snaplen() {
        let h = header(0xa1b2_c3d4, true, 2, 4, 1 << 20, 1 | 0x1000_0000);
        let d = Decoder::from_header(&h).expect("valid header");
        assert_eq!(d.link, LinkType::Ethernet);
        assert_eq!(d.limit, 1 << 20);
        let h = header(0xa1b2_c3d4, true, 2, 4, u32::MAX, 1);
        let d = Decoder::from_header(&h).expect("valid header");
        assert_eq!(d.limit, super::super::MAX_CAPLEN);
    }
}
