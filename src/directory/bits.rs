//! The keys of the subscriber table: addresses as unsigned integers, most significant bit
//! first, so that a prefix is a masked integer and a sorted array of them is searchable.

/// Bits of a key that index a level's buckets (see `family::Level`).
pub const INDEX_BITS: u8 = 16;

/// An address (or the top half of one) as an integer of `WIDTH` bits.
pub trait Bits: Copy + Ord + Send + Sync + 'static {
    const WIDTH: u8;
    const BYTES: usize;
    /// The first `len` bits, the rest zero.
    fn masked(self, len: u8) -> Self;
    /// The `INDEX_BITS` bits after the first `skip` (`skip + INDEX_BITS <= WIDTH`).
    fn bucket(self, skip: u8) -> usize;
    fn put(self, out: &mut Vec<u8>);
    /// Reads one key from exactly `BYTES` bytes.
    fn get(bytes: &[u8]) -> Self;
}

macro_rules! bits {
    ($t:ty) => {
        impl Bits for $t {
            const WIDTH: u8 = <$t>::BITS as u8;
            const BYTES: usize = std::mem::size_of::<$t>();
            fn masked(self, len: u8) -> Self {
                match len {
                    0 => 0,
                    l if l >= Self::WIDTH => self,
                    l => self & (<$t>::MAX << (Self::WIDTH - l)),
                }
            }
            fn bucket(self, skip: u8) -> usize {
                ((self << skip) >> (Self::WIDTH - INDEX_BITS)) as usize
            }
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("BYTES bytes"))
            }
        }
    };
}

bits!(u32);
bits!(u64);
bits!(u128);

/// A set of prefix lengths 0..=128, walked longest first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lengths([u64; 3]);

impl Lengths {
    pub fn insert(&mut self, len: u8) {
        self.0[usize::from(len / 64)] |= 1 << (len % 64);
    }

    pub fn contains(&self, len: u8) -> bool {
        self.0[usize::from(len / 64)] & (1 << (len % 64)) != 0
    }

    pub fn union(self, other: Lengths) -> Lengths {
        Lengths([
            self.0[0] | other.0[0],
            self.0[1] | other.0[1],
            self.0[2] | other.0[2],
        ])
    }

    /// The lengths, longest first.
    pub fn longest_first(self) -> impl Iterator<Item = u8> {
        (0..3u8).rev().flat_map(move |word| {
            let mut bits = self.0[usize::from(word)];
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let top = 63 - bits.leading_zeros() as u8;
                bits &= !(1 << top);
                Some(word * 64 + top)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_the_first_bits() {
        assert_eq!(0xc0a8_0117u32.masked(24), 0xc0a8_0100);
        assert_eq!(0xc0a8_0117u32.masked(0), 0);
        assert_eq!(0xc0a8_0117u32.masked(32), 0xc0a8_0117);
        assert_eq!(u128::MAX.masked(1), 1 << 127);
    }

    #[test]
    fn lengths_walk_longest_first() {
        let mut l = Lengths::default();
        for len in [0, 24, 128, 64, 63, 32] {
            l.insert(len);
        }
        assert!(l.contains(64) && !l.contains(65));
        let walked: Vec<u8> = l.longest_first().collect();
        assert_eq!(walked, [128, 64, 63, 32, 24, 0]);
    }
}
