//! The integration and metrics routes of `/api/v1` (issue 26): list and read integrations; validate, refresh,
//! connect (OAuth authorization code with PKCE through the daemon's own callback) and disconnect one; metrics
//! of one account or many from the metrics store. Access control, the audit entry written before every action,
//! and the route table are the server's ([`super::server`]).
//!
//! A `connect` keeps its login (the `state`, the PKCE verifier, the account) in memory only, for
//! [`LOGIN_TTL`], and for one use: the callback looks the `state` up in constant time, takes the login out,
//! exchanges the code with the platform ([`crate::auth::Auth::finish_login`], shared with `adsctl auth login`)
//! and stores the credentials in the vault. The callback needs no bearer token (the browser is redirected to
//! it) and does nothing without a live `state`. No response, log line or audit entry carries a token, the code
//! or the verifier.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;

use super::integrations::{self, Integration, Sources, TokenInfo, Usage};
use super::server::{api_error, audit_before, json_error, operator, Access, ApiError, AppState};
use super::MetricsQuery;
use crate::audit::{AuditEntry, AuditLog};
use crate::auth::{Auth, AuthError, PendingLogin};
use crate::connectors::DateRange;
use crate::metrics::{Bucket, Level, MetricsError};
use crate::model::Account;
use crate::secret::scrub;
use crate::spec::Project;

/// How long a `connect` waits for its callback.
pub const LOGIN_TTL: Duration = Duration::minutes(10);
/// Logins waiting at once; the oldest is dropped beyond this.
const MAX_PENDING: usize = 64;
/// The longest range of a metrics request (as `adsctl metrics --last`).
const MAX_DAYS: i64 = 1110;

/// A login begun through `connect`.
struct Pending {
    login: PendingLogin,
    /// Who asked (the API token's name, or `loopback`).
    by: String,
    /// `by` is an API token's name.
    api_token: bool,
    expires_at: DateTime<Utc>,
}

/// The logins waiting for their callback (in memory only).
#[derive(Default)]
pub(super) struct Logins {
    pending: parking_lot::Mutex<Vec<Pending>>,
}

impl Logins {
    fn insert(&self, p: Pending) {
        let mut g = self.pending.lock();
        let now = Utc::now();
        g.retain(|x| x.expires_at > now);
        if g.len() >= MAX_PENDING {
            g.remove(0);
        }
        g.push(p);
    }

    /// The live login whose state is `state`, taken out (one use). Every live login is compared, in constant
    /// time each, whatever matches.
    fn take(&self, state: &str) -> Option<Pending> {
        let mut g = self.pending.lock();
        let now = Utc::now();
        g.retain(|x| x.expires_at > now);
        let mut found = None;
        for (i, p) in g.iter().enumerate() {
            if p.login.state_matches(state) && found.is_none() {
                found = Some(i);
            }
        }
        found.map(|i| g.remove(i))
    }
}

/// The account `id` of the daemon's last good config, or 404 (503 before a config was loaded).
fn account_of(st: &AppState, id: &str) -> Result<(Arc<Project>, Account), ApiError> {
    let Some(project) = st.hub.project() else {
        return Err(api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no valid config has been loaded yet",
            "see /api/v1/status for the config's errors",
        ));
    };
    match project.accounts.get(id).cloned() {
        Some(a) => Ok((project, a)),
        None => Err(api_error(
            StatusCode::NOT_FOUND,
            format!("no integration {id:?}: no such account in the daemon's config"),
            "the integrations are at /api/v1/integrations (one per account of adsctl.yaml)",
        )),
    }
}

fn auth_of(st: &AppState) -> Result<Auth, ApiError> {
    st.api.auth.clone().ok_or_else(|| {
        api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server manages no credentials",
            "integrations are served by `adsctl watch`",
        )
    })
}

/// The HTTP status of an auth error: the platform or the network (502), or something to set up first (409).
fn auth_status_code(e: &AuthError) -> StatusCode {
    match e {
        AuthError::Api { .. } | AuthError::Transport { .. } => StatusCode::BAD_GATEWAY,
        AuthError::UnknownAccount { .. } => StatusCode::NOT_FOUND,
        _ => StatusCode::CONFLICT,
    }
}

fn error_doc(e: &AuthError) -> serde_json::Value {
    json!({"error": scrub(&e.to_string()), "hint": scrub(&e.hint())})
}

/// The account's `auth status` row as the API shows it (reads the vault and the health file).
async fn token_of(auth: &Auth, account: &Account) -> TokenInfo {
    let (auth, account) = (auth.clone(), account.clone());
    let row = tokio::task::spawn_blocking(move || auth.status(std::slice::from_ref(&account)).into_iter().next())
        .await
        .ok()
        .flatten();
    integrations::token_info(row.as_ref())
}

/// Every integration of the daemon (see [`integrations::integrations`]).
pub(super) async fn gather(st: &AppState) -> Vec<Integration> {
    let snapshot = st.hub.snapshot();
    let activity = st.hub.activity();
    let project = st.hub.project();
    let accounts: Vec<Account> = project
        .as_ref()
        .map(|p| p.accounts.values().cloned().collect())
        .unwrap_or_default();
    let tokens = match st.api.auth.clone() {
        Some(auth) => {
            let accounts = accounts.clone();
            tokio::task::spawn_blocking(move || auth.status(&accounts))
                .await
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    let usage = match (&st.api.reconciler, &project) {
        (Some(r), Some(p)) => {
            let today = Utc::now().date_naive();
            let query = MetricsQuery {
                range: DateRange {
                    since: today - Duration::days(integrations::USAGE_DAYS - 1),
                    until: today,
                },
                level: Level::Account,
                by: Bucket::Total,
            };
            let names: Vec<String> = p.accounts.keys().cloned().collect();
            match r.metrics_report(p, &names, &query).await {
                Ok(report) => integrations::usage_from_report(&report),
                Err(e) => {
                    tracing::warn!(error = %e, "integrations: the metrics store could not be read; usage left out");
                    BTreeMap::<String, Usage>::new()
                }
            }
        }
        _ => BTreeMap::new(),
    };
    integrations::integrations(&Sources {
        snapshot: &snapshot,
        activity: &activity,
        tokens: &tokens,
        usage: &usage,
    })
}

/// `GET /api/v1/integrations`.
pub(super) async fn list_integrations(State(st): State<AppState>) -> Response {
    Json(json!({ "integrations": gather(&st).await })).into_response()
}

/// `GET /api/v1/integrations/{id}`.
pub(super) async fn get_integration(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    match gather(&st).await.into_iter().find(|i| i.id == id) {
        Some(i) => Json(i).into_response(),
        None => json_error(
            StatusCode::NOT_FOUND,
            format!("no integration {id:?}: no such account in the daemon's config"),
            "the integrations are at /api/v1/integrations (one per account of adsctl.yaml)",
        ),
    }
}

/// The checks every action makes before anything happens: an operator, a known account, the auth stage, and
/// its audit entry written.
async fn begin_action(
    st: &AppState,
    access: &Access,
    headers: &HeaderMap,
    id: &str,
    action: &str,
) -> Result<(String, Account, Auth), ApiError> {
    let by = operator(access, headers, id)?;
    let (_, account) = account_of(st, id)?;
    let auth = auth_of(st)?;
    audit_before(st, access, &by, AuditEntry::new(action).account(id)).await?;
    tracing::info!(integration = %id, by = %by, action, "integration action through the API");
    Ok((by, account, auth))
}

/// `POST /api/v1/integrations/{id}/validate`: check the credentials against the platform (read-only calls, as
/// `adsctl auth validate`); 200 with the resulting token status whether they passed (`ok`) or not.
pub(super) async fn validate(
    State(st): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, account, auth) = begin_action(&st, &access, &headers, &id, "api.validate").await?;
    let res = auth.validate(&account).await;
    let token = token_of(&auth, &account).await;
    Ok(Json(match res {
        Ok(v) => json!({"id": id, "ok": true, "token": token, "validation": v}),
        Err(e) => json!({"id": id, "ok": false, "token": token, "error": error_doc(&e)}),
    })
    .into_response())
}

/// `POST /api/v1/integrations/{id}/refresh`: refresh the access token now (as `adsctl auth refresh`), stored in
/// the vault when the credentials live there; 200 with the resulting token status.
pub(super) async fn refresh(
    State(st): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, account, auth) = begin_action(&st, &access, &headers, &id, "api.refresh").await?;
    let res = auth.refresh(&account).await;
    let token = token_of(&auth, &account).await;
    Ok(Json(match res {
        Ok(_) => json!({"id": id, "ok": true, "token": token}),
        Err(e) => json!({"id": id, "ok": false, "token": token, "error": error_doc(&e)}),
    })
    .into_response())
}

/// `POST /api/v1/integrations/{id}/connect`: begin the OAuth authorization-code flow with PKCE whose redirect
/// is this daemon's `/api/v1/oauth/callback`; 200 with the URL to open and when the login lapses.
pub(super) async fn connect(
    State(st): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(callback) = st.callback_url.clone() else {
        // Checked before the audit entry: nothing is attempted.
        operator(&access, &headers, &id)?;
        return Err(api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server has no callback address",
            "connect through `adsctl watch`, or run `adsctl auth login`",
        ));
    };
    let (by, account, auth) = begin_action(&st, &access, &headers, &id, "api.connect").await?;
    let (url, login) = auth
        .begin_login(&account, &callback)
        .map_err(|e| ApiError::from((auth_status_code(&e), Json(error_doc(&e))).into_response()))?;
    let expires_at = Utc::now() + LOGIN_TTL;
    st.logins.insert(Pending {
        login,
        by,
        api_token: matches!(access, Access::Token { .. }),
        expires_at,
    });
    Ok(Json(json!({
        "id": id,
        "authorization_url": url.as_str(),
        "redirect_uri": callback,
        "expires_at": expires_at,
    }))
    .into_response())
}

fn page(code: StatusCode, title: &str, text: &str) -> Response {
    let body = maud::html! {
        (maud::DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "adsctl: " (title) } }
            body { h1 { (title) } p { (text) } }
        }
    };
    (
        code,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body.into_string(),
    )
        .into_response()
}

fn append_audit(st: &AppState, entry: AuditEntry) {
    if let Some(dir) = &st.api.state_dir {
        if let Err(e) = AuditLog::at_state_dir(dir).append(entry) {
            tracing::error!(error = %e, "cannot write the audit log");
        }
    }
}

/// `GET /api/v1/oauth/callback?state=…&code=…`: where the platform sends the browser back. Only a live `state`
/// of a `connect` makes it do anything: the code is exchanged, the credentials stored, an audit entry written,
/// and a small page (without any token) says how it went.
pub(super) async fn oauth_callback(
    State(st): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    // Whatever the rest, the code is a secret from here on (logs, errors).
    if let Some(c) = params.get("code") {
        crate::secret::register(c);
    }
    let pending = params.get("state").and_then(|s| st.logins.take(s));
    let Some(pending) = pending else {
        tracing::warn!("OAuth callback with a missing, unknown, used or expired state: ignored");
        return page(
            StatusCode::BAD_REQUEST,
            "this sign-in link is not valid",
            "It was used already, has expired, or was not started by this daemon. Start the connection again.",
        );
    };
    let Some(auth) = st.api.auth.clone() else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server manages no credentials",
            "Connect through `adsctl watch`.",
        );
    };
    let account = pending.login.account().name.clone();
    let entry = |action: &str| {
        let e = AuditEntry::new(action).account(&account);
        if pending.api_token {
            e.api_token(&pending.by)
        } else {
            e
        }
    };
    // Written before the code is exchanged, as for every action; then the outcome.
    append_audit(
        &st,
        entry("api.oauth_callback").detail("exchanging the authorization code"),
    );
    let login_entry = entry("auth.login");
    let res = auth.finish_login(pending.login, &params).await;
    let result = match &res {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("error: {}", scrub(&e.to_string())),
    };
    append_audit(
        &st,
        login_entry.result(result).detail("through the daemon's OAuth callback"),
    );
    match res {
        Ok(kind) => {
            tracing::info!(integration = %account, "connected through the API: credentials stored in the vault");
            page(
                StatusCode::OK,
                &format!("{account} is connected"),
                &format!(
                    "{} stored in the encrypted vault. You can close this tab.",
                    kind.describe()
                ),
            )
        }
        Err(e) => {
            tracing::warn!(integration = %account, error = %e, "connecting through the API failed");
            page(
                StatusCode::BAD_REQUEST,
                &format!("connecting {account} failed"),
                &format!("{} ({})", scrub(&e.to_string()), scrub(&e.hint())),
            )
        }
    }
}

/// `POST /api/v1/integrations/{id}/disconnect`: revoke the grant at the platform where it can be, then delete
/// the stored tokens; 200 with what was done and the resulting token status.
pub(super) async fn disconnect(
    State(st): State<AppState>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, account, auth) = begin_action(&st, &access, &headers, &id, "api.disconnect").await?;
    let d = auth
        .disconnect(&account)
        .await
        .map_err(|e| ApiError::from((auth_status_code(&e), Json(error_doc(&e))).into_response()))?;
    let token = token_of(&auth, &account).await;
    Ok(Json(json!({
        "id": id,
        "revoked": d.revoked,
        "revoke_error": d.revoke_error,
        "removed": d.removed,
        "token": token,
    }))
    .into_response())
}

/// The query of the metrics routes.
#[derive(Debug, Default, Deserialize)]
pub(super) struct MetricsParams {
    from: Option<String>,
    to: Option<String>,
    level: Option<String>,
    by: Option<String>,
    /// Bulk only: comma-separated account names (default: every account).
    accounts: Option<String>,
}

fn bad_request(message: String, hint: &str) -> ApiError {
    api_error(StatusCode::BAD_REQUEST, message, hint)
}

fn parse_choice<T: serde::de::DeserializeOwned>(
    what: &str,
    v: Option<&str>,
    default: T,
    allowed: &str,
) -> Result<T, ApiError> {
    match v {
        None | Some("") => Ok(default),
        Some(s) => serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
            bad_request(
                format!("{what}={s:?} is not one of {allowed}"),
                &format!("use one of {allowed}"),
            )
        }),
    }
}

impl MetricsParams {
    /// The range (default: the 7 days up to yesterday, as `adsctl metrics`), level and bucket.
    fn query(&self) -> Result<MetricsQuery, ApiError> {
        let date = |name: &str, v: &str| {
            NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
                .map_err(|_| bad_request(format!("{name}={v:?} is not a date"), "write dates as YYYY-MM-DD"))
        };
        let range = match (self.from.as_deref(), self.to.as_deref()) {
            (Some(f), Some(t)) => DateRange {
                since: date("from", f)?,
                until: date("to", t)?,
            },
            (None, None) => {
                let until = Utc::now().date_naive() - Duration::days(1);
                DateRange {
                    since: until - Duration::days(6),
                    until,
                }
            }
            _ => {
                return Err(bad_request(
                    "give both from and to, or neither".into(),
                    "from=YYYY-MM-DD&to=YYYY-MM-DD (both inclusive); without them: the last 7 days",
                ))
            }
        };
        if range.until < range.since {
            return Err(bad_request(
                format!("the range {}..{} ends before it starts", range.since, range.until),
                "give from on or before to",
            ));
        }
        if (range.until - range.since).num_days() >= MAX_DAYS {
            return Err(bad_request(
                format!("the range is longer than {MAX_DAYS} days"),
                "ask for a shorter range",
            ));
        }
        Ok(MetricsQuery {
            range,
            level: parse_choice(
                "level",
                self.level.as_deref(),
                Level::Campaign,
                "account, campaign, ad_group, ad, arm",
            )?,
            by: parse_choice("by", self.by.as_deref(), Bucket::Total, "day, week, month, total")?,
        })
    }
}

fn metrics_error(e: &MetricsError) -> ApiError {
    let code = match e {
        MetricsError::State(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    api_error(
        code,
        scrub(&e.to_string()),
        &e.hint().unwrap_or_else(|| "retry in a moment".into()),
    )
}

/// The report of `accounts` as `adsctl metrics --format json` prints it.
async fn report(
    st: &AppState,
    project: &Project,
    accounts: &[String],
    query: &MetricsQuery,
) -> Result<Response, ApiError> {
    let Some(r) = &st.api.reconciler else {
        return Err(api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server has no metrics store",
            "metrics are served by `adsctl watch`",
        ));
    };
    let report = r
        .metrics_report(project, accounts, query)
        .await
        .map_err(|e| metrics_error(&e))?;
    let text = crate::metrics::render::json(&report).map_err(|e| metrics_error(&MetricsError::Render(e)))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
}

/// `GET /api/v1/accounts/{name}/metrics?from=&to=&level=&by=`: one account's rows from the metrics store.
pub(super) async fn account_metrics(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Query(params): Query<MetricsParams>,
) -> Result<Response, ApiError> {
    let query = params.query()?;
    let (project, _) = account_of(&st, &name)?;
    report(&st, &project, &[name], &query).await
}

/// `GET /api/v1/metrics?accounts=a,b&from=&to=&level=&by=`: many accounts' rows at once (default: all).
pub(super) async fn bulk_metrics(
    State(st): State<AppState>,
    Query(params): Query<MetricsParams>,
) -> Result<Response, ApiError> {
    let query = params.query()?;
    let Some(project) = st.hub.project() else {
        return Err(api_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no valid config has been loaded yet",
            "see /api/v1/status for the config's errors",
        ));
    };
    let names: Vec<String> = match params.accounts.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => project.accounts.keys().cloned().collect(),
        Some(list) => {
            let names: Vec<String> = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if let Some(unknown) = names.iter().find(|n| !project.accounts.contains_key(*n)) {
                return Err(api_error(
                    StatusCode::NOT_FOUND,
                    format!("no account {unknown:?} in the daemon's config"),
                    "the accounts are at /api/v1/integrations",
                ));
            }
            names
        }
    };
    report(&st, &project, &names, &query).await
}
