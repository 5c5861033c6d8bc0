//! TikTok campaigns as YAML for `adsctl import`: ad groups with their targeting, schedule and bidding, and ads,
//! nested; the reverse of `lower.rs` (TikTok's defaults that the lowering writes are left out again).

use serde_yaml::{Mapping, Value as Yaml};

use crate::import::{map_insert, put_path, s, yaml_of, Tree};
use crate::model::{Account, Currency, Kind, Resource, Value};

/// A budget (`budget.daily` or `budget.lifetime`) as `budget: { daily | lifetime }`.
fn budget(m: &mut Mapping, r: &Resource, cur: Currency) {
    for (field, key) in [("budget.daily", "daily"), ("budget.lifetime", "lifetime")] {
        if let Some(b) = r.fields.get(field) {
            let mut bm = Mapping::new();
            map_insert(&mut bm, key, yaml_of(b, cur));
            map_insert(m, "budget", Yaml::Mapping(bm));
        }
    }
}

/// `status` in the YAML's words (`enable` → `enabled`, `disable` → `paused`).
fn status(m: &mut Mapping, r: &Resource) {
    let word = match r.fields.get("status").and_then(Value::as_str) {
        Some("enable") => "enabled",
        Some("disable") => "paused",
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

fn ad(a: &Resource, cur: Currency) -> Yaml {
    let mut m = Mapping::new();
    map_insert(&mut m, "name", s(a.address.name().unwrap_or_default()));
    status(&mut m, a);
    copy(
        &mut m,
        a,
        cur,
        &[
            ("ad_format", "format"),
            ("ad_text", "text"),
            ("call_to_action", "call_to_action"),
            ("landing_page_url", "landing_page_url"),
            ("display_name", "display_name"),
            ("identity_type", "identity.type"),
            ("identity_id", "identity.id"),
            ("video_id", "video_id"),
            ("image_ids", "image_ids"),
        ],
    );
    Yaml::Mapping(m)
}

fn ad_group(g: &Resource, tree: &Tree, cur: Currency) -> Yaml {
    let mut m = Mapping::new();
    map_insert(&mut m, "name", s(g.address.name().unwrap_or_default()));
    status(&mut m, g);
    if g.fields.get("placement_type").and_then(Value::as_str) == Some("placement_type_normal") {
        copy(&mut m, g, cur, &[("placements", "placements")]);
    }
    copy(
        &mut m,
        g,
        cur,
        &[
            ("targeting.location_ids", "targeting.locations"),
            ("targeting.age_groups", "targeting.age_groups"),
            ("targeting.gender", "targeting.gender"),
            ("targeting.languages", "targeting.languages"),
            ("targeting.interest_category_ids", "targeting.interests"),
            ("targeting.audiences", "targeting.audiences"),
            ("targeting.excluded_audiences", "targeting.excluded_audiences"),
            ("schedule_start_time", "schedule.start"),
        ],
    );
    if g.fields.get("schedule_type").and_then(Value::as_str) == Some("schedule_start_end") {
        copy(&mut m, g, cur, &[("schedule_end_time", "schedule.end")]);
    }
    copy(
        &mut m,
        g,
        cur,
        &[
            ("optimization_goal", "optimization_goal"),
            ("billing_event", "billing_event"),
        ],
    );
    if g.fields.get("bid_type").and_then(Value::as_str) == Some("bid_type_custom") {
        copy(&mut m, g, cur, &[("bid_price", "bid")]);
    }
    copy(&mut m, g, cur, &[("pacing", "pacing")]);
    budget(&mut m, g, cur);
    let ads: Vec<Yaml> = tree
        .children(&g.address, Kind::Ad)
        .into_iter()
        .map(|a| ad(a, cur))
        .collect();
    if !ads.is_empty() {
        map_insert(&mut m, "ads", Yaml::Sequence(ads));
    }
    Yaml::Mapping(m)
}

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
            ("objective_type", "objective"),
            ("budget_optimize_on", "budget_optimization"),
            ("special_industries", "special_industries"),
        ],
    );
    budget(&mut m, c, cur);
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
