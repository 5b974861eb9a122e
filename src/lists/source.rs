//! Reading list files from disk (plain or gzip-compressed).

use std::io::Read;
use std::path::{Path, PathBuf};

/// Lists above this size are refused rather than read into memory: a runaway download or a
/// wrong path (a disk image) must not take the resolver down.
pub const MAX_LIST_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("{path}: cannot read list: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: list is larger than {MAX_LIST_BYTES} bytes")]
    TooLarge { path: PathBuf },
}

/// Reads a list file; `.gz` files are decompressed. Invalid UTF-8 is replaced rather than
/// rejected, so one bad byte costs one line, not the list.
pub fn read_list(path: &Path) -> Result<String, ListError> {
    let io = |source| ListError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    let limited = |r: Box<dyn Read>| r.take(MAX_LIST_BYTES + 1);
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    limited(reader).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_LIST_BYTES {
        return Err(ListError::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}
