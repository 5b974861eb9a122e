//! Domain-name normalisation and the suffix fingerprints every matcher shares.
//!
//! Names are compared lowercased, without the trailing dot, in ASCII (punycode) form
//! (DESIGN.md, "Matching semantics"). Lists are normalised once at load; a query name is
//! lowercased once, when its [`QueryName`] is built, and the hot path then only hashes bytes.
//! Wire names keep the client's letter case (hickory's `Name` copies bytes as they arrive),
//! so nothing may hash a wire name directly.

mod query;

pub use query::QueryName;

/// Longest name allowed in presentation form without the trailing dot (RFC 1035).
const MAX_NAME_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

/// Why a token is not a usable domain name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NameError {
    Empty,
    TooLong,
    EmptyLabel,
    LabelTooLong,
    BadCharacter,
    Idna,
}

impl NameError {
    pub fn as_str(self) -> &'static str {
        match self {
            NameError::Empty => "empty name",
            NameError::TooLong => "name longer than 253 bytes",
            NameError::EmptyLabel => "empty label",
            NameError::LabelTooLong => "label longer than 63 bytes",
            NameError::BadCharacter => "character not allowed in a domain name",
            NameError::Idna => "invalid internationalised name",
        }
    }
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Normalises a name: ASCII-lowercase, no trailing dot, IDN converted to punycode.
///
/// Underscores are accepted because real lists carry them (`_dmarc`, tracking hosts) and DNS
/// itself allows any byte in a label.
pub fn normalize(input: &str) -> Result<String, NameError> {
    let trimmed = input.strip_suffix('.').unwrap_or(input);
    if trimmed.is_empty() {
        return Err(NameError::Empty);
    }
    let ascii = if trimmed.is_ascii() {
        trimmed.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(trimmed).map_err(|_| NameError::Idna)?
    };
    validate(&ascii)?;
    Ok(ascii)
}

fn validate(name: &str) -> Result<(), NameError> {
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong);
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(NameError::BadCharacter);
        }
    }
    Ok(())
}

/// Incremental hash of a name read right to left, one label at a time.
///
/// The state after each label is the fingerprint of that suffix, so one pass over a query
/// name yields the fingerprints of all of its parent domains: the suffix walk costs one
/// hash of the name, not one per parent. Labels are read eight bytes at a time. Input must
/// already be lowercase: query names come through [`QueryName`], list names through
/// [`normalize`].
#[derive(Clone, Copy)]
pub struct SuffixHasher(u64);

const SEED: u64 = 0x243f_6a88_85a3_08d3;
const K1: u64 = 0x9e37_79b9_7f4a_7c15;
const K2: u64 = 0xc2b2_ae3d_27d4_eb4f;

impl SuffixHasher {
    pub fn new() -> Self {
        SuffixHasher(SEED)
    }

    /// Feeds the next label to the left; returns the fingerprint of the suffix so far.
    #[inline]
    pub fn push_label(&mut self, label: &[u8]) -> u64 {
        let mut h = (label.len() as u64).wrapping_mul(K1);
        let mut chunks = label.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("8-byte chunk"));
            h = (h ^ word).wrapping_mul(K1).rotate_left(29);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            h = (h ^ u64::from_le_bytes(buf))
                .wrapping_mul(K1)
                .rotate_left(29);
        }
        self.0 = (self.0.rotate_left(23) ^ h).wrapping_mul(K2);
        finish(self.0)
    }
}

impl Default for SuffixHasher {
    fn default() -> Self {
        Self::new()
    }
}

/// Bits of a fingerprint left zero, so that a rule packs its list and kind beside it in
/// one `u64` while lists compile (see `filter::MatcherBuilder`).
pub const FINGERPRINT_FREE_BITS: u32 = 8;

/// Final mix, so that the high bits (table slot) and low bits (tag) are independent; the
/// lowest [`FINGERPRINT_FREE_BITS`] are cleared.
#[inline]
fn finish(h: u64) -> u64 {
    let h = (h ^ (h >> 32)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    (h ^ (h >> 29)) & !((1 << FINGERPRINT_FREE_BITS) - 1)
}

/// The labels of a dotted name, right to left, found with a byte scan (cheaper than
/// `str::rsplit`, whose char searcher dominated the lookup profile).
fn labels_right_to_left(name: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut end = name.len();
    let mut done = name.is_empty();
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let start = name[..end]
            .iter()
            .rposition(|&b| b == b'.')
            .map_or(0, |i| i + 1);
        let label = &name[start..end];
        if start == 0 {
            done = true;
        } else {
            end = start - 1;
        }
        Some(label)
    })
}

/// Fingerprint of a normalised name (as its own suffix).
pub fn fingerprint(name: &str) -> u64 {
    let mut hasher = SuffixHasher::new();
    let mut h = 0;
    for label in labels_right_to_left(name.as_bytes()) {
        h = hasher.push_label(label);
    }
    h
}

/// Suffix fingerprints kept inline per query; deeper names (real lists have a 53-label
/// `www.www.….facebook.com`) spill to the heap.
const INLINE_LABELS: usize = 32;

/// The fingerprints of every suffix of one query name, shortest (the TLD) first.
///
/// Computed once per query and shared by every matcher the query meets (the profile's own
/// names, then the lists).
pub struct SuffixFingerprints {
    inline: [u64; INLINE_LABELS],
    len: usize,
    /// All fingerprints, when the name has more labels than fit inline.
    spill: Vec<u64>,
}

impl SuffixFingerprints {
    /// From labels given right to left (TLD first).
    #[inline(always)]
    pub(crate) fn from_labels_rev<'a>(labels: impl Iterator<Item = &'a [u8]>) -> Self {
        let mut inline = [0u64; INLINE_LABELS];
        let mut spill = Vec::new();
        let mut hasher = SuffixHasher::new();
        let mut len = 0;
        for label in labels {
            let fp = hasher.push_label(label);
            if len < INLINE_LABELS {
                inline[len] = fp;
            } else {
                if spill.is_empty() {
                    spill.extend_from_slice(&inline);
                }
                spill.push(fp);
            }
            len += 1;
        }
        SuffixFingerprints { inline, len, spill }
    }

    /// From a name in presentation form (any case, optional trailing dot).
    pub fn from_name(name: &str) -> Self {
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            Self::from_labels_rev(labels_right_to_left(name.to_ascii_lowercase().as_bytes()))
        } else {
            Self::from_labels_rev(labels_right_to_left(name.as_bytes()))
        }
    }

    #[inline]
    pub fn as_slice(&self) -> &[u64] {
        if self.len > INLINE_LABELS {
            &self.spill
        } else {
            &self.inline[..self.len]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_dot_and_idn() {
        assert_eq!(normalize("WWW.Example.COM.").unwrap(), "www.example.com");
        assert_eq!(normalize("яндекс.рф").unwrap(), "xn--d1acpjx3f.xn--p1ai");
        assert_eq!(normalize("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(normalize("a b.com"), Err(NameError::BadCharacter));
        assert_eq!(
            normalize("_dmarc.example.com").unwrap(),
            "_dmarc.example.com"
        );
    }

    #[test]
    fn suffix_fingerprints_match_whole_name_fingerprints() {
        let name = "a.b.example.com";
        let fps = SuffixFingerprints::from_name(name);
        let out = fps.as_slice();
        assert_eq!(out.len(), 4);
        assert_eq!(out[0], fingerprint("com"));
        assert_eq!(out[1], fingerprint("example.com"));
        assert_eq!(out[3], fingerprint("a.b.example.com"));
        // Case-insensitive on the wire side.
        let upper = SuffixFingerprints::from_name("A.B.Example.COM.");
        assert_eq!(out, upper.as_slice());
        let deep = format!("{}lite.facebook.com", "www.".repeat(50));
        let fps = SuffixFingerprints::from_name(&deep);
        assert_eq!(fps.as_slice().len(), 53);
        assert_eq!(fps.as_slice()[52], fingerprint(&deep));
    }
}
