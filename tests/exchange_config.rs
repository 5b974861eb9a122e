//! The RPZ exchange's config: every mistake in `[[tsig_key]]`, `[exchange]` and an
//! `rpz+axfr://` list source is reported with file, line and key, all in one run.

mod common;

use common::*;

const BROKEN: &str = r#"
[[tsig_key]]
name = "school1"
secret = "c2hvcnQ="
[[tsig_key]]
name = "school2"
algorithm = "hmac-md5"
secret = "not base64!"
[[tsig_key]]
name = "school3"

[exchange]
listen = "127.0.0.1"
zone = "feed..example"
max_connections = 0
[[exchange.subscriber]]
name = "a"
key = "nobody"
notify = ["127.0.0.1"]
[[exchange.subscriber]]
name = "b"

[[list]]
name = "partner"
category = "adult"
source = "rpz+axfr://ns.partner.example:53/partner.example"
[[list]]
name = "partner2"
category = "adult"
source = "rpz+axfr://127.0.0.1:53/partner.example#nokey"
"#;

#[test]
fn exchange_errors_name_file_line_and_key() {
    let cfg = TestConfig::new(
        &format!("{HEAD}{BROKEN}"),
        "127.0.0.1:53".parse().unwrap(),
        &[("family", "")],
    );
    let errors = familydns::config::load(&cfg.path())
        .unwrap_err()
        .to_string();
    let main = cfg.path().display().to_string();
    for expected in [
        format!("{main}:14:10: `secret`: too short: at least 16 bytes"),
        format!("{main}:17:13: `algorithm`: expected one of \"hmac-sha256\""),
        format!("{main}:18:10: `secret`: not base64"),
        format!("{main}:20:8: `name`: set exactly one of `secret` and `secret_file`"),
        format!("{main}:23:10: `listen`: `127.0.0.1` is not an address with a port"),
        format!("{main}:24:8: `zone`: not a zone name"),
        format!("{main}:25:19: `max_connections`: must be more than 0"),
        format!("{main}:28:7: `key`: no [[tsig_key]] is named `nobody`"),
        format!("{main}:29:11: `notify`: `127.0.0.1` is not an address with a port"),
        format!("{main}:31:8: `name`: a subscriber needs a `key`"),
        format!("{main}:36:10: `source`: `ns.partner.example:53` is not an IP address with a port"),
        format!("{main}:40:10: `source`: no [[tsig_key]] is named `nokey`"),
    ] {
        assert!(
            errors.contains(&expected),
            "missing:\n{expected}\nin:\n{errors}"
        );
    }
    assert_eq!(errors.lines().count(), 12, "{errors}");
}

#[test]
fn a_secret_may_live_in_its_own_file() {
    let cfg = TestConfig::new(
        &format!(
            "{HEAD}[[tsig_key]]\nname = \"school1\"\nsecret_file = \"school1.key\"\n\
             [exchange]\nlisten = \"127.0.0.1:0\"\nzone = \"feed.example\"\n\
             [[exchange.subscriber]]\nname = \"school1\"\nkey = \"school1\"\n"
        ),
        "127.0.0.1:53".parse().unwrap(),
        &[("family", "")],
    );
    std::fs::write(
        cfg.dir.path().join("school1.key"),
        format!("{}\n", common::exchange::SECRET),
    )
    .unwrap();
    let config = familydns::config::load(&cfg.path()).unwrap();
    assert_eq!(config.tsig_keys[0].secret.0.len(), 32);
    assert!(
        !format!("{config:?}").contains(common::exchange::SECRET),
        "Debug hides the secret"
    );
    let exchange = config.exchange.unwrap();
    assert_eq!(exchange.zone.to_ascii(), "feed.example.");
    assert_eq!(
        exchange.subscribers[0].key.as_ref().unwrap().to_ascii(),
        "school1."
    );
}
