//! Writing a response's bytes: the header, the client's question, the records and our OPT.
//!
//! hickory-proto's `Message::to_vec` was the largest user-space cost left on the blocked and
//! cached paths (a `Message` assembled per answer, every record cloned into it, a label
//! table hashed for compression). This writes the same bytes straight from the request and
//! the [`Reply`]: a name already written (the question, an owner, a CNAME target) becomes a
//! pointer, A/AAAA/CNAME/SOA data are written in place, and any other record data goes through
//! hickory's own encoder, uncompressed (RFC 3597 §4 forbids compressing new types anyway).

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

use super::answer::{MAX_UDP_PAYLOAD, Reply};
use crate::policy::EdeCode;

/// RFC 8914 option code.
const EDE_OPTION: u16 = 15;
/// Longest EDE text we send: a large OPT shrinks the room left for answers (Blocky caps at
/// 200 bytes too).
const EDE_TEXT_MAX: usize = 200;
/// Compression pointers hold 14 bits of offset.
const MAX_POINTER: usize = 0x3FFF;

/// The flags of a response besides its records.
pub struct Flags {
    pub rcode: ResponseCode,
    pub truncated: bool,
    /// The AD bit (already checked against what the client showed it understands).
    pub authentic: bool,
}

/// Encodes the answer to `request` in at most `limit` bytes; an answer that does not fit
/// goes out empty with TC=1, and the client retries over TCP. `None` when a record cannot be
/// encoded (a name or record data hickory refuses).
pub fn encode(request: &Message, reply: &Reply, flags: Flags, limit: usize) -> Option<Vec<u8>> {
    let mut out = Writer {
        bytes: Vec::with_capacity(512),
        names: Vec::new(),
    };
    let queries = u16::try_from(request.queries.len()).ok()?;
    let answers = u16::try_from(reply.answers.len()).ok()?;
    let authorities = u16::try_from(reply.authorities.len()).ok()?;
    out.header(request, &flags, [queries, answers, authorities]);
    for query in &request.queries {
        out.name(query.name())?;
        out.u16(query.query_type().into());
        out.u16(query.query_class().into());
    }
    let question_end = out.bytes.len();
    for record in reply.answers.iter().chain(&reply.authorities) {
        out.record(record)?;
    }
    let ede = reply
        .ede
        .as_ref()
        .map(|(code, text)| (*code, text.as_str()));
    if let Some(edns) = &request.edns {
        out.opt(edns, flags.rcode, ede);
    }
    if out.bytes.len() > limit {
        out.bytes.truncate(question_end);
        out.bytes[2] |= 0x02; // TC
        out.bytes[6..10].fill(0); // no answers, no authorities
        if let Some(edns) = &request.edns {
            out.opt(edns, flags.rcode, ede);
        }
    }
    Some(out.bytes)
}

struct Writer<'r> {
    bytes: Vec<u8>,
    /// Names written in full, and where: a later equal name becomes a pointer to it.
    names: Vec<(&'r Name, u16)>,
}

impl<'r> Writer<'r> {
    fn u16(&mut self, value: u16) {
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }

    fn header(&mut self, request: &Message, flags: &Flags, [qd, an, ns]: [u16; 3]) {
        let m = &request.metadata;
        let opcode = u8::from(m.op_code) & 0x0F;
        let rcode = u16::from(flags.rcode);
        self.u16(m.id);
        self.bytes.push(
            0x80 | opcode << 3 | u8::from(flags.truncated) << 1 | u8::from(m.recursion_desired),
        );
        // RA, AD, CD, and the low four bits of the rcode (the rest go in the OPT).
        self.bytes.push(
            0x80 | u8::from(flags.authentic) << 5
                | u8::from(m.checking_disabled) << 4
                | (rcode & 0x0F) as u8,
        );
        self.u16(qd);
        self.u16(an);
        self.u16(ns);
        self.u16(u16::from(request.edns.is_some()));
    }

    /// Writes `name`, as a pointer when the same name, spelled the same, was written before:
    /// letter case counts, so that each question is echoed exactly as it was asked (0x20).
    fn name(&mut self, name: &'r Name) -> Option<()> {
        if let Some((_, at)) = self.names.iter().find(|(seen, _)| seen.eq_case(name)) {
            self.u16(0xC000 | at);
            return Some(());
        }
        let at = self.bytes.len();
        for label in name.iter() {
            self.bytes.push(u8::try_from(label.len()).ok()?);
            self.bytes.extend_from_slice(label);
        }
        self.bytes.push(0);
        if at <= MAX_POINTER {
            self.names.push((name, at as u16));
        }
        Some(())
    }

    fn record(&mut self, record: &'r Record) -> Option<()> {
        self.name(&record.name)?;
        self.u16(record.record_type().into());
        self.u16(record.dns_class.into());
        self.bytes.extend_from_slice(&record.ttl.to_be_bytes());
        let length_at = self.bytes.len();
        self.u16(0);
        match &record.data {
            RData::A(a) => self.bytes.extend_from_slice(&a.0.octets()),
            RData::AAAA(aaaa) => self.bytes.extend_from_slice(&aaaa.0.octets()),
            RData::CNAME(target) => self.name(&target.0)?,
            // Every block and NODATA carries one: written here, its names compressed as
            // RFC 1035 allows, rather than through hickory's encoder.
            RData::SOA(soa) => {
                self.name(&soa.mname)?;
                self.name(&soa.rname)?;
                self.bytes.extend_from_slice(&soa.serial.to_be_bytes());
                for field in [soa.refresh, soa.retry, soa.expire] {
                    self.bytes.extend_from_slice(&field.to_be_bytes());
                }
                self.bytes.extend_from_slice(&soa.minimum.to_be_bytes());
            }
            data => {
                let offset = u32::try_from(self.bytes.len()).ok()?;
                let mut encoder = BinEncoder::with_offset(&mut self.bytes, offset);
                encoder.set_name_encoding(NameEncoding::Uncompressed);
                data.emit(&mut encoder).ok()?;
            }
        }
        let length = u16::try_from(self.bytes.len() - length_at - 2).ok()?;
        self.bytes[length_at..length_at + 2].copy_from_slice(&length.to_be_bytes());
        Some(())
    }

    /// The OPT of a response to a request that carried `request` EDNS: version 0 (the only
    /// one we speak, RFC 6891 §6.1.3, also in a BADVERS answer), the client's payload size
    /// (capped), its DO bit echoed (RFC 3225 §3), the rcode's upper bits, and an EDE when
    /// there is one.
    ///
    /// The OPT is built fresh rather than copied from the request, so that what ednscomp
    /// checks holds by construction: the request's unknown options are not echoed, and its
    /// unknown flags (the Z bits) are clear in the reply.
    fn opt(&mut self, request: &Edns, rcode: ResponseCode, ede: Option<(EdeCode, &str)>) {
        self.bytes.push(0); // the root
        self.u16(RecordType::OPT.into());
        self.u16(request.max_payload().clamp(512, MAX_UDP_PAYLOAD));
        self.bytes.push((u16::from(rcode) >> 4) as u8);
        self.bytes.push(0); // version
        self.u16(if request.flags().dnssec_ok { 0x8000 } else { 0 });
        let Some((code, text)) = ede else {
            self.u16(0);
            return;
        };
        let text = ede_text(text);
        let length = 4 + 2 + text.len() as u16;
        self.u16(length);
        self.u16(EDE_OPTION);
        self.u16(2 + text.len() as u16);
        self.u16(code as u16);
        self.bytes.extend_from_slice(text.as_bytes());
    }
}

/// `text` cut to [`EDE_TEXT_MAX`] bytes, on a character boundary.
fn ede_text(text: &str) -> &str {
    let mut end = text.len().min(EDE_TEXT_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
