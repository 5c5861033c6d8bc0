//! Reading live state (from the platform, or the cache) and planning a whole project.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::Instrument;

use super::{assemble, plan_account, AccountInput, Plan, PlanError, PlanErrors, PlanOptions};
use crate::connectors::{Connector, ReadRequest};
use crate::model::{Account, Address, Project, Resource};
use crate::state::{CachedLive, Intent, StateEntry, StateStore};

/// How to obtain live state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// Read from the platform; incremental from the cached marker when there is one.
    Incremental,
    /// Read everything from the platform (what `apply` does).
    Full,
    /// Only the local cache (`--refresh=false`).
    CacheOnly,
}

/// The live state of one account as read.
#[derive(Clone, Debug)]
pub struct LiveRead {
    pub resources: Vec<Resource>,
    pub fetched_at: DateTime<Utc>,
    pub from_cache: bool,
    /// The fingerprint stored with the cache it came from (`None`: compute it from `resources`).
    pub fingerprint: Option<String>,
}

fn merge(cached: CachedLive, delta: crate::connectors::LiveSnapshot) -> Vec<Resource> {
    let mut by_id: BTreeMap<String, Resource> = BTreeMap::new();
    let mut no_id = Vec::new();
    for r in cached.resources.into_iter().chain(delta.resources) {
        match r.id.clone() {
            Some(id) => {
                by_id.insert(id, r);
            }
            None => no_id.push(r),
        }
    }
    for id in &delta.removed_ids {
        by_id.remove(id);
    }
    by_id.into_values().chain(no_id).collect()
}

/// The cached live state of one account (`--refresh=false`).
fn read_cached(account: &Account, store: &dyn StateStore) -> Result<LiveRead, PlanError> {
    let c = store.cache_get(&account.name)?.ok_or_else(|| PlanError::NoCache {
        account: account.name.clone(),
    })?;
    Ok(LiveRead {
        resources: c.resources,
        fetched_at: c.fetched_at,
        from_cache: true,
        fingerprint: c.fingerprint,
    })
}

/// Read one account and refresh the cache.
pub async fn read_account(
    connector: &dyn Connector,
    account: &Account,
    store: &dyn StateStore,
    mode: ReadMode,
    pinned_ids: Vec<String>,
) -> Result<LiveRead, PlanError> {
    if mode == ReadMode::CacheOnly {
        return read_cached(account, store);
    }
    let cached = store.cache_get(&account.name)?;
    let since = match (&cached, mode) {
        (Some(c), ReadMode::Incremental) => c.marker.clone(),
        _ => None,
    };
    let req = ReadRequest { since, pinned_ids };
    let snap = connector
        .read(account, &req)
        .await
        .map_err(|source| PlanError::Connector {
            account: account.name.clone(),
            source,
        })?;
    let marker = snap.marker.clone();
    let resources = match cached {
        Some(c) if !snap.complete && req.since.is_some() => merge(c, snap),
        _ => snap.resources,
    };
    let fetched_at = Utc::now();
    store.cache_put(&account.name, fetched_at, marker.as_deref(), &resources)?;
    Ok(LiveRead {
        resources,
        fetched_at,
        from_cache: false,
        fingerprint: None,
    })
}

/// Pauses before the confirmation reads of journaled creates a read did not show (`ADSCTL_CONFIRM_READ_DELAY_MS`,
/// the first pause; the second is twice as long).
pub fn confirm_read_delays() -> [Duration; 2] {
    let first = std::env::var("ADSCTL_CONFIRM_READ_DELAY_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1_000);
    [
        Duration::from_millis(first),
        Duration::from_millis(first.saturating_mul(2)),
    ]
}

/// Creates an interrupted apply journaled and never confirmed, of one account.
fn pending_creates(store: &dyn StateStore, account: &Account) -> Result<Vec<Intent>, PlanError> {
    Ok(store
        .journal_pending(Some(&account.name))?
        .into_iter()
        .map(|(_, i)| i)
        .collect())
}

fn account_input<'a>(
    project: &'a Project,
    account: &Account,
    connector: &dyn Connector,
    read: LiveRead,
    state: Vec<StateEntry>,
    pending: Vec<Intent>,
) -> AccountInput<'a> {
    AccountInput {
        account: account.clone(),
        capabilities: connector.capabilities(),
        desired: project
            .resources
            .iter()
            .filter(|r| r.address.account == account.name)
            .collect(),
        live: read.resources,
        live_fetched_at: read.fetched_at,
        live_fingerprint: read.fingerprint,
        from_cache: read.from_cache,
        state,
        pending,
        moved: project
            .moved
            .iter()
            .filter(|m| m.to.account == account.name)
            .cloned()
            .collect(),
    }
}

fn no_connector(account: &Account) -> PlanErrors {
    PlanErrors(vec![PlanError::Connector {
        account: account.name.clone(),
        source: crate::connectors::ConnectorError::Config(format!("no connector for account `{}`", account.name)),
    }])
}

/// Plan every account from the cache (`--refresh=false`): local decoding and planning only, pipelined so that
/// the next account is loaded on another core while this one is planned (an account's cache and its id map are
/// decoded at once, on two threads). At most two accounts' live state is held at a time.
fn plan_cached(
    project: &Project,
    store: &dyn StateStore,
    connectors: &BTreeMap<String, Arc<dyn Connector>>,
    opts: &PlanOptions,
    accounts: &[&Account],
) -> Vec<Result<(super::AccountPlan, Vec<super::Blocker>), PlanErrors>> {
    type Loaded = Result<(LiveRead, Vec<StateEntry>, Vec<Intent>), PlanError>;
    let load = |account: &Account| -> Loaded {
        std::thread::scope(|s| {
            let state = s.spawn(|| store.entries(Some(&account.name)));
            let read = read_cached(account, store);
            let state = state.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            Ok((read?, state?, pending_creates(store, account)?))
        })
    };
    std::thread::scope(|s| {
        let mut next = accounts.first().map(|a| s.spawn(move || load(a)));
        let mut out = Vec::with_capacity(accounts.len());
        for (i, account) in accounts.iter().enumerate() {
            let Some(loading) = next.take() else { break };
            let loaded = loading.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            next = accounts.get(i + 1).map(|a| s.spawn(move || load(a)));
            let result = match (loaded, connectors.get(&account.name)) {
                (_, None) => Err(no_connector(account)),
                (Err(e), _) => Err(PlanErrors(vec![e])),
                (Ok((read, state, pending)), Some(connector)) => plan_account(
                    account_input(project, account, connector.as_ref(), read, state, pending),
                    opts,
                ),
            };
            out.push(result);
        }
        out
    })
}

/// Read every account of the project (concurrently) that the plan concerns, and plan it.
#[tracing::instrument(name = "plan", skip_all, fields(mode = ?mode))]
pub async fn plan_project(
    project: &Project,
    store: &dyn StateStore,
    connectors: &BTreeMap<String, Arc<dyn Connector>>,
    opts: &PlanOptions,
    mode: ReadMode,
) -> Result<Plan, PlanErrors> {
    let mut errors = Vec::new();
    for r in &project.resources {
        if !project.accounts.contains_key(&r.address.account) {
            errors.push(PlanError::UnknownAccount {
                address: r.address.clone(),
                account: r.address.account.clone(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(PlanErrors(errors));
    }
    let accounts: Vec<&Account> = project
        .accounts
        .values()
        .filter(|a| opts.targets.is_empty() || opts.targets.iter().any(|t| t.account == a.name))
        .collect();

    if mode == ReadMode::CacheOnly {
        return assemble(plan_cached(project, store, connectors, opts, &accounts), opts);
    }
    // Each account is read and planned in one go, so its live state and id map are dropped as soon as its plan
    // is made.
    let plans = accounts.iter().map(|account| {
        let pinned: Vec<String> = project
            .resources
            .iter()
            .filter(|r| r.address.account == account.name)
            .filter_map(|r| r.id.clone())
            .collect();
        let connector = connectors.get(&account.name).cloned();
        let span = crate::connectors::trace::account(account);
        async move {
            let Some(connector) = connector else {
                return Err(no_connector(account));
            };
            let mut read = read_account(connector.as_ref(), account, store, mode, pinned.clone()).await?;
            let state = store.entries(Some(&account.name)).map_err(PlanError::from)?;
            let pending = pending_creates(store, account)?;
            // A create an interrupted apply journaled may have been made even though this read does not show it
            // (reads can lag behind writes). Planning it as a create on one read could duplicate it: read again,
            // after a pause, before believing it is missing.
            if !pending.is_empty() {
                for delay in confirm_read_delays() {
                    let missing = {
                        let live: HashSet<&Address> = read.resources.iter().map(|r| &r.address).collect();
                        pending.iter().filter(|i| !live.contains(&i.address)).count()
                    };
                    if missing == 0 {
                        break;
                    }
                    tracing::info!(
                        account = %account.name,
                        missing,
                        "journaled creates not found live; reading again before planning them as creates"
                    );
                    tokio::time::sleep(delay).await;
                    read = read_account(connector.as_ref(), account, store, ReadMode::Full, pinned.clone()).await?;
                }
            }
            plan_account(
                account_input(project, account, connector.as_ref(), read, state, pending),
                opts,
            )
        }
        .instrument(span)
    });
    let planned = futures_util::future::join_all(plans).await;
    assemble(planned, opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connectors::LiveSnapshot;
    use crate::model::{Kind, Value};

    fn r(id: &str, name: &str, status: &str) -> Resource {
        let mut r = Resource::new(
            crate::model::Address::account("a").child(Kind::Campaign, name),
            Kind::Campaign,
        )
        .with("status", Value::str(status));
        r.id = Some(id.into());
        r
    }

    #[test]
    fn incremental_reads_merge_into_the_cache_by_id() {
        let cached = CachedLive {
            fetched_at: Utc::now(),
            marker: Some("1".into()),
            resources: vec![r("1", "A", "enabled"), r("2", "B", "enabled"), r("3", "C", "enabled")],
            fingerprint: None,
        };
        let delta = LiveSnapshot {
            resources: vec![r("2", "B", "paused"), r("4", "D", "enabled")],
            removed_ids: vec!["3".into()],
            complete: false,
            marker: Some("2".into()),
        };
        let merged = merge(cached, delta);
        let got: Vec<(String, String)> = merged
            .iter()
            .map(|x| (x.id.clone().unwrap(), x.fields["status"].to_string()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("1".into(), "\"enabled\"".into()),
                ("2".into(), "\"paused\"".into()),
                ("4".into(), "\"enabled\"".into())
            ]
        );
    }
}
