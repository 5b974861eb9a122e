//! The decision for one query: a pure function of the compiled lists, the client's profile,
//! the name and the clock. No I/O, and the clock is an argument, so tests use fixed instants
//! and benchmarks need no sockets.
//!
//! Order (DESIGN.md "Pipeline"):
//! 0. a parent's timed exception ("YouTube for 45 minutes") allows;
//! 1. the profile's `allow` wins over everything below;
//! 2. a `block_all` schedule window (bedtime) or a pause blocks everything else;
//! 3. bypass protection: the DoH canary, Private Relay and the well-known DoH/DoT
//!    resolvers get NXDOMAIN;
//! 4. safe search rewrites engine hosts to their safe host;
//! 5. the profile's `deny`;
//! 6. the lists of the categories blocked now (always, by an active window, and `bypass`
//!    when bypass protection is on), where an adblock exception (`@@`) exempts a name;
//! 7. regex and keyword rules of those lists;
//! 8. the name classifier, for names nothing above matched, in the categories blocked now.

mod schedule;
mod special;

pub use schedule::{Effect, Window};
pub use special::{BYPASS_CANARIES, BYPASS_ENDPOINTS, SafeTarget, SpecialNames};

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::config::{BlockAnswer, BlockBypass, ProfileConfig, SafeSearch};
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
            schedules: config
                .schedules
                .iter()
                .map(|s| {
                    Window::compile(s, blocklists.mask_for(s.block.iter().map(String::as_str)))
                })
                .collect(),
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
    /// A bypass canary (DoH canary, iCloud Private Relay).
    BypassCanary,
    /// A well-known public DoH/DoT resolver (see [`BYPASS_ENDPOINTS`]).
    BypassEndpoint { labels: usize },
    /// A safe-search engine host.
    SafeSearch,
    /// The profile's `deny` list.
    ProfileDeny { labels: usize },
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Block,
    /// Answer with the profile's safe-search target for this name.
    Rewrite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub reason: Reason,
}

impl Decision {
    fn new(action: Action, reason: Reason) -> Decision {
        Decision { action, reason }
    }

    /// How a block is answered: canaries always get NXDOMAIN, whatever the profile says.
    pub fn block_answer(&self, profile: &Profile) -> BlockAnswer {
        match self.reason {
            Reason::BypassCanary | Reason::BypassEndpoint { .. } => BlockAnswer::NxDomain,
            _ => profile.block_answer,
        }
    }
}

/// Decides a query name. It takes only a [`QueryName`], which is lowercase by construction,
/// so the client's letter case can never change a decision.
#[inline]
pub fn decide(
    blocklists: &Blocklists,
    special: &SpecialNames,
    profile: &Profile,
    name: &QueryName,
    now: Timestamp,
    timed: Option<&ProfileOverrides>,
) -> Decision {
    let fps = name.fingerprints().as_slice();
    let whole = name.whole();
    if timed.is_some_and(|t| t.allows(name.fingerprints(), now)) {
        return Decision::new(Action::Allow, Reason::TimedAllow);
    }
    let effect = profile.schedule_effect(now);
    let own = profile.overrides.lookup_fingerprints(fps, 1);
    if let Some(hit) = own.filter(|h| h.kind == RuleKind::Allow) {
        return Decision::new(Action::Allow, Reason::ProfileAllow { labels: hit.labels });
    }
    if timed.is_some_and(|t| t.paused(now)) {
        return Decision::new(Action::Block, Reason::Paused);
    }
    if effect.block_all {
        return Decision::new(Action::Block, Reason::Schedule);
    }
    if profile.block_bypass != BlockBypass::Off {
        if special.is_canary(whole) {
            return Decision::new(Action::Block, Reason::BypassCanary);
        }
        if let Some(labels) = special.bypass_endpoint(name) {
            return Decision::new(Action::Block, Reason::BypassEndpoint { labels });
        }
    }
    if special.safe_search(whole, profile.safe_search).is_some() {
        return Decision::new(Action::Rewrite, Reason::SafeSearch);
    }
    if let Some(hit) = own {
        return Decision::new(Action::Block, Reason::ProfileDeny { labels: hit.labels });
    }
    let active = profile.categories | effect.categories;
    match blocklists.matcher.lookup_fingerprints(fps, active) {
        Some(hit) if hit.kind == RuleKind::Allow => Decision::new(Action::Allow, Reason::List(hit)),
        Some(hit) => Decision::new(Action::Block, Reason::List(hit)),
        None => match blocklists.patterns.lookup(name.as_str(), active) {
            Some(hit) => Decision::new(Action::Block, Reason::Pattern(hit)),
            // Only names that would otherwise be forwarded pay for the model.
            None => match blocklists
                .classifier
                .as_ref()
                .and_then(|c| c.classify(name.as_str(), active))
            {
                Some(c) => Decision::new(Action::Block, Reason::Classified(c)),
                None => Decision::new(Action::Allow, Reason::NoMatch),
            },
        },
    }
}
