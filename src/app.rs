//! Wiring: config → snapshot → forwarder → listeners, and reloads.
//!
//! `start` is what `familydns serve` runs and what the integration tests start on ephemeral
//! loopback ports, so the tests exercise exactly the production path.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::task::JoinHandle;

use crate::admin;
use crate::config::{self, Config};
use crate::download::Downloader;
use crate::metrics::{self, Metrics};
use crate::overrides::Overrides;
use crate::reload::{self, Reloader};
use crate::server::{self, Clock, Pipeline};
use crate::upstream::{Forwarder, UpstreamError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] config::ConfigErrors),
    #[error("{0}")]
    Load(#[from] crate::reload::ReloadError),
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
    reloader: Arc<Reloader>,
    tasks: Vec<JoinHandle<()>>,
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
    let snapshot = reload::build_snapshot(config.clone()).await?;
    let metrics = Arc::new(Metrics::new());
    metrics.snapshot_loaded(&snapshot);
    let snapshot = Arc::new(ArcSwap::from_pointee(snapshot));
    let forwarder = Arc::new(Forwarder::new(&config.upstream)?);
    let reloader = Arc::new(Reloader::new(&config, snapshot.clone(), metrics.clone()));
    let overrides = Arc::new(Overrides::load(&config.file));
    let mut tasks = vec![
        reload::watch(reloader.clone()),
        reload::refresh_lists(reloader.clone(), Downloader::new(forwarder.clone())),
        tokio::spawn(forwarder.clone().probe_demoted()),
    ];

    let metrics_addr = match &config.metrics {
        Some(m) => {
            let listener = tokio::net::TcpListener::bind(m.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: m.listen.to_string(),
                    source,
                })?;
            let addr = listener.local_addr().ok();
            let fw = forwarder.clone();
            let mut app = metrics::router(metrics.clone(), move |m| {
                m.cache_entries
                    .set(i64::try_from(fw.cache().len()).unwrap_or(i64::MAX));
                m.cache_bytes
                    .set(i64::try_from(fw.cache().bytes()).unwrap_or(i64::MAX));
                for (url, failures) in fw.failures() {
                    m.upstream_failures
                        .with_label_values(&[url])
                        .set(i64::try_from(failures).unwrap_or(i64::MAX));
                }
            });
            if let Some(token) = &m.admin_token {
                app = app.merge(admin::router(
                    token.clone(),
                    reloader.clone(),
                    overrides.clone(),
                    clock.clone(),
                ));
            }
            tasks.push(tokio::spawn(metrics::serve(
                listener,
                app,
                m.max_connections,
                metrics.clone(),
            )));
            addr
        }
        None => None,
    };

    let pipeline = Arc::new(Pipeline::new(
        snapshot,
        forwarder,
        metrics.clone(),
        overrides,
        &config.server.rate_limit,
        clock,
    ));
    let (dns_tasks, dns_addrs) = server::start(pipeline, &config.server, &metrics)
        .await
        .map_err(|source| StartError::Bind {
            addr: format!("{:?}", config.server.listen),
            source,
        })?;
    tasks.extend(dns_tasks);
    Ok(Running {
        dns_addrs,
        metrics_addr,
        metrics,
        reloader,
        tasks,
    })
}

impl Running {
    /// Re-reads the config and lists and swaps them in. On any error the last good snapshot
    /// keeps serving; the error is logged, counted and shown by `/health`.
    pub async fn reload(&self) -> Result<(), crate::reload::ReloadError> {
        self.reloader.reload().await
    }

    /// Stops serving (as dropping does).
    pub fn stop(self) {
        drop(self);
    }
}

/// Dropping a `Running` stops its listeners, watcher and metrics endpoint, so a test that
/// ends never leaves a server behind.
impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
