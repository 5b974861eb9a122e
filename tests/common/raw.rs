//! Talking to the server below the DNS client: raw TCP frames from a chosen loopback
//! source, and reading the metrics endpoint. The bounds tests need both.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::RecordType;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

use super::{CLIENT_TIMEOUT, Running, http_get};

/// One query, framed for TCP (length prefix).
pub fn frame(name: &str, rtype: RecordType, id: u16) -> Vec<u8> {
    let bytes = query(name, rtype, id);
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend(bytes);
    framed
}

pub fn query(name: &str, rtype: RecordType, id: u16) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name.parse().unwrap(), rtype));
    m.to_vec().unwrap()
}

/// A value of the metrics endpoint (a metric without labels).
pub async fn metric(fdns: &Running, name: &str) -> i64 {
    let text = http_get(fdns.metrics_listening().unwrap(), "/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

pub async fn connect_from(from: IpAddr, server: SocketAddr) -> TcpStream {
    let sock = match from {
        IpAddr::V4(_) => TcpSocket::new_v4(),
        IpAddr::V6(_) => TcpSocket::new_v6(),
    }
    .unwrap();
    sock.bind(SocketAddr::new(from, 0)).unwrap();
    sock.connect(server).await.unwrap()
}

/// Reads one answer from `conn`.
pub async fn read_answer(conn: &mut TcpStream) -> Message {
    let fut = async {
        let len = conn.read_u16().await.unwrap();
        let mut buf = vec![0u8; usize::from(len)];
        conn.read_exact(&mut buf).await.unwrap();
        Message::from_vec(&buf).unwrap()
    };
    tokio::time::timeout(CLIENT_TIMEOUT, fut)
        .await
        .expect("an answer")
}

/// Whether the server closes `conn` (end of stream or reset) within `limit`, reading and
/// discarding whatever it had sent before.
pub async fn closed_by_server(conn: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = vec![0u8; 64 << 10];
    let drain = async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, drain).await.is_ok()
}
