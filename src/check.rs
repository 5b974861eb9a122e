//! `familydns check`: the decision for one client and name, and exactly why.

use std::fmt::Write;
use std::net::IpAddr;

use crate::config::{BlockAnswer, Config};
use crate::lists::RuleKind;
use crate::name::QueryName;
use crate::overrides::Overrides;
use crate::policy::{Action, Reason, SafeTarget};
use crate::snapshot::Snapshot;

/// Explains the decision for `client` asking for `name`. The snapshot must have been built
/// with provenance so that the rule's line can be named.
pub fn explain(
    config: &Config,
    snapshot: &Snapshot,
    client: IpAddr,
    name: &str,
    at: Option<jiff::civil::DateTime>,
) -> String {
    let mut out = String::new();
    let qname = match QueryName::parse(name) {
        Ok(q) => q,
        Err(e) => {
            let _ = writeln!(out, "`{name}` is not a domain name: {e}");
            return out;
        }
    };
    if !snapshot.is_allowed(client) {
        let _ = writeln!(out, "REFUSED: {client} is outside server.allow_clients");
        return out;
    }
    let profile = snapshot.profile_for(client);
    let config_profile = config.profiles.iter().find(|p| p.name == profile.name);
    let how = match client_name(config, client) {
        Some(c) => format!("client `{c}`"),
        None => "default_profile".to_owned(),
    };
    let _ = writeln!(out, "name:     {qname}");
    let _ = writeln!(
        out,
        "client:   {client} -> profile `{}` (by {how})",
        profile.name
    );
    let now = instant(profile, at);
    let local = now.to_zoned(profile.timezone.clone());
    let effect = profile.schedule_effect(now);
    let _ = writeln!(
        out,
        "time:     {} ({}){}",
        local.strftime("%a %Y-%m-%d %H:%M"),
        profile.timezone.iana_name().unwrap_or("local"),
        if effect.block_all {
            ", bedtime window active"
        } else if effect.categories != 0 {
            ", a schedule window adds categories"
        } else {
            ""
        }
    );
    let overrides = Overrides::load(&config.file).current();
    let decision = snapshot.decide_name_with(profile, &qname, now, overrides.get(&profile.name));
    let verdict = match decision.action {
        Action::Allow => "ALLOW (forwarded upstream)".to_owned(),
        Action::Block => format!(
            "BLOCK (answer: {})",
            describe_answer(decision.block_answer(profile))
        ),
        Action::Rewrite => {
            match snapshot
                .special
                .safe_search(qname.whole(), profile.safe_search)
            {
                Some(SafeTarget::Host(h)) => format!("REWRITE (CNAME {h})"),
                Some(SafeTarget::Address(a)) => format!("REWRITE (A {a})"),
                None => "REWRITE".to_owned(),
            }
        }
    };
    let _ = writeln!(out, "decision: {verdict}");
    let matched = |labels: usize| qname.suffix(labels);
    let profile_file = config_profile.map_or_else(String::new, |p| p.file.display().to_string());
    let reason = match decision.reason {
        Reason::NoMatch => "no rule matched in the profile or its blocked categories".to_owned(),
        Reason::TimedAllow => format!(
            "a timed exception for profile `{}` (familydns allow)",
            profile.name
        ),
        Reason::Paused => format!("profile `{}` is paused (familydns pause)", profile.name),
        Reason::Schedule => format!(
            "a `block_all` schedule of profile `{}` is active; only its allow list resolves ({profile_file})",
            profile.name
        ),
        Reason::BypassCanary => format!(
            "`{qname}` is a resolver-bypass canary (DoH canary or iCloud Private Relay); block_bypass is on in profile `{}`",
            profile.name
        ),
        Reason::BypassEndpoint { labels } => format!(
            "`{}` is a public DoH/DoT resolver (built-in list); block_bypass is on in profile `{}`",
            matched(labels),
            profile.name
        ),
        Reason::SafeSearch => format!(
            "safe search is on in profile `{}` ({profile_file})",
            profile.name
        ),
        Reason::ProfileAllow { labels } => {
            format!(
                "`{}` is on the allow list of profile `{}` ({profile_file})",
                matched(labels),
                profile.name
            )
        }
        Reason::ProfileDeny { labels } => {
            format!(
                "`{}` is on the deny list of profile `{}` ({profile_file})",
                matched(labels),
                profile.name
            )
        }
        Reason::List(hit) => {
            let list = &snapshot.blocklists.lists[usize::from(hit.list)];
            let line = snapshot
                .blocklists
                .line_of(&hit)
                .map_or_else(String::new, |l| format!(":{l}"));
            let rule = match hit.kind {
                RuleKind::Block => format!("`{}` (and its subdomains)", matched(hit.labels)),
                RuleKind::BlockSubdomains => format!("`*.{}`", matched(hit.labels)),
                RuleKind::Allow => format!("exception `@@||{}^`", matched(hit.labels)),
                RuleKind::Regex | RuleKind::Keyword => unreachable!("name rules only"),
            };
            format!(
                "rule {rule} in list `{}` (category `{}`) at {}{line}",
                list.name,
                list.category,
                list.source.display()
            )
        }
        Reason::Classified(c) => {
            let category = snapshot
                .blocklists
                .classifier
                .as_ref()
                .map_or("?", |l| l.category_name(c.category));
            format!(
                "classified {category} (score {:.3}) by the name classifier ({}); no list names it",
                f32::from(c.score_milli) / 1000.0,
                config
                    .classifier
                    .as_ref()
                    .map_or_else(String::new, |p| p.display().to_string())
            )
        }
        Reason::Pattern(hit) => {
            let list = &snapshot.blocklists.lists[usize::from(hit.list)];
            let (pattern, line) = snapshot.blocklists.patterns.rule(&hit);
            let kind = if hit.kind == RuleKind::Keyword {
                "keyword"
            } else {
                "regex"
            };
            format!(
                "{kind} `{pattern}` in list `{}` (category `{}`) at {}:{line}",
                list.name,
                list.category,
                list.source.display()
            )
        }
    };
    let _ = writeln!(out, "reason:   {reason}");
    out
}

/// The instant a check is made at: `--at` is wall-clock time in the profile's zone, as
/// schedules are written; without it, now.
fn instant(profile: &crate::policy::Profile, at: Option<jiff::civil::DateTime>) -> jiff::Timestamp {
    at.and_then(|dt| dt.to_zoned(profile.timezone.clone()).ok())
        .map_or_else(jiff::Timestamp::now, |z| z.timestamp())
}

fn client_name(config: &Config, client: IpAddr) -> Option<&str> {
    let client = client.to_canonical();
    config
        .clients
        .iter()
        .flat_map(|c| c.networks.iter().map(move |n| (c, n)))
        .filter(|(_, n)| n.contains(&client))
        .max_by_key(|(_, n)| n.prefix_len())
        .map(|(c, _)| c.name.as_str())
}

fn describe_answer(how: BlockAnswer) -> String {
    match how {
        BlockAnswer::NxDomain => "NXDOMAIN".into(),
        BlockAnswer::Null => "0.0.0.0 / ::".into(),
        BlockAnswer::Ip(ip) => ip.to_string(),
    }
}

/// Explains what the CNAME chain of an upstream answer means for `client`: the first target
/// the profile blocks (the whole answer is then blocked: anti CNAME-cloaking), or that every
/// target is allowed.
pub fn explain_cname_chain(
    config: &Config,
    snapshot: &Snapshot,
    client: IpAddr,
    targets: &[String],
    at: Option<jiff::civil::DateTime>,
) -> String {
    let profile = snapshot.profile_for(client);
    let overrides = Overrides::load(&config.file).current();
    let now = instant(profile, at);
    for target in targets {
        let Ok(name) = QueryName::parse(target) else {
            continue;
        };
        let d = snapshot.decide_name_with(profile, &name, now, overrides.get(&profile.name));
        if d.action == Action::Block {
            let why = match d.reason.list() {
                Some(list) => {
                    let list = &snapshot.blocklists.lists[usize::from(list)];
                    format!("list `{}` (category `{}`)", list.name, list.category)
                }
                None => format!("{:?}", d.reason),
            };
            return format!(
                "cname:    BLOCK: the answer's CNAME chain reaches `{target}`, blocked by {why}\n"
            );
        }
    }
    if targets.is_empty() {
        "cname:    the upstream answer has no CNAME\n".to_owned()
    } else {
        format!("cname:    chain {} is allowed\n", targets.join(" -> "))
    }
}
