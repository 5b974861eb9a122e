//! The configuration contract (DESIGN.md): `familydns.toml` plus one file per profile.
//!
//! Loading is two steps: serde reads the TOML into `raw` types (syntax, types and unknown
//! keys, with the line of the first error per file), then [`load`] checks meaning (addresses,
//! prefixes, references between clients, profiles and list categories) and collects *every*
//! error with file, line and key, so `familydns validate` can list them all at once.

mod address;
mod dnstap;
mod error;
pub mod exchange;
mod raw;
mod server;
mod trends;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

pub use address::parse_mac;
pub use dnstap::{DnstapConfig, DnstapTarget};
pub use error::{ConfigError, ConfigErrors};
pub use raw::DirectoryConfig;
pub use raw::{ComplaintToken, ComplaintsConfig, Role};
pub use server::{RateLimitAction, RateLimitConfig, ServerConfig, TcpConfig, TlsConfig, UdpConfig};
pub use trends::{ProfileKind, TrendsConfig};

use crate::lists::Format;

/// Default for `server.allow_clients`: loopback and private ranges only, so that a resolver
/// started with an incomplete config is never an open resolver.
pub const PRIVATE_NETWORKS: &[&str] = &[
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
    "fe80::/10",
];

/// Most lists one config may have. Lists are selected through their categories, so this
/// bounds only memory and load time, not the lookup (list ids are `u16` with two bits for a
/// rule's kind beside them while matching).
pub const MAX_LISTS: usize = 4096;

/// Most distinct list categories: profiles select categories by the bits of a `u64`.
pub const MAX_CATEGORIES: usize = 64;

/// A loaded and validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub server: ServerConfig,
    pub upstream: UpstreamConfig,
    pub metrics: Option<MetricsConfig>,
    /// The parents' page (`[parents]`), served on the metrics listener; `None` when off.
    pub parents: Option<ParentsConfig>,
    /// `[complaints]`: filing bounds and the API's tokens (defaults when absent).
    pub complaints: ComplaintsConfig,
    pub lists: Vec<ListConfig>,
    /// Where downloaded lists are kept (`cache_dir`, default `cache/` next to the config).
    pub cache_dir: PathBuf,
    /// The name classifier's model (`classifier`), applied to names no rule matched.
    pub classifier: Option<PathBuf>,
    /// The query log (`[query_log]`); `None` when turned off.
    pub query_log: Option<QueryLogConfig>,
    /// The dnstap stream (`[dnstap]`); `None` when not configured.
    pub dnstap: Option<DnstapConfig>,
    /// Trend research (`[trends]`); `None` when the section is absent.
    pub trends: Option<TrendsConfig>,
    pub clients: Vec<ClientConfig>,
    pub default_profile: String,
    pub profiles: Vec<ProfileConfig>,
    /// `[[tsig_key]]`: secrets shared with the parties of the RPZ exchange.
    pub tsig_keys: Vec<exchange::TsigKeyConfig>,
    /// `[exchange]`: the RPZ feed we publish; `None` when off.
    pub exchange: Option<exchange::ExchangeConfig>,
    /// The PostgreSQL subscriber directory (`[directory]`); `None` when off.
    pub directory: Option<DirectoryConfig>,
}

/// How the upstreams are used (`upstream.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamStrategy {
    /// In the order given; the next only when one fails.
    Failover,
    /// The fastest by measured latency first (hickory's query statistics).
    Fastest,
    /// Race two at once; the first answer wins.
    Parallel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    pub servers: Vec<Upstream>,
    pub timeout: Duration,
    pub cache_entries: u64,
    /// Approximate bytes the cached answers may take.
    pub cache_bytes: u64,
    pub strategy: UpstreamStrategy,
    /// How long past its TTL an answer may still be served when every upstream fails
    /// (RFC 8767); zero turns it off.
    pub serve_stale: Duration,
}

/// Transport to an upstream resolver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamProtocol {
    Udp,
    Tcp,
    Tls,
    Https,
}

/// One `upstream.servers` URL: `udp://ip:port`, `tcp://…`, `tls://ip:port#tls-name`,
/// `https://host[:port]/path[#tls-name]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub url: String,
    pub protocol: UpstreamProtocol,
    /// An IP literal, or a host name resolved once at start-up (HTTPS URLs).
    pub host: String,
    pub port: u16,
    pub tls_name: Option<String>,
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    pub listen: SocketAddr,
    /// Bearer token for `/admin/*` on the same listener; the admin endpoints are off
    /// without one.
    pub admin_token: Option<String>,
    /// Connections served at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
}

/// `[parents]`: the login of the parents' page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentsConfig {
    /// The argon2 PHC string of the password (`familydns passwd` prints it).
    pub password_hash: String,
    /// How long a login lasts (`session_hours`).
    pub session: Duration,
    /// The name devices look up to reach the child's page (`page_name`), lowercase, and the
    /// address it answers with (`page_address`, else the metrics listener's).
    pub page_name: String,
    pub page_address: IpAddr,
    /// Where asks and alerts are POSTed as JSON (`webhook`): ntfy, Gotify, Home Assistant.
    pub webhook: Option<String>,
    /// Asks one device may send per hour (`asks_per_hour`).
    pub asks_per_hour: u32,
    /// Picks the default helplines shown with alert categories (`country`, ISO 3166 code).
    pub country: Option<String>,
    /// The parent's own help texts by category (`[parents.help]`), before the defaults.
    pub help: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct ListConfig {
    pub name: String,
    pub category: String,
    /// The file read into the snapshot: the list itself, or the cached copy of a download.
    pub source: PathBuf,
    pub format: Format,
    /// Where a downloaded list comes from (`source = "https://…"`).
    pub url: Option<String>,
    /// How often a downloaded list is fetched again.
    pub refresh: Duration,
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub name: String,
    pub networks: Vec<IpNet>,
    /// MAC addresses, matched when a trusted forwarder passes them along.
    pub macs: Vec<[u8; 6]>,
    /// Ids named by encrypted connections (`match = ["id:alice-phone"]`).
    pub ids: Vec<crate::clients::ClientId>,
    pub profile: String,
}

/// `block_bypass` of a profile: how much of the ways around the filter to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockBypass {
    Off,
    /// The DoH canary, iCloud Private Relay and the built-in public DoH/DoT resolvers: what
    /// a household needs without breaking a parent's work VPN.
    Resolvers,
    /// Those and the `bypass` category (VPNs, proxies, unblockers): for a child (`true`).
    All,
}

/// `safe_search` of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SafeSearch {
    Off,
    /// YouTube's strict mode (`true` means this).
    Strict,
    /// YouTube's moderate mode; other engines have one mode.
    Moderate,
}

/// One `[[schedule]]` window of a profile, in the profile's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// Monday first; a window that crosses midnight belongs to the day it starts.
    pub days: [bool; 7],
    /// Minutes after midnight.
    pub from: u16,
    pub to: u16,
    /// Bedtime: only the profile's `allow` names resolve.
    pub block_all: bool,
    /// Categories blocked during the window (school hours).
    pub block: Vec<String>,
}

/// One `[[budget]]` of a profile: minutes a day of lookups in some categories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetConfig {
    /// The categories that share the budget, as written.
    pub categories: Vec<String>,
    /// Minutes of activity a day, counted per distinct minute with a lookup.
    pub minutes: u32,
}

/// `[query_log]`: where the log lives and how far its writer may fall behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryLogConfig {
    /// The SQLite database (default `querylog.db` in `cache_dir`).
    pub path: PathBuf,
    /// Entries waiting for the writer at most; past it entries are dropped and counted.
    pub queue: usize,
}

/// `log` of a profile: what the query log keeps of its queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogMode {
    /// Every query, with its name.
    Full,
    /// Blocked queries with their names; the rest only counted.
    Blocked,
    /// Counts per hour, decision and category, no names (grown-ups' devices).
    Counts,
    /// Nothing at all.
    Off,
}

/// What a blocked name gets back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockAnswer {
    NxDomain,
    /// 0.0.0.0 for A, :: for AAAA, NODATA for other types.
    Null,
    /// A block-page address: A or AAAA depending on its family, NODATA for the other.
    Ip(IpAddr),
}

/// One child's (or household's) policy, from `profiles_dir/<name>.toml`.
#[derive(Debug, Clone)]
pub struct ProfileConfig {
    pub name: String,
    pub file: PathBuf,
    /// Categories blocked at all times.
    pub block: Vec<String>,
    /// Names (and their subdomains) that resolve whatever the lists say.
    pub allow: Vec<String>,
    /// Names (and their subdomains) blocked whatever the lists say.
    pub deny: Vec<String>,
    pub block_answer: BlockAnswer,
    pub safe_search: SafeSearch,
    /// Blocks DoH/VPN/relay names (the `bypass` category) and answers the browsers' DoH
    /// canary and iCloud Private Relay with NXDOMAIN.
    pub block_bypass: BlockBypass,
    pub timezone: jiff::tz::TimeZone,
    pub schedules: Vec<ScheduleConfig>,
    /// Daily budgets (`[[budget]]`); a category is in at most one.
    pub budgets: Vec<BudgetConfig>,
    /// What the query log keeps of this profile's queries (`log`).
    pub log: LogMode,
    /// Days the log keeps this profile's rows (`log_days`).
    pub log_days: u32,
    /// Categories whose blocked lookups alert the parent (`alert`).
    pub alert: Vec<String>,
    /// Whom the profile is for (`kind`), as trends count it.
    pub kind: ProfileKind,
}

impl Config {
    /// Every category some list declares.
    pub fn categories(&self) -> BTreeSet<&str> {
        self.lists.iter().map(|l| l.category.as_str()).collect()
    }
}

/// Loads `path` and its profiles, returning every error found.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    raw::load(path)
}

/// Checks `text` as the new content of `file`, one of `config`'s profiles, against the
/// categories and zone of `config`, without touching the file: an edit from the parents'
/// page is checked with this and written only when it passes.
pub fn check_profile(
    config: &Config,
    file: &Path,
    text: &str,
) -> Result<ProfileConfig, ConfigErrors> {
    raw::check_profile(config, file, text)
}

/// Parses a duration such as `24h`, `90m`, `30s`, `1d` (or `1h 30m`): humantime's syntax,
/// where `m` is minutes. Shared by the config and the admin endpoint's `for=45m`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    humantime::parse_duration(s.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_their_spellings() {
        for (text, secs) in [
            ("24h", 86_400),
            ("90m", 5_400),
            ("1d", 86_400),
            ("0s", 0),
            ("45m", 2_700),
            ("120s", 120),
            (" 5s ", 5),
        ] {
            assert_eq!(
                parse_duration(text),
                Some(Duration::from_secs(secs)),
                "{text}"
            );
        }
        for bad in ["", "5", "m", "-1s", "5x", "1.5.h", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
