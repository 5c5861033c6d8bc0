//! What adsctl last saw of each account's integration (`<state dir>/auth-health.json`, no secrets): the last
//! successful sync, validation, refresh, the last error (scrubbed) and whether the grant is known to be
//! revoked. Connectors and the engine report into it through [`super::Auth`]; `auth status` reads it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountHealth {
    pub last_sync: Option<DateTime<Utc>>,
    pub last_validation: Option<DateTime<Utc>>,
    pub last_refresh: Option<DateTime<Utc>>,
    /// Set when the platform said the grant is revoked / the token invalid; cleared by a new login, a
    /// successful refresh or validation.
    pub invalid: Option<String>,
    pub last_error: Option<ErrorNote>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorNote {
    pub at: DateTime<Utc>,
    /// Already scrubbed ([`crate::secret::scrub`]).
    pub message: String,
}

pub struct HealthBook {
    path: PathBuf,
}

impl HealthBook {
    pub fn at(state_dir: &Path) -> HealthBook {
        HealthBook {
            path: state_dir.join("auth-health.json"),
        }
    }

    /// Everything recorded; an unreadable file reads as empty (it is only a record, never a reason to fail).
    pub fn read(&self) -> BTreeMap<String, AccountHealth> {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    pub fn get(&self, account: &str) -> AccountHealth {
        self.read().remove(account).unwrap_or_default()
    }

    /// Change one account's record. Failing to write is logged, not returned: health is advisory.
    pub fn update(&self, account: &str, f: impl FnOnce(&mut AccountHealth)) {
        self.rewrite(|all| {
            f(all.entry(account.to_string()).or_default());
            true
        });
    }

    pub fn remove(&self, account: &str) {
        self.rewrite(|all| all.remove(account).is_some());
    }

    /// Read, change and atomically replace the file under an exclusive lock, so that concurrent writers (the
    /// daemon's accounts, `auth status` beside a running `watch`) never lose each other's records.
    fn rewrite(&self, change: impl FnOnce(&mut BTreeMap<String, AccountHealth>) -> bool) {
        let res = (|| -> std::io::Result<()> {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(self.path.with_extension("json.lock"))?;
            lock.lock()?;
            let mut all = self.read();
            if change(&mut all) {
                let tmp = self.path.with_extension("json.tmp");
                std::fs::write(&tmp, serde_json::to_vec_pretty(&all).unwrap_or_default())?;
                std::fs::rename(&tmp, &self.path)?;
            }
            lock.unlock()
        })();
        if let Err(e) = res {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot record integration health");
        }
    }
}
