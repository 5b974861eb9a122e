//! The parents' page at work, through the real server: pause, allow and resume reaching the
//! queries, profile edits checked, written back with their comments and reloaded, the
//! overview and the log read from the query log, and complaints filed and reviewed on the
//! page. (Getting in, sessions and CSRF are in `parents.rs`; `browser.rs` drives the same
//! page in Chromium.)

mod common;

use std::time::Duration;

use common::complaints::{self, Api, REVIEWER, blocked};
use common::parents::*;
use common::*;
use hickory_proto::op::ResponseCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_allow_and_resume_from_the_page_reach_the_queries() {
    let upstream = start_upstream().await;
    let cfg = parents_config(upstream.addr);
    let clock = TestClock::new();
    let fdns = start_on(&cfg, &clock).await;
    let c = logged_in(&fdns).await;
    let csrf = c.csrf().await;
    let form = |extra: &[(&'static str, &'static str)]| {
        let mut f = vec![("csrf", csrf.clone()), ("profile", "family".to_owned())];
        f.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        f
    };
    let post = async |path: &str, f: Vec<(&str, String)>| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = c.post(path, &pairs).await;
        assert_eq!(answer.status, 303, "{path}: {}", answer.body);
        c.get("/parents").await.body
    };

    assert_eq!(
        a_rcode(&fdns, "www.example.test.").await,
        ResponseCode::NoError
    );
    let page = post("/parents/pause", form(&[("for", "30m"), ("until", "")])).await;
    assert!(page.contains("family paused until 12:30."), "{page}");
    assert!(page.contains("Paused until 12:30"));
    assert_eq!(
        a_rcode(&fdns, "www.example.test.").await,
        ResponseCode::NXDomain
    );
    clock.advance(Duration::from_secs(30 * 60));
    assert_eq!(
        a_rcode(&fdns, "www.example.test.").await,
        ResponseCode::NoError,
        "the pause ended by itself"
    );
    let page = post("/parents/pause", form(&[("until", "20:00")])).await;
    assert!(page.contains("Paused until 20:00"), "{page}");
    let page = post("/parents/resume", form(&[])).await;
    assert!(page.contains("family resumed"));
    assert_eq!(
        a_rcode(&fdns, "www.example.test.").await,
        ResponseCode::NoError
    );

    // `txt.example.test` is on the profile's deny list.
    assert_eq!(
        a_rcode(&fdns, "txt.example.test.").await,
        ResponseCode::NXDomain
    );
    let page = post(
        "/parents/allow",
        form(&[("name", "txt.example.test"), ("for", "today")]),
    )
    .await;
    assert!(
        page.contains("txt.example.test allowed for family until Sun 29 Nov 00:00."),
        "{page}"
    );
    assert!(page.contains("Allowed: txt.example.test until"));
    assert_ne!(
        a_rcode(&fdns, "txt.example.test.").await,
        ResponseCode::NXDomain
    );
    post("/parents/resume", form(&[])).await;
    assert_eq!(
        a_rcode(&fdns, "txt.example.test.").await,
        ResponseCode::NXDomain
    );

    // "Always" writes the profile's allow list, which the reload applies.
    let page = post(
        "/parents/allow",
        form(&[("name", "games.example.test"), ("for", "always")]),
    )
    .await;
    assert!(
        page.contains("games.example.test is always allowed for family"),
        "{page}"
    );
    let file = std::fs::read_to_string(cfg.dir.path().join("profiles/family.toml")).unwrap();
    assert!(file.contains("allow = [\"games.example.test\"]"), "{file}");
    assert!(file.contains("# the basics"), "comments kept: {file}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_edit_is_checked_written_with_its_comments_and_reloaded() {
    let upstream = start_upstream().await;
    let cfg = parents_config(upstream.addr);
    let fdns = cfg.start().await;
    let c = logged_in(&fdns).await;
    let page = c.get("/parents/profile?profile=family").await.body;
    for category in ["adult", "games", "social"] {
        assert!(page.contains(&format!("value=\"{category}\"")), "{page}");
    }
    assert!(page.contains("txt.example.test</textarea>"));
    let csrf = csrf_in(&page);
    let file = cfg.dir.path().join("profiles/family.toml");
    let before = std::fs::read_to_string(&file).unwrap();

    // A bad edit: a name that is not one. Shown with its error; the file is untouched.
    let bad = c
        .post(
            "/parents/profile",
            &[
                ("csrf", &csrf),
                ("profile", "family"),
                ("block", "adult"),
                ("deny", "not a..name"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("Not saved"), "{}", bad.body);
    assert!(
        bad.body.contains("family.toml"),
        "the error names the file: {}",
        bad.body
    );
    assert!(bad.body.contains("not"), "the parent's input is kept");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    // A category no list declares cannot be smuggled in either.
    let bad = c
        .post(
            "/parents/profile",
            &[
                ("csrf", &csrf),
                ("profile", "family"),
                ("block", "nonsense"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);

    // A good edit: games blocked too, www denied, the old deny dropped.
    assert_eq!(
        a_rcode(&fdns, "www.example.test.").await,
        ResponseCode::NoError
    );
    let good = c
        .post(
            "/parents/profile",
            &[
                ("csrf", &csrf),
                ("profile", "family"),
                ("block", "adult"),
                ("block", "games"),
                ("allow", ""),
                ("deny", "www.example.test\n"),
            ],
        )
        .await;
    assert_eq!(good.status, 303, "{}", good.body);
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(
        after.contains("block = [\"adult\", \"games\"] # the basics"),
        "{after}"
    );
    assert!(
        after.contains("deny = [\"www.example.test\"] # no TXT records"),
        "{after}"
    );
    assert!(after.contains("# The family's profile"), "{after}");
    assert!(c.get("/parents").await.body.contains("family saved"));
    assert!(until_rcode(&fdns, "www.example.test.", ResponseCode::NXDomain).await);
    assert!(until_rcode(&fdns, "txt.example.test.", ResponseCode::NoError).await);
    let edit = c.get("/parents/profile?profile=family").await.body;
    assert!(edit.contains("value=\"games\" checked"), "{edit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_and_the_log_show_what_the_query_log_holds() {
    let upstream = start_upstream().await;
    let cfg = parents_config(upstream.addr);
    let fdns = cfg.start().await;
    ask_as_a_child(&fdns).await;
    let c = logged_in(&fdns).await;
    assert!(
        eventually(Duration::from_secs(10), async || c
            .get("/parents")
            .await
            .body
            .contains("4 queries today, 3 blocked"))
        .await
    );
    let page = c.get("/parents").await.body;
    assert!(page.contains("<svg"), "the chart");
    let adult = page.find("adult.example.test (2)").expect("top blocked");
    let denied = page.find("txt.example.test (1)").expect("top blocked");
    assert!(adult < denied, "most blocked first");
    assert!(page.contains("own rules"), "the deny list in the chart");

    let log = c
        .get("/parents/log?profile=family&blocked=on&since=1h")
        .await;
    assert_eq!(log.status, 200);
    assert!(log.body.contains("emma-tablet"));
    assert!(log.body.contains("adult.example.test"), "{}", log.body);
    assert!(!log.body.contains("www.example.test"), "blocked only");
    let all = c.get("/parents/log?device=emma-tablet").await.body;
    assert!(all.contains("www.example.test"));
    let nobody = c.get("/parents/log?device=someone-else").await.body;
    assert!(nobody.contains("No queries match."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parents_page_reports_and_reviews() {
    let upstream = start_upstream().await;
    let cfg = complaints::config(upstream.addr, "");
    let clock = TestClock::new();
    let fdns = start_on(&cfg, &clock).await;
    let mut page = Client::new(&fdns);
    assert_eq!(
        page.get("/parents/complaints").await.status,
        303,
        "logged out"
    );
    assert_eq!(page.login(PASSWORD).await.status, 303);
    let form = page.get("/parents/complaints").await;
    assert!(form.body.contains("Report a site"), "{}", form.body);
    let csrf = csrf_in(&form.body);
    let file = |name: &'static str, category: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("name", name.into()),
            ("category", category.into()),
            ("comment", "from the page".into()),
            ("contact", "mum@home.test".into()),
        ]
    };
    let post = |path, fields: [(&'static str, String); 5]| {
        let page = &page;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            page.post(path, &fields).await
        }
    };
    let answer = post("/parents/complaints", file("www.example.test", "adult")).await;
    assert_eq!(answer.location.as_deref(), Some("/parents/complaints"));
    let shown = page.get("/parents/complaints").await.body;
    assert!(
        shown.contains("Complaint #1 about www.example.test filed"),
        "{shown}"
    );
    assert!(
        shown.contains("Waiting for review (1)") && shown.contains("mum@home.test"),
        "{shown}"
    );
    post("/parents/complaints", file("x.example.test", "drugs")).await;
    let shown = page.get("/parents/complaints").await.body;
    assert!(
        shown.contains("Not done: no list has category `drugs`"),
        "{shown}"
    );
    // Without the session's CSRF token nothing is decided.
    let forged = page
        .post(
            "/parents/complaints/decide",
            &[("csrf", "x"), ("id", "1"), ("ruling", "accept")],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(blocked(&fdns, "127.0.0.1", "www.example.test.").await, None);
    page.post(
        "/parents/complaints/decide",
        &[("csrf", &csrf), ("id", "1"), ("ruling", "accept")],
    )
    .await;
    let shown = page.get("/parents/complaints").await.body;
    assert!(
        shown.contains("www.example.test is blocked in category adult now."),
        "{shown}"
    );
    assert!(shown.contains("Blocked after a complaint (1)"), "{shown}");
    assert_eq!(
        blocked(&fdns, "127.0.0.1", "www.example.test.").await,
        Some("17 familydns: category adult (complaint #1)".to_owned())
    );
    // Filed and decided by the page, as the reviewers' API shows.
    let (_, body) = Api::of(&fdns)
        .send(false, "?status=accepted", REVIEWER, None)
        .await;
    let listed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (&listed[0]["via"], &listed[0]["decided_by"]),
        (&json!("page"), &json!("parents' page"))
    );
}
