//! Trend research through the real server and the real `familydns trends`: devices (client
//! addresses named in `[[client]]`, and one the config does not name) look names up on a
//! clock the test moves; once the day is over, the exports hold per-kind, per-category
//! counts of distinct devices, suppress cells under k, state their ε, and never hold a name
//! or a device. `GET /trends` serves the shared export; `trends merge` sums instances.

mod common;

use std::time::Duration;

use common::parents::{TestClock, start_on};
use common::trends::*;
use common::*;
use familydns::trends::Report;

#[tokio::test]
async fn exports_count_devices_suppress_small_cells_and_expose_no_one() {
    let upstream = start_upstream().await;
    let cfg = config(upstream.addr, "north", "");
    let fdns = a_day(&cfg, 12).await;

    // Local: exact counts; the rare name's single device, the casino's three and every
    // empty cell are suppressed, not shown as a number.
    let json = trends(&cfg.path(), &["--local", "--since", SINCE]);
    assert_anonymous(&json);
    let local = Report::parse(&json).unwrap();
    assert_eq!(local.instances, ["north"]);
    assert_eq!((local.threshold, local.epsilon_per_day), (10, None));
    assert_eq!(
        cells(&local),
        [
            cell("child", "adult", Some(12)),
            cell("child", "drugs", None),
            cell("child", "gambling", None),
            cell("household", "adult", None),
            cell("household", "drugs", None),
            cell("household", "gambling", None),
        ]
    );
    let csv = trends(
        &cfg.path(),
        &["--local", "--since", SINCE, "--format", "csv"],
    );
    assert_anonymous(&csv);
    assert!(
        csv.contains(&format!("\n{DAY},child,adult,12,0,\n")),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("\n{DAY},household,drugs,,1,\n")),
        "{csv}"
    );
    assert_eq!(Report::parse(&csv).unwrap(), local);

    // Shared: every cell noisy, with the day's ε (1, the default, over 3 categories), the
    // same cells, and the same numbers at every collection (the noise was drawn once).
    let json = trends(&cfg.path(), &["--since", SINCE]);
    assert_anonymous(&json);
    let shared = Report::parse(&json).unwrap();
    let epsilon = shared.epsilon_per_day.unwrap();
    assert!((epsilon - 1.0).abs() < 1e-9, "{epsilon}");
    assert!(shared.noise.contains("OpenDP"));
    assert_eq!(shared.cells.len(), 6);
    assert!(shared.cells.iter().all(|c| c.epsilon == Some(epsilon)));
    assert!(
        shared
            .cells
            .iter()
            .all(|c| c.devices.is_none_or(|n| n >= 10)),
        "k applies to the noisy counts"
    );
    assert_eq!(trends(&cfg.path(), &["--since", SINCE]), json);

    // The collector's endpoint: the shared export, behind its token.
    let url = format!("http://{}/trends?since={SINCE}", fdns.metrics_addr.unwrap());
    let http = reqwest::Client::new();
    let get = async |url: &str, token: &str| {
        let r = http.get(url).bearer_auth(token).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    let (status, body) = get(&url, TOKEN).await;
    assert_eq!(status, 200);
    assert_eq!(Report::parse(&body).unwrap(), shared);
    let (status, body) = get(&format!("{url}&format=csv"), TOKEN).await;
    assert_eq!((status, Report::parse(&body).unwrap()), (200, shared));
    assert_eq!(get(&url, "not-the-token-at-all-0").await.0, 401);
    assert_eq!(get(&format!("{url}&format=xml"), TOKEN).await.0, 400);
    assert_eq!(get(&format!("{url}&since=yesterday"), TOKEN).await.0, 400);

    // The database never held a name or a device id.
    fdns.shut_down().await;
    for file in std::fs::read_dir(cfg.dir.path()).unwrap() {
        let path = file.unwrap().path();
        if path.to_string_lossy().contains("trends.db") {
            let bytes = std::fs::read(&path).unwrap();
            for secret in ["kid-1", "127.0.0.99", "rare-pharmacy", "adult.example"] {
                let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
                assert!(!found, "`{secret}` in {}", path.display());
            }
        }
    }
}

#[tokio::test]
async fn merge_sums_instances_and_charts_them() {
    let upstream = start_upstream().await;
    let north = config(upstream.addr, "north", "");
    let south = config(upstream.addr, "south", "");
    drop(a_day(&north, 12).await);
    drop(a_day(&south, 11).await);
    let dir = tempfile::tempdir().unwrap();
    let export = |name: &str, cfg: &TestConfig, args: &[&str]| {
        let path = dir.path().join(name);
        std::fs::write(&path, trends(&cfg.path(), args)).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let merge = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_familydns"))
            .args(["trends", "merge"])
            .args(args)
            .output()
            .unwrap()
    };
    let merged = |args: &[&str]| {
        let out = merge(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Report::parse(&String::from_utf8(out.stdout).unwrap()).unwrap()
    };

    // Exact exports (JSON and CSV) sum exactly; the chart is written.
    let n = export("north.json", &north, &["--local", "--since", SINCE]);
    let s = export(
        "south.csv",
        &south,
        &["--local", "--since", SINCE, "--format", "csv"],
    );
    let svg = dir.path().join("chart.svg");
    let report = merged(&[&n, &s, "--svg", svg.to_str().unwrap()]);
    assert_eq!(report.instances, ["north", "south"]);
    let find = |r: &Report, kind: &str, category: &str| {
        let c = r
            .cells
            .iter()
            .find(|c| c.kind == kind && c.category == category);
        c.map(|c| (c.devices, c.suppressed)).unwrap()
    };
    assert_eq!(find(&report, "child", "adult"), (Some(23), 0));
    assert_eq!(find(&report, "household", "drugs"), (None, 2));
    assert_eq!(report.cells.len(), 6);
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(
        chart.starts_with("<svg") && chart.contains("<polyline"),
        "{chart}"
    );
    assert!(chart.contains(">adult<") && chart.contains(DAY));
    assert_anonymous(&chart);
    let csv = merge(&[&n, &s, "--format", "csv"]);
    assert_eq!(
        Report::parse(&String::from_utf8(csv.stdout).unwrap()).unwrap(),
        report
    );

    // Noisy exports: each cell is the sum of the counts the instances showed, at the
    // instances' ε (parallel composition).
    let ns = export("north-shared.json", &north, &["--since", SINCE]);
    let ss = export("south-shared.json", &south, &["--since", SINCE]);
    let inputs = [&ns, &ss].map(|f| Report::parse(&std::fs::read_to_string(f).unwrap()).unwrap());
    let report = merged(&[&ns, &ss]);
    assert!((report.epsilon_per_day.unwrap() - 1.0).abs() < 1e-9);
    for c in &report.cells {
        let parts: Vec<_> = inputs
            .iter()
            .map(|r| find(r, &c.kind, &c.category))
            .collect();
        let shown: Vec<i64> = parts.iter().filter_map(|p| p.0).collect();
        assert_eq!(c.devices, (!shown.is_empty()).then(|| shown.iter().sum()));
        assert_eq!(c.suppressed, parts.iter().map(|p| p.1).sum::<u32>());
    }

    // An instance twice would count its devices twice; exact and noisy do not mix; a bad
    // file is named with its line.
    let twice = merge(&[&n, &n]);
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("`north` is in more than one report"));
    assert!(!merge(&[&n, &ss]).status.success());
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "# instances: x\n2026-11-28,child,adult\n").unwrap();
    let out = merge(&[bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.csv: line 2: expected 6 fields"),
        "{stderr}"
    );
}

#[tokio::test]
async fn devices_past_the_daily_bound_are_not_counted() {
    let upstream = start_upstream().await;
    let cfg = config(
        upstream.addr,
        "bounded",
        "threshold = 1\nmax_devices_per_day = 5",
    );
    drop(a_day(&cfg, 9).await);
    let local = Report::parse(&trends(&cfg.path(), &["--local", "--since", SINCE])).unwrap();
    // Kids 11 … 15 fill the day; the others (and the household device) are left out.
    let adult = local
        .cells
        .iter()
        .find(|c| c.kind == "child" && c.category == "adult");
    assert_eq!(adult.unwrap().devices, Some(5));
    let household: i64 = local
        .cells
        .iter()
        .filter(|c| c.kind == "household")
        .filter_map(|c| c.devices)
        .sum();
    assert_eq!(household, 0);
}

/// The open day survives a restart: a device seen before and after it counts once.
#[tokio::test]
async fn a_device_counts_once_a_day_across_a_restart() {
    let upstream = start_upstream().await;
    let cfg = config(upstream.addr, "restarted", "threshold = 1");
    let clock = TestClock::new();
    let fdns = start_on(&cfg, &clock).await;
    for n in 11..21 {
        blocked(&fdns, &format!("127.0.0.{n}"), ADULT).await;
    }
    fdns.shut_down().await;
    let fdns = start_on(&cfg, &clock).await;
    for n in 11..22 {
        blocked(&fdns, &format!("127.0.0.{n}"), ADULT).await;
    }
    clock.advance(Duration::from_secs(86_400));
    let config = familydns::config::load(&cfg.path()).unwrap();
    let trends = config.trends.unwrap();
    let since = familydns::trends::since_day(SINCE, test_now()).unwrap();
    let local = async || familydns::trends::read(&trends, familydns::trends::View::Local, since);
    assert!(
        eventually(Duration::from_secs(10), async || local()
            .await
            .is_ok_and(|r| !r.cells.is_empty()))
        .await
    );
    let report = local().await.unwrap();
    let adult = report
        .cells
        .iter()
        .find(|c| c.kind == "child" && c.category == "adult");
    assert_eq!(adult.unwrap().devices, Some(11));
    fdns.shut_down().await;
}

#[test]
fn bad_trends_settings_are_reported_with_file_and_line() {
    let cfg = TestConfig::new(
        &format!(
            "{HEAD}\n[trends]\ninstance = \"north pole\"\nepsilon_per_day = 0.0\nthreshold = 0\ntoken = \"short\"\n"
        ),
        "127.0.0.1:53".parse().unwrap(),
        &[("family", "kind = \"teen\"\n")],
    );
    let errors = familydns::config::load(&cfg.path())
        .unwrap_err()
        .to_string();
    for expected in [
        "familydns.toml:13:12: `instance`: expected 1 to 63 letters",
        "familydns.toml:14:19: `epsilon_per_day`: expected a number above 0",
        "familydns.toml:15:13: `threshold`: must be a whole number",
        "familydns.toml:16:9: `token`: too short",
        "family.toml:1:8: `kind`: expected one of \"household\", \"child\"",
    ] {
        assert!(errors.contains(expected), "{expected}\nnot in\n{errors}");
    }
}
