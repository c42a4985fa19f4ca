//! Per-worker counters: plain integers owned by one worker, read by the control plane only
//! through snapshots (never per-packet atomics). Every packet not analysed and every record
//! not delivered is counted here.

use crate::wire::Skip;

/// Counters of one worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreStats {
    /// Frames handed to the worker.
    pub packets: u64,
    /// Captured bytes of those frames.
    pub bytes: u64,
    /// Frames not analysed at layer 4, by reason (indexed by [`Skip::index`]).
    pub skipped: [u64; Skip::COUNT],
    /// TCP segments analysed.
    pub tcp_packets: u64,
    /// UDP datagrams analysed.
    pub udp_packets: u64,
    /// IPv6 packets ignored because of `-6`.
    pub ipv6_ignored: u64,
    /// UDP datagrams ignored because of `-u`.
    pub udp_ignored: u64,
    /// TCP segments matching no flow and not a pure SYN (Tstat's "trash").
    pub tcp_trash: u64,
    /// TCP flows created.
    pub tcp_flows: u64,
    /// UDP flows created.
    pub udp_flows: u64,
    /// TCP flows written to `log_tcp_complete`.
    pub tcp_complete: u64,
    /// TCP flows written to `log_tcp_nocomplete`.
    pub tcp_nocomplete: u64,
    /// UDP flows written to `log_udp_complete`.
    pub udp_closed: u64,
    /// Flows with neither endpoint internal: tracked, never logged (as Tstat).
    pub not_logged_external: u64,
    /// Flows evicted because the flow table was full (logged as if timed out).
    pub evicted: u64,
    /// Records dropped because the ring to the control plane was full.
    pub records_dropped: u64,
    /// Times the worker waited for room in the ring (offline mode only).
    pub ring_full_waits: u64,
}

impl CoreStats {
    /// Adds another worker's counters into this one.
    pub fn merge(&mut self, o: &CoreStats) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        for (a, b) in self.skipped.iter_mut().zip(o.skipped.iter()) {
            *a += b;
        }
        self.tcp_packets += o.tcp_packets;
        self.udp_packets += o.udp_packets;
        self.ipv6_ignored += o.ipv6_ignored;
        self.udp_ignored += o.udp_ignored;
        self.tcp_trash += o.tcp_trash;
        self.tcp_flows += o.tcp_flows;
        self.udp_flows += o.udp_flows;
        self.tcp_complete += o.tcp_complete;
        self.tcp_nocomplete += o.tcp_nocomplete;
        self.udp_closed += o.udp_closed;
        self.not_logged_external += o.not_logged_external;
        self.evicted += o.evicted;
        self.records_dropped += o.records_dropped;
        self.ring_full_waits += o.ring_full_waits;
    }

    /// Frames not analysed at layer 4, all reasons together.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.iter().sum()
    }
}
