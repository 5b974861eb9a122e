//! The tests' upstream: an authoritative hickory server on loopback for `example.test.` and
//! the safe-search hosts, which records every query and can be told to go silent or slow.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::op::{Edns, Header, HeaderCounts, Metadata};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};

use super::udp_and_tcp;

/// What the upstream saw of one query.
#[derive(Debug, Clone)]
pub struct Seen {
    pub name: String,
    pub rtype: RecordType,
    pub edns: Option<Edns>,
    pub checking_disabled: bool,
}

/// The in-process upstream: an authoritative hickory server for `example.test.` that
/// records every query it receives and can be told to stop answering.
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub silent: Arc<AtomicBool>,
    /// Milliseconds the upstream waits before answering.
    pub delay_ms: Arc<std::sync::atomic::AtomicU64>,
    _server: Server<Recording>,
}

impl Upstream {
    pub fn queries_for(&self, name: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.name == name)
            .count()
    }
}

pub struct Recording {
    catalog: Catalog,
    seen: Arc<Mutex<Vec<Seen>>>,
    silent: Arc<AtomicBool>,
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
}

#[async_trait::async_trait]
impl RequestHandler for Recording {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response: R,
    ) -> ResponseInfo {
        if let Some(q) = request.queries.queries().first() {
            self.seen.lock().unwrap().push(Seen {
                name: q.name().to_string(),
                rtype: q.query_type(),
                edns: request.edns.clone(),
                checking_disabled: request.metadata.checking_disabled,
            });
        }
        if self.silent.load(Ordering::SeqCst) {
            return ResponseInfo::from(Header {
                metadata: Metadata::response_from_request(&request.metadata),
                counts: HeaderCounts::default(),
            });
        }
        // `servfail.*` names: an upstream that is alive but fails one question.
        if request
            .queries
            .queries()
            .first()
            .is_some_and(|q| q.name().to_string().starts_with("servfail."))
        {
            let builder =
                hickory_server::zone_handler::MessageResponseBuilder::from_message_request(request);
            let reply =
                builder.error_msg(&request.metadata, hickory_proto::op::ResponseCode::ServFail);
            let mut response = response;
            return response.send_response(reply).await.unwrap_or_else(|_| {
                ResponseInfo::from(Header {
                    metadata: Metadata::response_from_request(&request.metadata),
                    counts: HeaderCounts::default(),
                })
            });
        }
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        self.catalog.handle_request::<R, T>(request, response).await
    }
}

/// A name exactly as written: `Name::from_str` would run IDNA and lowercase it, and tests
/// must be able to send capitals.
pub fn n(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

/// The test zone. TTLs differ per record so that tests can tell them apart.
pub fn zone_records() -> Vec<Record> {
    let rec = |name: &str, ttl, rdata| Record::from_rdata(n(name), ttl, rdata);
    let mut records = vec![
        rec(
            "example.test.",
            3600,
            RData::SOA(SOA::new(
                n("ns.example.test."),
                n("admin.example.test."),
                1,
                3600,
                600,
                86400,
                120,
            )),
        ),
        rec("example.test.", 3600, RData::NS(NS(n("ns.example.test.")))),
        rec(
            "ns.example.test.",
            3600,
            RData::A(A(Ipv4Addr::new(192, 0, 2, 53))),
        ),
        rec(
            "www.example.test.",
            300,
            RData::A(A(Ipv4Addr::new(192, 0, 2, 1))),
        ),
        rec(
            "www.example.test.",
            300,
            RData::AAAA(AAAA(Ipv6Addr::from_str("2001:db8::1").unwrap())),
        ),
        rec(
            "alias.example.test.",
            300,
            RData::CNAME(CNAME(n("www.example.test."))),
        ),
        rec(
            "example.test.",
            300,
            RData::MX(MX::new(10, n("mail.example.test."))),
        ),
        rec(
            "txt.example.test.",
            300,
            RData::TXT(TXT::new(vec!["hello family".into()])),
        ),
        rec(
            "_sip._udp.example.test.",
            300,
            RData::SRV(SRV::new(10, 5, 5060, n("sip.example.test."))),
        ),
        rec(
            "ptr.example.test.",
            300,
            RData::PTR(PTR(n("www.example.test."))),
        ),
        rec(
            "short.example.test.",
            2,
            RData::A(A(Ipv4Addr::new(192, 0, 2, 2))),
        ),
    ];
    // 40 TXT strings of 100 bytes: about 4 KB, more than any UDP buffer we allow.
    for i in 0..40 {
        records.push(rec(
            "big.example.test.",
            300,
            RData::TXT(TXT::new(vec![format!("{i:03}{}", "x".repeat(97))])),
        ));
    }
    records
}

/// The safe hosts the engines publish, as small zones of their own.
pub fn safe_search_zones() -> Vec<(&'static str, Vec<Record>)> {
    let a =
        |name: &str, ip: [u8; 4]| Record::from_rdata(n(name), 300, RData::A(A(Ipv4Addr::from(ip))));
    let soa = |zone: &str| {
        let rdata = SOA::new(
            n(&format!("ns.{zone}")),
            n(&format!("admin.{zone}")),
            1,
            3600,
            600,
            86400,
            60,
        );
        Record::from_rdata(n(zone), 3600, RData::SOA(rdata))
    };
    vec![
        (
            "google.com.",
            vec![
                soa("google.com."),
                a("forcesafesearch.google.com.", [216, 239, 38, 120]),
            ],
        ),
        (
            "youtube.com.",
            vec![
                soa("youtube.com."),
                a("restrict.youtube.com.", [216, 239, 38, 120]),
                a("restrictmoderate.youtube.com.", [216, 239, 38, 119]),
            ],
        ),
    ]
}

pub async fn start_upstream() -> Upstream {
    let mut catalog = Catalog::new();
    let mut zones = vec![("example.test.", zone_records())];
    zones.extend(safe_search_zones());
    for (origin, records) in zones {
        let origin = n(origin);
        let mut zone =
            InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::empty(
                origin.clone(),
                ZoneType::Primary,
                AxfrPolicy::Deny,
            );
        for r in records {
            zone.upsert_mut(r, 1);
        }
        catalog.upsert(LowerName::new(&origin), vec![Arc::new(zone)]);
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let silent = Arc::new(AtomicBool::new(false));
    let delay_ms = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut server = Server::new(Recording {
        catalog,
        seen: seen.clone(),
        silent: silent.clone(),
        delay_ms: delay_ms.clone(),
    });
    let (udp, tcp) = udp_and_tcp().await;
    let addr = udp.local_addr().unwrap();
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 16);
    Upstream {
        addr,
        seen,
        silent,
        delay_ms,
        _server: server,
    }
}
