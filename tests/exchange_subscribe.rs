//! Subscribing to RPZ feeds as a list source: from a real NSD (TSIG-signed transfers, its
//! NOTIFY applied within seconds, the cached copy filtering after a restart with NSD
//! stopped), and from another familydns, all on loopback.
//!
//! Needs Debian's `nsd` (`.ci/run` installs it) for the first test; without it the test says
//! SKIPPED and passes.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::daemon::*;
use common::exchange::*;
use common::*;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

/// How long a change may take to reach the subscriber: NOTIFY, transfer, reload.
const APPLY_WITHIN: Duration = Duration::from_secs(15);

/// A subscriber listening on `port` (a primary's NOTIFY goes there), blocking `adult`, whose
/// only list is the feed at `source`.
fn subscriber_config(upstream: SocketAddr, port: u16, source: &str) -> TestConfig {
    TestConfig::new(
        &format!(
            r#"default_profile = "family"
[server]
listen = ["127.0.0.1:{port}"]
[upstream]
servers = ["udp://{{UPSTREAM}}"]
timeout_ms = 500
{KEY}
[[list]]
name = "partner"
category = "adult"
source = "{source}"
refresh = "1h"
"#
        ),
        upstream,
        &[("family", "block = [\"adult\"]\n")],
    )
}

fn zone_file(serial: u32, names: &[&str]) -> String {
    let mut zone = format!(
        "$ORIGIN partner.example.\n$TTL 60\n@ SOA ns.partner.example. admin.partner.example. {serial} 300 60 604800 60\n@ NS localhost.\n"
    );
    for name in names {
        zone.push_str(&format!("{name} CNAME .\n*.{name} CNAME .\n"));
    }
    zone
}

fn nsd_conf(dir: &std::path::Path, port: u16, notify_port: u16) -> String {
    format!(
        r#"server:
  ip-address: 127.0.0.1@{port}
  port: {port}
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "{dir}"
  database: ""
  pidfile: ""
  xfrdfile: "{dir}/xfrd.state"
  zonelistfile: "{dir}/zone.list"
  logfile: "{dir}/nsd.log"
  server-count: 1
remote-control:
  control-enable: no
key:
  name: "school1"
  algorithm: hmac-sha256
  secret: "{SECRET}"
zone:
  name: "partner.example."
  zonefile: "partner.example.zone"
  provide-xfr: 127.0.0.1 school1
  notify: 127.0.0.1@{notify_port} school1
"#,
        dir = dir.display()
    )
}

/// A NOTIFY for `zone`, unsigned.
fn notify(zone: &str) -> Message {
    let mut m = Message::new(4242, MessageType::Query, OpCode::Notify);
    m.add_query(Query::query(
        Name::from_ascii(zone).unwrap(),
        RecordType::SOA,
    ));
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn familydns_subscribes_to_an_nsd_feed() {
    let Some(nsd) = find_program(&["nsd"]) else {
        eprintln!("SKIPPED: nsd is not installed (apt-get install nsd)");
        return;
    };
    let upstream = start_upstream().await;
    let nsd_dir = tempfile::tempdir().unwrap();
    let dir = nsd_dir.path();
    let (nsd_port, port) = (free_port().await, free_port().await);
    let zone = dir.join("partner.example.zone");
    std::fs::write(&zone, zone_file(1, &["first.example"])).unwrap();
    std::fs::write(dir.join("nsd.conf"), nsd_conf(dir, nsd_port, port)).unwrap();
    let mut nsd_command = Command::new(nsd);
    nsd_command.arg("-d").arg("-c").arg(dir.join("nsd.conf"));
    let nsd = Daemon::start(&mut nsd_command);
    assert!(
        dns_is_up(SocketAddr::from(([127, 0, 0, 1], nsd_port))).await,
        "nsd answers"
    );

    let source = format!("rpz+axfr://127.0.0.1:{nsd_port}/partner.example#school1");
    let cfg = subscriber_config(upstream.addr, port, &source);
    let fdns = cfg.start().await;
    let ours = fdns.dns_addrs[0];
    let first = time_until(ours, "first.example.", ResponseCode::NXDomain, APPLY_WITHIN).await;
    let first = first.expect("the feed's name is blocked after the first (signed) transfer");
    assert!(
        time_until(
            ours,
            "x.first.example.",
            ResponseCode::NXDomain,
            APPLY_WITHIN
        )
        .await
        .is_some()
    );
    assert!(
        time_until(
            ours,
            "www.example.test.",
            ResponseCode::NoError,
            APPLY_WITHIN
        )
        .await
        .is_some()
    );

    // NSD's zone changes; its NOTIFY (signed) makes us transfer at once.
    std::fs::write(&zone, zone_file(2, &["first.example", "www.example.test"])).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &nsd.0.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let notified = time_until(
        ours,
        "www.example.test.",
        ResponseCode::NXDomain,
        APPLY_WITHIN,
    )
    .await;
    let notified = notified.expect("NSD's NOTIFY is applied within seconds");
    assert!(
        events(&fdns, "notify_in") >= 1,
        "the change came by NOTIFY, not the 1 h refresh"
    );

    // Anything else NOTIFY-shaped is refused: another address, or unsigned for a keyed feed.
    let before = events(&fdns, "notify_refused");
    for from in ["127.0.0.2", "127.0.0.1"] {
        let m = udp_message(ours, from.parse().unwrap(), notify("partner.example.")).await;
        assert_eq!(
            m.metadata.response_code,
            ResponseCode::Refused,
            "from {from}"
        );
    }
    assert_eq!(events(&fdns, "notify_refused"), before + 2);
    println!(
        "NSD feed -> familydns: first transfer blocks in {first:?}, NSD zone change (NOTIFY) -> blocked in {notified:?}"
    );

    // NSD stopped, familydns restarted: the cached copy still blocks.
    fdns.shut_down().await;
    drop(nsd);
    let fdns = cfg.start().await;
    let ours = fdns.dns_addrs[0];
    for name in [
        "first.example.",
        "www.example.test.",
        "cdn.www.example.test.",
    ] {
        let m = udp(ours, name, RecordType::A).await;
        assert_eq!(
            m.metadata.response_code,
            ResponseCode::NXDomain,
            "{name} from the cached copy"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn familydns_subscribes_to_familydns() {
    let upstream = start_upstream().await;
    let port = free_port().await;
    let publisher = TestConfig::new(
        &format!(
            "{HEAD}{KEY}{REVIEWING}\n[exchange]\nlisten = \"127.0.0.1:0\"\nzone = \"{FEED}\"\n[[exchange.subscriber]]\nname = \"b\"\nkey = \"school1\"\nnotify = [\"127.0.0.1:{port}\"]\n"
        ),
        upstream.addr,
        &[("family", "")],
    );
    let a = publisher.start().await;
    accept(&a, &[("adult", &["first.example"])]).await;
    let feed = a.exchange_addr().unwrap();
    let source = format!("rpz+axfr://127.0.0.1:{}/{ADULT_ZONE}#school1", feed.port());
    let cfg = subscriber_config(upstream.addr, port, &source);
    let b = cfg.start().await;
    let ours = b.dns_addrs[0];
    assert!(
        time_until(ours, "first.example.", ResponseCode::NXDomain, APPLY_WITHIN)
            .await
            .is_some()
    );
    assert!(
        time_until(
            ours,
            "www.example.test.",
            ResponseCode::NoError,
            APPLY_WITHIN
        )
        .await
        .is_some()
    );

    accept(&a, &[("adult", &["first.example", "www.example.test"])]).await;
    let blocked = time_until(
        ours,
        "www.example.test.",
        ResponseCode::NXDomain,
        APPLY_WITHIN,
    )
    .await;
    let blocked = blocked.expect("the second instance blocks the name accepted on the first");
    let ixfr = events(&a, "ixfr");
    accept(&a, &[("adult", &["first.example"])]).await;
    let unblocked = time_until(
        ours,
        "www.example.test.",
        ResponseCode::NoError,
        APPLY_WITHIN,
    )
    .await;
    let unblocked = unblocked.expect("and unblocks it after the removal");
    assert!(events(&a, "ixfr") > ixfr, "by IXFR");
    assert_eq!(events(&a, "refused") + events(&a, "notauth"), 0);
    assert!(events(&b, "notify_in") >= 2);
    println!(
        "familydns -> familydns: accepted -> blocked in {blocked:?}, removed -> unblocked in {unblocked:?}"
    );
}
