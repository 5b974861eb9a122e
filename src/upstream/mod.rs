//! Forwarding allowed queries upstream through hickory-resolver, behind our own answer cache.
//!
//! hickory-resolver does the transports (UDP with TCP fallback on truncation, TCP, TLS,
//! HTTPS), server selection and retries. Its own cache is turned off: ours sits in front so
//! that we know hits from misses (metrics), keep the upstream's rcode and SOA exactly, and can
//! count TTLs down from the moment the answer arrived.

mod cache;

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use hickory_resolver::Resolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};

pub use cache::{Answer, AnswerCache, CacheKey};

use crate::config::{Upstream, UpstreamConfig, UpstreamProtocol};

/// Negative answers without an SOA (so without a negative TTL) are cached this long.
const NEGATIVE_TTL_WITHOUT_SOA: u32 = 30;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("upstream {url}: cannot resolve its host name: {reason}")]
    Bootstrap { url: String, reason: String },
    #[error("cannot build the upstream resolver: {0}")]
    Resolver(String),
}

/// The outcome of forwarding one query.
pub enum Outcome {
    /// An answer (positive or negative), and whether it came from the cache.
    Answer { answer: Arc<Answer>, cached: bool },
    /// Every upstream failed or the timeout passed: the client gets SERVFAIL.
    Failed(String),
}

pub struct Forwarder {
    resolver: Resolver<TokioRuntimeProvider>,
    cache: AnswerCache,
    timeout: Duration,
}

impl Forwarder {
    pub fn new(config: &UpstreamConfig) -> Result<Forwarder, UpstreamError> {
        let mut name_servers = Vec::new();
        for upstream in &config.servers {
            for ip in upstream_ips(upstream)? {
                name_servers.push(NameServerConfig::new(ip, true, connections(upstream)));
            }
        }
        let mut builder = Resolver::builder_with_config(
            ResolverConfig::from_parts(None, vec![], name_servers),
            TokioRuntimeProvider::default(),
        );
        let opts = builder.options_mut();
        opts.cache_size = 0;
        opts.timeout = config.timeout;
        opts.attempts = 1;
        opts.ndots = 0;
        opts.preserve_intermediates = true;
        opts.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
        opts.num_concurrent_reqs = 2;
        let resolver = builder
            .build()
            .map_err(|e| UpstreamError::Resolver(e.to_string()))?;
        Ok(Forwarder {
            resolver,
            cache: AnswerCache::new(config.cache_entries),
            timeout: config.timeout,
        })
    }

    pub fn cache(&self) -> &AnswerCache {
        &self.cache
    }

    /// Answers `name`/`rtype` from the cache or the upstreams, within the timeout.
    pub async fn resolve(&self, name: &Name, rtype: RecordType) -> Outcome {
        let key = CacheKey::new(name, rtype, DNSClass::IN);
        if let Some(answer) = self.cache.get(&key) {
            return Outcome::Answer {
                answer,
                cached: true,
            };
        }
        let lookup = tokio::time::timeout(self.timeout, self.resolver.lookup(name.clone(), rtype));
        let answer = match lookup.await {
            Err(_) => return Outcome::Failed("timed out".into()),
            Ok(Ok(lookup)) => Answer::new(
                ResponseCode::NoError,
                lookup.answers().to_vec(),
                vec![],
                None,
            ),
            Ok(Err(NetError::Dns(DnsError::NoRecordsFound(nr)))) => {
                let negative_ttl = nr.negative_ttl.or(if nr.soa.is_none() {
                    Some(NEGATIVE_TTL_WITHOUT_SOA)
                } else {
                    None
                });
                let soa: Vec<Record> = nr
                    .soa
                    .map(|soa| soa.into_record_of_rdata())
                    .into_iter()
                    .collect();
                Answer::new(nr.response_code, vec![], soa, negative_ttl)
            }
            Ok(Err(e)) => return Outcome::Failed(e.to_string()),
        };
        let answer = Arc::new(answer);
        self.cache.insert(key, answer.clone());
        Outcome::Answer {
            answer,
            cached: false,
        }
    }
}

/// Plain DNS gets UDP and TCP, so that a truncated UDP answer is retried over TCP.
fn connections(upstream: &Upstream) -> Vec<ConnectionConfig> {
    let name = || Arc::<str>::from(upstream.tls_name.clone().unwrap_or_default());
    let mut connections = match upstream.protocol {
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
