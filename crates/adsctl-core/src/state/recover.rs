//! Setting damaged local files aside, and keeping sled's panics from taking the process down.
//!
//! Everything in the state directory can be rebuilt from the platforms, so a file that cannot be read is not an
//! error a person must fix by hand: it is renamed with a timestamp (`cache/x.json` → `cache/x.json.damaged-
//! 20260101T120000.123Z`), reported once as a warning (the next run does not find it again), and rebuilt.
//! `adsctl state doctor` lists what was set aside.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

/// The infix of a set-aside file's name: `<name>.damaged-<timestamp>`.
pub const DAMAGED_INFIX: &str = ".damaged-";

/// Rename `path` (a file or a directory) to `<path>.damaged-<UTC timestamp>` beside it and return the new path.
/// The original name is free afterwards.
pub fn set_aside(path: &Path) -> std::io::Result<PathBuf> {
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    for n in 0..1000u32 {
        let suffix = if n == 0 { String::new() } else { format!("-{n}") };
        let target = path.with_file_name(format!("{name}{DAMAGED_INFIX}{stamp}{suffix}"));
        if target.symlink_metadata().is_ok() {
            continue;
        }
        std::fs::rename(path, &target)?;
        return Ok(target);
    }
    Err(std::io::Error::other(
        "too many set-aside copies with the same timestamp",
    ))
}

/// Set `path` aside and say so once, as a warning; `what` names the file for people ("the cached live state of
/// account `x`"), `why` is what was wrong with it.
pub fn set_aside_and_warn(path: &Path, what: &str, why: &str) -> std::io::Result<PathBuf> {
    let to = set_aside(path)?;
    tracing::warn!(
        "{what} ({}) could not be read ({why}); set it aside as {} and rebuilding it from the platforms",
        path.display(),
        to.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    Ok(to)
}

/// Whether an I/O error says something about the machine right now (out of file descriptors, memory, an
/// interrupted call) rather than about the file: such a file is not damaged and is not set aside.
pub fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        Interrupted | WouldBlock | TimedOut | OutOfMemory | ResourceBusy | StorageFull | QuotaExceeded
    ) {
        return true;
    }
    // EMFILE, ENFILE (too many open files in the process / system), ENOMEM, EAGAIN, EINTR, ENOSPC, EDQUOT
    #[cfg(unix)]
    if let Some(code) = e.raw_os_error() {
        return matches!(code, 4 | 11 | 12 | 23 | 24 | 28 | 122);
    }
    false
}

thread_local! {
    /// Set while this thread runs a guarded sled call: a panic there is turned into a recovery, not printed.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
}

/// Set by the panic hook when one of sled's own threads panicked.
static SLED_PANICKED: AtomicBool = AtomicBool::new(false);

/// The name of the thread that opens the database and reads it first.
pub const OPEN_THREAD: &str = "adsctl-state-open";

/// A thread sled started itself (its I/O pool, its flusher).
fn sled_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with("sled-") || n == "log flusher")
}

/// Install (once) a panic hook that keeps panics inside sled quiet: they become a recovery of the state and a
/// warning, not a backtrace on stderr. Every other panic goes to the hook that was installed before.
pub fn install_panic_filter() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if sled_thread() {
                // Nobody catches this one: the databases of this process are not to be trusted any more.
                SLED_PANICKED.store(true, Ordering::SeqCst);
                tracing::warn!(panic = %info, "the state database failed in the background");
                return;
            }
            let opening = std::thread::current().name() == Some(OPEN_THREAD);
            if GUARDED.with(Cell::get) || opening {
                // The caller turns it into a recovery.
                tracing::debug!(panic = %info, "the state database panicked");
                return;
            }
            previous(info);
        }));
    });
}

/// Whether a sled thread has panicked in this process (its database is not to be trusted any more).
pub fn sled_panicked() -> bool {
    SLED_PANICKED.load(Ordering::SeqCst)
}

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Run `f` (a sled call) so that a panic inside it is returned as `Err(message)` and printed nowhere.
pub fn guard<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_panic_filter();
    let was = GUARDED.with(|g| g.replace(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    r.map_err(|p| panic_message(p.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_aside_renames_with_a_timestamp_and_frees_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.json");
        std::fs::write(&f, b"garbage").unwrap();
        let a = set_aside(&f).unwrap();
        assert!(!f.exists());
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("x.json.damaged-2"), "{name}");
        assert_eq!(std::fs::read(&a).unwrap(), b"garbage");
        // a second one within the same millisecond gets its own name
        std::fs::create_dir(&f).unwrap();
        let b = set_aside(&f).unwrap();
        assert_ne!(a, b);
        assert!(b.is_dir());
    }

    #[test]
    fn guarded_panics_are_returned_not_printed() {
        let r: Result<(), String> = guard(|| panic!("inside sled"));
        assert_eq!(r.unwrap_err(), "inside sled");
        assert_eq!(guard(|| 7).unwrap(), 7);
        assert!(!GUARDED.with(Cell::get));
    }

    #[test]
    fn out_of_descriptors_is_not_damage() {
        assert!(is_transient(&std::io::Error::from_raw_os_error(24)));
        assert!(!is_transient(&std::io::Error::from(std::io::ErrorKind::InvalidData)));
        assert!(!is_transient(&std::io::Error::from(std::io::ErrorKind::IsADirectory)));
    }
}
