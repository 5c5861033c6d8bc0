//! Which state a command uses: sled in the state directory (the embedded default, `.adsctl/` or
//! `ADSCTL_STATE_DIR`), or PostgreSQL when `ADSCTL_STATE_URL` holds a `postgres://` URL (`crates/adsctl-state-pg`).
//!
//! [`Store`] is either backend behind the engine's `StateStore` (and the metrics' `SeriesStore`); the apply lock
//! is `apply.lock` in the directory on sled, a PostgreSQL advisory lock held by the store's session otherwise.
//! What stays per machine whatever the backend (the token vault and its key, the audit log, auth health, the
//! emulator's data): `docs/architecture.md`, "State backends".

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

pub use adsctl_state_pg::{PgError, PgStore, STATE_URL_ENV};

use crate::connectors::MetricsLevel;
use crate::metrics::series::{SeriesStore, StoredDay};
use crate::model::{Address, Resource};
use crate::state::{self, ApplyRecord, CachedLive, Intent, SledStore, StateEntry, StateError, StateStore};

/// Where a state is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// sled and its files in a directory.
    Dir(PathBuf),
    /// A PostgreSQL database (the URL may hold a password: show [`Location::shown`], never this).
    Postgres(String),
}

impl Location {
    /// The state of the project rooted at `root`: `$ADSCTL_STATE_URL` when set, else the state directory.
    pub fn of_project(root: &Path) -> Location {
        match std::env::var(STATE_URL_ENV) {
            Ok(url) if !url.trim().is_empty() => Location::Postgres(url.trim().to_string()),
            _ => Location::Dir(state::state_dir(root)),
        }
    }

    /// A `--from`/`--to` argument: a `postgres://` URL, else a state directory.
    pub fn parse(arg: &str) -> Location {
        if adsctl_state_pg::is_url(arg) {
            Location::Postgres(arg.to_string())
        } else {
            Location::Dir(PathBuf::from(arg))
        }
    }

    /// How it may be shown: the directory, or the URL without its password.
    pub fn shown(&self) -> String {
        match self {
            Location::Dir(d) => d.display().to_string(),
            Location::Postgres(url) => adsctl_state_pg::Target::of(url)
                .map(|t| t.to_string())
                .unwrap_or_else(|| "the PostgreSQL state (its URL does not parse)".into()),
        }
    }
}

/// Why a state could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Postgres(#[from] PgError),
}

impl OpenError {
    pub fn hint(&self) -> Option<String> {
        match self {
            OpenError::State(e) => e.hint(),
            OpenError::Postgres(e) => e.hint(),
        }
    }
}

/// The state a command works on.
#[derive(Debug)]
pub enum Store {
    Sled(SledStore),
    Postgres(PgStore),
}

impl Store {
    /// Open the state at `location`; on sled, waiting up to `wait` while another adsctl process has it open
    /// (`on_wait` is told the holder once). PostgreSQL is shared by design: any number of processes open it, and
    /// one whose schema is behind this adsctl's is refused with the hint to migrate.
    pub fn open_waiting(
        location: &Location,
        wait: Duration,
        on_wait: &mut dyn FnMut(Option<&str>),
    ) -> Result<Store, OpenError> {
        Ok(match location {
            Location::Dir(dir) => Store::Sled(SledStore::open_waiting(dir, wait, on_wait)?),
            Location::Postgres(url) => Store::Postgres(PgStore::open(url)?),
        })
    }

    /// The sled store, for what only sled has (its raw trees).
    pub fn sled(&self) -> Option<&SledStore> {
        match self {
            Store::Sled(s) => Some(s),
            Store::Postgres(_) => None,
        }
    }

    fn dyn_store(&self) -> &dyn StateStore {
        match self {
            Store::Sled(s) => s,
            Store::Postgres(s) => s,
        }
    }

    /// The accounts the state knows anything of: id map entries, journal entries, cached reads.
    pub fn accounts(&self) -> Result<Vec<String>, OpenError> {
        let mut out: std::collections::BTreeSet<String> =
            self.entries(None)?.into_iter().map(|e| e.address.account).collect();
        out.extend(self.journal_pending(None)?.into_iter().map(|(_, i)| i.account));
        match self {
            Store::Postgres(s) => out.extend(s.cached_accounts()?),
            Store::Sled(s) => {
                // one file per account: `cache/<account>.json`, bytes other than `[A-Za-z0-9._-]` as `%XX`
                let cache = s.path().join("cache");
                for e in std::fs::read_dir(&cache).into_iter().flatten().flatten() {
                    let name = e.file_name();
                    if let Some(account) = name.to_str().and_then(|n| n.strip_suffix(".json")).and_then(unescape) {
                        out.insert(account);
                    }
                }
            }
        }
        Ok(out.into_iter().collect())
    }
}

/// An account name from its cache file's name (`None` for a name adsctl did not write).
fn unescape(name: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(name.len());
    let mut rest = name.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

impl StateStore for Store {
    fn cache_get(&self, account: &str) -> Result<Option<CachedLive>, StateError> {
        self.dyn_store().cache_get(account)
    }
    fn cache_put(
        &self,
        account: &str,
        fetched_at: DateTime<Utc>,
        marker: Option<&str>,
        resources: &[Resource],
    ) -> Result<(), StateError> {
        self.dyn_store().cache_put(account, fetched_at, marker, resources)
    }
    fn entries(&self, account: Option<&str>) -> Result<Vec<StateEntry>, StateError> {
        self.dyn_store().entries(account)
    }
    fn entry(&self, address: &Address) -> Result<Option<StateEntry>, StateError> {
        self.dyn_store().entry(address)
    }
    fn put_entry(&self, entry: &StateEntry) -> Result<(), StateError> {
        self.dyn_store().put_entry(entry)
    }
    fn remove_entry(&self, address: &Address) -> Result<bool, StateError> {
        self.dyn_store().remove_entry(address)
    }
    fn journal_add(&self, intents: &[Intent]) -> Result<Vec<u64>, StateError> {
        self.dyn_store().journal_add(intents)
    }
    fn journal_pending(&self, account: Option<&str>) -> Result<Vec<(u64, Intent)>, StateError> {
        self.dyn_store().journal_pending(account)
    }
    fn journal_resolve(&self, key: u64) -> Result<(), StateError> {
        self.dyn_store().journal_resolve(key)
    }
    fn record_apply(&self, entry: &ApplyRecord) -> Result<(), StateError> {
        self.dyn_store().record_apply(entry)
    }
    fn apply_records(&self) -> Result<Vec<ApplyRecord>, StateError> {
        self.dyn_store().apply_records()
    }
    fn flush(&self) -> Result<(), StateError> {
        self.dyn_store().flush()
    }
}

impl SeriesStore for Store {
    fn day_put(&self, account: &str, level: MetricsLevel, date: NaiveDate, day: &StoredDay) -> Result<(), StateError> {
        match self {
            Store::Sled(s) => s.day_put(account, level, date, day),
            Store::Postgres(s) => {
                let body = serde_json::to_string(day).map_err(|e| StateError::Storage(e.to_string()))?;
                Ok(s.day_put(account, crate::metrics::pull_level_str(level), date, &body)?)
            }
        }
    }

    fn days(
        &self,
        account: &str,
        level: MetricsLevel,
        since: NaiveDate,
        until: NaiveDate,
    ) -> Result<std::collections::BTreeMap<NaiveDate, StoredDay>, StateError> {
        match self {
            Store::Sled(s) => s.days(account, level, since, until),
            Store::Postgres(s) => s
                .days(account, crate::metrics::pull_level_str(level), since, until)?
                .into_iter()
                .map(|(date, body)| {
                    let day = serde_json::from_str(&body).map_err(|e| StateError::Corrupt {
                        key: format!("metrics/{account}/{date}"),
                        message: e.to_string(),
                    })?;
                    Ok((date, day))
                })
                .collect(),
        }
    }
}

/// What `adsctl state copy` copied.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Copied {
    pub entries: usize,
    pub journal: usize,
    pub applies: usize,
    pub caches: usize,
}

/// Copy every record of `from` into `to`, which must hold none yet (no id map entry, journal entry or apply
/// record): the id map, the journal (new keys, same order), the apply records (same order) and each account's
/// cached read. The metrics series is not copied (`adsctl metrics` pulls it again).
pub fn copy(from: &Store, to: &Store) -> Result<Copied, CopyError> {
    if !to.entries(None)?.is_empty() || !to.journal_pending(None)?.is_empty() || !to.apply_records()?.is_empty() {
        return Err(CopyError::NotEmpty);
    }
    let mut copied = Copied::default();
    for e in from.entries(None)? {
        to.put_entry(&e)?;
        copied.entries += 1;
    }
    let intents: Vec<Intent> = from.journal_pending(None)?.into_iter().map(|(_, i)| i).collect();
    copied.journal = to.journal_add(&intents)?.len();
    for r in from.apply_records()? {
        to.record_apply(&r)?;
        copied.applies += 1;
    }
    for account in from.accounts()? {
        if let Some(c) = from.cache_get(&account)? {
            to.cache_put(&account, c.fetched_at, c.marker.as_deref(), &c.resources)?;
            copied.caches += 1;
        }
    }
    to.flush()?;
    Ok(copied)
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("the destination state is not empty (it holds id map entries, journal entries or apply records)")]
    NotEmpty,
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Open(#[from] OpenError),
}

impl CopyError {
    pub fn hint(&self) -> Option<String> {
        match self {
            CopyError::NotEmpty => Some(
                "copy into a new state directory, or a freshly migrated database (`adsctl state migrate`), so that \
                 nothing is merged by accident"
                    .into(),
            ),
            CopyError::State(e) => e.hint(),
            CopyError::Open(e) => e.hint(),
        }
    }
}
