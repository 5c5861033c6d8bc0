//! Performance Max and Shopping: the campaign rules of the two catalog channels (the Merchant Center link,
//! PMax's own budget and bidding), asset groups, their asset links and text assets, and the listing group filter
//! tree of each asset group.
//!
//! Rules and their source (v25 protos, `docs/wire-rules.md`):
//! - `resources/campaign.proto` `ShoppingSetting.merchant_id`: "required for create operations", "immutable for
//!   Shopping campaigns"; a merchant not linked to the customer is `MerchantCenterError.MERCHANT_ID_CANNOT_BE_ACCESSED`
//!   ("either not found or not linked"); a Shopping campaign without it is `CampaignError.MISSING_SHOPPING_SETTING`.
//! - PMax campaigns use their own budget (`CampaignBudgetError.CAMPAIGN_BUDGET_CANNOT_BE_SHARED`) and bid with
//!   `maximize_conversions` or `maximize_conversion_value` (reading chosen for any other strategy:
//!   `BiddingError.INVALID_ANONYMOUS_BIDDING_STRATEGY_TYPE`, "not supported").
//! - `errors/asset_group_error.proto`: unique names per campaign, PMax campaigns only, a final URL, path1 before
//!   path2, enough assets (reading chosen: checked when the request ends, for asset groups of campaigns without a
//!   Merchant Center link; a retail campaign's asset group may have no assets at all, "listing-only"), the last
//!   asset group of a campaign cannot be removed.
//! - `errors/asset_group_listing_group_filter_error.proto`: the tree's shape, checked when the request ends (a
//!   request builds or replaces a tree node by node): one root, units are leaves, a subdivision has an
//!   everything-else child, siblings share one dimension type and differ in value, a dimension type is not
//!   repeated below itself, hierarchical dimensions (category, product type) refine their own type level by
//!   level and never under an everything-else node; a subdivision with children cannot be removed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::errors::{self, AdsError, Code};
use super::mutate::{Loc, MutateCtx};
use super::resources::Res;
use super::store::Customer;

/// The Merchant Center account every emulated customer is linked to (besides the ones seeded per customer).
pub const LINKED_MERCHANT_ID: &str = "1234567";

/// What a request did to PMax objects, for the checks made when it ends.
#[derive(Default)]
pub struct Touched {
    /// Asset group resource name → the location of the first operation that touched its tree or assets.
    pub groups: BTreeMap<String, Loc>,
    /// Campaign resource name → the location of an operation that removed one of its asset groups.
    pub removed_from: BTreeMap<String, Loc>,
}

fn err(code: Code, msg: &str, loc: &Loc, path: &[&str], trigger: Option<&str>) -> Vec<AdsError> {
    let mut e = AdsError::new(code, msg).under(loc);
    for p in path {
        e = e.at(p, None);
    }
    if let Some(t) = trigger {
        e = e.trigger(t.to_string());
    }
    vec![e]
}

fn s<'v>(v: &'v Value, k: &str) -> Option<&'v str> {
    v.get(k).and_then(Value::as_str)
}

/// Admin: link a Merchant Center account to a customer (`{"customerId": "1234567890", "merchantId": "42"}`), as
/// accepting a link in Merchant Center does; `"unlink": true` takes it back.
pub async fn link_merchant_handler(
    axum::extract::State(inner): axum::extract::State<std::sync::Arc<super::Inner>>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let bad = |m: &str| (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": m }))).into_response();
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return bad("body: {\"customerId\": ..., \"merchantId\": ...}");
    };
    let digits = |k: &str| -> Option<String> {
        let t = match v.get(k)? {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        };
        let d: String = t.chars().filter(char::is_ascii_digit).collect();
        (!d.is_empty()).then_some(d)
    };
    let (Some(cid), Some(mid)) = (digits("customerId"), digits("merchantId")) else {
        return bad("customerId and merchantId are required (digits)");
    };
    let mut st = inner.state.lock();
    let Some(cust) = st.customers.get_mut(&cid) else {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"error": "no such customer"}))).into_response();
    };
    if v.get("unlink").and_then(Value::as_bool) == Some(true) {
        cust.merchants.remove(&mid);
    } else {
        cust.merchants.insert(mid.clone());
    }
    axum::Json(json!({"customerId": cid, "merchants": cust.merchants})).into_response()
}

/// Whether the customer may use this Merchant Center account.
pub fn merchant_linked(cust: &Customer, id: &str) -> bool {
    id == LINKED_MERCHANT_ID || cust.merchants.contains(id)
}

/// The merchant id of a campaign (`shoppingSetting.merchantId`, an int64: a JSON string or number).
pub fn merchant_of(campaign: &Value) -> Option<String> {
    match campaign.get("shoppingSetting")?.get("merchantId")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The rules of a Shopping or Performance Max campaign, on create (`old` is `None`) and update (the object as it
/// would be after the update).
pub fn campaign_rules(
    cust: &Customer,
    m: &Map<String, Value>,
    old: Option<&Value>,
    budget: Option<&Value>,
    loc: &Loc,
    what: &str,
) -> Result<(), Vec<AdsError>> {
    let v = Value::Object(m.clone());
    let channel = s(&v, "advertisingChannelType").unwrap_or_default();
    if !matches!(channel, "SHOPPING" | "PERFORMANCE_MAX") {
        return Ok(());
    }
    let merchant = merchant_of(&v);
    if channel == "SHOPPING" && merchant.is_none() {
        return Err(err(
            errors::MISSING_SHOPPING_SETTING,
            "A ShoppingSetting was not found when creating a shopping campaign.",
            loc,
            &[what, "shopping_setting", "merchant_id"],
            None,
        ));
    }
    if let (Some(old), "SHOPPING") = (old, channel) {
        if merchant_of(old) != merchant {
            return Err(err(
                errors::IMMUTABLE_FIELD,
                "The field cannot be modified after creation.",
                loc,
                &[what, "shopping_setting", "merchant_id"],
                merchant.as_deref(),
            ));
        }
    }
    if channel == "SHOPPING" {
        // "required for Shopping campaigns, with values between 0 and 2, inclusive"
        let priority = v.pointer("/shoppingSetting/campaignPriority").and_then(Value::as_i64);
        match priority {
            None => {
                return Err(err(
                    errors::FIELD_REQUIRED,
                    "The required field was not present.",
                    loc,
                    &[what, "shopping_setting", "campaign_priority"],
                    None,
                ))
            }
            Some(p) if !(0..=2).contains(&p) => {
                let (code, msg) = if p < 0 {
                    (errors::RANGE_TOO_LOW, "Too low.")
                } else {
                    (errors::RANGE_TOO_HIGH, "Too high.")
                };
                return Err(err(
                    code,
                    msg,
                    loc,
                    &[what, "shopping_setting", "campaign_priority"],
                    Some(&p.to_string()),
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(id) = &merchant {
        if !merchant_linked(cust, id) {
            return Err(err(
                errors::MERCHANT_ID_CANNOT_BE_ACCESSED,
                "Merchant ID is either not found or not linked to the Google Ads customer.",
                loc,
                &[what, "shopping_setting", "merchant_id"],
                Some(id),
            ));
        }
    }
    if channel == "PERFORMANCE_MAX" {
        if budget.and_then(|b| b.get("explicitlyShared")).and_then(Value::as_bool) == Some(true) {
            return Err(err(
                errors::CAMPAIGN_BUDGET_CANNOT_BE_SHARED,
                "The campaign budget cannot be shared.",
                loc,
                &[what, "campaign_budget"],
                s(&v, "campaignBudget"),
            ));
        }
        let ok = ["maximizeConversions", "maximizeConversionValue"];
        let member = [
            "manualCpc",
            "targetCpa",
            "targetRoas",
            "targetSpend",
            "manualCpm",
            "targetImpressionShare",
        ]
        .into_iter()
        .find(|k| m.contains_key(*k));
        if let Some(bad) = member.filter(|k| !ok.contains(k)) {
            return Err(err(
                errors::INVALID_ANONYMOUS_BIDDING_STRATEGY_TYPE,
                "Bidding strategy is not supported or cannot be used as anonymous.",
                loc,
                &[what],
                Some(bad),
            ));
        }
    }
    Ok(())
}

/// The dimension of a case value: (type, level or index) — `("productBrand", "")`,
/// `("productCategory", "LEVEL2")` — and its value (`None`: the everything-else node of its subdivision).
fn dimension(case: &Value) -> Option<(String, String, Option<String>)> {
    let (k, d) = case.as_object()?.iter().next()?;
    let level = s(d, "level").or(s(d, "index")).unwrap_or_default().to_string();
    let value = match k.as_str() {
        "productCategory" => d.get("categoryId").map(|x| match x {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        "productChannel" => s(d, "channel").map(str::to_string),
        "productCondition" => s(d, "condition").map(str::to_string),
        _ => s(d, "value").map(str::to_string),
    };
    Some((k.clone(), level, value))
}

fn hierarchical(t: &str) -> bool {
    matches!(t, "productCategory" | "productType")
}

fn level_num(l: &str) -> u8 {
    l.strip_prefix("LEVEL").and_then(|n| n.parse().ok()).unwrap_or(0)
}

impl MutateCtx<'_> {
    pub(super) fn create_asset_group(
        &mut self,
        m: &mut Map<String, Value>,
        loc: &Loc,
    ) -> Result<String, Vec<AdsError>> {
        self.require(m, "name", "name", loc)?;
        self.require(m, "campaign", "campaign", loc)?;
        let c = s(&Value::Object(m.clone()), "campaign").unwrap_or_default().to_string();
        let campaign = self.live_ref(&c, Res::Campaign, "campaign", loc, "create")?;
        if s(&campaign, "advertisingChannelType") != Some("PERFORMANCE_MAX") {
            return Err(err(
                errors::ASSET_GROUP_FOR_CAMPAIGN_TYPE,
                "Cannot add asset group for the campaign type.",
                loc,
                &["create", "campaign"],
                Some(&c),
            ));
        }
        let urls = m.get("finalUrls").and_then(Value::as_array).map_or(0, Vec::len);
        if urls == 0 {
            return Err(err(
                errors::ASSET_GROUP_FINAL_URL_REQUIRED,
                "Final url field is required for asset group.",
                loc,
                &["create", "final_urls"],
                None,
            ));
        }
        check_paths(m, loc, "create")?;
        m.entry("status").or_insert(json!("ENABLED"));
        m.insert("adStrength".into(), json!("PENDING"));
        let key = self.fresh_id().to_string();
        let rn = self.res_name(Res::AssetGroup, &key);
        self.pmax.groups.entry(rn).or_insert_with(|| loc.clone());
        Ok(key)
    }

    pub(super) fn update_asset_group(&mut self, v: &Value, loc: &Loc) -> Result<(), Vec<AdsError>> {
        if let Some(m) = v.as_object() {
            check_paths(m, loc, "update")?;
            if m.get("finalUrls").and_then(Value::as_array).is_none_or(Vec::is_empty) {
                return Err(err(
                    errors::ASSET_GROUP_FINAL_URL_REQUIRED,
                    "Final url field is required for asset group.",
                    loc,
                    &["update", "final_urls"],
                    None,
                ));
            }
        }
        let c = s(v, "campaign").unwrap_or_default().to_string();
        if self
            .cust
            .get_rn(&c)
            .is_some_and(|(_, o)| s(&o.v, "status") == Some("REMOVED"))
        {
            return Err(err(
                errors::ASSET_GROUP_FOR_REMOVED_CAMPAIGN,
                "Cannot mutate asset group for campaign with removed status.",
                loc,
                &["update"],
                Some(&c),
            ));
        }
        Ok(())
    }

    pub(super) fn removing_asset_group(&mut self, old: &Value, loc: &Loc) {
        if let Some(c) = s(old, "campaign") {
            self.pmax
                .removed_from
                .entry(c.to_string())
                .or_insert_with(|| loc.clone());
        }
    }

    pub(super) fn create_asset(&mut self, m: &mut Map<String, Value>, loc: &Loc) -> Result<String, Vec<AdsError>> {
        let member = m.keys().find(|k| k.ends_with("Asset")).cloned();
        let Some(member) = member else {
            return Err(err(
                errors::FIELD_REQUIRED,
                "The required field was not present.",
                loc,
                &["create", "asset_data"],
                None,
            ));
        };
        let t = super::resources::screaming(member.trim_end_matches("Asset"));
        m.insert("type".into(), json!(t));
        Ok(self.fresh_id().to_string())
    }

    pub(super) fn create_asset_group_asset(
        &mut self,
        m: &mut Map<String, Value>,
        loc: &Loc,
    ) -> Result<String, Vec<AdsError>> {
        self.require(m, "assetGroup", "asset_group", loc)?;
        self.require(m, "asset", "asset", loc)?;
        self.require(m, "fieldType", "field_type", loc)?;
        let v = Value::Object(m.clone());
        let ag = s(&v, "assetGroup").unwrap_or_default().to_string();
        let asset = s(&v, "asset").unwrap_or_default().to_string();
        self.live_ref(&ag, Res::AssetGroup, "asset_group", loc, "create")?;
        self.live_ref(&asset, Res::Asset, "asset", loc, "create")?;
        let key = format!(
            "{}~{}~{}",
            ag.rsplit('/').next().unwrap_or_default(),
            asset.rsplit('/').next().unwrap_or_default(),
            s(&v, "fieldType").unwrap_or_default()
        );
        if self.cust.get(Res::AssetGroupAsset, &key).is_some() {
            return Err(err(
                errors::ASSET_GROUP_ASSET_DUPLICATE,
                "Cannot add duplicated asset group asset.",
                loc,
                &["create"],
                Some(&key),
            ));
        }
        m.entry("status").or_insert(json!("ENABLED"));
        m.insert("source".into(), json!("ADVERTISER"));
        self.pmax.groups.entry(ag).or_insert_with(|| loc.clone());
        Ok(key)
    }

    pub(super) fn create_listing_group(
        &mut self,
        m: &mut Map<String, Value>,
        loc: &Loc,
    ) -> Result<String, Vec<AdsError>> {
        self.require(m, "assetGroup", "asset_group", loc)?;
        self.require(m, "type", "type", loc)?;
        let v = Value::Object(m.clone());
        let ag = s(&v, "assetGroup").unwrap_or_default().to_string();
        let group = self.live_ref(&ag, Res::AssetGroup, "asset_group", loc, "create")?;
        let campaign = self
            .cust
            .get_rn(s(&group, "campaign").unwrap_or_default())
            .map(|(_, o)| o.v.clone())
            .unwrap_or(Value::Null);
        let source = s(&v, "listingSource").unwrap_or("SHOPPING").to_string();
        if source == "SHOPPING" && merchant_of(&campaign).is_none() {
            return Err(err(
                errors::LGF_LISTING_SOURCE_NOT_ALLOWED,
                "Filter of the listing source type is not allowed in the context.",
                loc,
                &["create", "listing_source"],
                Some(&source),
            ));
        }
        m.insert("listingSource".into(), json!(source));
        let ag_id = ag.rsplit('/').next().unwrap_or_default().to_string();
        if let Some(p) = s(&v, "parentListingGroupFilter") {
            let same_group = p
                .rsplit('/')
                .next()
                .and_then(|k| k.split_once('~'))
                .is_some_and(|(g, _)| g == ag_id);
            let parent = self.live_ref(
                p,
                Res::AssetGroupListingGroupFilter,
                "parent_listing_group_filter",
                loc,
                "create",
            )?;
            if !same_group {
                return Err(err(
                    errors::RESOURCE_NOT_FOUND,
                    "The resource was not found.",
                    loc,
                    &["create", "parent_listing_group_filter"],
                    Some(p),
                ));
            }
            if s(&parent, "type") != Some("SUBDIVISION") {
                return Err(err(
                    errors::LGF_UNIT_CANNOT_HAVE_CHILDREN,
                    "Listing Group UNIT node cannot have children.",
                    loc,
                    &["create", "parent_listing_group_filter"],
                    Some(p),
                ));
            }
        }
        let key = format!("{ag_id}~{}", self.fresh_id());
        self.pmax.groups.entry(ag).or_insert_with(|| loc.clone());
        Ok(key)
    }

    /// A listing group filter's removal: a subdivision's children go first.
    pub(super) fn removing_listing_group(&mut self, rn: &str, old: &Value, loc: &Loc) -> Result<(), Vec<AdsError>> {
        let key = rn.rsplit('/').next().unwrap_or_default();
        let ag = key.split('~').next().unwrap_or_default();
        let has_children = self
            .cust
            .children(Res::AssetGroupListingGroupFilter, ag)
            .any(|o| s(&o.v, "parentListingGroupFilter") == Some(rn));
        if has_children {
            return Err(err(
                errors::LGF_SUBDIVISION_HAS_CHILDREN,
                "Subdivision node has children which must be removed first.",
                loc,
                &["remove"],
                Some(rn),
            ));
        }
        if let Some(g) = s(old, "assetGroup") {
            self.pmax.groups.entry(g.to_string()).or_insert_with(|| loc.clone());
        }
        Ok(())
    }

    pub(super) fn touched_group(&mut self, ag: Option<&str>, loc: &Loc) {
        if let Some(g) = ag {
            self.pmax.groups.entry(g.to_string()).or_insert_with(|| loc.clone());
        }
    }

    /// The checks made when the request's operations are all applied: each touched asset group's tree and
    /// assets, and campaigns left without an asset group.
    pub fn finish_pmax(&self) -> Result<(), Vec<AdsError>> {
        for (rn, loc) in &self.pmax.groups {
            let Some((_, o)) = self.cust.get_rn(rn) else { continue };
            if s(&o.v, "status") == Some("REMOVED") {
                continue;
            }
            check_tree(self.cust, rn, loc)?;
            let campaign = self
                .cust
                .get_rn(s(&o.v, "campaign").unwrap_or_default())
                .map(|(_, c)| c.v.clone())
                .unwrap_or(Value::Null);
            if merchant_of(&campaign).is_none() {
                check_assets(self.cust, rn, loc)?;
            }
        }
        for (c, loc) in &self.pmax.removed_from {
            let Some((_, o)) = self.cust.get_rn(c) else { continue };
            if s(&o.v, "status") == Some("REMOVED") {
                continue;
            }
            let left = self
                .cust
                .table(Res::AssetGroup)
                .into_iter()
                .flat_map(|t| t.values())
                .any(|g| s(&g.v, "campaign") == Some(c.as_str()) && s(&g.v, "status") != Some("REMOVED"));
            if !left {
                return Err(err(
                    errors::ASSET_GROUP_CANNOT_REMOVE_ALL,
                    "The asset group cannot be removed because it's the last one in the campaign.",
                    loc,
                    &["remove"],
                    Some(c),
                ));
            }
        }
        Ok(())
    }
}

fn check_paths(m: &Map<String, Value>, loc: &Loc, what: &str) -> Result<(), Vec<AdsError>> {
    let has = |k: &str| m.get(k).and_then(Value::as_str).is_some_and(|x| !x.is_empty());
    if has("path2") && !has("path1") {
        return Err(err(
            errors::ASSET_GROUP_PATH1_REQUIRED,
            "Path1 required when path2 is set.",
            loc,
            &[what, "path2"],
            None,
        ));
    }
    Ok(())
}

/// Enough assets for an asset group of a campaign without a product feed (reading chosen: the minimums of the
/// Google Ads UI — 3 headlines, 1 long headline, 2 descriptions, a business name, a marketing image, a square
/// marketing image and a logo; the pack names the errors, not the numbers).
fn check_assets(cust: &Customer, group_rn: &str, loc: &Loc) -> Result<(), Vec<AdsError>> {
    let id = group_rn.rsplit('/').next().unwrap_or_default();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for o in cust.children(Res::AssetGroupAsset, id) {
        if s(&o.v, "status") != Some("REMOVED") {
            *count
                .entry(s(&o.v, "fieldType").unwrap_or_default().to_string())
                .or_default() += 1;
        }
    }
    let need = [
        (
            "HEADLINE",
            3,
            errors::ASSET_GROUP_NOT_ENOUGH_HEADLINE,
            "Not enough headline asset for a valid asset group.",
        ),
        (
            "LONG_HEADLINE",
            1,
            errors::ASSET_GROUP_NOT_ENOUGH_LONG_HEADLINE,
            "Not enough long headline asset for a valid asset group.",
        ),
        (
            "DESCRIPTION",
            2,
            errors::ASSET_GROUP_NOT_ENOUGH_DESCRIPTION,
            "Not enough description headline asset for a valid asset group.",
        ),
        (
            "BUSINESS_NAME",
            1,
            errors::ASSET_GROUP_NOT_ENOUGH_BUSINESS_NAME,
            "Not enough business name asset for a valid asset group.",
        ),
        (
            "MARKETING_IMAGE",
            1,
            errors::ASSET_GROUP_NOT_ENOUGH_MARKETING_IMAGE,
            "Not enough marketing image asset for a valid asset group.",
        ),
        (
            "SQUARE_MARKETING_IMAGE",
            1,
            errors::ASSET_GROUP_NOT_ENOUGH_SQUARE_MARKETING_IMAGE,
            "Not enough square marketing image asset for a valid asset group.",
        ),
        (
            "LOGO",
            1,
            errors::ASSET_GROUP_NOT_ENOUGH_LOGO,
            "Not enough logo asset for a valid asset group.",
        ),
    ];
    for (field, n, code, msg) in need {
        if count.get(field).copied().unwrap_or(0) < n {
            return Err(err(code, msg, loc, &[], Some(group_rn)));
        }
    }
    Ok(())
}

/// The shape of one asset group's listing group filter tree (Shopping listings; webpage filters are roots of
/// their own and not checked here).
fn check_tree(cust: &Customer, group_rn: &str, loc: &Loc) -> Result<(), Vec<AdsError>> {
    let id = group_rn.rsplit('/').next().unwrap_or_default();
    let nodes: BTreeMap<String, &Value> = cust
        .children(Res::AssetGroupListingGroupFilter, id)
        .filter(|o| s(&o.v, "listingSource") != Some("WEBPAGE"))
        .filter_map(|o| Some((s(&o.v, "resourceName")?.to_string(), &o.v)))
        .collect();
    if nodes.is_empty() {
        return Ok(());
    }
    let fail = |code: Code, msg: &str, node: &str| Err(err(code, msg, loc, &[], Some(node)));
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut roots = Vec::new();
    for (rn, v) in &nodes {
        match s(v, "parentListingGroupFilter") {
            Some(p) => children.entry(p).or_default().push(rn),
            None => roots.push(rn.as_str()),
        }
    }
    if roots.len() > 1 {
        return fail(
            errors::LGF_MULTIPLE_ROOTS,
            "Each Listing Group tree must have a single root.",
            roots[1],
        );
    }
    for (rn, v) in &nodes {
        let is_root = s(v, "parentListingGroupFilter").is_none();
        let case = v
            .get("caseValue")
            .filter(|c| c.as_object().is_some_and(|m| !m.is_empty()));
        if is_root == case.is_some() {
            return fail(
                errors::LGF_INVALID_DIMENSION_VALUE,
                "Invalid Listing Group dimension value.",
                rn,
            );
        }
        let kids = children.get(rn.as_str()).cloned().unwrap_or_default();
        if s(v, "type") != Some("SUBDIVISION") {
            if !kids.is_empty() {
                return fail(
                    errors::LGF_UNIT_CANNOT_HAVE_CHILDREN,
                    "Listing Group UNIT node cannot have children.",
                    rn,
                );
            }
            continue;
        }
        let dims: Vec<(String, String, Option<String>)> = kids
            .iter()
            .filter_map(|k| nodes.get(*k).and_then(|n| n.get("caseValue")).and_then(dimension))
            .collect();
        if !dims.iter().any(|(_, _, value)| value.is_none()) {
            return fail(
                errors::LGF_SUBDIVISION_MUST_HAVE_EVERYTHING_ELSE_CHILD,
                "Listing Group SUBDIVISION node must have everything else child.",
                rn,
            );
        }
        let (t, level, _) = dims[0].clone();
        for (i, (t2, l2, _)) in dims.iter().enumerate() {
            if *t2 != t || *l2 != level {
                return fail(
                    errors::LGF_DIFFERENT_DIMENSION_TYPE_BETWEEN_SIBLINGS,
                    "Dimension type of Listing Group must be the same as that of its siblings.",
                    kids[i],
                );
            }
        }
        let mut seen = BTreeSet::new();
        for (i, (_, _, value)) in dims.iter().enumerate() {
            if let Some(x) = value {
                if !seen.insert(x.to_lowercase()) {
                    return fail(
                        errors::LGF_SAME_DIMENSION_VALUE_BETWEEN_SIBLINGS,
                        "The sibling Listing Groups target exactly the same dimension value.",
                        kids[i],
                    );
                }
            }
        }
        // the children's dimension against this node's and its ancestors'
        let mut ancestors = Vec::new();
        let mut at = Some(rn.as_str());
        while let Some(a) = at {
            let n = nodes.get(a);
            if let Some(d) = n.and_then(|n| n.get("caseValue")).and_then(dimension) {
                ancestors.push(d);
            }
            at = n.and_then(|n| s(n, "parentListingGroupFilter"));
        }
        if ancestors
            .iter()
            .any(|(at, al, _)| *at == t && (!hierarchical(&t) || *al == level))
        {
            return fail(
                errors::LGF_SAME_DIMENSION_TYPE_BETWEEN_ANCESTORS,
                "The dimension type is the same as one of the ancestor Listing Groups.",
                kids[0],
            );
        }
        if hierarchical(&t) && level_num(&level) > 1 {
            match ancestors.first() {
                Some((pt, pl, pv)) if *pt == t && level_num(pl) + 1 == level_num(&level) => {
                    if pv.is_none() {
                        return fail(
                            errors::LGF_CANNOT_REFINE_HIERARCHICAL_EVERYTHING_ELSE,
                            "Dimension can't subdivide everything-else node in its own hierarchy.",
                            kids[0],
                        );
                    }
                }
                _ => {
                    return fail(
                        errors::LGF_MUST_REFINE_HIERARCHICAL_PARENT_TYPE,
                        "Hierarchical dimension must refine a dimension of the same type.",
                        kids[0],
                    )
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_and_their_everything_else() {
        let d = dimension(&json!({"productBrand": {"value": "Acme"}})).unwrap();
        assert_eq!(d, ("productBrand".into(), "".into(), Some("Acme".into())));
        let e = dimension(&json!({"productCategory": {"level": "LEVEL2"}})).unwrap();
        assert_eq!(e, ("productCategory".into(), "LEVEL2".into(), None));
        let c = dimension(&json!({"productCategory": {"categoryId": "1604", "level": "LEVEL1"}})).unwrap();
        assert_eq!(c.2.as_deref(), Some("1604"));
        assert_eq!(level_num("LEVEL3"), 3);
    }
}
