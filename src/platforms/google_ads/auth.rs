//! Google Ads credentials and their flows (the auth stage's [`PlatformAuth`] for this platform).
//!
//! OAuth 2.0 authorization code with PKCE: scope adwords, `access_type=offline`, `prompt=consent` → a refresh
//! token; access tokens (one hour) are refreshed from it shortly before they end. `auth validate` calls
//! `customers:listAccessibleCustomers`, then a `customer` query on the account.
//!
//! | variable | default |
//! |---|---|
//! | `ADSCTL_GOOGLE_ADS_ENDPOINT` (API base) | `https://googleads.googleapis.com` |
//! | `ADSCTL_GOOGLE_OAUTH_ENDPOINT` (serves `/o/oauth2/v2/auth` and `/token`) | the account's / API override, else Google's |
//! | `ADSCTL_GOOGLE_OAUTH_TOKEN_URL` (the token endpoint alone, as the connector reads it) | from the line above |

use std::any::Any;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeVerifier, RedirectUrl,
    RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::client::GOOGLE_REQUEST_ID;
use crate::auth::platform::{CredentialKind, LoginRequest, PlatformAuth, PlatformCredentials};
use crate::auth::{
    endpoint_override, env_base_url, env_var, login_err, secret_env_var, transport, url_of, Auth, AuthError, Validation,
};
use crate::connectors::trace::{self, TracedOAuth};
use crate::model::{Account, Platform};
use crate::secret::{scrub, Secret};

pub const GOOGLE_ADS_VERSION: &str = "v25";
pub const GOOGLE_ADWORDS_SCOPE: &str = "https://www.googleapis.com/auth/adwords";
/// A Google access token closer than this to its end is refreshed before use.
pub const ACCESS_TOKEN_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// The environment variables read for CI credentials (see `docs/auth.md`).
pub mod env_names {
    pub const GOOGLE_CLIENT_ID: &str = "GOOGLE_ADS_CLIENT_ID";
    pub const GOOGLE_CLIENT_SECRET: &str = "GOOGLE_ADS_CLIENT_SECRET";
    pub const GOOGLE_DEVELOPER_TOKEN: &str = "GOOGLE_ADS_DEVELOPER_TOKEN";
    pub const GOOGLE_REFRESH_TOKEN: &str = "GOOGLE_ADS_REFRESH_TOKEN";
    pub const GOOGLE_LOGIN_CUSTOMER_ID: &str = "GOOGLE_ADS_LOGIN_CUSTOMER_ID";
}
use env_names::*;

/// Google Ads: an OAuth client, a refresh token, a developer token, and the current access token if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoogleCredentials {
    pub client_id: String,
    pub client_secret: Secret,
    pub developer_token: Secret,
    pub refresh_token: Secret,
    pub access_token: Option<Secret>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
    /// Manager account (digits) to send as `login-customer-id`.
    pub login_customer_id: Option<String>,
}

impl PlatformCredentials for GoogleCredentials {
    fn platform(&self) -> Platform {
        Platform::GoogleAds
    }
    fn to_fields(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
    fn secrets(&self) -> Vec<&Secret> {
        let mut v = vec![&self.client_secret, &self.developer_token, &self.refresh_token];
        v.extend(self.access_token.as_ref());
        v
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.access_token_expires_at
    }
    fn describe(&self) -> String {
        "refresh token".into()
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
pub struct GoogleEndpoints {
    pub auth_url: String,
    pub token_url: String,
    pub api_base: String,
}

/// Where the OAuth and API endpoints are: Google's by default; the account's `endpoint:` (beats the environment)
/// or the variables above point them at the built-in emulator, which serves both on one base URL.
pub fn endpoints(account: &Account, auth: &Auth) -> GoogleEndpoints {
    let var = |name: &str| env_base_url(auth, name);
    let api_override = endpoint_override(account, auth, "ADSCTL_GOOGLE_ADS_ENDPOINT");
    let oauth_override = var("ADSCTL_GOOGLE_OAUTH_ENDPOINT").or_else(|| api_override.clone());
    let api_base = api_override.unwrap_or_else(|| "https://googleads.googleapis.com".into());
    let mut ep = match oauth_override {
        Some(base) => GoogleEndpoints {
            auth_url: format!("{base}/o/oauth2/v2/auth"),
            token_url: format!("{base}/token"),
            api_base,
        },
        None => GoogleEndpoints {
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            api_base,
        },
    };
    if let Some(t) = var("ADSCTL_GOOGLE_OAUTH_TOKEN_URL") {
        ep.token_url = t;
    }
    ep
}

/// The OAuth client of a Google Ads login.
struct GoogleApp {
    client_id: String,
    client_secret: Secret,
    developer_token: Secret,
}

/// Google's app settings: environment first, then what the vault holds from an earlier login.
fn google_app(auth: &Auth, account: &Account, prev: Option<&CredentialKind>) -> Result<GoogleApp, AuthError> {
    let prev = prev.and_then(|p| p.get::<GoogleCredentials>());
    let missing = |name: &str| AuthError::Config {
        message: format!("{name} is not set (needed to connect {})", account.name),
        hint: format!("export {name}; it is stored in the encrypted vault with the tokens, so only login needs it"),
    };
    Ok(GoogleApp {
        client_id: env_var(auth, GOOGLE_CLIENT_ID)
            .or_else(|| prev.map(|g| g.client_id.clone()))
            .ok_or_else(|| missing(GOOGLE_CLIENT_ID))?,
        client_secret: secret_env_var(auth, GOOGLE_CLIENT_SECRET)
            .or_else(|| prev.map(|g| g.client_secret.clone()))
            .ok_or_else(|| missing(GOOGLE_CLIENT_SECRET))?,
        developer_token: secret_env_var(auth, GOOGLE_DEVELOPER_TOKEN)
            .or_else(|| prev.map(|g| g.developer_token.clone()))
            .ok_or_else(|| missing(GOOGLE_DEVELOPER_TOKEN))?,
    })
}

fn expires(token_expires_in: Option<std::time::Duration>) -> Option<DateTime<Utc>> {
    token_expires_in
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map(|d| Utc::now() + d)
}

/// The Google Ads home's auth flow.
pub struct GoogleAuth;

#[async_trait]
impl PlatformAuth for GoogleAuth {
    fn decode(&self, fields: serde_json::Value) -> Result<CredentialKind, String> {
        CredentialKind::decode::<GoogleCredentials>(fields)
    }

    fn env_names(&self) -> &'static [&'static str] {
        &[
            GOOGLE_CLIENT_ID,
            GOOGLE_CLIENT_SECRET,
            GOOGLE_DEVELOPER_TOKEN,
            GOOGLE_REFRESH_TOKEN,
            GOOGLE_LOGIN_CUSTOMER_ID,
        ]
    }

    fn env_credentials(&self, auth: &Auth, account: &Account) -> Option<CredentialKind> {
        Some(CredentialKind::new(GoogleCredentials {
            client_id: env_var(auth, GOOGLE_CLIENT_ID)?,
            client_secret: secret_env_var(auth, GOOGLE_CLIENT_SECRET)?,
            developer_token: secret_env_var(auth, GOOGLE_DEVELOPER_TOKEN)?,
            refresh_token: secret_env_var(auth, GOOGLE_REFRESH_TOKEN)?,
            access_token: None,
            access_token_expires_at: None,
            login_customer_id: env_var(auth, GOOGLE_LOGIN_CUSTOMER_ID).or_else(|| account.login_customer_id.clone()),
        }))
    }

    fn missing_hint(&self, account: &str) -> String {
        format!(
            "run `adsctl auth login {account}`, or set {GOOGLE_CLIENT_ID}, {GOOGLE_CLIENT_SECRET}, \
             {GOOGLE_REFRESH_TOKEN} and {GOOGLE_DEVELOPER_TOKEN}"
        )
    }

    fn project_overrides(&self, kind: &mut CredentialKind, account: &Account) {
        // adsctl.yaml is the source of truth for the manager account.
        if let (Some(g), Some(l)) = (kind.get_mut::<GoogleCredentials>(), &account.login_customer_id) {
            g.login_customer_id = Some(l.clone());
        }
    }

    fn set_token(
        &self,
        auth: &Auth,
        account: &Account,
        token: Secret,
        previous: Option<&CredentialKind>,
    ) -> Result<CredentialKind, AuthError> {
        // a refresh token: the client and developer token come from the environment or the vault
        let app = google_app(auth, account, previous)?;
        Ok(CredentialKind::new(GoogleCredentials {
            client_id: app.client_id,
            client_secret: app.client_secret,
            developer_token: app.developer_token,
            refresh_token: token,
            access_token: None,
            access_token_expires_at: None,
            login_customer_id: account.login_customer_id.clone(),
        }))
    }

    fn authorize_url(
        &self,
        auth: &Auth,
        account: &Account,
        previous: Option<&CredentialKind>,
        login: LoginRequest,
    ) -> Result<url::Url, AuthError> {
        let app = google_app(auth, account, previous)?;
        let ep = endpoints(account, auth);
        let redirect = RedirectUrl::new(login.redirect).map_err(|e| login_err(e.to_string(), "retry"))?;
        let client = BasicClient::new(ClientId::new(app.client_id))
            .set_auth_uri(url_of(AuthUrl::new(ep.auth_url))?)
            .set_redirect_uri(redirect);
        let state = login.state.expose().to_string();
        let (url, _) = client
            .authorize_url(|| CsrfToken::new(state))
            .add_scope(Scope::new(GOOGLE_ADWORDS_SCOPE.into()))
            .add_extra_param("access_type", "offline")
            .add_extra_param("prompt", "consent")
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
        let app = google_app(auth, account, previous)?;
        let ep = endpoints(account, auth);
        let redirect = RedirectUrl::new(redirect.to_string()).map_err(|e| login_err(e.to_string(), "retry"))?;
        let client = BasicClient::new(ClientId::new(app.client_id.clone()))
            .set_client_secret(ClientSecret::new(app.client_secret.expose().to_string()))
            .set_token_uri(url_of(TokenUrl::new(ep.token_url.clone()))?)
            .set_redirect_uri(redirect)
            .set_auth_type(AuthType::RequestBody);
        let http = TracedOAuth {
            http: auth.http(),
            request_id: GOOGLE_REQUEST_ID,
        };
        let token = client
            .exchange_code(AuthorizationCode::new(code.expose().to_string()))
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .instrument(trace::token("google_ads", &account.name, &ep.token_url))
            .await
            .map_err(|e| token_error(&account.name, &ep.token_url, e))?;
        let access = Secret::new(token.access_token().secret().clone());
        let refresh = token.refresh_token().map(|r| Secret::new(r.secret().clone())).ok_or_else(|| {
            login_err(
                "Google returned no refresh token",
                "remove adsctl's access at myaccount.google.com/permissions, then log in again (consent must be given anew)",
            )
        })?;
        Ok(CredentialKind::new(GoogleCredentials {
            client_id: app.client_id,
            client_secret: app.client_secret,
            developer_token: app.developer_token,
            refresh_token: refresh,
            access_token: Some(access),
            access_token_expires_at: expires(token.expires_in()),
            login_customer_id: account.login_customer_id.clone(),
        }))
    }

    fn refresh_due(&self, kind: &CredentialKind, now: DateTime<Utc>) -> bool {
        kind.get::<GoogleCredentials>()
            .is_some_and(|g| match (&g.access_token, g.access_token_expires_at) {
                (Some(_), Some(exp)) => exp - ACCESS_TOKEN_MARGIN <= now,
                (Some(_), None) => false,
                (None, _) => true,
            })
    }

    async fn refresh(&self, auth: &Auth, account: &Account, kind: &mut CredentialKind) -> Result<bool, AuthError> {
        let Some(g) = kind.get_mut::<GoogleCredentials>() else {
            return Ok(false);
        };
        let ep = endpoints(account, auth);
        let client = BasicClient::new(ClientId::new(g.client_id.clone()))
            .set_client_secret(ClientSecret::new(g.client_secret.expose().to_string()))
            .set_token_uri(TokenUrl::new(ep.token_url.clone()).map_err(|e| AuthError::Config {
                message: format!("bad token URL: {e}"),
                hint: "check ADSCTL_GOOGLE_OAUTH_ENDPOINT".into(),
            })?)
            .set_auth_type(AuthType::RequestBody);
        let http = TracedOAuth {
            http: auth.http(),
            request_id: GOOGLE_REQUEST_ID,
        };
        let token = client
            .exchange_refresh_token(&RefreshToken::new(g.refresh_token.expose().to_string()))
            .request_async(&http)
            .instrument(trace::token("google_ads", &account.name, &ep.token_url))
            .await
            .map_err(|e| token_error(&account.name, &ep.token_url, e))?;
        g.access_token = Some(Secret::new(token.access_token().secret().clone()));
        g.access_token_expires_at = expires(token.expires_in());
        // Google may rotate the refresh token; keep the new one when it does.
        if let Some(r) = token.refresh_token() {
            g.refresh_token = Secret::new(r.secret().clone());
        }
        Ok(true)
    }

    fn refreshed(&self, kind: &mut CredentialKind, token: Secret, expires_at: Option<DateTime<Utc>>) {
        if let Some(g) = kind.get_mut::<GoogleCredentials>() {
            g.access_token = Some(token);
            g.access_token_expires_at = expires_at;
        }
    }

    async fn validate(
        &self,
        auth: &Auth,
        account: &Account,
        kind: &CredentialKind,
        v: &mut Validation,
    ) -> Result<(), AuthError> {
        let Some(g) = kind.get::<GoogleCredentials>() else {
            return Ok(());
        };
        let ep = endpoints(account, auth);
        let token = g.access_token.clone().ok_or_else(|| AuthError::Api {
            platform: Platform::GoogleAds,
            message: "no access token after refresh".into(),
            hint: "run `adsctl auth refresh` and retry".into(),
        })?;
        let cid = account.platform_id.replace('-', "");
        let url = format!("{}/{GOOGLE_ADS_VERSION}/customers:listAccessibleCustomers", ep.api_base);
        let mut req = auth
            .http()
            .get(&url)
            .bearer_auth(token.expose())
            .header("developer-token", g.developer_token.expose());
        if let Some(l) = &g.login_customer_id {
            req = req.header("login-customer-id", l.replace('-', ""));
        }
        let body = google_send(&account.name, "GET", &url, req).await?;
        let names: Vec<String> = body
            .get("resourceNames")
            .and_then(|r| r.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
            .unwrap_or_default();
        let direct = names.iter().any(|n| n == &format!("customers/{cid}"));
        if !direct && g.login_customer_id.is_none() {
            v.warnings.push(format!(
                "customer {cid} is not directly accessible with these credentials ({} accessible); set login_customer_id if you reach it through a manager",
                names.len()
            ));
        }
        let url = format!("{}/{GOOGLE_ADS_VERSION}/customers/{cid}/googleAds:search", ep.api_base);
        let mut req = auth
            .http()
            .post(&url)
            .bearer_auth(token.expose())
            .header("developer-token", g.developer_token.expose())
            .json(&serde_json::json!({
                "query": "SELECT customer.id, customer.descriptive_name, customer.currency_code, customer.time_zone FROM customer"
            }));
        if let Some(l) = &g.login_customer_id {
            req = req.header("login-customer-id", l.replace('-', ""));
        }
        let body = google_send(&account.name, "POST", &url, req).await?;
        let c = body.pointer("/results/0/customer").ok_or_else(|| AuthError::Api {
            platform: Platform::GoogleAds,
            message: format!("the customer query on {cid} returned no row"),
            hint: "check customer_id in adsctl.yaml".into(),
        })?;
        v.name = c.get("descriptiveName").and_then(|x| x.as_str()).map(String::from);
        v.currency = c.get("currencyCode").and_then(|x| x.as_str()).map(String::from);
        v.time_zone = c.get("timeZone").and_then(|x| x.as_str()).map(String::from);
        v.expires_at = g.access_token_expires_at;
        v.scopes = vec![GOOGLE_ADWORDS_SCOPE.into()];
        Ok(())
    }
}

/// Send a Google Ads request, in its span; map its error envelope (401 / UNAUTHENTICATED → invalid credentials).
async fn google_send(
    account: &str,
    method: &str,
    url: &str,
    req: reqwest::RequestBuilder,
) -> Result<serde_json::Value, AuthError> {
    let span = trace::request("google_ads", account, method, url);
    google_send_in_span(account, url, req).instrument(span).await
}

async fn google_send_in_span(
    account: &str,
    url: &str,
    req: reqwest::RequestBuilder,
) -> Result<serde_json::Value, AuthError> {
    let resp = req.send().await.map_err(|e| transport(url, e))?;
    let status = resp.status();
    trace::record_response(status.as_u16(), resp.headers(), GOOGLE_REQUEST_ID);
    tracing::debug!(status = status.as_u16(), "Google Ads auth response");
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    if status.is_success() {
        return Ok(body);
    }
    let message = scrub(
        body.pointer("/error/message")
            .and_then(|m| m.as_str())
            .unwrap_or("no error message"),
    );
    let code = body
        .pointer("/error/details/0/errors/0/errorCode")
        .and_then(|c| c.as_object())
        .and_then(|o| {
            o.iter()
                .next()
                .map(|(k, v)| format!("{k}.{}", v.as_str().unwrap_or_default()))
        });
    let message = match code {
        Some(c) => format!("{message} ({c}, HTTP {})", status.as_u16()),
        None => format!("{message} (HTTP {})", status.as_u16()),
    };
    if status.as_u16() == 401 {
        return Err(AuthError::Invalid {
            account: account.to_string(),
            message,
            hint: format!("run `adsctl auth refresh {account}`; if that fails, `adsctl auth login {account}`"),
        });
    }
    Err(AuthError::Api {
        platform: Platform::GoogleAds,
        message,
        hint: if status.as_u16() == 403 {
            "check the developer token and that the user can access this customer".into()
        } else {
            "see the message".into()
        },
    })
}

type OAuthTokenError =
    RequestTokenError<oauth2::HttpClientError<reqwest::Error>, oauth2::StandardErrorResponse<BasicErrorResponseType>>;

/// Map an OAuth token-endpoint error. `invalid_grant` (revoked or expired refresh token / used code) becomes
/// [`AuthError::Invalid`]. Response bodies are never quoted (they may hold tokens).
fn token_error(account: &str, token_url: &str, e: OAuthTokenError) -> AuthError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let desc = r
                .error_description()
                .map(|d| format!(": {}", scrub(d)))
                .unwrap_or_default();
            let message = format!("{}{desc}", r.error());
            match r.error() {
                BasicErrorResponseType::InvalidGrant => AuthError::Invalid {
                    account: account.to_string(),
                    message,
                    hint: format!(
                        "the refresh token was revoked or has expired: run `adsctl auth login {account}` to grant access again"
                    ),
                },
                BasicErrorResponseType::InvalidClient | BasicErrorResponseType::UnauthorizedClient => AuthError::Config {
                    message: format!("the OAuth client was refused ({message})"),
                    hint: format!("check {GOOGLE_CLIENT_ID} and {GOOGLE_CLIENT_SECRET}"),
                },
                _ => AuthError::Api {
                    platform: Platform::GoogleAds,
                    message,
                    hint: "retry; if it persists, log in again".into(),
                },
            }
        }
        RequestTokenError::Request(e) => AuthError::Transport {
            url: token_url.to_string(),
            message: scrub(&e.to_string()),
        },
        RequestTokenError::Parse(_, _) => AuthError::Api {
            platform: Platform::GoogleAds,
            message: format!("unexpected response from {token_url}"),
            hint: "check ADSCTL_GOOGLE_OAUTH_ENDPOINT".into(),
        },
        RequestTokenError::Other(o) => AuthError::Api {
            platform: Platform::GoogleAds,
            message: scrub(&o),
            hint: "retry".into(),
        },
    }
}
