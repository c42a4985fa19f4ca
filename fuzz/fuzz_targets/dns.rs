//! Fuzz target for the DNS parsers: DN-Hunter's response parser
//! (`engine::l7::dns::parse_response`), the LDNS-compatible parser (`engine::l7::udp::ldns`:
//! `parse`, then `rr_text`, `type_name`, `class_name` and `push_dname` on every record), the
//! UDP classifier with `log_dns_complete` on (`UdpL7::on_datagram`), and the control plane's
//! `log_dns_complete` formatter (`control::logs::dns::rows`).
//!
//! Input: `cfg (1 byte) | DNS message`. `cfg` bit 0: over IPv6 (and an IPv6 pair in the log
//! row); bit 1: the message was sent by the server; bit 2: the stated length is longer than
//! the captured message; bit 3: the datagram comes from port 53 rather than going to it.
//! Asserts: no panic; `parse_response` gives at most `MAX_ANSWERS` addresses, all of the
//! family asked for; `parses` agrees with `parse`.
//!
//! Run with `cargo +nightly fuzz run dns` from `fuzz/`.
#![no_main]

use engine::l7::dns::{parse_response, MAX_ANSWERS};
use engine::l7::udp::{ldns, UdpL7};
use engine::l7::UdpCtx;
use engine::time::Timestamp;
use libfuzzer_sys::fuzz_target;

#[path = "common/message.rs"]
mod message;

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, msg)) = data.split_first() else {
        return;
    };
    let v6 = cfg & 1 != 0;
    let dir = (cfg >> 1) & 1;

    if let Some((name, addrs)) = parse_response(msg, v6) {
        assert!(addrs.len() <= MAX_ANSWERS);
        assert!(addrs.iter().all(|a| a.is_ipv6() == v6));
        std::hint::black_box(name);
    }

    let parsed = ldns::parse(msg);
    assert_eq!(ldns::parses(msg), parsed.is_some());
    if let Some(m) = &parsed {
        std::hint::black_box(m.flags());
        let mut s = String::new();
        for r in m.questions.iter().chain(&m.answers) {
            s.push_str(&ldns::rr_text(r));
            s.push_str(&ldns::type_name(r.rtype));
            s.push_str(&ldns::class_name(r.class));
            ldns::push_dname(&mut s, &r.owner);
        }
        std::hint::black_box(s);
    }

    let payload_len = msg.len() as u32 + if cfg & 4 != 0 { 17 } else { 0 };
    let mut u = UdpL7::default();
    let (src_port, dst_port) = if cfg & 8 != 0 {
        (53, 40_000)
    } else {
        (40_000, 53)
    };
    let ctx = UdpCtx {
        dir: usize::from(dir),
        payload: msg,
        payload_len,
        src_port,
        dst_port,
        now: Timestamp::from_sec_usec(1_700_000_000, 0),
        packets: 1,
        dns_log: true,
    };
    u.on_datagram(&ctx);
    let logged = u.take_dns_message();
    if payload_len as usize == msg.len() {
        assert_eq!(logged, parsed.is_some());
    }
    std::hint::black_box(u.record());

    let mut out = Vec::new();
    let m = message::message(v6, dir, 0, payload_len, msg, b"");
    control::logs::dns::rows(&mut out, &m, None);
    std::hint::black_box(out);
});
