//! Every real list in `../shared/data` parses without a panic; publishers' own entry counts
//! match what we accept; one list in seven formats compiles to the same blocked names. Those
//! need the full corpus and are skipped without it; the fixtures' cuts are checked always.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{fixture, shared_data};
use familydns::lists::{self, Format, ParseStats, RuleKind};

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn parse(path: &Path, format: Format) -> (ParseStats, Vec<(RuleKind, String)>) {
    let text = lists::read_list(path).unwrap();
    let mut rules = Vec::new();
    let stats = lists::parse_str(&text, format, |r| rules.push((r.kind, r.name)));
    (stats, rules)
}

/// The publisher's own count: `# Entries: N` (oisd) or `# Number of entries: N` (hagezi).
fn header_count(path: &Path) -> Option<u64> {
    let text = lists::read_list(path).ok()?;
    text.lines().take(40).find_map(|l| {
        let l = l.trim_start_matches(['#', '!', ';', ' ']);
        let n = l
            .strip_prefix("Entries:")
            .or_else(|| l.strip_prefix("Number of entries:"))?;
        n.trim().replace(',', "").parse().ok()
    })
}

#[test]
fn every_real_list_parses_and_publisher_counts_match() {
    let Some(data) = shared_data() else { return };
    let mut files = Vec::new();
    all_files(&data, &mut files);
    files.sort();
    let mut checked = 0;
    let mut report = String::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy();
        if name == "SOURCES.md" || name.ends_with(".tsv") {
            continue;
        }
        // Zero panics on every file, whatever it holds (JSON, URL lists, IP lists too).
        let (stats, rules) = parse(path, Format::Auto);
        assert_eq!(stats.rules as usize, rules.len());
        report.push_str(&format!(
            "{}: {} rules, {} skipped {:?}\n",
            path.strip_prefix(&data).unwrap().display(),
            stats.rules,
            stats.skipped_total(),
            stats.skipped
        ));
        // Compressed hosts files count lines, not names, in their header.
        if name.contains("compressed") {
            continue;
        }
        if let Some(expected) = header_count(path) {
            assert_eq!(
                stats.rules,
                expected,
                "{}: publisher says {expected}; skipped {:?}",
                path.display(),
                stats.skipped
            );
            checked += 1;
        }
    }
    println!("{report}");
    assert!(
        checked >= 30,
        "publisher counts checked for {checked} files"
    );
}

/// Plain domain lists: every non-comment line that is not a bare IPv4 address is a rule.
fn plain_domain_lists_accept_every_name_line_in(dir: &Path, files: &[&str]) {
    for file in files {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter(|l| l.parse::<std::net::Ipv4Addr>().is_err())
            .count();
        let (stats, _) = parse(&path, Format::Domains);
        assert_eq!(
            stats.rules as usize, expected,
            "{file}: {:?}",
            stats.skipped
        );
    }
}

#[test]
fn plain_domain_lists_accept_every_name_line() {
    plain_domain_lists_accept_every_name_line_in(
        &fixture(""),
        &[
            "categories/ut1/games.domains",
            "bypass/ut1-doh.domains",
            "domains/stevenblack-porn-only-2026-06.domains",
        ],
    );
    let Some(data) = shared_data() else { return };
    plain_domain_lists_accept_every_name_line_in(
        &data,
        &[
            "categories/ut1/dating.domains",
            "categories/ut1/games.domains",
            "bypass/ut1-vpn.domains",
            "domains/stevenblack-porn-only-2026-06.domains",
            "bypass/dibdot-doh-domains.txt",
        ],
    );
}

#[test]
fn one_list_in_seven_formats_blocks_the_same_names() {
    let Some(data) = shared_data() else { return };
    let formats = [
        ("adblock/oisd-nsfw-small.abp.txt", Format::Adblock),
        ("domains/oisd-nsfw-small.domainswild2.txt", Format::Domains),
        ("dnsmasq/oisd-nsfw-small.dnsmasq.txt", Format::Dnsmasq),
        ("dnsmasq/oisd-nsfw-small.dnsmasq2.txt", Format::Dnsmasq),
        ("rpz/oisd-nsfw-small.rpz", Format::Rpz),
        ("edgecases/oisd-nsfw-small.unbound.conf", Format::Unbound),
        ("regex/oisd-nsfw-small.regex.txt", Format::Regex),
    ];
    let mut sets = Vec::new();
    for (file, format) in formats {
        for f in [format, Format::Auto] {
            let (_, rules) = parse(&data.join(file), f);
            let names: BTreeSet<String> = rules
                .into_iter()
                .filter(|(k, _)| *k == RuleKind::Block)
                .map(|(_, n)| n)
                .collect();
            sets.push((file, f, names));
        }
    }
    let (first_file, _, first) = &sets[0];
    assert_eq!(first.len(), 20445);
    for (file, format, names) in &sets[1..] {
        let missing: Vec<_> = first.difference(names).take(5).collect();
        let extra: Vec<_> = names.difference(first).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{file} ({format:?}) differs from {first_file}: missing {missing:?}, extra {extra:?}"
        );
    }
}
