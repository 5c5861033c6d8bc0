//! Endpoints, credentials and tunables of the Google Ads connector.

use std::time::Duration;

use crate::model::Account;
use crate::secret::Secret;

use super::errors::GoogleAdsError;

/// The one API version this connector speaks.
pub const API_VERSION: &str = "v25";
pub const DEFAULT_ENDPOINT: &str = "https://googleads.googleapis.com";
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub const ENV_ENDPOINT: &str = "ADSCTL_GOOGLE_ADS_ENDPOINT";
pub const ENV_TOKEN_URL: &str = "ADSCTL_GOOGLE_OAUTH_TOKEN_URL";
/// Most operations one mutate request may carry (TOO_MANY_MUTATE_OPERATIONS above it).
pub const MAX_MUTATE_OPERATIONS: usize = 10_000;
/// Operations the executor hands the connector at once. The connector sends them in mutates of at most
/// `max_ops_per_request` operations (temporary names made in one are substituted in the next), so only the last
/// mutate of a hand-over is short. The connector adds label links to the executor's operations (a created
/// campaign is two mutate operations): with hand-overs of 10,000, a tree of 100k resources took 11 mutates
/// where 8 carry it.
pub const MAX_OPS_PER_APPLY: usize = 100_000;
/// The ownership marker.
pub const OWNER_LABEL: &str = "adsctl-managed";

/// What the connector needs to authenticate. Every secret is a [`Secret`].
#[derive(Clone, Debug)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: Secret,
    pub developer_token: Secret,
    pub refresh_token: Secret,
    /// Manager account (digits) sent as `login-customer-id`.
    pub login_customer_id: Option<String>,
}

impl Credentials {
    pub fn secrets(&self) -> [&Secret; 3] {
        [&self.client_secret, &self.developer_token, &self.refresh_token]
    }
}

/// Where credentials come from. The environment is the default; the token store (auth) plugs in here.
pub trait CredentialSource: Send + Sync {
    fn credentials(&self, account: &Account) -> Result<Credentials, GoogleAdsError>;
}

/// `GOOGLE_ADS_CLIENT_ID`, `_CLIENT_SECRET`, `_DEVELOPER_TOKEN`, `_REFRESH_TOKEN`, `_LOGIN_CUSTOMER_ID`.
pub struct EnvCredentials;

impl CredentialSource for EnvCredentials {
    fn credentials(&self, account: &Account) -> Result<Credentials, GoogleAdsError> {
        credentials_from(account, |k| std::env::var(k).ok())
    }
}

/// The project's credential resolution (`crate::auth`): the encrypted token vault first, then the environment.
/// `Account.login_customer_id` wins over a stored or environment one. When neither has credentials, the error
/// names the missing variables.
pub struct AuthCredentials;

impl CredentialSource for AuthCredentials {
    fn credentials(&self, account: &Account) -> Result<Credentials, GoogleAdsError> {
        match crate::auth::credentials(account) {
            Ok(c) => {
                let g =
                    c.get::<super::auth::GoogleCredentials>()
                        .ok_or_else(|| GoogleAdsError::MissingCredentials {
                            account: account.name.clone(),
                            detail: format!(
                                "the credentials stored for `{}` are not Google Ads credentials",
                                account.name
                            ),
                        })?;
                Ok(Credentials {
                    client_id: g.client_id.clone(),
                    client_secret: g.client_secret.clone(),
                    developer_token: g.developer_token.clone(),
                    refresh_token: g.refresh_token.clone(),
                    login_customer_id: account
                        .login_customer_id
                        .clone()
                        .or_else(|| g.login_customer_id.clone())
                        .map(|l| digits(&l))
                        .filter(|l| !l.is_empty()),
                })
            }
            Err(crate::auth::AuthError::Missing { .. }) => EnvCredentials.credentials(account),
            Err(e) => Err(GoogleAdsError::MissingCredentials {
                account: account.name.clone(),
                detail: format!("{e} ({})", e.hint()),
            }),
        }
    }
}

/// Fixed credentials (tests, or credentials resolved elsewhere).
pub struct StaticCredentials(pub Credentials);

impl CredentialSource for StaticCredentials {
    fn credentials(&self, _account: &Account) -> Result<Credentials, GoogleAdsError> {
        Ok(self.0.clone())
    }
}

/// Resolve credentials through a lookup function (the environment, or a test's map).
/// `Account.login_customer_id` wins over the variable.
pub fn credentials_from(
    account: &Account,
    get: impl Fn(&str) -> Option<String>,
) -> Result<Credentials, GoogleAdsError> {
    let var = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let mut missing = Vec::new();
    let mut need = |k: &'static str| {
        let v = var(k);
        if v.is_none() {
            missing.push(k);
        }
        v.unwrap_or_default()
    };
    let client_id = need("GOOGLE_ADS_CLIENT_ID");
    let client_secret = need("GOOGLE_ADS_CLIENT_SECRET");
    let developer_token = need("GOOGLE_ADS_DEVELOPER_TOKEN");
    let refresh_token = need("GOOGLE_ADS_REFRESH_TOKEN");
    if !missing.is_empty() {
        return Err(GoogleAdsError::MissingCredentials {
            account: account.name.clone(),
            detail: format!("{} not set (account `{}`)", missing.join(", "), account.name),
        });
    }
    let login = account
        .login_customer_id
        .clone()
        .or_else(|| var("GOOGLE_ADS_LOGIN_CUSTOMER_ID"))
        .map(|s| digits(&s));
    Ok(Credentials {
        client_id,
        client_secret: Secret::new(client_secret),
        developer_token: Secret::new(developer_token),
        refresh_token: Secret::new(refresh_token),
        login_customer_id: login.filter(|s| !s.is_empty()),
    })
}

/// Customer ids go on the wire as digits only.
pub fn digits(id: &str) -> String {
    id.chars().filter(char::is_ascii_digit).collect()
}

/// Tunables. Defaults follow the reference; every one can be lowered through the environment.
#[derive(Clone, Debug)]
pub struct Settings {
    pub endpoint: String,
    pub token_url: String,
    /// Operations per mutate request (≤ 10,000).
    pub max_ops_per_request: usize,
    /// Token bucket per developer token and per customer.
    pub rate_per_minute: u32,
    pub rate_per_hour: u32,
    /// A 429 asking to wait longer than this stops with the quota's name instead of sleeping.
    pub max_retry_delay: Duration,
    /// Backoff for transient errors: first delay, cap, attempts.
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    pub max_retries: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Offline user data job polling.
    pub poll_interval: Duration,
    pub poll_max: Duration,
    /// User identifiers per addOperations request.
    pub upload_chunk: usize,
    /// The developer token's daily operations (basic access: 15,000; `ADSCTL_GOOGLE_ADS_DAILY_OPERATIONS`,
    /// 0 for standard access, which is unlimited).
    pub daily_operations: u64,
}

impl Settings {
    /// Defaults, overridden by `ADSCTL_GOOGLE_ADS_*` variables, then by the account's `endpoint`.
    pub fn for_account(account: &Account) -> Settings {
        Self::from_lookup(account, |k| std::env::var(k).ok())
    }

    pub fn from_lookup(account: &Account, get: impl Fn(&str) -> Option<String>) -> Settings {
        let num = |k: &str, d: u64| get(k).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(d);
        let ms = |k: &str, d: u64| Duration::from_millis(num(k, d));
        let endpoint = account
            .endpoint
            .clone()
            .or_else(|| get(ENV_ENDPOINT))
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        Settings {
            endpoint: endpoint.trim().trim_end_matches('/').to_string(),
            // An API endpoint moved elsewhere (the emulator, which serves `/token` too) moves the token endpoint
            // along unless ADSCTL_GOOGLE_OAUTH_TOKEN_URL says otherwise.
            token_url: get(ENV_TOKEN_URL)
                .filter(|s| !s.trim().is_empty())
                .or_else(|| {
                    let e = endpoint.trim().trim_end_matches('/');
                    (e != DEFAULT_ENDPOINT).then(|| format!("{e}/token"))
                })
                .unwrap_or_else(|| DEFAULT_TOKEN_URL.to_string()),
            max_ops_per_request: (num("ADSCTL_GOOGLE_ADS_MAX_OPS", MAX_MUTATE_OPERATIONS as u64) as usize)
                .clamp(1, MAX_MUTATE_OPERATIONS),
            rate_per_minute: num("ADSCTL_GOOGLE_ADS_RATE_PER_MINUTE", 1_000).clamp(1, u32::MAX as u64) as u32,
            rate_per_hour: num("ADSCTL_GOOGLE_ADS_RATE_PER_HOUR", 10_000).clamp(1, u32::MAX as u64) as u32,
            max_retry_delay: Duration::from_secs(num("ADSCTL_GOOGLE_ADS_MAX_RETRY_DELAY_SECS", 120)),
            retry_min_delay: ms("ADSCTL_GOOGLE_ADS_RETRY_MIN_MS", 5_000),
            retry_max_delay: ms("ADSCTL_GOOGLE_ADS_RETRY_MAX_MS", 60_000),
            max_retries: num("ADSCTL_GOOGLE_ADS_MAX_RETRIES", 5) as usize,
            timeout: ms("ADSCTL_GOOGLE_ADS_TIMEOUT_MS", 120_000),
            poll_interval: ms("ADSCTL_GOOGLE_ADS_POLL_MS", 2_000),
            poll_max: ms("ADSCTL_GOOGLE_ADS_POLL_MAX_MS", 600_000),
            upload_chunk: (num("ADSCTL_GOOGLE_ADS_UPLOAD_CHUNK", 10_000) as usize).clamp(1, 100_000),
            daily_operations: num("ADSCTL_GOOGLE_ADS_DAILY_OPERATIONS", 15_000),
        }
    }

    pub fn api_base(&self) -> String {
        format!("{}/{}", self.endpoint, API_VERSION)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::model::{Currency, Guardrails, Platform, RemovalPolicy};

    pub(crate) fn account() -> Account {
        Account {
            name: "acme".into(),
            platform: Platform::GoogleAds,
            platform_id: "1234567890".into(),
            login_customer_id: None,
            currency: Currency::from_code("USD").unwrap(),
            time_zone: None,
            on_removed: RemovalPolicy::Pause,
            guardrails: Guardrails::default(),
            endpoint: None,
        }
    }

    #[test]
    fn credentials_resolve_and_stay_masked() {
        let env: HashMap<&str, &str> = [
            ("GOOGLE_ADS_CLIENT_ID", "cid"),
            ("GOOGLE_ADS_CLIENT_SECRET", "csecret-xyz"),
            ("GOOGLE_ADS_DEVELOPER_TOKEN", "devtok-xyz"),
            ("GOOGLE_ADS_REFRESH_TOKEN", "1//refresh-xyz"),
            ("GOOGLE_ADS_LOGIN_CUSTOMER_ID", "111-222-3333"),
        ]
        .into();
        let get = |k: &str| env.get(k).map(|s| s.to_string());
        let mut acct = account();
        let c = credentials_from(&acct, get).unwrap();
        assert_eq!(c.login_customer_id.as_deref(), Some("1112223333"));
        let shown = format!("{c:?}");
        assert!(!shown.contains("xyz"), "{shown}");
        acct.login_customer_id = Some("999-000-1111".into());
        let c = credentials_from(&acct, get).unwrap();
        assert_eq!(c.login_customer_id.as_deref(), Some("9990001111"));
        let err = credentials_from(&acct, |_| None).unwrap_err().to_string();
        assert!(err.contains("GOOGLE_ADS_DEVELOPER_TOKEN"), "{err}");
    }

    #[test]
    fn endpoints_override_in_order() {
        let mut acct = account();
        let s = Settings::from_lookup(&acct, |_| None);
        assert_eq!(s.api_base(), "https://googleads.googleapis.com/v25");
        assert_eq!(s.token_url, DEFAULT_TOKEN_URL);
        assert_eq!(s.max_ops_per_request, 10_000);
        let env = |k: &str| match k {
            ENV_ENDPOINT => Some("http://127.0.0.1:9/".to_string()),
            "ADSCTL_GOOGLE_ADS_MAX_OPS" => Some("50000".to_string()),
            _ => None,
        };
        let s = Settings::from_lookup(&acct, env);
        assert_eq!(s.endpoint, "http://127.0.0.1:9");
        assert_eq!(s.token_url, "http://127.0.0.1:9/token");
        assert_eq!(s.max_ops_per_request, 10_000);
        acct.endpoint = Some("http://127.0.0.1:7".into());
        assert_eq!(Settings::from_lookup(&acct, env).endpoint, "http://127.0.0.1:7");
        let s = Settings::from_lookup(&acct, |_| None);
        assert_eq!(s.token_url, "http://127.0.0.1:7/token");
        let s = Settings::from_lookup(&acct, |k| {
            (k == ENV_TOKEN_URL).then(|| "http://127.0.0.1:8/t".to_string())
        });
        assert_eq!(s.token_url, "http://127.0.0.1:8/t");
    }
}
