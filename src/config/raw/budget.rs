//! `[[budget]]` of a profile: `categories = ["social", "video"], minutes = 60`.

use std::collections::BTreeSet;

use serde::Deserialize;
use toml::Spanned;

use super::Check;
use crate::config::BudgetConfig;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBudget {
    categories: Vec<Spanned<String>>,
    minutes: Spanned<u32>,
}

/// A day has no more minutes to count.
const MAX_MINUTES: u32 = 24 * 60;

/// The budgets of a profile; each problem is reported where it is written. A category in
/// two budgets would be spent twice by one lookup, and a category the profile always blocks
/// is never looked up, so both are errors rather than surprises.
pub(super) fn budgets(
    c: &mut Check<'_>,
    known: &BTreeSet<String>,
    blocked: &[Spanned<String>],
    raw: &[RawBudget],
) -> Vec<BudgetConfig> {
    let mut seen = BTreeSet::new();
    for b in raw {
        c.categories(known, "categories", &b.categories);
        if b.categories.is_empty() {
            c.err(&b.minutes, None, "a budget needs `categories = [...]`");
        }
        let minutes = *b.minutes.get_ref();
        if minutes == 0 || minutes > MAX_MINUTES {
            c.err(
                &b.minutes,
                Some("minutes"),
                format!("expected 1 to {MAX_MINUTES} minutes a day"),
            );
        }
        for cat in &b.categories {
            let name = cat.get_ref();
            if blocked.iter().any(|x| x.get_ref() == name) {
                c.err(
                    cat,
                    Some("categories"),
                    format!("`{name}` is in `block`: it is never looked up, so never counted"),
                );
            }
            if !seen.insert(name.clone()) {
                c.err(
                    cat,
                    Some("categories"),
                    format!("`{name}` is already in another budget of this profile"),
                );
            }
        }
    }
    raw.iter()
        .map(|b| BudgetConfig {
            categories: b.categories.iter().map(|c| c.get_ref().clone()).collect(),
            minutes: *b.minutes.get_ref(),
        })
        .collect()
}
