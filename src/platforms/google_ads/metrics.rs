//! Performance metrics by object and day (GAQL), exact: int64 counters from their JSON strings, the double
//! `conversions` / `conversionsValue` from their JSON number text (never through an f64).

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::connectors::{DateRange, MetricRow, MetricsLevel};
use crate::model::{Kind, Money};

use super::errors::GoogleAdsError;

pub fn query(level: MetricsLevel, range: DateRange) -> String {
    let (select, from) = match level {
        MetricsLevel::Campaign => ("campaign.id, campaign.name", "campaign"),
        MetricsLevel::AdGroup => ("ad_group.id, ad_group.name", "ad_group"),
        MetricsLevel::Ad => (
            "ad_group_ad.ad.id, ad_group_ad.ad_group, ad_group_ad.ad.name",
            "ad_group_ad",
        ),
    };
    format!(
        "SELECT {select}, segments.date, metrics.impressions, metrics.clicks, metrics.cost_micros, \
         metrics.conversions, metrics.conversions_value FROM {from} WHERE segments.date BETWEEN '{}' AND '{}'",
        range.since.format("%Y-%m-%d"),
        range.until.format("%Y-%m-%d")
    )
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    results: Vec<Row<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row<'a> {
    #[serde(default)]
    campaign: Option<Named>,
    #[serde(default)]
    ad_group: Option<Named>,
    #[serde(default)]
    ad_group_ad: Option<AdGroupAd>,
    #[serde(default)]
    segments: Segments,
    #[serde(default, borrow)]
    metrics: Option<Metrics<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Named {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AdGroupAd {
    #[serde(default)]
    ad_group: Option<String>,
    #[serde(default)]
    ad: Named,
}

#[derive(Deserialize, Default)]
struct Segments {
    #[serde(default)]
    date: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metrics<'a> {
    #[serde(default)]
    impressions: Option<String>,
    #[serde(default)]
    clicks: Option<String>,
    #[serde(default)]
    cost_micros: Option<String>,
    #[serde(default, borrow)]
    conversions: Option<&'a RawValue>,
    #[serde(default, borrow)]
    conversions_value: Option<&'a RawValue>,
}

fn raw_decimal(r: Option<&RawValue>) -> Result<Decimal, GoogleAdsError> {
    let Some(r) = r else { return Ok(Decimal::ZERO) };
    let text = r.get().trim().trim_matches('"');
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|e| GoogleAdsError::Decode(format!("metric `{text}`: {e}")))
}

fn int(s: Option<&String>) -> Result<u64, GoogleAdsError> {
    s.map(|s| {
        s.parse::<u64>()
            .map_err(|e| GoogleAdsError::Decode(format!("metric `{s}`: {e}")))
    })
    .transpose()
    .map(|o| o.unwrap_or(0))
}

/// Parse a searchStream body of the metrics query.
pub fn parse(level: MetricsLevel, body: &str) -> Result<Vec<MetricRow>, GoogleAdsError> {
    if body.trim().is_empty() {
        return Ok(Vec::new());
    }
    let chunks: Vec<Chunk> = if body.trim_start().starts_with('[') {
        serde_json::from_str(body).map_err(|e| GoogleAdsError::Decode(format!("metrics: {e}")))?
    } else {
        vec![serde_json::from_str(body).map_err(|e| GoogleAdsError::Decode(format!("metrics: {e}")))?]
    };
    let mut out = Vec::new();
    for row in chunks.into_iter().flat_map(|c| c.results) {
        let (kind, id, name) = match level {
            MetricsLevel::Campaign => {
                let n = row.campaign.unwrap_or_default();
                (Kind::Campaign, n.id, n.name)
            }
            MetricsLevel::AdGroup => {
                let n = row.ad_group.unwrap_or_default();
                (Kind::AdGroup, n.id, n.name)
            }
            MetricsLevel::Ad => {
                let a = row.ad_group_ad.unwrap_or_default();
                let group = a.ad_group.as_deref().map(super::mapping::id_of);
                let id = match (group, a.ad.id) {
                    (Some(g), Some(ad)) => Some(format!("{g}~{ad}")),
                    (None, ad) => ad,
                    (_, None) => None,
                };
                (Kind::Ad, id, a.ad.name)
            }
        };
        let Some(id) = id else { continue };
        let date = row
            .segments
            .date
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| GoogleAdsError::Decode("metrics row without segments.date".into()))?;
        let m = row.metrics;
        let (impressions, clicks, cost, conversions, value) = match &m {
            Some(m) => (
                int(m.impressions.as_ref())?,
                int(m.clicks.as_ref())?,
                m.cost_micros
                    .as_deref()
                    .map(|s| {
                        s.parse::<i64>()
                            .map_err(|e| GoogleAdsError::Decode(format!("cost_micros `{s}`: {e}")))
                    })
                    .transpose()?
                    .unwrap_or(0),
                raw_decimal(m.conversions)?,
                raw_decimal(m.conversions_value)?,
            ),
            None => (0, 0, 0, Decimal::ZERO, Decimal::ZERO),
        };
        // conversions_value is in the account currency: to micros, exact up to 1e-6 (rounded half-even past it).
        let value_micros = (value * Decimal::from(1_000_000_i64))
            .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointNearestEven);
        let value_micros = i64::try_from(value_micros)
            .map_err(|_| GoogleAdsError::Decode(format!("conversions_value `{value}` out of range")))?;
        out.push(MetricRow {
            email: None,
            date,
            kind,
            id,
            name: name.unwrap_or_default(),
            impressions,
            clicks,
            cost: Money::from_micros(cost),
            conversions: conversions.normalize(),
            conversion_value: Money::from_micros(value_micros),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_metrics() {
        let body = r#"[{"results":[{"campaign":{"resourceName":"customers/1/campaigns/5","id":"5","name":"Spring"},
          "segments":{"date":"2026-03-02"},
          "metrics":{"impressions":"1000","clicks":"37","costMicros":"12340000","conversions":3.3333333333333335,"conversionsValue":123.45}}]}]"#;
        let rows = parse(MetricsLevel::Campaign, body).unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!((r.impressions, r.clicks), (1000, 37));
        assert_eq!(r.cost, Money::from_micros(12_340_000));
        assert_eq!(r.conversions.to_string(), "3.3333333333333335");
        assert_eq!(r.conversion_value, Money::from_micros(123_450_000));
        assert_eq!(r.date, NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        let q = query(
            MetricsLevel::Campaign,
            DateRange {
                since: r.date,
                until: r.date,
            },
        );
        assert!(q.contains("segments.date BETWEEN '2026-03-02' AND '2026-03-02'"), "{q}");
        assert!(q.contains("metrics.conversions_value"));
    }

    #[test]
    fn ad_level_ids_are_composite() {
        let body = r#"[{"results":[{"adGroupAd":{"adGroup":"customers/1/adGroups/31","ad":{"id":"41"}},
          "segments":{"date":"2026-03-02"},"metrics":{"impressions":"5"}}]}]"#;
        let rows = parse(MetricsLevel::Ad, body).unwrap();
        assert_eq!(rows[0].id, "31~41");
        assert_eq!(rows[0].conversions, Decimal::ZERO);
    }
}
