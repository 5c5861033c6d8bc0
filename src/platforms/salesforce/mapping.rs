//! Campaign records ↔ `Resource`s (`docs/resource-model.md`, Salesforce): fields, money in whole units, dates,
//! the ownership key `Adsctl_Key__c = adsctl:<address>` and the audience's Description marker.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{json, Map, Value as Json};

use super::config::{KEY_FIELD, KEY_PREFIX};
use crate::connectors::OpError;
use crate::model::{Address, Kind, Money, Resource, Value};

pub use crate::platforms::shared::{marked_description, split_description};

/// The Campaign fields a read asks for.
pub const CAMPAIGN_FIELDS: &str = "Id, Name, Type, Status, IsActive, StartDate, EndDate, BudgetedCost, ActualCost, \
                                   ParentId, Description, Adsctl_Key__c, CreatedDate";

/// The fields of each kind the connector writes (besides `name`).
pub const CAMPAIGN_KEYS: &[&str] = &[
    "status",
    "campaign_status",
    "type",
    "start_date",
    "end_date",
    "budgeted_cost",
    "actual_cost",
    "parent",
    "description",
];
pub const AUDIENCE_KEYS: &[&str] = &["description", "member_status", "members"];

/// A value the mapping cannot send, for one operation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct MappingError {
    pub field: String,
    pub message: String,
}

impl MappingError {
    pub fn new(field: &str, message: impl Into<String>) -> MappingError {
        MappingError {
            field: field.to_string(),
            message: message.into(),
        }
    }
    pub fn to_op_error(&self) -> OpError {
        OpError {
            code: "invalid_value".into(),
            message: self.to_string(),
            field: Some(self.field.clone()),
            hint: Some("see docs/resource-model.md (Salesforce)".into()),
        }
    }
}

/// `adsctl:<address>`: the key of the object at `address`.
pub fn key_of(address: &Address) -> String {
    format!("{KEY_PREFIX}{address}")
}

/// The address a key of adsctl's names.
pub fn address_of_key(key: &str) -> Option<Address> {
    key.strip_prefix(KEY_PREFIX).and_then(|a| Address::from_str(a).ok())
}

/// Whole currency units (the field has scale 0) from micros; amounts with a fraction are refused.
pub fn units(field: &str, m: Money) -> Result<Json, MappingError> {
    let micros = m.micros();
    if micros % 1_000_000 != 0 {
        return Err(MappingError::new(
            field,
            "Salesforce keeps whole currency units here (the field has no decimals): round the amount",
        ));
    }
    Ok(json!(micros / 1_000_000))
}

/// Micros from a JSON number as written (never through a float); a fraction is rounded half up to whole units.
pub fn money_of(v: &Json) -> Option<Money> {
    let n = match v {
        Json::Number(n) => n.to_string(),
        Json::String(s) => s.clone(),
        _ => return None,
    };
    let d = Decimal::from_str(&n).or_else(|_| Decimal::from_scientific(&n)).ok()?;
    let d = d.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let micros = d.checked_mul(Decimal::from(1_000_000))?;
    i64::try_from(micros.mantissa() / 10i128.pow(micros.scale()))
        .ok()
        .map(Money::from_micros)
}

fn date(field: &str, v: &Value) -> Result<Json, MappingError> {
    match v {
        Value::Null => Ok(Json::Null),
        Value::Str(s) if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() && s.len() == 10 => Ok(json!(s)),
        _ => Err(MappingError::new(field, "a date is written YYYY-MM-DD")),
    }
}

fn text(field: &str, v: &Value) -> Result<Json, MappingError> {
    match v {
        Value::Null => Ok(Json::Null),
        Value::Str(s) => Ok(json!(s)),
        _ => Err(MappingError::new(field, "expected text")),
    }
}

/// The Campaign record fields of a campaign's `fields` (a create's or an update's `set`); `parent_id` is the
/// resolved `parent`.
pub fn campaign_record(
    fields: &BTreeMap<String, Value>,
    parent_id: Option<Option<String>>,
) -> Result<Map<String, Json>, MappingError> {
    let mut m = Map::new();
    for (k, v) in fields {
        let (wire, val) = match k.as_str() {
            "name" => continue,
            "status" => (
                "IsActive",
                match v.as_str() {
                    Some("active") => json!(true),
                    Some("inactive") | Some("paused") => json!(false),
                    _ => return Err(MappingError::new(k, "status is `active` or `inactive`")),
                },
            ),
            "campaign_status" => ("Status", text(k, v)?),
            "type" => ("Type", text(k, v)?),
            "start_date" => ("StartDate", date(k, v)?),
            "end_date" => ("EndDate", date(k, v)?),
            "budgeted_cost" | "actual_cost" => (
                if k == "budgeted_cost" {
                    "BudgetedCost"
                } else {
                    "ActualCost"
                },
                match v {
                    Value::Null => Json::Null,
                    Value::Money(m) => units(k, *m)?,
                    _ => return Err(MappingError::new(k, "expected an amount")),
                },
            ),
            "parent" => continue,
            "description" => ("Description", text(k, v)?),
            other => {
                return Err(MappingError::new(
                    other,
                    "a Salesforce campaign has no such field (see docs/resource-model.md)",
                ))
            }
        };
        m.insert(wire.to_string(), val);
    }
    if let Some(p) = parent_id {
        m.insert("ParentId".into(), p.map_or(Json::Null, Json::String));
    }
    Ok(m)
}

fn s<'a>(row: &'a Json, k: &str) -> Option<&'a str> {
    row.get(k).and_then(Json::as_str).filter(|v| !v.is_empty())
}

/// The kind a Campaign row stands for (an adsctl key naming `…/audience/…` is an audience).
pub fn kind_of_row(row: &Json) -> Kind {
    match s(row, KEY_FIELD).and_then(address_of_key).and_then(|a| a.kind()) {
        Some(Kind::Audience) => Kind::Audience,
        _ => Kind::Campaign,
    }
}

/// A Campaign row as a resource (its `parent` filled in by the read, once every row's address is known).
pub fn campaign_resource(row: &Json, account: &str) -> Option<Resource> {
    let id = s(row, "Id")?.to_string();
    let name = row.get("Name").and_then(Json::as_str).unwrap_or("").to_string();
    let key = s(row, KEY_FIELD);
    let kind = kind_of_row(row);
    // adsctl's: named by its key (kept equal to its address), so that a rename in Salesforce's own UI does not
    // make the same record a second, unnamed object (created again by upsert, then removed as undeclared)
    let keyed = key
        .and_then(address_of_key)
        .filter(|a| a.path.len() == 1)
        .and_then(|a| a.name().map(str::to_string));
    let mut r = Resource::new(
        Address::account(account).child(kind, keyed.clone().unwrap_or_else(|| name.clone())),
        kind,
    );
    if keyed.as_ref().is_some_and(|k| *k != name) {
        r.observed.insert("name", name.clone());
    }
    r.id = Some(id);
    r.owned = key.is_some_and(|k| k.starts_with(KEY_PREFIX));
    if let Some(k) = key {
        r.observed.insert("key", k.to_string());
    }
    let description = s(row, "Description");
    match kind {
        Kind::Audience => {
            let (user, marker) = description.map(split_description).unwrap_or((None, None));
            if let Some(u) = user {
                r.fields.insert("description", Value::Str(u));
            }
            if let Some(Some(fp)) = marker {
                r.observed.insert(crate::model::fingerprint_key("members"), fp);
            }
        }
        _ => {
            let active = row.get("IsActive").and_then(Json::as_bool).unwrap_or(false);
            r.fields
                .insert("status", Value::str(if active { "active" } else { "inactive" }));
            for (wire, field) in [
                ("Status", "campaign_status"),
                ("Type", "type"),
                ("StartDate", "start_date"),
                ("EndDate", "end_date"),
                ("Description", "description"),
            ] {
                if let Some(v) = s(row, wire) {
                    r.fields.insert(field, Value::str(v));
                }
            }
            for (wire, field) in [("BudgetedCost", "budgeted_cost"), ("ActualCost", "actual_cost")] {
                if let Some(m) = row.get(wire).and_then(money_of) {
                    r.fields.insert(field, Value::Money(m));
                }
            }
        }
    }
    Some(r)
}

/// The hashed members of a `members` value.
pub fn members_of(v: Option<&Value>) -> Result<Vec<String>, MappingError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Set(s)) => s
            .iter()
            .map(|m| match m {
                Value::Str(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    Ok(h.to_ascii_lowercase())
                }
                _ => Err(MappingError::new(
                    "members",
                    "a member is the SHA-256 hex of an e-mail address",
                )),
            })
            .collect(),
        Some(_) => Err(MappingError::new(
            "members",
            "expected a set of hashed e-mail addresses",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_whole_units_and_keys_round_trip() {
        assert_eq!(
            units("budgeted_cost", Money::from_micros(1_500_000_000)).unwrap(),
            json!(1500)
        );
        assert!(units("budgeted_cost", Money::from_micros(1_500_000)).is_err());
        assert!(units("budgeted_cost", Money::from_micros(1_500_001)).is_err());
        assert_eq!(money_of(&json!(1500.0)), Some(Money::from_micros(1_500_000_000)));
        assert_eq!(money_of(&json!(12.5)), Some(Money::from_micros(13_000_000)));
        assert_eq!(money_of(&json!(7)), Some(Money::from_micros(7_000_000)));
        let a = Address::account("acme-sf").child(Kind::Campaign, "Spring/Sale 100%");
        let k = key_of(&a);
        assert_eq!(k, "adsctl:acme-sf/campaign/Spring%2FSale 100%25");
        assert_eq!(address_of_key(&k), Some(a));
        let row = json!({"Id": "7015g0000000001AAA", "Name": "VIPs",
            "Adsctl_Key__c": "adsctl:acme-sf/audience/VIPs", "Description": "best [adsctl-managed:0123456789abcdef]"});
        let r = campaign_resource(&row, "acme-sf").unwrap();
        assert_eq!(r.kind, Kind::Audience);
        assert!(r.owned);
        assert_eq!(r.fields.get("description"), Some(&Value::str("best")));
        assert_eq!(
            r.observed.get("fingerprint.members").map(String::as_str),
            Some("0123456789abcdef")
        );
    }
}
