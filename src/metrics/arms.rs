//! `adsctl metrics --level arm`: the results of each declared A/B test per arm (cell), summed from its ad sets'
//! rows (pulled at ad set level) — a cell naming campaigns takes the rows of their ad sets.
//!
//! An arm is reported as `<account>/split_test/<test> [<cell>]`. Ad sets in no declared test are left out.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use super::series::StoredDay;
use crate::model::{Address, Kind, Resource, Value};

/// The days and address map a report at `level` reads: at `Level::Arm`, the rows renamed to their arms
/// ([`by_arm`] with the arms of `desired`); at any other level, as they are.
pub fn for_level(
    level: super::Level,
    desired: &[Resource],
    account: &str,
    days: BTreeMap<NaiveDate, StoredDay>,
    addresses: HashMap<String, String>,
) -> (BTreeMap<NaiveDate, StoredDay>, HashMap<String, String>) {
    if level != super::Level::Arm {
        return (days, addresses);
    }
    by_arm(days, &addresses, &arms(desired, account))
}

/// Each object a declared split test's cell names (ad set or campaign address) → the arm's label.
pub fn arms(desired: &[Resource], account: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for t in desired
        .iter()
        .filter(|r| r.kind == Kind::SplitTest && r.address.account == account)
    {
        let Some(Value::List(cells)) = t.fields.get("cells") else {
            continue;
        };
        for c in cells {
            let Value::Map(m) = c else { continue };
            let cell = m.get("name").and_then(Value::as_str).unwrap_or_default();
            let label = format!("{} [{cell}]", t.address);
            for field in ["ad_sets", "campaigns"] {
                if let Some(Value::List(items)) = m.get(field) {
                    for it in items {
                        if let Value::Ref(a) = it {
                            out.insert(a.to_string(), label.clone());
                        }
                    }
                }
            }
        }
    }
    out
}

/// The days with every ad set row renamed to its arm (its own or its campaign's), rows in no arm dropped; and the
/// address map the report then uses (each arm label names itself).
pub fn by_arm(
    days: BTreeMap<NaiveDate, StoredDay>,
    addresses: &HashMap<String, String>,
    arms: &HashMap<String, String>,
) -> (BTreeMap<NaiveDate, StoredDay>, HashMap<String, String>) {
    let arm_of = |id: &str| -> Option<&String> {
        let addr = addresses.get(id)?;
        arms.get(addr).or_else(|| {
            let parent = addr.parse::<Address>().ok()?.parent()?;
            arms.get(&parent.to_string())
        })
    };
    let mut labels = HashMap::new();
    let days = days
        .into_iter()
        .map(|(d, mut day)| {
            day.rows = day
                .rows
                .into_iter()
                .filter_map(|mut r| {
                    let label = arm_of(&r.id)?.clone();
                    labels.insert(label.clone(), label.clone());
                    r.id = label.clone();
                    r.name = label;
                    Some(r)
                })
                .collect();
            (d, day)
        })
        .collect();
    (days, labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::MetricRow;
    use crate::model::{Money, SmallMap};

    fn row(id: &str, clicks: u64) -> MetricRow {
        MetricRow {
            date: NaiveDate::from_ymd_opt(2027, 1, 2).unwrap(),
            kind: Kind::AdSet,
            id: id.into(),
            name: id.into(),
            impressions: 10 * clicks,
            clicks,
            cost: Money::from_micros(1_000_000 * clicks as i64),
            conversions: Default::default(),
            conversion_value: Money::from_micros(0),
            email: None,
        }
    }

    #[test]
    fn ad_set_rows_are_summed_per_arm_and_others_left_out() {
        let a: Address = "social/campaign/C/ad_set/A".parse().unwrap();
        let b: Address = "social/campaign/C/ad_set/B".parse().unwrap();
        let d: Address = "social/campaign/D".parse().unwrap();
        let mut t = Resource::new(Address::account("social").child(Kind::SplitTest, "T"), Kind::SplitTest);
        let cell = |name: &str, objs: Vec<&Address>| {
            let mut m = SmallMap::default();
            m.insert("name", Value::str(name));
            m.insert("percent", Value::Int(50));
            m.insert(
                "ad_sets",
                Value::List(objs.into_iter().map(|x| Value::reference(x.clone())).collect()),
            );
            Value::Map(m)
        };
        t.fields
            .insert("cells", Value::List(vec![cell("X", vec![&a]), cell("Y", vec![&b, &d])]));
        let arms = arms(&[t], "social");
        let addresses: HashMap<String, String> = [
            ("1".to_string(), a.to_string()),
            ("2".to_string(), b.to_string()),
            ("3".to_string(), "social/campaign/D/ad_set/E".to_string()),
            ("4".to_string(), "social/campaign/Z/ad_set/F".to_string()),
        ]
        .into();
        let date = NaiveDate::from_ymd_opt(2027, 1, 2).unwrap();
        let days: BTreeMap<NaiveDate, StoredDay> = [(
            date,
            StoredDay {
                pulled_on: date,
                rows: vec![row("1", 1), row("2", 2), row("3", 4), row("4", 8)],
            },
        )]
        .into();
        let (days, labels) = by_arm(days, &addresses, &arms);
        let rows = &days[&date].rows;
        assert_eq!(rows.len(), 3, "the ad set in no arm is left out");
        assert_eq!(rows[0].id, "social/split_test/T [X]");
        assert!(
            rows[1..].iter().all(|r| r.id == "social/split_test/T [Y]"),
            "an ad set of a named campaign counts"
        );
        assert_eq!(labels.len(), 2);
    }
}
