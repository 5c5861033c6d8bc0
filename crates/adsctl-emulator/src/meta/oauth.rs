//! Meta login: the OAuth dialog (auto-approves, redirects to a loopback `redirect_uri` with `code` and
//! `state`), `/oauth/access_token` (code exchange and `fb_exchange_token`), and `/debug_token`.

use serde_json::{json, Value};

use super::error::GraphError;
use super::graph::{self, GraphResponse};
use super::state::{CodeInfo, State, TokenInfo};
use super::util;
use super::Inner;

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
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

fn new_secret(st: &mut State, seed: u64, prefix: &str, what: &str) -> String {
    let n = st.new_id(seed);
    let a = util::hash64(&[&seed.to_string(), &n, what]);
    let b = util::hash64(&[&n, what, &seed.to_string()]);
    format!("{prefix}{a:016x}{b:016x}")
}

/// Issue an access token with a lifetime (None: never expires).
pub fn issue_token(
    st: &mut State,
    cfg: &super::MetaConfig,
    app_id: &str,
    now: i64,
    ttl_ms: Option<i64>,
    scopes: Vec<String>,
) -> String {
    let token = new_secret(st, cfg.seed, "EAAE", "access_token");
    st.tokens.insert(
        util::sha256_hex(&token),
        TokenInfo {
            app_id: app_id.to_string(),
            user_id: "100000000000100".into(),
            issued_ms: now,
            expires_ms: ttl_ms.map(|t| now + t),
            scopes,
            kind: "USER".into(),
        },
    );
    token
}

/// `GET /v25.0/dialog/oauth`: Ok(redirect location) or Err(reason shown on the dialog page).
pub fn dialog(inner: &Inner, params: &[(String, String)]) -> Result<String, String> {
    let cfg = inner.config();
    let client_id = param(params, "client_id").ok_or("The client_id parameter is missing.")?;
    if !cfg.knows_app(client_id) {
        return Err("Invalid App ID: the client_id does not name a known app.".into());
    }
    let redirect = param(params, "redirect_uri").ok_or("The redirect_uri parameter is missing.")?;
    if !is_loopback(redirect) {
        return Err(
            "URL Blocked: this redirect failed because the redirect URI is not whitelisted in the app's \
                    Client OAuth Settings (the emulator accepts loopback http redirect URIs only)."
                .into(),
        );
    }
    let scopes: Vec<String> = param(params, "scope")
        .unwrap_or("")
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let code_challenge = match param(params, "code_challenge") {
        Some(c) => {
            let method = param(params, "code_challenge_method").unwrap_or("plain");
            if !matches!(method, "S256" | "plain") {
                return Err("Invalid code_challenge_method: use S256 or plain.".into());
            }
            Some((c.to_string(), method.to_string()))
        }
        None => None,
    };
    let mut guard = inner.lock();
    let st: &mut State = &mut guard;
    let now = inner.now_ms(st);
    let code = new_secret(st, cfg.seed, "AQ", "code");
    st.codes.insert(
        util::sha256_hex(&code),
        CodeInfo {
            client_id: client_id.into(),
            redirect_uri: redirect.into(),
            scopes,
            expires_ms: now + 600_000,
            used: false,
            code_challenge,
        },
    );
    let mut q = vec![("code".to_string(), code)];
    if let Some(s) = param(params, "state") {
        q.push(("state".into(), s.to_string()));
    }
    let sep = if redirect.contains('?') { '&' } else { '?' };
    Ok(format!("{redirect}{sep}{}#_=_", util::encode_form(&q)))
}

fn respond(inner: &Inner, r: Result<Value, GraphError>) -> GraphResponse {
    match r {
        Ok(body) => GraphResponse {
            status: 200,
            headers: Vec::new(),
            body,
        },
        Err(e) => {
            let seed = inner.config().seed;
            let mut st = inner.lock();
            st.trace_seq += 1;
            graph::error_response(&e, &graph::trace_id(seed, st.trace_seq), Vec::new())
        }
    }
}

/// `GET /v25.0/oauth/access_token`.
pub fn access_token(inner: &Inner, params: &[(String, String)]) -> GraphResponse {
    let r = (|| {
        let cfg = inner.config();
        let client_id = param(params, "client_id").ok_or_else(|| GraphError::missing_param("client_id"))?;
        if !cfg.knows_app(client_id) {
            return Err(GraphError::new(
                101,
                "Error validating application. Invalid application ID.",
            ));
        }
        let secret = param(params, "client_secret").ok_or_else(|| GraphError::missing_param("client_secret"))?;
        if cfg.secret_of(client_id).is_some_and(|s| !util::ct_eq(s, secret)) {
            return Err(GraphError::new(1, "Error validating client secret."));
        }
        let mut guard = inner.lock();
        let st: &mut State = &mut guard;
        let now = inner.now_ms(st);
        if param(params, "grant_type") == Some("fb_exchange_token") {
            let short =
                param(params, "fb_exchange_token").ok_or_else(|| GraphError::missing_param("fb_exchange_token"))?;
            let info = st
                .tokens
                .get(&util::sha256_hex(short))
                .cloned()
                .ok_or_else(GraphError::token_invalid)?;
            if info.expires_ms.is_some_and(|e| now >= e) {
                return Err(GraphError::token_expired(
                    &util::format_session_time(info.expires_ms.unwrap_or(now)),
                    &util::format_session_time(now),
                ));
            }
            let ttl = cfg.long_token_ttl.as_millis() as i64;
            let token = issue_token(st, &cfg, client_id, now, Some(ttl), info.scopes);
            return Ok(json!({ "access_token": token, "token_type": "bearer", "expires_in": ttl / 1000 }));
        }
        let code = param(params, "code").ok_or_else(|| GraphError::missing_param("code"))?;
        let key = util::sha256_hex(code);
        let info = st
            .codes
            .get(&key)
            .cloned()
            .ok_or_else(|| GraphError::new(100, "Invalid verification code format.").kind("OAuthException"))?;
        if info.client_id != client_id {
            return Err(GraphError::new(100, "Invalid verification code format.").kind("OAuthException"));
        }
        if info.used {
            return Err(GraphError::new(100, "This authorization code has been used.").subcode(36009));
        }
        if now >= info.expires_ms {
            return Err(GraphError::new(100, "This authorization code has expired.").subcode(36007));
        }
        if param(params, "redirect_uri") != Some(info.redirect_uri.as_str()) {
            return Err(GraphError::new(
                100,
                "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
            )
            .subcode(36008));
        }
        if let Some((challenge, method)) = &info.code_challenge {
            let verifier = param(params, "code_verifier").ok_or_else(|| GraphError::missing_param("code_verifier"))?;
            let derived = if method == "S256" {
                use base64::Engine as _;
                use sha2::Digest as _;
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
            } else {
                verifier.to_string()
            };
            if !util::ct_eq(&derived, challenge) {
                return Err(GraphError::new(100, "Invalid code verifier."));
            }
        }
        if let Some(c) = st.codes.get_mut(&key) {
            c.used = true;
        }
        let ttl = cfg.short_token_ttl.as_millis() as i64;
        let token = issue_token(st, &cfg, client_id, now, Some(ttl), info.scopes);
        Ok(json!({ "access_token": token, "token_type": "bearer", "expires_in": ttl / 1000 }))
    })();
    respond(inner, r)
}

/// `GET /debug_token?input_token=…&access_token=…` (an app token `app_id|app_secret` or a valid user token).
pub fn debug_token(inner: &Inner, params: &[(String, String)]) -> GraphResponse {
    let r = (|| {
        let cfg = inner.config();
        let guard = inner.lock();
        let st: &State = &guard;
        let now = inner.now_ms(st);
        let caller = param(params, "access_token").ok_or_else(GraphError::token_missing)?;
        let app_token_ok = caller
            .split_once('|')
            .is_some_and(|(id, secret)| cfg.secret_of(id).is_some_and(|s| util::ct_eq(s, secret)));
        let caller_ok = app_token_ok
            || graph::is_static_token(&cfg, caller)
            || st
                .tokens
                .get(&util::sha256_hex(caller))
                .is_some_and(|i| i.expires_ms.is_none_or(|e| now < e));
        if !caller_ok {
            return Err(GraphError::token_invalid());
        }
        let input = param(params, "input_token").ok_or_else(|| GraphError::missing_param("input_token"))?;
        let info = if graph::is_static_token(&cfg, input) {
            Some(graph::static_token_info(&cfg))
        } else {
            st.tokens.get(&util::sha256_hex(input)).cloned()
        };
        let Some(info) = info else {
            return Ok(json!({ "data": {
                "error": { "code": 190, "message": "Invalid OAuth access token - Cannot parse access token" },
                "is_valid": false,
                "scopes": [],
            }}));
        };
        let expired = info.expires_ms.is_some_and(|e| now >= e);
        let mut data = json!({
            "app_id": info.app_id,
            "type": info.kind,
            "application": "adsctl emulator",
            "data_access_expires_at": (info.issued_ms / 1000) + 90 * 24 * 3600,
            "expires_at": info.expires_ms.map(|e| e / 1000).unwrap_or(0),
            "is_valid": !expired,
            "issued_at": info.issued_ms / 1000,
            "scopes": info.scopes,
            "user_id": info.user_id,
        });
        if expired {
            if let Some(m) = data.as_object_mut() {
                m.insert(
                    "error".into(),
                    json!({ "code": 190, "subcode": 463, "message": format!(
                        "Error validating access token: Session has expired on {}.",
                        util::format_session_time(info.expires_ms.unwrap_or(now)))
                    }),
                );
            }
        }
        Ok(json!({ "data": data }))
    })();
    respond(inner, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only() {
        assert!(is_loopback("http://127.0.0.1:8123/callback"));
        assert!(is_loopback("http://localhost:9/cb?x=1"));
        assert!(is_loopback("http://[::1]:9/cb"));
        assert!(!is_loopback("https://example.com/cb"));
        assert!(!is_loopback("http://127.0.0.1.example.com/cb"));
    }
}
