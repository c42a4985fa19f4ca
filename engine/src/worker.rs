//! The per-core worker: decode → flow lookup → TCP/UDP statistics → records. The same code
//! runs behind every packet source (trace files today, DPDK queues and libpcap later).
//!
//! A worker owns its flow table, its counters and the producer end of its record ring; it
//! shares nothing mutable with other workers. It never formats text, never logs per packet
//! and allocates nothing per packet once its pools are warm.

use crate::config::EngineConfig;
use crate::flow::{new_flow, Flow, FlowKey, FlowState, FlowTable};
use crate::record::{FlowRecord, TcpRecord, UdpRecord};
use crate::stats::CoreStats;
use crate::tcp::{SegPool, TcpFlow, Verdict, C2S, S2C};
use crate::time::Timestamp;
use crate::udp::UdpFlow;
use crate::wire::{self, LinkType, L4};
use std::sync::Arc;

/// Where a worker's finished records go.
#[allow(clippy::result_large_err)] // the rejected record is handed back by value, no allocation
pub trait RecordSink {
    /// Offers a record; returns false if it could not be taken (ring full).
    fn offer(&mut self, rec: FlowRecord) -> Result<(), FlowRecord>;
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
        }
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
    pub fn process(&mut self, ts: Timestamp, link: LinkType, frame: &[u8]) {
        self.stats.packets += 1;
        self.stats.bytes += frame.len() as u64;
        let pkt = match wire::decode(link, frame) {
            Ok(p) => p,
            Err(skip) => {
                self.stats.skipped[skip.index()] += 1;
                return;
            }
        };
        if self.cfg.ignore_ipv6 && pkt.src.is_ipv6() {
            self.stats.ipv6_ignored += 1;
            return;
        }
        let src_int = self.cfg.nets.is_internal(&pkt.src);
        let dst_int = self.cfg.nets.is_internal(&pkt.dst);
        match pkt.l4 {
            L4::Tcp(seg) => {
                self.stats.tcp_packets += 1;
                let (key, src_is_lo) =
                    FlowKey::new(pkt.src, seg.src_port, pkt.dst, seg.dst_port, 6);
                let id = match self.table.lookup(&key) {
                    Some(id) => id,
                    None => {
                        if !seg.flags.syn() || seg.flags.ack() {
                            self.stats.tcp_trash += 1;
                            return;
                        }
                        self.collect(ts);
                        if let Some(f) = self.table.evict_if_full(true, self.cfg.max_tcp_flows) {
                            self.stats.evicted += 1;
                            self.close(f, None);
                        }
                        self.stats.tcp_flows += 1;
                        let flow = new_flow(
                            key,
                            src_is_lo,
                            src_int,
                            dst_int,
                            FlowState::Tcp(TcpFlow::new(ts)),
                        );
                        self.table.insert(flow)
                    }
                };
                let flow = self.table.get_mut(id);
                let dir = if src_is_lo == flow.client_is_lo {
                    C2S
                } else {
                    S2C
                };
                let verdict = match &mut flow.state {
                    FlowState::Tcp(t) => t.on_segment(dir, &pkt, &seg, ts, &mut self.pool),
                    FlowState::Udp(_) => Verdict::Open,
                };
                match verdict {
                    Verdict::Open => self.table.touch(id),
                    Verdict::Close { complete } => {
                        let f = self.table.remove(id);
                        self.close(f, Some(complete));
                    }
                }
            }
            L4::Udp(dgram) => {
                if self.cfg.ignore_udp {
                    self.stats.udp_ignored += 1;
                    return;
                }
                self.stats.udp_packets += 1;
                let (key, src_is_lo) =
                    FlowKey::new(pkt.src, dgram.src_port, pkt.dst, dgram.dst_port, 17);
                let id = match self.table.lookup(&key) {
                    Some(id) => id,
                    None => {
                        self.collect(ts);
                        if let Some(f) = self.table.evict_if_full(false, self.cfg.max_udp_flows) {
                            self.stats.evicted += 1;
                            self.close(f, None);
                        }
                        self.stats.udp_flows += 1;
                        let flow = new_flow(
                            key,
                            src_is_lo,
                            src_int,
                            dst_int,
                            FlowState::Udp(UdpFlow::default()),
                        );
                        self.table.insert(flow)
                    }
                };
                let flow = self.table.get_mut(id);
                let dir = if src_is_lo == flow.client_is_lo {
                    C2S
                } else {
                    S2C
                };
                if let FlowState::Udp(u) = &mut flow.state {
                    u.on_datagram(dir, &dgram, ts);
                }
                self.table.touch(id);
            }
        }
    }

    /// Ends the trace at packet time `last` (the last packet of the whole trace, not only of
    /// this worker): flows already past a timeout close as timed out, every other TCP flow is
    /// written as not complete, every UDP flow as usual.
    pub fn finish(&mut self, last: Timestamp) {
        let cfg = Arc::clone(&self.cfg);
        let mut flows = Vec::new();
        self.table.drain(|f| flows.push(f));
        for f in flows {
            let complete = match &f.state {
                FlowState::Tcp(t) => {
                    let idle = Timestamp::elapsed_us(t.last_time(), last);
                    let timed_out = (t.is_singleton() && idle > cfg.tcp_singleton_us as f64)
                        || idle > cfg.tcp_idle_us as f64;
                    Some(timed_out && t.syn_both())
                }
                FlowState::Udp(_) => None,
            };
            self.close(f, complete);
        }
    }

    fn collect(&mut self, now: Timestamp) {
        let cfg = Arc::clone(&self.cfg);
        let mut expired: Vec<Flow> = Vec::new();
        self.table.maybe_collect(now, &cfg, |f| expired.push(f));
        for f in expired {
            self.close(f, None);
        }
    }

    /// Turns a removed flow into its record. `complete` is the TCP verdict; `None` means a
    /// timeout or eviction, where Tstat's rule "complete iff a SYN was seen both ways" applies.
    fn close(&mut self, mut flow: Flow, complete: Option<bool>) {
        let (c_ip, c_port) = flow.client();
        let (s_ip, s_port) = flow.server();
        let logged = flow.c_isint || flow.s_isint;
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
                };
                t.fill_record(&mut rec, complete);
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
                FlowRecord::Udp(UdpRecord {
                    c_ip,
                    c_port,
                    s_ip,
                    s_port,
                    c_isint: flow.c_isint,
                    s_isint: flow.s_isint,
                    dirs: u.dirs,
                })
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
