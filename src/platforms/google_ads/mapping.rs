//! Resource fields ↔ Google Ads JSON (proto3 JSON mapping: camelCase, enums as names, int64 as strings).
//! Pure functions: no I/O, so every field is unit-tested in both directions.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value as Json};

use crate::model::{Money, Value};

pub type Fields = BTreeMap<String, Value>;
/// A JSON object and the update-mask paths it sets.
pub type Masked = (Map<String, Json>, Vec<String>);

/// `ENABLED` → `enabled`.
pub fn lower(s: &str) -> String {
    s.to_ascii_lowercase()
}
/// `phrase` → `PHRASE`.
pub fn upper(s: &str) -> String {
    s.to_ascii_uppercase()
}

/// Walk a dotted camelCase path in a JSON object.
pub fn get<'a>(j: &'a Json, path: &str) -> Option<&'a Json> {
    path.split('.').try_fold(j, |cur, k| cur.get(k))
}
pub fn get_str<'a>(j: &'a Json, path: &str) -> Option<&'a str> {
    get(j, path).and_then(Json::as_str)
}
/// int64 fields arrive as JSON strings (numbers are accepted too).
pub fn get_i64(j: &Json, path: &str) -> Option<i64> {
    match get(j, path)? {
        Json::String(s) => s.parse().ok(),
        Json::Number(n) => n.as_i64(),
        _ => None,
    }
}
pub fn get_bool(j: &Json, path: &str) -> Option<bool> {
    get(j, path).and_then(Json::as_bool)
}
/// A double (target ROAS) as an exact decimal of its shortest round-trip text.
pub fn get_decimal(j: &Json, path: &str) -> Option<Decimal> {
    match get(j, path)? {
        Json::Number(n) => decimal_of_number(n),
        Json::String(s) => Decimal::from_str(s).ok(),
        _ => None,
    }
}
pub fn decimal_of_number(n: &serde_json::Number) -> Option<Decimal> {
    if let Some(i) = n.as_i64() {
        return Some(Decimal::from(i));
    }
    let text = n.to_string();
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
        .map(|d| d.normalize())
}
fn decimal_json(d: Decimal) -> Json {
    d.to_f64()
        .and_then(serde_json::Number::from_f64)
        .map(Json::Number)
        .unwrap_or(Json::Null)
}
fn micros(m: Money) -> Json {
    Json::String(m.micros().to_string())
}
fn money_at(j: &Json, path: &str) -> Option<Value> {
    get_i64(j, path).map(|m| Value::Money(Money::from_micros(m)))
}

/// Set `path` (dotted camelCase) in a JSON object, creating objects on the way.
pub fn put(obj: &mut Map<String, Json>, path: &str, v: Json) {
    let mut parts = path.split('.').peekable();
    let mut cur = obj;
    while let Some(k) = parts.next() {
        if parts.peek().is_none() {
            cur.insert(k.to_string(), v);
            return;
        }
        let entry = cur.entry(k.to_string()).or_insert_with(|| Json::Object(Map::new()));
        if !entry.is_object() {
            *entry = Json::Object(Map::new());
        }
        match entry {
            Json::Object(m) => cur = m,
            _ => return,
        }
    }
}

/// Resource name → the id after the last `/` (`45~67` for composite ids).
pub fn id_of(resource_name: &str) -> String {
    resource_name.rsplit('/').next().unwrap_or(resource_name).to_string()
}

// ---------------------------------------------------------------------------------------------------------
// Bidding

/// (strategy name, JSON oneof member) pairs.
pub const STRATEGIES: [(&str, &str); 6] = [
    ("manual_cpc", "manualCpc"),
    ("maximize_conversions", "maximizeConversions"),
    ("maximize_conversion_value", "maximizeConversionValue"),
    ("target_cpa", "targetCpa"),
    ("target_roas", "targetRoas"),
    ("target_spend", "targetSpend"),
];

pub fn strategy_member(strategy: &str) -> Option<&'static str> {
    STRATEGIES.iter().find(|(s, _)| *s == strategy).map(|(_, m)| *m)
}

/// The JSON sub-field of a `bidding.*` field inside a strategy member, when that member has it.
pub fn bidding_subfield(member: &str, field: &str) -> Option<&'static str> {
    match (member, field) {
        ("maximizeConversions" | "targetCpa", "bidding.target_cpa") => Some("targetCpaMicros"),
        ("maximizeConversionValue" | "targetRoas", "bidding.target_roas") => Some("targetRoas"),
        ("targetSpend" | "targetCpa" | "targetRoas" | "maximizeConversions", "bidding.cpc_bid_ceiling") => {
            Some("cpcBidCeilingMicros")
        }
        ("manualCpc", "bidding.enhanced_cpc") => Some("enhancedCpcEnabled"),
        _ => None,
    }
}

fn bidding_value_json(field: &str, v: &Value) -> Option<Json> {
    match (field, v) {
        ("bidding.target_roas", Value::Decimal(d)) => Some(decimal_json(*d)),
        (_, Value::Money(m)) => Some(micros(*m)),
        (_, Value::Bool(b)) => Some(Json::Bool(*b)),
        _ => None,
    }
}

/// The bidding strategy of a campaign row: from `biddingStrategyType`, else from the member present.
pub fn strategy_of(campaign: &Json) -> Option<String> {
    if let Some(t) = get_str(campaign, "biddingStrategyType") {
        let t = lower(t);
        if strategy_member(&t).is_some() {
            return Some(t);
        }
    }
    STRATEGIES
        .iter()
        .find(|(_, m)| campaign.get(*m).is_some())
        .map(|(s, _)| s.to_string())
}

// ---------------------------------------------------------------------------------------------------------
// Campaign

const NETWORK: [(&str, &str); 4] = [
    ("network.google_search", "networkSettings.targetGoogleSearch"),
    ("network.search_network", "networkSettings.targetSearchNetwork"),
    ("network.content_network", "networkSettings.targetContentNetwork"),
    (
        "network.partner_search_network",
        "networkSettings.targetPartnerSearchNetwork",
    ),
];

const EU_YES: &str = "CONTAINS_EU_POLITICAL_ADVERTISING";
const EU_NO: &str = "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING";

/// Campaign row (`row.campaign`) → fields, except the budget and label fields the reader fills in.
pub fn campaign_fields(c: &Json) -> Fields {
    let mut f = Fields::new();
    if let Some(s) = get_str(c, "status") {
        f.insert("status".into(), Value::str(lower(s)));
    }
    if let Some(s) = get_str(c, "advertisingChannelType") {
        f.insert("channel".into(), Value::str(lower(s)));
    }
    if let Some(strategy) = strategy_of(c) {
        if let Some(member) = strategy_member(&strategy) {
            for field in [
                "bidding.target_cpa",
                "bidding.target_roas",
                "bidding.cpc_bid_ceiling",
                "bidding.enhanced_cpc",
            ] {
                let Some(sub) = bidding_subfield(member, field) else {
                    continue;
                };
                let path = format!("{member}.{sub}");
                let v = match field {
                    "bidding.target_roas" => get_decimal(c, &path).map(Value::Decimal),
                    "bidding.enhanced_cpc" => get_bool(c, &path).map(Value::Bool),
                    _ => money_at(c, &path),
                };
                if let Some(v) = v {
                    f.insert(field.into(), v);
                }
            }
        }
        f.insert("bidding.strategy".into(), Value::Str(strategy));
    }
    if let Some(s) = get_str(c, "startDateTime") {
        f.insert("start_date".into(), Value::str(date_part(s)));
    }
    if let Some(s) = get_str(c, "endDateTime") {
        f.insert("end_date".into(), Value::str(date_part(s)));
    }
    for (field, path) in NETWORK {
        if let Some(b) = get_bool(c, path) {
            f.insert(field.into(), Value::Bool(b));
        }
    }
    match get_str(c, "containsEuPoliticalAdvertising") {
        Some(EU_YES) => {
            f.insert("eu_political_advertising".into(), Value::Bool(true));
        }
        Some(EU_NO) => {
            f.insert("eu_political_advertising".into(), Value::Bool(false));
        }
        _ => {}
    }
    super::pmax::campaign_shopping_fields(c, &mut f);
    f
}

fn date_part(s: &str) -> String {
    s.split([' ', 'T']).next().unwrap_or(s).to_string()
}

/// Campaign fields → (JSON of the settable campaign fields, update-mask paths).
/// Budget fields (`budget.*`) and `labels` are not handled here. `strategy` is the strategy in force (for
/// sub-field changes without a strategy change); `budget_rn` the resolved `budget.shared`/own budget.
pub fn campaign_json(fields: &Fields, live_strategy: Option<&str>) -> (Map<String, Json>, Vec<String>) {
    let mut obj = Map::new();
    let mut mask = Vec::new();
    for (k, v) in fields {
        match (k.as_str(), v) {
            ("status", Value::Str(s)) => {
                obj.insert("status".into(), Json::String(upper(s)));
                mask.push("status".into());
            }
            ("channel", Value::Str(s)) => {
                obj.insert("advertisingChannelType".into(), Json::String(upper(s)));
                mask.push("advertisingChannelType".into());
            }
            ("start_date", Value::Str(s)) => {
                obj.insert("startDateTime".into(), Json::String(format!("{s} 00:00:00")));
                mask.push("startDateTime".into());
            }
            ("end_date", Value::Str(s)) => {
                obj.insert("endDateTime".into(), Json::String(format!("{s} 23:59:59")));
                mask.push("endDateTime".into());
            }
            ("eu_political_advertising", Value::Bool(b)) => {
                let e = if *b { EU_YES } else { EU_NO };
                obj.insert("containsEuPoliticalAdvertising".into(), Json::String(e.into()));
                mask.push("containsEuPoliticalAdvertising".into());
            }
            (n, Value::Bool(b)) if n.starts_with("network.") => {
                if let Some((_, path)) = NETWORK.iter().find(|(f, _)| *f == n) {
                    put(&mut obj, path, Json::Bool(*b));
                    mask.push(path.to_string());
                }
            }
            _ => {}
        }
    }
    super::pmax::campaign_shopping_json(fields, &mut obj, &mut mask);
    // Bidding: a strategy change sets the whole member; a sub-field change sets that path only.
    let new_strategy = fields.get("bidding.strategy").and_then(Value::as_str);
    let strategy = new_strategy.or(live_strategy);
    if let Some(member) = strategy.and_then(strategy_member) {
        let mut inner = Map::new();
        let mut sub_mask = Vec::new();
        for (k, v) in fields
            .iter()
            .filter(|(k, _)| k.starts_with("bidding.") && *k != "bidding.strategy")
        {
            if let (Some(sub), Some(j)) = (bidding_subfield(member, k), bidding_value_json(k, v)) {
                inner.insert(sub.into(), j);
                sub_mask.push(format!("{member}.{sub}"));
            }
        }
        if new_strategy.is_some() {
            obj.insert(member.into(), Json::Object(inner));
            mask.push(member.into());
        } else if !inner.is_empty() {
            obj.insert(member.into(), Json::Object(inner));
            mask.extend(sub_mask);
        }
    }
    (obj, mask)
}

// ---------------------------------------------------------------------------------------------------------
// Budget

pub fn budget_fields(b: &Json) -> Fields {
    let mut f = Fields::new();
    if let Some(v) = money_at(b, "amountMicros") {
        f.insert("amount".into(), v);
    }
    if let Some(s) = get_str(b, "deliveryMethod") {
        f.insert("delivery_method".into(), Value::str(lower(s)));
    }
    f
}

/// Budget fields (`amount`/`delivery_method`, or the campaign's `budget.daily`/`budget.delivery_method`).
pub fn budget_json(fields: &Fields, prefix: &str) -> (Map<String, Json>, Vec<String>) {
    let mut obj = Map::new();
    let mut mask = Vec::new();
    let amount_key = if prefix.is_empty() {
        "amount".to_string()
    } else {
        format!("{prefix}daily")
    };
    if let Some(Value::Money(m)) = fields.get(&amount_key) {
        obj.insert("amountMicros".into(), micros(*m));
        mask.push("amountMicros".into());
    }
    if let Some(Value::Str(s)) = fields.get(&format!("{prefix}delivery_method")) {
        obj.insert("deliveryMethod".into(), Json::String(upper(s)));
        mask.push("deliveryMethod".into());
    }
    (obj, mask)
}

// ---------------------------------------------------------------------------------------------------------
// Ad group

pub fn ad_group_fields(g: &Json) -> Fields {
    let mut f = Fields::new();
    if let Some(s) = get_str(g, "status") {
        f.insert("status".into(), Value::str(lower(s)));
    }
    if let Some(s) = get_str(g, "type") {
        f.insert("type".into(), Value::str(lower(s)));
    }
    if let Some(v) = money_at(g, "cpcBidMicros") {
        f.insert("default_cpc".into(), v);
    }
    f
}

pub fn ad_group_json(fields: &Fields) -> (Map<String, Json>, Vec<String>) {
    let mut obj = Map::new();
    let mut mask = Vec::new();
    for (k, v) in fields {
        let (path, j) = match (k.as_str(), v) {
            ("status", Value::Str(s)) => ("status", Json::String(upper(s))),
            ("type", Value::Str(s)) => ("type", Json::String(upper(s))),
            ("default_cpc", Value::Money(m)) => ("cpcBidMicros", micros(*m)),
            _ => continue,
        };
        obj.insert(path.into(), j);
        mask.push(path.into());
    }
    (obj, mask)
}

// ---------------------------------------------------------------------------------------------------------
// Responsive search ad

fn assets_value(list: Option<&Json>) -> Value {
    let items = list.and_then(Json::as_array).cloned().unwrap_or_default();
    Value::List(
        items
            .iter()
            .map(|a| {
                let mut m = crate::model::SmallMap::new();
                m.insert(
                    "text".to_string(),
                    Value::str(a.get("text").and_then(Json::as_str).unwrap_or_default()),
                );
                if let Some(p) = a.get("pinnedField").and_then(Json::as_str) {
                    if p != "UNSPECIFIED" && p != "UNKNOWN" {
                        m.insert("pinned".to_string(), Value::str(lower(p)));
                    }
                }
                Value::Map(m)
            })
            .collect(),
    )
}

fn assets_json(v: &Value) -> Json {
    let items: &[Value] = match v {
        Value::List(xs) => xs,
        _ => &[],
    };
    Json::Array(
        items
            .iter()
            .map(|x| match x {
                Value::Map(m) => {
                    let mut o = Map::new();
                    if let Some(t) = m.get("text").and_then(Value::as_str) {
                        o.insert("text".into(), Json::String(t.into()));
                    }
                    if let Some(p) = m.get("pinned").and_then(Value::as_str) {
                        o.insert("pinnedField".into(), Json::String(upper(p)));
                    }
                    Json::Object(o)
                }
                other => json!({ "text": other.as_str().unwrap_or_default() }),
            })
            .collect(),
    )
}

/// AdGroupAd row (`row.adGroupAd`) → fields.
pub fn ad_fields(a: &Json) -> Fields {
    let mut f = Fields::new();
    if let Some(s) = get_str(a, "status") {
        f.insert("status".into(), Value::str(lower(s)));
    }
    let rsa = get(a, "ad.responsiveSearchAd");
    f.insert("headlines".into(), assets_value(rsa.and_then(|r| r.get("headlines"))));
    f.insert(
        "descriptions".into(),
        assets_value(rsa.and_then(|r| r.get("descriptions"))),
    );
    if let Some(u) = get(a, "ad.finalUrls")
        .and_then(Json::as_array)
        .and_then(|u| u.first())
        .and_then(Json::as_str)
    {
        f.insert("final_url".into(), Value::Url(u.into()));
    }
    for p in ["path1", "path2"] {
        if let Some(s) = rsa.and_then(|r| r.get(p)).and_then(Json::as_str) {
            f.insert(p.into(), Value::str(s));
        }
    }
    f
}

/// Ad fields → (the `Ad` JSON, its mask) and (AdGroupAd-level JSON: status, its mask).
pub fn ad_json(fields: &Fields) -> (Masked, Masked) {
    let mut ad = Map::new();
    let mut ad_mask = Vec::new();
    let mut aga = Map::new();
    let mut aga_mask = Vec::new();
    for (k, v) in fields {
        match (k.as_str(), v) {
            ("status", Value::Str(s)) => {
                aga.insert("status".into(), Json::String(upper(s)));
                aga_mask.push("status".to_string());
            }
            ("headlines" | "descriptions", v) => {
                put(&mut ad, &format!("responsiveSearchAd.{k}"), assets_json(v));
                ad_mask.push(format!("responsiveSearchAd.{k}"));
            }
            ("final_url", v) => {
                if let Some(u) = v.as_str() {
                    ad.insert("finalUrls".into(), json!([u]));
                    ad_mask.push("finalUrls".into());
                }
            }
            ("path1" | "path2", Value::Str(s)) => {
                put(&mut ad, &format!("responsiveSearchAd.{k}"), Json::String(s.clone()));
                ad_mask.push(format!("responsiveSearchAd.{k}"));
            }
            _ => {}
        }
    }
    ((ad, ad_mask), (aga, aga_mask))
}

// ---------------------------------------------------------------------------------------------------------
// Keywords

/// `running shoes:phrase` from text and match type.
pub fn keyword_key(text: &str, match_type: &str) -> String {
    format!("{}:{}", text.to_lowercase(), match_type.to_lowercase())
}

/// Text and match type from a keyword's fields, or else from its address name (`<text>:<match>`).
pub fn keyword_identity(fields: &Fields, name: &str) -> (String, String) {
    let (t, m) = name.rsplit_once(':').unwrap_or((name, "broad"));
    let text = fields.get("text").and_then(Value::as_str).unwrap_or(t).to_string();
    let m = fields
        .get("match_type")
        .and_then(Value::as_str)
        .unwrap_or(m)
        .to_string();
    (text, m)
}

pub fn keyword_fields(k: &Json) -> Fields {
    let mut f = Fields::new();
    if let Some(s) = get_str(k, "status") {
        f.insert("status".into(), Value::str(lower(s)));
    }
    if let Some(v) = money_at(k, "cpcBidMicros") {
        f.insert("cpc_bid".into(), v);
    }
    if let Some(t) = get_str(k, "keyword.text") {
        f.insert("text".into(), Value::str(t));
    }
    if let Some(m) = get_str(k, "keyword.matchType") {
        f.insert("match_type".into(), Value::str(lower(m)));
    }
    f
}

pub fn keyword_json(fields: &Fields) -> (Map<String, Json>, Vec<String>) {
    let mut obj = Map::new();
    let mut mask = Vec::new();
    for (k, v) in fields {
        let (path, j) = match (k.as_str(), v) {
            ("status", Value::Str(s)) => ("status", Json::String(upper(s))),
            ("cpc_bid", Value::Money(m)) => ("cpcBidMicros", micros(*m)),
            _ => continue,
        };
        obj.insert(path.into(), j);
        mask.push(path.into());
    }
    (obj, mask)
}

// ---------------------------------------------------------------------------------------------------------
// Customer Match user list

pub fn audience_fields(u: &Json) -> Fields {
    let mut f = Fields::new();
    if let Some(s) = get_str(u, "description") {
        f.insert("description".into(), Value::str(s));
    }
    if let Some(d) = get_i64(u, "membershipLifeSpan") {
        f.insert("membership_life_span_days".into(), Value::Int(d));
    }
    f
}

pub fn audience_json(fields: &Fields) -> (Map<String, Json>, Vec<String>) {
    let mut obj = Map::new();
    let mut mask = Vec::new();
    if let Some(s) = fields.get("description").and_then(Value::as_str) {
        obj.insert("description".into(), Json::String(s.into()));
        mask.push("description".into());
    }
    if let Some(d) = fields.get("membership_life_span_days").and_then(Value::as_int) {
        obj.insert("membershipLifeSpan".into(), Json::String(d.to_string()));
        mask.push("membershipLifeSpan".into());
    }
    (obj, mask)
}

// ---------------------------------------------------------------------------------------------------------
// Conversion action

/// adsctl's attribution model names and the v25 enum (`AttributionModel`).
const ATTRIBUTION: [(&str, &str); 2] = [
    ("last_click", "GOOGLE_ADS_LAST_CLICK"),
    ("data_driven", "GOOGLE_SEARCH_ATTRIBUTION_DATA_DRIVEN"),
];

pub fn conversion_fields(c: &Json) -> Fields {
    let mut f = Fields::new();
    for (field, path) in [("type", "type"), ("category", "category"), ("counting", "countingType")] {
        if let Some(s) = get_str(c, path) {
            f.insert(field.into(), Value::str(lower(s)));
        }
    }
    if let Some(m) = get_str(c, "attributionModelSettings.attributionModel") {
        let name = ATTRIBUTION
            .iter()
            .find(|(_, w)| *w == m)
            .map_or_else(|| lower(m), |(n, _)| n.to_string());
        f.insert("attribution_model".into(), Value::str(name));
    }
    // a double in the account's currency: exact through its shortest text
    if let Some(d) = get_decimal(c, "valueSettings.defaultValue") {
        if let Some(m) = (d * Decimal::from(1_000_000)).round().to_i64() {
            f.insert("value.default".into(), Value::Money(Money::from_micros(m)));
        }
    }
    if let Some(b) = get_bool(c, "valueSettings.alwaysUseDefaultValue") {
        f.insert("value.always_use_default".into(), Value::Bool(b));
    }
    if let Some(d) = get_i64(c, "clickThroughLookbackWindowDays") {
        f.insert("click_through_days".into(), Value::Int(d));
    }
    if let Some(d) = get_i64(c, "viewThroughLookbackWindowDays") {
        f.insert("view_through_days".into(), Value::Int(d));
    }
    if let Some(b) = get_bool(c, "primaryForGoal") {
        f.insert("primary_for_goal".into(), Value::Bool(b));
    }
    f
}

/// The ConversionAction JSON of these fields and its update mask (`type` only on create: it is immutable).
pub fn conversion_json(fields: &Fields) -> (Map<String, Json>, Vec<String>) {
    let mut obj = Map::new();
    let mut mask = Vec::new();
    let mut set = |obj: &mut Map<String, Json>, path: &str, v: Json| {
        put(obj, path, v);
        mask.push(path.to_string());
    };
    for (field, path) in [("type", "type"), ("category", "category"), ("counting", "countingType")] {
        if let Some(s) = fields.get(field).and_then(Value::as_str) {
            set(&mut obj, path, Json::String(upper(s)));
        }
    }
    if let Some(s) = fields.get("attribution_model").and_then(Value::as_str) {
        let wire = ATTRIBUTION
            .iter()
            .find(|(n, _)| *n == s)
            .map_or_else(|| upper(s), |(_, w)| w.to_string());
        set(
            &mut obj,
            "attributionModelSettings.attributionModel",
            Json::String(wire),
        );
    }
    if let Some(Value::Money(m)) = fields.get("value.default") {
        set(
            &mut obj,
            "valueSettings.defaultValue",
            decimal_json(Decimal::new(m.micros(), 6).normalize()),
        );
    }
    if let Some(b) = fields.get("value.always_use_default").and_then(Value::as_bool) {
        set(&mut obj, "valueSettings.alwaysUseDefaultValue", Json::Bool(b));
    }
    if let Some(d) = fields.get("click_through_days").and_then(Value::as_int) {
        set(&mut obj, "clickThroughLookbackWindowDays", Json::String(d.to_string()));
    }
    if let Some(d) = fields.get("view_through_days").and_then(Value::as_int) {
        set(&mut obj, "viewThroughLookbackWindowDays", Json::String(d.to_string()));
    }
    if let Some(b) = fields.get("primary_for_goal").and_then(Value::as_bool) {
        set(&mut obj, "primaryForGoal", Json::Bool(b));
    }
    (obj, mask)
}

/// The `members` of an audience (sha256 hex of normalised emails).
pub fn members(v: Option<&Value>) -> std::collections::BTreeSet<String> {
    match v {
        Some(Value::Set(s)) => s.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        Some(Value::List(s)) => s.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        _ => Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(x: i64) -> Value {
        Value::Money(Money::from_micros(x))
    }

    #[test]
    fn campaign_round_trip() {
        let row = json!({
            "resourceName": "customers/1/campaigns/5", "id": "5", "name": "Spring",
            "status": "ENABLED", "advertisingChannelType": "SEARCH",
            "biddingStrategyType": "MAXIMIZE_CONVERSIONS",
            "maximizeConversions": {"targetCpaMicros": "12500000"},
            "startDateTime": "2026-03-01 00:00:00", "endDateTime": "2026-03-31 23:59:59",
            "networkSettings": {"targetGoogleSearch": true, "targetSearchNetwork": false},
            "containsEuPoliticalAdvertising": "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING"
        });
        let f = campaign_fields(&row);
        assert_eq!(f["status"], Value::str("enabled"));
        assert_eq!(f["channel"], Value::str("search"));
        assert_eq!(f["bidding.strategy"], Value::str("maximize_conversions"));
        assert_eq!(f["bidding.target_cpa"], m(12_500_000));
        assert_eq!(f["start_date"], Value::str("2026-03-01"));
        assert_eq!(f["end_date"], Value::str("2026-03-31"));
        assert_eq!(f["network.google_search"], Value::Bool(true));
        assert_eq!(f["network.search_network"], Value::Bool(false));
        assert_eq!(f["eu_political_advertising"], Value::Bool(false));

        let (obj, mask) = campaign_json(&f, None);
        let back = Json::Object(obj);
        assert_eq!(back["status"], "ENABLED");
        assert_eq!(back["advertisingChannelType"], "SEARCH");
        assert_eq!(back["maximizeConversions"]["targetCpaMicros"], "12500000");
        assert_eq!(back["startDateTime"], "2026-03-01 00:00:00");
        assert_eq!(back["endDateTime"], "2026-03-31 23:59:59");
        assert_eq!(back["networkSettings"]["targetSearchNetwork"], false);
        assert_eq!(
            back["containsEuPoliticalAdvertising"],
            "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING"
        );
        assert!(mask.contains(&"maximizeConversions".to_string()));
        assert!(mask.contains(&"networkSettings.targetGoogleSearch".to_string()));
    }

    #[test]
    fn bidding_subfield_update_masks_only_that_path() {
        let f: Fields = [("bidding.target_cpa".to_string(), m(9_000_000))].into();
        let (obj, mask) = campaign_json(&f, Some("maximize_conversions"));
        assert_eq!(mask, vec!["maximizeConversions.targetCpaMicros".to_string()]);
        assert_eq!(Json::Object(obj)["maximizeConversions"]["targetCpaMicros"], "9000000");

        let roas = json!({"biddingStrategyType": "TARGET_ROAS", "targetRoas": {"targetRoas": 3.5}});
        let f = campaign_fields(&roas);
        assert_eq!(f["bidding.target_roas"], Value::Decimal(Decimal::new(35, 1)));
        let (obj, _) = campaign_json(&f, None);
        assert_eq!(Json::Object(obj)["targetRoas"]["targetRoas"], json!(3.5));

        let manual = json!({"manualCpc": {"enhancedCpcEnabled": false}});
        let f = campaign_fields(&manual);
        assert_eq!(f["bidding.strategy"], Value::str("manual_cpc"));
        assert_eq!(f["bidding.enhanced_cpc"], Value::Bool(false));
    }

    #[test]
    fn status_only_update() {
        let f: Fields = [("status".to_string(), Value::str("paused"))].into();
        let (obj, mask) = campaign_json(&f, Some("manual_cpc"));
        assert_eq!(Json::Object(obj), json!({"status": "PAUSED"}));
        assert_eq!(mask, vec!["status"]);
    }

    #[test]
    fn budget_fields_both_ways() {
        let f = budget_fields(&json!({"amountMicros": "50000000", "deliveryMethod": "STANDARD"}));
        assert_eq!(f["amount"], m(50_000_000));
        assert_eq!(f["delivery_method"], Value::str("standard"));
        let (obj, mask) = budget_json(&f, "");
        assert_eq!(
            Json::Object(obj),
            json!({"amountMicros": "50000000", "deliveryMethod": "STANDARD"})
        );
        assert_eq!(mask, vec!["amountMicros", "deliveryMethod"]);
        let own: Fields = [("budget.daily".to_string(), m(75_000_000))].into();
        let (obj, mask) = budget_json(&own, "budget.");
        assert_eq!(Json::Object(obj), json!({"amountMicros": "75000000"}));
        assert_eq!(mask, vec!["amountMicros"]);
    }

    #[test]
    fn ad_group_fields_both_ways() {
        let f = ad_group_fields(&json!({"status": "ENABLED", "type": "SEARCH_STANDARD", "cpcBidMicros": "1200000"}));
        assert_eq!(f["default_cpc"], m(1_200_000));
        assert_eq!(f["type"], Value::str("search_standard"));
        let (obj, mask) = ad_group_json(&f);
        assert_eq!(
            Json::Object(obj),
            json!({"cpcBidMicros": "1200000", "status": "ENABLED", "type": "SEARCH_STANDARD"})
        );
        assert_eq!(mask, vec!["cpcBidMicros", "status", "type"]);
    }

    #[test]
    fn responsive_search_ad_both_ways() {
        let row = json!({"status": "ENABLED", "ad": {"id": "7", "finalUrls": ["https://example.com/shoes"],
            "responsiveSearchAd": {
                "headlines": [{"text": "Spring Sale", "pinnedField": "HEADLINE_1"}, {"text": "Free Returns"}],
                "descriptions": [{"text": "Up to 40% off."}], "path1": "shoes"}}});
        let f = ad_fields(&row);
        let h = match &f["headlines"] {
            Value::List(h) => h.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(h.len(), 2);
        assert_eq!(
            h[0],
            Value::Map(
                [
                    ("text".to_string(), Value::str("Spring Sale")),
                    ("pinned".to_string(), Value::str("headline_1"))
                ]
                .into()
            )
        );
        assert_eq!(f["final_url"], Value::Url("https://example.com/shoes".into()));
        assert_eq!(f["path1"], Value::str("shoes"));
        let ((ad, ad_mask), (aga, aga_mask)) = ad_json(&f);
        let ad = Json::Object(ad);
        assert_eq!(ad["responsiveSearchAd"]["headlines"][0]["pinnedField"], "HEADLINE_1");
        assert_eq!(
            ad["responsiveSearchAd"]["headlines"][1],
            json!({"text": "Free Returns"})
        );
        assert_eq!(ad["finalUrls"], json!(["https://example.com/shoes"]));
        assert!(ad_mask.contains(&"responsiveSearchAd.headlines".to_string()));
        assert_eq!(Json::Object(aga), json!({"status": "ENABLED"}));
        assert_eq!(aga_mask, vec!["status"]);
    }

    #[test]
    fn conversion_actions_both_ways_with_exact_money() {
        let live = json!({
            "type": "WEBPAGE", "category": "PURCHASE", "countingType": "MANY_PER_CLICK",
            "valueSettings": {"defaultValue": 25.1, "alwaysUseDefaultValue": false},
            "attributionModelSettings": {"attributionModel": "GOOGLE_SEARCH_ATTRIBUTION_DATA_DRIVEN"},
            "clickThroughLookbackWindowDays": "30", "viewThroughLookbackWindowDays": "1", "primaryForGoal": true
        });
        let f = conversion_fields(&live);
        assert_eq!(f["type"], Value::str("webpage"));
        assert_eq!(f["counting"], Value::str("many_per_click"));
        assert_eq!(f["attribution_model"], Value::str("data_driven"));
        assert_eq!(f["value.default"], Value::Money(Money::from_micros(25_100_000)));
        assert_eq!(f["click_through_days"], Value::Int(30));
        let (obj, mask) = conversion_json(&f);
        assert_eq!(Json::Object(obj.clone()), live);
        assert_eq!(
            mask,
            [
                "type",
                "category",
                "countingType",
                "attributionModelSettings.attributionModel",
                "valueSettings.defaultValue",
                "valueSettings.alwaysUseDefaultValue",
                "clickThroughLookbackWindowDays",
                "viewThroughLookbackWindowDays",
                "primaryForGoal"
            ]
        );
        // a model adsctl has no name for reads as its enum name, lower-cased
        let other = json!({"attributionModelSettings": {"attributionModel": "GOOGLE_SEARCH_ATTRIBUTION_LINEAR"}});
        assert_eq!(
            conversion_fields(&other)["attribution_model"],
            Value::str("google_search_attribution_linear")
        );
    }

    #[test]
    fn keywords_and_audiences() {
        let k = keyword_fields(&json!({"status": "PAUSED", "cpcBidMicros": "800000",
            "keyword": {"text": "Running Shoes", "matchType": "PHRASE"}}));
        assert_eq!(k["match_type"], Value::str("phrase"));
        assert_eq!(keyword_key("Running Shoes", "PHRASE"), "running shoes:phrase");
        let (text, mt) = keyword_identity(&Fields::new(), "trail running:exact");
        assert_eq!((text.as_str(), mt.as_str()), ("trail running", "exact"));
        let (obj, mask) = keyword_json(&k);
        assert_eq!(Json::Object(obj), json!({"cpcBidMicros": "800000", "status": "PAUSED"}));
        assert_eq!(mask, vec!["cpcBidMicros", "status"]);

        let a = audience_fields(&json!({"description": "subs", "membershipLifeSpan": "540"}));
        assert_eq!(a["membership_life_span_days"], Value::Int(540));
        let (obj, _) = audience_json(&a);
        assert_eq!(
            Json::Object(obj),
            json!({"description": "subs", "membershipLifeSpan": "540"})
        );
    }

    #[test]
    fn doubles_become_exact_decimals() {
        let j: Json = serde_json::from_str(r#"{"a": 0.1, "b": 12, "c": 1234.5678}"#).unwrap();
        assert_eq!(get_decimal(&j, "a"), Some(Decimal::new(1, 1)));
        assert_eq!(get_decimal(&j, "b"), Some(Decimal::new(12, 0)));
        assert_eq!(get_decimal(&j, "c"), Some(Decimal::new(12345678, 4)));
        assert_eq!(id_of("customers/1/adGroupAds/4~7"), "4~7");
    }
}
