//! The HubSpot public API emulator: marketing campaigns, CRM contacts, lists (ILS), contact properties and OAuth.
//!
//! Written from `../shared/reference/hubspot` (WIRE-NOTES.md, resources.json compiled from HubSpot's public spec
//! collection, SOURCE.md); it shares no code with adsctl's connectors. The rules it enforces, with their errors and
//! tests, are the "HubSpot" section of `docs/wire-rules.md`.
//!
//! API routes (JSON; `{ver}` is a date version `2026-09` or `2026-03`, or the legacy `v3` spelled as HubSpot does):
//! - campaigns ([`campaigns`]): `/marketing/campaigns/{ver}` and `/marketing/v3/campaigns`: `GET|POST /`,
//!   `GET|PATCH|DELETE /{guid}`, `POST /batch/{create|read|update|archive}` (≤50 inputs),
//!   `POST /{guid}/budget`, `GET /{guid}/budget/totals`, `GET|PUT|DELETE /{guid}/budget/{id}`, the same for
//!   `spend`, `GET /{guid}/assets/{type}`, `PUT|DELETE /{guid}/assets/{type}/{id}`,
//!   `GET /{guid}/reports/{metrics|revenue}`, `GET /{guid}/reports/contacts/{contactType}`;
//! - contacts ([`contacts`]): `/crm/objects/{ver}/{contacts|0-1}` and `/crm/v3/objects/{contacts|0-1}`:
//!   `GET|POST /`, `GET|PATCH|DELETE /{id}` (`?idProperty=email`), `POST /batch/{create|read|update|upsert|archive}`
//!   (≤100 inputs), `POST /search`, `POST /gdpr-delete` (removes the record; the email is not blocklisted);
//! - properties: `/crm/properties/{ver}/{contacts|campaigns}` and `/crm/v3/properties/…`: `GET|POST /`,
//!   `GET /{name}`, `GET|POST /groups`, `GET /groups/{name}` (custom contact properties become writable once
//!   created; their group must exist first: built-in `contactinformation`, or one made through `/groups`);
//! - lists ([`lists`]): `/crm/lists/{ver}` and `/crm/v3/lists`: `GET|POST /`, `POST /search`,
//!   `GET /object-type-id/{objectTypeId}/name/{name}`, `GET|DELETE /{listId}`, `PUT /{listId}/restore`,
//!   `PUT /{listId}/update-list-name`, `PUT /{listId}/update-list-filters`, `GET|DELETE /{listId}/memberships`,
//!   `GET /{listId}/memberships/join-order`, `PUT /{listId}/memberships/{add|remove|add-and-remove}`,
//!   `PUT /{listId}/memberships/add-from/{sourceListId}`, `GET /records/{objectTypeId}/{recordId}/memberships`,
//!   `POST /records/memberships/batch/read`;
//! - OAuth ([`oauth`]): `GET /oauth/authorize` and `/oauth/{portalId}/authorize` (the consent screen, which
//!   HubSpot serves on app.hubspot.com; the emulator on its own host), `POST /oauth/v1/token`, `/oauth/v3/token`,
//!   `/oauth/{ver}/token`, `POST /oauth/{ver}/token/introspect`, `POST /oauth/{ver}/token/revoke`,
//!   `GET /oauth/v1/access-tokens/{token}`, `GET|DELETE /oauth/v1/refresh-tokens/{token}`.
//!
//! Readings chosen where the pack is unverified or silent (each is a row or a note in docs/wire-rules.md):
//! - Auth: `Authorization: Bearer` only. Private-app tokens (`pat-…`, well-known and seeded) never expire and carry
//!   every scope; OAuth access tokens live 1800 s of the emulator clock and carry the scopes of the authorization.
//!   Unknown token: 401 INVALID_AUTHENTICATION; expired: 401 EXPIRED_AUTHENTICATION; a scope missing: 403
//!   MISSING_SCOPES with `errors[0].context.requiredGranularScopes`.
//! - Property values must be JSON strings (the pack: strings both ways); anything else is 400 VALIDATION_ERROR
//!   (code INVALID_TYPE). Errors on properties follow HubSpot's "Property values were not valid: [...]" message
//!   with one `errors[]` entry per property (codes PROPERTY_DOESNT_EXIST, READ_ONLY_VALUE, INVALID_EMAIL,
//!   INVALID_DATE, INVALID_INTEGER, INVALID_OPTION, INVALID_BOOLEAN, INVALID_TYPE; `context.propertyName`).
//! - Campaigns: create needs a non-empty hs_name; hs_start_date/hs_end_date are YYYY-MM-DD, hs_currency_code
//!   three capital letters, hs_color_hex `#RRGGBB`; hs_goal is ignored (deprecated). Without `properties` the
//!   map comes back empty. Budget and spend amounts are kept as exact decimals (sums are exact; the currency is the
//!   campaign's hs_currency_code, else USD); `description` is accepted and echoed though the spec lacks it.
//! - Batches: results come back in an order other than the inputs (a deterministic shuffle). Unknown ids in
//!   batch read/update: 207 with `errors[]` and `numErrors` on every version (the 2026-09 spec declares no 207; the
//!   pack says treat it as possible). More inputs than allowed: 400 VALIDATION_ERROR, nothing done.
//! - Contacts: a duplicate email (create, batch create, update to another's email) is 409 CONFLICT "Contact
//!   already exists. Existing ID: N" with `context.existingObjectId`. Search sees writes after `search_lag_ms`
//!   (default 200 ms; before that the previous version, or nothing for a new contact) and has its own limit
//!   (default 5 per second per token, policy SECONDLY, no rate-limit headers on search responses).
//! - Lists: a duplicate name among the portal's lists is 400 VALIDATION_ERROR, subCategory
//!   ILS.DUPLICATE_LIST_NAMES. DYNAMIC and SNAPSHOT lists need a filterBranch (stored, not evaluated: DYNAMIC and
//!   SNAPSHOT lists start empty). Membership edits of a DYNAMIC list: 400 VALIDATION_ERROR, subCategory
//!   ILS.LIST_PROCESSING_TYPE_NOT_SUPPORTED_FOR_OPERATION (reading). Only live contacts of the portal can be
//!   members (others land in recordIdsMissing); ids already in (or already out) are left out of every array.
//!   Membership cursors are opaque strings.
//! - Deletes (campaigns, campaign batch archive, budget/spend items, contacts, lists, contact batch archive) answer
//!   204 even for unknown ids.
//! - Rate limits: a ten-second rolling window per private-app token (190) or per OAuth app and portal (110); a daily
//!   count per portal for private apps (625,000, reset at midnight UTC of the emulator clock — the portal time zone
//!   is not modelled). Rejected requests do not count.
//! - Invalid inputs in a batch create/update/upsert fail the whole call with the 400 of the first bad input
//!   (nothing is written); only unknown ids make a 207.
//! - Contact search calls count against the search limit only, not the ten-second window or the daily count.
//! - Faults: a server error is 500 with the envelope (category INTERNAL_ERROR), a rate-limit fault the
//!   ten-secondly 429. Under the ReadLag fault, contact reads (GET one, list, batch read) within `read_lag_ms`
//!   (default 1000) of a write see the version before it (a contact created that recently is 404 / missing);
//!   campaign and list reads are not lagged.
//! - Unknown paths and version segments (`2026-09-beta`, `v4`): 404 with the error envelope, category
//!   OBJECT_NOT_FOUND.
//!
//! Admin routes (JSON; not counted, never faulted), under `/_emulator/hubspot/`:
//! - `GET store` → the whole state; `GET objects/{id}` → a campaign, contact or list as stored;
//! - `POST objects` `{"kind": "campaign"|"contact"|"list", "portal"?, "properties"?, "name"?, "processing_type"?}`
//!   → makes a "foreign" object as another client would (no limits, no validation of names);
//! - `GET lists/{id}/members` → `{"members": [recordId], "count"}`; `POST lists/{id}/members`
//!   `{"record_ids": [..]}` adds raw ids (to build large lists);
//! - `POST clock` `{"advance_secs": N}`;
//! - `POST config` `{"ten_secondly", "oauth_ten_secondly", "daily", "search_per_second", "search_lag_ms",
//!   "read_lag_ms", "max_membership_ids", "access_token_ttl_secs"}` (`null` keeps; the answer is the whole config).

pub mod campaigns;
pub mod contacts;
pub mod lists;
pub mod oauth;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json as AxumJson, Router};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::config::{EmulatorConfig, HubSpotContactSeed, HubSpotListSeed};
use crate::counters::{EndpointLabel, OperationCount};
use crate::platform::{defaults, FaultKind, PlatformEmulator};
use crate::rng::{hash_str, mix64};

pub const ACCESS_TOKEN_TTL_SECS: i64 = 1800;
pub const TEN_SECONDLY: u32 = 190;
pub const OAUTH_TEN_SECONDLY: u32 = 110;
pub const DAILY: u64 = 625_000;
pub const SEARCH_PER_SECOND: u32 = 5;
pub const SEARCH_LAG_MS: u64 = 200;
pub const READ_LAG_MS: u64 = 1000;
pub const MAX_CAMPAIGN_BATCH: usize = 50;
pub const MAX_OBJECT_BATCH: usize = 100;
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Every scope the well-known credentials carry.
pub const ALL_SCOPES: &[&str] = &[
    "oauth",
    "marketing.campaigns.read",
    "marketing.campaigns.write",
    "marketing.campaigns.revenue.read",
    "crm.lists.read",
    "crm.lists.write",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
];

// ---------------------------------------------------------------------------------------------------------------
// Configuration

/// Settings of the HubSpot emulator (from the `hubspot:` seed section; the limits change at run time through the
/// admin config).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HsConfig {
    /// Private-app token → portal id.
    pub private_tokens: BTreeMap<String, String>,
    /// OAuth client id → secret.
    pub clients: BTreeMap<String, String>,
    /// Seeded refresh tokens → portal id (of the well-known client).
    pub refresh_tokens: BTreeMap<String, String>,
    /// Portals with their seeded contacts and lists.
    pub portals: Vec<(String, Vec<HubSpotContactSeed>, Vec<HubSpotListSeed>)>,
    pub ten_secondly: u32,
    pub oauth_ten_secondly: u32,
    pub daily: u64,
    pub search_per_second: u32,
    pub search_lag_ms: u64,
    /// Under the ReadLag fault, contact reads within this long of a write see the version before it.
    pub read_lag_ms: u64,
    pub max_membership_ids: Option<usize>,
    pub access_token_ttl_secs: i64,
}

impl Default for HsConfig {
    fn default() -> Self {
        HsConfig::from_core(&EmulatorConfig::default())
    }
}

impl HsConfig {
    pub fn from_core(c: &EmulatorConfig) -> Self {
        let s = &c.seed.hubspot;
        let me = defaults::HUBSPOT_PORTAL_ID.to_string();
        let mut private_tokens = BTreeMap::new();
        private_tokens.insert(defaults::HUBSPOT_PRIVATE_APP_TOKEN.to_string(), me.clone());
        for t in &s.private_app_tokens {
            private_tokens.insert(t.clone(), me.clone());
        }
        let mut clients = BTreeMap::new();
        clients.insert(
            defaults::HUBSPOT_CLIENT_ID.to_string(),
            defaults::HUBSPOT_CLIENT_SECRET.to_string(),
        );
        for cl in &s.clients {
            clients.insert(cl.client_id.clone(), cl.client_secret.clone());
        }
        let mut refresh_tokens = BTreeMap::new();
        refresh_tokens.insert(defaults::HUBSPOT_REFRESH_TOKEN.to_string(), me.clone());
        for t in &s.refresh_tokens {
            refresh_tokens.insert(t.clone(), me.clone());
        }
        let mut portals = vec![(me, s.contacts.clone(), s.lists.clone())];
        for p in &s.portals {
            for t in &p.private_app_tokens {
                private_tokens.insert(t.clone(), p.portal_id.clone());
            }
            portals.push((p.portal_id.clone(), p.contacts.clone(), p.lists.clone()));
        }
        let r = &s.rate_limits;
        HsConfig {
            private_tokens,
            clients,
            refresh_tokens,
            portals,
            ten_secondly: r.ten_secondly.unwrap_or(TEN_SECONDLY),
            oauth_ten_secondly: r.oauth_ten_secondly.unwrap_or(OAUTH_TEN_SECONDLY),
            daily: r.daily.unwrap_or(DAILY),
            search_per_second: r.search_per_second.unwrap_or(SEARCH_PER_SECOND),
            search_lag_ms: s.search_lag_ms.unwrap_or(SEARCH_LAG_MS),
            read_lag_ms: READ_LAG_MS,
            max_membership_ids: s.max_membership_ids,
            access_token_ttl_secs: ACCESS_TOKEN_TTL_SECS,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// State

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Campaign {
    pub id: String,
    pub portal: String,
    pub properties: BTreeMap<String, String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub budget: Vec<MoneyItem>,
    pub spend: Vec<MoneyItem>,
    /// Asset type → asset ids associated through the API.
    pub assets: BTreeMap<String, Vec<String>>,
    /// Made through the admin API (another client).
    pub foreign: bool,
}

/// A budget or spend item; `amount` is an exact decimal.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MoneyItem {
    pub id: i64,
    pub amount: String,
    pub name: String,
    pub order: i64,
    pub description: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Contact {
    pub id: u64,
    pub portal: String,
    pub properties: BTreeMap<String, String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub archived_ms: Option<i64>,
    /// What search sees until `search_until_ms` (None: not indexed yet).
    pub search_view: Option<BTreeMap<String, String>>,
    pub search_until_ms: i64,
    pub foreign: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct List {
    pub id: u64,
    pub portal: String,
    pub name: String,
    pub object_type_id: String,
    pub processing_type: String,
    pub filter_branch: Option<Value>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub filters_updated_ms: i64,
    pub deleted_ms: Option<i64>,
    pub version: i64,
    /// Record id → (first added, last added) in ms.
    pub members: BTreeMap<u64, (i64, i64)>,
    pub foreign: bool,
}

/// A property created through the properties API (`portal/objectType/name`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CustomProperty {
    pub portal: String,
    pub object_type: String,
    pub name: String,
    pub label: String,
    pub kind: String,
    pub field_type: String,
    pub group_name: String,
    pub options: Vec<String>,
    pub has_unique_value: bool,
    pub created_ms: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccessToken {
    pub portal: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires_ms: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefreshToken {
    pub portal: String,
    pub client_id: String,
    pub scopes: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Code {
    pub client_id: String,
    pub redirect_uri: String,
    pub portal: String,
    pub scopes: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub portals: Vec<String>,
    pub campaigns: BTreeMap<String, Campaign>,
    pub contacts: BTreeMap<u64, Contact>,
    pub lists: BTreeMap<u64, List>,
    pub properties: BTreeMap<String, CustomProperty>,
    /// Property groups made through the API (`portal/objectType/name` → label).
    #[serde(default)]
    pub groups: BTreeMap<String, String>,
    pub access_tokens: BTreeMap<String, AccessToken>,
    pub refresh_tokens: BTreeMap<String, RefreshToken>,
    pub codes: BTreeMap<String, Code>,
    pub next: u64,
    pub clock_offset_ms: i64,
}

impl State {
    /// The emulator clock in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        wall + self.clock_offset_ms
    }
    pub fn bump(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
    /// A fresh UUID-shaped id.
    pub fn uuid(&mut self, salt: &str) -> String {
        let n = self.bump();
        uuid_of(hash_str(salt) ^ mix64(n), n)
    }
    /// A fresh opaque token of `len` characters.
    pub fn token(&mut self, prefix: &str, len: usize) -> String {
        let mut out = prefix.to_string();
        let n = self.bump();
        let mut x = mix64(n ^ hash_str(prefix));
        while out.len() < len {
            x = mix64(x.wrapping_add(n));
            out.push_str(&format!("{x:016x}"));
        }
        out.truncate(len);
        out
    }
    pub fn seed_contact(&mut self, portal: &str, props: BTreeMap<String, String>, foreign: bool) -> u64 {
        let now = self.now_ms();
        let id = self.bump() + 100;
        let mut properties = props;
        properties.insert("hs_object_id".into(), id.to_string());
        properties.insert("createdate".into(), iso_ms(now));
        properties.insert("lastmodifieddate".into(), iso_ms(now));
        self.contacts.insert(
            id,
            Contact {
                id,
                portal: portal.to_string(),
                search_view: Some(properties.clone()),
                properties,
                created_ms: now,
                updated_ms: now,
                archived_ms: None,
                search_until_ms: 0,
                foreign,
            },
        );
        id
    }
    pub fn seed_list(&mut self, portal: &str, name: &str, processing_type: &str, foreign: bool) -> u64 {
        let now = self.now_ms();
        let id = self.bump() + 10;
        let filter_branch = (processing_type != "MANUAL").then(
            || json!({"filterBranchType": "OR", "filterBranchOperator": "OR", "filterBranches": [], "filters": []}),
        );
        self.lists.insert(
            id,
            List {
                id,
                portal: portal.to_string(),
                name: name.to_string(),
                object_type_id: "0-1".into(),
                processing_type: processing_type.to_string(),
                filter_branch,
                created_ms: now,
                updated_ms: now,
                filters_updated_ms: now,
                deleted_ms: None,
                version: 1,
                members: BTreeMap::new(),
                foreign,
            },
        );
        id
    }
}

pub fn uuid_of(a: u64, n: u64) -> String {
    let a = mix64(a);
    let b = mix64(a ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let h = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

pub fn iso_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

fn fresh_state(cfg: &HsConfig) -> State {
    let mut st = State::default();
    for (portal, contacts, lists) in &cfg.portals {
        st.portals.push(portal.clone());
        let mut by_email = HashMap::new();
        for c in contacts {
            let mut p = c.properties.clone();
            p.insert("email".into(), c.email.to_lowercase());
            let id = st.seed_contact(portal, p, false);
            by_email.insert(c.email.to_lowercase(), id);
        }
        for l in lists {
            let id = st.seed_list(portal, &l.name, &l.processing_type, false);
            let now = st.now_ms();
            if let Some(list) = st.lists.get_mut(&id) {
                for e in &l.members {
                    if let Some(r) = by_email.get(&e.to_lowercase()) {
                        list.members.insert(*r, (now, now));
                    }
                }
            }
        }
    }
    for (t, portal) in &cfg.refresh_tokens {
        st.refresh_tokens.insert(
            t.clone(),
            RefreshToken {
                portal: portal.clone(),
                client_id: defaults::HUBSPOT_CLIENT_ID.to_string(),
                scopes: ALL_SCOPES.iter().map(|s| s.to_string()).collect(),
            },
        );
    }
    st
}

/// Rolling windows and daily counts (not persisted).
#[derive(Default)]
pub struct Limits {
    ten: HashMap<String, VecDeque<Instant>>,
    search: HashMap<String, VecDeque<Instant>>,
    daily: HashMap<(String, i64), u64>,
}

pub struct Inner {
    state: Mutex<State>,
    config: Mutex<HsConfig>,
    limits: Mutex<Limits>,
}

impl Inner {
    pub fn lock(&self) -> parking_lot::MutexGuard<'_, State> {
        self.state.lock()
    }
    pub fn config(&self) -> HsConfig {
        self.config.lock().clone()
    }
}

/// The HubSpot platform.
#[derive(Clone)]
pub struct HubSpotEmulator {
    inner: Arc<Inner>,
}

impl HubSpotEmulator {
    pub fn new(config: &EmulatorConfig) -> Self {
        let cfg = HsConfig::from_core(config);
        HubSpotEmulator {
            inner: Arc::new(Inner {
                state: Mutex::new(fresh_state(&cfg)),
                config: Mutex::new(cfg),
                limits: Mutex::new(Limits::default()),
            }),
        }
    }
    pub fn config(&self) -> HsConfig {
        self.inner.config()
    }
    pub fn configure(&self, f: impl FnOnce(&mut HsConfig)) {
        f(&mut self.inner.config.lock());
    }
    /// Add a portal with a private-app token to a running emulator.
    pub fn add_portal(&self, portal_id: &str, private_app_token: &str) {
        self.inner
            .config
            .lock()
            .private_tokens
            .insert(private_app_token.to_string(), portal_id.to_string());
        let mut st = self.inner.lock();
        if !st.portals.iter().any(|p| p == portal_id) {
            st.portals.push(portal_id.to_string());
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

/// An error in HubSpot's envelope: `{status: "error", message, correlationId, category, subCategory?, errors?,
/// context?}`.
#[derive(Clone, Debug)]
pub struct HsErr {
    pub status: u16,
    pub category: String,
    pub message: String,
    /// The optional parts (boxed: errors travel in every `Result`).
    pub x: Box<HsErrExtra>,
}

#[derive(Clone, Debug, Default)]
pub struct HsErrExtra {
    pub sub_category: Option<String>,
    pub errors: Vec<Value>,
    pub context: Option<Value>,
    /// A body of another shape (429, OAuth).
    pub raw: Option<Value>,
}

impl HsErr {
    pub fn new(status: u16, category: &str, message: impl Into<String>) -> Self {
        HsErr {
            status,
            category: category.to_string(),
            message: message.into(),
            x: Box::default(),
        }
    }
    pub fn sub_category(mut self, s: &str) -> Self {
        self.x.sub_category = Some(s.to_string());
        self
    }
    pub fn context(mut self, c: Value) -> Self {
        self.x.context = Some(c);
        self
    }
    pub fn error(mut self, e: Value) -> Self {
        self.x.errors.push(e);
        self
    }
}

pub fn validation(message: impl Into<String>) -> HsErr {
    HsErr::new(400, "VALIDATION_ERROR", message)
}

pub fn not_found(message: impl Into<String>) -> HsErr {
    HsErr::new(404, "OBJECT_NOT_FOUND", message)
}

pub fn correlation_id() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    uuid_of(t ^ 0x4855_4253, n)
}

pub fn error_response(e: &HsErr) -> Response {
    let cid = correlation_id();
    let body = match &e.x.raw {
        Some(v) => {
            let mut v = v.clone();
            if let Some(o) = v.as_object_mut() {
                o.entry("correlationId").or_insert(json!(cid));
            }
            v
        }
        None => {
            let mut o = Map::new();
            o.insert("status".into(), json!("error"));
            o.insert("message".into(), json!(e.message));
            o.insert("correlationId".into(), json!(cid));
            o.insert("category".into(), json!(e.category));
            if let Some(s) = &e.x.sub_category {
                o.insert("subCategory".into(), json!(s));
            }
            if !e.x.errors.is_empty() {
                o.insert("errors".into(), json!(e.x.errors));
            }
            if let Some(c) = &e.x.context {
                o.insert("context".into(), c.clone());
            }
            Value::Object(o)
        }
    };
    (
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        AxumJson(body),
    )
        .into_response()
}

/// A StandardError inside a batch response.
pub fn standard_error(status: u16, category: &str, message: &str, context: Value) -> Value {
    json!({"status": status.to_string(), "category": category, "message": message, "context": context,
           "errors": [], "links": {}})
}

/// 400 "Property values were not valid: [...]" with one errors[] entry per bad property.
pub fn property_errors(bad: Vec<(String, &str, String)>) -> HsErr {
    let listed: Vec<Value> = bad
        .iter()
        .map(|(name, code, msg)| {
            json!({"isValid": false, "message": msg, "error": code, "name": name, "localizedErrorMessage": msg})
        })
        .collect();
    let mut e = validation(format!(
        "Property values were not valid: {}",
        serde_json::to_string(&listed).unwrap_or_default()
    ));
    for (name, code, msg) in bad {
        e = e.error(json!({"message": msg, "code": code, "context": {"propertyName": [name]}}));
    }
    e
}

fn rate_limited(policy: &str) -> HsErr {
    let word = match policy {
        "DAILY" => "daily",
        "SECONDLY" => "secondly",
        _ => "ten_secondly_rolling",
    };
    let mut e = HsErr::new(429, "RATE_LIMITS", format!("You have reached your {word} limit."));
    e.x.raw = Some(
        json!({"status": "error", "message": format!("You have reached your {word} limit."),
                        "errorType": "RATE_LIMIT", "correlationId": correlation_id(), "policyName": policy,
                        "requestId": correlation_id()}),
    );
    e
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

/// Who is calling.
#[derive(Clone, Debug)]
pub struct Principal {
    pub portal: String,
    /// None: every scope (private apps).
    pub scopes: Option<Vec<String>>,
    pub oauth: bool,
    /// The ten-second window's key.
    pub key: String,
}

/// What a handler sees of the request besides the state.
pub struct Ctx<'a> {
    pub portal: &'a str,
    pub now: i64,
    pub cfg: &'a HsConfig,
    /// `v3` or a date version.
    pub version: &'a str,
    pub query: &'a [(String, String)],
    /// The ReadLag fault hit this request.
    pub read_lag: bool,
}

impl Ctx<'_> {
    pub fn q(&self, k: &str) -> Option<&str> {
        self.query.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
    }
    /// A list parameter: repeated and/or comma-separated.
    pub fn q_list(&self, k: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(a, _)| a == k)
            .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()))
            .filter(|s| !s.is_empty())
            .collect()
    }
    pub fn q_bool(&self, k: &str) -> bool {
        self.q(k).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// A handler's answer.
pub struct Out {
    pub status: u16,
    pub body: Option<Value>,
}

pub fn ok(v: Value) -> Result<Out, HsErr> {
    Ok(Out {
        status: 200,
        body: Some(v),
    })
}

pub fn created(v: Value) -> Result<Out, HsErr> {
    Ok(Out {
        status: 201,
        body: Some(v),
    })
}

pub fn no_content() -> Result<Out, HsErr> {
    Ok(Out {
        status: 204,
        body: None,
    })
}

/// Which API a path belongs to, with its version and the rest of the segments.
#[derive(Debug, PartialEq)]
pub enum Api<'a> {
    Campaigns(&'a str, Vec<&'a str>),
    Contacts(&'a str, Vec<&'a str>),
    Lists(&'a str, Vec<&'a str>),
    Properties(&'a str, &'a str, Vec<&'a str>),
}

fn is_version(v: &str) -> bool {
    matches!(v, "2026-03" | "2026-09")
}

/// Split a path into its API, version and rest; None for paths HubSpot does not serve.
pub fn parse_path<'a>(segs: &[&'a str]) -> Option<Api<'a>> {
    let rest = |i: usize| segs[i..].to_vec();
    match segs {
        ["marketing", "v3", "campaigns", ..] => Some(Api::Campaigns("v3", rest(3))),
        ["marketing", "campaigns", v, ..] if is_version(v) => Some(Api::Campaigns(v, rest(3))),
        ["crm", "v3", "objects", t, ..] if matches!(*t, "contacts" | "0-1") => Some(Api::Contacts("v3", rest(4))),
        ["crm", "objects", v, t, ..] if is_version(v) && matches!(*t, "contacts" | "0-1") => {
            Some(Api::Contacts(v, rest(4)))
        }
        ["crm", "v3", "lists", ..] => Some(Api::Lists("v3", rest(3))),
        ["crm", "lists", v, ..] if is_version(v) => Some(Api::Lists(v, rest(3))),
        ["crm", "v3", "properties", t, ..] => Some(Api::Properties("v3", t, rest(4))),
        ["crm", "properties", v, t, ..] if is_version(v) => Some(Api::Properties(v, t, rest(4))),
        _ => None,
    }
}

/// The scope a call needs.
fn needed_scope(api: &Api, method: &str) -> &'static str {
    let write = method != "GET";
    match api {
        Api::Campaigns(_, r) => {
            if r.len() >= 2 && r[1] == "reports" && r.get(2) == Some(&"revenue") {
                "marketing.campaigns.revenue.read"
            } else if write && r.first() == Some(&"batch") && r.get(1) == Some(&"read") {
                "marketing.campaigns.read"
            } else if write {
                "marketing.campaigns.write"
            } else {
                "marketing.campaigns.read"
            }
        }
        Api::Contacts(_, r) => {
            let read =
                !write || r.first() == Some(&"search") || (r.first() == Some(&"batch") && r.get(1) == Some(&"read"));
            if read {
                "crm.objects.contacts.read"
            } else {
                "crm.objects.contacts.write"
            }
        }
        Api::Lists(_, r) => {
            let read = !write || r.first() == Some(&"search") || r.first() == Some(&"records");
            if read {
                "crm.lists.read"
            } else {
                "crm.lists.write"
            }
        }
        Api::Properties(..) => {
            if write {
                "crm.schemas.contacts.write"
            } else {
                "crm.schemas.contacts.read"
            }
        }
    }
}

/// The label of an endpoint for the counters: the path with ids replaced.
pub fn template_of(path: &str) -> String {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let props = segs.contains(&"properties");
    let mut out: Vec<String> = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        let prev = if i > 0 { segs[i - 1] } else { "" };
        let prev2 = if i > 1 { segs[i - 2] } else { "" };
        let t = match prev {
            "campaigns" if !is_version(s) && *s != "batch" => Some("{campaignGuid}"),
            "budget" if *s != "totals" => Some("{budgetId}"),
            "spend" => Some("{spendId}"),
            "assets" => Some("{assetType}"),
            "contacts" | "0-1" if props && i >= 4 => Some("{propertyName}"),
            "contacts" | "0-1" if prev2 == "records" => Some("{recordId}"),
            "contacts" | "0-1" if i >= 4 && !matches!(*s, "batch" | "search") => Some("{contactId}"),
            "lists" if !is_version(s) && !matches!(*s, "search" | "object-type-id" | "records") => Some("{listId}"),
            "object-type-id" | "records" => Some("{objectTypeId}"),
            "name" => Some("{listName}"),
            "add-from" => Some("{sourceListId}"),
            "access-tokens" | "refresh-tokens" => Some("{token}"),
            _ if prev2 == "assets" => Some("{assetId}"),
            _ if is_version(prev) && prev2 == "campaigns" && *s != "batch" => Some("{campaignGuid}"),
            _ if is_version(prev) && prev2 == "lists" && !matches!(*s, "search" | "object-type-id" | "records") => {
                Some("{listId}")
            }
            _ => None,
        };
        out.push(t.map_or_else(|| s.to_string(), str::to_string));
    }
    format!("/{}", out.join("/"))
}

/// Check the Authorization header.
fn authenticate(cfg: &HsConfig, st: &State, headers: &HeaderMap) -> Result<Principal, HsErr> {
    let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Err(HsErr::new(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        ));
    };
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
        .map(str::trim)
        .unwrap_or("");
    if let Some(portal) = cfg.private_tokens.get(token) {
        return Ok(Principal {
            portal: portal.clone(),
            scopes: None,
            oauth: false,
            key: format!("pat:{token}"),
        });
    }
    if let Some(t) = st.access_tokens.get(token) {
        if st.now_ms() >= t.expires_ms {
            return Err(HsErr::new(
                401,
                "EXPIRED_AUTHENTICATION",
                "The OAuth token used to make this call expired 0 second(s) ago.",
            ));
        }
        return Ok(Principal {
            portal: t.portal.clone(),
            scopes: Some(t.scopes.clone()),
            oauth: true,
            key: format!("oauth:{}:{}", t.client_id, t.portal),
        });
    }
    Err(HsErr::new(
        401,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
    ))
}

fn check_window(q: &mut VecDeque<Instant>, now: Instant, span: std::time::Duration, max: u32) -> (bool, u32) {
    while q.front().is_some_and(|t| now.duration_since(*t) >= span) {
        q.pop_front();
    }
    if q.len() as u32 >= max {
        return (false, 0);
    }
    q.push_back(now);
    (true, max - q.len() as u32)
}

fn day_of(ms: i64) -> i64 {
    ms.div_euclid(86_400_000)
}

async fn api_entry(inner: Arc<Inner>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let read_lag = parts.extensions.get::<crate::faults::ReadLag>().is_some();
    let path = parts.uri.path().to_string();
    let query: Vec<(String, String)> = serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).unwrap_or_default();
    let method = parts.method.as_str().to_string();
    let label = format!("{method} {}", template_of(&path));
    let finish = |mut r: Response, ops: u64| {
        r.extensions_mut().insert(EndpointLabel(label.clone()));
        r.extensions_mut().insert(OperationCount(ops));
        r
    };
    let decoded: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|x| !x.is_empty())
        .map(pct_decode)
        .collect();
    let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let Some(api) = parse_path(&segs) else {
        return finish(
            error_response(&not_found(format!("Unable to find a resource for {method} {path}"))),
            1,
        );
    };
    let cfg = inner.config();
    let principal = {
        let st = inner.lock();
        authenticate(&cfg, &st, &parts.headers)
    };
    let p = match principal {
        Ok(p) => p,
        Err(e) => return finish(error_response(&e), 1),
    };
    let scope = needed_scope(&api, &method);
    if let Some(scopes) = &p.scopes {
        if !scopes.iter().any(|s| s == scope) {
            let e = HsErr::new(
                403,
                "MISSING_SCOPES",
                "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
            )
            .error(json!({"message": "One or more of the following scopes are required.",
                          "context": {"requiredGranularScopes": [scope]}}));
            return finish(error_response(&e), 1);
        }
    }
    let is_search = method == "POST" && matches!(&api, Api::Contacts(_, r) if r.as_slice() == ["search"]);
    // Limits: search has its own secondly limit and no headers; everything else the ten-second window and (private
    // apps) the daily count.
    let mut rl_headers: Vec<(&'static str, String)> = Vec::new();
    {
        let now = Instant::now();
        let day = day_of(inner.lock().now_ms());
        let mut lim = inner.limits.lock();
        if is_search {
            let q = lim.search.entry(p.key.clone()).or_default();
            if !check_window(q, now, std::time::Duration::from_secs(1), cfg.search_per_second).0 {
                return finish(error_response(&rate_limited("SECONDLY")), 1);
            }
        } else {
            let max = if p.oauth {
                cfg.oauth_ten_secondly
            } else {
                cfg.ten_secondly
            };
            let daily_used = *lim.daily.get(&(p.portal.clone(), day)).unwrap_or(&0);
            if !p.oauth && daily_used >= cfg.daily {
                return finish(error_response(&rate_limited("DAILY")), 1);
            }
            let q = lim.ten.entry(p.key.clone()).or_default();
            let (allowed, remaining) = check_window(q, now, std::time::Duration::from_secs(10), max);
            if !allowed {
                return finish(error_response(&rate_limited("TEN_SECONDLY_ROLLING")), 1);
            }
            rl_headers.push(("x-hubspot-ratelimit-interval-milliseconds", "10000".into()));
            rl_headers.push(("x-hubspot-ratelimit-max", max.to_string()));
            rl_headers.push(("x-hubspot-ratelimit-remaining", remaining.to_string()));
            if !p.oauth {
                let used = daily_used + 1;
                lim.daily.insert((p.portal.clone(), day), used);
                rl_headers.push(("x-hubspot-ratelimit-daily", cfg.daily.to_string()));
                rl_headers.push((
                    "x-hubspot-ratelimit-daily-remaining",
                    cfg.daily.saturating_sub(used).to_string(),
                ));
            }
        }
    }
    let with_headers = |mut r: Response| {
        for (k, v) in &rl_headers {
            if let Ok(v) = HeaderValue::from_str(v) {
                r.headers_mut().insert(*k, v);
            }
        }
        r
    };
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return finish(
                with_headers(error_response(&validation("The request body is too large."))),
                1,
            )
        }
    };
    let body: Option<Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                let err = validation(format!(
                    "Invalid input JSON on line {}, column {}: {e}",
                    e.line(),
                    e.column()
                ));
                return finish(with_headers(error_response(&err)), 1);
            }
        }
    };
    let ops = body
        .as_ref()
        .and_then(|b| b.get("inputs"))
        .and_then(Value::as_array)
        .map_or(1, |a| a.len().max(1) as u64);
    let mut st = inner.lock();
    let now = st.now_ms();
    let result = {
        let version = match &api {
            Api::Campaigns(v, _) | Api::Contacts(v, _) | Api::Lists(v, _) | Api::Properties(v, _, _) => *v,
        };
        let ctx = Ctx {
            portal: &p.portal,
            now,
            cfg: &cfg,
            version,
            query: &query,
            read_lag,
        };
        match &api {
            Api::Campaigns(_, r) => campaigns::route(&ctx, &mut st, &method, r.as_slice(), body.as_ref()),
            Api::Contacts(_, r) => contacts::route(&ctx, &mut st, &method, r.as_slice(), body.as_ref()),
            Api::Lists(_, r) => lists::route(&ctx, &mut st, &method, r.as_slice(), body.as_ref()),
            Api::Properties(_, t, r) => {
                contacts::properties_route(&ctx, &mut st, &method, t, r.as_slice(), body.as_ref())
            }
        }
    };
    drop(st);
    let resp = match result {
        Ok(out) => match out.body {
            Some(b) => (StatusCode::from_u16(out.status).unwrap_or(StatusCode::OK), AxumJson(b)).into_response(),
            None => StatusCode::from_u16(out.status)
                .unwrap_or(StatusCode::NO_CONTENT)
                .into_response(),
        },
        Err(e) => error_response(&e),
    };
    finish(with_headers(resp), ops)
}

pub fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hexd = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hexd.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

// ---------------------------------------------------------------------------------------------------------------
// Shared helpers for the handlers

/// The `inputs` array of a batch body, at most `max` long.
pub fn batch_inputs(body: Option<&Value>, max: usize) -> Result<Vec<Value>, HsErr> {
    let Some(inputs) = body.and_then(|b| b.get("inputs")).and_then(Value::as_array) else {
        return Err(validation("Invalid input JSON: the field inputs is required.")
            .error(json!({"message": "inputs is required", "code": "REQUIRED_FIELD", "in": "inputs"})));
    };
    if inputs.len() > max {
        return Err(validation(format!(
            "Batch input limit exceeded: {} inputs given, at most {max} are allowed per call.",
            inputs.len()
        ))
        .context(json!({"maxInputs": [max.to_string()]})));
    }
    Ok(inputs.clone())
}

/// A deterministic reordering of batch results (HubSpot does not keep the input order).
pub fn unordered(mut v: Vec<Value>, salt: u64) -> Vec<Value> {
    let n = v.len();
    if n < 2 {
        return v;
    }
    let orig = v.clone();
    let mut x = mix64(salt ^ n as u64);
    for i in (1..n).rev() {
        x = mix64(x);
        let j = (x % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    if v == orig {
        // never the input order
        v.rotate_left(1);
    }
    v
}

/// The batch envelope.
pub fn batch_body(results: Vec<Value>, errors: Vec<Value>, started: i64, now: i64) -> (u16, Value) {
    let mut o = json!({"status": "COMPLETE", "results": results, "startedAt": iso_ms(started),
                       "completedAt": iso_ms(now)});
    let status = if errors.is_empty() {
        200
    } else {
        o["numErrors"] = json!(errors.len());
        o["errors"] = json!(errors);
        207
    };
    (status, o)
}

/// `properties` of a body: an object of strings.
pub fn props_of(v: Option<&Value>) -> Result<Map<String, Value>, HsErr> {
    match v {
        None => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(validation(
            "Invalid input JSON: properties must be an object of property names to values.",
        )),
    }
}

/// Opaque cursors: `after` values never look like plain numbers.
pub fn cursor(n: u64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("hs:{n}"))
}

pub fn uncursor(s: &str) -> Option<u64> {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok()?;
    String::from_utf8(b).ok()?.strip_prefix("hs:")?.parse().ok()
}

/// `limit` of a list call: default, 1..=max, else 400.
pub fn limit_of(ctx: &Ctx, default: usize, max: usize) -> Result<usize, HsErr> {
    match ctx.q("limit") {
        None => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(
                validation(format!("limit must be a number between 1 and {max}, got '{s}'."))
                    .error(json!({"message": format!("must be less than or equal to {max}"), "in": "limit"})),
            ),
        },
    }
}

pub fn is_date(s: &str) -> bool {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() && s.len() == 10
}

// ---------------------------------------------------------------------------------------------------------------
// Admin API and the platform

fn admin_error(status: StatusCode, msg: &str) -> Response {
    (status, AxumJson(json!({"error": msg}))).into_response()
}

#[derive(Deserialize)]
struct ClockBody {
    advance_secs: i64,
}

#[derive(Deserialize)]
struct ConfigBody {
    ten_secondly: Option<u32>,
    oauth_ten_secondly: Option<u32>,
    daily: Option<u64>,
    search_per_second: Option<u32>,
    search_lag_ms: Option<u64>,
    read_lag_ms: Option<u64>,
    max_membership_ids: Option<usize>,
    access_token_ttl_secs: Option<i64>,
}

#[derive(Deserialize)]
struct ObjectBody {
    kind: String,
    portal: Option<String>,
    #[serde(default)]
    properties: BTreeMap<String, String>,
    name: Option<String>,
    processing_type: Option<String>,
}

#[derive(Deserialize)]
struct MembersBody {
    record_ids: Vec<u64>,
}

fn admin_object(st: &State, id: &str) -> Option<Value> {
    if let Some(c) = st.campaigns.get(id) {
        return Some(json!({"kind": "campaign", "object": c}));
    }
    let n: u64 = id.parse().ok()?;
    st.contacts
        .get(&n)
        .map(|c| json!({"kind": "contact", "object": c}))
        .or_else(|| st.lists.get(&n).map(|l| json!({"kind": "list", "object": l})))
}

fn admin_router(emu: HubSpotEmulator) -> Router {
    let (e1, e2, e3, e4, e5, e6, e7) = (
        emu.clone(),
        emu.clone(),
        emu.clone(),
        emu.clone(),
        emu.clone(),
        emu.clone(),
        emu,
    );
    Router::new()
        .route(
            "/_emulator/hubspot/store",
            get(move || {
                let emu = e1.clone();
                async move { AxumJson(emu.dump()).into_response() }
            }),
        )
        .route(
            "/_emulator/hubspot/objects/{id}",
            get(move |Path(id): Path<String>| {
                let emu = e2.clone();
                async move {
                    let st = emu.inner.lock();
                    match admin_object(&st, &id) {
                        Some(v) => AxumJson(v).into_response(),
                        None => admin_error(StatusCode::NOT_FOUND, "no such object"),
                    }
                }
            }),
        )
        .route(
            "/_emulator/hubspot/objects",
            post(move |AxumJson(b): AxumJson<ObjectBody>| {
                let emu = e3.clone();
                async move {
                    let mut st = emu.inner.lock();
                    let portal = b.portal.unwrap_or_else(|| defaults::HUBSPOT_PORTAL_ID.to_string());
                    match b.kind.as_str() {
                        "contact" => {
                            let mut props = b.properties;
                            if let Some(e) = props.get_mut("email") {
                                *e = e.to_lowercase();
                            }
                            let id = st.seed_contact(&portal, props, true);
                            AxumJson(json!({"kind": "contact", "id": id.to_string()})).into_response()
                        }
                        "list" => {
                            let name = b.name.unwrap_or_else(|| "Foreign list".into());
                            let pt = b.processing_type.unwrap_or_else(|| "MANUAL".into());
                            let id = st.seed_list(&portal, &name, &pt, true);
                            AxumJson(json!({"kind": "list", "id": id.to_string()})).into_response()
                        }
                        "campaign" => {
                            let now = st.now_ms();
                            let id = st.uuid("foreign-campaign");
                            let mut properties = b.properties;
                            properties.insert("hs_object_id".into(), st.bump().to_string());
                            st.campaigns.insert(
                                id.clone(),
                                Campaign {
                                    id: id.clone(),
                                    portal,
                                    properties,
                                    created_ms: now,
                                    updated_ms: now,
                                    budget: Vec::new(),
                                    spend: Vec::new(),
                                    assets: BTreeMap::new(),
                                    foreign: true,
                                },
                            );
                            AxumJson(json!({"kind": "campaign", "id": id})).into_response()
                        }
                        _ => admin_error(StatusCode::BAD_REQUEST, "kind must be campaign, contact or list"),
                    }
                }
            }),
        )
        .route(
            "/_emulator/hubspot/lists/{id}/members",
            get(move |Path(id): Path<u64>| {
                let emu = e4.clone();
                async move {
                    let st = emu.inner.lock();
                    match st.lists.get(&id) {
                        Some(l) => {
                            let m: Vec<String> = l.members.keys().map(u64::to_string).collect();
                            AxumJson(json!({"count": m.len(), "members": m})).into_response()
                        }
                        None => admin_error(StatusCode::NOT_FOUND, "no such list"),
                    }
                }
            })
            .post(move |Path(id): Path<u64>, AxumJson(b): AxumJson<MembersBody>| {
                let emu = e5.clone();
                async move {
                    let mut st = emu.inner.lock();
                    let now = st.now_ms();
                    match st.lists.get_mut(&id) {
                        Some(l) => {
                            for r in b.record_ids {
                                l.members.entry(r).or_insert((now, now));
                            }
                            AxumJson(json!({"count": l.members.len()})).into_response()
                        }
                        None => admin_error(StatusCode::NOT_FOUND, "no such list"),
                    }
                }
            }),
        )
        .route(
            "/_emulator/hubspot/clock",
            post(move |AxumJson(b): AxumJson<ClockBody>| {
                let emu = e6.clone();
                async move {
                    let mut st = emu.inner.lock();
                    st.clock_offset_ms += b.advance_secs * 1000;
                    let now = st.now_ms();
                    AxumJson(json!({"now": iso_ms(now)})).into_response()
                }
            }),
        )
        .route(
            "/_emulator/hubspot/config",
            post(move |AxumJson(b): AxumJson<ConfigBody>| {
                let emu = e7.clone();
                async move {
                    emu.configure(|c| {
                        if let Some(v) = b.ten_secondly {
                            c.ten_secondly = v;
                        }
                        if let Some(v) = b.oauth_ten_secondly {
                            c.oauth_ten_secondly = v;
                        }
                        if let Some(v) = b.daily {
                            c.daily = v;
                        }
                        if let Some(v) = b.search_per_second {
                            c.search_per_second = v;
                        }
                        if let Some(v) = b.search_lag_ms {
                            c.search_lag_ms = v;
                        }
                        if let Some(v) = b.read_lag_ms {
                            c.read_lag_ms = v;
                        }
                        if b.max_membership_ids.is_some() {
                            c.max_membership_ids = b.max_membership_ids;
                        }
                        if let Some(v) = b.access_token_ttl_secs {
                            c.access_token_ttl_secs = v;
                        }
                    });
                    AxumJson(serde_json::to_value(emu.config()).unwrap_or(Value::Null)).into_response()
                }
            }),
        )
}

impl PlatformEmulator for HubSpotEmulator {
    fn name(&self) -> &'static str {
        "hubspot"
    }

    fn router(&self) -> Router {
        let inner = self.inner.clone();
        let api = any(move |req: Request| api_entry(inner.clone(), req));
        Router::new()
            .route("/marketing/{*path}", api.clone())
            .route("/crm/{*path}", api)
            .merge(oauth::router(self.inner.clone()))
            .merge(admin_router(self.clone()))
    }

    /// ServerError: 500 with the error envelope (category INTERNAL_ERROR); RateLimit: the ten-secondly 429.
    fn fault_response(&self, fault: FaultKind) -> Response {
        match fault {
            FaultKind::RateLimit => error_response(&rate_limited("TEN_SECONDLY_ROLLING")),
            _ => error_response(&HsErr::new(500, "INTERNAL_ERROR", "internal error")),
        }
    }

    fn dump(&self) -> Value {
        serde_json::to_value(&*self.inner.lock()).unwrap_or(Value::Null)
    }

    fn restore(&self, dump: Value) -> Result<(), String> {
        let st: State = serde_json::from_value(dump).map_err(|e| format!("invalid HubSpot emulator state: {e}"))?;
        *self.inner.lock() = st;
        Ok(())
    }

    fn reset(&self) {
        let cfg = self.inner.config();
        *self.inner.lock() = fresh_state(&cfg);
        *self.inner.limits.lock() = Limits::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_apis_and_versions() {
        assert_eq!(
            parse_path(&["marketing", "campaigns", "2026-09", "batch", "read"]),
            Some(Api::Campaigns("2026-09", vec!["batch", "read"]))
        );
        assert_eq!(
            parse_path(&["marketing", "v3", "campaigns"]),
            Some(Api::Campaigns("v3", vec![]))
        );
        assert_eq!(
            parse_path(&["crm", "objects", "2026-09", "0-1", "search"]),
            Some(Api::Contacts("2026-09", vec!["search"]))
        );
        assert_eq!(
            parse_path(&["crm", "v3", "lists", "12"]),
            Some(Api::Lists("v3", vec!["12"]))
        );
        assert_eq!(parse_path(&["marketing", "campaigns", "2026-09-beta"]), None);
        assert_eq!(parse_path(&["crm", "v4", "objects", "contacts"]), None);
    }

    #[test]
    fn templates_hide_ids() {
        assert_eq!(
            template_of("/marketing/campaigns/2026-09/0b0f-1/budget/17"),
            "/marketing/campaigns/2026-09/{campaignGuid}/budget/{budgetId}"
        );
        assert_eq!(
            template_of("/crm/objects/2026-09/contacts/101"),
            "/crm/objects/2026-09/contacts/{contactId}"
        );
        assert_eq!(
            template_of("/crm/lists/2026-09/12/memberships/add"),
            "/crm/lists/2026-09/{listId}/memberships/add"
        );
        assert_eq!(template_of("/crm/lists/2026-09/search"), "/crm/lists/2026-09/search");
        assert_eq!(
            template_of("/marketing/v3/campaigns/0b0f-1/assets/FORM/9"),
            "/marketing/v3/campaigns/{campaignGuid}/assets/{assetType}/{assetId}"
        );
    }

    #[test]
    fn cursors_are_opaque_and_round_trip() {
        let c = cursor(101);
        assert!(c.parse::<u64>().is_err());
        assert_eq!(uncursor(&c), Some(101));
        assert_eq!(uncursor("101"), None);
    }

    #[test]
    fn unordered_never_keeps_the_input_order() {
        let v: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let u = unordered(v.clone(), 3);
        assert_ne!(u, v);
        let mut s: Vec<i64> = u.iter().map(|x| x.as_i64().unwrap()).collect();
        s.sort();
        assert_eq!(s, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn add_portal_makes_a_portal_and_its_token() {
        let emu = HubSpotEmulator::new(&EmulatorConfig::default());
        emu.add_portal("20000009", "pat-na1-nine");
        assert_eq!(emu.config().private_tokens["pat-na1-nine"], "20000009");
        assert!(emu.inner.lock().portals.iter().any(|p| p == "20000009"));
    }

    #[test]
    fn uuids_have_the_uuid_shape() {
        let u = uuid_of(1, 2);
        assert_eq!(u.len(), 36);
        assert_eq!(u.matches('-').count(), 4);
    }
}
