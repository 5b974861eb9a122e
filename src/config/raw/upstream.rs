//! `[upstream]`: the resolvers names are forwarded to, how they are used, and the answer
//! cache in front of them.

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::Check;
use crate::config::{Upstream, UpstreamConfig, UpstreamProtocol, UpstreamStrategy, parse_duration};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUpstream {
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

/// `upstream.serve_stale` when the config gives none (RFC 8767 suggests 1 to 3 days).
const DEFAULT_SERVE_STALE: Duration = Duration::from_secs(86_400);

pub(super) fn upstream(c: &mut Check<'_>, raw: &RawUpstream) -> UpstreamConfig {
    let servers: Vec<Upstream> = raw
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
    if raw.servers.is_empty() {
        c.file_err(
            "`upstream.servers` is empty: at least one upstream resolver is needed (e.g. \"udp://9.9.9.9:53\")",
        );
    }
    let strategy = c.choose(
        raw.strategy.as_ref(),
        "strategy",
        &[
            ("fastest", UpstreamStrategy::Fastest),
            ("failover", UpstreamStrategy::Failover),
            ("parallel", UpstreamStrategy::Parallel),
        ],
    );
    let serve_stale = match &raw.serve_stale {
        None => DEFAULT_SERVE_STALE,
        Some(s) => parse_duration(s.get_ref()).unwrap_or_else(|| {
            c.err(
                s,
                Some("serve_stale"),
                "expected a duration such as \"1d\" or \"0s\" (off)",
            );
            Duration::ZERO
        }),
    };
    if *raw.timeout_ms.get_ref() == 0 {
        c.err(&raw.timeout_ms, Some("timeout_ms"), "must be more than 0");
    }
    UpstreamConfig {
        servers,
        timeout: Duration::from_millis(*raw.timeout_ms.get_ref()),
        cache_entries: raw.cache_entries,
        cache_bytes: raw.cache_bytes,
        strategy,
        serve_stale,
    }
}

/// One `upstream.servers` URL (see [`Upstream`]); the error says what is wrong with it.
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

/// `host[:port]` or `[v6][:port]`; a bare IPv6 address has no port (its colons are its own).
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
}
