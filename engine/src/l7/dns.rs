//! DN-Hunter: associates a flow with the name its client resolved just before (Tstat's
//! `dns_cache.c`), so the logs carry `fqdn`, `dns_rslv`, `req_tm`, `res_tm`.
//!
//! Owns the DNS response parser (questions and A/AAAA answers only), [`DnsSnoop`] — which
//! watches port-53 traffic *where every packet passes in capture order* (the dispatcher in front
//! of the workers) and produces [`DnsEntry`]s with the query and response times — and
//! [`DnsCache`], each worker's replica of Tstat's cache, which a flow consults once, at its
//! creation.
//!
//! Why a replica per worker: the DNS answer and the flow that follows it usually hash to
//! different workers. Every entry is broadcast to every worker in-band, right after the packet
//! that produced it, so each worker sees it at the same point of packet order as Tstat's single
//! cache would; entries are shared (`Arc`), so the replicas cost one map slot per worker and
//! entry, not copies of the names.

use crate::time::Timestamp;
use crate::wire::{Packet, L4};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// Most answers of a response Tstat looks at (`MAX_DNS_ENTRIES`).
pub const MAX_ANSWERS: usize = 30;
/// Tstat's `DNS_Cache_Size` (IPv4 entries).
pub const CACHE_SIZE_V4: usize = 100_000;
/// Tstat's `DNS_Cache_Size_IPv6`.
pub const CACHE_SIZE_V6: usize = 1_000;
const MAX_DEPTH: u32 = 25;
const UDP_IDLE_US: i64 = 200_000_000;

/// One resolved name, as Tstat's cache stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsEntry {
    /// The (last) question name, without the trailing dot.
    pub name: Box<[u8]>,
    /// The client that asked (destination of the response).
    pub client: IpAddr,
    /// The addresses of the answer (A over IPv4 responses, AAAA over IPv6 ones).
    pub addrs: Vec<IpAddr>,
    /// The DNS server that answered (source of the response).
    pub server: IpAddr,
    /// Last client-to-server packet of the DNS flow (the query).
    pub req: Timestamp,
    /// Last server-to-client packet of the DNS flow (the response).
    pub res: Timestamp,
}

/// Reads a DNS name at `off` (Tstat's `read_str`): appends labels joined by dots to `out` and
/// returns the bytes it occupies at `off` (a compression pointer counts 2), or `None` if the
/// name is malformed or leaves the message.
fn read_name(msg: &[u8], off: usize, out: &mut Vec<u8>, depth: u32) -> Option<usize> {
    if depth > MAX_DEPTH {
        return None;
    }
    let len = *msg.get(off)?;
    if len == 0 {
        return Some(1);
    }
    if len & 0xc0 == 0xc0 {
        let ptr = (usize::from(len & 0x3f) << 8) | usize::from(*msg.get(off + 1)?);
        read_name(msg, ptr, out, depth + 1)?;
        return Some(2);
    }
    let label = msg.get(off + 1..off + 1 + usize::from(len))?;
    if !out.is_empty() {
        out.push(b'.');
    }
    out.extend_from_slice(label);
    let rest = read_name(msg, off + 1 + usize::from(len), out, depth + 1)?;
    Some(1 + usize::from(len) + rest)
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(off)?, *b.get(off + 1)?]))
}

/// Parses a DNS response the way DN-Hunter does: every question must be A, AAAA or ANY of class
/// IN; the name is the last question's; the addresses are the A answers (IPv4 response) or AAAA
/// answers (IPv6 response), at most [`MAX_ANSWERS`]. Returns `None` when nothing is cached.
pub fn parse_response(msg: &[u8], over_ipv6: bool) -> Option<(Vec<u8>, Vec<IpAddr>)> {
    let flags = u16_at(msg, 2)?;
    let qd = usize::from(u16_at(msg, 4)?);
    let an = usize::from(u16_at(msg, 6)?);
    if flags & 0x8000 == 0 || an == 0 || an > MAX_ANSWERS {
        return None;
    }
    let mut off = 12;
    let mut name = Vec::new();
    for _ in 0..qd {
        name.clear();
        off += read_name(msg, off, &mut name, 0)?;
        let (qtype, qclass) = (u16_at(msg, off)?, u16_at(msg, off + 2)?);
        if !matches!(qtype, 1 | 28 | 255) || qclass != 1 {
            return None;
        }
        off += 4;
    }
    // Tstat keeps the name as a C string: a comma ends it (it is overwritten with NUL), and so
    // does a NUL byte inside a label.
    if let Some(cut) = name.iter().position(|&b| b == b',' || b == 0) {
        name.truncate(cut);
    }
    let mut addrs = Vec::new();
    let mut scratch = Vec::new();
    for _ in 0..an {
        if addrs.len() >= MAX_ANSWERS {
            break;
        }
        scratch.clear();
        off += read_name(msg, off, &mut scratch, 0)?;
        let rtype = u16_at(msg, off)?;
        let class = u16_at(msg, off + 2)?;
        let rdlen = usize::from(u16_at(msg, off + 8)?);
        off += 10;
        let rdata = msg.get(off..off + rdlen)?;
        match (rtype, class, over_ipv6) {
            (1, 1, false) => {
                for a in rdata.chunks_exact(4).take(MAX_ANSWERS - addrs.len()) {
                    addrs.push(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])));
                }
            }
            (28, 1, true) => {
                for a in rdata.chunks_exact(16).take(MAX_ANSWERS - addrs.len()) {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(a);
                    addrs.push(IpAddr::V6(Ipv6Addr::from(b)));
                }
            }
            _ => {}
        }
        off += rdlen;
    }
    if addrs.is_empty() {
        return None;
    }
    Some((name, addrs))
}

/// An address and port.
type Endpoint = (IpAddr, u16);

#[derive(Debug, Clone, Copy)]
struct DnsFlow {
    client: (IpAddr, u16),
    last: [Timestamp; 2],
    last_any: Timestamp,
}

/// Watches DNS traffic in capture order and produces cache entries. Tracks, per DNS flow, the
/// last packet time of each direction, as Tstat's UDP flow does (the first sender is the client;
/// a flow idle longer than the UDP idle timeout starts afresh).
#[derive(Debug, Default)]
pub struct DnsSnoop {
    flows: hashbrown::HashMap<(Endpoint, Endpoint), DnsFlow, ahash::RandomState>,
    seen: u64,
}

impl DnsSnoop {
    /// Looks at one decoded packet; returns the entry to broadcast if it is a DNS response
    /// worth caching.
    pub fn observe(&mut self, pkt: &Packet<'_>, now: Timestamp) -> Option<Arc<DnsEntry>> {
        let L4::Udp(u) = &pkt.l4 else { return None };
        if u.src_port != 53 && u.dst_port != 53 {
            return None;
        }
        let a = (pkt.src, u.src_port);
        let b = (pkt.dst, u.dst_port);
        let key = if a <= b { (a, b) } else { (b, a) };
        self.seen += 1;
        if self.seen % 4096 == 0 {
            self.flows
                .retain(|_, f| now.0 - f.last_any.0 <= UDP_IDLE_US);
        }
        let f = self.flows.entry(key).or_insert(DnsFlow {
            client: a,
            last: [Timestamp(0); 2],
            last_any: now,
        });
        if now.0 - f.last_any.0 > UDP_IDLE_US {
            *f = DnsFlow {
                client: a,
                last: [Timestamp(0); 2],
                last_any: now,
            };
        }
        let dir = usize::from(f.client != a);
        f.last[dir] = now;
        f.last_any = now;
        let (req, res) = (f.last[0], f.last[1]);
        let (name, addrs) = parse_response(u.payload, pkt.src.is_ipv6())?;
        Some(Arc::new(DnsEntry {
            name: name.into_boxed_slice(),
            client: pkt.dst,
            addrs,
            server: pkt.src,
            req,
            res,
        }))
    }
}

/// A worker's replica of Tstat's DNS cache: the most recent entry for (client, address), with
/// the oldest entries overwritten once the cyclic store is full.
#[derive(Debug)]
pub struct DnsCache {
    map: hashbrown::HashMap<(IpAddr, IpAddr), (bool, u32), ahash::RandomState>,
    ring: [Vec<Option<Arc<DnsEntry>>>; 2],
    next: [usize; 2],
    caps: [usize; 2],
}

impl Default for DnsCache {
    fn default() -> Self {
        DnsCache::with_capacity(CACHE_SIZE_V4, CACHE_SIZE_V6)
    }
}

impl DnsCache {
    /// A cache holding at most `v4` IPv4 and `v6` IPv6 entries.
    pub fn with_capacity(v4: usize, v6: usize) -> DnsCache {
        DnsCache {
            map: hashbrown::HashMap::with_hasher(ahash::RandomState::with_seeds(5, 6, 7, 8)),
            ring: [Vec::new(), Vec::new()],
            next: [0, 0],
            caps: [v4.max(1), v6.max(1)],
        }
    }

    /// Adds an entry, overwriting the oldest one when full.
    pub fn insert(&mut self, e: Arc<DnsEntry>) {
        let fam = usize::from(e.client.is_ipv6());
        let slot = self.next[fam];
        self.next[fam] = (slot + 1) % self.caps[fam];
        let ring = &mut self.ring[fam];
        if ring.len() <= slot {
            ring.push(None);
        }
        if let Some(old) = ring[slot].take() {
            for a in &old.addrs {
                if self.map.get(&(old.client, *a)) == Some(&(fam == 1, slot as u32)) {
                    self.map.remove(&(old.client, *a));
                }
            }
        }
        for a in &e.addrs {
            self.map.insert((e.client, *a), (fam == 1, slot as u32));
        }
        self.ring[fam][slot] = Some(e);
    }

    /// The most recent entry of `client` resolving `server`.
    pub fn lookup(&self, client: &IpAddr, server: &IpAddr) -> Option<Arc<DnsEntry>> {
        let &(v6, slot) = self.map.get(&(*client, *server))?;
        self.ring[usize::from(v6)].get(slot as usize)?.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response for `www.example.com` A: CNAME to `cdn.example.net`, then two A records.
    fn response() -> Vec<u8> {
        let mut m = vec![
            0x12, 0x34, // id
            0x81, 0x80, // QR=1, RD, RA, rcode 0
            0, 1, 0, 3, 0, 0, 0, 0, // qd 1, an 3, ns 0, ar 0
        ];
        m.extend_from_slice(b"\x03www\x07example\x03com\x00");
        m.extend_from_slice(&[0, 1, 0, 1]); // A, IN
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 17]); // ptr to qname, CNAME, ttl 60, rdlen 17
        m.extend_from_slice(b"\x03cdn\x07example\x03net\x00");
        m.extend_from_slice(&[0xc0, 33, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]); // A
        m.extend_from_slice(&[0xc0, 33, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 35]); // A
        m
    }

    #[test]
    fn a_answers_of_any_owner_resolve_to_the_question_name() {
        let (name, addrs) = parse_response(&response(), false).unwrap();
        assert_eq!(name, b"www.example.com");
        assert_eq!(
            addrs,
            vec![
                "93.184.216.34".parse::<IpAddr>().unwrap(),
                "93.184.216.35".parse().unwrap()
            ]
        );
        assert!(
            parse_response(&response(), true).is_none(),
            "A answers over IPv6 are ignored"
        );
    }

    #[test]
    fn queries_non_address_questions_and_garbage_are_not_cached() {
        let mut q = response();
        q[2] = 0x01; // QR = 0
        assert!(parse_response(&q, false).is_none());
        let mut mx = response();
        mx[33] = 15; // question type MX
        assert!(parse_response(&mx, false).is_none());
        let r = response();
        for cut in 0..r.len() {
            let _ = parse_response(&r[..cut], false);
        }
        let mut looped = response();
        looped[29] = 0xc0; // the question name points at itself
        looped[30] = 29;
        let _ = parse_response(&looped, false);
    }

    #[test]
    fn cache_keeps_the_most_recent_entry_and_forgets_overwritten_ones() {
        let entry = |name: &[u8], a: &str| {
            Arc::new(DnsEntry {
                name: name.into(),
                client: "10.0.0.1".parse().unwrap(),
                addrs: vec![a.parse().unwrap()],
                server: "8.8.8.8".parse().unwrap(),
                req: Timestamp(1),
                res: Timestamp(2),
            })
        };
        let mut c = DnsCache::with_capacity(2, 1);
        let client: IpAddr = "10.0.0.1".parse().unwrap();
        c.insert(entry(b"a.com", "1.1.1.1"));
        c.insert(entry(b"b.com", "1.1.1.1"));
        assert_eq!(
            &*c.lookup(&client, &"1.1.1.1".parse().unwrap()).unwrap().name,
            b"b.com"
        );
        c.insert(entry(b"c.com", "2.2.2.2"));
        c.insert(entry(b"d.com", "3.3.3.3")); // overwrites the b.com slot
        assert!(c.lookup(&client, &"1.1.1.1".parse().unwrap()).is_none());
        assert_eq!(
            &*c.lookup(&client, &"3.3.3.3".parse().unwrap()).unwrap().name,
            b"d.com"
        );
    }
}
