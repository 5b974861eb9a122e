//! The upstreams, one hickory name-server pool each, and how a query picks among them.
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

use hickory_proto::rr::{Name, RecordType};
use hickory_resolver::NameServerPool;
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::xfer::{DnsHandle, FirstAnswer};

use super::Answer;
use super::exchange::{self, Dnssec, QueryError};
use super::udp::UdpUpstream;
use crate::config::UpstreamStrategy;

/// How long a failed upstream waits before it is tried first again (unless a probe finds it
/// back sooner).
const RETRY_AFTER: Duration = Duration::from_secs(30);
/// How often demoted upstreams are probed in the background.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);

pub struct Upstream {
    pub url: String,
    /// Our own client for a plain-DNS upstream at one address; `servers` then only takes
    /// the truncated replies over TCP.
    udp: Option<UdpUpstream>,
    /// hickory's pool of this upstream's addresses: the other transports, TCP on
    /// truncation, and the spread over the addresses of a host name.
    servers: NameServerPool<TokioRuntimeProvider>,
    /// Smoothed latency in microseconds (fastest strategy).
    latency_us: AtomicU64,
    down_until: Mutex<Option<Instant>>,
    pub failures: AtomicU64,
}

impl Upstream {
    pub fn new(
        url: String,
        udp: Option<UdpUpstream>,
        servers: NameServerPool<TokioRuntimeProvider>,
    ) -> Upstream {
        Upstream {
            url,
            udp,
            servers,
            latency_us: AtomicU64::new(0),
            down_until: Mutex::new(None),
            failures: AtomicU64::new(0),
        }
    }

    /// Asks a demoted upstream for the root's NS: any DNS answer, even REFUSED, shows it
    /// is back; only silence or a transport error keeps it demoted.
    async fn probe(&self, timeout: Duration) {
        let root = Name::root();
        let response = self.ask(&root, RecordType::NS, Dnssec::default());
        let alive = match tokio::time::timeout(timeout, response).await {
            Err(_) => false,
            Ok(Ok(_)) => true,
            Ok(Err(e)) => !e.is_health_failure(),
        };
        if alive {
            *self.down_until.lock().expect("not poisoned") = None;
            tracing::info!(upstream = %self.url, "upstream is back");
        }
    }

    /// One exchange, unbounded in time: over our UDP client where there is one (and over
    /// TCP if its reply is truncated), otherwise through hickory.
    async fn ask(
        &self,
        name: &Name,
        rtype: RecordType,
        dnssec: Dnssec,
    ) -> Result<Answer, QueryError> {
        let request = exchange::request(name, rtype, dnssec);
        if let Some(udp) = &self.udp {
            let mut bytes = exchange::encode(&request)?;
            let reply = udp
                .exchange(&mut bytes)
                .await
                .map_err(|e| QueryError::Transport(NetError::from(e)))?;
            if let Some(answer) = exchange::decode(&reply, dnssec)? {
                return Ok(answer);
            }
        }
        exchange::answer(self.servers.send(request).first_answer().await, dnssec)
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
        dnssec: Dnssec,
        timeout: Duration,
    ) -> Result<Answer, QueryError> {
        let start = Instant::now();
        let result = match tokio::time::timeout(timeout, self.ask(name, rtype, dnssec)).await {
            Err(_) => Err(QueryError::Timeout),
            Ok(result) => result,
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
    pub async fn query(
        &self,
        name: &Name,
        rtype: RecordType,
        dnssec: Dnssec,
    ) -> Result<Answer, String> {
        let order = self.order();
        let mut last = "no upstream".to_owned();
        if self.strategy == UpstreamStrategy::Parallel && order.len() >= 2 {
            let mut a = std::pin::pin!(order[0].query(name, rtype, dnssec, self.timeout));
            let mut b = std::pin::pin!(order[1].query(name, rtype, dnssec, self.timeout));
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
            match upstream.query(name, rtype, dnssec, self.timeout).await {
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
