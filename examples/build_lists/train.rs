//! Logistic regression over the classifier's hashed features, trained with AdaGrad (sparse
//! features get their own step sizes), then quantised and given a threshold chosen for
//! precision on validation names the training never saw.

use familydns::filter::classifier::{CategoryModel, Classifier, features};

const EPOCHS: usize = 6;
const RATE: f32 = 0.2;
/// Weight of a popular (ranking) negative against a list positive: a false block of a
/// popular site costs more than a missed obscure one.
pub const RANKING_WEIGHT: f32 = 4.0;
/// Largest share of validation names the threshold may block: half the 0.1 % target, as a
/// margin for the top names, which the threshold never sees.
pub const MAX_FALSE_POSITIVES: f64 = 0.0005;

struct Example {
    features: Vec<u32>,
    positive: bool,
    weight: f32,
}

/// Trains one category. `negatives` carry their example weight.
pub fn train(bits: u32, positives: &[String], negatives: &[(String, f32)]) -> (f32, Vec<f32>) {
    let example = |name: &str, positive, weight| {
        let mut f = Vec::new();
        features(name, bits, |b| f.push(b));
        Example {
            features: f,
            positive,
            weight,
        }
    };
    let mut data: Vec<Example> = positives
        .iter()
        .map(|n| example(n, true, 1.0))
        .chain(negatives.iter().map(|(n, w)| example(n, false, *w)))
        .collect();
    // A fixed xorshift shuffle: the same inputs give the same model.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in (1..data.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let mut weights = vec![0f32; 1 << bits];
    let mut squares = vec![1e-6f32; 1 << bits];
    let (mut bias, mut bias_square) = (0f32, 1e-6f32);
    for _ in 0..EPOCHS {
        for ex in &data {
            let z = bias
                + ex.features
                    .iter()
                    .map(|&b| weights[b as usize])
                    .sum::<f32>();
            let p = 1.0 / (1.0 + (-z).exp());
            let g = (p - if ex.positive { 1.0 } else { 0.0 }) * ex.weight;
            for &b in &ex.features {
                let b = b as usize;
                squares[b] += g * g;
                weights[b] -= RATE * g / squares[b].sqrt();
            }
            bias_square += g * g;
            bias -= RATE * g / bias_square.sqrt();
        }
    }
    (bias, weights)
}

/// The lowest threshold (the next value above a validation score, so the name at the cut
/// is not blocked) that blocks at most [`MAX_FALSE_POSITIVES`] of `validation_scores`
/// (never below one half).
pub fn threshold(mut validation_scores: Vec<f32>) -> f32 {
    validation_scores.sort_by(|a, b| b.total_cmp(a));
    let allowed = (validation_scores.len() as f64 * MAX_FALSE_POSITIVES) as usize;
    let t = validation_scores.get(allowed).map_or(0.5, |s| s.next_up());
    t.max(0.5)
}

/// Trains, quantises and sets the threshold of one category: the highest of the thresholds
/// that each validation set (popular names, benign list names) allows.
pub fn category(
    name: &str,
    bits: u32,
    positives: &[String],
    negatives: &[(String, f32)],
    validation: &[&[String]],
) -> CategoryModel {
    let (bias, weights) = train(bits, positives, negatives);
    let model = CategoryModel::quantise(name, bias, 1.0, &weights);
    let mut one = Classifier::new(bits, vec![model]).expect("a valid one-category model");
    let t = validation
        .iter()
        .map(|set| threshold(set.iter().map(|n| one.scores(n)[0]).collect()))
        .fold(0.5, f32::max);
    one.set_threshold(name, t);
    one.categories()[0].clone()
}
