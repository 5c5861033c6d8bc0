//! The connector trait: everything the engine needs from an ad platform, and nothing platform-specific.
//!
//! One module per platform lives below this one (`google_ads/`, `meta/`); each owns its wire types,
//! mapping, client and errors. The engine talks only to [`Connector`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub mod clear;
pub mod trace;

use crate::model::{Account, Address, Kind, Money, Resource, Value};

pub mod wait;

/// The result of reading an account.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LiveSnapshot {
    /// Full read: every live (non-removed, or pinned) object of the managed kinds.
    /// Incremental read: only the objects changed since the marker.
    pub resources: Vec<Resource>,
    /// Incremental read only: platform ids of objects that were removed since the marker.
    pub removed_ids: Vec<String>,
    /// True for a full read; false for a delta to merge into a cached snapshot.
    pub complete: bool,
    /// Opaque marker to pass to the next incremental read (a change_status time, an updated_time).
    pub marker: Option<String>,
}

/// How to read.
#[derive(Clone, Debug, Default)]
pub struct ReadRequest {
    /// `Some(marker)` asks for only what changed since; the connector may still answer with a full read.
    pub since: Option<String>,
    /// Platform ids pinned with `id:` in the YAML: read even when removed/archived.
    pub pinned_ids: Vec<String>,
}

/// A reference to a platform object in an operation: an id known already, or the result of an earlier
/// create in the same batch (connectors with temporary ids / batch dependencies resolve it in one request).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdRef {
    Known(String),
    /// Index of the creating operation within the same [`ApplyBatch`].
    Pending(usize),
}

/// What to do to one resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum OpAction {
    /// Create with these fields, and attach the ownership marker.
    Create { fields: BTreeMap<String, Value> },
    /// Set these fields (only those that changed) on an existing object.
    Update {
        id: String,
        set: BTreeMap<String, Value>,
        /// The live values being replaced (connectors may need siblings, e.g. a whole creative).
        before: BTreeMap<String, Value>,
    },
    /// Attach the ownership marker to an existing object (adopting it).
    Adopt { id: String },
    /// Pause it (removal policy `pause`).
    Pause { id: String },
    /// Remove / delete it.
    Remove { id: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub address: Address,
    pub kind: Kind,
    pub action: OpAction,
    /// The parent object (campaign of an ad group, …), when the kind has one.
    pub parent: Option<IdRef>,
    /// Platform ids (or pending creates) for every `Value::Ref` in the fields, keyed by address.
    #[serde(default)]
    pub refs: BTreeMap<Address, IdRef>,
}

/// A batch of operations for one account, in dependency order.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ApplyBatch {
    pub ops: Vec<Operation>,
}

/// Outcome of one operation. The results vector is always as long as the batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum OpOutcome {
    /// Done; `id` is the platform id (new for a create).
    Applied { id: String },
    /// Dry run (`validate`) found nothing wrong.
    Valid,
    /// The platform rejected this operation.
    Failed(OpError),
    /// Not attempted because something it depends on failed.
    Skipped { reason: String },
}

/// A platform error belonging to one operation, in words a person can act on. Never contains a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpError {
    /// The platform's code (`QUOTA_ERROR.RESOURCE_EXHAUSTED`, `100`, …).
    pub code: String,
    pub message: String,
    /// The field it is about, when the platform says (`operations[0].create.name`).
    pub field: Option<String>,
    pub hint: Option<String>,
}

/// What a connector can do; the engine plans batches with it.
#[derive(Clone, Debug)]
pub struct Capabilities {
    /// Most operations the executor hands the connector at once (Google 10,000: one mutate; Meta 10,000, which
    /// the connector packs into batches of 50 calls).
    pub max_ops_per_request: usize,
    /// A parent and its children can be created in one request (temporary ids / batch dependencies).
    pub creates_children_in_one_request: bool,
    /// A request runs its operations in the order given, removals children first (Google's `googleAds:mutate`):
    /// the executor may hand every step of an account over at once, dependents with what they depend on, so that
    /// a routine apply is one request.
    pub ordered_requests: bool,
    /// Kinds whose objects carry adsctl's ownership marker on the platform (a label, an ad label, a marker in a
    /// text field the platform returns), reported by reads as `Resource::owned`. A live object of such a kind
    /// without the marker was made by someone else: it is adopted only when the YAML asks (`id:` pin or
    /// `lifecycle: { adopt: true }`). Kinds not listed have no marker (Google negative keywords, shared
    /// budgets): they are adsctl's when the YAML declares them or the id map remembers making them.
    pub marked_kinds: Vec<Kind>,
    /// Fields whose change needs a replace (remove + create), per kind.
    pub immutable_fields: BTreeMap<Kind, Vec<&'static str>>,
    /// Fields the platform never changes in place but the connector swaps transparently (Meta creatives):
    /// the plan says so next to the change.
    pub swapped_fields: BTreeMap<Kind, Vec<&'static str>>,
    /// Fields the platform accepts but never reads back (audience `members`): the engine takes their live
    /// value from what the state store recorded at the last successful apply, or, on a runner without that
    /// record, compares fingerprints (`model::value_fingerprint`) with the one the read reports in
    /// `observed[model::fingerprint_key(field)]`.
    pub write_only_fields: BTreeMap<Kind, Vec<&'static str>>,
    /// Kinds whose name the connector changes in place: an update's `set` then holds `name` (Str, the name to give
    /// it; the operation's address already has it). An object of such a kind found by id under another name (an
    /// `id:` pin, the id map) is renamed to the YAML's name instead of keeping its old one.
    pub renamable_kinds: Vec<Kind>,
    /// The `status` value of a paused object (`paused`; TikTok `disable`): what removal by `on_removed: pause`
    /// writes, and what counts as paused (already paused, spending nothing).
    pub paused_status: &'static str,
    /// `status` values of objects that nothing can pause or change any more (a sent e-mail campaign): removal by
    /// `on_removed: pause` leaves them as they are, still adsctl's.
    pub settled_statuses: &'static [&'static str],
}

/// The field of an update that renames the object (see [`Capabilities::renamable_kinds`]).
pub const NAME_FIELD: &str = "name";

impl Capabilities {
    /// Whether objects of this kind can be renamed in place.
    pub fn renamable(&self, kind: Kind) -> bool {
        self.renamable_kinds.contains(&kind)
    }

    /// Whether objects of this kind carry an ownership marker on the platform.
    pub fn marked(&self, kind: Kind) -> bool {
        self.marked_kinds.contains(&kind)
    }
    /// The settled status of a live object (one of [`Capabilities::settled_statuses`]: nothing changes it any more).
    pub fn settled<'r>(&self, live: &'r Resource) -> Option<&'r str> {
        live.fields
            .get("status")
            .and_then(Value::as_str)
            .filter(|s| self.settled_statuses.contains(s))
    }
}

/// Health of an account's integration.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Health {
    pub ok: bool,
    pub detail: String,
}

/// An inclusive range of days in the account's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    pub since: NaiveDate,
    pub until: NaiveDate,
}

/// Granularity of a metrics pull.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricsLevel {
    Campaign,
    AdGroup,
    Ad,
}

/// One object's performance on one day, exact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricRow {
    pub date: NaiveDate,
    pub kind: Kind,
    /// Platform id of the object.
    pub id: String,
    /// Its name on the platform (for objects not in the YAML).
    pub name: String,
    pub impressions: u64,
    pub clicks: u64,
    pub cost: Money,
    pub conversions: Decimal,
    pub conversion_value: Money,
    /// An e-mail campaign's delivery figures (e-mail platforms only; `clicks` holds its clicks, `impressions`
    /// stays 0: an e-mail platform reports opens, not impressions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailMetrics>,
}

/// What an e-mail campaign's report counts, on the day it was sent (totals since then).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailMetrics {
    /// E-mails sent.
    pub sent: u64,
    /// Unique opens.
    pub opens: u64,
    /// Hard and soft bounces.
    pub bounces: u64,
    pub unsubscribes: u64,
}

/// Errors that stop a whole call (as opposed to one operation).
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("authentication failed: {message}")]
    Auth { message: String, hint: String },
    #[error("{message}")]
    Quota { message: String, hint: String },
    #[error("{platform} API error {code}: {message}")]
    Api {
        platform: &'static str,
        code: String,
        message: String,
        hint: Option<String>,
    },
    #[error("could not reach {url}: {message}")]
    Transport { url: String, message: String },
    #[error("{0}")]
    Config(String),
    /// A rate limit asks to wait longer than this run waits (`--max-wait`): nothing more was sent.
    #[error(transparent)]
    Wait(#[from] wait::TooLong),
}

impl ConnectorError {
    /// The request failed as a whole in a way that does not say whether the platform did any of it (the
    /// connection broke, the platform answered with a server error): what it would have created has to be looked
    /// for before anything is sent again.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            ConnectorError::Transport { .. } => true,
            ConnectorError::Api { code, .. } => {
                let value = code.rsplit('.').next().unwrap_or(code);
                matches!(
                    value,
                    "UNAVAILABLE" | "INTERNAL" | "DEADLINE_EXCEEDED" | "TRANSIENT_ERROR" | "INTERNAL_ERROR"
                ) || code.starts_with("HTTP 5")
            }
            _ => false,
        }
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            ConnectorError::Auth { hint, .. } | ConnectorError::Quota { hint, .. } => Some(hint),
            ConnectorError::Api { hint, .. } => hint.as_deref(),
            ConnectorError::Transport { .. } => Some("check the endpoint and your network; retry later"),
            ConnectorError::Config(_) => None,
            ConnectorError::Wait(w) => Some(&w.hint),
        }
    }
}

/// Time connectors spent waiting for rate limits (token buckets, 429 `retryDelay`, usage at 100 %), per
/// platform account id (Google customer id digits, Meta `act_…`), for the daemon's
/// `adsctl_rate_limit_wait_seconds_total`.
pub mod telemetry {
    use std::collections::BTreeMap;
    use std::sync::{Mutex, OnceLock, PoisonError};
    use std::time::Duration;

    fn waits() -> &'static Mutex<BTreeMap<String, Duration>> {
        static WAITS: OnceLock<Mutex<BTreeMap<String, Duration>>> = OnceLock::new();
        WAITS.get_or_init(Default::default)
    }

    /// Add a wait (zero waits are ignored).
    pub fn record_rate_limit_wait(platform_id: &str, d: Duration) {
        if d.is_zero() {
            return;
        }
        let mut w = waits().lock().unwrap_or_else(PoisonError::into_inner);
        *w.entry(platform_id.to_string()).or_default() += d;
    }

    /// The waits recorded since the last call, and reset.
    pub fn take_rate_limit_wait(platform_id: &str) -> Duration {
        let mut w = waits().lock().unwrap_or_else(PoisonError::into_inner);
        w.remove(platform_id).unwrap_or_default()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn waits_add_up_and_are_taken_once() {
            record_rate_limit_wait("act_telemetry_test", Duration::from_millis(30));
            record_rate_limit_wait("act_telemetry_test", Duration::from_millis(20));
            assert_eq!(take_rate_limit_wait("act_telemetry_test"), Duration::from_millis(50));
            assert_eq!(take_rate_limit_wait("act_telemetry_test"), Duration::ZERO);
        }
    }
}

/// What applying a plan costs against a platform's daily quota (Google Ads counts mutate operations per
/// developer token and day), shown in the plan so a large apply does not run out halfway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaCost {
    /// Units the apply uses.
    pub units: u64,
    /// What a unit is (`operations`).
    pub unit: String,
    /// The daily allowance, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_limit: Option<u64>,
    /// The quota's name (`Google Ads basic access`).
    pub quota: String,
}

/// A lease on one account, taken on the platform before an apply's first read and given back after its last
/// write, so that two runners that share no state never apply to one account at once (two CI jobs after two
/// quick merges). It is an object only one runner can hold at a time, recording its holder and expiry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Who holds it (`host/pid/random`).
    pub holder: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// The platform object that is the lease (a label id): what renewing and giving it back act on.
    pub token: String,
}

/// What asking for a lease gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseOutcome {
    Acquired(Lease),
    /// Someone else holds it until `expires_at` (unless they give it back earlier).
    Held {
        holder: String,
        expires_at: chrono::DateTime<chrono::Utc>,
    },
}

/// One platform, one account at a time. Implementations are cheap to share (`Arc`) and safe to call
/// concurrently for different accounts.
#[async_trait]
pub trait Connector: Send + Sync {
    fn platform(&self) -> crate::model::Platform;
    fn capabilities(&self) -> Capabilities;
    /// Read live state (full, or incremental since a marker).
    async fn read(&self, account: &Account, req: &ReadRequest) -> Result<LiveSnapshot, ConnectorError>;
    /// Apply one batch. Partial failure is normal: one outcome per operation, in order.
    async fn apply(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError>;
    /// Dry run: ask the platform to validate without changing anything.
    async fn validate(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError>;
    async fn health(&self, account: &Account) -> Result<Health, ConnectorError>;
    /// What applying these operations costs against the platform's daily quota (none when the platform has no
    /// such quota).
    fn quota_cost(&self, _account: &Account, _ops: &[Operation]) -> Option<QuotaCost> {
        None
    }
    /// Take the account's lease for `holder` until `expires_at`, unless someone else holds an unexpired one. A
    /// lease held by `take_over` (a holder known to be gone: a killed process on this host) counts as expired.
    async fn acquire_lease(
        &self,
        account: &Account,
        holder: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
        take_over: Option<&str>,
    ) -> Result<LeaseOutcome, ConnectorError>;
    /// Move a held lease's expiry.
    async fn renew_lease(
        &self,
        account: &Account,
        lease: &Lease,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ConnectorError>;
    /// Give a held lease back.
    async fn release_lease(&self, account: &Account, lease: &Lease) -> Result<(), ConnectorError>;
    /// The addresses of an audience this account's platform can be the source of (a Mailchimp tag, a HubSpot
    /// list): `audience` names it as the YAML does (without any marker); `None` is the whole account (a Mailchimp
    /// audience's subscribed contacts). In clear, for the engine to normalise and hash per destination platform:
    /// never logged, stored or printed. Platforms that cannot be a source, and a source audience that does not
    /// exist, answer a `Config` error.
    async fn source_emails(&self, account: &Account, audience: Option<&str>) -> Result<Vec<String>, ConnectorError> {
        let _ = audience;
        Err(ConnectorError::Config(format!(
            "account `{}`: {} cannot be the source of an audience",
            account.name, account.platform
        )))
    }
    /// Performance by object and day.
    async fn metrics(
        &self,
        account: &Account,
        level: MetricsLevel,
        range: DateRange,
    ) -> Result<Vec<MetricRow>, ConnectorError>;
}
