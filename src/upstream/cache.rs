//! The answer cache: upstream answers keyed by question, expiring with their TTL.
//!
//! Policy never enters the cache (Blocky's lesson): it holds what the upstream said, and
//! every query, cached or not, goes through the profile's decision first.
//!
//! The cache is bounded by bytes as well as entries: an answer can be up to 64 KiB (TCP
//! fallback), so an entry count alone would let a client that owns a zone of large answers
//! fill gigabytes.

use std::hash::BuildHasher;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_proto::rr::{DNSClass, LowerName, Name, RecordType};
use indexmap::IndexMap;

use super::{Answer, Dnssec};

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

/// A cache hit: fresh, or past its TTL but within the serve-stale window.
pub enum Cached {
    Fresh(Arc<Answer>),
    Stale(Arc<Answer>),
}

/// Shards at most: one lock each, so that worker threads rarely meet on one. The locks are
/// read-write: a popular name's shard is read by every worker at once.
const SHARDS: usize = 16;
/// Bytes a shard holds at least, so that the largest answer (64 KiB over TCP) fits with room
/// to spare: a small byte budget gets fewer shards.
const SHARD_BYTES_MIN: u64 = 1 << 20;

/// Upstream answers by question, bounded by entries and by bytes.
///
/// Our own rather than moka: on the miss path, where every answer is new and one is evicted
/// for each, moka's hashing, table rehashing and housekeeping took a fifth of the CPU.
/// Here each shard is a map under a read-write lock, and an entry over the bounds is evicted by
/// sampling: of two entries drawn at random, the one that expires first goes (Redis's
/// approximated eviction), so expired answers go first without a timer wheel.
pub struct AnswerCache {
    /// `None` when caching is off.
    shards: Option<Box<[RwLock<Shard>]>>,
    /// Picks a key's shard. foldhash rather than SipHash: keys are names we asked for, the
    /// shards are bounded, and hashing showed up in the cached path's profile.
    hasher: foldhash::fast::RandomState,
    stale: Duration,
    shard_entries: usize,
    shard_bytes: u64,
}

struct Shard {
    entries: IndexMap<CacheKey, Entry, foldhash::fast::RandomState>,
    bytes: u64,
    /// xorshift state that draws eviction candidates.
    draw: u64,
}

struct Entry {
    answer: Arc<Answer>,
    bytes: u64,
}

impl AnswerCache {
    /// A cache of at most `entries` answers and about `bytes` bytes, kept `stale` past their
    /// TTL for serve-stale; 0 entries or 0 bytes disables caching.
    pub fn new(entries: u64, bytes: u64, stale: Duration) -> AnswerCache {
        let count = usize::try_from(entries.min(bytes / SHARD_BYTES_MIN))
            .unwrap_or(usize::MAX)
            .clamp(1, SHARDS);
        let seed = foldhash::fast::RandomState::default();
        AnswerCache {
            shards: (entries > 0 && bytes > 0).then(|| {
                (0..count)
                    .map(|i| {
                        RwLock::new(Shard {
                            entries: IndexMap::with_hasher(seed.clone()),
                            bytes: 0,
                            draw: seed.hash_one(i) | 1,
                        })
                    })
                    .collect()
            }),
            hasher: seed,
            stale,
            shard_entries: usize::try_from(entries).unwrap_or(usize::MAX) / count,
            shard_bytes: bytes / count as u64,
        }
    }

    fn shard(&self, key: &CacheKey) -> Option<&RwLock<Shard>> {
        let shards = self.shards.as_ref()?;
        let at = self.hasher.hash_one(key) as usize % shards.len();
        Some(&shards[at])
    }

    pub fn get(&self, key: &CacheKey) -> Option<Cached> {
        let shard = self.shard(key)?;
        let answer = shard
            .read()
            .expect("not poisoned")
            .entries
            .get(key)?
            .answer
            .clone();
        let age = answer.age();
        if age < answer.ttl {
            Some(Cached::Fresh(answer))
        } else if u64::from(age - answer.ttl) < self.stale.as_secs() {
            Some(Cached::Stale(answer))
        } else {
            let mut shard = shard.write().expect("not poisoned");
            // Unless another query put a new answer there since.
            if shard
                .entries
                .get(key)
                .is_some_and(|e| Arc::ptr_eq(&e.answer, &answer))
            {
                shard.remove(key);
            }
            None
        }
    }

    pub fn insert(&self, key: CacheKey, answer: Arc<Answer>) {
        if answer.ttl == 0 {
            return;
        }
        let Some(shard) = self.shard(&key) else {
            return;
        };
        let bytes = weight(&answer);
        let mut shard = shard.write().expect("not poisoned");
        shard.remove(&key);
        shard.bytes += bytes;
        shard.entries.insert(key, Entry { answer, bytes });
        while shard.entries.len() > self.shard_entries || shard.bytes > self.shard_bytes {
            shard.evict_one(self.stale);
        }
    }

    pub fn len(&self) -> u64 {
        self.each_shard(|s| s.entries.len() as u64)
    }

    /// Approximate bytes held.
    pub fn bytes(&self) -> u64 {
        self.each_shard(|s| s.bytes)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn each_shard(&self, f: impl Fn(&Shard) -> u64) -> u64 {
        self.shards.as_deref().map_or(0, |shards| {
            shards
                .iter()
                .map(|s| f(&s.read().expect("not poisoned")))
                .sum()
        })
    }
}

/// Bytes an entry costs: its key and its answer.
fn weight(answer: &Answer) -> u64 {
    size_of::<CacheKey>() as u64 + answer.bytes()
}

impl Shard {
    fn remove(&mut self, key: &CacheKey) {
        if let Some(old) = self.entries.swap_remove(key) {
            self.bytes -= old.bytes;
        }
    }

    /// Evicts whichever of two entries drawn at random leaves the cache first.
    fn evict_one(&mut self, stale: Duration) {
        let len = self.entries.len();
        if len == 0 {
            return;
        }
        let a = self.next_draw() % len;
        let b = self.next_draw() % len;
        let leaves = |i: usize| {
            let answer = &self.entries[i].answer;
            answer.received + Duration::from_secs(u64::from(answer.ttl)) + stale
        };
        let victim = if leaves(a) <= leaves(b) { a } else { b };
        if let Some((_, old)) = self.entries.swap_remove_index(victim) {
            self.bytes -= old.bytes;
        }
    }

    fn next_draw(&mut self) -> usize {
        self.draw ^= self.draw << 13;
        self.draw ^= self.draw >> 7;
        self.draw ^= self.draw << 17;
        self.draw as usize
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::rdata::{A, TXT};
    use hickory_proto::rr::{RData, Record};

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
        let one = weight(&big_answer());
        assert!(one > 4000, "a 4 KB answer weighs its size: {one}");
        for i in 0..1000 {
            cache.insert(key(i), big_answer());
        }
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
    fn an_answer_past_its_ttl_and_the_stale_window_is_gone() {
        let cache = AnswerCache::new(100, 1 << 20, Duration::from_secs(30));
        let name = Name::from_ascii("www.example.test.").unwrap();
        let aged = |seconds: u64| {
            let a = Record::from_rdata(name.clone(), 60, RData::A(A(Ipv4Addr::LOCALHOST)));
            let mut answer = Answer::new(ResponseCode::NoError, vec![a], vec![], None, false);
            answer.received -= Duration::from_secs(seconds);
            Arc::new(answer)
        };
        cache.insert(key(1), aged(0));
        cache.insert(key(2), aged(70));
        cache.insert(key(3), aged(100));
        assert!(matches!(cache.get(&key(1)), Some(Cached::Fresh(_))));
        assert!(matches!(cache.get(&key(2)), Some(Cached::Stale(_))));
        assert!(cache.get(&key(3)).is_none());
        assert_eq!(cache.len(), 2, "the dead answer was dropped when asked for");
    }

    #[test]
    fn of_the_two_drawn_the_answer_that_leaves_first_is_evicted() {
        let cache = AnswerCache::new(1, 1 << 20, Duration::ZERO);
        let name = Name::from_ascii("www.example.test.").unwrap();
        let answer = |ttl| {
            let a = Record::from_rdata(name.clone(), ttl, RData::A(A(Ipv4Addr::LOCALHOST)));
            Arc::new(Answer::new(
                ResponseCode::NoError,
                vec![a],
                vec![],
                None,
                false,
            ))
        };
        cache.insert(key(1), answer(3600));
        let mut shard = cache.shards.as_ref().unwrap()[0].write().unwrap();
        let short = answer(5);
        let bytes = weight(&short);
        shard.entries.insert(
            key(2),
            Entry {
                answer: short,
                bytes,
            },
        );
        shard.bytes += bytes;
        // The first seed whose two draws fall on different entries: the draws are
        // deterministic for a seed, so this test is too.
        let seed = (1..)
            .find(|&seed| {
                shard.draw = seed;
                shard.next_draw() % 2 != shard.next_draw() % 2
            })
            .unwrap();
        shard.draw = seed;
        shard.evict_one(Duration::ZERO);
        assert_eq!(shard.entries.len(), 1);
        assert!(shard.entries.contains_key(&key(1)), "the 5 s answer went");
        assert_eq!(shard.bytes, weight(&answer(3600)));
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
        assert!(cache.len() <= 10, "{} entries", cache.len());
    }
}
