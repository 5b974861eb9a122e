//! Schedule windows: which are active at an instant, in the profile's time zone.
//!
//! Windows are wall-clock times, so "21:00" means 21:00 local on DST days too; jiff converts
//! the instant with bundled tz data, which works on a router with no zoneinfo. A window whose
//! `to` is not after its `from` crosses midnight and belongs to the day it starts: a Friday
//! 21:00–07:00 window covers Saturday 06:00. Overlapping windows add up.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::config::ScheduleConfig;
use crate::filter::CategoryMask;

/// A compiled `[[schedule]]` window.
#[derive(Debug, Clone)]
pub struct Window {
    days: [bool; 7],
    from: u16,
    to: u16,
    pub block_all: bool,
    pub categories: CategoryMask,
}

/// What the active windows add to a profile at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effect {
    pub block_all: bool,
    pub categories: CategoryMask,
}

impl Window {
    pub fn compile(config: &ScheduleConfig, categories: CategoryMask) -> Window {
        Window {
            days: config.days,
            from: config.from,
            to: config.to,
            block_all: config.block_all,
            categories,
        }
    }

    /// Whether the window covers local weekday `day` (0 = Monday) at `minute` after midnight.
    fn covers(&self, day: usize, minute: u16) -> bool {
        let yesterday = (day + 6) % 7;
        if self.from < self.to {
            self.days[day] && (self.from..self.to).contains(&minute)
        } else {
            (self.days[day] && minute >= self.from) || (self.days[yesterday] && minute < self.to)
        }
    }
}

/// The combined effect of `windows` at `now` in `tz`.
pub fn effect(windows: &[Window], tz: &TimeZone, now: Timestamp) -> Effect {
    if windows.is_empty() {
        return Effect::default();
    }
    let local = now.to_zoned(tz.clone());
    let day = local.weekday().to_monday_zero_offset() as usize;
    let minute = (local.hour() as u16) * 60 + local.minute() as u16;
    windows
        .iter()
        .filter(|w| w.covers(day, minute))
        .fold(Effect::default(), |e, w| Effect {
            block_all: e.block_all || w.block_all,
            categories: e.categories | w.categories,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(days: &[usize], from: &str, to: &str, block_all: bool) -> Window {
        let t = |s: &str| {
            let (h, m) = s.split_once(':').unwrap();
            h.parse::<u16>().unwrap() * 60 + m.parse::<u16>().unwrap()
        };
        let mut d = [false; 7];
        for &i in days {
            d[i] = true;
        }
        Window {
            days: d,
            from: t(from),
            to: t(to),
            block_all,
            categories: if block_all { 0 } else { 0b10 },
        }
    }

    fn at(tz: &str, local: &str) -> (TimeZone, Timestamp) {
        let tz = TimeZone::get(tz).unwrap();
        let dt: jiff::civil::DateTime = local.parse().unwrap();
        let ts = dt.to_zoned(tz.clone()).unwrap().timestamp();
        (tz, ts)
    }

    #[test]
    fn bedtime_crosses_midnight_and_belongs_to_its_start_day() {
        let weekdays = [window(&[0, 1, 2, 3, 4], "21:00", "07:00", true)];
        // 2026-11-23 is a Monday.
        for (local, on) in [
            ("2026-11-23T21:30", true),
            ("2026-11-23T20:59", false),
            ("2026-11-24T06:59", true), // Tuesday morning, from Monday's window
            ("2026-11-24T07:00", false),
            ("2026-11-28T06:00", true), // Saturday morning, from Friday's window
            ("2026-11-29T06:00", false), // Sunday morning: Saturday has no window
            ("2026-11-22T23:00", false), // Sunday night
        ] {
            let (tz, now) = at("Europe/Moscow", local);
            assert_eq!(effect(&weekdays, &tz, now).block_all, on, "{local}");
        }
    }

    #[test]
    fn overlapping_windows_add_up() {
        let ws = [
            window(&[0], "08:00", "15:00", false),
            window(&[0], "14:00", "22:00", true),
        ];
        let (tz, now) = at("UTC", "2026-11-23T14:30");
        assert_eq!(
            effect(&ws, &tz, now),
            Effect {
                block_all: true,
                categories: 0b10
            }
        );
        let (tz, now) = at("UTC", "2026-11-23T09:00");
        assert_eq!(
            effect(&ws, &tz, now),
            Effect {
                block_all: false,
                categories: 0b10
            }
        );
    }

    #[test]
    fn wall_clock_holds_across_dst() {
        // Europe/Berlin leaves DST on 2026-10-25 at 03:00 local.
        let ws = [window(&[6], "01:00", "02:30", true)];
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        // 00:30 UTC is 02:30 CEST (still DST): the window has ended.
        let before: Timestamp = "2026-10-25T00:30:00Z".parse().unwrap();
        assert!(!effect(&ws, &tz, before).block_all);
        // 23:30 UTC the evening before is 01:30 CEST: inside.
        let inside: Timestamp = "2026-10-24T23:30:00Z".parse().unwrap();
        assert!(effect(&ws, &tz, inside).block_all);
        // In winter the same wall-clock window maps to other UTC instants.
        let winter: Timestamp = "2026-11-29T00:30:00Z".parse().unwrap(); // 01:30 CET Sunday
        assert!(effect(&ws, &tz, winter).block_all);
    }
}
