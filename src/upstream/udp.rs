//! Plain DNS over UDP to one upstream address, on a few long-lived sockets.
//!
//! hickory opens a socket for every query, registers it with the reactor, closes it again,
//! and runs the exchange through several layers of futures: on the miss path that was a
//! fifth of the CPU. Here a few sockets stay open, each with one task that reads every reply
//! and hands it to the query waiting for it.
//!
//! A reply is taken only if it comes from the upstream's address (the socket is connected),
//! carries the ID of a query waiting on that socket, and repeats that query's question
//! (RFC 5452 §9.1). IDs are random, and a socket is replaced by a fresh one (a new random
//! port) after [`ROTATE_AFTER`] queries, so an off-path spoofer has to guess a 16-bit ID and
//! a port that keeps moving. A truncated reply is the caller's to retry over TCP.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

/// A socket is replaced after this many queries, so that its port does not stay put.
const ROTATE_AFTER: u32 = 4096;
/// Queries waiting on one socket at most. Beyond it a random ID would often clash with a
/// waiting one; far more than a server's bound on queries in flight.
const MAX_WAITING: usize = 16_384;
/// The largest datagram read: whatever EDNS payload size an upstream honours fits.
const MAX_REPLY: usize = 65_535;

/// The sockets to one upstream address, created on first use.
pub struct UdpUpstream {
    server: SocketAddr,
    slots: Box<[ArcSwapOption<Channel>]>,
    next: AtomicUsize,
}

/// One socket. Queries in flight hold it; once it has been replaced and the last of them is
/// done, it is dropped, and with it `_stop`, which ends its reading task.
struct Channel {
    shared: Arc<Shared>,
    _stop: oneshot::Sender<()>,
}

/// What the reading task shares with the queries.
struct Shared {
    socket: UdpSocket,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    waiting: HashMap<u16, Waiter>,
    /// Random IDs not yet used, refilled from the OS's generator a few hundred at a time.
    ids: Vec<u16>,
    sent: u32,
}

struct Waiter {
    /// The request's question section, to compare with the reply's.
    question: Box<[u8]>,
    reply: oneshot::Sender<Vec<u8>>,
    /// The socket's query count when it was sent: tells this query from a later one that
    /// drew the same ID after this one's reply arrived.
    serial: u32,
}

impl UdpUpstream {
    /// A client of `server` over `sockets` sockets, taken in turn (one per worker thread
    /// spreads the replies' reading over them).
    pub fn new(server: SocketAddr, sockets: usize) -> UdpUpstream {
        let sockets = sockets.max(1);
        UdpUpstream {
            server,
            slots: (0..sockets).map(|_| ArcSwapOption::empty()).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Sends `request` (an encoded query; its ID is overwritten) and returns the reply, raw.
    /// The caller bounds the wait: dropping the future withdraws the query.
    pub async fn exchange(&self, request: &mut [u8]) -> io::Result<Vec<u8>> {
        let question = question(request)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no question"))?
            .into();
        let channel = self.channel()?;
        let (tx, rx) = oneshot::channel();
        let (id, serial) = channel.shared.wait(question, tx)?;
        let waiting = Withdraw {
            shared: &channel.shared,
            id,
            serial,
        };
        request[..2].copy_from_slice(&id.to_be_bytes());
        channel.shared.socket.send(request).await?;
        let reply = rx.await.map_err(|_| {
            io::Error::new(io::ErrorKind::ConnectionReset, "the upstream socket failed")
        });
        drop(waiting);
        reply
    }

    /// The next socket in turn, opened (again) if it is new or has served its queries.
    fn channel(&self) -> io::Result<Arc<Channel>> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        if let Some(channel) = slot.load_full()
            && channel.shared.state.lock().expect("not poisoned").sent < ROTATE_AFTER
        {
            return Ok(channel);
        }
        let channel = Arc::new(Channel::open(self.server)?);
        slot.store(Some(channel.clone()));
        Ok(channel)
    }
}

impl Channel {
    /// A socket on a random port, connected to `server`, and its reading task.
    fn open(server: SocketAddr) -> io::Result<Channel> {
        let any: SocketAddr = match server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = std::net::UdpSocket::bind(any)?;
        socket.connect(server)?;
        socket.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            socket: UdpSocket::from_std(socket)?,
            state: Mutex::default(),
        });
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(read(shared.clone(), stopped));
        Ok(Channel {
            shared,
            _stop: stop,
        })
    }
}

impl Shared {
    /// Files a query under a fresh random ID; returns the ID and the query's serial.
    fn wait(&self, question: Box<[u8]>, reply: oneshot::Sender<Vec<u8>>) -> io::Result<(u16, u32)> {
        let mut state = self.state.lock().expect("not poisoned");
        if state.waiting.len() >= MAX_WAITING {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "too many queries waiting on the upstream",
            ));
        }
        let id = loop {
            let id = match state.ids.pop() {
                Some(id) => id,
                None => {
                    state.ids = random_ids()?;
                    continue;
                }
            };
            if !state.waiting.contains_key(&id) {
                break id;
            }
        };
        state.sent += 1;
        let serial = state.sent;
        state.waiting.insert(
            id,
            Waiter {
                question,
                reply,
                serial,
            },
        );
        Ok((id, serial))
    }

    /// Hands `reply` to the query it answers; anything else is dropped.
    fn deliver(&self, reply: &[u8]) {
        let (Some(id), Some(question)) = (reply.get(..2), question(reply)) else {
            return;
        };
        let id = u16::from_be_bytes([id[0], id[1]]);
        let is_response = reply[2] & 0x80 != 0;
        let mut state = self.state.lock().expect("not poisoned");
        let matches = state
            .waiting
            .get(&id)
            .is_some_and(|w| is_response && same_question(&w.question, question));
        if matches && let Some(waiter) = state.waiting.remove(&id) {
            let _ = waiter.reply.send(reply.to_vec());
        } else {
            tracing::debug!(id, "dropped a reply that answers no waiting query");
        }
    }

    /// The socket failed (an ICMP error on a connected socket, such as port unreachable):
    /// every query waiting on it fails now rather than at its timeout.
    fn fail_all(&self) {
        self.state.lock().expect("not poisoned").waiting.clear();
    }
}

/// Removes a query's waiter when it ends, answered, failed or timed out.
struct Withdraw<'a> {
    shared: &'a Shared,
    id: u16,
    serial: u32,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock().expect("not poisoned");
        if state
            .waiting
            .get(&self.id)
            .is_some_and(|w| w.serial == self.serial)
        {
            state.waiting.remove(&self.id);
        }
    }
}

/// Reads replies until the channel is dropped.
async fn read(shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let mut buf = vec![0; MAX_REPLY];
    loop {
        tokio::select! {
            _ = &mut stop => return,
            received = shared.socket.recv(&mut buf) => match received {
                Ok(n) => shared.deliver(&buf[..n]),
                Err(e) => {
                    tracing::debug!(error = %e, "upstream socket error");
                    shared.fail_all();
                }
            },
        }
    }
}

/// The question section of a message with exactly one question, uncompressed (as a query
/// and its reply carry it): the name's labels, the type and the class.
fn question(message: &[u8]) -> Option<&[u8]> {
    if message.get(4..6)? != [0, 1] {
        return None;
    }
    let mut at = 12;
    loop {
        let len = usize::from(*message.get(at)?);
        if len > 63 {
            return None;
        }
        at += 1 + len;
        if len == 0 {
            return message.get(12..at + 4);
        }
    }
}

/// Questions are the same if their names match regardless of ASCII case (an upstream may
/// spell it as it likes) and their type and class match exactly.
fn same_question(asked: &[u8], answered: &[u8]) -> bool {
    let split = asked.len().saturating_sub(4);
    asked.len() == answered.len()
        && asked[..split].eq_ignore_ascii_case(&answered[..split])
        && asked[split..] == answered[split..]
}

fn random_ids() -> io::Result<Vec<u16>> {
    let mut bytes = [0u8; 512];
    getrandom::getrandom(&mut bytes).map_err(io::Error::other)?;
    Ok(bytes
        .chunks_exact(2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .collect())
}

#[cfg(test)]
#[path = "udp_tests.rs"]
mod tests;
