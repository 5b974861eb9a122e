//! Encrypted DNS in: DoT (RFC 7858) and DoH (RFC 8484), for devices off the home network.
//!
//! Both share the plain TCP listener's slots (connection caps) and bounds (`server.tcp`),
//! and answer through the same [`respond`](super::respond) step. A DoT connection, once its
//! handshake is done, is served by the TCP listener's own connection code; DoH is hyper.
//! A device names itself with the DoT server name (`{id}.{client_id_domain}`) or the DoH
//! path (`/dns-query/{id}`): that id picks its `[[client]]` wherever it connects from.

mod certs;
mod doh;
mod dot;

pub use certs::CertError;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig as RustlsConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::server::TlsStream;

use super::pipeline::Pipeline;
use super::tcp::{Slot, Slots};
use crate::config::{TcpConfig, TlsConfig};

/// Time for a client to complete its TLS handshake; its slot is held meanwhile.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the encrypted listeners did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("TLS setup: {0}")]
    Tls(#[from] tokio_rustls::rustls::Error),
    #[error("binding {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

/// The DoT and DoH listeners; dropping it closes them (open connections end with their
/// tasks' own bounds).
pub struct Encrypted {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Encrypted {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What every encrypted connection needs.
#[derive(Clone)]
struct Shared {
    pipeline: Arc<Pipeline>,
    slots: Arc<Slots>,
    tcp: Arc<TcpConfig>,
    client_id_domain: Option<Arc<str>>,
}

impl Encrypted {
    pub async fn start(
        config: &TlsConfig,
        pipeline: Arc<Pipeline>,
        slots: Arc<Slots>,
        tcp: Arc<TcpConfig>,
    ) -> Result<Encrypted, StartError> {
        let certs = certs::Certs::load(&config.cert, &config.key)?;
        let acceptor = |alpn: &[&[u8]]| -> Result<TlsAcceptor, StartError> {
            let mut tls = RustlsConfig::builder_with_provider(Arc::new(ring::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_cert_resolver(certs.clone());
            tls.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            Ok(TlsAcceptor::from(Arc::new(tls)))
        };
        let shared = Shared {
            pipeline,
            slots,
            tcp,
            client_id_domain: config.client_id_domain.as_deref().map(Arc::from),
        };
        let mut encrypted = Encrypted { tasks: Vec::new() };
        let dot = acceptor(&[b"dot"])?;
        for &addr in &config.dot_listen {
            let listener = bind(addr).await?;
            let task = serve(listener, dot.clone(), shared.clone(), dot::connection);
            encrypted.tasks.push(tokio::spawn(task));
        }
        let doh = acceptor(&[b"h2", b"http/1.1"])?;
        for &addr in &config.doh_listen {
            let listener = bind(addr).await?;
            let task = serve(listener, doh.clone(), shared.clone(), doh::connection);
            encrypted.tasks.push(tokio::spawn(task));
        }
        Ok(encrypted)
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Bind(addr, e))
}

/// A connection whose handshake is done, with what serving it needs.
struct Accepted {
    tls: TlsStream<TcpStream>,
    /// The client's address.
    addr: SocketAddr,
    /// The listener's address.
    local: SocketAddr,
    /// Its place under the TCP caps, held until the connection ends.
    slot: Slot,
    shared: Shared,
}

/// Accepts connections on `listener` until the task is dropped, each on its own task:
/// handshake, then `connection` (DoT's or DoH's).
async fn serve<F, Fut>(listener: TcpListener, acceptor: TlsAcceptor, shared: Shared, connection: F)
where
    F: Fn(Accepted) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
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
            connection(Accepted {
                tls,
                addr,
                local,
                slot,
                shared,
            })
            .await;
        });
    }
}

/// The next connection that may be served, with its slot: allowed (`server.allow_clients`)
/// and under the caps, as for plain TCP. The others are closed at once.
async fn accept(listener: &TcpListener, shared: &Shared) -> (TcpStream, SocketAddr, Slot) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "tls accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if !shared.pipeline.allows(peer.ip()) {
            continue;
        }
        if let Some(slot) = shared.slots.acquire(peer.ip()) {
            return (stream, peer, slot);
        }
    }
}

/// The handshake, within [`HANDSHAKE_TIMEOUT`]; `None` (and the socket closed) when it
/// failed or took too long.
async fn handshake(acceptor: &TlsAcceptor, stream: TcpStream) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "tls handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("tls handshake timed out");
            None
        }
    }
}
