//! The Prometheus endpoint of the control plane: `GET /metrics` in the text exposition format.
//!
//! This module owns three things:
//! - the plain-data [`MetricsSnapshot`] a scrape renders (per-core counters, NIC port counters,
//!   traffic by direction and layer-7 class, records written, uptime), with constructors from the
//!   engine's [`CoreStats`] and [`CoreSnapshot`];
//! - [`render`], which turns one snapshot into exposition text through a registry built afresh
//!   for that scrape, so what is served is exactly the snapshot (no state survives a scrape);
//! - [`MetricsServer`], a hyper 1 server on a current-thread tokio runtime of its own thread, so
//!   the caller's threads stay synchronous; and [`TrafficAccumulator`], which the writer thread
//!   feeds with every flow record to produce [`TrafficMetrics`].
//!
//! It deliberately does not collect anything by itself: where the numbers come from (core
//! snapshots, port statistics, the writer's counters) is the caller's [`MetricsSource`]. Nothing
//! here touches the packet path: a scrape reads snapshots the cores already publish.
//!
//! Metric names follow `tstat_<subsystem>_<what>_total` for counters (monotonic totals since the
//! start) and carry the unit in the name for gauges; every metric has a HELP line (see
//! [`render`]).

mod render;
mod server;
mod traffic;

pub use render::{render, CONTENT_TYPE};
pub use server::MetricsServer;
pub use traffic::{TrafficAccumulator, TrafficState, TCP_CLASSES, UDP_CLASSES};

use engine::record::FlowRecord;
use engine::rx::CoreSnapshot;
use engine::stats::CoreStats;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// Where the endpoint listens unless configured otherwise: loopback only, port 9464 (the port
/// registered for Prometheus exporters of this kind).
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9464));

/// Bytes one record-ring slot occupies: rings hold [`FlowRecord`]s by value, so a ring of `n`
/// slots holds `n * RECORD_SLOT_BYTES` bytes.
pub const RECORD_SLOT_BYTES: u64 = std::mem::size_of::<FlowRecord>() as u64;

/// What a scrape asks for: called once per `GET /metrics`, on the endpoint's thread.
///
/// Implementations should be quick and never block for long (take a lock briefly, copy, let
/// go): a scrape waits for it. Any `Fn() -> MetricsSnapshot` closure is a source.
pub trait MetricsSource: Send + Sync + 'static {
    /// The current values.
    fn snapshot(&self) -> MetricsSnapshot;
}

impl<F> MetricsSource for F
where
    F: Fn() -> MetricsSnapshot + Send + Sync + 'static,
{
    fn snapshot(&self) -> MetricsSnapshot {
        self()
    }
}

/// Everything one scrape exposes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// One entry per capture core (or analysis worker).
    pub cores: Vec<CoreMetrics>,
    /// One entry per NIC port (empty without a NIC: `analyze`, the pcap driver).
    pub ports: Vec<PortMetrics>,
    /// Closed flows' bytes by direction and flows by layer-7 class.
    pub traffic: TrafficMetrics,
    /// Records the writer turned into log rows.
    pub records_written: u64,
    /// Seconds since the appliance started.
    pub uptime_s: f64,
    /// The mPlane component, when one runs.
    pub mplane: Option<MplaneMetrics>,
}

/// What the mPlane component did (totals) and holds (gauges).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MplaneMetrics {
    /// The exchanges with the supervisor (totals).
    pub link: crate::mplane::component::LinkStats,
    /// Jobs running now.
    pub jobs_running: u64,
    /// Runtime switches held by jobs now (a switch held by two jobs counts once).
    pub switches_held: u64,
}

/// Counters and gauges of one core. Counters are totals since the start; the `flows_open_*`
/// and `ring_*` fields are gauges (values now).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreMetrics {
    /// Core index (RX queue `core` of every port): the `core` label.
    pub core: usize,
    /// Frames handed to the core's worker.
    pub packets: u64,
    /// Captured bytes of those frames.
    pub bytes: u64,
    /// TCP flows opened.
    pub tcp_flows: u64,
    /// UDP flows opened.
    pub udp_flows: u64,
    /// TCP flows closed into `log_tcp_complete`.
    pub tcp_complete: u64,
    /// TCP flows closed into `log_tcp_nocomplete`.
    pub tcp_nocomplete: u64,
    /// UDP flows closed into `log_udp_complete`.
    pub udp_closed: u64,
    /// Frames not analysed at layer 4 (truncated, malformed, fragments, not IP, ...), all
    /// reasons together.
    pub malformed: u64,
    /// TCP segments matching no flow and not opening one (Tstat's "trash").
    pub tcp_trash: u64,
    /// Flows evicted because the flow table was full.
    pub evicted: u64,
    /// Records dropped because the record ring to the writer was full.
    pub records_dropped: u64,
    /// DN-Hunter entries dropped because another core's DNS ring was full.
    pub dns_dropped: u64,
    /// Frames the NIC's spreading sent to this core although the symmetric hash names
    /// another (always 0 with a symmetric RSS key and the default redirection table).
    pub foreign: u64,
    /// Frames this core received and handed to the core their flow hashes to (software
    /// spreading of a port without RSS).
    pub forwarded: u64,
    /// Frames this core dropped because the hand-off ring to their core was full.
    pub handoff_dropped: u64,
    /// Bytes held in the core's record ring now.
    pub ring_used_bytes: u64,
    /// Bytes the core's record ring can hold.
    pub ring_capacity_bytes: u64,
    /// TCP flows open now.
    pub flows_open_tcp: u64,
    /// UDP flows open now.
    pub flows_open_udp: u64,
}

impl CoreMetrics {
    /// The counters of a worker's [`CoreStats`]; the gauges and the live-only counters
    /// (`dns_dropped`, `foreign`, `forwarded`, `handoff_dropped`) stay 0.
    pub fn from_stats(core: usize, s: &CoreStats) -> CoreMetrics {
        CoreMetrics {
            core,
            packets: s.packets,
            bytes: s.bytes,
            tcp_flows: s.tcp_flows,
            udp_flows: s.udp_flows,
            tcp_complete: s.tcp_complete,
            tcp_nocomplete: s.tcp_nocomplete,
            udp_closed: s.udp_closed,
            malformed: s.skipped_total(),
            tcp_trash: s.tcp_trash,
            evicted: s.evicted,
            records_dropped: s.records_dropped,
            ..CoreMetrics::default()
        }
    }

    /// Everything a capture core publishes: its [`CoreSnapshot`] plus its record ring's fill
    /// level, both counted in records (slots) and exposed in bytes ([`RECORD_SLOT_BYTES`]).
    pub fn from_snapshot(
        core: usize,
        s: &CoreSnapshot,
        ring_used_records: u64,
        ring_capacity_records: u64,
    ) -> CoreMetrics {
        CoreMetrics {
            dns_dropped: s.dns_dropped,
            foreign: s.foreign,
            forwarded: s.forwarded,
            handoff_dropped: s.handoff_dropped,
            ring_used_bytes: ring_used_records.saturating_mul(RECORD_SLOT_BYTES),
            ring_capacity_bytes: ring_capacity_records.saturating_mul(RECORD_SLOT_BYTES),
            flows_open_tcp: s.tcp_open,
            flows_open_udp: s.udp_open,
            ..CoreMetrics::from_stats(core, &s.stats)
        }
    }
}

/// Counters of one NIC port (`rte_eth_stats`), totals since the port started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortMetrics {
    /// Port name (PCI address or vdev name): the `port` label.
    pub name: String,
    /// Packets received.
    pub ipackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Packets the NIC dropped because the RX queues were full.
    pub imissed: u64,
    /// Erroneous packets received.
    pub ierrors: u64,
    /// RX mbuf allocation failures (the mempool ran dry).
    pub rx_nombuf: u64,
    /// The driver's extended statistics, name and value (DPDK ports; empty otherwise).
    pub xstats: Vec<(String, u64)>,
}

#[cfg(feature = "dpdk")]
impl PortMetrics {
    /// A port's counters as the DPDK driver reads them.
    pub fn from_stats(name: &str, s: &engine::dpdk::PortStats) -> PortMetrics {
        PortMetrics {
            name: name.to_string(),
            ipackets: s.ipackets,
            ibytes: s.ibytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            rx_nombuf: s.rx_nombuf,
            xstats: Vec::new(),
        }
    }
}

/// Traffic of the flows closed so far, as [`TrafficAccumulator`] counts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficMetrics {
    /// Payload bytes sent by an external host to an internal one.
    pub bytes_in: u64,
    /// Payload bytes sent by an internal host to an external one.
    pub bytes_out: u64,
    /// Payload bytes between two internal hosts.
    pub bytes_local: u64,
    /// Flows closed per layer-7 class, keyed by (layer-4 protocol `"tcp"`/`"udp"`, class name
    /// from [`TCP_CLASSES`] / [`UDP_CLASSES`]).
    pub l7_flows: BTreeMap<(String, String), u64>,
}
