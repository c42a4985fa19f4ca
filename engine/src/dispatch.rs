//! Spreading packets over workers in software: which worker owns a packet, decided by the
//! symmetric Toeplitz hash of its flow (both directions → same worker), exactly what a NIC with
//! the symmetric RSS key decides in hardware.
//!
//! Owns the routing decision and its fast path: untagged or VLAN/QinQ-tagged Ethernet carrying
//! IPv4 or IPv6 straight to TCP/UDP is hashed from the header bytes in place; anything else goes
//! through the full decode chain, which yields the same five-tuple and hence the same hash. A
//! frame that carries no flow at all has no owner: the caller gives it to a worker round-robin,
//! only so that it is counted exactly once.

use crate::hash::Toeplitz;
use crate::wire::{self, LinkType, L4};

/// Where a packet goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The flow hash, or `None` for a frame without a TCP/UDP flow.
    pub hash: Option<u32>,
    /// UDP to or from port 53: a DNS response here must be snooped for DN-Hunter.
    pub dns: bool,
}

/// Routes one frame.
#[inline]
pub fn route(hasher: &Toeplitz, link: LinkType, frame: &[u8]) -> Route {
    if link == LinkType::Ethernet {
        if let Some(r) = fast(hasher, frame) {
            return r;
        }
    }
    match wire::decode(link, frame) {
        Ok(p) => {
            let dns = matches!(&p.l4, L4::Udp(u) if u.src_port == 53 || u.dst_port == 53);
            Route {
                hash: Some(hasher.hash_tuple(&p.five_tuple())),
                dns,
            }
        }
        Err(_) => Route {
            hash: None,
            dns: false,
        },
    }
}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The common case, without building a [`wire::Packet`]. Returns `None` whenever the full
/// chain is needed (other encapsulations, fragments, IPv6 extension headers, short frames).
#[inline]
fn fast(hasher: &Toeplitz, frame: &[u8]) -> Option<Route> {
    let mut off = 12;
    let mut ethertype = be16(frame, off)?;
    while matches!(ethertype, 0x8100 | 0x88a8 | 0x9100) {
        off += 4;
        ethertype = be16(frame, off)?;
    }
    let ip = off + 2;
    let (proto, l4, mut input, n) = match ethertype {
        0x0800 => {
            let vihl = *frame.get(ip)?;
            let ihl = usize::from(vihl & 0x0f) * 4;
            let frag = be16(frame, ip + 6)? & 0x1fff;
            if vihl >> 4 != 4 || ihl < 20 || frag != 0 {
                return None;
            }
            let mut input = [0u8; 36];
            input[..8].copy_from_slice(frame.get(ip + 12..ip + 20)?);
            (*frame.get(ip + 9)?, ip + ihl, input, 12)
        }
        0x86dd => {
            if *frame.get(ip)? >> 4 != 6 {
                return None;
            }
            let mut input = [0u8; 36];
            input[..32].copy_from_slice(frame.get(ip + 8..ip + 40)?);
            (*frame.get(ip + 6)?, ip + 40, input, 36)
        }
        _ => return None,
    };
    if proto != 6 && proto != 17 {
        return None;
    }
    // The decode chain needs the whole TCP (20) or UDP (8) header to call it a flow.
    frame.get(l4..l4 + if proto == 6 { 20 } else { 8 })?;
    input[n - 4..n].copy_from_slice(frame.get(l4..l4 + 4)?);
    let dns = proto == 17 && (be16(frame, l4)? == 53 || be16(frame, l4 + 2)? == 53);
    Some(Route {
        hash: Some(hasher.hash_bytes(&input[..n])),
        dns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path must agree with the full decode chain on every frame it accepts.
    #[test]
    fn fast_path_agrees_with_the_decode_chain_on_real_traffic() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/pcaps");
        let h = crate::hash::symmetric();
        let (mut fast_n, mut total) = (0, 0);
        for entry in std::fs::read_dir(&dir).expect("tests/pcaps exists") {
            let path = entry.expect("listing tests/pcaps").path();
            let mut t = crate::source::TraceFile::open(&path).expect("fixture traces open");
            while let Ok(Some(b)) = t.next_batch(256) {
                for d in &b.packets {
                    let frame = b.data(d);
                    total += 1;
                    let slow = match wire::decode(d.link, frame) {
                        Ok(p) => Some(h.hash_tuple(&p.five_tuple())),
                        Err(_) => None,
                    };
                    if d.link == LinkType::Ethernet {
                        if let Some(r) = fast(h, frame) {
                            fast_n += 1;
                            if slow.is_some() {
                                assert_eq!(r.hash, slow, "{}: packet {total}", path.display());
                            }
                        }
                    }
                    // Every frame that carries a flow has an owner.
                    assert!(route(h, d.link, frame).hash.is_some() || slow.is_none());
                }
            }
        }
        assert!(
            fast_n * 10 > total * 8,
            "the fast path should take most packets: {fast_n}/{total}"
        );
    }

    #[test]
    fn both_directions_route_alike_and_garbage_has_no_owner() {
        let h = crate::hash::symmetric();
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x08, 0x00]); // one VLAN tag, IPv4
        f.extend_from_slice(&[
            0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]); // 12345 -> 53
        let a = route(h, LinkType::Ethernet, &f);
        assert!(a.dns);
        let mut g = f.clone();
        g[30..34].copy_from_slice(&[10, 0, 0, 2]);
        g[34..38].copy_from_slice(&[10, 0, 0, 1]);
        g[38..42].copy_from_slice(&[0x00, 0x35, 0x30, 0x39]);
        assert_eq!(route(h, LinkType::Ethernet, &g).hash, a.hash);
        assert_eq!(route(h, LinkType::Ethernet, &[0u8; 20]).hash, None);
    }
}
