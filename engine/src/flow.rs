//! The per-worker flow table: lookup by either direction, creation, packet-time timeouts and
//! bounded memory.
//!
//! Owns: the map from a direction-independent key to a slot, the slots themselves (a slab, so a
//! flow never moves and slots are reused without allocating), and four intrusive lists ordered
//! by last activity — TCP singletons, other TCP flows, UDP singletons, other UDP flows — so the
//! garbage collector finds expired flows at the heads in O(expired), whatever the time gap
//! (Tstat's sweep loop hangs on long gaps; this cannot). Does not own the statistics of a flow
//! (see `tcp` and `udp`) or what happens to a closed flow's record (see `worker`).
//!
//! Timing follows Tstat: idle flows are only closed by a collector pass, which runs when a new
//! flow is created and at least `gc_fire_us` of packet time passed since the previous pass; a
//! flow idle past its timeout that sees another packet before any pass simply goes on.

use crate::tcp::TcpFlow;
use crate::time::Timestamp;
use crate::udp::UdpFlow;
use std::net::IpAddr;

/// A flow key that is the same for both directions: the two endpoints in canonical order,
/// addresses packed into 128-bit integers so that hashing and comparing a key are a few word
/// operations (the table lookup is on every packet's path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    lo: u128,
    hi: u128,
    lo_port: u16,
    hi_port: u16,
    /// IP protocol, with [`V6_FLAG`] set for IPv6 endpoints.
    proto: u8,
}

const V6_FLAG: u8 = 0x80;

impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(self.lo);
        state.write_u128(self.hi);
        state.write_u64(
            u64::from(self.lo_port) << 24 | u64::from(self.hi_port) << 8 | u64::from(self.proto),
        );
    }
}

#[inline]
fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

impl FlowKey {
    /// The key of a packet from `src:sp` to `dst:dp`, and whether `src:sp` is the `lo` end.
    #[inline]
    pub fn new(src: IpAddr, sp: u16, dst: IpAddr, dp: u16, proto: u8) -> (FlowKey, bool) {
        let proto = if src.is_ipv6() {
            proto | V6_FLAG
        } else {
            proto
        };
        let (a, b) = ((bits(src), sp), (bits(dst), dp));
        let src_is_lo = a <= b;
        let (lo, hi) = if src_is_lo { (a, b) } else { (b, a) };
        (
            FlowKey {
                lo: lo.0,
                hi: hi.0,
                lo_port: lo.1,
                hi_port: hi.1,
                proto,
            },
            src_is_lo,
        )
    }

    fn addr(&self, bits: u128) -> IpAddr {
        if self.proto & V6_FLAG != 0 {
            IpAddr::V6(std::net::Ipv6Addr::from(bits))
        } else {
            IpAddr::V4(std::net::Ipv4Addr::from(bits as u32))
        }
    }

    /// The `lo` endpoint.
    pub fn lo(&self) -> (IpAddr, u16) {
        (self.addr(self.lo), self.lo_port)
    }

    /// The `hi` endpoint.
    pub fn hi(&self) -> (IpAddr, u16) {
        (self.addr(self.hi), self.hi_port)
    }
}

/// The protocol state of a flow.
// Flow state lives inline in the table slot on purpose: boxing the TCP state would add an
// allocation per flow and a pointer chase per packet.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum FlowState {
    /// TCP.
    Tcp(TcpFlow),
    /// UDP.
    Udp(UdpFlow),
}

/// One tracked flow.
#[derive(Debug)]
pub struct Flow {
    /// The table key.
    pub key: FlowKey,
    /// Whether the client is the key's `lo` end.
    pub client_is_lo: bool,
    /// Client address is internal (decided on the first packet).
    pub c_isint: bool,
    /// Server address is internal.
    pub s_isint: bool,
    /// Protocol state.
    pub state: FlowState,
    /// DN-Hunter: the name the client resolved for the server before the flow began.
    pub dns: Option<std::sync::Arc<crate::l7::dns::DnsEntry>>,
    /// Packets of the flow that may still look its name up (live capture on several cores:
    /// the response may reach this core's cache a little after the flow's first packet).
    pub dns_retry: u8,
    prev: u32,
    next: u32,
    list: u8,
}

impl Flow {
    /// Client address and port.
    pub fn client(&self) -> (IpAddr, u16) {
        if self.client_is_lo {
            self.key.lo()
        } else {
            self.key.hi()
        }
    }

    /// Server address and port.
    pub fn server(&self) -> (IpAddr, u16) {
        if self.client_is_lo {
            self.key.hi()
        } else {
            self.key.lo()
        }
    }

    fn last_time(&self) -> Timestamp {
        match &self.state {
            FlowState::Tcp(t) => t.last_time(),
            FlowState::Udp(u) => u.last_time(),
        }
    }

    fn wanted_list(&self) -> u8 {
        match &self.state {
            FlowState::Tcp(t) if t.is_singleton() => LIST_TCP_SINGLE,
            FlowState::Tcp(_) => LIST_TCP,
            FlowState::Udp(u) if u.is_singleton() => LIST_UDP_SINGLE,
            FlowState::Udp(_) => LIST_UDP,
        }
    }
}

const NIL: u32 = u32::MAX;
const LIST_TCP_SINGLE: u8 = 0;
const LIST_TCP: u8 = 1;
const LIST_UDP_SINGLE: u8 = 2;
const LIST_UDP: u8 = 3;

/// A slot index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowId(pub u32);

/// Why a flow left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Closed by a timeout (idle or singleton).
    Timeout,
    /// Evicted because the table was full.
    Evicted,
}

/// The flow table of one worker.
pub struct FlowTable {
    /// Slot indices, hashed by the key stored in the slot: the index is all the table holds,
    /// so a tracked flow costs a few bytes of table beyond its slot.
    map: hashbrown::HashTable<u32>,
    hasher: ahash::RandomState,
    slots: Vec<Option<Flow>>,
    free: Vec<u32>,
    heads: [u32; 4],
    tails: [u32; 4],
    counts: [usize; 2],
    last_gc: Option<Timestamp>,
}

impl Default for FlowTable {
    fn default() -> Self {
        Self::new()
    }
}

impl FlowTable {
    /// An empty table.
    pub fn new() -> FlowTable {
        FlowTable {
            map: hashbrown::HashTable::new(),
            hasher: ahash::RandomState::new(),
            slots: Vec::new(),
            free: Vec::new(),
            heads: [NIL; 4],
            tails: [NIL; 4],
            counts: [0; 2],
            last_gc: None,
        }
    }

    /// Number of TCP and UDP flows tracked.
    pub fn counts(&self) -> (usize, usize) {
        (self.counts[0], self.counts[1])
    }

    /// Finds the flow of a key.
    #[inline]
    pub fn lookup(&self, key: &FlowKey) -> Option<FlowId> {
        let h = self.hasher.hash_one(key);
        let slots = &self.slots;
        self.map
            .find(h, |&i| {
                slots[i as usize].as_ref().is_some_and(|f| f.key == *key)
            })
            .map(|&i| FlowId(i))
    }

    /// The flow in a slot.
    #[inline]
    pub fn get_mut(&mut self, id: FlowId) -> &mut Flow {
        self.slots[id.0 as usize]
            .as_mut()
            .expect("a FlowId always names an occupied slot")
    }

    /// Inserts a new flow and returns its slot.
    pub fn insert(&mut self, flow: Flow) -> FlowId {
        let key = flow.key;
        let tcp = matches!(flow.state, FlowState::Tcp(_));
        let idx = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(flow);
                i
            }
            None => {
                self.slots.push(Some(flow));
                (self.slots.len() - 1) as u32
            }
        };
        self.counts[usize::from(!tcp)] += 1;
        let h = self.hasher.hash_one(key);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.map.insert_unique(h, idx, |&i| {
            slots[i as usize]
                .as_ref()
                .map_or(0, |f| hasher.hash_one(f.key))
        });
        let list = self.slots[idx as usize]
            .as_ref()
            .map(|f| f.wanted_list())
            .unwrap_or(LIST_TCP);
        self.link_tail(idx, list);
        FlowId(idx)
    }

    /// Marks a flow as just active: moves it to the tail of the list its state calls for.
    #[inline]
    pub fn touch(&mut self, id: FlowId) {
        self.unlink(id.0);
        let list = self.get_mut(id).wanted_list();
        self.link_tail(id.0, list);
    }

    /// Removes a flow and returns it.
    pub fn remove(&mut self, id: FlowId) -> Flow {
        self.unlink(id.0);
        let key = self.get_mut(id).key;
        let h = self.hasher.hash_one(key);
        if let Ok(e) = self.map.find_entry(h, |&i| i == id.0) {
            e.remove();
        }
        let flow = self.slots[id.0 as usize]
            .take()
            .expect("a FlowId always names an occupied slot");
        self.free.push(id.0);
        let tcp = matches!(flow.state, FlowState::Tcp(_));
        self.counts[usize::from(!tcp)] -= 1;
        flow
    }

    /// Runs a collector pass if it is due at `now` (call it when a new flow is about to be
    /// created): every flow past its timeout is removed and handed to `on_expired`.
    pub fn maybe_collect(
        &mut self,
        now: Timestamp,
        cfg: &crate::config::EngineConfig,
        mut on_expired: impl FnMut(Flow),
    ) {
        let last = *self.last_gc.get_or_insert(now);
        if now.0 - last.0 <= cfg.gc_fire_us {
            return;
        }
        self.last_gc = Some(now);
        let limits = [
            cfg.tcp_singleton_us,
            cfg.tcp_idle_us,
            cfg.udp_singleton_us,
            cfg.udp_idle_us,
        ];
        for (list, limit) in limits.into_iter().enumerate() {
            loop {
                let h = self.heads[list];
                if h == NIL {
                    break;
                }
                let idle = {
                    let f = self.slots[h as usize]
                        .as_ref()
                        .expect("listed slots are occupied");
                    Timestamp::elapsed_us(f.last_time(), now)
                };
                if idle > limit as f64 {
                    on_expired(self.remove(FlowId(h)));
                } else {
                    break;
                }
            }
        }
    }

    /// Evicts the least recently active flow of a protocol (singletons first) when the table
    /// holds `max` flows of it already.
    pub fn evict_if_full(&mut self, tcp: bool, max: usize) -> Option<Flow> {
        if self.counts[usize::from(!tcp)] < max.max(1) {
            return None;
        }
        let (single, other) = if tcp {
            (LIST_TCP_SINGLE, LIST_TCP)
        } else {
            (LIST_UDP_SINGLE, LIST_UDP)
        };
        let h = if self.heads[single as usize] != NIL {
            self.heads[single as usize]
        } else {
            self.heads[other as usize]
        };
        if h == NIL {
            return None;
        }
        Some(self.remove(FlowId(h)))
    }

    /// Removes every flow, in creation-independent list order, handing each to `f`.
    pub fn drain(&mut self, mut f: impl FnMut(Flow)) {
        while let Some(flow) = self.pop() {
            f(flow);
        }
    }

    /// Removes and returns one flow (the least recently active of the first non-empty list),
    /// or `None` when the table is empty: lets a caller close flows one at a time without
    /// holding them all at once.
    pub fn pop(&mut self) -> Option<Flow> {
        let h = *self.heads.iter().find(|&&h| h != NIL)?;
        Some(self.remove(FlowId(h)))
    }

    fn link_tail(&mut self, idx: u32, list: u8) {
        let l = list as usize;
        let tail = self.tails[l];
        {
            let f = self.slots[idx as usize]
                .as_mut()
                .expect("linking an occupied slot");
            f.prev = tail;
            f.next = NIL;
            f.list = list;
        }
        if tail == NIL {
            self.heads[l] = idx;
        } else if let Some(t) = self.slots[tail as usize].as_mut() {
            t.next = idx;
        }
        self.tails[l] = idx;
    }

    fn unlink(&mut self, idx: u32) {
        let (prev, next, list) = {
            let f = self.slots[idx as usize]
                .as_ref()
                .expect("unlinking an occupied slot");
            (f.prev, f.next, f.list as usize)
        };
        if prev == NIL {
            self.heads[list] = next;
        } else if let Some(p) = self.slots[prev as usize].as_mut() {
            p.next = next;
        }
        if next == NIL {
            self.tails[list] = prev;
        } else if let Some(n) = self.slots[next as usize].as_mut() {
            n.prev = prev;
        }
    }
}

/// Builds a new [`Flow`] for the table.
pub fn new_flow(
    key: FlowKey,
    client_is_lo: bool,
    c_isint: bool,
    s_isint: bool,
    state: FlowState,
) -> Flow {
    Flow {
        key,
        client_is_lo,
        c_isint,
        s_isint,
        state,
        dns: None,
        dns_retry: 0,
        prev: NIL,
        next: NIL,
        list: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Table memory per tracked TCP flow, before range buffers: the slab slot plus the map
    /// entry (slot index + control byte, at hashbrown's 7/8 load factor), plus one range
    /// buffer per direction as a flow starts it (taken from the pool). A direction with many
    /// unacknowledged segments grows its buffer, up to `MAX_SEG_PER_QUAD` ranges per quadrant.
    #[test]
    fn memory_per_tcp_flow_stays_under_one_kib() {
        let slot = std::mem::size_of::<Option<Flow>>();
        let map_entry = (std::mem::size_of::<u32>() + 1) * 8 / 7;
        let ranges = 2 * crate::tcp::INITIAL_RANGES * std::mem::size_of::<crate::tcp::Segment>();
        let total = slot + map_entry + ranges;
        eprintln!(
            "slot {slot} B, map entry {map_entry} B, ranges {ranges} B: {total} B per TCP flow"
        );
        assert!(total <= 1024, "{total} bytes per TCP flow");
    }
}
