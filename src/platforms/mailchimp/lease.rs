//! The apply lease of an audience, made of static segments (`docs/resource-model.md` § Mailchimp, Lease): every
//! runner that wants it creates its own empty static segment named `adsctl-lease|<holder>|<until>` (unix
//! seconds); the unexpired one with the lowest id (ids grow) holds the lease. A runner that finds itself first
//! lists again after a pause and holds the lease only if it is still first; one that is not deletes its segment
//! and reports the holder. Renewing renames the segment; giving the lease back deletes it. Reads leave lease
//! segments out. An empty static segment sends nothing to anyone.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use super::client::{enc, CallError, Retry, Verb};
use super::MailchimpConnector;
use crate::connectors::{Lease, LeaseOutcome};

/// The prefix of lease segment names.
pub const LEASE_PREFIX: &str = "adsctl-lease|";

pub fn is_lease_name(name: &str) -> bool {
    name.starts_with(LEASE_PREFIX)
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

fn id_key(id: &str) -> (usize, &str) {
    (id.len(), id)
}

/// Unexpired lease segments, oldest first; expired (or taken over) ones apart.
async fn list(conn: &MailchimpConnector, take_over: Option<&str>) -> Result<(Vec<Entry>, Vec<String>), CallError> {
    let now = Utc::now();
    let mut live = Vec::new();
    let mut expired = Vec::new();
    for t in conn.segments().await? {
        let Some((holder, until)) = parse(&t.name) else {
            continue;
        };
        if until <= now || Some(holder.as_str()) == take_over {
            expired.push(t.id);
        } else {
            live.push(Entry {
                id: t.id,
                holder,
                until,
            });
        }
    }
    live.sort_by(|a, b| id_key(&a.id).cmp(&id_key(&b.id)));
    Ok((live, expired))
}

fn path(conn: &MailchimpConnector, id: &str) -> String {
    conn.client.list_path(&format!("segments/{}", enc(id)))
}

/// This attempt's lease segment; a create whose answer was lost is looked for by its name before it is sent again.
async fn create(conn: &MailchimpConnector, n: &str) -> Result<String, CallError> {
    let body = json!({"name": n, "static_segment": []});
    let segs = conn.client.list_path("segments");
    let mut tries = 0;
    loop {
        tries += 1;
        match conn.client.send(Verb::Post, &segs, &body, Retry::RefusedOnly).await {
            Ok(v) => {
                return v.get("id").and_then(super::client_id).ok_or_else(|| CallError::Decode {
                    message: "a segment create answered without an id".into(),
                })
            }
            Err(e) if e.outcome_unknown() && tries <= conn.client.cfg.max_retries => {
                if let Some(t) = conn.segments().await?.into_iter().find(|t| t.name == n) {
                    return Ok(t.id);
                }
                tokio::time::sleep(conn.client.cfg.retry_min_delay).await;
            }
            Err(e) => return Err(e),
        }
    }
}

pub async fn acquire(
    conn: &MailchimpConnector,
    holder: &str,
    until: DateTime<Utc>,
    take_over: Option<&str>,
) -> Result<LeaseOutcome, CallError> {
    let mine = create(conn, &name(holder, until)).await?;
    let mut confirmed = false;
    loop {
        let (live, expired) = list(conn, take_over).await?;
        for id in expired {
            // left by a runner that was killed: best effort
            let _ = conn.client.delete(&path(conn, &id)).await;
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
                    .map(|f| (f.holder.clone(), f.until))
                    .unwrap_or_else(|| ("another runner".into(), Utc::now()));
                conn.client.delete(&path(conn, &mine)).await?;
                return Ok(LeaseOutcome::Held {
                    holder: held.0,
                    expires_at: held.1,
                });
            }
        }
    }
}

pub async fn renew(conn: &MailchimpConnector, l: &Lease, until: DateTime<Utc>) -> Result<(), CallError> {
    conn.client
        .send(
            Verb::Patch,
            &path(conn, &l.token),
            &json!({"name": name(&l.holder, until)}),
            Retry::All,
        )
        .await
        .map(|_| ())
}

pub async fn release(conn: &MailchimpConnector, l: &Lease) -> Result<(), CallError> {
    conn.client.delete(&path(conn, &l.token)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let t = Utc.timestamp_opt(1_900_000_000, 0).single().unwrap();
        let n = name("host/1/abc", t);
        assert!(is_lease_name(&n));
        assert_eq!(parse(&n), Some(("host/1/abc".into(), t)));
        assert_eq!(parse("adsctl-lease|x"), None);
    }
}
