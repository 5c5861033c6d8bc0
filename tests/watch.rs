//! `adsctl watch`: the daemon loop, scheduler, backoff, file watcher, status server and metrics.
//!
//! `daemon` runs the library daemon against a fake reconciler (an in-memory "platform" whose live state the
//! tests change behind the daemon's back); every wait polls with a deadline, no fixed sleeps.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adsctl::model::{Account, Address, Currency, Guardrails, Kind, Platform, RemovalPolicy, Resource, Value};
use adsctl::reconcile::{
    BackoffPolicy, Daemon, DaemonConfig, DaemonHandle, LoadError, Mode, PlanSummary, ReconcileError, ReconcileOutcome,
    Reconciler, ServerConfig, StatusServer,
};
use adsctl::spec::Project;
use async_trait::async_trait;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

mod common;

/// Poll `f` every 25 ms until it returns `Some`, or panic after `timeout` with `what`.
async fn poll<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The fake: `adsctl.yaml` with `accounts:` and `campaigns: [{account, name, budget}]`; live state is a map of
// campaign address → budget per account.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FakeConfig {
    accounts: BTreeMap<String, FakeAccount>,
    #[serde(default)]
    campaigns: Vec<FakeCampaign>,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FakeAccount {
    platform: Platform,
    currency: String,
}
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FakeCampaign {
    account: String,
    name: String,
    budget: i64,
}

#[derive(Default)]
struct FakePlatform {
    live: Mutex<BTreeMap<String, BTreeMap<String, i64>>>,
    failing: Mutex<BTreeSet<String>>,
    calls: Mutex<BTreeMap<String, u32>>,
    in_flight: Mutex<BTreeMap<String, u32>>,
    overlaps: Mutex<u32>,
    shut_down: AtomicBool,
    /// The next loads of the config that fail as if the directory could not be read (out of file descriptors).
    unreadable_loads: std::sync::atomic::AtomicU32,
    /// API calls by (account, platform, code, error).
    api: Mutex<BTreeMap<(String, String, String, bool), u64>>,
}

impl FakePlatform {
    fn live(&self, account: &str, campaign: &str) -> Option<i64> {
        let key = format!("{account}/campaign/{campaign}");
        self.live
            .lock()
            .unwrap()
            .get(account)
            .and_then(|m| m.get(&key).copied())
    }
    fn set_live(&self, account: &str, campaign: &str, budget: i64) {
        let key = format!("{account}/campaign/{campaign}");
        self.live
            .lock()
            .unwrap()
            .entry(account.into())
            .or_default()
            .insert(key, budget);
    }
    fn calls(&self, account: &str) -> u32 {
        self.calls.lock().unwrap().get(account).copied().unwrap_or(0)
    }
}

struct Fake {
    dir: PathBuf,
    platform: Arc<FakePlatform>,
    /// How long one reconcile takes.
    work: Duration,
}

fn load_fake(dir: &Path) -> Result<Project, LoadError> {
    let path = dir.join("adsctl.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| LoadError {
        message: format!("cannot read {}: {e}", path.display()),
        diagnostics: vec![],
        io: true,
    })?;
    let cfg: FakeConfig = serde_yaml::from_str(&text).map_err(|e| LoadError {
        message: "adsctl.yaml is invalid".into(),
        diagnostics: vec![format!("adsctl.yaml: {e}")],
        io: false,
    })?;
    let mut accounts = BTreeMap::new();
    for (name, a) in cfg.accounts {
        let currency = Currency::from_code(&a.currency).map_err(|e| LoadError {
            message: format!("account {name}: {e}"),
            diagnostics: vec![],
            io: false,
        })?;
        accounts.insert(
            name.clone(),
            Account {
                name: name.clone(),
                platform: a.platform,
                platform_id: "1234567890".into(),
                login_customer_id: None,
                currency,
                time_zone: None,
                on_removed: RemovalPolicy::Pause,
                guardrails: Guardrails::default(),
                endpoint: None,
            },
        );
    }
    let mut resources = Vec::new();
    for c in cfg.campaigns {
        if !accounts.contains_key(&c.account) {
            return Err(LoadError {
                message: format!("campaign {} names unknown account {}", c.name, c.account),
                diagnostics: vec![],
                io: false,
            });
        }
        resources.push(
            Resource::new(
                Address::account(&c.account).child(Kind::Campaign, &c.name),
                Kind::Campaign,
            )
            .with("budget", Value::Int(c.budget)),
        );
    }
    Ok(Project {
        root: dir.to_path_buf(),
        accounts,
        resources,
        moved: Vec::new(),
    })
}

#[async_trait]
impl Reconciler for Fake {
    async fn load(&self) -> Result<Project, LoadError> {
        let unreadable = &self.platform.unreadable_loads;
        if unreadable
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(LoadError {
                message: "the config directory could not be read; reading it again".into(),
                diagnostics: vec!["adsctl.yaml: cannot read file: Too many open files (os error 24)".into()],
                io: true,
            });
        }
        load_fake(&self.dir)
    }

    async fn reconcile(
        &self,
        project: &Project,
        account: &Account,
        mode: Mode,
    ) -> Result<ReconcileOutcome, ReconcileError> {
        let p = &self.platform;
        {
            let mut f = p.in_flight.lock().unwrap();
            let n = f.entry(account.name.clone()).or_default();
            *n += 1;
            if *n > 1 {
                *p.overlaps.lock().unwrap() += 1;
            }
        }
        *p.calls.lock().unwrap().entry(account.name.clone()).or_default() += 1;
        tokio::time::sleep(self.work).await;
        let failing = p.failing.lock().unwrap().contains(&account.name);
        let (code, n) = if failing { ("503", 1) } else { ("200", 2) };
        *p.api
            .lock()
            .unwrap()
            .entry((
                account.name.clone(),
                account.platform.as_str().into(),
                code.into(),
                failing,
            ))
            .or_default() += n;
        let result = if failing {
            Err(ReconcileError::Api {
                platform: account.platform.as_str().into(),
                code: "503".into(),
                message: "The service is currently unavailable.".into(),
                hint: Some("transient; adsctl retries with backoff".into()),
                retry_after: None,
            })
        } else {
            let mut live = p.live.lock().unwrap();
            let live = live.entry(account.name.clone()).or_default();
            let mut drifted = Vec::new();
            let mut summary = PlanSummary::default();
            let mut changes = Vec::new();
            for r in project.resources.iter().filter(|r| r.address.account == account.name) {
                let want = r.fields.get("budget").and_then(Value::as_int).unwrap_or(0);
                let key = r.address.to_string();
                match live.get(&key) {
                    None => summary.create += 1,
                    Some(have) if *have != want => {
                        summary.update += 1;
                        drifted.push(key.clone());
                    }
                    Some(_) => continue,
                }
                changes.push(serde_json::json!({"address": key, "budget": want}));
                if mode == Mode::Apply {
                    live.insert(key, want);
                }
            }
            let (applied, pending) = match mode {
                Mode::Apply => (summary, PlanSummary::default()),
                Mode::Observe => (PlanSummary::default(), summary),
            };
            Ok(ReconcileOutcome {
                drifted,
                applied,
                pending,
                plan: serde_json::json!({ "changes": changes }),
                token_expires_at: Some(chrono::Utc::now() + chrono::Duration::minutes(50)),
                spend_today: adsctl::model::Money::parse("12.34", account.currency).ok(),
                ..Default::default()
            })
        };
        *p.in_flight.lock().unwrap().entry(account.name.clone()).or_default() -= 1;
        result
    }

    fn take_api_calls(&self, account: &str) -> Vec<adsctl::reconcile::ApiCalls> {
        let mut api = self.platform.api.lock().unwrap();
        let mine: Vec<_> = api.keys().filter(|k| k.0 == account).cloned().collect();
        mine.into_iter()
            .map(|k| {
                let count = api.remove(&k).unwrap();
                adsctl::reconcile::ApiCalls {
                    platform: k.1,
                    code: k.2,
                    count,
                    error: k.3,
                }
            })
            .collect()
    }

    async fn shutdown(&self) {
        self.platform.shut_down.store(true, Ordering::SeqCst);
    }
}

const TWO_ACCOUNTS: &str = "accounts:
  search: { platform: google_ads, currency: USD }
  social: { platform: meta, currency: EUR }
campaigns:
  - { account: search, name: Spring, budget: 50 }
  - { account: social, name: Summer, budget: 30 }
";

/// Write like an editor doing an atomic save: a temporary file renamed over the original.
fn atomic_write(path: &Path, text: &str) {
    let tmp = path.with_file_name(format!(".{}.tmp", path.file_name().unwrap().to_string_lossy()));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A daemon and its status server, running in this test's runtime.
struct Served {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    handle: DaemonHandle,
    base: String,
    http: reqwest::Client,
    shutdown: CancellationToken,
    daemon: tokio::task::JoinHandle<()>,
    server: tokio::task::JoinHandle<()>,
}

impl Served {
    async fn status(&self) -> serde_json::Value {
        self.http
            .get(format!("{}/api/v1/status", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
    async fn account_status(&self, name: &str) -> serde_json::Value {
        let s = self.status().await;
        s["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["account"] == name)
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    }
    async fn get(&self, path: &str) -> (u16, String) {
        let r = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.daemon)
            .await
            .expect("daemon stops")
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.server)
            .await
            .expect("server stops")
            .unwrap();
    }
}

/// Test defaults: no interval runs (an hour), a short debounce, a fast backoff.
fn test_config(dir: &Path) -> DaemonConfig {
    let mut cfg = DaemonConfig::new(dir);
    cfg.interval = Duration::from_secs(3600);
    cfg.debounce = Duration::from_millis(100);
    cfg.backoff = BackoffPolicy {
        base: Duration::from_millis(100),
        max: Duration::from_secs(30),
        jitter: true,
    };
    cfg
}

async fn serve<R: Reconciler>(tmp: tempfile::TempDir, reconciler: Arc<R>, cfg: DaemonConfig) -> Served {
    let dir = cfg.dir.clone();
    let daemon = Daemon::new(reconciler, cfg);
    let handle = daemon.handle();
    let shutdown = CancellationToken::new();
    let server = StatusServer::bind(
        ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            token: None,
            limits: adsctl::reconcile::server::DEFAULT_LIMITS,
        },
        handle.hub.clone(),
    )
    .await
    .unwrap();
    let base = format!("http://{}", server.local_addr());
    let s = shutdown.clone();
    let server = tokio::spawn(async move { server.serve(s).await.unwrap() });
    let s = shutdown.clone();
    let daemon = tokio::spawn(async move { daemon.run(s).await.unwrap() });
    Served {
        _tmp: tmp,
        dir,
        handle,
        base,
        http: reqwest::Client::new(),
        shutdown,
        daemon,
        server,
    }
}

/// A daemon over the fake reconciler.
struct Running {
    served: Served,
    platform: Arc<FakePlatform>,
}

impl std::ops::Deref for Running {
    type Target = Served;
    fn deref(&self) -> &Served {
        &self.served
    }
}

impl Running {
    async fn stop(self) -> Arc<FakePlatform> {
        self.served.stop().await;
        self.platform
    }
}

async fn start(yaml: &str, tweak: impl FnOnce(&mut DaemonConfig), work: Duration) -> Running {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap();
    std::fs::write(dir.join("adsctl.yaml"), yaml).unwrap();
    let platform = Arc::new(FakePlatform::default());
    let fake = Arc::new(Fake {
        dir: dir.clone(),
        platform: platform.clone(),
        work,
    });
    let mut cfg = test_config(&dir);
    tweak(&mut cfg);
    Running {
        served: serve(tmp, fake, cfg).await,
        platform,
    }
}

mod daemon {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn edits_are_applied_within_seconds() {
        let r = start(TWO_ACCOUNTS, |_| {}, Duration::ZERO).await;
        let p = r.platform.clone();
        poll(Duration::from_secs(5), "initial apply", || async {
            (p.live("search", "Spring") == Some(50) && p.live("social", "Summer") == Some(30)).then_some(())
        })
        .await;
        // An atomic save (temporary file renamed over the original).
        atomic_write(
            &r.dir.join("adsctl.yaml"),
            &TWO_ACCOUNTS.replace("budget: 50", "budget: 70"),
        );
        poll(Duration::from_secs(5), "atomic-save edit applied", || async {
            (p.live("search", "Spring") == Some(70)).then_some(())
        })
        .await;
        // An in-place save.
        std::fs::write(
            r.dir.join("adsctl.yaml"),
            TWO_ACCOUNTS.replace("budget: 50", "budget: 90"),
        )
        .unwrap();
        poll(Duration::from_secs(5), "in-place edit applied", || async {
            (p.live("search", "Spring") == Some(90)).then_some(())
        })
        .await;
        // The interval is an hour: only the watcher can have triggered these. A save that changes nothing, or a
        // file the watcher ignores, triggers no reconcile.
        let calls = p.calls("social");
        std::fs::write(r.dir.join(".adsctl.yaml.swp"), "x").unwrap();
        std::fs::write(r.dir.join("notes.md"), "x").unwrap();
        std::fs::write(
            r.dir.join("adsctl.yaml"),
            TWO_ACCOUNTS.replace("budget: 50", "budget: 90"),
        )
        .unwrap();
        let gen = r.status().await["config"]["generation"].as_u64().unwrap();
        assert_eq!(gen, 3, "three distinct valid configs loaded");
        // A new account in the config gets its own worker.
        let three = format!(
            "{}  - {{ account: extra, name: Autumn, budget: 5 }}\n",
            TWO_ACCOUNTS.replace("campaigns:", "  extra: { platform: meta, currency: USD }\ncampaigns:")
        );
        atomic_write(&r.dir.join("adsctl.yaml"), &three);
        poll(Duration::from_secs(5), "new account reconciled", || async {
            (p.live("extra", "Autumn") == Some(5)).then_some(())
        })
        .await;
        assert_eq!(r.status().await["config"]["generation"], 4);
        // The social account's part of the config never changed after the start: no reconcile was triggered
        // for it by the edits of the other accounts, by ignored files or by a save that changed nothing.
        assert_eq!(
            p.calls("social"),
            calls,
            "only accounts whose desired state changed are triggered"
        );
        let p = r.stop().await;
        assert!(p.shut_down.load(Ordering::SeqCst), "Reconciler::shutdown called");
        assert_eq!(*p.overlaps.lock().unwrap(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn drift_is_repaired_on_the_next_interval() {
        let r = start(
            TWO_ACCOUNTS,
            |c| {
                c.interval = Duration::from_millis(200);
                c.watch_files = false;
            },
            Duration::ZERO,
        )
        .await;
        let p = r.platform.clone();
        poll(Duration::from_secs(5), "initial apply", || async {
            (p.live("search", "Spring") == Some(50)).then_some(())
        })
        .await;
        // Someone changes the budget in the platform's web interface.
        p.set_live("search", "Spring", 999);
        poll(Duration::from_secs(5), "drift repaired", || async {
            (p.live("search", "Spring") == Some(50)).then_some(())
        })
        .await;
        let (_, metrics) = r.get("/metrics").await;
        assert!(
            metrics.contains("adsctl_reconciles_total{account=\"search\",result=\"success\"}"),
            "{metrics}"
        );
        r.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn observe_mode_reports_drift_and_applies_nothing() {
        let r = start(
            TWO_ACCOUNTS,
            |c| {
                c.interval = Duration::from_millis(200);
                c.watch_files = false;
                c.mode = Mode::Observe;
            },
            Duration::ZERO,
        )
        .await;
        let p = r.platform.clone();
        p.set_live("search", "Spring", 40);
        let s = poll(Duration::from_secs(5), "drift reported", || async {
            let a = r.account_status("search").await;
            (a["reconciles"].as_u64().unwrap_or(0) >= 2).then_some(a)
        })
        .await;
        assert_eq!(s["status"], "drifted");
        assert_eq!(s["drift"][0], "search/campaign/Spring");
        assert_eq!(s["pending"]["update"], 1);
        assert_eq!(p.live("search", "Spring"), Some(40), "observe mode never writes");
        assert_eq!(p.live("social", "Summer"), None);
        let (_, plan) = r.get("/api/v1/plan").await;
        let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
        assert_eq!(plan["mode"], "observe");
        assert_eq!(plan["accounts"]["search"]["changes"][0]["budget"], 50);
        r.stop().await;
    }

    /// Regression: a valid edit whose reload failed with "Too many open files" was recorded as an invalid config
    /// and never applied (no further file event came). Now the directory is read again with backoff, the config
    /// is never reported invalid, and the edit lands.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reload_that_cannot_read_the_directory_is_retried_and_never_reported_invalid() {
        let r = start(TWO_ACCOUNTS, |_| {}, Duration::ZERO).await;
        let p = r.platform.clone();
        poll(Duration::from_secs(5), "initial apply", || async {
            (p.live("search", "Spring") == Some(50)).then_some(())
        })
        .await;
        p.unreadable_loads.store(3, Ordering::SeqCst);
        atomic_write(
            &r.dir.join("adsctl.yaml"),
            &TWO_ACCOUNTS.replace("budget: 50", "budget: 65"),
        );
        poll(
            Duration::from_secs(15),
            "the edit applied after failed reads",
            || async {
                let s = r.status().await;
                assert_eq!(
                    s["config"]["valid"], true,
                    "an unreadable directory is not an invalid config: {s}"
                );
                assert!(s["config"]["error"].is_null(), "{s}");
                (p.live("search", "Spring") == Some(65)).then_some(())
            },
        )
        .await;
        assert_eq!(p.unreadable_loads.load(Ordering::SeqCst), 0);
        let s = r.status().await;
        assert!(s["config"]["read_error"].is_null(), "cleared by the good read: {s}");
        assert_eq!(s["config"]["generation"], 2);
        let (_, metrics) = r.get("/metrics").await;
        assert!(
            metrics.contains(r#"adsctl_config_reloads_total{result="read_error"} 3"#),
            "{metrics}"
        );
        assert!(!metrics.contains(r#"result="error""#), "{metrics}");
        r.stop().await;
    }

    /// `--no-file-watch` runs until stopped (it used to return at once, with status 0) and reads the config
    /// again on the interval, comparing content: an edit lands within one interval without any file event.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_file_watching_it_runs_until_stopped_and_reads_edits_each_interval() {
        let r = start(
            TWO_ACCOUNTS,
            |c| {
                c.watch_files = false;
                c.interval = Duration::from_millis(700);
            },
            Duration::ZERO,
        )
        .await;
        let p = r.platform.clone();
        poll(Duration::from_secs(5), "initial apply", || async {
            (p.live("search", "Spring") == Some(50)).then_some(())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!r.daemon.is_finished(), "the daemon returned without being stopped");
        std::fs::write(
            r.dir.join("adsctl.yaml"),
            TWO_ACCOUNTS.replace("budget: 50", "budget: 55"),
        )
        .unwrap();
        let edited = std::time::Instant::now();
        poll(Duration::from_secs(5), "edit read on the interval", || async {
            (p.live("search", "Spring") == Some(55)).then_some(())
        })
        .await;
        assert!(
            edited.elapsed() < Duration::from_millis(700 + 1000),
            "applied {:?} after the edit, interval 700ms",
            edited.elapsed()
        );
        assert!(!r.daemon.is_finished());
        r.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_invalid_edit_is_reported_and_nothing_is_applied() {
        let r = start(
            TWO_ACCOUNTS,
            |c| {
                c.interval = Duration::from_millis(200);
            },
            Duration::ZERO,
        )
        .await;
        let p = r.platform.clone();
        poll(Duration::from_secs(5), "initial apply", || async {
            (p.live("search", "Spring") == Some(50)).then_some(())
        })
        .await;
        // A typo in a key, and a budget change in the same (invalid) edit.
        atomic_write(
            &r.dir.join("adsctl.yaml"),
            &TWO_ACCOUNTS.replace("budget: 50", "budgte: 75"),
        );
        let s = poll(Duration::from_secs(5), "invalid config reported", || async {
            let s = r.status().await;
            (s["config"]["valid"] == false).then_some(s)
        })
        .await;
        assert_eq!(s["config"]["loaded"], true);
        assert_eq!(s["config"]["generation"], 1);
        assert!(s["config"]["error"].as_str().unwrap().contains("invalid"), "{s}");
        assert!(
            s["config"]["diagnostics"][0].as_str().unwrap().contains("budgte"),
            "{s}"
        );
        // The daemon keeps reconciling the last good state: drift is still repaired back to 50, never 75.
        p.set_live("search", "Spring", 1);
        poll(
            Duration::from_secs(5),
            "drift repaired with the last good config",
            || async { (p.live("search", "Spring") == Some(50)).then_some(()) },
        )
        .await;
        assert_eq!(r.get("/readyz").await.0, 200, "still ready with the last good config");
        let (_, page) = r.get("/").await;
        assert!(page.contains("The last edit is invalid and was not applied"), "{page}");
        let (_, metrics) = r.get("/metrics").await;
        assert!(metrics.contains("adsctl_config_valid 0"), "{metrics}");
        // Fixing the file recovers.
        atomic_write(
            &r.dir.join("adsctl.yaml"),
            &TWO_ACCOUNTS.replace("budget: 50", "budget: 75"),
        );
        poll(Duration::from_secs(5), "fixed edit applied", || async {
            (p.live("search", "Spring") == Some(75)).then_some(())
        })
        .await;
        assert_eq!(r.status().await["config"]["valid"], true);
        r.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_account_backs_off_without_affecting_another() {
        let r = start(
            TWO_ACCOUNTS,
            |c| {
                c.interval = Duration::from_millis(100);
                c.watch_files = false;
            },
            Duration::ZERO,
        )
        .await;
        let p = r.platform.clone();
        p.failing.lock().unwrap().insert("search".into());
        // The healthy account keeps its 100 ms rhythm…
        poll(
            Duration::from_secs(10),
            "20 reconciles of the healthy account",
            || async { (p.calls("social") >= 20).then_some(()) },
        )
        .await;
        // …while the failing one backs off exponentially (100, 200, 400, 800 ms … with jitter).
        let failing_calls = p.calls("search");
        assert!(
            (2..=8).contains(&failing_calls),
            "failing account attempted {failing_calls} times while the healthy one ran 20"
        );
        let s = r.account_status("search").await;
        assert_eq!(s["status"], "failing");
        assert_eq!(s["last_error"]["kind"], "api_error");
        assert!(s["last_error"]["message"].as_str().unwrap().contains("503"));
        assert!(s["consecutive_failures"].as_u64().unwrap() >= 2);
        let healthy = r.account_status("social").await;
        assert_eq!(healthy["status"], "in_sync");
        assert!(healthy["last_error"].is_null());
        let (_, metrics) = r.get("/metrics").await;
        assert!(
            metrics.contains("adsctl_api_errors_total{platform=\"google_ads\",code=\"503\"}"),
            "{metrics}"
        );
        // Recovery: the account comes back once the platform does.
        p.failing.lock().unwrap().clear();
        r.handle
            .commands
            .send(adsctl::reconcile::Command::ReconcileNow(Some("search".into())))
            .await
            .unwrap();
        poll(Duration::from_secs(10), "recovered", || async {
            let s = r.account_status("search").await;
            (s["status"] == "in_sync").then_some(())
        })
        .await;
        assert_eq!(r.account_status("search").await["consecutive_failures"], 0);
        r.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_two_reconciles_of_one_account_at_once() {
        let r = start(
            TWO_ACCOUNTS,
            |c| {
                c.interval = Duration::from_millis(10);
                c.debounce = Duration::from_millis(10);
            },
            Duration::from_millis(20),
        )
        .await;
        for i in 0..30 {
            r.handle
                .commands
                .send(adsctl::reconcile::Command::ReconcileNow(None))
                .await
                .unwrap();
            if i % 10 == 0 {
                std::fs::write(r.dir.join("adsctl.yaml"), TWO_ACCOUNTS.replace("50", &format!("5{i}"))).unwrap();
            }
            tokio::task::yield_now().await;
        }
        let p = r.platform.clone();
        poll(Duration::from_secs(5), "some reconciles", || async {
            (p.calls("search") >= 10 && p.calls("social") >= 10).then_some(())
        })
        .await;
        let p = r.stop().await;
        assert_eq!(
            *p.overlaps.lock().unwrap(),
            0,
            "an account was reconciled twice at once"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_lets_the_reconcile_in_flight_finish() {
        let r = start(
            TWO_ACCOUNTS,
            |c| {
                c.watch_files = false;
            },
            Duration::from_millis(400),
        )
        .await;
        poll(Duration::from_secs(5), "a reconcile in flight", || async {
            let a = r.account_status("search").await;
            (a["reconciling"] == true).then_some(())
        })
        .await;
        let p = r.stop().await;
        assert_eq!(
            p.live("search", "Spring"),
            Some(50),
            "the batch in flight was finished, not torn"
        );
        assert!(p.shut_down.load(Ordering::SeqCst));
    }
}

mod server {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn metrics_parse_as_prometheus_text() {
        let r = start(TWO_ACCOUNTS, |c| c.watch_files = false, Duration::ZERO).await;
        poll(Duration::from_secs(5), "both reconciled", || async {
            let s = r.status().await;
            let accounts = s["accounts"].as_array().unwrap();
            (accounts.len() == 2 && accounts.iter().all(|a| a["last_sync"].is_string())).then_some(())
        })
        .await;
        // Prometheus asks for OpenMetrics and gets it
        let resp = r
            .http
            .get(format!("{}/metrics", r.base))
            .header(
                "accept",
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
            )
            .send()
            .await
            .unwrap();
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"));
        let om = resp.text().await.unwrap();
        assert!(om.trim_end().ends_with("# EOF"), "{om}");
        // a scraper that does not ask (curl, older Prometheus) gets the 0.0.4 text format
        let resp = r.http.get(format!("{}/metrics", r.base)).send().await.unwrap();
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        let text = resp.text().await.unwrap();
        assert!(!text.contains("# EOF"), "{text}");
        assert!(
            text.contains(&format!(
                "adsctl_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            )),
            "{text}"
        );
        let lines = text.lines().map(|l| Ok(l.to_string()));
        let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text");
        let names: BTreeSet<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
        for want in [
            "adsctl_reconciles_total",
            "adsctl_reconcile_duration_seconds",
            "adsctl_drifted_resources",
            "adsctl_pending_changes",
            "adsctl_api_requests_total",
            "adsctl_token_expiry_seconds",
            "adsctl_last_successful_sync_timestamp_seconds",
            "adsctl_config_valid",
        ] {
            assert!(names.contains(want), "{want} missing from {names:?}");
        }
        let histogram = scrape
            .samples
            .iter()
            .find(|s| s.metric == "adsctl_reconcile_duration_seconds" && s.labels.get("account") == Some("social"))
            .unwrap();
        match &histogram.value {
            prometheus_parse::Value::Histogram(buckets) => {
                assert!(buckets.len() >= 10);
                assert!(buckets.last().unwrap().count >= 1.0, "{buckets:?}");
            }
            other => panic!("{other:?}"),
        }
        let expiry = scrape
            .samples
            .iter()
            .find(|s| s.metric == "adsctl_token_expiry_seconds" && s.labels.get("account") == Some("search"))
            .unwrap();
        match expiry.value {
            prometheus_parse::Value::Gauge(v) => assert!(v > 2900.0 && v <= 3000.0, "{v}"),
            ref other => panic!("{other:?}"),
        }
        let requests = scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == "adsctl_api_requests_total"
                    && s.labels.get("platform") == Some("meta")
                    && s.labels.get("code") == Some("200")
            })
            .unwrap();
        // prometheus-parse reads OpenMetrics counters (`# TYPE x counter` + `x_total`) as untyped samples.
        assert!(
            matches!(requests.value, prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) if v >= 2.0),
            "{:?}",
            requests.value
        );
        r.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn status_page_renders_one_card_per_account() {
        let r = start(TWO_ACCOUNTS, |c| c.watch_files = false, Duration::ZERO).await;
        poll(Duration::from_secs(5), "both reconciled", || async {
            let s = r.status().await;
            let accounts = s["accounts"].as_array().unwrap();
            (accounts.len() == 2 && accounts.iter().all(|a| a["status"] == "in_sync")).then_some(())
        })
        .await;
        assert_eq!(r.get("/healthz").await, (200, "ok\n".into()));
        assert_eq!(r.get("/readyz").await.0, 200);
        let (code, page) = r.get("/").await;
        assert_eq!(code, 200);
        assert_eq!(page.matches("<section class=\"card").count(), 2, "{page}");
        for (account, platform, spend) in [("search", "google_ads", "$12.34"), ("social", "meta", "12.34")] {
            let start = page.find(&format!("data-account=\"{account}\"")).expect("card");
            let card = &page[start..start + page[start..].find("</section>").unwrap()];
            assert!(card.contains(platform), "{card}");
            assert!(card.contains("in sync"), "{card}");
            for label in ["Last sync", "Token", "Drift", "Spend today"] {
                assert!(card.contains(&format!("<dt>{label}</dt>")), "{label} in {card}");
            }
            assert!(card.contains(spend), "{spend} in {card}");
            assert!(card.contains("data-countdown"), "the token's end: {card}");
        }
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no external URL"
        );
        assert_eq!(page.matches("<script").count(), 1, "one script");
        assert!(
            page.contains("<script src=\"/assets/dashboard.js\" defer></script>"),
            "our own, no inline one"
        );
        r.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn off_loopback_needs_a_token() {
        let hub = Arc::new(adsctl::reconcile::StatusHub::new(Mode::Apply, Duration::from_secs(60)));
        // Refuses to start bound elsewhere without a token (checked before binding anything).
        let err = StatusServer::bind(
            ServerConfig {
                listen: "0.0.0.0:0".parse().unwrap(),
                token: None,
                limits: adsctl::reconcile::server::DEFAULT_LIMITS,
            },
            hub.clone(),
        )
        .await
        .err()
        .expect("refused");
        assert!(matches!(err, adsctl::reconcile::ServerError::TokenRequired { .. }));
        assert!(err.hint().contains("ADSCTL_STATUS_TOKEN"));
        // The router as it runs off loopback, served here on loopback.
        let token = adsctl::secret::Secret::new("s3cret-status-token");
        let app = adsctl::reconcile::server::router(hub, Some(token));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let s = stop.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(s.cancelled_owned())
                .await
                .unwrap()
        });
        let http = reqwest::Client::new();
        // The readiness probe answers anyone (a Kubernetes probe sends no header), with the kind of reason only.
        let r = http.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 503);
        assert_eq!(r.text().await.unwrap(), "not ready: state store not open\n");
        for path in ["/", "/metrics", "/api/v1/status", "/api/v1/plan"] {
            let r = http.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 401, "{path}");
            let body = r.text().await.unwrap();
            assert!(!body.contains("s3cret"), "{body}");
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth("wrong-token")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 401, "{path}");
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth("s3cret-status-token")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "{path}");
        }
        assert_eq!(
            http.get(format!("{base}/healthz"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            200
        );
        stop.cancel();
        server.await.unwrap();
    }
}

/// The real reconciler (spec, engine, state) over the in-memory platform, and the binary.
mod engine {
    use super::*;
    use adsctl::connectors::{
        ApplyBatch, Capabilities, Connector, ConnectorError, DateRange, Health, LiveSnapshot, MetricRow, MetricsLevel,
        OpOutcome, ReadRequest,
    };
    use adsctl::model::Money;
    use adsctl::platforms::memory::MemoryConnector;
    use adsctl::reconcile::engine::EngineReconciler;

    const SEARCH: &str = "acme-search";
    const SOCIAL: &str = "acme-social";
    const CAMPAIGN_FILE: &str = "campaigns/spring-sale-search.yaml";

    /// A fixture without its state (a quickstart run by hand leaves `.adsctl/` beside it).
    fn copy_dir(from: &Path, to: &Path) {
        crate::common::copy_fixture(from, to);
    }

    /// A copy of examples/quickstart (acme-search on Google Ads, acme-social on Meta).
    fn quickstart() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap().join("repo");
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"), &dir);
        (tmp, dir)
    }

    /// The in-memory platform, with a switchable 503 storm per account.
    struct Storm {
        inner: MemoryConnector,
        failing: Arc<Mutex<BTreeSet<String>>>,
    }

    impl Storm {
        fn check(&self, account: &Account) -> Result<(), ConnectorError> {
            if self.failing.lock().unwrap().contains(&account.name) {
                return Err(ConnectorError::Api {
                    platform: "google_ads",
                    code: "UNAVAILABLE".into(),
                    message: "The service is currently unavailable. (HTTP 503)".into(),
                    hint: Some("transient; retry later".into()),
                });
            }
            Ok(())
        }
    }

    #[async_trait]
    impl Connector for Storm {
        fn platform(&self) -> Platform {
            self.inner.platform()
        }
        fn capabilities(&self) -> Capabilities {
            self.inner.capabilities()
        }
        async fn read(&self, account: &Account, req: &ReadRequest) -> Result<LiveSnapshot, ConnectorError> {
            self.check(account)?;
            self.inner.read(account, req).await
        }
        async fn apply(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
            self.check(account)?;
            self.inner.apply(account, batch).await
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
        ) -> Result<adsctl::connectors::LeaseOutcome, ConnectorError> {
            self.check(account)?;
            self.inner.acquire_lease(account, holder, expires_at, take_over).await
        }
        async fn renew_lease(
            &self,
            account: &Account,
            lease: &adsctl::connectors::Lease,
            expires_at: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), ConnectorError> {
            self.inner.renew_lease(account, lease, expires_at).await
        }
        async fn release_lease(
            &self,
            account: &Account,
            lease: &adsctl::connectors::Lease,
        ) -> Result<(), ConnectorError> {
            self.inner.release_lease(account, lease).await
        }
        async fn metrics(
            &self,
            account: &Account,
            level: MetricsLevel,
            range: DateRange,
        ) -> Result<Vec<MetricRow>, ConnectorError> {
            self.check(account)?;
            self.inner.metrics(account, level, range).await
        }
    }

    struct Engine {
        served: Served,
        google: MemoryConnector,
        failing: Arc<Mutex<BTreeSet<String>>>,
    }

    async fn start_engine(tweak: impl FnOnce(&mut DaemonConfig)) -> Engine {
        let (tmp, dir) = quickstart();
        let google = MemoryConnector::new(Platform::GoogleAds);
        let failing: Arc<Mutex<BTreeSet<String>>> = Arc::default();
        let (g, f) = (google.sibling(Platform::GoogleAds), failing.clone());
        let resolver = move |a: &Account| -> Result<Arc<dyn Connector>, ConnectorError> {
            Ok(Arc::new(Storm {
                inner: g.sibling(a.platform),
                failing: f.clone(),
            }))
        };
        let reconciler = EngineReconciler::open_with(&dir, Box::new(resolver)).await.unwrap();
        let mut cfg = test_config(&dir);
        tweak(&mut cfg);
        Engine {
            served: serve(tmp, Arc::new(reconciler), cfg).await,
            google,
            failing,
        }
    }

    fn usd(s: &str) -> Value {
        Value::Money(Money::parse(s, Currency::from_code("USD").unwrap()).unwrap())
    }

    /// The live search campaign: (id, daily budget).
    fn live_campaign(m: &MemoryConnector) -> Option<(String, Option<Value>)> {
        m.snapshot(SEARCH)
            .into_iter()
            .find(|r| r.kind == Kind::Campaign && r.address.name() == Some("Spring Sale - Search"))
            .map(|r| (r.id.clone().unwrap_or_default(), r.fields.get("budget.daily").cloned()))
    }

    async fn wait_budget(e: &Engine, want: &str, what: &str) -> String {
        let want = usd(want);
        poll(Duration::from_secs(10), what, || async {
            live_campaign(&e.google).and_then(|(id, b)| (b.as_ref() == Some(&want)).then_some(id))
        })
        .await
    }

    fn edit(dir: &Path, from: &str, to: &str) {
        let path = dir.join(CAMPAIGN_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from} not in {}", path.display());
        atomic_write(&path, &text.replacen(from, to, 1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn edits_are_applied_and_drift_is_repaired() {
        let e = start_engine(|c| c.interval = Duration::from_millis(300)).await;
        wait_budget(&e, "50", "the quickstart applied").await;
        poll(Duration::from_secs(10), "both accounts in sync", || async {
            let s = e.served.status().await;
            let accounts = s["accounts"].as_array().unwrap();
            (accounts.len() == 2 && accounts.iter().all(|a| a["status"] == "in_sync")).then_some(())
        })
        .await;
        // An edit of the YAML (20 %: within max_increase_pct 30).
        edit(&e.served.dir, "daily: 50.00", "daily: 60.00");
        let id = wait_budget(&e, "60", "the edit applied").await;
        // Someone changes the budget in the web interface: repaired on the next interval.
        assert!(e.google.edit(SEARCH, &id, "budget.daily", usd("55")));
        wait_budget(&e, "60", "the drift repaired").await;
        let s = e.served.account_status(SEARCH).await;
        assert_eq!(s["platform"], "google_ads");
        assert!(s["last_sync"].is_string());
        let (_, plan) = e.served.get("/api/v1/plan").await;
        let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
        assert!(plan["accounts"][SEARCH]["accounts"].is_array(), "{plan}");
        e.served.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_guardrail_violation_is_reported_and_not_applied() {
        let e = start_engine(|_| {}).await;
        wait_budget(&e, "50", "the quickstart applied").await;
        // 50 → 400: past max_increase_pct (30) and max_daily_budget (500 with the others).
        edit(&e.served.dir, "daily: 50.00", "daily: 400.00");
        let s = poll(Duration::from_secs(10), "the guardrail reported", || async {
            let s = e.served.account_status(SEARCH).await;
            (s["status"] == "blocked").then_some(s)
        })
        .await;
        assert!(!s["blocked"].as_array().unwrap().is_empty(), "{s}");
        assert_eq!(s["pending"]["update"], 1, "{s}");
        assert_eq!(live_campaign(&e.google).unwrap().1, Some(usd("50")), "nothing applied");
        let (_, page) = e.served.get("/").await;
        assert!(page.contains("<dt>Guardrails</dt>"), "{page}");
        e.served.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_invalid_edit_is_reported_and_nothing_is_applied() {
        let e = start_engine(|c| c.interval = Duration::from_millis(300)).await;
        let id = wait_budget(&e, "50", "the quickstart applied").await;
        // A budget change together with a typo: the whole edit is refused.
        edit(&e.served.dir, "daily: 50.00", "daily: 60.00");
        edit(&e.served.dir, "status: enabled", "staus: enabled");
        let s = poll(Duration::from_secs(10), "the invalid config reported", || async {
            let s = e.served.status().await;
            (s["config"]["valid"] == false).then_some(s)
        })
        .await;
        let diags = s["config"]["diagnostics"].as_array().unwrap();
        assert!(
            diags
                .iter()
                .any(|d| d.as_str().unwrap().contains("spring-sale-search.yaml:")),
            "{s}"
        );
        // The last good state is still reconciled: drift goes back to 50, the invalid 60 is never applied.
        assert!(e.google.edit(SEARCH, &id, "budget.daily", usd("45")));
        wait_budget(&e, "50", "the drift repaired towards the last good state").await;
        assert_eq!(e.served.status().await["config"]["valid"], false);
        assert_eq!(e.served.get("/readyz").await.0, 200);
        // Fixed: applied.
        edit(&e.served.dir, "staus: enabled", "status: enabled");
        wait_budget(&e, "60", "the fixed edit applied").await;
        e.served.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn observe_mode_only_reports() {
        let e = start_engine(|c| c.mode = Mode::Observe).await;
        let s = poll(Duration::from_secs(10), "the pending plan reported", || async {
            let s = e.served.account_status(SEARCH).await;
            (s["reconciles"].as_u64().unwrap_or(0) >= 1).then_some(s)
        })
        .await;
        assert_eq!(s["status"], "drifted");
        assert!(s["pending"]["create"].as_u64().unwrap() >= 5, "{s}");
        assert!(e.google.snapshot(SEARCH).is_empty(), "observe mode never writes");
        assert!(e.google.snapshot(SOCIAL).is_empty());
        e.served.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_503_storm_on_one_account_does_not_affect_the_other() {
        let e = start_engine(|c| {
            c.interval = Duration::from_millis(100);
            c.watch_files = false;
        })
        .await;
        e.failing.lock().unwrap().insert(SEARCH.into());
        let social = poll(
            Duration::from_secs(15),
            "15 reconciles of the healthy account",
            || async {
                let s = e.served.account_status(SOCIAL).await;
                (s["reconciles"].as_u64().unwrap_or(0) >= 15).then_some(s)
            },
        )
        .await;
        assert_eq!(social["status"], "in_sync");
        assert!(!e.google.snapshot(SOCIAL).is_empty(), "the healthy account was applied");
        let search = e.served.account_status(SEARCH).await;
        assert_eq!(search["status"], "failing");
        assert!(
            search["last_error"]["message"].as_str().unwrap().contains("503"),
            "{search}"
        );
        let attempts = search["reconciles"].as_u64().unwrap();
        assert!(
            (2..=8).contains(&attempts),
            "the failing account tried {attempts} times: no backoff?"
        );
        assert!(e.google.snapshot(SEARCH).is_empty());
        let (_, metrics) = e.served.get("/metrics").await;
        assert!(
            metrics.contains("adsctl_api_errors_total{platform=\"google_ads\",code=\"UNAVAILABLE\"}"),
            "{metrics}"
        );
        e.failing.lock().unwrap().clear();
        e.served
            .handle
            .commands
            .send(adsctl::reconcile::Command::ReconcileNow(Some(SEARCH.into())))
            .await
            .unwrap();
        wait_budget(&e, "50", "the account recovered").await;
        e.served.stop().await;
    }

    /// `adsctl watch` as a process: it serves its status, lets `plan`, `apply`, `state`, `metrics` and `history`
    /// use the state between its reconciles, and exits 0 on SIGTERM with the journal clean and the lock released.
    #[test]
    fn sigterm_exits_zero_with_the_journal_clean() {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};

        /// Never leaves the daemon running when the test fails.
        struct KillOnDrop(std::process::Child);
        impl Drop for KillOnDrop {
            fn drop(&mut self) {
                if let Ok(None) = self.0.try_wait() {
                    let _ = self.0.kill();
                    let _ = self.0.wait();
                }
            }
        }

        let (_tmp, dir) = quickstart();
        let memory = dir.parent().unwrap().join("platform.json");
        let child = Command::new(env!("CARGO_BIN_EXE_adsctl"))
            .args([
                "watch",
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--interval",
                "1h",
            ])
            .arg(&dir)
            .env("ADSCTL_BACKEND", format!("memory:{}", memory.display()))
            .env_remove("ADSCTL_STATE_DIR")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut child = KillOnDrop(child);
        let stderr = child.0.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut log = Vec::new();
        let mut addr = None;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while addr.is_none() && std::time::Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                let v: serde_json::Value = serde_json::from_str(&line).expect("JSON log lines");
                if v["message"] == "status server listening" {
                    addr = v["listen"].as_str().map(str::to_string);
                }
                log.push(line);
            }
        }
        let addr = addr.unwrap_or_else(|| panic!("no listen address in {log:?}"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let http = reqwest::Client::new();
            poll(Duration::from_secs(20), "both accounts in sync", || async {
                let s: serde_json::Value = http
                    .get(format!("http://{addr}/api/v1/status"))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                let accounts = s["accounts"].as_array()?;
                (accounts.len() == 2 && accounts.iter().all(|a| a["status"] == "in_sync")).then_some(())
            })
            .await;
            let r = http.get(format!("http://{addr}/readyz")).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200);
        });
        // Between reconciles the daemon holds neither the state nor its apply lock: the read commands and an
        // apply run beside it (issue 25).
        let state = dir.join(".adsctl");
        drop(adsctl::state::ApplyLock::acquire(&state).expect("the idle daemon holds no lock"));
        let adsctl = |args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_adsctl"))
                .args(args)
                .arg(&dir)
                .env("ADSCTL_BACKEND", format!("memory:{}", memory.display()))
                .env_remove("ADSCTL_STATE_DIR")
                .output()
                .unwrap()
        };
        for cmd in [
            &["plan", "--detailed-exitcode"][..],
            &["apply", "--auto-approve"],
            &["metrics", "--last", "7d"],
            &["history"],
        ] {
            let o = adsctl(cmd);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(0), "{cmd:?} beside the daemon: {err}");
        }
        let o = adsctl(&["state", "list", "--dir"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "state list beside the daemon: {}",
            String::from_utf8_lossy(&o.stderr)
        );

        // Another command holds the state (as the daemon does while it reconciles): an apply without
        // --lock-timeout stops at once naming it; with --lock-timeout it waits, and goes on once it is given back.
        let holder = adsctl::state::SledStore::open(&state).unwrap();
        let o = adsctl(&["apply", "--auto-approve"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())) && err.contains("--lock-timeout"),
            "{err}"
        );
        let waiting = std::thread::spawn({
            let adsctl_bin = env!("CARGO_BIN_EXE_adsctl");
            let (dir, memory) = (dir.clone(), memory.clone());
            move || {
                Command::new(adsctl_bin)
                    .args(["apply", "--auto-approve", "--lock-timeout", "20s"])
                    .arg(&dir)
                    .env("ADSCTL_BACKEND", format!("memory:{}", memory.display()))
                    .env_remove("ADSCTL_STATE_DIR")
                    .output()
                    .unwrap()
            }
        });
        // it queues (queue.lock), so that a daemon would start no new reconcile before it got in
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !adsctl::state::someone_queued(&state) {
            assert!(std::time::Instant::now() < deadline, "the waiting apply never queued");
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(holder);
        let o = waiting.join().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{err}");
        assert!(err.contains("waiting for the state in"), "{err}");
        assert!(!adsctl::state::someone_queued(&state), "the queue is given back");

        let status = Command::new("kill")
            .args(["-TERM", &child.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let exit = loop {
            if let Some(s) = child.0.try_wait().unwrap() {
                break s;
            }
            assert!(std::time::Instant::now() < deadline, "did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        reader.join().unwrap();
        log.extend(rx.try_iter());
        assert!(exit.success(), "exit status {exit:?}; log: {log:#?}");
        assert!(log.iter().any(|l| l.contains("SIGTERM received")), "{log:#?}");
        // The lock is released and the journal has no pending intent.
        let _lock = adsctl::state::ApplyLock::acquire(&state).expect("lock released");
        let store = adsctl::state::SledStore::open(&state).unwrap();
        use adsctl::state::StateStore;
        assert!(store.journal_pending(None).unwrap().is_empty(), "journal clean");
        // No secret-looking material in the logs.
        assert!(!log.iter().any(|l| l.contains("emulator-") || l.contains("Bearer")));
    }
}

/// `adsctl watch` as a process under a flood of idle connections to its status server.
mod flood {
    use super::*;
    use adsctl::platforms::memory::MemoryConnector;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::{AtomicU64, AtomicUsize};

    /// Never leaves the daemon running when the test fails.
    struct KillOnDrop(Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            if let Ok(None) = self.0.try_wait() {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }

    /// A line of /proc/<pid>/status, in KiB (Linux).
    fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = text.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    fn open_fds(pid: u32) -> Option<usize> {
        Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
    }

    /// This process's soft limit on open files (Linux; elsewhere a conservative guess).
    fn soft_nofile() -> u64 {
        std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|t| {
                let l = t.lines().find(|l| l.starts_with("Max open files"))?.to_string();
                l.split_whitespace().nth(3)?.parse().ok()
            })
            .unwrap_or(1024)
    }

    /// Holds `n` idle connections to `addr` (half of them having sent half a request), re-opening up to 500 of
    /// those the server closed every 200 ms, until stopped.
    struct Flood {
        stop: Arc<AtomicBool>,
        held: Arc<AtomicUsize>,
        opened: Arc<AtomicU64>,
        join: Option<std::thread::JoinHandle<()>>,
    }

    /// Whether the server still holds this connection open (it sends nothing to an idle one).
    fn still_open(stream: &mut TcpStream) -> bool {
        let mut buf = [0u8; 512];
        match stream.read(&mut buf) {
            Ok(0) => false,
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
        }
    }

    impl Flood {
        fn start(addr: SocketAddr, n: usize) -> Flood {
            let stop = Arc::new(AtomicBool::new(false));
            let held = Arc::new(AtomicUsize::new(0));
            let opened = Arc::new(AtomicU64::new(0));
            let (s, h, o) = (stop.clone(), held.clone(), opened.clone());
            let join = std::thread::spawn(move || {
                let mut conns: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
                let mut budget_per_round = n;
                while !s.load(Ordering::SeqCst) {
                    let mut budget = budget_per_round;
                    budget_per_round = 500;
                    for (i, c) in conns.iter_mut().enumerate() {
                        if c.as_mut().is_some_and(still_open) || budget == 0 {
                            continue;
                        }
                        budget -= 1;
                        // a short timeout: a connection the server's full accept queue drops is tried next round
                        *c = TcpStream::connect_timeout(&addr, Duration::from_millis(100))
                            .ok()
                            .map(|mut t| {
                                if i % 2 == 0 {
                                    let _ = t.write_all(b"GET /metrics HTTP/1.1\r\nHost: flood\r\n");
                                }
                                let _ = t.set_nonblocking(true);
                                o.fetch_add(1, Ordering::SeqCst);
                                t
                            });
                    }
                    h.store(conns.iter().filter(|c| c.is_some()).count(), Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
            Flood {
                stop,
                held,
                opened,
                join: Some(join),
            }
        }
    }

    impl Drop for Flood {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            if let Some(j) = self.join.take() {
                let _ = j.join();
            }
        }
    }

    /// `GET path` on a new connection; (status line, body, time taken).
    fn get(addr: SocketAddr, path: &str) -> Result<(String, String, Duration), String> {
        let t = std::time::Instant::now();
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("no response: {text:?}"))?;
        Ok((
            head.lines().next().unwrap_or_default().to_string(),
            body.to_string(),
            t.elapsed(),
        ))
    }

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy_dir(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), &target).unwrap();
            }
        }
    }

    /// The live daily budget of the quickstart's search campaign, from the memory backend's file.
    fn live_budget(memory: &Path) -> Option<Value> {
        MemoryConnector::open_file(Platform::GoogleAds, memory)
            .ok()
            .and_then(|m| {
                m.snapshot("acme-search")
                    .into_iter()
                    .find(|r| r.kind == Kind::Campaign)
                    .and_then(|r| r.fields.get("budget.daily").cloned())
            })
    }

    /// The issue's run: ~20,000 idle connections exhausted the daemon's file descriptors, `/healthz` timed out,
    /// and an edit made meanwhile was recorded as an invalid config ("Too many open files") and never applied.
    /// Here the daemon runs with 384 file descriptors (`ulimit -n`) while thousands of connections are held
    /// against its status server (capped at 256), with `--no-file-watch`: `/healthz` answers, the edit lands
    /// within one interval, memory and descriptors stay bounded, and it runs until SIGTERM.
    #[test]
    fn thousands_of_idle_connections_neither_block_health_nor_lose_an_edit() {
        const INTERVAL: Duration = Duration::from_secs(3);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap().join("repo");
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart"), &dir);
        let memory = dir.parent().unwrap().join("platform.json");
        let child = Command::new("sh")
            .arg("-c")
            .arg("ulimit -n 384 && exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_adsctl"))
            .args([
                "watch",
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--interval",
                "3s",
                "--no-file-watch",
            ])
            .arg(&dir)
            .env("ADSCTL_BACKEND", format!("memory:{}", memory.display()))
            .env_remove("ADSCTL_STATE_DIR")
            .env_remove("RUST_LOG")
            .env_remove("ADSCTL_STATUS_MAX_CONNECTIONS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut child = KillOnDrop(child);
        let pid = child.0.id();
        let stderr = child.0.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut log = Vec::new();
        let mut addr: Option<SocketAddr> = None;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while addr.is_none() && std::time::Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                let v: serde_json::Value = serde_json::from_str(&line).expect("JSON log lines");
                if v["message"] == "status server listening" {
                    addr = v["listen"].as_str().and_then(|a| a.parse().ok());
                }
                log.push(line);
            }
        }
        let addr = addr.unwrap_or_else(|| panic!("no listen address in {log:?}"));
        let status = || -> serde_json::Value {
            let (line, body, _) = get(addr, "/api/v1/status").unwrap_or_else(|e| panic!("status: {e}"));
            assert!(line.contains("200"), "{line}");
            serde_json::from_str(&body).unwrap()
        };
        let in_sync = |s: &serde_json::Value| {
            s["accounts"]
                .as_array()
                .is_some_and(|a| a.len() == 2 && a.iter().all(|a| a["status"] == "in_sync"))
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !in_sync(&status()) {
            assert!(std::time::Instant::now() < deadline, "not in sync: {}", status());
            std::thread::sleep(Duration::from_millis(100));
        }
        let rss_before = proc_status_kib(pid, "VmRSS:");

        // The flood: as many connections as this process may hold, up to 3,000 (each is a descriptor here).
        let n = usize::try_from(soft_nofile().saturating_sub(300).min(3000)).unwrap_or(3000);
        assert!(n > 384, "this process may open only {} files", soft_nofile());
        let flood = Flood::start(addr, n);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while flood.opened.load(Ordering::SeqCst) < n as u64 {
            assert!(
                std::time::Instant::now() < deadline,
                "the flood could open only {} connections",
                flood.opened.load(Ordering::SeqCst)
            );
            std::thread::sleep(Duration::from_millis(50));
        }

        // Health answers during the flood.
        let mut slowest = Duration::ZERO;
        for _ in 0..5 {
            let (line, body, took) = get(addr, "/healthz").unwrap_or_else(|e| panic!("/healthz during the flood: {e}"));
            assert!(line.contains("200") && body.trim() == "ok", "{line} {body}");
            slowest = slowest.max(took);
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            slowest < Duration::from_secs(2),
            "/healthz took {slowest:?} during the flood"
        );

        // An edit during the flood lands within one interval (no file watcher: the interval's read finds it).
        let file = dir.join("campaigns/spring-sale-search.yaml");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("budget: { daily: 50.00 }"));
        std::fs::write(
            &file,
            text.replace("budget: { daily: 50.00 }", "budget: { daily: 61.00 }"),
        )
        .unwrap();
        let edited = std::time::Instant::now();
        let want = Value::Money(adsctl::model::Money::parse("61.00", Currency::from_code("USD").unwrap()).unwrap());
        loop {
            let live = live_budget(&memory);
            if live.as_ref() == Some(&want) {
                break;
            }
            assert!(
                edited.elapsed() < INTERVAL + Duration::from_secs(4),
                "the edit was not applied within one interval ({INTERVAL:?}) during the flood: live {live:?}; {}",
                status()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let applied_after = edited.elapsed();

        let s = status();
        assert_eq!(s["config"]["valid"], true, "{s}");
        assert!(s["config"]["read_error"].is_null(), "{s}");
        let fds = open_fds(pid);
        let rss_during = proc_status_kib(pid, "VmRSS:");
        let held = flood.held.load(Ordering::SeqCst);
        let opened = flood.opened.load(Ordering::SeqCst);
        assert!(
            child.0.try_wait().unwrap().is_none(),
            "the daemon stopped during the flood"
        );
        drop(flood);

        match (rss_before, rss_during, fds) {
            (Some(before), Some(during), Some(fds)) => {
                assert!(fds <= 300, "{fds} descriptors (256 connections at most)");
                assert!(
                    during < before + 64 * 1024,
                    "memory grew from {before} KiB to {during} KiB under the flood"
                );
            }
            // not Linux: no /proc to measure with
            other => eprintln!("flood: memory and descriptors not measured here (no /proc): {other:?}"),
        }
        eprintln!(
            "flood: {opened} connections opened, {held} held at the end; /healthz at most {slowest:?}; edit applied \
             after {applied_after:?} (interval {INTERVAL:?}); daemon: {fds:?} descriptors, RSS {rss_before:?} -> \
             {rss_during:?} KiB"
        );

        // Still running (`--no-file-watch`), until SIGTERM; then a clean exit.
        std::thread::sleep(Duration::from_millis(300));
        assert!(child.0.try_wait().unwrap().is_none());
        let st = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
        assert!(st.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let exit = loop {
            if let Some(s) = child.0.try_wait().unwrap() {
                break s;
            }
            assert!(std::time::Instant::now() < deadline, "did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        reader.join().unwrap();
        log.extend(rx.try_iter());
        assert!(exit.success(), "exit {exit:?}: {log:#?}");
        assert!(
            !log.iter()
                .any(|l| l.contains("Too many open files") || l.contains("invalid config")),
            "{log:#?}"
        );
    }
}

/// The real reconciler and the Google Ads connector against the in-process emulator: two accounts, each on its
/// own emulator, so that a 503 storm on one leaves the other alone.
mod emulator {
    use super::*;
    use adsctl::connectors::{Connector, ConnectorError, ReadRequest};
    use adsctl::emulator::platform::defaults;
    use adsctl::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
    use adsctl::model::Money;
    use adsctl::platforms::google_ads::config::{Credentials, Settings, StaticCredentials};
    use adsctl::platforms::google_ads::GoogleAdsConnector;
    use adsctl::reconcile::engine::EngineReconciler;
    use adsctl::secret::Secret;

    const CUSTOMER: &str = "1234567890";

    const CAMPAIGN: &str = "  - name: Spring Sale
    account: ACCOUNT
    channel: search
    status: enabled
    budget: { daily: BUDGET }
    bidding:
      maximize_conversions: { target_cpa: 12.50 }
    network: { google_search: true, search_network: false }
    ad_groups:
      - name: Running Shoes
        status: enabled
        default_cpc: 1.20
        keywords:
          - { text: running shoes, match: phrase }
        ads:
          - status: enabled
            responsive_search:
              headlines:
                - Spring Sale on Shoes
                - Free Returns on Every Order
                - Shop Trail Runners Today
              descriptions:
                - Up to 40% off running and trail shoes.
                - Free shipping on orders over $50.
              final_url: https://www.example.com/shoes
";

    fn creds() -> Credentials {
        Credentials {
            client_id: defaults::GOOGLE_CLIENT_ID.into(),
            client_secret: Secret::new(defaults::GOOGLE_CLIENT_SECRET),
            developer_token: Secret::new(defaults::GOOGLE_DEVELOPER_TOKEN),
            refresh_token: Secret::new(defaults::GOOGLE_REFRESH_TOKEN),
            login_customer_id: None,
        }
    }

    fn connector(acct: &Account) -> Result<GoogleAdsConnector, ConnectorError> {
        let mut s = Settings::from_lookup(acct, |_| None);
        s.retry_min_delay = Duration::from_millis(5);
        s.retry_max_delay = Duration::from_millis(20);
        s.max_retries = 1;
        s.max_retry_delay = Duration::from_secs(1);
        s.timeout = Duration::from_secs(5);
        s.poll_interval = Duration::from_millis(20);
        GoogleAdsConnector::with_settings(acct, Arc::new(StaticCredentials(creds())), s)
    }

    fn campaigns(healthy_budget: &str) -> String {
        format!(
            "campaigns:\n{}{}",
            CAMPAIGN.replace("ACCOUNT", "healthy").replace("BUDGET", healthy_budget),
            CAMPAIGN.replace("ACCOUNT", "stormy").replace("BUDGET", "30")
        )
    }

    /// The live campaign of `account` as the connector reads it.
    async fn live(project: &Project, name: &str) -> Option<Resource> {
        let acct = project.accounts.get(name)?;
        let c = connector(acct).ok()?;
        let snap = c.read(acct, &ReadRequest::default()).await.ok()?;
        snap.resources
            .into_iter()
            .find(|r| r.kind == Kind::Campaign && r.address.name() == Some("Spring Sale"))
    }

    fn usd(units: i64) -> Value {
        Value::Money(Money::from_micros(units * 1_000_000))
    }

    async fn faults(h: &EmulatorHandle, spec: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/_emulator/faults", h.url()))
            .json(&serde_json::json!({ "spec": spec }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{:?}", r.text().await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn edits_drift_and_a_503_storm_against_the_emulator() {
        let healthy_emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let stormy_emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        let account = |name: &str, url: String| {
            format!(
                "  {name}:\n    platform: google_ads\n    customer_id: 123-456-7890\n    currency: USD\n    \
                 on_removed: pause\n    endpoint: {url}\n"
            )
        };
        std::fs::write(
            dir.join("adsctl.yaml"),
            format!(
                "accounts:\n{}{}",
                account("healthy", healthy_emu.url()),
                account("stormy", stormy_emu.url())
            ),
        )
        .unwrap();
        std::fs::create_dir(dir.join("campaigns")).unwrap();
        std::fs::write(dir.join("campaigns/spring.yaml"), campaigns("50")).unwrap();
        let project = adsctl::spec::load(&dir).expect("valid config");
        assert_eq!(project.accounts["healthy"].platform_id, CUSTOMER);

        let resolver = |a: &Account| -> Result<Arc<dyn Connector>, ConnectorError> { Ok(Arc::new(connector(a)?)) };
        let reconciler = EngineReconciler::open_with(&dir, Box::new(resolver)).await.unwrap();
        let mut cfg = test_config(&dir);
        cfg.interval = Duration::from_millis(400);
        let served = serve(tmp, Arc::new(reconciler), cfg).await;

        // Both accounts converge.
        let budget_of = |r: &Resource| r.fields.get("budget.daily").cloned();
        poll(Duration::from_secs(20), "the healthy campaign created", || async {
            live(&project, "healthy")
                .await
                .filter(|r| budget_of(r) == Some(usd(50)))
        })
        .await;
        poll(Duration::from_secs(20), "the stormy campaign created", || async {
            live(&project, "stormy").await.filter(|r| budget_of(r) == Some(usd(30)))
        })
        .await;

        // An edit of the YAML is applied within seconds.
        atomic_write(&dir.join("campaigns/spring.yaml"), &campaigns("60"));
        let campaign = poll(Duration::from_secs(20), "the edit applied", || async {
            live(&project, "healthy")
                .await
                .filter(|r| budget_of(r) == Some(usd(60)))
        })
        .await;

        // Drift through the emulator's admin API (a change in the web interface) is repaired on the next interval.
        let rn = format!("customers/{CUSTOMER}/campaigns/{}", campaign.id.as_deref().unwrap());
        let r = reqwest::Client::new()
            .post(format!("{}/_emulator/google_ads/drift", healthy_emu.url()))
            .json(&serde_json::json!({"resourceName": rn, "set": {"status": "PAUSED"}}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{:?}", r.text().await);
        poll(Duration::from_secs(20), "the drift repaired", || async {
            live(&project, "healthy")
                .await
                .filter(|r| r.fields.get("status") == Some(&Value::str("enabled")))
        })
        .await;

        // A 503 storm on the stormy account's platform: it backs off; the healthy one keeps its interval.
        faults(&stormy_emu, "5xx=1").await;
        let failing = poll(Duration::from_secs(20), "the stormy account failing", || async {
            let s = served.account_status("stormy").await;
            (s["status"] == "failing").then_some(s)
        })
        .await;
        let before = served.account_status("healthy").await["reconciles"].as_u64().unwrap();
        let stormy_before = failing["reconciles"].as_u64().unwrap();
        poll(
            Duration::from_secs(20),
            "6 more reconciles of the healthy account",
            || async {
                let s = served.account_status("healthy").await;
                (s["reconciles"].as_u64().unwrap() >= before + 6 && s["status"] == "in_sync").then_some(())
            },
        )
        .await;
        let stormy = served.account_status("stormy").await;
        let attempts = stormy["reconciles"].as_u64().unwrap() - stormy_before;
        // Exponential: 100, 200, 400, 800 ms … (± jitter) against the healthy account's steady 400 ms.
        assert!(
            attempts < 6,
            "the failing account retried {attempts} times in 6 healthy intervals"
        );
        assert!(stormy["consecutive_failures"].as_u64().unwrap() >= 3, "{stormy}");
        assert!(stormy["last_error"]["message"].as_str().is_some(), "{stormy}");
        let (_, metrics) = served.get("/metrics").await;
        assert!(
            metrics.contains("adsctl_api_errors_total{platform=\"google_ads\""),
            "{metrics}"
        );
        // The storm ends: the account recovers.
        faults(&stormy_emu, "").await;
        served
            .handle
            .commands
            .send(adsctl::reconcile::Command::ReconcileNow(Some("stormy".into())))
            .await
            .unwrap();
        poll(Duration::from_secs(20), "the stormy account recovered", || async {
            let s = served.account_status("stormy").await;
            (s["status"] == "in_sync").then_some(())
        })
        .await;
        served.stop().await;
    }

    const META_CAMPAIGN: &str = "  - name: Summer Sale
    account: social
    objective: traffic
    special_ad_categories: []
    status: active
    budget: { daily: BUDGET }
    bid_strategy: lowest_cost_without_cap
    ad_sets:
      - name: US 25-45
        status: active
        optimization_goal: link_clicks
        billing_event: impressions
        targeting:
          countries: [US]
          age: { min: 25, max: 45 }
        ads:
          - name: Shoes link ad
            status: active
            creative:
              page_id: \"1122334455\"
              link: https://www.example.com/shoes
              message: Summer is here.
";

    fn meta_connector(acct: &Account) -> Result<adsctl::platforms::meta::MetaConnector, ConnectorError> {
        use adsctl::platforms::meta::config::{MetaConfig, MetaCredentials};
        let cfg = MetaConfig {
            base_url: acct.endpoint.clone().unwrap_or_default(),
            retry_min_delay: Duration::from_millis(5),
            retry_max_delay: Duration::from_millis(20),
            regain_minute: Duration::from_millis(10),
            slow_down_max_delay: Duration::from_millis(20),
            calls_per_minute: 100_000,
            calls_per_hour: 1_000_000,
            request_timeout: Duration::from_secs(5),
            max_retries: 1,
            ..MetaConfig::default()
        };
        let creds = MetaCredentials {
            app_id: Some(defaults::META_APP_ID.into()),
            app_secret: Some(Secret::new(defaults::META_APP_SECRET)),
            access_token: Secret::new(defaults::META_ACCESS_TOKEN),
        };
        adsctl::platforms::meta::MetaConnector::with(acct, cfg, creds)
    }

    /// A Google Ads account and a Meta account, each on its own emulator: a 5xx storm on Meta backs the Meta
    /// account off while the Google one keeps its interval and still applies edits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_storm_on_meta_leaves_google_ads_alone() {
        let google_emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let meta_emu = Emulator::start(EmulatorConfig::default()).await.unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap();
        std::fs::write(
            dir.join("adsctl.yaml"),
            format!(
                "accounts:\n  search:\n    platform: google_ads\n    customer_id: 123-456-7890\n    currency: USD\n    \
                 endpoint: {}\n  social:\n    platform: meta\n    ad_account_id: act_1234567890\n    currency: USD\n    \
                 endpoint: {}\n",
                google_emu.url(),
                meta_emu.url()
            ),
        )
        .unwrap();
        let files = |budget: &str| {
            format!(
                "campaigns:\n{}{}",
                CAMPAIGN.replace("ACCOUNT", "search").replace("BUDGET", budget),
                META_CAMPAIGN.replace("BUDGET", "30")
            )
        };
        std::fs::write(dir.join("campaigns.yaml"), files("50")).unwrap();
        let project = adsctl::spec::load(&dir).unwrap_or_else(|e| panic!("{e}"));
        let resolver = |a: &Account| -> Result<Arc<dyn Connector>, ConnectorError> {
            match a.platform {
                Platform::Meta => Ok(Arc::new(meta_connector(a)?)),
                _ => Ok(Arc::new(connector(a)?)),
            }
        };
        let reconciler = EngineReconciler::open_with(&dir, Box::new(resolver)).await.unwrap();
        let mut cfg = test_config(&dir);
        cfg.interval = Duration::from_millis(400);
        let served = serve(tmp, Arc::new(reconciler), cfg).await;
        let s = poll(Duration::from_secs(20), "both accounts in sync", || async {
            let s = served.status().await;
            let accounts = s["accounts"].as_array().unwrap();
            (accounts.len() == 2 && accounts.iter().all(|a| a["status"] == "in_sync")).then_some(s.clone())
        })
        .await;
        assert_eq!(s["accounts"][1]["platform"], "meta", "{s}");

        faults(&meta_emu, "5xx=1").await;
        poll(Duration::from_secs(20), "the Meta account failing", || async {
            let s = served.account_status("social").await;
            (s["status"] == "failing").then_some(())
        })
        .await;
        // Google keeps working: an edit is applied while Meta is down.
        atomic_write(&dir.join("campaigns.yaml"), &files("60"));
        let budget = |r: &Resource| r.fields.get("budget.daily").cloned();
        poll(
            Duration::from_secs(20),
            "the Google edit applied during the Meta storm",
            || async { live(&project, "search").await.filter(|r| budget(r) == Some(usd(60))) },
        )
        .await;
        let social = served.account_status("social").await;
        assert_eq!(social["status"], "failing");
        assert!(social["consecutive_failures"].as_u64().unwrap() >= 2, "{social}");
        let (_, metrics) = served.get("/metrics").await;
        assert!(
            metrics.contains("adsctl_api_errors_total{platform=\"meta\""),
            "{metrics}"
        );
        served.stop().await;
    }
}

/// `adsctl watch --emulator` as a process: what a connector logs (a debug line per request here; a retry or a
/// rate-limit warning the same way) carries the account it belongs to, in the spans of its line.
mod connector_spans {
    use super::*;
    use adsctl::emulator::platform::defaults;
    use serde_json::Value as Json;
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};

    /// Never leaves the daemon running when the test fails.
    struct KillOnDrop(Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            if let Ok(None) = self.0.try_wait() {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }

    /// The `account` field of every span of a JSON log line.
    fn span_accounts(line: &Json) -> Vec<&str> {
        line["spans"]
            .as_array()
            .map(|spans| spans.iter().filter_map(|s| s["account"].as_str()).collect())
            .unwrap_or_default()
    }

    /// The span named `name` of a line, if any.
    fn span<'a>(line: &'a Json, name: &str) -> Option<&'a Json> {
        line["spans"].as_array()?.iter().find(|s| s["name"] == name)
    }

    #[test]
    fn connector_lines_carry_their_account() {
        let (_tmp, dir) = common::example("quickstart");
        let child = Command::new(env!("CARGO_BIN_EXE_adsctl"))
            .args([
                "watch",
                "--emulator",
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--interval",
                "1h",
                "--no-file-watch",
            ])
            .arg(&dir)
            // a debug line per request from the connectors; the rest at info
            .env(
                "RUST_LOG",
                "info,adsctl::connectors=debug,adsctl::platforms=debug,adsctl::auth=debug",
            )
            .env_remove("ADSCTL_STATE_DIR")
            .env_remove("ADSCTL_BACKEND")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut child = KillOnDrop(child);
        let stderr = child.0.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut log = Vec::new();
        let mut addr = None;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while addr.is_none() && std::time::Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                let v: Json = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
                if v["message"] == "status server listening" {
                    addr = v["listen"].as_str().map(str::to_string);
                }
                log.push(line);
            }
        }
        let addr = addr.unwrap_or_else(|| panic!("no listen address in {log:#?}"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let http = reqwest::Client::new();
            poll(Duration::from_secs(60), "both accounts reconciled", || async {
                let s: Json = http
                    .get(format!("http://{addr}/api/v1/status"))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                let accounts = s["accounts"].as_array()?;
                (accounts.len() == 2 && accounts.iter().all(|a| a["status"] == "in_sync")).then_some(())
            })
            .await;
        });
        let status = Command::new("kill")
            .args(["-TERM", &child.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let exit = loop {
            if let Some(s) = child.0.try_wait().unwrap() {
                break s;
            }
            assert!(std::time::Instant::now() < deadline, "did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        reader.join().unwrap();
        log.extend(rx.try_iter());
        assert!(exit.success(), "exit status {exit:?}; log: {log:#?}");
        let lines: Vec<Json> = log
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
            .collect();

        // Each connector's lines belong to its account, and to no other: the two accounts are reconciled at the
        // same time, each in its own spans.
        for (target, account, platform) in [
            ("adsctl::platforms::google_ads", "acme-search", "google_ads"),
            ("adsctl::platforms::meta", "acme-social", "meta"),
        ] {
            let mine: Vec<&Json> = lines
                .iter()
                .filter(|l| l["target"].as_str().is_some_and(|t| t.starts_with(target)))
                .collect();
            assert!(!mine.is_empty(), "no line from {target}: {log:#?}");
            for l in &mine {
                let accounts = span_accounts(l);
                assert!(
                    !accounts.is_empty() && accounts.iter().all(|a| *a == account),
                    "a line of {target} that is not said to be {account}'s: {l}"
                );
            }
            // A request line: in the reconcile of its account, in the span of its request (with the platform's
            // request id when the response carries one, as the emulator's do).
            let request = mine
                .iter()
                .find(|l| span(l, "request").is_some_and(|r| r["status"].is_u64()))
                .unwrap_or_else(|| panic!("no line of {target} in a request span: {mine:#?}"));
            let reconcile = span(request, "reconcile").unwrap_or_else(|| panic!("not in a reconcile: {request}"));
            assert_eq!(reconcile["account"], account, "{request}");
            assert_eq!(reconcile["platform"], platform, "{request}");
            let req = span(request, "request").unwrap();
            assert_eq!(req["platform"], platform, "{request}");
            assert_eq!(req["account"], account, "{request}");
            assert!(
                mine.iter()
                    .any(|l| span(l, "request").is_some_and(|r| r["request_id"].is_string())),
                "no request id recorded for {target}: {mine:#?}"
            );
        }
        // The applies ran in batches, in the account's spans.
        assert!(
            lines
                .iter()
                .any(|l| span(l, "batch").is_some_and(|b| b["size"].is_u64()) && span(l, "account").is_some()),
            "no line in an apply batch: {log:#?}"
        );
        // No secret in any span (tokens ride in Meta's query strings, which spans never take).
        let secrets = [
            defaults::META_ACCESS_TOKEN,
            defaults::META_APP_SECRET,
            defaults::GOOGLE_DEVELOPER_TOKEN,
            defaults::GOOGLE_REFRESH_TOKEN,
            defaults::GOOGLE_CLIENT_SECRET,
        ];
        for l in &lines {
            let spans = l["spans"].to_string();
            assert!(
                !["access_token", "appsecret_proof", "Bearer", "?"]
                    .iter()
                    .any(|s| spans.contains(s))
                    && !secrets.iter().any(|s| spans.contains(s)),
                "a span field that may hold a secret: {l}"
            );
        }
    }
}
