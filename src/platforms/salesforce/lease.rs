//! The apply lease of an org, made of Campaign records (`docs/resource-model.md`, Salesforce): each runner upserts
//! its own `adsctl-lease|<holder>|<until>` (key `adsctl-lease:<holder>`, so a runner never makes two; `IsActive:
//! false`, it runs nothing), then lists the lease campaigns (`ORDER BY CreatedDate, Id`): the oldest unexpired one
//! holds the lease. A runner that finds itself first lists again after a pause and holds the lease only if it is
//! still first; one that is not deletes its campaign and reports the holder. Renewing renames the campaign; giving
//! it back deletes it. Expired ones (and the `take_over` holder's) are deleted on the way. Reads leave them out.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value as Json};

use super::client::{CallError, Verb};
use super::config::KEY_FIELD;
use super::SalesforceConnector;
use crate::connectors::{Lease, LeaseOutcome};

pub const LEASE_PREFIX: &str = "adsctl-lease|";
pub const LEASE_KEY_PREFIX: &str = "adsctl-lease:";

pub fn is_lease_name(name: &str) -> bool {
    name.starts_with(LEASE_PREFIX)
}

/// A Campaign row that is a lease (by its key or its name).
pub fn is_lease_row(row: &Json) -> bool {
    row.get(KEY_FIELD)
        .and_then(Json::as_str)
        .is_some_and(|k| k.starts_with(LEASE_KEY_PREFIX))
        || row.get("Name").and_then(Json::as_str).is_some_and(is_lease_name)
}

fn name(holder: &str, until: DateTime<Utc>) -> String {
    format!("{LEASE_PREFIX}{holder}|{}", until.timestamp())
}

fn parse(name: &str) -> Option<(String, DateTime<Utc>)> {
    let rest = name.strip_prefix(LEASE_PREFIX)?;
    let (holder, until) = rest.rsplit_once('|')?;
    let until = Utc.timestamp_opt(until.parse().ok()?, 0).single()?;
    Some((holder.to_string(), until))
}

struct Entry {
    id: String,
    holder: String,
    until: DateTime<Utc>,
}

async fn list(conn: &SalesforceConnector, take_over: Option<&str>) -> Result<(Vec<Entry>, Vec<String>), CallError> {
    let rows = conn
        .client
        .query(&format!(
            "SELECT Id, Name, {KEY_FIELD}, CreatedDate FROM Campaign WHERE {KEY_FIELD} LIKE 'adsctl-lease:%' ORDER BY \
             CreatedDate ASC, Id ASC"
        ))
        .await?;
    let now = Utc::now();
    let (mut live, mut expired) = (Vec::new(), Vec::new());
    for r in rows {
        let (Some(id), Some(n)) = (r.get("Id").and_then(Json::as_str), r.get("Name").and_then(Json::as_str)) else {
            continue;
        };
        let Some((holder, until)) = parse(n) else { continue };
        if until <= now || Some(holder.as_str()) == take_over {
            expired.push(id.to_string());
            continue;
        }
        live.push(Entry {
            id: id.to_string(),
            holder,
            until,
        });
    }
    Ok((live, expired))
}

async fn delete(conn: &SalesforceConnector, id: &str) -> Result<(), CallError> {
    let rel = format!("composite/sobjects?ids={id}&allOrNone=false");
    conn.client.delete_exempt(&rel, "composite/sobjects").await.map(|_| ())
}

/// Upsert this runner's lease campaign: its id.
async fn upsert(conn: &SalesforceConnector, holder: &str, until: DateTime<Utc>) -> Result<String, CallError> {
    let body = json!({"allOrNone": false, "records": [{
        "attributes": {"type": "Campaign"},
        KEY_FIELD: format!("{LEASE_KEY_PREFIX}{holder}"),
        "Name": name(holder, until),
        "IsActive": false,
    }]});
    let res = conn
        .client
        .collection(
            Verb::Patch,
            &format!("composite/sobjects/Campaign/{KEY_FIELD}"),
            Some(&body),
            "composite/sobjects/Campaign/{field}",
        )
        .await?;
    match res.into_iter().next() {
        Some(r) if r.success => r.id.ok_or_else(|| CallError::Decode {
            message: "the lease campaign's upsert answered no id".into(),
        }),
        Some(r) => Err(CallError::Api(Box::new(super::errors::ApiError::from_items(
            200, r.errors,
        )))),
        None => Err(CallError::Decode {
            message: "the lease campaign's upsert answered nothing".into(),
        }),
    }
}

pub async fn acquire(
    conn: &SalesforceConnector,
    holder: &str,
    until: DateTime<Utc>,
    take_over: Option<&str>,
) -> Result<LeaseOutcome, CallError> {
    let mine = upsert(conn, holder, until).await?;
    let mut confirmed = false;
    loop {
        let (live, expired) = list(conn, take_over).await?;
        for id in expired.iter().filter(|i| !i.eq_ignore_ascii_case(&mine)) {
            // left by a runner that was killed: best effort
            let _ = delete(conn, id).await;
        }
        match live.first() {
            Some(first) if first.id.eq_ignore_ascii_case(&mine) => {
                if confirmed {
                    return Ok(LeaseOutcome::Acquired(Lease {
                        holder: holder.to_string(),
                        expires_at: until,
                        token: mine,
                    }));
                }
                confirmed = true;
                tokio::time::sleep(conn.client.cfg.lease_settle).await;
            }
            first => {
                let held = first
                    .map(|f| (f.holder.clone(), f.until))
                    .unwrap_or_else(|| ("another runner".into(), Utc::now()));
                delete(conn, &mine).await?;
                return Ok(LeaseOutcome::Held {
                    holder: held.0,
                    expires_at: held.1,
                });
            }
        }
    }
}

pub async fn renew(conn: &SalesforceConnector, lease: &Lease, until: DateTime<Utc>) -> Result<(), CallError> {
    let body = json!({"allOrNone": false, "records": [{
        "attributes": {"type": "Campaign"}, "id": lease.token, "Name": name(&lease.holder, until)}]});
    let res = conn
        .client
        .collection(Verb::Patch, "composite/sobjects", Some(&body), "composite/sobjects")
        .await?;
    match res.into_iter().next() {
        Some(r) if r.success => Ok(()),
        Some(r) => Err(CallError::Api(Box::new(super::errors::ApiError::from_items(
            200, r.errors,
        )))),
        None => Err(CallError::Decode {
            message: "the lease renewal answered nothing".into(),
        }),
    }
}

pub async fn release(conn: &SalesforceConnector, lease: &Lease) -> Result<(), CallError> {
    delete(conn, &lease.token).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let until = Utc.timestamp_opt(1_800_000_000, 0).single().unwrap();
        let n = name("ci-7/123/ab", until);
        assert!(is_lease_name(&n));
        assert_eq!(parse(&n), Some(("ci-7/123/ab".to_string(), until)));
        assert!(is_lease_row(&json!({"Name": "x", KEY_FIELD: "adsctl-lease:h"})));
        assert!(!is_lease_row(
            &json!({"Name": "Spring", KEY_FIELD: "adsctl:a/campaign/Spring"})
        ));
    }
}
