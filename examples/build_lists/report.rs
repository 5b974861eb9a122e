//! The generated part of `blocklists/SOURCES.md`: every bundled file, its true entry count,
//! and each source with its origin and licence.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use crate::sources::SOURCES;

const BEGIN: &str = "<!-- build_lists: begin -->";
const END: &str = "<!-- build_lists: end -->";

/// Replaces the text between the markers of `path` (or appends it, with the markers).
pub fn sources(
    path: &Path,
    lists: &BTreeMap<&str, (String, usize)>,
    keywords: &BTreeMap<&str, (String, usize)>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut t = String::new();
    writeln!(t, "{BEGIN}")?;
    writeln!(
        t,
        "| file | category | entries | sources (origin repository @ commit) | licences |"
    )?;
    writeln!(t, "|---|---|---:|---|---|")?;
    for (category, (file, count)) in lists {
        let own: Vec<_> = SOURCES.iter().filter(|s| s.category == *category).collect();
        let origins: Vec<String> = own
            .iter()
            .map(|s| format!("`{}`: {} : `{}`", s.id, s.origin, s.path))
            .collect();
        let mut licences: Vec<&str> = own.iter().map(|s| s.licence).collect();
        licences.sort_unstable();
        licences.dedup();
        writeln!(
            t,
            "| `{file}` | {category} | {count} | {} | {} |",
            origins.join("<br>"),
            licences.join("; ")
        )?;
    }
    for (category, (file, count)) in keywords {
        writeln!(
            t,
            "| `{file}` | {category} (keywords) | {count} | chosen from `{category}.domains.gz` \
             and the Umbrella top 100k | as the category's sources |"
        )?;
    }
    writeln!(
        t,
        "| `classifier.bin` | adult, gambling (model) | – | trained from `adult`, `gambling`, \
         `ads`, `social`, `games`, `video` lists and the Umbrella top 100k | as those sources |"
    )?;
    writeln!(t, "{END}")?;
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) => format!("{}{}{}", &old[..b], t, &old[e + END.len() + 1..]),
        _ => format!("{old}\n{t}"),
    };
    std::fs::write(path, new)?;
    Ok(())
}
