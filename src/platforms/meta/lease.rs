//! The apply lease of a Meta ad account, made of ad labels.
//!
//! Nothing in the reference pack says that ad label names are unique, so a create is not a compare-and-set
//! here. Instead every runner that wants the lease creates its own ad label, `adsctl-lease|<holder>|<until>`,
//! and lists the account's lease labels: the oldest unexpired one (by `created_time`, then id) holds the lease.
//! Two runners that both list see the same labels in the same order, so at most one finds itself first. A
//! runner that finds itself first lists again after a pause (a listing can lag behind a create) and holds the
//! lease only if it is still first; one that is not first deletes its label and reports the holder. Giving the
//! lease back deletes the label; renewing it renames the label (its `created_time`, the order, stays).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value as Json;

use super::client::{CallError, GraphClient, Method};
use crate::connectors::{Lease, LeaseOutcome};

/// The prefix of lease ad label names.
pub const LEASE_PREFIX: &str = "adsctl-lease|";

fn name(holder: &str, until: DateTime<Utc>) -> String {
    format!("{LEASE_PREFIX}{holder}|{}", until.timestamp())
}

/// (holder, until) from a lease label's name.
fn parse(name: &str) -> Option<(String, DateTime<Utc>)> {
    let rest = name.strip_prefix(LEASE_PREFIX)?;
    let (holder, until) = rest.rsplit_once('|')?;
    let until = Utc.timestamp_opt(until.parse().ok()?, 0).single()?;
    Some((holder.to_string(), until))
}

/// The pause before the confirming listing (`ADSCTL_LEASE_SETTLE_MS`, default 1 s).
fn settle() -> Duration {
    Duration::from_millis(
        std::env::var("ADSCTL_LEASE_SETTLE_MS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(1_000),
    )
}

struct Entry {
    id: String,
    holder: String,
    until: DateTime<Utc>,
    created: String,
}

fn id_key(id: &str) -> (usize, &str) {
    (id.len(), id)
}

/// Unexpired lease labels, oldest first; expired ones are returned apart (to clean up).
async fn list(
    client: &GraphClient,
    act: &str,
    take_over: Option<&str>,
) -> Result<(Vec<Entry>, Vec<String>), CallError> {
    let items = client
        .get_all(
            &format!("{act}/adlabels"),
            &[("fields".into(), "id,name,created_time".into())],
        )
        .await?;
    let now = Utc::now();
    let mut live = Vec::new();
    let mut expired = Vec::new();
    for j in items {
        let (Some(id), Some(n)) = (
            j.get("id").and_then(|v| match v {
                Json::String(s) => Some(s.clone()),
                Json::Number(n) => Some(n.to_string()),
                _ => None,
            }),
            j.get("name").and_then(Json::as_str),
        ) else {
            continue;
        };
        let Some((holder, until)) = parse(n) else { continue };
        if until <= now || Some(holder.as_str()) == take_over {
            expired.push(id);
            continue;
        }
        let created = j.get("created_time").and_then(Json::as_str).unwrap_or("").to_string();
        live.push(Entry {
            id,
            holder,
            until,
            created,
        });
    }
    live.sort_by(|a, b| (&a.created, id_key(&a.id)).cmp(&(&b.created, id_key(&b.id))));
    Ok((live, expired))
}

pub async fn acquire(
    client: &GraphClient,
    act: &str,
    holder: &str,
    until: DateTime<Utc>,
    take_over: Option<&str>,
) -> Result<LeaseOutcome, CallError> {
    let created = client
        .call(
            Method::Post,
            &format!("{act}/adlabels"),
            &[("name".into(), name(holder, until))],
            false,
        )
        .await?;
    let mine = match created.get("id") {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Number(n)) => n.to_string(),
        _ => {
            return Err(CallError::Decode {
                message: "creating the lease ad label returned no id".into(),
            })
        }
    };
    let mut confirmed = false;
    loop {
        let (live, expired) = list(client, act, take_over).await?;
        for id in expired {
            // Left by a runner that was killed: best effort.
            let _ = client.call(Method::Delete, &id, &[], true).await;
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
                tokio::time::sleep(settle()).await;
            }
            first => {
                let held = first
                    .filter(|f| f.id != mine)
                    .map(|f| (f.holder.clone(), f.until))
                    // Ours is not listed at all (a listing that lags): stand back rather than guess.
                    .unwrap_or_else(|| ("another runner".into(), Utc::now()));
                client.call(Method::Delete, &mine, &[], true).await?;
                return Ok(LeaseOutcome::Held {
                    holder: held.0,
                    expires_at: held.1,
                });
            }
        }
    }
}

pub async fn renew(client: &GraphClient, lease: &Lease, until: DateTime<Utc>) -> Result<(), CallError> {
    client
        .call(
            Method::Post,
            &lease.token,
            &[("name".into(), name(&lease.holder, until))],
            true,
        )
        .await
        .map(|_| ())
}

pub async fn release(client: &GraphClient, lease: &Lease) -> Result<(), CallError> {
    client.call(Method::Delete, &lease.token, &[], true).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let until = Utc.timestamp_opt(1_800_000_000, 0).single().unwrap();
        let n = name("ci-7/123/ab", until);
        assert_eq!(parse(&n), Some(("ci-7/123/ab".to_string(), until)));
        assert_eq!(parse("adsctl-managed"), None);
        assert!(id_key("9") < id_key("10"), "ids compare as numbers");
    }
}
