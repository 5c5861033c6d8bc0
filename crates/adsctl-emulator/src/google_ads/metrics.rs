//! Deterministic synthetic performance metrics: a hash of (metric seed, resource name, date) decides each
//! day's numbers; clicks never exceed impressions, cost stays near the daily budget, and conversions for the
//! last three days are still arriving (lower today than tomorrow).

use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use crate::rng::{hash_str, mix64, unit};

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Day {
    pub impressions: u64,
    pub clicks: u64,
    pub cost_micros: u64,
    pub conversions: f64,
    pub conversions_value: f64,
    pub view_through_conversions: u64,
}

impl Day {
    pub fn add(&mut self, o: &Day) {
        self.impressions += o.impressions;
        self.clicks += o.clicks;
        self.cost_micros += o.cost_micros;
        self.conversions += o.conversions;
        self.conversions_value += o.conversions_value;
        self.view_through_conversions += o.view_through_conversions;
    }
}

/// The metrics the emulator computes (snake_case names under `metrics.`).
pub const SUPPORTED: &[&str] = &[
    "impressions",
    "clicks",
    "cost_micros",
    "conversions",
    "conversions_value",
    "all_conversions",
    "view_through_conversions",
    "interactions",
    "ctr",
    "average_cpc",
    "average_cpm",
    "cost_per_conversion",
];

/// One object's metrics for one day. `budget_micros` is the daily budget behind it (its share of the
/// campaign budget for ad groups, ads and keywords).
pub fn day(seed: u64, rn: &str, date: NaiveDate, today: NaiveDate, budget_micros: u64) -> Day {
    if date > today {
        return Day::default();
    }
    let base = mix64(seed ^ hash_str(rn) ^ mix64(date.to_string().len() as u64 ^ hash_str(&date.to_string())));
    let u = |i: u64| unit(mix64(base ^ i.wrapping_mul(0x9E37_79B9)));
    // spend 70–100 % of the budget, in whole cents
    let cost = ((budget_micros as f64 * (0.7 + 0.3 * u(1))) / 10_000.0).floor() as u64 * 10_000;
    let cpc = 300_000.0 + 2_700_000.0 * u(2); // 0.30–3.00 a click
    let clicks = (cost as f64 / cpc).floor() as u64;
    let ctr = 0.01 + 0.07 * u(3);
    let impressions = ((clicks as f64 / ctr).ceil() as u64).max(clicks);
    let cvr = 0.02 + 0.08 * u(4);
    let age = (today - date).num_days();
    let arrived = match age {
        0 => 0.4,
        1 => 0.7,
        2 => 0.9,
        _ => 1.0,
    };
    let conversions = ((clicks as f64 * cvr * arrived) * 100.0).round() / 100.0;
    let value = ((conversions * (20.0 + 60.0 * u(5))) * 100.0).round() / 100.0;
    let cost = if clicks == 0 { 0 } else { cost };
    Day {
        impressions,
        clicks,
        cost_micros: cost,
        conversions,
        conversions_value: value,
        view_through_conversions: (impressions as f64 * 0.0005 * u(6)).floor() as u64,
    }
}

/// The `metrics` object of a row, restricted to the selected metric names (snake_case).
pub fn to_json(d: &Day, selected: &[String]) -> Value {
    let mut m = Map::new();
    for s in selected {
        let (k, v) = match s.as_str() {
            "impressions" => ("impressions", json!(d.impressions.to_string())),
            "clicks" => ("clicks", json!(d.clicks.to_string())),
            "cost_micros" => ("costMicros", json!(d.cost_micros.to_string())),
            "conversions" => ("conversions", json!(d.conversions)),
            "conversions_value" => ("conversionsValue", json!(d.conversions_value)),
            "all_conversions" => ("allConversions", json!(d.conversions)),
            "view_through_conversions" => ("viewThroughConversions", json!(d.view_through_conversions.to_string())),
            "interactions" => ("interactions", json!(d.clicks.to_string())),
            "ctr" => ("ctr", json!(ratio(d.clicks as f64, d.impressions as f64))),
            "average_cpc" => ("averageCpc", json!(ratio(d.cost_micros as f64, d.clicks as f64))),
            "average_cpm" => (
                "averageCpm",
                json!(ratio(d.cost_micros as f64 * 1000.0, d.impressions as f64)),
            ),
            "cost_per_conversion" => ("costPerConversion", json!(ratio(d.cost_micros as f64, d.conversions))),
            _ => continue,
        };
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::schema;
    use super::*;

    #[test]
    fn plausible_deterministic_and_late() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        for i in 0..200 {
            let rn = format!("customers/1/campaigns/{i}");
            for back in 0..10 {
                let d = today - chrono::Duration::days(back);
                let a = day(7, &rn, d, today, 50_000_000);
                assert_eq!(a, day(7, &rn, d, today, 50_000_000));
                assert!(a.clicks <= a.impressions);
                assert!(a.cost_micros <= 50_000_000 && (a.clicks == 0 || a.cost_micros >= 35_000_000));
            }
            let d = today - chrono::Duration::days(1);
            let late = day(7, &rn, d, today, 50_000_000);
            let settled = day(7, &rn, d, today + chrono::Duration::days(5), 50_000_000);
            assert!(late.conversions <= settled.conversions);
        }
        let m = schema().message("common.Metrics").unwrap();
        for s in SUPPORTED {
            assert!(m.by_name(s).is_some(), "metrics.{s}");
        }
    }
}
