//! LinkedIn campaign groups as YAML for `adsctl import`: campaigns with their targeting, budget, schedule and
//! bidding, and creatives, nested; the reverse of `lower.rs`.

use serde_yaml::{Mapping, Value as Yaml};

use crate::import::{map_insert, put_path, s, yaml_of, Tree};
use crate::model::{Account, Currency, Kind, Resource, Value};

/// `status` in the YAML's words (`active`, `paused`); a draft's is left out (adsctl's YAML has no draft: a
/// creative or campaign created without a status is one, and stays one).
fn status(m: &mut Mapping, r: &Resource) {
    let word = match r.fields.get("status").and_then(Value::as_str) {
        Some("active") => "active",
        Some("paused") => "paused",
        _ => return,
    };
    map_insert(m, "status", s(word));
}

/// Copy `fields` (resource name → YAML path) that are set (an empty targeting list or clause is LinkedIn saying
/// "none": left out, as the YAML would).
fn copy(m: &mut Mapping, r: &Resource, cur: Currency, fields: &[(&str, &str)]) {
    for (from, to) in fields {
        let empty = |v: &Value| match v {
            Value::Set(x) => x.is_empty(),
            Value::List(x) => x.is_empty(),
            Value::Map(x) => x.is_empty(),
            _ => false,
        };
        if let Some(v) = r.fields.get(from).filter(|v| !empty(v)) {
            put_path(m, to, yaml_of(v, cur));
        }
    }
}

fn creative(x: &Resource, cur: Currency) -> Yaml {
    let mut m = Mapping::new();
    map_insert(&mut m, "name", s(x.address.name().unwrap_or_default()));
    status(&mut m, x);
    copy(
        &mut m,
        x,
        cur,
        &[
            ("content.reference", "post"),
            ("leadgen_call_to_action.destination", "lead_form.destination"),
            ("leadgen_call_to_action.label", "lead_form.label"),
        ],
    );
    Yaml::Mapping(m)
}

fn campaign(c: &Resource, tree: &Tree, cur: Currency) -> Yaml {
    let mut m = Mapping::new();
    map_insert(&mut m, "name", s(c.address.name().unwrap_or_default()));
    status(&mut m, c);
    copy(
        &mut m,
        c,
        cur,
        &[
            ("type", "type"),
            ("objective_type", "objective"),
            ("format", "format"),
            ("cost_type", "cost_type"),
            ("unit_cost", "bid"),
            ("optimization_target_type", "optimization_target"),
            ("budget.daily", "budget.daily"),
            ("budget.lifetime", "budget.lifetime"),
            ("run_schedule.start", "schedule.start"),
            ("run_schedule.end", "schedule.end"),
            ("locale.country", "locale.country"),
            ("locale.language", "locale.language"),
            ("targeting.include", "targeting.include"),
            ("targeting.exclude", "targeting.exclude"),
            ("targeting.audiences", "targeting.audiences"),
            ("targeting.excluded_audiences", "targeting.excluded_audiences"),
            ("audience_expansion_enabled", "audience_expansion"),
            ("offsite_delivery_enabled", "offsite_delivery"),
            ("creative_selection", "creative_selection"),
        ],
    );
    let creatives: Vec<Yaml> = tree
        .children(&c.address, Kind::Creative)
        .into_iter()
        .map(|x| creative(x, cur))
        .collect();
    if !creatives.is_empty() {
        map_insert(&mut m, "creatives", Yaml::Sequence(creatives));
    }
    Yaml::Mapping(m)
}

/// A campaign group (the top of the tree) as an entry of `campaigns:`.
pub fn campaign_group(g: &Resource, tree: &Tree, account: &Account) -> Mapping {
    let cur = account.currency;
    let mut m = Mapping::new();
    map_insert(&mut m, "name", s(g.address.name().unwrap_or_default()));
    map_insert(&mut m, "account", s(&account.name));
    status(&mut m, g);
    copy(
        &mut m,
        g,
        cur,
        &[
            ("run_schedule.start", "schedule.start"),
            ("run_schedule.end", "schedule.end"),
            ("budget.lifetime", "budget.lifetime"),
        ],
    );
    let campaigns: Vec<Yaml> = tree
        .children(&g.address, Kind::Campaign)
        .into_iter()
        .map(|c| campaign(c, tree, cur))
        .collect();
    if !campaigns.is_empty() {
        map_insert(&mut m, "campaigns", Yaml::Sequence(campaigns));
    }
    m
}
