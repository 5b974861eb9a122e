//! Name sets with the suffix semantics of a domains list: a listed name blocks itself and
//! every subdomain.

use std::collections::HashSet;

use familydns::filter::classifier::registrable;

/// Whether `name` or one of its parent names is in `set`.
pub fn covered(set: &HashSet<String>, name: &str) -> bool {
    let mut rest = name;
    loop {
        if set.contains(rest) {
            return true;
        }
        match rest.find('.') {
            Some(i) => rest = &rest[i + 1..],
            None => return false,
        }
    }
}

/// Whether a proper parent of `name` (not `name` itself) is in `set`.
fn parent_covered(set: &HashSet<String>, name: &str) -> bool {
    name.find('.').is_some_and(|i| covered(set, &name[i + 1..]))
}

/// The names of `set` that no other name of `set` already covers, sorted: the same blocks
/// in fewer lines.
pub fn minimise(set: &HashSet<String>) -> Vec<String> {
    let mut out: Vec<String> = set
        .iter()
        .filter(|n| !parent_covered(set, n))
        .cloned()
        .collect();
    out.sort_unstable();
    out
}

/// The registrable domains (`label.suffix`) of `names`, each once, sorted so that training
/// is reproducible.
pub fn registrables<'a>(names: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut set: Vec<String> = names
        .into_iter()
        .map(|n| {
            let (label, suffix) = registrable(n);
            if suffix.is_empty() {
                label.to_owned()
            } else {
                format!("{label}.{suffix}")
            }
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    set.sort_unstable();
    set
}

/// FNV-1a of a name: a stable split of the ranking into training and validation names.
pub fn stable_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
