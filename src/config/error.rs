//! Configuration errors that name the file, line and key, and say what was expected.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem found in a config or profile file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line and column; 0 when the problem is not tied to a place in the file.
    pub line: usize,
    pub column: usize,
    /// The key the problem is about, when known.
    pub key: Option<String>,
    pub message: String,
}

impl ConfigError {
    /// An error at a byte span of `source`.
    pub fn at(
        file: &Path,
        source: &str,
        span: Range<usize>,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = line_col(source, span.start);
        let key = key
            .map(str::to_owned)
            .or_else(|| key_on_line(source, span.start));
        ConfigError {
            file: file.to_owned(),
            line,
            column,
            key,
            message: message.into(),
        }
    }

    /// An error about a whole file (unreadable, missing).
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_owned(),
            line: 0,
            column: 0,
            key: None,
            message: message.into(),
        }
    }

    /// Converts a TOML syntax or type error.
    pub fn from_toml(file: &Path, source: &str, err: &toml::de::Error) -> Self {
        let span = err.span().unwrap_or(0..0);
        let mut message = err.message().to_owned();
        if ["`profiles_dir`", "`default_profile`"]
            .iter()
            .any(|k| message.starts_with(&format!("unknown field {k}")))
        {
            message.push_str(" (top-level keys must come before the first [table] or [[table]])");
        }
        Self::at(file, source, span, None, message)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        f.write_str(": ")?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every error found while loading, so that `validate` can list them all at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The key of a `key = value` line when `offset` points into the value.
fn key_on_line(source: &str, offset: usize) -> Option<String> {
    let offset = offset.min(source.len());
    let start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = source[offset..]
        .find('\n')
        .map_or(source.len(), |i| offset + i);
    let line = &source[start..end];
    let eq = line.find('=')?;
    (start + eq < offset).then(|| line[..eq].trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_line_column_and_key() {
        let src = "a = 1\nsafe_search = 3\n";
        let e = ConfigError::at(Path::new("p.toml"), src, 20..21, None, "expected a boolean");
        assert_eq!(
            e.to_string(),
            "p.toml:2:15: `safe_search`: expected a boolean"
        );
    }
}
