//! What the RPZ exchange tests share: a TSIG key both sides know (its times are the real
//! clock's, checked against the peer's; the policy clock stays pinned), publishing a set of
//! accepted names, and timing how long until a subscriber blocks or unblocks a name.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use serde_json::Value;

use super::complaints::{Api, REVIEWER};
use super::daemon::unbound_server;
use super::{HEAD, Running, TestConfig, eventually, udp};

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

/// What a publishing instance needs besides `[exchange]`: an `adult` list (complaints name
/// a category the config knows) and a reviewer's token for the complaints API, with bounds
/// wide enough for the 600-name test.
pub const REVIEWING: &str = r#"
[[list]]
name = "adult"
category = "adult"
source = "{DATA}/domains/stevenblack-porn-only-2026-06.domains"
format = "domains"
[complaints]
max_pending = 1000
filings_per_hour = 3600
[[complaints.token]]
name = "alliance"
role = "reviewer"
token = "reviewer-token-0123456789"
"#;

/// Makes the accepted complaints of `fdns` exactly `sets` (category, names), the way an
/// alliance reviewer does: filing and accepting the new names, removing the others, through
/// the complaints API. The feed publishes what the complaints side sends it.
pub async fn accept(fdns: &Running, sets: &[(&str, &[&str])]) {
    let want: BTreeSet<(String, String)> = sets
        .iter()
        .flat_map(|(c, names)| names.iter().map(move |n| (c.to_string(), n.to_string())))
        .collect();
    let api = Api::of(fdns);
    let (status, body) = api
        .send(false, "?status=accepted&limit=100000", REVIEWER, None)
        .await;
    assert_eq!(status, 200, "{body}");
    let listed: Vec<Value> = serde_json::from_str(&body).unwrap();
    let mut have = BTreeMap::new();
    for c in &listed {
        let key = (
            c["category"].as_str().unwrap().to_owned(),
            c["name"].as_str().unwrap().to_owned(),
        );
        have.insert(key, c["id"].as_i64().unwrap());
    }
    for (key, id) in &have {
        if !want.contains(key) {
            api.decided(*id, "remove").await;
        }
    }
    for (category, name) in want.iter().filter(|k| !have.contains_key(*k)) {
        let (status, body) = api.file(REVIEWER, name, category, "").await;
        assert_eq!(status, 201, "{body}");
        let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
            .as_i64()
            .unwrap();
        api.decided(id, "accept").await;
    }
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

/// A publishing instance: [`REVIEWING`], the key `school1`, and `[exchange]` serving
/// [`FEED`] on a free loopback port, with `exchange` (its subscribers and bounds) added.
pub fn publisher_config(upstream: SocketAddr, exchange: &str) -> TestConfig {
    TestConfig::new(
        &format!(
            "{HEAD}{KEY}{REVIEWING}\n[exchange]\nlisten = \"127.0.0.1:0\"\nzone = \"{FEED}\"\n{exchange}"
        ),
        upstream,
        &[("family", "")],
    )
}

/// Runs `dig` off the runtime (the servers it asks run on it).
pub async fn dig(args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || Command::new("dig").args(args).output())
        .await
        .unwrap()
        .expect("dig runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An `unbound.conf` for an Unbound on `127.0.0.1:port` that forwards to `upstream` and
/// subscribes, by address, to the [`ADULT_ZONE`] feed served on `feed_port`.
pub fn unbound_rpz_conf(dir: &Path, port: u16, upstream: SocketAddr, feed_port: u16) -> String {
    format!(
        r#"{server}  verbosity: 1
  module-config: "respip iterator"
  qname-minimisation: no
  local-zone: "test." nodefault
forward-zone:
  name: "."
  forward-addr: {uip}@{uport}
rpz:
  name: "{ADULT_ZONE}."
  primary: 127.0.0.1@{feed_port}
  rpz-log: yes
"#,
        server = unbound_server(dir, port),
        uip = upstream.ip(),
        uport = upstream.port(),
    )
}

/// A `named.conf` for a BIND on `127.0.0.1:port` that forwards to `upstream` and holds the
/// [`ADULT_ZONE`] feed served on `feed_port` as a TSIG-signed (`school1`) secondary used as
/// its response policy; it logs to `named.log` in `dir`.
pub fn named_rpz_conf(dir: &Path, port: u16, upstream: SocketAddr, feed_port: u16) -> String {
    format!(
        r#"key "school1" {{ algorithm hmac-sha256; secret "{SECRET}"; }};
controls {{ }};
logging {{
  channel log {{ file "{dir}/named.log"; severity info; print-time yes; }};
  category default {{ log; }};
}};
options {{
  directory "{dir}";
  pid-file none;
  listen-on port {port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion yes;
  allow-query {{ 127.0.0.1; }};
  dnssec-validation no;
  forwarders {{ {uip} port {uport}; }};
  forward only;
  notify no;
  response-policy {{ zone "{ADULT_ZONE}" min-update-interval 0; }} qname-wait-recurse no;
}};
zone "{ADULT_ZONE}" {{
  type secondary;
  primaries {{ 127.0.0.1 port {feed_port} key "school1"; }};
  allow-notify {{ 127.0.0.1; }};
}};
"#,
        dir = dir.display(),
        uip = upstream.ip(),
        uport = upstream.port(),
    )
}
