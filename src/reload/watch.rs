//! File watching with notify: a change to the config, a profile or a list triggers a reload.
//!
//! Editors save in many ways (write in place; write a temp file and rename it over; delete
//! and recreate), so we watch the *directories* and match paths: a rename onto `kids.toml`
//! is an event for `kids.toml` whatever happened to the inode. Temp files (`.kids.toml.swp`,
//! `kids.toml~`, vim's `4913`) match nothing we watch and are ignored. Events are debounced:
//! a save that touches a file three times reloads once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::Reloader;

/// Quiet time after the last change before reloading.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Watches the reloader's files until the returned task is dropped or aborted.
pub fn watch(reloader: Arc<Reloader>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let paths = reloader.watched();
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let interesting = Interesting::new(&paths);
            let mut watcher =
                match notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                    if let Ok(event) = event
                        && event.paths.iter().any(|p| interesting.matches(p))
                    {
                        let _ = tx.send(());
                    }
                }) {
                    Ok(w) => w,
                    Err(e) => {
                        tracing::warn!(error = %e, "file watching unavailable; reload with SIGHUP");
                        return;
                    }
                };
            let dirs: BTreeSet<PathBuf> = paths.iter().filter_map(|p| watch_dir(p)).collect();
            for dir in &dirs {
                if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
                    tracing::warn!(dir = %dir.display(), error = %e, "cannot watch");
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
            drop(watcher);
            let _ = reloader.reload().await;
        }
    })
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
struct Interesting {
    files: BTreeSet<PathBuf>,
    dirs: BTreeSet<PathBuf>,
}

impl Interesting {
    fn new(paths: &[PathBuf]) -> Interesting {
        let (dirs, files): (Vec<_>, Vec<_>) =
            paths.iter().map(|p| canonical(p)).partition(|p| p.is_dir());
        Interesting {
            files: files.into_iter().collect(),
            dirs: dirs.into_iter().collect(),
        }
    }

    fn matches(&self, changed: &Path) -> bool {
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
