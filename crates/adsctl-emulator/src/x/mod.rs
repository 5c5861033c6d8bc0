//! The X (Twitter) Ads API v12 emulator.
//!
//! Written from `../shared/reference/x-ads` (WIRE-NOTES.md, resources.json); it shares no code with adsctl's
//! connectors. The rules it enforces, with their errors and tests, are the "X Ads API v12" section of
//! `docs/wire-rules.md`.
//!
//! API routes (all under `/12/`, the version being the first path segment):
//! - `GET /12/accounts` (account_ids, q, paging), `GET|PUT /12/accounts/{a}` (PUT: name, industry_type),
//!   `GET /12/accounts/{a}/authenticated_user_access`;
//! - `GET /12/accounts/{a}/funding_instruments[/{id}]` (read-only);
//! - `GET|POST /12/accounts/{a}/campaigns`, `GET|PUT|DELETE /12/accounts/{a}/campaigns/{id}`;
//! - `GET|POST /12/accounts/{a}/line_items`, `GET|PUT|DELETE /12/accounts/{a}/line_items/{id}`;
//! - `GET|POST /12/accounts/{a}/promoted_tweets`, `GET|DELETE …/promoted_tweets/{id}` (no PUT);
//! - `GET|POST /12/accounts/{a}/targeting_criteria` (list needs line_item_ids), `GET|DELETE …/{id}` (no PUT);
//! - `GET|POST /12/accounts/{a}/custom_audiences`, `GET|PUT|DELETE …/{id}`, `POST …/{id}/users` (JSON body);
//! - `GET /12/stats/accounts/{a}` (synchronous stats; synthetic deterministic numbers);
//! - `POST|GET /12/stats/jobs/accounts/{a}` (async jobs; the result url is `/_emulator/x/stats_results/{id}`,
//!   gzip JSON written with stored deflate blocks);
//! - `POST /12/batch/accounts/{a}/campaigns`, `…/line_items` (≤40) and `…/targeting_criteria` (≤500, Create and
//!   Delete) with JSON bodies, all-or-nothing.
//!
//! Every request is verified as OAuth 1.0a HMAC-SHA1 ([`oauth`]); single-entity POST/PUT take their parameters in
//! the query string (a form body is also collected and signed); JSON bodies are not signed. Every response
//! carries `x-current-api-version: 12`.
//!
//! Readings chosen where the pack is unverified or silent (each is a row or note in docs/wire-rules.md):
//! - Base URL of the signature: `http://` + the `Host` header as received (lower-cased, `:80` dropped) + the path;
//!   the emulator serves plain HTTP, so a client signs the URL it actually calls.
//! - oauth_timestamp must be within ±300 s of the emulator's clock (seed `x.timestamp_window_secs`); a nonce is
//!   refused when the same consumer used it within that window. oauth_signature_method must be HMAC-SHA1 and
//!   oauth_version, when sent, 1.0. Every failure is 401 UNAUTHORIZED_ACCESS with the pack's error envelope.
//! - Every known token reaches every account with the role ACCOUNT_ADMIN; an account that is not in the store is
//!   403 ACCOUNT_NOT_FOUND (accounts are never created on first use: production has no account create).
//! - A path id that is not base-36 is 404 like an unknown one; a base-36 parameter that is not base-36 (or a
//!   funding instrument / campaign the account does not hold) is 400 INVALID_PARAMETER naming the parameter.
//! - daily_budget_amount_local_micro is required on campaigns unless the funding instrument is an
//!   INSERTION_ORDER ("required for most instrument types"); money must be a positive integer.
//! - Active campaigns = ACTIVE or PAUSED and not deleted (DRAFT does not count); the default cap is 200
//!   (`x.max_active_campaigns`). Active line items (ACTIVE/PAUSED, not deleted) ≤256 per account; line items per
//!   campaign (not deleted) ≤100. Over any: 400 TOO_MANY_CAMPAIGNS / TOO_MANY_LINE_ITEMS.
//! - A line item whose objective or product_type differs from its campaign's other line items: 400
//!   INVALID_PARAMETER on that parameter. end_time must be after start_time (400 INVALID_PARAMETER, end_time).
//! - PUT refuses parameters the update table does not list (campaign_id, objective, product_type, placements,
//!   funding_instrument_id…) with 400 INVALID_PARAMETER; an empty value clears an optional field (null) and is
//!   refused for name. Unknown parameters are ignored on every endpoint.
//! - Cursors are opaque strings (`c` + base-36 offset); an unreadable one is 400 INVALID_PARAMETER. Lists are in
//!   creation order. with_total_count with cursor → 400 EXCLUSIVE_PARAMETERS.
//! - Batch: more items than the kind's maximum (or a body that is not a JSON array of operations) → 400 with
//!   `errors` (INVALID_PARAMETER); item failures → 400 with `operation_errors`, one array per input item (empty
//!   for the items that were fine), and nothing is applied.
//! - Targeting: an unknown targeting_type is 400 UNKNOWN_CRITERIA_TYPE; a per-type cap (AGE 1, EVENT 1, LOCATION
//!   2000, INTEREST 100, SIMILAR_TO_FOLLOWERS_OF_USER 100, the four keyword types 1000 together) is 400
//!   INVALID_PARAMETER on targeting_type; TV_SHOW without a LOCATION is 400 INVALID_TV_SHOW_LOCATIONS. Values are
//!   not checked against lookups; `name` echoes the value.
//! - Custom audiences: a duplicate name (per account, not deleted) is 400 INVALID_PARAMETER; audience_size counts
//!   the distinct `key:value` user keys held and is null (not targetable: PROCESSING, TOO_SMALL) below 100; users
//!   values other than partner_user_id must be 64 lower-case hex digits; a body over 5,000,000 bytes or more than
//!   2,500 operations is 400 INVALID_PARAMETER; expires_at defaults to 395 days after effective_at.
//! - Sync stats: entity_ids must exist in the account; over 7 days is 400 INVALID_TIME_WINDOW; DAY is not checked
//!   against midnight in the account's time zone (no time-zone database here); DAY series have ceil(hours/24) points.
//! - Async jobs: PROCESSING in the create answer and the first poll, SUCCESS from the second poll on; over 100
//!   processing jobs per account is 400 INVALID_PARAMETER; segmented jobs return unsegmented series.
//! - Promoted tweets: tweet ids must be decimal digits; new ones are ACTIVE and ACCEPTED at once.
//! - bid_strategy defaults to AUTO; goal and pay_by are null unless sent (the pack gives no per-objective table).
//! - A single create answers HTTP 200 (the pack gives no status for creates; clients should accept any 2xx).
//! - Faults: a server error is 503 SERVICE_UNAVAILABLE with `retry-after: 1`; a rate-limit fault is 429
//!   TOO_MANY_REQUESTS with `x-rate-limit-remaining: 0` and a reset one second ahead. Read lag is not emulated.
//!
//! Admin routes (JSON; not counted, never faulted), under `/_emulator/x/`:
//! - `POST accounts` `{"id"?, "name"?, "timezone"?, "currency"?, "funding_instrument_id"?,
//!   "funding_instrument_type"?}` → `{"id", "funding_instrument_id"}`;
//! - `POST objects` `{"kind": "campaign"|"line_item"|"funding_instrument", "account", "fields": {…}, "count"?}` →
//!   `{"ids": [...]}`: objects made by another client (no validation);
//! - `GET objects/{id}` → the object as the API renders it plus `_emulator` (`kind`, `deleted`, `foreign`);
//! - `POST clock` `{"advance_secs": N}`;
//! - `POST config` `{"timestamp_window_secs", "max_active_campaigns", "account_reads_per_15_min",
//!   "writes_per_minute"}` (a limit of 0 switches it off);
//! - `GET custom_audiences/{id}/members` → `{"members": ["email:<sha256>", …], "count"}`;
//! - `GET stats_results/{id}` → a finished job's gzip JSON (the job's `url`);
//! - `GET store` → the whole state (audience members under `audience_members`).

pub mod oauth;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Request};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json as AxumJson, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::config::{EmulatorConfig, XAccountSeed};
use crate::counters::{EndpointLabel, OperationCount};
use crate::platform::{defaults, FaultKind, PlatformEmulator};

/// The one API version served (the first path segment).
pub const API_VERSION: &str = "12";
pub const MAX_COUNT: usize = 1000;
pub const DEFAULT_COUNT: usize = 200;
pub const MAX_IDS: usize = 200;
pub const MAX_BATCH_CAMPAIGNS: usize = 40;
pub const MAX_BATCH_LINE_ITEMS: usize = 40;
pub const MAX_LINE_ITEMS_PER_CAMPAIGN: usize = 100;
pub const MAX_ACTIVE_LINE_ITEMS: usize = 256;
pub const MAX_BATCH_TARGETING: usize = 500;
pub const MAX_TWEET_IDS: usize = 50;
pub const MAX_AUDIENCE_OPERATIONS: usize = 2500;
pub const MAX_AUDIENCE_BODY: usize = 5_000_000;
pub const MIN_TARGETABLE_AUDIENCE: usize = 100;
const MAX_BODY: usize = 8 * 1024 * 1024;

const OBJECTIVES: &[&str] = &[
    "APP_ENGAGEMENTS",
    "APP_INSTALLS",
    "REACH",
    "FOLLOWERS",
    "ENGAGEMENTS",
    "VIDEO_VIEWS",
    "PREROLL_VIEWS",
    "WEBSITE_CLICKS",
];
const PLACEMENTS: &[&str] = &[
    "ALL_ON_TWITTER",
    "PUBLISHER_NETWORK",
    "TAP_BANNER",
    "TAP_FULL",
    "TAP_FULL_LANDSCAPE",
    "TAP_NATIVE",
    "TAP_MRECT",
    "TWITTER_PROFILE",
    "TWITTER_REPLIES",
    "TWITTER_SEARCH",
    "TWITTER_TIMELINE",
];
const PRODUCT_TYPES: &[&str] = &["MEDIA", "PROMOTED_ACCOUNT", "PROMOTED_TWEETS"];
const GOALS: &[&str] = &[
    "APP_CLICKS",
    "APP_INSTALLS",
    "APP_PURCHASES",
    "ENGAGEMENT",
    "FOLLOWERS",
    "LINK_CLICKS",
    "MAX_REACH",
    "PREROLL",
    "PREROLL_STARTS",
    "REACH_WITH_ENGAGEMENT",
    "SITE_VISITS",
    "VIDEO_VIEW",
    "VIEW_3S_100PCT",
    "VIEW_6S",
    "VIEW_15S",
    "WEBSITE_CONVERSIONS",
];
const INDUSTRY_TYPES: &[&str] = &[
    "AGENCY",
    "BUSINESS_TO_BUSINESS",
    "ONLINE_SERVICES",
    "EDUCATION",
    "FINANCIAL",
    "HEALTH",
    "GOVERNMENT",
    "MEDIA",
    "MOBILE",
    "RESTAURANT",
    "RETAIL",
    "TECHNOLOGY",
    "TRAVEL",
    "OTHER",
];

// ---------------------------------------------------------------------------------------------------------------
// Configuration and state

/// Settings of the X emulator (from the core config and the `x:` seed section; changeable by the admin API).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct XConfig {
    pub consumers: BTreeMap<String, String>,
    pub tokens: BTreeMap<String, String>,
    pub seed_accounts: Vec<XAccountSeed>,
    pub timestamp_window_secs: i64,
    pub max_active_campaigns: usize,
    pub account_reads_per_15_min: Option<u32>,
    pub writes_per_minute: Option<u32>,
    /// Seed of the synthetic stats.
    #[serde(default)]
    pub metric_seed: u64,
}

impl Default for XConfig {
    fn default() -> Self {
        XConfig::from_core(&EmulatorConfig::default())
    }
}

impl XConfig {
    pub fn from_core(c: &EmulatorConfig) -> Self {
        let s = &c.seed.x;
        let mut consumers = BTreeMap::new();
        consumers.insert(
            defaults::X_CONSUMER_KEY.to_string(),
            defaults::X_CONSUMER_SECRET.to_string(),
        );
        for k in &s.consumers {
            consumers.insert(k.consumer_key.clone(), k.consumer_secret.clone());
        }
        let mut tokens = BTreeMap::new();
        tokens.insert(
            defaults::X_ACCESS_TOKEN.to_string(),
            defaults::X_TOKEN_SECRET.to_string(),
        );
        for t in &s.tokens {
            tokens.insert(t.access_token.clone(), t.token_secret.clone());
        }
        let mut seed_accounts = vec![XAccountSeed {
            id: defaults::X_ACCOUNT_ID.to_string(),
            name: Some("Emulator X account".to_string()),
            timezone: defaults::X_ACCOUNT_TIMEZONE.to_string(),
            currency: defaults::X_CURRENCY.to_string(),
            funding_instrument_id: Some(defaults::X_FUNDING_INSTRUMENT_ID.to_string()),
            funding_instrument_type: Some("CREDIT_CARD".to_string()),
        }];
        seed_accounts.extend(s.accounts.iter().cloned());
        XConfig {
            consumers,
            tokens,
            seed_accounts,
            timestamp_window_secs: s.timestamp_window_secs.unwrap_or(300),
            max_active_campaigns: s.max_active_campaigns.unwrap_or(200),
            account_reads_per_15_min: c.rate_limits.x.account_reads_per_15_min,
            writes_per_minute: c.rate_limits.x.writes_per_minute,
            metric_seed: c.metric_seed,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    FundingInstrument,
    Campaign,
    LineItem,
    PromotedTweet,
    TargetingCriterion,
    CustomAudience,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        match s {
            "funding_instrument" | "funding_instruments" => Some(Kind::FundingInstrument),
            "campaign" | "campaigns" => Some(Kind::Campaign),
            "line_item" | "line_items" => Some(Kind::LineItem),
            "promoted_tweet" | "promoted_tweets" => Some(Kind::PromotedTweet),
            "targeting_criterion" | "targeting_criteria" => Some(Kind::TargetingCriterion),
            "custom_audience" | "custom_audiences" => Some(Kind::CustomAudience),
            _ => None,
        }
    }
    fn not_found(self) -> &'static str {
        match self {
            Kind::FundingInstrument => "FUNDING_INSTRUMENT_NOT_FOUND",
            Kind::Campaign => "CAMPAIGN_NOT_FOUND",
            Kind::LineItem => "LINE_ITEM_NOT_FOUND",
            Kind::PromotedTweet => "PROMOTED_TWEET_NOT_FOUND",
            Kind::TargetingCriterion => "TARGETING_CRITERION_NOT_FOUND",
            Kind::CustomAudience => "TAILORED_AUDIENCE_NOT_FOUND",
        }
    }
    fn id_param(self) -> &'static str {
        match self {
            Kind::FundingInstrument => "funding_instrument_id",
            Kind::Campaign => "campaign_id",
            Kind::LineItem => "line_item_id",
            Kind::PromotedTweet => "promoted_tweet_id",
            Kind::TargetingCriterion => "targeting_criterion_id",
            Kind::CustomAudience => "custom_audience_id",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub industry_type: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Obj {
    pub id: String,
    pub kind: Kind,
    pub account: String,
    /// The writable fields as the API renders them (null = unset).
    pub fields: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted: bool,
    /// Made through the admin API (by "another client").
    pub foreign: bool,
    /// Creation order.
    pub seq: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    pub account: String,
    pub params: Vec<(String, String)>,
    pub created_at: i64,
    /// PROCESSING until the first poll by GET stats/jobs, then SUCCESS.
    pub polled: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub accounts: BTreeMap<String, Account>,
    pub objects: BTreeMap<String, Obj>,
    pub next_id: u64,
    pub clock_offset_secs: i64,
    /// Custom audience id → its members ("key:value" of each user key sent).
    #[serde(default)]
    pub audience_members: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Async stats jobs by id_str.
    #[serde(default)]
    pub jobs: BTreeMap<String, Job>,
    /// (consumer key, nonce) → timestamp seen.
    #[serde(skip)]
    pub nonces: HashMap<(String, String), i64>,
    /// (category, account, endpoint) → (window start, calls).
    #[serde(skip)]
    pub windows: HashMap<(String, String, String), (i64, u32)>,
}

impl State {
    fn now(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        wall + self.clock_offset_secs
    }
    /// A fresh base-36 id (five or more characters, like the pack's "8wku2").
    fn new_id(&mut self) -> String {
        loop {
            self.next_id += 1;
            let id = to_base36(13_000_000 + self.next_id * 7919);
            if !self.objects.contains_key(&id) {
                return id;
            }
        }
    }
}

pub fn to_base36(mut n: u64) -> String {
    const D: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(D[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

pub fn is_base36(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

fn iso(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn insert_account(st: &mut State, seed: &XAccountSeed, now: i64) -> String {
    let fi = seed
        .funding_instrument_id
        .clone()
        .unwrap_or_else(|| format!("f{}", &seed.id[..seed.id.len().min(8)]));
    st.accounts.insert(
        seed.id.clone(),
        Account {
            id: seed.id.clone(),
            name: seed.name.clone().unwrap_or_else(|| format!("Account {}", seed.id)),
            timezone: seed.timezone.clone(),
            industry_type: None,
            created_at: now,
            updated_at: now,
        },
    );
    let mut fields = Map::new();
    fields.insert(
        "type".into(),
        json!(seed
            .funding_instrument_type
            .clone()
            .unwrap_or_else(|| "CREDIT_CARD".into())),
    );
    fields.insert("currency".into(), json!(seed.currency));
    fields.insert("description".into(), json!("Emulator funding instrument"));
    fields.insert("entity_status".into(), json!("ACTIVE"));
    fields.insert("start_time".into(), json!(iso(now - 86_400 * 30)));
    fields.insert("end_time".into(), Value::Null);
    fields.insert("credit_limit_local_micro".into(), json!(1_000_000_000_000i64));
    fields.insert("funded_amount_local_micro".into(), Value::Null);
    fields.insert("io_header".into(), Value::Null);
    let seq = st.next_id;
    st.objects.insert(
        fi.clone(),
        Obj {
            id: fi.clone(),
            kind: Kind::FundingInstrument,
            account: seed.id.clone(),
            fields,
            created_at: now,
            updated_at: now,
            deleted: false,
            foreign: true,
            seq,
        },
    );
    fi
}

fn fresh_state(cfg: &XConfig) -> State {
    let mut st = State::default();
    let now = st.now();
    for a in &cfg.seed_accounts {
        insert_account(&mut st, a, now);
    }
    st
}

// ---------------------------------------------------------------------------------------------------------------
// Errors and replies

/// One API error: HTTP status, CAPS_CASE code, message, the parameter it concerns.
#[derive(Clone, Debug)]
pub struct XErr {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub parameter: Option<String>,
}

impl XErr {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        XErr {
            status,
            code,
            message: message.into(),
            parameter: None,
        }
    }
    fn param(mut self, p: &str) -> Self {
        self.parameter = Some(p.to_string());
        self
    }
    fn json(&self) -> Value {
        let mut e = json!({"code": self.code, "message": self.message});
        if let Some(p) = &self.parameter {
            e["parameter"] = json!(p);
        }
        e
    }
}

fn invalid(p: &str, msg: impl Into<String>) -> XErr {
    XErr::new(400, "INVALID_PARAMETER", msg).param(p)
}
fn missing(p: &str) -> XErr {
    XErr::new(400, "MISSING_PARAMETER", format!("{p} is required")).param(p)
}
fn unauthorized(msg: &str) -> XErr {
    XErr::new(
        401,
        "UNAUTHORIZED_ACCESS",
        format!("This request is not properly authenticated: {msg}"),
    )
}
fn account_not_found(a: &str) -> XErr {
    XErr::new(
        403,
        "ACCOUNT_NOT_FOUND",
        format!("User is not authorized to use account {a}"),
    )
}
fn route_not_found() -> XErr {
    XErr::new(404, "ROUTE_NOT_FOUND", "The requested resource could not be found")
}

/// The request parameters (decoded query + form body, or a batch item's params), first value wins.
#[derive(Clone, Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    fn required(&self, k: &str) -> Result<&str, XErr> {
        match self.get(k) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(missing(k)),
        }
    }
    fn boolean(&self, k: &str) -> Result<Option<bool>, XErr> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(invalid(k, format!("Expected Boolean, got \"{v}\" for {k}"))),
        }
    }
    fn enumerated(&self, k: &str, allowed: &[&str]) -> Result<Option<String>, XErr> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
            Some(v) => Err(invalid(
                k,
                format!("Expected enum value in [{}], got \"{v}\" for {k}", allowed.join(", ")),
            )),
        }
    }
    /// A positive int64 in micros.
    fn micros(&self, k: &str) -> Result<Option<i64>, XErr> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => Err(invalid(k, format!("Expected Long greater than 0, got \"{v}\" for {k}"))),
            },
        }
    }
    fn text(&self, k: &str, max: usize) -> Result<Option<String>, XErr> {
        match self.get(k) {
            None => Ok(None),
            Some(v) if v.chars().count() > max => Err(invalid(
                k,
                format!("{k} must be at most {max} characters, got {}", v.chars().count()),
            )),
            Some(v) => Ok(Some(v.to_string())),
        }
    }
    fn time(&self, k: &str) -> Result<Option<i64>, XErr> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => match chrono::DateTime::parse_from_rfc3339(v) {
                Ok(t) => Ok(Some(t.timestamp())),
                Err(_) => Err(XErr {
                    status: 400,
                    code: "INVALID_PARAMETER",
                    message: format!("Expected time, got \"{v}\" for {k}"),
                    parameter: Some(k.to_string()),
                }),
            },
        }
    }
    /// A comma list of base-36 ids, at most 200.
    fn ids(&self, k: &str) -> Result<Option<Vec<String>>, XErr> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => {
                let ids: Vec<String> = v.split(',').map(|s| s.trim().to_string()).collect();
                if ids.len() > MAX_IDS {
                    return Err(invalid(
                        k,
                        format!("{k} accepts at most {MAX_IDS} ids, got {}", ids.len()),
                    ));
                }
                if let Some(bad) = ids.iter().find(|i| !is_base36(i)) {
                    return Err(invalid(k, format!("Invalid id \"{bad}\" for {k}")));
                }
                Ok(Some(ids))
            }
        }
    }
    /// The echo of `request.params`, re-typed (ids lists as arrays, numbers as numbers, booleans as booleans).
    fn echo(&self, path: &[(&str, &str)]) -> Value {
        let mut m = Map::new();
        for (k, v) in path {
            m.insert(k.to_string(), json!(v));
        }
        for (k, v) in &self.0 {
            if k.starts_with("oauth_") || m.contains_key(k) {
                continue;
            }
            let val = if k.ends_with("_ids") || k == "placements" {
                json!(v.split(',').collect::<Vec<_>>())
            } else if v == "true" || v == "false" {
                json!(v == "true")
            } else if (k.ends_with("_local_micro") || k == "count" || k == "frequency_cap" || k == "duration_in_days")
                && v.parse::<i64>().is_ok()
            {
                json!(v.parse::<i64>().unwrap_or(0))
            } else {
                json!(v)
            };
            m.insert(k.clone(), val);
        }
        json!({ "params": m })
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The emulator

pub struct Inner {
    cfg: RwLock<XConfig>,
    state: Mutex<State>,
}

impl Inner {
    pub fn config(&self) -> XConfig {
        match self.cfg.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
    pub fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// The X Ads platform emulator. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct XEmulator {
    inner: Arc<Inner>,
}

impl Default for XEmulator {
    fn default() -> Self {
        Self::with_config(XConfig::default())
    }
}

impl XEmulator {
    pub fn new(config: &EmulatorConfig) -> Self {
        Self::with_config(XConfig::from_core(config))
    }
    pub fn with_config(cfg: XConfig) -> Self {
        let state = fresh_state(&cfg);
        XEmulator {
            inner: Arc::new(Inner {
                cfg: RwLock::new(cfg),
                state: Mutex::new(state),
            }),
        }
    }
    pub fn config(&self) -> XConfig {
        self.inner.config()
    }
    pub fn configure(&self, f: impl FnOnce(&mut XConfig)) {
        match self.inner.cfg.write() {
            Ok(mut c) => f(&mut c),
            Err(p) => f(&mut p.into_inner()),
        }
    }
}

fn with_headers(mut r: Response, headers: &[(String, String)]) -> Response {
    r.headers_mut()
        .insert("x-current-api-version", HeaderValue::from_static(API_VERSION));
    for (k, v) in headers {
        if let (Ok(n), Ok(v)) = (header::HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            r.headers_mut().insert(n, v);
        }
    }
    r
}

fn error_response(errs: &[XErr], request: Value, headers: &[(String, String)]) -> Response {
    let status = StatusCode::from_u16(errs.first().map_or(500, |e| e.status)).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({"errors": errs.iter().map(XErr::json).collect::<Vec<_>>(), "request": request});
    with_headers((status, AxumJson(body)).into_response(), headers)
}

/// What a handler returns: the body, HTTP status, operations carried.
struct Reply {
    status: u16,
    body: Value,
    ops: u64,
}

async fn api_entry(inner: Arc<Inner>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(
                &[XErr::new(400, "INVALID_PARAMETER", "request body too large")],
                json!({"params": {}}),
                &[],
            )
        }
    };
    let method = parts.method.clone();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("");
    let mut params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        params.extend(form);
    }
    let segs: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|s| oauth::pct_decode(s).unwrap_or_else(|| s.to_string()))
        .collect();
    let (template, account) = template_of(&method, &segs);
    let label = format!("{method} {template}");
    let cfg = inner.config();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let auth = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let params = Params(params);
    let echo_empty = json!({"params": {}});
    let mut resp = {
        let mut st = inner.lock();
        let now = st.now();
        match verify(
            &cfg,
            &mut st,
            now,
            method.as_str(),
            &oauth::base_url("http", host, &path),
            &params.0,
            auth,
        ) {
            Err(e) => error_response(&[e], echo_empty, &[]),
            Ok(()) => {
                let mut headers = Vec::new();
                match rate_limit(&cfg, &mut st, now, &method, account.as_deref(), &template, &mut headers) {
                    Err(e) => error_response(&[e], echo_empty, &headers),
                    Ok(()) => match route(&cfg, &mut st, now, &method, &segs, &params, &body, host) {
                        Ok(r) => {
                            if segs.len() == 5 && segs[1] == "stats" && segs[2] == "jobs" {
                                let running = st
                                    .jobs
                                    .values()
                                    .filter(|j| Some(&j.account) == account.as_ref() && !j.polled)
                                    .count();
                                headers.push(("x-concurrent-job-limit".into(), MAX_CONCURRENT_JOBS.to_string()));
                                headers.push((
                                    "x-concurrent-job-limit-remaining".into(),
                                    MAX_CONCURRENT_JOBS.saturating_sub(running).to_string(),
                                ));
                            }
                            let mut resp = with_headers(
                                (
                                    StatusCode::from_u16(r.status).unwrap_or(StatusCode::OK),
                                    AxumJson(r.body),
                                )
                                    .into_response(),
                                &headers,
                            );
                            resp.extensions_mut().insert(OperationCount(r.ops));
                            resp
                        }
                        Err((errs, request)) => error_response(&errs, request, &headers),
                    },
                }
            }
        }
    };
    resp.extensions_mut().insert(EndpointLabel(label));
    resp
}

/// The endpoint template (for counters and rate-limit buckets) and the account id of a path.
fn template_of(method: &Method, segs: &[String]) -> (String, Option<String>) {
    let _ = method;
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let t = match s.as_slice() {
        ["12", "accounts"] => "/12/accounts".to_string(),
        ["12", "accounts", _] => "/12/accounts/{account_id}".to_string(),
        ["12", "accounts", _, kind] => format!("/12/accounts/{{account_id}}/{kind}"),
        ["12", "accounts", _, kind, _] => format!("/12/accounts/{{account_id}}/{kind}/{{id}}"),
        ["12", "accounts", _, kind, _, sub] => format!("/12/accounts/{{account_id}}/{kind}/{{id}}/{sub}"),
        ["12", "batch", "accounts", _, kind] => format!("/12/batch/accounts/{{account_id}}/{kind}"),
        ["12", "stats", "accounts", _] => "/12/stats/accounts/{account_id}".to_string(),
        ["12", "stats", "jobs", "accounts", _] => "/12/stats/jobs/accounts/{account_id}".to_string(),
        _ => format!("/{}", s.join("/")),
    };
    let account = match s.as_slice() {
        ["12", "accounts", a, ..]
        | ["12", "batch", "accounts", a, ..]
        | ["12", "stats", "accounts", a]
        | ["12", "stats", "jobs", "accounts", a] => Some(a.to_string()),
        _ => None,
    };
    (t, account)
}

/// OAuth 1.0a verification of one request.
fn verify(
    cfg: &XConfig,
    st: &mut State,
    now: i64,
    method: &str,
    base_url: &str,
    query_and_form: &[(String, String)],
    header_value: &str,
) -> Result<(), XErr> {
    let Some(pairs) = oauth::parse_header(header_value) else {
        return Err(unauthorized("missing or malformed OAuth Authorization header"));
    };
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let consumer = get("oauth_consumer_key").ok_or_else(|| unauthorized("oauth_consumer_key missing"))?;
    let token = get("oauth_token").ok_or_else(|| unauthorized("oauth_token missing"))?;
    let sig = get("oauth_signature").ok_or_else(|| unauthorized("oauth_signature missing"))?;
    let nonce = get("oauth_nonce")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| unauthorized("oauth_nonce missing"))?;
    let ts = get("oauth_timestamp").ok_or_else(|| unauthorized("oauth_timestamp missing"))?;
    if get("oauth_signature_method").as_deref() != Some("HMAC-SHA1") {
        return Err(unauthorized("oauth_signature_method must be HMAC-SHA1"));
    }
    if let Some(v) = get("oauth_version") {
        if v != "1.0" {
            return Err(unauthorized("oauth_version must be 1.0"));
        }
    }
    let Some(consumer_secret) = cfg.consumers.get(&consumer) else {
        return Err(unauthorized("unknown consumer key"));
    };
    let Some(token_secret) = cfg.tokens.get(&token) else {
        return Err(unauthorized("invalid or expired token"));
    };
    let ts: i64 = ts
        .parse()
        .map_err(|_| unauthorized("oauth_timestamp is not a number"))?;
    if (now - ts).abs() > cfg.timestamp_window_secs {
        return Err(unauthorized("timestamp out of bounds"));
    }
    let mut params: Vec<(String, String)> = query_and_form.to_vec();
    params.extend(
        pairs
            .iter()
            .filter(|(k, _)| k.starts_with("oauth_") && k != "oauth_signature")
            .cloned(),
    );
    let want = oauth::signature(method, base_url, &params, consumer_secret, token_secret);
    if want != sig {
        return Err(unauthorized("signature does not match"));
    }
    let window = cfg.timestamp_window_secs;
    st.nonces.retain(|_, seen| (now - *seen).abs() <= window);
    if st.nonces.contains_key(&(consumer.clone(), nonce.clone())) {
        return Err(unauthorized("nonce already used"));
    }
    st.nonces.insert((consumer, nonce), ts);
    Ok(())
}

/// Account-level read limits (per endpoint, 15 minutes) and write limits (per account, one minute).
fn rate_limit(
    cfg: &XConfig,
    st: &mut State,
    now: i64,
    method: &Method,
    account: Option<&str>,
    template: &str,
    headers: &mut Vec<(String, String)>,
) -> Result<(), XErr> {
    let Some(account) = account else { return Ok(()) };
    let (limit, window, prefix, key) = if method == Method::GET {
        match cfg.account_reads_per_15_min {
            Some(l) => (l, 900, "x-account-rate-limit", format!("read {template}")),
            None => return Ok(()),
        }
    } else {
        match cfg.writes_per_minute {
            Some(l) => (l, 60, "x-rate-limit", "write".to_string()),
            None => return Ok(()),
        }
    };
    let start = now - now.rem_euclid(window);
    let e = st
        .windows
        .entry((key, account.to_string(), String::new()))
        .or_insert((start, 0));
    if e.0 != start {
        *e = (start, 0);
    }
    let over = e.1 >= limit;
    if !over {
        e.1 += 1;
    }
    headers.push((format!("{prefix}-limit"), limit.to_string()));
    headers.push((format!("{prefix}-remaining"), (limit - e.1).to_string()));
    headers.push((format!("{prefix}-reset"), (start + window).to_string()));
    if over {
        return Err(XErr::new(429, "TOO_MANY_REQUESTS", "Rate limit exceeded"));
    }
    Ok(())
}

type Routed = Result<Reply, (Vec<XErr>, Value)>;

#[allow(clippy::too_many_arguments)]
fn route(
    cfg: &XConfig,
    st: &mut State,
    now: i64,
    method: &Method,
    segs: &[String],
    p: &Params,
    body: &[u8],
    host: &str,
) -> Routed {
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let one = |e: XErr, echo: Value| Err((vec![e], echo));
    let not_allowed = || {
        XErr::new(
            405,
            "METHOD_NOT_ALLOWED",
            "The requested method is not allowed on this resource",
        )
    };
    match s.as_slice() {
        ["12", "accounts"] => {
            let echo = p.echo(&[]);
            if method != Method::GET {
                return one(not_allowed(), echo);
            }
            list_accounts(st, p).map_err(|e| (vec![e], echo))
        }
        ["12", "accounts", a, rest @ ..] => {
            let echo = |extra: &[(&str, &str)]| {
                let mut v = vec![("account_id", *a)];
                v.extend_from_slice(extra);
                p.echo(&v)
            };
            if !st.accounts.contains_key(*a) {
                return one(account_not_found(a), echo(&[]));
            }
            match rest {
                [] => match *method {
                    Method::GET => Ok(Reply {
                        status: 200,
                        body: json!({"data": render_account(&st.accounts[*a]), "request": echo(&[])}),
                        ops: 0,
                    }),
                    Method::PUT => update_account(st, now, a, p)
                        .map(|d| Reply {
                            status: 200,
                            body: json!({"data": d, "request": echo(&[])}),
                            ops: 1,
                        })
                        .map_err(|e| (vec![e], echo(&[]))),
                    _ => one(not_allowed(), echo(&[])),
                },
                ["authenticated_user_access"] if method == Method::GET => Ok(Reply {
                    status: 200,
                    body: json!({"data": {"user_id": defaults::X_USER_ID, "permissions": ["ACCOUNT_ADMIN", "TWEET_COMPOSER"]}, "request": echo(&[])}),
                    ops: 0,
                }),
                [kind] => {
                    let Some(k) = Kind::parse(kind) else {
                        return one(route_not_found(), echo(&[]));
                    };
                    match (method.clone(), k) {
                        (Method::GET, _) => list(st, a, k, p).map_err(|e| (vec![e], echo(&[]))).map(|mut r| {
                            r.body["request"] = echo(&[]);
                            r
                        }),
                        (Method::POST, Kind::PromotedTweet) => create_promoted_tweets(st, now, a, p)
                            .map_err(|e| (vec![e], echo(&[])))
                            .map(|d| {
                                let n = d.as_array().map_or(0, Vec::len);
                                Reply {
                                    status: 200,
                                    body: json!({"data": d, "total_count": n, "next_cursor": null, "request": echo(&[])}),
                                    ops: n as u64,
                                }
                            }),
                        (
                            Method::POST,
                            Kind::Campaign | Kind::LineItem | Kind::TargetingCriterion | Kind::CustomAudience,
                        ) => create(cfg, st, now, a, k, p)
                            .map_err(|e| (vec![e], echo(&[])))
                            .map(|d| Reply {
                                status: 200,
                                body: json!({"data": d, "request": echo(&[])}),
                                ops: 1,
                            }),
                        _ => one(not_allowed(), echo(&[])),
                    }
                }
                [kind, id] => {
                    let Some(k) = Kind::parse(kind) else {
                        return one(route_not_found(), echo(&[]));
                    };
                    let e = echo(&[(k.id_param(), id)]);
                    let r = match (method.clone(), k) {
                        (Method::GET, _) => get_one(st, a, k, id, p).map(|d| (d, 0)),
                        (Method::PUT, Kind::Campaign | Kind::LineItem | Kind::CustomAudience) => {
                            update(st, now, a, k, id, p).map(|d| (d, 1))
                        }
                        (
                            Method::DELETE,
                            Kind::Campaign
                            | Kind::LineItem
                            | Kind::PromotedTweet
                            | Kind::TargetingCriterion
                            | Kind::CustomAudience,
                        ) => delete(st, now, a, k, id).map(|d| (d, 1)),
                        _ => Err(not_allowed()),
                    };
                    match r {
                        Ok((d, ops)) => Ok(Reply {
                            status: 200,
                            body: json!({"data": d, "request": e}),
                            ops,
                        }),
                        Err(err) => Err((vec![err], e)),
                    }
                }
                ["custom_audiences", id, "users"] => {
                    let e = echo(&[("custom_audience_id", id)]);
                    if method != Method::POST {
                        return one(not_allowed(), e);
                    }
                    match audience_users(st, now, a, id, body) {
                        Ok(d) => Ok(Reply {
                            status: 200,
                            body: json!({"data": d, "request": e}),
                            ops: d["total_count"].as_u64().unwrap_or(0),
                        }),
                        Err(err) => Err((vec![err], e)),
                    }
                }
                _ => one(route_not_found(), echo(&[])),
            }
        }
        ["12", "batch", "accounts", a, kind] => {
            let echo = p.echo(&[("account_id", a)]);
            if method != Method::POST {
                return one(not_allowed(), echo);
            }
            if !st.accounts.contains_key(*a) {
                return one(account_not_found(a), echo);
            }
            let (k, max) = match *kind {
                "campaigns" => (Kind::Campaign, MAX_BATCH_CAMPAIGNS),
                "line_items" => (Kind::LineItem, MAX_BATCH_LINE_ITEMS),
                "targeting_criteria" => (Kind::TargetingCriterion, MAX_BATCH_TARGETING),
                _ => return one(route_not_found(), echo),
            };
            batch(cfg, st, now, a, k, max, body)
        }
        ["12", "stats", "accounts", a] => {
            let echo = p.echo(&[("account_id", a)]);
            if method != Method::GET {
                return one(not_allowed(), echo);
            }
            if !st.accounts.contains_key(*a) {
                return one(account_not_found(a), echo);
            }
            match sync_stats(cfg, st, a, p, MAX_SYNC_STATS_DAYS) {
                Ok((n, data)) => Ok(Reply {
                    status: 200,
                    body: json!({"data_type": "stats", "time_series_length": n, "data": data, "request": echo}),
                    ops: 0,
                }),
                Err(e) => Err((vec![e], echo)),
            }
        }
        ["12", "stats", "jobs", "accounts", a] => {
            let echo = p.echo(&[("account_id", a)]);
            if !st.accounts.contains_key(*a) {
                return one(account_not_found(a), echo);
            }
            match *method {
                Method::POST => match create_job(cfg, st, now, a, p, host) {
                    Ok(job) => Ok(Reply {
                        status: 200,
                        body: json!({"data": job, "request": echo}),
                        ops: 1,
                    }),
                    Err(e) => Err((vec![e], echo)),
                },
                Method::GET => match list_jobs(st, a, p, host) {
                    Ok(jobs) => Ok(Reply {
                        status: 200,
                        body: json!({"data": jobs, "next_cursor": null, "request": echo}),
                        ops: 0,
                    }),
                    Err(e) => Err((vec![e], echo)),
                },
                _ => one(not_allowed(), echo),
            }
        }
        _ => one(route_not_found(), json!({"params": {}})),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

fn render_account(a: &Account) -> Value {
    json!({
        "id": a.id, "name": a.name, "timezone": a.timezone, "timezone_switch_at": Value::Null,
        "business_id": Value::Null, "business_name": Value::Null, "industry_type": a.industry_type,
        "approval_status": "ACCEPTED", "created_at": iso(a.created_at), "updated_at": iso(a.updated_at),
        "deleted": false,
    })
}

fn currency_of(st: &State, fi: Option<&Value>) -> Value {
    fi.and_then(Value::as_str)
        .and_then(|id| st.objects.get(id))
        .and_then(|f| f.fields.get("currency").cloned())
        .unwrap_or(Value::Null)
}

fn render(st: &State, o: &Obj) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(o.id));
    for (k, v) in &o.fields {
        m.insert(k.clone(), v.clone());
    }
    match o.kind {
        Kind::FundingInstrument => {
            m.insert("account_id".into(), json!(o.account));
            m.insert("able_to_fund".into(), json!(!o.deleted));
            m.insert(
                "reasons_not_able_to_fund".into(),
                if o.deleted { json!(["DELETED"]) } else { json!([]) },
            );
            m.insert("credit_remaining_local_micro".into(), Value::Null);
        }
        Kind::Campaign => {
            let cur = currency_of(st, o.fields.get("funding_instrument_id"));
            m.insert("currency".into(), cur);
            let status = o
                .fields
                .get("entity_status")
                .and_then(Value::as_str)
                .unwrap_or("ACTIVE");
            let servable = status == "ACTIVE" && !o.deleted;
            m.insert("servable".into(), json!(servable));
            m.insert(
                "reasons_not_servable".into(),
                if servable {
                    json!([])
                } else {
                    json!([format!("{status}")])
                },
            );
            m.insert(
                "effective_status".into(),
                json!(if servable { "RUNNING" } else { status }),
            );
            m.insert("duration_in_days".into(), Value::Null);
            m.insert("frequency_cap".into(), Value::Null);
        }
        Kind::LineItem => {
            let camp = o
                .fields
                .get("campaign_id")
                .and_then(Value::as_str)
                .and_then(|c| st.objects.get(c));
            let fi = camp.and_then(|c| c.fields.get("funding_instrument_id"));
            m.insert("currency".into(), currency_of(st, fi));
            m.insert("funding_instrument_id".into(), fi.cloned().unwrap_or(Value::Null));
            m.insert("creative_source".into(), json!("MANUAL"));
            m.insert("target_cpa_local_micro".into(), Value::Null);
            m.insert("automatic_tweet_promotion".into(), Value::Null);
        }
        Kind::PromotedTweet | Kind::TargetingCriterion => {}
        Kind::CustomAudience => {
            let n = st.audience_members.get(&o.id).map_or(0, |m| m.len());
            let targetable = n >= MIN_TARGETABLE_AUDIENCE;
            m.insert("audience_type".into(), json!("CRM"));
            m.insert("audience_size".into(), if targetable { json!(n) } else { Value::Null });
            m.insert("targetable".into(), json!(targetable));
            m.insert(
                "targetable_types".into(),
                if targetable {
                    json!(["CUSTOM_AUDIENCE", "CUSTOM_AUDIENCE_EXPANDED"])
                } else {
                    json!([])
                },
            );
            m.insert(
                "reasons_not_targetable".into(),
                if targetable {
                    json!([])
                } else {
                    json!(["PROCESSING", "TOO_SMALL"])
                },
            );
            m.insert("permission_level".into(), json!("READ_WRITE"));
            m.insert("owner_account_id".into(), json!(o.account));
            m.insert("partner_source".into(), json!("OTHER"));
        }
    }
    m.insert("created_at".into(), json!(iso(o.created_at)));
    m.insert("updated_at".into(), json!(iso(o.updated_at)));
    m.insert("deleted".into(), json!(o.deleted));
    Value::Object(m)
}

// ---------------------------------------------------------------------------------------------------------------
// Reads

struct Paging {
    count: usize,
    offset: usize,
    total: bool,
}

fn paging(p: &Params) -> Result<Paging, XErr> {
    let count = match p.get("count") {
        None | Some("") => DEFAULT_COUNT,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_COUNT).contains(&n) => n,
            _ => {
                return Err(invalid(
                    "count",
                    format!("Expected integer between 1 and {MAX_COUNT}, got \"{v}\" for count"),
                ))
            }
        },
    };
    let offset = match p.get("cursor") {
        None | Some("") => 0,
        Some(c) => match c.strip_prefix('c').and_then(|n| u64::from_str_radix(n, 36).ok()) {
            Some(n) => n as usize,
            None => return Err(invalid("cursor", format!("Invalid cursor \"{c}\""))),
        },
    };
    let total = p.boolean("with_total_count")?.unwrap_or(false);
    if total && p.get("cursor").is_some_and(|c| !c.is_empty()) {
        return Err(
            XErr::new(400, "EXCLUSIVE_PARAMETERS", "with_total_count and cursor are exclusive")
                .param("with_total_count"),
        );
    }
    Ok(Paging { count, offset, total })
}

fn page(items: Vec<Value>, pg: &Paging) -> Reply {
    let total = items.len();
    let end = (pg.offset + pg.count).min(total);
    let data: Vec<Value> = items.into_iter().skip(pg.offset).take(pg.count).collect();
    let next = if end < total {
        json!(format!("c{}", to_base36(end as u64)))
    } else {
        Value::Null
    };
    let mut body = json!({"data": data, "next_cursor": next, "request": {}});
    if pg.total {
        body["total_count"] = json!(total);
    }
    Reply {
        status: 200,
        body,
        ops: 0,
    }
}

fn list_accounts(st: &State, p: &Params) -> Result<Reply, XErr> {
    let pg = paging(p)?;
    let ids = p.ids("account_ids")?;
    let q = p.get("q").map(str::to_lowercase);
    let items = st
        .accounts
        .values()
        .filter(|a| ids.as_ref().is_none_or(|ids| ids.contains(&a.id)))
        .filter(|a| q.as_ref().is_none_or(|q| a.name.to_lowercase().contains(q)))
        .map(render_account)
        .collect();
    let mut r = page(items, &pg);
    r.body["request"] = p.echo(&[]);
    Ok(r)
}

fn list(st: &State, account: &str, k: Kind, p: &Params) -> Result<Reply, XErr> {
    let pg = paging(p)?;
    let with_deleted = p.boolean("with_deleted")?.unwrap_or(false);
    let with_draft = p.boolean("with_draft")?.unwrap_or(false);
    let own_ids = p.ids(&format!("{}s", k.id_param()))?;
    let campaign_ids = if k == Kind::LineItem {
        p.ids("campaign_ids")?
    } else {
        None
    };
    let line_item_ids = if matches!(k, Kind::PromotedTweet | Kind::TargetingCriterion) {
        p.ids("line_item_ids")?
    } else {
        None
    };
    if k == Kind::TargetingCriterion && line_item_ids.is_none() {
        return Err(missing("line_item_ids"));
    }
    let fi_ids = if k == Kind::FundingInstrument {
        None
    } else {
        p.ids("funding_instrument_ids")?
    };
    let q = p.get("q").filter(|q| !q.is_empty()).map(str::to_lowercase);
    let mut objs: Vec<&Obj> = st
        .objects
        .values()
        .filter(|o| o.kind == k && o.account == account)
        .filter(|o| with_deleted || !o.deleted)
        .filter(|o| with_draft || o.fields.get("entity_status").and_then(Value::as_str) != Some("DRAFT"))
        .filter(|o| own_ids.as_ref().is_none_or(|ids| ids.contains(&o.id)))
        .filter(|o| {
            campaign_ids.as_ref().is_none_or(|ids| {
                o.fields
                    .get("campaign_id")
                    .and_then(Value::as_str)
                    .is_some_and(|c| ids.iter().any(|i| i == c))
            })
        })
        .filter(|o| {
            line_item_ids.as_ref().is_none_or(|ids| {
                o.fields
                    .get("line_item_id")
                    .and_then(Value::as_str)
                    .is_some_and(|c| ids.iter().any(|i| i == c))
            })
        })
        .filter(|o| {
            q.as_ref().is_none_or(|q| {
                o.fields
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.to_lowercase().contains(q))
            })
        })
        .collect();
    objs.sort_by_key(|o| o.seq);
    let items: Vec<Value> = objs
        .into_iter()
        .map(|o| render(st, o))
        .filter(|v| {
            fi_ids.as_ref().is_none_or(|ids| {
                v.get("funding_instrument_id")
                    .and_then(Value::as_str)
                    .is_some_and(|f| ids.iter().any(|i| i == f))
            })
        })
        .collect();
    Ok(page(items, &pg))
}

fn find<'a>(st: &'a State, account: &str, k: Kind, id: &str) -> Option<&'a Obj> {
    st.objects
        .get(id)
        .filter(|o| o.kind == k && o.account == account && is_base36(id))
}

fn not_found(k: Kind, id: &str) -> XErr {
    XErr::new(
        404,
        k.not_found(),
        format!("{} {id} was not found", k.id_param().trim_end_matches("_id")),
    )
}

fn get_one(st: &State, account: &str, k: Kind, id: &str, p: &Params) -> Result<Value, XErr> {
    let with_deleted = p.boolean("with_deleted")?.unwrap_or(false);
    match find(st, account, k, id) {
        Some(o) if with_deleted || !o.deleted => Ok(render(st, o)),
        _ => Err(not_found(k, id)),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Writes

fn update_account(st: &mut State, now: i64, a: &str, p: &Params) -> Result<Value, XErr> {
    let name = p.text("name", 255)?;
    let industry = p.enumerated("industry_type", INDUSTRY_TYPES)?;
    let acc = st.accounts.get_mut(a).ok_or_else(|| account_not_found(a))?;
    if let Some(n) = name {
        if n.is_empty() {
            return Err(invalid("name", "name cannot be empty"));
        }
        acc.name = n;
    }
    if industry.is_some() {
        acc.industry_type = industry;
    }
    acc.updated_at = now;
    Ok(render_account(acc))
}

/// Base-36 id parameter naming an object of `k` in the account (not deleted).
fn ref_param<'a>(st: &'a State, account: &str, p: &Params, name: &str, k: Kind) -> Result<&'a Obj, XErr> {
    let v = p.required(name)?;
    if !is_base36(v) {
        return Err(invalid(name, format!("Invalid id \"{v}\" for {name}")));
    }
    match find(st, account, k, v) {
        Some(o) if !o.deleted => Ok(o),
        _ => Err(invalid(name, format!("{name} {v} does not exist in account {account}"))),
    }
}

fn set_opt(fields: &mut Map<String, Value>, p: &Params, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        fields.insert(k.into(), v);
    } else if p.get(k) == Some("") {
        fields.insert(k.into(), Value::Null);
    }
}

fn check_budgets(fields: &Map<String, Value>) -> Result<(), XErr> {
    let daily = fields.get("daily_budget_amount_local_micro").and_then(Value::as_i64);
    let total = fields.get("total_budget_amount_local_micro").and_then(Value::as_i64);
    if let (Some(d), Some(t)) = (daily, total) {
        if d > t {
            return Err(invalid(
                "daily_budget_amount_local_micro",
                "daily_budget_amount_local_micro must be less than or equal to total_budget_amount_local_micro",
            ));
        }
    }
    Ok(())
}

fn is_active(o: &Obj) -> bool {
    !o.deleted
        && matches!(
            o.fields.get("entity_status").and_then(Value::as_str),
            Some("ACTIVE") | Some("PAUSED")
        )
}

/// The writable fields of a campaign from params (create: with defaults).
fn campaign_fields(p: &Params, fields: &mut Map<String, Value>, creating: bool) -> Result<(), XErr> {
    let name = p.text("name", 255)?;
    if creating {
        p.required("name")?;
    }
    if let Some(n) = name {
        if n.is_empty() {
            return Err(invalid("name", "name cannot be empty"));
        }
        fields.insert("name".into(), json!(n));
    }
    let statuses: &[&str] = if creating {
        &["ACTIVE", "DRAFT", "PAUSED"]
    } else {
        &["ACTIVE", "PAUSED"]
    };
    if let Some(s) = p.enumerated("entity_status", statuses)? {
        fields.insert("entity_status".into(), json!(s));
    } else if creating {
        fields.insert("entity_status".into(), json!("ACTIVE"));
    }
    if let Some(b) = p.enumerated("budget_optimization", &["LINE_ITEM"])? {
        fields.insert("budget_optimization".into(), json!(b));
    } else if creating {
        fields.insert("budget_optimization".into(), json!("LINE_ITEM"));
    }
    for m in ["daily_budget_amount_local_micro", "total_budget_amount_local_micro"] {
        let v = p.micros(m)?.map(|n| json!(n));
        set_opt(fields, p, m, v);
        if creating {
            fields.entry(m).or_insert(Value::Null);
        }
    }
    let po = p
        .text("purchase_order_number", 50)?
        .filter(|s| !s.is_empty())
        .map(|s| json!(s));
    set_opt(fields, p, "purchase_order_number", po);
    if let Some(b) = p.boolean("standard_delivery")? {
        fields.insert("standard_delivery".into(), json!(b));
    } else if creating {
        fields.insert("standard_delivery".into(), json!(true));
    }
    if creating {
        fields.entry("purchase_order_number").or_insert(Value::Null);
    }
    check_budgets(fields)
}

const LINE_ITEM_UPDATABLE: &[&str] = &[
    "advertiser_domain",
    "advertiser_user_id",
    "android_app_store_identifier",
    "audience_expansion",
    "bid_amount_local_micro",
    "bid_strategy",
    "categories",
    "duration_in_days",
    "entity_status",
    "end_time",
    "frequency_cap",
    "goal",
    "ios_app_store_identifier",
    "name",
    "pay_by",
    "start_time",
    "total_budget_amount_local_micro",
    "daily_budget_amount_local_micro",
];
const CAMPAIGN_UPDATABLE: &[&str] = &[
    "budget_optimization",
    "daily_budget_amount_local_micro",
    "entity_status",
    "name",
    "purchase_order_number",
    "standard_delivery",
    "total_budget_amount_local_micro",
];
const NOT_UPDATABLE: &[&str] = &[
    "campaign_id",
    "funding_instrument_id",
    "objective",
    "product_type",
    "placements",
    "primary_web_event_tag",
];

fn line_item_fields(p: &Params, fields: &mut Map<String, Value>, creating: bool) -> Result<(), XErr> {
    if creating {
        for r in [
            "campaign_id",
            "objective",
            "placements",
            "product_type",
            "start_time",
            "end_time",
        ] {
            p.required(r)?;
        }
        let obj = p.enumerated("objective", OBJECTIVES)?;
        fields.insert("objective".into(), json!(obj));
        let pt = p.enumerated("product_type", PRODUCT_TYPES)?;
        fields.insert("product_type".into(), json!(pt));
        let placements: Vec<&str> = p.get("placements").unwrap_or("").split(',').map(str::trim).collect();
        if let Some(bad) = placements.iter().find(|x| !PLACEMENTS.contains(x)) {
            return Err(invalid(
                "placements",
                format!(
                    "Expected enum value in [{}], got \"{bad}\" for placements",
                    PLACEMENTS.join(", ")
                ),
            ));
        }
        fields.insert("placements".into(), json!(placements));
        if let Some(tag) = p.get("primary_web_event_tag").filter(|s| !s.is_empty()) {
            fields.insert("primary_web_event_tag".into(), json!(tag));
        }
    }
    if let Some(n) = p.text("name", 255)? {
        if n.is_empty() && !creating {
            return Err(invalid("name", "name must be 1 to 255 characters"));
        }
        if !n.is_empty() {
            fields.insert("name".into(), json!(n));
        }
    }
    for t in ["start_time", "end_time"] {
        let v = p.time(t).or_else(|e| {
            if p.get(t) == Some("") && t == "end_time" {
                Ok(None)
            } else {
                Err(e)
            }
        })?;
        set_opt(fields, p, t, v.map(|s| json!(iso(s))));
    }
    let statuses: &[&str] = if creating {
        &["ACTIVE", "DRAFT", "PAUSED"]
    } else {
        &["ACTIVE", "PAUSED"]
    };
    if let Some(s) = p.enumerated("entity_status", statuses)? {
        fields.insert("entity_status".into(), json!(s));
    }
    let enums: [(&str, &[&str]); 4] = [
        ("bid_strategy", &["AUTO", "MAX", "TARGET"]),
        ("goal", GOALS),
        ("pay_by", &["APP_CLICK", "IMPRESSION", "LINK_CLICK"]),
        ("audience_expansion", &["BROAD", "DEFINED", "EXPANDED"]),
    ];
    for (k, allowed) in enums {
        let v = p.enumerated(k, allowed)?.map(|s| json!(s));
        set_opt(fields, p, k, v);
    }
    let dur = p.enumerated("duration_in_days", &["1", "7", "30"])?;
    set_opt(
        fields,
        p,
        "duration_in_days",
        dur.map(|d| json!(d.parse::<i64>().unwrap_or(0))),
    );
    let cap = match p.get("frequency_cap") {
        None | Some("") => None,
        Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            invalid(
                "frequency_cap",
                format!("Expected Integer, got \"{v}\" for frequency_cap"),
            )
        })?),
    };
    set_opt(fields, p, "frequency_cap", cap.map(|c| json!(c)));
    for m in [
        "bid_amount_local_micro",
        "daily_budget_amount_local_micro",
        "total_budget_amount_local_micro",
    ] {
        let v = p.micros(m)?.map(|n| json!(n));
        set_opt(fields, p, m, v);
    }
    for s in [
        "advertiser_domain",
        "categories",
        "android_app_store_identifier",
        "ios_app_store_identifier",
        "advertiser_user_id",
    ] {
        let v = p.get(s).filter(|v| !v.is_empty()).map(|v| {
            if s == "categories" {
                json!(v.split(',').collect::<Vec<_>>())
            } else {
                json!(v)
            }
        });
        set_opt(fields, p, s, v);
    }
    if let Some(b) = p.boolean("standard_delivery")? {
        fields.insert("standard_delivery".into(), json!(b));
    }
    if creating {
        fields.entry("entity_status").or_insert(json!("ACTIVE"));
        fields.entry("bid_strategy").or_insert(json!("AUTO"));
        for k in [
            "name",
            "end_time",
            "goal",
            "pay_by",
            "audience_expansion",
            "bid_amount_local_micro",
            "daily_budget_amount_local_micro",
            "total_budget_amount_local_micro",
            "frequency_cap",
            "duration_in_days",
            "advertiser_domain",
            "categories",
            "android_app_store_identifier",
            "ios_app_store_identifier",
            "advertiser_user_id",
            "primary_web_event_tag",
        ] {
            fields.entry(k).or_insert(Value::Null);
        }
        fields.entry("standard_delivery").or_insert(json!(true));
    }
    line_item_rules(fields)
}

/// The cross-field rules of a line item, on its resulting fields.
fn line_item_rules(f: &Map<String, Value>) -> Result<(), XErr> {
    let s = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_string);
    let objective = s("objective").unwrap_or_default();
    let start = s("start_time");
    let end = s("end_time");
    if let (Some(a), Some(b)) = (start, end) {
        if b <= a {
            return Err(invalid("end_time", "end_time must be after start_time"));
        }
    }
    if let Some(strat @ ("MAX" | "TARGET")) = s("bid_strategy").as_deref() {
        {
            if f.get("bid_amount_local_micro").is_none_or(Value::is_null) {
                return Err(missing("bid_amount_local_micro"));
            }
            if strat == "MAX" && matches!(objective.as_str(), "REACH" | "FOLLOWERS") {
                return Err(invalid(
                    "bid_strategy",
                    format!("MAX is not available for objective {objective}"),
                ));
            }
            if strat == "TARGET" && !matches!(objective.as_str(), "REACH" | "FOLLOWERS" | "WEBSITE_CLICKS") {
                return Err(invalid(
                    "bid_strategy",
                    format!("TARGET is not available for objective {objective}"),
                ));
            }
        }
    }
    if !f.get("frequency_cap").is_none_or(Value::is_null)
        && !matches!(
            objective.as_str(),
            "REACH" | "ENGAGEMENTS" | "VIDEO_VIEWS" | "PREROLL_VIEWS"
        )
    {
        return Err(invalid(
            "frequency_cap",
            format!("frequency_cap is not available for objective {objective}"),
        ));
    }
    let placements_pn = f
        .get("placements")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|p| p == "PUBLISHER_NETWORK"));
    if placements_pn {
        for k in ["advertiser_domain", "categories"] {
            if f.get(k).is_none_or(Value::is_null) {
                return Err(missing(k));
            }
        }
    }
    if matches!(objective.as_str(), "APP_INSTALLS" | "APP_ENGAGEMENTS")
        && f.get("android_app_store_identifier").is_none_or(Value::is_null)
        && f.get("ios_app_store_identifier").is_none_or(Value::is_null)
    {
        return Err(missing("android_app_store_identifier"));
    }
    check_budgets(f)
}

fn create(cfg: &XConfig, st: &mut State, now: i64, account: &str, k: Kind, p: &Params) -> Result<Value, XErr> {
    let mut fields = Map::new();
    match k {
        Kind::Campaign => {
            let fi = ref_param(st, account, p, "funding_instrument_id", k_fi()).map_err(|e| {
                if e.code == "MISSING_PARAMETER" {
                    e
                } else {
                    XErr {
                        code: "INVALID_FUNDING_INSTRUMENT",
                        ..e
                    }
                }
            })?;
            let fi_type = fi.fields.get("type").and_then(Value::as_str).unwrap_or("").to_string();
            let fi_id = fi.id.clone();
            campaign_fields(p, &mut fields, true)?;
            fields.insert("funding_instrument_id".into(), json!(fi_id));
            if fi_type != "INSERTION_ORDER" && fields.get("daily_budget_amount_local_micro").is_none_or(Value::is_null)
            {
                return Err(missing("daily_budget_amount_local_micro"));
            }
            if fields.get("entity_status") != Some(&json!("DRAFT")) {
                let active = st
                    .objects
                    .values()
                    .filter(|o| o.kind == Kind::Campaign && o.account == account && is_active(o))
                    .count();
                if active >= cfg.max_active_campaigns {
                    return Err(XErr::new(
                        400,
                        "TOO_MANY_CAMPAIGNS",
                        format!(
                            "The account already has the maximum of {} active campaigns",
                            cfg.max_active_campaigns
                        ),
                    ));
                }
            }
        }
        Kind::LineItem => {
            line_item_fields(p, &mut fields, true)?;
            let camp = ref_param(st, account, p, "campaign_id", Kind::Campaign)?;
            let camp_id = camp.id.clone();
            fields.insert("campaign_id".into(), json!(camp_id));
            let siblings: Vec<&Obj> = st
                .objects
                .values()
                .filter(|o| o.kind == Kind::LineItem && !o.deleted)
                .filter(|o| o.fields.get("campaign_id") == Some(&json!(camp_id)))
                .collect();
            for key in ["objective", "product_type"] {
                if let Some(other) = siblings.iter().find(|o| o.fields.get(key) != fields.get(key)) {
                    return Err(invalid(
                        key,
                        format!(
                            "All line items of campaign {camp_id} must have the same {key} ({})",
                            other.fields.get(key).and_then(Value::as_str).unwrap_or("")
                        ),
                    ));
                }
            }
            if siblings.len() >= MAX_LINE_ITEMS_PER_CAMPAIGN {
                return Err(XErr::new(
                    400,
                    "TOO_MANY_LINE_ITEMS",
                    format!("A campaign has at most {MAX_LINE_ITEMS_PER_CAMPAIGN} line items"),
                ));
            }
            if fields.get("entity_status") != Some(&json!("DRAFT")) {
                let active = st
                    .objects
                    .values()
                    .filter(|o| o.kind == Kind::LineItem && o.account == account && is_active(o))
                    .count();
                if active >= MAX_ACTIVE_LINE_ITEMS {
                    return Err(XErr::new(
                        400,
                        "TOO_MANY_LINE_ITEMS",
                        format!("An account has at most {MAX_ACTIVE_LINE_ITEMS} active line items"),
                    ));
                }
            }
        }
        Kind::TargetingCriterion => targeting_fields(st, account, p, &mut fields)?,
        Kind::CustomAudience => audience_fields(st, account, None, p, &mut fields, true)?,
        Kind::FundingInstrument | Kind::PromotedTweet => return Err(XErr::new(405, "METHOD_NOT_ALLOWED", "read-only")),
    }
    let id = st.new_id();
    let seq = st.next_id;
    let o = Obj {
        id: id.clone(),
        kind: k,
        account: account.to_string(),
        fields,
        created_at: now,
        updated_at: now,
        deleted: false,
        foreign: false,
        seq,
    };
    let v = render(st, &o);
    st.objects.insert(id, o);
    Ok(v)
}

fn k_fi() -> Kind {
    Kind::FundingInstrument
}

fn update(st: &mut State, now: i64, account: &str, k: Kind, id: &str, p: &Params) -> Result<Value, XErr> {
    let allowed = if k == Kind::Campaign {
        CAMPAIGN_UPDATABLE
    } else {
        LINE_ITEM_UPDATABLE
    };
    if let Some((bad, _)) =
        p.0.iter()
            .find(|(n, _)| NOT_UPDATABLE.contains(&n.as_str()) && !allowed.contains(&n.as_str()))
    {
        return Err(invalid(bad, format!("{bad} cannot be updated")));
    }
    let o = match find(st, account, k, id) {
        Some(o) if !o.deleted => o,
        _ => return Err(not_found(k, id)),
    };
    let mut fields = o.fields.clone();
    match k {
        Kind::Campaign => campaign_fields(p, &mut fields, false)?,
        Kind::CustomAudience => audience_fields(st, account, Some(id), p, &mut fields, false)?,
        _ => line_item_fields(p, &mut fields, false)?,
    }
    let o = st.objects.get_mut(id).ok_or_else(|| not_found(k, id))?;
    o.fields = fields;
    o.updated_at = now;
    let o = o.clone();
    Ok(render(st, &o))
}

fn delete(st: &mut State, now: i64, account: &str, k: Kind, id: &str) -> Result<Value, XErr> {
    match find(st, account, k, id) {
        Some(o) if !o.deleted => {}
        _ => return Err(not_found(k, id)),
    }
    let o = st.objects.get_mut(id).ok_or_else(|| not_found(k, id))?;
    o.deleted = true;
    o.updated_at = now;
    let o = o.clone();
    Ok(render(st, &o))
}

/// A JSON value of a batch item's params as the query-string text the single endpoint would get.
fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(param_text).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn batch(cfg: &XConfig, st: &mut State, now: i64, account: &str, k: Kind, max: usize, body: &[u8]) -> Routed {
    let bad = |msg: String| Err((vec![XErr::new(400, "INVALID_PARAMETER", msg)], json!([])));
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(body) else {
        return bad("The body must be a JSON array of operations".into());
    };
    if items.is_empty() {
        return bad("The batch is empty".into());
    }
    if items.len() > max {
        return bad(format!("A batch carries at most {max} items, got {}", items.len()));
    }
    let mut work = st.clone();
    let mut data = Vec::new();
    let mut request = Vec::new();
    let mut op_errors = Vec::new();
    let mut failed = false;
    for item in &items {
        let op = item.get("operation_type").and_then(Value::as_str).unwrap_or("");
        let params: Vec<(String, String)> = item
            .get("params")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), param_text(v))).collect())
            .unwrap_or_default();
        let p = Params(params);
        let id = p.get(k.id_param()).unwrap_or("").to_string();
        let r = match op {
            "Create" => create(cfg, &mut work, now, account, k, &p),
            "Update" if k == Kind::TargetingCriterion => Err(invalid(
                "operation_type",
                "targeting criteria have no Update: delete and create",
            )),
            "Update" if id.is_empty() => Err(missing(k.id_param())),
            "Update" => {
                let without: Params = Params(p.0.iter().filter(|(n, _)| n != k.id_param()).cloned().collect());
                update(&mut work, now, account, k, &id, &without)
            }
            "Delete" if id.is_empty() => Err(missing(k.id_param())),
            "Delete" => delete(&mut work, now, account, k, &id),
            other => Err(invalid("operation_type", format!("Unknown operation_type \"{other}\""))),
        };
        let echo = p.echo(&[("account_id", account)]);
        request.push(json!({"params": echo["params"], "operation_type": op}));
        match r {
            Ok(v) => {
                data.push(v);
                op_errors.push(json!([]));
            }
            Err(e) => {
                failed = true;
                op_errors.push(json!([e.json()]));
            }
        }
    }
    if failed {
        return Ok(Reply {
            status: 400,
            body: json!({"operation_errors": op_errors, "request": request}),
            ops: 0,
        });
    }
    *st = work;
    Ok(Reply {
        status: 200,
        body: if k == Kind::TargetingCriterion {
            json!({"data": data, "data_type": "targeting_criterion", "request": request})
        } else {
            json!({"data": data, "request": request})
        },
        ops: items.len() as u64,
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Admin

#[derive(Deserialize)]
struct AccountBody {
    id: Option<String>,
    name: Option<String>,
    timezone: Option<String>,
    currency: Option<String>,
    funding_instrument_id: Option<String>,
    funding_instrument_type: Option<String>,
}

#[derive(Deserialize)]
struct ObjectsBody {
    kind: String,
    account: Option<String>,
    #[serde(default)]
    fields: Map<String, Value>,
    count: Option<usize>,
}

#[derive(Deserialize)]
struct ClockBody {
    advance_secs: i64,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ConfigBody {
    timestamp_window_secs: Option<i64>,
    max_active_campaigns: Option<usize>,
    account_reads_per_15_min: Option<u32>,
    writes_per_minute: Option<u32>,
}

fn admin_error(status: StatusCode, msg: &str) -> Response {
    (status, AxumJson(json!({"error": msg}))).into_response()
}

fn admin_router(emu: XEmulator) -> Router {
    let e1 = emu.clone();
    let e2 = emu.clone();
    let e3 = emu.clone();
    let e4 = emu.clone();
    let e5 = emu.clone();
    let e6 = emu.clone();
    let e7 = emu.clone();
    let e8 = emu;
    Router::new()
        .route(
            "/_emulator/x/accounts",
            post(move |AxumJson(b): AxumJson<AccountBody>| {
                let emu = e1.clone();
                async move {
                    let mut st = emu.inner.lock();
                    let id = b.id.unwrap_or_else(|| {
                        st.next_id += 1;
                        to_base36(2_000_000_000_000_000 + st.next_id)
                    });
                    if !is_base36(&id) {
                        return admin_error(StatusCode::BAD_REQUEST, "id must be base-36 (0-9 a-z)");
                    }
                    let seed = XAccountSeed {
                        id: id.clone(),
                        name: b.name,
                        timezone: b.timezone.unwrap_or_else(|| defaults::X_ACCOUNT_TIMEZONE.into()),
                        currency: b.currency.unwrap_or_else(|| "USD".into()),
                        funding_instrument_id: b.funding_instrument_id,
                        funding_instrument_type: b.funding_instrument_type,
                    };
                    let now = st.now();
                    let fi = insert_account(&mut st, &seed, now);
                    AxumJson(json!({"id": id, "funding_instrument_id": fi})).into_response()
                }
            }),
        )
        .route(
            "/_emulator/x/objects",
            post(move |AxumJson(b): AxumJson<ObjectsBody>| {
                let emu = e2.clone();
                async move {
                    let Some(kind) = Kind::parse(&b.kind) else {
                        return admin_error(StatusCode::BAD_REQUEST, "kind: campaign, line_item or funding_instrument");
                    };
                    let mut st = emu.inner.lock();
                    let account = b.account.unwrap_or_else(|| defaults::X_ACCOUNT_ID.to_string());
                    if !st.accounts.contains_key(&account) {
                        return admin_error(StatusCode::NOT_FOUND, "no such account");
                    }
                    let now = st.now();
                    let mut ids = Vec::new();
                    for _ in 0..b.count.unwrap_or(1) {
                        let id = st.new_id();
                        let seq = st.next_id;
                        let mut fields = b.fields.clone();
                        fields.entry("entity_status").or_insert(json!("ACTIVE"));
                        st.objects.insert(
                            id.clone(),
                            Obj {
                                id: id.clone(),
                                kind,
                                account: account.clone(),
                                fields,
                                created_at: now,
                                updated_at: now,
                                deleted: false,
                                foreign: true,
                                seq,
                            },
                        );
                        ids.push(id);
                    }
                    AxumJson(json!({"ids": ids})).into_response()
                }
            }),
        )
        .route(
            "/_emulator/x/objects/{id}",
            get(move |Path(id): Path<String>| {
                let emu = e3.clone();
                async move {
                    let st = emu.inner.lock();
                    match st.objects.get(&id) {
                        Some(o) => {
                            let mut v = render(&st, o);
                            v["_emulator"] = json!({"kind": o.kind, "deleted": o.deleted, "foreign": o.foreign, "account": o.account});
                            AxumJson(v).into_response()
                        }
                        None => admin_error(StatusCode::NOT_FOUND, "no such object"),
                    }
                }
            }),
        )
        .route(
            "/_emulator/x/clock",
            post(move |AxumJson(b): AxumJson<ClockBody>| {
                let emu = e4.clone();
                async move {
                    emu.inner.lock().clock_offset_secs += b.advance_secs;
                    AxumJson(json!({"ok": true})).into_response()
                }
            }),
        )
        .route(
            "/_emulator/x/config",
            post(move |AxumJson(b): AxumJson<ConfigBody>| {
                let emu = e5.clone();
                async move {
                    emu.configure(|c| {
                        if let Some(w) = b.timestamp_window_secs {
                            c.timestamp_window_secs = w;
                        }
                        if let Some(m) = b.max_active_campaigns {
                            c.max_active_campaigns = m;
                        }
                        if let Some(l) = b.account_reads_per_15_min {
                            c.account_reads_per_15_min = Some(l).filter(|l| *l > 0);
                        }
                        if let Some(l) = b.writes_per_minute {
                            c.writes_per_minute = Some(l).filter(|l| *l > 0);
                        }
                    });
                    AxumJson(serde_json::to_value(emu.config()).unwrap_or(Value::Null)).into_response()
                }
            }),
        )
        .route(
            "/_emulator/x/stats_results/{id}",
            get(move |Path(id): Path<String>| {
                let emu = e7.clone();
                async move {
                    match job_result(&emu, &id) {
                        Some(gz) => {
                            let mut r = (StatusCode::OK, gz).into_response();
                            r.headers_mut()
                                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/gzip"));
                            r
                        }
                        None => admin_error(StatusCode::NOT_FOUND, "no such job"),
                    }
                }
            }),
        )
        .route(
            "/_emulator/x/custom_audiences/{id}/members",
            get(move |Path(id): Path<String>| {
                let emu = e8.clone();
                async move {
                    let st = emu.inner.lock();
                    match st.objects.get(&id).filter(|o| o.kind == Kind::CustomAudience) {
                        Some(_) => {
                            let m: Vec<&String> = st.audience_members.get(&id).map(|m| m.iter().collect()).unwrap_or_default();
                            AxumJson(json!({"count": m.len(), "members": m})).into_response()
                        }
                        None => admin_error(StatusCode::NOT_FOUND, "no such custom audience"),
                    }
                }
            }),
        )
        .route(
            "/_emulator/x/store",
            get(move || {
                let emu = e6.clone();
                async move { AxumJson(emu.dump()).into_response() }
            }),
        )
}

impl PlatformEmulator for XEmulator {
    fn name(&self) -> &'static str {
        "x"
    }

    fn router(&self) -> Router {
        let inner = self.inner.clone();
        let api = any(move |req: Request| api_entry(inner.clone(), req));
        Router::new()
            .route("/12", api.clone())
            .route("/12/{*path}", api)
            .merge(admin_router(self.clone()))
    }

    /// ServerError: 503 SERVICE_UNAVAILABLE with retry-after 1. RateLimit: 429 TOO_MANY_REQUESTS with the user-level
    /// headers at 0 and the reset one second ahead.
    fn fault_response(&self, fault: FaultKind) -> Response {
        let now = self.inner.lock().now();
        match fault {
            FaultKind::RateLimit => error_response(
                &[XErr::new(429, "TOO_MANY_REQUESTS", "Rate limit exceeded")],
                json!({"params": {}}),
                &[
                    ("x-rate-limit-limit".into(), "450".into()),
                    ("x-rate-limit-remaining".into(), "0".into()),
                    ("x-rate-limit-reset".into(), (now + 1).to_string()),
                ],
            ),
            _ => error_response(
                &[XErr::new(503, "SERVICE_UNAVAILABLE", "Service unavailable")],
                json!({"params": {}}),
                &[("retry-after".into(), "1".into())],
            ),
        }
    }

    fn dump(&self) -> Value {
        serde_json::to_value(&*self.inner.lock()).unwrap_or(Value::Null)
    }

    fn restore(&self, dump: Value) -> Result<(), String> {
        let st: State = serde_json::from_value(dump).map_err(|e| format!("invalid X emulator state: {e}"))?;
        *self.inner.lock() = st;
        Ok(())
    }

    fn reset(&self) {
        let cfg = self.inner.config();
        *self.inner.lock() = fresh_state(&cfg);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Promoted tweets and targeting criteria

fn create_promoted_tweets(st: &mut State, now: i64, account: &str, p: &Params) -> Result<Value, XErr> {
    let li = ref_param(st, account, p, "line_item_id", Kind::LineItem)?.id.clone();
    let raw = p.required("tweet_ids")?;
    let ids: Vec<&str> = raw.split(',').map(str::trim).collect();
    if ids.len() > MAX_TWEET_IDS {
        return Err(invalid(
            "tweet_ids",
            format!("tweet_ids accepts at most {MAX_TWEET_IDS} ids, got {}", ids.len()),
        ));
    }
    if let Some(bad) = ids
        .iter()
        .find(|t| t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid(
            "tweet_ids",
            format!("Invalid tweet id \"{bad}\" for tweet_ids"),
        ));
    }
    let mut out = Vec::new();
    for t in ids {
        let id = st.new_id();
        let seq = st.next_id;
        let mut fields = Map::new();
        fields.insert("line_item_id".into(), json!(li));
        fields.insert("tweet_id".into(), json!(t));
        fields.insert("entity_status".into(), json!("ACTIVE"));
        fields.insert("approval_status".into(), json!("ACCEPTED"));
        let o = Obj {
            id: id.clone(),
            kind: Kind::PromotedTweet,
            account: account.to_string(),
            fields,
            created_at: now,
            updated_at: now,
            deleted: false,
            foreign: false,
            seq,
        };
        out.push(render(st, &o));
        st.objects.insert(id, o);
    }
    Ok(Value::Array(out))
}

const TARGETING_TYPES: &[&str] = &[
    "AGE",
    "GENDER",
    "LOCATION",
    "LANGUAGE",
    "INTEREST",
    "FOLLOWERS_OF_USER",
    "SIMILAR_TO_FOLLOWERS_OF_USER",
    "PLATFORM",
    "PLATFORM_VERSION",
    "DEVICE",
    "WIFI_ONLY",
    "NETWORK_OPERATOR",
    "NETWORK_ACTIVATION_DURATION",
    "EVENT",
    "CONVERSATION",
    "TV_SHOW",
    "LIVE_TV_EVENT",
    "ENGAGEMENT_TYPE",
    "CAMPAIGN_ENGAGEMENT",
    "USER_ENGAGEMENT",
    "CAMPAIGN_ENGAGEMENT_LOOKALIKE",
    "USER_ENGAGEMENT_LOOKALIKE",
    "BROAD_KEYWORD",
    "EXACT_KEYWORD",
    "PHRASE_KEYWORD",
    "UNORDERED_KEYWORD",
    "CUSTOM_AUDIENCE",
    "CUSTOM_AUDIENCE_EXPANDED",
    "APP_STORE_CATEGORY",
    "APP_STORE_CATEGORY_LOOKALIKE",
    "APP_LIST",
];
const KEYWORD_TYPES: &[&str] = &["BROAD_KEYWORD", "EXACT_KEYWORD", "PHRASE_KEYWORD", "UNORDERED_KEYWORD"];

/// The fields of a new targeting criterion, with the per-type rules of the pack.
fn targeting_fields(st: &State, account: &str, p: &Params, fields: &mut Map<String, Value>) -> Result<(), XErr> {
    let li = ref_param(st, account, p, "line_item_id", Kind::LineItem)?.id.clone();
    let ty = p.required("targeting_type")?.to_string();
    let value = p.required("targeting_value")?.to_string();
    if !TARGETING_TYPES.contains(&ty.as_str()) {
        return Err(
            XErr::new(400, "UNKNOWN_CRITERIA_TYPE", format!("Unknown targeting_type \"{ty}\"")).param("targeting_type"),
        );
    }
    let op = p
        .enumerated("operator_type", &["EQ", "NE", "GTE", "LT"])?
        .unwrap_or_else(|| "EQ".to_string());
    if matches!(op.as_str(), "GTE" | "LT") && ty != "NETWORK_ACTIVATION_DURATION" {
        return Err(invalid(
            "operator_type",
            format!("{op} is only for NETWORK_ACTIVATION_DURATION"),
        ));
    }
    if ty == "APP_LIST" && op != "NE" {
        return Err(invalid("operator_type", "APP_LIST takes operator_type NE only"));
    }
    if ty == "GENDER" && !matches!(value.as_str(), "1" | "2") {
        return Err(invalid("targeting_value", "GENDER is 1 (male) or 2 (female)"));
    }
    if ty == "AGE" && !value.starts_with("AGE_") {
        return Err(invalid("targeting_value", format!("Invalid AGE bucket \"{value}\"")));
    }
    let existing: Vec<&Obj> = st
        .objects
        .values()
        .filter(|o| o.kind == Kind::TargetingCriterion && !o.deleted)
        .filter(|o| o.fields.get("line_item_id") == Some(&json!(li)))
        .collect();
    let count = |types: &[&str]| {
        existing
            .iter()
            .filter(|o| {
                o.fields
                    .get("targeting_type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| types.contains(&t))
            })
            .count()
    };
    let limit = match ty.as_str() {
        "AGE" | "EVENT" => Some((count(&[ty.as_str()]), 1)),
        "LOCATION" => Some((count(&["LOCATION"]), 2000)),
        "INTEREST" => Some((count(&["INTEREST"]), 100)),
        "SIMILAR_TO_FOLLOWERS_OF_USER" => Some((count(&["SIMILAR_TO_FOLLOWERS_OF_USER"]), 100)),
        t if KEYWORD_TYPES.contains(&t) => Some((count(KEYWORD_TYPES), 1000)),
        _ => None,
    };
    if let Some((n, max)) = limit {
        if n >= max {
            return Err(invalid(
                "targeting_type",
                format!("A line item has at most {max} {ty} targeting criteria"),
            ));
        }
    }
    if ty == "TV_SHOW" && count(&["LOCATION"]) == 0 {
        return Err(XErr::new(
            400,
            "INVALID_TV_SHOW_LOCATIONS",
            "TV_SHOW targeting needs a LOCATION criterion first",
        )
        .param("targeting_type"));
    }
    fields.insert("line_item_id".into(), json!(li));
    fields.insert("targeting_type".into(), json!(ty));
    fields.insert("targeting_value".into(), json!(value));
    fields.insert("operator_type".into(), json!(op));
    fields.insert("name".into(), json!(value));
    fields.insert("localized_name".into(), Value::Null);
    fields.insert(
        "location_type".into(),
        if ty == "LOCATION" {
            json!("COUNTRIES")
        } else {
            Value::Null
        },
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Custom audiences

fn audience_fields(
    st: &State,
    account: &str,
    own: Option<&str>,
    p: &Params,
    fields: &mut Map<String, Value>,
    creating: bool,
) -> Result<(), XErr> {
    if creating {
        p.required("name")?;
    }
    if let Some(name) = p.text("name", 255)? {
        if name.is_empty() {
            return Err(invalid("name", "name must be 1 to 255 characters"));
        }
        let taken = st.objects.values().any(|o| {
            o.kind == Kind::CustomAudience
                && o.account == account
                && !o.deleted
                && Some(o.id.as_str()) != own
                && o.fields.get("name") == Some(&json!(name))
        });
        if taken {
            return Err(invalid(
                "name",
                format!("A custom audience named \"{name}\" already exists"),
            ));
        }
        fields.insert("name".into(), json!(name));
    }
    if let Some(d) = p.get("description") {
        fields.insert("description".into(), if d.is_empty() { Value::Null } else { json!(d) });
    } else if creating {
        fields.insert("description".into(), Value::Null);
    }
    Ok(())
}

const USER_KEYS: &[&str] = &[
    "email",
    "handle",
    "twitter_id",
    "device_id",
    "phone_number",
    "partner_user_id",
];

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// POST …/custom_audiences/{id}/users: a JSON array of Update/Delete operations, all or nothing.
fn audience_users(st: &mut State, now: i64, account: &str, id: &str, body: &[u8]) -> Result<Value, XErr> {
    match find(st, account, Kind::CustomAudience, id) {
        Some(o) if !o.deleted => {}
        _ => return Err(not_found(Kind::CustomAudience, id)),
    }
    if body.len() > MAX_AUDIENCE_BODY {
        return Err(XErr::new(
            400,
            "INVALID_PARAMETER",
            format!("The body carries {} bytes, at most {MAX_AUDIENCE_BODY}", body.len()),
        ));
    }
    let Ok(Value::Array(ops)) = serde_json::from_slice::<Value>(body) else {
        return Err(XErr::new(
            400,
            "INVALID_PARAMETER",
            "The body must be a JSON array of operations",
        ));
    };
    if ops.is_empty() || ops.len() > MAX_AUDIENCE_OPERATIONS {
        return Err(XErr::new(
            400,
            "INVALID_PARAMETER",
            format!(
                "Between 1 and {MAX_AUDIENCE_OPERATIONS} operation objects, got {}",
                ops.len()
            ),
        ));
    }
    let mut members = st.audience_members.get(id).cloned().unwrap_or_default();
    let mut total = 0u64;
    for (i, op) in ops.iter().enumerate() {
        let kind = op.get("operation_type").and_then(Value::as_str).unwrap_or("");
        if !matches!(kind, "Update" | "Delete") {
            return Err(invalid(
                "operation_type",
                format!("operation {i}: operation_type is Update or Delete"),
            ));
        }
        let params = op.get("params").cloned().unwrap_or(Value::Null);
        let time = |k: &str| -> Result<Option<i64>, XErr> {
            match params.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(t)) => chrono::DateTime::parse_from_rfc3339(t)
                    .map(|t| Some(t.timestamp()))
                    .map_err(|_| invalid(k, format!("Expected time, got \"{t}\" for {k}"))),
                Some(_) => Err(invalid(k, format!("Expected time for {k}"))),
            }
        };
        let effective = time("effective_at")?.unwrap_or(now);
        let expires = time("expires_at")?.unwrap_or(now + 395 * 86_400);
        if expires <= effective {
            return Err(invalid("expires_at", "expires_at must be after effective_at"));
        }
        let Some(users) = params.get("users").and_then(Value::as_array) else {
            return Err(missing("users"));
        };
        for u in users {
            let Some(obj) = u.as_object() else {
                return Err(invalid("users", "each user is an object"));
            };
            let mut keys = Vec::new();
            for (k, v) in obj {
                if !USER_KEYS.contains(&k.as_str()) {
                    return Err(invalid("users", format!("Unknown user key \"{k}\"")));
                }
                let vals = v
                    .as_array()
                    .ok_or_else(|| invalid("users", format!("{k} is an array")))?;
                for v in vals {
                    let v = v
                        .as_str()
                        .ok_or_else(|| invalid("users", format!("{k} values are strings")))?;
                    if k != "partner_user_id" && !is_sha256_hex(v) {
                        return Err(invalid(
                            "users",
                            format!("{k} values are SHA-256 lower-case hex digests"),
                        ));
                    }
                    keys.push(format!("{k}:{v}"));
                }
            }
            if keys.is_empty() {
                return Err(invalid("users", "a user object carries at least one key"));
            }
            total += 1;
            for key in keys {
                if kind == "Update" {
                    members.insert(key);
                } else {
                    members.remove(&key);
                }
            }
        }
    }
    st.audience_members.insert(id.to_string(), members);
    if let Some(o) = st.objects.get_mut(id) {
        o.updated_at = now;
    }
    Ok(json!({"success_count": total, "total_count": total}))
}

// ---------------------------------------------------------------------------------------------------------------
// Synchronous stats

pub const MAX_STATS_IDS: usize = 20;
pub const MAX_SYNC_STATS_DAYS: i64 = 7;
const STATS_ENTITIES: &[&str] = &[
    "ACCOUNT",
    "FUNDING_INSTRUMENT",
    "CAMPAIGN",
    "LINE_ITEM",
    "PROMOTED_TWEET",
    "PROMOTED_ACCOUNT",
];
const METRIC_GROUPS: &[&str] = &[
    "ENGAGEMENT",
    "BILLING",
    "VIDEO",
    "MEDIA",
    "WEB_CONVERSION",
    "MOBILE_CONVERSION",
    "LIFE_TIME_VALUE_MOBILE_CONVERSION",
];

fn group_metrics(group: &str) -> &'static [&'static str] {
    match group {
        "ENGAGEMENT" => &[
            "engagements",
            "impressions",
            "retweets",
            "replies",
            "likes",
            "follows",
            "card_engagements",
            "clicks",
            "app_clicks",
            "url_clicks",
            "qualified_impressions",
            "carousel_swipes",
        ],
        "BILLING" => &["billed_engagements", "billed_charge_local_micro"],
        "VIDEO" => &[
            "video_total_views",
            "video_views_25",
            "video_views_50",
            "video_views_75",
            "video_views_100",
            "video_cta_clicks",
            "video_content_starts",
            "video_3s100pct_views",
            "video_6s_views",
            "video_15s_views",
        ],
        _ => &[],
    }
}

fn sync_stats(
    cfg: &XConfig,
    st: &State,
    account: &str,
    p: &Params,
    max_days: i64,
) -> Result<(usize, Vec<Value>), XErr> {
    let entity = p.required("entity")?;
    if !STATS_ENTITIES.contains(&entity) {
        return Err(invalid(
            "entity",
            format!(
                "Expected enum value in [{}], got \"{entity}\" for entity",
                STATS_ENTITIES.join(", ")
            ),
        ));
    }
    let ids: Vec<String> = p
        .required("entity_ids")?
        .split(',')
        .map(|s| s.trim().to_string())
        .collect();
    if ids.len() > MAX_STATS_IDS {
        return Err(invalid(
            "entity_ids",
            format!("entity_ids accepts at most {MAX_STATS_IDS} ids, got {}", ids.len()),
        ));
    }
    let kind = match entity {
        "FUNDING_INSTRUMENT" => Some(Kind::FundingInstrument),
        "CAMPAIGN" => Some(Kind::Campaign),
        "LINE_ITEM" => Some(Kind::LineItem),
        "PROMOTED_TWEET" => Some(Kind::PromotedTweet),
        _ => None,
    };
    for id in &ids {
        let known = match (entity, kind) {
            ("ACCOUNT", _) => id == account,
            (_, Some(k)) => find(st, account, k, id).is_some(),
            _ => is_base36(id),
        };
        if !known {
            return Err(invalid(
                "entity_ids",
                format!("{entity} {id} does not exist in account {account}"),
            ));
        }
    }
    p.required("start_time")?;
    p.required("end_time")?;
    let start = p.time("start_time")?.unwrap_or(0);
    let end = p.time("end_time")?.unwrap_or(0);
    for (k, t) in [("start_time", start), ("end_time", end)] {
        if t.rem_euclid(3600) != 0 {
            return Err(invalid(k, format!("{k} must be a whole hour")));
        }
    }
    if end <= start {
        return Err(invalid(
            "end_time",
            "end_time must be after start_time (the end is exclusive)",
        ));
    }
    if end - start > max_days * 86_400 {
        return Err(XErr::new(
            400,
            "INVALID_TIME_WINDOW",
            format!("This stats request spans at most {max_days} days"),
        )
        .param("end_time"));
    }
    let granularity = p.required("granularity")?;
    let hours = ((end - start) / 3600) as usize;
    let n = match granularity {
        "HOUR" => hours,
        "DAY" => hours.div_ceil(24),
        "TOTAL" => 1,
        g => {
            return Err(invalid(
                "granularity",
                format!("Expected enum value in [HOUR, DAY, TOTAL], got \"{g}\" for granularity"),
            ))
        }
    };
    let placement = p.required("placement")?;
    if !matches!(
        placement,
        "ALL_ON_TWITTER" | "PUBLISHER_NETWORK" | "SPOTLIGHT" | "TREND"
    ) {
        return Err(invalid(
            "placement",
            format!("One placement per request, got \"{placement}\""),
        ));
    }
    let groups: Vec<&str> = p.required("metric_groups")?.split(',').map(str::trim).collect();
    if let Some(bad) = groups.iter().find(|g| !METRIC_GROUPS.contains(g)) {
        return Err(invalid("metric_groups", format!("Unknown metric group \"{bad}\"")));
    }
    if groups.contains(&"MOBILE_CONVERSION") && groups.len() > 1 {
        return Err(invalid(
            "metric_groups",
            "MOBILE_CONVERSION must be requested on its own",
        ));
    }
    let mut data = Vec::new();
    for id in &ids {
        let mut metrics = Map::new();
        for g in &groups {
            for m in group_metrics(g) {
                let series: Vec<u64> = (0..n)
                    .map(|i| {
                        let h = crate::rng::mix64(
                            cfg.metric_seed
                                ^ crate::rng::hash_str(&format!("{id}/{m}/{placement}/{granularity}/{start}/{i}")),
                        );
                        let scale = if granularity == "HOUR" {
                            1
                        } else if granularity == "DAY" {
                            24
                        } else {
                            hours as u64
                        };
                        match *m {
                            "impressions" | "qualified_impressions" => (h % 100) * scale,
                            "billed_charge_local_micro" => (h % 50) * 10_000 * scale,
                            _ => (h % 5) * scale,
                        }
                    })
                    .collect();
                metrics.insert((*m).to_string(), json!(series));
            }
        }
        data.push(json!({"id": id, "id_data": [{"segment": null, "metrics": metrics}]}));
    }
    Ok((n, data))
}

// ---------------------------------------------------------------------------------------------------------------
// Asynchronous stats jobs

pub const MAX_CONCURRENT_JOBS: usize = 100;
pub const MAX_ASYNC_DAYS: i64 = 90;
pub const MAX_ASYNC_SEGMENTED_DAYS: i64 = 45;
const SEGMENTATIONS: &[&str] = &["AGE", "GENDER", "METROS", "PLATFORMS", "CONVERSION_TAGS"];

fn render_job(j: &Job, host: &str) -> Value {
    let p = Params(j.params.clone());
    let list = |k: &str| {
        p.get(k)
            .map(|v| json!(v.split(',').collect::<Vec<_>>()))
            .unwrap_or(Value::Null)
    };
    let done = j.polled;
    json!({
        "id": j.id, "id_str": j.id.to_string(), "account_id": j.account,
        "status": if done { "SUCCESS" } else { "PROCESSING" },
        "url": if done { json!(format!("http://{host}/_emulator/x/stats_results/{}", j.id)) } else { Value::Null },
        "expires_at": if done { json!(iso(j.created_at + 7 * 86_400)) } else { Value::Null },
        "entity": p.get("entity"), "entity_ids": list("entity_ids"), "metric_groups": list("metric_groups"),
        "placement": p.get("placement"), "granularity": p.get("granularity"),
        "start_time": p.time("start_time").ok().flatten().map(iso), "end_time": p.time("end_time").ok().flatten().map(iso),
        "segmentation_type": p.get("segmentation_type"), "country": p.get("country"), "platform": p.get("platform"),
        "created_at": iso(j.created_at), "updated_at": iso(j.created_at),
    })
}

fn create_job(cfg: &XConfig, st: &mut State, now: i64, account: &str, p: &Params, host: &str) -> Result<Value, XErr> {
    let seg = p.enumerated("segmentation_type", SEGMENTATIONS)?;
    let max = if seg.is_some() {
        MAX_ASYNC_SEGMENTED_DAYS
    } else {
        MAX_ASYNC_DAYS
    };
    sync_stats(cfg, st, account, p, max)?;
    let running = st.jobs.values().filter(|j| j.account == account && !j.polled).count();
    if running >= MAX_CONCURRENT_JOBS {
        return Err(XErr::new(
            400,
            "INVALID_PARAMETER",
            format!("At most {MAX_CONCURRENT_JOBS} concurrent jobs per account"),
        ));
    }
    st.next_id += 1;
    let id = 1_300_000_000_000_000_000u64 + st.next_id;
    let job = Job {
        id,
        account: account.to_string(),
        params: p.0.iter().filter(|(k, _)| !k.starts_with("oauth_")).cloned().collect(),
        created_at: now,
        polled: false,
    };
    let v = render_job(&job, host);
    st.jobs.insert(id.to_string(), job);
    Ok(v)
}

fn list_jobs(st: &mut State, account: &str, p: &Params, host: &str) -> Result<Vec<Value>, XErr> {
    let ids: Option<Vec<String>> = match p.get("job_ids") {
        None | Some("") => None,
        Some(v) => {
            let ids: Vec<String> = v.split(',').map(|s| s.trim().to_string()).collect();
            if ids.len() > MAX_IDS {
                return Err(invalid("job_ids", format!("job_ids accepts at most {MAX_IDS} ids")));
            }
            Some(ids)
        }
    };
    let mut out = Vec::new();
    for j in st.jobs.values_mut() {
        if j.account != account || ids.as_ref().is_some_and(|ids| !ids.contains(&j.id.to_string())) {
            continue;
        }
        let v = render_job(j, host);
        j.polled = true;
        out.push(v);
    }
    Ok(out)
}

/// CRC-32 (IEEE) for the gzip trailer.
fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
        }
    }
    !c
}

/// A gzip member with stored (uncompressed) deflate blocks: valid gzip, no compressor needed.
pub fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[][..]]
    } else {
        data.chunks(65_535).collect()
    };
    let last = chunks.len() - 1;
    for (i, c) in chunks.iter().enumerate() {
        out.push(if i == last { 1 } else { 0 });
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// The gzip JSON a finished job's url serves (same schema as sync stats).
pub fn job_result(emu: &XEmulator, id: &str) -> Option<Vec<u8>> {
    let cfg = emu.config();
    let st = emu.inner.lock();
    let j = st.jobs.get(id)?;
    let p = Params(j.params.clone());
    let (n, data) = sync_stats(&cfg, &st, &j.account, &p, MAX_ASYNC_DAYS).ok()?;
    let body = json!({"data_type": "stats", "time_series_length": n, "data": data, "request": p.echo(&[("account_id", &j.account)])});
    Some(gzip_stored(body.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_answer_and_gzip_trailer() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let gz = gzip_stored(b"abc");
        assert_eq!(&gz[gz.len() - 4..], &3u32.to_le_bytes());
        assert_eq!(gz[10], 1);
    }

    #[test]
    fn base36_ids() {
        assert_eq!(to_base36(35), "z");
        assert!(is_base36("18ce54d4x5t"));
        assert!(!is_base36("ABC"));
    }
}
