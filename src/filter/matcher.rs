//! Suffix matching of a query name against every list at once.
//!
//! Each distinct rule name is stored once, as a 64-bit fingerprint in a [`FingerprintTable`]
//! whose value points to an interned triple of list masks (block, block-subdomains, allow).
//! A lookup hashes the query name once, right to left (see [`crate::name::SuffixHasher`]),
//! and probes the table once per label; the profile's list mask decides which lists count.

use std::collections::HashMap;

use super::ListMask;
use super::table::FingerprintTable;
use crate::lists::RuleKind;
use crate::name::{self, SuffixFingerprints};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
struct Masks {
    block: ListMask,
    block_subdomains: ListMask,
    allow: ListMask,
}

/// The rule that decided a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index of the list the rule is in (the lowest one, when several lists have it).
    pub list: u8,
    /// `Allow` when an exception rule exempted the name.
    pub kind: RuleKind,
    /// Fingerprint of the matched suffix (the rule's name).
    pub fingerprint: u64,
    /// Number of labels of the query name that the rule's name spans (from the right).
    pub labels: usize,
}

#[derive(Debug, Default)]
pub struct DomainMatcher {
    table: FingerprintTable,
    masks: Vec<Masks>,
}

impl DomainMatcher {
    /// Looks a query name up by the fingerprints of its suffixes (shortest first).
    ///
    /// Exceptions (`Allow`) win over blocks at any depth, as in AdGuard syntax; among blocks
    /// the most specific (longest) rule name is reported.
    #[inline]
    pub fn lookup_fingerprints(&self, fps: &[u64], active: ListMask) -> Option<Hit> {
        if active == 0 || self.masks.is_empty() {
            return None;
        }
        let n = fps.len();
        for &fp in fps {
            self.table.prefetch(fp);
        }
        let mut best = None;
        for (i, &fp) in fps.iter().enumerate() {
            let Some(v) = self.table.get(fp) else {
                continue;
            };
            let m = self.masks[v as usize];
            let hit = |mask: ListMask, kind| Hit {
                list: mask.trailing_zeros() as u8,
                kind,
                fingerprint: fp,
                labels: i + 1,
            };
            let allow = m.allow & active;
            if allow != 0 {
                return Some(hit(allow, RuleKind::Allow));
            }
            let block = m.block & active;
            let sub = if i + 1 < n {
                m.block_subdomains & active
            } else {
                0
            };
            if block != 0 {
                best = Some(hit(block, RuleKind::Block));
            } else if sub != 0 {
                best = Some(hit(sub, RuleKind::BlockSubdomains));
            }
        }
        best
    }

    /// Looks up a name in presentation form (any case, optional trailing dot).
    pub fn lookup(&self, name: &str, active: ListMask) -> Option<Hit> {
        self.lookup_fingerprints(SuffixFingerprints::from_name(name).as_slice(), active)
    }

    /// Number of distinct rule names.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.masks.is_empty()
    }

    /// Heap bytes held by the matcher.
    pub fn heap_bytes(&self) -> usize {
        self.table.heap_bytes() + self.masks.capacity() * size_of::<Masks>()
    }
}

/// Collects rules, then compiles them into a [`DomainMatcher`].
#[derive(Debug, Default)]
pub struct MatcherBuilder {
    rules: Vec<(u64, u8, RuleKind)>,
}

impl MatcherBuilder {
    /// Adds a rule for a normalised `name` in list `list`; returns its fingerprint.
    pub fn add(&mut self, list: u8, kind: RuleKind, name: &str) -> u64 {
        let fp = name::fingerprint(name);
        self.rules.push((fp, list, kind));
        fp
    }

    pub fn build(mut self) -> DomainMatcher {
        self.rules.sort_unstable_by_key(|r| r.0);
        let mut interned: HashMap<Masks, u32> = HashMap::new();
        let mut masks = Vec::new();
        let mut entries: Vec<(u64, u32)> = Vec::new();
        let mut rules = std::mem::take(&mut self.rules).into_iter().peekable();
        while let Some((fp, list, kind)) = rules.next() {
            let mut m = Masks::default();
            m.set(list, kind);
            while let Some(&(next, list, kind)) = rules.peek() {
                if next != fp {
                    break;
                }
                m.set(list, kind);
                rules.next();
            }
            let id = *interned.entry(m).or_insert_with(|| {
                masks.push(m);
                (masks.len() - 1) as u32
            });
            entries.push((fp, id));
        }
        masks.shrink_to_fit();
        DomainMatcher {
            table: FingerprintTable::build(&entries),
            masks,
        }
    }
}

impl Masks {
    fn set(&mut self, list: u8, kind: RuleKind) {
        let bit = 1 << list;
        match kind {
            RuleKind::Block => self.block |= bit,
            RuleKind::BlockSubdomains => self.block_subdomains |= bit,
            RuleKind::Allow => self.allow |= bit,
            RuleKind::Regex | RuleKind::Keyword => unreachable!("patterns are not names"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(rules: &[(u8, RuleKind, &str)]) -> DomainMatcher {
        let mut b = MatcherBuilder::default();
        for &(l, k, n) in rules {
            b.add(l, k, n);
        }
        b.build()
    }

    #[test]
    fn suffix_wildcard_and_exception_semantics() {
        let m = matcher(&[
            (0, RuleKind::Block, "ads.com"),
            (1, RuleKind::BlockSubdomains, "wild.com"),
            (1, RuleKind::Allow, "ok.ads.com"),
            (2, RuleKind::Block, "deep.ads.com"),
        ]);
        let all = u64::MAX;
        assert_eq!(m.lookup("ads.com", all).unwrap().kind, RuleKind::Block);
        assert_eq!(m.lookup("X.Ads.Com.", all).unwrap().labels, 2);
        assert!(m.lookup("notads.com", all).is_none());
        assert!(m.lookup("wild.com", all).is_none());
        assert_eq!(
            m.lookup("a.wild.com", all).unwrap().kind,
            RuleKind::BlockSubdomains
        );
        assert_eq!(m.lookup("x.ok.ads.com", all).unwrap().kind, RuleKind::Allow);
        // The exception only counts when its list is active.
        assert_eq!(m.lookup("x.ok.ads.com", 0b1).unwrap().kind, RuleKind::Block);
        // The most specific block is reported.
        let hit = m.lookup("a.deep.ads.com", 0b101).unwrap();
        assert_eq!((hit.list, hit.labels), (2, 3));
        assert!(m.lookup("ads.com", 0b110).is_none());
    }
}
