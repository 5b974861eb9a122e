//! Daily time budgets: `[[budget]] categories = ["social", "video"], minutes = 60`.
//!
//! A budget is spent by the distinct minutes of local time in which a profile (all of its
//! devices together) looked up a name of its categories, and it resets at local midnight in
//! the profile's zone. While minutes are left its categories are only counted; once they are
//! spent the policy blocks them until midnight, or until a parent grants more for today.
//!
//! DNS sees lookups, not screens: a device caches answers and an app keeps its connections,
//! so a budget measures minutes of activity that needed a lookup, never screen time.
//!
//! This file is the pure accounting (every function takes the clock as an argument); `store`
//! keeps the ledger, persists it and publishes it to the query path.

mod store;

pub use store::{BudgetError, Budgets, Owner, STATE_FILE, read};

use std::sync::atomic::{AtomicI64, Ordering};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::config::BudgetConfig;
use crate::filter::{Blocklists, CategoryMask};

/// Minutes a grant may add to one day: more than a day has is a typo.
pub const MAX_GRANT: u32 = 24 * 60;

/// One `[[budget]]` of a profile, compiled against the lists.
#[derive(Debug)]
pub struct Budget {
    /// The categories as written, joined (`social, video`): what names the budget in the
    /// ledger, in the EDE text and on the parents' page.
    pub key: String,
    pub mask: CategoryMask,
    /// Minutes a day, before grants.
    pub minutes: u32,
    /// The last minute (since the epoch) a lookup of this budget was counted: a cache of
    /// the ledger, so that only the first lookup of a minute takes the ledger's lock. A new
    /// snapshot starts it afresh; the ledger itself never counts a minute twice.
    counted: AtomicI64,
}

impl Budget {
    pub fn compile(config: &BudgetConfig, blocklists: &Blocklists) -> Budget {
        Budget {
            key: config.categories.join(", "),
            mask: blocklists.mask_for(config.categories.iter().map(String::as_str)),
            minutes: config.minutes,
            counted: AtomicI64::new(i64::MIN),
        }
    }

    /// Whether `minute` was already counted for this budget.
    pub fn counted_in(&self, minute: i64) -> bool {
        self.counted.load(Ordering::Relaxed) == minute
    }

    /// Marks `minute` counted; true for the first caller of the minute, who counts it.
    pub fn first_in(&self, minute: i64) -> bool {
        self.counted.swap(minute, Ordering::Relaxed) != minute
    }
}

/// The minute of `now`, since the epoch: what a budget counts distinct values of. Zones
/// differ from UTC by whole minutes, so it is a minute of local time too.
pub fn minute_of(now: Timestamp) -> i64 {
    now.as_second().div_euclid(60)
}

/// One budget's day in the ledger.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Usage {
    pub profile: String,
    /// The [`Budget::key`].
    pub budget: String,
    /// The local midnight that ends the day this counts; after it the usage is spent of
    /// nothing (a reset needs no timer).
    pub ends: Timestamp,
    /// Distinct minutes counted today.
    pub used: u32,
    /// Minutes a parent added for today.
    pub granted: u32,
    /// The minute last counted, so that none is counted twice.
    pub last_minute: i64,
}

impl Usage {
    /// A fresh day for `budget` of `profile` at `now` in `tz`.
    pub fn today(profile: &str, budget: &str, now: Timestamp, tz: &TimeZone) -> Usage {
        Usage {
            profile: profile.to_owned(),
            budget: budget.to_owned(),
            ends: next_midnight(now, tz),
            used: 0,
            granted: 0,
            last_minute: i64::MIN,
        }
    }

    /// Whether this usage is of the day `now` is in.
    pub fn current(&self, now: Timestamp) -> bool {
        now < self.ends
    }

    /// Starts a new day if the one counted has ended.
    pub fn roll(&mut self, now: Timestamp, tz: &TimeZone) {
        if !self.current(now) {
            *self = Usage::today(&self.profile, &self.budget, now, tz);
        }
    }

    /// Counts the minute of `now` (of the current day: [`roll`](Self::roll) first); false
    /// when it was counted already.
    pub fn count(&mut self, now: Timestamp) -> bool {
        let minute = minute_of(now);
        if minute == self.last_minute {
            return false;
        }
        self.last_minute = minute;
        self.used += 1;
        true
    }

    /// Adds `minutes` for today (of the current day: [`roll`](Self::roll) first).
    pub fn grant(&mut self, minutes: u32) {
        self.granted = (self.granted + minutes).min(MAX_GRANT);
    }

    /// The minutes the budget allows today: its own and the grants.
    pub fn allowed(&self, minutes: u32) -> u32 {
        minutes + self.granted
    }

    /// Whether a budget of `minutes` is spent at `now`.
    pub fn spent(&self, minutes: u32, now: Timestamp) -> bool {
        self.current(now) && self.used >= self.allowed(minutes)
    }
}

/// What is left of one budget today, for `familydns check` and the parents' page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Left {
    pub budget: String,
    /// Minutes allowed today, grants included.
    pub allowed: u32,
    pub used: u32,
}

impl Left {
    pub fn minutes(&self) -> u32 {
        self.allowed.saturating_sub(self.used)
    }
}

/// `social, video: 25 of 60 min left today`, as the CLI prints it.
impl std::fmt::Display for Left {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (budget, left, allowed) = (&self.budget, self.minutes(), self.allowed);
        write!(f, "{budget}: {left} of {allowed} min left today")
    }
}

/// The usage of `budget` among a profile's, if it has any.
pub fn usage_of<'u>(usage: &'u [Usage], budget: &str) -> Option<&'u Usage> {
    usage.iter().find(|u| u.budget == budget)
}

/// What is left at `now` of each of `budgets`, given the profile's `usage`.
pub fn left(budgets: &[Budget], usage: &[Usage], now: Timestamp) -> Vec<Left> {
    budgets
        .iter()
        .map(
            |b| match usage_of(usage, &b.key).filter(|u| u.current(now)) {
                Some(u) => Left {
                    budget: b.key.clone(),
                    allowed: u.allowed(b.minutes),
                    used: u.used,
                },
                None => Left {
                    budget: b.key.clone(),
                    allowed: b.minutes,
                    used: 0,
                },
            },
        )
        .collect()
}

/// The first instant of the next local day in `tz`.
fn next_midnight(now: Timestamp, tz: &TimeZone) -> Timestamp {
    now.to_zoned(tz.clone())
        .tomorrow()
        .and_then(|z| z.start_of_day())
        .map_or(now + jiff::SignedDuration::from_hours(24), |z| {
            z.timestamp()
        })
}

#[cfg(test)]
mod tests;
