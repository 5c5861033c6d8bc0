//! Lock files: an OS lock on a file in the state directory, with the holder written inside
//! (`pid 4242 since 2026-01-01T00:00:00Z by adsctl watch`).
//!
//! - `apply.lock` ([`ApplyLock`]): held while an apply (or the `watch` daemon, for its whole life) may change
//!   the platforms from this state.
//! - `state.lock` ([`StateLock`]): held while a process has the state store open, so that a damaged database
//!   is only ever set aside by the one process using it.
//! - `queue.lock` ([`QueueTurn`]): held by a command that waits for the state or the apply lock while another
//!   process has it. The `watch` daemon holds the state only while it reconciles, and starts no new reconcile
//!   while a command waits ([`someone_queued`]), so `plan`, `state`, `metrics` and `apply` get in beside it.
//!
//! The OS releases a lock when its holder dies, so a lock file that still names a pid but is not locked is
//! stale: it is taken over and reported. A held lock refuses with the holder's pid and what it is (an apply, or
//! the daemon). A lock file that cannot be used (a directory in its place, unreadable content) is set aside or
//! overwritten: it only ever holds the holder's line.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::recover;

/// What this process is, for the holder line of its locks (`adsctl apply`, `adsctl watch`).
static PROCESS_NAME: OnceLock<String> = OnceLock::new();

/// Name this process in the lock files it takes (the CLI sets `adsctl <subcommand>`; first call wins).
pub fn set_process_name(name: &str) {
    let _ = PROCESS_NAME.set(name.to_string());
}

fn process_name() -> &'static str {
    PROCESS_NAME.get().map(String::as_str).unwrap_or("adsctl")
}

/// The holder line of a lock taken now by this process.
fn holder_line() -> String {
    format!(
        "pid {} since {} by {}",
        std::process::id(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
        process_name()
    )
}

/// The holder line in a lock file's content, when it is one (`Err` for content adsctl never writes).
fn parse_holder(bytes: &[u8]) -> Result<Option<String>, ()> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| ())?;
    let line = text.lines().next().unwrap_or_default().trim();
    let pid_ok = line
        .strip_prefix("pid ")
        .and_then(|r| r.split_whitespace().next())
        .is_some_and(|p| p.parse::<u32>().is_ok());
    if pid_ok && line.len() <= 256 && !line.chars().any(char::is_control) {
        Ok(Some(line.to_string()))
    } else {
        Err(())
    }
}

/// Whether a holder line names the `watch` daemon.
pub fn is_daemon(holder: &str) -> bool {
    holder.ends_with("by adsctl watch")
}

/// The holder line of a lock file, without taking the lock (for messages).
pub fn read_holder(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    parse_holder(&bytes).ok().flatten()
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}", held_message(path, holder.as_deref()))]
    Held { path: PathBuf, holder: Option<String> },
    #[error("could not use the lock file {path}: {message}")]
    Io { path: PathBuf, message: String },
}

fn held_message(path: &Path, holder: Option<&str>) -> String {
    match holder {
        Some(h) if is_daemon(h) => format!(
            "the `adsctl watch` daemon ({h}) is running on this state and holds its lock ({})",
            path.display()
        ),
        Some(h) => format!("another adsctl apply holds the lock on {} ({h})", path.display()),
        None => format!("another adsctl apply holds the lock on {}", path.display()),
    }
}

/// The hint for a state held by `holder`.
pub fn held_hint(holder: Option<&str>) -> String {
    match holder {
        Some(h) if is_daemon(h) => "the daemon holds the state only while it reconciles and lets a waiting command \
                                    in before its next reconcile: run again with a longer --lock-timeout (or save \
                                    the edit: the daemon applies the YAML itself)"
            .into(),
        _ => "wait for it to finish (only one apply may change the same state at a time), or run again with a \
              longer --lock-timeout"
            .into(),
    }
}

impl LockError {
    pub fn hint(&self) -> String {
        match self {
            LockError::Held { holder, .. } => held_hint(holder.as_deref()),
            LockError::Io { .. } => "check the permissions of the state directory (ADSCTL_STATE_DIR)".into(),
        }
    }
}

/// An exclusively locked file with this process's holder line in it; the lock goes with the file.
#[derive(Debug)]
struct Locked {
    file: File,
    path: PathBuf,
    /// The line of a previous holder that died without releasing the lock.
    stale: Option<String>,
}

fn lock(path: &Path) -> Result<Locked, LockError> {
    let io = |e: std::io::Error| LockError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let open = || {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
    };
    let mut file = match open() {
        Ok(f) => f,
        Err(e) if recover::is_transient(&e) => return Err(io(e)),
        // Something in its place that is not a lock file (a directory, a file we may not open): set it aside.
        Err(e) => match recover::set_aside_and_warn(path, "the lock file", &e.to_string()) {
            Ok(_) => open().map_err(io)?,
            Err(_) => return Err(io(e)),
        },
    };
    let mut previous = Vec::new();
    // std's lock is the OS's (`flock` on Unix, `LockFileEx` on Windows), released when the file is closed.
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::Error(e)) => return Err(io(e)),
        Err(TryLockError::WouldBlock) => {
            let _ = file.read_to_end(&mut previous);
            return Err(LockError::Held {
                path: path.to_path_buf(),
                holder: parse_holder(&previous).ok().flatten(),
            });
        }
    }
    let stale = match file.read_to_end(&mut previous) {
        Ok(_) => match parse_holder(&previous) {
            Ok(holder) => holder,
            Err(()) => {
                tracing::warn!(
                    "the lock file {} held content adsctl never writes; replaced it (the lock itself was free)",
                    path.display()
                );
                None
            }
        },
        Err(e) if recover::is_transient(&e) => return Err(io(e)),
        Err(e) => {
            tracing::warn!(
                "the lock file {} could not be read ({e}); replaced its content",
                path.display()
            );
            None
        }
    };
    file.set_len(0).map_err(io)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    writeln!(file, "{}", holder_line()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(Locked {
        file,
        path: path.to_path_buf(),
        stale,
    })
}

impl Drop for Locked {
    fn drop(&mut self) {
        // Empty the holder line first so nobody reports a clean exit as stale; the OS lock goes with the file.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// Held while an apply runs; released on drop.
#[derive(Debug)]
pub struct ApplyLock {
    locked: Locked,
    /// A previous holder that died without releasing the lock (its pid line), detected and taken over.
    pub stale: Option<String>,
}

impl ApplyLock {
    pub fn acquire(state_dir: &Path) -> Result<ApplyLock, LockError> {
        let locked = lock(&state_dir.join("apply.lock"))?;
        Ok(ApplyLock {
            stale: locked.stale.clone(),
            locked,
        })
    }

    pub fn path(&self) -> &Path {
        &self.locked.path
    }
}

/// Held while the state store is open (`state.lock`).
#[derive(Debug)]
pub struct StateLock {
    _locked: Locked,
}

/// The name of the store's lock file in the state directory.
pub const STATE_LOCK: &str = "state.lock";

impl StateLock {
    pub fn acquire(state_dir: &Path) -> Result<StateLock, LockError> {
        Ok(StateLock {
            _locked: lock(&state_dir.join(STATE_LOCK))?,
        })
    }
}

/// The name of the queue's lock file in the state directory.
pub const QUEUE_LOCK: &str = "queue.lock";

/// A command's place at the head of the queue for the state (`queue.lock`), held while it waits.
#[derive(Debug)]
pub struct QueueTurn {
    _locked: Locked,
}

impl QueueTurn {
    /// The turn, unless another command already waits (it goes first; this one waits behind it anyway).
    pub fn take(state_dir: &Path) -> Option<QueueTurn> {
        lock(&state_dir.join(QUEUE_LOCK)).ok().map(|l| QueueTurn { _locked: l })
    }
}

/// Whether a command waits for the state: the daemon lets it in before it reconciles again.
pub fn someone_queued(state_dir: &Path) -> bool {
    let Ok(file) = OpenOptions::new().read(true).open(state_dir.join(QUEUE_LOCK)) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => false,
    }
}

/// Retry `attempt` every 100 ms while it finds the state held, for up to `wait`: at the head of the queue (so the
/// daemon yields), telling `on_wait` the holder once, when the wait begins. `busy` says whether an error is "held"
/// and by whom.
pub fn waiting<T, E>(
    state_dir: &Path,
    wait: std::time::Duration,
    on_wait: &mut dyn FnMut(Option<&str>),
    mut attempt: impl FnMut() -> Result<T, E>,
    busy: impl Fn(&E) -> Option<Option<String>>,
) -> Result<T, E> {
    let start = std::time::Instant::now();
    let mut turn = None;
    let mut told = false;
    loop {
        match attempt() {
            Err(e) => match busy(&e) {
                Some(holder) if start.elapsed() < wait => {
                    if turn.is_none() {
                        turn = QueueTurn::take(state_dir);
                    }
                    if !told {
                        on_wait(holder.as_deref());
                        told = true;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                _ => return Err(e),
            },
            ok => return ok,
        }
    }
}

impl ApplyLock {
    /// [`ApplyLock::acquire`], waiting up to `wait` while another process holds it (see [`waiting`]).
    pub fn acquire_waiting(
        state_dir: &Path,
        wait: std::time::Duration,
        on_wait: &mut dyn FnMut(Option<&str>),
    ) -> Result<ApplyLock, LockError> {
        waiting(
            state_dir,
            wait,
            on_wait,
            || ApplyLock::acquire(state_dir),
            |e| match e {
                LockError::Held { holder, .. } => Some(holder.clone()),
                LockError::Io { .. } => None,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command that waits queues (the daemon sees it), one at a time; the queue is free again once it is in.
    #[test]
    fn a_waiting_command_queues_and_gets_in_when_the_holder_leaves() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!someone_queued(dir.path()), "no queue file yet");
        let first = QueueTurn::take(dir.path()).expect("the turn");
        assert!(someone_queued(dir.path()));
        assert!(QueueTurn::take(dir.path()).is_none(), "one command at the head");
        drop(first);
        assert!(!someone_queued(dir.path()));

        let held = ApplyLock::acquire(dir.path()).unwrap();
        let path = dir.path().to_path_buf();
        let waiter = std::thread::spawn(move || {
            let mut told = Vec::new();
            let got = ApplyLock::acquire_waiting(&path, std::time::Duration::from_secs(20), &mut |h| {
                told.push(h.map(str::to_string))
            });
            (got.map(|_| ()), told)
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !someone_queued(dir.path()) {
            assert!(std::time::Instant::now() < deadline, "the waiter never queued");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        drop(held);
        let (got, told) = waiter.join().unwrap();
        got.expect("in once the holder left");
        assert_eq!(told.len(), 1, "told once: {told:?}");
        assert!(told[0].as_deref().is_some_and(|h| h.starts_with("pid ")), "{told:?}");
        assert!(!someone_queued(dir.path()), "the turn is given back");

        // without a wait, a held lock is refused at once
        let _held = ApplyLock::acquire(dir.path()).unwrap();
        let refused = ApplyLock::acquire_waiting(dir.path(), std::time::Duration::ZERO, &mut |_| {});
        assert!(matches!(refused, Err(LockError::Held { .. })));
    }

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

    #[test]
    fn a_damaged_lock_file_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("apply.lock");
        for garbage in [
            &b"\xff\xfe\x00garbage\x01"[..],
            b"\0\0\0\0\0\0\0\0",
            b"pid notanumber\n",
            b"",
        ] {
            std::fs::write(&path, garbage).unwrap();
            let l = ApplyLock::acquire(dir.path()).unwrap_or_else(|e| panic!("{garbage:?}: {e}"));
            assert!(l.stale.is_none(), "{garbage:?}");
        }
        // a directory in its place is set aside
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir_all(path.join("x")).unwrap();
        let l = ApplyLock::acquire(dir.path()).unwrap();
        assert!(path.is_file());
        drop(l);
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("apply.lock.damaged-"))
            .count();
        assert_eq!(aside, 1);
    }

    #[test]
    fn the_daemon_is_named_as_the_holder() {
        let h = "pid 42 since 2026-01-01T00:00:00Z by adsctl watch";
        assert_eq!(parse_holder(h.as_bytes()), Ok(Some(h.to_string())));
        let e = LockError::Held {
            path: PathBuf::from("/s/apply.lock"),
            holder: Some(h.into()),
        };
        let msg = e.to_string();
        assert!(
            msg.contains("`adsctl watch` daemon") && !msg.contains("another adsctl apply"),
            "{msg}"
        );
        assert!(
            e.hint().contains("only while it reconciles") && e.hint().contains("--lock-timeout"),
            "{}",
            e.hint()
        );
        let e = LockError::Held {
            path: PathBuf::from("/s/apply.lock"),
            holder: Some("pid 7 since 2026-01-01T00:00:00Z by adsctl apply".into()),
        };
        assert!(e.to_string().contains("another adsctl apply holds the lock"));
    }
}
