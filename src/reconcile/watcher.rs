//! The debounced config-directory watcher.
//!
//! Editors save in many ways: in place (modify + close-write), atomically (write a temporary file, rename it over
//! the original), or with a backup rename (vim: `x.yaml` → `x.yaml~`, then write a new `x.yaml`). The watcher
//! watches the whole directory recursively (so a file replaced by a rename keeps being seen), ignores reads,
//! hidden paths (`.git/`, the state directory, `.x.yaml.swp`, `.#x.yaml`) and editor droppings (`x~`, `4913`,
//! `*.swp`, `*.tmp`), and sends one [`Command::Reload`] once the directory has been quiet for the debounce period.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::daemon::Command;

#[derive(Debug, thiserror::Error)]
#[error("cannot watch {path}: {message}")]
pub struct WatchError {
    pub path: PathBuf,
    pub message: String,
}

/// Keeps the OS watcher alive; dropping it stops watching.
pub struct DirWatcher {
    _watcher: notify::RecommendedWatcher,
    _task: tokio::task::JoinHandle<()>,
}

/// Whether a change to `path` (inside `root`) can change the desired state.
pub fn is_relevant(root: &Path, path: &Path) -> bool {
    let rel = path.strip_prefix(root).unwrap_or(path);
    for c in rel.components() {
        if let Component::Normal(s) = c {
            let s = s.to_string_lossy();
            if s.starts_with('.') || s.starts_with('#') || s.ends_with('~') || s == "4913" || s == "target" {
                return false;
            }
        }
    }
    match rel.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()) {
        Some(ext) => matches!(ext.as_str(), "yaml" | "yml" | "csv"),
        // A directory (created, removed or renamed), or the root itself.
        None => true,
    }
}

fn is_relevant_kind(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Modify(notify::event::ModifyKind::Metadata(_)) => false,
        _ => true,
    }
}

/// Watch `root` and send [`Command::Reload`] on `commands` after each burst of relevant changes.
pub fn spawn(
    root: &Path,
    debounce: Duration,
    commands: mpsc::Sender<Command>,
    cancel: CancellationToken,
) -> Result<DirWatcher, WatchError> {
    let root = root.canonicalize().map_err(|e| WatchError {
        path: root.to_path_buf(),
        message: e.to_string(),
    })?;
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let filter_root = root.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
        Ok(ev) => {
            if is_relevant_kind(&ev.kind) && ev.paths.iter().any(|p| is_relevant(&filter_root, p)) {
                tracing::trace!(kind = ?ev.kind, paths = ?ev.paths, "config change");
                let _ = tx.send(());
            }
        }
        Err(e) => tracing::warn!(error = %e, "file watcher error"),
    })
    .map_err(|e| WatchError {
        path: root.clone(),
        message: e.to_string(),
    })?;
    watcher.watch(&root, RecursiveMode::Recursive).map_err(|e| WatchError {
        path: root.clone(),
        message: e.to_string(),
    })?;
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                ev = rx.recv() => if ev.is_none() { return },
            }
            // Wait until the directory has been quiet for `debounce`.
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    r = tokio::time::timeout(debounce, rx.recv()) => match r {
                        Ok(Some(())) => continue,
                        Ok(None) => return,
                        Err(_) => break,
                    },
                }
            }
            tracing::debug!("config directory changed");
            if commands.send(Command::Reload).await.is_err() {
                return;
            }
        }
    });
    Ok(DirWatcher {
        _watcher: watcher,
        _task: task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_editor_droppings_and_hidden_paths() {
        let root = Path::new("/repo");
        for p in [
            "/repo/adsctl.yaml",
            "/repo/campaigns/spring.yml",
            "/repo/data/subs.csv",
            "/repo/campaigns",
        ] {
            assert!(is_relevant(root, Path::new(p)), "{p}");
        }
        for p in [
            "/repo/.git/index",
            "/repo/.adsctl/state/db",
            "/repo/.spring.yaml.swp",
            "/repo/spring.yaml~",
            "/repo/4913",
            "/repo/.#spring.yaml",
            "/repo/notes.md",
            "/repo/spring.yaml.tmp",
        ] {
            assert!(!is_relevant(root, Path::new(p)), "{p}");
        }
    }
}
