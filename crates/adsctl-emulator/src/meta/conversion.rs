//! Custom conversions (`CustomConversion.json` of `reference/meta-marketing-supplement/`): the rules of
//! `POST act_{id}/customconversions`, of updates and deletes, and the ad set's `promoted_object.custom_conversion_id`.
//!
//! The spec table already refuses what the node spec refuses: an unknown parameter (an update of `rule`,
//! `event_source_id` or `custom_event_type`, which `#update` does not take: they are fixed at creation), a missing
//! `name`, an unknown `custom_event_type`, a `default_conversion_value` that is not a number. The rules here are
//! the ones beyond the spec's shape; each is a row of `docs/wire-rules.md`.

use serde_json::{Map, Value};

use super::error::GraphError;
use super::graph::Ctx;
use super::state::{Kind, Obj};

/// Operators a rule's condition may use (`{"url": {"i_contains": "thank-you"}}`). Reading chosen (unverified):
/// the operators of Meta's website-rule language; the codegen spec types `rule` as a bare string.
pub const OPERATORS: &[&str] = &[
    "contains",
    "not_contains",
    "i_contains",
    "i_not_contains",
    "starts_with",
    "i_starts_with",
    "eq",
    "neq",
    "i_str_eq",
    "i_str_neq",
    "lt",
    "lte",
    "gt",
    "gte",
    "regex_match",
    "is_any",
    "is_not_any",
];

fn bad_rule(msg: impl Into<String>) -> GraphError {
    GraphError::rule("Invalid Custom Conversion Rule", msg)
}

/// A rule: one key, either `and` / `or` over a non-empty list of rules, or a field (`url`, `event`, an event
/// parameter) with one condition `{operator: value}`.
pub fn check_rule(rule: &Value, depth: usize) -> Result<(), GraphError> {
    let Some(obj) = rule.as_object() else {
        return Err(bad_rule(
            "A rule is a JSON object such as {\"url\":{\"i_contains\":\"thank-you\"}}.",
        ));
    };
    if obj.len() != 1 || depth > 8 {
        return Err(bad_rule(
            "Each part of a rule has exactly one key: \"and\", \"or\", or the field it checks.",
        ));
    }
    let (key, v) = obj.iter().next().ok_or_else(|| bad_rule("A rule can't be empty."))?;
    match key.as_str() {
        "and" | "or" => {
            let parts = v
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| bad_rule(format!("\"{key}\" takes a non-empty list of rules.")))?;
            parts.iter().try_for_each(|p| check_rule(p, depth + 1))
        }
        field => {
            if field.is_empty()
                || !field
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
            {
                return Err(bad_rule(format!("\"{field}\" is not a field a rule can check.")));
            }
            let cond = v.as_object().filter(|c| c.len() == 1).ok_or_else(|| {
                bad_rule(format!(
                    "The condition on \"{field}\" is one {{operator: value}} object."
                ))
            })?;
            let (op, value) = cond
                .iter()
                .next()
                .ok_or_else(|| bad_rule("A condition can't be empty."))?;
            if !OPERATORS.contains(&op.as_str()) {
                return Err(bad_rule(format!("\"{op}\" is not a rule operator.")));
            }
            match value {
                Value::String(_) | Value::Number(_) => Ok(()),
                Value::Array(a) if !a.is_empty() && a.iter().all(|x| x.is_string() || x.is_number()) => Ok(()),
                _ => Err(bad_rule(format!(
                    "The value of \"{op}\" on \"{field}\" is a string, a number or a list of them."
                ))),
            }
        }
    }
}

/// `rule` as sent (a JSON string), parsed and checked.
fn parse_rule(raw: &Value) -> Result<Value, GraphError> {
    let rule = match raw {
        Value::String(s) => serde_json::from_str::<Value>(s)
            .map_err(|_| GraphError::invalid_param("(#100) Param rule must be a valid JSON object."))?,
        other => other.clone(),
    };
    check_rule(&rule, 0)?;
    Ok(rule)
}

/// A create: a name that is not blank, an event source (the pixel) and a rule. Reading chosen (unverified): the
/// spec marks only `name` required, but a website custom conversion counts the events of one pixel that match
/// its rule, so without either it counts nothing; both are refused like a missing required parameter. The same
/// rule on the same pixel twice is refused (the official SDK's example notes that a second custom conversion with
/// the same rule cannot be created).
pub fn check_create(
    ctx: &mut Ctx,
    account: &str,
    p: &Map<String, Value>,
    fields: &mut Map<String, Value>,
) -> Result<(), GraphError> {
    match p.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => {}
        _ => return Err(GraphError::missing_param("name")),
    }
    let source = match p.get("event_source_id") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => return Err(GraphError::missing_param("event_source_id")),
    };
    if !source.bytes().all(|b| b.is_ascii_digit()) {
        return Err(GraphError::rule(
            "Invalid Event Source",
            format!("The event source {source} is not a pixel or dataset id."),
        ));
    }
    let raw = p
        .get("rule")
        .or_else(|| p.get("advanced_rule"))
        .ok_or_else(|| GraphError::missing_param("rule"))?;
    let rule = parse_rule(raw)?;
    if let Some(v) = p.get("default_conversion_value").and_then(Value::as_f64) {
        if v < 0.0 {
            return Err(GraphError::rule(
                "Invalid Default Conversion Value",
                "The default conversion value can't be negative.",
            ));
        }
    }
    let twin = ctx.st.ids(account, Kind::CustomConversion).iter().any(|id| {
        ctx.st.objects.get(id).is_some_and(|o| {
            o.str_field("event_source_id") == Some(source.as_str())
                && o.str_field("rule")
                    .and_then(|r| serde_json::from_str::<Value>(r).ok())
                    .is_some_and(|r| r == rule)
        })
    });
    let canonical = rule.to_string();
    if twin {
        return Err(GraphError::rule(
            "Duplicate Custom Conversion",
            "A custom conversion with this rule already exists for this pixel.",
        ));
    }
    // kept as sent (a string, as the node's `rule` field reads back); the pixel is kept by its id
    fields.insert("event_source_id".into(), Value::String(source));
    fields.insert("rule".into(), Value::String(canonical));
    fields
        .entry("custom_event_type")
        .or_insert(Value::String("OTHER".into()));
    fields.insert("event_source_type".into(), Value::String("pixel".into()));
    Ok(())
}

/// An update: `name` (not blank when sent) and a non-negative `default_conversion_value`; the spec's `#update`
/// takes nothing else.
pub fn check_update(p: &Map<String, Value>) -> Result<(), GraphError> {
    if let Some(n) = p.get("name") {
        if n.as_str().is_none_or(|s| s.trim().is_empty()) {
            return Err(GraphError::missing_param("name"));
        }
    }
    if p.get("default_conversion_value")
        .and_then(Value::as_f64)
        .is_some_and(|v| v < 0.0)
    {
        return Err(GraphError::rule(
            "Invalid Default Conversion Value",
            "The default conversion value can't be negative.",
        ));
    }
    Ok(())
}

fn promoted_conversion(o: &Obj) -> Option<&str> {
    o.fields.get("promoted_object")?.get("custom_conversion_id")?.as_str()
}

/// A delete: refused while an ad set that is not deleted optimises for it (reading chosen, unverified: Meta lets a
/// custom conversion go only when no ad uses it).
pub fn check_delete(ctx: &Ctx, cc: &Obj) -> Result<(), GraphError> {
    let user = ctx
        .st
        .ids(&cc.account, Kind::AdSet)
        .iter()
        .filter_map(|i| ctx.st.objects.get(i))
        .find(|s| s.status() != "DELETED" && promoted_conversion(s) == Some(cc.id.as_str()));
    match user {
        Some(s) => Err(GraphError::rule(
            "Custom Conversion In Use",
            format!(
                "The custom conversion {} is used by ad set {} and can't be deleted. Change or delete the ad set first.",
                cc.id, s.id
            ),
        )),
        None => Ok(()),
    }
}

/// An ad set's `promoted_object` naming a custom conversion: it exists in the ad account, and its pixel is the
/// promoted object's `pixel_id` when that is sent too (reading chosen, unverified).
pub fn check_promoted_object(ctx: &Ctx, account: &str, po: &Value) -> Result<(), GraphError> {
    let Some(id) = po.get("custom_conversion_id") else {
        return Ok(());
    };
    let id = match id {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let cc = ctx
        .st
        .objects
        .get(&id)
        .filter(|o| o.kind == Kind::CustomConversion && o.account == account)
        .ok_or_else(|| {
            GraphError::rule(
                "Invalid Custom Conversion",
                format!("The custom conversion {id} does not exist in this ad account."),
            )
        })?;
    let pixel = po.get("pixel_id").map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    if let (Some(pixel), Some(own)) = (pixel, cc.str_field("event_source_id")) {
        if pixel != own {
            return Err(GraphError::rule(
                "Invalid Promoted Object",
                format!("The custom conversion {id} counts events of pixel {own}, not of pixel {pixel}."),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_of_the_allowed_shape() {
        for ok in [
            json!({"url": {"i_contains": "thank-you"}}),
            json!({"and": [{"event": {"eq": "Purchase"}}, {"or": [{"url": {"i_contains": "a"}}, {"url": {"eq": "b"}}]}]}),
            json!({"value": {"gte": 10}}),
            json!({"url": {"is_any": ["a", "b"]}}),
        ] {
            assert!(check_rule(&ok, 0).is_ok(), "{ok}");
        }
        for bad in [
            json!("url"),
            json!({}),
            json!({"url": {"i_contains": "a"}, "event": {"eq": "b"}}),
            json!({"and": []}),
            json!({"url": {"like": "a"}}),
            json!({"url": "thank-you"}),
            json!({"url": {"eq": {"x": 1}}}),
            json!({"u rl": {"eq": "a"}}),
        ] {
            assert!(check_rule(&bad, 0).is_err(), "{bad}");
        }
    }
}
