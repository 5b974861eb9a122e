//! Timed exceptions, pauses and reloads from the CLI, through the authenticated admin
//! endpoint of the running server; they persist across a restart and end by themselves.

mod common;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

const TOKEN: &str = "test-token-0123456789";

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The metrics line of a config written by [`config`].
const METRICS_LISTEN: &str = "listen = \"127.0.0.1:";

/// The test config with a fixed metrics port (the CLI finds the server through the config).
fn config(upstream: std::net::SocketAddr) -> TestConfig {
    let head = HEAD.replace(
        "listen = \"127.0.0.1:0\"",
        &format!(
            "{METRICS_LISTEN}{}\"\nadmin_token = \"{TOKEN}\"",
            free_port()
        ),
    );
    TestConfig::new(
        &head,
        upstream,
        &[("family", "deny = [\"txt.example.test\"]\n")],
    )
}

/// Starts the server at `at`; if another test took the fixed metrics port between its
/// choice and the bind, picks another and tries again (a bounded number of times).
async fn start_at(cfg: &TestConfig, at: jiff::Timestamp) -> Running {
    for _ in 0..20 {
        let config = familydns::config::load(&cfg.path()).unwrap();
        match familydns::app::start_with_clock(config, std::sync::Arc::new(move || at)).await {
            Ok(running) => return running,
            Err(familydns::app::StartError::Bind { .. }) => {
                let text = std::fs::read_to_string(cfg.path()).unwrap();
                let text: Vec<String> = text
                    .lines()
                    .map(|l| match l.strip_prefix(METRICS_LISTEN) {
                        Some(rest) if !rest.starts_with("0\"") => {
                            format!("{METRICS_LISTEN}{}\"", free_port())
                        }
                        _ => l.to_owned(),
                    })
                    .collect();
                std::fs::write(cfg.path(), text.join("\n")).unwrap();
            }
            Err(e) => panic!("familydns starts: {e}"),
        }
    }
    panic!("no free metrics port after 20 tries");
}

/// Starts the server at [`TEST_NOW`]: timed exceptions and pauses are made and checked on
/// that clock, so they end when the test says, never because the test ran slowly or late.
async fn start(cfg: &TestConfig) -> Running {
    start_at(cfg, test_now()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_pause_resume_and_reload_from_the_cli() {
    let upstream = start_upstream().await;
    let cfg = config(upstream.addr);
    let fdns = start(&cfg).await;
    assert_eq!(
        rcode(&fdns, "txt.example.test.").await,
        ResponseCode::NXDomain
    );

    let (ok, out) = cli(
        &cfg.path(),
        &[
            "allow",
            "--profile",
            "family",
            "txt.example.test",
            "--for",
            "45m",
        ],
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(
        rcode(&fdns, "txt.example.test.").await,
        ResponseCode::NoError,
        "allowed for 45 minutes"
    );

    let (ok, out) = cli(
        &cfg.path(),
        &["pause", "--profile", "family", "--for", "30m"],
    )
    .await;
    assert!(ok, "{out}");
    let m = udp(fdns.dns_addrs[0], "www.example.test.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "paused");
    assert!(ede(&m).unwrap().1.contains("paused"));
    assert_eq!(
        rcode(&fdns, "txt.example.test.").await,
        ResponseCode::NoError,
        "a timed exception still resolves"
    );

    // The state survives a restart.
    fdns.shut_down().await;
    let fdns = start(&cfg).await;
    assert_eq!(
        udp(fdns.dns_addrs[0], "www.example.test.", RecordType::A)
            .await
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    // And ends by itself: an hour later neither the pause nor the exception holds.
    fdns.shut_down().await;
    let hour_later = start_at(&cfg, test_now() + jiff::SignedDuration::from_secs(3600)).await;
    assert_eq!(
        rcode(&hour_later, "txt.example.test.").await,
        ResponseCode::NXDomain
    );
    assert_eq!(
        udp(hour_later.dns_addrs[0], "www.example.test.", RecordType::A)
            .await
            .metadata
            .response_code,
        ResponseCode::NoError
    );
    drop(hour_later);

    let fdns = start(&cfg).await;
    let (ok, out) = cli(&cfg.path(), &["resume", "--profile", "family"]).await;
    assert!(ok, "{out}");
    assert_eq!(
        udp(fdns.dns_addrs[0], "www.example.test.", RecordType::A)
            .await
            .metadata
            .response_code,
        ResponseCode::NoError
    );

    // `familydns reload` applies an edit now (the watcher would too; this is the explicit path).
    std::fs::write(cfg.dir.path().join("profiles/family.toml"), "deny = []\n").unwrap();
    let (ok, out) = cli(&cfg.path(), &["reload"]).await;
    assert!(ok, "{out}");
    assert_eq!(
        rcode(&fdns, "txt.example.test.").await,
        ResponseCode::NoError
    );

    let (ok, out) = cli(
        &cfg.path(),
        &["pause", "--profile", "nobody", "--until", "20:00"],
    )
    .await;
    assert!(!ok && out.contains("no profile named `nobody`"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints_need_the_token() {
    let upstream = start_upstream().await;
    let cfg = config(upstream.addr);
    let fdns = start(&cfg).await;
    let addr = fdns.metrics_addr.unwrap();
    let pause = [("profile", "family"), ("for", "30m")];
    let (status, _) =
        familydns::admin::request(addr, "wrong-token-0123456789", "/admin/pause", &pause)
            .await
            .unwrap();
    assert_eq!(status, 401);
    assert_eq!(
        udp(fdns.dns_addrs[0], "www.example.test.", RecordType::A)
            .await
            .metadata
            .response_code,
        ResponseCode::NoError
    );
    // Without a token in the config, the endpoints do not exist.
    let plain = TestConfig::new(HEAD, upstream.addr, &[("family", "")]);
    let fdns = plain.start().await;
    let addr = fdns.metrics_addr.unwrap();
    let (status, _) = familydns::admin::request(addr, TOKEN, "/admin/reload", &[])
        .await
        .unwrap();
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_with_ampersands_and_spaces_round_trip_through_the_cli() {
    let upstream = start_upstream().await;
    let cfg = config(upstream.addr);
    // A profile whose name (its file name) holds a space and an `&`, for the client 127.0.0.2.
    std::fs::write(
        cfg.dir.path().join("profiles/kids & teens.toml"),
        "deny = [\"txt.example.test\"]\n",
    )
    .unwrap();
    let main = std::fs::read_to_string(cfg.path()).unwrap();
    std::fs::write(
        cfg.path(),
        format!("{main}\n[[client]]\nname = \"tablet\"\nmatch = [\"127.0.0.2\"]\nprofile = \"kids & teens\"\n"),
    )
    .unwrap();
    let fdns = start(&cfg).await;
    let from_tablet = async || {
        udp_from(
            fdns.dns_addrs[0],
            "127.0.0.2".parse().unwrap(),
            "txt.example.test.",
            RecordType::TXT,
            Some(1232),
        )
        .await
        .metadata
        .response_code
    };
    assert_eq!(from_tablet().await, ResponseCode::NXDomain);

    let (ok, out) = cli(
        &cfg.path(),
        &[
            "allow",
            "--profile",
            "kids & teens",
            "txt.example.test",
            "--for",
            "45m",
        ],
    )
    .await;
    assert!(
        ok && out.contains("for profile kids & teens until"),
        "{out}"
    );
    assert_eq!(from_tablet().await, ResponseCode::NoError, "allowed");

    // A name with `&` and a space reaches the server whole (and is refused as a name), rather
    // than being cut at the `&` into another parameter.
    let (ok, out) = cli(
        &cfg.path(),
        &[
            "allow",
            "--profile",
            "family",
            "a&for=1s b.example",
            "--for",
            "45m",
        ],
    )
    .await;
    assert!(
        !ok && out.contains("`a&for=1s b.example` is not a domain name"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_gets_more_minutes_from_the_cli() {
    let upstream = start_upstream().await;
    let cfg = config(upstream.addr);
    std::fs::write(cfg.dir.path().join("social.txt"), "www.example.test\n").unwrap();
    let main = std::fs::read_to_string(cfg.path()).unwrap();
    let list = "[[list]]\nname = \"social\"\ncategory = \"social\"\nsource = \"social.txt\"\n";
    std::fs::write(cfg.path(), format!("{main}\n{list}")).unwrap();
    let family = "timezone = \"UTC\"\n[[budget]]\ncategories = [\"social\"]\nminutes = 1\n";
    std::fs::write(cfg.dir.path().join("profiles/family.toml"), family).unwrap();
    let fdns = start(&cfg).await;
    let www = async || rcode(&fdns, "www.example.test.").await;
    assert_eq!(www().await, ResponseCode::NoError, "the one minute");
    assert_eq!(www().await, ResponseCode::NXDomain, "spent");

    let (ok, out) = cli(
        &cfg.path(),
        &["budget", "--profile", "family", "--add", "30m"],
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(out, "family: social: 30 of 31 min left today\n");
    assert_eq!(www().await, ResponseCode::NoError, "granted");
    let (ok, out) = cli(
        &cfg.path(),
        &["budget", "--profile", "family", "--add", "lots"],
    )
    .await;
    assert!(!ok && out.contains("`lots` is not a duration"), "{out}");

    // `familydns check` shows what is left on the day the server counted (its clock); the
    // lookup after the grant was in the minute already counted.
    let ledger_written = async || {
        let (_, out) = cli(
            &cfg.path(),
            &[
                "check",
                "--client",
                "127.0.0.1",
                "www.example.test",
                "--at",
                "2026-11-28T12:00",
            ],
        )
        .await;
        out.contains("budget:   social: 30 of 31 min left today")
    };
    assert!(eventually(CLIENT_TIMEOUT, ledger_written).await);
}
