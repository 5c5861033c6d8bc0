//! `--emulator` for Salesforce: the org the in-process emulator is seeded with for an account (the well-known org,
//! or another with an integration user of its own), the connector with that user's refresh token, and the
//! environment the auth stage sees.

use std::sync::Arc;

use super::{SalesforceConfig, SalesforceConnector, SalesforceCredentials};
use crate::connectors::{Connector, ConnectorError};
use crate::emulator::platform::defaults;
use crate::emulator::salesforce::seed::{SalesforceOrgSeed, SalesforceUserSeed};
use crate::emulator::salesforce::SalesforceEmulator;
use crate::emulator::{EmulatorConfig, EmulatorHandle};
use crate::model::Account;

/// The refresh token of an org's integration user in the emulator: the well-known one for the well-known org,
/// one derived from the org id for any other (a refresh token belongs to one user of one org).
pub fn refresh_token(org: &str) -> String {
    if org == defaults::SALESFORCE_ORG_ID {
        defaults::SALESFORCE_REFRESH_TOKEN.to_string()
    } else {
        format!("5Aep861emulator{org}")
    }
}

fn seed(a: &Account) -> SalesforceOrgSeed {
    SalesforceOrgSeed {
        org_id: a.platform_id.clone(),
        adsctl_key_field: true,
        adsctl_key_unique: true,
        daily_api_limit: None,
        users: vec![SalesforceUserSeed {
            username: format!(
                "integration@{}.adsctl-emulator.example",
                a.platform_id.to_ascii_lowercase()
            ),
            user_id: None,
            marketing_user: true,
            api_enabled: true,
            jwt_preauthorized: true,
            view_all_data: false,
            refresh_tokens: vec![refresh_token(&a.platform_id)],
        }],
        contacts: Vec::new(),
        leads: Vec::new(),
        campaigns: Vec::new(),
    }
}

pub fn seed_config(config: &mut EmulatorConfig, a: &Account) {
    let id = &a.platform_id;
    if id != defaults::SALESFORCE_ORG_ID && !config.seed.salesforce.orgs.iter().any(|o| &o.org_id == id) {
        config.seed.salesforce.orgs.push(seed(a));
    }
}

pub fn seed_running(h: &EmulatorHandle, a: &Account) -> bool {
    match h.platforms().get::<SalesforceEmulator>() {
        Some(e) => {
            if a.platform_id != defaults::SALESFORCE_ORG_ID {
                e.add_org(&seed(a));
            }
            true
        }
        None => false,
    }
}

/// The connector with the well-known app and the org's integration user's refresh token.
pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    let cfg = SalesforceConfig::from_env(account)?;
    let creds = SalesforceCredentials::refreshable(
        &refresh_token(&account.platform_id),
        defaults::SALESFORCE_CLIENT_ID,
        Some(defaults::SALESFORCE_CLIENT_SECRET),
    );
    Ok(Arc::new(SalesforceConnector::with(account, cfg, creds)?))
}

/// The credential variables set to the emulator's values, and those that could point auth elsewhere (unset).
pub fn auth_env(name: &str) -> Option<Option<&'static str>> {
    Some(match name {
        "ADSCTL_SALESFORCE_CLIENT_ID" => Some(defaults::SALESFORCE_CLIENT_ID),
        "ADSCTL_SALESFORCE_CLIENT_SECRET" => Some(defaults::SALESFORCE_CLIENT_SECRET),
        "ADSCTL_SALESFORCE_REFRESH_TOKEN" => Some(defaults::SALESFORCE_REFRESH_TOKEN),
        "ADSCTL_SALESFORCE_ACCESS_TOKEN"
        | "ADSCTL_SALESFORCE_INSTANCE_URL"
        | "ADSCTL_SALESFORCE_LOGIN_URL"
        | "ADSCTL_SALESFORCE_USERNAME"
        | "ADSCTL_SALESFORCE_PRIVATE_KEY_FILE" => None,
        _ => return None,
    })
}
