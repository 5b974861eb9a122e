//! `[complaints]`: the bounds of complaint filing and the tokens of the complaints API.
//!
//! ```toml
//! [complaints]
//! max_pending = 500          # complaints waiting for review at most
//! max_accepted = 100000      # names accepted at most (the local lists they make)
//! max_comment = 1000         # characters of a comment (and of a contact) at most
//! filings_per_hour = 30      # per API token, and for the parents' page
//! [[complaints.token]]
//! name = "school-north"      # recorded as who filed or decided
//! role = "reporter"          # reporter: files; reviewer: files, lists, accepts, rejects, removes
//! token_file = "secrets/school-north.token"   # or token = "…" (at least 16 characters)
//! ```
//!
//! Complaints live in the query log's database, so tokens without `[query_log]` are an
//! error: an API that could never store anything would only mislead.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::Check;

/// Shortest token accepted (as `metrics.admin_token`).
const MIN_TOKEN_CHARS: usize = 16;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawComplaints {
    max_pending: Option<Spanned<u32>>,
    max_accepted: Option<Spanned<u32>>,
    max_comment: Option<Spanned<u32>>,
    filings_per_hour: Option<Spanned<u32>>,
    #[serde(default, rename = "token")]
    tokens: Vec<RawToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    name: Spanned<String>,
    role: Option<Spanned<String>>,
    token: Option<Spanned<String>>,
    token_file: Option<Spanned<String>>,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Files complaints.
    Reporter,
    /// Files, lists, accepts, rejects and removes.
    Reviewer,
}

/// One named token of the complaints API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintToken {
    pub name: String,
    pub role: Role,
    pub secret: String,
}

/// `[complaints]`, with its defaults when the section is absent (the parents' page files and
/// reviews without any token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintsConfig {
    pub max_pending: u32,
    pub max_accepted: u32,
    pub max_comment: u32,
    pub filings_per_hour: u32,
    /// No tokens: the API answers 404.
    pub tokens: Vec<ComplaintToken>,
}

impl Default for ComplaintsConfig {
    fn default() -> Self {
        ComplaintsConfig {
            max_pending: 500,
            max_accepted: 100_000,
            max_comment: 1_000,
            filings_per_hour: 30,
            tokens: Vec::new(),
        }
    }
}

/// Largest values accepted for the bounds: past them a bound stops bounding anything.
const MAX_PENDING: u32 = 100_000;
const MAX_ACCEPTED: u32 = 1_000_000;
const MAX_COMMENT: u32 = 10_000;
const MAX_PER_HOUR: u32 = 3_600;

pub(super) fn complaints(
    c: &mut Check<'_>,
    raw: &RawComplaints,
    base: &Path,
    query_log: bool,
) -> ComplaintsConfig {
    let d = ComplaintsConfig::default();
    let mut bound = |v: &Option<Spanned<u32>>, key: &str, max: u32, default: u32| match v {
        None => default,
        Some(v) if !(1..=max).contains(v.get_ref()) => {
            c.err(v, Some(key), format!("must be between 1 and {max}"));
            default
        }
        Some(v) => *v.get_ref(),
    };
    let max_pending = bound(&raw.max_pending, "max_pending", MAX_PENDING, d.max_pending);
    let max_accepted = bound(
        &raw.max_accepted,
        "max_accepted",
        MAX_ACCEPTED,
        d.max_accepted,
    );
    let max_comment = bound(&raw.max_comment, "max_comment", MAX_COMMENT, d.max_comment);
    let filings_per_hour = bound(
        &raw.filings_per_hour,
        "filings_per_hour",
        MAX_PER_HOUR,
        d.filings_per_hour,
    );
    let mut names = BTreeSet::new();
    let mut tokens: Vec<ComplaintToken> = Vec::new();
    for t in &raw.tokens {
        if !names.insert(t.name.get_ref().clone()) {
            c.err(
                &t.name,
                Some("name"),
                "another [[complaints.token]] has this name",
            );
        }
        if !query_log {
            c.err(
                &t.name,
                Some("name"),
                "complaints are kept in the query log's database: turn [query_log] on",
            );
        }
        let role = c.choose(
            t.role.as_ref(),
            "role",
            &[("reporter", Role::Reporter), ("reviewer", Role::Reviewer)],
        );
        let Some(secret) = secret(c, t, base) else {
            continue;
        };
        if tokens.iter().any(|o| o.secret == secret) {
            c.err(&t.name, Some("token"), "another token has the same secret");
        }
        tokens.push(ComplaintToken {
            name: t.name.get_ref().clone(),
            role,
            secret,
        });
    }
    ComplaintsConfig {
        max_pending,
        max_accepted,
        max_comment,
        filings_per_hour,
        tokens,
    }
}

/// The token's secret: inline, or the trimmed content of `token_file` (relative to the
/// config), at least [`MIN_TOKEN_CHARS`] long.
fn secret(c: &mut Check<'_>, t: &RawToken, base: &Path) -> Option<String> {
    let (at, key, value) = match (&t.token, &t.token_file) {
        (Some(v), None) => (v, "token", v.get_ref().clone()),
        (None, Some(f)) => match std::fs::read_to_string(base.join(f.get_ref())) {
            Ok(text) => (f, "token_file", text.trim().to_owned()),
            Err(e) => {
                c.err(f, Some("token_file"), format!("cannot read: {e}"));
                return None;
            }
        },
        _ => {
            c.err(&t.name, Some("name"), "give either `token` or `token_file`");
            return None;
        }
    };
    if value.chars().count() < MIN_TOKEN_CHARS {
        c.err(
            at,
            Some(key),
            "too short: use at least 16 random characters",
        );
        return None;
    }
    Some(value)
}
