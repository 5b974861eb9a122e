//! `[[client]]`: which devices get which profile, by address, prefix, MAC or the id an
//! encrypted connection names (`id:alice-phone`). Whether the
//! profile exists is checked once the profiles are loaded ([`super::profiles::references`]).

use serde::Deserialize;
use toml::Spanned;

use super::Check;
use crate::clients::ClientId;
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

/// One client; each `match` entry is `id:` and a client id, a network when it reads as
/// one, else a MAC address.
fn client(c: &mut Check<'_>, client: &RawClient) -> ClientConfig {
    let mut networks = Vec::new();
    let mut macs = Vec::new();
    let mut ids = Vec::new();
    for m in &client.matches {
        if let Some(id) = m.get_ref().strip_prefix("id:") {
            match ClientId::parse(id) {
                Ok(id) => ids.push(id),
                Err(e) => c.err(m, Some("match"), format!("`{}`: {e}", m.get_ref())),
            }
        } else if let Some(net) = parse_network(m.get_ref()) {
            networks.push(net);
        } else if let Some(mac) = parse_mac(m.get_ref()) {
            macs.push(mac);
        } else {
            c.err(
                m,
                Some("match"),
                format!(
                    "`{}` is not an IP address, CIDR prefix, MAC address or `id:` client id",
                    m.get_ref()
                ),
            );
        }
    }
    ClientConfig {
        name: client.name.clone(),
        networks,
        macs,
        ids,
        profile: client.profile.get_ref().clone(),
    }
}
