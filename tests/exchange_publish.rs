//! Publishing accepted names as RPZ, with real subscribers from Debian's packages on
//! loopback: `dig` (signed, unsigned and wrongly signed transfers), Unbound (`rpz:` clause,
//! an address-only subscriber since it cannot sign transfers) and BIND (`response-policy`,
//! a TSIG-signed secondary). A name accepted here must be blocked by the subscriber within
//! seconds of the NOTIFY, and unblocked by the IXFR deletion that follows its removal.
//!
//! Needs `dnsutils`, `unbound` and `bind9` (`.ci/run` installs them); a missing one makes its
//! test say SKIPPED and pass.

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::daemon::*;
use common::exchange::*;
use common::*;
use hickory_proto::op::ResponseCode;

/// How long a subscriber may take to apply a change: NOTIFY, SOA check, IXFR.
const APPLY_WITHIN: Duration = Duration::from_secs(15);
/// A name the test upstream resolves, so that "unblocked" is an answer, not NXDOMAIN.
const NAME: &str = "www.example.test";

#[tokio::test]
async fn transfers_need_a_subscribers_key_or_address() {
    if find_program(&["dig"]).is_none() {
        eprintln!("SKIPPED: dig is not installed (apt-get install dnsutils)");
        return;
    }
    let upstream = start_upstream().await;
    let cfg = publisher_config(
        upstream.addr,
        "[[exchange.subscriber]]\nname = \"school1\"\nkey = \"school1\"\n",
    );
    let fdns = cfg.start().await;
    // 600 names: 1,202 records, seven messages, each signed in the chain dig checks.
    let names: Vec<String> = (0..600).map(|i| format!("n{i}.example")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    accept(&fdns, &[("adult", &names)]).await;
    let feed = fdns.exchange_addr().unwrap();
    let port = feed.port().to_string();
    let axfr = async |extra: &[&str]| {
        let mut args = vec!["@127.0.0.1", "-p", &port, "+tcp", ADULT_ZONE, "AXFR"];
        args.extend_from_slice(extra);
        dig(&args).await
    };
    let key = format!("hmac-sha256:school1:{SECRET}");
    let published = eventually(Duration::from_secs(5), async || {
        axfr(&["-y", &key]).await.contains("n599.example")
    })
    .await;
    assert!(published, "a signed AXFR gets the zone");
    let signed = axfr(&["-y", &key]).await;
    assert!(!signed.contains("Transfer failed"), "{signed}");
    let flat = signed.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!("*.n0.example.{ADULT_ZONE}. 60 IN CNAME .")),
        "subdomains too"
    );
    assert_eq!(flat.matches(" IN CNAME .").count(), 1200);
    // dig checked the TSIG of every message of the chain, or it would say so.
    assert!(
        flat.contains("XFR size: 1203 records (messages 7,"),
        "{}",
        &flat[flat.len() - 200..]
    );

    // Unsigned, from an address no subscriber opted out: REFUSED.
    let before = events(&fdns, "refused");
    let unsigned = axfr(&["-b", "127.0.0.2"]).await;
    assert!(unsigned.contains("Transfer failed"), "{unsigned}");
    assert!(!unsigned.contains("n0.example"));
    assert_eq!(events(&fdns, "refused"), before + 1);
    // The right key name with a wrong secret, or a key we do not know: NOTAUTH.
    for key in [
        format!("hmac-sha256:school1:{WRONG_SECRET}"),
        format!("hmac-sha256:other:{SECRET}"),
    ] {
        let before = events(&fdns, "notauth");
        let wrong = axfr(&["-y", &key]).await;
        assert!(
            wrong.contains("Transfer failed") || wrong.contains("tsig verify failure"),
            "{wrong}"
        );
        assert!(!wrong.contains("n0.example"), "{wrong}");
        assert_eq!(events(&fdns, "notauth"), before + 1, "{wrong}");
    }
    // IXFR is refused the same way.
    let ixfr = dig(&[
        "@127.0.0.1",
        "-p",
        &port,
        "-b",
        "127.0.0.2",
        ADULT_ZONE,
        "IXFR=1",
    ])
    .await;
    assert!(!ixfr.contains("n0.example"), "{ixfr}");
}

#[tokio::test]
async fn unbound_subscribes_by_address_and_applies_notify() {
    let Some(unbound) = find_program(&["unbound"]) else {
        eprintln!("SKIPPED: unbound is not installed (apt-get install unbound)");
        return;
    };
    let upstream = start_upstream().await;
    let port = free_port().await;
    let cfg = publisher_config(
        upstream.addr,
        &format!(
            "[[exchange.subscriber]]\nname = \"unbound\"\nunsigned_from = [\"127.0.0.1/32\"]\nnotify = [\"127.0.0.1:{port}\"]\n"
        ),
    );
    let fdns = cfg.start().await;
    accept(&fdns, &[("adult", &["first.example"])]).await;
    let feed = fdns.exchange_addr().unwrap();
    let dir = cfg.dir.path();
    let conf = dir.join("unbound.conf");
    std::fs::write(
        &conf,
        unbound_rpz_conf(dir, port, upstream.addr, feed.port()),
    )
    .unwrap();
    let _unbound = Daemon::start(Command::new(unbound).arg("-d").arg("-c").arg(&conf));
    let front = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(dns_is_up(front).await, "unbound answers on {front}");
    assert!(
        time_until(
            front,
            "first.example.",
            ResponseCode::NXDomain,
            APPLY_WITHIN
        )
        .await
        .is_some(),
        "unbound loaded the feed"
    );
    assert!(
        time_until(
            front,
            "www.example.test.",
            ResponseCode::NoError,
            APPLY_WITHIN
        )
        .await
        .is_some()
    );

    accept(&fdns, &[("adult", &["first.example", NAME])]).await;
    let blocked = time_until(
        front,
        "www.example.test.",
        ResponseCode::NXDomain,
        APPLY_WITHIN,
    )
    .await;
    let blocked = blocked.expect("unbound blocks the accepted name after the NOTIFY");
    let sub = time_until(
        front,
        "cdn.www.example.test.",
        ResponseCode::NXDomain,
        APPLY_WITHIN,
    )
    .await;
    assert!(sub.is_some(), "and its subdomains");
    let ixfr_before = events(&fdns, "ixfr");
    accept(&fdns, &[("adult", &["first.example"])]).await;
    let unblocked = time_until(
        front,
        "www.example.test.",
        ResponseCode::NoError,
        APPLY_WITHIN,
    )
    .await;
    let unblocked = unblocked.expect("unbound unblocks the removed name");
    assert!(
        events(&fdns, "ixfr") > ixfr_before,
        "the removal travelled as IXFR"
    );
    assert!(events(&fdns, "notify_sent") >= 2);
    println!(
        "unbound subscriber: accepted -> blocked in {blocked:?}, removed -> unblocked in {unblocked:?}"
    );
}

#[tokio::test]
async fn bind_transfers_with_tsig_and_applies_notify() {
    let Some(named) = find_program(&["named"]) else {
        eprintln!("SKIPPED: named is not installed (apt-get install bind9)");
        return;
    };
    let upstream = start_upstream().await;
    let port = free_port().await;
    let cfg = publisher_config(
        upstream.addr,
        &format!(
            "[[exchange.subscriber]]\nname = \"bind\"\nkey = \"school1\"\nnotify = [\"127.0.0.1:{port}\"]\n"
        ),
    );
    let fdns = cfg.start().await;
    accept(&fdns, &[("adult", &["first.example"])]).await;
    let feed = fdns.exchange_addr().unwrap();
    let dir = cfg.dir.path();
    let conf = dir.join("named.conf");
    std::fs::write(&conf, named_rpz_conf(dir, port, upstream.addr, feed.port())).unwrap();
    let _named = Daemon::start(Command::new(named).arg("-f").arg("-c").arg(&conf));
    let front = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(dns_is_up(front).await, "named answers on {front}");
    assert!(
        time_until(
            front,
            "first.example.",
            ResponseCode::NXDomain,
            APPLY_WITHIN
        )
        .await
        .is_some(),
        "named transferred the feed with TSIG"
    );
    accept(&fdns, &[("adult", &["first.example", NAME])]).await;
    let blocked = time_until(
        front,
        "www.example.test.",
        ResponseCode::NXDomain,
        APPLY_WITHIN,
    )
    .await;
    let log = || std::fs::read_to_string(dir.join("named.log")).unwrap_or_default();
    let blocked = blocked
        .unwrap_or_else(|| panic!("named blocks the accepted name after the NOTIFY: {}", log()));
    let ixfr_before = events(&fdns, "ixfr");
    accept(&fdns, &[("adult", &["first.example"])]).await;
    let unblocked = time_until(
        front,
        "www.example.test.",
        ResponseCode::NoError,
        APPLY_WITHIN,
    )
    .await;
    let unblocked = unblocked.expect("named unblocks the removed name");
    assert!(
        events(&fdns, "ixfr") > ixfr_before,
        "the removal travelled as IXFR"
    );
    assert_eq!(
        events(&fdns, "refused") + events(&fdns, "notauth"),
        0,
        "every request verified"
    );
    println!(
        "BIND subscriber (TSIG): accepted -> blocked in {blocked:?}, removed -> unblocked in {unblocked:?}"
    );
}

#[tokio::test]
async fn the_transfer_server_is_bounded() {
    use tokio::io::AsyncWriteExt;
    let upstream = start_upstream().await;
    let cfg = publisher_config(
        upstream.addr,
        "max_connections = 2\nidle_timeout = \"1s\"\n[[exchange.subscriber]]\nname = \"local\"\nunsigned_from = [\"127.0.0.1/32\"]\n",
    );
    let fdns = cfg.start().await;
    accept(&fdns, &[("adult", &["first.example"])]).await;
    let feed = fdns.exchange_addr().unwrap();
    assert!(
        eventually(Duration::from_secs(5), async || serial(feed)
            .await
            .is_some())
        .await
    );
    let local = "127.0.0.1".parse().unwrap();

    // Two connections are served; a third is closed at once and counted.
    let mut held = [
        raw::connect_from(local, feed).await,
        raw::connect_from(local, feed).await,
    ];
    let mut soa = raw::frame(
        &format!("{ADULT_ZONE}."),
        hickory_proto::rr::RecordType::SOA,
        7,
    );
    for conn in &mut held {
        conn.write_all(&soa).await.unwrap();
        let answer = raw::read_answer(conn).await;
        assert_eq!(answer.answers.len(), 1, "the zone's SOA");
    }
    let mut third = raw::connect_from(local, feed).await;
    assert!(
        raw::closed_by_server(&mut third, Duration::from_secs(5)).await,
        "over max_connections"
    );
    assert!(events(&fdns, "connection_refused") >= 1);

    // A request longer than the server reads closes the connection; so does idling.
    soa.splice(0..2, 5000u16.to_be_bytes());
    held[0].write_all(&soa).await.unwrap();
    assert!(
        raw::closed_by_server(&mut held[0], Duration::from_secs(5)).await,
        "oversized request"
    );
    assert!(
        raw::closed_by_server(&mut held[1], Duration::from_secs(5)).await,
        "idle past idle_timeout"
    );
    // The slots are free again.
    let mut again = raw::connect_from(local, feed).await;
    let soa = raw::frame(
        &format!("{ADULT_ZONE}."),
        hickory_proto::rr::RecordType::SOA,
        8,
    );
    again.write_all(&soa).await.unwrap();
    assert_eq!(raw::read_answer(&mut again).await.answers.len(), 1);
}

#[tokio::test]
async fn serials_never_go_back_across_restarts() {
    let upstream = start_upstream().await;
    let cfg = publisher_config(
        upstream.addr,
        "[[exchange.subscriber]]\nname = \"local\"\nunsigned_from = [\"127.0.0.1/32\"]\n",
    );
    // The pinned test clock: serials start from it, and must move on even though it does not.
    let fdns = cfg.start().await;
    accept(&fdns, &[("adult", &["a.example"])]).await;
    let mut first = None;
    assert!(
        eventually(Duration::from_secs(5), async || {
            first = serial(fdns.exchange_addr().unwrap()).await;
            first.is_some()
        })
        .await
    );
    fdns.shut_down().await;

    let fdns = cfg.start().await;
    let feed = fdns.exchange_addr().unwrap();
    assert_eq!(
        serial(feed).await,
        first,
        "the saved zone is served at start"
    );
    accept(&fdns, &[("adult", &["a.example"])]).await;
    accept(&fdns, &[("adult", &["a.example", "b.example"])]).await;
    let moved = eventually(Duration::from_secs(5), async || {
        serial(feed).await == first.map(|s| s + 1)
    })
    .await;
    assert!(
        moved,
        "one change, one step after the saved serial: {:?}",
        serial(feed).await
    );
}
