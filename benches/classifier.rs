//! Cost of classifying one name with the shipped model (`blocklists/classifier.bin`): the
//! layer runs only on names that would otherwise be forwarded, so this is added to each
//! such query. Names are the Umbrella ranking's (real, mostly benign), cycled so that no
//! single name stays hot in the branch predictor.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use familydns::filter::classifier::Classifier;

const MODEL: &[u8] = include_bytes!("../blocklists/classifier.bin");

fn names() -> Vec<String> {
    let ranking = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/ranking/cisco-umbrella-top-100k.txt");
    match std::fs::read_to_string(ranking) {
        Ok(text) => text.lines().take(4096).map(str::to_owned).collect(),
        // Without the team's data the bench still runs, on a few fixed shapes.
        Err(_) => [
            "www.example.com",
            "cdn.best-casino-bonus.site",
            "a.b.example.co.uk",
        ]
        .map(str::to_owned)
        .to_vec(),
    }
}

fn bench(c: &mut Criterion) {
    let model = Classifier::from_bytes(MODEL).expect("the shipped model loads");
    let names = names();
    let mut i = 0;
    c.bench_function("classifier: classify one ranking name", |b| {
        b.iter(|| {
            i = (i + 1) % names.len();
            black_box(model.classify(black_box(&names[i])).is_some())
        })
    });
    c.bench_function("classifier: load model", |b| {
        b.iter(|| Classifier::from_bytes(black_box(MODEL)).map(|m| m.bits()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
