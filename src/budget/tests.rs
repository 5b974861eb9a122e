//! The pure accounting, with fixed instants: distinct minutes, the reset at local midnight,
//! grants, and what is left.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::*;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn moscow() -> TimeZone {
    TimeZone::get("Europe/Moscow").unwrap()
}

#[test]
fn distinct_minutes_are_counted_once() {
    let tz = moscow();
    let mut u = Usage::today("kids", "social", at("2026-11-23T10:00:05Z"), &tz);
    for t in [
        "10:00:05", "10:00:30", "10:00:59", "10:01:00", "10:01:59", "10:03:00",
    ] {
        u.count(at(&format!("2026-11-23T{t}Z")));
    }
    assert_eq!(u.used, 3, "minutes 10:00, 10:01 and 10:03");
    assert!(!u.count(at("2026-11-23T10:03:10Z")));
    assert!(u.count(at("2026-11-23T10:04:00Z")));
}

#[test]
fn a_day_ends_at_local_midnight() {
    let tz = moscow(); // UTC+3: local midnight is 21:00 UTC.
    let mut u = Usage::today("kids", "social", at("2026-11-23T20:58:00Z"), &tz);
    assert_eq!(u.ends, at("2026-11-23T21:00:00Z"));
    u.count(at("2026-11-23T20:58:00Z"));
    u.count(at("2026-11-23T20:59:00Z"));
    u.grant(30);
    assert!(!u.spent(2, at("2026-11-23T20:59:30Z")));
    assert_eq!((u.used, u.allowed(2)), (2, 32));
    // The last second of the day is still that day; at midnight the usage and grant end.
    assert!(u.current(at("2026-11-23T20:59:59Z")));
    let midnight = at("2026-11-23T21:00:00Z");
    assert!(!u.current(midnight) && !u.spent(1, midnight));
    u.roll(midnight, &tz);
    assert_eq!((u.used, u.granted), (0, 0));
    assert_eq!(u.ends, at("2026-11-24T21:00:00Z"));
}

#[test]
fn spent_when_the_minutes_and_grants_are_used() {
    let tz = TimeZone::UTC;
    let start = at("2026-11-23T10:00:00Z");
    let mut u = Usage::today("kids", "games", start, &tz);
    let minute = |m: i64| start + jiff::SignedDuration::from_mins(m);
    u.count(minute(0));
    assert!(!u.spent(2, minute(0)));
    u.count(minute(1));
    assert!(u.spent(2, minute(1)), "2 minutes of 2");
    u.grant(1);
    assert!(!u.spent(2, minute(1)), "a grant gives a minute more");
    u.count(minute(2));
    assert!(u.spent(2, minute(2)));
    u.grant(10_000);
    assert_eq!(u.granted, MAX_GRANT, "grants stop at a day");
}

#[test]
fn left_reads_today_only() {
    let blocklists = crate::filter::Blocklists::load_with(&[], false, |_| Ok(String::new()));
    let config = crate::config::BudgetConfig {
        categories: vec!["social".into(), "video".into()],
        minutes: 60,
    };
    let budgets = [Budget::compile(&config, &blocklists)];
    assert_eq!(budgets[0].key, "social, video");
    let now = at("2026-11-23T10:00:00Z");
    let mut u = Usage::today("kids", "social, video", now, &TimeZone::UTC);
    u.count(now);
    u.grant(15);
    let usage = [u];
    let left = super::left(&budgets, &usage, now);
    assert_eq!(left[0].minutes(), 74);
    assert_eq!(left[0].allowed, 75);
    let tomorrow = at("2026-11-24T00:00:00Z");
    assert_eq!(super::left(&budgets, &usage, tomorrow)[0].minutes(), 60);
}

#[test]
fn the_first_lookup_of_a_minute_counts() {
    let blocklists = crate::filter::Blocklists::load_with(&[], false, |_| Ok(String::new()));
    let config = crate::config::BudgetConfig {
        categories: vec!["games".into()],
        minutes: 5,
    };
    let b = Budget::compile(&config, &blocklists);
    let m = minute_of(at("2026-11-23T10:00:30Z"));
    assert_eq!(m, minute_of(at("2026-11-23T10:00:00Z")));
    assert!(!b.counted_in(m));
    assert!(b.first_in(m));
    assert!(b.counted_in(m) && !b.first_in(m));
    assert!(b.first_in(m + 1));
}
