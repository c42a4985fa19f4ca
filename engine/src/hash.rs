//! The software Toeplitz RSS hash, bit-for-bit what a NIC computes, and the symmetric key.
//!
//! Owns: the 40-byte symmetric RSS key (`0x6d5a` repeated) that the DPDK driver programs into
//! NICs, and a table-driven software Toeplitz hash that gives the same 32-bit value for the same
//! input, so that trace-file runs spread flows over workers exactly as the hardware would. With
//! the symmetric key, hash(a → b) == hash(b → a): both directions of a flow land on one worker.
//! Also owns the default redirection table ([`reta_queue`]): the queue (core) a NIC with
//! `queues` RX queues and its default RETA gives a hash, so that software spreading over DPDK
//! cores picks the core the hardware would. Does not own: `analyze`'s and libpcap's choice of a
//! worker (a plain modulo, theirs), flow-table hashing (the flow table uses its own hasher), or talking to a NIC.
//!
//! Input layout (Microsoft RSS specification): IPv4 `src addr ‖ dst addr ‖ src port ‖ dst
//! port` (12 bytes), IPv6 the same with 16-byte addresses (36 bytes), all in network byte order.
//! The hot path is one table lookup and one XOR per input byte: [`Toeplitz::new`] precomputes, for
//! every input byte position and byte value, the XOR of the key windows that byte selects.

use crate::wire::FiveTuple;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

/// The symmetric RSS key: `0x6d, 0x5a` repeated to 40 bytes. Its bit pattern repeats every 16
/// bits, so swapping source and destination (addresses and ports, each a multiple of 16 bits
/// long) leaves the Toeplitz hash unchanged.
pub const SYMMETRIC_RSS_KEY: [u8; 40] = {
    let mut key = [0u8; 40];
    let mut i = 0;
    while i < 40 {
        key[i] = if i % 2 == 0 { 0x6d } else { 0x5a };
        i += 1;
    }
    key
};

/// The default (non-symmetric) key of the Microsoft RSS specification and its verification
/// suite; many NIC drivers use it when no key is configured.
pub const MICROSOFT_RSS_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// The longest input a 40-byte key can hash (IPv6 addresses and ports): 40 − 4 bytes. Bytes past
/// this are ignored by [`Toeplitz::hash_bytes`].
pub const MAX_INPUT_LEN: usize = 36;

/// A Toeplitz hasher for one key, with per-byte-position lookup tables (36 KiB).
///
/// Build it once ([`Toeplitz::new`], or the shared [`symmetric`] instance) and hash many times.
pub struct Toeplitz {
    /// `tables[i][b]`: the hash contribution of byte value `b` at input position `i`.
    tables: Box<[[u32; 256]; MAX_INPUT_LEN]>,
}

impl std::fmt::Debug for Toeplitz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Toeplitz").finish_non_exhaustive()
    }
}

/// The 32 key bits starting at bit `bit` (most significant bit of `key[0]` is bit 0); bits past
/// the end of the key read as 0.
fn key_window(key: &[u8; 40], bit: usize) -> u32 {
    let byte = bit / 8;
    let shift = bit % 8;
    let mut wide = 0u64;
    for i in 0..5 {
        wide = (wide << 8) | u64::from(key.get(byte + i).copied().unwrap_or(0));
    }
    // `wide` holds 40 key bits starting at `byte * 8`; keep the 32 that start `shift` bits in.
    (wide >> (8 - shift)) as u32
}

impl Toeplitz {
    /// Precomputes the lookup tables for `key`.
    pub fn new(key: &[u8; 40]) -> Toeplitz {
        let mut tables = Box::new([[0u32; 256]; MAX_INPUT_LEN]);
        for (pos, table) in tables.iter_mut().enumerate() {
            // Contribution of each single bit of this input byte, most significant first.
            let mut bit_windows = [0u32; 8];
            for (j, w) in bit_windows.iter_mut().enumerate() {
                *w = key_window(key, pos * 8 + j);
            }
            for (value, entry) in table.iter_mut().enumerate() {
                *entry = bit_windows
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| value & (0x80 >> j) != 0)
                    .fold(0, |acc, (_, w)| acc ^ w);
            }
        }
        Toeplitz { tables }
    }

    /// The Toeplitz hash of `input` (network byte order, at most [`MAX_INPUT_LEN`] bytes are
    /// used).
    #[inline]
    pub fn hash_bytes(&self, input: &[u8]) -> u32 {
        self.tables
            .iter()
            .zip(input)
            .fold(0, |hash, (table, &byte)| hash ^ table[usize::from(byte)])
    }

    /// The RSS hash of an IPv4 TCP/UDP four-tuple (the 12-byte "with ports" input).
    #[inline]
    pub fn hash_ipv4(&self, src: Ipv4Addr, dst: Ipv4Addr, src_port: u16, dst_port: u16) -> u32 {
        let mut input = [0u8; 12];
        input[0..4].copy_from_slice(&src.octets());
        input[4..8].copy_from_slice(&dst.octets());
        input[8..10].copy_from_slice(&src_port.to_be_bytes());
        input[10..12].copy_from_slice(&dst_port.to_be_bytes());
        self.hash_bytes(&input)
    }

    /// The RSS hash of an IPv6 TCP/UDP four-tuple (the 36-byte "with ports" input).
    #[inline]
    pub fn hash_ipv6(&self, src: Ipv6Addr, dst: Ipv6Addr, src_port: u16, dst_port: u16) -> u32 {
        let mut input = [0u8; 36];
        input[0..16].copy_from_slice(&src.octets());
        input[16..32].copy_from_slice(&dst.octets());
        input[32..34].copy_from_slice(&src_port.to_be_bytes());
        input[34..36].copy_from_slice(&dst_port.to_be_bytes());
        self.hash_bytes(&input)
    }

    /// The RSS hash of a five-tuple: the IPv4 input when both addresses are IPv4, the IPv6
    /// input otherwise (an IPv4 address next to an IPv6 one, which the decode chain never
    /// produces, is taken as IPv4-mapped). The protocol is not part of the input, as on NICs.
    #[inline]
    pub fn hash_tuple(&self, t: &FiveTuple) -> u32 {
        match (t.src, t.dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => self.hash_ipv4(src, dst, t.src_port, t.dst_port),
            (src, dst) => self.hash_ipv6(v6(src), v6(dst), t.src_port, t.dst_port),
        }
    }
}

fn v6(addr: IpAddr) -> Ipv6Addr {
    match addr {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

/// Entries of a NIC's redirection table (i40e/ixgbe default size).
pub const RETA_SIZE: u32 = 128;

/// The RX queue a NIC with `queues` queues sends `hash` to under its default redirection table
/// (`RETA[i] = i % queues`, indexed by the hash's low bits).
#[inline]
pub fn reta_queue(hash: u32, queues: usize) -> usize {
    (hash % RETA_SIZE) as usize % queues.max(1)
}

/// The shared hasher for [`SYMMETRIC_RSS_KEY`], built on first use.
pub fn symmetric() -> &'static Toeplitz {
    static SYMMETRIC: OnceLock<Toeplitz> = OnceLock::new();
    SYMMETRIC.get_or_init(|| Toeplitz::new(&SYMMETRIC_RSS_KEY))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook bit-serial Toeplitz hash, to check the tables against.
    fn reference(key: &[u8; 40], input: &[u8]) -> u32 {
        let mut hash = 0u32;
        for (i, &byte) in input.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    hash ^= key_window(key, i * 8 + bit);
                }
            }
        }
        hash
    }

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn v6a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// Microsoft RSS verification suite ("Verifying the RSS Hash Calculation"), IPv4 rows:
    /// (source, source port, destination, destination port, hash with ports, hash without).
    const MS_IPV4: [(&str, u16, &str, u16, u32, u32); 5] = [
        (
            "66.9.149.187",
            2794,
            "161.142.100.80",
            1766,
            0x51ccc178,
            0x323e8fc2,
        ),
        (
            "199.92.111.2",
            14230,
            "65.69.140.83",
            4739,
            0xc626b0ea,
            0xd718262a,
        ),
        (
            "24.19.198.95",
            12898,
            "12.22.207.184",
            38024,
            0x5c2b394a,
            0xd2d0a5de,
        ),
        (
            "38.27.205.30",
            48228,
            "209.142.163.6",
            2217,
            0xafc7327f,
            0x82989176,
        ),
        (
            "153.39.163.191",
            44251,
            "202.188.127.2",
            1303,
            0x10e828a2,
            0x5d1809c5,
        ),
    ];

    /// The same suite, IPv6 rows.
    const MS_IPV6: [(&str, u16, &str, u16, u32, u32); 3] = [
        (
            "3ffe:2501:200:1fff::7",
            2794,
            "3ffe:2501:200:3::1",
            1766,
            0x40207d3d,
            0x2cc18cd5,
        ),
        (
            "3ffe:501:8::260:97ff:fe40:efab",
            14230,
            "ff02::1",
            4739,
            0xdde51bbf,
            0x0f0c461c,
        ),
        (
            "3ffe:1900:4545:3:200:f8ff:fe21:67cf",
            44251,
            "fe80::200:f8ff:fe21:67cf",
            38024,
            0x02d1feef,
            0x4b61e985,
        ),
    ];

    #[test]
    fn microsoft_vectors_ipv4() {
        let t = Toeplitz::new(&MICROSOFT_RSS_KEY);
        for (src, sp, dst, dp, with_ports, without) in MS_IPV4 {
            let (s, d) = (v4(src), v4(dst));
            assert_eq!(
                t.hash_ipv4(s, d, sp, dp),
                with_ports,
                "{src}:{sp} -> {dst}:{dp}"
            );
            let tuple = FiveTuple {
                src: s.into(),
                dst: d.into(),
                src_port: sp,
                dst_port: dp,
                proto: 6,
            };
            assert_eq!(t.hash_tuple(&tuple), with_ports);
            let addrs = [s.octets(), d.octets()].concat();
            assert_eq!(t.hash_bytes(&addrs), without, "{src} -> {dst}");
            assert_eq!(reference(&MICROSOFT_RSS_KEY, &addrs), without);
        }
    }

    #[test]
    fn microsoft_vectors_ipv6() {
        let t = Toeplitz::new(&MICROSOFT_RSS_KEY);
        for (src, sp, dst, dp, with_ports, without) in MS_IPV6 {
            let (s, d) = (v6a(src), v6a(dst));
            assert_eq!(
                t.hash_ipv6(s, d, sp, dp),
                with_ports,
                "{src}.{sp} -> {dst}.{dp}"
            );
            let tuple = FiveTuple {
                src: s.into(),
                dst: d.into(),
                src_port: sp,
                dst_port: dp,
                proto: 17,
            };
            assert_eq!(t.hash_tuple(&tuple), with_ports);
            let addrs = [s.octets(), d.octets()].concat();
            assert_eq!(t.hash_bytes(&addrs), without, "{src} -> {dst}");
        }
    }

    /// xorshift64*: deterministic pseudo-random input for the property tests.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    #[test]
    fn tables_match_bit_serial_reference() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for key in [MICROSOFT_RSS_KEY, SYMMETRIC_RSS_KEY] {
            let t = Toeplitz::new(&key);
            for len in 0..=MAX_INPUT_LEN {
                let input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                assert_eq!(t.hash_bytes(&input), reference(&key, &input));
            }
        }
        // Bytes past the 36th are ignored.
        let t = symmetric();
        let long = [0xffu8; 40];
        assert_eq!(t.hash_bytes(&long), t.hash_bytes(&long[..MAX_INPUT_LEN]));
    }

    #[test]
    fn symmetric_key_is_symmetric() {
        assert_eq!(&SYMMETRIC_RSS_KEY[..4], &[0x6d, 0x5a, 0x6d, 0x5a]);
        assert_eq!(SYMMETRIC_RSS_KEY[39], 0x5a);
        let t = symmetric();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for i in 0..20_000 {
            let (src, dst): (IpAddr, IpAddr) = if i % 2 == 0 {
                (
                    Ipv4Addr::from(rng.next() as u32).into(),
                    Ipv4Addr::from(rng.next() as u32).into(),
                )
            } else {
                let a = (u128::from(rng.next()) << 64) | u128::from(rng.next());
                let b = (u128::from(rng.next()) << 64) | u128::from(rng.next());
                (Ipv6Addr::from(a).into(), Ipv6Addr::from(b).into())
            };
            let (sp, dp) = (rng.next() as u16, rng.next() as u16);
            let fwd = FiveTuple {
                src,
                dst,
                src_port: sp,
                dst_port: dp,
                proto: 6,
            };
            let rev = FiveTuple {
                src: dst,
                dst: src,
                src_port: dp,
                dst_port: sp,
                proto: 6,
            };
            assert_eq!(t.hash_tuple(&fwd), t.hash_tuple(&rev), "{fwd:?}");
        }
        // The Microsoft key is not symmetric: the property is the key's, not the code's.
        let ms = Toeplitz::new(&MICROSOFT_RSS_KEY);
        let (a, b) = (v4("66.9.149.187"), v4("161.142.100.80"));
        assert_ne!(
            ms.hash_ipv4(a, b, 2794, 1766),
            ms.hash_ipv4(b, a, 1766, 2794)
        );
    }

    #[test]
    fn symmetric_hash_spreads() {
        // Sanity: distinct flows do not collapse onto a few values.
        let t = symmetric();
        let mut seen = std::collections::HashSet::new();
        for port in 0..1000u16 {
            seen.insert(t.hash_ipv4(v4("10.0.0.1"), v4("10.0.0.2"), 1024 + port, 443) & 0xff);
        }
        assert!(seen.len() > 200, "{}", seen.len());
    }
}
