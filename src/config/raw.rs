//! Serde shapes of the TOML files and their conversion into a validated [`Config`].
//!
//! Each section has a module with its serde shape and the conversion that checks it through
//! [`Check`]; [`load`] runs them in the order of the file, so errors come out in that order.

mod budget;
mod check;
mod clients;
mod complaints;
mod directory;
mod dnstap;
mod exchange;
mod listeners;
mod lists;
mod metrics;
mod parents;
mod profiles;
mod schedule;
mod server;
mod tls;
mod trends;
mod upstream;

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

pub use complaints::{ComplaintToken, ComplaintsConfig, Role};

use super::{Config, ConfigErrors, QueryLogConfig};
use check::{Check, parse_toml, read_toml};
pub use directory::DirectoryConfig;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: server::RawServer,
    #[serde(default)]
    upstream: upstream::RawUpstream,
    metrics: Option<metrics::RawMetrics>,
    parents: Option<parents::RawParents>,
    #[serde(default)]
    complaints: complaints::RawComplaints,
    #[serde(default, rename = "list")]
    lists: Vec<lists::RawList>,
    profiles_dir: Option<Spanned<String>>,
    cache_dir: Option<String>,
    classifier: Option<Spanned<String>>,
    #[serde(default)]
    query_log: RawQueryLog,
    dnstap: Option<dnstap::RawDnstap>,
    #[serde(default, rename = "client")]
    clients: Vec<clients::RawClient>,
    #[serde(default, rename = "tsig_key")]
    tsig_keys: Vec<exchange::RawTsigKey>,
    exchange: Option<exchange::RawExchange>,
    default_profile: Option<Spanned<String>>,
    trends: Option<trends::RawTrends>,
    directory: Option<directory::RawDirectory>,
}

/// `[query_log]`: on unless `enabled = false`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueryLog {
    #[serde(default = "yes")]
    enabled: bool,
    path: Option<String>,
    #[serde(default = "default_log_queue")]
    queue: usize,
}

impl Default for RawQueryLog {
    fn default() -> Self {
        RawQueryLog {
            enabled: true,
            path: None,
            queue: default_log_queue(),
        }
    }
}

fn yes() -> bool {
    true
}

/// Entries waiting for the log's writer at most: about a minute of a busy home at 1,000
/// queries a second, a few MiB.
fn default_log_queue() -> usize {
    65_536
}

/// Checks `source` as the new text of the profile file `file` of `config` (see
/// [`crate::config::check_profile`]).
pub(super) fn check_profile(
    config: &Config,
    file: &Path,
    source: &str,
) -> Result<super::ProfileConfig, ConfigErrors> {
    let categories = config.categories().into_iter().map(str::to_owned).collect();
    let mut errors = Vec::new();
    profiles::check_profile(
        file,
        source,
        &categories,
        &config.server.timezone,
        &mut errors,
    )
    .ok_or(ConfigErrors(errors))
}

pub(super) fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let Some((raw, source)) = read_toml::<RawConfig>(path, &mut errors) else {
        return Err(ConfigErrors(errors));
    };
    // Relative paths in the config are relative to its directory.
    let base = path.parent().unwrap_or(Path::new("."));
    let mut c = Check {
        file: path,
        source: &source,
        errors: &mut errors,
    };

    let server = server::server(&mut c, &raw.server);
    let upstream = upstream::upstream(&mut c, &raw.upstream);
    let metrics = raw
        .metrics
        .as_ref()
        .and_then(|m| metrics::metrics(&mut c, m));
    let cache_dir = base.join(raw.cache_dir.as_deref().unwrap_or("cache"));
    let classifier = raw
        .classifier
        .as_ref()
        .map(|file| lists::classifier(&mut c, base, file));
    let query_log = raw.query_log.enabled.then(|| QueryLogConfig {
        path: raw
            .query_log
            .path
            .as_ref()
            .map_or_else(|| cache_dir.join("querylog.db"), |p| base.join(p)),
        queue: raw.query_log.queue.max(1),
    });
    let directory = raw
        .directory
        .as_ref()
        .and_then(|d| directory::directory(&mut c, d, base, &cache_dir));
    let dnstap = raw
        .dnstap
        .as_ref()
        .and_then(|d| dnstap::dnstap(&mut c, d, base));
    let trends = raw
        .trends
        .as_ref()
        .and_then(|t| trends::trends(&mut c, t, base, &cache_dir));
    let tsig_keys = exchange::tsig_keys(&mut c, &raw.tsig_keys, base);
    let exchange = raw
        .exchange
        .as_ref()
        .and_then(|e| exchange::exchange(&mut c, e, &tsig_keys));
    let lists = lists::lists(&mut c, &raw.lists, base, &cache_dir, &tsig_keys);
    let categories = lists::categories(&mut c, &lists);
    let parents = raw
        .parents
        .as_ref()
        .and_then(|p| parents::parents(&mut c, p, metrics.as_ref(), &categories));
    let complaints = complaints::complaints(&mut c, &raw.complaints, base, query_log.is_some());
    let clients = clients::clients(&mut c, &raw.clients);
    let profiles_dir = base.join(
        raw.profiles_dir
            .as_ref()
            .map_or("profiles", |d| d.get_ref().as_str()),
    );
    let (profiles, known) =
        profiles::load_profiles(&profiles_dir, &categories, &server.timezone, c.errors);
    let default_profile = profiles::references(
        &mut c,
        &raw.clients,
        raw.default_profile.as_ref(),
        &profiles_dir,
        &known,
    );

    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(Config {
        file: path.to_owned(),
        server,
        upstream,
        metrics,
        parents,
        complaints,
        lists,
        cache_dir,
        classifier,
        query_log,
        dnstap,
        trends,
        clients,
        default_profile,
        profiles,
        tsig_keys,
        exchange,
        directory,
    })
}
