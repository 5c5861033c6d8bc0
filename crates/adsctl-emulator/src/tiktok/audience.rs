//! Custom audiences (customer files) and lookalikes: multipart file upload (MD5 signature), create, update
//! (rename, or APPEND / REMOVE / REPLACE files, never below 1,000 users), delete, list, get, lookalike create.
//! Processing is asynchronous: an audience is not ready for `audience_processing_delay` after a create or a file
//! update. WIRE-NOTES § Custom audiences & lookalikes.

use std::collections::{BTreeSet, HashSet};

use md5::Digest as _;
use serde_json::{json, Map, Value};

use super::error::ApiError;
use super::fields;
use super::json::Json;
use super::state::{Audience, AudienceFile, State};
use super::{format_time, s, Call, Handled, Out};
use crate::rng::{hash_str, mix64};

/// A file operation may not leave a customer file with fewer users than this.
pub const MIN_USERS_AFTER_UPDATE: usize = 1_000;
/// A lookalike's seed needs at least this many users.
pub const MIN_SEED_USERS: usize = 100;

fn param(msg: impl Into<String>) -> ApiError {
    ApiError::param(msg)
}

struct Part {
    name: String,
    filename: Option<String>,
    data: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The parts of a multipart/form-data body.
fn multipart(content_type: &str, body: &[u8]) -> Result<Vec<Part>, ApiError> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_string())
        .filter(|_| content_type.starts_with("multipart/form-data"))
        .ok_or_else(|| param("Content-Type must be multipart/form-data for a file upload."))?;
    let delim = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut pos = find(body, &delim, 0).ok_or_else(|| param("The multipart body holds no part."))?;
    loop {
        let after = pos + delim.len();
        if body[after..].starts_with(b"--") {
            break;
        }
        let head_start = after + 2; // CRLF
        let head_end = find(body, b"\r\n\r\n", head_start).ok_or_else(|| param("A multipart part has no headers."))?;
        let next = find(body, &delim, head_end + 4).ok_or_else(|| param("The multipart body is not terminated."))?;
        let data_end = next.saturating_sub(2).max(head_end + 4);
        let headers = String::from_utf8_lossy(&body[head_start..head_end]).to_string();
        let mut name = None;
        let mut filename = None;
        for line in headers.lines() {
            if line.to_ascii_lowercase().starts_with("content-disposition:") {
                for item in line.split(';').map(str::trim) {
                    if let Some(v) = item.strip_prefix("name=") {
                        name = Some(v.trim_matches('"').to_string());
                    } else if let Some(v) = item.strip_prefix("filename=") {
                        filename = Some(v.trim_matches('"').to_string());
                    }
                }
            }
        }
        parts.push(Part {
            name: name.ok_or_else(|| param("A multipart part has no name."))?,
            filename,
            data: body[head_end + 4..data_end].to_vec(),
        });
        pos = next;
    }
    Ok(parts)
}

/// The hashes of an audience file: one per line (MULTIPLE_TYPES: comma-separated on a line); SHA256 types need
/// 64 hex digits, MD5 types 32.
fn members_of(calculate_type: &str, data: &[u8]) -> Result<BTreeSet<String>, ApiError> {
    let text = std::str::from_utf8(data).map_err(|_| param("file: The file is not UTF-8 text."))?;
    let mut out = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let tokens: Vec<&str> = if calculate_type == "MULTIPLE_TYPES" {
            line.split(',').map(str::trim).filter(|t| !t.is_empty()).collect()
        } else {
            vec![line]
        };
        for t in tokens {
            let ok = t.bytes().all(|c| c.is_ascii_hexdigit())
                && match calculate_type {
                    ct if ct.ends_with("_SHA256") => t.len() == 64,
                    ct if ct.ends_with("_MD5") => t.len() == 32,
                    _ => t.len() == 64 || t.len() == 32,
                };
            if !ok {
                let want = if calculate_type.ends_with("_MD5") {
                    "an MD5 hash (32 hexadecimal characters)"
                } else if calculate_type.ends_with("_SHA256") {
                    "a SHA256 hash (64 hexadecimal characters)"
                } else {
                    "SHA256 or MD5 hashes"
                };
                return Err(param(format!(
                    "file: Line {} is not {want} as calculate_type {calculate_type} requires.",
                    n + 1
                )));
            }
            out.insert(t.to_ascii_lowercase());
        }
    }
    if out.is_empty() {
        return Err(param("file: The file holds no user."));
    }
    Ok(out)
}

/// `POST /dmp/custom_audience/file/upload/` (multipart: advertiser_id, file, file_signature, calculate_type).
pub fn file_upload(c: &Call, st: &mut State) -> Handled {
    let parts = multipart(&c.content_type, &c.raw_body)?;
    let specs = fields::endpoint("custom_audience_file_upload")
        .multipart
        .as_ref()
        .expect("the upload's fields are in the table");
    let mut seen = HashSet::new();
    for p in &parts {
        if !specs.contains_key(&p.name) {
            return Err(param(format!("{}: Unknown field.", p.name)));
        }
        if !seen.insert(p.name.clone()) {
            return Err(param(format!("{}: The field is repeated.", p.name)));
        }
    }
    for (k, spec) in specs {
        if spec.required && !seen.contains(k) {
            return Err(param(format!("{k}: Missing data for required field.")));
        }
    }
    let text = |k: &str| {
        parts
            .iter()
            .find(|p| p.name == k)
            .map(|p| String::from_utf8_lossy(&p.data).trim().to_string())
    };
    let file = parts
        .iter()
        .find(|p| p.name == "file")
        .ok_or_else(|| param("file: Missing data for required field."))?;
    if file.filename.is_none() {
        return Err(param("file: Not a file (the part carries no filename)."));
    }
    let adv = c.advertiser(st, &text("advertiser_id").unwrap_or_default())?;
    let calculate_type = text("calculate_type").unwrap_or_default();
    let allowed = specs["calculate_type"].values.clone().unwrap_or_default();
    if !allowed.contains(&calculate_type) {
        return Err(param(format!(
            "calculate_type: Must be one of: {}.",
            allowed.join(", ")
        )));
    }
    let md5 = hex::encode(md5::Md5::digest(&file.data));
    if !text("file_signature").unwrap_or_default().eq_ignore_ascii_case(&md5) {
        return Err(param(
            "file_signature: The signature does not match the file (it must be the MD5 of the file, in hex).",
        ));
    }
    let members = members_of(&calculate_type, &file.data)?;
    st.next_id += 1;
    let path = format!("{:016x}", mix64(c.cfg.seed ^ hash_str(&md5) ^ mix64(st.next_id)));
    st.files.insert(
        path.clone(),
        AudienceFile {
            advertiser_id: adv.advertiser_id,
            calculate_type,
            members,
        },
    );
    Ok(Out::ok(json!({ "file_path": path }), 1))
}

fn files_members(
    st: &State,
    advertiser: &str,
    calculate_type: Option<&str>,
    paths: &[String],
) -> Result<BTreeSet<String>, ApiError> {
    let mut out = BTreeSet::new();
    for p in paths {
        let f = st
            .files
            .get(p)
            .filter(|f| f.advertiser_id == advertiser)
            .ok_or_else(|| param(format!("file_paths: {p} is not a file uploaded to this advertiser.")))?;
        if let Some(ct) = calculate_type {
            if f.calculate_type != ct {
                return Err(param(format!(
                    "file_paths: {p} was uploaded with calculate_type {} but the audience uses {ct}.",
                    f.calculate_type
                )));
            }
        }
        out.extend(f.members.iter().cloned());
    }
    Ok(out)
}

fn list_of(m: &Map<String, Value>, k: &str) -> Vec<String> {
    m.get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn audience<'a>(st: &'a State, advertiser: &str, id: &str) -> Result<&'a Audience, ApiError> {
    st.audiences
        .get(id)
        .filter(|a| a.advertiser_id == advertiser && !a.deleted)
        .ok_or_else(|| ApiError::not_found("Custom audience", id))
}

fn new_audience(st: &mut State, c: &Call, advertiser: &str, name: &str) -> Audience {
    Audience {
        id: st.new_id(c.cfg.seed),
        advertiser_id: advertiser.to_string(),
        name: name.to_string(),
        calculate_type: None,
        lookalike: false,
        members: BTreeSet::new(),
        lookalike_spec: None,
        retention_in_days: None,
        audience_sub_type: "NORMAL".into(),
        created_ms: c.now,
        modified_ms: c.now,
        ready_ms: c.now + c.cfg.audience_processing_delay.as_millis() as i64,
        deleted: false,
        cover: None,
    }
}

/// `POST /dmp/custom_audience/create/`.
pub fn create(c: &Call, st: &mut State) -> Handled {
    let (_, f) = c.checked_body("CustomAudienceCreateBody")?;
    let adv = c.advertiser(st, s(&f, "advertiser_id").unwrap_or_default())?;
    let ct = s(&f, "calculate_type").unwrap_or_default().to_string();
    let members = files_members(st, &adv.advertiser_id, Some(&ct), &list_of(&f, "file_paths"))?;
    let mut a = new_audience(
        st,
        c,
        &adv.advertiser_id,
        s(&f, "custom_audience_name").unwrap_or_default(),
    );
    a.calculate_type = Some(ct);
    a.members = members;
    a.retention_in_days = f.get("retention_in_days").and_then(Value::as_i64);
    if let Some(t) = s(&f, "audience_sub_type") {
        a.audience_sub_type = t.to_string();
    }
    let id = a.id.clone();
    st.audiences.insert(id.clone(), a);
    Ok(Out::ok(json!({ "custom_audience_id": id }), 1))
}

/// `POST /dmp/custom_audience/update/`: a new name, or files with an action.
pub fn update(c: &Call, st: &mut State) -> Handled {
    let (_, f) = c.checked_body("CustomAudienceUpdateBody")?;
    let adv = c.advertiser(st, s(&f, "advertiser_id").unwrap_or_default())?;
    let id = s(&f, "custom_audience_id").unwrap_or_default().to_string();
    let a = audience(st, &adv.advertiser_id, &id)?;
    if !f.contains_key("custom_audience_name") && !f.contains_key("file_paths") {
        return Err(param(
            "custom_audience_name: Missing data for required field (send custom_audience_name or file_paths).",
        ));
    }
    if f.contains_key("action") && !f.contains_key("file_paths") {
        return Err(param("action: Only valid with file_paths."));
    }
    if c.now < a.ready_ms {
        return Err(param(format!(
            "custom_audience_id: The audience {id} is still being processed; update it when processing is done."
        )));
    }
    let mut members = None;
    if f.contains_key("file_paths") {
        if a.lookalike {
            return Err(param(
                "file_paths: A lookalike audience has no customer files to change.",
            ));
        }
        let incoming = files_members(
            st,
            &adv.advertiser_id,
            a.calculate_type.as_deref(),
            &list_of(&f, "file_paths"),
        )?;
        let action = s(&f, "action").unwrap_or("REPLACE");
        let result: BTreeSet<String> = match action {
            "APPEND" => a.members.union(&incoming).cloned().collect(),
            "REMOVE" => a.members.difference(&incoming).cloned().collect(),
            _ => incoming,
        };
        if result.len() < MIN_USERS_AFTER_UPDATE {
            return Err(param(format!(
                "file_paths: After {action} the audience would hold {} users: it must keep at least {MIN_USERS_AFTER_UPDATE}.",
                result.len()
            )));
        }
        members = Some(result);
    }
    let delay = c.cfg.audience_processing_delay.as_millis() as i64;
    let Some(a) = st.audiences.get_mut(&id) else {
        return Err(ApiError::not_found("Custom audience", &id));
    };
    if let Some(n) = s(&f, "custom_audience_name") {
        a.name = n.to_string();
    }
    if let Some(t) = s(&f, "audience_sub_type") {
        a.audience_sub_type = t.to_string();
    }
    if let Some(m) = members {
        a.members = m;
        a.ready_ms = c.now + delay;
    }
    a.modified_ms = c.now;
    Ok(Out::ok(json!({ "custom_audience_id": id }), 1))
}

/// `POST /dmp/custom_audience/delete/` (1–100 ids).
pub fn delete(c: &Call, st: &mut State) -> Handled {
    let (_, f) = c.checked_body("CustomAudienceDeleteBody")?;
    let adv = c.advertiser(st, s(&f, "advertiser_id").unwrap_or_default())?;
    let ids = list_of(&f, "custom_audience_ids");
    for id in &ids {
        audience(st, &adv.advertiser_id, id)?;
    }
    for id in &ids {
        if let Some(a) = st.audiences.get_mut(id) {
            a.deleted = true;
            a.modified_ms = c.now;
        }
    }
    Ok(Out::ok(json!({}), ids.len() as u64))
}

fn size(a: &Audience) -> u64 {
    a.cover.unwrap_or(a.members.len() as u64)
}

fn summary(a: &Audience, now: i64) -> Map<String, Value> {
    let ready = now >= a.ready_ms;
    let mut m = Map::new();
    m.insert("audience_id".into(), json!(a.id));
    m.insert("custom_audience_id".into(), json!(a.id));
    m.insert("name".into(), json!(a.name));
    m.insert(
        "audience_type".into(),
        json!(if a.lookalike {
            "Lookalike Audience"
        } else {
            "Customer File"
        }),
    );
    m.insert("audience_sub_type".into(), json!(a.audience_sub_type));
    m.insert("cover_num".into(), json!(if ready { size(a) } else { 0 }));
    m.insert("is_valid".into(), json!(ready));
    m.insert("is_expiring".into(), json!(false));
    let expires = a.retention_in_days.map(|d| a.modified_ms + d * 86_400_000);
    m.insert(
        "expired_time".into(),
        json!(expires.map(format_time).unwrap_or_default()),
    );
    m.insert("create_time".into(), json!(format_time(a.created_ms)));
    m.insert("update_time".into(), json!(format_time(a.modified_ms)));
    m.insert("calculate_type".into(), json!(a.calculate_type));
    m.insert("shared".into(), json!(false));
    m.insert("is_creator".into(), json!(true));
    m
}

/// `GET /dmp/custom_audience/list/` (page_size ≤ 100).
pub fn list(c: &Call, st: &mut State) -> Handled {
    let q = c.checked_query("custom_audience_list")?;
    let adv = c.advertiser(st, s(&q, "advertiser_id").unwrap_or_default())?;
    let page = q.get("page").and_then(Value::as_i64).unwrap_or(1);
    let page_size = q.get("page_size").and_then(Value::as_i64).unwrap_or(10);
    let only = q.get("custom_audience_ids").map(|_| list_of(&q, "custom_audience_ids"));
    let rows: Vec<Value> = st
        .audiences
        .values()
        .filter(|a| a.advertiser_id == adv.advertiser_id && !a.deleted)
        .filter(|a| only.as_ref().is_none_or(|ids| ids.contains(&a.id)))
        .map(|a| Value::Object(summary(a, c.now)))
        .collect();
    Ok(Out::ok(super::objects::paged(rows, page, page_size), 0))
}

/// `GET /dmp/custom_audience/get/?custom_audience_ids=[…]` (1–100 ids).
pub fn get(c: &Call, st: &mut State) -> Handled {
    let q = c.checked_query("custom_audience_get")?;
    let adv = c.advertiser(st, s(&q, "advertiser_id").unwrap_or_default())?;
    let mut list = Vec::new();
    for id in list_of(&q, "custom_audience_ids") {
        let a = audience(st, &adv.advertiser_id, &id)?;
        let mut details = summary(a, c.now);
        if let Some(spec) = &a.lookalike_spec {
            details.insert("lookalike_spec".into(), spec.clone());
        }
        details.insert("retention_in_days".into(), json!(a.retention_in_days));
        list.push(json!({ "audience_details": details, "audience_history": [] }));
    }
    Ok(Out::ok(json!({ "list": list }), 0))
}

/// `POST /dmp/custom_audience/lookalike/create/`: the seed is a ready customer file (not a lookalike) of at least
/// 100 users.
pub fn lookalike_create(c: &Call, st: &mut State) -> Handled {
    let (body, f) = c.checked_body("LookalikeCreateBody")?;
    let adv = c.advertiser(st, s(&f, "advertiser_id").unwrap_or_default())?;
    let spec = f
        .get("lookalike_spec")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let seed_id = s(&spec, "source_audience_id").unwrap_or_default().to_string();
    let seed = audience(st, &adv.advertiser_id, &seed_id)?;
    if seed.lookalike {
        return Err(param(format!(
            "lookalike_spec.source_audience_id: {seed_id} is a lookalike audience; a lookalike's source cannot be one."
        )));
    }
    if c.now < seed.ready_ms {
        return Err(param(format!(
            "lookalike_spec.source_audience_id: The audience {seed_id} is still being processed."
        )));
    }
    let n = seed.members.len();
    if n < MIN_SEED_USERS {
        return Err(param(format!(
            "lookalike_spec.source_audience_id: The source audience holds {n} users: a lookalike needs at least {MIN_SEED_USERS}."
        )));
    }
    let factor = match s(&spec, "audience_size") {
        Some("NARROW") => 10,
        Some("BROAD") => 50,
        _ => 25,
    };
    let raw_spec = body.get("lookalike_spec").map(Json::to_value).unwrap_or(Value::Null);
    let mut a = new_audience(
        st,
        c,
        &adv.advertiser_id,
        s(&f, "custom_audience_name").unwrap_or_default(),
    );
    a.lookalike = true;
    a.lookalike_spec = Some(raw_spec);
    a.cover = Some(n as u64 * factor);
    let id = a.id.clone();
    st.audiences.insert(id.clone(), a);
    Ok(Out::ok(json!({ "custom_audience_id": id }), 1))
}
