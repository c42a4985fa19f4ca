//! Fuzz target for the video-streaming classification of HTTP flows: the streaming classifier
//! of `videoL7.c` (`Content-Type` of the response, container signature of the body's first
//! segment, and the container metadata parsers for FLV/AMF, MP4 and AVI in
//! `engine/src/l7/tcp/video.rs`), the `http_t` URL classes of the requests and the YouTube URL
//! details they imply (`engine/src/l7/tcp/youtube.rs`), the `VIDEO_DETAILS` bit-rate samples
//! (`engine::tcp::rates`), and the control plane's `log_video_complete`, `log_tcp_complete`
//! and `log_http_complete` formatters on the records that come out. The parsers are private to
//! the engine, so they are reached the way real traffic reaches them: a TCP connection built
//! into Ethernet frames around the fuzzed HTTP exchanges and fed to `Worker::process`, then
//! `Worker::finish`.
//!
//! Input (structured, so that the fuzzer mutates the request line, the request headers, the
//! response head and the body separately):
//!
//! ```text
//! cfg (1) | mode (1) | exchange*        (at most four exchanges)
//! exchange = url | request headers | response head | body
//! each     = len (2 bytes, big endian) | bytes (fewer if the input ends first)
//! ```
//!
//! The request is `METHOD url HTTP/1.1\r\n` + headers + `\r\n` (the method from `mode` bits
//! 0-1: `GET`, `POST`, `HEAD`; 3: the url field is the whole request as it is); the response is
//! the response head + `\r\n` + body (`mode` bit 4: head ++ body as they are), cut into
//! segments of the server's MSS.
//!
//! `cfg` bits 0-1: server port 80, 80, 8080, 40001; bit 2: IPv6; bit 3: `video_rates` (the
//! Advanced video group: 1 s rate windows and message sizes); bit 4: `http_log`; bits 5-6: the
//! server's MSS 1460, 1448, 536, 90; bit 7: a 128-byte snap length on the payload (the IP
//! length still states the whole segment).
//!
//! `mode` bits 2-3: time between server segments 1 ms, 40 ms, 400 ms, 1.5 s (so the rate
//! windows fill, empty and stretch); bit 5: the request goes in two segments; bit 6: no
//! teardown (the flow ends unclosed, at `finish`); bit 7: the client sends no ACKs.
//!
//! Asserts: no panic; one TCP record for the connection; the `vd_type_cont`/`vd_type_pay`
//! codes are Tstat's (0..=13); the YouTube identifier fits its 49 bytes; every record formats
//! (the video row is formatted whether or not `is_video_row` would have the control plane
//! write it).
//!
//! Run with `cargo +nightly fuzz run video` from `fuzz/`.
#![no_main]

use control::logs::video::{video_row_with, VideoLevel};
use control::logs::{tcp_row, TcpLevel};
use engine::config::EngineConfig;
use engine::record::FlowRecord;
use engine::time::Timestamp;
use engine::wire::LinkType;
use engine::worker::{FullPolicy, Worker};
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;
use std::sync::Arc;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// Exchanges (request + response) per connection at most.
const MAX_EXCHANGES: usize = 4;
/// Largest `vd_type_cont` / `vd_type_pay` code (`NFF`).
const MAX_VIDEO_CODE: u8 = 13;

/// Reads the length-prefixed fields of the input; empty once it runs out.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn next(&mut self) -> &'a [u8] {
        if self.0.len() < 2 {
            self.0 = &[];
            return &[];
        }
        let len = usize::from(u16::from_be_bytes([self.0[0], self.0[1]]));
        let rest = &self.0[2..];
        let (field, rest) = rest.split_at(len.min(rest.len()));
        self.0 = rest;
        field
    }
}

/// One side of the connection as the harness tracks it.
struct End {
    ip: IpAddr,
    port: u16,
    /// Next sequence number to send.
    next: u32,
}

struct Conn {
    ends: [End; 2],
    frame: Vec<u8>,
    /// Payload bytes captured per segment (`usize::MAX`: everything).
    snap: usize,
    now: Timestamp,
}

impl Conn {
    /// Builds one segment from end `dir` (0 client, 1 server) into `self.frame`.
    fn build(&mut self, dir: usize, flags: u8, payload: &[u8], mss_option: bool) {
        let f = &mut self.frame;
        f.clear();
        let (src, dst) = (&self.ends[dir], &self.ends[1 - dir]);
        let opts: &[u8] = if mss_option { &[2, 4, 0x05, 0xb4] } else { &[] };
        let tcp_len = 20 + opts.len();
        let captured = payload.len().min(self.snap);
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]);
        match (src.ip, dst.ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
                f.extend_from_slice(&((20 + tcp_len + payload.len()) as u16).to_be_bytes());
                f.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, 6, 0, 0]);
                f.extend_from_slice(&s.octets());
                f.extend_from_slice(&d.octets());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
                f.extend_from_slice(&((tcp_len + payload.len()) as u16).to_be_bytes());
                f.extend_from_slice(&[6, 64]);
                f.extend_from_slice(&s.octets());
                f.extend_from_slice(&d.octets());
            }
            _ => unreachable!("both ends are of one family"),
        }
        let ack = if flags & ACK != 0 { dst.next } else { 0 };
        f.extend_from_slice(&src.port.to_be_bytes());
        f.extend_from_slice(&dst.port.to_be_bytes());
        f.extend_from_slice(&src.next.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.push(((tcp_len / 4) as u8) << 4);
        f.push(flags);
        f.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(opts);
        f.extend_from_slice(&payload[..captured]);
        let phantom = u32::from(flags & (SYN | FIN) != 0);
        let end = &mut self.ends[dir];
        end.next = end
            .next
            .wrapping_add(payload.len() as u32)
            .wrapping_add(phantom);
    }

    fn send<S: engine::worker::RecordSink>(
        &mut self,
        w: &mut Worker<S>,
        dir: usize,
        flags: u8,
        payload: &[u8],
        dt_us: i64,
    ) {
        self.build(dir, flags, payload, flags & SYN != 0);
        self.now = Timestamp(self.now.0 + dt_us);
        w.process(self.now, LinkType::Ethernet, &self.frame);
    }
}

fuzz_target!(|data: &[u8]| {
    let (cfg, mode, rest) = match data {
        [cfg, mode, rest @ ..] => (*cfg, *mode, rest),
        _ => return,
    };
    let server_port = [80u16, 80, 8080, 40_001][usize::from(cfg & 3)];
    let v6 = cfg & 4 != 0;
    let http_log = cfg & 0x10 != 0;
    let mss = [1460usize, 1448, 536, 90][usize::from((cfg >> 5) & 3)];
    let snap = if cfg & 0x80 != 0 { 128 } else { usize::MAX };
    let method: Option<&[u8]> =
        [Some(&b"GET "[..]), Some(b"POST "), Some(b"HEAD "), None][usize::from(mode & 3)];
    let gap_us = [1_000i64, 40_000, 400_000, 1_500_000][usize::from((mode >> 2) & 3)];
    let raw_response = mode & 0x10 != 0;
    let split_request = mode & 0x20 != 0;
    let teardown = mode & 0x40 == 0;
    let client_acks = mode & 0x80 == 0;

    let config = EngineConfig {
        video_rates: cfg & 8 != 0,
        http_log,
        ..EngineConfig::default()
    };
    let mut w = Worker::new(Arc::new(config), Vec::<FlowRecord>::new(), FullPolicy::Drop);
    let (cip, sip): (IpAddr, IpAddr) = if v6 {
        (
            "2001:db8::10".parse().unwrap(),
            "2001:db8:1::20".parse().unwrap(),
        )
    } else {
        ([10, 0, 0, 1].into(), [173, 194, 0, 10].into())
    };
    let mut c = Conn {
        ends: [
            End {
                ip: cip,
                port: 51_000,
                next: 0xffff_f000,
            },
            End {
                ip: sip,
                port: server_port,
                next: 0x1234_5678,
            },
        ],
        frame: Vec::with_capacity(2048),
        snap,
        now: Timestamp::from_sec_usec(1_700_000_000, 0),
    };

    c.send(&mut w, 0, SYN, &[], 0);
    c.send(&mut w, 1, SYN | ACK, &[], 20_000);
    c.send(&mut w, 0, ACK, &[], 20_000);

    let mut fields = Fields(rest);
    let mut request = Vec::new();
    let mut response = Vec::new();
    for i in 0..MAX_EXCHANGES {
        if i > 0 && fields.0.is_empty() {
            break;
        }
        let (url, headers, head, body) =
            (fields.next(), fields.next(), fields.next(), fields.next());

        request.clear();
        match method {
            Some(m) => {
                request.extend_from_slice(m);
                request.extend_from_slice(url);
                request.extend_from_slice(b" HTTP/1.1\r\n");
                request.extend_from_slice(headers);
                request.extend_from_slice(b"\r\n");
            }
            None => request.extend_from_slice(url),
        }
        if !request.is_empty() {
            let cut = if split_request { request.len() / 2 } else { 0 };
            for part in [&request[..cut], &request[cut..]] {
                for seg in part.chunks(1460) {
                    c.send(&mut w, 0, ACK | PSH, seg, 1_000);
                }
            }
            c.send(&mut w, 1, ACK, &[], 20_000);
        }

        response.clear();
        response.extend_from_slice(head);
        if !raw_response {
            response.extend_from_slice(b"\r\n");
        }
        response.extend_from_slice(body);
        let mut unacked = 0;
        for seg in response.chunks(mss) {
            c.send(&mut w, 1, ACK | PSH, seg, gap_us);
            unacked += 1;
            if client_acks && unacked == 2 {
                c.send(&mut w, 0, ACK, &[], 1_000);
                unacked = 0;
            }
        }
        if client_acks && unacked > 0 {
            c.send(&mut w, 0, ACK, &[], 1_000);
        }
    }

    if teardown {
        c.send(&mut w, 0, FIN | ACK, &[], 1_000);
        c.send(&mut w, 1, FIN | ACK, &[], 20_000);
        c.send(&mut w, 0, ACK, &[], 20_000);
    }
    w.finish(Timestamp(c.now.0 + 1_000));
    assert_eq!(w.flow_counts(), (0, 0), "flows left after finish");
    let records = w.into_sink();

    let mut out = Vec::new();
    let mut tcp = 0;
    for r in &records {
        match r {
            FlowRecord::Tcp(t) => {
                tcp += 1;
                let v = &t.l7.video;
                assert!(v.content <= MAX_VIDEO_CODE, "vd_type_cont {}", v.content);
                assert!(v.payload <= MAX_VIDEO_CODE, "vd_type_pay {}", v.payload);
                assert!(v.youtube.id.as_bytes().len() <= 49);
                tcp_row(&mut out, t, TcpLevel(31), t.complete);
                // The control plane writes the row for `is_video_row` records only; every
                // record must format.
                std::hint::black_box(control::logs::video::is_video_row(t));
                video_row_with(&mut out, t, VideoLevel(63), None);
            }
            FlowRecord::Http(m) => {
                for full_url in 0..3 {
                    control::logs::http::rows(&mut out, m, full_url, None);
                }
            }
            _ => {}
        }
    }
    assert_eq!(tcp, 1, "one connection, {tcp} TCP records");
    std::hint::black_box(out);
});
