//! Several `adsctl watch` replicas on one PostgreSQL state share the accounts through leases (the tables of
//! `crates/adsctl-state-pg/migrations/0003_leases.sql`; the design and why two replicas never apply to one account
//! at once: `docs/watch.md`, "Several replicas").
//!
//! Every `lease / 3` the replica's lease task ([`Leases::run`]): beats its heartbeat, renews the leases it holds,
//! counts the live replicas, takes free or expired leases up to its fair share (`ceil(accounts / replicas)`) and
//! gives back those above it — only leases whose account is not being reconciled. The daemon runs a worker for
//! each account held ([`Leases::held`]); a reconcile starts only under an [`AccountLease`], whose fencing token
//! every state write carries, and whose deadline by this replica's own clock (the start of the last successful
//! renew + lease − margin) stops platform writes before the lease can have expired in the database.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use adsctl_state_pg::{AcquiredLease, Fence, PgError, PgStore};
use tokio::sync::{watch, Notify, OwnedMutexGuard};
use tokio_util::sync::CancellationToken;

use super::status::{ReplicaInfo, StatusHub};
use crate::connectors::{
    ApplyBatch, Capabilities, Connector, ConnectorError, DateRange, Health, Lease, LeaseOutcome, LiveSnapshot,
    MetricRow, MetricsLevel, OpOutcome, Operation, QuotaCost, ReadRequest,
};
use crate::model::Account;

/// `--lease`'s default.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// This replica's id: host, pid and a random suffix (a restarted pod on the same host, or a pid reused, is a new
/// replica).
pub fn replica_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into());
    let suffix: String = std::iter::repeat_with(fastrand::alphanumeric).take(6).collect();
    format!("{host}-{}-{}", std::process::id(), suffix.to_lowercase())
}

/// One lease held.
struct Held {
    token: i64,
    /// When the last successful renew (or the acquisition) was sent: the database granted until its `now()`
    /// then + lease, and its `now()` was no earlier than this.
    renewed_at: Instant,
    /// Held by the reconcile of this account while it runs: a lease is given back only while it is free.
    gate: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Default)]
struct State {
    /// The accounts of the config.
    accounts: Vec<String>,
    held: BTreeMap<String, Held>,
    registered: bool,
    /// When this replica first registered: it takes no lease for one renew interval after, so that replicas
    /// started together count each other before any takes a share.
    registered_at: Option<Instant>,
    live_replicas: usize,
    /// How long after the last round another replica's lease or heartbeat runs out (the next round is then, when
    /// it comes before the usual one).
    next_foreign_expiry: Option<Duration>,
    /// The last failure said (not said again while it lasts).
    failing: Option<String>,
}

/// The replica's leases; see the module.
pub struct Leases {
    db: Arc<PgStore>,
    replica: String,
    lease: Duration,
    state: parking_lot::Mutex<State>,
    held_tx: watch::Sender<BTreeSet<String>>,
    wake: Notify,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("replica", &self.replica)
            .field("lease", &self.lease)
            .finish()
    }
}

impl Leases {
    /// Leases of `lease` for this replica over its own connection to the state (never waiting behind the
    /// reconciles' queries).
    pub fn new(db: PgStore, replica: String, lease: Duration) -> Arc<Leases> {
        let (held_tx, _) = watch::channel(BTreeSet::new());
        Arc::new(Leases {
            db: Arc::new(db),
            replica,
            lease,
            state: parking_lot::Mutex::new(State::default()),
            held_tx,
            wake: Notify::new(),
        })
    }

    pub fn replica(&self) -> &str {
        &self.replica
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// How often leases are renewed (and taken, and given back).
    pub fn renew_every(&self) -> Duration {
        self.lease / 3
    }

    /// What is taken off the lease for this replica's own deadline: a platform write is started only before
    /// `renewed_at + lease − margin`, and one still in flight at `renewed_at + lease` is cut off.
    pub fn margin(&self) -> Duration {
        self.lease / 5
    }

    /// The accounts held, as they change.
    pub fn held(&self) -> watch::Receiver<BTreeSet<String>> {
        self.held_tx.subscribe()
    }

    /// Whether the replica is registered (its last heartbeat reached the database).
    pub fn registered(&self) -> bool {
        self.state.lock().registered
    }

    /// The accounts of the config (the supervisor tells them at every load); a change is acted on at once.
    pub fn set_accounts(&self, mut accounts: Vec<String>) {
        accounts.sort();
        let mut st = self.state.lock();
        if st.accounts != accounts {
            st.accounts = accounts;
            drop(st);
            self.wake.notify_one();
        }
    }

    /// The lease of `account` for one reconcile: `None` when it is not held, or its deadline has passed. Holding
    /// it keeps the lease from being given back (a rebalance waits for the reconcile to end).
    pub async fn begin(self: &Arc<Self>, account: &str) -> Option<AccountLease> {
        let gate = self.state.lock().held.get(account)?.gate.clone();
        let guard = gate.lock_owned().await;
        let token = {
            let st = self.state.lock();
            let h = st.held.get(account)?;
            if Instant::now() >= h.renewed_at + self.lease - self.margin() {
                return None;
            }
            h.token
        };
        Some(AccountLease {
            check: LeaseCheck {
                leases: self.clone(),
                account: account.to_string(),
                token,
            },
            _gate: guard,
        })
    }

    /// Renew, count, take and give back leases every [`Leases::renew_every`] until `stop`; then give every lease
    /// back and leave (a graceful shutdown: the others take the accounts at once, not after the lease).
    pub async fn run(self: Arc<Self>, hub: Arc<StatusHub>, stop: CancellationToken) {
        tracing::info!(replica = %self.replica, lease = ?self.lease, "sharing the accounts with the other replicas");
        loop {
            self.clone().tick(&hub).await;
            // A replica that died stops renewing: the round after its last lease (or heartbeat) runs out takes its
            // accounts, so a takeover comes within the lease, not up to a renew interval later. A live replica's
            // expiries are at least two thirds of a lease ahead, so this never makes rounds more frequent.
            let next = match self.state.lock().next_foreign_expiry {
                Some(d) => (d + FOREIGN_EXPIRY_SLACK).min(self.renew_every()),
                None => self.renew_every(),
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(next) => {}
                _ = self.wake.notified() => {}
            }
        }
    }

    /// Give every lease back and forget this replica (after the last reconcile).
    pub async fn leave(self: Arc<Self>) {
        let me = self.clone();
        let gone = tokio::task::spawn_blocking(move || me.db.deregister(&me.replica)).await;
        let n = {
            let mut st = self.state.lock();
            let n = st.held.len();
            st.held.clear();
            st.registered = false;
            n
        };
        self.publish();
        match gone {
            Ok(Ok(())) => tracing::info!(replica = %self.replica, leases = n, "gave every lease back"),
            Ok(Err(e)) => {
                tracing::warn!(replica = %self.replica, error = %e, "could not give the leases back: they expire")
            }
            Err(e) => {
                tracing::warn!(replica = %self.replica, error = %e, "could not give the leases back: they expire")
            }
        }
    }

    fn publish(&self) {
        let held: BTreeSet<String> = self.state.lock().held.keys().cloned().collect();
        self.held_tx.send_if_modified(|h| {
            if *h == held {
                false
            } else {
                *h = held;
                true
            }
        });
    }

    /// Drop the leases whose deadline by this replica's clock has passed (the database could not be reached to
    /// renew them): their accounts get no new reconcile here, the others take them when they expire.
    fn drop_overdue(&self) {
        let cutoff = self.lease - self.margin();
        let mut st = self.state.lock();
        let overdue: Vec<String> = st
            .held
            .iter()
            .filter(|(_, h)| h.renewed_at.elapsed() >= cutoff)
            .map(|(a, _)| a.clone())
            .collect();
        for a in overdue {
            st.held.remove(&a);
            tracing::warn!(replica = %self.replica, account = %a, "lease lost: not renewed in time");
        }
    }

    async fn tick(self: Arc<Self>, hub: &Arc<StatusHub>) {
        let me = self.clone();
        let done = tokio::task::spawn_blocking(move || me.tick_blocking()).await;
        let result = match done {
            Ok(r) => r,
            Err(e) => Err(format!("the lease task stopped: {e}")),
        };
        match result {
            Ok(()) => {
                let mut st = self.state.lock();
                if st.failing.take().is_some() {
                    tracing::info!(replica = %self.replica, "the state's database is reachable again");
                }
                st.registered = true;
            }
            Err(e) => {
                let mut st = self.state.lock();
                st.registered = false;
                st.next_foreign_expiry = None;
                if st.failing.as_deref() != Some(e.as_str()) {
                    tracing::warn!(replica = %self.replica, error = %e, "cannot renew the leases: retrying");
                    st.failing = Some(e);
                }
            }
        }
        self.drop_overdue();
        self.publish();
        let st = self.state.lock();
        hub.set_state_open(st.registered);
        hub.set_replica(ReplicaInfo {
            id: self.replica.clone(),
            lease_seconds: self.lease.as_secs_f64(),
            live_replicas: st.live_replicas,
            accounts_held: st.held.len(),
        });
    }

    /// One round against the database (on a blocking thread).
    fn tick_blocking(&self) -> Result<(), String> {
        let err = |e: PgError| e.to_string();
        let started = Instant::now();
        self.db.heartbeat(&self.replica, self.lease).map_err(err)?;
        let live = self.db.live_replicas().map_err(err)?.max(1);
        // renew what is held
        let held: Vec<AcquiredLease> = {
            let st = self.state.lock();
            st.held
                .iter()
                .map(|(a, h)| AcquiredLease {
                    account: a.clone(),
                    token: h.token,
                })
                .collect()
        };
        let renewed: BTreeSet<String> = self
            .db
            .renew_leases(&self.replica, &held, self.lease)
            .map_err(err)?
            .into_iter()
            .collect();
        let (wanted, free, surplus) = {
            let mut st = self.state.lock();
            st.live_replicas = live;
            let settling = st.registered_at.get_or_insert(started).elapsed() < self.renew_every();
            for l in &held {
                if renewed.contains(&l.account) {
                    if let Some(h) = st.held.get_mut(&l.account) {
                        h.renewed_at = started;
                    }
                } else if st.held.remove(&l.account).is_some() {
                    tracing::warn!(replica = %self.replica, account = %l.account, token = l.token, "lease lost: taken over or expired");
                }
            }
            let configured: BTreeSet<&String> = st.accounts.iter().collect();
            let share = st.accounts.len().div_ceil(live);
            // leases of accounts gone from the config go back first, then those above the share
            let mut give: Vec<String> = st.held.keys().filter(|a| !configured.contains(a)).cloned().collect();
            let kept = st.held.len() - give.len();
            if kept > share {
                give.extend(
                    st.held
                        .keys()
                        .filter(|a| configured.contains(a))
                        .rev()
                        .take(kept - share)
                        .cloned(),
                );
            }
            let free: Vec<String> = st
                .accounts
                .iter()
                .filter(|a| !st.held.contains_key(*a))
                .cloned()
                .collect();
            let wanted = if settling { 0 } else { share.saturating_sub(kept) };
            (wanted, free, give)
        };
        // give back (only leases whose account is not being reconciled: the others at a later round)
        let mut released = Vec::new();
        for account in surplus {
            let mut st = self.state.lock();
            let Some(h) = st.held.get(&account) else { continue };
            let Ok(guard) = h.gate.clone().try_lock_owned() else {
                continue;
            };
            let token = h.token;
            st.held.remove(&account);
            drop(st);
            released.push((AcquiredLease { account, token }, guard));
        }
        if !released.is_empty() {
            let leases: Vec<AcquiredLease> = released.iter().map(|(l, _)| l.clone()).collect();
            for l in &leases {
                tracing::info!(replica = %self.replica, account = %l.account, token = l.token, "lease given back (rebalance)");
            }
            self.db.release_leases(&self.replica, &leases).map_err(err)?;
        }
        drop(released);
        // take up to the share. Replicas that woke at the same expiry race for the same rows: the one that loses a
        // row to another takes nothing for it (the row is unexpired by then), so it asks again, a few times, for
        // what is still free, rather than waiting a round with its share short.
        let (mut wanted, mut free) = (wanted, free);
        for attempt in 0..ACQUIRE_ATTEMPTS {
            if wanted == 0 || free.is_empty() {
                break;
            }
            let asked = Instant::now();
            let got = self
                .db
                .acquire_leases(&self.replica, &free, wanted, self.lease)
                .map_err(err)?;
            // nothing again: nothing is free (the usual case while waiting for others to give back), stop asking
            if got.is_empty() && attempt > 0 {
                break;
            }
            wanted = wanted.saturating_sub(got.len());
            let taken: BTreeSet<&str> = got.iter().map(|l| l.account.as_str()).collect();
            free.retain(|a| !taken.contains(a.as_str()));
            let mut st = self.state.lock();
            for l in got {
                tracing::info!(replica = %self.replica, account = %l.account, token = l.token, "lease taken");
                st.held.insert(
                    l.account,
                    Held {
                        token: l.token,
                        renewed_at: asked,
                        gate: Arc::new(tokio::sync::Mutex::new(())),
                    },
                );
            }
        }
        let next = self.db.next_foreign_expiry(&self.replica).map_err(err)?;
        self.state.lock().next_foreign_expiry = next;
        Ok(())
    }
}

/// How many times one round asks for free leases while its share is short (another replica took some it chose).
const ACQUIRE_ATTEMPTS: usize = 4;

/// Wait this much past another replica's expiry before the round that takes its leases (the database's clock and
/// this replica's timer are not one).
const FOREIGN_EXPIRY_SLACK: Duration = Duration::from_millis(25);

/// Whether one acquisition of a lease is still this replica's, by its own clock.
#[derive(Clone, Debug)]
pub struct LeaseCheck {
    leases: Arc<Leases>,
    account: String,
    token: i64,
}

impl LeaseCheck {
    /// When this replica must stop starting platform writes: `None` once the lease is lost.
    pub fn deadline(&self) -> Option<Instant> {
        let st = self.leases.state.lock();
        let h = st.held.get(&self.account).filter(|h| h.token == self.token)?;
        Some(h.renewed_at + self.leases.lease - self.leases.margin())
    }

    /// When the lease may have expired in the database (a write still in flight then is cut off).
    pub fn expiry(&self) -> Option<Instant> {
        self.deadline().map(|d| d + self.leases.margin())
    }

    /// Whether a platform write may start now.
    pub fn valid(&self) -> bool {
        self.deadline().is_some_and(|d| Instant::now() < d)
    }

    /// What the state writes carry.
    pub fn fence(&self) -> Fence {
        Fence {
            account: self.account.clone(),
            holder: self.leases.replica.clone(),
            token: self.token,
        }
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    pub fn token(&self) -> i64 {
        self.token
    }

    pub fn replica(&self) -> &str {
        &self.leases.replica
    }
}

/// The lease one reconcile runs under (see [`Leases::begin`]).
pub struct AccountLease {
    check: LeaseCheck,
    _gate: OwnedMutexGuard<()>,
}

impl AccountLease {
    pub fn check(&self) -> &LeaseCheck {
        &self.check
    }
}

/// An account's connector for one reconcile under its lease: a batch is sent only while the lease is this
/// replica's by its own clock, and one still in flight when the lease may have expired is cut off. So the
/// executor's batches after the deadline all fail at once, without a request — the apply is cancelled between
/// batches.
pub(crate) struct Fenced {
    pub(crate) inner: Arc<dyn Connector>,
    pub(crate) check: LeaseCheck,
}

impl Fenced {
    fn refused(&self, what: &str) -> ConnectorError {
        ConnectorError::Config(format!(
            "{what} for account `{}` not sent: this replica's lease on it (fencing token {}) ran out before it \
             could be renewed; the replica that takes it over reconciles it",
            self.check.account, self.check.token
        ))
    }

    /// Run a platform write if the lease allows it, cut off at the lease's expiry.
    async fn write<T>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = Result<T, ConnectorError>>,
    ) -> Result<T, ConnectorError> {
        if !self.check.valid() {
            tracing::warn!(account = %self.check.account, token = self.check.token, "{what} not sent: the lease ran out");
            return Err(self.refused(what));
        }
        let cut_off = || ConnectorError::Transport {
            url: "the platform".into(),
            message: format!(
                "{what} for account `{}` cut off: this replica's lease ran out while it was in flight",
                self.check.account
            ),
        };
        // The expiry moves on with every renewal made while the write runs (a long batch, or one waiting for
        // adsctl's own request budget): it is cut off only when the lease may really have run out in the database,
        // not at the expiry it had when it started.
        tokio::pin!(f);
        loop {
            let Some(expiry) = self.check.expiry() else {
                return Err(cut_off());
            };
            if std::time::Instant::now() >= expiry {
                return Err(cut_off());
            }
            if let Ok(r) = tokio::time::timeout_at(tokio::time::Instant::from_std(expiry), &mut f).await {
                return r;
            }
        }
    }
}

#[async_trait::async_trait]
impl Connector for Fenced {
    fn platform(&self) -> crate::model::Platform {
        self.inner.platform()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn quota_cost(&self, account: &Account, ops: &[Operation]) -> Option<QuotaCost> {
        self.inner.quota_cost(account, ops)
    }
    async fn read(&self, account: &Account, req: &ReadRequest) -> Result<LiveSnapshot, ConnectorError> {
        self.inner.read(account, req).await
    }
    async fn apply(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        self.write("a batch of changes", self.inner.apply(account, batch)).await
    }
    async fn validate(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        self.inner.validate(account, batch).await
    }
    async fn health(&self, account: &Account) -> Result<Health, ConnectorError> {
        self.inner.health(account).await
    }
    async fn acquire_lease(
        &self,
        account: &Account,
        holder: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
        take_over: Option<&str>,
    ) -> Result<LeaseOutcome, ConnectorError> {
        self.write(
            "the platform lease",
            self.inner.acquire_lease(account, holder, expires_at, take_over),
        )
        .await
    }
    async fn renew_lease(
        &self,
        account: &Account,
        lease: &Lease,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ConnectorError> {
        self.inner.renew_lease(account, lease, expires_at).await
    }
    async fn release_lease(&self, account: &Account, lease: &Lease) -> Result<(), ConnectorError> {
        self.inner.release_lease(account, lease).await
    }
    async fn source_emails(&self, account: &Account, audience: Option<&str>) -> Result<Vec<String>, ConnectorError> {
        self.inner.source_emails(account, audience).await
    }
    async fn metrics(
        &self,
        account: &Account,
        level: MetricsLevel,
        range: DateRange,
    ) -> Result<Vec<MetricRow>, ConnectorError> {
        self.inner.metrics(account, level, range).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_ids_differ_and_name_the_process() {
        let (a, b) = (replica_id(), replica_id());
        assert_ne!(a, b);
        assert!(a.contains(&format!("-{}-", std::process::id())), "{a}");
    }
}
