//! Where the Meta connector talks to, how fast, and with which credentials.
//!
//! Everything here has a default that is right for the real Graph API and an environment override, so that the
//! same code talks to the real platform or to `adsctl emulator`.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::connectors::ConnectorError;
use crate::model::Account;
use crate::secret::Secret;

/// The Graph API version every request goes to. One constant, on purpose.
pub const API_VERSION: &str = "v25.0";
/// The real Graph API host.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
/// Environment override of the base URL (the emulator's address in tests and the quickstart).
pub const ENDPOINT_ENV: &str = "ADSCTL_META_ENDPOINT";

/// The page size asked for on every list edge (`limit=`).
///
/// Meta publishes no global maximum for `limit` ("some edges may have a maximum for performance reasons"), and
/// the node specs carry none. 5,000 is the largest figure the Graph API is commonly observed to honour on
/// ad-account edges; when the platform answers "Please reduce the amount of data you're asking for" (code 1) for
/// a page, the client halves the limit for that edge and retries the page (down to 25, the Graph default), so
/// the large figure never costs a failed read.
pub const MAX_PAGE_SIZE: u32 = 5_000;
/// The smallest page size the client falls back to.
pub const MIN_PAGE_SIZE: u32 = 25;

/// Calls per batch request (Batch API limit).
pub const MAX_BATCH_CALLS: usize = 50;
/// Operations the executor hands the connector at once. The connector packs their calls (an ad is two: its
/// creative and itself) into batches of [`MAX_BATCH_CALLS`], dependent calls in the same batch as what they depend
/// on, so only the last batch of each hand-over can be short: with 50 operations per hand-over, every ad-heavy
/// hand-over ended in a short batch (≈ 12 % more requests on a tree of new ads).
pub const MAX_OPS_PER_APPLY: usize = 10_000;
/// Users per `/users` call (Custom Audience API limit).
pub const MAX_USERS_PER_CALL: usize = 10_000;

/// The ownership marker: an ad label of this name on every campaign, ad set and ad adsctl creates or adopts.
pub const OWNERSHIP_LABEL: &str = "adsctl-managed";

/// Tunables of one connector. `from_env` reads the `ADSCTL_META_*` variables over the defaults.
#[derive(Clone, Debug)]
pub struct MetaConfig {
    /// Base URL without the version (`https://graph.facebook.com`).
    pub base_url: String,
    /// Token bucket per app and per ad account: calls per minute (burst) …
    pub calls_per_minute: u32,
    /// … and calls per hour.
    pub calls_per_hour: u32,
    /// Usage (percent of the platform's quota, from the usage headers) above which requests are slowed.
    pub slow_down_above_pct: u32,
    /// Delay added per request at 100 % usage (scaled linearly from `slow_down_above_pct`).
    pub slow_down_max_delay: Duration,
    /// Longest wait for `estimated_time_to_regain_access` before giving up with a quota error.
    pub max_regain_wait: Duration,
    /// How long one minute of `estimated_time_to_regain_access` is (a minute; emulator runs shorten it).
    pub regain_minute: Duration,
    /// First retry delay (doubles, jittered) for rate-limit and transient errors.
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    /// Retries after the first attempt.
    pub max_retries: usize,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Async insights jobs: longest time to wait for a report run.
    pub report_timeout: Duration,
    /// Date ranges longer than this many days use an async report run.
    pub async_insights_after_days: i64,
    /// Page size for list edges.
    pub page_size: u32,
}

impl Default for MetaConfig {
    fn default() -> Self {
        MetaConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            calls_per_minute: 200,
            calls_per_hour: 4_800,
            slow_down_above_pct: 75,
            slow_down_max_delay: Duration::from_secs(10),
            max_regain_wait: Duration::from_secs(60 * 60),
            regain_minute: Duration::from_secs(60),
            retry_min_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(60),
            max_retries: 6,
            request_timeout: Duration::from_secs(120),
            report_timeout: Duration::from_secs(30 * 60),
            async_insights_after_days: 31,
            page_size: MAX_PAGE_SIZE,
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

impl MetaConfig {
    /// Defaults, overridden by the environment, overridden by the account's `endpoint`.
    ///
    /// `ADSCTL_META_ENDPOINT`, `ADSCTL_META_CALLS_PER_MINUTE`, `ADSCTL_META_CALLS_PER_HOUR`,
    /// `ADSCTL_META_RETRY_MIN_MS`, `ADSCTL_META_RETRY_MAX_MS`, `ADSCTL_META_MAX_RETRIES`, `ADSCTL_META_TIMEOUT_MS`,
    /// `ADSCTL_META_SLOW_DOWN_MAX_MS`, `ADSCTL_META_MAX_REGAIN_WAIT_MS`, `ADSCTL_META_REGAIN_MINUTE_MS`, `ADSCTL_META_REPORT_TIMEOUT_MS`,
    /// `ADSCTL_META_PAGE_SIZE`.
    pub fn from_env(account: &Account) -> Result<MetaConfig, ConnectorError> {
        let mut c = MetaConfig::default();
        if let Ok(v) = std::env::var(ENDPOINT_ENV) {
            if !v.trim().is_empty() {
                c.base_url = v.trim().to_string();
            }
        }
        if let Some(e) = &account.endpoint {
            c.base_url = e.clone();
        }
        c.base_url = c.base_url.trim_end_matches('/').to_string();
        if !(c.base_url.starts_with("http://") || c.base_url.starts_with("https://")) {
            return Err(ConnectorError::Config(format!(
                "Meta endpoint `{}` is not an http(s) URL",
                c.base_url
            )));
        }
        let nz = |name: &str, v: u64| -> Result<u32, ConnectorError> {
            u32::try_from(v)
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| ConnectorError::Config(format!("{name} must be between 1 and {}", u32::MAX)))
        };
        if let Some(v) = env_u64("ADSCTL_META_CALLS_PER_MINUTE")? {
            c.calls_per_minute = nz("ADSCTL_META_CALLS_PER_MINUTE", v)?;
        }
        if let Some(v) = env_u64("ADSCTL_META_CALLS_PER_HOUR")? {
            c.calls_per_hour = nz("ADSCTL_META_CALLS_PER_HOUR", v)?;
        }
        if let Some(v) = env_u64("ADSCTL_META_RETRY_MIN_MS")? {
            c.retry_min_delay = Duration::from_millis(v);
        }
        if let Some(v) = env_u64("ADSCTL_META_RETRY_MAX_MS")? {
            c.retry_max_delay = Duration::from_millis(v);
        }
        if let Some(v) = env_u64("ADSCTL_META_MAX_RETRIES")? {
            c.max_retries = v as usize;
        }
        if let Some(v) = env_u64("ADSCTL_META_TIMEOUT_MS")? {
            c.request_timeout = Duration::from_millis(v.max(1));
        }
        if let Some(v) = env_u64("ADSCTL_META_SLOW_DOWN_MAX_MS")? {
            c.slow_down_max_delay = Duration::from_millis(v);
        }
        if let Some(v) = env_u64("ADSCTL_META_MAX_REGAIN_WAIT_MS")? {
            c.max_regain_wait = Duration::from_millis(v);
        }
        if let Some(v) = env_u64("ADSCTL_META_REGAIN_MINUTE_MS")? {
            c.regain_minute = Duration::from_millis(v);
        }
        if let Some(v) = env_u64("ADSCTL_META_REPORT_TIMEOUT_MS")? {
            c.report_timeout = Duration::from_millis(v);
        }
        if let Some(v) = env_u64("ADSCTL_META_PAGE_SIZE")? {
            c.page_size = nz("ADSCTL_META_PAGE_SIZE", v)?.clamp(1, MAX_PAGE_SIZE);
        }
        if c.retry_max_delay < c.retry_min_delay {
            c.retry_max_delay = c.retry_min_delay;
        }
        Ok(c)
    }

    /// `https://graph.facebook.com/v25.0`
    pub fn versioned_base(&self) -> String {
        format!("{}/{}", self.base_url, API_VERSION)
    }
}

/// What the connector authenticates with. Only the token is required; the app secret adds `appsecret_proof`.
#[derive(Clone, Debug)]
pub struct MetaCredentials {
    pub app_id: Option<String>,
    pub app_secret: Option<Secret>,
    pub access_token: Secret,
}

impl MetaCredentials {
    /// `appsecret_proof`: lowercase hex HMAC-SHA256 with the app secret as key and the access token as message.
    pub fn appsecret_proof(&self) -> Option<Secret> {
        let secret = self.app_secret.as_ref().filter(|s| !s.is_empty())?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).ok()?;
        mac.update(self.access_token.expose().as_bytes());
        Some(Secret::new(hex::encode(mac.finalize().into_bytes())))
    }

    /// The key the app-level token bucket is shared under.
    pub fn app_key(&self) -> String {
        match &self.app_id {
            Some(id) => format!("app:{id}"),
            None => "app:unknown".to_string(),
        }
    }
}

/// Resolve the credentials of an account through the auth module (the encrypted token vault, then
/// `FACEBOOK_ACCESS_TOKEN` / `FACEBOOK_APP_ID` / `FACEBOOK_APP_SECRET`). A missing token is an auth error with the
/// fix.
pub fn resolve_credentials(account: &Account) -> Result<MetaCredentials, ConnectorError> {
    match crate::auth::credentials(account) {
        Ok(c) => match c.get::<super::auth::MetaCredentials>() {
            Some(m) => Ok(MetaCredentials {
                app_id: m.app_id.clone(),
                app_secret: m.app_secret.clone().filter(|s| !s.is_empty()),
                access_token: m.access_token.clone(),
            }),
            None => Err(ConnectorError::Config(format!(
                "the credentials stored for `{}` are not Meta credentials",
                account.name
            ))),
        },
        Err(e) => Err(ConnectorError::Auth {
            message: format!("no usable Meta credentials for account `{}`: {e}", account.name),
            hint: e.hint(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appsecret_proof_is_hmac_sha256_hex() {
        // HMAC-SHA256(key="key", msg="The quick brown fox jumps over the lazy dog"), a published test vector.
        let c = MetaCredentials {
            app_id: None,
            app_secret: Some(Secret::new("key")),
            access_token: Secret::new("The quick brown fox jumps over the lazy dog"),
        };
        assert_eq!(
            c.appsecret_proof().unwrap().expose(),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        let no_secret = MetaCredentials { app_secret: None, ..c };
        assert!(no_secret.appsecret_proof().is_none());
    }

    #[test]
    fn credentials_never_print() {
        let c = MetaCredentials {
            app_id: Some("1".into()),
            app_secret: Some(Secret::new("s3cr3t-app")),
            access_token: Secret::new("EAAtoken-xyz"),
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t-app") && !shown.contains("EAAtoken-xyz"));
    }
}
