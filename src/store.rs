//! Which state a command uses: sled in the state directory (the embedded default, `.adsctl/` or
//! `ADSCTL_STATE_DIR`), or PostgreSQL when `ADSCTL_STATE_URL` holds a `postgres://` URL or `state:` in adsctl.yaml
//! says so (`crates/adsctl-state-pg`; [`Location::resolve`]).
//!
//! [`Store`] is either backend behind the engine's `StateStore` (and the metrics' `SeriesStore`); the apply lock
//! is `apply.lock` in the directory on sled, a PostgreSQL advisory lock held by the store's session otherwise.
//! The token vault, the audit log and the API tokens follow the same choice ([`side`], [`side_url`]); what stays
//! per machine whatever the backend (the master key, auth health, the emulator's data): `docs/architecture.md`,
//! "State backends".

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

pub use adsctl_state_pg::{PgError, PgStore, STATE_URL_ENV};

use crate::connectors::MetricsLevel;
use crate::metrics::series::{SeriesStore, StoredDay};
use crate::model::{Address, Resource};
use crate::spec::types::StateBackend;
use crate::state::{ApplyRecord, CachedLive, Intent, SledStore, StateEntry, StateError, StateStore};

/// Where a state is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// sled and its files in a directory.
    Dir(PathBuf),
    /// A PostgreSQL database (the URL may hold a password: show [`Location::shown`], never this).
    Postgres(String),
}

impl Location {
    /// The state of the project rooted at `root`, from the process environment (see [`Location::resolve`]).
    pub fn of_project(root: &Path) -> Result<Location, SelectError> {
        Location::resolve(root, &|k| std::env::var(k).ok())
    }

    /// The state of the project rooted at `root`: `$ADSCTL_STATE_URL` when set (it always wins), else what the
    /// `state:` key of `adsctl.yaml` says (a `postgres` backend: the variable named by `url_env`, else its
    /// password-less `url`), else the state directory (`ADSCTL_STATE_DIR` or `.adsctl/`). A project found on
    /// PostgreSQL has its state directory's audit log and API tokens there too, for the rest of the process
    /// ([`side_url`]).
    pub fn resolve(root: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Location, SelectError> {
        let var = |k: &str| env(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let dir = match var(crate::state::STATE_DIR_ENV) {
            Some(d) => PathBuf::from(d),
            None => root.join(".adsctl"),
        };
        let location = match var(STATE_URL_ENV) {
            Some(url) => Location::Postgres(url),
            None => match crate::spec::state::read(root).map_err(SelectError::Spec)? {
                Some(choice) if choice.backend == StateBackend::Postgres => match var(&choice.url_env).or(choice.url) {
                    Some(url) => Location::Postgres(url),
                    None => return Err(SelectError::NoUrl { var: choice.url_env }),
                },
                _ => Location::Dir(dir.clone()),
            },
        };
        if let Location::Postgres(url) = &location {
            register_side(&dir, url);
        }
        Ok(location)
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

/// Why the project's state could not be chosen.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// The `state:` key of adsctl.yaml is wrong (rendered with its position).
    #[error("{}", .0.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Spec(crate::spec::SpecErrors),
    #[error("adsctl.yaml puts the state on PostgreSQL, but {var} is not set and `state:` has no `url`")]
    NoUrl { var: String },
}

impl SelectError {
    pub fn hint(&self) -> Option<String> {
        match self {
            SelectError::Spec(_) => None,
            SelectError::NoUrl { var } => Some(format!(
                "set {var} to the database's postgres:// URL (with its password), or write `url:` without the \
                 password under `state:` and give the password in PGPASSWORD"
            )),
        }
    }
}

/// Which state directories are on PostgreSQL in this process (filled by [`Location::resolve`]).
static SIDES: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

fn register_side(state_dir: &Path, url: &str) {
    if let Ok(mut sides) = SIDES.lock() {
        sides.retain(|(d, _)| d != state_dir);
        sides.push((state_dir.to_path_buf(), url.to_string()));
    }
}

/// The PostgreSQL URL that the state directory `state_dir` stands for in this process: set when a project whose
/// state directory it is was found on PostgreSQL. What the state directory keeps beside the engine's state (the
/// audit log, the API tokens) is then in that database.
pub fn side_url(state_dir: &Path) -> Option<String> {
    SIDES
        .lock()
        .ok()?
        .iter()
        .find(|(d, _)| d == state_dir)
        .map(|(_, u)| u.clone())
}

/// One connection per database for what is kept beside the state (vault, audit log, API tokens), opened on first
/// use and kept for the process (a daemon checks API tokens on every request); one found closed is replaced.
pub fn side(url: &str) -> Result<Arc<PgStore>, PgError> {
    static OPEN: Mutex<Vec<(String, Arc<PgStore>)>> = Mutex::new(Vec::new());
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, s)) = open.iter().find(|(u, _)| u == url) {
        if !s.is_closed() {
            return Ok(s.clone());
        }
    }
    open.retain(|(u, _)| u != url);
    let store = Arc::new(PgStore::open(url)?);
    open.push((url.to_string(), store.clone()));
    Ok(store)
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
    /// Days of the metrics series.
    pub days: usize,
    /// Accounts of the token vault (still sealed).
    pub vault: usize,
    pub audit: usize,
    pub tokens: usize,
}

/// One side of a copy: where it is and its store.
pub struct Side<'a> {
    pub location: &'a Location,
    pub store: &'a Store,
}

impl Side<'_> {
    fn vault(&self) -> crate::auth::vault::Vault {
        match self.location {
            Location::Dir(d) => crate::auth::vault::Vault::at(d),
            Location::Postgres(url) => crate::auth::vault::Vault::on_postgres(Path::new(""), url),
        }
    }
    fn audit(&self) -> crate::audit::AuditLog {
        match self.location {
            Location::Dir(d) => crate::audit::AuditLog::in_dir(d),
            Location::Postgres(url) => crate::audit::AuditLog::on_postgres(Path::new(""), url),
        }
    }
    fn tokens(&self) -> crate::apitoken::TokenStore {
        match self.location {
            Location::Dir(d) => crate::apitoken::TokenStore::in_dir(d),
            Location::Postgres(url) => crate::apitoken::TokenStore::on_postgres(Path::new(""), url),
        }
    }
    fn all_days(&self) -> Result<Vec<(String, String, NaiveDate, String)>, CopyError> {
        Ok(match self.store {
            Store::Sled(s) => crate::metrics::series::sled_all_days(s)?,
            Store::Postgres(s) => s.all_days().map_err(OpenError::from)?,
        })
    }
}

/// Copy every record of `from` into `to`, which must hold none yet (no id map entry, journal entry, apply
/// record, metrics day, vault entry, audit line or API token): the id map, the journal (new keys, same order),
/// the apply records (same order), each account's cached read, the metrics series, the token vault as sealed
/// (nothing is decrypted: the same master key opens it after), the audit log line for line (its hash chain
/// intact) and the API tokens' hashes.
pub fn copy(from: &Side<'_>, to: &Side<'_>) -> Result<Copied, CopyError> {
    let (src, dst) = (from.store, to.store);
    if !dst.entries(None)?.is_empty()
        || !dst.journal_pending(None)?.is_empty()
        || !dst.apply_records()?.is_empty()
        || !to.all_days()?.is_empty()
        || !to.vault().sealed()?.accounts.is_empty()
        || !to.audit().lines()?.is_empty()
        || !to.tokens().read()?.is_empty()
    {
        return Err(CopyError::NotEmpty);
    }
    let mut copied = Copied::default();
    for e in src.entries(None)? {
        dst.put_entry(&e)?;
        copied.entries += 1;
    }
    let intents: Vec<Intent> = src.journal_pending(None)?.into_iter().map(|(_, i)| i).collect();
    copied.journal = dst.journal_add(&intents)?.len();
    for r in src.apply_records()? {
        dst.record_apply(&r)?;
        copied.applies += 1;
    }
    for account in src.accounts()? {
        if let Some(c) = src.cache_get(&account)? {
            dst.cache_put(&account, c.fetched_at, c.marker.as_deref(), &c.resources)?;
            copied.caches += 1;
        }
    }
    for (account, level, date, body) in from.all_days()? {
        match dst {
            Store::Sled(s) => crate::metrics::series::sled_put_raw(s, &account, &level, date, &body)?,
            Store::Postgres(s) => s.day_put(&account, &level, date, &body).map_err(OpenError::from)?,
        }
        copied.days += 1;
    }
    dst.flush()?;
    let vault = from.vault().sealed()?;
    copied.vault = vault.accounts.len();
    if copied.vault > 0 {
        to.vault().restore_sealed(vault)?;
    }
    let lines: Vec<String> = from
        .audit()
        .lines()?
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .collect();
    copied.audit = lines.len();
    to.audit().append_lines(lines)?;
    let (src_tokens, dst_tokens) = (from.tokens(), to.tokens());
    for (name, rec) in src_tokens.read()? {
        dst_tokens.insert(&name, rec)?;
        copied.tokens += 1;
    }
    Ok(copied)
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "the destination state is not empty (it holds id map entries, journal entries, apply records, metrics, \
         vault entries, audit lines or API tokens)"
    )]
    NotEmpty,
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Vault(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error(transparent)]
    Tokens(#[from] crate::apitoken::TokenError),
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
            CopyError::Vault(e) => Some(e.hint()).filter(|h| !h.is_empty()),
            CopyError::Audit(e) => Some(e.hint()),
            CopyError::Tokens(e) => Some(e.hint()),
        }
    }
}
