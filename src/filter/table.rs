//! An open-addressing table from 64-bit name fingerprints to small values, packed into one
//! `u64` per slot.
//!
//! A slot holds 44 bits of the fingerprint (its low bits, of which the lowest 8 are always
//! zero: 36 bits of tag; the slot position comes from the high bits, so the two are
//! independent) and a 20-bit value (an interned set of lists: real configs have a few
//! hundred distinct ones, the limit is a million). At a load factor of 2/3 that is
//! 12 bytes per distinct name, against 40–90 for a `HashMap<String, _>`, and a probe touches
//! one cache line. Slots are found by multiply-shift ("fastrange"), so the capacity need not
//! be a power of two. A false match needs a query name to agree with a rule name on the 36
//! tag bits within its probe run: about one query in 3·10^9.

/// Fraction of slots in use after a build.
const LOAD_NUM: usize = 2;
const LOAD_DEN: usize = 3;
const VALUE_BITS: u32 = 20;
/// Largest value a slot can hold.
pub const MAX_VALUE: u32 = (1 << VALUE_BITS) - 1;

#[derive(Debug, Default)]
pub struct FingerprintTable {
    /// 0 marks an empty slot (tags always have their lowest bit set).
    slots: Box<[u64]>,
}

#[inline]
fn tag(fp: u64) -> u64 {
    (fp | 1) << VALUE_BITS
}

const TAG_MASK: u64 = !0 << VALUE_BITS;

impl FingerprintTable {
    /// An empty table sized for `entries` distinct keys at the target load.
    pub fn with_capacity(entries: usize) -> Self {
        let capacity = (entries * LOAD_DEN / LOAD_NUM).max(entries + 1);
        FingerprintTable {
            slots: vec![0u64; capacity].into_boxed_slice(),
        }
    }

    /// Inserts a key not yet present; values must fit 20 bits. The table must have been
    /// sized for every key it will hold.
    pub fn insert(&mut self, key: u64, value: u32) {
        assert!(value <= MAX_VALUE, "table values are 20 bits");
        let capacity = self.slots.len();
        let mut slot = home(key, capacity);
        while self.slots[slot] != 0 {
            slot = if slot + 1 == capacity { 0 } else { slot + 1 };
        }
        self.slots[slot] = tag(key) | u64::from(value);
    }

    /// Builds a table from distinct `(fingerprint, value)` pairs.
    #[cfg(test)]
    pub fn build(entries: &[(u64, u32)]) -> Self {
        let mut table = Self::with_capacity(entries.len());
        for &(key, value) in entries {
            table.insert(key, value);
        }
        table
    }

    /// Hints the CPU to load the slot `key` starts at, so that several probes of one query
    /// name wait for memory together instead of one after another.
    #[inline]
    pub fn prefetch(&self, key: u64) {
        if self.slots.is_empty() {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        {
            let ptr = self.slots[home(key, self.slots.len())..].as_ptr();
            // SAFETY: prefetching is a hint with no memory effects; the pointer is in bounds.
            unsafe {
                std::arch::x86_64::_mm_prefetch(ptr.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0)
            };
        }
    }

    #[inline]
    pub fn get(&self, key: u64) -> Option<u32> {
        let capacity = self.slots.len();
        if capacity == 0 {
            return None;
        }
        let want = tag(key);
        let mut slot = home(key, capacity);
        loop {
            let s = self.slots[slot];
            if s & TAG_MASK == want {
                return Some((s & u64::from(MAX_VALUE)) as u32);
            }
            if s == 0 {
                return None;
            }
            slot = if slot + 1 == capacity { 0 } else { slot + 1 };
        }
    }

    pub fn len(&self) -> usize {
        self.slots.iter().filter(|&&s| s != 0).count()
    }

    /// Heap bytes held by the table.
    pub fn heap_bytes(&self) -> usize {
        self.slots.len() * size_of::<u64>()
    }
}

#[inline]
fn home(key: u64, capacity: usize) -> usize {
    ((u128::from(key) * capacity as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_was_inserted_and_nothing_else() {
        let entries: Vec<(u64, u32)> = (1..=1000u64)
            .map(|k| (k.wrapping_mul(0x9e37_79b9_7f4a_7c15), k as u32))
            .collect();
        let t = FingerprintTable::build(&entries);
        for &(k, v) in &entries {
            assert_eq!(t.get(k), Some(v));
        }
        assert_eq!(t.get(2), None);
        assert_eq!(t.len(), 1000);
        assert_eq!(FingerprintTable::default().get(5), None);
    }
}
