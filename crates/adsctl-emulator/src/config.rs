//! Emulator configuration shared by every platform, and the `--seed` file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::faults::FaultSpec;
use super::EmulatorError;

/// Everything the core and the platforms need to start. `Default` is what the tests and the quickstart use:
/// a free loopback port, no persistence, no faults, real-looking token lifetimes.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// Where to listen (loopback only; port 0 picks a free port).
    pub listen: SocketAddr,
    /// Persist the state to this file periodically and on clean shutdown (and restore it at start).
    pub data: Option<PathBuf>,
    /// How often the state is written to `data`.
    pub persist_interval: Duration,
    /// Accounts and extra credentials.
    pub seed: SeedFile,
    /// Faults to inject from the start (changeable at run time with `POST /_emulator/faults`).
    pub faults: FaultSpec,
    /// Lifetime of the access tokens the OAuth endpoints issue (Google: 3600 s; Meta short-lived: 1 h).
    pub token_ttl: Duration,
    /// How long a Meta ad stays in PENDING_REVIEW before its review completes.
    pub review_delay: Duration,
    /// How long a `timeout` fault hangs before the connection is dropped.
    pub fault_hang: Duration,
    /// Rate limits per platform.
    pub rate_limits: RateLimits,
    /// Seed of the synthetic metrics (same seed, same numbers on every run).
    pub metric_seed: u64,
    /// Accounts that are not in the seed are created the first time they are used.
    pub auto_create_accounts: bool,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data: None,
            persist_interval: Duration::from_secs(5),
            seed: SeedFile::default(),
            faults: FaultSpec::default(),
            token_ttl: Duration::from_secs(3600),
            review_delay: Duration::from_secs(2),
            fault_hang: Duration::from_secs(30),
            rate_limits: RateLimits::default(),
            metric_seed: 0,
            auto_create_accounts: true,
        }
    }
}

/// Rate limits, per platform. `None` switches a limit off.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    pub google_ads: GoogleRateLimits,
    pub meta: MetaRateLimits,
    pub tiktok: TikTokRateLimits,
    pub linkedin: LinkedInRateLimits,
    pub x: XRateLimits,
}

/// X Ads: account-level reads per 15-minute window per endpoint (x-account-rate-limit-* headers) and writes
/// (POST/PUT/DELETE) per minute per account as one category (x-rate-limit-* headers); resets are Unix seconds at
/// the end of a fixed window (epoch-aligned). The pack's figures are 10,000 and 450; off by default.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XRateLimits {
    pub account_reads_per_15_min: Option<u32>,
    pub writes_per_minute: Option<u32>,
}

/// Google Ads: requests per second per customer (the real service answers RESOURCE_EXHAUSTED when a
/// developer token sends too fast) and the daily operation allowance of the developer token's access level.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoogleRateLimits {
    pub requests_per_second: Option<u32>,
    /// Basic access: 15,000 operations a day. Off by default so that benchmarks are not throttled.
    pub daily_operations: Option<u64>,
}

/// Meta: calls per rolling window per ad account (business use case) and per app.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetaRateLimits {
    /// Calls allowed per ad account in one window before code 80004 / usage at 100 %.
    pub calls_per_window: Option<u32>,
    /// Length of the window in seconds.
    pub window_secs: u64,
}

impl Default for MetaRateLimits {
    fn default() -> Self {
        MetaRateLimits {
            calls_per_window: None,
            window_secs: 3600,
        }
    }
}

/// TikTok: queries per second per developer app and endpoint (code 40100) and per advertiser (code 40133), both
/// answered with HTTP 200 and no rate-limit headers. Off by default so that benchmarks are not throttled (the
/// published Basic tier is 10 QPS per endpoint).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TikTokRateLimits {
    pub requests_per_second_per_endpoint: Option<u32>,
    pub requests_per_second_per_advertiser: Option<u32>,
}

/// LinkedIn: calls per UTC day (reset at 00:00 UTC) per endpoint, counted per application and per member of an
/// application; over either, HTTP 429 "Resource level throttle limit for calls to this resource is reached" without
/// Retry-After or rate-limit headers. LinkedIn publishes no numbers, so both are off by default.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkedInRateLimits {
    pub daily_calls_per_app_endpoint: Option<u64>,
    pub daily_calls_per_member_endpoint: Option<u64>,
}

/// The `--seed` YAML file.
///
/// ```yaml
/// google_ads:
///   customers:
///     - { customer_id: "1234567890", currency: USD, time_zone: America/New_York, descriptive_name: Acme }
///   developer_tokens: [my-dev-token]
/// meta:
///   ad_accounts:
///     - { id: act_1234567890, currency: USD, timezone_name: America/Los_Angeles, name: Acme }
/// tiktok:
///   advertisers:
///     - { advertiser_id: "7000000000000000001", currency: USD, timezone: America/Los_Angeles, name: Acme }
///   access_tokens: [my-long-lived-token]
///   apps:
///     - { app_id: "7100000000000000002", secret: my-app-secret }
/// linkedin:
///   ad_accounts:
///     - { id: "510000002", currency: EUR, name: Acme, role: ACCOUNT_MANAGER }
///   access_tokens: [my-linkedin-token]
///   clients:
///     - { client_id: my-client, client_secret: my-secret }
///   segment_user_wait_ms: 50
/// x:
///   accounts:
///     - { id: "18ce54d4x6a", currency: EUR, timezone: Europe/Berlin, name: Acme, funding_instrument_id: "lygyj" }
///   consumers:
///     - { consumer_key: my-key, consumer_secret: my-secret }
///   tokens:
///     - { access_token: 1-my-token, token_secret: my-token-secret }
///   timestamp_window_secs: 300
///   max_active_campaigns: 200
/// mailchimp:
///   dc: us6
///   api_keys: [fedcba9876543210fedcba9876543210-us6]
///   oauth_tokens: [my-oauth-token]
///   clients:
///     - { client_id: "123", client_secret: my-secret }
///   lists:
///     - { id: "0123456789", name: Newsletter, members: [a@example.org] }
///   accounts:
///     - { account_id: other1, name: Other, api_keys: [ffffffffffffffffffffffffffffffff-us6], lists: [] }
///   max_connections: 10
/// hubspot:
///   private_app_tokens: [pat-na1-my-token]
///   clients:
///     - { client_id: my-client, client_secret: my-secret }
///   refresh_tokens: [na1-my-refresh-token]
///   contacts:
///     - { email: a@example.org, properties: { firstname: Ada } }
///   lists:
///     - { name: Customers, processing_type: MANUAL, members: [a@example.org] }
///   portals:
///     - { portal_id: "20000002", private_app_tokens: [pat-na1-other], contacts: [], lists: [] }
///   rate_limits: { ten_secondly: 190, oauth_ten_secondly: 110, daily: 625000, search_per_second: 5 }
///   search_lag_ms: 200
///   max_membership_ids: 100000
/// salesforce:                 # see salesforce::seed for every key
///   orgs:
///     - { org_id: 00D5g00000EMu09EAD, adsctl_key_field: false, daily_api_limit: 1000,
///         users: [{ username: u@acme.example, marketing_user: false }], contacts: [{ LastName: Doe }] }
///   session_timeout_secs: 7200
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeedFile {
    pub google_ads: GoogleSeed,
    pub meta: MetaSeed,
    pub tiktok: TikTokSeed,
    pub linkedin: LinkedInSeed,
    pub x: XSeed,
    pub mailchimp: MailchimpSeed,
    pub hubspot: HubSpotSeed,
    pub salesforce: crate::salesforce::seed::SalesforceSeed,
}

impl SeedFile {
    /// Read a seed file (YAML).
    pub fn load(path: &Path) -> Result<SeedFile, EmulatorError> {
        let text = std::fs::read_to_string(path).map_err(|e| EmulatorError::Seed {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        serde_yaml::from_str(&text).map_err(|e| EmulatorError::Seed {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoogleSeed {
    pub customers: Vec<GoogleCustomerSeed>,
    /// Developer tokens accepted in addition to the well-known default.
    pub developer_tokens: Vec<String>,
    /// Refresh tokens accepted in addition to the well-known default.
    pub refresh_tokens: Vec<String>,
    /// OAuth clients accepted in addition to the well-known default.
    pub clients: Vec<OAuthClientSeed>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleCustomerSeed {
    /// Ten digits; dashes are accepted and dropped.
    pub customer_id: String,
    #[serde(default = "default_currency")]
    pub currency: String,
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    #[serde(default)]
    pub descriptive_name: Option<String>,
    /// A manager (MCC) account.
    #[serde(default)]
    pub manager: bool,
    /// For a manager: the customer ids it manages (they accept it as `login-customer-id`).
    #[serde(default)]
    pub clients: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClientSeed {
    pub client_id: String,
    pub client_secret: String,
}

/// Not `deny_unknown_fields`: serde cannot combine it with the flattened `extra` map (every extra key would be
/// refused); the Meta emulator checks the extra keys itself and warns about unknown ones.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MetaSeed {
    pub ad_accounts: Vec<MetaAdAccountSeed>,
    /// Access tokens accepted in addition to the well-known default.
    pub access_tokens: Vec<String>,
    /// Apps (id and secret) in addition to the well-known default.
    pub apps: Vec<MetaAppSeed>,
    /// Further platform-specific seed keys, read by the Meta emulator itself.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaAdAccountSeed {
    /// `act_<digits>` (the `act_` prefix is added when missing).
    pub id: String,
    #[serde(default = "default_currency")]
    pub currency: String,
    #[serde(default = "default_time_zone")]
    pub timezone_name: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaAppSeed {
    pub app_id: String,
    pub app_secret: String,
}

/// The `tiktok:` section of the seed file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TikTokSeed {
    pub advertisers: Vec<TikTokAdvertiserSeed>,
    /// Long-lived access tokens accepted in addition to the well-known default (they reach every advertiser).
    pub access_tokens: Vec<String>,
    /// Developer apps (id and secret) in addition to the well-known default.
    pub apps: Vec<TikTokAppSeed>,
    /// How long a custom audience is processed before it is ready (default 2000).
    pub audience_processing_delay_ms: Option<u64>,
    /// Ads whose name or text contains this are rejected after review (default DISAPPROVE_ME).
    pub disapprove_trigger: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TikTokAdvertiserSeed {
    /// Decimal digits (an int64).
    pub advertiser_id: String,
    #[serde(default = "default_currency")]
    pub currency: String,
    #[serde(default = "default_tiktok_timezone")]
    pub timezone: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TikTokAppSeed {
    pub app_id: String,
    pub secret: String,
}

/// The `linkedin:` section of the seed file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkedInSeed {
    /// Ad accounts in addition to the well-known one.
    pub ad_accounts: Vec<LinkedInAccountSeed>,
    /// Long-lived access tokens accepted in addition to the well-known one (all scopes, never expire).
    pub access_tokens: Vec<String>,
    /// OAuth clients in addition to the well-known one.
    pub clients: Vec<OAuthClientSeed>,
    /// How long after its creation a DMP segment refuses users (default 5000: the documented 5 s wait).
    pub segment_user_wait_ms: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkedInAccountSeed {
    /// Decimal digits (the n of urn:li:sponsoredAccount:n).
    pub id: String,
    #[serde(default = "default_currency")]
    pub currency: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The emulated member's role on it (default ACCOUNT_MANAGER; "" for none).
    #[serde(default)]
    pub role: Option<String>,
    /// The organization URN (default urn:li:organization:1000001).
    #[serde(default)]
    pub reference: Option<String>,
}

/// The `x:` section of the seed file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XSeed {
    /// Ads accounts in addition to the well-known one (each with one funding instrument).
    pub accounts: Vec<XAccountSeed>,
    /// OAuth consumers (apps) in addition to the well-known one.
    pub consumers: Vec<XConsumerSeed>,
    /// Access tokens (users) in addition to the well-known one; every token reaches every account.
    pub tokens: Vec<XTokenSeed>,
    /// How far oauth_timestamp may be from the emulator's clock (default 300 s).
    pub timestamp_window_secs: Option<i64>,
    /// Active (ACTIVE or PAUSED, not deleted) campaigns per account (default 200).
    pub max_active_campaigns: Option<usize>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XAccountSeed {
    /// Base-36 (0-9 a-z).
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "default_tiktok_timezone")]
    pub timezone: String,
    /// The currency of its funding instrument.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Its funding instrument's id (base-36; default derived from the account id).
    #[serde(default)]
    pub funding_instrument_id: Option<String>,
    /// CREDIT_CARD (default), CREDIT_LINE, AGENCY_CREDIT_LINE, INSERTION_ORDER or PARTNER_MANAGED.
    #[serde(default)]
    pub funding_instrument_type: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XConsumerSeed {
    pub consumer_key: String,
    pub consumer_secret: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XTokenSeed {
    pub access_token: String,
    pub token_secret: String,
}

/// The `mailchimp:` section of the seed file. Keys, tokens and lists at the top level belong to the well-known
/// account; `accounts` adds other accounts (users) with their own credentials and lists.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailchimpSeed {
    /// The emulator's data center (default us6): API keys must end in `-<dc>`.
    pub dc: Option<String>,
    /// API keys of the well-known account in addition to the well-known key.
    pub api_keys: Vec<String>,
    /// OAuth access tokens of the well-known account in addition to the well-known token.
    pub oauth_tokens: Vec<String>,
    /// OAuth apps in addition to the well-known one.
    pub clients: Vec<OAuthClientSeed>,
    /// Audiences of the well-known account in addition to the well-known one.
    pub lists: Vec<MailchimpListSeed>,
    pub accounts: Vec<MailchimpAccountSeed>,
    /// Simultaneous requests per user (default 10).
    pub max_connections: Option<usize>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailchimpAccountSeed {
    pub account_id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub api_keys: Vec<String>,
    #[serde(default)]
    pub oauth_tokens: Vec<String>,
    #[serde(default)]
    pub lists: Vec<MailchimpListSeed>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailchimpListSeed {
    /// Default: derived (10 lower-case hex digits).
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    /// Subscribed members, by email address.
    #[serde(default)]
    pub members: Vec<String>,
}

/// The `hubspot:` section of the seed file. Tokens, contacts and lists at the top level belong to the well-known
/// portal; `portals` adds other portals (accounts) with their own private-app tokens, contacts and lists.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubSpotSeed {
    /// Private-app tokens of the well-known portal in addition to the well-known one (all scopes).
    pub private_app_tokens: Vec<String>,
    /// OAuth apps in addition to the well-known one.
    pub clients: Vec<OAuthClientSeed>,
    /// Refresh tokens of the well-known app and portal in addition to the well-known one (all scopes).
    pub refresh_tokens: Vec<String>,
    pub contacts: Vec<HubSpotContactSeed>,
    pub lists: Vec<HubSpotListSeed>,
    pub portals: Vec<HubSpotPortalSeed>,
    pub rate_limits: HubSpotRateLimitSeed,
    /// How long a write takes to reach contact search (default 200 ms).
    pub search_lag_ms: Option<u64>,
    /// At most this many record ids per membership call (default: no cap; the pack found none).
    pub max_membership_ids: Option<usize>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubSpotPortalSeed {
    /// Decimal digits (the hub id).
    pub portal_id: String,
    pub private_app_tokens: Vec<String>,
    pub contacts: Vec<HubSpotContactSeed>,
    pub lists: Vec<HubSpotListSeed>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSpotContactSeed {
    pub email: String,
    /// Other property values (strings).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSpotListSeed {
    pub name: String,
    /// MANUAL (default), SNAPSHOT or DYNAMIC.
    #[serde(default = "default_processing_type")]
    pub processing_type: String,
    /// Members, by the email of a seeded contact of the same portal.
    #[serde(default)]
    pub members: Vec<String>,
}

/// HubSpot's limits; `None` keeps the default (private app, Professional: 190 per 10 s and 625,000 a day; OAuth
/// apps 110 per 10 s and no daily cap; search 5 per second).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubSpotRateLimitSeed {
    pub ten_secondly: Option<u32>,
    pub oauth_ten_secondly: Option<u32>,
    pub daily: Option<u64>,
    pub search_per_second: Option<u32>,
}

fn default_processing_type() -> String {
    "MANUAL".to_string()
}

fn default_tiktok_timezone() -> String {
    "America/Los_Angeles".to_string()
}

fn default_currency() -> String {
    "USD".to_string()
}

fn default_time_zone() -> String {
    "America/New_York".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_seed_keeps_platform_keys_and_refuses_unknown_top_level_ones() {
        let seed: SeedFile = serde_yaml::from_str(
            "meta:\n  ad_accounts:\n    - { id: act_42, currency: JPY }\n  disapprove_trigger: BADWORD\n",
        )
        .unwrap();
        assert_eq!(seed.meta.ad_accounts.len(), 1);
        assert_eq!(seed.meta.extra["disapprove_trigger"], serde_json::json!("BADWORD"));
        assert!(serde_yaml::from_str::<SeedFile>("snapchat: {}\n").is_err());
    }

    #[test]
    fn tiktok_seed_section() {
        let seed: SeedFile = serde_yaml::from_str(
            "tiktok:\n  advertisers:\n    - { advertiser_id: \"7000000000000000042\", currency: JPY }\n  access_tokens: [t1]\n  apps:\n    - { app_id: \"71\", secret: s }\n",
        )
        .unwrap();
        assert_eq!(seed.tiktok.advertisers[0].currency, "JPY");
        assert_eq!(seed.tiktok.advertisers[0].timezone, "America/Los_Angeles");
        assert_eq!(seed.tiktok.access_tokens, vec!["t1".to_string()]);
        assert!(serde_yaml::from_str::<SeedFile>("tiktok: {advertiser: []}\n").is_err());
    }

    #[test]
    fn linkedin_seed_section() {
        let seed: SeedFile = serde_yaml::from_str(
            "linkedin:\n  ad_accounts:\n    - { id: \"510000002\", currency: EUR, role: VIEWER }\n  segment_user_wait_ms: 10\n",
        )
        .unwrap();
        assert_eq!(seed.linkedin.ad_accounts[0].currency, "EUR");
        assert_eq!(seed.linkedin.segment_user_wait_ms, Some(10));
        assert!(serde_yaml::from_str::<SeedFile>("linkedin: {accounts: []}\n").is_err());
    }

    #[test]
    fn x_seed_section() {
        let seed: SeedFile = serde_yaml::from_str(
            "x:\n  accounts:\n    - { id: \"abc12\", currency: EUR }\n  tokens:\n    - { access_token: t, token_secret: s }\n",
        )
        .unwrap();
        assert_eq!(seed.x.accounts[0].currency, "EUR");
        assert_eq!(seed.x.accounts[0].timezone, "America/Los_Angeles");
        assert_eq!(seed.x.tokens[0].token_secret, "s");
        assert!(serde_yaml::from_str::<SeedFile>("x: {account: []}\n").is_err());
    }

    #[test]
    fn mailchimp_seed_section() {
        let seed: SeedFile = serde_yaml::from_str(
            "mailchimp:\n  dc: us19\n  api_keys: [k-us19]\n  lists:\n    - { name: N, members: [a@b.org] }\n  accounts:\n    - { account_id: o, api_keys: [x-us19] }\n",
        )
        .unwrap();
        assert_eq!(seed.mailchimp.dc.as_deref(), Some("us19"));
        assert_eq!(seed.mailchimp.lists[0].members, vec!["a@b.org".to_string()]);
        assert_eq!(seed.mailchimp.accounts[0].api_keys, vec!["x-us19".to_string()]);
        assert!(serde_yaml::from_str::<SeedFile>("mailchimp: {audiences: []}\n").is_err());
    }

    #[test]
    fn hubspot_seed_section() {
        let seed: SeedFile = serde_yaml::from_str(
            "hubspot:\n  private_app_tokens: [pat-x]\n  contacts:\n    - { email: a@b.org, properties: { firstname: A } }\n  lists:\n    - { name: L, members: [a@b.org] }\n  portals:\n    - { portal_id: \"2\", private_app_tokens: [pat-y] }\n  rate_limits: { ten_secondly: 5 }\n  search_lag_ms: 0\n",
        )
        .unwrap();
        assert_eq!(seed.hubspot.lists[0].processing_type, "MANUAL");
        assert_eq!(seed.hubspot.contacts[0].properties["firstname"], "A");
        assert_eq!(seed.hubspot.portals[0].private_app_tokens, vec!["pat-y".to_string()]);
        assert_eq!(seed.hubspot.rate_limits.ten_secondly, Some(5));
        assert!(serde_yaml::from_str::<SeedFile>("hubspot: {accounts: []}\n").is_err());
    }
}
