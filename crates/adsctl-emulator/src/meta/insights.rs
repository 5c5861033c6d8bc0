//! Insights: deterministic synthetic metrics per ad and day (a hash of the ad id and the date), aggregated to
//! the requested level and time increment; sync (`GET …/insights`) and async report runs.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, Days, NaiveDate};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use super::error::GraphError;
use super::graph::{self, Ctx, Target};
use super::params::table;
use super::state::{Kind, Obj};
use super::util;

/// Minor units per major unit (Meta's currency offset).
pub fn currency_offset(currency: &str) -> i64 {
    match currency {
        "JPY" | "KRW" | "CLP" | "COP" | "CRC" | "HUF" | "ISK" | "IDR" | "PYG" | "TWD" | "VND" => 1,
        _ => 100,
    }
}

/// Minor units as the decimal string Meta reports (`"12.34"`, `"1234"` for JPY).
pub fn format_money(minor: i64, currency: &str) -> String {
    match currency_offset(currency) {
        1 => minor.to_string(),
        _ => Decimal::new(minor, 2).to_string(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Level {
    Account,
    Campaign,
    AdSet,
    Ad,
}

#[derive(Clone, Copy, Debug)]
enum Increment {
    Days(u32),
    Monthly,
    AllDays,
}

struct Query {
    level: Level,
    since: NaiveDate,
    until: NaiveDate,
    increment: Increment,
    fields: Vec<String>,
    filters: Vec<Filter>,
}

/// One `filtering` entry the emulator evaluates: an id (or name, or effective status) of the ad's hierarchy
/// compared with one value or a list.
struct Filter {
    field: String,
    operator: String,
    values: Vec<String>,
}

/// Insights parameters that change the shape of the result and that the emulator does not compute; they are
/// refused (rather than silently ignored) when set to anything but their default.
const UNSUPPORTED: &[&str] = &["breakdowns", "time_ranges", "summary", "summary_action_breakdowns"];
const FILTER_FIELDS: &[&str] = &[
    "campaign.id",
    "adset.id",
    "ad.id",
    "campaign.name",
    "adset.name",
    "ad.name",
    "ad.effective_status",
    "adset.effective_status",
    "campaign.effective_status",
];

fn parse_filters(v: Option<&Value>) -> Result<Vec<Filter>, GraphError> {
    let Some(items) = v.and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for it in items {
        let field = it.get("field").and_then(Value::as_str).unwrap_or("");
        let operator = it.get("operator").and_then(Value::as_str).unwrap_or("");
        if !FILTER_FIELDS.contains(&field) {
            return Err(GraphError::invalid_param(format!(
                "(#100) Filtering field {field} is invalid. The emulator filters on: {}",
                FILTER_FIELDS.join(", ")
            )));
        }
        if !matches!(
            operator,
            "EQUAL" | "NOT_EQUAL" | "IN" | "NOT_IN" | "CONTAIN" | "NOT_CONTAIN"
        ) {
            return Err(GraphError::invalid_param(format!(
                "(#100) Filtering operator {operator} is invalid for {field}."
            )));
        }
        let values = match it.get("value") {
            Some(Value::Array(a)) => a.iter().map(scalar).collect(),
            Some(v) => vec![scalar(v)],
            None => Vec::new(),
        };
        out.push(Filter {
            field: field.into(),
            operator: operator.into(),
            values,
        });
    }
    Ok(out)
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn passes(ctx: &Ctx, ad: &Obj, filters: &[Filter]) -> bool {
    filters.iter().all(|f| {
        let (level, attr) = f.field.split_once('.').unwrap_or(("ad", "id"));
        let obj = match level {
            "campaign" => ad.str_field("campaign_id").and_then(|i| ctx.st.objects.get(i)),
            "adset" => ad.str_field("adset_id").and_then(|i| ctx.st.objects.get(i)),
            _ => Some(ad),
        };
        let actual = match (obj, attr) {
            (Some(o), "id") => o.id.clone(),
            (Some(o), "name") => o.str_field("name").unwrap_or("").to_string(),
            (Some(o), _) => graph::effective_status(ctx.st, ctx.cfg, o, ctx.now),
            (None, _) => String::new(),
        };
        let any_eq = f.values.contains(&actual);
        let any_contains = f.values.iter().any(|v| actual.contains(v.as_str()));
        match f.operator.as_str() {
            "EQUAL" | "IN" => any_eq,
            "NOT_EQUAL" | "NOT_IN" => !any_eq,
            "CONTAIN" => any_contains,
            _ => !any_contains,
        }
    })
}

/// Metrics of one ad on one day, in the account currency's minor units.
#[derive(Clone, Copy, Default, Debug)]
struct Day {
    spend: i64,
    impressions: i64,
    clicks: i64,
    reach: i64,
    link_clicks: i64,
    landing_page_views: i64,
    purchases: i64,
    /// Value of the purchases, minor units.
    purchase_value: i64,
}

impl Day {
    fn add(&mut self, o: &Day) {
        self.spend = self.spend.saturating_add(o.spend);
        self.impressions = self.impressions.saturating_add(o.impressions);
        self.clicks = self.clicks.saturating_add(o.clicks);
        self.reach = self.reach.saturating_add(o.reach);
        self.link_clicks = self.link_clicks.saturating_add(o.link_clicks);
        self.landing_page_views = self.landing_page_views.saturating_add(o.landing_page_views);
        self.purchases = self.purchases.saturating_add(o.purchases);
        self.purchase_value = self.purchase_value.saturating_add(o.purchase_value);
    }
}

fn today(ctx: &Ctx) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(ctx.now)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

fn parse_query(ctx: &Ctx, target_level: Level, p: &Map<String, Value>) -> Result<Query, GraphError> {
    for name in UNSUPPORTED {
        let set = match p.get(*name) {
            Some(Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
            None => false,
        };
        if set {
            return Err(GraphError::rule(
                "Not Supported by the Emulator",
                format!("The emulator does not compute insights with {name}; leave it out."),
            ));
        }
    }
    if let Some(Value::Array(a)) = p.get("action_breakdowns") {
        if a.iter().any(|v| v != "action_type") {
            return Err(GraphError::rule(
                "Not Supported by the Emulator",
                "The emulator breaks actions down by action_type only.",
            ));
        }
    }
    let filters = parse_filters(p.get("filtering"))?;
    let fields: Vec<String> = match p.get("fields").or(None) {
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => match ctx.req.param("fields") {
            Some(f) => f
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            None => vec!["impressions".into(), "spend".into()],
        },
    };
    for f in &fields {
        if !table().has_field("AdsInsights", f) {
            return Err(GraphError::invalid_param(format!(
                "(#100) {f} is not valid for fields param. please check \
                 https://developers.facebook.com/docs/marketing-api/reference/ads-insights/ for all valid values"
            )));
        }
    }
    let level = match p.get("level").and_then(Value::as_str) {
        Some("account") => Level::Account,
        Some("campaign") => Level::Campaign,
        Some("adset") => Level::AdSet,
        Some("ad") => Level::Ad,
        _ => target_level,
    };
    let today = today(ctx);
    let (since, until) = if let Some(tr) = p.get("time_range") {
        let d = |k: &str| {
            tr.get(k)
                .and_then(Value::as_str)
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .ok_or_else(|| {
                    GraphError::invalid_param(format!(
                        "(#100) Param time_range must be a JSON object with since and until dates (YYYY-MM-DD); {k} is missing or invalid."
                    ))
                })
        };
        (d("since")?, d("until")?)
    } else {
        preset(
            p.get("date_preset").and_then(Value::as_str).unwrap_or("last_30d"),
            today,
        )
    };
    if since > until {
        return Err(GraphError::invalid_param(
            "(#100) time_range: since must be on or before until.",
        ));
    }
    let oldest = today.checked_sub_months(chrono::Months::new(37)).unwrap_or(today);
    if since < oldest {
        return Err(GraphError::new(
            3018,
            "(#3018) The start date of the time range cannot be beyond 37 months from the current date",
        ));
    }
    let increment = match p.get("time_increment").and_then(Value::as_str) {
        None | Some("all_days") => Increment::AllDays,
        Some("monthly") => Increment::Monthly,
        Some(n) => match n.parse::<u32>() {
            Ok(n @ 1..=90) => Increment::Days(n),
            _ => {
                return Err(GraphError::invalid_param(
                    "(#100) Param time_increment must be an integer from 1 to 90, monthly or all_days.",
                ))
            }
        },
    };
    Ok(Query {
        level,
        since,
        until,
        increment,
        fields,
        filters,
    })
}

fn preset(p: &str, today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let back = |n: u64| today.checked_sub_days(Days::new(n)).unwrap_or(today);
    let yesterday = back(1);
    let month_start = today.with_day(1).unwrap_or(today);
    match p {
        "today" => (today, today),
        "yesterday" => (yesterday, yesterday),
        "last_3d" => (back(3), yesterday),
        "last_7d" => (back(7), yesterday),
        "last_14d" => (back(14), yesterday),
        "last_28d" => (back(28), yesterday),
        "last_90d" => (back(90), yesterday),
        "this_month" => (month_start, today),
        "last_month" => {
            let end = month_start.checked_sub_days(Days::new(1)).unwrap_or(today);
            (end.with_day(1).unwrap_or(end), end)
        }
        "this_year" => (today.with_ordinal(1).unwrap_or(today), today),
        "maximum" | "data_maximum" => (back(36 * 30), today),
        _ => (back(30), yesterday),
    }
}

/// Live (not deleted) ads per ad set and per campaign, keyed `adset:{id}` / `campaign:{id}`.
fn ad_counts(ctx: &Ctx, account: &str) -> HashMap<String, i64> {
    let mut counts = HashMap::new();
    for id in ctx.st.ids(account, Kind::Ad) {
        let Some(ad) = ctx.st.objects.get(id).filter(|a| a.status() != "DELETED") else {
            continue;
        };
        for (prefix, field) in [("adset", "adset_id"), ("campaign", "campaign_id")] {
            if let Some(parent) = ad.str_field(field) {
                *counts.entry(format!("{prefix}:{parent}")).or_insert(0) += 1;
            }
        }
    }
    counts
}

/// The daily budget share of one ad (minor units): its ad set's or campaign's budget split over their ads.
fn daily_share(ctx: &Ctx, ad: &Obj, counts: &HashMap<String, i64>) -> i64 {
    let budget_of = |o: &Obj| -> Option<i64> {
        if let Some(d) = o.fields.get("daily_budget").and_then(Value::as_i64) {
            return Some(d);
        }
        o.fields.get("lifetime_budget").and_then(Value::as_i64).map(|l| l / 30)
    };
    let split = |key: String, budget: i64| budget / counts.get(&key).copied().unwrap_or(1).max(1);
    let adset_id = ad.str_field("adset_id").unwrap_or("");
    if let Some(b) = ctx.st.objects.get(adset_id).and_then(budget_of) {
        return split(format!("adset:{adset_id}"), b);
    }
    let campaign_id = ad.str_field("campaign_id").unwrap_or("");
    if let Some(b) = ctx.st.objects.get(campaign_id).and_then(budget_of) {
        return split(format!("campaign:{campaign_id}"), b);
    }
    2000
}

fn day_metrics(seed: u64, ad: &Obj, share: i64, day: NaiveDate, today: NaiveDate) -> Day {
    let date = day.format("%Y-%m-%d").to_string();
    let h = util::hash64(&[&ad.id, &date, &seed.to_string()]);
    // Budgets beyond ten million a day (in minor units) count as that, so that the sums cannot overflow.
    let share = share.clamp(0, 1_000_000_000);
    let spend = share * (85 + (h % 16) as i64) / 100;
    let cpm = 300 + ((h >> 8) % 1200) as i64;
    let impressions = spend * 1000 / cpm;
    let ctr_bp = 50 + ((h >> 20) % 250) as i64;
    let clicks = impressions * ctr_bp / 10_000;
    let reach = impressions * (60 + ((h >> 32) % 30) as i64) / 100;
    let link_clicks = clicks * (70 + ((h >> 40) % 26) as i64) / 100;
    let landing_page_views = link_clicks * 70 / 100;
    // Conversions arrive late: the most recent days report only part of what they will.
    let age = (today - day).num_days();
    let maturity = match age {
        i64::MIN..=0 => 40,
        1 => 70,
        2 => 90,
        _ => 100,
    };
    let purchases = clicks * (2 + ((h >> 48) % 7) as i64) / 100 * maturity / 100;
    // Each order is worth 20 % to 60 % of the ad's daily budget share.
    let purchase_value = purchases * share * (20 + ((h >> 56) % 41) as i64) / 100;
    Day {
        spend,
        impressions,
        clicks,
        reach,
        link_clicks,
        landing_page_views,
        purchases,
        purchase_value,
    }
}

fn ratio(num: i64, den: i64, scale: i64) -> Option<String> {
    if den == 0 {
        return None;
    }
    let v = Decimal::from(num) * Decimal::from(scale) / Decimal::from(den);
    Some(v.round_dp(6).normalize().to_string())
}

/// Rows for a query over the ads under a target.
fn rows(ctx: &Ctx, target: &Target, q: &Query) -> Result<Vec<Value>, GraphError> {
    let (account, filter): (String, graph::ObjFilter) = match target {
        Target::Account(a) => (a.clone(), Box::new(|_| true)),
        Target::Object(id) => {
            let o = ctx
                .st
                .objects
                .get(id)
                .ok_or_else(|| GraphError::unsupported("GET", id))?;
            let id = id.clone();
            let f: graph::ObjFilter = match o.kind {
                Kind::Campaign => Box::new(move |a: &Obj| a.str_field("campaign_id") == Some(id.as_str())),
                Kind::AdSet => Box::new(move |a: &Obj| a.str_field("adset_id") == Some(id.as_str())),
                _ => Box::new(move |a: &Obj| a.id == id),
            };
            (o.account.clone(), f)
        }
    };
    let acct = ctx.st.accounts.get(&account);
    let currency = acct.map(|a| a.currency.clone()).unwrap_or_else(|| "USD".into());
    let account_name = acct.map(|a| a.name.clone()).unwrap_or_default();
    let today = today(ctx);
    let last = q.until.min(today);

    // (entity order, entity id, bucket start) -> (bucket stop, sums, sample ad)
    let mut groups: BTreeMap<(usize, String, NaiveDate), (NaiveDate, Day, String)> = BTreeMap::new();
    let counts = ad_counts(ctx, &account);
    for (order, ad_id) in ctx.st.ids(&account, Kind::Ad).iter().enumerate() {
        let Some(ad) = ctx.st.objects.get(ad_id) else { continue };
        // Deleted ads deliver nothing (and do not take a share of the budget).
        if !filter(ad) || ad.status() == "DELETED" || !passes(ctx, ad, &q.filters) {
            continue;
        }
        let share = daily_share(ctx, ad, &counts);
        let entity = match q.level {
            Level::Account => String::new(),
            Level::Campaign => ad.str_field("campaign_id").unwrap_or("").to_string(),
            Level::AdSet => ad.str_field("adset_id").unwrap_or("").to_string(),
            Level::Ad => ad.id.clone(),
        };
        let entity_order = match q.level {
            Level::Account => 0,
            Level::Ad => order,
            Level::Campaign | Level::AdSet => {
                let kind = if q.level == Level::Campaign {
                    Kind::Campaign
                } else {
                    Kind::AdSet
                };
                ctx.st
                    .ids(&account, kind)
                    .iter()
                    .position(|i| i == &entity)
                    .unwrap_or(usize::MAX)
            }
        };
        let mut day = q.since;
        while day <= last {
            let (start, stop) = bucket(q, day);
            let m = day_metrics(ctx.cfg.seed, ad, share, day, today);
            let g = groups
                .entry((entity_order, entity.clone(), start))
                .or_insert_with(|| (stop, Day::default(), ad.id.clone()));
            g.1.add(&m);
            day = match day.checked_add_days(Days::new(1)) {
                Some(d) => d,
                None => break,
            };
        }
    }

    let mut out = Vec::new();
    for ((_, _, start), (stop, d, sample_ad)) in groups {
        if d.impressions == 0 && d.spend == 0 {
            continue;
        }
        let ad = ctx.st.objects.get(&sample_ad);
        let name_of = |id: Option<&str>| -> Option<String> {
            id.and_then(|i| ctx.st.objects.get(i))
                .and_then(|o| o.str_field("name"))
                .map(str::to_string)
        };
        let campaign_id = ad.and_then(|a| a.str_field("campaign_id"));
        let adset_id = ad.and_then(|a| a.str_field("adset_id"));
        let mut row = Map::new();
        for f in &q.fields {
            let v = match f.as_str() {
                "account_id" => Some(json!(account)),
                "account_name" => Some(json!(account_name)),
                "account_currency" => Some(json!(currency)),
                "campaign_id" if q.level >= Level::Campaign => campaign_id.map(|c| json!(c)),
                "campaign_name" if q.level >= Level::Campaign => name_of(campaign_id).map(|n| json!(n)),
                "objective" if q.level >= Level::Campaign => campaign_id
                    .and_then(|c| ctx.st.objects.get(c))
                    .and_then(|c| c.str_field("objective"))
                    .map(|o| json!(o)),
                "adset_id" if q.level >= Level::AdSet => adset_id.map(|c| json!(c)),
                "adset_name" if q.level >= Level::AdSet => name_of(adset_id).map(|n| json!(n)),
                "ad_id" if q.level >= Level::Ad => Some(json!(sample_ad)),
                "ad_name" if q.level >= Level::Ad => name_of(Some(&sample_ad)).map(|n| json!(n)),
                "impressions" => Some(json!(d.impressions.to_string())),
                "clicks" => Some(json!(d.clicks.to_string())),
                "inline_link_clicks" => Some(json!(d.link_clicks.to_string())),
                "reach" => Some(json!(d.reach.to_string())),
                "spend" => Some(json!(format_money(d.spend, &currency))),
                "frequency" => ratio(d.impressions, d.reach, 1).map(|v| json!(v)),
                "ctr" => ratio(d.clicks, d.impressions, 100).map(|v| json!(v)),
                "cpc" => money_ratio(d.spend, d.clicks, 1, &currency).map(|v| json!(v)),
                "cpm" => money_ratio(d.spend, d.impressions, 1000, &currency).map(|v| json!(v)),
                "cpp" => money_ratio(d.spend, d.reach, 1000, &currency).map(|v| json!(v)),
                "actions" => Some(actions(&d)),
                "action_values" => Some(action_values(&d, &currency)),
                "cost_per_action_type" => Some(cost_per_action(&d, &currency)),
                _ => None,
            };
            if let Some(v) = v {
                row.insert(f.clone(), v);
            }
        }
        row.insert("date_start".into(), json!(start.format("%Y-%m-%d").to_string()));
        row.insert("date_stop".into(), json!(stop.format("%Y-%m-%d").to_string()));
        out.push(Value::Object(row));
    }
    Ok(out)
}

fn bucket(q: &Query, day: NaiveDate) -> (NaiveDate, NaiveDate) {
    match q.increment {
        Increment::AllDays => (q.since, q.until),
        Increment::Days(n) => {
            let idx = (day - q.since).num_days() / n as i64;
            let start = q
                .since
                .checked_add_days(Days::new((idx * n as i64) as u64))
                .unwrap_or(day);
            let stop = start
                .checked_add_days(Days::new(n as u64 - 1))
                .unwrap_or(start)
                .min(q.until);
            (start, stop)
        }
        Increment::Monthly => {
            let first = day.with_day(1).unwrap_or(day);
            let next = first.checked_add_months(chrono::Months::new(1)).unwrap_or(first);
            let end = next.checked_sub_days(Days::new(1)).unwrap_or(first);
            (first.max(q.since), end.min(q.until))
        }
    }
}

fn money_ratio(spend_minor: i64, den: i64, scale: i64, currency: &str) -> Option<String> {
    if den == 0 {
        return None;
    }
    let major = Decimal::from(spend_minor) / Decimal::from(currency_offset(currency));
    Some(
        (major * Decimal::from(scale) / Decimal::from(den))
            .round_dp(6)
            .normalize()
            .to_string(),
    )
}

fn action_counts(d: &Day) -> Vec<(&'static str, i64)> {
    vec![
        ("link_click", d.link_clicks),
        ("landing_page_view", d.landing_page_views),
        ("offsite_conversion.fb_pixel_purchase", d.purchases),
        ("purchase", d.purchases),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .collect()
}

fn actions(d: &Day) -> Value {
    Value::Array(
        action_counts(d)
            .into_iter()
            .map(|(t, n)| json!({ "action_type": t, "value": n.to_string() }))
            .collect(),
    )
}

fn action_values(d: &Day, currency: &str) -> Value {
    if d.purchase_value == 0 {
        return Value::Array(Vec::new());
    }
    let v = format_money(d.purchase_value, currency);
    json!([
        { "action_type": "offsite_conversion.fb_pixel_purchase", "value": v },
        { "action_type": "purchase", "value": v },
    ])
}

fn cost_per_action(d: &Day, currency: &str) -> Value {
    Value::Array(
        action_counts(d)
            .into_iter()
            .filter_map(|(t, n)| money_ratio(d.spend, n, 1, currency).map(|v| json!({ "action_type": t, "value": v })))
            .collect(),
    )
}

fn target_level(ctx: &Ctx, target: &Target) -> Level {
    match target {
        Target::Account(_) => Level::Account,
        Target::Object(id) => match ctx.st.objects.get(id).map(|o| o.kind) {
            Some(Kind::Campaign) => Level::Campaign,
            Some(Kind::AdSet) => Level::AdSet,
            _ => Level::Ad,
        },
    }
}

/// `GET /{object}/insights`.
pub fn sync(ctx: &mut Ctx, target: Target, p: &Map<String, Value>) -> Result<Value, GraphError> {
    let q = parse_query(ctx, target_level(ctx, &target), p)?;
    let rows = rows(ctx, &target, &q)?;
    graph::page(ctx, rows)
}

/// `POST /{object}/insights`: start an async report run.
pub fn start_run(ctx: &mut Ctx, target: Target, p: &Map<String, Value>) -> Result<Value, GraphError> {
    let q = parse_query(ctx, target_level(ctx, &target), p)?;
    let (account, target_id) = match &target {
        Target::Account(a) => (a.clone(), format!("act_{a}")),
        Target::Object(id) => (
            ctx.st.objects.get(id).map(|o| o.account.clone()).unwrap_or_default(),
            id.clone(),
        ),
    };
    let params: Vec<Value> = ctx
        .req
        .params
        .iter()
        .filter(|(k, _)| k != "access_token" && k != "appsecret_proof")
        .map(|(k, v)| json!([k, v]))
        .collect();
    let mut fields = Map::new();
    fields.insert("target".into(), json!(target_id));
    fields.insert("params".into(), Value::Array(params));
    fields.insert("date_start".into(), json!(q.since.format("%Y-%m-%d").to_string()));
    fields.insert("date_stop".into(), json!(q.until.format("%Y-%m-%d").to_string()));
    let id = ctx.st.new_id(ctx.cfg.seed);
    ctx.st.insert(Obj {
        id: id.clone(),
        kind: Kind::AdReportRun,
        account,
        fields,
        created_ms: ctx.now,
        updated_ms: ctx.now,
        review: None,
        prev: None,
    });
    Ok(json!({ "report_run_id": id }))
}

fn progress(ctx: &Ctx, run: &Obj) -> u64 {
    let dur = ctx.cfg.report_run_duration.as_millis() as i64;
    if dur <= 0 {
        return 100;
    }
    (((ctx.now - run.created_ms).max(0) * 100) / dur).clamp(0, 100) as u64
}

/// Computed fields of an AdReportRun.
pub fn run_field(ctx: &Ctx, run: &Obj, name: &str) -> Option<Value> {
    let pct = progress(ctx, run);
    let done_ms = run.created_ms + ctx.cfg.report_run_duration.as_millis() as i64;
    Some(match name {
        "async_percent_completion" => json!(pct),
        "async_status" => json!(match pct {
            0 => "Job Not Started",
            100 => "Job Completed",
            _ => "Job Running",
        }),
        "is_running" => json!(pct < 100),
        "time_ref" => json!(run.created_ms / 1000),
        "time_completed" if pct == 100 => json!(done_ms / 1000),
        "date_start" | "date_stop" => run.fields.get(name)?.clone(),
        _ => return None,
    })
}

/// `GET /{report_run_id}/insights`.
pub fn run_results(ctx: &mut Ctx, id: &str) -> Result<Value, GraphError> {
    let run = ctx
        .st
        .objects
        .get(id)
        .cloned()
        .ok_or_else(|| GraphError::unsupported("GET", id))?;
    if progress(ctx, &run) < 100 {
        return Err(GraphError::invalid_param(
            "(#100) The report is not ready yet: poll the report run until async_status is Job Completed.",
        ));
    }
    let target_id = run.str_field("target").unwrap_or("").to_string();
    let target = match target_id.strip_prefix("act_") {
        Some(a) => Target::Account(a.to_string()),
        None => Target::Object(target_id.clone()),
    };
    let params: Vec<(String, String)> = run
        .fields
        .get("params")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|kv| Some((kv.get(0)?.as_str()?.to_string(), kv.get(1)?.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    // Re-validate the stored parameters as a GET on the target's insights edge.
    let node = match &target {
        Target::Account(_) => "AdAccount",
        Target::Object(id) => ctx.st.objects.get(id).map(|o| o.kind.node()).unwrap_or("Ad"),
    };
    let api = table()
        .api(node, "GET", Some("insights"))
        .ok_or_else(|| GraphError::unsupported("GET", id))?;
    let p = super::params::validate(api, &params, true)?;
    let q = parse_query(ctx, target_level(ctx, &target), &p)?;
    let rows = rows(ctx, &target, &q)?;
    graph::page(ctx, rows)
}
