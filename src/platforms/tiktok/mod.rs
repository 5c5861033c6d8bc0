//! TikTok, the platform's home: the connector for the TikTok API for Business (Marketing API) v1.3 (this file and
//! the wire modules below). The home's registry entry, YAML types, lowering, import and `--emulator` seeding live
//! beside them (`home.rs`, `yaml.rs`, `lower.rs`, `import.rs`, `emulated.rs`).
//!
//! - `config`: base URL (`ADSCTL_TIKTOK_ENDPOINT`), tunables, credentials lookup through `crate::auth`.
//! - `auth`: [`auth::TikTokCredentials`] (`PlatformCredentials`) and [`auth::TikTokAuth`] (`PlatformAuth`).
//! - `client`: HTTP, the `Access-Token` header, the envelope, retries, paging, JSON-string query values.
//! - `errors`: return codes → classes (retryable or not) and hints.
//! - `mapping`: wire ↔ `Resource` (exact money, int64 ids as text, enums, the name marker, request bodies).
//! - `read`, `apply`, `lease`, `metrics`.
//!
//! Written from `../shared/reference/tiktok-business/` (WIRE-NOTES.md, fields.json). Where the pack says
//! "unverified", this connector reads it as follows:
//!
//! - **Create responses** (no first-party shape): `campaign/create/` → `data.campaign_id`, `adgroup/create/` →
//!   `data.adgroup_id`, `ad/create/` → `data.ad_ids` in the order of `creatives` (matched by `ad_name` when the
//!   answer also lists the creatives), audience and lookalike creates → `data.custom_audience_id` (or
//!   `audience_id`), file upload → `data.file_path`.
//! - **`request_id` on `campaign/create/`** has the ad group's documented semantics (a repeat succeeds at most
//!   once). It is derived from the operation (advertiser, address, kind, parent id, fields) and the UTC day of its
//!   first attempt in this process, so a create sent again after a lost answer — by the client's retries, the
//!   executor's resend or the next run the same day — is not duplicated. A repeat answered 40050 ("duplicated
//!   request") is looked up by name. `ad/create/` and the audience creates carry no such field (fields.json): after
//!   a lost answer they are looked up by their (marked) name under their parent, and sent again only when
//!   TikTok had answered (a server error), never after no answer at all.
//! - **`ad/update/`** is sent with `patch_update: true` and, when the read cached it, the whole creative (so that
//!   an update overwriting the creative, the pack's reading without `patch_update`, loses nothing).
//! - **Ad groups**: `adgroup/update/` has no `budget_mode`, `placement_type`, `placements`,
//!   `optimization_goal` or `billing_event` (fields.json AdgroupUpdateBody), so they are immutable here (the
//!   contract names `budget_mode` only). A missing `schedule_start_time` (required by the SDK) is now (UTC+0).
//! - **Audiences**: `dmp/custom_audience/update/` has no `retention_in_days` or `calculate_type`: both are
//!   immutable. Members are uploaded as a file (one SHA-256 hex a line, `file_signature` = MD5 of the file), then
//!   the audience is created, or updated with `action` APPEND / REMOVE (when what it holds is known and only one
//!   direction changes) or REPLACE, in the same `update/` call as the name carrying the new fingerprint
//!   (`custom_audience_name` and `file_paths` together, unverified): the marker and the members change at once,
//!   so no false claim is ever left. Pausing an audience does nothing (TikTok has no status for them).
//! - **Lookalikes**: `lookalike_spec` also gets `mobile_os: ALL` and `placements: [PLACEMENT_TIKTOK]` (the
//!   contract has neither). Audience rows are read from `list/`; `get/` (by 100 ids) fills what a row lacks, its
//!   elements read either flat or as `{audience_details: …}`.
//! - **Campaign Budget Optimization**: TikTok wants `optimization_goal` on a CBO campaign; the contract has it on
//!   ad groups only, so a CBO campaign create takes the one of its ad groups created in the same apply.
//! - **Rate limits** (no headers, no Retry-After): an answer 40100 / 40016 / 40133 waits 1 s, then doubles, and
//!   after 6 in a row waits 5 minutes (the pack's QPS / QPM guidance); each wait is said and bounded by
//!   `--max-wait`. A token bucket per app and endpoint keeps to 10 requests a second (5 for `ad/create/`).
//! - **Reports**: a range of up to 30 days (`sync_report_max_days`; the pack's window for daily reports) is one
//!   sync `report/integrated/get/`; a longer one is one async task per 30-day window (`report/task/create/`,
//!   CSV_STRING, then `report/task/check/` until it stops answering 40201; the CSV read from `data.report`, or rows
//!   like the sync report's). Names come from the `campaign_name` / `adgroup_name` / `ad_name` metrics. The
//!   conversion value is `total_purchase_value`; an endpoint that refuses that metric (40002 naming it) is asked
//!   again without it and the value is 0.
//! - **Page sizes**: 1,000 for the get endpoints and reports, 100 for the audience list. For `ad/get/` the pack's
//!   only figure is the Smart+ sibling's 100; the client asks 1,000 and, on a 40002 about `page_size`, uses the
//!   maximum the message names for the rest of the process.
//! - **Id filters** of the get endpoints take at most 100 ids per request (the pack's figure for every other id
//!   list).
//! - **A `request_id` seen before** for an object since deleted answers that object (the emulator's reading of
//!   "succeeds at most once", as the emulator answers it): a create answered with a deleted object is sent again
//!   with a fresh `request_id`.
//! - **Deletions answered "does not exist" (40007) or "has been deleted"** are done (a resend after a lost answer).
//! - **Partial success** (20001, `allow_partial_success`) is not used: a refused status call of several ids is
//!   split to find the object it was about.
//!
//! The engine reaches it through [`connector`] / [`TikTokConnector::new`]; the home's capabilities are
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

pub use home::TikTokHome;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use self::client::{CallError, TikTokClient};
use crate::connectors::{
    ApplyBatch, Capabilities, Connector, ConnectorError, DateRange, Health, Lease, LeaseOutcome, LiveSnapshot,
    MetricRow, MetricsLevel, OpOutcome, ReadRequest,
};
use crate::model::{Account, Kind, Platform, Value};

pub use self::auth::{TikTokAuth, TikTokCredentials};
pub use self::config::{resolve_credentials, TikTokConfig, API_VERSION, ENDPOINT_ENV};

/// Build the connector for one TikTok account (for `Home::connector`).
pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(TikTokConnector::new(account)?))
}

/// An ad as the last read saw it: enough to send its whole creative in an update.
#[derive(Clone, Debug)]
pub(crate) struct CachedAd {
    pub adgroup_id: String,
    pub fields: BTreeMap<String, Value>,
}

/// What a read learned that a later apply uses.
#[derive(Default)]
pub(crate) struct Cache {
    /// Object id → its name on TikTok.
    pub names: HashMap<String, String>,
    pub ads: HashMap<String, CachedAd>,
    /// Ad group id → campaign id.
    pub adgroup_campaign: HashMap<String, String>,
    /// Audience id → its `calculate_type` (a file uploaded to it must be of the same type).
    pub audience_calc: HashMap<String, String>,
}

pub struct TikTokConnector {
    client: TikTokClient,
    /// Shared by every connector of the same advertiser in this process (the engine may build one per call).
    cache: Arc<Mutex<Cache>>,
}

/// The advertiser id as TikTok wants it: digits.
pub fn advertiser_id(platform_id: &str) -> String {
    platform_id.trim().to_string()
}

impl TikTokConnector {
    /// The connector for an account, configured from the environment (`ADSCTL_TIKTOK_*`, the account's
    /// `endpoint:`) with the credentials of the vault or the environment (`TIKTOK_ACCESS_TOKEN`, …).
    pub fn new(account: &Account) -> Result<TikTokConnector, ConnectorError> {
        let cfg = TikTokConfig::from_env(account)?;
        let creds = resolve_credentials(account)?;
        TikTokConnector::with(account, cfg, creds)
    }

    /// A connector with explicit configuration and credentials (tests, `--emulator`).
    pub fn with(
        account: &Account,
        cfg: TikTokConfig,
        creds: TikTokCredentials,
    ) -> Result<TikTokConnector, ConnectorError> {
        if account.platform != Platform::Tiktok {
            return Err(ConnectorError::Config(format!(
                "account `{}` is a {} account, not tiktok",
                account.name, account.platform
            )));
        }
        let adv = advertiser_id(&account.platform_id);
        if adv.is_empty() || !adv.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConnectorError::Config(format!(
                "account `{}`: the TikTok advertiser id `{adv}` is not a number",
                account.name
            )));
        }
        let key = format!("{}|{adv}", cfg.base_url);
        let client = TikTokClient::new(cfg, creds, &account.name, &adv)?;
        Ok(TikTokConnector {
            client,
            cache: crate::platforms::shared::shared_cache(&key),
        })
    }

    pub fn client(&self) -> &TikTokClient {
        &self.client
    }

    pub(crate) fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn err(&self, e: CallError) -> ConnectorError {
        e.into_connector_error(&self.client.account_name)
    }
}

/// The connector's capabilities (the home returns these; the memory backend serves TikTok accounts with them).
pub fn capabilities() -> Capabilities {
    Capabilities {
        max_ops_per_request: config::MAX_OPS_PER_APPLY,
        // A hand-over may hold a campaign, its ad groups and their ads: the connector creates them in order,
        // each child with the id its parent's create returned.
        creates_children_in_one_request: true,
        // Removals come in a later hand-over (TikTok has no request that orders several writes).
        ordered_requests: false,
        // The marker at the end of the name: TikTok has no labels and no other free text field.
        marked_kinds: vec![
            Kind::Campaign,
            Kind::AdGroup,
            Kind::Ad,
            Kind::Audience,
            Kind::LookalikeAudience,
        ],
        immutable_fields: BTreeMap::from([
            (
                Kind::Campaign,
                vec!["objective_type", "budget_mode", "budget_optimize_on"],
            ),
            (Kind::AdGroup, mapping::ADGROUP_FIXED.to_vec()),
            (Kind::Audience, vec!["calculate_type", "retention_in_days"]),
            (
                Kind::LookalikeAudience,
                vec!["origin", "audience_size", "location_ids", "include_source"],
            ),
        ]),
        // `campaign_name` / `adgroup_name` (marked) in their update, an ad's `ad_name` with its whole creative in
        // `ad/update/`, an audience's `custom_audience_name` (marked, keeping its members' fingerprint)
        renamable_kinds: vec![
            Kind::Campaign,
            Kind::AdGroup,
            Kind::Ad,
            Kind::Audience,
            Kind::LookalikeAudience,
        ],
        // operation_status DISABLE
        paused_status: "disable",
        settled_statuses: &[],
        swapped_fields: BTreeMap::new(),
        write_only_fields: BTreeMap::from([(Kind::Audience, vec!["members"])]),
    }
}

#[async_trait]
impl Connector for TikTokConnector {
    fn platform(&self) -> Platform {
        Platform::Tiktok
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

    async fn validate(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        apply::run(self, account, batch, true).await
    }

    async fn health(&self, account: &Account) -> Result<Health, ConnectorError> {
        let adv = &self.client.advertiser_id;
        let data = self
            .client
            .get("advertiser/info/", client::Query::new().json("advertiser_ids", &[adv]))
            .await
            .map_err(|e| self.err(e))?;
        let v: serde_json::Value = serde_json::from_str(data.get()).unwrap_or_default();
        let info = v
            .get("list")
            .and_then(|l| l.as_array())
            .and_then(|l| l.first())
            .cloned()
            .unwrap_or_default();
        let name = info.get("name").and_then(|x| x.as_str()).unwrap_or("");
        let currency = info.get("currency").and_then(|x| x.as_str()).unwrap_or("");
        let status = info.get("status").and_then(|x| x.as_str()).unwrap_or("");
        let mut problems = Vec::new();
        if !status.is_empty() && status != "STATUS_ENABLE" {
            problems.push(format!("status is {status}"));
        }
        if !currency.is_empty() && currency != account.currency.code() {
            problems.push(format!(
                "the advertiser's currency is {currency}, adsctl.yaml says {}",
                account.currency
            ));
        }
        Ok(Health {
            ok: problems.is_empty(),
            detail: if problems.is_empty() {
                format!("advertiser {adv} ({name}) is reachable")
            } else {
                format!("advertiser {adv} ({name}): {}", problems.join("; "))
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
        metrics::metrics(self, account, level, range).await
    }
}
