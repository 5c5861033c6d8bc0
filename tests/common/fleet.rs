//! Several real `adsctl watch` replicas sharing one PostgreSQL state (`common::pg`) and one emulator
//! (`common::emulated`, every platform's endpoint pointed at it): a project of N small Google Ads accounts (one
//! paused campaign and its budget each), what tests/replicas.rs and benches/replicas.rs drive.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use adsctl::store::PgStore;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::emulated::Emulated;
use super::pg::Postgres;
use super::Daemon;

/// A password in the state's URL (the test server trusts loopback, so any is accepted) that no output may show.
pub const PASSWORD: &str = "fleet-pw-not-shown";

pub struct Fleet {
    /// The project, the state's URL (with [`PASSWORD`]) and a connection of the test's own.
    pub url: String,
    pub db: PgStore,
    pub emu: Emulated,
    pub accounts: Vec<String>,
    pub lease: Duration,
    started: usize,
    // dropped last: the replicas (owned by the caller) are gone by then
    _pg: Postgres,
}

/// One replica: its name in the test (`r1`, `r2`, …), its id (host-pid-random) and the process.
pub struct Replica {
    pub name: String,
    pub id: String,
    pub daemon: Daemon,
}

fn customer_id(i: usize) -> String {
    let n = format!("{:010}", 1_000_000_000 + i);
    format!("{}-{}-{}", &n[..3], &n[3..6], &n[6..])
}

/// The project: `n` Google Ads accounts, one paused campaign `Brand` with a daily budget each.
fn project(n: usize) -> (Vec<String>, String, String) {
    let mut accounts = Vec::new();
    let mut yaml = String::from("accounts:\n");
    let mut campaigns = String::from("campaigns:\n");
    for i in 0..n {
        let name = format!("acct-{i:04}");
        yaml.push_str(&format!(
            "  {name}:\n    platform: google_ads\n    customer_id: {}\n    currency: USD\n    time_zone: America/New_York\n",
            customer_id(i)
        ));
        campaigns.push_str(&format!(
            "  - name: Brand\n    account: {name}\n    channel: search\n    status: paused\n    budget: {{ daily: {} }}\n    bidding: {{ manual_cpc: {{}} }}\n",
            10 + i % 7
        ));
        accounts.push(name);
    }
    (accounts, yaml, campaigns)
}

impl Fleet {
    /// PostgreSQL migrated, the emulator seeded with `n` customers, the project written; no replica yet.
    pub fn new(n: usize, lease: Duration) -> Fleet {
        let pg = Postgres::start();
        let url = pg
            .database()
            .replacen("postgres://postgres@", &format!("postgres://postgres:{PASSWORD}@"), 1);
        let db = PgStore::connect(&url).expect("connect");
        db.migrate().expect("migrate");
        let (accounts, yaml, campaigns) = project(n);
        let emu = Emulated::with_config(&[("adsctl.yaml", &yaml), ("campaigns.yaml", &campaigns)], |config| {
            // every answer takes a little while, as a platform's does: a reconcile is in flight long enough to be
            // killed in the middle of it
            config.faults = adsctl::emulator::FaultSpec::parse("latency=40ms").expect("a fault spec");
            for i in 0..n {
                config
                    .seed
                    .google_ads
                    .customers
                    .push(adsctl::emulator::config::GoogleCustomerSeed {
                        customer_id: customer_id(i).replace('-', ""),
                        currency: "USD".into(),
                        time_zone: "America/New_York".into(),
                        descriptive_name: None,
                        manager: false,
                        clients: Vec::new(),
                    });
            }
        });
        Fleet {
            url,
            db,
            emu,
            accounts,
            lease,
            started: 0,
            _pg: pg,
        }
    }

    /// The state directory of replica `name` (what stays per machine: the audit log, auth health).
    fn state_dir(&self, name: &str) -> PathBuf {
        self.emu.state.with_extension(name)
    }

    /// Start the next replica and wait for its status server.
    pub fn start_replica(&mut self) -> Replica {
        let url = self.url.clone();
        self.start_replica_at(&url)
    }

    /// [`Fleet::start_replica`] reaching the database at `url` (through a proxy that can cut it off).
    pub fn start_replica_at(&mut self, url: &str) -> Replica {
        self.start_replica_with(url, &[], &[])
    }

    /// [`Fleet::start_replica_at`] with more environment variables and arguments for the replica.
    pub fn start_replica_with(&mut self, url: &str, env: &[(&str, &str)], args: &[&str]) -> Replica {
        self.started += 1;
        let name = format!("r{}", self.started);
        let mut cmd = self.emu.cmd(&self.state_dir(&name));
        cmd.env("ADSCTL_STATE_URL", url)
            .env("RUST_LOG", "info,adsctl::reconcile::daemon=debug")
            .envs(env.iter().copied())
            .args([
                "watch",
                "--log-format",
                "json",
                "--listen",
                "127.0.0.1:0",
                "--no-file-watch",
            ])
            .args(["--interval", "1h", "--lease"])
            .arg(format!("{}ms", self.lease.as_millis()))
            .args(args)
            .arg(&self.emu.dir);
        let mut daemon = Daemon::spawn(cmd);
        let id = wait_for(Duration::from_secs(30), "the replica's id in its log", || {
            daemon.log().iter().find_map(|l| {
                let v: Value = serde_json::from_str(l).ok()?;
                (v["message"] == "replica of the daemon on the PostgreSQL state")
                    .then(|| v["replica"].as_str().map(str::to_string))
                    .flatten()
            })
        });
        Replica { name, id, daemon }
    }

    /// The database's port.
    pub fn port(&self) -> u16 {
        self._pg.port()
    }

    /// The live leases: holder → accounts.
    pub fn holders(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for l in self.db.leases().expect("leases") {
            if l.live {
                out.entry(l.holder).or_default().insert(l.account);
            }
        }
        out
    }

    /// The campaigns (by name) of every customer in the emulator.
    pub fn campaigns(&self) -> BTreeMap<String, Vec<String>> {
        let dump = self.emu.dump("google_ads");
        let mut out = BTreeMap::new();
        let customers = dump["customers"].as_object().cloned().unwrap_or_default();
        for (id, c) in customers {
            // tables: resource type → key → { v: the object, … }; a removed campaign is not counted
            let names: Vec<String> = c["tables"]
                .as_object()
                .and_then(|t| {
                    t.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("campaign"))
                        .map(|(_, v)| v)
                })
                .and_then(Value::as_object)
                .map(|rows| {
                    rows.values()
                        .map(|o| &o["v"])
                        .filter(|v| v["status"] != "REMOVED")
                        .filter_map(|v| v["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            out.insert(id, names);
        }
        out
    }

    /// Whether every account has its campaign, exactly once (a second `Brand` is a duplicate create).
    pub fn converged(&self) -> bool {
        let c = self.campaigns();
        (0..self.accounts.len()).all(|i| {
            c.get(&customer_id(i).replace('-', ""))
                .is_some_and(|names| names.len() == 1 && names[0] == "Brand")
        })
    }

    /// Accounts with more than one campaign.
    pub fn duplicates(&self) -> Vec<(String, Vec<String>)> {
        self.campaigns().into_iter().filter(|(_, n)| n.len() > 1).collect()
    }
}

/// Call `f` every 50 ms until it returns `Some`; panic with `what` after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One reconcile of one account by one replica, from the replica's log: start and end (the kill, when the
/// replica died in it).
#[derive(Clone, Debug)]
pub struct Span {
    pub replica: String,
    pub account: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub finished: bool,
}

fn at(v: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v["timestamp"].as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The reconciles in a replica's log; one in flight at the end ends at `killed_at` (or is still running: now).
pub fn reconciles(replica: &str, log: &[String], killed_at: Option<DateTime<Utc>>) -> Vec<Span> {
    let mut open: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let mut out = Vec::new();
    for line in log {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let (Some(account), Some(t)) = (v["account"].as_str(), at(&v)) else {
            continue;
        };
        match v["message"].as_str() {
            Some("reconcile started under the lease") => {
                open.insert(account.to_string(), t);
            }
            Some("reconciled")
            | Some("reconcile failed; backing off")
            | Some("reconcile stopped by shutdown before it finished") => {
                if let Some(start) = open.remove(account) {
                    out.push(Span {
                        replica: replica.to_string(),
                        account: account.to_string(),
                        start,
                        end: t,
                        finished: true,
                    });
                }
            }
            _ => {}
        }
    }
    for (account, start) in open {
        out.push(Span {
            replica: replica.to_string(),
            account,
            start,
            end: killed_at.unwrap_or_else(Utc::now),
            finished: false,
        });
    }
    out
}

/// Pairs of reconciles of one account by two replicas that overlap in time.
pub fn overlaps(spans: &[Span]) -> Vec<(Span, Span)> {
    let mut by_account: BTreeMap<&str, Vec<&Span>> = BTreeMap::new();
    for s in spans {
        by_account.entry(&s.account).or_default().push(s);
    }
    let mut out = Vec::new();
    for list in by_account.values_mut() {
        list.sort_by_key(|s| s.start);
        for w in list.windows(2) {
            if w[0].replica != w[1].replica && w[1].start < w[0].end {
                out.push((w[0].clone(), w[1].clone()));
            }
        }
    }
    out
}

/// The load average over the last minute.
pub fn load() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(0.0)
}

/// A TCP proxy on loopback in front of the database that can cut every connection through it and refuse new
/// ones: a network partition between one replica and the database.
pub struct Proxy {
    pub port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    streams: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Proxy {
    pub fn start(upstream: u16) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a proxy port");
        let port = listener.local_addr().unwrap().port();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let streams = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (c, st) = (cut.clone(), streams.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                if c.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let pairs = [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server.try_clone().unwrap(), client.try_clone().unwrap()),
                ];
                st.lock().unwrap().extend([client, server]);
                for (mut from, mut to) in pairs {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, cut, streams }
    }

    /// Close every connection through the proxy and refuse new ones.
    pub fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for s in self.streams.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Let connections through again.
    pub fn heal(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}
