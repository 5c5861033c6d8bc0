//! Where the Salesforce connector talks to, how fast, and when it stops to spare the org's daily allocation.
//!
//! The instance (`https://acme.my.salesforce.com`) comes from the latest token response; the account's `endpoint:`
//! or `ADSCTL_SALESFORCE_INSTANCE_URL` names it when the credentials carry none (an access token from the
//! environment) — a token response's `instance_url` always wins afterwards (WIRE-NOTES: "always take instance_url
//! from the latest token response"). The login host (`/services/oauth2/token`) is `ADSCTL_SALESFORCE_LOGIN_URL`,
//! else the account's `endpoint:` (the emulator is both), else `https://login.salesforce.com`.

use std::time::Duration;

use super::auth::SalesforceCredentials;
use crate::connectors::ConnectorError;
use crate::model::Account;

/// The REST API version: one constant (WIRE-NOTES: v68.0, Winter '27).
pub const API_VERSION: &str = "68.0";
/// `/services/data/v68.0/`.
pub const DATA_PATH: &str = "/services/data/v68.0/";
pub const DEFAULT_LOGIN_URL: &str = "https://login.salesforce.com";
pub const INSTANCE_URL_ENV: &str = "ADSCTL_SALESFORCE_INSTANCE_URL";
pub const LOGIN_URL_ENV: &str = "ADSCTL_SALESFORCE_LOGIN_URL";
/// The external id adsctl asks an admin to create on Campaign (Text, External ID, Unique).
pub const KEY_FIELD: &str = "Adsctl_Key__c";
/// A key of adsctl's: `adsctl:<address>`.
pub const KEY_PREFIX: &str = "adsctl:";
/// Records per sObject Collections call.
pub const MAX_COLLECTION: usize = 200;
/// Values per `IN (…)` of a query (keeps the URL well under Salesforce's 16 KB).
pub const MAX_IN_VALUES: usize = 100;
/// Operations the executor hands over at once; the connector packs them into collections of 200.
pub const MAX_OPS_PER_APPLY: usize = 10_000;
/// Past this share of the daily allocation (`Sforce-Limit-Info`), the connector stops.
pub const USAGE_STOP_PERCENT: u64 = 90;

pub use crate::platforms::shared::MARKER;

#[derive(Clone, Debug)]
pub struct SalesforceConfig {
    /// The instance to use when the credentials name none (no trailing slash).
    pub instance_url: Option<String>,
    /// The login host of the token endpoint (no trailing slash).
    pub login_url: String,
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    /// Retries after the first attempt (lock contention, 502 / 503, concurrent-request limit, no answer).
    pub max_retries: u32,
    pub request_timeout: Duration,
    /// The pause before a lease's confirming listing (`ADSCTL_LEASE_SETTLE_MS`).
    pub lease_settle: Duration,
    /// Stop past this percentage of the daily allocation.
    pub usage_stop_percent: u64,
}

impl Default for SalesforceConfig {
    fn default() -> Self {
        SalesforceConfig {
            instance_url: None,
            login_url: DEFAULT_LOGIN_URL.to_string(),
            retry_min_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(60),
            max_retries: 5,
            request_timeout: Duration::from_secs(600),
            lease_settle: Duration::from_secs(1),
            usage_stop_percent: USAGE_STOP_PERCENT,
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

fn env_text(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl SalesforceConfig {
    /// Defaults, overridden by the environment, overridden by the account's `endpoint`.
    pub fn from_env(account: &Account) -> Result<SalesforceConfig, ConnectorError> {
        let mut c = SalesforceConfig::default();
        let endpoint = account.endpoint.as_deref().map(str::trim).filter(|e| !e.is_empty());
        if let Some(i) = endpoint.map(String::from).or_else(|| env_text(INSTANCE_URL_ENV)) {
            c.instance_url = Some(normalise_host(&i)?);
        }
        if let Some(l) = env_text(LOGIN_URL_ENV).or_else(|| endpoint.map(String::from)) {
            c.login_url = normalise_host(&l)?;
        }
        let ms = Duration::from_millis;
        if let Some(v) = env_u64("ADSCTL_SALESFORCE_RETRY_MIN_MS")? {
            c.retry_min_delay = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_SALESFORCE_RETRY_MAX_MS")? {
            c.retry_max_delay = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_SALESFORCE_MAX_RETRIES")? {
            c.max_retries = u32::try_from(v).unwrap_or(u32::MAX);
        }
        if let Some(v) = env_u64("ADSCTL_SALESFORCE_TIMEOUT_MS")? {
            c.request_timeout = ms(v.max(1));
        }
        if let Some(v) = env_u64("ADSCTL_LEASE_SETTLE_MS")? {
            c.lease_settle = ms(v);
        }
        if c.retry_max_delay < c.retry_min_delay {
            c.retry_max_delay = c.retry_min_delay;
        }
        Ok(c)
    }

    /// A configuration whose instance and login host are both `url` (tests, `--emulator`).
    pub fn for_endpoint(url: &str) -> Result<SalesforceConfig, ConnectorError> {
        let u = normalise_host(url)?;
        Ok(SalesforceConfig {
            instance_url: Some(u.clone()),
            login_url: u,
            ..SalesforceConfig::default()
        })
    }
}

/// `scheme://host[:port]` as the URL parser writes it, without a path or a trailing slash.
pub fn normalise_host(url: &str) -> Result<String, ConnectorError> {
    let t = url.trim().trim_end_matches('/');
    let lower = t.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(ConnectorError::Config(format!(
            "Salesforce URL `{t}` is not an http(s) URL"
        )));
    }
    let p =
        url::Url::parse(t).map_err(|e| ConnectorError::Config(format!("Salesforce URL `{t}` is not a URL: {e}")))?;
    if p.query().is_some() || p.fragment().is_some() {
        return Err(ConnectorError::Config(format!(
            "Salesforce URL `{t}` must not carry a query or a fragment"
        )));
    }
    Ok(p.as_str().trim_end_matches('/').to_string())
}

/// Resolve the credentials of an account through the auth module (the vault, then `ADSCTL_SALESFORCE_*`).
pub fn resolve_credentials(account: &Account) -> Result<SalesforceCredentials, ConnectorError> {
    match crate::auth::credentials(account) {
        Ok(c) => match c.get::<SalesforceCredentials>() {
            Some(t) => Ok(t.clone()),
            None => Err(ConnectorError::Config(format!(
                "the credentials stored for `{}` are not Salesforce credentials",
                account.name
            ))),
        },
        Err(e) => Err(ConnectorError::Auth {
            message: format!("no usable Salesforce credentials for account `{}`: {e}", account.name),
            hint: e.hint(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(
            normalise_host("HTTPS://Acme.My.Salesforce.com/").unwrap(),
            "https://acme.my.salesforce.com"
        );
        assert_eq!(normalise_host("http://127.0.0.1:9").unwrap(), "http://127.0.0.1:9");
        assert!(normalise_host("ftp://x").is_err());
        let c = SalesforceConfig::for_endpoint("http://127.0.0.1:9/").unwrap();
        assert_eq!(c.instance_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(DATA_PATH, format!("/services/data/v{API_VERSION}/"));
    }
}
