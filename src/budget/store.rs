//! The ledger of the budgets: every profile's usage today, kept in a small TOML file next to
//! the config so that a restart keeps the count, and published to the query path as one
//! immutable map (one atomic load per query, no lock).
//!
//! The query path changes the ledger at most once a minute per budget (the first lookup of
//! a minute), and each change is written by a background task right after it, so a crash or
//! power cut loses at most the minute being written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::{Budget, Left, MAX_GRANT, Usage};
use crate::atomic_file;

/// File name of the ledger, in the config's directory.
pub const STATE_FILE: &str = "familydns.budget.toml";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Ledger {
    #[serde(default)]
    usage: Vec<Usage>,
}

/// Why a grant was refused.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error("`{0}` is not a duration in minutes (e.g. 30m, 1h)")]
    BadDuration(String),
    #[error("grant 1 to {MAX_GRANT} minutes")]
    OutOfRange,
    #[error("profile `{0}` has no [[budget]]")]
    NoBudget(String),
}

/// Whose budgets: a profile's name, zone and budgets (the policy's `Profile` lends them; the
/// ledger sits below the policy and does not know it).
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    pub profile: &'a str,
    pub timezone: &'a TimeZone,
    pub budgets: &'a [Budget],
}

/// The budgets' ledger: counted by the query path, granted by parents.
pub struct Budgets {
    path: PathBuf,
    ledger: Mutex<Ledger>,
    /// Each profile's usage, as the policy reads it.
    published: ArcSwap<HashMap<String, Vec<Usage>>>,
    /// Woken on every change, for [`persist`](Self::persist).
    changed: Notify,
}

impl Budgets {
    /// Loads the ledger next to `config_file`. A missing file is an empty ledger; an
    /// unreadable one is logged and ignored: a budget must never stop the resolver.
    pub fn load(config_file: &Path) -> Budgets {
        let path = state_path(config_file);
        let ledger = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).unwrap_or_else(|e| {
                tracing::error!(file = %path.display(), error = %e, "ignoring unreadable budget ledger");
                Ledger::default()
            }),
            Err(_) => Ledger::default(),
        };
        let published = ArcSwap::from_pointee(by_profile(&ledger));
        Budgets {
            path,
            ledger: Mutex::new(ledger),
            published,
            changed: Notify::new(),
        }
    }

    /// Every profile's usage now, for the query path.
    pub fn current(&self) -> Arc<HashMap<String, Vec<Usage>>> {
        self.published.load_full()
    }

    /// Counts the minute of `now` for `budget` of `owner`: the query path calls this for
    /// the first lookup of a minute in the budget's categories.
    pub fn count(&self, owner: Owner<'_>, budget: &Budget, now: Timestamp) {
        self.change(now, |ledger| {
            usage(ledger, owner, budget, now).count(now);
        });
    }

    /// Adds `duration` (`30m`) for today to every budget of `owner`; returns what is left
    /// of each.
    pub fn grant(
        &self,
        owner: Owner<'_>,
        duration: &str,
        now: Timestamp,
    ) -> Result<Vec<Left>, BudgetError> {
        let minutes = crate::config::parse_duration(duration)
            .filter(|d| d.as_secs() % 60 == 0)
            .ok_or_else(|| BudgetError::BadDuration(duration.to_owned()))?
            .as_secs()
            / 60;
        let minutes = u32::try_from(minutes)
            .ok()
            .filter(|m| (1..=MAX_GRANT).contains(m))
            .ok_or(BudgetError::OutOfRange)?;
        if owner.budgets.is_empty() {
            return Err(BudgetError::NoBudget(owner.profile.to_owned()));
        }
        self.change(now, |ledger| {
            for budget in owner.budgets {
                usage(ledger, owner, budget, now).grant(minutes);
            }
        });
        Ok(self.left(owner, now))
    }

    /// What is left of each budget of `owner` at `now`.
    pub fn left(&self, owner: Owner<'_>, now: Timestamp) -> Vec<Left> {
        let current = self.current();
        let usage = current.get(owner.profile).map_or(&[][..], Vec::as_slice);
        super::left(owner.budgets, usage, now)
    }

    /// Writes the ledger after each change, until the server stops; runs as a task.
    pub async fn persist(self: Arc<Self>) {
        loop {
            self.changed.notified().await;
            let text = {
                let ledger = self.ledger.lock().expect("not poisoned");
                toml::to_string(&*ledger).expect("the ledger serialises")
            };
            let path = self.path.clone();
            let written =
                tokio::task::spawn_blocking(move || atomic_file::write(&path, text.as_bytes()))
                    .await;
            if let Ok(Err(e)) = written {
                tracing::error!(file = %self.path.display(), error = %e, "cannot save the budget ledger");
            }
        }
    }

    /// Applies `f`, drops the days that ended before `now`, publishes, and wakes the writer.
    fn change(&self, now: Timestamp, f: impl FnOnce(&mut Ledger)) {
        let mut ledger = self.ledger.lock().expect("not poisoned");
        f(&mut ledger);
        ledger.usage.retain(|u| u.current(now));
        self.published.store(Arc::new(by_profile(&ledger)));
        self.changed.notify_one();
    }
}

/// The ledger as `familydns check` reads it: each profile's usage, without a server.
pub fn read(config_file: &Path) -> HashMap<String, Vec<Usage>> {
    let ledger = std::fs::read_to_string(state_path(config_file))
        .ok()
        .and_then(|text| toml::from_str(&text).ok())
        .unwrap_or_default();
    by_profile(&ledger)
}

fn state_path(config_file: &Path) -> PathBuf {
    config_file
        .parent()
        .unwrap_or(Path::new("."))
        .join(STATE_FILE)
}

/// The usage of `budget` of `owner` in `ledger`, brought to the day of `now`.
fn usage<'l>(
    ledger: &'l mut Ledger,
    owner: Owner<'_>,
    budget: &Budget,
    now: Timestamp,
) -> &'l mut Usage {
    let tz = owner.timezone;
    let found = ledger
        .usage
        .iter()
        .position(|u| u.profile == owner.profile && u.budget == budget.key);
    let i = found.unwrap_or_else(|| {
        let fresh = Usage::today(owner.profile, &budget.key, now, tz);
        ledger.usage.push(fresh);
        ledger.usage.len() - 1
    });
    let u = &mut ledger.usage[i];
    u.roll(now, tz);
    u
}

fn by_profile(ledger: &Ledger) -> HashMap<String, Vec<Usage>> {
    let mut out: HashMap<String, Vec<Usage>> = HashMap::new();
    for u in &ledger.usage {
        out.entry(u.profile.clone()).or_default().push(u.clone());
    }
    out
}
