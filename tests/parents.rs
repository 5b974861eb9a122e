//! The parents' page through the real server, getting in: the page only with a `[parents]`
//! section, login with its strict cookie, five attempts a minute, the session's CSRF token on
//! every post, sessions ending on the server's clock; and the config checks and `familydns
//! passwd`. (What the page does once in is in `parents_actions.rs`; `browser.rs` drives the
//! same page in Chromium.)

mod common;

use std::time::Duration;

use common::parents::*;
use common::*;
use hickory_proto::op::ResponseCode;

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
