//! Where the Mailchimp connector talks to, how fast, and with which credentials.
//!
//! The base is `https://{dc}.api.mailchimp.com/3.0/`, the data center coming from the credentials (the API key's
//! suffix, or the OAuth metadata stored with the token), never from the YAML. `ADSCTL_MAILCHIMP_ENDPOINT` (or the
//! account's `endpoint:`) replaces scheme and host (the emulator's `http://127.0.0.1:PORT`); `/3.0/` is appended.

use std::time::Duration;

use super::auth::MailchimpCredentials;
use crate::connectors::ConnectorError;
use crate::model::Account;

/// The API version: the path prefix of every call.
pub const API_PREFIX: &str = "3.0";
/// Environment override of scheme + host.
pub const ENDPOINT_ENV: &str = "ADSCTL_MAILCHIMP_ENDPOINT";
/// `count` of every offset-paged list (the maximum).
pub const PAGE_SIZE: usize = 1_000;
/// Members per batch subscribe (`POST /lists/{id}`) and per segment add / remove.
pub const MAX_MEMBERS_PER_REQUEST: usize = 500;
/// Simultaneous in-flight requests per account (the 11th gets 429).
pub const MAX_CONCURRENT: usize = 10;
/// Operations the executor hands the connector at once.
pub const MAX_OPS_PER_APPLY: usize = 10_000;

/// Tunables of one connector.
#[derive(Clone, Debug)]
pub struct McConfig {
    /// `https://us6.api.mailchimp.com/3.0/` (trailing slash).
    pub base_url: String,
    /// First delay of the backoff for 429 / 5xx / lost answers (doubles, jittered).
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    /// Retries after the first attempt for server errors and transport failures.
    pub max_retries: u32,
    /// 429s in a row after which the call fails.
    pub max_rate_limit_retries: u32,
    pub request_timeout: Duration,
    /// The pause before a lease's confirming listing.
    pub lease_settle: Duration,
}

impl McConfig {
    /// Defaults for a data center (or an endpoint that replaces it).
    pub fn for_base(base: &str) -> Result<McConfig, ConnectorError> {
        Ok(McConfig {
            base_url: normalise_base(base)?,
            retry_min_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(60),
            max_retries: 5,
            max_rate_limit_retries: 8,
            request_timeout: Duration::from_secs(120),
            lease_settle: Duration::from_secs(1),
        })
    }

    /// A configuration for an endpoint (tests, `--emulator`).
    pub fn for_endpoint(endpoint: &str) -> Result<McConfig, ConnectorError> {
        McConfig::for_base(endpoint)
    }

    /// Defaults for the credentials' data center, overridden by the environment, overridden by the account's
    /// `endpoint`. `ADSCTL_MAILCHIMP_RETRY_MIN_MS`, `ADSCTL_MAILCHIMP_MAX_RETRIES`, `ADSCTL_MAILCHIMP_TIMEOUT_MS`,
    /// `ADSCTL_LEASE_SETTLE_MS`.
    pub fn from_env(account: &Account, creds: &MailchimpCredentials) -> Result<McConfig, ConnectorError> {
        let mut base = default_host(&creds.dc);
        if let Ok(v) = std::env::var(ENDPOINT_ENV) {
            if !v.trim().is_empty() {
                base = v.trim().to_string();
            }
        }
        if let Some(e) = account.endpoint.as_deref().filter(|e| !e.trim().is_empty()) {
            base = e.trim().to_string();
        }
        let mut c = McConfig::for_base(&base)?;
        let ms = Duration::from_millis;
        if let Some(v) = env_u64("ADSCTL_MAILCHIMP_RETRY_MIN_MS")? {
            c.retry_min_delay = ms(v);
        }
        if let Some(v) = env_u64("ADSCTL_MAILCHIMP_MAX_RETRIES")? {
            c.max_retries = u32::try_from(v).unwrap_or(u32::MAX);
        }
        if let Some(v) = env_u64("ADSCTL_MAILCHIMP_TIMEOUT_MS")? {
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

    /// The full URL of `path` (relative to `/3.0/`, already encoded).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path.trim_start_matches('/'))
    }
}

/// `https://{dc}.api.mailchimp.com`.
pub fn default_host(dc: &str) -> String {
    format!("https://{dc}.api.mailchimp.com")
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

/// Scheme + host (+ port) with `/3.0/` appended (kept when already there).
pub fn normalise_base(base: &str) -> Result<String, ConnectorError> {
    let b = base.trim().trim_end_matches('/');
    let lower = b.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(ConnectorError::Config(format!(
            "Mailchimp endpoint `{b}` is not an http(s) URL"
        )));
    }
    let with = if b.ends_with(&format!("/{API_PREFIX}")) {
        format!("{b}/")
    } else {
        format!("{b}/{API_PREFIX}/")
    };
    let parsed = url::Url::parse(&with)
        .map_err(|e| ConnectorError::Config(format!("Mailchimp endpoint `{b}` is not a URL: {e}")))?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(ConnectorError::Config(format!(
            "Mailchimp endpoint `{b}` must not carry a query or a fragment"
        )));
    }
    Ok(parsed.as_str().to_string())
}

/// The account's credentials through the auth module (the vault, then the environment).
pub fn resolve_credentials(account: &Account) -> Result<MailchimpCredentials, ConnectorError> {
    match crate::auth::credentials(account) {
        Ok(c) => match c.get::<MailchimpCredentials>() {
            Some(t) => Ok(t.clone()),
            None => Err(ConnectorError::Config(format!(
                "the credentials stored for `{}` are not Mailchimp credentials",
                account.name
            ))),
        },
        Err(e) => Err(ConnectorError::Auth {
            message: format!("no usable Mailchimp credentials for account `{}`: {e}", account.name),
            hint: e.hint(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_end_in_the_version() {
        assert_eq!(
            McConfig::for_endpoint("http://127.0.0.1:9").unwrap().base_url,
            "http://127.0.0.1:9/3.0/"
        );
        assert_eq!(
            McConfig::for_endpoint(&default_host("us6")).unwrap().base_url,
            "https://us6.api.mailchimp.com/3.0/"
        );
        assert_eq!(
            McConfig::for_endpoint("https://us6.api.mailchimp.com/3.0/")
                .unwrap()
                .base_url,
            "https://us6.api.mailchimp.com/3.0/"
        );
        assert!(McConfig::for_endpoint("ftp://x").is_err());
    }
}
