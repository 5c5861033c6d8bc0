//! `adsctl auth validate`: prove the credentials work against the platform, read-only (what is asked is the
//! platform's: `PlatformAuth::validate` in its home; Google: `customers:listAccessibleCustomers`, then a `customer`
//! query on the account; Meta: `debug_token`, then the ad account's fields).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::platform::flow;
use super::{Auth, AuthError};
use crate::model::Account;

/// What validation found (no secrets).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Validation {
    pub account: String,
    /// The platform's name of the account.
    pub name: Option<String>,
    pub currency: Option<String>,
    pub time_zone: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
    /// Things worth a look that do not make the credentials unusable (currency differs from adsctl.yaml, …).
    pub warnings: Vec<String>,
}

impl Auth {
    pub async fn validate(&self, account: &Account) -> Result<Validation, AuthError> {
        let res = self.validate_inner(account).await;
        self.audit(&account.name, "auth.validate", res.as_ref().map(|_| ()));
        match &res {
            Ok(_) => self.health().update(&account.name, |h| {
                h.last_validation = Some(Utc::now());
                h.invalid = None;
                h.last_error = None;
            }),
            Err(e) => self.note_failure(&account.name, e),
        }
        res
    }

    async fn validate_inner(&self, account: &Account) -> Result<Validation, AuthError> {
        let creds = self.fresh_credentials(account).await?;
        let mut v = Validation {
            account: account.name.clone(),
            ..Validation::default()
        };
        if let Some(f) = flow(account.platform) {
            f.validate(self, account, &creds.kind, &mut v).await?;
        }
        if let Some(cur) = &v.currency {
            if cur != account.currency.code() {
                v.warnings.push(format!(
                    "the platform says the currency is {cur}, adsctl.yaml says {}",
                    account.currency.code()
                ));
            }
        }
        Ok(v)
    }
}
