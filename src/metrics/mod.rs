//! Performance metrics: pulled from each platform's connector, normalised into one row shape, kept as a
//! daily series in the state store, aggregated by period and rendered (table, CSV, JSON, self-contained HTML).
//!
//! - [`series`]: the daily series in the state store and the incremental pull planning (missing days, plus
//!   the days still inside the conversion lookback window when they were pulled).
//! - [`report`]: normalised rows (platform ids mapped back to YAML addresses), aggregation by day/week/month/total,
//!   derived ratios from exact sums, totals per account and per platform and currency.
//! - [`render`]: the output formats.
//!
//! Money stays in integer micros of the account currency; conversions are exact decimals; nothing is ever summed
//! across currencies.

pub mod arms;
pub mod live;
pub mod render;
pub mod report;
pub mod series;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::connectors::{ConnectorError, MetricsLevel};
use crate::state::StateError;

pub use report::{Bucket, Report, Row, Sums};
pub use series::{plan_pulls, sync_account, MemorySeries, SeriesStore, StoredDay, SyncOptions, SyncReport};

/// The level rows are reported at. `account` is pulled at campaign level and summed per account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Account,
    Campaign,
    AdGroup,
    Ad,
    /// The arms (cells) of the declared A/B tests: their ad sets' rows summed per arm.
    Arm,
}

impl Level {
    /// The connector level to pull (and store) for this report level.
    pub fn pull_level(self) -> MetricsLevel {
        match self {
            Level::Account | Level::Campaign => MetricsLevel::Campaign,
            Level::AdGroup | Level::Arm => MetricsLevel::AdGroup,
            Level::Ad => MetricsLevel::Ad,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Account => "account",
            Level::Campaign => "campaign",
            Level::AdGroup => "ad_group",
            Level::Ad => "ad",
            Level::Arm => "arm",
        }
    }
}

/// The name of a pull level in the series' keys.
pub fn pull_level_str(l: MetricsLevel) -> &'static str {
    match l {
        MetricsLevel::Campaign => "campaign",
        MetricsLevel::AdGroup => "ad_group",
        MetricsLevel::Ad => "ad",
    }
}

/// Errors of the metrics pipeline, by stage.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("account `{account}`: {source}")]
    Pull {
        account: String,
        #[source]
        source: ConnectorError,
    },
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the date range {since}..{until} ends before it starts")]
    Range { since: NaiveDate, until: NaiveDate },
    #[error("could not write the report: {0}")]
    Render(String),
}

impl MetricsError {
    pub fn hint(&self) -> Option<String> {
        match self {
            MetricsError::Pull { source, .. } => source.hint().map(str::to_string),
            MetricsError::State(e) => e.hint(),
            MetricsError::Range { .. } => Some("give --since on or before --until".into()),
            MetricsError::Render(_) => None,
        }
    }
}

/// The live field of an experiment (`Kind::Experiment`) that names its trial arm's campaign id.
pub const TRIAL_ARM_FIELD: &str = "trial_campaign_id";

/// Platform id → YAML address for one account: the id map in the state, `id:` pins in the YAML, and live objects
/// in the cached read whose address is one the YAML declares (a fresh state that has only been planned).
pub fn addresses(
    store: &dyn crate::state::StateStore,
    desired: &[crate::model::Resource],
    account: &str,
) -> Result<std::collections::HashMap<String, String>, StateError> {
    let mut out = std::collections::HashMap::new();
    let declared: std::collections::HashSet<&crate::model::Address> = desired
        .iter()
        .filter(|r| r.address.account == account)
        .map(|r| &r.address)
        .collect();
    if let Some(live) = store.cache_get(account)? {
        for r in live.resources.iter().filter(|r| declared.contains(&r.address)) {
            if let Some(id) = &r.id {
                out.insert(id.clone(), r.address.to_string());
            }
            // an experiment's trial arm runs as a campaign of its own: its rows are the arm's (the control arm's
            // are the base campaign's)
            if let Some(trial) = r.fields.get(TRIAL_ARM_FIELD).and_then(crate::model::Value::as_str) {
                out.insert(trial.to_string(), format!("{} [trial arm]", r.address));
            }
        }
    }
    for r in desired.iter().filter(|r| r.address.account == account) {
        if let Some(id) = &r.id {
            out.insert(id.clone(), r.address.to_string());
        }
    }
    for e in store.entries(Some(account))? {
        out.insert(e.id, e.address.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::model::{Address, Kind, Resource};
    use crate::state::{SledStore, StateEntry, StateStore};

    fn res(addr: &Address, id: Option<&str>) -> Resource {
        let mut r = Resource::new(addr.clone(), Kind::Campaign);
        r.id = id.map(str::to_string);
        r
    }

    #[test]
    fn ids_map_back_to_declared_addresses_only() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let acct = Address::account("acme");
        let (a, b, c, d) = (
            acct.child(Kind::Campaign, "A"),
            acct.child(Kind::Campaign, "B"),
            acct.child(Kind::Campaign, "C"),
            acct.child(Kind::Campaign, "Unmanaged"),
        );
        s.put_entry(&StateEntry {
            address: a.clone(),
            kind: Kind::Campaign,
            id: "1".into(),
            prevent_destroy: false,
            applied: Default::default(),
            updated_at: Utc::now(),
        })
        .unwrap();
        s.cache_put("acme", Utc::now(), None, &[res(&b, Some("2")), res(&d, Some("4"))])
            .unwrap();
        let desired = vec![res(&a, None), res(&b, None), res(&c, Some("3"))];
        let m = addresses(&s, &desired, "acme").unwrap();
        assert_eq!(m.get("1").map(String::as_str), Some("acme/campaign/A"));
        assert_eq!(m.get("2").map(String::as_str), Some("acme/campaign/B"));
        assert_eq!(m.get("3").map(String::as_str), Some("acme/campaign/C"));
        assert_eq!(
            m.get("4"),
            None,
            "a live object the YAML does not declare keeps its platform name"
        );
    }

    #[test]
    fn an_experiments_trial_campaign_is_its_trial_arm() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let acct = Address::account("acme");
        let base = acct.child(Kind::Campaign, "Search");
        let exp = acct.child(Kind::Experiment, "Bid test");
        let mut e = Resource::new(exp.clone(), Kind::Experiment);
        e.id = Some("7".into());
        e.fields.insert(TRIAL_ARM_FIELD, crate::model::Value::str("9"));
        s.cache_put("acme", Utc::now(), None, &[res(&base, Some("1")), e.clone()])
            .unwrap();
        let m = addresses(&s, &[res(&base, None), Resource::new(exp, Kind::Experiment)], "acme").unwrap();
        assert_eq!(m.get("1").map(String::as_str), Some("acme/campaign/Search"));
        assert_eq!(
            m.get("9").map(String::as_str),
            Some("acme/experiment/Bid test [trial arm]")
        );
    }
}
