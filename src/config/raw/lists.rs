//! `[[list]]` and the top-level `classifier`: what the filter is built from. Local lists must
//! exist; downloaded ones are read from their cached copy in `cache_dir`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::Check;
use crate::config::exchange::{FEED_SCHEME, FeedSource, TsigKeyConfig};
use crate::config::{ListConfig, MAX_CATEGORIES, MAX_LISTS, parse_duration};
use crate::lists::Format;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawList {
    name: Spanned<String>,
    category: Spanned<String>,
    source: Spanned<String>,
    #[serde(default)]
    format: Format,
    refresh: Option<Spanned<String>>,
}

/// Refresh period of downloaded lists when the config gives none.
const DEFAULT_REFRESH: Duration = Duration::from_secs(24 * 3600);
/// Refresh period of RPZ feeds: an IXFR that finds the copy current costs one SOA record,
/// and it catches a change whose NOTIFY was lost (our feed's SOA refresh is the same).
const DEFAULT_FEED_REFRESH: Duration = Duration::from_secs(300);

/// The classifier's model file, relative to the config's directory; it must exist.
pub(super) fn classifier(c: &mut Check<'_>, base: &Path, file: &Spanned<String>) -> PathBuf {
    let path = base.join(file.get_ref());
    if !path.is_file() {
        c.err(
            file,
            Some("classifier"),
            format!("model file {} does not exist", path.display()),
        );
    }
    path
}

/// Every `[[list]]`, in order: names must be unique, and there may be at most [`MAX_LISTS`].
pub(super) fn lists(
    c: &mut Check<'_>,
    raw: &[RawList],
    base: &Path,
    cache_dir: &Path,
    keys: &[TsigKeyConfig],
) -> Vec<ListConfig> {
    let mut names = BTreeSet::new();
    let mut lists = Vec::new();
    for l in raw {
        if !names.insert(l.name.get_ref().clone()) {
            c.err(
                &l.name,
                Some("name"),
                format!("list `{}` is defined twice", l.name.get_ref()),
            );
        }
        lists.push(list(c, l, base, cache_dir, keys));
    }
    if lists.len() > MAX_LISTS {
        c.file_err(format!(
            "{} lists configured; at most {MAX_LISTS} are supported",
            lists.len(),
        ));
    }
    lists
}

fn list(
    c: &mut Check<'_>,
    l: &RawList,
    base: &Path,
    cache_dir: &Path,
    keys: &[TsigKeyConfig],
) -> ListConfig {
    let src = l.source.get_ref();
    let refresh = match &l.refresh {
        None if src.starts_with(FEED_SCHEME) => DEFAULT_FEED_REFRESH,
        None => DEFAULT_REFRESH,
        Some(r) => parse_duration(r.get_ref()).unwrap_or_else(|| {
            c.err(
                r,
                Some("refresh"),
                "expected a duration such as \"24h\", \"90m\" or \"1d\"",
            );
            DEFAULT_REFRESH
        }),
    };
    let mut format = l.format;
    if src.starts_with(FEED_SCHEME) {
        // An RPZ feed: transferred into the cache, read there as an RPZ zone.
        match FeedSource::parse(src) {
            Ok(feed) if feed.key.is_some() => {
                super::exchange::known_key(c, keys, &l.source, "source");
            }
            Ok(_) => {}
            Err(e) => c.err(&l.source, Some("source"), e.to_string()),
        }
        format = Format::Rpz;
    }
    let (source, url) = if src.starts_with("http://")
        || src.starts_with("https://")
        || src.starts_with(FEED_SCHEME)
    {
        // Downloaded lists live in the cache; the snapshot reads the cached copy.
        (
            cache_dir.join(cache_file_name(l.name.get_ref())),
            Some(src.clone()),
        )
    } else {
        let path = base.join(src);
        if !path.is_file() {
            c.err(
                &l.source,
                Some("source"),
                format!("list file {} does not exist", path.display()),
            );
        }
        (path, None)
    };
    ListConfig {
        name: l.name.get_ref().clone(),
        category: l.category.get_ref().clone(),
        source,
        format,
        url,
        refresh,
    }
}

/// The categories the lists declare, which profiles may block; at most [`MAX_CATEGORIES`].
pub(super) fn categories(c: &mut Check<'_>, lists: &[ListConfig]) -> BTreeSet<String> {
    let categories: BTreeSet<String> = lists.iter().map(|l| l.category.clone()).collect();
    if categories.len() > MAX_CATEGORIES {
        c.file_err(format!(
            "{} list categories configured; at most {MAX_CATEGORIES} are supported",
            categories.len(),
        ));
    }
    categories
}

/// The cache file of a downloaded list: its name, made safe for a file name by an escape that
/// is one-to-one, so that two lists (`a.b` and `a_b`) never share a cache file and overwrite
/// each other. ASCII letters, digits and `-` stay; every other byte, `_` included, becomes
/// `_` and two hex digits (`a.b` → `a_2eb`, `a_b` → `a_5fb`).
fn cache_file_name(list: &str) -> String {
    let mut safe = String::with_capacity(list.len());
    for b in list.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            safe.push(char::from(b));
        } else {
            safe.push_str(&format!("_{b:02x}"));
        }
    }
    format!("{safe}.list")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_file_names_never_collide() {
        assert_eq!(cache_file_name("a.b"), "a_2eb.list");
        assert_eq!(cache_file_name("a_b"), "a_5fb.list");
        assert_eq!(cache_file_name("hagezi-pro"), "hagezi-pro.list");
        let names = ["a.b", "a_b", "a b", "a/b", "a_2eb", "a__b", "é", "_c3_a9"];
        let files: BTreeSet<String> = names.iter().map(|n| cache_file_name(n)).collect();
        assert_eq!(files.len(), names.len(), "{files:?}");
    }
}
