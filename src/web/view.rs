//! What the pages show, as plain data: `pages` gathers it, `render` writes it as HTML.

use crate::notices::{Alert, Ask};
use crate::querylog::Row;

/// One profile on the overview.
pub struct ProfileView {
    pub name: String,
    /// When the parent's pause ends, in the profile's zone.
    pub paused_until: Option<String>,
    /// A `block_all` schedule window (bedtime) is on now.
    pub bedtime: bool,
    /// A window that blocks more categories (school hours) is on now.
    pub schedule_blocks: bool,
    /// Timed exceptions in force: name and when it ends.
    pub allowed: Vec<(String, String)>,
    /// What is left of each daily budget today.
    pub budgets: Vec<crate::budget::Left>,
    pub queries: u64,
    pub blocked: u64,
    /// Blocked queries today per category, most first.
    pub by_category: Vec<(String, u64)>,
    /// The most blocked names today, most first.
    pub top_blocked: Vec<(String, u64)>,
    /// Asks waiting for a decision, newest first, with their local time.
    pub asks: Vec<(String, Ask)>,
    /// Alerts today, newest first, with their local time.
    pub alerts: Vec<(String, Alert)>,
}

/// The overview: every profile, or why the log has nothing to say.
pub struct Overview {
    pub profiles: Vec<ProfileView>,
    /// Set when the query log is off or cannot be read (the rest of the page still works).
    pub log_note: Option<String>,
}

/// The log page's filters, as the form sends them (empty fields mean "any").
#[derive(Debug, Default, serde::Deserialize)]
pub struct LogQuery {
    pub profile: Option<String>,
    pub device: Option<String>,
    pub blocked: Option<String>,
    /// How far back: `2h`, `1d`.
    pub since: Option<String>,
}

/// The rows the filters select, with their time in the server's zone, or why none.
pub struct LogView {
    pub rows: Vec<(String, Row)>,
    pub note: Option<String>,
    pub profiles: Vec<String>,
}
