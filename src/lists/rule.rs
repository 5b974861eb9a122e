//! What parsing a list yields: [`Rule`]s, and [`ParseStats`] for the lines that yielded none.

use std::collections::BTreeMap;

use crate::name::NameError;

/// What a rule does to the name it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleKind {
    /// Blocks the name and every subdomain.
    Block,
    /// `*.name`: blocks subdomains of the name, not the name itself.
    BlockSubdomains,
    /// `@@||name^`: exempts the name and its subdomains from the blocks of active lists.
    Allow,
    /// A regular expression matched against the whole name (`/re/` or a Pi-hole regex line).
    Regex,
    /// A keyword matched at the start of a label or of a hyphen-separated part of one.
    Keyword,
}

/// One rule taken from a list line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub kind: RuleKind,
    /// Normalised name (see [`crate::name::normalize`]); the pattern for `Regex` and
    /// `Keyword` rules.
    pub name: String,
    /// 1-based line in the list file.
    pub line: u32,
}

/// Why a line produced no rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    BadName(NameError),
    /// A hosts line whose address is a real host, not a sinkhole (`1.1.1.1 localdns`).
    NotSinkhole,
    /// `localhost`, `broadcasthost`, `ip6-…` entries of a hosts file header.
    HostsHeader,
    /// An IP address where a name was expected.
    IpAddress,
    /// A single-label name on a hosts line: a stray token would block a whole TLD.
    SingleLabel,
    /// Adblock syntax a DNS filter cannot express: paths, globs, prefix matches, modifiers.
    UnsupportedAdblock,
    /// A regex the regex crate cannot compile (look-around, backreferences) or too large.
    BadRegex,
    /// A keyword that is empty or not ASCII letters, digits and hyphens.
    BadKeyword,
    /// A dnsmasq line that forwards or answers with a real address rather than blocking.
    NotBlocking,
    /// A line of a format other than the one declared.
    WrongFormat,
}

impl SkipReason {
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::BadName(e) => e.as_str(),
            SkipReason::NotSinkhole => "hosts entry with a non-sinkhole address",
            SkipReason::HostsHeader => "hosts-file header entry (localhost, broadcasthost…)",
            SkipReason::IpAddress => "IP address instead of a name",
            SkipReason::SingleLabel => "single-label name (would block a whole TLD)",
            SkipReason::UnsupportedAdblock => "adblock rule a DNS filter cannot express",
            SkipReason::BadRegex => {
                "regex the regex engine cannot compile (look-around, backreference)"
            }
            SkipReason::BadKeyword => "keyword that is not letters, digits and hyphens",
            SkipReason::NotBlocking => "rule that does not block",
            SkipReason::WrongFormat => "line not in the list's format",
        }
    }
}

/// Counts of one list's parse: accepted rules and skipped lines by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseStats {
    pub lines: u64,
    pub rules: u64,
    pub skipped: BTreeMap<SkipReason, u64>,
    /// First skipped line for each reason, for error reports.
    pub first_skipped: BTreeMap<SkipReason, u32>,
}

impl ParseStats {
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    pub(super) fn skip(&mut self, reason: SkipReason, line: u32) {
        *self.skipped.entry(reason).or_default() += 1;
        self.first_skipped.entry(reason).or_insert(line);
    }
}
