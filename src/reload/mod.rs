//! Reloading: what triggers it (file changes, SIGHUP, the admin endpoint) and the swap.
//!
//! A reload reads the config, the profiles and every list into a new [`Snapshot`] on a
//! thread of its own at the lowest priority, off the query path, and swaps it in with one
//! atomic store; queries in flight finish on the snapshot they loaded. Reloads are
//! serialised, so a burst of edits builds one snapshot at a time. Any error keeps the last
//! good snapshot serving.

mod refresh;
mod watch;

pub use refresh::refresh_lists;
pub use watch::watch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
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

/// What a reload applies beyond the snapshot: the settings running parts own (the
/// listeners, the upstreams, the rate limit, the metrics endpoint). The app implements it;
/// the trait keeps this module below the parts it reconfigures.
pub trait Apply: Send + Sync {
    /// Applies `config`'s settings that changed; returns one line for each that could not
    /// be applied live (a restart applies it).
    fn apply<'a>(&'a self, config: &'a Config) -> BoxFuture<'a, Vec<String>>;
}

/// A boxed future that may cross threads.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub struct Reloader {
    config_path: PathBuf,
    snapshot: Arc<ArcSwap<Snapshot>>,
    metrics: Arc<Metrics>,
    /// The last good config: what the watcher watches, the refresher downloads and the admin
    /// endpoint checks tokens against.
    config: ArcSwap<Config>,
    apply: OnceLock<Arc<dyn Apply>>,
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
            config: ArcSwap::from_pointee(config.clone()),
            apply: OnceLock::new(),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Sets what applies the settings outside the snapshot on every reload (once, at start).
    pub fn set_apply(&self, apply: Arc<dyn Apply>) {
        let _ = self.apply.set(apply);
    }

    pub fn snapshot(&self) -> &Arc<ArcSwap<Snapshot>> {
        &self.snapshot
    }

    /// The time zone of a profile of the live snapshot, for the timed actions ("until
    /// 20:00", "today") of the admin endpoint and the parents' page; the error names it.
    pub fn profile_zone(&self, profile: &str) -> Result<jiff::tz::TimeZone, String> {
        self.with_profile(profile, |p| p.timezone.clone())
    }

    /// `f` of a profile of the live snapshot (a budget grant needs the profile's budgets);
    /// the error names a profile that does not exist.
    pub fn with_profile<T>(
        &self,
        profile: &str,
        f: impl FnOnce(&crate::policy::Profile) -> T,
    ) -> Result<T, String> {
        self.snapshot
            .load()
            .profile_named(profile)
            .map(f)
            .ok_or_else(|| format!("no profile named `{profile}`"))
    }

    /// The last good config.
    pub fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    /// The config file, the profiles directory and every list file.
    pub fn watched(&self) -> Vec<PathBuf> {
        watched_paths(&self.config.load())
    }

    /// The lists downloaded from URLs.
    pub fn downloaded(&self) -> Vec<ListConfig> {
        downloaded(&self.config.load())
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Re-reads everything and swaps it in, or keeps the last good snapshot on error. Then
    /// applies the settings outside the snapshot; those it cannot apply are reported by
    /// `/health`, the log and `familydns_settings_unapplied`, not as a failed reload.
    pub async fn reload(&self) -> Result<(), ReloadError> {
        let _one_at_a_time = self.lock.lock().await;
        let start = Instant::now();
        let result = match config::load(&self.config_path) {
            Ok(config) => build_snapshot(config.clone()).await.map(|s| (s, config)),
            Err(e) => Err(ReloadError::from(e)),
        };
        match result {
            Ok((snapshot, config)) => {
                self.metrics.reload.snapshot_loaded(&snapshot);
                self.metrics
                    .reload
                    .reload_seconds
                    .observe(start.elapsed().as_secs_f64());
                let old = self.snapshot.swap(Arc::new(snapshot));
                release(old);
                if let Some(apply) = self.apply.get() {
                    let unapplied = apply.apply(&config).await;
                    for line in &unapplied {
                        tracing::warn!("reload: {line}");
                    }
                    self.metrics.reload.set_unapplied(unapplied);
                }
                self.config.store(Arc::new(config));
                tracing::info!(
                    seconds = start.elapsed().as_secs_f64(),
                    "reloaded configuration"
                );
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "reload failed; still serving the last good configuration");
                self.metrics.reload.reload_failed(e.to_string());
                Err(e)
            }
        }
    }
}

/// Drops the swapped-out snapshot (unless a query still holds it) and hands the memory it
/// freed back to the OS, both in the background at the lowest priority: freeing a million
/// rules and trimming the heap took the core from queries for milliseconds.
///
/// glibc keeps freed memory in its per-thread arenas, and a snapshot built on one thread and
/// freed on another made RSS creep from 25 to 107 MiB over ten reloads of a million rules
/// (Blocky's #1770 in another language); trimming after each swap holds it flat.
fn release(old: Arc<Snapshot>) {
    let spawned = std::thread::Builder::new()
        .name("snapshot-release".into())
        .spawn(move || {
            crate::priority::lowest_for_this_thread();
            drop(old);
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: malloc_trim only returns free heap pages to the kernel.
            unsafe {
                libc::malloc_trim(0);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start a thread to release the old snapshot");
    }
}

/// Tunes glibc's malloc for a server that frees in bursts. Called once at start.
///
/// - Few arenas: glibc would give every thread that builds a snapshot (one per reload) an
///   arena of its own; with few, the memory a reload frees is reused by the next one instead
///   of piling up in arenas no thread returns to.
/// - No fast bins: after a burst of misses had evicted some 100k cached answers, glibc
///   consolidated its fast bins on the next large allocation, and one query waited 20-55 ms
///   with every query queued behind it on that worker. Without fast bins a free is merged at
///   once (small blocks still go through the per-thread cache), and throughput did not
///   change measurably. (mimalloc had no such stall and 20 % more misses a second, but held
///   twice the RSS with the list loaded, 33-39 MiB against 17, and 80 MiB after ten reloads
///   against 26: its options that avoid this cannot be set from inside the process in time.)
/// - Blocks of a mebibyte or more mapped on their own, always: a snapshot build's big
///   vectors (list texts, rules, the new table) then go back to the system the moment they
///   are freed or shrunk, and a fresh table costs memory only as its slots are written.
///   glibc's default threshold rises to 32 MiB after the first such block is freed, after
///   which every build's vectors came from the heap and stayed there: RSS crept from 32 to
///   44 MiB over six reloads of 1.4M rules, and now stays at 30 (and a table was zeroed,
///   all of it, before its first slot was written).
pub fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before the runtime allocates much.
    unsafe {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        libc::mallopt(libc::M_ARENA_MAX, i32::try_from(cores.max(2)).unwrap_or(2));
        libc::mallopt(libc::M_MXFAST, 0);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Builds a snapshot on a thread of its own at the lowest priority: parsing millions of
/// rules is CPU work that must not hold up the threads answering queries, even on a server
/// pinned to one core, where the build gets only what answering leaves idle. (On tokio's
/// blocking pool the lowered priority would stay with a thread that later serves others.)
pub async fn build_snapshot(config: Config) -> Result<Snapshot, ReloadError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("snapshot-build".into())
        .spawn(move || {
            crate::priority::lowest_for_this_thread();
            let built = std::panic::catch_unwind(|| Snapshot::build(&config, false));
            let _ = tx.send(built.map_err(|panic| panic_message(&*panic)));
        })
        .map_err(|e| ReloadError::Panicked(format!("cannot start the build thread: {e}")))?;
    match rx.await {
        Ok(Ok(built)) => Ok(built?),
        Ok(Err(message)) => Err(ReloadError::Panicked(message)),
        Err(_) => Err(ReloadError::Panicked("the build thread ended".into())),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
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
