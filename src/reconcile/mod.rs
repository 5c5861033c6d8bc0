//! `adsctl watch`: the reconciler daemon.
//!
//! The shape follows a Kubernetes controller (kube-rs `Controller`): every account has its own worker that
//! reconciles, then asks to be requeued after the interval (or after [`ReconcileOutcome::requeue_after`]); on
//! error the worker backs off exponentially with jitter ([`backoff`]), the error policy. A supervisor loop
//! (`tokio::select!` over a command channel, the debounced file watcher and the shutdown signal, like atuin's
//! daemon) reloads the config directory and starts, triggers or stops the workers.
//!
//! Guarantees:
//! - one worker per account, reconciling sequentially: never two reconciles of one account at once;
//! - workers are independent tasks: a failing or slow account never blocks the others;
//! - an invalid edit of the config keeps the last good desired state, applies nothing and is reported in the
//!   status ([`status::ConfigStatus`]);
//! - on shutdown each worker finishes the reconcile in flight (bounded by a grace period), then
//!   [`Reconciler::shutdown`] flushes the journal and releases the state lock.
//!
//! The seam to the engine is the [`Reconciler`] trait: load + validate the config, and reconcile one account
//! (incremental refresh, plan, apply within guardrails or only report drift).

mod api;
pub mod backoff;
pub mod daemon;
pub mod engine;
pub mod integrations;
pub mod lease;
pub mod metrics;
mod page;
pub mod server;
pub mod status;
pub mod watcher;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Account, Money};
use crate::spec::Project;

pub use backoff::BackoffPolicy;
pub use daemon::{Command, Daemon, DaemonConfig, DaemonError, DaemonHandle};
pub use integrations::Integration;
pub use lease::{AccountLease, LeaseCheck, Leases};
pub use metrics::Metrics;
pub use server::{ServerConfig, ServerError, StatusServer};
pub use status::StatusHub;

/// What a reconcile does with the differences it finds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Apply the plan (within the account's guardrails).
    #[default]
    Apply,
    /// Only report drift and pending changes; never write (like Crossplane's Observe policy).
    Observe,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Apply => "apply",
            Mode::Observe => "observe",
        }
    }
}

/// Counts of planned actions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    pub create: usize,
    pub update: usize,
    pub remove: usize,
}

impl PlanSummary {
    pub fn total(&self) -> usize {
        self.create + self.update + self.remove
    }
}

impl std::fmt::Display for PlanSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = [
            (self.create, "create"),
            (self.update, "update"),
            (self.remove, "remove"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} to {what}"))
        .collect();
        if parts.is_empty() {
            f.write_str("nothing")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// A creative (or other object) the platform's review has not approved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewIssue {
    pub address: String,
    /// The platform's review status (`DISAPPROVED`, `WITH_ISSUES`, `PENDING_REVIEW`, …).
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// API calls made during one reconcile, for the metrics (`code` is the HTTP status or the platform's code).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiCalls {
    pub platform: String,
    pub code: String,
    pub count: u64,
    pub error: bool,
}

/// The result of one successful reconcile of one account.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReconcileOutcome {
    /// Addresses whose live state differed from the desired state when this pass read it.
    pub drifted: Vec<String>,
    /// Changes planned and left unapplied (observe mode, or refused by a guardrail).
    pub pending: PlanSummary,
    /// Changes applied in this pass.
    pub applied: PlanSummary,
    /// Guardrail violations that stopped the apply (reported, nothing applied).
    pub blocked: Vec<String>,
    /// The plan computed in this pass, as JSON (served at `/api/v1/plan`).
    pub plan: serde_json::Value,
    /// Objects the platform's review has not approved.
    pub review_issues: Vec<ReviewIssue>,
    /// When the account's access token expires (refreshed ahead of expiry by the auth layer).
    pub token_expires_at: Option<DateTime<Utc>>,
    /// Spend so far today, in the account's currency.
    pub spend_today: Option<Money>,
    /// Clicks so far today.
    pub clicks_today: Option<u64>,
    /// Time spent waiting for the platform's rate limits.
    pub rate_limit_wait: Duration,
    /// Reconcile again after this long instead of the interval (kube-rs `Action::requeue`).
    pub requeue_after: Option<Duration>,
}

/// Why a reconcile of one account failed. Never carries a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReconcileError {
    /// The platform answered with an error that stops the whole reconcile (5xx, quota, …).
    #[error("{platform} API error {code}: {message}")]
    Api {
        platform: String,
        code: String,
        message: String,
        hint: Option<String>,
        /// The platform asked to wait at least this long (Google `retryDelay`, `Retry-After`).
        retry_after: Option<Duration>,
    },
    #[error("authentication failed for {platform}: {message}")]
    Auth {
        platform: String,
        message: String,
        hint: String,
    },
    #[error("state store: {message}")]
    State { message: String, hint: Option<String> },
    #[error("planning failed: {message}")]
    Plan { message: String, hint: Option<String> },
    #[error("apply failed: {message}")]
    Apply { message: String, hint: Option<String> },
}

impl ReconcileError {
    /// A short machine-readable kind, used as the `result` label and in the JSON status.
    pub fn kind(&self) -> &'static str {
        match self {
            ReconcileError::Api { .. } => "api_error",
            ReconcileError::Auth { .. } => "auth_error",
            ReconcileError::State { .. } => "state_error",
            ReconcileError::Plan { .. } => "plan_error",
            ReconcileError::Apply { .. } => "apply_error",
        }
    }
    pub fn hint(&self) -> Option<&str> {
        match self {
            ReconcileError::Api { hint, .. }
            | ReconcileError::State { hint, .. }
            | ReconcileError::Plan { hint, .. }
            | ReconcileError::Apply { hint, .. } => hint.as_deref(),
            ReconcileError::Auth { hint, .. } => Some(hint),
        }
    }
    /// The least time to wait before retrying, when the platform said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ReconcileError::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// What a metrics report covers ([`Reconciler::metrics_report`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetricsQuery {
    pub range: crate::connectors::DateRange,
    pub level: crate::metrics::Level,
    pub by: crate::metrics::Bucket,
}

/// A config directory that failed to load or validate, rendered for people.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct LoadError {
    pub message: String,
    /// One line per problem (`file:line:col: message`).
    pub diagnostics: Vec<String>,
    /// The directory could not be read (out of file descriptors, a file replaced mid-read): not an invalid
    /// config. The daemon reads it again with backoff and keeps the last good config meanwhile.
    pub io: bool,
}

/// The seam between the daemon and the engine.
#[async_trait]
pub trait Reconciler: Send + Sync + 'static {
    /// Load and validate the config directory. Called at start and after every (debounced) file change.
    async fn load(&self) -> Result<Project, LoadError>;
    /// Reconcile one account of `project`: incremental refresh, plan, then apply (`Mode::Apply`, within the
    /// guardrails) or only report (`Mode::Observe`). Never called twice at once for one account.
    async fn reconcile(
        &self,
        project: &Project,
        account: &Account,
        mode: Mode,
    ) -> Result<ReconcileOutcome, ReconcileError>;
    /// [`Reconciler::reconcile`] by one of several replicas, under the account's `lease` (its fencing token on
    /// every state write, its deadline on every platform write). The default ignores the lease.
    async fn reconcile_leased(
        &self,
        project: &Project,
        account: &Account,
        mode: Mode,
        lease: &AccountLease,
    ) -> Result<ReconcileOutcome, ReconcileError> {
        let _ = lease;
        self.reconcile(project, account, mode).await
    }
    /// The platform API calls made for `account` since the last call of this method (both by reconciles that
    /// succeeded and by ones that failed), for `adsctl_api_requests_total` / `adsctl_api_errors_total`.
    fn take_api_calls(&self, account: &str) -> Vec<ApiCalls> {
        let _ = account;
        Vec::new()
    }
    /// Whether the state store is open (for `/readyz`).
    fn state_ready(&self) -> bool {
        true
    }
    /// A metrics report of `accounts` (names in `project`) from the stored daily series — the same rows as
    /// `adsctl metrics --refresh=false`; never a platform call (the API's metrics and integrations read this).
    async fn metrics_report(
        &self,
        project: &Project,
        accounts: &[String],
        query: &MetricsQuery,
    ) -> Result<crate::metrics::Report, crate::metrics::MetricsError> {
        let _ = (project, accounts, query);
        Err(crate::metrics::MetricsError::State(crate::state::StateError::Storage(
            "this daemon keeps no metrics store".into(),
        )))
    }
    /// Called once after the last reconcile: flush the journal, release the state lock.
    async fn shutdown(&self) {}
}
