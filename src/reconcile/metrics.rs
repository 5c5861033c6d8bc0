//! Prometheus metrics of the daemon (OpenMetrics text, which Prometheus scrapes natively).

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AccountLabels {
    pub account: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CurrencyLabels {
    pub account: String,
    pub currency: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    pub account: String,
    /// `success`, `drift_only`, `blocked`, or an error kind (`api_error`, …).
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    pub platform: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PlatformLabels {
    pub platform: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    pub version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

type HistogramFamily = Family<AccountLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    // 10 ms … ~5.5 min
    Histogram::new(exponential_buckets(0.01, 2.0, 16))
}

/// Every metric the daemon exports. Cheap to clone (the metrics are shared handles).
pub struct Metrics {
    registry: Registry,
    pub reconciles: Family<ReconcileLabels, Counter>,
    pub reconcile_duration: HistogramFamily,
    pub drifted_resources: Family<AccountLabels, Gauge>,
    pub pending_changes: Family<AccountLabels, Gauge>,
    pub api_requests: Family<ApiLabels, Counter>,
    pub api_errors: Family<ApiLabels, Counter>,
    pub rate_limit_wait: Family<PlatformLabels, Counter<f64, AtomicU64>>,
    pub token_expiry: Family<AccountLabels, Gauge<f64, AtomicU64>>,
    pub last_success: Family<AccountLabels, Gauge>,
    pub consecutive_failures: Family<AccountLabels, Gauge>,
    pub config_reloads: Family<ResultLabels, Counter>,
    pub config_valid: Gauge,
    pub spend_today: Family<CurrencyLabels, Gauge<f64, AtomicU64>>,
    pub clicks_today: Family<AccountLabels, Gauge>,
    /// Always 1, labelled with this adsctl's version (join it onto other series in queries and dashboards).
    pub build_info: Family<BuildLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("adsctl");
        let m = Metrics {
            registry: Registry::default(),
            reconciles: Family::default(),
            reconcile_duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            drifted_resources: Family::default(),
            pending_changes: Family::default(),
            api_requests: Family::default(),
            api_errors: Family::default(),
            rate_limit_wait: Family::default(),
            token_expiry: Family::default(),
            last_success: Family::default(),
            consecutive_failures: Family::default(),
            config_reloads: Family::default(),
            config_valid: Gauge::default(),
            spend_today: Family::default(),
            clicks_today: Family::default(),
            build_info: Family::default(),
        };
        m.build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        registry.register(
            "build_info",
            "Always 1; the version label says which adsctl runs",
            m.build_info.clone(),
        );
        registry.register("reconciles", "Reconciles by account and result", m.reconciles.clone());
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconcile of one account",
            m.reconcile_duration.clone(),
        );
        registry.register(
            "drifted_resources",
            "Resources whose live state differed from the desired state at the last reconcile",
            m.drifted_resources.clone(),
        );
        registry.register(
            "pending_changes",
            "Planned changes left unapplied (observe mode or a guardrail) at the last reconcile",
            m.pending_changes.clone(),
        );
        registry.register(
            "api_requests",
            "Platform API requests by platform and code",
            m.api_requests.clone(),
        );
        registry.register(
            "api_errors",
            "Platform API errors by platform and code",
            m.api_errors.clone(),
        );
        registry.register(
            "rate_limit_wait_seconds",
            "Time spent waiting for platform rate limits",
            m.rate_limit_wait.clone(),
        );
        registry.register(
            "token_expiry_seconds",
            "Seconds until the account's access token expires (negative: expired)",
            m.token_expiry.clone(),
        );
        registry.register(
            "last_successful_sync_timestamp_seconds",
            "Unix time of the account's last successful reconcile",
            m.last_success.clone(),
        );
        registry.register(
            "consecutive_failures",
            "Failed reconciles in a row (the account backs off exponentially)",
            m.consecutive_failures.clone(),
        );
        registry.register(
            "config_reloads",
            "Loads of the config directory by result",
            m.config_reloads.clone(),
        );
        registry.register(
            "config_valid",
            "1 when the last load of the config directory was valid, 0 when the daemon keeps an older one",
            m.config_valid.clone(),
        );
        registry.register(
            "spend_today",
            "Spend so far today in the account's currency (major units), from the metrics sync",
            m.spend_today.clone(),
        );
        registry.register(
            "clicks_today",
            "Clicks so far today, from the metrics sync",
            m.clicks_today.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn observe_duration(&self, account: &str, d: Duration) {
        self.reconcile_duration
            .get_or_create(&AccountLabels {
                account: account.to_string(),
            })
            .observe(d.as_secs_f64());
    }

    pub fn count_reconcile(&self, account: &str, result: &str) {
        self.reconciles
            .get_or_create(&ReconcileLabels {
                account: account.to_string(),
                result: result.to_string(),
            })
            .inc();
    }

    pub fn count_api(&self, platform: &str, code: &str, count: u64, error: bool) {
        let labels = ApiLabels {
            platform: platform.to_string(),
            code: code.to_string(),
        };
        self.api_requests.get_or_create(&labels).inc_by(count);
        if error {
            self.api_errors.get_or_create(&labels).inc_by(count);
        }
    }

    pub fn add_rate_limit_wait(&self, platform: &str, d: Duration) {
        if !d.is_zero() {
            self.rate_limit_wait
                .get_or_create(&PlatformLabels {
                    platform: platform.to_string(),
                })
                .inc_by(d.as_secs_f64());
        }
    }

    pub fn account_gauge(family: &Family<AccountLabels, Gauge>, account: &str, v: i64) {
        family
            .get_or_create(&AccountLabels {
                account: account.to_string(),
            })
            .set(v);
    }

    pub fn set_token_expiry(&self, account: &str, seconds: f64) {
        self.token_expiry
            .get_or_create(&AccountLabels {
                account: account.to_string(),
            })
            .set(seconds);
    }

    /// Today's spend and clicks of an account (unknown values leave the series as they were).
    pub fn set_today(
        &self,
        account: &str,
        currency: crate::model::Currency,
        spend: Option<crate::model::Money>,
        clicks: Option<u64>,
    ) {
        if let Some(s) = spend {
            let major = s.micros() as f64 / 1_000_000.0;
            self.spend_today
                .get_or_create(&CurrencyLabels {
                    account: account.to_string(),
                    currency: currency.code().to_string(),
                })
                .set(major);
        }
        if let Some(c) = clicks {
            Metrics::account_gauge(&self.clicks_today, account, i64::try_from(c).unwrap_or(i64::MAX));
        }
    }

    /// Forget the per-account series of an account removed from the config.
    pub fn forget_account(&self, account: &str) {
        let l = AccountLabels {
            account: account.to_string(),
        };
        self.drifted_resources.remove(&l);
        self.pending_changes.remove(&l);
        self.token_expiry.remove(&l);
        self.last_success.remove(&l);
        self.consecutive_failures.remove(&l);
        self.clicks_today.remove(&l);
    }

    /// The exposition, in OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The content type of [`Metrics::encode`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The content type of [`prometheus_text`]: what scrapers that do not ask for OpenMetrics read.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether a scraper's `Accept` header asks for OpenMetrics (Prometheus does; `curl` and older scrapers do not).
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("application/openmetrics-text"))
}

/// The OpenMetrics exposition in the Prometheus text format 0.0.4: no `# EOF` or `# UNIT` lines, and a counter's
/// `# HELP`/`# TYPE` name its samples (`adsctl_reconciles_total`).
pub fn prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "].into_iter().find(|p| line.starts_with(p));
        match meta {
            Some(prefix) => {
                let rest = &line[prefix.len()..];
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                if counters.contains(name) {
                    out.push_str(&format!("{prefix}{name}_total {tail}"));
                } else {
                    out.push_str(line);
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_names_counters_by_their_samples_and_drops_eof() {
        let m = Metrics::new();
        m.count_reconcile("acme", "success");
        let om = m.encode();
        assert!(om.contains("# TYPE adsctl_reconciles counter") && om.trim_end().ends_with("# EOF"));
        assert!(om.contains("adsctl_build_info{version=\""));
        let text = prometheus_text(&om);
        assert!(!text.contains("# EOF") && !text.contains("# UNIT "));
        assert!(text.contains("# TYPE adsctl_reconciles_total counter"), "{text}");
        assert!(
            text.contains("adsctl_reconciles_total{account=\"acme\",result=\"success\"} 1"),
            "{text}"
        );
        assert!(text.contains("# TYPE adsctl_config_valid gauge"), "{text}");
        assert!(wants_openmetrics(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
        )));
        assert!(!wants_openmetrics(Some("*/*")) && !wants_openmetrics(None));
    }
}
