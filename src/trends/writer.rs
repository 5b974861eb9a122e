//! The trends' writer thread: counts the recorder's events into the open days, and closes
//! each day once the clock has left it.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

use super::store::{self, OpenDay};
use super::{Clock, Event, TrendsError, day_of};
use crate::config::TrendsConfig;
use crate::querylog::queue::Queue;

/// The writer takes what waits at most this often; a day closes at most this late (plus a
/// batch's writing) after the clock leaves it.
const TAKE_EVERY: Duration = Duration::from_millis(100);

/// What the writer needs besides the connection.
pub(super) struct Writer {
    pub config: TrendsConfig,
    /// The cells' categories (every list category at start).
    pub categories: Vec<String>,
    pub clock: Clock,
}

impl Writer {
    /// Runs until the queue is closed, then writes what it held and returns.
    pub fn run(self, mut conn: Connection, queue: &Queue<Event>) -> Result<(), TrendsError> {
        let mut open: HashMap<i64, OpenDay> = HashMap::new();
        let mut spare = Vec::new();
        let mut left_out_day = None;
        // Days before this are closed: a late event for one of them (taken after its day
        // closed) is dropped rather than reopening the day and spending its budget again.
        let mut closed_before = i64::MIN;
        loop {
            let today = day_of((self.clock)());
            // Today is open even when nothing is counted, so that a day with no blocked
            // lookup still closes into cells (of zeros and noise) like any other.
            open_day(&mut open, &conn, today)?;
            let (mut taken, closed) = queue.take(spare, TAKE_EVERY);
            let tx = conn.transaction()?;
            for event in &taken {
                let day = day_of(event.at);
                if day < closed_before {
                    continue;
                }
                let limit = (day, self.config.max_devices_per_day);
                if !open_day(&mut open, &tx, day)?.count(
                    &tx,
                    limit,
                    &event.device,
                    event.kind,
                    &event.category,
                )? && left_out_day != Some(day)
                {
                    left_out_day = Some(day);
                    tracing::warn!(
                        max = self.config.max_devices_per_day,
                        "trends: trends.max_devices_per_day reached, later devices of the day are not counted"
                    );
                }
            }
            tx.commit()?;
            if closed {
                // Stopped: the days are left open for the next writer (after a restart) to
                // count on and close.
                return Ok(());
            }
            for day in store::open_before(&conn, today)? {
                store::close(
                    &mut conn,
                    day,
                    &self.categories,
                    self.config.epsilon_per_day,
                )?;
                open.remove(&day);
            }
            if closed_before < today {
                store::purge(&conn, today - i64::from(self.config.keep_days))?;
            }
            closed_before = today;
            taken.clear();
            spare = taken;
        }
    }
}

/// The open `day`, loaded (or created) on first use.
fn open_day<'a>(
    open: &'a mut HashMap<i64, OpenDay>,
    conn: &Connection,
    day: i64,
) -> Result<&'a mut OpenDay, TrendsError> {
    Ok(match open.entry(day) {
        Entry::Occupied(e) => e.into_mut(),
        Entry::Vacant(e) => e.insert(OpenDay::load(conn, day)?),
    })
}

/// Starts the writer on its own thread at the lowest priority.
pub(super) fn start(
    writer: Writer,
    conn: Connection,
    queue: Arc<Queue<Event>>,
) -> Result<(), TrendsError> {
    std::thread::Builder::new()
        .name("trends".into())
        .spawn(move || {
            crate::priority::lowest_for_this_thread();
            if let Err(e) = writer.run(conn, &queue) {
                tracing::error!(error = %e, "trends writer stopped");
            }
        })
        .map_err(TrendsError::Thread)?;
    Ok(())
}
