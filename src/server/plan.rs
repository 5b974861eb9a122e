//! The pure stages of a query: [`plan`] decides what a question needs (a reply now, or one
//! upstream question), and [`finish`] turns the upstream's reply into the client's. Neither
//! does I/O or reads a clock, so every stage is testable without sockets (Blocky's
//! resolvers), and the fuzzer runs the real decode → decide → encode path.

use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, HINFO};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::answer::{self, EdeCode, Reply};
use super::identity;
use crate::filter::Blocklists;
use crate::name::QueryName;
use crate::overrides::ProfileOverrides;
use crate::policy::{Action, Decision, Profile, Reason, SafeTarget};
use crate::snapshot::{Client, Snapshot};

/// Categories whose blocks are reported as EDE 15 (security policy) rather than 17
/// (filtering the client asked for).
const SECURITY_CATEGORIES: &[&str] = &["malware", "phishing"];

/// What a listener parsed from a request.
pub struct Question<'a> {
    pub src: IpAddr,
    pub op_code: OpCode,
    /// The request's one query, or `None` when it had none or several (FORMERR).
    pub query: Option<(&'a Name, RecordType, DNSClass)>,
    pub edns: Option<&'a Edns>,
}

impl<'a> Question<'a> {
    /// The question of a parsed request from `src`.
    pub fn from_message(request: &'a Message, src: IpAddr) -> Self {
        let query = match request.queries.as_slice() {
            [q] => Some((q.name(), q.query_type(), q.query_class())),
            _ => None,
        };
        Question {
            src,
            op_code: request.metadata.op_code,
            query,
            edns: request.edns.as_ref(),
        }
    }
}

/// The outcome of a query, as counted in `familydns_queries_total{decision}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Allowed,
    Blocked,
    Rewritten,
    Refused,
    NotImp,
    FormErr,
    BadVers,
    ServFail,
    RateLimited,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Allowed => "allowed",
            Label::Blocked => "blocked",
            Label::Rewritten => "rewritten",
            Label::Refused => "refused",
            Label::NotImp => "notimp",
            Label::FormErr => "formerr",
            Label::BadVers => "badvers",
            Label::ServFail => "servfail",
            Label::RateLimited => "ratelimited",
        }
    }
}

/// What a question needs.
pub enum Plan<'s> {
    /// The reply is known: a block, a refusal, a synthetic answer.
    Reply(Label, Reply),
    /// One question to the upstreams; [`finish`] makes the client's reply of the answer.
    Forward(Forward<'s>),
}

/// A question for the upstreams, and what to remember for the reply.
pub struct Forward<'s> {
    pub profile: &'s Profile,
    /// The name to ask (lowercase: the upstream and the cache see one spelling).
    pub name: Name,
    pub qtype: RecordType,
    /// The client's own name, for the records we add.
    qname: Name,
    /// A safe-search CNAME from the client's name to `name`, put in front of the answer.
    rewrite: bool,
}

/// A plan, with who it was made for.
pub struct Planned<'s> {
    /// The profile's name, or `-` before a profile is known.
    pub profile: &'s str,
    pub plan: Plan<'s>,
}

/// The first, cheapest and most final check: a source outside `allow_clients` is refused
/// before anything is spent on it (a rate-limit bucket, a decision). For an allowed source,
/// the client it speaks for (the MAC or subnet a trusted forwarder names), and whether it
/// sent identity options it may not.
pub fn admit(snapshot: &Snapshot, q: &Question<'_>) -> Result<(Client, bool), (Label, Reply)> {
    if !snapshot.is_allowed(q.src) {
        return Err((Label::Refused, Reply::error(ResponseCode::Refused)));
    }
    Ok(identity::identify(snapshot, q.src, q.edns))
}

/// Decides what `q` from an admitted `client` needs at `now`, with the profiles' timed
/// exceptions and pauses.
pub fn plan<'s>(
    snapshot: &'s Snapshot,
    q: &Question<'_>,
    client: &Client,
    now: jiff::Timestamp,
    timed: impl Fn(&str) -> Option<&'s ProfileOverrides>,
) -> Planned<'s> {
    let early = |label, rcode| Planned {
        profile: "-",
        plan: Plan::Reply(label, Reply::error(rcode)),
    };
    if q.edns.is_some_and(|e| e.version() > 0) {
        // RFC 6891 §6.1.3; the reply's OPT says version 0 (answer::response_edns).
        return early(Label::BadVers, ResponseCode::BADVERS);
    }
    if q.op_code != OpCode::Query {
        return early(Label::NotImp, ResponseCode::NotImp);
    }
    let Some((qname, qtype, qclass)) = q.query else {
        return early(Label::FormErr, ResponseCode::FormErr);
    };
    let profile = snapshot.profile_for_client(client);
    let planned = |plan| Planned {
        profile: &profile.name,
        plan,
    };
    if qclass != DNSClass::IN {
        return planned(Plan::Reply(
            Label::Refused,
            Reply::error(ResponseCode::Refused),
        ));
    }
    let name = QueryName::from_wire(qname);
    let decision = snapshot.decide_name_with(profile, &name, now, timed(&profile.name));
    let forward = |name: Name, rewrite| {
        Plan::Forward(Forward {
            profile,
            name,
            qtype,
            qname: qname.clone(),
            rewrite,
        })
    };
    planned(match decision.action {
        Action::Block => Plan::Reply(
            Label::Blocked,
            block(&snapshot.blocklists, profile, &decision, qname, qtype, None),
        ),
        Action::Rewrite => match snapshot
            .special
            .safe_search(name.whole(), profile.safe_search)
        {
            Some(SafeTarget::Host(host)) if !rewrite_is_local(qtype) => forward(host.clone(), true),
            Some(target) => Plan::Reply(Label::Rewritten, safe_search_reply(qname, qtype, target)),
            None => Plan::Reply(Label::ServFail, Reply::error(ResponseCode::ServFail)),
        },
        Action::Allow if qtype == RecordType::ANY => {
            Plan::Reply(Label::Allowed, minimal_any(qname))
        }
        // Zone transfers and other meta types are not ours to forward (B13).
        Action::Allow if is_meta(qtype) => {
            Plan::Reply(Label::NotImp, Reply::error(ResponseCode::NotImp))
        }
        Action::Allow => forward(qname.to_lowercase(), false),
    })
}

/// The client's reply to a forwarded question, given the upstream's reply: the safe-search
/// CNAME in front of a rewrite, or the answer checked for CNAME cloaking (an allowed name
/// whose chain reaches a blocked one is blocked).
pub fn finish(
    snapshot: &Snapshot,
    forward: &Forward<'_>,
    now: jiff::Timestamp,
    timed: Option<&ProfileOverrides>,
    mut reply: Reply,
) -> (Label, Reply) {
    if forward.rewrite {
        let cname = Record::from_rdata(
            forward.qname.clone(),
            answer::REWRITE_TTL,
            RData::CNAME(CNAME(forward.name.clone())),
        );
        reply.answers.insert(0, cname);
        reply.rcode = ResponseCode::NoError;
        return (Label::Rewritten, reply);
    }
    if reply.rcode == ResponseCode::ServFail {
        return (Label::ServFail, reply);
    }
    let profile = forward.profile;
    for record in &reply.answers {
        if let RData::CNAME(target) = &record.data {
            let d =
                snapshot.decide_name_with(profile, &QueryName::from_wire(&target.0), now, timed);
            if d.action == Action::Block {
                let blocked = block(
                    &snapshot.blocklists,
                    profile,
                    &d,
                    &forward.qname,
                    forward.qtype,
                    Some(&target.0),
                );
                return (Label::Blocked, blocked);
            }
        }
    }
    (Label::Allowed, reply)
}

/// Whether a safe-search rewrite of `qtype` is answered without the upstream: HTTPS/SVCB
/// get NODATA so that browsers cannot skip the rewrite through the engine's own service
/// records, and a CNAME question gets the CNAME alone.
fn rewrite_is_local(qtype: RecordType) -> bool {
    matches!(
        qtype,
        RecordType::HTTPS | RecordType::SVCB | RecordType::CNAME
    )
}

/// A safe-search reply that needs no upstream: the engine's safe address, the CNAME alone,
/// or NODATA.
fn safe_search_reply(qname: &Name, qtype: RecordType, target: &SafeTarget) -> Reply {
    let records = |answers| Reply {
        rcode: ResponseCode::NoError,
        answers,
        authorities: vec![],
        ede: None,
    };
    match target {
        _ if matches!(qtype, RecordType::HTTPS | RecordType::SVCB) => Reply::nodata(qname),
        SafeTarget::Address(ip) if qtype == RecordType::A => records(vec![Record::from_rdata(
            qname.clone(),
            answer::REWRITE_TTL,
            RData::A(A(*ip)),
        )]),
        SafeTarget::Address(_) => Reply::nodata(qname),
        SafeTarget::Host(host) => records(vec![Record::from_rdata(
            qname.clone(),
            answer::REWRITE_TTL,
            RData::CNAME(CNAME(host.clone())),
        )]),
    }
}

/// Meta query types (RFC 6895 §3.1: 128-255, and the zone transfers) that a forwarder
/// answers NOTIMP itself: an upstream would refuse them, and that refusal taught nothing.
fn is_meta(qtype: RecordType) -> bool {
    (128..=255).contains(&u16::from(qtype))
        || matches!(
            qtype,
            RecordType::AXFR | RecordType::IXFR | RecordType::OPT | RecordType::TSIG
        )
}

/// RFC 8482: ANY gets one synthetic HINFO record, not everything the name has, so that
/// familydns is never an amplifier.
fn minimal_any(qname: &Name) -> Reply {
    let hinfo = HINFO::new("RFC8482".to_owned(), String::new());
    Reply {
        rcode: ResponseCode::NoError,
        answers: vec![Record::from_rdata(
            qname.clone(),
            answer::REWRITE_TTL,
            RData::HINFO(hinfo),
        )],
        authorities: vec![],
        ede: None,
    }
}

/// The block reply for `decision`; `via` names the CNAME target when the block came from
/// the upstream answer's chain.
fn block(
    blocklists: &Blocklists,
    profile: &Profile,
    decision: &Decision,
    qname: &Name,
    qtype: RecordType,
    via: Option<&Name>,
) -> Reply {
    let records = answer::block_records(qname, qtype, decision.block_answer(profile));
    let (code, mut text) = ede_for(blocklists, profile, decision);
    if let Some(target) = via {
        text = format!("{text} via CNAME {target}");
    }
    Reply {
        rcode: records.rcode,
        answers: records.answers,
        authorities: records.authorities,
        ede: Some((code, text)),
    }
}
/// The EDE code and text for a block: which list (and category) or which profile rule.
fn ede_for(blocklists: &Blocklists, profile: &Profile, decision: &Decision) -> (EdeCode, String) {
    match decision.reason {
        Reason::Schedule => {
            return (
                EdeCode::Filtered,
                format!(
                    "familydns: schedule of profile {} (block_all)",
                    profile.name
                ),
            );
        }
        Reason::Paused => {
            return (
                EdeCode::Filtered,
                format!("familydns: profile {} is paused", profile.name),
            );
        }
        Reason::BypassCanary | Reason::BypassEndpoint { .. } => {
            return (
                EdeCode::Blocked,
                "familydns: resolver bypass blocked".to_owned(),
            );
        }
        Reason::Classified(c) => {
            let category = blocklists
                .classifier
                .as_ref()
                .map_or("?", |l| l.category_name(c.category));
            return (
                EdeCode::Filtered,
                format!(
                    "familydns: classified {category} (score {:.3})",
                    f32::from(c.score_milli) / 1000.0
                ),
            );
        }
        _ => {}
    }
    match decision.reason.list() {
        Some(list) => {
            let list = &blocklists.lists[usize::from(list)];
            let code = if SECURITY_CATEGORIES.contains(&list.category.as_str()) {
                EdeCode::Blocked
            } else {
                EdeCode::Filtered
            };
            (
                code,
                format!("familydns: category {} (list {})", list.category, list.name),
            )
        }
        None => (
            EdeCode::Filtered,
            format!("familydns: deny list of profile {}", profile.name),
        ),
    }
}
