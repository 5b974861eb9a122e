//! `[parents]`: the parents' page on the metrics listener. Its password is stored only as an
//! argon2 hash (`familydns passwd` prints the line), so the config file gives nothing away.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Deserialize;
use toml::Spanned;

use super::Check;
use crate::config::{MetricsConfig, ParentsConfig};
use crate::name::QueryName;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParents {
    /// An argon2 PHC string (`$argon2id$v=19$...`).
    password_hash: Spanned<String>,
    /// How long a login lasts.
    session_hours: Option<Spanned<u32>>,
    /// The name that leads a device to the child's page.
    page_name: Option<Spanned<String>>,
    /// The address `page_name` answers with, when the metrics listener's is not one devices
    /// can reach (it listens on every address).
    page_address: Option<Spanned<String>>,
    webhook: Option<Spanned<String>>,
    asks_per_hour: Option<Spanned<u32>>,
    country: Option<Spanned<String>>,
    #[serde(default)]
    help: BTreeMap<String, Spanned<String>>,
}

/// `page_name` when the config gives none: `home.arpa` is the special-use domain for home
/// networks (RFC 8375), which no public name can shadow.
const DEFAULT_PAGE_NAME: &str = "familydns.home.arpa";
/// `asks_per_hour` when the config gives none.
const DEFAULT_ASKS_PER_HOUR: u32 = 5;
/// Most asks per hour a device may be allowed: each one notifies the parent.
const MAX_ASKS_PER_HOUR: u32 = 60;

/// `session_hours` when the config gives none: an evening, or a school day.
const DEFAULT_SESSION_HOURS: u32 = 12;
/// Longest session accepted: a month.
const MAX_SESSION_HOURS: u32 = 24 * 31;

pub(super) fn parents(
    c: &mut Check<'_>,
    p: &RawParents,
    metrics: Option<&MetricsConfig>,
    categories: &BTreeSet<String>,
) -> Option<ParentsConfig> {
    let hash = p.password_hash.get_ref();
    let hash_ok = match argon2::PasswordHash::new(hash) {
        Ok(h) if h.algorithm.as_str().starts_with("argon2") => true,
        Ok(h) => {
            c.err(
                &p.password_hash,
                Some("password_hash"),
                format!(
                    "`{}` is not argon2: run `familydns passwd` and paste the line it prints",
                    h.algorithm
                ),
            );
            false
        }
        Err(e) => {
            c.err(
                &p.password_hash,
                Some("password_hash"),
                format!(
                    "not an argon2 hash ({e}): run `familydns passwd` and paste the line it prints"
                ),
            );
            false
        }
    };
    let hours = match &p.session_hours {
        None => DEFAULT_SESSION_HOURS,
        Some(h) if !(1..=MAX_SESSION_HOURS).contains(h.get_ref()) => {
            c.err(
                h,
                Some("session_hours"),
                format!("must be between 1 and {MAX_SESSION_HOURS}"),
            );
            DEFAULT_SESSION_HOURS
        }
        Some(h) => *h.get_ref(),
    };
    if metrics.is_none() {
        c.err(
            &p.password_hash,
            Some("password_hash"),
            "the parents' page is served on the metrics listener: add a [metrics] section with its `listen` address",
        );
    }
    let page_name = page_name(c, p.page_name.as_ref());
    let page_address = page_address(c, p, metrics);
    let webhook = p.webhook.as_ref().and_then(|w| webhook(c, w));
    let asks_per_hour = match &p.asks_per_hour {
        None => DEFAULT_ASKS_PER_HOUR,
        Some(n) if !(1..=MAX_ASKS_PER_HOUR).contains(n.get_ref()) => {
            c.err(
                n,
                Some("asks_per_hour"),
                format!("must be between 1 and {MAX_ASKS_PER_HOUR}"),
            );
            DEFAULT_ASKS_PER_HOUR
        }
        Some(n) => *n.get_ref(),
    };
    if let Some(country) = &p.country
        && !crate::help::has_helpline(country.get_ref())
    {
        c.err(
            country,
            Some("country"),
            "no default helpline for this country: write your own with [parents.help], and leave `country` out",
        );
    }
    for (category, text) in &p.help {
        if !categories.contains(category) {
            c.err(
                text,
                Some(category),
                format!("no list has category `{category}`"),
            );
        }
    }
    (hash_ok && page_address.is_some()).then(|| ParentsConfig {
        password_hash: hash.clone(),
        session: std::time::Duration::from_secs(u64::from(hours) * 3600),
        page_name,
        page_address: page_address.expect("checked"),
        webhook,
        asks_per_hour,
        country: p.country.as_ref().map(|c| c.get_ref().to_ascii_uppercase()),
        help: p
            .help
            .iter()
            .map(|(k, v)| (k.clone(), v.get_ref().clone()))
            .collect(),
    })
}

fn page_name(c: &mut Check<'_>, name: Option<&Spanned<String>>) -> String {
    let Some(name) = name else {
        return DEFAULT_PAGE_NAME.to_owned();
    };
    match QueryName::parse(name.get_ref()) {
        Ok(parsed) => parsed.as_str().to_owned(),
        Err(e) => {
            c.err(name, Some("page_name"), format!("not a domain name: {e}"));
            DEFAULT_PAGE_NAME.to_owned()
        }
    }
}

/// `page_address`, else the metrics listener's address when it is a single one.
fn page_address(
    c: &mut Check<'_>,
    p: &RawParents,
    metrics: Option<&MetricsConfig>,
) -> Option<IpAddr> {
    if let Some(a) = &p.page_address {
        return match a.get_ref().parse() {
            Ok(ip) => Some(ip),
            Err(_) => {
                c.err(a, Some("page_address"), "not an IP address");
                None
            }
        };
    }
    let listen = metrics?.listen.ip();
    if listen.is_unspecified() {
        c.err(
            &p.password_hash,
            Some("page_address"),
            format!(
                "the metrics listener is on every address ({listen}): set parents.page_address to the one devices reach the child's page at"
            ),
        );
        return None;
    }
    Some(listen)
}

/// A webhook must be http(s); plain http is allowed, as ntfy or Home Assistant on the home
/// network often are.
fn webhook(c: &mut Check<'_>, w: &Spanned<String>) -> Option<String> {
    match reqwest::Url::parse(w.get_ref()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Some(w.get_ref().clone())
        }
        Ok(_) => {
            c.err(w, Some("webhook"), "must be an http:// or https:// URL");
            None
        }
        Err(e) => {
            c.err(w, Some("webhook"), format!("not a URL: {e}"));
            None
        }
    }
}
