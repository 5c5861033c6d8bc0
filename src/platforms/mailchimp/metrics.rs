//! Metrics (`docs/resource-model.md` § Mailchimp, Metrics): `GET /reports` of the range's send times, one row
//! per regular campaign of the audience, on its send day (UTC): clicks, e-mail figures (sent, unique opens, hard +
//! soft bounces, unsubscribes) and the e-commerce revenue, exact, when its currency is the account's.

use std::str::FromStr;

use chrono::{Duration, NaiveTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::Value as Json;

use super::client::q;
use super::mapping::{parse_time, rfc3339, split_title};
use super::MailchimpConnector;
use crate::connectors::{ConnectorError, DateRange, EmailMetrics, MetricRow, MetricsLevel};
use crate::model::{Account, Kind, Money};

/// An amount in a JSON number, exactly as its digits say, in micros (sub-micro digits are rounded half away from
/// zero: Mailchimp reports cents).
pub fn exact_micros(v: &Json) -> Option<i64> {
    let text = match v {
        Json::Number(n) => n.to_string(),
        Json::String(s) => s.trim().to_string(),
        _ => return None,
    };
    let d = Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()?;
    let m = (d * Decimal::from(1_000_000)).round();
    i64::try_from(m).ok()
}

fn count(v: &Json, p: &str) -> u64 {
    v.pointer(p).and_then(Json::as_u64).unwrap_or(0)
}

/// One report as a row (None when it has no send time).
pub fn row_of(account: &Account, r: &Json) -> Option<MetricRow> {
    let sent_at = parse_time(r.get("send_time")?.as_str()?)?;
    let id = super::client_id(r.get("id")?)?;
    let title = r.get("campaign_title").and_then(Json::as_str).unwrap_or("");
    let (name, _, _) = split_title(title);
    let ecommerce = r.get("ecommerce");
    let same_currency = ecommerce
        .and_then(|e| e.get("currency_code"))
        .and_then(Json::as_str)
        .is_some_and(|c| c.eq_ignore_ascii_case(account.currency.code()));
    let revenue = if same_currency {
        ecommerce
            .and_then(|e| e.get("total_revenue"))
            .and_then(exact_micros)
            .unwrap_or(0)
    } else {
        0
    };
    Some(MetricRow {
        date: sent_at.date_naive(),
        kind: Kind::Campaign,
        id,
        name,
        impressions: 0,
        clicks: count(r, "/clicks/clicks_total"),
        cost: Money::ZERO,
        conversions: Decimal::ZERO,
        conversion_value: Money::from_micros(revenue),
        email: Some(EmailMetrics {
            sent: count(r, "/emails_sent"),
            opens: count(r, "/opens/unique_opens"),
            bounces: count(r, "/bounces/hard_bounces") + count(r, "/bounces/soft_bounces"),
            unsubscribes: count(r, "/unsubscribed"),
        }),
    })
}

impl MailchimpConnector {
    pub(crate) async fn metrics_inner(
        &self,
        account: &Account,
        _level: MetricsLevel,
        range: DateRange,
    ) -> Result<Vec<MetricRow>, ConnectorError> {
        let since = Utc.from_utc_datetime(&range.since.and_time(NaiveTime::MIN));
        let before = Utc.from_utc_datetime(&range.until.and_time(NaiveTime::MIN)) + Duration::days(1);
        let (since, before) = (rfc3339(since), rfc3339(before));
        let reports = self
            .client
            .list_all(
                "reports",
                "reports",
                &q(&[
                    ("type", "regular"),
                    ("since_send_time", &since),
                    ("before_send_time", &before),
                ]),
            )
            .await
            .map_err(|e| self.err(e))?;
        let mut rows: Vec<MetricRow> = reports
            .iter()
            .filter(|r| {
                r.get("list_id")
                    .and_then(Json::as_str)
                    .is_none_or(|l| l == self.client.list_id)
            })
            // a scheduled campaign's send time is in the future: nothing sent yet
            .filter(|r| {
                r.get("send_time")
                    .and_then(Json::as_str)
                    .and_then(parse_time)
                    .is_some_and(|t| t <= Utc::now())
            })
            .filter_map(|r| row_of(account, r))
            .filter(|r| r.date >= range.since && r.date <= range.until)
            .collect();
        rows.sort_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revenue_is_exact() {
        let v: Json = serde_json::from_str(r#"{"a": 1234.56, "b": 0.1, "c": 7}"#).unwrap();
        assert_eq!(exact_micros(&v["a"]), Some(1_234_560_000));
        assert_eq!(exact_micros(&v["b"]), Some(100_000));
        assert_eq!(exact_micros(&v["c"]), Some(7_000_000));
    }
}
