//! The published RPZ zones, pure: one zone per category with its serial, its names and a
//! bounded journal of diffs, and the records an AXFR or IXFR of it sends (RFC 5936, RFC
//! 1995). No I/O and no clock: the caller passes the time a new serial may not fall below.
//!
//! A name `x.example` is published as `x.example.<zone> CNAME .` and `*.x.example.<zone>
//! CNAME .` (NXDOMAIN for the name and every subdomain), the way our lists block a name and
//! its subdomains. A zone holds names only: nothing about who complained or who asked.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use hickory_proto::rr::rdata::{CNAME, NS, SOA};
use hickory_proto::rr::{Name, RData, Record};

/// TTL of the zone's records; subscribers re-check on NOTIFY and the SOA refresh anyway.
const TTL: u32 = 60;
/// SOA timers: refresh every 5 minutes should a NOTIFY be lost, retry every minute, and a
/// secondary that cannot reach us keeps the zone for a week.
const REFRESH: i32 = 300;
const RETRY: i32 = 60;
const EXPIRE: i32 = 7 * 86_400;

/// One change of a zone: the names that left and came between two serials.
#[derive(Debug, Clone)]
struct Diff {
    from: u32,
    to: u32,
    removed: Vec<String>,
    added: Vec<String>,
}

/// One category's zone.
#[derive(Debug, Clone)]
pub struct Zone {
    pub origin: Name,
    pub serial: u32,
    names: BTreeSet<String>,
    journal: VecDeque<Diff>,
}

/// What the publisher keeps of a zone across restarts.
pub type Saved = BTreeMap<String, (u32, BTreeSet<String>)>;

/// Every category's zone under one parent name.
#[derive(Debug, Clone)]
pub struct Zones {
    parent: Name,
    journal: usize,
    max_names: usize,
    zones: BTreeMap<String, Zone>,
}

/// Whether serial `a` comes after `b` (RFC 1982 arithmetic, so the serial may wrap).
fn after(a: u32, b: u32) -> bool {
    a != b && (a.wrapping_sub(b) as i32) > 0
}

impl Zones {
    /// No zones yet; `journal` diffs are kept per zone, `max_names` names at most per zone.
    pub fn new(parent: Name, journal: usize, max_names: usize) -> Zones {
        Zones {
            parent,
            journal,
            max_names,
            zones: BTreeMap::new(),
        }
    }

    /// The zones as they were saved, with empty journals (a subscriber behind gets AXFR).
    pub fn restore(&mut self, saved: Saved) {
        for (category, (serial, names)) in saved {
            if let Some(origin) = self.origin(&category) {
                let zone = Zone {
                    origin,
                    serial,
                    names,
                    journal: VecDeque::new(),
                };
                self.zones.insert(category, zone);
            }
        }
    }

    pub fn saved(&self) -> Saved {
        self.zones
            .iter()
            .map(|(c, z)| (c.clone(), (z.serial, z.names.clone())))
            .collect()
    }

    /// The name of `category`'s zone, when the category is a DNS label.
    pub fn origin(&self, category: &str) -> Option<Name> {
        let label = Name::from_ascii(category)
            .ok()
            .filter(|n| n.num_labels() == 1)?;
        label.to_lowercase().append_domain(&self.parent).ok()
    }

    /// Makes the zones hold `accepted` (a category that left keeps an empty zone, so its
    /// subscribers see the removals). Each changed zone gets a serial after its last and not
    /// before `now`, so serials never go back even if the saved state is lost. Returns the
    /// changed categories; names that make no valid owner name and categories over
    /// `max_names` are left out and reported in the second list.
    pub fn update(
        &mut self,
        accepted: &BTreeMap<String, BTreeSet<String>>,
        now: u32,
    ) -> (Vec<String>, Vec<String>) {
        let mut changed = Vec::new();
        let mut problems = Vec::new();
        let categories: BTreeSet<String> =
            accepted.keys().chain(self.zones.keys()).cloned().collect();
        let empty = BTreeSet::new();
        for category in categories {
            let Some(origin) = self.origin(&category) else {
                problems.push(format!("category `{category}` is not a DNS label"));
                continue;
            };
            let wanted = accepted.get(&category).unwrap_or(&empty);
            if wanted.len() > self.max_names {
                problems.push(format!(
                    "category `{category}` has {} names, more than max_names = {}; its zone keeps its last content",
                    wanted.len(),
                    self.max_names
                ));
                continue;
            }
            let (valid, invalid): (BTreeSet<String>, BTreeSet<String>) = wanted
                .iter()
                .cloned()
                .partition(|n| owner(n, &origin, false).is_some());
            problems.extend(
                invalid
                    .into_iter()
                    .map(|n| format!("`{n}` is not a publishable name")),
            );
            let zone = self.zones.entry(category.clone()).or_insert_with(|| Zone {
                origin,
                serial: now.wrapping_sub(1),
                names: BTreeSet::new(),
                journal: VecDeque::new(),
            });
            if zone.names == valid {
                continue;
            }
            let removed: Vec<String> = zone.names.difference(&valid).cloned().collect();
            let added: Vec<String> = valid.difference(&zone.names).cloned().collect();
            let next = zone.serial.wrapping_add(1);
            let to = if after(now, next) { now } else { next };
            zone.journal.push_back(Diff {
                from: zone.serial,
                to,
                removed,
                added,
            });
            zone.serial = to;
            zone.names = valid;
            zone.trim(self.journal, self.max_names);
            changed.push(category);
        }
        (changed, problems)
    }

    /// The zone whose origin is `qname`.
    pub fn find(&self, qname: &Name) -> Option<&Zone> {
        self.zones.values().find(|z| &z.origin == qname)
    }
}

/// `name.<origin>`, or `*.name.<origin>`, when that is a valid DNS name.
fn owner(name: &str, origin: &Name, wildcard: bool) -> Option<Name> {
    let relative = Name::from_ascii(name).ok()?;
    if relative.is_root() || name.ends_with('.') {
        return None;
    }
    let relative = if wildcard {
        relative.prepend_label("*").ok()?
    } else {
        relative
    };
    relative.to_lowercase().append_domain(origin).ok()
}

impl Zone {
    /// Drops the oldest diffs past `count` diffs or `names` names in all.
    fn trim(&mut self, count: usize, names: usize) {
        let size = |j: &VecDeque<Diff>| -> usize {
            j.iter().map(|d| d.removed.len() + d.added.len()).sum()
        };
        while self.journal.len() > count || (self.journal.len() > 1 && size(&self.journal) > names)
        {
            self.journal.pop_front();
        }
    }

    pub fn soa(&self) -> Record {
        self.soa_at(self.serial)
    }

    fn soa_at(&self, serial: u32) -> Record {
        let hostmaster = Name::from_ascii("hostmaster")
            .and_then(|h| h.append_domain(&self.origin))
            .unwrap_or_else(|_| self.origin.clone());
        let soa = SOA::new(
            Name::from_ascii("localhost.").unwrap_or_else(|_| Name::root()),
            hostmaster,
            serial,
            REFRESH,
            RETRY,
            EXPIRE,
            TTL,
        );
        Record::from_rdata(self.origin.clone(), TTL, RData::SOA(soa))
    }

    /// The two records that block `name` and its subdomains.
    fn records(&self, name: &str) -> impl Iterator<Item = Record> + '_ {
        let name = name.to_owned();
        [false, true].into_iter().filter_map(move |wildcard| {
            owner(&name, &self.origin, wildcard)
                .map(|o| Record::from_rdata(o, TTL, RData::CNAME(CNAME(Name::root()))))
        })
    }

    /// The whole zone as an AXFR sends it: SOA, NS, the names, SOA.
    pub fn axfr(&self) -> Vec<Record> {
        let mut out = vec![self.soa()];
        let ns = NS(Name::from_ascii("localhost.").unwrap_or_else(|_| Name::root()));
        out.push(Record::from_rdata(self.origin.clone(), TTL, RData::NS(ns)));
        for name in &self.names {
            out.extend(self.records(name));
        }
        out.push(self.soa());
        out
    }

    /// What an IXFR from `client` sends: the SOA alone when the client is current, the diffs
    /// since its serial when the journal still holds them (each: old SOA, deletions, new SOA,
    /// additions, between two copies of the current SOA), else the whole zone.
    pub fn ixfr(&self, client: u32) -> Vec<Record> {
        if client == self.serial || after(client, self.serial) {
            return vec![self.soa()];
        }
        let Some(start) = self.journal.iter().position(|d| d.from == client) else {
            return self.axfr();
        };
        let mut out = vec![self.soa()];
        for diff in self.journal.iter().skip(start) {
            out.push(self.soa_at(diff.from));
            out.extend(diff.removed.iter().flat_map(|n| self.records(n)));
            out.push(self.soa_at(diff.to));
            out.extend(diff.added.iter().flat_map(|n| self.records(n)));
        }
        out.push(self.soa());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(pairs: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        pairs
            .iter()
            .map(|(c, ns)| (c.to_string(), ns.iter().map(|n| n.to_string()).collect()))
            .collect()
    }

    fn zones() -> Zones {
        Zones::new(Name::from_ascii("feed.example.").unwrap(), 2, 100)
    }

    fn owners(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| format!("{} {}", r.name, r.record_type()))
            .collect()
    }

    #[test]
    fn a_change_bumps_the_serial_and_journals_the_diff() {
        let mut z = zones();
        let (changed, problems) = z.update(&accepted(&[("adult", &["a.example"])]), 1000);
        assert_eq!((changed, problems.len()), (vec!["adult".to_string()], 0));
        let zone = z
            .find(&Name::from_ascii("adult.feed.example.").unwrap())
            .unwrap();
        assert_eq!(zone.serial, 1000);
        assert_eq!(
            owners(&zone.axfr()),
            [
                "adult.feed.example. SOA",
                "adult.feed.example. NS",
                "a.example.adult.feed.example. CNAME",
                "*.a.example.adult.feed.example. CNAME",
                "adult.feed.example. SOA"
            ]
        );
        // Same set: nothing changes. A removal: the serial moves on even if the clock is behind.
        assert!(
            z.update(&accepted(&[("adult", &["a.example"])]), 5)
                .0
                .is_empty()
        );
        z.update(&accepted(&[("adult", &["b.example"])]), 5);
        let zone = z
            .find(&Name::from_ascii("adult.feed.example.").unwrap())
            .unwrap();
        assert_eq!(zone.serial, 1001);
        assert_eq!(
            owners(&zone.ixfr(1000)),
            [
                "adult.feed.example. SOA",
                "adult.feed.example. SOA",
                "a.example.adult.feed.example. CNAME",
                "*.a.example.adult.feed.example. CNAME",
                "adult.feed.example. SOA",
                "b.example.adult.feed.example. CNAME",
                "*.b.example.adult.feed.example. CNAME",
                "adult.feed.example. SOA"
            ]
        );
        assert_eq!(zone.ixfr(1001).len(), 1, "current: the SOA alone");
    }

    #[test]
    fn the_journal_is_bounded_and_older_clients_get_the_whole_zone() {
        let mut z = zones();
        for (i, name) in ["a.example", "b.example", "c.example", "d.example"]
            .iter()
            .enumerate()
        {
            z.update(&accepted(&[("adult", &[name])]), 10 + i as u32);
        }
        let zone = z
            .find(&Name::from_ascii("adult.feed.example.").unwrap())
            .unwrap();
        assert_eq!(zone.journal.len(), 2);
        assert_eq!(zone.ixfr(10), zone.axfr(), "older than the journal");
        assert_ne!(zone.ixfr(11), zone.axfr());
    }

    #[test]
    fn bad_names_and_oversized_categories_are_reported_not_published() {
        let mut z = Zones::new(Name::from_ascii("feed.example.").unwrap(), 2, 2);
        let long = "a".repeat(300);
        let (changed, problems) = z.update(
            &accepted(&[
                ("adult", &["ok.example", long.as_str()]),
                ("bad.cat", &["x.example"]),
                ("big", &["a.x", "b.x", "c.x"]),
            ]),
            1,
        );
        assert_eq!(changed, ["adult"]);
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn restored_zones_keep_their_serial() {
        let mut z = zones();
        z.update(&accepted(&[("adult", &["a.example"])]), 1000);
        let mut again = zones();
        again.restore(z.saved());
        assert!(
            again
                .update(&accepted(&[("adult", &["a.example"])]), 2000)
                .0
                .is_empty()
        );
        again.update(&accepted(&[("adult", &[])]), 3);
        assert_eq!(
            again
                .find(&Name::from_ascii("adult.feed.example.").unwrap())
                .unwrap()
                .serial,
            1001
        );
    }
}
