//! What every section's conversion shares: reading a TOML file, and [`Check`], which turns a
//! bad value into an error at its line and column and lets the conversion go on, so that one
//! run reports every problem.

use std::net::SocketAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;
use toml::Spanned;

use crate::config::ConfigError;
use crate::config::address::parse_network;

/// Reads and deserialises one file. An unreadable file or a syntax or type error is pushed
/// to `errors` and gives `None`; the source is returned for the errors of later checks.
pub(super) fn read_toml<T: for<'de> Deserialize<'de>>(
    file: &Path,
    errors: &mut Vec<ConfigError>,
) -> Option<(T, String)> {
    let source = match std::fs::read_to_string(file) {
        Ok(s) => s,
        Err(e) => {
            errors.push(ConfigError::file(file, format!("cannot read: {e}")));
            return None;
        }
    };
    let value = parse_toml(file, &source, errors)?;
    Some((value, source))
}

/// Deserialises `source`, the text of `file` (read, or about to be written); a syntax or
/// type error is pushed to `errors` and gives `None`.
pub(super) fn parse_toml<T: for<'de> Deserialize<'de>>(
    file: &Path,
    source: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    match toml::from_str(source) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(ConfigError::from_toml(file, source, &e));
            None
        }
    }
}

/// Collects errors for one file.
pub(super) struct Check<'a> {
    pub file: &'a Path,
    pub source: &'a str,
    pub errors: &'a mut Vec<ConfigError>,
}

impl Check<'_> {
    /// An error at the place of `at` in the file.
    pub fn err<T>(&mut self, at: &Spanned<T>, key: Option<&str>, message: impl Into<String>) {
        self.errors.push(ConfigError::at(
            self.file,
            self.source,
            at.span(),
            key,
            message,
        ));
    }

    /// An error about the file as a whole (something missing, a total over a limit).
    pub fn file_err(&mut self, message: impl Into<String>) {
        self.errors.push(ConfigError::file(self.file, message));
    }

    /// One of a fixed set of words; the first is the default. Anything else is an error that
    /// lists the choices.
    pub fn choose<T: Copy>(
        &mut self,
        value: Option<&Spanned<String>>,
        key: &str,
        options: &[(&str, T)],
    ) -> T {
        let Some(v) = value else {
            return options[0].1;
        };
        match options.iter().find(|(word, _)| *word == v.get_ref()) {
            Some((_, choice)) => *choice,
            None => {
                let words: Vec<String> = options.iter().map(|(w, _)| format!("\"{w}\"")).collect();
                self.err(
                    v,
                    Some(key),
                    format!("expected one of {}", words.join(", ")),
                );
                options[0].1
            }
        }
    }

    /// A time zone by IANA name; UTC (and an error) when unknown.
    /// Categories named under `key` must be declared by some list: a typo would block (or
    /// budget, or alert on) nothing.
    pub fn categories(
        &mut self,
        known: &std::collections::BTreeSet<String>,
        key: &str,
        cats: &[Spanned<String>],
    ) {
        for cat in cats {
            if !known.contains(cat.get_ref()) {
                let names: Vec<&str> = known.iter().map(String::as_str).collect();
                self.err(
                    cat,
                    Some(key),
                    format!(
                        "no list has category `{}` (known categories: {})",
                        cat.get_ref(),
                        names.join(", ")
                    ),
                );
            }
        }
    }

    pub fn timezone(&mut self, name: &Spanned<String>) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(name.get_ref()).unwrap_or_else(|_| {
            self.err(
                name,
                Some("timezone"),
                format!(
                    "unknown time zone `{}` (expected an IANA name such as \"Europe/Moscow\")",
                    name.get_ref()
                ),
            );
            jiff::tz::TimeZone::UTC
        })
    }

    /// Addresses and CIDR prefixes; the bad ones are reported and left out.
    pub fn networks(&mut self, key: &str, values: &[Spanned<String>]) -> Vec<IpNet> {
        values
            .iter()
            .filter_map(|v| match parse_network(v.get_ref()) {
                Some(net) => Some(net),
                None => {
                    self.err(v, Some(key), format!("`{}` is not an IP address or CIDR prefix (expected e.g. 192.168.1.0/24 or ::1)", v.get_ref()));
                    None
                }
            })
            .collect()
    }

    /// An address with a port, for a listener.
    pub fn socket_addr(&mut self, key: &str, v: &Spanned<String>) -> Option<SocketAddr> {
        match v.get_ref().parse() {
            Ok(a) => Some(a),
            Err(_) => {
                self.err(v, Some(key), format!("`{}` is not an address with a port (expected e.g. 127.0.0.1:5353 or [::1]:5353)", v.get_ref()));
                None
            }
        }
    }
}
