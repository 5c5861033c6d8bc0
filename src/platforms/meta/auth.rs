//! Meta credentials and their flows (the auth stage's [`PlatformAuth`] for this platform).
//!
//! `auth login`: the Facebook Login dialog with PKCE, the code exchanged at `oauth/access_token`, then
//! `fb_exchange_token` → a long-lived user token (about 60 days), re-exchanged once fewer than
//! [`META_REEXCHANGE_WINDOW`] are left. `auth set-token`: a Business Manager system-user token (no expiry).
//! `auth validate`: `debug_token`, then the ad account's fields.
//!
//! | variable | default |
//! |---|---|
//! | `ADSCTL_META_ENDPOINT` (Graph base) | `https://graph.facebook.com` |
//! | `ADSCTL_META_DIALOG_ENDPOINT` (serves `/v25.0/dialog/oauth`) | the Graph override, else `https://www.facebook.com` |

use std::any::Any;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, CsrfToken, PkceCodeVerifier, RedirectUrl, Scope};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::client::META_REQUEST_ID;
use crate::auth::platform::{CredentialKind, LoginRequest, PlatformAuth, PlatformCredentials};
use crate::auth::{
    endpoint_override, env_base_url, env_var, login_err, secret_env_var, token_field, transport, url_of, Auth,
    AuthError, Validation,
};
use crate::connectors::trace;
use crate::model::{Account, Platform};
use crate::secret::{scrub, Secret};

pub const META_GRAPH_VERSION: &str = "v25.0";
pub const META_SCOPES: &str = "ads_management,ads_read";
/// Meta long-lived tokens (about 60 days) are re-exchanged once fewer than this many days are left.
pub const META_REEXCHANGE_WINDOW: chrono::Duration = chrono::Duration::days(20);

/// The environment variables read for CI credentials (see `docs/auth.md`).
pub mod env_names {
    pub const META_ACCESS_TOKEN: &str = "FACEBOOK_ACCESS_TOKEN";
    pub const META_APP_ID: &str = "FACEBOOK_APP_ID";
    pub const META_APP_SECRET: &str = "FACEBOOK_APP_SECRET";
}
use env_names::*;

/// What kind of Meta token is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetaTokenKind {
    /// From `auth login`: a long-lived user token (about 60 days), re-exchanged before it ends.
    LongLivedUser,
    /// From `auth set-token`: a Business Manager system-user token (no expiry, or the expiry Meta reports).
    SystemUser,
}

/// Meta: an access token, and the app (for `appsecret_proof`, `debug_token` and re-exchange) when known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaCredentials {
    pub access_token: Secret,
    pub token_kind: MetaTokenKind,
    pub expires_at: Option<DateTime<Utc>>,
    pub app_id: Option<String>,
    pub app_secret: Option<Secret>,
}

impl MetaCredentials {
    /// `appsecret_proof`: lowercase hex HMAC-SHA256 of the access token keyed by the app secret.
    pub fn appsecret_proof(&self) -> Option<Secret> {
        let secret = self.app_secret.as_ref()?;
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes()).ok()?;
        mac.update(self.access_token.expose().as_bytes());
        Some(Secret::new(hex::encode(mac.finalize().into_bytes())))
    }
}

impl PlatformCredentials for MetaCredentials {
    fn platform(&self) -> Platform {
        Platform::Meta
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
        self.expires_at
    }
    fn renewed_by_a_person(&self) -> bool {
        true
    }
    fn describe(&self) -> String {
        match self.expires_at {
            Some(e) => format!("long-lived token (until {})", e.format("%Y-%m-%d")),
            None => "token".to_string(),
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

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaEndpoints {
    pub dialog_url: String,
    /// Graph base without the version (`https://graph.facebook.com`).
    pub graph_base: String,
}

impl MetaEndpoints {
    /// `{graph}/v25.0/{path}`
    pub fn versioned(&self, path: &str) -> String {
        format!(
            "{}/{META_GRAPH_VERSION}/{}",
            self.graph_base,
            path.trim_start_matches('/')
        )
    }
}

/// Where the login dialog and the Graph API are: Meta's by default; the account's `endpoint:` (beats the
/// environment) or the variables above point them at the built-in emulator.
pub fn endpoints(account: &Account, auth: &Auth) -> MetaEndpoints {
    let graph_override = endpoint_override(account, auth, "ADSCTL_META_ENDPOINT");
    let dialog_base = env_base_url(auth, "ADSCTL_META_DIALOG_ENDPOINT")
        .or_else(|| graph_override.clone())
        .unwrap_or_else(|| "https://www.facebook.com".into());
    MetaEndpoints {
        dialog_url: format!("{dialog_base}/{META_GRAPH_VERSION}/dialog/oauth"),
        graph_base: graph_override.unwrap_or_else(|| "https://graph.facebook.com".into()),
    }
}

struct MetaApp {
    app_id: String,
    app_secret: Secret,
}

fn meta_app(auth: &Auth, account: &Account, prev: Option<&CredentialKind>) -> Result<MetaApp, AuthError> {
    let prev = prev.and_then(|p| p.get::<MetaCredentials>());
    let missing = |name: &str| AuthError::Config {
        message: format!("{name} is not set (needed to connect {})", account.name),
        hint: format!("export {name}; it is stored in the encrypted vault with the token"),
    };
    Ok(MetaApp {
        app_id: env_var(auth, META_APP_ID)
            .or_else(|| prev.and_then(|m| m.app_id.clone()))
            .ok_or_else(|| missing(META_APP_ID))?,
        app_secret: secret_env_var(auth, META_APP_SECRET)
            .or_else(|| prev.and_then(|m| m.app_secret.clone()))
            .ok_or_else(|| missing(META_APP_SECRET))?,
    })
}

/// The Meta home's auth flow.
pub struct MetaAuth;

#[async_trait]
impl PlatformAuth for MetaAuth {
    fn decode(&self, fields: serde_json::Value) -> Result<CredentialKind, String> {
        CredentialKind::decode::<MetaCredentials>(fields)
    }

    fn env_names(&self) -> &'static [&'static str] {
        &[META_ACCESS_TOKEN, META_APP_ID, META_APP_SECRET]
    }

    fn env_credentials(&self, auth: &Auth, _account: &Account) -> Option<CredentialKind> {
        Some(CredentialKind::new(MetaCredentials {
            access_token: secret_env_var(auth, META_ACCESS_TOKEN)?,
            token_kind: MetaTokenKind::SystemUser,
            expires_at: None,
            app_id: env_var(auth, META_APP_ID),
            app_secret: secret_env_var(auth, META_APP_SECRET),
        }))
    }

    fn missing_hint(&self, account: &str) -> String {
        format!(
            "run `adsctl auth login {account}` or `adsctl auth set-token {account}`, or set {META_ACCESS_TOKEN} \
             (and {META_APP_ID}, {META_APP_SECRET})"
        )
    }

    fn set_token(
        &self,
        auth: &Auth,
        _account: &Account,
        token: Secret,
        previous: Option<&CredentialKind>,
    ) -> Result<CredentialKind, AuthError> {
        // a system-user (or long-lived) token
        let prev = previous.and_then(|p| p.get::<MetaCredentials>());
        Ok(CredentialKind::new(MetaCredentials {
            access_token: token,
            token_kind: MetaTokenKind::SystemUser,
            expires_at: None,
            app_id: env_var(auth, META_APP_ID).or_else(|| prev.and_then(|m| m.app_id.clone())),
            app_secret: secret_env_var(auth, META_APP_SECRET).or_else(|| prev.and_then(|m| m.app_secret.clone())),
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
        let app = meta_app(auth, account, previous)?;
        let redirect = RedirectUrl::new(login.redirect).map_err(|e| login_err(e.to_string(), "retry"))?;
        let client = BasicClient::new(ClientId::new(app.app_id))
            .set_auth_uri(url_of(AuthUrl::new(ep.dialog_url))?)
            .set_redirect_uri(redirect);
        let state = login.state.expose().to_string();
        let (url, _) = client
            .authorize_url(|| CsrfToken::new(state))
            .add_scope(Scope::new(META_SCOPES.into()))
            .set_pkce_challenge(login.challenge)
            .url();
        Ok(url)
    }

    async fn exchange(
        &self,
        auth: &Auth,
        account: &Account,
        previous: Option<&CredentialKind>,
        code: Secret,
        verifier: PkceCodeVerifier,
        redirect: &str,
    ) -> Result<CredentialKind, AuthError> {
        let app = meta_app(auth, account, previous)?;
        let ep = endpoints(account, auth);
        let short = meta_get(
            auth,
            &ep,
            &account.name,
            "oauth/access_token",
            &[
                ("client_id", app.app_id.as_str()),
                ("redirect_uri", redirect),
                ("client_secret", app.app_secret.expose()),
                ("code", code.expose()),
                ("code_verifier", verifier.secret()),
            ],
        )
        .await?;
        let short = token_field(&short, Platform::Meta)?;
        let (long, expires_at) = meta_long_lived(auth, &ep, &account.name, &app, &short).await?;
        Ok(CredentialKind::new(MetaCredentials {
            access_token: long,
            token_kind: MetaTokenKind::LongLivedUser,
            expires_at,
            app_id: Some(app.app_id),
            app_secret: Some(app.app_secret),
        }))
    }

    fn refresh_due(&self, kind: &CredentialKind, now: DateTime<Utc>) -> bool {
        kind.get::<MetaCredentials>().is_some_and(|m| {
            m.token_kind == MetaTokenKind::LongLivedUser
                && m.app_secret.is_some()
                && m.expires_at.is_some_and(|exp| exp - META_REEXCHANGE_WINDOW <= now)
        })
    }

    async fn refresh(&self, auth: &Auth, account: &Account, kind: &mut CredentialKind) -> Result<bool, AuthError> {
        let Some(m) = kind.get_mut::<MetaCredentials>() else {
            return Ok(false);
        };
        if m.token_kind == MetaTokenKind::SystemUser {
            tracing::info!(account = %account.name, "a system-user token has nothing to refresh");
            return Ok(false);
        }
        let (Some(app_id), Some(app_secret)) = (m.app_id.clone(), m.app_secret.clone()) else {
            return Err(AuthError::Config {
                message: format!(
                    "the Meta app of {} is unknown, so its token cannot be re-exchanged",
                    account.name
                ),
                hint: format!(
                    "run `adsctl auth login {}` with {META_APP_ID} and {META_APP_SECRET} set",
                    account.name
                ),
            });
        };
        let ep = endpoints(account, auth);
        let app = MetaApp { app_id, app_secret };
        let (token, expires_at) = meta_long_lived(auth, &ep, &account.name, &app, &m.access_token).await?;
        m.access_token = token;
        m.expires_at = expires_at;
        Ok(true)
    }

    fn refreshed(&self, kind: &mut CredentialKind, token: Secret, expires_at: Option<DateTime<Utc>>) {
        if let Some(m) = kind.get_mut::<MetaCredentials>() {
            m.access_token = token;
            m.expires_at = expires_at;
        }
    }

    async fn validate(
        &self,
        auth: &Auth,
        account: &Account,
        kind: &CredentialKind,
        v: &mut Validation,
    ) -> Result<(), AuthError> {
        let Some(m) = kind.get::<MetaCredentials>() else {
            return Ok(());
        };
        let ep = endpoints(account, auth);
        let app_token = match (&m.app_id, &m.app_secret) {
            (Some(id), Some(secret)) => Secret::new(format!("{id}|{}", secret.expose())),
            _ => m.access_token.clone(),
        };
        let dbg = meta_get(
            auth,
            &ep,
            &account.name,
            "/debug_token",
            &[
                ("input_token", m.access_token.expose()),
                ("access_token", app_token.expose()),
            ],
        )
        .await?;
        let data = dbg.get("data").cloned().unwrap_or_default();
        if data.get("is_valid").and_then(|b| b.as_bool()) != Some(true) {
            let why = data
                .pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(scrub)
                .unwrap_or_else(|| "debug_token says the token is not valid".into());
            return Err(AuthError::Invalid {
                account: account.name.clone(),
                message: why,
                hint: format!(
                    "run `adsctl auth login {0}` or `adsctl auth set-token {0}`",
                    account.name
                ),
            });
        }
        v.scopes = data
            .get("scopes")
            .and_then(|s| s.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
            .unwrap_or_default();
        if !v.scopes.is_empty() && !v.scopes.iter().any(|s| s == "ads_management") {
            v.warnings
                .push("the token lacks the ads_management permission: applies will fail".into());
        }
        v.expires_at = data
            .get("expires_at")
            .and_then(|e| e.as_i64())
            .filter(|&e| e > 0)
            .and_then(|e| Utc.timestamp_opt(e, 0).single());
        let proof = m.appsecret_proof();
        let mut q = vec![
            ("fields", "id,name,currency,timezone_name,account_status"),
            ("access_token", m.access_token.expose()),
        ];
        if let Some(p) = &proof {
            q.push(("appsecret_proof", p.expose()));
        }
        let acct = meta_get(auth, &ep, &account.name, &account.platform_id, &q).await?;
        v.name = acct.get("name").and_then(|x| x.as_str()).map(String::from);
        v.currency = acct.get("currency").and_then(|x| x.as_str()).map(String::from);
        v.time_zone = acct.get("timezone_name").and_then(|x| x.as_str()).map(String::from);
        if let Some(st) = acct.get("account_status").and_then(|x| x.as_i64()) {
            if st != 1 {
                v.warnings
                    .push(format!("the ad account's account_status is {st} (1 = active)"));
            }
        }
        Ok(())
    }

    fn renew_hint(&self, account: &str) -> String {
        format!("run `adsctl auth refresh {account}` (re-exchange) or `adsctl auth login {account}`")
    }
}

/// `fb_exchange_token`: a short- (or long-) lived user token → a fresh long-lived one (about 60 days).
async fn meta_long_lived(
    auth: &Auth,
    ep: &MetaEndpoints,
    account: &str,
    app: &MetaApp,
    token: &Secret,
) -> Result<(Secret, Option<DateTime<Utc>>), AuthError> {
    let v = meta_get(
        auth,
        ep,
        account,
        "oauth/access_token",
        &[
            ("grant_type", "fb_exchange_token"),
            ("client_id", app.app_id.as_str()),
            ("client_secret", app.app_secret.expose()),
            ("fb_exchange_token", token.expose()),
        ],
    )
    .await?;
    let long = token_field(&v, Platform::Meta)?;
    let expires_at = v
        .get("expires_in")
        .and_then(|e| e.as_i64().or_else(|| e.as_str().and_then(|s| s.parse().ok())))
        .map(|s| Utc::now() + chrono::Duration::seconds(s));
    Ok((long, expires_at))
}

/// A Graph GET (`{graph}/v25.0/{path}`, or unversioned when `path` starts with `/`). Errors are mapped from
/// Meta's envelope; code 190 / 102 (token invalid or expired) becomes [`AuthError::Invalid`]. No secret of the
/// query ever reaches an error.
async fn meta_get(
    auth: &Auth,
    ep: &MetaEndpoints,
    account: &str,
    path: &str,
    query: &[(&str, &str)],
) -> Result<serde_json::Value, AuthError> {
    // the query (tokens, secrets, codes) stays out of the span: the path only
    let span = trace::request("meta", account, "GET", path);
    meta_get_in_span(auth, ep, account, path, query).instrument(span).await
}

async fn meta_get_in_span(
    auth: &Auth,
    ep: &MetaEndpoints,
    account: &str,
    path: &str,
    query: &[(&str, &str)],
) -> Result<serde_json::Value, AuthError> {
    let url = if path.starts_with('/') {
        format!("{}{}", ep.graph_base, path)
    } else {
        ep.versioned(path)
    };
    let resp = auth
        .http()
        .get(&url)
        .query(query)
        .send()
        .await
        .map_err(|e| transport(&url, e))?;
    let status = resp.status();
    trace::record_response(status.as_u16(), resp.headers(), META_REQUEST_ID);
    tracing::debug!(status = status.as_u16(), "Meta auth response");
    let body: serde_json::Value = resp.json().await.map_err(|e| transport(&url, e))?;
    if let Some(err) = body.get("error") {
        return Err(meta_error(account, err));
    }
    if !status.is_success() {
        return Err(AuthError::Api {
            platform: Platform::Meta,
            message: format!("HTTP {status} from {url}"),
            hint: "retry later".into(),
        });
    }
    Ok(body)
}

fn meta_error(account: &str, err: &serde_json::Value) -> AuthError {
    let code = err.get("code").and_then(|c| c.as_i64()).unwrap_or_default();
    let sub = err.get("error_subcode").and_then(|c| c.as_i64());
    let message = scrub(err.get("message").and_then(|m| m.as_str()).unwrap_or("unknown error"));
    let message = match sub {
        Some(s) => format!("{message} (code {code}, subcode {s})"),
        None => format!("{message} (code {code})"),
    };
    if code == 190 || code == 102 {
        AuthError::Invalid {
            account: account.to_string(),
            message,
            hint: format!(
                "the token was revoked or has expired: run `adsctl auth login {account}` (or `adsctl auth set-token {account}` for a system-user token)"
            ),
        }
    } else {
        AuthError::Api {
            platform: Platform::Meta,
            message,
            hint: "see the message; retry later if it is a rate limit".into(),
        }
    }
}
