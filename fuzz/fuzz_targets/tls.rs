//! Fuzz target for the TLS parsing of the TCP classifier (ClientHello with SNI, ALPN/NPN,
//! supported versions, PSK and early data; ServerHello with the selected version, ALPN/NPN,
//! PSK and HelloRetryRequest; Certificate and the later handshake/application records; SSLv2
//! ClientHellos; ClientHellos split over several segments), driven through
//! `engine::l7::tcp::TcpL7::on_segment` because the parsers are private to the engine.
//!
//! Input: see `common/tcp_session.rs`; the server port is 443, 443, 8443 or 40001 (`cfg` bits
//! 0-1). Asserts: no panic; `record()` afterwards.
//!
//! Run with `cargo +nightly fuzz run tls` from `fuzz/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/tcp_session.rs"]
mod tcp_session;

fuzz_target!(|data: &[u8]| {
    let l7 = tcp_session::run(data, [443, 443, 8443, 40_001], |l7, _| {
        let _ = l7.take_http_row();
    });
    std::hint::black_box(l7.record());
});
