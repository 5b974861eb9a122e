//! Wiring: config → snapshot → forwarder → listeners, and reloads.
//!
//! `start` is what `familydns serve` runs and what the integration tests start on ephemeral
//! loopback ports, so the tests exercise exactly the production path.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::task::JoinHandle;

use crate::config::{self, Config};
use crate::metrics::{self, Metrics};
use crate::server::{self, Clock, Handler};
use crate::snapshot::Snapshot;
use crate::upstream::{Forwarder, UpstreamError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] config::ConfigErrors),
    #[error("{0}")]
    Lists(#[from] crate::snapshot::SnapshotError),
    #[error("{0}")]
    Upstream(#[from] UpstreamError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// A running resolver.
pub struct Running {
    /// The addresses actually bound (useful when the config asked for port 0).
    pub dns_addrs: Vec<SocketAddr>,
    pub metrics_addr: Option<SocketAddr>,
    pub metrics: Arc<Metrics>,
    snapshot: Arc<ArcSwap<Snapshot>>,
    config_path: PathBuf,
    server: JoinHandle<()>,
    metrics_task: Option<JoinHandle<()>>,
}

/// Loads the config, compiles the lists and starts serving.
pub async fn start(config_path: &Path) -> Result<Running, StartError> {
    let config = config::load(config_path)?;
    start_with(config).await
}

pub async fn start_with(config: Config) -> Result<Running, StartError> {
    start_with_clock(config, Arc::new(jiff::Timestamp::now)).await
}

/// Starts with a given clock for the schedules (tests pin the time).
pub async fn start_with_clock(config: Config, clock: Clock) -> Result<Running, StartError> {
    let snapshot = build_snapshot(config.clone()).await?;
    let metrics = Arc::new(Metrics::new());
    metrics.snapshot_loaded(&snapshot);
    let snapshot = Arc::new(ArcSwap::from_pointee(snapshot));
    let forwarder = Arc::new(Forwarder::new(&config.upstream)?);

    let (metrics_addr, metrics_task) = match &config.metrics {
        Some(m) => {
            let listener = tokio::net::TcpListener::bind(m.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: m.listen.to_string(),
                    source,
                })?;
            let addr = listener.local_addr().ok();
            let fw = forwarder.clone();
            let task = tokio::spawn(metrics::serve(listener, metrics.clone(), move || {
                fw.cache().len()
            }));
            (addr, Some(task))
        }
        None => (None, None),
    };

    let handler = Handler::new(snapshot.clone(), forwarder, metrics.clone(), clock);
    let (mut dns, dns_addrs) =
        server::bind(handler, &config.server.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: format!("{:?}", config.server.listen),
                source,
            })?;
    let server = tokio::spawn(async move {
        if let Err(e) = dns.block_until_done().await {
            tracing::error!(error = %e, "DNS server stopped");
        }
    });
    Ok(Running {
        dns_addrs,
        metrics_addr,
        metrics,
        snapshot,
        config_path: config.file,
        server,
        metrics_task,
    })
}

async fn build_snapshot(config: Config) -> Result<Snapshot, crate::snapshot::SnapshotError> {
    // Parsing millions of rules is CPU work: keep it off the threads that answer queries.
    tokio::task::spawn_blocking(move || Snapshot::build(&config, false))
        .await
        .expect("snapshot build does not panic")
}

impl Running {
    /// Re-reads the config and lists and swaps them in. On any error the last good snapshot
    /// keeps serving; the error is logged, counted and shown by `/health`.
    pub async fn reload(&self) -> Result<(), StartError> {
        let result = match config::load(&self.config_path) {
            Ok(config) => build_snapshot(config).await.map_err(StartError::from),
            Err(e) => Err(StartError::from(e)),
        };
        match result {
            Ok(snapshot) => {
                self.metrics.snapshot_loaded(&snapshot);
                self.snapshot.store(Arc::new(snapshot));
                tracing::info!("reloaded configuration");
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "reload failed; still serving the last good configuration");
                self.metrics.reload_failed(e.to_string());
                Err(e)
            }
        }
    }

    /// Stops serving.
    pub fn stop(self) {
        self.server.abort();
        if let Some(t) = self.metrics_task {
            t.abort();
        }
    }
}
