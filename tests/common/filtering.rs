//! For the filtering tests: names picked from the real lists in `tests/fixtures`, a query
//! from a chosen source address, and the configs the tests load those lists with.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use super::{HEAD, Running, TestConfig, fixture, udp_from};

/// Data lines of a real list (no comments, no blank lines), in file order, with line numbers.
pub fn data_lines(path: &str) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(fixture(path)).unwrap();
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim().to_owned()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with(['#', '!', ';', '[', '$']))
        .collect()
}

/// A name from the middle of a list, taken with a format-specific extractor.
pub fn pick(path: &str, extract: impl Fn(&str) -> Option<String>) -> String {
    let lines = data_lines(path);
    lines[lines.len() / 2..]
        .iter()
        .find_map(|(_, l)| extract(l))
        .unwrap_or_else(|| panic!("no name found in {path}"))
}

/// The address [`every_format_config`] names no client for: the default profile, `family`.
pub const LOCALHOST: &str = "127.0.0.1";

/// An A query for `name` (without its final dot) from `from`.
pub async fn ask(fdns: &Running, from: &str, name: &str) -> Message {
    udp_from(
        fdns.dns_addrs[0],
        from.parse::<IpAddr>().unwrap(),
        &format!("{name}."),
        RecordType::A,
        Some(1232),
    )
    .await
}

/// One list of every format (hosts, multi-host hosts, domains, adblock with its `@@`
/// exceptions, wildcard, and RPZ, dnsmasq and gzip-compressed hosts read with `auto`), each
/// format its own category; `family` blocks them all, and `wildcard-only` (127.0.0.5) is on
/// `wild`, which blocks the wildcard list alone.
pub fn every_format_config(upstream: SocketAddr) -> TestConfig {
    let lists = r#"
[[list]]
name = "sinfonietta-gambling"
category = "hosts"
source = "{DATA}/hosts/sinfonietta-gambling-hosts"
format = "hosts"
[[list]]
name = "hagezi-doh-compressed"
category = "hosts"
source = "{DATA}/hosts/hagezi-doh-compressed.multihost.hosts"
format = "hosts"
[[list]]
name = "hagezi-nsfw"
category = "domains"
source = "{DATA}/domains/hagezi-nsfw.domains"
format = "domains"
[[list]]
name = "oisd-nsfw-small"
category = "adblock"
source = "{DATA}/adblock/oisd-nsfw-small.abp.txt"
format = "adblock"
[[list]]
name = "spam-tlds"
category = "adblock"
source = "{DATA}/adblock/hagezi-spam-tlds-adblock-aggressive.txt"
format = "adblock"
[[list]]
name = "spam-tlds-allow"
category = "adblock"
source = "{DATA}/adblock/hagezi-spam-tlds-adblock-allow.txt"
format = "adblock"
[[list]]
name = "hagezi-nsfw-wildcard"
category = "wildcard"
source = "{DATA}/wildcard/hagezi-nsfw.wildcard"
format = "wildcard"
[[list]]
name = "social-rpz"
category = "auto"
source = "{DATA}/rpz/hagezi-social.rpz"
[[list]]
name = "social-dnsmasq"
category = "auto"
source = "{DATA}/dnsmasq/hagezi-social.dnsmasq"
[[list]]
name = "stevenblack-porn-gz"
category = "auto"
source = "{DATA}/hosts/stevenblack-porn-2026-08.hosts.gz"
[[client]]
name = "wildcard-only"
match = ["127.0.0.5"]
profile = "wild"
"#;
    TestConfig::new(
        &format!("{HEAD}{lists}"),
        upstream,
        &[
            (
                "family",
                "block = [\"hosts\", \"domains\", \"adblock\", \"wildcard\", \"auto\"]\n",
            ),
            // The same nsfw list is also loaded as domains: test `*.x` on its own.
            ("wild", "block = [\"wildcard\"]\n"),
        ],
    )
}

/// Two real lists, `adult` and `gambling`; `kid-tablet` (127.0.0.2) on `kids` and `lab`
/// (127.0.0.0/29) on `null-answers`. Tests add `family`, `kids` and `null-answers`.
pub const PROFILES_HEAD: &str = r#"
[[list]]
name = "stevenblack-porn"
category = "adult"
source = "{DATA}/domains/stevenblack-porn-only-2026-06.domains"
format = "domains"
[[list]]
name = "stevenblack-gambling"
category = "gambling"
source = "{DATA}/domains/stevenblack-gambling-only-2026-06.domains"
format = "domains"
[[client]]
name = "kid-tablet"
match = ["127.0.0.2"]
profile = "kids"
[[client]]
name = "lab"
match = ["127.0.0.0/29"]
profile = "null-answers"
"#;
