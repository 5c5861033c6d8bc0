//! Custom audiences: their fields (a unique name per account, effective_at / expires_at) and
//! `POST …/custom_audiences/{id}/users`, whose operations add or remove hashed user keys, all or nothing.

use serde_json::{json, Map, Value};

use super::error::{invalid, missing, XErr};
use super::objects::{find, not_found};
use super::params::Params;
use super::state::{Kind, State};
use super::{MAX_AUDIENCE_BODY, MAX_AUDIENCE_OPERATIONS};

pub(super) fn audience_fields(
    st: &State,
    account: &str,
    own: Option<&str>,
    p: &Params,
    fields: &mut Map<String, Value>,
    creating: bool,
) -> Result<(), XErr> {
    if creating {
        p.required("name")?;
    }
    if let Some(name) = p.text("name", 255)? {
        if name.is_empty() {
            return Err(invalid("name", "name must be 1 to 255 characters"));
        }
        let taken = st.objects.values().any(|o| {
            o.kind == Kind::CustomAudience
                && o.account == account
                && !o.deleted
                && Some(o.id.as_str()) != own
                && o.fields.get("name") == Some(&json!(name))
        });
        if taken {
            return Err(invalid(
                "name",
                format!("A custom audience named \"{name}\" already exists"),
            ));
        }
        fields.insert("name".into(), json!(name));
    }
    if let Some(d) = p.get("description") {
        fields.insert("description".into(), if d.is_empty() { Value::Null } else { json!(d) });
    } else if creating {
        fields.insert("description".into(), Value::Null);
    }
    Ok(())
}

const USER_KEYS: &[&str] = &[
    "email",
    "handle",
    "twitter_id",
    "device_id",
    "phone_number",
    "partner_user_id",
];

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// POST …/custom_audiences/{id}/users: a JSON array of Update/Delete operations, all or nothing.
pub(super) fn audience_users(st: &mut State, now: i64, account: &str, id: &str, body: &[u8]) -> Result<Value, XErr> {
    match find(st, account, Kind::CustomAudience, id) {
        Some(o) if !o.deleted => {}
        _ => return Err(not_found(Kind::CustomAudience, id)),
    }
    if body.len() > MAX_AUDIENCE_BODY {
        return Err(XErr::new(
            400,
            "INVALID_PARAMETER",
            format!("The body carries {} bytes, at most {MAX_AUDIENCE_BODY}", body.len()),
        ));
    }
    let Ok(Value::Array(ops)) = serde_json::from_slice::<Value>(body) else {
        return Err(XErr::new(
            400,
            "INVALID_PARAMETER",
            "The body must be a JSON array of operations",
        ));
    };
    if ops.is_empty() || ops.len() > MAX_AUDIENCE_OPERATIONS {
        return Err(XErr::new(
            400,
            "INVALID_PARAMETER",
            format!(
                "Between 1 and {MAX_AUDIENCE_OPERATIONS} operation objects, got {}",
                ops.len()
            ),
        ));
    }
    let mut members = st.audience_members.get(id).cloned().unwrap_or_default();
    let mut total = 0u64;
    for (i, op) in ops.iter().enumerate() {
        let kind = op.get("operation_type").and_then(Value::as_str).unwrap_or("");
        if !matches!(kind, "Update" | "Delete") {
            return Err(invalid(
                "operation_type",
                format!("operation {i}: operation_type is Update or Delete"),
            ));
        }
        let params = op.get("params").cloned().unwrap_or(Value::Null);
        let time = |k: &str| -> Result<Option<i64>, XErr> {
            match params.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(t)) => chrono::DateTime::parse_from_rfc3339(t)
                    .map(|t| Some(t.timestamp()))
                    .map_err(|_| invalid(k, format!("Expected time, got \"{t}\" for {k}"))),
                Some(_) => Err(invalid(k, format!("Expected time for {k}"))),
            }
        };
        let effective = time("effective_at")?.unwrap_or(now);
        let expires = time("expires_at")?.unwrap_or(now + 395 * 86_400);
        if expires <= effective {
            return Err(invalid("expires_at", "expires_at must be after effective_at"));
        }
        let Some(users) = params.get("users").and_then(Value::as_array) else {
            return Err(missing("users"));
        };
        for u in users {
            let Some(obj) = u.as_object() else {
                return Err(invalid("users", "each user is an object"));
            };
            let mut keys = Vec::new();
            for (k, v) in obj {
                if !USER_KEYS.contains(&k.as_str()) {
                    return Err(invalid("users", format!("Unknown user key \"{k}\"")));
                }
                let vals = v
                    .as_array()
                    .ok_or_else(|| invalid("users", format!("{k} is an array")))?;
                for v in vals {
                    let v = v
                        .as_str()
                        .ok_or_else(|| invalid("users", format!("{k} values are strings")))?;
                    if k != "partner_user_id" && !is_sha256_hex(v) {
                        return Err(invalid(
                            "users",
                            format!("{k} values are SHA-256 lower-case hex digests"),
                        ));
                    }
                    keys.push(format!("{k}:{v}"));
                }
            }
            if keys.is_empty() {
                return Err(invalid("users", "a user object carries at least one key"));
            }
            total += 1;
            for key in keys {
                if kind == "Update" {
                    members.insert(key);
                } else {
                    members.remove(&key);
                }
            }
        }
    }
    st.audience_members.insert(id.to_string(), members);
    if let Some(o) = st.objects.get_mut(id) {
        o.updated_at = now;
    }
    Ok(json!({"success_count": total, "total_count": total}))
}
