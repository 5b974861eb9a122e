//! Subscribing to another party's RPZ feed (`source = "rpz+axfr://IP:PORT/ZONE#key"`): an
//! IXFR from the cached serial when there is a cached copy, else an AXFR, TSIG-signed when
//! the source names a key (every answer must then verify), capped in records and time.
//!
//! The cached copy in `cache_dir` is the zone as RPZ text, owners relative to the zone,
//! after a first line naming the zone and serial; the list machinery reads it as an `rpz`
//! list, so a start while the primary is offline filters with it.

mod copy;

use std::time::Duration;

use hickory_proto::ProtoError;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use tokio::net::TcpStream;
use tokio::time::timeout;

use copy::{Copy, soa_serial};

use super::tsig::{self, Keyring};
use super::wire;
use crate::config::ListConfig;
use crate::config::exchange::{FeedSource, FeedSourceError, TsigKeyConfig};

/// Most records a feed may have (two per name: one million names); a bigger zone is
/// refused whole, keeping the cached copy.
pub const MAX_RECORDS: usize = 2_000_000;
/// A whole transfer, connection included, takes at most this long.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a transfer left the cached copy as it was.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("not an rpz+axfr list")]
    NotFeed,
    #[error("{0}")]
    Source(#[from] FeedSourceError),
    #[error("no [[tsig_key]] named `{0}`")]
    NoKey(Name),
    #[error("{0}")]
    Frame(#[from] wire::FrameError),
    #[error("{0}")]
    Proto(#[from] ProtoError),
    #[error("a malformed answer: {0}")]
    Decode(#[from] hickory_proto::serialize::binary::DecodeError),
    #[error("the primary answered {0}")]
    Rcode(ResponseCode),
    #[error("the answer's TSIG does not verify: {0}")]
    Tsig(String),
    #[error("the answer is not a transfer of {0}")]
    NotZone(Name),
    #[error("the IXFR does not start at our serial {0}")]
    Mismatch(u32),
    #[error("the zone has more than {0} records; refused, keeping the cached copy")]
    TooLarge(usize),
    #[error("the transfer did not finish within {TRANSFER_TIMEOUT:?}")]
    Timeout,
    #[error("cannot write the cache: {0}")]
    Cache(std::io::Error),
}

/// Transfers `list`'s feed into its cache file; `now` is the TSIG time (Unix seconds).
/// `Ok(true)` when the copy changed.
pub async fn fetch(
    list: &ListConfig,
    keys: &[TsigKeyConfig],
    now: u64,
) -> Result<bool, TransferError> {
    let url = list.url.as_deref().ok_or(TransferError::NotFeed)?;
    let feed = FeedSource::parse(url)?;
    let keyring = Keyring::new(keys);
    let signer = match &feed.key {
        Some(k) => Some(
            keyring
                .get(k)
                .ok_or_else(|| TransferError::NoKey(k.clone()))?,
        ),
        None => None,
    };
    let cached = Copy::read(&list.source, &feed.zone);
    let records = match &cached {
        Some(c) => {
            let records = transfer(&feed, signer, Some(c.serial), now, MAX_RECORDS).await?;
            match c.apply(&feed.zone, &records) {
                Err(TransferError::Mismatch(_)) => None,
                other => Some(other?),
            }
        }
        None => None,
    };
    let copy = match records {
        Some(copy) => copy,
        None => {
            let records = transfer(&feed, signer, None, now, MAX_RECORDS).await?;
            Copy::full(&feed.zone, &records)?
        }
    };
    if cached.as_ref().is_some_and(|c| c.serial == copy.serial) {
        return Ok(false);
    }
    copy.write(&list.source, &feed.zone)
        .map_err(TransferError::Cache)?;
    Ok(true)
}

/// The answer records of an AXFR (`serial` None) or IXFR, all messages together; more
/// than `cap` records is [`TransferError::TooLarge`].
async fn transfer(
    feed: &FeedSource,
    signer: Option<&hickory_proto::rr::TSigner>,
    serial: Option<u32>,
    now: u64,
    cap: usize,
) -> Result<Vec<Record>, TransferError> {
    let mut request = Message::query();
    let qtype = if serial.is_some() {
        RecordType::IXFR
    } else {
        RecordType::AXFR
    };
    let mut query = hickory_proto::op::Query::query(feed.zone.clone(), qtype);
    query.set_query_class(DNSClass::IN);
    request.add_query(query);
    if let Some(serial) = serial {
        // RFC 1995 §3: the client's SOA goes in the authority section.
        let soa =
            hickory_proto::rr::rdata::SOA::new(Name::root(), Name::root(), serial, 0, 0, 0, 0);
        request.add_authority(Record::from_rdata(feed.zone.clone(), 0, RData::SOA(soa)));
    }
    let mut verifier = tsig::sign_request(&mut request, signer, now)?;
    let bytes = request.to_vec()?;
    let run = async {
        let mut stream = TcpStream::connect(feed.primary)
            .await
            .map_err(wire::FrameError::Io)?;
        wire::write(&mut stream, &bytes, TRANSFER_TIMEOUT).await?;
        let mut records: Vec<Record> = Vec::new();
        loop {
            let bytes = wire::read(&mut stream, usize::from(u16::MAX), TRANSFER_TIMEOUT).await?;
            let message = Message::from_vec(&bytes)?;
            if message.metadata.response_code != ResponseCode::NoError {
                return Err(TransferError::Rcode(message.metadata.response_code));
            }
            if let Some(v) = verifier.as_mut() {
                v.verify(&bytes)
                    .map_err(|e| TransferError::Tsig(e.to_string()))?;
            }
            records.extend(message.answers);
            if records.len() > cap {
                return Err(TransferError::TooLarge(cap));
            }
            if complete(&records, serial.is_some())? {
                return Ok(records);
            }
        }
    };
    timeout(TRANSFER_TIMEOUT, run)
        .await
        .unwrap_or(Err(TransferError::Timeout))
}

/// Whether `records` hold a whole transfer: the SOA alone (an IXFR that is current), or
/// the new SOA closing it (twice for AXFR form; three times for IXFR diffs, whose last
/// diff also ends at it).
fn complete(records: &[Record], ixfr: bool) -> Result<bool, TransferError> {
    let Some(serial) = records.first().and_then(soa_serial) else {
        return Ok(false);
    };
    if records.len() == 1 {
        return Ok(ixfr);
    }
    let closing = records
        .iter()
        .filter(|r| soa_serial(r) == Some(serial))
        .count();
    let incremental = soa_serial(&records[1]).is_some();
    let last_is_soa = records.last().and_then(soa_serial) == Some(serial);
    Ok(last_is_soa && closing >= if incremental { 3 } else { 2 })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::Arc;

    use prometheus::{IntCounterVec, Opts};

    use super::*;
    use crate::config::exchange::{ExchangeConfig, SubscriberConfig, fqdn};
    use crate::exchange::{Accepted, Publisher};

    /// A zone over the cap is refused whole, by a real transfer from our own publisher.
    #[tokio::test]
    async fn a_zone_over_the_record_cap_is_refused() {
        let config = ExchangeConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            zone: fqdn("feed.example").unwrap(),
            subscribers: vec![SubscriberConfig {
                name: "local".into(),
                key: None,
                unsigned_from: vec!["127.0.0.1/32".parse().unwrap()],
                notify: vec![],
            }],
            max_connections: 4,
            idle_timeout: Duration::from_secs(5),
            journal: 4,
            max_names: 1000,
        };
        let names: BTreeSet<String> = (0..300).map(|i| format!("n{i}.example")).collect();
        let accepted: Accepted = Arc::new(BTreeMap::from([("adult".to_string(), names)]));
        // The channel's initial value counts as seen: the set is sent, as the complaints side does.
        let (tx, rx) = tokio::sync::watch::channel(Accepted::default());
        tx.send_replace(accepted);
        let cache = tempfile::tempdir().unwrap();
        let events = IntCounterVec::new(Opts::new("e", "e"), &["event"]).unwrap();
        let publisher = Publisher::start(&config, &[], cache.path(), rx, events)
            .await
            .unwrap();
        let feed = FeedSource {
            primary: publisher.local_addr,
            zone: fqdn("adult.feed.example").unwrap(),
            key: None,
        };
        let mut records = Vec::new();
        for _ in 0..100 {
            // The publisher applies the set on its own task; until then the zone is refused.
            if let Ok(got) = transfer(&feed, None, None, 0, 1000).await {
                records = got;
                if records.len() == 603 {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(records.len(), 603, "SOA, NS, 600 records, SOA");
        let refused = transfer(&feed, None, None, 0, 500).await;
        assert!(
            matches!(refused, Err(TransferError::TooLarge(500))),
            "{refused:?}"
        );
    }
}
