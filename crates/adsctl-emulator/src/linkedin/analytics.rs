//! `GET /rest/adAnalytics?q=analytics` (WIRE-NOTES § Reporting): one pivot (CREATIVE, CAMPAIGN, CAMPAIGN_GROUP or
//! ACCOUNT; bare or `(value:…)`), timeGranularity DAILY, MONTHLY or ALL, a Rest.li dateRange, URN facets
//! (`accounts`, `campaignGroups`, `campaigns`, `creatives`; several facets narrow each other), and `fields` (at
//! most 20, dateRange and pivotValues included). No paging. Counts are JSON numbers, money metrics strings.
//!
//! Metrics are synthetic and deterministic: a hash of (metric seed, creative id, date) decides each creative's
//! day from its creation day to today (a creative still in DRAFT never served); campaigns, groups and accounts add
//! up their creatives. No activity, or objects the member cannot see: empty elements.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::restli::RValue;
use super::state::{Kind, State};
use super::{Call, Handled, Reply};
use crate::rng::{hash_str, mix64, unit};

/// Fields one request may ask for.
pub const MAX_FIELDS: usize = 20;

const COUNT_METRICS: &[&str] = &[
    "impressions",
    "clicks",
    "landingPageClicks",
    "totalEngagements",
    "likes",
    "comments",
    "shares",
    "follows",
    "videoViews",
    "videoCompletions",
    "externalWebsiteConversions",
    "oneClickLeads",
];
const MONEY_METRICS: &[&str] = &["costInLocalCurrency", "costInUsd", "conversionValueInLocalCurrency"];

#[derive(Clone, Copy, Default)]
struct Day {
    counts: [u64; 12],
    /// cost and conversion value in hundredths
    cost: i64,
    value: i64,
}

impl Day {
    fn add(&mut self, o: &Day) {
        for (a, b) in self.counts.iter_mut().zip(o.counts.iter()) {
            *a += b;
        }
        self.cost += o.cost;
        self.value += o.value;
    }
}

fn creative_day(seed: u64, creative: u64, date: NaiveDate) -> Day {
    let base = mix64(seed ^ hash_str(&format!("li-creative-{creative}")) ^ hash_str(&date.to_string()));
    let u = |i: u64| unit(mix64(base ^ i.wrapping_mul(0x9E37_79B9)));
    let impressions = 200 + (u(1) * 3800.0) as u64;
    let clicks = (impressions as f64 * (0.004 + 0.02 * u(2))) as u64;
    let cost = clicks as i64 * (150 + (u(3) * 650.0) as i64);
    let f = |k: u64, r: f64| (impressions as f64 * r * u(k)) as u64;
    let conversions = (clicks as f64 * 0.1 * u(11)) as u64;
    Day {
        counts: [
            impressions,
            clicks,
            (clicks as f64 * 0.8) as u64,
            clicks + f(4, 0.01),
            f(5, 0.008),
            f(6, 0.002),
            f(7, 0.002),
            f(8, 0.001),
            f(9, 0.2),
            f(10, 0.05),
            conversions,
            (conversions as f64 * 0.5) as u64,
        ],
        cost,
        value: conversions as i64 * 2500,
    }
}

fn enum_param(c: &Call, name: &str) -> Result<Option<String>, ApiError> {
    match c.params.get(name) {
        None => Ok(None),
        Some(RValue::Prim(s)) => Ok(Some(s.clone())),
        Some(v @ RValue::Obj(_)) => match v.get("value").and_then(RValue::as_str) {
            Some(s) if matches!(v, RValue::Obj(m) if m.len() == 1) => Ok(Some(s.to_string())),
            _ => Err(ApiError::bad(format!("{name} must be VALUE or (value:VALUE)"))),
        },
        Some(_) => Err(ApiError::bad(format!("{name} must be VALUE or (value:VALUE)"))),
    }
}

fn date_of(v: Option<&RValue>, what: &str) -> Result<Option<NaiveDate>, ApiError> {
    let Some(v) = v else {
        return Ok(None);
    };
    let n = |k: &str| -> Result<i32, ApiError> {
        v.get(k)
            .and_then(RValue::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ApiError::bad(format!("dateRange.{what}.{k} is required (a number)")))
    };
    let (y, m, d) = (n("year")?, n("month")?, n("day")?);
    NaiveDate::from_ymd_opt(y, m as u32, d as u32)
        .map(Some)
        .ok_or_else(|| ApiError::bad(format!("dateRange.{what} is not a valid date")))
}

fn ymd(d: NaiveDate) -> Value {
    json!({"year": d.year(), "month": d.month(), "day": d.day()})
}

fn money(hundredths: i64) -> String {
    Decimal::new(hundredths, 2).normalize().to_string()
}

pub fn analytics(c: &Call, st: &mut State) -> Handled {
    match c.params.str("q") {
        Some("analytics") => {}
        Some("statistics") | Some("attributedRevenueMetrics") => {
            return Err(ApiError::bad(
                "The emulator serves q=analytics only (one pivot); q=statistics is not emulated",
            ))
        }
        _ => return Err(ApiError::bad("q=analytics is required")),
    }
    const FACETS: &[&str] = &["accounts", "campaignGroups", "campaigns", "creatives"];
    for k in c.params.values.keys() {
        if !matches!(k.as_str(), "q" | "pivot" | "timeGranularity" | "dateRange") && !FACETS.contains(&k.as_str()) {
            return Err(ApiError::bad(format!("Unknown query parameter `{k}` for q=analytics")));
        }
    }
    let pivot = enum_param(c, "pivot")?.ok_or_else(|| ApiError::bad("pivot is required"))?;
    if !matches!(pivot.as_str(), "CREATIVE" | "CAMPAIGN" | "CAMPAIGN_GROUP" | "ACCOUNT") {
        return Err(ApiError::bad(format!(
            "pivot {pivot} is not emulated (CREATIVE, CAMPAIGN, CAMPAIGN_GROUP, ACCOUNT)"
        )));
    }
    let gran = enum_param(c, "timeGranularity")?.ok_or_else(|| ApiError::bad("timeGranularity is required"))?;
    if !matches!(gran.as_str(), "DAILY" | "MONTHLY" | "ALL") {
        return Err(ApiError::bad(format!(
            "timeGranularity {gran} is not emulated (DAILY, MONTHLY, ALL)"
        )));
    }
    let range = c
        .params
        .get("dateRange")
        .ok_or_else(|| ApiError::bad("dateRange=(start:(year:…,month:…,day:…)) is required"))?;
    if !matches!(range, RValue::Obj(_)) {
        return Err(ApiError::bad(
            "dateRange must be (start:(year:…,month:…,day:…),end:(…))",
        ));
    }
    let today = chrono::DateTime::from_timestamp_millis(c.now)
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let start = date_of(range.get("start"), "start")?.ok_or_else(|| ApiError::bad("dateRange.start is required"))?;
    let end = date_of(range.get("end"), "end")?.unwrap_or(today);
    if end < start {
        return Err(ApiError::bad("dateRange.end is before dateRange.start"));
    }
    let fields = c
        .params
        .fields
        .clone()
        .ok_or_else(|| ApiError::bad("fields=… is required (a plain comma list of metrics)"))?;
    if fields.len() > MAX_FIELDS {
        return Err(ApiError::bad(format!(
            "Too many fields: at most {MAX_FIELDS} per request (dateRange and pivotValues count); split the metrics"
        )));
    }
    for f in &fields {
        if !(COUNT_METRICS.contains(&f.as_str())
            || MONEY_METRICS.contains(&f.as_str())
            || matches!(f.as_str(), "dateRange" | "pivotValues"))
        {
            return Err(ApiError::bad(format!("Unknown field {f} for adAnalytics")));
        }
    }
    let mut facets = Vec::new();
    for f in FACETS {
        if let Some(list) = c.params.list(f).map_err(ApiError::bad)? {
            facets.push((*f, list));
        }
    }
    if facets.is_empty() {
        return Err(ApiError::bad(
            "At least one facet is required: accounts, campaignGroups, campaigns or creatives=List(<urn>)",
        ));
    }
    // the creatives in scope, with their pivot value
    let mut rows: BTreeMap<(String, NaiveDate), Day> = BTreeMap::new();
    for cr in st.entities.values().filter(|e| e.kind == Kind::Creative && !e.deleted) {
        let Some(acct) = st.accounts.get(&cr.account).filter(|a| a.role.is_some()) else {
            continue;
        };
        let campaign = cr.parent_id("campaign");
        let group = campaign
            .and_then(|id| st.entities.get(&id))
            .and_then(|x| x.parent_id("campaignGroup"));
        let urns = [
            ("accounts", acct.urn()),
            (
                "campaignGroups",
                group.map(|g| Kind::CampaignGroup.urn(g)).unwrap_or_default(),
            ),
            ("campaigns", campaign.map(|x| Kind::Campaign.urn(x)).unwrap_or_default()),
            ("creatives", Kind::Creative.urn(cr.id)),
        ];
        let in_scope = facets
            .iter()
            .all(|(f, list)| urns.iter().any(|(k, u)| k == f && list.contains(u)));
        if !in_scope || cr.status() == "DRAFT" {
            continue;
        }
        let pv = match pivot.as_str() {
            "CREATIVE" => urns[3].1.clone(),
            "CAMPAIGN" => urns[2].1.clone(),
            "CAMPAIGN_GROUP" => urns[1].1.clone(),
            _ => urns[0].1.clone(),
        };
        let born = chrono::DateTime::from_timestamp_millis(cr.created_ms)
            .map(|t| t.date_naive())
            .unwrap_or(today);
        let mut d = start.max(born);
        while d <= end.min(today) {
            let bucket = match gran.as_str() {
                "DAILY" => d,
                "MONTHLY" => NaiveDate::from_ymd_opt(d.year(), d.month(), 1).unwrap_or(d),
                _ => start,
            };
            rows.entry((pv.clone(), bucket))
                .or_default()
                .add(&creative_day(c.cfg.seed, cr.id, d));
            d = d.succ_opt().unwrap_or(d);
            if d == NaiveDate::MAX {
                break;
            }
        }
    }
    let mut elements = Vec::new();
    for ((pv, bucket), day) in rows {
        if day.counts[0] == 0 {
            continue;
        }
        let (s, e) = match gran.as_str() {
            "DAILY" => (bucket, bucket),
            "MONTHLY" => {
                let next = if bucket.month() == 12 {
                    NaiveDate::from_ymd_opt(bucket.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(bucket.year(), bucket.month() + 1, 1)
                };
                (
                    bucket.max(start),
                    next.and_then(|n| n.pred_opt()).unwrap_or(bucket).min(end),
                )
            }
            _ => (start, end),
        };
        let mut row = Map::new();
        for f in &fields {
            let v = match f.as_str() {
                "dateRange" => json!({"start": ymd(s), "end": ymd(e)}),
                "pivotValues" => json!([pv]),
                "costInLocalCurrency" | "costInUsd" => json!(money(day.cost)),
                "conversionValueInLocalCurrency" => json!(money(day.value)),
                m => {
                    let i = COUNT_METRICS.iter().position(|x| *x == m).unwrap_or(0);
                    json!(day.counts[i])
                }
            };
            row.insert(f.clone(), v);
        }
        elements.push(Value::Object(row));
    }
    let n = elements.len();
    Ok(Reply::json(json!({
        "paging": {"start": 0, "count": n, "links": []},
        "elements": elements,
    })))
}
