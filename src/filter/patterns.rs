//! Rules that are not names: regular expressions and keywords.
//!
//! They are matched against the whole query name only when the profile has a list with such
//! rules active, so a profile without them pays nothing.
//!
//! Keyword semantics: a keyword matches where it starts a label or a hyphen-separated part of
//! a label, and may run on from there. `sex` blocks `sex.com`, `sexshop.example` and
//! `free-sex.example`, but not `essex.ac.uk` or `sussex.example`, where it only ends a word.

use std::ops::ControlFlow;

use aho_corasick::AhoCorasick;
use regex::RegexSet;

use super::CategoryMask;
use crate::lists::{REGEX_SIZE_LIMIT, RuleKind};

/// A pattern rule that matched: its list, kind, and the pattern itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternHit {
    pub list: u16,
    pub kind: RuleKind,
    /// Index of the rule among the rules of its kind.
    pub index: usize,
}

/// One pattern rule as loaded.
#[derive(Debug)]
struct Rule {
    list: u16,
    /// Category bit of the list.
    category: u8,
    line: u32,
    text: String,
}

#[derive(Debug)]
struct Compiled<M> {
    matcher: Option<M>,
    rules: Vec<Rule>,
}

#[derive(Debug)]
pub struct PatternRules {
    regexes: Compiled<RegexSet>,
    keywords: Compiled<AhoCorasick>,
    /// Categories that have any pattern rule.
    categories: CategoryMask,
}

/// Collects pattern rules while lists load.
#[derive(Debug, Default)]
pub struct PatternBuilder {
    regexes: Vec<Rule>,
    keywords: Vec<Rule>,
}

impl PatternBuilder {
    pub fn add(&mut self, list: u16, category: u8, kind: RuleKind, text: String, line: u32) {
        let rule = Rule {
            list,
            category,
            line,
            text,
        };
        match kind {
            RuleKind::Regex => self.regexes.push(rule),
            RuleKind::Keyword => self.keywords.push(rule),
            _ => unreachable!("only patterns are added here"),
        }
    }

    /// Compiles the patterns. Each regex was checked on its own when parsed; if the set is
    /// too large to compile, the regexes are dropped and the error returned.
    pub fn build(self) -> (PatternRules, Option<String>) {
        let mut error = None;
        let regex_set = if self.regexes.is_empty() {
            None
        } else {
            match regex::RegexSetBuilder::new(self.regexes.iter().map(|r| &r.text))
                .size_limit(REGEX_SIZE_LIMIT * 64)
                .build()
            {
                Ok(set) => Some(set),
                Err(e) => {
                    error = Some(format!("regex rules dropped: {e}"));
                    None
                }
            }
        };
        let keywords = (!self.keywords.is_empty()).then(|| {
            AhoCorasick::new(self.keywords.iter().map(|k| &k.text))
                .expect("keywords are plain ASCII")
        });
        let regexes = if regex_set.is_some() {
            self.regexes
        } else {
            Vec::new()
        };
        let categories = regexes
            .iter()
            .chain(&self.keywords)
            .fold(0, |m, r| m | (1 << r.category));
        (
            PatternRules {
                regexes: Compiled {
                    matcher: regex_set,
                    rules: regexes,
                },
                keywords: Compiled {
                    matcher: keywords,
                    rules: self.keywords,
                },
                categories,
            },
            error,
        )
    }
}

impl PatternRules {
    /// Whether any active category has pattern rules.
    #[inline]
    pub fn applies(&self, active: CategoryMask) -> bool {
        self.categories & active != 0
    }

    /// The first pattern of an active list that matches `name` (lowercase, no trailing dot).
    pub fn lookup(&self, name: &str, active: CategoryMask) -> Option<PatternHit> {
        let mut first = None;
        let _ = self.for_each_match(name, active, |hit| {
            first = Some(hit);
            ControlFlow::Break(())
        });
        first
    }

    /// Calls `f` with each pattern of an active list that matches `name` (lowercase, no
    /// trailing dot), keywords first, until `f` breaks: a decision takes the first, and
    /// `familydns check` all of them.
    #[inline]
    pub fn for_each_match(
        &self,
        name: &str,
        active: CategoryMask,
        mut f: impl FnMut(PatternHit) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        if !self.applies(active) {
            return ControlFlow::Continue(());
        }
        if let Some(ac) = &self.keywords.matcher {
            for m in ac.find_overlapping_iter(name) {
                let index = m.pattern().as_usize();
                let rule = &self.keywords.rules[index];
                let starts_part =
                    m.start() == 0 || matches!(name.as_bytes()[m.start() - 1], b'.' | b'-');
                if starts_part && active & (1 << rule.category) != 0 {
                    f(PatternHit {
                        list: rule.list,
                        kind: RuleKind::Keyword,
                        index,
                    })?;
                }
            }
        }
        if let Some(set) = &self.regexes.matcher {
            for index in set.matches(name).iter() {
                let rule = &self.regexes.rules[index];
                if active & (1 << rule.category) != 0 {
                    f(PatternHit {
                        list: rule.list,
                        kind: RuleKind::Regex,
                        index,
                    })?;
                }
            }
        }
        ControlFlow::Continue(())
    }

    /// The pattern text and line of a hit.
    pub fn rule(&self, hit: &PatternHit) -> (&str, u32) {
        let rules = match hit.kind {
            RuleKind::Keyword => &self.keywords.rules,
            _ => &self.regexes.rules,
        };
        let rule = &rules[hit.index];
        (&rule.text, rule.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_word_starts_only() {
        let mut b = PatternBuilder::default();
        b.add(0, 0, RuleKind::Keyword, "sex".into(), 1);
        b.add(1, 1, RuleKind::Regex, "^ads?[0-9]+\\.".into(), 7);
        let (p, err) = b.build();
        assert!(err.is_none());
        for blocked in [
            "sex.com",
            "sexshop.example",
            "free-sex.example",
            "a.sexy.example",
        ] {
            assert_eq!(
                p.lookup(blocked, 1).map(|h| h.kind),
                Some(RuleKind::Keyword),
                "{blocked}"
            );
        }
        for allowed in ["essex.ac.uk", "sussex.example", "www.middlesex.gov"] {
            assert_eq!(p.lookup(allowed, 1), None, "{allowed}");
        }
        let hit = p.lookup("ad12.tracker.net", 0b10).unwrap();
        assert_eq!(p.rule(&hit), ("^ads?[0-9]+\\.", 7));
        assert_eq!(
            p.lookup("ad12.tracker.net", 0b01),
            None,
            "category not active"
        );
        // Every match, keywords first; `lookup` is the first of them.
        let mut all = vec![];
        let _ = p.for_each_match("ad12.sex.net", 0b11, |hit| {
            all.push((hit.list, hit.kind));
            ControlFlow::Continue(())
        });
        assert_eq!(all, [(0, RuleKind::Keyword), (1, RuleKind::Regex)]);
    }
}
