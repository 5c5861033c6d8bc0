//! Salesforce campaigns as YAML for `adsctl import`; the reverse of `lower.rs`. ActualCost is not imported
//! (adsctl writes it from the metrics of a mirrored ad campaign, which an import cannot know).

use serde_yaml::Mapping;

use crate::import::{map_insert, s, yaml_of, Tree};
use crate::model::{Account, Resource, Value};

/// A campaign as an entry of `campaigns:`.
pub fn campaign(c: &Resource, _tree: &Tree, account: &Account) -> Mapping {
    let mut m = Mapping::new();
    map_insert(&mut m, "name", s(c.address.name().unwrap_or_default()));
    map_insert(&mut m, "account", s(&account.name));
    match c.fields.get("status").and_then(Value::as_str) {
        Some("active") => map_insert(&mut m, "status", s("active")),
        Some("inactive") => map_insert(&mut m, "status", s("paused")),
        _ => {}
    }
    for f in [
        "campaign_status",
        "type",
        "start_date",
        "end_date",
        "budgeted_cost",
        "description",
    ] {
        match c.fields.get(f) {
            // a text the platform answers empty was never set: the YAML leaves it out
            Some(Value::Str(t)) if t.is_empty() => {}
            Some(v) => map_insert(&mut m, f, yaml_of(v, account.currency)),
            None => {}
        }
    }
    if let Some(Value::Ref(p)) = c.fields.get("parent") {
        if let Some(n) = p.name() {
            map_insert(&mut m, "parent", s(n));
        }
    }
    m
}
