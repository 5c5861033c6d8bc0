//! An in-memory ad platform: the engine's test double and an offline sandbox backend
//! (`ADSCTL_BACKEND=memory:FILE` keeps it in a JSON file between runs).
//!
//! It behaves like a platform where it matters to the engine: ids are assigned on create, parents and
//! references must exist, creates attach the ownership marker, removals cascade to children, write-only fields
//! are accepted but never read back, batches run in order with `IdRef::Pending` resolved from earlier results,
//! and one operation's failure does not stop the others. It allows duplicate names on purpose, so that a
//! duplicate created by the engine is visible. Faults (failing addresses, a crash at the k-th operation) are
//! injectable for the executor's tests.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::connectors::{
    ApplyBatch, Capabilities, Connector, ConnectorError, DateRange, Health, IdRef, Lease, LeaseOutcome, LiveSnapshot,
    MetricRow, MetricsLevel, OpAction, OpError, OpOutcome, ReadRequest, NAME_FIELD,
};
use crate::model::{Account, Kind, Platform, Resource, Value};

/// When an injected crash happens relative to the k-th operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashPoint {
    /// The operation is never committed.
    #[default]
    BeforeCommit,
    /// Committed, but the response is lost.
    AfterCommit,
    /// A create is committed without its ownership marker (the marker is a second write on real platforms).
    BeforeMarker,
}

/// How an injected crash ends things.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashStyle {
    /// Panic the task applying (in-process tests).
    #[default]
    Panic,
    /// Abort the whole process (binary tests).
    Abort,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faults {
    /// Operations on these addresses (string form) fail with code `SIMULATED_FAILURE`.
    #[serde(default)]
    pub fail_addresses: Vec<String>,
    /// Crash at this operation number (counting every operation the platform ever received, from 0).
    #[serde(default)]
    pub crash_at_op: Option<u64>,
    #[serde(default)]
    pub crash_point: CrashPoint,
    #[serde(default)]
    pub crash_style: CrashStyle,
    /// Commit operations up to and including this one, then fail the whole request as if the response was
    /// lost in transit (the caller cannot know what was applied).
    #[serde(default)]
    pub lose_response_at_op: Option<u64>,
    /// The next read leaves out the objects at these addresses (string form), once: a read that lags behind
    /// writes the platform has made.
    #[serde(default)]
    pub hide_in_next_read: Vec<String>,
    /// When a response is lost, the next read leaves out what that request created (it lags behind it).
    #[serde(default)]
    pub lag_after_lost_response: bool,
    /// The request holding this operation (counted like `crash_at_op`) is answered with a server error, and
    /// nothing of it is done.
    #[serde(default)]
    pub server_error_at_op: Option<u64>,
}

/// Tunable capabilities (to exercise batching).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryCaps {
    pub max_ops_per_request: usize,
    pub creates_children_in_one_request: bool,
}

impl Default for MemoryCaps {
    fn default() -> Self {
        MemoryCaps {
            max_ops_per_request: 100,
            creates_children_in_one_request: true,
        }
    }
}

/// Everything the platform holds (the JSON file's content).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MemoryData {
    /// Live objects per account name, write-only fields included.
    #[serde(default)]
    pub accounts: BTreeMap<String, Vec<Resource>>,
    #[serde(default)]
    pub next_id: u64,
    /// Operations received so far (applied or not).
    #[serde(default)]
    pub ops_seen: u64,
    #[serde(default)]
    pub faults: Faults,
    #[serde(default)]
    pub capabilities: MemoryCaps,
    /// Apply leases per account name.
    #[serde(default)]
    pub leases: BTreeMap<String, Lease>,
}

pub struct MemoryConnector {
    platform: Platform,
    data: Arc<Mutex<MemoryData>>,
    file: Option<PathBuf>,
}

fn simulated(code: &str, message: String) -> OpOutcome {
    OpOutcome::Failed(OpError {
        code: code.into(),
        message,
        field: None,
        hint: None,
    })
}

fn has_negative_money(v: &Value) -> bool {
    match v {
        Value::Money(m) => m.micros() < 0,
        Value::List(xs) => xs.iter().any(has_negative_money),
        Value::Set(xs) => xs.iter().any(has_negative_money),
        Value::Map(m) => m.values().any(has_negative_money),
        _ => false,
    }
}

/// The id of the `n`th object the sandbox makes, as the platform it stands in for spells ids (`Home::sandbox_id`).
fn memory_id(platform: Platform, kind: Kind, n: u64) -> String {
    match super::home(platform) {
        Some(h) => h.sandbox_id(kind, n),
        None => (9_000_000_000 + n).to_string(),
    }
}

impl MemoryConnector {
    pub fn new(platform: Platform) -> MemoryConnector {
        MemoryConnector {
            platform,
            data: Arc::new(Mutex::new(MemoryData::default())),
            file: None,
        }
    }

    /// Another view of the same platform data for another platform name.
    pub fn sibling(&self, platform: Platform) -> MemoryConnector {
        MemoryConnector {
            platform,
            data: self.data.clone(),
            file: self.file.clone(),
        }
    }

    /// Backed by a JSON file (created on first write).
    pub fn open_file(platform: Platform, path: &Path) -> Result<MemoryConnector, ConnectorError> {
        let c = MemoryConnector {
            platform,
            data: Arc::new(Mutex::new(MemoryData::default())),
            file: Some(path.to_path_buf()),
        };
        drop(c.reloaded()?);
        Ok(c)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryData> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The data, read again from the file (when there is one) under the lock that the change after it is made
    /// under: accounts applied in parallel share the data, and a read outside the lock could bring back what
    /// another account's release had just removed.
    fn reloaded(&self) -> Result<std::sync::MutexGuard<'_, MemoryData>, ConnectorError> {
        let mut guard = self.lock();
        let Some(path) = &self.file else { return Ok(guard) };
        let data = match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| ConnectorError::Config(format!("memory backend {}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => MemoryData::default(),
            Err(e) => {
                return Err(ConnectorError::Config(format!(
                    "memory backend {}: {e}",
                    path.display()
                )))
            }
        };
        *guard = data;
        Ok(guard)
    }

    fn persist(&self, data: &MemoryData) -> Result<(), ConnectorError> {
        let Some(path) = &self.file else { return Ok(()) };
        let text =
            serde_json::to_string_pretty(data).map_err(|e| ConnectorError::Config(format!("memory backend: {e}")))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| ConnectorError::Config(format!("memory backend {}: {e}", path.display())))
    }

    /// Everything live in an account, write-only fields included (for tests).
    pub fn snapshot(&self, account: &str) -> Vec<Resource> {
        self.lock().accounts.get(account).cloned().unwrap_or_default()
    }

    /// Put an object on the platform as if made in its UI (gets an id if it has none). Returns the id.
    pub fn insert(&self, account: &str, mut r: Resource) -> String {
        let mut d = self.lock();
        let id = match &r.id {
            Some(id) => id.clone(),
            None => {
                d.next_id += 1;
                memory_id(self.platform, r.kind, d.next_id)
            }
        };
        r.id = Some(id.clone());
        d.accounts.entry(account.to_string()).or_default().push(r);
        id
    }

    /// Change one field of a live object as if someone edited it in the platform's UI. False if not found.
    pub fn edit(&self, account: &str, id: &str, field: &str, value: Value) -> bool {
        let mut d = self.lock();
        let found = d
            .accounts
            .get_mut(account)
            .and_then(|rs| rs.iter_mut().find(|r| r.id.as_deref() == Some(id)));
        match found {
            Some(r) => {
                r.fields.insert(field.to_string(), value);
                true
            }
            None => false,
        }
    }

    /// Take adsctl's ownership marker off a live object (as if someone removed the label in the UI, or a killed
    /// apply made it without). False if not found.
    pub fn unmark(&self, account: &str, id: &str) -> bool {
        let mut d = self.lock();
        match d
            .accounts
            .get_mut(account)
            .and_then(|rs| rs.iter_mut().find(|r| r.id.as_deref() == Some(id)))
        {
            Some(r) => {
                r.owned = false;
                true
            }
            None => false,
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    pub fn set_capabilities(&self, caps: MemoryCaps) {
        self.lock().capabilities = caps;
    }

    /// Operations received so far.
    pub fn ops_seen(&self) -> u64 {
        self.lock().ops_seen
    }

    fn run(&self, account: &Account, batch: &ApplyBatch, dry_run: bool) -> Result<Vec<OpOutcome>, ConnectorError> {
        let mut guard = self.lock();
        let mut scratch;
        let d: &mut MemoryData = if dry_run {
            scratch = guard.clone();
            &mut scratch
        } else {
            &mut guard
        };
        if let Some(k) = d.faults.server_error_at_op.filter(|_| !dry_run) {
            let first = d.ops_seen;
            if (first..first + batch.ops.len() as u64).contains(&k) {
                d.faults.server_error_at_op = None;
                d.ops_seen += batch.ops.len() as u64;
                self.persist(d)?;
                return Err(ConnectorError::Api {
                    platform: "memory",
                    code: "UNAVAILABLE".into(),
                    message: "the service is currently unavailable".into(),
                    hint: None,
                });
            }
        }
        let mut out: Vec<OpOutcome> = Vec::with_capacity(batch.ops.len());
        let paused = self.platform_capabilities().paused_status;
        let index = |live: &[Resource]| -> HashMap<String, usize> {
            live.iter()
                .enumerate()
                .filter_map(|(i, r)| r.id.clone().map(|id| (id, i)))
                .collect()
        };
        let mut idx = index(d.accounts.get(&account.name).map(Vec::as_slice).unwrap_or_default());
        let mut created: Vec<String> = Vec::new();
        for op in &batch.ops {
            let crash = if dry_run {
                None
            } else {
                let n = d.ops_seen;
                d.ops_seen += 1;
                (d.faults.crash_at_op == Some(n)).then(|| {
                    d.faults.crash_at_op = None;
                    (d.faults.crash_point, d.faults.crash_style)
                })
            };
            if let Some((CrashPoint::BeforeCommit, style)) = crash {
                self.persist(d)?;
                drop(guard);
                crash_now(style, &op.address.to_string());
            }
            let resolve = |r: &IdRef,
                           out: &[OpOutcome],
                           live: &[Resource],
                           idx: &HashMap<String, usize>|
             -> Result<Resource, String> {
                let id = match r {
                    IdRef::Known(id) => id.clone(),
                    IdRef::Pending(i) => match out.get(*i) {
                        Some(OpOutcome::Applied { id }) => id.clone(),
                        _ => return Err(format!("operation {i} of this batch did not create anything")),
                    },
                };
                idx.get(&id)
                    .and_then(|i| live.get(*i))
                    .cloned()
                    .ok_or_else(|| format!("no object with id {id}"))
            };
            let live = d.accounts.entry(account.name.clone()).or_default();
            let outcome = (|| {
                if d.faults.fail_addresses.iter().any(|a| *a == op.address.to_string()) {
                    return simulated("SIMULATED_FAILURE", format!("{}: injected failure", op.address));
                }
                let pending_failed =
                    op.parent.iter().chain(op.refs.values()).any(
                        |r| matches!(r, IdRef::Pending(i) if !matches!(out.get(*i), Some(OpOutcome::Applied { .. }))),
                    );
                if pending_failed {
                    return OpOutcome::Skipped {
                        reason: "an operation it depends on in this batch failed".into(),
                    };
                }
                let parent = match &op.parent {
                    Some(p) => match resolve(p, &out, live, &idx) {
                        Ok(p) => Some(p),
                        Err(m) => return simulated("PARENT_NOT_FOUND", m),
                    },
                    None => None,
                };
                for r in op.refs.values() {
                    if let Err(m) = resolve(r, &out, live, &idx) {
                        return simulated("REFERENCE_NOT_FOUND", m);
                    }
                }
                let find = |_: &[Resource], id: &str| idx.get(id).copied();
                match &op.action {
                    OpAction::Create { fields } => {
                        if fields.values().any(has_negative_money) {
                            return simulated(
                                "INVALID_AMOUNT",
                                format!("{}: amounts must not be negative", op.address),
                            );
                        }
                        d.next_id += 1;
                        let id = memory_id(self.platform, op.kind, d.next_id);
                        let mut address = op.address.clone();
                        if let (Some(p), Some(last)) = (&parent, op.address.path.last()) {
                            address = p.address.clone();
                            address.path.push(last.clone());
                        }
                        let mut r = Resource::new(address, op.kind);
                        r.id = Some(id.clone());
                        r.fields = fields.clone().into();
                        r.owned = !matches!(crash, Some((CrashPoint::BeforeMarker, _)));
                        if op.kind == Kind::Ad {
                            r.observed.insert("effective_status", "pending_review".into());
                        }
                        idx.insert(id.clone(), live.len());
                        created.push(r.address.to_string());
                        live.push(r);
                        OpOutcome::Applied { id }
                    }
                    OpAction::Update { id, set, .. } => {
                        if set.values().any(has_negative_money) {
                            return simulated(
                                "INVALID_AMOUNT",
                                format!("{}: amounts must not be negative", op.address),
                            );
                        }
                        let Some(i) = find(live, id) else {
                            return simulated("NOT_FOUND", format!("no object with id {id}"));
                        };
                        for (k, v) in set.iter().filter(|(k, _)| k.as_str() != NAME_FIELD) {
                            live[i].fields.insert(k.clone(), v.clone());
                        }
                        if set.contains_key(NAME_FIELD) {
                            // renamed: it and everything below it are under the operation's (new) address
                            let from = live[i].address.clone();
                            for o in live.iter_mut().filter(|o| o.address.is_within(&from)) {
                                let mut a = op.address.clone();
                                a.path.extend(o.address.path[from.path.len()..].iter().cloned());
                                o.address = a;
                            }
                        }
                        OpOutcome::Applied { id: id.clone() }
                    }
                    OpAction::Adopt { id } => {
                        let Some(i) = find(live, id) else {
                            return simulated("NOT_FOUND", format!("no object with id {id}"));
                        };
                        live[i].owned = true;
                        OpOutcome::Applied { id: id.clone() }
                    }
                    OpAction::Pause { id } => {
                        let Some(i) = find(live, id) else {
                            return simulated("NOT_FOUND", format!("no object with id {id}"));
                        };
                        live[i].fields.insert("status", Value::str(paused));
                        OpOutcome::Applied { id: id.clone() }
                    }
                    OpAction::Remove { id } => {
                        let Some(i) = find(live, id) else {
                            return simulated("NOT_FOUND", format!("no object with id {id}"));
                        };
                        let gone = live[i].address.clone();
                        let gone_id = id.clone();
                        live.retain(|x| {
                            x.id.as_deref() != Some(gone_id.as_str())
                                && !(x.address.is_within(&gone) && x.address != gone)
                        });
                        idx = index(live);
                        OpOutcome::Applied { id: id.clone() }
                    }
                }
            })();
            let outcome = match (dry_run, outcome) {
                (true, OpOutcome::Applied { .. }) => OpOutcome::Valid,
                (_, o) => o,
            };
            out.push(outcome);
            if let Some((_, style)) = crash {
                self.persist(d)?;
                drop(guard);
                crash_now(style, &op.address.to_string());
            }
            if !dry_run && d.faults.lose_response_at_op == Some(d.ops_seen - 1) {
                d.faults.lose_response_at_op = None;
                if d.faults.lag_after_lost_response {
                    d.faults.hide_in_next_read.extend(created);
                }
                self.persist(d)?;
                return Err(ConnectorError::Transport {
                    url: "memory".into(),
                    message: "connection reset before the response arrived".into(),
                });
            }
        }
        if !dry_run {
            self.persist(d)?;
        }
        Ok(out)
    }
}

fn crash_now(style: CrashStyle, at: &str) -> ! {
    match style {
        CrashStyle::Panic => panic!("memory backend: injected crash at {at}"),
        CrashStyle::Abort => {
            eprintln!("memory backend: injected crash at {at}");
            std::process::abort()
        }
    }
}

#[async_trait]
impl Connector for MemoryConnector {
    fn platform(&self) -> Platform {
        self.platform
    }

    fn capabilities(&self) -> Capabilities {
        let caps = self.lock().capabilities.clone();
        // The platform's own capabilities (ownership markers, immutable, swapped and write-only fields), with the
        // sandbox's request size.
        let mut c = self.platform_capabilities();
        c.max_ops_per_request = caps.max_ops_per_request;
        c.creates_children_in_one_request = caps.creates_children_in_one_request;
        c.ordered_requests = caps.creates_children_in_one_request;
        c
    }

    async fn read(&self, account: &Account, _req: &ReadRequest) -> Result<LiveSnapshot, ConnectorError> {
        let mut d = self.reloaded()?;
        let write_only = self.platform_capabilities().write_only_fields;
        let hidden = std::mem::take(&mut d.faults.hide_in_next_read);
        let resources = d
            .accounts
            .get(&account.name)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| !hidden.contains(&r.address.to_string()))
            .map(|mut r| {
                // Like the real platforms, only a fingerprint of what was written comes back.
                if let Some(fs) = write_only.get(&r.kind) {
                    for f in fs {
                        if let Some(v) = r.fields.remove(f) {
                            r.observed
                                .insert(crate::model::fingerprint_key(f), crate::model::value_fingerprint(&v));
                        }
                    }
                }
                r
            })
            .collect();
        // Reviews finish between reads: a new ad is `pending_review` once, then `active`.
        let mut reviewed = false;
        for r in d.accounts.get_mut(&account.name).into_iter().flatten() {
            if let Some(s) = r
                .observed
                .get_mut("effective_status")
                .filter(|s| *s == "pending_review")
            {
                *s = "active".into();
                reviewed = true;
            }
        }
        if reviewed || !hidden.is_empty() {
            self.persist(&d)?;
        }
        Ok(LiveSnapshot {
            resources,
            removed_ids: Vec::new(),
            complete: true,
            marker: Some(d.ops_seen.to_string()),
        })
    }

    async fn apply(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        self.run(account, batch, false)
    }

    async fn validate(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
        self.run(account, batch, true)
    }

    async fn health(&self, _account: &Account) -> Result<Health, ConnectorError> {
        Ok(Health {
            ok: true,
            detail: match &self.file {
                Some(p) => format!("memory backend in {}", p.display()),
                None => "memory backend".into(),
            },
        })
    }

    async fn acquire_lease(
        &self,
        account: &Account,
        holder: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
        take_over: Option<&str>,
    ) -> Result<LeaseOutcome, ConnectorError> {
        let mut d = self.reloaded()?;
        if let Some(l) = d.leases.get(&account.name) {
            if l.expires_at > chrono::Utc::now() && l.holder != holder && Some(l.holder.as_str()) != take_over {
                return Ok(LeaseOutcome::Held {
                    holder: l.holder.clone(),
                    expires_at: l.expires_at,
                });
            }
        }
        d.next_id += 1;
        let lease = Lease {
            holder: holder.to_string(),
            expires_at,
            token: format!("lease{}", d.next_id),
        };
        d.leases.insert(account.name.clone(), lease.clone());
        self.persist(&d)?;
        Ok(LeaseOutcome::Acquired(lease))
    }

    async fn renew_lease(
        &self,
        account: &Account,
        lease: &Lease,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ConnectorError> {
        let mut d = self.reloaded()?;
        match d.leases.get_mut(&account.name) {
            Some(l) if l.token == lease.token => {
                l.expires_at = expires_at;
                self.persist(&d)
            }
            _ => Err(ConnectorError::Config(format!(
                "account `{}`: the apply lease was lost",
                account.name
            ))),
        }
    }

    async fn release_lease(&self, account: &Account, lease: &Lease) -> Result<(), ConnectorError> {
        let mut d = self.reloaded()?;
        if d.leases.get(&account.name).is_some_and(|l| l.token == lease.token) {
            d.leases.remove(&account.name);
            self.persist(&d)?;
        }
        Ok(())
    }

    /// The sandbox has no traffic: no metrics.
    async fn metrics(
        &self,
        _account: &Account,
        _level: MetricsLevel,
        _range: DateRange,
    ) -> Result<Vec<MetricRow>, ConnectorError> {
        Ok(Vec::new())
    }
}

impl MemoryConnector {
    /// The capabilities of the platform this sandbox stands in for, from the platform registry.
    fn platform_capabilities(&self) -> Capabilities {
        match crate::platforms::home(self.platform) {
            Some(home) => home.capabilities(),
            None => Capabilities {
                max_ops_per_request: 1,
                creates_children_in_one_request: false,
                ordered_requests: false,
                marked_kinds: Vec::new(),
                immutable_fields: BTreeMap::new(),
                swapped_fields: BTreeMap::new(),
                write_only_fields: BTreeMap::new(),
                renamable_kinds: Vec::new(),
                paused_status: "paused",
                settled_statuses: &[],
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::MemoryConnector;
    use crate::apply::lease::{acquire, LeaseError};
    use crate::apply::Target;
    use crate::model::{Account, Currency, Guardrails, Platform, RemovalPolicy};

    fn target(connector: &Arc<MemoryConnector>) -> Target {
        Target {
            account: Account {
                name: "acme".into(),
                platform: Platform::GoogleAds,
                platform_id: "1234567890".into(),
                login_customer_id: None,
                currency: Currency::from_code("USD").unwrap(),
                time_zone: None,
                on_removed: RemovalPolicy::Pause,
                guardrails: Guardrails::default(),
                endpoint: None,
            },
            connector: connector.clone(),
        }
    }

    /// A lease this process holds is not taken by its own second apply; one it failed to give back (the daemon's
    /// release refused by a full disk or a platform error) does not block its next apply until it expires.
    #[tokio::test]
    async fn this_process_takes_over_only_the_leases_it_failed_to_give_back() {
        let mem = Arc::new(MemoryConnector::new(Platform::GoogleAds));
        let first = acquire(vec![target(&mem)], Duration::ZERO, &|_| {}).await.unwrap();
        let second = acquire(vec![target(&mem)], Duration::ZERO, &|_| {}).await;
        assert!(
            matches!(second, Err(LeaseError::Held { .. })),
            "held by a live apply of this process"
        );
        // the lease stays on the platform, but this process no longer holds it (as after a failed release)
        drop(first);
        let third = acquire(vec![target(&mem)], Duration::ZERO, &|_| {}).await.unwrap();
        assert_eq!(third.accounts().collect::<Vec<_>>(), ["acme"]);
        third.release().await;
    }
}
