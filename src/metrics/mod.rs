//! Prometheus metrics and the `/metrics` + `/health` HTTP endpoint.
//!
//! Counters are registered once, in one struct (encrypted-dns-server's `varz` pattern), and
//! their labels stay low-cardinality: profile and decision, never the query name.

mod http;
mod reload;

pub use http::{CONNECTION_LIFETIME, HEADER_READ_TIMEOUT, serve};
pub use reload::ReloadStatus;

use std::sync::Arc;

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
    /// Failed queries per upstream URL.
    pub upstream_failures: IntGaugeVec,
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
    /// Query log entries written, and dropped because the writer was behind.
    pub querylog_written: IntCounter,
    pub querylog_dropped: IntCounter,
    /// Asks and alerts POSTed to the parent's webhook, failed, and dropped (queue full).
    pub notices: crate::notices::Counters,
    /// The subscriber directory's metrics and state.
    pub directory: Arc<crate::directory::Status>,
    /// The lists and reloads: what went live, when, and what failed.
    pub reload: ReloadStatus,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let f = Families(&registry);
        let counter = |name: &str, help: &str| f.counter(name, help);
        let gauge = |name: &str, help: &str| f.gauge(name, help);
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
            latency: f.histogram(
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
            upstream_failures: f.gauges(
                "familydns_upstream_failures",
                "Failed or timed-out queries so far, per upstream",
                &["upstream"],
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
            reload: ReloadStatus::new(&f),
            registry,
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

    fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }

    fn health(&self) -> String {
        let mut out = self.reload.health();
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

/// Makes metrics registered with one registry: `Metrics::new` and the groups it delegates
/// to (`ReloadStatus`) share these, so each family is declared once, where it is used.
struct Families<'a>(&'a Registry);

impl Families<'_> {
    fn counter(&self, name: &str, help: &str) -> IntCounter {
        register(self.0, IntCounter::new(name, help))
    }

    fn gauge(&self, name: &str, help: &str) -> IntGauge {
        register(self.0, IntGauge::new(name, help))
    }

    fn gauges(&self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        register(self.0, IntGaugeVec::new(Opts::new(name, help), labels))
    }

    fn histogram(&self, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
        register(
            self.0,
            Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)),
        )
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
