//! Wire ↔ `Resource` (the LinkedIn table of `docs/resource-model.md`): money as `{amount: "decimal string",
//! currencyCode}` ↔ exact micros, epoch milliseconds ↔ RFC 3339 UTC, enums upper ↔ lower, `targetingCriteria` ↔
//! `targeting.*`, the ownership marker at the end of names (and of a DMP segment's description), and the bodies
//! of creates and partial updates (`{"patch":{"$set":{…},"$delete":[…]}}`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Map as JsonMap, Value as Json};

use super::client::id_text;
use crate::connectors::OpError;
use crate::model::{fingerprint_key, Address, Currency, Key, Kind, Money, Resource, SmallMap, Value};

const MICROS_PER_UNIT: i64 = 1_000_000;
/// Facet URNs are `urn:li:adTargetingFacet:<camelCase>`.
pub const FACET_PREFIX: &str = "urn:li:adTargetingFacet:";
/// The facet of matched audiences (DMP segments, as `urn:li:adSegment:` URNs).
pub const AUDIENCE_FACET: &str = "audienceMatchingSegments";

/// A value adsctl cannot turn into (or read from) LinkedIn's form.
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

/// A decimal string in major units (`"50"`, `"12.345"`) → micros, exactly (never through an `f64`).
pub fn micros_of(field: &str, text: &str) -> Result<Money, MappingError> {
    let t = text.trim();
    let bad = || MappingError::new(field, format!("`{t}` is not an amount of money"));
    let d = Decimal::from_str(t).map_err(|_| bad())?;
    let micros = d.checked_mul(Decimal::from(MICROS_PER_UNIT)).ok_or_else(bad)?;
    if !micros.fract().is_zero() {
        return Err(MappingError::new(field, format!("`{t}` is finer than a millionth")));
    }
    micros.to_i64().map(Money::from_micros).ok_or_else(bad)
}

/// `{"amount": "50.00", "currencyCode": "USD"}` → micros (`None` for null / absent).
pub fn money_from_wire(field: &str, v: Option<&Json>) -> Result<Option<Money>, MappingError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let amount = match v.get("amount") {
        Some(Json::String(s)) => s.clone(),
        // a number is read from its text, never as a float
        Some(Json::Number(n)) => n.to_string(),
        _ => return Err(MappingError::new(field, "a money object without `amount`")),
    };
    micros_of(field, &amount).map(Some)
}

/// Micros → `{"amount": "50.00", "currencyCode": "USD"}` (the currency's minor digits, exact).
pub fn money_to_wire(field: &str, v: &Value, currency: Currency) -> Result<Json, MappingError> {
    let m = v
        .as_money()
        .ok_or_else(|| MappingError::new(field, "must be an amount of money"))?;
    if m.micros() < 0 {
        return Err(MappingError::new(field, "must not be negative"));
    }
    Ok(json!({ "amount": m.to_decimal_string(currency), "currencyCode": currency.code() }))
}

// ---------------------------------------------------------------------------------------------------- time

/// Epoch milliseconds → RFC 3339 in UTC (`2026-01-01T00:00:00Z`; milliseconds only when there are any).
pub fn time_from_ms(ms: i64) -> Option<String> {
    let t: DateTime<Utc> = Utc.timestamp_millis_opt(ms).single()?;
    Some(if ms % 1000 == 0 {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    } else {
        t.to_rfc3339_opts(SecondsFormat::Millis, true)
    })
}

/// RFC 3339 (any offset) → epoch milliseconds.
pub fn ms_from_time(field: &str, v: &Value) -> Result<i64, MappingError> {
    let s = want_str(field, v)?;
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            MappingError::new(field, format!("`{s}` is not an RFC 3339 time")).with_hint("write 2026-01-01T00:00:00Z")
        })
}

// ---------------------------------------------------------------------------------------------------- values

pub fn lower(s: &str) -> Value {
    Value::Str(s.to_ascii_lowercase())
}

fn want_str<'a>(field: &str, v: &'a Value) -> Result<&'a str, MappingError> {
    v.as_str().ok_or_else(|| MappingError::new(field, "must be text"))
}

/// An enum value as LinkedIn spells it (`sponsored_updates` → `SPONSORED_UPDATES`).
pub fn upper(field: &str, v: &Value) -> Result<String, MappingError> {
    Ok(want_str(field, v)?.to_ascii_uppercase())
}

fn want_bool(field: &str, v: &Value) -> Result<bool, MappingError> {
    v.as_bool()
        .ok_or_else(|| MappingError::new(field, "must be true or false"))
}

fn set_of(items: impl IntoIterator<Item = Value>) -> Value {
    Value::Set(items.into_iter().collect::<BTreeSet<_>>())
}

// ---------------------------------------------------------------------------------------------------- marker

pub use crate::platforms::shared::{marked_description, marked_name, split_description, split_name};

/// The marked name of an operation's address.
pub fn checked_name(address: &Address) -> Result<String, MappingError> {
    let name = address.name().unwrap_or_default();
    if name.trim().is_empty() {
        return Err(MappingError::new("name", "a LinkedIn object needs a name"));
    }
    Ok(marked_name(name))
}

// ---------------------------------------------------------------------------------------------------- URNs

pub fn account_urn(id: &str) -> String {
    format!("urn:li:sponsoredAccount:{id}")
}
pub fn group_urn(id: &str) -> String {
    format!("urn:li:sponsoredCampaignGroup:{id}")
}
pub fn campaign_urn(id: &str) -> String {
    format!("urn:li:sponsoredCampaign:{id}")
}
/// A creative's id is already its URN; a bare number is made one.
pub fn creative_urn(id: &str) -> String {
    if id.starts_with("urn:") {
        id.to_string()
    } else {
        format!("urn:li:sponsoredCreative:{id}")
    }
}

/// The last part of a URN (`urn:li:sponsoredCampaign:12` → `12`); the text itself when it is no URN.
pub fn urn_id(urn: &str) -> &str {
    if urn.starts_with("urn:") {
        urn.rsplit(':').next().unwrap_or(urn)
    } else {
        urn
    }
}

/// `interfaceLocales` → `interface_locales`.
pub fn facet_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `interface_locales` → `interfaceLocales`.
pub fn facet_camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut up = false;
    for c in snake.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------- rows

#[derive(Clone, Debug, Default, Deserialize)]
pub struct RunSchedule {
    #[serde(default)]
    pub start: Option<i64>,
    #[serde(default)]
    pub end: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Locale {
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
}

fn de_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Json>::deserialize(d)?;
    Ok(v.as_ref().and_then(id_text))
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRow {
    #[serde(default, deserialize_with = "de_id")]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub run_schedule: Option<RunSchedule>,
    #[serde(default)]
    pub total_budget: Option<Json>,
    /// The account's default group (LinkedIn's own: it refuses any change to it).
    #[serde(default)]
    pub backfilled: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignRow {
    #[serde(default, deserialize_with = "de_id")]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub campaign_group: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub objective_type: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub cost_type: Option<String>,
    #[serde(default)]
    pub unit_cost: Option<Json>,
    #[serde(default)]
    pub optimization_target_type: Option<String>,
    #[serde(default)]
    pub daily_budget: Option<Json>,
    #[serde(default)]
    pub total_budget: Option<Json>,
    #[serde(default)]
    pub run_schedule: Option<RunSchedule>,
    #[serde(default)]
    pub locale: Option<Locale>,
    #[serde(default)]
    pub offsite_delivery_enabled: Option<bool>,
    #[serde(default)]
    pub audience_expansion_enabled: Option<bool>,
    #[serde(default)]
    pub creative_selection: Option<String>,
    #[serde(default)]
    pub targeting_criteria: Option<Json>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreativeRow {
    #[serde(default, deserialize_with = "de_id")]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub intended_status: Option<String>,
    #[serde(default)]
    pub campaign: Option<String>,
    #[serde(default)]
    pub content: Option<Json>,
    #[serde(default)]
    pub leadgen_call_to_action: Option<Json>,
    #[serde(default)]
    pub review: Option<Json>,
    #[serde(default)]
    pub is_serving: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    #[serde(default)]
    pub destination: Option<String>,
    #[serde(default)]
    pub destination_segment_id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentRow {
    #[serde(default, deserialize_with = "de_id")]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub destinations: Vec<Destination>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub matched_count: Option<i64>,
}

impl SegmentRow {
    /// The targetable `urn:li:adSegment:` of the segment: its LinkedIn destination's `destinationSegmentId` when
    /// present, else derived from the segment's id.
    pub fn ad_segment_urn(&self) -> Option<String> {
        let from_dest = self
            .destinations
            .iter()
            .filter_map(|d| d.destination_segment_id.clone())
            .find(|s| !s.is_empty())
            .map(|s| {
                if s.starts_with("urn:") {
                    s
                } else {
                    format!("urn:li:adSegment:{s}")
                }
            });
        from_dest.or_else(|| self.id.as_ref().map(|id| format!("urn:li:adSegment:{}", urn_id(id))))
    }
    /// A user list (type `USER` / `USER_LIST_UPLOAD`, or unstated), the only segments the contract has.
    pub fn is_user_list(&self) -> bool {
        self.kind
            .as_deref()
            .is_none_or(|k| k == "USER" || k == "USER_LIST_UPLOAD")
    }
    /// A company list (type COMPANY or COMPANY_LIST_UPLOAD): read as an audience with `list_type: company`.
    pub fn is_company_list(&self) -> bool {
        matches!(self.kind.as_deref(), Some("COMPANY" | "COMPANY_LIST_UPLOAD"))
    }
}

/// What reading needs besides the row: the account, its currency, and the known segments (adSegment URN →
/// the audience's address).
pub struct ReadContext<'a> {
    pub account: &'a str,
    pub currency: Currency,
    pub segments: &'a HashMap<String, Address>,
}

fn put_str(r: &mut Resource, field: &str, v: Option<String>) {
    if let Some(s) = v {
        r.fields.insert(field, Value::Str(s));
    }
}

fn put_enum(r: &mut Resource, field: &str, v: &Option<String>) {
    if let Some(s) = v {
        r.fields.insert(field, lower(s));
    }
}

fn put_money(r: &mut Resource, field: &str, v: &Option<Json>) -> Result<(), MappingError> {
    if let Some(m) = money_from_wire(field, v.as_ref())? {
        r.fields.insert(field, Value::Money(m));
    }
    Ok(())
}

fn put_schedule(r: &mut Resource, s: &Option<RunSchedule>) {
    if let Some(s) = s {
        if let Some(t) = s.start.and_then(time_from_ms) {
            r.fields.insert("run_schedule.start", Value::Str(t));
        }
        if let Some(t) = s.end.and_then(time_from_ms) {
            r.fields.insert("run_schedule.end", Value::Str(t));
        }
    }
}

fn identity(parent: &Address, kind: Kind, live_name: &str) -> Resource {
    let (name, owned) = split_name(live_name);
    let mut r = Resource::new(parent.child(kind, name), kind);
    r.owned = owned;
    r
}

pub fn group_resource(g: &GroupRow, ctx: &ReadContext) -> Result<Resource, MappingError> {
    let root = Address::account(ctx.account);
    let mut r = identity(&root, Kind::CampaignGroup, g.name.as_deref().unwrap_or_default());
    r.id = g.id.clone();
    put_enum(&mut r, "status", &g.status);
    put_schedule(&mut r, &g.run_schedule);
    put_money(&mut r, "budget.lifetime", &g.total_budget)?;
    Ok(r)
}

pub fn campaign_resource(c: &CampaignRow, group: &Address, ctx: &ReadContext) -> Result<Resource, MappingError> {
    let mut r = identity(group, Kind::Campaign, c.name.as_deref().unwrap_or_default());
    r.id = c.id.clone();
    put_enum(&mut r, "status", &c.status);
    put_enum(&mut r, "type", &c.kind);
    put_enum(&mut r, "objective_type", &c.objective_type);
    put_enum(&mut r, "format", &c.format);
    put_enum(&mut r, "cost_type", &c.cost_type);
    put_money(&mut r, "unit_cost", &c.unit_cost)?;
    put_enum(&mut r, "optimization_target_type", &c.optimization_target_type);
    put_money(&mut r, "budget.daily", &c.daily_budget)?;
    put_money(&mut r, "budget.lifetime", &c.total_budget)?;
    put_schedule(&mut r, &c.run_schedule);
    if let Some(l) = &c.locale {
        put_str(
            &mut r,
            "locale.country",
            l.country.as_ref().map(|s| s.to_ascii_uppercase()),
        );
        put_str(
            &mut r,
            "locale.language",
            l.language.as_ref().map(|s| s.to_ascii_lowercase()),
        );
    }
    if let Some(b) = c.offsite_delivery_enabled {
        r.fields.insert("offsite_delivery_enabled", Value::Bool(b));
    }
    if let Some(b) = c.audience_expansion_enabled {
        r.fields.insert("audience_expansion_enabled", Value::Bool(b));
    }
    put_enum(&mut r, "creative_selection", &c.creative_selection);
    if let Some(tc) = &c.targeting_criteria {
        for (k, v) in targeting_fields(tc, ctx) {
            r.fields.insert(k, v);
        }
    }
    Ok(r)
}

pub fn creative_resource(c: &CreativeRow, campaign: &Address) -> Resource {
    let mut r = identity(campaign, Kind::Creative, c.name.as_deref().unwrap_or_default());
    r.id = c.id.clone();
    put_enum(&mut r, "status", &c.intended_status);
    if let Some(reference) = c
        .content
        .as_ref()
        .and_then(|x| x.get("reference"))
        .and_then(|x| x.as_str())
    {
        r.fields.insert("content.reference", Value::str(reference));
    }
    if let Some(cta) = &c.leadgen_call_to_action {
        if let Some(d) = cta.get("destination").and_then(|x| x.as_str()) {
            r.fields.insert("leadgen_call_to_action.destination", Value::str(d));
        }
        if let Some(l) = cta.get("label").and_then(|x| x.as_str()) {
            r.fields.insert("leadgen_call_to_action.label", lower(l));
        }
    }
    if let Some(s) = c.review.as_ref().and_then(|x| x.get("status")).and_then(|x| x.as_str()) {
        r.observed.insert("review_status", s.to_ascii_lowercase());
    }
    if let Some(b) = c.is_serving {
        r.observed.insert("is_serving", b.to_string());
    }
    r
}

/// A DMP segment as an audience (`None` for company lists and unnamed rows).
pub fn segment_resource(s: &SegmentRow, ctx: &ReadContext) -> Option<Resource> {
    if !s.is_user_list() && !s.is_company_list() {
        return None;
    }
    let name = s.name.as_deref().filter(|n| !n.is_empty())?;
    let root = Address::account(ctx.account);
    let mut r = Resource::new(root.child(Kind::Audience, name), Kind::Audience);
    r.id = s.id.clone();
    let (user, marker) = match s.description.as_deref() {
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
    if s.is_company_list() {
        r.fields.insert("list_type", Value::str("company"));
    }
    if let Some(st) = &s.status {
        r.observed.insert("segment_status", st.to_ascii_lowercase());
    }
    if let Some(n) = s.matched_count {
        r.observed.insert("matched_count", n.to_string());
    }
    Some(r)
}

// ---------------------------------------------------------------------------------------------------- targeting

fn strings(v: &Json) -> Vec<String> {
    match v {
        Json::Array(a) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
        Json::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// `{facetURN: [values]}` → (facet camelCase, values), in the object's order.
fn facets(or: &Json) -> Vec<(String, Vec<String>)> {
    or.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.strip_prefix(FACET_PREFIX).unwrap_or(k).to_string(), strings(v)))
                .collect()
        })
        .unwrap_or_default()
}

fn facet_map(items: &[(String, Vec<String>)]) -> Value {
    let mut m = SmallMap::new();
    for (facet, values) in items {
        m.insert(
            Key::new(&facet_snake(facet)),
            set_of(values.iter().cloned().map(Value::Str)),
        );
    }
    Value::Map(m)
}

/// `targetingCriteria` → `targeting.include` (the `and` of `or` clauses, in order), `targeting.exclude`,
/// `targeting.audiences` (an `and` clause only of known segments) and `targeting.excluded_audiences`. Segments
/// adsctl does not know stay where they are, under `audience_matching_segments`.
pub fn targeting_fields(tc: &Json, ctx: &ReadContext) -> Vec<(&'static str, Value)> {
    let known = |urn: &String| ctx.segments.get(urn).cloned();
    let mut include = Vec::new();
    let mut audiences = BTreeSet::new();
    let clauses = tc
        .get("include")
        .and_then(|i| i.get("and"))
        .and_then(|a| a.as_array())
        .cloned()
        .unwrap_or_default();
    for clause in &clauses {
        let items = facets(clause.get("or").unwrap_or(&Json::Null));
        let only_known_audiences = !items.is_empty()
            && items
                .iter()
                .all(|(f, vs)| f == AUDIENCE_FACET && vs.iter().all(|v| known(v).is_some()));
        if only_known_audiences {
            for (_, vs) in &items {
                audiences.extend(vs.iter().filter_map(known).map(Value::reference));
            }
        } else {
            include.push(facet_map(&items));
        }
    }
    let mut exclude_items = facets(tc.get("exclude").and_then(|e| e.get("or")).unwrap_or(&Json::Null));
    let mut excluded = BTreeSet::new();
    for (f, vs) in exclude_items.iter_mut() {
        if f == AUDIENCE_FACET {
            excluded.extend(vs.iter().filter_map(known).map(Value::reference));
            vs.retain(|v| known(v).is_none());
        }
    }
    exclude_items.retain(|(_, vs)| !vs.is_empty());
    vec![
        ("targeting.include", Value::List(include)),
        ("targeting.exclude", facet_map(&exclude_items)),
        ("targeting.audiences", Value::Set(audiences)),
        ("targeting.excluded_audiences", Value::Set(excluded)),
    ]
}

/// Resolves an audience's address to its `urn:li:adSegment:` URN.
pub type Resolve<'a> = &'a dyn Fn(&Address) -> Option<String>;

fn segment_urns(field: &str, v: &Value, resolve: Resolve) -> Result<Vec<String>, MappingError> {
    let items: Vec<&Value> = match v {
        Value::Set(s) => s.iter().collect(),
        Value::List(l) => l.iter().collect(),
        Value::Null => Vec::new(),
        _ => return Err(MappingError::new(field, "must be a set of audiences")),
    };
    items
        .into_iter()
        .map(|x| match x {
            Value::Ref(a) => resolve(a).ok_or_else(|| {
                MappingError::new(field, format!("the audience {a} has no LinkedIn id yet"))
                    .with_hint("create the audience first (it is in the same plan: run apply again)")
            }),
            _ => Err(MappingError::new(field, "must name audiences")),
        })
        .collect()
}

fn or_object(field: &str, v: &Value) -> Result<JsonMap<String, Json>, MappingError> {
    let Value::Map(m) = v else {
        return Err(MappingError::new(field, "must map facets to sets of URNs"));
    };
    let mut out = JsonMap::new();
    for (facet, values) in m.iter() {
        let list: Vec<Json> = match values {
            Value::Set(s) => s
                .iter()
                .filter_map(|x| x.as_str())
                .map(|x| Json::String(x.to_string()))
                .collect(),
            Value::List(l) => l
                .iter()
                .filter_map(|x| x.as_str())
                .map(|x| Json::String(x.to_string()))
                .collect(),
            Value::Str(s) => vec![Json::String(s.clone())],
            _ => {
                return Err(MappingError::new(
                    field,
                    format!("`{}` must be a set of URNs", facet.as_str()),
                ))
            }
        };
        out.insert(
            format!("{FACET_PREFIX}{}", facet_camel(facet.as_str())),
            Json::Array(list),
        );
    }
    Ok(out)
}

fn is_audience_clause(clause: &Json) -> bool {
    let items = facets(clause.get("or").unwrap_or(&Json::Null));
    !items.is_empty() && items.iter().all(|(f, _)| f == AUDIENCE_FACET)
}

/// `targetingCriteria` with the parts `fields` names replaced, the rest of `base` (the live criteria, on an
/// update) kept: `targeting.include` replaces the clauses that are not only audiences; `targeting.audiences` the
/// audience clause (sent last); `targeting.exclude` the exclude facets other than audiences;
/// `targeting.excluded_audiences` the exclude's audience facet.
pub fn targeting_criteria(
    base: Option<&Json>,
    fields: &BTreeMap<String, Value>,
    resolve: Resolve,
) -> Result<Json, MappingError> {
    let base = base.cloned().unwrap_or_else(|| json!({}));
    let old_clauses: Vec<Json> = base
        .get("include")
        .and_then(|i| i.get("and"))
        .and_then(|a| a.as_array())
        .cloned()
        .unwrap_or_default();
    let (old_audience, old_plain): (Vec<Json>, Vec<Json>) = old_clauses.into_iter().partition(is_audience_clause);
    let plain = match fields.get("targeting.include") {
        Some(Value::List(items)) => items
            .iter()
            .map(|m| or_object("targeting.include", m).map(|o| json!({ "or": o })))
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::Null) => Vec::new(),
        Some(_) => return Err(MappingError::new("targeting.include", "must be a list of facet maps")),
        None => old_plain,
    };
    let audience = match fields.get("targeting.audiences") {
        Some(v) => {
            let urns = segment_urns("targeting.audiences", v, resolve)?;
            if urns.is_empty() {
                Vec::new()
            } else {
                vec![json!({ "or": { format!("{FACET_PREFIX}{AUDIENCE_FACET}"): urns } })]
            }
        }
        None => old_audience,
    };
    let mut and: Vec<Json> = plain;
    and.extend(audience);
    let audience_key = format!("{FACET_PREFIX}{AUDIENCE_FACET}");
    let old_exclude = base
        .get("exclude")
        .and_then(|e| e.get("or"))
        .and_then(|o| o.as_object())
        .cloned()
        .unwrap_or_default();
    let mut exclude = match fields.get("targeting.exclude") {
        Some(Value::Null) => JsonMap::new(),
        Some(v) => or_object("targeting.exclude", v)?,
        None => old_exclude
            .iter()
            .filter(|(k, _)| **k != audience_key)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    let excluded = match fields.get("targeting.excluded_audiences") {
        Some(v) => segment_urns("targeting.excluded_audiences", v, resolve)?,
        None => old_exclude.get(&audience_key).map(strings).unwrap_or_default(),
    };
    // segments adsctl does not know (written under `audience_matching_segments`) and the known ones, together
    let mut urns: Vec<String> = exclude.get(&audience_key).map(strings).unwrap_or_default();
    for u in excluded {
        if !urns.contains(&u) {
            urns.push(u);
        }
    }
    if urns.is_empty() {
        exclude.remove(&audience_key);
    } else {
        exclude.insert(audience_key, json!(urns));
    }
    let mut out = JsonMap::new();
    out.insert("include".into(), json!({ "and": and }));
    if !exclude.is_empty() {
        out.insert("exclude".into(), json!({ "or": exclude }));
    }
    Ok(Json::Object(out))
}

// ---------------------------------------------------------------------------------------------------- writes

/// `$set` and `$delete` of a partial update.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Patch {
    pub set: JsonMap<String, Json>,
    pub delete: Vec<String>,
}

impl Patch {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.delete.is_empty()
    }
    /// `{"patch":{"$set":{…},"$delete":[…]}}`.
    pub fn body(&self) -> Json {
        let mut p = JsonMap::new();
        if !self.set.is_empty() {
            p.insert("$set".into(), Json::Object(self.set.clone()));
        }
        if !self.delete.is_empty() {
            p.insert("$delete".into(), json!(self.delete));
        }
        json!({ "patch": p })
    }
    fn put(&mut self, key: &str, v: Option<Json>) {
        match v {
            Some(v) => {
                self.set.insert(key.to_string(), v);
            }
            None => self.delete.push(key.to_string()),
        }
    }
}

fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !matches!(v, Value::Null))
}

/// The fields of a create, or of an update merged over the live ones (LinkedIn honours top-level `$set` fields
/// only, so a nested object — `runSchedule`, `locale`, `leadgenCallToAction` — goes whole).
pub struct Fields<'a> {
    /// What to write.
    pub fields: &'a BTreeMap<String, Value>,
    /// On an update: the live values (cached by the read) the nested objects are completed from.
    pub live: Option<&'a BTreeMap<String, Value>>,
}

impl Fields<'_> {
    fn get(&self, k: &str) -> Option<&Value> {
        match self.fields.get(k) {
            Some(v) => present(Some(v)),
            None => present(self.live.and_then(|l| l.get(k))),
        }
    }
    fn touches(&self, prefix: &str) -> bool {
        self.fields.keys().any(|k| k.starts_with(prefix))
    }
    fn is_update(&self) -> bool {
        self.live.is_some()
    }
}

fn schedule(f: &Fields) -> Result<Option<Json>, MappingError> {
    let start = f
        .get("run_schedule.start")
        .map(|v| ms_from_time("run_schedule.start", v))
        .transpose()?;
    let end = f
        .get("run_schedule.end")
        .map(|v| ms_from_time("run_schedule.end", v))
        .transpose()?;
    if let (Some(s), Some(e)) = (start, end) {
        if e <= s {
            return Err(MappingError::new(
                "run_schedule.end",
                "must be after run_schedule.start",
            ));
        }
    }
    let mut m = JsonMap::new();
    if let Some(s) = start {
        m.insert("start".into(), json!(s));
    }
    if let Some(e) = end {
        m.insert("end".into(), json!(e));
    }
    Ok((!m.is_empty()).then_some(Json::Object(m)))
}

fn money_field(f: &Fields, field: &str, currency: Currency) -> Result<Option<Json>, MappingError> {
    f.get(field).map(|v| money_to_wire(field, v, currency)).transpose()
}

fn enum_field(f: &Fields, field: &str) -> Result<Option<Json>, MappingError> {
    f.get(field).map(|v| upper(field, v).map(Json::String)).transpose()
}

fn bool_field(f: &Fields, field: &str) -> Result<Option<Json>, MappingError> {
    f.get(field).map(|v| want_bool(field, v).map(Json::Bool)).transpose()
}

fn unknown(kind: Kind, field: &str) -> MappingError {
    MappingError::new(field, format!("a LinkedIn {} has no field `{field}`", kind.as_str()))
        .with_hint("see docs/resource-model.md (LinkedIn)")
}

/// Wire fields of a campaign group (`status`, `runSchedule`, `totalBudget`) for the keys of `f.fields`.
pub fn group_patch(f: &Fields, currency: Currency) -> Result<Patch, MappingError> {
    let mut p = Patch::default();
    for k in f.fields.keys() {
        match k.as_str() {
            "status" => p.put("status", enum_field(f, "status")?),
            "budget.lifetime" => p.put("totalBudget", money_field(f, "budget.lifetime", currency)?),
            "run_schedule.start" | "run_schedule.end" | "name" => {}
            other => return Err(unknown(Kind::CampaignGroup, other)),
        }
    }
    if f.touches("run_schedule.") {
        p.put("runSchedule", schedule(f)?);
    }
    Ok(p)
}

/// Fields fixed at create (a change is a replace).
pub const CAMPAIGN_FIXED: [&str; 3] = ["type", "objective_type", "format"];

/// Wire fields of a campaign for the keys of `f.fields` (targeting: see [`targeting_criteria`]).
pub fn campaign_patch(
    f: &Fields,
    currency: Currency,
    targeting_base: Option<&Json>,
    resolve: Resolve,
) -> Result<Patch, MappingError> {
    let mut p = Patch::default();
    let mut targeting = false;
    for k in f.fields.keys() {
        let k = k.as_str();
        match k {
            "status" => p.put("status", enum_field(f, k)?),
            "type" | "objective_type" | "format" if f.is_update() => {
                return Err(MappingError::new(k, "cannot change after the campaign is created")
                    .with_hint("the plan should replace the campaign"))
            }
            "type" => p.put("type", enum_field(f, k)?),
            "objective_type" => p.put("objectiveType", enum_field(f, k)?),
            "format" => p.put("format", enum_field(f, k)?),
            "cost_type" => p.put("costType", enum_field(f, k)?),
            "optimization_target_type" => p.put("optimizationTargetType", enum_field(f, k)?),
            "creative_selection" => p.put("creativeSelection", enum_field(f, k)?),
            "unit_cost" => p.put("unitCost", money_field(f, k, currency)?),
            "budget.daily" => p.put("dailyBudget", money_field(f, k, currency)?),
            "budget.lifetime" => p.put("totalBudget", money_field(f, k, currency)?),
            "offsite_delivery_enabled" => p.put("offsiteDeliveryEnabled", bool_field(f, k)?),
            "audience_expansion_enabled" => p.put("audienceExpansionEnabled", bool_field(f, k)?),
            "run_schedule.start" | "run_schedule.end" | "locale.country" | "locale.language" | "name" => {}
            "targeting.include" | "targeting.exclude" | "targeting.audiences" | "targeting.excluded_audiences" => {
                targeting = true
            }
            other => return Err(unknown(Kind::Campaign, other)),
        }
    }
    if f.touches("run_schedule.") {
        p.put("runSchedule", schedule(f)?);
    } else if !f.is_update() {
        // LinkedIn requires a campaign's runSchedule; the YAML may leave it out: it starts at the create (to the
        // second), as a campaign made in Campaign Manager does
        let now = chrono::Utc::now().timestamp() * 1000;
        p.put("runSchedule", Some(json!({ "start": now })));
    }
    if f.touches("locale.") {
        let country = f
            .get("locale.country")
            .map(|v| want_str("locale.country", v))
            .transpose()?;
        let language = f
            .get("locale.language")
            .map(|v| want_str("locale.language", v))
            .transpose()?;
        match (country, language) {
            (Some(c), Some(l)) => p.put(
                "locale",
                Some(json!({ "country": c.to_ascii_uppercase(), "language": l.to_ascii_lowercase() })),
            ),
            _ => {
                return Err(
                    MappingError::new("locale", "needs both locale.country and locale.language")
                        .with_hint("LinkedIn's locale is one object of both"),
                )
            }
        }
    }
    if targeting {
        p.put(
            "targetingCriteria",
            Some(targeting_criteria(targeting_base, f.fields, resolve)?),
        );
    }
    Ok(p)
}

/// Wire fields of a creative for the keys of `f.fields`.
pub fn creative_patch(f: &Fields) -> Result<Patch, MappingError> {
    let mut p = Patch::default();
    let mut cta = false;
    for k in f.fields.keys() {
        match k.as_str() {
            "status" => p.put("intendedStatus", enum_field(f, "status")?),
            "content.reference" if f.is_update() => {
                return Err(
                    MappingError::new("content.reference", "cannot change after the creative is created")
                        .with_hint("the plan should replace the creative"),
                )
            }
            "content.reference" => {
                let r = f
                    .get("content.reference")
                    .map(|v| want_str("content.reference", v))
                    .transpose()?;
                p.put("content", r.map(|r| json!({ "reference": r })));
            }
            "leadgen_call_to_action.destination" | "leadgen_call_to_action.label" => cta = true,
            "name" => {}
            other => return Err(unknown(Kind::Creative, other)),
        }
    }
    if cta {
        let d = f.get("leadgen_call_to_action.destination");
        let l = f.get("leadgen_call_to_action.label");
        let v = match (d, l) {
            (None, None) => None,
            (Some(d), Some(l)) => Some(json!({
                "destination": want_str("leadgen_call_to_action.destination", d)?,
                "label": upper("leadgen_call_to_action.label", l)?,
            })),
            _ => {
                return Err(MappingError::new(
                    "leadgen_call_to_action",
                    "needs both leadgen_call_to_action.destination and .label",
                ))
            }
        };
        p.put("leadgenCallToAction", v);
    }
    Ok(p)
}

/// The body of a campaign group's create.
pub fn group_create(
    account: &str,
    name: &str,
    fields: &BTreeMap<String, Value>,
    currency: Currency,
) -> Result<Json, MappingError> {
    let p = group_patch(&Fields { fields, live: None }, currency)?;
    let mut b = p.set;
    b.insert("account".into(), json!(account_urn(account)));
    b.insert("name".into(), json!(name));
    b.entry("status").or_insert_with(|| json!("ACTIVE"));
    Ok(Json::Object(b))
}

/// The body of a campaign's create.
pub fn campaign_create(
    account: &str,
    group_id: &str,
    name: &str,
    fields: &BTreeMap<String, Value>,
    currency: Currency,
    resolve: Resolve,
) -> Result<Json, MappingError> {
    let p = campaign_patch(&Fields { fields, live: None }, currency, None, resolve)?;
    let mut b = p.set;
    b.insert("account".into(), json!(account_urn(account)));
    b.insert("campaignGroup".into(), json!(group_urn(group_id)));
    b.insert("name".into(), json!(name));
    b.entry("status").or_insert_with(|| json!("DRAFT"));
    Ok(Json::Object(b))
}

/// The body of a creative's create.
pub fn creative_create(campaign_id: &str, name: &str, fields: &BTreeMap<String, Value>) -> Result<Json, MappingError> {
    let p = creative_patch(&Fields { fields, live: None })?;
    let mut b = p.set;
    b.insert("campaign".into(), json!(campaign_urn(campaign_id)));
    b.insert("name".into(), json!(name));
    b.entry("intendedStatus").or_insert_with(|| json!("DRAFT"));
    Ok(Json::Object(b))
}

/// The body of a DMP segment's create: a user list (or a company list) uploaded by adsctl, targetable on LinkedIn.
pub fn segment_create(account: &str, name: &str, description: &str, companies: bool) -> Json {
    json!({
        "account": account_urn(account),
        "name": name,
        "description": description,
        "type": if companies { "COMPANY" } else { "USER" },
        "sourcePlatform": "LIST_UPLOAD",
        "destinations": [{ "destination": "LINKEDIN" }],
        "accessPolicy": "PRIVATE",
    })
}

/// The members of an audience: SHA-256 hex, lower case.
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

/// The companies of a company list: `name<TAB>website domain` each, as the lowering writes them.
pub fn companies_of(v: Option<&Value>) -> Result<Vec<String>, MappingError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let items: Vec<&Value> = match v {
        Value::Set(s) => s.iter().collect(),
        Value::List(l) => l.iter().collect(),
        Value::Null => Vec::new(),
        _ => return Err(MappingError::new("members", "must be a set of companies")),
    };
    items
        .into_iter()
        .map(|m| {
            let s = m
                .as_str()
                .ok_or_else(|| MappingError::new("members", "must be company entries"))?;
            match s.split_once('\t') {
                Some((n, d)) if !n.trim().is_empty() || !d.trim().is_empty() => Ok(s.to_string()),
                _ => Err(MappingError::new(
                    "members",
                    "each company is `name<TAB>website`, one of them set",
                )),
            }
        })
        .collect()
}

/// One element of a segment companies BATCH_CREATE (`companyName`, `companyWebsiteDomain`: the fields the
/// segment-companies page shows).
pub fn company_element(action: &str, company: &str) -> Json {
    let (name, domain) = company.split_once('\t').unwrap_or((company, ""));
    let mut e = serde_json::Map::new();
    e.insert("action".into(), json!(action));
    if !name.trim().is_empty() {
        e.insert("companyName".into(), json!(name.trim()));
    }
    if !domain.trim().is_empty() {
        e.insert("companyWebsiteDomain".into(), json!(domain.trim()));
    }
    Json::Object(e)
}

/// One element of a segment users BATCH_CREATE.
pub fn user_element(action: &str, sha256: &str) -> Json {
    json!({ "action": action, "userIds": [{ "idType": "SHA256_EMAIL", "idValue": sha256 }] })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::from_code("USD").unwrap()
    }

    #[test]
    fn money_is_exact_both_ways() {
        let m = money_from_wire("x", Some(&json!({"amount": "50.00", "currencyCode": "USD"}))).unwrap();
        assert_eq!(m, Some(Money::from_micros(50_000_000)));
        let m = money_from_wire("x", Some(&json!({"amount": "0.123456", "currencyCode": "USD"}))).unwrap();
        assert_eq!(m, Some(Money::from_micros(123_456)));
        let big = money_from_wire("x", Some(&json!({"amount": "9007199254740.993"}))).unwrap();
        assert_eq!(big, Some(Money::from_micros(9_007_199_254_740_993_000)));
        assert!(money_from_wire("x", Some(&json!({"amount": "0.0000001"}))).is_err());
        assert!(money_from_wire("x", Some(&json!({"amount": "abc"}))).is_err());
        assert_eq!(money_from_wire("x", None).unwrap(), None);
        let w = money_to_wire("x", &Value::Money(Money::from_micros(12_340_000)), usd()).unwrap();
        assert_eq!(w, json!({"amount": "12.34", "currencyCode": "USD"}));
        let w = money_to_wire("x", &Value::Money(Money::from_micros(50_000_000)), usd()).unwrap();
        assert_eq!(w["amount"], "50.00");
        let jpy = Currency::from_code("JPY").unwrap();
        let w = money_to_wire("x", &Value::Money(Money::from_micros(5_000_000_000)), jpy).unwrap();
        assert_eq!(w, json!({"amount": "5000", "currencyCode": "JPY"}));
        assert!(money_to_wire("x", &Value::Money(Money::from_micros(-1)), usd()).is_err());
    }

    #[test]
    fn times_are_utc_rfc3339_and_epoch_ms() {
        assert_eq!(time_from_ms(1_767_225_600_000).as_deref(), Some("2026-01-01T00:00:00Z"));
        assert_eq!(
            time_from_ms(1_767_225_600_250).as_deref(),
            Some("2026-01-01T00:00:00.250Z")
        );
        assert_eq!(
            ms_from_time("t", &Value::str("2026-01-01T00:00:00Z")).unwrap(),
            1_767_225_600_000
        );
        assert_eq!(
            ms_from_time("t", &Value::str("2026-01-01T01:00:00+01:00")).unwrap(),
            1_767_225_600_000
        );
        assert!(ms_from_time("t", &Value::str("2026-01-01")).is_err());
    }

    #[test]
    fn markers_round_trip() {
        assert_eq!(marked_name("Spring"), "Spring [adsctl-managed]");
        assert_eq!(split_name("Spring [adsctl-managed]"), ("Spring".into(), true));
        assert_eq!(split_name("Spring"), ("Spring".into(), false));
        assert!(!split_name("Spring [adsctl-managed:0123456789abcdef]").1);
        assert_eq!(marked_description(Some("Buyers"), None), "Buyers [adsctl-managed]");
        assert_eq!(
            marked_description(None, Some("0123456789abcdef")),
            "[adsctl-managed:0123456789abcdef]"
        );
        assert_eq!(
            split_description("Buyers [adsctl-managed]"),
            (Some("Buyers".into()), Some(None))
        );
        assert_eq!(
            split_description("[adsctl-managed:0123456789abcdef]"),
            (None, Some(Some("0123456789abcdef".into())))
        );
        assert_eq!(
            split_description("Buyers [other]"),
            (Some("Buyers [other]".into()), None)
        );
        assert_eq!(split_description("[adsctl-managed:xyz]").1, None);
    }

    #[test]
    fn facets_and_urns() {
        assert_eq!(facet_snake("interfaceLocales"), "interface_locales");
        assert_eq!(facet_camel("staff_count_ranges"), "staffCountRanges");
        assert_eq!(
            facet_camel(&facet_snake("audienceMatchingSegments")),
            "audienceMatchingSegments"
        );
        assert_eq!(urn_id("urn:li:sponsoredCampaignGroup:77"), "77");
        assert_eq!(creative_urn("5"), "urn:li:sponsoredCreative:5");
        let s: SegmentRow = serde_json::from_value(json!({"id": 9, "name": "a",
            "destinations": [{"destination": "LINKEDIN", "destinationSegmentId": "urn:li:adSegment:123"}]}))
        .unwrap();
        assert_eq!(s.ad_segment_urn().as_deref(), Some("urn:li:adSegment:123"));
        let s: SegmentRow = serde_json::from_value(json!({"id": 9, "name": "a"})).unwrap();
        assert_eq!(s.ad_segment_urn().as_deref(), Some("urn:li:adSegment:9"));
    }

    fn ctx_segments() -> HashMap<String, Address> {
        HashMap::from([(
            "urn:li:adSegment:123".to_string(),
            Address::account("li").child(Kind::Audience, "Buyers"),
        )])
    }

    #[test]
    fn targeting_round_trips() {
        let tc = json!({
            "include": {"and": [
                {"or": {"urn:li:adTargetingFacet:locations": ["urn:li:geo:103644278"]}},
                {"or": {"urn:li:adTargetingFacet:interfaceLocales": ["urn:li:locale:en_US"],
                        "urn:li:adTargetingFacet:titles": ["urn:li:title:100"]}},
                {"or": {"urn:li:adTargetingFacet:audienceMatchingSegments": ["urn:li:adSegment:123"]}}
            ]},
            "exclude": {"or": {"urn:li:adTargetingFacet:seniorities": ["urn:li:seniority:3"],
                               "urn:li:adTargetingFacet:audienceMatchingSegments": ["urn:li:adSegment:123", "urn:li:adSegment:999"]}}
        });
        let segs = ctx_segments();
        let ctx = ReadContext {
            account: "li",
            currency: usd(),
            segments: &segs,
        };
        let fields: BTreeMap<String, Value> = targeting_fields(&tc, &ctx)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let Value::List(inc) = &fields["targeting.include"] else {
            panic!("include is a list")
        };
        assert_eq!(inc.len(), 2);
        let Value::Map(m) = &inc[1] else {
            panic!("a clause is a map")
        };
        assert!(m.contains_key("interface_locales") && m.contains_key("titles"));
        let buyers = Value::reference(Address::account("li").child(Kind::Audience, "Buyers"));
        assert_eq!(fields["targeting.audiences"], set_of([buyers.clone()]));
        assert_eq!(fields["targeting.excluded_audiences"], set_of([buyers]));
        let Value::Map(ex) = &fields["targeting.exclude"] else {
            panic!("exclude is a map")
        };
        assert_eq!(
            ex.get("audience_matching_segments"),
            Some(&set_of([Value::str("urn:li:adSegment:999")]))
        );
        // and back: the same criteria (the audience clause last)
        let resolve = |a: &Address| (a.name() == Some("Buyers")).then(|| "urn:li:adSegment:123".to_string());
        let back = targeting_criteria(None, &fields, &resolve).unwrap();
        assert_eq!(back["include"]["and"], tc["include"]["and"]);
        let ex = back["exclude"]["or"].as_object().unwrap();
        assert_eq!(ex["urn:li:adTargetingFacet:seniorities"], json!(["urn:li:seniority:3"]));
        let mut seg = strings(&ex["urn:li:adTargetingFacet:audienceMatchingSegments"]);
        seg.sort();
        assert_eq!(seg, ["urn:li:adSegment:123", "urn:li:adSegment:999"]);
        // an update of the audiences alone keeps the rest of the live criteria
        let only = BTreeMap::from([("targeting.audiences".to_string(), Value::Set(BTreeSet::new()))]);
        let upd = targeting_criteria(Some(&tc), &only, &resolve).unwrap();
        assert_eq!(upd["include"]["and"].as_array().unwrap().len(), 2);
        assert_eq!(upd["exclude"], tc["exclude"]);
    }

    #[test]
    fn reads_map_to_the_contract() {
        let segs = HashMap::new();
        let ctx = ReadContext {
            account: "li",
            currency: usd(),
            segments: &segs,
        };
        let g: GroupRow = serde_json::from_value(
            json!({"id": 600000001, "name": "Q1 [adsctl-managed]", "status": "ACTIVE",
            "runSchedule": {"start": 1767225600000i64}, "totalBudget": {"amount": "1000.00", "currencyCode": "USD"}}),
        )
        .unwrap();
        let r = group_resource(&g, &ctx).unwrap();
        assert_eq!(r.address.to_string(), "li/campaign_group/Q1");
        assert!(r.owned);
        assert_eq!(r.id.as_deref(), Some("600000001"));
        assert_eq!(r.fields.get("status"), Some(&Value::str("active")));
        assert_eq!(
            r.fields.get("budget.lifetime"),
            Some(&Value::Money(Money::from_micros(1_000_000_000)))
        );
        assert_eq!(
            r.fields.get("run_schedule.start"),
            Some(&Value::str("2026-01-01T00:00:00Z"))
        );
        let c: CampaignRow = serde_json::from_value(json!({"id": 7, "name": "Leads", "status": "PAUSED",
            "type": "SPONSORED_UPDATES", "costType": "CPM", "unitCost": {"amount": "5", "currencyCode": "USD"},
            "locale": {"country": "US", "language": "en"}, "offsiteDeliveryEnabled": false}))
        .unwrap();
        let r = campaign_resource(&c, &Address::account("li").child(Kind::CampaignGroup, "Q1"), &ctx).unwrap();
        assert!(!r.owned, "no marker: someone else's");
        assert_eq!(r.address.to_string(), "li/campaign_group/Q1/campaign/Leads");
        assert_eq!(r.fields.get("type"), Some(&Value::str("sponsored_updates")));
        assert_eq!(
            r.fields.get("unit_cost"),
            Some(&Value::Money(Money::from_micros(5_000_000)))
        );
        assert_eq!(r.fields.get("locale.country"), Some(&Value::str("US")));
        let cr: CreativeRow =
            serde_json::from_value(json!({"id": "urn:li:sponsoredCreative:9", "name": "A [adsctl-managed]",
            "intendedStatus": "ACTIVE", "content": {"reference": "urn:li:share:1"}, "review": {"status": "APPROVED"},
            "leadgenCallToAction": {"destination": "urn:li:adForm:1", "label": "SIGN_UP"}}))
            .unwrap();
        let parent = Address::account("li")
            .child(Kind::CampaignGroup, "Q1")
            .child(Kind::Campaign, "Leads");
        let r = creative_resource(&cr, &parent);
        assert_eq!(r.id.as_deref(), Some("urn:li:sponsoredCreative:9"));
        assert_eq!(
            r.fields.get("leadgen_call_to_action.label"),
            Some(&Value::str("sign_up"))
        );
        assert_eq!(r.observed.get("review_status").map(String::as_str), Some("approved"));
        let s: SegmentRow = serde_json::from_value(json!({"id": 3, "name": "Buyers", "type": "USER",
            "description": "CRM [adsctl-managed:0123456789abcdef]"}))
        .unwrap();
        let r = segment_resource(&s, &ctx).unwrap();
        assert!(r.owned);
        assert_eq!(r.fields.get("description"), Some(&Value::str("CRM")));
        assert_eq!(
            r.observed.get("fingerprint.members").map(String::as_str),
            Some("0123456789abcdef")
        );
        let s: SegmentRow = serde_json::from_value(json!({"id": 4, "name": "Cos", "type": "COMPANY"})).unwrap();
        let r = segment_resource(&s, &ctx).unwrap();
        assert_eq!(
            r.fields.get("list_type"),
            Some(&Value::str("company")),
            "a company list"
        );
        let s: SegmentRow = serde_json::from_value(json!({"id": 5, "name": "S", "type": "USER_STREAMING"})).unwrap();
        assert!(
            segment_resource(&s, &ctx).is_none(),
            "streaming segments are not lists adsctl uploads"
        );
        assert_eq!(
            company_element("ADD", "Contoso\tcontoso.com"),
            json!({"action": "ADD", "companyName": "Contoso", "companyWebsiteDomain": "contoso.com"})
        );
        assert_eq!(
            company_element("REMOVE", "\tfabrikam.com"),
            json!({"action": "REMOVE", "companyWebsiteDomain": "fabrikam.com"})
        );
        assert!(companies_of(Some(&Value::Set([Value::str("\t")].into()))).is_err());
    }

    #[test]
    fn write_bodies() {
        let none = |_: &Address| None;
        let fields = BTreeMap::from([
            ("status".to_string(), Value::str("active")),
            (
                "budget.lifetime".to_string(),
                Value::Money(Money::from_micros(100_000_000)),
            ),
            ("run_schedule.start".to_string(), Value::str("2026-01-01T00:00:00Z")),
        ]);
        let b = group_create("501", "Q1 [adsctl-managed]", &fields, usd()).unwrap();
        assert_eq!(
            b,
            json!({"account": "urn:li:sponsoredAccount:501", "name": "Q1 [adsctl-managed]", "status": "ACTIVE",
                   "totalBudget": {"amount": "100.00", "currencyCode": "USD"}, "runSchedule": {"start": 1767225600000i64}})
        );
        // an update of the end keeps the live start; a cleared budget is $delete
        let live = fields.clone();
        let set = BTreeMap::from([
            ("run_schedule.end".to_string(), Value::str("2026-02-01T00:00:00Z")),
            ("budget.lifetime".to_string(), Value::Null),
        ]);
        let p = group_patch(
            &Fields {
                fields: &set,
                live: Some(&live),
            },
            usd(),
        )
        .unwrap();
        assert_eq!(
            p.body(),
            json!({"patch": {"$set": {"runSchedule": {"start": 1767225600000i64, "end": 1769904000000i64}},
                              "$delete": ["totalBudget"]}})
        );
        let mut facets = SmallMap::new();
        facets.insert(Key::new("locations"), set_of([Value::str("urn:li:geo:103644278")]));
        let fields = BTreeMap::from([
            ("type".to_string(), Value::str("sponsored_updates")),
            ("objective_type".to_string(), Value::str("website_visit")),
            ("cost_type".to_string(), Value::str("cpc")),
            ("unit_cost".to_string(), Value::Money(Money::from_micros(2_500_000))),
            ("budget.daily".to_string(), Value::Money(Money::from_micros(50_000_000))),
            ("locale.country".to_string(), Value::str("us")),
            ("locale.language".to_string(), Value::str("en")),
            ("offsite_delivery_enabled".to_string(), Value::Bool(false)),
            ("creative_selection".to_string(), Value::str("optimized")),
            ("targeting.include".to_string(), Value::List(vec![Value::Map(facets)])),
        ]);
        let b = campaign_create("501", "600000001", "Leads [adsctl-managed]", &fields, usd(), &none).unwrap();
        assert_eq!(b["campaignGroup"], "urn:li:sponsoredCampaignGroup:600000001");
        assert_eq!(b["objectiveType"], "WEBSITE_VISIT");
        assert_eq!(b["unitCost"], json!({"amount": "2.50", "currencyCode": "USD"}));
        assert_eq!(b["locale"], json!({"country": "US", "language": "en"}));
        assert_eq!(b["status"], "DRAFT");
        assert_eq!(b["creativeSelection"], "OPTIMIZED");
        assert_eq!(
            b["targetingCriteria"],
            json!({"include": {"and": [{"or": {"urn:li:adTargetingFacet:locations": ["urn:li:geo:103644278"]}}]}})
        );
        let set = BTreeMap::from([("objective_type".to_string(), Value::str("engagement"))]);
        let empty = BTreeMap::new();
        let upd = Fields {
            fields: &set,
            live: Some(&empty),
        };
        assert!(campaign_patch(&upd, usd(), None, &none).is_err());
        let set = BTreeMap::from([("locale.country".to_string(), Value::str("DE"))]);
        let live = BTreeMap::from([("locale.language".to_string(), Value::str("de"))]);
        let upd = Fields {
            fields: &set,
            live: Some(&live),
        };
        let p = campaign_patch(&upd, usd(), None, &none).unwrap();
        assert_eq!(p.set["locale"], json!({"country": "DE", "language": "de"}));
        let fields = BTreeMap::from([
            ("status".to_string(), Value::str("paused")),
            ("content.reference".to_string(), Value::str("urn:li:share:1")),
        ]);
        let b = creative_create("7", "A [adsctl-managed]", &fields).unwrap();
        assert_eq!(
            b,
            json!({"campaign": "urn:li:sponsoredCampaign:7", "name": "A [adsctl-managed]", "intendedStatus": "PAUSED",
                   "content": {"reference": "urn:li:share:1"}})
        );
        let b = segment_create("501", "Buyers", "[adsctl-managed]", false);
        assert_eq!(b["destinations"], json!([{"destination": "LINKEDIN"}]));
        assert_eq!(
            user_element("ADD", "ab"),
            json!({"action": "ADD", "userIds": [{"idType": "SHA256_EMAIL", "idValue": "ab"}]})
        );
        assert!(members_of(Some(&set_of([Value::str("x")]))).is_err());
    }
}
