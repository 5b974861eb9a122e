//! What a reload changes besides the snapshot: the listeners, the upstreams, the rate limit
//! and the metrics/admin endpoint. [`Live`] owns the running parts and applies each changed
//! setting to them, so that "reloaded" means the new settings are in force.
//!
//! Only the listeners' bounds (`server.tcp`, `server.udp`), `[query_log]`, `[dnstap]` and
//! `[trends]` wait for a restart (see [`Started`]). A reload says so in the log, in `/health`
//! and in `familydns_settings_unapplied`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::task::JoinHandle;

use crate::admin;
use crate::budget::Budgets;
use crate::complaint_api;
use crate::complaints::Complaints;
use crate::config::{
    Config, DnstapConfig, MetricsConfig, QueryLogConfig, TcpConfig, TrendsConfig, UdpConfig,
};
use crate::metrics::{self, Metrics};
use crate::notices::Notifier;
use crate::overrides::Overrides;
use crate::reload::{Apply, BoxFuture, Reloader};
use crate::server::{Clock, Listeners, Pipeline};
use crate::upstream::Forwarder;
use crate::web;

/// The running parts a reload reconfigures.
pub(super) struct Live {
    pub pipeline: Arc<Pipeline>,
    pub forwarder: Arc<Forwarder>,
    /// `None` once stopped (or while a reload updates them).
    pub listeners: Mutex<Option<Listeners>>,
    pub endpoint: Mutex<Option<Endpoint>>,
    pub context: EndpointContext,
    pub started: Started,
    /// Set by [`stop`](Self::stop): a reload still running (one the admin endpoint started)
    /// must not put back what was stopped.
    pub stopped: AtomicBool,
}

/// The settings only a restart applies, as the server started with them: the listeners'
/// bounds (open connections were admitted under them) and the query log's database (the
/// writer thread owns it).
pub(super) struct Started {
    pub tcp: TcpConfig,
    pub udp: UdpConfig,
    pub query_log: Option<QueryLogConfig>,
    pub dnstap: Option<DnstapConfig>,
    pub trends: Option<TrendsConfig>,
}

impl Started {
    /// A line for each of these settings `config` changes.
    fn changed(&self, config: &Config) -> Vec<String> {
        let mut changed = Vec::new();
        if self.tcp != config.server.tcp {
            changed.push("server.tcp");
        }
        if self.udp != config.server.udp {
            changed.push("server.udp");
        }
        if self.query_log != config.query_log {
            changed.push("[query_log]");
        }
        if self.dnstap != config.dnstap {
            changed.push("[dnstap]");
        }
        // The token is read live by `GET /trends`; the rest is the writer's.
        let recorded =
            |t: &Option<TrendsConfig>| t.clone().map(|t| TrendsConfig { token: None, ..t });
        if recorded(&self.trends) != recorded(&config.trends) {
            changed.push("[trends]");
        }
        changed
            .into_iter()
            .map(|key| format!("{key} changed: a restart applies it"))
            .collect()
    }
}

/// What the metrics/admin endpoint serves from.
pub(super) struct EndpointContext {
    pub metrics: Arc<Metrics>,
    pub overrides: Arc<Overrides>,
    /// Asks taken by the child's page go to the parent's webhook through it.
    pub notices: Arc<Notifier>,
    pub budgets: Arc<Budgets>,
    pub complaints: Arc<Complaints>,
    pub clock: Clock,
    /// Weak: the reloader holds this `Live`, and the admin routes hold the reloader.
    pub reloader: Weak<Reloader>,
}

/// The metrics/admin endpoint: its settings, where it listens, and the task serving it.
pub(super) struct Endpoint {
    config: MetricsConfig,
    pub local: SocketAddr,
    task: Option<JoinHandle<()>>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl Endpoint {
    /// Binds `addr` and serves `/metrics`, `/health`, with a token `/admin/*`, and the
    /// parents' page (which answers only while the config has `[parents]`).
    pub async fn start(
        config: &MetricsConfig,
        addr: SocketAddr,
        context: &EndpointContext,
        forwarder: &Arc<Forwarder>,
    ) -> std::io::Result<Endpoint> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let fw = forwarder.clone();
        let mut app = metrics::router(context.metrics.clone(), move |m| {
            let cache = fw.cache();
            m.cache_entries
                .set(i64::try_from(cache.len()).unwrap_or(i64::MAX));
            m.cache_bytes
                .set(i64::try_from(cache.bytes()).unwrap_or(i64::MAX));
            for (url, failures) in fw.failures() {
                m.upstream_failures
                    .with_label_values(&[url.as_str()])
                    .set(i64::try_from(failures).unwrap_or(i64::MAX));
            }
        });
        if let Some(reloader) = context.reloader.upgrade() {
            if config.admin_token.is_some() {
                app = app.merge(admin::router(
                    reloader.clone(),
                    context.overrides.clone(),
                    context.budgets.clone(),
                    context.clock.clone(),
                ));
            }
            app = app.merge(complaint_api::router(
                reloader.clone(),
                context.complaints.clone(),
                context.clock.clone(),
            ));
            app = app.merge(crate::trends::router(
                reloader.clone(),
                context.clock.clone(),
            ));
            app = app.merge(web::router(
                reloader,
                context.overrides.clone(),
                context.notices.clone(),
                context.budgets.clone(),
                context.complaints.clone(),
                context.clock.clone(),
            ));
        }
        let task = tokio::spawn(metrics::serve(
            listener,
            app,
            config.max_connections,
            context.metrics.clone(),
        ));
        Ok(Endpoint {
            config: config.clone(),
            local,
            task: Some(task),
        })
    }

    /// Stops serving and waits until the listening socket is closed.
    pub(super) async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Live {
    /// Stops every listener and the endpoint (as the `Running` that owns them is dropped).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.listeners.lock().expect("not poisoned").take();
        self.endpoint.lock().expect("not poisoned").take();
        // Its writer must not close a day after this server stops (a new one may own it).
        if let Some(trends) = &self.pipeline.trends {
            trends.close();
        }
    }

    async fn update_listeners(&self, config: &Config, unapplied: &mut Vec<String>) {
        let Some(mut listeners) = self.listeners.lock().expect("not poisoned").take() else {
            return;
        };
        for (addr, e) in listeners.update(&config.server.listen).await {
            unapplied.push(format!("server.listen: cannot listen on {addr}: {e}"));
        }
        self.put_back(&self.listeners, listeners);
    }

    /// Restarts the endpoint when `[metrics]` changed. The same address is closed first and
    /// bound again (on the port it had, if the config says port 0); a new address is bound
    /// before the old one closes, so that a bad address leaves the endpoint where it was.
    async fn update_endpoint(&self, config: Option<&MetricsConfig>, unapplied: &mut Vec<String>) {
        let current = self.endpoint.lock().expect("not poisoned").take();
        if current.as_ref().map(|e| &e.config) == config {
            if let Some(endpoint) = current {
                self.put_back(&self.endpoint, endpoint);
            }
            return;
        }
        let started = match (current, config) {
            (current, None) => {
                if let Some(old) = current {
                    old.stop().await;
                }
                None
            }
            (Some(old), Some(new)) if old.config.listen == new.listen => {
                let addr = old.local;
                old.stop().await;
                self.start_endpoint(new, addr, unapplied).await
            }
            (old, Some(new)) => match self.start_endpoint(new, new.listen, unapplied).await {
                Some(endpoint) => {
                    if let Some(old) = old {
                        old.stop().await;
                    }
                    Some(endpoint)
                }
                None => old,
            },
        };
        if let Some(endpoint) = started {
            self.put_back(&self.endpoint, endpoint);
        }
    }

    /// Returns a part taken out for an update, unless the server stopped meanwhile (then it
    /// is dropped, which closes it).
    fn put_back<T>(&self, slot: &Mutex<Option<T>>, part: T) {
        let mut slot = slot.lock().expect("not poisoned");
        if !self.stopped.load(Ordering::SeqCst) {
            *slot = Some(part);
        }
    }

    async fn start_endpoint(
        &self,
        config: &MetricsConfig,
        addr: SocketAddr,
        unapplied: &mut Vec<String>,
    ) -> Option<Endpoint> {
        match Endpoint::start(config, addr, &self.context, &self.forwarder).await {
            Ok(endpoint) => Some(endpoint),
            Err(e) => {
                unapplied.push(format!("metrics.listen: cannot listen on {addr}: {e}"));
                None
            }
        }
    }
}

impl Apply for Live {
    fn apply<'a>(&'a self, config: &'a Config) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            let mut unapplied = Vec::new();
            if let Err(e) = self.forwarder.reconfigure(&config.upstream) {
                unapplied.push(format!("[upstream]: kept the running upstreams: {e}"));
            }
            self.pipeline
                .rate_limit
                .reconfigure(&config.server.rate_limit);
            self.update_listeners(config, &mut unapplied).await;
            self.update_endpoint(config.metrics.as_ref(), &mut unapplied)
                .await;
            unapplied.extend(self.started.changed(config));
            unapplied
        })
    }
}
