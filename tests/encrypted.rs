//! DoT and DoH in, with client ids, against the real `kdig` (Debian's `knot-dnsutils`) and
//! certificates made in the test with the real `openssl`. Both are installed by `.ci/run`;
//! without them the tests say SKIPPED and pass.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::daemon::*;
use common::raw::closed_by_server;
use common::*;

const BLOCKED: &str = "www.example.test";
const DOMAIN: &str = "dot.example.net";

/// kdig and openssl, or `None` after saying SKIPPED.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let found = find_program(&["kdig"]).zip(find_program(&["openssl"]));
    if found.is_none() {
        eprintln!("SKIPPED: kdig (knot-dnsutils) or openssl not installed");
    }
    found
}

/// A self-signed pair for `*.dot.example.net` written to `cert`/`key` (through a rename, as
/// a renewal does); the certificate is also its own CA for kdig.
fn make_pair(openssl: &Path, cert: &Path, key: &Path) {
    let dir = cert.parent().unwrap();
    let (new_cert, new_key) = (dir.join("new-cert.pem"), dir.join("new-key.pem"));
    let status = Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=dot.example.net"])
        .args([
            "-addext",
            "subjectAltName=DNS:dot.example.net,DNS:*.dot.example.net",
        ])
        .arg("-keyout")
        .arg(&new_key)
        .arg("-out")
        .arg(&new_cert)
        .output()
        .expect("openssl runs");
    assert!(status.status.success(), "{status:?}");
    std::fs::rename(new_key, key).unwrap();
    std::fs::rename(new_cert, cert).unwrap();
}

struct Setup {
    _upstream: Upstream,
    _cfg: TestConfig,
    _fdns: familydns::app::Running,
    dot: u16,
    doh: u16,
    cert: PathBuf,
    key: PathBuf,
}

async fn setup(openssl: &Path) -> Setup {
    setup_with(openssl, "").await
}

/// `extra` goes at the end of the main config.
async fn setup_with(openssl: &Path, extra: &str) -> Setup {
    let upstream = start_upstream().await;
    let (dot, doh) = (free_port().await, free_port().await);
    let main = format!(
        r#"{HEAD}
[server.tls]
cert = "cert.pem"
key = "key.pem"
dot_listen = ["127.0.0.1:{dot}"]
doh_listen = ["127.0.0.1:{doh}"]
client_id_domain = "{DOMAIN}"
[[list]]
name = "adult"
category = "adult"
source = "{{DIR}}/adult.domains"
format = "domains"
[[client]]
name = "alice-phone"
match = ["id:alice"]
profile = "kids"
{extra}"#
    );
    let cfg = TestConfig::new(
        &main,
        upstream.addr,
        &[
            ("family", "block = []\n"),
            ("kids", "block = [\"adult\"]\n"),
        ],
    );
    std::fs::write(cfg.dir.path().join("adult.domains"), format!("{BLOCKED}\n")).unwrap();
    let (cert, key) = (
        cfg.dir.path().join("cert.pem"),
        cfg.dir.path().join("key.pem"),
    );
    make_pair(openssl, &cert, &key);
    let fdns = cfg.start().await;
    Setup {
        _upstream: upstream,
        _cfg: cfg,
        _fdns: fdns,
        dot,
        doh,
        cert,
        key,
    }
}

/// Runs kdig with `args` and returns the answer's status (`NOERROR`, `NXDOMAIN`), or what
/// it said when there is none.
async fn kdig(kdig: &Path, port: u16, ca: &Path, args: &[String]) -> String {
    let mut command = Command::new(kdig);
    command
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+timeout=5",
            "+retry=0",
        ])
        .arg(format!("+tls-ca={}", ca.display()))
        .args(args)
        .arg(BLOCKED);
    let output = tokio::task::spawn_blocking(move || command.output().expect("kdig runs"))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // `->>HEADER<<- opcode: QUERY; status: NXDOMAIN; id: 0` (DoH also prints the HTTP
    // session's status before it).
    stdout
        .lines()
        .find(|l| l.contains("->>HEADER<<-"))
        .and_then(|l| l.split("status: ").nth(1))
        .and_then(|s| s.split(';').next())
        .map_or_else(
            || format!("{stdout}{}", String::from_utf8_lossy(&output.stderr)),
            str::to_owned,
        )
}

fn dot_as(id: &str) -> Vec<String> {
    let name = if id.is_empty() {
        DOMAIN.to_owned()
    } else {
        format!("{id}.{DOMAIN}")
    };
    vec![
        "+tls".into(),
        format!("+tls-hostname={name}"),
        format!("+tls-sni={name}"),
    ]
}

fn doh_at(path: &str, get: bool) -> Vec<String> {
    let mut args = vec![format!("+https={path}"), format!("+tls-hostname={DOMAIN}")];
    if get {
        args.push("+https-get".into());
    }
    args
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dot_server_name_picks_the_devices_profile() {
    let Some((kdig_bin, openssl)) = tools() else {
        return;
    };
    let s = setup(&openssl).await;
    let ask = async |id: &str| kdig(&kdig_bin, s.dot, &s.cert, &dot_as(id)).await;
    assert_eq!(ask("alice").await, "NXDOMAIN", "alice's profile blocks it");
    assert_eq!(ask("ALICE").await, "NXDOMAIN", "names are case-insensitive");
    assert_eq!(
        ask("bob").await,
        "NOERROR",
        "an unknown id: the default profile"
    );
    assert_eq!(ask("").await, "NOERROR", "no id: the default profile");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_doh_path_picks_the_devices_profile_with_get_and_post() {
    let Some((kdig_bin, openssl)) = tools() else {
        return;
    };
    let s = setup(&openssl).await;
    let ask = async |path: &str, get| kdig(&kdig_bin, s.doh, &s.cert, &doh_at(path, get)).await;
    for get in [false, true] {
        let method = if get { "GET" } else { "POST" };
        assert_eq!(ask("/dns-query/alice", get).await, "NXDOMAIN", "{method}");
        assert_eq!(ask("/dns-query/bob", get).await, "NOERROR", "{method}");
        assert_eq!(ask("/dns-query", get).await, "NOERROR", "{method}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replaced_certificate_is_served_to_the_next_connection() {
    let Some((kdig_bin, openssl)) = tools() else {
        return;
    };
    let s = setup(&openssl).await;
    let old_ca = s.cert.with_file_name("old-ca.pem");
    std::fs::copy(&s.cert, &old_ca).unwrap();
    assert_eq!(
        kdig(&kdig_bin, s.dot, &old_ca, &dot_as("alice")).await,
        "NXDOMAIN"
    );

    make_pair(&openssl, &s.cert, &s.key);
    assert_eq!(
        kdig(&kdig_bin, s.dot, &s.cert, &dot_as("alice")).await,
        "NXDOMAIN",
        "the new pair, without a restart"
    );
    let refused = kdig(&kdig_bin, s.dot, &old_ca, &dot_as("alice")).await;
    assert!(
        !refused.starts_with("NOERROR") && !refused.starts_with("NXDOMAIN"),
        "{refused}"
    );

    // A broken pair is not taken: the last good one keeps serving.
    std::fs::write(&s.key, "not a key").unwrap();
    assert_eq!(
        kdig(
            &kdig_bin,
            s.doh,
            &s.cert,
            &doh_at("/dns-query/alice", false)
        )
        .await,
        "NXDOMAIN"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_finishes_the_handshake_is_dropped() {
    let Some((_, openssl)) = tools() else {
        return;
    };
    let s = setup(&openssl).await;
    for port in [s.dot, s.doh] {
        let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        // The handshake timeout is 5 s; a connection still open well after it is a leak.
        assert!(
            closed_by_server(&mut conn, Duration::from_secs(8)).await,
            "port {port}"
        );
    }
}

#[test]
fn a_bad_client_id_is_an_error_at_its_line() {
    let cfg = TestConfig::new(
        &format!("{HEAD}[[client]]\nname = \"x\"\nmatch = [\"id:a_b\"]\nprofile = \"family\"\n"),
        "127.0.0.1:53".parse().unwrap(),
        &[("family", "block = []\n")],
    );
    let errors = familydns::config::load(&cfg.path())
        .unwrap_err()
        .to_string();
    let expected = format!(
        "{}:13:10: `match`: `id:a_b`: a client id has only",
        cfg.path().display()
    );
    assert!(
        errors.contains(&expected),
        "missing:\n{expected}\nin:\n{errors}"
    );
}

/// curl (a real HTTP/1.1 and HTTP/2 client) posting `body` to `path`: the HTTP status and
/// the response body.
async fn curl(s: &Setup, http: &str, path: &str, body: &[u8]) -> Option<(String, Vec<u8>)> {
    let curl = find_program(&["curl"])?;
    let dir = s.cert.parent().unwrap();
    let (request, response) = (dir.join("request.bin"), dir.join("response.bin"));
    std::fs::write(&request, body).unwrap();
    let mut command = Command::new(curl);
    command
        .args(["-s", "--max-time", "10", http, "-o"])
        .arg(&response)
        .args(["-w", "%{http_code}", "--cacert"])
        .arg(&s.cert)
        .args(["--resolve", &format!("{DOMAIN}:{}:127.0.0.1", s.doh)])
        .args([
            "-H",
            "content-type: application/dns-message",
            "--data-binary",
        ])
        .arg(format!("@{}", request.display()))
        .arg(format!("https://{DOMAIN}:{}{path}", s.doh));
    let output = tokio::task::spawn_blocking(move || command.output().expect("curl runs"))
        .await
        .unwrap();
    let status = String::from_utf8_lossy(&output.stdout).into_owned();
    Some((status, std::fs::read(&response).unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread")]
async fn doh_over_http1_and_http2_answers_and_refuses_an_oversized_body() {
    let Some((_, openssl)) = tools() else {
        return;
    };
    let s = setup(&openssl).await;
    let query = common::raw::query(BLOCKED, hickory_proto::rr::RecordType::A, 7);
    let Some((status, body)) = curl(&s, "--http1.1", "/dns-query/alice", &query).await else {
        eprintln!("SKIPPED: curl not installed");
        return;
    };
    assert_eq!(status, "200");
    let (h2, _) = curl(&s, "--http2", "/dns-query/alice", &query)
        .await
        .unwrap();
    assert_eq!(h2, "200", "HTTP/2");
    let answer = hickory_proto::op::Message::from_vec(&body).unwrap();
    assert_eq!(
        answer.metadata.response_code,
        hickory_proto::op::ResponseCode::NXDomain
    );
    for http in ["--http1.1", "--http2"] {
        let big = vec![0u8; 70_000];
        let (status, _) = curl(&s, http, "/dns-query", &big).await.unwrap();
        // 413, or (000) curl saw the refusal as a reset while still sending the body.
        assert!(
            ["413", "000"].contains(&status.as_str()),
            "{http}: {status}"
        );
        let (after, _) = curl(&s, http, "/dns-query", &query).await.unwrap();
        assert_eq!(after, "200", "{http}: still serving");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn encrypted_connections_share_the_tcp_per_client_cap() {
    let Some((_, openssl)) = tools() else {
        return;
    };
    let s = setup_with(&openssl, "[server.tcp]\nmax_per_client = 2\n").await;
    let connect = async |port| {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap()
    };
    // Two handshakes left pending hold both of this client's slots (for 5 s)...
    let _held = [connect(s.dot).await, connect(s.doh).await];
    // ...so a third connection, to either listener, is closed at once.
    let mut third = connect(s.doh).await;
    assert!(closed_by_server(&mut third, Duration::from_secs(2)).await);
}
