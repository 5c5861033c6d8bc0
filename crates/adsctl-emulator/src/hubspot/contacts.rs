//! CRM contacts (`/crm/objects/{ver}/contacts`, `/crm/v3/objects/contacts`, object type `0-1`) and contact
//! properties (`/crm/properties/{ver}/contacts`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::{
    batch_body, batch_inputs, created, cursor, is_date, iso_ms, limit_of, no_content, not_found, ok, property_errors,
    props_of, standard_error, uncursor, unordered, validation, Contact, Ctx, CustomProperty, HsErr, Out, State,
    MAX_OBJECT_BATCH,
};

/// Built-in contact properties: (name, type, options).
pub const BUILT_IN: &[(&str, &str)] = &[
    ("email", "string"),
    ("firstname", "string"),
    ("lastname", "string"),
    ("phone", "string"),
    ("mobilephone", "string"),
    ("company", "string"),
    ("website", "string"),
    ("jobtitle", "string"),
    ("address", "string"),
    ("city", "string"),
    ("state", "string"),
    ("zip", "string"),
    ("country", "string"),
    ("lifecyclestage", "enumeration"),
    ("hs_lead_status", "enumeration"),
];
pub const READ_ONLY: &[&str] = &["hs_object_id", "createdate", "lastmodifieddate", "hs_createdate"];
pub const LIFECYCLE: &[&str] = &[
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
];
const LEAD_STATUS: &[&str] = &[
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
];
/// Returned when a read names no properties.
pub const DEFAULT_PROPS: &[&str] = &[
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
];
pub const MAX_SEARCH_LIMIT: usize = 200;
pub const MAX_SEARCH_RESULTS: usize = 10_000;
pub const MAX_FILTER_GROUPS: usize = 5;
pub const MAX_FILTERS_PER_GROUP: usize = 10;
pub const MAX_FILTERS: usize = 25;
const OPERATORS: &[&str] = &[
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
];

pub fn route(ctx: &Ctx, st: &mut State, m: &str, r: &[&str], body: Option<&Value>) -> Result<Out, HsErr> {
    match (m, r) {
        ("GET", []) => list(ctx, st),
        ("POST", []) => {
            let props = validate(ctx, st, props_of(body.and_then(|b| b.get("properties")))?)?;
            if let Some(e) = props.get("email").filter(|e| !e.is_empty()) {
                conflict(ctx, st, e, None)?;
            }
            let c = insert(ctx, st, props);
            created(render(&c, &[]))
        }
        ("POST", ["batch", "create"]) => batch_create(ctx, st, body),
        ("POST", ["batch", "read"]) => batch_read(ctx, st, body),
        ("POST", ["batch", "update"]) => batch_update(ctx, st, body),
        ("POST", ["batch", "upsert"]) => batch_upsert(ctx, st, body),
        ("POST", ["batch", "archive"]) => {
            for i in batch_inputs(body, MAX_OBJECT_BATCH)? {
                if let Some(id) = i.get("id").and_then(Value::as_str) {
                    archive(ctx, st, id);
                }
            }
            no_content()
        }
        ("POST", ["search"]) => search(ctx, st, body),
        ("GET", [id]) => {
            let idp = ctx.q("idProperty");
            let archived = ctx.q_bool("archived");
            let c = find(ctx, st, id, idp, archived)
                .and_then(|c| as_read(ctx, c))
                .ok_or_else(|| not_found(format!("Object not found.  objectId are usually numeric. ({id})")))?;
            ok(render(&c, &ctx.q_list("properties")))
        }
        ("PATCH", [id]) => {
            let props = validate(ctx, st, props_of(body.and_then(|b| b.get("properties")))?)?;
            let idp = ctx.q("idProperty");
            let cid = find(ctx, st, id, idp, false)
                .map(|c| c.id)
                .ok_or_else(|| not_found(format!("Object not found.  objectId are usually numeric. ({id})")))?;
            if let Some(e) = props.get("email").filter(|e| !e.is_empty()) {
                conflict(ctx, st, e, Some(cid))?;
            }
            let c = update(ctx, st, cid, props);
            ok(render(&c, &[]))
        }
        ("DELETE", [id]) => {
            archive(ctx, st, id);
            no_content()
        }
        ("POST", ["gdpr-delete"]) => {
            let b = body.cloned().unwrap_or(Value::Null);
            let oid = b
                .get("objectId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let idp = b.get("idProperty").and_then(Value::as_str);
            if let Some(id) = find(ctx, st, &oid, idp, true).map(|c| c.id) {
                st.contacts.remove(&id);
                for l in st.lists.values_mut() {
                    l.members.remove(&id);
                }
            }
            no_content()
        }
        _ => Err(not_found(format!("Unable to find a resource for {m} {}", r.join("/")))),
    }
}

/// A live (or, with `archived`, archived) contact of the caller's portal by id or by a unique property.
fn find<'a>(ctx: &Ctx, st: &'a State, key: &str, id_property: Option<&str>, archived: bool) -> Option<&'a Contact> {
    let mine = |c: &&Contact| c.portal == ctx.portal && (c.archived_ms.is_some() == archived);
    match id_property {
        None | Some("hs_object_id") => key.parse::<u64>().ok().and_then(|n| st.contacts.get(&n)).filter(mine),
        Some(p) => {
            let k = if p == "email" {
                key.to_lowercase()
            } else {
                key.to_string()
            };
            st.contacts
                .values()
                .filter(mine)
                .find(|c| c.properties.get(p).is_some_and(|v| *v == k))
        }
    }
}

/// A contact as a read sees it: under the ReadLag fault, within `read_lag_ms` of its last write, the version
/// before that write (None for a contact created that recently).
fn as_read(ctx: &Ctx, c: &Contact) -> Option<Contact> {
    if ctx.read_lag && ctx.now - c.updated_ms < ctx.cfg.read_lag_ms as i64 {
        return c.search_view.clone().map(|properties| Contact {
            properties,
            ..c.clone()
        });
    }
    Some(c.clone())
}

fn conflict(ctx: &Ctx, st: &State, email: &str, except: Option<u64>) -> Result<(), HsErr> {
    let e = email.to_lowercase();
    if let Some(c) = st.contacts.values().find(|c| {
        c.portal == ctx.portal
            && c.archived_ms.is_none()
            && Some(c.id) != except
            && c.properties.get("email").is_some_and(|x| *x == e)
    }) {
        return Err(HsErr::new(
            409,
            "CONFLICT",
            format!("Contact already exists. Existing ID: {}", c.id),
        )
        .context(json!({"existingObjectId": [c.id.to_string()]})));
    }
    Ok(())
}

fn archive(ctx: &Ctx, st: &mut State, id: &str) {
    let Ok(n) = id.parse::<u64>() else { return };
    if let Some(c) = st
        .contacts
        .get_mut(&n)
        .filter(|c| c.portal == ctx.portal && c.archived_ms.is_none())
    {
        c.archived_ms = Some(ctx.now);
        for l in st.lists.values_mut() {
            l.members.remove(&n);
        }
    }
}

/// The type and options of a property, built-in or custom.
fn property_type(st: &State, portal: &str, name: &str) -> Option<(String, Vec<String>)> {
    if let Some((_, t)) = BUILT_IN.iter().find(|(n, _)| *n == name) {
        let opts: Vec<String> = match name {
            "lifecyclestage" => LIFECYCLE.iter().map(|s| s.to_string()).collect(),
            "hs_lead_status" => LEAD_STATUS.iter().map(|s| s.to_string()).collect(),
            _ => Vec::new(),
        };
        return Some((t.to_string(), opts));
    }
    st.properties
        .get(&format!("{portal}/contacts/{name}"))
        .map(|p| (p.kind.clone(), p.options.clone()))
}

pub fn plausible_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !e.contains(' ')
}

/// Validate written properties: JSON strings, existing, writable, of their type; "" always allowed (clears).
fn validate(ctx: &Ctx, st: &State, props: Map<String, Value>) -> Result<BTreeMap<String, String>, HsErr> {
    let mut bad = Vec::new();
    let mut out = BTreeMap::new();
    for (k, v) in props {
        let Some(s) = v.as_str() else {
            bad.push((
                k.clone(),
                "INVALID_TYPE",
                format!("Property \"{k}\" must be a string; every property value is sent as a string"),
            ));
            continue;
        };
        if READ_ONLY.contains(&k.as_str()) {
            bad.push((
                k.clone(),
                "READ_ONLY_VALUE",
                format!("Property \"{k}\" is a read only property"),
            ));
            continue;
        }
        let Some((kind, options)) = property_type(st, ctx.portal, &k) else {
            bad.push((
                k.clone(),
                "PROPERTY_DOESNT_EXIST",
                format!("Property \"{k}\" does not exist"),
            ));
            continue;
        };
        if !s.is_empty() {
            let err = match kind.as_str() {
                _ if k == "email" && !plausible_email(s) => {
                    Some(("INVALID_EMAIL", format!("Email address {s} is invalid")))
                }
                "number" if s.parse::<f64>().is_err() => {
                    Some(("INVALID_INTEGER", format!("{s} was not a valid number.")))
                }
                "date" if !(is_date(s) || s.parse::<i64>().is_ok_and(|ms| ms % 86_400_000 == 0)) => Some((
                    "INVALID_DATE",
                    format!("{s} is not a valid date: a date is YYYY-MM-DD or epoch milliseconds at midnight UTC"),
                )),
                "datetime" if s.parse::<i64>().is_err() && chrono::DateTime::parse_from_rfc3339(s).is_err() => {
                    Some(("INVALID_DATE", format!("{s} is not a valid datetime")))
                }
                "bool" if !matches!(s, "true" | "false") => Some((
                    "INVALID_BOOLEAN",
                    format!("{s} is not a valid boolean: use \"true\" or \"false\""),
                )),
                "enumeration" if !s.split(';').all(|o| options.iter().any(|x| x == o)) => Some((
                    "INVALID_OPTION",
                    format!("{s} was not one of the allowed options: [{}]", options.join(", ")),
                )),
                _ => None,
            };
            if let Some((code, msg)) = err {
                bad.push((k.clone(), code, msg));
                continue;
            }
        }
        let s = if k == "email" { s.to_lowercase() } else { s.to_string() };
        out.insert(k, s);
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(property_errors(bad))
    }
}

fn set_props(c: &mut Contact, props: BTreeMap<String, String>, now: i64, lag_ms: u64) {
    // search keeps the previous version until the write is indexed
    if now >= c.search_until_ms {
        c.search_view = Some(c.properties.clone());
    }
    c.search_until_ms = now + lag_ms as i64;
    for (k, v) in props {
        if v.is_empty() {
            c.properties.remove(&k);
        } else {
            c.properties.insert(k, v);
        }
    }
    c.updated_ms = now;
    c.properties.insert("lastmodifieddate".into(), iso_ms(now));
}

fn insert(ctx: &Ctx, st: &mut State, props: BTreeMap<String, String>) -> Contact {
    let id = st.bump() + 100;
    let mut properties: BTreeMap<String, String> = props.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    properties.insert("hs_object_id".into(), id.to_string());
    properties.insert("createdate".into(), iso_ms(ctx.now));
    properties.insert("lastmodifieddate".into(), iso_ms(ctx.now));
    let c = Contact {
        id,
        portal: ctx.portal.to_string(),
        properties,
        created_ms: ctx.now,
        updated_ms: ctx.now,
        archived_ms: None,
        search_view: None,
        search_until_ms: ctx.now + ctx.cfg.search_lag_ms as i64,
        foreign: false,
    };
    st.contacts.insert(id, c.clone());
    c
}

fn update(ctx: &Ctx, st: &mut State, id: u64, props: BTreeMap<String, String>) -> Contact {
    let c = st.contacts.get_mut(&id).expect("checked by the caller");
    set_props(c, props, ctx.now, ctx.cfg.search_lag_ms);
    c.clone()
}

/// A contact as the API shows it: the requested properties (all of them as strings), or the default set.
pub fn render(c: &Contact, wanted: &[String]) -> Value {
    let names: Vec<String> = if wanted.is_empty() {
        DEFAULT_PROPS.iter().map(|s| s.to_string()).collect()
    } else {
        wanted.to_vec()
    };
    let mut props = Map::new();
    for n in names {
        let v = c.properties.get(&n).cloned();
        props.insert(n, v.map_or(Value::Null, Value::String));
    }
    let mut v = json!({"id": c.id.to_string(), "properties": props, "createdAt": iso_ms(c.created_ms),
                       "updatedAt": iso_ms(c.updated_ms), "archived": c.archived_ms.is_some()});
    if let Some(a) = c.archived_ms {
        v["archivedAt"] = json!(iso_ms(a));
    }
    v
}

fn list(ctx: &Ctx, st: &State) -> Result<Out, HsErr> {
    let limit = limit_of(ctx, 10, 100)?;
    let archived = ctx.q_bool("archived");
    let after = match ctx.q("after") {
        Some(a) => Some(uncursor(a).ok_or_else(|| validation(format!("after '{a}' is not a cursor this API issued")))?),
        None => None,
    };
    let wanted = ctx.q_list("properties");
    let all: Vec<&Contact> = st
        .contacts
        .values()
        .filter(|c| c.portal == ctx.portal && c.archived_ms.is_some() == archived)
        .filter(|c| after.is_none_or(|a| c.id >= a))
        .take(limit + 1)
        .collect();
    let page: Vec<Value> = all
        .iter()
        .take(limit)
        .filter_map(|c| as_read(ctx, c))
        .map(|c| render(&c, &wanted))
        .collect();
    let mut v = json!({"results": page});
    if let Some(next) = all.get(limit) {
        let n = cursor(next.id);
        v["paging"] = json!({"next": {"after": n, "link": format!("?after={n}")}});
    }
    ok(v)
}

fn batch_create(ctx: &Ctx, st: &mut State, body: Option<&Value>) -> Result<Out, HsErr> {
    let inputs = batch_inputs(body, MAX_OBJECT_BATCH)?;
    let mut all = Vec::new();
    let mut emails = BTreeSet::new();
    for i in &inputs {
        let p = validate(ctx, st, props_of(i.get("properties"))?)?;
        if let Some(e) = p.get("email").filter(|e| !e.is_empty()) {
            conflict(ctx, st, e, None)?;
            if !emails.insert(e.clone()) {
                return Err(HsErr::new(
                    409,
                    "CONFLICT",
                    format!("Duplicate email {e} in the inputs of one batch create"),
                ));
            }
        }
        all.push(p);
    }
    let results: Vec<Value> = all
        .into_iter()
        .map(|p| {
            let c = insert(ctx, st, p);
            render(&c, &[])
        })
        .collect();
    let (_, v) = batch_body(unordered(results, st.next), vec![], ctx.now, ctx.now);
    created(v)
}

fn batch_read(ctx: &Ctx, st: &mut State, body: Option<&Value>) -> Result<Out, HsErr> {
    let inputs = batch_inputs(body, MAX_OBJECT_BATCH)?;
    let b = body.cloned().unwrap_or(Value::Null);
    let idp = b.get("idProperty").and_then(Value::as_str);
    let mut wanted: Vec<String> = b
        .get("properties")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    wanted.extend(ctx.q_list("properties"));
    let archived = ctx.q_bool("archived");
    let mut seen = BTreeSet::new();
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for i in &inputs {
        let id = i.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        match find(ctx, st, &id, idp, archived).and_then(|c| as_read(ctx, c)) {
            Some(c) => {
                if seen.insert(c.id) {
                    results.push(render(&c, &wanted));
                }
            }
            None => missing.push(id),
        }
    }
    let errors = if missing.is_empty() {
        vec![]
    } else {
        vec![standard_error(
            404,
            "OBJECT_NOT_FOUND",
            "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.",
            json!({"ids": missing}),
        )]
    };
    let (status, v) = batch_body(unordered(results, st.next), errors, ctx.now, ctx.now);
    Ok(Out { status, body: Some(v) })
}

fn batch_update(ctx: &Ctx, st: &mut State, body: Option<&Value>) -> Result<Out, HsErr> {
    let inputs = batch_inputs(body, MAX_OBJECT_BATCH)?;
    let mut work = Vec::new();
    for i in &inputs {
        let id = i.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        let idp = i.get("idProperty").and_then(Value::as_str).map(str::to_string);
        work.push((id, idp, validate(ctx, st, props_of(i.get("properties"))?)?));
    }
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for (id, idp, props) in work {
        match find(ctx, st, &id, idp.as_deref(), false).map(|c| c.id) {
            Some(cid) => {
                if let Some(e) = props.get("email").filter(|e| !e.is_empty()) {
                    conflict(ctx, st, e, Some(cid))?;
                }
                let c = update(ctx, st, cid, props);
                results.push(render(&c, &[]));
            }
            None => missing.push(id),
        }
    }
    let errors = if missing.is_empty() {
        vec![]
    } else {
        vec![standard_error(
            404,
            "OBJECT_NOT_FOUND",
            "Could not update some CONTACT objects, they may be deleted or not exist.",
            json!({"ids": missing}),
        )]
    };
    let (status, v) = batch_body(unordered(results, st.next), errors, ctx.now, ctx.now);
    Ok(Out { status, body: Some(v) })
}

/// Upsert by a unique property (email): existing contacts are updated, others created; results carry `new`.
fn batch_upsert(ctx: &Ctx, st: &mut State, body: Option<&Value>) -> Result<Out, HsErr> {
    let inputs = batch_inputs(body, MAX_OBJECT_BATCH)?;
    let mut work = Vec::new();
    let mut keys = BTreeSet::new();
    for i in &inputs {
        let id = i.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        let Some(idp) = i.get("idProperty").and_then(Value::as_str) else {
            return Err(
                validation("Upsert inputs need idProperty (a unique property such as email)")
                    .error(json!({"message": "idProperty is required", "in": "idProperty", "code": "REQUIRED_FIELD"})),
            );
        };
        let unique = idp == "email"
            || st
                .properties
                .get(&format!("{}/contacts/{idp}", ctx.portal))
                .is_some_and(|p| p.has_unique_value);
        if !unique {
            return Err(validation(format!(
                "idProperty {idp} is not a unique property: upsert matches on email or a property with hasUniqueValue"
            )));
        }
        let key = if idp == "email" { id.to_lowercase() } else { id.clone() };
        if idp == "email" && !plausible_email(&key) {
            return Err(property_errors(vec![(
                "email".into(),
                "INVALID_EMAIL",
                format!("Email address {id} is invalid"),
            )]));
        }
        if !keys.insert((idp.to_string(), key.clone())) {
            return Err(validation(format!("Duplicate id {id} in the inputs of one upsert")));
        }
        work.push((key, idp.to_string(), validate(ctx, st, props_of(i.get("properties"))?)?));
    }
    let mut results = Vec::new();
    for (key, idp, mut props) in work {
        let existing = find(ctx, st, &key, Some(&idp), false).map(|c| c.id);
        let (c, new) = match existing {
            Some(cid) => (update(ctx, st, cid, props), false),
            None => {
                props.insert(idp.clone(), key.clone());
                (insert(ctx, st, props), true)
            }
        };
        let mut v = render(&c, &[]);
        v["new"] = json!(new);
        results.push(v);
    }
    let (_, v) = batch_body(unordered(results, st.next), vec![], ctx.now, ctx.now);
    ok(v)
}

// ---------------------------------------------------------------------------------------------------------------
// Search

/// What search sees of a contact: its indexed version (None: not indexed yet).
fn search_view(c: &Contact, now: i64) -> Option<&BTreeMap<String, String>> {
    if now >= c.search_until_ms {
        Some(&c.properties)
    } else {
        c.search_view.as_ref()
    }
}

fn cmp_values(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => a.to_lowercase().cmp(&b.to_lowercase()),
    }
}

fn tokens(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric() && c != '@' && c != '.' && c != '_' && c != '-')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

fn token_match(value: &str, token: &str) -> bool {
    let t = token.to_lowercase();
    let toks = tokens(value);
    let whole = value.to_lowercase();
    let matches = |x: &str| match (t.strip_prefix('*'), t.strip_suffix('*')) {
        (Some(rest), _) if rest.ends_with('*') => x.contains(rest.trim_end_matches('*')),
        (Some(rest), _) => x.ends_with(rest),
        (None, Some(rest)) => x.starts_with(rest),
        _ => x == t,
    };
    matches(&whole) || toks.iter().any(|x| matches(x))
}

/// Whether a filter holds for a view of a contact.
pub fn filter_holds(f: &Value, props: &BTreeMap<String, String>) -> bool {
    let name = f.get("propertyName").and_then(Value::as_str).unwrap_or_default();
    let op = f.get("operator").and_then(Value::as_str).unwrap_or("EQ");
    let value = f.get("value").and_then(Value::as_str).unwrap_or_default();
    let values: Vec<&str> = f
        .get("values")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let have = props.get(name).filter(|v| !v.is_empty());
    use std::cmp::Ordering::*;
    match op {
        "HAS_PROPERTY" => have.is_some(),
        "NOT_HAS_PROPERTY" => have.is_none(),
        "NEQ" => have.is_none_or(|h| cmp_values(h, value) != Equal),
        "NOT_IN" => have.is_none_or(|h| !values.iter().any(|v| cmp_values(h, v) == Equal)),
        "NOT_CONTAINS_TOKEN" => have.is_none_or(|h| !token_match(h, value)),
        _ => {
            let Some(h) = have else { return false };
            match op {
                "EQ" => cmp_values(h, value) == Equal,
                "LT" => cmp_values(h, value) == Less,
                "LTE" => cmp_values(h, value) != Greater,
                "GT" => cmp_values(h, value) == Greater,
                "GTE" => cmp_values(h, value) != Less,
                "BETWEEN" => {
                    let high = f.get("highValue").and_then(Value::as_str).unwrap_or_default();
                    cmp_values(h, value) != Less && cmp_values(h, high) != Greater
                }
                "IN" => values.iter().any(|v| cmp_values(h, v) == Equal),
                "CONTAINS_TOKEN" => token_match(h, value),
                _ => false,
            }
        }
    }
}

fn search(ctx: &Ctx, st: &State, body: Option<&Value>) -> Result<Out, HsErr> {
    let b = body.cloned().unwrap_or(json!({}));
    let groups = b
        .get("filterGroups")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if groups.len() > MAX_FILTER_GROUPS {
        return Err(validation(format!(
            "Too many filter groups: {} given, at most {MAX_FILTER_GROUPS} are allowed.",
            groups.len()
        ))
        .sub_category("PublicObjectSearchValidationError.TOO_MANY_FILTER_GROUPS"));
    }
    let mut total_filters = 0;
    for g in &groups {
        let fs = g.get("filters").and_then(Value::as_array).cloned().unwrap_or_default();
        if fs.len() > MAX_FILTERS_PER_GROUP {
            return Err(validation(format!(
                "Too many filters in a group: {} given, at most {MAX_FILTERS_PER_GROUP} are allowed per group.",
                fs.len()
            ))
            .sub_category("PublicObjectSearchValidationError.TOO_MANY_FILTERS_IN_GROUP"));
        }
        total_filters += fs.len();
        for f in &fs {
            let op = f.get("operator").and_then(Value::as_str).unwrap_or_default();
            if !OPERATORS.contains(&op) {
                return Err(validation(format!(
                    "Unknown operator {op}; operators: {}",
                    OPERATORS.join(", ")
                )));
            }
            if f.get("propertyName").and_then(Value::as_str).is_none() {
                return Err(validation("A filter needs propertyName"));
            }
        }
    }
    if total_filters > MAX_FILTERS {
        return Err(validation(format!(
            "Too many filters: {total_filters} given, at most {MAX_FILTERS} are allowed in all groups together."
        ))
        .sub_category("PublicObjectSearchValidationError.TOO_MANY_FILTERS"));
    }
    let limit =
        match b.get("limit") {
            None | Some(Value::Null) => 10,
            Some(v) => match v.as_u64() {
                Some(n) if (1..=MAX_SEARCH_LIMIT as u64).contains(&n) => n as usize,
                _ => return Err(
                    validation(format!("limit must be between 1 and {MAX_SEARCH_LIMIT}, got {v}")).error(
                        json!({"message": format!("must be less than or equal to {MAX_SEARCH_LIMIT}"), "in": "limit"}),
                    ),
                ),
            },
        };
    let after: usize = match b.get("after") {
        None | Some(Value::Null) => 0,
        Some(Value::String(s)) if s.is_empty() => 0,
        Some(Value::String(s)) => s.parse().map_err(|_| validation(format!("after '{s}' is not valid")))?,
        Some(v) => v
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| validation("after must be a string"))?,
    };
    if after + limit > MAX_SEARCH_RESULTS {
        return Err(validation(format!(
            "A search can page through at most {MAX_SEARCH_RESULTS} results (after {after} + limit {limit})."
        )));
    }
    let query = b.get("query").and_then(Value::as_str).map(str::to_lowercase);
    let wanted: Vec<String> = b
        .get("properties")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let mut hits: Vec<(&Contact, &BTreeMap<String, String>)> = st
        .contacts
        .values()
        .filter(|c| c.portal == ctx.portal && c.archived_ms.is_none())
        .filter_map(|c| search_view(c, ctx.now).map(|v| (c, v)))
        .filter(|(_, v)| {
            groups.is_empty()
                || groups.iter().any(|g| {
                    g.get("filters")
                        .and_then(Value::as_array)
                        .is_none_or(|fs| fs.iter().all(|f| filter_holds(f, v)))
                })
        })
        .filter(|(_, v)| {
            query.as_ref().is_none_or(|q| {
                ["email", "firstname", "lastname", "phone", "company", "website"]
                    .iter()
                    .any(|k| v.get(*k).is_some_and(|x| x.to_lowercase().contains(q.as_str())))
            })
        })
        .collect();
    // sorts: strings ("-createdate") or {propertyName, direction}
    if let Some(s) = b.get("sorts").and_then(Value::as_array).and_then(|a| a.first()) {
        let (prop, desc) = match s {
            Value::String(x) => match x.strip_prefix('-') {
                Some(p) => (p.to_string(), true),
                None => (x.clone(), false),
            },
            o => (
                o.get("propertyName")
                    .and_then(Value::as_str)
                    .unwrap_or("hs_object_id")
                    .to_string(),
                o.get("direction").and_then(Value::as_str) == Some("DESCENDING"),
            ),
        };
        hits.sort_by(|a, b| {
            let x = a.1.get(&prop).cloned().unwrap_or_default();
            let y = b.1.get(&prop).cloned().unwrap_or_default();
            cmp_values(&x, &y).then(a.0.id.cmp(&b.0.id))
        });
        if desc {
            hits.reverse();
        }
    }
    let total = hits.len();
    let results: Vec<Value> = hits
        .iter()
        .skip(after)
        .take(limit)
        .map(|(c, view)| {
            let shown = Contact {
                properties: (*view).clone(),
                ..(*c).clone()
            };
            render(&shown, &wanted)
        })
        .collect();
    let mut v = json!({"total": total, "results": results});
    if after + limit < total && after + limit < MAX_SEARCH_RESULTS {
        v["paging"] = json!({"next": {"after": (after + limit).to_string()}});
    }
    ok(v)
}

// ---------------------------------------------------------------------------------------------------------------
// Properties

const PROPERTY_TYPES: &[&str] = &[
    "string",
    "number",
    "date",
    "datetime",
    "enumeration",
    "bool",
    "phone_number",
];
const FIELD_TYPES: &[&str] = &[
    "text",
    "textarea",
    "number",
    "date",
    "select",
    "radio",
    "checkbox",
    "booleancheckbox",
    "phonenumber",
    "file",
    "html",
    "calculation_equation",
];

fn property_json(p: &CustomProperty) -> Value {
    json!({"name": p.name, "label": p.label, "type": p.kind, "fieldType": p.field_type, "groupName": p.group_name,
           "options": p.options.iter().enumerate().map(|(i, o)| json!({"label": o, "value": o, "displayOrder": i,
           "hidden": false})).collect::<Vec<_>>(), "hasUniqueValue": p.has_unique_value, "createdAt": iso_ms(p.created_ms),
           "updatedAt": iso_ms(p.created_ms), "modificationMetadata": {"archivable": true, "readOnlyDefinition": false,
           "readOnlyValue": false}, "calculated": false, "externalOptions": false, "hidden": false, "formField": true,
           "archived": false, "description": ""})
}

fn builtin_json(name: &str, kind: &str) -> Value {
    json!({"name": name, "label": name, "type": kind, "fieldType": if kind == "enumeration" { "select" } else { "text" },
           "groupName": "contactinformation", "options": [], "hasUniqueValue": name == "email", "hidden": false,
           "modificationMetadata": {"archivable": false, "readOnlyDefinition": true,
           "readOnlyValue": READ_ONLY.contains(&name)}, "calculated": false, "externalOptions": false,
           "formField": true, "archived": false, "description": ""})
}

pub fn properties_route(
    ctx: &Ctx,
    st: &mut State,
    m: &str,
    object_type: &str,
    r: &[&str],
    body: Option<&Value>,
) -> Result<Out, HsErr> {
    let ot = match object_type {
        "contacts" | "0-1" => "contacts",
        "campaigns" | "0-35" => "campaigns",
        other => return Err(not_found(format!("Unable to infer object type from: {other}"))),
    };
    let prefix = format!("{}/{ot}/", ctx.portal);
    let builtin_group = if ot == "contacts" {
        "contactinformation"
    } else {
        "campaigninformation"
    };
    let group_json =
        |name: &str, label: &str| json!({"name": name, "label": label, "displayOrder": -1, "archived": false});
    match (m, r) {
        ("GET", ["groups"]) => {
            let mut results = vec![group_json(builtin_group, "Information")];
            results.extend(
                st.groups
                    .iter()
                    .filter_map(|(k, l)| k.strip_prefix(&prefix).map(|n| group_json(n, l))),
            );
            ok(json!({"results": results}))
        }
        ("GET", ["groups", name]) => {
            if *name == builtin_group {
                return ok(group_json(name, "Information"));
            }
            let label = st
                .groups
                .get(&format!("{prefix}{name}"))
                .ok_or_else(|| not_found(format!("Unable to find property group {name} of {ot}")))?;
            ok(group_json(name, label))
        }
        ("POST", ["groups"]) => {
            let b = body.cloned().unwrap_or(Value::Null);
            let (Some(name), Some(label)) = (
                b.get("name").and_then(Value::as_str),
                b.get("label").and_then(Value::as_str),
            ) else {
                return Err(validation("Invalid input JSON: name and label are required."));
            };
            let key = format!("{prefix}{name}");
            if name == builtin_group || st.groups.contains_key(&key) {
                return Err(HsErr::new(
                    409,
                    "OBJECT_ALREADY_EXISTS",
                    format!("A property group named '{name}' already exists."),
                ));
            }
            st.groups.insert(key, label.to_string());
            created(group_json(name, label))
        }
        ("GET", []) => {
            let mut results: Vec<Value> = Vec::new();
            if ot == "contacts" {
                results.extend(BUILT_IN.iter().map(|(n, t)| builtin_json(n, t)));
                results.extend(READ_ONLY.iter().map(|n| builtin_json(n, "string")));
            } else {
                results.extend(super::campaigns::WRITABLE.iter().map(|n| builtin_json(n, "string")));
                results.extend(super::campaigns::READ_ONLY.iter().map(|n| builtin_json(n, "string")));
            }
            results.extend(
                st.properties
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, p)| property_json(p)),
            );
            ok(json!({"results": results}))
        }
        ("GET", [name]) => {
            if let Some(p) = st.properties.get(&format!("{prefix}{name}")) {
                return ok(property_json(p));
            }
            if ot == "contacts" {
                if let Some((n, t)) = BUILT_IN.iter().find(|(n, _)| n == name) {
                    return ok(builtin_json(n, t));
                }
                if READ_ONLY.contains(name) {
                    return ok(builtin_json(name, "string"));
                }
            } else if super::campaigns::WRITABLE.contains(name) || super::campaigns::READ_ONLY.contains(name) {
                return ok(builtin_json(name, "string"));
            }
            Err(not_found(format!("Unable to find property {name} of {ot}")))
        }
        ("POST", []) => {
            if ot != "contacts" {
                return Err(validation("The emulator creates custom properties of contacts only"));
            }
            let b = body.cloned().unwrap_or(Value::Null);
            let s = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
            let mut errors = Vec::new();
            for k in ["name", "label", "type", "fieldType", "groupName"] {
                if s(k).is_none() {
                    errors.push(json!({"message": format!("{k} is required"), "in": k, "code": "REQUIRED_FIELD"}));
                }
            }
            if !errors.is_empty() {
                let mut e = validation("Invalid input JSON: name, label, type, fieldType and groupName are required.");
                e.x.errors = errors;
                return Err(e);
            }
            let name = s("name").unwrap_or_default();
            let kind = s("type").unwrap_or_default();
            let field_type = s("fieldType").unwrap_or_default();
            if !PROPERTY_TYPES.contains(&kind.as_str()) || !FIELD_TYPES.contains(&field_type.as_str()) {
                return Err(validation(format!(
                    "type must be one of {} and fieldType one of {}",
                    PROPERTY_TYPES.join(", "),
                    FIELD_TYPES.join(", ")
                )));
            }
            let group = s("groupName").unwrap_or_default();
            if group != builtin_group && !st.groups.contains_key(&format!("{prefix}{group}")) {
                return Err(validation(format!(
                    "Property group {group} does not exist: create it first (POST …/groups)"
                ))
                .error(json!({"message": format!("group {group} does not exist"), "in": "groupName"})));
            }
            let key = format!("{prefix}{name}");
            if st.properties.contains_key(&key)
                || BUILT_IN.iter().any(|(n, _)| *n == name)
                || READ_ONLY.contains(&name.as_str())
            {
                return Err(HsErr::new(
                    409,
                    "OBJECT_ALREADY_EXISTS",
                    format!("A property named '{name}' already exists."),
                ));
            }
            let options: Vec<String> = b
                .get("options")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|o| o.get("value").and_then(Value::as_str).map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let p = CustomProperty {
                portal: ctx.portal.to_string(),
                object_type: ot.to_string(),
                name,
                label: s("label").unwrap_or_default(),
                kind,
                field_type,
                group_name: s("groupName").unwrap_or_default(),
                options,
                has_unique_value: b.get("hasUniqueValue").and_then(Value::as_bool).unwrap_or(false),
                created_ms: ctx.now,
            };
            let v = property_json(&p);
            st.properties.insert(key, p);
            created(v)
        }
        _ => Err(not_found(format!(
            "Unable to find a resource for {m} properties/{ot}/{}",
            r.join("/")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn filters_follow_the_operators() {
        let p = props(&[
            ("email", "ada@example.org"),
            ("firstname", "Ada Lovelace"),
            ("age", "36"),
        ]);
        let f = |op: &str, v: Value| {
            let mut x = json!({"propertyName": "age", "operator": op});
            x.as_object_mut().unwrap().extend(v.as_object().unwrap().clone());
            filter_holds(&x, &p)
        };
        assert!(f("EQ", json!({"value": "36"})));
        assert!(f("GT", json!({"value": "4"})), "numbers compare as numbers");
        assert!(f("BETWEEN", json!({"value": "30", "highValue": "40"})));
        assert!(f("IN", json!({"values": ["1", "36"]})));
        assert!(!f("NOT_IN", json!({"values": ["36"]})));
        assert!(f("HAS_PROPERTY", json!({})));
        let email_eq = json!({"propertyName": "email", "operator": "EQ", "value": "ADA@example.org"});
        assert!(filter_holds(&email_eq, &p), "EQ on strings ignores case");
        let tok = json!({"propertyName": "firstname", "operator": "CONTAINS_TOKEN", "value": "love*"});
        assert!(filter_holds(&tok, &p));
        let none = json!({"propertyName": "phone", "operator": "NOT_HAS_PROPERTY"});
        assert!(filter_holds(&none, &p));
    }

    #[test]
    fn emails_are_checked_loosely() {
        assert!(plausible_email("a.b+c@example.org"));
        assert!(!plausible_email("a@b"));
        assert!(!plausible_email("nobody"));
    }
}
