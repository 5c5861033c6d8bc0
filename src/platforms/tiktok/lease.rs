//! The apply lease of a TikTok advertiser, made of campaigns.
//!
//! TikTok has no labels and no other object adsctl could hold a lease with, and nothing in the pack says that
//! names are unique (a create with a `request_id` may even repeat one), so a create is not a compare-and-set.
//! As for Meta's ad labels, every runner that wants the lease creates its own object: a campaign named
//! `adsctl-lease|<holder>|<until>` (objective TRAFFIC, no budget, DISABLE: it can never deliver or spend), and
//! lists the advertiser's lease campaigns: the oldest unexpired one (by `create_time`, then id) holds the lease.
//! Two runners that both list see the same campaigns in the same order, so at most one finds itself first. A
//! runner that finds itself first lists again after a pause (a listing can lag behind a create) and holds the
//! lease only if it is still first; one that is not first deletes its campaign and reports the holder. Renewing
//! renames the campaign (`create_time`, the order, stays); giving the lease back deletes it (DELETE: deleted
//! campaigns are hidden from every read). Reads leave lease campaigns out, so plans never list them.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;

use super::client::{Body, CallError, Retry};
use super::config::MAX_STATUS_IDS;
use super::mapping::Id;
use super::read::{decode, CAMPAIGN_GET};
use super::TikTokConnector;
use crate::connectors::{Lease, LeaseOutcome};

/// The prefix of lease campaign names.
pub const LEASE_PREFIX: &str = "adsctl-lease|";

pub fn is_lease_name(name: &str) -> bool {
    name.starts_with(LEASE_PREFIX)
}

fn name(holder: &str, until: DateTime<Utc>) -> String {
    format!("{LEASE_PREFIX}{holder}|{}", until.timestamp())
}

/// (holder, until) from a lease campaign's name.
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

#[derive(Deserialize)]
struct Row {
    #[serde(default)]
    campaign_id: Option<Id>,
    #[serde(default)]
    campaign_name: Option<String>,
    #[serde(default)]
    create_time: Option<String>,
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

/// Unexpired lease campaigns, oldest first; expired ones apart (to clean up).
async fn list(conn: &TikTokConnector, take_over: Option<&str>) -> Result<(Vec<Entry>, Vec<String>), CallError> {
    let q = conn
        .query()
        .json("fields", &["campaign_id", "campaign_name", "create_time"]);
    let rows = conn.client.get_all(CAMPAIGN_GET, q, conn.client.cfg.page_size).await?;
    let rows: Vec<Row> = decode(&rows, "campaign")?;
    let now = Utc::now();
    let mut live = Vec::new();
    let mut expired = Vec::new();
    for r in rows {
        let (Some(id), Some(n)) = (r.campaign_id, r.campaign_name) else {
            continue;
        };
        let Some((holder, until)) = parse(&n) else { continue };
        if until <= now || Some(holder.as_str()) == take_over {
            expired.push(id.0);
            continue;
        }
        live.push(Entry {
            id: id.0,
            holder,
            until,
            created: r.create_time.unwrap_or_default(),
        });
    }
    live.sort_by(|a, b| (&a.created, id_key(&a.id)).cmp(&(&b.created, id_key(&b.id))));
    Ok((live, expired))
}

async fn delete(conn: &TikTokConnector, ids: &[String]) -> Result<(), CallError> {
    for chunk in ids.chunks(MAX_STATUS_IDS) {
        let mut b = Body::new();
        b.put("advertiser_id", &conn.client.advertiser_id);
        b.put("campaign_ids", chunk);
        b.put("operation_status", "DELETE");
        conn.client.post("campaign/status/update/", &b, Retry::All).await?;
    }
    Ok(())
}

pub async fn acquire(
    conn: &TikTokConnector,
    holder: &str,
    until: DateTime<Utc>,
    take_over: Option<&str>,
) -> Result<LeaseOutcome, CallError> {
    let mut b = Body::new();
    b.put("advertiser_id", &conn.client.advertiser_id);
    b.put("campaign_name", &name(holder, until));
    b.put("objective_type", "TRAFFIC");
    b.put("budget_mode", "BUDGET_MODE_INFINITE");
    b.put("operation_status", "DISABLE");
    // idempotent if the answer is lost and the client sends it again; a new one for every attempt to lease (a
    // repeat of an earlier attempt's request_id would answer its deleted campaign)
    let rid = super::apply::request_id_for(&format!(
        "lease|{}|{holder}|{}|{:016x}",
        conn.client.advertiser_id,
        until.timestamp(),
        fastrand::u64(..)
    ));
    b.put("request_id", &rid);
    let data = conn.client.post("campaign/create/", &b, Retry::All).await?;
    let mine = super::apply::created_id(&data, &["campaign_id"]).ok_or_else(|| CallError::Decode {
        message: "creating the lease campaign returned no campaign_id".into(),
    })?;
    let mut confirmed = false;
    loop {
        let (live, expired) = list(conn, take_over).await?;
        if !expired.is_empty() {
            // Left by a runner that was killed: best effort.
            let _ = delete(conn, &expired).await;
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
                delete(conn, std::slice::from_ref(&mine)).await?;
                return Ok(LeaseOutcome::Held {
                    holder: held.0,
                    expires_at: held.1,
                });
            }
        }
    }
}

pub async fn renew(conn: &TikTokConnector, lease: &Lease, until: DateTime<Utc>) -> Result<(), CallError> {
    let mut b = Body::new();
    b.put("advertiser_id", &conn.client.advertiser_id);
    b.put("campaign_id", &lease.token);
    b.put("campaign_name", &name(&lease.holder, until));
    conn.client.post("campaign/update/", &b, Retry::All).await.map(|_| ())
}

pub async fn release(conn: &TikTokConnector, lease: &Lease) -> Result<(), CallError> {
    delete(conn, std::slice::from_ref(&lease.token)).await
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
