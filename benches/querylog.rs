//! How fast the query log's writer stores rows, and how big the database gets: rows per
//! second and bytes per million queries, for a realistic mix (a few devices and profiles,
//! names drawn from a few thousand, one query in ten blocked).
//!
//! `cargo bench --bench querylog` writes one million entries; under `cargo test
//! --all-targets` it writes 20,000, so the bench still runs and checks itself.

use std::time::{Duration, Instant};

use familydns::config::LogMode;
use familydns::querylog::{Entry, QueryLog};
use prometheus::IntCounter;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let total: u64 = if full { 1_000_000 } else { 20_000 };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("querylog.db");
    let written = IntCounter::new("written", "written").unwrap();
    let dropped = IntCounter::new("dropped", "dropped").unwrap();
    let log = QueryLog::open(&path, 1 << 20, written.clone(), dropped.clone()).unwrap();
    let start_at: jiff::Timestamp = "2026-11-28T08:00:00Z".parse().unwrap();
    let names: Vec<String> = (0..5000)
        .map(|i| format!("host{}.site{}.example.com", i % 7, i))
        .collect();
    let start = Instant::now();
    for i in 0..total {
        let blocked = i % 10 == 0;
        log.record(Entry {
            at: start_at + Duration::from_millis(i * 20),
            device: format!("192.168.1.{}", 10 + i % 6),
            profile: if i % 3 == 0 { "adults" } else { "kids" }.to_owned(),
            name: names[(i as usize * 7919) % names.len()].clone(),
            qtype: if i % 2 == 0 { 1 } else { 28 },
            decision: if blocked { "blocked" } else { "allowed" },
            reason: if blocked {
                "category ads (list hagezi-pro)".to_owned()
            } else {
                String::new()
            },
            category: blocked.then(|| "ads".to_owned()),
            micros: 120,
            mode: LogMode::Full,
            keep_days: 7,
        });
    }
    while written.get() + dropped.get() < total {
        std::thread::sleep(Duration::from_millis(10));
    }
    let elapsed = start.elapsed();
    let bytes: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "querylog: {} rows in {:.2} s = {:.0} rows/s; {} dropped; database {:.1} MiB = {:.1} MiB per million queries",
        written.get(),
        elapsed.as_secs_f64(),
        written.get() as f64 / elapsed.as_secs_f64(),
        dropped.get(),
        bytes as f64 / 1048576.0,
        bytes as f64 / 1048576.0 * 1e6 / total as f64
    );
    assert_eq!(written.get() + dropped.get(), total);
}
