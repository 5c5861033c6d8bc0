//! `--emulator` for HubSpot: the portal the in-process emulator is seeded with for an account (the well-known
//! portal, or another with a private-app token of its own), the connector with that token, and the environment
//! the auth stage sees.

use std::sync::Arc;

use super::{HubSpotConfig, HubSpotConnector, HubSpotCredentials};
use crate::connectors::{Connector, ConnectorError};
use crate::emulator::config::HubSpotPortalSeed;
use crate::emulator::hubspot::HubSpotEmulator;
use crate::emulator::platform::defaults;
use crate::emulator::{EmulatorConfig, EmulatorHandle};
use crate::model::Account;

/// The private-app token of a portal in the emulator: the well-known one for the well-known portal, one derived
/// from the portal id for any other (tokens belong to one portal).
pub fn token(portal: &str) -> String {
    if portal == defaults::HUBSPOT_PORTAL_ID {
        defaults::HUBSPOT_PRIVATE_APP_TOKEN.to_string()
    } else {
        format!(
            "pat-na1-00000000-0000-4000-8000-{:0>12}",
            &portal[portal.len().saturating_sub(12)..]
        )
    }
}

pub fn seed_config(config: &mut EmulatorConfig, a: &Account) {
    let id = &a.platform_id;
    if id != defaults::HUBSPOT_PORTAL_ID && !config.seed.hubspot.portals.iter().any(|p| &p.portal_id == id) {
        config.seed.hubspot.portals.push(HubSpotPortalSeed {
            portal_id: id.clone(),
            private_app_tokens: vec![token(id)],
            ..Default::default()
        });
    }
}

pub fn seed_running(h: &EmulatorHandle, a: &Account) -> bool {
    match h.platforms().get::<HubSpotEmulator>() {
        Some(e) => {
            e.add_portal(&a.platform_id, &token(&a.platform_id));
            true
        }
        None => false,
    }
}

/// The connector with the portal's private-app token.
pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    let cfg = HubSpotConfig::from_env(account)?;
    let creds = HubSpotCredentials::token(token(&account.platform_id));
    Ok(Arc::new(HubSpotConnector::with(account, cfg, creds)?))
}

/// The credential variables set to the emulator's values, and those that could point auth elsewhere (unset).
pub fn auth_env(name: &str) -> Option<Option<&'static str>> {
    Some(match name {
        "ADSCTL_HUBSPOT_ACCESS_TOKEN" => Some(defaults::HUBSPOT_PRIVATE_APP_TOKEN),
        "ADSCTL_HUBSPOT_CLIENT_ID"
        | "ADSCTL_HUBSPOT_CLIENT_SECRET"
        | "ADSCTL_HUBSPOT_REFRESH_TOKEN"
        | "ADSCTL_HUBSPOT_ENDPOINT"
        | "ADSCTL_HUBSPOT_LOGIN_ENDPOINT" => None,
        _ => return None,
    })
}
