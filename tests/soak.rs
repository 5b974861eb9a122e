//! Soak: about a minute of mixed load over UDP and TCP (blocked names, cached names, misses,
//! malformed packets) while the upstream flaps. Every answer during the load is checked
//! (its ID, its question and what it says), the server answers correctly afterwards, and
//! its memory settles. `FAMILYDNS_SOAK_SECS` changes the length. It runs on
//! the full hagezi NSFW list from `../shared/data`, and is skipped when that is not present.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::RecordType;

/// What an answer during the load must say.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A listed name: NXDOMAIN, whatever the upstream does.
    Blocked,
    /// The cached name: its address, even while the upstream is silent.
    Cached,
    /// A name nobody asked before: the upstream's NXDOMAIN, or SERVFAIL while it is silent.
    Miss,
}

impl Expect {
    fn fits(self, m: &Message) -> bool {
        let rcode = m.metadata.response_code;
        match self {
            Expect::Blocked => rcode == ResponseCode::NXDomain,
            Expect::Cached => {
                rcode == ResponseCode::NoError
                    && m.answers.iter().any(|r| r.data.to_string() == "192.0.2.1")
            }
            Expect::Miss => matches!(rcode, ResponseCode::NXDomain | ResponseCode::ServFail),
        }
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_of_mixed_load_with_a_flapping_upstream() {
    let Some(data) = shared_data() else { return };
    let nsfw = data.join("domains/hagezi-nsfw.domains");
    let secs: u64 = std::env::var("FAMILYDNS_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let upstream = start_upstream().await;
    let lists = format!(
        "[[list]]\nname = \"nsfw\"\ncategory = \"adult\"\nsource = \"{}\"\n",
        nsfw.display()
    );
    let head = HEAD.replace("timeout_ms = 500", "timeout_ms = 200");
    let cfg = TestConfig::new(
        &format!("{head}{lists}"),
        upstream.addr,
        &[("family", "block = [\"adult\"]\n")],
    );
    let fdns = cfg.start().await;
    let s = fdns.dns_addrs[0];
    let blocked: Vec<String> = std::fs::read_to_string(&nsfw)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .step_by(97)
        .take(500)
        .map(|l| format!("{l}."))
        .collect();
    let blocked = Arc::new(blocked);
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let (checked, wrong) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    // The cached name is in the cache before the upstream starts to flap.
    let warm = udp(s, "www.example.test.", RecordType::A).await;
    assert!(Expect::Cached.fits(&warm));

    // The upstream flaps: two seconds up, one second silent.
    let flapping = {
        let (silent, stop) = (upstream.silent.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                silent.store(false, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(2)).await;
                silent.store(true, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            silent.store(false, Ordering::SeqCst);
        })
    };

    let mut load = Vec::new();
    for worker in 0..4u64 {
        let (stop, sent, blocked) = (stop.clone(), sent.clone(), blocked.clone());
        let (checked, wrong) = (checked.clone(), wrong.clone());
        load.push(tokio::spawn(async move {
            let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let mut buf = [0u8; 4096];
            let mut i = worker;
            while !stop.load(Ordering::SeqCst) {
                i += 1;
                // Never 0: a malformed packet's all-zero header has id 0, and its FORMERR
                // answer would be taken for this query's once `i` wraps past u16::MAX.
                let id = (i % u64::from(u16::MAX)) as u16 + 1;
                let (packet, question) = match i % 5 {
                    0 => (vec![0u8; (i % 40) as usize], None), // malformed
                    kind => {
                        let (name, expect) = match kind {
                            1 => (
                                blocked[(i as usize) % blocked.len()].clone(),
                                Expect::Blocked,
                            ),
                            2 | 3 => ("www.example.test.".to_owned(), Expect::Cached),
                            _ => (format!("miss-{worker}-{i}.example.test."), Expect::Miss),
                        };
                        let mut m = Message::query();
                        m.metadata.id = id;
                        m.metadata.recursion_desired = true;
                        m.add_query(Query::query(name.parse().unwrap(), RecordType::A));
                        (m.to_vec().unwrap(), Some((name, expect)))
                    }
                };
                let _ = sock.send_to(&packet, s).await;
                sent.fetch_add(1, Ordering::Relaxed);
                let Some((name, expect)) = question else {
                    continue;
                };
                // Wait for this query's answer; a late answer to an earlier one is skipped.
                let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
                while let Ok(Ok((len, _))) =
                    tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await
                {
                    let m = Message::from_vec(&buf[..len]).expect("answers parse");
                    if m.metadata.id != id {
                        continue;
                    }
                    checked.fetch_add(1, Ordering::Relaxed);
                    let echoed = m.queries.first().map(|q| q.name().to_string());
                    if echoed.as_deref() != Some(name.as_str()) || !expect.fits(&m) {
                        eprintln!("wrong answer to {name} ({expect:?}): {m:?}");
                        wrong.fetch_add(1, Ordering::Relaxed);
                    }
                    break;
                }
            }
        }));
    }
    // And TCP, one query per connection and several per connection.
    {
        let (stop, sent) = (stop.clone(), sent.clone());
        let (checked, wrong) = (checked.clone(), wrong.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let answer = tokio::time::timeout(
                    Duration::from_secs(2),
                    tcp(s, "www.example.test.", RecordType::A),
                )
                .await;
                sent.fetch_add(1, Ordering::Relaxed);
                if let Ok(m) = answer {
                    checked.fetch_add(1, Ordering::Relaxed);
                    if !Expect::Cached.fits(&m) {
                        eprintln!("wrong TCP answer: {m:?}");
                        wrong.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }

    let start = Instant::now();
    let mut curve = Vec::new();
    while start.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(5).min(Duration::from_secs(secs))).await;
        // The test upstream records every query it sees; forget them so that the curve
        // measures familydns, not the harness.
        upstream.seen.lock().unwrap().clear();
        curve.push((start.elapsed().as_secs(), rss_kib()));
    }
    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    flapping.await.unwrap();
    let checked = checked.load(Ordering::Relaxed);
    println!(
        "soak: {} packets in {secs} s, {checked} answers checked; RSS (s, KiB): {curve:?}",
        sent.load(Ordering::Relaxed)
    );
    assert_eq!(
        wrong.load(Ordering::Relaxed),
        0,
        "every answer during the load is right"
    );
    assert!(checked > 1000, "the load was answered: {checked} answers");

    // Still correct afterwards.
    let m = udp(s, "www.example.test.", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!m.answers.is_empty());
    let m = udp(s, &blocked[0], RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    // Memory settles: the last sample is within 1.5x of the one a third of the way in.
    let third = curve[curve.len() / 3].1;
    let last = curve.last().unwrap().1;
    assert!(last <= third * 3 / 2, "RSS still growing: {curve:?}");
}
