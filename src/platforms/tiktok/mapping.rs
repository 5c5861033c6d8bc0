//! Wire ↔ `Resource` (the TikTok table of `docs/resource-model.md`): money as exact main-unit numbers, ids as
//! int64 text, enums in lower case, the ownership marker at the end of names, and the request bodies of the
//! writes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::client::Body;
use super::config::MARKER;
use crate::connectors::OpError;
use crate::model::{fingerprint_key, Address, Currency, Kind, Money, Resource, Value};

/// Micros per main currency unit (`model::Money` holds micros).
const MICROS_PER_UNIT: i64 = 1_000_000;

/// A value adsctl cannot turn into (or read from) TikTok's form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct MappingError {
    pub field: String,
    pub message: String,
    pub hint: Option<String>,
}

impl MappingError {
    pub fn new(field: &str, message: impl Into<String>) -> MappingError {
        MappingError {
            field: field.to_string(),
            message: message.into(),
            hint: None,
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> MappingError {
        self.hint = Some(hint.into());
        self
    }
    pub fn to_op_error(&self) -> OpError {
        OpError {
            code: "invalid_field".into(),
            message: self.to_string(),
            field: Some(self.field.clone()),
            hint: self.hint.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------------------- money

/// A JSON number (or a decimal string, as reports send) in the account currency's main unit → micros, exactly:
/// the raw text is read as a decimal, never as an `f64`.
pub fn money_from_text(field: &str, text: &str) -> Result<Money, MappingError> {
    let t = text.trim().trim_matches('"').trim();
    let bad = || MappingError::new(field, format!("`{t}` is not an amount of money"));
    let d = Decimal::from_str(t)
        .or_else(|_| Decimal::from_scientific(t))
        .map_err(|_| bad())?;
    let micros = d.checked_mul(Decimal::from(MICROS_PER_UNIT)).ok_or_else(bad)?;
    if !micros.fract().is_zero() {
        return Err(MappingError::new(field, format!("`{t}` is finer than a millionth")));
    }
    micros.to_i64().map(Money::from_micros).ok_or_else(bad)
}

/// A raw JSON value of a money field: `None` for `null`.
pub fn money_from_raw(field: &str, raw: &RawValue) -> Result<Option<Money>, MappingError> {
    match raw.get().trim() {
        "null" | "\"\"" => Ok(None),
        t => money_from_text(field, t).map(Some),
    }
}

/// Micros → the exact decimal text of a JSON number in the main unit (`50`, `12.34`, `0.5`).
pub fn money_text(m: Money) -> String {
    let micros = m.micros();
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let unit = MICROS_PER_UNIT as u64;
    let (int, frac) = (abs / unit, abs % unit);
    if frac == 0 {
        format!("{sign}{int}")
    } else {
        let f = format!("{frac:06}");
        format!("{sign}{int}.{}", f.trim_end_matches('0'))
    }
}

/// Put a money field into a body as a JSON number.
pub fn put_money(b: &mut Body, key: &str, field: &str, v: &Value) -> Result<(), MappingError> {
    let m = v
        .as_money()
        .ok_or_else(|| MappingError::new(field, "must be an amount of money"))?;
    if m.micros() < 0 {
        return Err(MappingError::new(field, "must not be negative"));
    }
    b.raw(key, money_text(m)).map_err(|e| MappingError::new(field, e))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------- ids

/// An id (or any text field TikTok may also send as a number): a JSON string, or a JSON number's digits as
/// written (never through a float).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(pub String);

impl Id {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        use serde::de::Error;
        let raw = Box::<RawValue>::deserialize(d)?;
        let t = raw.get().trim();
        if t.starts_with('"') {
            let s: String = serde_json::from_str(t).map_err(D::Error::custom)?;
            return Ok(Id(s.trim().to_string()));
        }
        let digits = t.strip_prefix('-').unwrap_or(t);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Id(t.to_string()));
        }
        Err(D::Error::custom(format!("`{t}` is not an id")))
    }
}

fn ids(v: &Option<Vec<Id>>) -> Vec<String> {
    v.iter()
        .flatten()
        .map(|i| i.0.clone())
        .filter(|s| !s.is_empty())
        .collect()
}

// ---------------------------------------------------------------------------------------------------- marker

/// A name as written on TikTok: the YAML's name, then the marker (` [adsctl-managed]`, or
/// ` [adsctl-managed:<fingerprint>]` on an audience whose members are uploaded).
pub fn marked_name(name: &str, fingerprint: Option<&str>) -> String {
    match fingerprint {
        Some(fp) => format!("{name} [{MARKER}:{fp}]"),
        None => format!("{name} [{MARKER}]"),
    }
}

/// A live name split into the YAML's name and, when the marker ends it, the fingerprint it records
/// (`Some(None)`: marked without a fingerprint; `None`: not adsctl's).
pub fn split_name(live: &str) -> (String, Option<Option<String>>) {
    let unmarked = || (live.to_string(), None);
    let Some(body) = live.strip_suffix(']') else {
        return unmarked();
    };
    let Some(open) = body.rfind(" [") else {
        return unmarked();
    };
    let inner = &body[open + 2..];
    let fp = match inner.strip_prefix(MARKER) {
        Some("") => None,
        Some(rest) => match rest.strip_prefix(':') {
            Some(fp) if fp.len() == 16 && fp.bytes().all(|b| b.is_ascii_hexdigit()) => Some(fp.to_string()),
            _ => return unmarked(),
        },
        None => return unmarked(),
    };
    (body[..open].to_string(), Some(fp))
}

/// Characters a name counts against TikTok's limits: Chinese, Japanese and Korean characters count twice.
pub fn name_length(s: &str) -> usize {
    s.chars()
        .map(|c| match c as u32 {
            0x1100..=0x11FF | 0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFF00..=0xFFEF => 2,
            _ => 1,
        })
        .sum()
}

/// The marked name, checked against the kind's limit (which counts the marker too).
pub fn checked_name(address: &Address, kind: Kind, fingerprint: Option<&str>) -> Result<String, MappingError> {
    let name = address.name().unwrap_or_default();
    if name.is_empty() {
        return Err(MappingError::new("name", "a TikTok object needs a name"));
    }
    let full = marked_name(name, fingerprint);
    let (field, max) = match kind {
        Kind::Campaign => ("campaign_name", 512),
        Kind::AdGroup => ("adgroup_name", 512),
        Kind::Ad => ("ad_name", 512),
        _ => ("custom_audience_name", 128),
    };
    // the longest marker an audience ever carries (with a fingerprint), so that uploading members never fails
    let worst = match kind {
        Kind::Audience => marked_name(name, Some("0000000000000000")),
        _ => full.clone(),
    };
    if name_length(&worst) > max {
        return Err(MappingError::new(
            field,
            format!(
                "`{name}` is too long: TikTok allows {max} characters, counting adsctl's ownership marker ({} more) and Chinese, Japanese and Korean characters twice",
                name_length(&worst) - name_length(name)
            ),
        )
        .with_hint("shorten the name"));
    }
    Ok(full)
}

// ---------------------------------------------------------------------------------------------------- enums

/// A wire enum as a model value: lower case (`ENABLE` → `enable`).
pub fn lower(s: &str) -> Value {
    Value::Str(s.trim().to_ascii_lowercase())
}

fn want_str<'a>(field: &str, v: &'a Value) -> Result<&'a str, MappingError> {
    match v {
        Value::Str(s) | Value::Url(s) => Ok(s),
        _ => Err(MappingError::new(field, "must be text")),
    }
}

/// A model enum value in TikTok's spelling (`enable` → `ENABLE`).
pub fn upper(field: &str, v: &Value) -> Result<String, MappingError> {
    want_str(field, v).map(|s| s.trim().to_ascii_uppercase())
}

fn want_strs(field: &str, v: &Value) -> Result<Vec<String>, MappingError> {
    match v {
        Value::Set(s) => s.iter().map(|x| want_str(field, x).map(str::to_string)).collect(),
        Value::List(s) => s.iter().map(|x| want_str(field, x).map(str::to_string)).collect(),
        Value::Null => Ok(Vec::new()),
        _ => Err(MappingError::new(field, "must be a list of text")),
    }
}

fn want_bool(field: &str, v: &Value) -> Result<bool, MappingError> {
    v.as_bool()
        .ok_or_else(|| MappingError::new(field, "must be true or false"))
}

fn want_int(field: &str, v: &Value) -> Result<i64, MappingError> {
    v.as_int()
        .ok_or_else(|| MappingError::new(field, "must be a whole number"))
}

fn set_of(items: impl IntoIterator<Item = Value>) -> Value {
    Value::Set(items.into_iter().collect::<BTreeSet<Value>>())
}

fn unknown(kind: Kind, field: &str) -> MappingError {
    MappingError::new(field, format!("is not a field of a TikTok {}", kind.as_str()))
}

// ---------------------------------------------------------------------------------------------------- reads

/// A campaign row of `campaign/get/`.
#[derive(Debug, Default, Deserialize)]
pub struct CampaignRow {
    #[serde(default)]
    pub campaign_id: Option<Id>,
    #[serde(default)]
    pub campaign_name: Option<String>,
    #[serde(default)]
    pub objective_type: Option<String>,
    #[serde(default)]
    pub budget_mode: Option<String>,
    #[serde(default)]
    pub budget: Option<Box<RawValue>>,
    #[serde(default)]
    pub budget_optimize_on: Option<bool>,
    #[serde(default)]
    pub special_industries: Option<Vec<String>>,
    #[serde(default)]
    pub operation_status: Option<String>,
    #[serde(default)]
    pub secondary_status: Option<String>,
    #[serde(default)]
    pub modify_time: Option<String>,
}

/// An ad group row of `adgroup/get/` (targeting is flat, as on create).
#[derive(Debug, Default, Deserialize)]
pub struct AdgroupRow {
    #[serde(default)]
    pub adgroup_id: Option<Id>,
    #[serde(default)]
    pub adgroup_name: Option<String>,
    #[serde(default)]
    pub campaign_id: Option<Id>,
    #[serde(default)]
    pub operation_status: Option<String>,
    #[serde(default)]
    pub secondary_status: Option<String>,
    #[serde(default)]
    pub placement_type: Option<String>,
    #[serde(default)]
    pub placements: Option<Vec<String>>,
    #[serde(default)]
    pub location_ids: Option<Vec<Id>>,
    #[serde(default)]
    pub age_groups: Option<Vec<String>>,
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub languages: Option<Vec<String>>,
    #[serde(default)]
    pub interest_category_ids: Option<Vec<Id>>,
    #[serde(default)]
    pub audience_ids: Option<Vec<Id>>,
    #[serde(default)]
    pub excluded_audience_ids: Option<Vec<Id>>,
    #[serde(default)]
    pub schedule_type: Option<String>,
    #[serde(default)]
    pub schedule_start_time: Option<String>,
    #[serde(default)]
    pub schedule_end_time: Option<String>,
    #[serde(default)]
    pub dayparting: Option<String>,
    #[serde(default)]
    pub optimization_goal: Option<String>,
    #[serde(default)]
    pub billing_event: Option<String>,
    #[serde(default)]
    pub bid_type: Option<String>,
    #[serde(default)]
    pub bid_price: Option<Box<RawValue>>,
    #[serde(default)]
    pub pacing: Option<String>,
    #[serde(default)]
    pub budget_mode: Option<String>,
    #[serde(default)]
    pub budget: Option<Box<RawValue>>,
    #[serde(default)]
    pub modify_time: Option<String>,
}

/// An ad row of `ad/get/`.
#[derive(Debug, Default, Deserialize)]
pub struct AdRow {
    #[serde(default)]
    pub ad_id: Option<Id>,
    #[serde(default)]
    pub ad_name: Option<String>,
    #[serde(default)]
    pub adgroup_id: Option<Id>,
    #[serde(default)]
    pub operation_status: Option<String>,
    #[serde(default)]
    pub secondary_status: Option<String>,
    #[serde(default)]
    pub ad_format: Option<String>,
    #[serde(default)]
    pub ad_text: Option<String>,
    #[serde(default)]
    pub call_to_action: Option<String>,
    #[serde(default)]
    pub landing_page_url: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub identity_type: Option<String>,
    #[serde(default)]
    pub identity_id: Option<Id>,
    #[serde(default)]
    pub video_id: Option<Id>,
    #[serde(default)]
    pub image_ids: Option<Vec<Id>>,
    #[serde(default)]
    pub modify_time: Option<String>,
}

/// The `lookalike_spec` of an audience row.
#[derive(Debug, Default, Deserialize)]
pub struct LookalikeSpecRow {
    #[serde(default)]
    pub source_audience_id: Option<Id>,
    #[serde(default)]
    pub audience_size: Option<String>,
    #[serde(default)]
    pub location_ids: Option<Vec<Id>>,
    #[serde(default)]
    pub include_source: Option<bool>,
}

/// A custom audience row of `dmp/custom_audience/list/` or `get/` (the pack lists `audience_id`, `name`,
/// `audience_type`, `calculate_type`, … [T3]; the request models' names are accepted too).
#[derive(Debug, Default, Deserialize)]
pub struct AudienceRow {
    #[serde(default)]
    pub audience_id: Option<Id>,
    #[serde(default)]
    pub custom_audience_id: Option<Id>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub custom_audience_name: Option<String>,
    #[serde(default)]
    pub audience_type: Option<String>,
    #[serde(default)]
    pub calculate_type: Option<String>,
    #[serde(default)]
    pub retention_in_days: Option<i64>,
    #[serde(default)]
    pub is_valid: Option<bool>,
    #[serde(default)]
    pub cover_num: Option<i64>,
    #[serde(default)]
    pub lookalike_spec: Option<LookalikeSpecRow>,
    #[serde(default)]
    pub source_audience_id: Option<Id>,
    #[serde(default)]
    pub audience_size: Option<String>,
    #[serde(default)]
    pub location_ids: Option<Vec<Id>>,
    #[serde(default)]
    pub include_source: Option<bool>,
}

impl AudienceRow {
    pub fn id(&self) -> Option<String> {
        self.audience_id
            .as_ref()
            .or(self.custom_audience_id.as_ref())
            .map(|i| i.0.clone())
            .filter(|s| !s.is_empty())
    }
    pub fn live_name(&self) -> Option<&str> {
        self.name.as_deref().or(self.custom_audience_name.as_deref())
    }
    pub fn is_lookalike(&self) -> bool {
        self.lookalike_spec.is_some()
            || self.source_audience_id.is_some()
            || self
                .audience_type
                .as_deref()
                .is_some_and(|t| t.to_ascii_lowercase().contains("lookalike"))
    }
    /// Whether a lookalike's spec is in the row (the list may leave it for `get/`).
    pub fn has_lookalike_spec(&self) -> bool {
        self.lookalike_spec
            .as_ref()
            .is_some_and(|s| s.source_audience_id.is_some())
            || self.source_audience_id.is_some()
    }
    /// Take the details of a `get/` row.
    pub fn merge(&mut self, other: AudienceRow) {
        macro_rules! take {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = other.$f; } )* };
        }
        take!(
            audience_type,
            calculate_type,
            retention_in_days,
            is_valid,
            cover_num,
            lookalike_spec,
            source_audience_id,
            audience_size,
            location_ids,
            include_source
        );
    }
}

/// What every mapping of one read shares.
pub struct ReadContext<'a> {
    pub account: &'a str,
    pub currency: Currency,
    /// Audience id → its address (audiences and lookalikes of the read).
    pub audiences: &'a HashMap<String, Address>,
}

impl ReadContext<'_> {
    fn audience_ref(&self, id: &str) -> Value {
        Value::reference(
            self.audiences
                .get(id)
                .cloned()
                .unwrap_or_else(|| Address::account(self.account).child(Kind::Audience, id)),
        )
    }
}

/// The address and ownership of a live object: the marker stripped from its name.
fn identity(parent: &Address, kind: Kind, live_name: &str) -> (Resource, Option<Option<String>>) {
    let (name, marker) = split_name(live_name);
    let mut r = Resource::new(parent.child(kind, name), kind);
    r.owned = marker.is_some();
    (r, marker)
}

fn put_str(r: &mut Resource, field: &str, v: &Option<String>) {
    if let Some(s) = v.as_deref().filter(|s| !s.is_empty()) {
        r.fields.insert(field, Value::Str(s.to_string()));
    }
}

fn put_enum(r: &mut Resource, field: &str, v: &Option<String>) {
    if let Some(s) = v.as_deref().filter(|s| !s.is_empty()) {
        r.fields.insert(field, lower(s));
    }
}

fn put_enum_set(r: &mut Resource, field: &str, v: &Option<Vec<String>>) {
    if let Some(xs) = v {
        r.fields.insert(field, set_of(xs.iter().map(|s| lower(s))));
    }
}

fn put_id_set(r: &mut Resource, field: &str, v: &Option<Vec<Id>>) {
    if v.is_some() {
        r.fields.insert(field, set_of(ids(v).into_iter().map(Value::Str)));
    }
}

fn put_money_field(r: &mut Resource, field: &str, raw: &Option<Box<RawValue>>) -> Result<(), MappingError> {
    if let Some(raw) = raw {
        if let Some(m) = money_from_raw(field, raw)? {
            r.fields.insert(field, Value::Money(m));
        }
    }
    Ok(())
}

fn mode_has_budget(mode: &Option<String>) -> bool {
    budget_field(mode).is_some()
}

/// The resource field a budget of this mode is read into: `budget.daily` or `budget.lifetime` (the names every
/// platform's budgets have, so that spend impact and guardrails count TikTok's too).
fn budget_field(mode: &Option<String>) -> Option<&'static str> {
    match mode.as_deref() {
        Some("BUDGET_MODE_DAY") | Some("BUDGET_MODE_DYNAMIC_DAILY_BUDGET") => Some("budget.daily"),
        Some("BUDGET_MODE_TOTAL") => Some("budget.lifetime"),
        _ => None,
    }
}

pub fn campaign_resource(c: &CampaignRow, ctx: &ReadContext) -> Result<Resource, MappingError> {
    let root = Address::account(ctx.account);
    let (mut r, _) = identity(&root, Kind::Campaign, c.campaign_name.as_deref().unwrap_or_default());
    r.id = c.campaign_id.as_ref().map(|i| i.0.clone());
    put_enum(&mut r, "status", &c.operation_status);
    put_enum(&mut r, "objective_type", &c.objective_type);
    put_enum(&mut r, "budget_mode", &c.budget_mode);
    if let (true, Some(field)) = (mode_has_budget(&c.budget_mode), budget_field(&c.budget_mode)) {
        put_money_field(&mut r, field, &c.budget)?;
    }
    if let Some(b) = c.budget_optimize_on {
        r.fields.insert("budget_optimize_on", Value::Bool(b));
    }
    put_enum_set(&mut r, "special_industries", &c.special_industries);
    if let Some(s) = c.secondary_status.as_deref().filter(|s| !s.is_empty()) {
        r.observed.insert("secondary_status", s.to_ascii_lowercase());
    }
    Ok(r)
}

pub fn adgroup_resource(g: &AdgroupRow, campaign: &Address, ctx: &ReadContext) -> Result<Resource, MappingError> {
    let (mut r, _) = identity(campaign, Kind::AdGroup, g.adgroup_name.as_deref().unwrap_or_default());
    r.id = g.adgroup_id.as_ref().map(|i| i.0.clone());
    put_enum(&mut r, "status", &g.operation_status);
    put_enum(&mut r, "placement_type", &g.placement_type);
    put_enum_set(&mut r, "placements", &g.placements);
    put_id_set(&mut r, "targeting.location_ids", &g.location_ids);
    put_enum_set(&mut r, "targeting.age_groups", &g.age_groups);
    put_enum(&mut r, "targeting.gender", &g.gender);
    if let Some(l) = &g.languages {
        r.fields
            .insert("targeting.languages", set_of(l.iter().map(|s| Value::Str(s.clone()))));
    }
    put_id_set(&mut r, "targeting.interest_category_ids", &g.interest_category_ids);
    if g.audience_ids.is_some() {
        r.fields.insert(
            "targeting.audiences",
            set_of(ids(&g.audience_ids).iter().map(|i| ctx.audience_ref(i))),
        );
    }
    if g.excluded_audience_ids.is_some() {
        r.fields.insert(
            "targeting.excluded_audiences",
            set_of(ids(&g.excluded_audience_ids).iter().map(|i| ctx.audience_ref(i))),
        );
    }
    put_enum(&mut r, "schedule_type", &g.schedule_type);
    put_str(&mut r, "schedule_start_time", &g.schedule_start_time);
    put_str(&mut r, "schedule_end_time", &g.schedule_end_time);
    put_str(&mut r, "dayparting", &g.dayparting);
    put_enum(&mut r, "optimization_goal", &g.optimization_goal);
    put_enum(&mut r, "billing_event", &g.billing_event);
    put_enum(&mut r, "bid_type", &g.bid_type);
    if g.bid_type.as_deref() == Some("BID_TYPE_CUSTOM") {
        put_money_field(&mut r, "bid_price", &g.bid_price)?;
    } else if let Some(raw) = &g.bid_price {
        // a bid left from an earlier bid type: reported only when it is one
        if let Some(m) = money_from_raw("bid_price", raw)?.filter(|m| m.is_positive()) {
            r.fields.insert("bid_price", Value::Money(m));
        }
    }
    put_enum(&mut r, "pacing", &g.pacing);
    put_enum(&mut r, "budget_mode", &g.budget_mode);
    if let Some(field) = budget_field(&g.budget_mode) {
        put_money_field(&mut r, field, &g.budget)?;
    }
    if let Some(s) = g.secondary_status.as_deref().filter(|s| !s.is_empty()) {
        r.observed.insert("secondary_status", s.to_ascii_lowercase());
    }
    Ok(r)
}

/// The contract's fields of an ad (also what the connector keeps to send a whole creative).
pub const AD_FIELDS: [&str; 9] = [
    "ad_format",
    "ad_text",
    "call_to_action",
    "landing_page_url",
    "display_name",
    "identity_type",
    "identity_id",
    "video_id",
    "image_ids",
];

pub fn ad_resource(a: &AdRow, adgroup: &Address) -> Resource {
    let (mut r, _) = identity(adgroup, Kind::Ad, a.ad_name.as_deref().unwrap_or_default());
    r.id = a.ad_id.as_ref().map(|i| i.0.clone());
    put_enum(&mut r, "status", &a.operation_status);
    put_enum(&mut r, "ad_format", &a.ad_format);
    put_str(&mut r, "ad_text", &a.ad_text);
    put_enum(&mut r, "call_to_action", &a.call_to_action);
    if let Some(u) = a.landing_page_url.as_deref().filter(|u| !u.is_empty()) {
        r.fields.insert("landing_page_url", Value::Url(u.to_string()));
    }
    put_str(&mut r, "display_name", &a.display_name);
    put_enum(&mut r, "identity_type", &a.identity_type);
    if let Some(i) = a.identity_id.as_ref().filter(|i| !i.0.is_empty()) {
        r.fields.insert("identity_id", Value::Str(i.0.clone()));
    }
    if let Some(i) = a.video_id.as_ref().filter(|i| !i.0.is_empty()) {
        r.fields.insert("video_id", Value::Str(i.0.clone()));
    }
    if a.image_ids.is_some() {
        r.fields.insert(
            "image_ids",
            Value::List(ids(&a.image_ids).into_iter().map(Value::Str).collect()),
        );
    }
    if let Some(s) = a.secondary_status.as_deref().filter(|s| !s.is_empty()) {
        r.observed.insert("secondary_status", s.to_ascii_lowercase());
    }
    r
}

/// A customer-file audience or a lookalike. `audiences` maps ids to addresses (for a lookalike's origin).
pub fn audience_resource(a: &AudienceRow, ctx: &ReadContext) -> Option<Resource> {
    let root = Address::account(ctx.account);
    let kind = if a.is_lookalike() {
        Kind::LookalikeAudience
    } else {
        Kind::Audience
    };
    let (mut r, marker) = identity(&root, kind, a.live_name()?);
    r.id = a.id();
    match kind {
        Kind::Audience => {
            put_enum(&mut r, "calculate_type", &a.calculate_type);
            if let Some(d) = a.retention_in_days {
                r.fields.insert("retention_in_days", Value::Int(d));
            }
            if let Some(Some(fp)) = &marker {
                r.observed.insert(fingerprint_key("members"), fp.clone());
            }
        }
        _ => {
            let spec = a.lookalike_spec.as_ref();
            let source = spec
                .and_then(|s| s.source_audience_id.as_ref())
                .or(a.source_audience_id.as_ref());
            if let Some(s) = source {
                r.fields.insert("origin", ctx.audience_ref(&s.0));
            }
            let size = spec
                .and_then(|s| s.audience_size.clone())
                .or_else(|| a.audience_size.clone());
            put_enum(&mut r, "audience_size", &size);
            let locations = spec.and_then(|s| s.location_ids.as_ref()).or(a.location_ids.as_ref());
            if let Some(l) = locations {
                r.fields.insert(
                    "location_ids",
                    set_of(
                        l.iter()
                            .map(|i| Value::Str(i.0.clone()))
                            .filter(|v| v.as_str() != Some("")),
                    ),
                );
            }
            if let Some(b) = spec.and_then(|s| s.include_source).or(a.include_source) {
                r.fields.insert("include_source", Value::Bool(b));
            }
        }
    }
    if a.is_valid == Some(false) {
        r.observed.insert("processing", "true".to_string());
    }
    Some(r)
}

// ---------------------------------------------------------------------------------------------------- writes

/// Resolves the platform id of a referenced resource (an audience in targeting, a lookalike's origin).
pub type Resolve<'a> = &'a dyn Fn(&Address) -> Option<String>;

fn ref_ids(field: &str, v: &Value, resolve: Resolve) -> Result<Vec<String>, MappingError> {
    let items: Vec<&Value> = match v {
        Value::Set(s) => s.iter().collect(),
        Value::List(l) => l.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    items
        .into_iter()
        .map(|x| match x {
            Value::Ref(a) => resolve(a).ok_or_else(|| {
                MappingError::new(field, format!("{a} has no TikTok id yet")).with_hint("run `adsctl plan` again")
            }),
            Value::Str(s) => Ok(s.clone()),
            _ => Err(MappingError::new(field, "must name audiences")),
        })
        .collect()
}

/// The body of `campaign/create/` (without `advertiser_id` and `request_id`).
pub fn campaign_create(name: &str, fields: &BTreeMap<String, Value>) -> Result<Body, MappingError> {
    let mut b = Body::new();
    b.put("campaign_name", name);
    for (k, v) in fields {
        match k.as_str() {
            "status" => {
                b.put("operation_status", &upper(k, v)?);
            }
            "objective_type" => {
                b.put("objective_type", &upper(k, v)?);
            }
            "budget_mode" => {
                b.put("budget_mode", &upper(k, v)?);
            }
            "budget.daily" | "budget.lifetime" => put_money(&mut b, "budget", k, v)?,
            "budget_optimize_on" => {
                b.put("budget_optimize_on", &want_bool(k, v)?);
            }
            "special_industries" => {
                let xs: Vec<String> = want_strs(k, v)?.iter().map(|s| s.to_ascii_uppercase()).collect();
                b.put("special_industries", &xs);
            }
            other => return Err(unknown(Kind::Campaign, other)),
        }
    }
    if b.get("objective_type").is_none() {
        return Err(MappingError::new(
            "objective_type",
            "a TikTok campaign needs an objective_type",
        ));
    }
    Ok(b)
}

/// The body of `campaign/update/` for the changed fields other than `status` (which goes through
/// `campaign/status/update/`); `None` when nothing but the status changes.
pub fn campaign_update(set: &BTreeMap<String, Value>) -> Result<Option<Body>, MappingError> {
    let mut b = Body::new();
    for (k, v) in set {
        match k.as_str() {
            "status" => {}
            "budget.daily" | "budget.lifetime" => put_money(&mut b, "budget", k, v)?,
            "special_industries" => {
                let xs = want_strs(k, v)?;
                if !xs.is_empty() {
                    return Err(
                        MappingError::new(k, "TikTok only lets a campaign's special_industries be cleared")
                            .with_hint("the plan should replace the campaign"),
                    );
                }
                b.put("special_industries", &xs);
            }
            "objective_type" | "budget_mode" | "budget_optimize_on" => {
                return Err(MappingError::new(k, "cannot change after the campaign is created")
                    .with_hint("the plan should replace the campaign"))
            }
            other => return Err(unknown(Kind::Campaign, other)),
        }
    }
    Ok((!b.is_empty()).then_some(b))
}

/// Ad group fields that go into create and update bodies the same way.
fn adgroup_field(b: &mut Body, k: &str, v: &Value, resolve: Resolve) -> Result<(), MappingError> {
    match k {
        "status" => {
            b.put("operation_status", &upper(k, v)?);
        }
        "placement_type" | "targeting.gender" | "schedule_type" | "optimization_goal" | "billing_event"
        | "bid_type" | "pacing" | "budget_mode" => {
            let key = k.strip_prefix("targeting.").unwrap_or(k);
            b.put(key, &upper(k, v)?);
        }
        "placements" | "targeting.age_groups" => {
            let key = k.strip_prefix("targeting.").unwrap_or(k);
            let xs: Vec<String> = want_strs(k, v)?.iter().map(|s| s.to_ascii_uppercase()).collect();
            b.put(key, &xs);
        }
        "targeting.location_ids" | "targeting.languages" | "targeting.interest_category_ids" => {
            let key = &k["targeting.".len()..];
            b.put(key, &want_strs(k, v)?);
        }
        "targeting.audiences" => {
            b.put("audience_ids", &ref_ids(k, v, resolve)?);
        }
        "targeting.excluded_audiences" => {
            b.put("excluded_audience_ids", &ref_ids(k, v, resolve)?);
        }
        "schedule_start_time" | "schedule_end_time" | "dayparting" => {
            b.put(k, want_str(k, v)?);
        }
        "bid_price" => put_money(b, "bid_price", k, v)?,
        "budget.daily" | "budget.lifetime" => put_money(b, "budget", k, v)?,
        other => return Err(unknown(Kind::AdGroup, other)),
    }
    Ok(())
}

/// The body of `adgroup/create/` (without `advertiser_id`, `campaign_id` and `request_id`). A missing
/// `schedule_start_time` (the SDK requires one) is now, in UTC+0.
pub fn adgroup_create(name: &str, fields: &BTreeMap<String, Value>, resolve: Resolve) -> Result<Body, MappingError> {
    let mut b = Body::new();
    b.put("adgroup_name", name);
    for (k, v) in fields {
        adgroup_field(&mut b, k, v, resolve)?;
    }
    if b.get("schedule_start_time").is_none() {
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
        b.put("schedule_start_time", &now);
    }
    Ok(b)
}

/// The fields `adgroup/update/` does not take (fields.json AdgroupUpdateBody): changing them is a replace.
pub const ADGROUP_FIXED: [&str; 5] = [
    "budget_mode",
    "placement_type",
    "placements",
    "optimization_goal",
    "billing_event",
];

/// The body of `adgroup/update/` for the changed fields other than `status`; `None` when only the status
/// changes.
pub fn adgroup_update(set: &BTreeMap<String, Value>, resolve: Resolve) -> Result<Option<Body>, MappingError> {
    let mut b = Body::new();
    for (k, v) in set {
        if k == "status" {
            continue;
        }
        if ADGROUP_FIXED.contains(&k.as_str()) {
            return Err(MappingError::new(
                k,
                "cannot change after the ad group is created (adgroup/update/ does not take it)",
            )
            .with_hint("the plan should replace the ad group"));
        }
        adgroup_field(&mut b, k, v, resolve)?;
    }
    Ok((!b.is_empty()).then_some(b))
}

/// One element of `creatives` for `ad/create/` or `ad/update/`: the contract's fields (and the status on
/// create).
pub fn creative(
    fields: &BTreeMap<String, Value>,
    with_status: bool,
) -> Result<serde_json::Map<String, serde_json::Value>, MappingError> {
    let mut c = serde_json::Map::new();
    for (k, v) in fields {
        let j = match k.as_str() {
            "status" if with_status => serde_json::Value::String(upper(k, v)?),
            "status" => continue,
            "ad_format" | "call_to_action" | "identity_type" => serde_json::Value::String(upper(k, v)?),
            "ad_text" | "landing_page_url" | "display_name" | "identity_id" | "video_id" => {
                serde_json::Value::String(want_str(k, v)?.to_string())
            }
            "image_ids" => serde_json::Value::from(want_strs(k, v)?),
            other => return Err(unknown(Kind::Ad, other)),
        };
        let key = if k == "status" { "operation_status" } else { k.as_str() };
        c.insert(key.to_string(), j);
    }
    Ok(c)
}

/// `lookalike_spec` of `dmp/custom_audience/lookalike/create/`. TikTok's spec also wants `mobile_os` and
/// `placements`, which the contract does not have: every device (`ALL`) and TikTok itself.
pub fn lookalike_spec(fields: &BTreeMap<String, Value>, resolve: Resolve) -> Result<serde_json::Value, MappingError> {
    let mut spec = serde_json::Map::new();
    for (k, v) in fields {
        match k.as_str() {
            "origin" => {
                let ids = ref_ids(k, v, resolve)?;
                let Some(id) = ids.into_iter().next() else {
                    return Err(MappingError::new(k, "a lookalike needs a source audience"));
                };
                spec.insert("source_audience_id".into(), id.into());
            }
            "audience_size" => {
                spec.insert("audience_size".into(), upper(k, v)?.into());
            }
            "location_ids" => {
                spec.insert("location_ids".into(), want_strs(k, v)?.into());
            }
            "include_source" => {
                spec.insert("include_source".into(), want_bool(k, v)?.into());
            }
            other => return Err(unknown(Kind::LookalikeAudience, other)),
        }
    }
    if !spec.contains_key("source_audience_id") {
        return Err(MappingError::new("origin", "a lookalike needs a source audience"));
    }
    spec.entry("mobile_os").or_insert_with(|| "ALL".into());
    spec.entry("placements")
        .or_insert_with(|| serde_json::json!(["PLACEMENT_TIKTOK"]));
    spec.entry("include_source").or_insert(false.into());
    spec.entry("location_ids").or_insert_with(|| serde_json::json!([]));
    spec.entry("audience_size").or_insert_with(|| "BALANCED".into());
    Ok(serde_json::Value::Object(spec))
}

/// An audience's own fields on create: `calculate_type` (default `EMAIL_SHA256`, what the spec hashes) and
/// `retention_in_days`; the members go separately.
pub fn audience_create_fields(fields: &BTreeMap<String, Value>) -> Result<(String, Option<i64>), MappingError> {
    let mut calc = "EMAIL_SHA256".to_string();
    let mut retention = None;
    for (k, v) in fields {
        match k.as_str() {
            "calculate_type" => calc = upper(k, v)?,
            "retention_in_days" => {
                let d = want_int(k, v)?;
                if !(1..=365).contains(&d) {
                    return Err(MappingError::new(k, "must be between 1 and 365"));
                }
                retention = Some(d);
            }
            "members" => {}
            other => return Err(unknown(Kind::Audience, other)),
        }
    }
    Ok((calc, retention))
}

/// The members of a write-only `members` value, sorted, lower-case hex.
pub fn members_of(v: Option<&Value>) -> Result<Vec<String>, MappingError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let mut out: Vec<String> = want_strs("members", v)?
        .into_iter()
        .map(|m| m.trim().to_ascii_lowercase())
        .collect();
    for m in &out {
        if m.len() != 64 || !m.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(
                MappingError::new("members", "every member must be a SHA-256 hash (64 hex digits)")
                    .with_hint("members are normalised and hashed locally before upload"),
            );
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::from_code("USD").unwrap()
    }

    #[test]
    fn money_is_exact_both_ways() {
        assert_eq!(money_from_text("budget", "50").unwrap().micros(), 50_000_000);
        assert_eq!(money_from_text("budget", "12.34").unwrap().micros(), 12_340_000);
        assert_eq!(money_from_text("budget", "0.1").unwrap().micros(), 100_000);
        assert_eq!(money_from_text("spend", "\"12.30\"").unwrap().micros(), 12_300_000);
        assert_eq!(money_from_text("budget", "1e2").unwrap().micros(), 100_000_000);
        // beyond an f64's 15–17 significant digits: still exact
        assert_eq!(
            money_from_text("budget", "9007199254.740993").unwrap().micros(),
            9_007_199_254_740_993
        );
        assert!(money_from_text("budget", "0.0000001").is_err());
        assert!(money_from_text("budget", "abc").is_err());
        for micros in [0, 1, 100_000, 50_000_000, 12_340_000, 9_007_199_254_740_993] {
            let m = Money::from_micros(micros);
            assert_eq!(money_from_text("x", &money_text(m)).unwrap(), m);
        }
        assert_eq!(money_text(Money::from_micros(50_000_000)), "50");
        assert_eq!(money_text(Money::from_micros(12_340_000)), "12.34");
        assert_eq!(money_text(Money::from_micros(500_000)), "0.5");
        let raw = RawValue::from_string("null".into()).unwrap();
        assert_eq!(money_from_raw("b", &raw).unwrap(), None);
        let _ = usd();
    }

    #[test]
    fn ids_are_read_as_text_never_as_floats() {
        #[derive(Deserialize)]
        struct R {
            a: Id,
            b: Id,
            c: Option<Vec<Id>>,
        }
        let r: R =
            serde_json::from_str(r#"{"a":"1800000000000000001","b":1800000000000000003,"c":[9007199254740993]}"#)
                .unwrap();
        assert_eq!(r.a.0, "1800000000000000001");
        assert_eq!(r.b.0, "1800000000000000003");
        assert_eq!(r.c.unwrap()[0].0, "9007199254740993");
        assert!(serde_json::from_str::<R>(r#"{"a":1.5,"b":"2"}"#).is_err());
    }

    #[test]
    fn names_carry_the_marker() {
        assert_eq!(marked_name("Spring", None), "Spring [adsctl-managed]");
        assert_eq!(split_name("Spring [adsctl-managed]"), ("Spring".into(), Some(None)));
        assert_eq!(
            split_name("List [adsctl-managed:0123456789abcdef]"),
            ("List".into(), Some(Some("0123456789abcdef".into())))
        );
        assert_eq!(split_name("Spring"), ("Spring".into(), None));
        assert_eq!(split_name("Spring [other]"), ("Spring [other]".into(), None));
        assert_eq!(
            split_name("X [adsctl-managed:short]"),
            ("X [adsctl-managed:short]".into(), None)
        );
        assert_eq!(name_length("ab春"), 4);
        let a = Address::account("tt").child(Kind::Campaign, "x".repeat(500));
        assert!(checked_name(&a, Kind::Campaign, None).is_err(), "the marker counts");
        let a = Address::account("tt").child(Kind::Campaign, "x".repeat(495));
        assert!(checked_name(&a, Kind::Campaign, None).is_ok());
    }

    #[test]
    fn reads_map_to_the_contract() {
        let audiences = HashMap::from([(
            "555".to_string(),
            Address::account("tt").child(Kind::Audience, "buyers"),
        )]);
        let ctx = ReadContext {
            account: "tt",
            currency: usd(),
            audiences: &audiences,
        };
        let c: CampaignRow = serde_json::from_str(
            r#"{"campaign_id":1800000000000000001,"campaign_name":"Spring [adsctl-managed]","objective_type":"TRAFFIC",
                "budget_mode":"BUDGET_MODE_DAY","budget":50.5,"budget_optimize_on":false,"special_industries":[],
                "operation_status":"ENABLE","secondary_status":"CAMPAIGN_STATUS_ENABLE"}"#,
        )
        .unwrap();
        let r = campaign_resource(&c, &ctx).unwrap();
        assert_eq!(r.address.to_string(), "tt/campaign/Spring");
        assert!(r.owned);
        assert_eq!(r.id.as_deref(), Some("1800000000000000001"));
        assert_eq!(
            r.fields.get("budget.daily"),
            Some(&Value::Money(Money::from_micros(50_500_000)))
        );
        assert_eq!(r.fields.get("status"), Some(&Value::str("enable")));
        assert_eq!(r.fields.get("objective_type"), Some(&Value::str("traffic")));
        assert_eq!(r.fields.get("special_industries"), Some(&Value::Set(BTreeSet::new())));
        let g: AdgroupRow = serde_json::from_str(
            r#"{"adgroup_id":"2","adgroup_name":"G","campaign_id":"1","audience_ids":["555"],"location_ids":[6252001],
                "age_groups":["AGE_18_24"],"bid_type":"BID_TYPE_NO_BID","bid_price":0,"budget_mode":"BUDGET_MODE_INFINITE","budget":0}"#,
        )
        .unwrap();
        let gr = adgroup_resource(&g, &r.address, &ctx).unwrap();
        assert!(!gr.owned, "no marker: someone else's");
        assert_eq!(gr.address.to_string(), "tt/campaign/Spring/ad_group/G");
        assert_eq!(
            gr.fields.get("targeting.audiences"),
            Some(&set_of([Value::reference(
                Address::account("tt").child(Kind::Audience, "buyers")
            )]))
        );
        assert_eq!(
            gr.fields.get("targeting.location_ids"),
            Some(&set_of([Value::str("6252001")]))
        );
        assert!(gr.fields.get("bid_price").is_none() && gr.fields.get("budget.daily").is_none());
        let lal: AudienceRow = serde_json::from_str(
            r#"{"audience_id":"777","name":"Look [adsctl-managed]","audience_type":"Lookalike Audience",
                "lookalike_spec":{"source_audience_id":"555","audience_size":"NARROW","location_ids":["6252001"],"include_source":true}}"#,
        )
        .unwrap();
        let lr = audience_resource(&lal, &ctx).unwrap();
        assert_eq!(lr.kind, Kind::LookalikeAudience);
        assert_eq!(lr.fields.get("audience_size"), Some(&Value::str("narrow")));
        let aud: AudienceRow = serde_json::from_str(
            r#"{"audience_id":"555","name":"buyers [adsctl-managed:0123456789abcdef]","calculate_type":"EMAIL_SHA256","retention_in_days":30}"#,
        )
        .unwrap();
        let ar = audience_resource(&aud, &ctx).unwrap();
        assert_eq!(
            ar.observed.get("fingerprint.members").map(String::as_str),
            Some("0123456789abcdef")
        );
        assert_eq!(ar.fields.get("retention_in_days"), Some(&Value::Int(30)));
    }

    #[test]
    fn write_bodies() {
        let fields = BTreeMap::from([
            ("status".to_string(), Value::str("disable")),
            ("objective_type".to_string(), Value::str("traffic")),
            ("budget_mode".to_string(), Value::str("budget_mode_day")),
            ("budget.daily".to_string(), Value::Money(Money::from_micros(75_250_000))),
            ("special_industries".to_string(), set_of([Value::str("housing")])),
        ]);
        let b = campaign_create("Spring [adsctl-managed]", &fields).unwrap();
        assert_eq!(
            b.to_json_string(),
            r#"{"campaign_name":"Spring [adsctl-managed]","budget":75.25,"budget_mode":"BUDGET_MODE_DAY","objective_type":"TRAFFIC","special_industries":["HOUSING"],"operation_status":"DISABLE"}"#
        );
        let bad = BTreeMap::from([("special_industries".to_string(), set_of([Value::str("credit")]))]);
        assert!(campaign_update(&bad).is_err());
        let only_status = BTreeMap::from([("status".to_string(), Value::str("enable"))]);
        assert!(campaign_update(&only_status).unwrap().is_none());
        let target = Address::account("tt").child(Kind::Audience, "buyers");
        let resolve = |a: &Address| (a == &target).then(|| "555".to_string());
        let g = BTreeMap::from([
            (
                "targeting.audiences".to_string(),
                set_of([Value::reference(target.clone())]),
            ),
            ("targeting.age_groups".to_string(), set_of([Value::str("age_18_24")])),
            ("bid_price".to_string(), Value::Money(Money::from_micros(1_500_000))),
            ("schedule_start_time".to_string(), Value::str("2027-01-01 00:00:00")),
        ]);
        let b = adgroup_create("G [adsctl-managed]", &g, &resolve).unwrap();
        let j: serde_json::Value = serde_json::from_str(&b.to_json_string()).unwrap();
        assert_eq!(j["audience_ids"], serde_json::json!(["555"]));
        assert_eq!(j["age_groups"], serde_json::json!(["AGE_18_24"]));
        assert_eq!(b.get("bid_price"), Some("1.5"));
        let fixed = BTreeMap::from([("placements".to_string(), set_of([Value::str("placement_tiktok")]))]);
        assert!(adgroup_update(&fixed, &resolve).is_err());
    }
}
