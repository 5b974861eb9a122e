//! Child policies through the real server: schedules (with an injected clock), safe search,
//! bypass protection, router-supplied identity, CNAME cloaking.

mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

async fn ask(fdns: &Running, name: &str, rtype: RecordType) -> Message {
    udp(fdns.dns_addrs[0], name, rtype).await
}

/// A game domain from the real UT1 games list.
fn game_domain() -> String {
    std::fs::read_to_string(fixture("categories/ut1/games.domains"))
        .unwrap()
        .lines()
        .find(|l| l.contains('.') && l.parse::<std::net::Ipv4Addr>().is_err())
        .unwrap()
        .to_owned()
}

const SCHEDULED: &str = r#"
[[list]]
name = "ut1-games"
category = "games"
source = "{DATA}/categories/ut1/games.domains"
format = "domains"
"#;

const KIDS_SCHEDULES: &str = r#"
allow = ["www.example.test"]
timezone = "Europe/Moscow"

[[schedule]]
days = ["mon", "tue", "wed", "thu", "fri"]
from = "21:00"
to = "07:00"
block_all = true

[[schedule]]
days = ["mon", "tue", "wed", "thu", "fri"]
from = "08:00"
to = "15:00"
block = ["games"]
"#;

#[tokio::test]
async fn schedules_follow_the_injected_clock() {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(
        &format!("{HEAD}{SCHEDULED}"),
        upstream.addr,
        &[("family", KIDS_SCHEDULES)],
    );
    let game = game_domain();
    // Monday 2026-11-23, Moscow is UTC+3.
    let bedtime = cfg.start_at("2026-11-23T18:30:00Z").await; // 21:30 MSK
    let m = ask(&bedtime, "txt.example.test.", RecordType::TXT).await;
    assert!(is_blocked(&m), "bedtime blocks everything");
    assert!(ede(&m).unwrap().1.contains("schedule"));
    let m = ask(&bedtime, "www.example.test.", RecordType::A).await;
    assert_eq!(
        m.metadata.response_code,
        ResponseCode::NoError,
        "except the allow list"
    );
    assert!(!m.answers.is_empty());

    let school = cfg.start_at("2026-11-23T07:00:00Z").await; // 10:00 MSK
    assert!(
        is_blocked(&ask(&school, &format!("{game}."), RecordType::A).await),
        "games blocked in school hours"
    );
    assert!(!is_blocked(
        &ask(&school, "txt.example.test.", RecordType::TXT).await
    ));

    let afternoon = cfg.start_at("2026-11-23T13:00:00Z").await; // 16:00 MSK
    assert!(
        !is_blocked(&ask(&afternoon, &format!("{game}."), RecordType::A).await),
        "games allowed after school"
    );
    let saturday_night = cfg.start_at("2026-11-28T19:00:00Z").await; // Sat 22:00 MSK
    assert!(
        !is_blocked(&ask(&saturday_night, "txt.example.test.", RecordType::TXT).await),
        "no bedtime on Saturday"
    );

    // `familydns check --at` explains the schedule.
    let config = familydns::config::load(&cfg.path()).unwrap();
    let snap = familydns::snapshot::Snapshot::build(&config, true).unwrap();
    let out = familydns::check::explain(
        &config,
        &snap,
        "127.0.0.1".parse().unwrap(),
        "txt.example.test",
        Some("2026-11-23T21:30".parse().unwrap()),
    );
    assert!(
        out.contains("BLOCK") && out.contains("block_all") && out.contains("bedtime"),
        "{out}"
    );
}

#[tokio::test]
async fn safe_search_rewrites_engines_to_their_safe_hosts() {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(
        HEAD,
        upstream.addr,
        &[
            ("family", "safe_search = true\n"),
            ("teen", "safe_search = \"moderate\"\n"),
        ],
    );
    let fdns = cfg.start().await;
    let m = ask(&fdns, "www.google.de.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(
        matches!(&m.answers[0].data, RData::CNAME(c) if c.0.to_ascii() == "forcesafesearch.google.com."),
        "{:?}",
        m.answers
    );
    assert!(
        m.answers
            .iter()
            .any(|r| matches!(r.data, RData::A(a) if a.0.octets() == [216, 239, 38, 120]))
    );
    let m = ask(&fdns, "www.youtube.com.", RecordType::A).await;
    assert!(
        matches!(&m.answers[0].data, RData::CNAME(c) if c.0.to_ascii() == "restrict.youtube.com.")
    );
    // HTTPS/SVCB records would let a browser skip the rewrite.
    for rtype in [RecordType::HTTPS, RecordType::SVCB] {
        let m = ask(&fdns, "www.google.com.", rtype).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty(), "{rtype}: NODATA");
    }
    // Yandex: a fixed address.
    let m = ask(&fdns, "www.yandex.ru.", RecordType::A).await;
    assert!(matches!(m.answers[0].data, RData::A(a) if a.0.octets() == [213, 180, 193, 56]));

    let config = familydns::config::load(&cfg.path()).unwrap();
    let snap = familydns::snapshot::Snapshot::build(&config, true).unwrap();
    let teen = snap.profile_named("teen").unwrap();
    let d = snap.decide_name(
        teen,
        &familydns::name::QueryName::parse("www.youtube.com").unwrap(),
        test_now(),
    );
    assert!(
        matches!(d.action, familydns::policy::Action::Rewrite(familydns::policy::SafeTarget::Host(h)) if h.to_ascii() == "restrictmoderate.youtube.com."),
        "{d:?}"
    );
    let out = familydns::check::explain(
        &config,
        &snap,
        "127.0.0.1".parse().unwrap(),
        "www.bing.com",
        None,
    );
    assert!(
        out.contains("REWRITE (CNAME strict.bing.com.)") && out.contains("safe search"),
        "{out}"
    );
}

#[tokio::test]
async fn bypass_protection_blocks_canaries_and_doh_names() {
    let upstream = start_upstream().await;
    let lists = r#"
[[list]]
name = "ut1-doh"
category = "bypass"
source = "{DATA}/bypass/ut1-doh.domains"
format = "domains"
"#;
    let cfg = TestConfig::new(
        &format!("{HEAD}{lists}"),
        upstream.addr,
        &[("family", "block_bypass = true\nblock_answer = \"null\"\n")],
    );
    let fdns = cfg.start().await;
    // Never 0.0.0.0 for the canary: that would turn Firefox DoH on.
    let m = ask(&fdns, "use-application-dns.net.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.answers.is_empty());
    for rtype in [RecordType::A, RecordType::HTTPS] {
        for name in ["mask.icloud.com.", "mask-h2.icloud.com."] {
            assert_eq!(
                ask(&fdns, name, rtype).await.metadata.response_code,
                ResponseCode::NXDomain,
                "{name} {rtype}"
            );
        }
    }
    // A DoH resolver only the bypass category names gets the profile's block answer.
    let m = ask(&fdns, "doh.li.", RecordType::A).await;
    assert!(
        matches!(m.answers[0].data, RData::A(a) if a.0.is_unspecified()),
        "{:?}",
        m
    );
    assert!(ede(&m).unwrap().1.contains("category bypass"));
    // The well-known ones are built in, and get NXDOMAIN like the canaries, so that a
    // browser falls back to the system resolver.
    let m = ask(&fdns, "Dns.Google.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(ede(&m).unwrap().1.contains("resolver bypass"));
}

#[tokio::test]
async fn mac_from_a_trusted_forwarder_picks_the_profile_and_never_goes_upstream() {
    let upstream = start_upstream().await;
    let head = HEAD.replace(
        "[upstream]",
        "trusted_forwarders = [\"127.0.0.1/32\"]\n[upstream]",
    );
    let clients = r#"
[[client]]
name = "alice-tablet"
match = ["AA-BB-CC-DD-EE-FF"]
profile = "kids"
"#;
    let cfg = TestConfig::new(
        &format!("{head}{clients}"),
        upstream.addr,
        &[
            ("family", "block = []\n"),
            ("kids", "deny = [\"txt.example.test\"]\n"),
        ],
    );
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];
    let mac = || {
        vec![EdnsOption::Unknown(
            65001,
            vec![0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff],
        )]
    };
    // From the trusted router: the kids profile applies.
    let m = udp_with_options(s, "127.0.0.1", "txt.example.test.", RecordType::TXT, mac()).await;
    assert!(is_blocked(&m), "kids profile by MAC");
    let text = || vec![EdnsOption::Unknown(65073, b"aa:bb:cc:dd:ee:ff".to_vec())];
    assert!(is_blocked(
        &udp_with_options(s, "127.0.0.1", "txt.example.test.", RecordType::TXT, text()).await
    ));
    // From an untrusted address the option is ignored (and counted).
    let m = udp_with_options(s, "127.0.0.4", "txt.example.test.", RecordType::TXT, mac()).await;
    assert_eq!(
        m.metadata.response_code,
        ResponseCode::NoError,
        "family profile: the MAC claim is ignored"
    );
    let metrics = http_get(fdns.metrics_addr.unwrap(), "/metrics").await;
    assert!(
        metrics.contains("familydns_untrusted_identity_options_total 1"),
        "{metrics}"
    );
    // The upstream saw the forwarded query but never the MAC.
    let seen = upstream.seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    for q in &seen {
        let options = q
            .edns
            .as_ref()
            .map(|e| e.options().as_ref().len())
            .unwrap_or(0);
        let has_mac = q.edns.as_ref().is_some_and(|e| {
            e.option(EdnsCode::Unknown(65001)).is_some()
                || e.option(EdnsCode::Unknown(65073)).is_some()
        });
        assert!(!has_mac, "MAC leaked upstream in {q:?} ({options} options)");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cname_cloaking_is_blocked_with_the_target_named() {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(
        HEAD,
        upstream.addr,
        &[("family", "deny = [\"www.example.test\"]\n")],
    );
    let fdns = cfg.start().await;
    // alias.example.test is allowed itself, but its answer is a CNAME to a denied name.
    let m = ask(&fdns, "alias.example.test.", RecordType::A).await;
    assert!(is_blocked(&m), "{m:?}");
    assert!(
        ede(&m).unwrap().1.contains("via CNAME www.example.test."),
        "{:?}",
        ede(&m)
    );
}

#[tokio::test]
async fn ecs_picks_the_profile_only_from_a_trusted_forwarder() {
    use hickory_proto::rr::rdata::opt::ClientSubnet;
    let upstream = start_upstream().await;
    let head = HEAD.replace(
        "[upstream]",
        "trusted_forwarders = [\"127.0.0.2/32\"]\n[upstream]",
    );
    let clients = r#"
[[client]]
name = "kids-subnet"
match = ["192.168.1.200/29"]
profile = "kids"
"#;
    let cfg = TestConfig::new(
        &format!("{head}{clients}"),
        upstream.addr,
        &[
            ("family", "block = []\n"),
            ("kids", "deny = [\"txt.example.test\"]\n"),
        ],
    );
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];
    let subnet = || {
        let ecs = ClientSubnet::new("192.168.1.201".parse().unwrap(), 32, 0);
        vec![EdnsOption::Subnet(ecs)]
    };
    // From the trusted forwarder, the subnet names the device: the kids profile applies.
    let m = udp_with_options(
        s,
        "127.0.0.2",
        "txt.example.test.",
        RecordType::TXT,
        subnet(),
    )
    .await;
    assert!(is_blocked(&m), "kids profile by ECS: {m:?}");
    // From anyone else the subnet is ignored (and counted): the family profile applies.
    let m = udp_with_options(
        s,
        "127.0.0.3",
        "txt.example.test.",
        RecordType::TXT,
        subnet(),
    )
    .await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{m:?}");
    let metrics = http_get(fdns.metrics_addr.unwrap(), "/metrics").await;
    assert!(
        metrics.contains("familydns_untrusted_identity_options_total 1"),
        "{metrics}"
    );
    // The allowed query reached the upstream without the client's subnet.
    let seen = upstream.seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    for s in &seen {
        let ecs = s
            .edns
            .as_ref()
            .and_then(|e| e.option(hickory_proto::rr::rdata::opt::EdnsCode::Subnet));
        assert!(ecs.is_none(), "no subnet upstream: {s:?}");
    }
}
