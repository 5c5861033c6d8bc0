//! Metrics: the BASIC auction report by object and day, normalised into `MetricRow`s.
//!
//! Up to `sync_report_max_days` (30: the pack's window for daily reports, unverified) the sync `GET
//! /report/integrated/get/` is paged at 1,000 rows; a longer range is one async task (`POST /report/task/create/`
//! with CSV_STRING output, then `GET /report/task/check/` until TikTok stops answering 40201 "not ready"), waited
//! for visibly and at most `report_timeout`. Metric values are strings, `"-"` for none; spend is in the
//! advertiser's currency and becomes micros exactly.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::client::{Body, CallError, Retry};
use super::config::MAX_PAGE_SIZE;
use super::errors::ErrorClass;
use super::mapping::{money_from_text, split_name};
use super::TikTokConnector;
use crate::connectors::{wait, ConnectorError, DateRange, MetricRow, MetricsLevel};
use crate::model::{Account, Kind, Money};

pub const REPORT_GET: &str = "report/integrated/get/";
pub const TASK_CREATE: &str = "report/task/create/";
pub const TASK_CHECK: &str = "report/task/check/";

/// The metrics always asked for (with the object's name, `campaign_name` / `adgroup_name` / `ad_name`).
pub const METRICS: [&str; 4] = ["spend", "impressions", "clicks", "conversion"];
/// The conversion value (unverified as the one TikTok reports for conversions). An advertiser or endpoint that
/// refuses it (40002 naming it) is asked again without it, and the value is 0; the refusal is remembered for the
/// process.
pub const VALUE_METRIC: &str = "total_purchase_value";

fn value_refused() -> &'static std::sync::atomic::AtomicBool {
    static REFUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    &REFUSED
}

fn metric_list(id_key: &str) -> Vec<String> {
    let mut m: Vec<String> = METRICS.iter().map(|s| s.to_string()).collect();
    m.push(format!("{}_name", id_key.trim_end_matches("_id")));
    if !value_refused().load(std::sync::atomic::Ordering::Relaxed) {
        m.push(VALUE_METRIC.to_string());
    }
    m
}

/// A refusal of the value metric: asked again without it.
fn refuses_value(e: &CallError) -> bool {
    e.api()
        .is_some_and(|a| a.code == 40002 && a.message.starts_with("metrics") && a.message.contains(VALUE_METRIC))
}

/// `data_level` and the id dimension of a level.
pub fn level_of(level: MetricsLevel) -> (&'static str, &'static str, Kind) {
    match level {
        MetricsLevel::Campaign => ("AUCTION_CAMPAIGN", "campaign_id", Kind::Campaign),
        MetricsLevel::AdGroup => ("AUCTION_ADGROUP", "adgroup_id", Kind::AdGroup),
        MetricsLevel::Ad => ("AUCTION_AD", "ad_id", Kind::Ad),
    }
}

/// One report row: `{"dimensions": {...}, "metrics": {...}}`, every value a string (ids may be numbers).
#[derive(Debug, Deserialize)]
pub struct ReportRow {
    #[serde(default)]
    pub dimensions: HashMap<String, Box<RawValue>>,
    #[serde(default)]
    pub metrics: HashMap<String, Box<RawValue>>,
}

/// The text of a raw value: a string's content, a number's digits as written.
fn text(raw: &RawValue) -> String {
    let t = raw.get().trim();
    if t.starts_with('"') {
        serde_json::from_str::<String>(t).unwrap_or_default()
    } else if t == "null" {
        String::new()
    } else {
        t.to_string()
    }
}

fn empty(s: &str) -> bool {
    let s = s.trim();
    s.is_empty() || s == "-" || s == "--"
}

fn count(field: &str, s: &str) -> Result<u64, String> {
    if empty(s) {
        return Ok(0);
    }
    let d = decimal(field, s)?;
    if !d.fract().is_zero() || d.is_sign_negative() {
        return Err(format!("{field}: `{s}` is not a count"));
    }
    u64::try_from(d).map_err(|_| format!("{field}: `{s}` is not a count"))
}

fn decimal(field: &str, s: &str) -> Result<Decimal, String> {
    if empty(s) {
        return Ok(Decimal::ZERO);
    }
    let t = s.trim().replace(',', "");
    t.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(&t))
        .map_err(|_| format!("{field}: `{s}` is not a number"))
}

fn money(field: &str, s: &str) -> Result<Money, String> {
    if empty(s) {
        return Ok(Money::ZERO);
    }
    money_from_text(field, &s.trim().replace(',', "")).map_err(|e| e.to_string())
}

/// `2026-01-01 00:00:00` or `2026-01-01` → the day.
fn day(s: &str) -> Option<NaiveDate> {
    let d = s.trim().get(..10)?;
    NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
}

/// A row's values by name (dimensions and metrics alike) → a `MetricRow`; `None` for a row without an id or
/// day (a total).
pub fn normalise(
    values: &HashMap<String, String>,
    id_key: &str,
    kind: Kind,
    names: &HashMap<String, String>,
) -> Result<Option<MetricRow>, String> {
    let get = |k: &str| values.get(k).map(String::as_str).unwrap_or("");
    let id = get(id_key).trim().to_string();
    let Some(date) = day(get("stat_time_day")) else {
        return Ok(None);
    };
    if empty(&id) {
        return Ok(None);
    }
    let name = match values.get(&format!("{}_name", id_key.trim_end_matches("_id"))) {
        Some(n) if !empty(n) => split_name(n).0,
        _ => names.get(&id).map(|n| split_name(n).0).unwrap_or_default(),
    };
    Ok(Some(MetricRow {
        email: None,
        date,
        kind,
        id,
        name,
        impressions: count("impressions", get("impressions"))?,
        clicks: count("clicks", get("clicks"))?,
        cost: money("spend", get("spend"))?,
        conversions: decimal("conversion", get("conversion"))?,
        conversion_value: money("total_purchase_value", get("total_purchase_value"))?,
    }))
}

fn row_values(r: ReportRow) -> HashMap<String, String> {
    r.dimensions
        .into_iter()
        .chain(r.metrics)
        .map(|(k, v)| (k, text(&v)))
        .collect()
}

/// Rows of a CSV report (header line of dimension and metric names).
pub fn csv_rows(csv_text: &str) -> Result<Vec<HashMap<String, String>>, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(csv_text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| format!("report CSV: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| format!("report CSV: {e}"))?;
        out.push(header.iter().cloned().zip(rec.iter().map(str::to_string)).collect());
    }
    Ok(out)
}

fn decode_err(message: String) -> ConnectorError {
    ConnectorError::Api {
        platform: "tiktok",
        code: "decode".into(),
        message,
        hint: None,
    }
}

pub async fn metrics(
    conn: &TikTokConnector,
    _account: &Account,
    level: MetricsLevel,
    range: DateRange,
) -> Result<Vec<MetricRow>, ConnectorError> {
    let (data_level, id_key, kind) = level_of(level);
    if range.until < range.since {
        return Ok(Vec::new());
    }
    let window = conn.client.cfg.sync_report_max_days.max(1);
    let days = (range.until - range.since).num_days() + 1;
    let names = conn.cache().names.clone();
    // windows of at most `window` days (the report's range limit)
    let mut windows = Vec::new();
    let mut from = range.since;
    while from <= range.until {
        let to = (from + chrono::Duration::days(window - 1)).min(range.until);
        windows.push((from.format("%Y-%m-%d").to_string(), to.format("%Y-%m-%d").to_string()));
        from = to + chrono::Duration::days(1);
    }
    let rows: Vec<HashMap<String, String>> = loop {
        let metrics = metric_list(id_key);
        let res = if days <= window {
            let (start, end) = &windows[0];
            sync(conn, data_level, id_key, &metrics, start, end).await
        } else {
            tasks(conn, data_level, id_key, &metrics, &windows).await
        };
        match res {
            Ok(rows) => break rows,
            Err(e) if refuses_value(&e) && metrics.iter().any(|m| m == VALUE_METRIC) => {
                tracing::info!("tiktok: {VALUE_METRIC} is refused; conversion values are reported as 0");
                value_refused().store(true, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => return Err(conn.err(e)),
        }
    };
    let mut out = Vec::new();
    for v in &rows {
        if let Some(r) = normalise(v, id_key, kind, &names).map_err(decode_err)? {
            // lease campaigns never deliver; they are not the account's campaigns
            if super::lease::is_lease_name(&r.name) {
                continue;
            }
            out.push(r);
        }
    }
    out.sort_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
    Ok(out)
}

/// The sync report of one window, paged at 1,000 rows.
async fn sync(
    conn: &TikTokConnector,
    data_level: &str,
    id_key: &str,
    metrics: &[String],
    start: &str,
    end: &str,
) -> Result<Vec<HashMap<String, String>>, CallError> {
    let q = conn
        .query()
        .plain("report_type", "BASIC")
        .plain("service_type", "AUCTION")
        .plain("data_level", data_level)
        .json("dimensions", &[id_key, "stat_time_day"])
        .json("metrics", metrics)
        .plain("start_date", start)
        .plain("end_date", end);
    let page_size = conn.client.cfg.page_size.min(MAX_PAGE_SIZE);
    let raw = conn.client.get_all(REPORT_GET, q, page_size).await?;
    raw.iter()
        .map(|r| serde_json::from_str::<ReportRow>(r.get()).map(row_values))
        .collect::<Result<_, _>>()
        .map_err(|e| CallError::Decode {
            message: format!("unexpected report row: {e}"),
        })
}

/// Async report tasks, one per window (all created first, then checked until each is done), waited for
/// visibly and at most `report_timeout`.
async fn tasks(
    conn: &TikTokConnector,
    data_level: &str,
    id_key: &str,
    metrics: &[String],
    windows: &[(String, String)],
) -> Result<Vec<HashMap<String, String>>, CallError> {
    let mut ids = Vec::new();
    for (start, end) in windows {
        let mut b = Body::new();
        b.put("advertiser_id", &conn.client.advertiser_id);
        b.put("report_type", "BASIC");
        b.put("service_type", "AUCTION");
        b.put("data_level", data_level);
        b.put("dimensions", &[id_key, "stat_time_day"]);
        b.put("metrics", metrics);
        b.put("start_date", start);
        b.put("end_date", end);
        b.put("output_format", "CSV_STRING");
        // a second task after a lost answer costs a task, never a duplicate object
        let data = conn.client.post(TASK_CREATE, &b, Retry::All).await?;
        ids.push(
            super::apply::created_id(&data, &["task_id"]).ok_or_else(|| CallError::Decode {
                message: "report/task/create/ answered without task_id".into(),
            })?,
        );
    }
    let cfg = &conn.client.cfg;
    let began = Instant::now();
    wait::announce(
        &format!(
            "TikTok: {} report task(s), at most {}",
            ids.len(),
            wait::human(cfg.report_timeout)
        ),
        Duration::ZERO,
    );
    let mut out = Vec::new();
    for task_id in ids {
        loop {
            let q = conn.query().plain("task_id", &task_id);
            match conn.client.get(TASK_CHECK, q).await {
                Ok(data) => {
                    if let Some(rows) = task_rows(&data).map_err(|e| CallError::Decode { message: e.to_string() })? {
                        out.extend(rows);
                        break;
                    }
                }
                Err(CallError::Api(e)) if e.class() == ErrorClass::NotReady => {}
                Err(e) => return Err(e),
            }
            if began.elapsed() >= cfg.report_timeout {
                return Err(CallError::Blocked(wait::TooLong::new(
                    format!("TikTok report task {task_id} is not ready"),
                    cfg.report_timeout,
                    Some(cfg.report_timeout),
                )));
            }
            let pause = cfg.report_poll.max(Duration::from_millis(10));
            wait::begin(
                &format!("TikTok: report task {task_id} not ready"),
                pause,
                wait::limit(None),
            )
            .map_err(CallError::Blocked)?;
            tokio::time::sleep(pause).await;
        }
    }
    Ok(out)
}

/// The rows of a finished task; `None` while it runs (`status` other than a success).
fn task_rows(data: &RawValue) -> Result<Option<Vec<HashMap<String, String>>>, ConnectorError> {
    let v: HashMap<String, Box<RawValue>> =
        serde_json::from_str(data.get()).map_err(|e| decode_err(format!("report/task/check/: {e}")))?;
    if let Some(st) = v.get("status").map(|s| text(s).to_ascii_uppercase()) {
        if !st.is_empty() && !matches!(st.as_str(), "SUCCESS" | "SUCCEEDED" | "DONE" | "COMPLETED" | "FINISHED") {
            if st.contains("FAIL") {
                return Err(ConnectorError::Api {
                    platform: "tiktok",
                    code: "report_failed".into(),
                    message: format!("the report task ended with status {st}"),
                    hint: Some("run again later".into()),
                });
            }
            return Ok(None);
        }
    }
    if let Some(list) = v.get("list") {
        let rows: Vec<ReportRow> =
            serde_json::from_str(list.get()).map_err(|e| decode_err(format!("report task rows: {e}")))?;
        return Ok(Some(rows.into_iter().map(row_values).collect()));
    }
    for key in ["report", "output", "data", "csv", "file_content", "content", "result"] {
        if let Some(raw) = v.get(key) {
            if raw.get().trim_start().starts_with('"') {
                return csv_rows(&text(raw)).map(Some).map_err(decode_err);
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_normalised_exactly() {
        let row: ReportRow = serde_json::from_str(
            r#"{"dimensions":{"campaign_id":"1800000000000000001","stat_time_day":"2026-01-02 00:00:00"},
                "metrics":{"spend":"12.34","impressions":"1000","clicks":"-","conversion":"2.5","total_purchase_value":"-"}}"#,
        )
        .unwrap();
        let names = HashMap::from([("1800000000000000001".to_string(), "Spring [adsctl-managed]".to_string())]);
        let r = normalise(&row_values(row), "campaign_id", Kind::Campaign, &names)
            .unwrap()
            .unwrap();
        assert_eq!(r.date, NaiveDate::from_ymd_opt(2026, 1, 2).unwrap());
        assert_eq!(r.cost, Money::from_micros(12_340_000));
        assert_eq!((r.impressions, r.clicks), (1000, 0));
        assert_eq!(r.conversions, Decimal::new(25, 1));
        assert_eq!(r.conversion_value, Money::ZERO);
        assert_eq!(r.name, "Spring");
        assert!(count("clicks", "1.5").is_err());
    }

    #[test]
    fn csv_reports_are_read() {
        let rows = csv_rows("ad_id,stat_time_day,spend,impressions\n5,2026-01-01 00:00:00,1.5,10\n").unwrap();
        let r = normalise(&rows[0], "ad_id", Kind::Ad, &HashMap::new())
            .unwrap()
            .unwrap();
        assert_eq!(r.cost, Money::from_micros(1_500_000));
        assert_eq!(r.impressions, 10);
    }
}
