//! NOTIFYs that reach our DNS listeners: one from the primary of a subscribed feed (its
//! address, and its TSIG key when the feed has one) is acknowledged and makes the refresher
//! transfer that list at once; any other NOTIFY is refused and counted.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use hickory_proto::op::{Message, OpCode, ResponseCode};
use prometheus::IntCounterVec;

use super::tsig::{self, Auth, Keyring};
use crate::config::Config;
use crate::config::exchange::{FEED_SCHEME, FeedSource};

/// The feeds NOTIFYs may be for, as of one config.
#[derive(Default)]
struct Feeds {
    /// The config they were read from (a new one is read again).
    from: Option<Arc<Config>>,
    /// List name and source of every `rpz+axfr://` list.
    lists: Vec<(String, FeedSource)>,
    keys: Keyring,
}

/// Shared by the DNS listeners (which answer NOTIFYs) and the refresher (which takes the
/// lists they poked).
pub struct Inbox {
    feeds: ArcSwap<Feeds>,
    /// Lists to transfer at once; a set, so a burst of NOTIFYs costs one transfer.
    pending: Mutex<BTreeSet<String>>,
    wake: tokio::sync::Notify,
    events: IntCounterVec,
}

impl Inbox {
    pub fn new(events: IntCounterVec) -> Arc<Inbox> {
        Arc::new(Inbox {
            feeds: ArcSwap::from_pointee(Feeds::default()),
            pending: Mutex::new(BTreeSet::new()),
            wake: tokio::sync::Notify::new(),
            events,
        })
    }

    /// Reads the feeds and keys of `config`, unless they were read from it already.
    pub fn configure(&self, config: &Arc<Config>) {
        if self
            .feeds
            .load()
            .from
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, config))
        {
            return;
        }
        let lists = config
            .lists
            .iter()
            .filter_map(|l| {
                let url = l.url.as_deref().filter(|u| u.starts_with(FEED_SCHEME))?;
                Some((l.name.clone(), FeedSource::parse(url).ok()?))
            })
            .collect();
        self.feeds.store(Arc::new(Feeds {
            from: Some(config.clone()),
            lists,
            keys: Keyring::new(&config.tsig_keys),
        }));
    }

    /// The answer to a NOTIFY (`packet`, parsed as `request`) from `src` at `now` (Unix
    /// seconds).
    pub fn answer(
        &self,
        packet: &[u8],
        request: &Message,
        src: IpAddr,
        now: u64,
    ) -> Option<Vec<u8>> {
        let feeds = self.feeds.load();
        let mut auth = feeds.keys.verify(packet, request, now);
        let zone = match request.queries.as_slice() {
            [q] => Some(q.name().to_lowercase()),
            _ => None,
        };
        let poked: Vec<&String> = feeds
            .lists
            .iter()
            .filter(|(_, feed)| {
                Some(&feed.zone) == zone.as_ref()
                    && feed.primary.ip() == src
                    && feed.key.as_ref().is_none_or(|k| auth.key() == Some(k))
            })
            .map(|(name, _)| name)
            .collect();
        let rcode = match &auth {
            Auth::Failed(_) => ResponseCode::NotAuth,
            _ if poked.is_empty() => ResponseCode::Refused,
            _ => ResponseCode::NoError,
        };
        if rcode == ResponseCode::NoError {
            self.events.with_label_values(&["notify_in"]).inc();
            let mut pending = self.pending.lock().expect("not poisoned");
            pending.extend(poked.into_iter().cloned());
            self.wake.notify_one();
        } else {
            self.events.with_label_values(&["notify_refused"]).inc();
        }
        let mut reply = Message::error_msg(request.metadata.id, OpCode::Notify, rcode);
        reply.metadata.authoritative = rcode == ResponseCode::NoError;
        reply.queries = request.queries.clone();
        tsig::encode(&mut reply, &mut auth).ok()
    }

    /// The lists NOTIFYs asked for since the last call.
    pub fn take(&self) -> BTreeSet<String> {
        std::mem::take(&mut *self.pending.lock().expect("not poisoned"))
    }

    /// Returns when a NOTIFY was accepted (at once if one came since the last wait).
    pub async fn poked(&self) {
        self.wake.notified().await;
    }
}
