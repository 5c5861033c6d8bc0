//! Marketing campaigns: `/marketing/campaigns/{ver}` and `/marketing/v3/campaigns`.

use std::collections::BTreeMap;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use super::{
    batch_body, batch_inputs, created, cursor, is_date, iso_ms, limit_of, no_content, not_found, ok, property_errors,
    props_of, standard_error, uncursor, unordered, validation, Campaign, Ctx, HsErr, MoneyItem, Out, State,
    MAX_CAMPAIGN_BATCH,
};
use crate::rng::hash_str;

/// Writable campaign properties.
pub const WRITABLE: &[&str] = &[
    "hs_name",
    "hs_start_date",
    "hs_end_date",
    "hs_notes",
    "hs_audience",
    "hs_owner",
    "hs_currency_code",
    "hs_utm",
    "hs_color_hex",
    "hs_campaign_status",
];
/// Read-only campaign properties (rollups and system values).
pub const READ_ONLY: &[&str] = &[
    "hs_budget_items_sum_amount",
    "hs_spend_items_sum_amount",
    "hs_object_id",
    "hs_created_by_user_id",
    "hs_createdate",
    "hs_lastmodifieddate",
];
/// Asset types that can be associated and disassociated through the API.
pub const WRITABLE_ASSETS: &[&str] = &[
    "FORM",
    "OBJECT_LIST",
    "EXTERNAL_WEB_URL",
    "MARKETING_EMAIL",
    "SEQUENCE",
    "MEETING_EVENT",
    "CTA",
    "CALL",
];
const ATTRIBUTION_MODELS: &[&str] = &[
    "LINEAR",
    "FIRST_INTERACTION",
    "LAST_INTERACTION",
    "FULL_PATH",
    "U_SHAPED",
    "W_SHAPED",
    "TIME_DECAY",
    "J_SHAPED",
    "INVERSE_J_SHAPED",
];

pub fn route(ctx: &Ctx, st: &mut State, m: &str, r: &[&str], body: Option<&Value>) -> Result<Out, HsErr> {
    match (m, r) {
        ("GET", []) => list(ctx, st),
        ("POST", []) => {
            let c = create(ctx, st, body)?;
            // the answer shows the properties written (and any asked for)
            let mut wanted: Vec<String> = c
                .properties
                .keys()
                .filter(|k| !READ_ONLY.contains(&k.as_str()))
                .cloned()
                .collect();
            wanted.extend(ctx.q_list("properties"));
            created(render(ctx, &c, &wanted))
        }
        ("POST", ["batch", "create"]) => batch_create(ctx, st, body),
        ("POST", ["batch", "read"]) => batch_read(ctx, st, body),
        ("POST", ["batch", "update"]) => batch_update(ctx, st, body),
        ("POST", ["batch", "archive"]) => {
            let inputs = batch_inputs(body, MAX_CAMPAIGN_BATCH)?;
            for i in inputs {
                if let Some(id) = i.get("id").and_then(Value::as_str) {
                    if st.campaigns.get(id).is_some_and(|c| c.portal == ctx.portal) {
                        st.campaigns.remove(id);
                    }
                }
            }
            no_content()
        }
        ("GET", [id]) => {
            let c = owned(ctx, st, id)?;
            report_dates(ctx)?;
            let mut v = render(ctx, c, &ctx.q_list("properties"));
            let assets: Map<String, Value> = c
                .assets
                .iter()
                .map(|(t, ids)| {
                    (
                        t.clone(),
                        json!({"results": ids.iter().map(|i| asset_json(i, t)).collect::<Vec<_>>()}),
                    )
                })
                .collect();
            v["assets"] = Value::Object(assets);
            ok(v)
        }
        ("PATCH", [id]) => {
            let props = validate(ctx, props_of(body.and_then(|b| b.get("properties")))?, false)?;
            let now = ctx.now;
            let c = owned_mut(ctx, st, id)?;
            apply(c, props, now);
            let c = c.clone();
            ok(render(ctx, &c, &ctx.q_list("properties")))
        }
        ("DELETE", [id]) => {
            if st.campaigns.get(*id).is_some_and(|c| c.portal == ctx.portal) {
                st.campaigns.remove(*id);
            }
            no_content()
        }
        ("POST", [id, kind @ ("budget" | "spend")]) => {
            let item = money_input(body)?;
            let now = ctx.now;
            let n = st.bump() as i64 + 1_000_000;
            let c = owned_mut(ctx, st, id)?;
            let it = MoneyItem {
                id: n,
                amount: item.0.to_string(),
                name: item.1,
                order: item.2,
                description: item.3,
                created_ms: now,
                updated_ms: now,
            };
            let v = item_json(&it);
            items_mut(c, kind).push(it);
            c.updated_ms = now;
            created(v)
        }
        ("GET", [id, "budget", "totals"]) => {
            let c = owned(ctx, st, id)?;
            ok(totals(c))
        }
        ("GET", [id, kind @ ("budget" | "spend"), item]) => {
            let c = owned(ctx, st, id)?;
            let it = items(c, kind)
                .iter()
                .find(|i| i.id.to_string() == *item)
                .ok_or_else(|| not_found(format!("No {kind} item with id {item} in campaign {id}")))?;
            ok(item_json(it))
        }
        ("PUT", [id, kind @ ("budget" | "spend"), item]) => {
            let input = money_input(body)?;
            let now = ctx.now;
            let c = owned_mut(ctx, st, id)?;
            let it = items_mut(c, kind)
                .iter_mut()
                .find(|i| i.id.to_string() == *item)
                .ok_or_else(|| not_found(format!("No {kind} item with id {item} in campaign {id}")))?;
            it.amount = input.0.to_string();
            it.name = input.1;
            it.order = input.2;
            if input.3.is_some() {
                it.description = input.3;
            }
            it.updated_ms = now;
            let v = item_json(it);
            c.updated_ms = now;
            ok(v)
        }
        ("DELETE", [id, kind @ ("budget" | "spend"), item]) => {
            if let Some(c) = st.campaigns.get_mut(*id).filter(|c| c.portal == ctx.portal) {
                items_mut(c, kind).retain(|i| i.id.to_string() != *item);
            }
            no_content()
        }
        ("GET", [id, "assets", t]) => {
            let c = owned(ctx, st, id)?;
            let ids = c.assets.get(*t).cloned().unwrap_or_default();
            ok(json!({"results": ids.iter().map(|i| asset_json(i, t)).collect::<Vec<_>>()}))
        }
        (m @ ("PUT" | "DELETE"), [id, "assets", t, asset]) => {
            if !WRITABLE_ASSETS.contains(t) {
                return Err(validation(format!(
                    "Asset type {t} cannot be associated or disassociated through the API; types that can: {}",
                    WRITABLE_ASSETS.join(", ")
                ))
                .context(json!({"assetType": [t]})));
            }
            if *t == "OBJECT_LIST" {
                let ok_list = asset
                    .parse::<u64>()
                    .ok()
                    .and_then(|n| st.lists.get(&n))
                    .is_some_and(|l| l.portal == ctx.portal && l.deleted_ms.is_none());
                if !ok_list && m == "PUT" {
                    return Err(not_found(format!("No list with id {asset}")));
                }
            }
            let c = owned_mut(ctx, st, id)?;
            let ids = c.assets.entry(t.to_string()).or_default();
            if m == "PUT" {
                if !ids.iter().any(|x| x == asset) {
                    ids.push(asset.to_string());
                }
            } else {
                ids.retain(|x| x != asset);
            }
            no_content()
        }
        ("GET", [id, "reports", "metrics"]) => {
            owned(ctx, st, id)?;
            report_dates(ctx)?;
            ok(json!({"sessions": 0, "newContactsFirstTouch": 0, "newContactsLastTouch": 0, "influencedContacts": 0}))
        }
        ("GET", [id, "reports", "revenue"]) => {
            let c = owned(ctx, st, id)?;
            report_dates(ctx)?;
            if let Some(a) = ctx.q("attributionModel") {
                if !ATTRIBUTION_MODELS.contains(&a) {
                    return Err(validation(format!(
                        "attributionModel must be one of {}",
                        ATTRIBUTION_MODELS.join(", ")
                    )));
                }
            }
            ok(
                json!({"revenueAmount": 0, "dealAmount": 0, "dealsNumber": 0, "contactsNumber": 0,
                      "currencyCode": currency(c)}),
            )
        }
        ("GET", [id, "reports", "contacts", t]) => {
            owned(ctx, st, id)?;
            if !matches!(*t, "contactFirstTouch" | "contactLastTouch" | "influencedContacts") {
                return Err(validation(format!(
                    "contactType must be contactFirstTouch, contactLastTouch or influencedContacts, got {t}"
                )));
            }
            ok(json!({"results": []}))
        }
        _ => Err(not_found(format!("Unable to find a resource for {m} {}", r.join("/")))),
    }
}

fn report_dates(ctx: &Ctx) -> Result<(), HsErr> {
    for k in ["startDate", "endDate"] {
        if let Some(d) = ctx.q(k) {
            if !is_date(d) {
                return Err(validation(format!("{k} must be a date YYYY-MM-DD, got '{d}'"))
                    .error(json!({"message": "must be a date YYYY-MM-DD", "in": k})));
            }
        }
    }
    Ok(())
}

fn asset_json(id: &str, t: &str) -> Value {
    json!({"id": id, "name": format!("{t} {id}"), "metrics": {}})
}

fn owned<'a>(ctx: &Ctx, st: &'a State, id: &str) -> Result<&'a Campaign, HsErr> {
    st.campaigns
        .get(id)
        .filter(|c| c.portal == ctx.portal)
        .ok_or_else(|| not_found(format!("Campaign with id {id} does not exist")))
}

fn owned_mut<'a>(ctx: &Ctx, st: &'a mut State, id: &str) -> Result<&'a mut Campaign, HsErr> {
    st.campaigns
        .get_mut(id)
        .filter(|c| c.portal == ctx.portal)
        .ok_or_else(|| not_found(format!("Campaign with id {id} does not exist")))
}

fn items<'a>(c: &'a Campaign, kind: &str) -> &'a Vec<MoneyItem> {
    if kind == "budget" {
        &c.budget
    } else {
        &c.spend
    }
}

fn items_mut<'a>(c: &'a mut Campaign, kind: &str) -> &'a mut Vec<MoneyItem> {
    if kind == "budget" {
        &mut c.budget
    } else {
        &mut c.spend
    }
}

/// The properties a caller asked for (query `properties`, or a batch body's `properties`).
fn requested(ctx: &Ctx, body: Option<&Value>) -> Vec<String> {
    let mut out = ctx.q_list("properties");
    if let Some(a) = body.and_then(|b| b.get("properties")).and_then(Value::as_array) {
        out.extend(a.iter().filter_map(Value::as_str).map(str::to_string));
    }
    out
}

/// Validate written properties: strings, known, writable, well-formed. hs_goal is dropped (deprecated).
fn validate(_ctx: &Ctx, props: Map<String, Value>, create: bool) -> Result<BTreeMap<String, String>, HsErr> {
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
        if k == "hs_goal" {
            continue;
        }
        if READ_ONLY.contains(&k.as_str()) {
            bad.push((k.clone(), "READ_ONLY_VALUE", format!("Property \"{k}\" is read-only")));
            continue;
        }
        if !WRITABLE.contains(&k.as_str()) {
            bad.push((
                k.clone(),
                "PROPERTY_DOESNT_EXIST",
                format!("Property \"{k}\" does not exist"),
            ));
            continue;
        }
        if !s.is_empty() {
            let err = match k.as_str() {
                "hs_start_date" | "hs_end_date" if !is_date(s) => {
                    Some(("INVALID_DATE", format!("{s} is not a valid date YYYY-MM-DD")))
                }
                "hs_currency_code" if !(s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase())) => {
                    Some(("INVALID_OPTION", format!("{s} is not an ISO 4217 currency code")))
                }
                "hs_color_hex"
                    if !(s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())) =>
                {
                    Some(("INVALID_OPTION", format!("{s} is not a colour #RRGGBB")))
                }
                _ => None,
            };
            if let Some((code, msg)) = err {
                bad.push((k.clone(), code, msg));
                continue;
            }
        }
        out.insert(k, s.to_string());
    }
    if create && out.get("hs_name").is_none_or(|n| n.is_empty()) && bad.is_empty() {
        bad.push((
            "hs_name".into(),
            "REQUIRED_PROPERTY",
            "Property \"hs_name\" is required to create a campaign".into(),
        ));
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(property_errors(bad))
    }
}

/// Apply validated properties: "" clears.
fn apply(c: &mut Campaign, props: BTreeMap<String, String>, now: i64) {
    for (k, v) in props {
        if v.is_empty() {
            c.properties.remove(&k);
        } else {
            c.properties.insert(k, v);
        }
    }
    c.updated_ms = now;
}

fn create(ctx: &Ctx, st: &mut State, body: Option<&Value>) -> Result<Campaign, HsErr> {
    let props = validate(ctx, props_of(body.and_then(|b| b.get("properties")))?, true)?;
    Ok(insert(ctx, st, props))
}

fn insert(ctx: &Ctx, st: &mut State, props: BTreeMap<String, String>) -> Campaign {
    let id = st.uuid(&format!("campaign{}", ctx.portal));
    let object_id = st.bump() + 5_000_000;
    let mut c = Campaign {
        id: id.clone(),
        portal: ctx.portal.to_string(),
        properties: BTreeMap::new(),
        created_ms: ctx.now,
        updated_ms: ctx.now,
        budget: Vec::new(),
        spend: Vec::new(),
        assets: Default::default(),
        foreign: false,
    };
    apply(&mut c, props, ctx.now);
    c.properties.insert("hs_object_id".into(), object_id.to_string());
    c.properties.insert(
        "hs_created_by_user_id".into(),
        crate::platform::defaults::HUBSPOT_USER_ID.to_string(),
    );
    st.campaigns.insert(id, c.clone());
    c
}

fn sum(items: &[MoneyItem]) -> Decimal {
    items
        .iter()
        .filter_map(|i| Decimal::from_str(&i.amount).ok())
        .fold(Decimal::ZERO, |a, b| a + b)
}

fn number(d: Decimal) -> Value {
    serde_json::Number::from_str(&d.normalize().to_string())
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn currency(c: &Campaign) -> String {
    c.properties
        .get("hs_currency_code")
        .cloned()
        .unwrap_or_else(|| "USD".to_string())
}

/// A campaign as the API shows it, with only the requested properties (plus the rollups when asked).
pub fn render(_ctx: &Ctx, c: &Campaign, wanted: &[String]) -> Value {
    let mut props = Map::new();
    for w in wanted {
        let v = match w.as_str() {
            "hs_budget_items_sum_amount" => Some(sum(&c.budget).normalize().to_string()),
            "hs_spend_items_sum_amount" => Some(sum(&c.spend).normalize().to_string()),
            "hs_createdate" => Some(iso_ms(c.created_ms)),
            "hs_lastmodifieddate" => Some(iso_ms(c.updated_ms)),
            k => c.properties.get(k).cloned(),
        };
        props.insert(w.clone(), v.map_or(Value::Null, Value::String));
    }
    json!({"id": c.id, "properties": props, "createdAt": iso_ms(c.created_ms), "updatedAt": iso_ms(c.updated_ms),
           "businessUnits": [{"id": 0}]})
}

fn item_json(i: &MoneyItem) -> Value {
    let mut v = json!({"id": i.id.to_string(), "amount": number(Decimal::from_str(&i.amount).unwrap_or_default()),
                       "name": i.name, "order": i.order, "createdAt": i.created_ms, "updatedAt": i.updated_ms});
    if let Some(d) = &i.description {
        v["description"] = json!(d);
    }
    v
}

fn totals(c: &Campaign) -> Value {
    let mut b = c.budget.clone();
    b.sort_by_key(|i| (i.order, i.id));
    let mut s = c.spend.clone();
    s.sort_by_key(|i| (i.order, i.id));
    let (bt, stot) = (sum(&b), sum(&s));
    json!({"budgetItems": b.iter().map(item_json).collect::<Vec<_>>(),
           "spendItems": s.iter().map(item_json).collect::<Vec<_>>(),
           "budgetTotal": number(bt), "spendTotal": number(stot), "remainingBudget": number(bt - stot),
           "currencyCode": currency(c)})
}

/// `{amount: number, name, order: int32, description?}` → exact amount, name, order, description.
fn money_input(body: Option<&Value>) -> Result<(Decimal, String, i64, Option<String>), HsErr> {
    let b = body.cloned().unwrap_or(Value::Null);
    let mut bad = Vec::new();
    let amount = match b.get("amount") {
        Some(Value::Number(n)) => Decimal::from_str(&n.to_string())
            .or_else(|_| Decimal::from_scientific(&n.to_string()))
            .ok(),
        _ => None,
    };
    if amount.is_none() {
        bad.push(json!({"message": "amount is required and must be a number", "in": "amount", "code": "INVALID_TYPE"}));
    }
    let name = b.get("name").and_then(Value::as_str).map(str::to_string);
    if name.is_none() {
        bad.push(json!({"message": "name is required and must be a string", "in": "name", "code": "REQUIRED_FIELD"}));
    }
    let order = b
        .get("order")
        .and_then(Value::as_i64)
        .filter(|o| i32::try_from(*o).is_ok());
    if order.is_none() {
        bad.push(json!({"message": "order is required and must be an int32", "in": "order", "code": "REQUIRED_FIELD"}));
    }
    if !bad.is_empty() {
        let mut e = validation("Invalid input JSON: amount (number), name (string) and order (int32) are required.");
        e.x.errors = bad;
        return Err(e);
    }
    let description = b.get("description").and_then(Value::as_str).map(str::to_string);
    Ok((
        amount.unwrap_or_default(),
        name.unwrap_or_default(),
        order.unwrap_or_default(),
        description,
    ))
}

fn list(ctx: &Ctx, st: &State) -> Result<Out, HsErr> {
    let limit = limit_of(ctx, 10, 100)?;
    let name = ctx.q("name").map(str::to_lowercase);
    let mut all: Vec<&Campaign> = st
        .campaigns
        .values()
        .filter(|c| c.portal == ctx.portal)
        .filter(|c| {
            name.as_ref().is_none_or(|n| {
                c.properties
                    .get("hs_name")
                    .is_some_and(|x| x.to_lowercase().contains(n.as_str()))
            })
        })
        .collect();
    let sort = ctx.q("sort").unwrap_or("createdAt");
    let (desc, key) = match sort.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, sort),
    };
    all.sort_by(|a, b| {
        let ka = sort_key(a, key);
        let kb = sort_key(b, key);
        ka.cmp(&kb).then(a.created_ms.cmp(&b.created_ms)).then(a.id.cmp(&b.id))
    });
    if desc {
        all.reverse();
    }
    let start = match ctx.q("after") {
        Some(a) => {
            uncursor(a).ok_or_else(|| validation(format!("after '{a}' is not a cursor this API issued")))? as usize
        }
        None => 0,
    };
    let wanted = ctx.q_list("properties");
    let page: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|c| render(ctx, c, &wanted))
        .collect();
    let mut v = json!({"total": all.len(), "results": page});
    if start + limit < all.len() {
        let next = cursor((start + limit) as u64);
        v["paging"] = json!({"next": {"after": next, "link": format!("?after={next}")}});
    }
    ok(v)
}

fn sort_key(c: &Campaign, key: &str) -> String {
    match key {
        "createdAt" | "hs_createdate" => format!("{:020}", c.created_ms),
        "updatedAt" | "hs_lastmodifieddate" => format!("{:020}", c.updated_ms),
        k => c.properties.get(k).cloned().unwrap_or_default().to_lowercase(),
    }
}

fn batch_create(ctx: &Ctx, st: &mut State, body: Option<&Value>) -> Result<Out, HsErr> {
    let started = ctx.now;
    let inputs = batch_inputs(body, MAX_CAMPAIGN_BATCH)?;
    // validate all first: a bad input fails the whole call
    let mut all = Vec::new();
    for i in &inputs {
        all.push(validate(ctx, props_of(i.get("properties"))?, true)?);
    }
    let wanted: Vec<String> = all.iter().flat_map(|p| p.keys().cloned()).collect();
    let results: Vec<Value> = all
        .into_iter()
        .map(|p| {
            let c = insert(ctx, st, p);
            render(ctx, &c, &wanted)
        })
        .collect();
    let (_, v) = batch_body(
        unordered(results, hash_str(ctx.portal) ^ st.next),
        vec![],
        started,
        ctx.now,
    );
    created(v)
}

fn batch_read(ctx: &Ctx, st: &mut State, body: Option<&Value>) -> Result<Out, HsErr> {
    let inputs = batch_inputs(body, MAX_CAMPAIGN_BATCH)?;
    let wanted = requested(ctx, body);
    let mut seen = std::collections::BTreeSet::new();
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for i in &inputs {
        let id = i.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        if !seen.insert(id.clone()) {
            continue; // duplicate ids are collapsed
        }
        match st.campaigns.get(&id).filter(|c| c.portal == ctx.portal) {
            Some(c) => {
                let mut v = render(ctx, c, &wanted);
                v["assets"] = json!({});
                results.push(v);
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
            "Could not get some campaigns, they may be deleted or not exist.",
            json!({"ids": missing}),
        )]
    };
    let (status, v) = batch_body(unordered(results, st.next), errors, ctx.now, ctx.now);
    Ok(Out { status, body: Some(v) })
}

fn batch_update(ctx: &Ctx, st: &mut State, body: Option<&Value>) -> Result<Out, HsErr> {
    let inputs = batch_inputs(body, MAX_CAMPAIGN_BATCH)?;
    let mut work = Vec::new();
    for i in &inputs {
        let id = i.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        work.push((id, validate(ctx, props_of(i.get("properties"))?, false)?));
    }
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for (id, props) in work {
        let wanted: Vec<String> = props.keys().cloned().collect();
        match st.campaigns.get_mut(&id).filter(|c| c.portal == ctx.portal) {
            Some(c) => {
                apply(c, props, ctx.now);
                let c = c.clone();
                results.push(render(ctx, &c, &wanted));
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
            "Could not update some campaigns, they may be deleted or not exist.",
            json!({"ids": missing}),
        )]
    };
    let (status, v) = batch_body(unordered(results, st.next), errors, ctx.now, ctx.now);
    Ok(Out { status, body: Some(v) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_sums_are_exact_decimals() {
        let item = |a: &str| MoneyItem {
            id: 1,
            amount: a.into(),
            name: "n".into(),
            order: 0,
            description: None,
            created_ms: 0,
            updated_ms: 0,
        };
        let s = sum(&[item("0.1"), item("0.2")]);
        assert_eq!(s.to_string(), "0.3");
        assert_eq!(number(s), json!(0.3));
        let (a, ..) = money_input(Some(&json!({"amount": 1234.56, "name": "x", "order": 0}))).unwrap();
        assert_eq!(a.to_string(), "1234.56");
        assert!(money_input(Some(&json!({"amount": "12", "name": "x", "order": 0}))).is_err());
        assert!(money_input(Some(&json!({"amount": 12, "name": "x", "order": 3_000_000_000i64}))).is_err());
    }
}
