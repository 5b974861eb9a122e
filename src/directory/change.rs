//! What the database sends, as values: a row of the full load (`COPY ... TO STDOUT`, text
//! format) and a change pushed by the schema's trigger (a JSON `pg_notify` payload). Pure, so
//! every malformed input is a tested error and never a panic in the loader.

use ipnet::IpNet;
use serde::Deserialize;

use super::table::Key;
use crate::config::parse_mac;

/// The channel the schema's trigger notifies (`deploy/postgres/schema.sql`).
pub const CHANNEL: &str = "familydns_subscribers";

/// The full load: every row, in the column order [`parse_row`] reads.
pub const COPY_ROWS: &str =
    "COPY (SELECT prefix, cpe, profile FROM familydns_subscribers) TO STDOUT";

/// One pushed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Set(Key, String),
    Remove(Key),
    /// Too many rows changed at once (a bulk import, a TRUNCATE): load everything again.
    Reload,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RowError {
    #[error("not a subscriber change: {0}")]
    Payload(String),
    #[error("a row needs exactly one of prefix and cpe")]
    NoKey,
    #[error("`{0}` is not a prefix")]
    Prefix(String),
    #[error("`{0}` is not a MAC address")]
    Cpe(String),
    #[error("a row has {0} fields, not 3")]
    Fields(usize),
    #[error("a row that is not UTF-8")]
    Utf8,
}

#[derive(Deserialize)]
struct Payload {
    op: String,
    prefix: Option<String>,
    cpe: Option<String>,
    profile: Option<String>,
}

/// A payload of the trigger: `{"seq": n, "op": "set" | "remove" | "reload", "prefix": ...,
/// "cpe": ..., "profile": ...}` (`seq` only keeps PostgreSQL from folding equal payloads of
/// one transaction into one).
pub fn parse_change(payload: &str) -> Result<Change, RowError> {
    let p: Payload = serde_json::from_str(payload).map_err(|e| RowError::Payload(e.to_string()))?;
    let key = || key(p.prefix.as_deref(), p.cpe.as_deref());
    match (p.op.as_str(), &p.profile) {
        ("reload", _) => Ok(Change::Reload),
        ("remove", _) => Ok(Change::Remove(key()?)),
        ("set", Some(profile)) => Ok(Change::Set(key()?, profile.clone())),
        _ => Err(RowError::Payload(format!("op `{}`", p.op))),
    }
}

/// One line of the full load: `prefix \t cpe \t profile`, `\N` for NULL.
pub fn parse_row(line: &[u8]) -> Result<(Key, String), RowError> {
    let line = std::str::from_utf8(line).map_err(|_| RowError::Utf8)?;
    let fields: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
    let [prefix, cpe, profile] = fields[..] else {
        return Err(RowError::Fields(fields.len()));
    };
    fn null(f: &str) -> Option<&str> {
        (f != "\\N").then_some(f)
    }
    let profile = null(profile).ok_or(RowError::NoKey)?;
    Ok((key(null(prefix), null(cpe))?, unescape(profile)))
}

fn key(prefix: Option<&str>, cpe: Option<&str>) -> Result<Key, RowError> {
    match (prefix, cpe) {
        (Some(p), None) => p
            .parse::<IpNet>()
            .map(|n| Key::Prefix(n.trunc()))
            .map_err(|_| RowError::Prefix(p.to_owned())),
        (None, Some(c)) => parse_mac(c)
            .map(Key::Cpe)
            .ok_or_else(|| RowError::Cpe(c.to_owned())),
        _ => Err(RowError::NoKey),
    }
}

/// COPY's text escapes (`\\`, `\t`, `\n`, `\r`); names rarely have them, but must not change.
fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_owned();
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        out.push(match (c, c == '\\') {
            (_, false) => c,
            (_, true) => match chars.next() {
                Some('t') => '\t',
                Some('n') => '\n',
                Some('r') => '\r',
                Some(other) => other,
                None => '\\',
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Key {
        Key::Prefix(s.parse().unwrap())
    }

    #[test]
    fn payloads_of_the_trigger() {
        let set = r#"{"seq":1,"op":"set","prefix":"10.1.2.0/24","cpe":null,"profile":"kids"}"#;
        assert_eq!(
            parse_change(set),
            Ok(Change::Set(net("10.1.2.0/24"), "kids".into()))
        );
        let remove = r#"{"seq":2,"op":"remove","prefix":null,"cpe":"02:00:00:00:00:01"}"#;
        assert_eq!(
            parse_change(remove),
            Ok(Change::Remove(Key::Cpe([2, 0, 0, 0, 0, 1])))
        );
        assert_eq!(
            parse_change(r#"{"seq":3,"op":"reload"}"#),
            Ok(Change::Reload)
        );
        for bad in [
            "",
            "{}",
            r#"{"op":"set","prefix":"10.0.0.0/8"}"#,
            r#"{"op":"remove"}"#,
            r#"{"op":"remove","prefix":"10.0.0.0/8","cpe":"02:00:00:00:00:01"}"#,
            r#"{"op":"remove","prefix":"10.0.0.0/33"}"#,
            r#"{"op":"drop","prefix":"10.0.0.0/8"}"#,
        ] {
            assert!(parse_change(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rows_of_the_full_load() {
        assert_eq!(
            parse_row(b"2001:db8::/56\t\\N\tkids\n"),
            Ok((net("2001:db8::/56"), "kids".into()))
        );
        assert_eq!(
            parse_row(b"\\N\t02:00:00:00:00:01\ta\\tb\\\\c"),
            Ok((Key::Cpe([2, 0, 0, 0, 0, 1]), "a\tb\\c".into()))
        );
        // Host bits are dropped, as PostgreSQL's `cidr` refuses them anyway.
        assert_eq!(
            parse_row(b"10.1.2.3/24\t\\N\tkids"),
            Ok((net("10.1.2.0/24"), "kids".into()))
        );
        assert_eq!(parse_row(b"10.0.0.0/8\tkids"), Err(RowError::Fields(2)));
        assert_eq!(parse_row(b"\\N\t\\N\tkids"), Err(RowError::NoKey));
        assert_eq!(parse_row(b"\xff\t\\N\tkids"), Err(RowError::Utf8));
    }
}
