//! `adsctl auth status`: one row per account of the project.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::platform::flow;
use super::{Auth, AuthError, CredentialSource, EXPIRING_WINDOW};
use crate::model::{Account, Platform};
use crate::secret::scrub;

/// The health of an account's credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    /// Usable.
    Active,
    /// A token that only a person can renew ends within [`EXPIRING_WINDOW`].
    Expiring,
    /// Such a token has ended.
    Expired,
    /// The platform said the grant is revoked / the token invalid: log in again.
    Invalid,
    /// The credentials cannot be read (wrong master key, damaged vault, bad key file).
    Error,
    /// No credentials anywhere.
    Missing,
}

impl TokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Expiring => "expiring",
            TokenStatus::Expired => "expired",
            TokenStatus::Invalid => "invalid",
            TokenStatus::Error => "error",
            TokenStatus::Missing => "missing",
        }
    }
}

/// One account's row. Never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusRow {
    pub account: String,
    pub platform: Platform,
    pub source: Option<CredentialSource>,
    pub status: TokenStatus,
    /// Google: the current access token's end (refreshed automatically); Meta: the token's end (none for
    /// system-user tokens).
    pub expires_at: Option<DateTime<Utc>>,
    /// The token never ends (valid until revoked: no refresh step).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub never_expires: bool,
    pub last_sync: Option<DateTime<Utc>>,
    pub last_validation: Option<DateTime<Utc>>,
    pub last_refresh: Option<DateTime<Utc>>,
    /// Scrubbed.
    pub last_error: Option<String>,
    /// What to do about a status other than active.
    pub hint: Option<String>,
}

impl Auth {
    /// When the account's current token ends (Google: the access token, refreshed ahead of it; Meta: the stored
    /// token; none for system-user tokens or when there are no credentials). For the daemon's status page.
    pub fn token_expiry(&self, account: &Account) -> Option<DateTime<Utc>> {
        self.credentials(account).ok()?.kind.expires_at()
    }

    pub fn status(&self, accounts: &[Account]) -> Vec<StatusRow> {
        let now = Utc::now();
        accounts.iter().map(|a| self.status_row(a, now)).collect()
    }

    fn status_row(&self, a: &Account, now: DateTime<Utc>) -> StatusRow {
        let h = self.health().get(&a.name);
        let mut row = StatusRow {
            account: a.name.clone(),
            platform: a.platform,
            source: None,
            status: TokenStatus::Missing,
            expires_at: None,
            never_expires: false,
            last_sync: h.last_sync,
            last_validation: h.last_validation,
            last_refresh: h.last_refresh,
            last_error: h.last_error.as_ref().map(|e| scrub(&e.message)),
            hint: None,
        };
        match self.credentials(a) {
            Err(e @ AuthError::Missing { .. }) => {
                row.hint = Some(e.hint());
            }
            Err(e) => {
                row.status = TokenStatus::Error;
                row.last_error = Some(scrub(&e.to_string()));
                row.hint = Some(e.hint());
            }
            Ok(c) => {
                row.source = Some(c.source);
                row.status = TokenStatus::Active;
                row.expires_at = c.kind.expires_at();
                row.never_expires = c.kind.never_expires();
                if let Some(exp) = c.kind.long_lived_expiry() {
                    if exp <= now {
                        row.status = TokenStatus::Expired;
                    } else if exp - EXPIRING_WINDOW <= now {
                        row.status = TokenStatus::Expiring;
                    }
                }
                if row.status != TokenStatus::Active {
                    row.hint = flow(a.platform).map(|f| f.renew_hint(&a.name));
                }
                if let Some(why) = &h.invalid {
                    row.status = TokenStatus::Invalid;
                    row.last_error = Some(scrub(why));
                    row.hint = Some(format!(
                        "access was revoked or the token is no longer valid: run `adsctl auth login {}`",
                        a.name
                    ));
                }
            }
        }
        row
    }
}
