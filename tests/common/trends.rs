//! For the trend tests: a config with `[trends]` whose kid devices and household devices
//! block three categories, a day of lookups on a clock the test moves, and reading the
//! exports the way the collector and `familydns trends` do.

use std::path::Path;
use std::time::Duration;

use familydns::trends::Report;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::parents::{TestClock, start_on};
use super::{HEAD, Running, TestConfig, eventually, familydns, test_now, udp, udp_from};

pub const TOKEN: &str = "trends-collector-token-0123";
pub const ADULT: &str = "adult.example.test.";
pub const CASINO: &str = "casino.example.test.";
/// Looked up once, by one device: the rare name of the privacy property.
pub const RARE: &str = "rare-pharmacy-xq7.example.test.";
pub const DAY: &str = "2026-11-28";
pub const SINCE: &str = "2026-11-01";

/// `instance`'s config: kid devices `kid-11` … `kid-40` (127.0.0.11 … 127.0.0.40) on the
/// child profile `kids`; every other address gets the household profile `family`.
pub fn config(upstream: std::net::SocketAddr, instance: &str, extra: &str) -> TestConfig {
    let mut main = format!(
        "{HEAD}
[trends]
instance = \"{instance}\"
path = \"trends.db\"
token = \"{TOKEN}\"
{extra}
"
    );
    for category in ["adult", "gambling", "drugs"] {
        main += &format!(
            "[[list]]\nname = \"{category}\"\ncategory = \"{category}\"\nsource = \"{{DIR}}/{category}.txt\"\n"
        );
    }
    for n in 11..=40 {
        main += &format!(
            "[[client]]\nname = \"kid-{n}\"\nmatch = [\"127.0.0.{n}\"]\nprofile = \"kids\"\n"
        );
    }
    let block = "block = [\"adult\", \"gambling\", \"drugs\"]\n";
    let cfg = TestConfig::new(
        &main,
        upstream,
        &[
            ("kids", &format!("kind = \"child\"\n{block}")),
            ("family", block),
        ],
    );
    for (category, name) in [("adult", ADULT), ("gambling", CASINO), ("drugs", RARE)] {
        let file = cfg.dir.path().join(format!("{category}.txt"));
        std::fs::write(file, name.trim_end_matches('.')).unwrap();
    }
    cfg
}

/// A lookup of `name` from `from`, which the filter blocks.
pub async fn blocked(fdns: &Running, from: &str, name: &str) {
    let m = udp_from(
        fdns.dns_addrs[0],
        from.parse().unwrap(),
        name,
        RecordType::A,
        None,
    )
    .await;
    assert_eq!(
        m.metadata.response_code,
        ResponseCode::NXDomain,
        "{name} from {from}"
    );
}

/// A day of lookups: kids 11 … 10 + `adult_kids` look up the adult name twice each, three
/// kids the casino, and one household device (127.0.0.99) the rare name once; then the
/// clock moves to the next day and the test waits for the day to close.
pub async fn a_day(cfg: &TestConfig, adult_kids: u8) -> Running {
    let clock = TestClock::new();
    let fdns = start_on(cfg, &clock).await;
    for n in 11..11 + adult_kids {
        for _ in 0..2 {
            blocked(&fdns, &format!("127.0.0.{n}"), ADULT).await;
        }
    }
    for n in 11..14 {
        blocked(&fdns, &format!("127.0.0.{n}"), CASINO).await;
    }
    blocked(&fdns, "127.0.0.99", RARE).await;
    let allowed = udp(fdns.dns_addrs[0], "www.example.test.", RecordType::A).await;
    assert_eq!(allowed.metadata.response_code, ResponseCode::NoError);
    clock.advance(Duration::from_secs(86_400));
    let config = familydns::config::load(&cfg.path()).unwrap();
    let trends = config.trends.unwrap();
    let since = familydns::trends::since_day(SINCE, test_now()).unwrap();
    let closed = eventually(Duration::from_secs(10), async || {
        familydns::trends::read(&trends, familydns::trends::View::Local, since)
            .is_ok_and(|r| !r.cells.is_empty())
    })
    .await;
    assert!(closed, "the day closes once the clock has left it");
    fdns
}

/// `familydns trends ARGS…` on `cfg`: its standard output.
pub fn trends(cfg: &Path, args: &[&str]) -> String {
    let out = familydns("trends", cfg, args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `(kind, category) -> (devices, suppressed)` of a report's cells of [`DAY`].
pub fn cells(report: &Report) -> Vec<(String, String, Option<i64>, u32)> {
    report
        .cells
        .iter()
        .inspect(|c| assert_eq!(c.day.to_string(), DAY, "only the closed day"))
        .map(|c| (c.kind.clone(), c.category.clone(), c.devices, c.suppressed))
        .collect()
}

/// The cell [`cells`] shows for `devices`: suppressed when `None`.
pub fn cell(
    kind: &str,
    category: &str,
    devices: Option<i64>,
) -> (String, String, Option<i64>, u32) {
    (
        kind.into(),
        category.into(),
        devices,
        u32::from(devices.is_none()),
    )
}

/// Nothing that names a person, a device or a looked-up name.
pub fn assert_anonymous(text: &str) {
    for secret in ["kid-", "127.0.0.", "example.test", "rare-pharmacy"] {
        assert!(!text.contains(secret), "`{secret}` in\n{text}");
    }
}
