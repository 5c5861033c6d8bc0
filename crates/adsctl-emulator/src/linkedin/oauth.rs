//! 3-legged OAuth 2.0 (WIRE-NOTES § Auth): the authorization page (approves at once and redirects to the loopback
//! redirect_uri with `code` and `state`), the code and refresh-token grants of `/oauth/v2/accessToken`
//! (form-encoded; access tokens live 60 days = `expires_in` 5184000; a refresh token lives 365 days from the
//! member's first consent and a refresh does not renew it), and `/oauth/v2/introspectToken`.

use axum::http::{header, request::Parts, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sha2::Digest as _;

use super::error::ApiError;
use super::state::{CodeInfo, LinkedInConfig, State, TokenInfo};
use super::{now_ms, Inner};
use crate::platform::defaults;
use crate::rng::{hash_str, mix64};

/// Every scope the emulator knows (the well-known token carries them all).
pub const ALL_SCOPES: &str = "r_ads rw_ads r_ads_reporting rw_dmp_segments";
const KNOWN_SCOPES: &[&str] = &[
    "r_ads",
    "rw_ads",
    "r_ads_reporting",
    "rw_dmp_segments",
    "r_basicprofile",
    "r_organization_social",
    "openid",
    "profile",
    "email",
];
/// Access token lifetime (60 days).
pub const ACCESS_TTL_SECS: i64 = 5_184_000;
/// Refresh token lifetime from first consent (365 days).
pub const REFRESH_TTL_SECS: i64 = 31_536_000;
/// Authorization codes live 30 minutes (unverified reading).
pub const CODE_TTL_SECS: i64 = 1800;

pub fn sha256_hex(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn secret(st: &mut State, seed: u64, prefix: &str) -> String {
    st.next_id += 1;
    let n = st.next_id;
    let a = mix64(seed ^ hash_str(prefix) ^ mix64(n));
    let b = mix64(a ^ n.rotate_left(19));
    let c = mix64(b ^ 0x5bd1_e995);
    format!("{prefix}{a:016x}{b:016x}{c:016x}")
}

/// Who a bearer token is.
pub struct Grant {
    pub client_id: String,
    pub scope: String,
    pub static_token: bool,
}

pub fn grant_of(st: &State, cfg: &LinkedInConfig, token: &str, now: i64) -> Result<Grant, ApiError> {
    if cfg.static_tokens.iter().any(|t| t == token) {
        return Ok(Grant {
            client_id: cfg.clients[0].0.clone(),
            scope: ALL_SCOPES.to_string(),
            static_token: true,
        });
    }
    match st.tokens.get(&sha256_hex(token)) {
        Some(t) if t.revoked => Err(ApiError::invalid_token(
            "The token used in the request has been revoked by the user",
        )),
        Some(t) if t.expires_ms <= now => Err(ApiError::invalid_token("The token used in the request has expired")),
        Some(t) => Ok(Grant {
            client_id: t.client_id.clone(),
            scope: t.scope.clone(),
            static_token: false,
        }),
        None => Err(ApiError::invalid_token("Invalid access token")),
    }
}

/// Mint an access token and a new refresh token (a first consent).
pub fn issue_pair(st: &mut State, cfg: &LinkedInConfig, client: &str, scope: &str, now: i64) -> Value {
    let refresh = secret(st, cfg.seed, "AQW");
    st.refresh_tokens.insert(
        sha256_hex(&refresh),
        TokenInfo {
            client_id: client.to_string(),
            scope: scope.to_string(),
            created_ms: now,
            expires_ms: now + REFRESH_TTL_SECS * 1000,
            refresh: None,
            consent_ms: now,
            revoked: false,
        },
    );
    let (access, expires_in) = issue_access(
        st,
        cfg,
        client,
        scope,
        now,
        &sha256_hex(&refresh),
        now + REFRESH_TTL_SECS * 1000,
    );
    json!({
        "access_token": access,
        "expires_in": expires_in,
        "refresh_token": refresh,
        "refresh_token_expires_in": REFRESH_TTL_SECS,
        "scope": scope,
    })
}

fn issue_access(
    st: &mut State,
    cfg: &LinkedInConfig,
    client: &str,
    scope: &str,
    now: i64,
    refresh_key: &str,
    refresh_expires_ms: i64,
) -> (String, i64) {
    let access = secret(st, cfg.seed, "AQV");
    let expires_ms = (now + ACCESS_TTL_SECS * 1000).min(refresh_expires_ms);
    st.tokens.insert(
        sha256_hex(&access),
        TokenInfo {
            client_id: client.to_string(),
            scope: scope.to_string(),
            created_ms: now,
            expires_ms,
            refresh: Some(refresh_key.to_string()),
            consent_ms: now,
            revoked: false,
        },
    );
    (access, (expires_ms - now) / 1000)
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": error, "error_description": description}).to_string(),
    )
        .into_response()
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

fn get<'a>(f: &'a [(String, String)], k: &str) -> Option<&'a str> {
    f.iter()
        .find(|(x, _)| x == k)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn is_loopback(uri: &str) -> bool {
    ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| uri.starts_with(p) && matches!(uri.as_bytes().get(p.len()), None | Some(b':') | Some(b'/')))
}

pub async fn entry(inner: &Inner, parts: &Parts, body: &[u8]) -> Response {
    let cfg = inner.config();
    let path = parts.uri.path();
    match (path, &parts.method) {
        ("/oauth/v2/authorization", &Method::GET) => {
            authorize(inner, &cfg, &form(parts.uri.query().unwrap_or("").as_bytes()))
        }
        ("/oauth/v2/accessToken", &Method::POST) => {
            let ct = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !ct.starts_with("application/x-www-form-urlencoded") {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "The request must be application/x-www-form-urlencoded",
                );
            }
            access_token(inner, &cfg, &form(body))
        }
        ("/oauth/v2/introspectToken", &Method::POST) => introspect(inner, &cfg, &form(body)),
        ("/oauth/v2/authorization" | "/oauth/v2/accessToken" | "/oauth/v2/introspectToken", _) => {
            oauth_error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request", "Method not allowed")
        }
        _ => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

fn authorize(inner: &Inner, cfg: &LinkedInConfig, q: &[(String, String)]) -> Response {
    let page = |msg: &str| {
        (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            maud::html! { (maud::DOCTYPE) html { body { h1 { "Authorization failed" } p { (msg) } } } }.into_string(),
        )
            .into_response()
    };
    let Some(client) = get(q, "client_id") else {
        return page("client_id is missing");
    };
    if cfg.secret_of(client).is_none() {
        return page("The client_id is not registered.");
    }
    let Some(redirect) = get(q, "redirect_uri") else {
        return page("redirect_uri is missing");
    };
    if !is_loopback(redirect) {
        return page("The emulator redirects to loopback addresses only.");
    }
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let state = get(q, "state").unwrap_or("");
    let back = |params: Vec<(&str, String)>| {
        let mut all = params;
        if !state.is_empty() {
            all.push(("state", state.to_string()));
        }
        let qs = serde_urlencoded::to_string(&all).unwrap_or_default();
        Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, format!("{redirect}{sep}{qs}"))
            .body(axum::body::Body::empty())
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    };
    if get(q, "response_type") != Some("code") {
        return back(vec![
            ("error", "invalid_request".into()),
            ("error_description", "response_type must be code".into()),
        ]);
    }
    let scope = get(q, "scope").unwrap_or("");
    let scopes: Vec<&str> = scope.split([' ', ',']).filter(|s| !s.is_empty()).collect();
    if scopes.is_empty() || scopes.iter().any(|s| !KNOWN_SCOPES.contains(s)) {
        return back(vec![
            ("error", "invalid_scope".into()),
            (
                "error_description",
                format!("Scope \"{scope}\" is not authorized for your application"),
            ),
        ]);
    }
    let mut st = inner.lock();
    let now = now_ms(&st);
    let code = secret(&mut st, cfg.seed, "AQT");
    st.codes.insert(
        sha256_hex(&code),
        CodeInfo {
            client_id: client.to_string(),
            redirect_uri: redirect.to_string(),
            scope: scopes.join(" "),
            expires_ms: now + CODE_TTL_SECS * 1000,
            used: false,
        },
    );
    back(vec![("code", code)])
}

fn access_token(inner: &Inner, cfg: &LinkedInConfig, f: &[(String, String)]) -> Response {
    let (Some(client), Some(secret_in)) = (get(f, "client_id"), get(f, "client_secret")) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "A required parameter \"client_id\" or \"client_secret\" is missing",
        );
    };
    if cfg.secret_of(client) != Some(secret_in) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let mut st = inner.lock();
    let now = now_ms(&st);
    match get(f, "grant_type") {
        Some("authorization_code") => {
            let (Some(code), Some(redirect)) = (get(f, "code"), get(f, "redirect_uri")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "A required parameter \"code\" or \"redirect_uri\" is missing",
                );
            };
            let key = sha256_hex(code);
            let ok = match st.codes.get_mut(&key) {
                Some(c) if !c.used && c.expires_ms > now && c.client_id == client && c.redirect_uri == redirect => {
                    c.used = true;
                    Some(c.scope.clone())
                }
                _ => None,
            };
            let Some(scope) = ok else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The authorization code has expired, was already used, or does not match the redirect_uri",
                );
            };
            let v = issue_pair(&mut st, cfg, client, &scope, now);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                v.to_string(),
            )
                .into_response()
        }
        Some("refresh_token") => {
            let Some(rt) = get(f, "refresh_token") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "A required parameter \"refresh_token\" is missing",
                );
            };
            let key = sha256_hex(rt);
            let info = if rt == defaults::LINKEDIN_REFRESH_TOKEN {
                let born = st.born_ms;
                Some(TokenInfo {
                    client_id: cfg.clients[0].0.clone(),
                    scope: ALL_SCOPES.to_string(),
                    created_ms: born,
                    expires_ms: born + REFRESH_TTL_SECS * 1000,
                    refresh: None,
                    consent_ms: born,
                    revoked: false,
                })
            } else {
                st.refresh_tokens.get(&key).cloned()
            };
            let Some(info) = info.filter(|i| !i.revoked && i.client_id == client) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The provided refresh token is invalid",
                );
            };
            if info.expires_ms <= now {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The provided refresh token has expired: the member must authorize the application again",
                );
            }
            let (access, expires_in) = issue_access(&mut st, cfg, client, &info.scope, now, &key, info.expires_ms);
            let v = json!({
                "access_token": access,
                "expires_in": expires_in,
                "refresh_token": rt,
                "refresh_token_expires_in": (info.expires_ms - now) / 1000,
                "scope": info.scope,
            });
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                v.to_string(),
            )
                .into_response()
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
    }
}

fn introspect(inner: &Inner, cfg: &LinkedInConfig, f: &[(String, String)]) -> Response {
    let ok = match (get(f, "client_id"), get(f, "client_secret")) {
        (Some(c), Some(s)) => cfg.secret_of(c) == Some(s),
        _ => false,
    };
    if !ok {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let Some(token) = get(f, "token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "A required parameter \"token\" is missing",
        );
    };
    let st = inner.lock();
    let now = now_ms(&st);
    let v = if cfg.static_tokens.iter().any(|t| t == token) {
        json!({"active": true, "client_id": cfg.clients[0].0, "authorized_at": st.born_ms / 1000,
               "created_at": st.born_ms / 1000, "status": "active", "expires_at": (st.born_ms / 1000) + 10 * REFRESH_TTL_SECS,
               "scope": ALL_SCOPES.replace(' ', ","), "auth_type": "3L"})
    } else {
        match st.tokens.get(&sha256_hex(token)) {
            Some(t) => {
                let status = if t.revoked {
                    "revoked"
                } else if t.expires_ms <= now {
                    "expired"
                } else {
                    "active"
                };
                json!({"active": status == "active", "client_id": t.client_id, "authorized_at": t.consent_ms / 1000,
                       "created_at": t.created_ms / 1000, "status": status, "expires_at": t.expires_ms / 1000,
                       "scope": t.scope.replace(' ', ","), "auth_type": "3L"})
            }
            None => json!({"active": false}),
        }
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}
