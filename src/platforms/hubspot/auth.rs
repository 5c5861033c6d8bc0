//! HubSpot credentials and their flows (the auth stage's [`PlatformAuth`] for this platform).
//!
//! Two kinds, one header (`Authorization: Bearer`):
//! - a **static token**: a legacy private-app token (`pat-…`), a static app token or a service key — no expiry,
//!   nothing to refresh (`ADSCTL_HUBSPOT_ACCESS_TOKEN`, or `auth set-token`);
//! - **OAuth** with a refresh token: `auth login` sends the browser to
//!   `https://app.hubspot.com/oauth/authorize?client_id&redirect_uri&scope&state` (the host overridable by
//!   `ADSCTL_HUBSPOT_LOGIN_ENDPOINT`), the code is exchanged at `POST {api}/oauth/2026-09/token` (form:
//!   `grant_type=authorization_code`, `client_id`, `client_secret`, `redirect_uri`, `code`); access tokens live
//!   30 minutes (`expires_in` 1800) and are refreshed ahead of their end (`grant_type=refresh_token`) — a 401 is
//!   not relied on. In CI: `ADSCTL_HUBSPOT_CLIENT_ID`, `ADSCTL_HUBSPOT_CLIENT_SECRET`,
//!   `ADSCTL_HUBSPOT_REFRESH_TOKEN` (the connector fetches an access token before its first request).
//!
//! `auth validate`: an OAuth token's metadata (`GET /oauth/v1/access-tokens/{token}`: hub id, scopes) is checked
//! against the portal id and the scopes adsctl needs; then a campaign list of one and a list search of one prove
//! the token reaches the portal's campaigns and lists (a private-app token has no metadata endpoint).

use std::any::Any;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use oauth2::PkceCodeVerifier;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::config::{
    portal_id, API_VERSION, DEFAULT_BASE_URL, DEFAULT_LOGIN_BASE_URL, ENDPOINT_ENV, LOGIN_ENDPOINT_ENV,
};
use crate::auth::platform::{CredentialKind, LoginRequest, PlatformAuth, PlatformCredentials};
use crate::auth::{endpoint_override, env_base_url, env_var, login_err, secret_env_var, transport, url_of};
use crate::auth::{Auth, AuthError, Validation};
use crate::connectors::trace;
use crate::model::{Account, Platform};
use crate::secret::{scrub, Secret};

/// The environment variables read for CI credentials.
pub mod env_names {
    pub const ACCESS_TOKEN: &str = "ADSCTL_HUBSPOT_ACCESS_TOKEN";
    pub const CLIENT_ID: &str = "ADSCTL_HUBSPOT_CLIENT_ID";
    pub const CLIENT_SECRET: &str = "ADSCTL_HUBSPOT_CLIENT_SECRET";
    pub const REFRESH_TOKEN: &str = "ADSCTL_HUBSPOT_REFRESH_TOKEN";
}
use env_names::*;

/// The scopes adsctl needs (campaigns, their budget and spend, lists, contacts) and asks for at login.
pub const SCOPES: &[&str] = &[
    "oauth",
    "marketing.campaigns.read",
    "marketing.campaigns.write",
    "crm.lists.read",
    "crm.lists.write",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
];
/// HubSpot's request id header.
pub const REQUEST_ID: &[&str] = &["x-hubspot-correlation-id", "x-request-id"];
/// Refresh the access token when it ends within this (it lives 30 minutes).
pub const REFRESH_AHEAD: Duration = Duration::minutes(5);

/// HubSpot: a static token, or an OAuth access token with the refresh token and the app that refresh it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubSpotCredentials {
    /// The token sent as `Authorization: Bearer` (none yet for OAuth credentials from the environment).
    #[serde(default)]
    pub access_token: Option<Secret>,
    #[serde(default)]
    pub access_token_expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// The scopes granted, as the token answer listed them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

impl HubSpotCredentials {
    /// A static token (private app, static app token, service key).
    pub fn token(t: impl Into<String>) -> HubSpotCredentials {
        HubSpotCredentials {
            access_token: Some(Secret::new(t)),
            access_token_expires_at: None,
            refresh_token: None,
            client_id: None,
            client_secret: None,
            scopes: None,
        }
    }

    /// OAuth credentials without an access token yet.
    pub fn oauth(client_id: &str, client_secret: &str, refresh_token: &str) -> HubSpotCredentials {
        HubSpotCredentials {
            access_token: None,
            access_token_expires_at: None,
            refresh_token: Some(Secret::new(refresh_token)),
            client_id: Some(client_id.to_string()),
            client_secret: Some(Secret::new(client_secret)),
            scopes: None,
        }
    }

    /// A refresh token and the app to refresh with.
    pub fn refreshable(&self) -> bool {
        self.refresh_token.as_ref().is_some_and(|r| !r.is_empty())
            && self.client_id.as_ref().is_some_and(|c| !c.is_empty())
            && self.client_secret.is_some()
    }

    /// Whether the access token must be refreshed before use at `now`.
    pub fn due(&self, now: DateTime<Utc>, ahead: Duration) -> bool {
        self.refreshable()
            && (self.access_token.as_ref().is_none_or(Secret::is_empty)
                || self.access_token_expires_at.is_none_or(|e| e - ahead <= now))
    }

    pub(crate) fn secrets_held(&self) -> Vec<&Secret> {
        let mut v: Vec<&Secret> = self.access_token.iter().collect();
        v.extend(self.refresh_token.as_ref());
        v.extend(self.client_secret.as_ref());
        v
    }
}

impl PlatformCredentials for HubSpotCredentials {
    fn platform(&self) -> Platform {
        Platform::Hubspot
    }
    fn to_fields(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
    fn secrets(&self) -> Vec<&Secret> {
        self.secrets_held()
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.access_token_expires_at
    }
    fn never_expires(&self) -> bool {
        self.refresh_token.is_none() && self.access_token_expires_at.is_none()
    }
    fn describe(&self) -> String {
        if self.refresh_token.is_some() {
            "OAuth refresh token (access tokens last 30 minutes and are refreshed automatically)".into()
        } else {
            "static token (private app, static app token or service key; no expiry)".into()
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

/// The API base of an account (its `endpoint:`, else `ADSCTL_HUBSPOT_ENDPOINT`, else api.hubapi.com).
pub fn api_base(account: &Account, auth: &Auth) -> String {
    endpoint_override(account, auth, ENDPOINT_ENV).unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
}

/// The consent screen's host.
pub fn login_base(auth: &Auth) -> String {
    env_base_url(auth, LOGIN_ENDPOINT_ENV).unwrap_or_else(|| DEFAULT_LOGIN_BASE_URL.to_string())
}

/// `POST {base}/oauth/2026-09/token`.
pub fn token_url(base: &str) -> String {
    format!("{}/oauth/{API_VERSION}/token", base.trim_end_matches('/'))
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A token request (form-encoded, no auth header), its answer or an error without any secret in it.
pub async fn token_request(
    http: &reqwest::Client,
    account: &str,
    base: &str,
    pairs: &[(&str, &str)],
    secrets: &[&Secret],
) -> Result<serde_json::Value, AuthError> {
    let url = token_url(base);
    let span = trace::token("hubspot", account, &url);
    async {
        let resp = http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form(pairs))
            .send()
            .await
            .map_err(|e| transport(&url, e))?;
        let status = resp.status().as_u16();
        trace::record_response(status, resp.headers(), REQUEST_ID);
        let text = resp.text().await.map_err(|e| transport(&url, e))?;
        let body: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if (200..300).contains(&status) && body.is_object() {
            return Ok(body);
        }
        let clean = |s: &str| scrub(&crate::secret::redact(s, secrets));
        let code = body
            .get("status")
            .or_else(|| body.get("error"))
            .or_else(|| body.get("category"))
            .and_then(|e| e.as_str())
            .unwrap_or("");
        let text = body
            .get("message")
            .or_else(|| body.get("error_description"))
            .and_then(|e| e.as_str())
            .unwrap_or("");
        let message = clean(&format!("HTTP {status} {code} {text}").replace("  ", " "));
        if (400..500).contains(&status) {
            return Err(AuthError::Invalid {
                account: account.to_string(),
                message,
                hint: format!(
                    "the refresh token or the app's client id / secret was refused (the app uninstalled, the \
                     token revoked?): run `adsctl auth login {account}`"
                ),
            });
        }
        Err(AuthError::Api {
            platform: Platform::Hubspot,
            message,
            hint: format!("check {CLIENT_ID} / {CLIENT_SECRET} and the endpoint ({ENDPOINT_ENV}); retry later"),
        })
    }
    .instrument(span)
    .await
}

/// Credentials from a token answer (`access_token`, `refresh_token`, `expires_in`, `scopes`).
pub fn credentials_from(
    data: &serde_json::Value,
    now: DateTime<Utc>,
    client_id: String,
    client_secret: Secret,
    previous: Option<&HubSpotCredentials>,
) -> Result<HubSpotCredentials, AuthError> {
    let access = crate::auth::token_field(data, Platform::Hubspot)?;
    let refresh = data
        .get("refresh_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .map(Secret::new)
        .or_else(|| previous.and_then(|p| p.refresh_token.clone()));
    let expires_in = data
        .get("expires_in")
        .and_then(|x| x.as_i64().or_else(|| x.as_str().and_then(|s| s.trim().parse().ok())))
        .filter(|s| *s > 0)
        .unwrap_or(1800);
    let scopes = match data.get("scopes").or_else(|| data.get("scope")) {
        Some(serde_json::Value::Array(a)) => Some(a.iter().filter_map(|s| s.as_str()).map(String::from).collect()),
        Some(serde_json::Value::String(s)) => Some(
            s.split([' ', ','])
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect(),
        ),
        _ => previous.and_then(|p| p.scopes.clone()),
    };
    Ok(HubSpotCredentials {
        access_token: Some(access),
        access_token_expires_at: Some(now + Duration::seconds(expires_in)),
        refresh_token: refresh,
        client_id: Some(client_id),
        client_secret: Some(client_secret),
        scopes,
    })
}

/// A refresh of `c` in place (a new access token; HubSpot may answer a new refresh token too).
pub async fn refresh_in_place(
    http: &reqwest::Client,
    account: &str,
    base: &str,
    c: &mut HubSpotCredentials,
) -> Result<(), AuthError> {
    let (Some(refresh), Some(client_id), Some(secret)) =
        (c.refresh_token.clone(), c.client_id.clone(), c.client_secret.clone())
    else {
        return Err(AuthError::Config {
            message: "no refresh token or app to refresh the HubSpot access token with".into(),
            hint: format!("set {REFRESH_TOKEN}, {CLIENT_ID} and {CLIENT_SECRET}, or {ACCESS_TOKEN}"),
        });
    };
    let now = Utc::now();
    let data = token_request(
        http,
        account,
        base,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose()),
            ("client_id", &client_id),
            ("client_secret", secret.expose()),
        ],
        &[&refresh, &secret],
    )
    .await?;
    *c = credentials_from(&data, now, client_id, secret, Some(c))?;
    Ok(())
}

struct App {
    client_id: String,
    client_secret: Secret,
}

fn app(auth: &Auth, account: &Account, prev: Option<&CredentialKind>) -> Result<App, AuthError> {
    let prev = prev.and_then(|p| p.get::<HubSpotCredentials>());
    let missing = |name: &str| AuthError::Config {
        message: format!("{name} is not set (needed to connect {})", account.name),
        hint: format!("export {name} (the Client ID and Client secret of your HubSpot app, Auth tab)"),
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

/// The authorization URL: scopes space-separated, every value percent-encoded (`portal`: HubSpot's
/// `/oauth/{portalId}/authorize` variant, which skips the account picker; `auth login` uses the plain one).
pub fn authorize_url_text(login: &str, portal: Option<&str>, client_id: &str, redirect: &str, state: &str) -> String {
    let enc = |s: &str| {
        form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    let path = match portal {
        Some(p) => format!("/oauth/{p}/authorize"),
        None => "/oauth/authorize".into(),
    };
    format!(
        "{}{path}?client_id={}&redirect_uri={}&scope={}&state={}",
        login.trim_end_matches('/'),
        enc(client_id),
        enc(redirect),
        enc(&SCOPES.join(" ")),
        enc(state)
    )
}

/// The HubSpot home's auth flow.
pub struct HubSpotAuth;

#[async_trait]
impl PlatformAuth for HubSpotAuth {
    fn decode(&self, fields: serde_json::Value) -> Result<CredentialKind, String> {
        CredentialKind::decode::<HubSpotCredentials>(fields)
    }

    fn env_names(&self) -> &'static [&'static str] {
        &[ACCESS_TOKEN, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN]
    }

    fn env_credentials(&self, auth: &Auth, _account: &Account) -> Option<CredentialKind> {
        let access = secret_env_var(auth, ACCESS_TOKEN).filter(|t| !t.is_empty());
        let refresh = secret_env_var(auth, REFRESH_TOKEN).filter(|t| !t.is_empty());
        let client_id = env_var(auth, CLIENT_ID);
        let client_secret = secret_env_var(auth, CLIENT_SECRET);
        let c = HubSpotCredentials {
            access_token: access,
            access_token_expires_at: None,
            refresh_token: refresh,
            client_id,
            client_secret,
            scopes: None,
        };
        (c.access_token.is_some() || c.refreshable()).then(|| CredentialKind::new(c))
    }

    fn missing_hint(&self, account: &str) -> String {
        format!(
            "set {ACCESS_TOKEN} (a private-app token or service key), or run `adsctl auth login {account}` (with \
             {CLIENT_ID} and {CLIENT_SECRET} set), or set {CLIENT_ID}, {CLIENT_SECRET} and {REFRESH_TOKEN}"
        )
    }

    fn set_token(
        &self,
        _auth: &Auth,
        _account: &Account,
        token: Secret,
        _previous: Option<&CredentialKind>,
    ) -> Result<CredentialKind, AuthError> {
        Ok(CredentialKind::new(HubSpotCredentials {
            access_token: Some(token),
            access_token_expires_at: None,
            refresh_token: None,
            client_id: None,
            client_secret: None,
            scopes: None,
        }))
    }

    fn authorize_url(
        &self,
        auth: &Auth,
        account: &Account,
        previous: Option<&CredentialKind>,
        login: LoginRequest,
    ) -> Result<url::Url, AuthError> {
        let app = app(auth, account, previous)?;
        url_of(url::Url::parse(&authorize_url_text(
            &login_base(auth),
            None,
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
        let now = Utc::now();
        let data = token_request(
            auth.http(),
            &account.name,
            &api_base(account, auth),
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &app.client_id),
                ("client_secret", app.client_secret.expose()),
                ("redirect_uri", redirect),
                ("code", code.expose()),
            ],
            &[&app.client_secret, &code],
        )
        .await
        .map_err(|e| match e {
            AuthError::Api { message, .. } | AuthError::Invalid { message, .. } => login_err(
                message,
                format!(
                    "check {CLIENT_ID} / {CLIENT_SECRET} and that the app's redirect URLs include adsctl's, then run \
                     `adsctl auth login {}` again (a code works once)",
                    account.name
                ),
            ),
            other => other,
        })?;
        Ok(CredentialKind::new(credentials_from(
            &data,
            now,
            app.client_id,
            app.client_secret,
            None,
        )?))
    }

    fn refresh_due(&self, kind: &CredentialKind, now: DateTime<Utc>) -> bool {
        kind.get::<HubSpotCredentials>()
            .is_some_and(|c| c.due(now, REFRESH_AHEAD))
    }

    async fn refresh(&self, auth: &Auth, account: &Account, kind: &mut CredentialKind) -> Result<bool, AuthError> {
        let Some(c) = kind.get_mut::<HubSpotCredentials>() else {
            return Ok(false);
        };
        if !c.refreshable() {
            return Ok(false);
        }
        refresh_in_place(auth.http(), &account.name, &api_base(account, auth), c).await?;
        Ok(true)
    }

    /// `POST {api}/oauth/2026-09/token/revoke` (form: token, client_id, client_secret) with the refresh token
    /// (WIRE-NOTES § Auth): the grant ends. Static tokens (private apps, service keys) have no revocation: they
    /// are only forgotten.
    async fn revoke(&self, auth: &Auth, account: &Account, kind: &CredentialKind) -> Result<bool, AuthError> {
        let Some(c) = kind.get::<HubSpotCredentials>() else {
            return Ok(false);
        };
        let (Some(refresh), Some(client_id), Some(secret)) =
            (c.refresh_token.clone(), c.client_id.clone(), c.client_secret.clone())
        else {
            return Ok(false);
        };
        let url = format!(
            "{}/oauth/{API_VERSION}/token/revoke",
            api_base(account, auth).trim_end_matches('/')
        );
        let span = trace::token("hubspot", &account.name, &url);
        async {
            let resp = auth
                .http()
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form(&[
                    ("token", refresh.expose()),
                    ("client_id", &client_id),
                    ("client_secret", secret.expose()),
                ]))
                .send()
                .await
                .map_err(|e| transport(&url, e))?;
            let status = resp.status().as_u16();
            trace::record_response(status, resp.headers(), REQUEST_ID);
            if (200..300).contains(&status) {
                return Ok(true);
            }
            let text = resp.text().await.unwrap_or_default();
            Err(AuthError::Api {
                platform: Platform::Hubspot,
                message: scrub(&crate::secret::redact(
                    &format!("revoking the refresh token: HTTP {status} {text}"),
                    &[&refresh, &secret],
                )),
                hint: format!("check {CLIENT_ID} / {CLIENT_SECRET}; the stored tokens are deleted all the same"),
            })
        }
        .instrument(span)
        .await
    }

    fn refreshed(&self, kind: &mut CredentialKind, token: Secret, expires_at: Option<DateTime<Utc>>) {
        if let Some(c) = kind.get_mut::<HubSpotCredentials>() {
            c.access_token = Some(token);
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
        let Some(c) = kind.get::<HubSpotCredentials>() else {
            return Ok(());
        };
        let base = api_base(account, auth);
        let mut c = c.clone();
        if c.due(Utc::now(), REFRESH_AHEAD) {
            refresh_in_place(auth.http(), &account.name, &base, &mut c).await?;
        }
        let token = c.access_token.clone().unwrap_or_else(|| Secret::new(""));
        let secrets = c.secrets_held();
        let clean = |s: &str| scrub(&crate::secret::redact(s, &secrets));
        let portal = portal_id(account).map_err(|e| AuthError::Config {
            message: e.to_string(),
            hint: "set the account's portal_id in adsctl.yaml to the hub id (Settings → Account details)".into(),
        })?;
        v.expires_at = c.access_token_expires_at;
        let get = |path: String, bearer: bool| {
            let url = format!("{base}{path}");
            let mut req = auth.http().get(&url);
            if bearer {
                req = req.header(reqwest::header::AUTHORIZATION, format!("Bearer {}", token.expose()));
            }
            async move {
                let resp = req.send().await.map_err(|e| transport(&url, e))?;
                let status = resp.status().as_u16();
                trace::record_response(status, resp.headers(), REQUEST_ID);
                let text = resp.text().await.map_err(|e| transport(&url, e))?;
                Ok::<_, AuthError>((status, text))
            }
        };
        // an OAuth token's metadata: hub id and scopes (a static token has none: 404)
        if c.refresh_token.is_some() {
            let enc: String = form_urlencoded::byte_serialize(token.expose().as_bytes()).collect();
            let (status, text) = get(format!("/oauth/v1/access-tokens/{enc}"), false)
                .instrument(trace::request(
                    "hubspot",
                    &account.name,
                    "GET",
                    "/oauth/v1/access-tokens/{token}",
                ))
                .await?;
            if status == 200 {
                let info: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                if let Some(hub) = info.get("hub_id").and_then(|h| h.as_i64()) {
                    if hub.to_string() != portal {
                        return Err(AuthError::Invalid {
                            account: account.name.clone(),
                            message: format!("the token is for portal {hub}, adsctl.yaml says {portal}"),
                            hint: format!(
                                "log in to portal {portal} (`adsctl auth login {}`) or fix portal_id",
                                account.name
                            ),
                        });
                    }
                }
                v.name = info.get("hub_domain").and_then(|x| x.as_str()).map(String::from);
                if let Some(a) = info.get("scopes").and_then(|s| s.as_array()) {
                    v.scopes = a.iter().filter_map(|s| s.as_str()).map(String::from).collect();
                }
            }
        }
        if v.scopes.is_empty() {
            if let Some(s) = &c.scopes {
                v.scopes = s.clone();
            }
        }
        if !v.scopes.is_empty() {
            for needed in SCOPES.iter().filter(|s| **s != "oauth") {
                if !v.scopes.iter().any(|s| s == needed) {
                    v.warnings.push(format!("the token lacks the scope {needed}"));
                }
            }
        }
        // the token reaches the portal's campaigns and lists
        for (what, path) in [
            ("campaigns", format!("/marketing/campaigns/{API_VERSION}?limit=1")),
            (
                "lists",
                format!("/crm/lists/{API_VERSION}/object-type-id/0-1/name/adsctl-auth-probe"),
            ),
        ] {
            let (status, text) = get(path, true)
                .instrument(trace::request("hubspot", &account.name, "GET", what))
                .await?;
            if status < 400 || (what == "lists" && status == 404) {
                continue;
            }
            let e = super::errors::ApiError::parse(status, &text).scrubbed(&clean);
            let message = format!("reading {what}: {}", e.text());
            let hint = e.hint(&account.name).unwrap_or_default();
            return Err(if status == 401 {
                AuthError::Invalid {
                    account: account.name.clone(),
                    message,
                    hint,
                }
            } else if status == 403 {
                v.warnings.push(message);
                continue;
            } else {
                AuthError::Api {
                    platform: Platform::Hubspot,
                    message,
                    hint,
                }
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_print_a_secret_and_refresh_ahead() {
        let mut c = HubSpotCredentials::oauth("cid", "csecret-123", "rt-456");
        assert!(c.refreshable());
        let now = Utc::now();
        assert!(c.due(now, REFRESH_AHEAD));
        c.access_token = Some(Secret::new("at-789"));
        c.access_token_expires_at = Some(now + Duration::minutes(30));
        assert!(!c.due(now, REFRESH_AHEAD));
        assert!(c.due(now + Duration::minutes(26), REFRESH_AHEAD));
        let d = format!("{c:?}");
        assert!(!d.contains("csecret-123") && !d.contains("rt-456") && !d.contains("at-789"));
        let t = HubSpotCredentials::token("pat-na1-x");
        assert!(!t.refreshable() && t.never_expires());
        assert!(!t.due(now, REFRESH_AHEAD));
    }

    #[test]
    fn the_authorize_url_carries_the_scopes_space_separated() {
        let u = authorize_url_text(
            "https://app.hubspot.com",
            Some("20000001"),
            "cid",
            "http://127.0.0.1:8/callback",
            "st",
        );
        assert!(u.starts_with("https://app.hubspot.com/oauth/20000001/authorize?client_id=cid&redirect_uri=http%3A%2F%2F127.0.0.1%3A8%2Fcallback&scope=oauth%20marketing.campaigns.read"), "{u}");
        assert!(u.ends_with("&state=st"));
    }
}
