//! A reload applies every setting live: the upstreams, the rate limit, the listen addresses
//! and the metrics endpoint with its token. The listeners' bounds (`server.tcp`,
//! `server.udp`) wait for a restart, and the reload says so in `/health` and a metric.

mod common;

use std::net::SocketAddr;

use common::raw::*;
use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

/// Replaces `from` by `to` in the test's config file (which must contain `from`).
fn edit(cfg: &TestConfig, from: &str, to: &str) {
    let text = std::fs::read_to_string(cfg.path()).unwrap();
    assert!(text.contains(from), "config has {from:?}");
    std::fs::write(cfg.path(), text.replacen(from, to, 1)).unwrap();
}

async fn tcp_refused(addr: SocketAddr) -> bool {
    tokio::net::TcpStream::connect(addr).await.is_err()
}

#[tokio::test]
async fn a_new_upstream_is_asked_after_reload_with_an_empty_cache() {
    let old = start_upstream().await;
    let new = start_upstream().await;
    let cfg = TestConfig::new(HEAD, old.addr, &[("family", "")]);
    let fdns = cfg.start().await;
    let dns = fdns.dns_addrs[0];
    let www = udp(dns, "www.example.test.", RecordType::A).await;
    assert_eq!(www.metadata.response_code, ResponseCode::NoError);
    assert_eq!(old.queries_for("www.example.test."), 1);

    edit(&cfg, &old.addr.to_string(), &new.addr.to_string());
    fdns.reload().await.unwrap();

    let www = udp(dns, "www.example.test.", RecordType::A).await;
    assert_eq!(www.metadata.response_code, ResponseCode::NoError);
    assert!(!www.answers.is_empty());
    assert_eq!(
        new.queries_for("www.example.test."),
        1,
        "the cache of the old upstreams is not served on"
    );
    let txt = udp(dns, "txt.example.test.", RecordType::TXT).await;
    assert_eq!(txt.metadata.response_code, ResponseCode::NoError);
    assert_eq!(new.queries_for("txt.example.test."), 1);
    assert_eq!(old.queries_for("txt.example.test."), 0);
    assert_eq!(old.queries_for("www.example.test."), 1);
}

#[tokio::test]
async fn a_new_rate_limit_applies_after_reload() {
    let upstream = start_upstream().await;
    // Loopback is exempt by default: the test limits it explicitly.
    let head = format!("{HEAD}[server.rate_limit]\nqps = 1000\nburst = 1000\nexempt = []\n");
    let cfg = TestConfig::new(&head, upstream.addr, &[("family", "")]);
    let fdns = cfg.start().await;
    let dns = fdns.dns_addrs[0];
    let burst = async || {
        let mut refused = 0;
        for _ in 0..10 {
            let m = udp(dns, "www.example.test.", RecordType::A).await;
            refused += usize::from(m.metadata.response_code == ResponseCode::Refused);
        }
        refused
    };
    assert_eq!(burst().await, 0);

    edit(&cfg, "qps = 1000\nburst = 1000", "qps = 1\nburst = 2");
    fdns.reload().await.unwrap();
    // Two queries of allowance and one more per second: ten in a row cannot all pass.
    assert!(
        burst().await >= 5,
        "the reloaded limit of 1 query/s applies"
    );

    edit(&cfg, "qps = 1\nburst = 2", "qps = 1000\nburst = 1000");
    fdns.reload().await.unwrap();
    assert_eq!(burst().await, 0, "and is lifted by the next reload");
}

#[tokio::test]
async fn listen_addresses_are_added_and_removed_by_a_reload() {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(HEAD, upstream.addr, &[("family", "")]);
    let fdns = cfg.start().await;
    let first = fdns.dns_addrs[0];

    edit(
        &cfg,
        "listen = [\"127.0.0.1:0\"]",
        "listen = [\"127.0.0.1:0\", \"127.0.0.2:0\"]",
    );
    fdns.reload().await.unwrap();
    let now = fdns.listening();
    assert_eq!(now.len(), 2);
    assert_eq!(now[0], first, "an address kept is not rebound");
    let second = now[1];
    assert_eq!(second.ip().to_string(), "127.0.0.2");
    for server in [first, second] {
        let m = udp(server, "www.example.test.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        let m = tcp(server, "www.example.test.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    }

    edit(
        &cfg,
        "listen = [\"127.0.0.1:0\", \"127.0.0.2:0\"]",
        "listen = [\"127.0.0.2:0\"]",
    );
    fdns.reload().await.unwrap();
    assert_eq!(fdns.listening(), vec![second]);
    assert!(tcp_refused(first).await, "the removed address is closed");
    let m = tcp(second, "www.example.test.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
}

#[tokio::test]
async fn an_address_that_cannot_be_bound_is_reported_not_fatal() {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(HEAD, upstream.addr, &[("family", "")]);
    let fdns = cfg.start().await;
    // Held by someone else.
    let (taken, _taken_tcp) = udp_and_tcp().await;
    let taken = taken.local_addr().unwrap();

    edit(
        &cfg,
        "listen = [\"127.0.0.1:0\"]",
        &format!("listen = [\"127.0.0.1:0\", \"{taken}\"]"),
    );
    fdns.reload().await.unwrap();
    assert_eq!(fdns.listening(), fdns.dns_addrs);
    let health = http_get(fdns.metrics_listening().unwrap(), "/health").await;
    assert!(
        health.contains(&format!(
            "not applied: server.listen: cannot listen on {taken}"
        )),
        "{health}"
    );
    assert_eq!(metric(&fdns, "familydns_settings_unapplied").await, 1);
    let m = udp(fdns.dns_addrs[0], "www.example.test.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
}

#[tokio::test]
async fn a_rotated_admin_token_and_a_moved_endpoint_apply_after_reload() {
    const OLD: &str = "old-token-0123456789";
    const NEW: &str = "new-token-0123456789";
    let upstream = start_upstream().await;
    let head = format!("{HEAD}admin_token = \"{OLD}\"\n");
    let cfg = TestConfig::new(&head, upstream.addr, &[("family", "")]);
    let fdns = cfg.start().await;
    let at = fdns.metrics_addr.unwrap();
    let status = async |addr, token| {
        familydns::admin::request(addr, token, "/admin/resume", &[("profile", "family")])
            .await
            .unwrap()
            .0
    };
    assert_eq!(status(at, OLD).await, 200);

    edit(&cfg, OLD, NEW);
    fdns.reload().await.unwrap();
    assert_eq!(
        fdns.metrics_listening(),
        Some(at),
        "same listen setting, same port"
    );
    assert_eq!(
        status(at, OLD).await,
        401,
        "the old token is refused at once"
    );
    assert_eq!(status(at, NEW).await, 200);

    edit(
        &cfg,
        "[metrics]\nlisten = \"127.0.0.1:0\"",
        "[metrics]\nlisten = \"127.0.0.3:0\"",
    );
    fdns.reload().await.unwrap();
    let moved = fdns.metrics_listening().unwrap();
    assert_eq!(moved.ip().to_string(), "127.0.0.3");
    let health = http_get(moved, "/health").await;
    assert!(health.ends_with("\r\n\r\nok\n"), "{health}");
    assert_eq!(status(moved, NEW).await, 200);
    assert!(tcp_refused(at).await, "the old endpoint is closed");
}

#[tokio::test]
async fn listener_bounds_wait_for_a_restart_and_say_so() {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(HEAD, upstream.addr, &[("family", "")]);
    let fdns = cfg.start().await;
    assert_eq!(metric(&fdns, "familydns_settings_unapplied").await, 0);

    std::fs::write(
        cfg.path(),
        std::fs::read_to_string(cfg.path()).unwrap() + "[server.tcp]\nmax_connections = 10\n",
    )
    .unwrap();
    fdns.reload().await.unwrap();
    let health = http_get(fdns.metrics_listening().unwrap(), "/health").await;
    assert!(
        health.contains("not applied: server.tcp changed: a restart applies it"),
        "{health}"
    );
    assert_eq!(metric(&fdns, "familydns_settings_unapplied").await, 1);
}
