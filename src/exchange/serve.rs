//! The transfer server: SOA, AXFR and IXFR of the category zones over TCP, SOA over UDP
//! (secondaries poll the serial there). Who may transfer: a request signed with a
//! subscriber's TSIG key, or an unsigned one from a subscriber's `unsigned_from` address;
//! a bad signature gets NOTAUTH (RFC 8945 §5.2), anyone else REFUSED, both counted.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType};
use prometheus::IntCounterVec;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;

use super::tsig::{self, Auth, Keyring};
use super::zone::Zones;
use super::{unix_now, wire};
use crate::config::exchange::SubscriberConfig;

/// Largest request accepted: a signed IXFR query is a few hundred bytes.
pub const MAX_REQUEST: usize = 4096;
/// Records per transfer message: at most ~270 bytes each, so a message stays under 64 KiB.
const RECORDS_PER_MESSAGE: usize = 200;
/// A transfer message not taken by the client within this is the end of the connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection shares.
pub struct Server {
    pub zones: Arc<RwLock<Zones>>,
    pub keys: Keyring,
    pub subscribers: Vec<SubscriberConfig>,
    /// `familydns_exchange_events_total{event}`.
    pub events: IntCounterVec,
    pub idle: Duration,
}

/// Serves transfers until the task is dropped; at most `max` connections at once, more are
/// closed when accepted.
pub async fn tcp(listener: TcpListener, server: Arc<Server>, max: usize) {
    let slots = Arc::new(Semaphore::new(max));
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            server
                .events
                .with_label_values(&["connection_refused"])
                .inc();
            continue;
        };
        let server = server.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(stream, peer, &server).await {
                tracing::debug!(%peer, error = %e, "transfer connection closed");
            }
            drop(slot);
        });
    }
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    server: &Server,
) -> Result<(), wire::FrameError> {
    loop {
        let request = match wire::read(&mut stream, MAX_REQUEST, server.idle).await {
            Err(wire::FrameError::Closed) => return Ok(()),
            other => other?,
        };
        let replies = server.respond(&request, peer.ip(), true);
        if replies.is_empty() {
            return Ok(());
        }
        for reply in replies {
            wire::write(&mut stream, &reply, WRITE_TIMEOUT).await?;
        }
    }
}

/// Answers SOA queries on `socket` until the task is dropped.
pub async fn udp(socket: UdpSocket, server: Arc<Server>) {
    let mut buf = vec![0u8; MAX_REQUEST];
    loop {
        let Ok((len, src)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        if let Some(reply) = server.respond(&buf[..len], src.ip(), false).first() {
            let _ = socket.send_to(reply, src).await;
        }
    }
}

impl Server {
    /// The messages answering `bytes` from `src` (none: drop it, or close the connection).
    pub fn respond(&self, bytes: &[u8], src: IpAddr, tcp: bool) -> Vec<Vec<u8>> {
        let Ok(request) = Message::from_vec(bytes) else {
            return Vec::new();
        };
        if request.metadata.message_type != MessageType::Query {
            return Vec::new();
        }
        let mut auth = self.keys.verify(bytes, &request, unix_now());
        let refusal = if let Auth::Failed(_) = auth {
            Some((ResponseCode::NotAuth, "notauth"))
        } else if request.metadata.op_code != OpCode::Query {
            Some((ResponseCode::NotImp, "notimp"))
        } else if request.queries.len() != 1 {
            Some((ResponseCode::FormErr, "formerr"))
        } else if !self.authorized(&auth, src) {
            Some((ResponseCode::Refused, "refused"))
        } else {
            None
        };
        if let Some((rcode, event)) = refusal {
            return self.error(&request, rcode, event, &mut auth);
        }
        let query = &request.queries[0];
        let serial = || {
            request.authorities.iter().find_map(|r| match &r.data {
                RData::SOA(soa) => Some(soa.serial),
                _ => None,
            })
        };
        let records: Option<(Vec<Record>, &str)> = {
            let zones = self.zones.read().expect("not poisoned");
            zones
                .find(query.name())
                .and_then(|zone| match query.query_type() {
                    RecordType::SOA => Some((vec![zone.soa()], "soa")),
                    RecordType::AXFR if tcp => Some((zone.axfr(), "axfr")),
                    RecordType::IXFR if tcp => serial().map(|s| (zone.ixfr(s), "ixfr")),
                    _ => None,
                })
        };
        let Some((records, event)) = records else {
            if !tcp && matches!(query.query_type(), RecordType::AXFR | RecordType::IXFR) {
                // RFC 1995 §2: over UDP, tell the client to come back over TCP.
                let mut m = Message::response(request.metadata.id, OpCode::Query);
                m.queries = request.queries.clone();
                m.metadata.truncation = true;
                return tsig::encode(&mut m, &mut auth).into_iter().collect();
            }
            return self.error(&request, ResponseCode::Refused, "refused", &mut auth);
        };
        self.events.with_label_values(&[event]).inc();
        let mut out = Vec::new();
        for (i, chunk) in records.chunks(RECORDS_PER_MESSAGE).enumerate() {
            let mut m = Message::response(request.metadata.id, OpCode::Query);
            m.metadata.authoritative = true;
            if i == 0 {
                m.queries = request.queries.clone();
            }
            m.answers = chunk.to_vec();
            match tsig::encode(&mut m, &mut auth) {
                Ok(bytes) => out.push(bytes),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot encode a transfer message");
                    return Vec::new();
                }
            }
        }
        out
    }

    /// An answer with no records but `rcode`, counted under `event`.
    fn error(
        &self,
        request: &Message,
        rcode: ResponseCode,
        event: &str,
        auth: &mut Auth,
    ) -> Vec<Vec<u8>> {
        self.events.with_label_values(&[event]).inc();
        let mut m = Message::error_msg(request.metadata.id, request.metadata.op_code, rcode);
        m.queries = request.queries.clone();
        tsig::encode(&mut m, auth).into_iter().collect()
    }

    /// Whether the request's signer, or for an unsigned one its address, is a subscriber's.
    fn authorized(&self, auth: &Auth, src: IpAddr) -> bool {
        match auth.key() {
            Some(key) => self.subscribers.iter().any(|s| s.key.as_ref() == Some(key)),
            None => self
                .subscribers
                .iter()
                .any(|s| s.unsigned_from.iter().any(|net| net.contains(&src))),
        }
    }
}
