//! `[server.tcp]` and `[server.udp]`: the listeners' resource bounds. Every key is optional;
//! the defaults are [`TcpConfig::default`] and [`UdpConfig::default`].

use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::Check;
use crate::config::{TcpConfig, UdpConfig, parse_duration};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTcp {
    max_connections: Option<Spanned<usize>>,
    max_per_client: Option<Spanned<usize>>,
    max_in_flight: Option<Spanned<usize>>,
    idle_timeout: Option<Spanned<String>>,
    write_timeout: Option<Spanned<String>>,
    max_lifetime: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUdp {
    max_waiting: Option<Spanned<usize>>,
}

pub(super) fn tcp(c: &mut Check<'_>, raw: &RawTcp) -> TcpConfig {
    let d = TcpConfig::default();
    TcpConfig {
        max_connections: count(c, raw.max_connections.as_ref(), "max_connections")
            .unwrap_or(d.max_connections),
        max_per_client: count(c, raw.max_per_client.as_ref(), "max_per_client")
            .unwrap_or(d.max_per_client),
        max_in_flight: count(c, raw.max_in_flight.as_ref(), "max_in_flight")
            .unwrap_or(d.max_in_flight),
        idle_timeout: duration(c, raw.idle_timeout.as_ref(), "idle_timeout")
            .unwrap_or(d.idle_timeout),
        write_timeout: duration(c, raw.write_timeout.as_ref(), "write_timeout")
            .unwrap_or(d.write_timeout),
        max_lifetime: duration(c, raw.max_lifetime.as_ref(), "max_lifetime")
            .unwrap_or(d.max_lifetime),
    }
}

pub(super) fn udp(c: &mut Check<'_>, raw: &RawUdp) -> UdpConfig {
    UdpConfig {
        max_waiting: count(c, raw.max_waiting.as_ref(), "max_waiting")
            .unwrap_or(UdpConfig::default().max_waiting),
    }
}

/// A limit, which must be at least 1: a zero would silently turn a listener off.
fn count(c: &mut Check<'_>, value: Option<&Spanned<usize>>, key: &str) -> Option<usize> {
    let v = value?;
    if *v.get_ref() == 0 {
        c.err(v, Some(key), "must be more than 0");
        return None;
    }
    Some(*v.get_ref())
}

/// A timeout such as `"5s"` or `"2m"`, which must be more than zero.
fn duration(c: &mut Check<'_>, value: Option<&Spanned<String>>, key: &str) -> Option<Duration> {
    let v = value?;
    match parse_duration(v.get_ref()) {
        Some(d) if !d.is_zero() => Some(d),
        _ => {
            c.err(
                v,
                Some(key),
                "expected a duration of at least 1s, such as \"5s\" or \"2m\"",
            );
            None
        }
    }
}
