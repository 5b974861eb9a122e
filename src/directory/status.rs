//! What the directory reports: Prometheus metrics and the line `/health` shows.

use std::sync::Mutex;

use jiff::Timestamp;
use prometheus::{IntCounter, IntGauge};

/// The directory's metrics (registered by `Metrics`) and its state for `/health`.
pub struct Status {
    /// 1 while connected to PostgreSQL and listening.
    pub connected: IntGauge,
    /// Subscriber rows in the live table.
    pub rows: IntGauge,
    /// Unix time of the last full load from PostgreSQL.
    pub last_load: IntGauge,
    /// Changes applied from notifications.
    pub applied: IntCounter,
    /// Connection attempts after a failure or a lost connection.
    pub reconnects: IntCounter,
    /// Rows (loaded or changed) naming a profile the config does not have: they get the
    /// default profile.
    pub unknown_profile: IntCounter,
    /// Rows or notifications that could not be read, and were skipped.
    pub bad_rows: IntCounter,
    state: Mutex<State>,
}

#[derive(Default)]
enum State {
    /// No `[directory]`: nothing to report.
    #[default]
    Off,
    /// Serving the snapshot read from disk, not yet connected.
    FromDisk,
    Connected(Timestamp),
    Down {
        since: Timestamp,
        error: String,
    },
}

impl Status {
    /// Makes the metrics with `counter` and `gauge` (which register them).
    pub fn new(
        counter: impl Fn(&str, &str) -> IntCounter,
        gauge: impl Fn(&str, &str) -> IntGauge,
    ) -> Status {
        Status {
            connected: gauge(
                "familydns_directory_connected",
                "1 while connected to the PostgreSQL subscriber directory",
            ),
            rows: gauge(
                "familydns_directory_rows",
                "Subscriber rows in the live table",
            ),
            last_load: gauge(
                "familydns_directory_last_load_timestamp_seconds",
                "Unix time of the last full load from PostgreSQL",
            ),
            applied: counter(
                "familydns_directory_changes_applied_total",
                "Subscriber changes applied from PostgreSQL notifications",
            ),
            reconnects: counter(
                "familydns_directory_reconnects_total",
                "Connection attempts to PostgreSQL after a failure",
            ),
            unknown_profile: counter(
                "familydns_directory_unknown_profile_total",
                "Subscriber rows naming a profile the config does not have (given the default profile)",
            ),
            bad_rows: counter(
                "familydns_directory_bad_rows_total",
                "Subscriber rows or notifications that could not be read",
            ),
            state: Mutex::default(),
        }
    }

    fn set(&self, state: State) {
        *self.state.lock().expect("not poisoned") = state;
    }

    pub(super) fn serving_disk(&self) {
        self.set(State::FromDisk);
    }

    pub(super) fn loaded(&self, now: Timestamp) {
        self.connected.set(1);
        self.last_load.set(now.as_second());
        self.set(State::Connected(now));
    }

    /// The connection failed or was lost; keeps the first failure's time while it lasts.
    pub(super) fn down(&self, error: String, now: Timestamp) {
        self.connected.set(0);
        let mut state = self.state.lock().expect("not poisoned");
        let since = match &*state {
            State::Down { since, .. } => *since,
            _ => now,
        };
        *state = State::Down { since, error };
    }

    /// The line `/health` shows, if the directory is on.
    pub fn health(&self) -> Option<String> {
        let rows = self.rows.get();
        match &*self.state.lock().expect("not poisoned") {
            State::Off => None,
            State::FromDisk => Some(format!(
                "directory: {rows} subscribers from the snapshot on disk, connecting to PostgreSQL"
            )),
            State::Connected(at) => Some(format!(
                "directory: connected, {rows} subscribers, loaded at {at}"
            )),
            State::Down { since, error } => Some(format!(
                "directory: PostgreSQL unreachable since {since} ({error}): serving the last {rows} subscribers"
            )),
        }
    }
}
