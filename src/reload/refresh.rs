//! Re-fetching URL lists and RPZ feeds every `refresh` (a feed at once on its primary's
//! NOTIFY), and reloading when one changed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Reloader;
use crate::config::ListConfig;
use crate::config::exchange::FEED_SCHEME;
use crate::download::{Downloader, Fetched};
use crate::exchange::{Inbox, subscribe};

/// How often the schedule is looked at.
const TICK: Duration = Duration::from_secs(1);
/// After a failed download, try again this soon rather than a whole `refresh` later.
const RETRY_FAILED: Duration = Duration::from_secs(60);

/// Fetches each downloaded list when due (all of them at start, a feed its primary
/// NOTIFYed at once), then reloads once if any changed. Failures keep the cached copy and
/// are counted per list.
pub fn refresh_lists(
    reloader: Arc<Reloader>,
    downloader: Downloader,
    inbox: Arc<Inbox>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut due: HashMap<String, Instant> = HashMap::new();
        loop {
            inbox.configure(&reloader.config());
            for poked in inbox.take() {
                due.remove(&poked);
            }
            let now = Instant::now();
            let mut changed = false;
            for list in reloader.downloaded() {
                if due.get(&list.name).is_some_and(|t| now < *t) {
                    continue;
                }
                let result = fetch(&reloader, &downloader, &list).await;
                let metrics = reloader.metrics();
                let next = match &result {
                    Ok(fetched) => {
                        changed |= *fetched == Fetched::Updated;
                        metrics.reload.list_fetched(&list.name, Ok(()));
                        list.refresh
                    }
                    Err(e) => {
                        tracing::warn!(list = %list.name, url = ?list.url, error = %e, "list download failed or refused; keeping the cached copy");
                        metrics.reload.list_fetched(&list.name, Err(e.clone()));
                        RETRY_FAILED.min(list.refresh)
                    }
                };
                due.insert(list.name.clone(), now + next.max(TICK));
            }
            if changed {
                let _ = reloader.reload().await;
            }
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                () = inbox.poked() => {}
            }
        }
    })
}

/// A URL list by HTTP, an `rpz+axfr://` feed by zone transfer.
async fn fetch(
    reloader: &Reloader,
    downloader: &Downloader,
    list: &ListConfig,
) -> Result<Fetched, String> {
    if list
        .url
        .as_deref()
        .is_some_and(|u| u.starts_with(FEED_SCHEME))
    {
        let now = crate::exchange::unix_now();
        match subscribe::fetch(list, &reloader.config().tsig_keys, now).await {
            Ok(true) => Ok(Fetched::Updated),
            Ok(false) => Ok(Fetched::NotModified),
            Err(e) => Err(e.to_string()),
        }
    } else {
        downloader.fetch(list).await.map_err(|e| e.to_string())
    }
}
