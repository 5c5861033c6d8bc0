//! TikTok credentials and their flows (the auth stage's [`PlatformAuth`] for this platform).
//!
//! `auth login`: the advertiser authorization page of the TikTok for Business portal (`app_id`, `state`,
//! `redirect_uri`; no PKCE), which sends the user back with `auth_code`; the code is exchanged at `POST
//! /open_api/v1.3/oauth2/access_token/` `{app_id, secret, auth_code}` for a long-term advertiser token. Advertiser
//! tokens do not expire and have no refresh step (WIRE-NOTES § Auth): `refresh` has nothing to do. `auth
//! set-token`: a token from the portal. `auth validate`: `GET /oauth2/advertiser/get/` (the advertisers the token
//! reaches, when the app is known) and `GET /advertiser/info/` (the account's currency and time zone).
//!
//! | variable | default |
//! |---|---|
//! | `TIKTOK_ACCESS_TOKEN`, `TIKTOK_APP_ID`, `TIKTOK_APP_SECRET` | — |
//! | `ADSCTL_TIKTOK_ENDPOINT` (API base, serves `/open_api/v1.3/…`) | `https://business-api.tiktok.com` |
//! | `ADSCTL_TIKTOK_PORTAL_ENDPOINT` (serves `/portal/auth`) | the API override, else `https://business-api.tiktok.com` |

use std::any::Any;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use oauth2::PkceCodeVerifier;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::client::TIKTOK_REQUEST_ID;
use super::config::{API_PREFIX, DEFAULT_BASE_URL};
use crate::auth::platform::{CredentialKind, LoginRequest, PlatformAuth, PlatformCredentials};
use crate::auth::{
    endpoint_override, env_base_url, env_var, login_err, secret_env_var, transport, url_of, Auth, AuthError, Validation,
};
use crate::connectors::trace;
use crate::model::{Account, Platform};
use crate::secret::{scrub, Secret};

/// The environment variables read for CI credentials (see `docs/auth.md`).
pub mod env_names {
    pub const TIKTOK_ACCESS_TOKEN: &str = "TIKTOK_ACCESS_TOKEN";
    pub const TIKTOK_APP_ID: &str = "TIKTOK_APP_ID";
    pub const TIKTOK_APP_SECRET: &str = "TIKTOK_APP_SECRET";
    pub const ENDPOINT: &str = "ADSCTL_TIKTOK_ENDPOINT";
    pub const PORTAL_ENDPOINT: &str = "ADSCTL_TIKTOK_PORTAL_ENDPOINT";
}
use env_names::*;

/// TikTok: a long-term advertiser access token (sent as the `Access-Token` header), and the developer app when
/// known (for `auth login` and `auth validate`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TikTokCredentials {
    pub access_token: Secret,
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub app_secret: Option<Secret>,
    /// The advertisers the authorization covers (from the code exchange), when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advertiser_ids: Vec<String>,
}

impl TikTokCredentials {
    /// A token alone (what the connector needs).
    pub fn token(access_token: impl Into<String>) -> TikTokCredentials {
        TikTokCredentials {
            access_token: Secret::new(access_token),
            app_id: None,
            app_secret: None,
            advertiser_ids: Vec::new(),
        }
    }
}

impl PlatformCredentials for TikTokCredentials {
    fn platform(&self) -> Platform {
        Platform::Tiktok
    }
    fn to_fields(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
    fn secrets(&self) -> Vec<&Secret> {
        let mut v = vec![&self.access_token];
        v.extend(self.app_secret.as_ref());
        v
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        // advertiser tokens stay valid until the advertiser revokes the authorization
        None
    }
    fn never_expires(&self) -> bool {
        // advertiser tokens stay valid until the advertiser revokes them (WIRE-NOTES § Auth)
        true
    }
    fn describe(&self) -> String {
        match self.advertiser_ids.len() {
            0 => "long-term advertiser token".to_string(),
            n => format!(
                "long-term advertiser token ({n} advertiser{})",
                if n == 1 { "" } else { "s" }
            ),
        }
    }
    fn clone_box(&self) -> Box<dyn PlatformCredentials> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Where the portal's authorization page and the API are: TikTok's by default; the account's `endpoint:` (beats
/// the environment) or the variables above point them at the built-in emulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TikTokEndpoints {
    /// `https://business-api.tiktok.com/portal/auth`
    pub authorize_url: String,
    /// API base without the prefix.
    pub api_base: String,
}

impl TikTokEndpoints {
    /// `{api}/open_api/v1.3/{path}`
    pub fn api(&self, path: &str) -> String {
        format!("{}{API_PREFIX}{}", self.api_base, path.trim_start_matches('/'))
    }
}

pub fn endpoints(account: &Account, auth: &Auth) -> TikTokEndpoints {
    let api = endpoint_override(account, auth, ENDPOINT).map(|b| b.trim_end_matches("/open_api/v1.3").to_string());
    let portal = env_base_url(auth, PORTAL_ENDPOINT)
        .or_else(|| api.clone())
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    TikTokEndpoints {
        authorize_url: format!("{portal}/portal/auth"),
        api_base: api.unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
    }
}

struct App {
    app_id: String,
    secret: Secret,
}

fn app(auth: &Auth, account: &Account, prev: Option<&CredentialKind>) -> Result<App, AuthError> {
    let prev = prev.and_then(|p| p.get::<TikTokCredentials>());
    let missing = |name: &str| AuthError::Config {
        message: format!("{name} is not set (needed to connect {})", account.name),
        hint: format!("export {name} (the developer app's App ID and Secret from the TikTok for Business portal)"),
    };
    Ok(App {
        app_id: env_var(auth, TIKTOK_APP_ID)
            .or_else(|| prev.and_then(|t| t.app_id.clone()))
            .ok_or_else(|| missing(TIKTOK_APP_ID))?,
        secret: secret_env_var(auth, TIKTOK_APP_SECRET)
            .or_else(|| prev.and_then(|t| t.app_secret.clone()))
            .ok_or_else(|| missing(TIKTOK_APP_SECRET))?,
    })
}

/// The TikTok home's auth flow.
pub struct TikTokAuth;

#[async_trait]
impl PlatformAuth for TikTokAuth {
    fn decode(&self, fields: serde_json::Value) -> Result<CredentialKind, String> {
        CredentialKind::decode::<TikTokCredentials>(fields)
    }

    fn env_names(&self) -> &'static [&'static str] {
        &[TIKTOK_ACCESS_TOKEN, TIKTOK_APP_ID, TIKTOK_APP_SECRET]
    }

    fn env_credentials(&self, auth: &Auth, _account: &Account) -> Option<CredentialKind> {
        Some(CredentialKind::new(TikTokCredentials {
            access_token: secret_env_var(auth, TIKTOK_ACCESS_TOKEN).filter(|t| !t.is_empty())?,
            app_id: env_var(auth, TIKTOK_APP_ID),
            app_secret: secret_env_var(auth, TIKTOK_APP_SECRET),
            advertiser_ids: Vec::new(),
        }))
    }

    fn missing_hint(&self, account: &str) -> String {
        format!(
            "run `adsctl auth login {account}` (with {TIKTOK_APP_ID} and {TIKTOK_APP_SECRET} set) or `adsctl auth \
             set-token {account}`, or set {TIKTOK_ACCESS_TOKEN}"
        )
    }

    fn set_token(
        &self,
        auth: &Auth,
        _account: &Account,
        token: Secret,
        previous: Option<&CredentialKind>,
    ) -> Result<CredentialKind, AuthError> {
        let prev = previous.and_then(|p| p.get::<TikTokCredentials>());
        Ok(CredentialKind::new(TikTokCredentials {
            access_token: token,
            app_id: env_var(auth, TIKTOK_APP_ID).or_else(|| prev.and_then(|t| t.app_id.clone())),
            app_secret: secret_env_var(auth, TIKTOK_APP_SECRET).or_else(|| prev.and_then(|t| t.app_secret.clone())),
            advertiser_ids: Vec::new(),
        }))
    }

    fn authorize_url(
        &self,
        auth: &Auth,
        account: &Account,
        previous: Option<&CredentialKind>,
        login: LoginRequest,
    ) -> Result<url::Url, AuthError> {
        let ep = endpoints(account, auth);
        let app = app(auth, account, previous)?;
        let mut url = url_of(url::Url::parse(&ep.authorize_url))?;
        url.query_pairs_mut()
            .append_pair("app_id", &app.app_id)
            .append_pair("state", login.state.expose())
            .append_pair("redirect_uri", &login.redirect);
        Ok(url)
    }

    fn code_param(&self) -> &'static str {
        "auth_code"
    }

    async fn exchange(
        &self,
        auth: &Auth,
        account: &Account,
        previous: Option<&CredentialKind>,
        code: Secret,
        _verifier: PkceCodeVerifier,
        _redirect: &str,
    ) -> Result<CredentialKind, AuthError> {
        let app = app(auth, account, previous)?;
        let ep = endpoints(account, auth);
        let url = ep.api("oauth2/access_token/");
        let body = serde_json::json!({
            "app_id": app.app_id,
            "secret": app.secret.expose(),
            "auth_code": code.expose(),
        });
        let span = trace::token("tiktok", &account.name, &url);
        let data = async {
            let resp = auth
                .http()
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string())
                .send()
                .await
                .map_err(|e| transport(&url, e))?;
            let status = resp.status().as_u16();
            trace::record_response(status, resp.headers(), TIKTOK_REQUEST_ID);
            let text = resp.text().await.map_err(|e| transport(&url, e))?;
            envelope_data(&account.name, status, &text, &[&app.secret, &code])
        }
        .instrument(span)
        .await
        .map_err(|e| match e {
            AuthError::Api { message, .. } => login_err(
                message,
                format!("check {TIKTOK_APP_ID} / {TIKTOK_APP_SECRET} and run `adsctl auth login {}` again (an auth_code works once, for about an hour)", account.name),
            ),
            other => other,
        })?;
        let token = data
            .get("access_token")
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(Secret::new)
            .ok_or_else(|| AuthError::Api {
                platform: Platform::Tiktok,
                message: "the token response has no access_token".into(),
                hint: format!("check the endpoint ({ENDPOINT})"),
            })?;
        let advertiser_ids: Vec<String> = data
            .get("advertiser_ids")
            .and_then(|a| a.as_array())
            .map(|a| a.iter().filter_map(id_text).collect())
            .unwrap_or_default();
        let wanted = account.platform_id.trim();
        if !advertiser_ids.is_empty() && !advertiser_ids.iter().any(|a| a == wanted) {
            return Err(login_err(
                format!(
                    "the authorization covers advertisers {} but not {wanted}, the advertiser of `{}`",
                    advertiser_ids.join(", "),
                    account.name
                ),
                format!(
                    "log in again and select advertiser {wanted} on TikTok's authorization page, or fix advertiser_id in adsctl.yaml"
                ),
            ));
        }
        Ok(CredentialKind::new(TikTokCredentials {
            access_token: token,
            app_id: Some(app.app_id),
            app_secret: Some(app.secret),
            advertiser_ids,
        }))
    }

    fn refresh_due(&self, _kind: &CredentialKind, _now: DateTime<Utc>) -> bool {
        false
    }

    async fn refresh(&self, _auth: &Auth, account: &Account, _kind: &mut CredentialKind) -> Result<bool, AuthError> {
        tracing::info!(account = %account.name, "a TikTok advertiser token does not expire: nothing to refresh");
        Ok(false)
    }

    fn refreshed(&self, kind: &mut CredentialKind, token: Secret, _expires_at: Option<DateTime<Utc>>) {
        if let Some(t) = kind.get_mut::<TikTokCredentials>() {
            t.access_token = token;
        }
    }

    async fn validate(
        &self,
        auth: &Auth,
        account: &Account,
        kind: &CredentialKind,
        v: &mut Validation,
    ) -> Result<(), AuthError> {
        let Some(t) = kind.get::<TikTokCredentials>() else {
            return Ok(());
        };
        let ep = endpoints(account, auth);
        let wanted = account.platform_id.trim().to_string();
        if let (Some(app_id), Some(secret)) = (&t.app_id, &t.app_secret) {
            let data = api_get(
                auth,
                &ep,
                &account.name,
                &t.access_token,
                "oauth2/advertiser/get/",
                &[("app_id", app_id.as_str()), ("secret", secret.expose())],
                &[secret],
            )
            .await?;
            let reached: Vec<String> = data
                .get("list")
                .and_then(|l| l.as_array())
                .map(|l| {
                    l.iter()
                        .filter_map(|a| a.get("advertiser_id").and_then(id_text))
                        .collect()
                })
                .unwrap_or_default();
            if !reached.contains(&wanted) {
                return Err(AuthError::Invalid {
                    account: account.name.clone(),
                    message: format!("the token does not reach advertiser {wanted}"),
                    hint: format!(
                        "authorize the app for advertiser {wanted}: run `adsctl auth login {}`",
                        account.name
                    ),
                });
            }
        }
        let ids = serde_json::to_string(&[&wanted]).unwrap_or_default();
        let data = api_get(
            auth,
            &ep,
            &account.name,
            &t.access_token,
            "advertiser/info/",
            &[("advertiser_ids", ids.as_str())],
            &[],
        )
        .await?;
        let info = data
            .get("list")
            .and_then(|l| l.as_array())
            .and_then(|l| {
                l.iter()
                    .find(|a| a.get("advertiser_id").and_then(id_text).as_deref() == Some(wanted.as_str()))
                    .or_else(|| l.first())
            })
            .cloned()
            .unwrap_or_default();
        v.name = info.get("name").and_then(|x| x.as_str()).map(String::from);
        v.currency = info.get("currency").and_then(|x| x.as_str()).map(String::from);
        v.time_zone = info
            .get("timezone")
            .or_else(|| info.get("display_timezone"))
            .and_then(|x| x.as_str())
            .map(String::from);
        if let (Some(tz), Some(want)) = (&v.time_zone, &account.time_zone) {
            if tz != want {
                v.warnings
                    .push(format!("TikTok says the time zone is {tz}, adsctl.yaml says {want}"));
            }
        }
        if let Some(st) = info.get("status").and_then(|x| x.as_str()) {
            if st != "STATUS_ENABLE" {
                v.warnings.push(format!("the advertiser's status is {st}"));
            }
        }
        Ok(())
    }

    /// `POST /oauth2/revoke_token/` {app_id, secret, access_token}: the advertiser token stops working
    /// (WIRE-NOTES § Auth). Needs the developer app (stored by `auth login`, or the environment).
    async fn revoke(&self, auth: &Auth, account: &Account, kind: &CredentialKind) -> Result<bool, AuthError> {
        let Some(creds) = kind.get::<TikTokCredentials>() else {
            return Ok(false);
        };
        let app = app(auth, account, Some(kind))?;
        let ep = endpoints(account, auth);
        let url = ep.api("oauth2/revoke_token/");
        let body = serde_json::json!({
            "app_id": app.app_id,
            "secret": app.secret.expose(),
            "access_token": creds.access_token.expose(),
        });
        let span = trace::token("tiktok", &account.name, &url);
        async {
            let resp = auth
                .http()
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_string())
                .send()
                .await
                .map_err(|e| transport(&url, e))?;
            let status = resp.status().as_u16();
            trace::record_response(status, resp.headers(), TIKTOK_REQUEST_ID);
            let text = resp.text().await.map_err(|e| transport(&url, e))?;
            envelope_data(&account.name, status, &text, &[&app.secret, &creds.access_token])
        }
        .instrument(span)
        .await?;
        Ok(true)
    }

    fn renew_hint(&self, account: &str) -> String {
        format!("run `adsctl auth login {account}` (advertiser tokens do not expire; a revoked one needs a new login)")
    }
}

/// An id that may come as a string or a number (never through a float).
fn id_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.trim().to_string()),
        serde_json::Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

/// `data` of an envelope; any non-zero code is an error (token codes: [`AuthError::Invalid`]). No secret reaches
/// a message.
fn envelope_data(account: &str, status: u16, text: &str, secrets: &[&Secret]) -> Result<serde_json::Value, AuthError> {
    let clean = |s: &str| scrub(&crate::secret::redact(s, secrets));
    let body: serde_json::Value = serde_json::from_str(text).map_err(|_| AuthError::Api {
        platform: Platform::Tiktok,
        message: format!("HTTP {status} without a JSON envelope"),
        hint: format!("check the endpoint ({ENDPOINT}); retry later"),
    })?;
    let code = body.get("code").and_then(|c| c.as_i64()).unwrap_or(-1);
    if code == 0 {
        return Ok(body.get("data").cloned().unwrap_or_default());
    }
    let message = clean(body.get("message").and_then(|m| m.as_str()).unwrap_or("unknown error"));
    let message = format!("{message} (code {code})");
    if matches!(code, 40102..=40107) {
        return Err(AuthError::Invalid {
            account: account.to_string(),
            message,
            hint: format!("the token was revoked or is wrong: run `adsctl auth login {account}` or `adsctl auth set-token {account}`"),
        });
    }
    Err(AuthError::Api {
        platform: Platform::Tiktok,
        message,
        hint: match code {
            40101 | 40113 => format!("check {TIKTOK_APP_ID} and {TIKTOK_APP_SECRET}"),
            40001 | 40300 | 40301 => {
                "check the advertiser id in adsctl.yaml and that the app is authorized for it".into()
            }
            _ => "see the message; retry later if it is a rate limit".into(),
        },
    })
}

async fn api_get(
    auth: &Auth,
    ep: &TikTokEndpoints,
    account: &str,
    token: &Secret,
    path: &str,
    query: &[(&str, &str)],
    secrets: &[&Secret],
) -> Result<serde_json::Value, AuthError> {
    let url = ep.api(path);
    // the query (the app secret) stays out of the span: the path only
    let span = trace::request("tiktok", account, "GET", path);
    async {
        let resp = auth
            .http()
            .get(&url)
            .query(query)
            .header("Access-Token", token.expose())
            .send()
            .await
            .map_err(|e| transport(&url, e))?;
        let status = resp.status().as_u16();
        trace::record_response(status, resp.headers(), TIKTOK_REQUEST_ID);
        let text = resp.text().await.map_err(|e| transport(&url, e))?;
        let mut all: Vec<&Secret> = secrets.to_vec();
        all.push(token);
        envelope_data(account, status, &text, &all)
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_and_never_print() {
        let c = TikTokCredentials {
            access_token: Secret::new("tt-secret-token-123"),
            app_id: Some("71".into()),
            app_secret: Some(Secret::new("tt-app-secret-456")),
            advertiser_ids: vec!["7000000000000000001".into()],
        };
        let fields = c.to_fields();
        let back = TikTokAuth.decode(fields).unwrap();
        assert_eq!(back.get::<TikTokCredentials>(), Some(&c));
        let shown = format!("{c:?} {back:?}");
        assert!(!shown.contains("tt-secret-token-123") && !shown.contains("tt-app-secret-456"));
        assert_eq!(c.expires_at(), None);
        assert_eq!(TikTokAuth.code_param(), "auth_code");
    }

    #[test]
    fn envelope_errors_are_scrubbed() {
        let s = Secret::new("app-secret-in-echo");
        let e = envelope_data(
            "tt",
            200,
            r#"{"code":40101,"message":"bad secret app-secret-in-echo","request_id":"1","data":{}}"#,
            &[&s],
        )
        .unwrap_err();
        assert!(!e.to_string().contains("app-secret-in-echo"), "{e}");
        let e = envelope_data("tt", 200, r#"{"code":40105,"message":"revoked","data":{}}"#, &[]).unwrap_err();
        assert!(e.is_invalid_grant());
        let d = envelope_data("tt", 200, r#"{"code":0,"message":"OK","data":{"a":1}}"#, &[]).unwrap();
        assert_eq!(d["a"], 1);
    }
}
