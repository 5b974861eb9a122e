//! The DNS front end: our own UDP and TCP listeners, and DoT and DoH ([`encrypted`]), in
//! front of one [`Pipeline`].
//!
//! hickory-server's listeners were replaced (the library still parses and encodes every
//! message): its UDP path spawns a task per datagram and hands answers to a socket task, which
//! cost more than the decision on the blocked and cached paths; its TCP path has no
//! connection limits and answers a connection's queries one at a time.

mod answer;
mod encrypted;
mod identity;
mod logged;
mod offline;
mod pipeline;
mod plan;
mod proxy;
mod ratelimit;
mod respond;
mod tcp;
mod udp;
mod wire;

pub use offline::answer_offline;
pub use pipeline::{Clock, Limit, Pipeline};

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::config::{ServerConfig, TcpConfig};
use crate::metrics::Metrics;

/// The DNS listeners: UDP sockets (one per core) and a TCP listener on every address of
/// `server.listen`. Their bounds (TCP slots, UDP queries waiting for an upstream) are shared
/// by every address. A reload adds and removes addresses with [`update`](Self::update);
/// dropping a `Listeners` closes them all.
pub struct Listeners {
    pipeline: Arc<Pipeline>,
    slots: Arc<tcp::Slots>,
    tcp: Arc<TcpConfig>,
    waiting: udp::Waiting,
    cores: usize,
    bound: Vec<Bound>,
    /// DoT and DoH (`[server.tls]`), bound at start; a reload does not move them.
    _encrypted: Option<encrypted::Encrypted>,
}

/// One configured address and what serves it.
struct Bound {
    configured: SocketAddr,
    /// The address actually bound (port 0 in the config picks one).
    local: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

/// Aborts `tasks` and returns once every one of them is gone, and with it what it owned (a
/// socket): aborting alone only asks the runtime to drop them.
pub async fn abort_and_wait(tasks: Vec<JoinHandle<()>>) {
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
}

impl Drop for Bound {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Listeners {
    /// Closes every listener, as dropping does, and returns once their tasks, and with them
    /// the sockets, are gone: dropping only asks the runtime to stop them, and a server
    /// started at once on the same fixed address (a restart in place) could find it bound.
    pub async fn close(mut self) {
        let tasks: Vec<JoinHandle<()>> = self
            .bound
            .iter_mut()
            .flat_map(|b| std::mem::take(&mut b.tasks))
            .collect();
        drop(self);
        abort_and_wait(tasks).await;
    }

    /// Binds and serves every address of `config.listen`.
    pub async fn start(
        pipeline: Arc<Pipeline>,
        config: &ServerConfig,
        metrics: &Metrics,
    ) -> std::io::Result<Listeners> {
        let mut listeners = Listeners {
            pipeline,
            slots: tcp::Slots::new(
                config.tcp.max_connections,
                config.tcp.max_per_client,
                metrics.tcp_connections.clone(),
            ),
            tcp: Arc::new(config.tcp.clone()),
            waiting: udp::Waiting::new(config.udp.max_waiting, metrics.upstream_wait_full.clone()),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            bound: Vec::new(),
            _encrypted: None,
        };
        for &addr in &config.listen {
            let bound = listeners.bind(addr).await?;
            listeners.bound.push(bound);
        }
        if let Some(tls) = &config.tls {
            let (pipeline, slots) = (listeners.pipeline.clone(), listeners.slots.clone());
            let started = encrypted::Encrypted::start(tls, pipeline, slots, listeners.tcp.clone());
            listeners._encrypted = Some(started.await.map_err(std::io::Error::other)?);
        }
        Ok(listeners)
    }

    /// The addresses being served, in the config's order.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.bound.iter().map(|b| b.local).collect()
    }

    /// Applies a reloaded `server.listen`: closes the addresses no longer listed, binds the
    /// new ones, and leaves the others (and their open connections) alone. Returns the
    /// addresses that could not be bound, with why.
    pub async fn update(&mut self, listen: &[SocketAddr]) -> Vec<(SocketAddr, std::io::Error)> {
        // Close first, and wait until the sockets are closed, so that an address given
        // another spelling (`0.0.0.0:53` for `127.0.0.1:53`) can be bound again.
        let (kept, mut removed): (Vec<Bound>, Vec<Bound>) = std::mem::take(&mut self.bound)
            .into_iter()
            .partition(|b| listen.contains(&b.configured));
        self.bound = kept;
        for bound in &mut removed {
            for task in std::mem::take(&mut bound.tasks) {
                task.abort();
                let _ = task.await;
            }
        }
        let mut failed = Vec::new();
        for &addr in listen {
            if self.bound.iter().any(|b| b.configured == addr) {
                continue;
            }
            match self.bind(addr).await {
                Ok(bound) => self.bound.push(bound),
                Err(e) => failed.push((addr, e)),
            }
        }
        let order = |b: &Bound| listen.iter().position(|a| *a == b.configured);
        self.bound.sort_by_key(order);
        failed
    }

    async fn bind(&self, addr: SocketAddr) -> std::io::Result<Bound> {
        let (sockets, listener) = bind_pair(addr, self.cores).await?;
        let local = listener.local_addr()?;
        let mut tasks = vec![tokio::spawn(tcp::serve(
            listener,
            self.pipeline.clone(),
            self.slots.clone(),
            self.tcp.clone(),
        ))];
        for socket in sockets {
            tasks.push(tokio::spawn(udp::serve(
                socket,
                self.pipeline.clone(),
                self.waiting.clone(),
            )));
        }
        Ok(Bound {
            configured: addr,
            local,
            tasks,
        })
    }
}

/// UDP sockets and a TCP listener on the same address. With port 0, UDP picks a free port and
/// TCP takes the same one; if another program holds that TCP port, try another port.
async fn bind_pair(
    addr: SocketAddr,
    cores: usize,
) -> std::io::Result<(Vec<tokio::net::UdpSocket>, tokio::net::TcpListener)> {
    let mut attempts = 0;
    loop {
        let sockets = udp::bind(addr, cores)?;
        let bound = sockets[0].local_addr()?;
        match tokio::net::TcpListener::bind(bound).await {
            Ok(listener) => return Ok((sockets, listener)),
            Err(e) if addr.port() == 0 && attempts < 20 => {
                tracing::debug!(error = %e, port = bound.port(), "TCP port taken, trying another");
                attempts += 1;
            }
            Err(e) => return Err(e),
        }
    }
}
