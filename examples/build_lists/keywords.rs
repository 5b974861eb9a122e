//! Keyword rules chosen from data. A candidate is a prefix (4 to 10 characters) of a
//! label or hyphen part of the category's registrable labels, as familydns matches keywords.
//! It is kept only if it matches no clean ranking name (see [`choose`] for the stricter
//! rule), rarely starts a name of unrelated lists, and enough distinct sites carry it that
//! it is a word of the category rather than one site's name. Tokens are then taken greedily
//! by how many still-uncovered sites they add.

use std::collections::HashMap;

use aho_corasick::AhoCorasick;

use familydns::filter::classifier::registrable;
use familydns::filter::{PatternBuilder, PatternRules};
use familydns::lists::RuleKind;

const MIN_LEN: usize = 4;
const MAX_LEN: usize = 10;
/// Distinct registrable labels a token must start a part of, to be a candidate and, when
/// picked, to add.
pub const MIN_SUPPORT: usize = 25;
const MIN_GAIN: usize = 10;
/// Words that name who people are or their health, not content: the lists still block the
/// adult sites that use them, but a keyword would also block news, support and education
/// sites that the ranking is too small to show (`gay` would block `gaytimes.co.uk`).
const NEVER: &[&str] = &[
    "gay", "lesb", "queer", "trans", "bisex", "sexual", "sexed", "health",
];
/// Positive sites a token must start a part of per negative label it starts a part of.
const MIN_PRECISION_RATIO: usize = 20;

/// The part starts of `text` (start and after `-` / `.`) and each prefix there, of allowed
/// lengths, not crossing a dot.
fn part_prefixes<'a>(text: &'a str, mut f: impl FnMut(&'a str)) {
    let bytes = text.as_bytes();
    for start in 0..bytes.len() {
        if start > 0 && !matches!(bytes[start - 1], b'.' | b'-') {
            continue;
        }
        let end = text[start..].find('.').map_or(text.len(), |i| start + i);
        for len in MIN_LEN..=MAX_LEN.min(end - start) {
            f(&text[start..start + len]);
        }
    }
}

/// Tokens for the category whose names are `positives`. `clean` are popular names no
/// harmful list names (full query names); `negatives` are names of lists of other, unrelated
/// categories.
///
/// A candidate is dropped when it, or a shorter candidate it extends, starts a part of a
/// clean name: the ranking shows that stem in ordinary use (`casino` in a game site), and its
/// extensions (`casinoa`, `casinob`, …) would only dodge that one name. It is also dropped
/// when the negatives' labels start a part with it more than once per
/// [`MIN_PRECISION_RATIO`] positive sites, and when it begins with a word of [`NEVER`].
pub fn choose<'a>(
    positives: impl IntoIterator<Item = &'a String>,
    clean: impl IntoIterator<Item = &'a String>,
    negatives: impl IntoIterator<Item = &'a String>,
) -> Vec<String> {
    let labels = distinct_labels(positives);
    let mut support: HashMap<&str, Vec<u32>> = HashMap::new();
    for (i, label) in labels.iter().enumerate() {
        part_prefixes(label, |t| {
            let ids = support.entry(t).or_default();
            if ids.last() != Some(&(i as u32)) {
                ids.push(i as u32);
            }
        });
    }
    support.retain(|_, ids| ids.len() >= MIN_SUPPORT);
    // Every candidate and its prefixes, so that a banned stem is known even when it is not a
    // candidate itself.
    let mut stems: Vec<&str> = support
        .keys()
        .flat_map(|t| (MIN_LEN..=t.len()).map(move |n| &t[..n]))
        .collect();
    stems.sort_unstable();
    stems.dedup();
    let ac = AhoCorasick::new(&stems).expect("ASCII stems");
    let mut banned = vec![false; stems.len()];
    for name in clean {
        for m in ac.find_overlapping_iter(name.as_str()) {
            if starts_part(name, m.start()) {
                banned[m.pattern().as_usize()] = true;
            }
        }
    }
    let mut negative_hits = vec![0usize; stems.len()];
    for label in distinct_labels(negatives) {
        for m in ac.find_overlapping_iter(label) {
            if starts_part(label, m.start()) {
                negative_hits[m.pattern().as_usize()] += 1;
            }
        }
    }
    let index = |t: &str| stems.binary_search(&t).expect("every prefix is a stem");
    let mut candidates: Vec<(&str, Vec<u32>)> = support
        .into_iter()
        .filter(|(t, ids)| {
            let i = index(t);
            negative_hits[i] * MIN_PRECISION_RATIO <= ids.len()
                && (MIN_LEN..=t.len()).all(|n| !banned[index(&t[..n])])
                && !NEVER.iter().any(|w| t.starts_with(w))
        })
        .collect();
    // Most sites first; shorter (more general) first among equals; then by text, so the
    // result does not depend on hash order.
    candidates.sort_by(|a, b| (b.1.len(), a.0.len(), a.0).cmp(&(a.1.len(), b.0.len(), b.0)));
    let mut covered = vec![false; labels.len()];
    let mut chosen = Vec::new();
    for (token, ids) in candidates {
        let gain = ids.iter().filter(|&&i| !covered[i as usize]).count();
        if gain >= MIN_GAIN {
            ids.iter().for_each(|&i| covered[i as usize] = true);
            chosen.push(token.to_owned());
        }
    }
    chosen.sort_unstable();
    chosen
}

/// Whether a match at `start` begins a label or hyphen part, as familydns requires.
fn starts_part(text: &str, start: usize) -> bool {
    start == 0 || matches!(text.as_bytes()[start - 1], b'.' | b'-')
}

/// The registrable labels of `names`, each once, sorted.
fn distinct_labels<'a>(names: impl IntoIterator<Item = &'a String>) -> Vec<&'a str> {
    let mut labels: Vec<&str> = names.into_iter().map(|n| registrable(n).0).collect();
    labels.sort_unstable();
    labels.dedup();
    labels
}

/// Compiles `tokens` with familydns's own keyword matcher, so the evaluation matches as the
/// server does.
pub fn compile(tokens: &[String]) -> PatternRules {
    let mut builder = PatternBuilder::default();
    for (line, token) in tokens.iter().enumerate() {
        builder.add(0, 0, RuleKind::Keyword, token.clone(), line as u32 + 1);
    }
    builder.build().0
}
