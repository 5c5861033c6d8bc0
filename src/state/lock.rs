//! The apply lock: an OS lock on `apply.lock` in the state directory, with the holder's pid written inside.
//!
//! The OS releases the lock when its holder dies, so a lock file that still names a pid but is not locked is
//! stale: it is taken over and reported. A held lock refuses a second apply with the holder's pid.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs2::FileExt;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another adsctl apply holds the lock on {path}{}", holder.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Held { path: PathBuf, holder: Option<String> },
    #[error("could not use the lock file {path}: {message}")]
    Io { path: PathBuf, message: String },
}

impl LockError {
    pub fn hint(&self) -> String {
        match self {
            LockError::Held { .. } => {
                "wait for it to finish (only one apply may change the same state at a time), then run again".into()
            }
            LockError::Io { .. } => "check the permissions of the state directory (ADSCTL_STATE_DIR)".into(),
        }
    }
}

/// Held while an apply runs; released on drop.
#[derive(Debug)]
pub struct ApplyLock {
    file: File,
    path: PathBuf,
    /// A previous holder that died without releasing the lock (its pid line), detected and taken over.
    pub stale: Option<String>,
}

impl ApplyLock {
    pub fn acquire(state_dir: &Path) -> Result<ApplyLock, LockError> {
        let path = state_dir.join("apply.lock");
        let io = |e: std::io::Error| LockError::Io {
            path: path.clone(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(state_dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let mut previous = String::new();
        if file.try_lock_exclusive().is_err() {
            let _ = file.read_to_string(&mut previous);
            let holder = previous.lines().next().map(str::to_string).filter(|s| !s.is_empty());
            return Err(LockError::Held { path, holder });
        }
        file.read_to_string(&mut previous).map_err(io)?;
        let stale = previous.lines().next().map(str::to_string).filter(|s| !s.is_empty());
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(
            file,
            "pid {} since {}",
            std::process::id(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        )
        .map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(ApplyLock { file, path, stale })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ApplyLock {
    fn drop(&mut self) {
        // Empty the pid line first so nobody reports a clean exit as stale; the OS lock goes with the file.
        let _ = self.file.set_len(0);
        let _ = FileExt::unlock(&self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_and_stale_lock_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let first = ApplyLock::acquire(dir.path()).unwrap();
        assert!(first.stale.is_none());
        match ApplyLock::acquire(dir.path()) {
            Err(LockError::Held { holder, .. }) => {
                assert!(holder.unwrap().contains(&std::process::id().to_string()))
            }
            other => panic!("expected a held lock, got {other:?}"),
        }
        drop(first);
        // a pid line left by a process that died (its OS lock is gone with it)
        std::fs::write(dir.path().join("apply.lock"), "pid 999999 since 2026-01-01T00:00:00Z\n").unwrap();
        let again = ApplyLock::acquire(dir.path()).unwrap();
        assert_eq!(again.stale.as_deref(), Some("pid 999999 since 2026-01-01T00:00:00Z"));
    }
}
