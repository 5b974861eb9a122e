//! The compiled matcher agrees with a plain reference: a `HashSet<String>` per rule kind and
//! a suffix walk, on random rules in up to 200 lists and random names.

use std::collections::HashSet;

use familydns::filter::MatcherBuilder;
use familydns::lists::RuleKind;
use proptest::prelude::*;

/// Labels from a tiny alphabet, so that random rules and names share suffixes often.
fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "ab", "com", "x-y", "_q"]),
        1..5,
    )
    .prop_map(|labels| labels.join("."))
}

fn kind() -> impl Strategy<Value = RuleKind> {
    prop::sample::select(vec![
        RuleKind::Block,
        RuleKind::BlockSubdomains,
        RuleKind::Allow,
    ])
}

/// Reference semantics: an exception anywhere on the suffix path wins; otherwise a `Block`
/// rule on any suffix, or a `BlockSubdomains` rule on a proper suffix, blocks.
/// Lists fall into four categories: list `l` is category `l % 4`.
fn category(list: u16) -> u8 {
    (list % 4) as u8
}

fn reference(rules: &[(u16, RuleKind, String)], active: u64, query: &str) -> Option<RuleKind> {
    let set = |k: RuleKind| -> HashSet<&str> {
        rules
            .iter()
            .filter(|(l, rk, _)| *rk == k && active & (1 << category(*l)) != 0)
            .map(|(_, _, n)| n.as_str())
            .collect()
    };
    let (block, sub, allow) = (
        set(RuleKind::Block),
        set(RuleKind::BlockSubdomains),
        set(RuleKind::Allow),
    );
    let labels: Vec<&str> = query.split('.').collect();
    let suffixes: Vec<String> = (0..labels.len()).map(|i| labels[i..].join(".")).collect();
    if suffixes.iter().any(|s| allow.contains(s.as_str())) {
        return Some(RuleKind::Allow);
    }
    let blocked = suffixes
        .iter()
        .enumerate()
        .any(|(i, s)| block.contains(s.as_str()) || (i > 0 && sub.contains(s.as_str())));
    blocked.then_some(RuleKind::Block)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn matcher_agrees_with_reference(
        rules in prop::collection::vec((0u16..200, kind(), name()), 0..40),
        queries in prop::collection::vec(name(), 1..30),
        active in 0u64..16,
    ) {
        let mut b = MatcherBuilder::default();
        for (list, kind, n) in &rules {
            b.add(*list, *kind, n);
        }
        let categories: Vec<u8> = (0..200).map(category).collect();
        let m = b.build_with_categories(&categories);
        for q in &queries {
            let got = m.lookup(q, active).map(|h| match h.kind {
                RuleKind::Allow => RuleKind::Allow,
                _ => RuleKind::Block,
            });
            prop_assert_eq!(got, reference(&rules, active, q), "query {}", q);
        }
    }
}
