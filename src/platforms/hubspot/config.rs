//! Where the HubSpot connector talks to, how fast, and with which credentials.
//!
//! Every setting has a default right for the real API (`https://api.hubapi.com`, date version 2026-09) and an
//! environment override, so the same code talks to HubSpot or to `adsctl emulator`.

use std::time::Duration;

use super::auth::HubSpotCredentials;
use crate::connectors::ConnectorError;
use crate::model::Account;

/// The date version in every path (`/marketing/campaigns/2026-09`): the newest GA version (WIRE-NOTES). One
/// constant, on purpose.
pub const API_VERSION: &str = "2026-09";
/// One host for every API (and the OAuth token endpoint).
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";
/// Environment override of the API base (the emulator's address in tests and the quickstart).
pub const ENDPOINT_ENV: &str = "ADSCTL_HUBSPOT_ENDPOINT";
/// The consent screen of `auth login`.
pub const DEFAULT_LOGIN_BASE_URL: &str = "https://app.hubspot.com";
/// Environment override of the consent screen's host (serves `/oauth/authorize`).
pub const LOGIN_ENDPOINT_ENV: &str = "ADSCTL_HUBSPOT_LOGIN_ENDPOINT";
/// Campaign batch inputs (the pack: 50, not 100).
pub const MAX_CAMPAIGN_BATCH: usize = 50;
/// Contact batch inputs (read, upsert).
pub const MAX_OBJECT_BATCH: usize = 100;
/// Record ids per `memberships/add|remove` (the pack found no cap; the contract: ≤ 1,000).
pub const MAX_MEMBERSHIP_IDS: usize = 1_000;
/// `limit` of a campaign list page (objects max 100).
pub const CAMPAIGN_PAGE: u32 = 100;
/// `limit` of a memberships page (max 250).
pub const MEMBERSHIP_PAGE: u32 = 250;
/// `count` of a list search (max 500, offset paging).
pub const LIST_SEARCH_COUNT: u32 = 500;
/// Operations the executor hands the connector at once; the connector packs them into batches of 50.
pub const MAX_OPS_PER_APPLY: usize = 10_000;
/// The name of the one spend item adsctl owns on a campaign (`spend`).
pub const SPEND_ITEM_NAME: &str = "Ad spend (adsctl)";

pub use crate::platforms::shared::MARKER;

/// Tunables of one connector.
#[derive(Clone, Debug)]
pub struct HubSpotConfig {
    /// The API base without a trailing slash (`https://api.hubapi.com`).
    pub base_url: String,
    /// Wait after a 429 TEN_SECONDLY_ROLLING, times the 429s in a row (the official SDK: 10 s × attempt).
    pub ten_secondly_wait: Duration,
    /// Wait after a 429 SECONDLY (search), times the 429s in a row (1 s × attempt).
    pub secondly_wait: Duration,
    /// 429s in a row after which the request fails.
    pub max_rate_limit_retries: u32,
    /// Wait after a 423 Locked (the pack: ≥ 2 s).
    pub locked_wait: Duration,
    /// Longest `Retry-After` of a 477 this connector waits by itself (`--max-wait` may cut it further).
    pub migration_max_wait: Duration,
    /// First delay of the backoff for 5xx and broken connections (doubles, jittered).
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    /// Retries after the first attempt for 5xx / 423 / 477 / transport failures.
    pub max_retries: u32,
    pub request_timeout: Duration,
    /// Refresh an OAuth access token when it ends within this (tokens live 30 minutes).
    pub refresh_ahead: Duration,
    /// Look-ups of a create whose answer was lost, and the first pause before one (doubles).
    pub lookup_attempts: u32,
    pub lookup_delay: Duration,
    /// The pause before a lease's confirming search.
    pub lease_settle: Duration,
}

impl Default for HubSpotConfig {
    fn default() -> Self {
        HubSpotConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            ten_secondly_wait: Duration::from_secs(10),
            secondly_wait: Duration::from_secs(1),
            max_rate_limit_retries: 6,
            locked_wait: Duration::from_secs(2),
            migration_max_wait: Duration::from_secs(15 * 60),
            retry_min_delay: Duration::from_millis(200),
            retry_max_delay: Duration::from_secs(30),
            max_retries: 5,
            request_timeout: Duration::from_secs(120),
            refresh_ahead: Duration::from_secs(5 * 60),
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

impl HubSpotConfig {
    /// Defaults, overridden by the environment (`ADSCTL_HUBSPOT_ENDPOINT`, `ADSCTL_HUBSPOT_MAX_RETRIES`,
    /// `ADSCTL_HUBSPOT_RATE_LIMIT_WAIT_MS`, `ADSCTL_HUBSPOT_TIMEOUT_MS`, `ADSCTL_LEASE_SETTLE_MS`), overridden by the account's `endpoint:`.
    pub fn from_env(account: &Account) -> Result<HubSpotConfig, ConnectorError> {
        let mut c = HubSpotConfig::default();
        if let Ok(v) = std::env::var(ENDPOINT_ENV) {
            if !v.trim().is_empty() {
                c.base_url = v.trim().to_string();
            }
        }
        if let Some(e) = account.endpoint.as_deref().filter(|e| !e.trim().is_empty()) {
            c.base_url = e.trim().to_string();
        }
        c.base_url = normalise_base(&c.base_url)?;
        if let Some(v) = env_u64("ADSCTL_HUBSPOT_MAX_RETRIES")? {
            c.max_retries = u32::try_from(v).unwrap_or(u32::MAX);
        }
        // the waits a 429 asks for (HubSpot's ten-second window, search's second), shortened in tests
        if let Some(v) = env_u64("ADSCTL_HUBSPOT_RATE_LIMIT_WAIT_MS")? {
            c.ten_secondly_wait = Duration::from_millis(v);
            c.secondly_wait = Duration::from_millis(v.min(1000));
        }
        if let Some(v) = env_u64("ADSCTL_HUBSPOT_TIMEOUT_MS")? {
            c.request_timeout = Duration::from_millis(v.max(1));
        }
        if let Some(v) = env_u64("ADSCTL_LEASE_SETTLE_MS")? {
            c.lease_settle = Duration::from_millis(v);
        }
        Ok(c)
    }

    /// Defaults against one endpoint (tests, `--emulator`).
    pub fn for_endpoint(url: &str) -> Result<HubSpotConfig, ConnectorError> {
        Ok(HubSpotConfig {
            base_url: normalise_base(url)?,
            ..HubSpotConfig::default()
        })
    }
}

/// A base URL as the URL parser writes it, without a trailing slash.
pub fn normalise_base(b: &str) -> Result<String, ConnectorError> {
    let b = b.trim();
    let lower = b.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(ConnectorError::Config(format!(
            "HubSpot endpoint `{b}` must start with http:// or https://"
        )));
    }
    let parsed =
        url::Url::parse(b).map_err(|e| ConnectorError::Config(format!("HubSpot endpoint `{b}` is not a URL: {e}")))?;
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// The portal id from adsctl.yaml (`portal_id`, the hub id: digits).
pub fn portal_id(account: &Account) -> Result<String, ConnectorError> {
    let id = account.platform_id.trim().to_string();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConnectorError::Config(format!(
            "account `{}`: the HubSpot portal id `{id}` is not a hub id (digits, like 20000001)",
            account.name
        )));
    }
    Ok(id)
}

/// The account's credentials through the auth module (the token vault, then `ADSCTL_HUBSPOT_*`).
pub fn resolve_credentials(account: &Account) -> Result<HubSpotCredentials, ConnectorError> {
    match crate::auth::credentials(account) {
        Ok(c) => match c.kind.get::<HubSpotCredentials>() {
            Some(t) => Ok(t.clone()),
            None => Err(ConnectorError::Config(format!(
                "the credentials stored for `{}` are not HubSpot credentials",
                account.name
            ))),
        },
        Err(e) => Err(ConnectorError::Auth {
            message: format!("no usable HubSpot credentials for account `{}`: {e}", account.name),
            hint: e.hint(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_lose_their_slash_and_must_be_http() {
        let c = HubSpotConfig::for_endpoint("http://127.0.0.1:9/").unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:9");
        assert_eq!(
            HubSpotConfig::for_endpoint("HTTPS://API.HubAPI.com:443")
                .unwrap()
                .base_url,
            DEFAULT_BASE_URL
        );
        assert!(HubSpotConfig::for_endpoint("ftp://x").is_err());
    }
}
