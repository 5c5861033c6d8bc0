//! The LinkedIn emulator's settings and state: ad accounts (with the emulated member's role on each), campaign
//! groups, campaigns, creatives, DMP segments (with their member sets), tokens and authorization codes.
//! Serialisable as a whole (admin dump, persistence); rate counters and previous versions are runtime-only.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::EmulatorConfig;
use crate::platform::defaults;

/// Settings of the LinkedIn emulator ([`LinkedInConfig::from_core`]); tests change them at run time with
/// `LinkedInEmulator::configure` or `POST /_emulator/linkedin/config`.
#[derive(Clone, Debug)]
pub struct LinkedInConfig {
    /// OAuth clients (id, secret): the well-known one first, then the seed file's.
    pub clients: Vec<(String, String)>,
    /// Long-lived access tokens (the well-known one and the seed file's): never expire, all scopes.
    pub static_tokens: Vec<String>,
    pub seed: u64,
    /// Ad accounts a long-lived token names are created on first use (USD, role ACCOUNT_MANAGER).
    pub auto_create_accounts: bool,
    pub seed_accounts: Vec<Account>,
    /// How long after its creation a DMP segment refuses users (WIRE-NOTES: wait 5 s).
    pub segment_user_wait: Duration,
    /// Objects written less than this long ago are read in their previous version under ReadLag.
    pub read_lag: Duration,
    /// Calls per UTC day per app and endpoint; None: unlimited.
    pub daily_calls_per_app_endpoint: Option<u64>,
    /// Calls per UTC day per member, app and endpoint; None: unlimited.
    pub daily_calls_per_member_endpoint: Option<u64>,
}

impl Default for LinkedInConfig {
    fn default() -> Self {
        LinkedInConfig {
            clients: vec![(
                defaults::LINKEDIN_CLIENT_ID.to_string(),
                defaults::LINKEDIN_CLIENT_SECRET.to_string(),
            )],
            static_tokens: vec![defaults::LINKEDIN_ACCESS_TOKEN.to_string()],
            seed: 0,
            auto_create_accounts: true,
            seed_accounts: vec![Account::new(
                defaults::LINKEDIN_AD_ACCOUNT_ID,
                defaults::LINKEDIN_CURRENCY,
                None,
            )],
            segment_user_wait: Duration::from_secs(5),
            read_lag: Duration::from_secs(2),
            daily_calls_per_app_endpoint: None,
            daily_calls_per_member_endpoint: None,
        }
    }
}

impl LinkedInConfig {
    pub fn from_core(core: &EmulatorConfig) -> Self {
        let seed = &core.seed.linkedin;
        let limits = &core.rate_limits.linkedin;
        let mut c = LinkedInConfig {
            seed: core.metric_seed,
            auto_create_accounts: core.auto_create_accounts,
            daily_calls_per_app_endpoint: limits.daily_calls_per_app_endpoint,
            daily_calls_per_member_endpoint: limits.daily_calls_per_member_endpoint,
            ..LinkedInConfig::default()
        };
        c.clients.extend(
            seed.clients
                .iter()
                .map(|a| (a.client_id.clone(), a.client_secret.clone())),
        );
        c.static_tokens.extend(seed.access_tokens.iter().cloned());
        for a in &seed.ad_accounts {
            let mut acc = Account::new(&a.id, &a.currency, a.name.as_deref());
            if let Some(r) = &a.role {
                acc.role = if r.is_empty() { None } else { Some(r.clone()) };
            }
            if let Some(t) = &a.reference {
                acc.reference = t.clone();
            }
            c.seed_accounts.retain(|x| x.id != acc.id);
            c.seed_accounts.push(acc);
        }
        if let Some(ms) = seed.segment_user_wait_ms {
            c.segment_user_wait = Duration::from_millis(ms);
        }
        c
    }
    pub fn secret_of(&self, client_id: &str) -> Option<&str> {
        self.clients
            .iter()
            .find(|(id, _)| id == client_id)
            .map(|(_, s)| s.as_str())
    }
}

/// An ad account, and the emulated member's role on it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub currency: String,
    pub reference: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub test: bool,
    /// ACCOUNT_BILLING_ADMIN, ACCOUNT_MANAGER, CAMPAIGN_MANAGER, CREATIVE_MANAGER or VIEWER; None: no access.
    pub role: Option<String>,
    pub created_ms: i64,
    /// The id of its default (backfilled) campaign group.
    pub default_group: Option<u64>,
}

impl Account {
    pub fn new(id: &str, currency: &str, name: Option<&str>) -> Self {
        Account {
            id: id.to_string(),
            name: name
                .map(str::to_string)
                .unwrap_or_else(|| format!("Emulated ad account {id}")),
            currency: currency.to_string(),
            reference: defaults::LINKEDIN_ORGANIZATION.to_string(),
            kind: "BUSINESS".to_string(),
            status: "ACTIVE".to_string(),
            test: false,
            role: Some(defaults::LINKEDIN_MEMBER_ROLE.to_string()),
            created_ms: 0,
            default_group: None,
        }
    }
    pub fn urn(&self) -> String {
        format!("urn:li:sponsoredAccount:{}", self.id)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    CampaignGroup,
    Campaign,
    Creative,
    DmpSegment,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::CampaignGroup => "CampaignGroup",
            Kind::Campaign => "Campaign",
            Kind::Creative => "Creative",
            Kind::DmpSegment => "DmpSegment",
        }
    }
    /// The collection's name in paths.
    pub fn collection(self) -> &'static str {
        match self {
            Kind::CampaignGroup => "adCampaignGroups",
            Kind::Campaign => "adCampaigns",
            Kind::Creative => "creatives",
            Kind::DmpSegment => "dmpSegments",
        }
    }
    /// Errors of this resource use the new envelope (adAccounts, adCampaignGroups, adCampaigns).
    pub fn new_envelope(self) -> bool {
        matches!(self, Kind::CampaignGroup | Kind::Campaign)
    }
    pub fn urn(self, id: u64) -> String {
        match self {
            Kind::CampaignGroup => format!("urn:li:sponsoredCampaignGroup:{id}"),
            Kind::Campaign => format!("urn:li:sponsoredCampaign:{id}"),
            Kind::Creative => format!("urn:li:sponsoredCreative:{id}"),
            Kind::DmpSegment => format!("urn:li:dmpSegment:{id}"),
        }
    }
    /// The status field's name.
    pub fn status_field(self) -> &'static str {
        match self {
            Kind::Creative => "intendedStatus",
            _ => "status",
        }
    }
    pub fn from_admin(s: &str) -> Option<Kind> {
        Some(match s {
            "campaign_group" | "adCampaignGroups" => Kind::CampaignGroup,
            "campaign" | "adCampaigns" => Kind::Campaign,
            "creative" | "creatives" => Kind::Creative,
            "dmp_segment" | "dmpSegments" => Kind::DmpSegment,
            _ => return None,
        })
    }
}

/// A campaign group, campaign, creative or DMP segment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entity {
    pub id: u64,
    pub kind: Kind,
    /// The ad account's id (digits).
    pub account: String,
    /// The writable fields as stored (the client's JSON, URNs and money as written).
    pub fields: Map<String, Value>,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub deleted: bool,
    /// The account's default group (cannot be updated or deleted).
    #[serde(default)]
    pub backfilled: bool,
    /// Made by the admin API (another client) rather than through the API.
    #[serde(default)]
    pub foreign: bool,
    /// Creatives: review status (APPROVED unless the admin API says otherwise).
    #[serde(default)]
    pub review: Option<String>,
    /// DMP segments: the member hashes (idValue, lower case) added and not removed.
    #[serde(default)]
    pub members: BTreeSet<String>,
    /// DMP segments: identifiers ever received (inputCount).
    #[serde(default)]
    pub input_count: u64,
    /// The version before the most recent write (read lag). Not persisted.
    #[serde(skip)]
    pub prev: Option<Box<Entity>>,
}

impl Entity {
    pub fn status(&self) -> &str {
        self.fields
            .get(self.kind.status_field())
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    pub fn key(&self) -> String {
        match self.kind {
            Kind::Creative => self.kind.urn(self.id),
            _ => self.id.to_string(),
        }
    }
    /// The parent URN field's numeric id (campaign → campaignGroup, creative → campaign).
    pub fn parent_id(&self, field: &str) -> Option<u64> {
        self.fields
            .get(field)
            .and_then(Value::as_str)
            .and_then(|u| u.rsplit(':').next())
            .and_then(|n| n.parse().ok())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenInfo {
    pub client_id: String,
    pub scope: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    /// For access tokens: the refresh token's key they came from.
    pub refresh: Option<String>,
    /// For refresh tokens: when the member first consented (the refresh token dies 365 days later).
    pub consent_ms: i64,
    pub revoked: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CodeInfo {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub expires_ms: i64,
    pub used: bool,
}

/// The whole state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub next_id: u64,
    pub accounts: BTreeMap<String, Account>,
    pub entities: BTreeMap<u64, Entity>,
    /// Access tokens by the SHA-256 of the token.
    pub tokens: BTreeMap<String, TokenInfo>,
    /// Refresh tokens by the SHA-256 of the token.
    pub refresh_tokens: BTreeMap<String, TokenInfo>,
    pub codes: BTreeMap<String, CodeInfo>,
    pub clock_offset_ms: i64,
    /// When the state was made: the well-known refresh token's first consent.
    pub born_ms: i64,
    /// Daily call counters: `day|app|member|endpoint` → calls. Not persisted.
    #[serde(skip)]
    pub calls: HashMap<String, u64>,
    #[serde(skip)]
    pub trace_seq: u64,
}

impl State {
    /// A new id (nine digits, increasing).
    pub fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        600_000_000 + self.next_id
    }
}
