//! Wire ↔ `Resource` for X: campaigns, line items (`ad_group`), promoted tweets (`promoted_post`), targeting
//! criteria and custom audiences (`docs/resource-model.md`, X). Money is `*_local_micro`, JSON integers in
//! micros of the funding instrument's currency — adsctl's own unit, so the mapping is the identity on integers
//! (no float, no decimal string). Enums are X's wire names lower-cased; times RFC 3339 UTC (`…Z`).
//!
//! Write parameters are built once as a JSON object ([`Params`]): a batch item's `params` as they are, a
//! single-entity call's query string with [`params_query`] (strings as they are, integers as digits, arrays
//! joined with commas).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map as JsonMap, Value as Json};

use super::client::{id_text, Query};
use crate::connectors::OpError;
use crate::model::{fingerprint_key, Address, Kind, Money, Resource, Value};

/// The wire parameters of one write.
pub type Params = JsonMap<String, Json>;

/// A value adsctl cannot turn into (or read from) X's form.
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

// ---------------------------------------------------------------------------------------------------- values

/// `*_local_micro` → Money: a JSON integer (or its digits in a string), exactly; null → `None`.
pub fn money_from_wire(field: &str, v: Option<&Json>) -> Result<Option<Money>, MappingError> {
    match v {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Number(n)) => n
            .as_i64()
            .map(|m| Some(Money::from_micros(m)))
            .ok_or_else(|| MappingError::new(field, format!("`{n}` is not a whole number of micros"))),
        Some(Json::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Json::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(|m| Some(Money::from_micros(m)))
            .map_err(|_| MappingError::new(field, format!("`{s}` is not a whole number of micros"))),
        Some(other) => Err(MappingError::new(field, format!("`{other}` is not an amount"))),
    }
}

/// Money → a JSON integer of micros (positive).
pub fn money_to_wire(field: &str, v: &Value) -> Result<Json, MappingError> {
    let m = v
        .as_money()
        .ok_or_else(|| MappingError::new(field, "must be an amount of money"))?;
    if m.micros() <= 0 {
        return Err(MappingError::new(field, "must be more than zero"));
    }
    Ok(Json::from(m.micros()))
}

/// An RFC 3339 time (any offset) → `2026-01-01T00:00:00Z` (UTC; sub-seconds kept when there are any).
pub fn utc_time(field: &str, s: &str) -> Result<String, MappingError> {
    let t = DateTime::parse_from_rfc3339(s.trim()).map_err(|_| {
        MappingError::new(field, format!("`{s}` is not an RFC 3339 time")).with_hint("write 2026-01-01T00:00:00Z")
    })?;
    let t = t.with_timezone(&Utc);
    Ok(if t.timestamp_subsec_nanos() == 0 {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    } else {
        t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    })
}

/// Now, to the whole second, in UTC (a line item's start_time when the operation has none).
pub fn now_second() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn lower(s: &str) -> Value {
    Value::Str(s.to_ascii_lowercase())
}

fn want_str<'a>(field: &str, v: &'a Value) -> Result<&'a str, MappingError> {
    v.as_str().ok_or_else(|| MappingError::new(field, "must be text"))
}

/// An enum value as X spells it (`website_clicks` → `WEBSITE_CLICKS`).
pub fn upper(field: &str, v: &Value) -> Result<String, MappingError> {
    let s = want_str(field, v)?.trim();
    if s.is_empty() {
        return Err(MappingError::new(field, "must not be empty"));
    }
    Ok(s.to_ascii_uppercase())
}

fn set_of(items: impl IntoIterator<Item = Value>) -> Value {
    Value::Set(items.into_iter().collect::<BTreeSet<_>>())
}

/// A parameter's text in a query string (strings as they are, integers as digits, arrays joined with commas).
pub fn param_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Array(a) => a.iter().map(param_text).collect::<Vec<_>>().join(","),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// Parameters as a query string.
pub fn params_query(p: &Params) -> Query {
    Query(p.iter().map(|(k, v)| (k.clone(), param_text(v))).collect())
}

// ---------------------------------------------------------------------------------------------------- marker

pub use crate::platforms::shared::{marked_description, marked_name, split_description, split_name};

/// The marked name of an operation's address.
pub fn checked_name(address: &Address) -> Result<String, MappingError> {
    let name = address.name().unwrap_or_default();
    if name.trim().is_empty() {
        return Err(MappingError::new("name", "an X campaign or line item needs a name"));
    }
    let marked = marked_name(name);
    if marked.chars().count() > 255 {
        return Err(MappingError::new(
            "name",
            format!(
                "X takes names of at most 255 characters, the marked name has {}",
                marked.chars().count()
            ),
        ));
    }
    Ok(marked)
}

// ---------------------------------------------------------------------------------------------------- criteria

/// The targeting types whose value is a custom audience id (the name carries the audience's adsctl name).
pub const AUDIENCE_TYPES: [&str; 2] = ["CUSTOM_AUDIENCE", "CUSTOM_AUDIENCE_EXPANDED"];

fn op_word(op: &str) -> Option<&'static str> {
    match op.to_ascii_uppercase().as_str() {
        "EQ" | "" => Some(""),
        "NE" => Some("not "),
        "GTE" => Some("gte "),
        "LT" => Some("lt "),
        _ => None,
    }
}

/// A targeting criterion's name (its address): `<type>:<value>` for EQ, `<op> <type>:<value>` otherwise (`not`
/// for NE, `gte`, `lt`); the type lower-cased, the value exactly the wire's.
pub fn criterion_name(targeting_type: &str, value: &str, op: &str) -> String {
    let word = op_word(op).unwrap_or("");
    format!("{word}{}:{value}", targeting_type.to_ascii_lowercase())
}

/// `(TYPE, value, OP)` of a criterion's name; `None` when it is not one.
pub fn parse_criterion_name(name: &str) -> Option<(String, String, String)> {
    let (op, rest) = if let Some(r) = name.strip_prefix("not ") {
        ("NE", r)
    } else if let Some(r) = name.strip_prefix("gte ") {
        ("GTE", r)
    } else if let Some(r) = name.strip_prefix("lt ") {
        ("LT", r)
    } else {
        ("EQ", name)
    };
    let (t, v) = rest.split_once(':')?;
    if t.is_empty() || v.is_empty() || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    Some((t.to_ascii_uppercase(), v.to_string(), op.to_string()))
}

// ---------------------------------------------------------------------------------------------------- rows

fn de_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Json>::deserialize(d)?;
    Ok(v.as_ref().and_then(id_text))
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct CampaignRow {
    #[serde(default, deserialize_with = "de_id")]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub entity_status: Option<String>,
    #[serde(default, deserialize_with = "de_id")]
    pub funding_instrument_id: Option<String>,
    #[serde(default)]
    pub daily_budget_amount_local_micro: Option<Json>,
    #[serde(default)]
    pub total_budget_amount_local_micro: Option<Json>,
    #[serde(default)]
    pub servable: Option<bool>,
    #[serde(default)]
    pub effective_status: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub deleted: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct LineItemRow {
    #[serde(default, deserialize_with = "de_id")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "de_id")]
    pub campaign_id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub entity_status: Option<String>,
    #[serde(default)]
    pub objective: Option<String>,
    #[serde(default)]
    pub product_type: Option<String>,
    #[serde(default)]
    pub placements: Option<Vec<String>>,
    #[serde(default)]
    pub bid_strategy: Option<String>,
    #[serde(default)]
    pub bid_amount_local_micro: Option<Json>,
    #[serde(default)]
    pub goal: Option<String>,
    #[serde(default)]
    pub pay_by: Option<String>,
    #[serde(default)]
    pub daily_budget_amount_local_micro: Option<Json>,
    #[serde(default)]
    pub total_budget_amount_local_micro: Option<Json>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub end_time: Option<String>,
    #[serde(default)]
    pub deleted: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PromotedTweetRow {
    #[serde(default, deserialize_with = "de_id")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "de_id")]
    pub line_item_id: Option<String>,
    /// A decimal string (or a bare 64-bit number in echoes: read as its digits).
    #[serde(default, deserialize_with = "de_id")]
    pub tweet_id: Option<String>,
    #[serde(default)]
    pub entity_status: Option<String>,
    #[serde(default)]
    pub approval_status: Option<String>,
    #[serde(default)]
    pub deleted: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct CriterionRow {
    #[serde(default, deserialize_with = "de_id")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "de_id")]
    pub line_item_id: Option<String>,
    #[serde(default)]
    pub targeting_type: Option<String>,
    #[serde(default, deserialize_with = "de_id")]
    pub targeting_value: Option<String>,
    #[serde(default)]
    pub operator_type: Option<String>,
    #[serde(default)]
    pub deleted: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct AudienceRow {
    #[serde(default, deserialize_with = "de_id")]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub audience_size: Option<Json>,
    #[serde(default)]
    pub targetable: Option<bool>,
    #[serde(default)]
    pub deleted: Option<bool>,
}

// ---------------------------------------------------------------------------------------------------- reading

fn put_money(r: &mut Resource, field: &str, v: Option<&Json>) -> Result<(), MappingError> {
    if let Some(m) = money_from_wire(field, v)? {
        r.fields.insert(field, Value::Money(m));
    }
    Ok(())
}

fn put_lower(r: &mut Resource, field: &str, v: &Option<String>) {
    if let Some(s) = v.as_deref().filter(|s| !s.is_empty()) {
        r.fields.insert(field, lower(s));
    }
}

fn put_time(r: &mut Resource, field: &str, v: &Option<String>) {
    if let Some(s) = v.as_deref().filter(|s| !s.is_empty()) {
        let t = utc_time(field, s).unwrap_or_else(|_| s.to_string());
        r.fields.insert(field, Value::Str(t));
    }
}

/// A campaign as a resource (`None` without an id or a name).
pub fn campaign_resource(c: &CampaignRow, account: &str) -> Result<Option<Resource>, MappingError> {
    let (Some(id), Some(live)) = (&c.id, &c.name) else {
        return Ok(None);
    };
    let (name, owned) = split_name(live);
    let mut r = Resource::new(Address::account(account).child(Kind::Campaign, name), Kind::Campaign);
    r.id = Some(id.clone());
    r.owned = owned;
    put_lower(&mut r, "status", &c.entity_status);
    if let Some(f) = &c.funding_instrument_id {
        r.fields.insert("funding_instrument", Value::str(f));
    }
    put_money(&mut r, "budget.daily", c.daily_budget_amount_local_micro.as_ref())?;
    put_money(&mut r, "budget.lifetime", c.total_budget_amount_local_micro.as_ref())?;
    if let Some(s) = c.servable {
        r.observed.insert("servable", s.to_string());
    }
    if let Some(s) = &c.effective_status {
        r.observed.insert("effective_status", s.to_ascii_lowercase());
    }
    Ok(Some(r))
}

/// A line item under its campaign's address.
pub fn line_item_resource(l: &LineItemRow, campaign: &Address) -> Result<Option<Resource>, MappingError> {
    let (Some(id), Some(live)) = (&l.id, &l.name) else {
        return Ok(None);
    };
    let (name, owned) = split_name(live);
    let mut r = Resource::new(campaign.child(Kind::AdGroup, name), Kind::AdGroup);
    r.id = Some(id.clone());
    r.owned = owned;
    put_lower(&mut r, "status", &l.entity_status);
    put_lower(&mut r, "objective", &l.objective);
    put_lower(&mut r, "product_type", &l.product_type);
    if let Some(p) = &l.placements {
        r.fields.insert("placements", set_of(p.iter().map(|s| lower(s))));
    }
    put_lower(&mut r, "bid_strategy", &l.bid_strategy);
    put_money(&mut r, "bid", l.bid_amount_local_micro.as_ref())?;
    put_lower(&mut r, "goal", &l.goal);
    put_lower(&mut r, "pay_by", &l.pay_by);
    put_money(&mut r, "budget.daily", l.daily_budget_amount_local_micro.as_ref())?;
    put_money(&mut r, "budget.lifetime", l.total_budget_amount_local_micro.as_ref())?;
    put_time(&mut r, "start_time", &l.start_time);
    put_time(&mut r, "end_time", &l.end_time);
    Ok(Some(r))
}

/// A promoted tweet under its line item: named by its tweet id, its id the promoted_tweet id. Promoted posts
/// carry no marker: `owned` stays false (the engine decides from the YAML and the id map).
pub fn promoted_post_resource(p: &PromotedTweetRow, line_item: &Address) -> Option<Resource> {
    let (id, tweet) = (p.id.as_ref()?, p.tweet_id.as_ref()?);
    let mut r = Resource::new(line_item.child(Kind::PromotedPost, tweet.clone()), Kind::PromotedPost);
    r.id = Some(id.clone());
    if let Some(s) = &p.approval_status {
        r.observed.insert("approval_status", s.to_ascii_lowercase());
    }
    if let Some(s) = &p.entity_status {
        r.observed.insert("entity_status", s.to_ascii_lowercase());
    }
    Some(r)
}

/// A targeting criterion under its line item. `audiences`: audience id → its adsctl name (the snapshot's
/// audiences); a custom audience criterion whose audience is known is named by the audience's name and refers
/// to it; an unknown one keeps the id.
pub fn criterion_resource(
    c: &CriterionRow,
    line_item: &Address,
    account: &str,
    audiences: &HashMap<String, String>,
) -> Option<Resource> {
    let (id, t, v) = (c.id.as_ref()?, c.targeting_type.as_ref()?, c.targeting_value.as_ref()?);
    let op = c.operator_type.as_deref().unwrap_or("EQ");
    let t_up = t.to_ascii_uppercase();
    let audience = AUDIENCE_TYPES
        .contains(&t_up.as_str())
        .then(|| audiences.get(v))
        .flatten();
    let value = audience.cloned().unwrap_or_else(|| v.clone());
    let mut r = Resource::new(
        line_item.child(Kind::TargetingCriterion, criterion_name(t, &value, op)),
        Kind::TargetingCriterion,
    );
    r.id = Some(id.clone());
    if let Some(name) = audience {
        r.fields.insert(
            "audience",
            Value::reference(Address::account(account).child(Kind::Audience, name.clone())),
        );
    }
    Some(r)
}

/// A custom audience (`None` without an id or a name).
pub fn audience_resource(a: &AudienceRow, account: &str) -> Option<Resource> {
    let (id, name) = (a.id.as_ref()?, a.name.as_deref().filter(|n| !n.is_empty())?);
    let mut r = Resource::new(Address::account(account).child(Kind::Audience, name), Kind::Audience);
    r.id = Some(id.clone());
    let (user, marker) = match a.description.as_deref() {
        Some(d) => split_description(d),
        None => (None, None),
    };
    r.owned = marker.is_some();
    if let Some(d) = user {
        r.fields.insert("description", Value::Str(d));
    }
    if let Some(Some(fp)) = marker {
        r.observed.insert(fingerprint_key("members"), fp);
    }
    if let Some(n) = a.audience_size.as_ref().and_then(id_text) {
        r.observed.insert("audience_size", n);
    }
    if let Some(t) = a.targetable {
        r.observed.insert("targetable", t.to_string());
    }
    Some(r)
}

// ---------------------------------------------------------------------------------------------------- writing

/// Fields of one operation.
pub type Fields = BTreeMap<String, Value>;

/// Line item fields fixed at create (not on PUT).
pub const LINE_ITEM_FIXED: [&str; 3] = ["objective", "product_type", "placements"];
/// Campaign fields fixed at create.
pub const CAMPAIGN_FIXED: [&str; 1] = ["funding_instrument"];

fn status_param(v: &Value, create: bool) -> Result<Json, MappingError> {
    let s = upper("status", v)?;
    let ok = if create {
        matches!(s.as_str(), "ACTIVE" | "PAUSED" | "DRAFT")
    } else {
        matches!(s.as_str(), "ACTIVE" | "PAUSED")
    };
    if !ok {
        return Err(MappingError::new(
            "status",
            if create {
                format!("`{}` is not active, paused or draft", s.to_ascii_lowercase())
            } else {
                format!(
                    "X sets an existing object only to active or paused, not `{}`",
                    s.to_ascii_lowercase()
                )
            },
        ));
    }
    Ok(Json::String(s))
}

/// Money for a write; `Null` (a removed value) clears it on an update (`param=`).
fn money_param(field: &str, v: &Value, create: bool) -> Result<Option<Json>, MappingError> {
    match v {
        Value::Null if create => Ok(None),
        Value::Null => Ok(Some(Json::String(String::new()))),
        _ => money_to_wire(field, v).map(Some),
    }
}

fn budget_params(p: &mut Params, f: &Fields, create: bool) -> Result<(), MappingError> {
    if let (Some(Value::Money(d)), Some(Value::Money(t))) = (f.get("budget.daily"), f.get("budget.lifetime")) {
        if d.micros() > t.micros() {
            return Err(MappingError::new(
                "budget.daily",
                "X takes a daily budget no larger than the lifetime budget",
            ));
        }
    }
    for (field, wire) in [
        ("budget.daily", "daily_budget_amount_local_micro"),
        ("budget.lifetime", "total_budget_amount_local_micro"),
    ] {
        if let Some(v) = f.get(field) {
            if let Some(j) = money_param(field, v, create)? {
                p.insert(wire.into(), j);
            }
        }
    }
    Ok(())
}

fn unknown(kind: &str, field: &str) -> MappingError {
    MappingError::new(field, format!("an X {kind} has no field `{field}`")).with_hint("see docs/resource-model.md (X)")
}

/// `POST …/campaigns` parameters (or a batch Create's params).
pub fn campaign_create(name: &str, f: &Fields) -> Result<Params, MappingError> {
    let mut p = Params::new();
    for k in f.keys() {
        if !matches!(
            k.as_str(),
            "status" | "funding_instrument" | "budget.daily" | "budget.lifetime"
        ) {
            return Err(unknown("campaign", k));
        }
    }
    let fi = f
        .get("funding_instrument")
        .map(|v| want_str("funding_instrument", v))
        .transpose()?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            MappingError::new("funding_instrument", "an X campaign needs its funding instrument's id")
                .with_hint("see `GET /12/accounts/{a}/funding_instruments` or Ads Manager → Billing")
        })?;
    p.insert("funding_instrument_id".into(), Json::String(fi.trim().to_string()));
    p.insert("name".into(), Json::String(name.to_string()));
    if let Some(s) = f.get("status") {
        p.insert("entity_status".into(), status_param(s, true)?);
    }
    budget_params(&mut p, f, true)?;
    Ok(p)
}

/// `PUT …/campaigns/{id}` parameters of an update's `set` (without the name, which the caller adds).
pub fn campaign_update(set: &Fields) -> Result<Params, MappingError> {
    let mut p = Params::new();
    for (k, v) in set {
        match k.as_str() {
            "status" => {
                p.insert("entity_status".into(), status_param(v, false)?);
            }
            "budget.daily" | "budget.lifetime" | "name" => {}
            "funding_instrument" => {
                return Err(
                    MappingError::new(k, "an X campaign's funding instrument is fixed at create")
                        .with_hint("the plan replaces the campaign"),
                )
            }
            other => return Err(unknown("campaign", other)),
        }
    }
    budget_params(&mut p, set, false)?;
    Ok(p)
}

fn enum_param(p: &mut Params, f: &Fields, field: &str, wire: &str, create: bool) -> Result<(), MappingError> {
    match f.get(field) {
        None => {}
        Some(Value::Null) if create => {}
        Some(Value::Null) => {
            p.insert(wire.into(), Json::String(String::new()));
        }
        Some(v) => {
            p.insert(wire.into(), Json::String(upper(field, v)?));
        }
    }
    Ok(())
}

fn time_param(p: &mut Params, f: &Fields, field: &str, create: bool) -> Result<(), MappingError> {
    match f.get(field) {
        None => {}
        Some(Value::Null) if create => {}
        Some(Value::Null) => {
            p.insert(field.into(), Json::String(String::new()));
        }
        Some(v) => {
            p.insert(field.into(), Json::String(utc_time(field, want_str(field, v)?)?));
        }
    }
    Ok(())
}

fn line_item_common(p: &mut Params, f: &Fields, create: bool) -> Result<(), MappingError> {
    enum_param(p, f, "bid_strategy", "bid_strategy", create)?;
    enum_param(p, f, "goal", "goal", create)?;
    enum_param(p, f, "pay_by", "pay_by", create)?;
    if let Some(v) = f.get("bid") {
        if let Some(j) = money_param("bid", v, create)? {
            p.insert("bid_amount_local_micro".into(), j);
        }
    }
    budget_params(p, f, create)?;
    time_param(p, f, "start_time", create)?;
    time_param(p, f, "end_time", create)?;
    if let (Some(Json::String(s)), Some(Json::String(e))) = (p.get("start_time"), p.get("end_time")) {
        if !s.is_empty() && !e.is_empty() && e <= s {
            return Err(MappingError::new("end_time", "must be after start_time"));
        }
    }
    Ok(())
}

const LINE_ITEM_FIELDS: [&str; 12] = [
    "status",
    "objective",
    "product_type",
    "placements",
    "bid_strategy",
    "bid",
    "goal",
    "pay_by",
    "budget.daily",
    "budget.lifetime",
    "start_time",
    "end_time",
];

/// `POST …/line_items` parameters. X requires `start_time` and `end_time`: without a start, `now` is sent;
/// without an end, `end_time` is sent empty (no end).
pub fn line_item_create(campaign_id: &str, name: &str, f: &Fields, now: &str) -> Result<Params, MappingError> {
    for k in f.keys() {
        if !LINE_ITEM_FIELDS.contains(&k.as_str()) {
            return Err(unknown("line item (ad_group)", k));
        }
    }
    let mut p = Params::new();
    p.insert("campaign_id".into(), Json::String(campaign_id.to_string()));
    p.insert("name".into(), Json::String(name.to_string()));
    for field in ["objective", "product_type"] {
        let v = f
            .get(field)
            .ok_or_else(|| MappingError::new(field, "X requires it on a line item"))?;
        p.insert(field.into(), Json::String(upper(field, v)?));
    }
    let placements: Vec<String> = match f.get("placements") {
        Some(Value::Set(s)) => s.iter().map(|v| upper("placements", v)).collect::<Result<_, _>>()?,
        Some(Value::List(s)) => s.iter().map(|v| upper("placements", v)).collect::<Result<_, _>>()?,
        Some(v @ Value::Str(_)) => vec![upper("placements", v)?],
        _ => Vec::new(),
    };
    if placements.is_empty() {
        return Err(MappingError::new("placements", "X requires at least one placement")
            .with_hint("e.g. placements: [all_on_twitter]"));
    }
    p.insert("placements".into(), Json::String(placements.join(",")));
    if let Some(s) = f.get("status") {
        p.insert("entity_status".into(), status_param(s, true)?);
    }
    line_item_common(&mut p, f, true)?;
    let strategy = p.get("bid_strategy").and_then(Json::as_str).unwrap_or("");
    if matches!(strategy, "MAX" | "TARGET") && !p.contains_key("bid_amount_local_micro") {
        return Err(MappingError::new(
            "bid",
            format!("X requires a bid with bid_strategy {}", strategy.to_ascii_lowercase()),
        ));
    }
    if !p.contains_key("start_time") {
        p.insert("start_time".into(), Json::String(now.to_string()));
    }
    // v12 requires end_time on a create (nullable on read): sent empty, it is "no end", as on PUT
    p.entry("end_time".to_string())
        .or_insert_with(|| Json::String(String::new()));
    Ok(p)
}

/// `PUT …/line_items/{id}` parameters (without the name).
pub fn line_item_update(set: &Fields) -> Result<Params, MappingError> {
    let mut p = Params::new();
    for (k, v) in set {
        match k.as_str() {
            "status" => {
                p.insert("entity_status".into(), status_param(v, false)?);
            }
            f if LINE_ITEM_FIXED.contains(&f) => {
                return Err(MappingError::new(f, "fixed at create on X (not a PUT parameter)")
                    .with_hint("the plan replaces the line item"))
            }
            "name" => {}
            f if LINE_ITEM_FIELDS.contains(&f) => {}
            other => return Err(unknown("line item (ad_group)", other)),
        }
    }
    line_item_common(&mut p, set, false)?;
    Ok(p)
}

/// A criterion's `(TYPE, value, OP)` from its address, the audience id put in for custom audience types
/// (`audience_id`: the resolved `audience` Ref, when the fields carry one).
pub fn criterion_params(
    address: &Address,
    line_item_id: &str,
    audience_id: Option<&str>,
) -> Result<Params, MappingError> {
    let name = address.name().unwrap_or_default();
    let (t, v, op) = parse_criterion_name(name).ok_or_else(|| {
        MappingError::new(
            "name",
            format!("`{name}` is not `<type>:<value>` or `not <type>:<value>`"),
        )
        .with_hint("e.g. location:96683cc9126741d1, language:en, not broad_keyword:cheap shoes")
    })?;
    let value = match audience_id {
        Some(id) if AUDIENCE_TYPES.contains(&t.as_str()) => id.to_string(),
        _ => v,
    };
    let mut p = Params::new();
    p.insert("line_item_id".into(), Json::String(line_item_id.to_string()));
    p.insert("targeting_type".into(), Json::String(t));
    p.insert("targeting_value".into(), Json::String(value));
    p.insert("operator_type".into(), Json::String(op));
    Ok(p)
}

/// An audience's members: SHA-256 hex, lower case.
pub fn members_of(v: Option<&Value>) -> Result<Vec<String>, MappingError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let items: Vec<&Value> = match v {
        Value::Set(s) => s.iter().collect(),
        Value::List(l) => l.iter().collect(),
        Value::Null => Vec::new(),
        _ => return Err(MappingError::new("members", "must be a set of SHA-256 hashes")),
    };
    items
        .into_iter()
        .map(|m| {
            let s = m
                .as_str()
                .ok_or_else(|| MappingError::new("members", "must be SHA-256 hex"))?
                .trim()
                .to_ascii_lowercase();
            if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(s)
            } else {
                Err(MappingError::new(
                    "members",
                    "each member must be 64 hex digits of SHA-256",
                ))
            }
        })
        .collect()
}

/// The bodies of `POST …/custom_audiences/{id}/users` for these hashes: operation objects of at most
/// `per_op` users each, requests of at most `max_ops` operations and `max_bytes` bytes. Each body is returned
/// with the number of user objects it carries.
pub fn user_bodies(
    operation: &str,
    hashes: &[String],
    per_op: usize,
    max_ops: usize,
    max_bytes: usize,
) -> Vec<(Json, usize)> {
    let mut out = Vec::new();
    let mut ops: Vec<Json> = Vec::new();
    let mut users = 0usize;
    let mut bytes = 2usize;
    for chunk in hashes.chunks(per_op.max(1)) {
        let op = serde_json::json!({
            "operation_type": operation,
            "params": {"users": chunk.iter().map(|h| serde_json::json!({"email": [h]})).collect::<Vec<_>>()},
        });
        let size = op.to_string().len() + 1;
        if !ops.is_empty() && (ops.len() >= max_ops || bytes + size > max_bytes) {
            out.push((Json::Array(std::mem::take(&mut ops)), users));
            users = 0;
            bytes = 2;
        }
        bytes += size;
        users += chunk.len();
        ops.push(op);
    }
    if !ops.is_empty() {
        out.push((Json::Array(ops), users));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: &[(&str, Value)]) -> Fields {
        v.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn money_is_exact_micros_both_ways() {
        let big: Json = serde_json::from_str("9007199254740993").unwrap();
        assert_eq!(
            money_from_wire("x", Some(&big)).unwrap(),
            Some(Money::from_micros(9_007_199_254_740_993))
        );
        assert_eq!(
            money_from_wire("x", Some(&Json::from(5_500_000))).unwrap(),
            Some(Money::from_micros(5_500_000))
        );
        assert_eq!(money_from_wire("x", Some(&Json::Null)).unwrap(), None);
        assert_eq!(
            money_from_wire("x", Some(&Json::String("123".into()))).unwrap(),
            Some(Money::from_micros(123))
        );
        let f: Json = serde_json::from_str("1.5").unwrap();
        assert!(money_from_wire("x", Some(&f)).is_err(), "never through a float");
        let w = money_to_wire("x", &Value::Money(Money::from_micros(9_007_199_254_740_993))).unwrap();
        assert_eq!(w.to_string(), "9007199254740993");
        assert!(money_to_wire("x", &Value::Money(Money::from_micros(0))).is_err());
    }

    #[test]
    fn criterion_names_round_trip() {
        assert_eq!(
            criterion_name("LOCATION", "96683cc9126741d1", "EQ"),
            "location:96683cc9126741d1"
        );
        assert_eq!(
            criterion_name("BROAD_KEYWORD", "cheap shoes", "NE"),
            "not broad_keyword:cheap shoes"
        );
        assert_eq!(criterion_name("LANGUAGE", "en", "EQ"), "language:en");
        assert_eq!(
            criterion_name("NETWORK_ACTIVATION_DURATION", "3", "GTE"),
            "gte network_activation_duration:3"
        );
        assert_eq!(
            criterion_name("NETWORK_ACTIVATION_DURATION", "9", "LT"),
            "lt network_activation_duration:9"
        );
        for (t, v, op) in [
            ("LOCATION", "96683cc9126741d1", "EQ"),
            ("BROAD_KEYWORD", "cheap shoes", "NE"),
            ("PHRASE_KEYWORD", "a:b c", "EQ"),
            ("NETWORK_ACTIVATION_DURATION", "3", "GTE"),
            ("NETWORK_ACTIVATION_DURATION", "9", "LT"),
        ] {
            let n = criterion_name(t, v, op);
            assert_eq!(
                parse_criterion_name(&n),
                Some((t.to_string(), v.to_string(), op.to_string())),
                "{n}"
            );
        }
        assert_eq!(parse_criterion_name("nonsense"), None);
        assert_eq!(parse_criterion_name("location:"), None);
    }

    #[test]
    fn markers_round_trip() {
        assert_eq!(split_name(&marked_name("Spring")), ("Spring".to_string(), true));
        assert_eq!(split_name("Spring"), ("Spring".to_string(), false));
        let d = marked_description(Some("VIPs"), Some("0123456789abcdef"));
        assert_eq!(d, "VIPs [adsctl-managed:0123456789abcdef]");
        assert_eq!(
            split_description(&d),
            (Some("VIPs".into()), Some(Some("0123456789abcdef".into())))
        );
        assert_eq!(split_description("[adsctl-managed]"), (None, Some(None)));
        assert_eq!(split_description("theirs"), (Some("theirs".into()), None));
    }

    #[test]
    fn campaigns_read_and_write_the_wire_names() {
        let row: CampaignRow = serde_json::from_value(serde_json::json!({
            "id": "8wku2", "name": "Spring [adsctl-managed]", "entity_status": "PAUSED",
            "funding_instrument_id": "lygyi", "daily_budget_amount_local_micro": 5_500_000,
            "total_budget_amount_local_micro": null, "servable": true
        }))
        .unwrap();
        let r = campaign_resource(&row, "acct").unwrap().unwrap();
        assert_eq!(r.address.to_string(), "acct/campaign/Spring");
        assert!(r.owned);
        assert_eq!(r.fields.get("status"), Some(&Value::str("paused")));
        assert_eq!(
            r.fields.get("budget.daily"),
            Some(&Value::Money(Money::from_micros(5_500_000)))
        );
        assert_eq!(r.fields.get("budget.lifetime"), None);
        let f = fields(&[
            ("status", Value::str("draft")),
            ("funding_instrument", Value::str("lygyi")),
            ("budget.daily", Value::Money(Money::from_micros(5_500_000))),
        ]);
        let p = campaign_create("Spring [adsctl-managed]", &f).unwrap();
        assert_eq!(p["entity_status"], "DRAFT");
        assert_eq!(p["daily_budget_amount_local_micro"], 5_500_000);
        assert_eq!(params_query(&p).get("daily_budget_amount_local_micro"), Some("5500000"));
        assert!(campaign_update(&fields(&[("status", Value::str("draft"))])).is_err());
        assert!(campaign_update(&fields(&[("funding_instrument", Value::str("x"))])).is_err());
        let u = campaign_update(&fields(&[("budget.lifetime", Value::Null)])).unwrap();
        assert_eq!(u["total_budget_amount_local_micro"], "");
    }

    #[test]
    fn line_items_fill_start_time_and_refuse_fixed_fields_on_update() {
        let f = fields(&[
            ("objective", Value::str("website_clicks")),
            ("product_type", Value::str("promoted_tweets")),
            (
                "placements",
                Value::Set([Value::str("all_on_twitter"), Value::str("twitter_search")].into()),
            ),
            ("bid_strategy", Value::str("max")),
            ("bid", Value::Money(Money::from_micros(1_250_000))),
            ("end_time", Value::str("2026-02-01T01:00:00+01:00")),
        ]);
        let p = line_item_create("8wku2", "G [adsctl-managed]", &f, "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(p["placements"], "ALL_ON_TWITTER,TWITTER_SEARCH");
        assert_eq!(p["objective"], "WEBSITE_CLICKS");
        assert_eq!(p["bid_amount_local_micro"], 1_250_000);
        assert_eq!(p["start_time"], "2026-01-01T00:00:00Z");
        assert_eq!(p["end_time"], "2026-02-01T00:00:00Z");
        assert!(line_item_update(&fields(&[("objective", Value::str("reach"))])).is_err());
        let mut no_bid = f.clone();
        no_bid.remove("bid");
        assert_eq!(
            line_item_create("8wku2", "G", &no_bid, "2026-01-01T00:00:00Z")
                .unwrap_err()
                .field,
            "bid"
        );
        let u = line_item_update(&fields(&[("end_time", Value::Null), ("status", Value::str("paused"))])).unwrap();
        assert_eq!(u["end_time"], "");
        assert_eq!(u["entity_status"], "PAUSED");
        let row: LineItemRow = serde_json::from_value(serde_json::json!({
            "id": "itttx", "campaign_id": "8wku2", "name": "G [adsctl-managed]", "entity_status": "ACTIVE",
            "objective": "WEBSITE_CLICKS", "product_type": "PROMOTED_TWEETS",
            "placements": ["ALL_ON_TWITTER", "TWITTER_SEARCH"], "bid_strategy": "MAX",
            "bid_amount_local_micro": 1250000, "start_time": "2026-01-01T00:00:00Z", "end_time": null
        }))
        .unwrap();
        let r = line_item_resource(&row, &Address::account("a").child(Kind::Campaign, "C"))
            .unwrap()
            .unwrap();
        assert_eq!(r.address.to_string(), "a/campaign/C/ad_group/G");
        assert_eq!(r.fields.get("placements"), f.get("placements"));
        assert_eq!(r.fields.get("bid"), f.get("bid"));
        assert_eq!(r.fields.get("objective"), Some(&Value::str("website_clicks")));
    }

    #[test]
    fn custom_audience_criteria_are_named_by_the_audience() {
        let li = Address::account("a")
            .child(Kind::Campaign, "C")
            .child(Kind::AdGroup, "G");
        let aud: HashMap<String, String> = [("1nmth".to_string(), "VIPs".to_string())].into();
        let row = CriterionRow {
            id: Some("dpl3a6".into()),
            targeting_type: Some("CUSTOM_AUDIENCE".into()),
            targeting_value: Some("1nmth".into()),
            operator_type: Some("NE".into()),
            ..Default::default()
        };
        let r = criterion_resource(&row, &li, "a", &aud).unwrap();
        assert_eq!(r.address.name(), Some("not custom_audience:VIPs"));
        assert_eq!(
            r.fields.get("audience"),
            Some(&Value::reference(Address::account("a").child(Kind::Audience, "VIPs")))
        );
        let unknown = CriterionRow {
            targeting_value: Some("zzz".into()),
            operator_type: Some("EQ".into()),
            ..row
        };
        let r = criterion_resource(&unknown, &li, "a", &aud).unwrap();
        assert_eq!(r.address.name(), Some("custom_audience:zzz"));
        assert!(r.fields.is_empty());
        let p = criterion_params(
            &li.child(Kind::TargetingCriterion, "not custom_audience:VIPs"),
            "itttx",
            Some("1nmth"),
        )
        .unwrap();
        assert_eq!(p["targeting_value"], "1nmth");
        assert_eq!(p["operator_type"], "NE");
        let p = criterion_params(&li.child(Kind::TargetingCriterion, "language:en"), "itttx", None).unwrap();
        assert_eq!(
            (p["targeting_type"].as_str(), p["targeting_value"].as_str()),
            (Some("LANGUAGE"), Some("en"))
        );
    }

    #[test]
    fn user_uploads_split_by_operations_and_bytes() {
        let hashes: Vec<String> = (0..25).map(|i| format!("{i:064x}")).collect();
        let b = user_bodies("Update", &hashes, 10, 2, 5_000_000);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].1, 20);
        assert_eq!(b[1].1, 5);
        assert_eq!(b[0].0[0]["operation_type"], "Update");
        assert_eq!(b[0].0[0]["params"]["users"][0]["email"][0], hashes[0]);
        let small = user_bodies("Delete", &hashes, 1, 2500, 400);
        assert!(small.iter().all(|(j, _)| j.to_string().len() <= 400));
        assert_eq!(small.iter().map(|(_, n)| n).sum::<usize>(), 25);
    }
}
