//! PROXY protocol v2 (HAProxy's specification): the real client of a query that a load
//! balancer such as dnsdist (`newServer{..., useProxyProtocol=true}`) forwards to us.
//!
//! Behind a load balancer every query comes from the balancer's address, so without the
//! header each subscriber would get the balancer's profile. The header is believed only from
//! `server.trusted_proxies`: from anyone else it would let a client pick whose profile (and
//! whose rate-limit bucket) it gets, so such a packet or connection is refused and counted.
//! A trusted proxy may also send without a header (then the proxy itself is the client), and
//! a `LOCAL` header (dnsdist's health checks) means the same.

use std::net::SocketAddr;

use ppp::v2::{Addresses, Command, Header, ParseError};

/// The twelve bytes every v2 header starts with. No DNS message from a real client starts
/// with them (they read as a query with opcode 1, IQUERY, which RFC 3425 retired).
pub const SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// The longest header we read. dnsdist sends 28 bytes (IPv4) or 52 (IPv6) plus the TLVs a
/// config adds; a header that claims more is not a proxy we know.
pub const MAX_HEADER: usize = 512;

/// Where a query came from once its header, if any, is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The client the profile, `allow_clients` and the rate limit apply to.
    pub client: SocketAddr,
    /// Bytes of header before the DNS message (0 when there is none).
    pub header: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProxyError {
    #[error("a PROXY header from {0}, which is not in server.trusted_proxies")]
    Untrusted(SocketAddr),
    #[error("a PROXY header of {0} bytes (the limit is {MAX_HEADER})")]
    TooLong(usize),
    #[error("a malformed PROXY header: {0}")]
    Malformed(#[from] ParseError),
}

/// Reads the header at the start of `bytes` (a datagram, or the first bytes of a TCP
/// stream) received from `peer`. `Ok(None)` means the header is not complete yet (TCP only:
/// read more). `trusted` is asked only when there is a header: a plain query pays nothing.
pub fn origin(
    bytes: &[u8],
    peer: SocketAddr,
    trusted: impl FnOnce() -> bool,
) -> Result<Option<Origin>, ProxyError> {
    let prefix = bytes.len().min(SIGNATURE.len());
    if bytes[..prefix] != SIGNATURE[..prefix] {
        return Ok(Some(Origin {
            client: peer,
            header: 0,
        }));
    }
    if !trusted() {
        return Err(ProxyError::Untrusted(peer));
    }
    let header = match Header::try_from(bytes) {
        Ok(header) => header,
        Err(ParseError::Incomplete(_)) => return Ok(None),
        Err(ParseError::Partial(_, length)) if length + 16 > MAX_HEADER => {
            return Err(ProxyError::TooLong(length + 16));
        }
        Err(ParseError::Partial(..)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    if header.len() > MAX_HEADER {
        return Err(ProxyError::TooLong(header.len()));
    }
    let client = match (header.command, header.addresses) {
        (Command::Proxy, Addresses::IPv4(a)) => SocketAddr::from((a.source_address, a.source_port)),
        (Command::Proxy, Addresses::IPv6(a)) => SocketAddr::from((a.source_address, a.source_port)),
        // LOCAL (health checks), and families with no IP address: the proxy itself.
        _ => peer,
    };
    Ok(Some(Origin {
        client,
        header: header.len(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ppp::v2::{Builder, Protocol, Version};

    const PROXY: &str = "127.0.0.1:40000";

    fn peer() -> SocketAddr {
        PROXY.parse().unwrap()
    }

    fn header(command: Command, client: &str) -> Vec<u8> {
        let client: SocketAddr = client.parse().unwrap();
        let ours: SocketAddr = match client {
            SocketAddr::V4(_) => "127.0.0.1:53".parse().unwrap(),
            SocketAddr::V6(_) => "[::1]:53".parse().unwrap(),
        };
        Builder::with_addresses(Version::Two | command, Protocol::Datagram, (client, ours))
            .build()
            .unwrap()
    }

    #[test]
    fn a_trusted_header_names_the_client_and_its_length() {
        for client in ["192.0.2.7:5300", "[2001:db8::7]:5300"] {
            let mut packet = header(Command::Proxy, client);
            let len = packet.len();
            packet.extend_from_slice(&[0xab; 30]);
            let origin = origin(&packet, peer(), || true).unwrap().unwrap();
            assert_eq!(origin.client, client.parse().unwrap());
            assert_eq!(origin.header, len);
        }
    }

    #[test]
    fn local_and_headerless_mean_the_peer_itself() {
        let local = header(Command::Local, "192.0.2.7:5300");
        let origin = origin(&local, peer(), || true).unwrap().unwrap();
        assert_eq!((origin.client, origin.header), (peer(), local.len()));
        let query = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for trusted in [true, false] {
            let origin = super::origin(&query, peer(), || trusted).unwrap().unwrap();
            assert_eq!((origin.client, origin.header), (peer(), 0));
        }
    }

    #[test]
    fn an_untrusted_header_is_refused() {
        let packet = header(Command::Proxy, "192.0.2.7:5300");
        assert_eq!(
            origin(&packet, peer(), || false),
            Err(ProxyError::Untrusted(peer()))
        );
        // Even its first bytes: a TCP client must not get to send the rest.
        assert_eq!(
            origin(&packet[..5], peer(), || false),
            Err(ProxyError::Untrusted(peer()))
        );
    }

    #[test]
    fn a_partial_header_asks_for_more_and_a_long_one_is_refused() {
        let packet = header(Command::Proxy, "192.0.2.7:5300");
        for cut in [1, 12, 15, packet.len() - 1] {
            assert_eq!(
                origin(&packet[..cut], peer(), || true),
                Ok(None),
                "cut at {cut}"
            );
        }
        let mut long = packet[..16].to_vec();
        long[14..16].copy_from_slice(&2000u16.to_be_bytes());
        assert_eq!(
            origin(&long, peer(), || true),
            Err(ProxyError::TooLong(2016))
        );
        let mut bad = packet.clone();
        bad[12] = 0x31; // version 3
        assert!(matches!(
            origin(&bad, peer(), || true),
            Err(ProxyError::Malformed(_))
        ));
    }
}
