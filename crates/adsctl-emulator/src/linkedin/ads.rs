//! Ad accounts, campaign groups, campaigns and creatives (WIRE-NOTES § CRUD semantics, § Hierarchy, § Resources,
//! § Money, § Paging), and the generic Rest.li methods every collection shares (DMP segments reuse GET,
//! PARTIAL_UPDATE and DELETE from here).

use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::str::FromStr;

use super::error::{ApiError, InputError};
use super::restli::{self, RValue};
use super::state::{Account, Entity, Kind, State};
use super::{Call, Handled, RMethod, Reply, MAX_BATCH};
use crate::platform::defaults;

pub const GROUP_STATUSES: &[&str] = &[
    "ACTIVE",
    "ARCHIVED",
    "CANCELED",
    "DRAFT",
    "PAUSED",
    "PENDING_DELETION",
    "REMOVED",
];
pub const CAMPAIGN_STATUSES: &[&str] = &[
    "ACTIVE",
    "PAUSED",
    "ARCHIVED",
    "COMPLETED",
    "CANCELED",
    "DRAFT",
    "PENDING_DELETION",
    "REMOVED",
];
pub const CREATIVE_STATUSES: &[&str] = &[
    "ACTIVE",
    "PAUSED",
    "DRAFT",
    "ARCHIVED",
    "CANCELED",
    "PENDING_DELETION",
    "REMOVED",
];
const CAMPAIGN_TYPES: &[&str] = &["TEXT_AD", "SPONSORED_UPDATES", "SPONSORED_INMAILS", "DYNAMIC"];
const COST_TYPES: &[&str] = &["CPM", "CPC", "CPV"];
const OBJECTIVES: &[&str] = &[
    "BRAND_AWARENESS",
    "ENGAGEMENT",
    "JOB_APPLICANT",
    "LEAD_GENERATION",
    "WEBSITE_CONVERSION",
    "WEBSITE_VISIT",
    "VIDEO_VIEW",
    "CREATIVE_ENGAGEMENT",
    "TALENT_LEAD",
];
const OPTIMIZATION: &[&str] = &[
    "NONE",
    "MAX_IMPRESSION",
    "MAX_CLICK",
    "MAX_CONVERSION",
    "MAX_LEAD",
    "MAX_VIDEO_VIEW",
    "MAX_REACH",
    "ENHANCED_CONVERSION",
    "TARGET_COST_PER_CLICK",
    "TARGET_COST_PER_IMPRESSION",
    "TARGET_COST_PER_VIDEO_VIEW",
    "CAP_COST_AND_MAXIMIZE_CLICKS",
    "CAP_COST_AND_MAXIMIZE_IMPRESSIONS",
    "CAP_COST_AND_MAXIMIZE_VIDEO_VIEWS",
    "CAP_COST_AND_MAXIMIZE_LEADS",
];
const FORMATS: &[&str] = &[
    "STANDARD_UPDATE",
    "SINGLE_VIDEO",
    "CAROUSEL",
    "SPONSORED_UPDATE_NATIVE_DOCUMENT",
    "SPOTLIGHT",
    "FOLLOW_COMPANY",
    "JOBS",
    "TEXT_AD",
    "SPONSORED_INMAIL",
    "SPONSORED_MESSAGE",
];
/// Longest name (FIELD_LENGTH_TOO_LONG; the pack recalls 255).
pub const MAX_NAME: usize = 255;
pub const MAX_CAMPAIGNS_PER_ACCOUNT: usize = 5000;
pub const MAX_ACTIVE_CAMPAIGNS_PER_ACCOUNT: usize = 1000;
pub const MAX_CAMPAIGNS_PER_GROUP: usize = 2000;
pub const MAX_ACTIVE_CREATIVES_PER_CAMPAIGN: usize = 15;
pub const MAX_INACTIVE_CREATIVES_PER_CAMPAIGN: usize = 85;
pub const MAX_CREATIVES_PER_ACCOUNT: usize = 15000;
/// Cursor finders: default and largest pageSize.
pub const PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;

fn writable(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::CampaignGroup => &[
            "account",
            "name",
            "status",
            "runSchedule",
            "totalBudget",
            "dailyBudget",
            "objectiveType",
        ],
        Kind::Campaign => &[
            "account",
            "campaignGroup",
            "name",
            "type",
            "status",
            "costType",
            "unitCost",
            "dailyBudget",
            "totalBudget",
            "runSchedule",
            "locale",
            "targetingCriteria",
            "objectiveType",
            "optimizationTargetType",
            "format",
            "offsiteDeliveryEnabled",
            "audienceExpansionEnabled",
            "creativeSelection",
            "pacingStrategy",
            "associatedEntity",
            "storyDeliveryEnabled",
            "offsitePreferences",
            "politicalIntent",
        ],
        Kind::Creative => &["campaign", "content", "intendedStatus", "name", "leadgenCallToAction"],
        Kind::DmpSegment => &[
            "account",
            "name",
            "description",
            "destinations",
            "sourcePlatform",
            "type",
            "accessPolicy",
        ],
    }
}

fn read_only(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::CampaignGroup => &[
            "id",
            "test",
            "backfilled",
            "servingStatuses",
            "allowedCampaignTypes",
            "changeAuditStamps",
        ],
        Kind::Campaign => &["id", "test", "servingStatuses", "version", "changeAuditStamps"],
        Kind::Creative => &[
            "id",
            "account",
            "isServing",
            "servingHoldReasons",
            "review",
            "isTest",
            "createdAt",
            "createdBy",
            "lastModifiedAt",
            "lastModifiedBy",
        ],
        Kind::DmpSegment => &[
            "id",
            "status",
            "matchedCount",
            "inputCount",
            "audienceSize",
            "created",
            "lastModified",
        ],
    }
}

/// Fields a PARTIAL_UPDATE may not touch (besides read-only ones).
fn immutable(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::CampaignGroup => &["account"],
        Kind::Campaign => &["account"],
        Kind::Creative => &["campaign", "content"],
        Kind::DmpSegment => &["account", "destinations", "sourcePlatform", "type"],
    }
}

/// Errors of this kind in its envelope (classic outside adAccounts / adCampaignGroups / adCampaigns).
pub fn fail(kind: Kind, e: ApiError) -> ApiError {
    if kind.new_envelope() || e.code.as_deref() == Some("SEGMENT_LIMIT_EXCEEDED") {
        e
    } else {
        e.into_classic()
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

fn stamps(e: &Entity) -> Value {
    json!({"created": {"actor": defaults::LINKEDIN_MEMBER_URN, "time": e.created_ms},
           "lastModified": {"actor": defaults::LINKEDIN_MEMBER_URN, "time": e.modified_ms}})
}

pub fn account_json(a: &Account) -> Value {
    json!({
        "id": a.id.parse::<u64>().unwrap_or(0),
        "name": a.name,
        "currency": a.currency,
        "reference": a.reference,
        "type": a.kind,
        "status": a.status,
        "test": a.test,
        "notifiedOnCampaignOptimization": false,
        "notifiedOnCreativeApproval": false,
        "notifiedOnCreativeRejection": false,
        "notifiedOnEndOfCampaign": false,
        "notifiedOnNewFeaturesEnabled": false,
        "servingStatuses": if a.status == "ACTIVE" { json!(["RUNNABLE"]) } else { json!(["ACCOUNT_STATUS_HOLD"]) },
        "version": {"versionTag": "1"},
        "changeAuditStamps": {"created": {"time": a.created_ms}, "lastModified": {"time": a.created_ms}},
    })
}

/// An entity as the API shows it.
pub fn render(st: &State, e: &Entity) -> Value {
    let mut m = e.fields.clone();
    let test = st.accounts.get(&e.account).is_some_and(|a| a.test);
    match e.kind {
        Kind::CampaignGroup => {
            m.insert("id".into(), json!(e.id));
            m.insert("test".into(), json!(test));
            m.insert("backfilled".into(), json!(e.backfilled));
            let serving = if e.status() == "ACTIVE" {
                "RUNNABLE"
            } else {
                "CAMPAIGN_GROUP_STATUS_HOLD"
            };
            m.insert("servingStatuses".into(), json!([serving]));
            m.insert("allowedCampaignTypes".into(), json!(CAMPAIGN_TYPES));
            m.insert("changeAuditStamps".into(), stamps(e));
        }
        Kind::Campaign => {
            m.insert("id".into(), json!(e.id));
            m.insert("test".into(), json!(test));
            let serving = if e.status() == "ACTIVE" {
                "RUNNABLE"
            } else {
                "CAMPAIGN_STATUS_HOLD"
            };
            m.insert("servingStatuses".into(), json!([serving]));
            m.insert("version".into(), json!({"versionTag": e.modified_ms.to_string()}));
            m.insert("changeAuditStamps".into(), stamps(e));
        }
        Kind::Creative => {
            m.insert("id".into(), json!(e.kind.urn(e.id)));
            m.insert(
                "account".into(),
                json!(format!("urn:li:sponsoredAccount:{}", e.account)),
            );
            let review = e.review.clone().unwrap_or_else(|| "APPROVED".into());
            let campaign_active = e
                .parent_id("campaign")
                .and_then(|c| st.entities.get(&c))
                .is_some_and(|c| c.status() == "ACTIVE");
            let serving = e.status() == "ACTIVE" && campaign_active && review == "APPROVED";
            m.insert("isServing".into(), json!(serving));
            let mut holds = Vec::new();
            if !serving {
                if !campaign_active {
                    holds.push("CAMPAIGN_STATUS_HOLD");
                }
                if review != "APPROVED" {
                    holds.push("UNDER_REVIEW");
                }
            }
            m.insert("servingHoldReasons".into(), json!(holds));
            m.insert("review".into(), json!({"status": review, "rejectionReasons": []}));
            m.insert("isTest".into(), json!(test));
            m.insert("createdAt".into(), json!(e.created_ms));
            m.insert("createdBy".into(), json!(defaults::LINKEDIN_MEMBER_URN));
            m.insert("lastModifiedAt".into(), json!(e.modified_ms));
            m.insert("lastModifiedBy".into(), json!(defaults::LINKEDIN_MEMBER_URN));
        }
        Kind::DmpSegment => {
            m.insert("id".into(), json!(e.id));
            let ready = if e.members.is_empty() { "BUILDING" } else { "READY" };
            let dests: Vec<Value> = e
                .fields
                .get("destinations")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|mut d| {
                    if let Some(o) = d.as_object_mut() {
                        o.insert(
                            "destinationSegmentId".into(),
                            json!(format!("urn:li:adSegment:{}", e.id)),
                        );
                        o.insert("status".into(), json!(ready));
                    }
                    d
                })
                .collect();
            m.insert("destinations".into(), json!(dests));
            m.entry("accessPolicy").or_insert(json!("PRIVATE"));
            m.insert("status".into(), json!(ready));
            m.insert("matchedCount".into(), json!(e.members.len()));
            m.insert("inputCount".into(), json!(e.input_count));
            m.insert("created".into(), json!(e.created_ms));
            m.insert("lastModified".into(), json!(e.modified_ms));
        }
    }
    Value::Object(m)
}

/// Keep only the top-level fields a `fields=` projection names.
pub fn project(v: Value, fields: Option<&Vec<String>>) -> Value {
    match (v, fields) {
        (Value::Object(m), Some(f)) if !f.is_empty() => {
            let keep: Vec<&str> = f
                .iter()
                .map(|x| x.split(['.', ':', '(']).next().unwrap_or(""))
                .collect();
            Value::Object(m.into_iter().filter(|(k, _)| keep.contains(&k.as_str())).collect())
        }
        (v, _) => v,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Keys, paging

/// A path or ids key of this kind: digits, or for creatives a sponsoredCreative URN.
pub fn parse_key(kind: Kind, raw: &str) -> Result<u64, ApiError> {
    let key = restli::parse_key(raw).map_err(|e| fail(kind, ApiError::bad(format!("Invalid key: {e}"))))?;
    key_id(kind, &key)
}

fn key_id(kind: Kind, key: &str) -> Result<u64, ApiError> {
    let bad = || {
        fail(
            kind,
            ApiError::bad(match kind {
                Kind::Creative => format!("Invalid key {key}: a creative key is a urn:li:sponsoredCreative URN"),
                _ => format!("Invalid key {key}: expected a numeric id"),
            }),
        )
    };
    let digits = match kind {
        Kind::Creative => key.strip_prefix("urn:li:sponsoredCreative:").ok_or_else(bad)?,
        _ => key,
    };
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    digits.parse().map_err(|_| bad())
}

fn page_token(last: u64) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{last}"))
}

fn parse_page_token(t: &str) -> Option<u64> {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t).ok()?;
    String::from_utf8(b).ok()?.strip_prefix("after:")?.parse().ok()
}

/// Cursor paging over items sorted by id: `pageSize` (default 100, at most 1,000), `pageToken`.
pub fn cursor_page(c: &Call, items: Vec<(u64, Value)>) -> Result<Value, ApiError> {
    let size = match c.params.str("pageSize") {
        None => PAGE_SIZE,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| ApiError::bad(format!("pageSize must be between 1 and {MAX_PAGE_SIZE}, not {s}")))?,
    };
    let after = match c.params.str("pageToken") {
        None => None,
        Some(t) => Some(parse_page_token(t).ok_or_else(|| ApiError::bad(format!("Invalid pageToken {t}")))?),
    };
    let rest: Vec<(u64, Value)> = items
        .into_iter()
        .filter(|(id, _)| after.is_none_or(|a| *id > a))
        .collect();
    let more = rest.len() > size;
    let page: Vec<(u64, Value)> = rest.into_iter().take(size).collect();
    let mut metadata = Map::new();
    if more {
        if let Some((last, _)) = page.last() {
            metadata.insert("nextPageToken".into(), json!(page_token(*last)));
        }
    }
    let elements: Vec<Value> = page
        .into_iter()
        .map(|(_, v)| project(v, c.params.fields.as_ref()))
        .collect();
    Ok(json!({"elements": elements, "metadata": metadata}))
}

/// Only these parameters (besides q) on a finder.
pub fn only_params(c: &Call, allowed: &[&str]) -> Result<(), ApiError> {
    for k in c.params.values.keys() {
        if k != "q" && !allowed.contains(&k.as_str()) {
            return Err(ApiError::bad(format!("Unknown query parameter `{k}` for this finder")));
        }
    }
    Ok(())
}

/// A `search=(field:(values:List(…)),…)` criterion: the values of one field (None when not filtered).
fn search_values(search: Option<&RValue>, field: &str) -> Result<Option<Vec<String>>, ApiError> {
    let Some(v) = search.and_then(|s| s.get(field)) else {
        return Ok(None);
    };
    let list = v
        .get("values")
        .and_then(RValue::as_list)
        .ok_or_else(|| ApiError::bad(format!("search.{field} must be (values:List(...))")))?;
    list.iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .ok_or_else(|| ApiError::bad(format!("search.{field}.values must hold values")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn search_object<'a>(c: &'a Call, allowed: &[&str]) -> Result<Option<&'a RValue>, ApiError> {
    match c.params.get("search") {
        None => Ok(None),
        Some(RValue::Obj(m)) => {
            for k in m.keys() {
                if !allowed.contains(&k.as_str()) {
                    return Err(ApiError::bad(format!("Unknown search criterion `{k}`")));
                }
            }
            Ok(c.params.get("search"))
        }
        Some(_) => Err(ApiError::bad(
            "search must be a Rest.li object: search=(field:(values:List(...)))",
        )),
    }
}

fn matches_test(search: Option<&RValue>, test: bool) -> Result<bool, ApiError> {
    match search.and_then(|s| s.get("test")).map(|t| t.as_str()) {
        None => Ok(true),
        Some(Some("true")) => Ok(test),
        Some(Some("false")) => Ok(!test),
        _ => Err(ApiError::bad("search.test must be true or false")),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Ad accounts

pub fn accounts_collection(c: &Call, st: &mut State) -> Handled {
    match c.method {
        RMethod::Finder => {
            if c.params.str("q") != Some("search") {
                return Err(ApiError::bad("Unknown finder: adAccounts has q=search"));
            }
            only_params(c, &["search", "pageSize", "pageToken", "sortOrder"])?;
            let search = search_object(c, &["status", "reference", "test", "id", "name", "type"])?;
            let statuses = search_values(search, "status")?;
            let refs = search_values(search, "reference")?;
            let ids = search_values(search, "id")?;
            let names = search_values(search, "name")?;
            let mut items = Vec::new();
            for a in st.accounts.values().filter(|a| a.role.is_some()) {
                let urn = a.urn();
                if statuses.as_ref().is_some_and(|s| !s.contains(&a.status))
                    || refs.as_ref().is_some_and(|r| !r.contains(&a.reference))
                    || ids.as_ref().is_some_and(|i| !i.contains(&a.id) && !i.contains(&urn))
                    || names.as_ref().is_some_and(|n| !n.contains(&a.name))
                    || !matches_test(search, a.test)?
                {
                    continue;
                }
                items.push((a.id.parse().unwrap_or(0), account_json(a)));
            }
            items.sort_by_key(|(id, _)| *id);
            Ok(Reply::json(cursor_page(c, items)?))
        }
        RMethod::BatchGet => {
            let ids = batch_ids(c)?;
            let (mut results, mut statuses, mut errors) = (Map::new(), Map::new(), Map::new());
            for id in ids {
                match st.accounts.get(&id).filter(|a| a.role.is_some()) {
                    Some(a) => {
                        results.insert(id.clone(), project(account_json(a), c.params.fields.as_ref()));
                        statuses.insert(id, json!(200));
                    }
                    None => {
                        errors.insert(
                            id.clone(),
                            json!({"status": 404, "message": format!("Ad account {id} not found")}),
                        );
                    }
                }
            }
            Ok(Reply::json(
                json!({"results": results, "statuses": statuses, "errors": errors}),
            ))
        }
        RMethod::Create => Err(ApiError::coded(
            403,
            "NO_PERMISSION_ON_ENTITY",
            "The emulator does not create ad accounts through the API: seed them (seed file or admin API).",
        )),
        _ => Err(ApiError::classic(405, "Method not supported on adAccounts")),
    }
}

pub fn account_get(c: &Call, st: &mut State, raw: &str) -> Handled {
    let id = restli::parse_key(raw).map_err(ApiError::bad)?;
    match c.method {
        RMethod::Get => {
            let a = c.account(st, &id, false)?;
            Ok(Reply::json(project(account_json(&a), c.params.fields.as_ref())))
        }
        RMethod::Delete => Err(ApiError::coded(
            400,
            "DELETE_NOT_ALLOWED",
            "Ad accounts cannot be deleted.",
        )),
        _ => Err(ApiError::classic(405, "Method not supported on an ad account")),
    }
}

fn batch_ids(c: &Call) -> Result<Vec<String>, ApiError> {
    let ids = c
        .params
        .list("ids")
        .map_err(ApiError::bad)?
        .ok_or_else(|| ApiError::bad("ids=List(...) is required"))?;
    if ids.len() > MAX_BATCH {
        return Err(ApiError::bad(format!(
            "Too many ids: at most {MAX_BATCH} per batch request"
        )));
    }
    Ok(ids)
}

// ---------------------------------------------------------------------------------------------------------------
// Validation

fn money(m: &Map<String, Value>, field: &str, currency: &str, errs: &mut Vec<InputError>) -> Option<Decimal> {
    let v = m.get(field)?;
    let Some(o) = v.as_object() else {
        errs.push(InputError::new(
            "INVALID_FIELD_VALUE",
            field,
            format!("{field} must be a money object {{\"amount\": \"<decimal string>\", \"currencyCode\"}}"),
        ));
        return None;
    };
    let path = format!("{field}/amount");
    let amount = match o.get("amount") {
        Some(Value::String(s)) => match Decimal::from_str(s) {
            Ok(d) => d,
            Err(_) => {
                errs.push(InputError::new(
                    "INVALID_FIELD_VALUE",
                    &path,
                    format!("{field}.amount \"{s}\" is not a decimal number"),
                ));
                return None;
            }
        },
        Some(_) => {
            errs.push(InputError::new(
                "INVALID_FIELD_VALUE",
                &path,
                format!("{field}.amount must be a string (a decimal in major units), not a JSON number"),
            ));
            return None;
        }
        None => {
            errs.push(InputError::new(
                "MISSING_FIELD",
                &path,
                format!("{field}.amount is required"),
            ));
            return None;
        }
    };
    let cpath = format!("{field}/currencyCode");
    match o.get("currencyCode").and_then(Value::as_str) {
        None => errs.push(InputError::new(
            "MISSING_FIELD",
            &cpath,
            format!("{field}.currencyCode is required"),
        )),
        Some(cc) if cc != currency => errs.push(InputError::new(
            "CURRENCY_MISMATCH",
            &cpath,
            format!("{field}.currencyCode {cc} does not match the ad account currency {currency}"),
        )),
        _ => {}
    }
    if amount <= Decimal::ZERO {
        errs.push(InputError::new(
            "FIELD_VALUE_TOO_LOW",
            &path,
            format!("{field}.amount must be greater than 0"),
        ));
    }
    Some(amount)
}

fn run_schedule(m: &Map<String, Value>, errs: &mut Vec<InputError>) {
    let Some(v) = m.get("runSchedule") else {
        return;
    };
    let Some(o) = v.as_object() else {
        errs.push(InputError::new(
            "INVALID_FIELD_VALUE",
            "runSchedule",
            "runSchedule must be an object {start, end}",
        ));
        return;
    };
    let start = match o.get("start") {
        None => {
            errs.push(InputError::new(
                "MISSING_FIELD",
                "runSchedule/start",
                "runSchedule.start is required",
            ));
            None
        }
        Some(s) => match s.as_i64() {
            Some(n) => Some(n),
            None => {
                errs.push(InputError::new(
                    "INVALID_FIELD_VALUE",
                    "runSchedule/start",
                    "runSchedule.start must be epoch milliseconds (an integer)",
                ));
                None
            }
        },
    };
    if let Some(e) = o.get("end") {
        match e.as_i64() {
            None => errs.push(InputError::new(
                "INVALID_FIELD_VALUE",
                "runSchedule/end",
                "runSchedule.end must be epoch milliseconds (an integer)",
            )),
            Some(end) => {
                if start.is_some_and(|s| end <= s) {
                    errs.push(InputError::new(
                        "START_DATE_AFTER_END_DATE",
                        "runSchedule/end",
                        "runSchedule.end must be after runSchedule.start",
                    ));
                }
            }
        }
    }
}

fn req(m: &Map<String, Value>, fields: &[&str], errs: &mut Vec<InputError>) {
    for f in fields {
        if m.get(*f).is_none_or(Value::is_null) {
            errs.push(InputError::new("MISSING_FIELD", f, format!("{f} is required")));
        }
    }
}

fn enum_field(m: &Map<String, Value>, f: &str, allowed: &[&str], errs: &mut Vec<InputError>) {
    if let Some(v) = m.get(f) {
        if !v.as_str().is_some_and(|s| allowed.contains(&s)) {
            errs.push(InputError::new(
                "INVALID_ENUM_VALUE",
                f,
                format!("{f}: {v} is not one of {}", allowed.join(", ")),
            ));
        }
    }
}

fn name_field(m: &Map<String, Value>, errs: &mut Vec<InputError>) {
    match m.get("name") {
        None => {}
        Some(Value::String(s)) if s.trim().is_empty() => {
            errs.push(InputError::new("MISSING_FIELD", "name", "name must not be empty"))
        }
        Some(Value::String(s)) if s.chars().count() > MAX_NAME => errs.push(InputError::new(
            "FIELD_LENGTH_TOO_LONG",
            "name",
            format!("name is longer than {MAX_NAME} characters"),
        )),
        Some(Value::String(_)) => {}
        Some(_) => errs.push(InputError::new("INVALID_FIELD_VALUE", "name", "name must be a string")),
    }
}

fn bool_fields(m: &Map<String, Value>, fs: &[&str], errs: &mut Vec<InputError>) {
    for f in fs {
        if m.get(*f).is_some_and(|v| !v.is_boolean()) {
            errs.push(InputError::new(
                "INVALID_FIELD_VALUE",
                f,
                format!("{f} must be a boolean"),
            ));
        }
    }
}

fn field_name_error(kind: Kind, k: &str) -> Option<InputError> {
    if read_only(kind).contains(&k) {
        Some(InputError::new(
            "READ_ONLY_FIELD",
            k,
            format!("{k} is read-only and cannot be set"),
        ))
    } else if !writable(kind).contains(&k) {
        Some(InputError::new(
            "UNRECOGNIZED_FIELD",
            k,
            format!("{k} is not a field of {}", kind.label()),
        ))
    } else {
        None
    }
}

fn live_groups(st: &State, account: &str) -> Vec<u64> {
    st.entities
        .values()
        .filter(|e| e.kind == Kind::CampaignGroup && e.account == account && !e.deleted)
        .map(|e| e.id)
        .collect()
}

fn urn_id(v: Option<&Value>, prefix: &str) -> Option<u64> {
    v?.as_str()?.strip_prefix(prefix)?.parse().ok()
}

fn status_change(kind: Kind, new: &str, old: Option<&Entity>, create_ok: &[&str], errs: &mut Vec<InputError>) {
    let field = kind.status_field();
    match old {
        None => {
            if !create_ok.contains(&new) {
                errs.push(InputError::new(
                    "INVALID_STATUS",
                    field,
                    format!("A {} is created in {}, not {new}", kind.label(), create_ok.join(" or ")),
                ));
            }
        }
        Some(o) => {
            let was = o.status();
            if was == new {
                return;
            }
            if matches!(new, "COMPLETED" | "REMOVED") {
                errs.push(InputError::new(
                    "INVALID_STATUS",
                    field,
                    format!("{field} {new} is set by LinkedIn only"),
                ));
            } else if new == "DRAFT" {
                errs.push(InputError::new(
                    "INVALID_STATUS",
                    field,
                    format!("A {} cannot go back to DRAFT from {was}", kind.label()),
                ));
            }
        }
    }
}

fn money_rules(kind: Kind, m: &Map<String, Value>, cur: &str, errs: &mut Vec<InputError>) {
    let daily = money(m, "dailyBudget", cur, errs);
    let total = money(m, "totalBudget", cur, errs);
    if let (Some(d), Some(t)) = (daily, total) {
        if t < d {
            errs.push(InputError::new(
                "FIELD_VALUE_CONDITIONAL_TOO_LOW",
                "totalBudget/amount",
                "totalBudget must be greater than or equal to dailyBudget",
            ));
        }
    }
    if kind == Kind::Campaign {
        money(m, "unitCost", cur, errs);
    }
}

/// Check a whole entity (a create body, or the result of a patch). `old` is the stored version on update.
pub fn validate(
    st: &State,
    kind: Kind,
    acct: &Account,
    m: &Map<String, Value>,
    old: Option<&Entity>,
) -> Vec<InputError> {
    let mut errs = Vec::new();
    if old.is_none() {
        errs.extend(m.keys().filter_map(|k| field_name_error(kind, k)));
    }
    let cur = acct.currency.as_str();
    match kind {
        Kind::CampaignGroup => {
            req(m, &["account", "name", "status"], &mut errs);
            name_field(m, &mut errs);
            enum_field(m, "status", GROUP_STATUSES, &mut errs);
            enum_field(m, "objectiveType", OBJECTIVES, &mut errs);
            if let Some(s) = m
                .get("status")
                .and_then(Value::as_str)
                .filter(|s| GROUP_STATUSES.contains(s))
            {
                status_change(kind, s, old, &["ACTIVE", "DRAFT"], &mut errs);
            }
            if m.get("totalBudget").is_some() && m.get("runSchedule").is_none() {
                errs.push(InputError::new(
                    "MISSING_FIELD",
                    "runSchedule",
                    "runSchedule is required when totalBudget is set",
                ));
            }
            run_schedule(m, &mut errs);
            money_rules(kind, m, cur, &mut errs);
        }
        Kind::Campaign => campaign_rules(st, acct, m, old, &mut errs),
        Kind::Creative => creative_rules(st, acct, m, old, &mut errs),
        Kind::DmpSegment => {
            req(
                m,
                &["account", "name", "destinations", "sourcePlatform", "type"],
                &mut errs,
            );
            name_field(m, &mut errs);
            enum_field(m, "sourcePlatform", &["LIST_UPLOAD", "STREAMING"], &mut errs);
            enum_field(
                m,
                "type",
                &[
                    "USER",
                    "COMPANY",
                    "USER_LIST_UPLOAD",
                    "COMPANY_LIST_UPLOAD",
                    "USER_STREAMING",
                    "COMPANY_STREAMING",
                ],
                &mut errs,
            );
            enum_field(m, "accessPolicy", &["PRIVATE", "PUBLIC"], &mut errs);
            if m.get("description").is_some_and(|d| !d.is_string()) {
                errs.push(InputError::new(
                    "INVALID_FIELD_VALUE",
                    "description",
                    "description must be a string",
                ));
            }
            if let Some(d) = m.get("destinations") {
                let ok = d.as_array().is_some_and(|a| {
                    !a.is_empty()
                        && a.iter().all(|x| {
                            x.get("destination").and_then(Value::as_str) == Some("LINKEDIN")
                                && x.as_object().is_some_and(|o| o.len() == 1)
                        })
                });
                if !ok {
                    errs.push(InputError::new(
                        "INVALID_FIELD_VALUE",
                        "destinations",
                        "destinations must be [{\"destination\": \"LINKEDIN\"}]",
                    ));
                }
            }
        }
    }
    // the account field must be the path's account
    if matches!(kind, Kind::CampaignGroup | Kind::Campaign | Kind::DmpSegment) {
        if let Some(a) = m.get("account") {
            if a.as_str() != Some(acct.urn().as_str()) {
                errs.push(InputError::new(
                    "INVALID_FIELD_VALUE",
                    "account",
                    format!("account {a} is not {}", acct.urn()),
                ));
            }
        }
    }
    errs
}

fn campaign_rules(
    st: &State,
    acct: &Account,
    m: &Map<String, Value>,
    old: Option<&Entity>,
    errs: &mut Vec<InputError>,
) {
    let kind = Kind::Campaign;
    req(
        m,
        &[
            "account",
            "name",
            "type",
            "costType",
            "runSchedule",
            "locale",
            "targetingCriteria",
            "status",
        ],
        errs,
    );
    name_field(m, errs);
    enum_field(m, "type", CAMPAIGN_TYPES, errs);
    enum_field(m, "costType", COST_TYPES, errs);
    enum_field(m, "status", CAMPAIGN_STATUSES, errs);
    enum_field(m, "objectiveType", OBJECTIVES, errs);
    enum_field(m, "optimizationTargetType", OPTIMIZATION, errs);
    enum_field(m, "format", FORMATS, errs);
    enum_field(m, "creativeSelection", &["OPTIMIZED", "ROUND_ROBIN"], errs);
    enum_field(m, "pacingStrategy", &["LIFETIME", "ACCELERATED"], errs);
    enum_field(m, "politicalIntent", &["NOT_POLITICAL", "POLITICAL"], errs);
    bool_fields(
        m,
        &[
            "offsiteDeliveryEnabled",
            "audienceExpansionEnabled",
            "storyDeliveryEnabled",
        ],
        errs,
    );
    let status = m.get("status").and_then(Value::as_str).unwrap_or("");
    if CAMPAIGN_STATUSES.contains(&status) {
        status_change(kind, status, old, &["ACTIVE", "PAUSED", "DRAFT"], errs);
    }
    if let Some(o) = old {
        let before = o.fields.get("objectiveType");
        if before.is_some() && before != m.get("objectiveType") {
            errs.push(InputError::new(
                "IMMUTABLE_CAMPAIGN_OBJECTIVE_TYPE",
                "objectiveType",
                "objectiveType cannot be changed once set",
            ));
        }
    }
    match m.get("campaignGroup") {
        None => errs.push(InputError::new(
            "MISSING_FIELD",
            "campaignGroup",
            "campaignGroup is required when the ad account has more than one campaign group",
        )),
        Some(v) => {
            let group = urn_id(Some(v), "urn:li:sponsoredCampaignGroup:")
                .and_then(|g| st.entities.get(&g))
                .filter(|g| g.kind == Kind::CampaignGroup && g.account == acct.id && !g.deleted);
            match group {
                None => errs.push(InputError::new(
                    "INVALID_FIELD_VALUE",
                    "campaignGroup",
                    format!("campaignGroup {v} is not a campaign group of ad account {}", acct.id),
                )),
                Some(g) if g.status() == "DRAFT" && status != "DRAFT" => errs.push(InputError::new(
                    "ONLY_DRAFT_CAMPAIGNS_ALLOWED_IN_DRAFT_CAMPAIGN_GROUPS",
                    "status",
                    "A draft campaign group may only contain draft campaigns",
                )),
                Some(_) => {}
            }
        }
    }
    if m.get("dailyBudget").is_none() && m.get("totalBudget").is_none() {
        errs.push(InputError::new(
            "MISSING_FIELD",
            "dailyBudget",
            "One of dailyBudget or totalBudget is required",
        ));
    }
    money_rules(kind, m, &acct.currency, errs);
    let opt = m
        .get("optimizationTargetType")
        .and_then(Value::as_str)
        .unwrap_or("NONE");
    let manual = opt == "NONE" || opt.starts_with("TARGET_") || opt.starts_with("CAP_");
    if manual && m.get("unitCost").is_none() {
        errs.push(InputError::new(
            "MISSING_FIELD",
            "unitCost",
            format!("unitCost (the bid) is required with optimizationTargetType {opt}"),
        ));
    }
    run_schedule(m, errs);
    if let Some(l) = m.get("locale") {
        let code = |k: &str, upper: bool| {
            l.get(k).and_then(Value::as_str).is_some_and(|c| {
                c.len() == 2
                    && c.bytes().all(|b| {
                        if upper {
                            b.is_ascii_uppercase()
                        } else {
                            b.is_ascii_lowercase()
                        }
                    })
            })
        };
        if !(code("country", true) && code("language", false)) {
            errs.push(InputError::new(
                "INVALID_FIELD_VALUE",
                "locale",
                "locale must be {\"country\": \"US\", \"language\": \"en\"} (ISO 3166 upper, ISO 639-1 lower)",
            ));
        }
    }
    if m.get("targetingCriteria")
        .is_some_and(|t| t.get("include").is_none_or(|i| !i.is_object()))
    {
        errs.push(InputError::new(
            "INVALID_FIELD_VALUE",
            "targetingCriteria",
            "targetingCriteria must be an object with an `include` clause",
        ));
    }
}

fn creative_rules(
    st: &State,
    acct: &Account,
    m: &Map<String, Value>,
    old: Option<&Entity>,
    errs: &mut Vec<InputError>,
) {
    req(m, &["campaign", "content", "intendedStatus"], errs);
    name_field(m, errs);
    enum_field(m, "intendedStatus", CREATIVE_STATUSES, errs);
    if let Some(s) = m
        .get("intendedStatus")
        .and_then(Value::as_str)
        .filter(|s| CREATIVE_STATUSES.contains(s))
    {
        status_change(Kind::Creative, s, old, &["ACTIVE", "PAUSED", "DRAFT"], errs);
    }
    if let Some(v) = m.get("campaign") {
        let ok = urn_id(Some(v), "urn:li:sponsoredCampaign:")
            .and_then(|c| st.entities.get(&c))
            .is_some_and(|c| c.kind == Kind::Campaign && c.account == acct.id && !c.deleted);
        if !ok {
            errs.push(InputError::new(
                "INVALID_FIELD_VALUE",
                "campaign",
                format!("campaign {v} is not a campaign of ad account {}", acct.id),
            ));
        }
    }
    if let Some(c) = m.get("content") {
        let ok = c
            .get("reference")
            .and_then(Value::as_str)
            .is_some_and(|r| r.starts_with("urn:li:"));
        if !ok {
            errs.push(InputError::new(
                "INVALID_FIELD_VALUE",
                "content/reference",
                "content.reference must be the URN of a post (urn:li:share:…, urn:li:ugcPost:…)",
            ));
        }
    }
    if let Some(l) = m.get("leadgenCallToAction") {
        if !l.is_object() || l.get("destination").and_then(Value::as_str).is_none() {
            errs.push(InputError::new(
                "INVALID_FIELD_VALUE",
                "leadgenCallToAction",
                "leadgenCallToAction must be {\"destination\": <lead form URN>, \"label\": …}",
            ));
        }
    }
}

/// Counting limits for a create (`old` None) or an update.
fn limits(
    st: &State,
    kind: Kind,
    acct: &Account,
    m: &Map<String, Value>,
    old: Option<&Entity>,
) -> Result<(), ApiError> {
    let live = |k: Kind| {
        st.entities
            .values()
            .filter(move |e| e.kind == k && e.account == acct.id && !e.deleted)
    };
    match kind {
        Kind::Campaign => {
            if old.is_none() && live(Kind::Campaign).count() >= MAX_CAMPAIGNS_PER_ACCOUNT {
                return Err(ApiError::coded(
                    400,
                    "MAX_CAMPAIGNS_PER_ACCOUNT_EXCEEDED",
                    format!("An ad account holds at most {MAX_CAMPAIGNS_PER_ACCOUNT} campaigns"),
                ));
            }
            let becomes_active =
                m.get("status").and_then(Value::as_str) == Some("ACTIVE") && old.is_none_or(|o| o.status() != "ACTIVE");
            if becomes_active
                && live(Kind::Campaign).filter(|e| e.status() == "ACTIVE").count() >= MAX_ACTIVE_CAMPAIGNS_PER_ACCOUNT
            {
                return Err(ApiError::coded(
                    400,
                    "MAX_ACTIVE_CAMPAIGNS_PER_ACCOUNT_EXCEEDED",
                    format!("An ad account runs at most {MAX_ACTIVE_CAMPAIGNS_PER_ACCOUNT} ACTIVE campaigns at once"),
                ));
            }
            let group = urn_id(m.get("campaignGroup"), "urn:li:sponsoredCampaignGroup:");
            let moved = old.is_none_or(|o| o.parent_id("campaignGroup") != group);
            if let Some(g) = group.filter(|g| Some(*g) != acct.default_group && moved) {
                let n = live(Kind::Campaign)
                    .filter(|e| e.parent_id("campaignGroup") == Some(g))
                    .count();
                if n >= MAX_CAMPAIGNS_PER_GROUP {
                    return Err(ApiError::coded(
                        400,
                        "MAX_CAMPAIGNS_PER_CAMPAIGN_GROUP_EXCEEDED",
                        format!(
                            "A campaign group other than the default holds at most {MAX_CAMPAIGNS_PER_GROUP} campaigns"
                        ),
                    ));
                }
            }
        }
        Kind::Creative => {
            if old.is_none() && live(Kind::Creative).count() >= MAX_CREATIVES_PER_ACCOUNT {
                return Err(ApiError::bad(format!(
                    "An ad account holds at most {MAX_CREATIVES_PER_ACCOUNT} creatives"
                )));
            }
            let campaign = urn_id(m.get("campaign"), "urn:li:sponsoredCampaign:");
            let siblings: Vec<&Entity> = live(Kind::Creative)
                .filter(|e| e.parent_id("campaign") == campaign && old.is_none_or(|o| o.id != e.id))
                .collect();
            let active = m.get("intendedStatus").and_then(Value::as_str) == Some("ACTIVE");
            let was_active = old.is_some_and(|o| o.status() == "ACTIVE");
            let n_active = siblings.iter().filter(|e| e.status() == "ACTIVE").count();
            let n_inactive = siblings.len() - n_active;
            if active && !was_active && n_active >= MAX_ACTIVE_CREATIVES_PER_CAMPAIGN {
                return Err(ApiError::bad(format!(
                    "A campaign holds at most {MAX_ACTIVE_CREATIVES_PER_CAMPAIGN} active creatives"
                )));
            }
            if !active && (old.is_none() || was_active) && n_inactive >= MAX_INACTIVE_CREATIVES_PER_CAMPAIGN {
                return Err(ApiError::bad(format!(
                    "A campaign holds at most {MAX_INACTIVE_CREATIVES_PER_CAMPAIGN} inactive creatives"
                )));
            }
        }
        Kind::DmpSegment => {
            if old.is_none() && live(Kind::DmpSegment).count() >= super::dmp::MAX_SEGMENTS {
                return Err(ApiError {
                    status: 429,
                    code: Some("SEGMENT_LIMIT_EXCEEDED".into()),
                    service_code: 429,
                    message: format!(
                        "SEGMENT_LIMIT_EXCEEDED: an ad account may hold at most {} DMP segments",
                        super::dmp::MAX_SEGMENTS
                    ),
                    inputs: Vec::new(),
                });
            }
        }
        Kind::CampaignGroup => {}
    }
    Ok(())
}

fn new_entity(id: u64, kind: Kind, account: &str, fields: Map<String, Value>, now: i64, foreign: bool) -> Entity {
    Entity {
        id,
        kind,
        account: account.to_string(),
        fields,
        created_ms: now,
        modified_ms: now,
        deleted: false,
        backfilled: false,
        foreign,
        review: None,
        members: Default::default(),
        input_count: 0,
        prev: None,
    }
}

/// Create one entity from a body (validated, limits checked); its key.
pub fn create_one(c: &Call, st: &mut State, kind: Kind, acct: &Account, body: &Value) -> Result<String, ApiError> {
    let Some(m) = body.as_object() else {
        return Err(fail(kind, ApiError::bad("An element must be a JSON object")));
    };
    let mut m = m.clone();
    if kind == Kind::Campaign && !m.contains_key("campaignGroup") {
        let groups = live_groups(st, &acct.id);
        if groups.len() == 1 {
            m.insert("campaignGroup".into(), json!(Kind::CampaignGroup.urn(groups[0])));
        }
    }
    let errs = validate(st, kind, acct, &m, None);
    if !errs.is_empty() {
        return Err(fail(kind, ApiError::inputs(errs)));
    }
    limits(st, kind, acct, &m, None).map_err(|e| fail(kind, e))?;
    let id = st.new_id();
    let e = new_entity(id, kind, &acct.id, m, c.now, false);
    let key = e.key();
    st.entities.insert(id, e);
    Ok(key)
}

/// An object made by another client (admin API): no validation; missing basics are filled in.
pub fn foreign_entity(st: &mut State, kind: Kind, account: &str, mut fields: Map<String, Value>, now: i64) -> String {
    let urn = format!("urn:li:sponsoredAccount:{account}");
    let id = st.new_id();
    match kind {
        Kind::CampaignGroup => {
            fields.entry("account").or_insert(json!(urn));
            fields.entry("name").or_insert(json!(format!("Foreign group {id}")));
            fields.entry("status").or_insert(json!("ACTIVE"));
        }
        Kind::Campaign => {
            fields.entry("account").or_insert(json!(urn));
            let dg = st.accounts.get(account).and_then(|a| a.default_group).unwrap_or(0);
            fields
                .entry("campaignGroup")
                .or_insert(json!(Kind::CampaignGroup.urn(dg)));
            fields.entry("name").or_insert(json!(format!("Foreign campaign {id}")));
            fields.entry("status").or_insert(json!("PAUSED"));
            fields.entry("type").or_insert(json!("SPONSORED_UPDATES"));
            fields.entry("costType").or_insert(json!("CPM"));
        }
        Kind::Creative => {
            fields.entry("intendedStatus").or_insert(json!("PAUSED"));
            fields
                .entry("content")
                .or_insert(json!({"reference": format!("urn:li:share:{id}")}));
        }
        Kind::DmpSegment => {
            fields.entry("account").or_insert(json!(urn));
            fields.entry("name").or_insert(json!(format!("Foreign segment {id}")));
            fields
                .entry("destinations")
                .or_insert(json!([{"destination": "LINKEDIN"}]));
            fields.entry("sourcePlatform").or_insert(json!("LIST_UPLOAD"));
            fields.entry("type").or_insert(json!("USER"));
        }
    }
    let e = new_entity(id, kind, account, fields, now, true);
    let key = e.key();
    st.entities.insert(id, e);
    key
}

// ---------------------------------------------------------------------------------------------------------------
// Collections and entities

pub fn collection(c: &Call, st: &mut State, kind: Kind, acct_raw: &str) -> Handled {
    let acct_id = restli::parse_key(acct_raw).map_err(|e| fail(kind, ApiError::bad(e)))?;
    let acct = c.account(st, &acct_id, c.method.writes()).map_err(|e| fail(kind, e))?;
    let r = match c.method {
        RMethod::Create => {
            let body = Value::Object(c.json()?);
            let key = create_one(c, st, kind, &acct, &body)?;
            Ok(Reply::created(key))
        }
        RMethod::BatchCreate => batch_create(c, st, kind, &acct),
        RMethod::BatchGet => batch_get(c, st, kind, Some(&acct)),
        RMethod::BatchPartialUpdate => batch_partial_update(c, st, kind, &acct),
        RMethod::Finder => finder(c, st, kind, &acct),
        _ => Err(ApiError::classic(405, "Method not supported on this collection")),
    };
    r.map_err(|e| fail(kind, e))
}

pub fn batch_create(c: &Call, st: &mut State, kind: Kind, acct: &Account) -> Handled {
    let body = c.json()?;
    let Some(elements) = body.get("elements").and_then(Value::as_array) else {
        return Err(ApiError::bad("A BATCH_CREATE body is {\"elements\": [...]}"));
    };
    if elements.len() > MAX_BATCH {
        return Err(ApiError::bad(format!(
            "Too many elements: at most {MAX_BATCH} per batch"
        )));
    }
    let accounts: std::collections::BTreeSet<&str> = elements
        .iter()
        .filter_map(|e| e.get("account").and_then(Value::as_str))
        .collect();
    if accounts.len() > 1 {
        return Err(ApiError::coded(
            400,
            "MULTIPLE_ACCOUNTS_UNSUPPORTED",
            "All elements of a batch must belong to one ad account",
        ));
    }
    let mut out = Vec::new();
    for el in elements {
        match create_one(c, st, kind, acct, el) {
            Ok(key) => out.push(json!({"status": 201, "id": key})),
            Err(e) => out.push(json!({"status": e.status, "error": e.body()})),
        }
    }
    let n = out.len() as u64;
    Ok(Reply::json(json!({ "elements": out })).ops(n))
}

pub fn batch_get(c: &Call, st: &mut State, kind: Kind, acct: Option<&Account>) -> Handled {
    let ids = batch_ids(c)?;
    let (mut results, mut statuses, mut errors) = (Map::new(), Map::new(), Map::new());
    for raw in ids {
        let found = key_id(kind, &raw)
            .ok()
            .and_then(|id| st.entities.get(&id))
            .filter(|e| e.kind == kind && acct.is_none_or(|a| a.id == e.account))
            .and_then(|e| c.visible(e));
        match found {
            Some(e) => {
                results.insert(raw.clone(), project(render(st, &e), c.params.fields.as_ref()));
                statuses.insert(raw, json!(200));
            }
            None => {
                errors.insert(
                    raw.clone(),
                    json!({"status": 404, "message": format!("{} {raw} not found", kind.label())}),
                );
            }
        }
    }
    let n = (results.len() + errors.len()) as u64;
    Ok(Reply::json(json!({"results": results, "statuses": statuses, "errors": errors})).ops(n))
}

fn finder(c: &Call, st: &mut State, kind: Kind, acct: &Account) -> Handled {
    let q = c.params.str("q").unwrap_or("");
    let visible: Vec<Entity> = st
        .entities
        .values()
        .filter(|e| e.kind == kind && e.account == acct.id)
        .filter_map(|e| c.visible(e))
        .collect();
    let mut items = Vec::new();
    match (kind, q) {
        (Kind::CampaignGroup | Kind::Campaign, "search") => {
            only_params(c, &["search", "pageSize", "pageToken", "sortOrder"])?;
            let allowed: &[&str] = if kind == Kind::Campaign {
                &["campaignGroup", "status", "type", "id", "name", "test"]
            } else {
                &["status", "id", "name", "test"]
            };
            let search = search_object(c, allowed)?;
            let statuses = search_values(search, "status")?;
            let ids = search_values(search, "id")?;
            let names = search_values(search, "name")?;
            let groups = search_values(search, "campaignGroup")?;
            let types = search_values(search, "type")?;
            let test_ok = matches_test(search, acct.test)?;
            for e in visible {
                let f = |k: &str| e.fields.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                if statuses.as_ref().is_some_and(|s| !s.contains(&e.status().to_string()))
                    || ids
                        .as_ref()
                        .is_some_and(|i| !i.contains(&e.id.to_string()) && !i.contains(&e.kind.urn(e.id)))
                    || names.as_ref().is_some_and(|n| !n.contains(&f("name")))
                    || groups.as_ref().is_some_and(|g| !g.contains(&f("campaignGroup")))
                    || types.as_ref().is_some_and(|t| !t.contains(&f("type")))
                    || !test_ok
                {
                    continue;
                }
                items.push((e.id, render(st, &e)));
            }
        }
        (Kind::Creative, "criteria") => {
            only_params(
                c,
                &[
                    "campaigns",
                    "intendedStatuses",
                    "creatives",
                    "pageSize",
                    "pageToken",
                    "sortOrder",
                    "isTestAccount",
                ],
            )?;
            let campaigns = c.params.list("campaigns").map_err(ApiError::bad)?;
            let statuses = c.params.list("intendedStatuses").map_err(ApiError::bad)?;
            let creatives = c.params.list("creatives").map_err(ApiError::bad)?;
            for e in visible {
                let campaign = e
                    .fields
                    .get("campaign")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                if campaigns.as_ref().is_some_and(|l| !l.contains(&campaign))
                    || statuses.as_ref().is_some_and(|l| !l.contains(&e.status().to_string()))
                    || creatives.as_ref().is_some_and(|l| !l.contains(&e.kind.urn(e.id)))
                {
                    continue;
                }
                items.push((e.id, render(st, &e)));
            }
        }
        _ => {
            return Err(ApiError::bad(format!(
                "Unknown finder q={q} for {} (adCampaignGroups and adCampaigns: search; creatives: criteria)",
                kind.collection()
            )))
        }
    }
    Ok(Reply::json(cursor_page(c, items)?))
}

/// A patch body `{"patch":{"$set":{…},"$delete":[…]}}` applied to a copy of the entity's fields.
fn apply_patch(kind: Kind, e: &Entity, body: &Value) -> Result<Map<String, Value>, ApiError> {
    let Some(patch) = body.get("patch").and_then(Value::as_object) else {
        return Err(ApiError::bad(
            "A partial update body is {\"patch\": {\"$set\": {...}, \"$delete\": [...]}}",
        ));
    };
    if let Some(o) = body.as_object().filter(|o| o.len() != 1) {
        let extra: Vec<&String> = o.keys().filter(|k| *k != "patch").collect();
        return Err(ApiError::bad(format!("Unexpected keys beside patch: {extra:?}")));
    }
    let mut m = e.fields.clone();
    let mut errs = Vec::new();
    let check = |k: &str, same: bool, errs: &mut Vec<InputError>| {
        if let Some(x) = field_name_error(kind, k) {
            errs.push(x);
        } else if immutable(kind).contains(&k) && !same {
            errs.push(InputError::new(
                "IMMUTABLE_FIELD",
                k,
                format!("{k} cannot be changed after creation"),
            ));
        }
    };
    for (k, v) in patch {
        match k.as_str() {
            "$set" => {
                let Some(set) = v.as_object() else {
                    return Err(ApiError::bad("$set must be an object"));
                };
                for (f, val) in set {
                    check(f, e.fields.get(f) == Some(val), &mut errs);
                    m.insert(f.clone(), val.clone());
                }
            }
            "$delete" => {
                let Some(list) = v.as_array() else {
                    return Err(ApiError::bad("$delete must be a list of field names"));
                };
                for f in list {
                    let Some(f) = f.as_str() else {
                        return Err(ApiError::bad("$delete must be a list of field names"));
                    };
                    check(f, false, &mut errs);
                    m.remove(f);
                }
            }
            other => {
                return Err(ApiError::bad(format!(
                    "Only top-level $set and $delete are supported in a patch (found `{other}`): set the whole \
                     nested object instead"
                )))
            }
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::inputs(errs));
    }
    Ok(m)
}

fn not_found(kind: Kind, id: u64) -> ApiError {
    let key = match kind {
        Kind::Creative => kind.urn(id),
        _ => id.to_string(),
    };
    ApiError::coded(404, "NOT_FOUND", format!("{} {key} does not exist", kind.label()))
}

/// Update one stored entity from a patch body.
pub fn update_one(c: &Call, st: &mut State, kind: Kind, acct: &Account, id: u64, body: &Value) -> Result<(), ApiError> {
    let e = st
        .entities
        .get(&id)
        .filter(|e| e.kind == kind && e.account == acct.id && !e.deleted)
        .cloned()
        .ok_or_else(|| fail(kind, not_found(kind, id)))?;
    if e.backfilled {
        return Err(fail(
            kind,
            ApiError::coded(
                400,
                "CANNOT_UPDATE_BACKFILLED_CAMPAIGN_GROUPS",
                "The default (backfilled) campaign group cannot be updated",
            ),
        ));
    }
    if e.status() == "CANCELED" {
        return Err(fail(
            kind,
            ApiError::coded(
                400,
                "ACTION_NOT_ALLOWED_FOR_CANCELLED_STATUS",
                format!(
                    "{} {} is CANCELED: a canceled object cannot be changed",
                    kind.label(),
                    e.key()
                ),
            ),
        ));
    }
    let m = apply_patch(kind, &e, body).map_err(|x| fail(kind, x))?;
    let errs = validate(st, kind, acct, &m, Some(&e));
    if !errs.is_empty() {
        return Err(fail(kind, ApiError::inputs(errs)));
    }
    limits(st, kind, acct, &m, Some(&e)).map_err(|x| fail(kind, x))?;
    if let Some(stored) = st.entities.get_mut(&id) {
        let mut prev = stored.clone();
        prev.prev = None;
        stored.fields = m;
        stored.modified_ms = c.now;
        stored.prev = Some(Box::new(prev));
    }
    Ok(())
}

fn batch_partial_update(c: &Call, st: &mut State, kind: Kind, acct: &Account) -> Handled {
    let ids = batch_ids(c)?;
    let body = c.json()?;
    let Some(entities) = body.get("entities").and_then(Value::as_object) else {
        return Err(ApiError::bad(
            "A BATCH_PARTIAL_UPDATE body is {\"entities\": {\"<id>\": {\"patch\": {...}}}}",
        ));
    };
    let mut keys: Vec<&String> = entities.keys().collect();
    keys.sort();
    let mut want: Vec<&String> = ids.iter().collect();
    want.sort();
    if keys != want {
        return Err(ApiError::bad(
            "The ids of the query and the keys of entities must be the same",
        ));
    }
    let (mut results, mut errors) = (Map::new(), Map::new());
    for raw in &ids {
        let r = key_id(kind, raw).and_then(|id| update_one(c, st, kind, acct, id, &entities[raw.as_str()]));
        match r {
            Ok(()) => {
                results.insert(raw.clone(), json!({"status": 204}));
            }
            Err(e) => {
                errors.insert(raw.clone(), e.body());
            }
        }
    }
    let n = ids.len() as u64;
    Ok(Reply::json(json!({"results": results, "errors": errors})).ops(n))
}

/// GET, PARTIAL_UPDATE and DELETE of one entity (acct_raw: the path's account; None for DMP segments).
pub fn entity(c: &Call, st: &mut State, kind: Kind, acct_raw: Option<&str>, raw_key: &str) -> Handled {
    let id = parse_key(kind, raw_key)?;
    let acct = match acct_raw {
        Some(a) => {
            let acct_id = restli::parse_key(a).map_err(|e| fail(kind, ApiError::bad(e)))?;
            c.account(st, &acct_id, c.method.writes()).map_err(|e| fail(kind, e))?
        }
        None => {
            // DMP segments: the segment's own account
            let owner = st
                .entities
                .get(&id)
                .filter(|e| e.kind == kind && !e.deleted)
                .map(|e| e.account.clone())
                .ok_or_else(|| fail(kind, not_found(kind, id)))?;
            c.account(st, &owner, c.method.writes()).map_err(|e| fail(kind, e))?
        }
    };
    match c.method {
        RMethod::Get => {
            let e = st
                .entities
                .get(&id)
                .filter(|e| e.kind == kind && e.account == acct.id)
                .and_then(|e| c.visible(e))
                .ok_or_else(|| fail(kind, not_found(kind, id)))?;
            Ok(Reply::json(project(render(st, &e), c.params.fields.as_ref())))
        }
        RMethod::PartialUpdate => {
            let body = Value::Object(c.json().map_err(|e| fail(kind, e))?);
            update_one(c, st, kind, &acct, id, &body)?;
            Ok(Reply::no_content())
        }
        RMethod::Delete => delete_one(c, st, kind, &acct, id),
        _ => Err(fail(
            kind,
            ApiError::classic(405, "Method not supported on this entity"),
        )),
    }
}

fn delete_one(c: &Call, st: &mut State, kind: Kind, acct: &Account, id: u64) -> Handled {
    let e = st
        .entities
        .get(&id)
        .filter(|e| e.kind == kind && e.account == acct.id && !e.deleted)
        .cloned()
        .ok_or_else(|| fail(kind, not_found(kind, id)))?;
    if e.backfilled {
        return Err(fail(
            kind,
            ApiError::coded(
                400,
                "CANNOT_UPDATE_BACKFILLED_CAMPAIGN_GROUPS",
                "The default (backfilled) campaign group cannot be deleted",
            ),
        ));
    }
    if kind != Kind::DmpSegment && e.status() != "DRAFT" {
        return Err(fail(
            kind,
            ApiError::coded(
                400,
                "DELETE_ALLOWED_ONLY_FOR_DRAFT_STATUS",
                format!(
                    "Only DRAFT objects can be deleted; {} {} is {} (set {} to ARCHIVED instead)",
                    kind.label(),
                    e.key(),
                    e.status(),
                    kind.status_field()
                ),
            ),
        ));
    }
    // a draft group takes its (draft) campaigns and their creatives with it
    let mut gone = vec![id];
    let mut i = 0;
    while i < gone.len() {
        let parent = gone[i];
        for x in st.entities.values() {
            let field = match x.kind {
                Kind::Campaign => "campaignGroup",
                Kind::Creative => "campaign",
                _ => continue,
            };
            if !x.deleted && x.parent_id(field) == Some(parent) && !gone.contains(&x.id) {
                gone.push(x.id);
            }
        }
        i += 1;
    }
    for g in gone {
        if let Some(x) = st.entities.get_mut(&g) {
            let mut prev = x.clone();
            prev.prev = None;
            x.deleted = true;
            x.modified_ms = c.now;
            x.prev = Some(Box::new(prev));
        }
    }
    Ok(Reply::no_content())
}
