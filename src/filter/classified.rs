//! The classifier as a filter layer: which of a profile's blocked categories the model
//! speaks for, and the verdict for a name no rule matched.

use super::CategoryMask;
use super::classifier::{Classifier, ClassifierError, MAX_CATEGORIES, institutional};

/// A model bound to the categories of the loaded lists.
#[derive(Debug)]
pub struct ClassifierLayer {
    model: Classifier,
    /// Category bit of each model category (0 when no list has the category).
    masks: [CategoryMask; MAX_CATEGORIES],
    /// All of them: a profile blocking none of these never runs the model.
    any: CategoryMask,
}

/// What the model said about a name: its category (index in the model) and probability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    pub category: u8,
    /// Probability in thousandths (an integer keeps decisions comparable with `Eq`).
    pub score_milli: u16,
}

impl ClassifierLayer {
    /// Reads a model and binds its categories through `mask_for`.
    pub fn new(
        bytes: &[u8],
        mask_for: impl Fn(&str) -> CategoryMask,
    ) -> Result<ClassifierLayer, ClassifierError> {
        let model = Classifier::from_bytes(bytes)?;
        let mut masks = [0; MAX_CATEGORIES];
        for (mask, category) in masks.iter_mut().zip(model.categories()) {
            *mask = mask_for(&category.name);
        }
        let any = masks.iter().fold(0, |a, m| a | m);
        Ok(ClassifierLayer { model, masks, any })
    }

    /// The highest-scoring category among `active` whose threshold `name` reaches. Names
    /// under institutional suffixes (universities, governments) are never classified.
    pub fn classify(&self, name: &str, active: CategoryMask) -> Option<Classified> {
        if self.any & active == 0 || institutional(name) {
            return None;
        }
        let scores = self.model.scores(name);
        self.model
            .categories()
            .iter()
            .zip(scores)
            .zip(self.masks)
            .enumerate()
            .filter(|(_, ((c, score), mask))| mask & active != 0 && *score >= c.threshold)
            .max_by(|a, b| a.1.0.1.total_cmp(&b.1.0.1))
            .map(|(i, ((_, score), _))| Classified {
                category: i as u8,
                score_milli: (score * 1000.0).round() as u16,
            })
    }

    /// The name of a model category.
    pub fn category_name(&self, category: u8) -> &str {
        &self.model.categories()[usize::from(category)].name
    }
}
