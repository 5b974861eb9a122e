//! `[[tsig_key]]` and `[exchange]`: the keys shared with other parties and the RPZ feed we
//! publish. Every key a subscriber or a feed names must be defined; secrets must decode.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use hickory_proto::rr::Name;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use serde::Deserialize;
use toml::Spanned;

use super::Check;
use crate::config::exchange::{ExchangeConfig, Secret, SubscriberConfig, TsigKeyConfig, fqdn};
use crate::config::parse_duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTsigKey {
    name: Spanned<String>,
    algorithm: Option<Spanned<String>>,
    secret: Option<Spanned<String>>,
    /// A file holding the base64 secret (kept out of the config, e.g. mode 0600).
    secret_file: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExchange {
    listen: Spanned<String>,
    zone: Spanned<String>,
    #[serde(default, rename = "subscriber")]
    subscribers: Vec<RawSubscriber>,
    max_connections: Option<Spanned<u64>>,
    idle_timeout: Option<Spanned<String>>,
    journal: Option<Spanned<u64>>,
    max_names: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSubscriber {
    name: Spanned<String>,
    key: Option<Spanned<String>>,
    #[serde(default)]
    unsigned_from: Vec<Spanned<String>>,
    #[serde(default)]
    notify: Vec<Spanned<String>>,
}

/// Shortest secret accepted: RFC 8945 §6 asks for keys as long as the hash output; 16 bytes
/// is the floor below which a key is a password, not a key.
const MIN_SECRET_BYTES: usize = 16;

/// Every `[[tsig_key]]`; names must be unique DNS names.
pub(super) fn tsig_keys(c: &mut Check<'_>, raw: &[RawTsigKey], base: &Path) -> Vec<TsigKeyConfig> {
    let mut seen = BTreeSet::new();
    raw.iter()
        .filter_map(|k| {
            let name = key_name(c, &k.name)?;
            if !seen.insert(name.clone()) {
                c.err(
                    &k.name,
                    Some("name"),
                    format!("TSIG key `{name}` is defined twice"),
                );
            }
            let algorithm = c.choose(
                k.algorithm.as_ref(),
                "algorithm",
                &[
                    ("hmac-sha256", 256u16),
                    ("hmac-sha384", 384),
                    ("hmac-sha512", 512),
                ],
            );
            let algorithm = match algorithm {
                384 => TsigAlgorithm::HmacSha384,
                512 => TsigAlgorithm::HmacSha512,
                _ => TsigAlgorithm::HmacSha256,
            };
            let secret = secret(c, k, base)?;
            Some(TsigKeyConfig {
                name,
                algorithm,
                secret,
            })
        })
        .collect()
}

fn key_name(c: &mut Check<'_>, name: &Spanned<String>) -> Option<Name> {
    let parsed = fqdn(name.get_ref());
    if parsed.is_none() {
        c.err(
            name,
            Some("name"),
            format!(
                "`{}` is not a key name (a DNS name such as \"alliance-school1\")",
                name.get_ref()
            ),
        );
    }
    parsed
}

/// The secret from `secret` or `secret_file` (exactly one), base64 as BIND's `tsig-keygen`
/// prints it.
fn secret(c: &mut Check<'_>, k: &RawTsigKey, base: &Path) -> Option<Secret> {
    let (text, at, key) = match (&k.secret, &k.secret_file) {
        (Some(s), None) => (s.get_ref().clone(), s, "secret"),
        (None, Some(f)) => {
            let path = base.join(f.get_ref());
            match std::fs::read_to_string(&path) {
                Ok(text) => (text, f, "secret_file"),
                Err(e) => {
                    c.err(
                        f,
                        Some("secret_file"),
                        format!("cannot read {}: {e}", path.display()),
                    );
                    return None;
                }
            }
        }
        _ => {
            c.err(
                &k.name,
                None,
                "set exactly one of `secret` and `secret_file`",
            );
            return None;
        }
    };
    match data_encoding::BASE64.decode(text.trim().as_bytes()) {
        Ok(bytes) if bytes.len() >= MIN_SECRET_BYTES => Some(Secret(bytes)),
        Ok(_) => {
            c.err(
                at,
                Some(key),
                format!("too short: at least {MIN_SECRET_BYTES} bytes (`tsig-keygen` makes 32)"),
            );
            None
        }
        Err(_) => {
            c.err(
                at,
                Some(key),
                "not base64 (`tsig-keygen NAME` prints a secret)",
            );
            None
        }
    }
}

/// A key a subscriber or a feed names must be a `[[tsig_key]]`.
pub(super) fn known_key(
    c: &mut Check<'_>,
    keys: &[TsigKeyConfig],
    at: &Spanned<String>,
    key: &str,
) -> Option<Name> {
    let name = fqdn(at.get_ref().rsplit('#').next().unwrap_or_default())?;
    if !keys.iter().any(|k| k.name == name) {
        let shown = name.to_ascii();
        let shown = shown.trim_end_matches('.');
        c.err(at, Some(key), format!("no [[tsig_key]] is named `{shown}`"));
    }
    Some(name)
}

/// Connections transferring at once when the config gives none.
const DEFAULT_CONNECTIONS: u64 = 16;
const DEFAULT_IDLE: Duration = Duration::from_secs(10);
/// Diffs kept per zone: a subscriber more than this many changes behind transfers it whole.
const DEFAULT_JOURNAL: u64 = 100;
/// Names per category zone: far above any alliance's accepted complaints, far below memory
/// trouble (each name is two records).
const DEFAULT_MAX_NAMES: u64 = 1_000_000;

pub(super) fn exchange(
    c: &mut Check<'_>,
    e: &RawExchange,
    keys: &[TsigKeyConfig],
) -> Option<ExchangeConfig> {
    let listen = c.socket_addr("listen", &e.listen);
    let positive = |c: &mut Check<'_>, v: &Option<Spanned<u64>>, key: &str, default: u64| match v {
        Some(n) if *n.get_ref() == 0 => {
            c.err(n, Some(key), "must be more than 0");
            default
        }
        Some(n) => *n.get_ref(),
        None => default,
    };
    let max_connections = positive(
        c,
        &e.max_connections,
        "max_connections",
        DEFAULT_CONNECTIONS,
    );
    let journal = positive(c, &e.journal, "journal", DEFAULT_JOURNAL);
    let max_names = positive(c, &e.max_names, "max_names", DEFAULT_MAX_NAMES);
    let idle_timeout = match &e.idle_timeout {
        None => DEFAULT_IDLE,
        Some(t) => parse_duration(t.get_ref())
            .filter(|d| !d.is_zero())
            .unwrap_or_else(|| {
                c.err(
                    t,
                    Some("idle_timeout"),
                    "expected a duration such as \"10s\"",
                );
                DEFAULT_IDLE
            }),
    };
    let zone = fqdn(e.zone.get_ref());
    if zone.is_none() {
        c.err(
            &e.zone,
            Some("zone"),
            "not a zone name (e.g. \"feed.alliance.example\")",
        );
    }
    let mut names = BTreeSet::new();
    let subscribers = e
        .subscribers
        .iter()
        .map(|s| {
            if !names.insert(s.name.get_ref().clone()) {
                c.err(
                    &s.name,
                    Some("name"),
                    format!("subscriber `{}` is defined twice", s.name.get_ref()),
                );
            }
            let key = s.key.as_ref().and_then(|k| known_key(c, keys, k, "key"));
            if key.is_none() && s.unsigned_from.is_empty() {
                c.err(
                    &s.name,
                    None,
                    "a subscriber needs a `key` (or, weaker, `unsigned_from` addresses)",
                );
            }
            SubscriberConfig {
                name: s.name.get_ref().clone(),
                key,
                unsigned_from: c.networks("unsigned_from", &s.unsigned_from),
                notify: s
                    .notify
                    .iter()
                    .filter_map(|a| c.socket_addr("notify", a))
                    .collect(),
            }
        })
        .collect();
    Some(ExchangeConfig {
        listen: listen?,
        zone: zone?,
        subscribers,
        max_connections: max_connections as usize,
        idle_timeout,
        journal: journal as usize,
        max_names: max_names as usize,
    })
}
