//! Filtering end to end on real lists (cuts in `tests/fixtures`): every format, profiles by
//! source address, allow over deny, block answers and their EDE, and `familydns check`.

mod common;

use common::filtering::*;
use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

#[tokio::test]
async fn every_list_format_blocks_names_from_real_files() {
    let upstream = start_upstream().await;
    let cfg = every_format_config(upstream.addr);
    let fdns = cfg.start().await;

    let second_token = |l: &str| l.split_whitespace().nth(1).map(str::to_owned);
    let hosts = pick("hosts/sinfonietta-gambling-hosts", second_token);
    let multi = pick("hosts/hagezi-doh-compressed.multihost.hosts", |l| {
        l.split_whitespace().nth(3).map(str::to_owned)
    });
    let domain = pick("domains/hagezi-nsfw.domains", |l| Some(l.to_owned()));
    let abp = pick("adblock/oisd-nsfw-small.abp.txt", |l| {
        l.strip_prefix("||")?.strip_suffix('^').map(str::to_owned)
    });
    let wildcard = pick("wildcard/hagezi-nsfw.wildcard", |l| {
        l.strip_prefix("*.").map(str::to_owned)
    });
    let rpz = pick("rpz/hagezi-social.rpz", |l| {
        l.strip_suffix(" CNAME .")
            .filter(|n| !n.starts_with('*'))
            .map(str::to_owned)
    });
    let dnsmasq = pick("dnsmasq/hagezi-social.dnsmasq", |l| {
        l.strip_prefix("local=/")?
            .strip_suffix('/')
            .map(str::to_owned)
    });

    for name in [&hosts, &multi, &domain, &abp, &rpz, &dnsmasq] {
        let m = ask(&fdns, LOCALHOST, name).await;
        assert!(is_blocked(&m), "{name} is blocked");
        let m = ask(&fdns, LOCALHOST, &format!("deep.sub.{name}")).await;
        assert!(is_blocked(&m), "subdomains of {name} are blocked");
    }
    // `*.x` blocks the subdomains of x, not x itself (DESIGN.md).
    assert!(is_blocked(
        &ask(&fdns, "127.0.0.5", &format!("www.{wildcard}")).await
    ));
    assert!(
        !is_blocked(&ask(&fdns, "127.0.0.5", &wildcard).await),
        "{wildcard} itself is not blocked by *.{wildcard}"
    );

    // A gzip-compressed CRLF hosts file read with `auto`.
    assert!(is_blocked(&ask(&fdns, LOCALHOST, "pornhub.com").await));

    // Adblock whole-TLD blocks and their `@@` exceptions.
    let blocked_tlds: Vec<String> = data_lines("adblock/hagezi-spam-tlds-adblock-aggressive.txt")
        .into_iter()
        .filter_map(|(_, l)| l.strip_prefix("||")?.strip_suffix('^').map(str::to_owned))
        .collect();
    let excepted = data_lines("adblock/hagezi-spam-tlds-adblock-allow.txt")
        .into_iter()
        .filter_map(|(_, l)| l.strip_prefix("@@||")?.strip_suffix('^').map(str::to_owned))
        .find(|n| blocked_tlds.iter().any(|t| n.ends_with(&format!(".{t}"))))
        .expect("an exception under a blocked TLD");
    let tld = excepted.rsplit('.').next().unwrap();
    assert!(is_blocked(
        &ask(&fdns, LOCALHOST, &format!("anything-else.{tld}")).await
    ));
    assert!(
        !is_blocked(&ask(&fdns, LOCALHOST, &excepted).await),
        "{excepted} is excepted by @@"
    );

    // Allowed names reach the upstream and resolve.
    let m = ask(&fdns, LOCALHOST, "www.example.test").await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!m.answers.is_empty());

    // The hosts header never becomes a rule.
    let snapshot_lists = familydns::config::load(&cfg.path()).unwrap();
    let snap = familydns::snapshot::Snapshot::build(&snapshot_lists, false).unwrap();
    let family = snap.profile_named("family").unwrap();
    for name in [
        "localhost",
        "localhost.localdomain",
        "broadcasthost",
        "0.0.0.0",
    ] {
        assert_eq!(
            snap.decide_name(
                family,
                &familydns::name::QueryName::parse(name).unwrap(),
                test_now()
            )
            .action,
            familydns::policy::Action::Allow,
            "{name}"
        );
    }
}

#[tokio::test]
async fn profiles_follow_the_source_address() {
    let upstream = start_upstream().await;
    let adult = pick("domains/stevenblack-porn-only-2026-06.domains", |l| {
        Some(l.to_owned())
    });
    let gambling = pick("domains/stevenblack-gambling-only-2026-06.domains", |l| {
        Some(l.to_owned())
    });
    let cfg = TestConfig::new(
        &format!("{HEAD}{PROFILES_HEAD}"),
        upstream.addr,
        &[
            ("family", "block = [\"gambling\"]\n"),
            (
                "kids",
                "block = [\"adult\", \"gambling\"]\nblock_answer = \"nxdomain\"\n",
            ),
            (
                "null-answers",
                "block = [\"adult\"]\nblock_answer = \"null\"\n",
            ),
        ],
    );
    let fdns = cfg.start().await;
    // 127.0.0.2: kids (most specific match).
    assert!(is_blocked(&ask(&fdns, "127.0.0.2", &adult).await));
    assert!(is_blocked(&ask(&fdns, "127.0.0.2", &gambling).await));
    // 127.0.0.3: the /29 → null answers for adult, gambling not blocked.
    let m = ask(&fdns, "127.0.0.3", &adult).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(
        matches!(m.answers[0].data, RData::A(a) if a.0.is_unspecified()),
        "{:?}",
        m.answers
    );
    assert!(ede(&m).is_some());
    let m6 = udp_from(
        fdns.dns_addrs[0],
        "127.0.0.3".parse().unwrap(),
        &format!("{adult}."),
        RecordType::AAAA,
        Some(1232),
    )
    .await;
    assert!(matches!(m6.answers[0].data, RData::AAAA(a) if a.0.is_unspecified()));
    assert!(!is_blocked(&ask(&fdns, "127.0.0.3", &gambling).await));
    assert!(
        upstream.queries_for(&format!("{gambling}.")) > 0,
        "forwarded for the lab profile"
    );
    // 127.0.0.9: nobody → default profile `family`.
    assert!(is_blocked(&ask(&fdns, "127.0.0.9", &gambling).await));
    assert!(!is_blocked(&ask(&fdns, "127.0.0.9", &adult).await));

    let metrics = http_get(fdns.metrics_addr.unwrap(), "/metrics").await;
    assert!(
        metrics.contains("familydns_queries_total{decision=\"blocked\",profile=\"kids\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("familydns_list_entries{category=\"adult\",list=\"stevenblack-porn\"}")
    );
}

#[tokio::test]
async fn allow_beats_deny_and_lists() {
    let upstream = start_upstream().await;
    let adult = pick("domains/stevenblack-porn-only-2026-06.domains", |l| {
        Some(l.to_owned())
    });
    let kids = format!(
        "block = [\"adult\"]\nallow = [\"www.example.test\", \"{adult}\"]\ndeny = [\"example.test\"]\n"
    );
    let cfg = TestConfig::new(
        &format!("{HEAD}{PROFILES_HEAD}"),
        upstream.addr,
        &[
            ("family", "block = []\n"),
            ("kids", &kids),
            ("null-answers", "block = []\n"),
        ],
    );
    let fdns = cfg.start().await;
    let m = ask(&fdns, "127.0.0.2", "www.example.test").await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(
        !m.answers.is_empty(),
        "allow wins over the deny of its parent"
    );
    let m = ask(&fdns, "127.0.0.2", "txt.example.test").await;
    assert!(is_blocked(&m), "deny blocks the rest of example.test");
    assert!(ede(&m).unwrap().1.contains("deny list of profile kids"));
    assert!(
        !is_blocked(&ask(&fdns, "127.0.0.2", &adult).await),
        "allow wins over the adult list"
    );
    assert!(upstream.queries_for(&format!("{adult}.")) > 0, "forwarded");
}

#[tokio::test]
async fn blocked_answers_carry_ede_only_with_edns() {
    let upstream = start_upstream().await;
    let adult = pick("domains/stevenblack-porn-only-2026-06.domains", |l| {
        Some(l.to_owned())
    });
    let cfg = TestConfig::new(
        &format!("{HEAD}{PROFILES_HEAD}"),
        upstream.addr,
        &[
            ("family", "block = []\n"),
            ("kids", "block = [\"adult\"]\n"),
            ("null-answers", "block = []\n"),
        ],
    );
    let fdns = cfg.start().await;
    let m = ask(&fdns, "127.0.0.2", &adult).await;
    let (code, text) = ede(&m).expect("EDE on a blocked answer");
    assert_eq!(code, 17, "Filtered");
    assert!(
        text.contains("category adult") && text.contains("stevenblack-porn"),
        "{text}"
    );
    assert!(
        m.authorities
            .iter()
            .any(|r| r.record_type() == RecordType::SOA && r.ttl <= 60)
    );
    let plain = udp_from(
        fdns.dns_addrs[0],
        "127.0.0.2".parse().unwrap(),
        &format!("{adult}."),
        RecordType::A,
        None,
    )
    .await;
    assert_eq!(plain.metadata.response_code, ResponseCode::NXDomain);
    assert!(plain.edns.is_none(), "no OPT to a client that sent none");
}

#[test]
fn check_names_profile_list_and_line() {
    let adult_lines = data_lines("domains/stevenblack-porn-only-2026-06.domains");
    let (line, name) = adult_lines[adult_lines.len() / 2].clone();
    let cfg = TestConfig::new(
        &format!("{HEAD}{PROFILES_HEAD}"),
        "127.0.0.1:53".parse().unwrap(),
        &[
            ("family", "block = []\n"),
            ("kids", "block = [\"adult\"]\n"),
            ("null-answers", "block = []\n"),
        ],
    );
    let config = familydns::config::load(&cfg.path()).unwrap();
    let snap = familydns::snapshot::Snapshot::build(&config, true).unwrap();
    let out = familydns::check::explain(
        &config,
        &snap,
        "127.0.0.2".parse().unwrap(),
        &format!("www.{}", name.to_uppercase()),
        None,
    );
    assert!(
        out.contains("profile `kids` (by client `kid-tablet`)"),
        "{out}"
    );
    assert!(out.contains("BLOCK"), "{out}");
    assert!(
        out.contains(&format!("stevenblack-porn-only-2026-06.domains:{line}")),
        "{out}"
    );
    assert!(out.contains("category `adult`"), "{out}");
    let out = familydns::check::explain(&config, &snap, "127.0.0.9".parse().unwrap(), &name, None);
    assert!(
        out.contains("ALLOW") && out.contains("default_profile"),
        "{out}"
    );
}

#[test]
fn check_lists_every_rule_that_matches_and_marks_the_one_that_decides() {
    let adult_lines = data_lines("domains/stevenblack-porn-only-2026-06.domains");
    let (line, name) = adult_lines[adult_lines.len() / 2].clone();
    let keyword = name.split('.').next().unwrap().to_owned();
    let words = "[[list]]\nname = \"words\"\ncategory = \"adult\"\n\
                 source = \"{DIR}/words.txt\"\nformat = \"keywords\"\n";
    let cfg = TestConfig::new(
        &format!("{HEAD}{PROFILES_HEAD}{words}"),
        "127.0.0.1:53".parse().unwrap(),
        &[
            ("family", "block = []\n"),
            (
                "kids",
                &format!("block = [\"adult\"]\ndeny = [\"{name}\"]\nblock_answer = \"nxdomain\"\n"),
            ),
            ("null-answers", "block = []\n"),
        ],
    );
    std::fs::write(
        cfg.path().with_file_name("words.txt"),
        format!("{keyword}\n"),
    )
    .unwrap();
    let config = familydns::config::load(&cfg.path()).unwrap();
    let snap = familydns::snapshot::Snapshot::build(&config, true).unwrap();
    let kids = "127.0.0.2".parse().unwrap();
    let out = familydns::check::explain(&config, &snap, kids, &format!("www.{name}"), None);
    // The deny list decides, and the EDE the server would send says so.
    assert!(
        out.contains(
            "decision: BLOCK (answer: NXDOMAIN; EDE 17 \"familydns: deny list of profile kids\")"
        ),
        "{out}"
    );
    assert!(
        out.contains("reason:   `") && out.contains("deny list of profile `kids`"),
        "{out}"
    );
    // The list rule and the keyword matched too: all three are shown, the deny marked.
    let matched: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("matched:  3 rules"))
        .collect();
    assert_eq!(matched.len(), 4, "{out}");
    assert!(
        matched[1].starts_with("  * block") && matched[1].contains("deny list"),
        "{out}"
    );
    assert!(
        matched[2].starts_with("    block")
            && matched[2].contains(&format!("stevenblack-porn-only-2026-06.domains:{line}")),
        "{out}"
    );
    assert!(
        matched[3].starts_with("    block")
            && matched[3].contains(&format!("keyword `{keyword}` in list `words`")),
        "{out}"
    );

    // `check --resolve` asks the server's chain check: the first blocked target decides.
    let chain = [
        "cdn.example.org".to_owned(),
        format!("x.{name}"),
        name.clone(),
    ];
    let out = familydns::check::explain_cname_chain(&config, &snap, kids, &chain, None);
    assert!(
        out.starts_with("cname:    BLOCK (answer: NXDOMAIN; EDE 17")
            && out.contains(&format!(
                "reaches `x.{name}`, blocked by `{name}` is on the deny list"
            )),
        "{out}"
    );
    let out = familydns::check::explain_cname_chain(&config, &snap, kids, &chain[..1], None);
    assert_eq!(out, "cname:    chain cdn.example.org is allowed\n");
}
