//! The pure stages of a query: [`plan`] turns the policy's verdict on a question into what
//! the question needs (a reply now, or one upstream question), and [`finish`] turns the
//! upstream's reply into the client's. Whether a name is blocked, with which EDE and under
//! which metric label, is the policy's ([`crate::policy::Verdict`]); here it only becomes
//! records. Neither stage does I/O or reads a clock, so both are testable without sockets
//! (Blocky's resolvers), and the fuzzer runs the real decode → decide → encode path.

use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, HINFO};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::answer::{self, Reply};
use super::identity;
use crate::budget::{Budget, Usage};
use crate::clients::ClientId;
use crate::complaints::Accepted;
use crate::directory::Subscribers;
use crate::name::QueryName;
use crate::overrides::ProfileOverrides;
use crate::policy::{Block, Label, Policy, Profile, SafeTarget, Verdict};
use crate::snapshot::{Client, Snapshot};
use crate::upstream::Dnssec;

/// What a listener parsed from a request.
pub struct Question<'a> {
    pub src: IpAddr,
    pub op_code: OpCode,
    /// The request's one query, or `None` when it had none or several (FORMERR).
    pub query: Option<(&'a Name, RecordType, DNSClass)>,
    pub edns: Option<&'a Edns>,
    /// The request's DO and CD, forwarded as the client set them.
    pub dnssec: Dnssec,
    /// The client id its encrypted connection named (DoH path, DoT server name).
    pub id: Option<ClientId>,
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
            dnssec: Dnssec {
                ok: request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok),
                checking_disabled: request.metadata.checking_disabled,
            },
            id: None,
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
    /// The client's policy, for the answer's CNAME chain.
    pub policy: Policy<'s>,
    /// The name to ask (lowercase: the upstream and the cache see one spelling).
    pub name: Name,
    pub qtype: RecordType,
    pub dnssec: Dnssec,
    /// The client's own name, for the records we add.
    qname: Name,
    /// Allow, or a safe-search rewrite whose CNAME from `qname` to `name` goes in front of
    /// the answer.
    verdict: Verdict<'s>,
}

/// A plan, with who it was made for.
pub struct Planned<'s> {
    /// The client's profile; `None` for a question refused before one is looked up.
    pub profile: Option<&'s Profile>,
    /// The `[[client]]` name of the client, if it has one.
    pub device: Option<&'s str>,
    /// The category whose rule or classifier blocked the name (for the query log).
    pub category: Option<&'s str>,
    /// The daily budget an answered name spends, when this minute is not counted yet.
    pub budget: Option<&'s Budget>,
    pub plan: Plan<'s>,
}

/// The first, cheapest and most final check: a source outside `allow_clients` is refused
/// before anything is spent on it (a rate-limit bucket, a decision). For an allowed source,
/// the client it speaks for (the MAC or subnet a trusted forwarder names), and whether it
/// sent identity options it may not. The id of an encrypted connection is the device's own
/// word for itself: it came over TLS, to a name or path only that device was set up with.
pub fn admit(snapshot: &Snapshot, q: &Question<'_>) -> Result<(Client, bool), (Label, Reply)> {
    if !snapshot.is_allowed(q.src) {
        return Err((Label::Refused, Reply::error(ResponseCode::Refused)));
    }
    let (mut client, ignored) = identity::identify(snapshot, q.src, q.edns);
    client.id = q.id;
    Ok((client, ignored))
}

/// What a decision reads besides the snapshot: the profile's timed exceptions and pause,
/// its budgets' usage today, and the names accepted from complaints.
pub struct Live<'s> {
    pub timed: Option<&'s ProfileOverrides>,
    pub usage: &'s [Usage],
    pub accepted: Option<&'s Accepted>,
}

impl Live<'_> {
    /// Nothing set by a parent, nothing counted (the offline answers).
    pub const NONE: Live<'static> = Live {
        timed: None,
        usage: &[],
        accepted: None,
    };
}

/// Decides what `q` from an admitted `client` needs at `now`, with what `live` says of the
/// client's profile; `directory` gives the profiles of subscribers no `[[client]]` names.
pub fn plan<'s>(
    snapshot: &'s Snapshot,
    directory: Option<&Subscribers>,
    q: &Question<'_>,
    client: &Client,
    now: jiff::Timestamp,
    live: impl Fn(&Profile) -> Live<'s>,
) -> Planned<'s> {
    let early = |label, rcode| Planned {
        profile: None,
        device: None,
        category: None,
        budget: None,
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
    let (profile, device) = snapshot.device(client, directory);
    let planned = |category, budget, plan| Planned {
        profile: Some(profile),
        device,
        category,
        budget,
        plan,
    };
    if qclass != DNSClass::IN {
        return planned(
            None,
            None,
            Plan::Reply(Label::Refused, Reply::error(ResponseCode::Refused)),
        );
    }
    let name = QueryName::from_wire(qname);
    if let Some((page, ip)) = &snapshot.page
        && name.as_str() == page
    {
        // Before the policy: a paused or bedtime device can still reach the page to ask.
        return planned(
            None,
            None,
            Plan::Reply(Label::Local, page_reply(qname, qtype, *ip)),
        );
    }
    let Live {
        timed,
        usage,
        accepted,
    } = live(profile);
    let policy = snapshot.policy(profile, timed, usage, accepted);
    let verdict = policy.verdict(&policy.decide(&name, now));
    let forward = |name: Name| {
        Plan::Forward(Forward {
            policy,
            name,
            qtype,
            dnssec: q.dnssec,
            qname: qname.clone(),
            verdict,
        })
    };
    let reply = |reply| Plan::Reply(verdict.label(), reply);
    let (category, budget) = match verdict {
        Verdict::Block(block) => (block.text.category(), None),
        // Only profiles with budgets look further.
        _ if profile.budgets.is_empty() => (None, None),
        _ => (None, policy.budget_to_count(&name, now)),
    };
    planned(
        category,
        budget,
        match verdict {
            Verdict::Block(block) => reply(block_reply(&block, qname, qtype, None)),
            Verdict::Rewrite(SafeTarget::Host(host)) if !rewrite_is_local(qtype) => {
                forward(host.clone())
            }
            Verdict::Rewrite(target) => reply(safe_search_reply(qname, qtype, target)),
            Verdict::Allow if qtype == RecordType::ANY => reply(minimal_any(qname)),
            // Zone transfers and other meta types are not ours to forward (B13).
            Verdict::Allow if is_meta(qtype) => {
                Plan::Reply(Label::NotImp, Reply::error(ResponseCode::NotImp))
            }
            Verdict::Allow => forward(qname.to_lowercase()),
        },
    )
}

/// The client's reply to a forwarded question, given the upstream's reply: the safe-search
/// CNAME in front of a rewrite, or the answer checked for CNAME cloaking (an allowed name
/// whose chain reaches a blocked one is blocked).
pub fn finish(forward: &Forward<'_>, now: jiff::Timestamp, mut reply: Reply) -> (Label, Reply) {
    if let Verdict::Rewrite(_) = forward.verdict {
        let cname = Record::from_rdata(
            forward.qname.clone(),
            answer::REWRITE_TTL,
            RData::CNAME(CNAME(forward.name.clone())),
        );
        reply.answers.insert(0, cname);
        reply.rcode = ResponseCode::NoError;
        // Our unsigned CNAME heads the answer: the upstream's validation does not cover it.
        reply.authentic = false;
        return (forward.verdict.label(), reply);
    }
    if reply.rcode == ResponseCode::ServFail {
        return (Label::ServFail, reply);
    }
    let targets = reply
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::CNAME(target) => Some((&target.0, QueryName::from_wire(&target.0))),
            _ => None,
        });
    match forward.policy.check_chain(targets, now) {
        Some((target, _, decision)) => {
            let block = forward.policy.block(decision.reason);
            let blocked = block_reply(&block, &forward.qname, forward.qtype, Some(target));
            (Verdict::Block(block).label(), blocked)
        }
        None => (forward.verdict.label(), reply),
    }
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
        answers,
        ..Reply::error(ResponseCode::NoError)
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

/// The answer for the child's page name: its address for the matching type, else NODATA.
fn page_reply(qname: &Name, qtype: RecordType, ip: IpAddr) -> Reply {
    let data = match (qtype, ip) {
        (RecordType::A, IpAddr::V4(v4)) => RData::A(A(v4)),
        (RecordType::AAAA, IpAddr::V6(v6)) => RData::AAAA(AAAA(v6)),
        _ => return Reply::nodata(qname),
    };
    Reply {
        answers: vec![Record::from_rdata(qname.clone(), answer::REWRITE_TTL, data)],
        ..Reply::error(ResponseCode::NoError)
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
        answers: vec![Record::from_rdata(
            qname.clone(),
            answer::REWRITE_TTL,
            RData::HINFO(hinfo),
        )],
        ..Reply::error(ResponseCode::NoError)
    }
}

/// The reply to a block; `via` names the CNAME target when the block came from the upstream
/// answer's chain.
fn block_reply(block: &Block<'_>, qname: &Name, qtype: RecordType, via: Option<&Name>) -> Reply {
    let text = match via {
        Some(target) => format!("{} via CNAME {target}", block.text),
        None => block.text.to_string(),
    };
    Reply {
        ede: Some((block.ede, text)),
        ..Reply::block(qname, qtype, block.answer)
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
