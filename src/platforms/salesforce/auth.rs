//! Salesforce credentials and their flows (the auth stage's [`PlatformAuth`] for this platform): OAuth 2.0.
//!
//! - **Web-server flow with PKCE** (`auth login`): the browser goes to `{login}/services/oauth2/authorize?
//!   response_type=code&client_id&redirect_uri&scope=api refresh_token&state&code_challenge&code_challenge_method=
//!   S256`; the code is exchanged at `POST {login}/services/oauth2/token` (form: `grant_type=authorization_code`,
//!   `code`, `client_id`, `client_secret`, `redirect_uri`, `code_verifier`). The answer has `access_token`,
//!   `refresh_token`, `instance_url` and **no `expires_in`**: a token lives as long as the org's session timeout,
//!   and its end shows up as 401 INVALID_SESSION_ID, on which the connector refreshes once and retries
//!   (`grant_type=refresh_token`) with the newest `instance_url`.
//! - **JWT bearer** (daemons, no browser): an RS256 assertion `{iss: client id, sub: user name, aud: the login host,
//!   exp: now + 3 minutes}` signed with the key whose certificate is uploaded to the app
//!   (`ADSCTL_SALESFORCE_PRIVATE_KEY_FILE`, PKCS#8 or PKCS#1 PEM), `grant_type=urn:ietf:params:oauth:grant-type:
//!   jwt-bearer`. No refresh token: a new assertion is minted when the session ends. `aud` is the login URL, except a
//!   My Domain host, which takes `https://login.salesforce.com` (`https://test.salesforce.com` for a sandbox).
//! - **Environment**: `ADSCTL_SALESFORCE_ACCESS_TOKEN` (+ `ADSCTL_SALESFORCE_INSTANCE_URL`), or
//!   `ADSCTL_SALESFORCE_REFRESH_TOKEN` + `ADSCTL_SALESFORCE_CLIENT_ID` [+ `_CLIENT_SECRET`], or
//!   `ADSCTL_SALESFORCE_USERNAME` + `ADSCTL_SALESFORCE_PRIVATE_KEY_FILE` + `ADSCTL_SALESFORCE_CLIENT_ID`; the login
//!   host is `ADSCTL_SALESFORCE_LOGIN_URL` (default `https://login.salesforce.com`).
//! - **`auth validate`**: `GET /sobjects/Campaign/describe/` — `Adsctl_Key__c` present, External ID and Unique,
//!   Campaign createable (the Marketing User flag); each failure says exactly how to fix it.
//!
//! A refresh token that the app rotates comes back in the refresh answer: `auth refresh` stores it; the connector
//! keeps it in memory for the rest of the run (it cannot write the vault).

use std::any::Any;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use oauth2::PkceCodeVerifier;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::config::{normalise_host, DATA_PATH, DEFAULT_LOGIN_URL, INSTANCE_URL_ENV, KEY_FIELD, LOGIN_URL_ENV};
use crate::auth::platform::{CredentialKind, LoginRequest, PlatformAuth, PlatformCredentials};
use crate::auth::{endpoint_override, env_var, secret_env_var, Auth, AuthError, Validation};
use crate::connectors::trace;
use crate::model::{Account, Platform};
use crate::secret::{scrub, Secret};

/// The environment variables read for CI credentials.
pub mod env_names {
    pub const ACCESS_TOKEN: &str = "ADSCTL_SALESFORCE_ACCESS_TOKEN";
    pub const INSTANCE_URL: &str = super::INSTANCE_URL_ENV;
    pub const REFRESH_TOKEN: &str = "ADSCTL_SALESFORCE_REFRESH_TOKEN";
    pub const CLIENT_ID: &str = "ADSCTL_SALESFORCE_CLIENT_ID";
    pub const CLIENT_SECRET: &str = "ADSCTL_SALESFORCE_CLIENT_SECRET";
    pub const USERNAME: &str = "ADSCTL_SALESFORCE_USERNAME";
    pub const PRIVATE_KEY_FILE: &str = "ADSCTL_SALESFORCE_PRIVATE_KEY_FILE";
    pub const LOGIN_URL: &str = super::LOGIN_URL_ENV;
}
use env_names::*;

/// Salesforce's request id header (quote it to support).
pub const SF_REQUEST_ID: &[&str] = &["sforce-request-id", "x-request-id"];
/// The scopes `auth login` asks for.
pub const SCOPES: &str = "api refresh_token";
/// How far ahead a JWT assertion expires (the pack: ≤ 3 minutes).
pub const JWT_LIFETIME_SECS: i64 = 170;

/// Salesforce: an access token with the instance it belongs to, and what mints a new one (a refresh token and the
/// app, or the JWT bearer user and key file).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesforceCredentials {
    #[serde(default)]
    pub access_token: Option<Secret>,
    /// `https://acme.my.salesforce.com`: the latest token response's.
    #[serde(default)]
    pub instance_url: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// The External Client App's consumer key.
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// The login host the tokens come from (`https://login.salesforce.com`, `https://test.salesforce.com`, a My
    /// Domain).
    #[serde(default)]
    pub login_url: Option<String>,
    /// JWT bearer: the user name (`sub`) and the PEM key file that signs the assertion.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub private_key_file: Option<String>,
}

impl SalesforceCredentials {
    /// An access token alone, on a known instance.
    pub fn token(access_token: &str, instance_url: &str) -> SalesforceCredentials {
        SalesforceCredentials {
            access_token: Some(Secret::new(access_token)),
            instance_url: Some(instance_url.trim_end_matches('/').to_string()),
            ..SalesforceCredentials::default()
        }
    }

    /// A refresh token of an app.
    pub fn refreshable(refresh_token: &str, client_id: &str, client_secret: Option<&str>) -> SalesforceCredentials {
        SalesforceCredentials {
            refresh_token: Some(Secret::new(refresh_token)),
            client_id: Some(client_id.to_string()),
            client_secret: client_secret.map(Secret::new),
            ..SalesforceCredentials::default()
        }
    }

    /// The JWT bearer flow's user and key file.
    pub fn jwt(username: &str, private_key_file: &str, client_id: &str) -> SalesforceCredentials {
        SalesforceCredentials {
            username: Some(username.to_string()),
            private_key_file: Some(private_key_file.to_string()),
            client_id: Some(client_id.to_string()),
            ..SalesforceCredentials::default()
        }
    }

    /// Whether a new access token can be had without a person.
    pub fn can_mint(&self) -> bool {
        self.client_id.is_some()
            && (self.refresh_token.as_ref().is_some_and(|r| !r.is_empty())
                || (self.username.is_some() && self.private_key_file.is_some()))
    }

    pub(crate) fn secrets_held(&self) -> Vec<&Secret> {
        [&self.access_token, &self.refresh_token, &self.client_secret]
            .into_iter()
            .flatten()
            .collect()
    }
}

impl PlatformCredentials for SalesforceCredentials {
    fn platform(&self) -> Platform {
        Platform::Salesforce
    }
    fn to_fields(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
    fn secrets(&self) -> Vec<&Secret> {
        self.secrets_held()
    }
    /// Access tokens carry no expiry (the session timeout ends them); refresh tokens and JWT keys do not end.
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        None
    }
    fn never_expires(&self) -> bool {
        self.can_mint()
    }
    fn describe(&self) -> String {
        if self.username.is_some() && self.private_key_file.is_some() {
            "JWT bearer (a new session is minted with the key whenever one ends)".into()
        } else if self.refresh_token.is_some() {
            "refresh token (sessions end with the org's session timeout and are refreshed automatically)".into()
        } else {
            "access token only (it ends with the org's session timeout; log in for a refresh token)".into()
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

/// What a token endpoint answered.
#[derive(Clone, Debug)]
pub struct TokenAnswer {
    pub access_token: Secret,
    pub instance_url: String,
    /// A rotated (or first) refresh token.
    pub refresh_token: Option<Secret>,
    pub scope: Option<String>,
}

/// A form body.
fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A token endpoint's answer, or its error (`{error, error_description}`), without any secret.
pub fn token_answer(account: &str, status: u16, text: &str, secrets: &[&Secret]) -> Result<TokenAnswer, AuthError> {
    let clean = |s: &str| super::errors::redact_emails(&scrub(&crate::secret::redact(s, secrets)));
    let body: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    if (200..300).contains(&status) {
        let access = crate::auth::token_field(&body, Platform::Salesforce)?;
        let instance = body
            .get("instance_url")
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| AuthError::Api {
                platform: Platform::Salesforce,
                message: "the token response has no instance_url".into(),
                hint: format!("check {LOGIN_URL}"),
            })?;
        return Ok(TokenAnswer {
            access_token: access,
            instance_url: instance.trim_end_matches('/').to_string(),
            refresh_token: body
                .get("refresh_token")
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
                .map(Secret::new),
            scope: body.get("scope").and_then(|v| v.as_str()).map(String::from),
        });
    }
    let error = body.get("error").and_then(|e| e.as_str()).unwrap_or("");
    let description = body.get("error_description").and_then(|e| e.as_str()).unwrap_or("");
    let message = clean(&format!("HTTP {status} {error}: {description}"));
    if error == "invalid_grant" || error == "invalid_client_id" || error == "invalid_client" || status == 401 {
        let hint = if description.contains("approved") {
            "pre-authorize the user for the app (Setup → App Manager → the app → Manage → Edit Policies → Permitted \
             Users: Admin approved users are pre-authorized, then add the user's profile or permission set)"
                .to_string()
        } else {
            format!(
                "the grant expired or was revoked: run `adsctl auth login {account}` (or check the JWT key and user)"
            )
        };
        return Err(AuthError::Invalid {
            account: account.to_string(),
            message,
            hint,
        });
    }
    Err(AuthError::Api {
        platform: Platform::Salesforce,
        message,
        hint: format!("check {CLIENT_ID} / {CLIENT_SECRET} and {LOGIN_URL}; retry later"),
    })
}

/// `POST {login}/services/oauth2/token` with a form.
pub async fn post_token(
    http: &reqwest::Client,
    account: &str,
    login_url: &str,
    body: String,
    secrets: &[&Secret],
) -> Result<TokenAnswer, AuthError> {
    let url = format!("{}/services/oauth2/token", login_url.trim_end_matches('/'));
    let span = trace::token("salesforce", account, &url);
    async {
        let resp = http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| crate::auth::transport(&url, e))?;
        let status = resp.status().as_u16();
        trace::record_response(status, resp.headers(), SF_REQUEST_ID);
        let text = resp.text().await.map_err(|e| crate::auth::transport(&url, e))?;
        token_answer(account, status, &text, secrets)
    }
    .instrument(span)
    .await
}

/// The `aud` of a JWT for a login host: a My Domain takes the generic host.
pub fn jwt_audience(login_url: &str) -> String {
    let l = login_url.trim_end_matches('/').to_ascii_lowercase();
    if l.ends_with(".sandbox.my.salesforce.com") {
        "https://test.salesforce.com".into()
    } else if l.ends_with(".my.salesforce.com") {
        DEFAULT_LOGIN_URL.into()
    } else {
        login_url.trim_end_matches('/').to_string()
    }
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The DER of a PEM block (`PRIVATE KEY` = PKCS#8, `RSA PRIVATE KEY` = PKCS#1).
fn pem_der(pem: &str) -> Option<(bool, Vec<u8>)> {
    let pkcs8 = pem.contains("-----BEGIN PRIVATE KEY-----");
    let pkcs1 = pem.contains("-----BEGIN RSA PRIVATE KEY-----");
    if !pkcs8 && !pkcs1 {
        return None;
    }
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----") && !l.is_empty())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()
        .map(|d| (pkcs8, d))
}

/// A signed RS256 assertion of the JWT bearer flow.
pub fn jwt_assertion(client_id: &str, username: &str, aud: &str, key_pem: &str, now: i64) -> Result<String, String> {
    let (pkcs8, der) =
        pem_der(key_pem).ok_or("the key file is not a PEM private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)")?;
    let key = if pkcs8 {
        ring::signature::RsaKeyPair::from_pkcs8(&der)
    } else {
        ring::signature::RsaKeyPair::from_der(&der)
    }
    .map_err(|e| format!("the key file holds no usable RSA key ({e})"))?;
    let header = b64url(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = serde_json::json!({"iss": client_id, "sub": username, "aud": aud, "exp": now + JWT_LIFETIME_SECS});
    let input = format!("{header}.{}", b64url(claims.to_string().as_bytes()));
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| "the assertion could not be signed".to_string())?;
    Ok(format!("{input}.{}", b64url(&sig)))
}

/// A new session from what the credentials hold: the refresh token, else a JWT assertion.
pub async fn mint(
    http: &reqwest::Client,
    account: &str,
    creds: &SalesforceCredentials,
    login_url: &str,
) -> Result<TokenAnswer, AuthError> {
    let login = creds.login_url.as_deref().unwrap_or(login_url);
    let client_id = creds.client_id.clone().unwrap_or_default();
    if let Some(rt) = creds.refresh_token.as_ref().filter(|r| !r.is_empty()) {
        let mut pairs = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.expose()),
            ("client_id", client_id.as_str()),
        ];
        if let Some(s) = &creds.client_secret {
            pairs.push(("client_secret", s.expose()));
        }
        return post_token(http, account, login, form(&pairs), &creds.secrets_held()).await;
    }
    if let (Some(user), Some(file)) = (&creds.username, &creds.private_key_file) {
        let pem = std::fs::read_to_string(file).map_err(|e| AuthError::Config {
            message: format!("the JWT key file {file} cannot be read: {e}"),
            hint: format!("point {PRIVATE_KEY_FILE} at the PEM private key whose certificate is uploaded to the app"),
        })?;
        let assertion =
            jwt_assertion(&client_id, user, &jwt_audience(login), &pem, Utc::now().timestamp()).map_err(|message| {
                AuthError::Config {
                    message,
                    hint: format!("{PRIVATE_KEY_FILE} must hold an RSA private key in PEM"),
                }
            })?;
        let a = Secret::new(assertion);
        let body = form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", a.expose()),
        ]);
        return post_token(http, account, login, body, &[&a]).await;
    }
    Err(AuthError::Invalid {
        account: account.to_string(),
        message: "the session ended and nothing can mint a new one (no refresh token, no JWT key)".into(),
        hint: super::errors::auth_hint(account),
    })
}

fn login_of(auth: &Auth, account: &Account, prev: Option<&SalesforceCredentials>) -> String {
    env_var(auth, LOGIN_URL)
        .or_else(|| prev.and_then(|p| p.login_url.clone()))
        .or_else(|| account.endpoint.clone())
        .and_then(|u| normalise_host(&u).ok())
        .unwrap_or_else(|| DEFAULT_LOGIN_URL.to_string())
}

/// The Salesforce home's auth flow.
pub struct SalesforceAuth;

impl SalesforceAuth {
    /// `GET /sobjects/Campaign/describe/` as these credentials' user: what `auth validate` checks.
    async fn describe(
        &self,
        auth: &Auth,
        account: &Account,
        c: &SalesforceCredentials,
    ) -> Result<serde_json::Value, AuthError> {
        let mut c = c.clone();
        let login = login_of(auth, account, Some(&c));
        if c.access_token.is_none() {
            let t = mint(auth.http(), &account.name, &c, &login).await?;
            c.access_token = Some(t.access_token);
            c.instance_url = Some(t.instance_url);
        }
        let instance = c
            .instance_url
            .clone()
            .or_else(|| endpoint_override(account, auth, INSTANCE_URL))
            .ok_or_else(|| AuthError::Config {
                message: "no instance URL: the credentials name none".into(),
                hint: format!("set {INSTANCE_URL} (https://<my domain>.my.salesforce.com) with {ACCESS_TOKEN}"),
            })?;
        let url = format!(
            "{}{DATA_PATH}sobjects/Campaign/describe/",
            instance.trim_end_matches('/')
        );
        let token = c.access_token.clone().unwrap_or_else(|| Secret::new(""));
        let span = trace::request("salesforce", &account.name, "GET", "sobjects/Campaign/describe/");
        let (status, text) = async {
            let resp = auth
                .http()
                .get(&url)
                .bearer_auth(token.expose())
                .send()
                .await
                .map_err(|e| crate::auth::transport(&url, e))?;
            let status = resp.status().as_u16();
            trace::record_response(status, resp.headers(), SF_REQUEST_ID);
            let text = resp.text().await.map_err(|e| crate::auth::transport(&url, e))?;
            Ok::<_, AuthError>((status, text))
        }
        .instrument(span)
        .await?;
        if status >= 400 {
            let e = super::errors::ApiError::parse(status, &text)
                .scrubbed(&|t| scrub(&crate::secret::redact(t, &c.secrets_held())));
            let message = format!("GET sobjects/Campaign/describe/: {}", e.text());
            let hint = e.hint(Some(&account.name)).unwrap_or_default();
            return Err(if status == 401 {
                AuthError::Invalid {
                    account: account.name.clone(),
                    message,
                    hint,
                }
            } else {
                AuthError::Api {
                    platform: Platform::Salesforce,
                    message,
                    hint,
                }
            });
        }
        Ok(serde_json::from_str(&text).unwrap_or_default())
    }
}

/// What a Campaign describe says is wrong for adsctl: each problem with the exact steps to fix it.
pub fn describe_problems(describe: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    let fields = describe["fields"].as_array().cloned().unwrap_or_default();
    let key = fields.iter().find(|f| f["name"].as_str() == Some(KEY_FIELD));
    const CREATE: &str = "Setup → Object Manager → Campaign → Fields & Relationships → New → Text (length 255), \
                          Field Label \"Adsctl Key\", Field Name \"Adsctl_Key\", tick Unique (case-insensitive) and \
                          External ID, visible to the integration user's profile";
    match key {
        None => out.push(format!(
            "Campaign has no field {KEY_FIELD} (or the integration user cannot see it): {CREATE}"
        )),
        Some(f) => {
            if f["externalId"].as_bool() != Some(true) {
                out.push(format!(
                    "{KEY_FIELD} is not an External ID: Setup → Object Manager → Campaign → Fields & Relationships → \
                     Adsctl Key → Edit → tick External ID"
                ));
            }
            if f["unique"].as_bool() != Some(true) {
                out.push(format!(
                    "{KEY_FIELD} is not Unique (an upsert by it would need View All Data and could match two \
                     records): Setup → Object Manager → Campaign → Fields & Relationships → Adsctl Key → Edit → tick \
                     Unique"
                ));
            }
            let read_only = f["createable"].as_bool() == Some(false) || f["updateable"].as_bool() == Some(false);
            if read_only && describe["createable"].as_bool() != Some(false) {
                out.push(format!(
                    "{KEY_FIELD} is read-only for the integration user: give its profile or permission set Edit \
                     access to the field (Field-Level Security)"
                ));
            }
        }
    }
    if describe["createable"].as_bool() != Some(true) || describe["updateable"].as_bool() != Some(true) {
        out.push(
            "the user needs the Marketing User flag: Setup → Users → the integration user → Edit → tick Marketing \
             User (or assign a permission set with Campaign Create, Edit and Delete)"
                .into(),
        );
    }
    out
}

#[async_trait]
impl PlatformAuth for SalesforceAuth {
    fn decode(&self, fields: serde_json::Value) -> Result<CredentialKind, String> {
        CredentialKind::decode::<SalesforceCredentials>(fields)
    }

    fn env_names(&self) -> &'static [&'static str] {
        &[
            ACCESS_TOKEN,
            INSTANCE_URL,
            REFRESH_TOKEN,
            CLIENT_ID,
            CLIENT_SECRET,
            USERNAME,
            PRIVATE_KEY_FILE,
            LOGIN_URL,
        ]
    }

    fn env_credentials(&self, auth: &Auth, _account: &Account) -> Option<CredentialKind> {
        let c = SalesforceCredentials {
            access_token: secret_env_var(auth, ACCESS_TOKEN).filter(|t| !t.is_empty()),
            instance_url: env_var(auth, INSTANCE_URL).and_then(|u| normalise_host(&u).ok()),
            refresh_token: secret_env_var(auth, REFRESH_TOKEN).filter(|t| !t.is_empty()),
            client_id: env_var(auth, CLIENT_ID),
            client_secret: secret_env_var(auth, CLIENT_SECRET).filter(|t| !t.is_empty()),
            login_url: env_var(auth, LOGIN_URL).and_then(|u| normalise_host(&u).ok()),
            username: env_var(auth, USERNAME),
            private_key_file: env_var(auth, PRIVATE_KEY_FILE),
        };
        (c.access_token.is_some() || c.can_mint()).then(|| CredentialKind::new(c))
    }

    fn missing_hint(&self, account: &str) -> String {
        format!(
            "run `adsctl auth login {account}` (with {CLIENT_ID} and {CLIENT_SECRET} set), or set {REFRESH_TOKEN} and \
             {CLIENT_ID}, or {USERNAME}, {PRIVATE_KEY_FILE} and {CLIENT_ID} (JWT bearer), or {ACCESS_TOKEN} and \
             {INSTANCE_URL}"
        )
    }

    fn set_token(
        &self,
        auth: &Auth,
        account: &Account,
        token: Secret,
        previous: Option<&CredentialKind>,
    ) -> Result<CredentialKind, AuthError> {
        let prev = previous
            .and_then(|p| p.get::<SalesforceCredentials>())
            .cloned()
            .unwrap_or_default();
        let instance = env_var(auth, INSTANCE_URL)
            .or(prev.instance_url.clone())
            .or_else(|| account.endpoint.clone())
            .ok_or_else(|| AuthError::Config {
                message: "an access token alone needs its instance URL".into(),
                hint: format!("set {INSTANCE_URL}=https://<my domain>.my.salesforce.com"),
            })?;
        Ok(CredentialKind::new(SalesforceCredentials {
            access_token: Some(token),
            instance_url: normalise_host(&instance).ok(),
            ..prev
        }))
    }

    fn authorize_url(
        &self,
        auth: &Auth,
        account: &Account,
        previous: Option<&CredentialKind>,
        login: LoginRequest,
    ) -> Result<url::Url, AuthError> {
        let prev = previous.and_then(|p| p.get::<SalesforceCredentials>());
        let client_id = env_var(auth, CLIENT_ID)
            .or_else(|| prev.and_then(|p| p.client_id.clone()))
            .ok_or_else(|| AuthError::Config {
                message: format!("{CLIENT_ID} is not set (needed to connect {})", account.name),
                hint: format!(
                    "export {CLIENT_ID} and {CLIENT_SECRET} (the consumer key and secret of your External Client App)"
                ),
            })?;
        let base = login_of(auth, account, prev);
        let mut u = crate::auth::url_of(url::Url::parse(&format!("{base}/services/oauth2/authorize")))?;
        u.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client_id)
            .append_pair("redirect_uri", &login.redirect)
            .append_pair("scope", SCOPES)
            .append_pair("state", login.state.expose())
            .append_pair("code_challenge", login.challenge.as_str())
            .append_pair("code_challenge_method", "S256");
        Ok(u)
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
        let prev = previous.and_then(|p| p.get::<SalesforceCredentials>());
        let client_id = env_var(auth, CLIENT_ID)
            .or_else(|| prev.and_then(|p| p.client_id.clone()))
            .unwrap_or_default();
        let secret = secret_env_var(auth, CLIENT_SECRET).or_else(|| prev.and_then(|p| p.client_secret.clone()));
        let login = login_of(auth, account, prev);
        let v = Secret::new(verifier.secret().to_string());
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("client_id", client_id.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", v.expose()),
        ];
        if let Some(s) = &secret {
            pairs.push(("client_secret", s.expose()));
        }
        let mut secrets = vec![&code, &v];
        secrets.extend(secret.iter());
        let t = post_token(auth.http(), &account.name, &login, form(&pairs), &secrets).await?;
        Ok(CredentialKind::new(SalesforceCredentials {
            access_token: Some(t.access_token),
            instance_url: Some(t.instance_url),
            refresh_token: t.refresh_token,
            client_id: Some(client_id),
            client_secret: secret,
            login_url: Some(login),
            username: None,
            private_key_file: None,
        }))
    }

    /// No expiry is known (no `expires_in`): the connector refreshes on 401 INVALID_SESSION_ID.
    fn refresh_due(&self, kind: &CredentialKind, _now: DateTime<Utc>) -> bool {
        kind.get::<SalesforceCredentials>()
            .is_some_and(|c| c.access_token.is_none() && c.can_mint())
    }

    async fn refresh(&self, auth: &Auth, account: &Account, kind: &mut CredentialKind) -> Result<bool, AuthError> {
        let Some(c) = kind.get_mut::<SalesforceCredentials>() else {
            return Ok(false);
        };
        if !c.can_mint() {
            return Ok(false);
        }
        let login = login_of(auth, account, Some(c));
        let t = mint(auth.http(), &account.name, c, &login).await?;
        c.access_token = Some(t.access_token);
        c.instance_url = Some(t.instance_url);
        if let Some(r) = t.refresh_token {
            c.refresh_token = Some(r);
        }
        Ok(true)
    }

    fn refreshed(&self, kind: &mut CredentialKind, token: Secret, _expires_at: Option<DateTime<Utc>>) {
        if let Some(c) = kind.get_mut::<SalesforceCredentials>() {
            c.access_token = Some(token);
        }
    }

    async fn validate(
        &self,
        auth: &Auth,
        account: &Account,
        kind: &CredentialKind,
        v: &mut Validation,
    ) -> Result<(), AuthError> {
        let Some(c) = kind.get::<SalesforceCredentials>() else {
            return Ok(());
        };
        let d = self.describe(auth, account, c).await?;
        let problems = describe_problems(&d);
        if problems.is_empty() {
            v.scopes = vec![
                "Campaign: createable".into(),
                format!("{KEY_FIELD}: External ID, Unique"),
            ];
            return Ok(());
        }
        Err(AuthError::Api {
            platform: Platform::Salesforce,
            message: problems.join("; "),
            hint: "fix the org as each point says, then run `adsctl auth validate` again".into(),
        })
    }

    fn renew_hint(&self, account: &str) -> String {
        format!("run `adsctl auth login {account}`, or use the JWT bearer flow ({USERNAME}, {PRIVATE_KEY_FILE})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_and_never_print() {
        let c = SalesforceCredentials {
            access_token: Some(Secret::new("00Dsf-access-token-1234")),
            instance_url: Some("https://acme.my.salesforce.com".into()),
            refresh_token: Some(Secret::new("5Aep-refresh-token-5678")),
            client_id: Some("3MVGclient".into()),
            client_secret: Some(Secret::new("sf-client-secret-999")),
            ..SalesforceCredentials::default()
        };
        let back = SalesforceAuth.decode(c.to_fields()).unwrap();
        assert_eq!(back.get::<SalesforceCredentials>(), Some(&c));
        let shown = format!("{c:?} {back:?} {}", c.describe());
        for s in [
            "00Dsf-access-token-1234",
            "5Aep-refresh-token-5678",
            "sf-client-secret-999",
        ] {
            assert!(!shown.contains(s), "{s} in {shown}");
        }
        assert!(c.can_mint());
    }

    #[test]
    fn jwt_audiences_and_token_errors() {
        assert_eq!(
            jwt_audience("https://acme.my.salesforce.com"),
            "https://login.salesforce.com"
        );
        assert_eq!(
            jwt_audience("https://acme--uat.sandbox.my.salesforce.com"),
            "https://test.salesforce.com"
        );
        assert_eq!(jwt_audience("http://127.0.0.1:9/"), "http://127.0.0.1:9");
        let s = Secret::new("sf-secret-echoed-back");
        let e = token_answer(
            "sf",
            400,
            r#"{"error":"invalid_grant","error_description":"expired sf-secret-echoed-back"}"#,
            &[&s],
        )
        .unwrap_err();
        assert!(e.is_invalid_grant());
        assert!(!e.to_string().contains("sf-secret-echoed-back"));
        let ok = token_answer(
            "sf",
            200,
            r#"{"access_token":"tok-123456789","instance_url":"https://a.my.salesforce.com/"}"#,
            &[],
        )
        .unwrap();
        assert_eq!(ok.instance_url, "https://a.my.salesforce.com");
        assert!(token_answer("sf", 200, r#"{"access_token":"tok-123456789"}"#, &[]).is_err());
    }

    #[test]
    fn describe_problems_say_how_to_fix() {
        let good = serde_json::json!({"createable": true, "updateable": true, "fields": [
            {"name": KEY_FIELD, "externalId": true, "unique": true, "createable": true, "updateable": true}]});
        assert!(describe_problems(&good).is_empty());
        let missing = serde_json::json!({"createable": true, "updateable": true, "fields": []});
        let p = describe_problems(&missing);
        assert!(p[0].contains("Object Manager") && p[0].contains("External ID"), "{p:?}");
        let plain = serde_json::json!({"createable": false, "updateable": false, "fields": [
            {"name": KEY_FIELD, "externalId": true, "unique": false}]});
        let p = describe_problems(&plain);
        assert!(p.iter().any(|x| x.contains("Unique")));
        assert!(p.iter().any(|x| x.contains("Marketing User")));
    }
}
