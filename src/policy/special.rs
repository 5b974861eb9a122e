//! Names with a fixed meaning: safe-search hosts, bypass canaries, and the well-known
//! encrypted-DNS endpoints.
//!
//! Safe-search hosts and canaries are exact names (not suffixes): AdGuard Home rewrites
//! `www.google.com`, not `google.com` or `mail.google.com`. They are looked up by the
//! fingerprint of the whole query name, which the decision has already computed. The DoH
//! and DoT endpoints are suffixes (`mozilla.cloudflare-dns.com`), matched like list rules.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::config::SafeSearch;
use crate::filter::{DomainMatcher, MatcherBuilder};
use crate::lists::RuleKind;
use crate::name::{self, QueryName};

/// The engine map shipped in `blocklists/safesearch.txt`, compiled into the binary so that
/// safe search works whatever the config's paths say.
const SAFE_SEARCH_MAP: &str = include_str!("../../blocklists/safesearch.txt");

/// Names a browser or OS asks to decide whether it may bypass the resolver: Firefox's DoH
/// canary and iCloud Private Relay. They must get NXDOMAIN (for the canary, 0.0.0.0 would
/// mean "DoH allowed").
pub const BYPASS_CANARIES: &[&str] = &[
    "use-application-dns.net",
    "mask.icloud.com",
    "mask-h2.icloud.com",
    "mask-canary.icloud.com",
];

/// Public DoH/DoT resolvers a browser, app or OS can be pointed at to skip the filter,
/// with their subdomains. `block_bypass` blocks them even when no bypass list is
/// configured, as it does the canaries: the protection must not depend on a download.
pub const BYPASS_ENDPOINTS: &[&str] = &[
    "dns.google",
    "dns.google.com",
    "cloudflare-dns.com",
    "one.one.one.one",
    "dns.cloudflare.com",
    "dns.quad9.net",
    "dns9.quad9.net",
    "dns10.quad9.net",
    "dns11.quad9.net",
    "dns12.quad9.net",
    "doh.opendns.com",
    "dns.opendns.com",
    "doh.familyshield.opendns.com",
    "dns.umbrella.com",
    "doh.umbrella.com",
    "nextdns.io",
    "adguard-dns.com",
    "adguard-dns.io",
    "dns.adguard.com",
    "dns-family.adguard.com",
    "dns-unfiltered.adguard.com",
    "doh.mullvad.net",
    "dns.mullvad.net",
    "doh.cleanbrowsing.org",
    "dns.controld.com",
    "freedns.controld.com",
    "dns.sb",
    "doh.dns.sb",
    "dns.alidns.com",
    "doh.pub",
    "dot.pub",
    "dns0.eu",
    "doh.libredns.gr",
    "dns.switch.ch",
    "dns.digitale-gesellschaft.ch",
    "doh.ffmuc.net",
    "ordns.he.net",
    "doh.xfinity.com",
    "dns.twnic.tw",
    "dns.njal.la",
    "doh.applied-privacy.net",
];

/// Where a safe-search name is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SafeTarget {
    /// Answered as a CNAME to this host plus the host's own records.
    Host(hickory_proto::rr::Name),
    /// Answered with this address (Yandex's family front end).
    Address(Ipv4Addr),
}

#[derive(Debug)]
struct Entry {
    strict: SafeTarget,
    moderate: SafeTarget,
}

/// The built-in name tables, compiled once per snapshot.
#[derive(Debug)]
pub struct SpecialNames {
    safe_search: HashMap<u64, Entry>,
    canaries: HashMap<u64, ()>,
    endpoints: DomainMatcher,
}

impl Default for SpecialNames {
    fn default() -> Self {
        Self::new()
    }
}

impl SpecialNames {
    pub fn new() -> SpecialNames {
        let target = |t: &str| match t.parse::<Ipv4Addr>() {
            Ok(ip) => SafeTarget::Address(ip),
            Err(_) => SafeTarget::Host(
                hickory_proto::rr::Name::from_ascii(format!("{t}."))
                    .expect("bundled map holds valid names"),
            ),
        };
        let safe_search = SAFE_SEARCH_MAP
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let mut cols = l.split_whitespace();
                let host = cols.next().expect("name column");
                let strict = target(cols.next().expect("target column"));
                let moderate = cols.next().map_or_else(|| strict.clone(), target);
                (name::fingerprint(host), Entry { strict, moderate })
            })
            .collect();
        let canaries = BYPASS_CANARIES
            .iter()
            .map(|n| (name::fingerprint(n), ()))
            .collect();
        let mut endpoints = MatcherBuilder::default();
        for name in BYPASS_ENDPOINTS {
            endpoints.add(0, RuleKind::Block, name);
        }
        SpecialNames {
            safe_search,
            canaries,
            endpoints: endpoints.build(),
        }
    }

    /// The safe-search target for a whole-name fingerprint, in the given mode.
    pub fn safe_search(&self, fingerprint: u64, mode: SafeSearch) -> Option<&SafeTarget> {
        let e = self.safe_search.get(&fingerprint)?;
        match mode {
            SafeSearch::Off => None,
            SafeSearch::Strict => Some(&e.strict),
            SafeSearch::Moderate => Some(&e.moderate),
        }
    }

    /// Whether a whole-name fingerprint is a bypass canary.
    pub fn is_canary(&self, fingerprint: u64) -> bool {
        self.canaries.contains_key(&fingerprint)
    }

    /// The labels of the encrypted-DNS endpoint `name` is (or is under), if any.
    pub fn bypass_endpoint(&self, name: &QueryName) -> Option<usize> {
        self.endpoints
            .lookup_fingerprints(name.fingerprints().as_slice(), 1)
            .map(|hit| hit.labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_map_covers_the_engines() {
        let s = SpecialNames::new();
        let host = |n: &str, mode| match s.safe_search(name::fingerprint(n), mode) {
            Some(SafeTarget::Host(h)) => h.to_ascii(),
            Some(SafeTarget::Address(a)) => a.to_string(),
            None => String::new(),
        };
        assert_eq!(
            host("www.google.de", SafeSearch::Strict),
            "forcesafesearch.google.com."
        );
        assert_eq!(
            host("www.youtube.com", SafeSearch::Strict),
            "restrict.youtube.com."
        );
        assert_eq!(
            host("www.youtube.com", SafeSearch::Moderate),
            "restrictmoderate.youtube.com."
        );
        assert_eq!(host("www.bing.com", SafeSearch::Strict), "strict.bing.com.");
        assert_eq!(
            host("duckduckgo.com", SafeSearch::Strict),
            "safe.duckduckgo.com."
        );
        assert_eq!(host("www.yandex.ru", SafeSearch::Strict), "213.180.193.56");
        assert_eq!(
            host("google.de", SafeSearch::Strict),
            "",
            "only www. is rewritten"
        );
        assert_eq!(host("www.google.de", SafeSearch::Off), "");
        assert!(s.safe_search.len() > 250);
        assert!(s.is_canary(name::fingerprint("use-application-dns.net")));
        let endpoint = |n: &str| s.bypass_endpoint(&QueryName::parse(n).unwrap());
        assert_eq!(endpoint("mozilla.cloudflare-dns.com"), Some(2));
        assert_eq!(endpoint("dns.google"), Some(2));
        assert_eq!(endpoint("google.com"), None);
        assert_eq!(endpoint("quad9.net"), None);
    }
}
