//! The query log through the real server: every answered query becomes a row (or only a
//! count) as its profile's `log` says, and `familydns log` and `GET /admin/log` read it back.

mod common;

use std::time::Duration;

use common::raw::metric;
use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

const TOKEN: &str = "log-reader-token-0123";

/// Kids (the default, full log) block the `adult` list; the parent's phone (127.0.0.5) is on
/// the `adults` profile, whose log keeps counts only.
fn config(upstream: std::net::SocketAddr) -> TestConfig {
    let main = format!(
        "{HEAD}admin_token = \"{TOKEN}\"
[[list]]
name = \"mine\"
category = \"adult\"
source = \"{{DIR}}/adult.txt\"
[[client]]
name = \"dad-phone\"
match = [\"127.0.0.5\"]
profile = \"adults\"
"
    )
    .replace("default_profile = \"family\"", "default_profile = \"kids\"");
    let cfg = TestConfig::new(
        &main,
        upstream,
        &[
            ("kids", "block = [\"adult\"]\nlog = \"full\"\n"),
            ("adults", "log = \"counts\"\n"),
        ],
    );
    std::fs::write(cfg.dir.path().join("adult.txt"), "porn.example.test\n").unwrap();
    cfg
}

async fn written(fdns: &familydns::app::Running, n: i64) -> bool {
    eventually(Duration::from_secs(10), async || {
        metric(fdns, "familydns_querylog_written_total").await >= n
    })
    .await
}

#[tokio::test]
async fn queries_are_logged_as_each_profile_says_and_read_back() {
    let upstream = start_upstream().await;
    let cfg = config(upstream.addr);
    let fdns = cfg.start().await;
    let dns = fdns.dns_addrs[0];
    let kid = "127.0.0.1".parse().unwrap();
    let dad = "127.0.0.5".parse().unwrap();
    let m = udp_from(dns, kid, "WWW.Example.TEST.", RecordType::A, None).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let m = udp_from(dns, kid, "porn.example.test.", RecordType::AAAA, None).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    let m = udp_from(dns, dad, "txt.example.test.", RecordType::TXT, None).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(written(&fdns, 3).await, "three entries written");

    // The CLI, as a parent runs it (the server's clock is pinned to TEST_NOW).
    let out = familydns(
        "log",
        &cfg.path(),
        &["--since", "2026-11-28T00:00:00Z", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(
        rows.len(),
        2,
        "the adults' profile keeps no names: {rows:?}"
    );
    let blocked = &rows[0];
    assert_eq!(blocked["name"], "porn.example.test");
    assert_eq!(blocked["qtype"], "AAAA");
    assert_eq!(blocked["decision"], "blocked");
    assert_eq!(blocked["category"], "adult");
    assert_eq!(blocked["reason"], "category adult (list mine)");
    assert_eq!(blocked["device"], "127.0.0.1");
    assert_eq!(blocked["at"], TEST_NOW);
    assert_eq!(rows[1]["name"], "www.example.test", "logged in lowercase");
    assert_eq!(rows[1]["decision"], "allowed");

    let out = familydns("log", &cfg.path(), &["--profile", "kids", "--blocked"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("porn.example.test") && text.contains("category adult"));

    // The same over HTTP, with the admin token.
    let addr = fdns.metrics_addr.unwrap();
    let (status, body) = familydns::admin::request_get(
        addr,
        TOKEN,
        "/admin/log",
        &[("profile", "kids"), ("blocked", "true")],
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let rows: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["name"], "porn.example.test");
    let (status, _) =
        familydns::admin::request_get(addr, "wrong-token-0123456789", "/admin/log", &[])
            .await
            .unwrap();
    assert_eq!(status, 401);

    // The adults' query is only counted.
    let conn =
        familydns::querylog::open_read_only(&cfg.dir.path().join("cache/querylog.db")).unwrap();
    let counts = familydns::querylog::counts(
        &conn,
        Some("adults"),
        test_now()
            .checked_sub(jiff::SignedDuration::from_hours(1))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(counts.len(), 1);
    assert_eq!((counts[0].decision.as_str(), counts[0].n), ("allowed", 1));
}

#[tokio::test]
async fn a_profile_with_log_off_leaves_no_trace() {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(HEAD, upstream.addr, &[("family", "log = \"off\"\n")]);
    let fdns = cfg.start().await;
    for _ in 0..3 {
        udp(fdns.dns_addrs[0], "www.example.test.", RecordType::A).await;
    }
    // A later profile that logs: once its entry is written, the earlier ones would have been.
    std::fs::write(
        cfg.dir.path().join("profiles/family.toml"),
        "log = \"full\"\n",
    )
    .unwrap();
    fdns.reload().await.unwrap();
    udp(fdns.dns_addrs[0], "txt.example.test.", RecordType::TXT).await;
    assert!(written(&fdns, 1).await);
    assert_eq!(metric(&fdns, "familydns_querylog_written_total").await, 1);
    let conn =
        familydns::querylog::open_read_only(&cfg.dir.path().join("cache/querylog.db")).unwrap();
    let rows = familydns::querylog::rows(
        &conn,
        &familydns::querylog::Filter {
            limit: 10,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].name, "txt.example.test");
}
