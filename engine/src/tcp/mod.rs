//! Tstat's TCP statistics: one [`TcpFlow`] per tracked connection, updated segment by segment
//! exactly as Tstat 3.3's `tcp_flow_stat` does, and turned into a [`TcpRecord`] when the flow
//! ends.
//!
//! Owns: per-direction counters, sequence-space tracking (retransmissions, out-of-sequence,
//! the anomaly classes), RTT samples, TTL, TCP options and windows, congestion-window
//! estimates, PSH-delimited messages and the closing rules (FIN handshake, RST, half-duplex).
//! Does not own: flow lookup, timers or idle timeouts (see `flow`), nor layer-7 classification.

mod rates;
mod seqspace;

pub use rates::{Rates, RATE_SAMPLING_US};
pub use seqspace::{SegPool, Segment, SeqSpace, INITIAL_RANGES, MAX_SEG_PER_QUAD};

use crate::config::PERIODIC_INTERVAL_US;
use crate::l7::{tcp::TcpL7, TcpCtx};
use crate::record::{PeriodicDir, TcpDirRecord, TcpRecord, VideoRatesRecord};
use crate::time::Timestamp;
use crate::wire::{Packet, TcpSegment};
use seqspace::quad_of;

/// Direction index: client to server.
pub const C2S: usize = 0;
/// Direction index: server to client.
pub const S2C: usize = 1;

// Anomaly classes of rexmit.c (`type_of_segment`).
const IN_SEQUENCE: u8 = 0;
const RETRANSMISSION_RTO: u8 = 1;
const RETRANSMISSION_FR: u8 = 2;
const REORDERING: u8 = 3;
const NETWORK_DUPLICATE: u8 = 4;
const FLOW_CONTROL: u8 = 5;
const UNNECESSARY_RETRANSMISSION_RTO: u8 = 6;
const UNNECESSARY_RETRANSMISSION_FR: u8 = 7;
const DUP_RC_LT_RTT: u8 = 8;
const DUP_RC_LT_RTO: u8 = 9;
const OOO_RC_LT_RTT: u8 = 10;
const OOO_RC_LT_RTO: u8 = 11;
const UNNEC_RC_LT_RTT: u8 = 12;
const UNNEC_RC_LT_RTO: u8 = 13;
const UNKNOWN: u8 = 63;
const BATCH_CLASSIFICATION: u8 = 16;
const NO_RTT_SAMPLE_CLASSIFICATION: u8 = 32;
// Microseconds.
const RTO_MIN: f64 = 100_000.0;
const RTT_MIN: f64 = 1_000.0;
const INITIAL_RTO: f64 = 500_000.0;
const INITIAL_RTT_MIN: f64 = 5_000.0;

/// Tstat's `Average`: `sum / (n + 0.0001)`.
#[inline]
pub fn average(sum: f64, n: u32) -> f64 {
    sum / (n as f64 + 0.0001)
}

/// Tstat's `Stdev`: sample standard deviation, 0 when `n <= 2`.
#[inline]
pub fn stdev(sum: f64, sum2: f64, n: u32) -> f64 {
    if n <= 2 {
        return 0.0;
    }
    let n = n as f64;
    ((sum2 - sum * sum / n) / (n - 1.0)).sqrt()
}

/// What the histograms observe while a segment is accounted (Tstat's `add_histo` calls inside
/// `tcp_flow_stat` and `rexmit`). The unit type observes nothing: with it every hook compiles
/// away, and the state only histograms need is not even kept.
pub trait SegmentHook {
    /// Whether the hooks are called and their state kept.
    const ON: bool;
    /// A segment of direction `dir` was classified: `class` is Tstat's aggregated anomaly
    /// class (0 in sequence, 1 RTO, 2 FR, 3 reordering, 4 network duplicate, 5 flow control,
    /// 6 unnecessary RTO, 7 unnecessary FR, 63 unknown).
    fn anomaly(&mut self, _dir: usize, _class: u8) {}
    /// An ACK measured the bytes in flight of the other direction (`tcp_cwnd`).
    fn in_flight(&mut self, _bytes: u32) {}
    /// The layer-7 classifiers have seen the segment (`make_tcpL7_rate_stats` runs here).
    fn classified(&mut self, _l7: &TcpL7) {}
    /// The segment carries the MPTCP option.
    fn mptcp(&self) -> bool {
        false
    }
}

impl SegmentHook for () {
    const ON: bool = false;
}

/// What the histograms of a closing flow need beyond its [`TcpRecord`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoExtra {
    /// Each direction's sum of advertised windows (Tstat's 32-bit `win_tot`).
    pub win_tot: [u32; 2],
    /// Each direction sent the MPTCP option.
    pub mptcp: [bool; 2],
    /// The TLS service class of the flow.
    pub tls_service: u8,
}

/// One direction of a connection (Tstat's `tcb`), reduced to what the logs need.
#[derive(Debug, Default)]
pub struct Tcb {
    payload_start_time: Timestamp,
    payload_end_time: Timestamp,
    ack_start_time: Timestamp,
    ack: u32,
    seq: u32,
    syn: u32,
    fin: u32,
    fin_seqno: u32,
    mss: u32,
    f1323_ws: bool,
    f1323_ts: bool,
    fsack_req: bool,
    window_scale: u8,
    data_bytes: u64,
    data_pkts: u64,
    unique_bytes: u64,
    rexmit_bytes: u32,
    rexmit_pkts: u32,
    ack_pkts: u64,
    pureack_pkts: u64,
    win_max: u32,
    win_min: u32,
    win_curr: u32,
    win_zero_ct: u32,
    max_seq: u32,
    packets: u64,
    syn_count: u8,
    fin_count: u8,
    reset_count: u8,
    closed: bool,
    min_seg_size: u32,
    max_seg_size: u32,
    out_order_pkts: u32,
    sacks_sent: u32,
    bad_behavior: bool,
    initialwin_bytes: u32,
    data_acked: bool,
    cwin_max: u32,
    cwin_min: u32,
    rtt_min: u32,
    rtt_max: u32,
    rtt_sum: f64,
    rtt_sum2: f64,
    rtt_count: u32,
    rtx_rto: u32,
    rtx_fr: u32,
    reordering: u32,
    net_dup: u32,
    unknown: u32,
    flow_control: u32,
    unnecessary_rtx_fr: u32,
    unnecessary_rtx_rto: u32,
    ttl_min: u32,
    ttl_max: u32,
    msg_last_seq: u32,
    msg_count: u32,
    ss: SeqSpace,
    /// Histograms only: new data, SYN, FIN or RST was sent since the other side's last ACK
    /// sampled the bytes in flight (Tstat's `cwnd_flag`).
    cwnd_flag: bool,
    /// Histograms only: sum of the advertised windows, Tstat's 32-bit `win_tot`.
    win_tot: u32,
    /// Histograms only: the MPTCP option was seen.
    mptcp_req: bool,
}

/// What the flow table must do after a segment was accounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The flow goes on.
    Open,
    /// The flow ended (FIN handshake, RST or half-duplex); log it with this completeness.
    Close {
        /// Goes to `log_tcp_complete` (true) or `log_tcp_nocomplete` (false).
        complete: bool,
    },
}

/// Inputs of the anomaly classifier, fixed for the duration of one segment.
struct RuleCtx {
    rtt_sum: [f64; 2],
    rtt_sum2: [f64; 2],
    rtt_count: [u32; 2],
    rtt_min: [u32; 2],
    other_win_curr: u32,
    syn_both: bool,
}

/// Tstat's RTT figures for the classifier: (mean RTT, RTO, minimum RTT, both directions have
/// samples), µs, with its floors and its defaults when a direction has no sample.
fn rtt_figures(c: &RuleCtx) -> (f64, f64, f64, bool) {
    let mean_rtt = average(c.rtt_sum[0], c.rtt_count[0]) + average(c.rtt_sum[1], c.rtt_count[1]);
    let mut rto = mean_rtt
        + 4.0
            * stdev(
                c.rtt_sum[0] + c.rtt_sum[1],
                c.rtt_sum2[0] + c.rtt_sum2[1],
                c.rtt_count[0] + c.rtt_count[1],
            );
    let mut rtt = (u64::from(c.rtt_min[0]) + u64::from(c.rtt_min[1])) as f64;
    let valid_rtt = c.rtt_count[0] != 0 && c.rtt_count[1] != 0;
    if rto < RTO_MIN {
        rto = RTO_MIN;
    }
    if rtt < RTT_MIN {
        rtt = RTT_MIN;
    }
    if !valid_rtt {
        rtt = INITIAL_RTT_MIN;
        rto = INITIAL_RTO;
    }
    (mean_rtt, rto, rtt, valid_rtt)
}

/// The counters of one direction at the flow's previous periodic row.
#[derive(Debug, Clone, Copy, Default)]
struct PeriodicSnap {
    packets: u64,
    reset_count: u8,
    ack_pkts: u64,
    pureack_pkts: u64,
    unique_bytes: u64,
    data_pkts: u64,
    data_bytes: u64,
    rexmit_pkts: u32,
    rexmit_bytes: u32,
    out_order_pkts: u32,
    syn_count: u8,
    fin_count: u8,
    rtt_sum: f64,
    rtt_count: u32,
    sacks_sent: u32,
}

impl PeriodicSnap {
    fn of(t: &Tcb) -> PeriodicSnap {
        PeriodicSnap {
            packets: t.packets,
            reset_count: t.reset_count,
            ack_pkts: t.ack_pkts,
            pureack_pkts: t.pureack_pkts,
            unique_bytes: t.unique_bytes,
            data_pkts: t.data_pkts,
            data_bytes: t.data_bytes,
            rexmit_pkts: t.rexmit_pkts,
            rexmit_bytes: t.rexmit_bytes,
            out_order_pkts: t.out_order_pkts,
            syn_count: t.syn_count,
            fin_count: t.fin_count,
            rtt_sum: t.rtt_sum,
            rtt_count: t.rtt_count,
            sacks_sent: t.sacks_sent,
        }
    }
}

/// `log_tcp_periodic` state (boxed: only flows of a run with the log on pay for it).
#[derive(Debug, Default)]
struct TcpPeriodic {
    /// Start of the current bin (Tstat's `last_print_time`).
    bin_start: Timestamp,
    /// Counters at the start of the bin.
    snap: [PeriodicSnap; 2],
    /// Congestion-window estimates of the bin (Tstat's `cwin_{min,max}_periodic`).
    cwin_min: [u32; 2],
    cwin_max: [u32; 2],
}

/// A tracked TCP connection.
#[derive(Debug)]
pub struct TcpFlow {
    /// Per-direction state, indexed by [`C2S`] / [`S2C`].
    dirs: [Tcb; 2],
    first_time: Timestamp,
    last_time: Timestamp,
    packets: u64,
    /// Layer-7 classifier state.
    l7: TcpL7,
    /// Present only when `log_tcp_periodic` is on.
    periodic: Option<Box<TcpPeriodic>>,
    /// Present only when `log_video_complete` prints its Advanced group.
    rates: Option<Box<Rates>>,
}

impl TcpFlow {
    /// Packet time of the flow's first segment.
    pub fn first_time(&self) -> Timestamp {
        self.first_time
    }

    /// A flow created by a pure SYN at `now`.
    pub fn new(now: Timestamp) -> TcpFlow {
        TcpFlow {
            dirs: [Tcb::default(), Tcb::default()],
            first_time: now,
            last_time: now,
            packets: 0,
            l7: TcpL7::default(),
            periodic: None,
            rates: None,
        }
    }

    /// Turns on the `log_http_complete` row decisions of the layer-7 classifier.
    pub fn enable_http_rows(&mut self) {
        self.l7.enable_http_rows();
    }

    /// Turns on the bit-rate samples of `log_video_complete`'s Advanced group.
    pub fn enable_rates(&mut self) {
        if self.rates.is_none() {
            self.rates = Some(rates::pool::take());
        }
    }

    /// Turns on `log_tcp_periodic` bins for a flow created at `now`.
    pub fn enable_periodic(&mut self, now: Timestamp) {
        self.periodic = Some(Box::new(TcpPeriodic {
            bin_start: now,
            ..Default::default()
        }));
    }

    /// Whether a segment arriving at `now` ends the current periodic bin (checked before the
    /// segment is accounted, as Tstat does).
    #[inline]
    pub fn periodic_due(&self, now: Timestamp) -> bool {
        match &self.periodic {
            Some(p) => Timestamp::elapsed_us(p.bin_start, now) > PERIODIC_INTERVAL_US,
            None => false,
        }
    }

    /// Ends the current periodic bin: returns its start, the flow's first and last packet
    /// times and the per-direction deltas, and starts the next bin at `now`. `None` when the
    /// periodic log is off.
    pub fn take_periodic(
        &mut self,
        now: Timestamp,
    ) -> Option<(Timestamp, Timestamp, Timestamp, [PeriodicDir; 2])> {
        let p = self.periodic.as_deref_mut()?;
        let mut dirs = [PeriodicDir::default(); 2];
        for (d, out) in dirs.iter_mut().enumerate() {
            let t = &self.dirs[d];
            let o = &p.snap[d];
            let rtt_count = t.rtt_count.wrapping_sub(o.rtt_count);
            *out = PeriodicDir {
                packets: t.packets.wrapping_sub(o.packets),
                rst: u64::from(t.reset_count.wrapping_sub(o.reset_count)),
                ack: t.ack_pkts.wrapping_sub(o.ack_pkts),
                pure_ack: t.pureack_pkts.wrapping_sub(o.pureack_pkts),
                unique_bytes: t.unique_bytes.wrapping_sub(o.unique_bytes),
                data_pkts: t.data_pkts.wrapping_sub(o.data_pkts),
                data_bytes: t.data_bytes.wrapping_sub(o.data_bytes),
                rexmit_pkts: u64::from(t.rexmit_pkts.wrapping_sub(o.rexmit_pkts)),
                rexmit_bytes: u64::from(t.rexmit_bytes.wrapping_sub(o.rexmit_bytes)),
                ooo: u64::from(t.out_order_pkts.wrapping_sub(o.out_order_pkts)),
                syn: u64::from(t.syn_count.wrapping_sub(o.syn_count)),
                fin: u64::from(t.fin_count.wrapping_sub(o.fin_count)),
                rtt_avg: average(t.rtt_sum - o.rtt_sum, rtt_count) / 1000.0,
                rtt_count: u64::from(rtt_count),
                cwin_min: p.cwin_min[d],
                cwin_max: p.cwin_max[d],
                sacks: u64::from(t.sacks_sent.wrapping_sub(o.sacks_sent)),
            };
            p.snap[d] = PeriodicSnap::of(t);
        }
        let start = p.bin_start;
        p.bin_start = now;
        p.cwin_min = [0; 2];
        p.cwin_max = [0; 2];
        Some((start, self.first_time, self.last_time, dirs))
    }

    /// Time of the last packet in either direction.
    #[inline]
    pub fn last_time(&self) -> Timestamp {
        self.last_time
    }

    /// Whether the flow is a "singleton": SYNs from one side only, and nothing but SYNs.
    #[inline]
    pub fn is_singleton(&self) -> bool {
        let (c, s) = (self.dirs[C2S].syn_count, self.dirs[S2C].syn_count);
        ((c > 0 && s == 0) || (c == 0 && s > 0)) && self.packets == c as u64 + s as u64
    }

    /// Whether both directions sent a SYN (the "complete" rule for RST and idle closures).
    #[inline]
    pub fn syn_both(&self) -> bool {
        self.dirs[C2S].syn_count > 0 && self.dirs[S2C].syn_count > 0
    }

    /// Returns the range buffers to the worker's pool (and the rate samples to theirs).
    pub fn release(&mut self, pool: &mut SegPool) {
        for d in &mut self.dirs {
            d.ss.release(pool);
        }
        if let Some(r) = self.rates.take() {
            rates::pool::give(r);
        }
    }

    /// Accounts one segment travelling in direction `dir` (Tstat's `tcp_flow_stat`).
    #[inline]
    pub fn on_segment(
        &mut self,
        dir: usize,
        pkt: &Packet<'_>,
        seg: &TcpSegment<'_>,
        now: Timestamp,
        pool: &mut SegPool,
    ) -> Verdict {
        self.on_segment_with(dir, pkt, seg, now, pool, &mut ())
    }

    /// [`on_segment`](Self::on_segment), telling `hook` what the histograms count.
    pub fn on_segment_with<H: SegmentHook>(
        &mut self,
        dir: usize,
        pkt: &Packet<'_>,
        seg: &TcpSegment<'_>,
        now: Timestamp,
        pool: &mut SegPool,
        hook: &mut H,
    ) -> Verdict {
        let (this, other) = (dir, dir ^ 1);
        let flags = seg.flags;
        let (syn, fin, rst, ack, psh) = (
            flags.syn(),
            flags.fin(),
            flags.rst(),
            flags.ack(),
            flags.psh(),
        );
        let th_seq = seg.seq;
        let th_ack = seg.ack;
        let data_len = seg.payload_len;
        // IPv6 has no identification field; Tstat reads the same offset of the header, which
        // is the payload length.
        let ip_id = if pkt.src.is_ipv6() {
            (pkt.ip_len.wrapping_sub(40)) as u16
        } else {
            pkt.ip_id
        };

        if self.first_time.is_zero() {
            self.first_time = now;
        }
        self.last_time = now;

        {
            let t = &mut self.dirs[this];
            if syn {
                t.syn_count = t.syn_count.wrapping_add(1);
            }
            if rst {
                t.reset_count = t.reset_count.wrapping_add(1);
            }
            if fin {
                t.fin_count = t.fin_count.wrapping_add(1);
                t.fin_seqno = th_seq.wrapping_add(data_len);
            }
        }
        // Half-duplex: client data while the server never sent a SYN. Tstat closes the flow
        // without accounting this packet.
        if dir == C2S && !syn && self.dirs[S2C].syn_count == 0 && data_len != 0 {
            return Verdict::Close { complete: false };
        }
        if ack
            && self.dirs[other].fin_count >= 1
            && th_ack >= self.dirs[other].fin_seqno.wrapping_add(1)
        {
            self.dirs[other].closed = true;
        }
        if H::ON {
            // Tstat's flight-size sample: the first ACK after new data from the other side.
            if ack && self.dirs[other].cwnd_flag {
                hook.in_flight(self.dirs[other].seq.wrapping_sub(self.dirs[this].ack));
                self.dirs[other].cwnd_flag = false;
            }
            if data_len != 0 || syn || fin || rst {
                self.dirs[this].cwnd_flag = true;
            }
        }

        let eff_win: u64 = if ack || syn {
            let mut w = seg.window as u64;
            if self.dirs[this].f1323_ws && self.dirs[other].f1323_ws {
                w = w.wrapping_shl(u32::from(self.dirs[this].window_scale));
            }
            w
        } else {
            0
        };

        let start = th_seq as u64;
        let end = start + data_len as u64;
        if syn {
            let t = &mut self.dirs[this];
            if t.syn_count > 1 && t.syn != th_seq {
                t.bad_behavior = true;
            }
            t.syn = th_seq;
            self.dirs[other].ack = th_seq;
        }
        if fin {
            let t = &mut self.dirs[this];
            if t.fin_count > 1 && t.fin as u64 != end {
                t.bad_behavior = true;
            }
            t.fin = end as u32;
        }

        // Options.
        let o = &seg.options;
        {
            let t = &mut self.dirs[this];
            if let Some(mss) = o.mss {
                t.mss = u32::from(mss);
            }
            if let Some(ws) = o.window_scale {
                t.window_scale = ws;
                t.f1323_ws = true;
            }
            if o.timestamp.is_some() {
                t.f1323_ts = true;
            }
            if H::ON && hook.mptcp() {
                t.mptcp_req = true;
            }
        }
        if !syn && (!self.dirs[this].f1323_ws || !self.dirs[other].f1323_ws) {
            self.dirs[this].window_scale = 0;
            self.dirs[other].window_scale = 0;
        }
        {
            let t = &mut self.dirs[this];
            if o.sack_permitted {
                t.fsack_req = true;
            }
            if o.sack_blocks > 0 {
                t.sacks_sent += 1;
            }
            if data_len > 0 {
                t.data_pkts += 1;
                t.data_bytes += data_len as u64;
                if data_len > t.max_seg_size {
                    t.max_seg_size = data_len;
                }
                if t.min_seg_size == 0 || data_len < t.min_seg_size {
                    t.min_seg_size = data_len;
                }
                // Tstat samples the rate right after these data counters.
                if let Some(r) = self.rates.as_deref_mut() {
                    r.on_data(this, now, data_len);
                }
            }
            let ttl = u32::from(pkt.ttl);
            if t.ttl_min == 0 || t.ttl_min > ttl {
                t.ttl_min = ttl;
            }
            if t.ttl_max < ttl {
                t.ttl_max = ttl;
            }
            t.packets += 1;
            if end > t.max_seq as u64 {
                t.max_seq = end as u32;
            }
        }
        self.packets += 1;

        // Retransmission and out-of-sequence accounting.
        let mut out_order = false;
        let mut retrans_num_bytes: i64 = 0;
        let mut retrans_payload_bytes: i64 = 0;
        if syn || fin || data_len > 0 {
            let mut len = data_len as i64 + syn as i64 + fin as i64;
            let mut retrans = self.rexmit(
                this,
                th_seq,
                len as u64,
                &mut out_order,
                ip_id,
                now,
                pool,
                hook,
            );
            retrans_num_bytes = retrans;
            let t = &mut self.dirs[this];
            if syn {
                len -= 1;
                if t.syn_count > 1 {
                    retrans -= 1;
                }
            }
            if fin {
                len -= 1;
                if t.fin_count > 1 && retrans > 0 {
                    retrans -= 1;
                }
            }
            if retrans < len {
                t.unique_bytes += (len - retrans) as u64;
            }
            // Retransmitted bytes exclude the phantom byte of a repeated SYN or FIN.
            retrans_payload_bytes = retrans.max(0);
        }
        if out_order {
            self.dirs[this].out_order_pkts += 1;
        }

        if ack {
            self.ack_in(other, th_ack, now);
        }

        let retrans = retrans_num_bytes > 0;
        {
            let t = &mut self.dirs[this];
            if retrans {
                t.rexmit_pkts = t.rexmit_pkts.wrapping_add(1);
                t.rexmit_bytes = t.rexmit_bytes.wrapping_add(retrans_payload_bytes as u32);
            } else {
                t.seq = end as u32;
            }
        }

        if rst {
            if ack {
                self.dirs[this].ack_pkts += 1;
            }
            // Tstat runs the layer-7 analysis on the RST too, before closing.
            self.classify(dir, seg, now, retrans);
            if H::ON {
                hook.classified(&self.l7);
            }
            return Verdict::Close {
                complete: self.syn_both(),
            };
        }

        {
            let t = &mut self.dirs[this];
            if ack || syn {
                if H::ON {
                    t.win_tot = t.win_tot.wrapping_add(eff_win as u32);
                }
                t.win_curr = eff_win as u32;
                if eff_win > t.win_max as u64 {
                    t.win_max = eff_win as u32;
                }
                if eff_win > 0 && (t.win_min == 0 || eff_win < t.win_min as u64) {
                    t.win_min = eff_win as u32;
                }
            }
            if ack {
                if eff_win == 0 {
                    t.win_zero_ct += 1;
                }
                t.ack_pkts += 1;
                if data_len == 0 && !syn && !fin && !rst {
                    t.pureack_pkts += 1;
                }
                t.ack = th_ack;
            }
        }
        if ack && !self.dirs[other].data_acked && self.dirs[other].syn.wrapping_add(1) != th_ack {
            self.dirs[other].data_acked = true;
        }
        let other_ack = self.dirs[other].ack;
        let t = &mut self.dirs[this];
        if data_len > 0 && !t.data_acked && !retrans {
            t.initialwin_bytes = t.initialwin_bytes.wrapping_add(data_len);
        }
        if ack && !syn && t.ack_start_time.is_zero() {
            t.ack_start_time = now;
        }
        if data_len != 0 {
            if t.payload_start_time.is_zero() {
                t.payload_start_time = now;
            }
            t.payload_end_time = now;
        }
        if !syn && !out_order && !retrans {
            let cwin = (end as u32).wrapping_sub(other_ack);
            if (cwin as i32) > 0 {
                if cwin > t.cwin_max {
                    t.cwin_max = cwin;
                }
                if t.cwin_min == 0 || cwin < t.cwin_min {
                    t.cwin_min = cwin;
                }
                if let Some(p) = self.periodic.as_deref_mut() {
                    if cwin > p.cwin_max[this] {
                        p.cwin_max[this] = cwin;
                    }
                    if p.cwin_min[this] == 0 || cwin < p.cwin_min[this] {
                        p.cwin_min[this] = cwin;
                    }
                }
            }
        }
        if ack && (psh || fin) && t.msg_last_seq < t.seq {
            let size = if t.msg_last_seq == 0 {
                t.seq.wrapping_sub(t.syn).wrapping_sub(1)
            } else {
                t.seq.wrapping_sub(t.msg_last_seq)
            };
            if this == S2C {
                // `s_msgsize1..10` of log_video_complete: Tstat stores every cut, an empty one
                // too (the next overwrites it).
                if let Some(r) = self.rates.as_deref_mut() {
                    r.on_server_message(t.msg_count, size);
                }
            }
            if size > 0 {
                t.msg_count += 1;
            }
            t.msg_last_seq = t.seq;
        }

        self.classify(dir, seg, now, retrans);
        if H::ON {
            hook.classified(&self.l7);
        }
        if self.dirs[C2S].closed && self.dirs[S2C].closed {
            return Verdict::Close { complete: true };
        }
        Verdict::Open
    }

    /// Whether the last segment must produce a `log_http_complete` row (see
    /// [`TcpL7::take_http_row`]).
    #[inline]
    pub fn take_http_row(&mut self) -> Option<u8> {
        self.l7.take_http_row()
    }

    /// Hands the segment to the layer-7 classifiers (Tstat's `proto_analyzer`).
    #[inline]
    fn classify(&mut self, dir: usize, seg: &TcpSegment<'_>, now: Timestamp, retransmission: bool) {
        let (c, s) = (&self.dirs[C2S], &self.dirs[S2C]);
        let ctx = TcpCtx {
            dir,
            payload: seg.payload,
            payload_len: seg.payload_len,
            flags: seg.flags,
            seq: seg.seq,
            now,
            first_time: self.first_time,
            ports: if dir == C2S {
                [seg.src_port, seg.dst_port]
            } else {
                [seg.dst_port, seg.src_port]
            },
            packets: self.packets,
            dir_packets: [c.packets, s.packets],
            isn: [c.syn, s.syn],
            max_seq: [c.max_seq, s.max_seq],
            retransmission,
        };
        self.l7.on_segment(&ctx);
    }

    /// The classifier's raw inputs; the derived RTT/RTO figures are computed only when an
    /// anomaly is actually classified (most segments are in sequence).
    fn rule_ctx(&self, this: usize) -> RuleCtx {
        let (t, o) = (&self.dirs[this], &self.dirs[this ^ 1]);
        RuleCtx {
            rtt_sum: [t.rtt_sum, o.rtt_sum],
            rtt_sum2: [t.rtt_sum2, o.rtt_sum2],
            rtt_count: [t.rtt_count, o.rtt_count],
            rtt_min: [t.rtt_min, o.rtt_min],
            other_win_curr: o.win_curr,
            syn_both: t.syn_count != 0 && o.syn_count != 0,
        }
    }

    /// Tstat's `rexmit`: returns the number of retransmitted bytes of `[seq, seq+len)`.
    #[allow(clippy::too_many_arguments)]
    fn rexmit<H: SegmentHook>(
        &mut self,
        this: usize,
        seq: u32,
        len: u64,
        out_order: &mut bool,
        ip_id: u16,
        now: Timestamp,
        pool: &mut SegPool,
        hook: &mut H,
    ) -> i64 {
        let ctx = self.rule_ctx(this);
        let t = &mut self.dirs[this];
        let seq_last = seq.wrapping_add(len as u32).wrapping_sub(1);
        let qix = t.ss.which_quad(seq);
        *out_order = false;
        if quad_of(seq) != quad_of(seq_last) {
            let len1 = (((qix as u64) << 30) | 0x3fff_ffff) - seq as u64 + 1;
            t.ss.ensure(qix, pool);
            let mut rex = add_seg(t, &ctx, qix, seq, len1, out_order, ip_id, now, this, hook);
            let next = t.ss.next_of(qix);
            let seq2 = (quad_of(seq_last) as u32) << 30;
            rex += add_seg(
                t,
                &ctx,
                next,
                seq2,
                len.wrapping_sub(len1),
                out_order,
                ip_id,
                now,
                this,
                hook,
            );
            rex
        } else {
            t.ss.ensure(qix, pool);
            add_seg(t, &ctx, qix, seq, len, out_order, ip_id, now, this, hook)
        }
    }

    /// Tstat's `ack_in`: matches an ACK against the ranges of direction `d`.
    fn ack_in(&mut self, d: usize, ack: u32, now: Timestamp) {
        let t = &mut self.dirs[d];
        let qix = t.ss.which_quad(ack);
        let prev = t.ss.prev_of(qix);
        let mut last_xmit = Timestamp::ZERO;
        let mut changed = false;
        for s in t.ss.q[prev].segs.iter_mut() {
            if s.acked == 0 {
                s.acked += 1;
                changed = true;
                if s.time > last_xmit {
                    last_xmit = s.time;
                }
            }
        }
        if changed {
            t.ss.collapse(prev);
        }
        changed = false;
        let mut i = 0;
        while i < t.ss.q[qix].segs.len() {
            let s = t.ss.q[qix].segs[i];
            if ack <= s.first {
                break;
            }
            if s.time > last_xmit {
                last_xmit = s.time;
            }
            let sm = &mut t.ss.q[qix].segs[i];
            sm.acked = sm.acked.wrapping_add(1);
            if s.acked != 0 {
                i += 1;
                continue;
            }
            changed = true;
            if ack == s.last.wrapping_add(1) {
                let intervening = last_xmit > s.time;
                if !intervening && s.retrans == 0 {
                    let etime = Timestamp::elapsed_us(s.time, now);
                    if t.rtt_min == 0 || (t.rtt_min as f64) > etime {
                        t.rtt_min = etime.min(u32::MAX as f64) as u32;
                    }
                    if (t.rtt_max as f64) < etime {
                        t.rtt_max = etime.min(u32::MAX as f64) as u32;
                    }
                    t.rtt_sum += etime;
                    t.rtt_sum2 += etime * etime;
                    t.rtt_count += 1;
                }
            }
            i += 1;
        }
        if changed {
            t.ss.collapse(qix);
        }
    }

    /// What the histograms need beyond the record (kept only with a hook that is on).
    pub fn histo_extra(&self) -> HistoExtra {
        HistoExtra {
            win_tot: [self.dirs[C2S].win_tot, self.dirs[S2C].win_tot],
            mptcp: [self.dirs[C2S].mptcp_req, self.dirs[S2C].mptcp_req],
            tls_service: self.l7.rate_class().tls_service,
        }
    }

    /// Fills the measured part of a [`TcpRecord`] for a flow closed at packet time `now` (the
    /// rate samples run to the close, not to the flow's last packet).
    pub fn fill_record(&self, rec: &mut TcpRecord, complete: bool, now: Timestamp) {
        rec.first = self.first_time;
        rec.last = self.last_time;
        rec.complete = complete;
        rec.dirs = [dir_record(&self.dirs[C2S]), dir_record(&self.dirs[S2C])];
        rec.l7 = self.l7.record();
        rec.rates = match &self.rates {
            Some(r) => r.record(now),
            None => VideoRatesRecord::default(),
        };
    }
}

fn dir_record(t: &Tcb) -> TcpDirRecord {
    TcpDirRecord {
        packets: t.packets,
        rst_cnt: t.reset_count,
        ack_cnt: t.ack_pkts,
        ack_cnt_p: t.pureack_pkts,
        bytes_uniq: t.unique_bytes,
        pkts_data: t.data_pkts,
        bytes_all: t.data_bytes,
        pkts_retx: t.rexmit_pkts,
        bytes_retx: t.rexmit_bytes,
        pkts_ooo: t.out_order_pkts,
        syn_cnt: t.syn_count,
        fin_cnt: t.fin_count,
        payload_start: t.payload_start_time,
        payload_end: t.payload_end_time,
        ack_start: t.ack_start_time,
        rtt_sum: t.rtt_sum,
        rtt_sum2: t.rtt_sum2,
        rtt_min_us: u64::from(t.rtt_min),
        rtt_max_us: u64::from(t.rtt_max),
        rtt_cnt: t.rtt_count,
        ttl_min: t.ttl_min,
        ttl_max: t.ttl_max,
        f1323_ws: t.f1323_ws,
        f1323_ts: t.f1323_ts,
        win_scl: t.window_scale,
        sack_req: t.fsack_req,
        sack_cnt: t.sacks_sent,
        mss: t.mss,
        mss_max: t.max_seg_size,
        mss_min: t.min_seg_size,
        win_max: t.win_max,
        win_min: t.win_min,
        win_0: t.win_zero_ct,
        cwin_max: t.cwin_max,
        cwin_min: t.cwin_min,
        cwin_ini: t.initialwin_bytes,
        pkts_rto: t.rtx_rto,
        pkts_fs: t.rtx_fr,
        pkts_reor: t.reordering,
        pkts_dup: t.net_dup,
        pkts_unk: t.unknown,
        pkts_fc: t.flow_control,
        pkts_unrto: t.unnecessary_rtx_rto,
        pkts_unfs: t.unnecessary_rtx_fr,
        syn_retx: t.bad_behavior,
        pkts_push: t.msg_count,
    }
}

/// Tstat's `addseg` over quadrant `qix` of direction `t`.
#[allow(clippy::too_many_arguments)]
fn add_seg<H: SegmentHook>(
    t: &mut Tcb,
    ctx: &RuleCtx,
    qix: usize,
    mut first: u32,
    mut len: u64,
    out_order: &mut bool,
    ip_id: u16,
    now: Timestamp,
    dir: usize,
    hook: &mut H,
) -> i64 {
    let last = first.wrapping_add(len as u32).wrapping_sub(1);
    let mut rexlen: i64 = 0;
    let mut split = false;
    let mut recovery_time: f64 = 0.0;
    let nsegs = t.ss.q[qix].segs.len();
    let mut i = match t.ss.q[qix].segs.last() {
        Some(tail) if first > tail.last => nsegs,
        _ => 0,
    };
    while i < t.ss.q[qix].segs.len() {
        let s = t.ss.q[qix].segs[i];
        if first > s.last {
            i += 1;
            continue;
        }
        if first < s.first {
            if last < s.last {
                *out_order = true;
            }
            let new = Segment {
                first,
                last,
                retrans: 0,
                acked: 0,
                time: now,
                ip_id,
                tos: 0,
            };
            t.ss.q[qix].segs.insert(i, new);
            i += 1; // `i` keeps pointing at the recorded segment `s`
            if last <= s.first {
                rules_test(
                    t,
                    ctx,
                    qix,
                    i,
                    len,
                    ip_id,
                    false,
                    recovery_time,
                    now,
                    dir,
                    hook,
                );
                return rexlen;
            }
            let new_last = s.first.wrapping_sub(1);
            t.ss.q[qix].segs[i - 1].last = new_last;
            rules_test(
                t,
                ctx,
                qix,
                i,
                new_last.wrapping_sub(first) as u64,
                ip_id,
                false,
                recovery_time,
                now,
                dir,
                hook,
            );
            first = s.first;
            len = last.wrapping_sub(first) as u64 + 1;
        }
        if first >= s.first {
            let sm = &mut t.ss.q[qix].segs[i];
            sm.retrans = sm.retrans.wrapping_add(1);
            recovery_time = (now.0 - sm.time.0) as f64;
            if !split {
                // rtt_retrans: only the send time matters for the logs.
                sm.time = now;
            }
            if last <= s.last {
                rexlen += len as i64;
                rules_test(
                    t,
                    ctx,
                    qix,
                    i,
                    len,
                    ip_id,
                    true,
                    recovery_time,
                    now,
                    dir,
                    hook,
                );
                return rexlen;
            }
            split = true;
            rexlen += s.last.wrapping_sub(first) as i64 + 1;
            first = s.last.wrapping_add(1);
            rules_test(
                t,
                ctx,
                qix,
                i,
                rexlen as u64,
                ip_id,
                true,
                recovery_time,
                now,
                dir,
                hook,
            );
            len = last.wrapping_sub(first) as u64 + 1;
        }
        i += 1;
    }
    let segs = &mut t.ss.q[qix].segs;
    segs.push(Segment {
        first,
        last: first.wrapping_add(len as u32).wrapping_sub(1),
        retrans: 0,
        acked: 0,
        time: now,
        ip_id,
        tos: IN_SEQUENCE,
    });
    if segs.len() > MAX_SEG_PER_QUAD {
        let head_first = segs[0].first;
        segs.remove(0);
        segs[0].first = head_first;
    }
    if H::ON {
        hook.anomaly(dir, IN_SEQUENCE);
    }
    rexlen
}

/// Tstat's `rules_test` + `real_rules_test`: classifies the anomaly of the segment at
/// `si` (already seen) or of the new segment just before it (a hole being filled).
#[allow(clippy::too_many_arguments)]
fn rules_test<H: SegmentHook>(
    t: &mut Tcb,
    ctx: &RuleCtx,
    qix: usize,
    si: usize,
    len: u64,
    this_ip_id: u16,
    already_seen: bool,
    mut recovery_time: f64,
    now: Timestamp,
    dir: usize,
    hook: &mut H,
) {
    let segs = &t.ss.q[qix].segs;
    let pseg = segs[si];
    let prev = si.checked_sub(1).map(|j| segs[j]);
    let prev_prev = si.checked_sub(2).map(|j| segs[j]);
    let nowf = now.0 as f64;
    if !already_seen {
        recovery_time = match prev_prev {
            Some(pp) => nowf - pp.time.0 as f64,
            None => -1.0,
        };
    }
    let prev_tos = match prev {
        Some(p) => {
            if already_seen {
                p.tos
            } else {
                prev_prev.map(|pp| pp.tos).unwrap_or(IN_SEQUENCE)
            }
        }
        None => IN_SEQUENCE,
    };
    let (mean_rtt, rto, rtt, valid_rtt) = rtt_figures(ctx);
    if !valid_rtt && recovery_time == -1.0 {
        recovery_time = nowf - pseg.time.0 as f64;
    }
    let rule1a = pseg.ip_id != this_ip_id;
    let rule1b = recovery_time > rto;
    let rule1d = recovery_time < mean_rtt;
    let rule2b = if already_seen {
        prev.map(|p| p.acked > 3 && recovery_time < rto)
            .unwrap_or(false)
    } else {
        prev_prev
            .map(|pp| pp.acked > 3 && recovery_time < rto)
            .unwrap_or(false)
    };
    let rule2c = nowf - (pseg.time.0 as f64) < rtt;
    let probing = len == 1 && ctx.other_win_curr == 0 && ctx.syn_both;
    let class = |x: u8| {
        if valid_rtt {
            x
        } else {
            x | NO_RTT_SAMPLE_CLASSIFICATION
        }
    };
    let tos = if probing {
        FLOW_CONTROL
    } else if rule1d && prev_tos != IN_SEQUENCE {
        prev_tos | BATCH_CLASSIFICATION
    } else if pseg.acked == 0 {
        if already_seen {
            if !rule1a {
                class(NETWORK_DUPLICATE)
            } else if rule1b || rule2b {
                class(if rule2b {
                    RETRANSMISSION_FR
                } else {
                    RETRANSMISSION_RTO
                })
            } else if rule1d {
                class(DUP_RC_LT_RTT)
            } else if !rule1b {
                class(DUP_RC_LT_RTO)
            } else {
                class(UNKNOWN)
            }
        } else if rule1b || rule2b {
            class(if rule2b {
                RETRANSMISSION_FR
            } else {
                RETRANSMISSION_RTO
            })
        } else if rule2c {
            class(REORDERING)
        } else if rule1d {
            class(OOO_RC_LT_RTT)
        } else if !rule1b {
            class(OOO_RC_LT_RTO)
        } else {
            class(UNKNOWN)
        }
    } else if !rule1a {
        class(NETWORK_DUPLICATE)
    } else if rule1b || rule2b {
        class(if rule2b {
            UNNECESSARY_RETRANSMISSION_FR
        } else {
            UNNECESSARY_RETRANSMISSION_RTO
        })
    } else if rule1d {
        class(UNNEC_RC_LT_RTT)
    } else if !rule1b {
        class(UNNEC_RC_LT_RTO)
    } else {
        class(UNKNOWN)
    };
    let segs = &mut t.ss.q[qix].segs;
    if already_seen {
        segs[si].tos = tos;
    } else {
        segs[si - 1].tos = tos;
    }
    if H::ON {
        // Tstat's `aggregateType`: batch and no-RTT marks dropped, the detailed classes as
        // unknown.
        let class = tos & (BATCH_CLASSIFICATION - 1);
        hook.anomaly(dir, if class > 7 { UNKNOWN } else { class });
    }
    match tos & (BATCH_CLASSIFICATION - 1) {
        IN_SEQUENCE => {}
        RETRANSMISSION_RTO => t.rtx_rto += 1,
        RETRANSMISSION_FR => t.rtx_fr += 1,
        REORDERING => t.reordering += 1,
        NETWORK_DUPLICATE => t.net_dup += 1,
        FLOW_CONTROL => t.flow_control += 1,
        UNNECESSARY_RETRANSMISSION_FR => t.unnecessary_rtx_fr += 1,
        UNNECESSARY_RETRANSMISSION_RTO => t.unnecessary_rtx_rto += 1,
        _ => t.unknown += 1,
    }
}
