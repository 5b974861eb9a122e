//! Reading the log: what `familydns log` prints and `GET /admin/log` returns. Readers open
//! their own connection; WAL lets them read while the writer writes.

use std::path::Path;

use hickory_proto::rr::RecordType;
use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags, params_from_iter, types::Value};
use serde::Serialize;

use super::LogError;

/// Which rows to return, newest first.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub profile: Option<String>,
    pub device: Option<String>,
    /// Only blocked queries.
    pub blocked: bool,
    pub since: Option<Timestamp>,
    /// Names containing this text.
    pub name: Option<String>,
    pub limit: usize,
}

/// One logged query.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Row {
    pub at: Timestamp,
    pub device: String,
    pub profile: String,
    pub name: String,
    pub qtype: String,
    pub decision: String,
    pub reason: String,
    pub category: Option<String>,
    pub micros: u32,
}

impl std::fmt::Display for Row {
    /// One line of `familydns log`: time, profile, device, name, type, decision and why.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}  {:<10} {:<16} {:<40} {:<6} {:<10} {}",
            self.at, self.profile, self.device, self.name, self.qtype, self.decision, self.reason
        )
    }
}

/// What to read, as `familydns log` and `GET /admin/log` take it (flags and query string
/// have the same names), before `since` is made an instant.
#[derive(Debug, Clone, Default, serde::Deserialize, clap::Args)]
pub struct Request {
    #[arg(long)]
    pub profile: Option<String>,
    /// A `[[client]]` name, or an address or MAC as logged.
    #[arg(long)]
    pub device: Option<String>,
    /// Only blocked queries.
    #[arg(long)]
    #[serde(default)]
    pub blocked: bool,
    /// A duration back from now (2h, 1d) or an instant (2026-11-28T12:00:00Z).
    #[arg(long)]
    pub since: Option<String>,
    /// Names containing this text.
    #[arg(long)]
    pub name: Option<String>,
    /// Rows at most (newest first).
    #[arg(long, default_value_t = 50)]
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    50
}

impl Request {
    /// The filter, with `since` taken back from `now`; an error names a bad `since`.
    pub fn filter(self, now: Timestamp, max_rows: usize) -> Result<Filter, String> {
        let since = match &self.since {
            Some(text) => Some(
                since(text, now)
                    .ok_or_else(|| format!("`{text}` is neither a duration (2h) nor an instant"))?,
            ),
            None => None,
        };
        Ok(Filter {
            profile: self.profile,
            device: self.device,
            blocked: self.blocked,
            since,
            name: self.name,
            limit: self.limit.min(max_rows),
        })
    }
}

/// `since` as the CLI and the HTTP endpoint take it: an instant (`2026-11-28T12:00:00Z`) or
/// a duration back from `now` (`2h`, `30m`, `1d`).
fn since(text: &str, now: Timestamp) -> Option<Timestamp> {
    if let Ok(at) = text.parse() {
        return Some(at);
    }
    let back = jiff::SignedDuration::try_from(crate::config::parse_duration(text)?).ok()?;
    now.checked_sub(back).ok()
}

/// Queries per profile, decision and category since some time.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Count {
    pub profile: String,
    pub decision: String,
    pub category: String,
    pub n: u64,
}

/// Opens the database for reading (it must exist: the server creates it).
pub fn open_read_only(path: &Path) -> Result<Connection, LogError> {
    let sqlite = |source| LogError::Sqlite {
        path: path.display().to_string(),
        source,
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite)?;
    conn.busy_timeout(std::time::Duration::from_secs(2))
        .map_err(sqlite)?;
    Ok(conn)
}

/// The rows `filter` selects, newest first.
pub fn rows(conn: &Connection, filter: &Filter) -> rusqlite::Result<Vec<Row>> {
    let mut sql = String::from(
        "SELECT ts, device, profile, name, qtype, decision, reason, category, micros
         FROM queries WHERE 1 = 1",
    );
    let mut args: Vec<Value> = Vec::new();
    if let Some(p) = &filter.profile {
        sql.push_str(" AND profile = ?");
        args.push(p.clone().into());
    }
    if let Some(d) = &filter.device {
        sql.push_str(" AND device = ?");
        args.push(d.clone().into());
    }
    if filter.blocked {
        sql.push_str(" AND decision IN ('blocked', 'budget')");
    }
    if let Some(since) = filter.since {
        sql.push_str(" AND ts >= ?");
        args.push(since.as_millisecond().into());
    }
    if let Some(n) = &filter.name {
        sql.push_str(" AND instr(name, ?) > 0");
        args.push(n.to_lowercase().into());
    }
    sql.push_str(" ORDER BY ts DESC, rowid DESC LIMIT ?");
    args.push(i64::try_from(filter.limit).unwrap_or(i64::MAX).into());
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        let ms: i64 = r.get(0)?;
        Ok(Row {
            at: Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH),
            device: r.get(1)?,
            profile: r.get(2)?,
            name: r.get(3)?,
            qtype: RecordType::from(r.get::<_, u16>(4)?).to_string(),
            decision: r.get(5)?,
            reason: r.get(6)?,
            category: r.get(7)?,
            micros: r.get(8)?,
        })
    })?;
    rows.collect()
}

/// Counts since `since` (whole hours), per profile, decision and category.
pub fn counts(
    conn: &Connection,
    profile: Option<&str>,
    since: Timestamp,
) -> rusqlite::Result<Vec<Count>> {
    let mut stmt = conn.prepare(
        "SELECT profile, decision, category, SUM(n) FROM counts
         WHERE hour >= ?1 AND (?2 IS NULL OR profile = ?2)
         GROUP BY profile, decision, category ORDER BY profile, SUM(n) DESC",
    )?;
    let hour = since.as_millisecond().div_euclid(3_600_000);
    let rows = stmt.query_map(rusqlite::params![hour, profile], |r| {
        Ok(Count {
            profile: r.get(0)?,
            decision: r.get(1)?,
            category: r.get(2)?,
            n: r.get::<_, i64>(3)?.try_into().unwrap_or(0),
        })
    })?;
    rows.collect()
}
