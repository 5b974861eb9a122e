//! Blocklist files: formats, line parsing and loading from disk.
//!
//! Parsing is a pure function from lines to [`Rule`]s plus a [`ParseStats`] that counts every
//! skipped line and why. Real lists carry junk (hosts headers, stray tokens, browser-only
//! adblock syntax); a bad line is skipped and counted, never fatal.

mod format;
mod parse;
mod rule;
mod source;

pub use format::Format;
pub use parse::{REGEX_SIZE_LIMIT, parse_line, parse_str};
pub use rule::{ParseStats, Rule, RuleKind, SkipReason};
pub(crate) use source::{CappedError, read_capped, text};
pub use source::{ListError, MAX_LIST_BYTES, read_list};
