//! The supervisor loop and the per-account workers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::backoff::BackoffPolicy;
use super::lease::Leases;
use super::status::StatusHub;
use super::watcher::{self, WatchError};
use super::{Mode, Reconciler};
use crate::spec::Project;

/// How the daemon runs.
#[derive(Clone, Debug)]
pub struct DaemonConfig {
    /// The config directory (watched when `watch_files`).
    pub dir: PathBuf,
    /// Reconcile every account at least this often.
    pub interval: Duration,
    pub mode: Mode,
    /// Quiet period after the last file change before reloading.
    pub debounce: Duration,
    pub backoff: BackoffPolicy,
    /// On shutdown, how long a reconcile in flight may take to finish before it is stopped.
    pub shutdown_grace: Duration,
    pub watch_files: bool,
    /// Share the accounts with other replicas on the same PostgreSQL state: only the accounts whose lease this
    /// replica holds get a worker (`None`: every account of the config).
    pub leases: Option<Arc<Leases>>,
    /// At most this many reconciles in flight at once (`None`: no limit). A worker waits for a turn before it
    /// takes its account's lease for the reconcile, so a waiting account can still be given back to another
    /// replica, and the platforms' request budgets go to reconciles that finish rather than to many that wait.
    pub concurrency: Option<Arc<tokio::sync::Semaphore>>,
}

impl DaemonConfig {
    pub fn new(dir: impl Into<PathBuf>) -> DaemonConfig {
        DaemonConfig {
            dir: dir.into(),
            interval: Duration::from_secs(300),
            mode: Mode::Apply,
            debounce: Duration::from_millis(300),
            backoff: BackoffPolicy::default(),
            shutdown_grace: Duration::from_secs(30),
            watch_files: true,
            leases: None,
            concurrency: None,
        }
    }
}

/// Messages to the supervisor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Reload the config directory (sent by the file watcher).
    Reload,
    /// Reconcile one account (or all) now.
    ReconcileNow(Option<String>),
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Watch(#[from] WatchError),
}

impl DaemonError {
    pub fn hint(&self) -> &'static str {
        match self {
            DaemonError::Watch(_) => {
                "check that the directory exists and is readable; raise fs.inotify.max_user_watches if it is large"
            }
        }
    }
}

/// A handle to talk to a running daemon.
#[derive(Clone)]
pub struct DaemonHandle {
    pub commands: mpsc::Sender<Command>,
    pub hub: Arc<StatusHub>,
}

pub struct Daemon<R: Reconciler> {
    reconciler: Arc<R>,
    config: DaemonConfig,
    hub: Arc<StatusHub>,
    commands_tx: mpsc::Sender<Command>,
    commands_rx: mpsc::Receiver<Command>,
}

struct Worker {
    trigger: mpsc::Sender<()>,
    cancel: CancellationToken,
    join: JoinHandle<()>,
}

impl<R: Reconciler> Daemon<R> {
    pub fn new(reconciler: Arc<R>, config: DaemonConfig) -> Daemon<R> {
        let hub = Arc::new(StatusHub::new(config.mode, config.interval));
        let (commands_tx, commands_rx) = mpsc::channel(64);
        Daemon {
            reconciler,
            config,
            hub,
            commands_tx,
            commands_rx,
        }
    }

    pub fn hub(&self) -> Arc<StatusHub> {
        self.hub.clone()
    }

    pub fn handle(&self) -> DaemonHandle {
        DaemonHandle {
            commands: self.commands_tx.clone(),
            hub: self.hub.clone(),
        }
    }

    /// Run until `shutdown` is cancelled; then let every reconcile in flight finish (within the grace period)
    /// and call [`Reconciler::shutdown`].
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), DaemonError> {
        let Daemon {
            reconciler,
            config,
            hub,
            commands_tx,
            mut commands_rx,
        } = self;
        // With leases the replica is ready once it is registered (the lease task says so at every round).
        hub.set_state_open(reconciler.state_ready() && config.leases.is_none());
        let lease_stop = CancellationToken::new();
        let (lease_task, mut held) = match &config.leases {
            Some(l) => {
                hub.set_replica(super::status::ReplicaInfo {
                    id: l.replica().to_string(),
                    lease_seconds: l.lease().as_secs_f64(),
                    live_replicas: 0,
                    accounts_held: 0,
                });
                (
                    Some(tokio::spawn(l.clone().run(hub.clone(), lease_stop.clone()))),
                    Some(l.held()),
                )
            }
            None => (None, None),
        };
        let workers_cancel = CancellationToken::new();
        let _watcher = if config.watch_files {
            Some(watcher::spawn(
                &config.dir,
                config.debounce,
                commands_tx.clone(),
                workers_cancel.clone(),
            )?)
        } else {
            None
        };
        drop(commands_tx);
        let (desired_tx, _) = watch::channel::<Option<Arc<Project>>>(None);
        let mut sup = Supervisor {
            reconciler: reconciler.clone(),
            config: config.clone(),
            hub: hub.clone(),
            desired: desired_tx,
            fingerprint: None,
            account_fingerprints: BTreeMap::new(),
            workers: BTreeMap::new(),
            parent_cancel: workers_cancel.clone(),
            reload_failures: 0,
            reload_at: None,
            last_error: None,
        };
        sup.reload().await;
        tracing::info!(dir = %config.dir.display(), mode = config.mode.as_str(), interval = ?config.interval, "watching");
        // The config is also read on the interval and compared by content: an edit whose file event was lost
        // (or with `--no-file-watch`) is picked up within one interval.
        let mut resync = tokio::time::interval_at(Instant::now() + config.interval, config.interval);
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Without a file watcher nobody else sends commands; the daemon runs until `shutdown` all the same.
        let mut commands_open = true;
        loop {
            let retry_at = sup.reload_at;
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                cmd = commands_rx.recv(), if commands_open => match cmd {
                    Some(Command::Reload) => sup.reload().await,
                    Some(Command::ReconcileNow(None)) => sup.trigger_all(),
                    Some(Command::ReconcileNow(Some(a))) => sup.trigger(&a),
                    None => commands_open = false,
                },
                _ = tokio::time::sleep_until(retry_at.unwrap_or_else(Instant::now)), if retry_at.is_some() => {
                    sup.reload().await
                }
                _ = resync.tick() => sup.reload().await,
                changed = async {
                    match held.as_mut() {
                        Some(h) => h.changed().await,
                        None => std::future::pending().await,
                    }
                } => {
                    if changed.is_err() {
                        held = None;
                    } else {
                        sup.sync_current();
                    }
                }
            }
        }
        tracing::info!("shutting down: letting reconciles in flight finish");
        hub.set_shutting_down();
        workers_cancel.cancel();
        for (name, w) in std::mem::take(&mut sup.workers) {
            if let Err(e) = w.join.await {
                tracing::error!(account = %name, error = %e, "worker ended abnormally");
            }
        }
        // The leases are renewed until the last reconcile ended, then given back at once.
        lease_stop.cancel();
        if let Some(t) = lease_task {
            let _ = t.await;
        }
        if let Some(l) = &config.leases {
            l.clone().leave().await;
        }
        reconciler.shutdown().await;
        hub.set_state_open(false);
        tracing::info!("stopped");
        Ok(())
    }
}

struct Supervisor<R: Reconciler> {
    reconciler: Arc<R>,
    config: DaemonConfig,
    hub: Arc<StatusHub>,
    desired: watch::Sender<Option<Arc<Project>>>,
    fingerprint: Option<[u8; 32]>,
    account_fingerprints: BTreeMap<String, [u8; 32]>,
    workers: BTreeMap<String, Worker>,
    parent_cancel: CancellationToken,
    /// Reloads that failed in a row, and when to read the directory again (a failed reload is always retried:
    /// the edit that would fix it may have come with the event that failed).
    reload_failures: u32,
    reload_at: Option<Instant>,
    /// The last failure said, so that a retry failing the same way is not said again.
    last_error: Option<String>,
}

/// Reading the directory again after it could not be read (out of file descriptors, a file being replaced).
const READ_RETRY: BackoffPolicy = BackoffPolicy {
    base: Duration::from_millis(500),
    max: Duration::from_secs(30),
    jitter: true,
};

/// Reading an invalid config again, in case the edit that failed was read half-written and its last event lost.
const INVALID_RETRY: BackoffPolicy = BackoffPolicy {
    base: Duration::from_secs(2),
    max: Duration::from_secs(60),
    jitter: true,
};

/// A digest of what the daemon reconciles towards: a reload that changes nothing triggers nothing.
fn digest<T: serde::Serialize>(doc: &T) -> [u8; 32] {
    let mut h = Sha256::new();
    match serde_json::to_vec(doc) {
        Ok(bytes) => h.update(&bytes),
        // Cannot happen for these types; make every load look new rather than never reconciling.
        Err(_) => h.update(fastrand::u64(..).to_le_bytes()),
    }
    h.finalize().into()
}

fn fingerprint(p: &Project) -> [u8; 32] {
    digest(&(&p.accounts, &p.resources))
}

/// What one account reconciles towards: its settings and the resources addressed to it.
fn account_fingerprint(p: &Project, name: &str) -> [u8; 32] {
    let resources: Vec<_> = p.resources.iter().filter(|r| r.address.account == name).collect();
    digest(&(p.accounts.get(name), resources))
}

impl<R: Reconciler> Supervisor<R> {
    async fn reload(&mut self) {
        self.reload_at = None;
        match self.reconciler.load().await {
            Ok(project) => {
                if self.reload_failures > 0 {
                    tracing::info!(failed = self.reload_failures, "config read again after failed reloads");
                }
                self.reload_failures = 0;
                self.last_error = None;
                // Compared by content with the last good config, whatever the events in between.
                let fp = fingerprint(&project);
                let changed = self.fingerprint != Some(fp);
                self.hub.config_loaded(changed);
                if !changed {
                    tracing::debug!("config reloaded, unchanged");
                    return;
                }
                self.fingerprint = Some(fp);
                tracing::info!(
                    accounts = project.accounts.len(),
                    resources = project.resources.len(),
                    "config loaded"
                );
                let project = Arc::new(project);
                self.hub.set_project(project.clone());
                self.desired.send_replace(Some(project.clone()));
                self.sync_workers(&project);
            }
            Err(e) => {
                self.reload_failures = self.reload_failures.saturating_add(1);
                let policy = if e.io { READ_RETRY } else { INVALID_RETRY };
                let delay = policy.delay(self.reload_failures);
                self.reload_at = Some(Instant::now() + delay);
                let said = format!("{e} {:?}", e.diagnostics);
                let repeat = self.last_error.as_deref() == Some(said.as_str());
                self.last_error = Some(said);
                if e.io {
                    if !repeat {
                        tracing::warn!(error = %e, diagnostics = ?e.diagnostics, retry_in_ms = delay.as_millis() as u64, "cannot read the config directory: keeping the last good config, reading it again");
                    }
                    let retry_at = chrono::Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                    self.hub.config_read_failed(&e, retry_at);
                } else {
                    if !repeat {
                        tracing::error!(error = %e, diagnostics = ?e.diagnostics, "invalid config: keeping the last good one, nothing of it is applied");
                    }
                    self.hub.config_failed(&e);
                }
            }
        }
    }

    /// The workers again for the last good config (the leases held changed).
    fn sync_current(&mut self) {
        let project = self.desired.borrow().clone();
        if let Some(project) = project {
            self.sync_workers(&project);
        }
    }

    fn sync_workers(&mut self, project: &Project) {
        // With leases, only the accounts held get a worker.
        let held = self.config.leases.as_ref().map(|l| {
            l.set_accounts(project.accounts.keys().cloned().collect());
            l.held().borrow().clone()
        });
        let runs = |name: &String| held.as_ref().is_none_or(|h| h.contains(name));
        let gone: Vec<String> = self
            .account_fingerprints
            .keys()
            .filter(|k| !project.accounts.contains_key(*k) || !runs(k))
            .cloned()
            .collect();
        for name in gone {
            if let Some(w) = self.workers.remove(&name) {
                if project.accounts.contains_key(&name) {
                    tracing::info!(account = %name, "lease no longer held: stopping the account's worker");
                } else {
                    tracing::info!(account = %name, "account removed from the config: stopping its worker");
                }
                w.cancel.cancel();
                // It finishes its reconcile in flight on its own.
                drop(w.join);
            }
            self.account_fingerprints.remove(&name);
            self.hub.remove_account(&name);
        }
        for (name, account) in project.accounts.iter().filter(|(n, _)| runs(n)) {
            self.hub.register_account(account);
            let fp = account_fingerprint(project, name);
            let changed = self.account_fingerprints.insert(name.clone(), fp) != Some(fp);
            // A worker that ended (its lease was lost before a reconcile) is started again.
            if self.workers.get(name).is_some_and(|w| w.join.is_finished()) {
                self.workers.remove(name);
            }
            match self.workers.get(name) {
                Some(w) => {
                    if changed {
                        // Full channel means a reconcile is already queued: coalesce.
                        let _ = w.trigger.try_send(());
                    }
                }
                None => {
                    let w = self.spawn_worker(name.clone());
                    self.workers.insert(name.clone(), w);
                }
            }
        }
    }

    fn trigger(&self, name: &str) {
        if let Some(w) = self.workers.get(name) {
            let _ = w.trigger.try_send(());
        }
    }

    fn trigger_all(&self) {
        for w in self.workers.values() {
            let _ = w.trigger.try_send(());
        }
    }

    fn spawn_worker(&self, name: String) -> Worker {
        let (trigger, trigger_rx) = mpsc::channel(1);
        let cancel = self.parent_cancel.child_token();
        let ctx = WorkerCtx {
            name,
            reconciler: self.reconciler.clone(),
            desired: self.desired.subscribe(),
            hub: self.hub.clone(),
            config: self.config.clone(),
            cancel: cancel.clone(),
        };
        let join = tokio::spawn(ctx.run(trigger_rx));
        Worker { trigger, cancel, join }
    }
}

struct WorkerCtx<R: Reconciler> {
    name: String,
    reconciler: Arc<R>,
    desired: watch::Receiver<Option<Arc<Project>>>,
    hub: Arc<StatusHub>,
    config: DaemonConfig,
    cancel: CancellationToken,
}

impl<R: Reconciler> WorkerCtx<R> {
    /// One account's loop: wait for the timer or a trigger, reconcile, schedule the next run. Sequential by
    /// construction, so one account is never reconciled twice at once.
    async fn run(self, mut trigger: mpsc::Receiver<()>) {
        let mut next = Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return,
                _ = tokio::time::sleep_until(next) => {}
                t = trigger.recv() => if t.is_none() { return },
            }
            while trigger.try_recv().is_ok() {}
            let project = self.desired.borrow().clone();
            let Some(project) = project else {
                next = Instant::now() + self.config.interval;
                continue;
            };
            let Some(account) = project.accounts.get(&self.name).cloned() else {
                return;
            };
            // A turn among the reconciles in flight (`--max-concurrent`), before the lease is taken.
            let _turn = match &self.config.concurrency {
                Some(turns) => tokio::select! {
                    biased;
                    _ = self.cancel.cancelled() => return,
                    t = turns.clone().acquire_owned() => t.ok(),
                },
                None => None,
            };
            // One of several replicas: only under the account's lease (not held any more: this worker ends, the
            // supervisor stops it).
            let lease = match &self.config.leases {
                Some(l) => match l.begin(&self.name).await {
                    Some(lease) => Some(lease),
                    None => {
                        tracing::info!(account = %self.name, "not reconciled: this replica no longer holds its lease");
                        return;
                    }
                },
                None => None,
            };
            if let Some(l) = &lease {
                tracing::debug!(account = %self.name, token = l.check().token(), "reconcile started under the lease");
            }
            self.hub.begin(&self.name);
            let started = Instant::now();
            // Everything the reconcile logs (the connectors' retries and rate limits too) says which account.
            let span = tracing::info_span!(
                "reconcile",
                account = %self.name,
                platform = account.platform.as_str(),
                mode = self.config.mode.as_str(),
            );
            let reconciler = self.reconciler.clone();
            let mode = self.config.mode;
            let fut = async {
                match &lease {
                    Some(lease) => reconciler.reconcile_leased(&project, &account, mode, lease).await,
                    None => reconciler.reconcile(&project, &account, mode).await,
                }
            }
            .instrument(span);
            tokio::pin!(fut);
            let result = tokio::select! {
                r = &mut fut => Some(r),
                _ = self.cancel.cancelled() => {
                    tracing::info!(account = %self.name, grace = ?self.config.shutdown_grace, "finishing the reconcile in flight");
                    tokio::time::timeout(self.config.shutdown_grace, &mut fut).await.ok()
                }
            };
            let took = started.elapsed();
            self.hub.api_calls(&self.reconciler.take_api_calls(&self.name));
            let delay = match result {
                None => {
                    tracing::warn!(account = %self.name, "reconcile stopped by shutdown before it finished");
                    self.hub.interrupted(&self.name);
                    return;
                }
                Some(Ok(outcome)) => {
                    tracing::info!(
                        account = %self.name,
                        took_ms = took.as_millis() as u64,
                        drifted = outcome.drifted.len(),
                        applied = outcome.applied.total(),
                        pending = outcome.pending.total(),
                        blocked = outcome.blocked.len(),
                        "reconciled"
                    );
                    self.hub.succeeded(&account, self.config.mode, &outcome, took);
                    outcome.requeue_after.unwrap_or(self.config.interval)
                }
                Some(Err(err)) => {
                    let failures = self.hub.failed(&account, &err, took);
                    let mut delay = self.config.backoff.delay(failures);
                    if let Some(floor) = err.retry_after() {
                        delay = delay.max(floor);
                    }
                    tracing::warn!(
                        account = %self.name,
                        error = %err,
                        failures,
                        retry_in_ms = delay.as_millis() as u64,
                        "reconcile failed; backing off"
                    );
                    delay
                }
            };
            if self.cancel.is_cancelled() {
                return;
            }
            self.hub.set_next(&self.name, delay);
            next = Instant::now() + delay;
        }
    }
}
