//! The account lease: a MANUAL list of contacts `adsctl-lease|<holder>|<until>` per runner (`until` RFC 3339 UTC
//! to the second); the unexpired one with the lowest list id holds. Renewing renames it, giving it back deletes it.
//! A list is never a member of anything and holds no contact: it touches nothing else of the portal.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use super::client::{seg, Api, CallError, Query, Retry, Verb};
use super::read::{lists, LEASE_PREFIX};
use super::HubSpotConnector;
use crate::connectors::{Lease, LeaseOutcome};

/// `adsctl-lease|<holder>|<until>`.
pub fn lease_name(holder: &str, until: DateTime<Utc>) -> String {
    format!(
        "{LEASE_PREFIX}{holder}|{}",
        until.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

/// (list id, holder, until) of a lease list's name.
pub fn parse(id: &str, name: &str) -> Option<(u64, String, DateTime<Utc>)> {
    let rest = name.strip_prefix(LEASE_PREFIX)?;
    let (holder, until) = rest.rsplit_once('|')?;
    let until = DateTime::parse_from_rfc3339(until).ok()?.with_timezone(&Utc);
    Some((id.parse().ok()?, holder.to_string(), until))
}

async fn leases(c: &HubSpotConnector) -> Result<Vec<(u64, String, DateTime<Utc>)>, CallError> {
    // searched by the prefix's word (a `|` may not survive HubSpot's tokenising), filtered here
    let mut all: Vec<_> = lists(c, Some(LEASE_PREFIX.trim_end_matches('|')))
        .await?
        .into_iter()
        .filter_map(|l| parse(&l.list_id, &l.name))
        .collect();
    all.sort_by_key(|l| l.0);
    Ok(all)
}

/// The holding lease: the oldest unexpired one (a `take_over` holder's count as expired).
fn holding(
    all: &[(u64, String, DateTime<Utc>)],
    now: DateTime<Utc>,
    take_over: Option<&str>,
) -> Option<(u64, String, DateTime<Utc>)> {
    all.iter()
        .find(|(_, h, until)| *until > now && Some(h.as_str()) != take_over)
        .cloned()
}

pub async fn acquire(
    c: &HubSpotConnector,
    holder: &str,
    expires_at: DateTime<Utc>,
    take_over: Option<&str>,
) -> Result<LeaseOutcome, CallError> {
    let now = Utc::now();
    let before = leases(c).await?;
    if let Some((_, h, until)) = holding(&before, now, take_over).filter(|(_, h, _)| h != holder) {
        return Ok(LeaseOutcome::Held {
            holder: h,
            expires_at: until,
        });
    }
    // this holder's own live lease (a run that did not give it back): kept, moved on
    if let Some((id, _, until)) = before.iter().find(|(_, h, until)| h == holder && *until > now) {
        let l = Lease {
            holder: holder.to_string(),
            expires_at,
            token: id.to_string(),
        };
        if *until != expires_at {
            renew(c, &l, expires_at).await?;
        }
        return Ok(LeaseOutcome::Acquired(l));
    }
    // expired leases (and the taken-over one) go
    for (id, h, until) in &before {
        if *until <= now || Some(h.as_str()) == take_over {
            c.client().delete(Api::Lists, &format!("/{id}")).await?;
        }
    }
    let body = json!({"name": lease_name(holder, expires_at), "objectTypeId": "0-1", "processingType": "MANUAL"});
    let v: serde_json::Value = c
        .client()
        .send_json(
            Verb::Post,
            Api::Lists,
            "",
            &Query::new(),
            &body.to_string(),
            Retry::Refused,
        )
        .await?
        .json("lease list")?;
    let mine = v["list"]["listId"].as_str().unwrap_or_default().to_string();
    tokio::time::sleep(c.client().cfg.lease_settle).await;
    let after = leases(c).await?;
    match holding(&after, Utc::now(), take_over) {
        Some((id, _, _)) if id.to_string() == mine => Ok(LeaseOutcome::Acquired(Lease {
            holder: holder.to_string(),
            expires_at,
            token: mine,
        })),
        // an older lease of this same holder (a run that did not give it back): that one is kept, moved on
        Some((id, h, _)) if h == holder => {
            c.client().delete(Api::Lists, &format!("/{}", seg(&mine))).await?;
            let l = Lease {
                holder: holder.to_string(),
                expires_at,
                token: id.to_string(),
            };
            renew(c, &l, expires_at).await?;
            Ok(LeaseOutcome::Acquired(l))
        }
        Some((_, h, until)) => {
            c.client().delete(Api::Lists, &format!("/{}", seg(&mine))).await?;
            Ok(LeaseOutcome::Held {
                holder: h,
                expires_at: until,
            })
        }
        // ours is not seen yet: it is the only one
        None => Ok(LeaseOutcome::Acquired(Lease {
            holder: holder.to_string(),
            expires_at,
            token: mine,
        })),
    }
}

pub async fn renew(c: &HubSpotConnector, l: &Lease, expires_at: DateTime<Utc>) -> Result<(), CallError> {
    let path = format!("/{}/update-list-name", seg(&l.token));
    let q = Query::new().set("listName", lease_name(&l.holder, expires_at));
    c.client()
        .call(Verb::Put, Api::Lists, &path, &q, None, Retry::All)
        .await
        .map(|_| ())
}

pub async fn release(c: &HubSpotConnector, l: &Lease) -> Result<(), CallError> {
    c.client().delete(Api::Lists, &format!("/{}", seg(&l.token))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_names_round_trip() {
        let t = DateTime::parse_from_rfc3339("2026-12-06T16:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let n = lease_name("host/1/ab|c", t);
        assert_eq!(n, "adsctl-lease|host/1/ab|c|2026-12-06T16:30:00Z");
        assert_eq!(parse("7", &n), Some((7, "host/1/ab|c".to_string(), t)));
        assert_eq!(parse("7", "VIPs"), None);
    }
}
