//! `--emulator` for TikTok: the advertiser the in-process emulator is seeded with for an account, the connector
//! authenticated with the emulator's well-known long-lived token, and the environment the auth stage sees.

use std::sync::Arc;

use super::auth::TikTokCredentials;
use super::config::TikTokConfig;
use super::TikTokConnector;
use crate::connectors::{Connector, ConnectorError};
use crate::emulator::config::TikTokAdvertiserSeed;
use crate::emulator::platform::defaults;
use crate::emulator::tiktok::TikTokEmulator;
use crate::emulator::{EmulatorConfig, EmulatorHandle};
use crate::model::Account;

fn seed(a: &Account, default_time_zone: &str) -> TikTokAdvertiserSeed {
    TikTokAdvertiserSeed {
        advertiser_id: a.platform_id.clone(),
        currency: a.currency.code().to_string(),
        timezone: a.time_zone.clone().unwrap_or_else(|| default_time_zone.to_string()),
        name: Some(a.name.clone()),
    }
}

pub fn seed_config(config: &mut EmulatorConfig, a: &Account, default_time_zone: &str) {
    config.seed.tiktok.advertisers.push(seed(a, default_time_zone));
}

pub fn seed_running(h: &EmulatorHandle, a: &Account, default_time_zone: &str) -> bool {
    match h.platforms().get::<TikTokEmulator>() {
        Some(t) => {
            let s = seed(a, default_time_zone);
            t.add_advertiser(&s.advertiser_id, &s.currency, &s.timezone, s.name.as_deref());
            true
        }
        None => false,
    }
}

pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    let cfg = TikTokConfig::from_env(account)?;
    let creds = TikTokCredentials::token(defaults::TIKTOK_ACCESS_TOKEN);
    Ok(Arc::new(TikTokConnector::with(account, cfg, creds)?))
}

/// The credential variables set to the emulator's values, and those that could point auth elsewhere (unset).
pub fn auth_env(name: &str) -> Option<Option<&'static str>> {
    use super::auth::env_names::*;
    Some(match name {
        TIKTOK_ACCESS_TOKEN => Some(defaults::TIKTOK_ACCESS_TOKEN),
        TIKTOK_APP_ID => Some(defaults::TIKTOK_APP_ID),
        TIKTOK_APP_SECRET => Some(defaults::TIKTOK_APP_SECRET),
        ENDPOINT | PORTAL_ENDPOINT => None,
        _ => return None,
    })
}
