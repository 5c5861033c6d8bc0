//! Account guardrails: limits a plan must respect unless overridden with `--allow-guardrail NAME`.

use std::collections::BTreeSet;

use super::{AccountPlan, Action, Blocker, BlockerKind};
use crate::model::{Account, Money, Resource, Value};

/// The guardrail names `--allow-guardrail` accepts.
pub const GUARDRAIL_NAMES: [&str; 3] = ["max_daily_budget", "max_increase_pct", "max_changes"];

const BUDGET_FIELDS: [&str; 3] = ["budget.daily", "budget.lifetime", "amount"];
const DAILY_FIELDS: [&str; 2] = ["budget.daily", "amount"];

/// Percentage change `before → after`, rounded to the nearest integer (exact integer arithmetic).
pub fn pct_change(before: Money, after: Money) -> Option<i128> {
    let b = i128::from(before.micros());
    if b == 0 {
        return None;
    }
    let num = (i128::from(after.micros()) - b) * 100;
    let q = num / b;
    let r = num % b;
    // round half away from zero
    Some(if 2 * r.abs() >= b.abs() {
        q + num.signum() * b.signum()
    } else {
        q
    })
}

pub fn check(account: &Account, plan: &AccountPlan, _live: &[Resource], allow: &BTreeSet<String>) -> Vec<Blocker> {
    let g = &account.guardrails;
    let cur = account.currency;
    let mut out = Vec::new();
    let mut push = |name: &str, address, message: String| {
        out.push(Blocker {
            kind: BlockerKind::Guardrail { name: name.to_string() },
            account: account.name.clone(),
            address,
            message,
            overridden: allow.contains(name),
        })
    };
    if let Some(limit) = g.max_daily_budget {
        let s = &plan.spend;
        if s.daily_after > limit && s.daily_after > s.daily_before {
            for c in &plan.changes {
                let grows = c.fields.iter().any(|f| {
                    DAILY_FIELDS.contains(&f.field.as_str())
                        && match (&f.before, &f.after) {
                            (_, None) => false,
                            (Some(Value::Money(b)), Some(Value::Money(a))) => a > b,
                            (_, Some(Value::Money(a))) => a.is_positive(),
                            _ => false,
                        }
                });
                if grows
                    && matches!(
                        c.action,
                        Action::Create | Action::Update | Action::Adopt | Action::Replace
                    )
                {
                    push(
                        "max_daily_budget",
                        Some(c.address.clone()),
                        format!(
                            "{}: raises the account's total daily budget to {}, above max_daily_budget {}",
                            c.address,
                            s.daily_after.display(cur),
                            limit.display(cur)
                        ),
                    );
                }
            }
        }
    }
    if let Some(max_pct) = g.max_increase_pct {
        for c in &plan.changes {
            if !matches!(c.action, Action::Update | Action::Adopt) {
                continue;
            }
            for f in &c.fields {
                if !BUDGET_FIELDS.contains(&f.field.as_str()) {
                    continue;
                }
                if let (Some(Value::Money(b)), Some(Value::Money(a))) = (&f.before, &f.after) {
                    if b.is_positive()
                        && i128::from(a.micros()) * 100 > i128::from(b.micros()) * (100 + i128::from(max_pct))
                    {
                        push(
                            "max_increase_pct",
                            Some(c.address.clone()),
                            format!(
                                "{}: {} {} → {} is +{}%, above max_increase_pct {}%",
                                c.address,
                                f.field,
                                b.display(cur),
                                a.display(cur),
                                pct_change(*b, *a).unwrap_or(0),
                                max_pct
                            ),
                        );
                    }
                }
            }
        }
    }
    if let Some(max) = g.max_changes {
        let n = plan.changes.iter().filter(|c| c.action.is_change()).count();
        if n > max as usize {
            push(
                "max_changes",
                None,
                format!("{}: {n} changes, above max_changes {max}", account.name),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_exact_and_rounded() {
        let m = |u: i64| Money::from_micros(u * 1_000_000);
        assert_eq!(pct_change(m(50), m(75)), Some(50));
        assert_eq!(pct_change(m(3), m(4)), Some(33));
        assert_eq!(pct_change(m(3), m(5)), Some(67));
        assert_eq!(pct_change(m(80), m(40)), Some(-50));
        assert_eq!(pct_change(Money::ZERO, m(1)), None);
    }
}
