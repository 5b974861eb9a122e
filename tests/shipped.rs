//! The shipped configuration, with its real bundled lists and profiles, through the real
//! server: an unknown device gets the protective household profile, a child's device the
//! kids profile. The clock is pinned (`start_at`), so no schedule is active unless a test
//! picks a time inside one.

mod common;

use std::path::Path;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

/// Saturday noon UTC: no window of the shipped kids profile is active in any time zone.
const NO_SCHEDULE: &str = "2026-11-28T12:00:00Z";

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The shipped config on test ports and the test upstream, with 127.0.0.2 as a kids device.
fn shipped(upstream: std::net::SocketAddr) -> TestConfig {
    let main = std::fs::read_to_string(repo("config/familydns.toml")).unwrap();
    let main: String = main
        .lines()
        .map(|line| {
            if line == "[server]" {
                // Schedules in UTC, so that pinned instants mean the same on any machine.
                "[server]\ntimezone = \"UTC\"".to_owned()
            } else if line.starts_with("listen = [") {
                "listen = [\"127.0.0.1:0\"]".to_owned()
            } else if line.starts_with("servers = [") {
                "servers = [\"udp://{UPSTREAM}\"]".to_owned()
            } else if line.starts_with("listen = \"127.0.0.1:9153\"") {
                "listen = \"127.0.0.1:0\"".to_owned()
            } else {
                line.replace("\"../blocklists/", "\"{REPO}/blocklists/")
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let main = format!(
        "{main}\n[[client]]\nname = \"test-kid\"\nmatch = [\"127.0.0.2\"]\nprofile = \"kids\"\n"
    );
    let profiles: Vec<(String, String)> = std::fs::read_dir(repo("config/profiles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_stem().unwrap().to_str().unwrap().to_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    let profiles: Vec<(&str, &str)> = profiles
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_str()))
        .collect();
    TestConfig::new(&main, upstream, &profiles)
}

/// A name that the bundled list `file` blocks (its first rule).
fn listed(file: &str) -> String {
    let text = familydns::lists::read_list(&repo(&format!("blocklists/{file}"))).unwrap();
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && l.contains('.'))
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned()
}

async fn ask_from(fdns: &Running, from: &str, name: &str) -> Message {
    udp_from(
        fdns.dns_addrs[0],
        from.parse().unwrap(),
        name,
        RecordType::A,
        Some(1232),
    )
    .await
}

#[tokio::test]
async fn an_unknown_device_gets_the_protective_household_profile() {
    let upstream = start_upstream().await;
    let cfg = shipped(upstream.addr);
    let fdns = cfg.start_at(NO_SCHEDULE).await;
    let stranger = "127.0.0.1";
    for name in [
        "WWW.PORNHUB.COM.".to_owned(),
        format!("{}.", listed("adult.domains.gz")),
        format!("{}.", listed("gambling.domains.gz")),
        "dns.google.".to_owned(),
        "mozilla.cloudflare-dns.com.".to_owned(),
        "use-application-dns.net.".to_owned(),
    ] {
        let m = ask_from(&fdns, stranger, &name).await;
        assert!(is_blocked(&m), "{name}: {m:?}");
    }
    // A name no list has: the shipped classifier puts it in gambling, and the EDE says so.
    let m = ask_from(&fdns, stranger, "mybet-casino-777.site.").await;
    assert!(is_blocked(&m), "{m:?}");
    let (code, text) = ede(&m).unwrap();
    assert_eq!(code, 17);
    assert!(text.contains("classified gambling (score"), "{text}");
    // Ads and trackers are their own category, which the household profile leaves alone.
    for name in [
        "doubleclick.net.",
        "google-analytics.com.",
        "analytics.google.com.",
    ] {
        let m = ask_from(&fdns, stranger, name).await;
        assert!(!is_blocked(&m), "{name} is not malware: {m:?}");
    }
    let m = ask_from(&fdns, stranger, "www.google.com.").await;
    assert!(
        matches!(&m.answers[0].data, RData::CNAME(c) if c.0.to_ascii() == "forcesafesearch.google.com."),
        "safe search for everyone: {:?}",
        m.answers
    );
    let m = ask_from(&fdns, stranger, "www.example.test.").await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!m.answers.is_empty(), "ordinary names resolve");
}

#[tokio::test]
async fn a_childs_device_gets_the_kids_profile() {
    let upstream = start_upstream().await;
    let cfg = shipped(upstream.addr);
    let fdns = cfg.start_at(NO_SCHEDULE).await;
    let kid = "127.0.0.2";
    for file in ["adult.domains.gz", "drugs.domains.gz", "dating.domains.gz"] {
        let name = format!("{}.", listed(file));
        let m = ask_from(&fdns, kid, &name).await;
        assert!(is_blocked(&m), "{file}: {name}: {m:?}");
        assert_eq!(ede(&m).unwrap().0, 17, "filtered at the parents' request");
    }
    // Web proxies and unblockers are part of the kids' bypass protection.
    for name in ["croxyproxy.com.", "www.blockaway.net.", "dns.google."] {
        let m = ask_from(&fdns, kid, name).await;
        assert!(is_blocked(&m), "{name}: {m:?}");
    }
    let m = ask_from(&fdns, kid, "www.youtube.com.").await;
    assert!(
        matches!(&m.answers[0].data, RData::CNAME(c) if c.0.to_ascii() == "restrict.youtube.com."),
        "{:?}",
        m.answers
    );
    let m = ask_from(&fdns, kid, "www.example.test.").await;
    assert!(!m.answers.is_empty(), "ordinary names resolve");

    // Sunday 23:00 UTC: the shipped bedtime; only the allow list resolves.
    let bedtime = cfg.start_at("2026-11-29T23:00:00Z").await;
    let m = ask_from(&bedtime, kid, "www.example.test.").await;
    assert!(is_blocked(&m), "bedtime: {m:?}");
    assert!(ede(&m).unwrap().1.contains("schedule"), "{:?}", ede(&m));
    let m = ask_from(&bedtime, "127.0.0.1", "www.example.test.").await;
    assert!(!m.answers.is_empty(), "bedtime is the kids' only");
}
