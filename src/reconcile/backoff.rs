//! Exponential backoff with jitter for failing accounts (the controller's error policy), computed by `backon`
//! (the crate the connectors retry with).

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// Each delay is twice the one before.
const FACTOR: f32 = 2.0;

/// Steps past which no delay grows: doubling from one nanosecond reaches `Duration::MAX` within 94.
const MAX_STEPS: u32 = 96;

/// `delay(n) = min(max, base · 2^(n-1))`, then "equal jitter": half of it fixed, the other half random, so that
/// accounts failing together (one platform down) do not retry in lockstep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffPolicy {
    pub base: Duration,
    pub max: Duration,
    /// Spread the delay randomly over `[d/2, d)`.
    pub jitter: bool,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            base: Duration::from_secs(5),
            max: Duration::from_secs(15 * 60),
            jitter: true,
        }
    }
}

impl BackoffPolicy {
    /// The policy as `backon` builds it. backon's jitter adds a random part of the delay to it (`[d, 2d)`): with
    /// jitter the builder starts from half the base and stops at half the cap, so that a delay falls in `[d/2, d)`
    /// and never passes `max`. Its seed comes from `fastrand` (backon is built without `std`, where every
    /// backoff would draw the same numbers).
    fn builder(&self) -> ExponentialBuilder {
        let base = self.base.min(self.max);
        let builder = ExponentialBuilder::new().with_factor(FACTOR).without_max_times();
        if self.jitter {
            builder
                .with_min_delay(base / 2)
                .with_max_delay(self.max / 2)
                .with_jitter()
                .with_jitter_seed(fastrand::u64(..))
        } else {
            builder.with_min_delay(base).with_max_delay(self.max)
        }
    }

    /// The delay to wait after `failures` consecutive failures (`failures >= 1`).
    pub fn delay(&self, failures: u32) -> Duration {
        let step = failures.saturating_sub(1).min(MAX_STEPS) as usize;
        self.builder().build().nth(step).unwrap_or(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_up_to_the_cap() {
        let p = BackoffPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            jitter: false,
        };
        let got: Vec<u64> = (1..=8).map(|n| p.delay(n).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(p.delay(0), Duration::from_secs(1));
        assert_eq!(p.delay(u32::MAX), Duration::from_secs(60));
        // the daemon's default: 5 s doubling up to 15 min
        let d = BackoffPolicy {
            jitter: false,
            ..BackoffPolicy::default()
        };
        let got: Vec<u64> = [1, 2, 3, 8, 9, 10, 1000].map(|n| d.delay(n).as_secs()).to_vec();
        assert_eq!(got, vec![5, 10, 20, 640, 900, 900, 900]);
        // a base above the cap is held to it
        let inverted = BackoffPolicy {
            base: Duration::from_secs(90),
            max: Duration::from_secs(60),
            jitter: false,
        };
        assert_eq!(inverted.delay(1), Duration::from_secs(60));
    }

    #[test]
    fn jitter_stays_within_half_and_full() {
        let p = BackoffPolicy {
            base: Duration::from_millis(800),
            max: Duration::from_secs(60),
            jitter: true,
        };
        let mut distinct = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let d = p.delay(3);
            assert!(
                d >= Duration::from_millis(1600) && d <= Duration::from_millis(3200),
                "{d:?}"
            );
            distinct.insert(d);
        }
        assert!(distinct.len() > 10, "jitter should spread retries");
        // capped from the 8th failure on (0.8 s · 2^7 > 60 s): never past max, never under half of it
        for _ in 0..50 {
            for n in [8, 9, 30, u32::MAX] {
                let d = p.delay(n);
                assert!(
                    d >= Duration::from_secs(30) && d <= Duration::from_secs(60),
                    "{n}: {d:?}"
                );
            }
        }
    }
}
