//! A worker with histograms on, fed hand-made frames: what each packet and flow adds, that the
//! flow results are those of a worker without histograms, and that an interval tick empties
//! the interval.

use super::defs::{self, id};
use super::{HistoConfig, HistoItem};
use crate::config::EngineConfig;
use crate::net::NetSet;
use crate::record::FlowRecord;
use crate::time::Timestamp;
use crate::wire::{LinkType, TcpFlags};
use crate::worker::{FullPolicy, Worker};
use std::collections::BTreeMap;
use std::sync::Arc;

const C: [u8; 4] = [10, 0, 0, 1];
const S: [u8; 4] = [192, 0, 2, 80];
const T0: i64 = 1_000_000_000_000;

/// Ethernet + IPv4 + TCP (20 bytes, or 24 with an MSS option on SYNs) + `payload` bytes.
fn tcp(from_client: bool, flags: u8, seq: u32, ack: u32, payload: usize, ip_id: u16) -> Vec<u8> {
    let (src, dst, sp, dp) = if from_client {
        (C, S, 40000u16, 80u16)
    } else {
        (S, C, 80, 40000)
    };
    let opts: &[u8] = if flags & TcpFlags::SYN != 0 {
        &[2, 4, 5, 0xb4]
    } else {
        &[]
    };
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 20 + opts.len() + payload) as u16;
    f.extend_from_slice(&[0x45, 0x10]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&ip_id.to_be_bytes());
    f.extend_from_slice(&[0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sp.to_be_bytes());
    f.extend_from_slice(&dp.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[((5 + opts.len() / 4) as u8) << 4, flags]);
    f.extend_from_slice(&[0x10, 0x00, 0, 0, 0, 0]); // window 4096
    f.extend_from_slice(opts);
    f.resize(f.len() + payload, 0);
    f
}

fn icmp() -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 28, 0, 9, 0, 0, 128, 1, 0, 0]);
    f.extend_from_slice(&S);
    f.extend_from_slice(&C);
    f.extend_from_slice(&[8, 0, 0, 0, 0, 0, 0, 0]);
    f
}

const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;
const SA: u8 = TcpFlags::SYN | TcpFlags::ACK;
const PA: u8 = TcpFlags::PSH | TcpFlags::ACK;
const FA: u8 = TcpFlags::FIN | TcpFlags::ACK;

/// A complete connection: handshake, request, response, FIN handshake; then an ICMP echo.
fn conversation() -> Vec<(i64, Vec<u8>)> {
    vec![
        (0, tcp(true, SYN, 1000, 0, 0, 1)),
        (10, tcp(false, SA, 5000, 1001, 0, 1)),
        (20, tcp(true, ACK, 1001, 5001, 0, 2)),
        (21, tcp(true, PA, 1001, 5001, 100, 3)),
        (600, tcp(false, PA, 5001, 1101, 300, 2)),
        (610, tcp(true, FA, 1101, 5301, 0, 5)),
        (620, tcp(false, FA, 5301, 1102, 0, 3)),
        (630, tcp(true, ACK, 1102, 5302, 0, 6)),
        (700, icmp()),
    ]
}

fn run(nets: NetSet, histo: bool) -> Vec<FlowRecord> {
    let cfg = EngineConfig {
        nets,
        ..EngineConfig::default()
    };
    let mut w = Worker::new(Arc::new(cfg), Vec::new(), FullPolicy::Drop);
    if histo {
        w.enable_histo(HistoConfig::all(), 0);
        w.histo_start(Timestamp(T0));
    }
    for (ms, f) in conversation() {
        w.process(Timestamp(T0 + ms * 1000), LinkType::Ethernet, &f);
    }
    w.finish(Timestamp(T0 + 700_000));
    w.into_sink()
}

/// `name → [(label, count)]` of every bin of the histogram chunks.
fn bins(recs: &[FlowRecord]) -> BTreeMap<&'static str, Vec<(i64, u64)>> {
    let defs = defs::all();
    let mut m: BTreeMap<&'static str, Vec<(i64, u64)>> = BTreeMap::new();
    for r in recs {
        if let FlowRecord::Histo(c) = r {
            for i in c.items() {
                if let HistoItem::Bin { id, bin, count } = *i {
                    let d = &defs[usize::from(id)];
                    m.entry(d.name).or_default().push((d.label(bin), count));
                }
            }
        }
    }
    m
}

#[test]
fn a_local_conversation_fills_tstat_s_histograms() {
    let recs = run(NetSet::all_internal(), true);
    let b = bins(&recs);
    let get = |n: &str| b.get(n).cloned().unwrap_or_default();
    assert_eq!(get("L4_flow_number"), [(0, 1)]);
    assert_eq!(get("ip_protocol_loc"), [(1, 1), (6, 8)]);
    assert_eq!(get("ip_tos_loc"), [(0, 1), (16, 8)]);
    assert_eq!(get("ip_ttl_loc"), [(64, 8), (128, 1)]);
    assert_eq!(get("tcp_port_synsrc_loc"), [(40000, 1)]);
    assert_eq!(get("tcp_port_syndst_loc"), [(80, 1)]);
    assert_eq!(get("tcp_port_dst_loc"), [(80, 5), (40000, 3)]);
    // Segments with SYN, FIN or data, all in sequence.
    assert_eq!(get("tcp_anomalies_c2s"), [(0, 3)]);
    assert_eq!(get("tcp_anomalies_s2c"), [(0, 3)]);
    assert_eq!(get("tcp_anomalies_loc"), [(0, 6)]);
    assert_eq!(get("tcp_opts_SACK"), [(4, 1)]);
    assert_eq!(get("tcp_opts_MPTCP"), [(4, 1)]);
    assert_eq!(get("tcp_mss_a"), [(1460, 1)]);
    assert_eq!(get("tcp_mss_used"), [(1460, 1)]);
    assert_eq!(get("tcp_cl_p_c2s"), [(5, 1)]);
    assert_eq!(get("tcp_cl_p_s2c"), [(3, 1)]);
    assert_eq!(get("tcp_cl_b_s_loc"), [(100, 1), (300, 1)]);
    assert_eq!(get("tcp_tot_time"), [(600, 1)]);
    assert_eq!(get("tcp_win_max"), [(4096, 2)]);
    assert_eq!(get("tcp_interrupted"), [(0, 1)]);
    // Three RTT samples in each direction.
    assert_eq!(get("tcp_rtt_cnt_c2s"), [(3, 1)]);
    assert_eq!(get("tcp_rtt_min_loc").len(), 1);
    // Unknown layer 7 (no payload the classifiers recognise).
    assert_eq!(get("L7_TCP_num_loc"), [(49, 1)]);
    // Bytes per class (the control plane divides them by the interval).
    assert_eq!(get("tcp_bitrate_loc"), [(49, 8 * 40 + 2 * 4 + 100 + 300)]);
    assert_eq!(get("ip_bitrate_loc"), [(0, 728), (2, 28), (3, 728 + 28)]);
    // Nothing for the in/out families when every address is internal (the local duplicates
    // histogram is the misnamed first `tcp_net_dup_out`).
    assert_eq!(get("tcp_net_dup_out"), [(0, 2)]);
    assert!(
        b.keys()
            .all(|n| !n.ends_with("_in") && (!n.ends_with("_out") || *n == "tcp_net_dup_out")),
        "{:?}",
        b.keys()
    );
    let last = recs
        .iter()
        .filter_map(|r| match r {
            FlowRecord::Histo(c) => Some(c),
            _ => None,
        })
        .next_back()
        .unwrap();
    assert!(last.last && last.done);
    assert_eq!(
        (last.start, last.end),
        (Timestamp(T0), Timestamp(T0 + 700_000))
    );
}

#[test]
fn client_side_internal_splits_into_out_and_in() {
    let mut nets = NetSet::default();
    nets.add("10.0.0.0".parse().unwrap(), 8);
    let b = bins(&run(nets, true));
    let get = |n: &str| b.get(n).cloned().unwrap_or_default();
    assert_eq!(get("ip_len_out").iter().map(|x| x.1).sum::<u64>(), 5);
    assert_eq!(get("ip_len_in").iter().map(|x| x.1).sum::<u64>(), 4);
    assert_eq!(get("ip_protocol_in"), [(1, 1), (6, 3)]);
    assert_eq!(get("tcp_port_synsrc_out"), [(40000, 1)]);
    assert_eq!(get("tcp_cl_p_out"), [(5, 1)]);
    assert_eq!(get("tcp_cl_p_in"), [(3, 1)]);
    assert_eq!(get("L7_TCP_num_out"), [(49, 1)]);
    assert_eq!(get("L7_TCP_num_nc_out"), [(49, 1)]);
    assert_eq!(get("tcp_anomalies_out"), [(0, 3)]);
    assert_eq!(get("tcp_anomalies_in"), [(0, 3)]);
    assert!(get("tcp_rtt_avg_out").len() == 1 && get("tcp_rtt_avg_in").len() == 1);
    assert!(b.keys().all(|n| !n.ends_with("_loc")), "{:?}", b.keys());
}

#[test]
fn histograms_do_not_change_the_flow_records() {
    let plain = run(NetSet::all_internal(), false);
    let with: Vec<FlowRecord> = run(NetSet::all_internal(), true)
        .into_iter()
        .filter(|r| !matches!(r, FlowRecord::Histo(_)))
        .collect();
    assert_eq!(plain, with);
    assert!(plain.iter().all(|r| !matches!(r, FlowRecord::Histo(_))));
}

#[test]
fn a_tick_ends_the_interval_and_the_next_starts_there() {
    let cfg = EngineConfig::default();
    let mut w = Worker::new(Arc::new(cfg), Vec::new(), FullPolicy::Drop);
    w.enable_histo(HistoConfig::all(), 7);
    w.histo_start(Timestamp(T0));
    let frames = conversation();
    for (ms, f) in &frames[..4] {
        w.process(Timestamp(T0 + ms * 1000), LinkType::Ethernet, f);
    }
    w.histo_tick(Timestamp(T0 + 21_000), Timestamp(T0));
    for (ms, f) in &frames[4..] {
        w.process(Timestamp(T0 + ms * 1000), LinkType::Ethernet, f);
    }
    w.finish(Timestamp(T0 + 700_000));
    let chunks: Vec<_> = w
        .into_sink()
        .into_iter()
        .filter_map(|r| match r {
            FlowRecord::Histo(c) => Some(c),
            _ => None,
        })
        .collect();
    assert!(chunks.iter().all(|c| c.worker == 7));
    let first: Vec<_> = chunks.iter().filter(|c| c.interval == 0).collect();
    let second: Vec<_> = chunks.iter().filter(|c| c.interval == 1).collect();
    assert!(first.iter().all(|c| !c.last) && second.iter().all(|c| c.last));
    assert_eq!(first.iter().filter(|c| c.done).count(), 1);
    assert_eq!(
        (second[0].start, second[0].end),
        (Timestamp(T0 + 21_000), Timestamp(T0 + 700_000))
    );
    let count = |cs: &[&super::HistoChunk], hid: u16| -> u64 {
        cs.iter()
            .flat_map(|c| c.items().iter())
            .map(|i| match *i {
                HistoItem::Bin { id, count, .. } if id == hid => count,
                _ => 0,
            })
            .sum()
    };
    assert_eq!(count(&first, id::IP_TTL_LOC), 4);
    assert_eq!(count(&second, id::IP_TTL_LOC), 5);
    assert_eq!(count(&first, id::TCP_CL_P_C2S), 0);
    assert_eq!(count(&second, id::TCP_CL_P_C2S), 1);
}
