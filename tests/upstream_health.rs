//! An upstream's rcode about one question is an answer, not a failure (audit B13): SERVFAIL
//! for one name, REFUSED for a zone it does not serve, or a meta type such as AXFR must not
//! demote that upstream or count against it.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

const FAMILY: &[(&str, &str)] = &[("family", "")];

#[tokio::test]
async fn rcode_answers_and_meta_types_do_not_demote_an_upstream() {
    // The first upstream is silent, so it is demoted (rightly) at the first question; the
    // second answers every question, some with an rcode. If an rcode demoted the second
    // too, both would be demoted and the configured order would send the next question to
    // the silent first one again.
    let first = start_upstream().await;
    let second = start_upstream().await;
    first.silent.store(true, Ordering::SeqCst);
    let head = HEAD.replace(
        "servers = [\"udp://{UPSTREAM}\"]",
        &format!(
            "servers = [\"udp://{}\", \"udp://{{UPSTREAM}}\"]\nstrategy = \"failover\"",
            first.addr
        ),
    );
    let cfg = TestConfig::new(&head, second.addr, FAMILY);
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];

    // SERVFAIL for one name, REFUSED for a zone the upstream does not serve.
    let m = udp(s, "servfail.example.test.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(second.queries_for("servfail.example.test.") >= 1);
    let m = udp(s, "www.elsewhere.test.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(second.queries_for("www.elsewhere.test.") >= 1);
    // Zone transfers are answered here and never reach an upstream.
    for qtype in [RecordType::AXFR, RecordType::IXFR] {
        let m = tcp(s, "example.test.", qtype).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NotImp, "{qtype}");
    }
    let forwarded_meta = |u: &Upstream| {
        u.seen
            .lock()
            .unwrap()
            .iter()
            .any(|q| matches!(q.rtype, RecordType::AXFR | RecordType::IXFR))
    };
    assert!(!forwarded_meta(&first) && !forwarded_meta(&second));

    // The second upstream is not demoted: the next question goes to it alone.
    let m = udp(s, "www.example.test.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(second.queries_for("www.example.test."), 1);
    assert_eq!(
        first.queries_for("www.example.test."),
        0,
        "second not demoted"
    );
    let metrics = http_get(fdns.metrics_addr.unwrap(), "/metrics").await;
    let line = format!(
        "familydns_upstream_failures{{upstream=\"udp://{}\"}} 0",
        second.addr
    );
    assert!(metrics.contains(&line), "{line} in {metrics}");
}
