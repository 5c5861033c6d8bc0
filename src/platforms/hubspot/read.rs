//! Reads: campaigns (`GET /marketing/campaigns/2026-09?limit=100&properties=…`, paged by `after`; budget and spend
//! from `budget/totals` for adsctl's), lists (`POST /crm/lists/2026-09/search`, `count` 500, offset paging; the
//! members of adsctl's from `…/memberships`, 250 a page, and their `email` from `contacts/batch/read`, 100 a
//! request, hashed here). Lease lists are left out. Addresses are hashed at once and never kept.

use std::collections::{BTreeSet, HashMap};

use serde::Deserialize;
use serde_json::json;

use super::client::{seg, Api, CallError, Query, Retry, Verb};
use super::config::{CAMPAIGN_PAGE, LIST_SEARCH_COUNT, MAX_OBJECT_BATCH, MEMBERSHIP_PAGE};
use super::mapping::{budget_value, campaign_fields, member_hash, Totals, CAMPAIGN_PROPERTIES};
use super::HubSpotConnector;
use crate::connectors::{ConnectorError, LiveSnapshot, ReadRequest};
use crate::model::{Account, Address, Kind, Resource, Value};
use crate::platforms::shared::{marked_name, split_name};

/// The prefix of lease lists' names.
pub const LEASE_PREFIX: &str = "adsctl-lease|";

/// One list as the search answers it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInfo {
    pub list_id: String,
    pub name: String,
    #[serde(default)]
    pub processing_type: String,
    #[serde(default)]
    pub object_type_id: String,
}

pub async fn run(c: &HubSpotConnector, account: &Account, _req: &ReadRequest) -> Result<LiveSnapshot, ConnectorError> {
    let err = |e: CallError| c.err(e);
    let mut resources = Vec::new();
    let root = Address::account(account.name.clone());

    for camp in campaigns(c).await.map_err(err)? {
        let Some(id) = camp.get("id").and_then(|i| i.as_str()).map(String::from) else {
            continue;
        };
        let empty = serde_json::Map::new();
        let props = camp.get("properties").and_then(|p| p.as_object()).unwrap_or(&empty);
        let (name, fields, owned) = campaign_fields(props);
        if name.is_empty() {
            continue;
        }
        let mut r = Resource::new(root.child(Kind::Campaign, name), Kind::Campaign);
        r.id = Some(id.clone());
        r.fields = fields;
        r.owned = owned;
        let currency = props.get("hs_currency_code").and_then(|v| v.as_str()).unwrap_or("");
        if !currency.is_empty() {
            r.observed.insert("currency", currency.to_string());
        }
        if owned {
            let t = match totals(c, &id).await {
                Ok(t) => t,
                // deleted since the list was read
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(err(e)),
            };
            c.cache().totals.insert(id.clone(), t.clone());
            r.fields.insert(
                "budget_items",
                budget_value(&t).map_err(|m| decode(&id, &m)).map_err(err)?,
            );
            if let Some(s) = t.spend_item() {
                r.fields.insert(
                    "spend",
                    Value::Money(s.money().map_err(|m| decode(&id, &m)).map_err(err)?),
                );
            }
        }
        resources.push(r);
    }

    let mut member_ids = HashMap::new();
    for l in lists(c, None).await.map_err(err)? {
        if l.name.starts_with(LEASE_PREFIX) || (!l.object_type_id.is_empty() && l.object_type_id != "0-1") {
            continue;
        }
        let (name, owned) = split_name(&l.name);
        let mut r = Resource::new(root.child(Kind::Audience, name), Kind::Audience);
        r.id = Some(l.list_id.clone());
        r.owned = owned;
        r.observed.insert("processing_type", l.processing_type.clone());
        if owned {
            let by_hash = members(c, &l.list_id).await.map_err(err)?;
            let set: BTreeSet<Value> = by_hash.keys().map(|h| Value::str(h.clone())).collect();
            r.fields.insert("members", Value::Set(set));
            member_ids.insert(l.list_id.clone(), by_hash);
        }
        resources.push(r);
    }
    c.cache().members.extend(member_ids);
    Ok(LiveSnapshot {
        resources,
        removed_ids: Vec::new(),
        complete: true,
        marker: None,
    })
}

fn decode(id: &str, m: &str) -> CallError {
    CallError::Decode {
        message: format!("campaign {id}: budget/totals: {m}"),
    }
}

/// Every campaign of the portal with the contract's properties.
pub async fn campaigns(c: &HubSpotConnector) -> Result<Vec<serde_json::Value>, CallError> {
    let q = Query::new().set("properties", CAMPAIGN_PROPERTIES.join(","));
    c.client().list_all(Api::Campaigns, "", q, CAMPAIGN_PAGE).await
}

/// A campaign's budget and spend items.
pub async fn totals(c: &HubSpotConnector, guid: &str) -> Result<Totals, CallError> {
    let path = format!("/{}/budget/totals", seg(guid));
    c.client().get(Api::Campaigns, &path, &Query::new()).await?.json(&path)
}

/// Every list of contacts (`query` narrows by name, as the search does: contains, ignoring case).
pub async fn lists(c: &HubSpotConnector, query: Option<&str>) -> Result<Vec<ListInfo>, CallError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Page {
        #[serde(default)]
        lists: Vec<ListInfo>,
        #[serde(default)]
        has_more: bool,
        #[serde(default)]
        offset: Option<u64>,
    }
    let mut out = Vec::new();
    let mut offset = 0u64;
    loop {
        let mut body = json!({"count": LIST_SEARCH_COUNT, "offset": offset, "objectTypeId": "0-1"});
        if let Some(q) = query {
            body["query"] = json!(q);
        }
        let page: Page = c
            .client()
            .send_json(
                Verb::Post,
                Api::Lists,
                "/search",
                &Query::new(),
                &body.to_string(),
                Retry::All,
            )
            .await?
            .json("lists/search")?;
        let n = page.lists.len() as u64;
        out.extend(page.lists);
        let next = page.offset.unwrap_or(offset + n);
        if !page.has_more || n == 0 || next <= offset {
            break;
        }
        offset = next;
    }
    Ok(out)
}

/// A list's member record ids (`GET …/memberships`, 250 a page).
pub async fn member_ids(c: &HubSpotConnector, list_id: &str) -> Result<Vec<String>, CallError> {
    let path = format!("/{}/memberships", seg(list_id));
    let all = c
        .client()
        .list_all(Api::Lists, &path, Query::new(), MEMBERSHIP_PAGE)
        .await?;
    Ok(all
        .iter()
        .filter_map(|m| m.get("recordId"))
        .map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect())
}

/// The emails of contacts by record id (`contacts/batch/read`, 100 a request), as (record id, email).
pub async fn emails(c: &HubSpotConnector, ids: &[String]) -> Result<Vec<(String, String)>, CallError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(MAX_OBJECT_BATCH) {
        let body = json!({
            "inputs": chunk.iter().map(|i| json!({"id": i})).collect::<Vec<_>>(),
            "properties": ["email"],
        });
        let v: serde_json::Value = c
            .client()
            .send_json(
                Verb::Post,
                Api::Contacts,
                "/batch/read",
                &Query::new(),
                &body.to_string(),
                Retry::All,
            )
            .await?
            .json("contacts/batch/read")?;
        for r in v.get("results").and_then(|r| r.as_array()).into_iter().flatten() {
            let id = r.get("id").and_then(|i| i.as_str()).unwrap_or("");
            let email = r
                .get("properties")
                .and_then(|p| p.get("email"))
                .and_then(|e| e.as_str())
                .unwrap_or("");
            if !id.is_empty() && !email.trim().is_empty() {
                out.push((id.to_string(), email.to_string()));
            }
        }
    }
    Ok(out)
}

/// A list's members: hash → record id (contacts without an email are left out).
pub async fn members(c: &HubSpotConnector, list_id: &str) -> Result<HashMap<String, String>, CallError> {
    let ids = member_ids(c, list_id).await?;
    Ok(emails(c, &ids)
        .await?
        .into_iter()
        .map(|(id, e)| (member_hash(&e), id))
        .collect())
}

/// A list of contacts by its exact name (`GET …/object-type-id/0-1/name/{name}`); `None` when there is none.
pub async fn list_by_name(c: &HubSpotConnector, name: &str) -> Result<Option<ListInfo>, CallError> {
    #[derive(Deserialize)]
    struct One {
        list: ListInfo,
    }
    let path = format!("/object-type-id/0-1/name/{}", seg(name));
    match c.client().get(Api::Lists, &path, &Query::new()).await {
        Ok(a) => Ok(Some(a.json::<One>(&path)?.list)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// `Connector::source_emails`: the members' addresses of the list named `name` (adsctl's, marked, first; else a
/// list of the portal by that name).
pub async fn source_emails(c: &HubSpotConnector, account: &Account, name: &str) -> Result<Vec<String>, ConnectorError> {
    let err = |e: CallError| c.err(e);
    let list = match list_by_name(c, &marked_name(name)).await.map_err(err)? {
        Some(l) => l,
        None => list_by_name(c, name).await.map_err(err)?.ok_or_else(|| {
            ConnectorError::Config(format!(
                "account `{}`: HubSpot has no list of contacts named `{name}`",
                account.name
            ))
        })?,
    };
    let ids = member_ids(c, &list.list_id).await.map_err(err)?;
    Ok(emails(c, &ids)
        .await
        .map_err(err)?
        .into_iter()
        .map(|(_, e)| e)
        .collect())
}
