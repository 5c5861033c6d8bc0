//! Advertiser authorization: the portal's authorization page (approves at once), the auth_code exchange
//! (`/oauth2/access_token/`: single-use codes, tokens that never expire), revocation, and the advertisers an app's
//! token reaches (`/oauth2/advertiser/get/`). WIRE-NOTES § Auth.

use serde_json::{json, Value};
use sha2::Digest as _;

use super::error::{self, ApiError};
use super::json::Json;
use super::state::{CodeInfo, State, TikTokConfig, TokenInfo};
use super::{now_ms, s, Call, Grant, Handled, Inner, Out};
use crate::platform::defaults;
use crate::rng::{hash_str, mix64};

/// The scopes a grant carries (permission ids of the app; the emulator grants the ads-management set).
pub const SCOPE: &[i64] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

pub fn sha256_hex(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn secret(st: &mut State, seed: u64, what: &str) -> String {
    st.next_id += 1;
    let n = st.next_id;
    let a = mix64(seed ^ hash_str(what) ^ mix64(n));
    let b = mix64(a ^ n.rotate_left(17));
    format!("{a:016x}{b:016x}{:08x}", (a ^ b) as u32)
}

/// Who a token is: a well-known or seeded long-lived token (every advertiser), or one the exchange issued.
pub fn grant_of(st: &State, cfg: &TikTokConfig, token: &str) -> Result<Grant, ApiError> {
    let key = sha256_hex(token);
    if cfg.is_static_token(token) {
        if st.revoked_static.contains(&key) {
            return Err(ApiError::token_invalid());
        }
        return Ok(Grant {
            app_id: cfg.app_id.clone(),
            advertisers: None,
        });
    }
    match st.tokens.get(&key) {
        Some(t) if !t.revoked => Ok(Grant {
            app_id: t.app_id.clone(),
            advertisers: Some(t.advertiser_ids.clone()),
        }),
        _ => Err(ApiError::token_invalid()),
    }
}

/// The advertisers an authorization covers: those named (created when missing), else every advertiser, else the
/// default one.
pub fn grant_advertisers(
    st: &mut State,
    cfg: &TikTokConfig,
    named: Option<Vec<String>>,
) -> Result<Vec<String>, String> {
    let now = now_ms(st);
    let ids = match named {
        Some(ids) if !ids.is_empty() => ids,
        _ if !st.advertisers.is_empty() => st.advertisers.keys().cloned().collect(),
        _ => vec![defaults::TIKTOK_ADVERTISER_ID.to_string()],
    };
    for id in &ids {
        if id.is_empty() || !id.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!("advertiser id {id:?} is not decimal digits"));
        }
        st.advertisers
            .entry(id.clone())
            .or_insert_with(|| super::state::Advertiser {
                advertiser_id: id.clone(),
                name: format!("Emulated advertiser {id}"),
                currency: cfg.default_currency.clone(),
                timezone: cfg.default_timezone.clone(),
                created_ms: now,
            });
    }
    Ok(ids)
}

/// A new auth_code (valid `auth_code_ttl`, single use).
pub fn mint_code(
    st: &mut State,
    cfg: &TikTokConfig,
    app_id: Option<&str>,
    named: Option<Vec<String>>,
) -> Result<String, String> {
    let app = app_id.unwrap_or(&cfg.app_id).to_string();
    if cfg.secret_of(&app).is_none() {
        return Err(format!("unknown app {app}"));
    }
    let ids = grant_advertisers(st, cfg, named)?;
    let code = secret(st, cfg.seed, "auth_code");
    let now = now_ms(st);
    st.codes.insert(
        sha256_hex(&code),
        CodeInfo {
            app_id: app,
            advertiser_ids: ids,
            expires_ms: now + cfg.auth_code_ttl.as_millis() as i64,
            used: false,
        },
    );
    Ok(code)
}

/// A new advertiser token.
pub fn issue(st: &mut State, cfg: &TikTokConfig, app_id: &str, advertiser_ids: Vec<String>) -> String {
    let token = secret(st, cfg.seed, "access_token");
    let now = now_ms(st);
    st.tokens.insert(
        sha256_hex(&token),
        TokenInfo {
            app_id: app_id.to_string(),
            advertiser_ids,
            scope: SCOPE.to_vec(),
            issued_ms: now,
            revoked: false,
        },
    );
    token
}

/// Loopback redirect URIs only (http://127.0.0.1:PORT/…, http://localhost:PORT/…, http://[::1]:PORT/…).
pub fn is_loopback(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = if let Some(h) = host_port.strip_prefix('[') {
        h.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    matches!(host, "127.0.0.1" | "localhost" | "::1")
}

/// `GET /portal/auth?app_id&state&redirect_uri[&advertiser_ids=1,2]`: Ok(redirect location) or Err(reason).
pub fn authorize(inner: &Inner, q: &[(String, String)]) -> Result<String, String> {
    let p = |k: &str| q.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let cfg = inner.config();
    let app = p("app_id").ok_or("The app_id parameter is missing.")?;
    if cfg.secret_of(app).is_none() {
        return Err("The app_id does not name a known developer app.".into());
    }
    let redirect = p("redirect_uri").ok_or("The redirect_uri parameter is missing.")?;
    if !is_loopback(redirect) {
        return Err("The redirect_uri must be a loopback http address (http://127.0.0.1:PORT/…).".into());
    }
    let named = p("advertiser_ids").map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect::<Vec<_>>()
    });
    let code = {
        let mut st = inner.lock();
        mint_code(&mut st, &cfg, Some(app), named)?
    };
    let mut params = vec![("auth_code", code.clone()), ("code", code)];
    if let Some(state) = p("state") {
        params.push(("state", state.to_string()));
    }
    let qs = serde_urlencoded::to_string(&params).map_err(|e| e.to_string())?;
    let sep = if redirect.contains('?') { '&' } else { '?' };
    Ok(format!("{redirect}{sep}{qs}"))
}

fn app_check(cfg: &TikTokConfig, app_id: &str, secret: &str) -> Result<(), ApiError> {
    match cfg.secret_of(app_id) {
        Some(s) if ct_eq(s, secret) => Ok(()),
        _ => Err(ApiError::new(error::BAD_APP, "The app_id or secret is invalid.")),
    }
}

/// `POST /oauth2/access_token/` {app_id, secret, auth_code}.
pub fn access_token(c: &Call, st: &mut State) -> Handled {
    let (_, b) = c.checked_body("Oauth2AccessTokenBody")?;
    let app = s(&b, "app_id").unwrap_or_default();
    app_check(&c.cfg, app, s(&b, "secret").unwrap_or_default())?;
    let key = sha256_hex(s(&b, "auth_code").unwrap_or_default());
    let bad_code = || {
        ApiError::new(
            error::BAD_AUTH_CODE,
            "The auth_code is invalid: it does not exist, has expired or has already been used.",
        )
    };
    let info = st.codes.get(&key).cloned().ok_or_else(bad_code)?;
    if info.used || c.now >= info.expires_ms || info.app_id != app {
        return Err(bad_code());
    }
    if let Some(code) = st.codes.get_mut(&key) {
        code.used = true;
    }
    let token = issue(st, &c.cfg, app, info.advertiser_ids.clone());
    Ok(Out::ok(
        json!({"access_token": token, "advertiser_ids": info.advertiser_ids, "scope": SCOPE}),
        1,
    ))
}

/// `POST /oauth2/revoke_token/` {app_id, secret, access_token}: the token stops working.
pub fn revoke_token(c: &Call, st: &mut State) -> Handled {
    let body = c.body()?;
    let field = |k: &str| -> Result<String, ApiError> {
        match body.get(k) {
            Some(Json::Str(v)) => Ok(v.clone()),
            Some(_) => Err(ApiError::param(format!("{k}: Not a valid string."))),
            None => Err(ApiError::param(format!("{k}: Missing data for required field."))),
        }
    };
    if let Json::Obj(entries) = &body {
        if let Some((k, _)) = entries
            .iter()
            .find(|(k, _)| !matches!(k.as_str(), "app_id" | "secret" | "access_token"))
        {
            return Err(ApiError::param(format!("{k}: Unknown field.")));
        }
    }
    let (app, sec, token) = (field("app_id")?, field("secret")?, field("access_token")?);
    app_check(&c.cfg, &app, &sec)?;
    let key = sha256_hex(&token);
    if c.cfg.is_static_token(&token) && app == c.cfg.app_id {
        st.revoked_static.insert(key);
    } else {
        match st.tokens.get_mut(&key) {
            Some(t) if t.app_id == app && !t.revoked => t.revoked = true,
            _ => return Err(ApiError::token_invalid()),
        }
    }
    Ok(Out::ok(json!({}), 1))
}

/// `GET /oauth2/advertiser/get/?app_id&secret`: the advertisers the calling token reaches.
pub fn advertiser_get(c: &Call, st: &mut State) -> Handled {
    let q = c.checked_query("oauth2_advertiser_get")?;
    let app = s(&q, "app_id").unwrap_or_default();
    app_check(&c.cfg, app, s(&q, "secret").unwrap_or_default())?;
    let grant = c.grant.clone().ok_or_else(ApiError::token_empty)?;
    if grant.app_id != app {
        return Err(ApiError::new(
            40113,
            "The app_id does not match the app the access token was issued to.",
        ));
    }
    let ids: Vec<String> = match grant.advertisers {
        Some(ids) => ids,
        None => st.advertisers.keys().cloned().collect(),
    };
    let list: Vec<Value> = ids
        .iter()
        .filter_map(|id| st.advertisers.get(id))
        .map(|a| json!({"advertiser_id": a.advertiser_id, "advertiser_name": a.name}))
        .collect();
    Ok(Out::ok(json!({ "list": list }), 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only() {
        assert!(is_loopback("http://127.0.0.1:8123/callback"));
        assert!(is_loopback("http://[::1]:9/cb"));
        assert!(!is_loopback("https://example.com/cb"));
        assert!(!is_loopback("http://127.0.0.1.example.com/cb"));
    }
}
