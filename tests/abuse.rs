//! Abuse and failure: no open resolver, ANY is not an amplifier, rate limits, serve-stale
//! when the upstreams die, failover to a second upstream.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

const FAMILY: &[(&str, &str)] = &[("family", "")];

#[test]
fn a_public_listen_address_needs_explicit_allow_clients() {
    let head = HEAD.replace("listen = [\"127.0.0.1:0\"]", "listen = [\"192.0.2.10:53\"]");
    let cfg = TestConfig::new(&head, "127.0.0.1:53".parse().unwrap(), FAMILY);
    let err = familydns::config::load(&cfg.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`192.0.2.10:53` is a public address: set server.allow_clients"),
        "{err}"
    );
    let explicit = head.replace(
        "[upstream]",
        "allow_clients = [\"192.0.2.0/24\"]\n[upstream]",
    );
    let cfg = TestConfig::new(&explicit, "127.0.0.1:53".parse().unwrap(), FAMILY);
    assert!(familydns::config::load(&cfg.path()).is_ok());
}

#[tokio::test]
async fn any_gets_a_minimal_answer() {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(HEAD, upstream.addr, FAMILY);
    let fdns = cfg.start().await;
    let m = udp(fdns.dns_addrs[0], "www.example.test.", RecordType::ANY).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 1);
    assert!(
        matches!(&m.answers[0].data, RData::HINFO(h) if h.cpu == b"RFC8482".to_vec().into_boxed_slice()),
        "{:?}",
        m.answers
    );
    assert_eq!(
        upstream.queries_for("www.example.test."),
        0,
        "ANY never reaches the upstream"
    );
}

async fn limited(action: &str) -> (Running, Upstream, TestConfig) {
    let upstream = start_upstream().await;
    let head = HEAD.replace(
        "[upstream]",
        &format!("[server.rate_limit]\nqps = 1\nburst = 5\nexempt = []\naction = \"{action}\"\n[upstream]"),
    );
    let cfg = TestConfig::new(&head, upstream.addr, FAMILY);
    let fdns = cfg.start().await;
    (fdns, upstream, cfg)
}

#[tokio::test]
async fn clients_over_their_rate_get_the_configured_answer() {
    for (action, expect) in [
        ("refused", Some(ResponseCode::Refused)),
        ("slip", Some(ResponseCode::NoError)),
        ("drop", None),
    ] {
        let (fdns, _up, _cfg) = limited(action).await;
        let s = fdns.dns_addrs[0];
        for _ in 0..5 {
            let m = udp_from(
                s,
                "127.0.0.6".parse().unwrap(),
                "www.example.test.",
                RecordType::A,
                Some(1232),
            )
            .await;
            assert_eq!(
                m.metadata.response_code,
                ResponseCode::NoError,
                "within the burst"
            );
        }
        let sock = tokio::net::UdpSocket::bind("127.0.0.6:0").await.unwrap();
        let mut q = hickory_proto::op::Message::query();
        q.add_query(hickory_proto::op::Query::query(
            "www.example.test.".parse().unwrap(),
            RecordType::A,
        ));
        sock.send_to(&q.to_vec().unwrap(), s).await.unwrap();
        let mut buf = [0u8; 1500];
        let got = tokio::time::timeout(Duration::from_millis(500), sock.recv_from(&mut buf)).await;
        match expect {
            Some(rcode) => {
                let (len, _) = got.expect("an answer").unwrap();
                let m = hickory_proto::op::Message::from_vec(&buf[..len]).unwrap();
                assert_eq!(m.metadata.response_code, rcode, "{action}");
                assert!(m.answers.is_empty());
                assert_eq!(m.metadata.truncation, action == "slip", "{action}");
            }
            None => assert!(got.is_err(), "dropped: no answer"),
        }
        // Another client is not affected.
        let m = udp_from(
            s,
            "127.0.0.7".parse().unwrap(),
            "www.example.test.",
            RecordType::A,
            Some(1232),
        )
        .await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        let metrics = http_get(fdns.metrics_addr.unwrap(), "/metrics").await;
        assert!(
            metrics.contains("familydns_rate_limited_total 1"),
            "{metrics}"
        );
    }
}

#[tokio::test]
async fn a_dead_upstream_is_covered_by_a_stale_answer() {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(HEAD, upstream.addr, FAMILY);
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];
    let fresh = udp(s, "short.example.test.", RecordType::A).await;
    assert_eq!(fresh.answers[0].ttl, 2);
    upstream.silent.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let m = udp(s, "short.example.test.", RecordType::A).await;
    assert_eq!(
        m.metadata.response_code,
        ResponseCode::NoError,
        "stale, not SERVFAIL"
    );
    assert_eq!(m.answers[0].data, fresh.answers[0].data);
    assert_eq!(m.answers[0].ttl, familydns::upstream::STALE_TTL);
    assert_eq!(ede(&m).map(|e| e.0), Some(3), "EDE 3: stale answer");
    // A name never seen before has nothing stale to offer.
    let m = udp(s, "www.example.test.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
}

#[tokio::test]
async fn failover_reaches_the_second_upstream() {
    let upstream = start_upstream().await;
    // A first upstream that never answers: a bound socket nobody reads.
    let (dead, dead_tcp) = udp_and_tcp().await;
    let head = HEAD.replace(
        "servers = [\"udp://{UPSTREAM}\"]",
        &format!(
            "servers = [\"udp://{}\", \"udp://{{UPSTREAM}}\"]\nstrategy = \"failover\"",
            dead.local_addr().unwrap()
        ),
    );
    let cfg = TestConfig::new(&head, upstream.addr, FAMILY);
    let fdns = cfg.start().await;
    let m = udp(fdns.dns_addrs[0], "www.example.test.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!m.answers.is_empty());
    assert_eq!(upstream.queries_for("www.example.test."), 1);
    let metrics = http_get(fdns.metrics_addr.unwrap(), "/metrics").await;
    let dead_url = format!("udp://{}", dead.local_addr().unwrap());
    assert!(
        metrics.contains(&format!(
            "familydns_upstream_failures{{upstream=\"{dead_url}\"}} 1"
        )),
        "{metrics}"
    );
    // The dead upstream is demoted: the next query goes straight to the live one.
    let m = udp(fdns.dns_addrs[0], "txt.example.test.", RecordType::TXT).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let metrics = http_get(fdns.metrics_addr.unwrap(), "/metrics").await;
    assert!(
        metrics.contains(&format!(
            "familydns_upstream_failures{{upstream=\"{dead_url}\"}} 1"
        )),
        "not tried again: {metrics}"
    );
    drop((dead, dead_tcp));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_concurrent_misses_make_one_upstream_request() {
    let upstream = start_upstream().await;
    upstream.delay_ms.store(300, Ordering::SeqCst);
    let cfg = TestConfig::new(
        HEAD.replace("timeout_ms = 500", "timeout_ms = 2000")
            .as_str(),
        upstream.addr,
        FAMILY,
    );
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];
    let queries: Vec<_> = (0..20)
        .map(|_| tokio::spawn(async move { udp(s, "www.example.test.", RecordType::A).await }))
        .collect();
    for q in queries {
        let m = q.await.unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(!m.answers.is_empty());
    }
    assert_eq!(
        upstream.queries_for("www.example.test."),
        1,
        "20 identical questions, one upstream request"
    );
}

#[test]
fn hostile_lists_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    // A 10 MB single line, binary junk, and a list over the size cap.
    let long = dir.path().join("long.txt");
    std::fs::write(&long, "a".repeat(10 << 20)).unwrap();
    let text = familydns::lists::read_list(&long).unwrap();
    let stats =
        familydns::lists::parse_str(&text, familydns::lists::Format::Auto, |_| panic!("no rule"));
    assert_eq!(stats.skipped_total(), 1);
    let junk: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let bin = dir.path().join("junk.bin");
    std::fs::write(&bin, &junk).unwrap();
    let text = familydns::lists::read_list(&bin).unwrap();
    let stats = familydns::lists::parse_str(&text, familydns::lists::Format::Auto, |_| {});
    assert!(stats.lines > 0);
    let huge = dir.path().join("huge.txt");
    let f = std::fs::File::create(&huge).unwrap();
    f.set_len(familydns::lists::MAX_LIST_BYTES + 1).unwrap();
    let err = familydns::lists::read_list(&huge).unwrap_err().to_string();
    assert!(err.contains("larger than"), "{err}");
}

#[tokio::test]
async fn tcp_pipelines_and_limits_connections_per_client() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(HEAD, upstream.addr, FAMILY);
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];
    let frame = |name: &str, id: u16| {
        let mut m = hickory_proto::op::Message::query();
        m.metadata.id = id;
        m.add_query(hickory_proto::op::Query::query(
            name.parse().unwrap(),
            RecordType::A,
        ));
        let bytes = m.to_vec().unwrap();
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend(bytes);
        framed
    };
    // Three queries written back to back on one connection: three answers.
    let mut conn = tokio::net::TcpStream::connect(s).await.unwrap();
    for (i, name) in ["www.example.test.", "txt.example.test.", "example.test."]
        .iter()
        .enumerate()
    {
        conn.write_all(&frame(name, 100 + i as u16)).await.unwrap();
    }
    let mut ids = Vec::new();
    for _ in 0..3 {
        let len = tokio::time::timeout(CLIENT_TIMEOUT, conn.read_u16())
            .await
            .unwrap()
            .unwrap();
        let mut buf = vec![0u8; usize::from(len)];
        conn.read_exact(&mut buf).await.unwrap();
        ids.push(
            hickory_proto::op::Message::from_vec(&buf)
                .unwrap()
                .metadata
                .id,
        );
    }
    ids.sort();
    assert_eq!(ids, [100, 101, 102]);

    // One client may hold 32 connections; the 33rd is closed at once.
    let local = |port| std::net::SocketAddr::from(([127, 0, 0, 8], port));
    let mut held = Vec::new();
    for _ in 0..32 {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(local(0)).unwrap();
        held.push(sock.connect(s).await.unwrap());
    }
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(local(0)).unwrap();
    let mut extra = sock.connect(s).await.unwrap();
    let _ = extra.write_all(&frame("www.example.test.", 7)).await;
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(CLIENT_TIMEOUT, extra.read(&mut byte))
        .await
        .unwrap();
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "closed without an answer: {read:?}"
    );
    // Another client is not affected, and an oversized message closes only its connection.
    let m = tcp(s, "www.example.test.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let mut big = tokio::net::TcpStream::connect(s).await.unwrap();
    big.write_all(&[0x20, 0x00]).await.unwrap(); // announces 8 KiB
    let read = tokio::time::timeout(CLIENT_TIMEOUT, big.read(&mut byte))
        .await
        .unwrap();
    assert!(matches!(read, Ok(0) | Err(_)));
    drop(held);
}

#[tokio::test]
async fn a_demoted_upstream_is_probed_and_used_again_when_it_returns() {
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
    assert_eq!(
        udp(s, "www.example.test.", RecordType::A)
            .await
            .metadata
            .response_code,
        ResponseCode::NoError
    );
    assert_eq!(
        second.queries_for("www.example.test."),
        1,
        "answered by the second"
    );
    // The first comes back; the background probe notices and it is first again.
    first.silent.store(false, Ordering::SeqCst);
    assert!(
        eventually(Duration::from_secs(10), async || {
            udp(
                s,
                &format!("p{}.example.test.", rand_suffix()),
                RecordType::A,
            )
            .await;
            first
                .seen
                .lock()
                .unwrap()
                .iter()
                .any(|q| q.name.starts_with('p'))
        })
        .await,
        "the first upstream answers again"
    );
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::AtomicU64;
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
