//! Profiles: one TOML file per profile in `profiles_dir`, named after the file, and the
//! references to them from `[[client]]` and `default_profile`.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::budget::{RawBudget, budgets};
use super::clients::RawClient;
use super::schedule::{RawSchedule, schedule};
use super::{Check, parse_toml, read_toml};
use crate::config::{
    BlockAnswer, BlockBypass, ConfigError, LogMode, ProfileConfig, ProfileKind, SafeSearch,
};
use crate::name;

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
    #[serde(default)]
    budget: Vec<RawBudget>,
    log: Option<Spanned<String>>,
    log_days: Option<Spanned<u32>>,
    /// Categories whose blocked lookups alert the parent at once (`alert = ["selfharm"]`).
    #[serde(default)]
    alert: Vec<Spanned<String>>,
    /// `"household"` (default) or `"child"`: the profile kind trends count under.
    kind: Option<Spanned<String>>,
}

/// `log_days` when a profile gives none: a week of names, as a parent looks back.
const DEFAULT_LOG_DAYS: u32 = 7;

/// Every `*.toml` in `dir`, in name order: the profiles without errors, and the names of all
/// of them (a profile with errors of its own still exists for the references).
pub(super) fn load_profiles(
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
    convert(file, &source, raw, categories, server_tz, errors)
}

/// Checks `source` as the text of the profile `file`, without reading or writing the file:
/// the parents' page validates an edit with this before it writes it.
pub(super) fn check_profile(
    file: &Path,
    source: &str,
    categories: &BTreeSet<String>,
    server_tz: &jiff::tz::TimeZone,
    errors: &mut Vec<ConfigError>,
) -> Option<ProfileConfig> {
    let raw = parse_toml::<RawProfile>(file, source, errors)?;
    convert(file, source, raw, categories, server_tz, errors)
}

fn convert(
    file: &Path,
    source: &str,
    raw: RawProfile,
    categories: &BTreeSet<String>,
    server_tz: &jiff::tz::TimeZone,
    errors: &mut Vec<ConfigError>,
) -> Option<ProfileConfig> {
    let name = file.file_stem()?.to_string_lossy().into_owned();
    let before = errors.len();
    let mut c = Check {
        file,
        source,
        errors,
    };
    c.categories(categories, "block", &raw.block);
    for s in &raw.schedule {
        c.categories(categories, "block", &s.block);
    }
    c.categories(categories, "alert", &raw.alert);
    let schedules = raw
        .schedule
        .iter()
        .filter_map(|s| schedule(&mut c, s))
        .collect();
    let budgets = budgets(&mut c, categories, &raw.block, &raw.budget);
    let timezone = match &raw.timezone {
        Some(name) => c.timezone(name),
        None => server_tz.clone(),
    };
    let safe_search = safe_search(&mut c, raw.safe_search.as_ref());
    let block_bypass = block_bypass(&mut c, raw.block_bypass.as_ref());
    let allow = names(&mut c, "allow", &raw.allow);
    let deny = names(&mut c, "deny", &raw.deny);
    let block_answer = block_answer(&mut c, raw.block_answer.as_ref());
    let log = c.choose(
        raw.log.as_ref(),
        "log",
        &[
            ("full", LogMode::Full),
            ("blocked", LogMode::Blocked),
            ("counts", LogMode::Counts),
            ("off", LogMode::Off),
        ],
    );
    let kind = c.choose(
        raw.kind.as_ref(),
        "kind",
        &[
            ("household", ProfileKind::Household),
            ("child", ProfileKind::Child),
        ],
    );
    let log_days = raw
        .log_days
        .as_ref()
        .map_or(DEFAULT_LOG_DAYS, |d| *d.get_ref());
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
        budgets,
        log,
        log_days,
        alert: raw.alert.iter().map(|c| c.get_ref().clone()).collect(),
        kind,
    })
}

/// `safe_search`: a boolean (`true` is strict) or a mode by name.
fn safe_search(c: &mut Check<'_>, value: Option<&Spanned<toml::Value>>) -> SafeSearch {
    match value.map(|v| (v, v.get_ref())) {
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
    }
}

/// `block_bypass`: a boolean (`true` is all) or how much by name.
fn block_bypass(c: &mut Check<'_>, value: Option<&Spanned<toml::Value>>) -> BlockBypass {
    match value.map(|v| (v, v.get_ref())) {
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
    }
}

/// Domain names of `allow` or `deny`, normalised as the query path compares them.
fn names(c: &mut Check<'_>, key: &str, values: &[Spanned<String>]) -> Vec<String> {
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
}

fn block_answer(c: &mut Check<'_>, value: Option<&Spanned<String>>) -> BlockAnswer {
    let Some(v) = value else {
        return BlockAnswer::NxDomain;
    };
    match v.get_ref().as_str() {
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
    }
}

/// The profile of every client and the default profile must exist among `known` (the files
/// found in `dir`). Returns the name of the default profile.
pub(super) fn references(
    c: &mut Check<'_>,
    clients: &[RawClient],
    default_profile: Option<&Spanned<String>>,
    dir: &Path,
    known: &BTreeSet<String>,
) -> String {
    let missing = |name: &str| {
        format!(
            "profile `{name}` does not exist (profiles found in {}: {})",
            dir.display(),
            known
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    for client in clients {
        if !known.contains(client.profile.get_ref()) {
            c.err(
                &client.profile,
                Some("profile"),
                missing(client.profile.get_ref()),
            );
        }
    }
    let name = default_profile.map_or_else(|| "default".to_owned(), |p| p.get_ref().clone());
    if !known.contains(&name) {
        match default_profile {
            Some(p) => c.err(p, Some("default_profile"), missing(&name)),
            None => c.file_err(format!(
                "`default_profile` is not set and there is no profile named `default` in {}",
                dir.display()
            )),
        }
    }
    name
}
