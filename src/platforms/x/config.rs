//! Where the X connector talks to, how fast, and with which credentials.
//!
//! Every setting has a default that is right for the real Ads API and an environment override, so that the same
//! code talks to X or to `adsctl emulator`.

use std::time::Duration;

use super::auth::XCredentials;
use crate::connectors::ConnectorError;
use crate::model::Account;

/// The Ads API version: the first path segment of every call (WIRE-NOTES: v12, the newest documented). One
/// constant, on purpose; the SDKs' `'11'` and `ads-api.twitter.com` are stale.
pub const API_VERSION: &str = "12";
/// The production host (the sandbox `https://ads-api-sandbox.x.com` serves the same paths).
pub const DEFAULT_HOST: &str = "https://ads-api.x.com";
/// `https://ads-api.x.com/12/`.
pub const DEFAULT_BASE_URL: &str = "https://ads-api.x.com/12/";
/// Environment override of the base (the emulator's address `http://127.0.0.1:PORT`, which serves `/12/…`).
pub const ENDPOINT_ENV: &str = "ADSCTL_X_ENDPOINT";

/// `count` of every cursor-paged list (the maximum on the lists adsctl reads).
pub const PAGE_SIZE: u32 = 1_000;
/// Ids per `line_item_ids` / `campaign_ids` filter (the pack: ≤ 200).
pub const MAX_FILTER_IDS: usize = 200;
/// Items per campaign or line item batch (`POST /12/batch/accounts/{a}/campaigns|line_items`).
pub const MAX_BATCH: usize = 40;
/// Items per targeting criteria batch.
pub const MAX_CRITERIA_BATCH: usize = 500;
/// Tweet ids per `POST …/promoted_tweets`.
pub const MAX_TWEET_IDS: usize = 50;
/// Operation objects per `POST …/custom_audiences/{id}/users`.
pub const MAX_USER_OPERATIONS: usize = 2_500;
/// Body bytes per `POST …/custom_audiences/{id}/users`.
pub const MAX_USERS_BODY: usize = 5_000_000;
/// User objects per operation object of an upload (the pack gives no cap per operation; adsctl's reading).
pub const USERS_PER_OPERATION: usize = 1_000;
/// entity_ids per stats call.
pub const MAX_STATS_IDS: usize = 20;
/// Days per synchronous stats call.
pub const SYNC_STATS_DAYS: i64 = 7;
/// Days per asynchronous stats job (unsegmented).
pub const ASYNC_STATS_DAYS: i64 = 90;
/// Operations the executor hands the connector at once; the connector packs them into batches.
pub const MAX_OPS_PER_APPLY: usize = 10_000;

/// The ownership marker at the end of a name or an audience's description (`docs/resource-model.md`).
pub use crate::platforms::shared::MARKER;

/// Tunables of one connector. `from_env` reads the `ADSCTL_X_*` variables over the defaults.
#[derive(Clone, Debug)]
pub struct XConfig {
    /// The versioned base with a trailing slash, as the URL parser writes it (lower-case scheme and host, no
    /// default port): `https://ads-api.x.com/12/`.
    pub base_url: String,
    /// The longest wait for a rate limit's reset this connector accepts by itself (`--max-wait` may be shorter).
    pub rate_limit_max_wait: Duration,
    /// A 429 without a reset header waits this long.
    pub rate_limit_default_wait: Duration,
    /// 429s in a row after which the call fails.
    pub max_rate_limit_retries: u32,
    /// First delay of the backoff for 500 / 503 / 408 / 423 and lost answers (doubles, jittered).
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    /// Retries after the first attempt for server errors and transport failures.
    pub max_retries: u32,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// `count` of the lists.
    pub page_size: u32,
    /// The pause before a lease's confirming listing (`ADSCTL_LEASE_SETTLE_MS`).
    pub lease_settle: Duration,
    /// Pause between two polls of an asynchronous stats job.
    pub job_poll: Duration,
    /// Polls of a stats job before giving up.
    pub job_polls: u32,
}

impl Default for XConfig {
    fn default() -> Self {
        XConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            rate_limit_max_wait: Duration::from_secs(15 * 60),
            rate_limit_default_wait: Duration::from_secs(60),
            max_rate_limit_retries: 5,
            retry_min_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(60),
            max_retries: 5,
            request_timeout: Duration::from_secs(120),
            page_size: PAGE_SIZE,
            lease_settle: Duration::from_secs(1),
            job_poll: Duration::from_secs(5),
            job_polls: 120,
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

impl XConfig {
    /// Defaults, overridden by the environment, overridden by the account's `endpoint`.
    ///
    /// `ADSCTL_X_ENDPOINT`, `ADSCTL_X_RETRY_MIN_MS`, `ADSCTL_X_RETRY_MAX_MS`, `ADSCTL_X_MAX_RETRIES`,
    /// `ADSCTL_X_TIMEOUT_MS`, `ADSCTL_X_PAGE_SIZE`, `ADSCTL_X_JOB_POLL_MS`, `ADSCTL_LEASE_SETTLE_MS`.
    pub fn from_env(account: &Account) -> Result<XConfig, ConnectorError> {
        let mut c = XConfig::default();
        if let Ok(v) = std::env::var(ENDPOINT_ENV) {
            if !v.trim().is_empty() {
                c.base_url = v.trim().to_string();
            }
        }
        if let Some(e) = account.endpoint.as_deref().filter(|e| !e.trim().is_empty()) {
            c.base_url = e.trim().to_string();
        }
        c.base_url = normalise_base(&c.base_url)?;
        let ms = Duration::from_millis;
        if let Some(v) = env_u64("ADSCTL_X_RETRY_MIN_MS")? {
            c.retry_min_delay = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_X_RETRY_MAX_MS")? {
            c.retry_max_delay = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_X_MAX_RETRIES")? {
            c.max_retries = u32::try_from(v).unwrap_or(u32::MAX);
        }
        if let Some(v) = env_u64("ADSCTL_X_TIMEOUT_MS")? {
            c.request_timeout = ms(v.max(1));
        }
        if let Some(v) = env_u64("ADSCTL_X_PAGE_SIZE")? {
            c.page_size = u32::try_from(v).unwrap_or(PAGE_SIZE).clamp(1, PAGE_SIZE);
        }
        if let Some(v) = env_u64("ADSCTL_X_JOB_POLL_MS")? {
            c.job_poll = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_LEASE_SETTLE_MS")? {
            c.lease_settle = ms(v);
        }
        if c.retry_max_delay < c.retry_min_delay {
            c.retry_max_delay = c.retry_min_delay;
        }
        Ok(c)
    }

    /// A configuration for `base_url` with the defaults otherwise (tests, `--emulator`).
    pub fn for_endpoint(base_url: &str) -> Result<XConfig, ConnectorError> {
        Ok(XConfig {
            base_url: normalise_base(base_url)?,
            ..XConfig::default()
        })
    }

    /// `https://ads-api.x.com/12/accounts/abc1/campaigns` for `accounts/abc1/campaigns` (path already encoded).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path.trim_start_matches('/'))
    }
}

/// The base as the URL parser writes it (scheme and host lower case, no default port), ending in `/12/` (added
/// when someone wrote only the host, as for the emulator's `http://127.0.0.1:PORT`).
pub fn normalise_base(base: &str) -> Result<String, ConnectorError> {
    let b = base.trim().trim_end_matches('/');
    let lower = b.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(ConnectorError::Config(format!(
            "X endpoint `{b}` is not an http(s) URL"
        )));
    }
    let with_version = if b.ends_with(&format!("/{API_VERSION}")) {
        format!("{b}/")
    } else {
        format!("{b}/{API_VERSION}/")
    };
    let parsed = url::Url::parse(&with_version)
        .map_err(|e| ConnectorError::Config(format!("X endpoint `{b}` is not a URL: {e}")))?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(ConnectorError::Config(format!(
            "X endpoint `{b}` must not carry a query or a fragment"
        )));
    }
    Ok(parsed.as_str().to_string())
}

/// Resolve the credentials of an account through the auth module (the encrypted token vault, then
/// `ADSCTL_X_CONSUMER_KEY` …). Missing credentials are an auth error with the fix.
pub fn resolve_credentials(account: &Account) -> Result<XCredentials, ConnectorError> {
    match crate::auth::credentials(account) {
        Ok(c) => match c.get::<XCredentials>() {
            Some(t) => Ok(t.clone()),
            None => Err(ConnectorError::Config(format!(
                "the credentials stored for `{}` are not X credentials",
                account.name
            ))),
        },
        Err(e) => Err(ConnectorError::Auth {
            message: format!("no usable X credentials for account `{}`: {e}", account.name),
            hint: e.hint(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_end_in_the_version_with_a_slash() {
        let c = XConfig::for_endpoint("http://127.0.0.1:9").unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:9/12/");
        assert_eq!(
            c.url("accounts/abc1/campaigns"),
            "http://127.0.0.1:9/12/accounts/abc1/campaigns"
        );
        assert_eq!(
            XConfig::for_endpoint(DEFAULT_BASE_URL).unwrap().base_url,
            DEFAULT_BASE_URL
        );
        assert_eq!(
            XConfig::for_endpoint("HTTPS://ADS-API.X.com:443/12").unwrap().base_url,
            DEFAULT_BASE_URL
        );
        assert_eq!(XConfig::for_endpoint(DEFAULT_HOST).unwrap().base_url, DEFAULT_BASE_URL);
        assert!(XConfig::for_endpoint("ftp://x").is_err());
        assert_eq!(API_VERSION, "12");
    }
}
