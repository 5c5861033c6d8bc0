//! The Google Ads API v25 (REST) emulator: OAuth, `googleAds:search` / `searchStream` / `mutate`, the
//! per-service `:mutate` endpoints (campaign budgets, campaigns, ad groups, ad group ads, ads, ad group criteria,
//! campaign criteria, labels and the campaign / ad group / ad group ad / ad group criterion label links, user
//! lists), offline user data jobs, `customers:listAccessibleCustomers`, with the real error envelopes, platform
//! rules (listed in `docs/wire-rules.md`), rate limits and synthetic metrics.
//!
//! Admin routes (under `/_emulator/google_ads/`):
//! - `POST drift` `{"resourceName": "...", "set": {camelCase fields}}`: change an object behind adsctl's back
//!   (recorded in change_status like a change made in the web UI);
//! - `POST customers` `{"customer_id": "...", "currency": "EUR", ...}` (a seed entry): add a customer;
//! - `POST expire_tokens`: every issued access token expires now.

// Handlers return early with a ready `Response` (or an `AdsError`) on the cold error path; boxing them would
// only add noise.
#![allow(clippy::result_large_err)]

pub mod errors;
pub mod experiment;
pub mod gaql;
pub mod jobs;
pub mod metrics;
pub mod mutate;
pub mod oauth;
pub mod pmax;
pub mod resources;
pub mod schema;
pub mod store;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{NaiveDate, Utc};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::config::{EmulatorConfig, GoogleCustomerSeed, GoogleRateLimits};
use super::counters::{EndpointLabel, OperationCount};
use super::faults::ReadLag;
use super::platform::{defaults, FaultKind, PlatformEmulator};
use super::rng::{hash_str, mix64};
use errors::{AdsError, Status};
use resources::Res;
use schema::{schema, Violations};
use store::{Customer, CustomerInfo};

/// The API version served.
pub const VERSION: &str = "v25";
/// Most operations one mutate request may carry.
pub const MAX_OPERATIONS: usize = 10_000;
/// Rows in one search page / searchStream chunk.
pub const PAGE_ROWS: usize = 10_000;

pub struct Cfg {
    pub token_ttl: Duration,
    pub metric_seed: u64,
    pub auto_create: bool,
    pub developer_tokens: HashSet<String>,
    pub refresh_tokens: HashSet<String>,
    pub clients: HashMap<String, String>,
    pub rate: GoogleRateLimits,
    pub job_delay: Duration,
}

#[derive(Default, Serialize, Deserialize)]
pub struct GState {
    pub customers: BTreeMap<String, Customer>,
    pub next_id: u64,
    pub write_seq: u64,
    /// access token → expiry (unix seconds)
    pub access_tokens: HashMap<String, u64>,
    /// refresh tokens issued by the code flow
    pub refresh_tokens: HashSet<String>,
    #[serde(skip)]
    pub codes: HashMap<String, oauth::CodeGrant>,
    pub jobs: BTreeMap<String, jobs::Job>,
    /// operation name → (job resource name, unix ms when it started)
    pub operations: BTreeMap<String, (String, u64)>,
    /// user list resource name → members (hashed identifiers)
    pub members: BTreeMap<String, BTreeSet<String>>,
    /// (day, operations used) for the daily allowance
    #[serde(skip)]
    pub daily: Option<(NaiveDate, u64)>,
    /// customer → (unix second, requests in it)
    #[serde(skip)]
    pub per_second: HashMap<String, (u64, u32)>,
    #[serde(skip)]
    pub counter: u64,
}

impl GState {
    pub fn random_hex(&mut self) -> String {
        self.counter += 1;
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        format!(
            "{:016x}{:016x}",
            mix64(t ^ self.counter),
            mix64(self.counter.wrapping_mul(31) ^ !t)
        )
    }
}

pub struct Inner {
    pub cfg: Cfg,
    pub state: Mutex<GState>,
    seed_customers: Vec<GoogleCustomerSeed>,
}

/// The Google Ads platform of the emulator.
pub struct GoogleAdsEmulator {
    inner: Arc<Inner>,
}

fn customer_from_seed(s: &GoogleCustomerSeed) -> CustomerInfo {
    let id: String = s.customer_id.chars().filter(char::is_ascii_digit).collect();
    CustomerInfo {
        descriptive_name: s
            .descriptive_name
            .clone()
            .unwrap_or_else(|| format!("Emulated customer {id}")),
        id,
        currency: s.currency.clone(),
        time_zone: s.time_zone.clone(),
        manager: s.manager,
        clients: s
            .clients
            .iter()
            .map(|c| c.chars().filter(char::is_ascii_digit).collect())
            .collect(),
    }
}

impl GoogleAdsEmulator {
    pub fn new(config: &EmulatorConfig) -> Self {
        let seed = &config.seed.google_ads;
        let mut developer_tokens: HashSet<String> = seed.developer_tokens.iter().cloned().collect();
        developer_tokens.insert(defaults::GOOGLE_DEVELOPER_TOKEN.to_string());
        let mut refresh_tokens: HashSet<String> = seed.refresh_tokens.iter().cloned().collect();
        refresh_tokens.insert(defaults::GOOGLE_REFRESH_TOKEN.to_string());
        let mut clients: HashMap<String, String> = seed
            .clients
            .iter()
            .map(|c| (c.client_id.clone(), c.client_secret.clone()))
            .collect();
        clients.insert(
            defaults::GOOGLE_CLIENT_ID.to_string(),
            defaults::GOOGLE_CLIENT_SECRET.to_string(),
        );
        let inner = Arc::new(Inner {
            cfg: Cfg {
                token_ttl: config.token_ttl,
                metric_seed: config.metric_seed,
                auto_create: config.auto_create_accounts,
                developer_tokens,
                refresh_tokens,
                clients,
                rate: config.rate_limits.google_ads.clone(),
                job_delay: config.review_delay,
            },
            state: Mutex::new(GState::default()),
            seed_customers: seed.customers.clone(),
        });
        let em = GoogleAdsEmulator { inner };
        em.seed();
        em
    }

    fn seed(&self) {
        let mut st = self.inner.state.lock();
        st.next_id = st.next_id.max(1_000_000_000);
        for s in &self.inner.seed_customers {
            let info = customer_from_seed(s);
            st.customers
                .entry(info.id.clone())
                .or_insert_with(|| Customer::new(info));
        }
    }

    /// Add (or replace the settings of) a customer.
    pub fn add_customer(&self, seed: &GoogleCustomerSeed) {
        let info = customer_from_seed(seed);
        let mut st = self.inner.state.lock();
        match st.customers.get_mut(&info.id) {
            Some(c) => c.info = info,
            None => {
                st.customers.insert(info.id.clone(), Customer::new(info));
            }
        }
    }

    /// Issue an access token directly (in-process tests that do not exercise OAuth).
    pub fn issue_access_token(&self) -> String {
        let mut st = self.inner.state.lock();
        let t = format!("ya29.emu-{}", st.random_hex());
        let exp = oauth::now_secs() + self.inner.cfg.token_ttl.as_secs();
        st.access_tokens.insert(t.clone(), exp);
        t
    }

    /// Number of objects of all types (benchmarks).
    pub fn object_count(&self) -> usize {
        let st = self.inner.state.lock();
        st.customers
            .values()
            .flat_map(|c| c.tables.values())
            .map(|t| t.len())
            .sum()
    }
}

impl PlatformEmulator for GoogleAdsEmulator {
    fn name(&self) -> &'static str {
        "google_ads"
    }

    fn router(&self) -> Router {
        Router::new()
            .route("/token", post(token_handler))
            .route("/o/oauth2/v2/auth", get(authorize_handler))
            .route("/v25/{*rest}", any(api_handler))
            .route("/_emulator/google_ads/drift", post(drift_handler))
            .route("/_emulator/google_ads/customers", post(add_customer_handler))
            .route("/_emulator/google_ads/expire_tokens", post(expire_handler))
            .route(
                "/_emulator/google_ads/merchant_links",
                post(pmax::link_merchant_handler),
            )
            .with_state(self.inner.clone())
    }

    fn fault_response(&self, fault: FaultKind) -> Response {
        let rid = request_id();
        match fault {
            FaultKind::RateLimit => errors::failure(
                Status::ResourceExhausted,
                &[AdsError::new(errors::QUOTA_RESOURCE_TEMPORARILY_EXHAUSTED, "Too many requests. Retry in 1 seconds.")
                    .details(json!({"quotaErrorDetails": {"rateScope": "DEVELOPER", "rateName": "Requests per developer token per second", "retryDelay": "1s"}}))],
                &rid,
            ),
            _ => errors::failure(
                Status::Unavailable,
                &[AdsError::new(errors::TRANSIENT_ERROR, "The service is currently unavailable.")],
                &rid,
            ),
        }
    }

    fn dump(&self) -> Value {
        let st = self.inner.state.lock();
        serde_json::to_value(&*st).unwrap_or(Value::Null)
    }

    fn restore(&self, dump: Value) -> Result<(), String> {
        if dump.is_null() {
            return Ok(());
        }
        let mut new: GState = serde_json::from_value(dump).map_err(|e| e.to_string())?;
        for c in new.customers.values_mut() {
            c.reindex();
        }
        *self.inner.state.lock() = new;
        self.seed();
        Ok(())
    }

    fn reset(&self) {
        *self.inner.state.lock() = GState::default();
        self.seed();
    }
}

fn request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let h = mix64(n ^ 0x5EED);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h.to_be_bytes())[..11].to_string()
}

async fn token_handler(AxState(inner): AxState<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let mut r = oauth::token(&inner, &headers, &body);
    r.extensions_mut().insert(EndpointLabel("POST /token".into()));
    r
}

async fn authorize_handler(AxState(inner): AxState<Arc<Inner>>, req: Request) -> Response {
    let q = req.uri().query().unwrap_or_default().to_string();
    let mut r = oauth::authorize(&inner, &q);
    r.extensions_mut().insert(EndpointLabel("GET /o/oauth2/v2/auth".into()));
    r
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

#[derive(Deserialize)]
struct Drift {
    #[serde(rename = "resourceName")]
    resource_name: String,
    set: serde_json::Map<String, Value>,
}

async fn drift_handler(AxState(inner): AxState<Arc<Inner>>, body: Bytes) -> Response {
    let Ok(d) = serde_json::from_slice::<Drift>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "body: {\"resourceName\": ..., \"set\": {...}}"})),
        )
            .into_response();
    };
    let cid = d
        .resource_name
        .strip_prefix("customers/")
        .and_then(|r| r.split('/').next())
        .unwrap_or_default()
        .to_string();
    let mut st = inner.state.lock();
    st.write_seq += 1;
    let seq = st.write_seq;
    let st = &mut *st;
    let Some(cust) = st.customers.get_mut(&cid) else {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "no such customer"}))).into_response();
    };
    let Some((res, key)) = store::parse_rn(&d.resource_name, &cid) else {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "no such resource"}))).into_response();
    };
    let mut violations = Violations::default();
    schema().check(&res.message(), &Value::Object(d.set.clone()), "set", &mut violations);
    if !violations.is_empty() {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": violations.list}))).into_response();
    }
    let Some(old) = cust.get(res, key).cloned() else {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "no such resource"}))).into_response();
    };
    let mut v = old.v.clone();
    if let Some(m) = v.as_object_mut() {
        for (k, x) in d.set {
            m.insert(k, x);
        }
    }
    let mut ctx = mutate::MutateCtx::new(cust, seq, &mut st.next_id, today(), false);
    ctx.force_put(res, key, v.clone(), "CHANGED");
    ctx.commit();
    Json(json!({"resource": v})).into_response()
}

async fn add_customer_handler(AxState(inner): AxState<Arc<Inner>>, body: Bytes) -> Response {
    match serde_json::from_slice::<GoogleCustomerSeed>(&body) {
        Ok(s) => {
            let info = customer_from_seed(&s);
            if info.id.len() != 10 {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": "customer_id must have 10 digits"})),
                )
                    .into_response();
            }
            let mut st = inner.state.lock();
            let id = info.id.clone();
            match st.customers.get_mut(&id) {
                Some(c) => c.info = info,
                None => {
                    st.customers.insert(id.clone(), Customer::new(info));
                }
            }
            Json(json!({"resourceName": format!("customers/{id}")})).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": e.to_string()}))).into_response(),
    }
}

async fn expire_handler(AxState(inner): AxState<Arc<Inner>>) -> Response {
    let mut st = inner.state.lock();
    let n = st.access_tokens.len();
    for exp in st.access_tokens.values_mut() {
        *exp = 0;
    }
    Json(json!({"expired": n})).into_response()
}

/// Everything under `/v25/`.
async fn api_handler(AxState(inner): AxState<Arc<Inner>>, req: Request) -> Response {
    let lag = req.extensions().get::<ReadLag>().is_some();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    let body = match axum::body::to_bytes(req.into_body(), 64 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => Bytes::new(),
    };
    let rid = request_id();
    let rest = path.strip_prefix("/v25/").unwrap_or_default();
    let (label, mut resp, ops) = route(&inner, &method, rest, &headers, &body, &rid, lag);
    resp = errors::with_request_id(resp, &rid);
    resp.extensions_mut().insert(EndpointLabel(label));
    resp.extensions_mut().insert(OperationCount(ops));
    resp
}

fn not_found(rid: &str) -> Response {
    errors::plain(Status::NotFound, "The requested URL was not found on this server.", rid)
}

fn route(
    inner: &Inner,
    method: &Method,
    rest: &str,
    headers: &HeaderMap,
    body: &[u8],
    rid: &str,
    lag: bool,
) -> (String, Response, u64) {
    if rest == "customers:listAccessibleCustomers" {
        let label = "GET /v25/customers:listAccessibleCustomers".to_string();
        if method != Method::GET {
            return (label, not_found(rid), 0);
        }
        return match authenticate(inner, headers, None, rid) {
            Err(r) => (label, r, 0),
            Ok(()) => {
                let st = inner.state.lock();
                let names: Vec<String> = st.customers.keys().map(|c| format!("customers/{c}")).collect();
                (label, Json(json!({"resourceNames": names})).into_response(), 0)
            }
        };
    }
    let Some(after) = rest.strip_prefix("customers/") else {
        return (format!("{method} /v25/{{unknown}}"), not_found(rid), 0);
    };
    let (cid, tail) = match after.split_once('/') {
        Some((c, t)) => (c, t),
        None => match after.split_once(':') {
            Some((c, _)) => (c, ""),
            None => (after, ""),
        },
    };
    let template_tail = template(tail);
    let label = format!("{method} /v25/customers/{{customerId}}/{template_tail}");
    let is_get = method == Method::GET;
    if (is_get && !tail.starts_with("operations/")) || (!is_get && tail.starts_with("operations/")) || tail.is_empty() {
        return (label, not_found(rid), 0);
    }
    if let Err(r) = authenticate(inner, headers, Some(cid), rid) {
        return (label, r, 0);
    }
    if let Err(r) = rate_limit(inner, cid, rid) {
        return (label, r, 0);
    }
    let (resp, ops) = match tail {
        "googleAds:search" => (search(inner, cid, body, rid, lag, false), 1),
        "googleAds:searchStream" => (search(inner, cid, body, rid, lag, true), 1),
        "googleAds:mutate" => mutate_handler(inner, cid, None, false, body, rid),
        "ads:mutate" => mutate_handler(inner, cid, None, true, body, rid),
        "offlineUserDataJobs:create" => (jobs::create(inner, cid, body, rid), 1),
        t if t.starts_with("offlineUserDataJobs/") && t.ends_with(":addOperations") => {
            jobs::add_operations(inner, cid, t.trim_end_matches(":addOperations"), body, rid)
        }
        t if t.starts_with("offlineUserDataJobs/") && t.ends_with(":run") => {
            (jobs::run(inner, cid, t.trim_end_matches(":run"), body, rid), 1)
        }
        t if t.starts_with("operations/") => (jobs::get_operation(inner, cid, t, rid), 0),
        t if t.starts_with("experiments/") && t.contains(':') => (experiment::verb(inner, cid, t, body, rid), 1),
        t => match t.strip_suffix(":mutate").and_then(Res::by_coll) {
            Some(res) => mutate_handler(inner, cid, Some(res), false, body, rid),
            None => (not_found(rid), 0),
        },
    };
    (label, resp, ops)
}

/// Route template of a customer-level path (for counters): ids become placeholders.
fn template(tail: &str) -> String {
    if let Some(r) = tail.strip_prefix("offlineUserDataJobs/") {
        let verb = r.split_once(':').map(|(_, v)| v).unwrap_or_default();
        return format!("offlineUserDataJobs/{{jobId}}:{verb}");
    }
    if tail.starts_with("operations/") {
        return "operations/{operationId}".into();
    }
    if let Some(r) = tail.strip_prefix("experiments/") {
        let verb = r.split_once(':').map(|(_, v)| v).unwrap_or_default();
        return format!("experiments/{{experimentId}}:{verb}");
    }
    tail.to_string()
}

fn authenticate(inner: &Inner, headers: &HeaderMap, cid: Option<&str>, rid: &str) -> Result<(), Response> {
    let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).map(str::trim);
    let unauth = |code, msg: &str| errors::failure(Status::Unauthenticated, &[AdsError::new(code, msg)], rid);
    let Some(token) = h("authorization").and_then(|v| v.strip_prefix("Bearer ")) else {
        return Err(unauth(
            errors::OAUTH_TOKEN_HEADER_INVALID,
            "Oauth token HTTP header is malformed.",
        ));
    };
    {
        let st = inner.state.lock();
        match st.access_tokens.get(token.trim()) {
            None => return Err(unauth(errors::OAUTH_TOKEN_INVALID, "Oauth token is invalid.")),
            Some(exp) if *exp <= oauth::now_secs() => {
                return Err(unauth(errors::OAUTH_TOKEN_EXPIRED, "Oauth token is expired."))
            }
            Some(_) => {}
        }
    }
    match h("developer-token") {
        None | Some("") => {
            return Err(errors::failure(
                Status::InvalidArgument,
                &[AdsError::new(
                    errors::DEVELOPER_TOKEN_PARAMETER_MISSING,
                    "Developer token parameter is missing.",
                )],
                rid,
            ))
        }
        Some(t) if !inner.cfg.developer_tokens.contains(t) => {
            return Err(unauth(
                errors::DEVELOPER_TOKEN_INVALID,
                "The developer token is not valid.",
            ))
        }
        Some(_) => {}
    }
    let Some(cid) = cid else {
        return Ok(());
    };
    if cid.len() != 10 || !cid.chars().all(|c| c.is_ascii_digit()) {
        return Err(errors::failure(
            Status::InvalidArgument,
            &[AdsError::new(errors::INVALID_CUSTOMER_ID, "Invalid customer ID.").trigger(cid.to_string())],
            rid,
        ));
    }
    let denied = || {
        errors::failure(
            Status::PermissionDenied,
            &[AdsError::new(
                errors::USER_PERMISSION_DENIED,
                "User doesn't have permission to access customer. Note: If you're accessing a client customer, the \
                 manager's customer id must be set in the 'login-customer-id' header.",
            )],
            rid,
        )
    };
    let mut st = inner.state.lock();
    if !st.customers.contains_key(cid) {
        if !inner.cfg.auto_create {
            return Err(denied());
        }
        let info = customer_from_seed(&GoogleCustomerSeed {
            customer_id: cid.to_string(),
            currency: "USD".into(),
            time_zone: "America/New_York".into(),
            descriptive_name: None,
            manager: false,
            clients: vec![],
        });
        st.customers.insert(cid.to_string(), Customer::new(info));
    }
    if let Some(login) = h("login-customer-id") {
        if login.len() != 10 || !login.chars().all(|c| c.is_ascii_digit()) {
            return Err(errors::failure(
                Status::InvalidArgument,
                &[
                    AdsError::new(errors::INVALID_LOGIN_CUSTOMER_ID, "The login customer ID is not valid.")
                        .trigger(login.to_string()),
                ],
                rid,
            ));
        }
        if login != cid {
            if !st.customers.contains_key(login) && inner.cfg.auto_create {
                let mut info = customer_from_seed(&GoogleCustomerSeed {
                    customer_id: login.to_string(),
                    currency: "USD".into(),
                    time_zone: "America/New_York".into(),
                    descriptive_name: None,
                    manager: true,
                    clients: vec![],
                });
                info.clients.push(cid.to_string());
                st.customers.insert(login.to_string(), Customer::new(info));
            }
            let manages = st
                .customers
                .get(login)
                .is_some_and(|m| m.info.manager && m.info.clients.iter().any(|c| c == cid));
            if !manages {
                return Err(denied());
            }
        }
    }
    Ok(())
}

fn rate_limit(inner: &Inner, cid: &str, rid: &str) -> Result<(), Response> {
    let Some(limit) = inner.cfg.rate.requests_per_second else {
        return Ok(());
    };
    let now = oauth::now_secs();
    let mut st = inner.state.lock();
    let e = st.per_second.entry(cid.to_string()).or_insert((now, 0));
    if e.0 != now {
        *e = (now, 0);
    }
    e.1 += 1;
    if e.1 > limit {
        return Err(errors::failure(
            Status::ResourceExhausted,
            &[AdsError::new(errors::QUOTA_RESOURCE_TEMPORARILY_EXHAUSTED, "Too many requests. Retry in 1 seconds.")
                .details(json!({"quotaErrorDetails": {"rateScope": "ACCOUNT", "rateName": "Requests per customer per second", "retryDelay": "1s"}}))],
            rid,
        ));
    }
    Ok(())
}

/// Count operations against the daily allowance of the developer token.
fn spend_operations(inner: &Inner, n: u64, rid: &str) -> Result<(), Response> {
    let Some(limit) = inner.cfg.rate.daily_operations else {
        return Ok(());
    };
    let mut st = inner.state.lock();
    let today = today();
    let used = match st.daily {
        Some((d, u)) if d == today => u,
        _ => 0,
    };
    if used + n > limit {
        let now = Utc::now();
        let midnight = (today + chrono::Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc());
        let secs = midnight.map_or(3600, |m| (m - now).num_seconds().max(1));
        return Err(errors::failure(
            Status::ResourceExhausted,
            &[AdsError::new(errors::QUOTA_RESOURCE_EXHAUSTED, format!("Too many requests. Retry in {secs} seconds."))
                .details(json!({"quotaErrorDetails": {"rateScope": "DEVELOPER", "rateName": "Number of operations for basic access", "retryDelay": format!("{secs}s")}}))],
            rid,
        ));
    }
    st.daily = Some((today, used + n));
    Ok(())
}

/// Parse a body and run the front-end check. `Err` is the response to send.
fn parse_body(message: &str, body: &[u8], rid: &str) -> Result<Value, Response> {
    let v: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return Err(errors::bad_request(
                    &[(String::new(), format!("Invalid JSON payload received. {e}"))],
                    rid,
                ))
            }
        }
    };
    let mut violations = Violations::default();
    schema().check(message, &v, "", &mut violations);
    if !violations.list.is_empty() {
        return Err(errors::bad_request(&violations.list, rid));
    }
    if !violations.unsupported.is_empty() {
        return Err(errors::plain(
            Status::Unimplemented,
            &format!("The emulator does not implement: {}", violations.unsupported.join(", ")),
            rid,
        ));
    }
    Ok(v)
}

fn search(inner: &Inner, cid: &str, body: &[u8], rid: &str, lag: bool, stream: bool) -> Response {
    let message = if stream {
        "services.SearchGoogleAdsStreamRequest"
    } else {
        "services.SearchGoogleAdsRequest"
    };
    let req = match parse_body(message, body, rid) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let bad = |e: AdsError| errors::failure(Status::InvalidArgument, &[e], rid);
    // int32 travels as a JSON number or a string; 0 is proto3's "not set"
    let page_size = req
        .get("pageSize")
        .and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())));
    if page_size.is_some_and(|n| n != 0) {
        return bad(AdsError::new(
            errors::PAGE_SIZE_NOT_SUPPORTED,
            "Page size is not supported: pages have a fixed size of 10,000 rows.",
        )
        .at("page_size", None));
    }
    let validate_only = req.get("validateOnly").and_then(Value::as_bool).unwrap_or(false);
    let page_token = req.get("pageToken").and_then(Value::as_str).unwrap_or_default();
    if validate_only && !page_token.is_empty() {
        return bad(AdsError::new(
            errors::VALIDATE_ONLY_REQUEST_HAS_PAGE_TOKEN,
            "A validate-only request cannot have a page token.",
        ));
    }
    let Some(query) = req
        .get("query")
        .and_then(Value::as_str)
        .filter(|q| !q.trim().is_empty())
    else {
        return bad(AdsError::new(errors::FIELD_REQUIRED, "The required field was not present.").at("query", None));
    };
    if let Err(r) = spend_operations(inner, 1, rid) {
        return r;
    }
    let today = today();
    let plan = match gaql::parse(query).and_then(|q| gaql::check(q, today)) {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
    if validate_only {
        return Json(json!({"fieldMask": plan.field_mask})).into_response();
    }
    let qhash = hash_str(query);
    let want_total = req
        .get("searchSettings")
        .and_then(|s| s.get("returnTotalResultsCount"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let offset = if page_token.is_empty() {
        0
    } else {
        match decode_page_token(page_token, qhash) {
            Some((_, false)) if want_total => {
                return bad(AdsError::new(
                    errors::TOTAL_RESULTS_COUNT_NOT_ORIGINALLY_REQUESTED,
                    "The total results count cannot be returned if it was not requested in the original request.",
                )
                .at("search_settings", None)
                .at("return_total_results_count", None))
            }
            Some((o, _)) => o,
            None => {
                return bad(AdsError::new(errors::INVALID_PAGE_TOKEN, "Page token is invalid.").at("page_token", None))
            }
        }
    };
    let window = (!stream).then_some((offset, PAGE_ROWS));
    let (rows, total) = {
        let st = inner.state.lock();
        let Some(cust) = st.customers.get(cid) else {
            return not_found(rid);
        };
        let lag_seq = lag.then_some(st.write_seq);
        gaql::run(&plan, cust, lag_seq, inner.cfg.metric_seed, today, window)
    };
    if stream {
        let mut chunks: Vec<Value> = Vec::new();
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<Value> = rows.by_ref().take(PAGE_ROWS).collect();
            chunks.push(json!({"results": chunk, "fieldMask": plan.field_mask, "requestId": rid}));
        }
        if chunks.is_empty() {
            chunks.push(json!({"fieldMask": plan.field_mask, "requestId": rid}));
        }
        return Json(Value::Array(chunks)).into_response();
    }
    if offset > total {
        return bad(AdsError::new(errors::INVALID_PAGE_TOKEN, "Page token is invalid.").at("page_token", None));
    }
    let end = offset + rows.len();
    let mut out = serde_json::Map::new();
    if !rows.is_empty() {
        out.insert("results".into(), Value::Array(rows));
    }
    if end < total {
        let first_wanted_total =
            want_total || (!page_token.is_empty() && decode_page_token(page_token, qhash).is_some_and(|(_, t)| t));
        out.insert(
            "nextPageToken".into(),
            json!(encode_page_token(end, qhash, first_wanted_total)),
        );
    }
    if want_total {
        out.insert("totalResultsCount".into(), json!(total.to_string()));
    }
    out.insert("fieldMask".into(), json!(plan.field_mask));
    out.insert(
        "queryResourceConsumption".into(),
        json!(((total as u64) / 100 + 1).to_string()),
    );
    Json(Value::Object(out)).into_response()
}

/// A page token: the offset of the next row, the query it belongs to, and whether the first request asked for the
/// total results count (a later page may ask for it only then).
fn encode_page_token(offset: usize, qhash: u64, total: bool) -> String {
    let t = u8::from(total);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{offset}:{qhash:x}:{t}"))
}

fn decode_page_token(t: &str, qhash: u64) -> Option<(usize, bool)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let mut parts = s.split(':');
    let (o, h, total) = (parts.next()?, parts.next()?, parts.next()?);
    (h == format!("{qhash:x}") && parts.next().is_none()).then_some(())?;
    Some((o.parse().ok()?, total == "1"))
}

/// Per-service `:mutate` (`res` set) or `googleAds:mutate`.
fn mutate_handler(inner: &Inner, cid: &str, res: Option<Res>, ads: bool, body: &[u8], rid: &str) -> (Response, u64) {
    let message = match res {
        Some(r) => format!("services.{}", r.def().request),
        None if ads => "services.MutateAdsRequest".to_string(),
        None => "services.MutateGoogleAdsRequest".to_string(),
    };
    let per_service = res.is_some() || ads;
    let req = match parse_body(&message, body, rid) {
        Ok(v) => v,
        Err(r) => return (r, 0),
    };
    let list_key = if per_service { "operations" } else { "mutateOperations" };
    let list_proto = if per_service { "operations" } else { "mutate_operations" };
    let mut req = req;
    let ops: Vec<Value> = match req.get_mut(list_key).map(Value::take) {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    let n = ops.len() as u64;
    let bad = |e: AdsError| (errors::failure(Status::InvalidArgument, &[e], rid), n);
    if ops.is_empty() {
        return bad(
            AdsError::new(errors::OPERATION_REQUIRED, "At least one operation is required.").at(list_proto, None),
        );
    }
    if ops.len() > MAX_OPERATIONS {
        return bad(AdsError::new(
            errors::TOO_MANY_MUTATE_OPERATIONS,
            format!(
                "Too many mutate operations in the request: {} (at most {MAX_OPERATIONS}).",
                ops.len()
            ),
        ));
    }
    if let Err(r) = spend_operations(inner, n, rid) {
        return (r, n);
    }
    let partial = req.get("partialFailure").and_then(Value::as_bool).unwrap_or(false);
    let validate_only = req.get("validateOnly").and_then(Value::as_bool).unwrap_or(false);
    let mutable = req.get("responseContentType").and_then(Value::as_str) == Some("MUTABLE_RESOURCE");

    let mut st = inner.state.lock();
    st.write_seq += 1;
    let seq = st.write_seq;
    let st = &mut *st;
    let Some(cust) = st.customers.get_mut(cid) else {
        return (not_found(rid), n);
    };
    let mut ctx = mutate::MutateCtx::new(cust, seq, &mut st.next_id, today(), res.is_none());
    ctx.want_resources = mutable;
    let mut results: Vec<Value> = Vec::with_capacity(ops.len());
    let mut errs: Vec<AdsError> = Vec::new();
    for (i, mut op) in ops.into_iter().enumerate() {
        let (target, inner_op, loc) = match res {
            Some(r) => (Some(r), op, vec![(list_proto.to_string(), Some(i))]),
            None if ads => (None, op, vec![(list_proto.to_string(), Some(i))]),
            None => {
                let Some((key, inner_op)) = op
                    .as_object_mut()
                    .and_then(|m| m.iter_mut().next())
                    .map(|(k, v)| (k.clone(), v.take()))
                else {
                    errs.push(
                        AdsError::new(
                            errors::OPERATION_REQUIRED,
                            "Mutate operations must have an operation set.",
                        )
                        .at(list_proto, Some(i)),
                    );
                    results.push(json!({}));
                    continue;
                };
                if key == "adOperation" {
                    let loc = vec![(list_proto.to_string(), Some(i)), ("ad_operation".to_string(), None)];
                    (None, inner_op, loc)
                } else {
                    let Some(r) = Res::by_mutate_op(&key) else {
                        errs.push(
                            AdsError::new(errors::OPERATION_REQUIRED, "Unsupported operation.").at(list_proto, Some(i)),
                        );
                        results.push(json!({}));
                        continue;
                    };
                    (
                        Some(r),
                        inner_op,
                        vec![
                            (list_proto.to_string(), Some(i)),
                            (r.def().mutate_op_proto.to_string(), None),
                        ],
                    )
                }
            }
        };
        let sp = ctx.savepoint();
        let applied = match target {
            Some(r) => ctx.apply(r, inner_op, &loc),
            None => ctx.update_ad(inner_op, &loc),
        };
        match applied {
            Ok((rn, v)) => {
                let (member, result) = match target {
                    Some(r) => (r.def().json, r.def().result),
                    None => ("ad", "adResult"),
                };
                let mut one = json!({"resourceName": rn});
                if mutable {
                    one[member] = v;
                }
                results.push(if per_service { one } else { json!({ result: one }) });
            }
            Err(mut e) => {
                if partial {
                    ctx.rollback_to(&sp);
                }
                errs.append(&mut e);
                results.push(json!({}));
            }
        }
    }
    if errs.is_empty() || partial {
        // Rules on what the whole request made (a listing group tree, an asset group's assets): the request fails
        // as a whole, partial failure or not.
        if let Err(mut e) = ctx.finish_pmax() {
            ctx.rollback();
            errs.append(&mut e);
            return (errors::failure(Status::InvalidArgument, &errs, rid), n);
        }
    }
    let failed = !errs.is_empty();
    if validate_only || (failed && !partial) {
        ctx.rollback();
        if failed {
            return (errors::failure(Status::InvalidArgument, &errs, rid), n);
        }
        return (Json(json!({})).into_response(), n);
    }
    ctx.commit();
    let key = if per_service {
        "results"
    } else {
        "mutateOperationResponses"
    };
    let mut out = json!({ key: results });
    if failed {
        out["partialFailureError"] = errors::partial_failure_status(&errs, rid);
    }
    (Json(out).into_response(), n)
}
