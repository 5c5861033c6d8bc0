//! X campaigns as YAML for `adsctl import`: ad groups with their bidding, budget, schedule, targeting criteria
//! and promoted posts, nested; the reverse of `lower.rs`.

use serde_yaml::{Mapping, Value as Yaml};

use crate::import::{map_insert, put_path, s, yaml_of, Tree};
use crate::model::{Account, Currency, Kind, Resource, Value};

/// `status` in the YAML's words (`active`, `paused`); a draft's is left out (adsctl's YAML has no draft).
fn status(m: &mut Mapping, r: &Resource) {
    let word = match r.fields.get("status").and_then(Value::as_str) {
        Some("active") => "active",
        Some("paused") => "paused",
        _ => return,
    };
    map_insert(m, "status", s(word));
}

/// Copy `fields` (resource name → YAML path) that are set.
fn copy(m: &mut Mapping, r: &Resource, cur: Currency, fields: &[(&str, &str)]) {
    for (from, to) in fields {
        if let Some(v) = r.fields.get(from) {
            put_path(m, to, yaml_of(v, cur));
        }
    }
}

/// A targeting criterion from its name (`<type>:<value>`, `not <type>:<value>`) and its audience reference.
fn criterion(t: &Resource) -> Option<Yaml> {
    let (ty, value, op) = super::mapping::parse_criterion_name(t.address.name()?)?;
    let ty = ty.to_ascii_lowercase();
    let mut m = Mapping::new();
    map_insert(&mut m, "type", s(&ty));
    match t.fields.get("audience") {
        Some(Value::Ref(a)) => map_insert(&mut m, "audience", s(a.name().unwrap_or(&value))),
        _ if ty.starts_with("custom_audience") => map_insert(&mut m, "audience", s(&value)),
        _ => map_insert(&mut m, "value", s(&value)),
    }
    if !op.eq_ignore_ascii_case("eq") {
        map_insert(&mut m, "operator", s(&op.to_ascii_lowercase()));
    }
    Some(Yaml::Mapping(m))
}

fn ad_group(g: &Resource, tree: &Tree, cur: Currency) -> Yaml {
    let mut m = Mapping::new();
    map_insert(&mut m, "name", s(g.address.name().unwrap_or_default()));
    status(&mut m, g);
    copy(
        &mut m,
        g,
        cur,
        &[
            ("objective", "objective"),
            ("product_type", "product_type"),
            ("placements", "placements"),
            ("bid_strategy", "bid_strategy"),
            ("bid", "bid"),
            ("goal", "goal"),
            ("pay_by", "pay_by"),
            ("budget.daily", "budget.daily"),
            ("budget.lifetime", "budget.lifetime"),
            ("start_time", "schedule.start"),
            ("end_time", "schedule.end"),
        ],
    );
    let criteria: Vec<Yaml> = tree
        .children(&g.address, Kind::TargetingCriterion)
        .into_iter()
        .filter_map(criterion)
        .collect();
    if !criteria.is_empty() {
        map_insert(&mut m, "targeting", Yaml::Sequence(criteria));
    }
    let posts: Vec<Yaml> = tree
        .children(&g.address, Kind::PromotedPost)
        .into_iter()
        .filter_map(|p| p.address.name().map(s))
        .collect();
    if !posts.is_empty() {
        map_insert(&mut m, "promoted_posts", Yaml::Sequence(posts));
    }
    Yaml::Mapping(m)
}

/// A campaign as an entry of `campaigns:`.
pub fn campaign(c: &Resource, tree: &Tree, account: &Account) -> Mapping {
    let cur = account.currency;
    let mut m = Mapping::new();
    map_insert(&mut m, "name", s(c.address.name().unwrap_or_default()));
    map_insert(&mut m, "account", s(&account.name));
    status(&mut m, c);
    copy(
        &mut m,
        c,
        cur,
        &[
            ("funding_instrument", "funding_instrument"),
            ("budget.daily", "budget.daily"),
            ("budget.lifetime", "budget.lifetime"),
        ],
    );
    let groups: Vec<Yaml> = tree
        .children(&c.address, Kind::AdGroup)
        .into_iter()
        .map(|g| ad_group(g, tree, cur))
        .collect();
    if !groups.is_empty() {
        map_insert(&mut m, "ad_groups", Yaml::Sequence(groups));
    }
    m
}
