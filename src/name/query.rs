//! The one name type every decision takes.
//!
//! A client spells a query name as it likes: `WWW.PornHub.COM`, or a 0x20-randomising
//! forwarder's `wWw.pORnhUb.cOm` (Unbound `use-caps-for-id`). Lists hold lowercase names,
//! so a decision on the client's spelling would miss every rule. [`QueryName`] can only be
//! built by lowercasing, and the policy accepts nothing else, so no path (lists, profile
//! allow/deny, safe search, canaries, timed allows, CNAME targets, `familydns check`) can
//! see a name in the client's case. Answers still echo the client's own question, which
//! the listener copies from the request.

use super::{NameError, SuffixFingerprints, normalize};

/// Longest presentation form of a wire name: 255 wire bytes less the root and first length.
const MAX_TEXT: usize = 253;
/// Most labels a wire name can have (one byte of length and one of data each).
const MAX_LABELS: usize = 127;

/// A query name as decisions see it: ASCII-lowercase, no trailing dot, with the
/// fingerprints of all of its suffixes computed once.
pub struct QueryName {
    text: [u8; MAX_TEXT],
    len: usize,
    fingerprints: SuffixFingerprints,
}

impl QueryName {
    /// From wire labels, left to right (hickory's `Name::iter()`), in any letter case.
    ///
    /// A byte that cannot occur in a list rule (a dot inside a label, a control or non-ASCII
    /// byte) becomes `?`: such a name can never match a rule, and its text stays ASCII.
    /// Inlined so that the value (half a kilobyte) is built where it is used, not copied.
    #[inline]
    pub fn from_labels<'a>(labels: impl Iterator<Item = &'a [u8]>) -> QueryName {
        let mut text = [0u8; MAX_TEXT];
        let mut len = 0;
        // Where each label starts: the wire already split the name, so hashing it right to
        // left needs no second scan for dots.
        let mut starts = [0u8; MAX_LABELS];
        let mut count = 0;
        for label in labels {
            if len != 0 {
                if len == MAX_TEXT {
                    break;
                }
                text[len] = b'.';
                len += 1;
            }
            if count == MAX_LABELS {
                break;
            }
            starts[count] = len as u8;
            count += 1;
            let take = label.len().min(MAX_TEXT - len);
            let dst = &mut text[len..len + take];
            // Whole-slice copy and case fold, which the compiler vectorises.
            dst.copy_from_slice(&label[..take]);
            dst.make_ascii_lowercase();
            let odd = |b: &u8| *b == b'.' || !b.is_ascii_graphic();
            if dst.iter().any(odd) {
                dst.iter_mut().filter(|b| odd(b)).for_each(|b| *b = b'?');
            }
            len += take;
        }
        let labels = (0..count).rev().map(|i| {
            let end = if i + 1 < count {
                usize::from(starts[i + 1]) - 1
            } else {
                len
            };
            &text[usize::from(starts[i])..end]
        });
        let fingerprints = SuffixFingerprints::from_labels_rev(labels);
        QueryName {
            text,
            len,
            fingerprints,
        }
    }

    /// From a wire name.
    #[inline]
    pub fn from_wire(name: &hickory_proto::rr::Name) -> QueryName {
        Self::from_labels(name.iter())
    }

    /// From a name typed by a person (`familydns check`, an admin request): any case, an
    /// optional trailing dot, IDN converted to punycode.
    pub fn parse(name: &str) -> Result<QueryName, NameError> {
        let normal = normalize(name)?;
        Ok(Self::from_labels(normal.split('.').map(str::as_bytes)))
    }

    /// The lowercase name without the trailing dot.
    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever written (see `from_labels`).
        std::str::from_utf8(&self.text[..self.len]).expect("ASCII by construction")
    }

    /// The fingerprints of every suffix, shortest (the TLD) first.
    #[inline]
    pub fn fingerprints(&self) -> &SuffixFingerprints {
        &self.fingerprints
    }

    /// The fingerprint of the whole name (exact-name tables: safe search, canaries).
    #[inline]
    pub fn whole(&self) -> u64 {
        self.fingerprints.as_slice().last().copied().unwrap_or(0)
    }

    /// The rightmost `labels` labels: the part of the name a suffix rule matched.
    pub fn suffix(&self, labels: usize) -> &str {
        let text = self.as_str();
        let mut start = text.len();
        for _ in 0..labels {
            match text[..start].rfind('.') {
                Some(dot) if start > 0 => start = dot,
                _ => return text,
            }
        }
        &text[start + 1..]
    }
}

impl std::fmt::Display for QueryName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for QueryName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QueryName({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::fingerprint;

    fn wire(name: &str) -> QueryName {
        QueryName::from_wire(&hickory_proto::rr::Name::from_ascii(name).unwrap())
    }

    #[test]
    fn every_spelling_is_one_name() {
        let lower = wire("www.pornhub.com.");
        for spelling in ["WWW.PORNHUB.COM.", "wWw.PoRnHuB.cOm.", "www.pornhub.com"] {
            let q = wire(spelling);
            assert_eq!(q.as_str(), "www.pornhub.com");
            assert_eq!(q.fingerprints().as_slice(), lower.fingerprints().as_slice());
        }
        assert_eq!(lower.whole(), fingerprint("www.pornhub.com"));
        let typed = QueryName::parse("WWW.PornHub.Com.").unwrap();
        assert_eq!(
            typed.fingerprints().as_slice(),
            lower.fingerprints().as_slice()
        );
    }

    #[test]
    fn odd_bytes_never_match_a_rule() {
        let name = hickory_proto::rr::Name::from_labels(vec![
            b"a.b".to_vec(),
            b"x\xffy".to_vec(),
            b"COM".to_vec(),
        ])
        .unwrap();
        let q = QueryName::from_wire(&name);
        assert_eq!(q.as_str(), "a?b.x?y.com");
        assert_eq!(q.fingerprints().as_slice().len(), 3);
    }

    #[test]
    fn suffixes() {
        let q = wire("a.b.example.com.");
        assert_eq!(q.suffix(2), "example.com");
        assert_eq!(q.suffix(4), "a.b.example.com");
        assert_eq!(q.suffix(9), "a.b.example.com");
        assert_eq!(wire(".").as_str(), "");
    }
}
