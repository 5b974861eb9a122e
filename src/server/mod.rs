//! The DNS front end: our own UDP and TCP listeners in front of one [`Pipeline`].
//!
//! hickory-server's listeners were replaced (the library still parses and encodes every
//! message): its UDP path spawns a task per datagram and hands answers to a socket task, which
//! cost more than the decision on the blocked and cached paths; its TCP path has no
//! connection limits and answers a connection's queries one at a time.

mod answer;
mod identity;
mod offline;
mod pipeline;
mod plan;
mod ratelimit;
mod tcp;
mod udp;

pub use offline::answer_offline;
pub use pipeline::{Clock, Pipeline};

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinHandle;

use crate::config::ServerConfig;
use crate::metrics::Metrics;

/// Binds UDP and TCP on every address of `config.listen` and serves them: UDP with one
/// socket per core, TCP with connection limits and pipelining. The listeners' bounds
/// (TCP slots, UDP queries waiting for an upstream) are shared by every address. Returns
/// the tasks and the bound addresses.
pub async fn start(
    pipeline: Arc<Pipeline>,
    config: &ServerConfig,
    metrics: &Metrics,
) -> std::io::Result<(Vec<JoinHandle<()>>, Vec<SocketAddr>)> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slots = tcp::Slots::new(
        config.tcp.max_connections,
        config.tcp.max_per_client,
        metrics.tcp_connections.clone(),
    );
    let tcp_config = Arc::new(config.tcp.clone());
    let waiting = udp::Waiting::new(config.udp.max_waiting, metrics.upstream_wait_full.clone());
    let mut tasks = Vec::new();
    let mut bound = Vec::new();
    for &addr in &config.listen {
        let (sockets, listener) = bind_pair(addr, cores).await?;
        let addr = listener.local_addr()?;
        tasks.push(tokio::spawn(tcp::serve(
            listener,
            pipeline.clone(),
            slots.clone(),
            tcp_config.clone(),
        )));
        for socket in sockets {
            tasks.push(tokio::spawn(udp::serve(
                socket,
                pipeline.clone(),
                waiting.clone(),
            )));
        }
        bound.push(addr);
    }
    Ok((tasks, bound))
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
