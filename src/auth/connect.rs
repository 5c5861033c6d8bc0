//! The connectors' credential seams, backed by the token vault (vault first, then the environment).
//!
//! - Google Ads: [`ConnectorCredentials`] implements the connector's `CredentialSource`; build the connector
//!   with `GoogleAdsConnector::new(account, Arc::new(ConnectorCredentials))`.
//! - Meta: [`activate`] registers a source with `connectors::meta::config::register_credential_source`.
//!
//! A command that works on a project calls [`activate`] with the project root once, so that the vault of that
//! project (and not of the current directory) is used.

use std::path::Path;
use std::sync::{Arc, Once};

use super::{installed, Auth, AuthError, CredentialSource};
use crate::connectors::google_ads::config as google;
use crate::connectors::google_ads::errors::GoogleAdsError;
use crate::connectors::meta::config as meta;
use crate::connectors::ConnectorError;
use crate::model::Account;

/// Make the project's vault the credential source of every connector in this process.
pub fn activate(root: &Path) {
    super::install(Auth::for_project(root));
    register_meta_source();
}

/// Register the vault with the Meta connector (once per process).
pub fn register_meta_source() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| meta::register_credential_source(Arc::new(meta_from_vault)));
}

/// The Meta connector's view of an account's credentials: vault entries only (the connector reads the
/// environment itself when this says `None`).
fn meta_from_vault(account: &Account) -> Result<Option<meta::MetaCredentials>, ConnectorError> {
    match installed().credentials(account) {
        Ok(c) if c.source == CredentialSource::Vault => Ok(c.meta().map(|m| meta::MetaCredentials {
            app_id: m.app_id.clone(),
            app_secret: m.app_secret.clone(),
            access_token: m.access_token.clone(),
        })),
        Ok(_) | Err(AuthError::Missing { .. }) => Ok(None),
        Err(e) => Err(ConnectorError::Auth {
            message: e.to_string(),
            hint: e.hint(),
        }),
    }
}

/// Google Ads credentials from the vault, else from the environment (the connector's own resolution, so its
/// messages about missing variables stay as they are).
#[derive(Clone, Copy, Debug, Default)]
pub struct ConnectorCredentials;

impl google::CredentialSource for ConnectorCredentials {
    fn credentials(&self, account: &Account) -> Result<google::Credentials, GoogleAdsError> {
        match installed().credentials(account) {
            Ok(c) if c.source == CredentialSource::Vault => match c.google() {
                Some(g) => Ok(google::Credentials {
                    client_id: g.client_id.clone(),
                    client_secret: g.client_secret.clone(),
                    developer_token: g.developer_token.clone(),
                    refresh_token: g.refresh_token.clone(),
                    login_customer_id: account
                        .login_customer_id
                        .clone()
                        .or_else(|| g.login_customer_id.clone())
                        .map(|s| google::digits(&s)),
                }),
                None => Err(GoogleAdsError::Config(format!(
                    "the token vault holds {} credentials for `{}`, not Google Ads ones",
                    c.kind.platform(),
                    account.name
                ))),
            },
            Ok(_) | Err(AuthError::Missing { .. }) => google::credentials_from(account, |k| std::env::var(k).ok()),
            Err(e) => Err(GoogleAdsError::Config(format!("{e} (hint: {})", e.hint()))),
        }
    }
}
