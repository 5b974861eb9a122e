//! `[directory]`: the PostgreSQL subscriber directory (an ISP's subscribers and their
//! profiles), its snapshot on disk, and how patiently it reconnects.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tokio_postgres::config::SslMode;
use toml::Spanned;

use super::Check;
use crate::config::parse_duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDirectory {
    /// A libpq connection string: `host=... port=... user=... dbname=...`.
    postgres: Spanned<String>,
    /// A file holding the password, so the config itself can be world-readable.
    password_file: Option<Spanned<String>>,
    /// Where the last table is kept (default `subscribers.snap` in `cache_dir`).
    snapshot: Option<String>,
    /// Longest wait between two connection attempts (default 30s).
    reconnect_max: Option<Spanned<String>>,
}

/// `[directory]`, validated.
#[derive(Debug, Clone)]
pub struct DirectoryConfig {
    /// Where and as whom to connect (password included, redacted from `Debug`).
    pub postgres: tokio_postgres::Config,
    /// The table on disk, read at start when the database is unreachable.
    pub snapshot: PathBuf,
    pub reconnect_max: Duration,
}

const DEFAULT_RECONNECT_MAX: Duration = Duration::from_secs(30);
/// A connection attempt that hangs (a firewall dropping packets) fails after this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// TCP keepalive, so a database that vanished without a word is noticed within a minute or so.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);

pub(super) fn directory(
    c: &mut Check<'_>,
    raw: &RawDirectory,
    base: &Path,
    cache_dir: &Path,
) -> Option<DirectoryConfig> {
    let mut postgres: tokio_postgres::Config = match raw.postgres.get_ref().parse() {
        Ok(p) => p,
        Err(e) => {
            c.err(
                &raw.postgres,
                Some("postgres"),
                format!("not a connection string: {e}"),
            );
            return None;
        }
    };
    if postgres.get_hosts().is_empty() {
        c.err(
            &raw.postgres,
            Some("postgres"),
            "name the server: host=... (an address, or a unix socket directory)",
        );
    }
    if postgres.get_ssl_mode() == SslMode::Require {
        c.err(
            &raw.postgres,
            Some("postgres"),
            "TLS to PostgreSQL is not built in: connect over loopback, a unix socket or a private network (sslmode=disable or prefer)",
        );
    }
    if let Some(file) = &raw.password_file {
        match std::fs::read_to_string(base.join(file.get_ref())) {
            Ok(p) => {
                postgres.password(p.trim_end_matches(['\r', '\n']));
            }
            Err(e) => c.err(file, Some("password_file"), format!("cannot read: {e}")),
        }
    }
    if postgres.get_connect_timeout().is_none() {
        postgres.connect_timeout(CONNECT_TIMEOUT);
    }
    postgres.keepalives_idle(KEEPALIVE_IDLE);
    postgres.application_name("familydns");
    let reconnect_max = match &raw.reconnect_max {
        None => DEFAULT_RECONNECT_MAX,
        Some(d) => match parse_duration(d.get_ref()) {
            Some(d) if !d.is_zero() => d,
            _ => {
                c.err(d, Some("reconnect_max"), "expected a duration such as 30s");
                DEFAULT_RECONNECT_MAX
            }
        },
    };
    Some(DirectoryConfig {
        postgres,
        snapshot: raw
            .snapshot
            .as_ref()
            .map_or_else(|| cache_dir.join("subscribers.snap"), |p| base.join(p)),
        reconnect_max,
    })
}
