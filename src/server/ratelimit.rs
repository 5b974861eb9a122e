//! A token bucket per client prefix (IPv4 /32 and IPv6 /56 by default).
//!
//! Generous by default (100 queries/s sustained, bursts of 1000): a child's blocked app that
//! retries hundreds of times a minute must not cut the household off, as Pi-hole's 1000/min
//! default does. It exists for floods and for ISPs. Loopback is exempt unless configured.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use ipnet::IpNet;

use crate::clients::NetworkTable;
use crate::config::RateLimitConfig;

/// Above this many tracked prefixes, idle (full) buckets are forgotten.
const MAX_TRACKED: usize = 100_000;

struct Bucket {
    tokens: f64,
    last: Instant,
}

pub struct RateLimiter {
    qps: f64,
    burst: f64,
    v4_prefix: u8,
    v6_prefix: u8,
    exempt: NetworkTable<()>,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    /// A limiter, or `None` when the limit is off (`qps = 0`).
    pub fn new(config: &RateLimitConfig) -> Option<RateLimiter> {
        (config.qps > 0).then(|| RateLimiter {
            qps: f64::from(config.qps),
            burst: f64::from(config.burst),
            v4_prefix: config.ipv4_prefix,
            v6_prefix: config.ipv6_prefix,
            exempt: config.exempt.iter().copied().collect(),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a token for `ip`; false when the client is over its limit.
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        let ip = ip.to_canonical();
        if self.exempt.contains(ip) {
            return true;
        }
        let key = match ip {
            IpAddr::V4(_) => IpNet::new(ip, self.v4_prefix),
            IpAddr::V6(_) => IpNet::new(ip, self.v6_prefix),
        }
        .map_or(ip, |n| n.trunc().addr());
        let mut buckets = self.buckets.lock().expect("not poisoned");
        if buckets.len() > MAX_TRACKED {
            let (qps, burst) = (self.qps, self.burst);
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * qps < burst);
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let refill = now.duration_since(bucket.last).as_secs_f64() * self.qps;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::RateLimitAction;

    #[test]
    fn bursts_then_refills_per_prefix() {
        let rl = RateLimiter::new(&RateLimitConfig {
            qps: 10,
            burst: 5,
            ipv4_prefix: 32,
            ipv6_prefix: 56,
            exempt: vec!["127.0.0.0/8".parse().unwrap()],
            action: RateLimitAction::Refused,
        })
        .unwrap();
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        assert!((0..5).all(|_| rl.allow(a, t0)));
        assert!(!rl.allow(a, t0));
        assert!(
            rl.allow("192.0.2.2".parse().unwrap(), t0),
            "another client has its own bucket"
        );
        assert!(
            rl.allow(a, t0 + Duration::from_millis(100)),
            "refilled at 10/s"
        );
        // Two addresses in one /56 share a bucket.
        let v6a: IpAddr = "2001:db8:0:100::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8:0:1ff::2".parse().unwrap();
        assert!((0..5).all(|_| rl.allow(v6a, t0)));
        assert!(!rl.allow(v6b, t0));
        assert!(
            (0..100).all(|_| rl.allow("127.0.0.1".parse().unwrap(), t0)),
            "exempt"
        );
    }
}
