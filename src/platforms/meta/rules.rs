//! Meta's own validation rules for what the YAML says.

use crate::spec::error::Code;
use crate::spec::rules::{problem, Problem};
use crate::spec::types::*;
use crate::spec::yaml::Span;
use crate::spec::Spanned;

type S<T> = Spanned<T>;

/// Targeting that Meta refuses or that contradicts itself: no location, region or city names where keys are
/// required, positions of a platform that is not selected, an audience both included and excluded.
pub fn targeting(t: &S<Targeting>, key_of: impl Fn(Span) -> Option<Span>) -> Vec<Problem> {
    let mut out = Vec::new();
    // a location
    let geo = [
        ("countries", &*t.countries),
        ("regions", &*t.regions),
        ("cities", &*t.cities),
    ];
    let invalid = t.countries.is_invalid() || t.regions.is_invalid() || t.cities.is_invalid();
    if !invalid && geo.iter().all(|(_, v)| v.as_ref().is_none_or(|l| l.is_empty())) {
        let written = geo.iter().find_map(|(k, v)| v.as_ref().map(|l| (*k, l.span)));
        let (span, msg) = match written {
            Some((k, span)) => (
                key_of(span).unwrap_or(span),
                format!("`{k}` is empty and the targeting has no other location"),
            ),
            None => (
                key_of(t.span).unwrap_or(t.span),
                "the targeting has no location (`countries`, `regions` or `cities`)".into(),
            ),
        };
        out.push(problem(
            span,
            Code::Constraint,
            msg,
            "Meta needs a location: add `countries: [US]` (or region / city keys)",
        ));
    }
    // keys, not names
    for (field, list, example) in [
        ("regions", &*t.regions, "\"3847\" for California"),
        ("cities", &*t.cities, "\"2420379\" for Berlin"),
    ] {
        for r in list.iter().flat_map(|l| l.iter()) {
            let v = r.trim();
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                out.push(problem(
                    r.span,
                    Code::InvalidValue,
                    format!("`{field}` takes Meta location keys, not names: `{v}`"),
                    format!("find the key with the Targeting Search API (`type=adgeolocation`), e.g. {example}"),
                ));
            }
        }
    }
    // positions need their platform
    if let Some(platforms) = &*t.publisher_platforms {
        for (field, list, platform) in [
            (
                "facebook_positions",
                &*t.facebook_positions,
                PublisherPlatform::Facebook,
            ),
            (
                "instagram_positions",
                &*t.instagram_positions,
                PublisherPlatform::Instagram,
            ),
        ] {
            if let Some(l) = list {
                if !platforms.iter().any(|p| p.value == platform) {
                    out.push(problem(
                        key_of(l.span).unwrap_or(l.span),
                        Code::Constraint,
                        format!(
                            "`{field}` is set but `publisher_platforms` does not include `{}`",
                            platform.wire()
                        ),
                        format!(
                            "add `{}` to `publisher_platforms`, or remove `{field}`",
                            platform.wire()
                        ),
                    ));
                }
            }
        }
    }
    // included and excluded
    if let (Some(inc), Some(exc)) = (&*t.custom_audiences, &*t.excluded_custom_audiences) {
        for e in exc.iter() {
            if let Some(i) = inc.iter().find(|i| i.trim() == e.trim()) {
                out.push(problem(
                    e.span,
                    Code::Constraint,
                    format!("audience `{}` is both targeted and excluded", e.trim()),
                    format!(
                        "remove it from `excluded_custom_audiences` or from `custom_audiences` (line {})",
                        i.span.line
                    ),
                ));
            }
        }
    }
    out
}

/// Names and texts of a campaign that must be on one line (the platform keeps one line).
pub fn single_line(c: &crate::spec::types::MetaCampaign) -> Vec<crate::spec::rules::Problem> {
    use crate::spec::rules::{one_line, one_line_opt, values};
    let mut out = Vec::new();
    one_line(&c.name, "campaign name", &mut out);
    for s in values(&c.ad_sets) {
        one_line(&s.name, "ad set name", &mut out);
        for ad in values(&s.ads) {
            one_line(&ad.name, "ad name", &mut out);
            one_line_opt(&ad.creative.headline, "headline", &mut out);
            one_line_opt(&ad.creative.description, "description", &mut out);
        }
    }
    out
}

/// Operators a custom conversion's rule may use (the shape `docs/spec.md` gives; the emulator checks the same).
pub const RULE_OPERATORS: &[&str] = &[
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

/// A custom conversion's rule as written (a mapping, or JSON text) → the rule as Meta takes it, or what is wrong
/// with it. Each part has one key: `and` / `or` over a non-empty list of parts, or a field with one
/// `{operator: value}` condition whose value is text, a number or a list of them.
pub fn custom_conversion_rule(written: &serde_json::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    let field = |field: &str| {
        let ok = !field.is_empty()
            && field
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        ok.then_some(())
            .ok_or_else(|| format!("`{field}` is not a field a rule can check"))
    };
    let condition = |field: &str, op: &str, x: &J| {
        if !RULE_OPERATORS.contains(&op) {
            return Err(format!("`{op}` is not a rule operator"));
        }
        let scalar = |x: &J| x.is_string() || x.is_number();
        match x {
            J::Array(a) if !a.is_empty() && a.iter().all(scalar) => Ok(()),
            x if scalar(x) => Ok(()),
            _ => Err(format!(
                "the value of `{op}` on `{field}` is text, a number or a list of them"
            )),
        }
    };
    and_or_tree(written, "rule", "field", &field, &condition)
}

/// Meta's rule language of custom conversion rules and product set filters, as written (a mapping, or JSON text)
/// → the JSON, or what is wrong with it: every part is a mapping of one key, `and` / `or` over a non-empty list
/// of parts (at most 8 levels deep), or a field (`field` says whether its name is one) with one
/// `{operator: value}` condition (`condition` checks the operator and the value). `noun` names the whole in
/// messages ("rule", "filter"), `keyed_by` what a part's key may be besides `and` and `or`.
pub(crate) fn and_or_tree(
    written: &serde_json::Value,
    noun: &str,
    keyed_by: &str,
    field: &dyn Fn(&str) -> Result<(), String>,
    condition: &dyn Fn(&str, &str, &serde_json::Value) -> Result<(), String>,
) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    let tree = match written {
        J::String(s) => serde_json::from_str::<J>(s).map_err(|e| format!("the {noun} is not JSON: {e}"))?,
        other => other.clone(),
    };
    type Field<'a> = &'a dyn Fn(&str) -> Result<(), String>;
    type Condition<'a> = &'a dyn Fn(&str, &str, &J) -> Result<(), String>;
    fn check(v: &J, depth: usize, words: (&str, &str), field: Field, condition: Condition) -> Result<(), String> {
        let (noun, keyed_by) = words;
        let Some(obj) = v.as_object() else {
            return Err(format!("each part of the {noun} is a mapping, got `{v}`"));
        };
        if depth > 8 {
            return Err(format!("the {noun} nests more than 8 levels"));
        }
        let mut it = obj.iter();
        let (Some((key, val)), None) = (it.next(), it.next()) else {
            return Err(format!(
                "each part of the {noun} has exactly one key (`and`, `or` or the {keyed_by} it checks), got {}",
                obj.len()
            ));
        };
        match key.as_str() {
            "and" | "or" => match val.as_array() {
                Some(parts) if !parts.is_empty() => parts
                    .iter()
                    .try_for_each(|p| check(p, depth + 1, words, field, condition)),
                _ => Err(format!("`{key}` takes a non-empty list of parts")),
            },
            name => {
                field(name)?;
                let Some(cond) = val.as_object().filter(|c| c.len() == 1) else {
                    return Err(format!(
                        "the condition on `{name}` is one `{{operator: value}}` mapping"
                    ));
                };
                let (op, x) = cond.iter().next().ok_or("empty condition")?;
                condition(name, op, x)
            }
        }
    }
    check(&tree, 0, (noun, keyed_by), field, condition)?;
    Ok(tree)
}
