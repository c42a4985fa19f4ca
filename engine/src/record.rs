//! Plain-data flow records: what a worker hands to the control plane when a flow ends.
//!
//! Records are fixed-size values with no heap pointers, so they move through the
//! single-producer rings (and later through shared memory) by copy. They hold raw
//! measurements (sums, times, counters); turning them into Tstat's text columns is the
//! control plane's job.

pub use crate::histo::record::{HistoChunk, HistoItem};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// A string stored inline (no heap), cut at `N` bytes: host names, SNI and the like travel in
/// records by copy. Bytes are kept as seen on the wire (Tstat prints them raw).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct InlineStr<const N: usize> {
    len: u16,
    buf: [u8; N],
}

impl<const N: usize> Default for InlineStr<N> {
    fn default() -> Self {
        InlineStr {
            len: 0,
            buf: [0; N],
        }
    }
}

impl<const N: usize> std::fmt::Debug for InlineStr<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

// Serialised as its stored bytes (length-prefixed by the format), so a record's encoding is
// as long as its strings are, not as their inline capacity.
impl<const N: usize> Serialize for InlineStr<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.as_bytes())
    }
}

impl<'de, const N: usize> Deserialize<'de> for InlineStr<N> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Bytes<const N: usize>;
        impl<'de, const N: usize> serde::de::Visitor<'de> for Bytes<N> {
            type Value = InlineStr<N>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "at most {N} bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                if v.len() > N {
                    return Err(E::invalid_length(v.len(), &self));
                }
                Ok(InlineStr::new(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut s = InlineStr::<N>::default();
                while let Some(b) = seq.next_element::<u8>()? {
                    if usize::from(s.len) == N {
                        return Err(serde::de::Error::invalid_length(N + 1, &self));
                    }
                    s.buf[usize::from(s.len)] = b;
                    s.len += 1;
                }
                Ok(s)
            }
        }
        d.deserialize_bytes(Bytes::<N>)
    }
}

impl<const N: usize> InlineStr<N> {
    /// Copies at most `N` bytes of `b`.
    pub fn new(b: &[u8]) -> Self {
        let mut s = Self::default();
        let n = b.len().min(N);
        s.buf[..n].copy_from_slice(&b[..n]);
        s.len = n as u16;
        s
    }

    /// The stored bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// Whether nothing is stored (printed as Tstat's `-`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Layer-7 results of a TCP flow (the Layer7 and P2P column groups and `con_t`/`p2p_t`/`http_t`).
/// Defaults are Tstat's values for a flow nothing was recognised in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TcpL7Record {
    /// `con_t`: connection-type bitmask.
    pub con_t: u32,
    /// Full IPP2P code (protocol × 100 + subtype): `p2p_t` prints `/100`, `p2p_st` `%100`.
    pub p2p_type: u32,
    /// ED2K data / signalling / client-server / client-client / chat message counters.
    pub ed2k: [u32; 5],
    /// Tstat's `http_data` (HTTP content class); `http_t` prints it + 1 when `con_t` has HTTP.
    pub http_data: u8,
    /// `http_req_cnt`.
    pub http_req_cnt: u32,
    /// `http_res_cnt`.
    pub http_res_cnt: u32,
    /// First HTTP response code as its 3 characters (`000` if unparsable).
    pub http_res: [u8; 3],
    /// `c_tls_SNI`.
    pub tls_sni: InlineStr<120>,
    /// `s_tls_SCN`.
    pub tls_scn: InlineStr<80>,
    /// `c_npnalpn`, `s_npnalpn`.
    pub npnalpn: [u8; 2],
    /// `tls_session_stat` bits.
    pub tls_session_stat: u8,
    /// `c_last_handshakeT` / `s_last_handshakeT` instants (zero if none).
    pub last_handshake: [Timestamp; 2],
    /// `c_appdataT` / `s_appdataT` instants (zero if none).
    pub appdata_time: [Timestamp; 2],
    /// `c_appdataB` / `s_appdataB`.
    pub appdata_bytes: [u64; 2],
    /// `http_hostname`.
    pub http_hostname: InlineStr<200>,
    /// `c_TLSvers` / `s_TLSvers` as printed (e.g. `0303` or `0a0a,0304,0303`).
    pub tls_vers: [InlineStr<80>; 2],
    /// The video classification (`log_video_complete`).
    pub video: VideoRecord,
}

/// Container metadata Tstat's streaming classifier reads from the first bytes of a response
/// body (its `video_metadata`, the fields `log_video_complete` prints). Zero when unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoMeta {
    /// `vd_dur`: duration, s.
    pub duration: f64,
    /// `vd_rate_tot`: the container's bit rate (units as the container states them).
    pub rate: f64,
    /// `vd_width` (Tstat prints the 32 bits as a signed `%d`).
    pub width: u32,
    /// `vd_height`.
    pub height: u32,
}

/// The YouTube details Tstat takes from the URL of a request classified as YouTube (its
/// `http_ytid`, `http_ytitag`, `http_ytseek`, ...; the `yt_*` columns).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct YouTubeRecord {
    /// The video identifier as found (11, 16 or 46 characters); `--` when none was found.
    pub id: InlineStr<49>,
    /// `yt_itag` as found (up to 4 characters); `--` when none was found.
    pub itag: InlineStr<4>,
    /// `yt_seek`: the `begin=` offset.
    pub seek: i32,
    /// `yt_red_mode`: which redirection parameters the URL carried.
    pub redir_mode: i32,
    /// `yt_red_cnt`.
    pub redir_count: i32,
    /// `yt_mobile`: 0 desktop, 1 other, 2 Apple, 3 Android.
    pub mobile: i32,
    /// `yt_stream`: the kind of streaming request.
    pub stream: i32,
}

/// What `log_video_complete` needs from the layer-7 classifiers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoRecord {
    /// Tstat's test for a row in `log_video_complete` (`is_video || is_streaming ||
    /// is_ssl_youtube`); the row is written for complete flows only.
    pub log: bool,
    /// `vd_type_cont`: container announced by the response's `Content-Type`.
    pub content: u8,
    /// `vd_type_pay`: container recognised in the response body.
    pub payload: u8,
    /// `vd_dur`, `vd_rate_tot`, `vd_width`, `vd_height`.
    pub meta: VideoMeta,
    /// The `yt_*` columns; meaningful only when `http_data` is a YouTube class.
    pub youtube: YouTubeRecord,
}

/// One direction's bit-rate samples of Tstat's `VIDEO_DETAILS` (`rate_*` of its `tcb`): the
/// payload bytes of every 1 s window from the first data segment to the flow's end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RateRecord {
    /// `rate_smpl`: windows.
    pub samples: u32,
    /// `rate_zero`: windows without data.
    pub empty: u32,
    /// `rate_streak`: longest run of empty windows (with Tstat's bookkeeping, see `tcp`).
    pub streak: u32,
    /// Sum of the samples (bytes/s).
    pub sum: f64,
    /// Sum of the squared samples.
    pub sum2: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// `rate1`..`rate10`: bytes of the first ten windows.
    pub begin: [u32; 10],
}

/// The Advanced group of `log_video_complete`: rate samples of both directions and the sizes
/// of the server's first PSH-delimited messages. All zero when the group is off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoRatesRecord {
    /// Client-to-server and server-to-client samples.
    pub dirs: [RateRecord; 2],
    /// `s_msgsize1`..`s_msgsize10`.
    pub s_msg_size: [u32; 10],
}

/// Layer-7 results of a UDP flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct UdpL7Record {
    /// `c_type` / `s_type`.
    pub types: [u8; 2],
    /// `quic_SNI`.
    pub quic_sni: InlineStr<80>,
    /// `quic_UA`.
    pub quic_ua: InlineStr<128>,
    /// `quic_c_vers` / `quic_s_vers` (printed only when both directions are QUIC).
    pub quic_vers: [Option<u32>; 2],
    /// `quic_zero_rtt`.
    pub quic_zero_rtt: u32,
    /// `quic_ech`.
    pub quic_ech: u32,
}

/// DN-Hunter result frozen into a flow at its creation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsInfo {
    /// The name the client resolved (`fqdn`); empty if unknown.
    pub fqdn: InlineStr<256>,
    /// The DNS server that answered (`dns_rslv`).
    pub server: Option<IpAddr>,
    /// Request time (`req_tm`).
    pub req: Timestamp,
    /// Response time (`res_tm`).
    pub res: Timestamp,
}

/// Per-direction measurements of a TCP flow (Tstat's `tcb`, as printed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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
    /// Layer-7 results.
    pub l7: TcpL7Record,
    /// DN-Hunter result.
    pub dns: DnsInfo,
    /// Rate samples for `log_video_complete` (zero unless its Advanced group is on).
    pub rates: VideoRatesRecord,
}

/// Per-direction measurements of a UDP flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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
    /// Layer-7 results.
    pub l7: UdpL7Record,
    /// DN-Hunter result.
    pub dns: DnsInfo,
}

/// Bytes of a segment or datagram carried in a [`MessageRecord`].
pub const MESSAGE_BYTES: usize = 1600;

/// One application message the per-message logs need (`log_http_complete` rows come from an
/// HTTP request or response segment, `log_dns_complete` rows from a DNS message): the worker
/// copies the captured payload and the flow's identity; the control plane parses and formats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// Client of the flow.
    pub c_ip: IpAddr,
    /// Client port.
    pub c_port: u16,
    /// Server of the flow.
    pub s_ip: IpAddr,
    /// Server port.
    pub s_port: u16,
    /// Client address is internal.
    pub c_isint: bool,
    /// Server address is internal.
    pub s_isint: bool,
    /// Packet time.
    pub time: Timestamp,
    /// 0: sent by the client, 1: by the server.
    pub dir: u8,
    /// Protocol-specific kind (HTTP: 0 first segment of a message, 1 continuation).
    pub kind: u8,
    /// Payload length from the headers (may exceed what was captured or copied).
    pub len: u32,
    /// The captured payload, cut at [`MESSAGE_BYTES`].
    pub bytes: InlineStr<MESSAGE_BYTES>,
    /// DN-Hunter's name for the flow's server (empty if unknown).
    pub fqdn: InlineStr<256>,
}

/// One direction's counters over one bin of `log_tcp_periodic` / `log_udp_periodic`: deltas
/// since the previous row of the flow (UDP flows fill `packets` and `data_bytes` only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PeriodicDir {
    /// Packets.
    pub packets: u64,
    /// RST segments.
    pub rst: u64,
    /// Segments with ACK.
    pub ack: u64,
    /// Pure ACKs.
    pub pure_ack: u64,
    /// Unique payload bytes.
    pub unique_bytes: u64,
    /// Segments with payload.
    pub data_pkts: u64,
    /// Payload bytes (UDP: `UDP length − 8`).
    pub data_bytes: u64,
    /// Retransmitted segments.
    pub rexmit_pkts: u64,
    /// Retransmitted bytes.
    pub rexmit_bytes: u64,
    /// Out-of-sequence segments.
    pub ooo: u64,
    /// SYN segments.
    pub syn: u64,
    /// FIN segments.
    pub fin: u64,
    /// Tstat's `Average` of the bin's RTT samples, in ms.
    pub rtt_avg: f64,
    /// RTT samples in the bin.
    pub rtt_count: u64,
    /// Smallest positive congestion-window estimate of the bin (0 if none).
    pub cwin_min: u32,
    /// Largest congestion-window estimate of the bin.
    pub cwin_max: u32,
    /// Segments carrying SACK blocks.
    pub sacks: u64,
}

/// One row of `log_tcp_periodic` (`tcp`) or `log_udp_periodic`: a flow's activity since its
/// previous row. Written for every flow, external ones included, as Tstat does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PeriodicRecord {
    /// TCP (else UDP).
    pub tcp: bool,
    /// Client of the flow.
    pub c_ip: IpAddr,
    /// Client port.
    pub c_port: u16,
    /// Server of the flow.
    pub s_ip: IpAddr,
    /// Server port.
    pub s_port: u16,
    /// Client address is internal.
    pub c_isint: bool,
    /// Server address is internal.
    pub s_isint: bool,
    /// Start of the bin (the flow's start, or the packet that ended the previous bin).
    pub bin_start: Timestamp,
    /// First packet of the flow.
    pub first: Timestamp,
    /// Last packet of the flow so far.
    pub last: Timestamp,
    /// Client-to-server and server-to-client deltas.
    pub dirs: [PeriodicDir; 2],
}

/// A record as it travels through a worker's ring.
// Records are fixed-size plain data that move through rings by copy; boxing would allocate.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum FlowRecord {
    /// A TCP flow.
    Tcp(TcpRecord),
    /// A UDP flow.
    Udp(UdpRecord),
    /// A segment for `log_http_complete`.
    Http(MessageRecord),
    /// A message for `log_dns_complete`.
    Dns(MessageRecord),
    /// A row of `log_tcp_periodic` or `log_udp_periodic`.
    Periodic(PeriodicRecord),
    /// Part of a worker's histograms of one interval (`-H`).
    Histo(HistoChunk),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_records_do_not_grow_the_ring_slots() {
        // A ring slot is as large as the largest record, a copied message; the TCP record
        // (with its video part) must stay below it.
        let tcp = std::mem::size_of::<TcpRecord>();
        let msg = std::mem::size_of::<MessageRecord>();
        eprintln!(
            "TcpRecord {tcp} B, MessageRecord {msg} B, FlowRecord {} B",
            std::mem::size_of::<FlowRecord>()
        );
        assert!(tcp <= msg, "{tcp} > {msg}");
    }
}
