//! Re-fetching URL lists every `refresh`, and reloading when one changed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Reloader;
use crate::download::{Downloader, Fetched};

/// How often the schedule is looked at.
const TICK: Duration = Duration::from_secs(1);
/// After a failed download, try again this soon rather than a whole `refresh` later.
const RETRY_FAILED: Duration = Duration::from_secs(60);

/// Fetches each downloaded list when due (all of them at start), then reloads once if any
/// changed. Failures keep the cached copy and are counted per list.
pub fn refresh_lists(
    reloader: Arc<Reloader>,
    downloader: Downloader,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut due: HashMap<String, Instant> = HashMap::new();
        loop {
            let now = Instant::now();
            let mut changed = false;
            for list in reloader.downloaded() {
                if due.get(&list.name).is_some_and(|t| now < *t) {
                    continue;
                }
                let result = downloader.fetch(&list).await;
                let metrics = reloader.metrics();
                let next = match &result {
                    Ok(fetched) => {
                        changed |= *fetched == Fetched::Updated;
                        metrics.list_fetched(&list.name, Ok(()));
                        list.refresh
                    }
                    Err(e) => {
                        tracing::warn!(list = %list.name, url = ?list.url, error = %e, "list download failed or refused; keeping the cached copy");
                        metrics.list_fetched(&list.name, Err(e.to_string()));
                        RETRY_FAILED.min(list.refresh)
                    }
                };
                due.insert(list.name.clone(), now + next.max(TICK));
            }
            if changed {
                let _ = reloader.reload().await;
            }
            tokio::time::sleep(TICK).await;
        }
    })
}
