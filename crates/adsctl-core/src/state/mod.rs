//! Local state: a cache of live state, the id map, the write-ahead journal, remembered `prevent_destroy`,
//! last-applied write-only values and a record of each apply.
//!
//! The platform is the source of truth; everything here can be lost and rebuilt (a fresh CI runner plans
//! correctly with an empty state). The engine talks to the [`StateStore`] trait only, so another backend
//! (PostgreSQL for several replicas) can be added without touching it. [`SledStore`] is the embedded default,
//! kept under `.adsctl/` beside `adsctl.yaml` (or `ADSCTL_STATE_DIR`).

pub mod doctor;
mod lines;
mod lock;
pub mod recover;
mod sled_store;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Address, Kind, Resource, SmallMap};

pub use lock::{is_daemon as lock_holder_is_daemon, set_process_name, someone_queued, ApplyLock, LockError, QueueTurn};
pub use sled_store::SledStore;

/// The environment variable that overrides where the state lives.
pub const STATE_DIR_ENV: &str = "ADSCTL_STATE_DIR";

/// Where the state of the project rooted at `root` lives: `$ADSCTL_STATE_DIR`, else `root/.adsctl`.
pub fn state_dir(root: &Path) -> PathBuf {
    match std::env::var_os(STATE_DIR_ENV) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => root.join(".adsctl"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{}", busy_message(path, holder.as_deref()))]
    Busy { path: PathBuf, holder: Option<String> },
    #[error("could not open the state in {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("state storage error: {0}")]
    Storage(String),
    #[error("the state holds an unreadable record `{key}`: {message}")]
    Corrupt { key: String, message: String },
    /// The database turned out damaged after this process had written to it: the next run sets it aside.
    #[error("the state database in {path} is damaged ({message})")]
    Damaged { path: PathBuf, message: String },
    #[error(transparent)]
    Lock(#[from] LockError),
}

impl StateError {
    pub fn hint(&self) -> Option<String> {
        match self {
            StateError::Busy { .. } => Some(
                "another adsctl command (plan, apply, or the watch daemon's reconcile) kept the state longer than \
                 this one waits: retry, or wait longer with --lock-timeout"
                    .into(),
            ),
            StateError::Corrupt { .. } | StateError::Damaged { .. } => Some(
                "the state is only a cache: run the command again (the next run sets the damaged part aside and \
                 rebuilds it from the platforms), or see `adsctl state doctor --dry-run`"
                    .into(),
            ),
            StateError::Lock(e) => Some(e.hint()),
            _ => None,
        }
    }
}

impl SledStore {
    /// [`SledStore::open`], waiting up to `wait` while another adsctl process has the state open (the `watch`
    /// daemon during a reconcile, an apply): at the head of the queue, so the daemon starts no new reconcile
    /// before this process got in. `on_wait` is told the holder once, when the wait begins.
    pub fn open_waiting(
        dir: &Path,
        wait: std::time::Duration,
        on_wait: &mut dyn FnMut(Option<&str>),
    ) -> Result<SledStore, StateError> {
        lock::waiting(
            dir,
            wait,
            on_wait,
            || SledStore::open(dir),
            |e| match e {
                StateError::Busy { holder, .. } => Some(holder.clone()),
                _ => None,
            },
        )
    }
}

fn busy_message(path: &Path, holder: Option<&str>) -> String {
    match holder {
        Some(h) if lock::is_daemon(h) => format!(
            "the state in {} is in use by the `adsctl watch` daemon ({h})",
            path.display()
        ),
        Some(h) => format!(
            "the state in {} is in use by another adsctl process ({h})",
            path.display()
        ),
        None => format!("the state in {} is in use by another adsctl process", path.display()),
    }
}

/// A cached read of one account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CachedLive {
    pub fetched_at: DateTime<Utc>,
    /// The connector's incremental marker from that read.
    pub marker: Option<String>,
    pub resources: Vec<Resource>,
    /// [`crate::model::live_fingerprint`] of `resources`. The store computes it on every `cache_put` (whatever
    /// the caller passes) and returns it from `cache_get`, so that a plan from the cache does not hash every
    /// object again (≈ 0.13 s at 100k). `None` in a cache written before adsctl kept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// What the state remembers about one managed resource (the id map entry).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateEntry {
    pub address: Address,
    pub kind: Kind,
    /// The platform id.
    pub id: String,
    /// `prevent_destroy` as last applied: deleting the YAML block does not lift it.
    #[serde(default)]
    pub prevent_destroy: bool,
    /// The desired fields at the last successful apply (write-only fields take their live value from here;
    /// drift is a live value that left what was applied).
    #[serde(default)]
    pub applied: SmallMap,
    pub updated_at: DateTime<Utc>,
}

/// A create about to be sent (write-ahead journal).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub account: String,
    pub address: Address,
    pub kind: Kind,
    pub plan_hash: String,
    pub at: DateTime<Utc>,
}

/// The record of one apply (`adsctl state history` lists them; the audit log of `adsctl history` is another file,
/// `adsctl::audit`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApplyRecord {
    pub at: DateTime<Utc>,
    pub user: String,
    pub plan_hash: String,
    /// `succeeded`, `failed` or `partial`.
    pub result: String,
    pub succeeded: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// The state backend. Synchronous and cheap: every call is a local read or write.
pub trait StateStore: Send + Sync {
    fn cache_get(&self, account: &str) -> Result<Option<CachedLive>, StateError>;
    /// Replace the cached read of `account` (the store computes its fingerprint).
    fn cache_put(
        &self,
        account: &str,
        fetched_at: DateTime<Utc>,
        marker: Option<&str>,
        resources: &[Resource],
    ) -> Result<(), StateError>;

    /// Id map entries, all or of one account, sorted by address.
    fn entries(&self, account: Option<&str>) -> Result<Vec<StateEntry>, StateError>;
    fn entry(&self, address: &Address) -> Result<Option<StateEntry>, StateError>;
    fn put_entry(&self, entry: &StateEntry) -> Result<(), StateError>;
    /// Forget one address; true when it was known.
    fn remove_entry(&self, address: &Address) -> Result<bool, StateError>;

    /// Record intents durably (flushed once, before returning); returns their keys in order.
    fn journal_add(&self, intents: &[Intent]) -> Result<Vec<u64>, StateError>;
    fn journal_pending(&self, account: Option<&str>) -> Result<Vec<(u64, Intent)>, StateError>;
    fn journal_resolve(&self, key: u64) -> Result<(), StateError>;

    /// Record one apply.
    fn record_apply(&self, entry: &ApplyRecord) -> Result<(), StateError>;
    /// Every apply recorded, oldest first.
    fn apply_records(&self) -> Result<Vec<ApplyRecord>, StateError>;

    /// Make everything written so far durable.
    fn flush(&self) -> Result<(), StateError>;
}

/// The OS user running adsctl, for the apply records.
pub fn os_user() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .or_else(user_from_passwd)
        .unwrap_or_else(|| "unknown".to_string())
}

/// The name of this process's uid in /etc/passwd (containers and CI runners often set no USER).
#[cfg(unix)]
fn user_from_passwd() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut parts = l.split(':');
        let name = parts.next()?;
        let uid_field = parts.nth(1)?;
        (uid_field.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

#[cfg(not(unix))]
fn user_from_passwd() -> Option<String> {
    None
}
