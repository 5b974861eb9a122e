//! The answer cache: upstream answers keyed by question, expiring with their TTL.
//!
//! Policy never enters the cache (Blocky's lesson): it holds what the upstream said, and
//! every query, cached or not, goes through the profile's decision first.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, LowerName, Name, Record, RecordType};
use moka::Expiry;
use moka::sync::Cache;

/// Longest time an answer stays cached, whatever its TTL says.
const MAX_CACHE_TTL: u32 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    name: LowerName,
    rtype: RecordType,
    class: DNSClass,
}

impl CacheKey {
    pub fn new(name: &Name, rtype: RecordType, class: DNSClass) -> Self {
        CacheKey {
            name: LowerName::new(name),
            rtype,
            class,
        }
    }
}

/// An upstream answer as received.
#[derive(Debug)]
pub struct Answer {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    /// The SOA of a negative answer.
    pub authorities: Vec<Record>,
    received: Instant,
    /// How long the answer may be cached: its smallest TTL, or the negative TTL.
    ttl: u32,
}

impl Answer {
    pub fn new(
        rcode: ResponseCode,
        answers: Vec<Record>,
        authorities: Vec<Record>,
        negative_ttl: Option<u32>,
    ) -> Answer {
        let min_ttl = answers.iter().chain(&authorities).map(|r| r.ttl).min();
        let ttl = match (negative_ttl, min_ttl) {
            (Some(n), Some(m)) => n.min(m),
            (Some(n), None) => n,
            (None, Some(m)) => m,
            (None, None) => 0,
        };
        Answer {
            rcode,
            answers,
            authorities,
            received: Instant::now(),
            ttl: ttl.min(MAX_CACHE_TTL),
        }
    }

    /// Seconds since the answer arrived, to subtract from every TTL when serving it.
    pub fn age(&self) -> u32 {
        u32::try_from(self.received.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// Copies of `records` with their TTLs mapped by `ttl`: counted down by the answer's
    /// age when served from the cache, set to the stale TTL when served stale.
    pub fn retimed(records: &[Record], ttl: impl Fn(u32) -> u32) -> Vec<Record> {
        records
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.ttl = ttl(r.ttl);
                r
            })
            .collect()
    }
}

/// Entries live for their TTL plus the serve-stale window.
struct TtlExpiry {
    stale: Duration,
}

impl Expiry<CacheKey, Arc<Answer>> for TtlExpiry {
    fn expire_after_create(
        &self,
        _: &CacheKey,
        value: &Arc<Answer>,
        _: Instant,
    ) -> Option<Duration> {
        Some(Duration::from_secs(u64::from(value.ttl)) + self.stale)
    }
}

/// A cache hit: fresh, or past its TTL but within the serve-stale window.
pub enum Cached {
    Fresh(Arc<Answer>),
    Stale(Arc<Answer>),
}

pub struct AnswerCache {
    cache: Option<Cache<CacheKey, Arc<Answer>>>,
    stale: Duration,
}

impl AnswerCache {
    /// A cache of at most `entries` answers, kept `stale` past their TTL for serve-stale;
    /// 0 entries disables caching.
    pub fn new(entries: u64, stale: Duration) -> AnswerCache {
        AnswerCache {
            cache: (entries > 0).then(|| {
                Cache::builder()
                    .max_capacity(entries)
                    .expire_after(TtlExpiry { stale })
                    .build()
            }),
            stale,
        }
    }

    pub fn get(&self, key: &CacheKey) -> Option<Cached> {
        let answer = self.cache.as_ref()?.get(key)?;
        let age = answer.age();
        // moka expires lazily: check both limits ourselves.
        if age < answer.ttl {
            Some(Cached::Fresh(answer))
        } else if u64::from(age - answer.ttl) < self.stale.as_secs() {
            Some(Cached::Stale(answer))
        } else {
            None
        }
    }

    pub fn insert(&self, key: CacheKey, answer: Arc<Answer>) {
        if let Some(cache) = &self.cache
            && answer.ttl > 0
        {
            cache.insert(key, answer);
        }
    }

    pub fn len(&self) -> u64 {
        self.cache.as_ref().map_or(0, Cache::entry_count)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
