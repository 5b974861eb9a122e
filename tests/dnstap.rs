//! dnstap out, read back by the real tools: `fstrm_capture` (Debian's `fstrm-bin`) takes the
//! Frame Streams connection and writes the file, and `dnstap-ldns` (Debian's `dnstap-ldns`)
//! decodes it. Both are installed by `.ci/run`; without them the tests say so and pass.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::daemon::*;
use common::raw::metric;
use common::*;
use familydns::dnstap::message::Dnstap;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use prost::Message as _;

const BLOCKED: &str = "short.example.test.";

/// `target` is the `[dnstap]` line naming the collector: `socket = "…"` or `tcp = "…"`.
fn main_config(target: &str, queue: usize) -> String {
    format!(
        r#"{HEAD}
[dnstap]
{target}
identity = "fdns-test"
queue = {queue}
[[list]]
name = "adult"
category = "adult"
source = "{{DIR}}/adult.domains"
format = "domains"
"#
    )
}

fn config(upstream: std::net::SocketAddr, target: &str, queue: usize) -> TestConfig {
    let cfg = TestConfig::new(
        &main_config(target, queue),
        upstream,
        &[("family", "block = [\"adult\"]\n")],
    );
    std::fs::write(cfg.dir.path().join("adult.domains"), "short.example.test\n").unwrap();
    cfg
}

/// A running `fstrm_capture`, stopped with SIGTERM so that it closes its file properly.
struct Capture {
    child: Child,
    file: PathBuf,
    /// What it says on stderr (`-ddd`: connections accepted and closed).
    said: Arc<Mutex<String>>,
}

impl Capture {
    /// Captures into `file` from where `listen` says (`-u PATH` or `-a IP -p PORT`).
    fn start(program: &Path, listen: &[&str], file: &Path) -> Capture {
        let mut child = Command::new(program)
            .args(["-ddd", "-t", "protobuf:dnstap.Dnstap"])
            .args(listen)
            .arg("-w")
            .arg(file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let said = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let into = said.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                into.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Capture {
            child,
            file: file.to_owned(),
            said,
        }
    }

    /// Waits until the capture has read a connection to its end (our STOP): only then is
    /// everything we sent in its file.
    async fn connection_closed(&self) {
        let closed = eventually(Duration::from_secs(10), async || {
            self.said.lock().unwrap().contains(": closing (read")
        })
        .await;
        assert!(
            closed,
            "fstrm_capture saw the stream end: {}",
            self.said.lock().unwrap()
        );
    }

    /// Stops the capture once it has read our stream to its end, and decodes its file with
    /// `dnstap-ldns -y`.
    async fn finish(mut self, reader: &Path) -> String {
        self.connection_closed().await;
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap();
        let out = Command::new(reader)
            .arg("-y")
            .arg("-r")
            .arg(&self.file)
            .output()
            .unwrap();
        assert!(out.status.success(), "dnstap-ldns reads the file: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The data frames of a Frame Streams file (control frames skipped).
fn payloads(file: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(file).unwrap();
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let (mut at, mut out) = (0, Vec::new());
    while at + 4 <= bytes.len() {
        let len = word(at);
        at += 4;
        if len == 0 {
            at += 4 + word(at);
        } else {
            out.push(bytes[at..at + len].to_vec());
            at += len;
        }
    }
    out
}

fn tools() -> Option<(PathBuf, PathBuf)> {
    let found = find_program(&["fstrm_capture"]).zip(find_program(&["dnstap-ldns"]));
    if found.is_none() {
        eprintln!(
            "SKIPPED: fstrm_capture or dnstap-ldns missing (apt-get install fstrm-bin dnstap-ldns)"
        );
    }
    found
}

#[tokio::test]
async fn queries_and_answers_reach_fstrm_capture_with_the_decision() {
    let Some((capture, reader)) = tools() else {
        return;
    };
    let upstream = start_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("dnstap.sock");
    let path = socket.to_str().unwrap();
    let cap = Capture::start(&capture, &["-u", path], &dir.path().join("out.fstrm"));
    let listening = eventually(Duration::from_secs(10), async || socket.exists()).await;
    assert!(listening, "fstrm_capture listens on {path}");
    let cfg = config(upstream.addr, &format!("socket = \"{path}\""), 1000);
    let fdns = cfg.start().await;
    let ours = fdns.dns_addrs[0];

    let connected = eventually(Duration::from_secs(10), async || {
        metric(&fdns, "familydns_dnstap_connected").await == 1
    })
    .await;
    assert!(connected, "familydns connects to the collector");
    let m = udp(ours, BLOCKED, RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    let m = udp(ours, "www.example.test.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let m = tcp(ours, "www.example.test.", RecordType::AAAA).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let sent = eventually(Duration::from_secs(10), async || {
        metric(&fdns, "familydns_dnstap_sent_total").await == 3
    })
    .await;
    assert!(sent, "three events written");
    // Stopping sends STOP; the capture then closes its file on SIGTERM.
    fdns.stop();
    let yaml = cap.finish(&reader).await;

    let messages: Vec<&str> = yaml
        .split("---\n")
        .filter(|m| m.contains("type: MESSAGE"))
        .collect();
    assert_eq!(messages.len(), 6, "a query and a response each: {yaml}");
    let count = |needle: &str| messages.iter().filter(|m| m.contains(needle)).count();
    assert_eq!(count("type: CLIENT_QUERY"), 3, "{yaml}");
    assert_eq!(count("type: CLIENT_RESPONSE"), 3, "{yaml}");
    assert_eq!(count("identity: \"fdns-test\""), 6, "{yaml}");
    assert_eq!(count("socket_protocol: UDP"), 4, "{yaml}");
    assert_eq!(count("socket_protocol: TCP"), 2, "{yaml}");
    assert_eq!(count("query_address: \"127.0.0.1\""), 6, "{yaml}");
    // dnstap-ldns prints no policy fields: read them from the captured file with the schema.
    let policies: Vec<Option<(String, i32)>> = payloads(&dir.path().join("out.fstrm"))
        .iter()
        .map(|p| Dnstap::decode(&p[..]).unwrap().message.unwrap().policy)
        .map(|policy| {
            policy.map(|p| {
                assert_eq!(p.r#type.as_deref(), Some("familydns"));
                assert_eq!(
                    p.value.as_deref(),
                    Some(&b"\x05short\x07example\x04test\x00"[..])
                );
                (
                    String::from_utf8(p.rule.unwrap()).unwrap(),
                    p.action.unwrap(),
                )
            })
        })
        .collect();
    let block = Some(("blocked: category adult".to_owned(), 1)); // action NXDOMAIN
    assert_eq!(policies, [block.clone(), block, None, None, None, None]);
    let blocked: Vec<&&str> = messages
        .iter()
        .filter(|m| m.contains("type: CLIENT_RESPONSE") && m.contains("short.example.test"))
        .collect();
    assert_eq!(blocked.len(), 1, "{yaml}");
    assert!(blocked[0].contains("NXDOMAIN"), "{}", blocked[0]);
}

#[tokio::test]
async fn a_missing_tcp_collector_costs_dropped_events_then_reconnects() {
    let Some((capture, reader)) = tools() else {
        return;
    };
    let upstream = start_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().await.to_string();
    // A queue of 4 and no collector: answers keep coming, events beyond 4 are dropped.
    let cfg = config(upstream.addr, &format!("tcp = \"127.0.0.1:{port}\""), 4);
    let fdns = cfg.start().await;
    let ours = fdns.dns_addrs[0];
    for _ in 0..20 {
        let m = udp(ours, BLOCKED, RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    }
    assert_eq!(metric(&fdns, "familydns_dnstap_dropped_total").await, 16);
    assert_eq!(metric(&fdns, "familydns_dnstap_connected").await, 0);

    // The collector comes up: the writer finds it, sends the 4 it kept, and what follows.
    let listen = ["-a", "127.0.0.1", "-p", &port];
    let cap = Capture::start(&capture, &listen, &dir.path().join("out.fstrm"));
    let caught_up = eventually(Duration::from_secs(30), async || {
        metric(&fdns, "familydns_dnstap_sent_total").await == 4
    })
    .await;
    assert!(caught_up, "the queued events are sent after reconnecting");
    udp(ours, "www.example.test.", RecordType::A).await;
    let sent = eventually(Duration::from_secs(10), async || {
        metric(&fdns, "familydns_dnstap_sent_total").await == 5
    })
    .await;
    assert!(sent);
    assert!(metric(&fdns, "familydns_dnstap_reconnects_total").await >= 1);
    fdns.stop();
    let yaml = cap.finish(&reader).await;
    assert_eq!(yaml.matches("type: CLIENT_QUERY").count(), 5, "{yaml}");
}
