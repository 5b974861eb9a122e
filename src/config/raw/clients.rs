//! `[[client]]`: which devices get which profile, by address, prefix or MAC. Whether the
//! profile exists is checked once the profiles are loaded ([`super::profiles::references`]).

use serde::Deserialize;
use toml::Spanned;

use super::Check;
use crate::config::ClientConfig;
use crate::config::address::{parse_mac, parse_network};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClient {
    name: String,
    #[serde(rename = "match")]
    matches: Vec<Spanned<String>>,
    pub(super) profile: Spanned<String>,
}

pub(super) fn clients(c: &mut Check<'_>, raw: &[RawClient]) -> Vec<ClientConfig> {
    raw.iter().map(|r| client(c, r)).collect()
}

/// One client; each `match` entry is a network when it reads as one, else a MAC address.
fn client(c: &mut Check<'_>, client: &RawClient) -> ClientConfig {
    let mut networks = Vec::new();
    let mut macs = Vec::new();
    for m in &client.matches {
        if let Some(net) = parse_network(m.get_ref()) {
            networks.push(net);
        } else if let Some(mac) = parse_mac(m.get_ref()) {
            macs.push(mac);
        } else {
            c.err(
                m,
                Some("match"),
                format!(
                    "`{}` is not an IP address, CIDR prefix or MAC address",
                    m.get_ref()
                ),
            );
        }
    }
    ClientConfig {
        name: client.name.clone(),
        networks,
        macs,
        profile: client.profile.get_ref().clone(),
    }
}
