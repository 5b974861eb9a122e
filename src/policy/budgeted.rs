//! What the daily budgets ask of the lists: whether a name is in a budget's categories, for
//! the tier that blocks a spent budget and for counting the names a budget with minutes left
//! answers.

use std::ops::ControlFlow;

use jiff::Timestamp;

use super::Policy;
use crate::budget::{self, Budget};
use crate::filter::CategoryMask;
use crate::lists::RuleKind;
use crate::name::QueryName;

impl<'s> Policy<'s> {
    /// The budget an answered `name` spends at `now`, unless a lookup of that budget was
    /// counted in the same minute ([`minute_of`]) already. Until one is, each answered name of
    /// the profile pays one probe of the budgets' categories (lists, patterns, and the
    /// classifier when it knows one of them); after it, the rest of the minute pays nothing.
    /// The marks it reads are a cache of the ledger, which decides.
    ///
    /// [`minute_of`]: crate::budget::minute_of
    #[inline]
    pub fn budget_to_count(&self, name: &QueryName, now: Timestamp) -> Option<&'s Budget> {
        let minute = budget::minute_of(now);
        // A spent budget's names are blocked, so its minute is never marked: skip it.
        let open = |b: &&Budget| !b.counted_in(minute) && !self.spent(b, now);
        let budgets = &self.profile.budgets;
        let mask = budgets.iter().filter(open).fold(0, |m, b| m | b.mask);
        if mask == 0 || !self.in_categories(name, mask) {
            return None;
        }
        budgets
            .iter()
            .filter(open)
            .find(|b| self.in_categories(name, b.mask))
    }

    /// Whether `budget` of the profile is spent at `now`.
    pub(super) fn spent(&self, budget: &Budget, now: Timestamp) -> bool {
        budget::usage_of(self.usage, &budget.key).is_some_and(|u| u.spent(budget.minutes, now))
    }

    /// Whether `name` is in one of the categories of `mask`, by the lists' names (an
    /// exception exempts it), their patterns, or the classifier.
    pub(super) fn in_categories(&self, name: &QueryName, mask: CategoryMask) -> bool {
        let b = self.blocklists;
        let listed = b
            .matcher
            .lookup_fingerprints(name.fingerprints().as_slice(), mask);
        match listed {
            Some(hit) => hit.kind != RuleKind::Allow,
            None => {
                b.patterns
                    .for_each_match(name.as_str(), mask, |_| ControlFlow::Break(()))
                    .is_break()
                    || b.classifier
                        .as_ref()
                        .is_some_and(|c| c.classify(name.as_str(), mask).is_some())
            }
        }
    }
}
