//! Replays the committed corpus of malformed inputs (`tests/corpus/`): packets to a real
//! server, list files to every parser, config files to the loader. None may panic, and the
//! server must answer afterwards. `cargo fuzz` (see README) grows such inputs; crashers it
//! finds belong here.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use familydns::lists::{Format, parse_str, read_list};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

#[tokio::test]
async fn malformed_packets_never_stop_the_server() {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(HEAD, upstream.addr, &[("family", "")]);
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];
    for file in corpus("packets") {
        let packet = std::fs::read(&file).unwrap();
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sock.send_to(&packet, s).await.unwrap();
        let mut buf = [0u8; 4096];
        // An answer (FORMERR, NOTIMP, REFUSED…) or silence; either way, bounded.
        let _ = tokio::time::timeout(Duration::from_millis(200), sock.recv_from(&mut buf)).await;
        // Over TCP too, framed.
        if let Ok(mut tcp) = tokio::net::TcpStream::connect(s).await {
            use tokio::io::AsyncWriteExt;
            let _ = tcp.write_all(&(packet.len() as u16).to_be_bytes()).await;
            let _ = tcp.write_all(&packet).await;
        }
        let m = udp(s, "www.example.test.", RecordType::A).await;
        assert_eq!(
            m.metadata.response_code,
            ResponseCode::NoError,
            "after {}",
            file.display()
        );
    }
}

#[test]
fn malformed_lists_parse_without_panic() {
    for file in corpus("lists") {
        let text = read_list(&file).unwrap();
        for format in [
            Format::Auto,
            Format::Hosts,
            Format::Domains,
            Format::Adblock,
            Format::Wildcard,
            Format::Dnsmasq,
            Format::Rpz,
            Format::Unbound,
            Format::Regex,
            Format::Keywords,
        ] {
            let stats = parse_str(&text, format, |rule| assert!(!rule.name.is_empty()));
            assert!(stats.lines > 0, "{}", file.display());
        }
    }
}

#[test]
fn malformed_configs_are_errors_not_panics() {
    for file in corpus("configs") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("familydns.toml");
        std::fs::copy(&file, &path).unwrap();
        let err = familydns::config::load(&path).unwrap_err().to_string();
        assert!(err.contains("familydns.toml"), "{}: {err}", file.display());
    }
}
