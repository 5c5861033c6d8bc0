//! Several `adsctl watch` replicas on one database: the replicas' heartbeats, the account leases they share
//! and the fencing of the writes a reconcile makes (`migrations/0003_leases.sql`; the design and the argument
//! for it are in `docs/watch.md`, "Several replicas").
//!
//! Every time here is the database's (`now()`): a lease is granted until `now() + lease` by the server, and the
//! replicas never compare their clocks with each other's or with the server's.

use std::sync::Arc;
use std::time::Duration;

use adsctl_core::model::{Address, Resource};
use adsctl_core::state::{ApplyRecord, CachedLive, Intent, StateEntry, StateError, StateStore};
use chrono::{DateTime, NaiveDate, Utc};

use crate::worker::Conn;
use crate::{PgError, PgStore};

/// What a write made for one account's reconcile carries: the lease it is made under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub account: String,
    /// The replica holding the lease.
    pub holder: String,
    /// The fencing token of that acquisition of the lease.
    pub token: i64,
}

/// A lease just taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcquiredLease {
    pub account: String,
    pub token: i64,
}

/// A row of the lease table, as `adsctl watch` and the tests list it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRow {
    pub account: String,
    pub holder: String,
    pub token: i64,
    /// Whether it is still in force (by the database's clock).
    pub live: bool,
}

/// A row of the replica table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaRow {
    pub replica: String,
    pub live: bool,
}

/// The check of a fenced write, in the write's transaction. `FOR SHARE` keeps the lease row as it is until the
/// write commits: a replica taking the lease over (an `UPDATE` of that row) waits for the write and then sees it.
const FENCE_CHECK: &str = "SELECT 1 FROM adsctl_leases
     WHERE account = $1 AND holder = $2 AND token = $3 AND expires_at > now() FOR SHARE";

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Run `f` between `BEGIN` and `COMMIT` (or `ROLLBACK` when it fails or returns `None`).
fn in_transaction<R>(
    c: &mut Conn,
    f: impl FnOnce(&mut Conn) -> Result<Option<R>, postgres::Error>,
) -> Result<Option<R>, postgres::Error> {
    c.client.batch_execute("BEGIN")?;
    match f(c) {
        Ok(Some(r)) => {
            c.client.batch_execute("COMMIT")?;
            Ok(Some(r))
        }
        Ok(None) => {
            c.client.batch_execute("ROLLBACK")?;
            Ok(None)
        }
        Err(e) => {
            let _ = c.client.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}

impl PgStore {
    /// One write of the state: with a fence, in a transaction that first checks that the lease is still held
    /// with that token and unexpired ([`PgError::Fenced`] otherwise, nothing written); without, as it is (in a
    /// transaction when `atomic`).
    pub(crate) fn write<R: Send + 'static>(
        &self,
        fence: Option<&Fence>,
        atomic: bool,
        f: impl FnOnce(&mut Conn) -> Result<R, postgres::Error> + Send + 'static,
    ) -> Result<R, PgError> {
        let Some(fence) = fence.cloned() else {
            if !atomic {
                return self.q(f);
            }
            let target = self.target.clone();
            return self
                .q(move |c| in_transaction(c, |c| f(c).map(Some)))?
                .ok_or_else(|| PgError::Query {
                    target,
                    message: "the write's transaction was rolled back".into(),
                });
        };
        let (account, token) = (fence.account.clone(), fence.token);
        let written = self.q(move |c| {
            in_transaction(c, move |c| {
                let held = c
                    .query_opt(FENCE_CHECK, &[&fence.account, &fence.holder, &fence.token])?
                    .is_some();
                if !held {
                    return Ok(None);
                }
                f(c).map(Some)
            })
        })?;
        written.ok_or(PgError::Fenced { account, token })
    }

    /// Say this replica is alive until `now() + ttl` (registering it the first time).
    pub fn heartbeat(&self, replica: &str, ttl: Duration) -> Result<(), PgError> {
        let (replica, ttl) = (replica.to_string(), millis(ttl));
        self.q(move |c| {
            c.execute(
                "INSERT INTO adsctl_replicas (replica, expires_at) VALUES ($1, now() + $2::bigint * interval '1 millisecond')
                 ON CONFLICT (replica) DO UPDATE SET heartbeat_at = now(), expires_at = EXCLUDED.expires_at",
                &[&replica, &ttl],
            )?;
            // rows of replicas gone for long are of no use to anyone
            c.execute(
                "DELETE FROM adsctl_replicas WHERE expires_at < now() - interval '1 hour'",
                &[],
            )
        })
        .map(|_| ())
    }

    /// The number of replicas alive (their heartbeat unexpired), this one included once it has beaten.
    pub fn live_replicas(&self) -> Result<usize, PgError> {
        let n: i64 = self.q(|c| {
            c.query_one("SELECT count(*) FROM adsctl_replicas WHERE expires_at > now()", &[])
                .map(|r| r.get(0))
        })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// How long until the soonest lease or heartbeat of another replica runs out, if any is unexpired: a replica
    /// that wakes then takes a dead replica's accounts as soon as the database lets it, not at its next round.
    pub fn next_foreign_expiry(&self, replica: &str) -> Result<Option<Duration>, PgError> {
        let replica = replica.to_string();
        let ms: Option<f64> = self.q(move |c| {
            c.query_one(
                "SELECT (EXTRACT(EPOCH FROM (min(t) - now())) * 1000)::float8 FROM (
                     SELECT expires_at AS t FROM adsctl_leases WHERE holder <> $1 AND expires_at > now()
                     UNION ALL
                     SELECT expires_at FROM adsctl_replicas WHERE replica <> $1 AND expires_at > now()) x",
                &[&replica],
            )
            .map(|r| r.get(0))
        })?;
        Ok(ms
            .filter(|m| m.is_finite())
            .map(|m| Duration::from_millis(m.max(0.0) as u64)))
    }

    /// Forget this replica (a graceful shutdown): its leases are given back and the others count one less.
    pub fn deregister(&self, replica: &str) -> Result<(), PgError> {
        let replica = replica.to_string();
        self.q(move |c| {
            in_transaction(c, |c| {
                c.execute("DELETE FROM adsctl_leases WHERE holder = $1", &[&replica])?;
                c.execute("DELETE FROM adsctl_replicas WHERE replica = $1", &[&replica])?;
                Ok(Some(()))
            })
        })
        .map(|_| ())
    }

    /// Take up to `max` of `accounts` whose lease is free or expired, for `ttl`, each with a new fencing token.
    /// Two replicas taking the same lease at once: the row lock of the upsert lets one in, and the other, seeing
    /// it unexpired, takes nothing. Each replica prefers accounts in its own order (a hash of account and
    /// replica), so that replicas starting together rarely reach for the same rows; the rows are then written in
    /// account order, so that two takers lock them in one order and never deadlock.
    pub fn acquire_leases(
        &self,
        replica: &str,
        accounts: &[String],
        max: usize,
        ttl: Duration,
    ) -> Result<Vec<AcquiredLease>, PgError> {
        if max == 0 || accounts.is_empty() {
            return Ok(Vec::new());
        }
        let (replica, accounts, ttl) = (replica.to_string(), accounts.to_vec(), millis(ttl));
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        self.q(move |c| {
            let rows = c.query(
                "WITH wanted AS (
                     SELECT a.account FROM unnest($1::text[]) AS a(account)
                     WHERE NOT EXISTS (
                         SELECT 1 FROM adsctl_leases l WHERE l.account = a.account AND l.expires_at > now())
                     ORDER BY md5(a.account || $2) LIMIT $3)
                 INSERT INTO adsctl_leases AS l (account, holder, token, acquired_at, expires_at)
                 SELECT account, $2, nextval('adsctl_lease_tokens'), now(), now() + $4::bigint * interval '1 millisecond'
                 FROM wanted ORDER BY account
                 ON CONFLICT (account) DO UPDATE
                     SET holder = EXCLUDED.holder, token = EXCLUDED.token, acquired_at = EXCLUDED.acquired_at,
                         expires_at = EXCLUDED.expires_at
                     WHERE l.expires_at <= now()
                 RETURNING account, token",
                &[&accounts, &replica, &max, &ttl],
            )?;
            Ok(rows
                .iter()
                .map(|r| AcquiredLease {
                    account: r.get(0),
                    token: r.get(1),
                })
                .collect())
        })
    }

    /// Extend the leases this replica still holds (unexpired, same token) to `now() + ttl`; returns the accounts
    /// renewed. A lease not among them is lost.
    pub fn renew_leases(&self, replica: &str, held: &[AcquiredLease], ttl: Duration) -> Result<Vec<String>, PgError> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let replica = replica.to_string();
        let accounts: Vec<String> = held.iter().map(|l| l.account.clone()).collect();
        let tokens: Vec<i64> = held.iter().map(|l| l.token).collect();
        let ttl = millis(ttl);
        self.q(move |c| {
            let rows = c.query(
                "UPDATE adsctl_leases l SET expires_at = now() + $4::bigint * interval '1 millisecond'
                 FROM unnest($2::text[], $3::bigint[]) AS h(account, token)
                 WHERE l.account = h.account AND l.token = h.token AND l.holder = $1 AND l.expires_at > now()
                 RETURNING l.account",
                &[&replica, &accounts, &tokens, &ttl],
            )?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    /// Give leases back (only those still held with these tokens).
    pub fn release_leases(&self, replica: &str, leases: &[AcquiredLease]) -> Result<(), PgError> {
        if leases.is_empty() {
            return Ok(());
        }
        let replica = replica.to_string();
        let accounts: Vec<String> = leases.iter().map(|l| l.account.clone()).collect();
        let tokens: Vec<i64> = leases.iter().map(|l| l.token).collect();
        self.q(move |c| {
            c.execute(
                "DELETE FROM adsctl_leases l USING unnest($2::text[], $3::bigint[]) AS h(account, token)
                 WHERE l.account = h.account AND l.token = h.token AND l.holder = $1",
                &[&replica, &accounts, &tokens],
            )
        })
        .map(|_| ())
    }

    /// Every lease, by account.
    pub fn leases(&self) -> Result<Vec<LeaseRow>, PgError> {
        self.q(|c| {
            let rows = c.query(
                "SELECT account, holder, token, expires_at > now() FROM adsctl_leases ORDER BY account",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| LeaseRow {
                    account: r.get(0),
                    holder: r.get(1),
                    token: r.get(2),
                    live: r.get(3),
                })
                .collect())
        })
    }

    /// Every replica known.
    pub fn replicas(&self) -> Result<Vec<ReplicaRow>, PgError> {
        self.q(|c| {
            let rows = c.query(
                "SELECT replica, expires_at > now() FROM adsctl_replicas ORDER BY replica",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| ReplicaRow {
                    replica: r.get(0),
                    live: r.get(1),
                })
                .collect())
        })
    }
}

/// The state for one account's reconcile by a replica: every write checks the replica's lease in its own
/// transaction ([`PgStore::write`]) and is refused once the lease expired or was taken over.
pub struct FencedStore {
    store: Arc<PgStore>,
    fence: Fence,
}

impl FencedStore {
    /// The state as one reconcile under `fence` sees it: reads as they are, every write fenced.
    pub fn new(store: Arc<PgStore>, fence: Fence) -> FencedStore {
        FencedStore { store, fence }
    }

    pub fn fence(&self) -> &Fence {
        &self.fence
    }

    /// Store one day of the metrics series, fenced.
    pub fn day_put(&self, account: &str, level: &str, day: NaiveDate, body: &str) -> Result<(), PgError> {
        self.store.day_put_in(Some(&self.fence), account, level, day, body)
    }

    /// The stored days (a read).
    pub fn days(
        &self,
        account: &str,
        level: &str,
        since: NaiveDate,
        until: NaiveDate,
    ) -> Result<Vec<(NaiveDate, String)>, PgError> {
        self.store.days(account, level, since, until)
    }
}

impl StateStore for FencedStore {
    fn cache_get(&self, account: &str) -> Result<Option<CachedLive>, StateError> {
        self.store.cache_get(account)
    }
    fn cache_put(
        &self,
        account: &str,
        fetched_at: DateTime<Utc>,
        marker: Option<&str>,
        resources: &[Resource],
    ) -> Result<(), StateError> {
        self.store
            .cache_put_in(Some(&self.fence), account, fetched_at, marker, resources)
    }
    fn entries(&self, account: Option<&str>) -> Result<Vec<StateEntry>, StateError> {
        self.store.entries_of(account)
    }
    fn entry(&self, address: &Address) -> Result<Option<StateEntry>, StateError> {
        self.store.entry_at(address)
    }
    fn put_entry(&self, entry: &StateEntry) -> Result<(), StateError> {
        self.store.put_entry_in(Some(&self.fence), entry)
    }
    fn remove_entry(&self, address: &Address) -> Result<bool, StateError> {
        self.store.remove_entry_in(Some(&self.fence), address)
    }
    fn journal_add(&self, intents: &[Intent]) -> Result<Vec<u64>, StateError> {
        self.store.journal_add_in(Some(&self.fence), intents)
    }
    fn journal_pending(&self, account: Option<&str>) -> Result<Vec<(u64, Intent)>, StateError> {
        self.store.journal_pending_of(account)
    }
    fn journal_resolve(&self, key: u64) -> Result<(), StateError> {
        self.store.journal_resolve_in(Some(&self.fence), key)
    }
    fn record_apply(&self, entry: &ApplyRecord) -> Result<(), StateError> {
        self.store.record_apply_in(Some(&self.fence), entry)
    }
    fn apply_records(&self) -> Result<Vec<ApplyRecord>, StateError> {
        self.store.apply_records_all()
    }
    fn flush(&self) -> Result<(), StateError> {
        Ok(())
    }
}
