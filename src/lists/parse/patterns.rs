//! Rules that are patterns, not names: regular expressions and keywords. A regex that only
//! spells a domain and its subdomains becomes a name rule.

use super::{Out, Rule, RuleKind, SkipReason, strip_comment};

/// Longest regex accepted, and the compiled-size cap: one hostile line must not eat memory.
const MAX_REGEX_LEN: usize = 1024;
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A regex line: `/re/` (AdGuard) or a bare Pi-hole regex. Regexes that only spell "this
/// domain and its subdomains" (`^(.*\.)?x\.com$`, `(^|\.)x\.com$`, as oisd and Pi-hole
/// lists write them) become plain domain rules: exact, and as cheap as any other name.
pub(super) fn regex(line: &str, out: &mut Out<'_, impl FnMut(Rule)>) -> Result<(), SkipReason> {
    let line = line.trim();
    if line.starts_with('#') {
        return Ok(());
    }
    let pattern = match line.strip_prefix('/').and_then(|l| l.strip_suffix('/')) {
        Some(p) => p,
        None => line,
    };
    if let Some(domain) = domain_regex(pattern) {
        out.rule(RuleKind::Block, &domain, true);
        return Ok(());
    }
    if pattern.len() > MAX_REGEX_LEN {
        return Err(SkipReason::BadRegex);
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|_| SkipReason::BadRegex)?;
    out.pattern(RuleKind::Regex, pattern.to_owned());
    Ok(())
}

/// `^(.*\.)?x\.y$` or `(^|\.)x\.y$` → `x.y`.
fn domain_regex(pattern: &str) -> Option<String> {
    let body = pattern
        .strip_prefix("^(.*\\.)?")
        .or_else(|| pattern.strip_prefix("(^|\\.)"))?
        .strip_suffix('$')?;
    let mut name = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                '.' => name.push('.'),
                '-' => name.push('-'),
                _ => return None,
            },
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => name.push(c),
            _ => return None,
        }
    }
    Some(name)
}

/// A keyword line (see [`crate::filter`] for the matching rule).
pub(super) fn keyword(line: &str, out: &mut Out<'_, impl FnMut(Rule)>) -> Result<(), SkipReason> {
    let word = strip_comment(line, &['#']).trim().to_ascii_lowercase();
    if word.is_empty() {
        return Ok(());
    }
    if !word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(SkipReason::BadKeyword);
    }
    out.pattern(RuleKind::Keyword, word);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::rules;
    use super::*;
    use crate::lists::Format;

    #[test]
    fn domain_regexes_become_domain_rules() {
        let text = "/^(.*\\.)?007xf\\.com$/\n(^|\\.)lgsmartad\\.com$\n^ad[0-9]+\\.\n/(?=x)y/\n";
        let (r, stats) = rules(text, Format::Regex);
        assert_eq!(
            r,
            [
                (RuleKind::Block, "007xf.com".into()),
                (RuleKind::Block, "lgsmartad.com".into()),
                (RuleKind::Regex, "^ad[0-9]+\\.".into()),
            ]
        );
        assert_eq!(
            stats.skipped[&SkipReason::BadRegex],
            1,
            "look-around is not supported"
        );
    }
}
