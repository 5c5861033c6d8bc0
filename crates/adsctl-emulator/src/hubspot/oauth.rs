//! HubSpot OAuth: the consent screen (authorize), the token endpoint (code exchange and refresh, v1/v3 and date
//! versions), token metadata (v1), introspection and revocation (date versions).
//!
//! Errors of the token endpoint are 400 `{"status": "BAD_AUTH_CODE" | "BAD_CLIENT_ID" | "BAD_CLIENT_SECRET" |
//! "BAD_REDIRECT_URI" | "BAD_REFRESH_TOKEN" | "BAD_GRANT_TYPE", "message", "correlationId"}` (recalled from
//! HubSpot, not in the pack's specs: a reading).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json as AxumJson, Router};
use serde_json::{json, Value};

use super::{error_response, not_found, AccessToken, Code, HsErr, Inner, RefreshToken};
use crate::counters::EndpointLabel;
use crate::platform::defaults;

/// Access tokens are at least this long (HubSpot: allow ≥300 characters).
pub const ACCESS_TOKEN_LEN: usize = 320;

pub fn router(inner: Arc<Inner>) -> Router {
    let h = any(move |req: Request| entry(inner.clone(), req));
    Router::new()
        .route("/oauth/authorize", h.clone())
        .route("/oauth/{v}/authorize", h.clone())
        .route("/oauth/{v}/token", h.clone())
        .route("/oauth/{v}/token/introspect", h.clone())
        .route("/oauth/{v}/token/revoke", h.clone())
        .route("/oauth/{v}/access-tokens/{t}", h.clone())
        .route("/oauth/{v}/refresh-tokens/{t}", h)
}

fn oauth_error(status: &str, message: &str) -> HsErr {
    let mut e = HsErr::new(400, status, message);
    e.x.raw = Some(json!({"status": status, "message": message}));
    e
}

fn is_version(v: &str) -> bool {
    matches!(v, "2026-03" | "2026-09")
}

async fn entry(inner: Arc<Inner>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let method = parts.method.as_str().to_string();
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).unwrap_or_default();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let label = match segs.as_slice() {
        ["oauth", _, "access-tokens", _] => format!("{method} /oauth/v1/access-tokens/{{token}}"),
        ["oauth", _, "refresh-tokens", _] => format!("{method} /oauth/v1/refresh-tokens/{{token}}"),
        ["oauth", p, "authorize"] if p.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{method} /oauth/{{portalId}}/authorize")
        }
        _ => format!("{method} {path}"),
    };
    let out = match (method.as_str(), segs.as_slice()) {
        ("GET", ["oauth", "authorize"]) => authorize(&inner, None, &query),
        ("GET", ["oauth", p, "authorize"]) if p.bytes().all(|b| b.is_ascii_digit()) => {
            authorize(&inner, Some(p), &query)
        }
        ("POST", ["oauth", v, "token"]) if *v == "v1" || *v == "v3" || is_version(v) => {
            // the date versions take the fields in the body only; v1 also reads client_secret and refresh_token from
            // the query (its spec lists them there)
            let mut f = form.clone();
            if *v == "v1" {
                for k in ["client_secret", "refresh_token"] {
                    if let Some(x) = query.get(k) {
                        f.entry(k.to_string()).or_insert_with(|| x.clone());
                    }
                }
            }
            token(&inner, &f)
        }
        ("POST", ["oauth", v, "token", "introspect"]) if *v == "v3" || is_version(v) => introspect(&inner, &form),
        ("POST", ["oauth", v, "token", "revoke"]) if *v == "v3" || is_version(v) => revoke(&inner, &form),
        ("GET", ["oauth", "v1", "access-tokens", t]) => access_token_info(&inner, t),
        ("GET", ["oauth", "v1", "refresh-tokens", t]) => refresh_token_info(&inner, t),
        ("DELETE", ["oauth", "v1", "refresh-tokens", t]) => {
            inner.lock().refresh_tokens.remove(*t);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(not_found(format!("Unable to find a resource for {method} {path}"))),
    };
    let mut r = match out {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    r.extensions_mut().insert(EndpointLabel(label));
    r
}

fn authorize(inner: &Inner, portal: Option<&str>, q: &HashMap<String, String>) -> Result<Response, HsErr> {
    let cfg = inner.config();
    let client_id = q.get("client_id").cloned().unwrap_or_default();
    if !cfg.clients.contains_key(&client_id) {
        return Err(oauth_error(
            "BAD_CLIENT_ID",
            "Authorization failed: the client_id is not a known app",
        ));
    }
    let Some(redirect) = q.get("redirect_uri").filter(|r| !r.is_empty()) else {
        return Err(oauth_error(
            "BAD_REDIRECT_URI",
            "Authorization failed: redirect_uri is required",
        ));
    };
    let Some(scope) = q.get("scope").filter(|s| !s.trim().is_empty()) else {
        return Err(oauth_error("BAD_SCOPES", "Authorization failed: scope is required"));
    };
    let mut scopes: Vec<String> = scope
        .split([' ', '+'])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(o) = q.get("optional_scope") {
        scopes.extend(o.split([' ', '+']).filter(|s| !s.is_empty()).map(str::to_string));
    }
    let mut st = inner.lock();
    let portal = portal
        .map(str::to_string)
        .unwrap_or_else(|| defaults::HUBSPOT_PORTAL_ID.to_string());
    if !st.portals.contains(&portal) {
        return Err(not_found(format!("No portal {portal}")));
    }
    let code = st.token("", 36);
    let code = format!(
        "{}-{}-{}-{}-{}",
        &code[0..8],
        &code[8..12],
        &code[12..16],
        &code[16..20],
        &code[20..32]
    );
    st.codes.insert(
        code.clone(),
        Code {
            client_id,
            redirect_uri: redirect.clone(),
            portal,
            scopes,
        },
    );
    let mut loc = format!(
        "{redirect}{}code={code}",
        if redirect.contains('?') { "&" } else { "?" }
    );
    if let Some(s) = q.get("state") {
        loc.push_str(&format!(
            "&state={}",
            serde_urlencoded::to_string([("", s)])
                .unwrap_or_default()
                .trim_start_matches('=')
        ));
    }
    Ok((StatusCode::FOUND, [(header::LOCATION, loc)]).into_response())
}

fn check_client(inner: &Inner, f: &HashMap<String, String>) -> Result<String, HsErr> {
    let cfg = inner.config();
    let id = f.get("client_id").cloned().unwrap_or_default();
    let Some(secret) = cfg.clients.get(&id) else {
        return Err(oauth_error("BAD_CLIENT_ID", "missing or unknown client id"));
    };
    if f.get("client_secret") != Some(secret) {
        return Err(oauth_error("BAD_CLIENT_SECRET", "missing or invalid client secret"));
    }
    Ok(id)
}

fn issue(inner: &Inner, client_id: &str, refresh: &str, portal: &str, scopes: &[String]) -> Value {
    let cfg = inner.config();
    let mut st = inner.lock();
    let now = st.now_ms();
    let token = st.token("CN", ACCESS_TOKEN_LEN);
    st.access_tokens.insert(
        token.clone(),
        AccessToken {
            portal: portal.to_string(),
            client_id: client_id.to_string(),
            scopes: scopes.to_vec(),
            expires_ms: now + cfg.access_token_ttl_secs * 1000,
        },
    );
    json!({"access_token": token, "refresh_token": refresh, "expires_in": cfg.access_token_ttl_secs,
           "token_type": "bearer", "token_use": "access_token", "hub_id": portal.parse::<i64>().unwrap_or(0),
           "user_id": defaults::HUBSPOT_USER_ID, "scopes": scopes})
}

fn token(inner: &Inner, f: &HashMap<String, String>) -> Result<Response, HsErr> {
    let grant = f.get("grant_type").map(String::as_str).unwrap_or_default();
    match grant {
        "authorization_code" => {
            let client = check_client(inner, f)?;
            let code = f.get("code").cloned().unwrap_or_default();
            let c = {
                let st = inner.lock();
                st.codes.get(&code).cloned()
            };
            let Some(c) = c.filter(|c| c.client_id == client) else {
                return Err(oauth_error("BAD_AUTH_CODE", "missing or unknown auth code"));
            };
            if f.get("redirect_uri") != Some(&c.redirect_uri) {
                return Err(oauth_error(
                    "BAD_REDIRECT_URI",
                    "redirect_uri does not match the authorization request",
                ));
            }
            let refresh = {
                let mut st = inner.lock();
                st.codes.remove(&code);
                let t = st.token("na1-", 36);
                st.refresh_tokens.insert(
                    t.clone(),
                    RefreshToken {
                        portal: c.portal.clone(),
                        client_id: client.clone(),
                        scopes: c.scopes.clone(),
                    },
                );
                t
            };
            Ok(AxumJson(issue(inner, &client, &refresh, &c.portal, &c.scopes)).into_response())
        }
        "refresh_token" => {
            let client = check_client(inner, f)?;
            let rt = f.get("refresh_token").cloned().unwrap_or_default();
            let r = inner.lock().refresh_tokens.get(&rt).cloned();
            let Some(r) = r.filter(|r| r.client_id == client) else {
                return Err(oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token"));
            };
            Ok(AxumJson(issue(inner, &client, &rt, &r.portal, &r.scopes)).into_response())
        }
        other => Err(oauth_error(
            "BAD_GRANT_TYPE",
            &format!("grant_type must be authorization_code or refresh_token, got '{other}'"),
        )),
    }
}

fn access_token_info(inner: &Inner, t: &str) -> Result<Response, HsErr> {
    let st = inner.lock();
    let now = st.now_ms();
    let a = st
        .access_tokens
        .get(t)
        .filter(|a| a.expires_ms > now)
        .ok_or_else(|| not_found("The access token is unknown or expired"))?;
    Ok(AxumJson(
        json!({"token": t, "user": defaults::HUBSPOT_USER, "hub_domain": defaults::HUBSPOT_HUB_DOMAIN,
                       "scopes": a.scopes, "hub_id": a.portal.parse::<i64>().unwrap_or(0),
                       "app_id": defaults::HUBSPOT_APP_ID, "expires_in": (a.expires_ms - now) / 1000,
                       "user_id": defaults::HUBSPOT_USER_ID, "token_type": "access"}),
    )
    .into_response())
}

fn refresh_token_info(inner: &Inner, t: &str) -> Result<Response, HsErr> {
    let st = inner.lock();
    let r = st
        .refresh_tokens
        .get(t)
        .ok_or_else(|| not_found("The refresh token is unknown or revoked"))?;
    Ok(AxumJson(
        json!({"token": t, "user": defaults::HUBSPOT_USER, "hub_domain": defaults::HUBSPOT_HUB_DOMAIN,
                       "scopes": r.scopes, "hub_id": r.portal.parse::<i64>().unwrap_or(0),
                       "client_id": r.client_id, "user_id": defaults::HUBSPOT_USER_ID, "token_type": "refresh"}),
    )
    .into_response())
}

fn introspect(inner: &Inner, f: &HashMap<String, String>) -> Result<Response, HsErr> {
    check_client(inner, f)?;
    let t = f.get("token").cloned().unwrap_or_default();
    let st = inner.lock();
    let now = st.now_ms();
    let v = if let Some(a) = st.access_tokens.get(&t).filter(|a| a.expires_ms > now) {
        json!({"active": true, "token_type": "access_token", "client_id": a.client_id, "scopes": a.scopes,
               "hub_id": a.portal.parse::<i64>().unwrap_or(0), "user_id": defaults::HUBSPOT_USER_ID,
               "exp": a.expires_ms / 1000, "expires_in": (a.expires_ms - now) / 1000})
    } else if let Some(r) = st.refresh_tokens.get(&t) {
        json!({"active": true, "token_type": "refresh_token", "client_id": r.client_id, "scopes": r.scopes,
               "hub_id": r.portal.parse::<i64>().unwrap_or(0), "user_id": defaults::HUBSPOT_USER_ID})
    } else {
        json!({"active": false})
    };
    Ok(AxumJson(v).into_response())
}

fn revoke(inner: &Inner, f: &HashMap<String, String>) -> Result<Response, HsErr> {
    check_client(inner, f)?;
    let t = f.get("token").cloned().unwrap_or_default();
    let mut st = inner.lock();
    st.refresh_tokens.remove(&t);
    st.access_tokens.remove(&t);
    Ok(StatusCode::NO_CONTENT.into_response())
}
