//! The validated shapes of `[trends]` and of a profile's `kind` (see `crate::trends`).

use std::path::PathBuf;

/// `[trends]`: the aggregate counts for trend research (see `crate::trends`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrendsConfig {
    /// This instance's name in every export (`instance`), never a person's or device's.
    pub instance: String,
    /// The SQLite database (default `trends.db` in `cache_dir`).
    pub path: PathBuf,
    /// Cells counting fewer devices than this are shown as suppressed (`threshold`, k).
    pub threshold: u64,
    /// Privacy budget of one day's shared cells together (`epsilon_per_day`).
    pub epsilon_per_day: f64,
    /// Bearer token of `GET /trends`; the endpoint is off when unset.
    pub token: Option<String>,
    /// Distinct devices counted in one day at most; later ones are not counted that day.
    pub max_devices_per_day: usize,
    /// Events waiting for the writer at most; past it they are dropped.
    pub queue: usize,
    /// Closed days kept this long.
    pub keep_days: u32,
}

/// `kind` of a profile: whom it is for, the only thing trends say about a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProfileKind {
    /// A whole household's devices (the default).
    Household,
    /// A child's devices.
    Child,
}

impl ProfileKind {
    pub const ALL: [ProfileKind; 2] = [ProfileKind::Child, ProfileKind::Household];

    pub fn as_str(self) -> &'static str {
        match self {
            ProfileKind::Household => "household",
            ProfileKind::Child => "child",
        }
    }
}
