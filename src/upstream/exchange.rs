//! One exchange with one upstream, without I/O: the request we send for a client's question,
//! and what of the upstream's response we keep.
//!
//! We build the requests ourselves (rather than calling hickory's `Resolver::lookup`) so that
//! the client's DNSSEC bits reach the upstream: the resolver sets DO only when it validates
//! itself, takes no CD, and strips RRSIGs and the AD bit from every answer.

use hickory_proto::op::{DnsRequest, DnsRequestOptions, DnsResponse, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_resolver::net::{DnsError, NetError, NoRecords};

use super::{Answer, NEGATIVE_TTL_WITHOUT_SOA};

/// The DNSSEC bits of a client's query that change what the upstream answers: DO (send the
/// RRSIGs, NSECs and DNSKEYs, RFC 3225) and CD (return data even if it fails validation,
/// RFC 4035 §3.2.2). Both are forwarded as the client set them, and both are part of the
/// cache key: a DO=0 client must not get records it did not ask for, and a CD=0 client must
/// not get data that only a CD=1 query would have passed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Dnssec {
    pub ok: bool,
    pub checking_disabled: bool,
}

/// Why one upstream gave no usable answer. Only silence and transport failures say the
/// upstream is unwell: an rcode (SERVFAIL for a DNSSEC-bogus name, REFUSED for a type it
/// will not serve) is an answer about one question from an upstream that is alive.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("timed out")]
    Timeout,
    #[error("{0}")]
    Transport(NetError),
    #[error("answered {0}")]
    Rcode(ResponseCode),
}

impl QueryError {
    /// Whether the upstream should be demoted (and the failure counted) for this.
    pub fn is_health_failure(&self) -> bool {
        !matches!(self, QueryError::Rcode(_))
    }
}

/// The request for `name`/`rtype` with the client's DNSSEC bits. AD is always set: it asks
/// a validating upstream to say whether it validated the answer (RFC 6840 §5.7); whether the
/// client sees that bit is decided when its reply is encoded.
pub fn request(name: &Name, rtype: RecordType, dnssec: Dnssec) -> DnsRequest {
    let mut options = DnsRequestOptions::default();
    options.edns_set_dnssec_ok = dnssec.ok;
    let mut request = DnsRequest::from_query(Query::query(name.clone(), rtype), options);
    request.metadata.checking_disabled = dnssec.checking_disabled;
    request.metadata.authentic_data = true;
    request
}

/// What we keep of an upstream's response to a request with `dnssec`. Negative answers are
/// answers. The authority section is kept whole for a DO query (the NSEC/NSEC3 proofs and
/// their RRSIGs a validating client needs); otherwise only its SOA, which gives a negative
/// answer its TTL downstream.
///
/// hickory hands a negative answer over as [`NoRecords`], without its header: the AD bit of
/// a validated NXDOMAIN or NODATA is lost, and such answers go out without it. A client that
/// asked with DO still gets the signed proofs to validate itself.
pub fn answer(
    response: Result<DnsResponse, NetError>,
    dnssec: Dnssec,
) -> Result<Answer, QueryError> {
    match response {
        Ok(response) => from_message(response.into_message(), dnssec),
        Err(NetError::Dns(DnsError::NoRecordsFound(NoRecords {
            soa,
            negative_ttl,
            response_code,
            authorities,
            ..
        }))) => {
            let negative_ttl = negative_ttl.or(soa.is_none().then_some(NEGATIVE_TTL_WITHOUT_SOA));
            let authorities = kept(authorities.map(|a| a.to_vec()).unwrap_or_default(), dnssec);
            Ok(Answer::new(
                response_code,
                vec![],
                authorities,
                negative_ttl,
                false,
            ))
        }
        Err(NetError::Dns(DnsError::ResponseCode(code))) => Err(QueryError::Rcode(code)),
        Err(e) => Err(QueryError::Transport(e)),
    }
}

/// A request as sent over our own UDP client.
pub fn encode(request: &DnsRequest) -> Result<Vec<u8>, QueryError> {
    request
        .to_vec()
        .map_err(|e| QueryError::Transport(NetError::from(e)))
}

/// A reply read by our own UDP client; `None` when it was truncated (ask again over TCP).
pub fn decode(reply: &[u8], dnssec: Dnssec) -> Result<Option<Answer>, QueryError> {
    let message = Message::from_vec(reply).map_err(|e| QueryError::Transport(NetError::from(e)))?;
    if message.metadata.truncation {
        return Ok(None);
    }
    from_message(message, dnssec).map(Some)
}

/// What we keep of an upstream's reply read off the wire by our own UDP client, as
/// [`answer`] does for hickory's: the rcodes that are answers, the authority section as the
/// client's DO bit allows, and the negative TTL (RFC 2308 §5: the smaller of the SOA's TTL
/// and its minimum). Here the header is at hand, so a validated negative answer keeps its AD
/// bit.
fn from_message(mut message: Message, dnssec: Dnssec) -> Result<Answer, QueryError> {
    let rcode = message.metadata.response_code;
    if !matches!(
        rcode,
        ResponseCode::NoError | ResponseCode::NXDomain | ResponseCode::Unknown(_)
    ) {
        return Err(QueryError::Rcode(rcode));
    }
    let negative_ttl = message.answers.is_empty().then(|| {
        message
            .authorities
            .iter()
            .find_map(|r| match &r.data {
                RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
                _ => None,
            })
            .unwrap_or(NEGATIVE_TTL_WITHOUT_SOA)
    });
    let authorities = kept(std::mem::take(&mut message.authorities), dnssec);
    Ok(Answer::new(
        rcode,
        message.answers,
        authorities,
        negative_ttl,
        message.metadata.authentic_data,
    ))
}

/// The authority records kept: all of them for DO, otherwise only the SOA.
fn kept(mut authorities: Vec<Record>, dnssec: Dnssec) -> Vec<Record> {
    if !dnssec.ok {
        authorities.retain(|r| r.record_type() == RecordType::SOA);
    }
    authorities
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::rdata::{A, NS, SOA};

    use super::*;

    const DO: Dnssec = Dnssec {
        ok: true,
        checking_disabled: false,
    };

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn soa_data() -> SOA {
        SOA::new(name("ns.t."), name("admin.t."), 1, 3600, 600, 86400, 120)
    }

    fn soa() -> Record {
        Record::from_rdata(name("t."), 3600, RData::SOA(soa_data()))
    }

    /// A NOERROR response with one A, the upstream's AD bit, and an NS and SOA in authority.
    fn response(authentic: bool) -> DnsResponse {
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.metadata.authentic_data = authentic;
        let a = RData::A(A(Ipv4Addr::new(192, 0, 2, 1)));
        m.answers.push(Record::from_rdata(name("www.t."), 300, a));
        let ns = RData::NS(NS(name("ns.t.")));
        m.authorities = vec![Record::from_rdata(name("t."), 3600, ns), soa()];
        DnsResponse::from_message(m).unwrap()
    }

    #[test]
    fn the_request_carries_the_clients_bits_and_asks_for_ad() {
        for (ok, cd) in [(false, false), (true, false), (false, true), (true, true)] {
            let dnssec = Dnssec {
                ok,
                checking_disabled: cd,
            };
            let r = request(&name("www.t."), RecordType::A, dnssec);
            let edns = r.edns.as_ref().expect("EDNS is always sent");
            assert_eq!(edns.flags().dnssec_ok, ok);
            assert_eq!(r.metadata.checking_disabled, cd);
            assert!(r.metadata.authentic_data);
        }
    }

    #[test]
    fn the_ad_bit_is_kept_and_the_authority_section_only_for_do() {
        let answer_do = answer(Ok(response(true)), DO).unwrap();
        assert!(answer_do.authentic);
        assert_eq!(answer_do.answers.len(), 1);
        assert_eq!(answer_do.authorities.len(), 2, "as given for DO");
        let plain = answer(Ok(response(false)), Dnssec::default()).unwrap();
        assert!(!plain.authentic);
        let types: Vec<_> = plain.authorities.iter().map(Record::record_type).collect();
        assert_eq!(types, [RecordType::SOA], "only the SOA without DO");
    }

    #[test]
    fn a_negative_answer_keeps_its_proofs_for_do_and_its_ttl() {
        // Any second record stands for the NSEC proofs: what matters is that it is kept.
        let proof = Record::from_rdata(name("t."), 120, RData::NS(NS(name("ns.t."))));
        let no_records = || {
            let mut nr = NoRecords::new(Query::default(), ResponseCode::NXDomain);
            nr.soa = Some(Box::new(Record::from_rdata(name("t."), 3600, soa_data())));
            nr.negative_ttl = Some(120);
            nr.authorities = Some(vec![soa(), proof.clone()].into());
            Err(NetError::Dns(DnsError::NoRecordsFound(nr)))
        };
        let with_do = answer(no_records(), DO).unwrap();
        assert_eq!(with_do.rcode, ResponseCode::NXDomain);
        assert_eq!(with_do.authorities.len(), 2);
        let plain = answer(no_records(), Dnssec::default()).unwrap();
        assert_eq!(plain.authorities, [soa()]);
    }

    #[test]
    fn a_reply_off_the_wire_keeps_a_negative_answers_ad_bit() {
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        m.metadata.response_code = ResponseCode::NXDomain;
        m.metadata.authentic_data = true;
        m.authorities = vec![soa()];
        let answer = decode(&m.to_vec().unwrap(), Dnssec::default()).unwrap();
        let answer = answer.expect("not truncated");
        assert_eq!(answer.rcode, ResponseCode::NXDomain);
        assert!(answer.authentic, "the header is at hand");
        assert_eq!(answer.authorities, [soa()]);

        m.metadata.truncation = true;
        let truncated = decode(&m.to_vec().unwrap(), Dnssec::default()).unwrap();
        assert!(truncated.is_none(), "asked again over TCP");

        m.metadata.truncation = false;
        m.metadata.response_code = ResponseCode::Refused;
        let refused = decode(&m.to_vec().unwrap(), Dnssec::default()).unwrap_err();
        assert!(matches!(refused, QueryError::Rcode(ResponseCode::Refused)));
    }

    #[test]
    fn rcodes_are_not_answers() {
        let refused = Err(NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)));
        let e = answer(refused, DO).unwrap_err();
        assert!(matches!(e, QueryError::Rcode(ResponseCode::Refused)));
        assert!(!e.is_health_failure());
    }
}
