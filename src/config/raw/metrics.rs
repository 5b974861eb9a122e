//! `[metrics]`: the HTTP listener of `/metrics`, `/health` and the admin endpoints, and its
//! guards. The listener has no access list, so a public bind must be meant, and the admin
//! token must be one nobody else has read.

use serde::Deserialize;
use toml::Spanned;

use super::Check;
use crate::config::MetricsConfig;
use crate::config::address::is_public;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    listen: Spanned<String>,
    /// Bearer token of the admin endpoints (reload, timed allow, pause); off when unset.
    admin_token: Option<Spanned<String>>,
    /// Must be set to bind a public or wildcard address: the listener has no access list.
    #[serde(default)]
    allow_remote: bool,
    /// Connections served at once; more are closed when accepted.
    max_connections: Option<Spanned<u64>>,
}

/// `metrics.max_connections` when the config gives none: plenty for Prometheus and the CLI.
const DEFAULT_HTTP_CONNECTIONS: u64 = 64;
/// The `admin_token` example in the shipped config: uncommented as it is, it would be a
/// token everyone who has read the config knows.
const PLACEHOLDER_TOKEN: &str = "put-at-least-16-random-characters-here";
/// Shortest admin token accepted.
const MIN_TOKEN_CHARS: usize = 16;

pub(super) fn metrics(c: &mut Check<'_>, m: &RawMetrics) -> Option<MetricsConfig> {
    let admin_token = m.admin_token.as_ref().and_then(|t| {
        let problem = if t.get_ref() == PLACEHOLDER_TOKEN {
            Some(
                "is the example from the shipped config: replace it with at least 16 random characters of your own",
            )
        } else if t.get_ref().chars().count() < MIN_TOKEN_CHARS {
            Some("too short: use at least 16 random characters")
        } else {
            None
        };
        match problem {
            Some(problem) => {
                c.err(t, Some("admin_token"), problem);
                None
            }
            None => Some(t.get_ref().clone()),
        }
    });
    let max_connections = match &m.max_connections {
        None => DEFAULT_HTTP_CONNECTIONS,
        Some(n) if *n.get_ref() == 0 => {
            c.err(n, Some("max_connections"), "must be more than 0");
            DEFAULT_HTTP_CONNECTIONS
        }
        Some(n) => *n.get_ref(),
    };
    let listen = c.socket_addr("listen", &m.listen)?;
    // Unlike the DNS listener (whose `allow_clients` default still applies on 0.0.0.0), a
    // wildcard bind here would answer anyone who can reach any of the host's addresses.
    if !m.allow_remote && (is_public(listen.ip()) || listen.ip().is_unspecified()) {
        c.err(
            &m.listen,
            Some("listen"),
            format!(
                "`{listen}` is reachable from other networks, and /metrics, /health, the admin endpoints and the parents' page answer anyone who reaches them: bind loopback or a private address, or set metrics.allow_remote = true to mean it"
            ),
        );
    }
    Some(MetricsConfig {
        listen,
        admin_token,
        max_connections: usize::try_from(max_connections).unwrap_or(usize::MAX),
    })
}
