//! What the daemon knows about itself and every account, shared by the workers and the status server.

use std::collections::BTreeMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::metrics::Metrics;
use super::{LoadError, Mode, PlanSummary, ReconcileError, ReconcileOutcome, ReviewIssue};
use crate::model::Account;

/// The health of one account, as shown on the status page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountHealth {
    /// Not reconciled yet.
    Pending,
    /// Live state matches the desired state (or was just made to).
    InSync,
    /// Observe mode: drift or pending changes found, not applied.
    Drifted,
    /// A guardrail refused the plan; nothing applied.
    Blocked,
    /// The last reconcile failed; the account is backing off.
    Failing,
}

impl AccountHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountHealth::Pending => "pending",
            AccountHealth::InSync => "in_sync",
            AccountHealth::Drifted => "drifted",
            AccountHealth::Blocked => "blocked",
            AccountHealth::Failing => "failing",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ErrorInfo {
    pub kind: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    pub at: DateTime<Utc>,
}

/// The JSON status of one account (`/api/v1/status`).
#[derive(Clone, Debug, Serialize)]
pub struct AccountStatus {
    pub account: String,
    pub platform: String,
    pub currency: String,
    pub status: AccountHealth,
    /// A reconcile is running right now.
    pub reconciling: bool,
    pub last_attempt: Option<DateTime<Utc>>,
    /// The last successful reconcile.
    pub last_sync: Option<DateTime<Utc>>,
    pub last_error: Option<ErrorInfo>,
    pub consecutive_failures: u32,
    pub next_reconcile_at: Option<DateTime<Utc>>,
    /// Resources that differed from the desired state at the last reconcile.
    pub drift: Vec<String>,
    /// Changes planned and not applied.
    pub pending: PlanSummary,
    /// Changes applied by the last reconcile.
    pub last_applied: PlanSummary,
    /// Guardrail violations that stopped the last apply.
    pub blocked: Vec<String>,
    pub review_issues: Vec<ReviewIssue>,
    pub token_expires_at: Option<DateTime<Utc>>,
    /// Spend today, formatted in the account's currency.
    pub spend_today: Option<String>,
    /// Clicks today.
    pub clicks_today: Option<u64>,
    pub reconciles: u64,
    #[serde(skip)]
    pub plan: serde_json::Value,
}

/// What the daemon saw of one account beyond its [`AccountStatus`]: when it last applied, and its rate limit
/// (for the integrations of the API, [`super::integrations`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AccountActivity {
    /// The last reconcile of this daemon that applied at least one change.
    pub last_apply_at: Option<DateTime<Utc>>,
    /// What the daemon knows of the platform's rate limit for this account.
    pub rate_limit: RateLimitState,
}

/// What the daemon knows of an account's rate limit: the last time the platform slowed it down, how long it
/// waited then, and the time the platform said to wait until (a reconcile that failed on it).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RateLimitState {
    /// The last reconcile that waited for the rate limit, or failed on it.
    pub last_signal_at: Option<DateTime<Utc>>,
    /// Seconds the last such reconcile waited for the platform (token buckets, `Retry-After`).
    pub last_wait_seconds: f64,
    /// The platform asked to wait until then: the account is reconciled again after it.
    pub waiting_until: Option<DateTime<Utc>>,
}

impl RateLimitState {
    pub fn is_empty(&self) -> bool {
        self.last_signal_at.is_none()
    }
}

impl AccountStatus {
    fn new(account: &Account) -> AccountStatus {
        AccountStatus {
            account: account.name.clone(),
            platform: account.platform.as_str().to_string(),
            currency: account.currency.code().to_string(),
            status: AccountHealth::Pending,
            reconciling: false,
            last_attempt: None,
            last_sync: None,
            last_error: None,
            consecutive_failures: 0,
            next_reconcile_at: None,
            drift: Vec::new(),
            pending: PlanSummary::default(),
            last_applied: PlanSummary::default(),
            blocked: Vec::new(),
            review_issues: Vec::new(),
            token_expires_at: None,
            spend_today: None,
            clicks_today: None,
            reconciles: 0,
            plan: serde_json::Value::Null,
        }
    }
}

/// The state of the config directory.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ConfigStatus {
    /// A valid config has been loaded at least once.
    pub loaded: bool,
    /// The last load was valid (false: the daemon keeps reconciling the last good one).
    pub valid: bool,
    /// Incremented on every valid load whose content changed.
    pub generation: u64,
    pub loaded_at: Option<DateTime<Utc>>,
    /// Why the last load failed; nothing of the failed edit is applied.
    pub error: Option<String>,
    pub diagnostics: Vec<String>,
    pub failed_at: Option<DateTime<Utc>>,
    /// The last reload could not read the directory (not an invalid config): it is read again, with backoff.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
    /// When it is read again after `read_error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_retry_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DaemonInfo {
    pub version: &'static str,
    pub mode: Mode,
    pub interval_seconds: f64,
    pub started_at: DateTime<Utc>,
    pub shutting_down: bool,
    pub state_open: bool,
    /// This replica, when the state is on PostgreSQL and the replicas share the accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica: Option<ReplicaInfo>,
}

/// One of several replicas sharing the accounts (`docs/watch.md`, "Several replicas").
#[derive(Clone, Debug, Serialize)]
pub struct ReplicaInfo {
    /// Host, pid and a random suffix.
    pub id: String,
    pub lease_seconds: f64,
    /// Replicas whose heartbeat is current, this one included.
    pub live_replicas: usize,
    /// Accounts this replica holds the lease of (the only ones it reconciles, and lists below).
    pub accounts_held: usize,
}

/// The whole `/api/v1/status` document.
#[derive(Clone, Debug, Serialize)]
pub struct Snapshot {
    pub daemon: DaemonInfo,
    pub config: ConfigStatus,
    pub accounts: Vec<AccountStatus>,
}

/// A reconcile that waited at least this long for the platform's rate limit counts as a rate-limit signal (the
/// token buckets' sub-millisecond pacing does not).
const RATE_LIMIT_SIGNAL: Duration = Duration::from_millis(100);

/// Finished runs kept for `GET /api/v1/runs/{id}`.
const MAX_RUNS: usize = 1000;

/// Where a reconcile asked for through the API is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

/// A reconcile asked for through the API (`GET /api/v1/runs/{id}`).
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub id: String,
    pub account: String,
    pub status: RunStatus,
    /// The API token's name (never the token), or `loopback` when no token exists.
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `success`, `blocked`, `drift_only`, or the error (`api_error: …`).
    pub result: Option<String>,
}

impl Run {
    fn finish(&mut self, status: RunStatus, result: String) {
        self.status = status;
        self.finished_at = Some(Utc::now());
        self.result = Some(result);
    }
}

struct Inner {
    daemon: DaemonInfo,
    config: ConfigStatus,
    accounts: BTreeMap<String, AccountStatus>,
    /// The last good config the daemon reconciles towards (the API reads its accounts and addresses).
    project: Option<std::sync::Arc<crate::spec::Project>>,
    activity: BTreeMap<String, AccountActivity>,
}

/// Shared, lock-protected status plus the metrics. Locks are held only for short, non-async sections.
pub struct StatusHub {
    inner: RwLock<Inner>,
    /// Reconciles asked for through the API (`POST /api/v1/accounts/{name}/reconcile`), newest last.
    runs: parking_lot::Mutex<BTreeMap<u64, Run>>,
    pub metrics: Metrics,
}

impl StatusHub {
    pub fn new(mode: Mode, interval: Duration) -> StatusHub {
        StatusHub {
            inner: RwLock::new(Inner {
                daemon: DaemonInfo {
                    version: env!("CARGO_PKG_VERSION"),
                    mode,
                    interval_seconds: interval.as_secs_f64(),
                    started_at: Utc::now(),
                    shutting_down: false,
                    state_open: false,
                    replica: None,
                },
                config: ConfigStatus::default(),
                accounts: BTreeMap::new(),
                project: None,
                activity: BTreeMap::new(),
            }),
            runs: parking_lot::Mutex::new(BTreeMap::new()),
            metrics: Metrics::new(),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn snapshot(&self) -> Snapshot {
        let g = self.read();
        Snapshot {
            daemon: g.daemon.clone(),
            config: g.config.clone(),
            accounts: g.accounts.values().cloned().collect(),
        }
    }

    pub fn account(&self, name: &str) -> Option<AccountStatus> {
        self.read().accounts.get(name).cloned()
    }

    /// What the daemon saw of every account beyond its status (last apply, rate limit).
    pub fn activity(&self) -> BTreeMap<String, AccountActivity> {
        self.read().activity.clone()
    }

    /// The last good config (with the accounts as the daemon reaches them), once one was loaded.
    pub fn project(&self) -> Option<std::sync::Arc<crate::spec::Project>> {
        self.read().project.clone()
    }

    /// Keep the last good config for the API (the daemon calls this on every valid load that changed it).
    pub fn set_project(&self, project: std::sync::Arc<crate::spec::Project>) {
        self.write().project = Some(project);
    }

    /// The current plan of every account (`/api/v1/plan`).
    pub fn plans(&self) -> serde_json::Value {
        let g = self.read();
        let accounts: serde_json::Map<String, serde_json::Value> =
            g.accounts.iter().map(|(k, a)| (k.clone(), a.plan.clone())).collect();
        serde_json::json!({
            "config_generation": g.config.generation,
            "mode": g.daemon.mode,
            "accounts": accounts,
        })
    }

    /// `/readyz`: a valid config has been loaded and the state store is open.
    pub fn ready(&self) -> Result<(), String> {
        let g = self.read();
        if g.daemon.shutting_down {
            return Err("shutting down".into());
        }
        if !g.daemon.state_open {
            return Err(match &g.daemon.replica {
                Some(_) => "the state's database is not reachable (this replica is not registered)".into(),
                None => "state store not open".into(),
            });
        }
        if !g.config.loaded {
            // Only the reason's kind: `/readyz` answers without a token, and the config's diagnostics (names,
            // positions) are for `/api/v1/status`.
            return Err("config not loaded yet".into());
        }
        Ok(())
    }

    pub fn set_state_open(&self, open: bool) {
        self.write().daemon.state_open = open;
    }

    pub fn set_replica(&self, replica: ReplicaInfo) {
        self.write().daemon.replica = Some(replica);
    }

    pub fn set_shutting_down(&self) {
        self.write().daemon.shutting_down = true;
    }

    pub fn config_loaded(&self, changed: bool) {
        let mut g = self.write();
        g.config.loaded = true;
        g.config.valid = true;
        if changed {
            g.config.generation += 1;
        }
        g.config.loaded_at = Some(Utc::now());
        g.config.error = None;
        g.config.diagnostics.clear();
        g.config.read_error = None;
        g.config.read_retry_at = None;
        drop(g);
        self.metrics.config_valid.set(1);
        self.metrics
            .config_reloads
            .get_or_create(&super::metrics::ResultLabels { result: "ok".into() })
            .inc();
    }

    /// The directory could not be read; it is read again at `retry_at`. The config's validity is unchanged.
    pub fn config_read_failed(&self, err: &LoadError, retry_at: DateTime<Utc>) {
        let mut g = self.write();
        let first = err.diagnostics.first().map(|d| format!(": {d}")).unwrap_or_default();
        g.config.read_error = Some(format!("{}{first}", err.message));
        g.config.read_retry_at = Some(retry_at);
        drop(g);
        self.metrics
            .config_reloads
            .get_or_create(&super::metrics::ResultLabels {
                result: "read_error".into(),
            })
            .inc();
    }

    pub fn config_failed(&self, err: &LoadError) {
        let mut g = self.write();
        g.config.valid = false;
        g.config.error = Some(err.message.clone());
        g.config.diagnostics = err.diagnostics.clone();
        g.config.failed_at = Some(Utc::now());
        g.config.read_error = None;
        g.config.read_retry_at = None;
        drop(g);
        self.metrics.config_valid.set(0);
        self.metrics
            .config_reloads
            .get_or_create(&super::metrics::ResultLabels { result: "error".into() })
            .inc();
    }

    /// Make sure an account is listed (a worker was started for it); refresh its platform/currency.
    pub fn register_account(&self, account: &Account) {
        let mut g = self.write();
        let entry = g
            .accounts
            .entry(account.name.clone())
            .or_insert_with(|| AccountStatus::new(account));
        entry.platform = account.platform.as_str().to_string();
        entry.currency = account.currency.code().to_string();
    }

    pub fn remove_account(&self, name: &str) {
        for from in [RunStatus::Queued, RunStatus::Running] {
            self.runs_of(name, from, |r| {
                r.finish(RunStatus::Cancelled, "the account left the config".into())
            });
        }
        {
            let mut g = self.write();
            g.accounts.remove(name);
            g.activity.remove(name);
        }
        self.metrics.forget_account(name);
    }

    pub fn begin(&self, name: &str) {
        self.runs_of(name, RunStatus::Queued, |r| {
            r.status = RunStatus::Running;
            r.started_at = Some(Utc::now());
        });
        let mut g = self.write();
        if let Some(a) = g.accounts.get_mut(name) {
            a.reconciling = true;
            a.last_attempt = Some(Utc::now());
            a.next_reconcile_at = None;
        }
    }

    pub fn set_next(&self, name: &str, after: Duration) {
        let mut g = self.write();
        if let Some(a) = g.accounts.get_mut(name) {
            a.next_reconcile_at = chrono::Duration::from_std(after).ok().map(|d| Utc::now() + d);
        }
    }

    /// Record a successful reconcile.
    pub fn succeeded(&self, account: &Account, mode: Mode, outcome: &ReconcileOutcome, took: Duration) {
        let name = account.name.as_str();
        let platform = account.platform.as_str();
        let result = if !outcome.blocked.is_empty() {
            "blocked"
        } else if mode == Mode::Observe && (outcome.pending.total() > 0 || !outcome.drifted.is_empty()) {
            "drift_only"
        } else {
            "success"
        };
        let now = Utc::now();
        {
            let mut g = self.write();
            let a = g
                .accounts
                .entry(name.to_string())
                .or_insert_with(|| AccountStatus::new(account));
            a.reconciling = false;
            a.reconciles += 1;
            a.last_sync = Some(now);
            a.last_error = None;
            a.consecutive_failures = 0;
            a.drift = outcome.drifted.clone();
            a.pending = outcome.pending;
            a.last_applied = outcome.applied;
            a.blocked = outcome.blocked.clone();
            a.review_issues = outcome.review_issues.clone();
            if outcome.token_expires_at.is_some() {
                a.token_expires_at = outcome.token_expires_at;
            }
            a.spend_today = outcome.spend_today.map(|m| m.display(account.currency));
            a.clicks_today = outcome.clicks_today;
            a.plan = outcome.plan.clone();
            a.status = if !outcome.blocked.is_empty() {
                AccountHealth::Blocked
            } else if outcome.pending.total() > 0 || (mode == Mode::Observe && !outcome.drifted.is_empty()) {
                AccountHealth::Drifted
            } else {
                AccountHealth::InSync
            };
            let act = g.activity.entry(name.to_string()).or_default();
            if outcome.applied.total() > 0 {
                act.last_apply_at = Some(now);
            }
            act.rate_limit.waiting_until = None;
            if outcome.rate_limit_wait >= RATE_LIMIT_SIGNAL {
                act.rate_limit.last_signal_at = Some(now);
                act.rate_limit.last_wait_seconds = outcome.rate_limit_wait.as_secs_f64();
            }
        }
        self.runs_of(name, RunStatus::Running, |r| {
            r.finish(RunStatus::Succeeded, result.to_string())
        });
        let m = &self.metrics;
        m.count_reconcile(name, result);
        m.observe_duration(name, took);
        Metrics::account_gauge(&m.drifted_resources, name, outcome.drifted.len() as i64);
        Metrics::account_gauge(&m.pending_changes, name, outcome.pending.total() as i64);
        Metrics::account_gauge(&m.last_success, name, now.timestamp());
        Metrics::account_gauge(&m.consecutive_failures, name, 0);
        m.set_today(name, account.currency, outcome.spend_today, outcome.clicks_today);
        m.add_rate_limit_wait(platform, outcome.rate_limit_wait);
    }

    /// Record a failed reconcile; returns the number of consecutive failures.
    pub fn failed(&self, account: &Account, err: &ReconcileError, took: Duration) -> u32 {
        let name = account.name.as_str();
        let failures = {
            let mut g = self.write();
            let a = g
                .accounts
                .entry(name.to_string())
                .or_insert_with(|| AccountStatus::new(account));
            a.reconciling = false;
            a.reconciles += 1;
            a.consecutive_failures = a.consecutive_failures.saturating_add(1);
            a.status = AccountHealth::Failing;
            a.last_error = Some(ErrorInfo {
                kind: err.kind().to_string(),
                message: err.to_string(),
                hint: err.hint().map(str::to_string),
                at: Utc::now(),
            });
            let failures = a.consecutive_failures;
            if let ReconcileError::Api {
                code,
                retry_after: Some(wait),
                ..
            } = err
            {
                if code == "rate_limited" || code == "quota" {
                    let now = Utc::now();
                    let act = g.activity.entry(name.to_string()).or_default();
                    act.rate_limit.last_signal_at = Some(now);
                    act.rate_limit.waiting_until = chrono::Duration::from_std(*wait).ok().map(|d| now + d);
                }
            }
            failures
        };
        self.runs_of(name, RunStatus::Running, |r| {
            r.finish(RunStatus::Failed, format!("{}: {err}", err.kind()))
        });
        let m = &self.metrics;
        m.count_reconcile(name, err.kind());
        m.observe_duration(name, took);
        Metrics::account_gauge(&m.consecutive_failures, name, failures as i64);
        failures
    }

    /// Count platform API calls.
    pub fn api_calls(&self, calls: &[super::ApiCalls]) {
        for c in calls {
            self.metrics.count_api(&c.platform, &c.code, c.count, c.error);
        }
    }

    /// A reconcile stopped by shutdown before it finished.
    pub fn interrupted(&self, name: &str) {
        self.runs_of(name, RunStatus::Running, |r| {
            r.finish(RunStatus::Failed, "stopped by the daemon's shutdown".into())
        });
        let mut g = self.write();
        if let Some(a) = g.accounts.get_mut(name) {
            a.reconciling = false;
        }
    }

    /// Record a reconcile asked for through the API; the account's next pass takes it (see [`StatusHub::begin`]).
    pub fn queue_run(&self, account: &str, requested_by: &str) -> Run {
        let mut runs = self.runs.lock();
        // Ids are unique in this daemon's life and not guessable in sequence (they are not secrets either).
        let mut key = fastrand::u64(1..);
        while runs.contains_key(&key) {
            key = fastrand::u64(1..);
        }
        let run = Run {
            id: format!("{key:016x}"),
            account: account.to_string(),
            status: RunStatus::Queued,
            requested_by: requested_by.to_string(),
            requested_at: Utc::now(),
            started_at: None,
            finished_at: None,
            result: None,
        };
        runs.insert(key, run.clone());
        // Keep the newest runs only: the API is no archive (the audit log is).
        while runs.len() > MAX_RUNS {
            let oldest = runs
                .iter()
                .filter(|(_, r)| r.finished_at.is_some())
                .min_by_key(|(_, r)| r.requested_at)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => runs.remove(&k),
                None => break,
            };
        }
        run
    }

    /// End a run that could not be handed to the daemon.
    pub fn fail_run(&self, id: &str, why: &str) {
        if let Some(r) = self.runs.lock().values_mut().find(|r| r.id == id) {
            r.finish(RunStatus::Failed, why.to_string());
        }
    }

    pub fn run(&self, id: &str) -> Option<Run> {
        self.runs.lock().values().find(|r| r.id == id).cloned()
    }

    fn runs_of(&self, account: &str, from: RunStatus, f: impl Fn(&mut Run)) {
        for r in self.runs.lock().values_mut() {
            if r.account == account && r.status == from {
                f(r);
            }
        }
    }

    /// Refresh time-dependent gauges (token expiry) and encode the metrics.
    pub fn encode_metrics(&self) -> String {
        let now = Utc::now();
        let expiries: Vec<(String, DateTime<Utc>)> = self
            .read()
            .accounts
            .values()
            .filter_map(|a| a.token_expires_at.map(|t| (a.account.clone(), t)))
            .collect();
        for (account, t) in expiries {
            let secs = (t - now).num_milliseconds() as f64 / 1000.0;
            self.metrics.set_token_expiry(&account, secs);
        }
        self.metrics.encode()
    }
}
