//! Salesforce OAuth 2.0: the web-server flow (`/services/oauth2/authorize` → code → `/services/oauth2/token`),
//! refresh, and the JWT bearer flow (RS256, verified with `ring` against the app's uploaded public key), plus the
//! identity URL `/id/{orgId}/{userId}`.
//!
//! The token answer is `{access_token, [refresh_token], signature, scope, instance_url, id, token_type, issued_at}`
//! with no `expires_in`; `signature` is Base64(HMAC-SHA256(client secret, id + issued_at)). OAuth errors use their
//! own envelope `{"error","error_description"}` (400, or 401 for client authentication).
//!
//! Readings: the authorize endpoint approves at once as the user named by `login_hint` (a seeded username),
//! else the org's integration user, and redirects with `code` and `state`; a redirect_uri must be registered
//! (when the app lists some) or be an http(s) URL on a loopback host; codes are single-use and live 15 minutes;
//! PKCE S256 is checked when a challenge was sent. `refresh_token` comes back when the scope has `refresh_token` or
//! `offline_access`. JWT: `alg` RS256, `iss` a client with a key, `sub` a username, `aud` the emulator's own URL
//! (`http://` + Host) or https://login.salesforce.com / https://test.salesforce.com, `exp` in the future and at
//! most 3 minutes ahead; errors are invalid_grant ("invalid assertion", "audience is invalid", "expired
//! authorization code" for exp, "user hasn't approved this consumer"), invalid_client_id for an unknown iss.

use std::sync::Arc;

use axum::extract::{Path, Query, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{host_of, json_response, Code, Grant, Inner, Session, State};
use crate::counters::EndpointLabel;
use crate::platform::defaults;

pub const CODE_TTL_SECS: i64 = 900;
pub const JWT_MAX_AHEAD_SECS: i64 = 180;

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    json_response(status, &json!({"error": error, "error_description": description}))
}

fn labelled(mut r: Response, label: &str) -> Response {
    r.extensions_mut().insert(EndpointLabel(label.to_string()));
    r
}

pub fn router(inner: Arc<Inner>) -> Router {
    let (i1, i2, i3) = (inner.clone(), inner.clone(), inner);
    Router::new()
        .route(
            "/services/oauth2/authorize",
            get(move |h: HeaderMap, Query(q): Query<Vec<(String, String)>>| {
                let inner = i1.clone();
                async move { labelled(authorize(&inner, &h, &q), "GET /services/oauth2/authorize") }
            }),
        )
        .route(
            "/services/oauth2/token",
            post(move |req: Request| {
                let inner = i2.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
                    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
                    labelled(token(&inner, &parts.headers, &form), "POST /services/oauth2/token")
                }
            }),
        )
        .route(
            "/id/{org}/{user}",
            get(move |h: HeaderMap, Path((org, user)): Path<(String, String)>| {
                let inner = i3.clone();
                async move { labelled(identity(&inner, &h, &org, &user), "GET /id/{orgId}/{userId}") }
            }),
        )
}

fn param<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
    q.iter()
        .find(|(a, _)| a == k)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn loopback_url(u: &str) -> bool {
    let rest = u.strip_prefix("http://").or_else(|| u.strip_prefix("https://"));
    let Some(rest) = rest else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

fn authorize(inner: &Inner, _h: &HeaderMap, q: &[(String, String)]) -> Response {
    let mut st = inner.state.lock();
    let Some(client_id) = param(q, "client_id") else {
        return oauth_error(400, "invalid_client_id", "client identifier invalid");
    };
    let Some(client) = st.clients.get(client_id).cloned() else {
        return oauth_error(400, "invalid_client_id", "client identifier invalid");
    };
    let redirect = param(q, "redirect_uri").unwrap_or("");
    let ok_redirect = if client.redirect_uris.is_empty() {
        loopback_url(redirect)
    } else {
        client.redirect_uris.iter().any(|r| r == redirect)
    };
    if !ok_redirect {
        return oauth_error(400, "redirect_uri_mismatch", "redirect_uri must match configuration");
    }
    let state = param(q, "state");
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let with_state = |mut s: String| {
        if let Some(x) = state {
            s.push_str(&format!("&state={}", urlencode(x)));
        }
        s
    };
    if param(q, "response_type") != Some("code") {
        let loc = with_state(format!(
            "{redirect}{sep}error=unsupported_response_type&error_description=response%20type%20not%20supported"
        ));
        return redirect_to(&loc);
    }
    let hint = param(q, "login_hint");
    let (org, user) = match hint {
        Some(h) => match st.orgs.values().find_map(|o| {
            o.users
                .values()
                .find(|u| u.username.eq_ignore_ascii_case(h))
                .map(|u| (o.id.clone(), u.id.clone()))
        }) {
            Some(x) => x,
            None => {
                let loc = with_state(format!(
                    "{redirect}{sep}error=access_denied&error_description=end-user%20denied%20authorization"
                ));
                return redirect_to(&loc);
            }
        },
        None => (
            defaults::SALESFORCE_ORG_ID.to_string(),
            defaults::SALESFORCE_USER_ID.to_string(),
        ),
    };
    let challenge = param(q, "code_challenge").map(String::from);
    let now = st.now();
    let code = format!("aPrx{}", st.token("code"));
    st.codes.insert(
        code.clone(),
        Code {
            grant: Grant {
                org,
                user,
                client: client_id.to_string(),
            },
            redirect_uri: redirect.to_string(),
            scope: param(q, "scope").unwrap_or("api refresh_token").to_string(),
            code_challenge: challenge,
            issued: now,
        },
    );
    redirect_to(&with_state(format!("{redirect}{sep}code={}", urlencode(&code))))
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).unwrap_or_default()[2..].to_string()
}

fn redirect_to(loc: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = loc.parse() {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Issue a session and build the token answer.
fn issue(st: &mut State, host: &str, g: &Grant, scope: &str, refresh: Option<String>, moving: bool) -> Response {
    let now_ms = st.now_ms();
    let Some(secret) = st.clients.get(&g.client).map(|c| c.secret.clone()) else {
        return oauth_error(400, "invalid_client_id", "client identifier invalid");
    };
    // A move needs an instance to move from: the org's first token fixes it.
    let placed = st.orgs.get(&g.org).is_some_and(|o| o.instance_host.is_some());
    let target = if moving && placed {
        st.knobs.move_instance_to.take()
    } else {
        None
    };
    let Some(org) = st.orgs.get_mut(&g.org) else {
        return oauth_error(400, "invalid_grant", "authentication failure");
    };
    if let Some(t) = target {
        let port = host.rsplit_once(':').map(|(_, p)| p.to_string());
        org.instance_host = Some(match (t.contains(':'), port) {
            (false, Some(p)) => format!("{t}:{p}"),
            _ => t,
        });
    }
    let instance = org.instance_host.get_or_insert_with(|| host.to_string()).clone();
    let token = format!("{}!AQ{}", &g.org[..15], st.token("access"));
    st.sessions.insert(
        token.clone(),
        Session {
            org: g.org.clone(),
            user: g.user.clone(),
            client: g.client.clone(),
            issued: now_ms / 1000,
        },
    );
    let id = format!("http://{host}/id/{}/{}", g.org, g.user);
    let issued_at = now_ms.to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("{id}{issued_at}").as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let mut body = json!({"access_token": token, "signature": signature, "scope": scope,
                          "instance_url": format!("http://{instance}"), "id": id, "token_type": "Bearer",
                          "issued_at": issued_at});
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    json_response(200, &body)
}

fn wants_refresh(scope: &str) -> bool {
    scope
        .split([' ', '+'])
        .any(|s| s == "refresh_token" || s == "offline_access" || s == "full")
}

fn token(inner: &Inner, h: &HeaderMap, form: &[(String, String)]) -> Response {
    let mut st = inner.state.lock();
    let host = host_of(h);
    let now = st.now();
    match param(form, "grant_type") {
        Some("authorization_code") => {
            let Some(code) = param(form, "code").and_then(|c| st.codes.remove(c)) else {
                return oauth_error(400, "invalid_grant", "invalid authorization code");
            };
            let client_id = param(form, "client_id").unwrap_or("");
            // A secret, when sent, must be right; without one only a PKCE exchange is accepted.
            let ok_client = st
                .clients
                .get(client_id)
                .is_some_and(|c| match param(form, "client_secret") {
                    Some(sec) => sec == c.secret,
                    None => code.code_challenge.is_some(),
                });
            if !ok_client || client_id != code.grant.client {
                return oauth_error(400, "invalid_client", "invalid client credentials");
            }
            if now > code.issued + CODE_TTL_SECS {
                return oauth_error(400, "invalid_grant", "expired authorization code");
            }
            if param(form, "redirect_uri") != Some(code.redirect_uri.as_str()) {
                return oauth_error(400, "redirect_uri_mismatch", "redirect_uri must match configuration");
            }
            if let Some(ch) = &code.code_challenge {
                let ok = param(form, "code_verifier").is_some_and(|v| b64url(&Sha256::digest(v.as_bytes())) == *ch);
                if !ok {
                    return oauth_error(400, "invalid_grant", "invalid code verifier");
                }
            }
            let refresh = wants_refresh(&code.scope).then(|| {
                let t = format!("5Aep861{}", st.token("refresh"));
                st.refresh_tokens.insert(t.clone(), code.grant.clone());
                t
            });
            issue(&mut st, &host, &code.grant, &code.scope, refresh, false)
        }
        Some("refresh_token") => {
            let client_id = param(form, "client_id").unwrap_or("");
            let Some(client) = st.clients.get(client_id).cloned() else {
                return oauth_error(400, "invalid_client_id", "client identifier invalid");
            };
            if param(form, "client_secret").is_some_and(|s| s != client.secret) {
                return oauth_error(400, "invalid_client", "invalid client credentials");
            }
            let Some(rt) = param(form, "refresh_token") else {
                return oauth_error(400, "invalid_grant", "expired access/refresh token");
            };
            let Some(g) = st.refresh_tokens.get(rt).cloned().filter(|g| g.client == client_id) else {
                return oauth_error(400, "invalid_grant", "expired access/refresh token");
            };
            let rotated = client.rotation.then(|| {
                st.refresh_tokens.remove(rt);
                let t = format!("5Aep861{}", st.token("refresh"));
                st.refresh_tokens.insert(t.clone(), g.clone());
                t
            });
            issue(&mut st, &host, &g, "api refresh_token", rotated, true)
        }
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            let Some(assertion) = param(form, "assertion") else {
                return oauth_error(400, "invalid_grant", "invalid assertion");
            };
            match jwt_grant(&st, &host, assertion, now) {
                Ok(g) => issue(&mut st, &host, &g, "api", None, false),
                Err(r) => *r,
            }
        }
        Some(_) => oauth_error(400, "unsupported_grant_type", "grant type not supported"),
        None => oauth_error(400, "invalid_request", "grant_type is required"),
    }
}

/// The PKCS#1 RSAPublicKey inside a PEM public key (SPKI "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY").
pub fn rsa_public_key_der(pem: &str) -> Option<Vec<u8>> {
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    let der = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    if pem.contains("BEGIN RSA PUBLIC KEY") {
        return Some(der);
    }
    // SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier SEQUENCE, BIT STRING { 0x00, RSAPublicKey } }
    let (tag, spki, _) = tlv(&der)?;
    if tag != 0x30 {
        return None;
    }
    let (_, _, rest) = tlv(spki)?;
    let (tag, bits, _) = tlv(rest)?;
    (tag == 0x03 && bits.first() == Some(&0)).then(|| bits[1..].to_vec())
}

/// One DER element: (tag, content, the bytes after it).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, start) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = start.checked_add(len)?;
    Some((tag, b.get(start..end)?, b.get(end..)?))
}

fn jwt_grant(st: &State, host: &str, assertion: &str, now: i64) -> Result<Grant, Box<Response>> {
    let invalid = || Box::new(oauth_error(400, "invalid_grant", "invalid assertion"));
    let parts: Vec<&str> = assertion.split('.').collect();
    if parts.len() != 3 {
        return Err(invalid());
    }
    let dec = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim_end_matches('='));
    let header: Value = dec(parts[0])
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(invalid)?;
    let claims: Value = dec(parts[1])
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(invalid)?;
    let sig = dec(parts[2]).map_err(|_| invalid())?;
    if header["alg"] != "RS256" {
        return Err(Box::new(oauth_error(
            400,
            "invalid_grant",
            "invalid assertion: the algorithm must be RS256",
        )));
    }
    let iss = claims["iss"].as_str().unwrap_or("");
    let Some(client) = st.clients.get(iss) else {
        return Err(Box::new(oauth_error(
            400,
            "invalid_client_id",
            "client identifier invalid",
        )));
    };
    let key = client
        .jwt_public_key
        .as_deref()
        .and_then(rsa_public_key_der)
        .ok_or_else(|| {
            oauth_error(
                400,
                "invalid_client",
                "the app has no certificate for the JWT bearer flow",
            )
        })?;
    let signed = format!("{}.{}", parts[0], parts[1]);
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &key)
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| invalid())?;
    let own = format!("http://{host}");
    let aud_ok = |a: &str| {
        let a = a.trim_end_matches('/');
        a == own || a == defaults::SALESFORCE_LOGIN_URL || a == "https://test.salesforce.com"
    };
    let aud_match = match &claims["aud"] {
        Value::String(a) => aud_ok(a),
        Value::Array(v) => v.iter().any(|a| a.as_str().is_some_and(aud_ok)),
        _ => false,
    };
    if !aud_match {
        return Err(Box::new(oauth_error(400, "invalid_grant", "audience is invalid")));
    }
    let exp = claims["exp"].as_i64().unwrap_or(0);
    if exp <= now || exp > now + JWT_MAX_AHEAD_SECS {
        return Err(Box::new(oauth_error(
            400,
            "invalid_grant",
            "expired authorization code",
        )));
    }
    let sub = claims["sub"].as_str().unwrap_or("");
    let found = st.orgs.values().find_map(|o| {
        o.users
            .values()
            .find(|u| u.username.eq_ignore_ascii_case(sub))
            .map(|u| (o.id.clone(), u.clone()))
    });
    let Some((org, user)) = found else {
        return Err(Box::new(oauth_error(
            400,
            "invalid_grant",
            "user hasn't approved this consumer",
        )));
    };
    if !user.jwt_preauthorized {
        return Err(Box::new(oauth_error(
            400,
            "invalid_grant",
            "user hasn't approved this consumer",
        )));
    }
    Ok(Grant {
        org,
        user: user.id,
        client: iss.to_string(),
    })
}

fn identity(inner: &Inner, h: &HeaderMap, org: &str, user: &str) -> Response {
    let st = inner.state.lock();
    let caller = match super::session(&st, h) {
        Ok(c) => c,
        Err(_) => return json_response(403, &json!("Bad_OAuth_Token")),
    };
    let Some(o) = st.orgs.get(org).filter(|_| caller.org == org) else {
        return json_response(404, &json!("Bad_Id"));
    };
    let Some(u) = o.users.get(user) else {
        return json_response(404, &json!("Bad_Id"));
    };
    let inst = format!("http://{}", o.instance_host.clone().unwrap_or_else(|| host_of(h)));
    json_response(
        200,
        &json!({"id": format!("http://{}/id/{org}/{user}", host_of(h)), "user_id": u.id, "organization_id": o.id,
                "username": u.username, "active": true, "user_type": "STANDARD",
                "urls": {"rest": format!("{inst}/services/data/v{{version}}/"),
                         "sobjects": format!("{inst}/services/data/v{{version}}/sobjects/"),
                         "query": format!("{inst}/services/data/v{{version}}/query/")}}),
    )
}
