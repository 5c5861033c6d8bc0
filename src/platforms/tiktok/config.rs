//! Where the TikTok connector talks to, how fast, and with which credentials.
//!
//! Every setting has a default that is right for the real API for Business and an environment override, so that
//! the same code talks to TikTok or to `adsctl emulator`.

use std::time::Duration;

use super::auth::TikTokCredentials;
use crate::connectors::ConnectorError;
use crate::model::Account;

/// The version every request goes to; it lives in the path. One constant, on purpose.
pub const API_VERSION: &str = "v1.3";
/// The path every endpoint lives under (`/open_api/v1.3/campaign/get/`).
pub const API_PREFIX: &str = "/open_api/v1.3/";
/// The real API host.
pub const DEFAULT_BASE_URL: &str = "https://business-api.tiktok.com";
/// Environment override of the base URL (the emulator's address in tests and the quickstart).
pub const ENDPOINT_ENV: &str = "ADSCTL_TIKTOK_ENDPOINT";

/// Largest `page_size` of `campaign/get/`, `adgroup/get/` and `report/integrated/get/` (fields.json: maximum
/// 1000).
pub const MAX_PAGE_SIZE: u32 = 1_000;
/// Largest `page_size` of `ad/get/`: the pack gives no figure of its own; the only one is its Smart+ sibling's
/// (`smart_plus_ad_get.yml`: 100), which the emulator enforces too. Unverified; asking 100 from the start saves the
/// refused first request a larger page costs every process.
pub const MAX_AD_PAGE_SIZE: u32 = 100;
/// Largest `page_size` of `dmp/custom_audience/list/` (fields.json: 1–100).
pub const MAX_AUDIENCE_PAGE_SIZE: u32 = 100;
/// Ids per `…/status/update/` call (fields.json: "allowed quantity range 1-20").
pub const MAX_STATUS_IDS: usize = 20;
/// Ids per `dmp/custom_audience/delete/` and `get/` call, and per id filter of a report (1–100).
pub const MAX_AUDIENCE_IDS: usize = 100;
/// Ids per `filtering` id list of the get endpoints: the pack gives no figure for `campaign_ids` /
/// `adgroup_ids` / `ad_ids`; 100 is the figure it gives for every other id list (reports, audiences).
pub const MAX_FILTER_IDS: usize = 100;
/// Ads per ad group (WIRE-NOTES: "Up to 20 ads per ad group"): also the creatives sent in one `ad/create/`.
pub const MAX_CREATIVES_PER_CALL: usize = 20;
/// Operations the executor hands the connector at once; the connector packs them into the fewest calls
/// (status updates by 20, ads by ad group).
pub const MAX_OPS_PER_APPLY: usize = 10_000;

/// The ownership marker at the end of a name (`docs/resource-model.md`).
pub use crate::platforms::shared::MARKER;

/// Tunables of one connector. `from_env` reads the `ADSCTL_TIKTOK_*` variables over the defaults.
#[derive(Clone, Debug)]
pub struct TikTokConfig {
    /// Base URL without the API prefix (`https://business-api.tiktok.com`).
    pub base_url: String,
    /// Requests per second per endpoint this process allows itself (TikTok's Basic tier: 10).
    pub requests_per_second: u32,
    /// `ad/create/` has its own, lower limit (Basic: 5 per second).
    pub ad_create_per_second: u32,
    /// First wait after a rate-limit answer (40100, 40016, 40133): the pack's "QPS: retry next second".
    pub rate_limit_wait: Duration,
    /// The wait once rate limits keep coming (the pack's "QPM: pause about 5 minutes").
    pub rate_limit_long_wait: Duration,
    /// Rate-limit answers in a row after which the long wait is taken.
    pub rate_limit_long_after: u32,
    /// Rate-limit answers in a row after which the request fails (the QPD tier, until 00:00 UTC).
    pub max_rate_limit_retries: u32,
    /// First delay of the backoff for server errors and write conflicts (doubles, jittered).
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    /// Retries after the first attempt for server errors, conflicts and transport failures.
    pub max_retries: u32,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Date ranges longer than this many days go through an async report task (the pack: sync daily reports in
    /// windows of 30 days, unverified).
    pub sync_report_max_days: i64,
    /// How long to wait for an async report task.
    pub report_timeout: Duration,
    /// Pause between checks of a report task.
    pub report_poll: Duration,
    /// Page size of the get endpoints (≤ 1000).
    pub page_size: u32,
    /// Look-ups of a create whose answer was lost, before giving up on it for this run.
    pub lookup_attempts: u32,
    /// First pause before such a look-up (doubles).
    pub lookup_delay: Duration,
}

impl Default for TikTokConfig {
    fn default() -> Self {
        TikTokConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            requests_per_second: 10,
            ad_create_per_second: 5,
            rate_limit_wait: Duration::from_secs(1),
            rate_limit_long_wait: Duration::from_secs(5 * 60),
            rate_limit_long_after: 6,
            max_rate_limit_retries: 8,
            retry_min_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(60),
            max_retries: 5,
            request_timeout: Duration::from_secs(120),
            sync_report_max_days: 30,
            report_timeout: Duration::from_secs(30 * 60),
            report_poll: Duration::from_secs(5),
            page_size: MAX_PAGE_SIZE,
            lookup_attempts: 3,
            lookup_delay: Duration::from_secs(1),
        }
    }
}

fn env_u64(name: &str) -> Result<Option<u64>, ConnectorError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| ConnectorError::Config(format!("{name}=`{v}` is not a whole number"))),
        _ => Ok(None),
    }
}

impl TikTokConfig {
    /// Defaults, overridden by the environment, overridden by the account's `endpoint`.
    ///
    /// `ADSCTL_TIKTOK_ENDPOINT`, `ADSCTL_TIKTOK_QPS`, `ADSCTL_TIKTOK_AD_CREATE_QPS`, `ADSCTL_TIKTOK_RATE_LIMIT_WAIT_MS`,
    /// `ADSCTL_TIKTOK_RATE_LIMIT_LONG_WAIT_MS`, `ADSCTL_TIKTOK_RETRY_MIN_MS`, `ADSCTL_TIKTOK_RETRY_MAX_MS`,
    /// `ADSCTL_TIKTOK_MAX_RETRIES`, `ADSCTL_TIKTOK_TIMEOUT_MS`, `ADSCTL_TIKTOK_PAGE_SIZE`,
    /// `ADSCTL_TIKTOK_SYNC_REPORT_MAX_DAYS`, `ADSCTL_TIKTOK_REPORT_TIMEOUT_MS`, `ADSCTL_TIKTOK_REPORT_POLL_MS`,
    /// `ADSCTL_TIKTOK_LOOKUP_DELAY_MS`.
    pub fn from_env(account: &Account) -> Result<TikTokConfig, ConnectorError> {
        let mut c = TikTokConfig::default();
        if let Ok(v) = std::env::var(ENDPOINT_ENV) {
            if !v.trim().is_empty() {
                c.base_url = v.trim().to_string();
            }
        }
        if let Some(e) = &account.endpoint {
            c.base_url = e.clone();
        }
        c.base_url = normalise_base(&c.base_url)?;
        let ms = |v: u64| Duration::from_millis(v);
        if let Some(v) = env_u64("ADSCTL_TIKTOK_QPS")? {
            c.requests_per_second = u32::try_from(v.max(1)).unwrap_or(u32::MAX);
            c.ad_create_per_second = c.ad_create_per_second.min(c.requests_per_second);
        }
        // `ad/create/` has a tier of its own (Basic: 5 QPS)
        if let Some(v) = env_u64("ADSCTL_TIKTOK_AD_CREATE_QPS")? {
            c.ad_create_per_second = u32::try_from(v.max(1)).unwrap_or(u32::MAX);
        }
        if let Some(v) = env_u64("ADSCTL_TIKTOK_RATE_LIMIT_WAIT_MS")? {
            c.rate_limit_wait = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_TIKTOK_RATE_LIMIT_LONG_WAIT_MS")? {
            c.rate_limit_long_wait = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_TIKTOK_RETRY_MIN_MS")? {
            c.retry_min_delay = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_TIKTOK_RETRY_MAX_MS")? {
            c.retry_max_delay = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_TIKTOK_MAX_RETRIES")? {
            c.max_retries = u32::try_from(v).unwrap_or(u32::MAX);
        }
        if let Some(v) = env_u64("ADSCTL_TIKTOK_TIMEOUT_MS")? {
            c.request_timeout = ms(v.max(1));
        }
        if let Some(v) = env_u64("ADSCTL_TIKTOK_PAGE_SIZE")? {
            c.page_size = u32::try_from(v).unwrap_or(MAX_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
        }
        if let Some(v) = env_u64("ADSCTL_TIKTOK_SYNC_REPORT_MAX_DAYS")? {
            c.sync_report_max_days = i64::try_from(v.max(1)).unwrap_or(30);
        }
        if let Some(v) = env_u64("ADSCTL_TIKTOK_REPORT_TIMEOUT_MS")? {
            c.report_timeout = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_TIKTOK_REPORT_POLL_MS")? {
            c.report_poll = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_TIKTOK_LOOKUP_DELAY_MS")? {
            c.lookup_delay = ms(v);
        }
        if c.retry_max_delay < c.retry_min_delay {
            c.retry_max_delay = c.retry_min_delay;
        }
        Ok(c)
    }

    /// A configuration for `base_url` with the defaults otherwise (tests, `--emulator`).
    pub fn for_endpoint(base_url: &str) -> Result<TikTokConfig, ConnectorError> {
        Ok(TikTokConfig {
            base_url: normalise_base(base_url)?,
            ..TikTokConfig::default()
        })
    }

    /// `https://business-api.tiktok.com/open_api/v1.3/campaign/get/` for `campaign/get/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{API_PREFIX}{}", self.base_url, path.trim_start_matches('/'))
    }
}

/// The base URL without a trailing slash, and without the API prefix if someone wrote it.
fn normalise_base(base: &str) -> Result<String, ConnectorError> {
    let mut b = base.trim().trim_end_matches('/').to_string();
    for suffix in ["/open_api/v1.3", "/open_api"] {
        if let Some(s) = b.strip_suffix(suffix) {
            b = s.to_string();
        }
    }
    if !(b.starts_with("http://") || b.starts_with("https://")) {
        return Err(ConnectorError::Config(format!(
            "TikTok endpoint `{b}` is not an http(s) URL"
        )));
    }
    Ok(b)
}

/// Resolve the credentials of an account through the auth module (the encrypted token vault, then
/// `TIKTOK_ACCESS_TOKEN` / `TIKTOK_APP_ID` / `TIKTOK_APP_SECRET`). A missing token is an auth error with the fix.
pub fn resolve_credentials(account: &Account) -> Result<TikTokCredentials, ConnectorError> {
    match crate::auth::credentials(account) {
        Ok(c) => match c.get::<TikTokCredentials>() {
            Some(t) => Ok(t.clone()),
            None => Err(ConnectorError::Config(format!(
                "the credentials stored for `{}` are not TikTok credentials",
                account.name
            ))),
        },
        Err(e) => Err(ConnectorError::Auth {
            message: format!("no usable TikTok credentials for account `{}`: {e}", account.name),
            hint: e.hint(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_the_prefix_and_the_trailing_slash() {
        let c = TikTokConfig::for_endpoint("http://127.0.0.1:9/").unwrap();
        assert_eq!(c.url("campaign/get/"), "http://127.0.0.1:9/open_api/v1.3/campaign/get/");
        let c = TikTokConfig::for_endpoint("https://business-api.tiktok.com/open_api/v1.3/").unwrap();
        assert_eq!(c.base_url, "https://business-api.tiktok.com");
        assert!(TikTokConfig::for_endpoint("ftp://x").is_err());
    }
}
