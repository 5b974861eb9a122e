//! A real Unbound in front of familydns, with DNS 0x20 on (`use-caps-for-id: yes`, common
//! on ISP and pfSense resolvers): every query reaches us in random letter case, and Unbound
//! drops any reply whose question does not echo its spelling exactly. Blocked names must
//! stay blocked, and allowed names must resolve.
//!
//! Needs Debian's `unbound` (`.ci/run` installs it); without it the test says so and passes,
//! so that the suite still runs on a machine with only the Rust toolchain.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

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

/// Unbound, stopped when dropped.
struct Unbound(Child);

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn unbound_binary() -> Option<&'static str> {
    ["/usr/sbin/unbound", "/usr/local/sbin/unbound"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

#[tokio::test]
async fn unbound_with_0x20_in_front_keeps_blocks() {
    let Some(unbound) = unbound_binary() else {
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

    // A free port for Unbound: taken and released; Unbound binds it right after.
    let port = {
        let (udp, _tcp) = udp_and_tcp().await;
        udp.local_addr().unwrap().port()
    };
    let conf = cfg.dir.path().join("unbound.conf");
    std::fs::write(
        &conf,
        format!(
            r#"server:
  interface: 127.0.0.1
  port: {port}
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{dir}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 1
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "iterator"
  qname-minimisation: no
  use-caps-for-id: yes
  local-zone: "test." nodefault
  harden-glue: yes
forward-zone:
  name: "."
  forward-addr: {ip}@{ours_port}
"#,
            dir = cfg.dir.path().display(),
            ip = ours.ip(),
            ours_port = ours.port(),
        ),
    )
    .unwrap();
    let _unbound = Unbound(
        Command::new(unbound)
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("unbound starts"),
    );
    let front: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let up = eventually(Duration::from_secs(10), async || {
        let probe = async {
            let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.ok()?;
            sock.connect(front).await.ok()?;
            // Any well-formed query: Unbound answers once it listens.
            let q = [0u8, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1];
            sock.send(&q).await.ok()?;
            let mut buf = [0u8; 512];
            tokio::time::timeout(Duration::from_millis(200), sock.recv(&mut buf))
                .await
                .ok()?
                .ok()
        };
        probe.await.is_some()
    })
    .await;
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
