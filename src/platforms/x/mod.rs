//! X (Twitter), the platform's home: the connector for the Ads API v12 (`https://ads-api.x.com/12/`, the version
//! one constant, [`config::API_VERSION`]; this file and the wire modules below). The home's registry entry, YAML
//! types, lowering, import and `--emulator` seeding live beside them (`home.rs`, `yaml.rs`, `lower.rs`,
//! `import.rs`, `emulated.rs`).
//!
//! - `config`: base URL (`ADSCTL_X_ENDPOINT`, the account's `endpoint:`), tunables, limits, credentials lookup
//!   through `crate::auth`.
//! - `auth`: [`auth::XCredentials`] (`PlatformCredentials`) and [`auth::XAuth`] (`PlatformAuth`).
//! - `client`: the OAuth 1.0a HMAC-SHA1 signer, HTTP, retries, the error envelope, cursor paging.
//! - `errors`: statuses and codes → classes (retryable or not) and hints.
//! - `mapping`: wire ↔ `Resource` (exact micros, times, enums, markers, criterion names, write parameters).
//! - `read`, `apply`, `lease`, `metrics`.
//!
//! Written from `shared/reference/x-ads/` (WIRE-NOTES.md, resources.json, tools/oauth1_vector.py). Where the pack
//! is silent or marks a fact unverified, this connector reads it as follows:
//!
//! - **Signing**: the base URL is the URL actually called, as the URL parser writes it (scheme and host lower
//!   case, no default port, the path; `http://127.0.0.1:PORT/12/…` against the emulator). Query parameters go on
//!   the wire RFC 3986-encoded (`,` → `%2C`, `:` → `%3A`) and are signed decoded; JSON bodies are never signed.
//!   The nonce is 32 random alphanumerics, the timestamp the clock's seconds.
//! - **Credentials** come from the vault or from `ADSCTL_X_CONSUMER_KEY`, `ADSCTL_X_CONSUMER_SECRET`,
//!   `ADSCTL_X_ACCESS_TOKEN`, `ADSCTL_X_TOKEN_SECRET` (the `ADSCTL_` prefix of the other homes' variables).
//!   `auth set-token` reads four values (or two: access token and token secret, the app's from the environment
//!   or the vault) from standard input. There is no browser login: the pack documents no 3-legged flow for v12.
//! - **Creates answer any 2xx** (the pack gives no status); single creates read `data.id`, batch creates the ids
//!   of `data[]` in input order.
//! - **Batch params**: strings as the single endpoints take them (lists comma-joined), money as JSON integers;
//!   Update and Delete carry the id as `campaign_id` / `line_item_id` / `targeting_criterion_id` (the SDKs').
//!   `operation_errors` (element shape not shown by the docs) is read as one entry per input item — an array of
//!   error objects, one object, or empty/null for a good item; as a batch is all-or-nothing, the good items are
//!   sent again without the failed ones. A `*_NOT_FOUND` on a Delete item is "already deleted".
//! - **Statuses at create**: the YAML's `status` when given, else none is sent (X's default, ACTIVE). Updates take
//!   only `active` / `paused` (X refuses DRAFT on PUT).
//! - **start_time** of a line item created without one is the apply's start, to the whole second in UTC (X
//!   requires it); without an end, `end_time=` is sent: v12 marks it required on a create while the docs'
//!   example object has `end_time: null`, so it is read as "must be sent; empty means no end" (as on PUT).
//! - **Clearing** an optional value (an end time, a budget) sends it empty (`end_time=`), as the pack says.
//! - **Targeting criteria** are named `<type>:<value>`, `not <type>:<value>` (NE), `gte …` / `lt …` (GTE, LT),
//!   the type lower-cased and the value exactly the wire's. `custom_audience` / `custom_audience_expanded` are
//!   named by the audience's adsctl name and refer to it (`audience` Ref); the read maps the audience id back
//!   through the audiences of the same read, an unknown id stays in the name. Criteria and promoted posts have no
//!   update: an update that only re-points `audience` sends nothing; a pause is skipped (they have no status).
//! - **Audience uploads**: operation objects of at most 1,000 users each (the pack gives no per-operation cap),
//!   each user `{"email":[<sha256>]}`; requests of at most 2,500 operations and 5,000,000 bytes; a request whose
//!   `success_count` or `total_count` differs from the user objects sent is sent once more, then fails. Members
//!   are `Update` (added) and `Delete` (removed) when the previous set is known, otherwise all `Update` (X has no
//!   replace-all). The members' fingerprint rides in the description's marker, cleared before an upload and set
//!   after (as LinkedIn's DMP segments). Audiences have no status: a pause is skipped.
//! - **Lost answers** on creates (no answer, 5xx, 408, 423): nothing is re-sent blindly — campaigns are listed by
//!   marked name, line items by campaign and marked name, criteria by line item + type + value + operator,
//!   promoted tweets by line item + tweet id, audiences by name; found → applied; not found → sent again only if
//!   X had answered, otherwise "outcome unknown" (the next run finds or creates it).
//! - **Rate limits**: a 429 waits until `x-account-rate-limit-reset` (preferred) or `x-rate-limit-reset`, at
//!   least 1 s, 60 s when neither is there; at most 15 minutes by the connector's own cap (and `--max-wait`); 5
//!   in a row fail. 500 / 503 (after `retry-after` when longer than the backoff) / 408 / 423 back off 1 s doubling,
//!   jittered, 5 retries — for reads, updates and deletes only.
//! - **Reads** list campaigns and line items with `with_draft=true` and everything by `count=1000`; deleted objects
//!   are gone (pinned ids are not read with `with_deleted`). A line item under a campaign the read did not list
//!   (a lease, a deleted campaign) is left out, as is whatever sits under it.
//! - **Leases**: DRAFT campaigns named `adsctl-lease|<holder>|<until>` on the account's first funding instrument,
//!   daily budget 1,000,000 micros (a draft spends nothing). A lease create whose outcome is unknown is looked for
//!   by its name (this attempt's own) before it is sent again, so one server error no longer fails the account.
//! - **Metrics**: deleted and draft objects included; days in the account's time zone (adsctl.yaml's, else X's
//!   account `timezone`, else UTC); ranges of ≤ 7 days sync, longer by async jobs of ≤ 90 days; no conversions
//!   in ENGAGEMENT/BILLING, so conversions are 0; all-zero days are left out.
//! - **Validation**: X has no dry run: `validate` checks locally what the mapping can (names, money, times, enums,
//!   criterion names, tweet ids, members) and sends nothing.
//!
//! The engine reaches it through [`connector`] / [`XConnector::new`]; the home's capabilities are
//! [`capabilities`].

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

use self::client::{CallError, Query, XClient};
use crate::connectors::{
    ApplyBatch, Capabilities, Connector, ConnectorError, DateRange, Health, Lease, LeaseOutcome, LiveSnapshot,
    MetricRow, MetricsLevel, OpOutcome, ReadRequest,
};
use crate::model::{Account, Kind, Platform};

pub use self::auth::{XAuth, XCredentials};
pub use self::config::{resolve_credentials, XConfig, API_VERSION, ENDPOINT_ENV};

/// Build the connector for one X account (for `Home::connector`).
pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(XConnector::new(account)?))
}

/// What a read learned that a later apply uses.
#[derive(Default)]
pub(crate) struct Cache {
    /// Object id → its name on X.
    pub names: HashMap<String, String>,
    /// Audience id → the members' fingerprint its description records.
    pub fingerprints: HashMap<String, String>,
    /// Audience id → the user's part of its description.
    pub descriptions: HashMap<String, Option<String>>,
    /// Audience name → id.
    pub audience_ids: HashMap<String, String>,
    /// The funding instrument lease campaigns go on.
    pub funding_instrument: Option<String>,
}

impl Cache {
    pub(crate) fn merge(&mut self, other: Cache) {
        self.names.extend(other.names);
        self.fingerprints.extend(other.fingerprints);
        self.descriptions.extend(other.descriptions);
        self.audience_ids.extend(other.audience_ids);
        if other.funding_instrument.is_some() {
            self.funding_instrument = other.funding_instrument;
        }
    }
}

pub struct XConnector {
    client: XClient,
    /// Shared by every connector of the same ad account in this process (the engine may build one per call).
    cache: Arc<Mutex<Cache>>,
}

/// The ad account's id from adsctl.yaml's (base-36, lower case).
pub fn account_id(platform_id: &str) -> String {
    platform_id.trim().to_ascii_lowercase()
}

impl XConnector {
    /// The connector for an account, configured from the environment (`ADSCTL_X_*`, the account's `endpoint:`)
    /// with the credentials of the vault or the environment.
    pub fn new(account: &Account) -> Result<XConnector, ConnectorError> {
        let cfg = XConfig::from_env(account)?;
        let creds = resolve_credentials(account)?;
        XConnector::with(account, cfg, creds)
    }

    /// A connector with explicit configuration and credentials (tests, `--emulator`).
    pub fn with(account: &Account, cfg: XConfig, creds: XCredentials) -> Result<XConnector, ConnectorError> {
        if account.platform != Platform::X {
            return Err(ConnectorError::Config(format!(
                "account `{}` is a {} account, not x",
                account.name, account.platform
            )));
        }
        let id = account_id(&account.platform_id);
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ConnectorError::Config(format!(
                "account `{}`: the X ad account id `{id}` is not a base-36 id (like 18ce54d4x5t)",
                account.name
            )));
        }
        let key = format!("{}|{id}", cfg.base_url);
        let client = XClient::new(cfg, creds, &account.name, &id)?;
        Ok(XConnector {
            client,
            cache: crate::platforms::shared::shared_cache(&key),
        })
    }

    pub fn client(&self) -> &XClient {
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
        // campaigns, then their line items, then criteria and promoted tweets: each child with the id its
        // parent's create returned, in one hand-over
        creates_children_in_one_request: true,
        ordered_requests: false,
        // X has no labels: the marker ends `name` (campaigns, line items) or an audience's description.
        // Promoted posts and targeting criteria carry no text: adsctl's when the YAML declares them or the id map
        // made them.
        marked_kinds: vec![Kind::Campaign, Kind::AdGroup, Kind::Audience],
        immutable_fields: BTreeMap::from([
            (Kind::Campaign, mapping::CAMPAIGN_FIXED.to_vec()),
            (Kind::AdGroup, mapping::LINE_ITEM_FIXED.to_vec()),
        ]),
        // `name` on PUT (with the marker; an audience's name carries none)
        renamable_kinds: vec![Kind::Campaign, Kind::AdGroup, Kind::Audience],
        paused_status: "paused",
        settled_statuses: &[],
        swapped_fields: BTreeMap::new(),
        write_only_fields: BTreeMap::from([(Kind::Audience, vec!["members"])]),
    }
}

#[async_trait]
impl Connector for XConnector {
    fn platform(&self) -> Platform {
        Platform::X
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

    /// X has no dry run: what the mapping can check is checked locally, and nothing is sent.
    async fn validate(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        apply::run(self, account, batch, true).await
    }

    async fn health(&self, account: &Account) -> Result<Health, ConnectorError> {
        let id = self.client.account_id.clone();
        let a = self
            .client
            .get(&self.client.account_root(), &Query::new())
            .await
            .map_err(|e| self.err(e))?;
        let info = a.data("account").map_err(|e| self.err(e))?;
        let s = |k: &str| info.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
        let (name, approval) = (s("name"), s("approval_status"));
        let mut problems = Vec::new();
        if !approval.is_empty() && approval != "ACCEPTED" {
            problems.push(format!("approval_status is {approval}"));
        }
        if let (Some(want), tz) = (account.time_zone.as_deref(), s("timezone")) {
            if !tz.is_empty() && tz != want {
                problems.push(format!("the ad account's time zone is {tz}, adsctl.yaml says {want}"));
            }
        }
        Ok(Health {
            ok: problems.is_empty(),
            detail: if problems.is_empty() {
                format!("ad account {id} ({name}) is reachable")
            } else {
                format!("ad account {id} ({name}): {}", problems.join("; "))
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
