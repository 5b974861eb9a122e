//! Property: a decision never changes when the letter case of the query changes, whatever
//! the name and whichever rule kind decides it (lists, keywords, regex, allow, deny, safe
//! search, canaries).

mod common;

use std::sync::OnceLock;

use familydns::name::QueryName;
use familydns::snapshot::Snapshot;
use hickory_proto::rr::Name;
use proptest::prelude::*;

const MAIN: &str = r#"
default_profile = "kids"
[server]
listen = ["127.0.0.1:0"]
[upstream]
servers = ["udp://127.0.0.1:9"]

[[list]]
name = "adult"
category = "adult"
source = "adult.domains"
format = "domains"

[[list]]
name = "words"
category = "adult"
source = "adult.keywords"
format = "keywords"

[[list]]
name = "regex"
category = "adult"
source = "adult.regex"
format = "regex"

[[list]]
name = "abp"
category = "adult"
source = "adult.abp"
format = "adblock"
"#;

const KIDS: &str = r#"
block = ["adult"]
allow = ["ok.example"]
deny = ["deny.example"]
safe_search = true
block_bypass = true
"#;

/// The snapshot and the directory that holds its files.
fn snapshot() -> &'static (Snapshot, tempfile::TempDir) {
    static SNAP: OnceLock<(Snapshot, tempfile::TempDir)> = OnceLock::new();
    SNAP.get_or_init(|| {
        common::snapshot_of(&[
            ("familydns.toml", MAIN),
            ("profiles/kids.toml", KIDS),
            ("adult.domains", "pornhub.com\nxx.example\n"),
            ("adult.keywords", "porn\n"),
            ("adult.regex", "^cam[0-9]+\\.example$\n"),
            ("adult.abp", "||bad.example^\n@@||fine.bad.example^\n"),
        ])
    })
}

/// Names built from labels that the rules above care about.
fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "www",
            "pornhub",
            "com",
            "xx",
            "example",
            "ok",
            "deny",
            "cam7",
            "bad",
            "fine",
            "google",
            "youtube",
            "use-application-dns",
            "net",
            "mask",
            "icloud",
            "a-porn",
            "b",
        ]),
        1..5,
    )
    .prop_map(|labels| labels.join("."))
}

proptest! {
    #[test]
    fn decisions_ignore_letter_case(name in name(), flips in prop::collection::vec(any::<bool>(), 64)) {
        let (snap, _dir) = snapshot();
        let profile = snap.profile_named("kids").unwrap();
        let now = jiff::Timestamp::UNIX_EPOCH;
        let spelled: String = name
            .chars()
            .zip(flips.iter().cycle())
            .map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c })
            .collect();
        let lower = snap.decide_name(profile, &QueryName::parse(&name).unwrap(), now);
        let wire = Name::from_ascii(format!("{spelled}.")).unwrap();
        let from_wire = snap.decide_name(profile, &QueryName::from_wire(&wire), now);
        prop_assert_eq!(lower, from_wire, "{} vs {}", name, spelled);
        let typed = snap.decide_name(profile, &QueryName::parse(&spelled).unwrap(), now);
        prop_assert_eq!(lower, typed);
    }
}

#[test]
fn the_rules_above_do_decide() {
    // The property is only worth something if the names it draws hit every kind of rule.
    let (snap, _dir) = snapshot();
    let profile = snap.profile_named("kids").unwrap();
    let decide = |n: &str| {
        snap.decide_name(
            profile,
            &QueryName::parse(n).unwrap(),
            jiff::Timestamp::UNIX_EPOCH,
        )
    };
    use familydns::policy::{Action, Reason};
    assert!(matches!(decide("www.pornhub.com").reason, Reason::List(_)));
    assert!(matches!(decide("a-porn.b").reason, Reason::Pattern(_)));
    assert!(matches!(decide("cam7.example").reason, Reason::Pattern(_)));
    assert!(matches!(
        decide("ok.example").reason,
        Reason::ProfileAllow { .. }
    ));
    assert!(matches!(
        decide("deny.example").reason,
        Reason::ProfileDeny { .. }
    ));
    assert!(matches!(
        decide("www.google.com").action,
        Action::Rewrite(_)
    ));
    assert!(matches!(
        decide("mask.icloud.com").reason,
        Reason::BypassCanary
    ));
    assert_eq!(decide("fine.bad.example").action, Action::Allow);
    assert_eq!(decide("bad.example").action, Action::Block);
}
