//! One query through the pipeline to its encoded answer: the step the UDP and TCP listeners
//! share, and where the dnstap event of the query is completed and handed over.

use std::net::SocketAddr;
use std::time::SystemTime;

use hickory_proto::op::Message;

use super::answer;
use super::pipeline::Pipeline;
use super::plan::Question;
use crate::clients::ClientId;
use crate::dnstap::{Event, Transport};

/// What dnstap keeps of a query as it arrives (a copy of its bytes), only when a `[dnstap]`
/// collector is configured: without one a query pays nothing here.
pub(super) fn tapped(
    pipeline: &Pipeline,
    wire: &[u8],
    client: SocketAddr,
    server: SocketAddr,
    transport: Transport,
) -> Option<Event> {
    pipeline.dnstap.as_ref().map(|_| Event {
        transport,
        client,
        server,
        query: wire.to_vec(),
        received: SystemTime::now(),
        response: None,
        decision: None,
    })
}

/// Answers `request` from `client` (and the client `id` an encrypted connection named) in at
/// most `limit` bytes (`None`: no answer, as for a rate-limited drop), and sends `tapped` on
/// to dnstap with the answer.
pub(super) async fn respond(
    pipeline: &Pipeline,
    request: &Message,
    (client, id): (SocketAddr, Option<ClientId>),
    limit: usize,
    tapped: Option<Event>,
) -> Option<Vec<u8>> {
    let mut question = Question::from_message(request, client.ip());
    question.id = id;
    let mut response = pipeline.respond(&question).await;
    let decision = response.as_mut().and_then(|r| r.decision.take());
    let bytes = response.and_then(|r| answer::encode(request, r, limit));
    if let (Some(tap), Some(mut event)) = (&pipeline.dnstap, tapped) {
        event.response = bytes.clone().map(|b| (b, SystemTime::now()));
        event.decision = decision;
        tap.record(event);
    }
    bytes
}
