//! Lookup cost of the subscriber directory's table with 5 million prefixes (4M IPv4 /32,
//! 1M IPv6 /56), built in memory: no database needed. `cargo bench --bench directory` also
//! prints the build time and the table's bytes per million subscribers. Under
//! `cargo test --all-targets` (criterion's test mode) 50,000 prefixes keep the run quick.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use familydns::directory::{Key, Loader, Subscribers};

#[path = "shared/subscribers.rs"]
mod subscribers;

fn table(n: usize) -> Subscribers {
    let mut loader = Loader::default();
    for i in 0..n {
        let (prefix, profile) = subscribers::subscriber(i, n);
        loader
            .add(Key::Prefix(prefix.parse().unwrap()), profile)
            .unwrap();
    }
    loader.finish()
}

fn bench(c: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 5_000_000 } else { 50_000 };
    let start = Instant::now();
    let t = table(n);
    println!(
        "{n} subscribers: built in {:?}, {} bytes ({} bytes per million)",
        start.elapsed(),
        t.bytes(),
        t.bytes() * 1_000_000 / n
    );
    let v4 = n * 4 / 5;
    // Clients spread over the table, so the searches miss the caches as a busy ISP's do.
    let hosts: Vec<IpAddr> = (0..4096)
        .map(|k| IpAddr::V4(subscribers::v4_host(k * 7919 % v4)))
        .collect();
    let sites: Vec<IpAddr> = (0..4096)
        .map(|k| {
            let net = u128::from(subscribers::v6_delegation(k * 7919 % (n - v4)));
            IpAddr::V6((net | 0x1234).into())
        })
        .collect();
    assert!(
        hosts
            .iter()
            .chain(&sites)
            .all(|&ip| t.profile(ip, None).is_some())
    );
    let mut group = c.benchmark_group(format!("directory {n}"));
    let mut k = 0;
    group.bench_function("ipv4 subscriber", |b| {
        b.iter(|| {
            k = (k + 1) % hosts.len();
            black_box(t.profile(black_box(hosts[k]), None))
        })
    });
    group.bench_function("ipv6 subscriber", |b| {
        b.iter(|| {
            k = (k + 1) % sites.len();
            black_box(t.profile(black_box(sites[k]), None))
        })
    });
    let stranger: IpAddr = "192.0.2.1".parse().unwrap();
    group.bench_function("not a subscriber", |b| {
        b.iter(|| black_box(t.profile(black_box(stranger), None)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
