//! The Batch API: `POST /v25.0/` with `batch=[{method, relative_url, body, name, omit_response_on_success}]`.
//! At most 50 requests; each one is a full Graph call (and counts toward rate limits); `{result=name:$.path}`
//! refers to an earlier named response; responses come back in order with JSON-string bodies, and a named
//! request that a later one refers to is answered `null` on success unless `omit_response_on_success` is false.
//!
//! One batch may not hold several ad sets of the same campaign (WIRE-NOTES § Batch; the batch-requests page,
//! "Limitations"). Reading chosen (unverified): the batch itself is accepted and every other call runs, but each
//! ad-set create of a campaign that has two or more ad-set creates in the batch fails with code 100 (all of
//! them, not only the second), and calls that depend on those fail as dependencies do. "The same campaign" is
//! judged on the `campaign_id` as written (a literal id or the same `{result=…}` reference) before anything
//! runs, and again on the resolved id when a create runs (so two different references to one campaign are
//! caught too; then the later create fails).

use std::collections::HashMap;

use serde_json::{json, Value};

use super::error::GraphError;
use super::graph::{self, GraphRequest, GraphResponse};
use super::util;
use super::Inner;

pub const MAX_BATCH: usize = 50;

struct Item {
    method: String,
    relative_url: String,
    body: String,
    name: Option<String>,
    omit_on_success: bool,
}

fn parse_items(raw: &str) -> Result<Vec<Item>, GraphError> {
    let v: Value = serde_json::from_str(raw)
        .map_err(|_| GraphError::invalid_param("(#100) Param batch must be a valid JSON array of requests."))?;
    let arr = v
        .as_array()
        .ok_or_else(|| GraphError::invalid_param("(#100) Param batch must be a valid JSON array of requests."))?;
    if arr.len() > MAX_BATCH {
        return Err(GraphError::new(
            1,
            format!("Too many requests in batch message. Maximum batch size is {MAX_BATCH}"),
        )
        .kind("GraphBatchException"));
    }
    if arr.is_empty() {
        return Err(GraphError::invalid_param(
            "(#100) Param batch must contain at least one request.",
        ));
    }
    arr.iter()
        .map(|it| {
            let relative_url = it
                .get("relative_url")
                .and_then(Value::as_str)
                .ok_or_else(|| GraphError::invalid_param("(#100) Each batch request needs a relative_url."))?;
            Ok(Item {
                method: it
                    .get("method")
                    .and_then(Value::as_str)
                    .unwrap_or("GET")
                    .to_ascii_uppercase(),
                relative_url: relative_url.to_string(),
                body: it.get("body").and_then(Value::as_str).unwrap_or("").to_string(),
                name: it.get("name").and_then(Value::as_str).map(str::to_string),
                omit_on_success: it
                    .get("omit_response_on_success")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
            })
        })
        .collect()
}

/// Replace every `{result=name:$.path}` in `s` from earlier named responses.
fn substitute(s: &str, results: &HashMap<String, Option<Value>>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("{result=") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "{result=".len()..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let expr = &after[..end];
        let (name, path) = expr.split_once(':').unwrap_or((expr, "$"));
        let body = match results.get(name) {
            Some(Some(b)) => b,
            Some(None) => return Err(name.to_string()),
            None => return Err(name.to_string()),
        };
        out.push_str(&json_path(body, path).ok_or_else(|| name.to_string())?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The subset of JSONPath batch references use: `$.a.b`, `$.data.0.id`, `$.data.*.id` (comma-joined).
fn json_path(v: &Value, path: &str) -> Option<String> {
    let path = path.trim().strip_prefix('$').unwrap_or(path);
    let mut cur = vec![v.clone()];
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        let mut next = Vec::new();
        for c in &cur {
            match (seg, c) {
                ("*", Value::Array(a)) => next.extend(a.iter().cloned()),
                (s, Value::Array(a)) => {
                    if let Some(x) = s.parse::<usize>().ok().and_then(|i| a.get(i)) {
                        next.push(x.clone());
                    }
                }
                (s, Value::Object(m)) => {
                    if let Some(x) = m.get(s) {
                        next.push(x.clone());
                    }
                }
                _ => {}
            }
        }
        cur = next;
    }
    if cur.is_empty() {
        return None;
    }
    Some(
        cur.iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(","),
    )
}

fn referenced_later(items: &[Item], idx: usize, name: &str) -> bool {
    let needle = format!("{{result={name}:");
    let plain = format!("{{result={name}}}");
    items[idx + 1..].iter().any(|it| {
        let hay = format!("{} {}", it.relative_url, util::percent_decode(&it.body));
        hay.contains(&needle) || hay.contains(&plain)
    })
}

/// The `campaign_id` of an ad-set create (`POST act_{id}/adsets`), as written in the item.
fn adset_campaign(it: &Item) -> Option<String> {
    if it.method != "POST" {
        return None;
    }
    let (raw_path, query) = it.relative_url.split_once('?').unwrap_or((&it.relative_url, ""));
    let path = util::percent_decode(raw_path);
    let path = path.trim_matches('/');
    let path = path
        .strip_prefix(super::VERSION)
        .map(|u| u.trim_start_matches('/'))
        .unwrap_or(path);
    let (acct, edge) = path.split_once('/')?;
    if !acct.starts_with("act_") || edge != "adsets" {
        return None;
    }
    let mut params = util::parse_form(query);
    params.extend(util::parse_form(&it.body));
    params
        .into_iter()
        .rev()
        .find(|(k, _)| k == "campaign_id")
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn sibling_error(campaign: &str) -> GraphError {
    GraphError::rule(
        "Several Ad Sets of One Campaign in a Batch",
        format!(
            "A batch request cannot contain more than one ad set of the same campaign ({campaign}). Send the ad sets \
             of one campaign in separate batches."
        ),
    )
}

/// Run a batch call.
pub fn run(inner: &Inner, outer: &GraphRequest) -> GraphResponse {
    let cfg = inner.config();
    let trace = {
        let mut st = inner.lock();
        st.trace_seq += 1;
        graph::trace_id(cfg.seed, st.trace_seq)
    };
    let Some(raw) = outer.param("batch") else {
        return graph::error_response(&GraphError::missing_param("batch"), &trace, Vec::new());
    };
    let items = match parse_items(raw) {
        Ok(i) => i,
        Err(e) => return graph::error_response(&e, &trace, Vec::new()),
    };
    let include_headers = outer.param("include_headers") != Some("false");
    // ad-set creates per campaign, as written
    let mut per_campaign: HashMap<String, usize> = HashMap::new();
    for c in items.iter().filter_map(adset_campaign) {
        *per_campaign.entry(c).or_default() += 1;
    }
    let mut adset_campaigns: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut results: HashMap<String, Option<Value>> = HashMap::new();
    let mut out = Vec::with_capacity(items.len());
    for (idx, it) in items.iter().enumerate() {
        let written = adset_campaign(it);
        let sibling = written
            .as_ref()
            .filter(|c| per_campaign.get(*c).copied().unwrap_or(0) > 1)
            .cloned();
        let resp = match prepare(it, outer, &results) {
            Ok(req) if sibling.is_some() => {
                // name the campaign by its id when the reference resolved; the refused call still counts
                let c = req.param("campaign_id").map(str::trim).unwrap_or_default().to_string();
                inner.handle_or_refuse(&req, Some(sibling_error(&c)))
            }
            Ok(req) if written.is_some() => {
                let resolved = req.param("campaign_id").unwrap_or_default().trim().to_string();
                if adset_campaigns.insert(resolved.clone()) {
                    inner.handle(&req)
                } else {
                    inner.handle_or_refuse(&req, Some(sibling_error(&resolved)))
                }
            }
            Ok(req) => inner.handle(&req),
            Err(_) if sibling.is_some() => graph::error_response(
                &sibling_error(sibling.as_deref().unwrap_or_default()),
                &trace,
                Vec::new(),
            ),
            Err(dep) => {
                let e = GraphError::invalid_param(format!(
                    "(#100) This request depends on the request named '{dep}', which failed or returned no usable result."
                ));
                graph::error_response(&e, &trace, Vec::new())
            }
        };
        let ok = resp.status == 200;
        if let Some(name) = &it.name {
            results.insert(name.clone(), ok.then(|| resp.body.clone()));
        }
        let omit = ok && it.omit_on_success && it.name.as_deref().is_some_and(|n| referenced_later(&items, idx, n));
        if omit {
            out.push(Value::Null);
            continue;
        }
        let mut headers = vec![json!({"name": "Content-Type", "value": "text/javascript; charset=UTF-8"})];
        headers.extend(resp.headers.iter().map(|(k, v)| json!({"name": k, "value": v})));
        let mut entry = serde_json::Map::new();
        entry.insert("code".into(), json!(resp.status));
        if include_headers {
            entry.insert("headers".into(), Value::Array(headers));
        }
        entry.insert("body".into(), json!(resp.body.to_string()));
        out.push(Value::Object(entry));
    }
    GraphResponse {
        status: 200,
        headers: Vec::new(),
        body: Value::Array(out),
    }
}

fn prepare(it: &Item, outer: &GraphRequest, results: &HashMap<String, Option<Value>>) -> Result<GraphRequest, String> {
    let (raw_path, query) = it.relative_url.split_once('?').unwrap_or((&it.relative_url, ""));
    let path = substitute(&util::percent_decode(raw_path), results)?;
    let path = path.trim_start_matches('/');
    let path = path
        .strip_prefix(super::VERSION)
        .map(|u| u.trim_start_matches('/'))
        .unwrap_or(path);
    let mut params = util::parse_form(query);
    params.extend(util::parse_form(&it.body));
    for (_, v) in params.iter_mut() {
        *v = substitute(v, results)?;
    }
    for key in ["access_token", "appsecret_proof"] {
        if !params.iter().any(|(k, _)| k == key) {
            if let Some(v) = outer.param(key) {
                params.push((key.to_string(), v.to_string()));
            }
        }
    }
    Ok(GraphRequest {
        method: it.method.clone(),
        path: path.to_string(),
        params,
        base_url: outer.base_url.clone(),
        bearer: outer.bearer.clone(),
        read_lag: outer.read_lag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_path_subset() {
        let v = json!({"id": "1", "data": [{"id": "a"}, {"id": "b"}]});
        assert_eq!(json_path(&v, "$.id").as_deref(), Some("1"));
        assert_eq!(json_path(&v, "$.data.1.id").as_deref(), Some("b"));
        assert_eq!(json_path(&v, "$.data.*.id").as_deref(), Some("a,b"));
        assert_eq!(json_path(&v, "$.nope"), None);
    }

    #[test]
    fn substitution() {
        let mut r = HashMap::new();
        r.insert("c".to_string(), Some(json!({"id": "42"})));
        assert_eq!(substitute("campaign_id={result=c:$.id}", &r).unwrap(), "campaign_id=42");
        r.insert("f".to_string(), None);
        assert_eq!(substitute("{result=f:$.id}", &r), Err("f".to_string()));
    }
}
