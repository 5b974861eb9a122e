//! `[parents]`: the parents' page on the metrics listener. Its password is stored only as an
//! argon2 hash (`familydns passwd` prints the line), so the config file gives nothing away.

use serde::Deserialize;
use toml::Spanned;

use super::Check;
use crate::config::{MetricsConfig, ParentsConfig};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParents {
    /// An argon2 PHC string (`$argon2id$v=19$...`).
    password_hash: Spanned<String>,
    /// How long a login lasts.
    session_hours: Option<Spanned<u32>>,
}

/// `session_hours` when the config gives none: an evening, or a school day.
const DEFAULT_SESSION_HOURS: u32 = 12;
/// Longest session accepted: a month.
const MAX_SESSION_HOURS: u32 = 24 * 31;

pub(super) fn parents(
    c: &mut Check<'_>,
    p: &RawParents,
    metrics: Option<&MetricsConfig>,
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
    hash_ok.then(|| ParentsConfig {
        password_hash: hash.clone(),
        session: std::time::Duration::from_secs(u64::from(hours) * 3600),
    })
}
