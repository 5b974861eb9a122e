//! The compiled, immutable filter data: every list in one [`DomainMatcher`], shared by all
//! profiles. A profile selects categories with a bit mask, so no entry is ever copied per
//! profile, and the number of lists is not bounded by the mask's width.

mod classified;
pub mod classifier;
mod matcher;
mod patterns;
mod table;

pub use classified::{Classified, ClassifierLayer};
pub use matcher::{DomainMatcher, Hit, MatcherBuilder};
pub use patterns::{PatternBuilder, PatternHit, PatternRules};

use std::collections::HashMap;
use std::path::PathBuf;

use crate::config::ListConfig;
use crate::lists::{self, Format, ListError, ParseStats, RuleKind};

/// A set of categories, as bits (by index in [`Blocklists::categories`]).
pub type CategoryMask = u64;

/// What is known about one loaded list.
#[derive(Debug, Clone)]
pub struct ListInfo {
    pub name: String,
    pub category: String,
    pub source: PathBuf,
    pub format: Format,
    pub stats: ParseStats,
    /// Set when the file could not be read; the list then contributes no rules.
    pub error: Option<String>,
}

/// All lists compiled into one matcher, plus where each rule came from.
#[derive(Debug)]
pub struct Blocklists {
    pub lists: Vec<ListInfo>,
    /// Distinct categories, in order of first appearance; bit `i` of a [`CategoryMask`].
    pub categories: Vec<String>,
    pub matcher: DomainMatcher,
    /// Regex and keyword rules.
    pub patterns: PatternRules,
    /// The name classifier, for names no rule matched (`classifier` in the config).
    pub classifier: Option<ClassifierLayer>,
    /// (name fingerprint, list, kind) → line; kept only when asked for (`familydns check`),
    /// because the server needs the list for its answers but never the line.
    provenance: Option<HashMap<(u64, u16, RuleKind), u32>>,
}

impl Blocklists {
    /// Reads and compiles `lists`. A list that cannot be read is recorded with its error and
    /// contributes nothing; the caller decides whether that is fatal.
    pub fn load(lists: &[ListConfig], keep_provenance: bool) -> Blocklists {
        Self::load_with(lists, keep_provenance, |list| {
            lists::read_list(&list.source)
        })
    }

    /// [`load`](Self::load) with the text of each list from `read`: the unit tests of the
    /// policy compile lists written inline, without files.
    pub(crate) fn load_with(
        lists: &[ListConfig],
        keep_provenance: bool,
        mut read: impl FnMut(&ListConfig) -> Result<String, ListError>,
    ) -> Blocklists {
        assert!(
            lists.len() <= crate::config::MAX_LISTS,
            "config validation caps the number of lists"
        );
        let mut categories: Vec<String> = Vec::new();
        let category_of: Vec<u8> = lists
            .iter()
            .map(|l| match categories.iter().position(|c| *c == l.category) {
                Some(i) => i as u8,
                None => {
                    categories.push(l.category.clone());
                    (categories.len() - 1) as u8
                }
            })
            .collect();
        assert!(
            categories.len() <= crate::config::MAX_CATEGORIES,
            "config validation caps the number of categories"
        );
        let mut builder = MatcherBuilder::default();
        let mut patterns = PatternBuilder::default();
        let mut provenance = keep_provenance.then(HashMap::new);
        let mut infos = Vec::with_capacity(lists.len());
        for (id, list) in lists.iter().enumerate() {
            let id = id as u16;
            let mut info = ListInfo {
                name: list.name.clone(),
                category: list.category.clone(),
                source: list.source.clone(),
                format: list.format,
                stats: ParseStats::default(),
                error: None,
            };
            match read(list) {
                Ok(text) => {
                    info.stats = lists::parse_str(&text, list.format, |rule| {
                        if matches!(rule.kind, RuleKind::Regex | RuleKind::Keyword) {
                            let category = category_of[usize::from(id)];
                            patterns.add(id, category, rule.kind, rule.name, rule.line);
                            return;
                        }
                        let fp = builder.add(id, rule.kind, &rule.name);
                        if let Some(p) = provenance.as_mut() {
                            p.entry((fp, id, rule.kind)).or_insert(rule.line);
                        }
                    });
                }
                Err(e) => info.error = Some(e.to_string()),
            }
            infos.push(info);
        }
        let (patterns, error) = patterns.build();
        if let Some(e) = error {
            tracing::warn!(error = %e, "pattern rules");
        }
        Blocklists {
            lists: infos,
            categories,
            matcher: builder.build_with_categories(&category_of),
            classifier: None,
            patterns,
            provenance,
        }
    }

    /// Mask of `categories` (those no list has are left out).
    pub fn mask_for<'a>(&self, categories: impl IntoIterator<Item = &'a str>) -> CategoryMask {
        categories
            .into_iter()
            .filter_map(|c| self.categories.iter().position(|known| known == c))
            .fold(0, |m, i| m | (1 << i))
    }

    /// Line of the rule behind `hit`, when provenance was kept.
    pub fn line_of(&self, hit: &Hit) -> Option<u32> {
        self.provenance
            .as_ref()?
            .get(&(hit.fingerprint, hit.list, hit.kind))
            .copied()
    }
}
