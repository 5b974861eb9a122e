//! The upstreams, one hickory resolver each, and how a query picks among them.
//!
//! hickory's own name-server pool bounds a whole query by one timeout, so a dead first
//! upstream eats the budget and the second is never tried. Here each upstream is tried with
//! its own timeout, in an order the strategy decides: `failover` (as configured), `fastest`
//! (by measured latency) or `parallel` (the two best race). An upstream that times out or
//! fails in transport is demoted (an rcode such as SERVFAIL or REFUSED is an answer from a
//! live upstream: it sends the question on to the next upstream but demotes nothing): queries go elsewhere while a background probe checks it every few seconds, and it
//! is promoted back as soon as it answers. Failures are counted per upstream.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, Record, RecordType};
use hickory_resolver::Resolver;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};

use super::{Answer, NEGATIVE_TTL_WITHOUT_SOA};
use crate::config::UpstreamStrategy;

/// How long a failed upstream waits before it is tried first again (unless a probe finds it
/// back sooner).
const RETRY_AFTER: Duration = Duration::from_secs(30);
/// How often demoted upstreams are probed in the background.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

/// Why one upstream gave no usable answer. Only silence and transport failures say the
/// upstream is unwell: an rcode (SERVFAIL for a DNSSEC-bogus name, REFUSED for a type it
/// will not serve) is an answer about one question from an upstream that is alive.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("timed out")]
    Timeout,
    #[error("{0}")]
    Transport(NetError),
    #[error("answered {0}")]
    Rcode(ResponseCode),
}

impl QueryError {
    /// Whether the upstream should be demoted (and the failure counted) for this.
    fn is_health_failure(&self) -> bool {
        !matches!(self, QueryError::Rcode(_))
    }
}

pub struct Upstream {
    pub url: String,
    resolver: Resolver<TokioRuntimeProvider>,
    /// Smoothed latency in microseconds (fastest strategy).
    latency_us: AtomicU64,
    down_until: Mutex<Option<Instant>>,
    pub failures: AtomicU64,
}

impl Upstream {
    pub fn new(url: String, resolver: Resolver<TokioRuntimeProvider>) -> Upstream {
        Upstream {
            url,
            resolver,
            latency_us: AtomicU64::new(0),
            down_until: Mutex::new(None),
            failures: AtomicU64::new(0),
        }
    }

    /// Asks a demoted upstream for the root's NS: any DNS answer, even REFUSED, shows it
    /// is back; only silence or a transport error keeps it demoted.
    async fn probe(&self, timeout: Duration) {
        let root = Name::root();
        let alive =
            match tokio::time::timeout(timeout, self.resolver.lookup(root, RecordType::NS)).await {
                Err(_) => false,
                Ok(Ok(_)) | Ok(Err(NetError::Dns(_))) => true,
                Ok(Err(_)) => false,
            };
        if alive {
            *self.down_until.lock().expect("not poisoned") = None;
            tracing::info!(upstream = %self.url, "upstream is back");
        }
    }

    fn healthy(&self, now: Instant) -> bool {
        self.down_until
            .lock()
            .expect("not poisoned")
            .is_none_or(|until| now >= until)
    }

    /// One query to this upstream, bounded by `timeout`. Negative answers are answers.
    async fn query(
        &self,
        name: &Name,
        rtype: RecordType,
        timeout: Duration,
    ) -> Result<Answer, QueryError> {
        let start = Instant::now();
        let result = match tokio::time::timeout(timeout, self.resolver.lookup(name.clone(), rtype))
            .await
        {
            Err(_) => Err(QueryError::Timeout),
            Ok(Ok(lookup)) => Ok(Answer::new(
                ResponseCode::NoError,
                lookup.answers().to_vec(),
                vec![],
                None,
            )),
            Ok(Err(NetError::Dns(DnsError::NoRecordsFound(nr)))) => {
                let negative_ttl = nr
                    .negative_ttl
                    .or(nr.soa.is_none().then_some(NEGATIVE_TTL_WITHOUT_SOA));
                let soa: Vec<Record> = nr
                    .soa
                    .map(|soa| soa.into_record_of_rdata())
                    .into_iter()
                    .collect();
                Ok(Answer::new(nr.response_code, vec![], soa, negative_ttl))
            }
            Ok(Err(NetError::Dns(DnsError::ResponseCode(code)))) => Err(QueryError::Rcode(code)),
            Ok(Err(e)) => Err(QueryError::Transport(e)),
        };
        match &result {
            Ok(_) => {
                let sample = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
                let old = self.latency_us.load(Ordering::Relaxed);
                let smoothed = if old == 0 {
                    sample
                } else {
                    (old * 7 + sample) / 8
                };
                self.latency_us.store(smoothed, Ordering::Relaxed);
                *self.down_until.lock().expect("not poisoned") = None;
            }
            // Alive, as a probe would conclude; the next upstream may still know better.
            Err(e) if !e.is_health_failure() => {
                *self.down_until.lock().expect("not poisoned") = None;
            }
            Err(_) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                *self.down_until.lock().expect("not poisoned") = Some(Instant::now() + RETRY_AFTER);
            }
        }
        result
    }
}

pub struct Pool {
    pub upstreams: Vec<Upstream>,
    strategy: UpstreamStrategy,
    timeout: Duration,
}

impl Pool {
    pub fn new(upstreams: Vec<Upstream>, strategy: UpstreamStrategy, timeout: Duration) -> Pool {
        Pool {
            upstreams,
            strategy,
            timeout,
        }
    }

    /// Probes the demoted upstreams once, so that one that comes back is used again at once
    /// rather than after its demotion ends. The forwarder calls it every [`PROBE_EVERY`].
    pub async fn probe_demoted(&self) {
        let now = Instant::now();
        for upstream in self.upstreams.iter().filter(|u| !u.healthy(now)) {
            upstream.probe(self.timeout).await;
        }
    }

    /// Healthy upstreams first (in strategy order), then the demoted ones as a last resort.
    fn order(&self) -> Vec<&Upstream> {
        let now = Instant::now();
        let mut order: Vec<&Upstream> = self.upstreams.iter().collect();
        if self.strategy != UpstreamStrategy::Failover {
            order.sort_by_key(|u| u.latency_us.load(Ordering::Relaxed));
        }
        order.sort_by_key(|u| !u.healthy(now));
        order
    }

    /// Asks upstreams until one answers; at most two are tried, so a query is bounded by
    /// twice the timeout.
    pub async fn query(&self, name: &Name, rtype: RecordType) -> Result<Answer, String> {
        let order = self.order();
        let mut last = "no upstream".to_owned();
        if self.strategy == UpstreamStrategy::Parallel && order.len() >= 2 {
            let mut a = std::pin::pin!(order[0].query(name, rtype, self.timeout));
            let mut b = std::pin::pin!(order[1].query(name, rtype, self.timeout));
            // The first answer wins; if the first to finish failed, wait for the other.
            return tokio::select! {
                r = &mut a => match r {
                    Ok(answer) => Ok(answer),
                    Err(e) => b.await.map_err(|e2| format!("{}: {e}; {}: {e2}", order[0].url, order[1].url)),
                },
                r = &mut b => match r {
                    Ok(answer) => Ok(answer),
                    Err(e) => a.await.map_err(|e2| format!("{}: {e}; {}: {e2}", order[1].url, order[0].url)),
                },
            };
        }
        for upstream in order.into_iter().take(2) {
            match upstream.query(name, rtype, self.timeout).await {
                Ok(answer) => return Ok(answer),
                Err(e) => {
                    tracing::debug!(upstream = %upstream.url, error = %e, "upstream failed");
                    last = format!("{}: {e}", upstream.url);
                }
            }
        }
        Err(last)
    }
}
