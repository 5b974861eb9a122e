//! A compact classifier of names that no list has seen yet.
//!
//! Lists only know the names someone has reported; new adult and gambling sites appear every
//! day under names that say what they are (`hot-cams-live.xyz`, `bet365-casino.site`). This
//! model scores the *registrable label* of a name (`pornhub` in `www.pornhub.com`) with one
//! logistic regression per category over hashed character 3–5-grams, the label's
//! hyphen-separated parts, its suffix and a few shape features. It is pure (no I/O), costs
//! one pass over the label plus one table read per feature, and allocates nothing.
//!
//! The model file is trained by `cargo run --example build_lists` from the bundled category
//! lists (positives) and the Umbrella ranking (negatives); each category carries the
//! threshold chosen there for precision. Format (little endian):
//! `FDNSCLS1`, `u32` bucket bits, `u32` category count, then per category a `u8` name length,
//! the name, `f32` bias, `f32` weight scale, `f32` threshold; then per category
//! `2^bits` `i8` weights (weight = `i8 × scale`).

/// Magic bytes and version of the model format.
const MAGIC: &[u8; 8] = b"FDNSCLS1";
/// Categories a model may hold; scores are summed in a fixed array of this size.
pub const MAX_CATEGORIES: usize = 8;
/// Bucket bits a model may use: at least a few thousand buckets, at most 16 MiB per category.
const BITS: std::ops::RangeInclusive<u32> = 10..=24;

/// Second-level labels under which a ccTLD sells names (`example.co.uk`). Without a public
/// suffix list this keeps `co` from becoming the "registrable label" of most British names.
const SECOND_LEVEL: &[&str] = &[
    "ac", "co", "com", "edu", "gen", "go", "gob", "gov", "ltd", "mil", "ne", "net", "nic", "nom",
    "or", "org", "plc", "sch",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClassifierError {
    #[error("classifier model: not a familydns model (bad magic)")]
    BadMagic,
    #[error("classifier model: truncated")]
    Truncated,
    #[error("classifier model: bucket bits {0} out of range")]
    BadBits(u32),
    #[error("classifier model: {0} categories (1 to {MAX_CATEGORIES} allowed)")]
    BadCategoryCount(u32),
    #[error("classifier model: category name is not UTF-8")]
    BadCategoryName,
    #[error("classifier model: {0} bytes after the end")]
    TrailingBytes(usize),
}

/// One category's model.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryModel {
    pub name: String,
    pub bias: f32,
    /// A weight is `weights[b] as f32 * scale`.
    pub scale: f32,
    /// Probability at or above which a name is classified in this category.
    pub threshold: f32,
    pub weights: Box<[i8]>,
}

impl CategoryModel {
    /// Quantises trained weights to `i8` (largest magnitude → 127).
    pub fn quantise(name: &str, bias: f32, threshold: f32, weights: &[f32]) -> CategoryModel {
        let max = weights.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        CategoryModel {
            name: name.to_owned(),
            bias,
            scale,
            threshold,
            weights: weights
                .iter()
                .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8)
                .collect(),
        }
    }
}

/// A category and the model's probability for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict<'a> {
    pub category: &'a str,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    bits: u32,
    categories: Vec<CategoryModel>,
}

impl Classifier {
    /// Builds a model from per-category parts; every part must have `2^bits` weights.
    pub fn new(bits: u32, categories: Vec<CategoryModel>) -> Result<Classifier, ClassifierError> {
        if !BITS.contains(&bits) {
            return Err(ClassifierError::BadBits(bits));
        }
        if categories.is_empty() || categories.len() > MAX_CATEGORIES {
            return Err(ClassifierError::BadCategoryCount(categories.len() as u32));
        }
        if categories.iter().any(|c| c.weights.len() != 1 << bits) {
            return Err(ClassifierError::Truncated);
        }
        Ok(Classifier { bits, categories })
    }

    /// Reads a model written by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Classifier, ClassifierError> {
        let mut r = Reader(bytes);
        if r.take(MAGIC.len())? != MAGIC {
            return Err(ClassifierError::BadMagic);
        }
        let bits = r.u32()?;
        if !BITS.contains(&bits) {
            return Err(ClassifierError::BadBits(bits));
        }
        let count = r.u32()?;
        if count == 0 || count as usize > MAX_CATEGORIES {
            return Err(ClassifierError::BadCategoryCount(count));
        }
        let mut heads = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let len = r.take(1)?[0] as usize;
            let name = std::str::from_utf8(r.take(len)?)
                .map_err(|_| ClassifierError::BadCategoryName)?
                .to_owned();
            heads.push((name, r.f32()?, r.f32()?, r.f32()?));
        }
        let mut categories = Vec::with_capacity(heads.len());
        for (name, bias, scale, threshold) in heads {
            let weights = r.take(1 << bits)?.iter().map(|&b| b as i8).collect();
            categories.push(CategoryModel {
                name,
                bias,
                scale,
                threshold,
                weights,
            });
        }
        if !r.0.is_empty() {
            return Err(ClassifierError::TrailingBytes(r.0.len()));
        }
        Ok(Classifier { bits, categories })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend(self.bits.to_le_bytes());
        out.extend((self.categories.len() as u32).to_le_bytes());
        for c in &self.categories {
            out.push(c.name.len() as u8);
            out.extend(c.name.as_bytes());
            for v in [c.bias, c.scale, c.threshold] {
                out.extend(v.to_le_bytes());
            }
        }
        for c in &self.categories {
            out.extend(c.weights.iter().map(|&w| w as u8));
        }
        out
    }

    pub fn bits(&self) -> u32 {
        self.bits
    }

    pub fn categories(&self) -> &[CategoryModel] {
        &self.categories
    }

    /// Sets the threshold of `category`; false when the model has no such category.
    pub fn set_threshold(&mut self, category: &str, threshold: f32) -> bool {
        match self.categories.iter_mut().find(|c| c.name == category) {
            Some(c) => {
                c.threshold = threshold;
                true
            }
            None => false,
        }
    }

    /// The probability of each category for `name` (lowercase, no trailing dot), in model
    /// order. Only the first [`MAX_CATEGORIES`] entries of the array are meaningful.
    pub fn scores(&self, name: &str) -> [f32; MAX_CATEGORIES] {
        let mut sums = [0f32; MAX_CATEGORIES];
        for (s, c) in sums.iter_mut().zip(&self.categories) {
            *s = c.bias;
        }
        features(name, self.bits, |b| {
            for (s, c) in sums.iter_mut().zip(&self.categories) {
                *s += c.weights[b as usize] as f32 * c.scale;
            }
        });
        sums.map(sigmoid)
    }

    /// The category whose threshold `name` reaches with the highest score, if any. Names
    /// under [`INSTITUTIONAL`] suffixes are never classified.
    pub fn classify(&self, name: &str) -> Option<Verdict<'_>> {
        if institutional(name) {
            return None;
        }
        let scores = self.scores(name);
        self.categories
            .iter()
            .zip(scores)
            .filter(|(c, s)| *s >= c.threshold)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(c, score)| Verdict {
                category: &c.name,
                score,
            })
    }
}

/// Suffixes that only vetted institutions can register (universities, schools, governments,
/// health services). Character n-grams cannot tell `essex.ac.uk` from an adult site (the
/// "Scunthorpe problem"), and no adult or gambling site lives under these.
pub const INSTITUTIONAL: &[&str] = &[
    "ac.uk",
    "gov.uk",
    "nhs.uk",
    "sch.uk",
    "police.uk",
    "mod.uk",
    "edu",
    "gov",
    "mil",
    "int",
    "edu.au",
    "gov.au",
    "ac.nz",
    "govt.nz",
    "school.nz",
    "gc.ca",
    "ac.jp",
    "go.jp",
    "ac.kr",
    "go.kr",
    "ac.in",
    "gov.in",
    "edu.cn",
    "gov.cn",
    "ac.za",
    "gov.za",
    "edu.br",
    "gov.br",
    "gouv.fr",
    "edu.sg",
    "gov.sg",
    "ac.il",
    "gov.il",
    "europa.eu",
];

/// Whether `name` is, or is under, an [`INSTITUTIONAL`] suffix.
pub fn institutional(name: &str) -> bool {
    INSTITUTIONAL.iter().any(|s| {
        name.strip_suffix(s)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
    })
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The registrable label of `name` and the public suffix after it, by the heuristic above:
/// `www.pornhub.com` → (`pornhub`, `com`), `shop.example.co.uk` → (`example`, `co.uk`).
pub fn registrable(name: &str) -> (&str, &str) {
    let mut dots = name.rmatch_indices('.').map(|(i, _)| i);
    let Some(last) = dots.next() else {
        return (name, "");
    };
    let second = dots.next();
    let label_of = |end: usize, start: Option<usize>| &name[start.map_or(0, |s| s + 1)..end];
    let sld = label_of(last, second);
    let tld = &name[last + 1..];
    if tld.len() == 2
        && SECOND_LEVEL.contains(&sld)
        && let Some(second) = second
    {
        return (label_of(second, dots.next()), &name[second + 1..]);
    }
    (sld, tld)
}

/// Calls `f` with the bucket (`< 2^bits`) of every feature of `name`. Shared by the runtime
/// and the trainer, so the two cannot drift apart.
pub fn features(name: &str, bits: u32, mut f: impl FnMut(u32)) {
    let (label, suffix) = registrable(name);
    let mut emit = |ns: u8, bytes: &[u8]| f(bucket(ns, bytes, bits));
    // `^label$`, so n-grams at the edges differ from the same letters inside a word.
    let mut framed = [0u8; 66];
    let label = &label.as_bytes()[..label.len().min(64)];
    framed[0] = b'^';
    framed[1..=label.len()].copy_from_slice(label);
    framed[label.len() + 1] = b'$';
    let framed = &framed[..label.len() + 2];
    for n in 3..=5 {
        for gram in framed.windows(n) {
            emit(b'g', gram);
        }
    }
    for part in label.split(|&b| b == b'-').filter(|p| !p.is_empty()) {
        emit(b'p', part);
    }
    emit(b't', suffix.as_bytes());
    emit(b'l', &[label.len().min(30) as u8 / 3]);
    let digits = label.iter().filter(|b| b.is_ascii_digit()).count();
    emit(b'd', &[digits.min(4) as u8]);
}

/// FNV-1a of a namespace byte and the feature bytes, reduced to `bits` by its high bits.
fn bucket(ns: u8, bytes: &[u8], bits: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in std::iter::once(&ns).chain(bytes) {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as u32
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ClassifierError> {
        if self.0.len() < n {
            return Err(ClassifierError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, ClassifierError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn f32(&mut self) -> Result<f32, ClassifierError> {
        Ok(f32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
}

#[cfg(test)]
#[path = "classifier_tests.rs"]
mod tests;
