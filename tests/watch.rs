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
    })?;
    let cfg: FakeConfig = serde_yaml::from_str(&text).map_err(|e| LoadError {
        message: "adsctl.yaml is invalid".into(),
        diagnostics: vec![format!("adsctl.yaml: {e}")],
    })?;
    let mut accounts = BTreeMap::new();
    for (name, a) in cfg.accounts {
        let currency = Currency::from_code(&a.currency).map_err(|e| LoadError {
            message: format!("account {name}: {e}"),
            diagnostics: vec![],
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
    })
}

#[async_trait]
impl Reconciler for Fake {
    async fn load(&self) -> Result<Project, LoadError> {
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
        let result = if p.failing.lock().unwrap().contains(&account.name) {
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
                api_calls: vec![adsctl::reconcile::ApiCalls {
                    platform: account.platform.as_str().into(),
                    code: "200".into(),
                    count: 2,
                    error: false,
                }],
                ..Default::default()
            })
        };
        *p.in_flight.lock().unwrap().entry(account.name.clone()).or_default() -= 1;
        result
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

struct Running {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    platform: Arc<FakePlatform>,
    handle: DaemonHandle,
    base: String,
    http: reqwest::Client,
    shutdown: CancellationToken,
    daemon: tokio::task::JoinHandle<()>,
    server: tokio::task::JoinHandle<()>,
}

impl Running {
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
    async fn stop(self) -> Arc<FakePlatform> {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.daemon)
            .await
            .expect("daemon stops")
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), self.server)
            .await
            .expect("server stops")
            .unwrap();
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
    let mut cfg = DaemonConfig::new(&dir);
    cfg.interval = Duration::from_secs(3600);
    cfg.debounce = Duration::from_millis(100);
    cfg.backoff = BackoffPolicy {
        base: Duration::from_millis(100),
        max: Duration::from_secs(30),
        jitter: true,
    };
    tweak(&mut cfg);
    let daemon = Daemon::new(fake, cfg);
    let handle = daemon.handle();
    let shutdown = CancellationToken::new();
    let server = StatusServer::bind(
        ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            token: None,
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
    Running {
        _dir: tmp,
        dir,
        platform,
        handle,
        base,
        http: reqwest::Client::new(),
        shutdown,
        daemon,
        server,
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
            s["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["last_sync"].is_string())
                .then_some(())
        })
        .await;
        let resp = r.http.get(format!("{}/metrics", r.base)).send().await.unwrap();
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"));
        let text = resp.text().await.unwrap();
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
            s["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["status"] == "in_sync")
                .then_some(())
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
            assert!(card.contains("expires <time"), "{card}");
        }
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no external URL"
        );
        assert!(!page.contains("<script"), "no script");
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
        for path in ["/", "/metrics", "/api/v1/status", "/api/v1/plan", "/readyz"] {
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
            // readyz: authorised, but no config loaded.
            let want = if path == "/readyz" { 503 } else { 200 };
            assert_eq!(r.status().as_u16(), want, "{path}");
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
