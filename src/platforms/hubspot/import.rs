//! HubSpot campaigns as YAML for `adsctl import`; the reverse of `lower.rs`. The spend item is not imported
//! (adsctl writes it from the metrics of a mirrored ad campaign, which an import cannot know).

use serde_yaml::{Mapping, Value as Yaml};

use crate::import::{map_insert, s, yaml_of, Tree};
use crate::model::{Account, Resource, Value};

/// A campaign as an entry of `campaigns:`.
pub fn campaign(c: &Resource, _tree: &Tree, account: &Account) -> Mapping {
    let mut m = Mapping::new();
    map_insert(&mut m, "name", s(c.address.name().unwrap_or_default()));
    map_insert(&mut m, "account", s(&account.name));
    for f in ["start_date", "end_date", "notes", "owner", "color", "audience"] {
        match c.fields.get(f) {
            // a text the platform answers empty was never set: the YAML leaves it out
            Some(Value::Str(t)) if t.is_empty() => {}
            Some(v) => map_insert(&mut m, f, yaml_of(v, account.currency)),
            None => {}
        }
    }
    if let Some(Value::List(items)) = c.fields.get("budget_items") {
        let items: Vec<Yaml> = items
            .iter()
            .filter_map(|i| match i {
                Value::Map(x) => {
                    let mut y = Mapping::new();
                    map_insert(&mut y, "name", yaml_of(x.get("name")?, account.currency));
                    map_insert(&mut y, "amount", yaml_of(x.get("amount")?, account.currency));
                    Some(Yaml::Mapping(y))
                }
                _ => None,
            })
            .collect();
        if !items.is_empty() {
            map_insert(&mut m, "budget_items", Yaml::Sequence(items));
        }
    }
    m
}
