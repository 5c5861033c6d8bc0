//! The apply lease of a Google Ads account: a label named `adsctl-lease` whose description records its holder
//! and expiry. Label names are unique within an account (`LabelError.DUPLICATE_NAME`), so creating it is a
//! compare-and-set only one runner wins. A lease that has expired is taken over by renaming it out of the way
//! and removing it, then creating it again: two runners doing this at once still race on the create, which one
//! of them loses. Giving it back renames and then removes it (a renamed label frees the name whether or not the
//! platform lets a removed label's name be used again).
//!
//! Every call goes through `labels:mutate`, not `googleAds:mutate`: an apply's changes stay one request.

use chrono::{DateTime, Utc};
use serde_json::{json, Value as Json};

use super::client::{Client, Replay};
use super::errors::GoogleAdsError;
use super::mapping::get_str;
use super::read;
use crate::connectors::{Lease, LeaseOutcome};

/// The lease label's name.
pub const LEASE_LABEL: &str = "adsctl-lease";

fn description(holder: &str, until: DateTime<Utc>) -> String {
    format!(
        "holder={holder} until={}",
        until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// (holder, until) from a lease label's description.
fn parse(description: &str) -> Option<(String, DateTime<Utc>)> {
    let mut holder = None;
    let mut until = None;
    for part in description.split_whitespace() {
        if let Some(h) = part.strip_prefix("holder=") {
            holder = Some(h.to_string());
        } else if let Some(u) = part.strip_prefix("until=") {
            until = DateTime::parse_from_rfc3339(u).ok().map(|d| d.with_timezone(&Utc));
        }
    }
    Some((holder?, until?))
}

fn path(client: &Client) -> String {
    format!("customers/{}/labels:mutate", client.customer_id)
}

fn unique_suffix() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// Rename a lease label out of the way, then remove it (two requests: one request may change a resource only
/// once). The rename frees the name whether or not a removed label's name can be used again. Errors are ignored:
/// another runner may have done it.
async fn retire(client: &Client, rn: &str, why: &str) {
    let rename = json!({"operations": [
        {"update": {"resourceName": rn, "name": format!("{LEASE_LABEL}-{why}-{}", unique_suffix())}, "updateMask": "name"},
    ]});
    let remove = json!({"operations": [{"remove": rn}]});
    for body in [rename, remove] {
        if let Err(e) = client.post(&path(client), &body, Replay::Safe).await {
            tracing::debug!(error = %e, "google ads: retiring a lease label failed (another runner may have)");
        }
    }
}

fn duplicate_name(e: &GoogleAdsError) -> bool {
    matches!(e, GoogleAdsError::Api(f) if f.errors.iter().any(|x| x.code.ends_with("DUPLICATE_NAME")))
}

/// The current lease label: (resource name, holder, until).
async fn current(client: &Client) -> Result<Option<(String, String, DateTime<Utc>)>, GoogleAdsError> {
    let q = format!(
        "SELECT label.resource_name, label.name, label.status, label.text_label.description FROM label \
         WHERE label.name = '{LEASE_LABEL}'"
    );
    let rows = read::search_stream(client, &q).await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.get("label"))
        .filter(|l| get_str(l, "status") != Some("REMOVED"))
        .find_map(|l| {
            let rn = get_str(l, "resourceName")?.to_string();
            let (holder, until) = get_str(l, "textLabel.description")
                .and_then(parse)
                .unwrap_or_else(|| (String::new(), DateTime::<Utc>::MIN_UTC));
            Some((rn, holder, until))
        }))
}

pub async fn acquire(
    client: &Client,
    holder: &str,
    until: DateTime<Utc>,
    take_over: Option<&str>,
) -> Result<LeaseOutcome, GoogleAdsError> {
    for _ in 0..4 {
        let body = json!({"operations": [{"create": {"name": LEASE_LABEL,
            "textLabel": {"description": description(holder, until)}}}]});
        match client.post(&path(client), &body, Replay::Unsafe).await {
            Ok(resp) => {
                let rn = resp
                    .pointer("/results/0/resourceName")
                    .and_then(Json::as_str)
                    .ok_or_else(|| GoogleAdsError::Decode("labels:mutate returned no resource name".into()))?;
                return Ok(LeaseOutcome::Acquired(Lease {
                    holder: holder.to_string(),
                    expires_at: until,
                    token: rn.to_string(),
                }));
            }
            Err(e) if duplicate_name(&e) => match current(client).await? {
                Some((_, h, u)) if u > Utc::now() && h != holder && Some(h.as_str()) != take_over => {
                    return Ok(LeaseOutcome::Held {
                        holder: h,
                        expires_at: u,
                    })
                }
                // Expired (its holder was killed), or left by this same holder: out of the way, then again.
                Some((rn, _, _)) => retire(client, &rn, "expired").await,
                // Gone meanwhile: try again.
                None => {}
            },
            Err(e) => return Err(e),
        }
    }
    Err(GoogleAdsError::Config(
        "could not take the apply lease: it changed hands several times in a row".into(),
    ))
}

pub async fn renew(client: &Client, lease: &Lease, until: DateTime<Utc>) -> Result<(), GoogleAdsError> {
    let body = json!({"operations": [{"update": {"resourceName": lease.token,
        "textLabel": {"description": description(&lease.holder, until)}}, "updateMask": "textLabel.description"}]});
    client.post(&path(client), &body, Replay::Safe).await.map(|_| ())
}

pub async fn release(client: &Client, lease: &Lease) -> Result<(), GoogleAdsError> {
    retire(client, &lease.token, "released").await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_round_trips() {
        let until = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let d = description("ci-7/123/ab", until);
        assert!(d.len() <= 200, "text_label.description holds at most 200 characters");
        assert_eq!(parse(&d), Some(("ci-7/123/ab".to_string(), until)));
        assert_eq!(parse("made by hand"), None);
    }
}
