//! The apply lease of an X ad account, made of DRAFT campaigns (`docs/resource-model.md`, Leases), as LinkedIn's
//! is made of DRAFT campaign groups.
//!
//! X has no labels and a create is no compare-and-set, so every runner that wants the lease creates its own
//! campaign named `adsctl-lease|<holder>|<until>` in `DRAFT` (a draft never delivers and does not count toward the
//! 200 active campaigns), on the account's first funding instrument (a campaign needs one) with a daily budget of
//! one currency unit (required for most instrument types; a draft spends nothing). It lists the account's lease
//! campaigns (`with_draft=true`): the oldest unexpired one (by id: base-36 ids grow, compared by length then
//! text) holds the lease. A runner that finds itself first lists again after a pause and holds the lease only if
//! it is still first; one that is not first deletes its campaign and reports the holder. Renewing renames the
//! campaign (`PUT …/campaigns/{id}?name=…`); giving the lease back deletes it. Reads leave lease campaigns out.

use chrono::{DateTime, TimeZone, Utc};

use super::client::{enc, CallError, Query, Retry, Verb};
use super::XConnector;
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

struct Entry {
    id: String,
    holder: String,
    until: DateTime<Utc>,
}

/// Base-36 ids compare by length, then text.
fn id_key(id: &str) -> (usize, &str) {
    (id.len(), id)
}

/// Unexpired lease campaigns, oldest first; expired ones apart (to clean up).
async fn list(conn: &XConnector, take_over: Option<&str>) -> Result<(Vec<Entry>, Vec<String>), CallError> {
    let rows = conn.campaigns(Query::new()).await?;
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

async fn delete(conn: &XConnector, id: &str) -> Result<(), CallError> {
    conn.client.delete(&conn.path(&format!("campaigns/{}", enc(id)))).await
}

/// The account's first funding instrument that is not deleted (the one a lease campaign is put on).
async fn funding_instrument(conn: &XConnector) -> Result<String, CallError> {
    if let Some(fi) = conn.cache().funding_instrument.clone() {
        return Ok(fi);
    }
    let rows = conn
        .client
        .list_all(&conn.path("funding_instruments"), Query::new())
        .await?;
    let fi = rows
        .iter()
        .filter(|r| r.get("deleted").and_then(|d| d.as_bool()) != Some(true))
        .find_map(|r| r.get("id").and_then(super::client::id_text))
        .ok_or_else(|| CallError::Decode {
            message: "the ad account has no funding instrument to put the lease campaign on".into(),
        })?;
    conn.cache().funding_instrument = Some(fi.clone());
    Ok(fi)
}

pub async fn acquire(
    conn: &XConnector,
    holder: &str,
    until: DateTime<Utc>,
    take_over: Option<&str>,
) -> Result<LeaseOutcome, CallError> {
    let fi = funding_instrument(conn).await?;
    let mut mine = create(conn, &fi, &name(holder, until)).await?;
    let mut confirmed = false;
    loop {
        let (live, expired) = list(conn, take_over).await?;
        for id in expired {
            // left by a runner that was killed: best effort
            let _ = delete(conn, &id).await;
        }
        match live.first() {
            // a create that ran although its answer was lost, then made again: the first of this attempt's own
            // campaigns is the one that counts, the later one goes
            Some(first) if first.id != mine && first.holder == holder && first.until == until => {
                let _ = delete(conn, &mine).await;
                mine = first.id.clone();
            }
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

/// Create this attempt's lease campaign. X has no idempotency key, so a create whose outcome is unknown (no
/// answer, a server error) is never sent again blindly: the campaign is looked for by its name — this attempt's
/// own, holder and end — and made again only when it is not there (a few times, backing off). Without this, one
/// server error on the lease failed the whole account's apply.
async fn create(conn: &XConnector, fi: &str, name: &str) -> Result<String, CallError> {
    let q = Query::new()
        .set("funding_instrument_id", fi)
        .set("name", name)
        .set("entity_status", "DRAFT")
        .set("daily_budget_amount_local_micro", "1000000");
    let cfg = &conn.client.cfg;
    let mut delay = cfg.retry_min_delay;
    let mut attempt = 0;
    loop {
        match conn
            .client
            .call(Verb::Post, &conn.path("campaigns"), &q, None, Retry::RefusedOnly)
            .await
        {
            Ok(a) => {
                return a
                    .data("campaigns")?
                    .get("id")
                    .and_then(super::client::id_text)
                    .ok_or_else(|| CallError::Decode {
                        message: "the lease campaign's create answered no id".into(),
                    })
            }
            Err(e) if e.outcome_unknown() && attempt < cfg.max_retries => {
                let made = conn
                    .campaigns(Query::new())
                    .await?
                    .into_iter()
                    .find(|r| r.name.as_deref() == Some(name))
                    .and_then(|r| r.id);
                if let Some(id) = made {
                    return Ok(id);
                }
                attempt += 1;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(cfg.retry_max_delay);
            }
            Err(e) => return Err(e),
        }
    }
}

pub async fn renew(conn: &XConnector, lease: &Lease, until: DateTime<Utc>) -> Result<(), CallError> {
    let q = Query::new().set("name", name(&lease.holder, until));
    conn.client
        .call(
            Verb::Put,
            &conn.path(&format!("campaigns/{}", enc(&lease.token))),
            &q,
            None,
            Retry::All,
        )
        .await
        .map(|_| ())
}

pub async fn release(conn: &XConnector, lease: &Lease) -> Result<(), CallError> {
    delete(conn, &lease.token).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_ids_order() {
        let until = Utc.timestamp_opt(1_800_000_000, 0).single().unwrap();
        let n = name("ci-7/123/ab", until);
        assert!(is_lease_name(&n));
        assert_eq!(parse(&n), Some(("ci-7/123/ab".to_string(), until)));
        assert_eq!(parse("Spring [adsctl-managed]"), None);
        assert!(id_key("zz") < id_key("100"), "base-36 ids compare by length first");
        assert!(id_key("8wku2") < id_key("8wku3"));
    }
}
