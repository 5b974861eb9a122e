//! An upstream's answer as the cache keeps it: its records, when it arrived, and how long it
//! may be served.

use std::time::Instant;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::BinEncodable;

/// Longest time an answer stays cached, whatever its TTL says.
const MAX_CACHE_TTL: u32 = 86_400;

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
    pub(super) received: Instant,
    /// How long the answer may be cached: its smallest TTL, or the negative TTL.
    pub(super) ttl: u32,
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

    /// Approximate bytes the cache spends on this answer (its key aside): the fixed size of the
    /// answer and of each record, plus each record's wire size for what lives on the heap
    /// (long names, record data).
    pub(super) fn bytes(&self) -> u64 {
        let records = self.answers.iter().chain(&self.authorities);
        let record_bytes: usize = records
            .map(|r| size_of::<Record>() + r.to_bytes().map_or(0, |b| b.len()))
            .sum();
        (size_of::<Answer>() + record_bytes) as u64
    }
}
