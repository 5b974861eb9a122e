//! File watching with notify: a change to the config, a profile or a list triggers a reload.
//!
//! Editors save in many ways (write in place; write a temp file and rename it over; delete
//! and recreate), so we watch the *directories* and match paths: a rename onto `kids.toml`
//! is an event for `kids.toml` whatever happened to the inode. Temp files (`.kids.toml.swp`,
//! `kids.toml~`, vim's `4913`) match nothing we watch and are ignored. Events are debounced:
//! a save that touches a file three times reloads once.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};

use super::Reloader;

/// Quiet time after the last change before reloading.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Watches the reloader's files until the returned task is dropped or aborted.
///
/// One watcher lives across reloads, so an edit made while a reload runs is queued and
/// triggers the next one instead of being lost; it is replaced only when the set of watched
/// files changes, and the new one starts before the old one stops.
pub fn watch(reloader: Arc<Reloader>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut current: Option<(Vec<PathBuf>, notify::RecommendedWatcher)> = None;
        loop {
            let paths = reloader.watched();
            if current
                .as_ref()
                .is_none_or(|(watched, _)| *watched != paths)
            {
                match watcher_for(&paths, tx.clone()) {
                    Ok(watcher) => current = Some((paths, watcher)),
                    Err(e) => {
                        tracing::warn!(error = %e, "file watching unavailable; reload with SIGHUP");
                        return;
                    }
                }
            }
            // Wait for a change, then for quiet.
            if rx.recv().await.is_none() {
                return;
            }
            while tokio::time::timeout(DEBOUNCE, rx.recv())
                .await
                .is_ok_and(|e| e.is_some())
            {}
            let _ = reloader.reload().await;
        }
    })
}

/// A watcher of the directories of `paths` that sends on `tx` when one of `paths` changes.
fn watcher_for(
    paths: &[PathBuf],
    tx: tokio::sync::mpsc::UnboundedSender<()>,
) -> notify::Result<notify::RecommendedWatcher> {
    let interesting = Interesting::new(paths);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && changes_content(&event.kind)
            && event.paths.iter().any(|p| interesting.matches(p))
        {
            let _ = tx.send(());
        }
    })?;
    let dirs: BTreeSet<PathBuf> = paths.iter().filter_map(|p| watch_dir(p)).collect();
    for dir in &dirs {
        if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot watch");
        }
    }
    Ok(watcher)
}

/// Whether an event can change what a file says. Opening, reading and access times cannot:
/// the watcher outlives reloads, and a reload that read its own files must not trigger the
/// next one.
fn changes_content(kind: &EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, MetadataKind, ModifyKind};
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        _ => true,
    }
}

/// The directory to watch for a path: itself if it is a directory, else its parent.
fn watch_dir(path: &Path) -> Option<PathBuf> {
    if path.is_dir() {
        Some(path.to_path_buf())
    } else {
        path.parent().map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        })
    }
}

/// Which changed paths matter: the watched files, and `*.toml` in watched directories.
///
/// Other files change in watched directories all the time: the query log's database sits in
/// `cache_dir` beside the downloaded lists, and every write of it is an event. Those are
/// told apart by their file name alone, before any path is canonicalised (several syscalls
/// each), so that the watcher's thread does not compete with answering for the CPU.
struct Interesting {
    files: BTreeSet<PathBuf>,
    /// The file names of `files`.
    names: BTreeSet<OsString>,
    dirs: BTreeSet<PathBuf>,
}

impl Interesting {
    fn new(paths: &[PathBuf]) -> Interesting {
        let (dirs, files): (Vec<_>, Vec<_>) =
            paths.iter().map(|p| canonical(p)).partition(|p| p.is_dir());
        Interesting {
            names: files
                .iter()
                .filter_map(|f| f.file_name().map(OsStr::to_os_string))
                .collect(),
            files: files.into_iter().collect(),
            dirs: dirs.into_iter().collect(),
        }
    }

    fn matches(&self, changed: &Path) -> bool {
        let named = changed.file_name().is_some_and(|n| self.names.contains(n));
        if !named && changed.extension().is_none_or(|e| e != "toml") {
            return false;
        }
        let changed = canonical(changed);
        self.files.contains(&changed)
            || (changed.extension().is_some_and(|e| e == "toml")
                && changed.parent().is_some_and(|d| self.dirs.contains(d)))
    }
}

/// Canonical form of a path whose file may not exist (mid-rename): canonicalise the parent.
fn canonical(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => dir
            .canonicalize()
            .map(|d| d.join(name))
            .unwrap_or_else(|_| path.to_path_buf()),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watched_files_and_tomls_match_and_the_query_log_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let profiles = dir.path().join("profiles");
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::create_dir_all(&profiles).unwrap();
        let list = cache.join("ads.txt");
        std::fs::write(&list, "ads.example\n").unwrap();
        let interesting = Interesting::new(&[list.clone(), profiles.clone()]);
        assert!(interesting.matches(&list));
        assert!(interesting.matches(&profiles.join("kids.toml")));
        for other in [
            "querylog.db",
            "querylog.db-wal",
            "querylog.db-shm",
            ".ads.txt.swp",
        ] {
            assert!(!interesting.matches(&cache.join(other)), "{other}");
        }
        assert!(
            !interesting.matches(&cache.join("other.toml")),
            "not a watched directory"
        );
    }
}
