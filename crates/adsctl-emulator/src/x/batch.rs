//! `POST /12/batch/accounts/{a}/{campaigns|line_items|targeting_criteria}`: a JSON array of Create / Update /
//! Delete operations applied all or nothing, with `operation_errors` per item when any fails.

use serde_json::{json, Value};

use super::error::{invalid, missing, Reply, Routed, XErr};
use super::objects::{create, delete, update};
use super::params::Params;
use super::state::{Kind, State, XConfig};

/// A JSON value of a batch item's params as the query-string text the single endpoint would get.
fn param_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(param_text).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub(super) fn batch(
    cfg: &XConfig,
    st: &mut State,
    now: i64,
    account: &str,
    k: Kind,
    max: usize,
    body: &[u8],
) -> Routed {
    let bad = |msg: String| Err((vec![XErr::new(400, "INVALID_PARAMETER", msg)], json!([])));
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(body) else {
        return bad("The body must be a JSON array of operations".into());
    };
    if items.is_empty() {
        return bad("The batch is empty".into());
    }
    if items.len() > max {
        return bad(format!("A batch carries at most {max} items, got {}", items.len()));
    }
    let mut work = st.clone();
    let mut data = Vec::new();
    let mut request = Vec::new();
    let mut op_errors = Vec::new();
    let mut failed = false;
    for item in &items {
        let op = item.get("operation_type").and_then(Value::as_str).unwrap_or("");
        let params: Vec<(String, String)> = item
            .get("params")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), param_text(v))).collect())
            .unwrap_or_default();
        let p = Params(params);
        let id = p.get(k.id_param()).unwrap_or("").to_string();
        let r = match op {
            "Create" => create(cfg, &mut work, now, account, k, &p),
            "Update" if k == Kind::TargetingCriterion => Err(invalid(
                "operation_type",
                "targeting criteria have no Update: delete and create",
            )),
            "Update" if id.is_empty() => Err(missing(k.id_param())),
            "Update" => {
                let without: Params = Params(p.0.iter().filter(|(n, _)| n != k.id_param()).cloned().collect());
                update(&mut work, now, account, k, &id, &without)
            }
            "Delete" if id.is_empty() => Err(missing(k.id_param())),
            "Delete" => delete(&mut work, now, account, k, &id),
            other => Err(invalid("operation_type", format!("Unknown operation_type \"{other}\""))),
        };
        let echo = p.echo(&[("account_id", account)]);
        request.push(json!({"params": echo["params"], "operation_type": op}));
        match r {
            Ok(v) => {
                data.push(v);
                op_errors.push(json!([]));
            }
            Err(e) => {
                failed = true;
                op_errors.push(json!([e.json()]));
            }
        }
    }
    if failed {
        return Ok(Reply {
            status: 400,
            body: json!({"operation_errors": op_errors, "request": request}),
            ops: 0,
        });
    }
    *st = work;
    Ok(Reply {
        status: 200,
        body: if k == Kind::TargetingCriterion {
            json!({"data": data, "data_type": "targeting_criterion", "request": request})
        } else {
            json!({"data": data, "request": request})
        },
        ops: items.len() as u64,
    })
}
