//! What the daily budgets ask of the lists: whether a name is in a budget's categories, for
//! the tier that blocks a spent budget and for counting the names a budget with minutes left
//! answers.

use std::ops::ControlFlow;

use super::Policy;
use crate::budget::Budget;
use crate::filter::CategoryMask;
use crate::lists::RuleKind;
use crate::name::QueryName;

impl<'s> Policy<'s> {
    /// The budget an answered `name` spends at `minute` ([`minute_of`]), unless a lookup of
    /// that budget was counted in that minute already. Until one is, each answered name of
    /// the profile pays one probe of the budgets' categories (lists, patterns, and the
    /// classifier when it knows one of them); after it, the rest of the minute pays nothing.
    /// The marks it reads are a cache of the ledger, which decides.
    ///
    /// [`minute_of`]: crate::budget::minute_of
    #[inline]
    pub fn budget_to_count(&self, name: &QueryName, minute: i64) -> Option<&'s Budget> {
        let budgets = &self.profile.budgets;
        let open = budgets
            .iter()
            .filter(|b| !b.counted_in(minute))
            .fold(0, |m, b| m | b.mask);
        if open == 0 || !self.in_categories(name, open) {
            return None;
        }
        budgets
            .iter()
            .find(|b| !b.counted_in(minute) && self.in_categories(name, b.mask))
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
