//! Fuzz target for the worker: flow table (lookup, insert, eviction, garbage collection) and
//! the TCP/UDP flow models, fed with well-formed Ethernet frames built from a template so that
//! the fuzzer spends its time on flow logic rather than on the parser.
//!
//! Input format, repeated until the input runs out:
//!
//! ```text
//! L (1 byte) | chunk (L bytes, zero-padded if the input ends early) | dt (1 byte, x 100 ms)
//! ```
//!
//! A chunk describes one frame (see [`build_frame`]): its first two bytes pick one of eight
//! fixed endpoint pairs (IPv4 and IPv6, ports 80/443/53, one self-connection), the direction, TCP or UDP and a
//! few frame-level variants (VLAN tag, snap-length truncation, raw bytes); the following bytes
//! give TCP flags, sequence/ack numbers (relative to what the harness tracks per direction, so
//! in-order data, retransmissions, holes and wild jumps are all a byte away), window, TTL,
//! options (MSS, window scale, SACK-permitted, timestamps, SACK blocks), payload length and
//! the leading payload bytes (for the layer-7 classifiers).
//!
//! The worker runs with 8 TCP and 8 UDP flows at most, so eviction is exercised; the time step
//! of up to 25.5 s per frame makes singleton (10 s) and idle (200/300 s) timeouts fire.
//!
//! Asserts, after `finish`: `stats().packets` is the number of frames fed; the records written
//! are `tcp_complete + tcp_nocomplete + udp_closed`; every TCP record has `first <= last`; the
//! flow table is empty.
//!
//! Run with `cargo +nightly fuzz run worker` from `fuzz/`.
#![no_main]

use engine::config::EngineConfig;
use engine::record::FlowRecord;
use engine::time::Timestamp;
use engine::wire::LinkType;
use engine::worker::{FullPolicy, Worker};
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;
use std::sync::Arc;

/// The fixed endpoint pairs (client, client port, server, server port).
fn pairs() -> [(IpAddr, u16, IpAddr, u16); 8] {
    let v4 = |a: [u8; 4]| IpAddr::from(a);
    let v6 = |s: &str| s.parse::<IpAddr>().unwrap();
    [
        (v4([10, 0, 0, 1]), 40000, v4([192, 168, 1, 1]), 80),
        (v4([10, 0, 0, 1]), 40001, v4([192, 168, 1, 1]), 80),
        (v4([10, 0, 0, 2]), 40000, v4([8, 8, 8, 8]), 443),
        (v4([172, 16, 0, 5]), 40053, v4([10, 0, 0, 1]), 53),
        (v6("2001:db8::1"), 40000, v6("2001:db8::2"), 80),
        (v6("fe80::1"), 1234, v6("2001:db8::2"), 443),
        // A self-connection: both ends share address and port.
        (v4([10, 0, 0, 9]), 7777, v4([10, 0, 0, 9]), 7777),
        (v4([0, 0, 0, 0]), 0, v4([255, 255, 255, 255]), 65535),
    ]
}

/// Initial sequence numbers per pair and direction; some sit just below the 2^32 wrap.
const ISN: [[u32; 2]; 8] = [
    [1_000, 900_000],
    [0xffff_ff00, 0x7fff_ffff],
    [0, 0xffff_fff0],
    [0x8000_0000, 0x8000_0000],
    [12_345, 0xffff_0000],
    [0xffff_ffff, 1],
    [42, 42],
    [0x1234_5678, 0x9abc_def0],
];

/// Reads bytes from a chunk, zeros once it is exhausted.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
}

/// What the harness tracks per pair and direction, to make plausible sequence numbers.
#[derive(Clone, Copy, Default)]
struct Side {
    /// Next expected sequence number (ISN before anything was sent).
    next: u32,
    /// Last TSval sent.
    tsval: u32,
}

struct Harness {
    sides: [[Side; 2]; 8],
    pairs: [(IpAddr, u16, IpAddr, u16); 8],
    frame: Vec<u8>,
}

impl Harness {
    fn new() -> Harness {
        let mut sides = [[Side::default(); 2]; 8];
        for (p, s) in sides.iter_mut().enumerate() {
            for d in 0..2 {
                s[d].next = ISN[p][d];
                s[d].tsval = 100 * (p as u32 + 1) + d as u32;
            }
        }
        Harness {
            sides,
            pairs: pairs(),
            frame: Vec::with_capacity(2048),
        }
    }

    /// Builds one Ethernet frame from a chunk into `self.frame`.
    ///
    /// byte 0: bits 0-2 pair, bit 3 server-to-client, bit 4 UDP, bit 5 802.1Q tag,
    ///         bit 6 capture only the headers (IP length still states the full payload),
    ///         bit 7 raw: the rest of the chunk is the frame, as is.
    /// byte 1: TCP flags.
    /// byte 2: low nibble sequence mode, high nibble ack mode (0: tracked value, 1: minus a
    ///         16-bit delta, 2: plus a 16-bit delta, 3: absolute 32-bit value, 4+: tracked).
    /// then:   deltas/values as the modes need, window (2), TTL (1), payload length (2),
    ///         options mask (1) and option values; the remaining bytes start the payload
    ///         (its length is at least theirs), the rest of the payload is 0xa5 filler.
    fn build_frame(&mut self, chunk: &[u8]) {
        self.frame.clear();
        let mut c = Cursor(chunk);
        let sel = c.u8();
        if sel & 0x80 != 0 {
            self.frame.extend_from_slice(c.0);
            return;
        }
        let pair = usize::from(sel & 7);
        let dir = usize::from((sel >> 3) & 1);
        let udp = sel & 0x10 != 0;
        let vlan = sel & 0x20 != 0;
        let headers_only = sel & 0x40 != 0;
        let (cip, cport, sip, sport) = self.pairs[pair];
        let (src, sport_, dst, dport_) = if dir == 0 {
            (cip, cport, sip, sport)
        } else {
            (sip, sport, cip, cport)
        };

        let flags = c.u8();
        let modes = c.u8();
        let pick = |mode: u8, tracked: u32, c: &mut Cursor| match mode {
            1 => tracked.wrapping_sub(u32::from(c.u16())),
            2 => tracked.wrapping_add(u32::from(c.u16())),
            3 => c.u32(),
            _ => tracked,
        };
        let seq = pick(modes & 0xf, self.sides[pair][dir].next, &mut c);
        let ack = pick(modes >> 4, self.sides[pair][1 - dir].next, &mut c);
        let window = c.u16();
        let ttl = c.u8();
        let raw_len = c.u16();
        // Mostly MSS-sized payloads; the top bit allows anything up to what IPv4 can state.
        let payload_len = if raw_len & 0x8000 != 0 {
            usize::from(raw_len & 0x7fff) * 2
        } else {
            usize::from(raw_len) % 1461
        };

        // TCP options, NOP-padded to a multiple of 4 and at most 40 bytes.
        let mut opts: Vec<u8> = Vec::new();
        if !udp {
            let mask = c.u8();
            if mask & 1 != 0 {
                opts.extend_from_slice(&[2, 4]);
                opts.extend_from_slice(&c.u16().to_be_bytes());
            }
            if mask & 2 != 0 {
                opts.extend_from_slice(&[3, 3, c.u8()]);
            }
            if mask & 4 != 0 {
                opts.extend_from_slice(&[4, 2]);
            }
            if mask & 8 != 0 {
                let side = &mut self.sides[pair][dir];
                side.tsval = side.tsval.wrapping_add(u32::from(c.u8()));
                let tsval = side.tsval;
                let tsecr = self.sides[pair][1 - dir].tsval;
                opts.extend_from_slice(&[8, 10]);
                opts.extend_from_slice(&tsval.to_be_bytes());
                opts.extend_from_slice(&tsecr.to_be_bytes());
            }
            if mask & 0x30 != 0 {
                let blocks = usize::from((mask >> 4) & 3);
                let room = (40 - opts.len()).saturating_sub(2) / 8;
                let blocks = blocks.min(room);
                if blocks > 0 {
                    opts.extend_from_slice(&[5, 2 + 8 * blocks as u8]);
                    let base = self.sides[pair][1 - dir].next;
                    for _ in 0..blocks {
                        let left = base.wrapping_add(u32::from(c.u16()));
                        let right = left.wrapping_add(u32::from(c.u16()));
                        opts.extend_from_slice(&left.to_be_bytes());
                        opts.extend_from_slice(&right.to_be_bytes());
                    }
                }
            }
            if mask & 0x40 != 0 && opts.len() < 40 {
                // A malformed option: kind from the input, length byte from the input.
                opts.extend_from_slice(&[c.u8(), c.u8()]);
            }
            while opts.len() % 4 != 0 {
                opts.push(1);
            }
            opts.truncate(40);
        }

        let l4_hdr = if udp { 8 } else { 20 + opts.len() };
        let ipv6 = src.is_ipv6();
        let ip_hdr = if ipv6 { 40 } else { 20 };
        // Whatever is left of the chunk is the start of the payload (so that the layer-7
        // classifiers see fuzzed content); the rest of the payload is filler.
        let content = c.0;
        let payload_len = payload_len.max(content.len()).min(65535 - 60 - 40);

        // Ethernet.
        let f = &mut self.frame;
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]);
        if vlan {
            f.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
        }
        f.extend_from_slice(if ipv6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
        let proto = if udp { 17u8 } else { 6u8 };
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let total = (ip_hdr + l4_hdr + payload_len) as u16;
                f.extend_from_slice(&[0x45, 0]);
                f.extend_from_slice(&total.to_be_bytes());
                f.extend_from_slice(&[0x12, 0x34, 0x40, 0, ttl, proto, 0, 0]);
                f.extend_from_slice(&s.octets());
                f.extend_from_slice(&d.octets());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let plen = (l4_hdr + payload_len) as u16;
                f.extend_from_slice(&[0x60, 0, 0, 0]);
                f.extend_from_slice(&plen.to_be_bytes());
                f.extend_from_slice(&[proto, ttl]);
                f.extend_from_slice(&s.octets());
                f.extend_from_slice(&d.octets());
            }
            _ => unreachable!("pairs are of one family"),
        }
        if udp {
            f.extend_from_slice(&sport_.to_be_bytes());
            f.extend_from_slice(&dport_.to_be_bytes());
            f.extend_from_slice(&((8 + payload_len) as u16).to_be_bytes());
            f.extend_from_slice(&[0, 0]);
        } else {
            f.extend_from_slice(&sport_.to_be_bytes());
            f.extend_from_slice(&dport_.to_be_bytes());
            f.extend_from_slice(&seq.to_be_bytes());
            f.extend_from_slice(&ack.to_be_bytes());
            f.push(((l4_hdr / 4) as u8) << 4);
            f.push(flags);
            f.extend_from_slice(&window.to_be_bytes());
            f.extend_from_slice(&[0, 0, 0, 0]);
            f.extend_from_slice(&opts);
        }
        if !headers_only {
            let start = f.len();
            f.extend_from_slice(content);
            f.resize(start + payload_len, 0xa5);
        }

        if !udp {
            // Track what this side sent, as a well-behaved sender would continue.
            let phantom = u32::from(flags & 0x02 != 0) + u32::from(flags & 0x01 != 0);
            let end = seq.wrapping_add(payload_len as u32).wrapping_add(phantom);
            let side = &mut self.sides[pair][dir];
            if (end.wrapping_sub(side.next) as i32) > 0 || flags & 0x02 != 0 {
                side.next = end;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let cfg = Arc::new(EngineConfig {
        max_tcp_flows: 8,
        max_udp_flows: 8,
        ..Default::default()
    });
    let mut w = Worker::new(cfg, Vec::<FlowRecord>::new(), FullPolicy::Drop);
    let mut h = Harness::new();
    let mut ts = Timestamp::from_sec_usec(1_600_000_000, 0);
    let mut fed: u64 = 0;
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (chunk, tail) = tail.split_at(n);
        let (dt, tail) = match tail.split_first() {
            Some((&dt, tail)) => (dt, tail),
            None => (0, tail),
        };
        rest = tail;
        h.build_frame(chunk);
        w.process(ts, LinkType::Ethernet, &h.frame);
        fed += 1;
        ts = Timestamp(ts.0 + i64::from(dt) * 100_000);
    }
    w.finish(ts);

    let stats = w.stats().clone();
    assert_eq!(stats.packets, fed, "packets counted != frames fed");
    assert_eq!(w.flow_counts(), (0, 0), "flows left after finish");
    let records = w.into_sink();
    assert_eq!(
        records.len() as u64,
        stats.tcp_complete + stats.tcp_nocomplete + stats.udp_closed,
        "records != tcp_complete + tcp_nocomplete + udp_closed"
    );
    for r in &records {
        if let FlowRecord::Tcp(t) = r {
            assert!(
                t.first <= t.last,
                "TCP record with first {:?} > last {:?}",
                t.first,
                t.last
            );
        }
    }
});
