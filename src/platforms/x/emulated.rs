//! `--emulator` for X: the ads account (and its funding instrument) the in-process emulator is seeded with for an
//! account, the connector signing with the emulator's well-known consumer and user tokens, and the environment
//! the auth stage sees. An account's funding instrument there is the well-known one for the emulator's own
//! account (`18ce54d4x5t` → `lygyi`) and `f` + the first eight characters of the account id for any other.

use std::sync::Arc;

use super::auth::XCredentials;
use super::config::XConfig;
use super::XConnector;
use crate::connectors::{Connector, ConnectorError};
use crate::emulator::config::XAccountSeed;
use crate::emulator::platform::defaults;
use crate::emulator::x::XEmulator;
use crate::emulator::{EmulatorConfig, EmulatorHandle};
use crate::model::Account;

fn seed(a: &Account, default_time_zone: &str) -> XAccountSeed {
    XAccountSeed {
        id: a.platform_id.clone(),
        name: Some(a.name.clone()),
        timezone: a.time_zone.clone().unwrap_or_else(|| default_time_zone.to_string()),
        currency: a.currency.code().to_string(),
        funding_instrument_id: None,
        funding_instrument_type: None,
    }
}

pub fn seed_config(config: &mut EmulatorConfig, a: &Account, default_time_zone: &str) {
    // the well-known account is there already (with its funding instrument)
    if a.platform_id != defaults::X_ACCOUNT_ID && !config.seed.x.accounts.iter().any(|s| s.id == a.platform_id) {
        config.seed.x.accounts.push(seed(a, default_time_zone));
    }
}

pub fn seed_running(h: &EmulatorHandle, a: &Account, default_time_zone: &str) -> bool {
    match h.platforms().get::<XEmulator>() {
        Some(x) => {
            x.add_account(&seed(a, default_time_zone));
            true
        }
        None => false,
    }
}

pub fn credentials() -> XCredentials {
    XCredentials::new(
        defaults::X_CONSUMER_KEY,
        defaults::X_CONSUMER_SECRET,
        defaults::X_ACCESS_TOKEN,
        defaults::X_TOKEN_SECRET,
    )
}

pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    let cfg = XConfig::from_env(account)?;
    Ok(Arc::new(XConnector::with(account, cfg, credentials())?))
}

/// The credential variables set to the emulator's values, and those that could point auth elsewhere (unset).
pub fn auth_env(name: &str) -> Option<Option<&'static str>> {
    use super::auth::env_names::*;
    Some(match name {
        CONSUMER_KEY => Some(defaults::X_CONSUMER_KEY),
        CONSUMER_SECRET => Some(defaults::X_CONSUMER_SECRET),
        ACCESS_TOKEN => Some(defaults::X_ACCESS_TOKEN),
        TOKEN_SECRET => Some(defaults::X_TOKEN_SECRET),
        ENDPOINT => None,
        _ => return None,
    })
}
