//! Meta catalog ads (dynamic product ads): the `product_catalogs:` block (a catalog an account uses, by its id —
//! the catalog and its feeds stay in the merchant's tools — with the product sets adsctl manages on it), a
//! campaign's `catalog:`, an ad set's `product_set:`, a creative's `dynamic: true`; their validation and lowering,
//! the catalogs each account's reads look into, the wire mapping of product sets, and their import.
//!
//! Wire: `reference/meta-marketing-supplement/specs/ProductCatalog.json` and `ProductSet.json` (see its SOURCE.md).
//! - product set create `POST /{catalog_id}/product_sets` (`name`, `filter` as JSON); read
//!   `GET /{catalog_id}/product_sets?fields=id,name,filter`; update `POST /{id}` (`name`, `filter`: the node's
//!   `#update` takes both, so both change in place); delete `DELETE /{id}`;
//! - ownership: a product set has no description and no ad labels, so the marker is ` [adsctl-managed]` at the end
//!   of its name (as X's and LinkedIn's names); the YAML name is the name without it;
//! - the catalog of a product set is fixed (it is made on that catalog): a change of `catalog_id` replaces it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock, PoisonError};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value as J;

use crate::model::{Account, Address, Kind, Resource, Value};
use crate::spec::de::{Item, Opt, Spanned};
use crate::spec::error::{did_you_mean, Code};
use crate::spec::lower::Lower;
use crate::spec::types::{IdText, LifecycleSpec};

type S<T> = Spanned<T>;

/// The managed fields of a product set (`docs/resource-model.md`); `catalog_id` is fixed at creation.
pub const PRODUCT_SET_FIELDS: &[&str] = &["catalog_id", "filter"];

/// `what` of catalogs in `Lower::named_ids`.
const CATALOG: &str = "product_catalog";
/// `what` in `Lower::named_ids` of the campaigns and ad sets that write `catalog:` / `product_set:` (by address),
/// valid or not: what follows from a wrong one is not reported again.
const WRITES_CATALOG: &str = "writes catalog";
const WRITES_PRODUCT_SET: &str = "writes product_set";

/// A product catalog a Meta account uses (`product_catalogs:`): the catalog itself is the merchant's (made and fed
/// in Commerce Manager); adsctl manages the product sets listed here on it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename = "ProductCatalog")]
#[schemars(rename = "MetaProductCatalog")]
pub struct MetaProductCatalog {
    /// A local name for the catalog, unique within the account: campaigns name it with `catalog:`.
    pub name: S<String>,
    /// The Meta account that uses it.
    pub account: S<String>,
    /// The catalog's id (digits; Commerce Manager → Catalog → Settings). adsctl never changes the catalog.
    #[schemars(with = "IdText")]
    pub catalog_id: S<String>,
    /// The product sets adsctl manages on this catalog.
    #[serde(default)]
    pub product_sets: Vec<Item<MetaProductSet>>,
}

/// A product set: the products of its catalog that match a filter.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetaProductSet {
    /// Unique name within the account (on Meta it carries adsctl's marker ` [adsctl-managed]` at its end).
    pub name: S<String>,
    /// Which products: Meta's filter rules, as a mapping or JSON text, e.g.
    /// `{ retailer_id: { is_any: [SKU-1, SKU-2] } }` or
    /// `{ and: [ { product_type: { i_contains: shoes } }, { availability: { eq: in stock } } ] }`. Each part has
    /// one key: `and` / `or` over a list of parts, or a product field with one condition (`is_any`, `is_not_any`,
    /// `eq`, `neq`, `contains`, `i_contains`, `not_contains`, `i_not_contains`, `starts_with`, `i_starts_with`,
    /// `lt`, `lte`, `gt`, `gte`).
    #[schemars(with = "serde_json::Value")]
    pub filter: S<serde_json::Value>,
    /// Adopt an existing product set by its id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
}

/// Operators a product set filter may use (the emulator checks the same list; `docs/spec.md` says where it comes
/// from).
pub const FILTER_OPERATORS: &[&str] = &[
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

/// Product fields a dynamic creative's template tags may name (`{{product.name}}`).
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

/// A filter as written (a mapping, or JSON text) → the filter as Meta takes it, or what is wrong with it (the
/// rule language of custom conversions, [`super::rules::and_or_tree`], with the product set filter's operators).
pub fn product_set_filter(written: &J) -> Result<J, String> {
    let field = |field: &str| {
        let ok = !field.is_empty() && field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        ok.then_some(())
            .ok_or_else(|| format!("`{field}` is not a product field"))
    };
    let condition = |field: &str, op: &str, x: &J| {
        if !FILTER_OPERATORS.contains(&op) {
            return Err(format!("`{op}` is not a product set filter operator"));
        }
        let scalar = |x: &J| x.is_string() || x.is_number();
        let ok = match (op, x) {
            ("is_any" | "is_not_any", J::Array(a)) => !a.is_empty() && a.iter().all(scalar),
            ("is_any" | "is_not_any", _) => false,
            (_, x) => scalar(x),
        };
        if ok {
            Ok(())
        } else if op.starts_with("is_") {
            Err(format!(
                "`{op}` on `{field}` takes a non-empty list of texts or numbers"
            ))
        } else {
            Err(format!("the value of `{op}` on `{field}` is a text or a number"))
        }
    };
    super::rules::and_or_tree(written, "filter", "product field", &field, &condition).map(numbers)
}

/// YAML reads every scalar as text: the value of a numeric comparison (`lt`, `lte`, `gt`, `gte`) that is a number
/// is sent as a JSON number (`{"price":{"lt":10000}}`), everything else as written.
fn numbers(v: J) -> J {
    match v {
        J::Object(o) => J::Object(
            o.into_iter()
                .map(|(k, x)| {
                    let x = match (k.as_str(), x) {
                        ("lt" | "lte" | "gt" | "gte", J::String(s)) => {
                            match serde_json::from_str::<serde_json::Number>(s.trim()) {
                                Ok(n) => J::Number(n),
                                Err(_) => J::String(s),
                            }
                        }
                        (_, x) => numbers(x),
                    };
                    (k, x)
                })
                .collect(),
        ),
        J::Array(a) => J::Array(a.into_iter().map(numbers).collect()),
        other => other,
    }
}

/// The first template tag of a text that names no product field (`{{product.colour}}`), if any; an unclosed
/// `{{` is reported as such.
pub fn unknown_template_tag(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Some(format!("{{{{{}", after.chars().take(30).collect::<String>()));
        };
        let tag = after[..end].trim();
        let name = tag.split(|c: char| c == '|' || c.is_whitespace()).next().unwrap_or("");
        if !name
            .strip_prefix("product.")
            .is_some_and(|f| TEMPLATE_FIELDS.contains(&f))
        {
            return Some(format!("{{{{{tag}}}}}"));
        }
        rest = &after[end + 2..];
    }
    None
}

// ───────────────────────────── the catalogs each account's reads look into ─────────────────────────────

fn declared() -> &'static Mutex<HashMap<String, BTreeSet<String>>> {
    static D: OnceLock<Mutex<HashMap<String, BTreeSet<String>>>> = OnceLock::new();
    D.get_or_init(Default::default)
}

/// Files a catalog the YAML declares for an ad account (by its platform id, `act_<digits>` or the digits): the
/// connector's reads of that ad account list the product sets of every catalog filed for it, in this process. A
/// fresh runner loads the YAML before it reads, so it looks into the same catalogs.
pub fn declare(ad_account: &str, catalog_id: &str) {
    declared()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(super::act_id(ad_account))
        .or_default()
        .insert(catalog_id.to_string());
}

/// The catalogs filed for an ad account (its platform id).
pub fn declared_catalogs(ad_account: &str) -> BTreeSet<String> {
    declared()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&super::act_id(ad_account))
        .cloned()
        .unwrap_or_default()
}

// ───────────────────────────── lowering ─────────────────────────────

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl Lower<'_> {
    /// A `product_catalogs:` entry: the catalog's local name and id, and its product sets.
    pub(crate) fn meta_product_catalog(&mut self, acct: &Account, c: MetaProductCatalog) {
        let id = c.catalog_id.trim().to_string();
        if !digits(&id) {
            self.err(
                c.catalog_id.span,
                Code::InvalidValue,
                format!("invalid catalog id `{}`", c.catalog_id.value),
                "a Meta catalog id is digits, e.g. `\"1234567890\"` (Commerce Manager → Catalog → Settings)",
            );
            return;
        }
        let name = c.name.trim().to_string();
        if name.is_empty() {
            self.err(c.name.span, Code::Constraint, "catalog name is empty", "give it a name");
            return;
        }
        let key = (acct.name.clone(), CATALOG, name.clone());
        if self.named_ids.contains_key(&key) {
            self.err(
                c.name.span,
                Code::Duplicate,
                format!("product catalog `{name}` is declared twice in account `{}`", acct.name),
                "give each catalog entry its own name, or list all its product sets under one",
            );
            return;
        }
        self.named_ids.insert(key, id.clone());
        declare(&acct.platform_id, &id);
        for s in c.product_sets.into_iter().filter_map(|i| i.value) {
            let Some(mut r) =
                self.account_resource(acct, Kind::ProductSet, "product set", &s.name, &s.id, &s.lifecycle)
            else {
                continue;
            };
            r.fields.insert("catalog_id", Value::str(&id));
            match product_set_filter(&s.filter) {
                Ok(f) => {
                    r.fields.insert("filter", Value::Str(f.to_string()));
                }
                Err(e) => self.err(
                    s.filter.span,
                    Code::InvalidValue,
                    format!("invalid product set filter: {e}"),
                    "write it as Meta's filter rules, e.g. `{ retailer_id: { is_any: [SKU-1, SKU-2] } }`",
                ),
            }
            self.resources.push(r);
        }
    }

    /// A campaign's `catalog:` → `catalog_id` (the catalog's id), checked: a declared catalog of the account, and
    /// the campaign's objective is sales.
    pub(crate) fn meta_campaign_catalog(
        &mut self,
        acct: &Account,
        catalog: &Opt<String>,
        objective: Option<&str>,
        r: &mut Resource,
    ) {
        let Some(name) = &**catalog else { return };
        self.named_ids.insert(
            (acct.name.clone(), WRITES_CATALOG, r.address.to_string()),
            String::new(),
        );
        let key = (acct.name.clone(), CATALOG, name.trim().to_string());
        let Some(id) = self.named_ids.get(&key).cloned() else {
            let names: Vec<String> = self
                .named_ids
                .keys()
                .filter(|(a, w, _)| *a == acct.name && *w == CATALOG)
                .map(|(_, _, n)| n.clone())
                .collect();
            let hint = match did_you_mean(name, names.iter().map(String::as_str)) {
                Some(x) => format!("did you mean `{x}`?"),
                None => format!(
                    "declare it under `product_catalogs:` with `account: {}` and its `catalog_id`",
                    acct.name
                ),
            };
            self.err(
                name.span,
                Code::UnknownReference,
                format!("unknown product catalog `{}` in account `{}`", name.value, acct.name),
                hint,
            );
            return;
        };
        if objective.is_some_and(|o| o != "outcome_sales" && o != "product_catalog_sales") {
            self.err(
                name.span,
                Code::Constraint,
                "a campaign that sells from a catalog has `objective: sales`",
                "catalog ads are Meta's sales objective with a product catalog: write `objective: sales`",
            );
        }
        r.fields.insert("catalog_id", Value::Str(id));
    }

    /// An ad set's `product_set:` → `promoted_object.product_set` (a reference), checked against its campaign's
    /// catalog: an ad set of a catalog campaign names one of that catalog's product sets, and only such ad sets
    /// name one.
    pub(crate) fn meta_ad_set_product_set(
        &mut self,
        acct: &Account,
        campaign: &Address,
        name: &S<String>,
        product_set: &Opt<String>,
        r: &mut Resource,
    ) {
        let catalog = self
            .resources
            .iter()
            .rev()
            .find(|c| &c.address == campaign)
            .and_then(|c| c.fields.get("catalog_id"))
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let Some(set) = &**product_set else {
            if catalog.is_some() && !product_set.is_invalid() {
                self.named_ids.insert(
                    (acct.name.clone(), WRITES_PRODUCT_SET, r.address.to_string()),
                    String::new(),
                );
                self.err(
                    name.span,
                    Code::MissingField,
                    format!(
                        "ad set `{}` needs `product_set`: its campaign sells from a catalog",
                        name.value
                    ),
                    "add `product_set: <a product set of that catalog under product_catalogs:>`",
                );
            }
            return;
        };
        self.named_ids.insert(
            (acct.name.clone(), WRITES_PRODUCT_SET, r.address.to_string()),
            String::new(),
        );
        let campaign_writes = self
            .named_ids
            .contains_key(&(acct.name.clone(), WRITES_CATALOG, campaign.to_string()));
        let Some(catalog) = catalog else {
            if campaign_writes {
                // its `catalog:` is wrong, and said so
                return;
            }
            self.err(
                set.span,
                Code::Constraint,
                "`product_set` needs a campaign that sells from a catalog",
                "add `catalog: <name under product_catalogs:>` to the campaign (with `objective: sales`)",
            );
            return;
        };
        let base = Address::account(&acct.name);
        let target = base.child(Kind::ProductSet, set.trim());
        let Some(found) = self.resources.iter().find(|x| x.address == target) else {
            let names = self.names_of(&base, Kind::ProductSet);
            let hint = match did_you_mean(set, names.iter().map(String::as_str)) {
                Some(x) => format!("did you mean `{x}`?"),
                None => format!(
                    "declare it under `product_sets:` of a `product_catalogs:` entry with `account: {}`",
                    acct.name
                ),
            };
            self.err(
                set.span,
                Code::UnknownReference,
                format!("unknown product set `{}` in account `{}`", set.value, acct.name),
                hint,
            );
            return;
        };
        if found.fields.get("catalog_id").and_then(|v| v.as_str()) != Some(catalog.as_str()) {
            self.err(
                set.span,
                Code::Constraint,
                format!("product set `{}` is not in the campaign's catalog", set.value),
                "an ad set shows products of its campaign's catalog: pick a product set of that catalog",
            );
            return;
        }
        let mut m: BTreeMap<String, Value> = match r.fields.get("promoted_object") {
            Some(Value::Map(m)) => m.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            _ => BTreeMap::new(),
        };
        m.insert("product_set".into(), Value::reference(target));
        r.fields.insert("promoted_object", Value::Map(m.into_iter().collect()));
    }

    /// A creative's `dynamic: true`: `creative.dynamic`, the ad set's product set as `creative.product_set`, and
    /// template tags that name product fields; tags in a creative that is not dynamic are refused.
    pub(crate) fn meta_dynamic_creative(
        &mut self,
        acct: &Account,
        set: &Address,
        c: &S<super::yaml::Creative>,
        r: &mut Resource,
    ) {
        let dynamic = c.dynamic.as_ref().is_some_and(|d| d.value);
        let texts = [
            ("message", &*c.message),
            ("headline", &*c.headline),
            ("description", &*c.description),
        ];
        for (key, t) in texts {
            let Some(t) = t else { continue };
            if !dynamic {
                if t.contains("{{") {
                    self.err(
                        t.span,
                        Code::Constraint,
                        format!("`{key}` holds a template tag, but the creative is not dynamic"),
                        "template tags are filled from a catalog: add `dynamic: true` (in an ad set with a `product_set`)",
                    );
                }
                continue;
            }
            if let Some(tag) = unknown_template_tag(t) {
                self.err(
                    t.span,
                    Code::InvalidValue,
                    format!("`{tag}` in `{key}` is not a template tag of a product catalog"),
                    format!(
                        "template tags name product fields: {}",
                        TEMPLATE_FIELDS
                            .iter()
                            .map(|f| format!("{{{{product.{f}}}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        if !dynamic {
            return;
        }
        r.fields.insert("creative.dynamic", Value::Bool(true));
        let product_set = self.resources.iter().rev().find(|x| &x.address == set).and_then(|s| {
            match s.fields.get("promoted_object") {
                Some(Value::Map(m)) => m.get("product_set").cloned(),
                _ => None,
            }
        });
        match product_set {
            Some(p) => {
                r.fields.insert("creative.product_set", p);
            }
            // an ad set that writes a product set (or had to): what is wrong with it is said there
            None if self
                .named_ids
                .contains_key(&(acct.name.clone(), WRITES_PRODUCT_SET, set.to_string())) => {}
            None => {
                let at = c.dynamic.as_ref().map_or(c.span, |d| d.span);
                self.err(
                    at,
                    Code::Constraint,
                    "a dynamic creative needs an ad set with a `product_set`",
                    "dynamic creatives show the products of their ad set's product set: give the ad set one",
                );
            }
        }
    }
}

// ───────────────────────────── wire ─────────────────────────────

/// `fields=` for product sets (`filter` comes as JSON text).
pub const PRODUCT_SET_WIRE_FIELDS: &str = "id,name,filter";

/// A ProductSet as read.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct WireProductSet {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// The filter as JSON text.
    #[serde(default)]
    pub filter: Option<String>,
}

/// A live product set as a resource (only those whose name carries adsctl's marker are owned; the YAML name is the
/// name without it).
pub fn product_set_resource(account: &str, catalog_id: &str, s: &WireProductSet) -> Resource {
    let (name, owned) = crate::platforms::shared::split_name(&s.name);
    let mut r = Resource::new(
        Address::account(account).child(Kind::ProductSet, &name),
        Kind::ProductSet,
    );
    r.id = Some(s.id.clone());
    r.owned = owned;
    r.fields.insert("catalog_id", Value::str(catalog_id));
    if let Some(f) = s.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        // compared as JSON: Meta's spacing never shows as drift
        let v = serde_json::from_str::<J>(f)
            .map(|j| j.to_string())
            .unwrap_or_else(|_| f.to_string());
        r.fields.insert("filter", Value::Str(v));
    }
    r
}

/// Parameters of a product set create (`name` marked) or update (`name` marked when renamed, `filter`).
pub fn product_set_params(
    name: Option<&str>,
    fields: &BTreeMap<String, Value>,
) -> Result<Vec<(String, String)>, super::mapping::MappingError> {
    let mut p = Vec::new();
    if let Some(n) = name {
        p.push(("name".to_string(), crate::platforms::shared::marked_name(n)));
    }
    for (k, v) in fields {
        match k.as_str() {
            "filter" => {
                let s = v.as_str().ok_or_else(|| super::mapping::MappingError::BadValue {
                    field: k.clone(),
                    message: "the filter is JSON text".into(),
                })?;
                p.push(("filter".to_string(), s.to_string()));
            }
            // the catalog is where it is made (the path), never a parameter
            "catalog_id" => {}
            _ => {
                return Err(super::mapping::MappingError::BadValue {
                    field: k.clone(),
                    message: "not a product set field".into(),
                })
            }
        }
    }
    Ok(p)
}

// ───────────────────────────── import ─────────────────────────────

/// `product_catalogs:` entries for the product sets of one account, one per catalog (named `catalog <id>`: the
/// local name is the YAML's, which the platform does not know).
pub fn import_catalogs(mine: &[Resource], account: &Account) -> Vec<serde_yaml::Mapping> {
    use crate::import::{map_insert, s};
    use serde_yaml::{Mapping, Value as Yaml};
    let mut by_catalog: BTreeMap<String, Vec<&Resource>> = BTreeMap::new();
    for r in mine.iter().filter(|r| r.kind == Kind::ProductSet) {
        if let Some(c) = r.fields.get("catalog_id").and_then(|v| v.as_str()) {
            by_catalog.entry(c.to_string()).or_default().push(r);
        }
    }
    // catalogs campaigns sell from, even without a product set adsctl manages
    for r in mine.iter().filter(|r| r.kind == Kind::Campaign) {
        if let Some(c) = r.fields.get("catalog_id").and_then(|v| v.as_str()) {
            by_catalog.entry(c.to_string()).or_default();
        }
    }
    by_catalog
        .into_iter()
        .map(|(id, sets)| {
            let mut m = Mapping::new();
            map_insert(&mut m, "name", s(&import_catalog_name(&id)));
            map_insert(&mut m, "account", s(&account.name));
            map_insert(&mut m, "catalog_id", s(&id));
            let items: Vec<Yaml> = sets
                .iter()
                .map(|r| {
                    let mut pm = Mapping::new();
                    map_insert(&mut pm, "name", s(r.address.name().unwrap_or_default()));
                    if let Some(f) = r.fields.get("filter").and_then(|v| v.as_str()) {
                        map_insert(&mut pm, "filter", s(f));
                    }
                    Yaml::Mapping(pm)
                })
                .collect();
            if !items.is_empty() {
                map_insert(&mut m, "product_sets", Yaml::Sequence(items));
            }
            m
        })
        .collect()
}

/// The local name `import` gives a catalog (campaigns name it the same way).
pub fn import_catalog_name(id: &str) -> String {
    format!("catalog {id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_and_template_tags() {
        assert!(product_set_filter(&json!({"retailer_id": {"is_any": ["SKU-1"]}})).is_ok());
        assert!(product_set_filter(&json!("{\"brand\":{\"eq\":\"Acme\"}}")).is_ok());
        assert!(product_set_filter(&json!({"brand": "Acme"})).is_err());
        assert!(product_set_filter(&json!({"retailer_id": {"is_any": "SKU-1"}})).is_err());
        assert!(product_set_filter(&json!({"brand": {"like": "x"}})).is_err());
        assert!(product_set_filter(&json!("not json")).is_err());
        assert_eq!(
            unknown_template_tag("Get {{product.name | titleize}} at {{product.price raw}}"),
            None
        );
        assert_eq!(
            unknown_template_tag("{{product.colour}}").as_deref(),
            Some("{{product.colour}}")
        );
        assert!(unknown_template_tag("{{product.name").is_some());
    }

    #[test]
    fn catalog_fields_are_written_and_read_back() {
        use super::super::mapping::{self, IdOrRef, ReadContext, Ref};
        use super::super::wire;
        use crate::model::Currency;
        let f = |pairs: &[(&str, Value)]| -> BTreeMap<String, Value> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
        };
        // a campaign's catalog is its promoted object
        let p = mapping::campaign_params(None, &f(&[("catalog_id", Value::str("55"))]), Currency::USD).unwrap();
        assert_eq!(p[0].0, "promoted_object");
        assert_eq!(p[0].1.render(&|_| None).unwrap(), r#"{"product_catalog_id":"55"}"#);
        // an ad set's product set alone, resolved through a pending create
        let set = Address::account("acme").child(Kind::ProductSet, "Shoes");
        let po = Value::Map([("product_set".to_string(), Value::reference(set.clone()))].into());
        let resolver = |a: &Address| (a == &set).then_some(IdOrRef::Later(Ref::Op(3)));
        let p = mapping::adset_params(
            None,
            None,
            &f(&[("promoted_object", po)]),
            Currency::USD,
            None,
            &resolver,
        )
        .unwrap();
        let rendered = p[0]
            .1
            .render(&|r| (r == &Ref::Op(3)).then(|| "{result=op3:$.id}".into()))
            .unwrap();
        assert_eq!(rendered, r#"{"product_set_id":"{result=op3:$.id}"}"#);
        // a dynamic creative: template_data, and the product set as the creative's own parameter
        let fields = f(&[
            ("creative.page_id", Value::str("1")),
            ("creative.link", Value::Url("https://e.com/".into())),
            ("creative.message", Value::str("{{product.name}}")),
            ("creative.dynamic", Value::Bool(true)),
            ("creative.product_set", Value::reference(set.clone())),
        ]);
        let p = mapping::creative_params("c", &fields, Some(IdOrRef::Known("77".into()))).unwrap();
        let spec: J = serde_json::from_str(&p[1].1.render(&|_| None).unwrap()).unwrap();
        assert_eq!(spec["template_data"]["message"], J::from("{{product.name}}"));
        assert!(spec.get("link_data").is_none());
        assert_eq!(p[2], ("product_set_id".to_string(), mapping::Tmpl::lit("77")));
        // read back: the campaign's catalog, the ad set's product set by address, the creative's fields
        let ids: BTreeMap<String, Address> = [("77".to_string(), set.clone())].into();
        let ctx = ReadContext {
            account: "acme",
            currency: Currency::USD,
            label_id: None,
            audiences: &BTreeMap::new(),
            custom_conversions: &BTreeMap::new(),
            product_sets: &ids,
        };
        let c: wire::Campaign = serde_json::from_value(serde_json::json!({
            "id": "1", "name": "C", "promoted_object": {"product_catalog_id": "55"}
        }))
        .unwrap();
        assert_eq!(
            mapping::campaign_resource(&c, &ctx).unwrap().fields["catalog_id"],
            Value::str("55")
        );
        let s: wire::AdSet = serde_json::from_value(serde_json::json!({
            "id": "2", "name": "S", "campaign_id": "1", "promoted_object": {"product_set_id": "77"}
        }))
        .unwrap();
        let r = mapping::adset_resource(&s, &Address::account("acme").child(Kind::Campaign, "C"), &ctx).unwrap();
        assert_eq!(
            r.fields["promoted_object"],
            Value::Map([("product_set".to_string(), Value::reference(set.clone()))].into())
        );
        let fields = mapping::creative_fields(&spec);
        assert_eq!(fields["creative.dynamic"], Value::Bool(true));
        assert_eq!(fields["creative.message"], Value::str("{{product.name}}"));
    }

    #[test]
    fn product_sets_read_back_with_their_marker() {
        let s = WireProductSet {
            id: "9".into(),
            name: "Shoes [adsctl-managed]".into(),
            filter: Some("{\"brand\": {\"eq\": \"Acme\"}}".into()),
        };
        let r = product_set_resource("shop", "55", &s);
        assert!(r.owned);
        assert_eq!(r.address.to_string(), "shop/product_set/Shoes");
        assert_eq!(r.fields["filter"], Value::str(r#"{"brand":{"eq":"Acme"}}"#));
        assert_eq!(r.fields["catalog_id"], Value::str("55"));
        let p = product_set_params(
            Some("Shoes"),
            &r.fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        )
        .unwrap();
        assert_eq!(p[0], ("name".into(), "Shoes [adsctl-managed]".into()));
        assert_eq!(p[1].0, "filter");
    }
}
