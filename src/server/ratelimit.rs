//! A rate limit per client: per device behind a trusted forwarder, else per source prefix
//! (IPv4 /32 and IPv6 /56 by default).
//!
//! Generous by default (100 queries/s sustained, bursts of 1000): a child's blocked app that
//! retries hundreds of times a minute must not cut the household off, as Pi-hole's 1000/min
//! default does. It exists for floods and for ISPs. Loopback is exempt unless configured.
//!
//! Each client is one GCRA cell (a theoretical arrival time, 8 bytes: the token bucket
//! without floats). The table is split into shards behind their own mutexes, so the hot path
//! takes no global lock. `governor` was the other candidate; it does not fit two needs:
//!
//! - A hard bound. Its keyed store grows with every new key until `retain_recent()` runs,
//!   and it cannot tell "known key" from "new key" without inserting it. Here each shard
//!   holds at most its share of `max_clients`. When a shard is full, idle clients (whose
//!   cell has refilled, so forgetting them loses nothing) are swept, at most once a second
//!   so that a flood cannot make every query pay an O(n) sweep; a new client that still
//!   finds no room shares the shard's overflow cell. A spoofed-source flood therefore gets
//!   at most one client's rate per shard between all its sources, while every client
//!   already tracked keeps its own allowance.
//! - Keys that are devices, not addresses: behind `server.trusted_forwarders` the router is
//!   the source of every query in the house, so a device's MAC (EDNS 65001/65073) or ECS
//!   address keys the cell, and one device cannot drain the whole house's allowance.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use ipnet::IpNet;
use prometheus::IntGauge;

use crate::clients::NetworkTable;
use crate::config::{RateLimitAction, RateLimitConfig};
use crate::snapshot::Client;

/// At most this many shards; fewer for a small `max_clients`, so that each shard still has
/// room for [`MIN_PER_SHARD`] clients and a small bound is exact.
const MAX_SHARDS: usize = 64;
const MIN_PER_SHARD: usize = 1024;
/// A full shard sweeps idle clients at most this often.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Whom a cell belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    /// A source (or ECS) address truncated to the configured prefix.
    Prefix(IpAddr),
    /// A device a trusted forwarder named by MAC.
    Device([u8; 6]),
}

/// One shard: its clients' theoretical arrival times (nanoseconds since the limiter's
/// epoch), and the cell new clients share when the shard is full.
#[derive(Default)]
struct Shard {
    cells: HashMap<Key, u64>,
    overflow: u64,
    next_sweep: u64,
}

pub struct RateLimiter {
    /// Nanoseconds one query costs (1 / qps).
    interval: u64,
    /// How far ahead of now a cell may run: `burst - 1` queries.
    tolerance: u64,
    v4_prefix: u8,
    v6_prefix: u8,
    exempt: NetworkTable<()>,
    epoch: Instant,
    per_shard: usize,
    shards: Box<[Mutex<Shard>]>,
    hasher: std::collections::hash_map::RandomState,
    /// `familydns_rate_limit_clients`: cells in the table.
    tracked: IntGauge,
}

impl RateLimiter {
    /// A limiter, or `None` when the limit is off (`qps = 0`).
    pub fn new(config: &RateLimitConfig, tracked: IntGauge) -> Option<RateLimiter> {
        if config.qps == 0 {
            return None;
        }
        let max = config.max_clients.max(1);
        let shards = (max / MIN_PER_SHARD).clamp(1, MAX_SHARDS);
        let interval = 1_000_000_000 / u64::from(config.qps);
        tracked.set(0);
        Some(RateLimiter {
            interval,
            tolerance: interval * u64::from(config.burst.max(1) - 1),
            v4_prefix: config.ipv4_prefix,
            v6_prefix: config.ipv6_prefix,
            exempt: config.exempt.iter().copied().collect(),
            epoch: Instant::now(),
            per_shard: max.div_ceil(shards),
            shards: (0..shards).map(|_| Mutex::default()).collect(),
            hasher: Default::default(),
            tracked,
        })
    }

    /// Takes one query's allowance for `client`, who sent from `src`; false when it is over
    /// its limit. `src` decides the exemption (a spoofable EDNS option must not).
    pub fn allow(&self, src: IpAddr, client: &Client, now: Instant) -> bool {
        if self.exempt.contains(src.to_canonical()) {
            return true;
        }
        let key = match client.mac {
            Some(mac) => Key::Device(mac),
            None => {
                let ip = client.ip.to_canonical();
                let prefix = match ip {
                    IpAddr::V4(_) => self.v4_prefix,
                    IpAddr::V6(_) => self.v6_prefix,
                };
                Key::Prefix(IpNet::new(ip, prefix).map_or(ip, |n| n.trunc().addr()))
            }
        };
        let now =
            u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        let index = (self.hasher.hash_one(key) % self.shards.len() as u64) as usize;
        let mut shard = self.shards[index].lock().expect("not poisoned");
        if let Some(cell) = shard.cells.get_mut(&key) {
            return self.take(cell, now);
        }
        let before = shard.cells.len();
        if before >= self.per_shard && now >= shard.next_sweep {
            shard.cells.retain(|_, tat| *tat > now);
            shard.next_sweep = now.saturating_add(SWEEP_EVERY.as_nanos() as u64);
        }
        let allowed = if shard.cells.len() < self.per_shard {
            let mut cell = now;
            let allowed = self.take(&mut cell, now);
            shard.cells.insert(key, cell);
            allowed
        } else {
            let mut overflow = shard.overflow;
            let allowed = self.take(&mut overflow, now);
            shard.overflow = overflow;
            allowed
        };
        let after = shard.cells.len();
        drop(shard);
        self.tracked.add(after as i64 - before as i64);
        allowed
    }

    /// GCRA: a query at `now` conforms when the cell runs at most `tolerance` ahead of now;
    /// it then moves the cell one interval on.
    fn take(&self, tat: &mut u64, now: u64) -> bool {
        let start = (*tat).max(now);
        if start - now > self.tolerance {
            return false;
        }
        *tat = start + self.interval;
        true
    }
}

/// The rate limit in force, replaced whole when a reload changes `server.rate_limit`
/// (clients start again with a full allowance).
pub struct Limit {
    current: ArcSwap<(RateLimitConfig, Option<RateLimiter>)>,
    tracked: IntGauge,
}

impl Limit {
    pub fn new(config: &RateLimitConfig, tracked: IntGauge) -> Limit {
        let limiter = RateLimiter::new(config, tracked.clone());
        Limit {
            current: ArcSwap::from_pointee((config.clone(), limiter)),
            tracked,
        }
    }

    /// Applies a reloaded `server.rate_limit`; returns whether it changed.
    pub fn reconfigure(&self, config: &RateLimitConfig) -> bool {
        if self.current.load().0 == *config {
            return false;
        }
        let limiter = RateLimiter::new(config, self.tracked.clone());
        self.current.store(Arc::new((config.clone(), limiter)));
        true
    }

    /// `None` when the query may go on; else what a client over its limit gets.
    pub fn over(&self, src: IpAddr, client: &Client, now: Instant) -> Option<RateLimitAction> {
        let current = self.current.load();
        let (config, limiter) = &**current;
        let limiter = limiter.as_ref()?;
        (!limiter.allow(src, client, now)).then_some(config.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RateLimitAction;

    fn limiter(burst: u32, max_clients: usize) -> RateLimiter {
        RateLimiter::new(
            &RateLimitConfig {
                qps: 10,
                burst,
                ipv4_prefix: 32,
                ipv6_prefix: 56,
                exempt: vec!["127.0.0.0/8".parse().unwrap()],
                action: RateLimitAction::Refused,
                max_clients,
            },
            IntGauge::new("t", "t").unwrap(),
        )
        .unwrap()
    }

    fn at(ip: &str) -> (IpAddr, Client) {
        let ip: IpAddr = ip.parse().unwrap();
        (ip, Client::address(ip))
    }

    #[test]
    fn bursts_then_refills_per_prefix() {
        let rl = limiter(5, 100_000);
        let t0 = Instant::now();
        let (a, ca) = at("192.0.2.1");
        assert!((0..5).all(|_| rl.allow(a, &ca, t0)));
        assert!(!rl.allow(a, &ca, t0));
        let (b, cb) = at("192.0.2.2");
        assert!(rl.allow(b, &cb, t0), "another client has its own cell");
        assert!(
            rl.allow(a, &ca, t0 + Duration::from_millis(100)),
            "refilled at 10/s"
        );
        // Two addresses in one /56 share a cell.
        let (v6a, c6a) = at("2001:db8:0:100::1");
        let (v6b, c6b) = at("2001:db8:0:1ff::2");
        assert!((0..5).all(|_| rl.allow(v6a, &c6a, t0)));
        assert!(!rl.allow(v6b, &c6b, t0));
        let (lo, clo) = at("127.0.0.1");
        assert!((0..100).all(|_| rl.allow(lo, &clo, t0)), "exempt");
    }

    #[test]
    fn the_table_is_bounded_and_idle_clients_make_room() {
        let rl = limiter(2, 3);
        let t0 = Instant::now();
        for i in 0..3 {
            let (ip, c) = at(&format!("192.0.2.{i}"));
            assert!(rl.allow(ip, &c, t0));
        }
        assert_eq!(rl.tracked.get(), 3);
        // Full: new clients share one overflow cell (burst 2).
        let fresh: Vec<bool> = (10..20)
            .map(|i| {
                let (ip, c) = at(&format!("192.0.2.{i}"));
                rl.allow(ip, &c, t0)
            })
            .collect();
        assert_eq!(fresh.iter().filter(|&&ok| ok).count(), 2, "{fresh:?}");
        assert_eq!(rl.tracked.get(), 3, "never grows past the bound");
        // A second later the tracked clients are idle: the sweep makes room.
        let (ip, c) = at("192.0.2.30");
        assert!(rl.allow(ip, &c, t0 + Duration::from_secs(1)));
        assert_eq!(rl.tracked.get(), 1);
    }
}
