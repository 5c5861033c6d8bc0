//! The seam between the auth stage and a platform's home: what a platform's credentials are
//! ([`PlatformCredentials`], sealed in the vault as a [`CredentialKind`]) and how they are obtained, refreshed and
//! proved ([`PlatformAuth`], which each home's `auth.rs` implements and `Home::auth` hands out).
//!
//! The auth stage owns everything around them — the vault and its keys, the precedence of vault and environment,
//! the loopback listener of a login, health records, the audit log, `auth status` — and names no platform.

use std::any::Any;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use oauth2::{PkceCodeChallenge, PkceCodeVerifier};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Auth, AuthError, Validation};
use crate::model::{Account, Platform};
use crate::secret::Secret;

/// One platform's credentials, as its home defines them. `Debug` must not print a secret (hold them as
/// [`Secret`]).
pub trait PlatformCredentials: fmt::Debug + Send + Sync + 'static {
    fn platform(&self) -> Platform;
    /// The vault entry's fields (a JSON object, without `platform`); [`PlatformAuth::decode`] reads them back.
    fn to_fields(&self) -> serde_json::Value;
    /// Every secret value held, for scrubbing text that may echo one.
    fn secrets(&self) -> Vec<&Secret>;
    /// When the token in use ends: an access token the platform refreshes by itself, or a token only a person
    /// can renew (see [`PlatformCredentials::renewed_by_a_person`]). `None`: it does not end.
    fn expires_at(&self) -> Option<DateTime<Utc>>;
    /// Whether [`PlatformCredentials::expires_at`] is the end of a token only a person can renew (`auth status`
    /// then says `expiring` and `expired`).
    fn renewed_by_a_person(&self) -> bool {
        false
    }
    /// Whether the token never ends (TikTok advertiser tokens: valid until revoked, no refresh step): `auth status`
    /// says `never` rather than leaving the expiry blank.
    fn never_expires(&self) -> bool {
        false
    }
    /// What `auth login` stored, for its message (`refresh token`, `long-lived token (until 2027-02-01)`).
    fn describe(&self) -> String;
    fn clone_box(&self) -> Box<dyn PlatformCredentials>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// One account's credentials of whichever platform (the sealed content of a vault entry:
/// `{"platform": "<name>", …the platform's fields}`).
pub struct CredentialKind(Box<dyn PlatformCredentials>);

impl CredentialKind {
    pub fn new(c: impl PlatformCredentials) -> CredentialKind {
        CredentialKind(Box::new(c))
    }
    /// A vault entry's fields read as the platform's type `T` (what [`PlatformAuth::decode`] does).
    pub fn decode<T: PlatformCredentials + serde::de::DeserializeOwned>(
        fields: serde_json::Value,
    ) -> Result<CredentialKind, String> {
        serde_json::from_value::<T>(fields)
            .map(CredentialKind::new)
            .map_err(|e| e.to_string())
    }
    pub fn platform(&self) -> Platform {
        self.0.platform()
    }
    /// The platform's own type (`kind.get::<GoogleCredentials>()`), when these are that platform's.
    pub fn get<T: PlatformCredentials>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref()
    }
    pub fn get_mut<T: PlatformCredentials>(&mut self) -> Option<&mut T> {
        self.0.as_any_mut().downcast_mut()
    }
    /// The expiry of a token that cannot be refreshed without the user.
    pub fn long_lived_expiry(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at().filter(|_| self.0.renewed_by_a_person())
    }
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at()
    }
    pub fn renewed_by_a_person(&self) -> bool {
        self.0.renewed_by_a_person()
    }
    pub fn never_expires(&self) -> bool {
        self.0.never_expires()
    }
    pub fn secrets(&self) -> Vec<&Secret> {
        self.0.secrets()
    }
    pub fn describe(&self) -> String {
        self.0.describe()
    }
    fn document(&self) -> serde_json::Value {
        let mut doc = serde_json::Map::new();
        doc.insert(
            "platform".into(),
            serde_json::Value::String(self.platform().as_str().into()),
        );
        if let serde_json::Value::Object(fields) = self.0.to_fields() {
            doc.extend(fields.into_iter().filter(|(k, _)| k != "platform"));
        }
        serde_json::Value::Object(doc)
    }
}

impl Clone for CredentialKind {
    fn clone(&self) -> Self {
        CredentialKind(self.0.clone_box())
    }
}

impl fmt::Debug for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for CredentialKind {
    fn eq(&self, other: &Self) -> bool {
        self.document() == other.document()
    }
}

impl Eq for CredentialKind {}

impl Serialize for CredentialKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.document().serialize(s)
    }
}

impl<'de> Deserialize<'de> for CredentialKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut doc = serde_json::Map::deserialize(d)?;
        let platform: Platform = doc
            .remove("platform")
            .ok_or_else(|| D::Error::missing_field("platform"))
            .and_then(|p| serde_json::from_value(p).map_err(D::Error::custom))?;
        let flow = crate::platforms::home(platform)
            .and_then(|h| h.auth())
            .ok_or_else(|| D::Error::custom(format!("{platform} accounts hold no credentials")))?;
        flow.decode(serde_json::Value::Object(doc)).map_err(D::Error::custom)
    }
}

/// A login in progress: where the platform sends the user back, and the values that tie the redirect to it.
pub struct LoginRequest {
    /// `http://127.0.0.1:<port>/callback`
    pub redirect: String,
    /// The `state` the redirect must carry back.
    pub state: Secret,
    /// PKCE, for platforms that take it.
    pub challenge: PkceCodeChallenge,
}

/// How a platform's credentials are obtained, refreshed and proved (a home's `auth.rs`). The auth stage calls
/// these and does the rest: precedence, storage, health, audit.
#[async_trait]
pub trait PlatformAuth: Send + Sync + 'static {
    /// A vault entry's fields (written by [`PlatformCredentials::to_fields`]) back into credentials.
    fn decode(&self, fields: serde_json::Value) -> Result<CredentialKind, String>;
    /// The environment variables CI sets (`docs/auth.md`), in the order `auth` documents them.
    fn env_names(&self) -> &'static [&'static str];
    /// Credentials from the environment, when they are complete.
    fn env_credentials(&self, auth: &Auth, account: &Account) -> Option<CredentialKind>;
    /// How to provide credentials when there are none.
    fn missing_hint(&self, account: &str) -> String;
    /// What `adsctl.yaml` says wins over what was stored (Google's manager account).
    fn project_overrides(&self, _kind: &mut CredentialKind, _account: &Account) {}
    /// `adsctl auth set-token`: credentials holding `token` (read from standard input), completed from the
    /// environment and from what was stored before.
    fn set_token(
        &self,
        auth: &Auth,
        account: &Account,
        token: Secret,
        previous: Option<&CredentialKind>,
    ) -> Result<CredentialKind, AuthError>;
    /// `adsctl auth login`: the URL the user opens. Fails before any browser is involved when the app's
    /// settings are missing.
    fn authorize_url(
        &self,
        auth: &Auth,
        account: &Account,
        previous: Option<&CredentialKind>,
        login: LoginRequest,
    ) -> Result<url::Url, AuthError>;
    /// The redirect's query parameter that carries the authorization code.
    fn code_param(&self) -> &'static str {
        "code"
    }
    /// The code of the redirect exchanged for credentials.
    async fn exchange(
        &self,
        auth: &Auth,
        account: &Account,
        previous: Option<&CredentialKind>,
        code: Secret,
        verifier: PkceCodeVerifier,
        redirect: &str,
    ) -> Result<CredentialKind, AuthError>;
    /// Whether the credentials should be refreshed before use.
    fn refresh_due(&self, kind: &CredentialKind, now: DateTime<Utc>) -> bool;
    /// `adsctl auth refresh`: refresh in place (new access token, re-exchanged token); `Ok(false)` when there is
    /// nothing to refresh.
    async fn refresh(&self, auth: &Auth, account: &Account, kind: &mut CredentialKind) -> Result<bool, AuthError>;
    /// A token the connector refreshed itself, put into the credentials.
    fn refreshed(&self, kind: &mut CredentialKind, token: Secret, expires_at: Option<DateTime<Utc>>);
    /// `adsctl auth validate`: prove the credentials against the platform, read-only, filling `v`.
    async fn validate(
        &self,
        auth: &Auth,
        account: &Account,
        kind: &CredentialKind,
        v: &mut Validation,
    ) -> Result<(), AuthError>;
    /// Revoke the grant at the platform (the API's disconnect), where the platform documents how: `Ok(true)`
    /// revoked, `Ok(false)` the platform has no revocation adsctl knows of (the tokens are only forgotten).
    async fn revoke(&self, _auth: &Auth, _account: &Account, _kind: &CredentialKind) -> Result<bool, AuthError> {
        Ok(false)
    }
    /// What `auth status` advises for a token that is expiring or has ended.
    fn renew_hint(&self, account: &str) -> String {
        format!("run `adsctl auth login {account}`")
    }
}

/// The auth flow of an account's platform.
pub fn flow(platform: Platform) -> Option<&'static dyn PlatformAuth> {
    crate::platforms::home(platform).and_then(|h| h.auth())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::google_ads::auth::GoogleCredentials;
    use crate::platforms::meta::auth::{MetaCredentials, MetaTokenKind};

    /// Vault entries written before credentials moved into the homes (an internally tagged enum) read back the
    /// same, and are written back byte for byte.
    #[test]
    fn vault_entries_keep_their_shape() {
        let google = r#"{"platform":"google_ads","client_id":"cid.apps","client_secret":"cs","developer_token":"dt","refresh_token":"1//rt","access_token":null,"access_token_expires_at":null,"login_customer_id":"1112223333"}"#;
        let meta = r#"{"platform":"meta","access_token":"EAAtoken","token_kind":"long_lived_user","expires_at":"2027-01-31T10:00:00Z","app_id":"42","app_secret":"shh"}"#;
        let g: CredentialKind = serde_json::from_str(google).unwrap();
        let gc = g.get::<GoogleCredentials>().expect("Google credentials");
        assert_eq!(
            (gc.client_id.as_str(), gc.refresh_token.expose()),
            ("cid.apps", "1//rt")
        );
        assert_eq!(serde_json::to_string(&g).unwrap(), google);
        let m: CredentialKind = serde_json::from_str(meta).unwrap();
        let mc = m.get::<MetaCredentials>().expect("Meta credentials");
        assert_eq!(mc.token_kind, MetaTokenKind::LongLivedUser);
        assert!(m.get::<GoogleCredentials>().is_none());
        assert_eq!(serde_json::to_string(&m).unwrap(), meta);
        assert_eq!(m.long_lived_expiry(), mc.expires_at);
        assert_eq!(g.long_lived_expiry(), None, "Google refreshes its access tokens itself");
        // nothing secret in Debug
        let shown = format!("{g:?} {m:?}");
        for s in ["cs", "dt", "1//rt", "EAAtoken", "shh"] {
            assert!(!shown.contains(&format!("\"{s}\"")), "{s} in {shown}");
        }
        // a platform that holds no credentials, or none at all, is an error, not a panic
        assert!(serde_json::from_str::<CredentialKind>(r#"{"platform":"tiktok"}"#).is_err());
        assert!(serde_json::from_str::<CredentialKind>(r#"{"client_id":"x"}"#).is_err());
    }
}
