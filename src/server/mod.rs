//! The DNS front end: listeners and the hickory `RequestHandler` that runs the pipeline.

mod answer;
mod handler;
mod identity;
mod ratelimit;

pub use handler::{Clock, Handler};

use std::net::SocketAddr;
use std::time::Duration;

use hickory_server::Server;

/// How long an idle TCP connection stays open.
const TCP_TIMEOUT: Duration = Duration::from_secs(10);
/// Size of each TCP connection's response buffer (messages, not bytes).
const TCP_RESPONSE_BUFFER: usize = 32;

/// Binds UDP and TCP on every address; the caller runs the returned server.
pub async fn bind(
    handler: Handler,
    listen: &[SocketAddr],
) -> std::io::Result<(Server<Handler>, Vec<SocketAddr>)> {
    let mut server = Server::new(handler);
    let mut bound = Vec::new();
    for &addr in listen {
        let udp = tokio::net::UdpSocket::bind(addr).await?;
        // Port 0 picks a free port for UDP; TCP then takes the same one.
        let addr = udp.local_addr()?;
        let tcp = tokio::net::TcpListener::bind(addr).await?;
        server.register_socket(udp);
        server.register_listener(tcp, TCP_TIMEOUT, TCP_RESPONSE_BUFFER);
        bound.push(addr);
    }
    Ok((server, bound))
}
