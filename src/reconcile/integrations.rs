//! The integrations of the daemon's HTTP API (`GET /api/v1/integrations`) and of its dashboard: one per account
//! of the daemon's config (credentials are per account, so the account's name is the integration's id), with the
//! health of its credentials, its last read, apply and error, its review problems, its rate-limit state, its
//! campaign count and its spend and impressions over the last [`USAGE_DAYS`] days.
//!
//! [`integrations`] only assembles what it is given — the daemon's status ([`Snapshot`]), the `auth status` rows
//! of the accounts ([`StatusRow`], read from the vault and the health file, no platform call) and the usage
//! summed from the metrics store ([`usage_from_report`]) — so that the JSON API and the server-rendered
//! dashboard show the same thing. Nothing in an [`Integration`] is a secret: tokens are described (status,
//! expiry, source), never carried.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::status::{AccountActivity, AccountStatus, RateLimitState, Snapshot};
use crate::auth::{StatusRow, TokenStatus};
use crate::metrics::report::money_str;
use crate::metrics::Report;

/// The window of [`Integration::spend`] and [`Integration::impressions`]: the last 30 days, today included.
pub const USAGE_DAYS: i64 = 30;

/// One integration: an account of the daemon's config on its platform.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Integration {
    /// The integration's id: the account's name in `adsctl.yaml` (used in `/api/v1/integrations/{id}/…`).
    pub id: String,
    /// The account's name in `adsctl.yaml` (the same as `id`).
    pub account: String,
    /// The platform (`google_ads`, `meta`, `tiktok`, …).
    pub platform: String,
    /// The account's currency (ISO 4217) as `adsctl.yaml` declares it.
    pub currency: String,
    /// Where the last reconcile left the account: `pending` (not reconciled yet), `in_sync`, `drifted`,
    /// `blocked` or `failing`.
    pub sync_status: String,
    /// The health of the account's credentials, as `adsctl auth status` reports it.
    pub token: TokenInfo,
    /// The last successful read of the account (a reconcile that read, planned and finished).
    pub last_read_at: Option<DateTime<Utc>>,
    /// The last reconcile of this daemon that applied at least one change.
    pub last_apply_at: Option<DateTime<Utc>>,
    /// The last error seen: the last reconcile's when it failed, else the last error recorded against the
    /// credentials. Scrubbed of secrets.
    pub last_error: Option<LastError>,
    /// Objects the platform's review has not approved, at the last reconcile.
    pub review_problems: ReviewProblems,
    /// What the daemon knows of the platform's rate limit for this account.
    pub rate_limit: RateLimitState,
    /// Campaigns in the account's last plan (the desired campaigns the daemon read and compared, removals left
    /// out); `None` before the first successful reconcile.
    pub campaigns: Option<usize>,
    /// Spend over the last [`USAGE_DAYS`] days from the metrics store, per currency: currency code → exact
    /// decimal string (from integer micros, never a float). Empty when nothing is stored.
    pub spend: BTreeMap<String, String>,
    /// Impressions over the last [`USAGE_DAYS`] days from the metrics store.
    pub impressions: u64,
}

/// The health of an integration's credentials (never the credentials themselves).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// `active`, `expiring`, `expired`, `invalid`, `error` or `missing` (as `adsctl auth status`).
    pub status: TokenStatus,
    /// When the token in use ends (an access token refreshed ahead of it, or a token only a person can renew);
    /// `None` when it does not end or there is none.
    pub expires_at: Option<DateTime<Utc>>,
    /// The token never ends (valid until revoked).
    pub never_expires: bool,
    /// Where the credentials come from: `vault` or `env` (`None` when missing).
    pub source: Option<String>,
    /// What to do about a status other than `active`.
    pub hint: Option<String>,
}

/// An error, when it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LastError {
    /// The error, scrubbed of secrets.
    pub message: String,
    /// When it was seen; `None` for a credential error whose time was not recorded.
    pub at: Option<DateTime<Utc>>,
}

/// The review problems of an account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReviewProblems {
    /// How many objects are not approved.
    pub count: usize,
    /// One line per object: `address: STATUS (detail)`.
    pub messages: Vec<String>,
}

/// What the metrics store holds of one account over the usage window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Currency code → exact decimal string.
    pub spend: BTreeMap<String, String>,
    pub impressions: u64,
}

/// Usage per account from a report over the usage window (its account totals, one per account and currency).
pub fn usage_from_report(report: &Report) -> BTreeMap<String, Usage> {
    let mut out: BTreeMap<String, Usage> = BTreeMap::new();
    for t in &report.account_totals {
        let Some(account) = &t.account else { continue };
        let u = out.entry(account.clone()).or_default();
        u.spend
            .insert(t.currency.code().to_string(), money_str(t.sums.cost, t.currency));
        u.impressions += t.sums.impressions;
    }
    out
}

/// Campaigns in an account's plan (as `/api/v1/plan` serves it), removals left out; `None` without a plan.
fn campaigns_in(plan: &serde_json::Value) -> Option<usize> {
    let accounts = plan.get("accounts")?.as_array()?;
    Some(
        accounts
            .iter()
            .filter_map(|a| a.get("changes").and_then(|c| c.as_array()))
            .flatten()
            .filter(|c| c.get("kind").and_then(|k| k.as_str()) == Some("campaign"))
            .filter(|c| !matches!(c.get("action").and_then(|a| a.as_str()), Some("remove" | "orphan")))
            .count(),
    )
}

/// The token part of an integration from its `auth status` row (`missing` without one).
pub fn token_info(row: Option<&StatusRow>) -> TokenInfo {
    match row {
        Some(r) => TokenInfo {
            status: r.status,
            expires_at: r.expires_at,
            never_expires: r.never_expires,
            source: r.source.map(|s| s.to_string()),
            hint: r.hint.clone(),
        },
        None => TokenInfo {
            status: TokenStatus::Missing,
            expires_at: None,
            never_expires: false,
            source: None,
            hint: None,
        },
    }
}

/// What [`integrations`] assembles.
#[derive(Clone, Copy, Debug)]
pub struct Sources<'a> {
    /// The daemon's status ([`super::StatusHub::snapshot`]).
    pub snapshot: &'a Snapshot,
    /// What the daemon saw of each account beyond it ([`super::StatusHub::activity`]).
    pub activity: &'a BTreeMap<String, AccountActivity>,
    /// The `auth status` rows of the daemon's accounts ([`crate::auth::Auth::status`]; no platform call).
    pub tokens: &'a [StatusRow],
    /// Usage per account over the last [`USAGE_DAYS`] days ([`usage_from_report`] of the metrics store).
    pub usage: &'a BTreeMap<String, Usage>,
}

/// One integration from the account's status and activity, its `auth status` row and its usage.
pub fn integration(
    a: &AccountStatus,
    activity: Option<&AccountActivity>,
    token: Option<&StatusRow>,
    usage: Option<&Usage>,
) -> Integration {
    let last_error = match (&a.last_error, token.and_then(|t| t.last_error.as_ref())) {
        (Some(e), _) => Some(LastError {
            message: crate::secret::scrub(&e.message),
            at: Some(e.at),
        }),
        (None, Some(m)) => Some(LastError {
            message: crate::secret::scrub(m),
            at: None,
        }),
        (None, None) => None,
    };
    let last_read_at = match (a.last_sync, token.and_then(|t| t.last_sync)) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    Integration {
        id: a.account.clone(),
        account: a.account.clone(),
        platform: a.platform.clone(),
        currency: a.currency.clone(),
        sync_status: a.status.as_str().to_string(),
        token: token_info(token),
        last_read_at,
        last_apply_at: activity.and_then(|x| x.last_apply_at),
        last_error,
        review_problems: ReviewProblems {
            count: a.review_issues.len(),
            messages: a
                .review_issues
                .iter()
                .map(|r| {
                    if r.detail.is_empty() {
                        format!("{}: {}", r.address, r.status)
                    } else {
                        format!("{}: {} ({})", r.address, r.status, r.detail)
                    }
                })
                .collect(),
        },
        rate_limit: activity.map(|x| x.rate_limit.clone()).unwrap_or_default(),
        campaigns: campaigns_in(&a.plan),
        spend: usage.map(|u| u.spend.clone()).unwrap_or_default(),
        impressions: usage.map_or(0, |u| u.impressions),
    }
}

/// Every integration of the daemon, in account order (see [`Sources`]).
pub fn integrations(src: &Sources<'_>) -> Vec<Integration> {
    src.snapshot
        .accounts
        .iter()
        .map(|a| {
            let row = src.tokens.iter().find(|t| t.account == a.account);
            integration(a, src.activity.get(&a.account), row, src.usage.get(&a.account))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn campaigns_count_what_the_plan_keeps() {
        let plan = serde_json::json!({"accounts": [{"changes": [
            {"kind": "campaign", "action": "no_op"},
            {"kind": "campaign", "action": "create"},
            {"kind": "campaign", "action": "remove"},
            {"kind": "ad_group", "action": "no_op"},
        ]}]});
        assert_eq!(campaigns_in(&plan), Some(2));
        assert_eq!(campaigns_in(&serde_json::Value::Null), None);
    }
}
