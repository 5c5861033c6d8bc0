//! Spend impact: total daily and lifetime budgets of an account before and after a plan.

use std::collections::BTreeMap;

use super::{Action, Change, SpendImpact};
use crate::model::{Address, Kind, Money, Resource, Value};

/// Budget-carrying fields: campaign and ad set budgets, shared budget amounts (all daily).
fn budgets(kind: Kind, fields: &BTreeMap<String, Value>) -> (Money, Money) {
    if fields.get("status") == Some(&Value::str("paused")) {
        return (Money::ZERO, Money::ZERO);
    }
    let get = |f: &str| fields.get(f).and_then(Value::as_money).unwrap_or(Money::ZERO);
    match kind {
        Kind::Budget => (get("amount"), Money::ZERO),
        Kind::Campaign | Kind::AdSet => (get("budget.daily"), get("budget.lifetime")),
        _ => (Money::ZERO, Money::ZERO),
    }
}

fn total(resources: &BTreeMap<Address, (Kind, BTreeMap<String, Value>)>) -> (Money, Money) {
    let mut daily: i128 = 0;
    let mut lifetime: i128 = 0;
    for (kind, fields) in resources.values() {
        let (d, l) = budgets(*kind, fields);
        daily += i128::from(d.micros());
        lifetime += i128::from(l.micros());
    }
    let clamp = |v: i128| Money::from_micros(v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64);
    (clamp(daily), clamp(lifetime))
}

pub fn impact(live: &[Resource], changes: &[Change]) -> SpendImpact {
    let before: BTreeMap<Address, (Kind, BTreeMap<String, Value>)> = live
        .iter()
        .map(|r| (r.address.clone(), (r.kind, r.fields.clone())))
        .collect();
    let mut after = before.clone();
    for c in changes {
        match c.action {
            Action::Create | Action::Replace => {
                after.insert(c.address.clone(), (c.kind, c.desired.clone()));
            }
            Action::Update | Action::Adopt | Action::Pause => {
                let entry = after
                    .entry(c.address.clone())
                    .or_insert_with(|| (c.kind, BTreeMap::new()));
                for f in &c.fields {
                    if let Some(v) = &f.after {
                        entry.1.insert(f.field.clone(), v.clone());
                    }
                    // moving to a shared budget ends the campaign's own one (counted through the budget)
                    if f.field == "budget.shared" {
                        entry.1.remove("budget.daily");
                    }
                }
            }
            Action::Remove => {
                after.retain(|a, _| !a.is_within(&c.address));
            }
            Action::Orphan | Action::NoOp => {}
        }
    }
    let (daily_before, lifetime_before) = total(&before);
    let (daily_after, lifetime_after) = total(&after);
    SpendImpact {
        daily_before,
        daily_after,
        lifetime_before,
        lifetime_after,
    }
}
