//! Mailchimp credentials and their flows (the auth stage's [`PlatformAuth`] for this platform).
//!
//! Two credentials, sent identically (`Authorization: Bearer …`), neither ever expiring and neither refreshed:
//! - an **API key** (`ADSCTL_MAILCHIMP_API_KEY`, or `adsctl auth set-token` on standard input), whose data center is
//!   the suffix after its last `-` (`…-us6` → `us6`);
//! - an **OAuth 2 access token**, from `adsctl auth login` (`ADSCTL_MAILCHIMP_CLIENT_ID` / `_CLIENT_SECRET`:
//!   authorize at `https://login.mailchimp.com/oauth2/authorize`, exchange the code at `/oauth2/token`, then
//!   `GET /oauth2/metadata` with `Authorization: OAuth <token>` for the data center, stored with the token), or from
//!   `ADSCTL_MAILCHIMP_ACCESS_TOKEN` + `ADSCTL_MAILCHIMP_SERVER` (the dc). The login host is overridable by
//!   `ADSCTL_MAILCHIMP_LOGIN_ENDPOINT` (the emulator serves `/oauth2/*`). Metadata answering HTTP 200 with
//!   `{"error":"invalid_token"}` is a refused token.
//! - `adsctl auth validate`: `GET /3.0/` (account name, the user's role) and `GET /3.0/lists/{list_id}` (the
//!   audience exists and is the credentials' account's).

use std::any::Any;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use oauth2::PkceCodeVerifier;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::client::{enc, REQUEST_ID};
use super::config::{default_host, normalise_base, ENDPOINT_ENV};
use crate::auth::platform::{CredentialKind, LoginRequest, PlatformAuth, PlatformCredentials};
use crate::auth::{endpoint_override, env_var, secret_env_var, Auth, AuthError, Validation};
use crate::connectors::trace;
use crate::model::{Account, Platform};
use crate::secret::{scrub, Secret};

/// The environment variables read for CI credentials and the login.
pub mod env_names {
    pub const API_KEY: &str = "ADSCTL_MAILCHIMP_API_KEY";
    pub const ACCESS_TOKEN: &str = "ADSCTL_MAILCHIMP_ACCESS_TOKEN";
    pub const SERVER: &str = "ADSCTL_MAILCHIMP_SERVER";
    pub const CLIENT_ID: &str = "ADSCTL_MAILCHIMP_CLIENT_ID";
    pub const CLIENT_SECRET: &str = "ADSCTL_MAILCHIMP_CLIENT_SECRET";
    pub const LOGIN_ENDPOINT: &str = "ADSCTL_MAILCHIMP_LOGIN_ENDPOINT";
    pub const ENDPOINT: &str = super::ENDPOINT_ENV;
}
use env_names::*;

/// The OAuth host.
pub const DEFAULT_LOGIN: &str = "https://login.mailchimp.com";

/// An API key or an OAuth token, with the data center it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailchimpCredentials {
    pub token: Secret,
    /// `us6`.
    pub dc: String,
    /// `api_key` or `oauth`.
    pub kind: String,
}

impl MailchimpCredentials {
    /// An API key; its data center from its suffix.
    pub fn api_key(key: &str) -> Result<MailchimpCredentials, String> {
        Ok(MailchimpCredentials {
            token: Secret::new(key.trim()),
            dc: dc_of_key(key)?,
            kind: "api_key".into(),
        })
    }

    /// An OAuth access token of data center `dc`.
    pub fn oauth(token: &str, dc: &str) -> MailchimpCredentials {
        MailchimpCredentials {
            token: Secret::new(token.trim()),
            dc: dc.trim().to_ascii_lowercase(),
            kind: "oauth".into(),
        }
    }

    /// 16 hex digits naming the credential without revealing it (the in-flight gate's key).
    pub fn fingerprint(&self) -> String {
        hex::encode(&sha2::Sha256::digest(self.token.expose().as_bytes())[..8])
    }
}

/// A data center: letters then digits (`us6`, `us19`).
fn is_dc(s: &str) -> bool {
    let letters = s.bytes().take_while(u8::is_ascii_alphabetic).count();
    letters > 0 && s.len() > letters && s.bytes().skip(letters).all(|b| b.is_ascii_digit())
}

/// The data center of an API key: what follows its last `-`.
pub fn dc_of_key(key: &str) -> Result<String, String> {
    match key.trim().rsplit_once('-') {
        Some((k, dc)) if !k.is_empty() && is_dc(&dc.to_ascii_lowercase()) => Ok(dc.to_ascii_lowercase()),
        _ => Err(format!(
            "the Mailchimp API key does not end in its data center (like `…-us6`): copy the whole key from \
             Account → Extras → API keys, or use an OAuth token with {SERVER}"
        )),
    }
}

impl PlatformCredentials for MailchimpCredentials {
    fn platform(&self) -> Platform {
        Platform::Mailchimp
    }
    fn to_fields(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
    fn secrets(&self) -> Vec<&Secret> {
        vec![&self.token]
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        None
    }
    fn never_expires(&self) -> bool {
        true
    }
    fn describe(&self) -> String {
        if self.kind == "oauth" {
            format!("OAuth access token (data center {}; valid until revoked)", self.dc)
        } else {
            format!("API key (data center {}; valid until revoked)", self.dc)
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

/// The login host (`https://login.mailchimp.com`, or the override).
pub fn login_base(auth: &Auth) -> String {
    crate::auth::env_base_url(auth, LOGIN_ENDPOINT).unwrap_or_else(|| DEFAULT_LOGIN.to_string())
}

/// The `/3.0/` base for an account and credentials.
pub fn base_url(account: &Account, auth: &Auth, c: &MailchimpCredentials) -> Result<String, AuthError> {
    let b = endpoint_override(account, auth, ENDPOINT).unwrap_or_else(|| default_host(&c.dc));
    normalise_base(&b).map_err(|e| AuthError::Config {
        message: e.to_string(),
        hint: format!("check `endpoint:` of {} or {ENDPOINT}", account.name),
    })
}

/// The authorize URL the user opens.
pub fn authorize_url_text(login: &str, client_id: &str, redirect: &str, state: &str) -> String {
    format!(
        "{login}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&state={}",
        enc(client_id),
        enc(redirect),
        enc(state)
    )
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// `GET {login}/oauth2/metadata` with `Authorization: OAuth <token>`: the token's data center.
pub async fn metadata(http: &reqwest::Client, login: &str, token: &Secret) -> Result<String, AuthError> {
    let url = format!("{login}/oauth2/metadata");
    let mut hv = reqwest::header::HeaderValue::from_str(&format!("OAuth {}", token.expose()))
        .map_err(|_| crate::auth::login_err("the token holds characters a header cannot carry", "log in again"))?;
    hv.set_sensitive(true);
    let resp = http
        .get(&url)
        .header(reqwest::header::AUTHORIZATION, hv)
        .send()
        .await
        .map_err(|e| crate::auth::transport(&url, e))?;
    let status = resp.status().as_u16();
    trace::record_response(status, resp.headers(), REQUEST_ID);
    let text = resp.text().await.map_err(|e| crate::auth::transport(&url, e))?;
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    // a bad token answers 200 {"error": "invalid_token"}
    if let Some(err) = v.get("error").and_then(|e| e.as_str()) {
        return Err(crate::auth::login_err(
            format!("Mailchimp refused the token at /oauth2/metadata ({})", scrub(err)),
            "run `adsctl auth login` again",
        ));
    }
    match v.get("dc").and_then(|d| d.as_str()).filter(|d| is_dc(d)) {
        Some(dc) if status < 400 => Ok(dc.to_string()),
        _ => Err(AuthError::Api {
            platform: Platform::Mailchimp,
            message: format!("/oauth2/metadata answered HTTP {status} without a data center"),
            hint: "run `adsctl auth login` again".into(),
        }),
    }
}

/// The Mailchimp home's auth flow.
pub struct MailchimpAuth;

struct App {
    client_id: String,
    client_secret: Secret,
}

fn app(auth: &Auth, account: &Account) -> Result<App, AuthError> {
    let missing = |name: &str| AuthError::Config {
        message: format!("{name} is not set (needed to connect {})", account.name),
        hint: format!(
            "export {CLIENT_ID} and {CLIENT_SECRET} (your app at Account → Extras → Registered apps), or use an API \
             key: {API_KEY}"
        ),
    };
    Ok(App {
        client_id: env_var(auth, CLIENT_ID).ok_or_else(|| missing(CLIENT_ID))?,
        client_secret: secret_env_var(auth, CLIENT_SECRET)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing(CLIENT_SECRET))?,
    })
}

#[async_trait]
impl PlatformAuth for MailchimpAuth {
    fn decode(&self, fields: serde_json::Value) -> Result<CredentialKind, String> {
        CredentialKind::decode::<MailchimpCredentials>(fields)
    }

    fn env_names(&self) -> &'static [&'static str] {
        &[API_KEY, ACCESS_TOKEN, SERVER, CLIENT_ID, CLIENT_SECRET]
    }

    fn env_credentials(&self, auth: &Auth, _account: &Account) -> Option<CredentialKind> {
        if let Some(k) = secret_env_var(auth, API_KEY).filter(|k| !k.is_empty()) {
            return MailchimpCredentials::api_key(k.expose()).ok().map(CredentialKind::new);
        }
        let t = secret_env_var(auth, ACCESS_TOKEN).filter(|t| !t.is_empty())?;
        let dc = env_var(auth, SERVER).filter(|d| is_dc(d.trim()))?;
        Some(CredentialKind::new(MailchimpCredentials::oauth(t.expose(), &dc)))
    }

    fn missing_hint(&self, account: &str) -> String {
        format!(
            "set {API_KEY} (a key ending in its data center, like `…-us6`), or {ACCESS_TOKEN} with {SERVER}, or run \
             `adsctl auth login {account}` with {CLIENT_ID} and {CLIENT_SECRET} set"
        )
    }

    fn set_token(
        &self,
        auth: &Auth,
        account: &Account,
        token: Secret,
        _previous: Option<&CredentialKind>,
    ) -> Result<CredentialKind, AuthError> {
        let t = token.expose().trim();
        if let Ok(c) = MailchimpCredentials::api_key(t) {
            return Ok(CredentialKind::new(c));
        }
        match env_var(auth, SERVER).filter(|d| is_dc(d.trim())) {
            Some(dc) => Ok(CredentialKind::new(MailchimpCredentials::oauth(t, &dc))),
            None => Err(AuthError::Config {
                message: "the value is not an API key ending in its data center (`…-us6`), and no data center is \
                          set for an OAuth token"
                    .into(),
                hint: format!(
                    "pipe the whole API key into `adsctl auth set-token {}`, or set {SERVER} for an OAuth token",
                    account.name
                ),
            }),
        }
    }

    fn authorize_url(
        &self,
        auth: &Auth,
        account: &Account,
        _previous: Option<&CredentialKind>,
        login: LoginRequest,
    ) -> Result<url::Url, AuthError> {
        let app = app(auth, account)?;
        url::Url::parse(&authorize_url_text(
            &login_base(auth),
            &app.client_id,
            &login.redirect,
            login.state.expose(),
        ))
        .map_err(|e| {
            crate::auth::login_err(
                format!("the authorize URL is not valid: {e}"),
                "check the login endpoint",
            )
        })
    }

    async fn exchange(
        &self,
        auth: &Auth,
        account: &Account,
        _previous: Option<&CredentialKind>,
        code: Secret,
        _verifier: PkceCodeVerifier,
        redirect: &str,
    ) -> Result<CredentialKind, AuthError> {
        let app = app(auth, account)?;
        let login = login_base(auth);
        let url = format!("{login}/oauth2/token");
        let body = form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &app.client_id),
            ("client_secret", app.client_secret.expose()),
            ("redirect_uri", redirect),
            ("code", code.expose()),
        ]);
        let resp = auth
            .http()
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| crate::auth::transport(&url, e))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| crate::auth::transport(&url, e))?;
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if status >= 400 || v.get("error").is_some() {
            let what = v
                .get("error")
                .and_then(|e| e.as_str())
                .map(|e| scrub(&crate::secret::redact(e, &[&app.client_secret, &code])))
                .unwrap_or_else(|| format!("HTTP {status}"));
            return Err(crate::auth::login_err(
                format!("Mailchimp refused the code at /oauth2/token ({what})"),
                format!("check {CLIENT_ID} / {CLIENT_SECRET} (a rotated secret fails here) and log in again"),
            ));
        }
        let token = crate::auth::token_field(&v, Platform::Mailchimp)?;
        let dc = metadata(auth.http(), &login, &token).await?;
        Ok(CredentialKind::new(MailchimpCredentials {
            token,
            dc,
            kind: "oauth".into(),
        }))
    }

    fn refresh_due(&self, _kind: &CredentialKind, _now: DateTime<Utc>) -> bool {
        false
    }

    async fn refresh(&self, _auth: &Auth, _account: &Account, _kind: &mut CredentialKind) -> Result<bool, AuthError> {
        Ok(false)
    }

    fn refreshed(&self, _kind: &mut CredentialKind, _token: Secret, _expires_at: Option<DateTime<Utc>>) {}

    async fn validate(
        &self,
        auth: &Auth,
        account: &Account,
        kind: &CredentialKind,
        v: &mut Validation,
    ) -> Result<(), AuthError> {
        let Some(c) = kind.get::<MailchimpCredentials>() else {
            return Ok(());
        };
        let base = base_url(account, auth, c)?;
        let get =
            |path: String| {
                let url = format!("{base}{path}");
                async move {
                    let mut hv = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", c.token.expose()))
                        .map_err(|_| AuthError::Config {
                            message: "the Mailchimp credential holds characters a header cannot carry".into(),
                            hint: format!("store it again with `adsctl auth set-token {}`", account.name),
                        })?;
                    hv.set_sensitive(true);
                    let resp = auth
                        .http()
                        .get(&url)
                        .header(reqwest::header::AUTHORIZATION, hv)
                        .send()
                        .await
                        .map_err(|e| crate::auth::transport(&url, e))?;
                    let status = resp.status().as_u16();
                    trace::record_response(status, resp.headers(), REQUEST_ID);
                    let text = resp.text().await.map_err(|e| crate::auth::transport(&url, e))?;
                    if status >= 400 {
                        let e = super::errors::ApiError::parse(status, &text, &|t| {
                            scrub(&crate::secret::redact(t, &[&c.token]))
                        });
                        let message = format!("GET /3.0/{path}: {} {}", e.title, e.text());
                        return Err(if status == 401 {
                            AuthError::Invalid {
                                account: account.name.clone(),
                                message,
                                hint: super::errors::auth_hint(Some(&account.name)),
                            }
                        } else {
                            AuthError::Api {
                                platform: Platform::Mailchimp,
                                message,
                                hint: e.hint(Some(&account.name)).unwrap_or_default(),
                            }
                        });
                    }
                    Ok(serde_json::from_str::<serde_json::Value>(&text).unwrap_or_default())
                }
            };
        let root = get(String::new()).await?;
        let role = root.get("role").and_then(|r| r.as_str()).unwrap_or("").to_string();
        if !role.is_empty() {
            v.scopes = vec![role.clone()];
            if matches!(role.as_str(), "viewer" | "author") {
                v.warnings.push(format!(
                    "the credentials' user is a Mailchimp {role}: applying may be refused (403)"
                ));
            }
        }
        v.time_zone = root.get("account_timezone").and_then(|t| t.as_str()).map(String::from);
        let list = get(format!("lists/{}?fields=id,name", enc(account.platform_id.trim()))).await?;
        v.name = list
            .get("name")
            .and_then(|n| n.as_str())
            .map(String::from)
            .or_else(|| root.get("account_name").and_then(|n| n.as_str()).map(String::from));
        Ok(())
    }

    fn renew_hint(&self, account: &str) -> String {
        format!("create a new API key and pipe it into `adsctl auth set-token {account}`, or run `adsctl auth login {account}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_carry_their_data_center() {
        let c = MailchimpCredentials::api_key("0123456789abcdef0123456789abcdef-us6").unwrap();
        assert_eq!(c.dc, "us6");
        assert_eq!(dc_of_key("abc-def-US19").unwrap(), "us19");
        let e = dc_of_key("0123456789abcdef0123456789abcdef").unwrap_err();
        assert!(e.contains("-us6"), "{e}");
        assert!(!e.contains("0123456789abcdef"), "a key never reaches a message");
        assert!(dc_of_key("key-").is_err());
        assert!(dc_of_key("key-6").is_err());
        assert!(c.never_expires());
        let k = MailchimpAuth.decode(c.to_fields()).unwrap();
        assert_eq!(k.get::<MailchimpCredentials>(), Some(&c));
        assert!(!format!("{c:?}").contains("0123456789abcdef0123"));
    }

    #[test]
    fn set_token_takes_a_key_or_a_token_with_its_server() {
        let acct = Account {
            name: "mc".into(),
            platform: Platform::Mailchimp,
            platform_id: "57afe96172".into(),
            login_customer_id: None,
            currency: crate::model::Currency::from_code("USD").unwrap(),
            time_zone: None,
            on_removed: crate::model::RemovalPolicy::Pause,
            guardrails: crate::model::Guardrails::default(),
            endpoint: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let none: crate::auth::EnvFn = std::sync::Arc::new(|_: &str| None);
        let auth = Auth::with_env(dir.path(), none);
        let k = MailchimpAuth
            .set_token(&auth, &acct, Secret::new("abcdef0123456789-us19\n"), None)
            .unwrap();
        assert_eq!(k.get::<MailchimpCredentials>().unwrap().dc, "us19");
        let e = MailchimpAuth
            .set_token(&auth, &acct, Secret::new("abcdef0123456789"), None)
            .unwrap_err();
        assert!(e.to_string().contains("-us6") || e.hint().contains(SERVER), "{e}");
        assert!(!format!("{e:?}").contains("abcdef0123456789"));
        assert!(MailchimpAuth.env_credentials(&auth, &acct).is_none());
        let server: crate::auth::EnvFn = std::sync::Arc::new(|k: &str| (k == SERVER).then(|| "us6".to_string()));
        let auth = Auth::with_env(dir.path(), server);
        let k = MailchimpAuth
            .set_token(&auth, &acct, Secret::new("oauthtoken"), None)
            .unwrap();
        assert_eq!(k.get::<MailchimpCredentials>().unwrap().kind, "oauth");
    }
}
