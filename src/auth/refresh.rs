//! Keeping tokens fresh. Google access tokens (one hour) are refreshed from the refresh token shortly before
//! they end; Meta long-lived user tokens (about 60 days) are re-exchanged with `fb_exchange_token` once fewer
//! than [`META_REEXCHANGE_WINDOW`] days are left. A grant the platform calls revoked marks the account
//! `invalid` (with the fix) until a new login.

use chrono::{DateTime, Utc};
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, RefreshToken, TokenResponse, TokenUrl};
use tracing::Instrument;

use super::endpoints;
use super::oauth::{meta_long_lived, token_error, MetaApp};
use super::{
    Auth, AuthError, CredentialKind, CredentialSource, Credentials, MetaTokenKind, ACCESS_TOKEN_MARGIN,
    META_REEXCHANGE_WINDOW,
};
use crate::connectors::trace::{self, TracedOAuth};
use crate::model::{Account, Platform};
use crate::platforms::google_ads::client::GOOGLE_REQUEST_ID;
use crate::secret::{scrub, Secret};

/// What a connector that refreshed a token itself reports back ([`Auth::record_refresh`]).
#[derive(Clone, Debug)]
pub enum RefreshReport {
    /// A new access token (Google) or long-lived token (Meta).
    Refreshed {
        access_token: Secret,
        expires_in: Option<std::time::Duration>,
    },
    /// The platform said the grant is revoked / the token invalid (`invalid_grant`, Meta 190).
    Revoked { message: String },
    /// Anything else (network, 5xx): the token is kept, the error recorded.
    Failed { message: String },
}

/// Whether the credentials should be refreshed before use.
pub fn is_due(kind: &CredentialKind, now: DateTime<Utc>) -> bool {
    match kind {
        CredentialKind::GoogleAds(g) => match (&g.access_token, g.access_token_expires_at) {
            (Some(_), Some(exp)) => exp - ACCESS_TOKEN_MARGIN <= now,
            (Some(_), None) => false,
            (None, _) => true,
        },
        CredentialKind::Meta(m) => {
            m.token_kind == MetaTokenKind::LongLivedUser
                && m.app_secret.is_some()
                && m.expires_at.is_some_and(|exp| exp - META_REEXCHANGE_WINDOW <= now)
        }
    }
}

impl Auth {
    /// `adsctl auth refresh`: refresh now (Google: new access token; Meta user token: re-exchange; Meta
    /// system-user token: nothing to refresh). Stores the result when the credentials live in the vault.
    pub async fn refresh(&self, account: &Account) -> Result<Credentials, AuthError> {
        let res = self.refresh_inner(account).await;
        self.audit(&account.name, "auth.refresh", res.as_ref().map(|_| ()));
        match &res {
            Ok(_) => self.health().update(&account.name, |h| {
                h.last_refresh = Some(Utc::now());
                h.invalid = None;
            }),
            Err(e) => self.note_failure(&account.name, e),
        }
        res
    }

    pub(crate) fn note_failure(&self, account: &str, e: &AuthError) {
        let message = scrub(&e.to_string());
        let invalid = e.is_invalid_grant();
        self.health().update(account, |h| {
            if invalid {
                h.invalid = Some(message.clone());
            }
            h.last_error = Some(super::health::ErrorNote {
                at: Utc::now(),
                message,
            });
        });
    }

    async fn refresh_inner(&self, account: &Account) -> Result<Credentials, AuthError> {
        let mut creds = self.credentials(account)?;
        match &mut creds.kind {
            CredentialKind::GoogleAds(g) => {
                let ep = endpoints::google(account, self.env());
                let client = BasicClient::new(ClientId::new(g.client_id.clone()))
                    .set_client_secret(ClientSecret::new(g.client_secret.expose().to_string()))
                    .set_token_uri(TokenUrl::new(ep.token_url.clone()).map_err(|e| AuthError::Config {
                        message: format!("bad token URL: {e}"),
                        hint: "check ADSCTL_GOOGLE_OAUTH_ENDPOINT".into(),
                    })?)
                    .set_auth_type(AuthType::RequestBody);
                let http = TracedOAuth {
                    http: self.http(),
                    request_id: GOOGLE_REQUEST_ID,
                };
                let token = client
                    .exchange_refresh_token(&RefreshToken::new(g.refresh_token.expose().to_string()))
                    .request_async(&http)
                    .instrument(trace::token("google_ads", &account.name, &ep.token_url))
                    .await
                    .map_err(|e| token_error(&account.name, &ep.token_url, e))?;
                g.access_token = Some(Secret::new(token.access_token().secret().clone()));
                g.access_token_expires_at = token
                    .expires_in()
                    .and_then(|d| chrono::Duration::from_std(d).ok())
                    .map(|d| Utc::now() + d);
                // Google may rotate the refresh token; keep the new one when it does.
                if let Some(r) = token.refresh_token() {
                    g.refresh_token = Secret::new(r.secret().clone());
                }
            }
            CredentialKind::Meta(m) => {
                if m.token_kind == MetaTokenKind::SystemUser {
                    tracing::info!(account = %account.name, "a system-user token has nothing to refresh");
                    return Ok(creds);
                }
                let (Some(app_id), Some(app_secret)) = (m.app_id.clone(), m.app_secret.clone()) else {
                    return Err(AuthError::Config {
                        message: format!(
                            "the Meta app of {} is unknown, so its token cannot be re-exchanged",
                            account.name
                        ),
                        hint: format!(
                            "run `adsctl auth login {}` with FACEBOOK_APP_ID and FACEBOOK_APP_SECRET set",
                            account.name
                        ),
                    });
                };
                let ep = endpoints::meta(account, self.env());
                let app = MetaApp { app_id, app_secret };
                let (token, expires_at) = meta_long_lived(self, &ep, &account.name, &app, &m.access_token).await?;
                m.access_token = token;
                m.expires_at = expires_at;
            }
        }
        if creds.source == CredentialSource::Vault {
            self.store(&account.name, &creds.kind)?;
        }
        Ok(creds)
    }

    /// A connector that refreshed a token itself reports the result here: a new token is stored (vault
    /// credentials only), a revoked grant marks the account invalid, a failure is recorded.
    pub fn record_refresh(&self, account: &Account, report: RefreshReport) -> Result<(), AuthError> {
        match report {
            RefreshReport::Refreshed {
                access_token,
                expires_in,
            } => {
                let expires_at = expires_in
                    .and_then(|d| chrono::Duration::from_std(d).ok())
                    .map(|d| Utc::now() + d);
                if let Some(mut kind) = self.stored(&account.name)? {
                    match &mut kind {
                        CredentialKind::GoogleAds(g) => {
                            g.access_token = Some(access_token);
                            g.access_token_expires_at = expires_at;
                        }
                        CredentialKind::Meta(m) => {
                            m.access_token = access_token;
                            m.expires_at = expires_at;
                        }
                    }
                    self.store(&account.name, &kind)?;
                }
                self.health().update(&account.name, |h| {
                    h.last_refresh = Some(Utc::now());
                    h.invalid = None;
                });
                self.audit(&account.name, "auth.refresh", Ok(()));
            }
            RefreshReport::Revoked { message } => {
                let e = AuthError::Invalid {
                    account: account.name.clone(),
                    message: scrub(&message),
                    hint: format!("run `adsctl auth login {}`", account.name),
                };
                self.note_failure(&account.name, &e);
                self.audit(&account.name, "auth.refresh", Err(&e));
            }
            RefreshReport::Failed { message } => {
                let e = AuthError::Api {
                    platform: account.platform,
                    message: scrub(&message),
                    hint: String::new(),
                };
                self.note_failure(&account.name, &e);
                self.audit(&account.name, "auth.refresh", Err(&e));
            }
        }
        Ok(())
    }

    /// Refresh every account whose credentials are due (the daemon calls this on a timer). Returns, per
    /// account refreshed or failed, the outcome; accounts not due are left out.
    pub async fn rotate_due(&self, accounts: &[Account]) -> Vec<(String, Result<(), AuthError>)> {
        let mut out = Vec::new();
        for a in accounts
            .iter()
            .filter(|a| matches!(a.platform, Platform::GoogleAds | Platform::Meta))
        {
            let due = match self.credentials(a) {
                Ok(c) => {
                    is_due(&c.kind, Utc::now())
                        // a Google access token is only worth refreshing for vault credentials (kept for later)
                        && !(c.source == CredentialSource::Env && c.google().is_some())
                }
                Err(_) => false,
            };
            if due {
                let r = self.refresh(a).await.map(|_| ());
                out.push((a.name.clone(), r));
            }
        }
        out
    }
}
