//! What the RPZ exchange tests share: a TSIG key both sides know, a familydns started on
//! the wall clock (TSIG times are checked against the peer's clock), publishing a set of
//! accepted names, and timing how long until a subscriber blocks or unblocks a name.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::{Running, TestConfig, eventually, udp};

/// The key `school1`: 32 bytes, base64 as `tsig-keygen` prints it.
pub const SECRET: &str = "JeGsbOSjjtqOiWEyZ8NpGt9objR6oFfRYpzKeVV9js8=";
/// The same length, another secret: a party that guessed wrong.
pub const WRONG_SECRET: &str = "AAAAbOSjjtqOiWEyZ8NpGt9objR6oFfRYpzKeVV9js8=";

/// `[[tsig_key]] school1`.
pub const KEY: &str = r#"
[[tsig_key]]
name = "school1"
algorithm = "hmac-sha256"
secret = "JeGsbOSjjtqOiWEyZ8NpGt9objR6oFfRYpzKeVV9js8="
"#;

/// The zone the tests publish under, and its `adult` category zone.
pub const FEED: &str = "feed.alliance.example";
pub const ADULT_ZONE: &str = "adult.feed.alliance.example";

/// Starts `cfg` on the wall clock: TSIG signatures carry the time, and a real peer checks
/// it against its own clock (a pinned test instant would be BADTIME to BIND).
pub async fn start_live(cfg: &TestConfig) -> Running {
    let config = familydns::config::load(&cfg.path()).unwrap();
    familydns::app::start_with_clock(config, Arc::new(jiff::Timestamp::now))
        .await
        .expect("familydns starts")
}

/// Publishes `sets` (category, names) as the accepted set.
pub fn accept(fdns: &Running, sets: &[(&str, &[&str])]) {
    let set: BTreeMap<String, BTreeSet<String>> = sets
        .iter()
        .map(|(c, names)| (c.to_string(), names.iter().map(|n| n.to_string()).collect()))
        .collect();
    fdns.accepted().send_replace(Arc::new(set));
}

/// How long until `server` answers `name` with `rcode` (polled every 50 ms, within
/// `limit`); `None` if it never did.
pub async fn time_until(
    server: SocketAddr,
    name: &str,
    rcode: ResponseCode,
    limit: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    eventually(limit, async || {
        let probe = tokio::time::timeout(Duration::from_secs(1), udp(server, name, RecordType::A));
        matches!(probe.await, Ok(m) if m.metadata.response_code == rcode)
    })
    .await
    .then(|| start.elapsed())
}

/// `familydns_exchange_events_total{event}` of `fdns`.
pub fn events(fdns: &Running, event: &str) -> u64 {
    fdns.metrics.exchange.with_label_values(&[event]).get()
}

/// The serial of the feed's `adult` zone, asked over UDP as a secondary polls it (from
/// 127.0.0.1: the asking test's config must let it).
pub async fn serial(feed: SocketAddr) -> Option<u32> {
    let m = udp(feed, &format!("{ADULT_ZONE}."), RecordType::SOA).await;
    m.answers.iter().find_map(|r| match &r.data {
        hickory_proto::rr::RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}
