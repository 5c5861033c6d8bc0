//! Request parameters (decoded query + form body, or a batch item's params) read with X's parameter errors, their
//! echo in `request.params`, and cursor paging (`count`, `cursor`, `with_total_count`).

use serde_json::{json, Map, Value};

use super::error::{invalid, missing, Reply, XErr};
use super::state::{is_base36, to_base36};
use super::{DEFAULT_COUNT, MAX_COUNT, MAX_IDS};

/// The request parameters (decoded query + form body, or a batch item's params), first value wins.
#[derive(Clone, Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub(super) fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    pub(super) fn required(&self, k: &str) -> Result<&str, XErr> {
        match self.get(k) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(missing(k)),
        }
    }
    pub(super) fn boolean(&self, k: &str) -> Result<Option<bool>, XErr> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(invalid(k, format!("Expected Boolean, got \"{v}\" for {k}"))),
        }
    }
    pub(super) fn enumerated(&self, k: &str, allowed: &[&str]) -> Result<Option<String>, XErr> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
            Some(v) => Err(invalid(
                k,
                format!("Expected enum value in [{}], got \"{v}\" for {k}", allowed.join(", ")),
            )),
        }
    }
    /// A positive int64 in micros.
    pub(super) fn micros(&self, k: &str) -> Result<Option<i64>, XErr> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => Err(invalid(k, format!("Expected Long greater than 0, got \"{v}\" for {k}"))),
            },
        }
    }
    pub(super) fn text(&self, k: &str, max: usize) -> Result<Option<String>, XErr> {
        match self.get(k) {
            None => Ok(None),
            Some(v) if v.chars().count() > max => Err(invalid(
                k,
                format!("{k} must be at most {max} characters, got {}", v.chars().count()),
            )),
            Some(v) => Ok(Some(v.to_string())),
        }
    }
    pub(super) fn time(&self, k: &str) -> Result<Option<i64>, XErr> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => match chrono::DateTime::parse_from_rfc3339(v) {
                Ok(t) => Ok(Some(t.timestamp())),
                Err(_) => Err(XErr {
                    status: 400,
                    code: "INVALID_PARAMETER",
                    message: format!("Expected time, got \"{v}\" for {k}"),
                    parameter: Some(k.to_string()),
                }),
            },
        }
    }
    /// A comma list of base-36 ids, at most 200.
    pub(super) fn ids(&self, k: &str) -> Result<Option<Vec<String>>, XErr> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => {
                let ids: Vec<String> = v.split(',').map(|s| s.trim().to_string()).collect();
                if ids.len() > MAX_IDS {
                    return Err(invalid(
                        k,
                        format!("{k} accepts at most {MAX_IDS} ids, got {}", ids.len()),
                    ));
                }
                if let Some(bad) = ids.iter().find(|i| !is_base36(i)) {
                    return Err(invalid(k, format!("Invalid id \"{bad}\" for {k}")));
                }
                Ok(Some(ids))
            }
        }
    }
    /// The echo of `request.params`, re-typed (ids lists as arrays, numbers as numbers, booleans as booleans).
    pub(super) fn echo(&self, path: &[(&str, &str)]) -> Value {
        let mut m = Map::new();
        for (k, v) in path {
            m.insert(k.to_string(), json!(v));
        }
        for (k, v) in &self.0 {
            if k.starts_with("oauth_") || m.contains_key(k) {
                continue;
            }
            let val = if k.ends_with("_ids") || k == "placements" {
                json!(v.split(',').collect::<Vec<_>>())
            } else if v == "true" || v == "false" {
                json!(v == "true")
            } else if (k.ends_with("_local_micro") || k == "count" || k == "frequency_cap" || k == "duration_in_days")
                && v.parse::<i64>().is_ok()
            {
                json!(v.parse::<i64>().unwrap_or(0))
            } else {
                json!(v)
            };
            m.insert(k.clone(), val);
        }
        json!({ "params": m })
    }
}

pub(super) struct Paging {
    count: usize,
    offset: usize,
    total: bool,
}

pub(super) fn paging(p: &Params) -> Result<Paging, XErr> {
    let count = match p.get("count") {
        None | Some("") => DEFAULT_COUNT,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_COUNT).contains(&n) => n,
            _ => {
                return Err(invalid(
                    "count",
                    format!("Expected integer between 1 and {MAX_COUNT}, got \"{v}\" for count"),
                ))
            }
        },
    };
    let offset = match p.get("cursor") {
        None | Some("") => 0,
        Some(c) => match c.strip_prefix('c').and_then(|n| u64::from_str_radix(n, 36).ok()) {
            Some(n) => n as usize,
            None => return Err(invalid("cursor", format!("Invalid cursor \"{c}\""))),
        },
    };
    let total = p.boolean("with_total_count")?.unwrap_or(false);
    if total && p.get("cursor").is_some_and(|c| !c.is_empty()) {
        return Err(
            XErr::new(400, "EXCLUSIVE_PARAMETERS", "with_total_count and cursor are exclusive")
                .param("with_total_count"),
        );
    }
    Ok(Paging { count, offset, total })
}

pub(super) fn page(items: Vec<Value>, pg: &Paging) -> Reply {
    let total = items.len();
    let end = (pg.offset + pg.count).min(total);
    let data: Vec<Value> = items.into_iter().skip(pg.offset).take(pg.count).collect();
    let next = if end < total {
        json!(format!("c{}", to_base36(end as u64)))
    } else {
        Value::Null
    };
    let mut body = json!({"data": data, "next_cursor": next, "request": {}});
    if pg.total {
        body["total_count"] = json!(total);
    }
    Reply {
        status: 200,
        body,
        ops: 0,
    }
}
