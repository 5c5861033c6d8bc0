//! Rate limiting: token buckets per app and per ad account (governor), and adaptive throttling from the usage
//! headers Meta returns on every response (`X-App-Usage`, `X-Business-Use-Case-Usage`, `X-Ad-Account-Usage`).
//!
//! Buckets and usage are process-wide, keyed by app and by ad account, so two connectors for one account (or
//! many accounts of one app) share them.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::Value as Json;

use super::config::MetaConfig;
use crate::connectors::wait::{self, TooLong};

/// Two buckets: a per-minute burst and an hourly budget.
struct Buckets {
    minute: DefaultDirectRateLimiter,
    hour: DefaultDirectRateLimiter,
    per_minute: u32,
    per_hour: u32,
}

impl Buckets {
    fn new(per_minute: u32, per_hour: u32) -> Buckets {
        let pm = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let ph = NonZeroU32::new(per_hour.max(1)).unwrap_or(NonZeroU32::MIN);
        Buckets {
            minute: RateLimiter::direct(Quota::per_minute(pm)),
            hour: RateLimiter::direct(Quota::per_hour(ph)),
            per_minute: pm.get(),
            per_hour: ph.get(),
        }
    }

    /// Take `n` cells from both buckets (a batch of n calls counts n times), waiting as needed (said when long,
    /// refused beyond `limit`).
    async fn take(&self, n: u32, what: &str, limit: Option<Duration>) -> Result<(), TooLong> {
        let mut left = n.max(1);
        while left > 0 {
            // A request larger than a bucket's capacity takes what the smaller bucket holds at a time.
            let chunk = left.min(self.per_minute).min(self.per_hour);
            let cells = NonZeroU32::new(chunk).unwrap_or(NonZeroU32::MIN);
            let per_minute = format!("{what}: adsctl's budget of {} Meta calls per minute", self.per_minute);
            wait::bucket(&self.minute, cells, &per_minute, limit).await?;
            let per_hour = format!("{what}: adsctl's budget of {} Meta calls per hour", self.per_hour);
            wait::bucket(&self.hour, cells, &per_hour, limit).await?;
            left -= chunk;
        }
        Ok(())
    }
}

/// The latest usage Meta reported for one key.
#[derive(Clone, Copy, Debug, Default)]
struct Usage {
    /// Highest of call_count / total_cputime / total_time, percent.
    pct: u32,
    /// Do not send before this instant (estimated_time_to_regain_access).
    blocked_until: Option<Instant>,
}

fn buckets_for(key: String, per_minute: u32, per_hour: u32) -> Arc<Buckets> {
    static MAP: OnceLock<Mutex<HashMap<String, Arc<Buckets>>>> = OnceLock::new();
    let mut guard = MAP
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    guard
        .entry(key)
        .or_insert_with(|| Arc::new(Buckets::new(per_minute, per_hour)))
        .clone()
}

fn usage_for(key: String) -> Arc<Mutex<Usage>> {
    static MAP: OnceLock<Mutex<HashMap<String, Arc<Mutex<Usage>>>>> = OnceLock::new();
    let mut guard = MAP
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    guard.entry(key).or_default().clone()
}

/// The throttle of one (app, ad account) pair.
#[derive(Clone)]
pub struct Throttle {
    app_buckets: Arc<Buckets>,
    account_buckets: Arc<Buckets>,
    app_usage: Arc<Mutex<Usage>>,
    account_usage: Arc<Mutex<Usage>>,
    account_id: String,
    slow_above: u32,
    slow_max: Duration,
    max_wait: Duration,
    regain_minute: Duration,
    /// How often this throttle slowed down, and waited for access to return (status output, tests).
    slowed: Arc<AtomicU64>,
    waited: Arc<AtomicU64>,
}

/// Why a request may not be sent now: a wait longer than this run waits.
pub type Blocked = TooLong;

impl Throttle {
    pub fn new(cfg: &MetaConfig, app_key: &str, account_id: &str) -> Throttle {
        let (pm, ph) = (cfg.calls_per_minute, cfg.calls_per_hour);
        let bucket_key = |k: &str| format!("{k}|{pm}|{ph}");
        Throttle {
            app_buckets: buckets_for(bucket_key(app_key), pm, ph),
            account_buckets: buckets_for(bucket_key(account_id), pm, ph),
            app_usage: usage_for(format!("usage|{app_key}")),
            account_usage: usage_for(format!("usage|{account_id}")),
            account_id: account_id.to_string(),
            slow_above: cfg.slow_down_above_pct.min(99),
            slow_max: cfg.slow_down_max_delay,
            max_wait: cfg.max_regain_wait,
            regain_minute: cfg.regain_minute,
            slowed: Arc::default(),
            waited: Arc::default(),
        }
    }

    fn read(u: &Mutex<Usage>) -> Usage {
        *u.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn write(u: &Mutex<Usage>, f: impl FnOnce(&mut Usage)) {
        f(&mut u.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The delay adaptive throttling imposes now (0 below the threshold), and any hard block.
    pub fn pending_delay(&self) -> (Duration, Option<Duration>) {
        let now = Instant::now();
        let a = Self::read(&self.app_usage);
        let b = Self::read(&self.account_usage);
        let blocked = [a.blocked_until, b.blocked_until]
            .into_iter()
            .flatten()
            .filter(|t| *t > now)
            .max()
            .map(|t| t - now);
        let pct = a.pct.max(b.pct);
        let slow = if pct > self.slow_above {
            let over = (pct.min(100) - self.slow_above) as f64 / (100 - self.slow_above) as f64;
            self.slow_max.mul_f64(over.clamp(0.0, 1.0))
        } else {
            Duration::ZERO
        };
        (slow, blocked)
    }

    /// Wait until `calls` requests may be sent: a hard block first (bounded by `max_regain_wait`), then the
    /// buckets, then the adaptive slow-down.
    pub async fn acquire(&self, calls: u32) -> Result<(), Blocked> {
        let started = std::time::Instant::now();
        let result = self.acquire_inner(calls).await;
        crate::connectors::telemetry::record_rate_limit_wait(&self.account_id, started.elapsed());
        result
    }

    async fn acquire_inner(&self, calls: u32) -> Result<(), Blocked> {
        // A hard block: the connector's own cap (`max_regain_wait`) and the run's (`--max-wait`), whichever is
        // shorter; everything else: the run's.
        let limit = wait::max_wait();
        let (_, blocked) = self.pending_delay();
        if let Some(d) = blocked {
            let reason = format!(
                "Meta usage of ad account {} is at 100% (estimated_time_to_regain_access)",
                self.account_id
            );
            wait::begin_rate_limited(&reason, d, wait::limit(Some(self.max_wait)))?;
            self.waited.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(d).await;
        }
        self.app_buckets.take(calls, "this Meta app", limit).await?;
        self.account_buckets
            .take(calls, &format!("ad account {}", self.account_id), limit)
            .await?;
        let (slow, _) = self.pending_delay();
        if !slow.is_zero() {
            let reason = format!(
                "Meta usage of ad account {} is at {}%: slowing down",
                self.account_id,
                self.usage_pct()
            );
            wait::begin(&reason, slow, limit)?;
            self.slowed.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(slow).await;
        }
        Ok(())
    }

    /// Learn from a response's headers (name, value), names in any case.
    pub fn observe<'a>(&self, headers: impl IntoIterator<Item = (&'a str, &'a str)>) {
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            match name.as_str() {
                "x-app-usage" => {
                    if let Some(u) = parse_app_usage(value) {
                        Self::write(&self.app_usage, |s| s.pct = u);
                    }
                }
                "x-business-use-case-usage" => {
                    if let Some((pct, regain_min)) = parse_buc_usage(value, &self.account_id) {
                        let until = (regain_min > 0)
                            .then(|| Instant::now() + self.regain_minute.saturating_mul(regain_min as u32));
                        Self::write(&self.account_usage, |s| {
                            s.pct = pct;
                            s.blocked_until = until.or(s.blocked_until.filter(|t| *t > Instant::now()));
                        });
                    }
                }
                "x-ad-account-usage" => {
                    if let Some((pct, reset_s)) = parse_ad_account_usage(value) {
                        Self::write(&self.account_usage, |s| {
                            s.pct = s.pct.max(pct);
                            if pct >= 100 && reset_s > 0 {
                                // Seconds, on the same (possibly shortened) clock as the regain minutes.
                                let wait = self.regain_minute.mul_f64(reset_s as f64 / 60.0);
                                s.blocked_until = Some(Instant::now() + wait);
                            }
                        });
                    }
                }
                _ => {}
            }
        }
    }

    /// After a rate-limit error without a usable header: treat the account as at 100 %.
    pub fn saw_rate_limit(&self) {
        Self::write(&self.account_usage, |s| s.pct = 100);
    }

    /// (requests slowed down, waits for access to return) so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.slowed.load(Ordering::Relaxed), self.waited.load(Ordering::Relaxed))
    }

    /// The latest usage percentage (for status output and tests).
    pub fn usage_pct(&self) -> u32 {
        Self::read(&self.app_usage).pct.max(Self::read(&self.account_usage).pct)
    }
}

fn num(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn pct_of(o: &serde_json::Map<String, Json>) -> u32 {
    ["call_count", "total_cputime", "total_time", "acc_id_util_pct"]
        .iter()
        .filter_map(|k| o.get(*k).and_then(num))
        .fold(0.0_f64, f64::max)
        .clamp(0.0, 1000.0)
        .round() as u32
}

/// `X-App-Usage: {"call_count":28,"total_time":25,"total_cputime":25}` → highest percentage.
pub fn parse_app_usage(v: &str) -> Option<u32> {
    let j: Json = serde_json::from_str(v).ok()?;
    Some(pct_of(j.as_object()?))
}

/// `X-Business-Use-Case-Usage: {"<ad account id>":[{"type":"ads_management","call_count":95,...,
/// "estimated_time_to_regain_access":0}]}` → (highest percentage, minutes to regain) for this account
/// (keys with or without `act_`; every entry when the account is not named).
pub fn parse_buc_usage(v: &str, account_id: &str) -> Option<(u32, u64)> {
    let j: Json = serde_json::from_str(v).ok()?;
    let obj = j.as_object()?;
    let bare = account_id.trim_start_matches("act_");
    let mine: Vec<&Json> = obj
        .iter()
        .filter(|(k, _)| k.trim_start_matches("act_") == bare)
        .map(|(_, v)| v)
        .collect();
    let entries: Vec<&Json> = if mine.is_empty() { obj.values().collect() } else { mine };
    let mut pct = 0;
    let mut regain = 0u64;
    for e in entries.iter().flat_map(|e| e.as_array().into_iter().flatten()) {
        if let Some(o) = e.as_object() {
            pct = pct.max(pct_of(o));
            if let Some(m) = o.get("estimated_time_to_regain_access").and_then(num) {
                regain = regain.max(m.max(0.0).ceil() as u64);
            }
        }
    }
    Some((pct, regain))
}

/// `X-Ad-Account-Usage: {"acc_id_util_pct":9.67,"reset_time_duration":0,"ads_api_access_tier":"standard_access"}`
/// → (percentage, seconds to reset).
pub fn parse_ad_account_usage(v: &str) -> Option<(u32, u64)> {
    let j: Json = serde_json::from_str(v).ok()?;
    let o = j.as_object()?;
    let pct = o.get("acc_id_util_pct").and_then(num)?.clamp(0.0, 1000.0).round() as u32;
    let reset = o
        .get("reset_time_duration")
        .and_then(num)
        .unwrap_or(0.0)
        .max(0.0)
        .ceil() as u64;
    Some((pct, reset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_usage_headers() {
        assert_eq!(
            parse_app_usage(r#"{"call_count":28,"total_time":25,"total_cputime":30}"#),
            Some(30)
        );
        let buc = r#"{"1234":[{"type":"ads_management","call_count":95,"total_cputime":20,"total_time":20,"estimated_time_to_regain_access":3}],
                     "999":[{"type":"ads_management","call_count":5,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":0}]}"#;
        assert_eq!(parse_buc_usage(buc, "act_1234"), Some((95, 3)));
        assert_eq!(parse_buc_usage(buc, "act_999"), Some((5, 0)));
        assert_eq!(
            parse_ad_account_usage(r#"{"acc_id_util_pct":9.67,"reset_time_duration":0}"#),
            Some((10, 0))
        );
        assert!(parse_app_usage("not json").is_none());
    }

    fn cfg() -> MetaConfig {
        MetaConfig {
            slow_down_max_delay: Duration::from_millis(400),
            max_regain_wait: Duration::from_millis(50),
            regain_minute: Duration::from_millis(30),
            ..MetaConfig::default()
        }
    }

    #[test]
    fn slows_past_the_threshold_and_blocks_at_100() {
        let t = Throttle::new(&cfg(), "app:test-throttle", "act_test_throttle_1");
        assert_eq!(t.pending_delay(), (Duration::ZERO, None));
        t.observe([("X-App-Usage", r#"{"call_count":50}"#)]);
        assert_eq!(t.pending_delay().0, Duration::ZERO);
        t.observe([("x-app-usage", r#"{"call_count":100,"total_time":10}"#)]);
        assert_eq!(t.pending_delay().0, Duration::from_millis(400));
        t.observe([("x-app-usage", r#"{"call_count":80}"#)]);
        let d = t.pending_delay().0;
        assert!(d > Duration::ZERO && d < Duration::from_millis(400), "{d:?}");
        t.observe([(
            "X-Business-Use-Case-Usage",
            r#"{"act_test_throttle_1":[{"type":"ads_management","call_count":100,"estimated_time_to_regain_access":1}]}"#,
        )]);
        let blocked = t.pending_delay().1.expect("blocked");
        assert!(blocked <= Duration::from_millis(30));
    }

    #[tokio::test]
    async fn waits_out_a_short_block_and_refuses_a_long_one() {
        let t = Throttle::new(&cfg(), "app:test-throttle-2", "act_test_throttle_2");
        t.observe([(
            "x-business-use-case-usage",
            r#"{"act_test_throttle_2":[{"call_count":100,"estimated_time_to_regain_access":1}]}"#,
        )]);
        let start = Instant::now();
        t.acquire(1).await.unwrap();
        assert!(start.elapsed() >= Duration::from_millis(20));
        t.observe([(
            "x-business-use-case-usage",
            r#"{"act_test_throttle_2":[{"call_count":100,"estimated_time_to_regain_access":10}]}"#,
        )]);
        assert!(t.acquire(1).await.is_err());
    }

    #[tokio::test]
    async fn buckets_are_shared_per_account() {
        let c = MetaConfig {
            calls_per_minute: 3,
            calls_per_hour: 1000,
            ..MetaConfig::default()
        };
        let a = Throttle::new(&c, "app:bucket", "act_bucket");
        let b = Throttle::new(&c, "app:bucket", "act_bucket");
        a.acquire(3).await.unwrap();
        // The burst is spent: the next cell is 20 s away, so a check must not succeed immediately.
        let res = tokio::time::timeout(Duration::from_millis(50), b.acquire(1)).await;
        assert!(res.is_err(), "the shared bucket should make the second connector wait");
    }
}
