//! One address family's prefixes: per prefix length, a sorted array of masked keys and a
//! parallel array of profile indexes. Six bytes an IPv4 subscriber, ten an IPv6 one (up to
//! /64), and a lookup is one binary search per length present, not a pointer chase per bit.

use super::bits::{Bits, INDEX_BITS, Lengths};

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
    /// Where each bucket of keys starts: the bucket is the [`INDEX_BITS`] bits after the
    /// bits all keys share, so a search starts in a range of a few dozen keys instead of
    /// millions (256 KiB a level; none for small levels).
    starts: Box<[u32]>,
    skip: u8,
}

/// Levels with fewer keys than this are searched whole.
const INDEXED: usize = 1 << 12;

impl<K: Bits> Level<K> {
    pub(super) fn new(len: u8, keys: Box<[K]>, profiles: Box<[ProfileId]>) -> Level<K> {
        let (Some(&first), Some(&last)) = (keys.first(), keys.last()) else {
            return Level {
                len,
                keys,
                profiles,
                starts: Box::new([]),
                skip: 0,
            };
        };
        let shared = (0..K::WIDTH).find(|&b| first.masked(b + 1) != last.masked(b + 1));
        let skip = shared.unwrap_or(K::WIDTH).min(K::WIDTH - INDEX_BITS);
        let starts = if keys.len() < INDEXED {
            Box::new([]) as Box<[u32]>
        } else {
            let mut starts = vec![0u32; (1 << INDEX_BITS) + 1];
            for k in keys.iter() {
                starts[k.bucket(skip) + 1] += 1;
            }
            for b in 1..starts.len() {
                starts[b] += starts[b - 1];
            }
            starts.into_boxed_slice()
        };
        Level {
            len,
            keys,
            profiles,
            starts,
            skip,
        }
    }

    fn get(&self, key: K) -> Option<ProfileId> {
        let (lo, hi) = if self.starts.is_empty() {
            (0, self.keys.len())
        } else {
            let b = key.bucket(self.skip);
            (self.starts[b] as usize, self.starts[b + 1] as usize)
        };
        let i = self.keys[lo..hi].binary_search(&key).ok()?;
        Some(self.profiles[lo + i])
    }
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
        self.levels.push(Level::new(
            len,
            keys.into_boxed_slice(),
            profiles.into_boxed_slice(),
        ));
    }

    /// The profile of exactly this prefix (`key` already masked to `len`).
    pub fn get(&self, len: u8, key: K) -> Option<ProfileId> {
        if !self.lengths.contains(len) {
            return None;
        }
        self.levels.iter().find(|l| l.len == len)?.get(key)
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

    /// Bytes of the arrays and their indexes.
    pub fn bytes(&self) -> usize {
        let index: usize = self.levels.iter().map(|l| l.starts.len() * 4).sum();
        self.len() * (K::BYTES + std::mem::size_of::<ProfileId>()) + index
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

    #[test]
    fn large_levels_are_searched_through_their_index() {
        let keys: Vec<Entry<u64>> = (0..20_000u64)
            .map(|i| {
                (
                    64,
                    0x2001_0db8_0000_0000 | ((i * 0x9e37_79b1) & 0xffff_ffff),
                    Some(i as u16),
                )
            })
            .collect();
        let f = Family::from_entries(keys.clone());
        assert!(!f.levels[0].starts.is_empty());
        for (len, key, profile) in keys {
            assert_eq!(f.get(len, key), profile);
            assert_eq!(f.get(len, key ^ (1 << 40)), None);
        }
    }
}
