//! `--emulator` for Mailchimp: the audience (list) the in-process emulator is seeded with for an account (of the
//! emulator's well-known Mailchimp account), the connector with the emulator's well-known API key, and the
//! environment the auth stage sees.

use std::sync::Arc;

use super::{MailchimpConnector, MailchimpCredentials, McConfig};
use crate::connectors::{Connector, ConnectorError};
use crate::emulator::config::MailchimpListSeed;
use crate::emulator::mailchimp::MailchimpEmulator;
use crate::emulator::platform::defaults;
use crate::emulator::{EmulatorConfig, EmulatorHandle};
use crate::model::Account;

fn seed(a: &Account) -> MailchimpListSeed {
    MailchimpListSeed {
        id: Some(a.platform_id.clone()),
        name: a.name.clone(),
        members: Vec::new(),
    }
}

pub fn seed_config(config: &mut EmulatorConfig, a: &Account, _default_time_zone: &str) {
    // the well-known audience is there already
    if a.platform_id != defaults::MAILCHIMP_LIST_ID
        && !config
            .seed
            .mailchimp
            .lists
            .iter()
            .any(|l| l.id.as_deref() == Some(a.platform_id.as_str()))
    {
        config.seed.mailchimp.lists.push(seed(a));
    }
}

pub fn seed_running(h: &EmulatorHandle, a: &Account, _default_time_zone: &str) -> bool {
    match h.platforms().get::<MailchimpEmulator>() {
        Some(m) => {
            m.add_list(&seed(a));
            true
        }
        None => false,
    }
}

/// The emulator's well-known API key (its data center is the emulator's).
pub fn credentials() -> MailchimpCredentials {
    MailchimpCredentials::api_key(defaults::MAILCHIMP_API_KEY).expect("the well-known key names its data center")
}

pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    let creds = credentials();
    let cfg = McConfig::from_env(account, &creds)?;
    Ok(Arc::new(MailchimpConnector::with(account, cfg, creds)?))
}

/// The credential variables set to the emulator's values, and those that could point auth elsewhere (unset).
pub fn auth_env(name: &str) -> Option<Option<&'static str>> {
    Some(match name {
        "ADSCTL_MAILCHIMP_API_KEY" => Some(defaults::MAILCHIMP_API_KEY),
        "ADSCTL_MAILCHIMP_ACCESS_TOKEN" | "ADSCTL_MAILCHIMP_SERVER" | "ADSCTL_MAILCHIMP_ENDPOINT" => None,
        _ => return None,
    })
}
