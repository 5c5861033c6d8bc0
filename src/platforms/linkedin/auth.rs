//! LinkedIn credentials and their flows (the auth stage's [`PlatformAuth`] for this platform): 3-legged OAuth 2.0.
//!
//! `auth login`: the browser goes to `https://www.linkedin.com/oauth/v2/authorization?response_type=code&client_id
//! &redirect_uri&state&scope=r_ads rw_ads r_ads_reporting rw_dmp_segments` (space-separated; the member accepts all
//! scopes at once); the code is exchanged at `POST /oauth/v2/accessToken` (form: `grant_type=authorization_code`,
//! `code`, `client_id`, `client_secret`, `redirect_uri`) for an access token (60 days) and a refresh token (365 days
//! from the first consent). `auth refresh` (and the engine before a run, one day ahead of the end): `grant_type=
//! refresh_token` — a new access token; **the refresh token keeps its original expiry** (it is not renewed), so
//! `auth status` reports that end and `auth login` states both. `auth validate`: `POST /oauth/v2/introspectToken`
//! (when the app is known: active, scopes, expiry), then `GET /rest/adAccounts/{id}` (name, currency).
//!
//! | variable | default |
//! |---|---|
//! | `ADSCTL_LINKEDIN_ACCESS_TOKEN`, `ADSCTL_LINKEDIN_REFRESH_TOKEN`, `ADSCTL_LINKEDIN_CLIENT_ID`, `ADSCTL_LINKEDIN_CLIENT_SECRET` | — |
//! | `ADSCTL_LINKEDIN_ENDPOINT` (REST base, serves `/rest/…`) | `https://api.linkedin.com/rest` |
//! | `ADSCTL_LINKEDIN_OAUTH_ENDPOINT` (serves `/authorization`, `/accessToken`, `/introspectToken`) | `https://www.linkedin.com/oauth/v2` |

use std::any::Any;

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use oauth2::PkceCodeVerifier;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::client::{encode_primitive, LINKEDIN_REQUEST_ID};
use super::config::{oauth_base, API_VERSION, DEFAULT_BASE_URL, ENDPOINT_ENV, RESTLI_PROTOCOL_VERSION};
use crate::auth::platform::{CredentialKind, LoginRequest, PlatformAuth, PlatformCredentials};
use crate::auth::{
    endpoint_override, env_var, login_err, secret_env_var, transport, url_of, Auth, AuthError, Validation,
};
use crate::connectors::trace;
use crate::model::{Account, Platform};
use crate::secret::{scrub, Secret};

/// The environment variables read for CI credentials (see `docs/auth.md`).
pub mod env_names {
    pub const ACCESS_TOKEN: &str = "ADSCTL_LINKEDIN_ACCESS_TOKEN";
    pub const REFRESH_TOKEN: &str = "ADSCTL_LINKEDIN_REFRESH_TOKEN";
    pub const CLIENT_ID: &str = "ADSCTL_LINKEDIN_CLIENT_ID";
    pub const CLIENT_SECRET: &str = "ADSCTL_LINKEDIN_CLIENT_SECRET";
    pub const ENDPOINT: &str = super::ENDPOINT_ENV;
    pub const OAUTH_ENDPOINT: &str = super::super::config::OAUTH_ENDPOINT_ENV;
}
use env_names::*;

/// The scopes `auth login` asks for (space-separated on the wire).
pub const SCOPES: &[&str] = &["r_ads", "rw_ads", "r_ads_reporting", "rw_dmp_segments"];
/// Refresh the access token when it ends within this (tokens last 60 days).
pub const REFRESH_AHEAD: Duration = Duration::days(1);

/// LinkedIn: an access token (sent as `Authorization: Bearer`), and, for a refreshable login, the refresh token
/// with its fixed expiry and the developer app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedInCredentials {
    pub access_token: Secret,
    #[serde(default)]
    pub access_token_expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// Fixed at the first consent (365 days); a refresh does not move it.
    #[serde(default)]
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// The scopes granted (space-separated, as LinkedIn answers them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl LinkedInCredentials {
    /// A token alone (what the connector needs).
    pub fn token(access_token: impl Into<String>) -> LinkedInCredentials {
        LinkedInCredentials {
            access_token: Secret::new(access_token),
            access_token_expires_at: None,
            refresh_token: None,
            refresh_token_expires_at: None,
            client_id: None,
            client_secret: None,
            scope: None,
        }
    }

    fn refresh_usable(&self, now: DateTime<Utc>) -> bool {
        self.refresh_token.as_ref().is_some_and(|r| !r.is_empty())
            && self.client_id.is_some()
            && self.client_secret.is_some()
            && self.refresh_token_expires_at.is_none_or(|e| e > now)
    }
}

fn day(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "unknown".to_string(), |t| t.format("%Y-%m-%d").to_string())
}

impl PlatformCredentials for LinkedInCredentials {
    fn platform(&self) -> Platform {
        Platform::Linkedin
    }
    fn to_fields(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
    fn secrets(&self) -> Vec<&Secret> {
        self.secrets_held()
    }
    /// The end only a person can move: the refresh token's fixed expiry when there is one (the access token is
    /// refreshed until then), else the access token's.
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        match &self.refresh_token {
            Some(_) => self.refresh_token_expires_at.or(self.access_token_expires_at),
            None => self.access_token_expires_at,
        }
    }
    fn renewed_by_a_person(&self) -> bool {
        true
    }
    fn describe(&self) -> String {
        match &self.refresh_token {
            Some(_) => format!(
                "access token until {} (refreshed automatically), refresh token until {} (fixed at the first \
                 consent: a refresh does not move it; log in again before then)",
                day(self.access_token_expires_at),
                day(self.refresh_token_expires_at)
            ),
            None => format!(
                "access token until {} (no refresh token: log in again before then)",
                day(self.access_token_expires_at)
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

/// Where the OAuth endpoints and the REST API are for an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedInEndpoints {
    /// `https://www.linkedin.com/oauth/v2`
    pub oauth: String,
    /// `https://api.linkedin.com/rest`
    pub rest: String,
}

pub fn endpoints(account: &Account, auth: &Auth) -> LinkedInEndpoints {
    let rest = endpoint_override(account, auth, ENDPOINT).unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    let rest = if rest.ends_with("/rest") {
        rest
    } else {
        format!("{rest}/rest")
    };
    LinkedInEndpoints {
        oauth: oauth_base(auth),
        rest,
    }
}

struct App {
    client_id: String,
    client_secret: Secret,
}

fn app(auth: &Auth, account: &Account, prev: Option<&CredentialKind>) -> Result<App, AuthError> {
    let prev = prev.and_then(|p| p.get::<LinkedInCredentials>());
    let missing = |name: &str| AuthError::Config {
        message: format!("{name} is not set (needed to connect {})", account.name),
        hint: format!("export {name} (the Client ID and Client Secret of your LinkedIn developer app, Auth tab)"),
    };
    Ok(App {
        client_id: env_var(auth, CLIENT_ID)
            .or_else(|| prev.and_then(|t| t.client_id.clone()))
            .ok_or_else(|| missing(CLIENT_ID))?,
        client_secret: secret_env_var(auth, CLIENT_SECRET)
            .or_else(|| prev.and_then(|t| t.client_secret.clone()))
            .ok_or_else(|| missing(CLIENT_SECRET))?,
    })
}

/// A form body (`application/x-www-form-urlencoded`).
fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A token endpoint's answer, or its error (`{error, error_description}`) — `invalid_grant` is a revoked or
/// expired grant. No secret reaches a message.
fn token_answer(account: &str, status: u16, text: &str, secrets: &[&Secret]) -> Result<serde_json::Value, AuthError> {
    let clean = |s: &str| scrub(&crate::secret::redact(s, secrets));
    let body: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    if (200..300).contains(&status) && body.is_object() {
        return Ok(body);
    }
    let error = body.get("error").and_then(|e| e.as_str()).unwrap_or("");
    let description = body
        .get("error_description")
        .or_else(|| body.get("message"))
        .and_then(|e| e.as_str())
        .unwrap_or("");
    let message = clean(&format!("HTTP {status} {error} {description}").replace("  ", " "));
    if error == "invalid_grant" || status == 401 {
        return Err(AuthError::Invalid {
            account: account.to_string(),
            message,
            hint: format!(
                "the grant expired or was revoked (the refresh token lives 365 days from the first consent and is \
                 not renewed): run `adsctl auth login {account}`"
            ),
        });
    }
    Err(AuthError::Api {
        platform: Platform::Linkedin,
        message,
        hint: format!("check {CLIENT_ID} / {CLIENT_SECRET} and the endpoint ({OAUTH_ENDPOINT}); retry later"),
    })
}

async fn post_form(
    auth: &Auth,
    account: &str,
    url: &str,
    body: String,
    secrets: &[&Secret],
) -> Result<serde_json::Value, AuthError> {
    let span = trace::token("linkedin", account, url);
    async {
        let resp = auth
            .http()
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| transport(url, e))?;
        let status = resp.status().as_u16();
        trace::record_response(status, resp.headers(), LINKEDIN_REQUEST_ID);
        let text = resp.text().await.map_err(|e| transport(url, e))?;
        token_answer(account, status, &text, secrets)
    }
    .instrument(span)
    .await
}

fn seconds(v: &serde_json::Value, key: &str) -> Option<i64> {
    v.get(key)
        .and_then(|x| x.as_i64().or_else(|| x.as_str().and_then(|s| s.trim().parse().ok())))
}

fn after(now: DateTime<Utc>, secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.filter(|s| *s > 0).map(|s| now + Duration::seconds(s))
}

/// The LinkedIn home's auth flow.
pub struct LinkedInAuth;

#[async_trait]
impl PlatformAuth for LinkedInAuth {
    fn decode(&self, fields: serde_json::Value) -> Result<CredentialKind, String> {
        CredentialKind::decode::<LinkedInCredentials>(fields)
    }

    fn env_names(&self) -> &'static [&'static str] {
        &[ACCESS_TOKEN, REFRESH_TOKEN, CLIENT_ID, CLIENT_SECRET]
    }

    fn env_credentials(&self, auth: &Auth, _account: &Account) -> Option<CredentialKind> {
        Some(CredentialKind::new(LinkedInCredentials {
            access_token: secret_env_var(auth, ACCESS_TOKEN).filter(|t| !t.is_empty())?,
            access_token_expires_at: None,
            refresh_token: secret_env_var(auth, REFRESH_TOKEN).filter(|t| !t.is_empty()),
            refresh_token_expires_at: None,
            client_id: env_var(auth, CLIENT_ID),
            client_secret: secret_env_var(auth, CLIENT_SECRET),
            scope: None,
        }))
    }

    fn missing_hint(&self, account: &str) -> String {
        format!(
            "run `adsctl auth login {account}` (with {CLIENT_ID} and {CLIENT_SECRET} set) or `adsctl auth set-token \
             {account}`, or set {ACCESS_TOKEN}"
        )
    }

    fn set_token(
        &self,
        auth: &Auth,
        _account: &Account,
        token: Secret,
        previous: Option<&CredentialKind>,
    ) -> Result<CredentialKind, AuthError> {
        let prev = previous.and_then(|p| p.get::<LinkedInCredentials>());
        Ok(CredentialKind::new(LinkedInCredentials {
            access_token: token,
            access_token_expires_at: None,
            refresh_token: None,
            refresh_token_expires_at: None,
            client_id: env_var(auth, CLIENT_ID).or_else(|| prev.and_then(|t| t.client_id.clone())),
            client_secret: secret_env_var(auth, CLIENT_SECRET).or_else(|| prev.and_then(|t| t.client_secret.clone())),
            scope: None,
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
        url_of(url::Url::parse(&authorize_url_text(
            &ep.oauth,
            &app.client_id,
            &login.redirect,
            login.state.expose(),
        )))
    }

    async fn exchange(
        &self,
        auth: &Auth,
        account: &Account,
        previous: Option<&CredentialKind>,
        code: Secret,
        _verifier: PkceCodeVerifier,
        redirect: &str,
    ) -> Result<CredentialKind, AuthError> {
        let app = app(auth, account, previous)?;
        let ep = endpoints(account, auth);
        let url = format!("{}/accessToken", ep.oauth);
        let body = form(&[
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("client_id", &app.client_id),
            ("client_secret", app.client_secret.expose()),
            ("redirect_uri", redirect),
        ]);
        let now = Utc::now();
        let data = post_form(auth, &account.name, &url, body, &[&app.client_secret, &code])
            .await
            .map_err(|e| match e {
                AuthError::Api { message, .. } | AuthError::Invalid { message, .. } => login_err(
                    message,
                    format!(
                        "check {CLIENT_ID} / {CLIENT_SECRET} and that the app's redirect URLs include adsctl's, then \
                         run `adsctl auth login {}` again (a code works once, for a few minutes)",
                        account.name
                    ),
                ),
                other => other,
            })?;
        let creds = credentials_from(&data, now, app.client_id, app.client_secret, None)?;
        Ok(CredentialKind::new(creds))
    }

    fn refresh_due(&self, kind: &CredentialKind, now: DateTime<Utc>) -> bool {
        kind.get::<LinkedInCredentials>().is_some_and(|c| {
            c.refresh_usable(now) && c.access_token_expires_at.is_some_and(|e| e - REFRESH_AHEAD <= now)
        })
    }

    async fn refresh(&self, auth: &Auth, account: &Account, kind: &mut CredentialKind) -> Result<bool, AuthError> {
        let Some(c) = kind.get_mut::<LinkedInCredentials>() else {
            return Ok(false);
        };
        let now = Utc::now();
        let (Some(refresh), Some(client_id), Some(secret)) =
            (c.refresh_token.clone(), c.client_id.clone(), c.client_secret.clone())
        else {
            tracing::info!(account = %account.name, "no LinkedIn refresh token or app: nothing to refresh");
            return Ok(false);
        };
        if c.refresh_token_expires_at.is_some_and(|e| e <= now) {
            return Err(AuthError::Invalid {
                account: account.name.clone(),
                message: format!("the refresh token ended on {}", day(c.refresh_token_expires_at)),
                hint: format!(
                    "LinkedIn refresh tokens live 365 days and are not renewed: run `adsctl auth login {}`",
                    account.name
                ),
            });
        }
        let ep = endpoints(account, auth);
        let url = format!("{}/accessToken", ep.oauth);
        let body = form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose()),
            ("client_id", &client_id),
            ("client_secret", secret.expose()),
        ]);
        let data = post_form(auth, &account.name, &url, body, &[&refresh, &secret]).await?;
        let fresh = credentials_from(&data, now, client_id, secret, Some(c))?;
        *c = fresh;
        Ok(true)
    }

    fn refreshed(&self, kind: &mut CredentialKind, token: Secret, expires_at: Option<DateTime<Utc>>) {
        if let Some(c) = kind.get_mut::<LinkedInCredentials>() {
            c.access_token = token;
            c.access_token_expires_at = expires_at;
        }
    }

    async fn validate(
        &self,
        auth: &Auth,
        account: &Account,
        kind: &CredentialKind,
        v: &mut Validation,
    ) -> Result<(), AuthError> {
        let Some(c) = kind.get::<LinkedInCredentials>() else {
            return Ok(());
        };
        let ep = endpoints(account, auth);
        let now = Utc::now();
        v.expires_at = c.access_token_expires_at;
        if let (Some(client_id), Some(secret)) = (&c.client_id, &c.client_secret) {
            let url = format!("{}/introspectToken", ep.oauth);
            let body = form(&[
                ("client_id", client_id),
                ("client_secret", secret.expose()),
                ("token", c.access_token.expose()),
            ]);
            let data = post_form(auth, &account.name, &url, body, &[secret, &c.access_token]).await?;
            if data.get("active").and_then(|a| a.as_bool()) == Some(false) {
                return Err(AuthError::Invalid {
                    account: account.name.clone(),
                    message: format!(
                        "LinkedIn says the access token is not active (status {})",
                        data.get("status").and_then(|s| s.as_str()).unwrap_or("unknown")
                    ),
                    hint: format!("run `adsctl auth refresh {0}` or `adsctl auth login {0}`", account.name),
                });
            }
            if let Some(t) = seconds(&data, "expires_at").and_then(|s| Utc.timestamp_opt(s, 0).single()) {
                v.expires_at = Some(t);
            }
            if let Some(s) = data.get("scope").and_then(|s| s.as_str()) {
                v.scopes = s
                    .split([' ', ','])
                    .filter(|x| !x.is_empty())
                    .map(String::from)
                    .collect();
            }
        } else if let Some(s) = &c.scope {
            v.scopes = s
                .split([' ', ','])
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect();
        }
        if !v.scopes.is_empty() {
            for needed in ["rw_ads", "rw_dmp_segments", "r_ads_reporting"] {
                if !v.scopes.iter().any(|s| s == needed) {
                    v.warnings.push(format!("the token lacks the scope {needed}"));
                }
            }
        }
        if let Some(end) = c.refresh_token_expires_at.filter(|_| c.refresh_token.is_some()) {
            if end - Duration::days(30) <= now {
                v.warnings.push(format!(
                    "the refresh token ends on {} and is not renewed by refreshing: log in again before then",
                    day(Some(end))
                ));
            }
        }
        // a cheap read of the ad account proves the token reaches it
        let id = account.platform_id.trim();
        let url = format!("{}/adAccounts/{}", ep.rest, encode_primitive(id));
        let span = trace::request("linkedin", &account.name, "GET", "adAccounts/{id}");
        let (status, text) = async {
            let resp = auth
                .http()
                .get(&url)
                .header(
                    reqwest::header::AUTHORIZATION,
                    format!("Bearer {}", c.access_token.expose()),
                )
                .header("LinkedIn-Version", API_VERSION)
                .header("X-Restli-Protocol-Version", RESTLI_PROTOCOL_VERSION)
                .header("X-RestLi-Method", "GET")
                .send()
                .await
                .map_err(|e| transport(&url, e))?;
            let status = resp.status().as_u16();
            trace::record_response(status, resp.headers(), LINKEDIN_REQUEST_ID);
            let text = resp.text().await.map_err(|e| transport(&url, e))?;
            Ok::<_, AuthError>((status, text))
        }
        .instrument(span)
        .await?;
        if status >= 400 {
            let e = super::errors::ApiError::parse(status, &text)
                .scrubbed(&|t| scrub(&crate::secret::redact(t, &c.secrets_held())));
            let message = format!("GET adAccounts/{id}: {}", e.text());
            let hint = e.hint(Some(&account.name)).unwrap_or_default();
            return Err(if status == 401 {
                AuthError::Invalid {
                    account: account.name.clone(),
                    message,
                    hint,
                }
            } else {
                AuthError::Api {
                    platform: Platform::Linkedin,
                    message,
                    hint,
                }
            });
        }
        let info: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        v.name = info.get("name").and_then(|x| x.as_str()).map(String::from);
        v.currency = info.get("currency").and_then(|x| x.as_str()).map(String::from);
        if let Some(st) = info.get("status").and_then(|x| x.as_str()) {
            if st != "ACTIVE" {
                v.warnings.push(format!("the ad account's status is {st}"));
            }
        }
        Ok(())
    }

    fn renew_hint(&self, account: &str) -> String {
        format!(
            "run `adsctl auth login {account}` (a LinkedIn refresh token lives 365 days from the first consent and \
             refreshing does not extend it)"
        )
    }
}

/// The authorization URL: scopes space-separated (`%20`), every value percent-encoded.
pub fn authorize_url_text(oauth: &str, client_id: &str, redirect: &str, state: &str) -> String {
    format!(
        "{oauth}/authorization?response_type=code&client_id={}&redirect_uri={}&state={}&scope={}",
        encode_primitive(client_id),
        encode_primitive(redirect),
        encode_primitive(state),
        encode_primitive(&SCOPES.join(" "))
    )
}

/// Credentials from a token answer (`access_token`, `expires_in`, `refresh_token`, `refresh_token_expires_in`,
/// `scope`). On a refresh (`previous`), the refresh token's expiry stays the one recorded at the first consent.
fn credentials_from(
    data: &serde_json::Value,
    now: DateTime<Utc>,
    client_id: String,
    client_secret: Secret,
    previous: Option<&LinkedInCredentials>,
) -> Result<LinkedInCredentials, AuthError> {
    let access = crate::auth::token_field(data, Platform::Linkedin)?;
    let refresh = data
        .get("refresh_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .map(Secret::new)
        .or_else(|| previous.and_then(|p| p.refresh_token.clone()));
    let refresh_expiry = match previous.and_then(|p| p.refresh_token_expires_at) {
        // fixed at the first consent: a refresh does not move it
        Some(fixed) => Some(fixed),
        None => after(now, seconds(data, "refresh_token_expires_in")),
    };
    Ok(LinkedInCredentials {
        access_token: access,
        access_token_expires_at: after(now, seconds(data, "expires_in")),
        refresh_token: refresh,
        refresh_token_expires_at: refresh_expiry,
        client_id: Some(client_id),
        client_secret: Some(client_secret),
        scope: data
            .get("scope")
            .and_then(|s| s.as_str())
            .map(String::from)
            .or_else(|| previous.and_then(|p| p.scope.clone())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> LinkedInCredentials {
        LinkedInCredentials {
            access_token: Secret::new("li-access-token-123456"),
            access_token_expires_at: Some(Utc.with_ymd_and_hms(2027, 2, 1, 0, 0, 0).unwrap()),
            refresh_token: Some(Secret::new("li-refresh-token-654321")),
            refresh_token_expires_at: Some(Utc.with_ymd_and_hms(2027, 12, 1, 0, 0, 0).unwrap()),
            client_id: Some("86abc".into()),
            client_secret: Some(Secret::new("li-client-secret-999")),
            scope: Some("r_ads,rw_ads".into()),
        }
    }

    #[test]
    fn credentials_round_trip_and_never_print() {
        let c = full();
        let back = LinkedInAuth.decode(c.to_fields()).unwrap();
        assert_eq!(back.get::<LinkedInCredentials>(), Some(&c));
        let shown = format!("{c:?} {back:?} {}", c.describe());
        for s in [
            "li-access-token-123456",
            "li-refresh-token-654321",
            "li-client-secret-999",
        ] {
            assert!(!shown.contains(s), "{s} in {shown}");
        }
        // status reports the end only a person can move: the refresh token's
        assert_eq!(c.expires_at(), c.refresh_token_expires_at);
        assert!(c.renewed_by_a_person());
        let d = c.describe();
        assert!(
            d.contains("2027-02-01") && d.contains("2027-12-01") && d.contains("does not move"),
            "{d}"
        );
        let t = LinkedInCredentials::token("x-token-abcdefgh");
        assert_eq!(t.expires_at(), None);
    }

    #[test]
    fn a_refresh_keeps_the_refresh_tokens_expiry() {
        let prev = full();
        let now = Utc.with_ymd_and_hms(2027, 1, 31, 12, 0, 0).unwrap();
        let data = serde_json::json!({"access_token": "li-new-access-0000001", "expires_in": 5184000,
            "refresh_token": "li-refresh-token-654321", "refresh_token_expires_in": 26265600});
        let c = credentials_from(
            &data,
            now,
            "86abc".into(),
            Secret::new("li-client-secret-999"),
            Some(&prev),
        )
        .unwrap();
        assert_eq!(c.access_token.expose(), "li-new-access-0000001");
        assert_eq!(c.access_token_expires_at, Some(now + Duration::days(60)));
        assert_eq!(c.refresh_token_expires_at, prev.refresh_token_expires_at);
        // a first consent takes the refresh token's life from the answer
        let c = credentials_from(&data, now, "86abc".into(), Secret::new("li-client-secret-999"), None).unwrap();
        assert_eq!(c.refresh_token_expires_at, Some(now + Duration::seconds(26265600)));
        // due one day ahead, only with a usable refresh token
        let kind = CredentialKind::new(prev.clone());
        assert!(!LinkedInAuth.refresh_due(&kind, Utc.with_ymd_and_hms(2027, 1, 20, 0, 0, 0).unwrap()));
        assert!(LinkedInAuth.refresh_due(&kind, now));
        let kind = CredentialKind::new(LinkedInCredentials {
            refresh_token: None,
            ..prev
        });
        assert!(!LinkedInAuth.refresh_due(&kind, now));
    }

    #[test]
    fn the_login_url_asks_every_scope_space_separated() {
        let u = authorize_url_text(
            "https://www.linkedin.com/oauth/v2",
            "86abc",
            "http://127.0.0.1:8765/callback",
            "st4te",
        );
        assert_eq!(
            u,
            "https://www.linkedin.com/oauth/v2/authorization?response_type=code&client_id=86abc\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback&state=st4te\
             &scope=r_ads%20rw_ads%20r_ads_reporting%20rw_dmp_segments"
        );
        let parsed = url::Url::parse(&u).unwrap();
        let scope = parsed.query_pairs().find(|(k, _)| k == "scope").unwrap().1.into_owned();
        assert_eq!(scope, "r_ads rw_ads r_ads_reporting rw_dmp_segments");
    }

    #[test]
    fn token_errors_are_scrubbed_and_classified() {
        let s = Secret::new("li-client-secret-echoed");
        let e = token_answer(
            "li",
            400,
            r#"{"error":"invalid_grant","error_description":"bad li-client-secret-echoed"}"#,
            &[&s],
        )
        .unwrap_err();
        assert!(e.is_invalid_grant());
        assert!(!e.to_string().contains("li-client-secret-echoed"), "{e}");
        let e = token_answer("li", 400, r#"{"error":"invalid_request"}"#, &[]).unwrap_err();
        assert!(!e.is_invalid_grant());
        assert!(token_answer("li", 200, r#"{"access_token":"a"}"#, &[]).is_ok());
    }
}
