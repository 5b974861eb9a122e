//! `[trends]`: aggregate counts for trend research. Present means on; the instance name is
//! required because every export carries it, and the privacy parameters are checked here so
//! that a typo cannot weaken them silently.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::Check;
use crate::config::TrendsConfig;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTrends {
    instance: Spanned<String>,
    path: Option<String>,
    threshold: Option<Spanned<i64>>,
    epsilon_per_day: Option<Spanned<f64>>,
    token: Option<Spanned<String>>,
    max_devices_per_day: Option<Spanned<i64>>,
    queue: Option<Spanned<i64>>,
    keep_days: Option<Spanned<i64>>,
}

/// k: the usual smallest group size of statistical disclosure control.
const DEFAULT_THRESHOLD: u64 = 10;
/// One unit of privacy loss a day for all of a day's cells together.
const DEFAULT_EPSILON: f64 = 1.0;
/// A large school or a small ISP's day; more would be a flood of made-up devices.
const DEFAULT_MAX_DEVICES: u64 = 100_000;
const DEFAULT_QUEUE: u64 = 65_536;
const DEFAULT_KEEP_DAYS: u64 = 400;
/// Longest instance name: it is one DNS label's worth.
const MAX_INSTANCE: usize = 63;
/// Shortest token accepted, as for `metrics.admin_token`.
const MIN_TOKEN_CHARS: usize = 16;

pub(super) fn trends(
    c: &mut Check<'_>,
    t: &RawTrends,
    base: &Path,
    cache_dir: &Path,
) -> Option<TrendsConfig> {
    let instance = t.instance.get_ref();
    if instance.is_empty()
        || instance.len() > MAX_INSTANCE
        || !instance
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        c.err(
            &t.instance,
            Some("instance"),
            "expected 1 to 63 letters, digits, `-`, `_` or `.` (a name for this instance, not a person's)",
        );
    }
    let threshold = positive(c, "threshold", t.threshold.as_ref(), DEFAULT_THRESHOLD);
    let epsilon_per_day = match &t.epsilon_per_day {
        None => DEFAULT_EPSILON,
        Some(e) if e.get_ref().is_finite() && *e.get_ref() > 0.0 && *e.get_ref() <= 10.0 => {
            *e.get_ref()
        }
        Some(e) => {
            c.err(
                e,
                Some("epsilon_per_day"),
                "expected a number above 0 and at most 10 (smaller is more private)",
            );
            DEFAULT_EPSILON
        }
    };
    let token = t.token.as_ref().and_then(|tok| {
        if tok.get_ref().chars().count() < MIN_TOKEN_CHARS {
            c.err(
                tok,
                Some("token"),
                "too short: use at least 16 random characters",
            );
            None
        } else {
            Some(tok.get_ref().clone())
        }
    });
    let max_devices = positive(
        c,
        "max_devices_per_day",
        t.max_devices_per_day.as_ref(),
        DEFAULT_MAX_DEVICES,
    );
    let queue = positive(c, "queue", t.queue.as_ref(), DEFAULT_QUEUE);
    let keep_days = positive(c, "keep_days", t.keep_days.as_ref(), DEFAULT_KEEP_DAYS);
    Some(TrendsConfig {
        instance: instance.clone(),
        path: t
            .path
            .as_ref()
            .map_or_else(|| cache_dir.join("trends.db"), |p| base.join(p)),
        threshold,
        epsilon_per_day,
        token,
        max_devices_per_day: usize::try_from(max_devices).unwrap_or(usize::MAX),
        queue: usize::try_from(queue).unwrap_or(usize::MAX),
        keep_days: u32::try_from(keep_days).unwrap_or(u32::MAX),
    })
}

/// A whole number of at least 1 under `key`, or `default`.
fn positive(c: &mut Check<'_>, key: &str, value: Option<&Spanned<i64>>, default: u64) -> u64 {
    match value {
        None => default,
        Some(v) => match u64::try_from(*v.get_ref()) {
            Ok(n) if n > 0 => n,
            _ => {
                c.err(v, Some(key), "must be a whole number of at least 1");
                default
            }
        },
    }
}
