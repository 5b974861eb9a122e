//! Holding under abuse: every resource bound of the listeners, tried through the real
//! server. A TCP client that sends and never reads, connections that time out, clients
//! outside `allow_clients`, an IPv6 client, a UDP flood of misses against an upstream that
//! never answers. (The answer cache's byte bound is a unit test in `upstream::cache`, the
//! IPv6 /64 keying one in `server::tcp::slots`: loopback has only `::1`.)

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::raw::*;
use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const FAMILY: &[(&str, &str)] = &[("family", "")];

/// Generous: the server holds 16 answers of 4 KB per connection; without the bound the
/// test below grows by hundreds of MiB a second.
const RSS_GROWTH_LIMIT_MIB: u64 = 64;

fn with_server_keys(keys: &str) -> String {
    HEAD.replace("[upstream]", &format!("{keys}\n[upstream]"))
}

fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap();
    kib / 1024
}

/// Pipelines queries for a 4 KB answer on a new connection and never reads, until the
/// server closes the connection (`Err`) or `stop` is set (`Ok`). `batches` counts what was
/// written. (The socket buffers on loopback take tens of MB before a write blocks, so no
/// fixed count would do.)
async fn flood(
    from: IpAddr,
    server: SocketAddr,
    stop: Arc<AtomicBool>,
    batches: Arc<AtomicU64>,
) -> std::io::Result<()> {
    let mut conn = connect_from(from, server).await;
    let batch: Vec<u8> = (0..100)
        .flat_map(|i| frame("big.example.test.", RecordType::TXT, i))
        .collect();
    while !stop.load(Ordering::SeqCst) {
        conn.write_all(&batch).await?;
        batches.fetch_add(1, Ordering::SeqCst);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_holds_little_memory_and_is_closed() {
    let upstream = start_upstream().await;
    let head = with_server_keys("[server.tcp]\nwrite_timeout = \"1s\"");
    let cfg = TestConfig::new(&head, upstream.addr, FAMILY);
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];
    // Cached, so that every pipelined query is answered at once.
    let big = tcp(s, "big.example.test.", RecordType::TXT).await;
    assert_eq!(big.answers.len(), 40);

    let before = rss_mib();
    let peak = Arc::new(AtomicU64::new(before));
    let over = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn({
        let (peak, over) = (peak.clone(), over.clone());
        async move {
            loop {
                let rss = rss_mib();
                peak.fetch_max(rss, Ordering::SeqCst);
                if rss > before + RSS_GROWTH_LIMIT_MIB {
                    over.store(true, Ordering::SeqCst); // stop the flood: the test has failed
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    let local = "127.0.0.1".parse().unwrap();
    let batches = Arc::new(AtomicU64::new(0));
    let flooders: Vec<_> = (0..8)
        .map(|_| tokio::spawn(flood(local, s, over.clone(), batches.clone())))
        .collect();
    assert!(
        eventually(CLIENT_TIMEOUT, async || batches.load(Ordering::SeqCst)
            >= 80)
        .await,
        "the flood is under way"
    );
    // Other clients are answered meanwhile.
    let other = "127.0.0.2".parse().unwrap();
    let mut conn = connect_from(other, s).await;
    conn.write_all(&frame("www.example.test.", RecordType::A, 1))
        .await
        .unwrap();
    assert_eq!(
        read_answer(&mut conn).await.metadata.response_code,
        ResponseCode::NoError
    );
    drop(conn);
    let m = udp_from(s, other, "txt.example.test.", RecordType::TXT, Some(1232)).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);

    // Each flooder stops because the server closed its connection (write timeout).
    for f in flooders {
        let ended = tokio::time::timeout(Duration::from_secs(30), f)
            .await
            .expect("the server closes a connection that does not read")
            .unwrap();
        assert!(
            ended.is_err(),
            "closed by the server, not stopped by the test"
        );
    }
    sampler.abort();
    let grew = peak.load(Ordering::SeqCst) - before;
    assert!(
        !over.load(Ordering::SeqCst) && grew <= RSS_GROWTH_LIMIT_MIB,
        "RSS grew by {grew} MiB"
    );
    assert!(
        eventually(CLIENT_TIMEOUT, async || metric(
            &fdns,
            "familydns_tcp_connections"
        )
        .await
            == 0)
        .await,
        "every connection is closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_time_out_give_back_their_slots() {
    let upstream = start_upstream().await;
    let head = with_server_keys("[server.tcp]\nidle_timeout = \"1s\"\nwrite_timeout = \"1s\"");
    let cfg = TestConfig::new(&head, upstream.addr, FAMILY);
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];
    tcp(s, "big.example.test.", RecordType::TXT).await;
    let client: IpAddr = "127.0.0.9".parse().unwrap();
    // The per-client share (32): half go idle after one answer, half pipeline and never
    // read (their writes block, which once kept the socket open past its slot).
    let mut idle = Vec::new();
    for i in 0..16 {
        let mut conn = connect_from(client, s).await;
        conn.write_all(&frame("www.example.test.", RecordType::A, i))
            .await
            .unwrap();
        read_answer(&mut conn).await;
        idle.push(conn);
    }
    let (stop, batches) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let flooders: Vec<_> = (0..16)
        .map(|_| tokio::spawn(flood(client, s, stop.clone(), batches.clone())))
        .collect();
    for conn in &mut idle {
        assert!(
            closed_by_server(conn, Duration::from_secs(15)).await,
            "an idle connection is closed"
        );
    }
    for f in flooders {
        let ended = tokio::time::timeout(Duration::from_secs(30), f)
            .await
            .expect("a connection that does not read is closed")
            .unwrap();
        assert!(ended.is_err());
    }
    assert!(
        eventually(CLIENT_TIMEOUT, async || metric(
            &fdns,
            "familydns_tcp_connections"
        )
        .await
            == 0)
        .await,
        "every slot is given back"
    );
    // The client's share is free again: a new connection is served.
    let mut conn = connect_from(client, s).await;
    conn.write_all(&frame("www.example.test.", RecordType::A, 99))
        .await
        .unwrap();
    assert_eq!(read_answer(&mut conn).await.metadata.id, 99);
}

#[tokio::test]
async fn a_busy_connection_is_closed_at_the_end_of_its_lifetime() {
    let upstream = start_upstream().await;
    let head = with_server_keys("[server.tcp]\nmax_lifetime = \"1s\"");
    let cfg = TestConfig::new(&head, upstream.addr, FAMILY);
    let fdns = cfg.start().await;
    let mut conn = TcpStream::connect(fdns.dns_addrs[0]).await.unwrap();
    // Never idle (the idle timeout is 10 s): a query, its answer, the next query...
    let busy = async {
        for id in (0..=u16::MAX).cycle() {
            let sent = conn
                .write_all(&frame("www.example.test.", RecordType::A, id))
                .await;
            if sent.is_err() || conn.read_u16().await.is_err() {
                return;
            }
            let mut rest = vec![0u8; 512];
            let _ = conn.read(&mut rest).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), busy)
        .await
        .expect("closed after its lifetime");
}

#[tokio::test]
async fn a_client_outside_allow_clients_is_closed_at_accept_and_gets_no_formerr() {
    let upstream = start_upstream().await;
    let head = with_server_keys("allow_clients = [\"127.0.0.1/32\"]");
    let cfg = TestConfig::new(&head, upstream.addr, FAMILY);
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];
    let outsider: IpAddr = "127.0.0.3".parse().unwrap();
    // More than one client's share: none of them takes a slot.
    for _ in 0..40 {
        let mut conn = connect_from(outsider, s).await;
        assert!(
            closed_by_server(&mut conn, CLIENT_TIMEOUT).await,
            "closed before sending anything"
        );
    }
    assert_eq!(metric(&fdns, "familydns_tcp_connections").await, 0);
    assert_eq!(
        tcp(s, "www.example.test.", RecordType::A)
            .await
            .metadata
            .response_code,
        ResponseCode::NoError
    );

    // A header that announces a question and has none: FORMERR for an allowed client...
    let junk = [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0];
    let mut buf = [0u8; 512];
    let inside = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    inside.send_to(&junk, s).await.unwrap();
    let (len, _) = tokio::time::timeout(CLIENT_TIMEOUT, inside.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(buf[3] & 0x0f, 1, "FORMERR: {:?}", &buf[..len]);
    // ...nothing for an outsider: the first reply it gets is the REFUSED for the query it
    // sent after the junk (one source is served in order by one socket).
    let outside = UdpSocket::bind("127.0.0.3:0").await.unwrap();
    outside.send_to(&junk, s).await.unwrap();
    outside
        .send_to(&query("www.example.test.", RecordType::A, 77), s)
        .await
        .unwrap();
    let (len, _) = tokio::time::timeout(CLIENT_TIMEOUT, outside.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let reply = Message::from_vec(&buf[..len]).unwrap();
    assert_eq!(
        (reply.metadata.id, reply.metadata.response_code),
        (77, ResponseCode::Refused)
    );
}

#[tokio::test]
async fn the_per_client_cap_applies_over_ipv6() {
    let upstream = start_upstream().await;
    let head = with_server_keys("[server.tcp]\nmax_per_client = 2")
        .replace("listen = [\"127.0.0.1:0\"]", "listen = [\"[::1]:0\"]");
    let cfg = TestConfig::new(&head, upstream.addr, FAMILY);
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];
    let me: IpAddr = "::1".parse().unwrap();
    let mut held = Vec::new();
    for id in 0..2 {
        let mut conn = connect_from(me, s).await;
        conn.write_all(&frame("www.example.test.", RecordType::A, id))
            .await
            .unwrap();
        assert_eq!(read_answer(&mut conn).await.metadata.id, id);
        held.push(conn);
    }
    let mut third = connect_from(me, s).await;
    assert!(
        closed_by_server(&mut third, CLIENT_TIMEOUT).await,
        "over the client's share"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_queries_waiting_for_the_upstream_are_capped() {
    const MAX_WAITING: usize = 8;
    const FLOOD: usize = 2000;
    /// Queries sent and not yet answered, the waiting ones included.
    const WINDOW: usize = MAX_WAITING + 32;
    let upstream = start_upstream().await;
    upstream.silent.store(true, Ordering::SeqCst);
    // The waiting queries hold their places far longer than the flood takes.
    let head = with_server_keys(&format!("[server.udp]\nmax_waiting = {MAX_WAITING}"))
        .replace("timeout_ms = 500", "timeout_ms = 60000");
    let cfg = TestConfig::new(&head, upstream.addr, FAMILY);
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];
    let tasks = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let tasks_before = tasks();

    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut buf = [0u8; 1500];
    let mut servfails = 0;
    let mut replies = 0;
    let mut receive = async |replies: &mut usize, servfails: &mut usize| {
        let (len, _) = tokio::time::timeout(CLIENT_TIMEOUT, sock.recv_from(&mut buf))
            .await
            .expect("a reply to a query over the cap")
            .unwrap();
        let m = Message::from_vec(&buf[..len]).unwrap();
        *replies += 1;
        *servfails += usize::from(m.metadata.response_code == ResponseCode::ServFail);
    };
    for i in 0..FLOOD {
        let name = format!("w{i}.example.test.");
        sock.send_to(&query(&name, RecordType::A, i as u16), s)
            .await
            .unwrap();
        while i + 1 - replies > WINDOW {
            receive(&mut replies, &mut servfails).await;
        }
    }
    while replies < FLOOD - MAX_WAITING {
        receive(&mut replies, &mut servfails).await;
    }
    assert_eq!(
        servfails,
        FLOOD - MAX_WAITING,
        "every query over the cap: SERVFAIL"
    );
    assert_eq!(
        metric(&fdns, "familydns_upstream_wait_full_total").await,
        (FLOOD - MAX_WAITING) as i64
    );
    let grew = tasks().saturating_sub(tasks_before);
    assert!(
        grew <= MAX_WAITING + 8,
        "{grew} more tasks after {FLOOD} queries that wait"
    );
}

#[test]
fn listener_limits_are_checked() {
    let bad = with_server_keys(
        "[server.tcp]\nmax_in_flight = 0\nwrite_timeout = \"0s\"\n[server.udp]\nmax_waiting = 0",
    );
    let cfg = TestConfig::new(&bad, "127.0.0.1:53".parse().unwrap(), FAMILY);
    let err = familydns::config::load(&cfg.path())
        .unwrap_err()
        .to_string();
    assert_eq!(err.matches("must be more than 0").count(), 2, "{err}");
    assert!(err.contains("write_timeout"), "{err}");
    let cfg = TestConfig::new(HEAD, "127.0.0.1:53".parse().unwrap(), FAMILY);
    let config = familydns::config::load(&cfg.path()).unwrap();
    assert_eq!(config.server.tcp, familydns::config::TcpConfig::default());
    assert_eq!(config.upstream.cache_bytes, 32 << 20);
}
