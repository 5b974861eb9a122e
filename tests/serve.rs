//! `familydns serve` as an operator runs it: the binary, not the library. The runtime it builds
//! depends on the cores it may run on (one core: the current-thread scheduler; more: one worker
//! each), so both are started, the first pinned to one core with `taskset`, as the peer bench
//! and a single-core router run it.

mod common;

use std::net::SocketAddr;
use std::process::Command;

use common::daemon::{Daemon, dns_is_up, free_port};
use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

/// A blocklist from the fixtures and a profile that blocks it.
const LIST: &str = r#"
[[list]]
name = "sinfonietta-gambling"
category = "gambling"
source = "{DATA}/hosts/sinfonietta-gambling-hosts"
format = "hosts"
"#;

/// Starts `familydns serve` (under `taskset -c 0` when `one_core`) on a free loopback port
/// with `LIST` and a profile blocking it, and waits until it answers.
async fn serve(upstream: SocketAddr, one_core: bool) -> (Daemon, TestConfig, SocketAddr) {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port().await));
    let head = HEAD.replace("[\"127.0.0.1:0\"]", &format!("[\"{addr}\"]"));
    let cfg = TestConfig::new(
        &format!("{head}{LIST}"),
        upstream,
        &[("family", "block = [\"gambling\"]\n")],
    );
    let binary = env!("CARGO_BIN_EXE_familydns");
    let mut command = if one_core {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", binary]);
        c
    } else {
        Command::new(binary)
    };
    command.arg("serve").arg("--config").arg(cfg.path());
    let daemon = Daemon::start(&mut command);
    assert!(dns_is_up(addr).await, "familydns serve answers on {addr}");
    (daemon, cfg, addr)
}

/// Forwards an allowed name; blocks a listed name, its subdomain and a listed name in capitals.
async fn answers_and_blocks(one_core: bool) {
    let upstream = start_upstream().await;
    let (_daemon, _cfg, addr) = serve(upstream.addr, one_core).await;

    let allowed = udp(addr, "www.example.test.", RecordType::A).await;
    assert_eq!(allowed.metadata.response_code, ResponseCode::NoError);
    assert!(!allowed.answers.is_empty(), "{allowed:?}");
    for name in ["10bet.com.", "www.10bet.com.", "11WICKETS.com."] {
        let m = udp(addr, name, RecordType::A).await;
        assert!(is_blocked(&m), "{name}: {m:?}");
    }
}

#[tokio::test]
async fn serve_pinned_to_one_core_answers_and_blocks() {
    answers_and_blocks(true).await;
}

#[tokio::test]
async fn serve_on_every_core_answers_and_blocks() {
    answers_and_blocks(false).await;
}
