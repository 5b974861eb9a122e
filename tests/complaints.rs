//! Complaint → review → block, through the real server on loopback: complaints filed through
//! the API (with its own tokens) and the `familydns report` / `familydns complaints` commands
//! (the parents' page files and reviews them too: `parents_actions.rs`); an accepted name is
//! blocked for a real DNS client at once, for the profiles that block its category only;
//! rejected names never are; removed ones are unblocked at once; accepted ones survive a
//! restart. The server's clock is the test's.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::complaints::*;
use common::parents::{TestClock, start_on};
use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_name_is_blocked_at_once_where_its_category_is() {
    let upstream = start_upstream().await;
    let cfg = config(upstream.addr, "");
    let clock = TestClock::new();
    let fdns = start_on(&cfg, &clock).await;
    let api = Api::of(&fdns);
    assert_eq!(blocked(&fdns, "127.0.0.1", "www.example.test.").await, None);

    let contact = json!({"name": "WWW.Example.Test.", "category": "adult",
        "comment": "explicit pictures", "contact": "teacher@school.test"});
    let (status, body) = api.send(true, "", REPORTER, Some(contact)).await;
    assert_eq!(status, 201, "{body}");
    let filed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (
            &filed["name"],
            &filed["status"],
            &filed["filed_by"],
            &filed["via"]
        ),
        (
            &json!("www.example.test"),
            &json!("pending"),
            &json!("school"),
            &json!("api")
        )
    );
    let id = filed["id"].as_i64().unwrap();
    // Pending blocks nothing; a reporter's token can neither decide nor list.
    assert_eq!(blocked(&fdns, "127.0.0.1", "www.example.test.").await, None);
    let (status, body) = api.decide(REPORTER, id, "accept").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("only a reviewer's token"), "{body}");
    assert_eq!(
        api.send(false, "?status=pending", REPORTER, None).await.0,
        403
    );
    let (status, body) = api.send(false, "?status=pending", REVIEWER, None).await;
    assert_eq!(status, 200);
    let pending: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(pending[0]["contact"], "teacher@school.test", "{body}");

    let accepted = api.decided(id, "accept").await;
    let (took, queries) = time_to_block(&fdns, "www.example.test.", Instant::now()).await;
    println!("accept -> blocked: {took:?}");
    assert_eq!(
        queries, 1,
        "blocked from the first query after the decision's answer"
    );
    assert_eq!(accepted["decided_by"], "alliance");
    let text = format!("17 familydns: category adult (complaint #{id})");
    assert_eq!(
        blocked(&fdns, "127.0.0.1", "www.example.test.").await,
        Some(text.clone())
    );
    assert_eq!(
        blocked(&fdns, "127.0.0.1", "deep.WWW.example.test.").await,
        Some(text)
    );
    // The open profile does not block `adult`: the name resolves there.
    let open = udp_from(
        fdns.dns_addrs[0],
        "127.0.0.2".parse().unwrap(),
        "www.example.test.",
        RecordType::A,
        Some(1232),
    )
    .await;
    assert_eq!(open.metadata.response_code, ResponseCode::NoError);
    assert!(!open.answers.is_empty() && ede(&open).is_none());
    // The exchange's feed: names by category, nothing about who complained.
    let feed = fdns.complaints_feed.borrow().clone();
    assert_eq!(
        serde_json::to_value(&*feed).unwrap(),
        json!({"adult": ["www.example.test"]})
    );
    let (ok, out) = cli(
        &cfg.path(),
        &["check", "--client", "127.0.0.1", "deep.www.example.test"],
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains(&format!("complaint #{id}: `www.example.test` (and its subdomains) accepted into category `adult` by alliance")), "{out}");

    // A category only a schedule window blocks: blocked while the window is open.
    let games = api.filed("play.example.test", "games").await;
    api.decided(games, "accept").await;
    assert_eq!(
        blocked(&fdns, "127.0.0.1", "play.example.test.").await,
        Some(format!("17 familydns: category games (complaint #{games})"))
    );
    // The parent's `allow` still wins; a rejected name is never blocked.
    let kept = api.filed("kept.example.test", "adult").await;
    api.decided(kept, "accept").await;
    assert_eq!(
        blocked(&fdns, "127.0.0.1", "kept.example.test.").await,
        None
    );
    let rejected = api.filed("rejected.example.test", "adult").await;
    assert_eq!(api.decided(rejected, "reject").await["status"], "rejected");
    assert_eq!(
        blocked(&fdns, "127.0.0.1", "rejected.example.test.").await,
        None
    );
    clock.advance(Duration::from_secs(2 * 3600));
    assert_eq!(
        blocked(&fdns, "127.0.0.1", "play.example.test.").await,
        None
    );

    // Removed: unblocked by the time the answer comes; accepted again: blocked again.
    api.decided(id, "remove").await;
    assert_eq!(blocked(&fdns, "127.0.0.1", "www.example.test.").await, None);
    assert!(
        !fdns
            .complaints_feed
            .borrow()
            .get("adult")
            .unwrap()
            .contains("www.example.test")
    );
    let (status, body) = api.decide(REVIEWER, id, "remove").await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("is removed: it cannot be removed"), "{body}");
    api.decided(id, "accept").await;

    // A restart loads the accepted names from the database.
    fdns.shut_down().await;
    let fdns = start_on(&cfg, &clock).await;
    assert!(
        blocked(&fdns, "127.0.0.1", "www.example.test.")
            .await
            .is_some()
    );
    let feed = fdns.complaints_feed.borrow().clone();
    assert_eq!(feed["adult"].len(), 2, "{feed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_reports_and_reviews_through_the_running_server() {
    let upstream = start_upstream().await;
    let cfg = config(upstream.addr, "");
    let clock = TestClock::new();
    let fdns = start_on(&cfg, &clock).await;
    let path = cfg.path();
    let (ok, out) = cli(
        &path,
        &[
            "report",
            "www.example.test",
            "--category",
            "adult",
            "--comment",
            "seen in class",
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert!(
        out.contains("filed: #1 pending www.example.test in adult (by school via cli"),
        "{out}"
    );
    let (ok, out) = cli(
        &path,
        &["report", "www.example.test", "--category", "drugs"],
    )
    .await;
    assert!(
        !ok && out.contains("no list has category `drugs` (known categories: adult, games)"),
        "{out}"
    );
    let (ok, out) = cli(&path, &["complaints", "list"]).await;
    assert!(
        ok && out.contains("#1 pending www.example.test in adult")
            && out.contains("\"seen in class\""),
        "{out}"
    );
    let (ok, out) = cli(&path, &["complaints", "accept", "1"]).await;
    assert!(
        ok && out.contains("#1 accepted www.example.test in adult")
            && out.contains("decided by alliance"),
        "{out}"
    );
    // In force when the command returns.
    assert!(
        blocked(&fdns, "127.0.0.1", "www.example.test.")
            .await
            .is_some()
    );
    let (ok, out) = cli(&path, &["complaints", "--token", "school", "remove", "1"]).await;
    assert!(!ok && out.contains("403"), "{out}");
    let (ok, out) = cli(&path, &["complaints", "remove", "1"]).await;
    assert!(ok && out.contains("#1 removed"), "{out}");
    assert_eq!(blocked(&fdns, "127.0.0.1", "www.example.test.").await, None);
    let (ok, out) = cli(&path, &["complaints", "reject", "7"]).await;
    assert!(!ok && out.contains("no complaint #7"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_bounds_are_enforced() {
    let upstream = start_upstream().await;
    let cfg = config(
        upstream.addr,
        "max_pending = 3\nmax_comment = 20\nfilings_per_hour = 6",
    );
    let clock = TestClock::new();
    let fdns = start_on(&cfg, &clock).await;
    let api = Api::of(&fdns);
    for token in ["", "wrong-token-0123456789"] {
        let (status, body) = api.file(token, "a.example.test", "adult", "").await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(api.decide(token, 1, "accept").await.0, 401);
    }
    let (status, body) = api
        .file(REPORTER, "a.example.test", "adult", &"x".repeat(21))
        .await;
    assert_eq!(
        (status, body.as_str()),
        (
            400,
            "the comment is 21 characters long: at most 20 are kept\n"
        )
    );
    let (status, body) = api.file(REPORTER, "a..example", "adult", "").await;
    assert!(
        status == 400 && body.contains("is not a domain name"),
        "{body}"
    );
    let (status, body) = api.file(REPORTER, "a.example.test", "drugs", "").await;
    assert!(
        status == 400 && body.contains("known categories: adult, games"),
        "{body}"
    );
    // At most 3 waiting.
    for name in ["a.example.test", "b.example.test", "c.example.test"] {
        api.filed(name, "adult").await;
    }
    let (status, body) = api.file(REPORTER, "a.example.test", "adult", "").await;
    assert!(
        status == 409 && body.contains("complaint #1 is pending"),
        "{body}"
    );
    let (status, body) = api.file(REPORTER, "d.example.test", "adult", "").await;
    assert_eq!(
        (status, body.as_str()),
        (
            429,
            "3 complaints are waiting for review: no more are taken until some are decided\n"
        )
    );
    // A decision makes room; the sixth filing of the hour (refusals count) is the last.
    api.decided(1, "reject").await;
    api.filed("d.example.test", "adult").await;
    api.decided(2, "reject").await;
    let (status, body) = api.file(REPORTER, "e.example.test", "adult", "").await;
    assert_eq!(
        (status, body.as_str()),
        (
            429,
            "school filed 6 complaints in the last hour: wait before filing more\n"
        )
    );
    clock.advance(Duration::from_secs(3600));
    api.filed("e.example.test", "adult").await;
    let (status, _) = api.decide(REVIEWER, 3, "sideways").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_name_is_blocked_from_the_first_query_after_the_answer() {
    let upstream = start_upstream().await;
    let cfg = config(upstream.addr, "");
    let clock = TestClock::new();
    let fdns = start_on(&cfg, &clock).await;
    let api = Api::of(&fdns);
    // From the accept's answer, and from sending the accept, to the first blocked answer.
    let (mut after_answer, mut after_request) = (Vec::new(), Vec::new());
    for i in 0..20 {
        let name = format!("n{i}.example.test");
        let id = api.filed(&name, "adult").await;
        let sent = Instant::now();
        api.decided(id, "accept").await;
        let (took, queries) = time_to_block(&fdns, &format!("{name}."), Instant::now()).await;
        assert_eq!(
            queries, 1,
            "{name}: blocked from the first query after the answer"
        );
        after_answer.push(took);
        after_request.push(sent.elapsed());
    }
    for (what, took) in [
        ("answer", &mut after_answer),
        ("request", &mut after_request),
    ] {
        took.sort();
        println!(
            "accept {what} -> blocked over 20 accepts: median {:?}, max {:?}",
            took[took.len() / 2],
            took[took.len() - 1]
        );
    }
}

#[test]
fn complaint_tokens_need_the_query_log() {
    let upstream: SocketAddr = "127.0.0.1:53".parse().unwrap();
    let cfg = TestConfig::new(
        &format!(
            "{HEAD}[query_log]\nenabled = false\n[complaints]\nmax_pending = 0\n[[complaints.token]]\nname = \"s\"\ntoken = \"short\"\n"
        ),
        upstream,
        &[("family", "")],
    );
    let err = familydns::config::load(&cfg.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`max_pending`: must be between 1 and 100000"),
        "{err}"
    );
    assert!(
        err.contains("complaints are kept in the query log's database: turn [query_log] on"),
        "{err}"
    );
    assert!(err.contains("too short"), "{err}");
    assert!(err.contains("familydns.toml:"), "file and line: {err}");
}
