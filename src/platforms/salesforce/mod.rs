//! Salesforce, the platform's home: the connector for the REST API v68.0 (`{instance_url}/services/data/v68.0/`,
//! the version one constant, [`config::API_VERSION`]), and beside it the home's registry entry, YAML types,
//! lowering, import and `--emulator` seeding (`home.rs`, `yaml.rs`, `lower.rs`, `import.rs`, `emulated.rs`).
//!
//! - `config`: instance and login host (`ADSCTL_SALESFORCE_INSTANCE_URL`, `ADSCTL_SALESFORCE_LOGIN_URL`, the
//!   account's `endpoint:`), tunables, limits, credentials lookup through `crate::auth`.
//! - `auth`: [`auth::SalesforceCredentials`] (`PlatformCredentials`) and [`auth::SalesforceAuth`] (`PlatformAuth`):
//!   web-server flow with PKCE, refresh tokens, JWT bearer (RS256 with `ring`), `auth validate` by describe.
//! - `client`: Bearer, sessions renewed on 401 INVALID_SESSION_ID, retries, `Sforce-Limit-Info` pacing, SOQL paging
//!   by `nextRecordsUrl`, sObject Collections.
//! - `errors`: the error arrays (`errorCode`) and collection results (`statusCode`) → classes and hints.
//! - `mapping`: Campaign records ↔ `Resource`s; `read`, `apply`, `lease`, `metrics`.
//!
//! Written from `shared/reference/salesforce/` (WIRE-NOTES.md, sobjects.json, SOURCE.md). Where the pack is silent
//! or marks a fact `[recalled]`, this connector reads it as follows:
//!
//! - **Ownership** is the external id `Adsctl_Key__c = adsctl:<address>` (the address as `Address` displays it, `/`
//!   and `%` in names percent-encoded). A read's address is `acct/<kind>/<Name>`, the kind `audience` when the key
//!   names `…/audience/…`; an owned record is named by its key's name (kept equal to its address), its `Name` in
//!   `observed["name"]` when someone renamed it in Salesforce — otherwise the YAML's name would upsert the same
//!   record by its key while the plan removed it as undeclared under its new Name; a Campaign whose key starts with `adsctl:` is adsctl's (`owned`), any other is someone
//!   else's. The key is reported as `observed["key"]`. Keys are unique ignoring case (the field is Unique, case-
//!   insensitive, as `auth validate` asks): two names differing only in case collide (DUPLICATE_VALUE).
//! - **Creates** are upserts `PATCH /composite/sobjects/Campaign/Adsctl_Key__c` (`allOrNone: false`, ≤ 200 records,
//!   the key in each record's body — a collection upsert names its records by it); a create waits for its parent
//!   campaign's (the parent's id goes in `ParentId`), so a tree is written level by level. Updates (renames:
//!   `Name` and the key; pauses: `IsActive: false`; adoptions: the key) are `PATCH /composite/sobjects` (≤ 200).
//!   Deletes `DELETE /composite/sobjects?ids=…&allOrNone=false` (≤ 200); NOT_FOUND, ENTITY_IS_DELETED and — on a
//!   delete only — INVALID_CROSS_REFERENCE_KEY (what a collection answers for an id that no longer exists) are done.
//!   A record answered ALL_OR_NONE_OPERATION_ROLLED_BACK or UNABLE_TO_LOCK_ROW is sent again (twice at most).
//! - **Money**: `budgeted_cost` / `actual_cost` are whole units (scale 0); an amount with a fraction is refused by the
//!   mapping (Salesforce would round it and the next plan would see a change); a read rounds half up.
//! - **Audiences** are Campaign records (Description marked `[adsctl-managed]`, then `[adsctl-managed:<fp>]` once the
//!   members are written: cleared before, set after). Members are the customer file's people matched by e-mail:
//!   Contacts first (the oldest by CreatedDate on a tie), then unconverted Leads (`IsConverted = false`), never a new
//!   Lead; addresses the org does not know are counted in the apply's log line (never listed). The addresses come
//!   from `connectors::clear` (filed by the spec loader under the audience's address and the hash); a hash with
//!   nothing filed fails the operation before anything is written. E-mails go 100 to an `IN (…)` query.
//!   `member_status` must be a label of the campaign's CampaignMemberStatus rows (compared ignoring case; the
//!   label is sent as Salesforce spells it), checked before any member is written; members already there get it
//!   too (`PATCH` of their Status). A read reports `member_status` as the Status all of an owned audience's members
//!   share (none when it has none or they differ) — one query of the audiences' members, paged.
//!   A member insert answered DUPLICATE_VALUE ("Already a campaign member") is done.
//! - **Pacing**: every answer's `Sforce-Limit-Info: api-usage=used/max` is kept; at 90 % or more of `max` the client
//!   stops before sending, with a Quota error and a hint (giving a lease back is exempt). REQUEST_LIMIT_EXCEEDED
//!   "TotalRequests" is never retried.
//! - **Sessions**: no `expires_in`: a 401 INVALID_SESSION_ID mints a new session once (refresh token, else a JWT
//!   assertion) and the request goes again to the new `instance_url`; a second 401 is an auth error. A rotated
//!   refresh token is kept in memory for the run.
//! - **Leases**: a Campaign `adsctl-lease|<holder>|<until>` per runner, upserted by the key `adsctl-lease:<holder>`
//!   (`IsActive: false`); the oldest (CreatedDate, then Id) unexpired one holds; checked twice, a pause apart.
//!   Renewing renames it; giving it back deletes it. Reads leave lease campaigns out.
//! - **Metrics**: Salesforce has no delivery figures: `metrics` answers no rows.
//! - **Validation**: Salesforce has no dry run for these calls: `validate` checks locally what the mapping can and
//!   sends nothing.
//!
//! The engine reaches it through [`connector`] / [`SalesforceConnector::new`]; the home's capabilities are
//! [`capabilities`].

// until the home registers it

pub mod apply;
pub mod auth;
pub mod client;
pub mod config;
pub mod emulated;
pub mod errors;
pub mod home;
pub mod import;
pub mod lease;
pub mod lower;
pub mod mapping;
pub mod metrics;
pub mod read;
pub mod yaml;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use self::client::{CallError, SfClient};
use crate::connectors::{
    ApplyBatch, Capabilities, Connector, ConnectorError, DateRange, Health, Lease, LeaseOutcome, LiveSnapshot,
    MetricRow, MetricsLevel, OpOutcome, ReadRequest,
};
use crate::model::{Account, Kind, Platform};

pub use self::auth::{SalesforceAuth, SalesforceCredentials};
pub use self::config::{resolve_credentials, SalesforceConfig, API_VERSION};

/// The home's credentials flows.
pub fn home_auth() -> Option<&'static dyn crate::auth::PlatformAuth> {
    Some(&SalesforceAuth)
}

/// Build the connector for one Salesforce org (for `Home::connector`).
pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(SalesforceConnector::new(account)?))
}

/// What a read learned that a later apply uses.
#[derive(Default)]
pub(crate) struct Cache {
    /// Audience id → the user's part of its Description.
    pub descriptions: HashMap<String, Option<String>>,
    /// Audience id → the members' fingerprint its Description records.
    pub fingerprints: HashMap<String, String>,
    /// Audience id → the Status its members share.
    pub member_status: HashMap<String, String>,
}

impl Cache {
    pub(crate) fn merge(&mut self, other: Cache) {
        self.descriptions.extend(other.descriptions);
        self.fingerprints.extend(other.fingerprints);
        self.member_status.extend(other.member_status);
    }
}

pub struct SalesforceConnector {
    client: SfClient,
    cache: Arc<Mutex<Cache>>,
}

/// The org id of adsctl.yaml, in its 18-character form when 15 were written.
pub fn org_id(platform_id: &str) -> String {
    let id = platform_id.trim();
    if id.len() != 15 {
        return id.to_string();
    }
    let b = id.as_bytes();
    let mut s = id.to_string();
    for chunk in 0..3 {
        let mut f = 0usize;
        for j in 0..5 {
            if b[chunk * 5 + j].is_ascii_uppercase() {
                f |= 1 << j;
            }
        }
        s.push(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[f] as char);
    }
    s
}

impl SalesforceConnector {
    /// The connector for an account, configured from the environment with the credentials of the vault or the
    /// environment.
    pub fn new(account: &Account) -> Result<SalesforceConnector, ConnectorError> {
        let cfg = SalesforceConfig::from_env(account)?;
        let creds = resolve_credentials(account)?;
        SalesforceConnector::with(account, cfg, creds)
    }

    /// A connector with explicit configuration and credentials (tests, `--emulator`).
    pub fn with(
        account: &Account,
        cfg: SalesforceConfig,
        creds: SalesforceCredentials,
    ) -> Result<SalesforceConnector, ConnectorError> {
        if account.platform != Platform::Salesforce {
            return Err(ConnectorError::Config(format!(
                "account `{}` is a {} account, not salesforce",
                account.name, account.platform
            )));
        }
        let id = org_id(&account.platform_id);
        if !(id.len() == 18 && id.starts_with("00D") && id.bytes().all(|b| b.is_ascii_alphanumeric())) {
            return Err(ConnectorError::Config(format!(
                "account `{}`: the org id `{id}` is not a Salesforce org id (00D…, 15 or 18 characters)",
                account.name
            )));
        }
        let key = format!("{}|{}|{id}", cfg.login_url, account.name);
        let client = SfClient::new(cfg, creds, &account.name)?;
        Ok(SalesforceConnector {
            client,
            cache: crate::platforms::shared::shared_cache(&key),
        })
    }

    pub fn client(&self) -> &SfClient {
        &self.client
    }

    pub(crate) fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn err(&self, e: CallError) -> ConnectorError {
        e.into_connector_error(&self.client.account_name)
    }
}

/// The connector's capabilities.
pub fn capabilities() -> Capabilities {
    Capabilities {
        max_ops_per_request: config::MAX_OPS_PER_APPLY,
        // a child campaign waits for its parent's upsert, in the same hand-over
        creates_children_in_one_request: true,
        ordered_requests: false,
        // the external id Adsctl_Key__c = adsctl:<address>
        marked_kinds: vec![Kind::Campaign, Kind::Audience],
        immutable_fields: BTreeMap::new(),
        // Name and the key on PATCH
        renamable_kinds: vec![Kind::Campaign, Kind::Audience],
        paused_status: "inactive",
        settled_statuses: &[],
        swapped_fields: BTreeMap::new(),
        write_only_fields: BTreeMap::from([(Kind::Audience, vec!["members"])]),
    }
}

#[async_trait]
impl Connector for SalesforceConnector {
    fn platform(&self) -> Platform {
        Platform::Salesforce
    }

    fn capabilities(&self) -> Capabilities {
        capabilities()
    }

    async fn read(&self, account: &Account, req: &ReadRequest) -> Result<LiveSnapshot, ConnectorError> {
        self.read_inner(account, req).await
    }

    async fn apply(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        apply::run(self, account, batch, false).await
    }

    /// No dry run: what the mapping can check is checked locally, and nothing is sent.
    async fn validate(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        apply::run(self, account, batch, true).await
    }

    /// `GET /sobjects/Campaign/describe/`: the key field and the Marketing User flag.
    async fn health(&self, _account: &Account) -> Result<Health, ConnectorError> {
        let a = self
            .client
            .get("sobjects/Campaign/describe/", "sobjects/Campaign/describe/")
            .await
            .map_err(|e| self.err(e))?;
        let d: serde_json::Value = a.json("describe").map_err(|e| self.err(e))?;
        let problems = auth::describe_problems(&d);
        Ok(Health {
            ok: problems.is_empty(),
            detail: if problems.is_empty() {
                "the org is reachable; Campaign is writable and has Adsctl_Key__c".into()
            } else {
                problems.join("; ")
            },
        })
    }

    async fn acquire_lease(
        &self,
        _account: &Account,
        holder: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
        take_over: Option<&str>,
    ) -> Result<LeaseOutcome, ConnectorError> {
        lease::acquire(self, holder, expires_at, take_over)
            .await
            .map_err(|e| self.err(e))
    }

    async fn renew_lease(
        &self,
        _account: &Account,
        l: &Lease,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ConnectorError> {
        lease::renew(self, l, expires_at).await.map_err(|e| self.err(e))
    }

    async fn release_lease(&self, _account: &Account, l: &Lease) -> Result<(), ConnectorError> {
        lease::release(self, l).await.map_err(|e| self.err(e))
    }

    /// The e-mails of a campaign's members (any campaign of the org, by its Name).
    async fn source_emails(&self, account: &Account, audience: Option<&str>) -> Result<Vec<String>, ConnectorError> {
        let Some(name) = audience else {
            return Err(ConnectorError::Config(format!(
                "account `{}`: a Salesforce source names a campaign (`audience:`): the whole org is not an audience",
                account.name
            )));
        };
        read::source_emails(self, name).await
    }

    async fn metrics(
        &self,
        account: &Account,
        level: MetricsLevel,
        range: DateRange,
    ) -> Result<Vec<MetricRow>, ConnectorError> {
        metrics::rows(self, account, level, range).await
    }
}

#[cfg(test)]
mod tests;
