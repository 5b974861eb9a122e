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
        let n = fps.len();
        let mut best = None;
        for (labels, fp, set) in self.probe(fps, active) {
            if set.allow & active != 0 {
                return Some(self.hit(set, active, RuleKind::Allow, fp, labels));
            }
            if set.block & active != 0 {
                best = Some((set, RuleKind::Block, fp, labels));
            } else if covers(RuleKind::BlockSubdomains, labels, n)
                && set.block_subdomains & active != 0
            {
                best = Some((set, RuleKind::BlockSubdomains, fp, labels));
            }
        }
        best.map(|(set, kind, fp, labels)| self.hit(set, active, kind, fp, labels))
    }

    /// Calls `f` with every rule of an active list that matches the name: each list and
    /// kind, at every suffix, shortest suffix first. This is the exhaustive walk that
    /// `familydns check` shows; [`lookup_fingerprints`](Self::lookup_fingerprints) walks the
    /// same suffixes but stops at, and reports, only the rule that decides.
    pub fn for_each_hit(&self, fps: &[u64], active: CategoryMask, mut f: impl FnMut(Hit)) {
        for (labels, fp, set) in self.probe(fps, active) {
            for &m in self.members(set) {
                let (list, kind) = (m >> KIND_BITS, kind_of(m & KIND_MASK));
                if covers(kind, labels, fps.len()) && self.is_active(list, active) {
                    f(Hit {
                        list,
                        kind,
                        fingerprint: fp,
                        labels,
                    });
                }
            }
        }
    }

    /// The suffixes of a name that have a rule set, as (labels, fingerprint, set), shortest
    /// first. Only the suffixes whose length some rule name has are probed, and they are
    /// prefetched together before the first probe.
    #[inline(always)]
    fn probe<'a>(
        &'a self,
        fps: &'a [u64],
        active: CategoryMask,
    ) -> impl Iterator<Item = (usize, u64, &'a RuleSet)> + 'a {
        let first = self.depths.start() - 1;
        let end = fps.len().min(*self.depths.end());
        let probed = if active == 0 || self.sets.is_empty() || first >= end {
            &[][..]
        } else {
            &fps[first..end]
        };
        for &fp in probed {
            self.table.prefetch(fp);
        }
        probed.iter().enumerate().filter_map(move |(i, &fp)| {
            let v = self.table.get(fp)?;
            Some((first + i + 1, fp, &self.sets[v as usize]))
        })
    }

    /// The `(list << 2) | kind` members of a rule set.
    fn members(&self, set: &RuleSet) -> &[u16] {
        &self.members[set.start as usize..(set.start + set.len) as usize]
    }

    /// Whether `list`'s category is in `active`.
    fn is_active(&self, list: u16, active: CategoryMask) -> bool {
        active & (1 << self.category_of[usize::from(list)]) != 0
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
        let list = self
            .members(set)
            .iter()
            .find(|&&m| kind_of(m & KIND_MASK) == kind && self.is_active(m >> KIND_BITS, active))
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

/// Whether a rule of `kind` whose name spans `labels` of a name of `n` labels matches it:
/// `*.name` covers the subdomains of `name`, not `name` itself.
fn covers(kind: RuleKind, labels: usize, n: usize) -> bool {
    kind != RuleKind::BlockSubdomains || labels < n
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
        // Descending, so that the merge takes each list's rules from its end (see
        // `for_each_name`).
        for rules in &mut self.lists {
            rules.sort_unstable_by(|a, b| b.cmp(a));
            rules.dedup();
        }
        let mut distinct = 0;
        for_each_name(&mut self.lists, Merge::Keep, |_, _| distinct += 1);
        let mut table = FingerprintTable::with_capacity(distinct);
        let mut interned: HashMap<Vec<u16>, u32> = HashMap::new();
        let mut sets = Vec::new();
        let mut members = Vec::new();
        for_each_name(&mut self.lists, Merge::Release, |fp, same_name| {
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

/// What the merge does with the rules it has passed.
#[derive(Clone, Copy, PartialEq)]
enum Merge {
    /// Leaves the lists as they were (the counting pass).
    Keep,
    /// Frees them as it goes, 64 KiB at a time (a list holds one to a few MiB of rules).
    Release,
}

/// Rules past which a list's vector is shrunk while the merge releases it: 64 KiB.
const RELEASE_STEP: usize = (64 << 10) / size_of::<u64>();

/// Calls `f` once per distinct rule name, in fingerprint order, with its members
/// (`(list << 2) | kind`, sorted): a k-way merge of the lists' rules, each list sorted in
/// descending order and read from its end, so that no combined copy of every rule is ever
/// made.
///
/// With [`Merge::Release`] the rules already passed are freed as the merge goes. The new
/// table fills in the same order (a slot's position grows with the fingerprint, so its pages
/// are first touched one after another), and a rebuild holds about the larger of the rules
/// and the table at any moment instead of both: with 1.4M rules, 11 MiB less at the peak.
/// Shrinking a vector gives its tail back to the system at once because `reload::tune_malloc`
/// has glibc map every block of a mebibyte or more on its own.
fn for_each_name(lists: &mut [Vec<u64>], merge: Merge, mut f: impl FnMut(u64, &[u16])) {
    let mut left: Vec<usize> = lists.iter().map(Vec::len).collect();
    let mut heads: BinaryHeap<std::cmp::Reverse<(u64, u16)>> = lists
        .iter()
        .enumerate()
        .filter_map(|(list, rules)| Some(std::cmp::Reverse((*rules.last()?, list as u16))))
        .collect();
    let mut current: Option<u64> = None;
    let mut members: Vec<u16> = Vec::new();
    while let Some(std::cmp::Reverse((rule, list))) = heads.pop() {
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
        let at = usize::from(list);
        left[at] -= 1;
        let rules = &mut lists[at];
        if left[at] > 0 {
            heads.push(std::cmp::Reverse((rules[left[at] - 1], list)));
        }
        if merge == Merge::Release {
            rules.truncate(left[at]);
            if rules.is_empty() {
                *rules = Vec::new();
            } else if rules.capacity() - rules.len() >= RELEASE_STEP {
                rules.shrink_to_fit();
            }
        }
    }
    if let Some(done) = current {
        members.sort_unstable();
        f(done, &members);
    }
}

#[cfg(test)]
#[path = "matcher_tests.rs"]
mod tests;
