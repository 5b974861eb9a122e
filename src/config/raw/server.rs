//! `[server]`: where the DNS listeners bind, who may query them, whom to believe about a
//! client's identity, the server's time zone, the rate limit, and (in [`super::listeners`])
//! the TCP and UDP resource bounds.

use std::net::SocketAddr;

use serde::Deserialize;
use toml::Spanned;

use super::{Check, listeners, tls};
use crate::config::address::is_public;
use crate::config::{PRIVATE_NETWORKS, RateLimitAction, RateLimitConfig, ServerConfig};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    listen: Option<Vec<Spanned<String>>>,
    allow_clients: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    trusted_forwarders: Vec<Spanned<String>>,
    #[serde(default)]
    trusted_proxies: Vec<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    rate_limit: RawRateLimit,
    #[serde(default)]
    tcp: listeners::RawTcp,
    #[serde(default)]
    udp: listeners::RawUdp,
    tls: Option<tls::RawTls>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    #[serde(default = "default_qps")]
    qps: u32,
    #[serde(default = "default_burst")]
    burst: u32,
    #[serde(default = "default_v4_prefix")]
    ipv4_prefix: u8,
    #[serde(default = "default_v6_prefix")]
    ipv6_prefix: u8,
    exempt: Option<Vec<Spanned<String>>>,
    action: Option<Spanned<String>>,
    #[serde(default = "default_max_clients")]
    max_clients: usize,
}

impl Default for RawRateLimit {
    fn default() -> Self {
        RawRateLimit {
            qps: default_qps(),
            burst: default_burst(),
            ipv4_prefix: default_v4_prefix(),
            ipv6_prefix: default_v6_prefix(),
            exempt: None,
            action: None,
            max_clients: default_max_clients(),
        }
    }
}

fn default_qps() -> u32 {
    100
}
fn default_burst() -> u32 {
    1000
}
fn default_max_clients() -> usize {
    100_000
}
fn default_v4_prefix() -> u8 {
    32
}
fn default_v6_prefix() -> u8 {
    56
}

/// The listen address when the config gives none: loopback on an unprivileged port, so a
/// first start neither needs root nor serves anyone else.
const DEFAULT_LISTEN: ([u8; 4], u16) = ([127, 0, 0, 1], 5353);

pub(super) fn server(c: &mut Check<'_>, raw: &RawServer) -> ServerConfig {
    let listen = match &raw.listen {
        Some(v) => v
            .iter()
            .filter_map(|a| c.socket_addr("listen", a))
            .collect(),
        None => vec![SocketAddr::from(DEFAULT_LISTEN)],
    };
    let allow_clients = match &raw.allow_clients {
        Some(v) => c.networks("allow_clients", v),
        None => PRIVATE_NETWORKS
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect(),
    };
    let trusted_forwarders = c.networks("trusted_forwarders", &raw.trusted_forwarders);
    let trusted_proxies = c.networks("trusted_proxies", &raw.trusted_proxies);
    if raw.allow_clients.is_none()
        && let Some(public) = raw.listen.iter().flatten().find(|a| {
            a.get_ref()
                .parse::<SocketAddr>()
                .is_ok_and(|a| is_public(a.ip()))
        })
    {
        c.err(public, Some("listen"), format!("`{}` is a public address: set server.allow_clients explicitly, or familydns would serve only private ranges there (and an open resolver is never the default)", public.get_ref()));
    }
    let rate_limit = rate_limit(c, &raw.rate_limit);
    let tcp = listeners::tcp(c, &raw.tcp);
    let udp = listeners::udp(c, &raw.udp);
    let tls = raw.tls.as_ref().map(|t| tls::tls(c, t));
    let timezone = match &raw.timezone {
        Some(name) => c.timezone(name),
        None => jiff::tz::TimeZone::system(),
    };
    ServerConfig {
        listen,
        allow_clients,
        trusted_forwarders,
        trusted_proxies,
        timezone,
        rate_limit,
        tcp,
        udp,
        tls,
    }
}

/// `[server.rate_limit]`. Out-of-range numbers are clamped rather than refused: a prefix
/// longer than the address or a zero burst has one sensible meaning.
fn rate_limit(c: &mut Check<'_>, rl: &RawRateLimit) -> RateLimitConfig {
    RateLimitConfig {
        qps: rl.qps,
        burst: rl.burst.max(1),
        ipv4_prefix: rl.ipv4_prefix.min(32),
        ipv6_prefix: rl.ipv6_prefix.min(128),
        max_clients: rl.max_clients.max(1),
        exempt: match &rl.exempt {
            Some(v) => c.networks("exempt", v),
            None => ["127.0.0.0/8", "::1/128"]
                .iter()
                .filter_map(|n| n.parse().ok())
                .collect(),
        },
        action: c.choose(
            rl.action.as_ref(),
            "action",
            &[
                ("refused", RateLimitAction::Refused),
                ("drop", RateLimitAction::Drop),
                ("slip", RateLimitAction::Slip),
            ],
        ),
    }
}
