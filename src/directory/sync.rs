//! Following PostgreSQL: connect, LISTEN, load every row, then apply notified changes, until
//! the connection fails; then retry with exponential backoff and load everything again
//! (changes made meanwhile were never notified to us). The table in use is replaced only by
//! a complete load or a batch of changes, so a failure at any point leaves the last table
//! answering.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use jiff::Timestamp;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::{AsyncMessage, Client, Connection, NoTls};

use super::change::{CHANNEL, COPY_ROWS, Change, parse_change, parse_row};
use super::table::{Loader, Subscribers};
use super::{Directory, Known, snapfile};
use crate::config::DirectoryConfig;

/// First wait before reconnecting; doubled after each failure up to `reconnect_max`.
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// Notifications waiting to be applied at most. Past it they are dropped and a full load
/// follows, so a burst (a bulk UPDATE) costs one reload, not unbounded memory.
const QUEUE: usize = 65_536;
/// Changes applied in one swap of the table.
const BATCH: usize = 4096;
/// Least time between two writes of the snapshot file: under a stream of changes it is
/// rewritten at this pace, not once per change.
const SAVE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("{0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("connection closed")]
    Closed,
    #[error("{0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The task that keeps the directory's table in step with the database.
pub(super) struct Follower {
    pub dir: Arc<Directory>,
    pub config: DirectoryConfig,
    pub known: Known,
    /// Each new table, for [`save`].
    pub saver: watch::Sender<Option<Arc<Subscribers>>>,
    /// Sent once the first attempt has loaded or failed.
    pub first: Option<oneshot::Sender<()>>,
}

impl Follower {
    /// Runs until the task is aborted.
    pub async fn run(mut self) {
        let mut delay = FIRST_RETRY;
        loop {
            let mut loaded = false;
            let e = self.session(&mut loaded).await;
            tracing::warn!(error = %e, "subscriber directory: PostgreSQL unreachable, serving the last table");
            self.dir.status.down(e.to_string(), Timestamp::now());
            self.first_done();
            if loaded {
                delay = FIRST_RETRY;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.config.reconnect_max);
            self.dir.status.reconnects.inc();
        }
    }

    fn first_done(&mut self) {
        if let Some(first) = self.first.take() {
            let _ = first.send(());
        }
    }

    /// One connection: returns why it ended.
    async fn session(&mut self, loaded: &mut bool) -> SyncError {
        let (client, connection) = match self.config.postgres.connect(NoTls).await {
            Ok(c) => c,
            Err(e) => return e.into(),
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        let overflow = Arc::new(AtomicBool::new(false));
        let driver = tokio::spawn(drive(connection, tx, overflow.clone()));
        let Err(e) = self.follow(&client, rx, &overflow, loaded).await;
        driver.abort();
        // The connection's own error says more than the client's "connection closed".
        match (e, driver.await) {
            (SyncError::Closed, Ok(inner)) => inner,
            (e, _) => e,
        }
    }

    /// LISTEN, load, apply changes; again from the load when a change asks for it.
    async fn follow(
        &mut self,
        client: &Client,
        mut rx: mpsc::Receiver<String>,
        overflow: &AtomicBool,
        loaded: &mut bool,
    ) -> Result<Infallible, SyncError> {
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        loop {
            let table = Arc::new(load(client, &self.dir, &self.known).await?);
            self.publish(table.clone());
            self.dir.status.loaded(Timestamp::now());
            tracing::info!(rows = table.len(), "subscribers loaded from PostgreSQL");
            *loaded = true;
            self.first_done();
            // Changes until one asks for a full load, or too many were dropped.
            loop {
                let Some(payload) = rx.recv().await else {
                    return Err(SyncError::Closed);
                };
                let mut batch = vec![payload];
                while batch.len() < BATCH
                    && let Ok(p) = rx.try_recv()
                {
                    batch.push(p);
                }
                let (next, reload) =
                    apply(&self.dir.table(), &batch, &self.known, &self.dir).await?;
                self.publish(Arc::new(next));
                if reload || overflow.swap(false, Ordering::Relaxed) {
                    break;
                }
            }
        }
    }

    fn publish(&self, table: Arc<Subscribers>) {
        self.dir.replace(table.clone());
        self.saver.send_replace(Some(table));
    }
}

/// Polls the connection, passing notifications on; returns when it ends.
async fn drive<S, T>(
    mut connection: Connection<S, T>,
    tx: mpsc::Sender<String>,
    overflow: Arc<AtomicBool>,
) -> SyncError
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(AsyncMessage::Notification(n))) => {
                if tx.try_send(n.payload().to_owned()).is_err() {
                    overflow.store(true, Ordering::Relaxed);
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return e.into(),
            None => return SyncError::Closed,
        }
    }
}

/// Every row, into a new table.
async fn load(client: &Client, dir: &Directory, known: &Known) -> Result<Subscribers, SyncError> {
    let mut stream = std::pin::pin!(client.copy_out(COPY_ROWS).await?);
    let mut loader = Loader::default();
    let mut per_name: Vec<u64> = Vec::new();
    // PostgreSQL sends a row per message; a row split across two is joined all the same.
    let mut carry: Vec<u8> = Vec::new();
    while let Some(chunk) = stream.next().await {
        carry.extend_from_slice(&chunk?);
        let end = carry.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        for line in carry[..end]
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            let added = parse_row(line)
                .map_err(|e| e.to_string())
                .and_then(|(key, profile)| loader.add(key, &profile).map_err(|e| e.to_string()));
            match added {
                Ok(id) => {
                    let id = usize::from(id);
                    if per_name.len() <= id {
                        per_name.resize(id + 1, 0);
                    }
                    per_name[id] += 1;
                }
                Err(e) => bad_row(dir, &e),
            }
        }
        carry.drain(..end);
    }
    let table = tokio::task::spawn_blocking(move || loader.finish()).await?;
    for (name, rows) in table.names().iter().zip(per_name) {
        if !known(name) {
            tracing::warn!(
                profile = name,
                rows,
                "subscriber rows name a profile the config does not have: they get the default profile"
            );
            dir.status.unknown_profile.inc_by(rows);
        }
    }
    Ok(table)
}

fn bad_row(dir: &Directory, error: &str) {
    tracing::warn!(error, "subscriber row skipped");
    dir.status.bad_rows.inc();
}

/// `current` with a batch of notified changes applied, and whether one asked for a full
/// load. Merges the overlay when it is due, off the async threads.
async fn apply(
    current: &Subscribers,
    batch: &[String],
    known: &Known,
    dir: &Directory,
) -> Result<(Subscribers, bool), SyncError> {
    let mut next = current.clone();
    let mut reload = false;
    for payload in batch {
        let applied = match parse_change(payload) {
            Ok(Change::Set(key, profile)) => {
                if !known(&profile) {
                    tracing::warn!(
                        ?key,
                        profile,
                        "subscriber row names a profile the config does not have: it gets the default profile"
                    );
                    dir.status.unknown_profile.inc();
                }
                next.set(key, Some(&profile)).map_err(|e| e.to_string())
            }
            Ok(Change::Remove(key)) => next.set(key, None).map_err(|e| e.to_string()),
            Ok(Change::Reload) => {
                reload = true;
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        };
        match applied {
            Ok(()) => dir.status.applied.inc(),
            Err(e) => bad_row(dir, &e),
        }
    }
    if next.merge_due() {
        next = tokio::task::spawn_blocking(move || next.merged()).await?;
    }
    Ok((next, reload))
}

/// Writes each new table to disk, at most once per [`SAVE_EVERY`], until the sender is
/// dropped.
pub(super) async fn save(
    mut saved: watch::Receiver<Option<Arc<Subscribers>>>,
    path: std::path::PathBuf,
) {
    while saved.changed().await.is_ok() {
        let Some(table) = saved.borrow_and_update().clone() else {
            continue;
        };
        let path = path.clone();
        match tokio::task::spawn_blocking(move || snapfile::save(&path, &table)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "subscriber snapshot not written"),
            Err(e) => tracing::warn!(error = %e, "subscriber snapshot not written"),
        }
        tokio::time::sleep(SAVE_EVERY).await;
    }
}
