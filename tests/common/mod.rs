//! Test harness: a real authoritative upstream on loopback, familydns started exactly as
//! `familydns serve` starts it (on ephemeral ports), and a real DNS client over UDP and TCP.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::RecordType;
pub use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

pub use familydns::app::Running;

pub mod complaints;
pub mod daemon;
pub mod dnsdist;
pub mod exchange;
pub mod filtering;
pub mod parents;
pub mod postgres;
pub mod raw;
pub mod trends;
mod upstream;

pub use upstream::*;

/// A small cut of a real public list in `tests/fixtures/` (origins and licences in its
/// `SOURCES.md`), at the same path it has in `../shared/data`. Tests that only need "a real
/// list" read these, so a clone with nothing beside it passes.
pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// `../shared/data`, the team's full corpus of real lists, when it is beside the repository.
///
/// Tests that need every real list or millions of rules call this first and return when it
/// is `None`, after printing why, so a fresh clone passes and CI (which has the corpus) still
/// runs them.
pub fn shared_data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if dir.is_dir() {
        println!("running on the full corpus in {}", dir.display());
        Some(dir)
    } else {
        println!("SKIPPED: ../shared/data is not present");
        None
    }
}

/// Every client query in tests is bounded by this.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// A UDP socket and a TCP listener on one free loopback port (retrying when the TCP side of
/// the port UDP picked is taken by some other test's connection).
pub async fn udp_and_tcp() -> (UdpSocket, tokio::net::TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        if let Ok(tcp) = tokio::net::TcpListener::bind(udp.local_addr().unwrap()).await {
            return (udp, tcp);
        }
    }
    panic!("no free loopback port for UDP and TCP");
}

/// A config directory for one test: `familydns.toml` and `profiles/`.
pub struct TestConfig {
    pub dir: tempfile::TempDir,
}

impl TestConfig {
    /// Writes `main` (with `{UPSTREAM}`, `{REPO}`, `{DIR}` and `{DATA}`, the fixtures
    /// directory, replaced) and the given profiles.
    pub fn new(main: &str, upstream: SocketAddr, profiles: &[(&str, &str)]) -> TestConfig {
        let dir = tempfile::tempdir().unwrap();
        let main = main
            .replace("{UPSTREAM}", &upstream.to_string())
            .replace("{REPO}", env!("CARGO_MANIFEST_DIR"))
            .replace("{DIR}", dir.path().to_str().unwrap())
            .replace("{DATA}", fixture("").to_str().unwrap());
        std::fs::write(dir.path().join("familydns.toml"), main).unwrap();
        std::fs::create_dir(dir.path().join("profiles")).unwrap();
        for (name, body) in profiles {
            std::fs::write(
                dir.path().join("profiles").join(format!("{name}.toml")),
                body,
            )
            .unwrap();
        }
        TestConfig { dir }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("familydns.toml")
    }

    /// Starts at [`TEST_NOW`]: no test's answers depend on the hour it runs at.
    pub async fn start(&self) -> Running {
        self.start_at(TEST_NOW).await
    }

    /// Starts with the clock pinned to `at` (an RFC 3339 instant).
    pub async fn start_at(&self, at: &str) -> Running {
        let at: jiff::Timestamp = at.parse().unwrap();
        let config = familydns::config::load(&self.path()).unwrap();
        familydns::app::start_with_clock(config, Arc::new(move || at))
            .await
            .expect("familydns starts")
    }
}

/// Runs the `familydns` binary: `familydns SUBCOMMAND --config CONFIG ARGS…`, as a user types it.
pub fn familydns(subcommand: &str, config: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_familydns"))
        .args([subcommand, "--config"])
        .arg(config)
        .args(args)
        .output()
        .unwrap()
}

/// Runs the `familydns` binary off the async threads; success and its output.
pub async fn cli(config: &Path, args: &[&str]) -> (bool, String) {
    let (config, args): (PathBuf, Vec<String>) = (
        config.to_owned(),
        args.iter().map(|a| a.to_string()).collect(),
    );
    let out = tokio::task::spawn_blocking(move || {
        let rest: Vec<&str> = args[1..].iter().map(String::as_str).collect();
        familydns(&args[0], &config, &rest)
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The instant test servers run at unless a test picks its own (`start_at`): a Saturday
/// noon in UTC, outside every school-night and school-hours window the tests write.
pub const TEST_NOW: &str = "2026-11-28T12:00:00Z";

/// [`TEST_NOW`] as a timestamp, for decisions made without a server.
pub fn test_now() -> jiff::Timestamp {
    TEST_NOW.parse().unwrap()
}

/// A config head with ephemeral ports and the test upstream.
pub const HEAD: &str = r#"
default_profile = "family"
[server]
listen = ["127.0.0.1:0"]
[upstream]
servers = ["udp://{UPSTREAM}"]
timeout_ms = 500
cache_entries = 1000
[metrics]
listen = "127.0.0.1:0"
"#;

fn query_message(name: &str, rtype: RecordType, edns_payload: Option<u16>) -> Message {
    query_with_options(name, rtype, edns_payload, vec![])
}

fn query_with_options(
    name: &str,
    rtype: RecordType,
    edns_payload: Option<u16>,
    options: Vec<EdnsOption>,
) -> Message {
    let mut m = Message::new(rand_id(), MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(n(name), rtype));
    if let Some(size) = edns_payload {
        let mut edns = Edns::new();
        edns.set_max_payload(size);
        for o in options {
            edns.options_mut().insert(o);
        }
        m.set_edns(edns);
    }
    m
}

fn rand_id() -> u16 {
    use std::sync::atomic::AtomicU16;
    static NEXT: AtomicU16 = AtomicU16::new(1);
    NEXT.fetch_add(7919, Ordering::Relaxed)
}

/// Sends a query over UDP from `from` (any 127.0.0.0/8 address) and returns the answer.
pub async fn udp_from(
    server: SocketAddr,
    from: IpAddr,
    name: &str,
    rtype: RecordType,
    edns_payload: Option<u16>,
) -> Message {
    udp_message(server, from, query_message(name, rtype, edns_payload)).await
}

/// Sends a query carrying EDNS options (a MAC, a client subnet) from `from`.
pub async fn udp_with_options(
    server: SocketAddr,
    from: &str,
    name: &str,
    rtype: RecordType,
    options: Vec<EdnsOption>,
) -> Message {
    let m = query_with_options(name, rtype, Some(1232), options);
    udp_message(server, from.parse().unwrap(), m).await
}

/// Sends a message the test built itself (EDNS flags, versions, options) and returns the answer.
pub async fn udp_message(server: SocketAddr, from: IpAddr, m: Message) -> Message {
    let sock = UdpSocket::bind(SocketAddr::new(from, 0)).await.unwrap();
    sock.send_to(&m.to_vec().unwrap(), server).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let (len, _) = tokio::time::timeout(CLIENT_TIMEOUT, sock.recv_from(&mut buf))
        .await
        .expect("answer within the client timeout")
        .unwrap();
    let answer = Message::from_vec(&buf[..len]).expect("answer parses");
    assert_eq!(answer.metadata.id, m.metadata.id);
    answer
}

pub async fn udp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    udp_from(
        server,
        "127.0.0.1".parse().unwrap(),
        name,
        rtype,
        Some(1232),
    )
    .await
}

/// Blocked by the filter: NXDOMAIN with an EDE (the upstream's own NXDOMAINs carry none).
pub fn is_blocked(m: &Message) -> bool {
    m.metadata.response_code == hickory_proto::op::ResponseCode::NXDomain && ede(m).is_some()
}

/// The rcode of a TXT query for `name` (the quickest "is it blocked now?").
pub async fn rcode(fdns: &Running, name: &str) -> hickory_proto::op::ResponseCode {
    udp(fdns.dns_addrs[0], name, RecordType::TXT)
        .await
        .metadata
        .response_code
}

/// Sends a query over TCP and returns the answer.
pub async fn tcp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let m = query_message(name, rtype, Some(1232)).to_vec().unwrap();
    let fut = async {
        let mut s = TcpStream::connect(server).await.unwrap();
        s.write_all(&(m.len() as u16).to_be_bytes()).await.unwrap();
        s.write_all(&m).await.unwrap();
        let len = s.read_u16().await.unwrap();
        let mut buf = vec![0u8; usize::from(len)];
        s.read_exact(&mut buf).await.unwrap();
        Message::from_vec(&buf).expect("answer parses")
    };
    tokio::time::timeout(CLIENT_TIMEOUT, fut)
        .await
        .expect("TCP answer within the client timeout")
}

/// GET a path from the metrics endpoint.
pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    let fut = async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    };
    tokio::time::timeout(CLIENT_TIMEOUT, fut)
        .await
        .expect("HTTP answer")
}

/// The EDE (RFC 8914) of an answer: info code and text.
pub fn ede(m: &Message) -> Option<(u16, String)> {
    match m.edns.as_ref()?.option(EdnsCode::Unknown(15))? {
        EdnsOption::Unknown(15, data) if data.len() >= 2 => Some((
            u16::from_be_bytes([data[0], data[1]]),
            String::from_utf8_lossy(&data[2..]).into_owned(),
        )),
        _ => None,
    }
}

/// Polls `check` every 50 ms until it holds or `limit` passes; true if it held.
pub async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A snapshot built without a server, from `familydns.toml` and the other files given
/// (path relative to the config, contents) written into a temporary directory, which lives
/// as long as the snapshot is used.
pub fn snapshot_of(files: &[(&str, &str)]) -> (familydns::snapshot::Snapshot, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("profiles")).unwrap();
    for (path, body) in files {
        std::fs::write(dir.path().join(path), body).unwrap();
    }
    let config = familydns::config::load(&dir.path().join("familydns.toml")).unwrap();
    (
        familydns::snapshot::Snapshot::build(&config, false).unwrap(),
        dir,
    )
}
