//! Which connector serves an account.
//!
//! `ADSCTL_BACKEND=memory:FILE` selects the offline sandbox: every account is served by the in-memory platform
//! kept in the JSON file `FILE` (see `connectors::memory`). Otherwise the account's platform decides.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::memory::MemoryConnector;
use super::{Connector, ConnectorError};
use crate::model::{Account, Platform};

/// The environment variable selecting a backend other than the real platforms.
pub const BACKEND_ENV: &str = "ADSCTL_BACKEND";

type Shared = HashMap<(PathBuf, Platform), Arc<MemoryConnector>>;

fn memory(path: PathBuf, platform: Platform) -> Result<Arc<dyn Connector>, ConnectorError> {
    static SHARED: OnceLock<Mutex<Shared>> = OnceLock::new();
    let mut map = SHARED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    // Every account of every platform shares one data set per file, so parallel accounts never overwrite
    // each other's writes.
    if let Some(c) = map.get(&(path.clone(), platform)) {
        return Ok(c.clone());
    }
    let c = match map.iter().find(|((p, _), _)| *p == path) {
        Some((_, other)) => Arc::new(other.sibling(platform)),
        None => Arc::new(MemoryConnector::open_file(platform, &path)?),
    };
    map.insert((path, platform), c.clone());
    Ok(c)
}

/// The connector for an account.
pub fn connector_for(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    if let Some(backend) = std::env::var_os(BACKEND_ENV).filter(|v| !v.is_empty()) {
        let backend = backend.to_string_lossy().into_owned();
        return match backend.strip_prefix("memory:") {
            Some(file) if !file.is_empty() => memory(PathBuf::from(file), account.platform),
            _ => Err(ConnectorError::Config(format!(
                "{BACKEND_ENV}=`{backend}` is not understood; the only alternative backend is `memory:FILE`"
            ))),
        };
    }
    match account.platform {
        Platform::GoogleAds => super::google_ads::connector(account),
        Platform::Meta => super::meta::connector(account),
        other => Err(ConnectorError::Config(format!(
            "account `{}`: platform {other} has no connector yet",
            account.name
        ))),
    }
}
