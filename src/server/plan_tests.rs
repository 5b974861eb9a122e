//! The pure stages without sockets or upstreams: a question in, a [`Plan`] out; a forwarded
//! question and an upstream reply in, the client's reply out.

use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::op::{Edns, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::*;
use crate::policy::EdeCode;

/// A Monday noon, outside any window (the test profile has none).
const NOW: &str = "2026-11-23T12:00:00Z";
const SRC: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A snapshot whose default profile blocks the `adult` list (`tracker.example`) with
/// NXDOMAIN and has strict safe search.
fn snapshot() -> Snapshot {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    file(
        "familydns.toml",
        r#"
default_profile = "kids"
[server]
listen = ["127.0.0.1:0"]
[upstream]
servers = ["udp://127.0.0.1:53"]
[[list]]
name = "adult"
category = "adult"
source = "adult.txt"
format = "domains"
"#,
    );
    file("adult.txt", "tracker.example\n");
    std::fs::create_dir(dir.path().join("profiles")).unwrap();
    file(
        "profiles/kids.toml",
        "block = [\"adult\"]\nsafe_search = true\nblock_answer = \"nxdomain\"\n",
    );
    let config = crate::config::load(&dir.path().join("familydns.toml")).unwrap();
    Snapshot::build(&config, false).unwrap()
}

fn name(n: &str) -> Name {
    Name::from_ascii(n).unwrap()
}

/// Plans one question of `qtype` for `qname` from [`SRC`].
fn plan_for<'s>(snapshot: &'s Snapshot, qname: &Name, qtype: RecordType) -> Planned<'s> {
    let q = Question {
        src: SRC,
        op_code: OpCode::Query,
        query: Some((qname, qtype, DNSClass::IN)),
        edns: None,
        dnssec: Dnssec::default(),
        id: None,
    };
    plan(
        snapshot,
        None,
        &q,
        &Client::address(SRC),
        NOW.parse().unwrap(),
        |_| Live::NONE,
    )
}

/// The reply of a plan that needs no upstream.
fn replied(planned: Planned<'_>) -> (Label, Reply) {
    match planned.plan {
        Plan::Reply(label, reply) => (label, reply),
        Plan::Forward(f) => panic!("forwarded {}", f.name),
    }
}

fn forwarded(planned: Planned<'_>) -> Forward<'_> {
    match planned.plan {
        Plan::Forward(f) => f,
        Plan::Reply(label, _) => panic!("answered at once: {label:?}"),
    }
}

/// An upstream's NOERROR reply with `answers`, validated (AD) by the upstream.
fn upstream(answers: Vec<Record>) -> Reply {
    Reply {
        answers,
        authentic: true,
        ..Reply::error(ResponseCode::NoError)
    }
}

fn cname(from: &str, to: &str) -> Record {
    Record::from_rdata(name(from), 60, RData::CNAME(CNAME(name(to))))
}

#[test]
fn protocol_errors_are_answered_before_any_decision() {
    let snap = snapshot();
    let qname = name("www.example.org.");
    let mut edns = Edns::new();
    edns.set_version(1);
    let ask = |op_code, query, edns| {
        let q = Question {
            src: SRC,
            op_code,
            query,
            edns,
            dnssec: Dnssec::default(),
            id: None,
        };
        let planned = plan(
            &snap,
            None,
            &q,
            &Client::address(SRC),
            NOW.parse().unwrap(),
            |_| Live::NONE,
        );
        let profile = planned.profile.map_or("-", |p| p.name.as_str()).to_owned();
        let (label, reply) = replied(planned);
        (profile, label, reply.rcode)
    };
    let a = Some((&qname, RecordType::A, DNSClass::IN));
    assert_eq!(
        ask(OpCode::Query, a, Some(&edns)),
        ("-".into(), Label::BadVers, ResponseCode::BADVERS)
    );
    assert_eq!(
        ask(OpCode::Update, a, None),
        ("-".into(), Label::NotImp, ResponseCode::NotImp)
    );
    assert_eq!(
        ask(OpCode::Query, None, None),
        ("-".into(), Label::FormErr, ResponseCode::FormErr)
    );
    let chaos = Some((&qname, RecordType::TXT, DNSClass::CH));
    assert_eq!(
        ask(OpCode::Query, chaos, None),
        ("kids".into(), Label::Refused, ResponseCode::Refused)
    );
}

#[test]
fn a_blocked_name_is_answered_at_once_with_why() {
    let snap = snapshot();
    let (label, reply) = replied(plan_for(
        &snap,
        &name("WWW.Tracker.Example."),
        RecordType::A,
    ));
    assert_eq!(label, Label::Blocked);
    assert_eq!(reply.rcode, ResponseCode::NXDomain);
    assert!(reply.answers.is_empty());
    assert_eq!(reply.authorities[0].record_type(), RecordType::SOA);
    let (code, text) = reply.ede.unwrap();
    assert_eq!(code, EdeCode::Filtered);
    assert_eq!(text, "familydns: category adult (list adult)");
}

#[test]
fn allowed_names_are_forwarded_in_lowercase_and_meta_types_are_not() {
    let snap = snapshot();
    let qname = name("Www.Example.ORG.");
    let f = forwarded(plan_for(&snap, &qname, RecordType::A));
    assert_eq!(
        (f.name.to_ascii().as_str(), f.qtype),
        ("www.example.org.", RecordType::A)
    );
    let (label, any) = replied(plan_for(&snap, &qname, RecordType::ANY));
    assert_eq!(label, Label::Allowed);
    assert_eq!(any.answers[0].record_type(), RecordType::HINFO);
    let (label, axfr) = replied(plan_for(&snap, &qname, RecordType::AXFR));
    assert_eq!((label, axfr.rcode), (Label::NotImp, ResponseCode::NotImp));
}

#[test]
fn safe_search_is_rewritten_by_cname_or_address() {
    let snap = snapshot();
    let now = NOW.parse().unwrap();
    let google = name("www.google.com.");
    let f = forwarded(plan_for(&snap, &google, RecordType::A));
    assert_eq!(f.name.to_ascii(), "forcesafesearch.google.com.");
    let safe = Record::from_rdata(f.name.clone(), 60, RData::A(A::new(216, 239, 38, 120)));
    let (label, reply) = finish(&f, now, upstream(vec![safe]));
    assert_eq!(label, Label::Rewritten);
    assert!(
        matches!(&reply.answers[0].data, RData::CNAME(c) if c.0 == f.name),
        "{:?}",
        reply.answers
    );
    assert_eq!(reply.answers[0].name, google);
    assert_eq!(reply.answers.len(), 2);
    assert!(
        !reply.authentic,
        "our CNAME is not covered by the upstream's AD"
    );
    // HTTPS would let a browser skip the rewrite: NODATA, without the upstream.
    let (label, https) = replied(plan_for(&snap, &google, RecordType::HTTPS));
    assert_eq!((label, https.answers.len()), (Label::Rewritten, 0));
    let (label, yandex) = replied(plan_for(&snap, &name("www.yandex.ru."), RecordType::A));
    assert_eq!(label, Label::Rewritten);
    assert!(
        matches!(yandex.answers[0].data, RData::A(a) if a.0 == Ipv4Addr::new(213, 180, 193, 56))
    );
}

#[test]
fn finish_blocks_a_cname_chain_that_reaches_a_blocked_name() {
    let snap = snapshot();
    let now = NOW.parse().unwrap();
    let qname = name("cdn.example.org.");
    let f = forwarded(plan_for(&snap, &qname, RecordType::A));
    let cloaked = vec![
        cname("cdn.example.org.", "edge.example.net."),
        cname("edge.example.net.", "x.tracker.example."),
    ];
    let (label, reply) = finish(&f, now, upstream(cloaked));
    assert_eq!(
        (label, reply.rcode, reply.authentic),
        (Label::Blocked, ResponseCode::NXDomain, false)
    );
    let (code, text) = reply.ede.unwrap();
    assert_eq!(code, EdeCode::Filtered);
    assert_eq!(
        text,
        "familydns: category adult (list adult) via CNAME x.tracker.example."
    );
    let clean = vec![cname("cdn.example.org.", "edge.example.net.")];
    let (label, reply) = finish(&f, now, upstream(clean));
    assert_eq!((label, reply.answers.len()), (Label::Allowed, 1));
    assert!(reply.authentic, "an allowed answer keeps the upstream's AD");
    let (label, _) = finish(&f, now, Reply::error(ResponseCode::ServFail));
    assert_eq!(label, Label::ServFail);
}
