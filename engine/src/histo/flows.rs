//! The histograms of flows: per segment (anomaly classes, flight size, layer-7 bit rates, as
//! `rexmit.c`, `tcp_flow_stat` and `make_*L7_rate_stats` add them) and at the end of a flow
//! (`make_conn_stats`, `make_udp_conn_stats` and the plugins' `make_*_conn_stats`).

use super::defs::id;
use super::l7::{flow, http_index, is_video_flow, tcp_l7_type, video_index, web_index};
use super::{Histo, Io};
use crate::l7::tcp::{RateClass, TcpL7};
use crate::record::{TcpDirRecord, TcpRecord, UdpRecord};
use crate::tcp::{average, stdev, HistoExtra, SegmentHook, C2S, S2C};
use crate::time::Timestamp;

/// `tcp_bitrate_{in,out,loc}` and the non-cloud split.
const TCP_BITRATE: [u16; 3] = [id::TCP_BITRATE_IN, id::TCP_BITRATE_OUT, id::TCP_BITRATE_LOC];
const TCP_BITRATE_NC: [u16; 2] = [id::TCP_BITRATE_NC_IN, id::TCP_BITRATE_NC_OUT];
const UDP_BITRATE: [u16; 3] = [id::UDP_BITRATE_IN, id::UDP_BITRATE_OUT, id::UDP_BITRATE_LOC];
const UDP_BITRATE_NC: [u16; 2] = [id::UDP_BITRATE_NC_IN, id::UDP_BITRATE_NC_OUT];
const HTTP_BITRATE: [u16; 3] = [
    id::HTTP_BITRATE_IN,
    id::HTTP_BITRATE_OUT,
    id::HTTP_BITRATE_LOC,
];
const HTTP_BITRATE_NC: [u16; 2] = [id::HTTP_BITRATE_NC_IN, id::HTTP_BITRATE_NC_OUT];
const WEB_BITRATE: [u16; 3] = [id::WEB_BITRATE_IN, id::WEB_BITRATE_OUT, id::WEB_BITRATE_LOC];
const TLS_BITRATE: [u16; 3] = [id::TLS_BITRATE_IN, id::TLS_BITRATE_OUT, id::TLS_BITRATE_LOC];
const VIDEO_RATE: [u16; 3] = [id::VIDEO_RATE_IN, id::VIDEO_RATE_OUT, id::VIDEO_RATE_LOC];
const VIDEO_RATE_NC: [u16; 2] = [id::VIDEO_RATE_NC_IN, id::VIDEO_RATE_NC_OUT];

/// The skype classes, whose bytes Tstat's skype plugin accounts (not reproduced).
fn skype(t: u8) -> bool {
    matches!(t, flow::SKYPE_E2E | flow::SKYPE_E2O | flow::SKYPE_TCP)
}

impl Histo {
    /// `make_tcpL7_rate_stats` and `make_videoL7_rate_stats`: the IP bytes of a TCP segment
    /// under its flow's current classes (`io`: the packet's own direction).
    pub fn tcp_rate(&mut self, io: Io, c: &RateClass, ip_len: u32) {
        let t = tcp_l7_type(c.con_t, c.p2p_type);
        let video = video_index(c.video_content, c.video_payload);
        if !skype(t) {
            self.add_rate(io, TCP_BITRATE, Some(TCP_BITRATE_NC), u32::from(t), ip_len);
            if t == flow::HTTP {
                let h = http_index(c.http_data);
                self.add_rate(io, HTTP_BITRATE, Some(HTTP_BITRATE_NC), h, ip_len);
                let w = web_index(c.http_data, video);
                self.add_rate(io, WEB_BITRATE, None, w, ip_len);
            } else if t == flow::SSL {
                self.add_rate(io, TLS_BITRATE, None, u32::from(c.tls_service), ip_len);
            }
        }
        if is_video_flow(c.con_t, c.video_content, c.video_payload) {
            self.add_rate(io, VIDEO_RATE, Some(VIDEO_RATE_NC), video, ip_len);
        }
    }

    /// `make_udpL7_rate_stats`: the IP bytes of a datagram under its direction's class.
    pub fn udp_rate(&mut self, io: Io, l7_type: u8, ip_len: u32) {
        if !skype(l7_type) {
            let class = u32::from(l7_type);
            self.add_rate(io, UDP_BITRATE, Some(UDP_BITRATE_NC), class, ip_len);
        }
    }

    /// `make_conn_stats` of a TCP flow leaving the table (`complete`: the flow's verdict, as
    /// it goes to the logs), with the plugins' flow counts of complete flows.
    pub fn tcp_closed(&mut self, r: &TcpRecord, x: &HistoExtra, complete: bool) {
        let io = Io::of(r.c_isint, r.s_isint);
        let (win_tot, mptcp) = (x.win_tot, x.mptcp);
        if complete {
            self.tcp_l7_counts(io, r, x.tls_service);
        }
        let (out, inc, local) = match io {
            Io::Out => (&r.dirs[C2S], &r.dirs[S2C], false),
            Io::In => (&r.dirs[S2C], &r.dirs[C2S], false),
            Io::Loc => (&r.dirs[S2C], &r.dirs[C2S], true),
            Io::Ext => return,
        };
        let (c, s) = (&r.dirs[C2S], &r.dirs[S2C]);
        if complete {
            let opt = |a: bool, b: bool| match (a, b) {
                (true, true) => 1.0,
                (true, false) => 2.0,
                (false, true) => 3.0,
                (false, false) => 4.0,
            };
            self.add(id::TCP_OPTS_SACK, opt(c.sack_req, s.sack_req));
            self.add(id::TCP_OPTS_WS, opt(c.f1323_ws, s.f1323_ws));
            self.add(id::TCP_OPTS_TS, opt(c.f1323_ts, s.f1323_ts));
            self.add(id::TCP_OPTS_MPTCP, opt(mptcp[C2S], mptcp[S2C]));
            self.add(id::TCP_MSS_A, f64::from(c.mss));
            self.add(id::TCP_MSS_B, f64::from(s.mss));
            let used = if c.mss == 0 || s.mss == 0 {
                536
            } else {
                c.mss.min(s.mss)
            };
            self.add(id::TCP_MSS_USED, f64::from(used));

            if !local {
                self.add(id::TCP_CL_B_S_OUT, out.bytes_all as f64);
                self.add(id::TCP_CL_B_S_IN, inc.bytes_all as f64);
                self.add(id::TCP_CL_B_L_OUT, out.bytes_all as f64);
                self.add(id::TCP_CL_B_L_IN, inc.bytes_all as f64);
                self.add(id::TCP_CL_P_OUT, out.packets as f64);
                self.add(id::TCP_CL_P_IN, inc.packets as f64);
            } else {
                for d in [out, inc] {
                    self.add(id::TCP_CL_B_S_LOC, d.bytes_all as f64);
                }
                for d in [out, inc] {
                    self.add(id::TCP_CL_B_L_LOC, d.bytes_all as f64);
                }
                for d in [out, inc] {
                    self.add(id::TCP_CL_P_LOC, d.packets as f64);
                }
            }
            self.add(id::TCP_CL_B_S_C2S, c.bytes_all as f64);
            self.add(id::TCP_CL_B_S_S2C, s.bytes_all as f64);
            self.add(id::TCP_CL_B_L_C2S, c.bytes_all as f64);
            self.add(id::TCP_CL_B_L_S2C, s.bytes_all as f64);
            self.add(id::TCP_CL_P_C2S, c.packets as f64);
            self.add(id::TCP_CL_P_S2C, s.packets as f64);

            // Tstat's `tcp_win_min` is the histogram named tcp_win_ini.
            self.add(id::TCP_WIN_INI, f64::from(c.win_min));
            self.add(id::TCP_WIN_INI, f64::from(s.win_min));
            for (d, tot) in [(c, win_tot[C2S]), (s, win_tot[S2C])] {
                if let Some(avg) = u64::from(tot).checked_div(d.packets) {
                    self.add(id::TCP_WIN_AVG, avg as f64);
                }
            }
            self.add(id::TCP_WIN_MAX, f64::from(c.win_max));
            self.add(id::TCP_WIN_MAX, f64::from(s.win_max));

            if inc.rtt_cnt >= 1 && out.rtt_cnt >= 1 {
                self.rtt_stats(out, inc, local);
                self.rtt(
                    c,
                    [
                        id::TCP_RTT_AVG_C2S,
                        id::TCP_RTT_MIN_C2S,
                        id::TCP_RTT_MAX_C2S,
                        id::TCP_RTT_STDEV_C2S,
                        id::TCP_RTT_CNT_C2S,
                    ],
                );
                self.rtt(
                    s,
                    [
                        id::TCP_RTT_AVG_S2C,
                        id::TCP_RTT_MIN_S2C,
                        id::TCP_RTT_MAX_S2C,
                        id::TCP_RTT_STDEV_S2C,
                        id::TCP_RTT_CNT_S2C,
                    ],
                );
            }

            let anomalies = |d: &TcpDirRecord| {
                [
                    d.pkts_rto,
                    d.pkts_fs,
                    d.pkts_reor,
                    d.pkts_dup,
                    d.pkts_unk,
                    d.pkts_fc,
                    d.pkts_unrto,
                    d.pkts_unfs,
                ]
            };
            // Per anomaly: [out, in, loc, c2s, s2c].
            const ANOMALY: [[u16; 5]; 8] = [
                [
                    id::TCP_RTX_RTO_OUT,
                    id::TCP_RTX_RTO_IN,
                    id::TCP_RTX_RTO_LOC,
                    id::TCP_RTX_RTO_C2S,
                    id::TCP_RTX_RTO_S2C,
                ],
                [
                    id::TCP_RTX_FR_OUT,
                    id::TCP_RTX_FR_IN,
                    id::TCP_RTX_FR_LOC,
                    id::TCP_RTX_FR_C2S,
                    id::TCP_RTX_FR_S2C,
                ],
                [
                    id::TCP_REORDERING_OUT,
                    id::TCP_REORDERING_IN,
                    id::TCP_REORDERING_LOC,
                    id::TCP_REORDERING_C2S,
                    id::TCP_REORDERING_S2C,
                ],
                [
                    id::TCP_NET_DUP_OUT,
                    id::TCP_NET_DUP_IN,
                    id::TCP_NET_DUP_LOC,
                    id::TCP_NET_DUP_C2S,
                    id::TCP_NET_DUP_S2C,
                ],
                [
                    id::TCP_UNKNOWN_OUT,
                    id::TCP_UNKNOWN_IN,
                    id::TCP_UNKNOWN_LOC,
                    id::TCP_UNKNOWN_C2S,
                    id::TCP_UNKNOWN_S2C,
                ],
                [
                    id::TCP_FLOW_CTRL_OUT,
                    id::TCP_FLOW_CONTROL_IN,
                    id::TCP_FLOW_CTRL_LOC,
                    id::TCP_FLOW_CTRL_C2S,
                    id::TCP_FLOW_CTRL_S2C,
                ],
                [
                    id::TCP_UNNRTX_RTO_OUT,
                    id::TCP_UNNECESSARY_RTX_RTO_IN,
                    id::TCP_UNNRTX_RTO_LOC,
                    id::TCP_UNNRTX_RTO_C2S,
                    id::TCP_UNNRTX_RTO_S2C,
                ],
                [
                    id::TCP_UNNRTX_FR_OUT,
                    id::TCP_UNNECESSARY_RTX_FR_IN,
                    id::TCP_UNNRTX_FR_LOC,
                    id::TCP_UNNRTX_FR_C2S,
                    id::TCP_UNNRTX_FR_S2C,
                ],
            ];
            let (ao, ai) = (anomalies(out), anomalies(inc));
            for (k, ids) in ANOMALY.iter().enumerate() {
                if !local {
                    self.add(ids[0], f64::from(ao[k]));
                    self.add(ids[1], f64::from(ai[k]));
                } else {
                    self.add(ids[2], f64::from(ao[k]));
                    self.add(ids[2], f64::from(ai[k]));
                }
            }
            let (ac, as_) = (anomalies(c), anomalies(s));
            for (k, ids) in ANOMALY.iter().enumerate() {
                self.add(ids[3], f64::from(ac[k]));
                self.add(ids[4], f64::from(as_[k]));
            }

            self.add(id::TCP_TOT_TIME, elapsed_us(r.first, r.last) / 1000.0);
            for (d, ids) in [
                (
                    c,
                    [
                        id::TCP_THRU_C2S,
                        id::TCP_THRU_LF_C2S,
                        id::TCP_THRU_LF_NC_C2S,
                    ],
                ),
                (
                    s,
                    [
                        id::TCP_THRU_S2C,
                        id::TCP_THRU_LF_S2C,
                        id::TCP_THRU_LF_NC_S2C,
                    ],
                ),
            ] {
                let transfer = elapsed_us(r.first, d.payload_end);
                if transfer > 0.0 {
                    let thru = d.bytes_uniq as f64 / transfer * 8000.0;
                    self.add(ids[0], thru);
                    if d.bytes_uniq >= 1_000_000 {
                        self.add(ids[1], thru);
                        self.add(ids[2], thru);
                    }
                }
            }
        }
        // The "user patience" heuristic of `make_conn_stats`, for every flow.
        let eligible = !(s.fin_cnt > 0 || s.rst_cnt > 0) && s.bytes_uniq > 0 && c.rst_cnt > 0;
        let rtt = average(c.rtt_sum, c.rtt_cnt) + average(s.rtt_sum, s.rtt_cnt);
        let interrupted = eligible && elapsed_us(r.last, s.payload_end) < rtt;
        self.add(id::TCP_INTERRUPTED, if interrupted { 1.0 } else { 0.0 });
    }

    /// The RTT histograms of the in/out/loc families.
    fn rtt_stats(&mut self, out: &TcpDirRecord, inc: &TcpDirRecord, local: bool) {
        if local {
            for d in [out, inc] {
                self.add(id::TCP_RTT_AVG_LOC, average(d.rtt_sum, d.rtt_cnt) / 1000.0);
            }
            for d in [out, inc] {
                self.add(id::TCP_RTT_MIN_LOC, d.rtt_min_us as f64 / 1000.0);
            }
            for d in [out, inc] {
                self.add(id::TCP_RTT_MAX_LOC, d.rtt_max_us as f64 / 1000.0);
            }
            for d in [out, inc] {
                let sd = stdev(d.rtt_sum, d.rtt_sum2, d.rtt_cnt) / 1000.0;
                self.add(id::TCP_RTT_STDEV_LOC, sd);
            }
            for d in [out, inc] {
                self.add(id::TCP_RTT_CNT_LOC, f64::from(d.rtt_cnt));
            }
            return;
        }
        let (ao, ai) = (
            average(out.rtt_sum, out.rtt_cnt) / 1000.0,
            average(inc.rtt_sum, inc.rtt_cnt) / 1000.0,
        );
        self.add(id::TCP_RTT_AVG_OUT, ao);
        self.add(id::TCP_RTT_AVG_IN, ai);
        // Every address is non-cloud (no -C).
        self.add(id::TCP_RTT_NC_AVG_OUT, ao);
        self.add(id::TCP_RTT_NC_AVG_IN, ai);
        self.add(id::TCP_RTT_MIN_OUT, out.rtt_min_us as f64 / 1000.0);
        self.add(id::TCP_RTT_MIN_IN, inc.rtt_min_us as f64 / 1000.0);
        self.add(id::TCP_RTT_MAX_OUT, out.rtt_max_us as f64 / 1000.0);
        self.add(id::TCP_RTT_MAX_IN, inc.rtt_max_us as f64 / 1000.0);
        let sd = |d: &TcpDirRecord| stdev(d.rtt_sum, d.rtt_sum2, d.rtt_cnt) / 1000.0;
        self.add(id::TCP_RTT_STDEV_OUT, sd(out));
        self.add(id::TCP_RTT_STDEV_IN, sd(inc));
        self.add(id::TCP_RTT_CNT_OUT, f64::from(out.rtt_cnt));
        self.add(id::TCP_RTT_CNT_IN, f64::from(inc.rtt_cnt));
    }

    /// avg, min, max, stdev, count of one direction.
    fn rtt(&mut self, d: &TcpDirRecord, ids: [u16; 5]) {
        self.add(ids[0], average(d.rtt_sum, d.rtt_cnt) / 1000.0);
        self.add(ids[1], d.rtt_min_us as f64 / 1000.0);
        self.add(ids[2], d.rtt_max_us as f64 / 1000.0);
        self.add(ids[3], stdev(d.rtt_sum, d.rtt_sum2, d.rtt_cnt) / 1000.0);
        self.add(ids[4], f64::from(d.rtt_cnt));
    }

    /// `make_tcpL7_conn_stats` and `make_videoL7_conn_stats` (complete flows only).
    fn tcp_l7_counts(&mut self, io: Io, r: &TcpRecord, tls_service: u8) {
        let l = &r.l7;
        let t = tcp_l7_type(l.con_t, l.p2p_type);
        let video = video_index(l.video.content, l.video.payload);
        let tf = f64::from(t);
        let (num, num_nc) = match io {
            Io::Out => (id::L7_TCP_NUM_OUT, Some(id::L7_TCP_NUM_NC_OUT)),
            Io::In => (id::L7_TCP_NUM_IN, Some(id::L7_TCP_NUM_NC_IN)),
            Io::Loc => (id::L7_TCP_NUM_LOC, None),
            Io::Ext => return,
        };
        self.add(num, tf);
        if let Some(n) = num_nc {
            self.add(n, tf);
        }
        if t == flow::HTTP {
            let h = f64::from(http_index(l.http_data));
            let w = f64::from(web_index(l.http_data, video));
            let (http, web, nc) = match io {
                Io::Out => (
                    id::L7_HTTP_NUM_OUT,
                    id::L7_WEB_NUM_OUT,
                    Some(id::L7_HTTP_NUM_NC_OUT),
                ),
                Io::In => (
                    id::L7_HTTP_NUM_IN,
                    id::L7_WEB_NUM_IN,
                    Some(id::L7_HTTP_NUM_NC_IN),
                ),
                _ => (id::L7_HTTP_NUM_LOC, id::L7_WEB_NUM_LOC, None),
            };
            self.add(http, h);
            self.add(web, w);
            if let Some(n) = nc {
                self.add(n, h);
            }
        } else if t == flow::SSL {
            self.add_io(
                io,
                [id::L7_TLS_NUM_OUT, id::L7_TLS_NUM_IN, id::L7_TLS_NUM_LOC],
                f64::from(tls_service),
            );
        }
        if is_video_flow(l.con_t, l.video.content, l.video.payload) {
            let v = f64::from(video);
            match io {
                Io::Out => {
                    self.add(id::L7_VIDEO_NUM_OUT, v);
                    self.add(id::L7_VIDEO_NUM_NC_OUT, v);
                }
                Io::In => {
                    self.add(id::L7_VIDEO_NUM_IN, v);
                    self.add(id::L7_VIDEO_NUM_NC_IN, v);
                }
                _ => self.add(id::L7_VIDEO_NUM_LOC, v),
            }
        }
    }

    /// `make_udp_conn_stats` of a UDP flow leaving the table, with the P2P plugin's flow counts
    /// (`raw`: each direction's UDP type code, `l7`: its `L7_FLOW_*` class).
    pub fn udp_closed(&mut self, r: &UdpRecord, raw: [u8; 2], l7: [u8; 2]) {
        let io = Io::of(r.c_isint, r.s_isint);
        let [c, s] = &r.dirs;
        let (out, inc) = match io {
            Io::Out => (c, s),
            Io::In => (s, c),
            Io::Loc => (s, c),
            Io::Ext => return,
        };
        if io == Io::Loc {
            for d in [out, inc] {
                self.add(id::UDP_CL_B_S_LOC, d.bytes as f64);
            }
            for d in [out, inc] {
                self.add(id::UDP_CL_B_L_LOC, d.bytes as f64);
            }
            for d in [out, inc] {
                self.add(id::UDP_CL_P_LOC, d.packets as f64);
            }
        } else {
            self.add(id::UDP_CL_B_S_OUT, out.bytes as f64);
            self.add(id::UDP_CL_B_S_IN, inc.bytes as f64);
            self.add(id::UDP_CL_B_L_OUT, out.bytes as f64);
            self.add(id::UDP_CL_B_L_IN, inc.bytes as f64);
            self.add(id::UDP_CL_P_OUT, out.packets as f64);
            self.add(id::UDP_CL_P_IN, inc.packets as f64);
        }
        // `make_p2p_conn_stats`: every flow but those the RTP and Skype plugins account.
        const RTP: u8 = 3;
        const FIRST_RTP_PLUS: u8 = 28;
        const SKYPE_SIG: u8 = 7;
        let p2p = |t: u8| t < RTP || t == FIRST_RTP_PLUS || t >= SKYPE_SIG;
        if p2p(raw[0]) && p2p(raw[1]) {
            self.udp_l7_count(io, l7[0]);
            if s.packets != 0 {
                self.udp_l7_count(io.reverse(), l7[1]);
            }
        }
        let first = c.first;
        let last = c.last.max(s.last);
        self.add(id::UDP_TOT_TIME, elapsed_us(first, last) / 1000.0);
    }

    fn udp_l7_count(&mut self, io: Io, t: u8) {
        let v = f64::from(t);
        match io {
            Io::Out => {
                self.add(id::L7_UDP_NUM_OUT, v);
                self.add(id::L7_UDP_NUM_NC_OUT, v);
            }
            Io::In => {
                self.add(id::L7_UDP_NUM_IN, v);
                self.add(id::L7_UDP_NUM_NC_IN, v);
            }
            Io::Loc => self.add(id::L7_UDP_NUM_LOC, v),
            Io::Ext => {}
        }
    }
}

/// Tstat's `elapsed`: signed microseconds (unlike the logs, the histograms see negative
/// intervals as they are).
fn elapsed_us(start: Timestamp, end: Timestamp) -> f64 {
    (end.0 - start.0) as f64
}

/// The histogram side of a TCP segment: what `rexmit`, `tcp_flow_stat` and
/// `make_tcpL7_rate_stats` add while the segment is accounted.
pub struct SegmentHisto<'a> {
    /// The worker's histograms.
    pub histo: &'a mut Histo,
    /// The packet's direction in the in/out/loc families.
    pub io: Io,
    /// IP header plus payload.
    pub ip_len: u32,
}

impl SegmentHook for SegmentHisto<'_> {
    const ON: bool = true;

    #[inline]
    fn anomaly(&mut self, dir: usize, class: u8) {
        let v = f64::from(class);
        self.histo.add_io(
            self.io,
            [
                id::TCP_ANOMALIES_OUT,
                id::TCP_ANOMALIES_IN,
                id::TCP_ANOMALIES_LOC,
            ],
            v,
        );
        let d = if dir == C2S {
            id::TCP_ANOMALIES_C2S
        } else {
            id::TCP_ANOMALIES_S2C
        };
        self.histo.add(d, v);
    }

    #[inline]
    fn in_flight(&mut self, bytes: u32) {
        self.histo.add(id::TCP_CWND, f64::from(bytes));
    }

    #[inline]
    fn classified(&mut self, l7: &TcpL7) {
        self.histo.tcp_rate(self.io, &l7.rate_class(), self.ip_len);
    }

    #[inline]
    fn mptcp(&self) -> bool {
        self.histo.packet_mptcp
    }
}

#[cfg(test)]
mod tests {
    use super::super::{HistoConfig, HistoItem};
    use super::*;
    use crate::record::UdpDirRecord;

    fn counts(h: &mut Histo) -> Vec<(&'static str, i64, u64)> {
        let defs = super::super::defs::all();
        let mut v = Vec::new();
        h.flush(Timestamp(1), false, |c| {
            for i in c.items() {
                if let HistoItem::Bin { id, bin, count } = *i {
                    let d = &defs[usize::from(id)];
                    v.push((d.name, d.label(bin), count));
                }
            }
        });
        v
    }

    #[test]
    fn a_local_udp_dns_flow_counts_both_directions() {
        let mut h = Histo::new(HistoConfig::all(), 0);
        let dir = |packets, bytes| UdpDirRecord {
            first: Timestamp(1_000_000),
            last: Timestamp(1_060_000),
            bytes,
            packets,
        };
        let r = UdpRecord {
            c_ip: "10.0.0.1".parse().unwrap(),
            c_port: 5000,
            s_ip: "10.0.0.2".parse().unwrap(),
            s_port: 53,
            c_isint: true,
            s_isint: true,
            dirs: [dir(1, 38), dir(1, 89)],
            l7: Default::default(),
            dns: Default::default(),
        };
        h.udp_closed(&r, [19, 19], [flow::DNS, flow::DNS]);
        let c = counts(&mut h);
        assert!(c.contains(&("L7_UDP_num_loc", 36, 2)));
        assert!(c.contains(&("udp_cl_b_s_loc", 0, 1)));
        assert!(c.contains(&("udp_cl_b_s_loc", 50, 1)));
        assert!(c.contains(&("udp_cl_p_loc", 1, 2)));
        assert!(c.contains(&("udp_tot_time", 50, 1)));
    }
}
