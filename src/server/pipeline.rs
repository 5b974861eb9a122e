//! The query pipeline, shared by every listener: rate limit, then the pure [`plan`], at most
//! one upstream wait, and the pure [`finish`]. This file only moves a question through those
//! stages and counts it; what the reply says is the policy's verdict, made records in `plan.rs`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;

use super::answer::{Reply, Response};
use super::logged::Answered;
use super::plan::{self, Forward, Live, Plan, Question};
pub use super::ratelimit::Limit;
use crate::budget::{self, Budgets, Usage};
use crate::complaints::{Accepted, Complaints};
use crate::config::RateLimitAction;
use crate::directory::Directory;
use crate::dnstap::{Decision, Tap};
use crate::exchange::Inbox;
use crate::metrics::Metrics;
use crate::notices::Notifier;
use crate::overrides::{Overrides, ProfileOverrides};
use crate::policy::{Label, Profile};
use crate::querylog::QueryLog;
use crate::snapshot::{Client, Snapshot};
use crate::upstream::{Forwarder, Outcome};

/// The clock the decisions use; tests inject a fixed instant.
pub type Clock = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

/// Everything a question passes through, built by the app and shared by every listener.
pub struct Pipeline {
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub forwarder: Arc<Forwarder>,
    pub metrics: Arc<Metrics>,
    /// Timed exceptions and pauses.
    pub overrides: Arc<Overrides>,
    /// The names accepted from complaints.
    pub complaints: Arc<Complaints>,
    /// The daily budgets' ledger.
    pub budgets: Arc<Budgets>,
    /// Replaced whole by a reload that changes `server.rate_limit`.
    pub rate_limit: Limit,
    pub clock: Clock,
    pub log: Option<QueryLog>,
    /// Alerts for the profiles' `alert` categories.
    pub notices: Arc<Notifier>,
    /// The dnstap output (`[dnstap]`).
    pub dnstap: Option<Tap>,
    /// Trend research's counts (`[trends]`); `None` when off.
    pub trends: Option<crate::trends::Recorder>,
    /// NOTIFYs from the primaries of subscribed RPZ feeds.
    pub inbox: Arc<Inbox>,
    /// The ISP's subscribers and their profiles (empty without `[directory]`).
    pub directory: Arc<Directory>,
}

impl Pipeline {
    /// Whether `ip` is in `server.allow_clients` now. The listeners ask before spending
    /// anything on a client: a TCP connection slot, a FORMERR.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.snapshot.load().is_allowed(ip)
    }

    /// Whether `ip` is in `server.trusted_proxies` now: its PROXY v2 header names the client.
    pub fn proxied_by(&self, ip: IpAddr) -> bool {
        self.snapshot.load().is_proxy(ip)
    }

    /// The response to a question, or `None` when it is to be dropped (rate limit).
    ///
    /// The checks run cheapest and most final first: `allow_clients` (an off-list source
    /// gets no rate-limit bucket, so it cannot fill the table), then the rate limit, keyed
    /// by the device a trusted forwarder names, then the plan.
    pub async fn respond(&self, q: &Question<'_>) -> Option<Response> {
        let start = Instant::now();
        let snapshot = self.snapshot.load_full();
        let mut slipped = false;
        // Read only for a question that gets a decision: refusals and rate-limited floods
        // pay neither the clock nor the overrides' load.
        let overrides;
        let usage;
        let accepted;
        let mut decided = None;
        let answered = match plan::admit(&snapshot, q) {
            Err((label, reply)) => Answered::early(label, reply),
            Ok((client, untrusted)) => {
                if untrusted {
                    self.metrics.untrusted_identity.inc();
                }
                if let Some(action) = self.rate_limit.over(q.src, &client, start) {
                    self.metrics.rate_limited.inc();
                    slipped = action == RateLimitAction::Slip;
                    Answered::early(Label::RateLimited, Reply::rate_limited(action)?)
                } else {
                    let now = (self.clock)();
                    overrides = self.overrides.current();
                    usage = self.budgets.current();
                    accepted = self.complaints.current();
                    let answered = self
                        .answer(&snapshot, (&overrides, &usage, &accepted), q, &client, now)
                        .await;
                    decided = Some((client, now));
                    answered
                }
            }
        };
        let profile = answered.profile.map_or("-", |p| p.name.as_str());
        let m = &self.metrics;
        m.queries
            .with_label_values(&[profile, answered.label.as_str()])
            .inc();
        let took = start.elapsed();
        m.latency.observe(took.as_secs_f64());
        if let Some((client, now)) = &decided {
            if let (Some(log), Some(profile)) = (&self.log, answered.profile) {
                log.record_with(profile.log, || answered.entry(q, client, *now, took));
            }
            if let (Label::Blocked, Some(profile), Some(category)) =
                (answered.label, answered.profile, answered.category)
                && profile.alert.iter().any(|c| c == category)
            {
                let device = answered.device_id(client);
                self.notices.alert(device, &profile.name, category, *now);
            }
            if let (Some(trends), Label::Blocked, Some(profile), Some(category)) = (
                &self.trends,
                answered.label,
                answered.profile,
                answered.category,
            ) {
                trends.record(*now, answered.device_id(client), profile.kind, category);
            }
        }
        let decision = self
            .dnstap
            .as_ref()
            .and_then(|_| Decision::of(answered.label, answered.category));
        Some(Response {
            reply: answered.reply,
            truncated: slipped,
            decision,
        })
    }

    /// Plans, counts the budget the name spends (the first lookup of a minute only), asks
    /// the upstreams when the plan says so, and finishes.
    async fn answer<'s>(
        &self,
        snapshot: &'s Snapshot,
        (overrides, usage, accepted): (
            &'s HashMap<String, ProfileOverrides>,
            &'s HashMap<String, Vec<Usage>>,
            &'s Accepted,
        ),
        q: &Question<'_>,
        client: &Client,
        now: jiff::Timestamp,
    ) -> Answered<'s> {
        let live = |profile: &Profile| Live {
            timed: overrides.get(&profile.name),
            // Profiles without budgets pay no lookup for them.
            usage: if profile.budgets.is_empty() {
                &[]
            } else {
                usage.get(&profile.name).map_or(&[], Vec::as_slice)
            },
            accepted: Some(accepted),
        };
        let subscribers = self.directory.table();
        let planned = plan::plan(snapshot, Some(&subscribers), q, client, now, live);
        if let (Some(profile), Some(b)) = (planned.profile, planned.budget)
            && b.first_in(budget::minute_of(now))
        {
            self.budgets.count(profile.budget_owner(), b, now);
        }
        let (label, reply) = match planned.plan {
            Plan::Reply(label, reply) => (label, reply),
            Plan::Forward(forward) => {
                let reply = self.forward(&forward).await;
                plan::finish(&forward, now, reply)
            }
        };
        Answered {
            profile: planned.profile,
            device: planned.device,
            category: planned.category,
            label,
            reply,
        }
    }

    /// Forwards a query, counting cache hits and upstream failures; SERVFAIL when the
    /// upstreams fail.
    async fn forward(&self, forward: &Forward<'_>) -> Reply {
        let (name, qtype) = (&forward.name, forward.qtype);
        // A fresh cached answer is taken without a future. The upstream's future is boxed:
        // it is kilobytes, and every query's future (a block's too) would otherwise carry
        // room for it, allocated and copied per query.
        let outcome = match self.forwarder.cached(name, qtype, forward.dnssec) {
            Some(outcome) => outcome,
            None => Box::pin(self.forwarder.resolve(name, qtype, forward.dnssec)).await,
        };
        self.metrics.upstream_outcome(&outcome);
        if let Outcome::Failed(reason) = &outcome {
            tracing::debug!(%name, %qtype, %reason, "upstream failed");
        }
        Reply::upstream(&outcome)
    }
}
