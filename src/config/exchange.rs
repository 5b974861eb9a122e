//! The RPZ exchange's settings: TSIG keys (`[[tsig_key]]`), the published feed
//! (`[exchange]`) and the address of a subscribed feed (`source = "rpz+axfr://…"`).

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::rr::Name;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use ipnet::IpNet;

/// `[[tsig_key]]`: a secret shared with one party, for signed transfers and NOTIFYs.
#[derive(Debug, Clone)]
pub struct TsigKeyConfig {
    /// The key's name as both parties spell it (a DNS name).
    pub name: Name,
    pub algorithm: TsigAlgorithm,
    pub secret: Secret,
}

/// Key bytes; `Debug` does not print them, so a logged config leaks no secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// `[exchange]`: the accepted names published as one RPZ zone per category.
#[derive(Debug, Clone)]
pub struct ExchangeConfig {
    /// TCP (transfers, SOA) and UDP (SOA polls) address.
    pub listen: SocketAddr,
    /// The parent of the category zones: `adult.<zone>`, `gambling.<zone>`, …
    pub zone: Name,
    pub subscribers: Vec<SubscriberConfig>,
    /// Transfer connections served at once; more are closed when accepted.
    pub max_connections: usize,
    /// A connection is closed after this long without a complete request.
    pub idle_timeout: Duration,
    /// Diffs kept per zone for IXFR; a subscriber further behind gets the whole zone.
    pub journal: usize,
    /// Most names a category zone may hold; past it the zone keeps its last good content.
    pub max_names: usize,
}

/// `[[exchange.subscriber]]`: one party that transfers the feed.
#[derive(Debug, Clone)]
pub struct SubscriberConfig {
    pub name: String,
    /// The `[[tsig_key]]` this party signs with.
    pub key: Option<Name>,
    /// Addresses allowed to transfer without TSIG (for software that cannot sign, such as
    /// Unbound): weaker, the address is the only proof.
    pub unsigned_from: Vec<IpNet>,
    /// Where NOTIFY goes when a zone's serial changes.
    pub notify: Vec<SocketAddr>,
}

/// A list's `source = "rpz+axfr://HOST:PORT/ZONE#key"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSource {
    pub primary: SocketAddr,
    pub zone: Name,
    /// The `[[tsig_key]]` the transfers are signed with.
    pub key: Option<Name>,
}

/// The URL scheme of a subscribed RPZ feed.
pub const FEED_SCHEME: &str = "rpz+axfr://";

/// Why a feed source does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FeedSourceError {
    #[error("expected rpz+axfr://IP:PORT/ZONE or rpz+axfr://IP:PORT/ZONE#tsig-key-name")]
    Shape,
    #[error(
        "`{0}` is not an IP address with a port (a host name would be resolved through ourselves)"
    )]
    Primary(String),
    #[error("`{0}` is not a zone name")]
    Zone(String),
    #[error("`{0}` is not a key name")]
    Key(String),
}

impl FeedSource {
    /// Parses `rpz+axfr://127.0.0.1:8053/feed.example#key`.
    pub fn parse(url: &str) -> Result<FeedSource, FeedSourceError> {
        let rest = url
            .strip_prefix(FEED_SCHEME)
            .ok_or(FeedSourceError::Shape)?;
        let (rest, key) = match rest.split_once('#') {
            Some((rest, key)) => (rest, Some(key)),
            None => (rest, None),
        };
        let (primary, zone) = rest.split_once('/').ok_or(FeedSourceError::Shape)?;
        let primary = primary
            .parse()
            .map_err(|_| FeedSourceError::Primary(primary.into()))?;
        let zone = fqdn(zone).ok_or_else(|| FeedSourceError::Zone(zone.into()))?;
        let key = key
            .map(|k| fqdn(k).ok_or_else(|| FeedSourceError::Key(k.into())))
            .transpose()?;
        Ok(FeedSource { primary, zone, key })
    }
}

/// A non-root DNS name, lowercase and fully qualified.
pub fn fqdn(text: &str) -> Option<Name> {
    let text = text.trim_end_matches('.');
    if text.is_empty() {
        return None;
    }
    let mut name = Name::from_ascii(text).ok()?.to_lowercase();
    name.set_fqdn(true);
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_sources_parse() {
        let s = FeedSource::parse("rpz+axfr://127.0.0.1:8053/Feed.Alliance.example#k1").unwrap();
        assert_eq!(s.primary, "127.0.0.1:8053".parse().unwrap());
        assert_eq!(s.zone.to_ascii(), "feed.alliance.example.");
        assert_eq!(s.key.unwrap().to_ascii(), "k1.");
        let s = FeedSource::parse("rpz+axfr://[::1]:53/z.example").unwrap();
        assert_eq!(s.key, None);
        assert_eq!(
            FeedSource::parse("rpz+axfr://ns.example:53/z"),
            Err(FeedSourceError::Primary("ns.example:53".into()))
        );
        assert_eq!(
            FeedSource::parse("rpz+axfr://127.0.0.1:53"),
            Err(FeedSourceError::Shape)
        );
        assert_eq!(
            FeedSource::parse("rpz+axfr://127.0.0.1:53/"),
            Err(FeedSourceError::Zone(String::new()))
        );
    }
}
