//! The writer thread: batches entries into one transaction each, keeps the hourly counts and
//! deletes rows past their profile's `log_days`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use prometheus::IntCounter;
use rusqlite::{Connection, params};

use super::queue::Queue;
use super::{Entry, LogError};

/// The writer takes what waits at most this often: a busy server's rows then go in a few
/// large transactions (a take of a tenth of a second at 100,000 queries a second is three
/// of [`BATCH`]), and a row reaches the database at most this much after its query.
const WRITE_EVERY: Duration = Duration::from_millis(100);
/// Entries written in one transaction at most.
const BATCH: usize = 4096;
/// Old rows are looked for at most this often (milliseconds of the entries' clock).
const PURGE_EVERY_MS: i64 = 10 * 60 * 1000;
/// Counts carry no names; they are kept this long whatever a profile's `log_days`.
const KEEP_COUNTS_DAYS: i64 = 400;
const DAY_MS: i64 = 86_400_000;

const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    CREATE TABLE IF NOT EXISTS queries (
        ts       INTEGER NOT NULL,  -- unix milliseconds
        device   TEXT    NOT NULL,
        profile  TEXT    NOT NULL,
        name     TEXT    NOT NULL,
        qtype    INTEGER NOT NULL,
        decision TEXT    NOT NULL,
        reason   TEXT    NOT NULL,
        category TEXT,
        micros   INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS queries_by_profile ON queries (profile, ts);
    CREATE TABLE IF NOT EXISTS counts (
        hour     INTEGER NOT NULL,  -- unix hours
        profile  TEXT    NOT NULL,
        decision TEXT    NOT NULL,
        category TEXT    NOT NULL,  -- '' when none
        n        INTEGER NOT NULL,
        PRIMARY KEY (hour, profile, decision, category)
    ) WITHOUT ROWID;
";

pub(super) fn open(path: &Path) -> Result<Connection, LogError> {
    Ok(crate::sqlite::open_with_schema(path, SCHEMA)?)
}

/// Opens the database and starts the thread; returns the queue to it.
pub(super) fn start(
    path: &Path,
    queue: usize,
    written: IntCounter,
) -> Result<Arc<Queue<Entry>>, LogError> {
    let conn = open(path)?;
    let queue = Arc::new(Queue::new(queue));
    let taken = queue.clone();
    let name = path.display().to_string();
    std::thread::Builder::new()
        .name("querylog".into())
        .spawn(move || {
            crate::priority::lowest_for_this_thread();
            if let Err(e) = run(conn, &taken, &written) {
                tracing::error!(log = %name, error = %e, "query log writer stopped");
            }
        })
        .map_err(LogError::Thread)?;
    Ok(queue)
}

/// Writes what the queue holds, in batches, until the log is closed and drained.
///
/// The writer polls: every [`WRITE_EVERY`] it takes everything waiting and writes it, so a
/// query never wakes it (which would cost a futex call and a context switch per query).
fn run(mut conn: Connection, queue: &Queue<Entry>, written: &IntCounter) -> rusqlite::Result<()> {
    let mut keep_days: HashMap<String, u32> = HashMap::new();
    let mut next_purge = i64::MIN;
    let mut spare = Vec::new();
    loop {
        let (mut taken, closed) = queue.take(spare, WRITE_EVERY);
        for batch in taken.chunks(BATCH) {
            write(&mut conn, batch)?;
            for e in batch {
                if keep_days.get(&e.profile) != Some(&e.keep_days) {
                    keep_days.insert(e.profile.clone(), e.keep_days);
                }
            }
            if let Some(now) = batch.iter().map(|e| e.at.as_millisecond()).max()
                && now >= next_purge
            {
                purge(&conn, &keep_days, now)?;
                next_purge = now + PURGE_EVERY_MS;
            }
            // Counted once the batch and its purge are done: a reader that waits on this
            // count sees both.
            written.inc_by(batch.len() as u64);
        }
        if closed && taken.is_empty() {
            return Ok(());
        }
        taken.clear();
        spare = taken;
    }
}

fn write(conn: &mut Connection, batch: &[Entry]) -> rusqlite::Result<()> {
    let mut counts: HashMap<(i64, &str, &str, &str), i64> = HashMap::new();
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO queries (ts, device, profile, name, qtype, decision, reason, category, micros)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for e in batch {
            let ms = e.at.as_millisecond();
            let category = e.category.as_deref().unwrap_or("");
            *counts
                .entry((ms.div_euclid(3_600_000), &e.profile, e.decision, category))
                .or_default() += 1;
            if e.keeps_row() {
                insert.execute(params![
                    ms, e.device, e.profile, e.name, e.qtype, e.decision, e.reason, e.category,
                    e.micros
                ])?;
            }
        }
        let mut count = tx.prepare_cached(
            "INSERT INTO counts (hour, profile, decision, category, n) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO UPDATE SET n = n + excluded.n",
        )?;
        for ((hour, profile, decision, category), n) in counts {
            count.execute(params![hour, profile, decision, category, n])?;
        }
    }
    tx.commit()
}

/// Deletes each profile's rows older than its `log_days`, and counts older than a year and a
/// bit, as of `now` (the newest entry's time: the server's clock, not this thread's).
fn purge(conn: &Connection, keep_days: &HashMap<String, u32>, now: i64) -> rusqlite::Result<()> {
    let mut delete = conn.prepare_cached("DELETE FROM queries WHERE profile = ?1 AND ts < ?2")?;
    for (profile, days) in keep_days {
        delete.execute(params![profile, now - i64::from(*days) * DAY_MS])?;
    }
    let hour = (now - KEEP_COUNTS_DAYS * DAY_MS).div_euclid(3_600_000);
    conn.execute("DELETE FROM counts WHERE hour < ?1", params![hour])?;
    Ok(())
}
