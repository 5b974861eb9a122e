//! `familydns check`: the decision for one client and name, exactly why, and every other rule
//! that matches the name (which the decision never reached). It asks the server's own policy
//! ([`Policy::explain`], [`Policy::verdict`], [`Policy::check_chain`]), so it cannot tell
//! another story than the server's answer.
//!
//! [`Policy::explain`]: crate::policy::Policy::explain
//! [`Policy::verdict`]: crate::policy::Policy::verdict
//! [`Policy::check_chain`]: crate::policy::Policy::check_chain

use std::collections::HashMap;
use std::fmt::Write;
use std::net::IpAddr;
use std::sync::Arc;

use crate::budget;
use crate::budget::Usage;
use crate::complaints::{self, Accepted};
use crate::config::{BlockAnswer, Config};
use crate::lists::RuleKind;
use crate::name::QueryName;
use crate::overrides::{Overrides, ProfileOverrides};
use crate::policy::{Action, Decision, Policy, Profile, Reason, SafeTarget, Verdict};
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
    let live = Live::read(config);
    for left in budget::left(&profile.budgets, live.usage(profile), now) {
        let _ = writeln!(out, "budget:   {left}");
    }
    let policy = live.policy(snapshot, profile);
    let matches = policy.explain(&qname, now);
    let decision = matches.first().copied().unwrap_or(Decision::NO_MATCH);
    let _ = writeln!(
        out,
        "decision: {}",
        describe_verdict(&policy.verdict(&decision))
    );
    let rules = Rules {
        config,
        snapshot,
        profile,
        accepted: &live.accepted,
    };
    let _ = writeln!(out, "reason:   {}", rules.describe(&qname, decision.reason));
    if !matches.is_empty() {
        let count = match matches.len() {
            1 => "1 rule".to_owned(),
            n => format!("{n} rules"),
        };
        let _ = writeln!(
            out,
            "matched:  {count}, in the order the policy checks them (* decides)"
        );
        for (i, m) in matches.iter().enumerate() {
            let action = match m.action {
                Action::Allow => "allow",
                Action::Block => "block",
                Action::Rewrite(_) => "rewrite",
            };
            let mark = if i == 0 { '*' } else { ' ' };
            let why = rules.describe(&qname, m.reason);
            let _ = writeln!(out, "  {mark} {action:<7} {why}");
        }
    }
    out
}

/// What `check` needs to put a rule in words: where the profile and the lists came from.
struct Rules<'a> {
    config: &'a Config,
    snapshot: &'a Snapshot,
    profile: &'a Profile,
    accepted: &'a Accepted,
}

impl Rules<'_> {
    /// The rule behind `reason` for `name`, with the file (and line) it is written in.
    fn describe(&self, name: &QueryName, reason: Reason) -> String {
        let Rules {
            config,
            snapshot,
            profile,
            accepted,
        } = self;
        let matched = |labels: usize| name.suffix(labels);
        let profile_file = config
            .profiles
            .iter()
            .find(|p| p.name == profile.name)
            .map_or_else(String::new, |p| p.file.display().to_string());
        match reason {
            Reason::NoMatch => {
                "no rule matched in the profile or its blocked categories".to_owned()
            }
            Reason::TimedAllow => format!(
                "a timed exception for profile `{}` (familydns allow)",
                profile.name
            ),
            Reason::Paused => format!("profile `{}` is paused (familydns pause)", profile.name),
            Reason::Budget { budget } => format!(
                "the daily budget `{}` of profile `{}` is spent until midnight; `familydns budget --add` grants more ({profile_file})",
                profile.budgets[budget].key, profile.name
            ),
            Reason::Schedule => format!(
                "a `block_all` schedule of profile `{}` is active; only its allow list resolves ({profile_file})",
                profile.name
            ),
            Reason::BypassCanary => format!(
                "`{name}` is a resolver-bypass canary (DoH canary or iCloud Private Relay); block_bypass is on in profile `{}`",
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
            Reason::Complaint { entry } => {
                let e = accepted.entry(entry);
                format!(
                    "complaint #{}: `{}` (and its subdomains) accepted into category `{}` by {}",
                    e.id, e.name, e.category, e.decided_by
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
                    "classified {category} (score {:.3}) by the name classifier ({})",
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
        }
    }
}

/// The instant a check is made at: `--at` is wall-clock time in the profile's zone, as
/// schedules are written; without it, now.
/// What the running server would read besides the snapshot, read from its files: the
/// parents' timed exceptions, today's budget usage and the names accepted from complaints.
struct Live {
    overrides: Arc<HashMap<String, ProfileOverrides>>,
    usage: HashMap<String, Vec<Usage>>,
    accepted: Accepted,
}

impl Live {
    fn read(config: &Config) -> Live {
        Live {
            overrides: Overrides::load(&config.file).current(),
            usage: budget::read(&config.file),
            accepted: complaints::read(config),
        }
    }

    fn usage(&self, profile: &Profile) -> &[Usage] {
        self.usage.get(&profile.name).map_or(&[], Vec::as_slice)
    }

    /// `profile`'s policy as the server would apply it now.
    fn policy<'s>(&'s self, snapshot: &'s Snapshot, profile: &'s Profile) -> Policy<'s> {
        let timed = self.overrides.get(&profile.name);
        snapshot.policy(profile, timed, self.usage(profile), Some(&self.accepted))
    }
}

fn instant(profile: &Profile, at: Option<jiff::civil::DateTime>) -> jiff::Timestamp {
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

/// The answer a verdict gives, as the server would send it.
fn describe_verdict(verdict: &Verdict<'_>) -> String {
    match verdict {
        Verdict::Allow => "ALLOW (forwarded upstream)".to_owned(),
        Verdict::Block(block) => {
            let answer = match block.answer {
                BlockAnswer::NxDomain => "NXDOMAIN".to_owned(),
                BlockAnswer::Null => "0.0.0.0 / ::".to_owned(),
                BlockAnswer::Ip(ip) => ip.to_string(),
            };
            let ede = block.ede as u16;
            format!("BLOCK (answer: {answer}; EDE {ede} \"{}\")", block.text)
        }
        Verdict::Rewrite(SafeTarget::Host(h)) => format!("REWRITE (CNAME {h})"),
        Verdict::Rewrite(SafeTarget::Address(a)) => format!("REWRITE (A {a})"),
    }
}

/// Explains what the CNAME chain of an upstream answer means for `client`: the first target
/// the profile blocks (the whole answer is then blocked: anti CNAME-cloaking), or that every
/// target is allowed. The server's own check ([`Policy::check_chain`](crate::policy::Policy::check_chain)) decides.
pub fn explain_cname_chain(
    config: &Config,
    snapshot: &Snapshot,
    client: IpAddr,
    targets: &[String],
    at: Option<jiff::civil::DateTime>,
) -> String {
    let profile = snapshot.profile_for(client);
    let live = Live::read(config);
    let policy = live.policy(snapshot, profile);
    let names = targets
        .iter()
        .filter_map(|t| Some((t, QueryName::parse(t).ok()?)));
    match policy.check_chain(names, instant(profile, at)) {
        Some((target, name, decision)) => {
            let rules = Rules {
                config,
                snapshot,
                profile,
                accepted: &live.accepted,
            };
            format!(
                "cname:    {}: the answer's CNAME chain reaches `{target}`, blocked by {}\n",
                describe_verdict(&Verdict::Block(policy.block(decision.reason))),
                rules.describe(&name, decision.reason),
            )
        }
        None if targets.is_empty() => "cname:    the upstream answer has no CNAME\n".to_owned(),
        None => format!("cname:    chain {} is allowed\n", targets.join(" -> ")),
    }
}
