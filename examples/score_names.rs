//! Prints the shipped classifier's scores for the names given as arguments (or one per line
//! on stdin), to see what the model thinks of a name before it is wired in:
//! `cargo run --example score_names -- www.essex.ac.uk hot-cams.example`.

use std::io::BufRead;

use familydns::filter::classifier::Classifier;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = Classifier::from_bytes(include_bytes!("../blocklists/classifier.bin"))?;
    let mut names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        names = std::io::stdin().lock().lines().collect::<Result<_, _>>()?;
    }
    for name in names {
        let scores = model.scores(&name);
        let verdict = model.classify(&name).map_or("-".to_owned(), |v| {
            format!("{} ({:.3})", v.category, v.score)
        });
        let each: Vec<String> = model
            .categories()
            .iter()
            .zip(scores)
            .map(|(c, s)| format!("{} {s:.3}", c.name))
            .collect();
        println!("{name}\t{}\t{verdict}", each.join("  "));
    }
    Ok(())
}
