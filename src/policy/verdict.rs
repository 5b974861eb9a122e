//! What the answer to a decision is, as data: allow; block, with the kind of answer and the
//! RFC 8914 Extended DNS Error that says why; or rewrite to a safe-search target. And the
//! metric label each is counted under, and the CNAME-chain check of forwarded answers.
//!
//! The server turns a [`Verdict`] into records and `familydns check` prints the same
//! value, so the two cannot describe one decision differently. Nothing here builds a DNS
//! record. A verdict borrows from the snapshot and allocates nothing; its EDE text is
//! rendered once, by the answer that carries it.

use std::fmt;

use jiff::Timestamp;

use super::{Action, Decision, Policy, Reason, SafeTarget};
use crate::config::BlockAnswer;
use crate::name::QueryName;

/// Categories whose blocks are reported as EDE 15 (security policy) rather than 17
/// (filtering the client asked for).
const SECURITY_CATEGORIES: &[&str] = &["malware", "phishing"];

/// RFC 8914 info codes familydns sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdeCode {
    /// 3: an expired answer served because the upstreams failed (RFC 8767).
    StaleAnswer = 3,
    /// 15: blocked by the operator's policy (malware, phishing, resolver bypass).
    Blocked = 15,
    /// 17: filtered because the client (a parent) asked for it.
    Filtered = 17,
}

/// The answer a decision calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict<'s> {
    /// Forward upstream, then check the answer's CNAME chain ([`Policy::check_chain`]).
    Allow,
    Block(Block<'s>),
    /// Answer with the safe-search target instead of the engine's own records.
    Rewrite(&'s SafeTarget),
}

/// How a blocked name is answered, and the Extended DNS Error that tells the client why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'s> {
    pub answer: BlockAnswer,
    pub ede: EdeCode,
    pub text: EdeText<'s>,
}

/// The text of a block's EDE, kept as the parts it names so that deciding allocates
/// nothing; `Display` writes what the client reads (`familydns: category adult (list …)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdeText<'s> {
    /// A `block_all` window of the profile (bedtime).
    Schedule { profile: &'s str },
    /// `familydns pause`.
    Paused { profile: &'s str },
    /// A bypass canary or public DoH/DoT resolver.
    Bypass,
    /// The name classifier, with its score in thousandths.
    Classified { category: &'s str, score_milli: u16 },
    /// A rule (name, regex or keyword) of a list.
    List { category: &'s str, list: &'s str },
    /// A name accepted from complaint `id`.
    Complaint { category: &'s str, id: i64 },
    /// The profile's `deny`.
    Deny { profile: &'s str },
    /// A spent daily budget: its categories and the minutes it allowed today.
    Budget { categories: &'s str, minutes: u32 },
}

impl<'s> EdeText<'s> {
    /// The list category (or the classifier's, or a spent budget's categories) that blocked
    /// the name, if one did: what the query log and the page count blocks by.
    pub fn category(&self) -> Option<&'s str> {
        match *self {
            EdeText::Classified { category, .. }
            | EdeText::List { category, .. }
            | EdeText::Complaint { category, .. }
            | EdeText::Budget {
                categories: category,
                ..
            } => Some(category),
            _ => None,
        }
    }
}

impl fmt::Display for EdeText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EdeText::Schedule { profile } => {
                write!(f, "familydns: schedule of profile {profile} (block_all)")
            }
            EdeText::Paused { profile } => write!(f, "familydns: profile {profile} is paused"),
            EdeText::Bypass => f.write_str("familydns: resolver bypass blocked"),
            EdeText::Classified {
                category,
                score_milli,
            } => write!(
                f,
                "familydns: classified {category} (score {:.3})",
                f32::from(*score_milli) / 1000.0
            ),
            EdeText::List { category, list } => {
                write!(f, "familydns: category {category} (list {list})")
            }
            EdeText::Complaint { category, id } => {
                write!(f, "familydns: category {category} (complaint #{id})")
            }
            EdeText::Deny { profile } => write!(f, "familydns: deny list of profile {profile}"),
            EdeText::Budget {
                categories,
                minutes,
            } => write!(
                f,
                "familydns: daily budget spent ({categories}: {minutes} min)"
            ),
        }
    }
}

/// The outcome of a query, as counted in `familydns_queries_total{decision}`: the three
/// verdicts, and the protocol's own outcomes. An enum, so that the label set is closed
/// and stays small (every value is a time series).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Allowed,
    Blocked,
    /// Blocked because a daily budget is spent: apart from `blocked`, so that the metrics
    /// show how often budgets run out, not only how much is filtered.
    BudgetSpent,
    Rewritten,
    Refused,
    NotImp,
    FormErr,
    BadVers,
    ServFail,
    RateLimited,
    /// A name familydns answers itself (the child's page).
    Local,
}

impl Label {
    /// The label's value in the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Allowed => "allowed",
            Label::Blocked => "blocked",
            Label::BudgetSpent => "budget",
            Label::Rewritten => "rewritten",
            Label::Refused => "refused",
            Label::NotImp => "notimp",
            Label::FormErr => "formerr",
            Label::BadVers => "badvers",
            Label::ServFail => "servfail",
            Label::RateLimited => "ratelimited",
            Label::Local => "local",
        }
    }
}

impl Verdict<'_> {
    /// The label a query with this verdict is counted under.
    pub fn label(&self) -> Label {
        match self {
            Verdict::Allow => Label::Allowed,
            Verdict::Block(Block {
                text: EdeText::Budget { .. },
                ..
            }) => Label::BudgetSpent,
            Verdict::Block(_) => Label::Blocked,
            Verdict::Rewrite(_) => Label::Rewritten,
        }
    }
}

/// The EDE of a block in `category`: 15 for a security category, else 17.
fn code_for(category: &str) -> EdeCode {
    if SECURITY_CATEGORIES.contains(&category) {
        EdeCode::Blocked
    } else {
        EdeCode::Filtered
    }
}

impl<'s> Policy<'s> {
    /// The answer `decision` calls for.
    pub fn verdict(&self, decision: &Decision<'s>) -> Verdict<'s> {
        match decision.action {
            Action::Allow => Verdict::Allow,
            Action::Block => Verdict::Block(self.block(decision.reason)),
            Action::Rewrite(target) => Verdict::Rewrite(target),
        }
    }

    /// How a name blocked for `reason` is answered. Bypass canaries always get NXDOMAIN,
    /// whatever the profile says (for Firefox's canary, 0.0.0.0 would mean "DoH allowed").
    pub fn block(&self, reason: Reason) -> Block<'s> {
        let profile = self.profile.name.as_str();
        let filtered = |text| (EdeCode::Filtered, text);
        let (ede, text) = match reason {
            Reason::Schedule => filtered(EdeText::Schedule { profile }),
            Reason::Paused => filtered(EdeText::Paused { profile }),
            Reason::Budget { budget } => {
                let b = &self.profile.budgets[budget];
                filtered(EdeText::Budget {
                    categories: &b.key,
                    minutes: crate::budget::usage_of(self.usage, &b.key)
                        .map_or(b.minutes, |u| u.allowed(b.minutes)),
                })
            }
            Reason::BypassCanary | Reason::BypassEndpoint { .. } => {
                (EdeCode::Blocked, EdeText::Bypass)
            }
            Reason::Classified(c) => filtered(EdeText::Classified {
                category: self
                    .blocklists
                    .classifier
                    .as_ref()
                    .map_or("?", |l| l.category_name(c.category)),
                score_milli: c.score_milli,
            }),
            Reason::Complaint { entry } => {
                let entry = self.accepted.expect("a complaint decided it").entry(entry);
                let text = EdeText::Complaint {
                    category: &entry.category,
                    id: entry.id,
                };
                (code_for(&entry.category), text)
            }
            // A list's rule, or else the profile's deny list: the block reasons left.
            _ => match reason.list() {
                Some(list) => self.list_block(list),
                None => filtered(EdeText::Deny { profile }),
            },
        };
        let answer = match reason {
            Reason::BypassCanary | Reason::BypassEndpoint { .. } => BlockAnswer::NxDomain,
            _ => self.profile.block_answer,
        };
        Block { answer, ede, text }
    }

    /// The EDE of a block by a rule of list `list`.
    fn list_block(&self, list: u16) -> (EdeCode, EdeText<'s>) {
        let list = &self.blocklists.lists[usize::from(list)];
        let text = EdeText::List {
            category: &list.category,
            list: &list.name,
        };
        (code_for(&list.category), text)
    }

    /// The first name of a forwarded answer's CNAME chain that the policy blocks at `now`,
    /// with its decision: an allowed name whose chain reaches a blocked one is blocked too,
    /// or a tracker could hide behind a CNAME on an allowed name (CNAME cloaking). `T` is
    /// how the caller names each target (a wire name, a typed string), handed back with the
    /// target for the answer's text. The server and `familydns check --resolve` both ask here.
    pub fn check_chain<T>(
        &self,
        targets: impl IntoIterator<Item = (T, QueryName)>,
        now: Timestamp,
    ) -> Option<(T, QueryName, Decision<'s>)> {
        targets.into_iter().find_map(|(target, name)| {
            let decision = self.decide(&name, now);
            (decision.action == Action::Block).then_some((target, name, decision))
        })
    }
}
