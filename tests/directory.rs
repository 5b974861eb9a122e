//! The PostgreSQL subscriber directory, against a real PostgreSQL (a throwaway cluster per
//! test, Debian's `postgresql`) with the shipped schema: profiles by prefix from real DNS
//! queries from different loopback addresses, changes by LISTEN/NOTIFY within a second, the
//! database going away (still serving, `/health` says so), a restart from the snapshot on
//! disk, and reconnection that picks up what changed meanwhile. The last test puts a real
//! dnsdist with PROXY v2 in front of two instances sharing the directory.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::daemon::*;
use common::dnsdist::{find_dnsdist, start_dnsdist};
use common::postgres::Cluster;
use common::raw::metric;
use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

const BLOCKED: &str = "short.example.test.";
const NXDOMAIN: ResponseCode = ResponseCode::NXDomain;
const NOERROR: ResponseCode = ResponseCode::NoError;
/// How soon a change in PostgreSQL must answer (issue 16).
const LIVE: Duration = Duration::from_secs(1);

/// `kids` blocks the adult list (`short.example.test`); `family`, the default, does not.
/// 127.0.0.5 is a `[[client]]` of the config, which comes before the directory.
fn config(upstream: SocketAddr, conninfo: &str, extra: &str) -> TestConfig {
    let main = format!(
        r#"
default_profile = "family"
[server]
listen = ["127.0.0.1:0"]
trusted_proxies = ["127.0.0.1/32"]
[upstream]
servers = ["udp://{{UPSTREAM}}"]
timeout_ms = 500
[metrics]
listen = "127.0.0.1:0"
[directory]
postgres = "{conninfo}"
snapshot = "{{DIR}}/subscribers.snap"
reconnect_max = "200ms"
{extra}
[[list]]
name = "adult"
category = "adult"
source = "{{DIR}}/adult.domains"
format = "domains"
[[client]]
name = "grown-up"
match = ["127.0.0.5"]
profile = "family"
"#
    );
    let cfg = TestConfig::new(
        &main,
        upstream,
        &[("family", ""), ("kids", "block = [\"adult\"]\n")],
    );
    std::fs::write(cfg.dir.path().join("adult.domains"), "short.example.test\n").unwrap();
    cfg
}

/// The rcode of `BLOCKED` asked from `from`.
async fn from(server: SocketAddr, from: &str) -> ResponseCode {
    udp_from(
        server,
        from.parse().unwrap(),
        BLOCKED,
        RecordType::TXT,
        Some(1232),
    )
    .await
    .metadata
    .response_code
}

/// Waits until `client` gets `want` from every server, at most `limit`; how long it took.
async fn until(
    servers: &[SocketAddr],
    client: &str,
    want: ResponseCode,
    limit: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    let held = eventually(limit, async || {
        for &s in servers {
            if from(s, client).await != want {
                return false;
            }
        }
        true
    })
    .await;
    held.then(|| start.elapsed())
}

async fn health(fdns: &Running) -> String {
    http_get(fdns.metrics_listening().unwrap(), "/health").await
}

#[tokio::test]
async fn profiles_come_from_the_directory_and_follow_its_changes() {
    let Some(pg) = Cluster::start().await else {
        return;
    };
    let db = pg.database("follow").await;
    db.batch_execute(
        "INSERT INTO familydns_subscribers (prefix, profile) VALUES
           ('127.0.0.2/32', 'kids'), ('127.0.0.16/28', 'kids'), ('127.0.0.20/32', 'family'),
           ('127.0.0.5/32', 'kids')",
    )
    .await
    .unwrap();
    let upstream = start_upstream().await;
    let cfg = config(upstream.addr, &pg.conninfo(pg.port, "follow"), "");
    let fdns = cfg.start().await;
    let dns = [fdns.dns_addrs[0]];

    // Loaded before the first answer; the longest prefix wins; `[[client]]` comes first.
    assert_eq!(from(dns[0], "127.0.0.2").await, NXDOMAIN);
    assert_eq!(from(dns[0], "127.0.0.17").await, NXDOMAIN);
    assert_eq!(from(dns[0], "127.0.0.20").await, NOERROR);
    assert_eq!(from(dns[0], "127.0.0.3").await, NOERROR);
    assert_eq!(from(dns[0], "127.0.0.5").await, NOERROR);
    assert_eq!(metric(&fdns, "familydns_directory_connected").await, 1);
    assert_eq!(metric(&fdns, "familydns_directory_rows").await, 4);
    assert!(
        health(&fdns)
            .await
            .contains("directory: connected, 4 subscribers")
    );

    // UPDATE, INSERT, DELETE: each answers within a second.
    db.batch_execute(
        "UPDATE familydns_subscribers SET profile = 'family' WHERE prefix = '127.0.0.2/32'",
    )
    .await
    .unwrap();
    let took = until(&dns, "127.0.0.2", NOERROR, LIVE).await;
    assert!(took.is_some(), "the UPDATE answers within a second");
    db.batch_execute(
        "INSERT INTO familydns_subscribers (prefix, profile) VALUES ('127.0.0.3/32', 'kids')",
    )
    .await
    .unwrap();
    assert!(
        until(&dns, "127.0.0.3", NXDOMAIN, LIVE).await.is_some(),
        "the INSERT"
    );
    db.batch_execute("DELETE FROM familydns_subscribers WHERE prefix = '127.0.0.16/28'")
        .await
        .unwrap();
    assert!(
        until(&dns, "127.0.0.17", NOERROR, LIVE).await.is_some(),
        "the DELETE"
    );
    // Set back and forth in one transaction: the last value wins.
    db.batch_execute(
        "BEGIN;
         UPDATE familydns_subscribers SET profile = 'kids' WHERE prefix = '127.0.0.2/32';
         UPDATE familydns_subscribers SET profile = 'family' WHERE prefix = '127.0.0.2/32';
         UPDATE familydns_subscribers SET profile = 'kids' WHERE prefix = '127.0.0.2/32';
         COMMIT",
    )
    .await
    .unwrap();
    assert!(until(&dns, "127.0.0.2", NXDOMAIN, LIVE).await.is_some());

    // A profile the config does not have: the default profile, and counted.
    assert_eq!(
        metric(&fdns, "familydns_directory_unknown_profile_total").await,
        0
    );
    db.batch_execute(
        "UPDATE familydns_subscribers SET profile = 'no-such' WHERE prefix = '127.0.0.3/32'",
    )
    .await
    .unwrap();
    assert!(until(&dns, "127.0.0.3", NOERROR, LIVE).await.is_some());
    assert_eq!(
        metric(&fdns, "familydns_directory_unknown_profile_total").await,
        1
    );

    // A bulk change (over the trigger's 1000 rows) is one full reload.
    db.batch_execute(
        "INSERT INTO familydns_subscribers (prefix, profile)
           SELECT ('10.0.' || (i / 256) || '.' || (i % 256) || '/32')::cidr, 'kids'
           FROM generate_series(0, 1999) AS i",
    )
    .await
    .unwrap();
    let reloaded = eventually(Duration::from_secs(5), async || {
        metric(&fdns, "familydns_directory_rows").await == 2004
    })
    .await;
    assert!(reloaded, "the bulk insert is loaded");
    assert!(metric(&fdns, "familydns_directory_changes_applied_total").await >= 7);
}

#[tokio::test]
async fn the_database_going_away_loses_nothing() {
    let Some(pg) = Cluster::start().await else {
        return;
    };
    let db = pg.database("away").await;
    db.batch_execute(
        "INSERT INTO familydns_subscribers (prefix, profile) VALUES ('127.0.0.2/32', 'kids')",
    )
    .await
    .unwrap();
    drop(db);
    let upstream = start_upstream().await;
    let cfg = config(upstream.addr, &pg.conninfo(pg.port, "away"), "");
    let snap = cfg.dir.path().join("subscribers.snap");
    let fdns = cfg.start().await;
    let dns = fdns.dns_addrs[0];
    assert_eq!(from(dns, "127.0.0.2").await, NXDOMAIN);
    let saved = eventually(Duration::from_secs(5), async || snap.is_file()).await;
    assert!(saved, "the table is written to disk");

    // PostgreSQL stops: still serving the last table, and /health says so.
    pg.down();
    let noticed = eventually(Duration::from_secs(5), async || {
        health(&fdns)
            .await
            .contains("directory: PostgreSQL unreachable since")
    })
    .await;
    assert!(noticed, "{}", health(&fdns).await);
    assert_eq!(metric(&fdns, "familydns_directory_connected").await, 0);
    assert_eq!(from(dns, "127.0.0.2").await, NXDOMAIN);

    // A restart while it is down serves the snapshot on disk.
    fdns.shut_down().await;
    let fdns = cfg.start().await;
    let dns = fdns.dns_addrs[0];
    assert_eq!(from(dns, "127.0.0.2").await, NXDOMAIN);
    assert_eq!(metric(&fdns, "familydns_directory_rows").await, 1);
    assert!(health(&fdns).await.contains("unreachable"));

    // Changes made where this instance cannot see them (the server on another port)...
    let elsewhere = free_port().await;
    pg.up(elsewhere);
    pg.client(elsewhere, "away")
        .await
        .batch_execute(
            "UPDATE familydns_subscribers SET profile = 'family';
             INSERT INTO familydns_subscribers (prefix, profile) VALUES ('127.0.0.3/32', 'kids')",
        )
        .await
        .unwrap();
    pg.down();
    // ...are there once it is back and reconnected: a full load follows every reconnect.
    pg.up(pg.port);
    assert!(
        until(&[dns], "127.0.0.2", NOERROR, Duration::from_secs(10))
            .await
            .is_some()
    );
    assert_eq!(from(dns, "127.0.0.3").await, NXDOMAIN);
    assert!(metric(&fdns, "familydns_directory_reconnects_total").await >= 1);
    assert!(
        health(&fdns)
            .await
            .contains("directory: connected, 2 subscribers")
    );
}

#[tokio::test]
async fn dnsdist_in_front_of_two_instances_sharing_the_directory() {
    let Some(dnsdist) = find_dnsdist() else {
        return;
    };
    let Some(pg) = Cluster::start().await else {
        return;
    };
    let db = pg.database("shared").await;
    db.batch_execute(
        "INSERT INTO familydns_subscribers (prefix, profile) VALUES ('127.0.0.2/32', 'kids')",
    )
    .await
    .unwrap();
    let upstream = start_upstream().await;
    // Each instance its own snapshot file.
    let conninfo = pg.conninfo(pg.port, "shared");
    let (cfg_a, cfg_b) = (
        config(upstream.addr, &conninfo, ""),
        config(upstream.addr, &conninfo, ""),
    );
    let (a, b) = (cfg_a.start().await, cfg_b.start().await);
    let (pa, pb) = (a.dns_addrs[0], b.dns_addrs[0]);

    let dnsdist = start_dnsdist(&dnsdist, cfg_a.dir.path(), &[pa, pb]).await;
    let front = dnsdist.front;

    // Round robin: whichever instance answers, the subscriber's profile applies (three
    // queries a round, so that each client's queries reach both).
    for _ in 0..6 {
        assert_eq!(from(front, "127.0.0.2").await, NXDOMAIN);
        assert_eq!(from(front, "127.0.0.3").await, NOERROR);
        assert_eq!(from(front, "127.0.0.4").await, NOERROR);
    }
    for instance in [&a, &b] {
        let text = http_get(instance.metrics_listening().unwrap(), "/metrics").await;
        assert!(
            text.contains(r#"familydns_queries_total{decision="blocked",profile="kids"}"#),
            "each instance blocked for the kids' subscriber: {text}"
        );
    }

    // A change in PostgreSQL reaches both: asked of each instance directly, and through
    // dnsdist.
    db.batch_execute(
        "UPDATE familydns_subscribers SET profile = 'family' WHERE prefix = '127.0.0.2/32'",
    )
    .await
    .unwrap();
    let took = until(&[pa, pb], "127.0.0.2", NOERROR, LIVE).await;
    let took = took.expect("the UPDATE answers on both instances within a second");
    println!("UPDATE to the new profile answering on both instances: {took:?}");
    for _ in 0..6 {
        assert_eq!(from(front, "127.0.0.2").await, NOERROR);
    }
}
