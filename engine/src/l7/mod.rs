//! Layer-7 classification inside the per-worker pipeline: Tstat's connection types, HTTP, TLS,
//! P2P for TCP, the UDP types, and DN-Hunter.
//!
//! Owns per-flow classifier state ([`tcp::TcpL7`], [`udp::UdpL7`]) and turns it into the
//! layer-7 part of records. Classifiers see each segment or datagram once, after the TCP/UDP
//! statistics were updated (Tstat's `proto_analyzer` placement), through the read-only contexts
//! below. Does not own flow lookup or the TCP/UDP counters.

pub mod dns;
pub mod tcp;
pub mod udp;

use crate::time::Timestamp;
use crate::wire::TcpFlags;

/// What a TCP classifier sees of one segment and of its flow at that moment.
#[derive(Debug, Clone, Copy)]
pub struct TcpCtx<'a> {
    /// Direction of the segment: 0 client to server, 1 server to client.
    pub dir: usize,
    /// Captured payload (may be shorter than `payload_len`).
    pub payload: &'a [u8],
    /// Payload length from the IP header.
    pub payload_len: u32,
    /// TCP flags.
    pub flags: TcpFlags,
    /// Sequence number.
    pub seq: u32,
    /// Packet time.
    pub now: Timestamp,
    /// First packet of the flow.
    pub first_time: Timestamp,
    /// Client and server ports.
    pub ports: [u16; 2],
    /// Packets of the flow so far, this one included.
    pub packets: u64,
    /// Packets of each direction so far, this one included.
    pub dir_packets: [u64; 2],
    /// Initial sequence number (the SYN's) of each direction.
    pub isn: [u32; 2],
    /// Highest sequence number (end of data) seen in each direction.
    pub max_seq: [u32; 2],
    /// The segment overlapped already-seen sequence space.
    pub retransmission: bool,
}

/// What a UDP classifier sees of one datagram and of its flow at that moment.
#[derive(Debug, Clone, Copy)]
pub struct UdpCtx<'a> {
    /// Direction: 0 client to server, 1 server to client.
    pub dir: usize,
    /// Captured payload.
    pub payload: &'a [u8],
    /// `UDP length − 8`.
    pub payload_len: u32,
    /// Source and destination port of this datagram.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Packet time.
    pub now: Timestamp,
    /// Packets of the flow so far, this one included.
    pub packets: u64,
    /// `log_dns_complete` is on and no endpoint of the flow is multicast: datagrams that parse
    /// as DNS are logged and type an unknown direction as DNS.
    pub dns_log: bool,
}
