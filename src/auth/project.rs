//! The accounts of a config directory, for the auth commands: [`crate::spec::load`]'s accounts.

use std::path::{Path, PathBuf};

use super::AuthError;
use crate::model::Account;

/// The project root and its accounts, or the spec errors (as text) when the directory does not validate.
pub fn load_accounts(dir: &Path) -> Result<(PathBuf, Vec<Account>), AuthError> {
    match crate::spec::load(dir) {
        Ok(p) => Ok((p.root.clone(), p.accounts.into_values().collect())),
        Err(errors) => Err(AuthError::Config {
            message: format!("{} does not validate:\n{errors}", dir.display()),
            hint: "fix it first (`adsctl validate` shows every problem with its place)".into(),
        }),
    }
}

/// One account by name.
pub fn find<'a>(accounts: &'a [Account], name: &str) -> Result<&'a Account, AuthError> {
    accounts
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| AuthError::UnknownAccount {
            account: name.to_string(),
            known: accounts.iter().map(|a| a.name.clone()).collect(),
        })
}
