//! Resources ↔ Graph API objects: field names per `docs/resource-model.md`, money in minor units with Meta's
//! per-currency offset, enums, times, targeting and creatives.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value as Json};

use super::wire;
use crate::connectors::OpError;
use crate::model::{Address, Currency, Kind, Money, Resource, Value};

/// Currencies whose Meta offset is 1 (amounts are whole units), from WIRE-NOTES "Money" — not ISO 4217:
/// COP, CRC, HUF, IDR and TWD have two ISO decimals but Meta takes whole units for them.
pub const OFFSET_ONE: [&str; 11] = [
    "JPY", "KRW", "CLP", "COP", "CRC", "HUF", "ISK", "IDR", "PYG", "TWD", "VND",
];

/// Meta's offset for a currency: 1 for the list above, 100 for the rest.
pub fn minor_offset(currency: Currency) -> i64 {
    if OFFSET_ONE.contains(&currency.code()) {
        1
    } else {
        100
    }
}

/// A field that cannot be written as it stands. Becomes the operation's error; never a panic.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("{field}: {amount} has more precision than Meta accepts for {currency} (steps of {step})")]
    TooPrecise {
        field: String,
        amount: String,
        currency: String,
        step: String,
    },
    #[error("{field}: {message}")]
    BadValue { field: String, message: String },
    #[error("{field}: no platform id for {address}")]
    MissingRef { field: String, address: String },
}

impl MappingError {
    pub fn to_op_error(&self) -> OpError {
        let (field, hint) = match self {
            MappingError::TooPrecise { field, .. } => (
                field.clone(),
                Some("round the amount to what the currency allows on Meta (whole units for JPY, KRW, …)".into()),
            ),
            MappingError::BadValue { field, .. } => (field.clone(), None),
            MappingError::MissingRef { field, .. } => (
                field.clone(),
                Some("the referenced resource must exist (or be created in the same apply)".into()),
            ),
        };
        OpError {
            code: "adsctl.mapping".into(),
            message: self.to_string(),
            field: Some(field),
            hint,
        }
    }
}

/// Money (micros) → Meta minor units. `$50.00` → 5000; `¥5000` → 5000. Finer amounts are an error.
pub fn to_minor(field: &str, m: Money, currency: Currency) -> Result<i64, MappingError> {
    let per_minor = 1_000_000 / minor_offset(currency);
    if m.micros() % per_minor != 0 {
        return Err(MappingError::TooPrecise {
            field: field.into(),
            amount: m.display(currency),
            currency: currency.code().into(),
            step: Money::from_micros(per_minor).to_decimal_string(currency),
        });
    }
    Ok(m.micros() / per_minor)
}

/// Meta minor units (as read: a string) → Money.
pub fn from_minor(field: &str, s: &str, currency: Currency) -> Result<Money, MappingError> {
    let bad = || MappingError::BadValue {
        field: field.into(),
        message: format!("`{s}` is not an amount in minor units"),
    };
    let n: i64 = s.trim().parse().map_err(|_| bad())?;
    let per_minor = 1_000_000 / minor_offset(currency);
    n.checked_mul(per_minor).map(Money::from_micros).ok_or_else(bad)
}

/// An exact decimal amount in the major unit (insights `spend`, action values) → Money, keeping up to six
/// decimals (live data may be finer than the currency).
pub fn money_from_decimal_str(field: &str, s: &str) -> Result<Money, MappingError> {
    let bad = |m: &str| MappingError::BadValue {
        field: field.into(),
        message: format!("`{s}`: {m}"),
    };
    let d = Decimal::from_str(s.trim()).map_err(|_| bad("not a decimal"))?;
    let micros = (d * Decimal::from(1_000_000)).normalize();
    if micros.fract() != Decimal::ZERO {
        return Err(bad("finer than a micro"));
    }
    let v: i64 = micros.trunc().try_into().map_err(|_| bad("too large"))?;
    Ok(Money::from_micros(v))
}

pub fn lower(s: &str) -> Value {
    Value::Str(s.to_ascii_lowercase())
}

/// Graph datetimes (`2026-03-01T00:00:00+0000`, also RFC 3339) → RFC 3339 in UTC (`2026-03-01T00:00:00Z`).
pub fn read_time(s: &str) -> String {
    parse_time(s)
        .map(|t| t.with_timezone(&Utc).to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| s.to_string())
}

fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .or_else(|| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z").ok())
}

/// RFC 3339 → the Graph form (`2026-03-01T00:00:00+0000`, UTC).
pub fn write_time(field: &str, s: &str) -> Result<String, MappingError> {
    parse_time(s)
        .map(|t| t.with_timezone(&Utc).format("%Y-%m-%dT%H:%M:%S%z").to_string())
        .ok_or_else(|| MappingError::BadValue {
            field: field.into(),
            message: format!("`{s}` is not an RFC 3339 time"),
        })
}

fn owned_by_label(labels: &[wire::LabelRef], label_id: Option<&str>) -> bool {
    labels.iter().any(|l| {
        l.name.as_deref() == Some(super::config::OWNERSHIP_LABEL) || (label_id.is_some() && l.id.as_deref() == label_id)
    })
}

fn is_zero_or_empty(s: &Option<String>) -> bool {
    match s {
        None => true,
        Some(v) => v.trim().is_empty() || v.trim() == "0",
    }
}

/// A money field in minor units (`"5000"`), when set and not zero.
fn put_money(r: &mut Resource, field: &str, s: &Option<String>, currency: Currency) -> Result<(), MappingError> {
    if !is_zero_or_empty(s) {
        let m = from_minor(field, s.as_deref().unwrap_or("0"), currency)?;
        r.fields.insert(field, Value::Money(m));
    }
    Ok(())
}

/// A time field, when set and not empty, in UTC.
fn put_time(r: &mut Resource, field: &str, t: &Option<String>) {
    if let Some(t) = t.as_deref().filter(|t| !t.is_empty()) {
        r.fields.insert(field, Value::Str(read_time(t)));
    }
}

fn set_of<I: IntoIterator<Item = Value>>(it: I) -> Value {
    Value::Set(it.into_iter().collect::<BTreeSet<_>>())
}

/// Everything a live read needs to name and link objects.
pub struct ReadContext<'a> {
    pub account: &'a str,
    pub currency: Currency,
    pub label_id: Option<&'a str>,
    /// Custom audience id → address (audience or lookalike_audience).
    pub audiences: &'a BTreeMap<String, Address>,
    /// Custom conversion id → address.
    pub custom_conversions: &'a BTreeMap<String, Address>,
    /// Product set id → address (catalog ads).
    pub product_sets: &'a BTreeMap<String, Address>,
}

fn json_id(v: Option<&Json>) -> Option<String> {
    match v? {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl ReadContext<'_> {
    /// A product set by id: a reference to the one the read found, else its bare id.
    fn product_set_value(&self, id: String) -> Value {
        match self.product_sets.get(&id) {
            Some(a) => Value::reference(a.clone()),
            None => Value::Str(id),
        }
    }
}

impl ReadContext<'_> {
    fn audience_address(&self, id: &str, name: Option<&str>) -> Address {
        self.audiences.get(id).cloned().unwrap_or_else(|| {
            Address::account(self.account).child(Kind::Audience, name.filter(|n| !n.is_empty()).unwrap_or(id))
        })
    }
}

/// Only facts worth a person's attention go to `observed` (the plan lists unchanged resources whose observed
/// values are not benign): the effective status, review feedback, delivery issues.
fn observed_status(r: &mut Resource, effective: &Option<String>) {
    if let Some(e) = effective {
        r.observed.insert("effective_status", e.to_ascii_lowercase());
    }
}

pub fn campaign_resource(c: &wire::Campaign, ctx: &ReadContext) -> Result<Resource, MappingError> {
    let addr = Address::account(ctx.account).child(Kind::Campaign, &c.name);
    let mut r = Resource::new(addr, Kind::Campaign);
    r.id = Some(c.id.clone());
    if let Some(s) = &c.status {
        r.fields.insert("status", lower(s));
    }
    if let Some(o) = &c.objective {
        r.fields.insert("objective", lower(o));
    }
    if let Some(cats) = &c.special_ad_categories {
        r.fields.insert(
            "special_ad_categories",
            set_of(cats.iter().filter(|c| c.as_str() != "NONE").map(|c| lower(c))),
        );
    }
    put_money(&mut r, "budget.daily", &c.daily_budget, ctx.currency)?;
    put_money(&mut r, "budget.lifetime", &c.lifetime_budget, ctx.currency)?;
    if let Some(b) = &c.bid_strategy {
        r.fields.insert("bid_strategy", lower(b));
    }
    put_time(&mut r, "start_time", &c.start_time);
    put_time(&mut r, "stop_time", &c.stop_time);
    if let Some(cat) = json_id(c.promoted_object.as_ref().and_then(|p| p.get("product_catalog_id"))) {
        r.fields.insert("catalog_id", Value::Str(cat));
    }
    r.owned = owned_by_label(&c.adlabels, ctx.label_id);
    observed_status(&mut r, &c.effective_status);
    Ok(r)
}

pub fn adset_resource(s: &wire::AdSet, campaign: &Address, ctx: &ReadContext) -> Result<Resource, MappingError> {
    let mut r = Resource::new(campaign.child(Kind::AdSet, &s.name), Kind::AdSet);
    r.id = Some(s.id.clone());
    if let Some(v) = &s.status {
        r.fields.insert("status", lower(v));
    }
    if let Some(v) = &s.optimization_goal {
        r.fields.insert("optimization_goal", lower(v));
    }
    if let Some(po) = &s.promoted_object {
        let pixel = po.get("pixel_id").and_then(|p| match p {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        });
        let event = po.get("custom_event_type").and_then(Json::as_str);
        let product_set = json_id(po.get("product_set_id"));
        if let (None, Some(set)) = (pixel.as_ref().zip(event), product_set.clone()) {
            // a catalog ad set's promoted object: its product set alone (with an event when one is sent)
            let mut m: crate::model::SmallMap = [("product_set".to_string(), ctx.product_set_value(set))].into();
            if let Some(e) = event {
                m.insert("custom_event_type", Value::str(e.to_ascii_lowercase()));
            }
            r.fields.insert("promoted_object", Value::Map(m));
        }
        if let (Some(pixel), Some(event)) = (pixel, event) {
            let mut m: crate::model::SmallMap = [
                ("pixel_id".to_string(), Value::str(pixel)),
                ("custom_event_type".to_string(), Value::str(event.to_ascii_lowercase())),
            ]
            .into();
            let cc = po.get("custom_conversion_id").and_then(|c| match c {
                Json::String(s) => Some(s.clone()),
                Json::Number(n) => Some(n.to_string()),
                _ => None,
            });
            if let Some(id) = cc {
                let v = match ctx.custom_conversions.get(&id) {
                    Some(a) => Value::reference(a.clone()),
                    None => Value::Str(id),
                };
                m.insert("custom_conversion", v);
            }
            if let Some(set) = product_set {
                m.insert("product_set", ctx.product_set_value(set));
            }
            r.fields.insert("promoted_object", Value::Map(m));
        }
    }
    if let Some(v) = &s.billing_event {
        r.fields.insert("billing_event", lower(v));
    }
    put_money(&mut r, "bid_amount", &s.bid_amount, ctx.currency)?;
    if let Some(v) = &s.bid_strategy {
        r.fields.insert("bid_strategy", lower(v));
    }
    put_money(&mut r, "budget.daily", &s.daily_budget, ctx.currency)?;
    put_money(&mut r, "budget.lifetime", &s.lifetime_budget, ctx.currency)?;
    put_time(&mut r, "start_time", &s.start_time);
    put_time(&mut r, "end_time", &s.end_time);
    if let Some(t) = &s.targeting {
        r.fields.extend(targeting_fields(t, ctx));
    }
    r.owned = owned_by_label(&s.adlabels, ctx.label_id);
    observed_status(&mut r, &s.effective_status);
    Ok(r)
}

fn str_list(j: Option<&Json>) -> Option<Vec<String>> {
    j.and_then(Json::as_array).map(|a| {
        a.iter()
            .filter_map(|x| match x {
                Json::String(s) => Some(s.clone()),
                Json::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect()
    })
}

fn key_list(j: Option<&Json>) -> Option<Vec<String>> {
    j.and_then(Json::as_array).map(|a| {
        a.iter()
            .filter_map(|x| match x {
                Json::Object(o) => o.get("key").and_then(|k| match k {
                    Json::String(s) => Some(s.clone()),
                    Json::Number(n) => Some(n.to_string()),
                    _ => None,
                }),
                Json::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    })
}

/// A Targeting spec → `targeting.*` fields (only the keys present).
pub fn targeting_fields(t: &Json, ctx: &ReadContext) -> BTreeMap<String, Value> {
    let mut f = BTreeMap::new();
    let geo = t.get("geo_locations");
    if let Some(c) = str_list(geo.and_then(|g| g.get("countries"))) {
        f.insert(
            "targeting.countries".into(),
            set_of(c.iter().map(|c| Value::Str(c.to_ascii_uppercase()))),
        );
    }
    if let Some(k) = key_list(geo.and_then(|g| g.get("regions"))) {
        f.insert("targeting.regions".into(), set_of(k.into_iter().map(Value::Str)));
    }
    if let Some(k) = key_list(geo.and_then(|g| g.get("cities"))) {
        f.insert("targeting.cities".into(), set_of(k.into_iter().map(Value::Str)));
    }
    for key in ["age_min", "age_max"] {
        if let Some(n) = t
            .get(key)
            .and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
        {
            f.insert(format!("targeting.{key}"), Value::Int(n));
        }
    }
    if let Some(g) = str_list(t.get("genders")) {
        f.insert(
            "targeting.genders".into(),
            set_of(g.iter().filter_map(|g| match g.as_str() {
                "1" => Some(Value::str("male")),
                "2" => Some(Value::str("female")),
                _ => None,
            })),
        );
    }
    for key in ["publisher_platforms", "facebook_positions", "instagram_positions"] {
        if let Some(v) = str_list(t.get(key)) {
            f.insert(format!("targeting.{key}"), set_of(v.iter().map(|s| lower(s))));
        }
    }
    for key in ["custom_audiences", "excluded_custom_audiences"] {
        if let Some(a) = t.get(key).and_then(Json::as_array) {
            let refs = a.iter().filter_map(|x| {
                let id = x.get("id").and_then(|v| match v {
                    Json::String(s) => Some(s.clone()),
                    Json::Number(n) => Some(n.to_string()),
                    _ => None,
                })?;
                let name = x.get("name").and_then(Json::as_str);
                Some(Value::reference(ctx.audience_address(&id, name)))
            });
            f.insert(format!("targeting.{key}"), set_of(refs));
        }
    }
    f
}

/// Creative fields (`creative.*`) of an AdCreative's object_story_spec.
pub fn creative_fields(spec: &Json) -> BTreeMap<String, Value> {
    let mut f = BTreeMap::new();
    let s = |v: Option<&Json>| v.and_then(Json::as_str).map(str::to_string);
    if let Some(p) = spec.get("page_id").and_then(|v| match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }) {
        f.insert("creative.page_id".into(), Value::Str(p));
    }
    // a dynamic (catalog) creative holds the same fields in `template_data`
    let ld = match (spec.get("link_data"), spec.get("template_data")) {
        (Some(ld), _) => ld,
        (None, Some(td)) => {
            f.insert("creative.dynamic".into(), Value::Bool(true));
            td
        }
        (None, None) => return f,
    };
    if let Some(v) = s(ld.get("link")) {
        f.insert("creative.link".into(), Value::Url(v));
    }
    if let Some(v) = s(ld.get("message")) {
        f.insert("creative.message".into(), Value::Str(v));
    }
    if let Some(v) = s(ld.get("name")) {
        f.insert("creative.headline".into(), Value::Str(v));
    }
    if let Some(v) = s(ld.get("description")) {
        f.insert("creative.description".into(), Value::Str(v));
    }
    if let Some(v) = s(ld.get("image_hash")) {
        f.insert("creative.image_hash".into(), Value::Str(v));
    }
    if let Some(v) = s(ld.get("picture")) {
        f.insert("creative.image_url".into(), Value::Url(v));
    }
    if let Some(v) = s(ld.get("call_to_action").and_then(|c| c.get("type"))) {
        f.insert("creative.call_to_action".into(), lower(&v));
    }
    f
}

/// The review feedback of an ad in one line (`policy: reason; …`), if any.
pub fn review_feedback(fb: &Json) -> Option<String> {
    let mut parts = Vec::new();
    let mut push_map = |m: &Map<String, Json>, prefix: &str| {
        for (k, v) in m {
            match v {
                Json::String(s) => parts.push(format!("{prefix}{k}: {s}")),
                Json::Object(inner) => {
                    for (k2, v2) in inner {
                        if let Some(s) = v2.as_str() {
                            parts.push(format!("{prefix}{k}/{k2}: {s}"));
                        }
                    }
                }
                _ => {}
            }
        }
    };
    if let Some(g) = fb.get("global").and_then(Json::as_object) {
        push_map(g, "");
    }
    if let Some(p) = fb.get("placement_specific").and_then(Json::as_object) {
        push_map(p, "");
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

pub fn ad_resource(a: &wire::Ad, adset: &Address, creative: Option<&wire::Creative>, ctx: &ReadContext) -> Resource {
    let mut r = Resource::new(adset.child(Kind::Ad, &a.name), Kind::Ad);
    r.id = Some(a.id.clone());
    if let Some(s) = &a.status {
        r.fields.insert("status", lower(s));
    }
    if let Some(spec) = creative.and_then(|c| c.object_story_spec.as_ref()) {
        r.fields.extend(creative_fields(spec));
    }
    if let Some(set) = creative.and_then(|c| c.product_set_id.clone()) {
        r.fields.insert("creative.product_set", ctx.product_set_value(set));
    }
    r.owned = owned_by_label(&a.adlabels, ctx.label_id);
    observed_status(&mut r, &a.effective_status);
    if let Some(fb) = a.ad_review_feedback.as_ref().and_then(review_feedback) {
        r.observed.insert("review_feedback", fb);
    }
    if let Some(issues) = a.issues_info.as_ref().and_then(Json::as_array) {
        let msgs: Vec<String> = issues
            .iter()
            .filter_map(|i| {
                i.get("error_message")
                    .or_else(|| i.get("error_summary"))
                    .and_then(Json::as_str)
                    .map(str::to_string)
            })
            .collect();
        if !msgs.is_empty() {
            r.observed.insert("issues", msgs.join("; "));
        }
    }
    r
}

/// The ownership marker adsctl keeps at the end of a custom or lookalike audience's `description` (audiences
/// have no ad labels): `[adsctl-managed]`, or `[adsctl-managed:<fingerprint>]` once the members given by the
/// fingerprint (`model::value_fingerprint`) are uploaded; written and read as every home does.
pub use crate::platforms::shared::{marked_description, split_description, MARKER as AUDIENCE_MARKER};

/// A customer-file audience or a lookalike, or `None` for subtypes adsctl does not manage.
pub fn audience_resource(a: &wire::CustomAudience, ctx: &ReadContext) -> Option<Resource> {
    let subtype = a.subtype.as_deref().unwrap_or("CUSTOM").to_ascii_uppercase();
    let root = Address::account(ctx.account);
    let (description, marker) = match a.description.as_deref() {
        Some(d) => split_description(d),
        None => (None, None),
    };
    let mut r = match subtype.as_str() {
        "CUSTOM" => {
            let mut r = Resource::new(root.child(Kind::Audience, &a.name), Kind::Audience);
            if let Some(d) = description {
                r.fields.insert("description", Value::Str(d));
            }
            if let Some(Some(fp)) = &marker {
                r.observed.insert(crate::model::fingerprint_key("members"), fp.clone());
            }
            if let Some(s) = &a.customer_file_source {
                r.fields.insert("customer_file_source", lower(s));
            }
            r
        }
        "LOOKALIKE" => {
            let mut r = Resource::new(root.child(Kind::LookalikeAudience, &a.name), Kind::LookalikeAudience);
            if let Some(spec) = &a.lookalike_spec {
                if let Some(c) = spec.get("country").and_then(Json::as_str) {
                    r.fields.insert("country", Value::Str(c.to_ascii_uppercase()));
                }
                if let Some(d) = spec.get("ratio").and_then(|v| match v {
                    Json::Number(n) => Decimal::from_str(&n.to_string())
                        .ok()
                        .or_else(|| Decimal::from_scientific(&n.to_string()).ok()),
                    Json::String(s) => Decimal::from_str(s).ok(),
                    _ => None,
                }) {
                    r.fields.insert("ratio", Value::Decimal(d.normalize()));
                }
                let origin = spec
                    .get("origin")
                    .and_then(Json::as_array)
                    .and_then(|a| a.first())
                    .and_then(|o| {
                        let id = match o.get("id")? {
                            Json::String(s) => s.clone(),
                            Json::Number(n) => n.to_string(),
                            _ => return None,
                        };
                        Some(ctx.audience_address(&id, o.get("name").and_then(Json::as_str)))
                    });
                if let Some(o) = origin {
                    r.fields.insert("origin", Value::reference(o));
                }
            }
            r
        }
        _ => return None,
    };
    r.id = Some(a.id.clone());
    r.owned = marker.is_some();
    Some(r)
}

/// A custom conversion (`None` when archived: it counts nothing any more), owned when its description ends with
/// adsctl's marker (custom conversions have no ad labels).
pub fn custom_conversion_resource(c: &wire::CustomConversion, ctx: &ReadContext) -> Option<Resource> {
    if c.is_archived == Some(true) {
        return None;
    }
    let addr = Address::account(ctx.account).child(Kind::CustomConversion, &c.name);
    let mut r = Resource::new(addr, Kind::CustomConversion);
    r.id = Some(c.id.clone());
    if let Some(p) = c.pixel.as_ref().and_then(|p| p.id.clone()) {
        r.fields.insert("pixel_id", Value::Str(p));
    }
    if let Some(rule) = &c.rule {
        // compared as JSON: Meta may space it differently from what was sent
        let canonical = serde_json::from_str::<Json>(rule).map_or_else(|_| rule.clone(), |j| j.to_string());
        r.fields.insert("rule", Value::Str(canonical));
    }
    if let Some(e) = &c.custom_event_type {
        r.fields.insert("event_type", lower(e));
    }
    if let Some(v) = c.default_conversion_value.as_deref().filter(|v| !v.trim().is_empty()) {
        if let Ok(m) = money_from_decimal_str("default_conversion_value", v) {
            if m.is_positive() {
                r.fields.insert("default_conversion_value", Value::Money(m));
            }
        }
    }
    let (description, marker) = match c.description.as_deref() {
        Some(d) => split_description(d),
        None => (None, None),
    };
    if let Some(d) = description {
        r.fields.insert("description", Value::Str(d));
    }
    r.owned = marker.is_some();
    Some(r)
}

// ───────────────────────────── writing ─────────────────────────────

/// An id that is known only when the batch runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ref {
    /// The object created by operation `i` of the batch.
    Op(usize),
    /// The creative created for operation `i` (an ad create or a creative swap).
    Creative(usize),
    /// The ownership ad label, when it has to be created first.
    Label,
}

/// A piece of a parameter value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Lit(String),
    Id(Ref),
}

/// A parameter value that may contain ids resolved later (known id → literal, same batch → placeholder).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Tmpl(pub Vec<Piece>);

impl Tmpl {
    pub fn lit(s: impl Into<String>) -> Tmpl {
        Tmpl(vec![Piece::Lit(s.into())])
    }
    pub fn id(r: Ref) -> Tmpl {
        Tmpl(vec![Piece::Id(r)])
    }
    pub fn refs(&self) -> impl Iterator<Item = &Ref> {
        self.0.iter().filter_map(|p| match p {
            Piece::Id(r) => Some(r),
            Piece::Lit(_) => None,
        })
    }
    /// Render with a resolver that gives a literal id or a `{result=…}` placeholder.
    pub fn render(&self, resolve: &dyn Fn(&Ref) -> Option<String>) -> Option<String> {
        let mut s = String::new();
        for p in &self.0 {
            match p {
                Piece::Lit(l) => s.push_str(l),
                Piece::Id(r) => s.push_str(&resolve(r)?),
            }
        }
        Some(s)
    }
}

/// An id for a write: known now, or produced by the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdOrRef {
    Known(String),
    Later(Ref),
}

impl IdOrRef {
    pub(crate) fn marker(&self, holes: &mut Vec<Ref>) -> String {
        match self {
            IdOrRef::Known(id) => id.clone(),
            IdOrRef::Later(r) => {
                holes.push(r.clone());
                format!("@@adsctl-ref-{}@@", holes.len() - 1)
            }
        }
    }
}

/// Serialise JSON whose string values may be ref markers into a template.
pub(crate) fn json_tmpl(j: &Json, holes: &[Ref]) -> Tmpl {
    let text = j.to_string();
    let mut pieces = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("@@adsctl-ref-") {
        let after = &rest[start + "@@adsctl-ref-".len()..];
        let Some(end) = after.find("@@") else { break };
        let Ok(n) = after[..end].parse::<usize>() else { break };
        let Some(r) = holes.get(n) else { break };
        pieces.push(Piece::Lit(rest[..start].to_string()));
        pieces.push(Piece::Id(r.clone()));
        rest = &after[end + 2..];
    }
    pieces.push(Piece::Lit(rest.to_string()));
    Tmpl(
        pieces
            .into_iter()
            .filter(|p| !matches!(p, Piece::Lit(s) if s.is_empty()))
            .collect(),
    )
}

/// Parameters of one write, in order.
pub type Params = Vec<(String, Tmpl)>;

fn want_str<'a>(field: &str, v: &'a Value) -> Result<&'a str, MappingError> {
    v.as_str().ok_or_else(|| MappingError::BadValue {
        field: field.into(),
        message: format!("expected text, got {v}"),
    })
}

fn want_money(field: &str, v: &Value) -> Result<Money, MappingError> {
    v.as_money().ok_or_else(|| MappingError::BadValue {
        field: field.into(),
        message: format!("expected an amount of money, got {v}"),
    })
}

fn want_int(field: &str, v: &Value) -> Result<i64, MappingError> {
    v.as_int().ok_or_else(|| MappingError::BadValue {
        field: field.into(),
        message: format!("expected a whole number, got {v}"),
    })
}

fn want_strs(field: &str, v: &Value) -> Result<Vec<String>, MappingError> {
    let items: Vec<&Value> = match v {
        Value::Set(s) => s.iter().collect(),
        Value::List(l) => l.iter().collect(),
        Value::Null => Vec::new(),
        other => {
            return Err(MappingError::BadValue {
                field: field.into(),
                message: format!("expected a list, got {other}"),
            })
        }
    };
    items
        .into_iter()
        .map(|x| want_str(field, x).map(str::to_string))
        .collect()
}

fn upper(field: &str, v: &Value) -> Result<String, MappingError> {
    Ok(want_str(field, v)?.to_ascii_uppercase())
}

fn unknown(field: &str) -> MappingError {
    MappingError::BadValue {
        field: field.into(),
        message: "not a field adsctl manages on Meta".into(),
    }
}

fn money_param(p: &mut Params, name: &str, field: &str, v: &Value, currency: Currency) -> Result<(), MappingError> {
    let minor = to_minor(field, want_money(field, v)?, currency)?;
    if minor < 0 {
        return Err(MappingError::BadValue {
            field: field.into(),
            message: "must not be negative".into(),
        });
    }
    p.push((name.into(), Tmpl::lit(minor.to_string())));
    Ok(())
}

/// Campaign parameters for a create (`name` and a default `special_ad_categories=[]` included) or an update.
pub fn campaign_params(
    name: Option<&str>,
    fields: &BTreeMap<String, Value>,
    currency: Currency,
) -> Result<Params, MappingError> {
    let mut p = Params::new();
    if let Some(n) = name {
        p.push(("name".into(), Tmpl::lit(n)));
        if !fields.contains_key("special_ad_categories") {
            p.push(("special_ad_categories".into(), Tmpl::lit("[]")));
        }
    }
    for (k, v) in fields {
        match k.as_str() {
            "status" | "objective" | "bid_strategy" => p.push((k.clone(), Tmpl::lit(upper(k, v)?))),
            "special_ad_categories" => {
                let cats: Vec<String> = want_strs(k, v)?.iter().map(|c| c.to_ascii_uppercase()).collect();
                p.push((k.clone(), Tmpl::lit(Json::from(cats).to_string())));
            }
            "budget.daily" => money_param(&mut p, "daily_budget", k, v, currency)?,
            "budget.lifetime" => money_param(&mut p, "lifetime_budget", k, v, currency)?,
            "start_time" | "stop_time" => p.push((k.clone(), Tmpl::lit(write_time(k, want_str(k, v)?)?))),
            // catalog ads: the catalog the campaign sells from
            "catalog_id" => p.push((
                "promoted_object".into(),
                Tmpl::lit(json!({ "product_catalog_id": want_str(k, v)? }).to_string()),
            )),
            _ => return Err(unknown(k)),
        }
    }
    Ok(p)
}

/// Ad set parameters. `targeting_base` is the live targeting spec (for an update) onto which the managed
/// `targeting.*` fields are laid; `audience` resolves a `Ref(audience)` to an id.
pub fn adset_params(
    name: Option<&str>,
    campaign: Option<IdOrRef>,
    fields: &BTreeMap<String, Value>,
    currency: Currency,
    targeting_base: Option<&Json>,
    audience: &dyn Fn(&Address) -> Option<IdOrRef>,
) -> Result<Params, MappingError> {
    let mut p = Params::new();
    if let Some(n) = name {
        p.push(("name".into(), Tmpl::lit(n)));
    }
    let mut holes = Vec::new();
    if let Some(c) = campaign {
        let m = c.marker(&mut holes);
        p.push(("campaign_id".into(), json_tmpl_str(&m, &holes)));
        holes.clear();
    }
    let mut targeting_touched = false;
    for (k, v) in fields {
        match k.as_str() {
            "status" | "optimization_goal" | "billing_event" | "bid_strategy" => {
                p.push((k.clone(), Tmpl::lit(upper(k, v)?)))
            }
            "promoted_object" => {
                let Value::Map(m) = v else { return Err(unknown(k)) };
                let field = |f: &str| m.get(f).and_then(Value::as_str).map(str::to_string);
                let mut own_holes = Vec::new();
                let mut j = match (field("pixel_id"), field("custom_event_type")) {
                    (Some(pixel), Some(event)) => {
                        serde_json::json!({"pixel_id": pixel, "custom_event_type": event.to_ascii_uppercase()})
                    }
                    // a catalog ad set may promote its product set alone
                    (None, event) if m.get("product_set").is_some() => match event {
                        Some(e) => serde_json::json!({"custom_event_type": e.to_ascii_uppercase()}),
                        None => serde_json::json!({}),
                    },
                    _ => return Err(unknown(k)),
                };
                match m.get("product_set") {
                    Some(Value::Ref(a)) => {
                        let id = audience(a).ok_or_else(|| MappingError::MissingRef {
                            field: "promoted_object.product_set".into(),
                            address: a.to_string(),
                        })?;
                        j["product_set_id"] = Json::String(id.marker(&mut own_holes));
                    }
                    Some(Value::Str(id)) => j["product_set_id"] = Json::String(id.clone()),
                    _ => {}
                }
                match m.get("custom_conversion") {
                    Some(Value::Ref(a)) => {
                        let id = audience(a).ok_or_else(|| MappingError::MissingRef {
                            field: "promoted_object.custom_conversion".into(),
                            address: a.to_string(),
                        })?;
                        j["custom_conversion_id"] = Json::String(id.marker(&mut own_holes));
                    }
                    Some(Value::Str(id)) => j["custom_conversion_id"] = Json::String(id.clone()),
                    _ => {}
                }
                p.push(("promoted_object".into(), json_tmpl(&j, &own_holes)));
            }
            "bid_amount" => money_param(&mut p, "bid_amount", k, v, currency)?,
            "budget.daily" => money_param(&mut p, "daily_budget", k, v, currency)?,
            "budget.lifetime" => money_param(&mut p, "lifetime_budget", k, v, currency)?,
            "start_time" | "end_time" => p.push((k.clone(), Tmpl::lit(write_time(k, want_str(k, v)?)?))),
            t if t.starts_with("targeting.") => targeting_touched = true,
            _ => return Err(unknown(k)),
        }
    }
    if targeting_touched {
        let t = targeting_json(targeting_base, fields, audience, &mut holes)?;
        p.push(("targeting".into(), json_tmpl(&t, &holes)));
    }
    Ok(p)
}

fn json_tmpl_str(s: &str, holes: &[Ref]) -> Tmpl {
    // A bare id (not inside JSON): the marker is the whole value.
    match s.strip_prefix("@@adsctl-ref-").and_then(|r| r.strip_suffix("@@")) {
        Some(n) => match n.parse::<usize>().ok().and_then(|n| holes.get(n)) {
            Some(r) => Tmpl::id(r.clone()),
            None => Tmpl::lit(s),
        },
        None => Tmpl::lit(s),
    }
}

/// The full targeting spec: the live one (if any) with every managed key replaced.
pub fn targeting_json(
    base: Option<&Json>,
    fields: &BTreeMap<String, Value>,
    audience: &dyn Fn(&Address) -> Option<IdOrRef>,
    holes: &mut Vec<Ref>,
) -> Result<Json, MappingError> {
    let mut t = match base {
        Some(Json::Object(o)) => o.clone(),
        _ => Map::new(),
    };
    // Read-only keys Meta returns but refuses on write.
    for k in [
        "effective_audience_network_positions",
        "effective_device_platforms",
        "effective_facebook_positions",
        "effective_instagram_positions",
        "effective_messenger_positions",
        "effective_publisher_platforms",
        "effective_threads_positions",
        "effective_whatsapp_positions",
    ] {
        t.remove(k);
    }
    let mut geo = match t.remove("geo_locations") {
        Some(Json::Object(o)) => o,
        _ => Map::new(),
    };
    for (k, v) in fields {
        let Some(key) = k.strip_prefix("targeting.") else {
            continue;
        };
        match key {
            "countries" => {
                let c: Vec<String> = want_strs(k, v)?.iter().map(|c| c.to_ascii_uppercase()).collect();
                geo.insert("countries".into(), json!(c));
            }
            "regions" | "cities" => {
                let keys: Vec<Json> = want_strs(k, v)?.into_iter().map(|k| json!({ "key": k })).collect();
                geo.insert(key.into(), Json::Array(keys));
            }
            "age_min" | "age_max" => {
                let n = want_int(k, v)?;
                if !(13..=65).contains(&n) {
                    return Err(MappingError::BadValue {
                        field: k.clone(),
                        message: format!("{n} is outside 13–65"),
                    });
                }
                t.insert(key.into(), json!(n));
            }
            "genders" => {
                let mut g = Vec::new();
                for s in want_strs(k, v)? {
                    g.push(match s.as_str() {
                        "male" => 1,
                        "female" => 2,
                        other => {
                            return Err(MappingError::BadValue {
                                field: k.clone(),
                                message: format!("`{other}` is not male or female"),
                            })
                        }
                    });
                }
                g.sort_unstable();
                t.insert(key.into(), json!(g));
            }
            "publisher_platforms" | "facebook_positions" | "instagram_positions" => {
                let l: Vec<String> = want_strs(k, v)?.iter().map(|s| s.to_ascii_lowercase()).collect();
                t.insert(key.into(), json!(l));
            }
            "custom_audiences" | "excluded_custom_audiences" => {
                let items: Vec<&Value> = match v {
                    Value::Set(s) => s.iter().collect(),
                    Value::List(l) => l.iter().collect(),
                    _ => Vec::new(),
                };
                let mut out = Vec::new();
                for item in items {
                    let id = match item {
                        Value::Ref(a) => audience(a).ok_or_else(|| MappingError::MissingRef {
                            field: k.clone(),
                            address: a.to_string(),
                        })?,
                        Value::Str(s) => IdOrRef::Known(s.clone()),
                        other => {
                            return Err(MappingError::BadValue {
                                field: k.clone(),
                                message: format!("expected an audience, got {other}"),
                            })
                        }
                    };
                    out.push(json!({ "id": id.marker(holes) }));
                }
                t.insert(key.into(), Json::Array(out));
            }
            _ => return Err(unknown(k)),
        }
    }
    if !geo.is_empty() {
        t.insert("geo_locations".into(), Json::Object(geo));
    }
    Ok(Json::Object(t))
}

/// `object_story_spec` of a new creative from the full set of `creative.*` fields.
pub fn creative_spec(fields: &BTreeMap<String, Value>) -> Result<Json, MappingError> {
    let mut spec = Map::new();
    let mut ld = Map::new();
    let mut cta: Option<String> = None;
    for (k, v) in fields {
        let Some(key) = k.strip_prefix("creative.") else {
            continue;
        };
        if matches!(key, "dynamic" | "product_set") {
            // catalog ads: `template_data` instead of `link_data`; the product set is the creative's own parameter
            continue;
        }
        let s = want_str(k, v)?.to_string();
        match key {
            "page_id" => {
                spec.insert("page_id".into(), Json::String(s));
            }
            "link" => {
                ld.insert("link".into(), Json::String(s));
            }
            "message" => {
                ld.insert("message".into(), Json::String(s));
            }
            "headline" => {
                ld.insert("name".into(), Json::String(s));
            }
            "description" => {
                ld.insert("description".into(), Json::String(s));
            }
            "image_hash" => {
                ld.insert("image_hash".into(), Json::String(s));
            }
            "image_url" => {
                ld.insert("picture".into(), Json::String(s));
            }
            "call_to_action" => cta = Some(s.to_ascii_uppercase()),
            _ => return Err(unknown(k)),
        }
    }
    let dynamic = matches!(fields.get("creative.dynamic"), Some(Value::Bool(true)));
    if let Some(t) = cta {
        let mut c = Map::new();
        c.insert("type".into(), Json::String(t));
        if let Some(link) = ld.get("link").cloned() {
            c.insert("value".into(), json!({ "link": link }));
        }
        ld.insert("call_to_action".into(), Json::Object(c));
    }
    if !spec.contains_key("page_id") {
        return Err(MappingError::BadValue {
            field: "creative.page_id".into(),
            message: "a Meta creative needs the Facebook Page it runs as".into(),
        });
    }
    if !ld.is_empty() {
        let key = if dynamic { "template_data" } else { "link_data" };
        spec.insert(key.into(), Json::Object(ld));
    }
    Ok(Json::Object(spec))
}

/// Parameters of a creative create; `product_set` is the product set a dynamic creative shows (`product_set_id`).
pub fn creative_params(
    name: &str,
    fields: &BTreeMap<String, Value>,
    product_set: Option<IdOrRef>,
) -> Result<Params, MappingError> {
    let spec = creative_spec(fields)?;
    let mut p = vec![
        ("name".into(), Tmpl::lit(name)),
        ("object_story_spec".into(), Tmpl::lit(spec.to_string())),
    ];
    if let Some(set) = product_set {
        let mut holes = Vec::new();
        let m = set.marker(&mut holes);
        p.push(("product_set_id".into(), json_tmpl_str(&m, &holes)));
    }
    Ok(p)
}

/// `creative={"creative_id":"<id>"}`
pub fn creative_ref_param(creative: IdOrRef) -> (String, Tmpl) {
    let mut holes = Vec::new();
    let m = creative.marker(&mut holes);
    ("creative".into(), json_tmpl(&json!({ "creative_id": m }), &holes))
}

/// `adlabels=[{"id":"<label id>"}]`
pub fn adlabels_param(label: IdOrRef) -> (String, Tmpl) {
    let mut holes = Vec::new();
    let m = label.marker(&mut holes);
    ("adlabels".into(), json_tmpl(&json!([{ "id": m }]), &holes))
}

/// A bare id parameter (`adset_id`, `campaign_id`, `origin_audience_id`).
pub fn id_param(name: &str, id: IdOrRef) -> (String, Tmpl) {
    match id {
        IdOrRef::Known(s) => (name.into(), Tmpl::lit(s)),
        IdOrRef::Later(r) => (name.into(), Tmpl::id(r)),
    }
}

/// Ad parameters besides the creative (which is a swap): `status`.
pub fn ad_params(name: Option<&str>, fields: &BTreeMap<String, Value>) -> Result<Params, MappingError> {
    let mut p = Params::new();
    if let Some(n) = name {
        p.push(("name".into(), Tmpl::lit(n)));
    }
    for (k, v) in fields {
        match k.as_str() {
            "status" => p.push((k.clone(), Tmpl::lit(upper(k, v)?))),
            c if c.starts_with("creative.") => {}
            _ => return Err(unknown(k)),
        }
    }
    Ok(p)
}

/// Customer-file audience parameters (create adds `subtype=CUSTOM`). `members` are uploaded separately.
pub fn audience_params(name: Option<&str>, fields: &BTreeMap<String, Value>) -> Result<Params, MappingError> {
    let mut p = Params::new();
    if let Some(n) = name {
        p.push(("name".into(), Tmpl::lit(n)));
        p.push(("subtype".into(), Tmpl::lit("CUSTOM")));
        if !fields.contains_key("customer_file_source") {
            p.push(("customer_file_source".into(), Tmpl::lit("USER_PROVIDED_ONLY")));
        }
    }
    for (k, v) in fields {
        match k.as_str() {
            // written with adsctl's marker by the caller (see `marked_description`)
            "description" => {
                want_str(k, v)?;
            }
            "customer_file_source" => p.push((k.clone(), Tmpl::lit(upper(k, v)?))),
            "members" => {}
            _ => return Err(unknown(k)),
        }
    }
    Ok(p)
}

/// Custom conversion parameters: for a create (`name` given) the pixel, rule and event type too; an update may
/// change only the default value (the name and the marked description are added by the caller). A whole amount
/// goes out as an integer (the node reads it back as an int).
pub fn custom_conversion_params(name: Option<&str>, fields: &BTreeMap<String, Value>) -> Result<Params, MappingError> {
    let mut p = Params::new();
    if let Some(n) = name {
        p.push(("name".into(), Tmpl::lit(n)));
    }
    for (k, v) in fields {
        match (k.as_str(), name.is_some()) {
            ("pixel_id", true) => p.push(("event_source_id".into(), Tmpl::lit(want_str(k, v)?))),
            ("rule", true) => p.push(("rule".into(), Tmpl::lit(want_str(k, v)?))),
            ("event_type", true) => p.push(("custom_event_type".into(), Tmpl::lit(upper(k, v)?))),
            ("pixel_id" | "rule" | "event_type", false) => {
                return Err(MappingError::BadValue {
                    field: k.clone(),
                    message: "fixed once the custom conversion exists (the plan should replace it)".into(),
                })
            }
            ("default_conversion_value", _) => {
                let m = want_money(k, v)?;
                if m.micros() % 1_000_000 != 0 {
                    return Err(MappingError::BadValue {
                        field: k.clone(),
                        message: "Meta keeps whole units only".into(),
                    });
                }
                p.push((k.clone(), Tmpl::lit((m.micros() / 1_000_000).to_string())));
            }
            // written with adsctl's marker by the caller (see `marked_description`)
            ("description", _) => {
                want_str(k, v)?;
            }
            _ => return Err(unknown(k)),
        }
    }
    Ok(p)
}

/// Lookalike parameters: `subtype=LOOKALIKE`, `origin_audience_id`, `lookalike_spec={"country","ratio"}`.
pub fn lookalike_params(
    name: &str,
    fields: &BTreeMap<String, Value>,
    origin: Option<IdOrRef>,
) -> Result<Params, MappingError> {
    let country = fields
        .get("country")
        .map(|v| upper("country", v))
        .transpose()?
        .ok_or_else(|| MappingError::BadValue {
            field: "country".into(),
            message: "a lookalike needs a country".into(),
        })?;
    let ratio = match fields.get("ratio") {
        Some(Value::Decimal(d)) => *d,
        Some(Value::Int(i)) => Decimal::from(*i),
        Some(other) => {
            return Err(MappingError::BadValue {
                field: "ratio".into(),
                message: format!("expected a decimal, got {other}"),
            })
        }
        None => {
            return Err(MappingError::BadValue {
                field: "ratio".into(),
                message: "a lookalike needs a ratio".into(),
            })
        }
    };
    let step = Decimal::new(1, 2);
    if ratio < step || ratio > Decimal::new(20, 2) || (ratio / step).fract() != Decimal::ZERO {
        return Err(MappingError::BadValue {
            field: "ratio".into(),
            message: format!("{} must be 0.01–0.20 in steps of 0.01", ratio.normalize()),
        });
    }
    let origin = origin.ok_or_else(|| MappingError::BadValue {
        field: "origin".into(),
        message: "a lookalike needs an origin audience".into(),
    })?;
    for k in fields.keys() {
        if !matches!(k.as_str(), "country" | "ratio" | "origin") {
            return Err(unknown(k));
        }
    }
    // The ratio goes out as a JSON number written from the exact decimal (no float on the way).
    let spec = format!(
        "{{\"country\":{},\"ratio\":{}}}",
        Json::String(country),
        ratio.normalize()
    );
    Ok(vec![
        ("name".into(), Tmpl::lit(name)),
        ("subtype".into(), Tmpl::lit("LOOKALIKE")),
        id_param("origin_audience_id", origin),
        ("lookalike_spec".into(), Tmpl::lit(spec)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(c: &str) -> Currency {
        Currency::from_code(c).unwrap()
    }

    fn render(t: &Tmpl) -> String {
        t.render(&|r| {
            Some(match r {
                Ref::Op(i) => format!("{{result=op{i}:$.id}}"),
                Ref::Creative(i) => format!("{{result=op{i}c:$.id}}"),
                Ref::Label => "{result=label:$.id}".into(),
            })
        })
        .unwrap()
    }

    fn params(p: &Params) -> BTreeMap<String, String> {
        p.iter().map(|(k, v)| (k.clone(), render(v))).collect()
    }

    #[test]
    fn budgets_use_the_meta_offset() {
        let jpy = Money::parse("5000", cur("JPY")).unwrap();
        assert_eq!(to_minor("b", jpy, cur("JPY")).unwrap(), 5000);
        let usd = Money::parse("50.00", Currency::USD).unwrap();
        assert_eq!(to_minor("b", usd, Currency::USD).unwrap(), 5000);
        // COP has two ISO decimals but offset 1 on Meta: cents are too precise.
        let cop = Money::parse("5000.50", cur("COP")).unwrap();
        assert!(matches!(
            to_minor("budget.daily", cop, cur("COP")),
            Err(MappingError::TooPrecise { .. })
        ));
        assert_eq!(
            to_minor("b", Money::parse("5000", cur("COP")).unwrap(), cur("COP")).unwrap(),
            5000
        );
        // A sub-cent amount in USD.
        assert!(to_minor("b", Money::from_micros(12_345), Currency::USD).is_err());
        // KWD (3 ISO decimals) has offset 100 on Meta.
        assert!(to_minor("b", Money::from_micros(1_001_000), cur("KWD")).is_err());
        assert_eq!(from_minor("b", "5000", cur("JPY")).unwrap(), jpy);
        assert_eq!(from_minor("b", "5000", Currency::USD).unwrap(), usd);
        assert!(from_minor("b", "12.5", Currency::USD).is_err());
    }

    #[test]
    fn decimal_spend_is_exact() {
        assert_eq!(money_from_decimal_str("spend", "12.34").unwrap().micros(), 12_340_000);
        assert_eq!(money_from_decimal_str("spend", "0.000001").unwrap().micros(), 1);
        assert!(money_from_decimal_str("spend", "0.0000001").is_err());
        assert!(money_from_decimal_str("spend", "abc").is_err());
    }

    #[test]
    fn times_round_trip() {
        assert_eq!(read_time("2026-03-01T09:00:00+0900"), "2026-03-01T00:00:00Z");
        assert_eq!(read_time("2026-03-01T00:00:00Z"), "2026-03-01T00:00:00Z");
        assert_eq!(
            write_time("t", "2026-03-01T00:00:00Z").unwrap(),
            "2026-03-01T00:00:00+0000"
        );
        assert!(write_time("t", "next tuesday").is_err());
    }

    #[test]
    fn campaign_create_params() {
        let f: BTreeMap<String, Value> = [
            ("status".to_string(), Value::str("paused")),
            ("objective".to_string(), Value::str("outcome_traffic")),
            (
                "budget.daily".to_string(),
                Value::Money(Money::parse("30", Currency::USD).unwrap()),
            ),
            ("bid_strategy".to_string(), Value::str("lowest_cost_without_cap")),
        ]
        .into();
        let p = params(&campaign_params(Some("Spring"), &f, Currency::USD).unwrap());
        assert_eq!(p["name"], "Spring");
        assert_eq!(p["status"], "PAUSED");
        assert_eq!(p["objective"], "OUTCOME_TRAFFIC");
        assert_eq!(p["daily_budget"], "3000");
        assert_eq!(p["special_ad_categories"], "[]");
        assert_eq!(p["bid_strategy"], "LOWEST_COST_WITHOUT_CAP");
        let housing: BTreeMap<String, Value> = [(
            "special_ad_categories".to_string(),
            Value::Set([Value::str("housing")].into()),
        )]
        .into();
        let p = params(&campaign_params(Some("H"), &housing, Currency::USD).unwrap());
        assert_eq!(p["special_ad_categories"], r#"["HOUSING"]"#);
        let bad: BTreeMap<String, Value> = [("bogus".to_string(), Value::Int(1))].into();
        assert!(campaign_params(None, &bad, Currency::USD).is_err());
    }

    #[test]
    fn adset_targeting_merges_onto_live_spec() {
        let live = json!({
            "geo_locations": {"countries": ["US"], "location_types": ["home"]},
            "age_min": 18, "age_max": 65,
            "flexible_spec": [{"interests": [{"id": "1", "name": "Running"}]}],
            "effective_publisher_platforms": ["facebook"]
        });
        let aud = Address::account("acme").child(Kind::Audience, "Subscribers");
        let f: BTreeMap<String, Value> = [
            (
                "targeting.countries".to_string(),
                Value::Set([Value::str("US"), Value::str("CA")].into()),
            ),
            ("targeting.age_min".to_string(), Value::Int(25)),
            (
                "targeting.genders".to_string(),
                Value::Set([Value::str("female")].into()),
            ),
            (
                "targeting.custom_audiences".to_string(),
                Value::Set([Value::reference(aud.clone())].into()),
            ),
            ("status".to_string(), Value::str("active")),
        ]
        .into();
        let resolve = |a: &Address| (a == &aud).then_some(IdOrRef::Later(Ref::Op(0)));
        let p = adset_params(None, None, &f, Currency::USD, Some(&live), &resolve).unwrap();
        let p = params(&p);
        assert_eq!(p["status"], "ACTIVE");
        let t = &p["targeting"];
        assert!(t.contains(r#""custom_audiences":[{"id":"{result=op0:$.id}"}]"#), "{t}");
        // After the batch substitutes the id, it is valid JSON with every unmanaged key kept.
        let t: Json = serde_json::from_str(&t.replace("{result=op0:$.id}", "777")).unwrap();
        assert_eq!(t["geo_locations"]["countries"], json!(["CA", "US"]));
        assert_eq!(t["geo_locations"]["location_types"], json!(["home"]));
        assert_eq!(t["age_min"], 25);
        assert_eq!(t["age_max"], 65);
        assert_eq!(t["genders"], json!([2]));
        assert_eq!(t["flexible_spec"][0]["interests"][0]["name"], "Running");
        assert!(t.get("effective_publisher_platforms").is_none());
        assert_eq!(t["custom_audiences"], json!([{"id": "777"}]));
    }

    #[test]
    fn adset_create_refers_to_a_pending_campaign() {
        let f: BTreeMap<String, Value> = [
            (
                "bid_amount".to_string(),
                Value::Money(Money::parse("1.5", Currency::USD).unwrap()),
            ),
            ("optimization_goal".to_string(), Value::str("link_clicks")),
        ]
        .into();
        let p = adset_params(
            Some("US 25-45"),
            Some(IdOrRef::Later(Ref::Op(0))),
            &f,
            Currency::USD,
            None,
            &|_| None,
        )
        .unwrap();
        let p = params(&p);
        assert_eq!(p["campaign_id"], "{result=op0:$.id}");
        assert_eq!(p["bid_amount"], "150");
        assert_eq!(p["optimization_goal"], "LINK_CLICKS");
        assert!(!p.contains_key("targeting"));
    }

    #[test]
    fn missing_audience_id_is_an_error() {
        let aud = Address::account("acme").child(Kind::Audience, "Nobody");
        let f: BTreeMap<String, Value> = [(
            "targeting.custom_audiences".to_string(),
            Value::Set([Value::reference(aud)].into()),
        )]
        .into();
        let e = adset_params(None, None, &f, Currency::USD, None, &|_| None).unwrap_err();
        assert!(matches!(e, MappingError::MissingRef { .. }));
    }

    fn creative_fields_full() -> BTreeMap<String, Value> {
        [
            ("creative.page_id".to_string(), Value::str("1122334455")),
            (
                "creative.link".to_string(),
                Value::Url("https://example.com/shoes".into()),
            ),
            ("creative.message".to_string(), Value::str("Spring is here.")),
            ("creative.headline".to_string(), Value::str("Shoes")),
            ("creative.call_to_action".to_string(), Value::str("learn_more")),
            (
                "creative.image_url".to_string(),
                Value::Url("https://example.com/a.png".into()),
            ),
        ]
        .into()
    }

    #[test]
    fn creative_round_trip() {
        let f = creative_fields_full();
        let spec = creative_spec(&f).unwrap();
        assert_eq!(spec["page_id"], "1122334455");
        assert_eq!(spec["link_data"]["name"], "Shoes");
        assert_eq!(spec["link_data"]["picture"], "https://example.com/a.png");
        assert_eq!(spec["link_data"]["call_to_action"]["type"], "LEARN_MORE");
        assert_eq!(
            spec["link_data"]["call_to_action"]["value"]["link"],
            "https://example.com/shoes"
        );
        assert_eq!(creative_fields(&spec), f);
        let mut no_page = f.clone();
        no_page.remove("creative.page_id");
        assert!(creative_spec(&no_page).is_err());
        let p = params(&vec![creative_ref_param(IdOrRef::Later(Ref::Creative(4)))]);
        assert_eq!(p["creative"], r#"{"creative_id":"{result=op4c:$.id}"}"#);
        let p = params(&vec![adlabels_param(IdOrRef::Known("55".into()))]);
        assert_eq!(p["adlabels"], r#"[{"id":"55"}]"#);
    }

    #[test]
    fn reads_campaigns_ad_sets_and_ads() {
        let audiences: BTreeMap<String, Address> = [(
            "900".to_string(),
            Address::account("acme").child(Kind::Audience, "Subscribers"),
        )]
        .into();
        let ctx = ReadContext {
            account: "acme",
            currency: cur("JPY"),
            label_id: Some("42"),
            audiences: &audiences,
            custom_conversions: &BTreeMap::new(),
            product_sets: &BTreeMap::new(),
        };
        let c: wire::Campaign = serde_json::from_value(json!({
            "id": "1", "name": "Spring/Sale", "status": "ACTIVE", "effective_status": "ACTIVE",
            "objective": "OUTCOME_TRAFFIC", "special_ad_categories": [], "daily_budget": "5000",
            "bid_strategy": "LOWEST_COST_WITHOUT_CAP", "start_time": "2026-03-01T09:00:00+0900",
            "adlabels": [{"id": "42", "name": "adsctl-managed"}], "updated_time": "2026-03-01T00:00:00+0000"
        }))
        .unwrap();
        let r = campaign_resource(&c, &ctx).unwrap();
        assert_eq!(r.address.to_string(), "acme/campaign/Spring%2FSale");
        assert!(r.owned);
        assert_eq!(
            r.fields["budget.daily"],
            Value::Money(Money::parse("5000", cur("JPY")).unwrap())
        );
        assert_eq!(r.fields["special_ad_categories"], Value::Set(BTreeSet::new()));
        assert_eq!(r.fields["status"], Value::str("active"));
        assert_eq!(r.fields["start_time"], Value::str("2026-03-01T00:00:00Z"));
        let s: wire::AdSet = serde_json::from_value(json!({
            "id": "2", "name": "US 25-45", "campaign_id": "1", "status": "PAUSED",
            "optimization_goal": "LINK_CLICKS", "billing_event": "IMPRESSIONS", "bid_amount": 150,
            "targeting": {"geo_locations": {"countries": ["us"], "regions": [{"key": "3847", "name": "California"}]},
                          "age_min": 25, "age_max": 45, "genders": [1],
                          "publisher_platforms": ["facebook", "instagram"], "facebook_positions": ["feed"],
                          "custom_audiences": [{"id": "900", "name": "Subscribers"}]},
            "adlabels": []
        }))
        .unwrap();
        let rs = adset_resource(&s, &r.address, &ctx).unwrap();
        assert_eq!(rs.address.to_string(), "acme/campaign/Spring%2FSale/ad_set/US 25-45");
        assert!(!rs.owned);
        assert_eq!(rs.fields["targeting.countries"], Value::Set([Value::str("US")].into()));
        assert_eq!(rs.fields["targeting.regions"], Value::Set([Value::str("3847")].into()));
        assert_eq!(rs.fields["targeting.genders"], Value::Set([Value::str("male")].into()));
        assert_eq!(rs.fields["targeting.age_max"], Value::Int(45));
        assert_eq!(
            rs.fields["bid_amount"],
            Value::Money(Money::parse("150", cur("JPY")).unwrap())
        );
        assert_eq!(
            rs.fields["targeting.custom_audiences"],
            Value::Set([Value::reference(audiences["900"].clone())].into())
        );
        let a: wire::Ad = serde_json::from_value(json!({
            "id": "3", "name": "Shoes carousel", "adset_id": "2", "status": "ACTIVE",
            "effective_status": "DISAPPROVED", "creative": {"id": "7"},
            "ad_review_feedback": {"global": {"Prohibited content": "Ads can't promote weapons."}},
            "adlabels": [{"id": "42", "name": "adsctl-managed"}]
        }))
        .unwrap();
        let cr: wire::Creative = serde_json::from_value(json!({
            "id": "7", "object_story_spec": creative_spec(&creative_fields_full()).unwrap()
        }))
        .unwrap();
        let ra = ad_resource(&a, &rs.address, Some(&cr), &ctx);
        assert_eq!(
            ra.address.to_string(),
            "acme/campaign/Spring%2FSale/ad_set/US 25-45/ad/Shoes carousel"
        );
        assert_eq!(ra.observed["effective_status"], "disapproved");
        assert_eq!(
            ra.observed["review_feedback"],
            "Prohibited content: Ads can't promote weapons."
        );
        assert_eq!(ra.fields["creative.headline"], Value::str("Shoes"));
        assert!(ra.owned);
    }

    #[test]
    fn reads_audiences_and_lookalikes() {
        let audiences: BTreeMap<String, Address> = [(
            "900".to_string(),
            Address::account("acme").child(Kind::Audience, "Subscribers"),
        )]
        .into();
        let ctx = ReadContext {
            account: "acme",
            currency: Currency::USD,
            label_id: None,
            audiences: &audiences,
            custom_conversions: &BTreeMap::new(),
            product_sets: &BTreeMap::new(),
        };
        let a: wire::CustomAudience = serde_json::from_value(json!({
            "id": "900", "name": "Subscribers", "subtype": "CUSTOM", "description": "Newsletter",
            "customer_file_source": "USER_PROVIDED_ONLY", "approximate_count_lower_bound": 1000
        }))
        .unwrap();
        let r = audience_resource(&a, &ctx).unwrap();
        assert_eq!(r.kind, Kind::Audience);
        assert_eq!(r.fields["customer_file_source"], Value::str("user_provided_only"));
        let l: wire::CustomAudience = serde_json::from_value(json!({
            "id": "901", "name": "LAL US 1%", "subtype": "LOOKALIKE",
            "lookalike_spec": {"country": "US", "ratio": 0.01, "origin": [{"id": "900", "name": "Subscribers", "type": "custom_audience"}]}
        }))
        .unwrap();
        let r = audience_resource(&l, &ctx).unwrap();
        assert_eq!(r.address.to_string(), "acme/lookalike_audience/LAL US 1%25");
        assert_eq!(r.fields["ratio"], Value::Decimal(Decimal::new(1, 2)));
        assert_eq!(r.fields["origin"], Value::reference(audiences["900"].clone()));
        let web: wire::CustomAudience =
            serde_json::from_value(json!({"id": "5", "name": "Visitors", "subtype": "WEBSITE"})).unwrap();
        assert!(audience_resource(&web, &ctx).is_none());
    }

    #[test]
    fn lookalike_params_are_exact() {
        let f: BTreeMap<String, Value> = [
            ("country".to_string(), Value::str("us")),
            ("ratio".to_string(), Value::Decimal(Decimal::new(3, 2))),
        ]
        .into();
        let p = params(&lookalike_params("LAL", &f, Some(IdOrRef::Later(Ref::Op(2)))).unwrap());
        assert_eq!(p["lookalike_spec"], r#"{"country":"US","ratio":0.03}"#);
        assert_eq!(p["origin_audience_id"], "{result=op2:$.id}");
        assert_eq!(p["subtype"], "LOOKALIKE");
        let bad: BTreeMap<String, Value> = [
            ("country".to_string(), Value::str("US")),
            ("ratio".to_string(), Value::Decimal(Decimal::new(25, 2))),
        ]
        .into();
        assert!(lookalike_params("LAL", &bad, Some(IdOrRef::Known("1".into()))).is_err());
        let bad_step: BTreeMap<String, Value> = [
            ("country".to_string(), Value::str("US")),
            ("ratio".to_string(), Value::Decimal(Decimal::new(15, 3))),
        ]
        .into();
        assert!(lookalike_params("LAL", &bad_step, Some(IdOrRef::Known("1".into()))).is_err());
    }

    #[test]
    fn custom_conversion_params_create_and_update() {
        let usd = |s: &str| Value::Money(Money::parse(s, Currency::USD).unwrap());
        let f: BTreeMap<String, Value> = [
            ("pixel_id".to_string(), Value::str("123")),
            ("rule".to_string(), Value::str(r#"{"url":{"i_contains":"thanks"}}"#)),
            ("event_type".to_string(), Value::str("purchase")),
            ("default_conversion_value".to_string(), usd("25")),
            ("description".to_string(), Value::str("Orders")),
        ]
        .into();
        let p = params(&custom_conversion_params(Some("Thanks"), &f).unwrap());
        assert_eq!(p["name"], "Thanks");
        assert_eq!(p["event_source_id"], "123");
        assert_eq!(p["rule"], r#"{"url":{"i_contains":"thanks"}}"#);
        assert_eq!(p["custom_event_type"], "PURCHASE");
        // an integer: the node reads it back as an int
        assert_eq!(p["default_conversion_value"], "25");
        // the description goes out with the marker, added by the caller
        assert!(!p.contains_key("description"));
        // an update may not touch what is fixed at creation, nor send a fraction
        for fixed in ["pixel_id", "rule", "event_type"] {
            let one: BTreeMap<String, Value> = [(fixed.to_string(), f[fixed].clone())].into();
            assert!(custom_conversion_params(None, &one).is_err(), "{fixed}");
        }
        let frac: BTreeMap<String, Value> = [("default_conversion_value".to_string(), usd("2.50"))].into();
        assert!(custom_conversion_params(None, &frac).is_err());
        let ok: BTreeMap<String, Value> = [("default_conversion_value".to_string(), usd("30"))].into();
        assert_eq!(
            params(&custom_conversion_params(None, &ok).unwrap())["default_conversion_value"],
            "30"
        );
    }

    #[test]
    fn reads_custom_conversions_and_promoted_ones() {
        let cc_addr = Address::account("acme").child(Kind::CustomConversion, "Thanks");
        let ccs: BTreeMap<String, Address> = [("77".to_string(), cc_addr.clone())].into();
        let ctx = ReadContext {
            account: "acme",
            currency: Currency::USD,
            label_id: None,
            audiences: &BTreeMap::new(),
            custom_conversions: &ccs,
            product_sets: &BTreeMap::new(),
        };
        let c: wire::CustomConversion = serde_json::from_value(json!({
            "id": "77", "name": "Thanks", "custom_event_type": "PURCHASE", "default_conversion_value": 25,
            "description": "Orders [adsctl-managed]", "rule": "{ \"url\" : { \"i_contains\" : \"thanks\" } }",
            "pixel": {"id": "123"}, "is_archived": false
        }))
        .unwrap();
        let r = custom_conversion_resource(&c, &ctx).unwrap();
        assert_eq!(r.address, cc_addr);
        assert!(r.owned);
        assert_eq!(r.fields["pixel_id"], Value::str("123"));
        // compared as JSON: Meta's spacing is not drift
        assert_eq!(r.fields["rule"], Value::str(r#"{"url":{"i_contains":"thanks"}}"#));
        assert_eq!(r.fields["event_type"], Value::str("purchase"));
        assert_eq!(
            r.fields["default_conversion_value"],
            Value::Money(Money::parse("25", Currency::USD).unwrap())
        );
        assert_eq!(r.fields["description"], Value::str("Orders"));
        let theirs: wire::CustomConversion =
            serde_json::from_value(json!({"id": "78", "name": "Theirs", "description": "x"})).unwrap();
        assert!(!custom_conversion_resource(&theirs, &ctx).unwrap().owned);
        let archived: wire::CustomConversion =
            serde_json::from_value(json!({"id": "79", "name": "Old", "is_archived": true})).unwrap();
        assert!(custom_conversion_resource(&archived, &ctx).is_none());

        // an ad set promoting it reads the reference back; one the read does not know keeps its id
        let s: wire::AdSet = serde_json::from_value(json!({"id": "5", "name": "Set", "promoted_object":
            {"pixel_id": 123, "custom_event_type": "PURCHASE", "custom_conversion_id": "77"}}))
        .unwrap();
        let campaign = Address::account("acme").child(Kind::Campaign, "C");
        let r = adset_resource(&s, &campaign, &ctx).unwrap();
        let Value::Map(po) = &r.fields["promoted_object"] else {
            panic!()
        };
        assert_eq!(po.get("custom_conversion"), Some(&Value::reference(cc_addr.clone())));

        // and writes it as custom_conversion_id, a pending create's id as a batch reference
        let f: BTreeMap<String, Value> = [("promoted_object".to_string(), r.fields["promoted_object"].clone())].into();
        let p = adset_params(None, None, &f, Currency::USD, None, &|a| {
            (a == &cc_addr).then_some(IdOrRef::Later(Ref::Op(3)))
        })
        .unwrap();
        let po: Json = serde_json::from_str(&params(&p)["promoted_object"].replace("{result=op3:$.id}", "X")).unwrap();
        assert_eq!(
            po,
            json!({"pixel_id": "123", "custom_event_type": "PURCHASE", "custom_conversion_id": "X"})
        );
        assert!(adset_params(None, None, &f, Currency::USD, None, &|_| None).is_err());
    }
}
