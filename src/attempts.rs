//! A count of attempts per key (a login's source address, an asking device, a complaint's
//! filer) in fixed
//! windows, in a table of bounded size: past `max_keys`, newcomers share one count, so a
//! flood of new keys cannot grow the table and still gets only one allowance between them.
//! Time is the server's clock, so tests can move it.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// Attempts counted in one window.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Timestamp,
    attempts: u32,
}

impl Window {
    fn ended(&self, now: Timestamp, length: SignedDuration) -> bool {
        now.duration_since(self.start) >= length
    }

    /// Counts an attempt at `now`; false when the window already holds `max`.
    fn take(&mut self, now: Timestamp, length: SignedDuration, max: u32) -> bool {
        if self.ended(now, length) {
            *self = Window {
                start: now,
                attempts: 0,
            };
        }
        self.attempts += 1;
        self.attempts <= max
    }
}

/// Attempts per key per window.
pub struct Attempts<K> {
    by_key: HashMap<K, Window>,
    /// Shared by the keys that found the table full.
    overflow: Window,
    length: SignedDuration,
    max_keys: usize,
}

impl<K: Hash + Eq> Attempts<K> {
    pub fn new(window: Duration, max_keys: usize) -> Self {
        Attempts {
            by_key: HashMap::new(),
            overflow: Window {
                start: Timestamp::UNIX_EPOCH,
                attempts: 0,
            },
            length: SignedDuration::try_from(window).unwrap_or(SignedDuration::MAX),
            max_keys,
        }
    }

    /// Counts an attempt of `key` at `now`; false when it is over `max` in its window.
    pub fn attempt(&mut self, key: K, max: u32, now: Timestamp) -> bool {
        let length = self.length;
        if !self.by_key.contains_key(&key) && self.by_key.len() >= self.max_keys {
            self.by_key.retain(|_, w| !w.ended(now, length));
        }
        if let Some(w) = self.by_key.get_mut(&key) {
            return w.take(now, length, max);
        }
        if self.by_key.len() >= self.max_keys {
            return self.overflow.take(now, length, max);
        }
        let mut w = Window {
            start: now,
            attempts: 0,
        };
        let ok = w.take(now, length, max);
        self.by_key.insert(key, w);
        ok
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn five_attempts_a_minute_per_key() {
        let mut l = Attempts::new(MINUTE, 16);
        let a: IpAddr = "192.168.1.20".parse().unwrap();
        let b: IpAddr = "192.168.1.21".parse().unwrap();
        for _ in 0..5 {
            assert!(l.attempt(a, 5, at(0)));
        }
        assert!(!l.attempt(a, 5, at(59)), "the sixth in the minute");
        assert!(l.attempt(b, 5, at(59)), "another key has its own count");
        assert!(l.attempt(a, 5, at(60)), "a new minute");
    }

    #[test]
    fn a_flood_of_new_keys_cannot_grow_the_table() {
        let max_keys = 256;
        let mut l = Attempts::new(MINUTE, max_keys);
        for i in 0..max_keys as u32 {
            assert!(l.attempt(i, 5, at(0)));
        }
        assert_eq!(l.by_key.len(), max_keys);
        // Newcomers share one count of five.
        let allowed = (1_000..1_010u32)
            .filter(|k| l.attempt(*k, 5, at(1)))
            .count();
        assert_eq!(allowed, 5);
        assert_eq!(l.by_key.len(), max_keys);
        // Once the table's windows have ended, a newcomer gets a place of its own.
        assert!(l.attempt(1_000, 5, at(61)));
        assert_eq!(l.by_key.len(), 1);
    }
}
