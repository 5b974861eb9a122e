//! DoH (RFC 8484): GET `?dns=` (base64url) and POST `application/dns-message` on
//! `/dns-query` and `/dns-query/{id}`, over HTTP/2 (ALPN `h2`) or HTTP/1.1.
//!
//! Bounds: a connection holds a TCP slot and lives at most `server.tcp.max_lifetime`; HTTP/2
//! runs at most `server.tcp.max_in_flight` streams at once, HTTP/1.1 must send its headers
//! within [`READ_TIMEOUT`]; a message is at most 65535 bytes and a POST body must arrive
//! within [`READ_TIMEOUT`].

use std::convert::Infallible;
use std::net::SocketAddr;

use data_encoding::BASE64URL_NOPAD;
use hickory_proto::op::{Message, MessageType};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::time::timeout;

use super::{Accepted, Shared};
use crate::clients::ClientId;
use crate::dnstap::Transport;
use crate::server::respond;
use crate::server::tcp::READ_TIMEOUT;

const PATH: &str = "/dns-query";
const DNS_MESSAGE: &str = "application/dns-message";
/// A DNS message's largest size (its TCP length prefix is 16 bits).
const MAX_MESSAGE: usize = u16::MAX as usize;
/// HTTP/2 header block limit: a GET carries its query in the path.
const MAX_HEADERS: u32 = 16 * 1024;

/// Serves one DoH connection: HTTP/2 when the client chose it by ALPN, else HTTP/1.1.
pub(super) async fn connection(accepted: Accepted) {
    let Accepted {
        tls,
        addr,
        local,
        slot,
        shared,
    } = accepted;
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let (lifetime, streams) = (shared.tcp.max_lifetime, shared.tcp.max_in_flight);
    let service = service_fn(move |request| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(answer(request, &shared, addr, local).await) }
    });
    let io = TokioIo::new(tls);
    let served = if h2 {
        let connection = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_concurrent_streams(u32::try_from(streams).unwrap_or(u32::MAX))
            .max_header_list_size(MAX_HEADERS)
            .serve_connection(io, service);
        timeout(lifetime, connection).await
    } else {
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(READ_TIMEOUT)
            .serve_connection(io, service);
        timeout(lifetime, connection).await
    };
    if let Ok(Err(e)) = served {
        tracing::debug!(peer = %addr, error = %e, "doh connection closed");
    }
    drop(slot);
}

/// One DoH request to its HTTP response.
async fn answer(
    request: Request<Incoming>,
    shared: &Shared,
    addr: SocketAddr,
    local: SocketAddr,
) -> Response<Full<Bytes>> {
    let wire = match query(request).await {
        Ok(query) => query,
        Err(status) => return status_only(status),
    };
    let (id, wire) = wire;
    let message = match Message::from_vec(&wire) {
        Ok(m) if m.metadata.message_type == MessageType::Query => m,
        _ => return status_only(StatusCode::BAD_REQUEST),
    };
    let pipeline = &shared.pipeline;
    let tapped = respond::tapped(pipeline, &wire, addr, local, Transport::Doh);
    match respond::respond(pipeline, &message, (addr, id), MAX_MESSAGE, tapped).await {
        Some(bytes) => {
            let mut response = Response::new(Full::new(Bytes::from(bytes)));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(DNS_MESSAGE));
            response
        }
        // Dropped by the rate limit: as UDP gets no answer, HTTP says so.
        None => status_only(StatusCode::TOO_MANY_REQUESTS),
    }
}

/// The client id of the path and the DNS message of a request, or the status refusing it.
async fn query(request: Request<Incoming>) -> Result<(Option<ClientId>, Vec<u8>), StatusCode> {
    let id = route(request.uri().path())?;
    let wire = match *request.method() {
        Method::GET => from_get(request.uri().query())?,
        Method::POST => {
            let content_type = request.headers().get(CONTENT_TYPE);
            if content_type.is_none_or(|t| t.as_bytes() != DNS_MESSAGE.as_bytes()) {
                return Err(StatusCode::UNSUPPORTED_MEDIA_TYPE);
            }
            // Refused before reading when it says it is too long; `Limited` holds the others.
            let length = request.headers().get(CONTENT_LENGTH);
            if length.and_then(|l| l.to_str().ok()?.parse::<usize>().ok()) > Some(MAX_MESSAGE) {
                return Err(StatusCode::PAYLOAD_TOO_LARGE);
            }
            let body = Limited::new(request.into_body(), MAX_MESSAGE).collect();
            match timeout(READ_TIMEOUT, body).await {
                Ok(Ok(body)) => body.to_bytes().to_vec(),
                Ok(Err(_)) => return Err(StatusCode::PAYLOAD_TOO_LARGE),
                Err(_) => return Err(StatusCode::REQUEST_TIMEOUT),
            }
        }
        _ => return Err(StatusCode::METHOD_NOT_ALLOWED),
    };
    Ok((id, wire))
}

/// `/dns-query` (no id) or `/dns-query/{id}`; anything else is not found, an invalid id is
/// a bad request.
fn route(path: &str) -> Result<Option<ClientId>, StatusCode> {
    let rest = path.strip_prefix(PATH).ok_or(StatusCode::NOT_FOUND)?;
    match rest.strip_prefix('/') {
        None if rest.is_empty() => Ok(None),
        None => Err(StatusCode::NOT_FOUND),
        Some("") => Ok(None),
        Some(id) => ClientId::parse(id)
            .map(Some)
            .map_err(|_| StatusCode::BAD_REQUEST),
    }
}

/// The message of a GET: the `dns` parameter, base64url without padding (padding, plain
/// or percent-encoded, is tolerated).
fn from_get(query: Option<&str>) -> Result<Vec<u8>, StatusCode> {
    let value = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("dns="))
        .ok_or(StatusCode::BAD_REQUEST)?;
    let value = value.trim_end_matches("%3D").trim_end_matches('=');
    if value.len() > BASE64URL_NOPAD.encode_len(MAX_MESSAGE) {
        return Err(StatusCode::URI_TOO_LONG);
    }
    BASE64URL_NOPAD
        .decode(value.as_bytes())
        .map_err(|_| StatusCode::BAD_REQUEST)
}

fn status_only(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_an_id_or_none() {
        assert_eq!(route("/dns-query"), Ok(None));
        assert_eq!(route("/dns-query/"), Ok(None));
        assert_eq!(
            route("/dns-query/Alice").map(|i| i.map(|i| i.to_string())),
            Ok(Some("alice".to_owned()))
        );
        assert_eq!(route("/dns-query/a_b"), Err(StatusCode::BAD_REQUEST));
        assert_eq!(route("/dns-query/a/b"), Err(StatusCode::BAD_REQUEST));
        assert_eq!(route("/dns-queryx"), Err(StatusCode::NOT_FOUND));
        assert_eq!(route("/"), Err(StatusCode::NOT_FOUND));
    }

    #[test]
    fn get_takes_base64url_with_or_without_padding() {
        assert_eq!(from_get(Some("dns=AAEC")), Ok(vec![0, 1, 2]));
        assert_eq!(from_get(Some("x=1&dns=AAE")), Ok(vec![0, 1]));
        assert_eq!(from_get(Some("dns=AAE=")), Ok(vec![0, 1]));
        assert_eq!(from_get(Some("dns=AAE%3D")), Ok(vec![0, 1]));
        assert_eq!(from_get(Some("dns=+/")), Err(StatusCode::BAD_REQUEST));
        assert_eq!(from_get(None), Err(StatusCode::BAD_REQUEST));
        let long = format!("dns={}", "A".repeat(90_000));
        assert_eq!(from_get(Some(&long)), Err(StatusCode::URI_TOO_LONG));
    }
}
