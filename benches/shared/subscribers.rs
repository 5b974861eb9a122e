//! Synthetic ISP subscribers, the same on every run: IPv4 hosts (/32) in 10.0.0.0/8 and
//! IPv6 delegations (/56) in 2001:db8::/32, each a distinct prefix (an odd multiplier is a
//! bijection modulo a power of two), with eight profiles. Used by `benches/directory.rs`
//! and `examples/directory_5m.rs`, which `#[path]`-include this file.

use std::net::{Ipv4Addr, Ipv6Addr};

pub const PROFILES: [&str; 8] = [
    "kids", "teen", "family", "strict", "school", "guest", "night", "open",
];

/// Of `n` subscribers, this share (in fifths) is IPv4.
const V4_FIFTHS: usize = 4;

/// The `i`th of `n` subscribers: its prefix (as PostgreSQL prints a `cidr`) and profile.
pub fn subscriber(i: usize, n: usize) -> (String, &'static str) {
    let profile = PROFILES[i % PROFILES.len()];
    let v4 = n * V4_FIFTHS / 5;
    if i < v4 {
        (format!("{}/32", v4_host(i)), profile)
    } else {
        (format!("{}/56", v6_delegation(i - v4)), profile)
    }
}

pub fn v4_host(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0000 | ((i as u32).wrapping_mul(0x9e37_79b1) & 0x00ff_ffff))
}

pub fn v6_delegation(j: usize) -> Ipv6Addr {
    let site = u128::from((j as u32).wrapping_mul(0x85eb_ca6b) & 0x00ff_ffff);
    Ipv6Addr::from((0x2001_0db8u128 << 96) | (site << 72))
}
