//! Catalog ads (`ProductCatalog.json` and `ProductSet.json` of `reference/meta-marketing-supplement/`): the
//! catalogs an emulator is seeded with (merchants make them in Commerce Manager; the Marketing API only reads them
//! here), their `product_sets` edge and the product set node, and the rules of catalog sales campaigns, their ad
//! sets and their template (dynamic) creatives.
//!
//! Catalogs and product sets belong to no ad account: they are stored with an empty `account` and listed through
//! their catalog. Every rule here is a row of `docs/wire-rules.md`.

use serde_json::{json, Map, Value};

use super::error::GraphError;
use super::graph::Ctx;
use super::state::{Kind, Obj, State};

/// The `account` of catalogs and product sets (they are not in an ad account).
pub const NO_ACCOUNT: &str = "";

/// Operators a product set filter's condition may use. Reading chosen (the spec types `filter` as an Object):
/// the operators of Meta's product set filter rules as its product-set guide and the 2022-03-03 changelog name them.
pub const OPERATORS: &[&str] = &[
    "is_any",
    "is_not_any",
    "contains",
    "not_contains",
    "i_contains",
    "i_not_contains",
    "eq",
    "neq",
    "lt",
    "lte",
    "gt",
    "gte",
    "starts_with",
    "i_starts_with",
];

/// Product fields a template tag may name (`{{product.name}}`). Reading chosen (unverified): the catalog fields
/// Meta's template-tag lists show for commerce catalogs.
pub const TEMPLATE_FIELDS: &[&str] = &[
    "brand",
    "current_price",
    "custom_label_0",
    "custom_label_1",
    "custom_label_2",
    "custom_label_3",
    "custom_label_4",
    "description",
    "name",
    "price",
    "retailer_id",
    "sale_price",
    "short_description",
    "url",
];

fn bad_filter(msg: impl Into<String>) -> GraphError {
    GraphError::rule("Invalid Product Set Filter", msg)
}

/// A product set filter: one key per part, `and` / `or` over a non-empty list of parts, or a product field with one
/// `{operator: value}` condition (a text, a number, or for `is_any` / `is_not_any` a non-empty list of them).
pub fn check_filter(f: &Value, depth: usize) -> Result<(), GraphError> {
    let Some(obj) = f.as_object() else {
        return Err(bad_filter(
            "A filter is a JSON object such as {\"retailer_id\":{\"is_any\":[\"SKU-1\"]}}.",
        ));
    };
    if obj.len() != 1 || depth > 8 {
        return Err(bad_filter(
            "Each part of a filter has exactly one key: \"and\", \"or\", or the product field it checks.",
        ));
    }
    let (key, v) = obj
        .iter()
        .next()
        .ok_or_else(|| bad_filter("A filter can't be empty."))?;
    match key.as_str() {
        "and" | "or" => {
            let parts = v
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| bad_filter(format!("\"{key}\" takes a non-empty list of filters.")))?;
            parts.iter().try_for_each(|p| check_filter(p, depth + 1))
        }
        field => {
            if field.is_empty() || !field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(bad_filter(format!("\"{field}\" is not a product field.")));
            }
            let cond = v.as_object().filter(|c| c.len() == 1).ok_or_else(|| {
                bad_filter(format!(
                    "The condition on \"{field}\" is one {{operator: value}} object."
                ))
            })?;
            let (op, value) = cond
                .iter()
                .next()
                .ok_or_else(|| bad_filter("A condition can't be empty."))?;
            if !OPERATORS.contains(&op.as_str()) {
                return Err(bad_filter(format!("\"{op}\" is not a product set filter operator.")));
            }
            let scalar = |x: &Value| x.is_string() || x.is_number();
            let ok = match (op.as_str(), value) {
                ("is_any" | "is_not_any", Value::Array(a)) => !a.is_empty() && a.iter().all(scalar),
                ("is_any" | "is_not_any", _) => false,
                (_, x) => scalar(x),
            };
            if ok {
                Ok(())
            } else {
                Err(bad_filter(format!(
                    "The value of \"{op}\" on \"{field}\" is {}.",
                    if op.starts_with("is_") {
                        "a non-empty list of texts or numbers"
                    } else {
                        "a text or a number"
                    }
                )))
            }
        }
    }
}

/// Every `{{…}}` tag of a template text names a product field (`{{product.name}}`, with optional modifiers after a
/// space or `|`, such as `{{product.price raw}}` or `{{product.name | titleize}}`).
pub fn check_template_text(field: &str, text: &str) -> Result<(), GraphError> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| {
            GraphError::rule(
                "Invalid Template Tag",
                format!("The template tag in {field} is not closed with }}}}."),
            )
        })?;
        let tag = after[..end].trim();
        let name = tag.split(|c: char| c == '|' || c.is_whitespace()).next().unwrap_or("");
        let known = name
            .strip_prefix("product.")
            .is_some_and(|f| TEMPLATE_FIELDS.contains(&f));
        if !known {
            return Err(GraphError::rule(
                "Invalid Template Tag",
                format!("{{{{{tag}}}}} in {field} is not a template tag of a product catalog."),
            ));
        }
        rest = &after[end + 2..];
    }
    Ok(())
}

/// The catalog with this id, if the emulator has it.
pub fn catalog<'a>(st: &'a State, id: &str) -> Option<&'a Obj> {
    st.objects.get(id).filter(|o| o.kind == Kind::ProductCatalog)
}

fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `POST /{catalog_id}/product_sets`: a name that is not blank and a filter of the rule language.
pub fn create_set(ctx: &mut Ctx, catalog_id: &str, p: &Map<String, Value>) -> Result<Value, GraphError> {
    match p.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => {}
        _ => return Err(GraphError::missing_param("name")),
    }
    let mut fields = Map::new();
    fields.insert("name".into(), p["name"].clone());
    if let Some(f) = p.get("filter") {
        check_filter(f, 0)?;
        // the node's `filter` field is a string: the rule as JSON text
        fields.insert("filter".into(), Value::String(f.to_string()));
    }
    if let Some(r) = p.get("retailer_id") {
        fields.insert("retailer_id".into(), r.clone());
    }
    fields.insert("product_catalog_id".into(), Value::String(catalog_id.to_string()));
    let id = ctx.st.new_id(ctx.cfg.seed);
    ctx.st.insert(Obj {
        id: id.clone(),
        kind: Kind::ProductSet,
        account: NO_ACCOUNT.to_string(),
        fields,
        created_ms: ctx.now,
        updated_ms: ctx.now,
        review: None,
        prev: None,
    });
    Ok(json!({ "id": id }))
}

/// `POST /{product_set_id}`: `name` (not blank when sent) and `filter` change in place (the node's `#update`).
pub fn check_set_update(p: &Map<String, Value>, fields: &mut Map<String, Value>) -> Result<(), GraphError> {
    if let Some(n) = p.get("name") {
        if n.as_str().is_none_or(|s| s.trim().is_empty()) {
            return Err(GraphError::missing_param("name"));
        }
    }
    if let Some(f) = p.get("filter") {
        check_filter(f, 0)?;
        fields.insert("filter".into(), Value::String(f.to_string()));
    }
    Ok(())
}

fn promoted(o: &Obj, key: &str) -> Option<String> {
    o.fields.get("promoted_object")?.get(key).map(id_text)
}

/// `DELETE /{product_set_id}`: refused while an ad set that is not deleted promotes it, unless
/// `allow_live_product_set_deletion=true` (the spec's `#delete` parameter; reading chosen: "live" means promoted).
pub fn check_set_delete(ctx: &Ctx, set: &Obj, p: &Map<String, Value>) -> Result<(), GraphError> {
    if p.get("allow_live_product_set_deletion").and_then(Value::as_bool) == Some(true) {
        return Ok(());
    }
    let user = ctx
        .st
        .objects
        .values()
        .filter(|o| o.kind == Kind::AdSet && o.status() != "DELETED")
        .find(|o| promoted(o, "product_set_id").as_deref() == Some(set.id.as_str()));
    match user {
        Some(s) => Err(GraphError::rule(
            "Product Set In Use",
            format!(
                "The product set {} is used by ad set {} and can't be deleted. Change or delete the ad set first, \
                 or send allow_live_product_set_deletion=true.",
                set.id, s.id
            ),
        )),
        None => Ok(()),
    }
}

/// A campaign's `promoted_object.product_catalog_id` names a catalog the emulator has; `PRODUCT_CATALOG_SALES`
/// needs one (Meta's catalog ads guide: the promoted object is required with that objective).
pub fn check_campaign(ctx: &Ctx, p: &Map<String, Value>, old: Option<&Obj>) -> Result<(), GraphError> {
    let po = p.get("promoted_object");
    let catalog_id = po.and_then(|po| po.get("product_catalog_id")).map(id_text);
    if let Some(id) = &catalog_id {
        if catalog(ctx.st, id).is_none() {
            return Err(GraphError::rule(
                "Invalid Product Catalog",
                format!("The product catalog {id} does not exist or this ad account can't use it."),
            ));
        }
    }
    if let Some(old) = old {
        // reading chosen: a campaign's catalog is fixed once it exists (ad sets promote sets of that catalog)
        let before = promoted(old, "product_catalog_id");
        if po.is_some() && before != catalog_id {
            return Err(GraphError::rule(
                "Product Catalog Can't Change",
                "The product catalog of a campaign can't change after it is created.",
            ));
        }
        return Ok(());
    }
    let objective = p.get("objective").and_then(Value::as_str).unwrap_or("");
    if objective == "PRODUCT_CATALOG_SALES" && catalog_id.is_none() {
        return Err(GraphError::rule(
            "Product Catalog Required",
            "A campaign with the PRODUCT_CATALOG_SALES objective needs promoted_object.product_catalog_id.",
        ));
    }
    Ok(())
}

/// An ad set of a catalog campaign promotes one of that catalog's product sets (`promoted_object.product_set_id`);
/// an ad set naming a product set is in a campaign with a catalog.
pub fn check_ad_set(ctx: &Ctx, campaign: &Obj, po: Option<&Value>) -> Result<(), GraphError> {
    let campaign_catalog = promoted(campaign, "product_catalog_id");
    let set_id = po.and_then(|po| po.get("product_set_id")).map(id_text);
    match (&campaign_catalog, &set_id) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(GraphError::rule(
            "Product Set Required",
            format!(
                "Campaign {} promotes a product catalog, so its ad sets need promoted_object.product_set_id.",
                campaign.id
            ),
        )),
        (None, Some(_)) => Err(GraphError::rule(
            "Product Set Needs a Catalog Campaign",
            "Only an ad set of a campaign that promotes a product catalog can promote a product set.",
        )),
        (Some(cat), Some(set)) => {
            let ok = ctx
                .st
                .objects
                .get(set.as_str())
                .filter(|o| o.kind == Kind::ProductSet)
                .is_some_and(|o| o.str_field("product_catalog_id") == Some(cat.as_str()));
            if ok {
                Ok(())
            } else {
                Err(GraphError::rule(
                    "Invalid Product Set",
                    format!("The product set {set} is not a product set of catalog {cat}."),
                ))
            }
        }
    }
}

/// A template (dynamic) creative: `object_story_spec.template_data` with a page, not together with `link_data`,
/// its texts' template tags known; its `product_set_id` (when sent) a product set that exists.
pub fn check_creative(ctx: &Ctx, p: &Map<String, Value>) -> Result<(), GraphError> {
    let template = p.get("object_story_spec").and_then(|s| s.get("template_data"));
    if let Some(set) = p.get("product_set_id").map(id_text) {
        let exists = ctx
            .st
            .objects
            .get(set.as_str())
            .is_some_and(|o| o.kind == Kind::ProductSet);
        if !exists {
            return Err(GraphError::rule(
                "Invalid Product Set",
                format!("The product set {set} does not exist."),
            ));
        }
    }
    let Some(t) = template else {
        return Ok(());
    };
    if p.get("object_story_spec").and_then(|s| s.get("link_data")).is_some() {
        return Err(GraphError::rule(
            "Template and Link Data",
            "A creative has either object_story_spec.template_data (a catalog ad) or link_data, not both.",
        ));
    }
    for key in ["message", "name", "description", "link"] {
        if let Some(text) = t.get(key).and_then(Value::as_str) {
            check_template_text(&format!("template_data.{key}"), text)?;
        }
    }
    Ok(())
}

/// The fields of a catalog or product set the node specs name, rendered.
pub fn field_value(ctx: &Ctx, o: &Obj, name: &str) -> Option<Value> {
    match (o.kind, name) {
        (Kind::ProductSet, "product_catalog") => {
            let id = o.str_field("product_catalog_id")?;
            let c = catalog(ctx.st, id)?;
            Some(json!({ "id": id, "name": c.str_field("name").unwrap_or("") }))
        }
        (Kind::ProductSet, "product_count") => Some(json!(0)),
        (Kind::ProductCatalog, "product_count") => {
            Some(json!(o.fields.get("product_count").cloned().unwrap_or(json!(0))))
        }
        (Kind::ProductCatalog, "vertical") => Some(json!(o.str_field("vertical").unwrap_or("commerce"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_of_the_allowed_shape() {
        for ok in [
            json!({"retailer_id": {"is_any": ["SKU-1", "SKU-2"]}}),
            json!({"and": [{"product_type": {"i_contains": "shoes"}}, {"price": {"lt": 10000}}]}),
            json!({"or": [{"brand": {"eq": "Acme"}}, {"availability": {"eq": "in stock"}}]}),
        ] {
            assert!(check_filter(&ok, 0).is_ok(), "{ok}");
        }
        for bad in [
            json!("shoes"),
            json!({}),
            json!({"and": []}),
            json!({"brand": {"like": "a"}}),
            json!({"brand": "Acme"}),
            json!({"retailer_id": {"is_any": "SKU-1"}}),
            json!({"price": {"lt": [1]}}),
            json!({"br and": {"eq": "a"}}),
            json!({"brand": {"eq": "a"}, "price": {"lt": 1}}),
        ] {
            assert!(check_filter(&bad, 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn template_tags_name_product_fields() {
        assert!(check_template_text("m", "Get {{product.name}} for {{product.price raw}}").is_ok());
        assert!(check_template_text("m", "{{ product.name | titleize }}").is_ok());
        assert!(check_template_text("m", "no tags").is_ok());
        assert!(check_template_text("m", "{{product.colour}}").is_err());
        assert!(check_template_text("m", "{{name}}").is_err());
        assert!(check_template_text("m", "{{product.name").is_err());
    }
}
