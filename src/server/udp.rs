//! The UDP listener: our own receive loop in front of the pipeline.
//!
//! hickory-server spawns a task per datagram and hands every response to a separate socket
//! task through a channel; on the blocked and cached paths that machinery costs more than
//! the decision itself. Here a datagram is parsed, decided and answered inline, on the task
//! that received it, whenever the answer needs no upstream (blocks, cache hits, refusals);
//! only a query that must wait for an upstream becomes a task of its own. Each listen
//! address gets one `SO_REUSEPORT` socket per core so the kernel spreads the load.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use hickory_proto::op::{Message, MessageType};
use tokio::net::UdpSocket;

use super::answer;
use super::pipeline::{Pipeline, Question};

/// Largest datagram we read: EDNS payloads above this are not accepted anyway.
const MAX_DATAGRAM: usize = 4096;

/// Binds `count` sockets sharing `addr` (port 0 picks one port for all of them).
pub fn bind(addr: SocketAddr, count: usize) -> std::io::Result<Vec<UdpSocket>> {
    let mut sockets = Vec::with_capacity(count);
    let mut addr = addr;
    for _ in 0..count.max(1) {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        if addr.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        let socket = UdpSocket::from_std(socket.into())?;
        addr = socket.local_addr()?;
        sockets.push(socket);
    }
    Ok(sockets)
}

/// Serves one socket until the task is dropped.
pub async fn serve(socket: UdpSocket, pipeline: Arc<Pipeline>) {
    let socket = Arc::new(socket);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (len, src) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                // ICMP errors from earlier sends surface here on some systems; keep going.
                tracing::debug!(error = %e, "udp receive error");
                continue;
            }
        };
        let packet = &buf[..len];
        let request = match Message::from_vec(packet) {
            Ok(m) if m.metadata.message_type == MessageType::Query => m,
            // Never answer responses: that is how reflection loops start.
            Ok(_) => continue,
            Err(_) => {
                if let Some(formerr) = formerr(packet) {
                    let _ = socket.try_send_to(&formerr, src);
                }
                continue;
            }
        };
        let mut reply = Box::pin(respond(pipeline.clone(), request, src));
        // Most answers need no upstream: finish them here, without a task.
        let polled = reply.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        match polled {
            Poll::Ready(Some(bytes)) => send(&socket, &bytes, src).await,
            Poll::Ready(None) => {}
            Poll::Pending => {
                let socket = socket.clone();
                tokio::spawn(async move {
                    if let Some(bytes) = reply.await {
                        send(&socket, &bytes, src).await;
                    }
                });
            }
        }
    }
}

async fn send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    if let Err(e) = socket.send_to(bytes, to).await {
        tracing::debug!(error = %e, %to, "udp send failed");
    }
}

/// Runs the pipeline for one request and encodes the answer; `None` means no answer.
async fn respond(pipeline: Arc<Pipeline>, request: Message, src: SocketAddr) -> Option<Vec<u8>> {
    let question = Question::from_message(&request, src.ip());
    let response = pipeline.respond(&question).await?;
    answer::encode(&request, response, answer::udp_limit(&request))
}

/// FORMERR for a request we could not parse, when its header at least is readable and it
/// is not itself a response.
fn formerr(packet: &[u8]) -> Option<Vec<u8>> {
    if packet.len() < 12 || packet[2] & 0x80 != 0 {
        return None;
    }
    let mut header = vec![0u8; 12];
    header[..2].copy_from_slice(&packet[..2]);
    header[2] = 0x80 | (packet[2] & 0x78) | (packet[2] & 0x01); // QR, opcode, RD
    header[3] = 0x80 | 0x01; // RA, FORMERR
    Some(header)
}
