//! Config errors name file, line and key; `validate` lists them all; a bad reload keeps the
//! last good configuration serving.

mod common;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

const BROKEN_MAIN: &str = r#"default_profile = "family"
[server]
listen = ["127.0.0.1"]
allow_clients = ["10.0.0.0/33"]
[upstream]
servers = ["udp://{UPSTREAM}", "smtp://1.2.3.4"]
[[list]]
name = "missing"
category = "adult"
source = "does-not-exist.txt"
[[client]]
name = "tablet"
match = ["192.168.1.300"]
profile = "kidz"
"#;

#[test]
fn every_error_is_reported_with_file_line_and_key() {
    let cfg = TestConfig::new(
        BROKEN_MAIN,
        "127.0.0.1:53".parse().unwrap(),
        &[
            ("family", "block = [\"adlut\"]\n"),
            ("kids", "block = []\nsafe_serach = true\n"),
        ],
    );
    let errors = familydns::config::load(&cfg.path())
        .unwrap_err()
        .to_string();
    let main = cfg.path().display().to_string();
    let profiles = cfg.dir.path().join("profiles");
    for expected in [
        format!("{main}:3:11: `listen`: `127.0.0.1` is not an address with a port"),
        format!("{main}:4:18: `allow_clients`: `10.0.0.0/33` is not an IP address or CIDR prefix"),
        format!("{main}:6:34: `servers`: unknown scheme `smtp`"),
        format!("{main}:10:10: `source`: list file"),
        format!("{main}:13:10: `match`: `192.168.1.300` is not an IP address"),
        format!("{main}:14:11: `profile`: profile `kidz` does not exist"),
        format!(
            "{}:1:10: `block`: no list has category `adlut`",
            profiles.join("family.toml").display()
        ),
        format!(
            "{}:2:1: unknown field `safe_serach`",
            profiles.join("kids.toml").display()
        ),
    ] {
        assert!(
            errors.contains(&expected),
            "missing:\n{expected}\nin:\n{errors}"
        );
    }

    let out = familydns("validate", &cfg.path(), &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 8, "{stderr}");
}

#[test]
fn shipped_config_validates_and_check_explains() {
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/familydns.toml");
    let out = familydns("validate", &config, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A Saturday afternoon: no schedule of the shipped kids profile is active, so the
    // answer cannot depend on when the test runs.
    let out = familydns(
        "check",
        &config,
        &[
            "--at",
            "2026-11-28T16:00",
            "--client",
            "192.168.1.201",
            "www.pornhub.com",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("profile `kids`") && stdout.contains("BLOCK"),
        "{stdout}"
    );
    assert!(stdout.contains("adult.domains.gz:"), "{stdout}");
    // Every rule that matches is listed, the list rule that decides marked: the shipped
    // keywords name it too.
    assert!(
        stdout.contains("  * block   rule `pornhub.com`") && stdout.contains("keyword `porn`"),
        "{stdout}"
    );

    // A school night at 23:00: the shipped bedtime blocks everything but the allow list.
    let out = familydns(
        "check",
        &config,
        &[
            "--at",
            "2026-11-29T23:00",
            "--client",
            "192.168.1.201",
            "example.com",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("bedtime window active") && stdout.contains("BLOCK"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_broken_reload_keeps_the_last_good_config() {
    let upstream = start_upstream().await;
    let cfg = TestConfig::new(
        HEAD,
        upstream.addr,
        &[("family", "deny = [\"txt.example.test\"]\n")],
    );
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];
    assert_eq!(
        udp(s, "txt.example.test.", RecordType::A)
            .await
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );

    let profile = cfg.dir.path().join("profiles/family.toml");
    std::fs::write(&profile, "deny = [\"txt.example.test\"\n").unwrap();
    assert!(fdns.reload().await.is_err());
    assert_eq!(
        udp(s, "txt.example.test.", RecordType::A)
            .await
            .metadata
            .response_code,
        ResponseCode::NXDomain,
        "still filtering with the last good profile"
    );
    let addr = fdns.metrics_addr.unwrap();
    assert!(
        http_get(addr, "/metrics")
            .await
            .contains("familydns_reload_failures_total 1")
    );
    let health = http_get(addr, "/health").await;
    assert!(health.contains("family.toml:1:"), "{health}");

    std::fs::write(&profile, "deny = []\n").unwrap();
    fdns.reload().await.unwrap();
    assert_eq!(
        udp(s, "txt.example.test.", RecordType::TXT)
            .await
            .metadata
            .response_code,
        ResponseCode::NoError
    );
    assert!(http_get(addr, "/health").await.ends_with("ok\n"));
}

#[test]
fn a_config_may_have_over_a_thousand_lists() {
    const LISTS: usize = 1100;
    let mut main = String::from(
        "default_profile = \"family\"\n[server]\nlisten = [\"127.0.0.1:0\"]\n[upstream]\nservers = [\"udp://127.0.0.1:9\"]\n",
    );
    for i in 0..LISTS {
        let category = ["adult", "gambling", "games"][i % 3];
        main.push_str(&format!(
            "[[list]]\nname = \"l{i}\"\ncategory = \"{category}\"\nsource = \"l{i}.txt\"\nformat = \"domains\"\n"
        ));
    }
    let cfg = TestConfig::new(
        &main,
        "127.0.0.1:9".parse().unwrap(),
        &[("family", "block = [\"gambling\"]\n")],
    );
    for i in 0..LISTS {
        std::fs::write(
            cfg.dir.path().join(format!("l{i}.txt")),
            format!("only{i}.example\nshared.example\n"),
        )
        .unwrap();
    }
    let config = familydns::config::load(&cfg.path()).unwrap();
    let snap = familydns::snapshot::Snapshot::build(&config, false).unwrap();
    let family = snap.profile_named("family").unwrap();
    let decide = |n: &str| {
        snap.decide_name(
            family,
            &familydns::name::QueryName::parse(n).unwrap(),
            jiff::Timestamp::UNIX_EPOCH,
        )
    };
    // List 1099 is gambling (1099 % 3 == 1); 1098 is adult, which the profile does not block.
    let d = decide("only1099.example");
    assert_eq!(d.action, familydns::policy::Action::Block);
    assert_eq!(
        snap.blocklists.lists[usize::from(d.reason.list().unwrap())].name,
        "l1099"
    );
    assert_eq!(
        decide("only1098.example").action,
        familydns::policy::Action::Allow
    );
    // A name in every list is reported from the first gambling list.
    assert_eq!(decide("shared.example").reason.list(), Some(1));
}

#[test]
fn budget_errors_name_file_line_and_key() {
    let lists = "[[list]]\nname = \"a\"\ncategory = \"adult\"\nsource = \"a.txt\"\n\
                 [[list]]\nname = \"s\"\ncategory = \"social\"\nsource = \"s.txt\"\n";
    let family = r#"block = ["adult"]
[[budget]]
categories = ["social", "adult"]
minutes = 0
[[budget]]
categories = ["social", "vidoe"]
minutes = 30
"#;
    let cfg = TestConfig::new(
        &format!("{HEAD}{lists}"),
        "127.0.0.1:53".parse().unwrap(),
        &[("family", family)],
    );
    for file in ["a.txt", "s.txt"] {
        std::fs::write(cfg.dir.path().join(file), "example.org\n").unwrap();
    }
    let errors = familydns::config::load(&cfg.path())
        .unwrap_err()
        .to_string();
    let file = cfg.dir.path().join("profiles/family.toml");
    let file = file.display();
    for expected in [
        format!("{file}:3:25: `categories`: `adult` is in `block`: it is never looked up"),
        format!("{file}:4:11: `minutes`: expected 1 to 1440 minutes a day"),
        format!("{file}:6:15: `categories`: `social` is already in another budget"),
        format!("{file}:6:25: `categories`: no list has category `vidoe`"),
    ] {
        assert!(
            errors.contains(&expected),
            "missing:\n{expected}\nin:\n{errors}"
        );
    }
    assert_eq!(errors.lines().count(), 4, "{errors}");
}
