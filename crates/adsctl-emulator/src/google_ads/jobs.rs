//! Offline user data jobs (Customer Match uploads): create, addOperations, run, and the long-running
//! operation to poll.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::errors::{self, AdsError, Status};
use super::resources::Res;
use super::{not_found, parse_body, Inner};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Job {
    pub v: Value,
    pub creates: bool,
    pub removes: bool,
    pub remove_all: bool,
    pub ops: u64,
    pub add: Vec<String>,
    pub del: Vec<String>,
    pub user_list: String,
}

/// errors/offline_user_data_job_error.proto TOO_MANY_USER_IDENTIFIERS: "Maximum number of user identifiers
/// allowed per request is 100,000 and per operation is 20."
pub const MAX_IDENTIFIERS_PER_REQUEST: usize = 100_000;
pub const MAX_IDENTIFIERS_PER_OPERATION: usize = 20;

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

pub fn create(inner: &Inner, cid: &str, body: &[u8], rid: &str) -> Response {
    let req = match parse_body("services.CreateOfflineUserDataJobRequest", body, rid) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let bad = |e: AdsError| errors::failure(Status::InvalidArgument, &[e], rid);
    let Some(job) = req.get("job").filter(|j| j.is_object()) else {
        return bad(AdsError::new(errors::FIELD_REQUIRED, "The required field was not present.").at("job", None));
    };
    match job.get("type").and_then(Value::as_str) {
        Some("CUSTOMER_MATCH_USER_LIST") => {}
        None => {
            return bad(
                AdsError::new(errors::FIELD_REQUIRED, "The required field was not present.")
                    .at("job", None)
                    .at("type", None),
            )
        }
        Some(other) => {
            return errors::plain(
                Status::Unimplemented,
                &format!("The emulator does not implement {other} jobs."),
                rid,
            )
        }
    }
    let ul = job
        .get("customerMatchUserListMetadata")
        .and_then(|m| m.get("userList"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut st = inner.state.lock();
    let st = &mut *st;
    let Some(cust) = st.customers.get(cid) else {
        return not_found(rid);
    };
    let list = cust
        .get_rn(&ul)
        .filter(|(r, o)| *r == Res::UserList && o.v.get("status").and_then(Value::as_str) != Some("REMOVED"));
    let Some((_, list)) = list else {
        return bad(AdsError::new(
            errors::JOB_INVALID_USER_LIST_ID,
            "The user list ID provided for the job is invalid.",
        )
        .trigger(ul)
        .at("job", None)
        .at("customer_match_user_list_metadata", None)
        .at("user_list", None));
    };
    if list.v.get("type").and_then(Value::as_str) != Some("CRM_BASED") {
        return bad(AdsError::new(
            errors::JOB_INVALID_USER_LIST_TYPE,
            "The user list type is not valid for this job.",
        )
        .trigger(ul)
        .at("job", None)
        .at("customer_match_user_list_metadata", None)
        .at("user_list", None));
    }
    if req.get("validateOnly").and_then(Value::as_bool).unwrap_or(false) {
        return Json(json!({})).into_response();
    }
    st.next_id += 1;
    let id = st.next_id;
    let rn = format!("customers/{cid}/offlineUserDataJobs/{id}");
    let mut v = job.clone();
    v["resourceName"] = json!(rn);
    v["id"] = json!(id.to_string());
    v["status"] = json!("PENDING");
    st.jobs.insert(
        rn.clone(),
        Job {
            v,
            creates: false,
            removes: false,
            remove_all: false,
            ops: 0,
            add: vec![],
            del: vec![],
            user_list: ul,
        },
    );
    Json(json!({"resourceName": rn})).into_response()
}

fn job_rn(cid: &str, tail: &str) -> String {
    format!("customers/{cid}/{tail}")
}

pub fn add_operations(inner: &Inner, cid: &str, tail: &str, body: &[u8], rid: &str) -> (Response, u64) {
    let req = match parse_body("services.AddOfflineUserDataJobOperationsRequest", body, rid) {
        Ok(v) => v,
        Err(r) => return (r, 0),
    };
    let ops: Vec<Value> = req
        .get("operations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let n = ops.len() as u64;
    let bad = |e: AdsError| (errors::failure(Status::InvalidArgument, &[e], rid), n);
    let rn = job_rn(cid, tail);
    let mut st = inner.state.lock();
    let Some(job) = st.jobs.get_mut(&rn) else {
        return bad(AdsError::new(errors::RESOURCE_NOT_FOUND, "The resource was not found.")
            .trigger(rn)
            .at("resource_name", None));
    };
    if job.v.get("status").and_then(Value::as_str) != Some("PENDING") {
        return bad(AdsError::new(
            errors::JOB_ALREADY_STARTED,
            "The job has already been run.",
        ));
    }
    if ops.is_empty() {
        return bad(
            AdsError::new(errors::OPERATION_REQUIRED, "At least one operation is required.").at("operations", None),
        );
    }
    let identifiers: usize = ops
        .iter()
        .filter_map(|op| op.get("create").or_else(|| op.get("remove")))
        .filter_map(|d| d.get("userIdentifiers").and_then(Value::as_array))
        .map(Vec::len)
        .sum();
    if identifiers > MAX_IDENTIFIERS_PER_REQUEST {
        return bad(AdsError::new(
            errors::JOB_TOO_MANY_USER_IDENTIFIERS,
            format!(
                "Maximum number of user identifiers allowed per request is 100,000 and per operation is 20; this \
                 request has {identifiers}."
            ),
        )
        .at("operations", None));
    }
    let partial = req
        .get("enablePartialFailure")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let validate_only = req.get("validateOnly").and_then(Value::as_bool).unwrap_or(false);
    let mut staged = job.clone();
    let mut errs = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let at = |e: AdsError| e.at("operations", Some(i));
        if op.get("removeAll").and_then(Value::as_bool) == Some(true) {
            if staged.ops > 0 || i > 0 {
                errs.push(
                    at(AdsError::new(
                        errors::JOB_INVALID_OPERATION_ORDER,
                        "removeAll must be the first operation of the job.",
                    ))
                    .at("remove_all", None),
                );
                continue;
            }
            staged.remove_all = true;
            staged.ops += 1;
            continue;
        }
        let (kind, data) = match (op.get("create"), op.get("remove")) {
            (Some(d), _) => ("create", d),
            (_, Some(d)) => ("remove", d),
            _ => {
                errs.push(at(AdsError::new(
                    errors::OPERATION_REQUIRED,
                    "The operation has no create, remove or removeAll.",
                )));
                continue;
            }
        };
        if (kind == "create" && staged.removes) || (kind == "remove" && staged.creates) {
            errs.push(
                at(AdsError::new(
                    errors::JOB_CONFLICTING_OPERATION,
                    "Creates and removes cannot be mixed in one job.",
                ))
                .at(kind, None),
            );
            continue;
        }
        let ids = data
            .get("userIdentifiers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if ids.len() > MAX_IDENTIFIERS_PER_OPERATION {
            errs.push(
                at(AdsError::new(
                    errors::JOB_TOO_MANY_USER_IDENTIFIERS,
                    "Maximum number of user identifiers allowed per request is 100,000 and per operation is 20.",
                ))
                .at(kind, None)
                .at("user_identifiers", None),
            );
            continue;
        }
        if ids.is_empty() {
            errs.push(
                at(AdsError::new(
                    errors::JOB_MISSING_USER_IDENTIFIER,
                    "The user identifier is missing.",
                ))
                .at(kind, None),
            );
            continue;
        }
        let mut found = Vec::new();
        let mut bad_hash = None;
        for (j, uid) in ids.iter().enumerate() {
            for (k, proto) in [
                ("hashedEmail", "hashed_email"),
                ("hashedPhoneNumber", "hashed_phone_number"),
            ] {
                if let Some(h) = uid.get(k).and_then(Value::as_str) {
                    if is_sha256(h) {
                        found.push(h.to_string());
                    } else if bad_hash.is_none() {
                        bad_hash = Some((j, proto));
                    }
                }
            }
            for k in ["mobileId", "thirdPartyUserId"] {
                if let Some(h) = uid.get(k).and_then(Value::as_str) {
                    found.push(h.to_string());
                }
            }
        }
        if let Some((j, proto)) = bad_hash {
            errs.push(
                at(AdsError::new(
                    errors::JOB_INVALID_SHA256_FORMAT,
                    "The SHA256 encoded value is malformed.",
                ))
                .at(kind, None)
                .at("user_identifiers", Some(j))
                .at(proto, None),
            );
            continue;
        }
        staged.ops += 1;
        if kind == "create" {
            staged.creates = true;
            staged.add.extend(found);
        } else {
            staged.removes = true;
            staged.del.extend(found);
        }
    }
    if !errs.is_empty() && !partial {
        return (errors::failure(Status::InvalidArgument, &errs, rid), n);
    }
    if !validate_only {
        *job = staged;
    }
    let mut out = json!({});
    if !errs.is_empty() {
        out["partialFailureError"] = errors::partial_failure_status(&errs, rid);
    }
    (Json(out).into_response(), n)
}

pub fn run(inner: &Inner, cid: &str, tail: &str, body: &[u8], rid: &str) -> Response {
    let req = match parse_body("services.RunOfflineUserDataJobRequest", body, rid) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let rn = job_rn(cid, tail);
    let mut st = inner.state.lock();
    let st = &mut *st;
    let Some(job) = st.jobs.get_mut(&rn) else {
        return errors::failure(
            Status::InvalidArgument,
            &[AdsError::new(errors::RESOURCE_NOT_FOUND, "The resource was not found.").trigger(rn)],
            rid,
        );
    };
    if job.v.get("status").and_then(Value::as_str) != Some("PENDING") {
        return errors::failure(
            Status::InvalidArgument,
            &[AdsError::new(
                errors::JOB_ALREADY_STARTED,
                "The job has already been run.",
            )],
            rid,
        );
    }
    if req.get("validateOnly").and_then(Value::as_bool).unwrap_or(false) {
        return Json(json!({})).into_response();
    }
    job.v["status"] = json!("RUNNING");
    st.next_id += 1;
    let name = format!("customers/{cid}/operations/{}", st.next_id);
    st.operations.insert(name.clone(), (rn, now_ms()));
    Json(json!({"name": name})).into_response()
}

pub fn get_operation(inner: &Inner, cid: &str, tail: &str, rid: &str) -> Response {
    let name = format!("customers/{cid}/{tail}");
    let mut st = inner.state.lock();
    let st = &mut *st;
    let Some((job_rn, started)) = st.operations.get(&name).cloned() else {
        return errors::plain(Status::NotFound, "Operation not found.", rid);
    };
    if now_ms().saturating_sub(started) < inner.cfg.job_delay.as_millis() as u64 {
        return Json(json!({"name": name})).into_response();
    }
    if let Some(cust) = st.customers.get(cid) {
        if let Some(metadata) = super::experiment::operation_metadata(cust, cid, &job_rn) {
            super::experiment::finish(st, cid, &job_rn);
            return Json(json!({"name": name, "metadata": metadata, "done": true,
                "response": {"@type": "type.googleapis.com/google.protobuf.Empty"}}))
            .into_response();
        }
    }
    if let Some(job) = st.jobs.get_mut(&job_rn) {
        if job.v.get("status").and_then(Value::as_str) == Some("RUNNING") {
            job.v["status"] = json!("SUCCESS");
            let members = st.members.entry(job.user_list.clone()).or_default();
            if job.remove_all {
                members.clear();
            }
            for a in &job.add {
                members.insert(a.clone());
            }
            for d in &job.del {
                members.remove(d);
            }
            let size = members.len().to_string();
            if let Some(cust) = st.customers.get_mut(cid) {
                if let Some((Res::UserList, key)) = super::store::parse_rn(&job.user_list, cid) {
                    if let Some(mut o) = cust.get(Res::UserList, key).cloned() {
                        o.v["sizeForSearch"] = json!(size);
                        o.v["sizeForDisplay"] = json!(size);
                        cust.set(Res::UserList, key, Some(o));
                    }
                }
            }
        }
    }
    Json(json!({"name": name, "done": true, "response": {"@type": "type.googleapis.com/google.protobuf.Empty"}}))
        .into_response()
}
