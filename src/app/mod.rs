//! Wiring: config → snapshot → forwarder → listeners, and reloads (`live.rs` applies a
//! reload's settings to the running parts).
//!
//! `start` is what `familydns serve` runs and what the integration tests start on ephemeral
//! loopback ports, so the tests exercise exactly the production path.

mod live;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::budget::Budgets;
use crate::complaints::{Complaints, Feed};
use crate::config::{self, Config};
use crate::directory::Directory;
use crate::dnstap::Tap;
use crate::download::Downloader;
use crate::exchange::{Inbox, Publisher};
use crate::metrics::Metrics;
use crate::notices::{Destinations, Notifier};
use crate::overrides::Overrides;
use crate::querylog::QueryLog;
use crate::reload::{self, Reloader};
use crate::server::{self, Clock, Limit, Listeners, Pipeline};
use crate::trends::Recorder;
use crate::upstream::{Forwarder, UpstreamError};
use live::{Endpoint, EndpointContext, Live, Started};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] config::ConfigErrors),
    #[error("{0}")]
    Load(#[from] crate::reload::ReloadError),
    #[error("{0}")]
    Upstream(#[from] UpstreamError),
    #[error("{0}")]
    Log(#[from] crate::querylog::LogError),
    #[error("{0}")]
    Complaints(#[from] crate::complaints::StoreError),
    #[error("{0}")]
    Trends(#[from] crate::trends::TrendsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// A running resolver.
pub struct Running {
    /// The addresses bound at start (useful when the config asked for port 0); a reload may
    /// add or remove some: see [`listening`](Self::listening).
    pub dns_addrs: Vec<SocketAddr>,
    /// Where the metrics endpoint listened at start.
    pub metrics_addr: Option<SocketAddr>,
    pub metrics: Arc<Metrics>,
    /// The names accepted from complaints, by category: sent after the start and after
    /// every decision, for the RPZ exchange to publish.
    pub complaints_feed: watch::Receiver<Feed>,
    reloader: Arc<Reloader>,
    live: Arc<Live>,
    tasks: Vec<JoinHandle<()>>,
    /// The RPZ feed (`[exchange]`), publishing `complaints_feed`.
    exchange: Option<Publisher>,
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
    metrics.reload.snapshot_loaded(&snapshot);
    let snapshot = Arc::new(ArcSwap::from_pointee(snapshot));
    let forwarder = Arc::new(Forwarder::new(&config.upstream)?);
    let reloader = Arc::new(Reloader::new(&config, snapshot.clone(), metrics.clone()));
    let overrides = Arc::new(Overrides::load(&config.file));
    let notices = Notifier::start(
        destinations(Arc::downgrade(&reloader)),
        metrics.notices.clone(),
    );
    let budgets = Arc::new(Budgets::load(&config.file));
    let (feed, complaints_feed) = watch::channel(Feed::default());
    let complaints = Arc::new(Complaints::load(
        config.query_log.as_ref().map(|l| l.path.clone()),
        feed,
    )?);
    let inbox = Inbox::new(metrics.exchange.clone());
    let exchange = match &config.exchange {
        Some(e) => Some(
            Publisher::start(
                e,
                &config.tsig_keys,
                &config.cache_dir,
                complaints_feed.clone(),
                metrics.exchange.clone(),
            )
            .await
            .map_err(|source| StartError::Bind {
                addr: e.listen.to_string(),
                source,
            })?,
        ),
        None => None,
    };
    let mut tasks = vec![
        tokio::spawn(budgets.clone().persist()),
        reload::watch(reloader.clone()),
        reload::refresh_lists(
            reloader.clone(),
            Downloader::new(forwarder.clone()),
            inbox.clone(),
        ),
        tokio::spawn(forwarder.clone().probe_demoted()),
    ];
    let context = EndpointContext {
        metrics: metrics.clone(),
        overrides: overrides.clone(),
        notices: notices.clone(),
        budgets: budgets.clone(),
        complaints: complaints.clone(),
        clock: clock.clone(),
        reloader: Arc::downgrade(&reloader),
    };
    let endpoint = match &config.metrics {
        Some(m) => Some(
            Endpoint::start(m, m.listen, &context, &forwarder)
                .await
                .map_err(|source| StartError::Bind {
                    addr: m.listen.to_string(),
                    source,
                })?,
        ),
        None => None,
    };
    let log = match &config.query_log {
        Some(l) => Some(QueryLog::open(
            &l.path,
            l.queue,
            metrics.querylog_written.clone(),
            metrics.querylog_dropped.clone(),
        )?),
        None => None,
    };
    let trends = match &config.trends {
        Some(t) => {
            let categories = config.categories().into_iter().map(str::to_owned);
            Some(Recorder::start(t, categories.collect(), clock.clone())?)
        }
        None => None,
    };
    let directory = Arc::new(Directory::new(metrics.directory.clone()));
    if let Some(d) = &config.directory {
        let known = snapshot.clone();
        let known = Arc::new(move |name: &str| known.load().profile_named(name).is_some());
        tasks.extend(directory.start(d.clone(), known).await);
    }
    let pipeline = Arc::new(Pipeline {
        snapshot,
        forwarder: forwarder.clone(),
        rate_limit: Limit::new(
            &config.server.rate_limit,
            metrics.rate_limit_clients.clone(),
        ),
        metrics: metrics.clone(),
        overrides,
        complaints,
        budgets,
        clock,
        log,
        notices,
        dnstap: config.dnstap.as_ref().map(|d| Tap::start(d, &metrics)),
        trends,
        inbox,
        directory,
    });
    let listeners = Listeners::start(pipeline.clone(), &config.server, &metrics)
        .await
        .map_err(|source| StartError::Bind {
            addr: format!("{:?}", config.server.listen),
            source,
        })?;
    let live = Arc::new(Live {
        pipeline,
        forwarder,
        context,
        started: Started {
            tcp: config.server.tcp.clone(),
            udp: config.server.udp.clone(),
            query_log: config.query_log.clone(),
            dnstap: config.dnstap.clone(),
            trends: config.trends.clone(),
        },
        stopped: AtomicBool::new(false),
        listeners: Mutex::new(None),
        endpoint: Mutex::new(None),
    });
    let running = Running {
        dns_addrs: listeners.local_addrs(),
        metrics_addr: endpoint.as_ref().map(|e| e.local),
        metrics,
        complaints_feed,
        reloader: reloader.clone(),
        live: live.clone(),
        tasks,
        exchange,
    };
    *live.listeners.lock().expect("not poisoned") = Some(listeners);
    *live.endpoint.lock().expect("not poisoned") = endpoint;
    reloader.set_apply(live);
    Ok(running)
}

/// Where notices go, from the live config: the webhook and the query log's database.
fn destinations(
    reloader: std::sync::Weak<Reloader>,
) -> impl Fn() -> Destinations + Send + Sync + 'static {
    move || {
        let Some(reloader) = reloader.upgrade() else {
            return Destinations::default();
        };
        let config = reloader.config();
        Destinations {
            webhook: config.parents.as_ref().and_then(|p| p.webhook.clone()),
            database: config.query_log.as_ref().map(|l| l.path.clone()),
        }
    }
}

impl Running {
    /// Re-reads the config and lists and swaps them in. On any error the last good snapshot
    /// keeps serving; the error is logged, counted and shown by `/health`.
    pub async fn reload(&self) -> Result<(), crate::reload::ReloadError> {
        self.reloader.reload().await
    }

    /// The DNS addresses served now.
    pub fn listening(&self) -> Vec<SocketAddr> {
        self.live
            .listeners
            .lock()
            .expect("not poisoned")
            .as_ref()
            .map_or_else(Vec::new, Listeners::local_addrs)
    }

    /// Where the metrics endpoint listens now.
    pub fn metrics_listening(&self) -> Option<SocketAddr> {
        self.live
            .endpoint
            .lock()
            .expect("not poisoned")
            .as_ref()
            .map(|e| e.local)
    }

    /// Where the RPZ feed is served (`[exchange] listen`), when it is.
    pub fn exchange_addr(&self) -> Option<SocketAddr> {
        self.exchange.as_ref().map(|e| e.local_addr)
    }

    /// Stops serving (as dropping does).
    pub fn stop(self) {
        drop(self);
    }

    /// Stops serving, as dropping does, and returns once the DNS listeners' and the metrics
    /// endpoint's sockets and the background tasks are gone. Dropping only asks the runtime
    /// to stop them, so a server started at once on the same fixed port (a restart in place)
    /// could find it still bound.
    pub async fn shut_down(mut self) {
        let listeners = self.live.listeners.lock().expect("not poisoned").take();
        let endpoint = self.live.endpoint.lock().expect("not poisoned").take();
        let tasks = std::mem::take(&mut self.tasks);
        drop(self);
        server::abort_and_wait(tasks).await;
        if let Some(listeners) = listeners {
            listeners.close().await;
        }
        if let Some(endpoint) = endpoint {
            endpoint.stop().await;
        }
    }
}

/// Dropping a `Running` stops its listeners, watcher and metrics endpoint, so a test that
/// ends never leaves a server behind.
impl Drop for Running {
    fn drop(&mut self) {
        self.live.stop();
        for t in &self.tasks {
            t.abort();
        }
    }
}
