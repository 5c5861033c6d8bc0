//! Performance Max catalog campaigns (issue 28, "Catalog ads", Google side): a campaign's Merchant Center link
//! (`shopping.merchant_id`, `shopping.feed_label`), its asset groups (kind `asset_group`) and each asset group's
//! listing group filter tree (the asset group's `listing_groups` field). The catalog feed itself stays in the
//! merchant's tools: adsctl manages the ad side.
//!
//! The tree has one textual form everywhere (YAML lowering, reads, plans, import): the list of its leaves, each
//! with the path of dimension values that leads to it, depth first, cases in value order and everything-else
//! last:
//!
//! ```text
//! brand='Acme' / condition=new: included
//! brand='Acme' / condition=*: excluded
//! brand=*: included
//! ```
//!
//! A tree is wholly determined by its leaves, so the list is compared as it is. On the wire (v25
//! `AssetGroupListingGroupFilter`, `googleAds:mutate` with temporary resource names) a changed tree is replaced:
//! the live nodes are removed leaves first (a subdivision with children cannot be removed:
//! `SUBDIVISION_HAS_CHILDREN`), then the new tree is created root first, in the same request (the platform checks
//! the shape when the request ends). Reading chosen: no in-place edit of case values (`case_value` is mutable, but
//! only "while updating the entire subtree at the same time": `CHANGING_CASE_VALUE_WITH_CHILDREN`), so a tree
//! change is always a replacement of the tree — never of the asset group.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject, SubschemaValidation};
use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};

use crate::model::{Account, Address, Kind, Resource, Value};
use crate::spec::de::{Opt, Spanned};
use crate::spec::error::Code;
use crate::spec::lower::Lower;
use crate::spec::types::{IdText, LifecycleSpec, Status};

use super::mapping::{get_str, id_of, lower, Fields};

type S<T> = Spanned<T>;

// ---------------------------------------------------------------------------------------------------------
// The tree

/// A listing dimension (`ListingGroupFilterDimension`), as the YAML names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dim {
    Brand,
    Condition,
    Channel,
    ItemId,
    /// `custom_label_0` … `custom_label_4` (`productCustomAttribute`, INDEX0 … INDEX4).
    CustomLabel(u8),
    /// `category_l1` … `category_l5` (`productCategory`: a Google product category id at a level).
    Category(u8),
    /// `product_type_l1` … `product_type_l5` (`productType` at a level).
    ProductType(u8),
}

pub const DIMENSIONS: &str = "brand, condition, channel, item_id, custom_label_0…custom_label_4, \
category_l1…category_l5, product_type_l1…product_type_l5";

impl Dim {
    pub fn parse(s: &str) -> Option<Dim> {
        let n = |p: &str, lo: u8, hi: u8| {
            s.strip_prefix(p)
                .and_then(|d| d.parse::<u8>().ok())
                .filter(|d| (lo..=hi).contains(d))
        };
        Some(match s {
            "brand" => Dim::Brand,
            "condition" => Dim::Condition,
            "channel" => Dim::Channel,
            "item_id" => Dim::ItemId,
            _ => {
                if let Some(i) = n("custom_label_", 0, 4) {
                    Dim::CustomLabel(i)
                } else if let Some(l) = n("category_l", 1, 5) {
                    Dim::Category(l)
                } else if let Some(l) = n("product_type_l", 1, 5) {
                    Dim::ProductType(l)
                } else {
                    return None;
                }
            }
        })
    }

    pub fn key(self) -> String {
        match self {
            Dim::Brand => "brand".into(),
            Dim::Condition => "condition".into(),
            Dim::Channel => "channel".into(),
            Dim::ItemId => "item_id".into(),
            Dim::CustomLabel(i) => format!("custom_label_{i}"),
            Dim::Category(l) => format!("category_l{l}"),
            Dim::ProductType(l) => format!("product_type_l{l}"),
        }
    }

    /// Values of an enum dimension (written lower case, sent upper case).
    fn choices(self) -> Option<&'static [&'static str]> {
        match self {
            Dim::Condition => Some(&["new", "refurbished", "used"]),
            Dim::Channel => Some(&["online", "local"]),
            _ => None,
        }
    }

    /// Free text (quoted in the textual form); enum values and category ids are bare.
    fn quoted(self) -> bool {
        !matches!(self, Dim::Condition | Dim::Channel | Dim::Category(_))
    }

    /// The same dimension type (a hierarchical one at any level).
    fn family(self) -> (u8, u8) {
        match self {
            Dim::Brand => (0, 0),
            Dim::Condition => (1, 0),
            Dim::Channel => (2, 0),
            Dim::ItemId => (3, 0),
            Dim::CustomLabel(i) => (4, i),
            Dim::Category(_) => (5, 0),
            Dim::ProductType(_) => (6, 0),
        }
    }

    fn level(self) -> Option<u8> {
        match self {
            Dim::Category(l) | Dim::ProductType(l) => Some(l),
            _ => None,
        }
    }

    /// The wire case value (`ListingGroupFilterDimension`); `None` is the everything-else node.
    pub fn case_json(self, value: Option<&str>) -> Json {
        let mut inner = Map::new();
        let member = match self {
            Dim::Brand => "productBrand",
            Dim::Condition => "productCondition",
            Dim::Channel => "productChannel",
            Dim::ItemId => "productItemId",
            Dim::CustomLabel(_) => "productCustomAttribute",
            Dim::Category(_) => "productCategory",
            Dim::ProductType(_) => "productType",
        };
        match self {
            Dim::CustomLabel(i) => {
                inner.insert("index".into(), json!(format!("INDEX{i}")));
            }
            Dim::Category(l) | Dim::ProductType(l) => {
                inner.insert("level".into(), json!(format!("LEVEL{l}")));
            }
            _ => {}
        }
        if let Some(v) = value {
            let (k, v) = match self {
                Dim::Condition => ("condition", json!(v.to_ascii_uppercase())),
                Dim::Channel => ("channel", json!(v.to_ascii_uppercase())),
                // int64: a JSON string
                Dim::Category(_) => ("categoryId", json!(v)),
                _ => ("value", json!(v)),
            };
            inner.insert(k.into(), v);
        }
        json!({ member: inner })
    }

    /// A wire case value back to (dimension, value).
    pub fn of_case(case: &Json) -> Option<(Dim, Option<String>)> {
        let (k, d) = case.as_object()?.iter().next()?;
        let num = |p: &str, f: &str| {
            get_str(d, f)
                .and_then(|x| x.strip_prefix(p))
                .and_then(|n| n.parse::<u8>().ok())
        };
        let dim = match k.as_str() {
            "productBrand" => Dim::Brand,
            "productCondition" => Dim::Condition,
            "productChannel" => Dim::Channel,
            "productItemId" => Dim::ItemId,
            "productCustomAttribute" => Dim::CustomLabel(num("INDEX", "index")?),
            "productCategory" => Dim::Category(num("LEVEL", "level")?),
            "productType" => Dim::ProductType(num("LEVEL", "level")?),
            _ => return None,
        };
        let value = match dim {
            Dim::Condition => get_str(d, "condition").map(lower),
            Dim::Channel => get_str(d, "channel").map(lower),
            Dim::Category(_) => d.get("categoryId").map(|x| match x {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            }),
            _ => get_str(d, "value").map(str::to_string),
        };
        Some((dim, value))
    }
}

/// A node of a listing group tree: a leaf (included or not), or a subdivision by one dimension with its cases and
/// its everything-else child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tree {
    Unit(bool),
    Split {
        dim: Dim,
        cases: Vec<(String, Tree)>,
        other: Box<Tree>,
    },
}

fn verdict(included: bool) -> &'static str {
    if included {
        "included"
    } else {
        "excluded"
    }
}

impl Tree {
    /// Cases in value order, everything below too (the canonical tree).
    pub fn canonical(mut self) -> Tree {
        if let Tree::Split { cases, other, .. } = &mut self {
            let taken = std::mem::take(cases);
            let mut sorted: Vec<(String, Tree)> = taken.into_iter().map(|(v, t)| (v, t.canonical())).collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            *cases = sorted;
            let o = std::mem::replace(other.as_mut(), Tree::Unit(true));
            **other = o.canonical();
        }
        self
    }

    /// The leaves with their paths (the textual form; see the module's documentation).
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.lines_into(&mut Vec::new(), &mut out);
        out
    }

    fn lines_into(&self, path: &mut Vec<String>, out: &mut Vec<String>) {
        match self {
            Tree::Unit(inc) => {
                let p = if path.is_empty() {
                    "*".to_string()
                } else {
                    path.join(" / ")
                };
                out.push(format!("{p}: {}", verdict(*inc)));
            }
            Tree::Split { dim, cases, other } => {
                for (v, t) in cases {
                    let shown = if dim.quoted() {
                        format!("'{}'", v.replace('\'', "''"))
                    } else {
                        v.clone()
                    };
                    path.push(format!("{}={shown}", dim.key()));
                    t.lines_into(path, out);
                    path.pop();
                }
                path.push(format!("{}=*", dim.key()));
                other.lines_into(path, out);
                path.pop();
            }
        }
    }

    /// The tree of a list of leaf lines (`None` when they do not make one).
    pub fn of_lines(lines: &[String]) -> Option<Tree> {
        let mut leaves = Vec::new();
        for l in lines {
            leaves.push(parse_line(l)?);
        }
        build(&leaves)
    }

    /// How many nodes the tree has on the platform.
    pub fn nodes(&self) -> usize {
        match self {
            Tree::Unit(_) => 1,
            Tree::Split { cases, other, .. } => 1 + cases.iter().map(|(_, t)| t.nodes()).sum::<usize>() + other.nodes(),
        }
    }

    /// The list value of the `listing_groups` field.
    pub fn value(&self) -> Value {
        Value::List(self.lines().into_iter().map(Value::str).collect())
    }

    pub fn of_value(v: &Value) -> Option<Tree> {
        let Value::List(xs) = v else { return None };
        let lines: Vec<String> = xs.iter().filter_map(|x| x.as_str().map(str::to_string)).collect();
        Tree::of_lines(&lines)
    }
}

type Leaf = (Vec<(Dim, Option<String>)>, bool);

/// `brand='Acme' / condition=*: included` → its path and verdict.
fn parse_line(l: &str) -> Option<Leaf> {
    let (path, v) = l.rsplit_once(": ")?;
    let inc = match v {
        "included" => true,
        "excluded" => false,
        _ => return None,
    };
    if path == "*" {
        return Some((Vec::new(), inc));
    }
    let mut segs = Vec::new();
    let mut rest = path;
    loop {
        let (key, after) = rest.split_once('=')?;
        let dim = Dim::parse(key)?;
        let (value, tail) = if let Some(t) = after.strip_prefix('*') {
            (None, t)
        } else if let Some(q) = after.strip_prefix('\'') {
            // quoted as in YAML: two quotes are one
            let mut value = String::new();
            let mut chars = q.char_indices().peekable();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '\'' {
                    if chars.peek().map(|(_, n)| *n) == Some('\'') {
                        chars.next();
                        value.push('\'');
                        continue;
                    }
                    end = Some(i + 1);
                    break;
                }
                value.push(c);
            }
            (Some(value), &q[end?..])
        } else {
            let end = after.find(" / ").unwrap_or(after.len());
            (Some(after[..end].to_string()), &after[end..])
        };
        segs.push((dim, value));
        if tail.is_empty() {
            break;
        }
        rest = tail.strip_prefix(" / ")?;
    }
    Some((segs, inc))
}

fn build(leaves: &[Leaf]) -> Option<Tree> {
    if let [(path, inc)] = leaves {
        if path.is_empty() {
            return Some(Tree::Unit(*inc));
        }
    }
    let dim = leaves.first()?.0.first()?.0;
    let mut groups: Vec<(Option<String>, Vec<Leaf>)> = Vec::new();
    for (path, inc) in leaves {
        let (d, v) = path.first()?;
        if *d != dim {
            return None;
        }
        let rest = (path[1..].to_vec(), *inc);
        match groups.iter_mut().find(|(g, _)| g == v) {
            Some((_, ls)) => ls.push(rest),
            None => groups.push((v.clone(), vec![rest])),
        }
    }
    let mut cases = Vec::new();
    let mut other = None;
    for (v, ls) in groups {
        let t = build(&ls)?;
        match v {
            Some(v) => cases.push((v, t)),
            None => other = Some(Box::new(t)),
        }
    }
    Some(Tree::Split {
        dim,
        cases,
        other: other?,
    })
}

// ---------------------------------------------------------------------------------------------------------
// YAML

/// A Performance Max asset group: where its ads lead (`final_urls`) and which products of the campaign's
/// Merchant Center feed it advertises (`listing_groups`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetGroupSpec {
    /// Unique name within the campaign (1–128 characters).
    pub name: S<String>,
    /// Adopt an existing asset group by its id.
    #[serde(default)]
    #[schemars(with = "IdText")]
    pub id: Opt<String>,
    /// `enabled` or `paused`.
    #[serde(default)]
    pub status: Opt<Status>,
    #[serde(default)]
    pub lifecycle: Opt<LifecycleSpec>,
    /// Landing pages (`https://…`), at least one.
    #[serde(default)]
    pub final_urls: Opt<Vec<S<String>>>,
    /// The products it advertises: `included` (the whole feed), or a subdivision by one dimension (`brand`,
    /// `condition`, `channel`, `item_id`, `custom_label_0`…`4`, `category_l1`…`5`, `product_type_l1`…`5`)
    /// mapping each value to `included`, `excluded` or a further subdivision, with `else` for everything else.
    /// Left out, the tree is not managed.
    #[serde(default)]
    pub listing_groups: Opt<ListingNode>,
}

/// A node of a listing group tree as written: a verdict, or a mapping with one dimension key.
#[derive(Debug)]
pub enum ListingNode {
    Verdict(String),
    Split(Vec<(S<String>, S<ListingCases>)>),
}

/// The cases of one subdivision: value → node, `else` for everything else.
#[derive(Debug)]
pub struct ListingCases(pub Vec<(S<String>, S<ListingNode>)>);

impl<'de> Deserialize<'de> for ListingNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ListingNode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`included`, `excluded`, or a mapping with one dimension (e.g. `brand:`)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ListingNode, E> {
                Ok(ListingNode::Verdict(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ListingNode, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<S<String>>()? {
                    out.push((k, map.next_value::<S<ListingCases>>()?));
                }
                Ok(ListingNode::Split(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for ListingCases {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ListingCases;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of values to `included`, `excluded` or a subdivision, with `else`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ListingCases, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<S<String>>()? {
                    out.push((k, map.next_value::<S<ListingNode>>()?));
                }
                Ok(ListingCases(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl JsonSchema for ListingNode {
    fn schema_name() -> String {
        "ListingGroupNode".into()
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let mut verdict = SchemaObject {
            instance_type: Some(InstanceType::String.into()),
            ..Default::default()
        };
        verdict.enum_values = Some(vec![json!("included"), json!("excluded")]);
        let mut cases = SchemaObject {
            instance_type: Some(InstanceType::Object.into()),
            ..Default::default()
        };
        cases.object().additional_properties = Some(Box::new(gen.subschema_for::<ListingNode>()));
        let mut split = SchemaObject {
            instance_type: Some(InstanceType::Object.into()),
            ..Default::default()
        };
        split.object().additional_properties = Some(Box::new(cases.into()));
        split.object().max_properties = Some(1);
        let mut s = SchemaObject::default();
        s.metadata().description =
            Some("`included`, `excluded`, or `{ <dimension>: { <value>: <node>, …, else: <node> } }`".into());
        s.subschemas = Some(Box::new(SubschemaValidation {
            any_of: Some(vec![verdict.into(), split.into()]),
            ..Default::default()
        }));
        s.into()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Lowering

/// What the campaign says about the catalog, for its asset groups' checks.
pub struct CatalogCampaign {
    pub retail: bool,
    pub performance_max: bool,
}

impl<'a> Lower<'a> {
    /// The Merchant Center link of a Google campaign (`merchant_center_id`, `feed_label`).
    pub(crate) fn merchant_link(
        &mut self,
        merchant: &Opt<String>,
        feed_label: &Opt<String>,
        channel: Option<&str>,
        name_span: crate::spec::yaml::Span,
        adopted: bool,
        r: &mut Resource,
    ) {
        let catalog = matches!(channel, Some("shopping" | "performance_max"));
        if let Some(m) = &**merchant {
            if !catalog && channel.is_some() {
                self.err(
                    m.span,
                    Code::Constraint,
                    format!(
                        "`merchant_center_id` links a catalog to a shopping or performance_max campaign; this one's \
                         channel is `{}`",
                        channel.unwrap_or_default()
                    ),
                    "remove it, or change the channel",
                );
            } else if m.is_empty() || m.len() > 20 || !m.bytes().all(|b| b.is_ascii_digit()) {
                self.err(
                    m.span,
                    Code::InvalidValue,
                    format!("`{}` is not a Merchant Center id", m.value),
                    "the Merchant Center account's id: digits only, e.g. `merchant_center_id: 1234567`",
                );
            } else {
                r.fields
                    .insert("shopping.merchant_id", Value::str(m.trim_start_matches('0')));
            }
        } else if channel == Some("shopping") && !adopted && !merchant.is_invalid() {
            self.missing(
                name_span,
                "merchant_center_id",
                "a shopping campaign (its Merchant Center account)",
                "1234567",
            );
        }
        if let Some(f) = &**feed_label {
            if merchant.is_none() {
                self.err(
                    f.span,
                    Code::Constraint,
                    "`feed_label` chooses products of the linked Merchant Center feed: it needs `merchant_center_id`",
                    "add `merchant_center_id`, or remove `feed_label`",
                );
            } else if f.is_empty()
                || f.chars().count() > 20
                || !f
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_')
            {
                self.err(
                    f.span,
                    Code::InvalidValue,
                    format!("`{}` is not a feed label", f.value),
                    "at most 20 upper-case letters, digits, hyphens and underscores, as in Merchant Center (e.g. `US`)",
                );
            } else {
                r.fields.insert("shopping.feed_label", Value::str(f.value.clone()));
            }
        }
    }

    /// What a Performance Max campaign cannot have: a shared budget, a bidding strategy other than maximize
    /// conversions (value), network settings, ad groups.
    pub(crate) fn performance_max_campaign(&mut self, c: &crate::spec::types::GoogleCampaign, r: &Resource) {
        if let Some(b) = &*c.budget {
            if let Some(sh) = &*b.shared {
                self.err(
                    sh.span,
                    Code::Constraint,
                    "a performance_max campaign has its own budget: it cannot use a shared one",
                    "write `budget: { daily: … }`",
                );
            }
        }
        if let Some(strategy) = r.fields.get("bidding.strategy").and_then(Value::as_str) {
            if !matches!(strategy, "maximize_conversions" | "maximize_conversion_value") {
                if let Some(b) = &*c.bidding {
                    self.err(
                        b.span,
                        Code::Constraint,
                        format!("a performance_max campaign bids with maximize_conversions or maximize_conversion_value, not {strategy}"),
                        "use `maximize_conversion_value: { target_roas: 4 }` (or maximize_conversions, with an optional target_cpa)",
                    );
                }
            }
        }
        if let Some(n) = &*c.network {
            self.err(
                n.span,
                Code::Constraint,
                "a performance_max campaign serves on every Google network: it has no network settings",
                "remove `network`",
            );
        }
        if let Some(g) = c.ad_groups.iter().find_map(|i| i.value.as_ref()) {
            self.err(
                g.name.span,
                Code::Constraint,
                "a performance_max campaign has asset groups, not ad groups",
                "write `asset_groups:` (name, final_urls, listing_groups)",
            );
        }
    }

    /// An asset group of a Google campaign.
    pub(crate) fn asset_group(&mut self, acct: &Account, campaign: &Address, cat: &CatalogCampaign, g: AssetGroupSpec) {
        if !cat.performance_max {
            self.err(
                g.name.span,
                Code::Constraint,
                "asset groups belong to performance_max campaigns",
                "set `channel: performance_max` on the campaign, or use ad groups",
            );
            return;
        }
        if !cat.retail {
            self.err(
                g.name.span,
                Code::Constraint,
                "this asset group's campaign has no `merchant_center_id`: adsctl manages Performance Max asset groups \
                 of catalog (retail) campaigns, whose products come from the feed (image and text assets are not \
                 managed yet)",
                "add `merchant_center_id` to the campaign",
            );
            return;
        }
        let name = g.name.trim();
        if name.is_empty() || name.chars().count() > 128 {
            self.err(
                g.name.span,
                Code::Constraint,
                "an asset group's name has 1 to 128 characters",
                "give it a shorter name",
            );
            return;
        }
        let addr = campaign.child(Kind::AssetGroup, name);
        if !self.declare(&addr, g.name.span, "asset group") {
            return;
        }
        let mut r = self.resource(addr, Kind::AssetGroup, g.name.span, &g.id, &g.lifecycle, acct.platform);
        self.status(&g.status, acct.platform, &mut r);
        match &*g.final_urls {
            Some(urls) if !urls.is_empty() => {
                let mut list = Vec::new();
                let mut seen = BTreeSet::new();
                for u in urls.iter() {
                    if let Some(v) = self.url(u, "final_urls") {
                        if !seen.insert(u.value.clone()) {
                            self.err(
                                u.span,
                                Code::Constraint,
                                "this final URL is listed twice",
                                "list it once",
                            );
                        }
                        list.push(v);
                    }
                }
                r.fields.insert("final_urls", Value::List(list));
            }
            Some(_) => self.err(
                g.name.span,
                Code::Constraint,
                "`final_urls` is empty",
                "add the landing page, e.g. `final_urls: [https://shop.example.com]`",
            ),
            None if g.id.is_none() && !g.final_urls.is_invalid() => self.missing(
                g.name.span,
                "final_urls",
                "an asset group",
                "[https://shop.example.com]",
            ),
            None => {}
        }
        if let Some(t) = &*g.listing_groups {
            if let Some(tree) = self.listing_tree(t, &mut Vec::new(), true) {
                r.fields.insert("listing_groups", tree.canonical().value());
            }
        }
        self.resources.push(r);
    }

    /// Check a written tree (with its ancestors' dimensions) and make it.
    fn listing_tree(&mut self, n: &S<ListingNode>, above: &mut Vec<(Dim, bool)>, root: bool) -> Option<Tree> {
        match &n.value {
            ListingNode::Verdict(v) => match v.as_str() {
                "included" => Some(Tree::Unit(true)),
                "excluded" if root => {
                    self.err(
                        n.span,
                        Code::Constraint,
                        "the whole feed excluded: this asset group would advertise nothing",
                        "pause the asset group instead, or subdivide the tree",
                    );
                    None
                }
                "excluded" => Some(Tree::Unit(false)),
                other => {
                    self.err(
                        n.span,
                        Code::InvalidValue,
                        format!("`{other}` is not a listing group node"),
                        "write `included`, `excluded`, or a subdivision such as `brand: { Acme: included, else: excluded }`",
                    );
                    None
                }
            },
            ListingNode::Split(entries) => {
                let Some((key, cases)) = entries.first() else {
                    self.err(
                        n.span,
                        Code::Constraint,
                        "an empty subdivision",
                        "name one dimension, e.g. `brand: { Acme: included, else: excluded }`",
                    );
                    return None;
                };
                if let Some((extra, _)) = entries.get(1) {
                    self.err(
                        extra.span,
                        Code::Constraint,
                        format!(
                            "a subdivision splits by one dimension; this one names `{}` and `{}`",
                            key.value, extra.value
                        ),
                        "nest the second dimension under a value of the first",
                    );
                    return None;
                }
                let Some(dim) = Dim::parse(key.trim()) else {
                    self.err(
                        key.span,
                        Code::InvalidValue,
                        format!("unknown listing dimension `{}`", key.value),
                        format!("one of {DIMENSIONS}"),
                    );
                    return None;
                };
                if above
                    .iter()
                    .any(|(d, _)| d.family() == dim.family() && d.level() == dim.level())
                {
                    self.err(
                        key.span,
                        Code::Constraint,
                        format!("`{}` already subdivides a node above this one", key.value),
                        "a dimension appears once on a path; choose another one here",
                    );
                    return None;
                }
                if let Some(l) = dim.level().filter(|l| *l > 1) {
                    match above.last() {
                        Some((d, other)) if d.family() == dim.family() && d.level() == Some(l - 1) => {
                            if *other {
                                self.err(
                                    key.span,
                                    Code::Constraint,
                                    format!(
                                        "`{}` cannot refine the `else` of level {}: it has no level-{} value",
                                        key.value,
                                        l - 1,
                                        l - 1
                                    ),
                                    "move it under a value of the level above",
                                );
                                return None;
                            }
                        }
                        _ => {
                            let prev = match dim {
                                Dim::Category(_) => format!("category_l{}", l - 1),
                                _ => format!("product_type_l{}", l - 1),
                            };
                            self.err(
                                key.span,
                                Code::Constraint,
                                format!("`{}` refines a value of `{prev}`", key.value),
                                format!("nest it under a value of `{prev}` (levels go one by one)"),
                            );
                            return None;
                        }
                    }
                }
                let mut seen: BTreeMap<String, crate::spec::yaml::Span> = BTreeMap::new();
                let mut out = Vec::new();
                let mut other = None;
                let mut has_else = false;
                let mut ok = true;
                for (v, child) in &cases.value.0 {
                    let is_else = v.value == "else";
                    has_else |= is_else;
                    let value = if is_else { None } else { self.listing_value(dim, v) };
                    if !is_else && value.is_none() {
                        ok = false;
                        continue;
                    }
                    let folded = value.clone().unwrap_or_default().to_lowercase();
                    if !is_else {
                        if let Some(first) = seen.get(&folded) {
                            let at = self.at(*first);
                            self.err(
                                v.span,
                                Code::Constraint,
                                format!("`{}` is listed twice under `{}` (also at {at})", v.value, key.value),
                                "values are compared without case: list each once",
                            );
                            ok = false;
                            continue;
                        }
                        seen.insert(folded, v.span);
                    }
                    above.push((dim, is_else));
                    let t = self.listing_tree(child, above, false);
                    above.pop();
                    match (t, value) {
                        (Some(t), Some(v)) => out.push((v, t)),
                        (Some(t), None) => other = Some(t),
                        (None, _) => ok = false,
                    }
                }
                let Some(other) = other else {
                    if !has_else {
                        self.err(
                            cases.span,
                            Code::MissingField,
                            format!("the subdivision by `{}` has no `else`", key.value),
                            "add `else: included` or `else: excluded` for every other product",
                        );
                    }
                    return None;
                };
                ok.then(|| Tree::Split {
                    dim,
                    cases: out,
                    other: Box::new(other),
                })
            }
        }
    }

    fn listing_value(&mut self, dim: Dim, v: &S<String>) -> Option<String> {
        let t = v.trim();
        if t.is_empty() {
            self.err(
                v.span,
                Code::Constraint,
                "an empty value",
                "write the value, or use `else`",
            );
            return None;
        }
        if let Some(choices) = dim.choices() {
            let l = t.to_ascii_lowercase();
            if !choices.contains(&l.as_str()) {
                self.err(
                    v.span,
                    Code::InvalidValue,
                    format!("`{t}` is not a product {}", dim.key()),
                    format!("one of {}", choices.join(", ")),
                );
                return None;
            }
            return Some(l);
        }
        if matches!(dim, Dim::Category(_)) && !t.bytes().all(|b| b.is_ascii_digit()) {
            self.err(
                v.span,
                Code::InvalidValue,
                format!("`{t}` is not a Google product category id"),
                "categories are numeric ids of Google's product taxonomy, e.g. `1604` (Apparel & Accessories > Clothing)",
            );
            return None;
        }
        if matches!(dim, Dim::Category(_)) {
            // an int64 on the wire: read back without leading zeros
            let n = t.trim_start_matches('0');
            return Some(if n.is_empty() { "0".into() } else { n.to_string() });
        }
        Some(t.to_string())
    }
}

// ---------------------------------------------------------------------------------------------------------
// Wire: campaign shopping settings, asset groups

/// The campaign's `shopping.*` fields into a Campaign body and its update mask.
pub fn campaign_shopping_json(fields: &Fields, obj: &mut Map<String, Json>, mask: &mut Vec<String>) {
    let mut ss = Map::new();
    if let Some(Value::Str(m)) = fields.get("shopping.merchant_id") {
        // int64: a JSON string
        ss.insert("merchantId".into(), json!(m));
        mask.push("shoppingSetting.merchantId".into());
    }
    if let Some(Value::Str(f)) = fields.get("shopping.feed_label") {
        ss.insert("feedLabel".into(), json!(f));
        mask.push("shoppingSetting.feedLabel".into());
    }
    if let Some(Value::Int(p)) = fields.get("shopping.campaign_priority") {
        ss.insert("campaignPriority".into(), json!(p));
        mask.push("shoppingSetting.campaignPriority".into());
    }
    if !ss.is_empty() {
        obj.insert("shoppingSetting".into(), Json::Object(ss));
    }
}

/// What a new Shopping campaign needs that the YAML may leave out: its priority (required by the platform;
/// reading chosen: 0, the lowest, when not written).
pub fn campaign_create_defaults(fields: &Fields, obj: &mut Map<String, Json>) {
    if fields.get("channel").and_then(Value::as_str) != Some("shopping") {
        return;
    }
    if let Json::Object(ss) = obj.entry("shoppingSetting").or_insert_with(|| json!({})) {
        ss.entry("campaignPriority").or_insert(json!(0));
    }
}

/// A read campaign's `shopping.*` fields.
pub fn campaign_shopping_fields(c: &Json, f: &mut Fields) {
    match c.pointer("/shoppingSetting/merchantId") {
        Some(Json::String(m)) if !m.is_empty() => {
            f.insert("shopping.merchant_id".into(), Value::str(m.clone()));
        }
        Some(Json::Number(n)) => {
            f.insert("shopping.merchant_id".into(), Value::str(n.to_string()));
        }
        _ => {}
    }
    if let Some(p) = c.pointer("/shoppingSetting/campaignPriority").and_then(Json::as_i64) {
        f.insert("shopping.campaign_priority".into(), Value::Int(p));
    }
    if let Some(l) = c
        .pointer("/shoppingSetting/feedLabel")
        .and_then(Json::as_str)
        .filter(|l| !l.is_empty())
    {
        f.insert("shopping.feed_label".into(), Value::str(l));
    }
}

pub const Q_ASSET_GROUP: &str = "SELECT asset_group.resource_name, asset_group.id, asset_group.name, \
asset_group.campaign, asset_group.status, asset_group.final_urls FROM asset_group";

pub const Q_LISTING_GROUP: &str = "SELECT asset_group_listing_group_filter.resource_name, \
asset_group_listing_group_filter.asset_group, asset_group_listing_group_filter.type, \
asset_group_listing_group_filter.listing_source, asset_group_listing_group_filter.case_value, \
asset_group_listing_group_filter.parent_listing_group_filter FROM asset_group_listing_group_filter";

/// The asset group queries of a read (the removed ones left out unless some object is pinned).
pub fn queries(pinned: bool) -> (String, String) {
    let g = if pinned {
        Q_ASSET_GROUP.to_string()
    } else {
        format!("{Q_ASSET_GROUP} WHERE asset_group.status != 'REMOVED'")
    };
    let l = format!("{Q_LISTING_GROUP} WHERE asset_group_listing_group_filter.listing_source = 'SHOPPING'");
    (g, l)
}

/// The live trees: asset group resource name → its nodes (resource name, parent, type, case value).
fn nodes_by_group(filters: &[Json]) -> HashMap<String, Vec<&Json>> {
    let mut out: HashMap<String, Vec<&Json>> = HashMap::new();
    for f in filters.iter().filter_map(|r| r.get("assetGroupListingGroupFilter")) {
        if let Some(g) = get_str(f, "assetGroup") {
            out.entry(g.to_string()).or_default().push(f);
        }
    }
    out
}

/// One asset group's live tree (`None`: no tree; a tree that does not hold together reads as its nodes' count,
/// so that it differs from any desired one and is replaced).
fn live_tree(nodes: &[&Json]) -> Option<Result<Tree, usize>> {
    if nodes.is_empty() {
        return None;
    }
    let mut kids: HashMap<&str, Vec<&Json>> = HashMap::new();
    let mut roots = Vec::new();
    for n in nodes {
        match get_str(n, "parentListingGroupFilter") {
            Some(p) => kids.entry(p).or_default().push(n),
            None => roots.push(*n),
        }
    }
    fn walk(n: &Json, kids: &HashMap<&str, Vec<&Json>>, depth: usize) -> Option<Tree> {
        if depth > 40 {
            return None;
        }
        let rn = get_str(n, "resourceName")?;
        match get_str(n, "type")? {
            "UNIT_INCLUDED" => Some(Tree::Unit(true)),
            "UNIT_EXCLUDED" => Some(Tree::Unit(false)),
            "SUBDIVISION" => {
                let mut dim = None;
                let mut cases = Vec::new();
                let mut other = None;
                for k in kids.get(rn).into_iter().flatten() {
                    let (d, v) = Dim::of_case(k.get("caseValue")?)?;
                    if dim.is_some_and(|x| x != d) {
                        return None;
                    }
                    dim = Some(d);
                    let t = walk(k, kids, depth + 1)?;
                    match v {
                        Some(v) => cases.push((v, t)),
                        None => other = Some(Box::new(t)),
                    }
                }
                Some(Tree::Split {
                    dim: dim?,
                    cases,
                    other: other?,
                })
            }
            _ => None,
        }
    }
    Some(match roots.as_slice() {
        [root] => walk(root, &kids, 0).map(Tree::canonical).ok_or(nodes.len()),
        _ => Err(nodes.len()),
    })
}

/// Asset groups of the campaigns read, addressed under them. They carry no marker (asset groups have no labels
/// and no free text field): the YAML declaring one under its campaign is what makes it adsctl's.
pub fn resources(
    acct: &Address,
    groups: &[Json],
    filters: &[Json],
    campaigns: &HashMap<String, Address>,
    kept: impl Fn(Option<&str>, &str) -> bool,
) -> Vec<Resource> {
    let trees = nodes_by_group(filters);
    let _ = acct;
    let mut out = Vec::new();
    for g in groups.iter().filter_map(|r| r.get("assetGroup")) {
        let (Some(rn), Some(name)) = (get_str(g, "resourceName"), get_str(g, "name")) else {
            continue;
        };
        let Some(parent) = get_str(g, "campaign").and_then(|c| campaigns.get(c)) else {
            continue;
        };
        let id = get_str(g, "id").map(str::to_string).unwrap_or_else(|| id_of(rn));
        if !kept(get_str(g, "status"), &id) {
            continue;
        }
        let mut r = Resource::new(parent.child(Kind::AssetGroup, name), Kind::AssetGroup);
        r.id = Some(id);
        if let Some(s) = get_str(g, "status") {
            r.fields.insert("status", Value::str(lower(s)));
        }
        let urls: Vec<Value> = g
            .get("finalUrls")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .map(|u| Value::Url(u.to_string()))
            .collect();
        r.fields.insert("final_urls", Value::List(urls));
        let tree = match trees.get(rn).map(|n| live_tree(n)) {
            Some(Some(Ok(t))) => t.value(),
            Some(Some(Err(n))) => Value::List(vec![Value::str(format!("(a tree of {n} nodes adsctl cannot read)"))]),
            _ => Value::List(Vec::new()),
        };
        r.fields.insert("listing_groups", tree);
        out.push(r);
    }
    out
}

/// Asset group id → its live nodes' resource names, deepest first (the order they are removed in).
pub fn removal_order(filters: &[Json]) -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    for (g, nodes) in nodes_by_group(filters) {
        let parent: HashMap<&str, &str> = nodes
            .iter()
            .copied()
            .filter_map(|n| Some((get_str(n, "resourceName")?, get_str(n, "parentListingGroupFilter")?)))
            .collect();
        fn depth<'a>(parent: &HashMap<&'a str, &'a str>, mut rn: &'a str) -> usize {
            let mut d = 0;
            while let Some(p) = parent.get(rn) {
                rn = p;
                d += 1;
                if d > 64 {
                    break;
                }
            }
            d
        }
        let mut rns: Vec<(usize, String)> = nodes
            .iter()
            .copied()
            .filter_map(|n| get_str(n, "resourceName"))
            .map(|rn| (depth(&parent, rn), rn.to_string()))
            .collect();
        rns.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        out.insert(id_of(&g), rns.into_iter().map(|(_, rn)| rn).collect());
    }
    out
}

/// Asset group ids whose tree the operations replace.
pub fn trees_replaced(ops: &[crate::connectors::Operation]) -> Vec<String> {
    ops.iter()
        .filter(|o| o.kind == Kind::AssetGroup)
        .filter_map(|o| match &o.action {
            crate::connectors::OpAction::Update { id, set, .. } if set.contains_key("listing_groups") => {
                Some(id.clone())
            }
            _ => None,
        })
        .collect()
}

/// Stand-ins for the live nodes of the trees the operations replace (as many as the live tree, read from the
/// operation's `before`, has), for counting operations without a read.
pub fn estimated_trees(ops: &[crate::connectors::Operation]) -> HashMap<String, Vec<String>> {
    ops.iter()
        .filter(|o| o.kind == Kind::AssetGroup)
        .filter_map(|o| match &o.action {
            crate::connectors::OpAction::Update { id, set, before } if set.contains_key("listing_groups") => {
                let n = before
                    .get("listing_groups")
                    .and_then(Tree::of_value)
                    .map_or(0, |t| t.nodes());
                Some((
                    id.clone(),
                    (0..n)
                        .map(|k| format!("customers/0/assetGroupListingGroupFilters/{id}~{k}"))
                        .collect(),
                ))
            }
            _ => None,
        })
        .collect()
}

/// A fingerprint of every live listing group tree (change_status lists asset groups, not their filters: an
/// incremental read compares this with its marker's and reads everything again when they differ).
pub fn trees_fingerprint(filters: &[Json]) -> String {
    let mut lines: Vec<String> = filters
        .iter()
        .filter_map(|r| r.get("assetGroupListingGroupFilter"))
        .map(|f| f.to_string())
        .collect();
    lines.sort();
    crate::spec::audience::sha256_hex(&lines.join("\n"))[..16].to_string()
}

const TREES_TAG: &str = " trees:";

/// A marker with the trees' fingerprint.
pub fn join_marker(marker: &str, trees_fp: &str) -> String {
    format!("{marker}{TREES_TAG}{trees_fp}")
}

/// A marker without, and its trees' fingerprint (an older marker: that of no trees).
pub fn split_marker(marker: &str) -> (&str, String) {
    match marker.rsplit_once(TREES_TAG) {
        Some((m, fp)) => (m, fp.to_string()),
        None => (marker, trees_fingerprint(&[])),
    }
}

/// The AssetGroup body of an operation's fields, and its update mask.
pub fn asset_group_json(fields: &Fields) -> (Map<String, Json>, Vec<String>) {
    let mut obj = Map::new();
    let mut mask = Vec::new();
    if let Some(Value::Str(s)) = fields.get("status") {
        obj.insert("status".into(), json!(s.to_ascii_uppercase()));
        mask.push("status".into());
    }
    if let Some(Value::List(urls)) = fields.get("final_urls") {
        let urls: Vec<Json> = urls
            .iter()
            .filter_map(|u| match u {
                Value::Url(s) | Value::Str(s) => Some(json!(s)),
                _ => None,
            })
            .collect();
        obj.insert("finalUrls".into(), Json::Array(urls));
        mask.push("finalUrls".into());
    }
    (obj, mask)
}

/// The create operations of a whole tree under `group` (root first), with temporary names from `temp`.
pub fn tree_ops(customer: &str, group: &str, tree: &Tree, temp: &mut dyn FnMut() -> i64) -> Vec<Json> {
    struct Ctx<'a> {
        prefix: String,
        group: &'a str,
        out: Vec<Json>,
    }
    fn go(c: &mut Ctx<'_>, t: &Tree, parent: Option<&str>, case: Option<Json>, temp: &mut dyn FnMut() -> i64) {
        let rn = format!("{}~{}", c.prefix, temp());
        let kind = match t {
            Tree::Unit(true) => "UNIT_INCLUDED",
            Tree::Unit(false) => "UNIT_EXCLUDED",
            Tree::Split { .. } => "SUBDIVISION",
        };
        let mut node = json!({"resourceName": rn, "assetGroup": c.group, "type": kind, "listingSource": "SHOPPING"});
        if let Some(p) = parent {
            node["parentListingGroupFilter"] = json!(p);
        }
        if let Some(v) = case {
            node["caseValue"] = v;
        }
        c.out
            .push(json!({"assetGroupListingGroupFilterOperation": {"create": node}}));
        if let Tree::Split { dim, cases, other } = t {
            for (v, child) in cases {
                go(c, child, Some(&rn), Some(dim.case_json(Some(v))), temp);
            }
            go(c, other, Some(&rn), Some(dim.case_json(None)), temp);
        }
    }
    let mut c = Ctx {
        prefix: format!("customers/{customer}/assetGroupListingGroupFilters/{}", id_of(group)),
        group,
        out: Vec::new(),
    };
    go(&mut c, tree, None, None, temp);
    c.out
}

// ---------------------------------------------------------------------------------------------------------
// Import

/// A tree as YAML (the `listing_groups:` value).
pub fn tree_yaml(tree: &Tree) -> serde_yaml::Value {
    use serde_yaml::{Mapping, Value as Yaml};
    match tree {
        Tree::Unit(inc) => Yaml::String(verdict(*inc).into()),
        Tree::Split { dim, cases, other } => {
            let mut inner = Mapping::new();
            for (v, t) in cases {
                inner.insert(Yaml::String(v.clone()), tree_yaml(t));
            }
            inner.insert(Yaml::String("else".into()), tree_yaml(other));
            let mut m = Mapping::new();
            m.insert(Yaml::String(dim.key()), Yaml::Mapping(inner));
            Yaml::Mapping(m)
        }
    }
}

/// A Google campaign's catalog parts for `adsctl import`: its Merchant Center link and asset groups.
pub fn import_campaign(c: &Resource, tree: &crate::import::Tree, m: &mut serde_yaml::Mapping) {
    use crate::import::{map_insert, s};
    use serde_yaml::{Mapping, Value as Yaml};
    if let Some(id) = c.fields.get("shopping.merchant_id").and_then(Value::as_str) {
        map_insert(m, "merchant_center_id", s(id));
    }
    if let Some(l) = c.fields.get("shopping.feed_label").and_then(Value::as_str) {
        map_insert(m, "feed_label", s(l));
    }
    if c.fields.get("channel").and_then(Value::as_str) == Some("shopping") {
        if let Some(Value::Int(p)) = c.fields.get("shopping.campaign_priority") {
            map_insert(m, "campaign_priority", serde_yaml::Value::Number((*p).into()));
        }
    }
    let groups: Vec<Yaml> = tree
        .children(&c.address, Kind::AssetGroup)
        .into_iter()
        .map(|g| {
            let mut gm = Mapping::new();
            map_insert(&mut gm, "name", s(g.address.name().unwrap_or_default()));
            if let Some(st) = g.fields.get("status").and_then(Value::as_str) {
                map_insert(&mut gm, "status", s(st));
            }
            if let Some(Value::List(urls)) = g.fields.get("final_urls") {
                let urls: Vec<Yaml> = urls
                    .iter()
                    .filter_map(|u| match u {
                        Value::Url(x) | Value::Str(x) => Some(s(x)),
                        _ => None,
                    })
                    .collect();
                map_insert(&mut gm, "final_urls", Yaml::Sequence(urls));
            }
            if let Some(t) = g.fields.get("listing_groups").and_then(Tree::of_value) {
                map_insert(&mut gm, "listing_groups", tree_yaml(&t));
            }
            Yaml::Mapping(gm)
        })
        .collect();
    if !groups.is_empty() {
        map_insert(m, "asset_groups", Yaml::Sequence(groups));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Tree {
        Tree::Split {
            dim: Dim::Brand,
            cases: vec![
                (
                    "Acme / Co: 'X'".into(),
                    Tree::Split {
                        dim: Dim::Condition,
                        cases: vec![("new".into(), Tree::Unit(true))],
                        other: Box::new(Tree::Unit(false)),
                    },
                ),
                ("Globex".into(), Tree::Unit(false)),
            ],
            other: Box::new(Tree::Split {
                dim: Dim::Category(1),
                cases: vec![("1604".into(), Tree::Unit(true))],
                other: Box::new(Tree::Unit(false)),
            }),
        }
    }

    #[test]
    fn a_tree_is_its_leaf_lines_and_back() {
        let t = sample().canonical();
        let lines = t.lines();
        assert_eq!(
            lines,
            vec![
                "brand='Acme / Co: ''X''' / condition=new: included",
                "brand='Acme / Co: ''X''' / condition=*: excluded",
                "brand='Globex': excluded",
                "brand=* / category_l1=1604: included",
                "brand=* / category_l1=*: excluded",
            ]
        );
        assert_eq!(Tree::of_lines(&lines), Some(t.clone()));
        assert_eq!(Tree::of_value(&t.value()), Some(t));
        assert_eq!(Tree::Unit(true).lines(), vec!["*: included"]);
        assert_eq!(Tree::of_lines(&["*: included".into()]), Some(Tree::Unit(true)));
        // leaves that make no tree
        assert_eq!(Tree::of_lines(&["brand='A': included".into()]), None);
    }

    #[test]
    fn nodes_go_on_the_wire_root_first_and_read_back() {
        let t = sample().canonical();
        let mut n = -1;
        let ops = tree_ops("1", "customers/1/assetGroups/-5", &t, &mut || {
            n -= 1;
            n
        });
        assert_eq!(ops.len(), 8);
        assert_eq!(t.nodes(), 8);
        let nodes: Vec<Json> = ops
            .iter()
            .map(|o| o["assetGroupListingGroupFilterOperation"]["create"].clone())
            .collect();
        assert!(nodes[0].get("parentListingGroupFilter").is_none());
        assert_eq!(nodes[0]["type"], "SUBDIVISION");
        assert_eq!(
            nodes[1]["caseValue"],
            json!({"productBrand": {"value": "Acme / Co: 'X'"}})
        );
        assert_eq!(nodes[2]["caseValue"], json!({"productCondition": {"condition": "NEW"}}));
        assert_eq!(nodes[3]["caseValue"], json!({"productCondition": {}}));
        assert_eq!(
            nodes[6]["caseValue"],
            json!({"productCategory": {"level": "LEVEL1", "categoryId": "1604"}})
        );
        assert_eq!(
            nodes[0]["resourceName"],
            "customers/1/assetGroupListingGroupFilters/-5~-2"
        );
        // read back (as GAQL rows)
        let rows: Vec<Json> = nodes
            .iter()
            .map(|n| json!({"assetGroupListingGroupFilter": n}))
            .collect();
        let by = nodes_by_group(&rows);
        let live = live_tree(&by["customers/1/assetGroups/-5"]).unwrap().unwrap();
        assert_eq!(live, t);
        let order = removal_order(&rows);
        let rm = &order["-5"];
        assert_eq!(
            rm.last().map(String::as_str),
            Some("customers/1/assetGroupListingGroupFilters/-5~-2")
        );
    }

    #[test]
    fn yaml_of_a_tree() {
        let y = serde_yaml::to_string(&tree_yaml(&sample().canonical())).unwrap();
        assert!(y.starts_with("brand:\n"), "{y}");
        assert!(y.contains("  Globex: excluded\n"), "{y}");
        assert!(y.contains("  else:\n    category_l1:\n      '1604': included\n"), "{y}");
    }
}
