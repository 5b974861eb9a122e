//! The pure parts: the noise's statistics, suppression, the report's formats, merging,
//! and the store's forgetting of a closed day.

use super::store::{self, OpenDay, StoredCell};
use super::*;
use crate::config::ProfileKind;

fn config(dir: &std::path::Path, threshold: u64) -> TrendsConfig {
    TrendsConfig {
        instance: "north".to_owned(),
        path: dir.join("trends.db"),
        threshold,
        epsilon_per_day: 1.0,
        token: None,
        max_devices_per_day: 3,
        queue: 16,
        keep_days: 400,
    }
}

fn stored(day: i64, kind: &str, category: &str, exact: i64, noisy: i64) -> StoredCell {
    StoredCell {
        day,
        kind: kind.to_owned(),
        category: category.to_owned(),
        exact,
        noisy,
        epsilon: 1.0,
    }
}

/// Averages of many releases converge to the true counts, and the noise has the variance
/// the stated ε implies (it is there at all).
///
/// Scale b = 14 (14 categories, ε = 1): the discrete Laplace variance is about 2b² = 392,
/// so the mean of 4,000 draws has a standard deviation of about 0.31; the tolerance of 2.5
/// is 8 of them, which a correct mechanism exceeds with probability under 1e-14 per cell
/// (Chernoff bound for sub-exponential sums). The sample variance's relative standard
/// deviation is about √(5/4000) ≈ 0.035; the ±30 % band is over 8 of those.
#[test]
fn averages_over_many_releases_converge_to_the_true_counts() {
    let truth = [0_i64, 3, 12, 250];
    let runs = 4_000;
    let mut sums = [0_f64; 4];
    let mut squares = [0_f64; 4];
    for _ in 0..runs {
        let r = release(&truth, 14, 1.0).unwrap();
        assert_eq!(r.noisy.len(), truth.len());
        for (i, (&n, &t)) in r.noisy.iter().zip(&truth).enumerate() {
            sums[i] += n as f64;
            squares[i] += ((n - t) as f64).powi(2);
        }
    }
    for (i, &t) in truth.iter().enumerate() {
        let mean = sums[i] / f64::from(runs);
        assert!(
            (mean - t as f64).abs() < 2.5,
            "cell {i}: mean {mean}, truth {t}"
        );
        let variance = squares[i] / f64::from(runs);
        assert!(
            (0.7 * 392.0..1.3 * 392.0).contains(&variance),
            "cell {i}: variance {variance}"
        );
    }
}

/// The privacy property for one device alone in its cell (a single lookup of a rare name):
/// whether its cell is shown in the shared export barely depends on it. With and without
/// the device (true count 1 or 0), the chance that the noisy count reaches k = 10 differs
/// by the factor e^(ε/categories) = e^(1/14) ≈ 1.074 at most. Each chance (≈ 0.25) is
/// estimated from 20,000 draws with a standard deviation of about 0.003, so the ratio's is
/// about 0.018; the bound of 1.2 is 7 of those above 1.074 (a correct mechanism exceeds it
/// with probability under 1e-11). Without noise the ratio would be infinite.
#[test]
fn one_device_changes_what_the_shared_export_shows_by_a_bounded_factor() {
    let runs = 20_000;
    let shown = |truth: i64| {
        let hits = (0..runs)
            .filter(|_| release(&[truth], 14, 1.0).unwrap().noisy[0] >= 10)
            .count();
        hits as f64 / f64::from(runs)
    };
    let (with, without) = (shown(1), shown(0));
    assert!(without > 0.1, "the empty cell is shown too: {without}");
    let ratio = with.max(without) / with.min(without);
    assert!(ratio < 1.2, "with {with}, without {without}");
}

#[test]
fn the_stated_epsilon_is_the_one_asked_for_and_scales_with_the_categories() {
    for (categories, epsilon) in [(1, 0.5), (14, 1.0), (30, 2.0)] {
        let r = release(&vec![5; categories as usize], categories, epsilon).unwrap();
        assert!((r.epsilon - epsilon).abs() < 1e-9 * epsilon, "{r:?}");
        assert_eq!(r.scale, f64::from(categories) / epsilon);
    }
}

#[test]
fn cells_under_the_threshold_are_suppressed_not_zero() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 10);
    let cells = [
        stored(20_000, "child", "adult", 12, 3),
        stored(20_000, "household", "drugs", 1, 14),
        stored(20_000, "household", "adult", 0, -7),
    ];
    let local = Report::of(&cfg, View::Local, &cells);
    let shown: Vec<_> = local
        .cells
        .iter()
        .map(|c| (c.devices, c.suppressed))
        .collect();
    assert_eq!(shown, [(Some(12), 0), (None, 1), (None, 1)]);
    assert_eq!(local.epsilon_per_day, None);
    // The shared view thresholds the noisy count, never the exact one.
    let shared = Report::of(&cfg, View::Shared, &cells);
    let shown: Vec<_> = shared
        .cells
        .iter()
        .map(|c| (c.devices, c.epsilon))
        .collect();
    assert_eq!(
        shown,
        [(None, Some(1.0)), (Some(14), Some(1.0)), (None, Some(1.0))]
    );
    assert_eq!(shared.epsilon_per_day, Some(1.0));
    assert_eq!(shared.cells[0].day.to_string(), "2024-10-04");
}

#[test]
fn reports_read_back_from_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let cells = [
        stored(20_000, "child", "adult", 12, 11),
        stored(20_001, "child", "odd, \"quoted\" one", 30, 29),
    ];
    for view in [View::Local, View::Shared] {
        let report = Report::of(&config(dir.path(), 10), view, &cells);
        assert_eq!(Report::parse(&report.to_json()).unwrap(), report);
        assert_eq!(Report::parse(&report.to_csv()).unwrap(), report);
    }
    let bad = "# instances: a\nday,kind,category,devices,suppressed,epsilon\n2024-10-04,child,adult,x,0,\n";
    assert_eq!(
        Report::parse(bad).unwrap_err(),
        "line 3: `x` is not a number"
    );
    assert!(
        Report::parse("{\n\"instances\": 3\n}")
            .unwrap_err()
            .starts_with("line 2:")
    );
}

#[test]
fn merging_sums_shown_cells_counts_suppressed_ones_and_refuses_double_counting() {
    let dir = tempfile::tempdir().unwrap();
    let mut north_cfg = config(dir.path(), 10);
    let north = Report::of(
        &north_cfg,
        View::Shared,
        &[
            stored(20_000, "child", "adult", 0, 15),
            stored(20_000, "child", "drugs", 0, 2),
        ],
    );
    north_cfg.instance = "south".to_owned();
    let south = Report::of(
        &north_cfg,
        View::Shared,
        &[
            stored(20_000, "child", "adult", 0, 20),
            stored(20_000, "child", "drugs", 0, 11),
        ],
    );
    let merged = merge(&[north.clone(), south.clone()]).unwrap();
    assert_eq!(merged.instances, ["north", "south"]);
    let cells: Vec<_> = merged
        .cells
        .iter()
        .map(|c| (c.category.as_str(), c.devices, c.suppressed, c.epsilon))
        .collect();
    assert_eq!(
        cells,
        [
            ("adult", Some(35), 0, Some(1.0)),
            ("drugs", Some(11), 1, Some(1.0))
        ]
    );
    assert_eq!(merged.epsilon_per_day, Some(1.0));
    assert_eq!(
        merge(&[north.clone(), merged]).unwrap_err(),
        MergeError::Duplicate("north".to_owned())
    );
    let local = Report::of(&north_cfg, View::Local, &[]);
    assert_eq!(merge(&[north, local]).unwrap_err(), MergeError::Mixed);
    assert_eq!(merge(&[]).unwrap_err(), MergeError::Empty);
    let svg = south.svg();
    assert!(svg.starts_with("<svg") && svg.contains("<polyline") && svg.contains(">adult<"));
}

#[test]
fn since_is_days_back_or_a_date() {
    let now: Timestamp = "2026-11-28T12:00:00Z".parse().unwrap();
    let today = day_of(now);
    assert_eq!(since_day("30d", now), Ok(today - 30));
    assert_eq!(since_day("2026-11-28", now), Ok(today));
    assert!(
        since_day("last week", now)
            .unwrap_err()
            .contains("`last week`")
    );
}

/// A day counts each device once per category and under its first kind, at most
/// `max_devices_per_day` devices; closing it keeps only the counts: no salt, no hash, and
/// the device ids were never written at all.
#[test]
fn a_closed_day_keeps_counts_only() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), 1);
    let mut conn = store::open(&cfg.path).unwrap();
    let day = 20_000;
    let mut open = OpenDay::load(&conn, day).unwrap();
    let limit = (day, cfg.max_devices_per_day);
    let mut count =
        |device: &str, kind, category| open.count(&conn, limit, device, kind, category).unwrap();
    assert!(count("kid-tablet", ProfileKind::Child, "adult"));
    assert!(count("kid-tablet", ProfileKind::Child, "adult"));
    // Its first kind stands: one device is in one kind a day.
    assert!(count("kid-tablet", ProfileKind::Household, "drugs"));
    assert!(count("kid-phone", ProfileKind::Child, "adult"));
    assert!(count("192.168.1.77", ProfileKind::Household, "adult"));
    // The fourth device is over the bound of 3.
    assert!(!count("kid-laptop", ProfileKind::Child, "adult"));
    assert!(count("kid-phone", ProfileKind::Child, "drugs"));
    let categories = ["adult".to_owned(), "drugs".to_owned()];
    store::close(&mut conn, day, &categories, 1.0).unwrap();
    let exact: Vec<_> = store::cells(&conn, day)
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.category, c.exact))
        .collect();
    let expected = [
        ("child", "adult", 2),
        ("child", "drugs", 2),
        ("household", "adult", 1),
        ("household", "drugs", 0),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(k, c, n)| ((*k).to_owned(), (*c).to_owned(), *n))
        .collect();
    assert_eq!(exact, expected);
    for table in ["open_days", "devices", "seen"] {
        let n: i64 = conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "{table} is emptied when the day closes");
    }
    drop(conn);
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        for id in ["kid-tablet", "kid-phone", "192.168.1.77"] {
            assert!(!bytes.windows(id.len()).any(|w| w == id.as_bytes()));
        }
    }
}
