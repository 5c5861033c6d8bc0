//! `adsctl state doctor`: examine every local file of a state, and repair what is damaged.
//!
//! Examining changes nothing (the database is opened from a copy). Repairing takes the apply lock, opens the
//! store (which sets a damaged database aside and starts a new one with the id map snapshots read back), reads
//! every record and file (setting aside what cannot be read), and examines again.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::lines;
use super::recover::DAMAGED_INFIX;
use super::sled_store::{account_of_file, examine_db};
use super::{ApplyLock, SledStore, StateEntry, StateError};

/// One thing examined.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// The file or directory, relative to the state directory.
    pub file: String,
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// What a repair does about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repair: Option<String>,
}

/// Everything examined in one state directory.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub state_dir: PathBuf,
    pub findings: Vec<Finding>,
    /// Files and directories set aside by earlier runs, kept for inspection (`<name>.damaged-<time>`).
    pub set_aside: Vec<String>,
    /// What a repair did (empty when examining).
    pub repaired: Vec<String>,
}

impl Report {
    /// How many findings are problems.
    pub fn problems(&self) -> usize {
        self.findings.iter().filter(|f| !f.ok).count()
    }
}

fn ok(file: &str, detail: impl Into<String>) -> Finding {
    Finding {
        file: file.into(),
        ok: true,
        detail: detail.into(),
        repair: None,
    }
}

fn bad(file: &str, detail: impl Into<String>, repair: impl Into<String>) -> Finding {
    Finding {
        file: file.into(),
        ok: false,
        detail: detail.into(),
        repair: Some(repair.into()),
    }
}

/// A lock file, read without taking it (a held lock is reported, garbage in a free one is a problem).
fn examine_lock(dir: &Path, name: &str) -> Result<Finding, StateError> {
    let path = dir.join(name);
    let Ok(meta) = path.symlink_metadata() else {
        return Ok(ok(name, "absent (made when needed)"));
    };
    if !meta.is_file() {
        return Ok(bad(name, "is not a file", "set it aside; a new lock file is made"));
    }
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            return Ok(bad(
                name,
                format!("cannot be opened: {e}"),
                "set it aside; a new lock file is made",
            ))
        }
    };
    let holder = super::lock::read_holder(&path);
    if file.try_lock().is_err() {
        return Err(StateError::Busy {
            path: dir.to_path_buf(),
            holder,
        });
    }
    let _ = file.unlock();
    let content = std::fs::read(&path).unwrap_or_default();
    Ok(match holder {
        Some(h) => ok(
            name,
            format!("free; names a holder that is gone ({h}), taken over by the next run"),
        ),
        None if content.iter().all(u8::is_ascii_whitespace) => ok(name, "free"),
        None => bad(name, "free, but holds content adsctl never writes", "replace it"),
    })
}

/// Names of `<name>.damaged-<time>` entries in `dir` (relative to the state directory through `prefix`).
fn set_aside_in(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(DAMAGED_INFIX))
        .map(|n| format!("{prefix}{n}"))
        .collect();
    names.sort();
    out.extend(names);
}

/// Examine the state in `dir`; nothing is changed. Refused with [`StateError::Busy`] while another adsctl
/// process uses it.
pub fn examine(dir: &Path) -> Result<Report, StateError> {
    let mut report = Report {
        state_dir: dir.to_path_buf(),
        findings: Vec::new(),
        set_aside: Vec::new(),
        repaired: Vec::new(),
    };
    if !dir.is_dir() {
        report.findings.push(ok(".", "no state yet (the first plan makes it)"));
        return Ok(report);
    }
    report.findings.push(examine_lock(dir, "state.lock")?);
    report.findings.push(examine_lock(dir, "apply.lock")?);

    let health = examine_db(dir);
    let mut by_account = health.entries.clone();
    match &health.problem {
        Some(why) if dir.join("db").exists() => {
            report.findings.push(bad(
                "db/",
                format!("the database (id map, journal, apply records) cannot be used: {why}"),
                "set it aside and start a new one, reading the id map snapshots back into it; the rest is rebuilt \
                 from the platforms",
            ));
            by_account.clear();
        }
        _ if !dir.join("db").exists() => report
            .findings
            .push(ok("db/", "absent (a new database is made by the next run)")),
        _ => {
            let n = |t: &str| health.records.get(t).copied().unwrap_or(0);
            report.findings.push(ok(
                "db/",
                format!(
                    "{} id map entries, {} unresolved journaled creates, {} apply records",
                    n("ids"),
                    n("journal"),
                    n(super::sled_store::APPLIES_TREE)
                ),
            ));
            for r in &health.bad_records {
                report.findings.push(bad(
                    &format!("db/ record {r}"),
                    "does not decode",
                    "set the record aside in the database (tree `damaged`)",
                ));
            }
            if !health.pending.is_empty() {
                report.findings.push(ok(
                    "db/ journal",
                    format!(
                        "{} creates an interrupted apply sent without learning their outcome; the next plan looks \
                         them up on the platform",
                        health.pending.len()
                    ),
                ));
            }
            if health.set_aside_records > 0 {
                report.set_aside.push(format!(
                    "db/ tree `damaged`: {} record(s) set aside earlier",
                    health.set_aside_records
                ));
            }
        }
    }

    for (sub, what) in [("cache", "cached live state"), ("ids", "id map snapshot")] {
        let Ok(files) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        let mut files: Vec<_> = files.filter_map(Result::ok).collect();
        files.sort_by_key(|f| f.file_name());
        for f in files {
            let name = f.file_name().to_string_lossy().into_owned();
            let rel = format!("{sub}/{name}");
            if name.contains(DAMAGED_INFIX) {
                continue;
            }
            if name.ends_with(".tmp") {
                report
                    .findings
                    .push(bad(&rel, "left by an interrupted write", "remove it"));
                continue;
            }
            let Some(account) = account_of_file(&name) else {
                continue;
            };
            let rebuilt = if sub == "cache" {
                format!("set it aside; the next plan reads account `{account}` in full")
            } else {
                "set it aside; it is written again from the id map".to_string()
            };
            if sub == "cache" {
                match lines::read::<serde_json::Value, serde_json::Value>(&f.path()) {
                    Ok(Some((_, records))) => report.findings.push(ok(
                        &rel,
                        format!("{what} of account `{account}`: {} objects", records.len()),
                    )),
                    Ok(None) => {}
                    Err(e) => report.findings.push(bad(&rel, format!("cannot be read: {e}"), rebuilt)),
                }
                continue;
            }
            match lines::read::<serde_json::Value, StateEntry>(&f.path()) {
                Ok(Some((_, entries))) => {
                    if entries.iter().any(|e| e.address.account != account) {
                        report
                            .findings
                            .push(bad(&rel, "holds entries of another account", rebuilt));
                        continue;
                    }
                    let known = by_account.remove(&account).unwrap_or_default();
                    let lost = entries
                        .iter()
                        .filter(|e| !known.iter().any(|k| k.address == e.address))
                        .count();
                    if lost > 0 && health.problem.is_none() {
                        report.findings.push(bad(
                            &rel,
                            format!("holds {lost} id map entries the database lost"),
                            "read them back into the id map",
                        ));
                    } else {
                        report.findings.push(ok(
                            &rel,
                            format!("{what} of account `{account}`: {} entries", entries.len()),
                        ));
                    }
                }
                Ok(None) => {}
                Err(e) => report.findings.push(bad(&rel, format!("cannot be read: {e}"), rebuilt)),
            }
        }
    }

    set_aside_in(dir, "", &mut report.set_aside);
    set_aside_in(&dir.join("cache"), "cache/", &mut report.set_aside);
    set_aside_in(&dir.join("ids"), "ids/", &mut report.set_aside);
    set_aside_in(&dir.join("db"), "db/", &mut report.set_aside);
    Ok(report)
}

/// Repair the state in `dir` (see the module documentation), then examine it again.
pub fn repair(dir: &Path) -> Result<Report, StateError> {
    // refuse while an apply or the daemon uses it, before anything is touched
    examine_lock(dir, "state.lock")?;
    examine_lock(dir, "apply.lock")?;
    let _apply = ApplyLock::acquire(dir)?;
    let store = SledStore::open(dir)?;
    let did = store.sweep()?;
    drop(store);
    drop(_apply);
    let mut report = examine(dir)?;
    report.repaired = did;
    Ok(report)
}
