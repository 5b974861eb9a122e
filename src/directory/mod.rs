//! The subscriber directory: which profile each of an ISP's subscribers (a prefix, or a
//! CPE's MAC) has, kept in PostgreSQL (`deploy/postgres/schema.sql`) and followed live.
//!
//! The rows are loaded whole into a compact longest-prefix table ([`Subscribers`]), held in
//! its own `ArcSwap` beside the blocklists' snapshot: a subscriber's change never rebuilds a
//! list, and a reload of the lists never reloads subscribers. Changes arrive by
//! LISTEN/NOTIFY ([`sync`]); while the database is unreachable the last table keeps
//! answering, and it is on disk too ([`snapfile`]), so a restart does not need the database.
//!
//! Lookup order for a client: `[[client]]` entries of the config, then this directory, then
//! the default profile (`Snapshot::device_in`).

mod bits;
mod change;
mod family;
mod snapfile;
mod status;
mod sync;
mod table;

pub use change::{CHANNEL, Change, RowError, parse_change, parse_row};
pub use snapfile::{SnapshotFileError, load as load_file, save as save_file};
pub use status::Status;
pub use table::{Key, Loader, MAX_NAME_BYTES, MAX_NAMES, MERGE_AT, NameError, Names, Subscribers};

use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use tokio::task::JoinHandle;

use crate::config::DirectoryConfig;

/// Whether the config has a profile of this name (rows naming others get the default).
pub type Known = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The live table and its state, shared by the pipeline, the sync task and `/health`.
pub struct Directory {
    table: ArcSwap<Subscribers>,
    pub status: Arc<Status>,
}

impl Directory {
    /// An empty directory (no `[directory]` in the config: every lookup misses).
    pub fn new(status: Arc<Status>) -> Directory {
        Directory {
            table: ArcSwap::from_pointee(Subscribers::default()),
            status,
        }
    }

    /// The table now; a query holds it to its end.
    pub fn table(&self) -> Guard<Arc<Subscribers>> {
        self.table.load()
    }

    fn replace(&self, table: Arc<Subscribers>) {
        self.status
            .rows
            .set(i64::try_from(table.len()).unwrap_or(i64::MAX));
        self.table.store(table);
    }

    /// Serves the snapshot on disk, if any, then follows PostgreSQL. Returns once the first
    /// attempt to load from the database has succeeded or failed, so that a start with the
    /// database reachable never answers with a partial directory.
    pub async fn start(
        self: &Arc<Self>,
        config: DirectoryConfig,
        known: Known,
    ) -> Vec<JoinHandle<()>> {
        let path = config.snapshot.clone();
        match tokio::task::spawn_blocking(move || snapfile::load(&path)).await {
            Ok(Ok(table)) => {
                tracing::info!(rows = table.len(), "subscribers from the snapshot on disk");
                self.replace(Arc::new(table));
                self.status.serving_disk();
            }
            Ok(Err(SnapshotFileError::Io { source, .. }))
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "subscriber snapshot not used"),
            Err(e) => tracing::warn!(error = %e, "subscriber snapshot not read"),
        }
        let (saver, saved) = tokio::sync::watch::channel(None);
        let (first, first_done) = tokio::sync::oneshot::channel();
        let tasks = vec![
            tokio::spawn(sync::save(saved, config.snapshot.clone())),
            tokio::spawn(
                sync::Follower {
                    dir: self.clone(),
                    config,
                    known,
                    saver,
                    first: Some(first),
                }
                .run(),
            ),
        ];
        let _ = first_done.await;
        tasks
    }
}
