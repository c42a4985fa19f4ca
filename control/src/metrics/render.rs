//! [`render`]: one [`MetricsSnapshot`] as Prometheus text exposition.
//!
//! A registry is built for each scrape and dropped after it, so the text holds exactly the
//! snapshot's values and nothing outlives a scrape (no reset to forget, no stale label set when
//! a port disappears). A few hundred series cost microseconds; scrapes come every few seconds.

use super::MetricsSnapshot;
use prometheus::{
    Gauge, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The `Content-Type` of the exposition text (format 0.0.4).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders a snapshot. Metrics, with their labels:
///
/// | metric | type | labels |
/// |---|---|---|
/// | `tstat_packets_total` | counter | `core` |
/// | `tstat_bytes_total` | counter | `core` |
/// | `tstat_flows_opened_total` | counter | `core`, `proto` = `tcp`/`udp` |
/// | `tstat_flows_closed_total` | counter | `core`, `kind` = `tcp_complete`/`tcp_nocomplete`/`udp` |
/// | `tstat_drops_total` | counter | `core`, `cause` = `malformed`/`tcp_trash`/`flow_table_full`/`record_ring_full`/`dnshunter_ring_full`/`handoff_ring_full` |
/// | `tstat_foreign_packets_total` | counter | `core` |
/// | `tstat_handed_off_packets_total` | counter | `core` |
/// | `tstat_flows_open` | gauge | `core`, `proto` |
/// | `tstat_record_ring_used_bytes` | gauge | `core` |
/// | `tstat_record_ring_capacity_bytes` | gauge | `core` |
/// | `tstat_port_packets_total` | counter | `port` |
/// | `tstat_port_bytes_total` | counter | `port` |
/// | `tstat_port_drops_total` | counter | `port`, `cause` = `imissed`/`ierrors`/`rx_nombuf` |
/// | `tstat_port_xstat` | gauge | `port`, `name` (the driver's extended statistics, DPDK ports) |
/// | `tstat_traffic_bytes_total` | counter | `direction` = `in`/`out`/`local` |
/// | `tstat_l7_flows_total` | counter | `proto`, `class` |
/// | `tstat_records_written_total` | counter | |
/// | `tstat_uptime_seconds` | gauge | |
/// | `tstat_build_info` | gauge (1) | `version` |
/// | `tstat_mplane_exchanges_total` | counter | `kind` (with an mPlane component) |
/// | `tstat_mplane_jobs`, `tstat_mplane_switches_held` | gauge | (with an mPlane component) |
pub fn render(s: &MetricsSnapshot) -> prometheus::Result<String> {
    let r = Registry::new();
    let core = &["core"];

    let packets = counter_vec(
        &r,
        "tstat_packets_total",
        "Frames handed to the core's worker.",
        core,
    )?;
    let bytes = counter_vec(
        &r,
        "tstat_bytes_total",
        "Captured bytes of the frames handed to the core's worker.",
        core,
    )?;
    let opened = counter_vec(
        &r,
        "tstat_flows_opened_total",
        "Flows created in the core's flow table, by layer-4 protocol.",
        &["core", "proto"],
    )?;
    let closed = counter_vec(
        &r,
        "tstat_flows_closed_total",
        concat!(
            "Flows closed and handed to the writer, by log: tcp_complete (log_tcp_complete), ",
            "tcp_nocomplete (log_tcp_nocomplete), udp (log_udp_complete)."
        ),
        &["core", "kind"],
    )?;
    let drops = counter_vec(
        &r,
        "tstat_drops_total",
        concat!(
            "What the core did not analyse or deliver, by cause: ",
            "malformed (frames not analysed at layer 4: truncated, malformed, fragments, not IP), ",
            "tcp_trash (TCP segments of no flow that open none), ",
            "flow_table_full (flows evicted from a full flow table), ",
            "record_ring_full (records dropped on a full ring to the writer), ",
            "dnshunter_ring_full (DN-Hunter entries dropped on another core's full ring), ",
            "handoff_ring_full (frames dropped on a full ring to the core their flow hashes to)."
        ),
        &["core", "cause"],
    )?;
    let foreign = counter_vec(
        &r,
        "tstat_foreign_packets_total",
        concat!(
            "Frames the NIC sent to this core although the symmetric flow hash names another ",
            "(0 unless the NIC's spreading differs from the symmetric hash)."
        ),
        core,
    )?;
    let forwarded = counter_vec(
        &r,
        "tstat_handed_off_packets_total",
        concat!(
            "Frames this core received from a port it spreads in software (no RSS) and handed ",
            "to the core their symmetric flow hash names."
        ),
        core,
    )?;
    let open = gauge_vec(
        &r,
        "tstat_flows_open",
        "Flows open in the core's flow table now, by layer-4 protocol.",
        &["core", "proto"],
    )?;
    let ring_used = gauge_vec(
        &r,
        "tstat_record_ring_used_bytes",
        "Bytes held in the core's record ring to the writer now.",
        core,
    )?;
    let ring_cap = gauge_vec(
        &r,
        "tstat_record_ring_capacity_bytes",
        "Bytes the core's record ring to the writer can hold.",
        core,
    )?;

    for c in &s.cores {
        let id = c.core.to_string();
        let id = id.as_str();
        packets
            .get_metric_with_label_values(&[id])?
            .inc_by(c.packets);
        bytes.get_metric_with_label_values(&[id])?.inc_by(c.bytes);
        for (proto, n) in [("tcp", c.tcp_flows), ("udp", c.udp_flows)] {
            opened.get_metric_with_label_values(&[id, proto])?.inc_by(n);
        }
        for (kind, n) in [
            ("tcp_complete", c.tcp_complete),
            ("tcp_nocomplete", c.tcp_nocomplete),
            ("udp", c.udp_closed),
        ] {
            closed.get_metric_with_label_values(&[id, kind])?.inc_by(n);
        }
        for (cause, n) in [
            ("malformed", c.malformed),
            ("tcp_trash", c.tcp_trash),
            ("flow_table_full", c.evicted),
            ("record_ring_full", c.records_dropped),
            ("dnshunter_ring_full", c.dns_dropped),
            ("handoff_ring_full", c.handoff_dropped),
        ] {
            drops.get_metric_with_label_values(&[id, cause])?.inc_by(n);
        }
        foreign
            .get_metric_with_label_values(&[id])?
            .inc_by(c.foreign);
        forwarded
            .get_metric_with_label_values(&[id])?
            .inc_by(c.forwarded);
        for (proto, n) in [("tcp", c.flows_open_tcp), ("udp", c.flows_open_udp)] {
            open.get_metric_with_label_values(&[id, proto])?
                .set(gauge_value(n));
        }
        ring_used
            .get_metric_with_label_values(&[id])?
            .set(gauge_value(c.ring_used_bytes));
        ring_cap
            .get_metric_with_label_values(&[id])?
            .set(gauge_value(c.ring_capacity_bytes));
    }

    let port = &["port"];
    let port_packets = counter_vec(
        &r,
        "tstat_port_packets_total",
        "Packets the NIC port received (ipackets).",
        port,
    )?;
    let port_bytes = counter_vec(
        &r,
        "tstat_port_bytes_total",
        "Bytes the NIC port received (ibytes).",
        port,
    )?;
    let port_drops = counter_vec(
        &r,
        "tstat_port_drops_total",
        concat!(
            "Packets the NIC port lost, by cause: imissed (RX queues full), ",
            "ierrors (erroneous packets), rx_nombuf (no mbuf to receive into)."
        ),
        &["port", "cause"],
    )?;
    let port_xstat = gauge_vec(
        &r,
        "tstat_port_xstat",
        concat!(
            "The NIC port's extended statistics (rte_eth_xstats) under its driver's names: ",
            "per-queue counts and the device's own drop causes. Most only grow."
        ),
        &["port", "name"],
    )?;
    for p in &s.ports {
        let name = p.name.as_str();
        for (x, v) in &p.xstats {
            port_xstat
                .get_metric_with_label_values(&[name, x])?
                .set(gauge_value(*v));
        }
        port_packets
            .get_metric_with_label_values(&[name])?
            .inc_by(p.ipackets);
        port_bytes
            .get_metric_with_label_values(&[name])?
            .inc_by(p.ibytes);
        for (cause, n) in [
            ("imissed", p.imissed),
            ("ierrors", p.ierrors),
            ("rx_nombuf", p.rx_nombuf),
        ] {
            port_drops
                .get_metric_with_label_values(&[name, cause])?
                .inc_by(n);
        }
    }

    let t = &s.traffic;
    let traffic = counter_vec(
        &r,
        "tstat_traffic_bytes_total",
        concat!(
            "Payload bytes of closed flows by direction relative to the internal networks: ",
            "in (external sender, internal receiver), out (internal sender, external receiver), ",
            "local (both internal)."
        ),
        &["direction"],
    )?;
    for (dir, n) in [
        ("in", t.bytes_in),
        ("out", t.bytes_out),
        ("local", t.bytes_local),
    ] {
        traffic.get_metric_with_label_values(&[dir])?.inc_by(n);
    }
    let l7 = counter_vec(
        &r,
        "tstat_l7_flows_total",
        concat!(
            "Closed flows by layer-7 class: TCP by con_t (lowest bit), ",
            "UDP by Tstat's UDP type (client's, else server's)."
        ),
        &["proto", "class"],
    )?;
    for ((proto, class), n) in &t.l7_flows {
        l7.get_metric_with_label_values(&[proto.as_str(), class.as_str()])?
            .inc_by(*n);
    }

    let written = IntCounter::new(
        "tstat_records_written_total",
        "Flow records the writer turned into log rows.",
    )?;
    written.inc_by(s.records_written);
    r.register(Box::new(written))?;
    let uptime = Gauge::new("tstat_uptime_seconds", "Seconds since tstat-dpdk started.")?;
    uptime.set(s.uptime_s);
    r.register(Box::new(uptime))?;
    let info = IntGaugeVec::new(
        Opts::new(
            "tstat_build_info",
            "Always 1; the version of tstat-dpdk in a label.",
        ),
        &["version"],
    )?;
    info.get_metric_with_label_values(&[env!("CARGO_PKG_VERSION")])?
        .set(1);
    r.register(Box::new(info))?;

    if let Some(m) = &s.mplane {
        let ex = counter_vec(
            &r,
            "tstat_mplane_exchanges_total",
            concat!(
                "The mPlane component's exchanges with its supervisor, by kind: registration, ",
                "poll, specification, interrupt, delivered (receipts, results, exceptions), ",
                "failure."
            ),
            &["kind"],
        )?;
        let l = &m.link;
        for (k, v) in [
            ("registration", l.registrations),
            ("poll", l.polls),
            ("specification", l.specifications),
            ("interrupt", l.interrupts),
            ("delivered", l.delivered),
            ("failure", l.failures),
        ] {
            ex.get_metric_with_label_values(&[k])?.inc_by(v);
        }
        let jobs = IntGauge::new("tstat_mplane_jobs", "mPlane jobs running now.")?;
        jobs.set(gauge_value(m.jobs_running));
        r.register(Box::new(jobs))?;
        let held = IntGauge::new(
            "tstat_mplane_switches_held",
            "Runtime switches mPlane jobs hold on now.",
        )?;
        held.set(gauge_value(m.switches_held));
        r.register(Box::new(held))?;
    }

    TextEncoder::new().encode_to_string(&r.gather())
}

fn counter_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let v = IntCounterVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(v.clone()))?;
    Ok(v)
}

fn gauge_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntGaugeVec> {
    let v = IntGaugeVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(v.clone()))?;
    Ok(v)
}

/// Integer gauges are `i64`; counts beyond it (never reached) saturate.
fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{CoreMetrics, PortMetrics, TrafficMetrics};
    use std::collections::BTreeMap;

    /// One sample of the exposition text.
    #[derive(Debug)]
    struct Sample {
        name: String,
        labels: BTreeMap<String, String>,
        value: f64,
    }

    /// Parses the text format (the subset the encoder writes): `name{k="v",...} value` lines,
    /// with `\\`, `\"` and `\n` escapes in label values; `# HELP`/`# TYPE` lines are collected.
    fn parse(text: &str) -> (Vec<Sample>, BTreeMap<String, (String, String)>) {
        let mut samples = Vec::new();
        let mut meta: BTreeMap<String, (String, String)> = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap();
                meta.entry(name.into()).or_default().0 = help.into();
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, ty) = rest.split_once(' ').unwrap();
                meta.entry(name.into()).or_default().1 = ty.into();
                continue;
            }
            assert!(
                !line.starts_with('#') && !line.is_empty(),
                "unexpected line {line:?}"
            );
            let (name, rest) = match line.find('{') {
                Some(i) => (&line[..i], &line[i + 1..]),
                None => line.split_once(' ').unwrap(),
            };
            let mut labels = BTreeMap::new();
            let mut rest = rest;
            if line.contains('{') {
                loop {
                    if let Some(r) = rest.strip_prefix('}') {
                        rest = r.trim_start();
                        break;
                    }
                    let (k, r) = rest.split_once("=\"").unwrap();
                    let mut v = String::new();
                    let mut chars = r.char_indices();
                    let end = loop {
                        let (i, c) = chars.next().unwrap();
                        match c {
                            '\\' => match chars.next().unwrap().1 {
                                'n' => v.push('\n'),
                                e => v.push(e),
                            },
                            '"' => break i,
                            c => v.push(c),
                        }
                    };
                    labels.insert(k.to_string(), v);
                    rest = r[end + 1..].strip_prefix(',').unwrap_or(&r[end + 1..]);
                }
            }
            samples.push(Sample {
                name: name.to_string(),
                labels,
                value: rest.trim().parse().unwrap(),
            });
        }
        (samples, meta)
    }

    fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut hits = samples
            .iter()
            .filter(|s| s.name == name && s.labels == want);
        let hit = hits.next().map(|s| s.value);
        assert!(hits.next().is_none(), "{name} {labels:?} twice");
        hit
    }

    fn snapshot() -> MetricsSnapshot {
        let core = |core, k: u64| CoreMetrics {
            core,
            packets: 1000 * k,
            bytes: 64_000 * k,
            tcp_flows: 10 * k,
            udp_flows: 20 * k,
            tcp_complete: 7 * k,
            tcp_nocomplete: 2 * k,
            udp_closed: 19 * k,
            malformed: 3 * k,
            tcp_trash: 4 * k,
            evicted: 5 * k,
            records_dropped: 6 * k,
            dns_dropped: 8 * k,
            foreign: 0,
            forwarded: 30 * k,
            handoff_dropped: 9 * k,
            ring_used_bytes: 1700 * k,
            ring_capacity_bytes: 1 << 24,
            flows_open_tcp: k,
            flows_open_udp: 1 + k,
        };
        let mut l7_flows = BTreeMap::new();
        l7_flows.insert(("tcp".to_string(), "http".to_string()), 11);
        l7_flows.insert(("udp".to_string(), "quic".to_string()), 12);
        MetricsSnapshot {
            cores: vec![core(0, 1), core(1, 2)],
            ports: vec![PortMetrics {
                name: "0000:3b:00.0".into(),
                ipackets: 3005,
                ibytes: 192_000,
                imissed: 5,
                ierrors: 1,
                rx_nombuf: 2,
                xstats: vec![("rx_q0_packets".into(), 3005), ("rx_crc_errors".into(), 1)],
            }],
            traffic: TrafficMetrics {
                bytes_in: 111,
                bytes_out: 222,
                bytes_local: 333,
                l7_flows,
            },
            records_written: 44,
            uptime_s: 12.5,
            mplane: Some(crate::metrics::MplaneMetrics {
                link: crate::mplane::component::LinkStats {
                    registrations: 5,
                    polls: 60,
                    specifications: 7,
                    interrupts: 2,
                    delivered: 15,
                    failures: 1,
                },
                jobs_running: 3,
                switches_held: 4,
            }),
        }
    }

    #[test]
    fn every_value_of_the_snapshot_is_exposed_once() {
        let text = render(&snapshot()).unwrap();
        let (s, _) = parse(&text);
        let v = |name, labels: &[(&str, &str)]| {
            value(&s, name, labels)
                .unwrap_or_else(|| panic!("{name} {labels:?} missing in\n{text}"))
        };
        assert_eq!(v("tstat_packets_total", &[("core", "0")]), 1000.0);
        assert_eq!(v("tstat_packets_total", &[("core", "1")]), 2000.0);
        assert_eq!(v("tstat_bytes_total", &[("core", "1")]), 128_000.0);
        assert_eq!(
            v(
                "tstat_flows_opened_total",
                &[("core", "1"), ("proto", "tcp")]
            ),
            20.0
        );
        assert_eq!(
            v(
                "tstat_flows_opened_total",
                &[("core", "0"), ("proto", "udp")]
            ),
            20.0
        );
        assert_eq!(
            v(
                "tstat_flows_closed_total",
                &[("core", "0"), ("kind", "tcp_complete")]
            ),
            7.0
        );
        assert_eq!(
            v(
                "tstat_flows_closed_total",
                &[("core", "0"), ("kind", "tcp_nocomplete")]
            ),
            2.0
        );
        assert_eq!(
            v(
                "tstat_flows_closed_total",
                &[("core", "1"), ("kind", "udp")]
            ),
            38.0
        );
        for (cause, n) in [
            ("malformed", 3.0),
            ("tcp_trash", 4.0),
            ("flow_table_full", 5.0),
            ("record_ring_full", 6.0),
            ("dnshunter_ring_full", 8.0),
            ("handoff_ring_full", 9.0),
        ] {
            assert_eq!(
                v("tstat_drops_total", &[("core", "0"), ("cause", cause)]),
                n,
                "{cause}"
            );
            assert_eq!(
                v("tstat_drops_total", &[("core", "1"), ("cause", cause)]),
                2.0 * n,
                "{cause}"
            );
        }
        assert_eq!(v("tstat_foreign_packets_total", &[("core", "0")]), 0.0);
        assert_eq!(v("tstat_handed_off_packets_total", &[("core", "1")]), 60.0);
        assert_eq!(
            v("tstat_flows_open", &[("core", "1"), ("proto", "tcp")]),
            2.0
        );
        assert_eq!(
            v("tstat_flows_open", &[("core", "1"), ("proto", "udp")]),
            3.0
        );
        assert_eq!(v("tstat_record_ring_used_bytes", &[("core", "1")]), 3400.0);
        assert_eq!(
            v("tstat_record_ring_capacity_bytes", &[("core", "0")]),
            16_777_216.0
        );
        let port = ("port", "0000:3b:00.0");
        assert_eq!(v("tstat_port_packets_total", &[port]), 3005.0);
        assert_eq!(v("tstat_port_bytes_total", &[port]), 192_000.0);
        assert_eq!(
            v("tstat_port_drops_total", &[port, ("cause", "imissed")]),
            5.0
        );
        assert_eq!(
            v("tstat_port_drops_total", &[port, ("cause", "ierrors")]),
            1.0
        );
        assert_eq!(
            v("tstat_port_drops_total", &[port, ("cause", "rx_nombuf")]),
            2.0
        );
        assert_eq!(
            v("tstat_traffic_bytes_total", &[("direction", "in")]),
            111.0
        );
        assert_eq!(
            v("tstat_traffic_bytes_total", &[("direction", "out")]),
            222.0
        );
        assert_eq!(
            v("tstat_traffic_bytes_total", &[("direction", "local")]),
            333.0
        );
        assert_eq!(
            v(
                "tstat_l7_flows_total",
                &[("proto", "tcp"), ("class", "http")]
            ),
            11.0
        );
        assert_eq!(
            v(
                "tstat_l7_flows_total",
                &[("proto", "udp"), ("class", "quic")]
            ),
            12.0
        );
        assert_eq!(v("tstat_records_written_total", &[]), 44.0);
        assert_eq!(v("tstat_uptime_seconds", &[]), 12.5);
        for (kind, n) in [
            ("registration", 5.0),
            ("poll", 60.0),
            ("specification", 7.0),
            ("interrupt", 2.0),
            ("delivered", 15.0),
            ("failure", 1.0),
        ] {
            assert_eq!(v("tstat_mplane_exchanges_total", &[("kind", kind)]), n);
        }
        assert_eq!(v("tstat_mplane_jobs", &[]), 3.0);
        assert_eq!(v("tstat_mplane_switches_held", &[]), 4.0);
        assert_eq!(
            v(
                "tstat_build_info",
                &[("version", env!("CARGO_PKG_VERSION"))]
            ),
            1.0
        );
        assert_eq!(
            v("tstat_port_xstat", &[port, ("name", "rx_crc_errors")]),
            1.0
        );
        // 2 cores × 19 series, 5 + 2 port series, 3 + 2 traffic series, 3 scalars, 6 + 2
        // mPlane.
        assert_eq!(s.len(), 2 * 19 + 7 + 5 + 3 + 8, "{text}");
    }

    #[test]
    fn every_metric_has_help_and_the_right_type() {
        let text = render(&snapshot()).unwrap();
        let (s, meta) = parse(&text);
        for sample in &s {
            let (help, ty) = meta
                .get(&sample.name)
                .unwrap_or_else(|| panic!("{} undocumented", sample.name));
            assert!(help.len() > 10, "{}: {help:?}", sample.name);
            let want = if sample.name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            assert_eq!(ty, want, "{}", sample.name);
            assert!(sample.name.starts_with("tstat_"), "{}", sample.name);
        }
        assert_eq!(meta.len(), 22, "{meta:?}");
    }

    #[test]
    fn an_empty_snapshot_still_exposes_the_scalars() {
        let text = render(&MetricsSnapshot::default()).unwrap();
        let (s, _) = parse(&text);
        assert_eq!(value(&s, "tstat_records_written_total", &[]), Some(0.0));
        assert_eq!(value(&s, "tstat_uptime_seconds", &[]), Some(0.0));
        assert_eq!(value(&s, "tstat_packets_total", &[("core", "0")]), None);
    }

    #[test]
    fn label_values_are_escaped() {
        let mut snap = MetricsSnapshot::default();
        snap.ports.push(PortMetrics {
            name: "net_pcap0,iface=\"a\\b\"".into(),
            ipackets: 9,
            ..PortMetrics::default()
        });
        let text = render(&snap).unwrap();
        let (s, _) = parse(&text);
        assert_eq!(
            value(
                &s,
                "tstat_port_packets_total",
                &[("port", "net_pcap0,iface=\"a\\b\"")]
            ),
            Some(9.0)
        );
    }
}
