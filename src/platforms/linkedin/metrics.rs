//! Performance by object and day: `GET /rest/adAnalytics?q=analytics&pivot=…&timeGranularity=DAILY&dateRange=
//! (start:(year:Y,month:M,day:D),end:(…))&campaigns=List(urn…)&fields=…` — no paging (LinkedIn has none for
//! analytics), at most 20 fields per call (more are split and merged on pivot value and day), the account's
//! campaigns (any status) by 200 URNs, windows of 30 days (Airbyte's slices; the row cap per answer is not
//! confirmed). `MetricsLevel::Campaign` is LinkedIn's campaigns (pivot `CAMPAIGN`: `adsctl metrics --level
//! campaign` lists what LinkedIn calls campaigns), `AdGroup` their campaign groups (`CAMPAIGN_GROUP`), `Ad` the
//! creatives (`CREATIVE`). Money metrics are decimal strings in the account currency → exact micros.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::client::{date_range, CallError, Method, Query, Rv};
use super::config::MAX_ANALYTICS_FACETS;
use super::mapping::{self, campaign_urn, micros_of};
use super::read::decode;
use super::LinkedInConnector;
use crate::connectors::{ConnectorError, DateRange, MetricRow, MetricsLevel};
use crate::model::{Account, Kind, Money};

/// The metrics adsctl reads (besides `dateRange` and `pivotValues`).
pub const METRICS: [&str; 5] = [
    "impressions",
    "clicks",
    "costInLocalCurrency",
    "externalWebsiteConversions",
    "conversionValueInLocalCurrency",
];
/// Fields per call, `dateRange` and `pivotValues` included.
pub const MAX_FIELDS: usize = 20;
/// Days per call.
pub const WINDOW_DAYS: i64 = 30;
/// Every campaign status (metrics cover removed campaigns too).
const ALL_STATUSES: [&str; 8] = [
    "ACTIVE",
    "PAUSED",
    "ARCHIVED",
    "COMPLETED",
    "CANCELED",
    "DRAFT",
    "PENDING_DELETION",
    "REMOVED",
];

pub fn level_of(level: MetricsLevel) -> (&'static str, Kind) {
    match level {
        MetricsLevel::Campaign => ("CAMPAIGN", Kind::Campaign),
        MetricsLevel::AdGroup => ("CAMPAIGN_GROUP", Kind::CampaignGroup),
        MetricsLevel::Ad => ("CREATIVE", Kind::Creative),
    }
}

/// The `fields=` lists of the calls for `metrics`: each with `dateRange` and `pivotValues`, at most
/// [`MAX_FIELDS`] long.
pub fn field_sets<'a>(metrics: &[&'a str]) -> Vec<Vec<&'a str>> {
    metrics
        .chunks(MAX_FIELDS - 2)
        .map(|c| {
            let mut v = vec!["dateRange", "pivotValues"];
            v.extend_from_slice(c);
            v
        })
        .collect()
}

#[derive(Clone, Copy, Debug, Deserialize)]
struct Day {
    year: i32,
    month: u32,
    day: u32,
}

#[derive(Clone, Debug, Deserialize)]
struct Range {
    start: Day,
}

/// One element of an answer, with its metrics as raw JSON.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Element {
    #[serde(default)]
    pivot_values: Vec<String>,
    date_range: Option<Range>,
    #[serde(flatten)]
    metrics: BTreeMap<String, serde_json::Value>,
}

fn count(field: &str, v: Option<&serde_json::Value>) -> Result<u64, String> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(0),
        Some(serde_json::Value::Number(n)) => n.as_u64().ok_or_else(|| format!("{field}: `{n}` is not a count")),
        Some(serde_json::Value::String(s)) => s.trim().parse().map_err(|_| format!("{field}: `{s}` is not a count")),
        Some(other) => Err(format!("{field}: `{other}` is not a count")),
    }
}

fn number_text(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        _ => None,
    }
}

fn money(field: &str, v: Option<&serde_json::Value>) -> Result<Money, String> {
    match number_text(v) {
        None => Ok(Money::ZERO),
        Some(t) => micros_of(field, &t).map_err(|e| e.to_string()),
    }
}

fn decimal(field: &str, v: Option<&serde_json::Value>) -> Result<Decimal, String> {
    match number_text(v) {
        None => Ok(Decimal::ZERO),
        Some(t) => t
            .parse::<Decimal>()
            .map_err(|_| format!("{field}: `{t}` is not a number")),
    }
}

/// Merged metrics (pivot value, day) → field → raw value, from the answers of every field set.
type Merged = BTreeMap<(String, NaiveDate), BTreeMap<String, serde_json::Value>>;

fn merge(into: &mut Merged, body: &str) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Resp {
        #[serde(default)]
        elements: Vec<Element>,
    }
    let r: Resp = serde_json::from_str(body).map_err(|e| format!("adAnalytics answer: {e}"))?;
    for e in r.elements {
        let (Some(pivot), Some(range)) = (e.pivot_values.first(), e.date_range) else {
            continue;
        };
        let Some(date) = NaiveDate::from_ymd_opt(range.start.year, range.start.month, range.start.day) else {
            return Err(format!(
                "adAnalytics: a day {}-{}-{} that does not exist",
                range.start.year, range.start.month, range.start.day
            ));
        };
        into.entry((pivot.clone(), date)).or_default().extend(e.metrics);
    }
    Ok(())
}

/// Merged answers → rows (ids: numbers for groups and campaigns, the URN for creatives).
fn rows(merged: Merged, kind: Kind, names: &HashMap<String, String>) -> Result<Vec<MetricRow>, String> {
    let mut out = Vec::new();
    for ((pivot, date), m) in merged {
        let id = if kind == Kind::Creative {
            pivot.clone()
        } else {
            mapping::urn_id(&pivot).to_string()
        };
        let name = names.get(&id).cloned().unwrap_or_default();
        if super::lease::is_lease_name(&name) {
            continue;
        }
        out.push(MetricRow {
            email: None,
            date,
            kind,
            name: mapping::split_name(&name).0,
            impressions: count("impressions", m.get("impressions"))?,
            clicks: count("clicks", m.get("clicks"))?,
            cost: money("costInLocalCurrency", m.get("costInLocalCurrency"))?,
            conversions: decimal("externalWebsiteConversions", m.get("externalWebsiteConversions"))?,
            conversion_value: money(
                "conversionValueInLocalCurrency",
                m.get("conversionValueInLocalCurrency"),
            )?,
            id,
        });
    }
    Ok(out)
}

pub async fn metrics(
    conn: &LinkedInConnector,
    _account: &Account,
    level: MetricsLevel,
    range: DateRange,
) -> Result<Vec<MetricRow>, ConnectorError> {
    if range.until < range.since {
        return Ok(Vec::new());
    }
    let err = |e: CallError| conn.err(e);
    let (pivot, kind) = level_of(level);
    // the account's campaigns (any status), and the names of the pivot's objects
    let q = Query::new()
        .prim("q", "search")
        .rv("search", &LinkedInConnector::status_search(&ALL_STATUSES));
    let campaign_rows = conn
        .client
        .search_all(&conn.path("adCampaigns"), q, conn.client.cfg.search_page_size)
        .await
        .map_err(err)?;
    let campaigns: Vec<mapping::CampaignRow> = decode(&campaign_rows, "campaign").map_err(err)?;
    let mut names: HashMap<String, String> = HashMap::new();
    match kind {
        Kind::CampaignGroup => {
            for g in conn.groups(&ALL_STATUSES).await.map_err(err)? {
                if let (Some(id), Some(n)) = (g.id, g.name) {
                    names.insert(id, n);
                }
            }
        }
        Kind::Campaign => {
            for c in &campaigns {
                if let (Some(id), Some(n)) = (&c.id, &c.name) {
                    names.insert(id.clone(), n.clone());
                }
            }
        }
        _ => {
            for c in conn.creatives().await.map_err(err)? {
                if let (Some(id), Some(n)) = (c.id, c.name) {
                    names.insert(id, n);
                }
            }
            names.extend(
                conn.cache()
                    .names
                    .clone()
                    .into_iter()
                    .filter(|(k, _)| k.starts_with("urn:")),
            );
        }
    }
    let urns: Vec<String> = campaigns
        .iter()
        .filter_map(|c| c.id.as_deref())
        .map(campaign_urn)
        .collect();
    if urns.is_empty() {
        return Ok(Vec::new());
    }
    let mut merged = Merged::new();
    let mut from = range.since;
    while from <= range.until {
        let to = (from + chrono::Duration::days(WINDOW_DAYS - 1)).min(range.until);
        for chunk in urns.chunks(MAX_ANALYTICS_FACETS) {
            for fields in field_sets(&METRICS) {
                let q = Query::new()
                    .prim("q", "analytics")
                    .prim("pivot", pivot)
                    .prim("timeGranularity", "DAILY")
                    .rv("dateRange", &date_range(from, to))
                    .rv("campaigns", &Rv::list(chunk))
                    .fields(&fields);
                let a = conn.client.get(Method::Finder, "adAnalytics", &q).await.map_err(err)?;
                merge(&mut merged, &a.body).map_err(decode_err)?;
            }
        }
        from = to + chrono::Duration::days(1);
    }
    let mut out = rows(merged, kind, &names).map_err(decode_err)?;
    out.sort_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
    Ok(out)
}

fn decode_err(message: String) -> ConnectorError {
    ConnectorError::Api {
        platform: "linkedin",
        code: "decode".into(),
        message,
        hint: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_at_twenty() {
        let many: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let sets = field_sets(&refs);
        assert_eq!(sets.len(), 3);
        assert!(sets
            .iter()
            .all(|s| s.len() <= MAX_FIELDS && s[..2] == ["dateRange", "pivotValues"]));
        assert_eq!(field_sets(&METRICS).len(), 1);
    }

    #[test]
    fn answers_merge_into_exact_rows() {
        let mut m = Merged::new();
        merge(
            &mut m,
            r#"{"paging":{"start":0,"count":10,"links":[]},"elements":[
                {"pivotValues":["urn:li:sponsoredCampaign:7"],"dateRange":{"start":{"year":2026,"month":1,"day":2},"end":{"year":2026,"month":1,"day":2}},
                 "impressions":1000,"clicks":12,"costInLocalCurrency":"209.449","costInUsd":"209.449"}]}"#,
        )
        .unwrap();
        merge(
            &mut m,
            r#"{"elements":[{"pivotValues":["urn:li:sponsoredCampaign:7"],"dateRange":{"start":{"year":2026,"month":1,"day":2}},
                 "externalWebsiteConversions":3,"conversionValueInLocalCurrency":"45.10"}]}"#,
        )
        .unwrap();
        let names = HashMap::from([("7".to_string(), "Leads [adsctl-managed]".to_string())]);
        let r = rows(m, Kind::Campaign, &names).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].id, "7");
        assert_eq!(r[0].name, "Leads");
        assert_eq!(r[0].date, NaiveDate::from_ymd_opt(2026, 1, 2).unwrap());
        assert_eq!((r[0].impressions, r[0].clicks), (1000, 12));
        assert_eq!(r[0].cost, Money::from_micros(209_449_000));
        assert_eq!(r[0].conversions, Decimal::from(3));
        assert_eq!(r[0].conversion_value, Money::from_micros(45_100_000));
        let mut m = Merged::new();
        merge(&mut m, r#"{"elements":[{"pivotValues":["urn:li:sponsoredCreative:9"],"dateRange":{"start":{"year":2026,"month":1,"day":3}},"impressions":1}]}"#).unwrap();
        let r = rows(m, Kind::Creative, &HashMap::new()).unwrap();
        assert_eq!(r[0].id, "urn:li:sponsoredCreative:9");
        assert_eq!(r[0].cost, Money::ZERO);
        assert!(merge(&mut Merged::new(), "not json").is_err());
        assert_eq!(level_of(MetricsLevel::Campaign), ("CAMPAIGN", Kind::Campaign));
        assert_eq!(level_of(MetricsLevel::Ad), ("CREATIVE", Kind::Creative));
    }
}

#[cfg(test)]
mod wire_tests {
    use std::sync::Arc;

    use super::*;
    use crate::platforms::linkedin::testing::{account, connector, stub, Route};

    #[tokio::test]
    async fn analytics_are_asked_with_the_exact_query() {
        let route: Route = Arc::new(|_head: &str, target: &str, _body: &str| {
            if target.starts_with("/rest/adAccounts/501/adCampaigns?") {
                (
                    200,
                    None,
                    r#"{"elements":[{"id":700,"name":"Leads [adsctl-managed]","status":"ARCHIVED"}],"metadata":{}}"#
                        .into(),
                )
            } else if target.starts_with("/rest/adAnalytics?") {
                (200, None, r#"{"paging":{"start":0,"count":10,"links":[]},"elements":[{"pivotValues":["urn:li:sponsoredCampaign:700"],
                    "dateRange":{"start":{"year":2026,"month":1,"day":31},"end":{"year":2026,"month":1,"day":31}},
                    "impressions":5,"clicks":1,"costInLocalCurrency":"1.5"}]}"#.into())
            } else {
                (404, None, "{}".into())
            }
        });
        let (url, seen) = stub(route).await;
        let c = connector(&url);
        let range = DateRange {
            since: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            until: NaiveDate::from_ymd_opt(2026, 2, 15).unwrap(),
        };
        let rows = metrics(&c, &account(&url), MetricsLevel::Campaign, range)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "the same day from both windows merges into one row");
        assert_eq!((rows[0].id.as_str(), rows[0].name.as_str()), ("700", "Leads"));
        assert_eq!(rows[0].cost, Money::from_micros(1_500_000));
        let log = seen.lock().unwrap();
        let calls: Vec<&String> = log.iter().filter(|l| l.contains("/rest/adAnalytics?")).collect();
        assert_eq!(calls.len(), 2, "two 30-day windows: {log:?}");
        assert!(
            calls[0].starts_with(
                "GET FINDER /rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY\
                 &dateRange=(start:(year:2026,month:1,day:1),end:(year:2026,month:1,day:30))\
                 &campaigns=List(urn%3Ali%3AsponsoredCampaign%3A700)\
                 &fields=dateRange,pivotValues,impressions,clicks,costInLocalCurrency,externalWebsiteConversions,\
                 conversionValueInLocalCurrency "
            ),
            "{}",
            calls[0]
        );
        assert!(calls[1].contains("dateRange=(start:(year:2026,month:1,day:31),end:(year:2026,month:2,day:15))"));
    }
}
