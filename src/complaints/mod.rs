//! Complaints about harmful names: filed on the parents' page, through the HTTP API with a
//! token, or with `familydns report`; accepted or rejected by a reviewer; an accepted name
//! joins the local list of its category at once and is blocked, with its subdomains, for
//! every profile that blocks that category.
//!
//! The running server is the single writer: [`Complaints`] stores each change in the query
//! log's database, then compiles the accepted names into an [`Accepted`] set that the query
//! path reads with one atomic load (as it reads the timed exceptions), and sends the same set
//! as a [`Feed`] to whoever publishes it (the RPZ exchange). Nothing else is reloaded.
//!
//! `filing` checks what is filed (pure), `store` is the SQL, `accepted` the compiled set.
//! The HTTP API and the commands that call it are [`crate::complaint_api`], a layer above
//! (the query path, below it, reads the accepted set from here).

mod accepted;
mod filing;
pub mod store;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use jiff::Timestamp;
use rusqlite::Connection;
use tokio::sync::watch;

pub use accepted::{Accepted, Entry, Feed};
pub use filing::{Filing, FilingError, Via};
pub use store::{Complaint, Ruling, Status, StoreError};

use crate::attempts::Attempts;
use crate::config::Config;

/// Complaints one list returns at most, whatever it asks.
pub const MAX_LISTED: u32 = 1_000;
/// Filers (tokens, the page) counted apart; more share one count (see [`Attempts`]).
const MAX_FILERS: usize = 256;

/// The accepted names as the database of `config` holds them, for `familydns check`, which
/// runs beside the server and never writes: none while there is no database.
pub fn read(config: &Config) -> Accepted {
    let entries = config
        .query_log
        .as_ref()
        .filter(|l| l.path.exists())
        .and_then(|l| {
            let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
            let conn = Connection::open_with_flags(&l.path, flags).ok()?;
            store::accepted(&conn).ok()
        })
        .unwrap_or_default();
    Accepted::new(entries)
}

/// Why a complaint or a decision was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ComplaintError {
    #[error("complaints are kept in the query log's database, and [query_log] is off")]
    Unavailable,
    #[error(transparent)]
    Filing(#[from] FilingError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{by} filed {max} complaints in the last hour: wait before filing more")]
    TooManyFilings { by: String, max: u32 },
    #[error("the complaints task failed: {0}")]
    Task(String),
}

impl ComplaintError {
    /// Whether the server failed rather than the request: the API answers 500 and the page
    /// an error page; every other error is the sender's to fix, and says how.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            ComplaintError::Task(_)
                | ComplaintError::Store(StoreError::Sqlite(_) | StoreError::Open { .. })
        )
    }
}

/// The complaints of one server: the database, the compiled accepted set, and the feed.
pub struct Complaints {
    /// The query log's database; `None` when `[query_log]` is off (then nothing is taken).
    db: Option<PathBuf>,
    accepted: ArcSwap<Accepted>,
    feed: watch::Sender<Feed>,
    /// One change at a time, so that a pending count cannot be raced past its bound and the
    /// set published after a decision is the one the database holds.
    writing: tokio::sync::Mutex<()>,
    /// Filings per filer per hour (`filings_per_hour`).
    filings: Mutex<Attempts<String>>,
}

impl Complaints {
    /// Loads the accepted names from `db` (they survive a restart) and publishes them on
    /// `feed`.
    pub fn load(db: Option<PathBuf>, feed: watch::Sender<Feed>) -> Result<Complaints, StoreError> {
        let entries = match &db {
            Some(path) => store::accepted(&store::open(path)?)?,
            None => Vec::new(),
        };
        let complaints = Complaints {
            db,
            accepted: ArcSwap::from_pointee(Accepted::default()),
            feed,
            writing: tokio::sync::Mutex::new(()),
            filings: Mutex::new(Attempts::new(Duration::from_secs(3600), MAX_FILERS)),
        };
        complaints.publish(entries);
        Ok(complaints)
    }

    /// The accepted names now, for the query path.
    pub fn current(&self) -> Arc<Accepted> {
        self.accepted.load_full()
    }

    /// Checks `filing` against the live `config` (its categories and bounds) and stores it as
    /// pending, filed through `via` by `by` at `now`; `by` may file `filings_per_hour`.
    pub async fn file(
        &self,
        filing: Filing,
        (via, by): (Via, &str),
        config: &Config,
        now: Timestamp,
    ) -> Result<Complaint, ComplaintError> {
        let bounds = &config.complaints;
        let filing = filing::check(filing, &config.categories(), bounds.max_comment)?;
        let max = bounds.filings_per_hour;
        if !self
            .filings
            .lock()
            .expect("not poisoned")
            .attempt(by.to_owned(), max, now)
        {
            let by = by.to_owned();
            return Err(ComplaintError::TooManyFilings { by, max });
        }
        let (by, max) = (by.to_owned(), bounds.max_pending);
        let _writing = self.writing.lock().await;
        self.with_db(move |conn| store::file(conn, &filing, (via, &by), max, now))
            .await
    }

    /// Applies `ruling` to complaint `id`, decided by `by` at `now`, and puts the accepted
    /// names in force before returning.
    pub async fn decide(
        &self,
        id: i64,
        ruling: Ruling,
        by: &str,
        config: &Config,
        now: Timestamp,
    ) -> Result<Complaint, ComplaintError> {
        let (by, max) = (by.to_owned(), config.complaints.max_accepted);
        let _writing = self.writing.lock().await;
        let (complaint, entries) = self
            .with_db(move |conn| {
                let complaint = store::decide(conn, id, ruling, &by, max, now)?;
                Ok((complaint, store::accepted(conn)?))
            })
            .await?;
        self.publish(entries);
        Ok(complaint)
    }

    /// Complaints with `status` (any: `None`), newest first, at most [`MAX_LISTED`].
    pub async fn list(
        &self,
        status: Option<Status>,
        limit: u32,
    ) -> Result<Vec<Complaint>, ComplaintError> {
        let limit = limit.min(MAX_LISTED);
        self.with_db(move |conn| store::list(conn, status, limit))
            .await
    }

    /// Runs `f` on a connection to the database, off the async threads.
    async fn with_db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ComplaintError> {
        let db = self.db.clone().ok_or(ComplaintError::Unavailable)?;
        let result = tokio::task::spawn_blocking(move || f(&mut store::open(&db)?))
            .await
            .map_err(|e| ComplaintError::Task(e.to_string()))?;
        Ok(result?)
    }

    fn publish(&self, entries: Vec<Entry>) {
        let accepted = Accepted::new(entries);
        // `send_replace`: the feed keeps the newest set even while nobody subscribes.
        self.feed.send_replace(accepted.feed());
        self.accepted.store(Arc::new(accepted));
    }
}
