//! Trend research that exposes no one: per day, per profile kind (child, household) and per
//! category, the number of distinct devices that had a lookup blocked in that category.
//!
//! The unit is a device, and each device counts at most once per cell and under one kind a
//! day, which is what gives both the threshold (a cell under k devices is suppressed) and
//! the privacy budget (see [`noise`]) their meaning. Names are never recorded: the query
//! path hands the writer a device id, the profile's kind and the category, and the writer
//! keeps only a keyed hash of the id until the day closes (see [`store`]). Days are UTC days
//! of the server's clock, so that instances in different zones add up.
//!
//! Two views: the *local* one (exact counts, cells under k suppressed) for the instance's
//! own operator, and the *shared* one (OpenDP noise on every cell, then cells whose noisy
//! count is under k suppressed) for the CLI's default, `GET /trends`, and `trends merge`.

mod chart;
pub mod cli;
pub mod export;
mod http;
mod merge;
mod noise;
mod store;
mod writer;

pub use export::{Cell, Report, View};
pub use http::router;
pub use merge::{MergeError, merge};
pub use noise::{NoiseError, Release, release};

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;

use crate::config::{ProfileKind, TrendsConfig};
use crate::querylog::queue::Queue;

/// The server's clock (the same type as `crate::server::Clock`, named here so that this
/// module does not depend on the server).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

const DAY_SECONDS: i64 = 86_400;

/// Why trends cannot be recorded or read.
#[derive(Debug, thiserror::Error)]
pub enum TrendsError {
    #[error("trends database {path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error("trends database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("trends database: {0}")]
    Open(#[from] crate::sqlite::OpenError),
    #[error("trends: no randomness for the day's salt: {0}")]
    Random(getrandom::Error),
    #[error("trends: cannot start the writer thread: {0}")]
    Thread(std::io::Error),
    #[error("trends: {0}")]
    Noise(#[from] NoiseError),
}

/// A blocked lookup as the query path hands it over: no name, no address kept.
pub(crate) struct Event {
    at: Timestamp,
    device: String,
    kind: ProfileKind,
    category: String,
}

/// The sending side: cheap to share, never blocks a query.
pub struct Recorder {
    queue: Arc<Queue<Event>>,
    dropped: AtomicU64,
}

impl Recorder {
    /// Opens the database and starts the writer. `categories` are the cells' categories.
    pub fn start(
        config: &TrendsConfig,
        categories: Vec<String>,
        clock: Clock,
    ) -> Result<Recorder, TrendsError> {
        let conn = store::open(&config.path)?;
        let queue = Arc::new(Queue::new(config.queue));
        let w = writer::Writer {
            config: config.clone(),
            categories,
            clock,
        };
        writer::start(w, conn, queue.clone())?;
        Ok(Recorder {
            queue,
            dropped: AtomicU64::new(0),
        })
    }

    /// Counts a lookup of `device` blocked in `category`, or drops it when the writer is
    /// behind (the first drop, and every 10,000th, is logged).
    pub fn record(&self, at: Timestamp, device: String, kind: ProfileKind, category: &str) {
        let event = Event {
            at,
            device,
            kind,
            category: category.to_owned(),
        };
        if !self.queue.push(event) {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed);
            if n.is_multiple_of(10_000) {
                tracing::warn!(dropped = n + 1, "trends: writer behind, events dropped");
            }
        }
    }
}

impl Recorder {
    /// No more events: the writer writes what waits and stops, closing no day.
    pub fn close(&self) {
        self.queue.close();
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.close();
    }
}

/// The UTC day of `at`, in days since 1970-01-01.
pub fn day_of(at: Timestamp) -> i64 {
    at.as_second().div_euclid(DAY_SECONDS)
}

/// The calendar date of a day number.
fn date_of(day: i64) -> jiff::civil::Date {
    Timestamp::from_second(day * DAY_SECONDS)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date())
        .unwrap_or_default()
}

/// The report of `view` of the closed days from `since` on, read from the database of
/// `config`.
pub fn read(config: &TrendsConfig, view: View, since: i64) -> Result<Report, TrendsError> {
    let conn = open_read_only(&config.path)?;
    let cells = store::cells(&conn, since)?;
    Ok(Report::of(config, view, &cells))
}

/// The first day of `--since`/`since=`: `30d` (the last 30 days before today's) or a date
/// (`2026-11-01`).
pub fn since_day(text: &str, now: Timestamp) -> Result<i64, String> {
    if let Some(days) = text.strip_suffix('d')
        && let Ok(days) = days.parse::<u32>()
    {
        return Ok(day_of(now) - i64::from(days));
    }
    let date: jiff::civil::Date = text.parse().map_err(|_| {
        format!("`{text}`: expected a number of days (`30d`) or a date (`2026-11-01`)")
    })?;
    let at = date
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|e| format!("`{text}`: {e}"))?;
    Ok(day_of(at.timestamp()))
}

fn open_read_only(path: &Path) -> Result<rusqlite::Connection, TrendsError> {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(
        |source| TrendsError::Sqlite {
            path: path.display().to_string(),
            source,
        },
    )
}

#[cfg(test)]
mod tests;
