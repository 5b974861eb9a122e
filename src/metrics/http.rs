//! Serving the metrics/admin router with bounds a client cannot outgrow.
//!
//! `axum::serve` sets no timer, so hyper's header-read timeout never applies and a client
//! that sends half a request holds its connection (and a descriptor the DNS listeners share)
//! forever. Here hyper serves each connection with a timer and a header-read timeout, every
//! connection has a maximum lifetime (which also bounds a client that never reads its
//! answer), and connections beyond `metrics.max_connections` are closed as soon as they are
//! accepted, so neither memory nor descriptors grow with the number of clients.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;

use super::Metrics;

/// A client must finish its request headers this soon after connecting (or after its last
/// answer, on a kept-alive connection).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a connection may live, whatever it does: bounds slow writes to a client that does
/// not read, and kept-alive connections. Reloads of large lists fit well within it.
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);

/// Serves `app` on `listener`, at most `max_connections` at a time, until the task is
/// dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    max_connections: usize,
    metrics: Arc<Metrics>,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, most likely: wait rather than spin.
                tracing::warn!(error = %e, "metrics endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics.http_refused.inc();
            drop(stream);
            continue;
        };
        // Handlers that need the client's address (the parents' login rate limit) read it
        // as `ConnectInfo`.
        let service = TowerToHyperService::new(app.clone().layer(Extension(ConnectInfo(peer))));
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            // Dropping the connection at the deadline closes the socket.
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
            drop(slot);
        });
    }
}
