//! Mailchimp, the platform's home: the connector for the Marketing API 3.0 (`https://{dc}.api.mailchimp.com/3.0/`;
//! this file and the wire modules below). An adsctl account is one Mailchimp audience (list): its `platform_id`
//! is the list id. The home's registry entry, YAML types, lowering, import and `--emulator` seeding are written
//! beside them by the home.
//!
//! - `config`: base URL (the credentials' data center; `ADSCTL_MAILCHIMP_ENDPOINT`, the account's `endpoint:`),
//!   tunables, limits, credentials lookup through `crate::auth`.
//! - `auth`: [`auth::MailchimpCredentials`] (`PlatformCredentials`) and [`auth::MailchimpAuth`] (`PlatformAuth`).
//! - `client`: HTTP, Bearer auth, problem documents, retries, offset paging, ≤ 10 requests in flight.
//! - `errors`: statuses and titles → classes and hints; addresses scrubbed from every text.
//! - `mapping`: wire ↔ `Resource` (markers, statuses, times, the subscriber hash).
//! - `read`, `apply`, `lease`, `metrics`.
//! - the home: `home` (the registry entry), `yaml` (e-mail campaigns in the YAML), `lower` (campaigns, tags from
//!   customer files with addresses kept in memory), `import`, `emulated` (`--emulator`).
//!
//! Written from `shared/reference/mailchimp-marketing/` (WIRE-NOTES.md and the trimmed Swagger 3.0.55) and
//! `docs/resource-model.md` § Mailchimp. Where the pack is silent, this connector reads it as follows:
//!
//! - **Auth header**: `Authorization: Bearer <key or token>` for both credentials (the pack: both forms accepted
//!   for both). The data center is the API key's suffix after its last `-` (letters then digits), or the one
//!   stored with an OAuth token; a key without one is refused with a hint, never guessed.
//! - **Retries**: 429 backs off 1 s doubling (jittered, ≤ 60 s, 8 in a row fail: no rate-limit headers exist);
//!   500/502/503/504 and lost answers back off the same way, 5 retries, for reads, updates, deletes and actions.
//!   Creates (`POST /campaigns`, `POST …/segments`) are retried after a 429 only; after a 5xx or no answer the
//!   campaigns (by `settings.title`) or tags (by name) are listed first: found → used; not found → sent again
//!   only if Mailchimp had answered, else the operation fails as `outcome_unknown` (the next read finds it).
//! - **In flight**: a semaphore of 10 per user (credential) and host in this process, shared by the account's
//!   connectors.
//! - **Members in clear**: what a batch subscribe sends comes from `connectors::clear` under the operation's
//!   address (`acct/audience/<name>`); a hash with nothing filed fails the operation, naming how many. A new
//!   contact's `status` is the file's status column, else the operation's `new_member_status` (Str) when the home
//!   lowers one, else `subscribed`. Batch-subscribe errors other than
//!   `ERROR_CONTACT_EXISTS` fail the operation (counted, no address). Addresses to remove from a tag come from the
//!   read's hash → address memory (in this process only, shared by the account's connectors); a hash the read did
//!   not see fails the operation with "read again".
//! - **Tag members** of every status are read: the Swagger's `GET …/segments/{id}/members` leaves cleaned,
//!   transactional and unsubscribed contacts out unless `include_cleaned`, `include_transactional`,
//!   `include_unsubscribed` are `true`, so the read sends all three. Only adsctl's tags' members are read.
//!   `source_emails` of a tag asks for `members.email_address,members.status` (that list has no `status` filter)
//!   and keeps `subscribed`; of the audience, `GET …/members?status=subscribed`.
//! - **Campaign fields**: `recipients` of a campaign without `segment_opts.saved_segment_id` is `all`; a segment
//!   id that is no tag of the read is `segment:<id>`. `schedule_time` is the wire's `send_time` of a scheduled,
//!   sending or sent campaign (so a settled campaign compares equal to the YAML's schedule), `""` of a draft.
//!   `status` maps `save`/`paused` → `draft`, `schedule` → `scheduled`, `canceling`/`canceled` → `canceled`,
//!   `archived` → `sent`; the wire's own status is kept in `observed["wire_status"]`. A campaign without a title
//!   is named by its id. A schedule or unschedule refused as "Invalid Action" (after a retry whose first answer
//!   was lost) is checked against the campaign's live state before it counts as a failure.
//! - **Campaign updates**: a scheduled campaign is unscheduled before any edit (Mailchimp refuses edits of a
//!   scheduled campaign) and scheduled again after it when it keeps a time. An update's PATCH carries every
//!   settings field (`subject_line`, `from_name`, `reply_to` are required), the missing ones from the operation's
//!   `before`. A rename rewrites the title with the fingerprint it already had (as this process's read saw it; a
//!   connector that has not read writes the title without one, so the next plan compares the HTML again).
//! - **Audiences (tags)** have no status: a pause is applied without a request. A removal deletes the segment
//!   (its contacts stay); a 404 is success, as for campaigns.
//! - **Leases**: static segments `adsctl-lease|<holder>|<until>` (unix seconds), the lowest id unexpired holding;
//!   confirmed by a second listing after `lease_settle`; expired ones and a taken-over holder's are deleted.
//! - **Metrics**: `GET /reports?count=1000&offset=…&since_send_time=<range start>&before_send_time=<day after the
//!   range>` (UTC), one row per regular campaign sent in the range on its send day, whatever `level` asks (a
//!   campaign is the only level). `conversion_value` = `ecommerce.total_revenue` read from the JSON number's digits
//!   when `currency_code` is the account's, else 0.
//! - **Validation**: Mailchimp has no dry run: `validate` checks locally (schedule times on a quarter hour, members
//!   filed in clear) and sends nothing.
//!
//! The engine reaches it through [`connector`] / [`MailchimpConnector::new`]; the home's capabilities are
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

use self::client::{CallError, McClient};
use crate::connectors::{
    ApplyBatch, Capabilities, Connector, ConnectorError, DateRange, Health, Lease, LeaseOutcome, LiveSnapshot,
    MetricRow, MetricsLevel, OpOutcome, ReadRequest,
};
use crate::model::{Account, Kind, Platform};

pub use self::auth::{MailchimpAuth, MailchimpCredentials};
pub use self::config::{resolve_credentials, McConfig, ENDPOINT_ENV};

/// The home's credentials flows.
pub fn home_auth() -> Option<&'static dyn crate::auth::PlatformAuth> {
    Some(&MailchimpAuth)
}

/// Build the connector for one Mailchimp audience (for `Home::connector`).
pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(MailchimpConnector::new(account)?))
}

/// An id in JSON: a string, or an integer's digits.
pub(crate) fn client_id(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// What a read learned that a later apply uses. Addresses live here only (never in a `Resource`), in this process.
#[derive(Default)]
pub(crate) struct Cache {
    /// Segment id → (subscriber hash → address) of adsctl's tags' members.
    pub addresses: HashMap<String, HashMap<String, String>>,
    /// Campaign id → its wire object (settings, status).
    pub campaigns: HashMap<String, serde_json::Value>,
    /// Campaign id → the HTML fingerprint its title records.
    pub fingerprints: HashMap<String, String>,
    /// The audience's settings as read (a PATCH sends them whole).
    pub list: Option<serde_json::Value>,
    /// Merge field id → its wire object (a PATCH sends its options whole).
    pub merge_fields: HashMap<String, serde_json::Value>,
}

pub struct MailchimpConnector {
    client: McClient,
    cache: Arc<Mutex<Cache>>,
}

impl MailchimpConnector {
    /// The connector for an account, with the credentials of the vault or the environment.
    pub fn new(account: &Account) -> Result<MailchimpConnector, ConnectorError> {
        let creds = resolve_credentials(account)?;
        let cfg = McConfig::from_env(account, &creds)?;
        MailchimpConnector::with(account, cfg, creds)
    }

    /// A connector with explicit configuration and credentials (tests, `--emulator`).
    pub fn with(
        account: &Account,
        cfg: McConfig,
        creds: MailchimpCredentials,
    ) -> Result<MailchimpConnector, ConnectorError> {
        if account.platform != Platform::Mailchimp {
            return Err(ConnectorError::Config(format!(
                "account `{}` is a {} account, not mailchimp",
                account.name, account.platform
            )));
        }
        let id = account.platform_id.trim().to_string();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ConnectorError::Config(format!(
                "account `{}`: the Mailchimp audience id `{id}` is not a list id (like 57afe96172)",
                account.name
            )));
        }
        let key = format!("{}|{id}", cfg.base_url);
        let client = McClient::new(cfg, creds, &account.name, &id)?;
        Ok(MailchimpConnector {
            client,
            cache: crate::platforms::shared::shared_cache(&key),
        })
    }

    pub fn client(&self) -> &McClient {
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
        // a tag a campaign sends to is created first, its id handed to the campaign in the same batch
        creates_children_in_one_request: true,
        ordered_requests: false,
        // no labels: the marker ends a tag's name or a campaign's title
        marked_kinds: vec![Kind::Audience, Kind::Campaign],
        // a merge field's type is fixed at its creation (the PATCH refuses another)
        immutable_fields: BTreeMap::from([(Kind::MergeField, vec!["type"])]),
        renamable_kinds: vec![Kind::Audience, Kind::Campaign],
        paused_status: "draft",
        settled_statuses: &["sending", "sent", "canceled"],
        swapped_fields: BTreeMap::new(),
        write_only_fields: BTreeMap::from([(Kind::Campaign, vec!["html"])]),
    }
}

#[async_trait]
impl Connector for MailchimpConnector {
    fn platform(&self) -> Platform {
        Platform::Mailchimp
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

    /// Mailchimp has no dry run: what can be checked locally is, and nothing is sent.
    async fn validate(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        apply::run(self, account, batch, true).await
    }

    async fn health(&self, _account: &Account) -> Result<Health, ConnectorError> {
        let path = self.client.list_path("");
        let list = self
            .client
            .get(&path, &client::q(&[("fields", "id,name")]))
            .await
            .map_err(|e| self.err(e))?;
        let name = list.get("name").and_then(|n| n.as_str()).unwrap_or("");
        Ok(Health {
            ok: true,
            detail: format!("audience {} ({name}) is reachable", self.client.list_id),
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

    async fn source_emails(&self, account: &Account, audience: Option<&str>) -> Result<Vec<String>, ConnectorError> {
        self.source_emails_inner(account, audience).await
    }

    async fn metrics(
        &self,
        account: &Account,
        level: MetricsLevel,
        range: DateRange,
    ) -> Result<Vec<MetricRow>, ConnectorError> {
        self.metrics_inner(account, level, range).await
    }
}

#[cfg(test)]
mod tests;
