//! Audiences whose members come from another platform (`source:` in the YAML): before each plan, the source
//! account's connector answers the addresses (`Connector::source_emails`), which are normalised and hashed for
//! each destination as a customer file's are, and dropped. The lowering leaves a [`FIELD`] on such an audience;
//! [`resolve`] replaces it with `members`.
//!
//! The addresses live only in this function's memory (and, for a destination that takes them as written, in
//! `connectors::clear`); no plan, state or log ever holds one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::connectors::clear::{self, ClearMember};
use crate::connectors::{Connector, ConnectorError};
use crate::model::{Account, Resource, Value};

/// The field the lowering puts on an audience with a `source:` (`{account, audience?}`), never planned.
pub const FIELD: &str = "members_source";

/// Why an audience's source could not be read.
#[derive(Debug, thiserror::Error)]
#[error("audience `{address}`: its source `{source_name}` could not be read: {error}")]
pub struct SourceError {
    pub address: String,
    pub source_name: String,
    pub error: ConnectorError,
}

/// Whether any resource takes its members from a source.
pub fn any(resources: &[Resource]) -> bool {
    resources.iter().any(|r| r.fields.contains_key(FIELD))
}

/// Replaces each [`FIELD`] with the source's members, hashed for the resource's platform. Each source is read
/// once however many audiences take it.
pub async fn resolve<F>(
    resources: &mut [Resource],
    accounts: &BTreeMap<String, Account>,
    connector: F,
) -> Result<(), SourceError>
where
    F: Fn(&Account) -> Result<Arc<dyn Connector>, ConnectorError>,
{
    // (account, audience) → its addresses, `None` when it does not exist yet
    type Read = HashMap<(String, Option<String>), Arc<Option<Vec<String>>>>;
    let mut read: Read = HashMap::new();
    let declared: std::collections::HashSet<String> = resources.iter().map(|r| r.address.to_string()).collect();
    for r in resources.iter_mut() {
        let Some(Value::Map(src)) = r.fields.remove(FIELD) else {
            continue;
        };
        let account = src
            .get("account")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let audience = src.get("audience").and_then(Value::as_str).map(str::to_string);
        let source_name = match &audience {
            Some(a) => format!("{account}/audience/{a}"),
            None => account.clone(),
        };
        let fail = |error| SourceError {
            address: r.address.to_string(),
            source_name: source_name.clone(),
            error,
        };
        let key = (account.clone(), audience.clone());
        let emails = match read.get(&key) {
            Some(e) => e.clone(),
            None => {
                let Some(acct) = accounts.get(&account) else {
                    return Err(fail(ConnectorError::Config(format!("no account `{account}`"))));
                };
                let c = connector(acct).map_err(&fail)?;
                let e = match c.source_emails(acct, audience.as_deref()).await {
                    Ok(e) => Some(e),
                    // a source audience this project declares and has not made yet (the first apply makes both):
                    // its members are known once it exists, so this plan leaves the destination's members alone
                    Err(ConnectorError::Config(_)) if declared.contains(&source_name) => None,
                    Err(e) => return Err(fail(e)),
                };
                let e = Arc::new(e);
                read.insert(key, e.clone());
                e
            }
        };
        let Some(emails) = emails.as_ref() else {
            tracing::warn!(
                audience = %r.address,
                source = %source_name,
                "the source audience does not exist yet: its members are planned once it does (the next plan)"
            );
            continue;
        };
        let Some(home) = accounts.get(&r.address.account).and_then(|a| super::home(a.platform)) else {
            continue;
        };
        let mut book = HashMap::new();
        let mut members = std::collections::BTreeSet::new();
        for e in emails {
            let h = home.hash_email(e);
            if home.takes_clear_addresses() {
                book.insert(
                    h.clone(),
                    ClearMember {
                        email: e.trim().to_string(),
                        ..ClearMember::default()
                    },
                );
            }
            members.insert(Value::Str(h));
        }
        if home.takes_clear_addresses() {
            clear::file(&r.address.to_string(), book);
        }
        r.fields.insert("members", Value::Set(members));
    }
    Ok(())
}

/// The field the lowering puts on a CRM campaign that mirrors an ad campaign and takes its spend from
/// `adsctl metrics` (`{field, campaign: Ref, whole_units: Bool}`), never planned: [`resolve_spend`] replaces it
/// with `field` (Money) or drops it.
pub const SPEND_FIELD: &str = "spend_of";

/// The ad campaign's cost over every day the metrics store holds, in its account's currency.
fn campaign_cost<S: crate::state::StateStore + crate::metrics::series::SeriesStore + ?Sized>(
    store: &S,
    campaign: &crate::model::Address,
    accounts: &BTreeMap<String, Account>,
) -> Option<(crate::model::Money, crate::model::Currency)> {
    let account = accounts.get(&campaign.account)?;
    let id = store
        .entries(Some(&account.name))
        .ok()?
        .into_iter()
        .find(|e| e.address == *campaign)
        .map(|e| e.id)
        .or_else(|| {
            let live = store.cache_get(&account.name).ok()??;
            live.resources.into_iter().find(|r| r.address == *campaign)?.id
        })?;
    let days = store
        .days(
            &account.name,
            crate::connectors::MetricsLevel::Campaign,
            // days are keyed by their text: bounds that sort as dates do (NaiveDate::MIN/MAX print with a sign)
            chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?,
            chrono::NaiveDate::from_ymd_opt(9999, 12, 31)?,
        )
        .ok()?;
    let mut micros: i64 = 0;
    let mut seen = false;
    for day in days.values() {
        for row in day.rows.iter().filter(|r| r.id == id) {
            micros = micros.saturating_add(row.cost.micros());
            seen = true;
        }
    }
    seen.then(|| (crate::model::Money::from_micros(micros), account.currency))
}

/// Replaces each [`SPEND_FIELD`] with the mirrored ad campaign's cost from the metrics store, when the store has
/// figures for it and its currency is the CRM account's (money is never converted); otherwise the field is left
/// out, so a runner without metrics plans no spend change. `whole_units` rounds half up to whole currency units
/// (Salesforce's currency fields have no decimals).
pub fn resolve_spend<S: crate::state::StateStore + crate::metrics::series::SeriesStore + ?Sized>(
    resources: &mut [Resource],
    accounts: &BTreeMap<String, Account>,
    store: &S,
) {
    for r in resources.iter_mut() {
        let Some(Value::Map(spec)) = r.fields.remove(SPEND_FIELD) else {
            continue;
        };
        let (Some(field), Some(Value::Ref(campaign))) =
            (spec.get("field").and_then(Value::as_str), spec.get("campaign"))
        else {
            continue;
        };
        let Some(mine) = accounts.get(&r.address.account) else {
            continue;
        };
        let Some((cost, currency)) = campaign_cost(store, campaign, accounts) else {
            continue;
        };
        if currency != mine.currency {
            tracing::info!(
                address = %r.address,
                "the mirrored campaign's spend is in another currency: not planned (money is never converted)"
            );
            continue;
        }
        let mut micros = cost.micros();
        if spec.get("whole_units") == Some(&Value::Bool(true)) {
            let unit: i64 = 1_000_000; // micros per unit
            micros = (micros + unit / 2).div_euclid(unit) * unit;
        }
        let field: &'static str = crate::model::Key::new(field).as_str();
        r.fields
            .insert(field, Value::Money(crate::model::Money::from_micros(micros)));
    }
}
