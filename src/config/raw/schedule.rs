//! `[[schedule]]` of a profile: a weekly window (bedtime, school hours) with what it blocks.

use serde::Deserialize;
use toml::Spanned;

use super::Check;
use crate::config::ScheduleConfig;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    days: Vec<Spanned<String>>,
    from: Spanned<String>,
    to: Spanned<String>,
    #[serde(default)]
    block_all: bool,
    #[serde(default)]
    pub(super) block: Vec<Spanned<String>>,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// One window; `None` when any part of it is wrong (each problem is reported).
pub(super) fn schedule(c: &mut Check<'_>, s: &RawSchedule) -> Option<ScheduleConfig> {
    let mut days = [false; 7];
    let mut ok = true;
    for d in &s.days {
        match DAYS
            .iter()
            .position(|x| x.eq_ignore_ascii_case(d.get_ref()))
        {
            Some(i) => days[i] = true,
            None => {
                c.err(
                    d,
                    Some("days"),
                    format!(
                        "`{}` is not a day (expected mon, tue, wed, thu, fri, sat or sun)",
                        d.get_ref()
                    ),
                );
                ok = false;
            }
        }
    }
    let from = time_of_day(c, &s.from, "from");
    let to = time_of_day(c, &s.to, "to");
    if !s.block_all && s.block.is_empty() {
        c.err(
            &s.from,
            None,
            "a schedule needs `block_all = true` or `block = [categories]`",
        );
        ok = false;
    }
    Some(ScheduleConfig {
        days,
        from: from?,
        to: to?,
        block_all: s.block_all,
        block: s.block.iter().map(|b| b.get_ref().clone()).collect(),
    })
    .filter(|_| ok)
}

/// `HH:MM` as minutes after midnight.
fn time_of_day(c: &mut Check<'_>, v: &Spanned<String>, key: &str) -> Option<u16> {
    let parsed = v.get_ref().split_once(':').and_then(|(h, m)| {
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60 && m.to_string().len() <= 2).then_some(h * 60 + m)
    });
    if parsed.is_none() {
        c.err(
            v,
            Some(key),
            format!(
                "`{}` is not a time of day (expected HH:MM, e.g. \"21:30\")",
                v.get_ref()
            ),
        );
    }
    parsed
}
