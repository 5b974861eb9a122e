//! Blocklist files: formats, line parsing and loading from disk.
//!
//! Parsing is a pure function from lines to [`Rule`]s plus a [`ParseStats`] that counts every
//! skipped line and why. Real lists carry junk (hosts headers, stray tokens, browser-only
//! adblock syntax); a bad line is skipped and counted, never fatal.

mod format;
mod parse;
mod source;

pub use format::Format;
pub use parse::{ParseStats, REGEX_SIZE_LIMIT, Rule, RuleKind, SkipReason, parse_line, parse_str};
pub use source::{ListError, MAX_LIST_BYTES, read_list};
