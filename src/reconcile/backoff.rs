//! Exponential backoff with jitter for failing accounts (the controller's error policy).

use std::time::Duration;

/// `delay(n) = min(max, base · 2^(n-1))`, then "equal jitter": half of it fixed, the other half random, so that
/// accounts failing together (one platform down) do not retry in lockstep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffPolicy {
    pub base: Duration,
    pub max: Duration,
    /// Spread the delay randomly over `[d/2, d]`.
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
    /// The delay without jitter after `failures` consecutive failures (`failures >= 1`).
    pub fn ceiling(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        let factor = 1u32 << exp;
        self.base.saturating_mul(factor).min(self.max)
    }

    /// The delay to wait after `failures` consecutive failures.
    pub fn delay(&self, failures: u32) -> Duration {
        let ceiling = self.ceiling(failures);
        if !self.jitter {
            return ceiling;
        }
        let half = ceiling / 2;
        let spread = (ceiling - half).as_millis().min(u64::MAX as u128) as u64;
        half + Duration::from_millis(fastrand::u64(0..=spread))
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
        assert_eq!(p.delay(u32::MAX), Duration::from_secs(60));
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
    }
}
