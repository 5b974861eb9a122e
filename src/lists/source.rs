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

/// Why [`read_capped`] gave no bytes; the caller knows where they came from.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CappedError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("larger than {MAX_LIST_BYTES} bytes")]
    TooLarge,
}

/// Reads a list file; `.gz` files are decompressed. Invalid UTF-8 is replaced rather than
/// rejected, so one bad byte costs one line, not the list.
pub fn read_list(path: &Path) -> Result<String, ListError> {
    let at = |e| match e {
        CappedError::Io(source) => ListError::Io {
            path: path.to_owned(),
            source,
        },
        CappedError::TooLarge => ListError::TooLarge {
            path: path.to_owned(),
        },
    };
    let file = std::fs::File::open(path).map_err(|e| at(e.into()))?;
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        read_capped(flate2::read::GzDecoder::new(file))
    } else {
        read_capped(file)
    }
    .map_err(at)?;
    Ok(text(bytes))
}

/// Everything `reader` gives, up to [`MAX_LIST_BYTES`]: a file or a decompressed download
/// (a gzip bomb) stops at the cap instead of filling memory.
pub(crate) fn read_capped(reader: impl Read) -> Result<Vec<u8>, CappedError> {
    let mut bytes = Vec::new();
    reader.take(MAX_LIST_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_LIST_BYTES {
        return Err(CappedError::TooLarge);
    }
    Ok(bytes)
}

/// A list's bytes as text; invalid UTF-8 is replaced (see [`read_list`]), and valid text is
/// not copied.
pub(crate) fn text(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}
