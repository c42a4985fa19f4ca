//! Fuzz target for the HTTP parsing: the TCP classifier's HTTP detection, request/response
//! counters, Host extraction and `log_http_complete` row selection (through
//! `engine::l7::tcp::TcpL7::on_segment`, the parsers being private), then the control plane's
//! row formatter `control::logs::http::rows` for every row the classifier asks for, as the
//! worker and the log writer do.
//!
//! Input: see `common/tcp_session.rs`; the server port is 80, 80, 8080 or 40001 (`cfg` bits
//! 0-1); `cfg` bits 3-4 give `httplog_full_url` (0, 1, 2, 2), bit 5 an IPv6 pair, bit 6 a
//! DN-Hunter name for the server. Asserts: no panic; `record()` afterwards.
//!
//! Run with `cargo +nightly fuzz run http` from `fuzz/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/message.rs"]
mod message;
#[path = "common/tcp_session.rs"]
mod tcp_session;

fuzz_target!(|data: &[u8]| {
    let cfg = data.first().copied().unwrap_or(0);
    let full_url = ((cfg >> 3) & 3).min(2);
    let v6 = cfg & 0x20 != 0;
    let fqdn: &[u8] = if cfg & 0x40 != 0 {
        b"www.example.com"
    } else {
        b""
    };
    let mut out = Vec::new();
    let l7 = tcp_session::run(data, [80, 80, 8080, 40_001], |l7, seg| {
        if let Some(kind) = l7.take_http_row() {
            let m = message::message(v6, seg.dir as u8, kind, seg.payload_len, seg.payload, fqdn);
            control::logs::http::rows(&mut out, &m, full_url, None);
        }
    });
    std::hint::black_box(l7.record());
    std::hint::black_box(&out);
});
