//! adsctl's state on PostgreSQL: [`PgStore`], the [`StateStore`] for teams (sled, in `adsctl-core`, stays the
//! embedded default), its versioned schema migrations ([`MIGRATIONS`], applied by `adsctl state migrate`) and the
//! apply lock (a PostgreSQL advisory lock, [`PgStore::lock_apply`]).
//!
//! A database holds one project's state (the tables are in `migrations/`). Every call is one statement or one
//! transaction, committed before it returns, so two machines using the same database see each other's writes at
//! once and [`StateStore::flush`] has nothing left to do.
//!
//! The connection URL (`postgres://user:password@host:port/database`) may carry a password: it is never put in
//! an error, a log line or output — [`Target`] is what is shown.

mod lease;
mod side;
mod tls;
mod worker;

use std::time::{Duration, Instant};

use adsctl_core::model::{Address, Resource};
use adsctl_core::state::{ApplyRecord, CachedLive, Intent, StateEntry, StateError, StateStore};
use chrono::{DateTime, NaiveDate, Utc};

pub use side::{TokenRow, VaultRow};
use worker::{Conn, ConnectError, Worker};

pub use lease::{AcquiredLease, Fence, FencedStore, LeaseRow, ReplicaRow};

/// The environment variable that puts the state on PostgreSQL: a `postgres://` URL.
pub const STATE_URL_ENV: &str = "ADSCTL_STATE_URL";

/// The password of a URL that has none, as for libpq (`psql`).
pub const PASSWORD_ENV: &str = "PGPASSWORD";

/// One schema migration, applied once, in order, in a transaction of its own.
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first. A new one is a new file in `migrations/` and a new line here; an applied one
/// never changes.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "vault_audit",
        sql: include_str!("../migrations/0002_vault_audit.sql"),
    },
    Migration {
        version: 3,
        name: "leases",
        sql: include_str!("../migrations/0003_leases.sql"),
    },
];

/// The schema version this adsctl reads and writes.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The table of applied migrations.
const VERSIONS_TABLE: &str = "adsctl_schema_migrations";

/// Advisory lock keys (per database, so per project): "adsctl" and a number.
const APPLY_LOCK_KEY: i64 = 0x6164_7363_746c_0001;
const MIGRATE_LOCK_KEY: i64 = 0x6164_7363_746c_0002;

/// Whether `s` names a PostgreSQL state (rather than a state directory).
pub fn is_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// A connection URL as it may be shown: scheme, user, host, port and database; never the password nor the query
/// (which may hold one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target(String);

impl Target {
    /// The shown form of `url`, `None` when it is not a `postgres://` URL.
    pub fn of(url: &str) -> Option<Target> {
        if !is_url(url) {
            return None;
        }
        let parsed = url::Url::parse(url).ok()?;
        let user = match parsed.username() {
            "" => String::new(),
            u => format!("{u}@"),
        };
        let host = parsed.host_str().unwrap_or("localhost");
        let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
        Some(Target(format!(
            "{}://{user}{host}{port}{}",
            parsed.scheme(),
            parsed.path()
        )))
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// Never holds the string itself: it may be a URL with a password in it.
    #[error("the PostgreSQL state is not a valid postgres:// URL ({what})")]
    NotAUrl { what: String },
    #[error("could not connect to the PostgreSQL state at {target}: {message}")]
    Connect { target: Target, message: String },
    #[error("the PostgreSQL state at {target} has schema version {have}; this adsctl needs version {need}")]
    SchemaBehind { target: Target, have: i32, need: i32 },
    #[error(
        "the PostgreSQL state at {target} has schema version {have}, newer than this adsctl knows (version {need})"
    )]
    SchemaAhead { target: Target, have: i32, need: i32 },
    #[error("the PostgreSQL state at {target}: {message}")]
    Query { target: Target, message: String },
    #[error("{}", busy_message(target, holder.as_deref()))]
    Busy { target: Target, holder: Option<String> },
    #[error("the connection to the PostgreSQL state at {target} was lost (its thread ended)")]
    Gone { target: Target },
    #[error("cannot set up TLS to the PostgreSQL state at {target}: {message}")]
    Tls { target: Target, message: String },
    /// A write made for an account's reconcile whose lease is no longer this replica's (expired, or taken over
    /// with a newer fencing token): nothing of it was written.
    #[error(
        "refused a write for account `{account}`: this replica's lease on it (fencing token {token}) is no longer held"
    )]
    Fenced { account: String, token: i64 },
}

fn busy_message(target: &Target, holder: Option<&str>) -> String {
    match holder {
        Some(h) => format!("the PostgreSQL state at {target} is in use by another adsctl process ({h})"),
        None => format!("the PostgreSQL state at {target} is in use by another adsctl process"),
    }
}

impl PgError {
    pub fn hint(&self) -> Option<String> {
        match self {
            PgError::NotAUrl { .. } => Some(
                "write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE (in ADSCTL_STATE_URL or `state: { url: … }` \
                 of adsctl.yaml)"
                    .into(),
            ),
            PgError::Connect { .. } | PgError::Gone { .. } => Some(
                "check that the server runs and accepts this user from this machine (`psql` with the same URL); with \
                 sslmode=require, that its certificate is signed by a known authority or the one sslrootcert=FILE \
                 names; the state can also stay local: unset ADSCTL_STATE_URL"
                    .into(),
            ),
            PgError::SchemaBehind { .. } => Some(
                "run `adsctl state migrate` once (with the same ADSCTL_STATE_URL) to bring the database up to date"
                    .into(),
            ),
            PgError::SchemaAhead { .. } => {
                Some("a newer adsctl migrated this database: upgrade adsctl on this machine".into())
            }
            PgError::Busy { .. } => Some(
                "another adsctl command (an apply, or the watch daemon) holds the state's apply lock: retry, or wait \
                 longer with --lock-timeout"
                    .into(),
            ),
            PgError::Query { .. } => None,
            PgError::Tls { .. } => Some(
                "sslrootcert=FILE names the PEM file of the certificate authority that signed the server's \
                 certificate (or the server's own, when self-signed); without it the built-in roots are used"
                    .into(),
            ),
            PgError::Fenced { .. } => Some(
                "another `adsctl watch` replica holds this account now (this one could not renew its lease in \
                 time): nothing is lost, the holder reconciles it"
                    .into(),
            ),
        }
    }
}

impl From<PgError> for StateError {
    fn from(e: PgError) -> StateError {
        StateError::Storage(e.to_string())
    }
}

/// A PostgreSQL error, with the server's message when there is one (never the connection string).
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.to_string();
    }
    match std::error::Error::source(e) {
        Some(s) => format!("{e}: {s}"),
        None => e.to_string(),
    }
}

/// This process, as other sessions see it (`application_name`, read back for the holder of the apply lock).
fn application_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown host".into());
    let mut name = format!("adsctl pid {} on {host}", std::process::id());
    // PostgreSQL keeps 63 bytes
    while name.len() > 63 {
        name.pop();
    }
    name
}

/// The state on a PostgreSQL database.
pub struct PgStore {
    db: Worker,
    target: Target,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("target", &self.target).finish()
    }
}

impl PgStore {
    /// Connect, without looking at the schema (what `adsctl state migrate` does first).
    pub fn connect(url: &str) -> Result<PgStore, PgError> {
        PgStore::connect_with(url, None)
    }

    /// [`PgStore::connect`]; with `io_timeout`, a connection that stops answering fails its call after about that
    /// long (connect timeout, TCP user timeout and keepalives), and a closed one is opened again by the next call
    /// (see `worker`): what a long-running replica needs, never a command holding the apply lock.
    pub(crate) fn connect_with(url: &str, io_timeout: Option<Duration>) -> Result<PgStore, PgError> {
        let target = Target::of(url).ok_or_else(|| PgError::NotAUrl {
            what: if is_url(url) {
                "it does not parse as a URL".into()
            } else {
                "it does not start with postgres:// or postgresql://".into()
            },
        })?;
        let tls = tls::of_url(url).map_err(|e| match e {
            tls::TlsError::Mode => PgError::NotAUrl {
                what: "its sslmode is none of disable, prefer, require, verify-ca, verify-full".into(),
            },
            tls::TlsError::RootCert { path, message } => PgError::Tls {
                target: target.clone(),
                message: format!(
                    "cannot read the root certificate {} (sslrootcert): {message}",
                    path.display()
                ),
            },
            tls::TlsError::Config(message) => PgError::Tls {
                target: target.clone(),
                message,
            },
        })?;
        let mut config: postgres::Config = tls.url.parse().map_err(|e: postgres::Error| PgError::NotAUrl {
            // the driver's parse errors name the option, not its value
            what: describe(&e),
        })?;
        config.ssl_mode(if tls.config.is_some() {
            postgres::config::SslMode::Require
        } else {
            postgres::config::SslMode::Disable
        });
        // as libpq does: a URL without a password (the one `adsctl.yaml` may name) takes it from PGPASSWORD
        if config.get_password().is_none() {
            if let Some(p) = std::env::var_os(PASSWORD_ENV).filter(|p| !p.is_empty()) {
                config.password(p.as_encoded_bytes());
            }
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name(&application_name());
        }
        if let Some(t) = io_timeout {
            config
                .connect_timeout(t)
                .tcp_user_timeout(t)
                .keepalives(true)
                .keepalives_idle(t);
        }
        let db = Worker::connect(config, tls.config, io_timeout.is_some()).map_err(|e| PgError::Connect {
            target: target.clone(),
            message: match e {
                ConnectError::Thread(e) => format!("cannot start the connection's thread: {e}"),
                ConnectError::Postgres(e) => describe(&e),
            },
        })?;
        Ok(PgStore { db, target })
    }

    /// Connect and check that the schema is this adsctl's ([`PgError::SchemaBehind`] says to migrate).
    pub fn open(url: &str) -> Result<PgStore, PgError> {
        PgStore::open_with(url, None)
    }

    /// [`PgStore::open`] for a long-running replica of the daemon: calls fail after about `io_timeout` when the
    /// database stops answering, and a closed connection is opened again by the next call.
    pub fn open_resilient(url: &str, io_timeout: Duration) -> Result<PgStore, PgError> {
        PgStore::open_with(url, Some(io_timeout))
    }

    fn open_with(url: &str, io_timeout: Option<Duration>) -> Result<PgStore, PgError> {
        let store = PgStore::connect_with(url, io_timeout)?;
        let (have, need) = (store.schema_version()?, latest_version());
        if have < need || (have == need && store.lacks_a_migration()?) {
            return Err(PgError::SchemaBehind {
                target: store.target.clone(),
                have,
                need,
            });
        }
        if have > need {
            return Err(PgError::SchemaAhead {
                target: store.target.clone(),
                have,
                need,
            });
        }
        Ok(store)
    }

    /// Where the state is, as it may be shown.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Run `f` on the connection's thread.
    fn q<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<R, postgres::Error> + Send + 'static,
    ) -> Result<R, PgError> {
        match self.db.run(f) {
            Some(Ok(r)) => Ok(r),
            Some(Err(e)) => Err(PgError::Query {
                target: self.target.clone(),
                message: describe(&e),
            }),
            None => Err(PgError::Gone {
                target: self.target.clone(),
            }),
        }
    }

    /// The highest migration applied (0: none, an empty database).
    pub fn schema_version(&self) -> Result<i32, PgError> {
        self.q(|c| {
            let exists: bool = c
                .client
                .query_one(&format!("SELECT to_regclass('{VERSIONS_TABLE}') IS NOT NULL"), &[])?
                .get(0);
            if !exists {
                return Ok(0);
            }
            let v: Option<i32> = c
                .client
                .query_one(&format!("SELECT max(version) FROM {VERSIONS_TABLE}"), &[])?
                .get(0);
            Ok(v.unwrap_or(0))
        })
    }

    /// Whether a migration older than the newest applied one is missing (see [`PgStore::migrate`]).
    fn lacks_a_migration(&self) -> Result<bool, PgError> {
        let applied = self.q(|c| {
            let rows = c.client.query(&format!("SELECT version FROM {VERSIONS_TABLE}"), &[])?;
            Ok(rows.iter().map(|r| r.get::<_, i32>(0)).collect::<Vec<i32>>())
        })?;
        Ok(MIGRATIONS.iter().any(|m| !applied.contains(&m.version)))
    }

    /// Apply the migrations this database lacks, each in a transaction with its row in the versions table;
    /// returns the versions applied (none when it was up to date). Two processes migrating at once take turns.
    pub fn migrate(&self) -> Result<Vec<i32>, PgError> {
        let have = self.q(|c| {
            c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATE_LOCK_KEY])?;
            c.client.batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {VERSIONS_TABLE} (
                     version    integer PRIMARY KEY,
                     name       text NOT NULL,
                     applied_at timestamptz NOT NULL DEFAULT now()
                 )"
            ))?;
            let rows = c.client.query(&format!("SELECT version FROM {VERSIONS_TABLE}"), &[])?;
            Ok(rows.iter().map(|r| r.get::<_, i32>(0)).collect::<Vec<i32>>())
        });
        let result = have.and_then(|applied_before| {
            let have = applied_before.iter().copied().max().unwrap_or(0);
            if have > latest_version() {
                return Err(PgError::SchemaAhead {
                    target: self.target.clone(),
                    have,
                    need: latest_version(),
                });
            }
            let mut applied = Vec::new();
            // every migration not applied yet, also one numbered below the newest applied (versions are
            // numbered as they are written, and two written at once may land in either order)
            for m in MIGRATIONS.iter().filter(|m| !applied_before.contains(&m.version)) {
                let (version, name, sql) = (m.version, m.name, m.sql);
                self.q(move |c| {
                    let mut tx = c.client.transaction()?;
                    tx.batch_execute(sql)?;
                    tx.execute(
                        &format!("INSERT INTO {VERSIONS_TABLE} (version, name) VALUES ($1, $2)"),
                        &[&version, &name],
                    )?;
                    tx.commit()
                })
                .map_err(|e| match e {
                    PgError::Query { target, message } => PgError::Query {
                        target,
                        message: format!("migration {version} ({name}) failed, nothing of it was applied: {message}"),
                    },
                    e => e,
                })?;
                tracing::info!(version, name, "applied a migration of the PostgreSQL state");
                applied.push(version);
            }
            Ok(applied)
        });
        // the session lock is also released when the connection closes
        let _ = self.q(|c| c.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK_KEY]));
        result
    }

    /// Take the project's apply lock (what `apply.lock` is on sled), waiting up to `wait` while another session
    /// holds it; `on_wait` is told the holder once, when the wait begins. Held until [`PgStore::unlock_apply`] or
    /// until this store is dropped (or its process dies: the server ends the session).
    pub fn lock_apply(&self, wait: Duration, on_wait: &mut dyn FnMut(Option<&str>)) -> Result<(), PgError> {
        let start = Instant::now();
        let mut told = false;
        loop {
            let got: bool = self.q(|c| {
                c.query_one("SELECT pg_try_advisory_lock($1)", &[&APPLY_LOCK_KEY])
                    .map(|r| r.get(0))
            })?;
            if got {
                return Ok(());
            }
            let left = wait.saturating_sub(start.elapsed());
            if !told || left.is_zero() {
                let holder = self.apply_lock_holder()?;
                if left.is_zero() {
                    return Err(PgError::Busy {
                        target: self.target.clone(),
                        holder,
                    });
                }
                on_wait(holder.as_deref());
                told = true;
            }
            std::thread::sleep(left.min(Duration::from_millis(200)));
        }
    }

    /// Give the apply lock back.
    pub fn unlock_apply(&self) -> Result<(), PgError> {
        self.q(|c| c.execute("SELECT pg_advisory_unlock($1)", &[&APPLY_LOCK_KEY]))
            .map(|_| ())
    }

    /// Who holds the apply lock: the holder's `application_name` (adsctl sets `adsctl pid N on HOST`).
    fn apply_lock_holder(&self) -> Result<Option<String>, PgError> {
        let (hi, lo) = ((APPLY_LOCK_KEY >> 32) & 0xffff_ffff, APPLY_LOCK_KEY & 0xffff_ffff);
        self.q(move |c| {
            let row = c.query_opt(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                   AND l.classid::bigint = $1 AND l.objid::bigint = $2
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 LIMIT 1",
                &[&hi, &lo],
            )?;
            Ok(row
                .and_then(|r| r.get::<_, Option<String>>(0))
                .filter(|n| !n.is_empty()))
        })
    }

    /// Store one day of the metrics series (`body`: adsctl's JSON of that day).
    pub fn day_put(&self, account: &str, level: &str, day: NaiveDate, body: &str) -> Result<(), PgError> {
        self.day_put_in(None, account, level, day, body)
    }

    pub(crate) fn day_put_in(
        &self,
        fence: Option<&Fence>,
        account: &str,
        level: &str,
        day: NaiveDate,
        body: &str,
    ) -> Result<(), PgError> {
        let (account, level, body) = (account.to_string(), level.to_string(), body.to_string());
        self.write(fence, false, move |c| {
            c.execute(
                "INSERT INTO adsctl_metrics_days (account, level, day, body) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (account, level, day) DO UPDATE SET body = EXCLUDED.body",
                &[&account, &level, &day, &body],
            )
        })
        .map(|_| ())
    }

    /// The stored days of an account and level within `since..=until`, in order.
    pub fn days(
        &self,
        account: &str,
        level: &str,
        since: NaiveDate,
        until: NaiveDate,
    ) -> Result<Vec<(NaiveDate, String)>, PgError> {
        let (account, level) = (account.to_string(), level.to_string());
        self.q(move |c| {
            let rows = c.query(
                "SELECT day, body FROM adsctl_metrics_days
                 WHERE account = $1 AND level = $2 AND day BETWEEN $3 AND $4 ORDER BY day",
                &[&account, &level, &since, &until],
            )?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    /// The accounts with a cached read.
    pub fn cached_accounts(&self) -> Result<Vec<String>, PgError> {
        self.q(|c| {
            let rows = c.query("SELECT account FROM adsctl_cache ORDER BY account", &[])?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }
}

fn encode<T: serde::Serialize>(what: &str, v: &T) -> Result<String, StateError> {
    serde_json::to_string(v).map_err(|e| StateError::Storage(format!("cannot encode {what}: {e}")))
}

fn decode<T: serde::de::DeserializeOwned>(key: String, body: &str) -> Result<T, StateError> {
    serde_json::from_str(body).map_err(|e| StateError::Corrupt {
        key,
        message: e.to_string(),
    })
}

impl StateStore for PgStore {
    fn cache_get(&self, account: &str) -> Result<Option<CachedLive>, StateError> {
        let acc = account.to_string();
        let row = self.q(move |c| {
            let row = c.query_opt(
                "SELECT fetched_at, marker, fingerprint, resources FROM adsctl_cache WHERE account = $1",
                &[&acc],
            )?;
            Ok(row.map(|r| {
                (
                    r.get::<_, String>(0),
                    r.get::<_, Option<String>>(1),
                    r.get::<_, String>(2),
                    r.get::<_, String>(3),
                )
            }))
        })?;
        let Some((fetched_at, marker, fingerprint, resources)) = row else {
            return Ok(None);
        };
        let read = DateTime::parse_from_rfc3339(&fetched_at)
            .map_err(|e| e.to_string())
            .and_then(|at| {
                Ok((
                    at.with_timezone(&Utc),
                    serde_json::from_str::<Vec<Resource>>(&resources).map_err(|e| e.to_string())?,
                ))
            });
        match read {
            Ok((fetched_at, resources)) => Ok(Some(CachedLive {
                fetched_at,
                marker,
                resources,
                fingerprint: Some(fingerprint),
            })),
            Err(e) => {
                // only a cache: dropped, and the next read of the account is a full one
                tracing::warn!(account, error = %e, "the cached live state is unreadable: read again in full");
                let acc = account.to_string();
                self.q(move |c| c.execute("DELETE FROM adsctl_cache WHERE account = $1", &[&acc]))?;
                Ok(None)
            }
        }
    }

    fn cache_put(
        &self,
        account: &str,
        fetched_at: DateTime<Utc>,
        marker: Option<&str>,
        resources: &[Resource],
    ) -> Result<(), StateError> {
        self.cache_put_in(None, account, fetched_at, marker, resources)
    }

    fn entries(&self, account: Option<&str>) -> Result<Vec<StateEntry>, StateError> {
        self.entries_of(account)
    }

    fn entry(&self, address: &Address) -> Result<Option<StateEntry>, StateError> {
        self.entry_at(address)
    }

    fn put_entry(&self, entry: &StateEntry) -> Result<(), StateError> {
        self.put_entry_in(None, entry)
    }

    fn remove_entry(&self, address: &Address) -> Result<bool, StateError> {
        self.remove_entry_in(None, address)
    }

    fn journal_add(&self, intents: &[Intent]) -> Result<Vec<u64>, StateError> {
        self.journal_add_in(None, intents)
    }

    fn journal_pending(&self, account: Option<&str>) -> Result<Vec<(u64, Intent)>, StateError> {
        self.journal_pending_of(account)
    }

    fn journal_resolve(&self, key: u64) -> Result<(), StateError> {
        self.journal_resolve_in(None, key)
    }

    fn record_apply(&self, entry: &ApplyRecord) -> Result<(), StateError> {
        self.record_apply_in(None, entry)
    }

    fn apply_records(&self) -> Result<Vec<ApplyRecord>, StateError> {
        self.apply_records_all()
    }

    /// Every write was committed before it returned.
    fn flush(&self) -> Result<(), StateError> {
        Ok(())
    }
}

/// The state's records, written with a [`Fence`] (a replica's reconcile: checked in the write's transaction) or
/// without (the CLI, under the apply lock).
impl PgStore {
    pub(crate) fn cache_put_in(
        &self,
        fence: Option<&Fence>,
        account: &str,
        fetched_at: DateTime<Utc>,
        marker: Option<&str>,
        resources: &[Resource],
    ) -> Result<(), StateError> {
        let fingerprint = adsctl_core::model::live_fingerprint(resources);
        let body = encode("the cached live state", &resources)?;
        let (account, marker) = (account.to_string(), marker.map(str::to_string));
        let fetched_at = fetched_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        self.write(fence, false, move |c| {
            c.execute(
                "INSERT INTO adsctl_cache (account, fetched_at, marker, fingerprint, resources)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (account) DO UPDATE SET fetched_at = EXCLUDED.fetched_at, marker = EXCLUDED.marker,
                     fingerprint = EXCLUDED.fingerprint, resources = EXCLUDED.resources",
                &[&account, &fetched_at, &marker, &fingerprint, &body],
            )
        })?;
        Ok(())
    }

    pub(crate) fn entries_of(&self, account: Option<&str>) -> Result<Vec<StateEntry>, StateError> {
        let account = account.map(str::to_string);
        let rows = self.q(move |c| {
            let rows = match &account {
                Some(a) => c.query("SELECT address, body FROM adsctl_entries WHERE account = $1", &[a])?,
                None => c.query("SELECT address, body FROM adsctl_entries", &[])?,
            };
            Ok(rows
                .iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
                .collect::<Vec<_>>())
        })?;
        let mut out = rows
            .into_iter()
            .map(|(k, body)| decode::<StateEntry>(format!("ids/{k}"), &body))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(out)
    }

    pub(crate) fn entry_at(&self, address: &Address) -> Result<Option<StateEntry>, StateError> {
        let key = address.to_string();
        let k = key.clone();
        let body = self.q(move |c| {
            let row = c.query_opt("SELECT body FROM adsctl_entries WHERE address = $1", &[&k])?;
            Ok(row.map(|r| r.get::<_, String>(0)))
        })?;
        body.map(|b| decode(format!("ids/{key}"), &b)).transpose()
    }

    pub(crate) fn put_entry_in(&self, fence: Option<&Fence>, entry: &StateEntry) -> Result<(), StateError> {
        let body = encode("an id map entry", entry)?;
        let (address, account) = (entry.address.to_string(), entry.address.account.clone());
        self.write(fence, false, move |c| {
            c.execute(
                "INSERT INTO adsctl_entries (address, account, body) VALUES ($1, $2, $3)
                 ON CONFLICT (address) DO UPDATE SET account = EXCLUDED.account, body = EXCLUDED.body",
                &[&address, &account, &body],
            )
        })?;
        Ok(())
    }

    pub(crate) fn remove_entry_in(&self, fence: Option<&Fence>, address: &Address) -> Result<bool, StateError> {
        let key = address.to_string();
        let n = self.write(fence, false, move |c| {
            c.execute("DELETE FROM adsctl_entries WHERE address = $1", &[&key])
        })?;
        Ok(n > 0)
    }

    pub(crate) fn journal_add_in(&self, fence: Option<&Fence>, intents: &[Intent]) -> Result<Vec<u64>, StateError> {
        if intents.is_empty() {
            return Ok(Vec::new());
        }
        let rows = intents
            .iter()
            .map(|i| Ok((i.account.clone(), encode("a journal entry", i)?)))
            .collect::<Result<Vec<_>, StateError>>()?;
        // one transaction: all the intents or none
        let keys = self.write(fence, true, move |c| {
            let mut keys = Vec::with_capacity(rows.len());
            for (account, body) in &rows {
                keys.push(
                    c.query_one(
                        "INSERT INTO adsctl_journal (account, body) VALUES ($1, $2) RETURNING key",
                        &[account, body],
                    )?
                    .get::<_, i64>(0),
                );
            }
            Ok(keys)
        })?;
        keys.into_iter()
            .map(|k| u64::try_from(k).map_err(|_| StateError::Storage(format!("a negative journal key {k}"))))
            .collect()
    }

    pub(crate) fn journal_pending_of(&self, account: Option<&str>) -> Result<Vec<(u64, Intent)>, StateError> {
        let account = account.map(str::to_string);
        let rows = self.q(move |c| {
            let rows = match &account {
                Some(a) => c.query(
                    "SELECT key, body FROM adsctl_journal WHERE account = $1 ORDER BY key",
                    &[a],
                )?,
                None => c.query("SELECT key, body FROM adsctl_journal ORDER BY key", &[])?,
            };
            Ok(rows
                .iter()
                .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)))
                .collect::<Vec<_>>())
        })?;
        rows.into_iter()
            .map(|(k, body)| {
                let intent = decode::<Intent>(format!("journal/{k}"), &body)?;
                let key = u64::try_from(k).map_err(|_| StateError::Storage(format!("a negative journal key {k}")))?;
                Ok((key, intent))
            })
            .collect()
    }

    pub(crate) fn journal_resolve_in(&self, fence: Option<&Fence>, key: u64) -> Result<(), StateError> {
        // a key beyond i64 was never handed out
        let Ok(key) = i64::try_from(key) else {
            return Ok(());
        };
        self.write(fence, false, move |c| {
            c.execute("DELETE FROM adsctl_journal WHERE key = $1", &[&key])
        })?;
        Ok(())
    }

    pub(crate) fn record_apply_in(&self, fence: Option<&Fence>, entry: &ApplyRecord) -> Result<(), StateError> {
        let body = encode("an apply record", entry)?;
        self.write(fence, false, move |c| {
            c.execute("INSERT INTO adsctl_applies (body) VALUES ($1)", &[&body])
        })?;
        Ok(())
    }

    pub(crate) fn apply_records_all(&self) -> Result<Vec<ApplyRecord>, StateError> {
        let rows = self.q(|c| {
            let rows = c.query("SELECT seq, body FROM adsctl_applies ORDER BY seq", &[])?;
            Ok(rows
                .iter()
                .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)))
                .collect::<Vec<_>>())
        })?;
        rows.into_iter()
            .map(|(k, body)| decode(format!("history/{k}"), &body))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shown_target_has_no_password_nor_query() {
        let t = Target::of("postgres://ads:s3cret@db.example:5433/adsctl?password=other&sslmode=disable").unwrap();
        assert_eq!(t.to_string(), "postgres://ads@db.example:5433/adsctl");
        assert!(Target::of("host=db password=s3cret").is_none());
    }

    #[test]
    fn a_bad_url_is_refused_without_echoing_it() {
        let e = PgStore::connect("postgres://ads:s3cret@db.example:notaport/adsctl").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = PgStore::connect("mysql://ads:s3cret@db/adsctl").unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(e.hint().is_some());
    }

    #[test]
    fn migrations_are_numbered_in_order_from_one() {
        assert_eq!(MIGRATIONS[0].version, 1);
        for w in MIGRATIONS.windows(2) {
            assert!(w[0].version < w[1].version, "{} before {}", w[0].name, w[1].name);
        }
    }
}
