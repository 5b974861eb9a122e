//! The table on disk, so that a restart while the database is unreachable serves the last
//! subscribers it knew. Written whole and atomically (`atomic_file`); read back with every
//! invariant the lookup relies on checked (sorted, masked keys; known profile indexes), so a
//! damaged file is refused with a reason instead of answering wrongly.

use std::path::{Path, PathBuf};

use super::bits::Bits;
use super::family::{Family, Level, ProfileId};
use super::table::{Base, Names, Subscribers};

const MAGIC: &[u8; 8] = b"FDNSSUB1";

#[derive(Debug, thiserror::Error)]
pub enum SnapshotFileError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a subscriber snapshot: {reason}", .path.display())]
    Format { path: PathBuf, reason: &'static str },
}

/// Writes `table` to `path` (linear in the rows: call it off the async threads).
pub fn save(path: &Path, table: &Subscribers) -> Result<(), SnapshotFileError> {
    let (base, names) = table.parts();
    let mut out = Vec::with_capacity(MAGIC.len() + table.bytes() + 64);
    out.extend_from_slice(MAGIC);
    put_u32(&mut out, names.len());
    for name in names.iter() {
        // Names are at most MAX_NAME_BYTES long.
        out.push(u8::try_from(name.len()).expect("a bounded name"));
        out.extend_from_slice(name.as_bytes());
    }
    put_family(&mut out, &base.v4);
    put_family(&mut out, &base.v6);
    put_family(&mut out, &base.v6_long);
    put_family(&mut out, &base.cpe);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| io(path, source))?;
    }
    crate::atomic_file::write(path, &out).map_err(|source| io(path, source))
}

/// Reads the table written by [`save`].
pub fn load(path: &Path) -> Result<Subscribers, SnapshotFileError> {
    let bytes = std::fs::read(path).map_err(|source| io(path, source))?;
    parse(&bytes).map_err(|reason| SnapshotFileError::Format {
        path: path.to_owned(),
        reason,
    })
}

fn io(path: &Path, source: std::io::Error) -> SnapshotFileError {
    SnapshotFileError::Io {
        path: path.to_owned(),
        source,
    }
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_family<K: Bits>(out: &mut Vec<u8>, family: &Family<K>) {
    put_u32(out, family.levels.len());
    for level in &family.levels {
        out.push(level.len);
        put_u32(out, level.keys.len());
        for &k in level.keys.iter() {
            k.put(out);
        }
        for &p in level.profiles.iter() {
            out.extend_from_slice(&p.to_le_bytes());
        }
    }
}

fn parse(bytes: &[u8]) -> Result<Subscribers, &'static str> {
    let mut r = Reader(bytes);
    if r.take(MAGIC.len())? != MAGIC {
        return Err("wrong magic number");
    }
    let mut names = Names::default();
    for i in 0..r.u32()? {
        let [len] = r.array()?;
        let name = std::str::from_utf8(r.take(usize::from(len))?).map_err(|_| "bad name")?;
        let id = names.intern(name).map_err(|_| "too many names")?;
        if usize::from(id) != i {
            return Err("a name given twice");
        }
    }
    let base = Base {
        v4: r.family(&names)?,
        v6: r.family(&names)?,
        v6_long: r.family(&names)?,
        cpe: r.family(&names)?,
    };
    if !r.0.is_empty() {
        return Err("trailing bytes");
    }
    Ok(Subscribers::new(base, names))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        if self.0.len() < n {
            return Err("cut short");
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], &'static str> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    fn u32(&mut self) -> Result<usize, &'static str> {
        Ok(u32::from_le_bytes(self.array()?) as usize)
    }

    fn family<K: Bits>(&mut self, names: &Names) -> Result<Family<K>, &'static str> {
        let mut family = Family::default();
        for _ in 0..self.u32()? {
            let [len] = self.array()?;
            let count = self.u32()?;
            let longer = family.levels.last().is_none_or(|l: &Level<K>| l.len > len);
            if len > K::WIDTH || !longer {
                return Err("bad prefix length");
            }
            let size = count.checked_mul(K::BYTES).ok_or("cut short")?;
            let keys: Box<[K]> = self.take(size)?.chunks(K::BYTES).map(K::get).collect();
            let sorted = keys.windows(2).all(|w| w[0] < w[1]);
            if !sorted || keys.iter().any(|&k| k.masked(len) != k) {
                return Err("keys out of order");
            }
            let profiles: Box<[ProfileId]> = self
                .take(count.checked_mul(2).ok_or("cut short")?)?
                .chunks(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            if profiles.iter().any(|&p| usize::from(p) >= names.len()) {
                return Err("unknown profile index");
            }
            family.lengths.insert(len);
            family.levels.push(Level::new(len, keys, profiles));
        }
        Ok(family)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::table::{Key, Loader};

    #[test]
    fn round_trips_and_refuses_damage() {
        let mut l = Loader::default();
        l.add(Key::Prefix("10.1.0.0/16".parse().unwrap()), "kids")
            .unwrap();
        l.add(Key::Prefix("2001:db8::/56".parse().unwrap()), "teen")
            .unwrap();
        l.add(Key::Prefix("2001:db8::1/128".parse().unwrap()), "kids")
            .unwrap();
        l.add(Key::Cpe([2, 0, 0, 0, 0, 9]), "teen").unwrap();
        let mut t = l.finish();
        t.set(Key::Prefix("10.1.2.0/24".parse().unwrap()), Some("family"))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/subscribers.snap");
        save(&path, &t).unwrap();
        let back = load(&path).unwrap();
        assert_eq!(back.len(), 5);
        let at = |ip: &str| back.profile(ip.parse().unwrap(), None);
        assert_eq!(at("10.1.2.3"), Some("family"));
        assert_eq!(at("10.1.3.3"), Some("kids"));
        assert_eq!(at("2001:db8::1"), Some("kids"));
        assert_eq!(at("2001:db8::2"), Some("teen"));

        let bytes = std::fs::read(&path).unwrap();
        for cut in [4, 20, bytes.len() - 1] {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let e = load(&path).unwrap_err().to_string();
            assert!(
                e.contains("subscribers.snap: not a subscriber snapshot"),
                "{e}"
            );
        }
    }
}
