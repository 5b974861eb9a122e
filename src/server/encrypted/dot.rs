//! DoT: TLS on TCP, then the plain TCP listener's framing, pipelining and timeouts.

use super::Accepted;
use crate::clients::ClientId;
use crate::dnstap::Transport;
use crate::server::tcp::{Peer, serve_connection};

/// Serves one DoT connection; its TLS server name may name the client.
pub(super) async fn connection(accepted: Accepted) {
    let shared = accepted.shared;
    let id = shared.client_id_domain.as_deref().and_then(|domain| {
        let name = accepted.tls.get_ref().1.server_name()?;
        ClientId::from_server_name(name, domain)
    });
    let peer = Peer {
        addr: accepted.addr,
        proxied: false,
        local: accepted.local,
        id,
        transport: Transport::Dot,
    };
    serve_connection(
        accepted.tls,
        peer,
        shared.pipeline,
        shared.tcp,
        accepted.slot,
    )
    .await;
}
