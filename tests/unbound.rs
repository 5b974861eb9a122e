//! A real Unbound in front of familydns, with DNS 0x20 on (`use-caps-for-id: yes`, common
//! on ISP and pfSense resolvers): every query reaches us in random letter case, and Unbound
//! drops any reply whose question does not echo its spelling exactly. Blocked names must
//! stay blocked, and allowed names must resolve.
//!
//! Needs Debian's `unbound` (`.ci/run` installs it); without it the test says so and passes,
//! so that the suite still runs on a machine with only the Rust toolchain.

mod common;

use std::process::Command;

use common::daemon::*;
use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

const LISTS: &str = r#"
[[list]]
name = "adult"
category = "adult"
source = "{DIR}/adult.domains"
format = "domains"
"#;

#[tokio::test]
async fn unbound_with_0x20_in_front_keeps_blocks() {
    let Some(unbound) = find_program(&["unbound"]) else {
        eprintln!("SKIPPED: unbound is not installed (apt-get install unbound)");
        return;
    };
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(
        &format!("{HEAD}{LISTS}"),
        upstream.addr,
        &[("family", "block = [\"adult\"]\n")],
    );
    std::fs::write(cfg.dir.path().join("adult.domains"), "pornhub.com\n").unwrap();
    let fdns = cfg.start_at("2026-11-23T12:00:00Z").await;
    let ours = fdns.dns_addrs[0];

    let port = free_port().await;
    let conf = cfg.dir.path().join("unbound.conf");
    std::fs::write(
        &conf,
        format!(
            r#"{server}  verbosity: 1
  module-config: "iterator"
  qname-minimisation: no
  use-caps-for-id: yes
  local-zone: "test." nodefault
  harden-glue: yes
forward-zone:
  name: "."
  forward-addr: {ip}@{ours_port}
"#,
            server = unbound_server(cfg.dir.path(), port),
            ip = ours.ip(),
            ours_port = ours.port(),
        ),
    )
    .unwrap();
    let _unbound = Daemon::start(Command::new(unbound).arg("-d").arg("-c").arg(&conf));
    let front: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let up = dns_is_up(front).await;
    assert!(up, "unbound answers on {front}");

    for name in ["www.pornhub.com.", "pornhub.com.", "CDN.PornHub.com."] {
        let m = udp(front, name, RecordType::A).await;
        assert_eq!(
            m.metadata.response_code,
            ResponseCode::NXDomain,
            "{name} through unbound: {m:?}"
        );
    }
    let m = udp(front, "www.example.test.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{m:?}");
    assert!(
        !m.answers.is_empty(),
        "allowed names resolve through unbound"
    );
    // Whatever spelling Unbound chose, familydns forwarded the one lowercase name.
    assert_eq!(upstream.queries_for("www.example.test."), 1);
}
