//! Wire ↔ `Resource`: campaign properties (all strings both ways, `""` clears), exact money, the markers, and the
//! members' hashes.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::Digest;

use super::config::SPEND_ITEM_NAME;
use crate::model::{Money, SmallMap, Value};
use crate::platforms::shared::{marked_description, split_description};

/// The properties a campaign read asks for (every field of the contract, and the currency).
pub const CAMPAIGN_PROPERTIES: &[&str] = &[
    "hs_name",
    "hs_start_date",
    "hs_end_date",
    "hs_notes",
    "hs_owner",
    "hs_color_hex",
    "hs_audience",
    "hs_campaign_status",
    "hs_currency_code",
];

/// A campaign field and its property (fields written as they are; `notes`, `color`, `status` are converted).
pub const CAMPAIGN_FIELDS: &[(&str, &str)] = &[
    ("name", "hs_name"),
    ("start_date", "hs_start_date"),
    ("end_date", "hs_end_date"),
    ("notes", "hs_notes"),
    ("owner", "hs_owner"),
    ("color", "hs_color_hex"),
    ("audience", "hs_audience"),
    ("status", "hs_campaign_status"),
];

/// Fields written through the budget and spend endpoints.
pub const MONEY_FIELDS: &[&str] = &["budget_items", "spend"];

/// The members' id in adsctl: SHA-256 hex of the trimmed, lower-cased address.
pub fn member_hash(email: &str) -> String {
    hex::encode(sha2::Sha256::digest(email.trim().to_lowercase().as_bytes()))
}

/// Exact micros → the decimal written in a JSON number (`1234.56`, `0`).
pub fn money_text(m: Money) -> String {
    Decimal::new(m.micros(), 6).normalize().to_string()
}

/// A JSON number's digits → exact micros (more than 6 decimals is refused, never rounded).
pub fn money_of(raw: &str) -> Result<Money, String> {
    let d = Decimal::from_str(raw.trim())
        .or_else(|_| Decimal::from_scientific(raw.trim()))
        .map_err(|_| format!("`{raw}` is not an amount"))?;
    let micros = d * Decimal::from(1_000_000);
    if micros.fract() != Decimal::ZERO {
        return Err(format!("`{raw}` has more than 6 decimals"));
    }
    rust_decimal::prelude::ToPrimitive::to_i64(&micros)
        .map(Money::from_micros)
        .ok_or_else(|| format!("`{raw}` is too large"))
}

/// A budget or spend item as `budget/totals` lists it.
#[derive(Clone, Debug, Deserialize)]
pub struct MoneyItem {
    pub id: serde_json::Value,
    pub amount: Box<RawValue>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub order: i64,
}

impl MoneyItem {
    pub fn id(&self) -> String {
        match &self.id {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
    pub fn money(&self) -> Result<Money, String> {
        money_of(self.amount.get())
    }
}

/// `GET …/{guid}/budget/totals`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    #[serde(default)]
    pub budget_items: Vec<MoneyItem>,
    #[serde(default)]
    pub spend_items: Vec<MoneyItem>,
}

impl Totals {
    /// Budget items in `order`.
    pub fn budget_sorted(&self) -> Vec<&MoneyItem> {
        let mut b: Vec<&MoneyItem> = self.budget_items.iter().collect();
        b.sort_by_key(|i| i.order);
        b
    }

    /// adsctl's spend item.
    pub fn spend_item(&self) -> Option<&MoneyItem> {
        self.spend_items.iter().find(|i| i.name == SPEND_ITEM_NAME)
    }
}

/// `budget_items` as the model holds them.
pub fn budget_value(t: &Totals) -> Result<Value, String> {
    let mut out = Vec::new();
    for i in t.budget_sorted() {
        let mut m = SmallMap::new();
        m.insert("name", Value::str(i.name.clone()));
        m.insert("amount", Value::Money(i.money()?));
        out.push(Value::Map(m));
    }
    Ok(Value::List(out))
}

/// `budget_items` of the YAML: (name, amount) in order.
pub fn budget_items(v: &Value) -> Result<Vec<(String, Money)>, String> {
    let Value::List(items) = v else {
        return Err("budget_items must be a list of {name, amount}".into());
    };
    items
        .iter()
        .map(|i| {
            let Value::Map(m) = i else {
                return Err("each budget item is a map {name, amount}".to_string());
            };
            let name = m
                .get("name")
                .and_then(Value::as_str)
                .ok_or("a budget item needs a name")?
                .to_string();
            let amount = m
                .get("amount")
                .and_then(Value::as_money)
                .ok_or("a budget item needs an amount (money)")?;
            if amount.micros() < 0 {
                return Err(format!("budget item `{name}`: the amount is negative"));
            }
            Ok((name, amount))
        })
        .collect()
}

/// A budget or spend item's body: `{amount, name, order}` with the amount's exact digits.
pub fn item_body(name: &str, amount: Money, order: i64) -> String {
    format!(
        "{{\"amount\":{},\"name\":{},\"order\":{order}}}",
        money_text(amount),
        serde_json::Value::String(name.to_string())
    )
}

fn check_date(field: &str, s: &str) -> Result<(), String> {
    if s.is_empty() || chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() && s.len() == 10 {
        Ok(())
    } else {
        Err(format!("{field} `{s}` is not a date (YYYY-MM-DD)"))
    }
}

fn check_color(s: &str) -> Result<(), String> {
    let ok = s.is_empty() || (s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(format!("color `{s}` is not #RRGGBB"))
    }
}

/// The properties a campaign create or update writes for `fields` (budget and spend are not properties).
/// `status_of` turns the YAML's status into the option value sent.
pub fn campaign_properties(
    fields: &BTreeMap<String, Value>,
    status_of: &dyn Fn(&str) -> Result<String, String>,
) -> Result<BTreeMap<String, String>, (String, String)> {
    let mut out = BTreeMap::new();
    for (k, v) in fields {
        if MONEY_FIELDS.contains(&k.as_str()) {
            continue;
        }
        let Some((_, prop)) = CAMPAIGN_FIELDS.iter().find(|(f, _)| f == k) else {
            return Err((k.clone(), format!("`{k}` is not a field of a HubSpot campaign")));
        };
        let s = match v {
            Value::Str(s) => s.clone(),
            Value::Null => String::new(),
            _ => return Err((k.clone(), format!("`{k}` must be text"))),
        };
        let wire = match k.as_str() {
            "notes" => marked_description(Some(&s), None),
            "color" => {
                let c = s.to_ascii_uppercase();
                check_color(&c).map_err(|e| (k.clone(), e))?;
                c
            }
            "status" if s.is_empty() => s,
            "status" => status_of(&s).map_err(|e| (k.clone(), e))?,
            "start_date" | "end_date" => {
                check_date(k, &s).map_err(|e| (k.clone(), e))?;
                s
            }
            "name" if s.trim().is_empty() => return Err((k.clone(), "a campaign needs a name".into())),
            _ => s,
        };
        out.insert(prop.to_string(), wire);
    }
    Ok(out)
}

/// The option value sent for a YAML status: the option equal to it ignoring case; any value when the list is
/// empty.
pub fn status_option(options: &[String], wanted: &str) -> Result<String, String> {
    if options.is_empty() {
        return Ok(wanted.to_string());
    }
    options
        .iter()
        .find(|o| o.eq_ignore_ascii_case(wanted))
        .cloned()
        .ok_or_else(|| {
            format!(
                "status `{wanted}` is not one of the portal's campaign statuses ({})",
                options.join(", ").to_lowercase()
            )
        })
}

/// A campaign's fields from its properties: (name, fields, owned). `budget_items` / `spend` come separately.
pub fn campaign_fields(props: &serde_json::Map<String, serde_json::Value>) -> (String, SmallMap, bool) {
    let p = |k: &str| props.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let (notes, marker) = split_description(&p("hs_notes"));
    let mut f = SmallMap::new();
    f.insert("start_date", Value::str(p("hs_start_date")));
    f.insert("end_date", Value::str(p("hs_end_date")));
    f.insert("notes", Value::str(notes.unwrap_or_default()));
    f.insert("owner", Value::str(p("hs_owner")));
    f.insert("color", Value::str(p("hs_color_hex").to_ascii_uppercase()));
    f.insert("audience", Value::str(p("hs_audience")));
    f.insert("status", Value::str(p("hs_campaign_status").to_lowercase()));
    (p("hs_name"), f, marker.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_exact_both_ways() {
        assert_eq!(money_text(Money::from_micros(1_234_560_000)), "1234.56");
        assert_eq!(money_text(Money::from_micros(0)), "0");
        assert_eq!(money_text(Money::from_micros(5)), "0.000005");
        assert_eq!(money_of("1234.56").unwrap(), Money::from_micros(1_234_560_000));
        assert_eq!(money_of("12").unwrap(), Money::from_micros(12_000_000));
        assert_eq!(money_of("1e2").unwrap(), Money::from_micros(100_000_000));
        assert!(money_of("0.0000001").is_err());
        assert_eq!(
            item_body("Q1 \"search\"", Money::from_micros(2_500_000), 1),
            r#"{"amount":2.5,"name":"Q1 \"search\"","order":1}"#
        );
    }

    #[test]
    fn hashes_are_of_the_trimmed_lower_cased_address() {
        assert_eq!(member_hash(" Ada@Example.COM "), member_hash("ada@example.com"));
        assert_eq!(member_hash("ada@example.com").len(), 64);
    }

    #[test]
    fn properties_carry_the_marker_colour_and_status() {
        let fields = BTreeMap::from([
            ("notes".to_string(), Value::str("Q3 push")),
            ("color".to_string(), Value::str("#ff00aa")),
            ("status".to_string(), Value::str("paused")),
            ("start_date".to_string(), Value::str("2026-07-01")),
            ("spend".to_string(), Value::Money(Money::from_micros(1))),
        ]);
        let opts = vec!["PLANNED".to_string(), "PAUSED".to_string()];
        let p = campaign_properties(&fields, &|s| status_option(&opts, s)).unwrap();
        assert_eq!(p["hs_notes"], "Q3 push [adsctl-managed]");
        assert_eq!(p["hs_color_hex"], "#FF00AA");
        assert_eq!(p["hs_campaign_status"], "PAUSED");
        assert!(!p.contains_key("spend"));
        let bad = BTreeMap::from([("start_date".to_string(), Value::str("07/01/2026"))]);
        assert!(campaign_properties(&bad, &|s| Ok(s.into())).is_err());
        assert!(status_option(&opts, "completed").is_err());
        assert_eq!(status_option(&[], "paused").unwrap(), "paused");
    }
}
