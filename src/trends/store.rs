//! The trends database: the open days' keyed device hashes, and the closed days' cells.
//!
//! While a day is open it holds one row per device (a BLAKE2s MAC of the device's id under
//! that day's random salt, and the kind it was first counted under) and one per device and
//! category it had a lookup blocked in: that is all a distinct count needs. Closing the day
//! counts them, draws the day's noise once, stores both, and deletes the salt and the hashes:
//! from then on nothing links the day to any device. The noisy counts are stored, not redrawn
//! per export, so that collecting an export again spends no more budget.

use std::collections::HashMap;
use std::path::Path;

use blake2::Blake2sMac256;
use blake2::digest::{KeyInit, Mac};
use rusqlite::{Connection, params};

use super::TrendsError;
use super::noise::release;
use crate::config::ProfileKind;

const SCHEMA: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    CREATE TABLE IF NOT EXISTS open_days (
        day  INTEGER PRIMARY KEY,   -- days since 1970-01-01 (UTC)
        salt BLOB NOT NULL
    );
    CREATE TABLE IF NOT EXISTS devices (
        day    INTEGER NOT NULL,
        device BLOB    NOT NULL,    -- keyed hash; the key is the day's salt
        kind   TEXT    NOT NULL,
        PRIMARY KEY (day, device)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS seen (
        day      INTEGER NOT NULL,
        device   BLOB    NOT NULL,
        category TEXT    NOT NULL,
        PRIMARY KEY (day, device, category)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS days (
        day     INTEGER PRIMARY KEY,
        epsilon REAL    NOT NULL,   -- what OpenDP proves for the day's noisy cells
        scale   REAL    NOT NULL
    );
    CREATE TABLE IF NOT EXISTS cells (
        day      INTEGER NOT NULL,
        kind     TEXT    NOT NULL,
        category TEXT    NOT NULL,
        exact    INTEGER NOT NULL,
        noisy    INTEGER NOT NULL,
        PRIMARY KEY (day, kind, category)
    ) WITHOUT ROWID;
";

/// Opens (or creates) the database at `path`.
pub(super) fn open(path: &Path) -> Result<Connection, TrendsError> {
    Ok(crate::sqlite::open_with_schema(path, SCHEMA)?)
}

/// An open day as the writer tracks it: its salt and how many devices it counts.
pub(super) struct OpenDay {
    salt: [u8; 32],
    pub devices: usize,
}

impl OpenDay {
    /// The day's row, created with a fresh salt when the day is new. A salt already
    /// stored (by this writer before a restart, or by one still stopping) is kept: a
    /// device must hash alike all day to count once.
    pub fn load(conn: &Connection, day: i64) -> Result<OpenDay, TrendsError> {
        let mut fresh = [0u8; 32];
        getrandom::getrandom(&mut fresh).map_err(TrendsError::Random)?;
        conn.execute(
            "INSERT OR IGNORE INTO open_days (day, salt) VALUES (?1, ?2)",
            params![day, &fresh[..]],
        )?;
        let salt: Vec<u8> = conn.query_row(
            "SELECT salt FROM open_days WHERE day = ?1",
            params![day],
            |r| r.get(0),
        )?;
        let salt = <[u8; 32]>::try_from(salt).map_err(|_| {
            TrendsError::Db(rusqlite::Error::InvalidColumnType(
                0,
                "salt".to_owned(),
                rusqlite::types::Type::Blob,
            ))
        })?;
        let devices: i64 = conn.query_row(
            "SELECT COUNT(*) FROM devices WHERE day = ?1",
            params![day],
            |r| r.get(0),
        )?;
        Ok(OpenDay {
            salt,
            devices: usize::try_from(devices).unwrap_or(usize::MAX),
        })
    }

    /// The device's hash for this day.
    fn hash(&self, device: &str) -> [u8; 32] {
        let mut mac = <Blake2sMac256 as KeyInit>::new_from_slice(&self.salt)
            .expect("32 bytes is a valid key");
        mac.update(device.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Counts `device` (under `kind`, unless it was counted under another kind already
    /// today) in `category`. A device new to a day that counts `max_devices` already is
    /// left out; false then.
    pub fn count(
        &mut self,
        conn: &Connection,
        (day, max_devices): (i64, usize),
        device: &str,
        kind: ProfileKind,
        category: &str,
    ) -> rusqlite::Result<bool> {
        let hash = self.hash(device);
        let known = conn
            .prepare_cached("SELECT 1 FROM devices WHERE day = ?1 AND device = ?2")?
            .exists(params![day, &hash[..]])?;
        if !known {
            if self.devices >= max_devices {
                return Ok(false);
            }
            conn.prepare_cached("INSERT INTO devices (day, device, kind) VALUES (?1, ?2, ?3)")?
                .execute(params![day, &hash[..], kind.as_str()])?;
            self.devices += 1;
        }
        conn.prepare_cached(
            "INSERT OR IGNORE INTO seen (day, device, category) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![day, &hash[..], category])?;
        Ok(true)
    }
}

/// The open days before `today`, oldest first.
pub(super) fn open_before(conn: &Connection, today: i64) -> rusqlite::Result<Vec<i64>> {
    let mut q = conn.prepare("SELECT day FROM open_days WHERE day < ?1 ORDER BY day")?;
    q.query_map(params![today], |r| r.get(0))?.collect()
}

/// Closes `day`: counts its devices per kind and category of `categories` (every cell, zero
/// or not, so that which cells exist reveals nothing), draws the noise, stores the cells and
/// forgets the salt and the hashes, in one transaction.
pub(super) fn close(
    conn: &mut Connection,
    day: i64,
    categories: &[String],
    epsilon: f64,
) -> Result<(), TrendsError> {
    let tx = conn.transaction()?;
    let mut counted: HashMap<(String, String), i64> = HashMap::new();
    {
        let mut q = tx.prepare(
            "SELECT d.kind, s.category, COUNT(*) FROM seen s
             JOIN devices d ON d.day = s.day AND d.device = s.device
             WHERE s.day = ?1 GROUP BY d.kind, s.category",
        )?;
        let rows = q.query_map(params![day], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))?;
        for row in rows {
            let (key, n) = row?;
            counted.insert(key, n);
        }
    }
    let cells: Vec<(ProfileKind, &String)> = ProfileKind::ALL
        .iter()
        .flat_map(|&kind| categories.iter().map(move |c| (kind, c)))
        .collect();
    let exact: Vec<i64> = cells
        .iter()
        .map(|(kind, c)| {
            counted
                .get(&(kind.as_str().to_owned(), (*c).clone()))
                .copied()
                .unwrap_or(0)
        })
        .collect();
    let sensitivity = u32::try_from(categories.len()).unwrap_or(u32::MAX);
    let noise = release(&exact, sensitivity, epsilon)?;
    tx.execute(
        "INSERT OR REPLACE INTO days (day, epsilon, scale) VALUES (?1, ?2, ?3)",
        params![day, noise.epsilon, noise.scale],
    )?;
    {
        let mut insert = tx.prepare(
            "INSERT OR REPLACE INTO cells (day, kind, category, exact, noisy)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (((kind, category), exact), noisy) in cells.iter().zip(&exact).zip(&noise.noisy) {
            insert.execute(params![day, kind.as_str(), category, exact, noisy])?;
        }
    }
    for table in ["seen", "devices", "open_days"] {
        tx.execute(&format!("DELETE FROM {table} WHERE day = ?1"), params![day])?;
    }
    tx.commit()?;
    Ok(())
}

/// Deletes closed days before `day`.
pub(super) fn purge(conn: &Connection, day: i64) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM cells WHERE day < ?1", params![day])?;
    conn.execute("DELETE FROM days WHERE day < ?1", params![day])?;
    Ok(())
}

/// One closed cell as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCell {
    pub day: i64,
    pub kind: String,
    pub category: String,
    pub exact: i64,
    pub noisy: i64,
    /// The day's ε.
    pub epsilon: f64,
}

/// The closed cells from `since` on, by day, kind and category.
pub(super) fn cells(conn: &Connection, since: i64) -> rusqlite::Result<Vec<StoredCell>> {
    let mut q = conn.prepare(
        "SELECT c.day, c.kind, c.category, c.exact, c.noisy, d.epsilon
         FROM cells c JOIN days d ON d.day = c.day
         WHERE c.day >= ?1 ORDER BY c.day, c.kind, c.category",
    )?;
    q.query_map(params![since], |r| {
        Ok(StoredCell {
            day: r.get(0)?,
            kind: r.get(1)?,
            category: r.get(2)?,
            exact: r.get(3)?,
            noisy: r.get(4)?,
            epsilon: r.get(5)?,
        })
    })?
    .collect()
}
