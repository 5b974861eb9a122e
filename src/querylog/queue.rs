//! The hand-off between the query path and the writer: a bounded buffer the writer takes
//! whole.
//!
//! A query holds the mutex for one push; the writer holds it for one swap of vectors, and
//! hands back its drained vector so that neither side allocates in the steady state. A query
//! that finds the mutex held sleeps on the futex instead of spinning, which matters with the
//! writer at the lowest priority (see [`crate::priority`]): a spinning sender would keep the
//! preempted holder off the CPU. (Against the channel it replaces, throughput was not
//! distinguishable in separate runs, and it did not remove the latency tail after a
//! saturating burst that the README reports.) The writer is never woken per entry: it polls,
//! taking at most once per interval, so that a busy server's rows go to the database in a
//! few large transactions rather than many small ones (each commit rewrites the pages it
//! touched). The trends' recorder hands its events over the same way.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Entries waiting for the writer, at most `capacity` of them.
pub(crate) struct Queue<T> {
    pending: Mutex<Pending<T>>,
    /// Wakes the writer when the log closes (never per entry: the writer polls).
    closed: Condvar,
    capacity: usize,
    /// Whether the buffer was full at the last push, readable without the mutex.
    full: AtomicBool,
}

struct Pending<T> {
    entries: Vec<T>,
    closed: bool,
    /// When the writer last took the entries.
    taken: Instant,
}

impl<T> Queue<T> {
    pub(crate) fn new(capacity: usize) -> Queue<T> {
        Queue {
            pending: Mutex::new(Pending {
                entries: Vec::new(),
                closed: false,
                taken: Instant::now(),
            }),
            closed: Condvar::new(),
            capacity: capacity.max(1),
            full: AtomicBool::new(false),
        }
    }

    /// Adds `entry`; false (and the entry dropped) when `capacity` entries wait already.
    pub(crate) fn push(&self, entry: T) -> bool {
        let mut p = self.pending.lock().expect("not poisoned");
        if p.entries.len() >= self.capacity {
            return false;
        }
        p.entries.push(entry);
        self.full
            .store(p.entries.len() >= self.capacity, Ordering::Relaxed);
        true
    }

    /// Whether a push would likely find room: a hint read without the mutex, so that a
    /// sender can skip building an entry that would be dropped.
    pub(crate) fn has_room(&self) -> bool {
        !self.full.load(Ordering::Relaxed)
    }

    /// No more entries will come: the writer writes what waits and stops.
    pub(crate) fn close(&self) {
        self.pending.lock().expect("not poisoned").closed = true;
        self.closed.notify_all();
    }

    /// Everything waiting, swapped for `empty` (the writer's last, drained buffer, so that
    /// neither side allocates in the steady state), once `interval` has passed since the
    /// previous take or the log closed: the writer sleeps until then. The flag says whether
    /// the log is closed.
    pub(crate) fn take(&self, empty: Vec<T>, interval: Duration) -> (Vec<T>, bool) {
        let mut p = self.pending.lock().expect("not poisoned");
        let due = p.taken + interval;
        while !p.closed {
            let left = due.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            p = self.closed.wait_timeout(p, left).expect("not poisoned").0;
        }
        p.taken = Instant::now();
        let closed = p.closed;
        self.full.store(false, Ordering::Relaxed);
        (std::mem::replace(&mut p.entries, empty), closed)
    }
}
