//! Lists (segments): `/crm/lists/{ver}` and `/crm/v3/lists`.

use serde_json::{json, Value};

use super::{cursor, iso_ms, no_content, not_found, ok, uncursor, validation, Ctx, HsErr, List, Out, State};

pub const PROCESSING_TYPES: &[&str] = &["MANUAL", "DYNAMIC", "SNAPSHOT"];
pub const MAX_SEARCH_COUNT: usize = 500;
pub const DEFAULT_SEARCH_COUNT: usize = 20;
pub const MAX_MEMBERSHIP_LIMIT: usize = 250;
pub const DEFAULT_MEMBERSHIP_LIMIT: usize = 100;
/// DELETE …/memberships and add-from work on lists below this size.
pub const MAX_BULK_MEMBERS: usize = 100_000;
/// Deleted lists can be restored this long.
pub const RESTORE_WINDOW_MS: i64 = 90 * 86_400_000;

pub fn route(ctx: &Ctx, st: &mut State, m: &str, r: &[&str], body: Option<&Value>) -> Result<Out, HsErr> {
    match (m, r) {
        ("POST", []) => create(ctx, st, body),
        ("GET", []) => {
            let include = ctx.q_bool("includeFilters");
            let ids = ctx.q_list("listIds");
            let lists: Vec<Value> = ids
                .iter()
                .filter_map(|i| i.parse::<u64>().ok())
                .filter_map(|i| live(ctx, st, i))
                .map(|l| render(l, include))
                .collect();
            ok(json!({"lists": lists}))
        }
        ("POST", ["search"]) => search(ctx, st, body),
        ("GET", ["object-type-id", ot, "name", name]) => {
            let l = st
                .lists
                .values()
                .find(|l| {
                    l.portal == ctx.portal && l.deleted_ms.is_none() && l.object_type_id == *ot && l.name == *name
                })
                .ok_or_else(|| not_found(format!("List does not exist with name {name} and object type {ot}.")))?;
            ok(json!({"list": render(l, ctx.q_bool("includeFilters"))}))
        }
        ("GET", ["records", ot, record, "memberships"]) => {
            let rid: u64 = record
                .parse()
                .map_err(|_| validation(format!("recordId {record} is not a number")))?;
            let results = record_memberships(ctx, st, ot, rid);
            ok(json!({"total": results.len(), "results": results}))
        }
        ("POST", ["records", "memberships", "batch", "read"]) => {
            let inputs = super::batch_inputs(body, usize::MAX)?;
            let mut results = Vec::new();
            for i in inputs {
                let ot = i.get("objectTypeId").and_then(Value::as_str);
                let rid = i.get("recordId").and_then(Value::as_str);
                let (Some(ot), Some(rid)) = (ot, rid) else {
                    return Err(validation("Each input needs objectTypeId and recordId (strings)"));
                };
                let n: u64 = rid
                    .parse()
                    .map_err(|_| validation(format!("recordId {rid} is not a number")))?;
                results.push(json!({"objectTypeId": ot, "recordId": rid,
                                    "recordListMemberships": record_memberships(ctx, st, ot, n)}));
            }
            let (status, v) = super::batch_body(results, vec![], ctx.now, ctx.now);
            Ok(Out { status, body: Some(v) })
        }
        ("GET", [id]) => {
            let l = live_or_404(ctx, st, id)?;
            ok(json!({"list": render(l, ctx.q_bool("includeFilters"))}))
        }
        ("DELETE", [id]) => {
            if let Some(l) = parse(id).and_then(|n| st.lists.get_mut(&n)) {
                if l.portal == ctx.portal && l.deleted_ms.is_none() {
                    l.deleted_ms = Some(ctx.now);
                }
            }
            no_content()
        }
        ("PUT", [id, "restore"]) => {
            let l = parse(id)
                .and_then(|n| st.lists.get(&n))
                .filter(|l| l.portal == ctx.portal)
                .filter(|l| l.deleted_ms.is_some_and(|d| ctx.now - d < RESTORE_WINDOW_MS))
                .cloned()
                .ok_or_else(|| not_found(format!("No deleted list {id} that can still be restored (90 days).")))?;
            name_free(ctx, st, &l.name, Some(l.id))?;
            if let Some(l) = st.lists.get_mut(&l.id) {
                l.deleted_ms = None;
            }
            no_content()
        }
        ("PUT", [id, "update-list-name"]) => {
            let name = ctx
                .q("listName")
                .filter(|n| !n.trim().is_empty())
                .ok_or_else(|| validation("listName is required"))?
                .to_string();
            let lid = live_or_404(ctx, st, id)?.id;
            name_free(ctx, st, &name, Some(lid))?;
            let l = st.lists.get_mut(&lid).expect("checked");
            l.name = name;
            l.updated_ms = ctx.now;
            l.version += 1;
            let v = render(l, ctx.q_bool("includeFilters"));
            ok(json!({"updatedList": v}))
        }
        ("PUT", [id, "update-list-filters"]) => {
            let lid = live_or_404(ctx, st, id)?.id;
            let fb = body
                .and_then(|b| b.get("filterBranch"))
                .filter(|f| f.is_object())
                .ok_or_else(|| {
                    validation("filterBranch is required")
                        .error(json!({"message": "filterBranch is required", "in": "filterBranch"}))
                })?
                .clone();
            let l = st.lists.get_mut(&lid).expect("checked");
            if l.processing_type == "MANUAL" {
                return Err(validation(format!("List {lid} is a MANUAL list: it has no filters"))
                    .sub_category("ILS.LIST_PROCESSING_TYPE_NOT_SUPPORTED_FOR_OPERATION"));
            }
            l.filter_branch = Some(fb);
            l.filters_updated_ms = ctx.now;
            l.updated_ms = ctx.now;
            l.version += 1;
            ok(json!({"updatedList": render(l, true)}))
        }
        ("GET", [id, "memberships"]) => memberships(ctx, st, id, false),
        ("GET", [id, "memberships", "join-order"]) => memberships(ctx, st, id, true),
        ("DELETE", [id, "memberships"]) => {
            let lid = editable(ctx, st, id)?;
            let l = st.lists.get_mut(&lid).expect("checked");
            if l.members.len() >= MAX_BULK_MEMBERS {
                return Err(validation(format!(
                    "List {lid} has {} members: removing all memberships works on lists of fewer than {MAX_BULK_MEMBERS}.",
                    l.members.len()
                )));
            }
            l.members.clear();
            l.updated_ms = ctx.now;
            no_content()
        }
        ("PUT", [id, "memberships", op @ ("add" | "remove")]) => {
            let lid = editable(ctx, st, id)?;
            let ids = bare_ids(body)?;
            cap(ctx, ids.len())?;
            let (add, remove) = if *op == "add" { (ids, vec![]) } else { (vec![], ids) };
            ok(change(ctx, st, lid, add, remove))
        }
        ("PUT", [id, "memberships", "add-and-remove"]) => {
            let lid = editable(ctx, st, id)?;
            let b = body.cloned().unwrap_or(Value::Null);
            let field = |k: &str| -> Result<Vec<String>, HsErr> {
                match b.get(k) {
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|v| id_string(v).ok_or_else(|| validation(format!("{k} holds record ids as strings"))))
                        .collect(),
                    _ => Err(
                        validation(format!("Invalid input JSON: {k} is required (an array of record ids)"))
                            .error(json!({"message": format!("{k} is required"), "in": k})),
                    ),
                }
            };
            let add = field("recordIdsToAdd")?;
            let remove = field("recordIdsToRemove")?;
            cap(ctx, add.len() + remove.len())?;
            ok(change(ctx, st, lid, add, remove))
        }
        ("PUT", [id, "memberships", "add-from", source]) => {
            let lid = editable(ctx, st, id)?;
            let src = live_or_404(ctx, st, source)?.clone();
            let target_ot = st.lists[&lid].object_type_id.clone();
            if src.object_type_id != target_ot {
                return Err(validation(format!(
                    "Source list {source} holds object type {} and list {lid} holds {target_ot}: they must match.",
                    src.object_type_id
                )));
            }
            if src.members.len() >= MAX_BULK_MEMBERS {
                return Err(validation(format!(
                    "Source list {source} has {} members: add-from works on lists of fewer than {MAX_BULK_MEMBERS}.",
                    src.members.len()
                )));
            }
            let l = st.lists.get_mut(&lid).expect("checked");
            for r in src.members.keys() {
                l.members.entry(*r).or_insert((ctx.now, ctx.now));
            }
            l.updated_ms = ctx.now;
            no_content()
        }
        _ => Err(not_found(format!(
            "Unable to find a resource for {m} lists/{}",
            r.join("/")
        ))),
    }
}

/// The lists of the portal a record is in (RecordListMembership).
fn record_memberships(ctx: &Ctx, st: &State, ot: &str, rid: u64) -> Vec<Value> {
    st.lists
        .values()
        .filter(|l| l.portal == ctx.portal && l.deleted_ms.is_none() && l.object_type_id == ot)
        .filter_map(|l| l.members.get(&rid).map(|(f, la)| (l, *f, *la)))
        .map(|(l, f, la)| {
            json!({"listId": l.id.to_string(), "listVersion": l.version, "firstAddedTimestamp": iso_ms(f),
                   "lastAddedTimestamp": iso_ms(la), "isPublicList": true})
        })
        .collect()
}

fn parse(id: &str) -> Option<u64> {
    id.parse().ok()
}

fn live<'a>(ctx: &Ctx, st: &'a State, id: u64) -> Option<&'a List> {
    st.lists
        .get(&id)
        .filter(|l| l.portal == ctx.portal && l.deleted_ms.is_none())
}

fn live_or_404<'a>(ctx: &Ctx, st: &'a State, id: &str) -> Result<&'a List, HsErr> {
    parse(id)
        .and_then(|n| live(ctx, st, n))
        .ok_or_else(|| not_found(format!("List {id} does not exist.")))
}

/// A list whose membership the API may change: MANUAL or SNAPSHOT.
fn editable(ctx: &Ctx, st: &State, id: &str) -> Result<u64, HsErr> {
    let l = live_or_404(ctx, st, id)?;
    if l.processing_type == "DYNAMIC" {
        return Err(validation(format!(
            "List {id} is a DYNAMIC list: records can only be added to or removed from MANUAL and SNAPSHOT lists."
        ))
        .sub_category("ILS.LIST_PROCESSING_TYPE_NOT_SUPPORTED_FOR_OPERATION")
        .context(json!({"listId": [id], "processingType": ["DYNAMIC"]})));
    }
    Ok(l.id)
}

fn cap(ctx: &Ctx, n: usize) -> Result<(), HsErr> {
    if let Some(max) = ctx.cfg.max_membership_ids {
        if n > max {
            return Err(validation(format!(
                "Too many record ids: {n} given, at most {max} are allowed per membership call."
            )));
        }
    }
    Ok(())
}

fn id_string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// The body of memberships/add and /remove: a bare JSON array of record-id strings.
fn bare_ids(body: Option<&Value>) -> Result<Vec<String>, HsErr> {
    match body {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                id_string(v).ok_or_else(|| validation(format!("Invalid input JSON: record ids are strings, got {v}")))
            })
            .collect(),
        _ => Err(validation(
            "Invalid input JSON: the body is a JSON array of record ids, e.g. [\"101\",\"102\"]",
        )),
    }
}

fn change(ctx: &Ctx, st: &mut State, lid: u64, add: Vec<String>, remove: Vec<String>) -> Value {
    let portal = ctx.portal.to_string();
    let exists = |st: &State, s: &str| -> Option<u64> {
        let n: u64 = s.parse().ok()?;
        st.contacts
            .get(&n)
            .filter(|c| c.portal == portal && c.archived_ms.is_none())
            .map(|c| c.id)
    };
    let object_type = st.lists[&lid].object_type_id.clone();
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let mut missing = Vec::new();
    let resolved_add: Vec<(String, Option<u64>)> = add
        .iter()
        .map(|s| (s.clone(), if object_type == "0-1" { exists(st, s) } else { None }))
        .collect();
    let resolved_remove: Vec<(String, Option<u64>)> = remove
        .iter()
        .map(|s| (s.clone(), if object_type == "0-1" { exists(st, s) } else { None }))
        .collect();
    let l = st.lists.get_mut(&lid).expect("checked");
    for (s, r) in resolved_add {
        match r {
            None => missing.push(s),
            Some(r) => {
                if let std::collections::btree_map::Entry::Vacant(e) = l.members.entry(r) {
                    e.insert((ctx.now, ctx.now));
                    added.push(s);
                }
            }
        }
    }
    for (s, r) in resolved_remove {
        match r {
            None => {
                if !missing.contains(&s) {
                    missing.push(s)
                }
            }
            Some(r) => {
                if l.members.remove(&r).is_some() {
                    removed.push(s);
                }
            }
        }
    }
    if !added.is_empty() || !removed.is_empty() {
        l.updated_ms = ctx.now;
    }
    json!({"recordsIdsAdded": added, "recordIdsRemoved": removed, "recordIdsMissing": missing})
}

/// Membership pages: by record id ascending (descending with only `before`), or by join time.
fn memberships(ctx: &Ctx, st: &State, id: &str, join_order: bool) -> Result<Out, HsErr> {
    let l = live_or_404(ctx, st, id)?;
    let limit = match ctx.q("limit") {
        None => DEFAULT_MEMBERSHIP_LIMIT,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_MEMBERSHIP_LIMIT).contains(&n) => n,
            _ => return Err(
                validation(format!("limit must be between 1 and {MAX_MEMBERSHIP_LIMIT}, got '{s}'")).error(
                    json!({"message": format!("must be less than or equal to {MAX_MEMBERSHIP_LIMIT}"), "in": "limit"}),
                ),
            ),
        },
    };
    let decode = |k: &str| -> Result<Option<u64>, HsErr> {
        match ctx.q(k) {
            None => Ok(None),
            Some(s) => uncursor(s)
                .map(Some)
                .ok_or_else(|| validation(format!("{k} '{s}' is not a cursor this API issued"))),
        }
    };
    let after = decode("after")?;
    let before = decode("before")?;
    // position-keyed order
    let mut all: Vec<(u64, (i64, i64))> = l.members.iter().map(|(r, t)| (*r, *t)).collect();
    if join_order {
        all.sort_by_key(|(r, t)| (t.0, *r));
    }
    let total = all.len();
    let pos = |rid: u64| all.iter().position(|(r, _)| *r == rid);
    let descending = before.is_some() && after.is_none();
    type Page = (Vec<(u64, (i64, i64))>, Option<String>, Option<String>);
    let (slice, prev_cursor, next_cursor): Page = if descending {
        let end = before.and_then(pos).unwrap_or(total);
        let start = end.saturating_sub(limit);
        let mut page = all[start..end].to_vec();
        page.reverse();
        let more = start > 0;
        (
            page.clone(),
            more.then(|| cursor(page.last().map(|p| p.0).unwrap_or(0))),
            None,
        )
    } else {
        let start = match after {
            Some(a) => pos(a).map(|p| p + 1).unwrap_or(total),
            None => 0,
        };
        let end = (start + limit).min(total);
        let page = all[start..end].to_vec();
        let more = end < total;
        let next = more.then(|| cursor(page.last().map(|p| p.0).unwrap_or(0)));
        let prev = (start > 0).then(|| cursor(page.first().map(|p| p.0).unwrap_or(0)));
        (page, prev, next)
    };
    let results: Vec<Value> = slice
        .iter()
        .map(|(r, t)| json!({"recordId": r.to_string(), "membershipTimestamp": iso_ms(t.1)}))
        .collect();
    let mut v = json!({"results": results, "total": total});
    let mut paging = serde_json::Map::new();
    if let Some(n) = next_cursor {
        paging.insert("next".into(), json!({"after": n, "link": format!("?after={n}")}));
    }
    if let Some(p) = prev_cursor {
        paging.insert("prev".into(), json!({"before": p, "link": format!("?before={p}")}));
    }
    if !paging.is_empty() {
        v["paging"] = serde_json::Value::Object(paging);
    }
    ok(v)
}

fn name_free(ctx: &Ctx, st: &State, name: &str, except: Option<u64>) -> Result<(), HsErr> {
    if st
        .lists
        .values()
        .any(|l| l.portal == ctx.portal && l.deleted_ms.is_none() && Some(l.id) != except && l.name == name)
    {
        return Err(
            validation(format!("A list named '{name}' already exists.")).sub_category("ILS.DUPLICATE_LIST_NAMES")
        );
    }
    Ok(())
}

fn create(ctx: &Ctx, st: &mut State, body: Option<&Value>) -> Result<Out, HsErr> {
    let b = body.cloned().unwrap_or(Value::Null);
    let s = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
    let mut errors = Vec::new();
    for k in ["name", "objectTypeId", "processingType"] {
        if s(k).is_none_or(|v| v.trim().is_empty()) {
            errors.push(json!({"message": format!("{k} is required"), "in": k, "code": "REQUIRED_FIELD"}));
        }
    }
    if !errors.is_empty() {
        let mut e = validation("Invalid input JSON: name, objectTypeId and processingType are required.");
        e.x.errors = errors;
        return Err(e);
    }
    let name = s("name").unwrap_or_default();
    let ot = s("objectTypeId").unwrap_or_default();
    let pt = s("processingType").unwrap_or_default();
    if !PROCESSING_TYPES.contains(&pt.as_str()) {
        return Err(
            validation(format!("processingType must be MANUAL, DYNAMIC or SNAPSHOT, got {pt}"))
                .error(json!({"message": "must be MANUAL, DYNAMIC or SNAPSHOT", "in": "processingType"})),
        );
    }
    if !ot.starts_with("0-") && !ot.starts_with("2-") {
        return Err(validation(format!(
            "objectTypeId {ot} is not an object type id (0-1 for contacts)"
        )));
    }
    let fb = b.get("filterBranch").filter(|f| f.is_object()).cloned();
    if pt != "MANUAL" && fb.is_none() {
        return Err(validation(format!("A {pt} list needs a filterBranch")).error(
            json!({"message": "filterBranch is required for DYNAMIC and SNAPSHOT lists", "in": "filterBranch"}),
        ));
    }
    if pt == "MANUAL" && fb.is_some() {
        return Err(validation("A MANUAL list has no filterBranch"));
    }
    name_free(ctx, st, &name, None)?;
    let id = st.seed_list(ctx.portal, &name, &pt, false);
    let l = st.lists.get_mut(&id).expect("just made");
    l.object_type_id = ot;
    l.filter_branch = fb;
    l.foreign = false;
    ok(json!({"list": render(l, true)}))
}

/// A list as the API shows it; filterBranch only with includeFilters.
pub fn render(l: &List, include_filters: bool) -> Value {
    let mut v = json!({"listId": l.id.to_string(), "listVersion": l.version, "name": l.name,
                       "objectTypeId": l.object_type_id, "processingType": l.processing_type,
                       "processingStatus": "COMPLETE", "size": l.members.len(), "createdAt": iso_ms(l.created_ms),
                       "updatedAt": iso_ms(l.updated_ms), "filtersUpdatedAt": iso_ms(l.filters_updated_ms),
                       "createdById": crate::platform::defaults::HUBSPOT_USER_ID.to_string(),
                       "updatedById": crate::platform::defaults::HUBSPOT_USER_ID.to_string()});
    if include_filters {
        if let Some(f) = &l.filter_branch {
            v["filterBranch"] = f.clone();
        }
    }
    v
}

/// POST /search: offset paging, `count` ≤ 500 (default 20).
fn search(ctx: &Ctx, st: &State, body: Option<&Value>) -> Result<Out, HsErr> {
    let b = body.cloned().unwrap_or(json!({}));
    let count =
        match b.get("count") {
            None | Some(Value::Null) => DEFAULT_SEARCH_COUNT,
            Some(v) => match v.as_u64() {
                Some(n) if (1..=MAX_SEARCH_COUNT as u64).contains(&n) => n as usize,
                _ => return Err(
                    validation(format!("count must be between 1 and {MAX_SEARCH_COUNT}, got {v}")).error(
                        json!({"message": format!("must be less than or equal to {MAX_SEARCH_COUNT}"), "in": "count"}),
                    ),
                ),
            },
        };
    let offset = b.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
    let query = b.get("query").and_then(Value::as_str).map(str::to_lowercase);
    let types: Vec<String> = b
        .get("processingTypes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let ids: Vec<String> = b
        .get("listIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let ot = b.get("objectTypeId").and_then(Value::as_str);
    let hits: Vec<&List> = st
        .lists
        .values()
        .filter(|l| l.portal == ctx.portal && l.deleted_ms.is_none())
        .filter(|l| {
            query
                .as_ref()
                .is_none_or(|q| l.name.to_lowercase().contains(q.as_str()))
        })
        .filter(|l| types.is_empty() || types.contains(&l.processing_type))
        .filter(|l| ids.is_empty() || ids.contains(&l.id.to_string()))
        .filter(|l| ot.is_none_or(|o| l.object_type_id == o))
        .collect();
    let total = hits.len();
    let lists: Vec<Value> = hits
        .iter()
        .skip(offset)
        .take(count)
        .map(|l| {
            let mut v = render(l, false);
            if let Some(o) = v.as_object_mut() {
                o.remove("size");
            }
            v["additionalProperties"] = json!({"hs_list_size": l.members.len().to_string()});
            v
        })
        .collect();
    let next = (offset + count).min(total);
    ok(json!({"lists": lists, "total": total, "offset": next, "hasMore": next < total}))
}
