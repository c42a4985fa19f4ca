//! pcapng: section header blocks in either byte order (a new section resets the interface
//! list), interface description blocks (link type, snap length, `if_tsresol`, `if_tsoffset`),
//! enhanced, simple and obsolete packet blocks. Every other block type (name resolution,
//! interface statistics, decryption secrets, custom, unknown) is checked for framing and skipped.
//! Timestamps are converted to µs truncating sub-µs parts, as libpcap does.

use super::{caplen_limit, u16_at, u32_at, u64_at, Fault, Step};
use crate::time::Timestamp;
use crate::wire::LinkType;

/// Section header block type (the same in both byte orders).
const BT_SHB: u32 = 0x0a0d_0d0a;
/// Interface description block.
const BT_IDB: u32 = 1;
/// Obsolete packet block.
const BT_PB: u32 = 2;
/// Simple packet block.
const BT_SPB: u32 = 3;
/// Enhanced packet block.
const BT_EPB: u32 = 6;

/// Byte-order magic as read little-endian from a little-endian section.
const BOM: u32 = 0x1a2b_3c4d;
/// Smallest possible SHB: header, BOM, version, section length, trailer.
pub(crate) const MIN_SHB_LEN: usize = 28;
/// Largest block accepted (libpcap's `INITIAL_MAX_BLOCKSIZE`); protects the chunked reader from
/// buffering absurd lengths.
const MAX_BLOCK_LEN: u32 = 16 << 20;
/// Smallest possible block: type, length, trailer.
const MIN_BLOCK_LEN: usize = 12;

/// `if_tsresol` option code.
const OPT_IF_TSRESOL: u16 = 9;
/// `if_tsoffset` option code.
const OPT_IF_TSOFFSET: u16 = 14;

/// One interface of the current section.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    limit: u32,
    /// Timestamp units per second (`if_tsresol`; 10^6 by default).
    per_sec: u64,
    /// Seconds added to every timestamp (`if_tsoffset`).
    offset_s: i64,
}

/// Decoding state of a pcapng stream.
#[derive(Debug)]
pub(crate) struct Decoder {
    le: bool,
    interfaces: Vec<Interface>,
    /// Timestamp of the previous packet, given to simple packet blocks (which carry none).
    last_ts: Timestamp,
}

/// Converts a pcapng timestamp in `per_sec` units, plus an offset in seconds, to µs, truncating
/// sub-µs parts and saturating at the ends of the `i64` range.
pub(crate) fn to_timestamp(units: u64, per_sec: u64, offset_s: i64) -> Timestamp {
    let per_sec = u128::from(per_sec.max(1));
    let units = u128::from(units);
    let us = (units / per_sec) * 1_000_000 + (units % per_sec) * 1_000_000 / per_sec;
    let total = us as i128 + i128::from(offset_s) * 1_000_000;
    Timestamp(total.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

fn bad(block_type: u32, reason: String) -> Step {
    Step::Fail(Fault::BadBlock { block_type, reason })
}

impl Decoder {
    /// A decoder before the first section header block.
    pub(crate) fn new() -> Decoder {
        Decoder {
            le: true,
            interfaces: Vec::new(),
            last_ts: Timestamp::ZERO,
        }
    }

    /// Decodes the block at the start of `d`.
    pub(crate) fn step(&mut self, d: &[u8]) -> Step {
        let Some(head) = d.get(..MIN_BLOCK_LEN) else {
            return Step::Need {
                needed: MIN_BLOCK_LEN,
                what: "block header",
            };
        };
        let is_shb = head.get(..4) == Some(&BT_SHB.to_be_bytes()[..]);
        if is_shb {
            match u32_at(head, 8, true) {
                Some(BOM) => self.le = true,
                Some(x) if x == BOM.swap_bytes() => self.le = false,
                other => {
                    return bad(
                        BT_SHB,
                        format!(
                            "byte-order magic {:#010x}, expected 0x1a2b3c4d",
                            other.unwrap_or(0).swap_bytes()
                        ),
                    )
                }
            }
        }
        let le = self.le;
        let block_type = u32_at(head, 0, le).unwrap_or(0);
        let total = u32_at(head, 4, le).unwrap_or(0);
        let min = if is_shb { MIN_SHB_LEN } else { MIN_BLOCK_LEN };
        if (total as usize) < min {
            return bad(
                block_type,
                format!("block length {total}, at least {min} needed"),
            );
        }
        if total % 4 != 0 {
            return bad(
                block_type,
                format!("block length {total} not a multiple of 4"),
            );
        }
        if total > MAX_BLOCK_LEN {
            return bad(
                block_type,
                format!("block length {total} larger than {MAX_BLOCK_LEN}"),
            );
        }
        let len = total as usize;
        let Some(block) = d.get(..len) else {
            return Step::Need {
                needed: len,
                what: "block",
            };
        };
        let trailer = u32_at(block, len.saturating_sub(4), le).unwrap_or(0);
        if trailer != total {
            return bad(
                block_type,
                format!("trailing block length {trailer}, leading one {total}"),
            );
        }
        let body = block.get(8..len.saturating_sub(4)).unwrap_or(&[]);
        match block_type {
            BT_SHB => self.section(body, len),
            BT_IDB => self.interface(body, len),
            BT_EPB => self.packet(body, len, false),
            BT_PB => self.packet(body, len, true),
            BT_SPB => self.simple_packet(body, len),
            _ => Step::Skip(len),
        }
    }

    fn section(&mut self, body: &[u8], len: usize) -> Step {
        let major = u16_at(body, 4, self.le).unwrap_or(0);
        let minor = u16_at(body, 6, self.le).unwrap_or(0);
        if major != 1 {
            return Step::Fail(Fault::UnsupportedVersion {
                format: "pcapng",
                major,
                minor,
            });
        }
        self.interfaces.clear();
        Step::Skip(len)
    }

    fn interface(&mut self, body: &[u8], len: usize) -> Step {
        let le = self.le;
        let (Some(link), Some(snaplen)) = (u16_at(body, 0, le), u32_at(body, 4, le)) else {
            return bad(BT_IDB, format!("block length {len}, at least 20 needed"));
        };
        let mut iface = Interface {
            link: LinkType::from_linktype(u32::from(link)),
            snaplen,
            limit: caplen_limit(snaplen),
            per_sec: 1_000_000,
            offset_s: 0,
        };
        let mut off = 8;
        while let (Some(code), Some(olen)) = (u16_at(body, off, le), u16_at(body, off + 2, le)) {
            if code == 0 {
                break;
            }
            let start = off + 4;
            let Some(value) = body.get(start..start + usize::from(olen)) else {
                return bad(
                    BT_IDB,
                    format!("option {code} of {olen} bytes runs past the block"),
                );
            };
            match (code, value) {
                (OPT_IF_TSRESOL, [v, ..]) => {
                    let exp = u32::from(v & 0x7f);
                    let per_sec = if v & 0x80 != 0 {
                        (exp <= 63).then(|| 1u64 << exp)
                    } else {
                        (exp <= 19).then(|| 10u64.pow(exp))
                    };
                    match per_sec {
                        Some(p) => iface.per_sec = p,
                        None => {
                            return bad(BT_IDB, format!("if_tsresol {v:#04x} is too fine"));
                        }
                    }
                }
                (OPT_IF_TSOFFSET, _) => {
                    if let Some(x) = u64_at(value, 0, le) {
                        iface.offset_s = x as i64;
                    }
                }
                _ => {}
            }
            off = start + usize::from(olen).div_ceil(4) * 4;
        }
        self.interfaces.push(iface);
        Step::Skip(len)
    }

    fn iface(&self, block_type: u32, id: u32) -> Result<Interface, Step> {
        self.interfaces.get(id as usize).copied().ok_or_else(|| {
            bad(
                block_type,
                format!(
                    "packet for interface {id}, only {} described in this section",
                    self.interfaces.len()
                ),
            )
        })
    }

    /// Enhanced (or, with `obsolete`, the old type 2) packet block.
    fn packet(&mut self, body: &[u8], len: usize, obsolete: bool) -> Step {
        let le = self.le;
        let block_type = if obsolete { BT_PB } else { BT_EPB };
        let id = if obsolete {
            u16_at(body, 0, le).map(u32::from)
        } else {
            u32_at(body, 0, le)
        };
        let fields = (
            id,
            u32_at(body, 4, le),
            u32_at(body, 8, le),
            u32_at(body, 12, le),
            u32_at(body, 16, le),
        );
        let (Some(id), Some(hi), Some(lo), Some(caplen), Some(wirelen)) = fields else {
            return bad(
                block_type,
                format!("block length {len}, at least 32 needed"),
            );
        };
        let iface = match self.iface(block_type, id) {
            Ok(i) => i,
            Err(step) => return step,
        };
        if caplen > iface.limit {
            return Step::Fail(Fault::BadRecordLength {
                caplen,
                limit: iface.limit,
            });
        }
        if caplen as usize > body.len().saturating_sub(20) {
            return bad(
                block_type,
                format!(
                    "captured length {caplen} larger than the {} bytes the block holds",
                    body.len().saturating_sub(20)
                ),
            );
        }
        let units = (u64::from(hi) << 32) | u64::from(lo);
        let ts = to_timestamp(units, iface.per_sec, iface.offset_s);
        self.last_ts = ts;
        Step::Packet {
            len,
            data_off: 8 + 20,
            caplen,
            wirelen,
            ts,
            link: iface.link,
        }
    }

    /// Simple packet block: interface 0, no timestamp (the previous packet's is used), captured
    /// length = min(original length, snap length, what the block holds).
    fn simple_packet(&mut self, body: &[u8], len: usize) -> Step {
        let Some(wirelen) = u32_at(body, 0, self.le) else {
            return bad(BT_SPB, format!("block length {len}, at least 16 needed"));
        };
        let iface = match self.iface(BT_SPB, 0) {
            Ok(i) => i,
            Err(step) => return step,
        };
        let room = u32::try_from(body.len().saturating_sub(4)).unwrap_or(u32::MAX);
        let mut caplen = wirelen.min(room);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen);
        }
        Step::Packet {
            len,
            data_off: 8 + 4,
            caplen,
            wirelen,
            ts: self.last_ts,
            link: iface.link,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_conversion_truncates() {
        assert_eq!(to_timestamp(1_500_000, 1_000_000, 0), Timestamp(1_500_000));
        assert_eq!(
            to_timestamp(1_999_999_999, 1_000_000_000, 0),
            Timestamp(1_999_999)
        );
        assert_eq!(to_timestamp(3, 1000, 0), Timestamp(3000));
        // 2^-20 s units: 1.5 s + 1 unit (0.95 µs) -> 1.5 s exactly.
        assert_eq!(
            to_timestamp((3 << 19) + 1, 1 << 20, 0),
            Timestamp(1_500_000)
        );
        assert_eq!(to_timestamp(5, 1, -2), Timestamp(3_000_000));
        assert_eq!(to_timestamp(u64::MAX, 1, i64::MAX), Timestamp(i64::MAX));
        assert_eq!(to_timestamp(0, 0, 0), Timestamp(0));
    }

    #[test]
    fn short_input_asks_for_more() {
        let mut d = Decoder::new();
        assert!(matches!(
            d.step(&[0x0a, 0x0d]),
            Step::Need { needed: 12, .. }
        ));
    }

    #[test]
    fn every_prefix_of_garbage_is_handled() {
        // A pseudo-random walk over many short inputs must never panic.
        let mut x: u32 = 0x1234_5678;
        for n in 0..2000 {
            let mut buf = vec![0x0a, 0x0d, 0x0d, 0x0a];
            for _ in 0..(n % 97) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                buf.push(x as u8);
            }
            let mut d = Decoder::new();
            let _ = d.step(&buf);
            let _ = d.step(buf.get(4..).unwrap_or(&[]));
        }
    }
}
