//! Building the records of our answers: blocks, upstream answers as the client gets them,
//! and the EDE that says why; [`wire`](super::wire) writes their bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::wire;
use crate::config::{BlockAnswer, RateLimitAction};
use crate::dnstap::Decision;
use crate::policy::EdeCode;
use crate::upstream::{Answer, Outcome, STALE_TTL};

/// TTL of block answers: short, so that a parent's change reaches devices quickly.
pub const BLOCK_TTL: u32 = 60;
/// TTL of safe-search rewrites.
pub const REWRITE_TTL: u32 = 300;
/// Largest UDP payload we advertise (DNS flag day 2020).
pub const MAX_UDP_PAYLOAD: u16 = 1232;

/// The records of a response, before encoding.
pub struct Reply {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub ede: Option<(EdeCode, String)>,
    /// The upstream validated these records (its AD bit); never set on records we made.
    pub authentic: bool,
}

impl Reply {
    /// An empty reply with `rcode`.
    /// What a client over its rate limit gets: `None` (no answer) for `drop`, REFUSED, or
    /// for `slip` an empty answer that the listener marks truncated.
    pub fn rate_limited(action: RateLimitAction) -> Option<Reply> {
        let rcode = match action {
            RateLimitAction::Drop => return None,
            RateLimitAction::Refused => ResponseCode::Refused,
            RateLimitAction::Slip => ResponseCode::NoError,
        };
        Some(Reply::error(rcode))
    }

    pub fn error(rcode: ResponseCode) -> Reply {
        Reply {
            rcode,
            answers: vec![],
            authorities: vec![],
            ede: None,
            authentic: false,
        }
    }

    /// NODATA: the name exists but has nothing of the type asked.
    pub fn nodata(qname: &Name) -> Reply {
        Reply {
            authorities: vec![soa(qname)],
            ..Reply::error(ResponseCode::NoError)
        }
    }

    /// The records of a block of `qname`/`qtype` answered `how` (without the EDE).
    pub fn block(qname: &Name, qtype: RecordType, how: BlockAnswer) -> Reply {
        let address = match (how, qtype) {
            (BlockAnswer::NxDomain, _) => {
                return Reply {
                    rcode: ResponseCode::NXDomain,
                    ..Reply::nodata(qname)
                };
            }
            (BlockAnswer::Null, RecordType::A) => RData::A(A(Ipv4Addr::UNSPECIFIED)),
            (BlockAnswer::Null, RecordType::AAAA) => RData::AAAA(AAAA(Ipv6Addr::UNSPECIFIED)),
            (BlockAnswer::Ip(IpAddr::V4(ip)), RecordType::A) => RData::A(A(ip)),
            (BlockAnswer::Ip(IpAddr::V6(ip)), RecordType::AAAA) => RData::AAAA(AAAA(ip)),
            // NODATA: the name "exists" but has nothing of this type.
            _ => return Reply::nodata(qname),
        };
        Reply {
            answers: vec![Record::from_rdata(qname.clone(), BLOCK_TTL, address)],
            ..Reply::error(ResponseCode::NoError)
        }
    }

    /// The client's records for what the upstreams said: TTLs counted down by the answer's
    /// age in the cache, or, served stale, the stale TTL and EDE 3; SERVFAIL when they failed.
    pub fn upstream(outcome: &Outcome) -> Reply {
        let (answer, stale) = match outcome {
            Outcome::Answer { answer, .. } => (answer, false),
            Outcome::Stale(answer) => (answer, true),
            Outcome::Failed(_) => return Reply::error(ResponseCode::ServFail),
        };
        let age = answer.age();
        let ttl = |t: u32| {
            if stale {
                STALE_TTL
            } else {
                t.saturating_sub(age)
            }
        };
        Reply {
            rcode: answer.rcode,
            answers: Answer::retimed(&answer.answers, ttl),
            authorities: Answer::retimed(&answer.authorities, ttl),
            ede: stale.then(|| {
                let text = "familydns: upstreams unreachable, served stale";
                (EdeCode::StaleAnswer, text.to_owned())
            }),
            authentic: answer.authentic,
        }
    }
}

/// A reply ready to encode.
pub struct Response {
    pub reply: Reply,
    /// Rate-limit "slip": an empty answer with TC=1.
    pub truncated: bool,
    /// What decided it, for dnstap's policy fields (only filled in when dnstap is on).
    pub decision: Option<Decision>,
}

/// A synthetic SOA so that downstream caches keep a negative answer (a block, a NODATA)
/// only `BLOCK_TTL`.
pub fn soa(qname: &Name) -> Record {
    // Parsed once: building names per blocked query showed up in the profile.
    static SOA_RDATA: LazyLock<SOA> = LazyLock::new(|| {
        let mname = Name::from_ascii("familydns.invalid.").expect("valid name");
        let rname = Name::from_ascii("hostmaster.familydns.invalid.").expect("valid name");
        SOA::new(mname, rname, 1, 3600, 600, 86400, BLOCK_TTL)
    });
    Record::from_rdata(qname.clone(), BLOCK_TTL, RData::SOA(SOA_RDATA.clone()))
}

/// The UDP size a client accepts: 512 bytes without EDNS, else its advertised size
/// (between 512 and [`MAX_UDP_PAYLOAD`]).
pub fn udp_limit(request: &Message) -> usize {
    request.edns.as_ref().map_or(512, |e| {
        usize::from(e.max_payload().clamp(512, MAX_UDP_PAYLOAD))
    })
}

/// An empty answer with `rcode`, for a request the pipeline did not answer.
pub fn error(request: &Message, rcode: ResponseCode) -> Option<Vec<u8>> {
    let response = Response {
        reply: Reply::error(rcode),
        truncated: false,
        decision: None,
    };
    encode(request, response, udp_limit(request))
}

/// Encodes a response in at most `limit` bytes; an answer that does not fit goes out empty
/// with TC=1, and the client retries over TCP.
pub fn encode(request: &Message, response: Response, limit: usize) -> Option<Vec<u8>> {
    let reply = &response.reply;
    // RFC 6840 §5.8: the AD bit goes only to a client that showed it understands it.
    let do_bit = request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
    let flags = wire::Flags {
        rcode: reply.rcode,
        truncated: response.truncated,
        authentic: reply.authentic && (do_bit || request.metadata.authentic_data),
    };
    wire::encode(request, reply, flags, limit)
}
