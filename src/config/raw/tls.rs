//! `[server.tls]`: the encrypted listeners (DoT, DoH), their certificate, and the domain
//! under which a DoT server name carries a client id.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::Check;
use crate::config::TlsConfig;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    cert: Spanned<String>,
    key: Spanned<String>,
    #[serde(default)]
    dot_listen: Vec<Spanned<String>>,
    #[serde(default)]
    doh_listen: Vec<Spanned<String>>,
    client_id_domain: Option<Spanned<String>>,
}

pub(super) fn tls(c: &mut Check<'_>, raw: &RawTls) -> TlsConfig {
    // Relative paths are relative to the config's directory, like the others.
    let base = c.file.parent().unwrap_or(Path::new(".")).to_owned();
    if raw.dot_listen.is_empty() && raw.doh_listen.is_empty() {
        c.err(
            &raw.cert,
            None,
            "[server.tls] needs `dot_listen` or `doh_listen` (or both)",
        );
    }
    let client_id_domain = raw.client_id_domain.as_ref().and_then(|d| {
        let name = d.get_ref().trim_end_matches('.').to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|l| {
                (1..=63).contains(&l.len())
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            c.err(
                d,
                Some("client_id_domain"),
                "expected a domain name such as \"dot.example.net\"",
            );
        }
        valid.then_some(name)
    });
    TlsConfig {
        cert: base.join(raw.cert.get_ref()),
        key: base.join(raw.key.get_ref()),
        dot_listen: raw
            .dot_listen
            .iter()
            .filter_map(|a| c.socket_addr("dot_listen", a))
            .collect(),
        doh_listen: raw
            .doh_listen
            .iter()
            .filter_map(|a| c.socket_addr("doh_listen", a))
            .collect(),
        client_id_domain,
    }
}
