//! `--emulator` for Google Ads: the customer the in-process emulator is seeded with for an account, the
//! connector authenticated with the emulator's well-known credentials, and the environment the auth stage sees.

use std::sync::Arc;

use super::config::{Credentials, StaticCredentials};
use super::GoogleAdsConnector;
use crate::connectors::{Connector, ConnectorError};
use crate::emulator::config::GoogleCustomerSeed;
use crate::emulator::google_ads::GoogleAdsEmulator;
use crate::emulator::platform::defaults;
use crate::emulator::{EmulatorConfig, EmulatorHandle};
use crate::model::Account;
use crate::secret::Secret;

fn seed(a: &Account, default_time_zone: &str) -> GoogleCustomerSeed {
    GoogleCustomerSeed {
        customer_id: a.platform_id.clone(),
        currency: a.currency.code().to_string(),
        time_zone: a.time_zone.clone().unwrap_or_else(|| default_time_zone.to_string()),
        descriptive_name: Some(a.name.clone()),
        manager: false,
        clients: Vec::new(),
    }
}

pub fn seed_config(config: &mut EmulatorConfig, a: &Account, default_time_zone: &str) {
    config.seed.google_ads.customers.push(seed(a, default_time_zone));
}

pub fn seed_running(h: &EmulatorHandle, a: &Account, default_time_zone: &str) -> bool {
    match h.platforms().get::<GoogleAdsEmulator>() {
        Some(g) => {
            g.add_customer(&seed(a, default_time_zone));
            true
        }
        None => false,
    }
}

pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    let creds = Credentials {
        client_id: defaults::GOOGLE_CLIENT_ID.to_string(),
        client_secret: Secret::new(defaults::GOOGLE_CLIENT_SECRET),
        developer_token: Secret::new(defaults::GOOGLE_DEVELOPER_TOKEN),
        refresh_token: Secret::new(defaults::GOOGLE_REFRESH_TOKEN),
        login_customer_id: None,
    };
    Ok(Arc::new(GoogleAdsConnector::new(
        account,
        Arc::new(StaticCredentials(creds)),
    )?))
}

/// The credential variables set to the emulator's values, and those that could point auth elsewhere (unset).
pub fn auth_env(name: &str) -> Option<Option<&'static str>> {
    use super::auth::env_names::*;
    Some(match name {
        GOOGLE_CLIENT_ID => Some(defaults::GOOGLE_CLIENT_ID),
        GOOGLE_CLIENT_SECRET => Some(defaults::GOOGLE_CLIENT_SECRET),
        GOOGLE_DEVELOPER_TOKEN => Some(defaults::GOOGLE_DEVELOPER_TOKEN),
        GOOGLE_REFRESH_TOKEN => Some(defaults::GOOGLE_REFRESH_TOKEN),
        GOOGLE_LOGIN_CUSTOMER_ID
        | "ADSCTL_GOOGLE_ADS_ENDPOINT"
        | "ADSCTL_GOOGLE_OAUTH_ENDPOINT"
        | "ADSCTL_GOOGLE_OAUTH_TOKEN_URL" => None,
        _ => return None,
    })
}
