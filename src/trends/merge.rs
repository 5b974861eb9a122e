//! `familydns trends merge`: many instances' reports summed into one.
//!
//! Instances count disjoint sets of devices, so a day's merged cells cost each device only
//! its own instance's ε (parallel composition): the merged ε of a day is the largest of the
//! instances'. A suppressed cell adds nothing to the sum and is counted in `suppressed`, so
//! the reader knows the sum is a lower bound there.

use std::collections::BTreeMap;

use super::export::{Cell, Report};

/// Why reports cannot be merged.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    #[error("no report to merge")]
    Empty,
    #[error("instance `{0}` is in more than one report: its devices would count twice")]
    Duplicate(String),
    #[error("exact (--local) and noisy reports cannot be merged: exact counts are not for sharing")]
    Mixed,
}

/// The sum of `reports`.
pub fn merge(reports: &[Report]) -> Result<Report, MergeError> {
    let first = reports.first().ok_or(MergeError::Empty)?;
    let noisy = first.epsilon_per_day.is_some();
    let mut instances: Vec<String> = Vec::new();
    let mut cells: BTreeMap<(jiff::civil::Date, String, String), Cell> = BTreeMap::new();
    for report in reports {
        if report.epsilon_per_day.is_some() != noisy {
            return Err(MergeError::Mixed);
        }
        for instance in &report.instances {
            if instances.contains(instance) {
                return Err(MergeError::Duplicate(instance.clone()));
            }
            instances.push(instance.clone());
        }
        for c in &report.cells {
            let key = (c.day, c.kind.clone(), c.category.clone());
            let merged = cells.entry(key).or_insert_with(|| Cell {
                devices: None,
                suppressed: 0,
                epsilon: None,
                ..c.clone()
            });
            merged.devices = match (merged.devices, c.devices) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
            merged.suppressed += c.suppressed;
            merged.epsilon = match (merged.epsilon, c.epsilon) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
    }
    Ok(Report {
        instances,
        unit: first.unit.clone(),
        threshold: reports.iter().map(|r| r.threshold).max().unwrap_or(0),
        noise: first.noise.clone(),
        epsilon_per_day: reports
            .iter()
            .filter_map(|r| r.epsilon_per_day)
            .reduce(f64::max),
        cells: cells.into_values().collect(),
    })
}
