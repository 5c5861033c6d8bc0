//! The emulator's settings ([`XConfig`]) and store ([`State`]): accounts, every object by id (funding
//! instruments, campaigns, line items, promoted tweets, targeting criteria, custom audiences), audience members,
//! async stats jobs, seen nonces and rate-limit windows; base-36 ids and the seeding of accounts.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::config::{EmulatorConfig, XAccountSeed};
use crate::platform::defaults;

/// Settings of the X emulator (from the core config and the `x:` seed section; changeable by the admin API).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct XConfig {
    pub consumers: BTreeMap<String, String>,
    pub tokens: BTreeMap<String, String>,
    pub seed_accounts: Vec<XAccountSeed>,
    pub timestamp_window_secs: i64,
    pub max_active_campaigns: usize,
    pub account_reads_per_15_min: Option<u32>,
    pub writes_per_minute: Option<u32>,
    /// Seed of the synthetic stats.
    #[serde(default)]
    pub metric_seed: u64,
}

impl Default for XConfig {
    fn default() -> Self {
        XConfig::from_core(&EmulatorConfig::default())
    }
}

impl XConfig {
    pub fn from_core(c: &EmulatorConfig) -> Self {
        let s = &c.seed.x;
        let mut consumers = BTreeMap::new();
        consumers.insert(
            defaults::X_CONSUMER_KEY.to_string(),
            defaults::X_CONSUMER_SECRET.to_string(),
        );
        for k in &s.consumers {
            consumers.insert(k.consumer_key.clone(), k.consumer_secret.clone());
        }
        let mut tokens = BTreeMap::new();
        tokens.insert(
            defaults::X_ACCESS_TOKEN.to_string(),
            defaults::X_TOKEN_SECRET.to_string(),
        );
        for t in &s.tokens {
            tokens.insert(t.access_token.clone(), t.token_secret.clone());
        }
        let mut seed_accounts = vec![XAccountSeed {
            id: defaults::X_ACCOUNT_ID.to_string(),
            name: Some("Emulator X account".to_string()),
            timezone: defaults::X_ACCOUNT_TIMEZONE.to_string(),
            currency: defaults::X_CURRENCY.to_string(),
            funding_instrument_id: Some(defaults::X_FUNDING_INSTRUMENT_ID.to_string()),
            funding_instrument_type: Some("CREDIT_CARD".to_string()),
        }];
        seed_accounts.extend(s.accounts.iter().cloned());
        XConfig {
            consumers,
            tokens,
            seed_accounts,
            timestamp_window_secs: s.timestamp_window_secs.unwrap_or(300),
            max_active_campaigns: s.max_active_campaigns.unwrap_or(200),
            account_reads_per_15_min: c.rate_limits.x.account_reads_per_15_min,
            writes_per_minute: c.rate_limits.x.writes_per_minute,
            metric_seed: c.metric_seed,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    FundingInstrument,
    Campaign,
    LineItem,
    PromotedTweet,
    TargetingCriterion,
    CustomAudience,
}

impl Kind {
    pub(super) fn parse(s: &str) -> Option<Kind> {
        match s {
            "funding_instrument" | "funding_instruments" => Some(Kind::FundingInstrument),
            "campaign" | "campaigns" => Some(Kind::Campaign),
            "line_item" | "line_items" => Some(Kind::LineItem),
            "promoted_tweet" | "promoted_tweets" => Some(Kind::PromotedTweet),
            "targeting_criterion" | "targeting_criteria" => Some(Kind::TargetingCriterion),
            "custom_audience" | "custom_audiences" => Some(Kind::CustomAudience),
            _ => None,
        }
    }
    pub(super) fn not_found(self) -> &'static str {
        match self {
            Kind::FundingInstrument => "FUNDING_INSTRUMENT_NOT_FOUND",
            Kind::Campaign => "CAMPAIGN_NOT_FOUND",
            Kind::LineItem => "LINE_ITEM_NOT_FOUND",
            Kind::PromotedTweet => "PROMOTED_TWEET_NOT_FOUND",
            Kind::TargetingCriterion => "TARGETING_CRITERION_NOT_FOUND",
            Kind::CustomAudience => "TAILORED_AUDIENCE_NOT_FOUND",
        }
    }
    pub(super) fn id_param(self) -> &'static str {
        match self {
            Kind::FundingInstrument => "funding_instrument_id",
            Kind::Campaign => "campaign_id",
            Kind::LineItem => "line_item_id",
            Kind::PromotedTweet => "promoted_tweet_id",
            Kind::TargetingCriterion => "targeting_criterion_id",
            Kind::CustomAudience => "custom_audience_id",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub industry_type: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Obj {
    pub id: String,
    pub kind: Kind,
    pub account: String,
    /// The writable fields as the API renders them (null = unset).
    pub fields: Map<String, Value>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted: bool,
    /// Made through the admin API (by "another client").
    pub foreign: bool,
    /// Creation order.
    pub seq: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    pub account: String,
    pub params: Vec<(String, String)>,
    pub created_at: i64,
    /// PROCESSING until the first poll by GET stats/jobs, then SUCCESS.
    pub polled: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub accounts: BTreeMap<String, Account>,
    pub objects: BTreeMap<String, Obj>,
    pub next_id: u64,
    pub clock_offset_secs: i64,
    /// Custom audience id → its members ("key:value" of each user key sent).
    #[serde(default)]
    pub audience_members: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Async stats jobs by id_str.
    #[serde(default)]
    pub jobs: BTreeMap<String, Job>,
    /// (consumer key, nonce) → timestamp seen.
    #[serde(skip)]
    pub nonces: HashMap<(String, String), i64>,
    /// (category, account, endpoint) → (window start, calls).
    #[serde(skip)]
    pub windows: HashMap<(String, String, String), (i64, u32)>,
}

impl State {
    pub(super) fn now(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        wall + self.clock_offset_secs
    }
    /// A fresh base-36 id (five or more characters, like the pack's "8wku2").
    pub(super) fn new_id(&mut self) -> String {
        loop {
            self.next_id += 1;
            let id = to_base36(13_000_000 + self.next_id * 7919);
            if !self.objects.contains_key(&id) {
                return id;
            }
        }
    }
}

pub fn to_base36(mut n: u64) -> String {
    const D: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(D[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

pub fn is_base36(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

pub(super) fn iso(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

pub(super) fn insert_account(st: &mut State, seed: &XAccountSeed, now: i64) -> String {
    let fi = seed
        .funding_instrument_id
        .clone()
        .unwrap_or_else(|| format!("f{}", &seed.id[..seed.id.len().min(8)]));
    st.accounts.insert(
        seed.id.clone(),
        Account {
            id: seed.id.clone(),
            name: seed.name.clone().unwrap_or_else(|| format!("Account {}", seed.id)),
            timezone: seed.timezone.clone(),
            industry_type: None,
            created_at: now,
            updated_at: now,
        },
    );
    let mut fields = Map::new();
    fields.insert(
        "type".into(),
        json!(seed
            .funding_instrument_type
            .clone()
            .unwrap_or_else(|| "CREDIT_CARD".into())),
    );
    fields.insert("currency".into(), json!(seed.currency));
    fields.insert("description".into(), json!("Emulator funding instrument"));
    fields.insert("entity_status".into(), json!("ACTIVE"));
    fields.insert("start_time".into(), json!(iso(now - 86_400 * 30)));
    fields.insert("end_time".into(), Value::Null);
    fields.insert("credit_limit_local_micro".into(), json!(1_000_000_000_000i64));
    fields.insert("funded_amount_local_micro".into(), Value::Null);
    fields.insert("io_header".into(), Value::Null);
    let seq = st.next_id;
    st.objects.insert(
        fi.clone(),
        Obj {
            id: fi.clone(),
            kind: Kind::FundingInstrument,
            account: seed.id.clone(),
            fields,
            created_at: now,
            updated_at: now,
            deleted: false,
            foreign: true,
            seq,
        },
    );
    fi
}

pub(super) fn fresh_state(cfg: &XConfig) -> State {
    let mut st = State::default();
    let now = st.now();
    for a in &cfg.seed_accounts {
        insert_account(&mut st, a, now);
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn base36_ids() {
        assert_eq!(to_base36(35), "z");
        assert!(is_base36("18ce54d4x5t"));
        assert!(!is_base36("ABC"));
    }
}
