//! Connection slots: at most `max_connections` open in total and `max_per_client` per
//! client, where a client is an IPv4 address or an IPv6 /64. A /64 is what one household
//! (or one attacker) gets, and a single host can use any number of addresses in it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use prometheus::IntGauge;

/// The open connections, shared by every TCP listener (file descriptors are per process).
pub struct Slots {
    max_total: usize,
    max_per_client: usize,
    open: Mutex<Open>,
    /// `familydns_tcp_connections`.
    gauge: IntGauge,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

impl Slots {
    pub fn new(max_total: usize, max_per_client: usize, gauge: IntGauge) -> Arc<Slots> {
        Arc::new(Slots {
            max_total,
            max_per_client,
            open: Mutex::new(Open::default()),
            gauge,
        })
    }

    /// A slot for a connection from `ip`, or `None` when the total or the client's share is
    /// taken.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        self.take(Some(client_key(ip)))
    }

    /// A slot for a connection from a trusted proxy, counted in the total only: a load
    /// balancer carries many clients' connections, and limiting each of them is its job.
    pub fn acquire_for_proxy(self: &Arc<Self>) -> Option<Slot> {
        self.take(None)
    }

    fn take(self: &Arc<Self>, client: Option<IpAddr>) -> Option<Slot> {
        let mut open = self.open.lock().expect("not poisoned");
        if open.total >= self.max_total {
            return None;
        }
        if let Some(client) = client {
            let n = open.per_client.entry(client).or_default();
            if *n >= self.max_per_client {
                return None;
            }
            *n += 1;
        }
        open.total += 1;
        self.gauge.inc();
        Some(Slot {
            slots: self.clone(),
            client,
        })
    }
}

/// One open connection's claim, released when the connection ends.
pub struct Slot {
    slots: Arc<Slots>,
    /// `None` for a proxy's connection.
    client: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().expect("not poisoned");
        open.total -= 1;
        if let Some(client) = self.client
            && let Some(n) = open.per_client.get_mut(&client)
        {
            *n -= 1;
            if *n == 0 {
                open.per_client.remove(&client);
            }
        }
        self.slots.gauge.dec();
    }
}

/// What the per-client cap counts by: the IPv4 address (IPv4-mapped IPv6 included), or the
/// IPv6 /64.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    // Loopback has one IPv6 address (::1), so two addresses of one /64 cannot connect from
    // it in a test: the keying is tested here, the cap itself through the server.
    #[test]
    fn ipv6_clients_are_counted_per_64() {
        assert_eq!(client_key(ip("2001:db8:1:2::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            client_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            ip("2001:db8:1:2::")
        );
        assert_ne!(client_key(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
    }

    #[test]
    fn two_addresses_of_one_64_share_the_cap() {
        let gauge = IntGauge::new("open", "open").unwrap();
        let slots = Slots::new(10, 2, gauge.clone());
        let first = slots.acquire(ip("2001:db8::1")).expect("first");
        let _second = slots.acquire(ip("2001:db8::2")).expect("second");
        assert!(
            slots.acquire(ip("2001:db8::3")).is_none(),
            "a third in the /64"
        );
        assert!(
            slots.acquire(ip("2001:db8:0:1::1")).is_some(),
            "another /64"
        );
        drop(first);
        assert!(slots.acquire(ip("2001:db8::3")).is_some(), "released");
        assert_eq!(gauge.get(), 1, "only the second is still held");
    }

    #[test]
    fn the_total_is_capped() {
        let slots = Slots::new(2, 10, IntGauge::new("open", "open").unwrap());
        let _a = slots.acquire(ip("192.0.2.1")).expect("a");
        let _b = slots.acquire(ip("192.0.2.2")).expect("b");
        assert!(slots.acquire(ip("192.0.2.3")).is_none());
    }

    #[test]
    fn a_proxy_counts_in_the_total_only() {
        let slots = Slots::new(3, 1, IntGauge::new("open", "open").unwrap());
        let _a = slots.acquire_for_proxy().expect("a");
        let _b = slots.acquire_for_proxy().expect("b");
        let c = slots.acquire(ip("192.0.2.1")).expect("a client's own");
        assert!(slots.acquire_for_proxy().is_none(), "the total");
        drop(c);
        assert!(slots.acquire_for_proxy().is_some(), "released");
    }
}
