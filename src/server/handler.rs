//! TCP (and any other hickory-server listener): glue from hickory's `Request` to the
//! [`Pipeline`] and back to a `MessageResponse`.

use std::sync::Arc;

use hickory_proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use super::answer;
use super::pipeline::{Pipeline, Question};

pub struct Handler {
    pipeline: Arc<Pipeline>,
}

impl Handler {
    pub fn new(pipeline: Arc<Pipeline>) -> Self {
        Handler { pipeline }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let info = request.request_info().ok();
        let question = Question {
            src: request.src().ip(),
            op_code: request.metadata.op_code,
            query: info.map(|i| {
                (
                    &**i.query.name(),
                    i.query.query_type(),
                    i.query.query_class(),
                )
            }),
            edns: request.edns.as_ref(),
        };
        let Some(response) = self.pipeline.respond(&question).await else {
            return header_only(request, ResponseCode::NoError);
        };
        let reply = response.reply;
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.recursion_available = true;
        metadata.response_code = reply.rcode;
        metadata.truncation = response.truncated;
        let edns = request
            .edns
            .as_ref()
            .map(|e| answer::response_edns(e, reply.ede.as_ref().map(|(c, t)| (*c, t.as_str()))));
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(edns) = &edns {
            builder.edns(edns);
        }
        let response = builder.build(metadata, &reply.answers, &reply.authorities, &[], &[]);
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(e) => {
                tracing::debug!(error = %e, "failed to send response");
                header_only(request, ResponseCode::ServFail)
            }
        }
    }
}

/// What hickory is told when nothing (or nothing useful) was sent.
fn header_only(request: &Request, rcode: ResponseCode) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = rcode;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}
