//! The rate limiter through the real server: a hard bound on its table under a flood from
//! many source prefixes, `allow_clients` checked first, and devices behind a trusted
//! forwarder limited one by one. Sources are distinct 127.x.y.z addresses (all of
//! 127.0.0.0/8 is loopback on Linux).

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

const FAMILY: &[(&str, &str)] = &[("family", "")];
const NAME: &str = "www.example.test.";

/// A server whose `[server]` gets `server_keys` and whose `[server.rate_limit]` is `limit`.
async fn start(server_keys: &str, limit: &str) -> (Running, Upstream, TestConfig) {
    let upstream = start_upstream().await;
    let head = HEAD.replace(
        "[upstream]",
        &format!("{server_keys}\n[server.rate_limit]\nexempt = []\n{limit}\n[upstream]"),
    );
    let cfg = TestConfig::new(&head, upstream.addr, FAMILY);
    let fdns = cfg.start().await;
    (fdns, upstream, cfg)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The rcode of an A query from `from`.
async fn rcode_from(server: SocketAddr, from: &str) -> ResponseCode {
    udp_from(server, ip(from), NAME, RecordType::A, Some(1232))
        .await
        .metadata
        .response_code
}

/// The answer to a raw message from `from`, or `None` when none comes within 500 ms (the
/// only way to see a dropped query).
async fn maybe_answer(server: SocketAddr, from: &str, m: &Message) -> Option<Message> {
    let sock = tokio::net::UdpSocket::bind((ip(from), 0)).await.unwrap();
    sock.send_to(&m.to_vec().unwrap(), server).await.unwrap();
    let mut buf = [0u8; 1500];
    let got = tokio::time::timeout(Duration::from_millis(500), sock.recv_from(&mut buf)).await;
    got.ok()
        .map(|r| Message::from_vec(&buf[..r.unwrap().0]).unwrap())
}

async fn tracked_clients(fdns: &Running) -> u64 {
    let metrics = http_get(fdns.metrics_addr.unwrap(), "/metrics").await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("familydns_rate_limit_clients "))
        .unwrap_or_else(|| panic!("no gauge: {metrics}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_flood_from_many_prefixes_cannot_grow_the_table() {
    // 1 query/s, bursts of 20, /24 prefixes, room for 4 clients.
    let (fdns, _up, _cfg) = start(
        "",
        "qps = 1\nburst = 20\nipv4_prefix = 24\nmax_clients = 4\naction = \"refused\"",
    )
    .await;
    let s = fdns.dns_addrs[0];
    // Four clients take 15 of their 20 each: their cells run 15 s ahead, so no sweep can
    // forget them during this test.
    for i in 0..4 {
        for _ in 0..15 {
            assert_eq!(
                rcode_from(s, &format!("127.1.{i}.1")).await,
                ResponseCode::NoError
            );
        }
    }
    assert_eq!(tracked_clients(&fdns).await, 4);
    // 40 new prefixes, one query each: they share one overflow allowance (a burst of 20,
    // refilling at 1/s while they ask), not 40 fresh bursts.
    let (mut allowed, started) = (0, std::time::Instant::now());
    for i in 0..40 {
        match rcode_from(s, &format!("127.2.{i}.1")).await {
            ResponseCode::Refused => {}
            rc => {
                assert_eq!(rc, ResponseCode::NoError);
                allowed += 1;
            }
        }
    }
    let refill = started.elapsed().as_secs() + 1;
    assert!(
        (20..=20 + refill).contains(&allowed),
        "{allowed} new prefixes answered, the overflow cell allows 20 + {refill}"
    );
    assert_eq!(tracked_clients(&fdns).await, 4, "the table never grows");
    // A client already tracked keeps its own allowance, and a second address in its /24
    // shares it.
    assert_eq!(rcode_from(s, "127.1.0.1").await, ResponseCode::NoError);
    assert_eq!(rcode_from(s, "127.1.0.2").await, ResponseCode::NoError);
}

#[tokio::test]
async fn allow_clients_is_checked_before_the_rate_limit_and_formerr() {
    let (fdns, _up, _cfg) = start(
        "allow_clients = [\"127.0.0.0/16\"]",
        "qps = 1\nburst = 1\naction = \"drop\"",
    )
    .await;
    let s = fdns.dns_addrs[0];
    // Off the list: REFUSED every time (a rate-limited query would be dropped), and no
    // cell is made for it.
    for _ in 0..3 {
        assert_eq!(rcode_from(s, "127.3.0.1").await, ResponseCode::Refused);
    }
    assert_eq!(tracked_clients(&fdns).await, 0);
    // A query without a question from off the list: REFUSED, not FORMERR.
    let empty = Message::query();
    let m = maybe_answer(s, "127.3.0.1", &empty)
        .await
        .expect("an answer");
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    // On the list: FORMERR within the limit, nothing past it.
    let m = maybe_answer(s, "127.0.3.1", &empty)
        .await
        .expect("an answer");
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    assert!(
        maybe_answer(s, "127.0.3.1", &empty).await.is_none(),
        "dropped"
    );
    assert_eq!(tracked_clients(&fdns).await, 1);
}

#[tokio::test]
async fn behind_a_trusted_forwarder_each_device_has_its_own_allowance() {
    let (fdns, _up, _cfg) = start(
        "trusted_forwarders = [\"127.0.4.1/32\"]",
        "qps = 1\nburst = 1\naction = \"refused\"",
    )
    .await;
    let s = fdns.dns_addrs[0];
    let mac = |last: u8| vec![EdnsOption::Unknown(65001, vec![0xaa, 0, 0, 0, 0, last])];
    let ask = async |from: &str, last: u8| {
        udp_with_options(s, from, NAME, RecordType::A, mac(last))
            .await
            .metadata
            .response_code
    };
    // One device behind the router spends its burst (of 1) and is limited...
    assert_eq!(ask("127.0.4.1", 1).await, ResponseCode::NoError);
    assert_eq!(ask("127.0.4.1", 1).await, ResponseCode::Refused);
    // ...while the next device, and the router's own queries, are not.
    assert_eq!(ask("127.0.4.1", 2).await, ResponseCode::NoError);
    assert_eq!(rcode_from(s, "127.0.4.1").await, ResponseCode::NoError);
    // An untrusted source cannot get more by claiming other MACs.
    assert_eq!(ask("127.0.4.2", 7).await, ResponseCode::NoError);
    assert_eq!(ask("127.0.4.2", 8).await, ResponseCode::Refused);
}
