//! The decision for one query: a pure function of the compiled lists, the client's profile,
//! the name and the clock. No I/O, and the clock is an argument, so tests use fixed instants
//! and benchmarks need no sockets.
//!
//! Order (DESIGN.md "Pipeline"):
//! 0. a parent's timed exception ("YouTube for 45 minutes") allows;
//! 1. the profile's `allow` wins over everything below;
//! 2. a pause, then a `block_all` schedule window (bedtime), blocks everything else;
//! 3. a spent daily budget blocks the names of its categories (lists, patterns, classifier)
//!    until local midnight: before safe search, or a spent `video` budget would still
//!    rewrite YouTube instead of blocking it; after the allows, which a parent set on purpose;
//! 4. bypass protection: the DoH canary, Private Relay and the well-known DoH/DoT
//!    resolvers get NXDOMAIN;
//! 5. safe search rewrites engine hosts to their safe host;
//! 6. the profile's `deny`;
//! 7. the names accepted from complaints, in the categories blocked now (always, by an
//!    active window, and `bypass` when bypass protection is on): a reviewer's decision, so
//!    before the lists' own exceptions; then the lists of those categories, where an adblock
//!    exception (`@@`) exempts a name;
//! 8. regex and keyword rules of those lists;
//! 9. the name classifier, for names nothing above matched, in the categories blocked now.
//!
//! A budget with minutes left blocks nothing: [`Policy::budget_to_count`] only says which
//! budget an answered name spends.
//!
//! [`Policy::decide`] stops at the first tier that matches; [`Policy::explain`] walks the
//! same tiers to the end and reports every rule that matches (`familydns check`). What the
//! answer to a decision is (how a block is answered, its EDE, the metric label) is its
//! [`Verdict`].

mod budgeted;
mod schedule;
mod special;
#[cfg(test)]
mod tests;
mod verdict;

pub use schedule::{Effect, Window};
pub use special::{BYPASS_CANARIES, BYPASS_ENDPOINTS, SafeTarget, SpecialNames};
pub use verdict::{Block, EdeCode, EdeText, Label, Verdict};

use std::ops::ControlFlow;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::budget::{self, Budget, Usage};
use crate::complaints::Accepted;
use crate::config::{BlockAnswer, BlockBypass, LogMode, ProfileConfig, SafeSearch};
use crate::filter::{
    Blocklists, CategoryMask, Classified, DomainMatcher, Hit, MatcherBuilder, PatternHit,
};
use crate::lists::RuleKind;
use crate::name::QueryName;
use crate::overrides::ProfileOverrides;

/// The category bypass protection adds to a profile.
pub const BYPASS_CATEGORY: &str = "bypass";

/// One profile, compiled against a [`Blocklists`].
#[derive(Debug)]
pub struct Profile {
    pub name: String,
    /// Categories the profile blocks at all times.
    pub categories: CategoryMask,
    /// The profile's own `allow` (exceptions) and `deny` (blocks) names, as list 0.
    overrides: DomainMatcher,
    pub block_answer: BlockAnswer,
    pub safe_search: SafeSearch,
    pub block_bypass: BlockBypass,
    pub timezone: TimeZone,
    pub schedules: Vec<Window>,
    /// Daily budgets (`[[budget]]`).
    pub budgets: Vec<Budget>,
    /// What the query log keeps of this profile's queries, and for how many days.
    pub log: LogMode,
    pub log_days: u32,
    /// Categories whose blocked lookups alert the parent.
    pub alert: Vec<String>,
    /// Whom the profile is for, as trends count it.
    pub kind: crate::config::ProfileKind,
}

impl Profile {
    pub fn compile(config: &ProfileConfig, blocklists: &Blocklists) -> Profile {
        let mut b = MatcherBuilder::default();
        for name in &config.allow {
            b.add(0, RuleKind::Allow, name);
        }
        for name in &config.deny {
            b.add(0, RuleKind::Block, name);
        }
        let categories = config.block.iter().map(String::as_str);
        let mut mask = blocklists.mask_for(categories);
        if config.block_bypass == BlockBypass::All {
            mask |= blocklists.mask_for([BYPASS_CATEGORY]);
        }
        Profile {
            name: config.name.clone(),
            categories: mask,
            overrides: b.build(),
            block_answer: config.block_answer,
            safe_search: config.safe_search,
            block_bypass: config.block_bypass,
            timezone: config.timezone.clone(),
            log: config.log,
            log_days: config.log_days,
            alert: config.alert.clone(),
            kind: config.kind,
            schedules: config
                .schedules
                .iter()
                .map(|s| {
                    Window::compile(s, blocklists.mask_for(s.block.iter().map(String::as_str)))
                })
                .collect(),
            budgets: config
                .budgets
                .iter()
                .map(|b| Budget::compile(b, blocklists))
                .collect(),
        }
    }

    /// The profile as the budgets' ledger knows it.
    pub fn budget_owner(&self) -> budget::Owner<'_> {
        budget::Owner {
            profile: &self.name,
            timezone: &self.timezone,
            budgets: &self.budgets,
        }
    }

    /// What the profile's schedule windows add at `now`.
    pub fn schedule_effect(&self, now: Timestamp) -> Effect {
        schedule::effect(&self.schedules, &self.timezone, now)
    }
}

/// Why a name was allowed, blocked or rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Nothing matched.
    NoMatch,
    /// A `block_all` schedule window is active (bedtime).
    Schedule,
    /// The profile is paused ("internet paused until 20:00").
    Paused,
    /// A parent's timed exception.
    TimedAllow,
    /// The profile's `allow` list.
    ProfileAllow { labels: usize },
    /// A spent daily budget: the index of the profile's budget.
    Budget { budget: usize },
    /// A bypass canary (DoH canary, iCloud Private Relay).
    BypassCanary,
    /// A well-known public DoH/DoT resolver (see [`BYPASS_ENDPOINTS`]).
    BypassEndpoint { labels: usize },
    /// A safe-search engine host.
    SafeSearch,
    /// The profile's `deny` list.
    ProfileDeny { labels: usize },
    /// A name accepted from a complaint, in a blocked category: its index in [`Accepted`].
    Complaint { entry: u32 },
    /// A rule of a list in a blocked category (`hit.kind` is `Allow` for an exception).
    List(Hit),
    /// A regex or keyword of a list in a blocked category.
    Pattern(PatternHit),
    /// No rule matched, and the name classifier puts the name in a blocked category.
    Classified(Classified),
}

impl Reason {
    /// The list behind the decision, if it was a list rule.
    pub fn list(&self) -> Option<u16> {
        match self {
            Reason::List(hit) => Some(hit.list),
            Reason::Pattern(hit) => Some(hit.list),
            _ => None,
        }
    }
}

/// What a decision does with the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'s> {
    Allow,
    Block,
    /// Answer with this safe-search target, found by the decision itself so that no later
    /// stage looks the name up again.
    Rewrite(&'s SafeTarget),
}

/// What to do with a name, and the rule that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'s> {
    pub action: Action<'s>,
    pub reason: Reason,
}

impl Decision<'_> {
    /// The decision when no rule matches: forward.
    pub const NO_MATCH: Decision<'static> = Decision {
        action: Action::Allow,
        reason: Reason::NoMatch,
    };
}

/// One profile's rules in one snapshot, with the profile's timed exceptions and pause:
/// everything a decision reads besides the name and the clock. The server and
/// `familydns check` ask the same questions of it, so they cannot disagree.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'s> {
    pub blocklists: &'s Blocklists,
    pub special: &'s SpecialNames,
    pub profile: &'s Profile,
    /// The profile's timed exceptions and pause (`familydns allow`, `familydns pause`).
    pub timed: Option<&'s ProfileOverrides>,
    /// The profile's usage of its budgets today (empty: none counted).
    pub usage: &'s [Usage],
    /// The names accepted from complaints (`None`: none read, as offline).
    pub accepted: Option<&'s Accepted>,
}

impl<'s> Policy<'s> {
    /// Decides a query name at `now`. It takes only a [`QueryName`], which is lowercase by
    /// construction, so the client's letter case can never change a decision.
    #[inline]
    pub fn decide(&self, name: &QueryName, now: Timestamp) -> Decision<'s> {
        let mut first = First(None);
        let _ = self.walk(name, now, &mut first);
        first.0.unwrap_or(Decision::NO_MATCH)
    }

    /// Every rule that matches `name` at `now`, in the order of the tiers above: the first
    /// is what [`decide`](Self::decide) returns (none: [`Decision::NO_MATCH`]), the others
    /// are rules it never reached. Within a tier, the rule the tier's own precedence picks
    /// comes first. For `familydns check`; it runs every tier, so the server never calls it.
    pub fn explain(&self, name: &QueryName, now: Timestamp) -> Vec<Decision<'s>> {
        let mut all = Vec::new();
        let _ = self.walk(name, now, &mut all);
        all
    }

    /// The tiers, in order, each handing its matches to `out`. The one walk both
    /// [`decide`](Self::decide) (which stops at the first match) and
    /// [`explain`](Self::explain) (which takes them all) run.
    #[inline(always)]
    fn walk<S: Sink<'s>>(&self, name: &QueryName, now: Timestamp, out: &mut S) -> ControlFlow<()> {
        let Policy {
            blocklists,
            special,
            profile,
            timed,
            usage: _,
            accepted,
        } = *self;
        let fps = name.fingerprints().as_slice();
        let whole = name.whole();
        let allow = |reason| Decision {
            action: Action::Allow,
            reason,
        };
        let block = |reason| Decision {
            action: Action::Block,
            reason,
        };
        if timed.is_some_and(|t| t.allows(name.fingerprints(), now)) {
            out.push(allow(Reason::TimedAllow))?;
        }
        let effect = profile.schedule_effect(now);
        // The profile's own names, looked up once for tiers 1 (allow) and 5 (deny).
        let own = profile.overrides.lookup_fingerprints(fps, 1);
        rules(out, &profile.overrides, fps, 1, own, |hit| {
            let reason = Reason::ProfileAllow { labels: hit.labels };
            (hit.kind == RuleKind::Allow).then(|| allow(reason))
        })?;
        if timed.is_some_and(|t| t.paused(now)) {
            out.push(block(Reason::Paused))?;
        }
        if effect.block_all {
            out.push(block(Reason::Schedule))?;
        }
        for (i, b) in profile.budgets.iter().enumerate() {
            if self.spent(b, now) && self.in_categories(name, b.mask) {
                out.push(block(Reason::Budget { budget: i }))?;
            }
        }
        if profile.block_bypass != BlockBypass::Off {
            if special.is_canary(whole) {
                out.push(block(Reason::BypassCanary))?;
            }
            if let Some(labels) = special.bypass_endpoint(name) {
                out.push(block(Reason::BypassEndpoint { labels }))?;
            }
        }
        if let Some(target) = special.safe_search(whole, profile.safe_search) {
            out.push(Decision {
                action: Action::Rewrite(target),
                reason: Reason::SafeSearch,
            })?;
        }
        rules(out, &profile.overrides, fps, 1, own, |hit| {
            let reason = Reason::ProfileDeny { labels: hit.labels };
            (hit.kind != RuleKind::Allow).then(|| block(reason))
        })?;
        let active = profile.categories | effect.categories;
        if let Some(accepted) = accepted {
            let blocks = |category: &str| blocklists.mask_for([category]) & active != 0;
            for entry in accepted.matching(name, blocks) {
                out.push(block(Reason::Complaint { entry }))?;
            }
        }
        let listed = blocklists.matcher.lookup_fingerprints(fps, active);
        rules(out, &blocklists.matcher, fps, active, listed, |hit| {
            Some(match hit.kind {
                RuleKind::Allow => allow(Reason::List(hit)),
                _ => block(Reason::List(hit)),
            })
        })?;
        blocklists
            .patterns
            .for_each_match(name.as_str(), active, |hit| {
                out.push(block(Reason::Pattern(hit)))
            })?;
        // Only names that would otherwise be forwarded pay for the model.
        if let Some(c) = blocklists
            .classifier
            .as_ref()
            .and_then(|c| c.classify(name.as_str(), active))
        {
            out.push(block(Reason::Classified(c)))?;
        }
        ControlFlow::Continue(())
    }
}

/// Hands one tier of name rules to `out`: first the decision for `lookup`, the hit the
/// matcher's own precedence picks (an exception over a block, the longest block), then, for
/// an explanation, the decision for every hit of the matcher. `decision` says which hits
/// belong to the tier, and what they decide.
#[inline(always)]
fn rules<'s, S: Sink<'s>>(
    out: &mut S,
    matcher: &DomainMatcher,
    fps: &[u64],
    active: CategoryMask,
    lookup: Option<Hit>,
    decision: impl Fn(Hit) -> Option<Decision<'s>>,
) -> ControlFlow<()> {
    if let Some(d) = lookup.and_then(&decision) {
        out.push(d)?;
    }
    if S::EVERY {
        // An explanation never stops, and takes each rule once: the first is not repeated.
        matcher.for_each_hit(fps, active, |hit| {
            if let Some(d) = decision(hit) {
                let _ = out.push(d);
            }
        });
    }
    ControlFlow::Continue(())
}

/// Where the walk puts the rules that match.
trait Sink<'s> {
    /// Whether every rule of a tier is wanted, not only the one that decides it.
    const EVERY: bool;
    /// Takes a match; `Break` ends the walk.
    fn push(&mut self, decision: Decision<'s>) -> ControlFlow<()>;
}

/// A decision: the first match decides, and nothing after it runs.
struct First<'s>(Option<Decision<'s>>);

impl<'s> Sink<'s> for First<'s> {
    const EVERY: bool = false;

    #[inline(always)]
    fn push(&mut self, decision: Decision<'s>) -> ControlFlow<()> {
        self.0 = Some(decision);
        ControlFlow::Break(())
    }
}

/// An explanation: every match, each once (a keyword can match twice in one name).
impl<'s> Sink<'s> for Vec<Decision<'s>> {
    const EVERY: bool = true;

    fn push(&mut self, decision: Decision<'s>) -> ControlFlow<()> {
        if !self.contains(&decision) {
            Vec::push(self, decision);
        }
        ControlFlow::Continue(())
    }
}
