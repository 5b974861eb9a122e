//! The request handler: glue between hickory-server and the pure core.
//!
//! Per query: access control → profile for the source address → policy decision → either a
//! block answer (with EDE) or the upstream answer from the forwarder. Nothing here decides
//! policy; it only turns decisions and upstream answers into DNS messages.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use hickory_proto::op::{Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, Record};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use super::answer::{self, EdeCode};
use crate::filter::Blocklists;
use crate::metrics::Metrics;
use crate::name::SuffixFingerprints;
use crate::policy::{self, Action, Decision, Profile};
use crate::snapshot::Snapshot;
use crate::upstream::{Answer, Forwarder, Outcome};

/// Categories whose blocks are reported as EDE 15 (security policy) rather than 17
/// (filtering the client asked for).
const SECURITY_CATEGORIES: &[&str] = &["malware", "phishing"];

pub struct Handler {
    snapshot: Arc<ArcSwap<Snapshot>>,
    forwarder: Arc<Forwarder>,
    metrics: Arc<Metrics>,
}

impl Handler {
    pub fn new(
        snapshot: Arc<ArcSwap<Snapshot>>,
        forwarder: Arc<Forwarder>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Handler {
            snapshot,
            forwarder,
            metrics,
        }
    }
}

/// The records of a response, before encoding.
struct Reply {
    rcode: ResponseCode,
    answers: Vec<Record>,
    authorities: Vec<Record>,
    ede: Option<(EdeCode, String)>,
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

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let start = Instant::now();
        let snapshot = self.snapshot.load_full();
        let (profile_name, decision, reply) = self.answer(&snapshot, request).await;
        self.metrics
            .queries
            .with_label_values(&[profile_name, decision])
            .inc();

        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.recursion_available = true;
        metadata.response_code = reply.rcode;
        let edns = request
            .edns
            .as_ref()
            .map(|e| answer::response_edns(e, reply.ede.as_ref().map(|(c, t)| (*c, t.as_str()))));
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(edns) = &edns {
            builder.edns(edns);
        }
        let response = builder.build(metadata, &reply.answers, &reply.authorities, &[], &[]);
        let info = match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(error = %e, "failed to send response");
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata,
                    counts: HeaderCounts::default(),
                })
            }
        };
        self.metrics.latency.observe(start.elapsed().as_secs_f64());
        info
    }
}

impl Handler {
    /// Decides and builds the reply; returns the profile and decision labels for metrics.
    async fn answer<'s>(
        &self,
        snapshot: &'s Snapshot,
        request: &Request,
    ) -> (&'s str, &'static str, Reply) {
        if !snapshot.is_allowed(request.src().ip()) {
            return ("-", "refused", Reply::error(ResponseCode::Refused));
        }
        if request.metadata.op_code != OpCode::Query {
            return ("-", "notimp", Reply::error(ResponseCode::NotImp));
        }
        let Ok(info) = request.request_info() else {
            return ("-", "formerr", Reply::error(ResponseCode::FormErr));
        };
        let profile = snapshot.profile_for(request.src().ip());
        if info.query.query_class() != DNSClass::IN {
            return (
                &profile.name,
                "refused",
                Reply::error(ResponseCode::Refused),
            );
        }
        let qname: &Name = info.query.name();
        let qtype = info.query.query_type();
        let decision = policy::decide(
            &snapshot.blocklists,
            profile,
            &SuffixFingerprints::from_labels(qname.iter()),
            || {
                let mut text = qname.to_ascii();
                text.pop(); // the trailing dot
                text
            },
        );
        if decision.action == Action::Block {
            let block = answer::block_records(qname, qtype, profile.block_answer);
            let ede = ede_for(&snapshot.blocklists, profile, &decision);
            return (
                &profile.name,
                "blocked",
                Reply {
                    rcode: block.rcode,
                    answers: block.answers,
                    authorities: block.authorities,
                    ede: Some(ede),
                },
            );
        }
        match self.forwarder.resolve(qname, qtype).await {
            Outcome::Answer { answer, cached } => {
                if cached {
                    self.metrics.cache_hits.inc();
                } else {
                    self.metrics.cache_misses.inc();
                }
                let age = answer.age();
                (
                    &profile.name,
                    "allowed",
                    Reply {
                        rcode: answer.rcode,
                        answers: Answer::aged(&answer.answers, age),
                        authorities: Answer::aged(&answer.authorities, age),
                        ede: None,
                    },
                )
            }
            Outcome::Failed(reason) => {
                self.metrics.cache_misses.inc();
                self.metrics.upstream_errors.inc();
                tracing::debug!(name = %qname, %qtype, %reason, "upstream failed");
                (
                    &profile.name,
                    "servfail",
                    Reply::error(ResponseCode::ServFail),
                )
            }
        }
    }
}

/// The EDE code and text for a block: which list (and category) or which profile rule.
fn ede_for(blocklists: &Blocklists, profile: &Profile, decision: &Decision) -> (EdeCode, String) {
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
