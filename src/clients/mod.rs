//! Who is asking: source addresses to profiles, and who may ask at all.

mod id;

pub use id::{BadId, ClientId};

use std::net::IpAddr;

use ipnet::IpNet;
use prefix_trie::joint::map::JointPrefixMap;

/// Longest-prefix lookup over IPv4 and IPv6 networks.
///
/// IPv4-mapped IPv6 sources (`::ffff:192.0.2.1`, seen on dual-stack sockets) are looked up
/// as the IPv4 address they are.
#[derive(Debug, Clone)]
pub struct NetworkTable<T> {
    map: JointPrefixMap<IpNet, T>,
}

impl<T> Default for NetworkTable<T> {
    fn default() -> Self {
        NetworkTable {
            map: JointPrefixMap::new(),
        }
    }
}

impl<T> NetworkTable<T> {
    /// Inserts a network; the first value inserted for a given network wins.
    pub fn insert(&mut self, net: IpNet, value: T) {
        if self.map.get(&net).is_none() {
            self.map.insert(net, value);
        }
    }

    /// The value of the most specific network containing `ip`.
    pub fn lookup(&self, ip: IpAddr) -> Option<&T> {
        let ip = ip.to_canonical();
        self.map.get_lpm(&IpNet::from(ip)).map(|(_, v)| v)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.lookup(ip).is_some()
    }
}

impl FromIterator<IpNet> for NetworkTable<()> {
    fn from_iter<I: IntoIterator<Item = IpNet>>(iter: I) -> Self {
        let mut t = NetworkTable::default();
        for net in iter {
            t.insert(net, ());
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_across_families() {
        let mut t = NetworkTable::default();
        t.insert("10.0.0.0/8".parse().unwrap(), "wide");
        t.insert("10.9.0.0/24".parse().unwrap(), "narrow");
        t.insert("10.9.0.7/32".parse().unwrap(), "host");
        t.insert("fd00::/8".parse().unwrap(), "v6");
        assert_eq!(t.lookup("10.1.2.3".parse().unwrap()), Some(&"wide"));
        assert_eq!(t.lookup("10.9.0.8".parse().unwrap()), Some(&"narrow"));
        assert_eq!(t.lookup("10.9.0.7".parse().unwrap()), Some(&"host"));
        assert_eq!(t.lookup("::ffff:10.9.0.7".parse().unwrap()), Some(&"host"));
        assert_eq!(t.lookup("fd12::1".parse().unwrap()), Some(&"v6"));
        assert_eq!(t.lookup("192.0.2.1".parse().unwrap()), None);
    }
}
