//! Random input through the server's real decode → decide → encode path
//! (`familydns::server::answer_offline`), on stable Rust: a million packets by default,
//! `FAMILYDNS_RANDOM_INPUTS=10000000` for the long run. Half are well-formed queries with
//! random names, letter case, types and EDNS options; half are those with random bytes
//! flipped, cut or appended. Every answer must parse, match the request's ID and echo its
//! question, and a blocked name must be blocked in any spelling.

mod common;

use std::net::IpAddr;

use familydns::server::answer_offline;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{Name, RecordType};

const MAIN: &str = r#"
default_profile = "kids"
[server]
listen = ["127.0.0.1:0"]
trusted_forwarders = ["127.0.0.2/32"]
[upstream]
servers = ["udp://127.0.0.1:9"]
[[list]]
name = "adult"
category = "adult"
source = "adult.domains"
format = "domains"
[[list]]
name = "words"
category = "adult"
source = "adult.keywords"
format = "keywords"
"#;

const KIDS: &str =
    "block = [\"adult\"]\ndeny = [\"deny.test\"]\nsafe_search = true\nblock_bypass = true\n";

/// xorshift64*: reproducible, and no dependency for a test's randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const LABELS: &[&str] = &[
    "www",
    "pornhub",
    "com",
    "deny",
    "test",
    "google",
    "youtube",
    "casino",
    "x-porn",
    "a",
    "use-application-dns",
    "net",
    "mask",
    "icloud",
    "dns",
    "example",
    "xn--d1acpjx3f",
];

/// A random name from interesting labels, in random letter case; sometimes raw bytes.
fn name(rng: &mut Rng) -> Name {
    let n = 1 + rng.below(5) as usize;
    let mut labels: Vec<Vec<u8>> = Vec::with_capacity(n);
    for _ in 0..n {
        let label = if rng.below(10) == 0 {
            (0..1 + rng.below(12)).map(|_| rng.next() as u8).collect()
        } else {
            LABELS[rng.below(LABELS.len() as u64) as usize]
                .bytes()
                .map(|b| {
                    if rng.below(2) == 0 {
                        b.to_ascii_uppercase()
                    } else {
                        b
                    }
                })
                .collect()
        };
        labels.push(label);
    }
    let mut name = Name::from_labels(labels).unwrap_or_else(|_| Name::root());
    name.set_fqdn(true);
    name
}

fn query(rng: &mut Rng) -> Message {
    let opcode = if rng.below(20) == 0 {
        OpCode::Update
    } else {
        OpCode::Query
    };
    let mut m = Message::new(rng.next() as u16, MessageType::Query, opcode);
    let types = [
        RecordType::A,
        RecordType::AAAA,
        RecordType::HTTPS,
        RecordType::ANY,
        RecordType::CNAME,
        RecordType::TXT,
        RecordType::Unknown(rng.next() as u16),
    ];
    for _ in 0..(if rng.below(15) == 0 { 2 } else { 1 }) {
        m.add_query(Query::query(name(rng), types[rng.below(7) as usize]));
    }
    if rng.below(3) != 0 {
        let mut edns = Edns::new();
        edns.set_max_payload(rng.next() as u16);
        for _ in 0..rng.below(3) {
            let code = [8u16, 15, 65001, 65073, rng.next() as u16][rng.below(5) as usize];
            let data = (0..rng.below(12)).map(|_| rng.next() as u8).collect();
            edns.options_mut().insert(EdnsOption::Unknown(code, data));
        }
        m.set_edns(edns);
    }
    m
}

/// The question section as it is on the wire (`Name`'s own equality ignores case).
fn questions(m: &Message) -> Vec<(String, u16, u16)> {
    m.queries
        .iter()
        .map(|q| {
            (
                q.name().to_ascii(),
                u16::from(q.query_type()),
                u16::from(q.query_class()),
            )
        })
        .collect()
}

fn mutate(rng: &mut Rng, mut bytes: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + rng.below(4) {
        match rng.below(3) {
            0 if !bytes.is_empty() => {
                let i = rng.below(bytes.len() as u64) as usize;
                bytes[i] ^= 1 << rng.below(8);
            }
            1 => bytes.truncate(rng.below(bytes.len() as u64 + 1) as usize),
            _ => bytes.extend((0..rng.below(8)).map(|_| rng.next() as u8)),
        }
    }
    bytes
}

#[test]
fn random_packets_through_decode_decide_encode() {
    let (snapshot, _dir) = common::snapshot_of(&[
        ("familydns.toml", MAIN),
        ("profiles/kids.toml", KIDS),
        ("adult.domains", "pornhub.com\n"),
        ("adult.keywords", "porn\n"),
    ]);

    let inputs: u64 = std::env::var("FAMILYDNS_RANDOM_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let now = jiff::Timestamp::UNIX_EPOCH;
    let sources: [IpAddr; 3] = [
        "127.0.0.1".parse().unwrap(),
        "127.0.0.2".parse().unwrap(),
        "203.0.113.9".parse().unwrap(),
    ];
    let (mut answered, mut blocked) = (0u64, 0u64);
    for _ in 0..inputs {
        let request = query(&mut rng);
        let clean = request.to_vec().unwrap();
        let mutated = rng.below(2) == 0;
        let packet = if mutated {
            mutate(&mut rng, clean)
        } else {
            clean
        };
        let src = sources[rng.below(3) as usize];
        let Some(bytes) = answer_offline(&snapshot, &packet, src, now) else {
            continue;
        };
        answered += 1;
        let reply = Message::from_vec(&bytes).expect("every answer parses");
        assert_eq!(
            &bytes[..2],
            &packet[..2],
            "the answer carries the request's ID"
        );
        // A packet hickory cannot read back (a mutation, or an option such as ECS with
        // random contents) gets a header-only FORMERR.
        if mutated || reply.metadata.response_code == ResponseCode::FormErr {
            continue;
        }
        assert_eq!(
            questions(&reply),
            questions(&request),
            "the question is echoed as asked, letter case included"
        );
        let [q] = request.queries.as_slice() else {
            continue;
        };
        let lower = q.name().to_ascii().to_ascii_lowercase();
        let listed = lower.ends_with(".pornhub.com.") || lower == "pornhub.com.";
        if listed
            && src.is_loopback()
            && request.metadata.op_code == OpCode::Query
            && q.query_type() != RecordType::ANY
        {
            assert_eq!(
                reply.metadata.response_code,
                ResponseCode::NXDomain,
                "{} is blocked in any spelling",
                q.name()
            );
            blocked += 1;
        }
    }
    println!("{inputs} random inputs: {answered} answered, {blocked} listed names blocked");
    assert!(answered > inputs / 2, "most inputs get an answer");
    assert!(blocked > 0, "the random names reach the list");
}
