//! The Meta emulator's state: ad accounts, Graph objects, audience members, tokens and codes. Serialisable as a
//! whole (admin dump, persistence); rate-limit windows are runtime-only.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::EmulatorConfig;
use crate::platform::defaults;

/// Settings of the Meta emulator (defaults like the real service where one exists). Built from the core's
/// [`EmulatorConfig`] by [`MetaConfig::from_core`]; tests may adjust it further.
#[derive(Clone, Debug)]
pub struct MetaConfig {
    pub app_id: String,
    /// When set, an `appsecret_proof` that is sent is checked against it.
    pub app_secret: Option<String>,
    /// Further apps (id, secret) from the seed file.
    pub extra_apps: Vec<(String, String)>,
    /// Further never-expiring access tokens from the seed file.
    pub extra_tokens: Vec<String>,
    /// Refuse calls without `appsecret_proof` ("Require App Secret" app setting).
    pub require_appsecret_proof: bool,
    /// Lifetime of a token from the code exchange.
    pub short_token_ttl: Duration,
    /// Lifetime of a token from `fb_exchange_token` (about 60 days).
    pub long_token_ttl: Duration,
    /// How long an ad stays PENDING_REVIEW.
    pub review_delay: Duration,
    /// Ads whose creative text contains this (case-insensitive) are DISAPPROVED after review.
    pub disapprove_trigger: String,
    /// How long an async report run takes to complete.
    pub report_run_duration: Duration,
    /// Objects written less than this long ago are seen in their previous version by a read under ReadLag.
    pub read_lag: Duration,
    /// Length of the rate-limit window.
    pub rate_window: Duration,
    /// Calls per window per app (code 4), per token (code 17), per ad account (code 80004); None: unlimited
    /// (usage headers are then reported against the real default of 100,000 per ad account).
    pub app_calls_per_window: Option<u64>,
    pub user_calls_per_window: Option<u64>,
    pub account_calls_per_window: Option<u64>,
    /// Budget changes per ad set per hour (code 613).
    pub adset_budget_changes_per_hour: u64,
    /// Largest `limit` honoured on an edge.
    pub max_page_limit: usize,
    /// Mixed into generated ids, codes and tokens so that runs are reproducible.
    pub seed: u64,
    /// Create unknown ad accounts on first use (otherwise they do not exist).
    pub auto_create_accounts: bool,
    /// Ad accounts from the seed file: present from the start and again after a reset.
    pub seed_accounts: Vec<Account>,
    /// Currency and time zone of ad accounts created on first use.
    pub default_currency: String,
    pub default_timezone: String,
    /// Product catalogs (id, name) present from the start and again after a reset (seed key `product_catalogs`):
    /// merchants make catalogs in Commerce Manager, adsctl only uses them.
    pub seed_catalogs: Vec<(String, String)>,
}

/// Usage percentages are reported against this many calls per window when no limit is set.
pub const NOMINAL_CALLS_PER_WINDOW: u64 = 100_000;

impl Default for MetaConfig {
    fn default() -> Self {
        Self {
            app_id: defaults::META_APP_ID.to_string(),
            app_secret: Some(defaults::META_APP_SECRET.to_string()),
            extra_apps: Vec::new(),
            extra_tokens: Vec::new(),
            require_appsecret_proof: false,
            short_token_ttl: Duration::from_secs(3600),
            long_token_ttl: Duration::from_secs(5_183_944),
            review_delay: Duration::from_secs(2),
            disapprove_trigger: "DISAPPROVE_ME".to_string(),
            report_run_duration: Duration::from_secs(2),
            read_lag: Duration::from_secs(2),
            rate_window: Duration::from_secs(3600),
            app_calls_per_window: None,
            user_calls_per_window: None,
            account_calls_per_window: None,
            adset_budget_changes_per_hour: 4,
            max_page_limit: 5000,
            seed: 0,
            auto_create_accounts: true,
            seed_accounts: Vec::new(),
            default_currency: "USD".to_string(),
            default_timezone: "America/Los_Angeles".to_string(),
            seed_catalogs: Vec::new(),
        }
    }
}

impl MetaConfig {
    /// The Meta settings of the core configuration (token TTL, review delay, seed, rate limits, seed file).
    pub fn from_core(core: &EmulatorConfig) -> Self {
        let limits = &core.rate_limits.meta;
        Self {
            short_token_ttl: core.token_ttl,
            review_delay: core.review_delay,
            seed: core.metric_seed,
            rate_window: Duration::from_secs(limits.window_secs.max(1)),
            account_calls_per_window: limits.calls_per_window.map(u64::from),
            auto_create_accounts: core.auto_create_accounts,
            extra_apps: core
                .seed
                .meta
                .apps
                .iter()
                .map(|a| (a.app_id.clone(), a.app_secret.clone()))
                .collect(),
            extra_tokens: core.seed.meta.access_tokens.clone(),
            seed_accounts: core
                .seed
                .meta
                .ad_accounts
                .iter()
                .map(|a| {
                    let id = a.id.strip_prefix("act_").unwrap_or(&a.id).to_string();
                    Account {
                        name: a.name.clone().unwrap_or_else(|| format!("Emulated ad account {id}")),
                        id,
                        currency: a.currency.clone(),
                        timezone_name: a.timezone_name.clone(),
                    }
                })
                .collect(),
            ..Self::default()
        }
        .with_seed_extras(&core.seed.meta.extra)
    }

    /// Meta-only settings from the seed file's `meta:` section: `disapprove_trigger` (string),
    /// `require_appsecret_proof` (bool), `report_run_duration_ms`, `read_lag_ms`, `adset_budget_changes_per_hour`,
    /// `max_page_limit` (numbers). Unknown keys are reported in the log and ignored.
    fn with_seed_extras(mut self, extra: &std::collections::BTreeMap<String, serde_json::Value>) -> Self {
        for (k, v) in extra {
            let ok = match (k.as_str(), v) {
                ("disapprove_trigger", serde_json::Value::String(s)) => {
                    self.disapprove_trigger = s.clone();
                    true
                }
                ("require_appsecret_proof", serde_json::Value::Bool(b)) => {
                    self.require_appsecret_proof = *b;
                    true
                }
                ("report_run_duration_ms", v) if v.is_u64() => {
                    self.report_run_duration = Duration::from_millis(v.as_u64().unwrap_or(0));
                    true
                }
                ("read_lag_ms", v) if v.is_u64() => {
                    self.read_lag = Duration::from_millis(v.as_u64().unwrap_or(0));
                    true
                }
                ("adset_budget_changes_per_hour", v) if v.is_u64() => {
                    self.adset_budget_changes_per_hour = v.as_u64().unwrap_or(4);
                    true
                }
                ("max_page_limit", v) if v.is_u64() => {
                    self.max_page_limit = v.as_u64().unwrap_or(5000) as usize;
                    true
                }
                // `product_catalogs: [{ id: "123", name: Shop }]`
                ("product_catalogs", serde_json::Value::Array(cs)) => {
                    let parsed: Vec<(String, String)> = cs
                        .iter()
                        .filter_map(|c| {
                            let id = match c.get("id")? {
                                serde_json::Value::String(s) => s.clone(),
                                serde_json::Value::Number(n) => n.to_string(),
                                _ => return None,
                            };
                            let name = c.get("name").and_then(|n| n.as_str()).unwrap_or("Catalog").to_string();
                            Some((id, name))
                        })
                        .collect();
                    let ok = parsed.len() == cs.len();
                    self.seed_catalogs.extend(parsed);
                    ok
                }
                _ => false,
            };
            if !ok {
                tracing::warn!("seed file: meta.{k} is not a Meta emulator setting (or has the wrong type); ignored");
            }
        }
        self
    }

    /// The secret of an app this emulator knows.
    pub fn secret_of(&self, app_id: &str) -> Option<&str> {
        if app_id == self.app_id {
            return self.app_secret.as_deref();
        }
        self.extra_apps
            .iter()
            .find(|(id, _)| id == app_id)
            .map(|(_, s)| s.as_str())
    }

    pub fn knows_app(&self, app_id: &str) -> bool {
        app_id == self.app_id || self.extra_apps.iter().any(|(id, _)| id == app_id)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Kind {
    Campaign,
    AdSet,
    Ad,
    AdCreative,
    AdLabel,
    CustomAudience,
    AdReportRun,
    CustomConversion,
    AdStudy,
    AdStudyCell,
    AdStudyObjective,
    ProductCatalog,
    ProductSet,
}

impl Kind {
    /// The node type in the spec table.
    pub fn node(self) -> &'static str {
        match self {
            Kind::Campaign => "Campaign",
            Kind::AdSet => "AdSet",
            Kind::Ad => "Ad",
            Kind::AdCreative => "AdCreative",
            Kind::AdLabel => "AdLabel",
            Kind::CustomAudience => "CustomAudience",
            Kind::AdReportRun => "AdReportRun",
            Kind::CustomConversion => "CustomConversion",
            Kind::AdStudy => "AdStudy",
            Kind::AdStudyCell => "AdStudyCell",
            Kind::AdStudyObjective => "AdStudyObjective",
            Kind::ProductCatalog => "ProductCatalog",
            Kind::ProductSet => "ProductSet",
        }
    }

    /// The ad account edge that creates and lists this kind.
    pub fn from_edge(edge: &str) -> Option<Kind> {
        Some(match edge {
            "campaigns" => Kind::Campaign,
            "adsets" => Kind::AdSet,
            "ads" => Kind::Ad,
            "adcreatives" => Kind::AdCreative,
            "adlabels" => Kind::AdLabel,
            "customaudiences" => Kind::CustomAudience,
            "customconversions" => Kind::CustomConversion,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    /// Numeric id (without `act_`).
    pub id: String,
    pub name: String,
    pub currency: String,
    pub timezone_name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Outcome {
    Approved,
    Disapproved,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Review {
    pub started_ms: i64,
    /// Set by the admin API; otherwise decided by the trigger word once the delay has passed.
    pub forced: Option<Outcome>,
    pub feedback: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Obj {
    pub id: String,
    pub kind: Kind,
    /// Numeric ad account id.
    pub account: String,
    /// Stored fields as written (typed JSON), by their node field names.
    pub fields: Map<String, Value>,
    pub created_ms: i64,
    pub updated_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<Review>,
    /// The version before the most recent write (read lag), if that write was an update. Not persisted.
    #[serde(skip)]
    pub prev: Option<Box<Obj>>,
}

impl Obj {
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    pub fn status(&self) -> &str {
        self.str_field("status").unwrap_or("ACTIVE")
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenInfo {
    pub app_id: String,
    pub user_id: String,
    pub issued_ms: i64,
    /// None: never expires (system user).
    pub expires_ms: Option<i64>,
    pub scopes: Vec<String>,
    pub kind: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CodeInfo {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub expires_ms: i64,
    pub used: bool,
    /// PKCE: the dialog's `code_challenge` and `code_challenge_method` (`S256` or `plain`), if sent.
    #[serde(default)]
    pub code_challenge: Option<(String, String)>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    pub session_id: String,
    pub batch_seq: u64,
    pub last_batch_flag: bool,
    pub num_received: u64,
    pub num_invalid_entries: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub next_id: u64,
    pub accounts: BTreeMap<String, Account>,
    pub objects: HashMap<String, Obj>,
    /// Creation order per (account, kind): the order edges list in.
    pub order: BTreeMap<String, BTreeMap<Kind, Vec<String>>>,
    /// Audience id -> hashed members.
    pub members: HashMap<String, BTreeSet<String>>,
    /// Audience id -> upload sessions.
    pub sessions: HashMap<String, Vec<Session>>,
    /// Keyed by the SHA-256 of the token, so that a dump never holds a usable token.
    pub tokens: HashMap<String, TokenInfo>,
    /// Keyed by the SHA-256 of the code.
    pub codes: HashMap<String, CodeInfo>,
    /// Emulated clock offset (admin API), milliseconds.
    pub clock_offset_ms: i64,
    /// Budget changes per ad set (timestamps, ms), for the code 613 limit.
    #[serde(skip)]
    pub budget_changes: HashMap<String, Vec<i64>>,
    #[serde(skip)]
    pub usage: Usage,
    #[serde(skip)]
    pub last_account: Option<String>,
    #[serde(skip)]
    pub trace_seq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_extras_configure_meta_only_settings() {
        let mut core = EmulatorConfig::default();
        core.seed
            .meta
            .extra
            .insert("disapprove_trigger".into(), serde_json::json!("BANNED"));
        core.seed
            .meta
            .extra
            .insert("require_appsecret_proof".into(), serde_json::json!(true));
        core.seed
            .meta
            .extra
            .insert("report_run_duration_ms".into(), serde_json::json!(10));
        core.rate_limits.meta.calls_per_window = Some(7);
        let c = MetaConfig::from_core(&core);
        assert_eq!(c.disapprove_trigger, "BANNED");
        assert!(c.require_appsecret_proof);
        assert_eq!(c.report_run_duration, Duration::from_millis(10));
        assert_eq!(c.account_calls_per_window, Some(7));
        assert_eq!(c.short_token_ttl, core.token_ttl);
    }
}

/// Calls counted in the current hour window.
#[derive(Clone, Debug, Default)]
pub struct Usage {
    pub window_start_ms: i64,
    pub app_calls: u64,
    pub user_calls: HashMap<String, u64>,
    pub account_calls: HashMap<String, u64>,
}

impl State {
    pub fn new_id(&mut self, seed: u64) -> String {
        self.next_id += 1;
        // Graph ids are long decimal strings; keep them unique across kinds and stable for a seed.
        let base: u64 = 120_210_000_000_000_000 + (seed % 1000) * 1_000_000_000;
        format!("{}", base + self.next_id)
    }

    pub fn ensure_account(&mut self, id: &str, cfg: &MetaConfig) -> &Account {
        self.accounts.entry(id.to_string()).or_insert_with(|| Account {
            id: id.to_string(),
            name: format!("Emulated ad account {id}"),
            currency: cfg.default_currency.clone(),
            timezone_name: cfg.default_timezone.clone(),
        })
    }

    pub fn insert(&mut self, obj: Obj) {
        self.order
            .entry(obj.account.clone())
            .or_default()
            .entry(obj.kind)
            .or_default()
            .push(obj.id.clone());
        self.objects.insert(obj.id.clone(), obj);
    }

    /// Ids of one kind in one account, in creation order.
    pub fn ids(&self, account: &str, kind: Kind) -> &[String] {
        self.order
            .get(account)
            .and_then(|m| m.get(&kind))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Create (or rename) a product catalog (`Kind::ProductCatalog`, in no ad account).
    pub fn add_catalog(&mut self, id: &str, name: &str, now: i64) {
        let mut fields = Map::new();
        fields.insert("name".into(), Value::String(name.to_string()));
        fields.insert("vertical".into(), Value::String("commerce".into()));
        if let Some(o) = self.objects.get_mut(id) {
            o.fields.insert("name".into(), Value::String(name.to_string()));
            return;
        }
        self.insert(Obj {
            id: id.to_string(),
            kind: Kind::ProductCatalog,
            account: String::new(),
            fields,
            created_ms: now,
            updated_ms: now,
            review: None,
            prev: None,
        });
    }

    pub fn remove(&mut self, id: &str) {
        if let Some(obj) = self.objects.remove(id) {
            if let Some(v) = self.order.get_mut(&obj.account).and_then(|m| m.get_mut(&obj.kind)) {
                v.retain(|x| x != id);
            }
        }
        self.members.remove(id);
        self.sessions.remove(id);
    }
}
