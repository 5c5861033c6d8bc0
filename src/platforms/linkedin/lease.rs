//! The apply lease of a LinkedIn ad account, made of campaign groups (`docs/resource-model.md`, Leases).
//!
//! LinkedIn has no labels and a create is no compare-and-set, so, as for Meta's ad labels, every runner that wants
//! the lease creates its own object: a campaign group named `adsctl-lease|<holder>|<until>` in `DRAFT` (it can
//! never deliver, and a draft can be deleted), and lists the account's lease groups: the oldest unexpired one (by
//! id: ids grow) holds the lease. A runner that finds itself first lists again after a pause (a listing can lag
//! behind a create) and holds the lease only if it is still first; one that is not first deletes its group and
//! reports the holder. Renewing renames the group (a partial update of `name`); giving the lease back deletes it.
//! Reads leave lease groups out, so plans never list them.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use super::client::{path_key, CallError};
use super::mapping::account_urn;
use super::LinkedInConnector;
use crate::connectors::{Lease, LeaseOutcome};

/// The prefix of lease group names.
pub const LEASE_PREFIX: &str = "adsctl-lease|";

pub fn is_lease_name(name: &str) -> bool {
    name.starts_with(LEASE_PREFIX)
}

fn name(holder: &str, until: DateTime<Utc>) -> String {
    format!("{LEASE_PREFIX}{holder}|{}", until.timestamp())
}

/// (holder, until) from a lease group's name.
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

/// Ids compare as numbers.
fn id_key(id: &str) -> (usize, &str) {
    (id.len(), id)
}

/// Unexpired lease groups, oldest first; expired ones apart (to clean up).
async fn list(conn: &LinkedInConnector, take_over: Option<&str>) -> Result<(Vec<Entry>, Vec<String>), CallError> {
    let rows = conn.groups(&["DRAFT"]).await?;
    let now = Utc::now();
    let mut live = Vec::new();
    let mut expired = Vec::new();
    for r in rows {
        let (Some(id), Some(n)) = (r.id, r.name) else { continue };
        let Some((holder, until)) = parse(&n) else { continue };
        if until <= now || Some(holder.as_str()) == take_over {
            expired.push(id);
            continue;
        }
        live.push(Entry { id, holder, until });
    }
    live.sort_by(|a, b| id_key(&a.id).cmp(&id_key(&b.id)));
    Ok((live, expired))
}

async fn delete(conn: &LinkedInConnector, id: &str) -> Result<(), CallError> {
    let path = format!("{}/{}", conn.path("adCampaignGroups"), path_key(id));
    match conn.client.delete(&path).await {
        // already gone (a resend after a lost answer, another runner's clean-up)
        Err(CallError::Api(e)) if e.status == 404 => Ok(()),
        other => other,
    }
}

pub async fn acquire(
    conn: &LinkedInConnector,
    holder: &str,
    until: DateTime<Utc>,
    take_over: Option<&str>,
) -> Result<LeaseOutcome, CallError> {
    let body = json!({
        "account": account_urn(&conn.client.account_id),
        "name": name(holder, until),
        "status": "DRAFT",
    });
    let mine = conn.client.create(&conn.path("adCampaignGroups"), &body).await?;
    let mut confirmed = false;
    loop {
        let (live, expired) = list(conn, take_over).await?;
        for id in expired {
            // Left by a runner that was killed: best effort.
            let _ = delete(conn, &id).await;
        }
        match live.first() {
            Some(first) if first.id == mine => {
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
                    .filter(|f| f.id != mine)
                    .map(|f| (f.holder.clone(), f.until))
                    // Ours is not listed at all (a listing that lags): stand back rather than guess.
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

pub async fn renew(conn: &LinkedInConnector, lease: &Lease, until: DateTime<Utc>) -> Result<(), CallError> {
    let path = format!("{}/{}", conn.path("adCampaignGroups"), path_key(&lease.token));
    conn.client
        .partial_update(&path, &json!({"patch": {"$set": {"name": name(&lease.holder, until)}}}))
        .await
}

pub async fn release(conn: &LinkedInConnector, lease: &Lease) -> Result<(), CallError> {
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
        assert_eq!(parse("Spring [adsctl-managed]"), None);
        assert!(id_key("9") < id_key("10"), "ids compare as numbers");
    }
}

#[cfg(test)]
mod wire_tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::platforms::linkedin::testing::{connector, stub, Route};

    type Groups = Arc<Mutex<Vec<(u64, &'static str, i64)>>>;

    /// Lease groups listed by the stub: (id, holder, until).
    fn listing(groups: &[(u64, &str, i64)]) -> String {
        let els: Vec<serde_json::Value> = groups
            .iter()
            .map(|(id, h, u)| json!({"id": id, "name": format!("{LEASE_PREFIX}{h}|{u}"), "status": "DRAFT"}))
            .collect();
        json!({ "elements": els, "metadata": {} }).to_string()
    }

    #[tokio::test]
    async fn the_oldest_lease_group_holds_and_a_loser_deletes_its_own() {
        let far = Utc::now().timestamp() + 600;
        let others: Groups = Arc::new(Mutex::new(vec![(90, "other", far)]));
        let groups = others.clone();
        let route: Route = Arc::new(move |head: &str, target: &str, body: &str| match head {
            "POST CREATE" => {
                assert!(
                    body.contains(r#""status":"DRAFT""#) && body.contains("adsctl-lease|me|"),
                    "{body}"
                );
                groups.lock().unwrap().push((100, "me", far));
                (201, Some("100".into()), String::new())
            }
            "GET FINDER" => {
                assert!(target.contains("search=(status:(values:List(DRAFT)))"), "{target}");
                (200, None, listing(&groups.lock().unwrap()))
            }
            "DELETE DELETE" => (204, None, String::new()),
            _ => (404, None, "{}".into()),
        });
        let (url, seen) = stub(route).await;
        let c = connector(&url);
        let until = Utc.timestamp_opt(far, 0).single().unwrap();
        let out = acquire(&c, "me", until, None).await.unwrap();
        assert_eq!(
            out,
            LeaseOutcome::Held {
                holder: "other".into(),
                expires_at: until
            }
        );
        assert!(seen
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with("DELETE DELETE /rest/adAccounts/501/adCampaignGroups/100?")));
        // alone (the other one expired, or taken over): acquired after the confirming listing
        others.lock().unwrap().clear();
        let out = acquire(&c, "me", until, Some("other")).await.unwrap();
        assert!(
            matches!(out, LeaseOutcome::Acquired(ref l) if l.token == "100" && l.holder == "me"),
            "{out:?}"
        );
    }
}
