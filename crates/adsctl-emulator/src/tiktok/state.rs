//! The TikTok emulator's settings and state: advertisers, campaigns / ad groups / ads, custom audiences and their
//! uploaded files, report tasks, tokens and auth codes. Serialisable as a whole (admin dump, persistence); rate
//! windows and the previous versions kept for read lag are runtime-only.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::EmulatorConfig;
use crate::platform::defaults;

/// Settings of the TikTok emulator. Built from the core's [`EmulatorConfig`] by [`TikTokConfig::from_core`];
/// tests may change them at run time (`TikTokEmulator::configure`, `POST /_emulator/tiktok/config`).
#[derive(Clone, Debug)]
pub struct TikTokConfig {
    pub app_id: String,
    pub app_secret: String,
    /// Further developer apps (id, secret) from the seed file.
    pub extra_apps: Vec<(String, String)>,
    /// Further long-lived tokens from the seed file (like the well-known one: every advertiser, auto-created).
    pub extra_tokens: Vec<String>,
    /// Mixed into ids, tokens and metrics so runs are reproducible.
    pub seed: u64,
    /// Advertisers a long-lived token names are created on first use.
    pub auto_create_accounts: bool,
    pub seed_advertisers: Vec<Advertiser>,
    pub default_currency: String,
    pub default_timezone: String,
    /// How long a new or changed ad stays in review (secondary_status AD_STATUS_AUDIT).
    pub review_delay: Duration,
    /// Ads whose name or text contains this (case-insensitive) are rejected after review.
    pub disapprove_trigger: String,
    /// How long a custom audience (or lookalike) is processed before it is ready.
    pub audience_processing_delay: Duration,
    /// How long an async report task runs.
    pub report_task_duration: Duration,
    /// Objects written less than this long ago are read in their previous version under ReadLag.
    pub read_lag: Duration,
    /// How long an auth_code can be exchanged.
    pub auth_code_ttl: Duration,
    /// Requests per second per app and endpoint (code 40100); None: unlimited.
    pub endpoint_qps: Option<u32>,
    /// Requests per second per advertiser (code 40133); None: unlimited.
    pub advertiser_qps: Option<u32>,
}

impl Default for TikTokConfig {
    fn default() -> Self {
        TikTokConfig {
            app_id: defaults::TIKTOK_APP_ID.to_string(),
            app_secret: defaults::TIKTOK_APP_SECRET.to_string(),
            extra_apps: Vec::new(),
            extra_tokens: Vec::new(),
            seed: 0,
            auto_create_accounts: true,
            seed_advertisers: Vec::new(),
            default_currency: "USD".to_string(),
            default_timezone: "America/Los_Angeles".to_string(),
            review_delay: Duration::from_secs(2),
            disapprove_trigger: "DISAPPROVE_ME".to_string(),
            audience_processing_delay: Duration::from_secs(2),
            report_task_duration: Duration::from_secs(2),
            read_lag: Duration::from_secs(2),
            auth_code_ttl: Duration::from_secs(3600),
            endpoint_qps: None,
            advertiser_qps: None,
        }
    }
}

impl TikTokConfig {
    /// The TikTok settings of the core configuration: review delay, metric seed, rate limits, the seed file.
    pub fn from_core(core: &EmulatorConfig) -> Self {
        let seed = &core.seed.tiktok;
        let limits = &core.rate_limits.tiktok;
        let mut c = TikTokConfig {
            seed: core.metric_seed,
            auto_create_accounts: core.auto_create_accounts,
            review_delay: core.review_delay,
            endpoint_qps: limits.requests_per_second_per_endpoint,
            advertiser_qps: limits.requests_per_second_per_advertiser,
            extra_apps: seed.apps.iter().map(|a| (a.app_id.clone(), a.secret.clone())).collect(),
            extra_tokens: seed.access_tokens.clone(),
            seed_advertisers: seed
                .advertisers
                .iter()
                .map(|a| Advertiser {
                    advertiser_id: a.advertiser_id.clone(),
                    name: a
                        .name
                        .clone()
                        .unwrap_or_else(|| format!("Emulated advertiser {}", a.advertiser_id)),
                    currency: a.currency.clone(),
                    timezone: a.timezone.clone(),
                    created_ms: 0,
                })
                .collect(),
            ..TikTokConfig::default()
        };
        if let Some(ms) = seed.audience_processing_delay_ms {
            c.audience_processing_delay = Duration::from_millis(ms);
        }
        if let Some(t) = &seed.disapprove_trigger {
            c.disapprove_trigger = t.clone();
        }
        c
    }

    /// The secret of an app this emulator knows.
    pub fn secret_of(&self, app_id: &str) -> Option<&str> {
        if app_id == self.app_id {
            return Some(&self.app_secret);
        }
        self.extra_apps
            .iter()
            .find(|(id, _)| id == app_id)
            .map(|(_, s)| s.as_str())
    }

    /// A well-known or seeded long-lived token.
    pub fn is_static_token(&self, token: &str) -> bool {
        token == defaults::TIKTOK_ACCESS_TOKEN || self.extra_tokens.iter().any(|t| t == token)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Advertiser {
    pub advertiser_id: String,
    pub name: String,
    pub currency: String,
    pub timezone: String,
    pub created_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    Campaign,
    Adgroup,
    Ad,
}

impl Kind {
    /// `campaign`, `adgroup`, `ad`: the id field is `<this>_id`.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Campaign => "campaign",
            Kind::Adgroup => "adgroup",
            Kind::Ad => "ad",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Kind::Campaign => "Campaign",
            Kind::Adgroup => "Ad group",
            Kind::Ad => "Ad",
        }
    }
    pub fn status_prefix(self) -> &'static str {
        match self {
            Kind::Campaign => "CAMPAIGN_STATUS_",
            Kind::Adgroup => "ADGROUP_STATUS_",
            Kind::Ad => "AD_STATUS_",
        }
    }
}

/// The outcome of an ad's review.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Approved,
    Rejected,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Review {
    pub started_ms: i64,
    /// Set by the admin API; otherwise decided by the trigger word once the delay has passed.
    pub forced: Option<Outcome>,
}

/// A campaign, ad group or ad.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Obj {
    pub id: String,
    pub kind: Kind,
    pub advertiser_id: String,
    pub campaign_id: Option<String>,
    pub adgroup_id: Option<String>,
    /// The fields as written (normalised: ids and money as strings), by their API names.
    pub fields: Map<String, Value>,
    /// ENABLE or DISABLE (a deleted object keeps its last one).
    pub operation_status: String,
    pub deleted: bool,
    pub created_ms: i64,
    pub modified_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
    /// The version before the most recent write (read lag). Not persisted.
    #[serde(skip)]
    pub prev: Option<Box<Obj>>,
}

/// A file uploaded for custom audiences.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AudienceFile {
    pub advertiser_id: String,
    pub calculate_type: String,
    /// The hashes it holds (one per line), deduplicated.
    pub members: BTreeSet<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Audience {
    pub id: String,
    pub advertiser_id: String,
    pub name: String,
    pub calculate_type: Option<String>,
    /// Customer File or Lookalike Audience.
    pub lookalike: bool,
    pub members: BTreeSet<String>,
    /// For a lookalike: its spec (as sent).
    pub lookalike_spec: Option<Value>,
    pub retention_in_days: Option<i64>,
    pub audience_sub_type: String,
    pub created_ms: i64,
    pub modified_ms: i64,
    /// Processing (create, file update) is done at this time.
    pub ready_ms: i64,
    pub deleted: bool,
    /// A lookalike's size (a customer file's is its member count).
    #[serde(default)]
    pub cover: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Task {
    pub advertiser_id: String,
    pub created_ms: i64,
    /// When set by the admin API: done regardless of the clock.
    #[serde(default)]
    pub forced_done: bool,
    /// The report as CSV text.
    pub csv: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenInfo {
    pub app_id: String,
    /// The advertisers the authorization covers.
    pub advertiser_ids: Vec<String>,
    pub scope: Vec<i64>,
    pub issued_ms: i64,
    pub revoked: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CodeInfo {
    pub app_id: String,
    pub advertiser_ids: Vec<String>,
    pub expires_ms: i64,
    pub used: bool,
}

/// The whole state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub next_id: u64,
    pub advertisers: BTreeMap<String, Advertiser>,
    /// Campaigns, ad groups and ads by id (ids have one length, so this is creation order).
    pub objects: BTreeMap<String, Obj>,
    /// `advertiser|kind|request_id` → the object that create made.
    pub idempotency: BTreeMap<String, String>,
    pub files: BTreeMap<String, AudienceFile>,
    pub audiences: BTreeMap<String, Audience>,
    pub tasks: BTreeMap<String, Task>,
    /// Keyed by the SHA-256 of the token, so that a dump never holds a usable token.
    pub tokens: BTreeMap<String, TokenInfo>,
    /// Keyed by the SHA-256 of the code.
    pub codes: BTreeMap<String, CodeInfo>,
    /// SHA-256 of well-known or seeded tokens revoked with /oauth2/revoke_token/.
    pub revoked_static: BTreeSet<String>,
    pub clock_offset_ms: i64,
    #[serde(skip)]
    pub rate: RateWindows,
    #[serde(skip)]
    pub trace_seq: u64,
}

/// Request times in the last second, per (app, endpoint) and per advertiser.
#[derive(Clone, Debug, Default)]
pub struct RateWindows {
    pub endpoint: HashMap<String, VecDeque<i64>>,
    pub advertiser: HashMap<String, VecDeque<i64>>,
}

impl State {
    /// A new int64 id (19 digits, increasing: ids sort in creation order).
    pub fn new_id(&mut self, seed: u64) -> String {
        self.next_id += 1;
        let base: u64 = 1_800_000_000_000_000_000 + (seed % 1000) * 1_000_000_000;
        format!("{}", base + self.next_id)
    }
}
