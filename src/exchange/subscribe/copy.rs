//! The cached copy of a feed: the zone as RPZ text, owners relative to the zone, after a
//! first line naming the zone and serial, and how an AXFR or IXFR answer turns into it.

use std::collections::BTreeSet;
use std::path::Path;

use hickory_proto::rr::{Name, RData, Record};

use super::TransferError;
use crate::atomic_file;

/// The serial of a SOA record; `None` for any other record.
pub(super) fn soa_serial(record: &Record) -> Option<u32> {
    match &record.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    }
}

/// A feed's records as the cache keeps them: `owner CNAME target`, owner relative.
pub(super) struct Copy {
    pub(super) serial: u32,
    lines: BTreeSet<String>,
}

/// Labels of RPZ triggers that are not query names (RFC draft: IP, NSDNAME, NSIP, client IP).
const NOT_QNAME_TRIGGERS: [&str; 4] = ["rpz-ip", "rpz-nsdname", "rpz-nsip", "rpz-client-ip"];

/// The cache line of a record of `zone`: its QNAME-trigger CNAMEs under the apex. Which of
/// them block (`CNAME .`) is the list parser's call.
fn line(record: &Record, zone: &Name) -> Option<String> {
    let RData::CNAME(target) = &record.data else {
        return None;
    };
    let owner = record.name.to_lowercase().to_ascii();
    let relative = owner.strip_suffix(&format!(".{}", zone.to_ascii()))?;
    if relative
        .split('.')
        .any(|label| NOT_QNAME_TRIGGERS.contains(&label))
    {
        return None;
    }
    Some(format!(
        "{relative} CNAME {}",
        target.0.to_lowercase().to_ascii()
    ))
}

impl Copy {
    fn header(zone: &Name) -> String {
        format!("; rpz {} serial ", zone.to_ascii())
    }

    /// The cached copy of `zone`, when there is one.
    pub(super) fn read(path: &Path, zone: &Name) -> Option<Copy> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut lines = text.lines();
        let serial = lines
            .next()?
            .strip_prefix(&Copy::header(zone))?
            .parse()
            .ok()?;
        Some(Copy {
            serial,
            lines: lines.map(str::to_owned).collect(),
        })
    }

    pub(super) fn write(&self, path: &Path, zone: &Name) -> std::io::Result<()> {
        let mut text = format!("{}{}\n", Copy::header(zone), self.serial);
        for line in &self.lines {
            text.push_str(line);
            text.push('\n');
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        atomic_file::write(path, text.as_bytes())
    }

    /// An AXFR-form answer (also what an IXFR gets when the journal is too short).
    pub(super) fn full(zone: &Name, records: &[Record]) -> Result<Copy, TransferError> {
        let serial = records
            .first()
            .filter(|r| &r.name.to_lowercase() == zone)
            .and_then(soa_serial)
            .ok_or_else(|| TransferError::NotZone(zone.clone()))?;
        let lines = records[1..].iter().filter_map(|r| line(r, zone)).collect();
        Ok(Copy { serial, lines })
    }

    /// This copy after an IXFR answer: the SOA alone (current), diffs, or the whole zone.
    pub(super) fn apply(&self, zone: &Name, records: &[Record]) -> Result<Copy, TransferError> {
        let serial = records
            .first()
            .and_then(soa_serial)
            .ok_or_else(|| TransferError::NotZone(zone.clone()))?;
        if records.len() == 1 {
            return Ok(Copy {
                serial: self.serial,
                lines: self.lines.clone(),
            });
        }
        if soa_serial(&records[1]).is_none() {
            return Copy::full(zone, records);
        }
        let mut lines = self.lines.clone();
        let mut current = self.serial;
        let mut rest = &records[1..records.len() - 1];
        // Each diff: old SOA, deletions, new SOA, additions.
        while let Some((from, tail)) = rest.split_first() {
            if soa_serial(from) != Some(current) {
                return Err(TransferError::Mismatch(self.serial));
            }
            let split = tail
                .iter()
                .position(|r| soa_serial(r).is_some())
                .unwrap_or(tail.len());
            for r in &tail[..split] {
                if let Some(l) = line(r, zone) {
                    lines.remove(&l);
                }
            }
            let Some((to, tail)) = tail[split..].split_first() else {
                return Err(TransferError::NotZone(zone.clone()));
            };
            current = soa_serial(to).unwrap_or(current);
            let split = tail
                .iter()
                .position(|r| soa_serial(r).is_some())
                .unwrap_or(tail.len());
            lines.extend(tail[..split].iter().filter_map(|r| line(r, zone)));
            rest = &tail[split..];
        }
        Ok(Copy { serial, lines })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::exchange::fqdn;

    #[test]
    fn only_qname_triggers_are_kept() {
        let zone = fqdn("rpz.example").unwrap();
        let cname = |owner: &str, target: &str| {
            let rdata = RData::CNAME(hickory_proto::rr::rdata::CNAME(
                Name::from_ascii(target).unwrap(),
            ));
            Record::from_rdata(Name::from_ascii(owner).unwrap(), 60, rdata)
        };
        assert_eq!(
            line(&cname("Bad.Example.rpz.example.", "."), &zone).as_deref(),
            Some("bad.example CNAME .")
        );
        assert_eq!(
            line(&cname("*.bad.example.rpz.example.", "rpz-passthru."), &zone).as_deref(),
            Some("*.bad.example CNAME rpz-passthru.")
        );
        assert_eq!(
            line(&cname("32.1.2.0.192.rpz-ip.rpz.example.", "."), &zone),
            None
        );
        assert_eq!(
            line(&cname("ns.evil.rpz-nsdname.rpz.example.", "."), &zone),
            None
        );
        assert_eq!(
            line(&cname("bad.example.other.example.", "."), &zone),
            None,
            "outside the zone"
        );
    }
}
