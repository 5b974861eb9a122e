//! DoT: TLS on TCP, then the plain TCP listener's framing, pipelining and timeouts.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::{Shared, accept, handshake};
use crate::clients::ClientId;
use crate::dnstap::Transport;
use crate::server::tcp::{Peer, serve_connection};

/// Accepts DoT connections until the task is dropped.
pub async fn serve(listener: TcpListener, acceptor: TlsAcceptor, shared: Shared) {
    let local = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    loop {
        let (stream, addr, slot) = accept(&listener, &shared).await;
        let (acceptor, shared) = (acceptor.clone(), shared.clone());
        tokio::spawn(async move {
            let Some(tls) = handshake(&acceptor, stream).await else {
                return;
            };
            let id = shared.client_id_domain.as_deref().and_then(|domain| {
                let name = tls.get_ref().1.server_name()?;
                ClientId::from_server_name(name, domain)
            });
            let peer = Peer {
                addr,
                proxied: false,
                local,
                id,
                transport: Transport::Dot,
            };
            serve_connection(tls, peer, shared.pipeline, shared.tcp, slot).await;
        });
    }
}
