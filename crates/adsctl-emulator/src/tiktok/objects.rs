//! Advertisers (read), campaigns, ad groups and ads: create, update, status update (ENABLE / DISABLE / DELETE,
//! 1–20 ids), get (filtering, fields, paging). WIRE-NOTES § Campaign, § Ad group, § Ad, § Paging, § Money.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{NaiveDateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use super::error::{self, ApiError};
use super::fields;
use super::state::{Kind, Obj, Outcome, Review, State, TikTokConfig};
use super::{format_time, s, Call, Handled, Out};

/// At most this many (undeleted) ads in one ad group (WIRE-NOTES § Resource hierarchy: "Up to 20 ads per ad group").
pub const MAX_ADS_PER_ADGROUP: usize = 20;

// ---------------------------------------------------------------------------------------------------------------
// Shared pieces

fn param(msg: impl Into<String>) -> ApiError {
    ApiError::param(msg)
}

fn dec(m: &Map<String, Value>, k: &str) -> Option<Decimal> {
    s(m, k).and_then(|v| Decimal::from_str(v).ok())
}

fn truthy(m: &Map<String, Value>, k: &str) -> bool {
    m.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// Main-unit factor of a currency for the minimum budgets (USD-like currencies 1).
fn currency_factor(currency: &str) -> i64 {
    match currency {
        "JPY" => 100,
        "KRW" => 1_000,
        "IDR" => 10_000,
        "VND" => 20_000,
        "INR" | "PHP" | "THB" | "TWD" | "RUB" => 50,
        "CNY" | "HKD" | "SEK" | "NOK" | "DKK" | "MXN" | "ZAR" | "TRY" | "EGP" => 10,
        _ => 1,
    }
}

/// Minimum campaign budget (daily or total): 50 in USD-like currencies; ad group budgets: 20.
pub fn min_budget(currency: &str, campaign_level: bool) -> Decimal {
    Decimal::from(if campaign_level { 50 } else { 20 } * currency_factor(currency))
}

/// A budget or bid: positive, at most two decimals; a budget at least the currency's minimum.
fn check_money(field: &str, v: Decimal, min: Option<(Decimal, &str)>) -> Result<(), ApiError> {
    if v <= Decimal::ZERO {
        return Err(param(format!("{field}: Must be greater than 0.")));
    }
    if v.normalize().scale() > 2 {
        return Err(param(format!("{field}: At most two decimal places are allowed.")));
    }
    if let Some((min, currency)) = min {
        if v < min {
            return Err(param(format!("{field}: The budget must be at least {min} {currency}.")));
        }
    }
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS` (UTC+0) to milliseconds.
fn parse_time(field: &str, v: &str) -> Result<i64, ApiError> {
    NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S")
        .map(|t| Utc.from_utc_datetime(&t).timestamp_millis())
        .map_err(|_| {
            param(format!(
                "{field}: Not a valid time: use \"YYYY-MM-DD HH:MM:SS\" (UTC+0)."
            ))
        })
}

fn is_deleted(st: &State, o: &Obj) -> bool {
    o.deleted
        || o.campaign_id
            .as_ref()
            .and_then(|id| st.objects.get(id))
            .is_some_and(|c| c.deleted)
        || o.adgroup_id
            .as_ref()
            .and_then(|id| st.objects.get(id))
            .is_some_and(|g| g.deleted)
}

/// An ad's review: None while pending.
pub fn review_outcome(o: &Obj, cfg: &TikTokConfig, now: i64) -> Option<Outcome> {
    let Some(r) = &o.review else {
        return Some(Outcome::Approved);
    };
    if let Some(f) = r.forced {
        return Some(f);
    }
    if now - r.started_ms < cfg.review_delay.as_millis() as i64 {
        return None;
    }
    let trigger = cfg.disapprove_trigger.to_lowercase();
    let hit = !trigger.is_empty()
        && ["ad_name", "ad_text", "display_name"]
            .iter()
            .any(|k| s(&o.fields, k).is_some_and(|t| t.to_lowercase().contains(&trigger)));
    Some(if hit { Outcome::Rejected } else { Outcome::Approved })
}

/// primary_status and secondary_status as a read shows them.
pub fn statuses(st: &State, o: &Obj, cfg: &TikTokConfig, now: i64) -> (String, String) {
    let p = o.kind.status_prefix();
    let parent = |id: &Option<String>| id.as_ref().and_then(|i| st.objects.get(i));
    let (primary, secondary) = if o.deleted {
        ("STATUS_DELETE", format!("{p}DELETE"))
    } else if parent(&o.campaign_id).is_some_and(|c| c.deleted) {
        ("STATUS_DELETE", format!("{p}CAMPAIGN_DELETE"))
    } else if parent(&o.adgroup_id).is_some_and(|g| g.deleted) {
        ("STATUS_DELETE", format!("{p}ADGROUP_DELETE"))
    } else if o.operation_status == "DISABLE" {
        ("STATUS_DISABLE", format!("{p}DISABLE"))
    } else if parent(&o.campaign_id).is_some_and(|c| c.operation_status == "DISABLE") {
        ("STATUS_NOT_DELIVERY", format!("{p}CAMPAIGN_DISABLE"))
    } else if parent(&o.adgroup_id).is_some_and(|g| g.operation_status == "DISABLE") {
        ("STATUS_NOT_DELIVERY", format!("{p}ADGROUP_DISABLE"))
    } else if o.kind == Kind::Campaign {
        ("STATUS_DELIVERY_OK", format!("{p}ENABLE"))
    } else if o.kind == Kind::Ad && review_outcome(o, cfg, now).is_none() {
        ("STATUS_NOT_DELIVERY", format!("{p}AUDIT"))
    } else if o.kind == Kind::Ad && review_outcome(o, cfg, now) == Some(Outcome::Rejected) {
        ("STATUS_NOT_DELIVERY", format!("{p}AUDIT_DENY"))
    } else {
        let schedule = match o.kind {
            Kind::Adgroup => Some(o),
            _ => parent(&o.adgroup_id),
        };
        let start = schedule
            .and_then(|g| s(&g.fields, "schedule_start_time"))
            .and_then(|t| parse_time("", t).ok());
        let end = schedule
            .and_then(|g| s(&g.fields, "schedule_end_time"))
            .and_then(|t| parse_time("", t).ok());
        if start.is_some_and(|t| now < t) {
            ("STATUS_NOT_DELIVERY", format!("{p}NOT_START"))
        } else if end.is_some_and(|t| now > t) {
            (
                "STATUS_TIME_DONE",
                if o.kind == Kind::Ad {
                    format!("{p}DONE")
                } else {
                    format!("{p}TIME_DONE")
                },
            )
        } else {
            ("STATUS_DELIVERY_OK", format!("{p}DELIVERY_OK"))
        }
    };
    (primary.to_string(), secondary)
}

/// Fields a read shows when the object was written without them.
fn defaults(kind: Kind) -> Vec<(&'static str, Value)> {
    match kind {
        Kind::Campaign => vec![
            ("budget_mode", json!("BUDGET_MODE_INFINITE")),
            ("budget", json!("0.0")),
            ("budget_optimize_on", json!(false)),
            ("campaign_type", json!("REGULAR_CAMPAIGN")),
            ("special_industries", json!([])),
        ],
        Kind::Adgroup => vec![("placement_type", json!("PLACEMENT_TYPE_NORMAL"))],
        Kind::Ad => vec![],
    }
}

/// One object as reads (and create/update answers) show it.
pub fn row(st: &State, o: &Obj, cfg: &TikTokConfig, now: i64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("advertiser_id".into(), json!(o.advertiser_id));
    if let Some(c) = o.campaign_id.as_ref() {
        m.insert("campaign_id".into(), json!(c));
        if let Some(n) = st.objects.get(c).and_then(|c| s(&c.fields, "campaign_name")) {
            m.insert("campaign_name".into(), json!(n));
        }
    }
    if let Some(g) = o.adgroup_id.as_ref() {
        m.insert("adgroup_id".into(), json!(g));
        if let Some(n) = st.objects.get(g).and_then(|g| s(&g.fields, "adgroup_name")) {
            m.insert("adgroup_name".into(), json!(n));
        }
    }
    m.insert(format!("{}_id", o.kind.key()), json!(o.id));
    for (k, v) in &o.fields {
        m.insert(k.clone(), v.clone());
    }
    for (k, v) in defaults(o.kind) {
        if !m.contains_key(k) {
            m.insert(k.to_string(), v);
        }
    }
    let (primary, secondary) = statuses(st, o, cfg, now);
    m.insert("operation_status".into(), json!(o.operation_status));
    m.insert("primary_status".into(), json!(primary));
    m.insert("secondary_status".into(), json!(secondary));
    m.insert("create_time".into(), json!(format_time(o.created_ms)));
    m.insert("modify_time".into(), json!(format_time(o.modified_ms)));
    m
}

/// The names `fields=[…]` may select for a kind.
fn known_fields(kind: Kind) -> HashSet<String> {
    let models: &[&str] = match kind {
        Kind::Campaign => &["CampaignCreateBody", "CampaignUpdateBody"],
        Kind::Adgroup => &["AdgroupCreateBody", "AdgroupUpdateBody"],
        Kind::Ad => &["AdcreateCreatives", "AdupdateCreatives"],
    };
    let mut out: HashSet<String> = models
        .iter()
        .flat_map(|m| fields::model(m).keys().cloned())
        .filter(|k| k != "request_id")
        .collect();
    for k in [
        "advertiser_id",
        "campaign_id",
        "campaign_name",
        "adgroup_id",
        "adgroup_name",
        "ad_id",
        "operation_status",
        "primary_status",
        "secondary_status",
        "create_time",
        "modify_time",
        "objective_type",
    ] {
        out.insert(k.to_string());
    }
    out
}

/// The object as a read sees it: under read lag, the version before a write made less than `read_lag` ago (an
/// object created that recently is not seen at all).
fn view<'a>(o: &'a Obj, c: &Call) -> Option<&'a Obj> {
    if !c.read_lag || c.now - o.modified_ms >= c.cfg.read_lag.as_millis() as i64 {
        return Some(o);
    }
    o.prev.as_deref()
}

/// Look up an object of a kind in an advertiser: 40007 when it is not there.
fn find<'a>(st: &'a State, kind: Kind, advertiser: &str, id: &str) -> Result<&'a Obj, ApiError> {
    st.objects
        .get(id)
        .filter(|o| o.kind == kind && o.advertiser_id == advertiser)
        .ok_or_else(|| ApiError::not_found(kind.label(), id))
}

fn deleted_error(kind: Kind, id: &str) -> ApiError {
    param(format!(
        "{} {id} has been deleted: a deleted object cannot be modified.",
        kind.label()
    ))
}

/// The request_id of a create: the object an earlier create with it made.
fn idem_key(advertiser: &str, kind: Kind, request_id: &str) -> String {
    format!("{advertiser}|{}|{request_id}", kind.key())
}

fn stamp(o: &mut Obj, now: i64) {
    let mut prev = o.clone();
    prev.prev = None;
    o.prev = Some(Box::new(prev));
    o.modified_ms = now;
}

fn new_obj(st: &mut State, c: &Call, kind: Kind, advertiser: &str) -> Obj {
    Obj {
        id: st.new_id(c.cfg.seed),
        kind,
        advertiser_id: advertiser.to_string(),
        campaign_id: None,
        adgroup_id: None,
        fields: Map::new(),
        operation_status: "ENABLE".into(),
        deleted: false,
        created_ms: c.now,
        modified_ms: c.now,
        review: None,
        prev: None,
    }
}

/// A name already used by a live sibling (same advertiser for campaigns, same campaign for ad groups).
fn name_taken(
    st: &State,
    kind: Kind,
    advertiser: &str,
    parent: Option<&str>,
    name: &str,
    except: Option<&str>,
) -> bool {
    let key = format!("{}_name", kind.key());
    st.objects.values().any(|o| {
        o.kind == kind
            && o.advertiser_id == advertiser
            && Some(o.id.as_str()) != except
            && (kind != Kind::Adgroup || o.campaign_id.as_deref() == parent)
            && !is_deleted(st, o)
            && s(&o.fields, &key) == Some(name)
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Advertisers

/// `GET /advertiser/info/?advertiser_ids=["…"]&fields=[…]`.
pub fn advertiser_info(c: &Call, st: &mut State) -> Handled {
    let mut seen = HashSet::new();
    let mut ids: Option<Vec<String>> = None;
    let mut selected: Option<Vec<String>> = None;
    for (k, v) in &c.query {
        if !seen.insert(k.as_str()) {
            return Err(param(format!(
                "{k}: The parameter is repeated: send a list as one JSON-encoded string, e.g. [\"1\",\"2\"]."
            )));
        }
        let parsed = super::json::parse(v).map_err(|_| param(format!("{k}: Not a valid JSON string.")))?;
        let spec = fields::Spec {
            ty: "list[str]".into(),
            required: false,
            default: None,
            values: None,
            min_len: None,
            max_len: None,
            width: false,
            min_items: Some(1),
            max_items: if k == "advertiser_ids" { Some(100) } else { None },
            minimum: None,
            maximum: None,
            json: true,
        };
        let list: Vec<String> = match k.as_str() {
            "advertiser_ids" | "fields" => fields::check_value(k, &spec, &parsed, k)?
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
            _ => return Err(param(format!("{k}: Unknown field."))),
        };
        if k == "advertiser_ids" {
            ids = Some(list);
        } else {
            selected = Some(list);
        }
    }
    let ids = ids.ok_or_else(|| param("advertiser_ids: Missing data for required field."))?;
    let mut list = Vec::new();
    for id in ids {
        let a = c.advertiser(st, &id)?;
        let mut m = Map::new();
        m.insert("advertiser_id".into(), json!(a.advertiser_id));
        m.insert("name".into(), json!(a.name));
        m.insert("currency".into(), json!(a.currency));
        m.insert("timezone".into(), json!(a.timezone));
        m.insert("display_timezone".into(), json!(a.timezone));
        m.insert("status".into(), json!("STATUS_ENABLE"));
        m.insert("role".into(), json!("ROLE_ADVERTISER"));
        m.insert("balance".into(), json!("0.00"));
        m.insert("create_time".into(), json!(a.created_ms / 1000));
        if let Some(sel) = &selected {
            if let Some(bad) = sel.iter().find(|f| !m.contains_key(f.as_str())) {
                return Err(param(format!("fields: {bad} is not a field of an advertiser.")));
            }
            m.retain(|k, _| sel.iter().any(|f| f == k));
        }
        list.push(Value::Object(m));
    }
    Ok(Out::ok(json!({ "list": list }), 0))
}

// ---------------------------------------------------------------------------------------------------------------
// Campaigns

fn check_campaign_budget(
    mode: &str,
    budget: Option<Decimal>,
    cbo: bool,
    objective: &str,
    currency: &str,
) -> Result<(), ApiError> {
    if cbo && mode != "BUDGET_MODE_DAY" {
        return Err(param(
            "budget_mode: Only BUDGET_MODE_DAY is supported when Campaign Budget Optimization (budget_optimize_on) is on.",
        ));
    }
    if objective == "RF_REACH" && mode != "BUDGET_MODE_INFINITE" {
        return Err(param(
            "budget_mode: Only BUDGET_MODE_INFINITE is supported when objective_type is RF_REACH.",
        ));
    }
    match (mode, budget) {
        ("BUDGET_MODE_INFINITE", Some(_)) => Err(param(
            "budget: A campaign with budget_mode BUDGET_MODE_INFINITE has no budget.",
        )),
        ("BUDGET_MODE_INFINITE", None) => Ok(()),
        (_, None) => Err(param(format!(
            "budget: Missing data for required field (budget_mode is {mode})."
        ))),
        (_, Some(b)) => check_money("budget", b, Some((min_budget(currency, true), currency))),
    }
}

/// `POST /campaign/create/`.
pub fn campaign_create(c: &Call, st: &mut State) -> Handled {
    let (_, f) = c.checked_body("CampaignCreateBody")?;
    let adv = c.advertiser(st, s(&f, "advertiser_id").unwrap_or_default())?;
    let request_id = s(&f, "request_id").map(str::to_string);
    if let Some(rid) = &request_id {
        if let Some(o) = st
            .idempotency
            .get(&idem_key(&adv.advertiser_id, Kind::Campaign, rid))
            .and_then(|id| st.objects.get(id))
        {
            return Ok(Out::ok(Value::Object(row(st, o, &c.cfg, c.now)), 0));
        }
    }
    let cbo = truthy(&f, "budget_optimize_on");
    let objective = s(&f, "objective_type").unwrap_or_default();
    let mode = match (s(&f, "budget_mode"), f.contains_key("budget")) {
        (Some(m), _) => m,
        (None, true) => {
            return Err(param(
                "budget_mode: Missing data for required field (a budget needs its budget_mode).",
            ))
        }
        (None, false) if cbo => {
            return Err(param(
                "budget_mode: Only BUDGET_MODE_DAY is supported when Campaign Budget Optimization (budget_optimize_on) is on.",
            ))
        }
        (None, false) => "BUDGET_MODE_INFINITE",
    }
    .to_string();
    let mode = mode.as_str();
    check_campaign_budget(mode, dec(&f, "budget"), cbo, objective, &adv.currency)?;
    if cbo && !f.contains_key("optimization_goal") {
        return Err(param(
            "optimization_goal: Missing data for required field (required when budget_optimize_on is true).",
        ));
    }
    let name = s(&f, "campaign_name").unwrap_or_default().to_string();
    let name = name.as_str();
    if request_id.is_none() && name_taken(st, Kind::Campaign, &adv.advertiser_id, None, name, None) {
        return Err(param(format!(
            "campaign_name: A campaign named {name:?} already exists in this advertiser (send a request_id to create one with a duplicate name)."
        )));
    }
    let mut o = new_obj(st, c, Kind::Campaign, &adv.advertiser_id);
    o.operation_status = s(&f, "operation_status").unwrap_or("ENABLE").to_string();
    for (k, v) in f {
        if !matches!(k.as_str(), "advertiser_id" | "request_id" | "operation_status") {
            o.fields.insert(k, v);
        }
    }
    o.fields.entry("budget_mode".to_string()).or_insert_with(|| json!(mode));
    let id = o.id.clone();
    st.objects.insert(id.clone(), o);
    if let Some(rid) = request_id {
        st.idempotency
            .insert(idem_key(&adv.advertiser_id, Kind::Campaign, &rid), id.clone());
    }
    let o = &st.objects[&id];
    Ok(Out::ok(Value::Object(row(st, o, &c.cfg, c.now)), 1))
}

/// `POST /campaign/update/`.
pub fn campaign_update(c: &Call, st: &mut State) -> Handled {
    let body = c.body()?;
    for fixed in ["budget_mode", "objective_type"] {
        if body.get(fixed).is_some() {
            return Err(param(format!(
                "{fixed}: This field cannot be changed after the campaign is created."
            )));
        }
    }
    let (_, f) = c.checked_body("CampaignUpdateBody")?;
    let adv = c.advertiser(st, s(&f, "advertiser_id").unwrap_or_default())?;
    let id = s(&f, "campaign_id").unwrap_or_default().to_string();
    let o = find(st, Kind::Campaign, &adv.advertiser_id, &id)?;
    if is_deleted(st, o) {
        return Err(deleted_error(Kind::Campaign, &id));
    }
    let mode = s(&o.fields, "budget_mode")
        .unwrap_or("BUDGET_MODE_INFINITE")
        .to_string();
    if let Some(b) = dec(&f, "budget") {
        if mode == "BUDGET_MODE_INFINITE" {
            return Err(param(
                "budget: A campaign with budget_mode BUDGET_MODE_INFINITE has no budget.",
            ));
        }
        check_money("budget", b, Some((min_budget(&adv.currency, true), &adv.currency)))?;
    }
    if let Some(list) = f.get("special_industries").and_then(Value::as_array) {
        if !list.is_empty() {
            return Err(param(
                "special_industries: The only supported change is clearing the list (send []).",
            ));
        }
    }
    if let Some(name) = s(&f, "campaign_name") {
        if name_taken(st, Kind::Campaign, &adv.advertiser_id, None, name, Some(&id)) {
            return Err(param(format!(
                "campaign_name: A campaign named {name:?} already exists in this advertiser."
            )));
        }
    }
    let now = c.now;
    let Some(o) = st.objects.get_mut(&id) else {
        return Err(ApiError::not_found("Campaign", &id));
    };
    stamp(o, now);
    for (k, v) in f {
        if !matches!(k.as_str(), "advertiser_id" | "campaign_id") {
            o.fields.insert(k, v);
        }
    }
    let o = &st.objects[&id];
    Ok(Out::ok(Value::Object(row(st, o, &c.cfg, c.now)), 1))
}

// ---------------------------------------------------------------------------------------------------------------
// Status updates

fn status_update(c: &Call, st: &mut State, kind: Kind, model: &str) -> Handled {
    let (_, f) = c.checked_body(model)?;
    let adv = c.advertiser(st, s(&f, "advertiser_id").unwrap_or_default())?;
    let ids_key = format!("{}_ids", kind.key());
    let ids: Vec<String> = match f.get(&ids_key).or_else(|| f.get("aco_ad_ids")) {
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => return Err(param(format!("{ids_key}: Missing data for required field."))),
    };
    let op = s(&f, "operation_status").unwrap_or_default().to_string();
    let partial = kind == Kind::Adgroup && truthy(&f, "allow_partial_success");
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for id in &ids {
        let check = find(st, kind, &adv.advertiser_id, id).and_then(|o| {
            if is_deleted(st, o) {
                Err(deleted_error(kind, id))
            } else {
                Ok(())
            }
        });
        match check {
            Ok(()) => ok.push(id.clone()),
            Err(e) if partial => failed.push((id.clone(), e)),
            Err(e) => return Err(e),
        }
    }
    if ok.is_empty() {
        if let Some((_, e)) = failed.first() {
            return Err(e.clone());
        }
    }
    for id in &ok {
        if let Some(o) = st.objects.get_mut(id) {
            stamp(o, c.now);
            if op == "DELETE" {
                o.deleted = true;
            } else {
                o.operation_status = op.clone();
            }
        }
    }
    let mut data = json!({ ids_key: ok, "status": op });
    let ops = ids.len() as u64;
    if failed.is_empty() {
        return Ok(Out::ok(data, ops));
    }
    data["errors"] = Value::Array(
        failed
            .iter()
            .map(|(id, e)| json!({ "adgroup_id": id, "code": e.code, "message": e.message }))
            .collect(),
    );
    Ok(Out {
        code: error::PARTIAL_SUCCESS,
        message: "Partial success: some ad groups could not be updated (see data.errors).".into(),
        data,
        ops,
    })
}

pub fn campaign_status(c: &Call, st: &mut State) -> Handled {
    status_update(c, st, Kind::Campaign, "CampaignStatusUpdateBody")
}
pub fn adgroup_status(c: &Call, st: &mut State) -> Handled {
    status_update(c, st, Kind::Adgroup, "AdgroupStatusUpdateBody")
}
pub fn ad_status(c: &Call, st: &mut State) -> Handled {
    status_update(c, st, Kind::Ad, "AdStatusUpdateBody")
}

// ---------------------------------------------------------------------------------------------------------------
// Reads

fn get_objects(c: &Call, st: &mut State, kind: Kind, endpoint: &str) -> Handled {
    let q = c.checked_query(endpoint)?;
    let adv = c.advertiser(st, s(&q, "advertiser_id").unwrap_or_default())?;
    let page = q.get("page").and_then(Value::as_i64).unwrap_or(1);
    if page < 1 {
        return Err(param("page: Must be greater than or equal to 1."));
    }
    let page_size = q.get("page_size").and_then(Value::as_i64).unwrap_or(10);
    let empty = Map::new();
    let filter = q.get("filtering").and_then(Value::as_object).unwrap_or(&empty);
    let selected: Option<Vec<String>> = q
        .get("fields")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect());
    if let Some(sel) = &selected {
        let known = known_fields(kind);
        if let Some(bad) = sel.iter().find(|f| !known.contains(f.as_str())) {
            return Err(param(format!("fields: {bad} is not a field of this object.")));
        }
    }
    // the objects that match, then only the asked page rendered (rendering every row for every page made a read
    // of 78k ads quadratic)
    let mut hits = Vec::new();
    for o in st.objects.values() {
        if o.kind != kind || o.advertiser_id != adv.advertiser_id {
            continue;
        }
        let Some(o) = view(o, c) else { continue };
        if !matches(st, o, filter, &c.cfg, c.now) {
            continue;
        }
        hits.push(o);
    }
    let total = hits.len() as i64;
    let start = ((page - 1).saturating_mul(page_size)).clamp(0, total) as usize;
    let rows: Vec<Value> = hits
        .into_iter()
        .skip(start)
        .take(page_size.max(0) as usize)
        .map(|o| {
            let mut r = row(st, o, &c.cfg, c.now);
            if let Some(sel) = &selected {
                r.retain(|k, _| sel.iter().any(|f| f == k));
            }
            Value::Object(r)
        })
        .collect();
    Ok(Out::ok(page_of(rows, total, page, page_size), 0))
}

/// `data` of a paged list from one page's rows and the total.
pub fn page_of(list: Vec<Value>, total: i64, page: i64, page_size: i64) -> Value {
    let total_page = if total == 0 || page_size <= 0 {
        0
    } else {
        (total + page_size - 1) / page_size
    };
    json!({
        "list": list,
        "page_info": {"page": page, "page_size": page_size, "total_number": total, "total_page": total_page},
    })
}

/// `data` of a paged list: `list` and `page_info`.
pub fn paged(rows: Vec<Value>, page: i64, page_size: i64) -> Value {
    let total = rows.len() as i64;
    let start = ((page - 1) * page_size).min(total) as usize;
    let list: Vec<Value> = rows.into_iter().skip(start).take(page_size as usize).collect();
    let total_page = if total == 0 {
        0
    } else {
        (total + page_size - 1) / page_size
    };
    json!({
        "list": list,
        "page_info": {"page": page, "page_size": page_size, "total_number": total, "total_page": total_page},
    })
}

fn ids_in(filter: &Map<String, Value>, key: &str) -> Option<Vec<String>> {
    filter
        .get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
}

fn matches(st: &State, o: &Obj, filter: &Map<String, Value>, cfg: &TikTokConfig, now: i64) -> bool {
    let deleted = is_deleted(st, o);
    // the statuses (review outcome, schedule) only when a filter asks for one: a page of a listing is filtered
    // from every object of its kind, and computing them for each made a read of 78k ads minutes long
    let statuses = || statuses(st, o, cfg, now);
    let sec_filter = s(filter, "secondary_status");
    let prim_filter = s(filter, "primary_status").or(if sec_filter.is_some() {
        None
    } else {
        Some("STATUS_NOT_DELETE")
    });
    let ok_prim = match prim_filter {
        None | Some("STATUS_ALL") => true,
        Some("STATUS_NOT_DELETE") => !deleted,
        Some("STATUS_DELETE") => deleted,
        Some(p) => statuses().0 == p,
    };
    let ok_sec = match sec_filter {
        None => true,
        Some(x) if x.ends_with("_STATUS_ALL") => true,
        Some(x) if x.ends_with("_STATUS_NOT_DELETE") => !deleted,
        Some(x) if x == "STATUS_DELETE" || x.ends_with("_STATUS_DELETE") => deleted,
        Some(x) => statuses().1 == x,
    };
    if !ok_prim || !ok_sec {
        return false;
    }
    let campaign = match o.kind {
        Kind::Campaign => Some(o),
        _ => o.campaign_id.as_ref().and_then(|id| st.objects.get(id)),
    };
    let adgroup = match o.kind {
        Kind::Adgroup => Some(o),
        _ => o.adgroup_id.as_ref().and_then(|id| st.objects.get(id)),
    };
    let in_list =
        |key: &str, id: Option<&str>| ids_in(filter, key).is_none_or(|l| id.is_some_and(|i| l.iter().any(|x| x == i)));
    if !in_list("campaign_ids", campaign.map(|c| c.id.as_str()))
        || !in_list("adgroup_ids", adgroup.map(|g| g.id.as_str()))
        || (o.kind == Kind::Ad && !in_list("ad_ids", Some(o.id.as_str())))
    {
        return false;
    }
    let name_key = format!("{}_name", o.kind.key());
    if let Some(n) = s(filter, &name_key) {
        if !s(&o.fields, &name_key).is_some_and(|x| x.contains(n)) {
            return false;
        }
    }
    if let Some(obj) = s(filter, "objective_type") {
        if campaign.and_then(|c| s(&c.fields, "objective_type")) != Some(obj) {
            return false;
        }
    }
    if let Some(t) = s(filter, "campaign_type") {
        if campaign.map(|c| s(&c.fields, "campaign_type").unwrap_or("REGULAR_CAMPAIGN")) != Some(t) {
            return false;
        }
    }
    if let Some(goal) = s(filter, "optimization_goal") {
        if adgroup.and_then(|g| s(&g.fields, "optimization_goal")) != Some(goal) {
            return false;
        }
    }
    if let Some(events) = ids_in(filter, "billing_events") {
        if !adgroup
            .and_then(|g| s(&g.fields, "billing_event"))
            .is_some_and(|e| events.iter().any(|x| x == e))
        {
            return false;
        }
    }
    let time = |k: &str| s(filter, k).and_then(|t| parse_time(k, t).ok());
    if time("creation_filter_start_time").is_some_and(|t| o.created_ms < t)
        || time("creation_filter_end_time").is_some_and(|t| o.created_ms > t)
        || time("modified_after").is_some_and(|t| o.modified_ms <= t)
    {
        return false;
    }
    true
}

pub fn campaign_get(c: &Call, st: &mut State) -> Handled {
    get_objects(c, st, Kind::Campaign, "campaign_get")
}
pub fn adgroup_get(c: &Call, st: &mut State) -> Handled {
    get_objects(c, st, Kind::Adgroup, "adgroup_get")
}
pub fn ad_get(c: &Call, st: &mut State) -> Handled {
    get_objects(c, st, Kind::Ad, "ad_get")
}

// ---------------------------------------------------------------------------------------------------------------
// Ad groups

/// The rules of an ad group's settings as they would stand after a create or update (`m`: all its fields).
fn check_adgroup(
    c: &Call,
    st: &State,
    campaign: &Obj,
    m: &Map<String, Value>,
    currency: &str,
    changed: &Map<String, Value>,
) -> Result<(), ApiError> {
    let cbo = truthy(&campaign.fields, "budget_optimize_on");
    if cbo {
        if !m.contains_key("bid_type") {
            return Err(param(
                "bid_type: Missing data for required field (required when the campaign has budget_optimize_on).",
            ));
        }
    } else {
        let Some(mode) = s(m, "budget_mode") else {
            return Err(param("budget_mode: Missing data for required field."));
        };
        if mode == "BUDGET_MODE_INFINITE" {
            return Err(param(
                "budget_mode: Must be one of: BUDGET_MODE_TOTAL, BUDGET_MODE_DAY, BUDGET_MODE_DYNAMIC_DAILY_BUDGET (without Campaign Budget Optimization).",
            ));
        }
        let Some(b) = dec(m, "budget") else {
            return Err(param("budget: Missing data for required field."));
        };
        if changed.contains_key("budget") {
            check_money("budget", b, Some((min_budget(currency, false), currency)))?;
        }
        if !m.contains_key("pacing") {
            return Err(param("pacing: Missing data for required field."));
        }
        if mode == "BUDGET_MODE_TOTAL" && s(m, "schedule_type") != Some("SCHEDULE_START_END") {
            return Err(param(
                "schedule_type: Must be SCHEDULE_START_END when budget_mode is BUDGET_MODE_TOTAL.",
            ));
        }
        if mode == "BUDGET_MODE_DYNAMIC_DAILY_BUDGET" {
            let objective = s(&campaign.fields, "objective_type").unwrap_or_default();
            if !matches!(
                objective,
                "TRAFFIC" | "APP_PROMOTION" | "WEB_CONVERSIONS" | "LEAD_GENERATION" | "PRODUCT_SALES"
            ) {
                return Err(param(format!(
                    "budget_mode: BUDGET_MODE_DYNAMIC_DAILY_BUDGET does not support objective_type {objective}."
                )));
            }
        }
    }
    // schedule
    let start = match s(m, "schedule_start_time") {
        Some(t) => parse_time("schedule_start_time", t)?,
        None => return Err(param("schedule_start_time: Missing data for required field.")),
    };
    if changed.contains_key("schedule_start_time") && start < c.now - 12 * 3600 * 1000 {
        return Err(param(
            "schedule_start_time: The start time can be at most 12 hours earlier than the current time (UTC+0).",
        ));
    }
    if s(m, "schedule_type") == Some("SCHEDULE_START_END") || s(m, "budget_mode") == Some("BUDGET_MODE_TOTAL") {
        let Some(end) = s(m, "schedule_end_time") else {
            return Err(param(
                "schedule_end_time: Missing data for required field (schedule_type SCHEDULE_START_END or budget_mode BUDGET_MODE_TOTAL).",
            ));
        };
        if parse_time("schedule_end_time", end)? <= start {
            return Err(param(
                "schedule_end_time: The end time must be later than the start time.",
            ));
        }
    } else if let Some(end) = s(m, "schedule_end_time") {
        parse_time("schedule_end_time", end)?;
    }
    if let Some(d) = s(m, "dayparting") {
        if d.len() != 336 || !d.bytes().all(|b| b == b'0' || b == b'1') {
            return Err(param(
                "dayparting: Must be 336 characters of 0 and 1 (48 half-hours a day, Monday to Sunday).",
            ));
        }
    }
    // bidding
    let bid_type = s(m, "bid_type");
    if m.contains_key("bid_price") && bid_type != Some("BID_TYPE_CUSTOM") {
        return Err(param("bid_price: A bid_price needs bid_type BID_TYPE_CUSTOM."));
    }
    if bid_type == Some("BID_TYPE_CUSTOM") && !m.contains_key("bid_price") && !m.contains_key("conversion_bid_price") {
        return Err(param(
            "bid_price: Missing data for required field (bid_type is BID_TYPE_CUSTOM).",
        ));
    }
    if let Some(bid) = dec(m, "bid_price") {
        check_money("bid_price", bid, None)?;
        let campaign_budget = match s(&campaign.fields, "budget_mode") {
            Some("BUDGET_MODE_INFINITE") | None => None,
            _ => dec(&campaign.fields, "budget"),
        };
        let own = if cbo { None } else { dec(m, "budget") };
        for (what, b) in [("the ad group budget", own), ("the campaign budget", campaign_budget)] {
            if b.is_some_and(|b| bid >= b) {
                return Err(param(format!("bid_price: The bid must be lower than {what}.")));
            }
        }
    }
    // audiences
    for key in ["audience_ids", "excluded_audience_ids"] {
        for id in ids_in(m, key).unwrap_or_default() {
            if !st
                .audiences
                .get(&id)
                .is_some_and(|a| a.advertiser_id == campaign.advertiser_id && !a.deleted)
            {
                return Err(ApiError::not_found("Custom audience", &id));
            }
        }
    }
    Ok(())
}

const CONDITIONAL_ADGROUP: &[&str] = &["budget", "budget_mode", "pacing"];

/// `POST /adgroup/create/`.
pub fn adgroup_create(c: &Call, st: &mut State) -> Handled {
    let (_, f) = c.checked_body_except("AdgroupCreateBody", CONDITIONAL_ADGROUP)?;
    let adv = c.advertiser(st, s(&f, "advertiser_id").unwrap_or_default())?;
    let request_id = s(&f, "request_id").map(str::to_string);
    if let Some(rid) = &request_id {
        if let Some(o) = st
            .idempotency
            .get(&idem_key(&adv.advertiser_id, Kind::Adgroup, rid))
            .and_then(|id| st.objects.get(id))
        {
            return Ok(Out::ok(Value::Object(row(st, o, &c.cfg, c.now)), 0));
        }
    }
    let campaign_id = s(&f, "campaign_id").unwrap_or_default().to_string();
    let campaign = find(st, Kind::Campaign, &adv.advertiser_id, &campaign_id)?;
    if is_deleted(st, campaign) {
        return Err(deleted_error(Kind::Campaign, &campaign_id));
    }
    let mut m = f.clone();
    for k in ["advertiser_id", "request_id", "operation_status", "campaign_id"] {
        m.remove(k);
    }
    let cbo = truthy(&campaign.fields, "budget_optimize_on");
    if cbo {
        // ignored under Campaign Budget Optimization
        m.remove("budget");
        m.insert("budget_mode".into(), json!("BUDGET_MODE_INFINITE"));
        m.insert("pacing".into(), json!("PACING_MODE_SMOOTH"));
    }
    if s(&m, "schedule_type") == Some("SCHEDULE_FROM_NOW") {
        if let Some(start) = s(&m, "schedule_start_time").and_then(|t| parse_time("schedule_start_time", t).ok()) {
            let end = chrono::DateTime::from_timestamp_millis(start)
                .and_then(|t| t.checked_add_months(chrono::Months::new(120)))
                .map(|t| t.timestamp_millis())
                .unwrap_or(start);
            m.insert("schedule_end_time".into(), json!(format_time(end)));
        }
    }
    check_adgroup(c, st, campaign, &m, &adv.currency, &f)?;
    let name = s(&m, "adgroup_name").unwrap_or_default().to_string();
    if request_id.is_none() && name_taken(st, Kind::Adgroup, &adv.advertiser_id, Some(&campaign_id), &name, None) {
        return Err(param(format!(
            "adgroup_name: An ad group named {name:?} already exists in this campaign (send a request_id to create one with a duplicate name)."
        )));
    }
    let mut o = new_obj(st, c, Kind::Adgroup, &adv.advertiser_id);
    o.campaign_id = Some(campaign_id);
    o.operation_status = s(&f, "operation_status").unwrap_or("ENABLE").to_string();
    o.fields = m;
    let id = o.id.clone();
    st.objects.insert(id.clone(), o);
    if let Some(rid) = request_id {
        st.idempotency
            .insert(idem_key(&adv.advertiser_id, Kind::Adgroup, &rid), id.clone());
    }
    let o = &st.objects[&id];
    Ok(Out::ok(Value::Object(row(st, o, &c.cfg, c.now)), 1))
}

/// `POST /adgroup/update/`.
pub fn adgroup_update(c: &Call, st: &mut State) -> Handled {
    let body = c.body()?;
    for fixed in ["budget_mode", "campaign_id"] {
        if body.get(fixed).is_some() {
            return Err(param(format!(
                "{fixed}: This field cannot be changed after the ad group is created."
            )));
        }
    }
    let (_, f) = c.checked_body("AdgroupUpdateBody")?;
    let adv = c.advertiser(st, s(&f, "advertiser_id").unwrap_or_default())?;
    let id = s(&f, "adgroup_id").unwrap_or_default().to_string();
    let o = find(st, Kind::Adgroup, &adv.advertiser_id, &id)?;
    if is_deleted(st, o) {
        return Err(deleted_error(Kind::Adgroup, &id));
    }
    let campaign_id = o.campaign_id.clone().unwrap_or_default();
    let campaign = find(st, Kind::Campaign, &adv.advertiser_id, &campaign_id)?;
    let cbo = truthy(&campaign.fields, "budget_optimize_on");
    let mut changed = f.clone();
    changed.remove("advertiser_id");
    changed.remove("adgroup_id");
    if cbo {
        changed.remove("budget");
        changed.remove("pacing");
    }
    let mut merged = o.fields.clone();
    for (k, v) in &changed {
        merged.insert(k.clone(), v.clone());
    }
    check_adgroup(c, st, campaign, &merged, &adv.currency, &changed)?;
    if let Some(name) = s(&changed, "adgroup_name") {
        if name_taken(
            st,
            Kind::Adgroup,
            &adv.advertiser_id,
            Some(&campaign_id),
            name,
            Some(&id),
        ) {
            return Err(param(format!(
                "adgroup_name: An ad group named {name:?} already exists in this campaign."
            )));
        }
    }
    let now = c.now;
    let Some(o) = st.objects.get_mut(&id) else {
        return Err(ApiError::not_found("Ad group", &id));
    };
    stamp(o, now);
    o.fields = merged;
    let o = &st.objects[&id];
    Ok(Out::ok(Value::Object(row(st, o, &c.cfg, c.now)), 1))
}

// ---------------------------------------------------------------------------------------------------------------
// Ads

/// The fields a creative must have (after auto-naming).
fn check_creative(m: &Map<String, Value>, at: &str) -> Result<(), ApiError> {
    let spark = m.contains_key("tiktok_item_id");
    let need = |k: &str, why: &str| -> Result<(), ApiError> {
        if m.contains_key(k) {
            Ok(())
        } else {
            Err(param(format!("{at}{k}: Missing data for required field{why}.")))
        }
    };
    need("ad_format", "")?;
    need("identity_type", "")?;
    need("identity_id", "")?;
    if !spark {
        need("ad_text", "")?;
    }
    match s(m, "ad_format") {
        Some("SINGLE_VIDEO") if !spark => need("video_id", " (ad_format is SINGLE_VIDEO)")?,
        Some("SINGLE_IMAGE") => need("image_ids", " (ad_format is SINGLE_IMAGE)")?,
        _ => {}
    }
    Ok(())
}

fn live_ads_in(st: &State, adgroup: &str) -> usize {
    st.objects
        .values()
        .filter(|o| o.kind == Kind::Ad && o.adgroup_id.as_deref() == Some(adgroup) && !o.deleted)
        .count()
}

fn auto_name(m: &mut Map<String, Value>, now: i64) {
    let blank = s(m, "ad_name").is_none_or(|n| n.trim().is_empty());
    if blank {
        let stamp = chrono::DateTime::from_timestamp_millis(now)
            .map(|t| t.format("%Y%m%d%H%M%S").to_string())
            .unwrap_or_default();
        m.insert("ad_name".into(), json!(format!("adcreative{stamp}")));
    }
}

/// `POST /ad/create/`: one ad per element of `creatives`.
pub fn ad_create(c: &Call, st: &mut State) -> Handled {
    let (_, f) = c.checked_body("AdCreateBody")?;
    let adv = c.advertiser(st, s(&f, "advertiser_id").unwrap_or_default())?;
    let adgroup_id = s(&f, "adgroup_id").unwrap_or_default().to_string();
    let g = find(st, Kind::Adgroup, &adv.advertiser_id, &adgroup_id)?;
    if is_deleted(st, g) {
        return Err(deleted_error(Kind::Adgroup, &adgroup_id));
    }
    let campaign_id = g.campaign_id.clone();
    let creatives: Vec<Map<String, Value>> = f
        .get("creatives")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_object().cloned()).collect())
        .unwrap_or_default();
    if creatives.is_empty() {
        return Err(param("creatives: Shorter than minimum length 1."));
    }
    let live = live_ads_in(st, &adgroup_id);
    if live + creatives.len() > MAX_ADS_PER_ADGROUP {
        return Err(ApiError::new(
            error::MAX_ADS,
            format!(
                "The ad group {adgroup_id} already has {live} ads: an ad group holds at most {MAX_ADS_PER_ADGROUP} ads."
            ),
        ));
    }
    let mut prepared = Vec::new();
    for (i, mut m) in creatives.into_iter().enumerate() {
        auto_name(&mut m, c.now);
        check_creative(&m, &format!("creatives[{i}]."))?;
        prepared.push(m);
    }
    let mut ids = Vec::new();
    for m in prepared {
        let mut o = new_obj(st, c, Kind::Ad, &adv.advertiser_id);
        o.campaign_id = campaign_id.clone();
        o.adgroup_id = Some(adgroup_id.clone());
        o.operation_status = s(&m, "operation_status").unwrap_or("ENABLE").to_string();
        o.fields = m;
        o.fields.remove("operation_status");
        o.review = Some(Review {
            started_ms: c.now,
            forced: None,
        });
        ids.push(o.id.clone());
        st.objects.insert(o.id.clone(), o);
    }
    let rows: Vec<Value> = ids
        .iter()
        .map(|id| Value::Object(row(st, &st.objects[id], &c.cfg, c.now)))
        .collect();
    let n = ids.len() as u64;
    Ok(Out::ok(json!({ "ad_ids": ids, "creatives": rows }), n))
}

/// `POST /ad/update/`: each creative names its ad_id; without `patch_update: true` the creative is replaced by
/// what is sent.
pub fn ad_update(c: &Call, st: &mut State) -> Handled {
    let (_, f) = c.checked_body("AdUpdateBody")?;
    let adv = c.advertiser(st, s(&f, "advertiser_id").unwrap_or_default())?;
    let adgroup_id = s(&f, "adgroup_id").unwrap_or_default().to_string();
    let g = find(st, Kind::Adgroup, &adv.advertiser_id, &adgroup_id)?;
    if is_deleted(st, g) {
        return Err(deleted_error(Kind::Adgroup, &adgroup_id));
    }
    let patch = truthy(&f, "patch_update");
    let creatives: Vec<Map<String, Value>> = f
        .get("creatives")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_object().cloned()).collect())
        .unwrap_or_default();
    if creatives.is_empty() {
        return Err(param("creatives: Shorter than minimum length 1."));
    }
    let mut planned = Vec::new();
    for (i, mut m) in creatives.into_iter().enumerate() {
        let at = format!("creatives[{i}].");
        let Some(id) = s(&m, "ad_id").map(str::to_string) else {
            return Err(param(format!("{at}ad_id: Missing data for required field.")));
        };
        let o = find(st, Kind::Ad, &adv.advertiser_id, &id)?;
        if o.adgroup_id.as_deref() != Some(adgroup_id.as_str()) {
            return Err(param(format!("{at}ad_id: Ad {id} is not in ad group {adgroup_id}.")));
        }
        if is_deleted(st, o) {
            return Err(deleted_error(Kind::Ad, &id));
        }
        m.remove("ad_id");
        let mut merged = if patch { o.fields.clone() } else { Map::new() };
        for (k, v) in m {
            merged.insert(k, v);
        }
        auto_name(&mut merged, c.now);
        check_creative(&merged, &at)?;
        let content_changed = merged
            .iter()
            .filter(|(k, _)| k.as_str() != "ad_name")
            .any(|(k, v)| o.fields.get(k) != Some(v))
            || o.fields.keys().any(|k| k != "ad_name" && !merged.contains_key(k));
        planned.push((id, merged, content_changed));
    }
    let mut ids = Vec::new();
    for (id, merged, content_changed) in planned {
        if let Some(o) = st.objects.get_mut(&id) {
            stamp(o, c.now);
            o.fields = merged;
            if content_changed {
                o.review = Some(Review {
                    started_ms: c.now,
                    forced: None,
                });
            }
        }
        ids.push(id);
    }
    let rows: Vec<Value> = ids
        .iter()
        .map(|id| Value::Object(row(st, &st.objects[id], &c.cfg, c.now)))
        .collect();
    let n = ids.len() as u64;
    Ok(Out::ok(json!({ "ad_ids": ids, "creatives": rows }), n))
}

/// Decimal places of a currency's amounts in reports (0 for currencies without minor units).
pub fn currency_minor(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "VND" | "IDR" | "CLP" | "ISK" | "HUF" | "PYG" | "UGX" => 0,
        _ => 2,
    }
}
