//! The DNS front end: listeners and the hickory `RequestHandler` that runs the pipeline.

mod answer;
mod handler;
mod identity;
mod pipeline;
mod ratelimit;
mod udp;

pub use handler::Handler;
pub use pipeline::{Clock, Pipeline};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use hickory_server::Server;

/// How long an idle TCP connection stays open.
const TCP_TIMEOUT: Duration = Duration::from_secs(10);
/// Size of each TCP connection's response buffer (messages, not bytes).
const TCP_RESPONSE_BUFFER: usize = 32;

/// Binds UDP and TCP on every address and serves them: UDP through our own loop (one
/// socket per core), TCP through hickory-server. Returns the tasks and the bound addresses.
pub async fn start(
    pipeline: Arc<Pipeline>,
    listen: &[SocketAddr],
) -> std::io::Result<(Vec<JoinHandle<()>>, Vec<SocketAddr>)> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut tasks = Vec::new();
    let mut bound = Vec::new();
    let mut tcp = Server::new(Handler::new(pipeline.clone()));
    for &addr in listen {
        let sockets = udp::bind(addr, cores)?;
        // Port 0 picks a free port for UDP; TCP then takes the same one.
        let addr = sockets[0].local_addr()?;
        tcp.register_listener(
            tokio::net::TcpListener::bind(addr).await?,
            TCP_TIMEOUT,
            TCP_RESPONSE_BUFFER,
        );
        for socket in sockets {
            tasks.push(tokio::spawn(udp::serve(socket, pipeline.clone())));
        }
        bound.push(addr);
    }
    tasks.push(tokio::spawn(async move {
        if let Err(e) = tcp.block_until_done().await {
            tracing::error!(error = %e, "TCP listener stopped");
        }
    }));
    Ok((tasks, bound))
}
