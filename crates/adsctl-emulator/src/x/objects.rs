//! The reads and writes every kind shares: rendering an object as the API does, lists (filters, creation order,
//! paging), GET/PUT/DELETE of one object, and creation, which checks the per-kind fields and rules of
//! [`super::campaigns`], [`super::targeting`] and [`super::audiences`].

use serde_json::{json, Map, Value};

use super::audiences::audience_fields;
use super::campaigns::{
    campaign_fields, line_item_fields, new_campaign, new_line_item, CAMPAIGN_UPDATABLE, LINE_ITEM_UPDATABLE,
    NOT_UPDATABLE,
};
use super::error::{invalid, missing, Reply, XErr};
use super::params::{page, paging, Params};
use super::state::{is_base36, iso, Kind, Obj, State, XConfig};
use super::targeting::targeting_fields;
use super::MIN_TARGETABLE_AUDIENCE;

fn currency_of(st: &State, fi: Option<&Value>) -> Value {
    fi.and_then(Value::as_str)
        .and_then(|id| st.objects.get(id))
        .and_then(|f| f.fields.get("currency").cloned())
        .unwrap_or(Value::Null)
}

pub(super) fn render(st: &State, o: &Obj) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(o.id));
    for (k, v) in &o.fields {
        m.insert(k.clone(), v.clone());
    }
    match o.kind {
        Kind::FundingInstrument => {
            m.insert("account_id".into(), json!(o.account));
            m.insert("able_to_fund".into(), json!(!o.deleted));
            m.insert(
                "reasons_not_able_to_fund".into(),
                if o.deleted { json!(["DELETED"]) } else { json!([]) },
            );
            m.insert("credit_remaining_local_micro".into(), Value::Null);
        }
        Kind::Campaign => {
            let cur = currency_of(st, o.fields.get("funding_instrument_id"));
            m.insert("currency".into(), cur);
            let status = o
                .fields
                .get("entity_status")
                .and_then(Value::as_str)
                .unwrap_or("ACTIVE");
            let servable = status == "ACTIVE" && !o.deleted;
            m.insert("servable".into(), json!(servable));
            m.insert(
                "reasons_not_servable".into(),
                if servable {
                    json!([])
                } else {
                    json!([format!("{status}")])
                },
            );
            m.insert(
                "effective_status".into(),
                json!(if servable { "RUNNING" } else { status }),
            );
            m.insert("duration_in_days".into(), Value::Null);
            m.insert("frequency_cap".into(), Value::Null);
        }
        Kind::LineItem => {
            let camp = o
                .fields
                .get("campaign_id")
                .and_then(Value::as_str)
                .and_then(|c| st.objects.get(c));
            let fi = camp.and_then(|c| c.fields.get("funding_instrument_id"));
            m.insert("currency".into(), currency_of(st, fi));
            m.insert("funding_instrument_id".into(), fi.cloned().unwrap_or(Value::Null));
            m.insert("creative_source".into(), json!("MANUAL"));
            m.insert("target_cpa_local_micro".into(), Value::Null);
            m.insert("automatic_tweet_promotion".into(), Value::Null);
        }
        Kind::PromotedTweet | Kind::TargetingCriterion => {}
        Kind::CustomAudience => {
            let n = st.audience_members.get(&o.id).map_or(0, |m| m.len());
            let targetable = n >= MIN_TARGETABLE_AUDIENCE;
            m.insert("audience_type".into(), json!("CRM"));
            m.insert("audience_size".into(), if targetable { json!(n) } else { Value::Null });
            m.insert("targetable".into(), json!(targetable));
            m.insert(
                "targetable_types".into(),
                if targetable {
                    json!(["CUSTOM_AUDIENCE", "CUSTOM_AUDIENCE_EXPANDED"])
                } else {
                    json!([])
                },
            );
            m.insert(
                "reasons_not_targetable".into(),
                if targetable {
                    json!([])
                } else {
                    json!(["PROCESSING", "TOO_SMALL"])
                },
            );
            m.insert("permission_level".into(), json!("READ_WRITE"));
            m.insert("owner_account_id".into(), json!(o.account));
            m.insert("partner_source".into(), json!("OTHER"));
        }
    }
    m.insert("created_at".into(), json!(iso(o.created_at)));
    m.insert("updated_at".into(), json!(iso(o.updated_at)));
    m.insert("deleted".into(), json!(o.deleted));
    Value::Object(m)
}

pub(super) fn list(st: &State, account: &str, k: Kind, p: &Params) -> Result<Reply, XErr> {
    let pg = paging(p)?;
    let with_deleted = p.boolean("with_deleted")?.unwrap_or(false);
    let with_draft = p.boolean("with_draft")?.unwrap_or(false);
    let own_ids = p.ids(&format!("{}s", k.id_param()))?;
    let campaign_ids = if k == Kind::LineItem {
        p.ids("campaign_ids")?
    } else {
        None
    };
    let line_item_ids = if matches!(k, Kind::PromotedTweet | Kind::TargetingCriterion) {
        p.ids("line_item_ids")?
    } else {
        None
    };
    if k == Kind::TargetingCriterion && line_item_ids.is_none() {
        return Err(missing("line_item_ids"));
    }
    let fi_ids = if k == Kind::FundingInstrument {
        None
    } else {
        p.ids("funding_instrument_ids")?
    };
    let q = p.get("q").filter(|q| !q.is_empty()).map(str::to_lowercase);
    let mut objs: Vec<&Obj> = st
        .objects
        .values()
        .filter(|o| o.kind == k && o.account == account)
        .filter(|o| with_deleted || !o.deleted)
        .filter(|o| with_draft || o.fields.get("entity_status").and_then(Value::as_str) != Some("DRAFT"))
        .filter(|o| own_ids.as_ref().is_none_or(|ids| ids.contains(&o.id)))
        .filter(|o| {
            campaign_ids.as_ref().is_none_or(|ids| {
                o.fields
                    .get("campaign_id")
                    .and_then(Value::as_str)
                    .is_some_and(|c| ids.iter().any(|i| i == c))
            })
        })
        .filter(|o| {
            line_item_ids.as_ref().is_none_or(|ids| {
                o.fields
                    .get("line_item_id")
                    .and_then(Value::as_str)
                    .is_some_and(|c| ids.iter().any(|i| i == c))
            })
        })
        .filter(|o| {
            q.as_ref().is_none_or(|q| {
                o.fields
                    .get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.to_lowercase().contains(q))
            })
        })
        .collect();
    objs.sort_by_key(|o| o.seq);
    let items: Vec<Value> = objs
        .into_iter()
        .map(|o| render(st, o))
        .filter(|v| {
            fi_ids.as_ref().is_none_or(|ids| {
                v.get("funding_instrument_id")
                    .and_then(Value::as_str)
                    .is_some_and(|f| ids.iter().any(|i| i == f))
            })
        })
        .collect();
    Ok(page(items, &pg))
}

pub(super) fn find<'a>(st: &'a State, account: &str, k: Kind, id: &str) -> Option<&'a Obj> {
    st.objects
        .get(id)
        .filter(|o| o.kind == k && o.account == account && is_base36(id))
}

pub(super) fn not_found(k: Kind, id: &str) -> XErr {
    XErr::new(
        404,
        k.not_found(),
        format!("{} {id} was not found", k.id_param().trim_end_matches("_id")),
    )
}

pub(super) fn get_one(st: &State, account: &str, k: Kind, id: &str, p: &Params) -> Result<Value, XErr> {
    let with_deleted = p.boolean("with_deleted")?.unwrap_or(false);
    match find(st, account, k, id) {
        Some(o) if with_deleted || !o.deleted => Ok(render(st, o)),
        _ => Err(not_found(k, id)),
    }
}

/// Base-36 id parameter naming an object of `k` in the account (not deleted).
pub(super) fn ref_param<'a>(st: &'a State, account: &str, p: &Params, name: &str, k: Kind) -> Result<&'a Obj, XErr> {
    let v = p.required(name)?;
    if !is_base36(v) {
        return Err(invalid(name, format!("Invalid id \"{v}\" for {name}")));
    }
    match find(st, account, k, v) {
        Some(o) if !o.deleted => Ok(o),
        _ => Err(invalid(name, format!("{name} {v} does not exist in account {account}"))),
    }
}

pub(super) fn set_opt(fields: &mut Map<String, Value>, p: &Params, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        fields.insert(k.into(), v);
    } else if p.get(k) == Some("") {
        fields.insert(k.into(), Value::Null);
    }
}

pub(super) fn create(
    cfg: &XConfig,
    st: &mut State,
    now: i64,
    account: &str,
    k: Kind,
    p: &Params,
) -> Result<Value, XErr> {
    let mut fields = Map::new();
    match k {
        Kind::Campaign => new_campaign(cfg, st, account, p, &mut fields)?,
        Kind::LineItem => new_line_item(st, account, p, &mut fields)?,
        Kind::TargetingCriterion => targeting_fields(st, account, p, &mut fields)?,
        Kind::CustomAudience => audience_fields(st, account, None, p, &mut fields, true)?,
        Kind::FundingInstrument | Kind::PromotedTweet => return Err(XErr::new(405, "METHOD_NOT_ALLOWED", "read-only")),
    }
    let id = st.new_id();
    let seq = st.next_id;
    let o = Obj {
        id: id.clone(),
        kind: k,
        account: account.to_string(),
        fields,
        created_at: now,
        updated_at: now,
        deleted: false,
        foreign: false,
        seq,
    };
    let v = render(st, &o);
    st.objects.insert(id, o);
    Ok(v)
}

pub(super) fn update(st: &mut State, now: i64, account: &str, k: Kind, id: &str, p: &Params) -> Result<Value, XErr> {
    let allowed = if k == Kind::Campaign {
        CAMPAIGN_UPDATABLE
    } else {
        LINE_ITEM_UPDATABLE
    };
    if let Some((bad, _)) =
        p.0.iter()
            .find(|(n, _)| NOT_UPDATABLE.contains(&n.as_str()) && !allowed.contains(&n.as_str()))
    {
        return Err(invalid(bad, format!("{bad} cannot be updated")));
    }
    let o = match find(st, account, k, id) {
        Some(o) if !o.deleted => o,
        _ => return Err(not_found(k, id)),
    };
    let mut fields = o.fields.clone();
    match k {
        Kind::Campaign => campaign_fields(p, &mut fields, false)?,
        Kind::CustomAudience => audience_fields(st, account, Some(id), p, &mut fields, false)?,
        _ => line_item_fields(p, &mut fields, false)?,
    }
    let o = st.objects.get_mut(id).ok_or_else(|| not_found(k, id))?;
    o.fields = fields;
    o.updated_at = now;
    let o = o.clone();
    Ok(render(st, &o))
}

pub(super) fn delete(st: &mut State, now: i64, account: &str, k: Kind, id: &str) -> Result<Value, XErr> {
    match find(st, account, k, id) {
        Some(o) if !o.deleted => {}
        _ => return Err(not_found(k, id)),
    }
    let o = st.objects.get_mut(id).ok_or_else(|| not_found(k, id))?;
    o.deleted = true;
    o.updated_at = now;
    let o = o.clone();
    Ok(render(st, &o))
}
