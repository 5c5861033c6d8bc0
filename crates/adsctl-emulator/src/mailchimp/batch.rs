//! Batch operations (WIRE-NOTES § Batch operations): `POST /3.0/batches` takes operations whose `body` is a JSON
//! string; the batch is `pending`, `started` at its first GET and `finished` at its second (the operations run
//! then, in order, as the batch's account). The results are a gzipped tar of JSON files (`<id>/<n>.json`, at most
//! [`RESULTS_PER_FILE`] each, in a scrambled order), each an array of `{status_code, operation_id, response}`
//! whose `response` is the answer's JSON as a string again. The `response_body_url` is signed afresh at each GET
//! of a finished batch and expires [`RESULT_URL_TTL_SECS`](super::RESULT_URL_TTL_SECS) later by the emulator clock.

use std::collections::HashMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use sha2::Digest as _;

use super::{
    dispatch, invalid, iso, not_found, object, ok, request_id, require, too_many_requests, types, wrong_type, Batch,
    Ctx, Inner, McErr, Out, State, API_PREFIX, RESULT_URL_TTL_SECS,
};
use crate::rng::hash_str;

pub const RESULTS_PER_FILE: usize = 10;
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

fn signature(id: &str, expires: i64) -> String {
    let d = sha2::Sha256::digest(format!("{id}:{expires}:mailchimp-emulator-batch-results").as_bytes());
    hex::encode(d)[..32].to_string()
}

/// The batch as the API renders it (a finished batch gets a freshly signed results URL).
pub fn render(ctx: &Ctx, b: &Batch) -> Value {
    let url = if b.status == "finished" {
        let expires = ctx.now + RESULT_URL_TTL_SECS;
        format!(
            "http://{}/_emulator/mailchimp/batch-results/{}.tar.gz?expires={expires}&signature={}",
            ctx.host,
            b.id,
            signature(&b.id, expires)
        )
    } else {
        String::new()
    };
    let finished = if b.status == "finished" { b.results.len() } else { 0 };
    json!({
        "id": b.id, "status": b.status, "total_operations": b.operations.len(), "finished_operations": finished,
        "errored_operations": b.errored, "submitted_at": iso(b.submitted_at),
        "completed_at": b.completed_at.map(iso).unwrap_or_default(), "response_body_url": url, "_links": [],
    })
}

pub fn create(ctx: &Ctx, st: &mut State, body: &Value) -> Result<Out, McErr> {
    let o = object(body)?;
    require(o, &["operations"], "")?;
    types(o, &[("operations", "array")], "")?;
    let ops = o["operations"].as_array().cloned().unwrap_or_default();
    for (i, op) in ops.iter().enumerate() {
        let f = format!("operations.{i}");
        let m = op.as_object().ok_or_else(|| wrong_type(&f, "object", op))?;
        require(m, &["method", "path"], &f)?;
        types(
            m,
            &[
                ("method", "string"),
                ("path", "string"),
                ("params", "object"),
                ("body", "string"),
                ("operation_id", "string"),
            ],
            &f,
        )?;
        let method = m["method"].as_str().unwrap_or("");
        if !METHODS.contains(&method) {
            return Err(invalid(
                &format!("{f}.method"),
                format!("Value must be one of: {}", METHODS.join(", ")),
            ));
        }
    }
    let pending = st
        .batches
        .values()
        .filter(|b| b.account == ctx.account && b.status != "finished")
        .count();
    if pending >= ctx.cfg.max_pending_batches {
        let mut e = too_many_requests();
        e.detail = format!(
            "You have reached the limit of {} pending batch operations.",
            ctx.cfg.max_pending_batches
        );
        return Err(e);
    }
    let id = loop {
        let id = st.hex_id("batch", 10);
        if !st.batches.contains_key(&id) {
            break id;
        }
    };
    let seq = st.bump();
    let b = Batch {
        id: id.clone(),
        account: ctx.account.to_string(),
        operations: ops,
        status: "pending".into(),
        submitted_at: ctx.now,
        completed_at: None,
        results: Vec::new(),
        errored: 0,
        seq,
    };
    let v = render(ctx, &b);
    st.batches.insert(id, b);
    ok(v)
}

/// GET /batches/{id}: advance pending → started → finished (running the operations), then render.
pub fn poll(ctx: &Ctx, st: &mut State, id: &str) -> Result<Out, McErr> {
    let status = match st.batches.get(id) {
        Some(b) if b.account == ctx.account => b.status.clone(),
        _ => return Err(not_found()),
    };
    match status.as_str() {
        "pending" => {
            if let Some(b) = st.batches.get_mut(id) {
                b.status = "started".into();
            }
        }
        "started" => run(ctx, st, id),
        _ => {}
    }
    let b = st.batches.get(id).ok_or_else(not_found)?;
    ok(render(ctx, b))
}

fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(param_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn run(ctx: &Ctx, st: &mut State, id: &str) {
    let Some(b) = st.batches.get(id) else { return };
    let ops = b.operations.clone();
    let sub = Ctx {
        account: ctx.account,
        now: ctx.now,
        host: ctx.host,
        cfg: ctx.cfg,
        in_batch: true,
    };
    let mut results = Vec::new();
    let mut errored = 0;
    for op in &ops {
        let method = op["method"].as_str().unwrap_or("GET");
        let raw = op["path"].as_str().unwrap_or("");
        let raw = raw.strip_prefix(API_PREFIX).unwrap_or(raw);
        let (path, qs) = raw.split_once('?').unwrap_or((raw, ""));
        let mut q: Vec<(String, String)> = serde_urlencoded::from_str(qs).unwrap_or_default();
        if let Some(Value::Object(p)) = op.get("params") {
            for (k, v) in p {
                q.push((k.clone(), param_text(v)));
            }
        }
        let body = op["body"].as_str().unwrap_or("");
        let (code, response) = match dispatch(&sub, st, method, path, &q, body.as_bytes()) {
            Ok(o) => (o.status, o.body.map(|b| b.to_string()).unwrap_or_default()),
            Err(e) => (e.status, e.body(&request_id()).to_string()),
        };
        if code != 200 {
            errored += 1;
        }
        results.push(
            json!({"status_code": code, "operation_id": op.get("operation_id").cloned().unwrap_or(Value::Null),
                            "response": response}),
        );
    }
    if let Some(b) = st.batches.get_mut(id) {
        b.results = results;
        b.errored = errored;
        b.status = "finished".into();
        b.completed_at = Some(ctx.now);
    }
}

/// The results archive of a finished batch: a gzipped tar of JSON arrays.
pub fn archive(b: &Batch) -> Vec<u8> {
    let mut order: Vec<&Value> = b.results.iter().collect();
    order.sort_by_key(|r| hash_str(&format!("{}:{}", b.id, r)));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (n, chunk) in order.chunks(RESULTS_PER_FILE).enumerate() {
        let data = serde_json::to_vec(&chunk).unwrap_or_default();
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(b.completed_at.unwrap_or(0).max(0) as u64);
        h.set_cksum();
        let _ = tar.append_data(&mut h, format!("{}/{n}.json", b.id), data.as_slice());
    }
    match tar.into_inner() {
        Ok(gz) => gz.finish().unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

fn storage_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    r
}

/// GET of a response_body_url.
pub fn download(inner: &Inner, file: &str, q: &HashMap<String, String>) -> Response {
    let id = file.strip_suffix(".tar.gz").unwrap_or(file);
    let st = inner.lock();
    let Some(b) = st.batches.get(id).filter(|b| b.status == "finished") else {
        return storage_error(StatusCode::NOT_FOUND, "NoSuchKey", "The specified key does not exist.");
    };
    let expires: i64 = q.get("expires").and_then(|e| e.parse().ok()).unwrap_or(0);
    if q.get("signature").map(String::as_str) != Some(signature(id, expires).as_str()) {
        return storage_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    if st.now() > expires {
        return storage_error(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired");
    }
    let data = archive(b);
    let mut r = (StatusCode::OK, data).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-gzip"));
    r
}
