//! The connectors' credential seams, backed by the token vault (vault first, then the environment).
//!
//! - Google Ads: the connector's own `AuthCredentials` asks [`crate::auth::credentials`], which uses the vault
//!   installed here.
//! - Meta: [`activate`] registers a source with `platforms::meta::config::register_credential_source`.
//!
//! A command that works on a project calls [`activate`] with the project root once, so that the vault of that
//! project (and not of the current directory) is used.

use std::path::Path;
use std::sync::{Arc, Once};

use super::{installed, Auth, AuthError, CredentialSource};
use crate::connectors::ConnectorError;
use crate::model::Account;
use crate::platforms::meta::config as meta;

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
