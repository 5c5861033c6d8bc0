//! DMP segments (matched audiences; WIRE-NOTES § Resources "DMP segment"): `POST /rest/dmpSegments` (CREATE),
//! `GET /rest/dmpSegments?q=account&account=<urn>&start&count`, the users sub-resource
//! `POST /rest/dmpSegments/{id}/users` (BATCH_CREATE of `{action: ADD|REMOVE, userIds: [{idType, idValue}]}`) and,
//! for company segments (type COMPANY…), the companies sub-resource `POST /rest/dmpSegments/{id}/companies`
//! (BATCH_CREATE of `{action, companyName?, companyWebsiteDomain?}`: the two fields the segment-companies page
//! shows; at least one of them, reading "more information, better match rate" as "something to match on").
//! GET, PARTIAL_UPDATE and DELETE of one segment are the generic ones of `ads`.

use serde_json::{json, Value};

use super::ads::{self, fail};
use super::error::ApiError;
use super::restli;
use super::state::{Kind, State};
use super::{Call, Handled, RMethod, Reply};

/// DMP segments per ad account (from 202608, all versions): beyond, 429 SEGMENT_LIMIT_EXCEEDED.
pub const MAX_SEGMENTS: usize = 1000;
/// Elements of one users batch (recalled 5,000; unverified).
pub const MAX_USER_ELEMENTS: usize = 5000;
/// start/count finders: default and largest count.
pub const COUNT: usize = 10;
pub const MAX_COUNT: usize = 1000;

const ID_TYPES: &[&str] = &["SHA256_EMAIL", "GOOGLE_AID"];

pub fn collection(c: &Call, st: &mut State) -> Handled {
    let kind = Kind::DmpSegment;
    let r = match c.method {
        RMethod::Create => {
            let body = c.json()?;
            let acct_id = body
                .get("account")
                .and_then(Value::as_str)
                .and_then(|u| u.strip_prefix("urn:li:sponsoredAccount:"))
                .map(str::to_string);
            let Some(acct_id) = acct_id else {
                return Err(ApiError::bad(
                    "account is required: the urn:li:sponsoredAccount URN the segment belongs to",
                ));
            };
            let acct = c.account(st, &acct_id, true).map_err(|e| fail(kind, e))?;
            let key = ads::create_one(c, st, kind, &acct, &Value::Object(body))?;
            Ok(Reply::created(key))
        }
        RMethod::Finder => {
            if c.params.str("q") != Some("account") {
                return Err(ApiError::bad("Unknown finder: dmpSegments has q=account"));
            }
            ads::only_params(c, &["account", "start", "count"])?;
            let acct_id = c
                .params
                .str("account")
                .and_then(|u| u.strip_prefix("urn:li:sponsoredAccount:"))
                .map(str::to_string)
                .ok_or_else(|| ApiError::bad("account=<urn:li:sponsoredAccount:…> is required (percent-encoded)"))?;
            let acct = c.account(st, &acct_id, false).map_err(|e| fail(kind, e))?;
            let num = |k: &str, default: usize, max: usize| -> Result<usize, ApiError> {
                match c.params.str(k) {
                    None => Ok(default),
                    Some(s) => s
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n <= max)
                        .ok_or_else(|| ApiError::bad(format!("{k} must be a number ≤ {max}, not {s}"))),
                }
            };
            let start = num("start", 0, usize::MAX)?;
            let count = num("count", COUNT, MAX_COUNT)?;
            let all: Vec<Value> = st
                .entities
                .values()
                .filter(|e| e.kind == kind && e.account == acct.id)
                .filter_map(|e| c.visible(e))
                .map(|e| ads::project(ads::render(st, &e), c.params.fields.as_ref()))
                .collect();
            let total = all.len();
            let elements: Vec<Value> = all.into_iter().skip(start).take(count).collect();
            Ok(Reply::json(json!({
                "elements": elements,
                "paging": {"start": start, "count": count, "total": total, "links": []},
            })))
        }
        _ => Err(ApiError::classic(405, "Method not supported on dmpSegments")),
    };
    r.map_err(|e| fail(kind, e))
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether a segment holds companies (type COMPANY, COMPANY_LIST_UPLOAD, COMPANY_STREAMING).
fn is_company_segment(fields: &serde_json::Map<String, Value>) -> bool {
    fields
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.starts_with("COMPANY"))
}

/// The live segment `raw` names, once it can take members (`what`: users or companies, of the right type).
fn ready_segment(c: &Call, st: &mut State, raw: &str, companies: bool) -> Result<(u64, String), ApiError> {
    let kind = Kind::DmpSegment;
    let id = ads::parse_key(kind, raw)?;
    let key = restli::percent_decode(raw).unwrap_or_default();
    let seg = st
        .entities
        .get(&id)
        .filter(|e| e.kind == kind && !e.deleted)
        .cloned()
        .ok_or_else(|| ApiError::classic(404, format!("DmpSegment {key} does not exist")))?;
    c.account(st, &seg.account, true).map_err(|e| e.into_classic())?;
    let what = if companies { "companies" } else { "users" };
    if is_company_segment(&seg.fields) != companies {
        return Err(ApiError::bad(format!(
            "DmpSegment {key} is a {} segment: add its members at /dmpSegments/{key}/{}",
            if companies { "user" } else { "company" },
            if companies { "users" } else { "companies" },
        )));
    }
    let wait = c.cfg.segment_user_wait.as_millis() as i64;
    if c.now - seg.created_ms < wait {
        return Err(ApiError::classic(
            404,
            format!(
                "DmpSegment {key} is not available yet: wait {} ms after creating a segment before adding {what}",
                wait
            ),
        ));
    }
    Ok((id, key))
}

/// `POST /rest/dmpSegments/{id}/companies` with X-RestLi-Method: BATCH_CREATE.
pub fn companies(c: &Call, st: &mut State, raw: &str) -> Handled {
    let (id, _key) = ready_segment(c, st, raw, true)?;
    let body = c.json()?;
    let Some(elements) = body.get("elements").and_then(Value::as_array) else {
        return Err(ApiError::bad(
            "The body is {\"elements\": [{\"action\": \"ADD\"|\"REMOVE\", \"companyName\", \"companyWebsiteDomain\"}]}",
        ));
    };
    if elements.len() > MAX_USER_ELEMENTS {
        return Err(ApiError::bad(format!(
            "Too many elements: at most {MAX_USER_ELEMENTS} per request"
        )));
    }
    let mut out = Vec::new();
    let (mut adds, mut removes) = (Vec::new(), Vec::new());
    for (i, el) in elements.iter().enumerate() {
        let problem = (|| -> Result<(bool, String), String> {
            let add = match el.get("action").and_then(Value::as_str) {
                Some("ADD") => true,
                Some("REMOVE") => false,
                other => return Err(format!("elements[{i}].action must be ADD or REMOVE, not {other:?}")),
            };
            if let Some(k) = el.as_object().and_then(|o| {
                o.keys()
                    .find(|k| !matches!(k.as_str(), "action" | "companyName" | "companyWebsiteDomain"))
            }) {
                return Err(format!("elements[{i}].{k} is not a field of a segment company"));
            }
            let name = el.get("companyName").and_then(Value::as_str).unwrap_or("").trim();
            let domain = el
                .get("companyWebsiteDomain")
                .and_then(Value::as_str)
                .unwrap_or("")
                .trim();
            if name.is_empty() && domain.is_empty() {
                return Err(format!(
                    "elements[{i}] names no company: give companyName or companyWebsiteDomain"
                ));
            }
            if domain.contains(char::is_whitespace) || domain.contains('/') && !domain.starts_with("http") {
                return Err(format!("elements[{i}].companyWebsiteDomain is not a domain"));
            }
            Ok((add, format!("{name}\t{domain}")))
        })();
        match problem {
            Ok((add, m)) => {
                if add {
                    adds.push(m);
                } else {
                    removes.push(m);
                }
                out.push(json!({"status": 201}));
            }
            Err(msg) => {
                let e = ApiError::bad(msg);
                out.push(json!({"status": 400, "error": e.body()}));
            }
        }
    }
    if let Some(s) = st.entities.get_mut(&id) {
        let mut prev = s.clone();
        prev.prev = None;
        let inputs = (adds.len() + removes.len()) as u64;
        for m in adds {
            s.members.insert(m);
        }
        for m in removes {
            s.members.remove(&m);
        }
        s.input_count += inputs;
        s.modified_ms = c.now;
        s.prev = Some(Box::new(prev));
    }
    let n = elements.len() as u64;
    Ok(Reply::json(json!({ "elements": out })).ops(n))
}

/// `POST /rest/dmpSegments/{id}/users` with X-RestLi-Method: BATCH_CREATE.
pub fn users(c: &Call, st: &mut State, raw: &str) -> Handled {
    let (id, _key) = ready_segment(c, st, raw, false)?;
    let body = c.json()?;
    let Some(elements) = body.get("elements").and_then(Value::as_array) else {
        return Err(ApiError::bad(
            "The body is {\"elements\": [{\"action\": \"ADD\"|\"REMOVE\", \"userIds\": [{\"idType\", \"idValue\"}]}]}",
        ));
    };
    if elements.len() > MAX_USER_ELEMENTS {
        return Err(ApiError::bad(format!(
            "Too many elements: at most {MAX_USER_ELEMENTS} per request"
        )));
    }
    let mut out = Vec::new();
    let (mut adds, mut removes, mut inputs) = (Vec::new(), Vec::new(), 0u64);
    for (i, el) in elements.iter().enumerate() {
        let problem = (|| -> Result<(bool, Vec<String>), String> {
            let add = match el.get("action").and_then(Value::as_str) {
                Some("ADD") => true,
                Some("REMOVE") => false,
                other => return Err(format!("elements[{i}].action must be ADD or REMOVE, not {other:?}")),
            };
            let ids = el
                .get("userIds")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| format!("elements[{i}].userIds must be a non-empty list"))?;
            let mut hashes = Vec::new();
            for (j, u) in ids.iter().enumerate() {
                let t = u.get("idType").and_then(Value::as_str).unwrap_or("");
                let v = u.get("idValue").and_then(Value::as_str).unwrap_or("");
                if !ID_TYPES.contains(&t) {
                    return Err(format!(
                        "elements[{i}].userIds[{j}].idType must be one of {}, not {t:?}",
                        ID_TYPES.join(", ")
                    ));
                }
                if t == "SHA256_EMAIL" && !is_sha256(v) {
                    return Err(format!(
                        "elements[{i}].userIds[{j}].idValue must be a SHA-256 hash (64 hex digits) of the \
                         normalised e-mail address"
                    ));
                }
                if v.is_empty() {
                    return Err(format!("elements[{i}].userIds[{j}].idValue is required"));
                }
                hashes.push(format!("{}:{}", t, v.to_ascii_lowercase()));
            }
            Ok((add, hashes))
        })();
        match problem {
            Ok((add, hashes)) => {
                inputs += hashes.len() as u64;
                if add {
                    adds.extend(hashes);
                } else {
                    removes.extend(hashes);
                }
                out.push(json!({"status": 201}));
            }
            Err(msg) => {
                let e = ApiError::bad(msg);
                out.push(json!({"status": 400, "error": e.body()}));
            }
        }
    }
    if let Some(s) = st.entities.get_mut(&id) {
        let mut prev = s.clone();
        prev.prev = None;
        for h in adds {
            s.members.insert(member_key(&h));
        }
        for h in removes {
            s.members.remove(&member_key(&h));
        }
        s.input_count += inputs;
        s.modified_ms = c.now;
        s.prev = Some(Box::new(prev));
    }
    let n = elements.len() as u64;
    Ok(Reply::json(json!({ "elements": out })).ops(n))
}

/// Members are kept as the bare hash for SHA256_EMAIL, `GOOGLE_AID:<id>` otherwise.
fn member_key(typed: &str) -> String {
    typed.strip_prefix("SHA256_EMAIL:").unwrap_or(typed).to_string()
}
