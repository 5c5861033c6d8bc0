//! The real [`Reconciler`]: the engine's library API (spec load, incremental refresh, plan, guardrails, apply).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::Utc;
use tracing::Instrument;

use super::lease::Fenced;
use super::{ApiCalls, LoadError, Mode, PlanSummary, ReconcileError, ReconcileOutcome, Reconciler, ReviewIssue};
use crate::apply::{ChangeOutcome, ExecOptions, Target};
use crate::connectors::{
    ApplyBatch, Capabilities, Connector, ConnectorError, DateRange, Health, LiveSnapshot, MetricRow, MetricsLevel,
    OpOutcome, ReadRequest,
};
use crate::model::{Account, Address, Money};
use crate::plan::live::ReadMode;
use crate::plan::{Action, Plan, PlanError, PlanErrors, PlanOptions};
use crate::spec::Project;
use crate::state::{ApplyLock, SledStore, StateError, StateStore};
use crate::store::{PgError, PgStore};

/// Picks the connector of an account (the registry by default; tests inject their own).
pub type ConnectorResolver = dyn Fn(&Account) -> Result<Arc<dyn Connector>, ConnectorError> + Send + Sync;

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot watch the state in {path}: {message}")]
    Locked {
        path: PathBuf,
        message: String,
        hint: String,
    },
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Postgres(#[from] PgError),
    /// The `state:` key of adsctl.yaml is wrong, or names a URL variable that is not set.
    #[error(transparent)]
    Select(#[from] crate::store::SelectError),
}

impl OpenError {
    pub fn hint(&self) -> Option<String> {
        match self {
            OpenError::Locked { hint, .. } => Some(hint.clone()),
            OpenError::State(e) => e.hint(),
            OpenError::Postgres(e) => e.hint(),
            OpenError::Select(e) => e.hint(),
        }
    }
}

/// The state store and the apply lock, held together while at least one reconcile needs them.
struct Session {
    store: SledStore,
    _lock: ApplyLock,
}

/// The state one reconcile works on.
enum ReconcileState {
    /// sled in the state directory, under the apply lock.
    Sled(Arc<Session>),
    /// The PostgreSQL state, every write fenced by the account's lease.
    Postgres(adsctl_state_pg::FencedStore),
}

impl ReconcileState {
    fn store(&self) -> &dyn StateStore {
        match self {
            ReconcileState::Sled(s) => &s.store,
            ReconcileState::Postgres(s) => s,
        }
    }
}

impl StateStore for ReconcileState {
    fn cache_get(&self, account: &str) -> Result<Option<crate::state::CachedLive>, StateError> {
        self.store().cache_get(account)
    }
    fn cache_put(
        &self,
        account: &str,
        fetched_at: chrono::DateTime<Utc>,
        marker: Option<&str>,
        resources: &[crate::model::Resource],
    ) -> Result<(), StateError> {
        self.store().cache_put(account, fetched_at, marker, resources)
    }
    fn entries(&self, account: Option<&str>) -> Result<Vec<crate::state::StateEntry>, StateError> {
        self.store().entries(account)
    }
    fn entry(&self, address: &Address) -> Result<Option<crate::state::StateEntry>, StateError> {
        self.store().entry(address)
    }
    fn put_entry(&self, entry: &crate::state::StateEntry) -> Result<(), StateError> {
        self.store().put_entry(entry)
    }
    fn remove_entry(&self, address: &Address) -> Result<bool, StateError> {
        self.store().remove_entry(address)
    }
    fn journal_add(&self, intents: &[crate::state::Intent]) -> Result<Vec<u64>, StateError> {
        self.store().journal_add(intents)
    }
    fn journal_pending(&self, account: Option<&str>) -> Result<Vec<(u64, crate::state::Intent)>, StateError> {
        self.store().journal_pending(account)
    }
    fn journal_resolve(&self, key: u64) -> Result<(), StateError> {
        self.store().journal_resolve(key)
    }
    fn record_apply(&self, entry: &crate::state::ApplyRecord) -> Result<(), StateError> {
        self.store().record_apply(entry)
    }
    fn apply_records(&self) -> Result<Vec<crate::state::ApplyRecord>, StateError> {
        self.store().apply_records()
    }
    fn flush(&self) -> Result<(), StateError> {
        self.store().flush()
    }
}

impl crate::metrics::series::SeriesStore for ReconcileState {
    fn day_put(
        &self,
        account: &str,
        level: MetricsLevel,
        date: chrono::NaiveDate,
        day: &crate::metrics::series::StoredDay,
    ) -> Result<(), StateError> {
        match self {
            ReconcileState::Sled(s) => s.store.day_put(account, level, date, day),
            ReconcileState::Postgres(s) => {
                let body = serde_json::to_string(day).map_err(|e| StateError::Storage(e.to_string()))?;
                Ok(s.day_put(account, crate::metrics::pull_level_str(level), date, &body)?)
            }
        }
    }

    fn days(
        &self,
        account: &str,
        level: MetricsLevel,
        since: chrono::NaiveDate,
        until: chrono::NaiveDate,
    ) -> Result<BTreeMap<chrono::NaiveDate, crate::metrics::series::StoredDay>, StateError> {
        match self {
            ReconcileState::Sled(s) => s.store.days(account, level, since, until),
            ReconcileState::Postgres(s) => stored_days(
                account,
                s.days(account, crate::metrics::pull_level_str(level), since, until)?,
            ),
        }
    }
}

/// The metrics days the PostgreSQL state keeps as JSON text, read back.
fn stored_days(
    account: &str,
    rows: Vec<(chrono::NaiveDate, String)>,
) -> Result<BTreeMap<chrono::NaiveDate, crate::metrics::series::StoredDay>, StateError> {
    rows.into_iter()
        .map(|(date, body)| {
            let day = serde_json::from_str(&body).map_err(|e| StateError::Corrupt {
                key: format!("metrics/{account}/{date}"),
                message: e.to_string(),
            })?;
            Ok((date, day))
        })
        .collect()
}

/// Reconciles accounts through the engine. Holds the state store and the apply lock only while it reconciles
/// ([`EngineReconciler::session`]): between reconciles `adsctl plan`, `state`, `metrics` and `apply` use the
/// same state, and a command waiting for it (`queue.lock`) gets in before the next reconcile starts.
pub struct EngineReconciler {
    dir: PathBuf,
    state_dir: PathBuf,
    /// The open session, while a reconcile holds it.
    session: tokio::sync::Mutex<std::sync::Weak<Session>>,
    /// The state on PostgreSQL (`ADSCTL_STATE_URL`): shared by every replica, each reconcile under its lease.
    pg: Option<Arc<PgStore>>,
    /// The state could be opened (and was recovered if damaged) at start; false after shutdown.
    ready: std::sync::atomic::AtomicBool,
    resolver: Box<ConnectorResolver>,
    connectors: Mutex<BTreeMap<String, (Arc<Instrumented>, Account)>>,
    auth: crate::auth::Auth,
    health_writes: Mutex<()>,
    /// The metrics sync, on its own interval (`ADSCTL_METRICS_INTERVAL_SECS`).
    metrics: crate::metrics::live::LiveSync,
}

/// Counts every call of the connector by outcome (`ok`, or the error's code), for the API metrics. One call may
/// be several HTTP requests (paging, retries inside the connector).
struct Instrumented {
    inner: Arc<dyn Connector>,
    tally: Mutex<BTreeMap<(String, bool), u64>>,
}

fn error_code(e: &ConnectorError) -> String {
    match e {
        ConnectorError::Api { code, .. } => code.clone(),
        ConnectorError::Auth { .. } => "auth".into(),
        ConnectorError::Quota { .. } => "quota".into(),
        ConnectorError::Transport { .. } => "transport".into(),
        ConnectorError::Config(_) => "config".into(),
        ConnectorError::Wait(_) => "rate_limited".into(),
    }
}

impl Instrumented {
    fn record<T>(&self, r: &Result<T, ConnectorError>) {
        let key = match r {
            Ok(_) => ("ok".to_string(), false),
            Err(e) => (error_code(e), true),
        };
        *self
            .tally
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default() += 1;
    }
    fn take(&self) -> Vec<ApiCalls> {
        let platform = self.inner.platform().as_str().to_string();
        std::mem::take(&mut *self.tally.lock().unwrap_or_else(PoisonError::into_inner))
            .into_iter()
            .map(|((code, error), count)| ApiCalls {
                platform: platform.clone(),
                code,
                count,
                error,
            })
            .collect()
    }
}

#[async_trait]
impl Connector for Instrumented {
    fn platform(&self) -> crate::model::Platform {
        self.inner.platform()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn read(&self, account: &Account, req: &ReadRequest) -> Result<LiveSnapshot, ConnectorError> {
        let r = self.inner.read(account, req).await;
        self.record(&r);
        r
    }
    async fn apply(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        let r = self.inner.apply(account, batch).await;
        self.record(&r);
        r
    }
    async fn validate(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        let r = self.inner.validate(account, batch).await;
        self.record(&r);
        r
    }
    async fn health(&self, account: &Account) -> Result<Health, ConnectorError> {
        let r = self.inner.health(account).await;
        self.record(&r);
        r
    }
    async fn acquire_lease(
        &self,
        account: &Account,
        holder: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
        take_over: Option<&str>,
    ) -> Result<crate::connectors::LeaseOutcome, ConnectorError> {
        let r = self.inner.acquire_lease(account, holder, expires_at, take_over).await;
        self.record(&r);
        r
    }
    async fn renew_lease(
        &self,
        account: &Account,
        lease: &crate::connectors::Lease,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ConnectorError> {
        let r = self.inner.renew_lease(account, lease, expires_at).await;
        self.record(&r);
        r
    }
    async fn release_lease(&self, account: &Account, lease: &crate::connectors::Lease) -> Result<(), ConnectorError> {
        let r = self.inner.release_lease(account, lease).await;
        self.record(&r);
        r
    }
    async fn metrics(
        &self,
        account: &Account,
        level: MetricsLevel,
        range: DateRange,
    ) -> Result<Vec<MetricRow>, ConnectorError> {
        let r = self.inner.metrics(account, level, range).await;
        self.record(&r);
        r
    }
}

impl EngineReconciler {
    /// Open the state of the project in `dir` (`$ADSCTL_STATE_DIR` or `dir/.adsctl`) and take its lock; accounts
    /// get their connector from the registry (`ADSCTL_BACKEND` selects the memory backend).
    pub async fn open(dir: &Path) -> Result<EngineReconciler, OpenError> {
        Self::open_with(dir, Box::new(crate::platforms::connector_for)).await
    }

    pub async fn open_with(dir: &Path, resolver: Box<ConnectorResolver>) -> Result<EngineReconciler, OpenError> {
        let state_dir = crate::state::state_dir(dir);
        let pg = match crate::store::Location::of_project(dir)? {
            // Shared by the replicas: no apply lock; every reconcile runs under the account's lease.
            crate::store::Location::Postgres(url) => Some(Arc::new(
                tokio::task::spawn_blocking(move || PgStore::open_resilient(&url, PG_IO_TIMEOUT))
                    .await
                    .map_err(|e| OpenError::State(StateError::Storage(e.to_string())))??,
            )),
            crate::store::Location::Dir(_) => {
                // Opened once now, so that a state that cannot be used (a daemon already running on it, a damaged
                // database, no permission) stops the daemon at start; then given back until the first reconcile.
                let first = Self::open_session(&state_dir, OPEN_AT_START).await?;
                if let Some(stale) = &first._lock.stale {
                    tracing::warn!(previous = %stale, "took over the lock of an adsctl that stopped without releasing it");
                }
                drop(first);
                None
            }
        };
        // The project's token vault is the connectors' credential source (then the environment).
        crate::auth::connect::activate(dir);
        Ok(EngineReconciler {
            dir: dir.to_path_buf(),
            state_dir,
            session: tokio::sync::Mutex::new(std::sync::Weak::new()),
            pg,
            ready: std::sync::atomic::AtomicBool::new(true),
            resolver,
            connectors: Mutex::new(BTreeMap::new()),
            auth: crate::auth::Auth::for_project(dir),
            health_writes: Mutex::new(()),
            metrics: crate::metrics::live::LiveSync::from_env(),
        })
    }

    /// The account's connector, made once and kept (a changed platform or endpoint makes a new one).
    fn connector(&self, account: &Account) -> Result<Arc<dyn Connector>, ReconcileError> {
        let mut map = self.connectors.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((c, made_for)) = map.get(&account.name) {
            if made_for == account {
                return Ok(c.clone());
            }
        }
        let inner = (self.resolver)(account).map_err(|e| connector_error(account, e))?;
        let c = Arc::new(Instrumented {
            inner,
            tally: Mutex::new(BTreeMap::new()),
        });
        // Calls counted by a connector being replaced are carried over.
        if let Some((old, _)) = map.get(&account.name) {
            for a in old.take() {
                *c.tally
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry((a.code, a.error))
                    .or_default() += a.count;
            }
        }
        map.insert(account.name.clone(), (c.clone(), account.clone()));
        Ok(c)
    }
}

/// On PostgreSQL, how long a state call waits for a database that stopped answering before it fails (the
/// connection is made again by the next call).
const PG_IO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long the daemon waits for the state at start (another command may be using it for a moment).
const OPEN_AT_START: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a reconcile waits for the state while other commands use it before it gives up (and is retried
/// with backoff): `ADSCTL_STATE_WAIT_SECS`, default 10 minutes.
fn state_wait() -> std::time::Duration {
    std::env::var("ADSCTL_STATE_WAIT_SECS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map(std::time::Duration::from_secs)
        .unwrap_or(std::time::Duration::from_secs(600))
}

impl EngineReconciler {
    /// Take the apply lock, then open the store (the order every adsctl command takes them in), on a blocking
    /// thread; `wait` bounds the wait while another command holds either.
    async fn open_session(state_dir: &Path, wait: std::time::Duration) -> Result<Session, OpenError> {
        let state_dir = state_dir.to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<Session, OpenError> {
            let deadline = std::time::Instant::now() + wait;
            loop {
                let lock = match ApplyLock::acquire(&state_dir) {
                    Ok(l) => l,
                    Err(crate::state::LockError::Held { .. }) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        continue;
                    }
                    Err(e) => {
                        return Err(OpenError::Locked {
                            path: state_dir.clone(),
                            hint: match &e {
                                crate::state::LockError::Held { .. } => "another adsctl (an apply, or a second \
                                                                          daemon) kept this state's apply lock: \
                                                                          stop it, or give this daemon its own \
                                                                          ADSCTL_STATE_DIR"
                                    .to_string(),
                                crate::state::LockError::Io { .. } => e.hint(),
                            },
                            message: e.to_string(),
                        })
                    }
                };
                match SledStore::open(&state_dir) {
                    Ok(store) => return Ok(Session { store, _lock: lock }),
                    Err(StateError::Busy { .. }) if std::time::Instant::now() < deadline => {
                        // a reader (plan, state, metrics) has the store: give the lock back while it finishes
                        drop(lock);
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                    Err(e) => return Err(OpenError::State(e)),
                }
            }
        })
        .await
        .map_err(|e| OpenError::State(StateError::Storage(e.to_string())))?
    }

    /// The state for one reconcile: the open session when there is one and no command waits for the state;
    /// otherwise a new one once the waiting commands got in.
    async fn session(&self) -> Result<Arc<Session>, ReconcileError> {
        let deadline = std::time::Instant::now() + state_wait();
        loop {
            {
                let mut current = self.session.lock().await;
                let queued = crate::state::someone_queued(&self.state_dir);
                let open = current.upgrade();
                match (open, queued) {
                    (Some(s), false) => return Ok(s),
                    (None, false) => {
                        let left = deadline.saturating_duration_since(std::time::Instant::now());
                        match Self::open_session(&self.state_dir, left).await {
                            Ok(s) => {
                                let s = Arc::new(s);
                                *current = Arc::downgrade(&s);
                                return Ok(s);
                            }
                            Err(e) => {
                                return Err(ReconcileError::State {
                                    hint: e.hint(),
                                    message: e.to_string(),
                                })
                            }
                        }
                    }
                    // A command waits: let the reconciles that hold the state finish, and it in, first.
                    (_, true) => {}
                }
            }
            if std::time::Instant::now() >= deadline {
                return Err(ReconcileError::State {
                    message: "other adsctl commands kept the state the whole time this reconcile waited for it".into(),
                    hint: Some("it is retried; ADSCTL_STATE_WAIT_SECS sets how long a reconcile waits".into()),
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// How long a read of the API (metrics) waits for the state while another command holds it.
const READ_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl EngineReconciler {
    /// The state for a short read of the API: the open session when a reconcile holds one, else a new one
    /// (waiting at most [`READ_WAIT`] for other commands; a reconcile starting meanwhile shares it).
    async fn session_for_read(&self) -> Result<Arc<Session>, StateError> {
        let mut current = self.session.lock().await;
        if let Some(s) = current.upgrade() {
            return Ok(s);
        }
        let s = Arc::new(
            Self::open_session(&self.state_dir, READ_WAIT)
                .await
                .map_err(|e| match e {
                    OpenError::State(e) => e,
                    OpenError::Postgres(e) => e.into(),
                    OpenError::Locked { message, .. } => StateError::Storage(message),
                    OpenError::Select(e) => StateError::Storage(e.to_string()),
                })?,
        );
        *current = Arc::downgrade(&s);
        Ok(s)
    }
}

fn connector_error(account: &Account, e: ConnectorError) -> ReconcileError {
    let platform = account.platform.as_str().to_string();
    let hint = e.hint().map(str::to_string);
    match e {
        ConnectorError::Auth { message, hint } => ReconcileError::Auth {
            platform,
            message,
            hint,
        },
        ConnectorError::Quota { message, hint } => ReconcileError::Api {
            platform,
            code: "quota".into(),
            message,
            hint: Some(hint),
            retry_after: None,
        },
        ConnectorError::Api { code, message, .. } => ReconcileError::Api {
            platform,
            code,
            message,
            hint,
            retry_after: None,
        },
        ConnectorError::Transport { url, message } => ReconcileError::Api {
            platform,
            code: "transport".into(),
            message: format!("could not reach {url}: {message}"),
            hint,
            retry_after: None,
        },
        // Reconcile again when the platform lets us (the daemon's backoff keeps this as its floor).
        ConnectorError::Wait(w) => ReconcileError::Api {
            platform,
            code: "rate_limited".into(),
            retry_after: Some(w.remaining()),
            hint: Some(format!(
                "the daemon reconciles this account again after {}",
                w.until.format("%Y-%m-%d %H:%M:%S UTC")
            )),
            message: w.to_string(),
        },
        ConnectorError::Config(message) => ReconcileError::Plan {
            message,
            hint: Some("check the account's settings in adsctl.yaml and the credentials".into()),
        },
    }
}

fn plan_errors(account: &Account, errs: PlanErrors) -> ReconcileError {
    // A platform error decides the kind (and the backoff); otherwise report every planning problem.
    let mut errs = errs.0;
    if let Some(i) = errs.iter().position(|e| matches!(e, PlanError::Connector { .. })) {
        if let PlanError::Connector { source, .. } = errs.swap_remove(i) {
            return connector_error(account, source);
        }
    }
    let hint = errs.iter().find_map(PlanError::hint);
    if let Some(i) = errs.iter().position(|e| matches!(e, PlanError::State(_))) {
        if let PlanError::State(e) = errs.swap_remove(i) {
            return ReconcileError::State {
                message: e.to_string(),
                hint: e.hint(),
            };
        }
    }
    let message: Vec<String> = errs.iter().map(ToString::to_string).collect();
    ReconcileError::Plan {
        message: message.join("; "),
        hint,
    }
}

/// Statuses that mean "the platform's review has not approved this" (connectors report them lower-case).
fn review_issue(address: &Address, observed: &crate::model::SmallMap<String>) -> Option<ReviewIssue> {
    let bad_approval = observed
        .get("approval_status")
        .filter(|s| !matches!(s.as_str(), "approved" | "unknown" | "unspecified"));
    let bad_effective = observed.get("effective_status").filter(|s| {
        matches!(
            s.as_str(),
            "disapproved" | "pending_review" | "with_issues" | "in_process"
        )
    });
    let status = bad_approval.or(bad_effective)?;
    let detail = ["review_feedback", "issues"]
        .iter()
        .filter_map(|k| observed.get(k))
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    Some(ReviewIssue {
        address: address.to_string(),
        status: status.clone(),
        detail,
    })
}

fn summarize<'a>(actions: impl Iterator<Item = Action> + 'a) -> PlanSummary {
    let mut s = PlanSummary::default();
    for a in actions {
        match a {
            Action::Create => s.create += 1,
            Action::Update | Action::Adopt => s.update += 1,
            Action::Replace => {
                s.remove += 1;
                s.create += 1;
            }
            Action::Pause | Action::Remove => s.remove += 1,
            Action::Orphan | Action::NoOp => {}
        }
    }
    s
}

impl EngineReconciler {
    /// Refresh the account's stored token ahead of its expiry (vault credentials only: environment credentials
    /// are refreshed by the connector on use), and say when it expires.
    async fn refresh_ahead(&self, account: &Account) -> Option<chrono::DateTime<Utc>> {
        use crate::auth::{AuthError, CredentialSource};
        match self.auth.credentials(account) {
            Ok(c) if c.source == CredentialSource::Vault => {
                if let Err(e) = self.auth.fresh_credentials(account).await {
                    tracing::warn!(account = %account.name, error = %e, hint = %e.hint(), "could not refresh the token");
                }
            }
            Ok(_) | Err(AuthError::Missing { .. }) => {}
            Err(e) => tracing::warn!(account = %account.name, error = %e, "cannot read the credentials"),
        }
        self.auth
            .status(std::slice::from_ref(account))
            .into_iter()
            .next()
            .and_then(|row| row.expires_at)
    }

    /// Today's spend and clicks (best effort: a failed metrics pull leaves them unknown and does not fail the
    /// reconcile). The daily series is synced on the metrics interval, not on every reconcile.
    async fn today(
        &self,
        connector: &dyn Connector,
        account: &Account,
        store: &dyn crate::metrics::series::SeriesStore,
    ) -> Option<(Money, u64)> {
        match self.metrics.today(connector, account, store).await {
            Ok(t) => Some((t.sums.cost, t.sums.clicks)),
            Err(e) => {
                tracing::debug!(account = %account.name, error = %e, "metrics pull failed");
                None
            }
        }
    }
}

#[async_trait]
impl Reconciler for EngineReconciler {
    async fn load(&self) -> Result<Project, LoadError> {
        let dir = self.dir.clone();
        let loaded = tokio::task::spawn_blocking(move || crate::spec::load(&dir))
            .await
            .map_err(|e| LoadError {
                message: format!("loading the config stopped: {e}"),
                diagnostics: vec![],
                io: true,
            })?;
        loaded.map_err(|errs| {
            let n = errs.len();
            // A file that could not be read says nothing about the edit (out of file descriptors, replaced while
            // being read): read again, do not report an invalid config.
            let io = errs.errors.iter().any(|e| e.code == crate::spec::Code::Io);
            LoadError {
                message: if io {
                    "the config directory could not be read; reading it again".to_string()
                } else {
                    format!(
                        "{n} problem{} in the config; nothing of this edit is applied",
                        if n == 1 { "" } else { "s" }
                    )
                },
                diagnostics: errs.errors.iter().map(ToString::to_string).collect(),
                io,
            }
        })
    }

    async fn reconcile(
        &self,
        project: &Project,
        account: &Account,
        mode: Mode,
    ) -> Result<ReconcileOutcome, ReconcileError> {
        if self.pg.is_some() {
            return Err(ReconcileError::State {
                message: "a reconcile on the PostgreSQL state runs only under the account's lease".into(),
                hint: Some("run `adsctl watch` (it takes the leases) rather than calling the engine directly".into()),
            });
        }
        let connector = self.connector(account)?;
        let session = self.session().await?;
        // A database found damaged by an earlier reconcile is replaced now, between two reconciles (the daemon
        // lives on; a one-shot command leaves it to the next run).
        match session.store.recover_if_broken() {
            Ok(true) => tracing::warn!("the state database was damaged: set it aside and started a new one"),
            Ok(false) => {}
            Err(e) => {
                return Err(ReconcileError::State {
                    hint: e.hint(),
                    message: e.to_string(),
                })
            }
        }
        self.reconcile_in(
            project,
            account,
            mode,
            Arc::new(ReconcileState::Sled(session)),
            connector,
        )
        .await
    }

    async fn reconcile_leased(
        &self,
        project: &Project,
        account: &Account,
        mode: Mode,
        lease: &super::AccountLease,
    ) -> Result<ReconcileOutcome, ReconcileError> {
        let Some(pg) = &self.pg else {
            return self.reconcile(project, account, mode).await;
        };
        let check = lease.check().clone();
        let state = ReconcileState::Postgres(adsctl_state_pg::FencedStore::new(pg.clone(), check.fence()));
        // Every platform write of this reconcile is started only while the lease is this replica's.
        let connector: Arc<dyn Connector> = Arc::new(Fenced {
            inner: self.connector(account)?,
            check,
        });
        self.reconcile_in(project, account, mode, Arc::new(state), connector)
            .await
    }

    fn take_api_calls(&self, account: &str) -> Vec<ApiCalls> {
        let map = self.connectors.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(account).map(|(c, _)| c.take()).unwrap_or_default()
    }

    fn state_ready(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn metrics_report(
        &self,
        project: &Project,
        accounts: &[String],
        query: &super::MetricsQuery,
    ) -> Result<crate::metrics::Report, crate::metrics::MetricsError> {
        use crate::metrics::{report::AccountInput, SeriesStore};
        let pull = query.level.pull_level();
        if let Some(pg) = &self.pg {
            // One of several replicas: the metrics every replica pulled are in the shared state.
            let mut inputs = Vec::new();
            for name in accounts {
                let Some(account) = project.accounts.get(name) else {
                    continue;
                };
                let level = crate::metrics::pull_level_str(pull);
                let rows = pg
                    .days(name, level, query.range.since, query.range.until)
                    .map_err(StateError::from)?;
                let (days, addresses) = crate::metrics::arms::for_level(
                    query.level,
                    &project.resources,
                    name,
                    stored_days(name, rows)?,
                    crate::metrics::addresses(&**pg, &project.resources, name)?,
                );
                inputs.push(AccountInput {
                    account,
                    addresses,
                    days,
                });
            }
            return Ok(crate::metrics::Report::build(
                &inputs,
                query.range,
                query.level,
                query.by,
            ));
        }
        let session = self.session_for_read().await?;
        let mut inputs = Vec::new();
        for name in accounts {
            let Some(account) = project.accounts.get(name) else {
                continue;
            };
            let (days, addresses) = crate::metrics::arms::for_level(
                query.level,
                &project.resources,
                name,
                session.store.days(name, pull, query.range.since, query.range.until)?,
                crate::metrics::addresses(&session.store, &project.resources, name)?,
            );
            inputs.push(AccountInput {
                account,
                addresses,
                days,
            });
        }
        Ok(crate::metrics::Report::build(
            &inputs,
            query.range,
            query.level,
            query.by,
        ))
    }

    async fn shutdown(&self) {
        self.ready.store(false, std::sync::atomic::Ordering::Relaxed);
        if let Some(s) = self.session.lock().await.upgrade() {
            if let Err(e) = s.store.flush() {
                tracing::error!(error = %e, "could not flush the state");
            }
        }
    }
}

impl EngineReconciler {
    /// One reconcile on `state` (the sled session, or the PostgreSQL state fenced by the account's lease).
    async fn reconcile_in(
        &self,
        project: &Project,
        account: &Account,
        mode: Mode,
        session: Arc<ReconcileState>,
        connector: Arc<dyn Connector>,
    ) -> Result<ReconcileOutcome, ReconcileError> {
        let token_expires_at = self.refresh_ahead(account).await;
        // Plan this account alone: its settings and its resources.
        let sub = Project {
            root: project.root.clone(),
            accounts: BTreeMap::from([(account.name.clone(), account.clone())]),
            resources: project
                .resources
                .iter()
                .filter(|r| r.address.account == account.name)
                .cloned()
                .collect(),
            moved: project
                .moved
                .iter()
                .filter(|m| m.to.account == account.name)
                .cloned()
                .collect(),
        };
        let mut sub = sub;
        crate::platforms::sources::resolve_spend(&mut sub.resources, &project.accounts, &*session);
        if crate::platforms::sources::any(&sub.resources) {
            crate::platforms::sources::resolve(&mut sub.resources, &project.accounts, |a| {
                self.connector(a).map_err(|e| ConnectorError::Config(e.to_string()))
            })
            .await
            .map_err(|e| ReconcileError::Plan {
                message: e.to_string(),
                hint: Some("the source account's credentials must work for this account to be planned".into()),
            })?;
        }
        let connectors = BTreeMap::from([(account.name.clone(), connector.clone())]);
        let plan: Plan = crate::plan::plan_project(
            &sub,
            &*session,
            &connectors,
            &PlanOptions::default(),
            ReadMode::Incremental,
        )
        .await
        .map_err(|e| plan_errors(account, e))?;

        let changes: Vec<_> = plan.accounts.iter().flat_map(|a| &a.changes).collect();
        let drifted: Vec<String> = changes
            .iter()
            .filter(|c| c.action.is_change() && c.fields.iter().any(|f| f.drift))
            .map(|c| c.address.to_string())
            .collect();
        let review_issues: Vec<ReviewIssue> = changes
            .iter()
            .filter_map(|c| review_issue(&c.address, &c.observed))
            .collect();
        let planned = summarize(changes.iter().map(|c| c.action));
        let blocked: Vec<String> = plan.active_blockers().map(|b| b.message.clone()).collect();
        let plan_json = serde_json::to_value(&plan).unwrap_or(serde_json::Value::Null);

        let (applied, pending) = if mode == Mode::Observe || !blocked.is_empty() || planned.total() == 0 {
            (PlanSummary::default(), planned)
        } else {
            // Changes to make: lease the account on the platform (another runner — a CI job — may be applying to
            // it), then plan again from a full read made under the lease, and apply that.
            let target = Target {
                account: account.clone(),
                connector: connector.clone(),
            };
            let leases = crate::apply::lease::acquire(vec![target.clone()], std::time::Duration::ZERO, &|_| {})
                .await
                .map_err(|e| ReconcileError::Apply {
                    hint: Some(e.hint()),
                    message: e.to_string(),
                })?;
            let replanned =
                crate::plan::plan_project(&sub, &*session, &connectors, &PlanOptions::default(), ReadMode::Full)
                    .await
                    .map_err(|e| plan_errors(account, e));
            let plan = match replanned {
                Ok(p) if !p.is_blocked() => p,
                Ok(_) | Err(_) => {
                    leases.release().await;
                    return Err(match replanned {
                        Err(e) => e,
                        Ok(p) => ReconcileError::Plan {
                            message: p
                                .active_blockers()
                                .map(|b| b.message.clone())
                                .collect::<Vec<_>>()
                                .join("; "),
                            hint: None,
                        },
                    });
                }
            };
            let targets = BTreeMap::from([(account.name.clone(), target)]);
            // The executor's future is not `Send` (its stream of borrowed account runs trips rustc's higher-
            // ranked lifetime inference), so it runs on a blocking thread driven by this runtime's handle.
            let store = session.clone();
            let to_apply = plan.clone();
            let handle = tokio::runtime::Handle::current();
            // The blocking thread does not inherit the reconcile's span: it is handed over.
            let span = tracing::Span::current();
            let report = tokio::task::spawn_blocking(move || {
                handle.block_on(
                    async move {
                        crate::apply::execute(
                            &to_apply,
                            &targets,
                            &*store,
                            &ExecOptions {
                                concurrency: 1,
                                progress: false,
                            },
                        )
                        .await
                    }
                    .instrument(span),
                )
            })
            .await;
            leases.release().await;
            let report = report
                .map_err(|e| ReconcileError::Apply {
                    message: format!("the apply stopped: {e}"),
                    hint: None,
                })?
                .map_err(|e| ReconcileError::Apply {
                    message: e.to_string(),
                    hint: None,
                })?;
            let state_dir = crate::state::state_dir(&self.dir);
            if let Err(e) = crate::audit::record_apply_report(&state_dir, &self.dir, &report) {
                tracing::warn!(error = %e, "the apply is done but could not be written to the audit log");
            }
            let applied = summarize(
                report
                    .results
                    .iter()
                    .filter(|r| matches!(r.outcome, ChangeOutcome::Succeeded { .. }))
                    .map(|r| r.action),
            );
            if !report.ok() {
                let first = report.results.iter().find_map(|r| match &r.outcome {
                    ChangeOutcome::Failed { error } => Some(format!("{}: {}", r.address, error.message)),
                    _ => None,
                });
                return Err(ReconcileError::Apply {
                    message: format!(
                        "{} of {} changes failed, {} skipped{}",
                        report.failed(),
                        report.results.len(),
                        report.skipped(),
                        first.map(|f| format!(" (first: {f})")).unwrap_or_default()
                    ),
                    hint: report.results.iter().find_map(|r| match &r.outcome {
                        ChangeOutcome::Failed { error } => error.hint.clone(),
                        _ => None,
                    }),
                });
            }
            (applied, PlanSummary::default())
        };
        let today = self.today(connector.as_ref(), account, &*session).await;
        drop(session);
        {
            // The integration health file is rewritten whole: one writer at a time.
            let _one = self.health_writes.lock().unwrap_or_else(PoisonError::into_inner);
            self.auth.record_sync(&account.name);
        }
        Ok(ReconcileOutcome {
            drifted,
            pending,
            applied,
            blocked,
            plan: plan_json,
            review_issues,
            token_expires_at,
            spend_today: today.map(|t| t.0),
            clicks_today: today.map(|t| t.1),
            rate_limit_wait: crate::connectors::telemetry::take_rate_limit_wait(&account.platform_id),
            requeue_after: None,
        })
    }
}
