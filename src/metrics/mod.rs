//! Prometheus metrics and the `/metrics` + `/health` HTTP endpoint.
//!
//! Counters are registered once, in one struct (encrypted-dns-server's `varz` pattern), and
//! their labels stay low-cardinality: profile and decision, never the query name.

mod http;

pub use http::{CONNECTION_LIFETIME, HEADER_READ_TIMEOUT, serve};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::upstream::Outcome;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::snapshot::Snapshot;

pub struct Metrics {
    registry: Registry,
    /// Queries by profile and decision (allowed, blocked, rewritten, refused, servfail,
    /// formerr, notimp).
    pub queries: IntCounterVec,
    pub latency: Histogram,
    pub upstream_errors: IntCounter,
    pub cache_hits: IntCounter,
    pub cache_misses: IntCounter,
    pub cache_entries: IntGauge,
    pub cache_bytes: IntGauge,
    pub list_entries: IntGaugeVec,
    pub list_skipped: IntGaugeVec,
    /// Failed queries per upstream URL.
    pub upstream_failures: IntGaugeVec,
    /// 1 when a downloaded list's last fetch succeeded, 0 when it failed.
    list_fetch_ok: IntGaugeVec,
    /// Unix time of a downloaded list's last successful fetch.
    list_fetch_time: IntGaugeVec,
    /// Lists that are loaded with nothing (a download with no cached copy yet).
    list_problems: Mutex<Vec<String>>,
    /// The last failed or refused download of each list, until one succeeds: `/health` shows
    /// them, so a captive portal or a shrunken list is noticed, not just survived.
    download_problems: Mutex<BTreeMap<String, String>>,
    pub reload_failures: IntCounter,
    pub reload_seconds: Histogram,
    /// Unix time of the last snapshot that went live (start or reload).
    reload_last_success: IntGauge,
    /// Heap bytes of the live rule set.
    snapshot_bytes: IntGauge,
    /// Answers served past their TTL because every upstream failed.
    pub stale_answers: IntCounter,
    /// The RPZ exchange: transfers served, refused and NOTAUTH requests, NOTIFYs sent and
    /// received (`event` label).
    pub exchange: IntCounterVec,
    /// Queries over a client's rate limit.
    pub rate_limited: IntCounter,
    /// Clients the rate limiter tracks (bounded by `server.rate_limit.max_clients`).
    pub rate_limit_clients: IntGauge,
    /// UDP queries answered SERVFAIL at once because `server.udp.max_waiting` queries were
    /// already waiting for an upstream.
    pub upstream_wait_full: IntCounter,
    /// Open TCP connections.
    pub tcp_connections: IntGauge,
    /// Connections to the metrics/admin listener closed at once: `metrics.max_connections`
    /// were open.
    pub http_refused: IntCounter,
    /// Queries whose MAC/ECS options were ignored because they did not come from a trusted
    /// forwarder.
    pub untrusted_identity: IntCounter,
    /// Packets and connections with a PROXY header from outside `server.trusted_proxies`,
    /// or a malformed one: dropped.
    pub proxy_refused: IntCounter,
    /// The last reload error, shown by `/health` until a reload succeeds.
    last_reload_error: Mutex<Option<String>>,
    /// Query log entries written, and dropped because the writer was behind.
    pub querylog_written: IntCounter,
    pub querylog_dropped: IntCounter,
    /// Asks and alerts POSTed to the parent's webhook, failed, and dropped (queue full).
    pub notices: crate::notices::Counters,
    /// The subscriber directory's metrics and state.
    pub directory: Arc<crate::directory::Status>,
    /// Settings the last reload could not apply live, shown by `/health`.
    unapplied: Mutex<Vec<String>>,
    /// `familydns_settings_unapplied`: how many there are (0 when every setting is live).
    unapplied_count: IntGauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str| register(&registry, IntCounter::new(name, help));
        let gauge = |name: &str, help: &str| register(&registry, IntGauge::new(name, help));
        let gauges = |name: &str, help: &str, labels: &[&str]| {
            register(&registry, IntGaugeVec::new(Opts::new(name, help), labels))
        };
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            register(
                &registry,
                Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)),
            )
        };
        Metrics {
            queries: register(
                &registry,
                IntCounterVec::new(
                    Opts::new(
                        "familydns_queries_total",
                        "Queries answered, by profile and decision",
                    ),
                    &["profile", "decision"],
                ),
            ),
            latency: histogram(
                "familydns_query_duration_seconds",
                "Time from a parsed query to its answer being handed to the socket",
                vec![
                    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05,
                    0.1, 0.25, 0.5, 1.0, 2.5,
                ],
            ),
            upstream_errors: counter(
                "familydns_upstream_errors_total",
                "Forwarded queries that failed or timed out (answered SERVFAIL)",
            ),
            cache_hits: counter(
                "familydns_cache_hits_total",
                "Allowed queries answered from the cache",
            ),
            cache_misses: counter(
                "familydns_cache_misses_total",
                "Allowed queries forwarded upstream",
            ),
            cache_entries: gauge("familydns_cache_entries", "Answers held in the cache"),
            cache_bytes: gauge(
                "familydns_cache_bytes",
                "Approximate bytes of the answers held in the cache",
            ),
            list_entries: gauges(
                "familydns_list_entries",
                "Rules accepted from each list",
                &["list", "category"],
            ),
            list_skipped: gauges(
                "familydns_list_skipped_lines",
                "Lines of each list that produced no rule",
                &["list", "category"],
            ),
            upstream_failures: gauges(
                "familydns_upstream_failures",
                "Failed or timed-out queries so far, per upstream",
                &["upstream"],
            ),
            list_fetch_ok: gauges(
                "familydns_list_fetch_ok",
                "1 if the last download of a list succeeded",
                &["list"],
            ),
            list_fetch_time: gauges(
                "familydns_list_fetch_timestamp_seconds",
                "Unix time of the last successful download of a list",
                &["list"],
            ),
            list_problems: Mutex::new(Vec::new()),
            download_problems: Mutex::new(BTreeMap::new()),
            reload_failures: counter(
                "familydns_reload_failures_total",
                "Reloads rejected because the new config or a list was bad",
            ),
            reload_seconds: histogram(
                "familydns_reload_duration_seconds",
                "Time to read and compile a new snapshot",
                vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
            ),
            reload_last_success: gauge(
                "familydns_reload_last_success_timestamp_seconds",
                "Unix time of the last configuration and lists that went live",
            ),
            snapshot_bytes: gauge(
                "familydns_snapshot_bytes",
                "Heap bytes of the live compiled rule set",
            ),
            exchange: register(
                &registry,
                IntCounterVec::new(
                    Opts::new(
                        "familydns_exchange_events_total",
                        "RPZ exchange events: soa, axfr, ixfr, refused, notauth, notify_sent, notify_in, notify_refused",
                    ),
                    &["event"],
                ),
            ),
            stale_answers: counter(
                "familydns_stale_answers_total",
                "Expired answers served because every upstream failed (RFC 8767)",
            ),
            rate_limited: counter(
                "familydns_rate_limited_total",
                "Queries over their client's rate limit (refused, dropped or slipped)",
            ),
            rate_limit_clients: gauge(
                "familydns_rate_limit_clients",
                "Clients (prefixes or devices) the rate limiter tracks now",
            ),
            upstream_wait_full: counter(
                "familydns_upstream_wait_full_total",
                "UDP queries answered SERVFAIL because too many were waiting for an upstream",
            ),
            tcp_connections: gauge("familydns_tcp_connections", "Open TCP connections"),
            http_refused: counter(
                "familydns_http_connections_refused_total",
                "Metrics/admin connections closed at once because max_connections were open",
            ),
            untrusted_identity: counter(
                "familydns_untrusted_identity_options_total",
                "Queries whose MAC or ECS options were ignored: not from a trusted forwarder",
            ),
            proxy_refused: counter(
                "familydns_proxy_refused_total",
                "PROXY v2 headers refused: not from a trusted proxy, or malformed",
            ),
            last_reload_error: Mutex::new(None),
            querylog_written: counter(
                "familydns_querylog_written_total",
                "Query log entries written to the database",
            ),
            querylog_dropped: counter(
                "familydns_querylog_dropped_total",
                "Query log entries dropped because the writer was behind (answering never waits)",
            ),
            notices: crate::notices::Counters {
                sent: counter(
                    "familydns_notices_sent_total",
                    "Asks and alerts the parent's webhook accepted",
                ),
                failed: counter(
                    "familydns_notices_failed_total",
                    "Asks and alerts the parent's webhook refused or did not answer in time",
                ),
                dropped: counter(
                    "familydns_notices_dropped_total",
                    "Asks and alerts dropped because the webhook was behind (answering never waits)",
                ),
            },
            directory: Arc::new(crate::directory::Status::new(counter, gauge)),
            unapplied: Mutex::new(Vec::new()),
            unapplied_count: gauge(
                "familydns_settings_unapplied",
                "Settings the last reload could not apply live; a restart applies them",
            ),
            registry,
        }
    }

    /// Records the lists of a snapshot that has just gone live.
    pub fn snapshot_loaded(&self, snapshot: &Snapshot) {
        self.reload_last_success
            .set(jiff::Timestamp::now().as_second());
        self.snapshot_bytes
            .set(i64::try_from(snapshot.blocklists.matcher.heap_bytes()).unwrap_or(i64::MAX));
        self.list_entries.reset();
        self.list_skipped.reset();
        for list in &snapshot.blocklists.lists {
            let labels = [list.name.as_str(), list.category.as_str()];
            self.list_entries
                .with_label_values(&labels)
                .set(i64::try_from(list.stats.rules).unwrap_or(i64::MAX));
            self.list_skipped
                .with_label_values(&labels)
                .set(i64::try_from(list.stats.skipped_total()).unwrap_or(i64::MAX));
        }
        *self.last_reload_error.lock().expect("not poisoned") = None;
        *self.list_problems.lock().expect("not poisoned") = snapshot
            .blocklists
            .lists
            .iter()
            .filter_map(|l| l.error.as_ref().map(|e| format!("list {}: {e}", l.name)))
            .collect();
    }

    /// Records the outcome of a list download: `Err` holds why it failed or was refused.
    pub fn list_fetched(&self, list: &str, result: Result<(), String>) {
        self.list_fetch_ok
            .with_label_values(&[list])
            .set(i64::from(result.is_ok()));
        let mut problems = self.download_problems.lock().expect("not poisoned");
        match result {
            Ok(()) => {
                self.list_fetch_time
                    .with_label_values(&[list])
                    .set(jiff::Timestamp::now().as_second());
                problems.remove(list);
            }
            Err(e) => {
                problems.insert(list.to_owned(), e);
            }
        }
    }

    /// Counts what forwarding one query came to: a cache hit or miss, and upstream failures
    /// (a stale answer is a hit the upstreams failed to refresh).
    pub fn upstream_outcome(&self, outcome: &Outcome) {
        match outcome {
            Outcome::Answer { cached: true, .. } => self.cache_hits.inc(),
            Outcome::Answer { cached: false, .. } => self.cache_misses.inc(),
            Outcome::Stale(_) => {
                self.cache_hits.inc();
                self.upstream_errors.inc();
                self.stale_answers.inc();
            }
            Outcome::Failed(_) => {
                self.cache_misses.inc();
                self.upstream_errors.inc();
            }
        }
    }

    /// Records the settings a reload could not apply live (empty when all were).
    pub fn set_unapplied(&self, unapplied: Vec<String>) {
        self.unapplied_count
            .set(i64::try_from(unapplied.len()).unwrap_or(i64::MAX));
        *self.unapplied.lock().expect("not poisoned") = unapplied;
    }

    pub fn reload_failed(&self, error: String) {
        self.reload_failures.inc();
        *self.last_reload_error.lock().expect("not poisoned") = Some(error);
    }

    fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }

    fn health(&self) -> String {
        let mut out = match &*self.last_reload_error.lock().expect("not poisoned") {
            None => "ok\n".to_owned(),
            Some(e) => format!("ok (serving the last good config)\nlast reload failed:\n{e}\n"),
        };
        for line in self.unapplied.lock().expect("not poisoned").iter() {
            out.push_str(&format!("not applied: {line}\n"));
        }
        for problem in self.list_problems.lock().expect("not poisoned").iter() {
            out.push_str(problem);
            out.push('\n');
        }
        for (list, e) in self.download_problems.lock().expect("not poisoned").iter() {
            out.push_str(&format!("list {list}: download: {e}\n"));
        }
        if let Some(line) = self.directory.health() {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

impl Metrics {
    /// Registers a metric a module owns (the dnstap writer's), so that it is scraped with
    /// the rest. Names are fixed in the code: a failure is a programming error.
    pub fn register<M: prometheus::core::Collector + Clone + 'static>(
        &self,
        metric: prometheus::Result<M>,
    ) -> M {
        register(&self.registry, metric)
    }
}

/// Registers a newly made metric; the names and labels are fixed in the code, so failure is
/// a programming error.
fn register<M: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    metric: prometheus::Result<M>,
) -> M {
    let metric = metric.expect("valid metric");
    registry
        .register(Box::new(metric.clone()))
        .expect("unique metric");
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The `GET /metrics` and `GET /health` routes.
///
/// `on_scrape` refreshes the gauges whose values live elsewhere (cache size, per-upstream
/// failures) just before they are rendered.
pub fn router(
    metrics: Arc<Metrics>,
    on_scrape: impl Fn(&Metrics) + Send + Sync + 'static,
) -> Router {
    let on_scrape = Arc::new(on_scrape);
    Router::new()
        .route(
            "/metrics",
            get(move |State(m): State<Arc<Metrics>>| {
                let on_scrape = on_scrape.clone();
                async move {
                    on_scrape(&m);
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        m.render(),
                    )
                }
            }),
        )
        .route(
            "/health",
            get(|State(m): State<Arc<Metrics>>| async move {
                (StatusCode::OK, m.health()).into_response()
            }),
        )
        .with_state(metrics)
}
