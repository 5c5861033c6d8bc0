//! HubSpot, the platform's home: the connector for the date-versioned public API 2026-09
//! (`https://api.hubapi.com`, the version one constant, [`config::API_VERSION`]), and beside it the home's registry
//! entry, YAML types, lowering, import and `--emulator` seeding (`home.rs`, `yaml.rs`, `lower.rs`, `import.rs`,
//! `emulated.rs`).
//!
//! - `config`: base URL (`ADSCTL_HUBSPOT_ENDPOINT`, the account's `endpoint:`), tunables, limits, credentials.
//! - `auth`: [`auth::HubSpotCredentials`] (`PlatformCredentials`) and [`auth::HubSpotAuth`] (`PlatformAuth`).
//! - `client`: Bearer, OAuth refresh ahead of expiry, date-versioned paths with the `v3` fallback, retries.
//! - `errors`: the error envelope and the 429 body → classes and hints; e-mail addresses redacted.
//! - `mapping`: wire ↔ `Resource` (strings both ways, exact money, markers, member hashes).
//! - `read`, `apply`, `lease`, `metrics`.
//!
//! Written from `shared/reference/hubspot/` (WIRE-NOTES.md, resources.json) and the contract in
//! `docs/resource-model.md` ("HubSpot"). Where the pack is silent or unverified, this connector reads it so:
//!
//! - **Versions**: every path is date-versioned (2026-09); an API's `v3` path is used only after its date-versioned
//!   one answered a 404 without HubSpot's error envelope (then for the rest of the process).
//! - **Campaigns**: created through `batch/create` (≤ 50) with `hs_name`, `hs_notes` marked (`[adsctl-managed]`
//!   at its end), `hs_currency_code` = the account's currency (so budget and spend amounts are in it), and the
//!   fields given; results are matched by `hs_name` (names are unique within a batch: they are addresses), never by
//!   position. Updates go through `batch/update` (≤ 50), results matched by id; a 207's errors name the ids
//!   (`context.ids`) that failed. A batch refused as a whole (400) is sent again one campaign at a time, so only
//!   the bad one fails. `color` is written and read upper case; an empty value clears (`""`).
//! - **Status**: the option list of `hs_campaign_status` (`GET /crm/properties/2026-09/campaigns/hs_campaign_status`,
//!   read once per process) decides what a write sends: the option whose value equals the YAML's ignoring case;
//!   an empty or unreadable list sends the YAML's value as written. A pause needs an option `paused` when the
//!   list has options (else the operation fails, saying so).
//! - **Money**: budget and spend amounts are JSON numbers written from the exact decimal of the micros (the body
//!   is built as text, never through a float) and read from the number's digits; more than 6 decimals is an
//!   error. Budget items are matched by position (`order`): a changed one is `PUT` (its `order` set to its
//!   position), a new one `POST`ed, a surplus one `DELETE`d. Budget and spend are read from `budget/totals` for
//!   adsctl's campaigns only (a foreign campaign carries no `budget_items` / `spend`), and re-read at apply time.
//! - **Deletes**: a campaign `DELETE` (204 always) is confirmed by a `GET` that must be 404.
//! - **Audiences**: MANUAL lists of contacts (`0-1`) named `<name> [adsctl-managed]`. A member to add needs its
//!   address filed by the spec loader (`connectors::clear`, keyed by the audience's address); none → that
//!   operation fails and nothing of it is sent. Contacts are upserted by email (only `email` is sent) and the ids
//!   the upsert answers are added; removal uses the record ids the last read saw (kept in this process's memory),
//!   else the operation fails asking for a re-read. `members` is readable (not write-only); the members' hashes
//!   are SHA-256 hex of the trimmed, lower-cased address.
//! - **Lost answers**: a campaign create whose answer was lost (no answer, 5xx) is looked for by `hs_name` (the
//!   list's `name` filter, then an exact match with the marker in `hs_notes`), a list create by its marked name;
//!   found → applied; not found → sent once more when the look-up succeeded, otherwise the operation fails
//!   `outcome_unknown` (the next run finds or creates it).
//! - **Leases**: MANUAL lists `adsctl-lease|<holder>|<until>` (`until` RFC 3339 UTC to the second), found by a
//!   list search for `adsctl-lease` filtered by the prefix; the lowest list id among unexpired ones holds; checked
//!   again after `lease_settle`. A holder that asks again while its own lease is live keeps that list (renamed to
//!   the new expiry): list names are unique, a second one would be refused.
//! - **Retries**: deletes, `memberships/add|remove` and budget `PUT`s count as idempotent (retried after 5xx like
//!   reads); creates (`batch/create`, single creates, list and budget/spend `POST`s) only after answers that say
//!   nothing was done (429 ten-secondly/secondly, 423, 477). `X-HubSpot-RateLimit-Remaining: 0` makes the next
//!   request wait the ten-second unit first. A 401 `EXPIRED_AUTHENTICATION` of a refreshable token refreshes once
//!   (a late safety net; expiry is tracked).
//! - **Metrics**: campaign level only; one row per adsctl campaign and day of the range (zero days included),
//!   each from `reports/metrics` of that one day.
//! - **Validation**: HubSpot has no dry run: `validate` checks locally (fields, dates, colours, money, members in
//!   clear) and sends nothing.
//! - **Tokens** refreshed by the connector are kept in its memory for the process (not written to the vault).

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

use self::client::{Api, CallError, HubSpotClient, Query};
use crate::connectors::{
    ApplyBatch, Capabilities, Connector, ConnectorError, DateRange, Health, Lease, LeaseOutcome, LiveSnapshot,
    MetricRow, MetricsLevel, OpOutcome, ReadRequest,
};
use crate::model::{Account, Kind, Platform};

pub use self::auth::{HubSpotAuth, HubSpotCredentials};
pub use self::config::{resolve_credentials, HubSpotConfig, API_VERSION, ENDPOINT_ENV};

/// The home's credentials flows.
pub fn home_auth() -> Option<&'static dyn crate::auth::PlatformAuth> {
    Some(&HubSpotAuth)
}

/// Build the connector for one HubSpot account (for `Home::connector`).
pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(HubSpotConnector::new(account)?))
}

/// What a read learned that a later apply uses. Never holds an address.
#[derive(Default)]
pub(crate) struct Cache {
    /// List id → member hash → contact record id (what removing a member needs).
    pub members: HashMap<String, HashMap<String, String>>,
    /// The option values of `hs_campaign_status` (None: not read yet).
    pub status_options: Option<Vec<String>>,
    /// Campaign GUID → its budget and spend items as the last read saw them (what an apply's money edits start
    /// from, so that it reads nothing more); taken by the apply that uses them.
    pub totals: HashMap<String, mapping::Totals>,
}

pub struct HubSpotConnector {
    client: HubSpotClient,
    /// Shared by every connector of the same portal in this process.
    cache: Arc<Mutex<Cache>>,
}

impl HubSpotConnector {
    /// The connector for an account, configured from the environment with the vault's or the environment's
    /// credentials.
    pub fn new(account: &Account) -> Result<HubSpotConnector, ConnectorError> {
        let cfg = HubSpotConfig::from_env(account)?;
        let creds = resolve_credentials(account)?;
        HubSpotConnector::with(account, cfg, creds)
    }

    /// A connector with explicit configuration and credentials (tests, `--emulator`).
    pub fn with(
        account: &Account,
        cfg: HubSpotConfig,
        creds: HubSpotCredentials,
    ) -> Result<HubSpotConnector, ConnectorError> {
        if account.platform != Platform::Hubspot {
            return Err(ConnectorError::Config(format!(
                "account `{}` is a {} account, not hubspot",
                account.name, account.platform
            )));
        }
        let portal = config::portal_id(account)?;
        let key = format!("{}|{portal}", cfg.base_url);
        let client = HubSpotClient::new(cfg, creds, &account.name, &portal)?;
        Ok(HubSpotConnector {
            client,
            cache: crate::platforms::shared::shared_cache(&key),
        })
    }

    pub fn client(&self) -> &HubSpotClient {
        &self.client
    }

    pub(crate) fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn err(&self, e: CallError) -> ConnectorError {
        e.into_connector_error(&self.client.account_name)
    }

    /// The option values of `hs_campaign_status`, read once (an unreadable list counts as empty: any value).
    pub(crate) async fn status_options(&self) -> Vec<String> {
        if let Some(o) = self.cache().status_options.clone() {
            return o;
        }
        let got: Vec<String> = self
            .client
            .get(Api::CampaignProperties, "/hs_campaign_status", &Query::new())
            .await
            .ok()
            .and_then(|a| a.json::<serde_json::Value>("hs_campaign_status").ok())
            .map(|v| {
                v.get("options")
                    .and_then(|o| o.as_array())
                    .map(|a| {
                        a.iter()
                            .filter_map(|o| o.get("value").and_then(|x| x.as_str()))
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        self.cache().status_options = Some(got.clone());
        got
    }
}

/// The connector's capabilities.
pub fn capabilities() -> Capabilities {
    Capabilities {
        max_ops_per_request: config::MAX_OPS_PER_APPLY,
        // campaigns and lists have no children in this model
        creates_children_in_one_request: false,
        ordered_requests: false,
        // no labels: the marker ends a campaign's hs_notes and a list's name
        marked_kinds: vec![Kind::Campaign, Kind::Audience],
        immutable_fields: BTreeMap::new(),
        renamable_kinds: vec![Kind::Campaign, Kind::Audience],
        paused_status: "paused",
        settled_statuses: &["completed"],
        swapped_fields: BTreeMap::new(),
        // members are read back (record ids → emails → hashes)
        write_only_fields: BTreeMap::new(),
    }
}

#[async_trait]
impl Connector for HubSpotConnector {
    fn platform(&self) -> Platform {
        Platform::Hubspot
    }

    fn capabilities(&self) -> Capabilities {
        capabilities()
    }

    async fn read(&self, account: &Account, req: &ReadRequest) -> Result<LiveSnapshot, ConnectorError> {
        read::run(self, account, req).await
    }

    async fn apply(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        apply::run(self, account, batch, false).await
    }

    /// HubSpot has no dry run: what the mapping can check is checked locally, and nothing is sent.
    async fn validate(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        apply::run(self, account, batch, true).await
    }

    async fn health(&self, _account: &Account) -> Result<Health, ConnectorError> {
        let q = Query::new().set("limit", "1");
        self.client.get(Api::Campaigns, "", &q).await.map_err(|e| self.err(e))?;
        let body = serde_json::json!({"count": 1, "offset": 0, "objectTypeId": "0-1"}).to_string();
        self.client
            .send_json(
                client::Verb::Post,
                Api::Lists,
                "/search",
                &Query::new(),
                &body,
                client::Retry::All,
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(Health {
            ok: true,
            detail: format!("portal {}: campaigns and lists are reachable", self.client.portal_id),
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
        let Some(name) = audience else {
            return Err(ConnectorError::Config(format!(
                "account `{}`: a HubSpot audience source needs a list's name (a portal's whole contact base is not \
                 an audience)",
                account.name
            )));
        };
        read::source_emails(self, account, name).await
    }

    async fn metrics(
        &self,
        account: &Account,
        level: MetricsLevel,
        range: DateRange,
    ) -> Result<Vec<MetricRow>, ConnectorError> {
        metrics::run(self, account, level, range).await
    }
}

#[cfg(test)]
mod tests;
