//! Reporting: `GET /report/integrated/get/` (BASIC, auction data levels) and the async task pair
//! `POST /report/task/create/` / `GET /report/task/check/` (40201 until the task is done). Metrics are synthetic and
//! deterministic: a hash of (metric seed, ad id, date) decides each ad's day; ad groups, campaigns and the
//! advertiser add up their ads. Values are strings, "-" where there is none (a ratio over zero).
//! WIRE-NOTES § Reporting.

use chrono::{Duration as Days, NaiveDate};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use super::error::{self, ApiError};
use super::json as tjson;
use super::objects::{currency_minor, paged};
use super::state::{Kind, State, Task};
use super::{s, Call, Handled, Out};
use crate::rng::{hash_str, mix64, unit};

/// Days a report with `stat_time_day` may span (reading of the 30-day slicing in WIRE-NOTES; unverified).
pub const MAX_DAYS_DAILY: i64 = 30;
/// Days a report with `stat_time_hour` may span.
pub const MAX_DAYS_HOURLY: i64 = 1;
/// Days a report without a time dimension may span.
pub const MAX_DAYS_TOTAL: i64 = 365;
/// Ids one filter may carry.
pub const MAX_FILTER_IDS: usize = 100;

pub const METRICS: &[&str] = &[
    "spend",
    "impressions",
    "clicks",
    "ctr",
    "cpc",
    "cpm",
    "reach",
    "frequency",
    "conversion",
    "cost_per_conversion",
    "conversion_rate",
    "video_play_actions",
    "likes",
    "comments",
    "shares",
    "follows",
    "profile_visits",
    "campaign_name",
    "adgroup_name",
    "ad_name",
    "objective_type",
    "currency",
];

const ID_DIMENSIONS: &[(&str, &str)] = &[
    ("AUCTION_ADVERTISER", "advertiser_id"),
    ("AUCTION_CAMPAIGN", "campaign_id"),
    ("AUCTION_ADGROUP", "adgroup_id"),
    ("AUCTION_AD", "ad_id"),
];

fn param(msg: impl Into<String>) -> ApiError {
    ApiError::param(msg)
}

/// One entity's numbers over some days.
#[derive(Clone, Copy, Default)]
struct Sums {
    spend_minor: i64,
    impressions: u64,
    clicks: u64,
    reach: u64,
    conversions: u64,
    plays: u64,
    likes: u64,
    comments: u64,
    shares: u64,
    follows: u64,
    visits: u64,
}

impl Sums {
    fn add(&mut self, o: &Sums) {
        self.spend_minor += o.spend_minor;
        self.impressions += o.impressions;
        self.clicks += o.clicks;
        self.reach += o.reach;
        self.conversions += o.conversions;
        self.plays += o.plays;
        self.likes += o.likes;
        self.comments += o.comments;
        self.shares += o.shares;
        self.follows += o.follows;
        self.visits += o.visits;
    }
}

/// One ad's day (or hour: `part` 0..24 of the day, `parts` 24).
fn ad_day(seed: u64, ad: &str, date: NaiveDate, part: u64, parts: u64) -> Sums {
    let base = mix64(seed ^ hash_str(ad) ^ hash_str(&date.to_string()));
    let u = |i: u64| unit(mix64(base ^ i.wrapping_mul(0x9E37_79B9)));
    let impressions = 500 + (u(1) * 4500.0) as u64;
    let ctr = 0.005 + 0.025 * u(2);
    let clicks = (impressions as f64 * ctr) as u64;
    let cpc_minor = 20 + (u(3) * 180.0) as i64;
    let spend_minor = clicks as i64 * cpc_minor;
    let day = Sums {
        spend_minor,
        impressions,
        clicks,
        reach: (impressions as f64 * (0.6 + 0.3 * u(4))) as u64,
        conversions: (clicks as f64 * (0.02 + 0.08 * u(5))) as u64,
        plays: (impressions as f64 * (0.2 + 0.3 * u(6))) as u64,
        likes: (impressions as f64 * 0.01 * u(7)) as u64,
        comments: (impressions as f64 * 0.002 * u(8)) as u64,
        shares: (impressions as f64 * 0.002 * u(9)) as u64,
        follows: (impressions as f64 * 0.001 * u(10)) as u64,
        visits: (impressions as f64 * 0.004 * u(11)) as u64,
    };
    if parts == 1 {
        return day;
    }
    // an even share per hour, the remainder in the last hour
    let share = |v: u64| {
        if part + 1 == parts {
            v - (v / parts) * (parts - 1)
        } else {
            v / parts
        }
    };
    Sums {
        spend_minor: share(day.spend_minor as u64) as i64,
        impressions: share(day.impressions),
        clicks: share(day.clicks),
        reach: share(day.reach),
        conversions: share(day.conversions),
        plays: share(day.plays),
        likes: share(day.likes),
        comments: share(day.comments),
        shares: share(day.shares),
        follows: share(day.follows),
        visits: share(day.visits),
    }
}

fn money(minor: i64, decimals: u32) -> String {
    Decimal::new(minor, decimals).to_string()
}

fn ratio(a: f64, b: f64, places: usize) -> String {
    if b == 0.0 {
        "-".into()
    } else {
        format!("{:.*}", places, a / b)
    }
}

/// A checked report request (from the query of the sync report or the body of a task).
struct Query {
    advertiser_id: String,
    level: String,
    dims: Vec<String>,
    metrics: Vec<String>,
    days: Option<(NaiveDate, NaiveDate)>,
    filters: Vec<(String, Vec<String>)>,
    order: Option<(String, bool)>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn parse_query(c: &Call, st: &mut State, q: &Map<String, Value>) -> Result<Query, ApiError> {
    if s(q, "report_type") != Some("BASIC") {
        return Err(param("report_type: The emulator serves report_type BASIC only."));
    }
    if s(q, "service_type").is_some_and(|t| t != "AUCTION") {
        return Err(param("service_type: The emulator serves AUCTION reports only."));
    }
    let Some(adv) = s(q, "advertiser_id") else {
        return Err(param("advertiser_id: Missing data for required field."));
    };
    let adv = c.advertiser(st, adv)?;
    let level = s(q, "data_level").unwrap_or("AUCTION_ADVERTISER").to_string();
    let Some((_, id_dim)) = ID_DIMENSIONS.iter().find(|(l, _)| *l == level) else {
        return Err(param(format!(
            "data_level: The emulator serves auction data levels, not {level}."
        )));
    };
    let dims = strings(q.get("dimensions"));
    if dims.is_empty() {
        return Err(param("dimensions: Missing data for required field."));
    }
    for d in &dims {
        let is_id = ID_DIMENSIONS.iter().any(|(_, x)| x == d);
        if is_id && d != id_dim {
            return Err(param(format!(
                "dimensions: {d} does not go with data_level {level} (use {id_dim})."
            )));
        }
        if !is_id && d != "stat_time_day" && d != "stat_time_hour" {
            return Err(param(format!("dimensions: {d} is not a dimension of a BASIC report.")));
        }
    }
    if dims.iter().filter(|d| d.starts_with("stat_time_")).count() > 1 {
        return Err(param("dimensions: At most one time dimension."));
    }
    let metrics = match q.get("metrics") {
        Some(_) => strings(q.get("metrics")),
        None => vec!["spend".into(), "impressions".into()],
    };
    if let Some(m) = metrics.iter().find(|m| !METRICS.contains(&m.as_str())) {
        return Err(param(format!("metrics: {m} is not a metric the emulator serves.")));
    }
    let lifetime = q.get("query_lifetime").and_then(Value::as_bool).unwrap_or(false);
    let time_dim = dims.iter().find(|d| d.starts_with("stat_time_")).cloned();
    let days = if lifetime {
        if time_dim.is_some() {
            return Err(param("query_lifetime: A lifetime report has no time dimension."));
        }
        None
    } else {
        let date = |k: &str| -> Result<NaiveDate, ApiError> {
            let v = s(q, k)
                .ok_or_else(|| param(format!("{k}: Missing data for required field (or set query_lifetime).")))?;
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| param(format!("{k}: Not a valid date: use YYYY-MM-DD.")))
        };
        let (start, end) = (date("start_date")?, date("end_date")?);
        if end < start {
            return Err(param("end_date: Must not be earlier than start_date."));
        }
        let span = (end - start).num_days() + 1;
        let max = match time_dim.as_deref() {
            Some("stat_time_hour") => MAX_DAYS_HOURLY,
            Some(_) => MAX_DAYS_DAILY,
            None => MAX_DAYS_TOTAL,
        };
        if span > max {
            return Err(param(format!(
                "end_date: The date range spans {span} days; at most {max} with these dimensions."
            )));
        }
        Some((start, end))
    };
    let mut filters = Vec::new();
    if let Some(list) = q.get("filtering").and_then(Value::as_array) {
        for (i, f) in list.iter().enumerate() {
            let at = format!("filtering[{i}]");
            let j = tjson::parse(&f.to_string()).map_err(|_| param(format!("{at}: Not a valid mapping type.")))?;
            let f = super::fields::check_model("FilteringReportIntegratedGet", &j, &format!("{at}."))?;
            let name = s(&f, "field_name").unwrap_or_default().to_string();
            if !matches!(name.as_str(), "campaign_ids" | "adgroup_ids" | "ad_ids") {
                return Err(param(format!(
                    "{at}.field_name: The emulator filters on campaign_ids, adgroup_ids and ad_ids."
                )));
            }
            if s(&f, "filter_type") != Some("IN") {
                return Err(param(format!("{at}.filter_type: {name} takes filter_type IN.")));
            }
            let raw = s(&f, "filter_value").unwrap_or_default();
            let ids = match tjson::parse(raw) {
                Ok(tjson::Json::Arr(a)) => a
                    .iter()
                    .map(|x| match x {
                        tjson::Json::Str(v) | tjson::Json::Num(v) => Ok(v.clone()),
                        _ => Err(param(format!("{at}.filter_value: Ids are strings."))),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                _ => {
                    return Err(param(format!(
                        "{at}.filter_value: Not a valid JSON string of a list, e.g. \"[\\\"123\\\"]\"."
                    )))
                }
            };
            if ids.len() > MAX_FILTER_IDS {
                return Err(ApiError::new(
                    error::TOO_MANY_IDS,
                    format!("{at}.filter_value: Too many ids in one filter: at most {MAX_FILTER_IDS}."),
                ));
            }
            filters.push((name, ids));
        }
    }
    let order = s(q, "order_field").map(|f| (f.to_string(), s(q, "order_type") != Some("ASC")));
    if let Some((f, _)) = &order {
        if !metrics.contains(f) {
            return Err(param(format!("order_field: {f} is not one of the requested metrics.")));
        }
    }
    Ok(Query {
        advertiser_id: adv.advertiser_id,
        level,
        dims,
        metrics,
        days,
        filters,
        order,
    })
}

/// The report's rows.
fn rows(c: &Call, st: &State, q: &Query) -> Vec<Value> {
    let adv = &st.advertisers[&q.advertiser_id];
    let decimals = currency_minor(&adv.currency);
    let today = chrono::DateTime::from_timestamp_millis(c.now)
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let ads: Vec<_> = st
        .objects
        .values()
        .filter(|o| o.kind == Kind::Ad && o.advertiser_id == q.advertiser_id)
        .filter(|o| {
            q.filters.iter().all(|(k, ids)| {
                let id = match k.as_str() {
                    "campaign_ids" => o.campaign_id.as_deref(),
                    "adgroup_ids" => o.adgroup_id.as_deref(),
                    _ => Some(o.id.as_str()),
                };
                id.is_some_and(|i| ids.iter().any(|x| x == i))
            })
        })
        .collect();
    let id_dim = ID_DIMENSIONS
        .iter()
        .find(|(l, _)| *l == q.level)
        .map(|(_, d)| *d)
        .unwrap_or("advertiser_id");
    let time_dim = q.dims.iter().find(|d| d.starts_with("stat_time_")).cloned();
    let hourly = time_dim.as_deref() == Some("stat_time_hour");
    // (entity, bucket) -> sums, in a stable order
    let mut buckets: std::collections::BTreeMap<(String, String), Sums> = Default::default();
    for ad in &ads {
        let entity = match id_dim {
            "campaign_id" => ad.campaign_id.clone().unwrap_or_default(),
            "adgroup_id" => ad.adgroup_id.clone().unwrap_or_default(),
            "ad_id" => ad.id.clone(),
            _ => q.advertiser_id.clone(),
        };
        let created = chrono::DateTime::from_timestamp_millis(ad.created_ms)
            .map(|t| t.date_naive())
            .unwrap_or(today);
        let (from, to) = match q.days {
            Some((a, b)) => (a.max(created), b.min(today)),
            None => (created, today),
        };
        let mut d = from;
        while d <= to {
            let parts = if hourly { 24 } else { 1 };
            for part in 0..parts {
                let bucket = match time_dim.as_deref() {
                    Some("stat_time_hour") => format!("{d} {part:02}:00:00"),
                    Some(_) => format!("{d} 00:00:00"),
                    None => String::new(),
                };
                buckets
                    .entry((entity.clone(), bucket))
                    .or_default()
                    .add(&ad_day(c.cfg.seed, &ad.id, d, part, parts));
            }
            d += Days::days(1);
        }
    }
    let mut out = Vec::new();
    for ((entity, bucket), sum) in buckets {
        let mut dims = Map::new();
        for d in &q.dims {
            if d.starts_with("stat_time_") {
                dims.insert(d.clone(), json!(bucket));
            } else {
                dims.insert(d.clone(), json!(entity));
            }
        }
        let obj = st.objects.get(&entity);
        let name_of = |key: &str| -> String {
            let o = match key {
                "campaign_name" => obj.and_then(|o| match o.kind {
                    Kind::Campaign => Some(o),
                    _ => o.campaign_id.as_ref().and_then(|c| st.objects.get(c)),
                }),
                "adgroup_name" => obj.and_then(|o| match o.kind {
                    Kind::Adgroup => Some(o),
                    Kind::Ad => o.adgroup_id.as_ref().and_then(|g| st.objects.get(g)),
                    Kind::Campaign => None,
                }),
                _ => obj.filter(|o| o.kind == Kind::Ad),
            };
            o.and_then(|o| s(&o.fields, key)).unwrap_or("-").to_string()
        };
        let spend = sum.spend_minor as f64 / 10f64.powi(decimals as i32);
        let mut metrics = Map::new();
        for m in &q.metrics {
            let v = match m.as_str() {
                "spend" => money(sum.spend_minor, decimals),
                "impressions" => sum.impressions.to_string(),
                "clicks" => sum.clicks.to_string(),
                "ctr" => ratio(sum.clicks as f64 * 100.0, sum.impressions as f64, 2),
                "cpc" => ratio(spend, sum.clicks as f64, decimals as usize),
                "cpm" => ratio(spend * 1000.0, sum.impressions as f64, decimals as usize),
                "reach" => sum.reach.to_string(),
                "frequency" => ratio(sum.impressions as f64, sum.reach as f64, 2),
                "conversion" => sum.conversions.to_string(),
                "cost_per_conversion" => ratio(spend, sum.conversions as f64, decimals as usize),
                "conversion_rate" => ratio(sum.conversions as f64 * 100.0, sum.clicks as f64, 2),
                "video_play_actions" => sum.plays.to_string(),
                "likes" => sum.likes.to_string(),
                "comments" => sum.comments.to_string(),
                "shares" => sum.shares.to_string(),
                "follows" => sum.follows.to_string(),
                "profile_visits" => sum.visits.to_string(),
                "campaign_name" | "adgroup_name" | "ad_name" => name_of(m),
                "objective_type" => {
                    let camp = obj.and_then(|o| match o.kind {
                        Kind::Campaign => Some(o),
                        _ => o.campaign_id.as_ref().and_then(|c| st.objects.get(c)),
                    });
                    camp.and_then(|c| s(&c.fields, "objective_type"))
                        .unwrap_or("-")
                        .to_string()
                }
                "currency" => adv.currency.clone(),
                _ => "-".into(),
            };
            metrics.insert(m.clone(), json!(v));
        }
        out.push(json!({ "dimensions": dims, "metrics": metrics }));
    }
    if let Some((field, desc)) = &q.order {
        let key = |r: &Value| {
            r["metrics"][field]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::MIN)
        };
        out.sort_by(|a, b| {
            let o = key(a).partial_cmp(&key(b)).unwrap_or(std::cmp::Ordering::Equal);
            if *desc {
                o.reverse()
            } else {
                o
            }
        });
    }
    out
}

/// `GET /report/integrated/get/`.
pub fn integrated_get(c: &Call, st: &mut State) -> Handled {
    let q = c.checked_query("report_integrated_get")?;
    let page = q.get("page").and_then(Value::as_i64).unwrap_or(1);
    if page < 1 {
        return Err(param("page: Must be greater than or equal to 1."));
    }
    let page_size = q.get("page_size").and_then(Value::as_i64).unwrap_or(10);
    let parsed = parse_query(c, st, &q)?;
    let list = rows(c, st, &parsed);
    Ok(Out::ok(paged(list, page, page_size), 0))
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_string()
    }
}

/// `POST /report/task/create/` → `task_id`; the report is computed now and handed out once the task is done.
pub fn task_create(c: &Call, st: &mut State) -> Handled {
    let (_, f) = c.checked_body("ReportTaskCreateBody")?;
    let parsed = parse_query(c, st, &f)?;
    let list = rows(c, st, &parsed);
    let mut csv = String::new();
    let header: Vec<String> = parsed.dims.iter().chain(parsed.metrics.iter()).cloned().collect();
    csv.push_str(&header.join(","));
    csv.push('\n');
    for r in &list {
        let cells: Vec<String> = parsed
            .dims
            .iter()
            .map(|d| r["dimensions"][d].as_str().unwrap_or("").to_string())
            .chain(
                parsed
                    .metrics
                    .iter()
                    .map(|m| r["metrics"][m].as_str().unwrap_or("-").to_string()),
            )
            .map(|v| csv_field(&v))
            .collect();
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    let task_id = st.new_id(c.cfg.seed);
    st.tasks.insert(
        task_id.clone(),
        Task {
            advertiser_id: parsed.advertiser_id,
            created_ms: c.now,
            forced_done: false,
            csv,
        },
    );
    Ok(Out::ok(json!({ "task_id": task_id }), 1))
}

/// `GET /report/task/check/?task_id&advertiser_id`: 40201 until done, then the report.
pub fn task_check(c: &Call, st: &mut State) -> Handled {
    let q = c.checked_query("report_task_check")?;
    let adv = c.advertiser(st, s(&q, "advertiser_id").unwrap_or_default())?;
    let id = s(&q, "task_id").unwrap_or_default();
    let t = st
        .tasks
        .get(id)
        .filter(|t| t.advertiser_id == adv.advertiser_id)
        .ok_or_else(|| ApiError::not_found("Report task", id))?;
    if !t.forced_done && c.now - t.created_ms < c.cfg.report_task_duration.as_millis() as i64 {
        return Err(ApiError::new(
            error::TASK_NOT_READY,
            "The task is not ready yet: check again later.",
        ));
    }
    Ok(Out::ok(
        json!({ "task_id": id, "status": "SUCCESS", "output_format": "CSV_STRING", "report": t.csv }),
        0,
    ))
}
