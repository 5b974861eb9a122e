//! The lists and reloads: what went live and when, how each download fared, and what
//! `/health` must say until the next good reload.

use std::collections::BTreeMap;
use std::sync::Mutex;

use prometheus::{Histogram, IntCounter, IntGauge, IntGaugeVec};

use super::Families;
use crate::snapshot::Snapshot;

pub struct ReloadStatus {
    list_entries: IntGaugeVec,
    list_skipped: IntGaugeVec,
    /// 1 when a downloaded list's last fetch succeeded, 0 when it failed.
    list_fetch_ok: IntGaugeVec,
    /// Unix time of a downloaded list's last successful fetch.
    list_fetch_time: IntGaugeVec,
    /// Lists that are loaded with nothing (a download with no cached copy yet).
    list_problems: Mutex<Vec<String>>,
    /// The last failed or refused download of each list, until one succeeds: `/health` shows
    /// them, so a captive portal or a shrunken list is noticed, not just survived.
    download_problems: Mutex<BTreeMap<String, String>>,
    reload_failures: IntCounter,
    pub reload_seconds: Histogram,
    /// Unix time of the last snapshot that went live (start or reload).
    reload_last_success: IntGauge,
    /// Heap bytes of the live rule set.
    snapshot_bytes: IntGauge,
    /// The last reload error, shown by `/health` until a reload succeeds.
    last_reload_error: Mutex<Option<String>>,
    /// Settings the last reload could not apply live, shown by `/health`.
    unapplied: Mutex<Vec<String>>,
    /// `familydns_settings_unapplied`: how many there are (0 when every setting is live).
    unapplied_count: IntGauge,
}

impl ReloadStatus {
    pub(super) fn new(f: &Families<'_>) -> ReloadStatus {
        ReloadStatus {
            list_entries: f.gauges(
                "familydns_list_entries",
                "Rules accepted from each list",
                &["list", "category"],
            ),
            list_skipped: f.gauges(
                "familydns_list_skipped_lines",
                "Lines of each list that produced no rule",
                &["list", "category"],
            ),
            list_fetch_ok: f.gauges(
                "familydns_list_fetch_ok",
                "1 if the last download of a list succeeded",
                &["list"],
            ),
            list_fetch_time: f.gauges(
                "familydns_list_fetch_timestamp_seconds",
                "Unix time of the last successful download of a list",
                &["list"],
            ),
            list_problems: Mutex::new(Vec::new()),
            download_problems: Mutex::new(BTreeMap::new()),
            reload_failures: f.counter(
                "familydns_reload_failures_total",
                "Reloads rejected because the new config or a list was bad",
            ),
            reload_seconds: f.histogram(
                "familydns_reload_duration_seconds",
                "Time to read and compile a new snapshot",
                vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
            ),
            reload_last_success: f.gauge(
                "familydns_reload_last_success_timestamp_seconds",
                "Unix time of the last configuration and lists that went live",
            ),
            snapshot_bytes: f.gauge(
                "familydns_snapshot_bytes",
                "Heap bytes of the live compiled rule set",
            ),
            last_reload_error: Mutex::new(None),
            unapplied: Mutex::new(Vec::new()),
            unapplied_count: f.gauge(
                "familydns_settings_unapplied",
                "Settings the last reload could not apply live; a restart applies them",
            ),
        }
    }
    /// Records the lists of a snapshot that has just gone live.
    pub fn snapshot_loaded(&self, snapshot: &Snapshot) {
        self.reload_last_success
            .set(jiff::Timestamp::now().as_second());
        self.snapshot_bytes
            .set(i64::try_from(snapshot.blocklists.matcher.heap_bytes()).unwrap_or(i64::MAX));
        self.list_entries.reset();
        self.list_skipped.reset();
        for list in &snapshot.blocklists.lists {
            let labels = [list.name.as_str(), list.category.as_str()];
            self.list_entries
                .with_label_values(&labels)
                .set(i64::try_from(list.stats.rules).unwrap_or(i64::MAX));
            self.list_skipped
                .with_label_values(&labels)
                .set(i64::try_from(list.stats.skipped_total()).unwrap_or(i64::MAX));
        }
        *self.last_reload_error.lock().expect("not poisoned") = None;
        *self.list_problems.lock().expect("not poisoned") = snapshot
            .blocklists
            .lists
            .iter()
            .filter_map(|l| l.error.as_ref().map(|e| format!("list {}: {e}", l.name)))
            .collect();
    }

    /// Records the outcome of a list download: `Err` holds why it failed or was refused.
    pub fn list_fetched(&self, list: &str, result: Result<(), String>) {
        self.list_fetch_ok
            .with_label_values(&[list])
            .set(i64::from(result.is_ok()));
        let mut problems = self.download_problems.lock().expect("not poisoned");
        match result {
            Ok(()) => {
                self.list_fetch_time
                    .with_label_values(&[list])
                    .set(jiff::Timestamp::now().as_second());
                problems.remove(list);
            }
            Err(e) => {
                problems.insert(list.to_owned(), e);
            }
        }
    }

    /// Records the settings a reload could not apply live (empty when all were).
    pub fn set_unapplied(&self, unapplied: Vec<String>) {
        self.unapplied_count
            .set(i64::try_from(unapplied.len()).unwrap_or(i64::MAX));
        *self.unapplied.lock().expect("not poisoned") = unapplied;
    }

    pub fn reload_failed(&self, error: String) {
        self.reload_failures.inc();
        *self.last_reload_error.lock().expect("not poisoned") = Some(error);
    }

    /// The `/health` lines of the last reload and the lists' loads and downloads.
    pub(super) fn health(&self) -> String {
        let mut out = match &*self.last_reload_error.lock().expect("not poisoned") {
            None => "ok\n".to_owned(),
            Some(e) => format!("ok (serving the last good config)\nlast reload failed:\n{e}\n"),
        };
        for line in self.unapplied.lock().expect("not poisoned").iter() {
            out.push_str(&format!("not applied: {line}\n"));
        }
        for problem in self.list_problems.lock().expect("not poisoned").iter() {
            out.push_str(problem);
            out.push('\n');
        }
        for (list, e) in self.download_problems.lock().expect("not poisoned").iter() {
            out.push_str(&format!("list {list}: download: {e}\n"));
        }
        out
    }
}
