//! Hot reload: edits to profiles and lists take effect within seconds, in place or by
//! rename, and reloads (good and bad) under continuous queries never drop or mis-answer one.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

#[tokio::test]
async fn profile_edits_apply_in_place_and_by_rename() {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(HEAD, upstream.addr, &[("family", "deny = []\n")]);
    let fdns = cfg.start().await;
    let profile = cfg.dir.path().join("profiles/family.toml");
    assert_eq!(
        rcode(&fdns, "txt.example.test.").await,
        ResponseCode::NoError
    );

    // In place, as `echo >>` or a simple editor does.
    std::fs::write(&profile, "deny = [\"txt.example.test\"]\n").unwrap();
    assert!(
        eventually(Duration::from_secs(2), async || rcode(
            &fdns,
            "txt.example.test."
        )
        .await
            == ResponseCode::NXDomain)
        .await,
        "in-place edit applied within 2 s"
    );

    // Atomically, as vim and most editors do: write a temp file, rename it over.
    let tmp = cfg.dir.path().join("profiles/.family.toml.swp");
    std::fs::write(&tmp, "deny = []\n").unwrap();
    std::fs::rename(&tmp, &profile).unwrap();
    assert!(
        eventually(Duration::from_secs(2), async || rcode(
            &fdns,
            "txt.example.test."
        )
        .await
            == ResponseCode::NoError)
        .await,
        "renamed-over edit applied within 2 s"
    );

    // A broken save keeps the last good profile: still unfiltered as the last good one said.
    std::fs::write(&profile, "deny = [\"txt.example.test\"\n").unwrap();
    assert!(
        eventually(Duration::from_secs(2), async || http_get(
            fdns.metrics_addr.unwrap(),
            "/health"
        )
        .await
        .contains("family.toml:1"))
        .await
    );
    assert_eq!(
        rcode(&fdns, "txt.example.test.").await,
        ResponseCode::NoError
    );
}

#[tokio::test]
async fn list_file_edits_apply() {
    let upstream = start_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("mine.txt");
    std::fs::write(&list, "other.test\n").unwrap();
    let lists = format!(
        "[[list]]\nname = \"mine\"\ncategory = \"c\"\nsource = \"{}\"\n",
        list.display()
    );
    let cfg = TestConfig::new(
        &format!("{HEAD}{lists}"),
        upstream.addr,
        &[("family", "block = [\"c\"]\n")],
    );
    let fdns = cfg.start().await;
    assert_eq!(
        rcode(&fdns, "txt.example.test.").await,
        ResponseCode::NoError
    );
    std::fs::write(&list, "other.test\nexample.test\n").unwrap();
    assert!(
        eventually(Duration::from_secs(2), async || rcode(
            &fdns,
            "txt.example.test."
        )
        .await
            == ResponseCode::NXDomain)
        .await
    );
}

/// Real lists from `../shared/data` adding up to over a million rules.
const BIG_LISTS: &[&str] = &[
    "domains/hagezi-pro.domains",
    "domains/oisd-big.domainswild2.txt",
    "adblock/hagezi-multi.txt",
    "hosts/stevenblack-gambling-porn-social-2026-08.hosts.gz",
    "adblock/hagezi-gambling.medium.txt",
    "domains/hagezi-nsfw.domains",
    "bypass/ut1-redirector.domains",
];

/// The fixtures' cuts of real lists: the same test on a clone with nothing beside it.
const SMALL_LISTS: &[&str] = &[
    "domains/hagezi-nsfw.domains",
    "hosts/stevenblack-porn-2026-08.hosts.gz",
    "adblock/oisd-nsfw-small.abp.txt",
];

fn lists_toml(dir: &Path, files: &[&str]) -> String {
    files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            format!(
                "[[list]]\nname = \"big{i}\"\ncategory = \"big\"\nsource = \"{}\"\n",
                dir.join(f).display()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_reloads_under_load_lose_nothing() {
    reloads_under_load(&fixture(""), SMALL_LISTS, 500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_reloads_of_a_million_rules_under_load_lose_nothing() {
    let Some(data) = shared_data() else { return };
    reloads_under_load(&data, BIG_LISTS, 1_000_000).await;
}

/// Twenty reloads (four of them broken saves) of `files` in `dir` while a client queries an
/// allowed and a blocked name: every answer is right.
async fn reloads_under_load(dir: &Path, files: &[&str], min_rules: u64) {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(
        &format!("{HEAD}{}", lists_toml(dir, files)),
        upstream.addr,
        &[("family", "block = [\"big\"]\n")],
    );
    let fdns = cfg.start().await;
    let rules: u64 = {
        let config = familydns::config::load(&cfg.path()).unwrap();
        let snap = familydns::snapshot::Snapshot::build(&config, false).unwrap();
        snap.blocklists.lists.iter().map(|l| l.stats.rules).sum()
    };
    assert!(rules >= min_rules, "{rules} rules");
    let blocked_name = std::fs::read_to_string(dir.join(files[0]))
        .unwrap()
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap()
        .to_owned();

    let s = fdns.dns_addrs[0];
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let client = tokio::spawn(async move {
        let (mut answered, mut wrong) = (0u32, 0u32);
        let deadline = Instant::now() + Duration::from_secs(300);
        while Instant::now() < deadline && !stopped.load(std::sync::atomic::Ordering::SeqCst) {
            let ok = udp(s, "www.example.test.", RecordType::A).await;
            let blocked = udp(s, &format!("{blocked_name}."), RecordType::A).await;
            answered += 2;
            if ok.metadata.response_code != ResponseCode::NoError || ok.answers.is_empty() {
                wrong += 1;
            }
            if blocked.metadata.response_code != ResponseCode::NXDomain {
                wrong += 1;
            }
            if answered >= 100_000 {
                break;
            }
            tokio::task::yield_now().await;
        }
        (answered, wrong)
    });

    let profile = cfg.dir.path().join("profiles/family.toml");
    let mut failures = 0;
    for i in 0..20 {
        if i % 5 == 4 {
            // A broken save: the reload fails and the last good snapshot keeps serving.
            std::fs::write(&profile, "block = [\"big\"\n").unwrap();
            failures += usize::from(fdns.reload().await.is_err());
            std::fs::write(&profile, "block = [\"big\"]\n").unwrap();
        } else {
            fdns.reload().await.unwrap();
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (answered, wrong) = client.await.unwrap();
    println!("{answered} answers during 20 reloads, {wrong} wrong");
    assert!(answered > 100, "the client kept querying: {answered}");
    assert_eq!(wrong, 0, "no wrong or failed answer during reloads");
    assert_eq!(failures, 4);
    let metrics = http_get(fdns.metrics_addr.unwrap(), "/metrics").await;
    let count = |decision: &str| -> u64 {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("familydns_queries_total")
                    && l.contains(&format!("decision=\"{decision}\""))
            })
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or(0)
    };
    assert!(count("allowed") > 0 && count("blocked") > 0);
    assert_eq!(count("servfail"), 0, "no query failed during reloads");
}
