//! The compiled, immutable filter data: every list in one [`DomainMatcher`], shared by all
//! profiles. A profile selects lists with a bit mask, so no entry is ever copied per profile.

pub mod classifier;
mod matcher;
mod patterns;
mod table;

pub use matcher::{DomainMatcher, Hit, MatcherBuilder};
pub use patterns::{PatternBuilder, PatternHit, PatternRules};

use std::collections::HashMap;
use std::path::PathBuf;

use crate::config::ListConfig;
use crate::lists::{self, Format, ParseStats, RuleKind};
use crate::policy::SpecialNames;

/// Lists are selected by the bits of a `u64`.
pub const MAX_LISTS: usize = 64;

/// A set of lists, as bits.
pub type ListMask = u64;

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
    pub matcher: DomainMatcher,
    /// Regex and keyword rules.
    pub patterns: PatternRules,
    /// Safe-search hosts and bypass canaries (built in).
    pub special: SpecialNames,
    /// (name fingerprint, list, kind) → line; kept only when asked for (`familydns check`),
    /// because the server needs the list for its answers but never the line.
    provenance: Option<HashMap<(u64, u8, RuleKind), u32>>,
}

impl Blocklists {
    /// Reads and compiles `lists`. A list that cannot be read is recorded with its error and
    /// contributes nothing; the caller decides whether that is fatal.
    pub fn load(lists: &[ListConfig], keep_provenance: bool) -> Blocklists {
        assert!(
            lists.len() <= MAX_LISTS,
            "config validation caps the number of lists"
        );
        let mut builder = MatcherBuilder::default();
        let mut patterns = PatternBuilder::default();
        let mut provenance = keep_provenance.then(HashMap::new);
        let mut infos = Vec::with_capacity(lists.len());
        for (id, list) in lists.iter().enumerate() {
            let id = id as u8;
            let mut info = ListInfo {
                name: list.name.clone(),
                category: list.category.clone(),
                source: list.source.clone(),
                format: list.format,
                stats: ParseStats::default(),
                error: None,
            };
            match lists::read_list(&list.source) {
                Ok(text) => {
                    info.stats = lists::parse_str(&text, list.format, |rule| {
                        if matches!(rule.kind, RuleKind::Regex | RuleKind::Keyword) {
                            patterns.add(id, rule.kind, rule.name, rule.line);
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
            matcher: builder.build(),
            patterns,
            special: SpecialNames::new(),
            provenance,
        }
    }

    /// Mask of the lists whose category is in `categories`.
    pub fn mask_for<'a>(&self, categories: impl IntoIterator<Item = &'a str>) -> ListMask {
        let wanted: Vec<&str> = categories.into_iter().collect();
        self.lists
            .iter()
            .enumerate()
            .filter(|(_, l)| wanted.contains(&l.category.as_str()))
            .fold(0, |m, (i, _)| m | (1 << i))
    }

    /// Line of the rule behind `hit`, when provenance was kept.
    pub fn line_of(&self, hit: &Hit) -> Option<u32> {
        self.provenance
            .as_ref()?
            .get(&(hit.fingerprint, hit.list, hit.kind))
            .copied()
    }
}
