//! Internal networks (Tstat's `-N` file): decides whether an address is "internal".
//!
//! Owns the prefix sets and Tstat's defaults: without any list every address is internal, and
//! a list with no entry for one address family makes every address of that family internal.
//! Parsing the file lives in `control`; this module only answers membership queries.

use std::net::IpAddr;

/// A set of internal IPv4 and IPv6 prefixes.
#[derive(Debug, Clone, Default)]
pub struct NetSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

impl NetSet {
    /// The empty set: every address is internal (Tstat without `-N`).
    pub fn all_internal() -> NetSet {
        NetSet::default()
    }

    /// Adds a prefix; host bits of `addr` are masked off.
    pub fn add(&mut self, addr: IpAddr, prefix_len: u8) {
        match addr {
            IpAddr::V4(a) => {
                let len = u32::from(prefix_len.min(32));
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                self.v4.push((u32::from(a) & mask, mask));
            }
            IpAddr::V6(a) => {
                let len = u32::from(prefix_len.min(128));
                let mask = if len == 0 {
                    0
                } else {
                    u128::MAX << (128 - len)
                };
                self.v6.push((u128::from(a) & mask, mask));
            }
        }
    }

    /// Adds an IPv4 network with an explicit netmask (Tstat's `a.b.c.d/m.m.m.m` form).
    pub fn add_v4_mask(&mut self, net: std::net::Ipv4Addr, mask: std::net::Ipv4Addr) {
        let m = u32::from(mask);
        self.v4.push((u32::from(net) & m, m));
    }

    /// Number of IPv4 and IPv6 prefixes.
    pub fn len(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    /// Whether no prefix at all was given.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Whether `addr` is internal.
    #[inline]
    pub fn is_internal(&self, addr: &IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => {
                if self.v4.is_empty() {
                    return true;
                }
                let x = u32::from(*a);
                self.v4.iter().any(|&(n, m)| x & m == n)
            }
            IpAddr::V6(a) => {
                if self.v6.is_empty() {
                    return true;
                }
                let x = u128::from(*a);
                self.v6.iter().any(|&(n, m)| x & m == n)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_prefixes() {
        let mut n = NetSet::all_internal();
        assert!(n.is_internal(&"8.8.8.8".parse().unwrap()));
        n.add("10.0.0.0".parse().unwrap(), 8);
        assert!(n.is_internal(&"10.1.2.3".parse().unwrap()));
        assert!(!n.is_internal(&"11.1.2.3".parse().unwrap()));
        // No IPv6 entry: every IPv6 address is internal, as in Tstat.
        assert!(n.is_internal(&"2001:db8::1".parse().unwrap()));
        n.add("fc00::".parse().unwrap(), 7);
        assert!(n.is_internal(&"fd00::1".parse().unwrap()));
        assert!(!n.is_internal(&"2001:db8::1".parse().unwrap()));
        n.add_v4_mask(
            "192.168.0.0".parse().unwrap(),
            "255.255.0.0".parse().unwrap(),
        );
        assert!(n.is_internal(&"192.168.7.7".parse().unwrap()));
    }
}
