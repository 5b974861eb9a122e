//! The query log: one row per query in an embedded SQLite database, written off the query
//! path.
//!
//! Answering never waits on the log. [`QueryLog::record`] puts an entry in a bounded queue
//! and returns; a writer thread inserts entries in batches (one transaction per
//! batch, WAL mode, so readers never block it). When the queue is full the entry is
//! dropped and counted in `familydns_querylog_dropped_total`: under a flood the log loses
//! rows, never the resolver its speed.
//!
//! What is kept is set per profile (`log = "full" | "blocked" | "counts" | "off"`, and
//! `log_days`): counts per hour, profile, decision and category are kept for every profile
//! that logs at all, and carry no names; rows with names only for `full` (every query) and
//! `blocked` (blocked ones). Old rows are deleted by the writer as it goes.

pub(crate) mod queue;
mod read;
mod writer;

pub use read::{Count, Filter, Request, Row, counts, open_read_only, rows};

use std::path::Path;
use std::sync::Arc;

use jiff::Timestamp;
use prometheus::IntCounter;

use crate::config::LogMode;

/// Why the log cannot be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("query log {path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error("query log: {0}")]
    Open(#[from] crate::sqlite::OpenError),
    #[error("query log: cannot start the writer thread: {0}")]
    Thread(std::io::Error),
}

/// One answered query, as the pipeline hands it to the log.
#[derive(Debug, Clone)]
pub struct Entry {
    /// When it was answered, on the server's clock.
    pub at: Timestamp,
    /// The client's name from `[[client]]`, or its address.
    pub device: String,
    pub profile: String,
    pub name: String,
    pub qtype: u16,
    /// The decision label (`allowed`, `blocked`, `rewritten`, `servfail`, …).
    pub decision: &'static str,
    /// Why, in words (`list adult`, `deny`, `bedtime`); empty for an allowed name.
    pub reason: String,
    /// The blocking category, if a category's rule or the classifier blocked it.
    pub category: Option<String>,
    /// Time from the parsed query to the answer.
    pub micros: u32,
    /// The profile's `log` setting.
    pub mode: LogMode,
    /// The profile's `log_days`.
    pub keep_days: u32,
}

impl Entry {
    /// Whether the row itself (with its name) is kept, not only counted.
    fn keeps_row(&self) -> bool {
        match self.mode {
            LogMode::Full => true,
            LogMode::Blocked => matches!(self.decision, "blocked" | "budget"),
            LogMode::Counts | LogMode::Off => false,
        }
    }
}

/// The sending side of the log; cheap to share.
pub struct QueryLog {
    queue: Arc<queue::Queue<Entry>>,
    dropped: IntCounter,
}

impl QueryLog {
    /// Opens (or creates) the database at `path` and starts its writer thread.
    pub fn open(
        path: &Path,
        queue: usize,
        written: IntCounter,
        dropped: IntCounter,
    ) -> Result<QueryLog, LogError> {
        let queue = writer::start(path, queue, written)?;
        Ok(QueryLog { queue, dropped })
    }

    /// Hands `entry` to the writer, or drops it (counted) when the writer is behind. A
    /// profile with `log = "off"` leaves no trace at all.
    pub fn record(&self, entry: Entry) {
        let mode = entry.mode;
        self.record_with(mode, || Some(entry));
    }

    /// As [`record`](Self::record) for a profile logging in `mode`, but the entry is built
    /// only when the writer can take it. When answering saturates the core the writer falls
    /// behind and most entries are dropped; building them first (five strings and a
    /// formatted address each) took more of the core than anything else in the log.
    pub fn record_with(&self, mode: LogMode, entry: impl FnOnce() -> Option<Entry>) {
        if mode == LogMode::Off {
            return;
        }
        if !self.queue.has_room() {
            self.dropped.inc();
            return;
        }
        if let Some(entry) = entry()
            && !self.queue.push(entry)
        {
            self.dropped.inc();
        }
    }
}

/// The writer writes what is left, then stops.
impl Drop for QueryLog {
    fn drop(&mut self) {
        self.queue.close();
    }
}

#[cfg(test)]
mod tests;
