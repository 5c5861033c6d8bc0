//! Keeping tokens fresh. When a token is due and how it is refreshed is the platform's
//! (`PlatformAuth::refresh_due`, `PlatformAuth::refresh`: Google refreshes its one-hour access tokens, Meta
//! re-exchanges long-lived user tokens); storing the result, health and audit are here. A grant the platform calls
//! revoked marks the account `invalid` (with the fix) until a new login.

use chrono::{DateTime, Utc};

use super::platform::flow;
use super::{Auth, AuthError, CredentialKind, CredentialSource, Credentials};
use crate::model::Account;
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
    flow(kind.platform()).is_some_and(|f| f.refresh_due(kind, now))
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
        let Some(f) = flow(account.platform) else {
            return Ok(creds);
        };
        if !f.refresh(self, account, &mut creds.kind).await? {
            return Ok(creds);
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
                    if let Some(f) = flow(kind.platform()) {
                        f.refreshed(&mut kind, access_token, expires_at);
                        self.store(&account.name, &kind)?;
                    }
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
        for a in accounts.iter().filter(|a| flow(a.platform).is_some()) {
            let due = match self.credentials(a) {
                // only what the vault keeps is worth refreshing ahead of use: a token refreshed from the
                // environment's credentials would be thrown away (the connector refreshes those itself)
                Ok(c) => c.source == CredentialSource::Vault && is_due(&c.kind, Utc::now()),
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
