//! Plans: identity (desired ↔ live), diff, ordering, guardrails, spend impact, rendering and plan files.
//!
//! Entry points shared by the CLI, the tests and the `watch` daemon:
//! - [`make_plan`]: pure, from desired + live + state per account;
//! - [`live::read_account`] / [`plan_project`]: read (or take from the cache) the live state of every account
//!   of a project and plan it.
//!
//! The JSON form of [`Plan`] is the versioned format documented in `docs/plan-format.md`.

mod diff;
pub mod experiment;
pub mod file;
mod guardrails;
pub mod live;
mod order;
pub mod render;
mod spend;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::connectors::{Capabilities, ConnectorError};
use crate::model::{Account, Address, Currency, Kind, Money, Platform, Resource, SmallMap, Value};
use crate::state::{Intent, StateEntry, StateError};

pub use diff::plan_account;
pub use guardrails::GUARDRAIL_NAMES;
pub use live::{plan_project, LiveRead};

/// The version of the JSON plan format written by this build (see `docs/plan-format.md`).
pub const PLAN_FORMAT_VERSION: u32 = 1;

/// What a plan does to one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Attach the ownership marker to a live object adsctl did not create (then update it if needed).
    Adopt,
    /// Remove the live object and create it again (an immutable field changed).
    Replace,
    Pause,
    Remove,
    /// Owned, absent from the YAML, left alone and no longer managed (`on_removed: orphan`).
    Orphan,
    NoOp,
}

impl Action {
    /// Whether this action changes anything on the platform.
    pub fn is_change(self) -> bool {
        !matches!(self, Action::NoOp | Action::Orphan)
    }
    /// Runs in the removal phase (children first).
    pub fn is_removal(self) -> bool {
        matches!(self, Action::Pause | Action::Remove)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Adopt => "adopt",
            Action::Replace => "replace",
            Action::Pause => "pause",
            Action::Remove => "remove",
            Action::Orphan => "orphan",
            Action::NoOp => "no_op",
        }
    }
}

/// One field's before → after.
#[derive(Default, Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    /// The live value (absent on a create, or when the platform does not report it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// An immutable field: this change makes the resource be replaced.
    #[serde(default, skip_serializing_if = "is_false")]
    pub forces_replace: bool,
    /// The connector swaps a new object in (Meta creatives).
    #[serde(default, skip_serializing_if = "is_false")]
    pub swapped: bool,
    /// The platform never reports it; `before` is what the last apply wrote.
    #[serde(default, skip_serializing_if = "is_false")]
    pub write_only: bool,
    /// The YAML did not change but the live value left what the last apply wrote (edited outside adsctl).
    #[serde(default, skip_serializing_if = "is_false")]
    pub drift: bool,
    /// `before` as plain JSON for tools like `jq` (money as an exact decimal string in the account's currency,
    /// sets and lists as arrays, references as addresses); informational, never read back by `apply`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_plain: Option<serde_json::Value>,
    /// `after` as plain JSON (as `before_plain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_plain: Option<serde_json::Value>,
}

/// A value as plain JSON: what a person or `jq` expects, beside the typed form the plan keeps.
pub fn plain_value(v: &Value, currency: Currency) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Money(m) => J::String(m.to_decimal_string(currency)),
        Value::Decimal(d) => J::String(d.normalize().to_string()),
        Value::Str(s) | Value::Url(s) => J::String(s.clone()),
        Value::List(xs) => J::Array(xs.iter().map(|x| plain_value(x, currency)).collect()),
        Value::Set(xs) => J::Array(xs.iter().map(|x| plain_value(x, currency)).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, x)| (k.to_string(), plain_value(x, currency)))
                .collect(),
        ),
        Value::Ref(a) => J::String(a.to_string()),
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One planned action on one resource.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub address: Address,
    pub kind: Kind,
    pub action: Action,
    /// The live platform id (none for a create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The changed fields (every desired field on a create or replace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    /// The full desired fields (what the state records as applied); empty for a resource not in the YAML, and
    /// for a no-op whose id map entry already records exactly these fields.
    #[serde(default, skip_serializing_if = "SmallMap::is_empty")]
    pub desired: SmallMap,
    #[serde(default, skip_serializing_if = "is_false")]
    pub prevent_destroy: bool,
    /// Platform-reported facts (review status, effective status).
    #[serde(default, skip_serializing_if = "SmallMap::is_empty")]
    pub observed: SmallMap<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Budget totals of one account before and after the plan (enabled resources only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendImpact {
    pub daily_before: Money,
    pub daily_after: Money,
    pub lifetime_before: Money,
    pub lifetime_after: Money,
}

/// The plan of one account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountPlan {
    pub account: String,
    pub platform: Platform,
    pub currency: Currency,
    /// Fingerprint of the live state the plan was made against (see `file::fingerprint`).
    pub live_fingerprint: String,
    pub live_fetched_at: DateTime<Utc>,
    /// Planned from the local cache (`--refresh=false`).
    #[serde(default)]
    pub from_cache: bool,
    /// In execution order: creates and updates parents first, then pauses and removals children first.
    pub changes: Vec<Change>,
    /// Platform ids of live parents and referenced resources the changes need.
    #[serde(default)]
    pub known_ids: BTreeMap<Address, String>,
    pub spend: SpendImpact,
    /// What applying costs against the platform's daily quota (filled by the caller that has the connector).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<crate::connectors::QuotaCost>,
    /// Objects under managed parents that adsctl did not make and the YAML does not name (a keyword added in the
    /// platform's UI): never touched, listed so that nobody is surprised. At most [`UNMANAGED_LISTED`] are
    /// listed; `unmanaged_count` counts them all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmanaged: Vec<Address>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unmanaged_count: usize,
}

/// How many of an account's unmanaged objects a plan lists by address.
pub const UNMANAGED_LISTED: usize = 20;

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Why a plan may not be applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum BlockerKind {
    /// An account guardrail (`max_daily_budget`, `max_increase_pct`, `max_changes`).
    Guardrail { name: String },
    /// An immutable field changed and `--allow-replace` was not given.
    Replace,
    /// The resource has (or had, when its YAML block was deleted) `prevent_destroy`.
    PreventDestroy,
    /// The YAML names an object that exists on the platform but was made by someone else; adsctl takes it over
    /// only when asked (`lifecycle: { adopt: true }` or an `id:` pin).
    Unmanaged,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocker {
    #[serde(flatten)]
    pub kind: BlockerKind,
    pub account: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    pub message: String,
    /// Overridden with `--allow-guardrail NAME`: shown, does not block.
    #[serde(default, skip_serializing_if = "is_false")]
    pub overridden: bool,
}

/// A whole plan (the versioned JSON plan format).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub adsctl_version: String,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Address>,
    pub accounts: Vec<AccountPlan>,
    #[serde(default)]
    pub blockers: Vec<Blocker>,
}

/// Counts for the summary line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub adopt: usize,
    pub replace: usize,
    pub pause: usize,
    pub remove: usize,
    pub unchanged: usize,
    pub drifted: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in self.accounts.iter().flat_map(|a| &a.changes) {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Adopt => s.adopt += 1,
                Action::Replace => s.replace += 1,
                Action::Pause => s.pause += 1,
                Action::Remove => s.remove += 1,
                Action::Orphan | Action::NoOp => s.unchanged += 1,
            }
            if c.fields.iter().any(|f| f.drift) {
                s.drifted += 1;
            }
        }
        s
    }
    pub fn change_count(&self) -> usize {
        self.accounts
            .iter()
            .flat_map(|a| &a.changes)
            .filter(|c| c.action.is_change())
            .count()
    }
    pub fn has_changes(&self) -> bool {
        self.change_count() > 0
    }
    /// Blockers that were not overridden.
    pub fn active_blockers(&self) -> impl Iterator<Item = &Blocker> {
        self.blockers.iter().filter(|b| !b.overridden)
    }
    pub fn is_blocked(&self) -> bool {
        self.active_blockers().next().is_some()
    }
}

/// Everything needed to plan one account.
#[derive(Clone, Debug)]
pub struct AccountInput<'a> {
    pub account: Account,
    pub capabilities: Capabilities,
    /// Desired resources of this account (borrowed from the project: a plan of 100k resources does not copy
    /// them).
    pub desired: Vec<&'a Resource>,
    pub live: Vec<Resource>,
    pub live_fetched_at: DateTime<Utc>,
    /// The fingerprint of `live` when it is already known (stored with the cache); `None`: computed.
    pub live_fingerprint: Option<String>,
    pub from_cache: bool,
    /// The state's id map entries of this account.
    pub state: Vec<StateEntry>,
    /// Creates journaled but never confirmed (an interrupted apply).
    pub pending: Vec<Intent>,
    /// Renames the YAML declares in this account (`moved:`).
    pub moved: Vec<crate::model::Moved>,
}

#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// Allow replacing resources whose immutable fields changed.
    pub allow_replace: bool,
    /// Guardrails overridden by name.
    pub allow_guardrails: BTreeSet<String>,
    /// Limit the plan to these subtrees (empty: everything).
    pub targets: Vec<Address>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{address}: {} live objects match ({}); adsctl will not guess", ids.len(), ids.join(", "))]
    Ambiguous { address: Address, ids: Vec<String> },
    #[error("{address}: the pinned id `{id}` was not found in the live account")]
    PinnedNotFound { address: Address, id: String },
    #[error("{address} is declared twice")]
    DuplicateDesired { address: Address },
    #[error("{address}: account `{account}` is not declared in adsctl.yaml")]
    UnknownAccount { address: Address, account: String },
    #[error("account `{account}`: {source}")]
    Connector {
        account: String,
        #[source]
        source: ConnectorError,
    },
    #[error("account `{account}` has no cached live state")]
    NoCache { account: String },
    #[error(transparent)]
    State(#[from] StateError),
}

impl PlanError {
    pub fn hint(&self) -> Option<String> {
        match self {
            PlanError::Ambiguous { ids, .. } => Some(format!(
                "pin the one you mean with `id: {}` in its YAML block (or rename the other one on the platform)",
                ids.first().map(String::as_str).unwrap_or("…")
            )),
            PlanError::PinnedNotFound { .. } => {
                Some("remove the `id:` pin to create it, or correct the id (check the platform's UI)".into())
            }
            PlanError::UnknownAccount { .. } => Some("add the account to `accounts:` in adsctl.yaml".into()),
            PlanError::Connector { source, .. } => source.hint().map(str::to_string),
            PlanError::NoCache { .. } => Some("run once with --refresh=true (the default) to fill the cache".into()),
            PlanError::State(e) => e.hint(),
            PlanError::DuplicateDesired { .. } => Some("give each resource a unique name within its parent".into()),
        }
    }
}

/// Several errors found while planning (all of them are reported, not just the first).
#[derive(Debug)]
pub struct PlanErrors(pub Vec<PlanError>);

impl std::fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PlanErrors {}

impl From<PlanError> for PlanErrors {
    fn from(e: PlanError) -> Self {
        PlanErrors(vec![e])
    }
}

/// Plan every account (pure: no I/O).
pub fn make_plan(inputs: Vec<AccountInput<'_>>, opts: &PlanOptions) -> Result<Plan, PlanErrors> {
    assemble(
        inputs.into_iter().map(|input| plan_account(input, opts)).collect(),
        opts,
    )
}

/// One plan of the accounts planned one by one (each account's live state is dropped as soon as it is planned).
pub fn assemble(
    planned: Vec<Result<(AccountPlan, Vec<Blocker>), PlanErrors>>,
    opts: &PlanOptions,
) -> Result<Plan, PlanErrors> {
    let mut accounts = Vec::new();
    let mut blockers = Vec::new();
    let mut errors = Vec::new();
    for result in planned {
        match result {
            Ok((plan, mut b)) => {
                accounts.push(plan);
                blockers.append(&mut b);
            }
            Err(PlanErrors(mut e)) => errors.append(&mut e),
        }
    }
    if !errors.is_empty() {
        return Err(PlanErrors(errors));
    }
    for a in &mut accounts {
        let currency = a.currency;
        for f in a.changes.iter_mut().flat_map(|c| c.fields.iter_mut()) {
            f.before_plain = f.before.as_ref().map(|v| plain_value(v, currency));
            f.after_plain = f.after.as_ref().map(|v| plain_value(v, currency));
        }
    }
    Ok(Plan {
        format_version: PLAN_FORMAT_VERSION,
        adsctl_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: Utc::now(),
        targets: opts.targets.clone(),
        accounts,
        blockers,
    })
}
