//! Experiments (A/B tests) in a plan: each experiment's arms, split and trial spend said plainly, and the action
//! (run, promote, end) on its own line. Platform-neutral: an experiment resource names its `base_campaign` (a
//! reference), the trial's `traffic_split` (percent) and its `action`; the trial's settings are its `trial.*`
//! fields.

use super::{Action, Change};
use crate::model::{Currency, Money, Resource, Value};

/// What the trial arm spends: `traffic_split` percent of the base campaign's daily budget (the two arms share
/// it), in exact micros (rounded down to the micro).
pub fn trial_share(daily: Money, split: i64) -> Money {
    let m = i128::from(daily.micros()) * i128::from(split.clamp(0, 100)) / 100;
    Money::from_micros(m as i64)
}

/// Add the experiment notes to the changes of an account's plan. `desired` and `live` give the base campaign's
/// daily budget (the YAML's when it declares one, else the platform's).
pub fn annotate(changes: &mut [Change], desired: &[&Resource], live: &[Resource], currency: Currency) {
    for c in changes.iter_mut().filter(|c| c.kind == crate::model::Kind::Experiment) {
        if matches!(c.action, Action::Remove | Action::Orphan | Action::Pause) || c.desired.is_empty() {
            continue;
        }
        let split = c.desired.get("traffic_split").and_then(Value::as_int);
        let base = match c.desired.get("base_campaign") {
            Some(Value::Ref(a)) => Some(a.as_ref().clone()),
            _ => None,
        };
        if let (Some(split), Some(base)) = (split, &base) {
            let name = base.name().unwrap_or_default();
            let daily = desired
                .iter()
                .copied()
                .chain(live)
                .find(|r| &r.address == base)
                .and_then(|r| r.fields.get("budget.daily"))
                .and_then(Value::as_money);
            let trial: Vec<&str> = c.desired.iter().filter_map(|(k, _)| k.strip_prefix("trial.")).collect();
            let differs = if trial.is_empty() {
                "nothing (an A/A test)".to_string()
            } else {
                trial.join(", ")
            };
            c.notes.push(format!(
                "arms: control `{name}` {}%, trial (a copy of `{name}` differing in {differs}) {split}%",
                100 - split
            ));
            c.notes.push(match daily {
                Some(d) => format!(
                    "trial spend: {split}% of `{name}`'s daily budget {} ≈ {} a day (the arms share it: total spend unchanged)",
                    d.display(currency),
                    trial_share(d, split).display(currency)
                ),
                None => format!("trial spend: {split}% of `{name}`'s budget (the arms share it: total spend unchanged)"),
            });
        }
        let changed = c.action == Action::Create || c.fields.iter().any(|f| f.field == "action");
        if changed {
            let base = base.as_ref().and_then(|b| b.name()).unwrap_or("the base campaign");
            match c.desired.get("action").and_then(Value::as_str) {
                Some("promote") => c.notes.push(format!(
                    "action: PROMOTE — the trial's settings replace `{base}`'s and the experiment ends (cannot be undone); write them into `{base}`'s YAML too"
                )),
                Some("end") => c.notes.push(format!(
                    "action: END — the experiment stops today, `{base}` stays as it is (cannot be undone)"
                )),
                Some("run") if c.action == Action::Create => {
                    c.notes.push("action: RUN — the experiment is scheduled once made".to_string())
                }
                Some("run") => c.notes.push("action: RUN — the experiment is scheduled".to_string()),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trial_share_is_exact() {
        assert_eq!(
            trial_share(Money::from_micros(50_000_000), 30),
            Money::from_micros(15_000_000)
        );
        assert_eq!(trial_share(Money::from_micros(1), 50), Money::from_micros(0));
        assert_eq!(
            trial_share(Money::from_micros(i64::MAX), 100),
            Money::from_micros(i64::MAX)
        );
    }
}
