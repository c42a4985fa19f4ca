//! Fuzz target for the UDP classifier, QUIC first: `engine::l7::udp::UdpL7::on_datagram` on a
//! sequence of datagrams of one flow (long-header parsing, version matching, Initial
//! decryption with the version's salt, CRYPTO frame reassembly and the ClientHello inside:
//! SNI, ALPN, versions), and the other UDP classifiers (P2P, RTP, uTP, VOD, obfuscation, DNS)
//! on the way.
//!
//! Input: `cfg (1 byte) | { h (1 byte) | len (2 bytes, big endian) | data }*`. `cfg` bits 0-1
//! pick the server port (443, 443, 80, 40001), bit 2 turns `log_dns_complete` on. Datagram `i`
//! goes client to server when `i` is even, server to client when odd, unless bit 0 of `h`
//! flips it; bit 2 of `h` states a longer UDP length than captured. Asserts: no panic;
//! `record()` afterwards.
//!
//! Run with `cargo +nightly fuzz run quic` from `fuzz/`.
#![no_main]

use engine::l7::udp::UdpL7;
use engine::l7::UdpCtx;
use engine::time::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, mut rest)) = data.split_first() else {
        return;
    };
    let server = [443u16, 443, 80, 40_001][usize::from(cfg & 3)];
    let client = 50_000u16;
    let dns_log = cfg & 4 != 0;
    let mut u = UdpL7::default();
    let mut now = Timestamp::from_sec_usec(1_700_000_000, 0);
    let mut packets = 0u64;
    let mut i = 0usize;
    while rest.len() >= 3 {
        let h = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        rest = &rest[3..];
        let n = len.min(rest.len());
        let (payload, tail) = rest.split_at(n);
        rest = tail;
        let dir = (i & 1) ^ usize::from(h & 1);
        i += 1;
        packets += 1;
        now = Timestamp(now.0 + 1_000);
        let payload_len = n as u32
            + if h & 4 != 0 {
                1 + u32::from(h >> 5) * 100
            } else {
                0
            };
        let (src_port, dst_port) = if dir == 0 {
            (client, server)
        } else {
            (server, client)
        };
        let ctx = UdpCtx {
            dir,
            payload,
            payload_len,
            src_port,
            dst_port,
            now,
            packets,
            dns_log,
        };
        u.on_datagram(&ctx);
        let _ = u.take_dns_message();
    }
    std::hint::black_box(u.record());
});
