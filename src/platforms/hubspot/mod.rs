//! HubSpot, the platform's home: the connector for the date-versioned public API (wire modules) and the home's
//! registry entry, YAML types, lowering, import and `--emulator` seeding (`home.rs`, `yaml.rs`, `lower.rs`,
//! `import.rs`, `emulated.rs`).

pub mod emulated;
pub mod home;
pub mod import;
pub mod lower;
pub mod yaml;

// ---- until the connector lands (the wire side is written beside this, from the same contract)

use std::sync::Arc;

use crate::connectors::{Capabilities, Connector, ConnectorError};
use crate::model::{Account, Kind};

pub fn capabilities() -> Capabilities {
    Capabilities {
        max_ops_per_request: 50,
        creates_children_in_one_request: false,
        ordered_requests: false,
        marked_kinds: vec![Kind::Audience, Kind::Campaign],
        immutable_fields: Default::default(),
        swapped_fields: Default::default(),
        write_only_fields: Default::default(),
        renamable_kinds: vec![Kind::Audience, Kind::Campaign],
        paused_status: "paused",
        settled_statuses: &["completed"],
    }
}

pub fn connector(account: &Account) -> Result<Arc<dyn Connector>, ConnectorError> {
    Err(ConnectorError::Config(format!(
        "account `{}`: the HubSpot connector is not built yet",
        account.name
    )))
}

pub fn connector_with_token(account: &Account, _token: &str) -> Result<Arc<dyn Connector>, ConnectorError> {
    connector(account)
}

pub fn home_auth() -> Option<&'static dyn crate::auth::PlatformAuth> {
    None
}
