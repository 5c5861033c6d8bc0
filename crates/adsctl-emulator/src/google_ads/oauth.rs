//! Google's OAuth 2.0 endpoints as adsctl uses them: `POST /token` (refresh_token and authorization_code
//! grants, PKCE S256/plain verified) and an authorize page `GET /o/oauth2/v2/auth` that approves at once and
//! redirects to the loopback `redirect_uri` with `code` and `state`.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::Inner;

pub const SCOPE: &str = "https://www.googleapis.com/auth/adwords";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: Option<String>,
    pub method: String,
    pub scope: String,
}

pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({"error": error, "error_description": description}))).into_response()
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let b = v.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD.decode(b.trim()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (id, secret) = s.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

pub fn token(inner: &Inner, headers: &HeaderMap, body: &[u8]) -> Response {
    let Ok(form) = serde_urlencoded::from_bytes::<HashMap<String, String>>(body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Could not parse the request body.",
        );
    };
    let (client_id, client_secret) = match basic_auth(headers) {
        Some(c) => c,
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    if inner.cfg.clients.get(&client_id) != Some(&client_secret) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    let grant = form.get("grant_type").map(String::as_str).unwrap_or_default();
    let mut st = inner.state.lock();
    let refresh = match grant {
        "refresh_token" => {
            let rt = form.get("refresh_token").cloned().unwrap_or_default();
            if !inner.cfg.refresh_tokens.contains(&rt) && !st.refresh_tokens.contains(&rt) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token has been expired or revoked.",
                );
            }
            None
        }
        "authorization_code" => {
            let code = form.get("code").cloned().unwrap_or_default();
            let Some(g) = st.codes.remove(&code) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Malformed auth code.");
            };
            if g.client_id != client_id {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Malformed auth code.");
            }
            if form.get("redirect_uri") != Some(&g.redirect_uri) {
                return oauth_error(StatusCode::BAD_REQUEST, "redirect_uri_mismatch", "Bad Request");
            }
            if let Some(ch) = &g.challenge {
                let Some(verifier) = form.get("code_verifier") else {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Missing code verifier.");
                };
                let computed = if g.method == "S256" {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
                } else {
                    verifier.clone()
                };
                if &computed != ch {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Invalid code verifier.");
                }
            }
            let rt = format!("1//emu-{}", st.random_hex());
            st.refresh_tokens.insert(rt.clone());
            Some(rt)
        }
        other => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("Invalid grant_type: {other}"),
            )
        }
    };
    let at = format!("ya29.emu-{}", st.random_hex());
    let ttl = inner.cfg.token_ttl.as_secs();
    st.access_tokens.insert(at.clone(), now_secs() + ttl);
    let mut body = json!({"access_token": at, "expires_in": ttl, "scope": SCOPE, "token_type": "Bearer"});
    if let Some(rt) = refresh {
        body["refresh_token"] = json!(rt);
    }
    (StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

fn is_loopback_redirect(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(
        host,
        |(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { host },
    );
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

fn page(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        maud::html! {
            (maud::DOCTYPE)
            title { "Sign in - Google Accounts (emulator)" }
            p { (text) }
        }
        .into_string(),
    )
        .into_response()
}

pub fn authorize(inner: &Inner, query: &str) -> Response {
    let q: HashMap<String, String> = serde_urlencoded::from_str(query).unwrap_or_default();
    let client_id = q.get("client_id").cloned().unwrap_or_default();
    if !inner.cfg.clients.contains_key(&client_id) {
        return page(
            StatusCode::UNAUTHORIZED,
            "Error 401: invalid_client. The OAuth client was not found.",
        );
    }
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    if !is_loopback_redirect(&redirect) {
        return page(StatusCode::BAD_REQUEST, "Error 400: redirect_uri_mismatch");
    }
    if q.get("response_type").map(String::as_str) != Some("code") {
        return page(
            StatusCode::BAD_REQUEST,
            "Error 400: invalid_request. Invalid response_type.",
        );
    }
    let challenge = q.get("code_challenge").cloned();
    let method = q
        .get("code_challenge_method")
        .cloned()
        .unwrap_or_else(|| "plain".into());
    if challenge.is_some() && method != "S256" && method != "plain" {
        return page(
            StatusCode::BAD_REQUEST,
            "Error 400: invalid_request. Invalid code_challenge_method.",
        );
    }
    let scope = q.get("scope").cloned().unwrap_or_else(|| SCOPE.to_string());
    let mut st = inner.state.lock();
    let code = format!("4/0Aemu-{}", st.random_hex());
    st.codes.insert(
        code.clone(),
        CodeGrant {
            client_id,
            redirect_uri: redirect.clone(),
            challenge,
            method,
            scope: scope.clone(),
        },
    );
    let mut params = vec![("code", code.as_str()), ("scope", scope.as_str())];
    if let Some(s) = q.get("state") {
        params.push(("state", s.as_str()));
    }
    let qs = serde_urlencoded::to_string(&params).unwrap_or_default();
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let location = format!("{redirect}{sep}{qs}");
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_only() {
        assert!(is_loopback_redirect("http://127.0.0.1:8765/callback"));
        assert!(is_loopback_redirect("http://localhost:1/"));
        assert!(is_loopback_redirect("http://[::1]:9/x"));
        assert!(!is_loopback_redirect("https://evil.example/cb"));
        assert!(!is_loopback_redirect("http://127.0.0.1.evil.example/cb"));
    }
}
