//! Normalised rows, aggregation by period, derived ratios from exact sums, totals that never cross currencies.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Level, StoredDay};
use crate::connectors::{DateRange, EmailMetrics, MetricRow};
use crate::model::{Account, Currency, Money, Platform};

/// How rows are bucketed in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Day,
    /// ISO weeks (Monday to Sunday).
    Week,
    Month,
    /// One row per object over the whole range.
    Total,
}

impl Bucket {
    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
            Bucket::Total => "total",
        }
    }

    /// The bucket a day falls in, clamped to the range: (label, first day, last day).
    pub fn of(self, d: NaiveDate, range: DateRange) -> (String, NaiveDate, NaiveDate) {
        let (label, since, until) = match self {
            Bucket::Day => (d.format("%Y-%m-%d").to_string(), d, d),
            Bucket::Week => {
                let monday = d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
                let iso = d.iso_week();
                (
                    format!("{}-W{:02}", iso.year(), iso.week()),
                    monday,
                    monday + Duration::days(6),
                )
            }
            Bucket::Month => {
                let first = d.with_day(1).unwrap_or(d);
                let next = first.checked_add_months(chrono::Months::new(1)).unwrap_or(first);
                (d.format("%Y-%m").to_string(), first, next - Duration::days(1))
            }
            Bucket::Total => ("total".to_string(), range.since, range.until),
        };
        (label, since.max(range.since), until.min(range.until))
    }
}

/// Exact sums of one group of rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sums {
    pub impressions: u64,
    pub clicks: u64,
    pub cost: Money,
    pub conversions: Decimal,
    pub conversion_value: Money,
    /// E-mail campaigns' figures (zero for ad platforms).
    pub email: EmailMetrics,
}

fn money_dec(m: Money) -> Decimal {
    Decimal::new(m.micros(), 6)
}

fn ratio(num: Decimal, den: Decimal, dp: u32) -> Option<Decimal> {
    if den.is_zero() {
        return None;
    }
    num.checked_div(den).map(|r| r.round_dp(dp).normalize())
}

impl Default for Sums {
    fn default() -> Sums {
        Sums {
            impressions: 0,
            clicks: 0,
            cost: Money::ZERO,
            conversions: Decimal::ZERO,
            conversion_value: Money::ZERO,
            email: EmailMetrics::default(),
        }
    }
}

fn add_email(a: &mut EmailMetrics, b: &EmailMetrics) {
    a.sent = a.sent.saturating_add(b.sent);
    a.opens = a.opens.saturating_add(b.opens);
    a.bounces = a.bounces.saturating_add(b.bounces);
    a.unsubscribes = a.unsubscribes.saturating_add(b.unsubscribes);
}

impl Sums {
    pub fn add_row(&mut self, r: &MetricRow) {
        self.impressions = self.impressions.saturating_add(r.impressions);
        self.clicks = self.clicks.saturating_add(r.clicks);
        self.cost = Money::from_micros(self.cost.micros().saturating_add(r.cost.micros()));
        self.conversions = self.conversions.saturating_add(r.conversions);
        self.conversion_value = Money::from_micros(
            self.conversion_value
                .micros()
                .saturating_add(r.conversion_value.micros()),
        );
        if let Some(e) = &r.email {
            add_email(&mut self.email, e);
        }
    }
    pub fn add(&mut self, o: &Sums) {
        self.impressions = self.impressions.saturating_add(o.impressions);
        self.clicks = self.clicks.saturating_add(o.clicks);
        self.cost = Money::from_micros(self.cost.micros().saturating_add(o.cost.micros()));
        self.conversions = self.conversions.saturating_add(o.conversions);
        self.conversion_value = Money::from_micros(
            self.conversion_value
                .micros()
                .saturating_add(o.conversion_value.micros()),
        );
        add_email(&mut self.email, &o.email);
    }
    /// Clicks per impression (a fraction, not a percentage).
    pub fn ctr(&self) -> Option<Decimal> {
        ratio(Decimal::from(self.clicks), Decimal::from(self.impressions), 6)
    }
    /// Cost per click, in the account currency.
    pub fn cpc(&self) -> Option<Decimal> {
        ratio(money_dec(self.cost), Decimal::from(self.clicks), 4)
    }
    /// Cost per conversion, in the account currency.
    pub fn cpa(&self) -> Option<Decimal> {
        ratio(money_dec(self.cost), self.conversions, 4)
    }
    /// Conversion value per unit of cost.
    pub fn roas(&self) -> Option<Decimal> {
        ratio(money_dec(self.conversion_value), money_dec(self.cost), 4)
    }
}

/// One normalised row: one object (or account) over one period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub period: String,
    pub since: NaiveDate,
    pub until: NaiveDate,
    pub platform: Platform,
    pub account: String,
    pub currency: Currency,
    pub level: Level,
    /// The YAML address of the object, or its platform name when it is not in the YAML.
    pub object: String,
    pub id: String,
    pub in_yaml: bool,
    pub sums: Sums,
}

/// A total over a group that shares one currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Total {
    /// `account`, `platform` or `currency`.
    pub scope: &'static str,
    pub platform: Option<Platform>,
    pub account: Option<String>,
    pub currency: Currency,
    pub sums: Sums,
}

/// One account's stored series, ready to report.
pub struct AccountInput<'a> {
    pub account: &'a Account,
    /// Platform id → YAML address (from the id map and `id:` pins).
    pub addresses: HashMap<String, String>,
    pub days: BTreeMap<NaiveDate, StoredDay>,
}

/// A whole report.
#[derive(Clone, Debug)]
pub struct Report {
    pub range: DateRange,
    pub level: Level,
    pub by: Bucket,
    pub rows: Vec<Row>,
    /// Per platform, currency and day (the charts' series).
    pub daily: BTreeMap<(Platform, Currency), BTreeMap<NaiveDate, Sums>>,
    pub account_totals: Vec<Total>,
    pub platform_totals: Vec<Total>,
    pub currency_totals: Vec<Total>,
}

impl Report {
    pub fn build(inputs: &[AccountInput<'_>], range: DateRange, level: Level, by: Bucket) -> Report {
        type Key = (NaiveDate, String, Platform, String, String);
        let mut groups: BTreeMap<Key, Row> = BTreeMap::new();
        let mut daily: BTreeMap<(Platform, Currency), BTreeMap<NaiveDate, Sums>> = BTreeMap::new();
        let mut accounts: BTreeMap<(String, Platform, Currency), Sums> = BTreeMap::new();
        for input in inputs {
            let a = input.account;
            let acct_total = accounts.entry((a.name.clone(), a.platform, a.currency)).or_default();
            let series = daily.entry((a.platform, a.currency)).or_default();
            for (date, day) in input.days.range(range.since..=range.until) {
                let (period, since, until) = by.of(*date, range);
                let s = series.entry(*date).or_default();
                for r in &day.rows {
                    s.add_row(r);
                    acct_total.add_row(r);
                    let (object, id, in_yaml) = if level == Level::Account {
                        (a.name.clone(), a.platform_id.clone(), true)
                    } else {
                        match input.addresses.get(&r.id) {
                            Some(addr) => (addr.clone(), r.id.clone(), true),
                            None => (r.name.clone(), r.id.clone(), false),
                        }
                    };
                    let row = groups
                        .entry((since, a.name.clone(), a.platform, object.clone(), id.clone()))
                        .or_insert_with(|| Row {
                            period: period.clone(),
                            since,
                            until,
                            platform: a.platform,
                            account: a.name.clone(),
                            currency: a.currency,
                            level,
                            object,
                            id,
                            in_yaml,
                            sums: Sums::default(),
                        });
                    row.sums.add_row(r);
                }
            }
        }
        let mut platforms: BTreeMap<(Platform, Currency), Sums> = BTreeMap::new();
        let mut currencies: BTreeMap<Currency, Sums> = BTreeMap::new();
        let mut account_totals = Vec::new();
        for ((name, platform, currency), sums) in accounts {
            platforms.entry((platform, currency)).or_default().add(&sums);
            currencies.entry(currency).or_default().add(&sums);
            account_totals.push(Total {
                scope: "account",
                platform: Some(platform),
                account: Some(name),
                currency,
                sums,
            });
        }
        Report {
            range,
            level,
            by,
            rows: groups.into_values().collect(),
            daily,
            account_totals,
            platform_totals: platforms
                .into_iter()
                .map(|((platform, currency), sums)| Total {
                    scope: "platform",
                    platform: Some(platform),
                    account: None,
                    currency,
                    sums,
                })
                .collect(),
            currency_totals: currencies
                .into_iter()
                .map(|(currency, sums)| Total {
                    scope: "currency",
                    platform: None,
                    account: None,
                    currency,
                    sums,
                })
                .collect(),
        }
    }
}

/// An amount in the major unit, exact (`12.34`, `5000`; finer amounts keep their digits).
pub fn money_str(m: Money, c: Currency) -> String {
    m.to_decimal_string(c)
}

/// Parse [`money_str`] back, exactly (any number of decimals down to micros).
pub fn parse_money(s: &str) -> Result<Money, String> {
    let d = Decimal::from_str(s.trim()).map_err(|_| format!("`{s}` is not an amount"))?;
    let micros = d
        .checked_mul(Decimal::from(1_000_000))
        .ok_or_else(|| format!("`{s}` is too large"))?;
    if !micros.fract().is_zero() {
        return Err(format!("`{s}` is finer than a micro"));
    }
    i64::try_from(micros)
        .map(Money::from_micros)
        .map_err(|_| format!("`{s}` is too large"))
}

fn opt(d: Option<Decimal>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// A row as CSV and JSON carry it: money and decimals as exact strings, derived ratios alongside.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlatRow {
    pub period: String,
    pub since: NaiveDate,
    pub until: NaiveDate,
    pub platform: Platform,
    pub account: String,
    pub currency: String,
    pub level: Level,
    pub object: String,
    pub id: String,
    pub in_yaml: bool,
    pub impressions: u64,
    pub clicks: u64,
    pub cost: String,
    pub conversions: String,
    pub conversion_value: String,
    /// Clicks / impressions (a fraction).
    pub ctr: String,
    pub cpc: String,
    pub cpa: String,
    pub roas: String,
    /// E-mails sent, unique opens, bounces and unsubscribes (e-mail platforms; 0 elsewhere).
    #[serde(default)]
    pub emails_sent: u64,
    #[serde(default)]
    pub opens: u64,
    #[serde(default)]
    pub bounces: u64,
    #[serde(default)]
    pub unsubscribes: u64,
}

impl Row {
    pub fn to_flat(&self) -> FlatRow {
        let s = &self.sums;
        FlatRow {
            period: self.period.clone(),
            since: self.since,
            until: self.until,
            platform: self.platform,
            account: self.account.clone(),
            currency: self.currency.code().to_string(),
            level: self.level,
            object: self.object.clone(),
            id: self.id.clone(),
            in_yaml: self.in_yaml,
            impressions: s.impressions,
            clicks: s.clicks,
            cost: money_str(s.cost, self.currency),
            conversions: s.conversions.normalize().to_string(),
            conversion_value: money_str(s.conversion_value, self.currency),
            ctr: opt(s.ctr()),
            cpc: opt(s.cpc()),
            cpa: opt(s.cpa()),
            roas: opt(s.roas()),
            emails_sent: s.email.sent,
            opens: s.email.opens,
            bounces: s.email.bounces,
            unsubscribes: s.email.unsubscribes,
        }
    }

    /// Read a row back; the derived ratios must agree with the sums.
    pub fn from_flat(f: &FlatRow) -> Result<Row, String> {
        let currency = Currency::from_code(&f.currency).map_err(|e| e.to_string())?;
        let sums = Sums {
            impressions: f.impressions,
            clicks: f.clicks,
            cost: parse_money(&f.cost)?,
            conversions: Decimal::from_str(&f.conversions)
                .map_err(|_| format!("`{}` is not a number", f.conversions))?,
            conversion_value: parse_money(&f.conversion_value)?,
            email: EmailMetrics {
                sent: f.emails_sent,
                opens: f.opens,
                bounces: f.bounces,
                unsubscribes: f.unsubscribes,
            },
        };
        let row = Row {
            period: f.period.clone(),
            since: f.since,
            until: f.until,
            platform: f.platform,
            account: f.account.clone(),
            currency,
            level: f.level,
            object: f.object.clone(),
            id: f.id.clone(),
            in_yaml: f.in_yaml,
            sums,
        };
        let back = row.to_flat();
        if (&back.ctr, &back.cpc, &back.cpa, &back.roas) != (&f.ctr, &f.cpc, &f.cpa, &f.roas) {
            return Err(format!(
                "row `{}` {}: the ratios do not match the sums",
                f.object, f.period
            ));
        }
        Ok(row)
    }
}

impl Total {
    pub fn label(&self) -> String {
        match (self.scope, &self.account, self.platform) {
            ("account", Some(a), _) => a.clone(),
            ("platform", _, Some(p)) => p.to_string(),
            _ => "all platforms".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Kind;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    #[test]
    fn ratios_come_from_exact_sums() {
        let mut s = Sums::default();
        for (imp, clk, cost, conv) in [(1000, 10, 5_000_000, "1"), (10, 10, 15_000_000, "0.5")] {
            s.add_row(&MetricRow {
                email: None,
                date: d(3, 1),
                kind: Kind::Campaign,
                id: "1".into(),
                name: "x".into(),
                impressions: imp,
                clicks: clk,
                cost: Money::from_micros(cost),
                conversions: Decimal::from_str(conv).unwrap(),
                conversion_value: Money::from_micros(cost * 3),
            });
        }
        // 20 / 1010, not the mean of 1 % and 100 %
        assert_eq!(s.ctr().unwrap(), Decimal::from_str("0.019802").unwrap());
        assert_eq!(s.cpc().unwrap(), Decimal::ONE);
        assert_eq!(s.cpa().unwrap(), Decimal::from_str("13.3333").unwrap());
        assert_eq!(s.roas().unwrap(), Decimal::from(3));
        assert_eq!(Sums::default().ctr(), None);
    }

    #[test]
    fn buckets() {
        let r = DateRange {
            since: d(3, 4),
            until: d(4, 2),
        };
        assert_eq!(Bucket::Week.of(d(3, 4), r), ("2026-W10".into(), d(3, 4), d(3, 8)));
        assert_eq!(Bucket::Month.of(d(4, 1), r), ("2026-04".into(), d(4, 1), d(4, 2)));
        assert_eq!(Bucket::Total.of(d(3, 9), r), ("total".into(), d(3, 4), d(4, 2)));
        assert_eq!(parse_money("12.345678").unwrap(), Money::from_micros(12_345_678));
        assert!(parse_money("0.0000001").is_err());
    }
}
