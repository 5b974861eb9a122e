//! The whole path of one packet without sockets or upstreams: decode, plan, encode.
//!
//! The listeners run the same stages around an upstream wait; this entry point exists so
//! that the fuzzer and the random-input test drive exactly the server's decode → decide →
//! encode code on any bytes, thousands of times a second, with no network.

use std::net::IpAddr;

use hickory_proto::op::{Message, MessageType, ResponseCode};

use super::answer::{self, Reply, Response};
use super::plan::{self, Plan, Question};
use super::udp::formerr;
use crate::snapshot::Snapshot;

/// The bytes the server would send back for `packet` from `src` at `now`, as over UDP;
/// `None` when it sends nothing. A question the upstreams would answer gets SERVFAIL here.
pub fn answer_offline(
    snapshot: &Snapshot,
    packet: &[u8],
    src: IpAddr,
    now: jiff::Timestamp,
) -> Option<Vec<u8>> {
    let request = match Message::from_vec(packet) {
        Ok(m) if m.metadata.message_type == MessageType::Query => m,
        Ok(_) => return None,
        Err(_) => return snapshot.is_allowed(src).then(|| formerr(packet)).flatten(),
    };
    let question = Question::from_message(&request, src);
    let reply = match plan::admit(snapshot, &question) {
        Err((_, reply)) => reply,
        Ok((client, _)) => {
            match plan::plan(snapshot, None, &question, &client, now, |_| {
                plan::Live::NONE
            })
            .plan
            {
                Plan::Reply(_, reply) => reply,
                Plan::Forward(_) => Reply::error(ResponseCode::ServFail),
            }
        }
    };
    let response = Response {
        reply,
        truncated: false,
        decision: None,
    };
    answer::encode(&request, response, answer::udp_limit(&request))
}
