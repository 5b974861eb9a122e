//! The answer cache: upstream answers keyed by question, expiring with their TTL.
//!
//! Policy never enters the cache (Blocky's lesson): it holds what the upstream said, and
//! every query, cached or not, goes through the profile's decision first.
//!
//! The cache is bounded by bytes as well as entries: an answer can be up to 64 KiB (TCP
//! fallback), so an entry count alone would let a client that owns a zone of large answers
//! fill gigabytes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, LowerName, Name, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use moka::Expiry;
use moka::sync::Cache;

use super::Dnssec;

/// Longest time an answer stays cached, whatever its TTL says.
const MAX_CACHE_TTL: u32 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    name: LowerName,
    rtype: RecordType,
    class: DNSClass,
    /// The upstream answers DO and CD questions differently (RRSIGs, unvalidated data).
    dnssec: Dnssec,
}

impl CacheKey {
    pub fn new(name: &Name, rtype: RecordType, class: DNSClass, dnssec: Dnssec) -> Self {
        CacheKey {
            name: LowerName::new(name),
            rtype,
            class,
            dnssec,
        }
    }
}

/// An upstream answer as received.
#[derive(Debug)]
pub struct Answer {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    /// The SOA of a negative answer; for a DO question, the authority section as given.
    pub authorities: Vec<Record>,
    /// The upstream's AD bit: it validated the answer. Only a client that asked with DO or
    /// AD is told (RFC 6840 §5.8).
    pub authentic: bool,
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
        authentic: bool,
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
            authentic,
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

    /// Approximate bytes the cache spends on this answer: the fixed size of the entry and of
    /// each record, plus each record's wire size for what lives on the heap (long names,
    /// record data).
    fn bytes(&self) -> u64 {
        let records = self.answers.iter().chain(&self.authorities);
        let record_bytes: usize = records
            .map(|r| size_of::<Record>() + r.to_bytes().map_or(0, |b| b.len()))
            .sum();
        (size_of::<CacheKey>() + size_of::<Answer>() + record_bytes) as u64
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
    /// foldhash rather than SipHash: keys are names we asked for, not an attacker's choice of
    /// collisions (the map is bounded anyway), and hashing every lookup's key showed up in
    /// the cached path's profile.
    cache: Option<Cache<CacheKey, Arc<Answer>, foldhash::fast::RandomState>>,
    stale: Duration,
}

impl AnswerCache {
    /// A cache of at most `entries` answers and about `bytes` bytes, kept `stale` past their
    /// TTL for serve-stale; 0 entries or 0 bytes disables caching.
    ///
    /// moka bounds one weight, so both limits become one: the capacity is `bytes`, and each
    /// answer weighs its size but at least `bytes / entries`, so no more than `entries` fit.
    pub fn new(entries: u64, bytes: u64, stale: Duration) -> AnswerCache {
        let min_weight = bytes.checked_div(entries).unwrap_or(0);
        AnswerCache {
            cache: (entries > 0 && bytes > 0).then(|| {
                Cache::builder()
                    .max_capacity(bytes)
                    .weigher(move |_: &CacheKey, answer: &Arc<Answer>| {
                        u32::try_from(answer.bytes().max(min_weight)).unwrap_or(u32::MAX)
                    })
                    .expire_after(TtlExpiry { stale })
                    .build_with_hasher(foldhash::fast::RandomState::default())
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

    /// Approximate bytes held (answers weighing less than the per-entry minimum count as
    /// that minimum).
    pub fn bytes(&self) -> u64 {
        self.cache.as_ref().map_or(0, Cache::weighted_size)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::rr::RData;
    use hickory_proto::rr::rdata::{A, TXT};

    use super::*;

    fn key(i: usize) -> CacheKey {
        let name = Name::from_ascii(format!("n{i}.example.test.")).unwrap();
        CacheKey::new(&name, RecordType::TXT, DNSClass::IN, Dnssec::default())
    }

    /// About 4 KB: 40 strings of 100 bytes.
    fn big_answer() -> Arc<Answer> {
        let name = Name::from_ascii("big.example.test.").unwrap();
        let records = (0..40)
            .map(|i| {
                let txt = TXT::new(vec![format!("{i:03}{}", "x".repeat(97))]);
                Record::from_rdata(name.clone(), 300, RData::TXT(txt))
            })
            .collect();
        Arc::new(Answer::new(
            ResponseCode::NoError,
            records,
            vec![],
            None,
            false,
        ))
    }

    #[test]
    fn answers_past_the_byte_budget_are_evicted() {
        let budget = 256 << 10;
        let cache = AnswerCache::new(100_000, budget, Duration::ZERO);
        let one = big_answer().bytes();
        assert!(one > 4000, "a 4 KB answer weighs its size: {one}");
        for i in 0..1000 {
            cache.insert(key(i), big_answer());
        }
        let moka = cache.cache.as_ref().unwrap();
        moka.run_pending_tasks();
        assert!(cache.bytes() <= budget, "{} > {budget}", cache.bytes());
        assert!(
            cache.bytes() > budget / 2,
            "the budget is used: {}",
            cache.bytes()
        );
        // 1000 answers of 4 KB would be 4 MB: most were evicted.
        assert!(cache.len() <= budget / one, "{} entries", cache.len());
    }

    #[test]
    fn small_answers_are_bounded_by_the_entry_count() {
        let cache = AnswerCache::new(10, 1 << 20, Duration::ZERO);
        let name = Name::from_ascii("www.example.test.").unwrap();
        for i in 0..100 {
            let a = Record::from_rdata(name.clone(), 300, RData::A(A(Ipv4Addr::LOCALHOST)));
            let answer = Answer::new(ResponseCode::NoError, vec![a], vec![], None, false);
            cache.insert(key(i), Arc::new(answer));
        }
        cache.cache.as_ref().unwrap().run_pending_tasks();
        assert!(cache.len() <= 10, "{} entries", cache.len());
    }
}
