//! The query pipeline, shared by every listener: rate limit → access control → identity →
//! profile → policy decision → block answer (with EDE), safe-search rewrite, or the upstream
//! answer (checked for CNAME cloaking). Nothing here decides policy: it turns decisions and
//! upstream answers into the records of a reply. Encoding is the listener's job.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use hickory_proto::op::{Edns, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, HINFO};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::answer::{self, EdeCode};
use super::identity;
use super::ratelimit::RateLimiter;
use crate::config::{RateLimitAction, RateLimitConfig};
use crate::filter::Blocklists;
use crate::metrics::Metrics;
use crate::name::QueryName;
use crate::overrides::Overrides;
use crate::policy::{Action, Decision, Profile, Reason, SafeTarget};
use crate::snapshot::{Client, Snapshot};
use crate::upstream::{Answer, Forwarder, Outcome, STALE_TTL};

/// Categories whose blocks are reported as EDE 15 (security policy) rather than 17
/// (filtering the client asked for).
const SECURITY_CATEGORIES: &[&str] = &["malware", "phishing"];

/// The clock the decisions use; tests inject a fixed instant.
pub type Clock = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

/// What a listener parsed from a request.
pub struct Question<'a> {
    pub src: IpAddr,
    pub op_code: OpCode,
    /// The request's one query, or `None` when it had none or several (FORMERR).
    pub query: Option<(&'a Name, RecordType, DNSClass)>,
    pub edns: Option<&'a Edns>,
}

impl<'a> Question<'a> {
    /// The question of a parsed request from `src`.
    pub fn from_message(request: &'a hickory_proto::op::Message, src: IpAddr) -> Self {
        let query = match request.queries.as_slice() {
            [q] => Some((q.name(), q.query_type(), q.query_class())),
            _ => None,
        };
        Question {
            src,
            op_code: request.metadata.op_code,
            query,
            edns: request.edns.as_ref(),
        }
    }
}

/// A reply ready to encode.
pub struct Response {
    pub reply: Reply,
    /// Rate-limit "slip": an empty answer with TC=1.
    pub truncated: bool,
}

pub struct Pipeline {
    snapshot: Arc<ArcSwap<Snapshot>>,
    forwarder: Arc<Forwarder>,
    metrics: Arc<Metrics>,
    overrides: Arc<Overrides>,
    rate_limit: Option<RateLimiter>,
    rate_limit_action: RateLimitAction,
    clock: Clock,
}

impl Pipeline {
    pub fn new(
        snapshot: Arc<ArcSwap<Snapshot>>,
        forwarder: Arc<Forwarder>,
        metrics: Arc<Metrics>,
        overrides: Arc<Overrides>,
        rate_limit: &RateLimitConfig,
        clock: Clock,
    ) -> Self {
        Pipeline {
            rate_limit: RateLimiter::new(rate_limit, metrics.rate_limit_clients.clone()),
            snapshot,
            forwarder,
            metrics,
            overrides,
            rate_limit_action: rate_limit.action,
            clock,
        }
    }

    /// Whether `ip` is in `server.allow_clients` now. The listeners ask before spending
    /// anything on a client: a TCP connection slot, a FORMERR.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.snapshot.load().is_allowed(ip)
    }

    /// The response to a question, or `None` when it is to be dropped (rate limit).
    ///
    /// The checks run cheapest and most final first: `allow_clients` (an off-list source
    /// gets no rate-limit bucket, so it cannot fill the table), then the rate limit, keyed
    /// by the device a trusted forwarder names, then the EDNS version (BADVERS is never
    /// forwarded), then the answer.
    pub async fn respond(&self, q: &Question<'_>) -> Option<Response> {
        let start = Instant::now();
        let snapshot = self.snapshot.load_full();
        let mut limited = false;
        let (profile_name, decision, reply) = if !snapshot.is_allowed(q.src) {
            ("-", "refused", Reply::error(ResponseCode::Refused))
        } else {
            let (client, ignored) = identity::identify(&snapshot, q.src, q.edns);
            if ignored {
                self.metrics.untrusted_identity.inc();
            }
            limited = self
                .rate_limit
                .as_ref()
                .is_some_and(|rl| !rl.allow(q.src, &client, start));
            if limited {
                self.metrics.rate_limited.inc();
                match self.rate_limit_action {
                    RateLimitAction::Drop => return None,
                    RateLimitAction::Refused => {
                        ("-", "ratelimited", Reply::error(ResponseCode::Refused))
                    }
                    RateLimitAction::Slip => {
                        ("-", "ratelimited", Reply::error(ResponseCode::NoError))
                    }
                }
            } else if q.edns.is_some_and(|e| e.version() > 0) {
                // RFC 6891 §6.1.3; the reply's OPT says version 0 (answer::response_edns).
                ("-", "badvers", Reply::error(ResponseCode::BADVERS))
            } else {
                self.answer(&snapshot, q, client).await
            }
        };
        self.metrics
            .queries
            .with_label_values(&[profile_name, decision])
            .inc();
        self.metrics.latency.observe(start.elapsed().as_secs_f64());
        Some(Response {
            reply,
            truncated: limited && self.rate_limit_action == RateLimitAction::Slip,
        })
    }
}

/// The records of a response, before encoding.
pub struct Reply {
    pub rcode: ResponseCode,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub ede: Option<(EdeCode, String)>,
}

impl Reply {
    fn error(rcode: ResponseCode) -> Reply {
        Reply {
            rcode,
            answers: vec![],
            authorities: vec![],
            ede: None,
        }
    }
}

impl Pipeline {
    /// Decides and builds the reply for an allowed `client`; returns the profile and
    /// decision labels for metrics.
    async fn answer<'s>(
        &self,
        snapshot: &'s Snapshot,
        q: &Question<'_>,
        client: Client,
    ) -> (&'s str, &'static str, Reply) {
        if q.op_code != OpCode::Query {
            return ("-", "notimp", Reply::error(ResponseCode::NotImp));
        }
        let Some((qname, qtype, qclass)) = q.query else {
            return ("-", "formerr", Reply::error(ResponseCode::FormErr));
        };
        let profile = snapshot.profile_for_client(&client);
        if qclass != DNSClass::IN {
            return (
                &profile.name,
                "refused",
                Reply::error(ResponseCode::Refused),
            );
        }
        let now = (self.clock)();
        let overrides = self.overrides.current();
        let timed = overrides.get(&profile.name);
        let name = QueryName::from_wire(qname);
        let decision = snapshot.decide_name_with(profile, &name, now, timed);
        let reply = match decision.action {
            Action::Block => {
                return (
                    &profile.name,
                    "blocked",
                    block(snapshot, profile, &decision, qname, qtype, None),
                );
            }
            Action::Rewrite => {
                // The decision found the name in the safe-search map; fetch its target.
                let special = &snapshot.special;
                let Some(target) = special
                    .safe_search(name.whole(), profile.safe_search)
                    .cloned()
                else {
                    return (
                        &profile.name,
                        "servfail",
                        Reply::error(ResponseCode::ServFail),
                    );
                };
                return (
                    &profile.name,
                    "rewritten",
                    self.safe_search(qname, qtype, target).await,
                );
            }
            Action::Allow if qtype == RecordType::ANY => minimal_any(qname),
            // Zone transfers and other meta types are not ours to forward (B13).
            Action::Allow if is_meta(qtype) => Reply::error(ResponseCode::NotImp),
            // Upstream and cache see one spelling; the reply's question keeps the client's.
            Action::Allow if has_capitals(qname) => {
                self.forward(&qname.to_lowercase(), qtype).await
            }
            Action::Allow => self.forward(qname, qtype).await,
        };
        if reply.rcode == ResponseCode::ServFail {
            return (&profile.name, "servfail", reply);
        }
        // Anti CNAME-cloaking: a tracker or adult site hidden behind an innocent alias.
        for record in &reply.answers {
            if let RData::CNAME(target) = &record.data {
                let target_name = QueryName::from_wire(&target.0);
                let d = snapshot.decide_name_with(profile, &target_name, now, timed);
                if d.action == Action::Block {
                    return (
                        &profile.name,
                        "blocked",
                        block(snapshot, profile, &d, qname, qtype, Some(&target.0)),
                    );
                }
            }
        }
        (&profile.name, "allowed", reply)
    }

    /// Forwards a query; SERVFAIL when the upstreams fail.
    async fn forward(&self, qname: &Name, qtype: RecordType) -> Reply {
        match self.forwarder.resolve(qname, qtype).await {
            Outcome::Answer { answer, cached } => {
                if cached {
                    self.metrics.cache_hits.inc();
                } else {
                    self.metrics.cache_misses.inc();
                }
                let age = answer.age();
                Reply {
                    rcode: answer.rcode,
                    answers: Answer::retimed(&answer.answers, |t| t.saturating_sub(age)),
                    authorities: Answer::retimed(&answer.authorities, |t| t.saturating_sub(age)),
                    ede: None,
                }
            }
            Outcome::Stale(answer) => {
                self.metrics.cache_hits.inc();
                self.metrics.upstream_errors.inc();
                self.metrics.stale_answers.inc();
                Reply {
                    rcode: answer.rcode,
                    answers: Answer::retimed(&answer.answers, |_| STALE_TTL),
                    authorities: Answer::retimed(&answer.authorities, |_| STALE_TTL),
                    ede: Some((
                        EdeCode::StaleAnswer,
                        "familydns: upstreams unreachable, served stale".into(),
                    )),
                }
            }
            Outcome::Failed(reason) => {
                self.metrics.cache_misses.inc();
                self.metrics.upstream_errors.inc();
                tracing::debug!(name = %qname, %qtype, %reason, "upstream failed");
                Reply::error(ResponseCode::ServFail)
            }
        }
    }

    /// A safe-search answer: CNAME to the engine's safe host plus that host's records, or
    /// the engine's safe address. HTTPS/SVCB get NODATA so that browsers cannot skip the
    /// rewrite by connecting through the engine's own service records.
    async fn safe_search(&self, qname: &Name, qtype: RecordType, target: SafeTarget) -> Reply {
        let nodata = || Reply {
            rcode: ResponseCode::NoError,
            answers: vec![],
            authorities: vec![answer::soa(qname)],
            ede: None,
        };
        if matches!(qtype, RecordType::HTTPS | RecordType::SVCB) {
            return nodata();
        }
        match target {
            SafeTarget::Address(ip) if qtype == RecordType::A => Reply {
                rcode: ResponseCode::NoError,
                answers: vec![Record::from_rdata(
                    qname.clone(),
                    answer::REWRITE_TTL,
                    RData::A(A(ip)),
                )],
                authorities: vec![],
                ede: None,
            },
            SafeTarget::Address(_) => nodata(),
            SafeTarget::Host(host) => {
                let cname = Record::from_rdata(
                    qname.clone(),
                    answer::REWRITE_TTL,
                    RData::CNAME(CNAME(host.clone())),
                );
                let mut reply = if qtype == RecordType::CNAME {
                    Reply::error(ResponseCode::NoError)
                } else {
                    self.forward(&host, qtype).await
                };
                reply.answers.insert(0, cname);
                reply.rcode = ResponseCode::NoError;
                reply
            }
        }
    }
}

/// RFC 8482: ANY gets one synthetic HINFO record, not everything the name has, so that
/// familydns is never an amplifier.
fn minimal_any(qname: &Name) -> Reply {
    let hinfo = HINFO::new("RFC8482".to_owned(), String::new());
    Reply {
        rcode: ResponseCode::NoError,
        answers: vec![Record::from_rdata(
            qname.clone(),
            answer::REWRITE_TTL,
            RData::HINFO(hinfo),
        )],
        authorities: vec![],
        ede: None,
    }
}

/// Meta query types (RFC 6895 §3.1: 128-255, and the zone transfers) that a forwarder
/// answers NOTIMP itself: an upstream would refuse them, and that refusal taught nothing.
fn is_meta(qtype: RecordType) -> bool {
    (128..=255).contains(&u16::from(qtype))
        || matches!(
            qtype,
            RecordType::AXFR | RecordType::IXFR | RecordType::OPT | RecordType::TSIG
        )
}

/// Whether a wire name has an ASCII capital (a client's own spelling, or DNS 0x20).
fn has_capitals(name: &Name) -> bool {
    name.iter()
        .any(|label| label.iter().any(u8::is_ascii_uppercase))
}

/// The block reply for `decision`; `via` names the CNAME target when the block came from
/// the upstream answer's chain.
fn block(
    snapshot: &Snapshot,
    profile: &Profile,
    decision: &Decision,
    qname: &Name,
    qtype: RecordType,
    via: Option<&Name>,
) -> Reply {
    let records = answer::block_records(qname, qtype, decision.block_answer(profile));
    let (code, mut text) = ede_for(&snapshot.blocklists, profile, decision);
    if let Some(target) = via {
        text = format!("{text} via CNAME {target}");
    }
    Reply {
        rcode: records.rcode,
        answers: records.answers,
        authorities: records.authorities,
        ede: Some((code, text)),
    }
}

/// The EDE code and text for a block: which list (and category) or which profile rule.
fn ede_for(blocklists: &Blocklists, profile: &Profile, decision: &Decision) -> (EdeCode, String) {
    match decision.reason {
        Reason::Schedule => {
            return (
                EdeCode::Filtered,
                format!(
                    "familydns: schedule of profile {} (block_all)",
                    profile.name
                ),
            );
        }
        Reason::Paused => {
            return (
                EdeCode::Filtered,
                format!("familydns: profile {} is paused", profile.name),
            );
        }
        Reason::BypassCanary | Reason::BypassEndpoint { .. } => {
            return (
                EdeCode::Blocked,
                "familydns: resolver bypass blocked".to_owned(),
            );
        }
        _ => {}
    }
    match decision.reason.list() {
        Some(list) => {
            let list = &blocklists.lists[usize::from(list)];
            let code = if SECURITY_CATEGORIES.contains(&list.category.as_str()) {
                EdeCode::Blocked
            } else {
                EdeCode::Filtered
            };
            (
                code,
                format!("familydns: category {} (list {})", list.category, list.name),
            )
        }
        None => (
            EdeCode::Filtered,
            format!("familydns: deny list of profile {}", profile.name),
        ),
    }
}
