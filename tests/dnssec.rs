//! DNSSEC passes through: a zone signed by `ldns-signzone`, served by NSD, validated by
//! Unbound (with the zone's DS as its trust anchor), and familydns in front of Unbound. A DO
//! query gets the RRSIGs and the AD bit as Unbound gave them, a plain query for the same name
//! gets neither (before and after, from the cache), and CD reaches Unbound: a name whose
//! signature does not match fails validation unless the client disabled checking.
//!
//! Needs Debian's `ldnsutils`, `nsd` and `unbound` (`.ci/run` installs them); without them
//! the test says so and passes, so that the suite still runs with only the Rust toolchain.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use common::daemon::*;
use common::raw::metric;
use common::*;
use hickory_proto::op::{Edns, Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

const ZONE: &str = "\
$ORIGIN example.test.
$TTL 300
@ 3600 IN SOA ns.example.test. admin.example.test. 1 3600 600 86400 120
@ 3600 IN NS ns.example.test.
ns 3600 IN A 192.0.2.53
www IN A 192.0.2.1
bogus IN A 192.0.2.66
";

/// The programs the chain needs, or `None` (after saying which is missing).
fn programs() -> Option<[std::path::PathBuf; 4]> {
    let names = ["ldns-keygen", "ldns-signzone", "nsd", "unbound"];
    let found = names.map(|n| find_program(&[n]));
    if let Some(i) = found.iter().position(Option::is_none) {
        println!(
            "SKIPPED: {} is not installed (apt-get install ldnsutils nsd unbound)",
            names[i]
        );
        return None;
    }
    Some(found.map(Option::unwrap))
}

/// Runs `command` in `dir` and returns its standard output.
fn run(command: &mut Command, dir: &Path) -> String {
    let out = command.current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{command:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Signs the zone with one new key (its DS goes in `<key>.ds`), then breaks `bogus`: its
/// address changes after signing, so its RRSIG no longer verifies. Returns the key's name.
fn sign_zone(keygen: &Path, signzone: &Path, dir: &Path) -> String {
    std::fs::write(dir.join("example.test.zone"), ZONE).unwrap();
    let key = run(
        Command::new(keygen).args(["-a", "ECDSAP256SHA256", "-k", "example.test"]),
        dir,
    );
    let key = key.trim().to_owned();
    run(
        Command::new(signzone).args(["example.test.zone", &key]),
        dir,
    );
    let signed = dir.join("example.test.zone.signed");
    let text = std::fs::read_to_string(&signed).unwrap();
    let (good, bad) = ("\tA\t192.0.2.66\n", "\tA\t192.0.2.99\n");
    assert_eq!(text.matches(good).count(), 1, "{text}");
    std::fs::write(&signed, text.replace(good, bad)).unwrap();
    key
}

fn nsd_conf(dir: &Path, port: u16) -> String {
    let dir = dir.display();
    format!(
        r#"server:
  ip-address: 127.0.0.1@{port}
  port: {port}
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "{dir}"
  database: ""
  pidfile: ""
  xfrdfile: "{dir}/xfrd.state"
  zonelistfile: "{dir}/zone.list"
  logfile: "{dir}/nsd.log"
  server-count: 1
remote-control:
  control-enable: no
zone:
  name: "example.test."
  zonefile: "example.test.zone.signed"
"#
    )
}

/// Unbound validating `example.test.` (trusting only its DS), asking NSD on `nsd_port`.
fn unbound_conf(dir: &Path, port: u16, nsd_port: u16, key: &str) -> String {
    let server = unbound_server(dir, port);
    let dir = dir.display();
    format!(
        r#"{server}  module-config: "validator iterator"
  trust-anchor-file: "{dir}/{key}.ds"
  local-zone: "test." nodefault
stub-zone:
  name: "example.test."
  stub-addr: 127.0.0.1@{nsd_port}
"#
    )
}

/// The client's flags on a query for `name` A.
#[derive(Clone, Copy, Default)]
struct Flags {
    dnssec_ok: bool,
    checking_disabled: bool,
    authentic_data: bool,
}

async fn ask(server: SocketAddr, name: &str, flags: Flags) -> Message {
    let mut m = Message::query();
    m.metadata.id = 4243;
    m.metadata.op_code = OpCode::Query;
    m.metadata.recursion_desired = true;
    m.metadata.checking_disabled = flags.checking_disabled;
    m.metadata.authentic_data = flags.authentic_data;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    let mut edns = Edns::new();
    edns.set_max_payload(1232).set_dnssec_ok(flags.dnssec_ok);
    m.set_edns(edns);
    udp_message(server, "127.0.0.1".parse().unwrap(), m).await
}

fn types(m: &Message) -> Vec<RecordType> {
    m.answers.iter().map(|r| r.record_type()).collect()
}

fn dnssec_ok(m: &Message) -> bool {
    m.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok)
}

const DO: Flags = Flags {
    dnssec_ok: true,
    checking_disabled: false,
    authentic_data: false,
};
const PLAIN: Flags = Flags {
    dnssec_ok: false,
    checking_disabled: false,
    authentic_data: false,
};

#[tokio::test]
async fn rrsigs_and_ad_pass_through_for_do_and_cd_is_forwarded() {
    let Some([keygen, signzone, nsd, unbound]) = programs() else {
        return;
    };
    let zone_dir = tempfile::tempdir().unwrap();
    let dir = zone_dir.path();
    let key = sign_zone(&keygen, &signzone, dir);

    let nsd_port = free_port().await;
    std::fs::write(dir.join("nsd.conf"), nsd_conf(dir, nsd_port)).unwrap();
    let _nsd = Daemon::start(
        Command::new(nsd)
            .arg("-d")
            .arg("-c")
            .arg(dir.join("nsd.conf")),
    );
    assert!(
        dns_is_up(SocketAddr::from(([127, 0, 0, 1], nsd_port))).await,
        "nsd answers"
    );

    let port = free_port().await;
    let conf = dir.join("unbound.conf");
    std::fs::write(&conf, unbound_conf(dir, port, nsd_port, &key)).unwrap();
    let _unbound = Daemon::start(Command::new(unbound).arg("-d").arg("-c").arg(&conf));
    let validating = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(dns_is_up(validating).await, "unbound answers");

    let cfg = TestConfig::new(HEAD, validating, &[("family", "")]);
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];
    let hits = async || metric(&fdns, "familydns_cache_hits_total").await;

    // A plain query first: the address, no RRSIG, no AD (the client did not ask for it).
    let m = ask(s, "www.example.test.", PLAIN).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{m:?}");
    assert_eq!(types(&m), [RecordType::A], "{m:?}");
    assert!(!m.metadata.authentic_data && !dnssec_ok(&m), "{m:?}");

    // DO: the RRSIG over the address, DO echoed, and Unbound's AD, fresh and from the cache.
    for _ in 0..2 {
        let m = ask(s, "www.example.test.", DO).await;
        assert_eq!(types(&m), [RecordType::A, RecordType::RRSIG], "{m:?}");
        assert!(dnssec_ok(&m), "{m:?}");
        assert!(m.metadata.authentic_data, "AD as Unbound gave it: {m:?}");
    }

    // Plain again, from the cache that now also holds the signed answer: still no RRSIG.
    let before = hits().await;
    let m = ask(s, "www.example.test.", PLAIN).await;
    assert_eq!(types(&m), [RecordType::A], "{m:?}");
    assert!(!m.metadata.authentic_data, "{m:?}");
    assert_eq!(hits().await, before + 1, "answered from the cache");

    // AD=1 without DO (RFC 6840 §5.7): the AD bit, and still no RRSIG.
    let ad = Flags {
        authentic_data: true,
        ..PLAIN
    };
    let m = ask(s, "www.example.test.", ad).await;
    assert_eq!(types(&m), [RecordType::A], "{m:?}");
    assert!(m.metadata.authentic_data, "{m:?}");

    // A signature that does not verify: with CD, Unbound passes the data on unvalidated
    // (no AD); without, SERVFAIL, even though the CD answer is cached by then.
    let cd = Flags {
        checking_disabled: true,
        ..DO
    };
    let m = ask(s, "bogus.example.test.", cd).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{m:?}");
    assert_eq!(types(&m), [RecordType::A, RecordType::RRSIG], "{m:?}");
    assert!(
        m.metadata.checking_disabled && !m.metadata.authentic_data,
        "{m:?}"
    );
    for flags in [DO, PLAIN] {
        let m = ask(s, "bogus.example.test.", flags).await;
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail, "{m:?}");
    }

    // A DO query for a name that does not exist gets the signed denial to validate itself.
    let m = ask(s, "nx.example.test.", DO).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{m:?}");
    let denial: Vec<RecordType> = m.authorities.iter().map(|r| r.record_type()).collect();
    for t in [RecordType::SOA, RecordType::NSEC, RecordType::RRSIG] {
        assert!(denial.contains(&t), "{t} in {denial:?}");
    }
    let m = ask(s, "nx.example.test.", PLAIN).await;
    let plain: Vec<RecordType> = m.authorities.iter().map(|r| r.record_type()).collect();
    assert_eq!(plain, [RecordType::SOA], "{m:?}");
}
