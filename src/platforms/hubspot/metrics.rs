//! Metrics: per adsctl campaign and day, `GET …/{guid}/reports/metrics?startDate=&endDate=` (one day) —
//! `clicks` = `sessions`, `conversions` = `newContactsFirstTouch`. No impressions and no cost: HubSpot's spend is
//! what adsctl writes. Campaign level only; every day of the range gets its row (zeros included).

use rust_decimal::Decimal;

use super::client::{seg, Api, CallError, Query};
use super::mapping::campaign_fields;
use super::read::campaigns;
use super::HubSpotConnector;
use crate::connectors::{ConnectorError, DateRange, MetricRow, MetricsLevel};
use crate::model::{Account, Kind, Money};

pub async fn run(
    c: &HubSpotConnector,
    _account: &Account,
    level: MetricsLevel,
    range: DateRange,
) -> Result<Vec<MetricRow>, ConnectorError> {
    if level != MetricsLevel::Campaign || range.until < range.since {
        return Ok(Vec::new());
    }
    let err = |e: CallError| c.err(e);
    let mut rows = Vec::new();
    for camp in campaigns(c).await.map_err(err)? {
        let Some(id) = camp.get("id").and_then(|i| i.as_str()) else {
            continue;
        };
        let empty = serde_json::Map::new();
        let (name, _, owned) = campaign_fields(camp.get("properties").and_then(|p| p.as_object()).unwrap_or(&empty));
        if !owned {
            continue;
        }
        let mut day = range.since;
        while day <= range.until {
            let d = day.format("%Y-%m-%d").to_string();
            let q = Query::new().set("startDate", d.clone()).set("endDate", d);
            let path = format!("/{}/reports/metrics", seg(id));
            let v: serde_json::Value = c
                .client()
                .get(Api::Campaigns, &path, &q)
                .await
                .map_err(err)?
                .json("reports/metrics")
                .map_err(err)?;
            let n = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
            rows.push(MetricRow {
                date: day,
                kind: Kind::Campaign,
                id: id.to_string(),
                name: name.clone(),
                impressions: 0,
                clicks: n("sessions"),
                cost: Money::ZERO,
                conversions: Decimal::from(n("newContactsFirstTouch")),
                conversion_value: Money::ZERO,
                email: None,
            });
            day = match day.succ_opt() {
                Some(d) => d,
                None => break,
            };
        }
    }
    Ok(rows)
}
