//! `--emulator` for Meta: the ad account the in-process emulator is seeded with for an account, the connector
//! authenticated with the emulator's well-known credentials, and the environment the auth stage sees.

use std::sync::Arc;

use super::config::{MetaConfig, MetaCredentials};
use super::MetaConnector;
use crate::connectors::{Connector, ConnectorError};
use crate::emulator::config::MetaAdAccountSeed;
use crate::emulator::meta::MetaEmulator;
use crate::emulator::platform::defaults;
use crate::emulator::{EmulatorConfig, EmulatorHandle};
use crate::model::Account;
use crate::secret::Secret;

fn seed(a: &Account, default_time_zone: &str) -> MetaAdAccountSeed {
    MetaAdAccountSeed {
        id: a.platform_id.clone(),
        currency: a.currency.code().to_string(),
        timezone_name: a.time_zone.clone().unwrap_or_else(|| default_time_zone.to_string()),
        name: Some(a.name.clone()),
    }
}

pub fn seed_config(config: &mut EmulatorConfig, a: &Account, default_time_zone: &str) {
    config.seed.meta.ad_accounts.push(seed(a, default_time_zone));
    // the product catalogs the YAML declares for the account (catalog ads): a merchant's, so seeded
    let catalogs = super::catalog::declared_catalogs(&a.platform_id);
    if !catalogs.is_empty() {
        let entry = config
            .seed
            .meta
            .extra
            .entry("product_catalogs".to_string())
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let serde_json::Value::Array(list) = entry {
            for id in catalogs {
                list.push(serde_json::json!({ "id": id, "name": format!("Catalog {id}") }));
            }
        }
    }
}

pub fn seed_running(h: &EmulatorHandle, a: &Account, default_time_zone: &str) -> bool {
    match h.platforms().get::<MetaEmulator>() {
        Some(m) => {
            let s = seed(a, default_time_zone);
            m.add_account(&s.id, &s.currency, &s.timezone_name, s.name.as_deref());
            for id in super::catalog::declared_catalogs(&a.platform_id) {
                m.add_catalog(&id, &format!("Catalog {id}"));
            }
            true
        }
        None => false,
    }
}

pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    let cfg = MetaConfig::from_env(account)?;
    let creds = MetaCredentials {
        app_id: Some(defaults::META_APP_ID.to_string()),
        app_secret: Some(Secret::new(defaults::META_APP_SECRET)),
        access_token: Secret::new(defaults::META_ACCESS_TOKEN),
    };
    Ok(Arc::new(MetaConnector::with(account, cfg, creds)?))
}

/// The credential variables set to the emulator's values, and those that could point auth elsewhere (unset).
pub fn auth_env(name: &str) -> Option<Option<&'static str>> {
    use super::auth::env_names::*;
    Some(match name {
        META_ACCESS_TOKEN => Some(defaults::META_ACCESS_TOKEN),
        META_APP_ID => Some(defaults::META_APP_ID),
        META_APP_SECRET => Some(defaults::META_APP_SECRET),
        "ADSCTL_META_ENDPOINT" | "ADSCTL_META_DIALOG_ENDPOINT" => None,
        _ => return None,
    })
}
