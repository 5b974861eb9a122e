//! The UDP listener: our own receive loop in front of the pipeline.
//!
//! hickory-server spawns a task per datagram and hands every response to a separate socket
//! task through a channel; on the blocked and cached paths that machinery costs more than
//! the decision itself. Here a datagram is parsed, decided and answered inline, on the task
//! that received it, whenever the answer needs no upstream (blocks, cache hits, refusals);
//! only a query that must wait for an upstream becomes a task of its own. Datagrams are read
//! and answered in batches ([`batch`]), and each listen address gets one `SO_REUSEPORT`
//! socket per core so the kernel spreads the load.
//!
//! Those tasks are bounded ([`Waiting`]): a random-subdomain flood would otherwise grow one
//! task per query for as long as the upstream takes. Past the cap such a query is answered
//! SERVFAIL at once. A source outside `allow_clients` gets nothing for a packet that does
//! not parse (not even FORMERR: we are not a reflector). Behind a trusted load balancer the
//! client is the one its PROXY v2 header names ([`proxy`]); the answer goes to the balancer.

mod batch;

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use prometheus::IntCounter;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;

use super::answer;
use super::pipeline::Pipeline;
use super::proxy;
use super::respond;
use crate::dnstap::{Event, Transport};
use batch::{Inbound, Outbound};

/// Queries waiting for an upstream, counted across every UDP socket.
#[derive(Clone)]
pub struct Waiting {
    permits: Arc<Semaphore>,
    /// `familydns_upstream_wait_full_total`.
    full: IntCounter,
}

impl Waiting {
    pub fn new(max: usize, full: IntCounter) -> Waiting {
        Waiting {
            permits: Arc::new(Semaphore::new(max)),
            full,
        }
    }
}

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

/// Serves one socket until the task is dropped: reads a batch, decides every query in it,
/// sends the batch's answers, and waits for the socket to be readable again.
pub async fn serve(socket: UdpSocket, pipeline: Arc<Pipeline>, waiting: Waiting) {
    // Only dnstap reads it: a wildcard bind reports the wildcard.
    let local = socket
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let socket = Arc::new(socket);
    let fd = socket.as_raw_fd();
    let mut inbound = Inbound::new();
    let mut outbound = Outbound::default();
    // One query's future, reused: most finish at their first poll, and the allocation (two
    // kilobytes, past glibc's per-thread cache) is then kept for the next query.
    let mut slot = None;
    let listener = Listener {
        socket: &socket,
        pipeline: &pipeline,
        waiting: &waiting,
        local,
    };
    loop {
        if let Err(e) = socket.readable().await {
            tracing::debug!(error = %e, "udp socket not readable");
            continue;
        }
        match socket.try_io(Interest::READABLE, || inbound.recv(fd)) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            // ICMP errors from earlier sends surface here on some systems; keep going.
            Err(e) => {
                tracing::debug!(error = %e, "udp receive error");
                continue;
            }
        }
        for (received, src) in inbound.datagrams() {
            let Some(query) = listener.admit(received, src, &mut outbound) else {
                continue;
            };
            let packet = &received[query.header..];
            let future = respond(pipeline.clone(), query.request, query.client, query.tapped);
            let reply = match &mut slot {
                Some(reply) => {
                    Pin::set(reply, future);
                    reply
                }
                None => slot.insert(Box::pin(future)),
            };
            // Most answers need no upstream: finish them here, without a task.
            match reply.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(Some(bytes)) => outbound.push(bytes, src),
                Poll::Ready(None) => {}
                Poll::Pending => {
                    let reply = slot.take().expect("just filled");
                    listener.wait(reply, packet, src, &mut outbound);
                }
            }
        }
        flush(&socket, &mut outbound).await;
    }
}

/// A datagram's query, admitted for an answer.
struct Query {
    request: Message,
    /// The client: the datagram's source, or the one its PROXY header names.
    client: SocketAddr,
    tapped: Option<Event>,
    /// The PROXY header's length: the DNS message starts after it.
    header: usize,
}

/// What handling a datagram needs besides the datagram.
struct Listener<'a> {
    socket: &'a Arc<UdpSocket>,
    pipeline: &'a Arc<Pipeline>,
    waiting: &'a Waiting,
    local: SocketAddr,
}

impl Listener<'_> {
    /// Reads one datagram from `src`: the request to answer, from the client its PROXY
    /// header names, or `None` when it was answered here (FORMERR, NOTIFY) or is dropped.
    fn admit(&self, received: &[u8], src: SocketAddr, out: &mut Outbound) -> Option<Query> {
        let pipeline = self.pipeline;
        let client = match proxy::origin(received, src, || pipeline.proxied_by(src.ip())) {
            Ok(Some(origin)) => origin,
            // A datagram is whole: a header that does not end in it is as bad as a wrong one.
            Ok(None) | Err(_) => {
                pipeline.metrics.proxy_refused.inc();
                return None;
            }
        };
        let (header, client) = (client.header, client.client);
        let packet = &received[header..];
        let request = match Message::from_vec(packet) {
            Ok(m) if m.metadata.message_type == MessageType::Query => m,
            // Never answer responses: that is how reflection loops start.
            Ok(_) => return None,
            Err(_) => {
                if pipeline.allows(client.ip())
                    && let Some(formerr) = formerr(packet)
                {
                    out.push(formerr, src);
                }
                return None;
            }
        };
        if request.metadata.op_code == OpCode::Notify {
            let now = crate::exchange::unix_now();
            if let Some(bytes) = pipeline.inbox.answer(packet, &request, client.ip(), now) {
                out.push(bytes, src);
            }
            return None;
        }
        let tapped = respond::tapped(pipeline, packet, client, self.local, Transport::Udp);
        Some(Query {
            request,
            client,
            tapped,
            header,
        })
    }

    /// Lets `reply`, which waits for an upstream, finish in a task of its own, within the
    /// [`Waiting`] bound; past it, `packet` is answered SERVFAIL at once.
    fn wait<F>(&self, reply: Pin<Box<F>>, packet: &[u8], src: SocketAddr, out: &mut Outbound)
    where
        F: Future<Output = Option<Vec<u8>>> + Send + 'static,
    {
        match self.waiting.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let socket = self.socket.clone();
                tokio::spawn(async move {
                    if let Some(bytes) = reply.await {
                        send(&socket, &bytes, src).await;
                    }
                    drop(permit);
                });
            }
            Err(_) => {
                drop(reply);
                self.waiting.full.inc();
                // The request moved into the dropped reply; this path is rare enough to
                // parse the packet again rather than keep a copy for every query.
                if let Some(bytes) = Message::from_vec(packet)
                    .ok()
                    .and_then(|request| answer::error(&request, ResponseCode::ServFail))
                {
                    out.push(bytes, src);
                }
            }
        }
    }
}

/// Sends every queued answer, waiting for the socket when its send buffer is full.
async fn flush(socket: &UdpSocket, out: &mut Outbound) {
    let fd = socket.as_raw_fd();
    while !out.is_empty() {
        match socket.try_io(Interest::WRITABLE, || out.send(fd)) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if socket.writable().await.is_err() {
                    return;
                }
            }
            // The answer it belonged to is dropped; the others still go.
            Err(e) => tracing::debug!(error = %e, "udp send failed"),
        }
    }
}

async fn send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    if let Err(e) = socket.send_to(bytes, to).await {
        tracing::debug!(error = %e, %to, "udp send failed");
    }
}

/// Answers one request from `client` (behind a trusted proxy, the client its header names);
/// `None` means no answer. It owns what it needs, so that it can become a task of its own.
async fn respond(
    pipeline: Arc<Pipeline>,
    request: Message,
    client: SocketAddr,
    tapped: Option<Event>,
) -> Option<Vec<u8>> {
    let limit = answer::udp_limit(&request);
    respond::respond(&pipeline, &request, (client, None), limit, tapped).await
}

/// FORMERR for a request we could not parse, when its header at least is readable and it
/// is not itself a response.
pub(super) fn formerr(packet: &[u8]) -> Option<Vec<u8>> {
    if packet.len() < 12 || packet[2] & 0x80 != 0 {
        return None;
    }
    let mut header = vec![0u8; 12];
    header[..2].copy_from_slice(&packet[..2]);
    header[2] = 0x80 | (packet[2] & 0x78) | (packet[2] & 0x01); // QR, opcode, RD
    header[3] = 0x80 | 0x01; // RA, FORMERR
    Some(header)
}
