//! The metrics/admin listener's bounds, through the real server: a client that never finishes
//! its headers is disconnected, connections over `metrics.max_connections` are closed at
//! once, and the config refuses a public bind, the shipped placeholder token and short tokens.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (EOF or reset), failing after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(HEAD, upstream.addr, &[("family", "")]);
    let fdns = cfg.start().await;
    let addr = fdns.metrics_addr.unwrap();

    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let start = Instant::now();
    assert!(
        closed_within(&mut slow, familydns::metrics::HEADER_READ_TIMEOUT * 3).await,
        "a half-sent request is not held open"
    );
    println!("disconnected after {:?}", start.elapsed());
    // Meanwhile and afterwards, others are served.
    assert!(http_get(addr, "/health").await.contains("ok"));
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_at_once() {
    let upstream = start_upstream().await;
    let head = HEAD.replace(
        "listen = \"127.0.0.1:0\"\n",
        "listen = \"127.0.0.1:0\"\nmax_connections = 4\n",
    );
    let cfg = TestConfig::new(&head, upstream.addr, &[("family", "")]);
    let fdns = cfg.start().await;
    let addr = fdns.metrics_addr.unwrap();

    // Four idle connections hold every slot (the server accepts in connection order).
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    // Every further connection is closed without an answer, however many come.
    for i in 0..20 {
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let _ = extra
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        let mut answer = Vec::new();
        let read = tokio::time::timeout(CLIENT_TIMEOUT, extra.read_to_end(&mut answer)).await;
        assert!(read.is_ok(), "connection {i} over the cap is closed");
        assert!(
            answer.is_empty(),
            "connection {i} over the cap got an answer"
        );
    }

    // The idle ones leave: slots free up, and the refusals were counted.
    drop(idle);
    let mut refused = 0;
    assert!(
        eventually(Duration::from_secs(5), async || {
            let metrics = http_get(addr, "/metrics").await;
            refused = metrics
                .lines()
                .find(|l| l.starts_with("familydns_http_connections_refused_total "))
                .and_then(|l| l.rsplit(' ').next()?.parse().ok())
                .unwrap_or(0);
            refused >= 20
        })
        .await,
        "{refused} refusals counted"
    );
}

/// The load error of the test config with `metrics` as its `[metrics]` table.
fn metrics_error(metrics: &str) -> (String, TestConfig) {
    let head = HEAD.replace("[metrics]\nlisten = \"127.0.0.1:0\"\n", metrics);
    let cfg = TestConfig::new(&head, "127.0.0.1:53".parse().unwrap(), &[("family", "")]);
    let error = match familydns::config::load(&cfg.path()) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    (error, cfg)
}

/// `file:line:` of the first line of `cfg`'s main file that contains `needle`.
fn place(cfg: &TestConfig, needle: &str) -> String {
    let text = std::fs::read_to_string(cfg.path()).unwrap();
    let line = text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    format!("{}:{line}:", cfg.path().display())
}

#[test]
fn the_placeholder_token_and_short_tokens_are_refused() {
    let placeholder = "put-at-least-16-random-characters-here";
    // The placeholder is the one the shipped config shows.
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/familydns.toml"),
    )
    .unwrap();
    assert!(shipped.contains(placeholder));

    for (token, why) in [
        (placeholder, "example from the shipped config"),
        ("short-token-15c", "too short"),
        ("", "too short"),
    ] {
        let (error, cfg) = metrics_error(&format!(
            "[metrics]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"{token}\"\n"
        ));
        assert!(error.contains(why), "{token:?}: {error}");
        assert!(
            error.contains(&place(&cfg, "admin_token")),
            "{token:?} names file and line: {error}"
        );
    }
    let (error, _) =
        metrics_error("[metrics]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"sixteen-chars-ok\"\n");
    assert_eq!(error, "", "16 characters are enough");
}

#[test]
fn a_public_metrics_bind_needs_allow_remote() {
    for listen in [
        "8.8.8.8:9153",
        "0.0.0.0:9153",
        "[::]:9153",
        "[2001:db8::1]:9153",
    ] {
        let (error, cfg) = metrics_error(&format!("[metrics]\nlisten = \"{listen}\"\n"));
        assert!(
            error.contains("metrics.allow_remote") && error.contains(&place(&cfg, listen)),
            "{listen}: {error}"
        );
        let (error, _) = metrics_error(&format!(
            "[metrics]\nlisten = \"{listen}\"\nallow_remote = true\n"
        ));
        assert_eq!(error, "", "{listen} with allow_remote");
    }
    for listen in [
        "127.0.0.1:9153",
        "192.168.1.1:9153",
        "[::1]:9153",
        "[fd00::1]:9153",
    ] {
        let (error, _) = metrics_error(&format!("[metrics]\nlisten = \"{listen}\"\n"));
        assert_eq!(error, "", "{listen} is not public");
    }
}
