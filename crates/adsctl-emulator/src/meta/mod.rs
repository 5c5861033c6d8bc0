//! The Meta Marketing API (Graph API v25.0) emulator.
//!
//! Written from `../shared/reference/meta-marketing` (WIRE-NOTES.md and the codegen node specs, distilled into
//! the committed `params.json` by `scripts/gen-meta-params.py`); it shares no code with adsctl's Meta connector.
//!
//! Graph routes (under the version root `/v25.0/`):
//! - ad accounts `act_{id}`: GET; GET/POST `campaigns`, `adsets`, `ads`, `adcreatives`, `adlabels`,
//!   `customaudiences`, `customconversions`; GET `ad_studies`; GET (sync) and POST (async report run) `insights`;
//! - businesses `/{business_id}/ad_studies`: GET/POST (split tests; `study.rs`); a study `/{id}` GET/POST/DELETE
//!   and its `cells` (edges `adsets`/`campaigns`/`adaccounts` expandable in `fields=`) and `objectives`;
//! - product catalogs `/{catalog_id}` (seeded, read only) and their `product_sets` (GET/POST); product sets
//!   `/{id}` GET/POST/DELETE (catalog ads, [`catalog`]);
//! - objects `/{id}`: GET (`fields=`, nested `campaign{name}`), POST (update), DELETE; their edges `adlabels`,
//!   `users` (custom audiences, POST/DELETE), `insights`, `adsets`/`ads`/`adcreatives` (children),
//!   `campaigns`/`adsets`/`ads`/`adcreatives` of an ad label, and `/{report_run_id}/insights`;
//! - the Batch API: `POST /v25.0/` with `batch=[…]` (at most 50 calls; not two ad sets of one campaign, see
//!   [`batch`]);
//! - OAuth: `GET /v25.0/dialog/oauth` (auto-approves; loopback `redirect_uri` only), `GET /v25.0/oauth/access_token`
//!   (code exchange, `grant_type=fb_exchange_token`), `GET /debug_token` (also under `/v25.0/`).
//!
//! The rules enforced, with their errors and tests, are listed in `docs/wire-rules.md`. Every call is validated
//! against the spec table: an unknown parameter, a value of the wrong type (a float
//! budget), a bad enum value or a missing required parameter is answered with the Graph error object (code 100).
//! The only parameters outside the node specs are the Graph-wide `access_token`, `appsecret_proof`, `method`,
//! and, on reads, `fields`, `limit`, `after`, `before`.
//!
//! Admin routes (JSON bodies; not counted, never faulted):
//! - `GET /_emulator/meta/objects/{id}`: the stored object; `POST` the same path with `{"field": value, …}` changes
//!   it behind the client's back (drift; `null` removes a field);
//! - `POST /_emulator/meta/review/{ad_id}` `{"outcome": "APPROVED"|"DISAPPROVED"|"PENDING", "feedback": "…"}`;
//! - `POST /_emulator/meta/clock` `{"advance_secs": N}` moves the emulated clock (token expiry, review, report
//!   runs, rate-limit windows, "today" of the insights);
//! - `POST /_emulator/meta/accounts` `{"id": "act_1", "currency": "JPY", "timezone_name": "Asia/Tokyo"}`;
//! - `POST /_emulator/meta/catalogs` `{"id": "1234", "name": "Shop"}` adds a product catalog (catalog ads);
//! - `POST /_emulator/meta/tokens` `{"ttl_secs": 60}` issues an access token (absent ttl: never expires);
//! - `POST /_emulator/meta/config` `{"review_delay_ms", "disapprove_trigger", "report_run_duration_ms",
//!   "read_lag_ms", "require_appsecret_proof", "app_calls_per_window", "user_calls_per_window",
//!   "account_calls_per_window", "adset_budget_changes_per_hour", "max_page_limit", "short_token_ttl_secs"}`.
//!
//! Review: a new ad (or one whose creative changes) is PENDING_REVIEW for `review_delay`, then ACTIVE, or
//! DISAPPROVED (with `ad_review_feedback`) when its creative or name contains `disapprove_trigger`
//! (default `DISAPPROVE_ME`, case-insensitive).

pub mod audience;
pub mod batch;
pub mod catalog;
pub mod conversion;
pub mod error;
pub mod graph;
pub mod insights;
pub mod oauth;
pub mod params;
pub mod state;
pub mod study;
pub mod util;

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Path, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::EmulatorConfig;
use crate::counters::{EndpointLabel, OperationCount};
use crate::faults::ReadLag;
use crate::platform::{FaultKind, PlatformEmulator};
use graph::{GraphRequest, GraphResponse};
pub use state::MetaConfig;
use state::{Account, Outcome, Review, State};

/// The Graph API version the emulator serves.
pub const VERSION: &str = "v25.0";

/// Largest request body accepted (a 10,000-user upload, form-encoded, fits comfortably).
const MAX_BODY: usize = 16 * 1024 * 1024;

pub struct Inner {
    cfg: RwLock<MetaConfig>,
    state: Mutex<State>,
}

impl Inner {
    pub fn config(&self) -> MetaConfig {
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

    /// The emulated clock (wall clock plus the admin offset), in milliseconds.
    pub fn now_ms(&self, st: &State) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        wall + st.clock_offset_ms
    }
}

/// The Meta platform emulator. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct MetaEmulator {
    inner: Arc<Inner>,
}

impl Default for MetaEmulator {
    fn default() -> Self {
        Self::with_config(MetaConfig::default())
    }
}

impl MetaEmulator {
    /// The Meta emulator of the core configuration: its settings, plus the seed file's ad accounts.
    pub fn new(config: &EmulatorConfig) -> Self {
        Self::with_config(MetaConfig::from_core(config))
    }

    /// An emulator with these settings; the seed accounts of the config exist from the start.
    pub fn with_config(cfg: MetaConfig) -> Self {
        let state = fresh_state(&cfg);
        Self {
            inner: Arc::new(Inner {
                cfg: RwLock::new(cfg),
                state: Mutex::new(state),
            }),
        }
    }

    /// Create (or rename) a product catalog, e.g. from a seed file (catalog ads: `super::catalog`).
    pub fn add_catalog(&self, id: &str, name: &str) {
        let mut st = self.inner.lock();
        let now = self.inner.now_ms(&st);
        st.add_catalog(id, name, now);
    }

    /// Create (or update) an ad account, e.g. from a seed file. `id` may carry the `act_` prefix.
    pub fn add_account(&self, id: &str, currency: &str, timezone_name: &str, name: Option<&str>) {
        let id = id.strip_prefix("act_").unwrap_or(id).to_string();
        let mut st = self.inner.lock();
        st.accounts.insert(
            id.clone(),
            Account {
                name: name
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("Emulated ad account {id}")),
                id,
                currency: currency.to_string(),
                timezone_name: timezone_name.to_string(),
            },
        );
    }

    /// Change the configuration in place.
    pub fn configure(&self, f: impl FnOnce(&mut MetaConfig)) {
        match self.inner.cfg.write() {
            Ok(mut c) => f(&mut c),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    pub fn config(&self) -> MetaConfig {
        self.inner.config()
    }

    /// Issue an access token valid for `ttl` (None: never expires), as the OAuth flow would.
    pub fn issue_token(&self, ttl: Option<Duration>) -> String {
        let cfg = self.inner.config();
        let mut guard = self.inner.lock();
        let st: &mut State = &mut guard;
        let now = self.inner.now_ms(st);
        let app_id = cfg.app_id.clone();
        oauth::issue_token(
            st,
            &cfg,
            &app_id,
            now,
            ttl.map(|t| t.as_millis() as i64),
            vec!["ads_management".into(), "ads_read".into()],
        )
    }

    /// Move the emulated clock forward (token expiry, review delay, report runs, rate-limit windows).
    pub fn advance_clock(&self, by: Duration) {
        self.inner.lock().clock_offset_ms += by.as_millis() as i64;
    }
}

/// An empty state holding the seed accounts.
fn fresh_state(cfg: &MetaConfig) -> State {
    let mut st = State::default();
    for a in &cfg.seed_accounts {
        st.accounts.insert(a.id.clone(), a.clone());
    }
    for (id, name) in &cfg.seed_catalogs {
        st.add_catalog(id, name, 0);
    }
    st
}

fn to_response(r: GraphResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, r.body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    for (k, v) in r.headers {
        if let (Ok(k), Ok(v)) = (header::HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(&v)) {
            h.insert(k, v);
        }
    }
    resp
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("OAuth "))
        .map(|t| t.trim().to_string())
}

/// Query parameters plus body parameters (form-encoded, or a flat JSON object whose non-string values are
/// passed on as JSON strings).
async fn collect_params(req: Request) -> Result<Collected, Response> {
    let (parts, body) = req.into_parts();
    let read_lag = parts.extensions.get::<ReadLag>().is_some();
    let mut params = util::parse_form(parts.uri.query().unwrap_or(""));
    let mut malformed = false;
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response())?;
    if !bytes.is_empty() {
        let ct = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let text = String::from_utf8_lossy(&bytes);
        if ct.starts_with("application/json") {
            // A JSON body must be one object of parameters: `null`, an array or text that does not parse is
            // refused (code 100) rather than read as "no parameters".
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(m)) => {
                    for (k, v) in m {
                        let s = match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        params.push((k, s));
                    }
                }
                _ => malformed = true,
            }
        } else {
            params.extend(util::parse_form(&text));
        }
    }
    Ok(Collected {
        method: parts.method,
        path: parts.uri.path().to_string(),
        headers: parts.headers,
        params,
        read_lag,
        malformed,
    })
}

/// One HTTP request's method, path, headers and parameters (query and body).
struct Collected {
    method: axum::http::Method,
    path: String,
    headers: HeaderMap,
    params: Vec<(String, String)>,
    read_lag: bool,
    /// A JSON body that is not one object of parameters.
    malformed: bool,
}

async fn entry(inner: Arc<Inner>, req: Request) -> Response {
    let Collected {
        method,
        path,
        headers,
        mut params,
        read_lag,
        malformed,
    } = match collect_params(req).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let rel = path.trim_start_matches('/');
    let rel = rel.strip_prefix(VERSION).unwrap_or(rel).trim_matches('/').to_string();
    match rel.as_str() {
        "dialog/oauth" => {
            return match oauth::dialog(&inner, &params) {
                Ok(loc) => Response::builder()
                    .status(StatusCode::FOUND)
                    .header(header::LOCATION, loc)
                    .body(Body::empty())
                    .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
                Err(msg) => (
                    StatusCode::BAD_REQUEST,
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    maud::html! {
                        (maud::DOCTYPE)
                        html { body { h1 { "Error" } p { (msg) } } }
                    }
                    .into_string(),
                )
                    .into_response(),
            };
        }
        "oauth/access_token" => return to_response(oauth::access_token(&inner, &params)),
        "debug_token" => return to_response(oauth::debug_token(&inner, &params)),
        _ => {}
    }
    // `method=` overrides the HTTP method, as on the Graph API.
    let mut method = method.as_str().to_ascii_uppercase();
    if let Some(pos) = params.iter().position(|(k, _)| k == "method") {
        let m = params.remove(pos).1.to_ascii_uppercase();
        if matches!(m.as_str(), "GET" | "POST" | "DELETE") {
            method = m;
        }
    }
    let req = GraphRequest {
        method,
        path: rel.clone(),
        params,
        base_url: format!("http://{host}/{VERSION}"),
        bearer: bearer(&headers),
        read_lag,
    };
    // Handlers are synchronous and short; the state lock is never held across an await.
    let is_batch = req.path.is_empty() && req.method == "POST" && req.param("batch").is_some();
    let label = endpoint_label(&req.method, &req.path, is_batch);
    let resp = if malformed {
        let trace = {
            let mut st = inner.lock();
            st.trace_seq += 1;
            graph::trace_id(inner.config().seed, st.trace_seq)
        };
        // Reading chosen (unverified): the Graph API's code 100 for a body it cannot read.
        let e = error::GraphError::invalid_param(
            "(#100) The request body could not be read: a JSON body must be one object of parameters.",
        );
        graph::error_response(&e, &trace, Vec::new())
    } else if is_batch {
        batch::run(&inner, &req)
    } else {
        inner.handle(&req)
    };
    // Operations carried: batch entries, uploaded users, one per other write.
    let ops = if is_batch {
        resp.body.as_array().map_or(0, |a| a.len() as u64)
    } else if req.path.ends_with("/users") || req.path.ends_with("/usersreplace") {
        resp.body.get("num_received").and_then(Value::as_u64).unwrap_or(0)
    } else if req.method != "GET" && resp.status == 200 {
        1
    } else {
        0
    };
    let mut out = to_response(resp);
    out.extensions_mut().insert(EndpointLabel(label));
    out.extensions_mut().insert(OperationCount(ops));
    out
}

/// `POST /v25.0/act_{ad_account_id}/campaigns`, `GET /v25.0/{id}/insights`, `POST /v25.0/ (batch)`.
fn endpoint_label(method: &str, path: &str, is_batch: bool) -> String {
    if is_batch {
        return format!("POST /{VERSION}/ (batch)");
    }
    let shape: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .enumerate()
        .map(|(i, seg)| match (i, seg) {
            (0, s) if s.starts_with("act_") => "act_{ad_account_id}",
            (0, _) => "{id}",
            (_, s) => s,
        })
        .collect();
    format!("{method} /{VERSION}/{}", shape.join("/"))
}

// ---------------------------------------------------------------------------------------------------------------
// Admin routes under /_emulator/meta/

#[derive(Deserialize)]
struct AccountBody {
    id: String,
    #[serde(default = "usd")]
    currency: String,
    #[serde(default = "la")]
    timezone_name: String,
    name: Option<String>,
}
fn usd() -> String {
    "USD".into()
}
fn la() -> String {
    "America/Los_Angeles".into()
}

#[derive(Deserialize)]
struct CatalogBody {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct ReviewBody {
    /// APPROVED, DISAPPROVED or PENDING (restart the review).
    outcome: String,
    feedback: Option<String>,
}

#[derive(Deserialize)]
struct ClockBody {
    advance_secs: i64,
}

#[derive(Deserialize)]
struct TokenBody {
    /// Lifetime in seconds; absent: never expires.
    ttl_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
struct ConfigBody {
    review_delay_ms: Option<u64>,
    disapprove_trigger: Option<String>,
    report_run_duration_ms: Option<u64>,
    read_lag_ms: Option<u64>,
    require_appsecret_proof: Option<bool>,
    app_calls_per_window: Option<u64>,
    user_calls_per_window: Option<u64>,
    account_calls_per_window: Option<u64>,
    adset_budget_changes_per_hour: Option<u64>,
    max_page_limit: Option<usize>,
    short_token_ttl_secs: Option<u64>,
}

fn admin_error(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({ "error": msg }))).into_response()
}

fn admin_router(emu: MetaEmulator) -> Router {
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
            "/_emulator/meta/catalogs",
            post(move |Json(b): Json<CatalogBody>| {
                let emu = e8.clone();
                async move {
                    emu.add_catalog(&b.id, b.name.as_deref().unwrap_or("Catalog"));
                    Json(json!({ "success": true })).into_response()
                }
            }),
        )
        .route(
            "/_emulator/meta/objects/{id}",
            get(move |Path(id): Path<String>| {
                let emu = e1.clone();
                async move {
                    let st = emu.inner.lock();
                    match st.objects.get(&id) {
                        Some(o) => Json(serde_json::to_value(o).unwrap_or(Value::Null)).into_response(),
                        None => admin_error(StatusCode::NOT_FOUND, "no such object"),
                    }
                }
            })
            .post(
                move |Path(id): Path<String>, Json(patch): Json<serde_json::Map<String, Value>>| {
                    let emu = e2.clone();
                    async move {
                        // A change made "in the platform's web UI", behind adsctl's back.
                        let mut guard = emu.inner.lock();
                        let st: &mut State = &mut guard;
                        let now = emu.inner.now_ms(st);
                        match st.objects.get_mut(&id) {
                            Some(o) => {
                                let mut prev = o.clone();
                                prev.prev = None;
                                for (k, v) in patch {
                                    if v.is_null() {
                                        o.fields.remove(&k);
                                    } else {
                                        o.fields.insert(k, v);
                                    }
                                }
                                o.prev = Some(Box::new(prev));
                                o.updated_ms = now;
                                Json(json!({ "success": true })).into_response()
                            }
                            None => admin_error(StatusCode::NOT_FOUND, "no such object"),
                        }
                    }
                },
            ),
        )
        .route(
            "/_emulator/meta/review/{id}",
            post(move |Path(id): Path<String>, Json(b): Json<ReviewBody>| {
                let emu = e3.clone();
                async move {
                    let mut guard = emu.inner.lock();
                    let st: &mut State = &mut guard;
                    let now = emu.inner.now_ms(st);
                    let forced = match b.outcome.as_str() {
                        "APPROVED" => Some(Outcome::Approved),
                        "DISAPPROVED" => Some(Outcome::Disapproved),
                        "PENDING" => None,
                        _ => {
                            return admin_error(
                                StatusCode::BAD_REQUEST,
                                "outcome must be APPROVED, DISAPPROVED or PENDING",
                            )
                        }
                    };
                    match st.objects.get_mut(&id).filter(|o| o.kind == state::Kind::Ad) {
                        Some(o) => {
                            let started_ms = if forced.is_none() {
                                now
                            } else {
                                o.review.as_ref().map(|r| r.started_ms).unwrap_or(now)
                            };
                            o.review = Some(Review {
                                started_ms,
                                forced,
                                feedback: b.feedback,
                            });
                            Json(json!({ "success": true })).into_response()
                        }
                        None => admin_error(StatusCode::NOT_FOUND, "no such ad"),
                    }
                }
            }),
        )
        .route(
            "/_emulator/meta/clock",
            post(move |Json(b): Json<ClockBody>| {
                let emu = e4.clone();
                async move {
                    let mut st = emu.inner.lock();
                    st.clock_offset_ms += b.advance_secs.saturating_mul(1000);
                    Json(json!({ "clock_offset_ms": st.clock_offset_ms })).into_response()
                }
            }),
        )
        .route(
            "/_emulator/meta/accounts",
            post(move |Json(b): Json<AccountBody>| {
                let emu = e5.clone();
                async move {
                    emu.add_account(&b.id, &b.currency, &b.timezone_name, b.name.as_deref());
                    Json(json!({ "success": true })).into_response()
                }
            }),
        )
        .route(
            "/_emulator/meta/tokens",
            post(move |Json(b): Json<TokenBody>| {
                let emu = e6.clone();
                async move {
                    let token = emu.issue_token(b.ttl_secs.map(Duration::from_secs));
                    Json(json!({ "access_token": token, "token_type": "bearer", "expires_in": b.ttl_secs }))
                        .into_response()
                }
            }),
        )
        .route(
            "/_emulator/meta/config",
            post(move |Json(b): Json<ConfigBody>| {
                let emu = e7.clone();
                async move {
                    emu.configure(|c| {
                        if let Some(v) = b.review_delay_ms {
                            c.review_delay = Duration::from_millis(v);
                        }
                        if let Some(v) = b.disapprove_trigger {
                            c.disapprove_trigger = v;
                        }
                        if let Some(v) = b.report_run_duration_ms {
                            c.report_run_duration = Duration::from_millis(v);
                        }
                        if let Some(v) = b.read_lag_ms {
                            c.read_lag = Duration::from_millis(v);
                        }
                        if let Some(v) = b.require_appsecret_proof {
                            c.require_appsecret_proof = v;
                        }
                        if let Some(v) = b.app_calls_per_window {
                            c.app_calls_per_window = Some(v);
                        }
                        if let Some(v) = b.user_calls_per_window {
                            c.user_calls_per_window = Some(v);
                        }
                        if let Some(v) = b.account_calls_per_window {
                            c.account_calls_per_window = Some(v);
                        }
                        if let Some(v) = b.adset_budget_changes_per_hour {
                            c.adset_budget_changes_per_hour = v;
                        }
                        if let Some(v) = b.max_page_limit {
                            c.max_page_limit = v;
                        }
                        if let Some(v) = b.short_token_ttl_secs {
                            c.short_token_ttl = Duration::from_secs(v);
                        }
                    });
                    Json(json!({ "success": true })).into_response()
                }
            }),
        )
}

impl PlatformEmulator for MetaEmulator {
    fn name(&self) -> &'static str {
        "meta"
    }

    fn router(&self) -> Router {
        let inner = self.inner.clone();
        let graph = any(move |req: Request| entry(inner.clone(), req));
        Router::new()
            .route(&format!("/{VERSION}"), graph.clone())
            .route(&format!("/{VERSION}/"), graph.clone())
            .route(&format!("/{VERSION}/{{*path}}"), graph.clone())
            .route("/oauth/access_token", graph.clone())
            .route("/debug_token", graph.clone())
            .route("/dialog/oauth", graph)
            .merge(admin_router(self.clone()))
    }

    fn fault_response(&self, fault: FaultKind) -> Response {
        let cfg = self.inner.config();
        let (trace, account) = {
            let mut st = self.inner.lock();
            st.trace_seq += 1;
            (graph::trace_id(cfg.seed, st.trace_seq), st.last_account.clone())
        };
        let r = match fault {
            FaultKind::RateLimit => {
                let account = account.unwrap_or_else(|| "0".into());
                let mut headers = vec![(
                    "X-App-Usage".to_string(),
                    json!({"call_count": 100, "total_cputime": 50, "total_time": 50}).to_string(),
                )];
                headers.extend(graph::account_usage_headers(&account, 100, 60));
                graph::error_response(&error::GraphError::account_limit(), &trace, headers)
            }
            _ => graph::error_response(&error::GraphError::server_error(), &trace, Vec::new()),
        };
        to_response(r)
    }

    fn dump(&self) -> Value {
        serde_json::to_value(&*self.inner.lock()).unwrap_or(Value::Null)
    }

    fn restore(&self, dump: Value) -> Result<(), String> {
        let st: State = serde_json::from_value(dump).map_err(|e| format!("invalid Meta emulator state: {e}"))?;
        *self.inner.lock() = st;
        Ok(())
    }

    fn reset(&self) {
        let cfg = self.inner.config();
        *self.inner.lock() = fresh_state(&cfg);
    }
}
