//! `[dnstap]`: `socket` or `tcp` (exactly one), `identity`, `queue`.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::Check;
use crate::config::{DnstapConfig, DnstapTarget};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDnstap {
    socket: Option<Spanned<String>>,
    tcp: Option<Spanned<String>>,
    identity: Option<String>,
    #[serde(default = "default_queue")]
    queue: Spanned<usize>,
}

/// About ten seconds of a busy instance at 10,000 queries a second: a collector's restart
/// costs nothing, a dead one costs a few MiB.
fn default_queue() -> Spanned<usize> {
    Spanned::new(0..0, 100_000)
}

/// The largest `queue`: events hold a copy of the query and the answer, about 200 bytes.
const MAX_QUEUE: usize = 10_000_000;

pub(super) fn dnstap(c: &mut Check<'_>, raw: &RawDnstap, base: &Path) -> Option<DnstapConfig> {
    let target = match (&raw.socket, &raw.tcp) {
        (Some(path), None) => DnstapTarget::Unix(base.join(path.get_ref())),
        (None, Some(addr)) => DnstapTarget::Tcp(c.socket_addr("tcp", addr)?),
        (Some(at), Some(_)) => {
            c.err(at, Some("socket"), "set `socket` or `tcp`, not both");
            return None;
        }
        (None, None) => {
            c.err(
                &raw.queue,
                None,
                "[dnstap] needs `socket = \"/path\"` or `tcp = \"ip:port\"`",
            );
            return None;
        }
    };
    let queue = *raw.queue.get_ref();
    if !(1..=MAX_QUEUE).contains(&queue) {
        c.err(
            &raw.queue,
            Some("queue"),
            format!("must be between 1 and {MAX_QUEUE}"),
        );
    }
    Some(DnstapConfig {
        target,
        identity: raw
            .identity
            .clone()
            .unwrap_or_else(|| "familydns".to_owned()),
        queue,
    })
}
