//! Campaigns and line items: the writable fields of each (create with defaults; PUT only the update table's
//! parameters), budgets, the rules a line item must keep (times, objective / product_type / goal / bid
//! combinations), and the checks of a new one (its funding instrument or campaign, the caps on active campaigns,
//! active line items and line items per campaign).

use serde_json::{json, Map, Value};

use super::error::{invalid, missing, XErr};
use super::objects::{ref_param, set_opt};
use super::params::Params;
use super::state::{iso, Kind, Obj, State, XConfig};
use super::{MAX_ACTIVE_LINE_ITEMS, MAX_LINE_ITEMS_PER_CAMPAIGN};

const OBJECTIVES: &[&str] = &[
    "APP_ENGAGEMENTS",
    "APP_INSTALLS",
    "REACH",
    "FOLLOWERS",
    "ENGAGEMENTS",
    "VIDEO_VIEWS",
    "PREROLL_VIEWS",
    "WEBSITE_CLICKS",
];
const PLACEMENTS: &[&str] = &[
    "ALL_ON_TWITTER",
    "PUBLISHER_NETWORK",
    "TAP_BANNER",
    "TAP_FULL",
    "TAP_FULL_LANDSCAPE",
    "TAP_NATIVE",
    "TAP_MRECT",
    "TWITTER_PROFILE",
    "TWITTER_REPLIES",
    "TWITTER_SEARCH",
    "TWITTER_TIMELINE",
];
const PRODUCT_TYPES: &[&str] = &["MEDIA", "PROMOTED_ACCOUNT", "PROMOTED_TWEETS"];
const GOALS: &[&str] = &[
    "APP_CLICKS",
    "APP_INSTALLS",
    "APP_PURCHASES",
    "ENGAGEMENT",
    "FOLLOWERS",
    "LINK_CLICKS",
    "MAX_REACH",
    "PREROLL",
    "PREROLL_STARTS",
    "REACH_WITH_ENGAGEMENT",
    "SITE_VISITS",
    "VIDEO_VIEW",
    "VIEW_3S_100PCT",
    "VIEW_6S",
    "VIEW_15S",
    "WEBSITE_CONVERSIONS",
];

fn check_budgets(fields: &Map<String, Value>) -> Result<(), XErr> {
    let daily = fields.get("daily_budget_amount_local_micro").and_then(Value::as_i64);
    let total = fields.get("total_budget_amount_local_micro").and_then(Value::as_i64);
    if let (Some(d), Some(t)) = (daily, total) {
        if d > t {
            return Err(invalid(
                "daily_budget_amount_local_micro",
                "daily_budget_amount_local_micro must be less than or equal to total_budget_amount_local_micro",
            ));
        }
    }
    Ok(())
}

fn is_active(o: &Obj) -> bool {
    !o.deleted
        && matches!(
            o.fields.get("entity_status").and_then(Value::as_str),
            Some("ACTIVE") | Some("PAUSED")
        )
}

/// The writable fields of a campaign from params (create: with defaults).
pub(super) fn campaign_fields(p: &Params, fields: &mut Map<String, Value>, creating: bool) -> Result<(), XErr> {
    let name = p.text("name", 255)?;
    if creating {
        p.required("name")?;
    }
    if let Some(n) = name {
        if n.is_empty() {
            return Err(invalid("name", "name cannot be empty"));
        }
        fields.insert("name".into(), json!(n));
    }
    let statuses: &[&str] = if creating {
        &["ACTIVE", "DRAFT", "PAUSED"]
    } else {
        &["ACTIVE", "PAUSED"]
    };
    if let Some(s) = p.enumerated("entity_status", statuses)? {
        fields.insert("entity_status".into(), json!(s));
    } else if creating {
        fields.insert("entity_status".into(), json!("ACTIVE"));
    }
    if let Some(b) = p.enumerated("budget_optimization", &["LINE_ITEM"])? {
        fields.insert("budget_optimization".into(), json!(b));
    } else if creating {
        fields.insert("budget_optimization".into(), json!("LINE_ITEM"));
    }
    for m in ["daily_budget_amount_local_micro", "total_budget_amount_local_micro"] {
        let v = p.micros(m)?.map(|n| json!(n));
        set_opt(fields, p, m, v);
        if creating {
            fields.entry(m).or_insert(Value::Null);
        }
    }
    let po = p
        .text("purchase_order_number", 50)?
        .filter(|s| !s.is_empty())
        .map(|s| json!(s));
    set_opt(fields, p, "purchase_order_number", po);
    if let Some(b) = p.boolean("standard_delivery")? {
        fields.insert("standard_delivery".into(), json!(b));
    } else if creating {
        fields.insert("standard_delivery".into(), json!(true));
    }
    if creating {
        fields.entry("purchase_order_number").or_insert(Value::Null);
    }
    check_budgets(fields)
}

pub(super) const LINE_ITEM_UPDATABLE: &[&str] = &[
    "advertiser_domain",
    "advertiser_user_id",
    "android_app_store_identifier",
    "audience_expansion",
    "bid_amount_local_micro",
    "bid_strategy",
    "categories",
    "duration_in_days",
    "entity_status",
    "end_time",
    "frequency_cap",
    "goal",
    "ios_app_store_identifier",
    "name",
    "pay_by",
    "start_time",
    "total_budget_amount_local_micro",
    "daily_budget_amount_local_micro",
];
pub(super) const CAMPAIGN_UPDATABLE: &[&str] = &[
    "budget_optimization",
    "daily_budget_amount_local_micro",
    "entity_status",
    "name",
    "purchase_order_number",
    "standard_delivery",
    "total_budget_amount_local_micro",
];
pub(super) const NOT_UPDATABLE: &[&str] = &[
    "campaign_id",
    "funding_instrument_id",
    "objective",
    "product_type",
    "placements",
    "primary_web_event_tag",
];

pub(super) fn line_item_fields(p: &Params, fields: &mut Map<String, Value>, creating: bool) -> Result<(), XErr> {
    if creating {
        for r in ["campaign_id", "objective", "placements", "product_type", "start_time"] {
            p.required(r)?;
        }
        // end_time is documented-required on create and nullable on read (the docs' example object has
        // `end_time: null`): it must be sent, and sent empty it means no end, as an empty value does on PUT
        if p.get("end_time").is_none() {
            return Err(missing("end_time"));
        }
        let obj = p.enumerated("objective", OBJECTIVES)?;
        fields.insert("objective".into(), json!(obj));
        let pt = p.enumerated("product_type", PRODUCT_TYPES)?;
        fields.insert("product_type".into(), json!(pt));
        let placements: Vec<&str> = p.get("placements").unwrap_or("").split(',').map(str::trim).collect();
        if let Some(bad) = placements.iter().find(|x| !PLACEMENTS.contains(x)) {
            return Err(invalid(
                "placements",
                format!(
                    "Expected enum value in [{}], got \"{bad}\" for placements",
                    PLACEMENTS.join(", ")
                ),
            ));
        }
        fields.insert("placements".into(), json!(placements));
        if let Some(tag) = p.get("primary_web_event_tag").filter(|s| !s.is_empty()) {
            fields.insert("primary_web_event_tag".into(), json!(tag));
        }
    }
    if let Some(n) = p.text("name", 255)? {
        if n.is_empty() && !creating {
            return Err(invalid("name", "name must be 1 to 255 characters"));
        }
        if !n.is_empty() {
            fields.insert("name".into(), json!(n));
        }
    }
    for t in ["start_time", "end_time"] {
        let v = p.time(t).or_else(|e| {
            if p.get(t) == Some("") && t == "end_time" {
                Ok(None)
            } else {
                Err(e)
            }
        })?;
        set_opt(fields, p, t, v.map(|s| json!(iso(s))));
    }
    let statuses: &[&str] = if creating {
        &["ACTIVE", "DRAFT", "PAUSED"]
    } else {
        &["ACTIVE", "PAUSED"]
    };
    if let Some(s) = p.enumerated("entity_status", statuses)? {
        fields.insert("entity_status".into(), json!(s));
    }
    let enums: [(&str, &[&str]); 4] = [
        ("bid_strategy", &["AUTO", "MAX", "TARGET"]),
        ("goal", GOALS),
        ("pay_by", &["APP_CLICK", "IMPRESSION", "LINK_CLICK"]),
        ("audience_expansion", &["BROAD", "DEFINED", "EXPANDED"]),
    ];
    for (k, allowed) in enums {
        let v = p.enumerated(k, allowed)?.map(|s| json!(s));
        set_opt(fields, p, k, v);
    }
    let dur = p.enumerated("duration_in_days", &["1", "7", "30"])?;
    set_opt(
        fields,
        p,
        "duration_in_days",
        dur.map(|d| json!(d.parse::<i64>().unwrap_or(0))),
    );
    let cap = match p.get("frequency_cap") {
        None | Some("") => None,
        Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            invalid(
                "frequency_cap",
                format!("Expected Integer, got \"{v}\" for frequency_cap"),
            )
        })?),
    };
    set_opt(fields, p, "frequency_cap", cap.map(|c| json!(c)));
    for m in [
        "bid_amount_local_micro",
        "daily_budget_amount_local_micro",
        "total_budget_amount_local_micro",
    ] {
        let v = p.micros(m)?.map(|n| json!(n));
        set_opt(fields, p, m, v);
    }
    for s in [
        "advertiser_domain",
        "categories",
        "android_app_store_identifier",
        "ios_app_store_identifier",
        "advertiser_user_id",
    ] {
        let v = p.get(s).filter(|v| !v.is_empty()).map(|v| {
            if s == "categories" {
                json!(v.split(',').collect::<Vec<_>>())
            } else {
                json!(v)
            }
        });
        set_opt(fields, p, s, v);
    }
    if let Some(b) = p.boolean("standard_delivery")? {
        fields.insert("standard_delivery".into(), json!(b));
    }
    if creating {
        fields.entry("entity_status").or_insert(json!("ACTIVE"));
        fields.entry("bid_strategy").or_insert(json!("AUTO"));
        for k in [
            "name",
            "end_time",
            "goal",
            "pay_by",
            "audience_expansion",
            "bid_amount_local_micro",
            "daily_budget_amount_local_micro",
            "total_budget_amount_local_micro",
            "frequency_cap",
            "duration_in_days",
            "advertiser_domain",
            "categories",
            "android_app_store_identifier",
            "ios_app_store_identifier",
            "advertiser_user_id",
            "primary_web_event_tag",
        ] {
            fields.entry(k).or_insert(Value::Null);
        }
        fields.entry("standard_delivery").or_insert(json!(true));
    }
    line_item_rules(fields)
}

/// The cross-field rules of a line item, on its resulting fields.
fn line_item_rules(f: &Map<String, Value>) -> Result<(), XErr> {
    let s = |k: &str| f.get(k).and_then(Value::as_str).map(str::to_string);
    let objective = s("objective").unwrap_or_default();
    let start = s("start_time");
    let end = s("end_time");
    if let (Some(a), Some(b)) = (start, end) {
        if b <= a {
            return Err(invalid("end_time", "end_time must be after start_time"));
        }
    }
    if let Some(strat @ ("MAX" | "TARGET")) = s("bid_strategy").as_deref() {
        {
            if f.get("bid_amount_local_micro").is_none_or(Value::is_null) {
                return Err(missing("bid_amount_local_micro"));
            }
            if strat == "MAX" && matches!(objective.as_str(), "REACH" | "FOLLOWERS") {
                return Err(invalid(
                    "bid_strategy",
                    format!("MAX is not available for objective {objective}"),
                ));
            }
            if strat == "TARGET" && !matches!(objective.as_str(), "REACH" | "FOLLOWERS" | "WEBSITE_CLICKS") {
                return Err(invalid(
                    "bid_strategy",
                    format!("TARGET is not available for objective {objective}"),
                ));
            }
        }
    }
    if !f.get("frequency_cap").is_none_or(Value::is_null)
        && !matches!(
            objective.as_str(),
            "REACH" | "ENGAGEMENTS" | "VIDEO_VIEWS" | "PREROLL_VIEWS"
        )
    {
        return Err(invalid(
            "frequency_cap",
            format!("frequency_cap is not available for objective {objective}"),
        ));
    }
    let placements_pn = f
        .get("placements")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|p| p == "PUBLISHER_NETWORK"));
    if placements_pn {
        for k in ["advertiser_domain", "categories"] {
            if f.get(k).is_none_or(Value::is_null) {
                return Err(missing(k));
            }
        }
    }
    if matches!(objective.as_str(), "APP_INSTALLS" | "APP_ENGAGEMENTS")
        && f.get("android_app_store_identifier").is_none_or(Value::is_null)
        && f.get("ios_app_store_identifier").is_none_or(Value::is_null)
    {
        return Err(missing("android_app_store_identifier"));
    }
    check_budgets(f)
}

/// The create checks of a campaign beyond its fields: a funding instrument of the account, a daily budget unless
/// that is an INSERTION_ORDER, and the cap on active campaigns.
pub(super) fn new_campaign(
    cfg: &XConfig,
    st: &State,
    account: &str,
    p: &Params,
    fields: &mut Map<String, Value>,
) -> Result<(), XErr> {
    let fi = ref_param(st, account, p, "funding_instrument_id", Kind::FundingInstrument).map_err(|e| {
        if e.code == "MISSING_PARAMETER" {
            e
        } else {
            XErr {
                code: "INVALID_FUNDING_INSTRUMENT",
                ..e
            }
        }
    })?;
    let fi_type = fi.fields.get("type").and_then(Value::as_str).unwrap_or("").to_string();
    let fi_id = fi.id.clone();
    campaign_fields(p, fields, true)?;
    fields.insert("funding_instrument_id".into(), json!(fi_id));
    if fi_type != "INSERTION_ORDER" && fields.get("daily_budget_amount_local_micro").is_none_or(Value::is_null) {
        return Err(missing("daily_budget_amount_local_micro"));
    }
    if fields.get("entity_status") != Some(&json!("DRAFT")) {
        let active = st
            .objects
            .values()
            .filter(|o| o.kind == Kind::Campaign && o.account == account && is_active(o))
            .count();
        if active >= cfg.max_active_campaigns {
            return Err(XErr::new(
                400,
                "TOO_MANY_CAMPAIGNS",
                format!(
                    "The account already has the maximum of {} active campaigns",
                    cfg.max_active_campaigns
                ),
            ));
        }
    }
    Ok(())
}

/// The create checks of a line item beyond its fields: a campaign of the account whose other line items share its
/// objective and product_type, and the caps per campaign and on active line items.
pub(super) fn new_line_item(
    st: &State,
    account: &str,
    p: &Params,
    fields: &mut Map<String, Value>,
) -> Result<(), XErr> {
    line_item_fields(p, fields, true)?;
    let camp = ref_param(st, account, p, "campaign_id", Kind::Campaign)?;
    let camp_id = camp.id.clone();
    fields.insert("campaign_id".into(), json!(camp_id));
    let siblings: Vec<&Obj> = st
        .objects
        .values()
        .filter(|o| o.kind == Kind::LineItem && !o.deleted)
        .filter(|o| o.fields.get("campaign_id") == Some(&json!(camp_id)))
        .collect();
    for key in ["objective", "product_type"] {
        if let Some(other) = siblings.iter().find(|o| o.fields.get(key) != fields.get(key)) {
            return Err(invalid(
                key,
                format!(
                    "All line items of campaign {camp_id} must have the same {key} ({})",
                    other.fields.get(key).and_then(Value::as_str).unwrap_or("")
                ),
            ));
        }
    }
    if siblings.len() >= MAX_LINE_ITEMS_PER_CAMPAIGN {
        return Err(XErr::new(
            400,
            "TOO_MANY_LINE_ITEMS",
            format!("A campaign has at most {MAX_LINE_ITEMS_PER_CAMPAIGN} line items"),
        ));
    }
    if fields.get("entity_status") != Some(&json!("DRAFT")) {
        let active = st
            .objects
            .values()
            .filter(|o| o.kind == Kind::LineItem && o.account == account && is_active(o))
            .count();
        if active >= MAX_ACTIVE_LINE_ITEMS {
            return Err(XErr::new(
                400,
                "TOO_MANY_LINE_ITEMS",
                format!("An account has at most {MAX_ACTIVE_LINE_ITEMS} active line items"),
            ));
        }
    }
    Ok(())
}
