//! One address family's prefixes: per prefix length, a sorted array of masked keys and a
//! parallel array of profile indexes. Six bytes an IPv4 subscriber, ten an IPv6 one (up to
//! /64), and a lookup is one binary search per length present, not a pointer chase per bit.

use super::bits::{Bits, Lengths};

/// A profile, as an index into the table's names.
pub type ProfileId = u16;

#[derive(Debug, Clone)]
pub struct Family<K> {
    pub(super) levels: Vec<Level<K>>,
    pub(super) lengths: Lengths,
}

impl<K> Default for Family<K> {
    fn default() -> Self {
        Family {
            levels: Vec::new(),
            lengths: Lengths::default(),
        }
    }
}

/// Every prefix of one length.
#[derive(Debug, Clone)]
pub struct Level<K> {
    pub(super) len: u8,
    pub(super) keys: Box<[K]>,
    pub(super) profiles: Box<[ProfileId]>,
}

/// A prefix and what it maps to: a profile, or (a change) nothing any more.
pub type Entry<K> = (u8, K, Option<ProfileId>);

impl<K: Bits> Family<K> {
    /// Builds from entries in any order; for a prefix given twice the later one wins, and
    /// a `None` removes it.
    pub fn from_entries(mut entries: Vec<Entry<K>>) -> Family<K> {
        // Stable: of equal prefixes the last given stays last, and dedup keeps it. A sorted
        // family followed by a few changes is two runs, merged in linear time.
        entries.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut out: Vec<Entry<K>> = Vec::with_capacity(entries.len());
        for e in entries {
            match out.last_mut() {
                Some(last) if (last.0, last.1) == (e.0, e.1) => *last = e,
                _ => out.push(e),
            }
        }
        let mut family = Family::default();
        let kept = out.into_iter().filter_map(|(l, k, p)| Some((l, k, p?)));
        let mut level: Option<(u8, Vec<K>, Vec<ProfileId>)> = None;
        for (len, key, profile) in kept {
            match &mut level {
                Some((l, keys, profiles)) if *l == len => {
                    keys.push(key);
                    profiles.push(profile);
                }
                _ => {
                    if let Some(done) = level.take() {
                        family.push(done);
                    }
                    level = Some((len, vec![key], vec![profile]));
                }
            }
        }
        if let Some(done) = level {
            family.push(done);
        }
        family
    }

    fn push(&mut self, (len, keys, profiles): (u8, Vec<K>, Vec<ProfileId>)) {
        self.lengths.insert(len);
        self.levels.push(Level {
            len,
            keys: keys.into_boxed_slice(),
            profiles: profiles.into_boxed_slice(),
        });
    }

    /// The profile of exactly this prefix (`key` already masked to `len`).
    pub fn get(&self, len: u8, key: K) -> Option<ProfileId> {
        if !self.lengths.contains(len) {
            return None;
        }
        let level = self.levels.iter().find(|l| l.len == len)?;
        level
            .keys
            .binary_search(&key)
            .ok()
            .map(|i| level.profiles[i])
    }

    /// Every prefix, longest first, each length in key order.
    pub fn entries(&self) -> impl Iterator<Item = Entry<K>> + '_ {
        self.levels.iter().flat_map(|l| {
            l.keys
                .iter()
                .zip(l.profiles.iter())
                .map(move |(&k, &p)| (l.len, k, Some(p)))
        })
    }

    /// This family with `changes` applied.
    pub fn merged(&self, changes: impl Iterator<Item = Entry<K>>) -> Family<K> {
        Family::from_entries(self.entries().chain(changes).collect())
    }

    pub fn len(&self) -> usize {
        self.levels.iter().map(|l| l.keys.len()).sum()
    }

    /// Bytes of the arrays.
    pub fn bytes(&self) -> usize {
        self.len() * (K::BYTES + std::mem::size_of::<ProfileId>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_entries_win_and_none_removes() {
        let f = Family::<u32>::from_entries(vec![
            (24, 0x0a00_0100, Some(1)),
            (32, 0x0a00_0105, Some(2)),
            (24, 0x0a00_0100, Some(3)),
            (24, 0x0a00_0200, Some(4)),
            (24, 0x0a00_0200, None),
        ]);
        assert_eq!(f.get(24, 0x0a00_0100), Some(3));
        assert_eq!(f.get(24, 0x0a00_0200), None);
        assert_eq!(f.get(32, 0x0a00_0105), Some(2));
        assert_eq!(f.len(), 2);
        let g = f.merged([(32, 0x0a00_0105, None), (16, 0x0a00_0000, Some(5))].into_iter());
        assert_eq!(g.len(), 2);
        assert_eq!(g.get(32, 0x0a00_0105), None);
        assert_eq!(g.get(16, 0x0a00_0000), Some(5));
        assert_eq!(g.entries().next(), Some((24, 0x0a00_0100, Some(3))));
    }
}
