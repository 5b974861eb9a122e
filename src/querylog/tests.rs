use std::time::{Duration, Instant};

use super::*;

const QUEUE: usize = 1024;

fn entry(at: &str, profile: &str, name: &str, decision: &'static str, mode: LogMode) -> Entry {
    Entry {
        at: at.parse().unwrap(),
        device: "tablet".into(),
        profile: profile.into(),
        name: name.into(),
        qtype: 1,
        decision,
        reason: if decision == "blocked" {
            "list adult".into()
        } else {
            String::new()
        },
        category: (decision == "blocked").then(|| "adult".into()),
        micros: 42,
        mode,
        keep_days: 7,
    }
}

fn counter() -> IntCounter {
    IntCounter::new("c", "c").unwrap()
}

/// Waits until the writer has written `n` entries (it runs on its own thread).
fn written(c: &IntCounter, n: u64) {
    let start = Instant::now();
    while c.get() < n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "writer wrote {}",
            c.get()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn rows_follow_each_profiles_mode_and_counts_carry_no_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    let w = counter();
    let log = QueryLog::open(&path, QUEUE, w.clone(), counter()).unwrap();
    let t = "2026-11-28T12:00:00Z";
    log.record(entry(t, "kids", "a.test", "allowed", LogMode::Full));
    log.record(entry(t, "kids", "porn.test", "blocked", LogMode::Full));
    log.record(entry(t, "teen", "b.test", "allowed", LogMode::Blocked));
    log.record(entry(t, "teen", "porn.test", "blocked", LogMode::Blocked));
    log.record(entry(t, "adults", "c.test", "allowed", LogMode::Counts));
    log.record(entry(t, "off", "d.test", "allowed", LogMode::Off));
    written(&w, 5);

    let conn = open_read_only(&path).unwrap();
    let all = rows(
        &conn,
        &Filter {
            limit: 100,
            ..Filter::default()
        },
    )
    .unwrap();
    let mut names: Vec<_> = all
        .iter()
        .map(|r| (r.profile.as_str(), r.name.as_str()))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ("kids", "a.test"),
            ("kids", "porn.test"),
            ("teen", "porn.test")
        ]
    );
    let blocked = rows(
        &conn,
        &Filter {
            profile: Some("kids".into()),
            blocked: true,
            limit: 100,
            ..Filter::default()
        },
    )
    .unwrap();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].qtype, "A");
    assert_eq!(blocked[0].category.as_deref(), Some("adult"));
    assert_eq!(blocked[0].at, t.parse::<Timestamp>().unwrap());

    let since: Timestamp = "2026-11-28T00:00:00Z".parse().unwrap();
    let adults = counts(&conn, Some("adults"), since).unwrap();
    assert_eq!(adults.len(), 1);
    assert_eq!((adults[0].decision.as_str(), adults[0].n), ("allowed", 1));
    assert!(
        counts(&conn, Some("off"), since).unwrap().is_empty(),
        "off leaves no trace"
    );
}

#[test]
fn rows_older_than_the_profiles_days_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.db");
    let w = counter();
    let log = QueryLog::open(&path, QUEUE, w.clone(), counter()).unwrap();
    log.record(entry(
        "2026-11-01T12:00:00Z",
        "kids",
        "old.test",
        "allowed",
        LogMode::Full,
    ));
    written(&w, 1);
    // Eight days later, with a week's retention: the writer's next batch purges.
    log.record(entry(
        "2026-11-09T12:00:01Z",
        "kids",
        "new.test",
        "allowed",
        LogMode::Full,
    ));
    written(&w, 2);
    let conn = open_read_only(&path).unwrap();
    let left = rows(
        &conn,
        &Filter {
            limit: 10,
            ..Filter::default()
        },
    )
    .unwrap();
    assert_eq!(
        left.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["new.test"]
    );
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_waiting() {
    // A queue no writer takes from.
    let dropped = counter();
    let log = QueryLog {
        queue: std::sync::Arc::new(super::queue::Queue::new(2)),
        dropped: dropped.clone(),
    };
    for _ in 0..5 {
        log.record(entry(
            "2026-11-28T12:00:00Z",
            "kids",
            "a.test",
            "allowed",
            LogMode::Full,
        ));
    }
    assert_eq!(dropped.get(), 3);
    // Once full, an entry is not even built; taking the queue's contents makes room again.
    let built = std::cell::Cell::new(0);
    let make = || {
        built.set(built.get() + 1);
        Some(entry(
            "2026-11-28T12:00:00Z",
            "kids",
            "b.test",
            "allowed",
            LogMode::Full,
        ))
    };
    log.record_with(LogMode::Full, make);
    assert_eq!((built.get(), dropped.get()), (0, 4));
    let (taken, _) = log.queue.take(Vec::new(), std::time::Duration::ZERO);
    assert_eq!(taken.len(), 2);
    log.record_with(LogMode::Full, make);
    assert_eq!((built.get(), dropped.get()), (1, 4));
}

#[test]
fn closing_the_log_ends_the_writers_wait_for_its_interval() {
    let queue = std::sync::Arc::new(queue::Queue::new(8));
    assert!(queue.push(1));
    let closer = {
        let queue = queue.clone();
        std::thread::spawn(move || queue.close())
    };
    // An hour's interval: only the close can end this take.
    let (taken, closed) = queue.take(Vec::new(), Duration::from_secs(3600));
    assert_eq!((taken, closed), (vec![1], true));
    closer.join().unwrap();
}
