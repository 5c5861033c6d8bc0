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
//!   gzip JSON);
//! - `POST /12/batch/accounts/{a}/campaigns`, `…/line_items` (≤40) and `…/targeting_criteria` (≤500, Create and
//!   Delete) with JSON bodies, all-or-nothing.
//!
//! Every request is verified as OAuth 1.0a HMAC-SHA1 ([`oauth`]); single-entity POST/PUT take their parameters in
//! the query string (a form body is also collected and signed); JSON bodies are not signed. Every response
//! carries `x-current-api-version: 12`.
//!
//! This file verifies, rate-limits and routes each request; the handlers live by concern: [`accounts`] (and the
//! read-only funding instruments), [`objects`] (rendering, lists and the create/read/update/delete every kind
//! shares), [`campaigns`] (campaign and line item fields and rules), [`targeting`] (promoted tweets and targeting
//! criteria), [`audiences`] (custom audiences and their users), [`stats`] (sync stats, async jobs and their
//! results), [`batch`], [`admin`]; [`error`] holds the error envelope, [`params`] parameter reading and paging,
//! [`state`] the settings and the store.
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
//!   `POST objects/{id}` `{field: value, …}` → a change by another client (no validation), the object rendered;
//! - `POST clock` `{"advance_secs": N}`;
//! - `POST config` `{"timestamp_window_secs", "max_active_campaigns", "account_reads_per_15_min",
//!   "writes_per_minute"}` (a limit of 0 switches it off);
//! - `GET custom_audiences/{id}/members` → `{"members": ["email:<sha256>", …], "count"}`;
//! - `GET stats_results/{id}` → a finished job's gzip JSON (the job's `url`);
//! - `GET store` → the whole state (audience members under `audience_members`).

pub mod accounts;
pub mod admin;
pub mod audiences;
pub mod batch;
pub mod campaigns;
pub mod error;
pub mod oauth;
pub mod objects;
pub mod params;
pub mod state;
pub mod stats;
pub mod targeting;

use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json as AxumJson, Router};
use serde_json::{json, Value};

use crate::config::EmulatorConfig;
use crate::counters::{EndpointLabel, OperationCount};
use crate::platform::{defaults, FaultKind, PlatformEmulator};

pub use error::XErr;
pub use params::Params;
pub use state::{is_base36, to_base36, Account, Job, Kind, Obj, State, XConfig};
pub use stats::{
    job_result, MAX_ASYNC_DAYS, MAX_ASYNC_SEGMENTED_DAYS, MAX_CONCURRENT_JOBS, MAX_STATS_IDS, MAX_SYNC_STATS_DAYS,
};

use accounts::{list_accounts, render_account, update_account};
use admin::admin_router;
use audiences::audience_users;
use batch::batch;
use error::{account_not_found, error_response, route_not_found, unauthorized, with_headers, Reply, Routed};
use objects::{create, delete, get_one, list, update};
use state::fresh_state;
use stats::{create_job, list_jobs, sync_stats};
use targeting::create_promoted_tweets;

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
    /// Add an ads account (with its funding instrument) to a running emulator, as the `x:` seed section does at
    /// start; an account already held is left as it is. Returns the funding instrument's id.
    pub fn add_account(&self, seed: &crate::config::XAccountSeed) -> String {
        let mut st = self.inner.lock();
        if st.accounts.contains_key(&seed.id) {
            return st
                .objects
                .values()
                .find(|o| o.kind == state::Kind::FundingInstrument && o.account == seed.id)
                .map(|o| o.id.clone())
                .unwrap_or_default();
        }
        let now = st.now();
        state::insert_account(&mut st, seed, now)
    }
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

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::stats::gzip;

    #[test]
    fn gzip_round_trips_through_flate2() {
        // over 64 KiB, so more than one deflate block; repetitive, so really compressed
        let json = serde_json::json!({"data": vec![serde_json::json!({"impressions": [1, 2, 3]}); 5000]}).to_string();
        assert!(json.len() > 65_535);
        let gz = gzip(json.as_bytes()).unwrap();
        assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
        assert!(gz.len() < json.len() / 10);
        let mut out = String::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut out).unwrap();
        assert_eq!(out, json);
        let mut empty = Vec::new();
        flate2::read::GzDecoder::new(&gzip(b"").unwrap()[..])
            .read_to_end(&mut empty)
            .unwrap();
        assert!(empty.is_empty());
    }
}
