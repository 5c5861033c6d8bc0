//! The TikTok API for Business (Marketing API) v1.3 emulator.
//!
//! Written from `../shared/reference/tiktok-business` (WIRE-NOTES.md, and the SDK's request models distilled into
//! the committed `fields.json` by `scripts/gen-tiktok-fields.py`); it shares no code with adsctl's connectors.
//!
//! API routes (every path under `/open_api/v1.3/` ends with `/`; without it the answer is HTTP 404 "404 page not
//! found", not JSON):
//! - OAuth: `POST oauth2/access_token/` (app_id, secret, auth_code → access_token, advertiser_ids, scope),
//!   `POST oauth2/revoke_token/` (app_id, secret, access_token), `GET oauth2/advertiser/get/?app_id&secret`;
//!   the authorization page `GET /portal/auth?app_id&state&redirect_uri` approves at once and redirects to the
//!   (loopback) redirect_uri with `auth_code`, `code` and `state`;
//! - `GET advertiser/info/?advertiser_ids=["…"]`;
//! - `campaign/`, `adgroup/`, `ad/`: `create/`, `update/`, `status/update/` (POST), `get/` (GET);
//! - `dmp/custom_audience/`: `file/upload/` (multipart), `create/`, `update/`, `delete/`, `lookalike/create/`
//!   (POST), `list/`, `get/` (GET);
//! - `report/integrated/get/` (GET), `report/task/create/` (POST), `report/task/check/` (GET).
//!
//! Every answer is the envelope `{"code","message","request_id","data"}` with HTTP 200 (errors: `data: {}`). The
//! rules enforced, with their codes and tests, are the TikTok section of `docs/wire-rules.md`.
//!
//! Admin routes (JSON bodies; not counted, never faulted):
//! - `POST /_emulator/tiktok/advertisers` `{"advertiser_id", "currency", "timezone", "name"}`;
//! - `POST /_emulator/tiktok/auth_codes` `{"app_id"?, "advertiser_ids"?}` → `{"auth_code"}` (the advertisers the
//!   authorization covers; default: every advertiser, or the default one when there is none);
//! - `POST /_emulator/tiktok/tokens` `{"app_id"?, "advertiser_ids"?}` → `{"access_token", "advertiser_ids"}`;
//! - `GET /_emulator/tiktok/objects/{id}` (campaign, ad group, ad or audience), `POST` the same path with
//!   `{"field": value}` changes it behind the client's back (`null` removes a field);
//! - `POST /_emulator/tiktok/review/{ad_id}` `{"outcome": "APPROVED"|"REJECTED"|"PENDING"}`;
//! - `POST /_emulator/tiktok/audiences/{id}/ready` finishes an audience's processing now;
//! - `POST /_emulator/tiktok/tasks/{task_id}/done` finishes a report task now;
//! - `POST /_emulator/tiktok/clock` `{"advance_secs": N}` moves the emulated clock (review, audience processing,
//!   report tasks, auth-code expiry, "today" of reports);
//! - `POST /_emulator/tiktok/config` `{"review_delay_ms", "audience_processing_delay_ms", "report_task_duration_ms",
//!   "read_lag_ms", "disapprove_trigger", "endpoint_qps", "advertiser_qps", "auto_create_accounts"}`
//!   (a QPS of 0 switches that limit off).

pub mod audience;
pub mod error;
pub mod fields;
pub mod json;
pub mod oauth;
pub mod objects;
pub mod report;
pub mod state;

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::config::EmulatorConfig;
use crate::counters::{EndpointLabel, OperationCount};
use crate::faults::ReadLag;
use crate::platform::{defaults, FaultKind, PlatformEmulator};
use crate::rng::{hash_str, mix64};
use error::ApiError;
use json::Json;
pub use state::TikTokConfig;
use state::{Advertiser, State};

/// The API version the emulator serves, and where its paths start.
pub const VERSION: &str = "v1.3";
pub const PREFIX: &str = "/open_api/v1.3/";

/// Largest request body accepted (audience files travel in one multipart body).
const MAX_BODY: usize = 64 * 1024 * 1024;

pub struct Inner {
    cfg: RwLock<TikTokConfig>,
    state: Mutex<State>,
}

impl Inner {
    pub fn config(&self) -> TikTokConfig {
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

/// The emulated clock (wall clock plus the admin offset), in milliseconds.
pub fn now_ms(st: &State) -> i64 {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    wall + st.clock_offset_ms
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a time in milliseconds.
pub fn format_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The TikTok platform emulator. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct TikTokEmulator {
    inner: Arc<Inner>,
}

impl Default for TikTokEmulator {
    fn default() -> Self {
        Self::with_config(TikTokConfig::default())
    }
}

impl TikTokEmulator {
    /// The TikTok emulator of the core configuration: its settings, plus the seed file's advertisers.
    pub fn new(config: &EmulatorConfig) -> Self {
        Self::with_config(TikTokConfig::from_core(config))
    }

    pub fn with_config(cfg: TikTokConfig) -> Self {
        let state = fresh_state(&cfg);
        TikTokEmulator {
            inner: Arc::new(Inner {
                cfg: RwLock::new(cfg),
                state: Mutex::new(state),
            }),
        }
    }

    pub fn config(&self) -> TikTokConfig {
        self.inner.config()
    }

    /// Change the configuration in place.
    pub fn configure(&self, f: impl FnOnce(&mut TikTokConfig)) {
        match self.inner.cfg.write() {
            Ok(mut c) => f(&mut c),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// Create (or update) an advertiser.
    pub fn add_advertiser(&self, advertiser_id: &str, currency: &str, timezone: &str, name: Option<&str>) {
        let mut st = self.inner.lock();
        let now = now_ms(&st);
        st.advertisers.insert(
            advertiser_id.to_string(),
            Advertiser {
                advertiser_id: advertiser_id.to_string(),
                name: name
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("Emulated advertiser {advertiser_id}")),
                currency: currency.to_string(),
                timezone: timezone.to_string(),
                created_ms: now,
            },
        );
    }

    /// Mint an auth_code for an app (default: the well-known one) covering these advertisers (default: every
    /// advertiser, or the default advertiser when none exists).
    pub fn mint_auth_code(&self, app_id: Option<&str>, advertiser_ids: Option<Vec<String>>) -> Result<String, String> {
        let cfg = self.inner.config();
        let mut st = self.inner.lock();
        oauth::mint_code(&mut st, &cfg, app_id, advertiser_ids)
    }

    /// Issue an advertiser token directly (as the code exchange would).
    pub fn issue_token(
        &self,
        app_id: Option<&str>,
        advertiser_ids: Option<Vec<String>>,
    ) -> Result<(String, Vec<String>), String> {
        let cfg = self.inner.config();
        let mut st = self.inner.lock();
        let app = app_id.unwrap_or(&cfg.app_id).to_string();
        if cfg.secret_of(&app).is_none() {
            return Err(format!("unknown app {app}"));
        }
        let ids = oauth::grant_advertisers(&mut st, &cfg, advertiser_ids)?;
        let token = oauth::issue(&mut st, &cfg, &app, ids.clone());
        Ok((token, ids))
    }

    /// Move the emulated clock forward.
    pub fn advance_clock(&self, by: Duration) {
        self.inner.lock().clock_offset_ms += by.as_millis() as i64;
    }
}

fn fresh_state(cfg: &TikTokConfig) -> State {
    let mut st = State::default();
    for a in &cfg.seed_advertisers {
        st.advertisers.insert(a.advertiser_id.clone(), a.clone());
    }
    st
}

// ---------------------------------------------------------------------------------------------------------------
// One API call

/// Who is calling: the app and the advertisers the token reaches (None: every advertiser, created on first use).
#[derive(Clone, Debug)]
pub struct Grant {
    pub app_id: String,
    pub advertisers: Option<Vec<String>>,
}

/// One API request, parsed.
pub struct Call {
    pub cfg: TikTokConfig,
    pub now: i64,
    pub grant: Option<Grant>,
    pub read_lag: bool,
    pub method: Method,
    pub query: Vec<(String, String)>,
    pub content_type: String,
    pub raw_body: Bytes,
}

/// What a handler answers: the code (0, or 20001 for a partial success), message, data and the operations it
/// carried.
pub struct Out {
    pub code: i64,
    pub message: String,
    pub data: Value,
    pub ops: u64,
}

impl Out {
    pub fn ok(data: Value, ops: u64) -> Self {
        Out {
            code: 0,
            message: "OK".into(),
            data,
            ops,
        }
    }
}

pub type Handled = Result<Out, ApiError>;

impl Call {
    /// The JSON body of a POST: one object.
    pub fn body(&self) -> Result<Json, ApiError> {
        if !self.content_type.starts_with("application/json") {
            return Err(ApiError::param(
                "Content-Type must be application/json: the parameters of a POST travel in a JSON body.",
            ));
        }
        let text = std::str::from_utf8(&self.raw_body).map_err(|_| ApiError::param("The body is not UTF-8."))?;
        let v = json::parse(text).map_err(|e| ApiError::param(format!("The body is not valid JSON: {e}.")))?;
        if !matches!(v, Json::Obj(_)) {
            return Err(ApiError::param("The body must be a JSON object."));
        }
        Ok(v)
    }

    /// A POST body checked against its model. A required field that came in the query string instead is named
    /// as such (writes read everything from the body).
    pub fn checked_body(&self, model: &str) -> Result<(Json, Map<String, Value>), ApiError> {
        self.checked_body_except(model, &[])
    }

    /// [`Call::checked_body`], with some required fields left to the handler.
    pub fn checked_body_except(&self, model: &str, except: &[&str]) -> Result<(Json, Map<String, Value>), ApiError> {
        let body = self.body()?;
        if let Json::Obj(entries) = &body {
            for (k, spec) in fields::model(model) {
                if spec.required && !entries.iter().any(|(e, _)| e == k) && self.query.iter().any(|(q, _)| q == k) {
                    return Err(ApiError::param(format!(
                        "{k}: Missing data for required field. (It was sent in the query string: POST endpoints \
                         read their parameters from the JSON body.)"
                    )));
                }
            }
        }
        let checked = fields::check_model_except(model, &body, "", except)?;
        Ok((body, checked))
    }

    /// A GET query checked against its endpoint. A required parameter sent in a body instead is named as such.
    pub fn checked_query(&self, endpoint: &str) -> Result<Map<String, Value>, ApiError> {
        let ep = fields::endpoint(endpoint);
        if let Some(specs) = &ep.query {
            for (k, spec) in specs {
                if spec.required && !self.query.iter().any(|(q, _)| q == k) && !self.raw_body.is_empty() {
                    let in_body = std::str::from_utf8(&self.raw_body)
                        .ok()
                        .and_then(|t| json::parse(t).ok())
                        .is_some_and(|b| b.get(k).is_some());
                    if in_body {
                        return Err(ApiError::param(format!(
                            "{k}: Missing data for required field. (It was sent in the request body: GET endpoints \
                             read their parameters from the query string.)"
                        )));
                    }
                }
            }
        }
        fields::check_query(endpoint, &self.query)
    }

    /// The advertiser a call names: reachable by the token (40001 otherwise), existing (created on first use by a
    /// long-lived token when `auto_create_accounts` is on; 40300 otherwise).
    pub fn advertiser(&self, st: &mut State, id: &str) -> Result<Advertiser, ApiError> {
        if id.is_empty() || id.len() > 19 || !id.bytes().all(|c| c.is_ascii_digit()) {
            return Err(ApiError::param(format!(
                "advertiser_id: {id:?} is not a valid advertiser id."
            )));
        }
        if let Some(Grant {
            advertisers: Some(list),
            ..
        }) = &self.grant
        {
            if !list.iter().any(|a| a == id) {
                return Err(ApiError::new(
                    error::NO_PERMISSION,
                    format!("No permission to operate advertiser {id}: the access token does not cover it."),
                ));
            }
        }
        if let Some(a) = st.advertisers.get(id) {
            return Ok(a.clone());
        }
        let static_token = self.grant.as_ref().is_some_and(|g| g.advertisers.is_none());
        if static_token && self.cfg.auto_create_accounts {
            let a = Advertiser {
                advertiser_id: id.to_string(),
                name: format!("Emulated advertiser {id}"),
                currency: self.cfg.default_currency.clone(),
                timezone: self.cfg.default_timezone.clone(),
                created_ms: self.now,
            };
            st.advertisers.insert(id.to_string(), a.clone());
            return Ok(a);
        }
        Err(ApiError::new(
            error::ADVERTISER_NOT_FOUND,
            format!("Advertiser {id} does not exist."),
        ))
    }
}

/// A string field of a checked map.
pub fn s<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

// ---------------------------------------------------------------------------------------------------------------
// Routing

type HandlerFn = fn(&Call, &mut State) -> Handled;

/// The endpoints: path under `/open_api/v1.3/`, method, handler, whether it needs an Access-Token.
fn route(rel: &str) -> Option<(Method, HandlerFn, bool)> {
    use Method as M;
    Some(match rel {
        "oauth2/access_token/" => (M::POST, oauth::access_token as HandlerFn, false),
        "oauth2/revoke_token/" => (M::POST, oauth::revoke_token, false),
        "oauth2/advertiser/get/" => (M::GET, oauth::advertiser_get, true),
        "advertiser/info/" => (M::GET, objects::advertiser_info, true),
        "campaign/create/" => (M::POST, objects::campaign_create, true),
        "campaign/update/" => (M::POST, objects::campaign_update, true),
        "campaign/status/update/" => (M::POST, objects::campaign_status, true),
        "campaign/get/" => (M::GET, objects::campaign_get, true),
        "adgroup/create/" => (M::POST, objects::adgroup_create, true),
        "adgroup/update/" => (M::POST, objects::adgroup_update, true),
        "adgroup/status/update/" => (M::POST, objects::adgroup_status, true),
        "adgroup/get/" => (M::GET, objects::adgroup_get, true),
        "ad/create/" => (M::POST, objects::ad_create, true),
        "ad/update/" => (M::POST, objects::ad_update, true),
        "ad/status/update/" => (M::POST, objects::ad_status, true),
        "ad/get/" => (M::GET, objects::ad_get, true),
        "dmp/custom_audience/file/upload/" => (M::POST, audience::file_upload, true),
        "dmp/custom_audience/create/" => (M::POST, audience::create, true),
        "dmp/custom_audience/update/" => (M::POST, audience::update, true),
        "dmp/custom_audience/delete/" => (M::POST, audience::delete, true),
        "dmp/custom_audience/list/" => (M::GET, audience::list, true),
        "dmp/custom_audience/get/" => (M::GET, audience::get, true),
        "dmp/custom_audience/lookalike/create/" => (M::POST, audience::lookalike_create, true),
        "report/integrated/get/" => (M::GET, report::integrated_get, true),
        "report/task/create/" => (M::POST, report::task_create, true),
        "report/task/check/" => (M::GET, report::task_check, true),
        _ => return None,
    })
}

fn page_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found",
    )
        .into_response()
}

fn request_id(st: &mut State, seed: u64, now: i64) -> String {
    st.trace_seq += 1;
    let stamp = chrono::DateTime::from_timestamp_millis(now)
        .map(|t| t.format("%Y%m%d%H%M%S").to_string())
        .unwrap_or_default();
    format!("{stamp}{:018X}", mix64(seed ^ mix64(st.trace_seq)) >> 8)
}

fn json_response(body: &Value, request_id: &str) -> Response {
    let text = json::render(body, fields::money_fields());
    let mut resp = (StatusCode::OK, text).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("X-Tt-Logid", v);
    }
    resp
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(q).unwrap_or_default()
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string())
}

/// Count this request in the rate windows; an error when a limit is reached.
fn rate_check(
    st: &mut State,
    cfg: &TikTokConfig,
    app: &str,
    rel: &str,
    advertiser: Option<&str>,
    now: i64,
) -> Result<(), ApiError> {
    fn hit(q: &mut std::collections::VecDeque<i64>, limit: u32, now: i64) -> bool {
        while q.front().is_some_and(|t| *t <= now - 1000) {
            q.pop_front();
        }
        if q.len() >= limit as usize {
            return false;
        }
        q.push_back(now);
        true
    }
    if let Some(limit) = cfg.endpoint_qps.filter(|l| *l > 0) {
        let q = st.rate.endpoint.entry(format!("{app}|{rel}")).or_default();
        if !hit(q, limit, now) {
            return Err(ApiError::app_rate_limit());
        }
    }
    if let (Some(limit), Some(adv)) = (cfg.advertiser_qps.filter(|l| *l > 0), advertiser) {
        let q = st.rate.advertiser.entry(adv.to_string()).or_default();
        if !hit(q, limit, now) {
            return Err(ApiError::advertiser_rate_limit());
        }
    }
    Ok(())
}

/// The advertiser_id a request names (body or query), before any checking: for the per-advertiser limit.
fn named_advertiser(query: &[(String, String)], body: &[u8], content_type: &str) -> Option<String> {
    if let Some((_, v)) = query.iter().find(|(k, _)| k == "advertiser_id") {
        return Some(v.clone());
    }
    if content_type.starts_with("application/json") {
        let b = json::parse(std::str::from_utf8(body).ok()?).ok()?;
        return match b.get("advertiser_id")? {
            Json::Str(s) | Json::Num(s) => Some(s.clone()),
            _ => None,
        };
    }
    None
}

async fn entry(inner: Arc<Inner>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let Some(rel) = path.strip_prefix(PREFIX).map(str::to_string) else {
        return page_not_found();
    };
    if !path.ends_with('/') {
        return page_not_found();
    }
    let Some((method, handler, needs_token)) = route(&rel) else {
        return page_not_found();
    };
    if parts.method != method {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "405 method not allowed",
        )
            .into_response();
    }
    let raw_body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
    };
    let cfg = inner.config();
    let query = parse_query(parts.uri.query().unwrap_or(""));
    let content_type = header_str(&parts.headers, header::CONTENT_TYPE.as_str()).unwrap_or_default();
    let read_lag = parts.extensions.get::<ReadLag>().is_some();
    let label = format!("{method} {PREFIX}{rel}");

    let mut guard = inner.lock();
    let st: &mut State = &mut guard;
    let now = now_ms(st);
    let rid = request_id(st, cfg.seed, now);
    let result = (|| {
        let grant = if needs_token {
            let token = header_str(&parts.headers, "Access-Token").filter(|t| !t.is_empty());
            let Some(token) = token else {
                return Err(ApiError::token_empty());
            };
            Some(oauth::grant_of(st, &cfg, &token)?)
        } else {
            None
        };
        let app = grant.as_ref().map(|g| g.app_id.clone()).unwrap_or_else(|| {
            query
                .iter()
                .find(|(k, _)| k == "app_id")
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        });
        let adv = named_advertiser(&query, &raw_body, &content_type);
        rate_check(st, &cfg, &app, &rel, adv.as_deref(), now)?;
        let call = Call {
            cfg: cfg.clone(),
            now,
            grant,
            read_lag,
            method: parts.method.clone(),
            query: query.clone(),
            content_type: content_type.clone(),
            raw_body: raw_body.clone(),
        };
        handler(&call, st)
    })();
    drop(guard);
    let (body, ops) = match result {
        Ok(out) => (error::envelope(out.code, &out.message, &rid, out.data), out.ops),
        Err(e) => (error::error_envelope(&e, &rid), 0),
    };
    let mut resp = json_response(&body, &rid);
    resp.extensions_mut().insert(EndpointLabel(label));
    resp.extensions_mut().insert(OperationCount(ops));
    resp
}

async fn portal_auth(inner: Arc<Inner>, req: Request) -> Response {
    let q = parse_query(req.uri().query().unwrap_or(""));
    match oauth::authorize(&inner, &q) {
        Ok(location) => Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, location)
            .body(Body::empty())
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        Err(msg) => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            maud::html! {
                (maud::DOCTYPE)
                html { body { h1 { "Authorization failed" } p { (msg) } } }
            }
            .into_string(),
        )
            .into_response(),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Admin routes under /_emulator/tiktok/

#[derive(Deserialize)]
struct AdvertiserBody {
    advertiser_id: String,
    #[serde(default = "usd")]
    currency: String,
    #[serde(default = "la")]
    timezone: String,
    name: Option<String>,
}
fn usd() -> String {
    "USD".into()
}
fn la() -> String {
    "America/Los_Angeles".into()
}

#[derive(Deserialize, Default)]
struct GrantBody {
    app_id: Option<String>,
    advertiser_ids: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct ReviewBody {
    outcome: String,
}

#[derive(Deserialize)]
struct ClockBody {
    advance_secs: i64,
}

#[derive(Deserialize, Default)]
struct ConfigBody {
    review_delay_ms: Option<u64>,
    audience_processing_delay_ms: Option<u64>,
    report_task_duration_ms: Option<u64>,
    read_lag_ms: Option<u64>,
    disapprove_trigger: Option<String>,
    endpoint_qps: Option<u32>,
    advertiser_qps: Option<u32>,
    auto_create_accounts: Option<bool>,
}

fn admin_error(status: StatusCode, msg: &str) -> Response {
    (status, AxumJson(json!({ "error": msg }))).into_response()
}

fn admin_router(emu: TikTokEmulator) -> Router {
    let (e1, e2, e3, e4, e5, e6, e7, e8, e9) = (
        emu.clone(),
        emu.clone(),
        emu.clone(),
        emu.clone(),
        emu.clone(),
        emu.clone(),
        emu.clone(),
        emu.clone(),
        emu.clone(),
    );
    let e10 = emu;
    Router::new()
        .route(
            "/_emulator/tiktok/advertisers",
            post(move |AxumJson(b): AxumJson<AdvertiserBody>| {
                let emu = e1.clone();
                async move {
                    if b.advertiser_id.is_empty() || !b.advertiser_id.bytes().all(|c| c.is_ascii_digit()) {
                        return admin_error(StatusCode::BAD_REQUEST, "advertiser_id must be decimal digits");
                    }
                    emu.add_advertiser(&b.advertiser_id, &b.currency, &b.timezone, b.name.as_deref());
                    AxumJson(json!({ "advertiser_id": b.advertiser_id })).into_response()
                }
            }),
        )
        .route(
            "/_emulator/tiktok/auth_codes",
            post(move |body: Bytes| {
                let emu = e2.clone();
                async move {
                    let b: GrantBody = serde_json::from_slice(&body).unwrap_or_default();
                    match emu.mint_auth_code(b.app_id.as_deref(), b.advertiser_ids) {
                        Ok(code) => AxumJson(json!({ "auth_code": code })).into_response(),
                        Err(e) => admin_error(StatusCode::BAD_REQUEST, &e),
                    }
                }
            }),
        )
        .route(
            "/_emulator/tiktok/tokens",
            post(move |body: Bytes| {
                let emu = e3.clone();
                async move {
                    let b: GrantBody = serde_json::from_slice(&body).unwrap_or_default();
                    match emu.issue_token(b.app_id.as_deref(), b.advertiser_ids) {
                        Ok((t, ids)) => AxumJson(json!({ "access_token": t, "advertiser_ids": ids })).into_response(),
                        Err(e) => admin_error(StatusCode::BAD_REQUEST, &e),
                    }
                }
            }),
        )
        .route(
            "/_emulator/tiktok/objects/{id}",
            get(move |Path(id): Path<String>| {
                let emu = e4.clone();
                async move {
                    let st = emu.inner.lock();
                    if let Some(o) = st.objects.get(&id) {
                        return AxumJson(serde_json::to_value(o).unwrap_or(Value::Null)).into_response();
                    }
                    match st.audiences.get(&id) {
                        Some(a) => AxumJson(serde_json::to_value(a).unwrap_or(Value::Null)).into_response(),
                        None => admin_error(StatusCode::NOT_FOUND, "no such object"),
                    }
                }
            })
            .post(
                move |Path(id): Path<String>, AxumJson(patch): AxumJson<Map<String, Value>>| {
                    let emu = e5.clone();
                    async move {
                        let mut guard = emu.inner.lock();
                        let st: &mut State = &mut guard;
                        let now = now_ms(st);
                        match st.objects.get_mut(&id) {
                            Some(o) => {
                                let mut prev = o.clone();
                                prev.prev = None;
                                for (k, v) in patch {
                                    match (k.as_str(), &v) {
                                        ("operation_status", Value::String(s)) => o.operation_status = s.clone(),
                                        (_, Value::Null) => {
                                            o.fields.remove(&k);
                                        }
                                        _ => {
                                            // money as exact decimal text, like every write
                                            let v = match (&v, fields::money_fields().contains(k.as_str())) {
                                                (Value::Number(n), true) => Value::String(n.to_string()),
                                                _ => v,
                                            };
                                            o.fields.insert(k, v);
                                        }
                                    }
                                }
                                o.prev = Some(Box::new(prev));
                                o.modified_ms = now;
                                AxumJson(json!({ "success": true })).into_response()
                            }
                            None => admin_error(StatusCode::NOT_FOUND, "no such campaign, ad group or ad"),
                        }
                    }
                },
            ),
        )
        .route(
            "/_emulator/tiktok/review/{id}",
            post(move |Path(id): Path<String>, AxumJson(b): AxumJson<ReviewBody>| {
                let emu = e6.clone();
                async move {
                    let forced = match b.outcome.as_str() {
                        "APPROVED" => Some(state::Outcome::Approved),
                        "REJECTED" | "DISAPPROVED" => Some(state::Outcome::Rejected),
                        "PENDING" => None,
                        _ => {
                            return admin_error(
                                StatusCode::BAD_REQUEST,
                                "outcome must be APPROVED, REJECTED or PENDING",
                            )
                        }
                    };
                    let mut guard = emu.inner.lock();
                    let st: &mut State = &mut guard;
                    let now = now_ms(st);
                    match st.objects.get_mut(&id).filter(|o| o.kind == state::Kind::Ad) {
                        Some(o) => {
                            let started_ms = match forced {
                                None => now,
                                Some(_) => o.review.as_ref().map_or(now, |r| r.started_ms),
                            };
                            o.review = Some(state::Review { started_ms, forced });
                            AxumJson(json!({ "success": true })).into_response()
                        }
                        None => admin_error(StatusCode::NOT_FOUND, "no such ad"),
                    }
                }
            }),
        )
        .route(
            "/_emulator/tiktok/audiences/{id}/ready",
            post(move |Path(id): Path<String>| {
                let emu = e7.clone();
                async move {
                    let mut guard = emu.inner.lock();
                    let st: &mut State = &mut guard;
                    let now = now_ms(st);
                    match st.audiences.get_mut(&id) {
                        Some(a) => {
                            a.ready_ms = a.ready_ms.min(now);
                            AxumJson(json!({ "success": true })).into_response()
                        }
                        None => admin_error(StatusCode::NOT_FOUND, "no such audience"),
                    }
                }
            }),
        )
        .route(
            "/_emulator/tiktok/tasks/{id}/done",
            post(move |Path(id): Path<String>| {
                let emu = e8.clone();
                async move {
                    let mut st = emu.inner.lock();
                    match st.tasks.get_mut(&id) {
                        Some(t) => {
                            t.forced_done = true;
                            AxumJson(json!({ "success": true })).into_response()
                        }
                        None => admin_error(StatusCode::NOT_FOUND, "no such task"),
                    }
                }
            }),
        )
        .route(
            "/_emulator/tiktok/clock",
            post(move |AxumJson(b): AxumJson<ClockBody>| {
                let emu = e9.clone();
                async move {
                    let mut st = emu.inner.lock();
                    st.clock_offset_ms += b.advance_secs.saturating_mul(1000);
                    AxumJson(json!({ "clock_offset_ms": st.clock_offset_ms })).into_response()
                }
            }),
        )
        .route(
            "/_emulator/tiktok/config",
            post(move |AxumJson(b): AxumJson<ConfigBody>| {
                let emu = e10.clone();
                async move {
                    emu.configure(|c| {
                        if let Some(v) = b.review_delay_ms {
                            c.review_delay = Duration::from_millis(v);
                        }
                        if let Some(v) = b.audience_processing_delay_ms {
                            c.audience_processing_delay = Duration::from_millis(v);
                        }
                        if let Some(v) = b.report_task_duration_ms {
                            c.report_task_duration = Duration::from_millis(v);
                        }
                        if let Some(v) = b.read_lag_ms {
                            c.read_lag = Duration::from_millis(v);
                        }
                        if let Some(v) = b.disapprove_trigger {
                            c.disapprove_trigger = v;
                        }
                        if let Some(v) = b.endpoint_qps {
                            c.endpoint_qps = Some(v).filter(|v| *v > 0);
                        }
                        if let Some(v) = b.advertiser_qps {
                            c.advertiser_qps = Some(v).filter(|v| *v > 0);
                        }
                        if let Some(v) = b.auto_create_accounts {
                            c.auto_create_accounts = v;
                        }
                    });
                    AxumJson(json!({ "success": true })).into_response()
                }
            }),
        )
}

impl PlatformEmulator for TikTokEmulator {
    fn name(&self) -> &'static str {
        "tiktok"
    }

    fn router(&self) -> Router {
        let inner = self.inner.clone();
        let api = any(move |req: Request| entry(inner.clone(), req));
        let inner = self.inner.clone();
        let auth = get(move |req: Request| portal_auth(inner.clone(), req));
        Router::new()
            .route("/open_api", api.clone())
            .route("/open_api/", api.clone())
            .route("/open_api/{*path}", api)
            .route("/portal/auth", auth)
            .merge(admin_router(self.clone()))
    }

    /// ServerError: HTTP 200 with code 50000 (a system error the API reports itself; retryable). RateLimit: HTTP
    /// 200 with code 40100. Neither carries rate-limit headers.
    fn fault_response(&self, fault: FaultKind) -> Response {
        let cfg = self.inner.config();
        let rid = {
            let mut st = self.inner.lock();
            let now = now_ms(&st);
            request_id(&mut st, cfg.seed ^ hash_str("fault"), now)
        };
        let e = match fault {
            FaultKind::RateLimit => ApiError::app_rate_limit(),
            _ => ApiError::system(),
        };
        json_response(&error::error_envelope(&e, &rid), &rid)
    }

    fn dump(&self) -> Value {
        serde_json::to_value(&*self.inner.lock()).unwrap_or(Value::Null)
    }

    fn restore(&self, dump: Value) -> Result<(), String> {
        let st: State = serde_json::from_value(dump).map_err(|e| format!("invalid TikTok emulator state: {e}"))?;
        *self.inner.lock() = st;
        Ok(())
    }

    fn reset(&self) {
        let cfg = self.inner.config();
        *self.inner.lock() = fresh_state(&cfg);
    }
}

/// The default advertiser id (for docs and tests).
pub fn default_advertiser_id() -> &'static str {
    defaults::TIKTOK_ADVERTISER_ID
}
