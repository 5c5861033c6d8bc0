//! `--emulator`: run a command against the emulator started in this process instead of the real platforms.
//!
//! Every command that talks to a platform takes it: `plan`, `apply`, `watch`, `metrics`, `import`,
//! `auth status` and `auth validate`. The emulator keeps its state in `<state dir>/emulator.json` (the state
//! directory of the project, `.adsctl/` or `ADSCTL_STATE_DIR`, beside adsctl's own state): restored at start;
//! saved every few seconds and when the command ends (whether it succeeded or not) by `plan`, `apply` and
//! `watch`, never by the read-only `metrics`, `import` and `auth` commands, so that a second
//! `adsctl plan --emulator` sees what the first `apply --emulator` made. Every account of the project is pointed at it and authenticates with
//! the emulator's well-known credentials (`emulator::platform::defaults`), which are never printed; the token
//! vault is not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use super::CommandError;
use crate::auth::EnvFn;
use crate::connectors::{Connector, ConnectorError};
use crate::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use crate::model::{Account, Address};
use crate::spec::Project;

/// The file under the state directory holding the emulator's state.
pub const DATA_FILE: &str = "emulator.json";

/// Whether the command may change the emulator's accounts (and so saves its state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persist {
    /// Saved every few seconds and when the command ends (`plan`, `apply`, `watch`).
    Yes,
    /// Restored, never saved (`metrics`, `import`, `auth`: their reads must not overwrite what an `apply` or a
    /// `watch` running next to them saves).
    No,
}

/// A running in-process emulator. Dropping it saves its state (unless started with [`Persist::No`]).
pub struct Emulated {
    handle: Option<EmulatorHandle>,
    persist: Persist,
    url: String,
    /// The accounts it was seeded with (by name), so that accounts added later can be seeded too.
    seeded: parking_lot::Mutex<BTreeSet<String>>,
    /// Saved for the last time ([`Emulated::finish`]): `Drop` does not save again.
    finished: std::sync::atomic::AtomicBool,
}

const DEFAULT_TIME_ZONE: &str = "America/New_York";

impl Emulated {
    /// Start the emulator (inside `rt`), seeded with the project's accounts, and point every account at it. Its
    /// state is saved (see [`Emulated`]).
    pub fn start(
        rt: &tokio::runtime::Runtime,
        project: &mut Project,
        state_dir: &Path,
    ) -> Result<Emulated, CommandError> {
        Self::start_with(rt, project, state_dir, Persist::Yes)
    }

    /// Started for `project`, its state in the project's state directory (`.adsctl/` or `ADSCTL_STATE_DIR`).
    pub fn for_project(
        rt: &tokio::runtime::Runtime,
        project: &mut Project,
        persist: Persist,
    ) -> Result<Emulated, CommandError> {
        let state_dir = crate::state::state_dir(&project.root);
        Self::start_with(rt, project, &state_dir, persist)
    }

    /// [`Emulated::start`], saving the state or not.
    pub fn start_with(
        rt: &tokio::runtime::Runtime,
        project: &mut Project,
        state_dir: &Path,
        persist: Persist,
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
        if persist == Persist::No {
            // Restored from `data` at start; the periodic save never comes, and `Drop` does not save.
            config.persist_interval = NEVER;
        }
        let mut seeded = BTreeSet::new();
        for a in project.accounts.values() {
            let Some(home) = crate::platforms::home(a.platform) else {
                continue;
            };
            home.seed_emulator(&mut config, a, DEFAULT_TIME_ZONE);
            seeded.insert(a.name.clone());
        }
        let handle = rt.block_on(Emulator::start(config)).map_err(|e| {
            CommandError::new(format!("could not start the emulator: {e}")).with_hint(format!(
                "{}; or move {} away to start from an empty emulator",
                e.hint(),
                data.display()
            ))
        })?;
        let url = handle.url();
        point_at(project.accounts.values_mut(), &url);
        tracing::info!("emulator listening on {url}, state in {}", data.display());
        Ok(Emulated {
            handle: Some(handle),
            persist,
            url,
            seeded: parking_lot::Mutex::new(seeded),
            finished: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Save the emulator's state now (a no-op for [`Persist::No`]).
    pub fn persist(&self) {
        if self.persist == Persist::No {
            return;
        }
        if let Some(h) = &self.handle {
            if let Err(e) = h.persist() {
                tracing::warn!("could not save the emulator's state: {e}");
            }
        }
    }

    /// Save the state for the last time (before the state lock is released); `Drop` then saves nothing.
    pub fn finish(&self) {
        self.persist();
        self.finished.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Seed the accounts the emulator does not know yet (an account added to adsctl.yaml while `watch` runs),
    /// with the currency and time zone the YAML declares.
    pub fn seed_new<'a>(&self, accounts: impl IntoIterator<Item = &'a Account>) {
        let Some(h) = &self.handle else { return };
        let mut seeded = self.seeded.lock();
        for a in accounts {
            if seeded.contains(&a.name) {
                continue;
            }
            let home = crate::platforms::home(a.platform);
            if !home.is_some_and(|home| home.seed_running_emulator(h, a, DEFAULT_TIME_ZONE)) {
                continue;
            }
            seeded.insert(a.name.clone());
        }
    }
}

/// A save interval that never comes (a read-only command's emulator).
const NEVER: std::time::Duration = std::time::Duration::from_secs(10 * 365 * 24 * 3600);

/// Point accounts at the emulator at `url` (the emulator knows no manager accounts unless seeded with them).
pub fn point_at<'a>(accounts: impl IntoIterator<Item = &'a mut Account>, url: &str) {
    for a in accounts {
        a.endpoint = Some(url.to_string());
        a.login_customer_id = None;
    }
}

impl Drop for Emulated {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            if self.persist == Persist::No || self.finished.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            if let Err(e) = h.persist() {
                eprintln!("warning: could not save the emulator's state: {e}");
            }
        }
    }
}

/// The environment the auth stage sees under `--emulator`: the emulator's well-known credentials under the
/// names adsctl reads (`GOOGLE_ADS_*`, `FACEBOOK_*`), the environment as the only source (a vault's real tokens
/// are never sent to the emulator, nor marked invalid by it), everything else from the process environment.
pub fn auth_env() -> EnvFn {
    Arc::new(|name: &str| {
        if name == crate::auth::env_names::AUTH_SOURCE {
            return Some("env".to_string());
        }
        // Nothing may point the auth stage anywhere but the emulator (the accounts' `endpoint`).
        match crate::platforms::HOMES.iter().find_map(|h| h.emulated_auth_env(name)) {
            Some(v) => v.map(str::to_string),
            None => std::env::var(name).ok(),
        }
    })
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
        out.insert(a.name.clone(), connector(a)?);
    }
    Ok(out)
}

/// One account's connector against the emulator.
pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    match crate::platforms::home(account.platform) {
        Some(home) => home.emulated_connector(account),
        None => Err(ConnectorError::Config(format!(
            "account `{}`: the emulator has no {} platform",
            account.name, account.platform
        ))),
    }
}
