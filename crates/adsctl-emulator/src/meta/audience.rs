//! Custom audiences: creation rules (customer lists and lookalikes) and `/users` uploads.

use serde_json::{json, Map, Value};

use super::error::GraphError;
use super::graph::Ctx;
use super::state::{Kind, Session};
use super::util;

/// Most users one `/users` call may carry.
pub const MAX_USERS_PER_REQUEST: usize = 10_000;
/// Members a lookalike's seed audience needs.
pub const MIN_SEED_MEMBERS: usize = 100;

/// Keys of customer-list schemas; the hashed ones must be SHA-256 as 64 lowercase hex characters.
const HASHED_KEYS: &[&str] = &[
    "EMAIL_SHA256",
    "PHONE_SHA256",
    "EMAIL",
    "PHONE",
    "FN",
    "LN",
    "FI",
    "ZIP",
    "CT",
    "ST",
    "COUNTRY",
    "DOBY",
    "DOBM",
    "DOBD",
    "GEN",
];
const PLAIN_KEYS: &[&str] = &["EXTERN_ID", "MADID", "MOBILE_ADVERTISER_ID"];

fn lookalike_spec(raw: &Value) -> Result<Value, GraphError> {
    let spec = match raw {
        Value::String(s) => serde_json::from_str::<Value>(s)
            .map_err(|_| GraphError::invalid_param("(#100) Param lookalike_spec must be a valid JSON object."))?,
        other => other.clone(),
    };
    let obj = spec
        .as_object()
        .ok_or_else(|| GraphError::invalid_param("(#100) Param lookalike_spec must be a valid JSON object."))?;
    let has_place =
        obj.contains_key("country") || obj.contains_key("location_spec") || obj.contains_key("target_countries");
    if !has_place {
        return Err(GraphError::rule(
            "Lookalike Location Missing",
            "A lookalike_spec needs a country (or location_spec) to find similar people in.",
        ));
    }
    let ratio = obj.get("ratio").and_then(Value::as_f64).ok_or_else(|| {
        GraphError::rule(
            "Invalid Lookalike Ratio",
            "A lookalike_spec needs a ratio between 0.01 and 0.20.",
        )
    })?;
    let steps = ratio * 100.0;
    if !(0.01 - 1e-9..=0.20 + 1e-9).contains(&ratio) || (steps - steps.round()).abs() > 1e-6 {
        return Err(GraphError::rule(
            "Invalid Lookalike Ratio",
            "The lookalike ratio must be between 0.01 and 0.20, in steps of 0.01.",
        ));
    }
    if let Some(start) = obj.get("starting_ratio").and_then(Value::as_f64) {
        if start >= ratio {
            return Err(GraphError::rule(
                "Invalid Lookalike Ratio",
                "The lookalike starting_ratio must be smaller than its ratio.",
            ));
        }
    }
    Ok(spec)
}

/// A name that is present and not blank. Reading chosen (unverified): the spec marks `name` optional, but an
/// audience without a name is refused like a missing required parameter.
fn check_name(p: &Map<String, Value>, required: bool) -> Result<(), GraphError> {
    match p.get("name") {
        None if !required => Ok(()),
        Some(Value::String(n)) if !n.trim().is_empty() => Ok(()),
        _ => Err(GraphError::missing_param("name")),
    }
}

pub fn check_create(
    ctx: &mut Ctx,
    account: &str,
    p: &Map<String, Value>,
    fields: &mut Map<String, Value>,
) -> Result<(), GraphError> {
    check_name(p, true)?;
    let subtype = p.get("subtype").and_then(Value::as_str).unwrap_or("CUSTOM").to_string();
    fields.insert("subtype".into(), json!(subtype));
    // A customer list (subtype CUSTOM, the default) says where its data comes from (reading chosen, unverified:
    // customer_file_source is required for customer lists).
    if subtype == "CUSTOM" && !p.contains_key("customer_file_source") {
        return Err(GraphError::missing_param("customer_file_source"));
    }
    if subtype == "LOOKALIKE" {
        let origin = p
            .get("origin_audience_id")
            .and_then(Value::as_str)
            .ok_or_else(|| GraphError::missing_param("origin_audience_id"))?;
        let seed = ctx
            .st
            .objects
            .get(origin)
            .filter(|o| o.kind == Kind::CustomAudience && o.account == account)
            .ok_or_else(|| {
                GraphError::rule(
                    "Invalid Source Audience",
                    format!("The source audience {origin} does not exist in this ad account."),
                )
            })?;
        if seed.str_field("subtype") == Some("LOOKALIKE") {
            return Err(GraphError::rule(
                "Invalid Source Audience",
                "A lookalike audience can't be the source of another lookalike.",
            ));
        }
        let members = ctx.st.members.get(origin).map(|m| m.len()).unwrap_or(0);
        if members < MIN_SEED_MEMBERS {
            return Err(GraphError::rule(
                "Source Audience Is Too Small",
                format!("The source audience must include at least {MIN_SEED_MEMBERS} people from a single country to create a lookalike audience."),
            ));
        }
        let raw = p
            .get("lookalike_spec")
            .ok_or_else(|| GraphError::missing_param("lookalike_spec"))?;
        let mut spec = lookalike_spec(raw)?;
        if let Some(o) = spec.as_object_mut() {
            o.insert("origin".into(), json!([{ "id": origin, "type": "custom_audience" }]));
            o.entry("type").or_insert(json!("custom_ratio"));
        }
        fields.insert("lookalike_spec".into(), spec);
    } else if p.contains_key("lookalike_spec") || p.contains_key("origin_audience_id") {
        return Err(GraphError::rule(
            "Invalid Audience Type",
            "lookalike_spec and origin_audience_id are only valid with subtype LOOKALIKE.",
        ));
    }
    Ok(())
}

pub fn check_update(p: &Map<String, Value>, fields: &mut Map<String, Value>) -> Result<(), GraphError> {
    check_name(p, false)?;
    if let Some(raw) = p.get("lookalike_spec") {
        fields.insert("lookalike_spec".into(), lookalike_spec(raw)?);
    }
    Ok(())
}

fn valid_entry(key: &str, v: &str) -> bool {
    if PLAIN_KEYS.contains(&key) {
        return !v.trim().is_empty();
    }
    v.len() == 64 && v.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What an upload does to an audience's members.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upload {
    /// `POST /{id}/users`
    Add,
    /// `DELETE /{id}/users`
    Remove,
    /// `POST /{id}/usersreplace` (CustomAudience.json): the members become what the session uploads; the first
    /// batch of the session (`batch_seq` 1) empties the audience.
    Replace,
}

/// POST (add) or DELETE (remove) `/{audience_id}/users`, POST `/{audience_id}/usersreplace`.
pub fn upload(ctx: &mut Ctx, id: &str, p: &Map<String, Value>, mode: Upload) -> Result<Value, GraphError> {
    let add = mode != Upload::Remove;
    let (account, is_lookalike) = match ctx.st.objects.get(id) {
        Some(o) if o.kind == Kind::CustomAudience => (o.account.clone(), o.str_field("subtype") == Some("LOOKALIKE")),
        _ => return Err(GraphError::unsupported(if add { "POST" } else { "DELETE" }, id)),
    };
    let _ = account;
    if is_lookalike {
        return Err(GraphError::rule(
            "Can't Add People to This Audience",
            "People can only be added to or removed from customer list custom audiences.",
        ));
    }
    let payload = p.get("payload").ok_or_else(|| GraphError::missing_param("payload"))?;
    let schema: Vec<String> = match payload.get("schema") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => return Err(GraphError::invalid_param("(#100) Missing schema in payload")),
    };
    if schema.is_empty()
        || schema
            .iter()
            .any(|k| !HASHED_KEYS.contains(&k.as_str()) && !PLAIN_KEYS.contains(&k.as_str()))
    {
        return Err(GraphError::invalid_param(format!(
            "(#100) Invalid schema: {}",
            schema.join(",")
        )));
    }
    let data = payload
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| GraphError::invalid_param("(#100) Missing data in payload"))?;
    if data.len() > MAX_USERS_PER_REQUEST {
        return Err(GraphError::rule(
            "Too Many Users in One Request",
            format!(
                "A request can include at most {MAX_USERS_PER_REQUEST} users; this one has {}. Split the upload into several requests with a session.",
                data.len()
            ),
        ));
    }
    let mut valid = Vec::new();
    let mut invalid = 0u64;
    let mut samples = Map::new();
    for row in data {
        let cells: Vec<Option<&str>> = match row {
            Value::String(s) if schema.len() == 1 => vec![Some(s.as_str())],
            Value::Array(a) if a.len() == schema.len() => a.iter().map(Value::as_str).collect(),
            _ => vec![None],
        };
        let ok = cells.len() == schema.len()
            && cells
                .iter()
                .zip(&schema)
                .all(|(c, k)| c.is_some_and(|c| valid_entry(k, c)));
        if ok {
            valid.push(cells.iter().map(|c| c.unwrap_or("")).collect::<Vec<_>>().join("|"));
        } else {
            invalid += 1;
            if samples.len() < 10 {
                let shown = match row {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                samples.insert(
                    shown,
                    json!("Invalid format: expected a SHA-256 hash in lowercase hexadecimal"),
                );
            }
        }
    }
    if !data.is_empty() && valid.is_empty() {
        return Err(GraphError::rule(
            "Data Hashing Error",
            format!(
                "None of the {} entries could be read: each must be normalised and hashed with SHA-256 as 64 lowercase hexadecimal characters.",
                data.len()
            ),
        ));
    }
    let session = p.get("session");
    let session_id = session
        .and_then(|s| s.get("session_id"))
        .and_then(|v| {
            v.as_u64()
                .map(|n| n.to_string())
                .or_else(|| v.as_str().map(str::to_string))
        })
        .unwrap_or_else(|| {
            (util::hash64(&[id, &ctx.trace]) % 9_000_000_000_000_000 + 1_000_000_000_000_000).to_string()
        });
    if !ctx
        .req
        .params
        .iter()
        .any(|(k, v)| k == "execution_options" && v.contains("validate_only"))
    {
        let members = ctx.st.members.entry(id.to_string()).or_default();
        let first_batch = session
            .and_then(|s| s.get("batch_seq"))
            .and_then(Value::as_u64)
            .is_none_or(|n| n == 1);
        if mode == Upload::Replace && first_batch {
            members.clear();
        }
        for v in &valid {
            if add {
                members.insert(util::sha256_hex(v));
            } else {
                members.remove(&util::sha256_hex(v));
            }
        }
        let sessions = ctx.st.sessions.entry(id.to_string()).or_default();
        let batch_seq = session
            .and_then(|s| s.get("batch_seq"))
            .and_then(Value::as_u64)
            .unwrap_or(1);
        let last = session
            .and_then(|s| s.get("last_batch_flag"))
            .and_then(Value::as_bool)
            .unwrap_or(true);
        match sessions.iter_mut().find(|s| s.session_id == session_id) {
            Some(s) => {
                s.batch_seq = batch_seq;
                s.last_batch_flag = last;
                s.num_received += data.len() as u64;
                s.num_invalid_entries += invalid;
            }
            None => sessions.push(Session {
                session_id: session_id.clone(),
                batch_seq,
                last_batch_flag: last,
                num_received: data.len() as u64,
                num_invalid_entries: invalid,
            }),
        }
        let now = ctx.now;
        if let Some(o) = ctx.st.objects.get_mut(id) {
            o.updated_ms = now;
        }
    }
    Ok(json!({
        "audience_id": id,
        "session_id": session_id.parse::<u64>().map(Value::from).unwrap_or(Value::String(session_id)),
        "num_received": data.len(),
        "num_invalid_entries": invalid,
        "invalid_entry_samples": Value::Object(samples),
    }))
}
