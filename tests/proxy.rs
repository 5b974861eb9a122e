//! PROXY protocol v2: behind a load balancer every query comes from the balancer, and the
//! header it adds names the subscriber whose profile applies. Believed from
//! `server.trusted_proxies` only; from anyone else a header is refused and counted.
//!
//! The first tests write headers themselves (with the `ppp` crate); the last puts a real
//! dnsdist (Debian's `dnsdist`, which `.ci/run` installs) with `useProxyProtocol=true` in
//! front of two familydns instances.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::dnsdist::{find_dnsdist, start_dnsdist};
use common::raw::*;
use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use ppp::v2::{Builder, Command as ProxyCommand, Protocol, Version};
use tokio::io::AsyncWriteExt;
use tokio::net::UdpSocket;

/// `kids` (blocks adult: the "adult" list is a name of the test upstream) for the subscriber 10.1.2.3 and for 127.0.0.2; `family` for the
/// rest. Only 127.0.0.1 may send headers.
const MAIN: &str = r#"
default_profile = "family"
[server]
listen = ["127.0.0.1:0"]
trusted_proxies = ["127.0.0.1/32"]
[upstream]
servers = ["udp://{UPSTREAM}"]
timeout_ms = 500
[metrics]
listen = "127.0.0.1:0"
[[list]]
name = "adult"
category = "adult"
source = "{DIR}/adult.domains"
format = "domains"
[[client]]
name = "subscriber-10.1.2.3"
match = ["10.1.2.3", "127.0.0.2"]
profile = "kids"
"#;

const BLOCKED: &str = "short.example.test.";
const NXDOMAIN: ResponseCode = ResponseCode::NXDomain;
const NOERROR: ResponseCode = ResponseCode::NoError;

fn config(upstream: SocketAddr) -> TestConfig {
    let cfg = TestConfig::new(
        MAIN,
        upstream,
        &[("family", ""), ("kids", "block = [\"adult\"]\n")],
    );
    std::fs::write(cfg.dir.path().join("adult.domains"), "short.example.test\n").unwrap();
    cfg
}

fn header(client: &str, server: SocketAddr, protocol: Protocol) -> Vec<u8> {
    let client: SocketAddr = client.parse().unwrap();
    Builder::with_addresses(
        Version::Two | ProxyCommand::Proxy,
        protocol,
        (client, server),
    )
    .build()
    .unwrap()
}

/// The answer to `BLOCKED` sent from `from` with `prefix` before the query, if any comes.
async fn udp_with_prefix(server: SocketAddr, from: &str, prefix: &[u8]) -> UdpSocket {
    let sock = UdpSocket::bind(SocketAddr::new(from.parse().unwrap(), 0))
        .await
        .unwrap();
    let mut packet = prefix.to_vec();
    packet.extend(query(BLOCKED, RecordType::A, 77));
    sock.send_to(&packet, server).await.unwrap();
    sock
}

async fn answer(sock: &UdpSocket) -> Message {
    let mut buf = vec![0u8; 4096];
    let (len, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    Message::from_vec(&buf[..len]).unwrap()
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_over_udp() {
    let upstream = start_upstream().await;
    let cfg = config(upstream.addr);
    let fdns = cfg.start().await;
    let ours = fdns.dns_addrs[0];

    // 127.0.0.1 itself is a `family` client: not blocked.
    let plain = udp_with_prefix(ours, "127.0.0.1", &[]).await;
    assert_eq!(
        answer(&plain).await.metadata.response_code,
        ResponseCode::NoError
    );
    // Through the proxy, for the kids' subscriber: blocked.
    let proxied = udp_with_prefix(
        ours,
        "127.0.0.1",
        &header("10.1.2.3:5300", ours, Protocol::Datagram),
    )
    .await;
    let m = answer(&proxied).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{m:?}");
    assert_eq!(m.metadata.id, 77);
    // A subscriber outside allow_clients (private ranges by default) is refused.
    let public = udp_with_prefix(
        ours,
        "127.0.0.1",
        &header("203.0.113.5:5300", ours, Protocol::Datagram),
    )
    .await;
    assert_eq!(
        answer(&public).await.metadata.response_code,
        ResponseCode::Refused
    );

    // 127.0.0.2 is not a trusted proxy: its header is dropped and counted, and it cannot
    // make itself someone else (it would be `kids` itself, so name a `family` client).
    assert_eq!(metric(&fdns, "familydns_proxy_refused_total").await, 0);
    let spoofed = udp_with_prefix(
        ours,
        "127.0.0.2",
        &header("10.9.9.9:5300", ours, Protocol::Datagram),
    )
    .await;
    let counted = eventually(Duration::from_secs(5), async || {
        metric(&fdns, "familydns_proxy_refused_total").await == 1
    })
    .await;
    assert!(counted, "the untrusted header is counted");
    let mut buf = [0u8; 512];
    assert!(
        spoofed.try_recv_from(&mut buf).is_err(),
        "and gets no answer"
    );
    // A header cut short in a datagram is refused too.
    let cut = header("10.1.2.3:5300", ours, Protocol::Datagram);
    let short = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    short.send_to(&cut[..20], ours).await.unwrap();
    let counted = eventually(Duration::from_secs(5), async || {
        metric(&fdns, "familydns_proxy_refused_total").await == 2
    })
    .await;
    assert!(counted, "the malformed header is counted");
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_over_tcp() {
    let upstream = start_upstream().await;
    let cfg = config(upstream.addr);
    let fdns = cfg.start().await;
    let ours = fdns.dns_addrs[0];

    let mut conn = connect_from("127.0.0.1".parse().unwrap(), ours).await;
    // The header and the first query in two writes, the second query after an answer.
    conn.write_all(&header("10.1.2.3:5300", ours, Protocol::Stream))
        .await
        .unwrap();
    conn.write_all(&frame(BLOCKED, RecordType::A, 1))
        .await
        .unwrap();
    assert_eq!(
        read_answer(&mut conn).await.metadata.response_code,
        ResponseCode::NXDomain
    );
    conn.write_all(&frame("SHORT.example.test.", RecordType::AAAA, 2))
        .await
        .unwrap();
    let m = read_answer(&mut conn).await;
    assert_eq!(
        (m.metadata.id, m.metadata.response_code),
        (2, ResponseCode::NXDomain)
    );

    // Without a header, the proxy is its own (family) client.
    let mut conn = connect_from("127.0.0.1".parse().unwrap(), ours).await;
    conn.write_all(&frame(BLOCKED, RecordType::A, 3))
        .await
        .unwrap();
    assert_eq!(
        read_answer(&mut conn).await.metadata.response_code,
        ResponseCode::NoError
    );

    // From an untrusted address the connection is closed at the header's first bytes.
    let mut conn = connect_from("127.0.0.2".parse().unwrap(), ours).await;
    conn.write_all(&header("10.9.9.9:5300", ours, Protocol::Stream)[..6])
        .await
        .unwrap();
    assert!(closed_by_server(&mut conn, Duration::from_secs(5)).await);
    assert_eq!(metric(&fdns, "familydns_proxy_refused_total").await, 1);
}

/// One UDP query for `name` through `front` from `from`: its rcode, or `None` when no
/// answer comes within a second (dnsdist sent it to a backend that is gone).
async fn once(front: SocketAddr, from: &str, name: &str) -> Option<ResponseCode> {
    let from: IpAddr = from.parse().unwrap();
    let sock = UdpSocket::bind(SocketAddr::new(from, 0)).await.unwrap();
    sock.send_to(&query(name, RecordType::A, 9), front)
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let (len, _) = tokio::time::timeout(Duration::from_secs(1), sock.recv_from(&mut buf))
        .await
        .ok()?
        .unwrap();
    Some(
        Message::from_vec(&buf[..len])
            .unwrap()
            .metadata
            .response_code,
    )
}

/// Both subscribers' answers through `front`: `kids` blocked, `family` not.
async fn both_subscribers(front: SocketAddr) -> (Option<ResponseCode>, Option<ResponseCode>) {
    (
        once(front, "127.0.0.2", BLOCKED).await,
        once(front, "127.0.0.3", BLOCKED).await,
    )
}

#[tokio::test]
async fn dnsdist_in_front_of_two_instances() {
    let Some(dnsdist) = find_dnsdist() else {
        return;
    };
    let upstream = start_upstream().await;
    let cfg = config(upstream.addr);
    let a = cfg.start().await;
    let b = cfg.start().await;
    let (pa, pb) = (a.dns_addrs[0], b.dns_addrs[0]);

    let dnsdist = start_dnsdist(&dnsdist, cfg.dir.path(), &[pa, pb]).await;
    let front = dnsdist.front;

    // Round robin: both instances answer, and each applies the subscriber's profile (three
    // queries a round, so that each subscriber's queries reach both).
    let allowed = "www.example.test.";
    for _ in 0..10 {
        assert_eq!(
            both_subscribers(front).await,
            (Some(NXDOMAIN), Some(NOERROR))
        );
        assert_eq!(once(front, "127.0.0.3", allowed).await, Some(NOERROR));
    }
    for instance in [&a, &b] {
        let text = http_get(instance.metrics_listening().unwrap(), "/metrics").await;
        assert!(
            text.contains(r#"familydns_queries_total{decision="blocked",profile="kids"}"#),
            "each instance blocked for the kids' subscriber: {text}"
        );
    }
    assert_eq!(metric(&a, "familydns_proxy_refused_total").await, 0);

    // One instance goes away: dnsdist's health check takes it out, and every query from
    // then on is answered by the other, still per subscriber.
    b.stop();
    // Queries dnsdist sends to the stopped instance before its health check (every second)
    // takes it out are lost: UDP gives dnsdist nothing to retry on, and the client's own
    // retry finds the live instance. Once it is out, nothing is lost, over UDP or TCP.
    let out = eventually(Duration::from_secs(10), async || {
        for _ in 0..4 {
            if both_subscribers(front).await != (Some(NXDOMAIN), Some(NOERROR)) {
                return false;
            }
        }
        true
    })
    .await;
    assert!(out, "dnsdist takes the stopped instance out");
    for _ in 0..20 {
        assert_eq!(
            both_subscribers(front).await,
            (Some(NXDOMAIN), Some(NOERROR))
        );
        let m = tcp(front, BLOCKED, RecordType::A).await;
        assert_eq!(
            m.metadata.response_code, NOERROR,
            "127.0.0.1 is a family client"
        );
    }
}
