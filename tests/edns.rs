//! EDNS as the RFCs say, checked the way ISC's ednscomp checks resolvers: with the real
//! `dig` against the real server (skipped, and said so, where dig is not installed), and with
//! hand-built messages for what dig cannot express.

mod common;

use std::net::SocketAddr;
use std::process::Command;

use common::*;
use hickory_proto::op::{Edns, Message, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

const FAMILY: &[(&str, &str)] = &[("family", "")];

/// dig's full output for `args` against `server`, or `None` when dig is not installed.
async fn dig(server: SocketAddr, args: &[&str]) -> Option<String> {
    let mut command = Command::new("dig");
    command
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string()])
        .args(["+tries=1", "+time=5"])
        .args(args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap();
    match output {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(out.status.success(), "dig {args:?} failed: {text}");
            Some(text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("SKIPPED: dig not installed");
            None
        }
        Err(e) => panic!("cannot run dig: {e}"),
    }
}

/// The reply's OPT pseudosection line (`; EDNS: version: 0, flags: do; udp: 1232`).
fn edns_line(out: &str) -> &str {
    out.lines()
        .find(|l| l.starts_with("; EDNS:"))
        .unwrap_or_else(|| panic!("no OPT in the reply: {out}"))
}

fn status(out: &str) -> &str {
    let line = out
        .lines()
        .find(|l| l.contains("->>HEADER<<-"))
        .unwrap_or_else(|| panic!("no header: {out}"));
    line.split("status: ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
}

async fn server() -> (Running, Upstream, TestConfig) {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(HEAD, upstream.addr, FAMILY);
    let fdns = cfg.start().await;
    (fdns, upstream, cfg)
}

#[tokio::test]
async fn dig_edns_version_1_gets_badvers_with_version_0_and_is_not_forwarded() {
    let (fdns, upstream, _cfg) = server().await;
    let s = fdns.dns_addrs[0];
    let Some(out) = dig(s, &["www.example.test.", "A", "+edns=1", "+noednsneg"]).await else {
        return;
    };
    assert_eq!(status(&out), "BADVERS", "{out}");
    assert!(edns_line(&out).contains("version: 0"), "{out}");
    assert_eq!(
        upstream.queries_for("www.example.test."),
        0,
        "not forwarded"
    );
    // Version 0 is served as usual.
    let out = dig(s, &["www.example.test.", "A", "+edns=0"])
        .await
        .unwrap();
    assert_eq!(status(&out), "NOERROR", "{out}");
    assert!(out.contains("192.0.2.1"), "{out}");
}

#[tokio::test]
async fn dig_unknown_options_and_flags_are_not_echoed() {
    let (fdns, _upstream, _cfg) = server().await;
    let s = fdns.dns_addrs[0];
    let Some(out) = dig(s, &["www.example.test.", "A", "+ednsopt=100"]).await else {
        return;
    };
    assert_eq!(status(&out), "NOERROR", "{out}");
    assert!(!out.contains("OPT=100"), "option 100 echoed: {out}");
    let out = dig(s, &["www.example.test.", "A", "+ednsflags=0x40"])
        .await
        .unwrap();
    assert_eq!(status(&out), "NOERROR", "{out}");
    let edns = edns_line(&out);
    assert!(!edns.contains("MBZ"), "unknown flag echoed: {edns}");
    assert!(!edns.contains("do"), "{edns}");
}

#[tokio::test]
async fn dig_dnssec_gets_do_echoed() {
    let (fdns, _upstream, _cfg) = server().await;
    let s = fdns.dns_addrs[0];
    let Some(out) = dig(s, &["www.example.test.", "A", "+dnssec"]).await else {
        return;
    };
    assert_eq!(status(&out), "NOERROR", "{out}");
    assert!(edns_line(&out).contains("flags: do"), "{out}");
    // A query without DO gets none back.
    let out = dig(s, &["www.example.test.", "A"]).await.unwrap();
    assert!(!edns_line(&out).contains("do"), "{out}");
}

/// A query for `www.example.test. A` with the given OPT.
fn query(edns: Edns) -> Message {
    let mut m = Message::query();
    m.metadata.id = 4242;
    m.metadata.op_code = OpCode::Query;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(
        Name::from_ascii("www.example.test.").unwrap(),
        RecordType::A,
    ));
    m.set_edns(edns);
    m
}

#[tokio::test]
async fn hickory_messages_get_the_same_edns_treatment() {
    let (fdns, upstream, _cfg) = server().await;
    let s = fdns.dns_addrs[0];
    let lo = "127.0.0.1".parse().unwrap();

    // Version 2, DO and every Z bit set, two unknown options: BADVERS, OPT version 0 with
    // DO echoed, no Z bit and no option.
    let mut edns = Edns::new();
    edns.set_max_payload(1232)
        .set_version(2)
        .set_dnssec_ok(true);
    edns.flags_mut().z = 0x7fff;
    edns.options_mut()
        .insert(EdnsOption::Unknown(100, vec![1, 2, 3]));
    edns.options_mut()
        .insert(EdnsOption::Unknown(65500, vec![]));
    let m = udp_message(s, lo, query(edns.clone())).await;
    assert_eq!(u16::from(m.metadata.response_code), 16, "BADVERS");
    let opt = m.edns.as_ref().expect("an OPT");
    assert_eq!(opt.version(), 0);
    assert!(opt.flags().dnssec_ok);
    assert_eq!(opt.flags().z, 0);
    assert!(opt.options().as_ref().is_empty(), "{opt:?}");
    assert!(m.answers.is_empty());
    assert_eq!(upstream.queries_for("www.example.test."), 0);

    // The same at version 0 is answered, with the same clean OPT.
    edns.set_version(0);
    let m = udp_message(s, lo, query(edns)).await;
    assert_eq!(
        m.metadata.response_code,
        hickory_proto::op::ResponseCode::NoError
    );
    assert!(!m.answers.is_empty());
    let opt = m.edns.as_ref().expect("an OPT");
    assert_eq!(
        (opt.version(), opt.flags().dnssec_ok, opt.flags().z),
        (0, true, 0)
    );
    assert!(opt.options().as_ref().is_empty(), "{opt:?}");
}

/// RFC 3225: a DO query is forwarded with DO; CD (RFC 4035 §3.2.2) is forwarded as set. The
/// answer cache keys on both, so a plain query for the same name is asked again, without
/// them. (tests/dnssec.rs shows the RRSIGs and the AD bit coming back from a signed zone.)
#[tokio::test]
async fn do_and_cd_are_forwarded_as_the_client_set_them() {
    let (fdns, upstream, _cfg) = server().await;
    let s = fdns.dns_addrs[0];
    let lo = "127.0.0.1".parse().unwrap();
    let mut edns = Edns::new();
    edns.set_max_payload(1232).set_dnssec_ok(true);
    let mut m = query(edns);
    m.metadata.checking_disabled = true;
    let reply = udp_message(s, lo, m).await;
    assert!(reply.metadata.checking_disabled, "CD echoed");
    assert!(reply.edns.as_ref().unwrap().flags().dnssec_ok, "DO echoed");
    udp_message(s, lo, query(Edns::new())).await;
    let seen = upstream.seen.lock().unwrap().clone();
    let bits: Vec<(bool, bool)> = seen
        .iter()
        .filter(|q| q.name == "www.example.test.")
        .map(|q| {
            let dnssec_ok = q.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
            (dnssec_ok, q.checking_disabled)
        })
        .collect();
    assert_eq!(bits, [(true, true), (false, false)], "{seen:?}");
}
