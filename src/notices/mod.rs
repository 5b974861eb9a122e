//! What a parent must hear about without looking: a child's ask for a blocked site, and an
//! alert when a device runs into a category the parent named (`alert = ["drugs"]`).
//!
//! The query path only calls [`Notifier::alert`], which decides in memory whether this
//! (device, category) was alerted in the last hour and, if not, puts the alert on a bounded
//! queue: it never waits on the disk or the network. A task behind the queue stores the
//! alert (so the page shows it) and POSTs it to the parent's webhook. Asks are stored by the
//! page that takes them and only POSTed here.

pub mod store;
pub mod webhook;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use prometheus::IntCounter;
use tokio::sync::mpsc;

pub use store::{Alert, Ask, AskState};
pub use webhook::Notice;

/// One alert per device and category per this long.
pub const ALERT_EVERY: SignedDuration = SignedDuration::from_hours(1);
/// Notices waiting for the webhook at most; more are dropped (and counted).
const QUEUE: usize = 64;
/// (device, category) pairs remembered at most: a bound under a flood of spoofed devices.
const MAX_RECENT: usize = 4_096;

/// Where notices go now: read from the live config for each one, so a reload that sets or
/// changes the webhook applies to the next notice.
#[derive(Debug, Clone, Default)]
pub struct Destinations {
    pub webhook: Option<String>,
    /// The database asks and alerts are kept in (the query log's).
    pub database: Option<PathBuf>,
}

/// Counters of what happened to notices.
#[derive(Clone)]
pub struct Counters {
    pub sent: IntCounter,
    pub failed: IntCounter,
    pub dropped: IntCounter,
}

/// The sending side; cheap to share.
pub struct Notifier {
    tx: mpsc::Sender<Notice>,
    recent: Mutex<HashMap<(String, String), Timestamp>>,
    dropped: IntCounter,
}

impl Notifier {
    /// Starts the task that stores and POSTs notices; it ends when the notifier is dropped.
    pub fn start(
        destinations: impl Fn() -> Destinations + Send + Sync + 'static,
        counters: Counters,
    ) -> Arc<Notifier> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let dropped = counters.dropped.clone();
        tokio::spawn(deliver(rx, destinations, counters));
        Arc::new(Notifier {
            tx,
            recent: Mutex::default(),
            dropped,
        })
    }

    /// A blocked lookup of `device` in `profile`'s alert `category` at `now`: queued unless
    /// the same device and category were alerted within [`ALERT_EVERY`].
    pub fn alert(&self, device: String, profile: &str, category: &str, now: Timestamp) {
        if !self.first_in_hour(&device, category, now) {
            return;
        }
        self.send(Notice::Alert(Alert {
            at: now,
            device,
            profile: profile.to_owned(),
            category: category.to_owned(),
        }));
    }

    /// A stored ask, for the webhook.
    pub fn ask(&self, ask: Ask) {
        self.send(Notice::Ask(ask));
    }

    fn send(&self, notice: Notice) {
        if self.tx.try_send(notice).is_err() {
            self.dropped.inc();
        }
    }

    /// Whether (device, category) had no alert in the hour before `now`, remembering `now`
    /// if so. A full table forgets pairs older than an hour; if it is still full, the alert
    /// is dropped (and counted) rather than the table grown.
    fn first_in_hour(&self, device: &str, category: &str, now: Timestamp) -> bool {
        let mut recent = self.recent.lock().expect("not poisoned");
        let key = (device.to_owned(), category.to_owned());
        if let Some(last) = recent.get(&key)
            && now.duration_since(*last) < ALERT_EVERY
        {
            return false;
        }
        if !recent.contains_key(&key) && recent.len() >= MAX_RECENT {
            recent.retain(|_, last| now.duration_since(*last) < ALERT_EVERY);
            if recent.len() >= MAX_RECENT {
                self.dropped.inc();
                return false;
            }
        }
        recent.insert(key, now);
        true
    }
}

/// Stores each alert, then POSTs each notice to the webhook of the moment.
async fn deliver(
    mut rx: mpsc::Receiver<Notice>,
    destinations: impl Fn() -> Destinations,
    counters: Counters,
) {
    let client = webhook::client();
    while let Some(notice) = rx.recv().await {
        let to = destinations();
        if let (Notice::Alert(alert), Some(db)) = (&notice, to.database) {
            let alert = alert.clone();
            let stored = tokio::task::spawn_blocking(move || {
                store::open(&db)
                    .map_err(|e| e.to_string())
                    .and_then(|conn| store::add_alert(&conn, &alert).map_err(|e| e.to_string()))
            })
            .await;
            if let Ok(Err(e)) = stored {
                tracing::warn!(error = %e, "cannot store an alert");
            }
        }
        let Some(url) = to.webhook else { continue };
        match webhook::post(&client, &url, &notice).await {
            Ok(()) => counters.sent.inc(),
            Err(e) => {
                counters.failed.inc();
                tracing::warn!(webhook = %url, error = %e, "webhook failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    fn counter(name: &str) -> IntCounter {
        IntCounter::new(name, "test").unwrap()
    }

    #[tokio::test]
    async fn one_alert_per_device_and_category_per_hour_and_a_bounded_table() {
        let counters = Counters {
            sent: counter("s"),
            failed: counter("f"),
            dropped: counter("d"),
        };
        let n = Notifier::start(Destinations::default, counters.clone());
        assert!(n.first_in_hour("tablet", "drugs", at(0)));
        assert!(!n.first_in_hour("tablet", "drugs", at(3_599)));
        assert!(n.first_in_hour("tablet", "sects", at(10)));
        assert!(n.first_in_hour("phone", "drugs", at(10)));
        assert!(n.first_in_hour("tablet", "drugs", at(3_600)));
        let refused = (0..MAX_RECENT)
            .filter(|i| !n.first_in_hour(&format!("d{i}"), "drugs", at(3_600)))
            .count();
        assert!(!n.first_in_hour("one-more", "drugs", at(3_601)));
        assert_eq!(n.recent.lock().unwrap().len(), MAX_RECENT);
        assert_eq!(counters.dropped.get(), refused as u64 + 1);
        // An hour on, the old pairs make room.
        assert!(n.first_in_hour("one-more", "drugs", at(7_300)));
    }
}
