//! Daily budgets through the real server, on a clock the test moves: minutes are counted
//! per distinct minute, a spent budget blocks its categories (and only those) with its EDE
//! until local midnight in the profile's zone or a parent's grant, and the count survives a
//! restart. The parents' page shows what is left and grants more.

mod common;

use common::parents::{Client, TestClock, config_with_lists, logged_in, start_on};
use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use std::time::Duration;

/// Three category lists of names the test upstream answers, and the parents' page.
fn budget_config(upstream: std::net::SocketAddr) -> TestConfig {
    // Moscow is UTC+3 all year: the day ends at 21:00 UTC. TEST_NOW is 15:00 there.
    let family = "timezone = \"Europe/Moscow\"
[[budget]]
categories = [\"social\", \"video\"]
minutes = 3
";
    config_with_lists(
        upstream,
        "",
        &[
            ("social", "txt.example.test"),
            ("video", "www.example.test"),
            ("games", "ptr.example.test"),
        ],
        &[("family", family)],
    )
}

const SOCIAL: &str = "txt.example.test.";
const VIDEO: &str = "www.example.test.";
const GAMES: &str = "ptr.example.test.";
const SPENT: &str = "familydns: daily budget spent (social, video: 3 min)";

async fn ask(fdns: &Running, name: &str) -> Message {
    udp(fdns.dns_addrs[0], name, RecordType::A).await
}

/// Answered by the upstream (the names the lists hold all exist there).
async fn answered(fdns: &Running, name: &str) -> bool {
    let m = ask(fdns, name).await;
    m.metadata.response_code == ResponseCode::NoError && ede(&m).is_none()
}

/// Blocked by the spent budget, with its EDE.
async fn budget_blocked(fdns: &Running, name: &str) -> bool {
    let m = ask(fdns, name).await;
    m.metadata.response_code == ResponseCode::NXDomain && ede(&m) == Some((17, SPENT.to_owned()))
}

/// "N of M min today" on the overview.
async fn left_on_page(client: &Client) -> String {
    let page = client.get("/parents").await.body;
    let at = page.find(" min today").expect("the budget on the page");
    let start = page[..at].rfind(": ").unwrap() + 2;
    page[start..at].to_owned()
}

/// Minutes the ledger file says are used today (it is written just after each change).
fn used_on_disk(cfg: &TestConfig) -> u32 {
    familydns::budget::read(&cfg.path())
        .get("family")
        .and_then(|u| u.first().map(|u| u.used))
        .unwrap_or(0)
}

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn minutes_are_counted_and_a_spent_budget_blocks_until_local_midnight() {
    let upstream = start_upstream().await;
    let cfg = budget_config(upstream.addr);
    let clock = TestClock::new();
    let fdns = start_on(&cfg, &clock).await;
    let client = logged_in(&fdns).await;
    assert_eq!(left_on_page(&client).await, "3 of 3");

    // Many lookups in one minute, of both categories, spend one minute.
    for _ in 0..5 {
        assert!(answered(&fdns, SOCIAL).await);
    }
    assert!(answered(&fdns, VIDEO).await);
    // Names of other categories and of none spend nothing.
    assert!(answered(&fdns, GAMES).await);
    assert_eq!(left_on_page(&client).await, "2 of 3");
    clock.advance(MINUTE);
    assert!(answered(&fdns, GAMES).await);
    assert_eq!(left_on_page(&client).await, "2 of 3");
    assert!(answered(&fdns, SOCIAL).await);
    assert_eq!(left_on_page(&client).await, "1 of 3");
    // Minutes need not follow each other: the third is counted 10 minutes later.
    clock.advance(MINUTE * 10);
    assert!(answered(&fdns, VIDEO).await, "the last minute is answered");
    assert_eq!(left_on_page(&client).await, "0 of 3");

    // Spent: from the next lookup on, both categories are blocked with the budget's EDE,
    // and the other categories are not.
    assert!(budget_blocked(&fdns, SOCIAL).await);
    assert!(budget_blocked(&fdns, VIDEO).await);
    assert!(answered(&fdns, GAMES).await);
    assert!(answered(&fdns, "short.example.test.").await);
    let metrics = http_get(fdns.metrics_addr.unwrap(), "/metrics").await;
    assert!(
        metrics.contains("decision=\"budget\",profile=\"family\"} 2")
            || metrics.contains("profile=\"family\",decision=\"budget\"} 2"),
        "{metrics}"
    );

    // The log keeps the blocks with their reason, under the `blocked` filter too.
    let logged = async || {
        let conn = familydns::querylog::open_read_only(&cfg.dir.path().join("querylog.db"));
        let filter = familydns::querylog::Filter {
            blocked: true,
            limit: 10,
            ..Default::default()
        };
        conn.ok()
            .and_then(|c| familydns::querylog::rows(&c, &filter).ok())
            .is_some_and(|rows| {
                rows.len() == 2
                    && rows.iter().all(|r| {
                        r.decision == "budget"
                            && r.reason == "daily budget spent (social, video: 3 min)"
                            && r.category.as_deref() == Some("social, video")
                    })
            })
    };
    assert!(eventually(CLIENT_TIMEOUT, logged).await);

    // Still blocked in the last second of the day in Moscow; the day ends at its midnight.
    // 12:11 UTC now; on to 20:59:59 UTC, 23:59:59 in Moscow.
    clock.advance(Duration::from_secs(8 * 3600 + 48 * 60 + 59));
    assert!(budget_blocked(&fdns, SOCIAL).await);
    clock.advance(Duration::from_secs(1));
    assert!(answered(&fdns, SOCIAL).await, "a new day at local midnight");
    assert_eq!(left_on_page(&client).await, "2 of 3");
}

#[tokio::test]
async fn a_parent_grants_more_minutes_for_today_on_the_page() {
    let upstream = start_upstream().await;
    let cfg = budget_config(upstream.addr);
    let clock = TestClock::new();
    let fdns = start_on(&cfg, &clock).await;
    for _ in 0..3 {
        assert!(answered(&fdns, SOCIAL).await);
        clock.advance(MINUTE);
    }
    assert!(budget_blocked(&fdns, SOCIAL).await);
    let client = logged_in(&fdns).await;
    let csrf = client.csrf().await;
    let form = [
        ("csrf", csrf.as_str()),
        ("profile", "family"),
        ("add", "15m"),
    ];
    assert_eq!(client.post("/parents/budget", &form).await.status, 303);
    let page = client.get("/parents").await.body;
    assert!(
        page.contains("family has social, video: 15 min left today."),
        "{page}"
    );
    assert!(page.contains("15 of 18 min today"), "{page}");
    assert!(answered(&fdns, SOCIAL).await);
    // A form without the session's token changes nothing.
    let forged = [("csrf", "x"), ("profile", "family"), ("add", "15m")];
    assert_eq!(client.post("/parents/budget", &forged).await.status, 403);
    assert_eq!(left_on_page(&client).await, "14 of 18");
}

#[tokio::test]
async fn the_count_survives_a_restart() {
    let upstream = start_upstream().await;
    let cfg = budget_config(upstream.addr);
    let clock = TestClock::new();
    let fdns = start_on(&cfg, &clock).await;
    for _ in 0..2 {
        assert!(answered(&fdns, VIDEO).await);
        clock.advance(MINUTE);
    }
    assert!(
        eventually(CLIENT_TIMEOUT, async || used_on_disk(&cfg) == 2).await,
        "the ledger is written after each counted minute"
    );
    fdns.shut_down().await;

    let fdns = start_on(&cfg, &clock).await;
    assert!(answered(&fdns, SOCIAL).await, "one minute was left");
    assert!(budget_blocked(&fdns, SOCIAL).await, "and now it is spent");

    // `familydns check` reads the same ledger and tells the same story.
    assert!(eventually(CLIENT_TIMEOUT, async || used_on_disk(&cfg) == 3).await);
    let config = familydns::config::load(&cfg.path()).unwrap();
    let snap = familydns::snapshot::Snapshot::build(&config, true).unwrap();
    let check = |at: &str| {
        familydns::check::explain(
            &config,
            &snap,
            "127.0.0.1".parse().unwrap(),
            "txt.example.test",
            Some(at.parse().unwrap()),
        )
    };
    let out = check("2026-11-28T15:03");
    assert!(
        out.contains("budget:   social, video: 0 of 3 min left today"),
        "{out}"
    );
    assert!(out.contains(&format!("EDE 17 \"{SPENT}\"")), "{out}");
    assert!(
        out.contains("daily budget `social, video` of profile `family` is spent"),
        "{out}"
    );
    let tomorrow = check("2026-11-29T09:00");
    assert!(
        tomorrow.contains("3 of 3 min left today") && tomorrow.contains("ALLOW"),
        "{tomorrow}"
    );
}
