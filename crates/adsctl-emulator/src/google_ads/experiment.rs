//! Experiments (ExperimentService, ExperimentArmService): a base campaign, a treatment arm whose in-design
//! campaign carries the changed settings, the traffic split, dates; `:scheduleExperiment` and
//! `:promoteExperiment` (long-running operations), `:endExperiment`, `:graduateExperiment`. Every rule is a row of
//! `docs/wire-rules.md` (§ Experiments) with the v25 error it answers with.
//!
//! Readings chosen where the protos are silent (also in the table): an experiment has at most two arms (the
//! traffic split "must total 100 between the two trial arms"); the in-design campaign is made when the pair
//! (a control arm with its base campaign, a treatment arm) is complete, named base name + suffix, a copy of
//! the base campaign (same budget) with `experimentType: DRAFT`; scheduling turns it into the experiment
//! campaign (`EXPERIMENT`, listed in the treatment arm's `campaigns`); ending sets the end date to today and
//! the status to HALTED; promoting copies the experiment campaign's settings onto the base campaign.

use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use axum::response::{IntoResponse, Response};
use axum::Json;

use super::errors::{self, AdsError, Code, Status};
use super::mutate::{Loc, MutateCtx};
use super::resources::Res;
use super::store::{parse_rn, Customer};
use super::{parse_body, today, GState, Inner};

/// Experiment types whose campaigns must be of one advertising channel (the type's name says which).
fn channel_of(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "SEARCH_CUSTOM" | "SEARCH_AUTOMATED_BIDDING_STRATEGY" => "SEARCH",
        "DISPLAY_CUSTOM" | "DISPLAY_AUTOMATED_BIDDING_STRATEGY" => "DISPLAY",
        "YOUTUBE_CUSTOM" => "VIDEO",
        "HOTEL_CUSTOM" => "HOTEL",
        "SHOPPING_AUTOMATED_BIDDING_STRATEGY" => "SHOPPING",
        _ => return None,
    })
}

/// experiment_error.proto CANNOT_ENABLE_SYNC_FOR_UNSUPPORTED_EXPERIMENT_TYPE: "Supported experiment types:
/// SEARCH_CUSTOM, DISPLAY_CUSTOM, DISPLAY_AUTOMATED_BIDDING_STRATEGY, SEARCH_AUTOMATED_BIDDING_STRATEGY."
const SYNC_TYPES: &[&str] = &[
    "SEARCH_CUSTOM",
    "DISPLAY_CUSTOM",
    "DISPLAY_AUTOMATED_BIDDING_STRATEGY",
    "SEARCH_AUTOMATED_BIDDING_STRATEGY",
];

fn err(code: Code, msg: &str, loc: &Loc, path: &[&str]) -> Vec<AdsError> {
    let mut e = AdsError::new(code, msg).under(loc);
    for p in path {
        e = e.at(p, None);
    }
    vec![e]
}

fn date(v: &Value, field: &str) -> Option<NaiveDate> {
    v.get(field)
        .and_then(Value::as_str)
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
}

fn status(v: &Value) -> &str {
    v.get("status").and_then(Value::as_str).unwrap_or("SETUP")
}

/// The dates of an experiment being created or changed: well formed, not in the past, the start at most a year
/// ahead, the end not before the start.
fn check_dates(v: &Value, today: NaiveDate, loc: &Loc, what: &str, check_start: bool) -> Result<(), Vec<AdsError>> {
    for f in ["startDate", "endDate"] {
        if let Some(s) = v.get(f).and_then(Value::as_str) {
            if NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err() {
                let proto = if f == "startDate" { "start_date" } else { "end_date" };
                return Err(vec![AdsError::new(errors::INVALID_VALUE, "The field is not valid.")
                    .trigger(s.to_string())
                    .under(loc)
                    .at(what, None)
                    .at(proto, None)]);
            }
        }
    }
    let (start, end) = (date(v, "startDate"), date(v, "endDate"));
    if check_start {
        if let Some(s) = start {
            if s < today {
                return Err(err(
                    errors::EXP_START_DATE_IN_PAST,
                    "The start date of an experiment cannot be set in the past.",
                    loc,
                    &[what, "start_date"],
                ));
            }
            if s > today + chrono::Duration::days(365) {
                return Err(err(
                    errors::EXP_START_DATE_TOO_FAR_IN_FUTURE,
                    "The start date of an experiment is too far in the future.",
                    loc,
                    &[what, "start_date"],
                ));
            }
        }
    }
    if let Some(e) = end {
        if e < today {
            return Err(err(
                errors::EXP_END_DATE_IN_PAST,
                "The end date of an experiment cannot be set in the past.",
                loc,
                &[what, "end_date"],
            ));
        }
        if start.is_some_and(|s| e < s) {
            return Err(err(
                errors::EXP_END_DATE_BEFORE_START_DATE,
                "The end date of an experiment is before its start date.",
                loc,
                &[what, "end_date"],
            ));
        }
    }
    Ok(())
}

/// The status an advertiser may write: REMOVED only by a remove, GRADUATED only by `:graduateExperiment`.
fn check_written_status(s: &str, loc: &Loc, what: &str) -> Result<(), Vec<AdsError>> {
    let (code, msg) = match s {
        "REMOVED" => (
            errors::EXP_CANNOT_SET_STATUS_TO_REMOVED,
            "The status of an experiment cannot be set to REMOVED.",
        ),
        "GRADUATED" => (
            errors::EXP_CANNOT_SET_STATUS_TO_GRADUATED,
            "Clients must use the graduate action to graduate experiments.",
        ),
        _ => return Ok(()),
    };
    Err(err(code, msg, loc, &[what, "status"]))
}

pub fn check_create(ctx: &mut MutateCtx<'_>, m: &mut Map<String, Value>, loc: &Loc) -> Result<(), Vec<AdsError>> {
    for (f, proto) in [("name", "name"), ("type", "type")] {
        if m.get(f).is_none_or(|x| x.as_str() == Some("")) {
            return Err(err(
                errors::FIELD_REQUIRED,
                "The required field was not present.",
                loc,
                &["create", proto],
            ));
        }
    }
    match m.get("status").and_then(Value::as_str) {
        None | Some("SETUP") => {}
        Some(s) => {
            check_written_status(s, loc, "create")?;
            // "Initial status of the experiment": a new one starts in SETUP
            return Err(err(
                errors::EXP_INVALID_STATUS,
                "The status is invalid.",
                loc,
                &["create", "status"],
            ));
        }
    }
    let kind = m.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
    if m.get("syncEnabled").and_then(Value::as_bool) == Some(true) && !SYNC_TYPES.contains(&kind.as_str()) {
        return Err(err(
            errors::EXP_SYNC_UNSUPPORTED_TYPE,
            "Sync can only be enabled for supported experiment types.",
            loc,
            &["create", "sync_enabled"],
        ));
    }
    check_dates(&Value::Object(m.clone()), ctx.today, loc, "create", true)?;
    m.insert("status".into(), json!("SETUP"));
    m.insert("promoteStatus".into(), json!("NOT_STARTED"));
    Ok(())
}

pub fn check_update(ctx: &MutateCtx<'_>, old: &Value, new: &Value, mask: &str, loc: &Loc) -> Result<(), Vec<AdsError>> {
    let paths: Vec<&str> = mask.split(',').map(str::trim).collect();
    if paths.contains(&"status") {
        let to = status(new);
        check_written_status(to, loc, "update")?;
        // "HALTED: This status can be set from ENABLED status through API"; "INITIATED: This status can be set
        // from SETUP status through API" (reading chosen: `:scheduleExperiment` is how; a plain status write of
        // INITIATED is taken as the same transition without the fork, and refused).
        let from = status(old);
        let ok = to == from || (from == "ENABLED" && to == "HALTED");
        if !ok {
            return Err(err(
                errors::EXP_STATUS_TRANSITION_INVALID,
                "Invalid status transition.",
                loc,
                &["update", "status"],
            ));
        }
    }
    if paths.contains(&"startDate") && date(old, "startDate").is_some_and(|s| s <= ctx.today) && status(old) != "SETUP"
    {
        return Err(err(
            errors::EXP_START_DATE_ALREADY_PASSED,
            "The start date of an experiment cannot be modified if the existing start date has already passed.",
            loc,
            &["update", "start_date"],
        ));
    }
    if paths.contains(&"endDate") && date(old, "endDate").is_some_and(|e| e < ctx.today) {
        return Err(err(
            errors::EXP_END_DATE_IN_PAST,
            "The end date of an expired experiment cannot be modified.",
            loc,
            &["update", "end_date"],
        ));
    }
    if paths.iter().any(|p| *p == "startDate" || *p == "endDate") {
        check_dates(new, ctx.today, loc, "update", paths.contains(&"startDate"))?;
    }
    Ok(())
}

/// The arms of an experiment (resource name) and their values.
fn arms_of(cust: &Customer, experiment: &str) -> Vec<(String, Value)> {
    cust.table(Res::ExperimentArm)
        .map(|t| {
            t.iter()
                .filter(|(_, o)| o.v.get("experiment").and_then(Value::as_str) == Some(experiment))
                .map(|(k, o)| (k.clone(), o.v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn is_control(v: &Value) -> bool {
    v.get("control").and_then(Value::as_bool).unwrap_or(false)
}

fn split_of(v: &Value) -> i64 {
    match v.get("trafficSplit") {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn campaigns_of(v: &Value, field: &str) -> Vec<String> {
    v.get(field)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// An arm's create: its experiment in SETUP, a name, a split of 1–100, at most two arms and one control, the
/// control naming exactly one base campaign (enabled or paused, of the experiment type's channel, with its own
/// daily budget), the treatment naming none. Returns the arm's key `{experimentId}~{armId}`.
pub fn create_arm(ctx: &mut MutateCtx<'_>, m: &mut Map<String, Value>, loc: &Loc) -> Result<String, Vec<AdsError>> {
    for (f, proto) in [("experiment", "experiment"), ("name", "name")] {
        if m.get(f).is_none_or(|x| x.as_str() == Some("")) {
            return Err(err(
                errors::FIELD_REQUIRED,
                "The required field was not present.",
                loc,
                &["create", proto],
            ));
        }
    }
    let exp_rn = m
        .get("experiment")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let exp = ctx.live_ref(&exp_rn, Res::Experiment, "experiment", loc, "create")?;
    if status(&exp) != "SETUP" {
        return Err(err(
            errors::ARM_CANNOT_MODIFY_CAMPAIGN_IDS,
            "Cannot edit campaign ids in trial arms in non SETUP experiment.",
            loc,
            &["create", "experiment"],
        ));
    }
    let split = split_of(&Value::Object(m.clone()));
    if !(1..=100).contains(&split) {
        return Err(err(
            errors::EXP_INVALID_TRAFFIC_SPLIT,
            "Experiment arm contains invalid traffic split.",
            loc,
            &["create", "traffic_split"],
        ));
    }
    let arms = arms_of(ctx.cust, &exp_rn);
    if arms.len() >= 2 {
        return Err(err(
            errors::ARM_COUNT_LIMIT_EXCEEDED,
            "Number of experiment arms is above limit.",
            loc,
            &["create"],
        ));
    }
    let control = m.get("control").and_then(Value::as_bool).unwrap_or(false);
    if control && arms.iter().any(|(_, a)| is_control(a)) {
        return Err(err(
            errors::EXP_MULTIPLE_CONTROL_ARMS,
            "The experiment cannot have more than one control arm.",
            loc,
            &["create", "control"],
        ));
    }
    let campaigns = campaigns_of(&Value::Object(m.clone()), "campaigns");
    if campaigns.len() > 1 {
        return Err(err(
            errors::ARM_TOO_MANY_CAMPAIGNS,
            "Number of campaigns in the experiment arm is above limit.",
            loc,
            &["create", "campaigns"],
        ));
    }
    if !control && !campaigns.is_empty() {
        return Err(err(
            errors::ARM_CANNOT_SET_TREATMENT_CAMPAIGN,
            "Cannot set campaigns of treatment experiment arm.",
            loc,
            &["create", "campaigns"],
        ));
    }
    if control {
        let Some(base_rn) = campaigns.first() else {
            return Err(err(
                errors::FIELD_REQUIRED,
                "The required field was not present.",
                loc,
                &["create", "campaigns"],
            ));
        };
        check_base(ctx, &exp, base_rn, loc)?;
    }
    m.remove("inDesignCampaigns");
    let exp_id = exp_rn.rsplit('/').next().unwrap_or_default().to_string();
    Ok(format!("{exp_id}~{}", ctx.new_id()))
}

fn check_base(ctx: &MutateCtx<'_>, exp: &Value, base_rn: &str, loc: &Loc) -> Result<(), Vec<AdsError>> {
    let base = ctx.live_ref(base_rn, Res::Campaign, "campaigns", loc, "create")?;
    let at = |code: Code, msg: &str| {
        vec![AdsError::new(code, msg)
            .trigger(base_rn.to_string())
            .under(loc)
            .at("create", None)
            .at("campaigns", Some(0))]
    };
    if !matches!(base.get("status").and_then(Value::as_str), Some("ENABLED" | "PAUSED"))
        || base
            .get("experimentType")
            .and_then(Value::as_str)
            .is_some_and(|t| t != "BASE")
    {
        return Err(at(
            errors::ARM_INVALID_CAMPAIGN_STATUS,
            "Cannot add campaign with invalid status to the experiment arm.",
        ));
    }
    let kind = exp.get("type").and_then(Value::as_str).unwrap_or_default();
    let channel = base
        .get("advertisingChannelType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if channel_of(kind).is_some_and(|c| c != channel) {
        return Err(at(
            errors::EXP_INVALID_CAMPAIGN_CHANNEL_TYPE,
            "Experiment arm contains campaigns with invalid advertising channel type.",
        ));
    }
    let budget_rn = base.get("campaignBudget").and_then(Value::as_str).unwrap_or_default();
    if let Some((Res::CampaignBudget, b)) = ctx.cust.get_rn(budget_rn) {
        if b.v.get("explicitlyShared").and_then(Value::as_bool).unwrap_or(true) {
            return Err(at(
                errors::ARM_SHARED_BUDGET,
                "Cannot use shared budget on experiment's control campaign.",
            ));
        }
        if b.v.get("period").and_then(Value::as_str) == Some("CUSTOM_PERIOD") {
            return Err(at(
                errors::ARM_CUSTOM_BUDGET,
                "Cannot use custom budget on experiment's control campaigns.",
            ));
        }
    }
    if exp.get("suffix").and_then(Value::as_str).unwrap_or_default().is_empty() {
        return Err(at(
            errors::ARM_NO_SUFFIX,
            "Cannot modify the campaigns in the control arm if there is not a suffix set in the trial.",
        ));
    }
    Ok(())
}

/// Once an experiment has both arms: the splits total 100, and the treatment arm gets its in-design campaign (a
/// copy of the base campaign named base name + suffix).
pub fn after_arm_create(ctx: &mut MutateCtx<'_>, arm: &mut Value, loc: &Loc) -> Result<(), Vec<AdsError>> {
    let exp_rn = arm
        .get("experiment")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut arms = arms_of(ctx.cust, &exp_rn);
    let own = arm
        .get("resourceName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !arms.iter().any(|(k, _)| own.ends_with(&format!("/{k}"))) {
        let key = own.rsplit('/').next().unwrap_or_default().to_string();
        arms.push((key, arm.clone()));
    }
    if arms.len() < 2 {
        return Ok(());
    }
    if arms.iter().map(|(_, a)| split_of(a)).sum::<i64>() != 100 {
        return Err(err(
            errors::EXP_SPLIT_NOT_100,
            "The total traffic split of trial arms is not equal to 100.",
            loc,
            &["create", "traffic_split"],
        ));
    }
    let Some((_, control)) = arms.iter().find(|(_, a)| is_control(a)) else {
        return Ok(());
    };
    let Some((t_key, treatment)) = arms.iter().find(|(_, a)| !is_control(a)).cloned() else {
        return Ok(());
    };
    let Some(base_rn) = campaigns_of(control, "campaigns").into_iter().next() else {
        return Ok(());
    };
    let Some((Res::Campaign, base)) = ctx.cust.get_rn(&base_rn).map(|(r, o)| (r, o.v.clone())) else {
        return Ok(());
    };
    let suffix = ctx
        .cust
        .get_rn(&exp_rn)
        .and_then(|(_, o)| o.v.get("suffix").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    let name = format!(
        "{}{suffix}",
        base.get("name").and_then(Value::as_str).unwrap_or_default()
    );
    if ctx.cust.name_taken(Res::Campaign, "", &name).is_some() {
        return Err(vec![AdsError::new(
            errors::EXP_DUPLICATE_CAMPAIGN_NAME,
            "The experiment campaign name conflicts with a pre-existing campaign.",
        )
        .trigger(name)
        .under(loc)
        .at("create", None)]);
    }
    let id = ctx.new_id().to_string();
    let rn = ctx.rn(Res::Campaign, &id);
    let mut draft = base.clone();
    if let Some(d) = draft.as_object_mut() {
        d.insert("resourceName".into(), json!(rn));
        d.insert("id".into(), json!(id));
        d.insert("name".into(), json!(name));
        d.insert("experimentType".into(), json!("DRAFT"));
        d.insert("baseCampaign".into(), json!(base_rn));
        d.insert("status".into(), json!("ENABLED"));
        d.insert("servingStatus".into(), json!("NONE"));
    }
    ctx.force_put(Res::Campaign, &id, draft, "ADDED");
    let config = json!({
        "resourceName": ctx.rn(Res::ConversionGoalCampaignConfig, &id),
        "campaign": rn,
        "goalConfigLevel": "CUSTOMER",
    });
    ctx.force_put(Res::ConversionGoalCampaignConfig, &id, config, "ADDED");
    if own.ends_with(&format!("/{t_key}")) {
        // the arm being created is the treatment: it is stored with its in-design campaign
        arm["inDesignCampaigns"] = json!([rn]);
    } else {
        let mut t = treatment;
        t["inDesignCampaigns"] = json!([rn]);
        ctx.force_put(Res::ExperimentArm, &t_key, t, "CHANGED");
    }
    Ok(())
}

pub fn check_arm_update(ctx: &MutateCtx<'_>, old: &Value, mask: &str, loc: &Loc) -> Result<(), Vec<AdsError>> {
    let exp_rn = old.get("experiment").and_then(Value::as_str).unwrap_or_default();
    let started = ctx.cust.get_rn(exp_rn).is_none_or(|(_, o)| status(&o.v) != "SETUP");
    let paths: Vec<&str> = mask.split(',').map(str::trim).collect();
    if started && paths.contains(&"trafficSplit") {
        return Err(err(
            errors::ARM_TRAFFIC_SPLIT_AFTER_START,
            "Traffic split related settings can't be modified after the trial has started.",
            loc,
            &["update", "traffic_split"],
        ));
    }
    if started && paths.contains(&"campaigns") {
        return Err(err(
            errors::ARM_CANNOT_MODIFY_CAMPAIGN_IDS,
            "Cannot edit campaign ids in trial arms in non SETUP experiment.",
            loc,
            &["update", "campaigns"],
        ));
    }
    Ok(())
}

/// The campaigns an experiment made (in-design or experiment campaigns of its treatment arm).
fn trial_campaigns(cust: &Customer, exp_rn: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (_, a) in arms_of(cust, exp_rn) {
        if !is_control(&a) {
            out.extend(campaigns_of(&a, "inDesignCampaigns"));
        }
    }
    out
}

/// A removal: not while the experiment's campaigns are being made (INITIATED); its trial campaigns go with it
/// (reading chosen).
pub fn before_remove(ctx: &mut MutateCtx<'_>, old: &Value, loc: &Loc) -> Result<(), Vec<AdsError>> {
    if status(old) == "INITIATED" {
        return Err(err(
            errors::EXP_CANNOT_REMOVE_IN_CREATION,
            "Cannot remove in creation experiments.",
            loc,
            &["remove"],
        ));
    }
    let rn = old.get("resourceName").and_then(Value::as_str).unwrap_or_default();
    remove_trials(ctx, rn);
    Ok(())
}

fn remove_trials(ctx: &mut MutateCtx<'_>, exp_rn: &str) {
    let cid = ctx.cust.info.id.clone();
    for c in trial_campaigns(ctx.cust, exp_rn) {
        let Some((Res::Campaign, key)) = parse_rn(&c, &cid) else {
            continue;
        };
        let Some(mut v) = ctx.cust.get(Res::Campaign, key).map(|o| o.v.clone()) else {
            continue;
        };
        if v.get("experimentType").and_then(Value::as_str) == Some("BASE") {
            continue;
        }
        v["status"] = json!("REMOVED");
        ctx.force_put(Res::Campaign, key, v, "REMOVED");
    }
}

/// An arm's removal: only while the experiment is in SETUP; a treatment arm's in-design campaign goes with it.
pub fn before_arm_remove(ctx: &mut MutateCtx<'_>, old: &Value, loc: &Loc) -> Result<(), Vec<AdsError>> {
    let exp_rn = old
        .get("experiment")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if ctx.cust.get_rn(&exp_rn).is_some_and(|(_, o)| status(&o.v) != "SETUP") {
        return Err(err(
            errors::ARM_CANNOT_MODIFY_CAMPAIGN_IDS,
            "Cannot edit campaign ids in trial arms in non SETUP experiment.",
            loc,
            &["remove"],
        ));
    }
    if !is_control(old) {
        let cid = ctx.cust.info.id.clone();
        for c in campaigns_of(old, "inDesignCampaigns") {
            if let Some((Res::Campaign, key)) = parse_rn(&c, &cid) {
                if let Some(mut v) = ctx.cust.get(Res::Campaign, key).map(|o| o.v.clone()) {
                    v["status"] = json!("REMOVED");
                    ctx.force_put(Res::Campaign, key, v, "REMOVED");
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// The custom methods

/// `POST /v25/customers/{cid}/experiments/{id}:{verb}`.
pub fn verb(inner: &Inner, cid: &str, tail: &str, body: &[u8], rid: &str) -> Response {
    let Some((path, verb)) = tail.split_once(':') else {
        return super::not_found(rid);
    };
    let message = match verb {
        "scheduleExperiment" => "services.ScheduleExperimentRequest",
        "promoteExperiment" => "services.PromoteExperimentRequest",
        "endExperiment" => "services.EndExperimentRequest",
        "graduateExperiment" => "services.GraduateExperimentRequest",
        _ => return super::not_found(rid),
    };
    let req = match parse_body(message, body, rid) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let rn = format!("customers/{cid}/{path}");
    // The path names the experiment; the body repeats it (`resource_name` or `experiment`).
    let named = req
        .get("resourceName")
        .or_else(|| req.get("experiment"))
        .and_then(Value::as_str)
        .unwrap_or(&rn);
    let bad = |e: AdsError| errors::failure(Status::InvalidArgument, &[e], rid);
    if named != rn {
        return bad(AdsError::new(errors::RESOURCE_NAME_MALFORMED, "The resource name is malformed.").trigger(named));
    }
    let validate_only = req.get("validateOnly").and_then(Value::as_bool).unwrap_or(false);
    let mut st = inner.state.lock();
    let st = &mut *st;
    st.write_seq += 1;
    let seq = st.write_seq;
    let Some(cust) = st.customers.get_mut(cid) else {
        return super::not_found(rid);
    };
    let exp = match parse_rn(&rn, cid) {
        Some((Res::Experiment, key)) => cust.get(Res::Experiment, key).map(|o| o.v.clone()),
        _ => None,
    };
    let Some(exp) = exp.filter(|e| status(e) != "REMOVED") else {
        return bad(AdsError::new(errors::EXP_NOT_FOUND, "The experiment could not be found.").trigger(rn));
    };
    let key = rn.rsplit('/').next().unwrap_or_default().to_string();
    let today = today();
    let result = match verb {
        "scheduleExperiment" => check_schedule(cust, &exp, &rn, today),
        "promoteExperiment" | "endExperiment" => match status(&exp) {
            "ENABLED" => Ok(()),
            "SETUP" | "INITIATED" => Err(AdsError::new(errors::EXP_NOT_YET_STARTED, "Experiment has not begun.")),
            _ => Err(AdsError::new(
                errors::EXP_STATUS_TRANSITION_INVALID,
                "Invalid status transition.",
            )),
        },
        _ => check_graduate(cust, &exp, &req),
    };
    if let Err(e) = result {
        return bad(e.trigger(rn));
    }
    if validate_only {
        return Json(json!({})).into_response();
    }
    let op_id = if matches!(verb, "scheduleExperiment" | "promoteExperiment") {
        st.next_id += 1;
        st.next_id
    } else {
        0
    };
    let mut ctx = MutateCtx::new(cust, seq, &mut st.next_id, today, false);
    let mut v = exp.clone();
    let operation = match verb {
        "scheduleExperiment" => {
            v["status"] = json!("INITIATED");
            Some("ScheduleExperimentMetadata")
        }
        "promoteExperiment" => {
            v["status"] = json!("PROMOTED");
            v["promoteStatus"] = json!("IN_PROGRESS");
            Some("PromoteExperimentMetadata")
        }
        "endExperiment" => {
            // "Immediately ends an experiment, changing the experiment's scheduled end date ... End date is
            // updated to be the time of the request." (reading chosen: the status becomes HALTED)
            v["endDate"] = json!(today.format("%Y-%m-%d").to_string());
            v["status"] = json!("HALTED");
            end_trials(&mut ctx, &rn);
            None
        }
        _ => {
            graduate(&mut ctx, &rn, &req);
            v["status"] = json!("GRADUATED");
            None
        }
    };
    if let Some(meta) = operation {
        let op_name = format!("customers/{cid}/operations/{op_id}");
        v["longRunningOperation"] = json!(op_name);
        ctx.force_put(Res::Experiment, &key, v, "CHANGED");
        ctx.commit();
        st.operations
            .insert(op_name.clone(), (rn.clone(), super::jobs::now_ms()));
        let metadata = json!({
            "@type": format!("type.googleapis.com/google.ads.googleads.v25.services.{meta}"),
            "experiment": rn,
        });
        if inner.cfg.job_delay.is_zero() {
            finish(st, cid, &rn);
            return Json(json!({"name": op_name, "metadata": metadata, "done": true,
                "response": {"@type": "type.googleapis.com/google.protobuf.Empty"}}))
            .into_response();
        }
        return Json(json!({"name": op_name, "metadata": metadata})).into_response();
    }
    ctx.force_put(Res::Experiment, &key, v, "CHANGED");
    ctx.commit();
    Json(json!({})).into_response()
}

fn check_schedule(cust: &Customer, exp: &Value, rn: &str, today: NaiveDate) -> Result<(), AdsError> {
    if status(exp) != "SETUP" {
        return Err(AdsError::new(
            errors::EXP_STATUS_TRANSITION_INVALID,
            "Invalid status transition.",
        ));
    }
    let arms = arms_of(cust, rn);
    if arms.is_empty() {
        return Err(AdsError::new(
            errors::EXP_MISSING_ARMS,
            "Cannot create an experiment with no arms.",
        ));
    }
    if arms.iter().map(|(_, a)| split_of(a)).sum::<i64>() != 100 {
        return Err(AdsError::new(
            errors::EXP_SPLIT_NOT_100,
            "The total traffic split of trial arms is not equal to 100.",
        ));
    }
    let has_design = arms
        .iter()
        .any(|(_, a)| !is_control(a) && !campaigns_of(a, "inDesignCampaigns").is_empty());
    if !has_design {
        return Err(AdsError::new(
            errors::EXP_IN_DESIGN_CAMPAIGNS_NOT_SET,
            "The experiment doesn't set in-design campaigns.",
        ));
    }
    if date(exp, "startDate").is_some_and(|s| s < today) {
        return Err(AdsError::new(
            errors::EXP_START_DATE_IN_PAST,
            "The start date of an experiment cannot be set in the past.",
        ));
    }
    // "A pair of trials share members and have overlapping date ranges": another scheduled experiment of the same
    // base campaign whose dates meet these (a missing start is today, a missing end open).
    let base = |rn: &str| {
        arms_of(cust, rn)
            .into_iter()
            .find(|(_, a)| is_control(a))
            .and_then(|(_, a)| campaigns_of(&a, "campaigns").into_iter().next())
    };
    let span = |e: &Value| {
        (
            date(e, "startDate").unwrap_or(today),
            date(e, "endDate").unwrap_or(NaiveDate::MAX),
        )
    };
    let mine = base(rn);
    let (s, e) = span(exp);
    let overlapping = cust.table(Res::Experiment).into_iter().flatten().any(|(_, o)| {
        let other = o.v.get("resourceName").and_then(Value::as_str).unwrap_or_default();
        let (os, oe) = span(&o.v);
        other != rn
            && matches!(status(&o.v), "INITIATED" | "ENABLED")
            && date(&o.v, "endDate").is_none_or(|d| d >= today)
            && mine.is_some()
            && base(other) == mine
            && os <= e
            && s <= oe
    });
    if overlapping {
        return Err(AdsError::new(
            errors::EXP_OVERLAPPING,
            "A pair of trials share members and have overlapping date ranges.",
        ));
    }
    Ok(())
}

fn check_graduate(cust: &Customer, exp: &Value, req: &Value) -> Result<(), AdsError> {
    if !matches!(status(exp), "ENABLED" | "HALTED") {
        return Err(AdsError::new(
            errors::EXP_STATUS_TRANSITION_INVALID,
            "Invalid status transition.",
        ));
    }
    let mappings = req
        .get("campaignBudgetMappings")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if mappings.is_empty() {
        return Err(
            AdsError::new(errors::FIELD_REQUIRED, "The required field was not present.")
                .at("campaign_budget_mappings", None),
        );
    }
    let rn = exp.get("resourceName").and_then(Value::as_str).unwrap_or_default();
    let trials = trial_campaigns(cust, rn);
    for (i, m) in mappings.iter().enumerate() {
        let c = m.get("experimentCampaign").and_then(Value::as_str).unwrap_or_default();
        if !trials.iter().any(|t| t == c) {
            return Err(AdsError::new(errors::RESOURCE_NOT_FOUND, "The resource was not found.")
                .at("campaign_budget_mappings", Some(i))
                .at("experiment_campaign", None));
        }
        let b = m.get("campaignBudget").and_then(Value::as_str).unwrap_or_default();
        let live = cust.get_rn(b).is_some_and(|(r, o)| {
            r == Res::CampaignBudget && o.v.get("status").and_then(Value::as_str) != Some("REMOVED")
        });
        if !live {
            return Err(AdsError::new(errors::RESOURCE_NOT_FOUND, "The resource was not found.")
                .at("campaign_budget_mappings", Some(i))
                .at("campaign_budget", None));
        }
    }
    Ok(())
}

/// The experiment campaigns stop serving (their status stays as it was).
fn end_trials(ctx: &mut MutateCtx<'_>, exp_rn: &str) {
    let cid = ctx.cust.info.id.clone();
    for c in trial_campaigns(ctx.cust, exp_rn) {
        let Some((Res::Campaign, key)) = parse_rn(&c, &cid) else {
            continue;
        };
        if let Some(mut v) = ctx.cust.get(Res::Campaign, key).map(|o| o.v.clone()) {
            v["servingStatus"] = json!("ENDED");
            ctx.force_put(Res::Campaign, key, v, "CHANGED");
        }
    }
}

/// Each mapped experiment campaign becomes a campaign of its own (BASE) with the budget it is paired with.
fn graduate(ctx: &mut MutateCtx<'_>, _exp_rn: &str, req: &Value) {
    let cid = ctx.cust.info.id.clone();
    for m in req
        .get("campaignBudgetMappings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let c = m.get("experimentCampaign").and_then(Value::as_str).unwrap_or_default();
        let b = m.get("campaignBudget").and_then(Value::as_str).unwrap_or_default();
        let Some((Res::Campaign, key)) = parse_rn(c, &cid) else {
            continue;
        };
        if let Some(mut v) = ctx.cust.get(Res::Campaign, key).map(|o| o.v.clone()) {
            v["experimentType"] = json!("BASE");
            v["baseCampaign"] = json!(c);
            v["campaignBudget"] = json!(b);
            v["servingStatus"] = json!("SERVING");
            ctx.force_put(Res::Campaign, key, v, "CHANGED");
        }
    }
}

/// Fields of a campaign that promotion does not copy from the experiment campaign onto the base campaign.
const NOT_PROMOTED: &[&str] = &[
    "resourceName",
    "id",
    "name",
    "status",
    "servingStatus",
    "experimentType",
    "baseCampaign",
    "campaignBudget",
    "labels",
    "startDateTime",
    "endDateTime",
];

/// The end of a long-running operation on an experiment (`:scheduleExperiment`, `:promoteExperiment`): the
/// in-design campaign becomes the experiment campaign and the experiment ENABLED; or the experiment campaign's
/// settings are copied onto the base campaign and the promotion COMPLETED.
pub fn finish(st: &mut GState, cid: &str, rn: &str) {
    st.write_seq += 1;
    let seq = st.write_seq;
    let Some(cust) = st.customers.get_mut(cid) else { return };
    let Some((Res::Experiment, key)) = parse_rn(rn, cid) else {
        return;
    };
    let key = key.to_string();
    let Some(mut exp) = cust.get(Res::Experiment, &key).map(|o| o.v.clone()) else {
        return;
    };
    let arms = arms_of(cust, rn);
    let base = arms
        .iter()
        .find(|(_, a)| is_control(a))
        .and_then(|(_, a)| campaigns_of(a, "campaigns").into_iter().next());
    let mut ctx = MutateCtx::new(cust, seq, &mut st.next_id, today(), false);
    match status(&exp) {
        "INITIATED" => {
            for (k, a) in arms.iter().filter(|(_, a)| !is_control(a)) {
                let trials = campaigns_of(a, "inDesignCampaigns");
                for t in &trials {
                    let Some((Res::Campaign, ck)) = parse_rn(t, cid) else {
                        continue;
                    };
                    if let Some(mut v) = ctx.cust.get(Res::Campaign, ck).map(|o| o.v.clone()) {
                        v["experimentType"] = json!("EXPERIMENT");
                        v["servingStatus"] = json!("SERVING");
                        ctx.force_put(Res::Campaign, ck, v, "CHANGED");
                    }
                }
                let mut a = a.clone();
                a["campaigns"] = json!(trials);
                ctx.force_put(Res::ExperimentArm, k, a, "CHANGED");
            }
            exp["status"] = json!("ENABLED");
            if exp.get("startDate").is_none() {
                exp["startDate"] = json!(ctx.today.format("%Y-%m-%d").to_string());
            }
            ctx.force_put(Res::Experiment, &key, exp, "CHANGED");
        }
        "PROMOTED" if exp.get("promoteStatus").and_then(Value::as_str) == Some("IN_PROGRESS") => {
            let trial = arms
                .iter()
                .find(|(_, a)| !is_control(a))
                .and_then(|(_, a)| campaigns_of(a, "campaigns").into_iter().next());
            if let (Some(base), Some(trial)) = (base, trial) {
                let get = |ctx: &MutateCtx<'_>, rn: &str| match parse_rn(rn, cid) {
                    Some((Res::Campaign, k)) => ctx.cust.get(Res::Campaign, k).map(|o| (k.to_string(), o.v.clone())),
                    _ => None,
                };
                if let (Some((bk, mut b)), Some((tk, mut t))) = (get(&ctx, &base), get(&ctx, &trial)) {
                    if let (Some(bm), Some(tm)) = (b.as_object_mut(), t.as_object()) {
                        // the bidding oneof and every other setting the trial may have changed
                        bm.retain(|k, _| NOT_PROMOTED.contains(&k.as_str()));
                        for (k, v) in tm {
                            if !NOT_PROMOTED.contains(&k.as_str()) {
                                bm.insert(k.clone(), v.clone());
                            }
                        }
                    }
                    ctx.force_put(Res::Campaign, &bk, b, "CHANGED");
                    t["servingStatus"] = json!("ENDED");
                    ctx.force_put(Res::Campaign, &tk, t, "CHANGED");
                }
            }
            exp["promoteStatus"] = json!("COMPLETED");
            ctx.force_put(Res::Experiment, &key, exp, "CHANGED");
        }
        _ => {}
    }
    ctx.commit();
}

/// The metadata of an operation on an experiment, when `rn` is one.
pub fn operation_metadata(cust: &Customer, cid: &str, rn: &str) -> Option<Value> {
    let Some((Res::Experiment, key)) = parse_rn(rn, cid) else {
        return None;
    };
    let exp = cust.get(Res::Experiment, key)?;
    let meta = if status(&exp.v) == "PROMOTED" {
        "PromoteExperimentMetadata"
    } else {
        "ScheduleExperimentMetadata"
    };
    Some(json!({
        "@type": format!("type.googleapis.com/google.ads.googleads.v25.services.{meta}"),
        "experiment": rn,
    }))
}
