//! Asks and alerts in the query log's SQLite database, in tables of their own: what a child
//! asked for, why, and what the parent decided; and which alert categories a device ran
//! into. Each function takes a connection, so the page and the notifier open one where they
//! run (off the async threads).
//!
//! Both tables are bounded: rows older than [`KEEP_DAYS`] go when new ones come, and no more
//! than [`MAX_PENDING`] asks wait at once, so a device cannot grow the file without limit.

use std::path::Path;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use crate::querylog::LogError;

/// Days asks and alerts are kept.
pub const KEEP_DAYS: i64 = 90;
/// Asks waiting for a decision at most; more are refused until the parent decides some.
pub const MAX_PENDING: i64 = 200;
const DAY_MS: i64 = 86_400_000;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS asks (
        id       INTEGER PRIMARY KEY,
        ts       INTEGER NOT NULL,  -- unix milliseconds
        device   TEXT    NOT NULL,
        profile  TEXT    NOT NULL,
        name     TEXT    NOT NULL,
        reason   TEXT    NOT NULL,
        state    TEXT    NOT NULL,  -- pending | approved | declined
        decided  INTEGER,           -- unix milliseconds
        answer   TEXT               -- what the parent granted: `until 18:30`, `always`
    );
    CREATE INDEX IF NOT EXISTS asks_by_device ON asks (device, ts);
    CREATE TABLE IF NOT EXISTS alerts (
        ts       INTEGER NOT NULL,
        device   TEXT    NOT NULL,
        profile  TEXT    NOT NULL,
        category TEXT    NOT NULL
    );
";

/// Where an ask stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AskState {
    Pending,
    Approved,
    Declined,
}

impl AskState {
    fn as_str(self) -> &'static str {
        match self {
            AskState::Pending => "pending",
            AskState::Approved => "approved",
            AskState::Declined => "declined",
        }
    }

    fn parse(s: &str) -> AskState {
        match s {
            "approved" => AskState::Approved,
            "declined" => AskState::Declined,
            _ => AskState::Pending,
        }
    }
}

/// A child's ask for a blocked name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ask {
    pub id: i64,
    pub at: Timestamp,
    pub device: String,
    pub profile: String,
    pub name: String,
    /// The child's words, possibly empty.
    pub reason: String,
    pub state: AskState,
    pub decided: Option<Timestamp>,
    /// What the parent granted (`until 18:30`, `always`), for the child's page.
    pub answer: Option<String>,
}

/// A blocked lookup in one of the profile's alert categories.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Alert {
    pub at: Timestamp,
    pub device: String,
    pub profile: String,
    pub category: String,
}

/// Why an ask was not stored.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("too many asks are waiting for a decision: ask your parent")]
    TooMany,
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Opens the database (the query log's file) and makes sure the tables exist.
pub fn open(path: &Path) -> Result<Connection, LogError> {
    let sqlite = |source| LogError::Sqlite {
        path: path.display().to_string(),
        source,
    };
    let conn = Connection::open(path).map_err(sqlite)?;
    conn.busy_timeout(std::time::Duration::from_secs(2))
        .map_err(sqlite)?;
    conn.execute_batch(SCHEMA).map_err(sqlite)?;
    Ok(conn)
}

fn millis(at: Timestamp) -> i64 {
    at.as_millisecond()
}

fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Stores a new pending ask made at `at`; its id.
pub fn add_ask(
    conn: &Connection,
    device: &str,
    profile: &str,
    name: &str,
    reason: &str,
    at: Timestamp,
) -> Result<i64, AskError> {
    let old = millis(at) - KEEP_DAYS * DAY_MS;
    conn.execute("DELETE FROM asks WHERE ts < ?1", params![old])?;
    let pending: i64 = conn.query_row(
        "SELECT COUNT(*) FROM asks WHERE state = 'pending'",
        [],
        |r| r.get(0),
    )?;
    if pending >= MAX_PENDING {
        return Err(AskError::TooMany);
    }
    conn.execute(
        "INSERT INTO asks (ts, device, profile, name, reason, state) VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
        params![millis(at), device, profile, name, reason],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Which asks to read.
#[derive(Debug, Default)]
pub struct AskFilter<'a> {
    pub profile: Option<&'a str>,
    pub device: Option<&'a str>,
    pub pending_only: bool,
    pub since: Option<Timestamp>,
    pub limit: usize,
}

/// The asks `filter` selects, newest first.
pub fn asks(conn: &Connection, filter: &AskFilter<'_>) -> rusqlite::Result<Vec<Ask>> {
    let mut stmt = conn.prepare(
        "SELECT id, ts, device, profile, name, reason, state, decided, answer FROM asks
         WHERE (?1 IS NULL OR profile = ?1) AND (?2 IS NULL OR device = ?2)
           AND (?3 = 0 OR state = 'pending') AND ts >= ?4
         ORDER BY ts DESC, id DESC LIMIT ?5",
    )?;
    let since = filter.since.map_or(i64::MIN, millis);
    let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(
        params![
            filter.profile,
            filter.device,
            filter.pending_only,
            since,
            limit
        ],
        ask_row,
    )?;
    rows.collect()
}

/// One ask by id.
pub fn ask(conn: &Connection, id: i64) -> rusqlite::Result<Option<Ask>> {
    conn.query_row(
        "SELECT id, ts, device, profile, name, reason, state, decided, answer FROM asks WHERE id = ?1",
        params![id],
        ask_row,
    )
    .optional()
}

fn ask_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Ask> {
    Ok(Ask {
        id: r.get(0)?,
        at: timestamp(r.get(1)?),
        device: r.get(2)?,
        profile: r.get(3)?,
        name: r.get(4)?,
        reason: r.get(5)?,
        state: AskState::parse(&r.get::<_, String>(6)?),
        decided: r.get::<_, Option<i64>>(7)?.map(timestamp),
        answer: r.get(8)?,
    })
}

/// Records the parent's decision on a pending ask; false when it was not pending (decided
/// already, or gone).
pub fn decide(
    conn: &Connection,
    id: i64,
    state: AskState,
    answer: Option<&str>,
    at: Timestamp,
) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "UPDATE asks SET state = ?2, decided = ?3, answer = ?4 WHERE id = ?1 AND state = 'pending'",
        params![id, state.as_str(), millis(at), answer],
    )?;
    Ok(changed == 1)
}

/// Stores an alert.
pub fn add_alert(conn: &Connection, alert: &Alert) -> rusqlite::Result<()> {
    let old = millis(alert.at) - KEEP_DAYS * DAY_MS;
    conn.execute("DELETE FROM alerts WHERE ts < ?1", params![old])?;
    conn.execute(
        "INSERT INTO alerts (ts, device, profile, category) VALUES (?1, ?2, ?3, ?4)",
        params![
            millis(alert.at),
            alert.device,
            alert.profile,
            alert.category
        ],
    )?;
    Ok(())
}

/// A profile's alerts since `since`, newest first.
pub fn alerts(
    conn: &Connection,
    profile: &str,
    since: Timestamp,
    limit: usize,
) -> rusqlite::Result<Vec<Alert>> {
    let mut stmt = conn.prepare(
        "SELECT ts, device, profile, category FROM alerts
         WHERE profile = ?1 AND ts >= ?2 ORDER BY ts DESC LIMIT ?3",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![profile, millis(since), limit], |r| {
        Ok(Alert {
            at: timestamp(r.get(0)?),
            device: r.get(1)?,
            profile: r.get(2)?,
            category: r.get(3)?,
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("log.db")).unwrap();
        (dir, conn)
    }

    #[test]
    fn an_ask_is_decided_once() {
        let (_dir, conn) = db();
        let id = add_ask(&conn, "tablet", "kids", "example.com", "homework", at(0)).unwrap();
        let pending = AskFilter {
            profile: Some("kids"),
            pending_only: true,
            limit: 10,
            ..AskFilter::default()
        };
        assert_eq!(asks(&conn, &pending).unwrap().len(), 1);
        assert!(decide(&conn, id, AskState::Approved, Some("until 18:00"), at(60)).unwrap());
        assert!(!decide(&conn, id, AskState::Declined, None, at(61)).unwrap());
        let a = ask(&conn, id).unwrap().unwrap();
        assert_eq!(
            (a.state, a.answer.as_deref(), a.decided),
            (AskState::Approved, Some("until 18:00"), Some(at(60)))
        );
        assert!(asks(&conn, &pending).unwrap().is_empty());
    }

    #[test]
    fn pending_asks_are_bounded_and_old_ones_go() {
        let (_dir, conn) = db();
        for i in 0..MAX_PENDING {
            add_ask(&conn, "d", "kids", &format!("n{i}.example"), "", at(i)).unwrap();
        }
        assert!(matches!(
            add_ask(&conn, "d", "kids", "one-more.example", "", at(0)),
            Err(AskError::TooMany)
        ));
        let later = at(KEEP_DAYS * 86_400 + MAX_PENDING);
        add_ask(&conn, "d", "kids", "fresh.example", "", later).unwrap();
        let all = AskFilter {
            limit: 1_000,
            ..AskFilter::default()
        };
        assert_eq!(
            asks(&conn, &all).unwrap().len(),
            1,
            "the old ones were purged"
        );
    }

    #[test]
    fn alerts_are_read_back_per_profile() {
        let (_dir, conn) = db();
        for (profile, category) in [("kids", "drugs"), ("teen", "sects")] {
            let alert = Alert {
                at: at(5),
                device: "tablet".into(),
                profile: profile.into(),
                category: category.into(),
            };
            add_alert(&conn, &alert).unwrap();
        }
        let got = alerts(&conn, "kids", at(0), 10).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].category, "drugs");
        assert!(alerts(&conn, "kids", at(6), 10).unwrap().is_empty());
    }
}
