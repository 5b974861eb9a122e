//! The matcher's suffix, wildcard and exception semantics, and its exhaustive walk.

use super::*;

fn matcher(rules: &[(u16, RuleKind, &str)]) -> DomainMatcher {
    let mut b = MatcherBuilder::default();
    for &(l, k, n) in rules {
        b.add(l, k, n);
    }
    b.build()
}

#[test]
fn suffix_wildcard_and_exception_semantics() {
    let m = matcher(&[
        (0, RuleKind::Block, "ads.com"),
        (1, RuleKind::BlockSubdomains, "wild.com"),
        (1, RuleKind::Allow, "ok.ads.com"),
        (2, RuleKind::Block, "deep.ads.com"),
    ]);
    let all = u64::MAX;
    assert_eq!(m.lookup("ads.com", all).unwrap().kind, RuleKind::Block);
    assert_eq!(m.lookup("X.Ads.Com.", all).unwrap().labels, 2);
    assert!(m.lookup("notads.com", all).is_none());
    assert!(m.lookup("wild.com", all).is_none());
    assert_eq!(
        m.lookup("a.wild.com", all).unwrap().kind,
        RuleKind::BlockSubdomains
    );
    assert_eq!(m.lookup("x.ok.ads.com", all).unwrap().kind, RuleKind::Allow);
    // The exception only counts when its list is active.
    assert_eq!(m.lookup("x.ok.ads.com", 0b1).unwrap().kind, RuleKind::Block);
    // The most specific block is reported.
    let hit = m.lookup("a.deep.ads.com", 0b101).unwrap();
    assert_eq!((hit.list, hit.labels), (2, 3));
    assert!(m.lookup("ads.com", 0b110).is_none());
}

#[test]
fn thousands_of_lists_share_categories() {
    // 2,000 lists in 3 categories; one name in many lists of different categories.
    let mut b = MatcherBuilder::default();
    for list in 0..2000u16 {
        b.add(list, RuleKind::Block, &format!("only{list}.example"));
        if list % 500 == 7 {
            b.add(list, RuleKind::Block, "shared.example");
        }
    }
    b.add(1999, RuleKind::Allow, "ok.shared.example");
    let category_of: Vec<u8> = (0..2000).map(|l| (l % 3) as u8).collect();
    let m = b.build_with_categories(&category_of);
    assert_eq!(m.len(), 2002);
    // `shared` is in lists 7 (cat 1), 507 (cat 0), 1007 (cat 2), 1507 (cat 1).
    assert_eq!(m.lookup("shared.example", 0b001).unwrap().list, 507);
    assert_eq!(m.lookup("shared.example", 0b010).unwrap().list, 7);
    assert_eq!(m.lookup("shared.example", 0b100).unwrap().list, 1007);
    assert_eq!(m.lookup("only1998.example", 0b001).unwrap().list, 1998);
    assert!(m.lookup("only1998.example", 0b110).is_none());
    // List 1999 is category 1: its exception applies only with category 1 active.
    let ok = m.lookup("ok.shared.example", 0b011).unwrap();
    assert_eq!((ok.kind, ok.list), (RuleKind::Allow, 1999));
    assert_eq!(
        m.lookup("ok.shared.example", 0b001).unwrap().kind,
        RuleKind::Block
    );
}

#[test]
fn every_hit_is_reported_and_the_winner_is_among_them() {
    let m = matcher(&[
        (0, RuleKind::Block, "ads.com"),
        (1, RuleKind::Block, "ads.com"),
        (1, RuleKind::BlockSubdomains, "x.ads.com"),
        (2, RuleKind::Allow, "ok.ads.com"),
        (2, RuleKind::BlockSubdomains, "ok.ads.com"),
    ]);
    let hits = |name: &str, active| {
        let fps = SuffixFingerprints::from_name(name);
        let mut all = vec![];
        m.for_each_hit(fps.as_slice(), active, |h| {
            all.push((h.list, h.kind, h.labels))
        });
        let winner = m.lookup_fingerprints(fps.as_slice(), active);
        assert!(winner.is_none_or(|w| all.contains(&(w.list, w.kind, w.labels))));
        all
    };
    use RuleKind::*;
    assert_eq!(
        hits("a.ok.ads.com", u64::MAX),
        [
            (0, Block, 2),
            (1, Block, 2),
            (2, BlockSubdomains, 3),
            (2, Allow, 3)
        ]
    );
    // `*.x.ads.com` does not cover `x.ads.com`, and inactive lists do not count.
    assert_eq!(hits("x.ads.com", 0b110), [(1, Block, 2)]);
    assert_eq!(hits("y.x.ads.com", 0b001), [(0, Block, 2)]);
    assert_eq!(hits("ads.org", u64::MAX), []);
}

#[test]
fn lists_freed_while_merging_lose_no_rule() {
    // Three lists of 40,000 rules each, overlapping by thirds, each with unused capacity:
    // the merge shrinks every one of them many times (`RELEASE_STEP` is 8,192 rules).
    let kind = |n: u32| {
        if n.is_multiple_of(7) {
            RuleKind::Allow
        } else {
            RuleKind::Block
        }
    };
    let mut b = MatcherBuilder::default();
    b.lists.resize_with(3, || Vec::with_capacity(100_000));
    for list in 0..3u16 {
        for n in (0..40_000u32).map(|i| i + u32::from(list) * 20_000) {
            b.add(list, kind(n), &format!("n{n}.example"));
        }
    }
    let m = b.build();
    assert_eq!(m.len(), 80_000);
    for n in (0..80_000u32).step_by(97) {
        let name = format!("x.n{n}.example");
        // Name `n` is in list `n / 20,000` and the one before it, where those exist.
        let third = n / 20_000;
        let lists: Vec<u16> = (0..3u16)
            .filter(|&l| third == u32::from(l) || third == u32::from(l) + 1)
            .collect();
        let mut seen = vec![];
        let fps = SuffixFingerprints::from_name(&name);
        m.for_each_hit(fps.as_slice(), u64::MAX, |h| seen.push(h.list));
        assert_eq!(seen, lists, "{name}");
        let hit = m.lookup(&name, 1 << lists[0]).unwrap();
        assert_eq!(hit.kind, kind(n), "{name}");
    }
}
