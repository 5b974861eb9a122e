//! Lookup latency of the compiled matcher against the union of the real lists in
//! `../shared/data`, beside a naive `HashSet<String>` suffix walk as the baseline.
//!
//! Under `cargo test --all-targets` (criterion's test mode) a small union is used so the run
//! stays quick; `cargo bench` loads the full union and prints compile time and memory.
//! Without `../shared/data` (a fresh clone) both use the bundled `blocklists/adult.domains.gz`
//! and a fixed set of popular names, so the bench still builds and runs.

use std::collections::HashSet;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use familydns::config::ListConfig;
use familydns::filter::{Blocklists, CategoryMask};
use familydns::lists::{self, Format, RuleKind};
use familydns::name::QueryName;

/// `../shared/data`, when it is beside the repository.
fn shared_data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    dir.is_dir().then_some(dir)
}

/// The bundled list used when `../shared/data` is not present.
const BUNDLED: &str = "blocklists/adult.domains.gz";

/// Popular names for the query mix when the Umbrella ranking is not present.
const POPULAR_FALLBACK: &[&str] = &[
    "www.google.com",
    "www.youtube.com",
    "api.github.com",
    "www.wikipedia.org",
    "outlook.office365.com",
    "www.khanacademy.org",
    "cdn.jsdelivr.net",
    "time.apple.com",
];

/// The biggest list of each format; together several hundred thousand distinct names.
const FULL: &[(&str, Format)] = &[
    ("domains/hagezi-pro.domains", Format::Domains),
    ("domains/oisd-big.domainswild2.txt", Format::Domains),
    ("domains/hagezi-nsfw.domains", Format::Domains),
    (
        "domains/stevenblack-porn-only-2026-06.domains",
        Format::Domains,
    ),
    ("hosts/stevenblack-unified-2026-08.hosts", Format::Hosts),
    (
        "hosts/stevenblack-gambling-porn-social-2026-08.hosts.gz",
        Format::Hosts,
    ),
    (
        "hosts/hagezi-light-compressed.multihost.hosts",
        Format::Hosts,
    ),
    ("adblock/hagezi-multi.txt", Format::Adblock),
    ("adblock/hagezi-gambling.medium.txt", Format::Adblock),
    ("adblock/adguard-dns-filter-2023-12.txt", Format::Adblock),
    ("bypass/ut1-redirector.domains", Format::Domains),
    ("categories/ut1/gambling.domains", Format::Domains),
    ("categories/ut1/games.domains", Format::Domains),
];
const SMALL: &[(&str, Format)] = &[("domains/hagezi-nsfw.domains", Format::Domains)];

/// The lists of the union: `files` in `../shared/data`, or the bundled list without it.
fn union_files(files: &[(&str, Format)]) -> Vec<(PathBuf, Format)> {
    match shared_data() {
        Some(dir) => files.iter().map(|(p, f)| (dir.join(p), *f)).collect(),
        None => {
            eprintln!("../shared/data is not present: using the bundled {BUNDLED}");
            vec![(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(BUNDLED),
                Format::Domains,
            )]
        }
    }
}

fn list_configs(files: &[(PathBuf, Format)]) -> Vec<ListConfig> {
    files
        .iter()
        .enumerate()
        .map(|(i, (p, f))| ListConfig {
            name: format!("list{i}"),
            category: format!("cat{i}"),
            source: p.clone(),
            format: *f,
            url: None,
            refresh: std::time::Duration::ZERO,
        })
        .collect()
}

/// A field of /proc/self/status in KiB (0 where there is no procfs).
fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The naive baseline: every rule name in a `HashSet<String>`, probed once per suffix.
fn naive(files: &[(PathBuf, Format)]) -> HashSet<String> {
    let mut set = HashSet::new();
    for (p, f) in files {
        let text = lists::read_list(p).unwrap();
        lists::parse_str(&text, *f, |r| {
            if r.kind == RuleKind::Block {
                set.insert(r.name);
            }
        });
    }
    set
}

fn naive_lookup(set: &HashSet<String>, name: &str) -> bool {
    let mut rest = name;
    loop {
        if set.contains(rest) {
            return true;
        }
        match rest.find('.') {
            Some(i) => rest = &rest[i + 1..],
            None => return false,
        }
    }
}

/// A realistic mix: popular (mostly allowed) names, blocked names, deep subdomains of both.
fn query_mix(set: &HashSet<String>) -> Vec<String> {
    let ranking = shared_data()
        .and_then(|d| std::fs::read_to_string(d.join("ranking/cisco-umbrella-top-100k.txt")).ok());
    let popular: Vec<&str> = match &ranking {
        Some(r) => r.lines().step_by(50).take(2000).collect(),
        None => POPULAR_FALLBACK.to_vec(),
    };
    let blocked: Vec<&String> = set
        .iter()
        .step_by((set.len() / 1000).max(1))
        .take(1000)
        .collect();
    let mut mix = Vec::new();
    for (i, p) in popular.iter().enumerate() {
        mix.push(p.to_string());
        if i % 4 == 0 {
            mix.push(format!("a1.cdn-{i}.edge.{p}"));
        }
    }
    for (i, b) in blocked.iter().enumerate() {
        mix.push(b.to_string());
        if i % 2 == 0 {
            mix.push(format!("x{i}.img.{b}"));
        }
    }
    mix
}

fn bench(c: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let files = union_files(if full { FULL } else { SMALL });
    let configs = list_configs(&files);
    // The allocator as the server sets it up: what a rebuild gives back depends on it.
    familydns::reload::tune_malloc();

    let rss_before = proc_status_kib("VmRSS");
    let start = Instant::now();
    let blocklists = Blocklists::load(&configs, false);
    let compile = start.elapsed();
    let rss_steady = proc_status_kib("VmRSS");
    let peak_first = proc_status_kib("VmHWM");
    // A reload builds the next snapshot beside the live one.
    let second = Blocklists::load(&configs, false);
    let peak_rebuild = proc_status_kib("VmHWM");
    drop(second);
    eprintln!(
        "RSS: before {rss_before} KiB, with the union {rss_steady} KiB (+{} KiB); peak during the first build {peak_first} KiB; peak while a second is built beside it {peak_rebuild} KiB = {:.2}x steady",
        rss_steady - rss_before,
        peak_rebuild as f64 / rss_steady as f64
    );
    let rules: u64 = blocklists.lists.iter().map(|l| l.stats.rules).sum();
    let set = naive(&files);
    let names = blocklists.matcher.len();
    let heap = blocklists.matcher.heap_bytes();
    let naive_heap: usize = set.iter().map(|s| s.capacity() + 24 + 8).sum();
    eprintln!(
        "union: {rules} rules, {names} distinct names; compile {:.2} s; matcher heap {:.1} MiB = {:.1} B/name; naive HashSet ~{:.1} B/name",
        compile.as_secs_f64(),
        heap as f64 / 1048576.0,
        heap as f64 / names as f64,
        naive_heap as f64 / set.len() as f64
    );

    let mix = query_mix(&set);
    let all: CategoryMask = u64::MAX;
    // Both must agree on what is blocked (exceptions aside, which the baseline ignores).
    let disagree = mix
        .iter()
        .filter(|n| {
            blocklists
                .matcher
                .lookup(n, all)
                .is_some_and(|h| h.kind != RuleKind::Allow)
                != naive_lookup(&set, n)
        })
        .count();
    eprintln!(
        "query mix: {} names, {disagree} disagreements with the baseline",
        mix.len()
    );
    // A fast matcher that blocks the wrong names is no result: the run fails instead.
    assert_eq!(disagree, 0, "the matcher and the naive baseline disagree");

    let five_labels = "a1.images.cdn.example-site.com";
    let mut g = c.benchmark_group("lookup");
    g.bench_function("familydns/mix", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % mix.len();
            black_box(blocklists.matcher.lookup(black_box(&mix[i]), all))
        })
    });
    g.bench_function("naive_hashset/mix", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % mix.len();
            black_box(naive_lookup(&set, black_box(&mix[i])))
        })
    });
    g.bench_function("familydns/5_labels", |b| {
        b.iter(|| black_box(blocklists.matcher.lookup(black_box(five_labels), all)))
    });
    g.bench_function("naive_hashset/5_labels", |b| {
        b.iter(|| black_box(naive_lookup(&set, black_box(five_labels))))
    });
    // The server's path: labels as they come off the wire, lowercased and hashed once, then
    // probed.
    let wire: Vec<Vec<&[u8]>> = mix
        .iter()
        .map(|n| n.split('.').map(str::as_bytes).collect())
        .collect();
    g.bench_function("familydns/mix_wire_labels", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % wire.len();
            let name = QueryName::from_labels(black_box(&wire[i]).iter().copied());
            black_box(
                blocklists
                    .matcher
                    .lookup_fingerprints(name.fingerprints().as_slice(), all),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
