//! Reloading: what triggers it (file changes, SIGHUP, the admin endpoint) and the swap.
//!
//! A reload reads the config, the profiles and every list into a new [`Snapshot`] on a
//! blocking thread, off the query path, and swaps it in with one atomic store; queries in
//! flight finish on the snapshot they loaded. Reloads are serialised, so a burst of edits
//! builds one snapshot at a time. Any error keeps the last good snapshot serving.

mod refresh;
mod watch;

pub use refresh::refresh_lists;
pub use watch::watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;

use crate::config::{self, Config, ListConfig};
use crate::metrics::Metrics;
use crate::snapshot::{Snapshot, SnapshotError};

/// Why a reload (or the first load) kept the last good snapshot.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Config(#[from] config::ConfigErrors),
    #[error("{0}")]
    Lists(#[from] SnapshotError),
    /// A bug, not a user error: the build panicked. The panic is contained so that the
    /// resolver, and the watcher that asked, live on with the last good snapshot.
    #[error("building the snapshot failed unexpectedly: {0}")]
    Panicked(String),
}

pub struct Reloader {
    config_path: PathBuf,
    snapshot: Arc<ArcSwap<Snapshot>>,
    metrics: Arc<Metrics>,
    /// Files whose change should trigger a reload, as of the last good config.
    watched: std::sync::Mutex<Vec<PathBuf>>,
    /// Lists downloaded from URLs, as of the last good config.
    downloaded: std::sync::Mutex<Vec<ListConfig>>,
    lock: tokio::sync::Mutex<()>,
}

impl Reloader {
    pub fn new(
        config: &Config,
        snapshot: Arc<ArcSwap<Snapshot>>,
        metrics: Arc<Metrics>,
    ) -> Reloader {
        Reloader {
            config_path: config.file.clone(),
            snapshot,
            metrics,
            watched: std::sync::Mutex::new(watched_paths(config)),
            downloaded: std::sync::Mutex::new(downloaded(config)),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn snapshot(&self) -> &Arc<ArcSwap<Snapshot>> {
        &self.snapshot
    }

    /// The config file, the profiles directory and every list file.
    pub fn watched(&self) -> Vec<PathBuf> {
        self.watched.lock().expect("not poisoned").clone()
    }

    /// The lists downloaded from URLs.
    pub fn downloaded(&self) -> Vec<ListConfig> {
        self.downloaded.lock().expect("not poisoned").clone()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Re-reads everything and swaps it in, or keeps the last good snapshot on error.
    pub async fn reload(&self) -> Result<(), ReloadError> {
        let _one_at_a_time = self.lock.lock().await;
        let start = Instant::now();
        let result = match config::load(&self.config_path) {
            Ok(config) => {
                let paths = watched_paths(&config);
                let lists = downloaded(&config);
                build_snapshot(config).await.map(|s| (s, paths, lists))
            }
            Err(e) => Err(ReloadError::from(e)),
        };
        match result {
            Ok((snapshot, paths, lists)) => {
                *self.downloaded.lock().expect("not poisoned") = lists;
                self.metrics.snapshot_loaded(&snapshot);
                self.metrics
                    .reload_seconds
                    .observe(start.elapsed().as_secs_f64());
                // Swapping drops the old snapshot unless a query still holds it.
                self.snapshot.store(Arc::new(snapshot));
                release_free_memory();
                *self.watched.lock().expect("not poisoned") = paths;
                tracing::info!(
                    seconds = start.elapsed().as_secs_f64(),
                    "reloaded configuration"
                );
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "reload failed; still serving the last good configuration");
                self.metrics.reload_failed(e.to_string());
                Err(e)
            }
        }
    }
}

/// Hands memory freed by the old snapshot back to the OS. glibc keeps freed memory in its
/// per-thread arenas, and a snapshot built on one thread and freed on another made RSS creep
/// from 25 to 107 MiB over ten reloads of a million rules (Blocky's #1770 in another
/// language); trimming after each swap holds it flat.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Keeps glibc from giving every blocking thread that builds a snapshot an arena of its
/// own: with few arenas, the memory a reload frees is reused by the next one instead of
/// piling up in arenas no thread returns to. Called once at start.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before the runtime allocates much.
    unsafe {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        libc::mallopt(libc::M_ARENA_MAX, i32::try_from(cores.max(2)).unwrap_or(2));
    }
}

/// Builds a snapshot on a blocking thread: parsing millions of rules is CPU work that must
/// not hold up the threads answering queries.
pub async fn build_snapshot(config: Config) -> Result<Snapshot, ReloadError> {
    match tokio::task::spawn_blocking(move || Snapshot::build(&config, false)).await {
        Ok(built) => Ok(built?),
        Err(e) => Err(ReloadError::Panicked(e.to_string())),
    }
}

/// The config, the profiles directory and local list files. Downloaded lists are not
/// watched: the refresher reloads after writing them.
fn watched_paths(config: &Config) -> Vec<PathBuf> {
    let mut paths = vec![config.file.clone()];
    paths.extend(
        config
            .profiles
            .first()
            .and_then(|p| p.file.parent())
            .map(Path::to_path_buf),
    );
    paths.extend(
        config
            .lists
            .iter()
            .filter(|l| l.url.is_none())
            .map(|l| l.source.clone()),
    );
    paths
}

fn downloaded(config: &Config) -> Vec<ListConfig> {
    config
        .lists
        .iter()
        .filter(|l| l.url.is_some())
        .cloned()
        .collect()
}
