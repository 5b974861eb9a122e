//! A device's own name for itself, carried by encrypted DNS: the DoH path
//! (`/dns-query/{id}`) or the DoT server name (`{id}.{client_id_domain}`). It names the
//! device wherever it is, so a phone off the home network keeps its child's profile.

use std::fmt;

/// Longest id: one DNS label, since DoT carries it as one.
pub const MAX_LEN: usize = 63;

/// A valid id: 1 to 63 letters, digits or hyphens, not starting or ending with a hyphen,
/// stored lowercase (DNS names are case-insensitive, so `Alice` in an SNI is `alice`).
/// Inline and `Copy` like the rest of [`crate::snapshot::Client`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientId {
    bytes: [u8; MAX_LEN],
    len: u8,
}

/// Why a text is not a client id.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadId {
    #[error("a client id is 1 to {MAX_LEN} characters")]
    Length,
    #[error("a client id has only letters, digits and `-`, and does not start or end with `-`")]
    Charset,
}

impl ClientId {
    pub fn parse(text: &str) -> Result<ClientId, BadId> {
        let raw = text.as_bytes();
        if raw.is_empty() || raw.len() > MAX_LEN {
            return Err(BadId::Length);
        }
        if !raw.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            || raw.starts_with(b"-")
            || raw.ends_with(b"-")
        {
            return Err(BadId::Charset);
        }
        let mut bytes = [0; MAX_LEN];
        for (to, from) in bytes.iter_mut().zip(raw) {
            *to = from.to_ascii_lowercase();
        }
        Ok(ClientId {
            bytes,
            len: raw.len() as u8,
        })
    }

    /// The id a DoT server name carries: its first label when the rest is `domain`
    /// (compared without case and without a final dot); `None` for any other name.
    pub fn from_server_name(name: &str, domain: &str) -> Option<ClientId> {
        let (label, rest) = name.trim_end_matches('.').split_once('.')?;
        rest.eq_ignore_ascii_case(domain.trim_end_matches('.'))
            .then(|| ClientId::parse(label).ok())
            .flatten()
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).expect("checked ASCII")
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({})", self.as_str())
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dns_labels() {
        assert_eq!(
            ClientId::parse("Alice-Phone").unwrap().as_str(),
            "alice-phone"
        );
        assert_eq!(ClientId::parse(""), Err(BadId::Length));
        assert_eq!(ClientId::parse(&"a".repeat(64)), Err(BadId::Length));
        assert!(ClientId::parse(&"a".repeat(63)).is_ok());
        assert_eq!(ClientId::parse("-a"), Err(BadId::Charset));
        assert_eq!(ClientId::parse("a_b"), Err(BadId::Charset));
        assert_eq!(ClientId::parse("a.b"), Err(BadId::Charset));
    }

    #[test]
    fn server_names_carry_an_id_under_the_domain_only() {
        let d = "dot.example.net";
        let id = |n| ClientId::from_server_name(n, d).map(|i| i.to_string());
        assert_eq!(id("alice.dot.example.net").as_deref(), Some("alice"));
        assert_eq!(id("ALICE.Dot.Example.Net.").as_deref(), Some("alice"));
        assert_eq!(id("dot.example.net"), None);
        assert_eq!(id("a.b.dot.example.net"), None);
        assert_eq!(id("alice.other.net"), None);
    }
}
