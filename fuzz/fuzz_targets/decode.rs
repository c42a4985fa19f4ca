//! Fuzz target for the packet decode chain: the first input byte picks a link type, the rest is
//! the captured frame. Every field of a decoded packet is read so that any panic in the views or
//! the chain (out-of-range slicing, arithmetic overflow in debug builds) surfaces here.
//!
//! Run with `cargo +nightly fuzz run decode` from `fuzz/`.
#![no_main]

use engine::wire::{decode, LinkType, L4};
use libfuzzer_sys::fuzz_target;
use std::hint::black_box;

/// The link types the fuzzer picks from, indexed by the first input byte.
const LINKS: [LinkType; 10] = [
    LinkType::Ethernet,
    LinkType::RawIp,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Null,
    LinkType::Loop,
    LinkType::Unknown(147),
    LinkType::Ethernet,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(selector) % LINKS.len()];
    match decode(link, frame) {
        Ok(packet) => {
            black_box((
                packet.src,
                packet.dst,
                packet.ttl,
                packet.ip_id,
                packet.ip_len,
            ));
            let tuple = packet.five_tuple();
            black_box(engine::hash::symmetric().hash_tuple(&tuple));
            match packet.l4 {
                L4::Tcp(t) => {
                    assert!(t.payload.len() as u64 <= u64::from(t.payload_len));
                    assert!(t.header_len >= 20 && t.header_len <= 60);
                    black_box((t.src_port, t.dst_port, t.seq, t.ack, t.flags, t.window));
                    black_box((
                        t.options.mss,
                        t.options.window_scale,
                        t.options.sack_permitted,
                    ));
                    black_box((t.options.sack_blocks, t.options.timestamp));
                    black_box(t.payload.iter().fold(0u8, |a, &b| a ^ b));
                }
                L4::Udp(u) => {
                    assert!(u.payload.len() as u64 <= u64::from(u.payload_len));
                    black_box((u.src_port, u.dst_port));
                    black_box(u.payload.iter().fold(0u8, |a, &b| a ^ b));
                }
            }
        }
        Err(skip) => {
            black_box((skip.index(), skip.name()));
        }
    }
});
