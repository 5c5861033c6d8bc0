//! Spend impact: total daily and lifetime budgets of an account before and after a plan.

use std::collections::BTreeMap;

use super::{Action, Change, SpendImpact};
use crate::model::{Address, Kind, Money, Resource, SmallMap, Value};

/// Budget-carrying fields: campaign, ad set and ad group budgets, shared budget amounts (all daily). A paused object
/// (`paused`: the platform's word for it) spends nothing.
fn budgets(kind: Kind, fields: &SmallMap, paused: &str) -> (Money, Money) {
    if fields.get("status") == Some(&Value::str(paused)) {
        return (Money::ZERO, Money::ZERO);
    }
    let get = |f: &str| fields.get(f).and_then(Value::as_money).unwrap_or(Money::ZERO);
    match kind {
        Kind::Budget => (get("amount"), Money::ZERO),
        Kind::CampaignGroup | Kind::Campaign | Kind::AdSet | Kind::AdGroup => {
            (get("budget.daily"), get("budget.lifetime"))
        }
        _ => (Money::ZERO, Money::ZERO),
    }
}

/// The fields [`budgets`] reads, and the only kinds that carry them: the impact keeps just these, so it costs
/// a few bytes per campaign instead of a copy of every live object.
const BUDGET_FIELDS: [&str; 4] = ["status", "amount", "budget.daily", "budget.lifetime"];

fn carries_budget(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Budget | Kind::CampaignGroup | Kind::Campaign | Kind::AdSet | Kind::AdGroup
    )
}

type Budgeted = BTreeMap<Address, (Kind, SmallMap)>;

fn budget_fields(fields: &SmallMap) -> SmallMap {
    fields
        .iter()
        .filter(|(k, _)| BUDGET_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (*k, v.clone()))
        .collect()
}

fn total(resources: &Budgeted, paused: &str) -> (Money, Money) {
    let mut daily: i128 = 0;
    let mut lifetime: i128 = 0;
    for (kind, fields) in resources.values() {
        let (d, l) = budgets(*kind, fields, paused);
        daily += i128::from(d.micros());
        lifetime += i128::from(l.micros());
    }
    let clamp = |v: i128| Money::from_micros(v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64);
    (clamp(daily), clamp(lifetime))
}

pub fn impact(live: &[Resource], changes: &[Change], paused: &str) -> SpendImpact {
    let before: Budgeted = live
        .iter()
        .filter(|r| carries_budget(r.kind))
        .map(|r| (r.address.clone(), (r.kind, budget_fields(&r.fields))))
        .collect();
    let mut after = before.clone();
    for c in changes {
        match c.action {
            Action::Create | Action::Replace if carries_budget(c.kind) => {
                after.insert(c.address.clone(), (c.kind, budget_fields(&c.desired)));
            }
            Action::Create | Action::Replace => {}
            Action::Update | Action::Adopt | Action::Pause if carries_budget(c.kind) => {
                let entry = after
                    .entry(c.address.clone())
                    .or_insert_with(|| (c.kind, SmallMap::new()));
                for f in &c.fields {
                    if let (Some(v), true) = (&f.after, BUDGET_FIELDS.contains(&f.field.as_str())) {
                        entry.1.insert(f.field.clone(), v.clone());
                    }
                    // moving to a shared budget ends the campaign's own one (counted through the budget)
                    if f.field == "budget.shared" {
                        entry.1.remove("budget.daily");
                    }
                }
            }
            Action::Update | Action::Adopt | Action::Pause => {}
            Action::Remove => {
                after.retain(|a, _| !a.is_within(&c.address));
            }
            Action::Orphan | Action::NoOp => {}
        }
    }
    let (daily_before, lifetime_before) = total(&before, paused);
    let (daily_after, lifetime_after) = total(&after, paused);
    SpendImpact {
        daily_before,
        daily_after,
        lifetime_before,
        lifetime_after,
    }
}
