//! dnstap out: every client query and response, with the profile's decision in the policy
//! fields, as Frame Streams to a unix socket or TCP collector (`fstrm_capture`, a SIEM's
//! dnstap input, Unbound's or BIND's own tooling).
//!
//! The listeners only copy the query's bytes and hand an [`Event`] to a bounded queue
//! ([`Tap::record`] never waits); the writer task encodes and sends. A collector that is
//! down or slow costs dropped events (counted), never a slower answer.

mod fstrm;
pub mod message;
mod writer;

pub use writer::{Tap, TapError};

use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message as _;

use crate::policy::Label;
use message::{Action, Dnstap, Message, Policy};

/// How a query came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    Dot,
    Doh,
}

/// What decided a query, when it was not simply allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub label: Label,
    pub category: Option<Box<str>>,
}

impl Decision {
    /// The decision worth a policy field: `None` for a plain allowed answer.
    pub fn of(label: Label, category: Option<&str>) -> Option<Decision> {
        (label != Label::Allowed).then(|| Decision {
            label,
            category: category.map(Box::from),
        })
    }

    /// `blocked: category adult`, or the label alone.
    fn rule(&self) -> String {
        match &self.category {
            Some(category) => format!("{}: category {category}", self.label.as_str()),
            None => self.label.as_str().to_owned(),
        }
    }
}

/// One query and its answer (none when it was dropped), as seen at the listener.
#[derive(Debug)]
pub struct Event {
    pub transport: Transport,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub query: Vec<u8>,
    pub received: SystemTime,
    pub response: Option<(Vec<u8>, SystemTime)>,
    pub decision: Option<Decision>,
}

impl Event {
    /// Appends the CLIENT_QUERY and (when there was an answer) CLIENT_RESPONSE frames.
    fn encode(&self, identity: &[u8], out: &mut Vec<u8>) {
        let (family, client_ip, server_ip) = match (self.client.ip(), self.server.ip()) {
            (IpAddr::V4(c), IpAddr::V4(s)) => {
                (message::INET, c.octets().to_vec(), s.octets().to_vec())
            }
            (c, s) => (
                message::INET6,
                ipv6(c).octets().to_vec(),
                ipv6(s).octets().to_vec(),
            ),
        };
        let (qsec, qnsec) = unix(self.received);
        let base = Message {
            r#type: message::CLIENT_QUERY,
            socket_family: Some(family),
            socket_protocol: Some(match self.transport {
                Transport::Udp => message::UDP,
                Transport::Tcp => message::TCP,
                Transport::Dot => message::DOT,
                Transport::Doh => message::DOH,
            }),
            query_address: Some(client_ip),
            response_address: Some(server_ip),
            query_port: Some(u32::from(self.client.port())),
            response_port: Some(u32::from(self.server.port())),
            query_time_sec: Some(qsec),
            query_time_nsec: Some(qnsec),
            ..Message::default()
        };
        let policy = self.policy();
        let query = Message {
            query_message: Some(self.query.clone()),
            policy: policy.clone(),
            ..base.clone()
        };
        frame(identity, query, out);
        if let Some((bytes, sent)) = &self.response {
            let (rsec, rnsec) = unix(*sent);
            let response = Message {
                r#type: message::CLIENT_RESPONSE,
                response_message: Some(bytes.clone()),
                response_time_sec: Some(rsec),
                response_time_nsec: Some(rnsec),
                policy,
                ..base
            };
            frame(identity, response, out);
        }
    }

    /// The policy fields: what decided, the action the answer shows, and the name asked.
    fn policy(&self) -> Option<Policy> {
        let decision = self.decision.as_ref()?;
        Some(Policy {
            r#type: Some("familydns".to_owned()),
            rule: Some(decision.rule().into_bytes()),
            action: Some(self.action() as i32),
            r#match: Some(message::MATCH_QNAME),
            value: qname_wire(&self.query).map(<[u8]>::to_vec),
        })
    }

    /// The action as the answer shows it: no answer is a drop, TC a truncation, and the
    /// rcode and answer count tell NXDOMAIN, NODATA and local data (a block answered
    /// 0.0.0.0, a safe-search CNAME) apart.
    fn action(&self) -> Action {
        let Some((bytes, _)) = &self.response else {
            return Action::Drop;
        };
        let (Some(&flags), Some(&rcode), Some(ancount)) =
            (bytes.get(2), bytes.get(3), bytes.get(6..8))
        else {
            return Action::Pass;
        };
        match (flags & 0x02 != 0, rcode & 0x0f, ancount != [0, 0]) {
            (true, ..) => Action::Truncate,
            (_, 3, _) => Action::Nxdomain,
            (_, 0, false) => Action::Nodata,
            (_, 0, true) => Action::LocalData,
            _ => Action::Pass,
        }
    }
}

fn ipv6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn unix(t: SystemTime) -> (u64, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs(), d.subsec_nanos())
}

/// The question's name in wire format, straight from the query's bytes.
fn qname_wire(query: &[u8]) -> Option<&[u8]> {
    let mut at = 12;
    loop {
        let len = usize::from(*query.get(at)?);
        if len & 0xc0 != 0 {
            return None;
        }
        at += 1 + len;
        if len == 0 {
            return query.get(12..at);
        }
    }
}

fn frame(identity: &[u8], message: Message, out: &mut Vec<u8>) {
    let tap = Dnstap {
        identity: Some(identity.to_vec()),
        version: Some(
            concat!("familydns ", env!("CARGO_PKG_VERSION"))
                .as_bytes()
                .to_vec(),
        ),
        extra: None,
        message: Some(message),
        r#type: message::DNSTAP_MESSAGE,
    };
    fstrm::data(out, &tap.encode_to_vec());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(response: Option<&[u8]>, decision: Option<Decision>) -> Event {
        // A query for a.b (id 0x1234) and whatever answer the test gives.
        let query = vec![
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 1, b'b', 0, 0, 1, 0, 1,
        ];
        let at = UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 5);
        Event {
            transport: Transport::Udp,
            client: "192.0.2.7:5300".parse().unwrap(),
            server: "127.0.0.1:53".parse().unwrap(),
            query,
            received: at,
            response: response.map(|r| (r.to_vec(), at)),
            decision,
        }
    }

    fn blocked() -> Option<Decision> {
        Decision::of(Label::Blocked, Some("adult"))
    }

    #[test]
    fn a_block_is_encoded_with_its_policy_in_both_messages() {
        let nx = [0x12, 0x34, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0];
        let mut out = Vec::new();
        event(Some(&nx), blocked()).encode(b"fdns-1", &mut out);
        let mut frames = Vec::new();
        let mut rest = &out[..];
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            frames.push(Dnstap::decode(&rest[4..4 + len]).unwrap());
            rest = &rest[4 + len..];
        }
        let kinds: Vec<i32> = frames
            .iter()
            .map(|f| f.message.as_ref().unwrap().r#type)
            .collect();
        assert_eq!(kinds, [message::CLIENT_QUERY, message::CLIENT_RESPONSE]);
        for f in &frames {
            assert_eq!(f.identity.as_deref(), Some(&b"fdns-1"[..]));
            let m = f.message.as_ref().unwrap();
            assert_eq!(m.query_address.as_deref(), Some(&[192, 0, 2, 7][..]));
            assert_eq!((m.query_port, m.query_time_nsec), (Some(5300), Some(5)));
            let p = m.policy.as_ref().unwrap();
            assert_eq!(p.rule.as_deref(), Some(&b"blocked: category adult"[..]));
            assert_eq!(p.action, Some(Action::Nxdomain as i32));
            assert_eq!(p.value.as_deref(), Some(&[1, b'a', 1, b'b', 0][..]));
        }
        assert_eq!(
            frames[1]
                .message
                .as_ref()
                .unwrap()
                .response_message
                .as_deref(),
            Some(&nx[..])
        );
    }

    #[test]
    fn actions_follow_the_answer() {
        let answer = |flags: u8, rcode: u8, an: u8| [0, 0, flags, rcode, 0, 1, 0, an, 0, 0, 0, 0];
        let cases = [
            (Some(answer(0x81, 0x80, 0)), Action::Nodata),
            (Some(answer(0x81, 0x80, 1)), Action::LocalData),
            (Some(answer(0x83, 0x80, 0)), Action::Truncate),
            (Some(answer(0x81, 0x85, 0)), Action::Pass),
            (None, Action::Drop),
        ];
        for (response, action) in cases {
            assert_eq!(
                event(response.as_ref().map(|r| &r[..]), blocked()).action(),
                action
            );
        }
        assert!(
            event(None, Decision::of(Label::Allowed, None))
                .policy()
                .is_none()
        );
    }
}
