//! The LinkedIn Marketing API emulator (versioned REST, Rest.li 2.0, `LinkedIn-Version: 202608`).
//!
//! Written from `../shared/reference/linkedin-marketing` (WIRE-NOTES.md, resources.json); it shares no code with
//! adsctl's connectors. The rules it enforces, with their errors and tests, are the LinkedIn section of
//! `docs/wire-rules.md`.
//!
//! API routes (`/rest/…` is api.linkedin.com, `/oauth/v2/…` is www.linkedin.com):
//! - `GET /rest/adAccounts/{id}`, `GET /rest/adAccounts?q=search&search=(…)` (cursor paging), `?ids=List(…)`;
//! - `/rest/adAccounts/{id}/adCampaignGroups[/{id}]`, `…/adCampaigns[/{id}]`, `…/creatives[/{urlencoded URN}]`:
//!   CREATE (201, empty body, `x-restli-id`), BATCH_CREATE, GET, BATCH_GET (`ids=List(…)`), FINDER (`q=search`;
//!   creatives `q=criteria`), PARTIAL_UPDATE (POST `{"patch":{"$set","$delete"}}` → 204), BATCH_PARTIAL_UPDATE,
//!   DELETE (DRAFT only);
//! - `/rest/dmpSegments[/{id}]` (CREATE, GET, `q=account` with start/count, PARTIAL_UPDATE, DELETE),
//!   `POST /rest/dmpSegments/{id}/users` and, for company segments, `POST /rest/dmpSegments/{id}/companies`
//!   (BATCH_CREATE of ADD/REMOVE);
//! - `GET /rest/adAnalytics?q=analytics&pivot=…&timeGranularity=…&dateRange=(…)&<facet>=List(…)&fields=…`;
//! - `GET /oauth/v2/authorization`, `POST /oauth/v2/accessToken`, `POST /oauth/v2/introspectToken`.
//!
//! Readings chosen where the pack is unverified or silent (each is a row or note in docs/wire-rules.md):
//! - Versions: `LinkedIn-Version` must be six digits `YYYYMM`; the served window is 202511 ..= 202608 without
//!   202512 (the pack's migrations table lists none). Older → 426 (sunset); newer than 202608, 202512 or another
//!   format → 426 too (a version LinkedIn does not serve). The window is fixed, not moved by the clock.
//! - Header checks run in this order: Content-Length (411), URL length (414), LinkedIn-Version (400/426),
//!   X-Restli-Protocol-Version (400), Authorization (401), X-RestLi-Method (400), scope and role (403), then the
//!   daily rate counters (429).
//! - URLs (path and query) longer than 4,000 bytes → 414 (the official client tunnels from 4,000).
//! - Batches (BATCH_CREATE, BATCH_GET, BATCH_PARTIAL_UPDATE) carry at most 100 elements; DMP user batches 5,000.
//! - Cursor finders: pageSize default 100, at most 1,000; start/count finders: count default 10, at most 1,000.
//! - A DMP segment refuses users for `segment_user_wait` after its creation (default 5 s; seed
//!   `linkedin.segment_user_wait_ms`, admin `segment_user_wait_ms`) with 404 (the segment is not visible yet).
//! - A creative's `name` is stored and returned as written (the pack has it as recalled).
//! - A DMP segment's `destinations[]` come back with `destinationSegmentId: "urn:li:adSegment:<same id>"`.
//! - Creatives: BATCH_CREATE and BATCH_PARTIAL_UPDATE are accepted like the other collections.
//! - The new error envelope carries no `serviceErrorCode`; the classic one uses 100 for a 400, 65600 for an invalid
//!   or expired token, otherwise the HTTP status. Error codes the pack does not name are the emulator's
//!   (`INVALID_FIELD_VALUE`, `INVALID_ENUM_VALUE`, `UNRECOGNIZED_FIELD`, `READ_ONLY_FIELD`, `INVALID_STATUS`,
//!   `MAX_*_EXCEEDED`).
//! - A PARTIAL_UPDATE patches top-level fields only: a nested patch (`{"patch":{"runSchedule":{"$set":…}}}`) is
//!   refused with 400 rather than ignored. Campaign groups are created ACTIVE or DRAFT; nothing returns to DRAFT;
//!   COMPLETED and REMOVED are LinkedIn's to set (INVALID_STATUS). runSchedule is required with a group's
//!   totalBudget; names are at most 255 characters.
//! - Creatives: at most 15 ACTIVE and at most 85 others per campaign (two separate caps), 15,000 per account
//!   (classic 400s); DELETE in DRAFT only; review is APPROVED at once (the admin API sets another).
//! - The well-known access token never expires and carries every scope; accounts it names are created on first use
//!   while `auto_create_accounts` is on (USD, role ACCOUNT_MANAGER).
//! - Refresh: the same refresh token comes back with the seconds it has left; the access token's `expires_in`
//!   is at most that. Authorization codes live 30 minutes and are single use.
//!
//! Admin routes (JSON; not counted, never faulted), under `/_emulator/linkedin/`:
//! - `POST ad_accounts` `{"id"?, "currency"?, "name"?, "role"?, "reference"?, "status"?, "test"?}` → `{"id"}`;
//! - `POST objects` `{"kind": "campaign_group"|"campaign"|"creative"|"dmp_segment", "account": "<id>",
//!   "fields": {…}, "count"?: N}` → `{"ids": [...]}`: objects made by another client (no validation, no marker);
//! - `GET objects/{id}` (a number or a creative URN) → the object as the API renders it plus `_emulator`
//!   (`deleted`, `foreign`, `members`); `POST objects/{id}` `{"field": value}` changes it (`null` removes);
//! - `GET dmp_segments/{id}/members` → `{"members": [sha256…], "count"}`;
//! - `POST tokens` `{"client_id"?, "scope"?}` → `{"access_token", "refresh_token", "expires_in"}`;
//! - `POST clock` `{"advance_secs": N}`;
//! - `POST config` `{"segment_user_wait_ms", "read_lag_ms", "daily_calls_per_app_endpoint",
//!   "daily_calls_per_member_endpoint", "auto_create_accounts"}` (a limit of 0 switches it off);
//! - `GET store` → the whole state.

pub mod ads;
pub mod analytics;
pub mod dmp;
pub mod error;
pub mod oauth;
pub mod restli;
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
use crate::platform::{FaultKind, PlatformEmulator};
use crate::rng::{hash_str, mix64};
use error::ApiError;
use restli::Params;
pub use state::LinkedInConfig;
use state::{Account, Entity, Kind, State};

/// The newest version served (and the one adsctl pins).
pub const LATEST_VERSION: u32 = 202608;
/// The oldest version not sunset.
pub const OLDEST_VERSION: u32 = 202511;
/// Longest path + query accepted before 414.
pub const MAX_URL: usize = 4000;
/// Elements of one BATCH_CREATE / BATCH_GET / BATCH_PARTIAL_UPDATE.
pub const MAX_BATCH: usize = 100;
const MAX_BODY: usize = 16 * 1024 * 1024;

pub struct Inner {
    cfg: RwLock<LinkedInConfig>,
    state: Mutex<State>,
}

impl Inner {
    pub fn config(&self) -> LinkedInConfig {
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

/// The emulated clock in milliseconds.
pub fn now_ms(st: &State) -> i64 {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    wall + st.clock_offset_ms
}

/// The LinkedIn platform emulator. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct LinkedInEmulator {
    inner: Arc<Inner>,
}

impl Default for LinkedInEmulator {
    fn default() -> Self {
        Self::with_config(LinkedInConfig::default())
    }
}

impl LinkedInEmulator {
    pub fn new(config: &EmulatorConfig) -> Self {
        Self::with_config(LinkedInConfig::from_core(config))
    }
    pub fn with_config(cfg: LinkedInConfig) -> Self {
        let state = fresh_state(&cfg);
        LinkedInEmulator {
            inner: Arc::new(Inner {
                cfg: RwLock::new(cfg),
                state: Mutex::new(state),
            }),
        }
    }
    pub fn config(&self) -> LinkedInConfig {
        self.inner.config()
    }
    pub fn configure(&self, f: impl FnOnce(&mut LinkedInConfig)) {
        match self.inner.cfg.write() {
            Ok(mut c) => f(&mut c),
            Err(p) => f(&mut p.into_inner()),
        }
    }
    /// Add (or replace) an ad account, with its default campaign group.
    pub fn add_account(&self, mut a: Account) -> String {
        let mut st = self.inner.lock();
        a.created_ms = now_ms(&st);
        let id = a.id.clone();
        insert_account(&mut st, a);
        id
    }
    /// Move the emulated clock forward.
    pub fn advance_clock(&self, by: Duration) {
        self.inner.lock().clock_offset_ms += by.as_millis() as i64;
    }
    /// The member hashes a DMP segment holds.
    pub fn segment_members(&self, id: u64) -> Option<Vec<String>> {
        let st = self.inner.lock();
        st.entities
            .get(&id)
            .filter(|e| e.kind == Kind::DmpSegment)
            .map(|e| e.members.iter().cloned().collect())
    }
}

/// Add an account and its backfilled default group.
pub fn insert_account(st: &mut State, mut a: Account) {
    if let Some(old) = st.accounts.get(&a.id) {
        a.default_group = old.default_group;
    }
    if a.default_group.is_none() {
        let id = st.new_id();
        let now = a.created_ms;
        let mut fields = Map::new();
        fields.insert("account".into(), json!(a.urn()));
        fields.insert("name".into(), json!("Default Campaign Group"));
        fields.insert("status".into(), json!("ACTIVE"));
        st.entities.insert(
            id,
            Entity {
                id,
                kind: Kind::CampaignGroup,
                account: a.id.clone(),
                fields,
                created_ms: now,
                modified_ms: now,
                deleted: false,
                backfilled: true,
                foreign: true,
                review: None,
                members: Default::default(),
                input_count: 0,
                prev: None,
            },
        );
        a.default_group = Some(id);
    }
    st.accounts.insert(a.id.clone(), a);
}

fn fresh_state(cfg: &LinkedInConfig) -> State {
    let mut st = State::default();
    st.born_ms = now_ms(&st);
    for a in &cfg.seed_accounts {
        let mut a = a.clone();
        a.created_ms = st.born_ms;
        insert_account(&mut st, a);
    }
    st
}

// ---------------------------------------------------------------------------------------------------------------
// One API call

/// The Rest.li method of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RMethod {
    Get,
    BatchGet,
    Finder,
    Create,
    BatchCreate,
    PartialUpdate,
    BatchPartialUpdate,
    Delete,
}

impl RMethod {
    pub fn name(self) -> &'static str {
        match self {
            RMethod::Get => "GET",
            RMethod::BatchGet => "BATCH_GET",
            RMethod::Finder => "FINDER",
            RMethod::Create => "CREATE",
            RMethod::BatchCreate => "BATCH_CREATE",
            RMethod::PartialUpdate => "PARTIAL_UPDATE",
            RMethod::BatchPartialUpdate => "BATCH_PARTIAL_UPDATE",
            RMethod::Delete => "DELETE",
        }
    }
    pub fn writes(self) -> bool {
        matches!(
            self,
            RMethod::Create
                | RMethod::BatchCreate
                | RMethod::PartialUpdate
                | RMethod::BatchPartialUpdate
                | RMethod::Delete
        )
    }
}

/// One API request, parsed.
pub struct Call {
    pub cfg: LinkedInConfig,
    pub now: i64,
    pub read_lag: bool,
    pub method: RMethod,
    pub params: Params,
    pub body: Bytes,
    /// Whether the token is a long-lived one (accounts it names may be auto-created).
    pub static_token: bool,
}

/// A handler's answer.
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub restli_id: Option<String>,
    pub ops: u64,
}

impl Reply {
    pub fn json(body: Value) -> Self {
        Reply {
            status: 200,
            body: Some(body),
            restli_id: None,
            ops: 0,
        }
    }
    pub fn no_content() -> Self {
        Reply {
            status: 204,
            body: None,
            restli_id: None,
            ops: 1,
        }
    }
    pub fn created(id: String) -> Self {
        Reply {
            status: 201,
            body: None,
            restli_id: Some(id),
            ops: 1,
        }
    }
    pub fn ops(mut self, n: u64) -> Self {
        self.ops = n;
        self
    }
}

pub type Handled = Result<Reply, ApiError>;

impl Call {
    /// The JSON body: an object.
    pub fn json(&self) -> Result<Map<String, Value>, ApiError> {
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(ApiError::bad("The request body must be a JSON object.")),
            Err(e) => Err(ApiError::bad(format!("Unable to parse the request body as JSON: {e}"))),
        }
    }

    /// An account the path names: it exists (or is created on first use by a long-lived token) and the member has
    /// a role on it (any role for reads; not VIEWER for writes).
    pub fn account(&self, st: &mut State, id: &str, write: bool) -> Result<Account, ApiError> {
        if id.is_empty() || id.len() > 18 || !id.bytes().all(|c| c.is_ascii_digit()) {
            return Err(ApiError::bad(format!("Invalid ad account id: {id}")));
        }
        if !st.accounts.contains_key(id) {
            if self.static_token && self.cfg.auto_create_accounts {
                let mut a = Account::new(id, crate::platform::defaults::LINKEDIN_CURRENCY, None);
                a.created_ms = self.now;
                insert_account(st, a);
            } else {
                return Err(ApiError::coded(
                    404,
                    "NOT_FOUND",
                    format!("Ad account {id} does not exist."),
                ));
            }
        }
        let a = st.accounts.get(id).cloned().ok_or_else(ApiError::internal)?;
        match a.role.as_deref() {
            None => Err(ApiError::coded(
                403,
                "NO_PERMISSION_ON_ENTITY",
                format!("The member has no role on ad account {id}."),
            )),
            Some("VIEWER") if write => Err(ApiError::coded(
                403,
                "NO_PERMISSION_ON_ENTITY",
                format!("The member's role VIEWER on ad account {id} is read-only."),
            )),
            Some(_) => Ok(a),
        }
    }

    /// An entity as this request sees it (read lag: the previous version of a fresh write; a fresh create is not
    /// there yet).
    pub fn visible(&self, e: &Entity) -> Option<Entity> {
        if self.read_lag && self.now - e.modified_ms < self.cfg.read_lag.as_millis() as i64 {
            return e.prev.as_deref().cloned().filter(|p| !p.deleted);
        }
        Some(e.clone()).filter(|e| !e.deleted)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Responses

fn trace_id(st: &mut State, seed: u64) -> String {
    use base64::Engine as _;
    st.trace_seq += 1;
    let a = mix64(seed ^ hash_str("li") ^ mix64(st.trace_seq));
    let b = mix64(a ^ st.trace_seq.rotate_left(23));
    let mut bytes = a.to_be_bytes().to_vec();
    bytes.extend_from_slice(&b.to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn respond(status: u16, body: Option<&Value>, uuid: &str, extra: &[(&str, String)]) -> Response {
    let mut resp = match body {
        Some(b) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            [(header::CONTENT_TYPE, "application/json")],
            b.to_string(),
        )
            .into_response(),
        None => StatusCode::from_u16(status).unwrap_or(StatusCode::OK).into_response(),
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(uuid) {
        h.insert("x-li-uuid", v.clone());
        h.insert("x-li-request-id", v);
    }
    h.insert("x-li-fabric", HeaderValue::from_static("prod-emulator"));
    h.insert("x-restli-protocol-version", HeaderValue::from_static("2.0.0"));
    for (k, v) in extra {
        if let Ok(v) = HeaderValue::from_str(v) {
            if let Ok(k) = header::HeaderName::from_bytes(k.as_bytes()) {
                h.insert(k, v);
            }
        }
    }
    resp
}

fn error_response(e: &ApiError, uuid: &str) -> Response {
    respond(e.status, Some(&e.body()), uuid, &[])
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string())
}

/// The versions served: 202511 ..= 202608, without 202512.
pub fn version_status(v: &str) -> Result<(), ApiError> {
    let n: Option<u32> = (v.len() == 6 && v.bytes().all(|c| c.is_ascii_digit()))
        .then(|| v.parse().ok())
        .flatten();
    let Some(n) = n.filter(|n| (1..=12).contains(&(n % 100))) else {
        return Err(ApiError::coded(
            426,
            "NONEXISTENT_VERSION",
            format!("Requested version {v} is not active"),
        ));
    };
    if n < OLDEST_VERSION {
        return Err(ApiError::coded(
            426,
            "VERSION_SUNSET",
            format!("Requested version {v} has been sunset. Please upgrade to a supported version."),
        ));
    }
    if n > LATEST_VERSION || n == 202512 {
        return Err(ApiError::coded(
            426,
            "NONEXISTENT_VERSION",
            format!("Requested version {v} is not active"),
        ));
    }
    Ok(())
}

/// The endpoint template of a path (for counters and rate limits).
fn template(segs: &[String]) -> String {
    let mut out = String::from("/rest");
    for (i, s) in segs.iter().enumerate() {
        let t = match (i, segs.first().map(String::as_str)) {
            (1, Some("adAccounts")) => "{accountId}",
            (3, Some("adAccounts")) => "{id}",
            (1, Some("dmpSegments")) => "{id}",
            _ => s.as_str(),
        };
        out.push('/');
        out.push_str(t);
    }
    out
}

/// Infer the Rest.li method from the HTTP method, the path's shape, the parameters and X-RestLi-Method.
fn restli_method(
    http: &Method,
    entity_path: bool,
    params: &Params,
    header_method: Option<&str>,
    body: &[u8],
) -> Result<RMethod, ApiError> {
    let hm = header_method.map(|m| m.to_ascii_uppercase());
    let inferred = match (http, entity_path) {
        (&Method::GET, true) => RMethod::Get,
        (&Method::GET, false) if params.get("ids").is_some() => RMethod::BatchGet,
        (&Method::GET, false) if params.get("q").is_some() => RMethod::Finder,
        (&Method::GET, false) => {
            return Err(ApiError::bad(
                "GET_ALL is not supported: use a finder (q=…) or ids=List(…).",
            ))
        }
        (&Method::POST, true) => match hm.as_deref() {
            Some("PARTIAL_UPDATE") => RMethod::PartialUpdate,
            Some(other) => {
                return Err(ApiError::bad(format!(
                    "X-RestLi-Method {other} is not supported on an entity; a POST to an entity is a PARTIAL_UPDATE."
                )))
            }
            None => {
                return Err(ApiError::bad(
                    "Missing the header X-RestLi-Method: PARTIAL_UPDATE (required for partial updates).",
                ))
            }
        },
        (&Method::POST, false) => match hm.as_deref() {
            Some("BATCH_CREATE") => RMethod::BatchCreate,
            Some("BATCH_PARTIAL_UPDATE") => RMethod::BatchPartialUpdate,
            Some("CREATE") | None => {
                if params.get("ids").is_some() {
                    return Err(ApiError::bad(
                        "Missing the header X-RestLi-Method: BATCH_PARTIAL_UPDATE (a POST with ids=List(…) cannot be \
                         inferred).",
                    ));
                }
                let looks_batch = serde_json::from_slice::<Value>(body)
                    .ok()
                    .and_then(|v| v.as_object().map(|m| m.contains_key("elements")))
                    .unwrap_or(false);
                if looks_batch && hm.is_none() {
                    return Err(ApiError::bad(
                        "Missing the header X-RestLi-Method: BATCH_CREATE (without it the body is read as one entity \
                         to CREATE, and `elements` is not one of its fields).",
                    ));
                }
                RMethod::Create
            }
            Some(other) => {
                return Err(ApiError::bad(format!(
                    "X-RestLi-Method {other} does not go with a POST to a collection."
                )))
            }
        },
        (&Method::DELETE, true) => RMethod::Delete,
        _ => return Err(ApiError::classic(405, format!("Method {http} is not supported here."))),
    };
    if let Some(h) = hm {
        let ok = h == inferred.name() || (inferred == RMethod::Finder && h == "FINDER");
        if !ok {
            return Err(ApiError::bad(format!(
                "X-RestLi-Method {h} does not match the request, which is a {}.",
                inferred.name()
            )));
        }
    }
    Ok(inferred)
}

async fn rest_entry(inner: Arc<Inner>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let cfg = inner.config();
    let uuid = {
        let mut st = inner.lock();
        trace_id(&mut st, cfg.seed)
    };
    let raw_path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let label_default = format!("{} {}", parts.method, raw_path);
    let mut resp = rest_call(&inner, cfg, &uuid, parts, body, &raw_path, &raw_query).await;
    if resp.extensions().get::<EndpointLabel>().is_none() {
        resp.extensions_mut().insert(EndpointLabel(label_default));
    }
    resp
}

#[allow(clippy::too_many_arguments)]
async fn rest_call(
    inner: &Arc<Inner>,
    cfg: LinkedInConfig,
    uuid: &str,
    parts: axum::http::request::Parts,
    body: Body,
    raw_path: &str,
    raw_query: &str,
) -> Response {
    let err = |e: ApiError| error_response(&e, uuid);
    let has_length = parts.headers.contains_key(header::CONTENT_LENGTH);
    let chunked = parts.headers.contains_key(header::TRANSFER_ENCODING);
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return err(ApiError::classic(413, "Request entity too large")),
    };
    if parts.method == Method::POST && !has_length && (body.is_empty() || !chunked) {
        return err(ApiError::classic(
            411,
            "Length Required: a POST needs a Content-Length header.",
        ));
    }
    if raw_path.len() + 1 + raw_query.len() > MAX_URL {
        return err(ApiError::classic(
            414,
            "Request-URI Too Long: tunnel the query (POST with X-HTTP-Method-Override: GET and a form body).",
        ));
    }
    // query tunneling
    let mut method = parts.method.clone();
    let mut query = raw_query.to_string();
    let mut body = body;
    if let Some(o) = header_str(&parts.headers, "X-HTTP-Method-Override") {
        if parts.method != Method::POST || !o.eq_ignore_ascii_case("GET") {
            return err(ApiError::bad(format!(
                "X-HTTP-Method-Override {o} is only supported as GET on a POST (query tunneling)."
            )));
        }
        let ct = header_str(&parts.headers, "Content-Type").unwrap_or_default();
        if !ct.starts_with("application/x-www-form-urlencoded") {
            return err(ApiError::bad(
                "A tunneled query must come as an application/x-www-form-urlencoded body.",
            ));
        }
        let Ok(form) = std::str::from_utf8(&body) else {
            return err(ApiError::bad("The tunneled query is not UTF-8."));
        };
        if !query.is_empty() && !form.is_empty() {
            query.push('&');
        }
        query.push_str(form.trim());
        method = Method::GET;
        body = Bytes::new();
    }
    // headers
    match header_str(&parts.headers, "LinkedIn-Version") {
        None => {
            return err(ApiError::coded(
                400,
                "VERSION_MISSING",
                "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
            ))
        }
        Some(v) => {
            if let Err(e) = version_status(&v) {
                return err(e);
            }
        }
    }
    if header_str(&parts.headers, "X-Restli-Protocol-Version").as_deref() != Some("2.0.0") {
        return err(ApiError::bad(
            "This API requires the header X-Restli-Protocol-Version: 2.0.0 (Rest.li 2.0 encoding).",
        ));
    }
    let auth = header_str(&parts.headers, "Authorization").unwrap_or_default();
    let token = auth
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let Some(token) = token else {
        return err(ApiError::empty_token());
    };
    // path
    let segs: Vec<String> = raw_path
        .trim_start_matches("/rest")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if !known_path(&segs) {
        return err(not_found_resource());
    }
    let tmpl = template(&segs);
    let params = match Params::parse(&query) {
        Ok(p) => p,
        Err(e) => return err(ApiError::bad(e)),
    };
    let entity_path = match segs.first().map(String::as_str) {
        Some("adAccounts") => segs.len() == 2 || segs.len() == 4,
        Some("dmpSegments") => segs.len() == 2,
        _ => false,
    };
    let read_lag = parts.extensions.get::<ReadLag>().is_some();
    let mut guard = inner.lock();
    let st: &mut State = &mut guard;
    let now = now_ms(st);
    let grant = match oauth::grant_of(st, &cfg, &token, now) {
        Ok(g) => g,
        Err(e) => return err(e),
    };
    let header_method = header_str(&parts.headers, "X-RestLi-Method");
    let is_users = segs.first().map(String::as_str) == Some("dmpSegments") && segs.len() == 3;
    let sub = segs.get(2).map(String::as_str).unwrap_or("users");
    let rmethod = if is_users {
        match (&method, header_method.as_deref()) {
            (&Method::POST, Some(m)) if m.eq_ignore_ascii_case("BATCH_CREATE") => RMethod::BatchCreate,
            (&Method::POST, _) => {
                return err(ApiError::bad(format!(
                    "Missing the header X-RestLi-Method: BATCH_CREATE (required to add or remove segment {sub})."
                )))
            }
            _ => {
                return err(ApiError::classic(
                    405,
                    format!("Method {method} is not supported here."),
                ))
            }
        }
    } else if segs.first().map(String::as_str) == Some("adAnalytics") {
        if method != Method::GET {
            return err(ApiError::classic(
                405,
                format!("Method {method} is not supported here."),
            ));
        }
        RMethod::Finder
    } else {
        match restli_method(&method, entity_path, &params, header_method.as_deref(), &body) {
            Ok(m) => m,
            Err(e) => return err(e),
        }
    };
    let label = format!("{} {} {}", parts.method, tmpl, rmethod.name());
    // scopes
    let needed: &[&str] = match segs.first().map(String::as_str) {
        Some("adAnalytics") => &["r_ads_reporting"],
        Some("dmpSegments") => &["rw_dmp_segments"],
        _ if rmethod.writes() => &["rw_ads"],
        _ => &["r_ads", "rw_ads"],
    };
    let scopes: Vec<&str> = grant.scope.split([' ', ',']).filter(|s| !s.is_empty()).collect();
    if !needed.iter().any(|n| scopes.contains(n)) {
        let mut r = err(ApiError::classic(
            403,
            format!("Not enough permissions to access: {} {}", rmethod.name(), tmpl),
        ));
        r.extensions_mut().insert(EndpointLabel(label));
        return r;
    }
    // daily counters
    if let Err(e) = rate_check(st, &cfg, &grant.client_id, &tmpl, &label, now) {
        let mut r = err(e);
        r.extensions_mut().insert(EndpointLabel(label));
        return r;
    }
    let call = Call {
        cfg: cfg.clone(),
        now,
        read_lag,
        method: rmethod,
        params,
        body,
        static_token: grant.static_token,
    };
    let result = dispatch(&call, st, &segs);
    drop(guard);
    let mut resp = match result {
        Ok(r) => {
            let extra: Vec<(&str, String)> = r.restli_id.iter().map(|id| ("x-restli-id", id.clone())).collect();
            let mut resp = respond(r.status, r.body.as_ref(), uuid, &extra);
            resp.extensions_mut().insert(OperationCount(r.ops));
            resp
        }
        Err(e) => err(e),
    };
    resp.extensions_mut().insert(EndpointLabel(label));
    resp
}

/// A path some resource serves.
fn known_path(segs: &[String]) -> bool {
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let coll = |c: &str| matches!(c, "adCampaignGroups" | "adCampaigns" | "creatives");
    match s.as_slice() {
        ["adAccounts"] | ["adAccounts", _] | ["dmpSegments"] | ["dmpSegments", _] | ["adAnalytics"] => true,
        ["adAccounts", _, c] | ["adAccounts", _, c, _] => coll(c),
        ["dmpSegments", _, "users"] | ["dmpSegments", _, "companies"] => true,
        _ => false,
    }
}

fn not_found_resource() -> ApiError {
    ApiError::classic(404, "No virtual resource found")
}

fn dispatch(c: &Call, st: &mut State, segs: &[String]) -> Handled {
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["adAccounts"] => ads::accounts_collection(c, st),
        ["adAccounts", id] => ads::account_get(c, st, id),
        ["adAccounts", acct, coll] => {
            let kind = Kind::from_admin(coll)
                .filter(|k| *k != Kind::DmpSegment)
                .ok_or_else(not_found_resource)?;
            ads::collection(c, st, kind, acct)
        }
        ["adAccounts", acct, coll, key] => {
            let kind = Kind::from_admin(coll)
                .filter(|k| *k != Kind::DmpSegment)
                .ok_or_else(not_found_resource)?;
            ads::entity(c, st, kind, Some(acct), key)
        }
        ["dmpSegments"] => dmp::collection(c, st),
        ["dmpSegments", key] => ads::entity(c, st, Kind::DmpSegment, None, key),
        ["dmpSegments", key, "users"] => dmp::users(c, st, key),
        ["dmpSegments", key, "companies"] => dmp::companies(c, st, key),
        ["adAnalytics"] => analytics::analytics(c, st),
        _ => Err(not_found_resource()),
    }
}

/// Count the call against the daily counters (UTC day of the emulated clock).
fn rate_check(
    st: &mut State,
    cfg: &LinkedInConfig,
    app: &str,
    tmpl: &str,
    _label: &str,
    now: i64,
) -> Result<(), ApiError> {
    let day = now.div_euclid(86_400_000);
    let checks = [
        (cfg.daily_calls_per_app_endpoint, format!("{day}|app|{app}|{tmpl}")),
        (
            cfg.daily_calls_per_member_endpoint,
            format!(
                "{day}|member|{app}|{}|{tmpl}",
                crate::platform::defaults::LINKEDIN_MEMBER_URN
            ),
        ),
    ];
    for (limit, key) in &checks {
        if let Some(limit) = limit.filter(|l| *l > 0) {
            if st.calls.get(key).copied().unwrap_or(0) >= limit {
                return Err(ApiError::throttled());
            }
        }
    }
    for (limit, key) in checks {
        if limit.is_some() {
            *st.calls.entry(key).or_default() += 1;
        }
    }
    Ok(())
}

async fn oauth_entry(inner: Arc<Inner>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let path = parts.uri.path().to_string();
    let label = format!("{} {}", parts.method, path);
    let mut resp = oauth::entry(&inner, &parts, &body).await;
    resp.extensions_mut().insert(EndpointLabel(label));
    resp
}

// ---------------------------------------------------------------------------------------------------------------
// Admin routes under /_emulator/linkedin/

#[derive(Deserialize)]
struct AccountBody {
    id: Option<String>,
    currency: Option<String>,
    name: Option<String>,
    role: Option<String>,
    reference: Option<String>,
    status: Option<String>,
    test: Option<bool>,
}

#[derive(Deserialize)]
struct ObjectsBody {
    kind: String,
    account: Option<String>,
    #[serde(default)]
    fields: Map<String, Value>,
    count: Option<usize>,
}

#[derive(Deserialize, Default)]
struct TokenBody {
    client_id: Option<String>,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct ClockBody {
    advance_secs: i64,
}

#[derive(Deserialize, Default)]
struct ConfigBody {
    segment_user_wait_ms: Option<u64>,
    read_lag_ms: Option<u64>,
    daily_calls_per_app_endpoint: Option<u64>,
    daily_calls_per_member_endpoint: Option<u64>,
    auto_create_accounts: Option<bool>,
}

fn admin_error(status: StatusCode, msg: &str) -> Response {
    (status, AxumJson(json!({ "error": msg }))).into_response()
}

/// An admin id: digits, or a (possibly percent-encoded) URN whose last part is digits.
fn admin_id(raw: &str) -> Option<u64> {
    let d = restli::percent_decode(raw)?;
    d.rsplit(':').next()?.parse().ok()
}

fn admin_router(emu: LinkedInEmulator) -> Router {
    let e = emu.clone();
    let r = Router::new().route(
        "/_emulator/linkedin/ad_accounts",
        post(move |AxumJson(b): AxumJson<AccountBody>| {
            let emu = e.clone();
            async move {
                let id = match b.id {
                    Some(id) => id,
                    None => {
                        let mut st = emu.inner.lock();
                        (510_000_000 + 1000 + st.new_id() % 1_000_000).to_string()
                    }
                };
                if id.is_empty() || !id.bytes().all(|c| c.is_ascii_digit()) {
                    return admin_error(StatusCode::BAD_REQUEST, "id must be decimal digits");
                }
                let mut a = Account::new(&id, b.currency.as_deref().unwrap_or("USD"), b.name.as_deref());
                if let Some(r) = b.role {
                    a.role = Some(r).filter(|r| !r.is_empty());
                }
                if let Some(r) = b.reference {
                    a.reference = r;
                }
                if let Some(s) = b.status {
                    a.status = s;
                }
                if let Some(t) = b.test {
                    a.test = t;
                }
                let id = emu.add_account(a);
                AxumJson(json!({ "id": id })).into_response()
            }
        }),
    );
    let e = emu.clone();
    let r = r.route(
        "/_emulator/linkedin/objects",
        post(move |AxumJson(b): AxumJson<ObjectsBody>| {
            let emu = e.clone();
            async move {
                let Some(kind) = Kind::from_admin(&b.kind) else {
                    return admin_error(
                        StatusCode::BAD_REQUEST,
                        "kind must be campaign_group, campaign, creative or dmp_segment",
                    );
                };
                let mut guard = emu.inner.lock();
                let st: &mut State = &mut guard;
                let account = b
                    .account
                    .clone()
                    .unwrap_or_else(|| crate::platform::defaults::LINKEDIN_AD_ACCOUNT_ID.to_string());
                if !st.accounts.contains_key(&account) {
                    return admin_error(StatusCode::NOT_FOUND, "no such ad account");
                }
                let now = now_ms(st);
                let mut ids = Vec::new();
                for _ in 0..b.count.unwrap_or(1).max(1) {
                    let e = ads::foreign_entity(st, kind, &account, b.fields.clone(), now);
                    ids.push(json!(e));
                }
                AxumJson(json!({ "ids": ids })).into_response()
            }
        }),
    );
    let (e1, e2) = (emu.clone(), emu.clone());
    let r = r.route(
        "/_emulator/linkedin/objects/{id}",
        get(move |Path(raw): Path<String>| {
            let emu = e1.clone();
            async move {
                let st = emu.inner.lock();
                match admin_id(&raw).and_then(|id| st.entities.get(&id)) {
                    Some(e) => {
                        let mut v = ads::render(&st, e);
                        v["_emulator"] = json!({
                            "deleted": e.deleted,
                            "foreign": e.foreign,
                            "members": e.members,
                            "account": e.account,
                        });
                        AxumJson(v).into_response()
                    }
                    None => admin_error(StatusCode::NOT_FOUND, "no such object"),
                }
            }
        })
        .post(
            move |Path(raw): Path<String>, AxumJson(patch): AxumJson<Map<String, Value>>| {
                let emu = e2.clone();
                async move {
                    let mut guard = emu.inner.lock();
                    let st: &mut State = &mut guard;
                    let now = now_ms(st);
                    match admin_id(&raw).and_then(|id| st.entities.get_mut(&id)) {
                        Some(e) => {
                            let mut prev = e.clone();
                            prev.prev = None;
                            for (k, v) in patch {
                                match (k.as_str(), v) {
                                    ("review", Value::String(s)) => e.review = Some(s),
                                    (_, Value::Null) => {
                                        e.fields.remove(&k);
                                    }
                                    (_, v) => {
                                        e.fields.insert(k, v);
                                    }
                                }
                            }
                            e.prev = Some(Box::new(prev));
                            e.modified_ms = now;
                            AxumJson(json!({ "success": true })).into_response()
                        }
                        None => admin_error(StatusCode::NOT_FOUND, "no such object"),
                    }
                }
            },
        ),
    );
    let e = emu.clone();
    let r = r.route(
        "/_emulator/linkedin/dmp_segments/{id}/members",
        get(move |Path(raw): Path<String>| {
            let emu = e.clone();
            async move {
                match admin_id(&raw).and_then(|id| emu.segment_members(id)) {
                    Some(m) => AxumJson(json!({ "count": m.len(), "members": m })).into_response(),
                    None => admin_error(StatusCode::NOT_FOUND, "no such DMP segment"),
                }
            }
        }),
    );
    let e = emu.clone();
    let r = r.route(
        "/_emulator/linkedin/tokens",
        post(move |body: Bytes| {
            let emu = e.clone();
            async move {
                let b: TokenBody = serde_json::from_slice(&body).unwrap_or_default();
                let cfg = emu.inner.config();
                let client = b.client_id.unwrap_or_else(|| cfg.clients[0].0.clone());
                if cfg.secret_of(&client).is_none() {
                    return admin_error(StatusCode::BAD_REQUEST, "unknown client_id");
                }
                let scope = b.scope.unwrap_or_else(|| oauth::ALL_SCOPES.to_string());
                let mut st = emu.inner.lock();
                let now = now_ms(&st);
                let v = oauth::issue_pair(&mut st, &cfg, &client, &scope, now);
                AxumJson(v).into_response()
            }
        }),
    );
    let e = emu.clone();
    let r = r.route(
        "/_emulator/linkedin/clock",
        post(move |AxumJson(b): AxumJson<ClockBody>| {
            let emu = e.clone();
            async move {
                let mut st = emu.inner.lock();
                st.clock_offset_ms += b.advance_secs.saturating_mul(1000);
                AxumJson(json!({ "clock_offset_ms": st.clock_offset_ms })).into_response()
            }
        }),
    );
    let e = emu.clone();
    let r = r.route(
        "/_emulator/linkedin/config",
        post(move |AxumJson(b): AxumJson<ConfigBody>| {
            let emu = e.clone();
            async move {
                emu.configure(|c| {
                    if let Some(v) = b.segment_user_wait_ms {
                        c.segment_user_wait = Duration::from_millis(v);
                    }
                    if let Some(v) = b.read_lag_ms {
                        c.read_lag = Duration::from_millis(v);
                    }
                    if let Some(v) = b.daily_calls_per_app_endpoint {
                        c.daily_calls_per_app_endpoint = Some(v).filter(|v| *v > 0);
                    }
                    if let Some(v) = b.daily_calls_per_member_endpoint {
                        c.daily_calls_per_member_endpoint = Some(v).filter(|v| *v > 0);
                    }
                    if let Some(v) = b.auto_create_accounts {
                        c.auto_create_accounts = v;
                    }
                });
                AxumJson(json!({ "success": true })).into_response()
            }
        }),
    );
    let e = emu;
    r.route(
        "/_emulator/linkedin/store",
        get(move || {
            let emu = e.clone();
            async move { AxumJson(emu.dump()).into_response() }
        }),
    )
}

impl PlatformEmulator for LinkedInEmulator {
    fn name(&self) -> &'static str {
        "linkedin"
    }

    fn router(&self) -> Router {
        let inner = self.inner.clone();
        let api = any(move |req: Request| rest_entry(inner.clone(), req));
        let inner = self.inner.clone();
        let auth = any(move |req: Request| oauth_entry(inner.clone(), req));
        Router::new()
            .route("/rest", api.clone())
            .route("/rest/{*path}", api)
            .route("/oauth/v2/{*path}", auth)
            .merge(admin_router(self.clone()))
    }

    /// ServerError: HTTP 500 in the classic envelope. RateLimit: HTTP 429 with the throttle message, no
    /// Retry-After.
    fn fault_response(&self, fault: FaultKind) -> Response {
        let cfg = self.inner.config();
        let uuid = {
            let mut st = self.inner.lock();
            trace_id(&mut st, cfg.seed ^ hash_str("fault"))
        };
        let e = match fault {
            FaultKind::RateLimit => ApiError::throttled(),
            _ => ApiError::internal(),
        };
        error_response(&e, &uuid)
    }

    fn dump(&self) -> Value {
        serde_json::to_value(&*self.inner.lock()).unwrap_or(Value::Null)
    }

    fn restore(&self, dump: Value) -> Result<(), String> {
        let st: State = serde_json::from_value(dump).map_err(|e| format!("invalid LinkedIn emulator state: {e}"))?;
        *self.inner.lock() = st;
        Ok(())
    }

    fn reset(&self) {
        let cfg = self.inner.config();
        *self.inner.lock() = fresh_state(&cfg);
    }
}
