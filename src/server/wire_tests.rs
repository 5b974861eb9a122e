//! The hand-written encoder against hickory-proto's: for every shape of reply the pipeline
//! makes, the bytes decode (with hickory) to the message hickory itself would have encoded.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;
use crate::server::answer::soa;

/// As a client spells it: `from_ascii` keeps the case, as decoding a request does.
fn name(n: &str) -> Name {
    Name::from_ascii(n).unwrap()
}

fn request(qname: &str, qtype: RecordType, edns: Option<Edns>) -> Message {
    let mut m = Message::new(0xBEEF, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.checking_disabled = true;
    m.add_query(Query::query(name(qname), qtype));
    m.edns = edns;
    m
}

fn edns(dnssec_ok: bool, payload: u16) -> Edns {
    let mut e = Edns::new();
    e.set_dnssec_ok(dnssec_ok);
    e.set_max_payload(payload);
    e
}

/// The message hickory would encode for `reply` (what the server sent before this module).
fn reference(request: &Message, reply: &Reply, flags: &Flags) -> Message {
    let mut m = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = request.metadata.recursion_desired;
    m.metadata.checking_disabled = request.metadata.checking_disabled;
    m.metadata.authentic_data = flags.authentic;
    m.metadata.recursion_available = true;
    m.metadata.response_code = flags.rcode;
    m.metadata.truncation = flags.truncated;
    m.queries = request.queries.clone();
    m.answers = reply.answers.clone();
    m.authorities = reply.authorities.clone();
    if let Some(e) = &request.edns {
        let mut edns = Edns::new();
        edns.set_max_payload(e.max_payload().clamp(512, MAX_UDP_PAYLOAD));
        edns.set_dnssec_ok(e.flags().dnssec_ok);
        if let Some((code, text)) = &reply.ede {
            let mut data = (*code as u16).to_be_bytes().to_vec();
            data.extend_from_slice(ede_text(text).as_bytes());
            edns.options_mut()
                .insert(EdnsOption::Unknown(EDE_OPTION, data));
        }
        m.set_edns(edns);
    }
    Message::from_vec(&m.to_vec().unwrap()).unwrap()
}

/// Encodes with both and compares what a client decodes.
fn same_as_hickory(request: &Message, reply: Reply, flags: Flags) -> Vec<u8> {
    let ours = encode(request, &reply, Flags { ..flags }, usize::MAX).unwrap();
    let decoded = Message::from_vec(&ours).unwrap();
    let expected = reference(request, &reply, &flags);
    assert_eq!(decoded.metadata, expected.metadata);
    assert_eq!(decoded.queries, expected.queries);
    assert_eq!(decoded.answers, expected.answers);
    assert_eq!(decoded.authorities, expected.authorities);
    assert_eq!(decoded.edns, expected.edns);
    ours
}

fn flags(rcode: ResponseCode) -> Flags {
    Flags {
        rcode,
        truncated: false,
        authentic: false,
    }
}

fn reply(rcode: ResponseCode, answers: Vec<Record>, authorities: Vec<Record>) -> Reply {
    Reply {
        rcode,
        answers,
        authorities,
        ede: None,
        authentic: false,
    }
}

#[test]
fn blocks_nodata_and_errors_encode_as_hickory_does() {
    let q = name("Tracker.Example.");
    for edns in [None, Some(edns(false, 4096)), Some(edns(true, 1232))] {
        let req = request("Tracker.Example.", RecordType::A, edns);
        let mut nx = reply(ResponseCode::NXDomain, vec![], vec![soa(&q)]);
        nx.ede = Some((
            EdeCode::Filtered,
            "familydns: category adult (list x)".into(),
        ));
        let bytes = same_as_hickory(&req, nx, flags(ResponseCode::NXDomain));
        // The client's spelling of its question is kept (0x20), and the SOA owner points at it.
        assert_eq!(&bytes[13..20], b"Tracker");
        let null = Record::from_rdata(q.clone(), 60, RData::A(A(Ipv4Addr::UNSPECIFIED)));
        same_as_hickory(
            &req,
            reply(ResponseCode::NoError, vec![null], vec![]),
            flags(ResponseCode::NoError),
        );
        for rcode in [
            ResponseCode::Refused,
            ResponseCode::ServFail,
            ResponseCode::NotImp,
        ] {
            same_as_hickory(&req, reply(rcode, vec![], vec![]), flags(rcode));
        }
    }
}

#[test]
fn upstream_answers_of_every_kind_encode_as_hickory_does() {
    let q = name("www.example.com.");
    let target = name("edge.cdn.example.net.");
    let answers = vec![
        Record::from_rdata(q.clone(), 300, RData::CNAME(CNAME(target.clone()))),
        Record::from_rdata(target.clone(), 20, RData::A(A(Ipv4Addr::new(192, 0, 2, 1)))),
        Record::from_rdata(target.clone(), 20, RData::A(A(Ipv4Addr::new(192, 0, 2, 2)))),
        Record::from_rdata(target.clone(), 20, RData::AAAA(AAAA(Ipv6Addr::LOCALHOST))),
        Record::from_rdata(
            q.clone(),
            60,
            RData::MX(MX::new(10, name("mail.example.com."))),
        ),
        Record::from_rdata(
            q.clone(),
            60,
            RData::TXT(TXT::new(vec!["v=spf1 -all".into()])),
        ),
    ];
    let authority = Record::from_rdata(
        name("example.com."),
        3600,
        // The primary spelled as the owner: written as a pointer to it. A negative
        // refresh (the field is signed in hickory) keeps its bits.
        RData::SOA(SOA::new(
            name("example.com."),
            name("h.example.com."),
            7,
            -1,
            2,
            3,
            4,
        )),
    );
    let mut req = request("www.example.com.", RecordType::A, Some(edns(true, 1232)));
    req.metadata.authentic_data = true;
    let mut all = reply(ResponseCode::NoError, answers, vec![authority]);
    all.authentic = true;
    let bytes = same_as_hickory(
        &req,
        all,
        Flags {
            authentic: true,
            ..flags(ResponseCode::NoError)
        },
    );
    // The CNAME target is written once and pointed at by the records it owns.
    let target_wire = b"\x04edge\x03cdn\x07example\x03net\x00";
    let count = bytes
        .windows(target_wire.len())
        .filter(|w| w == target_wire)
        .count();
    assert_eq!(count, 1);
}

#[test]
fn questions_that_differ_only_in_case_are_each_echoed_as_asked() {
    let mut req = request("MAsK.", RecordType::TXT, None);
    req.add_query(Query::query(name("maSk."), RecordType::A));
    let bytes = same_as_hickory(
        &req,
        reply(ResponseCode::NoError, vec![], vec![]),
        flags(ResponseCode::NoError),
    );
    let decoded = Message::from_vec(&bytes).unwrap();
    let spelled: Vec<String> = decoded
        .queries
        .iter()
        .map(|q| q.name().to_ascii())
        .collect();
    assert_eq!(spelled, ["MAsK.", "maSk."]);
}

#[test]
fn badvers_carries_its_upper_bits_in_the_opt() {
    let mut e = edns(false, 1232);
    e.set_version(1);
    let req = request("example.com.", RecordType::A, Some(e));
    let rcode = ResponseCode::BADVERS;
    let bytes = same_as_hickory(&req, reply(rcode, vec![], vec![]), flags(rcode));
    let decoded = Message::from_vec(&bytes).unwrap();
    // 16 is BADVERS in an OPT and BADSIG in a TSIG; hickory decodes it by the latter name.
    assert_eq!(u16::from(decoded.metadata.response_code), 16);
    assert_eq!(decoded.edns.unwrap().version(), 0);
}

#[test]
fn an_answer_over_the_limit_goes_out_empty_and_truncated() {
    let q = name("big.example.");
    let answers: Vec<Record> = (0..60)
        .map(|i| Record::from_rdata(q.clone(), 60, RData::A(A(Ipv4Addr::new(10, 0, 0, i)))))
        .collect();
    for edns in [None, Some(edns(false, 1232))] {
        let req = request("big.example.", RecordType::A, edns.clone());
        let all = reply(ResponseCode::NoError, answers.clone(), vec![]);
        let bytes = encode(&req, &all, flags(ResponseCode::NoError), 512).unwrap();
        assert!(bytes.len() <= 512);
        let decoded = Message::from_vec(&bytes).unwrap();
        assert!(decoded.metadata.truncation);
        assert!(decoded.answers.is_empty());
        assert_eq!(decoded.queries, req.queries);
        assert_eq!(decoded.edns.is_some(), edns.is_some());
    }
}

#[test]
fn a_long_ede_is_cut_on_a_character_boundary() {
    let text = "é".repeat(150); // 300 bytes
    assert_eq!(ede_text(&text).len(), 200);
    let req = request("example.com.", RecordType::A, Some(edns(false, 1232)));
    let mut r = reply(ResponseCode::NXDomain, vec![], vec![]);
    r.ede = Some((EdeCode::Blocked, text));
    same_as_hickory(&req, r, flags(ResponseCode::NXDomain));
}
