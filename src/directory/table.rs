//! The subscriber table: who (a prefix, or a CPE's MAC) has which profile, as one immutable
//! value that the server swaps whole, apart from the blocklists' snapshot.
//!
//! Millions of rows sit in a compact base ([`Family`] arrays); changes pushed by the
//! database go to a small overlay consulted first, and are merged into a new base once the
//! overlay reaches [`MERGE_AT`] entries, so a change costs a copy of the overlay, not of the
//! base.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use super::bits::{Bits, Lengths};
use super::family::{Entry, Family, ProfileId};

/// Overlay entries at which the overlay is merged into a new base.
pub const MERGE_AT: usize = 4096;

/// Distinct profile names a table can hold (indexes are `u16`).
pub const MAX_NAMES: usize = ProfileId::MAX as usize;

/// What a row of the directory is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// An IPv4 or IPv6 prefix (its host bits are ignored).
    Prefix(IpNet),
    /// The MAC a trusted forwarder (the subscriber's CPE) names.
    Cpe([u8; 6]),
}

/// Longest profile name a row may give, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

/// A profile name the table cannot hold.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("more than {MAX_NAMES} distinct profile names")]
    TooMany,
    #[error("a profile name longer than {MAX_NAME_BYTES} bytes")]
    TooLong,
}

/// A key as stored: family, length and masked bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Slot {
    V4(u8, u32),
    V6(u8, u128),
    Cpe(u64),
}

/// Lengths above this are IPv6 prefixes kept as 128-bit keys; up to it, as their top 64 bits.
const V6_SHORT: u8 = 64;
/// The CPE family has one level: the whole key (a MAC in its low 48 bits).
const MAC_LEN: u8 = 64;

impl Slot {
    fn of(key: Key) -> Slot {
        match key {
            Key::Prefix(IpNet::V4(n)) => {
                Slot::V4(n.prefix_len(), u32::from(n.addr()).masked(n.prefix_len()))
            }
            Key::Prefix(IpNet::V6(n)) => {
                Slot::V6(n.prefix_len(), u128::from(n.addr()).masked(n.prefix_len()))
            }
            Key::Cpe(mac) => Slot::Cpe(mac_bits(mac)),
        }
    }
}

fn mac_bits(mac: [u8; 6]) -> u64 {
    mac.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

/// The rows, compactly.
#[derive(Debug, Clone, Default)]
pub struct Base {
    pub(super) v4: Family<u32>,
    pub(super) v6: Family<u64>,
    pub(super) v6_long: Family<u128>,
    pub(super) cpe: Family<u64>,
}

impl Base {
    fn get(&self, slot: Slot) -> Option<ProfileId> {
        match slot {
            Slot::V4(len, bits) => self.v4.get(len, bits),
            Slot::V6(len, bits) if len <= V6_SHORT => self.v6.get(len, (bits >> 64) as u64),
            Slot::V6(len, bits) => self.v6_long.get(len, bits),
            Slot::Cpe(bits) => self.cpe.get(MAC_LEN, bits),
        }
    }

    fn len(&self) -> usize {
        self.v4.len() + self.v6.len() + self.v6_long.len() + self.cpe.len()
    }

    /// This base with `changes` applied.
    fn merged(&self, changes: &HashMap<Slot, Option<ProfileId>>) -> Base {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let mut v6_long = Vec::new();
        let mut cpe = Vec::new();
        for (&slot, &p) in changes {
            match slot {
                Slot::V4(len, bits) => v4.push((len, bits, p)),
                Slot::V6(len, bits) if len <= V6_SHORT => v6.push((len, (bits >> 64) as u64, p)),
                Slot::V6(len, bits) => v6_long.push((len, bits, p)),
                Slot::Cpe(bits) => cpe.push((MAC_LEN, bits, p)),
            }
        }
        Base {
            v4: self.v4.merged(v4.into_iter()),
            v6: self.v6.merged(v6.into_iter()),
            v6_long: self.v6_long.merged(v6_long.into_iter()),
            cpe: self.cpe.merged(cpe.into_iter()),
        }
    }
}

/// The subscriber table: a shared base, the changes since it was built, and the profile
/// names both index.
#[derive(Debug, Clone, Default)]
pub struct Subscribers {
    base: Arc<Base>,
    overlay: HashMap<Slot, Option<ProfileId>>,
    /// Prefix lengths in the overlay, per family, so a lookup probes it only where it can hit.
    overlay_v4: Lengths,
    overlay_v6: Lengths,
    names: Arc<Names>,
    rows: usize,
}

/// The profile names rows refer to, by index, and their indexes by name.
#[derive(Debug, Clone, Default)]
pub struct Names {
    list: Vec<Box<str>>,
    index: HashMap<Box<str>, ProfileId>,
}

impl Names {
    /// The index of `name`, added if new.
    pub fn intern(&mut self, name: &str) -> Result<ProfileId, NameError> {
        if let Some(&id) = self.index.get(name) {
            return Ok(id);
        }
        if name.len() > MAX_NAME_BYTES {
            return Err(NameError::TooLong);
        }
        let id = ProfileId::try_from(self.list.len())
            .ok()
            .filter(|&id| usize::from(id) < MAX_NAMES)
            .ok_or(NameError::TooMany)?;
        self.list.push(name.into());
        self.index.insert(name.into(), id);
        Ok(id)
    }

    pub fn name(&self, id: ProfileId) -> &str {
        &self.list[usize::from(id)]
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|n| &**n)
    }
}

impl Subscribers {
    /// A table of a base and its names (a full load, or the disk snapshot).
    pub(super) fn new(base: Base, names: Names) -> Subscribers {
        Subscribers {
            rows: base.len(),
            base: Arc::new(base),
            names: Arc::new(names),
            ..Subscribers::default()
        }
    }

    /// The profile name of a client: by the MAC its CPE named, else by its address.
    pub fn profile(&self, ip: IpAddr, mac: Option<[u8; 6]>) -> Option<&str> {
        let by_mac = mac.and_then(|m| self.find(Slot::Cpe(mac_bits(m))));
        let id = by_mac.or_else(|| match ip.to_canonical() {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                let lengths = self.base.v4.lengths.union(self.overlay_v4);
                self.longest(lengths, |len| Slot::V4(len, a.masked(len)))
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                let b = &self.base;
                let lengths = b.v6.lengths.union(b.v6_long.lengths).union(self.overlay_v6);
                self.longest(lengths, |len| Slot::V6(len, a.masked(len)))
            }
        })?;
        Some(self.names.name(id))
    }

    /// The most specific of the prefixes of `lengths` that holds the address.
    fn longest(&self, lengths: Lengths, slot: impl Fn(u8) -> Slot) -> Option<ProfileId> {
        lengths.longest_first().find_map(|len| self.find(slot(len)))
    }

    /// One exact slot: the overlay's say (a change, or a removal), else the base's.
    fn find(&self, slot: Slot) -> Option<ProfileId> {
        if !self.overlay.is_empty()
            && let Some(&changed) = self.overlay.get(&slot)
        {
            return changed;
        }
        self.base.get(slot)
    }

    /// Sets (`Some`) or removes (`None`) a row. Fails only on a profile name the table
    /// cannot hold.
    pub fn set(&mut self, key: Key, profile: Option<&str>) -> Result<(), NameError> {
        let id = profile.map(|p| self.intern(p)).transpose()?;
        let slot = Slot::of(key);
        let existed = self.find(slot).is_some();
        self.rows = self.rows + usize::from(id.is_some()) - usize::from(existed);
        match slot {
            Slot::V4(len, _) => self.overlay_v4.insert(len),
            Slot::V6(len, _) => self.overlay_v6.insert(len),
            Slot::Cpe(_) => {}
        }
        self.overlay.insert(slot, id);
        Ok(())
    }

    fn intern(&mut self, name: &str) -> Result<ProfileId, NameError> {
        match self.names.index.get(name) {
            Some(&id) => Ok(id),
            None => Arc::make_mut(&mut self.names).intern(name),
        }
    }

    /// Whether the overlay is due to be merged.
    pub fn merge_due(&self) -> bool {
        self.overlay.len() >= MERGE_AT
    }

    /// The same rows with the overlay merged into a new base (linear in the rows: run it off
    /// the async threads).
    pub fn merged(&self) -> Subscribers {
        if self.overlay.is_empty() {
            return self.clone();
        }
        Subscribers::new(self.base.merged(&self.overlay), (*self.names).clone())
    }

    /// The merged base and the names (what the disk snapshot holds).
    pub(super) fn parts(&self) -> (Arc<Base>, &Names) {
        (self.merged().base, &self.names)
    }

    /// The profile names rows refer to; a full load's [`Loader::add`] gave their indexes.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Bytes of the base's arrays (the overlay is at most [`MERGE_AT`] entries).
    pub fn bytes(&self) -> usize {
        let b = &self.base;
        b.v4.bytes() + b.v6.bytes() + b.v6_long.bytes() + b.cpe.bytes()
    }
}

/// Builds a table from a full load: rows in any order, names interned as they come.
#[derive(Default)]
pub struct Loader {
    v4: Vec<Entry<u32>>,
    v6: Vec<Entry<u64>>,
    v6_long: Vec<Entry<u128>>,
    cpe: Vec<Entry<u64>>,
    names: Names,
}

impl Loader {
    /// Adds a row; returns its profile's index in [`Subscribers::names`].
    pub fn add(&mut self, key: Key, profile: &str) -> Result<ProfileId, NameError> {
        let id = self.names.intern(profile)?;
        match Slot::of(key) {
            Slot::V4(len, bits) => self.v4.push((len, bits, Some(id))),
            Slot::V6(len, bits) if len <= V6_SHORT => {
                self.v6.push((len, (bits >> 64) as u64, Some(id)))
            }
            Slot::V6(len, bits) => self.v6_long.push((len, bits, Some(id))),
            Slot::Cpe(bits) => self.cpe.push((MAC_LEN, bits, Some(id))),
        }
        Ok(id)
    }

    pub fn finish(self) -> Subscribers {
        let base = Base {
            v4: Family::from_entries(self.v4),
            v6: Family::from_entries(self.v6),
            v6_long: Family::from_entries(self.v6_long),
            cpe: Family::from_entries(self.cpe),
        };
        Subscribers::new(base, self.names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(s: &str) -> Key {
        Key::Prefix(s.parse().unwrap())
    }

    fn table() -> Subscribers {
        let mut l = Loader::default();
        l.add(prefix("10.0.0.0/8"), "family").unwrap();
        l.add(prefix("10.1.2.0/24"), "kids").unwrap();
        l.add(prefix("10.1.2.77/32"), "teen").unwrap();
        l.add(prefix("2001:db8:1::/48"), "family").unwrap();
        l.add(prefix("2001:db8:1:2::/64"), "kids").unwrap();
        l.add(prefix("2001:db8:1:2::5/128"), "teen").unwrap();
        l.add(Key::Cpe([2, 0, 0, 0, 0, 1]), "teen").unwrap();
        l.finish()
    }

    fn at<'t>(t: &'t Subscribers, ip: &str) -> Option<&'t str> {
        t.profile(ip.parse().unwrap(), None)
    }

    #[test]
    fn longest_prefix_wins_in_both_families() {
        let t = table();
        assert_eq!(t.len(), 7);
        assert_eq!(at(&t, "10.9.9.9"), Some("family"));
        assert_eq!(at(&t, "10.1.2.3"), Some("kids"));
        assert_eq!(at(&t, "::ffff:10.1.2.77"), Some("teen"));
        assert_eq!(at(&t, "11.0.0.1"), None);
        assert_eq!(at(&t, "2001:db8:1:9::1"), Some("family"));
        assert_eq!(at(&t, "2001:db8:1:2::1"), Some("kids"));
        assert_eq!(at(&t, "2001:db8:1:2::5"), Some("teen"));
        assert_eq!(at(&t, "2001:db8:2::1"), None);
        // The CPE's MAC comes before the address.
        let mac = Some([2, 0, 0, 0, 0, 1]);
        assert_eq!(t.profile("11.0.0.1".parse().unwrap(), mac), Some("teen"));
    }

    #[test]
    fn changes_apply_before_and_after_a_merge() {
        let mut t = table();
        t.set(prefix("10.1.2.0/24"), Some("teen")).unwrap();
        t.set(prefix("10.1.2.77/32"), None).unwrap();
        t.set(prefix("2001:db8:1:2::/64"), None).unwrap();
        t.set(prefix("192.0.2.0/24"), Some("new")).unwrap();
        t.set(prefix("2001:db8:1:2:3::/80"), Some("kids")).unwrap();
        for t in [t.clone(), t.merged()] {
            assert_eq!(t.len(), 7);
            assert_eq!(at(&t, "10.1.2.77"), Some("teen"));
            assert_eq!(at(&t, "2001:db8:1:2::1"), Some("family"));
            assert_eq!(at(&t, "2001:db8:1:2:3::1"), Some("kids"));
            assert_eq!(at(&t, "192.0.2.1"), Some("new"));
        }
        assert!(t.merged().overlay.is_empty());
    }

    #[test]
    fn names_are_bounded() {
        let mut t = Subscribers::default();
        for i in 0..MAX_NAMES {
            t.set(prefix("10.0.0.0/8"), Some(&i.to_string())).unwrap();
        }
        assert_eq!(
            t.set(prefix("10.0.0.0/8"), Some("one too many")),
            Err(NameError::TooMany)
        );
        let long = "x".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(
            Subscribers::default().set(prefix("10.0.0.0/8"), Some(&long)),
            Err(NameError::TooLong)
        );
    }
}
