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

#[derive(Debug)]
pub struct DomainMatcher {
    table: FingerprintTable,
    masks: Vec<Masks>,
    /// Label counts of the shortest and longest rule names: suffixes outside this range
    /// cannot match, so they are not probed (most configs have no one-label rule, so the
    /// TLD probe, a cache miss on every query, is skipped).
    depths: std::ops::RangeInclusive<usize>,
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
        let first = self.depths.start() - 1;
        let end = n.min(*self.depths.end());
        if first >= end {
            return None;
        }
        let fps_in_range = &fps[first..end];
        for &fp in fps_in_range {
            self.table.prefetch(fp);
        }
        let mut best = None;
        for (i, &fp) in fps.iter().enumerate().take(end).skip(first) {
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
#[derive(Debug)]
pub struct MatcherBuilder {
    /// One `u64` per rule: the name's fingerprint, with list (6 bits) and kind (2 bits) in
    /// its free low byte. Half the memory of a tuple, which is what a rebuild's peak is made of.
    rules: Vec<u64>,
    /// Fewest and most labels of any rule name.
    min_depth: usize,
    max_depth: usize,
}

impl Default for MatcherBuilder {
    fn default() -> Self {
        MatcherBuilder {
            rules: Vec::new(),
            min_depth: usize::MAX,
            max_depth: 0,
        }
    }
}

const KIND_BITS: u32 = 2;

fn kind_code(kind: RuleKind) -> u64 {
    match kind {
        RuleKind::Block => 0,
        RuleKind::BlockSubdomains => 1,
        RuleKind::Allow => 2,
        RuleKind::Regex | RuleKind::Keyword => unreachable!("patterns are not names"),
    }
}

fn kind_of(code: u64) -> RuleKind {
    match code {
        0 => RuleKind::Block,
        1 => RuleKind::BlockSubdomains,
        _ => RuleKind::Allow,
    }
}

impl MatcherBuilder {
    /// Adds a rule for a normalised `name` in list `list`; returns its fingerprint.
    pub fn add(&mut self, list: u8, kind: RuleKind, name: &str) -> u64 {
        debug_assert!(usize::from(list) < super::MAX_LISTS);
        let fp = name::fingerprint(name);
        self.rules
            .push(fp | (u64::from(list) << KIND_BITS) | kind_code(kind));
        let depth = name.split('.').count();
        self.min_depth = self.min_depth.min(depth);
        self.max_depth = self.max_depth.max(depth);
        fp
    }

    pub fn build(mut self) -> DomainMatcher {
        const LOW: u64 = (1 << name::FINGERPRINT_FREE_BITS) - 1;
        self.rules.sort_unstable();
        let distinct = self.rules.chunk_by(|a, b| a & !LOW == b & !LOW).count();
        let mut table = FingerprintTable::with_capacity(distinct);
        let mut interned: HashMap<Masks, u32> = HashMap::new();
        let mut masks = Vec::new();
        for same_name in self.rules.chunk_by(|a, b| a & !LOW == b & !LOW) {
            let mut m = Masks::default();
            for rule in same_name {
                let list = ((rule & LOW) >> KIND_BITS) as u8;
                m.set(list, kind_of(rule & ((1 << KIND_BITS) - 1)));
            }
            let id = *interned.entry(m).or_insert_with(|| {
                masks.push(m);
                (masks.len() - 1) as u32
            });
            table.insert(same_name[0] & !LOW, id);
        }
        drop(std::mem::take(&mut self.rules));
        masks.shrink_to_fit();
        DomainMatcher {
            table,
            masks,
            depths: self.min_depth.max(1)..=self.max_depth,
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
