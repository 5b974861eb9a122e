//! Background threads that must never take CPU from answering.
//!
//! On a router, or a server pinned to one core, the query log's writer competes with the
//! threads that answer: at 100k queries a second SQLite's ~3 µs a row would take a third of
//! the core. Lowered to the lowest priority, the writer gets the CPU that answering leaves
//! idle, which on any real network is nearly all of it; only when answering saturates the
//! core does the log's queue fill, and then rows are dropped and counted
//! (`familydns_querylog_dropped_total`), as the log promises, instead of answers slowed.
//!
//! The lowest priority is Linux's `SCHED_IDLE` policy, not only nice 19: the scheduler (EEVDF,
//! with its run-to-parity rule) lets a running nice-19 thread finish its time slice before a
//! woken query worker gets the core, so every query that arrived while the writer committed
//! waited up to a slice; p99 at 2,000 queries a second doubled with the log on. A `SCHED_IDLE`
//! thread is preempted the moment a normal one wakes.

/// Lowers the calling thread (only it, not the process) to `SCHED_IDLE` and nice 19. Best
/// effort: where the platform has neither, the thread keeps the default priority.
pub fn lowest_for_this_thread() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions; setpriority with PRIO_PROCESS and
        // sched_setscheduler change only the given thread on Linux, and `param` is a valid
        // sched_param (priority 0, the only one SCHED_IDLE takes).
        let (niced, idle) = unsafe {
            let tid = libc::gettid();
            let param = libc::sched_param { sched_priority: 0 };
            (
                libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19),
                libc::sched_setscheduler(tid, libc::SCHED_IDLE, &param),
            )
        };
        if niced != 0 || idle != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "cannot lower a thread's priority");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The calling thread's nice value and scheduling policy.
    fn own_priority() -> (i32, i32) {
        // SAFETY: reading this thread's own nice value and scheduling policy.
        unsafe {
            let tid = libc::gettid();
            (
                libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t),
                libc::sched_getscheduler(tid),
            )
        }
    }

    #[test]
    fn the_thread_gets_sched_idle_and_nice_19_and_the_others_keep_theirs() {
        let before = own_priority();
        let inside = std::thread::spawn(|| {
            super::lowest_for_this_thread();
            own_priority()
        })
        .join()
        .unwrap();
        assert_eq!(inside, (19, libc::SCHED_IDLE));
        assert_eq!(
            own_priority(),
            before,
            "only the writer's thread was lowered"
        );
    }
}
