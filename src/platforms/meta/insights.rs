//! Insights → `MetricRow`s: impressions, clicks, spend (exact money from Meta's decimal strings), conversions
//! from `actions`. Long ranges use an async report run, polled until `async_status` is "Job Completed" **and**
//! `async_percent_completion` is 100.

use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::Value as Json;

use super::client::{CallError, Method};
use super::mapping::money_from_decimal_str;
use super::wire::{self, ActionStat, InsightsRow, ReportRun};
use super::{act_id, MetaConnector};
use crate::connectors::{ConnectorError, DateRange, MetricRow, MetricsLevel};
use crate::model::{Account, Kind, Money};

/// Action types counted as conversions: the source-specific conversion events (pixel / Conversions API,
/// on-Facebook, app events). Aggregates such as `purchase`, `omni_purchase` or `lead` repeat those same events
/// and are left out so nothing is counted twice.
pub fn is_conversion(action_type: &str) -> bool {
    action_type.starts_with("offsite_conversion.")
        || action_type.starts_with("onsite_conversion.")
        || action_type.starts_with("app_custom_event.")
}

fn level_str(level: MetricsLevel) -> (&'static str, Kind) {
    match level {
        MetricsLevel::Campaign => ("campaign", Kind::Campaign),
        MetricsLevel::AdGroup => ("adset", Kind::AdSet),
        MetricsLevel::Ad => ("ad", Kind::Ad),
    }
}

fn decode(message: String) -> ConnectorError {
    ConnectorError::Api {
        platform: "meta",
        code: "decode".into(),
        message,
        hint: None,
    }
}

fn sum_actions(stats: &[ActionStat]) -> Result<Decimal, ConnectorError> {
    let mut total = Decimal::ZERO;
    for a in stats.iter().filter(|a| is_conversion(&a.action_type)) {
        if let Some(v) = &a.value {
            let d = Decimal::from_str(v.trim())
                .map_err(|_| decode(format!("action {}: `{v}` is not a number", a.action_type)))?;
            total += d;
        }
    }
    Ok(total)
}

fn sum_values(stats: &[ActionStat]) -> Result<Money, ConnectorError> {
    let mut total = Money::ZERO;
    for a in stats.iter().filter(|a| is_conversion(&a.action_type)) {
        if let Some(v) = &a.value {
            let m = money_from_decimal_str(&a.action_type, v).map_err(|e| decode(e.to_string()))?;
            total = total
                .checked_add(m)
                .ok_or_else(|| decode("conversion value overflow".into()))?;
        }
    }
    Ok(total)
}

/// One insights row → a metric row.
pub fn row_to_metric(row: &InsightsRow, kind: Kind) -> Result<MetricRow, ConnectorError> {
    let (id, name) = match kind {
        Kind::AdSet => (&row.adset_id, &row.adset_name),
        Kind::Ad => (&row.ad_id, &row.ad_name),
        _ => (&row.campaign_id, &row.campaign_name),
    };
    let date_s = row.date_start.as_deref().unwrap_or_default();
    let date = NaiveDate::parse_from_str(date_s, "%Y-%m-%d")
        .map_err(|_| decode(format!("insights row with date_start `{date_s}`")))?;
    let int = |field: &str, v: &Option<String>| -> Result<u64, ConnectorError> {
        match v.as_deref().map(str::trim) {
            None | Some("") => Ok(0),
            Some(s) => s
                .parse::<u64>()
                .map_err(|_| decode(format!("insights {field} `{s}` is not a count"))),
        }
    };
    let cost = match row.spend.as_deref().map(str::trim) {
        None | Some("") => Money::ZERO,
        Some(s) => money_from_decimal_str("spend", s).map_err(|e| decode(e.to_string()))?,
    };
    Ok(MetricRow {
        email: None,
        date,
        kind,
        id: id.clone().unwrap_or_default(),
        name: name.clone().unwrap_or_default(),
        impressions: int("impressions", &row.impressions)?,
        clicks: int("clicks", &row.clicks)?,
        cost,
        conversions: sum_actions(&row.actions)?.normalize(),
        conversion_value: sum_values(&row.action_values)?,
    })
}

fn params(level: &str, range: DateRange) -> Vec<(String, String)> {
    vec![
        ("level".into(), level.into()),
        ("fields".into(), wire::INSIGHTS_FIELDS.into()),
        (
            "time_range".into(),
            serde_json::json!({
                "since": range.since.format("%Y-%m-%d").to_string(),
                "until": range.until.format("%Y-%m-%d").to_string(),
            })
            .to_string(),
        ),
        ("time_increment".into(), "1".into()),
    ]
}

/// Poll a report run until it is "Job Completed" and 100 % done.
async fn wait_for_report(conn: &MetaConnector, run_id: &str) -> Result<(), ConnectorError> {
    let cfg = &conn.client().cfg;
    let start = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let j = conn
            .client()
            .get(
                run_id,
                &[(
                    "fields".into(),
                    "id,async_status,async_percent_completion,error_message,error_user_msg".into(),
                )],
            )
            .await
            .map_err(|e| conn.err(e))?;
        let run: ReportRun = serde_json::from_value(j).map_err(|e| decode(format!("report run: {e}")))?;
        let status = run.async_status.as_deref().unwrap_or("");
        let pct: u64 = run
            .async_percent_completion
            .as_deref()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0);
        match status {
            "Job Completed" if pct >= 100 => return Ok(()),
            "Job Failed" | "Job Skipped" => {
                return Err(ConnectorError::Api {
                    platform: "meta",
                    code: "report_run".into(),
                    message: format!(
                        "the insights report {run_id} ended with `{status}`: {}",
                        run.error_user_msg
                            .or(run.error_message)
                            .unwrap_or_else(|| "no reason given".into())
                    ),
                    hint: Some("retry with a shorter date range".into()),
                })
            }
            _ => {}
        }
        if start.elapsed() > cfg.report_timeout {
            return Err(ConnectorError::Api {
                platform: "meta",
                code: "report_run".into(),
                message: format!(
                    "the insights report {run_id} was still `{status}` at {pct}% after {} s",
                    cfg.report_timeout.as_secs()
                ),
                hint: Some("retry later or with a shorter date range".into()),
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

pub async fn metrics(
    conn: &MetaConnector,
    account: &Account,
    level: MetricsLevel,
    range: DateRange,
) -> Result<Vec<MetricRow>, ConnectorError> {
    if range.until < range.since {
        return Err(ConnectorError::Config(format!(
            "the date range {}..{} ends before it starts",
            range.since, range.until
        )));
    }
    let act = act_id(&account.platform_id);
    let (lvl, kind) = level_str(level);
    let p = params(lvl, range);
    let days = (range.until - range.since).num_days() + 1;
    let client = conn.client();
    let rows: Vec<Json> = if days > client.cfg.async_insights_after_days {
        let started = client
            .call(Method::Post, &format!("{act}/insights"), &p, false)
            .await
            .map_err(|e| conn.err(e))?;
        let run_id = started
            .get("report_run_id")
            .and_then(|v| match v {
                Json::String(s) => Some(s.clone()),
                Json::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .ok_or_else(|| decode("the async insights request returned no report_run_id".into()))?;
        wait_for_report(conn, &run_id).await?;
        client
            .get_all(&format!("{run_id}/insights"), &[])
            .await
            .map_err(|e: CallError| conn.err(e))?
    } else {
        client
            .get_all(&format!("{act}/insights"), &p)
            .await
            .map_err(|e| conn.err(e))?
    };
    rows.into_iter()
        .map(|j| {
            let row: InsightsRow = serde_json::from_value(j).map_err(|e| decode(format!("insights row: {e}")))?;
            row_to_metric(&row, kind)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_exact() {
        let row: InsightsRow = serde_json::from_value(serde_json::json!({
            "campaign_id": "1", "campaign_name": "Spring", "impressions": "1200", "clicks": "34",
            "spend": "56.78", "date_start": "2026-03-02", "date_stop": "2026-03-02",
            "actions": [
                {"action_type": "link_click", "value": "34"},
                {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "3"},
                {"action_type": "purchase", "value": "3"},
                {"action_type": "onsite_conversion.lead_grouped", "value": "1.5"}
            ],
            "action_values": [{"action_type": "offsite_conversion.fb_pixel_purchase", "value": "120.10"}]
        }))
        .unwrap();
        let m = row_to_metric(&row, Kind::Campaign).unwrap();
        assert_eq!(m.impressions, 1200);
        assert_eq!(m.clicks, 34);
        assert_eq!(m.cost, Money::from_micros(56_780_000));
        assert_eq!(m.conversions, Decimal::new(45, 1));
        assert_eq!(m.conversion_value, Money::from_micros(120_100_000));
        assert_eq!(m.date, NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        assert_eq!(m.id, "1");
    }

    #[test]
    fn bad_numbers_are_errors_not_panics() {
        let row: InsightsRow = serde_json::from_value(serde_json::json!({
            "campaign_id": "1", "impressions": "lots", "date_start": "2026-03-02"
        }))
        .unwrap();
        assert!(row_to_metric(&row, Kind::Campaign).is_err());
    }
}
