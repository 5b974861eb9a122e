//! Serde shapes of the TOML files and their conversion into a validated [`Config`].

mod listeners;
mod metrics;

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use super::{
    BlockAnswer, BlockBypass, ClientConfig, Config, ConfigError, ConfigErrors, ListConfig,
    PRIVATE_NETWORKS, ProfileConfig, RateLimitAction, RateLimitConfig, SafeSearch, ScheduleConfig,
    ServerConfig, Upstream, UpstreamConfig, UpstreamProtocol, UpstreamStrategy, parse_duration,
};
use crate::lists::Format;
use crate::name;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    upstream: RawUpstream,
    metrics: Option<metrics::RawMetrics>,
    #[serde(default, rename = "list")]
    lists: Vec<RawList>,
    profiles_dir: Option<Spanned<String>>,
    cache_dir: Option<String>,
    classifier: Option<Spanned<String>>,
    #[serde(default, rename = "client")]
    clients: Vec<RawClient>,
    default_profile: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<Vec<Spanned<String>>>,
    allow_clients: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    trusted_forwarders: Vec<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    rate_limit: RawRateLimit,
    #[serde(default)]
    tcp: listeners::RawTcp,
    #[serde(default)]
    udp: listeners::RawUdp,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpstream {
    servers: Vec<Spanned<String>>,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: Spanned<u64>,
    #[serde(default = "default_cache_entries")]
    cache_entries: u64,
    #[serde(default = "default_cache_bytes")]
    cache_bytes: u64,
    strategy: Option<Spanned<String>>,
    serve_stale: Option<Spanned<String>>,
}

impl Default for RawUpstream {
    fn default() -> Self {
        RawUpstream {
            servers: Vec::new(),
            timeout_ms: default_timeout_ms(),
            cache_entries: default_cache_entries(),
            cache_bytes: default_cache_bytes(),
            strategy: None,
            serve_stale: None,
        }
    }
}

fn default_timeout_ms() -> Spanned<u64> {
    Spanned::new(0..0, 1500)
}

fn default_cache_entries() -> u64 {
    100_000
}

fn default_cache_bytes() -> u64 {
    32 << 20
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    name: Spanned<String>,
    category: Spanned<String>,
    source: Spanned<String>,
    #[serde(default)]
    format: Format,
    refresh: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    name: String,
    #[serde(rename = "match")]
    matches: Vec<Spanned<String>>,
    profile: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    #[serde(default)]
    block: Vec<Spanned<String>>,
    #[serde(default)]
    allow: Vec<Spanned<String>>,
    #[serde(default)]
    deny: Vec<Spanned<String>>,
    block_answer: Option<Spanned<String>>,
    safe_search: Option<Spanned<toml::Value>>,
    #[serde(default)]
    block_bypass: Option<Spanned<toml::Value>>,
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    schedule: Vec<RawSchedule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    days: Vec<Spanned<String>>,
    from: Spanned<String>,
    to: Spanned<String>,
    #[serde(default)]
    block_all: bool,
    #[serde(default)]
    block: Vec<Spanned<String>>,
}

/// Collects errors for one file.
struct Check<'a> {
    file: &'a Path,
    source: &'a str,
    errors: &'a mut Vec<ConfigError>,
}

impl Check<'_> {
    fn err<T>(&mut self, at: &Spanned<T>, key: Option<&str>, message: impl Into<String>) {
        self.errors.push(ConfigError::at(
            self.file,
            self.source,
            at.span(),
            key,
            message,
        ));
    }

    /// One of a fixed set of words; the first is the default. Anything else is an error that
    /// lists the choices.
    fn choose<T: Copy>(
        &mut self,
        value: Option<&Spanned<String>>,
        key: &str,
        options: &[(&str, T)],
    ) -> T {
        let Some(v) = value else {
            return options[0].1;
        };
        match options.iter().find(|(word, _)| *word == v.get_ref()) {
            Some((_, choice)) => *choice,
            None => {
                let words: Vec<String> = options.iter().map(|(w, _)| format!("\"{w}\"")).collect();
                self.err(
                    v,
                    Some(key),
                    format!("expected one of {}", words.join(", ")),
                );
                options[0].1
            }
        }
    }

    /// A time zone by IANA name; UTC (and an error) when unknown.
    fn timezone(&mut self, name: &Spanned<String>) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(name.get_ref()).unwrap_or_else(|_| {
            self.err(
                name,
                Some("timezone"),
                format!(
                    "unknown time zone `{}` (expected an IANA name such as \"Europe/Moscow\")",
                    name.get_ref()
                ),
            );
            jiff::tz::TimeZone::UTC
        })
    }

    fn networks(&mut self, key: &str, values: &[Spanned<String>]) -> Vec<IpNet> {
        values
            .iter()
            .filter_map(|v| match parse_network(v.get_ref()) {
                Some(net) => Some(net),
                None => {
                    self.err(v, Some(key), format!("`{}` is not an IP address or CIDR prefix (expected e.g. 192.168.1.0/24 or ::1)", v.get_ref()));
                    None
                }
            })
            .collect()
    }

    fn socket_addr(&mut self, key: &str, v: &Spanned<String>) -> Option<SocketAddr> {
        match v.get_ref().parse() {
            Ok(a) => Some(a),
            Err(_) => {
                self.err(v, Some(key), format!("`{}` is not an address with a port (expected e.g. 127.0.0.1:5353 or [::1]:5353)", v.get_ref()));
                None
            }
        }
    }
}

/// A globally routable unicast address (not loopback, private, link-local, CGNAT, ULA or
/// unspecified).
fn is_public(ip: IpAddr) -> bool {
    let private: [IpNet; 8] = [
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
    ]
    .map(|n| n.parse().expect("valid prefix"));
    !ip.is_unspecified() && !ip.is_loopback() && !private.iter().any(|n| n.contains(&ip))
}

/// Refresh period of downloaded lists when the config gives none.
const DEFAULT_REFRESH: Duration = Duration::from_secs(24 * 3600);

/// The cache file of a downloaded list: its name, made safe for a file name by an escape that
/// is one-to-one, so that two lists (`a.b` and `a_b`) never share a cache file and overwrite
/// each other. ASCII letters, digits and `-` stay; every other byte, `_` included, becomes
/// `_` and two hex digits (`a.b` → `a_2eb`, `a_b` → `a_5fb`).
fn cache_file_name(list: &str) -> String {
    let mut safe = String::with_capacity(list.len());
    for b in list.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            safe.push(char::from(b));
        } else {
            safe.push_str(&format!("_{b:02x}"));
        }
    }
    format!("{safe}.list")
}

fn parse_network(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
        .map(|n| n.trunc())
}

/// A MAC address in any common notation (`aa:bb:…`, `aa-bb-…`, `aabb.ccdd.eeff`).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let hex: Vec<u8> = s
        .bytes()
        .filter(|c| !matches!(c, b':' | b'-' | b'.'))
        .collect();
    if hex.len() != 12 || hex.len() == s.len() {
        return None;
    }
    let mut mac = [0u8; 6];
    for (i, pair) in hex.chunks(2).enumerate() {
        mac[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(mac)
}

fn read_toml<T: for<'de> Deserialize<'de>>(
    file: &Path,
    errors: &mut Vec<ConfigError>,
) -> Option<(T, String)> {
    let source = match std::fs::read_to_string(file) {
        Ok(s) => s,
        Err(e) => {
            errors.push(ConfigError::file(file, format!("cannot read: {e}")));
            return None;
        }
    };
    match toml::from_str(&source) {
        Ok(v) => Some((v, source)),
        Err(e) => {
            errors.push(ConfigError::from_toml(file, &source, &e));
            None
        }
    }
}

pub(super) fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let Some((raw, source)) = read_toml::<RawConfig>(path, &mut errors) else {
        return Err(ConfigErrors(errors));
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut c = Check {
        file: path,
        source: &source,
        errors: &mut errors,
    };

    let listen = match &raw.server.listen {
        Some(v) => v
            .iter()
            .filter_map(|a| c.socket_addr("listen", a))
            .collect(),
        None => vec![SocketAddr::from(([127, 0, 0, 1], 5353))],
    };
    let allow_clients = match &raw.server.allow_clients {
        Some(v) => c.networks("allow_clients", v),
        None => PRIVATE_NETWORKS
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect(),
    };
    let trusted_forwarders = c.networks("trusted_forwarders", &raw.server.trusted_forwarders);
    if raw.server.allow_clients.is_none()
        && let Some(public) = raw.server.listen.iter().flatten().find(|a| {
            a.get_ref()
                .parse::<SocketAddr>()
                .is_ok_and(|a| is_public(a.ip()))
        })
    {
        c.err(public, Some("listen"), format!("`{}` is a public address: set server.allow_clients explicitly, or familydns would serve only private ranges there (and an open resolver is never the default)", public.get_ref()));
    }
    let rl = &raw.server.rate_limit;
    let rate_limit = RateLimitConfig {
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
    };
    let tcp = listeners::tcp(&mut c, &raw.server.tcp);
    let udp = listeners::udp(&mut c, &raw.server.udp);
    let server_tz = match &raw.server.timezone {
        Some(name) => c.timezone(name),
        None => jiff::tz::TimeZone::system(),
    };

    let servers: Vec<Upstream> = raw
        .upstream
        .servers
        .iter()
        .filter_map(|s| match parse_upstream(s.get_ref()) {
            Ok(u) => Some(u),
            Err(msg) => {
                c.err(s, Some("servers"), msg);
                None
            }
        })
        .collect();
    if raw.upstream.servers.is_empty() {
        c.errors.push(ConfigError::file(
            path,
            "`upstream.servers` is empty: at least one upstream resolver is needed (e.g. \"udp://9.9.9.9:53\")",
        ));
    }
    let strategy = c.choose(
        raw.upstream.strategy.as_ref(),
        "strategy",
        &[
            ("fastest", UpstreamStrategy::Fastest),
            ("failover", UpstreamStrategy::Failover),
            ("parallel", UpstreamStrategy::Parallel),
        ],
    );
    let serve_stale = match &raw.upstream.serve_stale {
        None => Duration::from_secs(86_400),
        Some(s) => parse_duration(s.get_ref()).unwrap_or_else(|| {
            c.err(
                s,
                Some("serve_stale"),
                "expected a duration such as \"1d\" or \"0s\" (off)",
            );
            Duration::ZERO
        }),
    };
    if *raw.upstream.timeout_ms.get_ref() == 0 {
        c.err(
            &raw.upstream.timeout_ms,
            Some("timeout_ms"),
            "must be more than 0",
        );
    }

    let metrics = raw
        .metrics
        .as_ref()
        .and_then(|m| metrics::metrics(&mut c, m));

    let cache_dir = base.join(raw.cache_dir.as_deref().unwrap_or("cache"));
    let classifier = raw.classifier.as_ref().map(|p| {
        let path = base.join(p.get_ref());
        if !path.is_file() {
            c.err(
                p,
                Some("classifier"),
                format!("model file {} does not exist", path.display()),
            );
        }
        path
    });
    let mut lists = Vec::new();
    let mut list_names = BTreeSet::new();
    for l in &raw.lists {
        if !list_names.insert(l.name.get_ref().clone()) {
            c.err(
                &l.name,
                Some("name"),
                format!("list `{}` is defined twice", l.name.get_ref()),
            );
        }
        let refresh = match &l.refresh {
            None => DEFAULT_REFRESH,
            Some(r) => parse_duration(r.get_ref()).unwrap_or_else(|| {
                c.err(
                    r,
                    Some("refresh"),
                    "expected a duration such as \"24h\", \"90m\" or \"1d\"",
                );
                DEFAULT_REFRESH
            }),
        };
        let src = l.source.get_ref();
        let (source, url) = if src.starts_with("http://") || src.starts_with("https://") {
            // Downloaded lists live in the cache; the snapshot reads the cached copy.
            (
                cache_dir.join(cache_file_name(l.name.get_ref())),
                Some(src.clone()),
            )
        } else {
            let path = base.join(src);
            if !path.is_file() {
                c.err(
                    &l.source,
                    Some("source"),
                    format!("list file {} does not exist", path.display()),
                );
            }
            (path, None)
        };
        lists.push(ListConfig {
            name: l.name.get_ref().clone(),
            category: l.category.get_ref().clone(),
            source,
            format: l.format,
            url,
            refresh,
        });
    }
    if lists.len() > super::MAX_LISTS {
        c.errors.push(ConfigError::file(
            path,
            format!(
                "{} lists configured; at most {} are supported",
                lists.len(),
                super::MAX_LISTS
            ),
        ));
    }
    let categories: BTreeSet<String> = lists.iter().map(|l| l.category.clone()).collect();
    if categories.len() > super::MAX_CATEGORIES {
        c.errors.push(ConfigError::file(
            path,
            format!(
                "{} list categories configured; at most {} are supported",
                categories.len(),
                super::MAX_CATEGORIES
            ),
        ));
    }

    let profiles_dir = base.join(
        raw.profiles_dir
            .as_ref()
            .map_or("profiles", |d| d.get_ref().as_str()),
    );
    let default_profile = raw
        .default_profile
        .as_ref()
        .map_or_else(|| "default".to_owned(), |p| p.get_ref().clone());

    let mut clients = Vec::new();
    for client in &raw.clients {
        let mut networks = Vec::new();
        let mut macs = Vec::new();
        for m in &client.matches {
            if let Some(net) = parse_network(m.get_ref()) {
                networks.push(net);
            } else if let Some(mac) = parse_mac(m.get_ref()) {
                macs.push(mac);
            } else {
                c.err(
                    m,
                    Some("match"),
                    format!(
                        "`{}` is not an IP address, CIDR prefix or MAC address",
                        m.get_ref()
                    ),
                );
            }
        }
        clients.push(ClientConfig {
            name: client.name.clone(),
            networks,
            macs,
            profile: client.profile.get_ref().clone(),
        });
    }

    let (profiles, known) = load_profiles(&profiles_dir, &categories, &server_tz, c.errors);

    // References into the profile set. A profile with errors of its own still counts as
    // existing, so that one typo is reported once, not again at every reference.
    let known: BTreeSet<&str> = known.iter().map(String::as_str).collect();
    let mut c = Check {
        file: path,
        source: &source,
        errors: &mut errors,
    };
    let missing = |name: &str| {
        format!(
            "profile `{name}` does not exist (profiles found in {}: {})",
            profiles_dir.display(),
            known.iter().copied().collect::<Vec<_>>().join(", ")
        )
    };
    for client in &raw.clients {
        if !known.contains(client.profile.get_ref().as_str()) {
            c.err(
                &client.profile,
                Some("profile"),
                missing(client.profile.get_ref()),
            );
        }
    }
    if !known.contains(default_profile.as_str()) {
        match &raw.default_profile {
            Some(p) => c.err(p, Some("default_profile"), missing(&default_profile)),
            None => c.errors.push(ConfigError::file(
                path,
                format!(
                    "`default_profile` is not set and there is no profile named `default` in {}",
                    profiles_dir.display()
                ),
            )),
        }
    }

    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(Config {
        file: path.to_owned(),
        server: ServerConfig {
            listen,
            allow_clients,
            trusted_forwarders,
            timezone: server_tz,
            rate_limit,
            tcp,
            udp,
        },
        upstream: UpstreamConfig {
            servers,
            timeout: Duration::from_millis(*raw.upstream.timeout_ms.get_ref()),
            cache_entries: raw.upstream.cache_entries,
            cache_bytes: raw.upstream.cache_bytes,
            strategy,
            serve_stale,
        },
        metrics,
        lists,
        cache_dir,
        classifier,
        clients,
        default_profile,
        profiles,
    })
}

fn load_profiles(
    dir: &Path,
    categories: &BTreeSet<String>,
    server_tz: &jiff::tz::TimeZone,
    errors: &mut Vec<ConfigError>,
) -> (Vec<ProfileConfig>, BTreeSet<String>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(ConfigError::file(
                dir,
                format!("cannot read profiles directory: {e}"),
            ));
            return (Vec::new(), BTreeSet::new());
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let names = files
        .iter()
        .filter_map(|f| Some(f.file_stem()?.to_string_lossy().into_owned()))
        .collect();
    let profiles = files
        .iter()
        .filter_map(|file| load_profile(file, categories, server_tz, errors))
        .collect();
    (profiles, names)
}

fn load_profile(
    file: &Path,
    categories: &BTreeSet<String>,
    server_tz: &jiff::tz::TimeZone,
    errors: &mut Vec<ConfigError>,
) -> Option<ProfileConfig> {
    let (raw, source) = read_toml::<RawProfile>(file, errors)?;
    let name = file.file_stem()?.to_string_lossy().into_owned();
    let before = errors.len();
    let mut c = Check {
        file,
        source: &source,
        errors,
    };
    let check_categories = |c: &mut Check<'_>, cats: &[Spanned<String>]| {
        for cat in cats {
            if !categories.contains(cat.get_ref()) {
                let known: Vec<&str> = categories.iter().map(String::as_str).collect();
                c.err(
                    cat,
                    Some("block"),
                    format!(
                        "no list has category `{}` (known categories: {})",
                        cat.get_ref(),
                        known.join(", ")
                    ),
                );
            }
        }
    };
    check_categories(&mut c, &raw.block);
    for s in &raw.schedule {
        check_categories(&mut c, &s.block);
    }
    let schedules: Vec<ScheduleConfig> = raw
        .schedule
        .iter()
        .filter_map(|s| schedule(&mut c, s))
        .collect();
    let timezone = match &raw.timezone {
        Some(name) => c.timezone(name),
        None => server_tz.clone(),
    };
    let safe_search = match raw.safe_search.as_ref().map(|v| (v, v.get_ref())) {
        None | Some((_, toml::Value::Boolean(false))) => SafeSearch::Off,
        Some((_, toml::Value::Boolean(true))) => SafeSearch::Strict,
        Some((_, toml::Value::String(s))) if s == "strict" => SafeSearch::Strict,
        Some((_, toml::Value::String(s))) if s == "moderate" => SafeSearch::Moderate,
        Some((v, _)) => {
            c.err(
                v,
                Some("safe_search"),
                "expected true, false, \"strict\" or \"moderate\"",
            );
            SafeSearch::Off
        }
    };
    let block_bypass = match raw.block_bypass.as_ref().map(|v| (v, v.get_ref())) {
        None | Some((_, toml::Value::Boolean(false))) => BlockBypass::Off,
        Some((_, toml::Value::Boolean(true))) => BlockBypass::All,
        Some((_, toml::Value::String(s))) if s == "all" => BlockBypass::All,
        Some((_, toml::Value::String(s))) if s == "resolvers" => BlockBypass::Resolvers,
        Some((v, _)) => {
            c.err(
                v,
                Some("block_bypass"),
                "expected true, false, \"all\" or \"resolvers\"",
            );
            BlockBypass::Off
        }
    };
    let mut names = |key: &str, values: &[Spanned<String>]| -> Vec<String> {
        values
            .iter()
            .filter_map(|v| match name::normalize(v.get_ref()) {
                Ok(n) => Some(n),
                Err(e) => {
                    c.err(
                        v,
                        Some(key),
                        format!("`{}` is not a domain name: {e}", v.get_ref()),
                    );
                    None
                }
            })
            .collect()
    };
    let allow = names("allow", &raw.allow);
    let deny = names("deny", &raw.deny);
    let block_answer = match &raw.block_answer {
        None => BlockAnswer::NxDomain,
        Some(v) => match v.get_ref().as_str() {
            "nxdomain" => BlockAnswer::NxDomain,
            "null" => BlockAnswer::Null,
            other => match other.parse::<IpAddr>() {
                Ok(ip) => BlockAnswer::Ip(ip),
                Err(_) => {
                    c.err(
                        v,
                        Some("block_answer"),
                        "expected \"nxdomain\", \"null\" or an IP address",
                    );
                    BlockAnswer::NxDomain
                }
            },
        },
    };
    (errors.len() == before).then(|| ProfileConfig {
        name,
        file: file.to_owned(),
        block: raw.block.iter().map(|c| c.get_ref().clone()).collect(),
        allow,
        deny,
        block_answer,
        safe_search,
        block_bypass,
        timezone,
        schedules,
    })
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn schedule(c: &mut Check<'_>, s: &RawSchedule) -> Option<ScheduleConfig> {
    let mut days = [false; 7];
    let mut ok = true;
    for d in &s.days {
        match DAYS
            .iter()
            .position(|x| x.eq_ignore_ascii_case(d.get_ref()))
        {
            Some(i) => days[i] = true,
            None => {
                c.err(
                    d,
                    Some("days"),
                    format!(
                        "`{}` is not a day (expected mon, tue, wed, thu, fri, sat or sun)",
                        d.get_ref()
                    ),
                );
                ok = false;
            }
        }
    }
    let mut time = |v: &Spanned<String>, key: &str| -> Option<u16> {
        let parsed = v.get_ref().split_once(':').and_then(|(h, m)| {
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60 && m.to_string().len() <= 2).then_some(h * 60 + m)
        });
        if parsed.is_none() {
            c.err(
                v,
                Some(key),
                format!(
                    "`{}` is not a time of day (expected HH:MM, e.g. \"21:30\")",
                    v.get_ref()
                ),
            );
        }
        parsed
    };
    let from = time(&s.from, "from");
    let to = time(&s.to, "to");
    if !s.block_all && s.block.is_empty() {
        c.err(
            &s.from,
            None,
            "a schedule needs `block_all = true` or `block = [categories]`",
        );
        ok = false;
    }
    Some(ScheduleConfig {
        days,
        from: from?,
        to: to?,
        block_all: s.block_all,
        block: s.block.iter().map(|b| b.get_ref().clone()).collect(),
    })
    .filter(|_| ok)
}

fn parse_upstream(url: &str) -> Result<Upstream, String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        format!("`{url}` has no scheme (expected udp://, tcp://, tls:// or https://)")
    })?;
    let (protocol, default_port) = match scheme {
        "udp" => (UpstreamProtocol::Udp, 53),
        "tcp" => (UpstreamProtocol::Tcp, 53),
        "tls" => (UpstreamProtocol::Tls, 853),
        "https" => (UpstreamProtocol::Https, 443),
        _ => {
            return Err(format!(
                "unknown scheme `{scheme}` (expected udp, tcp, tls or https)"
            ));
        }
    };
    let (rest, tls_name) = match rest.split_once('#') {
        Some((r, n)) => (r, Some(n.to_owned())),
        None => (rest, None),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(rest[i..].to_owned())),
        None => (rest, None),
    };
    let (host, port) = split_host_port(authority, default_port)
        .ok_or_else(|| format!("`{url}`: bad host or port"))?;
    let host_is_ip = host.parse::<IpAddr>().is_ok();
    match protocol {
        UpstreamProtocol::Udp | UpstreamProtocol::Tcp if !host_is_ip => {
            return Err(format!("`{url}`: plain DNS upstreams need an IP address"));
        }
        UpstreamProtocol::Tls if tls_name.is_none() && !host_is_ip => {}
        UpstreamProtocol::Tls if tls_name.is_none() => {
            return Err(format!(
                "`{url}`: DNS-over-TLS needs the server's TLS name, e.g. tls://1.1.1.1:853#cloudflare-dns.com"
            ));
        }
        _ => {}
    }
    let tls_name = match protocol {
        UpstreamProtocol::Tls | UpstreamProtocol::Https => {
            tls_name.or_else(|| (!host_is_ip).then(|| host.clone()))
        }
        _ => None,
    };
    if matches!(protocol, UpstreamProtocol::Https) && tls_name.is_none() {
        return Err(format!(
            "`{url}`: DNS-over-HTTPS to an IP needs the TLS name after `#`"
        ));
    }
    Ok(Upstream {
        url: url.to_owned(),
        protocol,
        host,
        port,
        tls_name,
        path: path.filter(|_| protocol == UpstreamProtocol::Https),
    })
}

fn split_host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((host.to_owned(), port));
    }
    if authority.parse::<IpAddr>().is_ok() {
        return Some((authority.to_owned(), default_port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_owned(), p.parse().ok()?)),
        None if !authority.is_empty() => Some((authority.to_owned(), default_port)),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstream_urls() {
        let u = parse_upstream("tls://1.1.1.1:853#cloudflare-dns.com").unwrap();
        assert_eq!(
            (u.protocol, u.host.as_str(), u.port),
            (UpstreamProtocol::Tls, "1.1.1.1", 853)
        );
        assert_eq!(u.tls_name.as_deref(), Some("cloudflare-dns.com"));
        let u = parse_upstream("https://dns.quad9.net/dns-query").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_deref()),
            ("dns.quad9.net", 443, Some("/dns-query"))
        );
        assert_eq!(u.tls_name.as_deref(), Some("dns.quad9.net"));
        let u = parse_upstream("udp://[::1]:5300").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 5300));
        assert!(parse_upstream("udp://dns.google").is_err());
        assert!(parse_upstream("ftp://1.1.1.1").is_err());
    }

    #[test]
    fn cache_file_names_never_collide() {
        assert_eq!(cache_file_name("a.b"), "a_2eb.list");
        assert_eq!(cache_file_name("a_b"), "a_5fb.list");
        assert_eq!(cache_file_name("hagezi-pro"), "hagezi-pro.list");
        let names = ["a.b", "a_b", "a b", "a/b", "a_2eb", "a__b", "é", "_c3_a9"];
        let files: BTreeSet<String> = names.iter().map(|n| cache_file_name(n)).collect();
        assert_eq!(files.len(), names.len(), "{files:?}");
    }

    #[test]
    fn recognises_macs() {
        let mac = Some([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
        assert_eq!(parse_mac("aa:bb:cc:dd:ee:ff"), mac);
        assert_eq!(parse_mac("AA-BB-CC-DD-EE-FF"), mac);
        assert_eq!(parse_mac("aabb.ccdd.eeff"), mac);
        assert_eq!(parse_mac("aabbccddeeff0"), None);
        assert_eq!(parse_mac("aabbccddeeff"), None, "bare hex is ambiguous");
    }
}
