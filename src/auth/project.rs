//! The accounts of a config directory, for the auth commands.
//!
//! Reads only the `accounts:` map of `adsctl.yaml` (platform, customer_id / ad_account_id, login_customer_id,
//! currency, endpoint), so that `adsctl auth` works on a repository whose campaigns do not validate yet.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::AuthError;
use crate::model::{Account, Currency, Guardrails, Platform, RemovalPolicy};

#[derive(Deserialize)]
struct Root {
    #[serde(default)]
    accounts: std::collections::BTreeMap<String, RawAccount>,
}

#[derive(Deserialize)]
struct RawAccount {
    platform: Platform,
    customer_id: Option<serde_yaml::Value>,
    ad_account_id: Option<serde_yaml::Value>,
    login_customer_id: Option<serde_yaml::Value>,
    currency: Option<String>,
    time_zone: Option<String>,
    endpoint: Option<String>,
}

fn text(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

fn config_err(path: &Path, message: impl std::fmt::Display) -> AuthError {
    AuthError::Config {
        message: format!("{}: {message}", path.display()),
        hint: "run `adsctl validate` for a full report".into(),
    }
}

/// The project root (`dir`) and its accounts.
pub fn load_accounts(dir: &Path) -> Result<(PathBuf, Vec<Account>), AuthError> {
    let path = dir.join("adsctl.yaml");
    let text_in = std::fs::read_to_string(&path).map_err(|e| AuthError::Config {
        message: format!("cannot read {}: {e}", path.display()),
        hint: "run the command in the directory holding adsctl.yaml, or pass --dir".into(),
    })?;
    let root: Root = serde_yaml::from_str(&text_in).map_err(|e| config_err(&path, e))?;
    let mut out = Vec::new();
    for (name, raw) in root.accounts {
        let platform_id = match raw.platform {
            Platform::GoogleAds => raw.customer_id.as_ref().map(text).map(|s| s.replace('-', "")),
            Platform::Meta => {
                raw.ad_account_id
                    .as_ref()
                    .map(text)
                    .map(|s| if s.starts_with("act_") { s } else { format!("act_{s}") })
            }
            _ => raw.customer_id.as_ref().or(raw.ad_account_id.as_ref()).map(text),
        }
        .unwrap_or_default();
        let currency = match raw.currency.as_deref() {
            Some(c) => Currency::from_code(c).map_err(|e| config_err(&path, format!("account {name}: {e}")))?,
            None => Currency::from_code("USD").map_err(|e| config_err(&path, e))?,
        };
        out.push(Account {
            name,
            platform: raw.platform,
            platform_id,
            login_customer_id: raw.login_customer_id.as_ref().map(text).map(|s| s.replace('-', "")),
            currency,
            time_zone: raw.time_zone,
            on_removed: RemovalPolicy::default(),
            guardrails: Guardrails::default(),
            endpoint: raw.endpoint,
        });
    }
    Ok((dir.to_path_buf(), out))
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
