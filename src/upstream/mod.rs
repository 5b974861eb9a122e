//! Forwarding allowed queries upstream, behind our own answer cache.
//!
//! Plain DNS to one address goes over our own UDP client ([`udp`]), the miss path's hot
//! part. hickory does the other transports (TCP, also for truncated replies, TLS, HTTPS) and
//! the spread over an upstream's addresses; we build the requests ([`exchange`]), so that the
//! client's DO and CD reach the upstream and its RRSIGs and AD bit come back. Our cache sits
//! in front so that we know hits from misses (metrics), keep the upstream's rcode and
//! authority records exactly, and can count TTLs down from the moment the answer arrived.

mod answer;
mod cache;
mod exchange;
mod pool;
mod udp;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use tokio::sync::broadcast;

use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{NameServerPool, PoolContext, TlsConfig};

pub use answer::Answer;
pub use cache::{AnswerCache, CacheKey, Cached};
pub use exchange::Dnssec;

use crate::config::{Upstream, UpstreamConfig, UpstreamProtocol};
use pool::Pool;

/// Negative answers without an SOA (so without a negative TTL) are cached this long.
const NEGATIVE_TTL_WITHOUT_SOA: u32 = 30;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("upstream {url}: cannot resolve its host name: {reason}")]
    Bootstrap { url: String, reason: String },
    #[error("cannot set up TLS for the upstreams: {0}")]
    Tls(String),
}

/// TTL of an answer served stale (RFC 8767 recommends 30 s).
pub const STALE_TTL: u32 = 30;

/// The outcome of forwarding one query.
pub enum Outcome {
    /// An answer (positive or negative), and whether it came from the cache.
    Answer { answer: Arc<Answer>, cached: bool },
    /// Every upstream failed; an expired answer within the serve-stale window stands in.
    Stale(Arc<Answer>),
    /// Every upstream failed or the timeout passed: the client gets SERVFAIL.
    Failed(String),
}

/// The upstreams and the answer cache in front of them. Both are swapped whole when a reload
/// changes `[upstream]` ([`reconfigure`](Self::reconfigure)); queries in flight finish on
/// the pool they started with.
pub struct Forwarder {
    pool: ArcSwap<Pool>,
    cache: ArcSwap<AnswerCache>,
    /// The `[upstream]` the pool and cache were built from.
    applied: Mutex<UpstreamConfig>,
    /// Questions being asked upstream right now: identical concurrent misses wait for the
    /// first one's answer instead of asking again (a cold cache under a burst).
    inflight: Inflight,
}

/// Questions in flight, each with the channel its answer will be broadcast on.
type Inflight = Mutex<HashMap<CacheKey, broadcast::Sender<Result<Arc<Answer>, String>>>>;

/// The leading query's claim on an in-flight question: [`finish`](Self::finish) hands the
/// answer to the followers; if the leading task is dropped first, the entry is removed all
/// the same, so that followers never wait on an answer that will not come (they then ask
/// themselves).
struct InflightGuard<'a> {
    inflight: &'a Inflight,
    key: Option<CacheKey>,
}

impl InflightGuard<'_> {
    fn finish(mut self, result: &Result<Arc<Answer>, String>) {
        let key = self.key.take().expect("finished once");
        let tx = self.inflight.lock().expect("not poisoned").remove(&key);
        if let Some(tx) = tx {
            let _ = tx.send(result.clone());
        }
    }
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        if let Some(key) = &self.key {
            self.inflight.lock().expect("not poisoned").remove(key);
        }
    }
}

impl Forwarder {
    pub fn new(config: &UpstreamConfig) -> Result<Forwarder, UpstreamError> {
        Ok(Forwarder {
            pool: ArcSwap::from_pointee(pool(config)?),
            cache: ArcSwap::from_pointee(cache(config)),
            applied: Mutex::new(config.clone()),
            inflight: Mutex::new(HashMap::new()),
        })
    }

    /// Applies a reloaded `[upstream]`: any change builds new upstreams and starts an empty
    /// cache (answers of the old upstreams, perhaps unfiltered ones, are not served on).
    /// Returns whether anything changed; on error the current upstreams keep serving.
    pub fn reconfigure(&self, config: &UpstreamConfig) -> Result<bool, UpstreamError> {
        let mut applied = self.applied.lock().expect("not poisoned");
        if *applied == *config {
            return Ok(false);
        }
        self.pool.store(Arc::new(pool(config)?));
        self.cache.store(Arc::new(cache(config)));
        *applied = config.clone();
        Ok(true)
    }

    pub fn cache(&self) -> Arc<AnswerCache> {
        self.cache.load_full()
    }

    /// Probes demoted upstreams in the background until the task is dropped.
    pub async fn probe_demoted(self: Arc<Self>) {
        loop {
            tokio::time::sleep(pool::PROBE_EVERY).await;
            self.pool.load_full().probe_demoted().await;
        }
    }

    /// Failures so far, per upstream URL.
    pub fn failures(&self) -> Vec<(String, u64)> {
        self.pool
            .load()
            .upstreams
            .iter()
            .map(|u| {
                (
                    u.url.clone(),
                    u.failures.load(std::sync::atomic::Ordering::Relaxed),
                )
            })
            .collect()
    }

    /// The fresh cached answer to `name`/`rtype` asked with `dnssec`, if there is one.
    pub fn cached(&self, name: &Name, rtype: RecordType, dnssec: Dnssec) -> Option<Outcome> {
        let key = CacheKey::new(name, rtype, DNSClass::IN, dnssec);
        match self.cache.load().get(&key)? {
            Cached::Fresh(answer) => Some(Outcome::Answer {
                answer,
                cached: true,
            }),
            Cached::Stale(_) => None,
        }
    }

    /// Answers `name`/`rtype`, asked with the client's `dnssec` bits, from the cache or the
    /// upstreams. An expired answer within the serve-stale window stands in when every
    /// upstream fails.
    pub async fn resolve(&self, name: &Name, rtype: RecordType, dnssec: Dnssec) -> Outcome {
        let key = CacheKey::new(name, rtype, DNSClass::IN, dnssec);
        // A guard on the hit path (no reference count touched); an owned `Arc` only for a
        // miss, which waits on the upstream.
        let cache = self.cache.load();
        let stale = match cache.get(&key) {
            Some(Cached::Fresh(answer)) => {
                return Outcome::Answer {
                    answer,
                    cached: true,
                };
            }
            Some(Cached::Stale(answer)) => Some(answer),
            None => None,
        };
        let cache = arc_swap::Guard::into_inner(cache);
        let result = self.ask_once(&cache, key, name, rtype, dnssec).await;
        match result {
            Ok(answer) => Outcome::Answer {
                answer,
                cached: false,
            },
            Err(reason) => match stale {
                Some(answer) => Outcome::Stale(answer),
                None => Outcome::Failed(reason),
            },
        }
    }

    /// Asks the upstreams, or waits for an identical question already being asked.
    async fn ask_once(
        &self,
        cache: &AnswerCache,
        key: CacheKey,
        name: &Name,
        rtype: RecordType,
        dnssec: Dnssec,
    ) -> Result<Arc<Answer>, String> {
        let waiting = {
            let mut inflight = self.inflight.lock().expect("not poisoned");
            match inflight.get(&key) {
                Some(tx) => Some(tx.subscribe()),
                None => {
                    // A leader may have finished between our cache miss and this lock; it
                    // fills the cache before it leaves the map, so look once more.
                    if let Some(Cached::Fresh(answer)) = cache.get(&key) {
                        return Ok(answer);
                    }
                    inflight.insert(key.clone(), broadcast::channel(1).0);
                    None
                }
            }
        };
        if let Some(mut rx) = waiting {
            if let Ok(result) = rx.recv().await {
                return result;
            }
            // The leader went away without an answer: ask ourselves.
            return self
                .pool
                .load_full()
                .query(name, rtype, dnssec)
                .await
                .map(Arc::new);
        }
        let pool = self.pool.load_full();
        let guard = InflightGuard {
            inflight: &self.inflight,
            key: Some(key.clone()),
        };
        let result = pool.query(name, rtype, dnssec).await.map(Arc::new);
        if let Ok(answer) = &result {
            cache.insert(key, answer.clone());
        }
        guard.finish(&result);
        result
    }
}

/// The upstreams of `config`, each a hickory name-server pool over its addresses, bounded by
/// the per-upstream timeout.
fn pool(config: &UpstreamConfig) -> Result<Pool, UpstreamError> {
    let mut upstreams = Vec::new();
    let sockets = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    for upstream in &config.servers {
        let ips = upstream_ips(upstream)?;
        // Our own UDP client where there is one address to send to; hickory spreads over
        // several, and keeps the TCP for truncated replies.
        let udp = (upstream.protocol == UpstreamProtocol::Udp && ips.len() == 1)
            .then(|| udp::UdpUpstream::new(SocketAddr::new(ips[0], upstream.port), sockets));
        let name_servers = ips
            .into_iter()
            .map(|ip| NameServerConfig::new(ip, true, connections(upstream, udp.is_some())));
        let mut options = ResolverOpts::default();
        options.timeout = config.timeout;
        let tls = TlsConfig::new().map_err(|e| UpstreamError::Tls(e.to_string()))?;
        let context = Arc::new(PoolContext::new(options, tls));
        let servers =
            NameServerPool::from_config(name_servers, context, TokioRuntimeProvider::default());
        upstreams.push(pool::Upstream::new(upstream.url.clone(), udp, servers));
    }
    Ok(Pool::new(upstreams, config.strategy, config.timeout))
}

fn cache(config: &UpstreamConfig) -> AnswerCache {
    AnswerCache::new(config.cache_entries, config.cache_bytes, config.serve_stale)
}

/// Plain DNS gets UDP and TCP, so that a truncated UDP answer is retried over TCP; only TCP
/// when our own client does the UDP (`own_udp`).
fn connections(upstream: &Upstream, own_udp: bool) -> Vec<ConnectionConfig> {
    let name = || Arc::<str>::from(upstream.tls_name.clone().unwrap_or_default());
    let mut connections = match upstream.protocol {
        UpstreamProtocol::Udp if own_udp => vec![ConnectionConfig::tcp()],
        UpstreamProtocol::Udp => vec![ConnectionConfig::udp(), ConnectionConfig::tcp()],
        UpstreamProtocol::Tcp => vec![ConnectionConfig::tcp()],
        UpstreamProtocol::Tls => vec![ConnectionConfig::tls(name())],
        UpstreamProtocol::Https => vec![ConnectionConfig::https(
            name(),
            upstream.path.as_deref().map(Arc::from),
        )],
    };
    for c in &mut connections {
        c.port = upstream.port;
    }
    connections
}

/// An upstream's addresses. Host names (DoH URLs) are resolved once, at start-up, by the
/// system resolver; give an IP literal (`https://9.9.9.9/dns-query#dns.quad9.net`) where the
/// system resolver is familydns itself.
fn upstream_ips(upstream: &Upstream) -> Result<Vec<IpAddr>, UpstreamError> {
    if let Ok(ip) = upstream.host.parse() {
        return Ok(vec![ip]);
    }
    let addrs: Vec<SocketAddr> = (upstream.host.as_str(), upstream.port)
        .to_socket_addrs()
        .map_err(|e| UpstreamError::Bootstrap {
            url: upstream.url.clone(),
            reason: e.to_string(),
        })?
        .collect();
    Ok(addrs.into_iter().map(|a| a.ip()).collect())
}
