//! The precedence of the policy's tiers, as a table: each row puts a set of rules in force,
//! every one of which matches the name, and says which one decides. Pure: the lists are
//! compiled from inline text, the clock is a fixed instant, and no file or socket is used.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::budget::Usage;
use crate::config::{ListConfig, ScheduleConfig};
use crate::filter::ClassifierLayer;
use crate::filter::classifier::{CategoryModel, Classifier};
use crate::lists::Format;

/// Monday 2026-11-23, 10:00 UTC.
const NOW: &str = "2026-11-23T10:00:00Z";

/// The rules a row can put in force, in the order the code ranks them (see the module
/// comment of `policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rule {
    /// `familydns allow` of the name, still running.
    Timed,
    /// The name on the profile's `allow`.
    Allow,
    /// `familydns pause`, still running.
    Pause,
    /// A `block_all` window covering [`NOW`].
    Bedtime,
    /// `||name^` in a `video` list, and the profile's `video` budget spent today.
    Budget,
    /// `block_bypass`, for a canary or a public DoH name.
    Bypass,
    /// Safe search, for an engine host.
    Safe,
    /// The name on the profile's `deny`.
    Deny,
    /// The name accepted from a complaint into a category the profile always blocks.
    Complaint,
    /// The name accepted into a category only a window covering [`NOW`] blocks.
    WindowComplaint,
    /// `||name^` in a list of a category the profile always blocks.
    List,
    /// `||name^` in a list of a category only a window covering [`NOW`] blocks.
    WindowList,
    /// `@@||name^` in that window's list: an exception from the same tier as the lists.
    WindowException,
    /// A keyword of a blocked category's list.
    Keyword,
    /// The classifier, sure the name is in a blocked category.
    Model,
}

use Rule::*;

/// A profile, its lists and its overrides with `rules` in force for `name`.
struct Setup {
    blocklists: Blocklists,
    special: SpecialNames,
    profile: Profile,
    timed: ProfileOverrides,
    usage: Vec<Usage>,
    /// Always holds the name in `video`, which the profile does not block.
    accepted: Accepted,
}

impl Setup {
    fn new(name: &str, rules: &[Rule]) -> Setup {
        let on = |r| rules.contains(&r);
        let now: Timestamp = NOW.parse().unwrap();
        let until = now + SignedDuration::from_hours(1);
        let line = |r, text: &str| {
            if on(r) {
                text.replace("NAME", name)
            } else {
                String::new()
            }
        };
        let texts = [
            line(List, "||NAME^"),
            line(WindowList, "||NAME^") + "\n" + &line(WindowException, "@@||NAME^"),
            // Every name here has a label that starts with one of these.
            line(Keyword, "www\ndns\nuse"),
            line(Budget, "||NAME^"),
        ];
        let list = |name: &str, category: &str, format| ListConfig {
            name: name.to_owned(),
            category: category.to_owned(),
            source: format!("{name}.txt").into(),
            format,
            url: None,
            refresh: Duration::ZERO,
        };
        let lists = [
            list("always", "adult", Format::Adblock),
            list("school", "games", Format::Adblock),
            list("words", "adult", Format::Keywords),
            list("clips", "video", Format::Adblock),
        ];
        let mut blocklists = Blocklists::load_with(&lists, false, |l| {
            let i = lists.iter().position(|c| c.name == l.name).unwrap();
            Ok(texts[i].clone())
        });
        if on(Model) {
            let adult = CategoryModel::quantise("adult", 10.0, 0.5, &[0.0; 1 << 10]);
            let bytes = Classifier::new(10, vec![adult]).unwrap().to_bytes();
            let layer = ClassifierLayer::new(&bytes, |c| blocklists.mask_for([c])).unwrap();
            blocklists.classifier = Some(layer);
        }
        // Monday 09:00-11:00 and 08:00-15:00, both around `NOW`.
        let window = |from, to, block_all, block: &[&str]| ScheduleConfig {
            days: [true, false, false, false, false, false, false],
            from,
            to,
            block_all,
            block: block.iter().map(|c| c.to_string()).collect(),
        };
        let mut schedules = vec![window(8 * 60, 15 * 60, false, &["games"])];
        if on(Bedtime) {
            schedules.push(window(9 * 60, 11 * 60, true, &[]));
        }
        let names = |r| if on(r) { vec![name.to_owned()] } else { vec![] };
        let config = ProfileConfig {
            name: "kids".to_owned(),
            file: "profiles/kids.toml".into(),
            block: vec!["adult".to_owned()],
            allow: names(Allow),
            deny: names(Deny),
            block_answer: BlockAnswer::NxDomain,
            safe_search: if on(Safe) {
                SafeSearch::Strict
            } else {
                SafeSearch::Off
            },
            block_bypass: if on(Bypass) {
                BlockBypass::All
            } else {
                BlockBypass::Off
            },
            timezone: TimeZone::UTC,
            schedules,
            budgets: vec![crate::config::BudgetConfig {
                categories: vec!["video".to_owned()],
                minutes: 60,
            }],
            log: crate::config::LogMode::Full,
            log_days: 7,
            alert: vec![],
            kind: crate::config::ProfileKind::Child,
        };
        // The whole budget used, or none of it.
        let mut usage = Usage::today("kids", "video", now, &TimeZone::UTC);
        usage.used = if on(Budget) { 60 } else { 0 };
        let allow = [(name, until)];
        let complaint = |id, category: &str| crate::complaints::Entry {
            id,
            name: name.to_owned(),
            category: category.to_owned(),
            decided_by: "reviewer".to_owned(),
        };
        let mut accepted = vec![complaint(99, "video")];
        if on(Complaint) {
            accepted.push(complaint(1, "adult"));
        }
        if on(WindowComplaint) {
            accepted.push(complaint(2, "games"));
        }
        Setup {
            accepted: Accepted::new(accepted),
            profile: Profile::compile(&config, &blocklists),
            special: SpecialNames::new(),
            timed: ProfileOverrides::new(
                if on(Timed) { &allow } else { &[] },
                on(Pause).then_some(until),
            ),
            usage: vec![usage],
            blocklists,
        }
    }

    fn policy(&self) -> Policy<'_> {
        Policy {
            blocklists: &self.blocklists,
            special: &self.special,
            profile: &self.profile,
            timed: Some(&self.timed),
            usage: &self.usage,
            accepted: Some(&self.accepted),
        }
    }

    /// The rule behind a decision of this setup.
    fn rule(&self, d: &Decision<'_>) -> Option<Rule> {
        Some(match d.reason {
            Reason::NoMatch => return None,
            Reason::TimedAllow => Timed,
            Reason::ProfileAllow { .. } => Allow,
            Reason::Paused => Pause,
            Reason::Schedule => Bedtime,
            Reason::Budget { .. } => Budget,
            Reason::BypassCanary | Reason::BypassEndpoint { .. } => Bypass,
            Reason::SafeSearch => Safe,
            Reason::ProfileDeny { .. } => Deny,
            Reason::Complaint { entry } => match self.accepted.entry(entry).id {
                1 => Complaint,
                _ => WindowComplaint,
            },
            Reason::List(hit) => match (hit.list, hit.kind) {
                (0, _) => List,
                (_, RuleKind::Allow) => WindowException,
                _ => WindowList,
            },
            Reason::Pattern(_) => Keyword,
            Reason::Classified(_) => Model,
        })
    }
}

/// Every rule that can match `www.google.com` (all but bypass).
const ENGINE: &[Rule] = &[
    Timed, Allow, Pause, Bedtime, Budget, Safe, Deny, List, WindowList, Keyword, Model,
];

#[test]
fn precedence_table() {
    let from = |i: usize| &ENGINE[i..];
    #[rustfmt::skip]
    let table: &[(&str, &[Rule], Option<Rule>)] = &[
        // name                      rules in force (all match)     decides
        ("www.google.com",           from(0),                       Some(Timed)),
        ("www.google.com",           from(1),                       Some(Allow)),
        ("www.google.com",           from(2),                       Some(Pause)),
        ("www.google.com",           from(3),                       Some(Bedtime)),
        ("www.google.com",           from(4),                       Some(Budget)),
        ("www.google.com",           from(5),                       Some(Safe)),
        ("www.google.com",           from(6),                       Some(Deny)),
        ("www.google.com",           from(7),                       Some(List)),
        ("www.google.com",           from(8),                       Some(WindowList)),
        ("www.google.com",           from(9),                       Some(Keyword)),
        ("www.google.com",           from(10),                      Some(Model)),
        ("www.google.com",           &[],                           None),
        // The two allows each beat everything else on their own.
        ("www.google.com",           &[Allow, Pause, Bedtime, Deny],  Some(Allow)),
        ("www.google.com",           &[Timed, Pause, Bedtime, Deny],  Some(Timed)),
        // A spent budget: the allows still win; it blocks before safe search and bypass.
        ("www.google.com",           &[Allow, Budget],              Some(Allow)),
        ("www.google.com",           &[Timed, Budget],              Some(Timed)),
        ("dns.google",               &[Budget, Bypass, Deny],       Some(Budget)),
        // Bypass protection: public DoH resolvers and canaries.
        ("dns.google",               &[Timed, Bypass, Deny],        Some(Timed)),
        ("dns.google",               &[Allow, Bypass, Deny],        Some(Allow)),
        ("dns.google",               &[Pause, Bypass, Deny],        Some(Pause)),
        ("dns.google",               &[Bedtime, Bypass, Deny],      Some(Bedtime)),
        ("dns.google",               &[Bypass, Deny, List, Keyword, Model], Some(Bypass)),
        ("use-application-dns.net",  &[Bypass, Deny, List],         Some(Bypass)),
        // Schedule categories are lists like the others, in the same tier: an exception in
        // a window's list exempts the name from an always-blocked list while it is active.
        ("www.example.com",          &[List, WindowException],      Some(WindowException)),
        ("www.example.com",          &[WindowList, Keyword],        Some(WindowList)),
        ("www.example.com",          &[Deny, WindowList],           Some(Deny)),
        // A name accepted from a complaint: in the lists' tier, before their exceptions (a
        // reviewer decided); the allows and the deny list come first.
        ("www.example.com",          &[Complaint, List, WindowException], Some(Complaint)),
        ("www.example.com",          &[Allow, Complaint],           Some(Allow)),
        ("www.example.com",          &[Timed, Complaint],           Some(Timed)),
        ("www.example.com",          &[Deny, Complaint],            Some(Deny)),
        ("www.example.com",          &[WindowComplaint, Keyword],   Some(WindowComplaint)),
    ];
    let now: Timestamp = NOW.parse().unwrap();
    for &(name, rules, expected) in table {
        let setup = Setup::new(name, rules);
        let policy = setup.policy();
        let query = QueryName::parse(name).unwrap();
        let decision = policy.decide(&query, now);
        assert_eq!(setup.rule(&decision), expected, "{name} with {rules:?}");
        // The explanation starts with the decision and names every rule in force, once.
        let explained = policy.explain(&query, now);
        assert_eq!(explained.first().copied(), expected.map(|_| decision));
        let mut seen: Vec<Rule> = explained.iter().filter_map(|d| setup.rule(d)).collect();
        seen.sort();
        let mut want = rules.to_vec();
        want.sort();
        assert_eq!(seen, want, "{name}: explain lists every rule in force");
    }
}

#[test]
fn verdicts_carry_the_answer_and_its_ede() {
    let now: Timestamp = NOW.parse().unwrap();
    let verdict = |name: &str, rules: &[Rule]| {
        let setup = Setup::new(name, rules);
        let policy = setup.policy();
        let v = policy.verdict(&policy.decide(&QueryName::parse(name).unwrap(), now));
        let text = match v {
            Verdict::Block(b) => format!("{:?} {:?} {}", b.answer, b.ede, b.text),
            Verdict::Rewrite(t) => format!("rewrite {t:?}"),
            Verdict::Allow => "allow".to_owned(),
        };
        (v.label(), text)
    };
    let blocked = |text: &str| (Label::Blocked, text.to_owned());
    assert_eq!(
        verdict("www.example.com", &[List]),
        blocked("NxDomain Filtered familydns: category adult (list always)")
    );
    assert_eq!(
        verdict("www.example.com", &[Complaint]),
        blocked("NxDomain Filtered familydns: category adult (complaint #1)")
    );
    assert_eq!(
        verdict("www.example.com", &[Deny]),
        blocked("NxDomain Filtered familydns: deny list of profile kids")
    );
    assert_eq!(
        verdict("www.example.com", &[Pause]),
        blocked("NxDomain Filtered familydns: profile kids is paused")
    );
    assert_eq!(
        verdict("www.example.com", &[Bedtime]),
        blocked("NxDomain Filtered familydns: schedule of profile kids (block_all)")
    );
    assert_eq!(
        verdict("dns.google", &[Bypass]),
        blocked("NxDomain Blocked familydns: resolver bypass blocked")
    );
    assert_eq!(
        verdict("www.example.com", &[Keyword]),
        blocked("NxDomain Filtered familydns: category adult (list words)")
    );
    assert_eq!(
        verdict("www.example.com", &[Model]),
        blocked("NxDomain Filtered familydns: classified adult (score 1.000)")
    );
    assert_eq!(
        verdict("www.example.com", &[Budget]),
        (
            Label::BudgetSpent,
            "NxDomain Filtered familydns: daily budget spent (video: 60 min)".to_owned()
        )
    );
    assert_eq!(verdict("www.bing.com", &[Safe]).0, Label::Rewritten);
    assert_eq!(
        verdict("www.example.com", &[]),
        (Label::Allowed, "allow".to_owned())
    );
}

#[test]
fn a_cname_chain_is_blocked_at_its_first_blocked_name() {
    let now: Timestamp = NOW.parse().unwrap();
    let setup = Setup::new("tracker.example", &[List]);
    let policy = setup.policy();
    let chain = ["cdn.example", "tracker.example", "other.tracker.example"];
    let names = || chain.iter().map(|n| (*n, QueryName::parse(n).unwrap()));
    let (target, _, decision) = policy.check_chain(names(), now).unwrap();
    assert_eq!(target, "tracker.example");
    assert_eq!(setup.rule(&decision), Some(List));
    let clean = || names().take(1);
    assert!(policy.check_chain(clean(), now).is_none());
}
