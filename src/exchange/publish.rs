//! The publisher: takes the accepted set from the complaints side, keeps the category zones
//! (and their serials, in `cache_dir`, so a restart never sends a serial back), serves them,
//! and NOTIFYs the subscribers of each zone that changed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use prometheus::IntCounterVec;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::serve::{self, Server};
use super::tsig::Keyring;
use super::zone::{Saved, Zones};
use super::{Accepted, notify, unix_now};
use crate::atomic_file;
use crate::config::exchange::{ExchangeConfig, TsigKeyConfig};

/// A running publisher; dropping it stops serving.
pub struct Publisher {
    /// The TCP (and UDP) address bound, for a config that asked for port 0.
    pub local_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Publisher {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Publisher {
    /// Binds `config.listen`, serves the zones saved in `cache_dir`, and publishes every set
    /// sent on `accepted` from now on (see [`publish`] for the channel's initial value).
    pub async fn start(
        config: &ExchangeConfig,
        keys: &[TsigKeyConfig],
        cache_dir: &Path,
        accepted: watch::Receiver<Accepted>,
        events: IntCounterVec,
    ) -> std::io::Result<Publisher> {
        let state = cache_dir.join(format!("exchange-{}json", config.zone.to_ascii()));
        let mut zones = Zones::new(config.zone.clone(), config.journal, config.max_names);
        zones.restore(load(&state));
        let listener = TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        let socket = UdpSocket::bind(local_addr).await?;
        let server = Arc::new(Server {
            zones: Arc::new(RwLock::new(zones)),
            keys: Keyring::new(keys),
            subscribers: config.subscribers.clone(),
            events,
            idle: config.idle_timeout,
        });
        let tasks = vec![
            tokio::spawn(serve::tcp(listener, server.clone(), config.max_connections)),
            tokio::spawn(serve::udp(socket, server.clone())),
            tokio::spawn(publish(server, accepted, state)),
        ];
        Ok(Publisher { local_addr, tasks })
    }
}

/// Applies each accepted set as it comes: diff, save, NOTIFY. The value the receiver holds
/// as already seen (a channel's initial value) is not applied: until the complaints side
/// sends its first set, the saved zones are served as they were.
async fn publish(server: Arc<Server>, mut accepted: watch::Receiver<Accepted>, state: PathBuf) {
    while accepted.changed().await.is_ok() {
        let set = accepted.borrow_and_update().clone();
        let now = unix_now();
        // Changed on a copy and saved before it is served: a serial a subscriber has seen
        // is never lost to a crash. This task is the only writer, and changes come at the
        // pace of reviewers, so the copy costs little.
        let mut next = server.zones.read().expect("not poisoned").clone();
        let (changed, problems) = next.update(&set, u32::try_from(now).unwrap_or(u32::MAX));
        for problem in problems {
            tracing::warn!(%problem, "not published");
        }
        if changed.is_empty() {
            continue;
        }
        let (state, saved) = (state.clone(), next.saved());
        let written = tokio::task::spawn_blocking(move || save(&state, &saved)).await;
        if let Ok(Err(e)) = written {
            tracing::error!(error = %e, "cannot save the exchange's serials");
        }
        *server.zones.write().expect("not poisoned") = next;
        for category in changed {
            notify_subscribers(&server, &category, now);
        }
    }
}

/// One NOTIFY task per subscriber address, each bounded in tries and time.
fn notify_subscribers(server: &Server, category: &str, now: u64) {
    let soa = {
        let zones = server.zones.read().expect("not poisoned");
        let zone = zones
            .origin(category)
            .and_then(|origin| zones.find(&origin).map(|z| z.soa()));
        match zone {
            Some(soa) => soa,
            None => return,
        }
    };
    for subscriber in &server.subscribers {
        let signer = subscriber
            .key
            .as_ref()
            .and_then(|k| server.keys.get(k))
            .cloned();
        for &to in &subscriber.notify {
            tokio::spawn(notify::send(
                soa.clone(),
                to,
                signer.clone(),
                now,
                server.events.clone(),
            ));
        }
    }
}

fn load(path: &Path) -> Saved {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn save(path: &Path, saved: &Saved) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    atomic_file::write(
        path,
        &serde_json::to_vec(saved).map_err(std::io::Error::other)?,
    )
}
