//! Where the LinkedIn connector talks to, how fast, and with which credentials.
//!
//! Every setting has a default that is right for the real Marketing API and an environment override, so that the
//! same code talks to LinkedIn or to `adsctl emulator`.

use std::time::Duration;

use super::auth::LinkedInCredentials;
use crate::connectors::ConnectorError;
use crate::model::Account;

/// The `LinkedIn-Version` header of every request (WIRE-NOTES: the newest version the docs show, 202608). One
/// constant, on purpose: diff LinkedIn's recent-changes page before moving it.
pub const API_VERSION: &str = "202608";
/// The `X-Restli-Protocol-Version` header of every request.
pub const RESTLI_PROTOCOL_VERSION: &str = "2.0.0";
/// The versioned REST base (`/rest/adAccounts/…`).
pub const DEFAULT_BASE_URL: &str = "https://api.linkedin.com/rest";
/// Environment override of the REST base (the emulator's address in tests and the quickstart).
pub const ENDPOINT_ENV: &str = "ADSCTL_LINKEDIN_ENDPOINT";
/// The OAuth 2.0 base (`/authorization`, `/accessToken`, `/introspectToken`).
pub const DEFAULT_OAUTH_BASE_URL: &str = "https://www.linkedin.com/oauth/v2";
/// Environment override of the OAuth base.
pub const OAUTH_ENDPOINT_ENV: &str = "ADSCTL_LINKEDIN_OAUTH_ENDPOINT";
/// Environment override of the pause between a DMP segment's create and its first member upload.
pub const SEGMENT_WAIT_ENV: &str = "ADSCTL_LINKEDIN_SEGMENT_WAIT_MS";

/// `pageSize` of the campaign group and campaign search finders (the pack: Airbyte asks 500; LinkedIn's maximum
/// is not confirmed).
pub const SEARCH_PAGE_SIZE: u32 = 500;
/// `pageSize` of the creative finder (`q=criteria`; Airbyte asks 100).
pub const CREATIVE_PAGE_SIZE: u32 = 100;
/// `count` of the DMP segment finder (`q=account`, start/count paging; the pack: count ≤ 1000 on the account
/// finders, and an account holds at most 1,000 segments from 202608).
pub const SEGMENT_PAGE_SIZE: u32 = 1_000;
/// Elements per BATCH_CREATE of campaign groups and campaigns. The pack gives no cap ("Maximum elements per
/// batch: not confirmed"); 100 is the project's one reading of it, the same as BATCH_PARTIAL_UPDATE's and the
/// emulator's (`docs/wire-rules.md`).
pub const MAX_BATCH_CREATE: usize = 100;
/// Entities per BATCH_PARTIAL_UPDATE (their ids ride in the URL as `ids=List(…)`: 100 int64 ids stay far below
/// the 4,000-character URL at which a query would have to be tunnelled).
pub const MAX_BATCH_UPDATE: usize = 100;
/// Users per `POST /dmpSegments/{id}/users` BATCH_CREATE (the pack recalls 5,000, unverified; 1,000 is well
/// inside it).
pub const MAX_SEGMENT_USERS: usize = 1_000;
/// Campaign URNs per adAnalytics call (the URL is tunnelled beyond 4,000 characters anyway; this keeps a
/// tunnelled body modest).
pub const MAX_ANALYTICS_FACETS: usize = 200;
/// Longest URL sent as a GET; longer queries are tunnelled (POST, `X-HTTP-Method-Override: GET`) — the official
/// client's threshold.
pub const MAX_URL_LEN: usize = 4_000;
/// Operations the executor hands the connector at once; the connector packs them into batches.
pub const MAX_OPS_PER_APPLY: usize = 10_000;

/// The ownership marker at the end of a name or a DMP segment's description (`docs/resource-model.md`).
pub use crate::platforms::shared::MARKER;

/// Tunables of one connector. `from_env` reads the `ADSCTL_LINKEDIN_*` variables over the defaults.
#[derive(Clone, Debug)]
pub struct LinkedInConfig {
    /// The REST base, without a trailing slash (`https://api.linkedin.com/rest`).
    pub base_url: String,
    /// First wait after a 429 (LinkedIn sends no Retry-After): doubles per 429 in a row, up to
    /// `rate_limit_max_wait`.
    pub rate_limit_wait: Duration,
    pub rate_limit_max_wait: Duration,
    /// 429s in a row after which the request fails (a daily quota resets only at 00:00 UTC).
    pub max_rate_limit_retries: u32,
    /// First delay of the backoff for 500 / 503 / 504 and lost answers (doubles, jittered).
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    /// Retries after the first attempt for server errors and transport failures.
    pub max_retries: u32,
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// `pageSize` of the group and campaign searches.
    pub search_page_size: u32,
    /// `pageSize` of the creative finder.
    pub creative_page_size: u32,
    /// The pause between a DMP segment's create and its first member upload (LinkedIn: wait 5 s).
    pub segment_wait: Duration,
    /// Look-ups of a create whose answer was lost, before giving up on it for this run.
    pub lookup_attempts: u32,
    /// First pause before such a look-up (doubles).
    pub lookup_delay: Duration,
    /// The pause before a lease's confirming listing (`ADSCTL_LEASE_SETTLE_MS`, as for the other platforms).
    pub lease_settle: Duration,
}

impl Default for LinkedInConfig {
    fn default() -> Self {
        LinkedInConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            rate_limit_wait: Duration::from_secs(2),
            rate_limit_max_wait: Duration::from_secs(120),
            max_rate_limit_retries: 8,
            retry_min_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(60),
            max_retries: 5,
            request_timeout: Duration::from_secs(120),
            search_page_size: SEARCH_PAGE_SIZE,
            creative_page_size: CREATIVE_PAGE_SIZE,
            segment_wait: Duration::from_millis(5_000),
            lookup_attempts: 3,
            lookup_delay: Duration::from_secs(1),
            lease_settle: Duration::from_secs(1),
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

impl LinkedInConfig {
    /// Defaults, overridden by the environment, overridden by the account's `endpoint`.
    ///
    /// `ADSCTL_LINKEDIN_ENDPOINT`, `ADSCTL_LINKEDIN_SEGMENT_WAIT_MS`, `ADSCTL_LINKEDIN_RATE_LIMIT_WAIT_MS`,
    /// `ADSCTL_LINKEDIN_RETRY_MIN_MS`, `ADSCTL_LINKEDIN_RETRY_MAX_MS`, `ADSCTL_LINKEDIN_MAX_RETRIES`,
    /// `ADSCTL_LINKEDIN_TIMEOUT_MS`, `ADSCTL_LINKEDIN_PAGE_SIZE` (searches), `ADSCTL_LINKEDIN_LOOKUP_DELAY_MS`,
    /// `ADSCTL_LEASE_SETTLE_MS`.
    pub fn from_env(account: &Account) -> Result<LinkedInConfig, ConnectorError> {
        let mut c = LinkedInConfig::default();
        if let Ok(v) = std::env::var(ENDPOINT_ENV) {
            if !v.trim().is_empty() {
                c.base_url = v.trim().to_string();
            }
        }
        // the account's `endpoint:` beats the environment (as `crate::auth::endpoint_override` reads it for auth)
        if let Some(e) = account.endpoint.as_deref().filter(|e| !e.trim().is_empty()) {
            c.base_url = e.trim().to_string();
        }
        c.base_url = normalise_base(&c.base_url)?;
        let ms = Duration::from_millis;
        if let Some(v) = env_u64(SEGMENT_WAIT_ENV)? {
            c.segment_wait = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_LINKEDIN_RATE_LIMIT_WAIT_MS")? {
            c.rate_limit_wait = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_LINKEDIN_RETRY_MIN_MS")? {
            c.retry_min_delay = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_LINKEDIN_RETRY_MAX_MS")? {
            c.retry_max_delay = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_LINKEDIN_MAX_RETRIES")? {
            c.max_retries = u32::try_from(v).unwrap_or(u32::MAX);
        }
        if let Some(v) = env_u64("ADSCTL_LINKEDIN_TIMEOUT_MS")? {
            c.request_timeout = ms(v.max(1));
        }
        if let Some(v) = env_u64("ADSCTL_LINKEDIN_PAGE_SIZE")? {
            c.search_page_size = u32::try_from(v).unwrap_or(SEARCH_PAGE_SIZE).clamp(1, SEARCH_PAGE_SIZE);
        }
        if let Some(v) = env_u64("ADSCTL_LINKEDIN_LOOKUP_DELAY_MS")? {
            c.lookup_delay = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_LEASE_SETTLE_MS")? {
            c.lease_settle = ms(v);
        }
        if c.retry_max_delay < c.retry_min_delay {
            c.retry_max_delay = c.retry_min_delay;
        }
        if c.rate_limit_max_wait < c.rate_limit_wait {
            c.rate_limit_max_wait = c.rate_limit_wait;
        }
        Ok(c)
    }

    /// A configuration for `base_url` with the defaults otherwise (tests, `--emulator`).
    pub fn for_endpoint(base_url: &str) -> Result<LinkedInConfig, ConnectorError> {
        Ok(LinkedInConfig {
            base_url: normalise_base(base_url)?,
            ..LinkedInConfig::default()
        })
    }

    /// `https://api.linkedin.com/rest/adAccounts/1/adCampaigns` for `adAccounts/1/adCampaigns` (the path is
    /// already encoded: see `client::path_key`).
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url, path.trim_start_matches('/'))
    }
}

/// The base URL without a trailing slash, ending in `/rest` (added when someone wrote only the host).
fn normalise_base(base: &str) -> Result<String, ConnectorError> {
    let mut b = base.trim().trim_end_matches('/').to_string();
    let scheme = b.to_ascii_lowercase();
    if !(scheme.starts_with("http://") || scheme.starts_with("https://")) {
        return Err(ConnectorError::Config(format!(
            "LinkedIn endpoint `{b}` is not an http(s) URL"
        )));
    }
    if !b.ends_with("/rest") {
        b.push_str("/rest");
    }
    // as the URL parser writes it (lower-case host, no default port): every request URL is checked to reach the
    // wire exactly as built, so the base must already be in that form
    let parsed = url::Url::parse(&b)
        .map_err(|e| ConnectorError::Config(format!("LinkedIn endpoint `{b}` is not a URL: {e}")))?;
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// The OAuth base: `https://www.linkedin.com/oauth/v2`, or `ADSCTL_LINKEDIN_OAUTH_ENDPOINT` (an account's
/// `endpoint:` moves the REST API only).
pub fn oauth_base(auth: &crate::auth::Auth) -> String {
    crate::auth::env_base_url(auth, OAUTH_ENDPOINT_ENV).unwrap_or_else(|| DEFAULT_OAUTH_BASE_URL.to_string())
}

/// Resolve the credentials of an account through the auth module (the encrypted token vault, then
/// `ADSCTL_LINKEDIN_ACCESS_TOKEN` …). A missing token is an auth error with the fix.
pub fn resolve_credentials(account: &Account) -> Result<LinkedInCredentials, ConnectorError> {
    match crate::auth::credentials(account) {
        Ok(c) => match c.get::<LinkedInCredentials>() {
            Some(t) => Ok(t.clone()),
            None => Err(ConnectorError::Config(format!(
                "the credentials stored for `{}` are not LinkedIn credentials",
                account.name
            ))),
        },
        Err(e) => Err(ConnectorError::Auth {
            message: format!("no usable LinkedIn credentials for account `{}`: {e}", account.name),
            hint: e.hint(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_end_in_rest_without_a_slash() {
        let c = LinkedInConfig::for_endpoint("http://127.0.0.1:9/").unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:9/rest");
        assert_eq!(
            c.url("adAccounts/1/adCampaigns"),
            "http://127.0.0.1:9/rest/adAccounts/1/adCampaigns"
        );
        let c = LinkedInConfig::for_endpoint("https://api.linkedin.com/rest/").unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert!(LinkedInConfig::for_endpoint("ftp://x").is_err());
        let c = LinkedInConfig::for_endpoint("HTTPS://API.LinkedIn.com:443").unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(API_VERSION, "202608");
    }
}
