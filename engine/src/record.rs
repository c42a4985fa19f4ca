//! Plain-data flow records: what a worker hands to the control plane when a flow ends.
//!
//! Records are fixed-size values with no heap pointers, so they move through the
//! single-producer rings (and later through shared memory) by copy. They hold raw
//! measurements (sums, times, counters); turning them into Tstat's text columns is the
//! control plane's job.

use crate::time::Timestamp;
use std::net::IpAddr;

/// Per-direction measurements of a TCP flow (Tstat's `tcb`, as printed).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TcpDirRecord {
    /// `pkts_all`: all segments of the direction.
    pub packets: u64,
    /// `rst_cnt`.
    pub rst_cnt: u8,
    /// `ack_cnt`: segments with ACK.
    pub ack_cnt: u64,
    /// `ack_cnt_p`: pure ACKs.
    pub ack_cnt_p: u64,
    /// `bytes_uniq`.
    pub bytes_uniq: u64,
    /// `pkts_data`.
    pub pkts_data: u64,
    /// `bytes_all`.
    pub bytes_all: u64,
    /// `pkts_retx`.
    pub pkts_retx: u32,
    /// `bytes_retx`.
    pub bytes_retx: u32,
    /// `pkts_ooo`.
    pub pkts_ooo: u32,
    /// `syn_cnt`.
    pub syn_cnt: u8,
    /// `fin_cnt`.
    pub fin_cnt: u8,
    /// First segment with payload (`first` for `c_first`/`s_first`).
    pub payload_start: Timestamp,
    /// Last segment with payload.
    pub payload_end: Timestamp,
    /// First non-SYN segment with ACK.
    pub ack_start: Timestamp,
    /// Sum of RTT samples, µs.
    pub rtt_sum: f64,
    /// Sum of squared RTT samples, µs².
    pub rtt_sum2: f64,
    /// Minimum RTT sample, µs.
    pub rtt_min_us: u64,
    /// Maximum RTT sample, µs.
    pub rtt_max_us: u64,
    /// Number of RTT samples.
    pub rtt_cnt: u32,
    /// `ttl_min`.
    pub ttl_min: u32,
    /// `ttl_max`.
    pub ttl_max: u32,
    /// `f1323_opt`: window scale option seen.
    pub f1323_ws: bool,
    /// `tm_opt`: timestamp option seen.
    pub f1323_ts: bool,
    /// `win_scl`.
    pub win_scl: u8,
    /// `sack_opt`.
    pub sack_req: bool,
    /// `sack_cnt`.
    pub sack_cnt: u32,
    /// `mss` (option value).
    pub mss: u32,
    /// `mss_max`: largest payload.
    pub mss_max: u32,
    /// `mss_min`: smallest non-zero payload.
    pub mss_min: u32,
    /// `win_max`.
    pub win_max: u32,
    /// `win_min`.
    pub win_min: u32,
    /// `win_0`.
    pub win_0: u32,
    /// `cwin_max`.
    pub cwin_max: u32,
    /// `cwin_min`.
    pub cwin_min: u32,
    /// `cwin_ini`.
    pub cwin_ini: u32,
    /// `pkts_rto`.
    pub pkts_rto: u32,
    /// `pkts_fs`.
    pub pkts_fs: u32,
    /// `pkts_reor`.
    pub pkts_reor: u32,
    /// `pkts_dup`.
    pub pkts_dup: u32,
    /// `pkts_unk`.
    pub pkts_unk: u32,
    /// `pkts_fc`.
    pub pkts_fc: u32,
    /// `pkts_unrto`.
    pub pkts_unrto: u32,
    /// `pkts_unfs`.
    pub pkts_unfs: u32,
    /// `syn_retx`: a repeated SYN or FIN had a different sequence number.
    pub syn_retx: bool,
    /// `pkts_push`: PSH-delimited messages.
    pub pkts_push: u32,
}

/// A finished TCP flow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TcpRecord {
    /// Client (sender of the first pure SYN).
    pub c_ip: IpAddr,
    /// Client port.
    pub c_port: u16,
    /// Server.
    pub s_ip: IpAddr,
    /// Server port.
    pub s_port: u16,
    /// Client address is internal.
    pub c_isint: bool,
    /// Server address is internal.
    pub s_isint: bool,
    /// First packet of the flow.
    pub first: Timestamp,
    /// Last packet of the flow.
    pub last: Timestamp,
    /// `log_tcp_complete` (true) or `log_tcp_nocomplete` (false).
    pub complete: bool,
    /// Client-to-server and server-to-client measurements.
    pub dirs: [TcpDirRecord; 2],
}

/// Per-direction measurements of a UDP flow.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UdpDirRecord {
    /// First packet of the direction (zero if none).
    pub first: Timestamp,
    /// Last packet of the direction (zero if none).
    pub last: Timestamp,
    /// Payload bytes (`UDP length − 8`, summed).
    pub bytes: u64,
    /// Packets.
    pub packets: u64,
}

/// A finished UDP flow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UdpRecord {
    /// Client (sender of the first packet).
    pub c_ip: IpAddr,
    /// Client port.
    pub c_port: u16,
    /// Server.
    pub s_ip: IpAddr,
    /// Server port.
    pub s_port: u16,
    /// Client address is internal.
    pub c_isint: bool,
    /// Server address is internal.
    pub s_isint: bool,
    /// Client-to-server and server-to-client measurements.
    pub dirs: [UdpDirRecord; 2],
}

/// A record as it travels through a worker's ring.
// Records are fixed-size plain data that move through rings by copy; boxing would allocate.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FlowRecord {
    /// A TCP flow.
    Tcp(TcpRecord),
    /// A UDP flow.
    Udp(UdpRecord),
}
