//! The per-core worker: decode → flow lookup → TCP/UDP statistics → records. The same code
//! runs behind every packet source (trace files today, DPDK queues and libpcap later).
//!
//! A worker owns its flow table, its counters and the producer end of its record ring; it
//! shares nothing mutable with other workers. It never formats text, never logs per packet
//! and allocates nothing per packet once its pools are warm.

use crate::config::EngineConfig;
use crate::flow::{new_flow, Flow, FlowKey, FlowState, FlowTable};
use crate::histo::{Histo, HistoConfig, Io, SegmentHisto};
use crate::l7::dns::{DnsCache, DnsEntry, DnsSnoop};
use crate::record::{DnsInfo, MessageRecord};
use crate::record::{FlowRecord, PeriodicDir, PeriodicRecord, TcpRecord, UdpRecord};
use crate::stats::CoreStats;
use crate::tcp::{SegPool, TcpFlow, Verdict, C2S, S2C};
use crate::time::Timestamp;
use crate::udp::UdpFlow;
use crate::wire::{self, LinkType, L4};
use std::net::IpAddr;
use std::sync::Arc;

/// Where a worker's finished records go.
#[allow(clippy::result_large_err)] // the rejected record is handed back by value, no allocation
pub trait RecordSink {
    /// Offers a record; returns false if it could not be taken (ring full).
    fn offer(&mut self, rec: FlowRecord) -> Result<(), FlowRecord>;

    /// A receive core's counters, every few dozen polls (live capture): a sink whose consumer
    /// is another process publishes them next to the records.
    fn publish(&mut self, _snapshot: &crate::rx::CoreSnapshot) {}

    /// The runtime switch bits ([`crate::config::switch`]) the sink's consumer asks the
    /// worker to follow, if it says.
    fn switches(&self) -> Option<u32> {
        None
    }

    /// The packet time of the frame about to be analysed: records offered from now on are
    /// emitted at this time (a live consumer rotates its directories on it, as Tstat writes a
    /// flow into the directory current when the flow ends).
    #[inline]
    fn clock(&mut self, _now: Timestamp) {}
}

impl RecordSink for Vec<FlowRecord> {
    fn offer(&mut self, rec: FlowRecord) -> Result<(), FlowRecord> {
        self.push(rec);
        Ok(())
    }
}

impl RecordSink for rtrb::Producer<FlowRecord> {
    #[inline]
    fn offer(&mut self, rec: FlowRecord) -> Result<(), FlowRecord> {
        self.push(rec).map_err(|rtrb::PushError::Full(r)| r)
    }
}

/// What to do when the record ring is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullPolicy {
    /// Drop the record and count it (live capture: the worker never blocks).
    Drop,
    /// Wait for room, counting each wait (offline analysis: nothing is lost, the trace waits).
    Wait,
}

/// One worker: flow table, counters and record output.
pub struct Worker<S: RecordSink> {
    cfg: Arc<EngineConfig>,
    table: FlowTable,
    pool: SegPool,
    stats: CoreStats,
    sink: S,
    policy: FullPolicy,
    /// Reused buffer for flows the collector expires (no allocation per pass once warm).
    expired: Vec<Flow>,
    /// This worker's replica of the DN-Hunter cache.
    dns: DnsCache,
    /// The histograms (`-H`), when on: checked once per packet.
    histo: Option<Box<Histo>>,
    /// Inside [`Worker::finish`]: TCP flows closed at the end of the trace are not departures
    /// for `profile_flows` (Tstat's `trace_done` does not count them).
    finishing: bool,
    /// Packet time of the last flow this worker created (its last collector opportunity).
    last_created: Timestamp,
}

impl<S: RecordSink> Worker<S> {
    /// A worker writing its records to `sink`.
    pub fn new(cfg: Arc<EngineConfig>, sink: S, policy: FullPolicy) -> Worker<S> {
        Worker {
            cfg,
            table: FlowTable::new(),
            pool: SegPool::default(),
            stats: CoreStats::default(),
            sink,
            policy,
            expired: Vec::new(),
            dns: DnsCache::default(),
            histo: None,
            finishing: false,
            last_created: Timestamp::ZERO,
        }
    }

    /// Turns on Tstat's histograms for this worker (the `worker`-th of the run): from now on
    /// packets and flows add to them, [`Worker::histo_tick`] ends an interval and
    /// [`Worker::finish`] the last one, each emitting [`FlowRecord::Histo`] chunks.
    pub fn enable_histo(&mut self, cfg: HistoConfig, worker: u16) {
        self.histo = Some(Box::new(Histo::new(cfg, worker)));
    }

    /// Starts the first histogram interval at packet time `start` (the trace's first IP
    /// packet). Nothing happens with histograms off.
    pub fn histo_start(&mut self, start: Timestamp) {
        if let Some(h) = self.histo.as_deref_mut() {
            h.set_start(start);
        }
    }

    /// Packet time of the last flow this worker created.
    pub fn last_flow_created(&self) -> Timestamp {
        self.last_created
    }

    /// Ends the current histogram interval at packet time `end` (the packet after which Tstat
    /// dumps its histograms, decided in capture order by whoever sees every packet) and emits
    /// this worker's part of it. Nothing happens with histograms off.
    ///
    /// Tstat's single collector runs whenever any flow is created, so before its dump it has
    /// closed every flow that timed out by the last flow creation; a worker runs its collector
    /// only when it creates a flow itself. `collect_at` (the last flow creation of all workers
    /// before the boundary, see [`Worker::last_flow_created`]) runs this worker's collector
    /// then, so that the flows close in the interval Tstat closes them in.
    pub fn histo_tick(&mut self, end: Timestamp, collect_at: Timestamp) {
        if self.histo.is_none() {
            return;
        }
        if collect_at > self.last_created {
            self.collect(collect_at);
        }
        self.flush_histo(end, false);
    }

    fn flush_histo(&mut self, end: Timestamp, last: bool) {
        if let Some(mut h) = self.histo.take() {
            h.flush(end, last, |c| self.emit(FlowRecord::Histo(c)));
            self.histo = Some(h);
        }
    }

    /// Adds a DN-Hunter entry (broadcast to every worker right after the response packet).
    pub fn add_dns(&mut self, entry: Arc<DnsEntry>) {
        self.dns.insert(entry);
    }

    /// The configuration in force.
    pub fn config(&self) -> &Arc<EngineConfig> {
        &self.cfg
    }

    /// The record sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// The record sink, mutably.
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Replaces the configuration (runtime switches changed): flows created from now on
    /// follow it; flows already tracked keep what they were created with.
    pub fn set_config(&mut self, cfg: Arc<EngineConfig>) {
        self.cfg = cfg;
    }

    /// The worker's counters.
    pub fn stats(&self) -> &CoreStats {
        &self.stats
    }

    /// Gives back the sink (tests, teardown).
    pub fn into_sink(self) -> S {
        self.sink
    }

    /// Number of TCP and UDP flows currently tracked.
    pub fn flow_counts(&self) -> (usize, usize) {
        self.table.counts()
    }

    /// Analyses one captured frame.
    #[inline]
    pub fn process(&mut self, ts: Timestamp, link: LinkType, frame: &[u8]) {
        if self.histo.is_some() {
            self.process_histo(ts, link, frame);
            return;
        }
        if let Some(pkt) = self.decode(link, frame) {
            self.analyse::<false>(ts, pkt);
        }
    }

    /// [`Worker::process`] with histograms: the layer-4 analysis with its histogram hooks,
    /// then the IP-level histograms (Tstat's `ip_histo_stat` runs after the TCP/UDP part, and
    /// for every IP packet, analysed at layer 4 or not).
    #[inline(never)]
    fn process_histo(&mut self, ts: Timestamp, link: LinkType, frame: &[u8]) {
        let ip = self.ip_peek(link, frame);
        if let Some(pkt) = self.decode(link, frame) {
            self.analyse::<true>(ts, pkt);
        }
        self.ip_histo(ip);
    }

    /// The IP header the histograms read, and the packet's MPTCP option for the TCP hooks.
    fn ip_peek(&mut self, link: LinkType, frame: &[u8]) -> Option<crate::histo::IpHeader> {
        let ip = crate::histo::peek(link, frame);
        if let Some(h) = self.histo.as_deref_mut() {
            h.set_packet_mptcp(ip.is_some_and(|i| i.mptcp));
        }
        ip
    }

    fn ip_histo(&mut self, ip: Option<crate::histo::IpHeader>) {
        if let (Some(ip), Some(h)) = (ip, self.histo.as_deref_mut()) {
            let nets = &self.cfg.nets;
            let internal = [nets.is_internal(&ip.src), nets.is_internal(&ip.dst)];
            h.ip(&ip, internal, !nets.is_empty());
        }
    }

    /// Analyses one captured frame and snoops it for DN-Hunter, for sources where this worker
    /// sees the DNS responses of its own flows only (a NIC queue): a response worth caching is
    /// added to this worker's replica after the packet is analysed (as the trace reader's
    /// broadcast does) and returned, for the caller to send to the other workers.
    #[inline]
    pub fn process_snooping(
        &mut self,
        ts: Timestamp,
        link: LinkType,
        frame: &[u8],
        snoop: &mut DnsSnoop,
    ) -> Option<Arc<DnsEntry>> {
        let histo = self.histo.is_some();
        let ip = match histo {
            true => self.ip_peek(link, frame),
            false => None,
        };
        let Some(pkt) = self.decode(link, frame) else {
            self.ip_histo(ip);
            return None;
        };
        let entry = match &pkt.l4 {
            L4::Udp(u) if u.src_port == 53 || u.dst_port == 53 => snoop.observe(&pkt, ts),
            _ => None,
        };
        if histo {
            self.analyse::<true>(ts, pkt);
            self.ip_histo(ip);
        } else {
            self.analyse::<false>(ts, pkt);
        }
        if let Some(e) = &entry {
            self.add_dns(Arc::clone(e));
        }
        entry
    }

    #[inline]
    fn decode<'a>(&mut self, link: LinkType, frame: &'a [u8]) -> Option<wire::Packet<'a>> {
        self.stats.packets += 1;
        self.stats.bytes += frame.len() as u64;
        match wire::decode(link, frame) {
            Ok(p) => Some(p),
            Err(skip) => {
                self.stats.skipped[skip.index()] += 1;
                None
            }
        }
    }

    /// The layer-4 analysis of a decoded packet; `HISTO`: with the histogram hooks (a
    /// compile-time choice, so that the path without histograms carries none of them).
    #[inline(always)]
    fn analyse<const HISTO: bool>(&mut self, ts: Timestamp, pkt: wire::Packet<'_>) {
        if self.cfg.ignore_ipv6 && pkt.src.is_ipv6() {
            self.stats.ipv6_ignored += 1;
            return;
        }
        let src_int = self.cfg.nets.is_internal(&pkt.src);
        let dst_int = self.cfg.nets.is_internal(&pkt.dst);
        let io = Io::of(src_int, dst_int);
        match pkt.l4 {
            L4::Tcp(seg) => {
                self.stats.tcp_packets += 1;
                if HISTO {
                    if let Some(h) = self.histo.as_deref_mut() {
                        let syn_only = seg.flags.syn() && !seg.flags.ack();
                        let ports = [seg.src_port, seg.dst_port];
                        h.tcp_header(io, syn_only, ports, pkt.ip_len, pkt.src.is_ipv6());
                    }
                }
                let (key, src_is_lo) =
                    FlowKey::new(pkt.src, seg.src_port, pkt.dst, seg.dst_port, 6);
                let id = match self.table.lookup(&key) {
                    Some(id) => {
                        if self.cfg.dns_late_packets > 0 {
                            self.late_dns(id);
                        }
                        id
                    }
                    None => {
                        if !seg.flags.syn() || seg.flags.ack() {
                            self.stats.tcp_trash += 1;
                            if HISTO {
                                if let Some(h) = self.histo.as_deref_mut() {
                                    h.tcp_trash();
                                }
                            }
                            return;
                        }
                        self.stats.tcp_flows += 1;
                        let state = FlowState::Tcp(TcpFlow::new(ts));
                        if HISTO {
                            if let Some(h) = self.histo.as_deref_mut() {
                                h.flow_created(false, ts);
                            }
                        }
                        self.create(ts, &pkt, key, src_is_lo, [src_int, dst_int], state)
                    }
                };
                if self.cfg.tcp_periodic {
                    self.periodic_row(id, ts);
                }
                let flow = self.table.get_mut(id);
                let dir = if src_is_lo == flow.client_is_lo {
                    C2S
                } else {
                    S2C
                };
                let (verdict, http_row) = match &mut flow.state {
                    FlowState::Tcp(t) => {
                        let v = match self.histo.as_deref_mut() {
                            Some(histo) if HISTO => {
                                let mut hook = SegmentHisto {
                                    histo,
                                    io,
                                    ip_len: pkt.ip_len,
                                };
                                t.on_segment_with(dir, &pkt, &seg, ts, &mut self.pool, &mut hook)
                            }
                            _ => t.on_segment(dir, &pkt, &seg, ts, &mut self.pool),
                        };
                        (
                            v,
                            if self.cfg.http_log {
                                t.take_http_row()
                            } else {
                                None
                            },
                        )
                    }
                    FlowState::Udp(_) => (Verdict::Open, None),
                };
                if let Some(kind) = http_row {
                    let m = message(
                        self.table.get_mut(id),
                        ts,
                        dir,
                        kind,
                        seg.payload_len,
                        seg.payload,
                    );
                    self.emit(FlowRecord::Http(m));
                }
                match verdict {
                    Verdict::Open => self.table.touch(id),
                    Verdict::Close { complete } => {
                        let f = self.table.remove(id);
                        self.close(f, Some(complete), ts);
                    }
                }
            }
            L4::Udp(dgram) => {
                if self.cfg.ignore_udp {
                    self.stats.udp_ignored += 1;
                    return;
                }
                self.stats.udp_packets += 1;
                if HISTO {
                    if let Some(h) = self.histo.as_deref_mut() {
                        h.udp_header(io, dgram.dst_port, pkt.ip_len, pkt.src.is_ipv6());
                    }
                }
                let (key, src_is_lo) =
                    FlowKey::new(pkt.src, dgram.src_port, pkt.dst, dgram.dst_port, 17);
                let id = match self.table.lookup(&key) {
                    Some(id) => {
                        if self.cfg.dns_late_packets > 0 {
                            self.late_dns(id);
                        }
                        id
                    }
                    None => {
                        self.stats.udp_flows += 1;
                        if HISTO {
                            if let Some(h) = self.histo.as_deref_mut() {
                                h.flow_created(true, ts);
                            }
                        }
                        let state = FlowState::Udp(UdpFlow::default());
                        self.create(ts, &pkt, key, src_is_lo, [src_int, dst_int], state)
                    }
                };
                if self.cfg.udp_periodic {
                    self.periodic_row(id, ts);
                }
                let flow = self.table.get_mut(id);
                let dir = if src_is_lo == flow.client_is_lo {
                    C2S
                } else {
                    S2C
                };
                let mut dns_message = false;
                if let FlowState::Udp(u) = &mut flow.state {
                    let dns_log =
                        self.cfg.dns_log && !is_multicast(&pkt.src) && !is_multicast(&pkt.dst);
                    let opened = u.dirs[dir].packets == 0;
                    u.on_datagram(dir, &dgram, ts, dns_log);
                    dns_message = u.take_dns_message();
                    if HISTO {
                        if let Some(h) = self.histo.as_deref_mut() {
                            if opened {
                                h.udp_direction_opened(dgram.dst_port);
                            }
                            h.udp_rate(io, u.l7_type(dir), pkt.ip_len);
                        }
                    }
                }
                if dns_message {
                    let m = message(
                        self.table.get_mut(id),
                        ts,
                        dir,
                        0,
                        dgram.payload_len,
                        dgram.payload,
                    );
                    self.emit(FlowRecord::Dns(m));
                }
                self.table.touch(id);
            }
        }
    }

    /// Ends the trace at packet time `last` (the last packet of the whole trace, not only of
    /// this worker): flows already past a timeout close as timed out, every other TCP flow is
    /// written as not complete, every UDP flow as usual.
    /// With histograms on, the final interval is emitted after the flows are closed.
    pub fn finish(&mut self, last: Timestamp) {
        self.finishing = true;
        let cfg = Arc::clone(&self.cfg);
        // One flow at a time: peak memory stays the table's, even with a million flows open.
        while let Some(f) = self.table.pop() {
            let complete = match &f.state {
                FlowState::Tcp(t) => {
                    let idle = Timestamp::elapsed_us(t.last_time(), last);
                    let timed_out = (t.is_singleton() && idle > cfg.tcp_singleton_us as f64)
                        || idle > cfg.tcp_idle_us as f64;
                    Some(timed_out && t.syn_both())
                }
                FlowState::Udp(_) => None,
            };
            self.close(f, complete, last);
        }
        self.flush_histo(last, true);
        self.finishing = false;
    }

    /// Creates a flow, as Tstat does when a packet matches none: a collector pass first (if
    /// due), an eviction if the table is full, then the new flow with its DN-Hunter name.
    fn create(
        &mut self,
        now: Timestamp,
        pkt: &wire::Packet<'_>,
        key: FlowKey,
        src_is_lo: bool,
        internal: [bool; 2],
        mut state: FlowState,
    ) -> crate::flow::FlowId {
        self.last_created = now;
        self.collect(now);
        let (tcp, max) = match state {
            FlowState::Tcp(_) => (true, self.cfg.max_tcp_flows),
            FlowState::Udp(_) => (false, self.cfg.max_udp_flows),
        };
        if let Some(f) = self.table.evict_if_full(tcp, max) {
            self.stats.evicted += 1;
            self.close(f, None, now);
        }
        // Periodic bins, rate samples and HTTP row decisions are per-flow work, done only when
        // their log is on.
        match &mut state {
            FlowState::Tcp(t) => {
                if self.cfg.tcp_periodic {
                    t.enable_periodic(now);
                }
                if self.cfg.video_rates {
                    t.enable_rates();
                }
                if self.cfg.http_log {
                    t.enable_http_rows();
                }
            }
            FlowState::Udp(u) if self.cfg.udp_periodic => u.enable_periodic(now),
            _ => {}
        }
        let mut flow = new_flow(key, src_is_lo, internal[0], internal[1], state);
        flow.dns = self.dns.lookup(&pkt.src, &pkt.dst);
        if flow.dns.is_none() {
            flow.dns_retry = self.cfg.dns_late_packets;
        }
        self.table.insert(flow)
    }

    /// DN-Hunter's late look-up (see [`EngineConfig::dns_late_packets`]): one of the next
    /// packets of a flow created without a name; the entry must be older than the flow.
    #[inline]
    fn late_dns(&mut self, id: crate::flow::FlowId) {
        let flow = self.table.get_mut(id);
        if flow.dns_retry == 0 {
            return;
        }
        flow.dns_retry -= 1;
        let (client, server) = (flow.client().0, flow.server().0);
        let created = match &flow.state {
            FlowState::Tcp(t) => t.first_time(),
            FlowState::Udp(u) => u.dirs[0].first,
        };
        if let Some(e) = self.dns.lookup(&client, &server) {
            if e.res <= created {
                flow.dns = Some(e);
            }
            flow.dns_retry = 0;
        }
    }

    /// Writes the flow's periodic row if a packet at `now` ends its current bin (Tstat checks
    /// this before accounting the packet, so the packet opens the next bin).
    fn periodic_row(&mut self, id: crate::flow::FlowId, now: Timestamp) {
        let flow = self.table.get_mut(id);
        let bin = match &mut flow.state {
            FlowState::Tcp(t) if t.periodic_due(now) => t.take_periodic(now),
            FlowState::Udp(u) if u.periodic_due(now) => u.take_periodic(now),
            _ => None,
        };
        if let Some(bin) = bin {
            let rec = periodic_record(flow, bin);
            self.emit(FlowRecord::Periodic(rec));
        }
    }

    fn collect(&mut self, now: Timestamp) {
        let cfg = Arc::clone(&self.cfg);
        let mut expired = std::mem::take(&mut self.expired);
        self.table.maybe_collect(now, &cfg, |f| expired.push(f));
        for f in expired.drain(..) {
            self.close(f, None, now);
        }
        self.expired = expired;
    }

    /// Turns a removed flow into its record. `complete` is the TCP verdict; `None` means a
    /// timeout or eviction, where Tstat's rule "complete iff a SYN was seen both ways" applies.
    /// `now` is the packet time of the closure (Tstat's `current_time` in `make_conn_stats`).
    fn close(&mut self, mut flow: Flow, complete: Option<bool>, now: Timestamp) {
        let (c_ip, c_port) = flow.client();
        let (s_ip, s_port) = flow.server();
        let logged = flow.c_isint || flow.s_isint;
        let dns = flow.dns.as_deref().map(dns_info).unwrap_or_default();
        // Tstat writes the last periodic row of every flow it closes, external ones included.
        let bin = match &mut flow.state {
            FlowState::Tcp(t) => t.take_periodic(Timestamp::ZERO),
            FlowState::Udp(u) => u.take_periodic(Timestamp::ZERO),
        };
        if let Some(bin) = bin {
            let rec = periodic_record(&flow, bin);
            self.emit(FlowRecord::Periodic(rec));
        }
        let rec = match &mut flow.state {
            FlowState::Tcp(t) => {
                let complete = complete.unwrap_or_else(|| t.syn_both());
                let mut rec = TcpRecord {
                    c_ip,
                    c_port,
                    s_ip,
                    s_port,
                    c_isint: flow.c_isint,
                    s_isint: flow.s_isint,
                    first: Timestamp::ZERO,
                    last: Timestamp::ZERO,
                    complete,
                    dirs: Default::default(),
                    l7: Default::default(),
                    dns,
                    rates: Default::default(),
                };
                t.fill_record(&mut rec, complete, now);
                if let Some(h) = self.histo.as_deref_mut() {
                    h.tcp_closed(&rec, &t.histo_extra(), complete);
                    if !self.finishing {
                        h.flow_departed(false, now);
                    }
                }
                t.release(&mut self.pool);
                if logged {
                    if complete {
                        self.stats.tcp_complete += 1;
                    } else {
                        self.stats.tcp_nocomplete += 1;
                    }
                }
                FlowRecord::Tcp(rec)
            }
            FlowState::Udp(u) => {
                if logged {
                    self.stats.udp_closed += 1;
                }
                let rec = UdpRecord {
                    c_ip,
                    c_port,
                    s_ip,
                    s_port,
                    c_isint: flow.c_isint,
                    s_isint: flow.s_isint,
                    dirs: u.dirs,
                    l7: u.l7_record(),
                    dns,
                };
                if let Some(h) = self.histo.as_deref_mut() {
                    let (raw, l7) = u.l7_types();
                    h.udp_closed(&rec, raw, l7);
                    h.flow_departed(true, now);
                }
                FlowRecord::Udp(rec)
            }
        };
        if !logged {
            self.stats.not_logged_external += 1;
            return;
        }
        self.emit(rec);
    }

    fn emit(&mut self, mut rec: FlowRecord) {
        loop {
            match self.sink.offer(rec) {
                Ok(()) => return,
                Err(back) => match self.policy {
                    FullPolicy::Drop => {
                        self.stats.records_dropped += 1;
                        return;
                    }
                    FullPolicy::Wait => {
                        self.stats.ring_full_waits += 1;
                        rec = back;
                        std::thread::yield_now();
                    }
                },
            }
        }
    }
}

/// The periodic row of `flow` for a bin `(start, first, last, deltas)`.
fn periodic_record(
    flow: &Flow,
    (bin_start, first, last, dirs): (Timestamp, Timestamp, Timestamp, [PeriodicDir; 2]),
) -> PeriodicRecord {
    let (c_ip, c_port) = flow.client();
    let (s_ip, s_port) = flow.server();
    PeriodicRecord {
        tcp: matches!(flow.state, FlowState::Tcp(_)),
        c_ip,
        c_port,
        s_ip,
        s_port,
        c_isint: flow.c_isint,
        s_isint: flow.s_isint,
        bin_start,
        first,
        last,
        dirs,
    }
}

/// A [`MessageRecord`] for one segment or datagram of `flow`.
/// Tstat's multicast test of `log_dns_complete`: 224.0.0.0/4, or an IPv6 address starting
/// with 0xff.
fn is_multicast(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_multicast(),
        IpAddr::V6(a) => a.octets()[0] == 0xff,
    }
}

fn message(
    flow: &Flow,
    time: Timestamp,
    dir: usize,
    kind: u8,
    len: u32,
    payload: &[u8],
) -> MessageRecord {
    let (c_ip, c_port) = flow.client();
    let (s_ip, s_port) = flow.server();
    MessageRecord {
        c_ip,
        c_port,
        s_ip,
        s_port,
        c_isint: flow.c_isint,
        s_isint: flow.s_isint,
        time,
        dir: dir as u8,
        kind,
        len,
        bytes: crate::record::InlineStr::new(payload),
        fqdn: flow
            .dns
            .as_deref()
            .map(|e| crate::record::InlineStr::new(&e.name))
            .unwrap_or_default(),
    }
}

fn dns_info(e: &DnsEntry) -> DnsInfo {
    DnsInfo {
        fqdn: crate::record::InlineStr::new(&e.name),
        server: Some(e.server),
        req: e.req,
        res: e.res,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::TcpFlags;

    const C: [u8; 4] = [10, 0, 0, 1];
    const S: [u8; 4] = [192, 0, 2, 80];

    /// Ethernet + IPv4 (20 bytes) + TCP (20 bytes, no options) + `payload` zero bytes.
    fn tcp_frame(
        from_client: bool,
        flags: u8,
        seq: u32,
        ack: u32,
        payload: usize,
        ip_id: u16,
    ) -> Vec<u8> {
        let (src, dst, sp, dp) = if from_client {
            (C, S, 40000u16, 80u16)
        } else {
            (S, C, 80, 40000)
        };
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]); // EtherType IPv4
        let total = (20 + 20 + payload) as u16;
        f.extend_from_slice(&[0x45, 0]); // version 4, IHL 5; TOS
        f.extend_from_slice(&total.to_be_bytes()); // total length
        f.extend_from_slice(&ip_id.to_be_bytes()); // identification
        f.extend_from_slice(&[0x40, 0, 64, 6, 0, 0]); // DF, TTL 64, protocol TCP, checksum
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sp.to_be_bytes());
        f.extend_from_slice(&dp.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.extend_from_slice(&[0x50, flags]); // data offset 5, flags
        f.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]); // window 65535, checksum, urgent
        f.resize(f.len() + payload, 0);
        f
    }

    fn udp_frame(sport: u16, payload: usize) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&((20 + 8 + payload) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 1, 0, 0, 64, 17, 0, 0]);
        f.extend_from_slice(&C);
        f.extend_from_slice(&S);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&53u16.to_be_bytes());
        f.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.resize(f.len() + payload, 0);
        f
    }

    const SYN: u8 = TcpFlags::SYN;
    const ACK: u8 = TcpFlags::ACK;
    const SA: u8 = TcpFlags::SYN | TcpFlags::ACK;
    const PA: u8 = TcpFlags::PSH | TcpFlags::ACK;
    const FA: u8 = TcpFlags::FIN | TcpFlags::ACK;
    const RA: u8 = TcpFlags::RST | TcpFlags::ACK;

    fn worker(cfg: EngineConfig) -> Worker<Vec<FlowRecord>> {
        Worker::new(Arc::new(cfg), Vec::new(), FullPolicy::Drop)
    }

    fn feed(w: &mut Worker<Vec<FlowRecord>>, ms: i64, frame: Vec<u8>) {
        w.process(
            Timestamp(1_000_000_000_000 + ms * 1000),
            LinkType::Ethernet,
            &frame,
        );
    }

    fn tcp_records(w: Worker<Vec<FlowRecord>>) -> Vec<TcpRecord> {
        w.into_sink()
            .into_iter()
            .filter_map(|r| {
                if let FlowRecord::Tcp(t) = r {
                    Some(t)
                } else {
                    None
                }
            })
            .collect()
    }

    /// A full connection: handshake, one request, one response, FIN handshake.
    fn handshake_request_response(w: &mut Worker<Vec<FlowRecord>>, retransmit_request: bool) {
        feed(w, 0, tcp_frame(true, SYN, 1000, 0, 0, 1));
        feed(w, 10, tcp_frame(false, SA, 5000, 1001, 0, 1));
        feed(w, 20, tcp_frame(true, ACK, 1001, 5001, 0, 2));
        feed(w, 21, tcp_frame(true, PA, 1001, 5001, 100, 3));
        if retransmit_request {
            feed(w, 500, tcp_frame(true, PA, 1001, 5001, 100, 4));
        }
        feed(w, 600, tcp_frame(false, PA, 5001, 1101, 300, 2));
        feed(w, 610, tcp_frame(true, FA, 1101, 5301, 0, 5));
        feed(w, 620, tcp_frame(false, FA, 5301, 1102, 0, 3));
        feed(w, 630, tcp_frame(true, ACK, 1102, 5302, 0, 6));
    }

    fn entry(res_ms: i64) -> Arc<DnsEntry> {
        Arc::new(DnsEntry {
            name: b"www.example.org".to_vec().into_boxed_slice(),
            client: IpAddr::from(C),
            addrs: vec![IpAddr::from(S)],
            server: IpAddr::from([192, 0, 2, 53]),
            req: Timestamp(1_000_000_000_000 + (res_ms - 1) * 1000),
            res: Timestamp(1_000_000_000_000 + res_ms * 1000),
        })
    }

    #[test]
    fn a_late_dn_hunter_entry_names_a_flow_only_if_its_response_came_first() {
        // Live capture on two cores: the response (at 0 ms, before the SYN at 1 ms) reaches
        // this core after the SYN; a later response (at 5 ms) must not name the flow.
        for (res_ms, named) in [(0, true), (5, false)] {
            let cfg = EngineConfig {
                dns_late_packets: 4,
                ..EngineConfig::default()
            };
            let mut w = worker(cfg);
            feed(&mut w, 1, tcp_frame(true, SYN, 1000, 0, 0, 1));
            w.add_dns(entry(res_ms));
            feed(&mut w, 10, tcp_frame(false, SA, 5000, 1001, 0, 1));
            feed(&mut w, 20, tcp_frame(true, ACK, 1001, 5001, 0, 2));
            feed(&mut w, 30, tcp_frame(true, FA, 1001, 5001, 0, 3));
            feed(&mut w, 40, tcp_frame(false, FA, 5001, 1002, 0, 2));
            feed(&mut w, 50, tcp_frame(true, ACK, 1002, 5002, 0, 4));
            let recs = tcp_records(w);
            assert_eq!(recs.len(), 1);
            assert_eq!(
                recs[0].dns.fqdn.as_bytes() == b"www.example.org",
                named,
                "response at {res_ms} ms"
            );
        }
        // Offline (one cache order, no late look-ups) an entry after the SYN names nothing.
        let mut w = worker(EngineConfig::default());
        feed(&mut w, 1, tcp_frame(true, SYN, 1000, 0, 0, 1));
        w.add_dns(entry(0));
        feed(&mut w, 10, tcp_frame(false, SA, 5000, 1001, 0, 1));
        feed(&mut w, 20, tcp_frame(true, FA, 1001, 5001, 0, 2));
        feed(&mut w, 30, tcp_frame(false, FA, 5001, 1002, 0, 2));
        feed(&mut w, 40, tcp_frame(true, ACK, 1002, 5002, 0, 3));
        assert!(tcp_records(w)[0].dns.fqdn.is_empty());
    }

    #[test]
    fn fin_handshake_gives_a_complete_flow_with_tstat_counters() {
        let mut w = worker(EngineConfig::default());
        handshake_request_response(&mut w, false);
        assert_eq!(
            w.flow_counts(),
            (0, 0),
            "closed on the last ACK of the FIN handshake"
        );
        let recs = tcp_records(w);
        assert_eq!(recs.len(), 1);
        let r = &recs[0];
        assert!(r.complete);
        let [c, s] = &r.dirs;
        // Client: SYN, ACK, request, FIN, last ACK.
        assert_eq!(
            (
                c.packets,
                c.ack_cnt,
                c.ack_cnt_p,
                c.pkts_data,
                c.bytes_all,
                c.bytes_uniq
            ),
            (5, 4, 2, 1, 100, 100)
        );
        assert_eq!((c.syn_cnt, c.fin_cnt, c.pkts_retx, c.rst_cnt), (1, 1, 0, 0));
        // Server: SYN/ACK, response, FIN.
        assert_eq!(
            (s.packets, s.ack_cnt, s.ack_cnt_p, s.pkts_data, s.bytes_uniq),
            (3, 3, 0, 1, 300)
        );
        // RTT samples: SYN acked at 10 ms, request (21 ms) acked by the response at 600 ms,
        // FIN (610) acked at 620. Server: SYN/ACK acked at 20, response acked by FIN at 610,
        // FIN at 630.
        assert_eq!(c.rtt_cnt, 3);
        assert_eq!((c.rtt_min_us, c.rtt_max_us), (10_000, 579_000));
        assert_eq!(s.rtt_cnt, 3);
        assert_eq!(
            (s.payload_start, c.payload_start),
            (Timestamp(1_000_000_600_000), Timestamp(1_000_000_021_000))
        );
        assert_eq!(r.last.0 - r.first.0, 630_000);
        assert_eq!((c.pkts_push, s.pkts_push), (1, 1));
        assert_eq!((c.ttl_min, c.ttl_max), (64, 64));
    }

    #[test]
    fn retransmitted_request_counts_once_as_unique() {
        let mut w = worker(EngineConfig::default());
        handshake_request_response(&mut w, true);
        let r = tcp_records(w).remove(0);
        let c = &r.dirs[0];
        assert_eq!((c.pkts_data, c.bytes_all, c.bytes_uniq), (2, 200, 100));
        assert_eq!((c.pkts_retx, c.bytes_retx), (1, 100));
        // No RTT sample from a retransmitted range (Karn), and one anomaly classified: the
        // original was not acked, different IP ID, recovery 479 ms > RTO floor.
        assert_eq!(c.rtt_cnt, 2);
        assert_eq!(c.pkts_rto + c.pkts_fs + c.pkts_unk + c.pkts_dup, 1);
    }

    #[test]
    fn half_duplex_flow_closes_without_counting_the_data() {
        let mut w = worker(EngineConfig::default());
        feed(&mut w, 0, tcp_frame(true, SYN, 1, 0, 0, 1));
        feed(&mut w, 5, tcp_frame(true, PA, 2, 0, 50, 2));
        let recs = tcp_records(w);
        assert_eq!(recs.len(), 1);
        assert!(!recs[0].complete);
        assert_eq!((recs[0].dirs[0].packets, recs[0].dirs[0].bytes_all), (1, 0));
    }

    #[test]
    fn rst_closes_and_completeness_follows_the_syns() {
        let mut w = worker(EngineConfig::default());
        feed(&mut w, 0, tcp_frame(true, SYN, 1, 0, 0, 1));
        feed(&mut w, 5, tcp_frame(false, RA, 0, 2, 0, 1));
        let r = tcp_records(w).remove(0);
        assert!(!r.complete, "the server never sent a SYN");
        assert_eq!((r.dirs[1].rst_cnt, r.dirs[1].ack_cnt), (1, 1));
    }

    #[test]
    fn mid_stream_segments_are_trash() {
        let mut w = worker(EngineConfig::default());
        feed(&mut w, 0, tcp_frame(true, PA, 1, 1, 10, 1));
        feed(&mut w, 1, tcp_frame(false, SA, 1, 1, 0, 1));
        assert_eq!(w.stats().tcp_trash, 2);
        assert_eq!(w.flow_counts(), (0, 0));
    }

    #[test]
    fn idle_flows_close_at_the_next_collector_pass_even_after_huge_gaps() {
        let mut w = worker(EngineConfig::default());
        feed(&mut w, 0, udp_frame(1000, 10));
        feed(&mut w, 1, udp_frame(1000, 10)); // two packets: not a singleton
                                              // 20 days later a new flow: the pass closes the old one at once (Tstat would loop for
                                              // every 500 µs of the gap).
        feed(&mut w, 20 * 86_400_000, udp_frame(1001, 10));
        assert_eq!(w.flow_counts(), (0, 1));
        assert_eq!(w.stats().udp_closed, 1);
        w.finish(Timestamp(1_000_000_000_000 + 20 * 86_400_000_000));
        assert_eq!(w.stats().udp_closed, 2);
    }

    #[test]
    fn singletons_time_out_after_ten_seconds() {
        let mut w = worker(EngineConfig::default());
        feed(&mut w, 0, tcp_frame(true, SYN, 1, 0, 0, 1));
        feed(&mut w, 9_000, udp_frame(7, 1));
        assert_eq!(w.flow_counts(), (1, 1), "9 s: not yet");
        feed(&mut w, 10_001, udp_frame(8, 1));
        assert_eq!(w.flow_counts(), (0, 2), "the SYN singleton went after 10 s");
        let recs = tcp_records(w);
        assert!(!recs[0].complete);
    }

    #[test]
    fn a_full_table_evicts_the_least_recent_flow_and_counts_it() {
        let mut w = worker(EngineConfig {
            max_tcp_flows: 2,
            ..EngineConfig::default()
        });
        for (i, port) in [1u32, 2, 3].iter().enumerate() {
            let mut f = tcp_frame(true, SYN, *port, 0, 0, 1);
            f[34..36].copy_from_slice(&(*port as u16).to_be_bytes()); // distinct client ports
            feed(&mut w, i as i64, f);
        }
        assert_eq!(w.flow_counts(), (2, 0));
        assert_eq!(w.stats().evicted, 1);
        let recs = tcp_records(w);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].c_port, 1, "the oldest flow is evicted");
    }

    #[test]
    fn external_flows_are_tracked_but_not_logged() {
        let mut nets = crate::net::NetSet::default();
        nets.add("172.16.0.0".parse().unwrap(), 12);
        let mut w = worker(EngineConfig {
            nets,
            ..EngineConfig::default()
        });
        feed(&mut w, 0, udp_frame(5, 5));
        w.finish(Timestamp(1_000_000_000_000));
        assert_eq!(w.stats().not_logged_external, 1);
        assert!(w.into_sink().is_empty());
    }

    #[test]
    fn periodic_rows_split_a_flow_into_bins_even_when_external() {
        let mut nets = crate::net::NetSet::default();
        nets.add("172.16.0.0".parse().unwrap(), 12);
        let mut w = worker(EngineConfig {
            nets,
            udp_periodic: true,
            ..EngineConfig::default()
        });
        feed(&mut w, 0, udp_frame(5, 10));
        feed(&mut w, 1_000, udp_frame(5, 20)); // exactly 1 s: same bin
        feed(&mut w, 1_001, udp_frame(5, 30)); // more than 1 s: ends the first bin
        w.finish(Timestamp(1_000_002_000_000));
        let rows: Vec<PeriodicRecord> = w
            .into_sink()
            .into_iter()
            .filter_map(|r| match r {
                FlowRecord::Periodic(p) => Some(p),
                _ => None,
            })
            .collect();
        assert_eq!(rows.len(), 2);
        assert!(!rows[0].tcp);
        assert_eq!(
            (rows[0].dirs[0].packets, rows[0].dirs[0].data_bytes),
            (2, 30)
        );
        assert_eq!(rows[0].bin_start, rows[0].first);
        assert_eq!(Timestamp::elapsed_ms(rows[0].first, rows[0].last), 1_000.0);
        assert_eq!(
            (rows[1].dirs[0].packets, rows[1].dirs[0].data_bytes),
            (1, 30)
        );
        assert_eq!(
            Timestamp::elapsed_ms(rows[1].first, rows[1].bin_start),
            1_001.0
        );
    }

    #[test]
    fn periodic_rows_are_off_by_default() {
        let mut w = worker(EngineConfig::default());
        feed(&mut w, 0, udp_frame(5, 10));
        feed(&mut w, 5_000, udp_frame(5, 10));
        w.finish(Timestamp(1_000_010_000_000));
        assert!(w
            .into_sink()
            .iter()
            .all(|r| !matches!(r, FlowRecord::Periodic(_))));
    }
}
