//! One TCP connection (plain, or DoT once its TLS handshake is done), served by one task: reading, the queries in flight and writing all
//! live in it, so they end together and the socket closes with them (queries in flight
//! are aborted when their `JoinSet` is dropped).
//!
//! At most `max_in_flight` queries are answered at once; at the cap the socket is not read
//! until one has been written, so a client that sends and never reads fills its own socket
//! buffers, not our memory. It is closed when an answer cannot be written within
//! `write_timeout`, after `idle_timeout` without queries, and after `max_lifetime` in any
//! case.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until, timeout};

use super::slots::Slot;
use super::{MAX_MESSAGE, READ_TIMEOUT};
use crate::clients::ClientId;
use crate::config::TcpConfig;
use crate::dnstap::Transport;
use crate::server::pipeline::Pipeline;
use crate::server::proxy::{self, ProxyError};
use crate::server::respond;

/// Why a connection was closed (for the debug log).
#[derive(Debug, thiserror::Error)]
enum Closed {
    #[error("idle")]
    Idle,
    #[error("a message was not complete within the read timeout")]
    ReadTimeout,
    #[error("a message of {0} bytes (0 or above the limit)")]
    BadLength(usize),
    #[error("a message that is not a query")]
    NotAQuery,
    #[error("{0}")]
    Proxy(#[from] ProxyError),
    #[error("an answer was not taken within the write timeout")]
    WriteTimeout,
    #[error("its lifetime is over")]
    Lifetime,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Who is at the other end of a connection.
pub struct Peer {
    pub addr: SocketAddr,
    /// In `server.trusted_proxies`: the stream may start with a PROXY v2 header.
    pub proxied: bool,
    /// The address the connection came in on (dnstap reports it).
    pub local: SocketAddr,
    /// The client id a DoT server name carried.
    pub id: Option<ClientId>,
    /// TCP or DoT, for dnstap.
    pub transport: Transport,
}

/// Serves `stream` until it closes, holding `slot` as long as the socket is open.
pub async fn serve(
    stream: impl AsyncRead + AsyncWrite + Send,
    peer: Peer,
    pipeline: Arc<Pipeline>,
    config: Arc<TcpConfig>,
    slot: Slot,
) {
    let addr = peer.addr;
    let closed = timeout(
        config.max_lifetime,
        queries(stream, peer, pipeline, &config),
    )
    .await
    .unwrap_or(Err(Closed::Lifetime));
    if let Err(reason) = closed {
        tracing::debug!(peer = %addr, %reason, "tcp connection closed");
    }
    // The socket is closed by now (dropped with the future above); only then is the slot
    // given back, so that the slots never undercount the open descriptors.
    drop(slot);
}

/// Reads queries, answers them concurrently and writes each answer when it is ready; `Ok`
/// when the client closed its side and every answer was written.
async fn queries(
    stream: impl AsyncRead + AsyncWrite,
    peer: Peer,
    pipeline: Arc<Pipeline>,
    config: &TcpConfig,
) -> Result<(), Closed> {
    let (local, id, transport) = (peer.local, peer.id, peer.transport);
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut frames = Frames::default();
    let mut in_flight = JoinSet::new();
    let mut last_activity = Instant::now();
    let mut client_done = false;
    // Known once the start of the stream shows whether a PROXY header names the client.
    let mut client = None;
    loop {
        if client.is_none() && frames.len > 0 {
            client = frames
                .origin(&peer)
                .inspect_err(|_| pipeline.metrics.proxy_refused.inc())?;
        }
        while let Some(client) = client
            && in_flight.len() < config.max_in_flight
            && let Some((request, tapped)) =
                frames.next(|wire| respond::tapped(&pipeline, wire, client, local, transport))?
        {
            let pipeline = pipeline.clone();
            in_flight.spawn(async move {
                let limit = usize::from(u16::MAX);
                respond::respond(&pipeline, &request, (client, id), limit, tapped).await
            });
            last_activity = Instant::now();
        }
        if client_done && in_flight.is_empty() {
            return Ok(());
        }
        let deadline = match frames.partial_since {
            Some(since) => since + READ_TIMEOUT,
            None => last_activity + config.idle_timeout,
        };
        tokio::select! {
            Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Ok(Some(bytes)) = done {
                    write(&mut writer, &bytes, config.write_timeout).await?;
                }
                last_activity = Instant::now();
            }
            read = reader.read(frames.spare()),
                if !client_done && in_flight.len() < config.max_in_flight =>
            {
                match read? {
                    0 => client_done = true,
                    n => frames.filled(n),
                }
            }
            () = sleep_until(deadline), if in_flight.is_empty() => {
                return Err(match frames.partial_since {
                    Some(_) => Closed::ReadTimeout,
                    None => Closed::Idle,
                });
            }
        }
    }
}

/// Writes one answer with its length prefix, within `limit`. The flush sends what TLS
/// buffers (a no-op on a plain socket).
async fn write(
    writer: &mut (impl AsyncWrite + Unpin),
    answer: &[u8],
    limit: Duration,
) -> Result<(), Closed> {
    let mut framed = Vec::with_capacity(answer.len() + 2);
    framed.extend_from_slice(&(answer.len() as u16).to_be_bytes());
    framed.extend_from_slice(answer);
    let send = async {
        writer.write_all(&framed).await?;
        writer.flush().await
    };
    timeout(limit, send)
        .await
        .map_err(|_| Closed::WriteTimeout)??;
    Ok(())
}

/// Bytes read and not yet taken as messages. Reading into it is cancel-safe (a plain
/// `read`), so the connection can wait for the socket and its answers at once.
struct Frames {
    buf: Box<[u8; 2 + MAX_MESSAGE]>,
    len: usize,
    /// When the first byte of the message being read arrived.
    partial_since: Option<Instant>,
}

impl Default for Frames {
    fn default() -> Self {
        Frames {
            buf: Box::new([0; 2 + MAX_MESSAGE]),
            len: 0,
            partial_since: None,
        }
    }
}

impl Frames {
    /// Room for the next read; never empty while no complete message is buffered.
    fn spare(&mut self) -> &mut [u8] {
        &mut self.buf[self.len..]
    }

    /// The client the stream speaks for, once enough of it is here to tell: the peer, or the
    /// one a trusted proxy's header names (the header is then taken off the buffer).
    fn origin(&mut self, peer: &Peer) -> Result<Option<SocketAddr>, ProxyError> {
        let Some(origin) = proxy::origin(&self.buf[..self.len], peer.addr, || peer.proxied)? else {
            return Ok(None);
        };
        self.buf.copy_within(origin.header..self.len, 0);
        self.len -= origin.header;
        self.partial_since = self.partial_since.filter(|_| self.len > 0);
        Ok(Some(origin.client))
    }

    fn filled(&mut self, n: usize) {
        if self.len == 0 {
            self.partial_since = Some(Instant::now());
        }
        self.len += n;
    }

    /// The next complete query, if one is buffered. A length of 0 or above the limit, or a
    /// message that is not a query, closes the connection: a stream that does not parse is
    /// not worth keeping open.
    /// `tap` sees the message's bytes before they leave the buffer (dnstap copies them).
    fn next<T>(&mut self, tap: impl FnOnce(&[u8]) -> T) -> Result<Option<(Message, T)>, Closed> {
        if self.len < 2 {
            return Ok(None);
        }
        let size = usize::from(u16::from_be_bytes([self.buf[0], self.buf[1]]));
        if size == 0 || size > MAX_MESSAGE {
            return Err(Closed::BadLength(size));
        }
        let end = 2 + size;
        if self.len < end {
            return Ok(None);
        }
        let message = Message::from_vec(&self.buf[2..end]);
        let tapped = tap(&self.buf[2..end]);
        self.buf.copy_within(end..self.len, 0);
        self.len -= end;
        self.partial_since = (self.len > 0).then(Instant::now);
        match message {
            Ok(m) if m.metadata.message_type == MessageType::Query => Ok(Some((m, tapped))),
            _ => Err(Closed::NotAQuery),
        }
    }
}
