//! Client identity that routers pass along in EDNS0, honoured only from trusted forwarders.
//!
//! dnsmasq `add-mac` sends option 65001 (the MAC as 6 bytes); other forwarders send 65073
//! (the MAC as text or base64); ECS (option 8) carries the client's subnet. From anyone but
//! `server.trusted_forwarders` these are ignored (and counted): a client must not pick its own
//! profile by claiming another device's MAC. They never reach the upstream either: the
//! forwarder builds fresh queries, so a child's MAC never leaves the house.

use std::net::IpAddr;

use hickory_proto::op::Edns;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};

use crate::config::parse_mac;
use crate::snapshot::{Client, Snapshot};

const MAC_BINARY: u16 = 65001;
const MAC_TEXT: u16 = 65073;

/// The client behind a request, and whether it carried identity options we ignored.
pub fn identify(snapshot: &Snapshot, src: IpAddr, edns: Option<&Edns>) -> (Client, bool) {
    let mut client = Client::address(src);
    let Some(edns) = edns else {
        return (client, false);
    };
    let mac = edns
        .option(EdnsCode::Unknown(MAC_BINARY))
        .and_then(|o| match o {
            EdnsOption::Unknown(_, data) => <[u8; 6]>::try_from(data.as_slice()).ok(),
            _ => None,
        })
        .or_else(|| {
            edns.option(EdnsCode::Unknown(MAC_TEXT))
                .and_then(|o| match o {
                    EdnsOption::Unknown(_, data) => mac_from_text(data),
                    _ => None,
                })
        });
    let subnet = match edns.option(EdnsCode::Subnet) {
        Some(EdnsOption::Subnet(s)) => Some(s.addr()),
        _ => None,
    };
    if mac.is_none() && subnet.is_none() {
        return (client, false);
    }
    if !snapshot.is_trusted(src) {
        return (client, true);
    }
    client.mac = mac;
    if let Some(ip) = subnet {
        client.ip = ip;
    }
    (client, false)
}

/// Option 65073: the MAC in text (`aa:bb:cc:dd:ee:ff`) or as base64 of its 6 bytes.
fn mac_from_text(data: &[u8]) -> Option<[u8; 6]> {
    let text = std::str::from_utf8(data).ok()?.trim();
    parse_mac(text).or_else(|| base64_6(text))
}

fn base64_6(text: &str) -> Option<[u8; 6]> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let text = text.trim_end_matches('=');
    if text.len() != 8 {
        return None;
    }
    let mut bits: u64 = 0;
    for c in text.bytes() {
        bits = (bits << 6) | ALPHABET.iter().position(|&a| a == c)? as u64;
    }
    let bytes = bits.to_be_bytes();
    bytes[2..8].try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_base64_macs() {
        let mac = [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
        assert_eq!(mac_from_text(b"aa:bb:cc:dd:ee:ff"), Some(mac));
        assert_eq!(mac_from_text(b"qrvM3e7/"), Some(mac));
        assert_eq!(mac_from_text(b"not a mac"), None);
    }
}
