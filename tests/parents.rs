//! The parents' page through the real server: login, session, CSRF and rate-limit bounds,
//! the buttons reaching the queries, profile edits written back and reloaded, the overview
//! and the log read from the query log. (`browser.rs` drives the same page in Chromium.)

mod common;

use std::time::Duration;

use common::parents::*;
use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

async fn a_rcode(fdns: &Running, name: &str) -> ResponseCode {
    udp(fdns.dns_addrs[0], name, RecordType::A)
        .await
        .metadata
        .response_code
}

/// Waits (bounded) until `name` gets `want`: reloads after a file edit take a moment.
async fn until_rcode(fdns: &Running, name: &str, want: ResponseCode) -> bool {
    eventually(Duration::from_secs(10), async || {
        a_rcode(fdns, name).await == want
    })
    .await
}

async fn logged_in(fdns: &Running) -> Client {
    let mut c = Client::new(fdns);
    let answer = c.login(PASSWORD).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_exists_only_with_a_parents_section() {
    let upstream = start_upstream().await;
    let without = TestConfig::new(HEAD, upstream.addr, &[("family", "")]);
    let fdns = without.start().await;
    let c = Client::new(&fdns);
    for path in ["/parents", "/parents/login"] {
        assert_eq!(c.get(path).await.status, 404, "{path}");
    }
    assert_eq!(
        c.post("/parents/login", &[("password", PASSWORD)])
            .await
            .status,
        404
    );

    let with = parents_config(upstream.addr);
    let fdns = with.start().await;
    let c = Client::new(&fdns);
    let answer = c.get("/parents").await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.location.as_deref(), Some("/parents/login"));
    let login = c.get("/parents/login").await.body;
    assert!(login.contains("name=\"viewport\""), "readable on a phone");
    assert!(login.contains("type=\"password\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sets_a_strict_httponly_expiring_cookie_and_logout_ends_it() {
    let upstream = start_upstream().await;
    let cfg = parents_config(upstream.addr);
    let fdns = cfg.start().await;
    let mut c = Client::new(&fdns);
    let wrong = c.login("not the password").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.set_cookie.is_none());
    assert!(wrong.body.contains("Wrong password"));

    let ok = c.login(PASSWORD).await;
    assert_eq!(ok.status, 303);
    let cookie = ok.set_cookie.unwrap();
    for part in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/parents",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let overview = c.get("/parents").await;
    assert_eq!(overview.status, 200);
    assert!(overview.body.contains("family"));
    assert!(overview.body.contains("Filtering as usual"));

    let csrf = csrf_in(&overview.body);
    let out = c.post("/parents/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert!(out.set_cookie.unwrap().contains("Max-Age=0"));
    assert_eq!(c.get("/parents").await.status, 303, "the session is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_attempts_are_limited_to_five_a_minute_per_address() {
    let upstream = start_upstream().await;
    let cfg = parents_config(upstream.addr);
    let clock = TestClock::new();
    let fdns = start_on(&cfg, &clock).await;
    let mut c = Client::new(&fdns);
    for i in 0..5 {
        assert_eq!(c.login(&format!("guess {i}")).await.status, 401);
    }
    let sixth = c.login(PASSWORD).await;
    assert_eq!(
        sixth.status, 429,
        "even the right password, in the same minute"
    );
    assert!(sixth.set_cookie.is_none());
    assert!(sixth.body.contains("wait a minute"));
    clock.advance(Duration::from_secs(60));
    assert_eq!(c.login(PASSWORD).await.status, 303, "a minute later");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_post_needs_its_sessions_csrf_token() {
    let upstream = start_upstream().await;
    let cfg = parents_config(upstream.addr);
    let fdns = cfg.start().await;
    let c = logged_in(&fdns).await;
    let other = logged_in(&fdns).await;
    let theirs = other.csrf().await;
    let mine = c.csrf().await;
    assert_ne!(mine, theirs, "one token per session");

    for token in ["", "0000", theirs.as_str()] {
        for path in ["/parents/pause", "/parents/allow", "/parents/resume"] {
            let answer = c
                .post(
                    path,
                    &[
                        ("csrf", token),
                        ("profile", "family"),
                        ("name", "txt.example.test"),
                        ("for", "30m"),
                    ],
                )
                .await;
            assert_eq!(answer.status, 403, "{path} with `{token}`");
        }
        let edit = c
            .post(
                "/parents/profile",
                &[
                    ("csrf", token),
                    ("profile", "family"),
                    ("deny", "www.example.test"),
                ],
            )
            .await;
        assert_eq!(edit.status, 403);
    }
    assert_eq!(
        a_rcode(&fdns, "www.example.test.").await,
        ResponseCode::NoError
    );
    assert!(
        std::fs::read_to_string(cfg.dir.path().join("profiles/family.toml"))
            .unwrap()
            .contains("deny = [\"txt.example.test\"]")
    );
    // Without a session there is nothing to check the token against: to the login form.
    let anonymous = Client::new(&fdns)
        .post(
            "/parents/pause",
            &[("csrf", &mine), ("profile", "family"), ("for", "30m")],
        )
        .await;
    assert_eq!(anonymous.location.as_deref(), Some("/parents/login"));
    assert_eq!(
        a_rcode(&fdns, "www.example.test.").await,
        ResponseCode::NoError
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_on_the_servers_clock() {
    let upstream = start_upstream().await;
    let cfg = parents_config(upstream.addr);
    let clock = TestClock::new();
    let fdns = start_on(&cfg, &clock).await;
    let c = logged_in(&fdns).await;
    clock.advance(Duration::from_secs(12 * 3600 - 1));
    assert_eq!(c.get("/parents").await.status, 200);
    clock.advance(Duration::from_secs(1));
    let after = c.get("/parents").await;
    assert_eq!(after.status, 303, "12 hours (session_hours) later");
    assert_eq!(after.location.as_deref(), Some("/parents/login"));
}

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
async fn parents_needs_a_hash_a_metrics_listener_and_no_public_bind() {
    let upstream = start_upstream().await;
    let errors = |main: &str| {
        let cfg = TestConfig::new(main, upstream.addr, &[("family", "")]);
        familydns::config::load(&cfg.path())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let bad_hash = format!("{HEAD}[parents]\npassword_hash = \"hunter2\"\n");
    assert!(
        errors(&bad_hash).contains("familydns passwd"),
        "{}",
        errors(&bad_hash)
    );
    let no_metrics = format!(
        "{}[parents]\npassword_hash = \"{}\"\n",
        HEAD.replace("[metrics]\nlisten = \"127.0.0.1:0\"\n", ""),
        password_hash()
    );
    assert!(
        errors(&no_metrics).contains("[metrics]"),
        "{}",
        errors(&no_metrics)
    );
    let public = format!(
        "{}[parents]\npassword_hash = \"{}\"\n",
        HEAD.replace(
            "[metrics]\nlisten = \"127.0.0.1:0\"",
            "[metrics]\nlisten = \"0.0.0.0:0\""
        ),
        password_hash()
    );
    assert!(
        errors(&public).contains("parents' page"),
        "{}",
        errors(&public)
    );
    let meant = public.replace("0.0.0.0:0\"", "0.0.0.0:0\"\nallow_remote = true");
    // On every address, the child's page name needs the one address devices reach.
    assert!(
        errors(&meant).contains("parents.page_address"),
        "{}",
        errors(&meant)
    );
    let with_address = meant.replace("[parents]\n", "[parents]\npage_address = \"192.168.1.1\"\n");
    assert_eq!(errors(&with_address), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwd_prints_a_line_the_login_accepts() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_familydns"))
        .arg("passwd")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a new password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.starts_with("password_hash = \"$argon2id$"), "{line}");

    let upstream = start_upstream().await;
    let cfg = TestConfig::new(
        &format!("{HEAD}[parents]\n{line}"),
        upstream.addr,
        &[("family", "")],
    );
    let fdns = cfg.start().await;
    let mut c = Client::new(&fdns);
    assert_eq!(c.login("a new password").await.status, 303);
    assert_eq!(c.login(PASSWORD).await.status, 401);
}
