//! NOTIFY (RFC 1996) to the subscribers when a zone's serial changes, over UDP, signed with
//! the subscriber's key when it has one. Each address is tried a bounded number of times
//! with a bounded wait, so a subscriber that is down costs a few packets, never a task that
//! lives on.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Record, RecordType, TSigner};
use prometheus::IntCounterVec;
use tokio::net::UdpSocket;
use tokio::time::timeout;

use super::tsig;

/// Tries per address, and the wait for an answer to each: at most 5 × 2 s.
const TRIES: u32 = 5;
const WAIT: Duration = Duration::from_secs(2);

/// Sends a NOTIFY for the zone of `soa` (the new SOA goes along, RFC 1996 §3.7) to `to`
/// until it is answered or [`TRIES`] are spent; `now` is the TSIG time. Returns whether the
/// subscriber answered.
pub async fn send(
    soa: Record,
    to: SocketAddr,
    signer: Option<TSigner>,
    now: u64,
    events: IntCounterVec,
) -> bool {
    let local: SocketAddr = if to.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let Ok(socket) = UdpSocket::bind(local).await else {
        return false;
    };
    let mut message = Message::new(rand_id(), MessageType::Query, OpCode::Notify);
    message.metadata.authoritative = true;
    let zone = soa.name.clone();
    let mut query = Query::query(zone.clone(), RecordType::SOA);
    query.set_query_class(DNSClass::IN);
    message.add_query(query);
    message.add_answer(soa);
    if tsig::sign_request(&mut message, signer.as_ref(), now).is_err() {
        return false;
    }
    let Ok(bytes) = message.to_vec() else {
        return false;
    };
    let mut buf = vec![0u8; 4096];
    for _ in 0..TRIES {
        events.with_label_values(&["notify_sent"]).inc();
        if socket.send_to(&bytes, to).await.is_err() {
            continue;
        }
        let answered = timeout(WAIT, async {
            loop {
                let Ok((len, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let reply = Message::from_vec(&buf[..len]);
                if from == to
                    && reply.is_ok_and(|r| {
                        r.metadata.id == message.metadata.id
                            && r.metadata.message_type == MessageType::Response
                    })
                {
                    return;
                }
            }
        })
        .await;
        if answered.is_ok() {
            return true;
        }
    }
    tracing::warn!(%zone, %to, "NOTIFY not answered");
    false
}

fn rand_id() -> u16 {
    let mut id = [0u8; 2];
    let _ = getrandom::getrandom(&mut id);
    u16::from_be_bytes(id)
}
