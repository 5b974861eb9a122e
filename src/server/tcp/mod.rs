//! The TCP listener: connection limits, timeouts and pipelining.
//!
//! hickory-server's TCP path has no limit on connections and answers a connection's queries
//! one after another; a resolver facing the internet (or a buggy IoT device) needs both
//! bounded. A client outside `allow_clients` is closed at accept and never takes a slot;
//! the others get a slot in [`Slots`] (a total cap, and a cap per IPv4 address or IPv6
//! /64), and each connection is one task bounded in memory and time (see [`connection`]):
//! queries answered concurrently (pipelining, RFC 7766) up to a cap, answers written as
//! soon as they are ready, [`READ_TIMEOUT`] within a message, and messages above
//! [`MAX_MESSAGE`] bytes close the connection. The other limits are `server.tcp` keys.

mod connection;
mod slots;

pub use connection::{Peer, serve as serve_connection};

pub use slots::{Slot, Slots};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use super::pipeline::Pipeline;
use crate::config::TcpConfig;
use crate::dnstap::Transport;

/// Time to receive the rest of a message once its first byte has arrived.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Queries are small; anything larger than this is not a query we answer.
pub const MAX_MESSAGE: usize = 4096;

/// Accepts connections until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    pipeline: Arc<Pipeline>,
    slots: Arc<Slots>,
    config: Arc<TcpConfig>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Dropping the stream closes it: not allowed, or over a cap. A trusted proxy's
        // clients are checked against `allow_clients` query by query, once its header has
        // named them.
        let proxied = pipeline.proxied_by(peer.ip());
        if !proxied && !pipeline.allows(peer.ip()) {
            continue;
        }
        let slot = if proxied {
            slots.acquire_for_proxy()
        } else {
            slots.acquire(peer.ip())
        };
        let Some(slot) = slot else {
            continue;
        };
        // Only dnstap reads it.
        let local = stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        tokio::spawn(connection::serve(
            stream,
            Peer {
                addr: peer,
                proxied,
                local,
                id: None,
                transport: Transport::Tcp,
            },
            pipeline.clone(),
            config.clone(),
            slot,
        ));
    }
}
