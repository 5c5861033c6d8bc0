//! Waiting for a platform: visible and bounded.
//!
//! Connectors wait for rate limits (token buckets, a 429's `retryDelay`, usage at 100 % until
//! `estimated_time_to_regain_access`). A wait the platform asked for, and any other wait of [`NOTICE_AFTER`] or
//! more, is said at the default verbosity, with its reason and when it ends; a wait longer than the process's limit ([`set_max_wait`]: `--max-wait`,
//! a few minutes for `plan` and `apply`, none for `watch`) is not waited at all: the call fails with
//! [`TooLong`], which says when to run again. Nothing here names a platform: connectors pass their reason.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Waits at least this long are said at the default verbosity (shorter ones at debug level).
pub const NOTICE_AFTER: Duration = Duration::from_secs(2);

/// The process's limit in milliseconds; `u64::MAX`: none.
static MAX_WAIT_MS: AtomicU64 = AtomicU64::new(u64::MAX);

/// Set the longest single wait of this process (`None`: no limit beyond the connectors' own).
pub fn set_max_wait(limit: Option<Duration>) {
    let ms = limit.map_or(u64::MAX, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX - 1));
    MAX_WAIT_MS.store(ms, Ordering::SeqCst);
}

/// The longest single wait of this process, when limited.
pub fn max_wait() -> Option<Duration> {
    match MAX_WAIT_MS.load(Ordering::SeqCst) {
        u64::MAX => None,
        ms => Some(Duration::from_millis(ms)),
    }
}

/// The limit that applies to a wait a connector also caps itself (`own`): the smaller one.
pub fn limit(own: Option<Duration>) -> Option<Duration> {
    match (own, max_wait()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// `1h02m`, `4m05s`, `12s`, `250ms`.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600).div_ceil(60).min(59))
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// `14:05:12 UTC`, with the date when it is not today.
fn clock(t: DateTime<Utc>) -> String {
    if t.date_naive() == Utc::now().date_naive() {
        t.format("%H:%M:%S UTC").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    }
}

/// The limit a wait exceeded, for people.
fn limit_text(limit: Option<Duration>, by_flag: bool) -> String {
    match limit {
        Some(l) if by_flag => format!("--max-wait {}", human(l)),
        Some(l) => format!("the connector waits at most {}", human(l)),
        None => "the connector's limit".into(),
    }
}

/// A wait longer than the limit: the call stops instead, and a later run resumes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{reason}: waiting would take {}, until {}, longer than this run waits ({})",
    human(*.wait),
    clock(*.until),
    limit_text(*.limit, *.by_max_wait)
)]
pub struct TooLong {
    /// What is being waited for (`Meta usage of ad account act_1 at 100%`).
    pub reason: String,
    pub wait: Duration,
    /// When the wait would end.
    pub until: DateTime<Utc>,
    /// The limit it exceeds.
    pub limit: Option<Duration>,
    /// Whether that limit is the run's `--max-wait` (else a connector's own cap).
    pub by_max_wait: bool,
    /// What to do about it: run again after `until`.
    pub hint: String,
}

impl TooLong {
    pub fn new(reason: impl Into<String>, wait: Duration, limit: Option<Duration>) -> TooLong {
        let until = Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
        TooLong {
            reason: reason.into(),
            wait,
            until,
            limit,
            by_max_wait: limit.is_some() && limit == max_wait(),
            hint: format!(
                "nothing more was sent; run the same command again after {} (what was done stays done; the next \
                 run resumes with the rest), or let it wait longer with --max-wait",
                until.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        }
    }

    /// How long from now until the wait would end.
    pub fn remaining(&self) -> Duration {
        (self.until - Utc::now()).to_std().unwrap_or_default()
    }
}

/// Check a wait of `wait` for `reason` against `limit` (see [`limit`]) and say it when it is long. `Err` means:
/// do not wait, stop.
pub fn begin(reason: &str, wait: Duration, limit: Option<Duration>) -> Result<(), TooLong> {
    if limit.is_some_and(|l| wait > l) {
        return Err(TooLong::new(reason, wait, limit));
    }
    announce(reason, wait);
    Ok(())
}

/// [`begin`] for a wait the platform asked for (a 429's `retryDelay`, usage at 100 %): said however short.
pub fn begin_rate_limited(reason: &str, wait: Duration, limit: Option<Duration>) -> Result<(), TooLong> {
    if limit.is_some_and(|l| wait > l) {
        return Err(TooLong::new(reason, wait, limit));
    }
    say(reason, wait);
    Ok(())
}

/// Say a wait: at the default verbosity from [`NOTICE_AFTER`] on, with its reason and end time.
pub fn announce(reason: &str, wait: Duration) {
    if wait >= NOTICE_AFTER {
        say(reason, wait);
    } else if !wait.is_zero() {
        tracing::debug!(wait_ms = wait.as_millis() as u64, "waiting ({reason})");
    }
}

fn say(reason: &str, wait: Duration) {
    let until = Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
    tracing::warn!(
        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        "waiting {} until {} ({reason})",
        human(wait),
        clock(until)
    );
}

/// [`begin_rate_limited`], then sleep, recording the wait for the rate-limit metrics of `platform_id`.
pub async fn sleep(platform_id: &str, reason: &str, wait: Duration, limit: Option<Duration>) -> Result<(), TooLong> {
    begin_rate_limited(reason, wait, limit)?;
    super::telemetry::record_rate_limit_wait(platform_id, wait);
    tokio::time::sleep(wait).await;
    Ok(())
}

/// Wait until a token bucket (`governor`) grants `n` cells, bounded and said like any other wait. `n` must not
/// exceed the bucket's capacity.
pub async fn bucket(
    limiter: &governor::DefaultDirectRateLimiter,
    n: std::num::NonZeroU32,
    reason: &str,
    limit: Option<Duration>,
) -> Result<(), TooLong> {
    use governor::clock::Clock;
    loop {
        let not_until = match limiter.check_n(n) {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(not_until)) => not_until,
            // more cells than the bucket holds: callers clamp, so this cannot happen; do not spin
            Err(_) => return Ok(()),
        };
        let wait = not_until.wait_time_from(limiter.clock().now());
        begin(reason, wait, limit)?;
        tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_wait_stops_with_when_to_retry() {
        let e = begin(
            "usage at 100%",
            Duration::from_secs(3600),
            Some(Duration::from_secs(300)),
        )
        .unwrap_err();
        let msg = e.to_string();
        // (no process limit is set in unit tests: the limit is a connector's own)
        assert!(
            msg.contains("take 1h00m, until") && msg.contains("waits at most 5m00s"),
            "{msg}"
        );
        assert!(e.hint.contains("run the same command again after 20"), "{}", e.hint);
        assert!(e.remaining() > Duration::from_secs(3590));
        assert!(begin("short", Duration::from_secs(3), Some(Duration::from_secs(300))).is_ok());
        assert!(begin("unbounded", Duration::from_secs(86_400), None).is_ok());
    }

    #[test]
    fn limits_combine() {
        // the process limit is global: only read it here
        let own = Some(Duration::from_secs(60));
        match max_wait() {
            None => assert_eq!(limit(own), own),
            Some(m) => assert_eq!(limit(own), Some(m.min(Duration::from_secs(60)))),
        }
        assert_eq!(human(Duration::from_millis(1500)), "2s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_secs(65)), "1m05s");
        assert_eq!(human(Duration::from_secs(7200)), "2h00m");
    }

    #[tokio::test]
    async fn a_token_bucket_wait_is_bounded() {
        use std::num::NonZeroU32;
        let q = governor::Quota::per_hour(NonZeroU32::new(2).unwrap());
        let l = governor::RateLimiter::direct(q);
        let one = NonZeroU32::MIN;
        bucket(&l, one, "bucket", Some(Duration::from_secs(1))).await.unwrap();
        bucket(&l, one, "bucket", Some(Duration::from_secs(1))).await.unwrap();
        // the next cell is 30 minutes away
        let e = bucket(&l, one, "bucket", Some(Duration::from_secs(1)))
            .await
            .unwrap_err();
        assert!(e.wait > Duration::from_secs(29 * 60), "{e:?}");
    }
}
