//! The subscriber directory's figures with 5 million prefixes (README, "ISP deployment"):
//! the table's bytes and the RSS a process grows by loading it, the load time from a real
//! PostgreSQL (the rows put in with `COPY`, then familydns started until it is ready), and
//! the time from an `UPDATE` to the new profile answering on two instances.
//!
//! `cargo run --release --example directory_5m -- "host=127.0.0.1 port=5432 user=postgres dbname=fdns5m" [ROWS]`
//! (an empty database; `psql` on the PATH; ROWS defaults to 5,000,000 and needs about
//! 1 GB of disk for PostgreSQL). The rows are those of `benches/directory.rs`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

#[path = "../benches/shared/subscribers.rs"]
mod subscribers;

/// Resident set size of this process, in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[tokio::main]
async fn main() {
    let conninfo = std::env::args().nth(1).expect("a connection string");
    let n: usize = std::env::args()
        .nth(2)
        .map_or(5_000_000, |n| n.parse().expect("a number of rows"));
    let dir = tempfile::tempdir().unwrap();

    // The rows, COPYed into PostgreSQL with the shipped schema.
    let rows = dir.path().join("rows.tsv");
    let mut text = String::with_capacity(n * 32);
    for i in 0..n {
        let (prefix, profile) = subscribers::subscriber(i, n);
        text.push_str(&format!("{prefix}\t{profile}\n"));
    }
    text.push_str("127.0.0.2/32\tkids\n");
    std::fs::write(&rows, text).unwrap();
    let (db, conn) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    db.batch_execute(include_str!("../deploy/postgres/schema.sql"))
        .await
        .unwrap();
    db.batch_execute("TRUNCATE familydns_subscribers")
        .await
        .unwrap();
    let start = Instant::now();
    let copy = format!(
        "\\copy familydns_subscribers (prefix, profile) FROM '{}'",
        rows.display()
    );
    let ok = std::process::Command::new("psql")
        .args([conninfo.as_str(), "-q", "-c", &copy])
        .status()
        .unwrap()
        .success();
    assert!(ok, "psql \\copy");
    println!(
        "COPY of {} rows into PostgreSQL: {:?}",
        n + 1,
        start.elapsed()
    );

    // Two instances; the first one's start is the load time and its RSS growth.
    let profiles = dir.path().join("profiles");
    std::fs::create_dir(&profiles).unwrap();
    for p in subscribers::PROFILES {
        let body = match p {
            "kids" => "deny = [\"probe.test\"]\n",
            "teen" => "deny = [\"probe.test\"]\nblock_answer = \"null\"\n",
            _ => "",
        };
        std::fs::write(profiles.join(format!("{p}.toml")), body).unwrap();
    }
    let mut instances = Vec::new();
    for k in 0..2 {
        let file = dir.path().join(format!("familydns-{k}.toml"));
        std::fs::write(
            &file,
            format!(
                r#"default_profile = "open"
[server]
listen = ["127.0.0.1:0"]
[upstream]
servers = ["udp://127.0.0.1:9"]
[query_log]
enabled = false
[directory]
postgres = "{conninfo}"
snapshot = "subscribers-{k}.snap"
"#
            ),
        )
        .unwrap();
        let config = familydns::config::load(&file).unwrap();
        let (before, start) = (rss(), Instant::now());
        let running = familydns::app::start_with(config).await.unwrap();
        if k == 0 {
            let table = running.metrics.directory.rows.get();
            println!(
                "familydns start to ready with {table} subscribers: {:?}; RSS grew by {} MB ({} MB per million)",
                start.elapsed(),
                (rss() - before) >> 20,
                ((rss() - before) >> 20) * 1_000_000 / n
            );
        }
        instances.push(running);
    }
    let servers: Vec<SocketAddr> = instances.iter().map(|r| r.dns_addrs[0]).collect();
    for &s in &servers {
        assert_eq!(probe(s).await, ResponseCode::NXDomain, "kids at first");
    }

    // UPDATE, then ask both instances until both answer with the new profile.
    let start = Instant::now();
    db.batch_execute(
        "UPDATE familydns_subscribers SET profile = 'teen' WHERE prefix = '127.0.0.2/32'",
    )
    .await
    .unwrap();
    let committed = start.elapsed();
    let mut pending = servers.clone();
    while !pending.is_empty() && start.elapsed() < Duration::from_secs(10) {
        let mut still = Vec::new();
        for s in pending {
            if probe(s).await != ResponseCode::NoError {
                still.push(s);
            }
        }
        pending = still;
    }
    assert!(pending.is_empty(), "both instances changed within 10 s");
    println!(
        "UPDATE (committed after {committed:?}) to the new profile answering on both instances: {:?}",
        start.elapsed()
    );
}

/// The rcode of `probe.test` asked from 127.0.0.2.
async fn probe(server: SocketAddr) -> ResponseCode {
    let sock = tokio::net::UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii("probe.test.").unwrap(),
        RecordType::A,
    ));
    sock.send_to(&m.to_vec().unwrap(), server).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (len, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    Message::from_vec(&buf[..len])
        .unwrap()
        .metadata
        .response_code
}
