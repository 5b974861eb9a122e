//! The decision for one query: a pure function of the snapshot, the client's profile and the
//! name. No I/O and no clock, so it is tested and benchmarked without sockets.
//!
//! Order (DESIGN.md "Pipeline"): the profile's `allow` wins over everything, then its
//! `deny`, then the lists of the categories the profile blocks, where an adblock exception
//! (`@@`) in an active list exempts a name.

use crate::config::{BlockAnswer, ProfileConfig};
use crate::filter::{Blocklists, DomainMatcher, Hit, ListMask, MatcherBuilder, PatternHit};
use crate::lists::RuleKind;
use crate::name::SuffixFingerprints;

/// One profile, compiled against a [`Blocklists`].
#[derive(Debug)]
pub struct Profile {
    pub name: String,
    /// Lists whose category the profile blocks.
    pub lists: ListMask,
    /// The profile's own `allow` (exceptions) and `deny` (blocks) names, as list 0.
    overrides: DomainMatcher,
    pub block_answer: BlockAnswer,
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
        Profile {
            name: config.name.clone(),
            lists: blocklists.mask_for(config.block.iter().map(String::as_str)),
            overrides: b.build(),
            block_answer: config.block_answer,
        }
    }
}

/// Why a name was allowed or blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Nothing matched.
    NoMatch,
    /// The profile's `allow` list.
    ProfileAllow { labels: usize },
    /// The profile's `deny` list.
    ProfileDeny { labels: usize },
    /// A rule of a list in a blocked category (`hit.kind` is `Allow` for an exception).
    List(Hit),
    /// A regex or keyword of a list in a blocked category.
    Pattern(PatternHit),
}

impl Reason {
    /// The list behind the decision, if it was a list rule.
    pub fn list(&self) -> Option<u8> {
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub reason: Reason,
}

/// Decides a query name, given the fingerprints of its suffixes; `text` yields the name
/// (lowercase, no trailing dot) and is only called when regex or keyword rules apply.
#[inline]
pub fn decide(
    blocklists: &Blocklists,
    profile: &Profile,
    name: &SuffixFingerprints,
    text: impl FnOnce() -> String,
) -> Decision {
    let fps = name.as_slice();
    if let Some(hit) = profile.overrides.lookup_fingerprints(fps, 1) {
        return match hit.kind {
            RuleKind::Allow => Decision {
                action: Action::Allow,
                reason: Reason::ProfileAllow { labels: hit.labels },
            },
            _ => Decision {
                action: Action::Block,
                reason: Reason::ProfileDeny { labels: hit.labels },
            },
        };
    }
    match blocklists.matcher.lookup_fingerprints(fps, profile.lists) {
        None if blocklists.patterns.applies(profile.lists) => {
            match blocklists.patterns.lookup(&text(), profile.lists) {
                Some(hit) => Decision {
                    action: Action::Block,
                    reason: Reason::Pattern(hit),
                },
                None => Decision {
                    action: Action::Allow,
                    reason: Reason::NoMatch,
                },
            }
        }
        None => Decision {
            action: Action::Allow,
            reason: Reason::NoMatch,
        },
        Some(hit) => Decision {
            action: if hit.kind == RuleKind::Allow {
                Action::Allow
            } else {
                Action::Block
            },
            reason: Reason::List(hit),
        },
    }
}
