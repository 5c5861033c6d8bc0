//! `--emulator`: run a command against the emulator started in this process instead of the real platforms.
//!
//! The emulator keeps its state in `<state dir>/emulator.json` (restored at start, saved when the command ends,
//! whether it succeeded or not), so a second `adsctl plan --emulator` sees what the first `apply --emulator` made.
//! Every account of the project is pointed at it and authenticates with the emulator's well-known credentials
//! (`emulator::platform::defaults`), which are never printed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::CommandError;
use crate::connectors::google_ads::config::{Credentials, StaticCredentials};
use crate::connectors::google_ads::GoogleAdsConnector;
use crate::connectors::meta::config::{MetaConfig, MetaCredentials};
use crate::connectors::meta::MetaConnector;
use crate::connectors::{Connector, ConnectorError};
use crate::emulator::config::{GoogleCustomerSeed, MetaAdAccountSeed};
use crate::emulator::platform::defaults;
use crate::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use crate::model::{Account, Address, Platform};
use crate::secret::Secret;
use crate::spec::Project;

/// The file under the state directory holding the emulator's state.
pub const DATA_FILE: &str = "emulator.json";

/// A running in-process emulator. Dropping it saves its state.
pub struct Emulated {
    handle: Option<EmulatorHandle>,
}

impl Emulated {
    /// Start the emulator (inside `rt`), seeded with the project's accounts, and point every account at it.
    pub fn start(
        rt: &tokio::runtime::Runtime,
        project: &mut Project,
        state_dir: &Path,
    ) -> Result<Emulated, CommandError> {
        std::fs::create_dir_all(state_dir).map_err(|e| {
            CommandError::new(format!(
                "could not create the state directory {}: {e}",
                state_dir.display()
            ))
        })?;
        let data = state_dir.join(DATA_FILE);
        let mut config = EmulatorConfig {
            data: Some(data.clone()),
            ..EmulatorConfig::default()
        };
        for a in project.accounts.values() {
            match a.platform {
                Platform::GoogleAds => config.seed.google_ads.customers.push(GoogleCustomerSeed {
                    customer_id: a.platform_id.clone(),
                    currency: a.currency.code().to_string(),
                    time_zone: a.time_zone.clone().unwrap_or_else(|| "America/New_York".to_string()),
                    descriptive_name: Some(a.name.clone()),
                    manager: false,
                    clients: Vec::new(),
                }),
                Platform::Meta => config.seed.meta.ad_accounts.push(MetaAdAccountSeed {
                    id: a.platform_id.clone(),
                    currency: a.currency.code().to_string(),
                    timezone_name: a.time_zone.clone().unwrap_or_else(|| "America/New_York".to_string()),
                    name: Some(a.name.clone()),
                }),
                _ => {}
            }
        }
        let handle = rt.block_on(Emulator::start(config)).map_err(|e| {
            CommandError::new(format!("could not start the emulator: {e}")).with_hint(format!(
                "{}; or move {} away to start from an empty emulator",
                e.hint(),
                data.display()
            ))
        })?;
        let url = handle.url();
        for a in project.accounts.values_mut() {
            a.endpoint = Some(url.clone());
            // The emulator knows no manager accounts unless seeded with them.
            a.login_customer_id = None;
        }
        tracing::info!("emulator listening on {url}, state in {}", data.display());
        Ok(Emulated { handle: Some(handle) })
    }
}

impl Drop for Emulated {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            if let Err(e) = h.persist() {
                eprintln!("warning: could not save the emulator's state: {e}");
            }
        }
    }
}

/// Connectors for the accounts a command concerns, authenticated with the emulator's well-known credentials.
/// The accounts must already point at the emulator ([`Emulated::start`]).
pub fn connectors(
    project: &Project,
    targets: &[Address],
) -> Result<BTreeMap<String, Arc<dyn Connector>>, CommandError> {
    let mut out = BTreeMap::new();
    for a in project.accounts.values() {
        if !targets.is_empty() && !targets.iter().any(|t| t.account == a.name) {
            continue;
        }
        out.insert(a.name.clone(), connector(a).map_err(connector_error)?);
    }
    Ok(out)
}

/// One account's connector against the emulator.
pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    match account.platform {
        Platform::GoogleAds => {
            let creds = Credentials {
                client_id: defaults::GOOGLE_CLIENT_ID.to_string(),
                client_secret: Secret::new(defaults::GOOGLE_CLIENT_SECRET),
                developer_token: Secret::new(defaults::GOOGLE_DEVELOPER_TOKEN),
                refresh_token: Secret::new(defaults::GOOGLE_REFRESH_TOKEN),
                login_customer_id: None,
            };
            let c = GoogleAdsConnector::new(account, Arc::new(StaticCredentials(creds)))?;
            Ok(Arc::new(c))
        }
        Platform::Meta => {
            let cfg = MetaConfig::from_env(account)?;
            let creds = MetaCredentials {
                app_id: Some(defaults::META_APP_ID.to_string()),
                app_secret: Some(Secret::new(defaults::META_APP_SECRET)),
                access_token: Secret::new(defaults::META_ACCESS_TOKEN),
            };
            Ok(Arc::new(MetaConnector::with(account, cfg, creds)?))
        }
        other => Err(ConnectorError::Config(format!(
            "account `{}`: the emulator has no {other} platform",
            account.name
        ))),
    }
}

fn connector_error(e: ConnectorError) -> CommandError {
    let hint = e.hint().map(str::to_string);
    let err = CommandError::new(e.to_string());
    match hint {
        Some(h) => err.with_hint(h),
        None => err,
    }
}
