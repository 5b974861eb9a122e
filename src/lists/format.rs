//! The list formats familydns reads, and how `auto` tells them apart.

use serde::Deserialize;

/// Syntax of a list file (`format` key of a `[[list]]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `0.0.0.0 name [name…]`, as StevenBlack, AdAway and Pi-hole write them.
    Hosts,
    /// One name per line; each name covers its subdomains.
    Domains,
    /// Adblock / AdGuard DNS syntax: `||name^`, `@@||name^` exceptions.
    Adblock,
    /// `*.name` (subdomains of name, not name itself) and plain names.
    Wildcard,
    /// dnsmasq `address=/name/`, `server=/name/`, `local=/name/`.
    Dnsmasq,
    /// Response Policy Zone: `name CNAME .`.
    Rpz,
    /// Unbound `local-zone: "name" always_nxdomain`.
    Unbound,
    /// One regular expression per line (Pi-hole `regex.list`; `/re/` also accepted).
    Regex,
    /// One keyword per line, matched at the start of a label or of a hyphenated part.
    Keywords,
    /// Detected per line, so concatenated and mixed files work too.
    #[default]
    Auto,
}

impl Format {
    /// Picks the syntax of one line for `auto` lists. Comment and blank lines are returned as
    /// `Domains`, whose parser treats them as comments.
    pub fn sniff(line: &str) -> Format {
        let t = line.trim_start();
        let first = t.split_ascii_whitespace().next().unwrap_or("");
        if t.starts_with("||")
            || t.starts_with("@@")
            || t.starts_with('|')
            || t.starts_with('!')
            || t.starts_with('[')
            || t.starts_with('/')
        {
            Format::Adblock
        } else if t.starts_with('$') || t.starts_with(';') || t.contains(" CNAME ") {
            Format::Rpz
        } else if t.starts_with("*.") {
            Format::Wildcard
        } else if t.starts_with("address=/")
            || t.starts_with("server=/")
            || t.starts_with("local=/")
        {
            Format::Dnsmasq
        } else if t.starts_with("local-zone:") || t == "server:" {
            Format::Unbound
        } else if first.parse::<std::net::IpAddr>().is_ok()
            || first
                .split('%')
                .next()
                .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok())
        {
            Format::Hosts
        } else {
            Format::Domains
        }
    }
}
