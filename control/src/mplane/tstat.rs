//! Tstat's ten mPlane capabilities, as the historic Tstat proxy offered them (mplane.md §12;
//! fp7mplane/components `tstat/tstat.py` @ 52fee4e, 2015-10-22, which added `System_ID`), so
//! that existing clients, supervisors and repositories see exactly what they saw in 2015: the
//! same labels, registry, verb, temporal scopes, parameters and constraints, metadata, result
//! columns in the same order, and therefore the same tokens (§12.2).
//!
//! | label | `when` | parameters | what it drives here ([`TstatAction`]) |
//! |---|---|---|---|
//! | `tstat-log_tcp_complete-core` | `now ... future` | `System_ID` | `log_tcp_complete` |
//! | `tstat-log_tcp_complete-end_to_end` | `now ... future` | `System_ID` | + `tcplog_end_to_end` |
//! | `tstat-log_tcp_complete-tcp_options` | `now ... future` | `System_ID` | + `tcplog_options` |
//! | `tstat-log_tcp_complete-p2p_stats` | `now ... future` | `System_ID` | + `tcplog_p2p` |
//! | `tstat-log_tcp_complete-layer7` | `now ... future` | `System_ID` | + `tcplog_layer7` |
//! | `tstat-log_rrds` | `now ... future` | `System_ID` | `rrd_engine` |
//! | `tstat-exporter_rrd` | `past ... future` | `System_ID`, `repository.url` | RRD export (§11) |
//! | `tstat-log_http_complete` | `now ... future` | `System_ID` | `log_http_complete` |
//! | `tstat-exporter_streaming` | `now ... future` | `System_ID`, `repository.url`, `log.folder`, `log.type`, `log.time` | log streaming (§11) |
//! | `tstat-exporter_log` | `past ... future` | `System_ID`, `repository.url` | bulk log export (§11) |
//!
//! Every capability has verb `measure`, the Tstat registry, the metadata `System_type: tStat`,
//! `System_ID: tStat-Proxy-01`, `System_version: 0.1` (a constant, unlike the parameter), and a
//! single-value `System_ID` constraint (`01` by default) that RI clients fill in themselves.
//! The `log_*` capabilities are switches ("write this log group for the scope"), not data
//! queries (§12.2); the runtime.conf keys each one turns on and off are those of §12.3.
//!
//! The future dispatcher matches a specification to one of these with
//! [`super::matching::match_specification`] and acts on its [`TstatAction`], never on a label
//! (the 2015 proxy compared labels and so never switched anything when driven through the
//! supervisor, §12.3).

use super::matching::validate_capability;
use super::model::{Capability, VERB_MEASURE};
use super::registry::{Registries, TSTAT_REGISTRY_URI};
use super::token::capability_token;
use super::value::{Constraint, Prim};
use super::when::{format_time, When};
use chrono::NaiveDateTime;

/// The `System_ID` parameter of the 2015 proxy, one value per probe (§12.1).
pub const DEFAULT_SYSTEM_ID: &str = "01";
/// The metadata `System_ID` of the 2015 proxy: a hard-coded constant (§12.1).
pub const METADATA_SYSTEM_ID: &str = "tStat-Proxy-01";

/// A TCP column group of `log_tcp_complete`, as a `tstat-log_tcp_complete-*` capability
/// names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpColumnGroup {
    /// `-core`: the core columns (always written).
    Core,
    /// `-end_to_end`: RTT and TTL (`tcplog_end_to_end`).
    EndToEnd,
    /// `-tcp_options`: TCP options (`tcplog_options`).
    TcpOptions,
    /// `-p2p_stats`: P2P (`tcplog_p2p`).
    P2pStats,
    /// `-layer7`: layer 7 (`tcplog_layer7`).
    Layer7,
}

impl TcpColumnGroup {
    /// Its bit in [`crate::logs::TcpLevel`] (`None` for the core columns, always written).
    pub fn tcp_level_bit(self) -> Option<u8> {
        use crate::logs::TcpLevel;
        match self {
            TcpColumnGroup::Core => None,
            TcpColumnGroup::EndToEnd => Some(TcpLevel::END_TO_END),
            TcpColumnGroup::TcpOptions => Some(TcpLevel::OPTIONS),
            TcpColumnGroup::P2pStats => Some(TcpLevel::P2P),
            TcpColumnGroup::Layer7 => Some(TcpLevel::LAYER7),
        }
    }
}

/// What a Tstat capability makes the control plane do: the dispatcher's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TstatAction {
    /// Write `log_tcp_complete` with this column group for the scope.
    TcpLog(TcpColumnGroup),
    /// Write `log_http_complete` for the scope.
    HttpLog,
    /// Run the RRD engine (`-R`) for the scope.
    RrdEngine,
    /// Export the RRD averages every 300 s to `repository.url` over HTTPS (§11.1).
    RrdExporter,
    /// Stream the lines of log `log.type` to `repository.url` over TCP (§11.2).
    StreamingExporter,
    /// Bulk-export the logs to a DBStream repository at `repository.url` (§11.3).
    LogExporter,
}

const TCP_CORE: &[&str] = &[
    "source.ip4",
    "source.port",
    "packets.forward",
    "packets.forward.syn",
    "packets.forward.fin",
    "packets.forward.rst",
    "packets.forward.ack",
    "packets.forward.pure_ack",
    "packets.forward.with_payload",
    "packets.forward.rxmit",
    "packets.forward.outseq",
    "bytes.forward",
    "bytes.forward.unique",
    "bytes.forward.rxmit",
    "destination.ip4",
    "destination.port",
    "packets.backward",
    "packets.backward.syn",
    "packets.backward.fin",
    "packets.backward.rst",
    "packets.backward.ack",
    "packets.backward.pure_ack",
    "packets.backward.with_payload",
    "packets.backward.rxmit",
    "packets.backward.outseq",
    "bytes.backward",
    "bytes.backward.unique",
    "bytes.backward.rxmit",
    "start",
    "end",
    "duration.ms",
    "source.TTFP.ms",
    "destination.TTFP.ms",
    "source.TTLP.ms",
    "destination.TTLP.ms",
    "source.TTFA.ms",
    "destination.TTFA.ms",
    "source.ip4.isinternal",
    "destination.ip4.isinternal",
    "tstat.flow.class.conn",
    "tstat.flow.class.p2p",
    "tstat.flow.class.http",
];

const TCP_END_TO_END: &[&str] = &[
    "rtt.average.ms",
    "rtt.min.ms",
    "rtt.max.ms",
    "rtt.stddev",
    "rtt.samples",
    "ttl.min",
    "ttl.max",
];

const TCP_OPTIONS: &[&str] = &[
    "source.RFC1323.ws",
    "source.RFC1323.ts",
    "source.win_scale",
    "source.SACK_set",
    "source.SACK",
    "source.MSS.bytes",
    "source.segment.max.bytes",
    "source.segment.min.bytes",
    "source.window.max.bytes",
    "source.window.min.bytes",
    "source.window.zero",
    "source.cwin.max.bytes",
    "source.cwin.min.bytes",
    "source.cwin.first.bytes",
    "source.rxmit.RTO",
    "source.rxmit.RTO.unnecessary",
    "source.rxmit.FR",
    "source.rxmit.FR.unnecessary",
    "source.reordering",
    "source.net_dup",
    "source.unknown",
    "source.flow_control",
    "source.SYN.equal_seqno",
    "destination.RFC1323.ws",
    "destination.RFC1323.ts",
    "destination.win_scale",
    "destination.SACK_set",
    "destination.SACK",
    "destination.MSS.bytes",
    "destination.segment.max.bytes",
    "destination.segment.min.bytes",
    "destination.window.max.bytes",
    "destination.window.min.bytes",
    "destination.window.zero",
    "destination.cwin.max.bytes",
    "destination.cwin.min.bytes",
    "destination.cwin.first.bytes",
    "destination.rxmit.RTO",
    "destination.rxmit.RTO.unnecessary",
    "destination.rxmit.FR",
    "destination.rxmit.FR.unnecessary",
    "destination.reordering",
    "destination.net_dup",
    "destination.unknown",
    "destination.flow_control",
    "destination.SYN.equal_seqno",
];

const TCP_P2P: &[&str] = &[
    "p2p.subtype",
    "ed2k.data",
    "ed2k.signaling",
    "ed2k.i2r",
    "ed2k.r2i",
    "ed2k.chat",
];

const TCP_LAYER7: &[&str] = &[
    "source.psh_separated",
    "destination.psh_separated",
    "ssl.hello.client",
    "ssl.hello.server",
];

const HTTP: &[&str] = &[
    "source.ip4",
    "source.port",
    "destination.ip4",
    "destination.port",
    "time",
    "request.method",
    "request.hostname",
    "request.fqdn",
    "request.path",
    "request.referer",
    "request.user_agent",
    "response.http",
    "response.code",
    "response.content_len",
    "response.content_type",
    "response.content_range",
    "response.location",
];

const RRDS: &[&str] = &[
    "Ethernet.Related.metrics",
    "IP.Related.metrics",
    "TCP.Related.metrics",
    "UDP.Related.metrics",
    "MMedia.Related.metrics",
    "Classifier.Related.metrics",
    "P2P-TV.Related.metrics",
    "Video.Related.metrics",
    "Profile.Related.metrics",
];

/// `rrdMetirc` (sic): the typo is part of the schema (§5.4).
const RRD_EXPORT: &[&str] = &["rrdtimestamp", "rrdMetirc", "rrdValue"];

impl TstatAction {
    /// The ten, in the order the proxy registered them (`services()` of tstat.py).
    pub const ALL: [TstatAction; 10] = [
        TstatAction::TcpLog(TcpColumnGroup::Core),
        TstatAction::TcpLog(TcpColumnGroup::EndToEnd),
        TstatAction::TcpLog(TcpColumnGroup::TcpOptions),
        TstatAction::TcpLog(TcpColumnGroup::P2pStats),
        TstatAction::TcpLog(TcpColumnGroup::Layer7),
        TstatAction::RrdEngine,
        TstatAction::RrdExporter,
        TstatAction::HttpLog,
        TstatAction::StreamingExporter,
        TstatAction::LogExporter,
    ];

    /// The historic capability label.
    pub fn label(self) -> &'static str {
        match self {
            TstatAction::TcpLog(TcpColumnGroup::Core) => "tstat-log_tcp_complete-core",
            TstatAction::TcpLog(TcpColumnGroup::EndToEnd) => "tstat-log_tcp_complete-end_to_end",
            TstatAction::TcpLog(TcpColumnGroup::TcpOptions) => "tstat-log_tcp_complete-tcp_options",
            TstatAction::TcpLog(TcpColumnGroup::P2pStats) => "tstat-log_tcp_complete-p2p_stats",
            TstatAction::TcpLog(TcpColumnGroup::Layer7) => "tstat-log_tcp_complete-layer7",
            TstatAction::HttpLog => "tstat-log_http_complete",
            TstatAction::RrdEngine => "tstat-log_rrds",
            TstatAction::RrdExporter => "tstat-exporter_rrd",
            TstatAction::StreamingExporter => "tstat-exporter_streaming",
            TstatAction::LogExporter => "tstat-exporter_log",
        }
    }

    /// The action whose capability has exactly this label.
    pub fn from_label(label: &str) -> Option<TstatAction> {
        TstatAction::ALL.into_iter().find(|a| a.label() == label)
    }

    /// The capability's temporal scope: exporters accept any time (`past ... future`), the
    /// switches from now on (§12.2).
    pub fn when(self) -> &'static str {
        match self {
            TstatAction::RrdExporter | TstatAction::LogExporter => "past ... future",
            _ => "now ... future",
        }
    }

    /// Parameters besides `System_ID`, all unconstrained (`*`).
    pub fn parameters(self) -> &'static [&'static str] {
        match self {
            TstatAction::RrdExporter | TstatAction::LogExporter => &["repository.url"],
            TstatAction::StreamingExporter => {
                &["repository.url", "log.folder", "log.type", "log.time"]
            }
            _ => &[],
        }
    }

    /// The result columns, in order (§12.2).
    pub fn results(self) -> &'static [&'static str] {
        match self {
            TstatAction::TcpLog(TcpColumnGroup::Core) => TCP_CORE,
            TstatAction::TcpLog(TcpColumnGroup::EndToEnd) => TCP_END_TO_END,
            TstatAction::TcpLog(TcpColumnGroup::TcpOptions) => TCP_OPTIONS,
            TstatAction::TcpLog(TcpColumnGroup::P2pStats) => TCP_P2P,
            TstatAction::TcpLog(TcpColumnGroup::Layer7) => TCP_LAYER7,
            TstatAction::HttpLog => HTTP,
            TstatAction::RrdEngine => RRDS,
            TstatAction::RrdExporter => RRD_EXPORT,
            TstatAction::StreamingExporter | TstatAction::LogExporter => &[],
        }
    }

    /// The runtime.conf keys the proxy set to 1 when a specification started (§12.3).
    pub fn switches_on(self) -> &'static [&'static str] {
        match self {
            TstatAction::TcpLog(TcpColumnGroup::Core) => &["log_tcp_complete"],
            TstatAction::TcpLog(TcpColumnGroup::EndToEnd) => {
                &["log_tcp_complete", "tcplog_end_to_end"]
            }
            TstatAction::TcpLog(TcpColumnGroup::TcpOptions) => {
                &["log_tcp_complete", "tcplog_options"]
            }
            TstatAction::TcpLog(TcpColumnGroup::P2pStats) => &["log_tcp_complete", "tcplog_p2p"],
            TstatAction::TcpLog(TcpColumnGroup::Layer7) => &["log_tcp_complete", "tcplog_layer7"],
            TstatAction::HttpLog => &["log_http_complete"],
            TstatAction::RrdEngine => &["rrd_engine"],
            _ => &[],
        }
    }

    /// The runtime.conf keys the proxy set back to 0 when it ended (§12.3): never
    /// `log_tcp_complete`, the base log the column groups extend.
    pub fn switches_off(self) -> &'static [&'static str] {
        match self {
            TstatAction::TcpLog(TcpColumnGroup::Core) => &[],
            TstatAction::TcpLog(TcpColumnGroup::EndToEnd) => &["tcplog_end_to_end"],
            TstatAction::TcpLog(TcpColumnGroup::TcpOptions) => &["tcplog_options"],
            TstatAction::TcpLog(TcpColumnGroup::P2pStats) => &["tcplog_p2p"],
            TstatAction::TcpLog(TcpColumnGroup::Layer7) => &["tcplog_layer7"],
            TstatAction::HttpLog => &["log_http_complete"],
            TstatAction::RrdEngine => &["rrd_engine"],
            _ => &[],
        }
    }
}

/// Who the probe says it is in its capabilities (§12.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TstatIdentity {
    /// The only value of the `System_ID` parameter ([`DEFAULT_SYSTEM_ID`]).
    pub system_id: String,
    /// The metadata `System_ID` ([`METADATA_SYSTEM_ID`]).
    pub metadata_system_id: String,
    /// The metadata `System_type` (`tStat`).
    pub system_type: String,
    /// The metadata `System_version` (`0.1`).
    pub system_version: String,
}

impl Default for TstatIdentity {
    /// The 2015 proxy's identity, with which the tokens are those of §12.2.
    fn default() -> Self {
        TstatIdentity {
            system_id: DEFAULT_SYSTEM_ID.into(),
            metadata_system_id: METADATA_SYSTEM_ID.into(),
            system_type: "tStat".into(),
            system_version: "0.1".into(),
        }
    }
}

/// An identity that cannot be advertised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// A `System_ID` that would read back as another constraint (empty, `*`, a `,`, ` ... `).
    #[error("System_ID {0:?} cannot be a single-value constraint (empty, \"*\", or containing \",\" or \" ... \")")]
    SystemId(String),
}

/// One of Tstat's capabilities with what it drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TstatCapability {
    /// What it makes the control plane do.
    pub action: TstatAction,
    /// The capability message, with its token.
    pub capability: Capability,
}

impl AsRef<Capability> for TstatCapability {
    fn as_ref(&self) -> &Capability {
        &self.capability
    }
}

impl TstatCapability {
    /// The one row of placeholder values the 2015 proxy returned in every result, by column
    /// type (§12.3): natural 0, real 0.0, string `hello`, boolean True, time the start,
    /// address 192.168.0.1, url www.google.com. Empty for capabilities without columns.
    pub fn placeholder_row(&self, start: NaiveDateTime, registries: &Registries) -> Vec<String> {
        self.capability
            .results
            .iter()
            .map(|name| {
                match registries.prim(&self.capability.registry, name) {
                    Ok(Prim::Natural) => "0",
                    Ok(Prim::Real) => "0.0",
                    Ok(Prim::Boolean) => "True",
                    Ok(Prim::Address) => "192.168.0.1",
                    Ok(Prim::Url) => "www.google.com",
                    Ok(Prim::Time) => return format_time(&start),
                    Ok(Prim::String) | Err(_) => "hello",
                }
                .to_string()
            })
            .collect()
    }
}

/// The ten capabilities for this identity, in the proxy's order, each with its token (the
/// RI's, §6: with the default identity those of §12.2).
pub fn capabilities(identity: &TstatIdentity) -> Result<Vec<TstatCapability>, IdentityError> {
    let system_id = Constraint::single(&identity.system_id)
        .filter(|_| !identity.system_id.is_empty())
        .ok_or_else(|| IdentityError::SystemId(identity.system_id.clone()))?;
    let registries = Registries::builtin();
    Ok(TstatAction::ALL
        .into_iter()
        .map(|action| {
            let when: When = action
                .when()
                .parse()
                .expect("the capability scopes are valid");
            let mut cap = Capability::new(VERB_MEASURE, TSTAT_REGISTRY_URI, when);
            cap.label = Some(action.label().to_string());
            cap.parameters.insert("System_ID".into(), system_id.clone());
            for p in action.parameters() {
                cap.parameters.insert(p.to_string(), Constraint::Any);
            }
            for (k, v) in [
                ("System_type", &identity.system_type),
                ("System_ID", &identity.metadata_system_id),
                ("System_version", &identity.system_version),
            ] {
                cap.metadata.insert(k.to_string(), v.clone());
            }
            cap.results = action.results().iter().map(|s| s.to_string()).collect();
            // Every element is in the embedded Tstat registry and every value is a string,
            // which any text fits: neither can fail (checked by the tests).
            validate_capability(&cap, &registries)
                .expect("the Tstat capabilities use only elements of the embedded registry");
            cap.token = Some(
                capability_token(&cap, &registries)
                    .expect("the Tstat capabilities use only elements of the embedded registry"),
            );
            TstatCapability {
                action,
                capability: cap,
            }
        })
        .collect())
}
