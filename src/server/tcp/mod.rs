//! The TCP listener: connection limits, timeouts and pipelining.
//!
//! hickory-server's TCP path has no limit on connections and answers a connection's queries
//! one after another; a resolver facing the internet (or a buggy IoT device) needs both
//! bounded. Here: at most [`MAX_CONNECTIONS`] connections and [`MAX_PER_CLIENT`] per client
//! address (more are closed at once), [`IDLE_TIMEOUT`] between queries and [`READ_TIMEOUT`]
//! within one, messages above [`MAX_MESSAGE`] bytes close the connection, and the queries of
//! a connection are answered concurrently (pipelining, RFC 7766), each answer written as soon
//! as it is ready.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::answer;
use super::pipeline::{Pipeline, Question};

pub const MAX_CONNECTIONS: usize = 1024;
pub const MAX_PER_CLIENT: usize = 32;
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Queries are small; anything larger than this is not a query we answer.
pub const MAX_MESSAGE: usize = 4096;
/// Answers of one connection waiting to be written.
const PIPELINE_DEPTH: usize = 64;

/// Connections per client address.
#[derive(Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

/// Holds a client's connection slot until the connection ends.
struct ClientSlot {
    clients: Arc<PerClient>,
    ip: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut map = self.clients.0.lock().expect("not poisoned");
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Accepts connections until the task is dropped.
pub async fn serve(listener: TcpListener, pipeline: Arc<Pipeline>) {
    let total = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let clients = Arc::new(PerClient::default());
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = total.clone().try_acquire_owned() else {
            continue; // over the total: dropping the stream closes it
        };
        let ip = peer.ip().to_canonical();
        {
            let mut map = clients.0.lock().expect("not poisoned");
            let n = map.entry(ip).or_default();
            if *n >= MAX_PER_CLIENT {
                continue;
            }
            *n += 1;
        }
        let slot = ClientSlot {
            clients: clients.clone(),
            ip,
            _permit: permit,
        };
        tokio::spawn(connection(stream, peer, pipeline.clone(), slot));
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    pipeline: Arc<Pipeline>,
    _slot: ClientSlot,
) {
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(PIPELINE_DEPTH);
    let write = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            let mut framed = Vec::with_capacity(bytes.len() + 2);
            framed.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            framed.extend_from_slice(&bytes);
            if writer.write_all(&framed).await.is_err() {
                break;
            }
        }
    });
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let len = match tokio::time::timeout(IDLE_TIMEOUT, reader.read_u16()).await {
            Ok(Ok(len)) => usize::from(len),
            _ => break, // idle, closed or broken
        };
        if len == 0 || len > MAX_MESSAGE {
            break;
        }
        match tokio::time::timeout(READ_TIMEOUT, reader.read_exact(&mut buf[..len])).await {
            Ok(Ok(_)) => {}
            _ => break,
        }
        let request = match Message::from_vec(&buf[..len]) {
            Ok(m) if m.metadata.message_type == MessageType::Query => m,
            _ => break, // a stream that does not parse is not worth keeping open
        };
        let (pipeline, tx) = (pipeline.clone(), tx.clone());
        tokio::spawn(async move {
            let question = Question::from_message(&request, peer.ip());
            if let Some(response) = pipeline.respond(&question).await
                && let Some(bytes) = answer::encode(&request, response, usize::from(u16::MAX))
            {
                let _ = tx.send(bytes).await;
            }
        });
    }
    drop(tx);
    // Let answers still in flight be written, bounded by the read timeout.
    let _ = tokio::time::timeout(READ_TIMEOUT, write).await;
}
