//! The daily metrics series: one record per (account, pull level, day) in the state store, and the incremental pull.
//!
//! A day is pulled when it is missing, or when it was still inside the conversion lookback window at its
//! last pull (conversions arrive late: a day pulled 2 days after it happened is pulled again until a pull
//! happens at least `lookback_days` after it). A day pulled once it had settled is never asked for again.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{pull_level_str, MetricsError};
use crate::connectors::{Connector, DateRange, MetricRow, MetricsLevel};
use crate::model::Account;
use crate::state::{SledStore, StateError};

/// The default conversion lookback window, in days.
pub const DEFAULT_LOOKBACK_DAYS: u32 = 7;

/// What was stored for one account, level and day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDay {
    /// The day (in UTC) this day's numbers were pulled.
    pub pulled_on: NaiveDate,
    /// One row per object that had any activity (none: nothing delivered that day).
    pub rows: Vec<MetricRow>,
}

/// Where the daily series lives. Implemented by the sled state store (its own `metrics` tree) and in memory.
pub trait SeriesStore: Send + Sync {
    fn day_put(&self, account: &str, level: MetricsLevel, date: NaiveDate, day: &StoredDay) -> Result<(), StateError>;
    /// The stored days of an account and level within `since..=until`.
    fn days(
        &self,
        account: &str,
        level: MetricsLevel,
        since: NaiveDate,
        until: NaiveDate,
    ) -> Result<BTreeMap<NaiveDate, StoredDay>, StateError>;
}

fn key(account: &str, level: MetricsLevel, date: NaiveDate) -> String {
    // Unit separators: account names never contain them, dates sort as text.
    format!(
        "{account}\u{1f}{}\u{1f}{}",
        pull_level_str(level),
        date.format("%Y-%m-%d")
    )
}

impl SeriesStore for SledStore {
    fn day_put(&self, account: &str, level: MetricsLevel, date: NaiveDate, day: &StoredDay) -> Result<(), StateError> {
        let tree = self.tree("metrics")?;
        let bytes = serde_json::to_vec(day).map_err(|e| StateError::Storage(e.to_string()))?;
        tree.insert(key(account, level, date).as_bytes(), bytes)
            .map_err(|e| StateError::Storage(e.to_string()))?;
        Ok(())
    }

    fn days(
        &self,
        account: &str,
        level: MetricsLevel,
        since: NaiveDate,
        until: NaiveDate,
    ) -> Result<BTreeMap<NaiveDate, StoredDay>, StateError> {
        let tree = self.tree("metrics")?;
        let (from, to) = (key(account, level, since), key(account, level, until));
        let mut out = BTreeMap::new();
        for kv in tree.range(from.as_bytes()..=to.as_bytes()) {
            let (k, v) = kv.map_err(|e| StateError::Storage(e.to_string()))?;
            let corrupt = |message: String| StateError::Corrupt {
                key: String::from_utf8_lossy(&k).replace('\u{1f}', "/"),
                message,
            };
            let text = String::from_utf8_lossy(&k).into_owned();
            let date = text
                .rsplit('\u{1f}')
                .next()
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .ok_or_else(|| corrupt("the key holds no date".into()))?;
            let day: StoredDay = serde_json::from_slice(&v).map_err(|e| corrupt(e.to_string()))?;
            out.insert(date, day);
        }
        Ok(out)
    }
}

/// Every stored day of the sled series as (account, pull level, day, its JSON), in key order: what
/// `adsctl state copy` moves (as it is: nothing is decoded).
pub fn sled_all_days(s: &SledStore) -> Result<Vec<(String, String, NaiveDate, String)>, StateError> {
    let tree = s.tree("metrics")?;
    let mut out = Vec::new();
    for kv in tree.iter() {
        let (k, v) = kv.map_err(|e| StateError::Storage(e.to_string()))?;
        let key = String::from_utf8_lossy(&k).into_owned();
        let corrupt = |message: &str| StateError::Corrupt {
            key: key.replace('\u{1f}', "/"),
            message: message.into(),
        };
        let mut parts = key.split('\u{1f}');
        let (Some(account), Some(level), Some(date), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(corrupt("not an account, level and day"));
        };
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| corrupt("the key holds no date"))?;
        let body = String::from_utf8(v.to_vec()).map_err(|_| corrupt("not UTF-8"))?;
        out.push((account.to_string(), level.to_string(), date, body));
    }
    Ok(out)
}

/// Store one day's JSON as it is (a copied series), under its account, pull level (as text) and day.
pub fn sled_put_raw(s: &SledStore, account: &str, level: &str, date: NaiveDate, body: &str) -> Result<(), StateError> {
    let tree = s.tree("metrics")?;
    let key = format!("{account}\u{1f}{level}\u{1f}{}", date.format("%Y-%m-%d"));
    tree.insert(key.as_bytes(), body.as_bytes())
        .map_err(|e| StateError::Storage(e.to_string()))?;
    Ok(())
}

/// The series in memory (tests, and callers without a state directory).
#[derive(Debug, Default)]
pub struct MemorySeries {
    days: Mutex<BTreeMap<String, StoredDay>>,
}

impl SeriesStore for MemorySeries {
    fn day_put(&self, account: &str, level: MetricsLevel, date: NaiveDate, day: &StoredDay) -> Result<(), StateError> {
        self.days.lock().insert(key(account, level, date), day.clone());
        Ok(())
    }

    fn days(
        &self,
        account: &str,
        level: MetricsLevel,
        since: NaiveDate,
        until: NaiveDate,
    ) -> Result<BTreeMap<NaiveDate, StoredDay>, StateError> {
        let (from, to) = (key(account, level, since), key(account, level, until));
        let days = self.days.lock();
        Ok(days
            .range(from..=to)
            .filter_map(|(k, v)| {
                let d = NaiveDate::parse_from_str(k.rsplit('\u{1f}').next()?, "%Y-%m-%d").ok()?;
                Some((d, v.clone()))
            })
            .collect())
    }
}

/// How to pull.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncOptions {
    /// Today (UTC); days after it are never asked for.
    pub today: NaiveDate,
    /// Days whose conversions may still change: a day is re-pulled until a pull happens this many days after it.
    pub lookback_days: u32,
}

impl SyncOptions {
    pub fn new(today: NaiveDate) -> SyncOptions {
        SyncOptions {
            today,
            lookback_days: DEFAULT_LOOKBACK_DAYS,
        }
    }
}

/// What one account's sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// The ranges asked for, one connector call each.
    pub pulled: Vec<DateRange>,
    /// Days written to the series.
    pub days_stored: usize,
}

/// The ranges of `range` to pull, given what is stored (day → the day it was pulled on): missing days and days
/// that were still inside the lookback window when pulled, merged into contiguous ranges. Days after today are
/// left out.
pub fn plan_pulls(stored: &BTreeMap<NaiveDate, NaiveDate>, range: DateRange, opts: &SyncOptions) -> Vec<DateRange> {
    let mut out: Vec<DateRange> = Vec::new();
    let until = range.until.min(opts.today);
    let mut d = range.since;
    while d <= until {
        let needed = match stored.get(&d) {
            None => true,
            Some(pulled_on) => (*pulled_on - d).num_days() < i64::from(opts.lookback_days),
        };
        if needed {
            match out.last_mut() {
                Some(r) if r.until + Duration::days(1) == d => r.until = d,
                _ => out.push(DateRange { since: d, until: d }),
            }
        }
        d += Duration::days(1);
    }
    out
}

/// Bring one account's series for `range` up to date: pull what [`plan_pulls`] says, one connector call per
/// contiguous range, and store every day of each pulled range (days without rows too, so that they count as
/// pulled).
pub async fn sync_account(
    conn: &dyn Connector,
    account: &Account,
    store: &dyn SeriesStore,
    level: MetricsLevel,
    range: DateRange,
    opts: &SyncOptions,
) -> Result<SyncReport, MetricsError> {
    if range.until < range.since {
        return Err(MetricsError::Range {
            since: range.since,
            until: range.until,
        });
    }
    let stored: BTreeMap<NaiveDate, NaiveDate> = store
        .days(&account.name, level, range.since, range.until)?
        .into_iter()
        .map(|(d, s)| (d, s.pulled_on))
        .collect();
    let mut report = SyncReport::default();
    for r in plan_pulls(&stored, range, opts) {
        let rows = conn
            .metrics(account, level, r)
            .await
            .map_err(|source| MetricsError::Pull {
                account: account.name.clone(),
                source,
            })?;
        let mut by_day: BTreeMap<NaiveDate, Vec<MetricRow>> = BTreeMap::new();
        for row in rows {
            if row.date >= r.since && row.date <= r.until {
                by_day.entry(row.date).or_default().push(row);
            }
        }
        let mut d = r.since;
        while d <= r.until {
            let mut rows = by_day.remove(&d).unwrap_or_default();
            rows.sort_by(|a, b| a.id.cmp(&b.id));
            store.day_put(
                &account.name,
                level,
                d,
                &StoredDay {
                    pulled_on: opts.today,
                    rows,
                },
            )?;
            report.days_stored += 1;
            d += Duration::days(1);
        }
        report.pulled.push(r);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    #[test]
    fn plans_missing_days_and_the_lookback_window() {
        let opts = SyncOptions {
            today: d(3, 31),
            lookback_days: 7,
        };
        let range = DateRange {
            since: d(3, 1),
            until: d(3, 30),
        };
        // nothing stored: one range
        assert_eq!(plan_pulls(&BTreeMap::new(), range, &opts), vec![range]);
        // everything pulled today: only the days less than 7 days old
        let all: BTreeMap<_, _> = (1..=30).map(|i| (d(3, i), d(3, 31))).collect();
        assert_eq!(
            plan_pulls(&all, range, &opts),
            vec![DateRange {
                since: d(3, 25),
                until: d(3, 30)
            }]
        );
        // a hole in the middle, settled days around it
        let mut holes: BTreeMap<_, _> = (1..=24).map(|i| (d(3, i), d(3, 31))).collect();
        holes.remove(&d(3, 10));
        holes.remove(&d(3, 11));
        assert_eq!(
            plan_pulls(&holes, range, &opts),
            vec![
                DateRange {
                    since: d(3, 10),
                    until: d(3, 11)
                },
                DateRange {
                    since: d(3, 25),
                    until: d(3, 30)
                }
            ]
        );
        // a day pulled while fresh is asked for again later; a day pulled once settled never again
        let later = SyncOptions {
            today: d(4, 30),
            lookback_days: 7,
        };
        assert_eq!(plan_pulls(&all, range, &later).len(), 1);
        let settled: BTreeMap<_, _> = (1..=30).map(|i| (d(3, i), d(4, 30))).collect();
        assert!(plan_pulls(&settled, range, &later).is_empty());
        // the future is never asked for
        let future = DateRange {
            since: d(3, 30),
            until: d(4, 5),
        };
        assert_eq!(
            plan_pulls(&BTreeMap::new(), future, &opts),
            vec![DateRange {
                since: d(3, 30),
                until: d(3, 31)
            }]
        );
    }

    #[test]
    fn sled_series_round_trips_and_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let s = SledStore::open(dir.path()).unwrap();
        let day = StoredDay {
            pulled_on: d(3, 5),
            rows: vec![],
        };
        for i in 1..=5 {
            s.day_put("acme", MetricsLevel::Campaign, d(3, i), &day).unwrap();
        }
        s.day_put("acme2", MetricsLevel::Campaign, d(3, 2), &day).unwrap();
        s.day_put("acme", MetricsLevel::Ad, d(3, 2), &day).unwrap();
        let got = s.days("acme", MetricsLevel::Campaign, d(3, 2), d(3, 4)).unwrap();
        assert_eq!(got.keys().copied().collect::<Vec<_>>(), vec![d(3, 2), d(3, 3), d(3, 4)]);
        let m = MemorySeries::default();
        for i in 1..=5 {
            m.day_put("acme", MetricsLevel::Campaign, d(3, i), &day).unwrap();
        }
        m.day_put("acme2", MetricsLevel::Campaign, d(3, 2), &day).unwrap();
        assert_eq!(m.days("acme", MetricsLevel::Campaign, d(3, 2), d(3, 4)).unwrap(), got);
    }
}
