//! `--emulator` for LinkedIn: the ad account the in-process emulator is seeded with for an account, the connector
//! authenticated with the emulator's well-known token, and the environment the auth stage sees. Matched audiences
//! can take users at once there (LinkedIn asks to wait 5 s after creating one; the sandbox does not).

use std::sync::Arc;
use std::time::Duration;

use super::auth::LinkedInCredentials;
use super::config::LinkedInConfig;
use super::LinkedInConnector;
use crate::connectors::{Connector, ConnectorError};
use crate::emulator::config::LinkedInAccountSeed;
use crate::emulator::linkedin::LinkedInEmulator;
use crate::emulator::platform::defaults;
use crate::emulator::{EmulatorConfig, EmulatorHandle};
use crate::model::Account;

fn seed(a: &Account) -> LinkedInAccountSeed {
    LinkedInAccountSeed {
        id: super::account_id(&a.platform_id),
        currency: a.currency.code().to_string(),
        name: Some(a.name.clone()),
        role: None,
        reference: None,
    }
}

pub fn seed_config(config: &mut EmulatorConfig, a: &Account, _default_time_zone: &str) {
    config.seed.linkedin.ad_accounts.push(seed(a));
    config.seed.linkedin.segment_user_wait_ms = Some(0);
}

pub fn seed_running(h: &EmulatorHandle, a: &Account, _default_time_zone: &str) -> bool {
    match h.platforms().get::<LinkedInEmulator>() {
        Some(l) => {
            let s = seed(a);
            l.add_account(crate::emulator::linkedin::state::Account::new(
                &s.id,
                &s.currency,
                s.name.as_deref(),
            ));
            l.configure(|c| c.segment_user_wait = Duration::ZERO);
            true
        }
        None => false,
    }
}

pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    let mut cfg = LinkedInConfig::from_env(account)?;
    if std::env::var(super::config::SEGMENT_WAIT_ENV).is_err() {
        cfg.segment_wait = Duration::ZERO;
    }
    let creds = LinkedInCredentials::token(defaults::LINKEDIN_ACCESS_TOKEN);
    Ok(Arc::new(LinkedInConnector::with(account, cfg, creds)?))
}

/// The credential variables set to the emulator's values, and those that could point auth elsewhere (unset).
pub fn auth_env(name: &str) -> Option<Option<&'static str>> {
    use super::auth::env_names::*;
    Some(match name {
        ACCESS_TOKEN => Some(defaults::LINKEDIN_ACCESS_TOKEN),
        REFRESH_TOKEN => Some(defaults::LINKEDIN_REFRESH_TOKEN),
        CLIENT_ID => Some(defaults::LINKEDIN_CLIENT_ID),
        CLIENT_SECRET => Some(defaults::LINKEDIN_CLIENT_SECRET),
        ENDPOINT | OAUTH_ENDPOINT => None,
        _ => return None,
    })
}
