//! Reliability harness: the adsctl binary against the in-process emulator.
//!
//! - crash safety: an apply of many creates killed with SIGKILL at seeded random points; after each kill, apply
//!   again → no duplicate object in the emulator's dump, plan empty;
//! - faults: 20 % mixed faults (5xx, 429, timeouts, lost-after-commit responses, read lag) → apply converges,
//!   no duplicates, retries reported;
//! - bad input: every directory of the invalid corpus and generated garbage → exit 1 with a location, never a
//!   panic, nothing sent to the emulator.
//!
//! Bounded for CI (20 kill points, 64 garbage cases through the loader); `ADSCTL_LONG_TESTS=1` runs 100 kill
//! points and ten times the garbage. `ADSCTL_RELIABILITY_SEED=N` changes the seed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use adsctl::emulator::platform::defaults;
use adsctl::emulator::{Emulator, EmulatorConfig, EmulatorHandle, FaultSpec};
use serde_json::Value;

fn long_mode() -> bool {
    std::env::var("ADSCTL_LONG_TESTS").is_ok_and(|v| v == "1")
}

fn seed() -> u64 {
    std::env::var("ADSCTL_RELIABILITY_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20261130)
}

struct Emu {
    rt: tokio::runtime::Runtime,
    handle: Option<EmulatorHandle>,
}

impl Emu {
    fn start(mut config: EmulatorConfig) -> Emu {
        config.review_delay = Duration::ZERO;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let handle = rt.block_on(Emulator::start(config)).unwrap();
        Emu {
            rt,
            handle: Some(handle),
        }
    }
    fn h(&self) -> &EmulatorHandle {
        self.handle.as_ref().unwrap()
    }
    fn url(&self) -> String {
        self.h().url()
    }
    fn reset(&self) {
        for p in self.h().platforms().all() {
            p.reset();
        }
        self.h().counters().reset();
    }
    fn requests(&self) -> u64 {
        self.h().counters().snapshot().total_requests
    }
    /// Requests that write: Google mutates, Meta POSTs (batches and single calls).
    fn writes(&self) -> u64 {
        self.h()
            .counters()
            .snapshot()
            .endpoints
            .iter()
            .filter(|(e, _)| e.contains(":mutate") || e.starts_with("POST /v25.0"))
            .map(|(_, s)| s.requests)
            .sum()
    }
    fn dump(&self) -> Value {
        let mut out = serde_json::Map::new();
        for p in self.h().platforms().all() {
            out.insert(p.name().to_string(), p.dump());
        }
        Value::Object(out)
    }
}

impl Drop for Emu {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = self.rt.block_on(h.shutdown());
        }
    }
}

/// The adsctl binary with the emulator's credentials, quick retries and no colour.
fn adsctl(url: &str, state: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_adsctl"));
    c.env("ADSCTL_CONFIRM_READ_DELAY_MS", "20");
    for k in [
        "ADSCTL_BACKEND",
        "ADSCTL_GOOGLE_OAUTH_TOKEN_URL",
        "GOOGLE_ADS_LOGIN_CUSTOMER_ID",
        "RUST_LOG",
    ] {
        c.env_remove(k);
    }
    c.env("ADSCTL_STATE_DIR", state)
        .env("ADSCTL_GOOGLE_ADS_ENDPOINT", url)
        .env("ADSCTL_META_ENDPOINT", url)
        .env("GOOGLE_ADS_CLIENT_ID", defaults::GOOGLE_CLIENT_ID)
        .env("GOOGLE_ADS_CLIENT_SECRET", defaults::GOOGLE_CLIENT_SECRET)
        .env("GOOGLE_ADS_DEVELOPER_TOKEN", defaults::GOOGLE_DEVELOPER_TOKEN)
        .env("GOOGLE_ADS_REFRESH_TOKEN", defaults::GOOGLE_REFRESH_TOKEN)
        .env("FACEBOOK_APP_ID", defaults::META_APP_ID)
        .env("FACEBOOK_APP_SECRET", defaults::META_APP_SECRET)
        .env("FACEBOOK_ACCESS_TOKEN", defaults::META_ACCESS_TOKEN)
        .env("ADSCTL_GOOGLE_ADS_RETRY_MIN_MS", "10")
        .env("ADSCTL_GOOGLE_ADS_RETRY_MAX_MS", "100")
        .env("ADSCTL_GOOGLE_ADS_MAX_RETRIES", "10")
        .env("ADSCTL_GOOGLE_ADS_MAX_RETRY_DELAY_SECS", "5")
        .env("ADSCTL_GOOGLE_ADS_TIMEOUT_MS", "1000")
        .env("ADSCTL_GOOGLE_ADS_POLL_MS", "20")
        .env("ADSCTL_META_RETRY_MIN_MS", "10")
        .env("ADSCTL_META_RETRY_MAX_MS", "100")
        .env("ADSCTL_META_MAX_RETRIES", "10")
        .env("ADSCTL_META_TIMEOUT_MS", "1000")
        .env("ADSCTL_META_REGAIN_MINUTE_MS", "50")
        .env("ADSCTL_META_SLOW_DOWN_MAX_MS", "20")
        .env("NO_COLOR", "1");
    c
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A project of `campaigns` Google and Meta campaigns, each with 2 ad groups (ad sets) of 2 ads (and 2 keywords).
fn project(dir: &Path, url: &str, campaigns: usize) {
    std::fs::create_dir_all(dir.join("campaigns")).unwrap();
    std::fs::write(
        dir.join("adsctl.yaml"),
        format!(
            "accounts:\n  search:\n    platform: google_ads\n    customer_id: 1234567890\n    currency: USD\n    \
             endpoint: {url}\n  social:\n    platform: meta\n    ad_account_id: act_1234567890\n    currency: USD\n    \
             endpoint: {url}\n"
        ),
    )
    .unwrap();
    let mut y = String::from("campaigns:\n");
    for c in 0..campaigns {
        y.push_str(&format!(
            "  - name: Search {c}\n    account: search\n    channel: search\n    status: enabled\n    \
             budget: {{ daily: {}.00 }}\n    bidding: {{ manual_cpc: {{}} }}\n    \
             network: {{ google_search: true, search_network: false, content_network: false }}\n    \
             eu_political_advertising: false\n    ad_groups:\n",
            10 + c
        ));
        for g in 0..2 {
            y.push_str(&format!(
                "      - name: Group {g}\n        status: enabled\n        type: search_standard\n        \
                 default_cpc: 1.{g}0\n        keywords:\n          - {{ text: shoes {c} {g}, match: phrase }}\n          \
                 - {{ text: boots {c} {g}, match: exact }}\n        ads:\n"
            ));
            for a in 0..2 {
                y.push_str(&format!(
                    "          - status: enabled\n            responsive_search:\n              headlines: [Shoes {c} {g} {a}, \
                     Free Returns, Shop Today]\n              descriptions: [Up to 40% off shoes., Free shipping over $50.]\n              \
                     final_url: https://www.example.com/{c}/{g}/{a}\n"
                ));
            }
        }
        y.push_str(&format!(
            "  - name: Social {c}\n    account: social\n    objective: traffic\n    special_ad_categories: []\n    \
             status: active\n    budget: {{ daily: {} }}\n    bid_strategy: lowest_cost_without_cap\n    ad_sets:\n",
            10 + c
        ));
        for g in 0..2 {
            y.push_str(&format!(
                "      - name: Set {g}\n        status: active\n        optimization_goal: link_clicks\n        \
                 billing_event: impressions\n        targeting: {{ countries: [US], age: {{ min: 25, max: 45 }} }}\n        ads:\n"
            ));
            for a in 0..2 {
                y.push_str(&format!(
                    "          - name: Ad {a}\n            status: active\n            creative:\n              \
                     page_id: \"1122334455\"\n              link: https://www.example.com/s/{c}/{g}/{a}\n              \
                     message: Spring {c} {g} {a}\n              headline: Spring Sale\n              call_to_action: shop_now\n"
                ));
            }
        }
    }
    std::fs::write(dir.join("campaigns/all.yaml"), y).unwrap();
}

/// Live objects that share an identity (Google: same parent and name / keyword / final URL; Meta: same kind,
/// parent and name). Removed objects do not count.
fn duplicates(dump: &Value) -> Vec<String> {
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    if let Some(customers) = dump.pointer("/google_ads/customers").and_then(Value::as_object) {
        for (cid, c) in customers {
            let Some(tables) = c.get("tables").and_then(Value::as_object) else {
                continue;
            };
            for (table, rows) in tables {
                for row in rows.as_object().into_iter().flat_map(|r| r.values()) {
                    let v = &row["v"];
                    if v["status"] == "REMOVED" {
                        continue;
                    }
                    let key = match table.as_str() {
                        "Campaign" | "CampaignBudget" | "Label" | "UserList" => format!("{}", v["name"]),
                        "AdGroup" => format!("{} {}", v["campaign"], v["name"]),
                        "AdGroupCriterion" => format!("{} {}", v["adGroup"], v["keyword"]),
                        "AdGroupAd" => format!("{} {}", v["adGroup"], v["ad"]["finalUrls"]),
                        _ => continue,
                    };
                    *seen.entry(format!("google {cid} {table} {key}")).or_default() += 1;
                }
            }
        }
    }
    if let Some(objects) = dump.pointer("/meta/objects").and_then(Value::as_object) {
        for o in objects.values() {
            let f = &o["fields"];
            if matches!(f["status"].as_str(), Some("DELETED") | Some("ARCHIVED")) {
                continue;
            }
            let parent = if f["adset_id"].is_null() {
                &f["campaign_id"]
            } else {
                &f["adset_id"]
            };
            *seen
                .entry(format!("meta {} {} {} {}", o["account"], o["kind"], parent, f["name"]))
                .or_default() += 1;
        }
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, n)| format!("{n}× {k}"))
        .collect()
}

/// Meta ad creatives no live ad uses.
fn orphans(dump: &Value) -> usize {
    let Some(objects) = dump.pointer("/meta/objects").and_then(Value::as_object) else {
        return 0;
    };
    let used: std::collections::BTreeSet<String> = objects
        .values()
        .filter(|o| o["kind"] == "Ad")
        .filter_map(|o| o.pointer("/fields/creative/id").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    objects
        .values()
        .filter(|o| o["kind"] == "AdCreative")
        .filter(|o| o["id"].as_str().is_some_and(|id| !used.contains(id)))
        .count()
}

/// Whether a dumped object is an apply lease (labels that come and go with every apply, by design).
fn is_lease(o: &Value) -> bool {
    let name = o
        .pointer("/v/name")
        .or_else(|| o.pointer("/fields/name"))
        .or_else(|| o.get("name"))
        .and_then(Value::as_str);
    name.is_some_and(|n| n.starts_with("adsctl-lease"))
}

/// Objects per Google table / Meta kind (removed ones included), leases left out.
fn per_kind(dump: &Value) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for c in dump
        .pointer("/google_ads/customers")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|c| c.values())
    {
        for (t, rows) in c["tables"].as_object().into_iter().flatten() {
            *out.entry(format!("google {t}")).or_default() += rows
                .as_object()
                .map_or(0, |r| r.values().filter(|o| !is_lease(o)).count());
        }
    }
    for o in dump
        .pointer("/meta/objects")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|o| o.values())
        .filter(|o| !is_lease(o))
    {
        *out.entry(format!("meta {}", o["kind"].as_str().unwrap_or("?")))
            .or_default() += 1;
    }
    out
}

fn live_objects(dump: &Value) -> usize {
    let g: usize = dump
        .pointer("/google_ads/customers")
        .and_then(Value::as_object)
        .map(|cs| {
            cs.values()
                .flat_map(|c| c["tables"].as_object().into_iter().flat_map(|t| t.values()))
                .map(|rows| rows.as_object().map_or(0, |r| r.len()))
                .sum()
        })
        .unwrap_or(0);
    g + dump
        .pointer("/meta/objects")
        .and_then(Value::as_object)
        .map_or(0, |o| o.len())
}

fn plan_is_empty(url: &str, dir: &Path, state: &Path) -> Result<(), String> {
    let o = adsctl(url, state)
        .args(["plan", "--detailed-exitcode"])
        .arg(dir)
        .output()
        .unwrap();
    if o.status.code() == Some(0) {
        Ok(())
    } else {
        Err(text(&o))
    }
}

/// A plan of `pruned` (the repository without `Search 0` and `Social 0`) by a runner with no state: no object is
/// adopted or refused as someone else's (each carries its marker, made in the same request as the object), and
/// the two dropped campaigns, where the killed apply made them, are paused.
fn fresh_runner_sees_what_the_killed_apply_made(
    emu: &Emu,
    url: &str,
    pruned: &Path,
    state: &Path,
) -> Result<(), String> {
    let o = adsctl(url, state)
        .args(["plan", "--json"])
        .arg(pruned)
        .output()
        .unwrap();
    let plan: Value = serde_json::from_slice(&o.stdout).map_err(|e| format!("{e}: {}", text(&o)))?;
    let changes: Vec<&Value> = plan["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["changes"].as_array().into_iter().flatten())
        .collect();
    if let Some(c) = changes.iter().find(|c| c["action"] == "adopt") {
        return Err(format!(
            "a runner without state adopts {} (its marker is missing)",
            c["address"]
        ));
    }
    if let Some(b) = plan["blockers"].as_array().into_iter().flatten().next() {
        return Err(format!("a runner without state is blocked: {b}"));
    }
    let dump = emu.dump();
    let live_campaign = |name: &str| {
        let google = dump
            .pointer("/google_ads/customers")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|cs| cs.values())
            .flat_map(|c| {
                c.pointer("/tables/Campaign")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|t| t.values())
            })
            .any(|r| r["v"]["name"] == name && r["v"]["status"] != "REMOVED");
        let meta = dump
            .pointer("/meta/objects")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|o| o.values())
            .any(|o| o["kind"] == "Campaign" && o["fields"]["name"] == name && o["fields"]["status"] != "DELETED");
        google || meta
    };
    for (addr, name) in [
        ("search/campaign/Search 0", "Search 0"),
        ("social/campaign/Social 0", "Social 0"),
    ] {
        let action = changes
            .iter()
            .find(|c| c["address"] == addr)
            .map(|c| c["action"].clone());
        match (live_campaign(name), action) {
            (true, Some(a)) if a == "pause" => {}
            (false, None) => {}
            (live, a) => return Err(format!("{addr} (live: {live}) is planned as {a:?}, not paused")),
        }
    }
    Ok(())
}

mod crash {
    use super::*;

    #[test]
    fn sigkill_at_random_points_then_apply_again_leaves_no_duplicates_and_an_empty_plan() {
        let emu = Emu::start(EmulatorConfig::default());
        let url = emu.url();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo");
        project(&dir, &url, 8);
        // The same repository without the first campaign of each platform (what a runner without state plans after
        // each kill: every object the killed apply made is adsctl's, and those two are pruned).
        let pruned = tmp.path().join("pruned");
        project(&pruned, &url, 8);
        let all = std::fs::read_to_string(pruned.join("campaigns/all.yaml")).unwrap();
        let (head, rest) = all.split_at(all.find("  - name: Search 0\n").unwrap());
        let rest = &rest[rest.find("  - name: Search 1\n").unwrap()..];
        std::fs::write(pruned.join("campaigns/all.yaml"), format!("{head}{rest}")).unwrap();

        // calibrate: how long one whole apply takes, how many write requests it makes
        emu.reset();
        let state = tmp.path().join("state-calibrate");
        let t = Instant::now();
        let o = adsctl(&url, &state)
            .env("ADSCTL_GOOGLE_ADS_MAX_OPS", "25")
            .args(["apply", "--auto-approve"])
            .arg(&dir)
            .output()
            .unwrap();
        let full = t.elapsed();
        assert!(o.status.success(), "{}", text(&o));
        let writes = emu.writes();
        let objects = live_objects(&emu.dump());
        let kinds = per_kind(&emu.dump());
        assert!(duplicates(&emu.dump()).is_empty());

        let points = if long_mode() { 100 } else { 20 };
        let mut rng = fastrand::Rng::with_seed(seed());
        let mut killed_mid_apply = 0;
        let mut orphan_creatives = 0;
        for round in 0..points {
            emu.reset();
            let state = tmp.path().join(format!("state-{round}"));
            // the kill point: after the k-th write request was answered (k = 0: anywhere before the first), plus
            // up to 5 ms, so that kills land before, inside and after the writes
            let k = rng.u64(0..=writes);
            let delay = Duration::from_micros(rng.u64(0..=5_000));
            let mut child = adsctl(&url, &state)
                .env("ADSCTL_GOOGLE_ADS_MAX_OPS", "25")
                .args(["apply", "--auto-approve"])
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            if k == 0 {
                std::thread::sleep(Duration::from_micros(rng.u64(0..=full.as_micros() as u64)));
            } else {
                let t = Instant::now();
                while emu.writes() < k && t.elapsed() < full * 10 && child.try_wait().unwrap().is_none() {
                    std::thread::sleep(Duration::from_micros(200));
                }
                std::thread::sleep(delay);
            }
            let finished = child.try_wait().unwrap().is_some();
            child.kill().unwrap(); // SIGKILL on Unix
            let _ = child.wait();
            let before = live_objects(&emu.dump());
            if !finished && before > 0 && before < objects {
                killed_mid_apply += 1;
            }
            fresh_runner_sees_what_the_killed_apply_made(
                &emu,
                &url,
                &pruned,
                &tmp.path().join(format!("fresh-{round}")),
            )
            .unwrap_or_else(|e| panic!("round {round} (killed after write {k} + {delay:?}): {e}"));
            let o = adsctl(&url, &state)
                .env("ADSCTL_GOOGLE_ADS_MAX_OPS", "25")
                .args(["apply", "--auto-approve"])
                .arg(&dir)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "round {round} (killed after write {k} + {delay:?}, {before} objects existed): {}",
                text(&o)
            );
            let dups = duplicates(&emu.dump());
            assert!(
                dups.is_empty(),
                "round {round} (killed after write {k} + {delay:?}): duplicates {dups:#?}"
            );
            // A Meta ad creative made in a batch whose ad was not (killed in between) is found by its
            // deterministic name on the next run and reused: none may be left behind.
            let now = emu.dump();
            orphan_creatives += orphans(&now);
            assert_eq!(
                orphans(&now),
                0,
                "round {round} (killed after write {k} + {delay:?}): orphaned Meta ad creatives"
            );
            let mut now_kinds = per_kind(&now);
            now_kinds.remove("meta AdCreative");
            let mut want = kinds.clone();
            want.remove("meta AdCreative");
            assert_eq!(
                now_kinds, want,
                "round {round} (killed after write {k} + {delay:?}): objects per kind"
            );
            if let Err(e) = plan_is_empty(&url, &dir, &state) {
                panic!("round {round} (killed after write {k} + {delay:?}): plan not empty\n{e}");
            }
        }
        eprintln!(
            "crash safety: {points} SIGKILL points (seed {}), {killed_mid_apply} of them with part of the {objects} \
             objects created; whole apply {full:?} with {writes} write requests; orphaned Meta ad creatives left \
             behind: {orphan_creatives}",
            seed()
        );
    }
}

mod faults {
    use super::*;

    #[test]
    fn twenty_percent_mixed_faults_converge_without_duplicates() {
        let runs = if long_mode() { 10 } else { 2 };
        let (rate_limits, waits) = converge_under_faults(seed()..seed() + runs);
        // The rate limits injected were waited out in plain sight (a 429 on the token endpoint is retried as a
        // failed refresh, so this is checked over all the runs).
        assert!(
            rate_limits == 0 || waits > 0,
            "{rate_limits} rate limits injected, no wait said"
        );
        eprintln!("faults: {rate_limits} rate limits injected, {waits} waits said at the default verbosity");
    }

    /// Regression, found by this harness: with seed 20261132 a Meta batch (ownership label, campaigns, ad sets,
    /// creatives, ads) loses its response after the emulator committed it. The campaigns named the label's
    /// result in the same batch, so the connector took them for calls whose dependency had failed and re-sent
    /// them without looking them up: 3 duplicate campaigns. Creates whose outcome is unknown are now always
    /// looked up (with backoff) and never re-sent on a negative look-up.
    #[test]
    fn meta_lost_batch_response_does_not_duplicate_campaigns() {
        let _ = converge_under_faults(20261132..20261133);
    }

    /// The run: one Meta 429 announcing an hour until access returns made the client wait 60 minutes,
    /// silently. Now `apply` stops at once when the wait is longer than `--max-wait`, says until when, and the
    /// next run resumes without duplicating anything.
    #[test]
    fn a_long_rate_limit_stops_apply_with_when_to_retry_and_the_next_run_resumes() {
        let emu = Emu::start(EmulatorConfig::default());
        let url = emu.url();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo");
        let state = tmp.path().join("state");
        project(&dir, &url, 2);
        let o = adsctl(&url, &state)
            .args(["apply", "--auto-approve"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        // a third campaign of each, and every Meta request now answered with usage at 100% for an hour
        project(&dir, &url, 3);
        emu.h().faults().set(FaultSpec::parse("429=1.0,seed=1").unwrap());
        let started = Instant::now();
        let o = adsctl(&url, &state)
            // the emulator's real regain time (60 minutes), not the harness's shortened minute
            .env_remove("ADSCTL_META_REGAIN_MINUTE_MS")
            .env("ADSCTL_GOOGLE_ADS_MAX_RETRIES", "2")
            // the Meta account only (the faults answer Google's token endpoint with 429 too)
            .args(["apply", "--auto-approve", "--max-wait", "3s", "--target", "social"])
            .arg(&dir)
            .output()
            .unwrap();
        let took = started.elapsed();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(took < Duration::from_secs(60), "it waited {took:?}");
        assert!(
            err.contains("Meta usage of ad account act_1234567890 is at 100%")
                && err.contains("waiting would take 1h00m")
                && err.contains("longer than this run waits (--max-wait 3s)"),
            "{}",
            text(&o)
        );
        // says when to run again: about an hour from now
        let when = err
            .split("run the same command again after ")
            .nth(1)
            .and_then(|rest| rest.get(..23))
            .unwrap_or_else(|| panic!("no time to retry in {}", text(&o)));
        let at = chrono::NaiveDateTime::parse_from_str(when, "%Y-%m-%d %H:%M:%S UTC")
            .unwrap_or_else(|e| panic!("{when:?}: {e}"))
            .and_utc();
        let ahead = at - chrono::Utc::now();
        assert!(
            ahead > chrono::Duration::minutes(55) && ahead < chrono::Duration::minutes(61),
            "{when}"
        );
        assert!(!err.contains("panicked"));

        // the platform lets us again: the next run resumes and converges, nothing duplicated
        emu.h().faults().set(FaultSpec::default());
        let o = adsctl(&url, &state)
            .args(["apply", "--auto-approve"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let dups = duplicates(&emu.dump());
        assert!(dups.is_empty(), "{dups:#?}");
        plan_is_empty(&url, &dir, &state).unwrap();
        eprintln!("a 429 with an hour to wait stopped the apply after {took:?}; retry at {when}");
    }

    /// A quota exhausted in the middle of an apply (Google's daily operations, back at midnight): what was sent
    /// stays applied, nothing more is sent to that account, the stop is said once with when to run again, and
    /// the next run (the quota back) resumes with the rest, duplicating nothing.
    #[test]
    fn a_quota_exhausted_mid_apply_stops_that_account_and_the_next_run_resumes() {
        let mut config = EmulatorConfig::default();
        config.rate_limits.google_ads.daily_operations = Some(30);
        let first = Emu::start(config);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo");
        let state = tmp.path().join("state");
        project(&dir, &first.url(), 3);
        let o = adsctl(&first.url(), &state)
            .env("ADSCTL_GOOGLE_ADS_MAX_OPS", "10")
            .args(["apply", "--auto-approve"])
            .arg(&dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            err.contains("✗ stopped at a rate limit")
                && err.contains("Number of operations for basic access")
                && err.contains("run the same command again after"),
            "{}",
            text(&o)
        );
        // said once, not once per change it left undone
        assert_eq!(
            err.matches("run the same command again after").count(),
            1,
            "{}",
            text(&o)
        );
        let partial = first.dump();
        let google_objects = |d: &Value| {
            per_kind(d)
                .iter()
                .filter(|(k, _)| k.starts_with("google"))
                .map(|(_, n)| *n)
                .sum::<usize>()
        };
        assert!(google_objects(&partial) > 0, "the first mutates were applied");
        // Meta is another account: it was applied in full
        assert!(
            per_kind(&partial).get("meta Campaign") == Some(&3),
            "{:?}",
            per_kind(&partial)
        );

        // the next day: the same platform, the quota back
        let second = Emu::start(EmulatorConfig::default());
        for p in second.h().platforms().all() {
            if let Some(d) = partial.get(p.name()) {
                p.restore(d.clone()).unwrap();
            }
        }
        project(&dir, &second.url(), 3);
        let o = adsctl(&second.url(), &state)
            .env("ADSCTL_GOOGLE_ADS_MAX_OPS", "10")
            .args(["apply", "--auto-approve"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let dups = duplicates(&second.dump());
        assert!(dups.is_empty(), "{dups:#?}");
        assert!(google_objects(&second.dump()) > google_objects(&partial));
        plan_is_empty(&second.url(), &dir, &state).unwrap();
    }

    /// Returns (429s injected, waits said).
    fn converge_under_faults(seeds: std::ops::Range<u64>) -> (u64, usize) {
        let mut config = EmulatorConfig {
            fault_hang: Duration::from_millis(1500),
            ..EmulatorConfig::default()
        };
        let emu_clean = Emu::start(config.clone());
        let tmp = tempfile::tempdir().unwrap();

        // the fault-free request count of the same apply
        let clean_dir = tmp.path().join("clean");
        project(&clean_dir, &emu_clean.url(), 3);
        let o = adsctl(&emu_clean.url(), &tmp.path().join("clean-state"))
            .args(["apply", "--auto-approve"])
            .arg(&clean_dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let baseline = emu_clean.requests();
        drop(emu_clean);

        let mut total_injected = 0;
        let (mut total_429, mut total_waits) = (0, 0);
        for run_seed in seeds {
            config.faults = FaultSpec::parse(&format!(
                "5xx=0.04,429=0.04,timeout=0.04,lost=0.04,lag=0.04,seed={}",
                run_seed
            ))
            .unwrap();
            let emu = Emu::start(config.clone());
            let url = emu.url();
            let dir = tmp.path().join(format!("repo-{run_seed}"));
            let state = tmp.path().join(format!("state-{run_seed}"));
            project(&dir, &url, 3);
            let mut attempts = 0;
            let mut outputs = String::new();
            loop {
                attempts += 1;
                let o = adsctl(&url, &state)
                    .args(["apply", "--auto-approve"])
                    .arg(&dir)
                    .output()
                    .unwrap();
                outputs.push_str(&text(&o));
                let printed = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                assert!(!printed.contains("panicked"), "{outputs}");
                for s in [
                    defaults::GOOGLE_CLIENT_SECRET,
                    defaults::GOOGLE_DEVELOPER_TOKEN,
                    defaults::GOOGLE_REFRESH_TOKEN,
                    defaults::META_APP_SECRET,
                    defaults::META_ACCESS_TOKEN,
                ] {
                    assert!(!printed.contains(s), "a secret was printed");
                }
                if o.status.success() {
                    break;
                }
                assert!(attempts < 6, "apply did not converge under faults:\n{outputs}");
            }
            // faulted requests are not counted: `faulty - baseline` are the extra answered requests (repeated reads,
            // re-sent writes after lost responses), the injected error faults are each one retry
            let faulty = emu.requests();
            let injected = emu.h().faults().injected();
            let dump = emu.dump();
            let dups = duplicates(&dump);
            // faults off: the plan must be empty
            emu.h().faults().set(FaultSpec::default());
            let plan = plan_is_empty(&url, &dir, &state);
            eprintln!(
                "faults (seed {run_seed}): converged after {attempts} apply run(s); {} retries of failed requests (injected {injected:?}); \
                 {faulty} answered requests against {baseline} without faults",
                injected
                    .iter()
                    .filter(|(k, _)| k.as_str() != "lag")
                    .map(|(_, n)| n)
                    .sum::<u64>()
            );
            // Waits are said at the default verbosity, with their reason and end time.
            let waits: Vec<&str> = outputs.lines().filter(|l| l.contains(" waiting ")).collect();
            for w in &waits {
                assert!(
                    w.contains(" until ") && w.contains(" UTC (") && w.contains("wait_ms="),
                    "{w}"
                );
            }
            total_waits += waits.len();
            total_429 += injected.get("429").copied().unwrap_or(0);
            assert!(dups.is_empty(), "duplicates under faults: {dups:#?}\n{outputs}");
            if let Err(e) = plan {
                panic!("plan not empty after converging under faults:\n{e}\n{outputs}");
            }
            total_injected += injected.values().sum::<u64>();
        }
        assert!(total_injected > 0, "no fault was injected");
        (total_429, total_waits)
    }
}

/// Damaged local state: every file of the state directory, damaged in every way, between two runs.
mod damaged_state {
    use super::*;

    fn damage(path: &Path, how: &str, rng: &mut fastrand::Rng) {
        let bytes = std::fs::read(path).unwrap_or_default();
        let remove = |p: &Path| {
            let _ = std::fs::remove_file(p).or_else(|_| std::fs::remove_dir_all(p));
        };
        match how {
            "truncate" => std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap(),
            "zero" => std::fs::write(path, vec![0u8; bytes.len()]).unwrap(),
            "garbage" => {
                let mut b = bytes;
                if b.len() < 64 {
                    b.resize(64, 0);
                }
                let at = rng.usize(0..=b.len() - 64);
                for x in &mut b[at..at + 64] {
                    *x = rng.u8(..);
                }
                std::fs::write(path, b).unwrap()
            }
            "flip" => {
                let mut b = bytes;
                for _ in 0..8 {
                    if !b.is_empty() {
                        let i = rng.usize(0..b.len());
                        b[i] ^= 0xff;
                    }
                }
                std::fs::write(path, b).unwrap()
            }
            "delete" => remove(path),
            "directory" => {
                remove(path);
                std::fs::create_dir_all(path.join("inside")).unwrap();
            }
            "file" => {
                remove(path);
                std::fs::write(path, b"not a directory").unwrap();
            }
            _ => unreachable!("{how}"),
        }
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

    /// For each local file and each way of damaging it: the next plan succeeds (with a warning when the damage
    /// was to content adsctl wrote), the next apply converges with no duplicate, and the plan after it is empty.
    #[test]
    fn every_damaged_state_file_is_rebuilt_and_the_next_apply_converges() {
        let emu = Emu::start(EmulatorConfig::default());
        let url = emu.url();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo");
        project(&dir, &url, 2);
        let good = tmp.path().join("state-good");
        let o = adsctl(&url, &good)
            .args(["apply", "--auto-approve"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        // a plan writes the id map snapshots; then the lock files hold content as if their holder had died
        plan_is_empty(&url, &dir, &good).unwrap();
        for lock in ["apply.lock", "state.lock"] {
            std::fs::write(
                good.join(lock),
                "pid 999999 since 2026-01-01T00:00:00Z by adsctl apply\n",
            )
            .unwrap();
        }
        let baseline = emu.dump();
        let objects = per_kind(&baseline);
        assert!(duplicates(&baseline).is_empty());
        // the files, named as the state names them (accounts `search` on Google Ads, `social` on Meta)
        for f in [
            "cache/search.json",
            "cache/social.json",
            "ids/search.json",
            "ids/social.json",
            "db/db",
            "db/conf",
        ] {
            assert!(
                good.join(f).is_file(),
                "{f} missing from {:?}",
                std::fs::read_dir(&good).unwrap().collect::<Vec<_>>()
            );
        }
        let cases: Vec<(&str, &str)> = [
            "cache/search.json",
            "ids/social.json",
            "db/db",
            "db/conf",
            "apply.lock",
            "state.lock",
        ]
        .into_iter()
        .flat_map(|f| ["truncate", "zero", "garbage", "flip", "delete", "directory"].map(move |h| (f, h)))
        .chain([("db", "delete"), ("db", "file")])
        .collect();
        let mut rng = fastrand::Rng::with_seed(seed());
        let mut warned = Vec::new();
        for (n, &(file, how)) in cases.iter().enumerate() {
            let what = format!("{file} {how}");
            let state = tmp.path().join(format!("state-{n}"));
            copy_dir(&good, &state);
            damage(&state.join(file), how, &mut rng);
            let before = emu.requests();

            let o = adsctl(&url, &state).args(["plan"]).arg(&dir).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            assert!(
                o.status.success() && !err.contains("panicked"),
                "{what}: plan\n{}",
                text(&o)
            );
            // Damage is said when it is found: always in adsctl's own files; in sled's log when sled fails, panics
            // or lost records adsctl had flushed (sled itself skips damage it can recover from, and a deleted
            // file is only an absent one).
            let said = err.contains("WARN");
            // A lock file only holds its holder's line: what matters is that it never blocks (a plan does not
            // even take the apply lock; a cut line still names a holder that is gone).
            let silent_ok = (how == "delete" && file != "db/db")
                || (file == "db/db" && matches!(how, "truncate" | "garbage" | "flip"))
                || file.ends_with(".lock");
            assert!(said || silent_ok, "{what}: no warning\n{}", text(&o));
            if said {
                warned.push(what.clone());
            }

            let o = adsctl(&url, &state)
                .args(["apply", "--auto-approve"])
                .arg(&dir)
                .output()
                .unwrap();
            assert!(
                o.status.success() && !String::from_utf8_lossy(&o.stderr).contains("panicked"),
                "{what}: apply\n{}",
                text(&o)
            );
            let now = emu.dump();
            let dups = duplicates(&now);
            assert!(dups.is_empty(), "{what}: duplicates {dups:#?}");
            assert_eq!(per_kind(&now), objects, "{what}: objects per kind");
            if let Err(e) = plan_is_empty(&url, &dir, &state) {
                panic!("{what}: plan not empty after the apply\n{e}");
            }
            assert!(emu.requests() > before);
            // what was set aside is listed by `state doctor`, which finds nothing else wrong
            let o = adsctl(&url, &state)
                .args(["state", "doctor", "--dry-run", "--dir"])
                .arg(&dir)
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(0), "{what}: state doctor\n{}", text(&o));
        }
        eprintln!(
            "damaged state: {} cases, every apply converged without duplicates; warned after {warned:?}",
            cases.len()
        );
    }

    /// `adsctl state doctor --dry-run` reports and changes nothing; `adsctl state doctor` repairs.
    #[test]
    fn state_doctor_reports_first_then_repairs() {
        let emu = Emu::start(EmulatorConfig::default());
        let url = emu.url();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo");
        project(&dir, &url, 1);
        let state = tmp.path().join("state");
        let o = adsctl(&url, &state)
            .args(["apply", "--auto-approve"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        plan_is_empty(&url, &dir, &state).unwrap();
        std::fs::write(state.join("cache/social.json"), b"{\"count\": 3, \"fetched_at\": ").unwrap();
        let conf = std::fs::read(state.join("db/conf")).unwrap();
        std::fs::write(state.join("db/conf"), vec![0u8; conf.len()]).unwrap();
        let doctor = |args: &[&str]| {
            adsctl(&url, &state)
                .args(["state", "doctor"])
                .args(args)
                .args(["--dir"])
                .arg(&dir)
                .output()
                .unwrap()
        };
        let o = doctor(&["--dry-run"]);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(out.contains("cache/social.json") && out.contains("db/"), "{out}");
        assert!(out.contains("Nothing was changed (dry run)"), "{out}");
        // nothing changed
        assert_eq!(std::fs::read(state.join("db/conf")).unwrap(), vec![0u8; conf.len()]);
        assert!(state.join("cache/social.json").is_file());

        let o = doctor(&[]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Repaired 2 problem(s)"),
            "{}",
            text(&o)
        );
        let o = doctor(&["--dry-run", "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let report: Value = serde_json::from_slice(&o.stdout).unwrap();
        let aside: Vec<&str> = report["set_aside"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            aside.iter().any(|a| a.starts_with("cache/social.json.damaged-")),
            "{report:#}"
        );
        assert!(aside.iter().any(|a| a.starts_with("db/conf.damaged-")), "{report:#}");
        // the id map survived the repair: nothing to adopt or create
        plan_is_empty(&url, &dir, &state).unwrap();
    }
}

mod bad_input {
    use super::*;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    /// `path:line:col` somewhere in the output.
    fn has_location(s: &str) -> bool {
        s.match_indices(':').any(|(i, _)| {
            let before = s[..i]
                .chars()
                .next_back()
                .is_some_and(|c| !c.is_whitespace() && c != ':');
            let rest = &s[i + 1..];
            let line = rest.chars().take_while(char::is_ascii_digit).count();
            before
                && line > 0
                && rest[line..].starts_with(':')
                && rest[line + 1..].chars().next().is_some_and(|c| c.is_ascii_digit())
        })
    }

    fn corpus() -> Vec<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
        let mut v: Vec<PathBuf> = std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn every_invalid_directory_exits_1_with_a_location_and_sends_nothing() {
        let emu = Emu::start(EmulatorConfig::default());
        let url = emu.url();
        let tmp = tempfile::tempdir().unwrap();
        let dirs = corpus();
        assert!(dirs.len() >= 50, "the invalid corpus is missing");
        let mut failures = Vec::new();
        for d in &dirs {
            let o = adsctl(&url, &tmp.path().join("state"))
                .arg("plan")
                .arg(d)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            if o.status.code() != Some(1) || err.contains("panicked") || !has_location(&err) {
                failures.push(format!("{}: {}", d.display(), text(&o)));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
        assert_eq!(emu.requests(), 0, "something reached the emulator");
    }

    /// YAML-ish garbage: fragments of adsctl's vocabulary, YAML syntax and arbitrary bytes.
    fn yamlish() -> impl Strategy<Value = Vec<u8>> {
        let token = prop_oneof![
            Just(b"campaigns:".to_vec()),
            Just(b"accounts:".to_vec()),
            Just(b"ad_groups:".to_vec()),
            Just(b"ad_sets:".to_vec()),
            Just(b"ads:".to_vec()),
            Just(b"keywords:".to_vec()),
            Just(b"audiences:".to_vec()),
            Just(b"- name: x".to_vec()),
            Just(b"account: search".to_vec()),
            Just(b"platform: google_ads".to_vec()),
            Just(b"budget: { daily: ".to_vec()),
            Just(b"1e309".to_vec()),
            Just(b"-0.000000001".to_vec()),
            Just(b"99999999999999999999999".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\n  ".to_vec()),
            Just(b"\n    - ".to_vec()),
            Just(b"\t".to_vec()),
            Just(b": ".to_vec()),
            Just(b"{".to_vec()),
            Just(b"}".to_vec()),
            Just(b"[".to_vec()),
            Just(b"]".to_vec()),
            Just(b"&a ".to_vec()),
            Just(b"*a".to_vec()),
            Just(b"<<: *a".to_vec()),
            Just(b"!!binary ".to_vec()),
            Just(b"!custom ".to_vec()),
            Just(b"? ".to_vec()),
            Just(b"|\n".to_vec()),
            Just(b">-\n".to_vec()),
            Just(b"'".to_vec()),
            Just(b"\"\\u".to_vec()),
            Just(b"# ".to_vec()),
            Just(b"---\n".to_vec()),
            Just(b"...\n".to_vec()),
            Just(b"%YAML 1.2\n".to_vec()),
            Just("\u{feff}".as_bytes().to_vec()),
            Just("é✓🚀".as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..8),
            "[a-z_]{1,12}".prop_map(String::into_bytes),
        ];
        prop::collection::vec(token, 0..48).prop_map(|v| v.concat())
    }

    const ACCOUNTS: &str = "accounts:\n  search:\n    platform: google_ads\n    customer_id: 1234567890\n    \
                            currency: USD\n  social:\n    platform: meta\n    ad_account_id: act_1234567890\n    \
                            currency: USD\n";

    fn write_case(dir: &Path, garbage: &[u8], in_config: bool) {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir.join("campaigns")).unwrap();
        if in_config {
            std::fs::write(dir.join("adsctl.yaml"), garbage).unwrap();
        } else {
            std::fs::write(dir.join("adsctl.yaml"), ACCOUNTS).unwrap();
            std::fs::write(dir.join("campaigns/g.yaml"), garbage).unwrap();
        }
    }

    fn cases(n: u32) -> ProptestConfig {
        ProptestConfig {
            cases: if long_mode() { n * 10 } else { n },
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(cases(256))]
        /// In process (fast): the loader never panics, and every error it reports has a location.
        #[test]
        fn the_loader_never_panics_and_locates_every_error(garbage in yamlish(), in_config in any::<bool>()) {
            let tmp = tempfile::tempdir().unwrap();
            write_case(tmp.path(), &garbage, in_config);
            let r = std::panic::catch_unwind(|| adsctl::spec::load(tmp.path()));
            prop_assert!(r.is_ok(), "the loader panicked on {:?}", String::from_utf8_lossy(&garbage));
            if let Ok(Err(errors)) = r {
                let shown = errors.render(false);
                prop_assert!(has_location(&shown), "no location in {shown}");
            }
        }
    }

    #[test]
    fn garbage_through_the_binary_exits_0_or_1_never_panics_and_sends_nothing_when_invalid() {
        let emu = Emu::start(EmulatorConfig::default());
        let url = emu.url();
        let tmp = tempfile::tempdir().unwrap();
        let mut runner = proptest::test_runner::TestRunner::new_with_rng(
            cases(24),
            proptest::test_runner::TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &{
                let mut s = [0u8; 32];
                s[..8].copy_from_slice(&seed().to_le_bytes());
                s
            }),
        );
        let strategy = (yamlish(), any::<bool>());
        let mut invalid = 0;
        for _ in 0..runner.config().cases {
            let (garbage, in_config) = strategy.new_tree(&mut runner).unwrap().current();
            let dir = tmp.path().join("case");
            write_case(&dir, &garbage, in_config);
            let before = emu.requests();
            let o = adsctl(&url, &tmp.path().join("state"))
                .arg("plan")
                .arg(&dir)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                !err.contains("panicked"),
                "panic on {:?}: {}",
                String::from_utf8_lossy(&garbage),
                text(&o)
            );
            match o.status.code() {
                Some(0) => {}
                Some(1) => {
                    invalid += 1;
                    assert!(
                        has_location(&err),
                        "no location for {:?}: {}",
                        String::from_utf8_lossy(&garbage),
                        text(&o)
                    );
                    assert_eq!(emu.requests(), before, "an invalid project reached the emulator");
                }
                other => panic!(
                    "exit {other:?} on {:?}: {}",
                    String::from_utf8_lossy(&garbage),
                    text(&o)
                ),
            }
        }
        assert!(invalid > 0, "the generator produced no invalid project");
    }
}
