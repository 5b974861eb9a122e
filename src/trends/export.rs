//! The report: what an export says, as JSON or CSV, and reading one back for `merge`.
//!
//! A cell under the threshold has no count at all (`devices` is null, `suppressed` counts
//! it), so that a reader cannot mistake "fewer than k" for "none". In the shared view the
//! threshold applies to the noisy count: thresholding the exact count first would make
//! whether a cell is shown depend on one device without noise, which no ε covers; applied
//! after the noise it is post-processing and costs no budget.

use serde::{Deserialize, Serialize};

use super::date_of;
use super::store::StoredCell;
use crate::config::TrendsConfig;

/// Which counts a report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Exact counts, for this instance's operator only.
    Local,
    /// Noisy counts, for sharing across parties.
    Shared,
}

/// What a count is of, stated in every report.
pub const UNIT: &str = "distinct devices with a lookup blocked in the category that UTC day; a device counts once per cell and under one profile kind a day";

/// An export or a merge of exports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The instances summed (one for an export).
    pub instances: Vec<String>,
    pub unit: String,
    /// Cells under this many devices are suppressed.
    pub threshold: u64,
    /// How the counts were protected.
    pub noise: String,
    /// The largest ε any day of the report spent (null for exact counts); each cell states
    /// its day's ε.
    pub epsilon_per_day: Option<f64>,
    pub cells: Vec<Cell>,
}

/// One day, kind and category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub day: jiff::civil::Date,
    pub kind: String,
    pub category: String,
    /// The count (summed over the instances that showed it); null when suppressed everywhere.
    pub devices: Option<i64>,
    /// How many instances suppressed this cell (their counts are not in `devices`).
    pub suppressed: u32,
    /// The privacy budget the day's cells spent together, per instance (parallel
    /// composition: instances count disjoint devices); null for exact counts.
    pub epsilon: Option<f64>,
}

const LOCAL_NOISE: &str = "none: exact counts of this instance, not for sharing";
const SHARED_NOISE: &str = "discrete Laplace (OpenDP make_laplace) on every cell, scale = categories / epsilon_per_day; cells whose noisy count is under the threshold suppressed";

impl Report {
    /// The report of `view` over stored cells.
    pub(super) fn of(config: &TrendsConfig, view: View, stored: &[StoredCell]) -> Report {
        let cells = stored
            .iter()
            .map(|s| {
                let (count, epsilon) = match view {
                    View::Local => (s.exact, None),
                    View::Shared => (s.noisy, Some(s.epsilon)),
                };
                let shown = u64::try_from(count).is_ok_and(|c| c >= config.threshold);
                Cell {
                    day: date_of(s.day),
                    kind: s.kind.clone(),
                    category: s.category.clone(),
                    devices: shown.then_some(count),
                    suppressed: u32::from(!shown),
                    epsilon,
                }
            })
            .collect();
        Report {
            instances: vec![config.instance.clone()],
            unit: UNIT.to_owned(),
            threshold: config.threshold,
            noise: match view {
                View::Local => LOCAL_NOISE,
                View::Shared => SHARED_NOISE,
            }
            .to_owned(),
            epsilon_per_day: match view {
                View::Local => None,
                View::Shared => stored.iter().map(|s| s.epsilon).reduce(f64::max),
            },
            cells,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serialises")
    }

    /// CSV: `# key: value` lines for the report's fields, then one row per cell (a category
    /// holding a comma or a quote is quoted as RFC 4180 says; instance names cannot).
    pub fn to_csv(&self) -> String {
        let mut out = format!(
            "# instances: {}\n# unit: {}\n# threshold: {}\n# noise: {}\n# epsilon_per_day: {}\nday,kind,category,devices,suppressed,epsilon\n",
            self.instances.join(" "),
            self.unit,
            self.threshold,
            self.noise,
            optional(self.epsilon_per_day),
        );
        for c in &self.cells {
            out += &format!(
                "{},{},{},{},{},{}\n",
                c.day,
                c.kind,
                quoted(&c.category),
                optional(c.devices),
                c.suppressed,
                optional(c.epsilon)
            );
        }
        out
    }

    /// Reads a report written by [`to_json`](Self::to_json) or [`to_csv`](Self::to_csv);
    /// the error names the line.
    pub fn parse(text: &str) -> Result<Report, String> {
        if text.trim_start().starts_with('{') {
            return serde_json::from_str(text).map_err(|e| format!("line {}: {e}", e.line()));
        }
        parse_csv(text)
    }
}

fn optional<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

fn parse_csv(text: &str) -> Result<Report, String> {
    let mut report = Report {
        instances: Vec::new(),
        unit: String::new(),
        threshold: 0,
        noise: String::new(),
        epsilon_per_day: None,
        cells: Vec::new(),
    };
    for (i, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", i + 1);
        if let Some(meta) = line.strip_prefix("# ") {
            let (key, value) = meta.split_once(": ").unwrap_or((meta, ""));
            match key {
                "instances" => {
                    report.instances = value.split_whitespace().map(str::to_owned).collect()
                }
                "unit" => report.unit = value.to_owned(),
                "noise" => report.noise = value.to_owned(),
                "threshold" => report.threshold = number(value).map_err(at)?,
                "epsilon_per_day" => report.epsilon_per_day = maybe(value).map_err(at)?,
                _ => return Err(at(format!("unknown field `{key}`"))),
            }
            continue;
        }
        if line.is_empty() || line.starts_with("day,") {
            continue;
        }
        let f = fields(line);
        let [day, kind, category, devices, suppressed, epsilon] =
            &f.iter().map(String::as_str).collect::<Vec<_>>()[..]
        else {
            return Err(at(format!("expected 6 fields, found {}", f.len())));
        };
        report.cells.push(Cell {
            day: day.parse().map_err(|e| at(format!("day `{day}`: {e}")))?,
            kind: (*kind).to_owned(),
            category: (*category).to_owned(),
            devices: maybe(devices).map_err(at)?,
            suppressed: number(suppressed).map_err(at)?,
            epsilon: maybe(epsilon).map_err(at)?,
        });
    }
    if report.instances.is_empty() {
        return Err("no `# instances:` line".to_owned());
    }
    Ok(report)
}

fn quoted(field: &str) -> String {
    if field.contains([',', '"', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// The fields of a CSV line, quotes undone.
fn fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().expect("never empty").push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (ch, _) => fields.last_mut().expect("never empty").push(ch),
        }
    }
    fields
}

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("`{s}` is not a number"))
}

fn maybe<T: std::str::FromStr>(s: &str) -> Result<Option<T>, String> {
    if s.is_empty() {
        Ok(None)
    } else {
        number(s).map(Some)
    }
}
