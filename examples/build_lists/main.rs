//! Builds the bundled blocklists from public lists, reproducibly, and measures them.
//!
//! ```text
//! tools/fetch-sources.sh            # pinned files that ../shared/data lacks
//! cargo run --example build_lists   # [--data DIR] [--fetched DIR] [--out DIR] [--no-eval]
//! ```
//!
//! Writes, into `blocklists/`: one `<category>.domains.gz` per category (the union of its
//! sources, names already covered by a parent dropped), `<category>.keywords` for the
//! keyword categories, `classifier.bin`, the generated table of `SOURCES.md`, and
//! `COVERAGE.md` (leave-one-family-out recall and false positives).

mod eval;
mod keywords;
mod names;
mod report;
mod sources;
mod train;

use std::collections::{BTreeMap, HashSet};
use std::error::Error;
use std::io::Write;
use std::path::{Path, PathBuf};

use familydns::filter::classifier::{CategoryModel, Classifier};
use sources::{BENIGN, CLASSIFIED, HARMFUL, KEYWORDS, SOURCES, Source};

/// Buckets of the shipped classifier: 2^17 one-byte weights per category.
pub const BITS: u32 = 17;
/// The ranking's top names, on which false positives are reported; never trained on.
pub const TOP: usize = 10_000;

struct Args {
    data: PathBuf,
    fetched: PathBuf,
    out: PathBuf,
    eval: bool,
}

fn args() -> Result<Args, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut a = Args {
        data: root.join("../shared/data"),
        fetched: root.join("tools/sources"),
        out: root.join("blocklists"),
        eval: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .map(PathBuf::from)
                .ok_or(format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--data" => a.data = value()?,
            "--fetched" => a.fetched = value()?,
            "--out" => a.out = value()?,
            "--no-eval" => a.eval = false,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    Ok(a)
}

/// Every source, loaded.
pub struct Loaded {
    pub sources: Vec<(&'static Source, HashSet<String>)>,
    /// The Umbrella top-100k names, normalised, in rank order.
    pub ranking: Vec<String>,
    /// A quarter of the benign names, kept out of training, to choose thresholds on.
    pub benign_validation: Vec<String>,
    /// Another quarter, seen by nothing, to measure false positives on.
    pub benign_test: HashSet<String>,
}

impl Loaded {
    /// The union of the sources of `category` for which `keep` holds.
    pub fn union(&self, category: &str, keep: impl Fn(&Source) -> bool) -> HashSet<String> {
        let mut set = HashSet::new();
        for (s, names) in &self.sources {
            if s.category == category && keep(s) {
                set.extend(names.iter().cloned());
            }
        }
        set
    }

    /// The names of every category unrelated to `category` (all others but its kin), as
    /// negatives for its keywords.
    pub fn unrelated(&self, category: &str, drop: impl Fn(&Source) -> bool) -> HashSet<String> {
        let kin = |c: &str| c == category || (category == "adult" && c == "dating");
        let mut set = HashSet::new();
        for (s, names) in &self.sources {
            if !kin(s.category) && !drop(s) {
                set.extend(names.iter().cloned());
            }
        }
        set
    }

    /// The union of every harmful category, without the sources `drop` selects.
    pub fn harmful(&self, drop: impl Fn(&Source) -> bool) -> HashSet<String> {
        let mut set = HashSet::new();
        for c in HARMFUL {
            set.extend(self.union(c, |s| !drop(s)));
        }
        set
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = args()?;
    let mut sources = Vec::new();
    for s in SOURCES {
        let names = s.load(&args.data, &args.fetched).map_err(|e| {
            format!("{e} (run tools/fetch-sources.sh for the files ../shared/data lacks)")
        })?;
        eprintln!("{:<28} {:>8} names", s.id, names.len());
        sources.push((s, names));
    }
    honest_categories(&mut sources);
    let harmful: HashSet<String> = sources
        .iter()
        .filter(|(s, _)| HARMFUL.contains(&s.category))
        .flat_map(|(_, n)| n.iter().cloned())
        .collect();
    let (benign_validation, benign_test) = split_benign(&mut sources, &harmful);
    let ranking_path = args.data.join("ranking/cisco-umbrella-top-100k.txt");
    let ranking = familydns::lists::read_list(&ranking_path)?
        .lines()
        .filter_map(|l| familydns::name::normalize(l.trim()).ok())
        .collect();
    let loaded = Loaded {
        sources,
        ranking,
        benign_validation,
        benign_test,
    };

    let mut built = BTreeMap::new();
    let categories: Vec<&str> = SOURCES.iter().map(|s| s.category).collect();
    for category in categories
        .iter()
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
    {
        let names = names::minimise(&loaded.union(category, |_| true));
        let file = format!("{category}.domains.gz");
        write_list(&args.out.join(&file), category, &names)?;
        built.insert(category, (file, names.len()));
    }

    let clean: Vec<String> = loaded
        .ranking
        .iter()
        .filter(|n| !names::covered(&harmful, n))
        .cloned()
        .collect();
    let mut keyword_counts = BTreeMap::new();
    let mut shipped_keywords = BTreeMap::new();
    for category in KEYWORDS {
        let tokens = keywords::choose(
            &loaded.union(category, |_| true),
            &clean,
            &loaded.unrelated(category, |_| false),
        );
        let file = format!("{category}.keywords");
        write_keywords(&args.out.join(&file), category, &tokens)?;
        keyword_counts.insert(*category, (file, tokens.len()));
        shipped_keywords.insert(*category, tokens);
    }

    let models: Vec<CategoryModel> = CLASSIFIED
        .iter()
        .map(|c| eval::classifier(&loaded, c, BITS, |_| false))
        .collect();
    let model = Classifier::new(BITS, models)?;
    let bytes = model.to_bytes();
    std::fs::write(args.out.join("classifier.bin"), &bytes)?;
    eprintln!("classifier.bin: {} bytes", bytes.len());

    report::sources(&args.out.join("SOURCES.md"), &built, &keyword_counts)?;
    if args.eval {
        let text = eval::report(&loaded, &harmful, &shipped_keywords, &model)?;
        std::fs::write(args.out.join("COVERAGE.md"), text)?;
    }
    Ok(())
}

/// Categories that must not carry ad and tracker names: a name an ad list covers is an ad,
/// and blocking it as `malware` or `gambling` would make those categories lie (StevenBlack's
/// unified list made `malware` block `doubleclick.net`).
const NO_ADS: &[&str] = &["malware", "phishing", "gambling"];

/// Entries of security lists that name a popular, legitimate apex. Only the exact entry is
/// dropped; listed names under it stay. `parity.io` is Parity Technologies (Polkadot), listed
/// by UT1 `cryptojacking`; `temporary.site` is Hostinger's preview-site apex, listed by hagezi
/// TIF and UT1 `phishing` for the phishing pages under it.
const NOT_MALWARE: &[&str] = &["parity.io", "temporary.site"];

fn honest_categories(sources: &mut [(&'static Source, HashSet<String>)]) {
    let ads: HashSet<String> = sources
        .iter()
        .filter(|(s, _)| s.category == "ads")
        .flat_map(|(_, n)| n.iter().cloned())
        .collect();
    for (s, names) in sources.iter_mut() {
        if NO_ADS.contains(&s.category) {
            let before = names.len();
            names.retain(|n| !names::covered(&ads, n));
            if matches!(s.category, "malware" | "phishing") {
                names.retain(|n| !NOT_MALWARE.contains(&n.as_str()));
            }
            eprintln!(
                "{:<28} {:>8} ad or allowed names dropped",
                s.id,
                before - names.len()
            );
        }
    }
}

/// Drops the benign names that a harmful list covers (UT1 files some casinos under
/// `shopping`), then splits the rest by a stable hash: half stay in the sources (training), a
/// quarter chooses thresholds, a quarter measures false positives.
fn split_benign(
    sources: &mut [(&'static Source, HashSet<String>)],
    harmful: &HashSet<String>,
) -> (Vec<String>, HashSet<String>) {
    let (mut validation, mut test) = (Vec::new(), HashSet::new());
    for (_, names) in sources.iter_mut().filter(|(s, _)| s.category == BENIGN) {
        for name in std::mem::take(names) {
            if names::covered(harmful, &name) {
                continue;
            }
            match names::stable_hash(&name) % 4 {
                0 | 1 => names.insert(name),
                2 => {
                    validation.push(name);
                    true
                }
                _ => test.insert(name),
            };
        }
    }
    validation.sort_unstable();
    (validation, test)
}

/// Writes a domains list, gzip level 9 with neither file name nor time in the header, so the
/// same names give the same bytes.
fn write_list(path: &Path, category: &str, names: &[String]) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut gz = flate2::GzBuilder::new().write(file, flate2::Compression::best());
    writeln!(
        gz,
        "# familydns bundled list, category {category}: {} entries.",
        names.len()
    )?;
    writeln!(
        gz,
        "# Built by `cargo run --example build_lists`; do not edit."
    )?;
    writeln!(
        gz,
        "# Each entry also blocks its subdomains. Sources (licences in SOURCES.md):"
    )?;
    for s in SOURCES.iter().filter(|s| s.category == category) {
        writeln!(gz, "#   {}: {} ({})", s.id, s.origin, s.licence)?;
    }
    for name in names {
        writeln!(gz, "{name}")?;
    }
    gz.finish()?;
    Ok(())
}

fn write_keywords(path: &Path, category: &str, tokens: &[String]) -> std::io::Result<()> {
    let mut text = format!(
        "# familydns keywords, category {category}: {} tokens, built by `cargo run --example \
         build_lists`.\n# Each starts a part of at least {} listed sites, rarely starts names \
         of unrelated lists, and occurs in no Umbrella top-100k name that no harmful list \
         names.\n",
        tokens.len(),
        keywords::MIN_SUPPORT
    );
    for t in tokens {
        text.push_str(t);
        text.push('\n');
    }
    std::fs::write(path, text)
}
