//! The default TCP bounds as shipped: 1,024 connections in all and 32 per client. The test
//! opens exactly 1,024 connections from 32 loopback addresses, each served; the 1,025th is
//! closed at once, and a slot given back is usable again.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::raw::*;
use common::*;
use hickory_proto::rr::RecordType;
use tokio::io::AsyncWriteExt;

/// `server.tcp.max_connections` and `max_per_client` when the config does not set them.
const MAX_CONNECTIONS: usize = 1024;
const MAX_PER_CLIENT: usize = 32;

fn client(i: usize) -> IpAddr {
    IpAddr::from([127, 0, 4, u8::try_from(i + 1).unwrap()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_cap_of_1024_connections_holds() {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(HEAD, upstream.addr, &[("family", "")]);
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];
    let mut open = Vec::with_capacity(MAX_CONNECTIONS);
    for i in 0..MAX_CONNECTIONS {
        let mut conn = connect_from(client(i / MAX_PER_CLIENT), s).await;
        let id = u16::try_from(i).unwrap();
        conn.write_all(&frame("www.example.test.", RecordType::A, id))
            .await
            .unwrap();
        assert_eq!(
            read_answer(&mut conn).await.metadata.id,
            id,
            "connection {i}"
        );
        open.push(conn);
    }
    assert_eq!(
        metric(&fdns, "familydns_tcp_connections").await,
        i64::try_from(MAX_CONNECTIONS).unwrap()
    );

    // A client with no connection of its own still finds no room.
    let fresh = client(MAX_CONNECTIONS / MAX_PER_CLIENT);
    let mut over = connect_from(fresh, s).await;
    let _ = over
        .write_all(&frame("www.example.test.", RecordType::A, 1))
        .await;
    assert!(
        closed_by_server(&mut over, Duration::from_secs(5)).await,
        "the 1,025th connection is closed at accept"
    );

    // One connection ends: its slot serves the next client.
    drop(open.pop());
    assert!(
        eventually(CLIENT_TIMEOUT, async || {
            metric(&fdns, "familydns_tcp_connections").await
                < i64::try_from(MAX_CONNECTIONS).unwrap()
        })
        .await
    );
    let mut next = connect_from(fresh, s).await;
    next.write_all(&frame("www.example.test.", RecordType::A, 2))
        .await
        .unwrap();
    assert_eq!(read_answer(&mut next).await.metadata.id, 2);
}
