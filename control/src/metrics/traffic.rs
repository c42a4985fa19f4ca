//! [`TrafficAccumulator`]: bytes by direction and flows by layer-7 class, counted from the flow
//! records the writer receives.
//!
//! Directions follow Tstat's in/out/loc split relative to the internal networks (`-N`), applied
//! to each direction of a flow on its own: bytes are "out" when their sender is internal and
//! their receiver is not, "in" when only the receiver is internal, "local" when both are, and
//! not counted when neither is. So the client-to-server bytes of a flow whose client alone is
//! internal are "out" and its server-to-client bytes "in", as Tstat's per-packet histograms
//! count them. The bytes are the records' payload counters (TCP `bytes_all`, retransmissions
//! included; UDP payload), since records carry no IP lengths.
//!
//! Only closed flows count (the records are written when a flow ends), so the traffic counters
//! lag open flows. Counters are relaxed atomics: the writer adds with `&self` (a handful of
//! uncontended atomic additions per record, no allocation) while scrapes read from the
//! endpoint's thread.

use super::TrafficMetrics;
use engine::l7::tcp::con;
use engine::l7::udp::types;
use engine::record::{FlowRecord, TcpRecord, UdpRecord};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// TCP layer-7 classes: `"unknown"` (`con_t` 0), then the `con_t` bits in bit order, named after
/// Tstat's `*_PROTOCOL` constants (lower-cased, without the suffix). A flow with several bits
/// counts once, under its lowest bit (HTTP before ICY, P2P before the obfuscation heuristics).
pub const TCP_CLASSES: [(u32, &str); 20] = [
    (0, "unknown"),
    (con::HTTP, "http"),
    (con::RTSP, "rtsp"),
    (con::RTP, "rtp"),
    (con::ICY, "icy"),
    (con::RTCP, "rtcp"),
    (con::MSN, "msn"),
    (con::YMSG, "ymsg"),
    (con::XMPP, "xmpp"),
    (con::P2P, "p2p"),
    (con::SKYPE, "skype"),
    (con::SMTP, "smtp"),
    (con::POP3, "pop3"),
    (con::IMAP, "imap"),
    (con::SSL, "ssl"),
    (con::OBF, "obf"),
    (con::SSH, "ssh"),
    (con::RTMP, "rtmp"),
    (con::MSE, "mse"),
    (con::FB0, "fb0"),
];

/// UDP layer-7 classes, indexed by Tstat's `enum udp_type` code (`c_type`/`s_type`), named
/// after its constants (lower-cased, without the `UDP_` prefix). A flow counts under its
/// client's type, or its server's when the client's is unknown.
pub const UDP_CLASSES: [(u8, &str); 31] = [
    (types::UDP_UNKNOWN, "unknown"),
    (types::FIRST_RTP, "first_rtp"),
    (types::FIRST_RTCP, "first_rtcp"),
    (types::RTP, "rtp"),
    (types::RTCP, "rtcp"),
    (types::SKYPE_E2E, "skype_e2e"),
    (types::SKYPE_OUT, "skype_out"),
    (types::SKYPE_SIG, "skype_sig"),
    (types::P2P_EDK, "p2p_edk"),
    (types::P2P_KAD, "p2p_kad"),
    (types::P2P_KADU, "p2p_kadu"),
    (types::P2P_GNU, "p2p_gnu"),
    (types::P2P_BT, "p2p_bt"),
    (types::P2P_DC, "p2p_dc"),
    (types::P2P_KAZAA, "p2p_kazaa"),
    (types::P2P_PPLIVE, "p2p_pplive"),
    (types::P2P_SOPCAST, "p2p_sopcast"),
    (types::P2P_TVANTS, "p2p_tvants"),
    (types::P2P_OKAD, "p2p_okad"),
    (types::DNS, "dns"),
    (types::P2P_UTP, "p2p_utp"),
    (types::P2P_UTPBT, "p2p_utpbt"),
    (types::UDP_VOD, "vod"),
    (types::P2P_PPSTREAM, "p2p_ppstream"),
    (types::TEREDO, "teredo"),
    (types::UDP_SIP, "sip"),
    (types::UDP_DTLS, "dtls"),
    (types::UDP_QUIC, "quic"),
    (types::FIRST_RTP_PLUS, "first_rtp_plus"),
    (types::RTP_PLUS, "rtp_plus"),
    (types::UDP_MTURN, "mturn"),
];

/// The class of codes outside the tables (exposed only when seen).
const OTHER: &str = "other";

/// Direction slots of [`TrafficAccumulator::bytes`].
const IN: usize = 0;
const OUT: usize = 1;
const LOCAL: usize = 2;

/// Bytes by direction and flows by layer-7 class of every flow record it is given. Share it
/// (`Arc`) between the writer, which calls [`add`](Self::add), and the metrics source, which
/// calls [`metrics`](Self::metrics).
#[derive(Debug)]
pub struct TrafficAccumulator {
    bytes: [AtomicU64; 3],
    /// `TCP_CLASSES` order, then one slot for codes outside it.
    tcp: [AtomicU64; TCP_CLASSES.len() + 1],
    /// `UDP_CLASSES` order, then one slot for codes outside it.
    udp: [AtomicU64; UDP_CLASSES.len() + 1],
}

impl Default for TrafficAccumulator {
    fn default() -> Self {
        TrafficAccumulator::new()
    }
}

impl TrafficAccumulator {
    /// All counters at 0.
    pub fn new() -> TrafficAccumulator {
        TrafficAccumulator {
            bytes: std::array::from_fn(|_| AtomicU64::new(0)),
            tcp: std::array::from_fn(|_| AtomicU64::new(0)),
            udp: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Counts one record: TCP and UDP flows; the other kinds (messages, periodic bins, ...)
    /// carry no new traffic and are ignored.
    #[inline]
    pub fn add(&self, rec: &FlowRecord) {
        match rec {
            FlowRecord::Tcp(t) => self.add_tcp(t),
            FlowRecord::Udp(u) => self.add_udp(u),
            // Messages, periodic bins and the like belong to flows counted when they close.
            _ => {}
        }
    }

    fn add_tcp(&self, t: &TcpRecord) {
        self.add_bytes(
            t.c_isint,
            t.s_isint,
            t.dirs[0].bytes_all,
            t.dirs[1].bytes_all,
        );
        self.tcp[tcp_slot(t.l7.con_t)].fetch_add(1, Ordering::Relaxed);
    }

    fn add_udp(&self, u: &UdpRecord) {
        self.add_bytes(u.c_isint, u.s_isint, u.dirs[0].bytes, u.dirs[1].bytes);
        let [c, s] = u.l7.types;
        let code = if c != types::UDP_UNKNOWN { c } else { s };
        self.udp[udp_slot(code)].fetch_add(1, Ordering::Relaxed);
    }

    /// Client-to-server bytes go from the client to the server, server-to-client bytes the
    /// other way; each is placed by its sender's and receiver's side.
    fn add_bytes(&self, c_isint: bool, s_isint: bool, c2s: u64, s2c: u64) {
        for (from, to, n) in [(c_isint, s_isint, c2s), (s_isint, c_isint, s2c)] {
            let slot = match (from, to) {
                (true, false) => OUT,
                (false, true) => IN,
                (true, true) => LOCAL,
                (false, false) => continue,
            };
            if n != 0 {
                self.bytes[slot].fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// The counters, to be saved with the control plane's checkpoint: a plane restarted from
    /// it [`restore`](Self::restore)s them, so Prometheus counters never go backwards.
    pub fn save(&self) -> TrafficState {
        let m = self.metrics();
        let mut state = TrafficState {
            bytes: [m.bytes_in, m.bytes_out, m.bytes_local],
            ..TrafficState::default()
        };
        for ((proto, class), n) in m.l7_flows {
            let table = if proto == "tcp" {
                &mut state.tcp
            } else {
                &mut state.udp
            };
            if n != 0 {
                table.insert(class, n);
            }
        }
        state
    }

    /// Sets the counters to a saved state (classes this version does not know count as
    /// `other`).
    pub fn restore(&self, s: &TrafficState) {
        for (a, v) in self.bytes.iter().zip(s.bytes) {
            a.store(v, Ordering::Relaxed);
        }
        let put = |slots: &[AtomicU64],
                   names: &mut dyn Iterator<Item = &str>,
                   saved: &BTreeMap<String, u64>| {
            let names: Vec<&str> = names.collect();
            for a in slots {
                a.store(0, Ordering::Relaxed);
            }
            for (class, n) in saved {
                let i = names
                    .iter()
                    .position(|c| c == class)
                    .unwrap_or(slots.len() - 1);
                slots[i].fetch_add(*n, Ordering::Relaxed);
            }
        };
        put(&self.tcp, &mut TCP_CLASSES.iter().map(|(_, n)| *n), &s.tcp);
        put(&self.udp, &mut UDP_CLASSES.iter().map(|(_, n)| *n), &s.udp);
    }

    /// The totals so far. Every known class appears (0 included), so each series exists from
    /// the first scrape; `other` appears once a code outside the tables was seen.
    pub fn metrics(&self) -> TrafficMetrics {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut l7_flows = BTreeMap::new();
        let tcp = TCP_CLASSES.iter().map(|(_, n)| *n).chain([OTHER]);
        for (name, n) in tcp.zip(&self.tcp) {
            let n = load(n);
            if n != 0 || name != OTHER {
                l7_flows.insert(("tcp".to_string(), name.to_string()), n);
            }
        }
        let udp = UDP_CLASSES.iter().map(|(_, n)| *n).chain([OTHER]);
        for (name, n) in udp.zip(&self.udp) {
            let n = load(n);
            if n != 0 || name != OTHER {
                l7_flows.insert(("udp".to_string(), name.to_string()), n);
            }
        }
        TrafficMetrics {
            bytes_in: load(&self.bytes[IN]),
            bytes_out: load(&self.bytes[OUT]),
            bytes_local: load(&self.bytes[LOCAL]),
            l7_flows,
        }
    }
}

/// [`TrafficAccumulator`]'s counters in a checkpoint: bytes in, out and local; flows by class
/// name (those not 0).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TrafficState {
    /// Bytes in, out, local.
    pub bytes: [u64; 3],
    /// TCP flows by class.
    pub tcp: BTreeMap<String, u64>,
    /// UDP flows by class.
    pub udp: BTreeMap<String, u64>,
}

/// `TCP_CLASSES` index of a `con_t`: 0 when no bit is set, else its lowest bit's entry (the
/// table lists the bits in order from bit 0), or the slot after the table.
#[inline]
fn tcp_slot(con_t: u32) -> usize {
    if con_t == 0 {
        return 0;
    }
    let bit = con_t.trailing_zeros() as usize;
    (bit + 1).min(TCP_CLASSES.len())
}

/// `UDP_CLASSES` index of a UDP type code (the table is indexed by code), or the slot after it.
#[inline]
fn udp_slot(code: u8) -> usize {
    usize::from(code).min(UDP_CLASSES.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::record::{TcpDirRecord, UdpDirRecord};
    use std::net::{IpAddr, Ipv4Addr};

    fn tcp(c_isint: bool, s_isint: bool, c2s: u64, s2c: u64, con_t: u32) -> FlowRecord {
        let mut dirs = [TcpDirRecord::default(); 2];
        dirs[0].bytes_all = c2s;
        dirs[1].bytes_all = s2c;
        let mut r = TcpRecord {
            c_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            c_port: 40000,
            s_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
            s_port: 443,
            c_isint,
            s_isint,
            first: Default::default(),
            last: Default::default(),
            complete: true,
            dirs,
            l7: Default::default(),
            dns: Default::default(),
            rates: Default::default(),
        };
        r.l7.con_t = con_t;
        FlowRecord::Tcp(r)
    }

    fn udp(c_isint: bool, s_isint: bool, c2s: u64, s2c: u64, types: [u8; 2]) -> FlowRecord {
        let mut dirs = [UdpDirRecord::default(); 2];
        dirs[0].bytes = c2s;
        dirs[1].bytes = s2c;
        let mut r = UdpRecord {
            c_ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            c_port: 40000,
            s_ip: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 53)),
            s_port: 53,
            c_isint,
            s_isint,
            dirs,
            l7: Default::default(),
            dns: Default::default(),
        };
        r.l7.types = types;
        FlowRecord::Udp(r)
    }

    fn flows(m: &TrafficMetrics, proto: &str, class: &str) -> Option<u64> {
        m.l7_flows
            .get(&(proto.to_string(), class.to_string()))
            .copied()
    }

    #[test]
    fn tables_follow_the_codes_they_are_indexed_by() {
        for (i, (bit, _)) in TCP_CLASSES.iter().enumerate().skip(1) {
            assert_eq!(*bit, 1 << (i - 1), "TCP_CLASSES[{i}]");
            assert_eq!(tcp_slot(*bit), i);
        }
        for (i, (code, _)) in UDP_CLASSES.iter().enumerate() {
            assert_eq!(usize::from(*code), i, "UDP_CLASSES[{i}]");
        }
    }

    #[test]
    fn directions_are_relative_to_each_sender() {
        let acc = TrafficAccumulator::new();
        // Internal client, external server: upload is out, download in.
        acc.add(&tcp(true, false, 100, 1000, con::HTTP));
        // External client, internal server: the request comes in, the answer goes out.
        acc.add(&tcp(false, true, 10, 20, 0));
        // Both internal: everything is local.
        acc.add(&udp(true, true, 3, 4, [types::DNS, types::DNS]));
        // Neither: no direction (Tstat does not log these, but a record must not count).
        acc.add(&udp(false, false, 7, 7, [0, 0]));
        let m = acc.metrics();
        assert_eq!(m.bytes_out, 100 + 20);
        assert_eq!(m.bytes_in, 1000 + 10);
        assert_eq!(m.bytes_local, 3 + 4);
    }

    #[test]
    fn flows_count_once_under_their_class() {
        let acc = TrafficAccumulator::new();
        acc.add(&tcp(true, false, 1, 1, con::HTTP));
        acc.add(&tcp(true, false, 1, 1, con::HTTP | con::ICY));
        acc.add(&tcp(true, false, 1, 1, con::SSL));
        acc.add(&tcp(true, false, 1, 1, 0));
        acc.add(&tcp(true, false, 1, 1, 1 << 30));
        acc.add(&udp(true, false, 1, 1, [0, types::UDP_QUIC]));
        acc.add(&udp(true, false, 1, 1, [types::DNS, 0]));
        acc.add(&udp(true, false, 1, 1, [200, 0]));
        let m = acc.metrics();
        assert_eq!(flows(&m, "tcp", "http"), Some(2));
        assert_eq!(flows(&m, "tcp", "icy"), Some(0));
        assert_eq!(flows(&m, "tcp", "ssl"), Some(1));
        assert_eq!(flows(&m, "tcp", "unknown"), Some(1));
        assert_eq!(flows(&m, "tcp", "other"), Some(1));
        assert_eq!(flows(&m, "udp", "quic"), Some(1));
        assert_eq!(flows(&m, "udp", "dns"), Some(1));
        assert_eq!(flows(&m, "udp", "unknown"), Some(0));
        assert_eq!(flows(&m, "udp", "other"), Some(1));
        assert_eq!(m.l7_flows.values().sum::<u64>(), 8);
    }

    #[test]
    fn an_empty_accumulator_lists_every_known_class() {
        let acc = TrafficAccumulator::new();
        let m = acc.metrics();
        assert_eq!(m.bytes_in + m.bytes_out + m.bytes_local, 0);
        assert_eq!(
            flows(&m, "tcp", "other"),
            None,
            "other appears only when seen"
        );
        assert_eq!(m.l7_flows.len(), TCP_CLASSES.len() + UDP_CLASSES.len());
    }

    #[test]
    fn saved_counters_restore_into_a_new_accumulator() {
        let a = TrafficAccumulator::new();
        a.add(&tcp(true, false, 100, 2000, con::HTTP));
        a.add(&tcp(false, true, 7, 9, con::SSL | con::HTTP));
        a.add(&tcp(true, true, 5, 6, 1 << 31));
        let saved: TrafficState =
            serde_json::from_str(&serde_json::to_string(&a.save()).unwrap()).unwrap();
        let b = TrafficAccumulator::new();
        b.add(&tcp(true, false, 1, 1, con::SSH));
        b.restore(&saved);
        assert_eq!(b.metrics(), a.metrics());
        assert_eq!(saved.tcp.get("http"), Some(&2));
        assert_eq!(saved.tcp.get("other"), Some(&1));
        assert_eq!(saved.bytes, [2000 + 7, 100 + 9, 11]);
    }
}
