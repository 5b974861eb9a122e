//! Building the records and EDNS of our answers: blocks, upstream answers as the client gets
//! them, the EDE that says why, and the encoding.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use hickory_proto::op::{Edns, Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::rdata::{A, AAAA, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::config::{BlockAnswer, RateLimitAction};
use crate::dnstap::Decision;
use crate::policy::EdeCode;
use crate::upstream::{Answer, Outcome, STALE_TTL};

/// TTL of block answers: short, so that a parent's change reaches devices quickly.
pub const BLOCK_TTL: u32 = 60;
/// TTL of safe-search rewrites.
pub const REWRITE_TTL: u32 = 300;
/// RFC 8914 option code.
const EDE_OPTION: u16 = 15;
/// Longest EDE text we send: a large OPT shrinks the room left for answers (Blocky caps at
/// 200 bytes too).
const EDE_TEXT_MAX: usize = 200;
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

/// The OPT of a response to a request that carried `request` EDNS: version 0 (the only
/// one we speak, RFC 6891 §6.1.3, also in a BADVERS answer), the client's payload size
/// (capped), its DO bit echoed (RFC 3225 §3), and an EDE when there is one.
///
/// The OPT is built fresh rather than copied from the request, so that what ednscomp checks
/// holds by construction: the request's unknown options are not echoed, and its unknown
/// flags (the Z bits) are clear in the reply.
pub fn response_edns(request: &Edns, ede: Option<(EdeCode, &str)>) -> Edns {
    let mut edns = Edns::new();
    edns.set_max_payload(request.max_payload().clamp(512, MAX_UDP_PAYLOAD));
    edns.set_dnssec_ok(request.flags().dnssec_ok);
    if let Some((code, text)) = ede {
        let mut text = text;
        if text.len() > EDE_TEXT_MAX {
            let mut end = EDE_TEXT_MAX;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text = &text[..end];
        }
        let mut data = Vec::with_capacity(2 + text.len());
        data.extend_from_slice(&(code as u16).to_be_bytes());
        data.extend_from_slice(text.as_bytes());
        edns.options_mut()
            .insert(EdnsOption::Unknown(EDE_OPTION, data));
    }
    edns
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
    let reply = response.reply;
    let mut m = Message::new(
        request.metadata.id,
        MessageType::Response,
        request.metadata.op_code,
    );
    m.metadata.recursion_desired = request.metadata.recursion_desired;
    m.metadata.checking_disabled = request.metadata.checking_disabled;
    // RFC 6840 §5.8: the AD bit goes only to a client that showed it understands it.
    let do_bit = request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
    m.metadata.authentic_data = reply.authentic && (do_bit || request.metadata.authentic_data);
    m.metadata.recursion_available = true;
    m.metadata.response_code = reply.rcode;
    m.metadata.truncation = response.truncated;
    m.queries = request.queries.clone();
    m.answers = reply.answers;
    m.authorities = reply.authorities;
    if let Some(edns) = &request.edns {
        m.set_edns(response_edns(
            edns,
            reply.ede.as_ref().map(|(c, t)| (*c, t.as_str())),
        ));
    }
    let bytes = m.to_vec().ok()?;
    if bytes.len() <= limit {
        return Some(bytes);
    }
    m.answers.clear();
    m.authorities.clear();
    m.metadata.truncation = true;
    m.to_vec().ok()
}
