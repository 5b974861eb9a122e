//! Opening a SQLite database this program owns (the query log, the trends store): its
//! folder made first, its schema applied (idempotent `CREATE … IF NOT EXISTS`), so each
//! store keeps only its schema and its own wording of the error.

use std::path::Path;

use rusqlite::Connection;

/// Why a database could not be opened; the path is in the message.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
}

/// Opens (or creates) the database at `path` and applies `schema`.
pub fn open_with_schema(path: &Path, schema: &str) -> Result<Connection, OpenError> {
    let sqlite = |source| OpenError::Sqlite {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Dir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let conn = Connection::open(path).map_err(sqlite)?;
    conn.execute_batch(schema).map_err(sqlite)?;
    Ok(conn)
}
