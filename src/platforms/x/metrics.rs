//! Performance by object and day from X's stats.
//!
//! Levels: `campaign` → `CAMPAIGN`, `ad_group` → `LINE_ITEM`, `ad` → `PROMOTED_TWEET` (rows of kind
//! `promoted_post`, named by the tweet id). Entities are the account's objects of that level, deleted ones
//! included (`with_deleted=true`, drafts too), lease campaigns left out; `entity_ids` by 20.
//!
//! Days are the ACCOUNT's (`Account::time_zone`, else the account's `timezone` from `GET /12/accounts/{a}`, else
//! UTC): `granularity=DAY` with `start_time` at midnight of the first day and `end_time` at midnight after the
//! last (exclusive), both in the account's time zone, written in UTC. `placement=ALL_ON_TWITTER`,
//! `metric_groups=ENGAGEMENT,BILLING`.
//!
//! - Ranges of up to 7 × 24 hours (a range over a DST change counts its real hours): synchronous `GET /12/stats/accounts/{a}` (one call per 20 ids).
//! - Longer ranges: asynchronous jobs (`POST /12/stats/jobs/accounts/{a}`, windows of 89 days so that one over
//!   a DST change stays within 90 × 24 hours), polled with `GET
//!   …?job_ids=<id_str>` (the string id, never the numeric one, which passes 2^53) until `SUCCESS`, then the job's
//!   `url` is downloaded (gzip JSON, the sync schema) and decompressed.
//!
//! Metric arrays may be null (= nothing). impressions, clicks, and spend = `billed_charge_local_micro` (exact
//! micros). The pack's ENGAGEMENT and BILLING groups carry no conversions: conversions and conversion value are 0.
//! Days on which every metric is zero or null are left out.

use std::collections::HashMap;
use std::io::Read;

use chrono::{NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::Value as Json;

use super::client::{id_text, CallError, Query};
use super::config::{ASYNC_STATS_DAYS, MAX_STATS_IDS, SYNC_STATS_DAYS};
use super::lease::is_lease_name;
use super::mapping::split_name;
use super::XConnector;
use crate::connectors::{ConnectorError, DateRange, MetricRow, MetricsLevel};
use crate::model::{Account, Kind, Money};

pub fn level_of(level: MetricsLevel) -> (&'static str, Kind) {
    match level {
        MetricsLevel::Campaign => ("CAMPAIGN", Kind::Campaign),
        MetricsLevel::AdGroup => ("LINE_ITEM", Kind::AdGroup),
        MetricsLevel::Ad => ("PROMOTED_TWEET", Kind::PromotedPost),
    }
}

/// Midnight of `day` in `tz`, in UTC (`2026-05-19T07:00:00Z` for America/Los_Angeles in summer).
pub fn midnight(day: NaiveDate, tz: chrono_tz::Tz) -> String {
    let local = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    let t = tz
        .from_local_datetime(&local)
        .earliest()
        // a day without a midnight (a DST jump at 00:00): its first hour
        .or_else(|| tz.from_local_datetime(&(local + chrono::Duration::hours(1))).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&local));
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The windows of a range, each at most `days` long (inclusive days).
pub fn windows(range: DateRange, days: i64) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut start = range.since;
    while start <= range.until {
        let end = (start + chrono::Duration::days(days - 1)).min(range.until);
        out.push((start, end));
        start = end + chrono::Duration::days(1);
    }
    out
}

fn ints(v: Option<&Json>) -> Vec<Option<i64>> {
    match v {
        Some(Json::Array(a)) => a.iter().map(|x| x.as_i64()).collect(),
        _ => Vec::new(),
    }
}

/// A stats answer (sync, or a job's result) → rows, day `k` of each series being `since + k`.
pub fn parse_stats(
    body: &Json,
    since: NaiveDate,
    kind: Kind,
    names: &HashMap<String, String>,
) -> Result<Vec<MetricRow>, String> {
    let mut out = Vec::new();
    let Some(data) = body.get("data").and_then(Json::as_array) else {
        return Ok(out);
    };
    for entity in data {
        let Some(id) = entity.get("id").and_then(id_text) else {
            continue;
        };
        let mut per_day: HashMap<usize, (u64, u64, i64)> = HashMap::new();
        for seg in entity.get("id_data").and_then(Json::as_array).into_iter().flatten() {
            let m = seg.get("metrics").cloned().unwrap_or_default();
            for (k, v) in ints(m.get("impressions")).into_iter().enumerate() {
                per_day.entry(k).or_default().0 += u64::try_from(v.unwrap_or(0)).unwrap_or(0);
            }
            for (k, v) in ints(m.get("clicks")).into_iter().enumerate() {
                per_day.entry(k).or_default().1 += u64::try_from(v.unwrap_or(0)).unwrap_or(0);
            }
            for (k, v) in ints(m.get("billed_charge_local_micro")).into_iter().enumerate() {
                per_day.entry(k).or_default().2 += v.unwrap_or(0);
            }
        }
        let mut days: Vec<_> = per_day.into_iter().collect();
        days.sort_by_key(|(k, _)| *k);
        for (k, (impressions, clicks, spend)) in days {
            if impressions == 0 && clicks == 0 && spend == 0 {
                continue;
            }
            let date = since + chrono::Duration::days(i64::try_from(k).map_err(|e| e.to_string())?);
            out.push(MetricRow {
                email: None,
                date,
                kind,
                id: id.clone(),
                name: names.get(&id).cloned().unwrap_or_default(),
                impressions,
                clicks,
                cost: Money::from_micros(spend),
                conversions: Decimal::ZERO,
                conversion_value: Money::ZERO,
            });
        }
    }
    Ok(out)
}

/// gzip → text.
pub fn gunzip(bytes: &[u8]) -> Result<String, String> {
    let mut s = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut s)
        .map_err(|e| format!("the stats job's result is not gzip JSON: {e}"))?;
    Ok(s)
}

impl XConnector {
    /// The account's time zone: adsctl.yaml's, else X's.
    async fn time_zone(&self, account: &Account) -> Result<chrono_tz::Tz, CallError> {
        let name = match account.time_zone.clone().filter(|t| !t.trim().is_empty()) {
            Some(t) => t,
            None => {
                let a = self.client.get(&self.client.account_root(), &Query::new()).await?;
                a.data("account")?
                    .get("timezone")
                    .and_then(Json::as_str)
                    .unwrap_or("UTC")
                    .to_string()
            }
        };
        name.trim().parse::<chrono_tz::Tz>().map_err(|_| CallError::Decode {
            message: format!("`{name}` is not a time zone"),
        })
    }

    /// Ids and names of the level's entities (deleted and draft ones too; lease campaigns left out).
    async fn entities(&self, level: MetricsLevel) -> Result<HashMap<String, String>, CallError> {
        let all = || Query::new().set("with_deleted", "true").set("with_draft", "true");
        let mut names = HashMap::new();
        match level {
            MetricsLevel::Campaign => {
                for c in super::read::decode::<super::mapping::CampaignRow>(
                    &self.client.list_all(&self.path("campaigns"), all()).await?,
                    "campaign",
                )? {
                    if let (Some(id), Some(n)) = (c.id, c.name) {
                        if !is_lease_name(&n) {
                            names.insert(id, split_name(&n).0);
                        }
                    }
                }
            }
            MetricsLevel::AdGroup | MetricsLevel::Ad => {
                let rows = super::read::decode::<super::mapping::LineItemRow>(
                    &self.client.list_all(&self.path("line_items"), all()).await?,
                    "line item",
                )?;
                if level == MetricsLevel::AdGroup {
                    for l in rows {
                        if let (Some(id), Some(n)) = (l.id, l.name) {
                            names.insert(id, split_name(&n).0);
                        }
                    }
                } else {
                    let ids: Vec<String> = rows.into_iter().filter_map(|l| l.id).collect();
                    for chunk in ids.chunks(super::config::MAX_FILTER_IDS) {
                        let q = all().set("line_item_ids", chunk.join(","));
                        let tweets = super::read::decode::<super::mapping::PromotedTweetRow>(
                            &self.client.list_all(&self.path("promoted_tweets"), q).await?,
                            "promoted tweet",
                        )?;
                        for t in tweets {
                            if let (Some(id), Some(tw)) = (t.id, t.tweet_id) {
                                names.insert(id, tw);
                            }
                        }
                    }
                }
            }
        }
        Ok(names)
    }

    fn stats_query(
        &self,
        entity: &str,
        ids: &[String],
        since: NaiveDate,
        until: NaiveDate,
        tz: chrono_tz::Tz,
    ) -> Query {
        Query::new()
            .set("entity", entity)
            .set("entity_ids", ids.join(","))
            .set("start_time", midnight(since, tz))
            .set("end_time", midnight(until + chrono::Duration::days(1), tz))
            .set("granularity", "DAY")
            .set("placement", "ALL_ON_TWITTER")
            .set("metric_groups", "ENGAGEMENT,BILLING")
    }

    /// One asynchronous job: create, poll by `id_str`, download and decompress its result.
    async fn job(&self, q: Query) -> Result<Json, CallError> {
        let path = format!("stats/jobs/{}", self.client.account_root());
        let a = self
            .client
            .call(super::client::Verb::Post, &path, &q, None, super::client::Retry::All)
            .await?;
        let job = a.data("stats job")?;
        let id = job
            .get("id_str")
            .and_then(Json::as_str)
            .map(str::to_string)
            .ok_or_else(|| CallError::Decode {
                message: "the stats job has no id_str".into(),
            })?;
        for _ in 0..self.client.cfg.job_polls {
            let a = self.client.get(&path, &Query::new().set("job_ids", id.clone())).await?;
            let data = a.data("stats jobs")?;
            let job = data
                .as_array()
                .and_then(|jobs| {
                    jobs.iter()
                        .find(|j| j.get("id_str").and_then(Json::as_str) == Some(id.as_str()))
                })
                .cloned()
                .unwrap_or_default();
            match job.get("status").and_then(Json::as_str).unwrap_or("") {
                "SUCCESS" => {
                    let url = job.get("url").and_then(Json::as_str).ok_or_else(|| CallError::Decode {
                        message: "a finished stats job has no url".into(),
                    })?;
                    let bytes = self.client.download(url).await?;
                    let text = gunzip(&bytes).map_err(|message| CallError::Decode { message })?;
                    return serde_json::from_str(&text).map_err(|e| CallError::Decode {
                        message: format!("the stats job's result: {e}"),
                    });
                }
                "FAILED" | "CANCELLED" => {
                    return Err(CallError::Decode {
                        message: format!("X's stats job {id} ended {}", job["status"]),
                    })
                }
                _ => tokio::time::sleep(self.client.cfg.job_poll).await,
            }
        }
        Err(CallError::Decode {
            message: format!("X's stats job {id} did not finish in time: run again later"),
        })
    }

    pub(super) async fn metrics_inner(
        &self,
        account: &Account,
        level: MetricsLevel,
        range: DateRange,
    ) -> Result<Vec<MetricRow>, ConnectorError> {
        let err = |e: CallError| self.err(e);
        if range.until < range.since {
            return Ok(Vec::new());
        }
        let (entity, kind) = level_of(level);
        let tz = self.time_zone(account).await.map_err(err)?;
        let names = self.entities(level).await.map_err(err)?;
        let mut ids: Vec<String> = names.keys().cloned().collect();
        ids.sort();
        // the span in real hours (a day of a DST change has 23 or 25): sync only when it is within 7 × 24 h
        let span_hours = |since: NaiveDate, until: NaiveDate| {
            let at = |d: NaiveDate| chrono::DateTime::parse_from_rfc3339(&midnight(d, tz)).map_or(0, |t| t.timestamp());
            (at(until + chrono::Duration::days(1)) - at(since)) / 3600
        };
        let decode = |m: String| ConnectorError::Api {
            platform: "x",
            code: "decode".into(),
            message: m,
            hint: None,
        };
        let mut out = Vec::new();
        let (window, sync) = if span_hours(range.since, range.until) <= SYNC_STATS_DAYS * 24 {
            (SYNC_STATS_DAYS, true)
        } else {
            // one day short of the 90, so that a window over a DST change stays within 90 × 24 h
            (ASYNC_STATS_DAYS - 1, false)
        };
        for (since, until) in windows(range, window) {
            for chunk in ids.chunks(MAX_STATS_IDS) {
                let q = self.stats_query(entity, chunk, since, until, tz);
                let body = if sync {
                    let path = format!("stats/{}", self.client.account_root());
                    self.client
                        .get(&path, &q)
                        .await
                        .map_err(err)?
                        .json::<Json>("stats")
                        .map_err(err)?
                } else {
                    self.job(q).await.map_err(err)?
                };
                out.extend(parse_stats(&body, since, kind, &names).map_err(decode)?);
            }
        }
        out.sort_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn days_are_the_account_time_zones() {
        let la: chrono_tz::Tz = "America/Los_Angeles".parse().unwrap();
        assert_eq!(midnight(d("2026-05-19"), la), "2026-05-19T07:00:00Z");
        assert_eq!(midnight(d("2026-01-19"), la), "2026-01-19T08:00:00Z");
        assert_eq!(midnight(d("2026-01-19"), chrono_tz::UTC), "2026-01-19T00:00:00Z");
        let w = windows(
            DateRange {
                since: d("2026-01-01"),
                until: d("2026-01-20"),
            },
            7,
        );
        assert_eq!(w.len(), 3);
        assert_eq!(w[2], (d("2026-01-15"), d("2026-01-20")));
    }

    #[test]
    fn stats_arrays_with_nulls_become_exact_rows() {
        let body = serde_json::json!({
            "data_type": "stats", "time_series_length": 3,
            "data": [{"id": "8u94t", "id_data": [{"segment": null, "metrics": {
                "impressions": [1233, 0, 7], "clicks": [58, null, 0], "retweets": null,
                "billed_charge_local_micro": [9007199254740993i64, null, 0]
            }}]}, {"id": "8v7jo", "id_data": [{"segment": null, "metrics": {"impressions": null, "clicks": null}}]}]
        });
        let names: HashMap<String, String> = [("8u94t".to_string(), "G".to_string())].into();
        let rows = parse_stats(&body, d("2026-05-19"), Kind::AdGroup, &names).unwrap();
        assert_eq!(rows.len(), 2, "the all-zero day and the all-null entity are left out");
        assert_eq!(rows[0].date, d("2026-05-19"));
        assert_eq!(rows[0].impressions, 1233);
        assert_eq!(rows[0].clicks, 58);
        assert_eq!(rows[0].cost, Money::from_micros(9_007_199_254_740_993));
        assert_eq!(rows[0].name, "G");
        assert_eq!(rows[1].date, d("2026-05-21"));
        assert_eq!(rows[1].impressions, 7);
        assert_eq!(level_of(MetricsLevel::Ad), ("PROMOTED_TWEET", Kind::PromotedPost));
    }

    #[test]
    fn job_results_are_gunzipped() {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(br#"{"data":[]}"#).unwrap();
        assert_eq!(gunzip(&e.finish().unwrap()).unwrap(), r#"{"data":[]}"#);
        assert!(gunzip(b"not gzip").is_err());
    }
}
