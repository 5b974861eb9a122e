//! Line parsers for each [`Format`]; the regex and keyword ones are in [`patterns`].

mod patterns;

use std::net::IpAddr;

use super::{Format, ParseStats, Rule, RuleKind, SkipReason};
use crate::name;
use patterns::{keyword, regex};

pub use patterns::REGEX_SIZE_LIMIT;

/// Parses a whole list held in memory.
pub fn parse_str(text: &str, format: Format, mut sink: impl FnMut(Rule)) -> ParseStats {
    let mut stats = ParseStats::default();
    for (i, line) in text.lines().enumerate() {
        let line_no = u32::try_from(i + 1).unwrap_or(u32::MAX);
        parse_line(line, line_no, format, &mut stats, &mut sink);
    }
    stats
}

/// Parses one line, emitting its rules into `sink` and counting it in `stats`.
pub fn parse_line(
    line: &str,
    line_no: u32,
    format: Format,
    stats: &mut ParseStats,
    sink: &mut impl FnMut(Rule),
) {
    stats.lines += 1;
    let line = line.trim_end_matches('\r').trim();
    if line.is_empty() {
        return;
    }
    let format = match format {
        Format::Auto => Format::sniff(line),
        f => f,
    };
    let mut out = Out {
        stats,
        sink,
        line: line_no,
    };
    let result = match format {
        Format::Hosts => hosts(line, &mut out),
        Format::Domains | Format::Wildcard => domains(line, &mut out),
        Format::Adblock => adblock(line, &mut out),
        Format::Dnsmasq => dnsmasq(line, &mut out),
        Format::Rpz => rpz(line, &mut out),
        Format::Unbound => unbound(line, &mut out),
        Format::Regex => regex(line, &mut out),
        Format::Keywords => keyword(line, &mut out),
        Format::Auto => unreachable!("sniff never returns Auto"),
    };
    if let Err(reason) = result {
        out.skip(reason);
    }
}

/// Where a format parser puts what it found on one line.
struct Out<'a, F> {
    stats: &'a mut ParseStats,
    sink: &'a mut F,
    line: u32,
}

impl<F: FnMut(Rule)> Out<'_, F> {
    /// Emits a rule for `token`, or counts the token as skipped when it is not a usable name.
    fn rule(&mut self, kind: RuleKind, token: &str, single_label_ok: bool) {
        match check_name(token, single_label_ok) {
            Ok(name) => {
                self.stats.rules += 1;
                (self.sink)(Rule {
                    kind,
                    name,
                    line: self.line,
                });
            }
            Err(reason) => self.skip(reason),
        }
    }

    fn skip(&mut self, reason: SkipReason) {
        self.stats.skip(reason, self.line);
    }

    /// Emits a pattern rule (regex or keyword) as written.
    fn pattern(&mut self, kind: RuleKind, pattern: String) {
        self.stats.rules += 1;
        (self.sink)(Rule {
            kind,
            name: pattern,
            line: self.line,
        });
    }
}

fn check_name(token: &str, single_label_ok: bool) -> Result<String, SkipReason> {
    if token.parse::<IpAddr>().is_ok() {
        return Err(SkipReason::IpAddress);
    }
    let name = name::normalize(token).map_err(SkipReason::BadName)?;
    if !single_label_ok && !name.contains('.') {
        return Err(SkipReason::SingleLabel);
    }
    Ok(name)
}

fn strip_comment<'a>(line: &'a str, markers: &[char]) -> &'a str {
    match line.find(markers) {
        Some(i) => line[..i].trim(),
        None => line,
    }
}

/// Names a hosts file maps for the machine itself; never rules.
const HOSTS_HEADER_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
];

fn is_sinkhole(addr: &str) -> Option<bool> {
    let addr = addr.split('%').next().unwrap_or(addr);
    let ip: IpAddr = addr.parse().ok()?;
    Some(match ip {
        IpAddr::V4(v4) => v4.is_unspecified() || v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_unspecified() || v6.is_loopback(),
    })
}

fn hosts(line: &str, out: &mut Out<'_, impl FnMut(Rule)>) -> Result<(), SkipReason> {
    let line = strip_comment(line, &['#']);
    let mut tokens = line.split_ascii_whitespace().peekable();
    let Some(&first) = tokens.peek() else {
        return Ok(());
    };
    let header = match is_sinkhole(first) {
        Some(true) => {
            tokens.next();
            false
        }
        // Broadcast, link-local and multicast addresses only appear in the header block.
        Some(false) if first.starts_with("255.") || first.starts_with("f") => {
            tokens.next();
            true
        }
        Some(false) => return Err(SkipReason::NotSinkhole),
        // Pi-hole accepts hosts lines without an address.
        None => false,
    };
    let mut any = false;
    for token in tokens {
        any = true;
        if header || HOSTS_HEADER_NAMES.contains(&token.to_ascii_lowercase().as_str()) {
            out.skip(SkipReason::HostsHeader);
        } else if let Some(rest) = token.strip_prefix("*.") {
            out.rule(RuleKind::BlockSubdomains, rest, false);
        } else {
            out.rule(RuleKind::Block, token, false);
        }
    }
    if any {
        Ok(())
    } else {
        Err(SkipReason::IpAddress)
    }
}

fn domains(line: &str, out: &mut Out<'_, impl FnMut(Rule)>) -> Result<(), SkipReason> {
    let line = strip_comment(line, &['#', '!']);
    let mut tokens = line.split_ascii_whitespace();
    let Some(token) = tokens.next() else {
        return Ok(());
    };
    if tokens.next().is_some() {
        return Err(SkipReason::WrongFormat);
    }
    if let Some(rest) = token.strip_prefix("*.") {
        out.rule(RuleKind::BlockSubdomains, rest, true);
    } else {
        out.rule(RuleKind::Block, token, true);
    }
    Ok(())
}

fn adblock(line: &str, out: &mut Out<'_, impl FnMut(Rule)>) -> Result<(), SkipReason> {
    if line.starts_with('!') || line.starts_with('#') || line.starts_with('[') {
        return Ok(());
    }
    if line.len() > 1 && line.starts_with('/') && line.ends_with('/') {
        return regex(line, out);
    }
    let (kind, body) = match line.strip_prefix("@@") {
        Some(rest) => (RuleKind::Allow, rest),
        None => (RuleKind::Block, line),
    };
    let (pattern, modifiers) = match body.split_once('$') {
        Some((p, m)) => (p, Some(m)),
        None => (body, None),
    };
    // `$important` only changes precedence between rules of the same engine, and
    // `$dnsrewrite=NXDOMAIN` is what a block answers anyway; every other modifier narrows a
    // rule in ways a DNS answer cannot express.
    let plain_block = |m: &str| {
        let m = m.trim();
        m == "important" || m.eq_ignore_ascii_case("dnsrewrite=nxdomain")
    };
    if modifiers.is_some_and(|m| !m.split(',').all(plain_block)) {
        return Err(SkipReason::UnsupportedAdblock);
    }
    let Some(host) = pattern
        .strip_prefix("||")
        .and_then(|p| p.strip_suffix('^').or_else(|| p.strip_suffix("^|")))
    else {
        return Err(SkipReason::UnsupportedAdblock);
    };
    if host.ends_with('.') || host.contains(['*', '/', ':', '^', '|']) {
        return Err(SkipReason::UnsupportedAdblock);
    }
    out.rule(kind, host, true);
    Ok(())
}

fn dnsmasq(line: &str, out: &mut Out<'_, impl FnMut(Rule)>) -> Result<(), SkipReason> {
    if line.starts_with('#') {
        return Ok(());
    }
    let (key, rest) = line.split_once('=').ok_or(SkipReason::WrongFormat)?;
    let rest = rest.strip_prefix('/').ok_or(SkipReason::WrongFormat)?;
    let (names, target) = rest.rsplit_once('/').ok_or(SkipReason::WrongFormat)?;
    let blocks = match key.trim() {
        "local" => true,
        // `server=/x/` with no upstream answers locally (NXDOMAIN); with one it forwards.
        "server" => target.trim().is_empty() || target.trim() == "#",
        "address" => {
            let t = target.trim();
            t.is_empty() || t == "#" || is_sinkhole(t) == Some(true)
        }
        _ => return Err(SkipReason::WrongFormat),
    };
    if !blocks {
        return Err(SkipReason::NotBlocking);
    }
    for name in names.split('/').filter(|n| !n.is_empty()) {
        out.rule(RuleKind::Block, name, true);
    }
    Ok(())
}

fn rpz(line: &str, out: &mut Out<'_, impl FnMut(Rule)>) -> Result<(), SkipReason> {
    let line = strip_comment(line, &[';']);
    let tokens: Vec<&str> = line.split_ascii_whitespace().collect();
    match tokens.as_slice() {
        [] => Ok(()),
        // Zone boilerplate: $TTL, SOA, NS.
        [first, ..] if first.starts_with('$') || *first == "@" => Ok(()),
        ["NS", ..] | ["SOA", ..] => Ok(()),
        [owner, rest @ ..]
            if rest.len() >= 2 && rest[rest.len() - 2].eq_ignore_ascii_case("CNAME") =>
        {
            if rest[rest.len() - 1] != "." {
                return Err(SkipReason::NotBlocking);
            }
            match owner.strip_prefix("*.") {
                Some(parent) => out.rule(RuleKind::BlockSubdomains, parent, true),
                None => out.rule(RuleKind::Block, owner, true),
            }
            Ok(())
        }
        _ => Err(SkipReason::WrongFormat),
    }
}

fn unbound(line: &str, out: &mut Out<'_, impl FnMut(Rule)>) -> Result<(), SkipReason> {
    let line = strip_comment(line, &['#']);
    if line.is_empty() || line == "server:" {
        return Ok(());
    }
    let rest = line
        .strip_prefix("local-zone:")
        .ok_or(SkipReason::WrongFormat)?;
    let mut tokens = rest.split_ascii_whitespace();
    let name = tokens
        .next()
        .ok_or(SkipReason::WrongFormat)?
        .trim_matches('"');
    let action = tokens.next().unwrap_or("");
    match action {
        "always_nxdomain" | "always_refuse" | "always_null" | "refuse" | "static" | "deny"
        | "inform_deny" => {
            out.rule(RuleKind::Block, name, true);
            Ok(())
        }
        _ => Err(SkipReason::NotBlocking),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn rules(text: &str, format: Format) -> (Vec<(RuleKind, String)>, ParseStats) {
        let mut out = Vec::new();
        let stats = parse_str(text, format, |r| out.push((r.kind, r.name)));
        (out, stats)
    }

    #[test]
    fn hosts_header_and_junk_are_skipped() {
        let text = "127.0.0.1 localhost\n255.255.255.255 broadcasthost\nfe80::1%lo0 localhost\n\
                    0.0.0.0 0.0.0.0\n0.0.0.0 a.com b.com # two\n1.1.1.1 localdns\n0.0.0.0 x.to en\n\
                    0.0.0.0 Upper.COM.\n";
        let (r, stats) = rules(text, Format::Hosts);
        let names: Vec<_> = r.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names, ["a.com", "b.com", "x.to", "upper.com"]);
        assert_eq!(stats.skipped[&SkipReason::HostsHeader], 3);
        assert_eq!(stats.skipped[&SkipReason::IpAddress], 1);
        assert_eq!(stats.skipped[&SkipReason::NotSinkhole], 1);
        assert_eq!(stats.skipped[&SkipReason::SingleLabel], 1);
    }

    #[test]
    fn adblock_rules_and_unsupported_syntax() {
        let text = "[Adblock Plus]\n! c\n||a.com^\n@@||b.a.com^\n||bid^\n||x.com^$important\n\
                    ||y.com^$third-party\n://mine.pw^\n||fx.\n||a*.com^\n/re/\n";
        let (r, stats) = rules(text, Format::Adblock);
        assert_eq!(
            r,
            [
                (RuleKind::Block, "a.com".into()),
                (RuleKind::Allow, "b.a.com".into()),
                (RuleKind::Block, "bid".into()),
                (RuleKind::Block, "x.com".into()),
                (RuleKind::Regex, "re".into()),
            ]
        );
        assert_eq!(stats.skipped[&SkipReason::UnsupportedAdblock], 4);
        assert_eq!(stats.rules, 5, "the /re/ line is a regex rule");
    }

    #[test]
    fn auto_detects_each_line() {
        let text = "0.0.0.0 h.com\n||a.com^\n*.w.com\nd.com\naddress=/m.com/0.0.0.0\n\
                    server=/fwd.com/10.0.0.1\nr.com CNAME .\nlocal-zone: \"u.com\" always_nxdomain\n";
        let (r, stats) = rules(text, Format::Auto);
        assert_eq!(
            r,
            [
                (RuleKind::Block, "h.com".into()),
                (RuleKind::Block, "a.com".into()),
                (RuleKind::BlockSubdomains, "w.com".into()),
                (RuleKind::Block, "d.com".into()),
                (RuleKind::Block, "m.com".into()),
                (RuleKind::Block, "r.com".into()),
                (RuleKind::Block, "u.com".into()),
            ]
        );
        assert_eq!(stats.skipped[&SkipReason::NotBlocking], 1);
    }
}
