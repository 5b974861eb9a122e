//! Letter case never changes a decision. A client may ask `WWW.PORNHUB.COM`, and a
//! forwarder with DNS 0x20 (Unbound `use-caps-for-id`) asks `wWw.PoRnHuB.cOm`: every
//! decision kind must treat both as `www.pornhub.com`, over UDP and TCP, and the reply must
//! echo the question exactly as the client spelled it.

mod common;

use std::net::SocketAddr;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

/// Lists written by the test itself: a domain list, a keyword list and a regex list.
const LISTS: &str = r#"
[[list]]
name = "adult"
category = "adult"
source = "{DIR}/adult.domains"
format = "domains"

[[list]]
name = "gambling-words"
category = "gambling"
source = "{DIR}/gambling.keywords"
format = "keywords"

[[list]]
name = "adult-regex"
category = "adult"
source = "{DIR}/adult.regex"
format = "regex"
"#;

const KIDS: &str = r#"
block = ["adult", "gambling"]
deny = ["TXT.Example.Test"]
safe_search = true
block_bypass = true
"#;

/// Sends `spelling` over UDP and TCP; checks that the question comes back as sent.
async fn both(server: SocketAddr, spelling: &str, rtype: RecordType) -> [Message; 2] {
    let answers = [
        udp(server, spelling, rtype).await,
        tcp(server, spelling, rtype).await,
    ];
    for m in &answers {
        assert_eq!(
            m.queries[0].name().to_ascii(),
            spelling,
            "the reply echoes the client's own spelling"
        );
    }
    answers
}

/// Three spellings of every name: as typed, all capitals, and 0x20-randomised.
fn spellings(name: &str) -> [String; 3] {
    let mixed = name
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    [name.to_owned(), name.to_ascii_uppercase(), mixed]
}

async fn start(cfg: &TestConfig, at: &str) -> Running {
    let dir = cfg.dir.path();
    std::fs::write(dir.join("adult.domains"), "pornhub.com\n").unwrap();
    std::fs::write(dir.join("gambling.keywords"), "casino\n").unwrap();
    std::fs::write(dir.join("adult.regex"), "^porn[0-9]+\\.example$\n").unwrap();
    cfg.start_at(at).await
}

#[tokio::test]
async fn every_decision_ignores_letter_case_over_udp_and_tcp() {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(
        &format!("{HEAD}{LISTS}"),
        upstream.addr,
        &[("family", KIDS)],
    );
    let fdns = start(&cfg, "2026-11-23T12:00:00Z").await;
    let s = fdns.dns_addrs[0];

    for name in [
        "www.pornhub.com.",         // domain list, subdomain of a rule
        "pornhub.com.",             // domain list, the rule itself
        "my-casino.example.",       // keyword list
        "porn42.example.",          // regex list
        "txt.example.test.",        // the profile's deny
        "use-application-dns.net.", // bypass canary
        "mask.icloud.com.",         // Private Relay canary
    ] {
        for spelling in spellings(name) {
            for m in both(s, &spelling, RecordType::A).await {
                assert!(is_blocked(&m), "{spelling}: {:?}", m.metadata);
            }
        }
    }

    // Safe search: a rewrite to the engine's safe host, in any spelling.
    for spelling in spellings("www.youtube.com.") {
        for m in both(s, &spelling, RecordType::A).await {
            assert!(
                matches!(&m.answers[0].data, RData::CNAME(c) if c.0.to_ascii() == "restrict.youtube.com."),
                "{spelling}: {:?}",
                m.answers
            );
        }
    }

    // Allowed names resolve in any spelling, from one cache entry.
    for spelling in spellings("ns.example.test.") {
        for m in both(s, &spelling, RecordType::A).await {
            assert_eq!(
                m.metadata.response_code,
                ResponseCode::NoError,
                "{spelling}"
            );
            assert!(!m.answers.is_empty(), "{spelling}");
        }
    }
    assert_eq!(
        upstream.queries_for("ns.example.test."),
        1,
        "one spelling upstream, the rest from the cache"
    );
}

#[tokio::test]
async fn allow_list_and_cname_targets_ignore_letter_case() {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(
        &format!("{HEAD}{LISTS}"),
        upstream.addr,
        &[(
            "family",
            "block = [\"adult\"]\nallow = [\"WWW.example.test\"]\ndeny = [\"www.example.test\"]\n\
             [[schedule]]\ndays = [\"mon\"]\nfrom = \"00:00\"\nto = \"23:59\"\nblock_all = true\n",
        )],
    );
    // Monday: bedtime all day, only the allow list resolves, in any spelling.
    let fdns = start(&cfg, "2026-11-23T12:00:00Z").await;
    let s = fdns.dns_addrs[0];
    for spelling in spellings("www.example.test.") {
        for m in both(s, &spelling, RecordType::A).await {
            assert_eq!(
                m.metadata.response_code,
                ResponseCode::NoError,
                "{spelling}"
            );
            assert!(!m.answers.is_empty(), "{spelling}");
        }
    }
    for spelling in spellings("txt.example.test.") {
        for m in both(s, &spelling, RecordType::TXT).await {
            assert!(is_blocked(&m), "{spelling}: bedtime");
        }
    }

    // CNAME cloaking: `alias` is a CNAME to `www`, which this profile denies.
    let cfg = TestConfig::new(
        &format!("{HEAD}{LISTS}"),
        upstream.addr,
        &[("family", "deny = [\"www.example.test\"]\n")],
    );
    let fdns = start(&cfg, "2026-11-24T12:00:00Z").await;
    for spelling in spellings("alias.example.test.") {
        for m in both(fdns.dns_addrs[0], &spelling, RecordType::A).await {
            assert!(
                is_blocked(&m),
                "{spelling}: blocked through its CNAME target"
            );
            assert!(ede(&m).unwrap().1.contains("via CNAME"), "{:?}", ede(&m));
        }
    }
}
