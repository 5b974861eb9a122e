//! The accepted names, compiled for the query path: the local list of each category that
//! complaints make. Immutable once built; a decision builds a new one and swaps it in, so a
//! query reads it with one atomic load and no lock, as it reads the timed exceptions.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::name::{self, QueryName};

/// What the exchange publishes: category → accepted names (lowercase ASCII, no trailing
/// dot). Names and categories only: never who complained, nor why.
pub type Feed = Arc<BTreeMap<String, BTreeSet<String>>>;

/// One accepted complaint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    /// Normalised (see [`name::normalize`]); it covers its subdomains.
    pub name: String,
    pub category: String,
    /// Who accepted it (a token's name, or the parents' page), for `familydns check`.
    pub decided_by: String,
}

/// Every accepted name, by the fingerprint of the name.
#[derive(Debug, Default)]
pub struct Accepted {
    entries: Vec<Entry>,
    /// Fingerprint of an accepted name → indexes in `entries` (one name may be accepted in
    /// several categories).
    by_name: HashMap<u64, Vec<u32>>,
}

impl Accepted {
    pub fn new(entries: Vec<Entry>) -> Accepted {
        let mut by_name: HashMap<u64, Vec<u32>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            let i = u32::try_from(i).expect("bounded by max_accepted");
            by_name
                .entry(name::fingerprint(&e.name))
                .or_default()
                .push(i);
        }
        Accepted { entries, by_name }
    }

    pub fn entry(&self, index: u32) -> &Entry {
        &self.entries[index as usize]
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries that cover `name` (the name itself or a parent) in a category for which
    /// `blocks` is true, most specific name first. Costs nothing while nothing is accepted.
    pub fn matching<'a>(
        &'a self,
        name: &'a QueryName,
        blocks: impl Fn(&str) -> bool + 'a,
    ) -> impl Iterator<Item = u32> + 'a {
        let fps = if self.by_name.is_empty() {
            &[][..]
        } else {
            name.fingerprints().as_slice()
        };
        fps.iter()
            .enumerate()
            .rev()
            .filter_map(|(i, fp)| Some((i, self.by_name.get(fp)?)))
            .flat_map(|(i, hits)| hits.iter().map(move |&h| (i, h)))
            // A fingerprint collision must not block an unrelated name.
            .filter(move |&(i, h)| self.entry(h).name == name.suffix(i + 1))
            .filter(move |&(_, h)| blocks(&self.entry(h).category))
            .map(|(_, h)| h)
    }

    /// The set as the exchange publishes it.
    pub fn feed(&self) -> Feed {
        let mut feed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for e in &self.entries {
            feed.entry(e.category.clone())
                .or_default()
                .insert(e.name.clone());
        }
        Arc::new(feed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: i64, name: &str, category: &str) -> Entry {
        Entry {
            id,
            name: name.to_owned(),
            category: category.to_owned(),
            decided_by: "reviewer".to_owned(),
        }
    }

    fn ids(a: &Accepted, name: &str, blocked: &[&str]) -> Vec<i64> {
        let q = QueryName::parse(name).unwrap();
        a.matching(&q, |c| blocked.contains(&c))
            .map(|i| a.entry(i).id)
            .collect()
    }

    #[test]
    fn covers_subdomains_in_blocked_categories_only() {
        let a = Accepted::new(vec![
            entry(1, "bad.example", "adult"),
            entry(2, "www.bad.example", "gambling"),
            entry(3, "bad.example", "gambling"),
        ]);
        assert_eq!(
            ids(&a, "WWW.Bad.Example.", &["adult", "gambling"]),
            [2, 1, 3]
        );
        assert_eq!(ids(&a, "x.bad.example", &["adult"]), [1]);
        assert!(ids(&a, "bad.example", &["drugs"]).is_empty());
        assert!(ids(&a, "notbad.example", &["adult"]).is_empty());
        assert!(ids(&a, "example", &["adult"]).is_empty());
    }

    #[test]
    fn feed_has_names_by_category() {
        let a = Accepted::new(vec![
            entry(1, "b.example", "adult"),
            entry(2, "a.example", "adult"),
            entry(3, "c.example", "gambling"),
        ]);
        let feed = a.feed();
        assert_eq!(
            feed["adult"].iter().collect::<Vec<_>>(),
            ["a.example", "b.example"]
        );
        assert_eq!(feed["gambling"].len(), 1);
        assert!(Accepted::default().feed().is_empty());
    }
}
