//! Addresses as the config writes them: networks, MAC addresses, and whether an address is
//! reachable from the internet. One place, so that `allow_clients`, `[[client]] match`, the
//! listeners' guards and the EDNS MAC option all read addresses the same way.

use std::net::IpAddr;

use ipnet::IpNet;

use super::PRIVATE_NETWORKS;

/// An IP address or CIDR prefix; an address is its own /32 or /128, and host bits are
/// dropped (`192.168.1.7/24` is `192.168.1.0/24`) so that matching never depends on them.
pub(super) fn parse_network(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
        .map(|n| n.trunc())
}

/// A MAC address in any common notation (`aa:bb:…`, `aa-bb-…`, `aabb.ccdd.eeff`). Bare hex
/// is refused: in a `match` list it could as well be a mistyped address.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let hex: Vec<u8> = s
        .bytes()
        .filter(|c| !matches!(c, b':' | b'-' | b'.'))
        .collect();
    if hex.len() != 12 || hex.len() == s.len() {
        return None;
    }
    let mut mac = [0u8; 6];
    for (i, pair) in hex.chunks(2).enumerate() {
        mac[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(mac)
}

/// IPv4 link-local: not a default client range, but never reachable from the internet either.
const LINK_LOCAL_V4: &str = "169.254.0.0/16";

/// A globally routable unicast address (not loopback, private, link-local, CGNAT, ULA or
/// unspecified): binding one exposes a listener to the internet, which must be meant.
pub(super) fn is_public(ip: IpAddr) -> bool {
    !ip.is_unspecified()
        && !PRIVATE_NETWORKS
            .iter()
            .chain([&LINK_LOCAL_V4])
            .map(|n| n.parse::<IpNet>().expect("valid prefix"))
            .any(|n| n.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_macs() {
        let mac = Some([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
        assert_eq!(parse_mac("aa:bb:cc:dd:ee:ff"), mac);
        assert_eq!(parse_mac("AA-BB-CC-DD-EE-FF"), mac);
        assert_eq!(parse_mac("aabb.ccdd.eeff"), mac);
        assert_eq!(parse_mac("aabbccddeeff0"), None);
        assert_eq!(parse_mac("aabbccddeeff"), None, "bare hex is ambiguous");
    }

    #[test]
    fn networks_drop_host_bits() {
        assert_eq!(
            parse_network("192.168.1.7/24"),
            "192.168.1.0/24".parse().ok()
        );
        assert_eq!(parse_network("::1"), "::1/128".parse().ok());
        assert_eq!(parse_network("192.168.1"), None);
    }

    #[test]
    fn tells_public_addresses() {
        for private in [
            "127.0.0.1",
            "::1",
            "0.0.0.0",
            "::",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.1.1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "172.32.0.1", "2001:db8::1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
