//! The audit log: every auth event and every apply, appended to `<state dir>/audit.jsonl` (one JSON object a
//! line, mode 0600). Each entry carries the time, the operating-system user, the git author when the project
//! is in a git repository, the account, the action, the result, the plan hash of an apply, and `prev`: the
//! SHA-256 of the previous line, so that an edited or deleted line is found by `adsctl history --verify`.
//!
//! The engine records an apply with [`record_apply`]. A project whose state is on PostgreSQL keeps its log in the
//! database instead (an append-only table, the same lines and chain): see [`AuditLog`].

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::secret::scrub;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub time: DateTime<Utc>,
    pub user: Option<String>,
    pub git_author: Option<String>,
    pub account: Option<String>,
    /// `auth.login`, `auth.refresh`, `apply`, …
    pub action: String,
    /// `ok`, or `error: …` (scrubbed).
    pub result: String,
    pub plan_hash: Option<String>,
    /// The name of the API token an action of the daemon's HTTP API was taken with (never the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_token: Option<String>,
    /// Anything else worth keeping (counts of changes, …); scrubbed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Hex SHA-256 of the previous line (none for the first).
    pub prev: Option<String>,
}

impl AuditEntry {
    pub fn new(action: &str) -> AuditEntry {
        AuditEntry {
            time: Utc::now(),
            user: os_user(),
            git_author: None,
            account: None,
            action: action.to_string(),
            result: "ok".into(),
            plan_hash: None,
            api_token: None,
            detail: None,
            prev: None,
        }
    }
    pub fn account(mut self, a: &str) -> Self {
        self.account = Some(a.to_string());
        self
    }
    pub fn result(mut self, r: impl Into<String>) -> Self {
        self.result = scrub(&r.into());
        self
    }
    pub fn plan_hash(mut self, h: &str) -> Self {
        self.plan_hash = Some(h.to_string());
        self
    }
    /// The name of the API token the action was taken with.
    pub fn api_token(mut self, name: &str) -> Self {
        self.api_token = Some(name.to_string());
        self
    }
    pub fn detail(mut self, d: &str) -> Self {
        self.detail = Some(scrub(d));
        self
    }
    /// Fill in the git author of the repository holding `root`, if it is one.
    pub fn in_repo(mut self, root: Option<&Path>) -> Self {
        if let Some(r) = root {
            self.git_author = git_author(r);
        }
        self
    }
}

fn os_user() -> Option<String> {
    static USER: OnceLock<Option<String>> = OnceLock::new();
    USER.get_or_init(|| {
        ["USER", "USERNAME", "LOGNAME"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .or_else(|| {
                // No variable (cron, CI containers): ask the system.
                let out = std::process::Command::new(if cfg!(windows) { "whoami" } else { "id" })
                    .args(if cfg!(windows) { &[][..] } else { &["-un"][..] })
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .output()
                    .ok()?;
                let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
                (out.status.success() && !name.is_empty()).then_some(name)
            })
    })
    .clone()
}

/// `Name <email>` from git (one lookup per process and root).
fn git_author(root: &Path) -> Option<String> {
    type AuthorCache = Mutex<Vec<(PathBuf, Option<String>)>>;
    static CACHE: OnceLock<AuthorCache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    if let Ok(c) = cache.lock() {
        if let Some((_, a)) = c.iter().find(|(p, _)| p == root) {
            return a.clone();
        }
    }
    let run = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let author = run(&["rev-parse", "--is-inside-work-tree"])
        .filter(|s| s == "true")
        .and_then(|_| run(&["var", "GIT_AUTHOR_IDENT"]))
        .map(|ident| match ident.rfind('>') {
            Some(i) => ident[..=i].to_string(),
            None => ident,
        });
    if let Ok(mut c) = cache.lock() {
        c.push((root.to_path_buf(), author.clone()));
    }
    author
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot {what} the audit log {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{log}:{line}: not an audit entry: {message}")]
    Parse { log: String, line: usize, message: String },
    #[error("cannot use {log}: {source}")]
    Postgres {
        log: String,
        source: adsctl_state_pg::PgError,
    },
}

impl AuditError {
    pub fn hint(&self) -> String {
        match self {
            AuditError::Io { .. } => "check the state directory (ADSCTL_STATE_DIR or .adsctl/)".into(),
            AuditError::Parse { .. } => "the log was edited by hand; `adsctl history --verify` shows where".into(),
            AuditError::Postgres { source, .. } => source
                .hint()
                .unwrap_or_else(|| "check the PostgreSQL state (ADSCTL_STATE_URL or `state:` in adsctl.yaml)".into()),
        }
    }
}

/// The audit log of a project: `audit.jsonl` in its state directory, or the append-only table `adsctl_audit` of
/// its PostgreSQL state (one row per line, the same lines and the same hash chain).
pub struct AuditLog {
    path: PathBuf,
    /// The database's URL (never shown).
    pg: Option<String>,
}

impl AuditLog {
    /// The audit log of a state directory: its file, or the PostgreSQL state this process found the directory's
    /// project on (`store::side_url`).
    pub fn at_state_dir(state_dir: &Path) -> AuditLog {
        AuditLog {
            path: state_dir.join("audit.jsonl"),
            pg: crate::store::side_url(state_dir),
        }
    }

    /// The file in `state_dir`, whatever the project's state.
    pub fn in_dir(state_dir: &Path) -> AuditLog {
        AuditLog {
            path: state_dir.join("audit.jsonl"),
            pg: None,
        }
    }

    /// The table of the PostgreSQL state at `url`.
    pub fn on_postgres(state_dir: &Path, url: &str) -> AuditLog {
        AuditLog {
            path: state_dir.join("audit.jsonl"),
            pg: Some(url.to_string()),
        }
    }

    /// The file (where it would be, when the log is on PostgreSQL).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the log is in a PostgreSQL state.
    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// The log as messages name it (never a password).
    pub fn shown(&self) -> String {
        match &self.pg {
            Some(url) => format!(
                "the audit log in the PostgreSQL state at {}",
                adsctl_state_pg::Target::of(url)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "(an unreadable URL)".into())
            ),
            None => format!("the audit log {}", self.path.display()),
        }
    }

    fn io(&self, what: &'static str) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
        move |source| AuditError::Io {
            what,
            path: self.path.clone(),
            source,
        }
    }

    fn pg_err(&self) -> impl FnOnce(adsctl_state_pg::PgError) -> AuditError + '_ {
        move |source| AuditError::Postgres {
            log: self.shown(),
            source,
        }
    }

    /// Append one entry (its `prev` is set here).
    pub fn append(&self, mut entry: AuditEntry) -> Result<(), AuditError> {
        if let Some(url) = &self.pg {
            let store = crate::store::side(url).map_err(self.pg_err())?;
            // appends take turns in the database: each chains onto the line before it, whoever wrote that
            return store
                .audit_append(move |last| {
                    entry.prev = last.map(line_hash);
                    serde_json::to_string(&entry).ok()
                })
                .map_err(self.pg_err())
                .and_then(|written| {
                    if written {
                        Ok(())
                    } else {
                        Err(self.io("encode")(std::io::Error::other("the entry does not encode")))
                    }
                });
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(self.io("create the folder of"))?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true).append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&self.path).map_err(self.io("open"))?;
        entry.prev = last_line(&mut f).map_err(self.io("read"))?.map(|l| line_hash(&l));
        let mut line = serde_json::to_string(&entry).map_err(|e| self.io("encode")(std::io::Error::other(e)))?;
        line.push('\n');
        f.write_all(line.as_bytes()).map_err(self.io("append to"))?;
        Ok(())
    }

    /// Every line as stored, oldest first (an absent log has none).
    pub fn lines(&self) -> Result<Vec<String>, AuditError> {
        if let Some(url) = &self.pg {
            let store = crate::store::side(url).map_err(self.pg_err())?;
            return store.audit_lines().map_err(self.pg_err());
        }
        match std::fs::read_to_string(&self.path) {
            Ok(t) => Ok(t.lines().map(str::to_string).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(self.io("read")(e)),
        }
    }

    /// Add lines as they are, after the last (a copied log: its lines already carry their chain).
    pub fn append_lines(&self, lines: Vec<String>) -> Result<(), AuditError> {
        if lines.is_empty() {
            return Ok(());
        }
        if let Some(url) = &self.pg {
            let store = crate::store::side(url).map_err(self.pg_err())?;
            return store.audit_append_lines(lines).map_err(self.pg_err());
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(self.io("create the folder of"))?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&self.path).map_err(self.io("open"))?;
        let mut text = lines.join("\n");
        text.push('\n');
        f.write_all(text.as_bytes()).map_err(self.io("append to"))
    }

    /// Every entry, oldest first (an absent log is empty).
    pub fn read(&self) -> Result<Vec<AuditEntry>, AuditError> {
        let shown = match &self.pg {
            Some(_) => self.shown(),
            None => self.path.display().to_string(),
        };
        self.lines()?
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| AuditError::Parse {
                    log: shown.clone(),
                    line: i + 1,
                    message: e.to_string(),
                })
            })
            .collect()
    }

    /// Check the hash chain: `Ok(n)` entries intact, or the 1-based lines (rows) whose `prev` does not match.
    pub fn verify(&self) -> Result<Result<usize, Vec<usize>>, AuditError> {
        let mut prev: Option<String> = None;
        let mut bad = Vec::new();
        let mut n = 0;
        for (i, l) in self.lines()?.iter().enumerate() {
            n += 1;
            let ok = serde_json::from_str::<AuditEntry>(l).is_ok_and(|e| e.prev == prev);
            if !ok {
                bad.push(i + 1);
            }
            prev = Some(line_hash(l));
        }
        Ok(if bad.is_empty() { Ok(n) } else { Err(bad) })
    }
}

fn line_hash(line: &str) -> String {
    hex::encode(Sha256::digest(line.trim_end_matches('\n').as_bytes()))
}

/// The last non-empty line of the file (reads only its tail).
fn last_line(f: &mut std::fs::File) -> std::io::Result<Option<String>> {
    let len = f.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(None);
    }
    let mut chunk = 4096u64;
    loop {
        let start = len.saturating_sub(chunk);
        f.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        Read::by_ref(f).take(len - start).read_to_end(&mut buf)?;
        let text = String::from_utf8_lossy(&buf);
        let trimmed = text.trim_end_matches('\n');
        if let Some(i) = trimmed.rfind('\n') {
            return Ok(Some(trimmed[i + 1..].to_string()));
        }
        if start == 0 {
            return Ok(Some(trimmed.to_string()).filter(|s| !s.is_empty()));
        }
        chunk *= 4;
    }
}

/// Record an apply (the engine calls this once per account and apply): `result` is `ok` or a short error.
pub fn record_apply(
    state_dir: &Path,
    project_root: &Path,
    account: &str,
    result: &str,
    plan_hash: &str,
    detail: Option<&str>,
) -> Result<(), AuditError> {
    let mut e = AuditEntry::new("apply")
        .account(account)
        .result(result)
        .plan_hash(plan_hash)
        .in_repo(Some(project_root));
    if let Some(d) = detail {
        e = e.detail(d);
    }
    AuditLog::at_state_dir(state_dir).append(e)
}

/// Record every account of an apply report (the CLI's `apply` and the watch daemon both call this): one line
/// per account with `ok`, `partial` or `failed` and the counts.
pub fn record_apply_report(
    state_dir: &Path,
    project_root: &Path,
    report: &crate::apply::ApplyReport,
) -> Result<(), AuditError> {
    use crate::apply::ChangeOutcome;
    let mut per_account: std::collections::BTreeMap<&str, (usize, usize, usize)> = Default::default();
    for r in &report.results {
        let c = per_account.entry(r.account.as_str()).or_default();
        match r.outcome {
            ChangeOutcome::Succeeded { .. } => c.0 += 1,
            ChangeOutcome::Failed { .. } => c.1 += 1,
            ChangeOutcome::Skipped { .. } => c.2 += 1,
        }
    }
    for (account, (ok, failed, skipped)) in per_account {
        let result = match (failed + skipped, ok) {
            (0, _) => "ok",
            (_, 0) => "failed",
            _ => "partial",
        };
        let detail = format!("{ok} succeeded, {failed} failed, {skipped} skipped");
        record_apply(
            state_dir,
            project_root,
            account,
            result,
            &report.plan_hash,
            Some(&detail),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_author_is_recorded_inside_a_repository() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            std::process::Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(args)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .output()
        };
        if !git(&["init", "-q"]).is_ok_and(|o| o.status.success()) {
            return; // no git on this machine: nothing to record
        }
        git(&["config", "user.name", "Ada Lovelace"]).unwrap();
        git(&["config", "user.email", "ada@example.com"]).unwrap();
        let e = AuditEntry::new("apply").in_repo(Some(dir.path()));
        assert_eq!(e.git_author.as_deref(), Some("Ada Lovelace <ada@example.com>"));
        let outside = tempfile::tempdir().unwrap();
        assert_eq!(AuditEntry::new("apply").in_repo(Some(outside.path())).git_author, None);
    }

    #[test]
    fn chain_detects_edits() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::at_state_dir(dir.path());
        for i in 0..3 {
            log.append(AuditEntry::new("auth.login").account(&format!("a{i}")))
                .unwrap();
        }
        record_apply(dir.path(), dir.path(), "a1", "ok", "sha256:abc", Some("3 changes")).unwrap();
        let all = log.read().unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(all[3].plan_hash.as_deref(), Some("sha256:abc"));
        assert_eq!(log.verify().unwrap(), Ok(4));
        let text = std::fs::read_to_string(log.path()).unwrap().replace("\"a1\"", "\"zz\"");
        std::fs::write(log.path(), text).unwrap();
        assert!(log.verify().unwrap().is_err());
    }
}
