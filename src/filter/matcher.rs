//! Suffix matching of a query name against every list at once.
//!
//! Each distinct rule name is stored once, as a 64-bit fingerprint in a [`FingerprintTable`]
//! whose value points to an interned [`RuleSet`]: which lists name the rule, with which
//! kind, and the same folded into category masks. A lookup hashes the query name once, right
//! to left (see [`crate::name::SuffixHasher`]), and probes the table once per label; the
//! profile's category mask decides which rules count. Profiles select categories, never
//! single lists, so a config may have thousands of lists while the hot check stays one
//! `u64` AND per probe.

use std::collections::{BinaryHeap, HashMap};

use super::CategoryMask;
use super::table::FingerprintTable;
use crate::lists::RuleKind;
use crate::name::{self, SuffixFingerprints};

/// The lists that have one rule name, as category masks per kind (for the hot check) and as
/// `(list << 2) | kind` members (to name the list of a hit).
#[derive(Debug, Clone, Copy, Default)]
struct RuleSet {
    block: CategoryMask,
    block_subdomains: CategoryMask,
    allow: CategoryMask,
    /// `members[start..start + len]`, sorted by list.
    start: u32,
    len: u32,
}

/// The rule that decided a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index of the list the rule is in (the lowest one, when several active lists have it).
    pub list: u16,
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
    sets: Vec<RuleSet>,
    members: Vec<u16>,
    /// Category bit of each list.
    category_of: Vec<u8>,
    /// Label counts of the shortest and longest rule names: suffixes outside this range
    /// cannot match, so they are not probed (most configs have no one-label rule, so the
    /// TLD probe, a cache miss on every query, is skipped).
    depths: std::ops::RangeInclusive<usize>,
}

impl DomainMatcher {
    /// Looks a query name up by the fingerprints of its suffixes (shortest first), counting
    /// only the rules of lists whose category is in `active`.
    ///
    /// Exceptions (`Allow`) win over blocks at any depth, as in AdGuard syntax; among blocks
    /// the most specific (longest) rule name is reported.
    #[inline]
    pub fn lookup_fingerprints(&self, fps: &[u64], active: CategoryMask) -> Option<Hit> {
        if active == 0 || self.sets.is_empty() {
            return None;
        }
        let n = fps.len();
        let first = self.depths.start() - 1;
        let end = n.min(*self.depths.end());
        if first >= end {
            return None;
        }
        for &fp in &fps[first..end] {
            self.table.prefetch(fp);
        }
        let mut best = None;
        for (i, &fp) in fps.iter().enumerate().take(end).skip(first) {
            let Some(v) = self.table.get(fp) else {
                continue;
            };
            let set = &self.sets[v as usize];
            if set.allow & active != 0 {
                return Some(self.hit(set, active, RuleKind::Allow, fp, i + 1));
            }
            if set.block & active != 0 {
                best = Some((set, RuleKind::Block, fp, i + 1));
            } else if i + 1 < n && set.block_subdomains & active != 0 {
                best = Some((set, RuleKind::BlockSubdomains, fp, i + 1));
            }
        }
        best.map(|(set, kind, fp, labels)| self.hit(set, active, kind, fp, labels))
    }

    /// The hit for a rule set known to have an active rule of `kind`: its lowest such list.
    fn hit(
        &self,
        set: &RuleSet,
        active: CategoryMask,
        kind: RuleKind,
        fp: u64,
        labels: usize,
    ) -> Hit {
        let members = &self.members[set.start as usize..(set.start + set.len) as usize];
        let list = members
            .iter()
            .find(|&&m| {
                let list = usize::from(m >> KIND_BITS);
                kind_of(m & KIND_MASK) == kind && active & (1 << self.category_of[list]) != 0
            })
            .map_or(0, |&m| m >> KIND_BITS);
        Hit {
            list,
            kind,
            fingerprint: fp,
            labels,
        }
    }

    /// Looks up a name in presentation form (any case, optional trailing dot).
    pub fn lookup(&self, name: &str, active: CategoryMask) -> Option<Hit> {
        self.lookup_fingerprints(SuffixFingerprints::from_name(name).as_slice(), active)
    }

    /// Number of distinct rule names.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Heap bytes held by the matcher.
    pub fn heap_bytes(&self) -> usize {
        self.table.heap_bytes()
            + self.sets.capacity() * size_of::<RuleSet>()
            + self.members.capacity() * size_of::<u16>()
            + self.category_of.capacity()
    }
}

/// Collects rules, then compiles them into a [`DomainMatcher`].
#[derive(Debug)]
pub struct MatcherBuilder {
    /// Per list, one `u64` per rule: the name's fingerprint with the kind in its free low
    /// bits. The list is the vector's index, so a rule costs 8 bytes whatever the number of
    /// lists (a rebuild's peak is made of these).
    lists: Vec<Vec<u64>>,
    /// Fewest and most labels of any rule name.
    min_depth: usize,
    max_depth: usize,
}

impl Default for MatcherBuilder {
    fn default() -> Self {
        MatcherBuilder {
            lists: Vec::new(),
            min_depth: usize::MAX,
            max_depth: 0,
        }
    }
}

const KIND_BITS: u32 = 2;
const KIND_MASK: u16 = (1 << KIND_BITS) - 1;
/// The fingerprint bits that are free for the kind while building.
const LOW: u64 = (1 << name::FINGERPRINT_FREE_BITS) - 1;

fn kind_code(kind: RuleKind) -> u16 {
    match kind {
        RuleKind::Block => 0,
        RuleKind::BlockSubdomains => 1,
        RuleKind::Allow => 2,
        RuleKind::Regex | RuleKind::Keyword => unreachable!("patterns are not names"),
    }
}

fn kind_of(code: u16) -> RuleKind {
    match code {
        0 => RuleKind::Block,
        1 => RuleKind::BlockSubdomains,
        _ => RuleKind::Allow,
    }
}

impl MatcherBuilder {
    /// Adds a rule for a normalised `name` in list `list`; returns its fingerprint.
    pub fn add(&mut self, list: u16, kind: RuleKind, name: &str) -> u64 {
        let list = usize::from(list);
        if self.lists.len() <= list {
            self.lists.resize_with(list + 1, Vec::new);
        }
        let fp = name::fingerprint(name);
        self.lists[list].push(fp | u64::from(kind_code(kind)));
        let depth = name.split('.').count();
        self.min_depth = self.min_depth.min(depth);
        self.max_depth = self.max_depth.max(depth);
        fp
    }

    /// Compiles with each list its own category (list `i` is selected by bit `i`): for
    /// small matchers such as a profile's own names. At most 64 lists.
    pub fn build(self) -> DomainMatcher {
        let categories: Vec<u8> = (0..self.lists.len() as u8).collect();
        self.build_with_categories(&categories)
    }

    /// Compiles; list `i` is selected by category bit `category_of[i]` (below 64).
    pub fn build_with_categories(mut self, category_of: &[u8]) -> DomainMatcher {
        assert!(self.lists.len() <= category_of.len(), "a category per list");
        assert!(
            category_of.iter().all(|&c| c < 64),
            "categories are u64 bits"
        );
        for rules in &mut self.lists {
            rules.sort_unstable();
            rules.dedup();
        }
        let mut distinct = 0;
        for_each_name(&self.lists, |_, _| distinct += 1);
        let mut table = FingerprintTable::with_capacity(distinct);
        let mut interned: HashMap<Vec<u16>, u32> = HashMap::new();
        let mut sets = Vec::new();
        let mut members = Vec::new();
        for_each_name(&self.lists, |fp, same_name| {
            let id = match interned.get(same_name) {
                Some(&id) => id,
                None => {
                    let mut set = RuleSet {
                        start: members.len() as u32,
                        len: same_name.len() as u32,
                        ..RuleSet::default()
                    };
                    for &m in same_name {
                        let bit = 1 << category_of[usize::from(m >> KIND_BITS)];
                        match kind_of(m & KIND_MASK) {
                            RuleKind::Block => set.block |= bit,
                            RuleKind::BlockSubdomains => set.block_subdomains |= bit,
                            _ => set.allow |= bit,
                        }
                    }
                    members.extend_from_slice(same_name);
                    sets.push(set);
                    let id = (sets.len() - 1) as u32;
                    interned.insert(same_name.to_vec(), id);
                    id
                }
            };
            table.insert(fp, id);
        });
        drop(std::mem::take(&mut self.lists));
        sets.shrink_to_fit();
        members.shrink_to_fit();
        DomainMatcher {
            table,
            sets,
            members,
            category_of: category_of.to_vec(),
            depths: self.min_depth.max(1)..=self.max_depth,
        }
    }
}

/// Calls `f` once per distinct rule name, in fingerprint order, with its members
/// (`(list << 2) | kind`, sorted): a k-way merge of the lists' sorted rules, so that no
/// combined copy of every rule is ever made.
fn for_each_name(lists: &[Vec<u64>], mut f: impl FnMut(u64, &[u16])) {
    let mut heads: BinaryHeap<std::cmp::Reverse<(u64, u16, usize)>> = lists
        .iter()
        .enumerate()
        .filter(|(_, rules)| !rules.is_empty())
        .map(|(list, rules)| std::cmp::Reverse((rules[0], list as u16, 0)))
        .collect();
    let mut current: Option<u64> = None;
    let mut members: Vec<u16> = Vec::new();
    while let Some(std::cmp::Reverse((rule, list, at))) = heads.pop() {
        let fp = rule & !LOW;
        if current != Some(fp) {
            if let Some(done) = current {
                members.sort_unstable();
                f(done, &members);
            }
            current = Some(fp);
            members.clear();
        }
        members.push((list << KIND_BITS) | (rule & LOW) as u16);
        let rules = &lists[usize::from(list)];
        if at + 1 < rules.len() {
            heads.push(std::cmp::Reverse((rules[at + 1], list, at + 1)));
        }
    }
    if let Some(done) = current {
        members.sort_unstable();
        f(done, &members);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(rules: &[(u16, RuleKind, &str)]) -> DomainMatcher {
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

    #[test]
    fn thousands_of_lists_share_categories() {
        // 2,000 lists in 3 categories; one name in many lists of different categories.
        let mut b = MatcherBuilder::default();
        for list in 0..2000u16 {
            b.add(list, RuleKind::Block, &format!("only{list}.example"));
            if list % 500 == 7 {
                b.add(list, RuleKind::Block, "shared.example");
            }
        }
        b.add(1999, RuleKind::Allow, "ok.shared.example");
        let category_of: Vec<u8> = (0..2000).map(|l| (l % 3) as u8).collect();
        let m = b.build_with_categories(&category_of);
        assert_eq!(m.len(), 2002);
        // `shared` is in lists 7 (cat 1), 507 (cat 0), 1007 (cat 2), 1507 (cat 1).
        assert_eq!(m.lookup("shared.example", 0b001).unwrap().list, 507);
        assert_eq!(m.lookup("shared.example", 0b010).unwrap().list, 7);
        assert_eq!(m.lookup("shared.example", 0b100).unwrap().list, 1007);
        assert_eq!(m.lookup("only1998.example", 0b001).unwrap().list, 1998);
        assert!(m.lookup("only1998.example", 0b110).is_none());
        // List 1999 is category 1: its exception applies only with category 1 active.
        let ok = m.lookup("ok.shared.example", 0b011).unwrap();
        assert_eq!((ok.kind, ok.list), (RuleKind::Allow, 1999));
        assert_eq!(
            m.lookup("ok.shared.example", 0b001).unwrap().kind,
            RuleKind::Block
        );
    }
}
