//! Shared by the `tls` and `http` targets: one TCP connection's layer-7 classifier
//! ([`engine::l7::tcp::TcpL7`]) fed segment by segment through its public `on_segment`, the way
//! the worker does after its TCP statistics (the parsers themselves are private to the engine).
//!
//! Input format:
//!
//! ```text
//! cfg (1 byte) | { h (1 byte) | len (2 bytes, big endian) | data (len bytes, fewer at the end) }*
//! ```
//!
//! `cfg` bits 0-1 pick the server port from the target's table, bit 2 skips the three-way
//! handshake (the classifier then sees data on a flow whose ISNs are zero), bits 3-7 are left to
//! the target. Segment `i` goes client to server when `i` is even and server to client when
//! odd, unless bit 0 of `h` flips it; bit 1 of `h` marks a retransmission (the segment reuses
//! the sequence number of the previous one of its direction); bit 2 states a payload length
//! larger than what is captured (a snap length); bit 3 clears PSH; bit 4 sends FIN with it.

use engine::l7::tcp::TcpL7;
use engine::l7::TcpCtx;
use engine::time::Timestamp;
use engine::wire::TcpFlags;

const SYN: u8 = 0x02;
const FIN: u8 = 0x01;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// One segment as the harness hands it over (the `tls` target reads none of it).
#[allow(dead_code)]
pub struct Seg<'a> {
    /// 0 client to server, 1 server to client.
    pub dir: usize,
    /// Captured payload.
    pub payload: &'a [u8],
    /// Payload length from the IP header.
    pub payload_len: u32,
}

/// Tracks both directions' sequence numbers and counters and calls `on_segment`; `each` sees
/// every data segment after it was classified (the target takes its `log_http_complete` row
/// there). Returns the classifier for `record()`.
pub fn run(
    data: &[u8],
    ports_table: [u16; 4],
    mut each: impl FnMut(&mut TcpL7, &Seg<'_>),
) -> TcpL7 {
    let mut l7 = TcpL7::default();
    let Some((&cfg, mut rest)) = data.split_first() else {
        return l7;
    };
    let ports = [40_000u16, ports_table[usize::from(cfg & 3)]];
    let handshake = cfg & 4 == 0;
    // Initial sequence numbers near the wrap so that sequence arithmetic wraps too.
    let isn = if handshake {
        [0xffff_ff00u32, 0x7fff_fff0u32]
    } else {
        [0, 0]
    };
    let mut next = [isn[0].wrapping_add(1), isn[1].wrapping_add(1)];
    let mut last = next;
    let mut max_seq = if handshake { next } else { [0, 0] };
    let mut packets = 0u64;
    let mut dir_packets = [0u64; 2];
    let first = Timestamp::from_sec_usec(1_700_000_000, 0);
    let mut now = first;

    let mut step = |l7: &mut TcpL7,
                    dir: usize,
                    flags: u8,
                    seq: u32,
                    payload: &[u8],
                    payload_len: u32,
                    retr: bool,
                    max_seq: [u32; 2]| {
        packets += 1;
        dir_packets[dir] += 1;
        now = Timestamp(now.0 + 1_000);
        let ctx = TcpCtx {
            dir,
            payload,
            payload_len,
            flags: TcpFlags(flags),
            seq,
            now,
            first_time: first,
            ports,
            packets,
            dir_packets,
            isn: if handshake { isn } else { [0, 0] },
            max_seq,
            retransmission: retr,
        };
        l7.on_segment(&ctx);
    };

    if handshake {
        step(&mut l7, 0, SYN, isn[0], &[], 0, false, max_seq);
        step(&mut l7, 1, SYN | ACK, isn[1], &[], 0, false, max_seq);
        step(&mut l7, 0, ACK, next[0], &[], 0, false, max_seq);
    }

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
        let retr = h & 2 != 0;
        let payload_len = n as u32
            + if h & 4 != 0 {
                1 + u32::from(h >> 5) * 100
            } else {
                0
            };
        let mut flags = ACK;
        if h & 8 == 0 {
            flags |= PSH;
        }
        if h & 16 != 0 {
            flags |= FIN;
        }
        let seq = if retr { last[dir] } else { next[dir] };
        last[dir] = seq;
        let end = seq.wrapping_add(payload_len);
        if !retr {
            next[dir] = end;
        }
        if end.wrapping_sub(max_seq[dir]) as i32 > 0 {
            max_seq[dir] = end;
        }
        step(
            &mut l7,
            dir,
            flags,
            seq,
            payload,
            payload_len,
            retr,
            max_seq,
        );
        each(
            &mut l7,
            &Seg {
                dir,
                payload,
                payload_len,
            },
        );
    }
    l7
}
