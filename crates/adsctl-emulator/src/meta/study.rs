//! Split tests (ad studies; `AdStudy.json`, `AdStudyCell.json`, `AdStudyObjective.json` and `Business.json` of
//! `reference/meta-marketing-supplement/`): `POST /{business_id}/ad_studies` creates one, `GET act_{id}/ad_studies`
//! lists the studies whose cells hold the account's campaigns or ad sets, `/{study}` is read, updated and deleted,
//! `/{study}/cells` and `/{study}/objectives` list its parts.
//!
//! The spec table refuses what the node specs refuse (an unknown parameter, a missing `name`, `start_time`,
//! `end_time` or `cells`, a `type` outside the enum, a time that is not an integer). The rules here are the ones
//! beyond the specs' shape (Meta's Ad Study reference and Lift Study guide, and the readings `docs/spec.md` gives
//! under Meta → Split tests); each is a row of `docs/wire-rules.md`.
//!
//! Emulator scope: only `type=SPLIT_TEST` studies are served (lift, geo lift and the other study types need
//! Meta's measurement team and are refused as unsupported here).

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::error::GraphError;
use super::graph::{self, Ctx, FieldSel};
use super::state::{Kind, Obj};
use super::util::format_time;

/// Most cells a split test may have (reading chosen: Ads Manager's A/B test compares up to five versions).
pub const MAX_CELLS: usize = 5;
/// The edges of a cell a read may expand in `fields=` (AdStudyCell.json's GET edges).
const CELL_EDGES: &[&str] = &["adsets", "campaigns", "adaccounts"];

fn rule(title: &str, msg: impl Into<String>) -> GraphError {
    GraphError::rule(title, msg)
}

/// Seconds from an `int` parameter (the table has coerced it).
fn secs(p: &Map<String, Value>, name: &str) -> Option<i64> {
    p.get(name).and_then(Value::as_i64)
}

fn stored_secs(o: &Obj, name: &str) -> Option<i64> {
    o.str_field(name).and_then(super::params::parse_datetime)
}

fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether a split test still runs or waits to run (not ended, not canceled) at `now` (ms).
fn live_study(o: &Obj, now: i64) -> bool {
    o.kind == Kind::AdStudy
        && o.fields.get("canceled_time").is_none()
        && stored_secs(o, "end_time").is_none_or(|e| e * 1000 > now)
}

/// The campaigns and ad sets a study's cells hold.
fn objects_of(ctx: &Ctx, study: &Obj) -> Vec<String> {
    let mut out = Vec::new();
    for cid in study_cells(study) {
        if let Some(c) = ctx.st.objects.get(&cid) {
            for edge in ["adsets", "campaigns"] {
                if let Some(Value::Array(ids)) = c.fields.get(edge) {
                    out.extend(ids.iter().filter_map(id_text));
                }
            }
        }
    }
    out
}

fn study_cells(study: &Obj) -> Vec<String> {
    match study.fields.get("cells") {
        Some(Value::Array(ids)) => ids.iter().filter_map(id_text).collect(),
        _ => Vec::new(),
    }
}

/// A checked cell: its name, share, level (`adsets` or `campaigns`) and objects.
struct Cell {
    name: String,
    percentage: i64,
    edge: &'static str,
    ids: Vec<String>,
}

/// The `cells` of a create or an update, checked: 2..=5 cells, each named once, with a whole treatment percentage
/// of 1..=99, the percentages summing to 100, each naming ad sets or campaigns (not both; the same level in every
/// cell) that exist and are not deleted, no object in two cells or in another split test that has not ended.
/// Returns the cells and the account of their first object.
fn check_cells(ctx: &Ctx, v: &Value, this: Option<&str>) -> Result<(Vec<Cell>, String), GraphError> {
    let Value::Array(items) = v else {
        return Err(GraphError::invalid_param("(#100) Param cells must be an array."));
    };
    if items.len() < 2 || items.len() > MAX_CELLS {
        return Err(rule(
            "Invalid Number of Cells",
            format!(
                "A split test has between 2 and {MAX_CELLS} cells; this one has {}.",
                items.len()
            ),
        ));
    }
    let mut cells = Vec::new();
    let mut names = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut level: Option<&'static str> = None;
    let mut account = None;
    for item in items {
        let Value::Object(c) = item else {
            return Err(GraphError::invalid_param(
                "(#100) Each element of cells must be a JSON object.",
            ));
        };
        let name = match c.get("name") {
            Some(Value::String(n)) if !n.trim().is_empty() => n.trim().to_string(),
            _ => return Err(rule("Missing Cell Name", "Each cell of a split test needs a name.")),
        };
        if !names.insert(name.clone()) {
            return Err(rule(
                "Duplicate Cell Name",
                format!("The cell name \"{name}\" is used twice in this study."),
            ));
        }
        let pct = c.get("treatment_percentage");
        let percentage = match pct.and_then(Value::as_i64) {
            Some(p) if (1..=99).contains(&p) => p,
            _ => {
                return Err(rule(
                    "Invalid Treatment Percentage",
                    format!(
                        "The treatment_percentage of cell \"{name}\" must be a whole number from 1 to 99, got {}.",
                        pct.map_or("nothing".to_string(), Value::to_string)
                    ),
                ))
            }
        };
        let list = |k: &str| -> Vec<String> {
            match c.get(k) {
                Some(Value::Array(ids)) => ids.iter().filter_map(id_text).collect(),
                _ => Vec::new(),
            }
        };
        let (adsets, campaigns) = (list("adsets"), list("campaigns"));
        let (edge, ids) = match (adsets.is_empty(), campaigns.is_empty()) {
            (false, true) => ("adsets", adsets),
            (true, false) => ("campaigns", campaigns),
            (true, true) => {
                return Err(rule(
                    "Empty Cell",
                    format!("Cell \"{name}\" names no ad sets and no campaigns."),
                ))
            }
            (false, false) => {
                return Err(rule(
                    "Mixed Cell",
                    format!("Cell \"{name}\" names both ad sets and campaigns: a cell tests one level."),
                ))
            }
        };
        if *level.get_or_insert(edge) != edge {
            return Err(rule(
                "Mixed Study Levels",
                "Every cell of a split test names the same level: ad sets in all of them, or campaigns in all.",
            ));
        }
        let want = if edge == "adsets" { Kind::AdSet } else { Kind::Campaign };
        for id in &ids {
            let live = ctx
                .st
                .objects
                .get(id)
                .filter(|o| o.kind == want && o.status() != "DELETED");
            let Some(o) = live else {
                return Err(rule(
                    "Object Not Found",
                    format!(
                        "Cell \"{name}\" names {} {id}, which does not exist or was deleted.",
                        if edge == "adsets" { "ad set" } else { "campaign" }
                    ),
                ));
            };
            account.get_or_insert_with(|| o.account.clone());
            if !seen.insert(id.clone()) {
                return Err(rule(
                    "Object In Several Cells",
                    format!("{id} is in more than one cell: the cells of a split test do not overlap."),
                ));
            }
            let busy = ctx
                .st
                .objects
                .values()
                .find(|s| Some(s.id.as_str()) != this && live_study(s, ctx.now) && objects_of(ctx, s).contains(id));
            if let Some(s) = busy {
                return Err(rule(
                    "Object Already In A Test",
                    format!(
                        "{id} is already in split test {} until it ends: an ad set or campaign is in one test at a time.",
                        s.id
                    ),
                ));
            }
        }
        cells.push(Cell {
            name,
            percentage,
            edge,
            ids,
        });
    }
    let sum: i64 = cells.iter().map(|c| c.percentage).sum();
    if sum != 100 {
        return Err(rule(
            "Invalid Treatment Percentages",
            format!("The treatment percentages of a split test's cells add up to 100; these add up to {sum}."),
        ));
    }
    Ok((cells, account.unwrap_or_default()))
}

/// `objectives`: each `{name, type, is_primary}`, `type` one of `adstudyobjective_type`, at most one primary.
fn check_objectives(v: &Value) -> Result<Vec<Map<String, Value>>, GraphError> {
    let Value::Array(items) = v else {
        return Err(GraphError::invalid_param("(#100) Param objectives must be an array."));
    };
    let types = super::params::table()
        .enums
        .get("adstudyobjective_type")
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut primaries = 0;
    for item in items {
        let Value::Object(o) = item else {
            return Err(GraphError::invalid_param(
                "(#100) Each element of objectives must be a JSON object.",
            ));
        };
        let name = o.get("name").and_then(Value::as_str).unwrap_or("").trim();
        let ty = o.get("type").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() || !types.iter().any(|t| t == ty) {
            return Err(rule(
                "Invalid Objective",
                format!(
                    "An objective has a name and a type ({}); got {}.",
                    types.join(", "),
                    Value::Object(o.clone())
                ),
            ));
        }
        let primary = o.get("is_primary").and_then(Value::as_bool).unwrap_or(false);
        primaries += usize::from(primary);
        out.push(
            [
                ("name".to_string(), json!(name)),
                ("type".to_string(), json!(ty)),
                ("is_primary".to_string(), json!(primary)),
            ]
            .into_iter()
            .collect(),
        );
    }
    if primaries > 1 {
        return Err(rule(
            "Several Primary Objectives",
            "A study has at most one primary objective.",
        ));
    }
    Ok(out)
}

/// `start_time` in the future and `end_time` after it.
fn check_times(now_ms: i64, start: i64, end: i64, check_start: bool) -> Result<(), GraphError> {
    if check_start && start * 1000 <= now_ms {
        return Err(rule("Invalid Start Time", "Study start time must be in the future."));
    }
    if end <= start {
        return Err(rule(
            "Invalid End Time",
            "The study's end_time must be after its start_time.",
        ));
    }
    Ok(())
}

fn new_obj(ctx: &mut Ctx, kind: Kind, account: &str, fields: Map<String, Value>) -> String {
    let id = ctx.st.new_id(ctx.cfg.seed);
    ctx.st.insert(Obj {
        id: id.clone(),
        kind,
        account: account.to_string(),
        fields,
        created_ms: ctx.now,
        updated_ms: ctx.now,
        review: None,
        prev: None,
    });
    id
}

/// Store the cells and objectives as nodes; their ids.
fn store_parts(ctx: &mut Ctx, account: &str, cells: Vec<Cell>, objectives: Vec<Map<String, Value>>) -> (Value, Value) {
    let mut cell_ids = Vec::new();
    for c in cells {
        let mut f = Map::new();
        f.insert("name".into(), json!(c.name));
        f.insert("treatment_percentage".into(), json!(c.percentage));
        f.insert(c.edge.into(), json!(c.ids));
        cell_ids.push(json!(new_obj(ctx, Kind::AdStudyCell, account, f)));
    }
    let mut obj_ids = Vec::new();
    for o in objectives {
        obj_ids.push(json!(new_obj(ctx, Kind::AdStudyObjective, account, o)));
    }
    (Value::Array(cell_ids), Value::Array(obj_ids))
}

fn check_type(p: &Map<String, Value>) -> Result<(), GraphError> {
    match p.get("type").and_then(Value::as_str) {
        Some("SPLIT_TEST") => Ok(()),
        other => Err(rule(
            "Unsupported Study Type",
            format!(
                "The emulator serves split tests only (type=SPLIT_TEST); got {}.",
                other.unwrap_or("no type")
            ),
        )),
    }
}

/// `POST /{business_id}/ad_studies`.
pub fn create(ctx: &mut Ctx, business: &str, p: Map<String, Value>) -> Result<Value, GraphError> {
    match p.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => {}
        _ => return Err(GraphError::missing_param("name")),
    }
    check_type(&p)?;
    let (start, end) = match (secs(&p, "start_time"), secs(&p, "end_time")) {
        (Some(s), Some(e)) => (s, e),
        (None, _) => return Err(GraphError::missing_param("start_time")),
        (_, None) => return Err(GraphError::missing_param("end_time")),
    };
    check_times(ctx.now, start, end, true)?;
    let cells_v = p.get("cells").ok_or_else(|| GraphError::missing_param("cells"))?;
    let (cells, account) = check_cells(ctx, cells_v, None)?;
    let objectives = match p.get("objectives") {
        Some(v) => check_objectives(v)?,
        None => Vec::new(),
    };
    let (cell_ids, obj_ids) = store_parts(ctx, &account, cells, objectives);
    let mut f = Map::new();
    for k in ["name", "description", "type"] {
        if let Some(v) = p.get(k) {
            f.insert(k.into(), v.clone());
        }
    }
    f.insert("start_time".into(), json!(format_time(start * 1000)));
    f.insert("end_time".into(), json!(format_time(end * 1000)));
    f.insert("business".into(), json!({ "id": business }));
    f.insert("cells".into(), cell_ids);
    f.insert("objectives".into(), obj_ids);
    let id = new_obj(ctx, Kind::AdStudy, &account, f);
    Ok(json!({ "id": id }))
}

/// `POST /{study}`: before the study starts anything may change; once it has started its start time and cells
/// are fixed (Lift Study guide), its type never changes.
pub fn update(ctx: &mut Ctx, id: &str, p: Map<String, Value>) -> Result<Value, GraphError> {
    let Some(old) = ctx.st.objects.get(id).cloned() else {
        return Err(GraphError::unsupported("POST", id));
    };
    if let Some(t) = p.get("type").and_then(Value::as_str) {
        if old.str_field("type") != Some(t) {
            return Err(rule(
                "Study Type Can't Change",
                "The type of a study is fixed when it is created.",
            ));
        }
    }
    if let Some(Value::String(n)) = p.get("name") {
        if n.trim().is_empty() {
            return Err(GraphError::missing_param("name"));
        }
    }
    let old_start = stored_secs(&old, "start_time").unwrap_or(0);
    let started = old_start * 1000 <= ctx.now;
    if started && (p.contains_key("start_time") || p.contains_key("cells")) {
        return Err(rule(
            "Study Already Started",
            "A study that has started can't change its start_time or its cells (their treatment percentages and \
             the ad sets or campaigns they hold).",
        ));
    }
    let start = secs(&p, "start_time").unwrap_or(old_start);
    let end = secs(&p, "end_time").unwrap_or_else(|| stored_secs(&old, "end_time").unwrap_or(0));
    check_times(ctx.now, start, end, p.contains_key("start_time"))?;
    let parts = match p.get("cells") {
        Some(v) => Some(check_cells(ctx, v, Some(id))?),
        None => None,
    };
    let objectives = match p.get("objectives") {
        Some(v) => Some(check_objectives(v)?),
        None => None,
    };
    let mut fields = old.fields.clone();
    if let Some((cells, account)) = parts {
        for c in study_cells(&old) {
            ctx.st.remove(&c);
        }
        let (cell_ids, _) = store_parts(ctx, &account, cells, Vec::new());
        fields.insert("cells".into(), cell_ids);
    }
    if let Some(objectives) = objectives {
        if let Some(Value::Array(ids)) = old.fields.get("objectives") {
            for o in ids.iter().filter_map(id_text) {
                ctx.st.remove(&o);
            }
        }
        let (_, obj_ids) = store_parts(ctx, &old.account, Vec::new(), objectives);
        fields.insert("objectives".into(), obj_ids);
    }
    for k in ["name", "description"] {
        if let Some(v) = p.get(k) {
            fields.insert(k.into(), v.clone());
        }
    }
    fields.insert("start_time".into(), json!(format_time(start * 1000)));
    fields.insert("end_time".into(), json!(format_time(end * 1000)));
    let now = ctx.now;
    if let Some(o) = ctx.st.objects.get_mut(id) {
        let mut prev = o.clone();
        prev.prev = None;
        o.prev = Some(Box::new(prev));
        o.fields = fields;
        o.updated_ms = now;
    }
    Ok(json!({ "success": true }))
}

/// `DELETE /{study}`: the study, its cells and objectives go (the campaigns and ad sets stay).
pub fn delete(ctx: &mut Ctx, id: &str) -> Result<Value, GraphError> {
    let Some(old) = ctx.st.objects.get(id).cloned() else {
        return Err(GraphError::unsupported("DELETE", id));
    };
    for c in study_cells(&old) {
        ctx.st.remove(&c);
    }
    if let Some(Value::Array(ids)) = old.fields.get("objectives") {
        for o in ids.iter().filter_map(id_text) {
            ctx.st.remove(&o);
        }
    }
    ctx.st.remove(id);
    Ok(json!({ "success": true }))
}

/// Every study, in creation order.
fn all_studies<'s>(ctx: &'s Ctx) -> Vec<&'s Obj> {
    let mut v: Vec<&Obj> = ctx.st.objects.values().filter(|o| o.kind == Kind::AdStudy).collect();
    v.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
    v
}

fn render_list(ctx: &Ctx, items: Vec<Obj>, node: &str) -> Result<Value, GraphError> {
    let sel = graph::selection(ctx, node)?;
    let data = items
        .iter()
        .map(|o| graph::render(ctx, o, &sel))
        .collect::<Result<Vec<_>, _>>()?;
    graph::page(ctx, data)
}

/// `GET act_{id}/ad_studies`: the studies whose cells hold a campaign or ad set of the account.
pub fn list_account(ctx: &Ctx, account: &str) -> Result<Value, GraphError> {
    let items: Vec<Obj> = all_studies(ctx)
        .into_iter()
        .filter(|s| {
            objects_of(ctx, s)
                .iter()
                .any(|id| ctx.st.objects.get(id).is_some_and(|o| o.account == account))
        })
        .cloned()
        .collect();
    render_list(ctx, items, "AdStudy")
}

/// `GET /{business_id}/ad_studies`: the studies made on that business.
pub fn list_business(ctx: &Ctx, business: &str) -> Result<Value, GraphError> {
    let items: Vec<Obj> = all_studies(ctx)
        .into_iter()
        .filter(|s| {
            s.fields
                .get("business")
                .and_then(|b| b.get("id"))
                .and_then(Value::as_str)
                == Some(business)
        })
        .cloned()
        .collect();
    render_list(ctx, items, "AdStudy")
}

/// `GET /{study}/objectives`.
pub fn objectives(ctx: &Ctx, id: &str) -> Result<Value, GraphError> {
    let ids = match ctx.st.objects.get(id).and_then(|o| o.fields.get("objectives")) {
        Some(Value::Array(ids)) => ids.iter().filter_map(id_text).collect(),
        _ => Vec::new(),
    };
    let items = ids
        .iter()
        .filter_map(|i: &String| ctx.st.objects.get(i).cloned())
        .collect();
    render_list(ctx, items, "AdStudyObjective")
}

/// A cell with a selection that may expand its edges (`adsets`, `campaigns`, `adaccounts`) as
/// `{"data":[{"id":…}]}`, as the Ad Study reference's example read shows.
pub fn render_cell(ctx: &Ctx, cell: &Obj, sel: &[FieldSel]) -> Result<Value, GraphError> {
    let (edges, plain): (Vec<&FieldSel>, Vec<&FieldSel>) =
        sel.iter().partition(|f| CELL_EDGES.contains(&f.name.as_str()));
    let plain: Vec<FieldSel> = plain
        .into_iter()
        .map(|f| FieldSel {
            name: f.name.clone(),
            sub: f.sub.clone(),
        })
        .collect();
    let mut out = match graph::render(ctx, cell, &plain)? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    for e in edges {
        let ids: Vec<String> = match e.name.as_str() {
            "adaccounts" => {
                let mut accts = BTreeSet::new();
                for edge in ["adsets", "campaigns"] {
                    if let Some(Value::Array(ids)) = cell.fields.get(edge) {
                        for i in ids.iter().filter_map(id_text) {
                            if let Some(o) = ctx.st.objects.get(&i) {
                                accts.insert(format!("act_{}", o.account));
                            }
                        }
                    }
                }
                accts.into_iter().collect()
            }
            edge => match cell.fields.get(edge) {
                Some(Value::Array(ids)) => ids.iter().filter_map(id_text).collect(),
                _ => continue,
            },
        };
        let data: Vec<Value> = ids
            .iter()
            .map(|i| match (&e.sub, ctx.st.objects.get(i)) {
                (Some(sub), Some(o)) => graph::render(ctx, o, sub),
                _ => Ok(json!({ "id": i })),
            })
            .collect::<Result<_, _>>()?;
        out.insert(e.name.clone(), json!({ "data": data }));
    }
    Ok(Value::Object(out))
}

/// The `fields=` of a cell read: the node's fields and its expandable edges.
pub fn cell_selection(ctx: &Ctx) -> Result<Vec<FieldSel>, GraphError> {
    let sel = match ctx.req.param("fields") {
        Some(f) if !f.trim().is_empty() => graph::parse_fields(f),
        _ => vec![FieldSel {
            name: "id".into(),
            sub: None,
        }],
    };
    let table = super::params::table();
    for f in &sel {
        if !CELL_EDGES.contains(&f.name.as_str()) && !table.has_field("AdStudyCell", &f.name) {
            return Err(GraphError::unknown_field(&f.name, "AdStudyCell"));
        }
    }
    Ok(sel)
}

/// `GET /{study}/cells`.
pub fn cells(ctx: &Ctx, id: &str) -> Result<Value, GraphError> {
    let sel = cell_selection(ctx)?;
    let ids = ctx.st.objects.get(id).map(study_cells).unwrap_or_default();
    let data = ids
        .iter()
        .filter_map(|i| ctx.st.objects.get(i))
        .map(|c| render_cell(ctx, c, &sel))
        .collect::<Result<Vec<_>, _>>()?;
    graph::page(ctx, data)
}

/// Whether `GET|POST /{first}/ad_studies` is a business's edge: digits that are no object the emulator holds
/// (the emulator keeps no business objects: any business id is one).
pub fn is_business(ctx: &Ctx, first: &str, edge: Option<&str>) -> bool {
    edge == Some("ad_studies")
        && !first.is_empty()
        && first.bytes().all(|b| b.is_ascii_digit())
        && !ctx.st.objects.contains_key(first)
}
