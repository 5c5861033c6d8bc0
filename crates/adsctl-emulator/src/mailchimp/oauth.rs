//! OAuth 2 (WIRE-NOTES § Auth): the authorization-code flow without PKCE or scopes. `GET /oauth2/authorize`
//! approves at once as the well-known account and redirects to `redirect_uri` with `code` (and `state`);
//! `POST /oauth2/token` (form-encoded: grant_type=authorization_code, client_id, client_secret, redirect_uri,
//! code) answers `{access_token, expires_in: 0, scope: null}`: tokens never expire and there is no refresh token;
//! `GET /oauth2/metadata` with `Authorization: OAuth <token>` (Bearer is also accepted) answers the account's
//! `dc` and `api_endpoint` (the emulator itself); a bad token gets HTTP 200 `{"error": "invalid_token"}`.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::Inner;
use crate::platform::defaults;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({"error": error, "error_description": description}))).into_response()
}

fn pairs(s: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(s).unwrap_or_default()
}

fn find<'a>(p: &'a [(String, String)], k: &str) -> Option<&'a str> {
    p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

pub fn router(inner: Arc<Inner>) -> Router {
    let (a, b, c) = (inner.clone(), inner.clone(), inner);
    Router::new()
        .route(
            "/oauth2/authorize",
            get(move |req: Request| {
                let inner = a.clone();
                async move { authorize(&inner, &pairs(req.uri().query().unwrap_or(""))) }
            }),
        )
        .route(
            "/oauth2/token",
            post(move |req: Request| {
                let inner = b.clone();
                async move {
                    let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap_or_default();
                    token(&inner, &pairs(&String::from_utf8_lossy(&body)))
                }
            }),
        )
        .route(
            "/oauth2/metadata",
            get(move |req: Request| {
                let inner = c.clone();
                async move {
                    let host = req
                        .headers()
                        .get(header::HOST)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("127.0.0.1")
                        .to_string();
                    let auth = req
                        .headers()
                        .get(header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    metadata(&inner, &auth, &host)
                }
            }),
        )
}

fn authorize(inner: &Inner, q: &[(String, String)]) -> Response {
    let cfg = inner.config();
    if find(q, "response_type") != Some("code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "response_type must be code",
        );
    }
    let Some(client) = find(q, "client_id").filter(|c| cfg.clients.contains_key(*c)) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client", "Unknown client_id");
    };
    let Some(redirect) = find(q, "redirect_uri").filter(|r| !r.is_empty()) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "redirect_uri is required");
    };
    let mut st = inner.lock();
    let code = st.hex_id("code", 32);
    st.codes.insert(
        code.clone(),
        super::Code {
            client_id: client.to_string(),
            redirect_uri: redirect.to_string(),
            account: defaults::MAILCHIMP_ACCOUNT_ID.to_string(),
        },
    );
    let mut q2 = vec![("code".to_string(), code)];
    if let Some(s) = find(q, "state") {
        q2.push(("state".to_string(), s.to_string()));
    }
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let location = format!(
        "{redirect}{sep}{}",
        serde_urlencoded::to_string(&q2).unwrap_or_default()
    );
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn token(inner: &Inner, f: &[(String, String)]) -> Response {
    let cfg = inner.config();
    if find(f, "grant_type") != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code",
        );
    }
    let client = find(f, "client_id").unwrap_or("");
    if cfg.clients.get(client).map(String::as_str) != find(f, "client_secret") || client.is_empty() {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client_id or client_secret",
        );
    }
    let mut st = inner.lock();
    let code = find(f, "code").unwrap_or("");
    let good = st
        .codes
        .get(code)
        .is_some_and(|c| c.client_id == client && Some(c.redirect_uri.as_str()) == find(f, "redirect_uri"));
    if !good {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid authorization code");
    }
    let Some(c) = st.codes.remove(code) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid authorization code");
    };
    let access = st.hex_id("token", 32);
    st.tokens.insert(access.clone(), c.account);
    Json(json!({"access_token": access, "expires_in": 0, "scope": Value::Null})).into_response()
}

fn metadata(inner: &Inner, auth: &str, host: &str) -> Response {
    let cfg = inner.config();
    let st = inner.lock();
    let token = auth
        .split_once(' ')
        .filter(|(s, _)| s.eq_ignore_ascii_case("oauth") || s.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .unwrap_or("");
    let account = cfg.oauth_tokens.get(token).or_else(|| st.tokens.get(token));
    let Some(a) = account.and_then(|a| st.accounts.get(a)) else {
        return Json(json!({"error": "invalid_token"})).into_response();
    };
    Json(json!({
        "dc": cfg.dc, "role": "owner", "accountname": a.name, "user_id": crate::rng::hash_str(&a.id) % 100_000_000,
        "login": {"email": "owner@emulator.invalid", "avatar": Value::Null, "login_id": crate::rng::hash_str(&a.id) % 100_000_000,
                  "login_name": "emulator", "login_email": "owner@emulator.invalid"},
        "login_url": "https://login.mailchimp.com", "api_endpoint": format!("http://{host}"),
    }))
    .into_response()
}
