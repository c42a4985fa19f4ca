//! Tstat's histograms (`-H`), per worker: the counters a worker adds to as it analyses its
//! packets and closes its flows, emitted at the end of every interval as sparse
//! [`HistoChunk`]s for the control plane to merge and write.
//!
//! Owns: the bins of every histogram of [`defs`] (Tstat's `add_histo` binning), the bytes per
//! class behind the bit-rate histograms, the `addresses` subnet counters, the flow-count
//! integrals behind `profile_flows`, and per-histogram sample statistics (count, sum, sum of
//! squares, minimum, maximum) for RRD. Decides which histogram a packet or a flow adds to, as
//! Tstat's `ip_histo_stat`, `IPv6_support`, `tcp_header_stat`, `udp_header_stat`, `rexmit`,
//! `make_conn_stats`, `make_udp_conn_stats` and the plugins' `make_*_stats` do.
//!
//! Does not own: interval boundaries (the trace reader decides them and tells every worker),
//! merging workers, bit rates (bytes here; the control plane divides by the interval), files.
//!
//! Every update is an array increment (and the statistics of the sample); nothing is
//! allocated per packet: the bins are allocated once, for the histograms selected, and the
//! subnet map keeps its capacity between intervals.

pub mod defs;
mod flows;
mod ip;
mod l7;
pub mod record;
#[cfg(test)]
mod worker_tests;

pub use flows::SegmentHisto;
pub use ip::IpHeader;
pub use l7::flow as l7_flow;
pub use l7::{http_index, tcp_l7_type, video_index, web_index};
pub use record::{AdxField, HistoChunk, HistoItem, CHUNK_ITEMS};

use crate::time::Timestamp;
use crate::wire::LinkType;
use defs::{id, COUNT};
use hashbrown::HashMap;
use std::net::IpAddr;

/// Which histograms a worker keeps, and the `addresses` settings (from the `-H` file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoConfig {
    /// Histograms written out, by id ([`defs::id`]); the others cost no memory.
    pub enabled: Vec<bool>,
    /// The `addresses` file is wanted: IPv4 subnets of this mask (a network-order mask as a
    /// big-endian `u32`, e.g. `0xffff_ff00` for Tstat's default /24).
    pub adx_mask: Option<u32>,
}

impl HistoConfig {
    /// Every histogram and the `addresses` file with Tstat's default /24 (`include ALL`).
    pub fn all() -> HistoConfig {
        HistoConfig {
            enabled: vec![true; COUNT],
            adx_mask: Some(0xffff_ff00),
        }
    }
}

/// Where a packet or a flow goes in the `_in` / `_out` / `_loc` families (Tstat's
/// `in_out_loc`): source internal only → out, destination internal only → in, both → local,
/// neither → none of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Io {
    /// Internal to external.
    Out,
    /// External to internal.
    In,
    /// Internal to internal.
    Loc,
    /// External to external: only the direction-free histograms count it.
    Ext,
}

impl Io {
    /// From the internal flags of the source and the destination.
    #[inline]
    pub fn of(src_internal: bool, dst_internal: bool) -> Io {
        match (src_internal, dst_internal) {
            (true, false) => Io::Out,
            (false, true) => Io::In,
            (true, true) => Io::Loc,
            (false, false) => Io::Ext,
        }
    }

    /// The same flow seen from the other direction.
    #[inline]
    pub fn reverse(self) -> Io {
        match self {
            Io::Out => Io::In,
            Io::In => Io::Out,
            other => other,
        }
    }

    /// The histogram of the family `[out, in, loc]` this goes to.
    #[inline]
    fn pick(self, [out, inc, loc]: [u16; 3]) -> Option<u16> {
        match self {
            Io::Out => Some(out),
            Io::In => Some(inc),
            Io::Loc => Some(loc),
            Io::Ext => None,
        }
    }
}

/// Tstat's `L4_bitrate` classes.
const L4_TCP: u32 = 0;
const L4_UDP: u32 = 1;
const L4_ICMP: u32 = 2;
const L4_IP: u32 = 3;
/// Tstat's `enum l3_category`.
const L3_V4_TCP: u32 = 0;
const L3_V4_UDP: u32 = 1;
const L3_V4_OTHER: u32 = 2;
const L3_V6_TCP: u32 = 3;
const L3_V6_UDP: u32 = 4;
const L3_V6_OTHER: u32 = 5;

/// One histogram: where it sits in the bin array, and the statistics of the samples added
/// during the interval (one array entry, so that an add looks up one place).
#[derive(Debug, Clone, Copy)]
struct Slot {
    base: u32,
    columns: u32,
    min: i64,
    bin_size: i64,
    min_f: f64,
    max_f: f64,
    /// Samples added (in range or not).
    n: u64,
    sum: f64,
    sum2: f64,
    smin: f64,
    smax: f64,
    /// Bytes were added (the bit-rate histograms, which take no samples).
    bytes: bool,
}

impl Slot {
    /// Clears the interval's statistics.
    fn reset(&mut self) {
        self.n = 0;
        self.sum = 0.0;
        self.sum2 = 0.0;
        self.smin = f64::INFINITY;
        self.smax = f64::NEG_INFINITY;
        self.bytes = false;
    }
}

/// A birth-death count integrated over time (Tstat's `win_stat` of `misc.c`): flows × ms.
#[derive(Debug, Clone, Copy, Default)]
struct Active {
    n: i64,
    since: Timestamp,
    integral: f64,
}

impl Active {
    #[inline]
    fn step(&mut self, now: Timestamp, delta: i64) {
        self.integral += (now.0 - self.since.0) as f64 / 1000.0 * self.n as f64;
        self.n += delta;
        self.since = now;
    }
}

/// One worker's histograms of the current interval.
pub struct Histo {
    cfg: HistoConfig,
    worker: u16,
    interval: u32,
    slots: Vec<Slot>,
    bins: Vec<u64>,
    /// Subnet → src hits, dst hits, src bytes, dst bytes.
    adx: HashMap<u32, [u64; 4]>,
    active: [Active; 2],
    /// The packet being analysed carries the MPTCP option.
    packet_mptcp: bool,
    /// Start of the current interval.
    start: Timestamp,
}

impl std::fmt::Debug for Histo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histo")
            .field("worker", &self.worker)
            .field("interval", &self.interval)
            .field("bins", &self.bins.len())
            .finish()
    }
}

impl Histo {
    /// Worker `worker`'s histograms, bins allocated for the enabled ones (the others share
    /// two scratch bins).
    pub fn new(cfg: HistoConfig, worker: u16) -> Histo {
        let defs = defs::all();
        // Bins 0 and 1: scratch of every disabled histogram (all values land there).
        let mut next = 2u32;
        let slots = defs
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let mut s = Slot {
                    base: 0,
                    columns: 0,
                    min: 0,
                    bin_size: 1,
                    min_f: 0.0,
                    max_f: 0.0,
                    n: 0,
                    sum: 0.0,
                    sum2: 0.0,
                    smin: 0.0,
                    smax: 0.0,
                    bytes: false,
                };
                s.reset();
                if cfg.enabled.get(i).copied().unwrap_or(false) {
                    s.base = next;
                    s.columns = d.columns();
                    s.min = d.min;
                    s.bin_size = d.bin_size;
                    s.min_f = d.min as f64;
                    s.max_f = d.max as f64;
                    next += d.bins() as u32;
                }
                s
            })
            .collect();
        Histo {
            cfg,
            worker,
            interval: 0,
            slots,
            bins: vec![0; next as usize],
            adx: HashMap::with_capacity(1024),
            active: [Active::default(); 2],
            packet_mptcp: false,
            start: Timestamp::ZERO,
        }
    }

    /// Notes whether the packet about to be analysed carries the MPTCP option.
    #[inline]
    pub(crate) fn set_packet_mptcp(&mut self, on: bool) {
        self.packet_mptcp = on;
    }

    /// Sets the start of the current interval (the first IP packet of the trace).
    pub fn set_start(&mut self, start: Timestamp) {
        self.start = start;
    }

    /// The interval being filled (0-based).
    pub fn interval(&self) -> u32 {
        self.interval
    }

    /// Tstat's `add_histo`: one sample `v` (NaN and infinities are ignored, as there).
    #[inline]
    pub fn add(&mut self, hid: u16, v: f64) {
        if !v.is_finite() {
            return;
        }
        let s = &mut self.slots[usize::from(hid)];
        let bin = if v < s.min_f {
            0
        } else if v >= s.max_f {
            s.columns + 1
        } else {
            ((i64::from(v as i32) + s.bin_size - s.min) / s.bin_size) as u32
        };
        let at = (s.base + bin) as usize;
        s.n += 1;
        s.sum += v;
        s.sum2 += v * v;
        if v < s.smin {
            s.smin = v;
        }
        if v > s.smax {
            s.smax = v;
        }
        if let Some(b) = self.bins.get_mut(at) {
            *b += 1;
        }
    }

    /// `len` bytes of class `class` for a bit-rate histogram (bin `class + 1`, printed with
    /// the label `class`).
    #[inline]
    fn add_bytes(&mut self, hid: u16, class: u32, len: u32) {
        let s = &mut self.slots[usize::from(hid)];
        s.bytes = true;
        let at = (s.base + 1 + class.min(s.columns)) as usize;
        if let Some(b) = self.bins.get_mut(at) {
            *b += u64::from(len);
        }
    }

    /// An add to the `[out, in, loc]` histogram of `io`, if any.
    #[inline]
    fn add_io(&mut self, io: Io, family: [u16; 3], v: f64) {
        if let Some(h) = io.pick(family) {
            self.add(h, v);
        }
    }

    /// Bytes of a bit-rate family `[in, out, loc]` with its cloud/non-cloud split `[c_in,
    /// c_out, nc_in, nc_out]` (Tstat's `-C` is not supported: every address is non-cloud).
    #[inline]
    fn add_rate(&mut self, io: Io, family: [u16; 3], nc: Option<[u16; 2]>, class: u32, len: u32) {
        let (hid, nc) = match (io, nc) {
            (Io::Out, nc) => (family[1], nc.map(|n| n[1])),
            (Io::In, nc) => (family[0], nc.map(|n| n[0])),
            (Io::Loc, _) => (family[2], None),
            (Io::Ext, _) => return,
        };
        self.add_bytes(hid, class, len);
        if let Some(n) = nc {
            self.add_bytes(n, class, len);
        }
    }

    /// The IP-level histograms of one frame (`ip_histo_stat` for IPv4, `IPv6_support` for
    /// IPv6) and the `addresses` counters. `net_conf`: `-N` was given (without it the
    /// addresses file counts every address, otherwise only external ones).
    pub fn ip(&mut self, h: &IpHeader, internal: [bool; 2], net_conf: bool) {
        let io = Io::of(internal[0], internal[1]);
        if h.v6 {
            self.add_io(
                io,
                [
                    id::IP6_PROTOCOL_OUT,
                    id::IP6_PROTOCOL_IN,
                    id::IP6_PROTOCOL_LOC,
                ],
                f64::from(h.proto),
            );
            self.add_io(
                io,
                [
                    id::IP6_HOP_LIMIT_OUT,
                    id::IP6_HOP_LIMIT_IN,
                    id::IP6_HOP_LIMIT_LOC,
                ],
                f64::from(h.ttl),
            );
            self.add_io(
                io,
                [id::IP6_PLEN_OUT, id::IP6_PLEN_IN, id::IP6_PLEN_LOC],
                f64::from(h.len),
            );
            let l3 = match h.proto {
                6 => L3_V6_TCP,
                17 => L3_V6_UDP,
                _ => L3_V6_OTHER,
            };
            self.add_io(
                io,
                [id::L3_PROTOCOL_OUT, id::L3_PROTOCOL_IN, id::L3_PROTOCOL_LOC],
                f64::from(l3),
            );
            if l3 == L3_V6_OTHER {
                let len = u32::from(h.len) + 40;
                self.add_rate(io, L3_BITRATE, None, l3, len);
            }
            if let Some(t) = h.icmp6_type {
                self.add_io(
                    io,
                    [id::ICMPV6_TYPE_OUT, id::ICMPV6_TYPE_IN, id::ICMPV6_TYPE_LOC],
                    f64::from(t),
                );
            }
            return;
        }
        let len = u32::from(h.len);
        if io == Io::Ext {
            // Tstat's `ip_histo_stat` counts nothing for external-to-external packets except
            // their addresses.
        } else {
            self.add_rate(io, IP_BITRATE, Some(IP_BITRATE_NC), L4_IP, len);
            if h.proto == 1 {
                self.add_rate(io, IP_BITRATE, Some(IP_BITRATE_NC), L4_ICMP, len);
            }
            self.add_io(
                io,
                [id::IP_PROTOCOL_OUT, id::IP_PROTOCOL_IN, id::IP_PROTOCOL_LOC],
                f64::from(h.proto),
            );
            let l3 = match h.proto {
                6 => L3_V4_TCP,
                17 => L3_V4_UDP,
                _ => L3_V4_OTHER,
            };
            if l3 == L3_V4_OTHER {
                self.add_rate(io, L3_BITRATE, None, l3, len);
            }
            self.add_io(
                io,
                [id::L3_PROTOCOL_OUT, id::L3_PROTOCOL_IN, id::L3_PROTOCOL_LOC],
                f64::from(l3),
            );
            self.add_io(
                io,
                [id::IP_LEN_OUT, id::IP_LEN_IN, id::IP_LEN_LOC],
                f64::from(len),
            );
            self.add_io(
                io,
                [id::IP_TTL_OUT, id::IP_TTL_IN, id::IP_TTL_LOC],
                f64::from(h.ttl),
            );
            self.add_io(
                io,
                [id::IP_TOS_OUT, id::IP_TOS_IN, id::IP_TOS_LOC],
                f64::from(h.tos),
            );
        }
        if let Some(mask) = self.cfg.adx_mask {
            if let (IpAddr::V4(s), IpAddr::V4(d)) = (h.src, h.dst) {
                if !internal[0] || !net_conf {
                    let e = self.adx.entry(u32::from(s) & mask).or_default();
                    e[0] += 1;
                    e[2] += u64::from(len);
                }
                if !internal[1] || !net_conf {
                    let e = self.adx.entry(u32::from(d) & mask).or_default();
                    e[1] += 1;
                    e[3] += u64::from(len);
                }
            }
        }
    }

    /// `tcp_header_stat`: ports, SYN ports and the layer-3/4 bytes of a TCP segment (every
    /// segment with a full header, flows or not). `ip_len`: header plus payload.
    pub fn tcp_header(&mut self, io: Io, syn_only: bool, ports: [u16; 2], ip_len: u32, v6: bool) {
        let [sport, dport] = ports.map(f64::from);
        if syn_only {
            self.add_io(
                io,
                [
                    id::TCP_PORT_SYNSRC_OUT,
                    id::TCP_PORT_SYNSRC_IN,
                    id::TCP_PORT_SYNSRC_LOC,
                ],
                sport,
            );
            self.add_io(
                io,
                [
                    id::TCP_PORT_SYNDST_OUT,
                    id::TCP_PORT_SYNDST_IN,
                    id::TCP_PORT_SYNDST_LOC,
                ],
                dport,
            );
        }
        self.add_rate(io, IP_BITRATE, Some(IP_BITRATE_NC), L4_TCP, ip_len);
        let l3 = if v6 { L3_V6_TCP } else { L3_V4_TCP };
        self.add_rate(io, L3_BITRATE, None, l3, ip_len);
        self.add_io(
            io,
            [
                id::TCP_PORT_SRC_OUT,
                id::TCP_PORT_SRC_IN,
                id::TCP_PORT_SRC_LOC,
            ],
            sport,
        );
        self.add_io(
            io,
            [
                id::TCP_PORT_DST_OUT,
                id::TCP_PORT_DST_IN,
                id::TCP_PORT_DST_LOC,
            ],
            dport,
        );
    }

    /// `udp_header_stat`: destination port and layer-3/4 bytes of a UDP datagram.
    pub fn udp_header(&mut self, io: Io, dport: u16, ip_len: u32, v6: bool) {
        self.add_rate(io, IP_BITRATE, Some(IP_BITRATE_NC), L4_UDP, ip_len);
        let l3 = if v6 { L3_V6_UDP } else { L3_V4_UDP };
        self.add_rate(io, L3_BITRATE, None, l3, ip_len);
        self.add_io(
            io,
            [
                id::UDP_PORT_DST_OUT,
                id::UDP_PORT_DST_IN,
                id::UDP_PORT_DST_LOC,
            ],
            f64::from(dport),
        );
    }

    /// The first datagram of a UDP flow's direction (`udp_port_flow_dst`).
    pub fn udp_direction_opened(&mut self, dport: u16) {
        self.add(id::UDP_PORT_FLOW_DST, f64::from(dport));
    }

    /// A TCP segment that belongs to no flow and opens none (`profile_trash`).
    pub fn tcp_trash(&mut self) {
        self.add(id::PROFILE_TRASH, 0.0);
    }

    /// A new flow (`L4_flow_number`, and the arrival for `profile_flows`).
    pub fn flow_created(&mut self, udp: bool, now: Timestamp) {
        self.add(id::L4_FLOW_NUMBER, if udp { 1.0 } else { 0.0 });
        self.active[usize::from(udp)].step(now, 1);
    }

    /// A flow no longer tracked, for `profile_flows` (Tstat counts the departure of every
    /// UDP flow, and of TCP flows closed during the trace, not of those left at its end).
    pub fn flow_departed(&mut self, udp: bool, now: Timestamp) {
        self.active[usize::from(udp)].step(now, -1);
    }

    /// The histograms of the interval ending at packet time `end` (`last`: with the trace),
    /// handed to `out` chunk by chunk; the last chunk has `done` set. Starts the next
    /// interval.
    pub fn flush(&mut self, end: Timestamp, last: bool, out: impl FnMut(HistoChunk)) {
        let mut e = Emitter {
            chunk: HistoChunk::new(self.interval, self.worker, [self.start, end], last),
            out,
        };
        for (i, s) in self.slots.iter_mut().enumerate() {
            // A histogram nothing was added to has no bin to look at.
            if (s.n == 0 && !s.bytes) || !self.cfg.enabled.get(i).copied().unwrap_or(false) {
                s.reset();
                continue;
            }
            let hid = i as u16;
            let region = &mut self.bins[s.base as usize..(s.base + s.columns + 2) as usize];
            // Mostly empty (ports): skip 8 zero bins at a time.
            for (k, group) in region.chunks_mut(8).enumerate() {
                if group.iter().all(|&c| c == 0) {
                    continue;
                }
                for (j, c) in group.iter_mut().enumerate() {
                    if *c != 0 {
                        e.push(HistoItem::Bin {
                            id: hid,
                            bin: (k * 8 + j) as u32,
                            count: std::mem::take(c),
                        });
                    }
                }
            }
            if s.n > 0 {
                e.push(HistoItem::Samples { id: hid, n: s.n });
                e.push(HistoItem::Sum {
                    id: hid,
                    value: s.sum,
                });
                e.push(HistoItem::SumSq {
                    id: hid,
                    value: s.sum2,
                });
                e.push(HistoItem::Min {
                    id: hid,
                    value: s.smin,
                });
                e.push(HistoItem::Max {
                    id: hid,
                    value: s.smax,
                });
            }
            s.reset();
        }
        self.bins[0] = 0;
        self.bins[1] = 0;
        for (net, c) in self.adx.drain() {
            let fields = [
                AdxField::SrcHits,
                AdxField::DstHits,
                AdxField::SrcBytes,
                AdxField::DstBytes,
            ];
            for (field, value) in fields.into_iter().zip(c) {
                if value != 0 {
                    e.push(HistoItem::Adx { net, field, value });
                }
            }
        }
        for (udp, a) in self.active.iter_mut().enumerate() {
            a.step(end, 0);
            let value = std::mem::take(&mut a.integral);
            if value != 0.0 {
                e.push(HistoItem::ActiveFlows {
                    udp: udp == 1,
                    value,
                });
            }
        }
        e.chunk.done = true;
        (e.out)(e.chunk);
        self.interval += 1;
        self.start = end;
    }
}

/// Fills chunks and hands over the full ones.
struct Emitter<F: FnMut(HistoChunk)> {
    chunk: HistoChunk,
    out: F,
}

impl<F: FnMut(HistoChunk)> Emitter<F> {
    fn push(&mut self, item: HistoItem) {
        if self.chunk.is_full() {
            let c = &self.chunk;
            let next = HistoChunk::new(c.interval, c.worker, [c.start, c.end], c.last);
            (self.out)(std::mem::replace(&mut self.chunk, next));
        }
        self.chunk.push(item);
    }
}

/// `ip_bitrate_{in,out,loc}`.
const IP_BITRATE: [u16; 3] = [id::IP_BITRATE_IN, id::IP_BITRATE_OUT, id::IP_BITRATE_LOC];
/// `ip_bitrate_nc_{in,out}`.
const IP_BITRATE_NC: [u16; 2] = [id::IP_BITRATE_NC_IN, id::IP_BITRATE_NC_OUT];
/// `L3_bitrate_{in,out,loc}`.
const L3_BITRATE: [u16; 3] = [id::L3_BITRATE_IN, id::L3_BITRATE_OUT, id::L3_BITRATE_LOC];

/// Whether a frame carries an IP packet (Tstat's histogram clock runs on IP packets only).
pub fn is_ip(link: LinkType, frame: &[u8]) -> bool {
    ip::peek(link, frame).is_some()
}

/// The IP header of a frame for [`Histo::ip`] (`None`: not IP).
pub fn peek(link: LinkType, frame: &[u8]) -> Option<IpHeader> {
    ip::peek(link, frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(h: &mut Histo, end: i64, last: bool) -> Vec<HistoChunk> {
        let mut v = Vec::new();
        h.flush(Timestamp(end), last, |c| v.push(c));
        v
    }

    fn bins(chunks: &[HistoChunk]) -> Vec<(u16, u32, u64)> {
        chunks
            .iter()
            .flat_map(|c| c.items().iter().copied())
            .filter_map(|i| match i {
                HistoItem::Bin { id, bin, count } => Some((id, bin, count)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn samples_land_in_tstat_bins_and_the_interval_is_emptied_by_the_flush() {
        let mut h = Histo::new(HistoConfig::all(), 3);
        h.add(id::IP_LEN_LOC, 60.0);
        h.add(id::IP_LEN_LOC, 63.0);
        h.add(id::IP_LEN_LOC, 1600.0);
        h.add(id::IP_LEN_LOC, f64::NAN);
        let c = drain(&mut h, 10, false);
        assert_eq!(c.last().map(|c| c.done), Some(true));
        assert!(c.iter().all(|c| c.worker == 3 && c.interval == 0));
        assert_eq!(
            bins(&c),
            vec![(id::IP_LEN_LOC, 16, 2), (id::IP_LEN_LOC, 377, 1)]
        );
        let stats: Vec<HistoItem> = c
            .iter()
            .flat_map(|c| c.items().iter().copied())
            .filter(|i| !matches!(i, HistoItem::Bin { .. }))
            .collect();
        assert_eq!(
            stats,
            vec![
                HistoItem::Samples {
                    id: id::IP_LEN_LOC,
                    n: 3
                },
                HistoItem::Sum {
                    id: id::IP_LEN_LOC,
                    value: 1723.0
                },
                HistoItem::SumSq {
                    id: id::IP_LEN_LOC,
                    value: 3600.0 + 3969.0 + 2_560_000.0
                },
                HistoItem::Min {
                    id: id::IP_LEN_LOC,
                    value: 60.0
                },
                HistoItem::Max {
                    id: id::IP_LEN_LOC,
                    value: 1600.0
                },
            ]
        );
        let again = drain(&mut h, 20, true);
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].n, again[0].interval, again[0].last), (0, 1, true));
    }

    #[test]
    fn disabled_histograms_cost_nothing_and_are_not_emitted() {
        let mut cfg = HistoConfig::all();
        cfg.enabled = vec![false; COUNT];
        cfg.enabled[usize::from(id::IP_TTL_LOC)] = true;
        cfg.adx_mask = None;
        let mut h = Histo::new(cfg, 0);
        assert_eq!(h.bins.len(), 2 + 257);
        h.add(id::IP_LEN_LOC, 60.0);
        h.add(id::TCP_PORT_SRC_IN, 80.0);
        h.add_bytes(id::TCP_BITRATE_LOC, 7, 100);
        h.add(id::IP_TTL_LOC, 64.0);
        assert_eq!(
            bins(&drain(&mut h, 1, false)),
            vec![(id::IP_TTL_LOC, 65, 1)]
        );
    }

    #[test]
    fn chunks_split_at_their_capacity() {
        let mut h = Histo::new(HistoConfig::all(), 0);
        for port in 0..100u16 {
            h.add(id::TCP_PORT_DST_LOC, f64::from(port));
        }
        let c = drain(&mut h, 1, false);
        let total: usize = c.iter().map(|c| c.items().len()).sum();
        assert_eq!(total, 100 + 5);
        assert!(c[..c.len() - 1].iter().all(|c| c.is_full() && !c.done));
        assert!(c.last().unwrap().done);
    }

    #[test]
    fn addresses_count_subnets_and_bytes() {
        let mut h = Histo::new(HistoConfig::all(), 0);
        let hdr = ip::IpHeader {
            v6: false,
            src: "10.1.2.3".parse().unwrap(),
            dst: "192.168.0.9".parse().unwrap(),
            proto: 1,
            tos: 0,
            ttl: 64,
            len: 84,
            icmp6_type: None,
            mptcp: false,
        };
        h.ip(&hdr, [true, true], false);
        h.ip(&hdr, [true, true], false);
        let mut adx: Vec<(u32, AdxField, u64)> = drain(&mut h, 5, false)
            .iter()
            .flat_map(|c| c.items().iter().copied())
            .filter_map(|i| match i {
                HistoItem::Adx { net, field, value } => Some((net, field, value)),
                _ => None,
            })
            .collect();
        adx.sort_by_key(|a| (a.0, a.1 as u8));
        assert_eq!(
            adx,
            vec![
                (0x0a01_0200, AdxField::SrcHits, 2),
                (0x0a01_0200, AdxField::SrcBytes, 168),
                (0xc0a8_0000, AdxField::DstHits, 2),
                (0xc0a8_0000, AdxField::DstBytes, 168),
            ]
        );
    }

    #[test]
    fn flow_counts_integrate_over_the_interval() {
        let mut h = Histo::new(HistoConfig::all(), 0);
        h.flow_created(false, Timestamp(1_000_000));
        h.flow_created(false, Timestamp(2_000_000));
        h.flow_departed(false, Timestamp(3_000_000));
        let c = drain(&mut h, 4_000_000, false);
        let v: Vec<f64> = c
            .iter()
            .flat_map(|c| c.items().iter().copied())
            .filter_map(|i| match i {
                HistoItem::ActiveFlows { udp: false, value } => Some(value),
                _ => None,
            })
            .collect();
        // 1 flow for 1 s, 2 for 1 s, 1 for 1 s: 4000 flows × ms.
        assert_eq!(v, vec![4000.0]);
    }
}
