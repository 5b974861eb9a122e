//! The resolver end to end: forwarding, faithful rcodes, cache and TTLs, truncation and TCP,
//! failures, access control, malformed input and metrics.

mod common;

use std::time::Duration;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

const PROFILES: &[(&str, &str)] = &[("family", "block = []\n")];

async fn setup() -> (Upstream, TestConfig, Running) {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(HEAD, upstream.addr, PROFILES);
    let running = cfg.start().await;
    (upstream, cfg, running)
}

#[tokio::test]
async fn forwards_every_record_type() {
    let (_up, _cfg, fdns) = setup().await;
    let s = fdns.dns_addrs[0];
    let cases = [
        ("www.example.test.", RecordType::A),
        ("www.example.test.", RecordType::AAAA),
        ("example.test.", RecordType::MX),
        ("txt.example.test.", RecordType::TXT),
        ("_sip._udp.example.test.", RecordType::SRV),
        ("ptr.example.test.", RecordType::PTR),
        ("example.test.", RecordType::NS),
        ("example.test.", RecordType::SOA),
    ];
    for (name, rtype) in cases {
        let m = udp(s, name, rtype).await;
        assert_eq!(
            m.metadata.response_code,
            ResponseCode::NoError,
            "{name} {rtype}"
        );
        assert!(m.metadata.recursion_available);
        assert!(
            m.answers.iter().any(|r| r.record_type() == rtype),
            "{name} {rtype}: {:?}",
            m.answers
        );
    }
    // A CNAME comes back with the chain and the target's address.
    let m = udp(s, "alias.example.test.", RecordType::A).await;
    assert!(
        matches!(m.answers[0].data, RData::CNAME(_)),
        "{:?}",
        m.answers
    );
    assert!(m.answers.iter().any(|r| matches!(r.data, RData::A(_))));
}

#[tokio::test]
async fn negative_answers_stay_faithful() {
    let (_up, _cfg, fdns) = setup().await;
    let s = fdns.dns_addrs[0];
    let m = udp(s, "nope.example.test.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.answers.is_empty());
    assert!(
        m.authorities
            .iter()
            .any(|r| r.record_type() == RecordType::SOA),
        "NXDOMAIN carries the upstream SOA: {:?}",
        m.authorities
    );
    // NODATA: the name exists, the type does not.
    let m = udp(s, "txt.example.test.", RecordType::MX).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert!(
        m.authorities
            .iter()
            .any(|r| r.record_type() == RecordType::SOA)
    );
}

#[tokio::test]
async fn cache_serves_repeats_and_counts_ttls_down() {
    let (up, _cfg, fdns) = setup().await;
    let s = fdns.dns_addrs[0];
    let first = udp(s, "short.example.test.", RecordType::A).await;
    assert_eq!(first.answers[0].ttl, 2);
    let again = udp(s, "www.example.test.", RecordType::A).await;
    let cached = udp(s, "www.example.test.", RecordType::A).await;
    assert_eq!(
        up.queries_for("www.example.test."),
        1,
        "the repeat came from the cache"
    );
    assert!(cached.answers[0].ttl <= again.answers[0].ttl && again.answers[0].ttl <= 300);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = udp(s, "short.example.test.", RecordType::A).await;
    assert!(
        later.answers[0].ttl < 2,
        "TTL counted down, never raised: {}",
        later.answers[0].ttl
    );
    assert_eq!(up.queries_for("short.example.test."), 1);
    // Once expired, the answer is fetched again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let fresh = udp(s, "short.example.test.", RecordType::A).await;
    assert_eq!(fresh.answers[0].ttl, 2);
    assert_eq!(up.queries_for("short.example.test."), 2);

    let metrics = http_get(fdns.metrics_addr.unwrap(), "/metrics").await;
    assert!(
        metrics.contains("familydns_cache_hits_total 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn large_answer_truncates_over_udp_then_tcp_gets_it_all() {
    let (_up, _cfg, fdns) = setup().await;
    let s = fdns.dns_addrs[0];
    let m = udp(s, "big.example.test.", RecordType::TXT).await;
    assert!(
        m.metadata.truncation,
        "TC set when the answer exceeds the client's buffer"
    );
    assert!(m.to_vec().unwrap().len() <= 1232);
    // Without EDNS the limit is 512 bytes.
    let m = udp_from(
        s,
        "127.0.0.1".parse().unwrap(),
        "big.example.test.",
        RecordType::TXT,
        None,
    )
    .await;
    assert!(m.metadata.truncation);
    assert!(m.edns.is_none(), "no OPT for a client that sent none");
    let m = tcp(s, "big.example.test.", RecordType::TXT).await;
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 40);
}

#[tokio::test]
async fn dead_upstream_gives_servfail_within_the_timeout() {
    let (up, _cfg, fdns) = setup().await;
    up.silent.store(true, std::sync::atomic::Ordering::SeqCst);
    let asked = std::time::Instant::now();
    let m = udp(fdns.dns_addrs[0], "www.example.test.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    // A bound, not a speed figure: one upstream with `timeout_ms = 500` (HEAD) must give up
    // well before a client's own 5 s timeout (at most two tries: 1 s); 3 s leaves room for
    // a loaded CI machine.
    let waited = asked.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(3),
        "SERVFAIL after {waited:?}"
    );
    let metrics = http_get(fdns.metrics_addr.unwrap(), "/metrics").await;
    assert!(
        metrics.contains("familydns_upstream_errors_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn clients_outside_allow_clients_are_refused() {
    let upstream = start_upstream().await;
    let head = HEAD.replace(
        "[upstream]",
        "allow_clients = [\"127.0.0.1/32\", \"127.0.0.2/32\"]\n[upstream]",
    );
    let cfg = TestConfig::new(&head, upstream.addr, PROFILES);
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];
    let m = udp_from(
        s,
        "127.0.0.9".parse().unwrap(),
        "www.example.test.",
        RecordType::A,
        Some(1232),
    )
    .await;
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert!(m.answers.is_empty());
    assert_eq!(upstream.queries_for("www.example.test."), 0);
    let m = udp_from(
        s,
        "127.0.0.2".parse().unwrap(),
        "www.example.test.",
        RecordType::A,
        Some(1232),
    )
    .await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
}

#[tokio::test]
async fn default_allow_clients_is_not_an_open_resolver() {
    let cfg = familydns::config::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/familydns.toml"),
    )
    .unwrap();
    let snap = familydns::snapshot::Snapshot::build(&cfg, false).unwrap();
    assert!(snap.is_allowed("192.168.1.10".parse().unwrap()));
    assert!(!snap.is_allowed("8.8.8.8".parse().unwrap()));
    assert!(!snap.is_allowed("2001:4860::1".parse().unwrap()));
}

#[tokio::test]
async fn malformed_datagrams_do_not_stop_the_server() {
    let (_up, _cfg, fdns) = setup().await;
    let s = fdns.dns_addrs[0];
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let valid = {
        let mut m = hickory_proto::op::Message::query();
        m.add_query(hickory_proto::op::Query::query(
            "www.example.test.".parse().unwrap(),
            RecordType::A,
        ));
        m.to_vec().unwrap()
    };
    // Deterministic junk: empty, short, truncated valid queries, random bytes, bad counts.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..300 {
        let packet: Vec<u8> = match i % 4 {
            0 => valid[..(i % valid.len())].to_vec(),
            1 => (0..(next() % 600)).map(|_| next() as u8).collect(),
            2 => {
                let mut p = valid.clone();
                p[5] = 40; // claims 40 questions
                p
            }
            _ => {
                let mut p = valid.clone();
                let at = (next() as usize) % p.len();
                p[at] ^= 0xff;
                p
            }
        };
        sock.send_to(&packet, s).await.unwrap();
    }
    // Drain whatever came back (FORMERR or nothing), bounded in time.
    let mut buf = [0u8; 2048];
    while tokio::time::timeout(Duration::from_millis(200), sock.recv_from(&mut buf))
        .await
        .is_ok()
    {}
    let m = udp(s, "www.example.test.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!m.answers.is_empty());
    let m = tcp(s, "www.example.test.", RecordType::A).await;
    assert!(!m.answers.is_empty());
}

#[tokio::test]
async fn metrics_and_health_are_served() {
    let (_up, _cfg, fdns) = setup().await;
    let s = fdns.dns_addrs[0];
    for _ in 0..3 {
        udp(s, "www.example.test.", RecordType::A).await;
    }
    let addr = fdns.metrics_addr.unwrap();
    let metrics = http_get(addr, "/metrics").await;
    assert!(metrics.contains("200 OK"));
    assert!(
        metrics.contains("familydns_queries_total{decision=\"allowed\",profile=\"family\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("familydns_query_duration_seconds_count 3"));
    assert!(metrics.contains("familydns_cache_misses_total 1"));
    let health = http_get(addr, "/health").await;
    assert!(
        health.contains("200 OK") && health.ends_with("ok\n"),
        "{health}"
    );
}
