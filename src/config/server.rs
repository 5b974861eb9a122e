//! The listeners' settings (`[server]`): addresses, who may ask, and the bounds each
//! transport puts on its clients.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: Vec<SocketAddr>,
    pub allow_clients: Vec<IpNet>,
    /// Only these may tell us a client's MAC (EDNS0 65001/65073) or subnet (ECS).
    pub trusted_forwarders: Vec<IpNet>,
    /// Load balancers whose PROXY v2 header names the real client (dnsdist).
    pub trusted_proxies: Vec<IpNet>,
    /// Zone of the schedules of profiles that do not set their own.
    pub timezone: jiff::tz::TimeZone,
    pub rate_limit: RateLimitConfig,
    pub tcp: TcpConfig,
    pub udp: UdpConfig,
    /// `[server.tls]`: DoT and DoH; `None` when not configured.
    pub tls: Option<TlsConfig>,
}

/// `[server.tls]`. Encrypted connections share `server.tcp`'s bounds and slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM files, re-read when they change.
    pub cert: PathBuf,
    pub key: PathBuf,
    pub dot_listen: Vec<SocketAddr>,
    pub doh_listen: Vec<SocketAddr>,
    /// A DoT server name `{id}.{client_id_domain}` names client `id` (lowercase, no
    /// final dot).
    pub client_id_domain: Option<String>,
}

/// `server.tcp`: what one TCP client, or all of them, may hold of the resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConfig {
    /// Open connections in total, across every listen address.
    pub max_connections: usize,
    /// Open connections per client: per IPv4 address, per IPv6 /64 (one household's
    /// prefix, which a single host can fill with addresses).
    pub max_per_client: usize,
    /// Queries of one connection being answered at once; at the cap the connection is not
    /// read until an answer has been written (backpressure).
    pub max_in_flight: usize,
    /// A connection with no query for this long, and nothing in flight, is closed.
    pub idle_timeout: Duration,
    /// An answer not taken by the client within this long closes the connection.
    pub write_timeout: Duration,
    /// A connection is closed after this long, however busy.
    pub max_lifetime: Duration,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            max_connections: 1024,
            max_per_client: 32,
            max_in_flight: 16,
            idle_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(5),
            max_lifetime: Duration::from_secs(120),
        }
    }
}

/// `server.udp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpConfig {
    /// UDP queries waiting for an upstream at once, across every socket; past it a query
    /// that needs the upstream is answered SERVFAIL at once.
    pub max_waiting: usize,
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig { max_waiting: 4096 }
    }
}

/// `server.rate_limit`: a token bucket per client prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Sustained queries per second per client prefix; 0 turns the limit off.
    pub qps: u32,
    /// Queries a client may send at once before the sustained rate applies.
    pub burst: u32,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    /// Never limited (default: loopback).
    pub exempt: Vec<IpNet>,
    pub action: RateLimitAction,
    /// Most clients tracked at once; past it, new clients share an overflow allowance
    /// (a spoofed-source flood cannot grow the table).
    pub max_clients: usize,
}

/// What a client over its limit gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitAction {
    Refused,
    /// No answer at all.
    Drop,
    /// An empty answer with TC=1: a real client retries over TCP, a spoofed flood goes nowhere.
    Slip,
}
