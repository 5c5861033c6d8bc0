//! Shared by the integration tests (`mod common;`): copying fixtures out of the checkout.
//!
//! Tests never read state from, or write into, the checkout. A config directory under `examples/` may hold the
//! state a user's own run left there (`adsctl apply examples/quickstart --emulator` writes
//! `examples/quickstart/.adsctl/`: the emulator's accounts, the id map, the audit log), so a fixture is always
//! copied to a temporary directory first, and the copy leaves out every hidden entry (`.adsctl/`, any other
//! state directory, editor and VCS files) and anything that is neither a plain file nor a directory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The checkout (read-only for tests).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether a directory entry is state or local clutter rather than part of a fixture: hidden names (`.adsctl`,
/// `.git`, `.DS_Store`, editor swap files).
pub fn is_state(name: &str) -> bool {
    name.starts_with('.')
}

/// Copy the fixture directory `from` into `to` (created if missing), without state (see [`is_state`]) and
/// without the top-level entries named in `except`. Symlinks are not followed (nor copied).
pub fn copy_fixture_except(from: &Path, to: &Path, except: &[&str]) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    let entries = std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    for e in entries {
        let e = e.unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
        let name = e.file_name();
        let Some(name) = name.to_str() else {
            panic!("{}: a fixture file name that is not UTF-8", e.path().display())
        };
        if is_state(name) || except.contains(&name) {
            continue;
        }
        let kind = e
            .file_type()
            .unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
        let target = to.join(name);
        if kind.is_dir() {
            copy_fixture_except(&e.path(), &target, &[]);
        } else if kind.is_file() {
            std::fs::copy(e.path(), &target).unwrap_or_else(|err| panic!("copy {}: {err}", e.path().display()));
        }
    }
}

/// [`copy_fixture_except`] with nothing excepted.
pub fn copy_fixture(from: &Path, to: &Path) {
    copy_fixture_except(from, to, &[]);
}

/// A fresh copy of `examples/<name>` in a temporary directory: (the guard, the copy's path). The path is
/// canonical (the daemon and the state store compare paths).
pub fn example(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path().canonicalize().expect("canonical temp dir").join(name);
    copy_fixture(&repo().join("examples").join(name), &dir);
    (tmp, dir)
}

/// Every file below `dir`, relative to it, sorted.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
            let p = e.expect("a directory entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).expect("below the root").to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
