//! The engine's slice of the configuration: validated values only (the raw files are parsed
//! and checked in `control`). Times are microseconds of packet time.

use crate::net::NetSet;

/// What a worker needs to know; shared read-only between workers.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Internal networks (`-N`).
    pub nets: NetSet,
    /// Ignore UDP entirely (`-u`).
    pub ignore_udp: bool,
    /// Ignore IPv6 at layer 4 (`-6`).
    pub ignore_ipv6: bool,
    /// TCP idle timeout (`TCP_Idle_Time`, default 300 s), µs.
    pub tcp_idle_us: i64,
    /// TCP singleton timeout (`TCP_Singleton_Time`, default 10 s), µs.
    pub tcp_singleton_us: i64,
    /// UDP idle timeout (`UDP_Idle_Time`, default 200 s), µs.
    pub udp_idle_us: i64,
    /// UDP singleton timeout (`UDP_Singleton_Time`, default 10 s), µs.
    pub udp_singleton_us: i64,
    /// Minimum packet time between two garbage-collector passes (`GC_Fire_Time`, 500 µs).
    pub gc_fire_us: i64,
    /// Most TCP flows one worker tracks at once; beyond it the least recently active flow is
    /// evicted (logged and counted). Bounds memory under SYN floods.
    pub max_tcp_flows: usize,
    /// Most UDP flows one worker tracks at once (same eviction policy).
    pub max_udp_flows: usize,
    /// `log_http_complete` is on: HTTP request/response segments are handed to the control plane.
    pub http_log: bool,
    /// `log_dns_complete` is on: DNS messages are handed to the control plane (and, as in Tstat,
    /// any UDP direction that carries DNS is typed as DNS).
    pub dns_log: bool,
    /// `log_tcp_periodic` is on: TCP flows keep per-bin counters and emit a row every
    /// [`PERIODIC_INTERVAL_US`] of activity and at their end.
    pub tcp_periodic: bool,
    /// `log_udp_periodic` is on (as `tcp_periodic`, for UDP flows).
    pub udp_periodic: bool,
    /// `log_video_complete` is on with its Advanced group (`videolog_advanced`): TCP flows
    /// sample their bit rate in 1 s windows and keep the server's first message sizes.
    pub video_rates: bool,
    /// DN-Hunter late look-ups: a flow created without a name looks it up again on up to this
    /// many of its next packets, accepting only a response seen before the flow began. Live
    /// capture on several cores needs it (a DNS response and the flow it names may sit on
    /// two cores, and the entry may cross between them after the flow's first packet); 0
    /// (offline, one cache order) looks up once, as Tstat does.
    pub dns_late_packets: u8,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            nets: NetSet::all_internal(),
            ignore_udp: false,
            ignore_ipv6: false,
            tcp_idle_us: 300_000_000,
            tcp_singleton_us: 10_000_000,
            udp_idle_us: 200_000_000,
            udp_singleton_us: 10_000_000,
            gc_fire_us: 500,
            max_tcp_flows: 1 << 20,
            max_udp_flows: 1 << 20,
            http_log: false,
            dns_log: false,
            tcp_periodic: false,
            udp_periodic: false,
            video_rates: false,
            dns_late_packets: 0,
        }
    }
}

/// Tstat's `Log_Periodic_Interval` (1 s): a flow's periodic row is written when one of its
/// packets arrives more than this long after the start of the current bin.
pub const PERIODIC_INTERVAL_US: f64 = 1_000_000.0;

/// The record kinds runtime switches turn on and off while capturing (`log_http_complete`,
/// `log_dns_complete`, the periodic logs, the Advanced video group): bits of one word the
/// control plane publishes and each core applies between polls.
pub mod switch {
    /// `http_log`.
    pub const HTTP_LOG: u32 = 1;
    /// `dns_log`.
    pub const DNS_LOG: u32 = 2;
    /// `tcp_periodic`.
    pub const TCP_PERIODIC: u32 = 4;
    /// `udp_periodic`.
    pub const UDP_PERIODIC: u32 = 8;
    /// `video_rates`.
    pub const VIDEO_RATES: u32 = 16;
}

impl EngineConfig {
    /// The runtime-switchable settings as [`switch`] bits.
    pub fn switch_bits(&self) -> u32 {
        let mut b = 0;
        for (on, bit) in [
            (self.http_log, switch::HTTP_LOG),
            (self.dns_log, switch::DNS_LOG),
            (self.tcp_periodic, switch::TCP_PERIODIC),
            (self.udp_periodic, switch::UDP_PERIODIC),
            (self.video_rates, switch::VIDEO_RATES),
        ] {
            if on {
                b |= bit;
            }
        }
        b
    }

    /// This configuration with the runtime-switchable settings taken from `bits`.
    pub fn with_switch_bits(&self, bits: u32) -> EngineConfig {
        EngineConfig {
            http_log: bits & switch::HTTP_LOG != 0,
            dns_log: bits & switch::DNS_LOG != 0,
            tcp_periodic: bits & switch::TCP_PERIODIC != 0,
            udp_periodic: bits & switch::UDP_PERIODIC != 0,
            video_rates: bits & switch::VIDEO_RATES != 0,
            ..self.clone()
        }
    }
}
