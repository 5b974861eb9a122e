//! Complaints in the query log's SQLite database (the parents' side), in a table of their
//! own: what was filed, by whom and how, and the last decision on it and who made it.
//! Each function takes a connection; the service opens one where it runs (off the async
//! threads). Only the running server writes, one decision at a time.

use std::path::Path;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use super::accepted::Entry;
use super::filing::{Filing, Via};

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS complaints (
        id         INTEGER PRIMARY KEY,
        name       TEXT    NOT NULL,
        category   TEXT    NOT NULL,
        comment    TEXT    NOT NULL,
        contact    TEXT,              -- optional; for reviewers only, never published
        via        TEXT    NOT NULL,  -- page | cli | api
        filed_by   TEXT    NOT NULL,  -- a token's name, or the parents' page
        filed_at   INTEGER NOT NULL,  -- unix milliseconds
        status     TEXT    NOT NULL,  -- pending | accepted | rejected | removed
        decided_by TEXT,
        decided_at INTEGER
    );
    CREATE INDEX IF NOT EXISTS complaints_by_status ON complaints (status, id);
";

/// Where a complaint stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Accepted,
    Rejected,
    Removed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Accepted => "accepted",
            Status::Rejected => "rejected",
            Status::Removed => "removed",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "accepted" => Status::Accepted,
            "rejected" => Status::Rejected,
            "removed" => Status::Removed,
            _ => Status::Pending,
        }
    }
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ruling {
    Accept,
    Reject,
    /// Takes an accepted name off its list again.
    Remove,
}

impl Ruling {
    /// The status the ruling leads to, from `from`; `None` when it does not apply there.
    pub fn next(self, from: Status) -> Option<Status> {
        match (self, from) {
            (Ruling::Accept, Status::Pending | Status::Rejected | Status::Removed) => {
                Some(Status::Accepted)
            }
            (Ruling::Reject, Status::Pending | Status::Accepted) => Some(Status::Rejected),
            (Ruling::Remove, Status::Accepted) => Some(Status::Removed),
            _ => None,
        }
    }

    pub fn parse(s: &str) -> Option<Ruling> {
        match s {
            "accept" => Some(Ruling::Accept),
            "reject" => Some(Ruling::Reject),
            "remove" => Some(Ruling::Remove),
            _ => None,
        }
    }
}

/// A stored complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Complaint {
    pub id: i64,
    pub name: String,
    pub category: String,
    pub comment: String,
    pub contact: Option<String>,
    pub via: Via,
    pub filed_by: String,
    pub filed_at: Timestamp,
    pub status: Status,
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
}

/// Why the store refused a change.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("`{name}` is already reported in category {category}: complaint #{id} is {status}", status = .status.as_str())]
    Duplicate {
        id: i64,
        name: String,
        category: String,
        status: Status,
    },
    #[error("{0} complaints are waiting for review: no more are taken until some are decided")]
    TooManyPending(u32),
    #[error("{0} names are accepted already: remove some before accepting more")]
    TooManyAccepted(u32),
    #[error("no complaint #{0}")]
    NotFound(i64),
    #[error("complaint #{id} is {status}: it cannot be {verb}", status = .status.as_str())]
    Transition {
        id: i64,
        status: Status,
        verb: &'static str,
    },
    #[error("complaints database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("complaints database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Opens the database (the query log's file, created if need be) with the table.
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    let open = |source| StoreError::Open {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        // As the query log's writer does; a failure shows as the open's error below.
        let _ = std::fs::create_dir_all(dir);
    }
    let conn = Connection::open(path).map_err(open)?;
    conn.busy_timeout(std::time::Duration::from_secs(2))
        .map_err(open)?;
    conn.execute_batch(SCHEMA).map_err(open)?;
    Ok(conn)
}

const COLUMNS: &str =
    "id, name, category, comment, contact, via, filed_by, filed_at, status, decided_by, decided_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Complaint> {
    let time = |ms: i64| Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    Ok(Complaint {
        id: r.get(0)?,
        name: r.get(1)?,
        category: r.get(2)?,
        comment: r.get(3)?,
        contact: r.get(4)?,
        via: Via::parse(&r.get::<_, String>(5)?),
        filed_by: r.get(6)?,
        filed_at: time(r.get(7)?),
        status: Status::parse(&r.get::<_, String>(8)?),
        decided_by: r.get(9)?,
        decided_at: r.get::<_, Option<i64>>(10)?.map(time),
    })
}

/// One complaint by id.
pub fn get(conn: &Connection, id: i64) -> Result<Complaint, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM complaints WHERE id = ?1"),
        params![id],
        row,
    )
    .optional()?
    .ok_or(StoreError::NotFound(id))
}

fn count(conn: &Connection, status: Status) -> rusqlite::Result<u32> {
    conn.query_row(
        "SELECT COUNT(*) FROM complaints WHERE status = ?1",
        params![status.as_str()],
        |r| r.get(0),
    )
}

/// Stores a checked filing as pending, unless the same name and category is already pending
/// or accepted, or `max_pending` complaints wait already.
pub fn file(
    conn: &mut Connection,
    filing: &Filing,
    (via, by): (Via, &str),
    max_pending: u32,
    at: Timestamp,
) -> Result<Complaint, StoreError> {
    // Immediate: a read that later writes would fail at once (SQLITE_BUSY, no waiting) if
    // the query log's writer committed in between.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let open: Option<Complaint> = tx
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM complaints WHERE name = ?1 AND category = ?2
                 AND status IN ('pending', 'accepted') LIMIT 1"
            ),
            params![filing.name, filing.category],
            row,
        )
        .optional()?;
    if let Some(c) = open {
        return Err(StoreError::Duplicate {
            id: c.id,
            name: c.name,
            category: c.category,
            status: c.status,
        });
    }
    if count(&tx, Status::Pending)? >= max_pending {
        return Err(StoreError::TooManyPending(max_pending));
    }
    tx.execute(
        "INSERT INTO complaints (name, category, comment, contact, via, filed_by, filed_at, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending')",
        params![
            filing.name,
            filing.category,
            filing.comment,
            filing.contact,
            via.as_str(),
            by,
            at.as_millisecond()
        ],
    )?;
    let id = tx.last_insert_rowid();
    tx.commit()?;
    get(conn, id)
}

/// Applies `ruling` to complaint `id` by `by` at `at`; accepting past `max_accepted` names
/// is refused.
pub fn decide(
    conn: &mut Connection,
    id: i64,
    ruling: Ruling,
    by: &str,
    max_accepted: u32,
    at: Timestamp,
) -> Result<Complaint, StoreError> {
    // Immediate, as in `file`.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = get(&tx, id)?;
    let verb = match ruling {
        Ruling::Accept => "accepted",
        Ruling::Reject => "rejected",
        Ruling::Remove => "removed",
    };
    let next = ruling.next(current.status).ok_or(StoreError::Transition {
        id,
        status: current.status,
        verb,
    })?;
    if next == Status::Accepted && count(&tx, Status::Accepted)? >= max_accepted {
        return Err(StoreError::TooManyAccepted(max_accepted));
    }
    tx.execute(
        "UPDATE complaints SET status = ?1, decided_by = ?2, decided_at = ?3 WHERE id = ?4",
        params![next.as_str(), by, at.as_millisecond(), id],
    )?;
    tx.commit()?;
    get(conn, id)
}

/// Complaints with `status` (any, when `None`), newest first, at most `limit`.
pub fn list(
    conn: &Connection,
    status: Option<Status>,
    limit: u32,
) -> Result<Vec<Complaint>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM complaints WHERE (?1 IS NULL OR status = ?1)
         ORDER BY id DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![status.map(Status::as_str), limit], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every accepted complaint, for the compiled set.
pub fn accepted(conn: &Connection) -> Result<Vec<Entry>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, name, category, decided_by FROM complaints WHERE status = 'accepted' ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Entry {
            id: r.get(0)?,
            name: r.get(1)?,
            category: r.get(2)?,
            decided_by: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filing(name: &str) -> Filing {
        Filing {
            name: name.to_owned(),
            category: "adult".to_owned(),
            comment: "seen at school".to_owned(),
            contact: Some("parent@example.test".to_owned()),
        }
    }

    #[test]
    fn files_decides_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("db/q.db")).unwrap();
        let at: Timestamp = "2026-11-23T17:00:00Z".parse().unwrap();
        let by = (Via::Api, "school");
        let a = file(&mut conn, &filing("a.example"), by, 2, at).unwrap();
        assert_eq!((a.status, a.filed_by.as_str()), (Status::Pending, "school"));
        assert!(matches!(
            file(&mut conn, &filing("a.example"), by, 2, at),
            Err(StoreError::Duplicate { id, .. }) if id == a.id
        ));
        let b = file(&mut conn, &filing("b.example"), by, 2, at).unwrap();
        assert!(matches!(
            file(&mut conn, &filing("c.example"), by, 2, at),
            Err(StoreError::TooManyPending(2))
        ));
        let taken = decide(&mut conn, a.id, Ruling::Accept, "rev", 1, at).unwrap();
        assert_eq!(taken.decided_by.as_deref(), Some("rev"));
        assert!(matches!(
            decide(&mut conn, b.id, Ruling::Accept, "rev", 1, at),
            Err(StoreError::TooManyAccepted(1))
        ));
        assert!(matches!(
            decide(&mut conn, b.id, Ruling::Remove, "rev", 1, at),
            Err(StoreError::Transition { .. })
        ));
        assert!(matches!(
            decide(&mut conn, 99, Ruling::Accept, "rev", 1, at),
            Err(StoreError::NotFound(99))
        ));
        assert_eq!(accepted(&conn).unwrap()[0].name, "a.example");
        decide(&mut conn, a.id, Ruling::Remove, "rev", 1, at).unwrap();
        assert!(accepted(&conn).unwrap().is_empty());
        let pending = list(&conn, Some(Status::Pending), 10).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(list(&conn, None, 10).unwrap().len(), 2);
    }
}
