//! Background threads that must never take CPU from answering.
//!
//! On a router, or a server pinned to one core, the query log's writer competes with the
//! threads that answer: at 100k queries a second SQLite's ~3 µs a row would take a third of
//! the core. Lowered to the lowest priority (nice 19), the writer gets the CPU that answering
//! leaves idle, which on any real network is nearly all of it; only when answering saturates
//! the core does the log's queue fill, and then rows are dropped and counted
//! (`familydns_querylog_dropped_total`), as the log promises, instead of answers slowed.

/// Lowers the calling thread (only it, not the process) to nice 19. Best effort: where the
/// platform has no per-thread priority the thread keeps the default one.
pub fn lowest_for_this_thread() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions; setpriority with PRIO_PROCESS and a thread id
        // changes only that thread's nice value on Linux.
        let result = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19)
        };
        if result != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "cannot lower a thread's priority");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn the_thread_gets_nice_19_and_the_others_keep_theirs() {
        // SAFETY: reading this thread's own nice value.
        let before = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        let inside = std::thread::spawn(|| {
            super::lowest_for_this_thread();
            // SAFETY: reading this thread's own nice value.
            unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
        })
        .join()
        .unwrap();
        assert_eq!(inside, 19);
        // SAFETY: reading this thread's own nice value.
        let after = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        assert_eq!(after, before, "only the writer's thread was lowered");
    }
}
