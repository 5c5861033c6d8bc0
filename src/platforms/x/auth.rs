//! X credentials and their flows (the auth stage's [`PlatformAuth`] for this platform): OAuth 1.0a user context.
//!
//! Four values sign every request: the developer app's consumer key and consumer secret, and a user's access token
//! and token secret (a user with access to the ad account). They do not expire (until revoked or regenerated in
//! the developer portal): `never_expires`, nothing to refresh.
//!
//! - Environment: `ADSCTL_X_CONSUMER_KEY`, `ADSCTL_X_CONSUMER_SECRET`, `ADSCTL_X_ACCESS_TOKEN`,
//!   `ADSCTL_X_TOKEN_SECRET` (all four, or none is used).
//! - `adsctl auth set-token <account>` reads the values from standard input (never argv), separated by spaces or
//!   new lines: four values (consumer key, consumer secret, access token, token secret), or two (access token,
//!   token secret) with the consumer key and secret taken from the environment or from what was stored before.
//! - `adsctl auth login`: the pack documents no 3-legged flow for the Ads API v12, so there is no browser login;
//!   it says to create the user's access token and secret in the developer portal (Keys and tokens) and use
//!   `auth set-token`.
//! - `adsctl auth validate`: `GET /12/accounts/{a}` (name, time zone) and `GET /12/accounts/{a}/
//!   authenticated_user_access` — the permissions must include `ACCOUNT_ADMIN` or `AD_MANAGER` to write; the
//!   token's permissions are reported as its scopes.

use std::any::Any;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use oauth2::PkceCodeVerifier;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::client::{authorization, enc, nonce, X_REQUEST_ID};
use super::config::{normalise_base, DEFAULT_BASE_URL, ENDPOINT_ENV};
use crate::auth::platform::{CredentialKind, LoginRequest, PlatformAuth, PlatformCredentials};
use crate::auth::{endpoint_override, secret_env_var, Auth, AuthError, Validation};
use crate::connectors::trace;
use crate::model::{Account, Platform};
use crate::secret::{scrub, Secret};

/// The environment variables read for CI credentials (see `docs/auth.md`).
pub mod env_names {
    pub const CONSUMER_KEY: &str = "ADSCTL_X_CONSUMER_KEY";
    pub const CONSUMER_SECRET: &str = "ADSCTL_X_CONSUMER_SECRET";
    pub const ACCESS_TOKEN: &str = "ADSCTL_X_ACCESS_TOKEN";
    pub const TOKEN_SECRET: &str = "ADSCTL_X_TOKEN_SECRET";
    pub const ENDPOINT: &str = super::ENDPOINT_ENV;
}
use env_names::*;

/// The roles that may write (`authenticated_user_access` permissions).
pub const WRITE_ROLES: [&str; 2] = ["ACCOUNT_ADMIN", "AD_MANAGER"];

/// X: the app's consumer key and secret, the user's access token and token secret. All four are held as
/// [`Secret`] (the key too: it never reaches a message, a log or a `Debug`); the vault stores them as strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XCredentials {
    pub consumer_key: Secret,
    pub consumer_secret: Secret,
    pub access_token: Secret,
    pub token_secret: Secret,
}

impl XCredentials {
    pub fn new(consumer_key: &str, consumer_secret: &str, access_token: &str, token_secret: &str) -> XCredentials {
        XCredentials {
            consumer_key: Secret::new(consumer_key),
            consumer_secret: Secret::new(consumer_secret),
            access_token: Secret::new(access_token),
            token_secret: Secret::new(token_secret),
        }
    }

    /// The first of the four values that is empty.
    pub fn missing(&self) -> Option<&'static str> {
        if self.consumer_key.expose().trim().is_empty() {
            Some("consumer key")
        } else if self.consumer_secret.is_empty() {
            Some("consumer secret")
        } else if self.access_token.is_empty() {
            Some("access token")
        } else if self.token_secret.is_empty() {
            Some("token secret")
        } else {
            None
        }
    }

    pub(crate) fn secrets_held(&self) -> Vec<&Secret> {
        vec![
            &self.consumer_key,
            &self.consumer_secret,
            &self.access_token,
            &self.token_secret,
        ]
    }
}

impl PlatformCredentials for XCredentials {
    fn platform(&self) -> Platform {
        Platform::X
    }
    fn to_fields(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
    fn secrets(&self) -> Vec<&Secret> {
        self.secrets_held()
    }
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        None
    }
    fn never_expires(&self) -> bool {
        true
    }
    fn describe(&self) -> String {
        "OAuth 1.0a user tokens (consumer key and secret, access token and token secret; valid until revoked)".into()
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

/// The versioned base for an account (`https://ads-api.x.com/12/`, or the endpoint override).
pub fn base_url(account: &Account, auth: &Auth) -> Result<String, AuthError> {
    let b = endpoint_override(account, auth, ENDPOINT).unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    normalise_base(&b).map_err(|e| AuthError::Config {
        message: e.to_string(),
        hint: format!("check `endpoint:` of {} or {ENDPOINT}", account.name),
    })
}

/// The values of `auth set-token`: four, or two completed from the environment / the vault.
pub fn parse_set_token(
    text: &str,
    env_key: Option<Secret>,
    env_secret: Option<Secret>,
    previous: Option<&XCredentials>,
) -> Result<XCredentials, String> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    match parts.as_slice() {
        [ck, cs, at, ts] => Ok(XCredentials::new(ck, cs, at, ts)),
        [at, ts] => {
            let key = env_key.or_else(|| previous.map(|p| p.consumer_key.clone()));
            let secret = env_secret.or_else(|| previous.map(|p| p.consumer_secret.clone()));
            match (key, secret) {
                (Some(k), Some(s)) => Ok(XCredentials {
                    consumer_key: k,
                    consumer_secret: s,
                    access_token: Secret::new(*at),
                    token_secret: Secret::new(*ts),
                }),
                _ => Err(format!(
                    "two values (access token, token secret) need the app's consumer key and secret: set \
                     {CONSUMER_KEY} and {CONSUMER_SECRET}, or give all four"
                )),
            }
        }
        other => Err(format!(
            "expected four values on standard input (consumer key, consumer secret, access token, token secret) \
             separated by spaces or new lines, or two (access token, token secret); got {}",
            other.len()
        )),
    }
}

/// The X home's auth flow.
pub struct XAuth;

impl XAuth {
    /// A signed GET of `path` under the account's base: (status, body).
    async fn signed_get(
        &self,
        auth: &Auth,
        account: &Account,
        c: &XCredentials,
        path: &str,
    ) -> Result<(u16, String), AuthError> {
        let base = base_url(account, auth)?;
        let url = format!("{base}{path}");
        let header = authorization("GET", &url, &[], c, &nonce(), Utc::now().timestamp());
        let mut hv = reqwest::header::HeaderValue::from_str(&header).map_err(|_| AuthError::Config {
            message: "the X credentials hold characters a header cannot carry".into(),
            hint: format!("store them again with `adsctl auth set-token {}`", account.name),
        })?;
        hv.set_sensitive(true);
        let span = trace::request("x", &account.name, "GET", path);
        async {
            let resp = auth
                .http()
                .get(&url)
                .header(reqwest::header::AUTHORIZATION, hv)
                .send()
                .await
                .map_err(|e| crate::auth::transport(&url, e))?;
            let status = resp.status().as_u16();
            trace::record_response(status, resp.headers(), X_REQUEST_ID);
            let text = resp.text().await.map_err(|e| crate::auth::transport(&url, e))?;
            Ok::<_, AuthError>((status, text))
        }
        .instrument(span)
        .await
    }
}

fn refused(account: &Account, c: &XCredentials, what: &str, status: u16, text: &str) -> AuthError {
    let e =
        super::errors::ApiError::parse(status, text).scrubbed(&|t| scrub(&crate::secret::redact(t, &c.secrets_held())));
    let message = format!("GET {what}: {}", e.text());
    let hint = e.hint(Some(&account.name)).unwrap_or_default();
    if status == 401 {
        AuthError::Invalid {
            account: account.name.clone(),
            message,
            hint,
        }
    } else {
        AuthError::Api {
            platform: Platform::X,
            message,
            hint,
        }
    }
}

#[async_trait]
impl PlatformAuth for XAuth {
    fn decode(&self, fields: serde_json::Value) -> Result<CredentialKind, String> {
        CredentialKind::decode::<XCredentials>(fields)
    }

    fn env_names(&self) -> &'static [&'static str] {
        &[CONSUMER_KEY, CONSUMER_SECRET, ACCESS_TOKEN, TOKEN_SECRET]
    }

    fn env_credentials(&self, auth: &Auth, _account: &Account) -> Option<CredentialKind> {
        Some(CredentialKind::new(XCredentials {
            consumer_key: secret_env_var(auth, CONSUMER_KEY).filter(|v| !v.is_empty())?,
            consumer_secret: secret_env_var(auth, CONSUMER_SECRET).filter(|t| !t.is_empty())?,
            access_token: secret_env_var(auth, ACCESS_TOKEN).filter(|t| !t.is_empty())?,
            token_secret: secret_env_var(auth, TOKEN_SECRET).filter(|t| !t.is_empty())?,
        }))
    }

    fn missing_hint(&self, account: &str) -> String {
        format!(
            "pipe the four OAuth 1.0a values into `adsctl auth set-token {account}` (consumer key, consumer secret, \
             access token, token secret), or set {CONSUMER_KEY}, {CONSUMER_SECRET}, {ACCESS_TOKEN} and {TOKEN_SECRET}"
        )
    }

    fn set_token(
        &self,
        auth: &Auth,
        account: &Account,
        token: Secret,
        previous: Option<&CredentialKind>,
    ) -> Result<CredentialKind, AuthError> {
        let prev = previous.and_then(|p| p.get::<XCredentials>());
        let creds = parse_set_token(
            token.expose(),
            secret_env_var(auth, CONSUMER_KEY),
            secret_env_var(auth, CONSUMER_SECRET),
            prev,
        )
        .map_err(|message| AuthError::Config {
            message,
            hint: format!(
                "printf '%s\\n' \"$CONSUMER_KEY\" \"$CONSUMER_SECRET\" \"$ACCESS_TOKEN\" \"$TOKEN_SECRET\" | adsctl \
                 auth set-token {}",
                account.name
            ),
        })?;
        Ok(CredentialKind::new(creds))
    }

    fn authorize_url(
        &self,
        _auth: &Auth,
        account: &Account,
        _previous: Option<&CredentialKind>,
        _login: LoginRequest,
    ) -> Result<url::Url, AuthError> {
        Err(crate::auth::login_err(
            "X Ads API credentials are OAuth 1.0a user tokens, which adsctl does not obtain through a browser login",
            format!(
                "create the user's access token and token secret in the developer portal (your app → Keys and \
                 tokens), then pipe the four values into `adsctl auth set-token {}`",
                account.name
            ),
        ))
    }

    async fn exchange(
        &self,
        _auth: &Auth,
        account: &Account,
        _previous: Option<&CredentialKind>,
        _code: Secret,
        _verifier: PkceCodeVerifier,
        _redirect: &str,
    ) -> Result<CredentialKind, AuthError> {
        Err(crate::auth::login_err(
            "X has no browser login in adsctl",
            format!("use `adsctl auth set-token {}`", account.name),
        ))
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
        let Some(c) = kind.get::<XCredentials>() else {
            return Ok(());
        };
        let id = account.platform_id.trim();
        let path = format!("accounts/{}", enc(id));
        let (status, text) = self.signed_get(auth, account, c, &path).await?;
        if status >= 400 {
            return Err(refused(account, c, "accounts/{id}", status, &text));
        }
        let info: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let data = info.get("data").cloned().unwrap_or_default();
        v.name = data.get("name").and_then(|x| x.as_str()).map(String::from);
        v.time_zone = data.get("timezone").and_then(|x| x.as_str()).map(String::from);
        if let Some(st) = data.get("approval_status").and_then(|x| x.as_str()) {
            if st != "ACCEPTED" {
                v.warnings.push(format!("the ad account's approval_status is {st}"));
            }
        }
        let path = format!("accounts/{}/authenticated_user_access", enc(id));
        let (status, text) = self.signed_get(auth, account, c, &path).await?;
        if status >= 400 {
            return Err(refused(
                account,
                c,
                "accounts/{id}/authenticated_user_access",
                status,
                &text,
            ));
        }
        let access: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        v.scopes = access["data"]["permissions"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| p.as_str().map(String::from)).collect())
            .unwrap_or_default();
        if !v.scopes.iter().any(|p| WRITE_ROLES.contains(&p.as_str())) {
            v.warnings.push(format!(
                "the token's user has {} on this account: applying needs ACCOUNT_ADMIN or AD_MANAGER",
                if v.scopes.is_empty() {
                    "no permissions".to_string()
                } else {
                    v.scopes.join(", ")
                }
            ));
        }
        Ok(())
    }

    fn renew_hint(&self, account: &str) -> String {
        format!(
            "regenerate the access token and secret in the X developer portal and pipe the four values into `adsctl \
             auth set-token {account}`"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_token_takes_four_values_or_two_with_the_app() {
        let c = parse_set_token("ck cs\nat ts\n", None, None, None).unwrap();
        assert_eq!(c.consumer_key.expose(), "ck");
        assert_eq!(
            (
                c.consumer_secret.expose(),
                c.access_token.expose(),
                c.token_secret.expose()
            ),
            ("cs", "at", "ts")
        );
        assert!(parse_set_token("at ts", None, None, None).is_err());
        let c2 = parse_set_token("at2 ts2", Some(Secret::new("k")), Some(Secret::new("s")), None).unwrap();
        assert_eq!((c2.consumer_key.expose(), c2.access_token.expose()), ("k", "at2"));
        let c3 = parse_set_token("at3 ts3", None, None, Some(&c)).unwrap();
        assert_eq!(c3.consumer_secret.expose(), "cs");
        let e = parse_set_token("one", None, None, None).unwrap_err();
        assert!(!e.contains("one"), "a value never reaches a message");
        assert!(c.never_expires());
        assert_eq!(c.secrets().len(), 4);
    }

    #[test]
    fn credentials_round_trip_through_the_vault_fields() {
        let c = XCredentials::new("ck", "cs", "at", "ts");
        let k = XAuth.decode(c.to_fields()).unwrap();
        assert_eq!(k.get::<XCredentials>(), Some(&c));
    }
}
