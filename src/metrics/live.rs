//! The daemon's metrics sync: on its own interval (not every reconcile), pull the lookback window of each
//! account into the daily series, and read today's spend and clicks back from it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate, Utc};
use parking_lot::Mutex;

use super::series::{sync_account, SeriesStore, SyncOptions, DEFAULT_LOOKBACK_DAYS};
use super::{MetricsError, Sums};
use crate::connectors::{Connector, DateRange, MetricsLevel};
use crate::model::Account;

/// `ADSCTL_METRICS_INTERVAL_SECS`: how often the daemon pulls metrics (default 900 s).
pub const INTERVAL_ENV: &str = "ADSCTL_METRICS_INTERVAL_SECS";
/// `ADSCTL_METRICS_LOOKBACK_DAYS`: the conversion lookback window (default 7), shared with `adsctl metrics`.
pub const LOOKBACK_ENV: &str = "ADSCTL_METRICS_LOOKBACK_DAYS";

/// What one account did today so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Today {
    pub sums: Sums,
    /// Requests made by this call (0 when the interval had not passed).
    pub pulls: usize,
}

/// Remembers when each account was last synced.
#[derive(Debug)]
pub struct LiveSync {
    interval: Duration,
    lookback_days: u32,
    last: Mutex<HashMap<String, Instant>>,
}

impl LiveSync {
    pub fn new(interval: Duration, lookback_days: u32) -> LiveSync {
        LiveSync {
            interval,
            lookback_days,
            last: Mutex::new(HashMap::new()),
        }
    }

    /// From `ADSCTL_METRICS_INTERVAL_SECS` and `ADSCTL_METRICS_LOOKBACK_DAYS` (unset or unreadable: defaults).
    pub fn from_env() -> LiveSync {
        let num = |k: &str| std::env::var(k).ok().and_then(|v| v.trim().parse::<u64>().ok());
        LiveSync::new(
            Duration::from_secs(num(INTERVAL_ENV).unwrap_or(900)),
            num(LOOKBACK_ENV)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(DEFAULT_LOOKBACK_DAYS),
        )
    }

    /// Sync the account's lookback window when its interval has passed, then sum today's stored rows.
    pub async fn today(
        &self,
        conn: &dyn Connector,
        account: &Account,
        store: &dyn SeriesStore,
    ) -> Result<Today, MetricsError> {
        let today = Utc::now().date_naive();
        self.today_on(conn, account, store, today).await
    }

    pub async fn today_on(
        &self,
        conn: &dyn Connector,
        account: &Account,
        store: &dyn SeriesStore,
        today: NaiveDate,
    ) -> Result<Today, MetricsError> {
        let due = self
            .last
            .lock()
            .get(&account.name)
            .is_none_or(|t| t.elapsed() >= self.interval);
        let mut pulls = 0;
        if due {
            let back = i64::from(self.lookback_days.max(1)) - 1;
            let range = DateRange {
                since: today - Days::days(back),
                until: today,
            };
            let opts = SyncOptions {
                today,
                lookback_days: self.lookback_days,
            };
            let r = sync_account(conn, account, store, MetricsLevel::Campaign, range, &opts).await?;
            pulls = r.pulled.len();
            self.last.lock().insert(account.name.clone(), Instant::now());
        }
        let mut sums = Sums::default();
        if let Some(day) = store
            .days(&account.name, MetricsLevel::Campaign, today, today)?
            .get(&today)
        {
            for r in &day.rows {
                sums.add_row(r);
            }
        }
        Ok(Today { sums, pulls })
    }
}
