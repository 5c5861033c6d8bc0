//! Trust on a real repository: the agency fixture (`tests/fixtures/agency`, eight accounts over five platforms —
//! three Google Ads, two Meta, one TikTok, one LinkedIn, one X — 645 resources) through the adsctl binary against
//! the emulator, every account seeded as `--emulator` seeds it (its platform's `Home::seed_emulator`).
//!
//! - it applies in one run, and a runner without state (every CI job) plans nothing and writes nothing;
//! - objects other clients made inside managed containers (Google, Meta, TikTok, LinkedIn, X) are never touched,
//!   whatever `on_removed` says, on a runner with state and on one without, also when the campaign (LinkedIn:
//!   campaign group) holding them leaves the YAML;
//! - an account built directly on the platform, imported, plans nothing (here and on a fresh runner), on every
//!   platform;
//! - two applies at once from two fresh state directories never duplicate anything;
//! - campaign negatives come and go; a lookalike and the ad set (TikTok: ad group) targeting it are made in one
//!   apply, on Meta and on TikTok;
//! - a membership change of a customer file shared by a client's Google, Meta, TikTok and X accounts, seen by a
//!   fresh runner, is planned as exactly that change.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use adsctl::emulator::platform::defaults;
use adsctl::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use adsctl::platforms::linkedin::mapping::split_name as split_linkedin;
use adsctl::platforms::tiktok::mapping::split_name as split_tiktok;
use adsctl::platforms::x::mapping::split_name as split_x;
use serde_json::{json, Value};

const GOOGLE: [(&str, &str, &str); 3] = [
    ("fabrikam-search", "2010000001", "USD"),
    ("tailspin-search", "2020000003", "EUR"),
    ("woodgrove-search", "2030000005", "GBP"),
];
const META: [(&str, &str, &str); 2] = [
    ("fabrikam-social", "act_2010000002", "USD"),
    ("tailspin-social", "act_2020000004", "EUR"),
];
const TIKTOK: [(&str, &str, &str); 1] = [("fabrikam-tiktok", "2010000006", "USD")];
const LINKEDIN: [(&str, &str, &str); 1] = [("tailspin-linkedin", "2020000007", "EUR")];
const X: [(&str, &str, &str); 1] = [("fabrikam-x", "2010000008x", "USD")];

struct Agency {
    rt: tokio::runtime::Runtime,
    emu: Option<EmulatorHandle>,
    tmp: tempfile::TempDir,
    dir: PathBuf,
    states: std::cell::Cell<usize>,
}

impl Agency {
    /// The fixture copied to a temporary directory, every account pointed at a fresh emulator.
    fn new() -> Agency {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut config = EmulatorConfig {
            review_delay: std::time::Duration::ZERO,
            ..Default::default()
        };
        // Every account of the fixture, as `--emulator` seeds it: whatever platforms the fixture holds.
        let project = adsctl::spec::load(&common::repo().join("tests/fixtures/agency"))
            .unwrap_or_else(|e| panic!("the agency fixture does not load: {e:?}"));
        let ids: Vec<(&str, &str, &str)> = GOOGLE
            .into_iter()
            .chain(META)
            .chain(TIKTOK)
            .chain(LINKEDIN)
            .chain(X)
            .collect();
        assert_eq!(
            project.accounts.len(),
            ids.len(),
            "every account of the fixture is named in this test"
        );
        for a in project.accounts.values() {
            let home = adsctl::platforms::home(a.platform).expect("a registered platform");
            home.seed_emulator(&mut config, a, "Europe/London");
            assert!(
                ids.iter().any(|(name, id, cur)| *name == a.name
                    && id.trim_start_matches("act_") == a.platform_id.trim_start_matches("act_")
                    && *cur == a.currency.code()),
                "{}: id or currency differ from this test's tables",
                a.name
            );
        }
        // TikTok processes a new customer file for hours before a lookalike can be built from it (an apply that
        // makes both stops at the lookalike, and a later one makes it); here processing is immediate, so that the
        // lookalike and the ad group targeting it are made in the one apply, as on Meta.
        config.seed.tiktok.audience_processing_delay_ms = Some(0);
        let emu = rt.block_on(Emulator::start(config)).expect("emulator");
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("agency");
        common::copy_fixture(&common::repo().join("tests/fixtures/agency"), &dir);
        let a = Agency {
            rt,
            emu: Some(emu),
            tmp,
            dir,
            states: std::cell::Cell::new(0),
        };
        a.set_policy(None);
        a
    }

    fn h(&self) -> &EmulatorHandle {
        self.emu.as_ref().unwrap()
    }

    fn url(&self) -> String {
        self.h().url()
    }

    /// Point every account at the emulator (and, when given, set every account's `on_removed`).
    fn set_policy(&self, policy: Option<&str>) {
        let original = std::fs::read_to_string(common::repo().join("tests/fixtures/agency/adsctl.yaml")).unwrap();
        let mut out = String::new();
        for line in original.lines() {
            if let (Some(p), true) = (policy, line.trim_start().starts_with("on_removed:")) {
                out.push_str(&format!("    on_removed: {p}\n"));
                continue;
            }
            out.push_str(line);
            out.push('\n');
            if line.trim_start().starts_with("platform:") {
                out.push_str(&format!("    endpoint: {}\n", self.url()));
            }
        }
        std::fs::write(self.dir.join("adsctl.yaml"), out).unwrap();
    }

    /// A new, empty state directory (a fresh CI runner).
    fn fresh_state(&self) -> PathBuf {
        let n = self.states.get() + 1;
        self.states.set(n);
        self.tmp.path().join(format!("state-{n}"))
    }

    fn cmd(&self, state: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_adsctl"));
        for k in [
            "ADSCTL_BACKEND",
            "ADSCTL_GOOGLE_OAUTH_TOKEN_URL",
            "GOOGLE_ADS_LOGIN_CUSTOMER_ID",
            "ADSCTL_TIKTOK_ENDPOINT",
            "ADSCTL_TIKTOK_PORTAL_ENDPOINT",
            "ADSCTL_LINKEDIN_ENDPOINT",
            "ADSCTL_LINKEDIN_REFRESH_TOKEN",
            "ADSCTL_X_ENDPOINT",
            "RUST_LOG",
        ] {
            c.env_remove(k);
        }
        c.env("ADSCTL_STATE_DIR", state)
            .env("ADSCTL_CONFIRM_READ_DELAY_MS", "20")
            .env("ADSCTL_LEASE_SETTLE_MS", "50")
            .env("GOOGLE_ADS_CLIENT_ID", defaults::GOOGLE_CLIENT_ID)
            .env("GOOGLE_ADS_CLIENT_SECRET", defaults::GOOGLE_CLIENT_SECRET)
            .env("GOOGLE_ADS_DEVELOPER_TOKEN", defaults::GOOGLE_DEVELOPER_TOKEN)
            .env("GOOGLE_ADS_REFRESH_TOKEN", defaults::GOOGLE_REFRESH_TOKEN)
            .env("FACEBOOK_APP_ID", defaults::META_APP_ID)
            .env("FACEBOOK_APP_SECRET", defaults::META_APP_SECRET)
            .env("FACEBOOK_ACCESS_TOKEN", defaults::META_ACCESS_TOKEN)
            .env("ADSCTL_GOOGLE_ADS_RETRY_MIN_MS", "10")
            .env("ADSCTL_GOOGLE_ADS_RETRY_MAX_MS", "100")
            .env("ADSCTL_GOOGLE_ADS_POLL_MS", "20")
            .env("ADSCTL_META_RETRY_MIN_MS", "10")
            .env("ADSCTL_META_RETRY_MAX_MS", "100")
            .env("ADSCTL_META_REGAIN_MINUTE_MS", "50")
            .env("TIKTOK_ACCESS_TOKEN", defaults::TIKTOK_ACCESS_TOKEN)
            .env("TIKTOK_APP_ID", defaults::TIKTOK_APP_ID)
            .env("TIKTOK_APP_SECRET", defaults::TIKTOK_APP_SECRET)
            .env("ADSCTL_TIKTOK_RETRY_MIN_MS", "10")
            .env("ADSCTL_TIKTOK_RETRY_MAX_MS", "100")
            .env("ADSCTL_TIKTOK_RATE_LIMIT_WAIT_MS", "5")
            .env("ADSCTL_TIKTOK_RATE_LIMIT_LONG_WAIT_MS", "20")
            .env("ADSCTL_TIKTOK_LOOKUP_DELAY_MS", "20")
            .env("ADSCTL_LINKEDIN_OAUTH_ENDPOINT", format!("{}/oauth/v2", self.url()))
            .env("ADSCTL_LINKEDIN_ACCESS_TOKEN", defaults::LINKEDIN_ACCESS_TOKEN)
            .env("ADSCTL_LINKEDIN_CLIENT_ID", defaults::LINKEDIN_CLIENT_ID)
            .env("ADSCTL_LINKEDIN_CLIENT_SECRET", defaults::LINKEDIN_CLIENT_SECRET)
            // LinkedIn asks to wait 5 s after creating a matched audience before adding its users; the emulator
            // is seeded not to (as under `--emulator`), and the connector waits as long as it is told
            .env("ADSCTL_LINKEDIN_SEGMENT_WAIT_MS", "0")
            .env("ADSCTL_LINKEDIN_RETRY_MIN_MS", "10")
            .env("ADSCTL_LINKEDIN_RETRY_MAX_MS", "100")
            .env("ADSCTL_LINKEDIN_RATE_LIMIT_WAIT_MS", "5")
            .env("ADSCTL_LINKEDIN_LOOKUP_DELAY_MS", "20")
            .env("ADSCTL_X_CONSUMER_KEY", defaults::X_CONSUMER_KEY)
            .env("ADSCTL_X_CONSUMER_SECRET", defaults::X_CONSUMER_SECRET)
            .env("ADSCTL_X_ACCESS_TOKEN", defaults::X_ACCESS_TOKEN)
            .env("ADSCTL_X_TOKEN_SECRET", defaults::X_TOKEN_SECRET)
            .env("ADSCTL_X_RETRY_MIN_MS", "10")
            .env("ADSCTL_X_RETRY_MAX_MS", "100")
            .env("NO_COLOR", "1");
        c
    }

    fn run(&self, state: &Path, args: &[&str]) -> Output {
        self.cmd(state).args(args).arg(&self.dir).output().unwrap()
    }

    /// Run and require `code`.
    fn expect(&self, state: &Path, args: &[&str], code: i32) -> String {
        let o = self.run(state, args);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(code), "adsctl {} →\n{t}", args.join(" "));
        t
    }

    fn plan_json(&self, state: &Path) -> Value {
        let o = self.run(state, &["plan", "--json"]);
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)))
    }

    fn dump(&self) -> Value {
        let mut out = serde_json::Map::new();
        for p in self.h().platforms().all() {
            out.insert(p.name().to_string(), p.dump());
        }
        Value::Object(out)
    }

    /// Requests that change something, other than an apply's leases: Google's `labels:mutate`, Meta's
    /// `POST act_…/adlabels` and the `DELETE /{label id}` that gives each Meta lease back (one per Meta account),
    /// TikTok's disabled lease campaign (one `campaign/create/` and one `campaign/status/update/` per TikTok
    /// account), LinkedIn's draft lease campaign group (one CREATE and one DELETE per LinkedIn account) and X's
    /// draft lease campaign (one `POST …/campaigns` and one `DELETE …/campaigns/{id}` per X account).
    fn writes(&self) -> BTreeMap<String, u64> {
        self.h()
            .counters()
            .snapshot()
            .endpoints
            .into_iter()
            .filter(|(e, _)| {
                (e.contains(":mutate")
                    || e.contains("offlineUserDataJobs")
                    || e.starts_with("POST /v25.0")
                    || e.starts_with("POST /open_api/")
                    || e.starts_with("DELETE")
                    || (e.contains(" /rest/") && (e.ends_with("CREATE") || e.ends_with("UPDATE")))
                    || (e.contains(" /12/") && !e.starts_with("GET ")))
                    && !e.contains("labels:mutate")
                    && !e.contains("adlabels")
            })
            .map(|(e, s)| {
                let leases = match e.as_str() {
                    "DELETE /v25.0/{id}" => META.len(),
                    "POST /open_api/v1.3/campaign/create/" | "POST /open_api/v1.3/campaign/status/update/" => {
                        TIKTOK.len()
                    }
                    "POST /rest/adAccounts/{accountId}/adCampaignGroups CREATE"
                    | "DELETE /rest/adAccounts/{accountId}/adCampaignGroups/{id} DELETE" => LINKEDIN.len(),
                    "POST /12/accounts/{account_id}/campaigns" | "DELETE /12/accounts/{account_id}/campaigns/{id}" => {
                        X.len()
                    }
                    _ => 0,
                } as u64;
                (e, s.requests.saturating_sub(leases))
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// A Google Ads REST call as another client (the web interface, a colleague's script).
    fn google(&self, customer: &str, path: &str, body: Value) -> Value {
        self.rt.block_on(async {
            let http = reqwest::Client::new();
            let token: Value = http
                .post(format!("{}/token", self.url()))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", defaults::GOOGLE_CLIENT_ID),
                    ("client_secret", defaults::GOOGLE_CLIENT_SECRET),
                    ("refresh_token", defaults::GOOGLE_REFRESH_TOKEN),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let resp = http
                .post(format!("{}/v25/customers/{customer}/{path}", self.url()))
                .bearer_auth(token["access_token"].as_str().unwrap())
                .header("developer-token", defaults::GOOGLE_DEVELOPER_TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = resp.status();
            let v: Value = resp.json().await.unwrap();
            assert!(status.is_success(), "{path}: {v}");
            v
        })
    }

    /// GAQL rows (searchStream, all chunks).
    fn gaql(&self, customer: &str, query: &str) -> Vec<Value> {
        let chunks = self.google(customer, "googleAds:searchStream", json!({ "query": query }));
        chunks
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["results"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// A Graph API call as another client.
    fn graph(&self, method: &str, path: &str, params: &[(&str, String)]) -> Value {
        self.rt.block_on(async {
            let http = reqwest::Client::new();
            let url = format!("{}/v25.0/{path}", self.url());
            let mut all: Vec<(&str, String)> = params.to_vec();
            all.push(("access_token", defaults::META_ACCESS_TOKEN.to_string()));
            let req = match method {
                "GET" => http.get(&url).query(&all),
                "DELETE" => http.delete(&url).query(&all),
                _ => http.post(&url).form(&all),
            };
            let resp = req.send().await.unwrap();
            let status = resp.status();
            let v: Value = resp.json().await.unwrap();
            assert!(status.is_success(), "{method} {path}: {v}");
            v
        })
    }

    /// A TikTok API for Business call as another client: GET with JSON-string query values, POST with a JSON
    /// body; the answer's `data`.
    fn tiktok(&self, method: &str, path: &str, params: Value) -> Value {
        self.rt.block_on(async {
            let http = reqwest::Client::new();
            let url = format!("{}/open_api/v1.3/{path}", self.url());
            let req = match method {
                "GET" => {
                    let q: Vec<(String, String)> = params
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                        .collect();
                    http.get(&url).query(&q)
                }
                _ => http.post(&url).json(&params),
            };
            let v: Value = req
                .header("Access-Token", defaults::TIKTOK_ACCESS_TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(v["code"], 0, "{method} {path}: {v}");
            v["data"].clone()
        })
    }

    /// The id of the live TikTok object of `kind` (`campaign`, `adgroup`) named `name` (without the marker).
    fn tiktok_id(&self, advertiser: &str, kind: &str, name: &str) -> String {
        let data = self.tiktok(
            "GET",
            &format!("{kind}/get/"),
            json!({"advertiser_id": advertiser, "page_size": 1000}),
        );
        data["list"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|o| {
                o[format!("{kind}_name")]
                    .as_str()
                    .is_some_and(|n| split_tiktok(n).0 == name)
            })
            .and_then(|o| o[format!("{kind}_id")].as_str())
            .unwrap_or_else(|| panic!("no TikTok {kind} named {name}: {data}"))
            .to_string()
    }

    /// The LinkedIn emulator's admin API: what another client does in Campaign Manager, and its store.
    fn linkedin_admin(&self, method: &str, path: &str, body: Value) -> Value {
        self.rt.block_on(async {
            let http = reqwest::Client::new();
            let url = format!("{}/_emulator/linkedin/{path}", self.url());
            let req = match method {
                "GET" => http.get(&url),
                _ => http.post(&url).json(&body),
            };
            let resp = req.send().await.unwrap();
            assert!(resp.status().is_success(), "{method} {path}: {}", resp.status());
            resp.json().await.unwrap()
        })
    }

    /// The id of the live LinkedIn entity of `kind` (`CampaignGroup`, `Campaign`) named `name` (without the
    /// marker) in `account`.
    fn linkedin_id(&self, account: &str, kind: &str, name: &str) -> u64 {
        let store = self.linkedin_admin("GET", "store", Value::Null);
        store["entities"]
            .as_object()
            .into_iter()
            .flat_map(|o| o.values())
            .find(|e| {
                e["deleted"] != true
                    && e["account"] == account
                    && e["kind"] == kind
                    && e["fields"]["name"]
                        .as_str()
                        .is_some_and(|n| split_linkedin(n).0 == name)
            })
            .and_then(|e| e["id"].as_u64())
            .unwrap_or_else(|| panic!("no LinkedIn {kind} named {name}"))
    }

    /// The X emulator's admin API: what another client does in X Ads Manager, and its store.
    fn x_admin(&self, method: &str, path: &str, body: Value) -> Value {
        self.rt.block_on(async {
            let http = reqwest::Client::new();
            let url = format!("{}/_emulator/x/{path}", self.url());
            let req = match method {
                "GET" => http.get(&url),
                _ => http.post(&url).json(&body),
            };
            let resp = req.send().await.unwrap();
            assert!(resp.status().is_success(), "{method} {path}: {}", resp.status());
            resp.json().await.unwrap()
        })
    }

    /// Another client makes an X object (`campaign`, `line_item`, `promoted_tweet`, `targeting_criterion`) in
    /// `account`: its id.
    fn x_make(&self, account: &str, kind: &str, fields: Value) -> String {
        let made = self.x_admin(
            "POST",
            "objects",
            json!({"kind": kind, "account": account, "fields": fields}),
        );
        made["ids"][0].as_str().unwrap().to_string()
    }

    /// The id of the live X object of `kind` (`campaign`, `line_item`) named `name` (without the marker) in
    /// `account`, below `parent` (a line item's campaign id) when given.
    fn x_id(&self, account: &str, kind: &str, name: &str, parent: Option<&str>) -> String {
        let store = self.x_admin("GET", "store", Value::Null);
        store["objects"]
            .as_object()
            .into_iter()
            .flat_map(|o| o.values())
            .find(|e| {
                e["deleted"] != true
                    && e["account"] == account
                    && e["kind"] == kind
                    && parent.is_none_or(|p| e["fields"]["campaign_id"] == p)
                    && e["fields"]["name"].as_str().is_some_and(|n| split_x(n).0 == name)
            })
            .and_then(|e| e["id"].as_str())
            .unwrap_or_else(|| panic!("no X {kind} named {name}"))
            .to_string()
    }
}

impl Drop for Agency {
    fn drop(&mut self) {
        if let Some(h) = self.emu.take() {
            let _ = self.rt.block_on(h.shutdown());
        }
    }
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every change of a JSON plan that changes something: (address, action).
fn changes(plan: &Value) -> Vec<(String, String)> {
    plan["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["changes"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["action"] != "no_op" && c["action"] != "orphan")
        .map(|c| {
            (
                c["address"].as_str().unwrap_or("").to_string(),
                c["action"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Live objects that share an identity (duplicates), leases left out.
fn duplicates(dump: &Value) -> Vec<String> {
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for (cid, c) in dump
        .pointer("/google_ads/customers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for (table, rows) in c["tables"].as_object().into_iter().flatten() {
            for row in rows.as_object().into_iter().flat_map(|r| r.values()) {
                let v = &row["v"];
                if v["status"] == "REMOVED" || v["name"].as_str().is_some_and(|n| n.starts_with("adsctl-lease")) {
                    continue;
                }
                let key = match table.as_str() {
                    "Campaign" | "CampaignBudget" | "Label" | "UserList" => format!("{}", v["name"]),
                    "AdGroup" => format!("{} {}", v["campaign"], v["name"]),
                    "AdGroupCriterion" => format!("{} {} {}", v["adGroup"], v["keyword"], v["negative"]),
                    "CampaignCriterion" => format!("{} {}", v["campaign"], v["keyword"]),
                    "AdGroupAd" => format!("{} {}", v["adGroup"], v["ad"]["finalUrls"]),
                    _ => format!("{row}"),
                };
                *seen.entry(format!("google {cid} {table} {key}")).or_default() += 1;
            }
        }
    }
    for o in dump
        .pointer("/meta/objects")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|o| o.values())
    {
        let f = &o["fields"];
        if matches!(f["status"].as_str(), Some("DELETED") | Some("ARCHIVED"))
            || f["name"].as_str().is_some_and(|n| n.starts_with("adsctl-lease"))
        {
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
    for (kind, parent, name) in tiktok_live(dump) {
        *seen.entry(format!("tiktok {kind} {parent} {name}")).or_default() += 1;
    }
    for (kind, parent, name) in linkedin_live(dump) {
        *seen.entry(format!("linkedin {kind} {parent} {name}")).or_default() += 1;
    }
    for (kind, parent, name) in x_live(dump) {
        *seen.entry(format!("x {kind} {parent} {name}")).or_default() += 1;
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, n)| format!("{n}× {k}"))
        .collect()
}

/// Live (not removed) objects per kind, leases left out.
fn live_per_kind(dump: &Value) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for c in dump
        .pointer("/google_ads/customers")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|c| c.values())
    {
        for (t, rows) in c["tables"].as_object().into_iter().flatten() {
            let n = rows
                .as_object()
                .into_iter()
                .flat_map(|r| r.values())
                .filter(|r| r["v"]["status"] != "REMOVED")
                .filter(|r| !r["v"]["name"].as_str().is_some_and(|n| n.starts_with("adsctl-lease")))
                .count();
            *out.entry(format!("google {t}")).or_default() += n;
        }
    }
    for o in dump
        .pointer("/meta/objects")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|o| o.values())
    {
        let f = &o["fields"];
        if matches!(f["status"].as_str(), Some("DELETED"))
            || f["name"].as_str().is_some_and(|n| n.starts_with("adsctl-lease"))
        {
            continue;
        }
        *out.entry(format!("meta {}", o["kind"].as_str().unwrap_or("?")))
            .or_default() += 1;
    }
    for (kind, _, _) in tiktok_live(dump) {
        *out.entry(format!("tiktok {kind}")).or_default() += 1;
    }
    for (kind, _, _) in linkedin_live(dump) {
        *out.entry(format!("linkedin {kind}")).or_default() += 1;
    }
    for (kind, _, _) in x_live(dump) {
        *out.entry(format!("x {kind}")).or_default() += 1;
    }
    out
}

/// TikTok's live (not deleted) campaigns, ad groups, ads and audiences, leases left out: (kind, parent id, name
/// without adsctl's marker).
fn tiktok_live(dump: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for o in dump
        .pointer("/tiktok/objects")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|o| o.values())
        .filter(|o| o["deleted"] != true)
    {
        let f = &o["fields"];
        let name = ["campaign_name", "adgroup_name", "ad_name"]
            .iter()
            .find_map(|k| f[*k].as_str())
            .unwrap_or_default();
        if name.starts_with("adsctl-lease") {
            continue;
        }
        let parent = match o["kind"].as_str() {
            Some("Ad") => &o["adgroup_id"],
            Some("Adgroup") => &o["campaign_id"],
            _ => &o["advertiser_id"],
        };
        out.push((
            o["kind"].as_str().unwrap_or("?").to_string(),
            parent.to_string(),
            split_tiktok(name).0.to_string(),
        ));
    }
    for a in dump
        .pointer("/tiktok/audiences")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|o| o.values())
        .filter(|a| a["deleted"] != true)
    {
        let kind = if a["lookalike"] == true {
            "Lookalike"
        } else {
            "Audience"
        };
        out.push((
            kind.to_string(),
            a["advertiser_id"].to_string(),
            split_tiktok(a["name"].as_str().unwrap_or_default()).0.to_string(),
        ));
    }
    out
}

/// LinkedIn's live (not deleted, not archived) campaign groups, campaigns, creatives and DMP segments, leases and
/// the account's default group left out: (kind, parent, name without adsctl's marker).
fn linkedin_live(dump: &Value) -> Vec<(String, String, String)> {
    dump.pointer("/linkedin/entities")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|o| o.values())
        .filter(|e| e["deleted"] != true && e["backfilled"] != true)
        .filter(|e| {
            let f = &e["fields"];
            !matches!(
                f["status"].as_str().or(f["intendedStatus"].as_str()),
                Some("ARCHIVED") | Some("REMOVED")
            ) && !f["name"].as_str().is_some_and(|n| n.starts_with("adsctl-lease"))
        })
        .map(|e| {
            let f = &e["fields"];
            let parent = match e["kind"].as_str() {
                Some("Creative") => &f["campaign"],
                Some("Campaign") => &f["campaignGroup"],
                _ => &f["account"],
            };
            (
                e["kind"].as_str().unwrap_or("?").to_string(),
                parent.to_string(),
                split_linkedin(f["name"].as_str().unwrap_or_default()).0.to_string(),
            )
        })
        .collect()
}

/// X's live (not deleted) campaigns, line items, promoted tweets, targeting criteria and custom audiences, lease
/// campaigns and the seeded funding instruments left out: (kind, parent, identity). A campaign, line item or
/// audience is its name without adsctl's marker; a promoted tweet its post; a criterion its type, value and
/// operator (X cannot change either: the same one twice is a duplicate).
fn x_live(dump: &Value) -> Vec<(String, String, String)> {
    dump.pointer("/x/objects")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|o| o.values())
        .filter(|e| e["deleted"] != true && e["kind"] != "funding_instrument")
        .filter(|e| {
            !e["fields"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("adsctl-lease"))
        })
        .map(|e| {
            let f = &e["fields"];
            let kind = e["kind"].as_str().unwrap_or("?");
            let (parent, identity) = match kind {
                "promoted_tweet" => (&f["line_item_id"], f["tweet_id"].to_string()),
                "targeting_criterion" => (
                    &f["line_item_id"],
                    format!(
                        "{} {} {}",
                        f["targeting_type"], f["targeting_value"], f["operator_type"]
                    ),
                ),
                "line_item" => (&f["campaign_id"], split_x(f["name"].as_str().unwrap_or_default()).0),
                _ => (&e["account"], split_x(f["name"].as_str().unwrap_or_default()).0),
            };
            (kind.to_string(), parent.to_string(), identity)
        })
        .collect()
}

#[test]
fn the_agency_applies_in_one_run_and_a_fresh_runner_plans_and_writes_nothing() {
    let a = Agency::new();
    let state = a.fresh_state();
    a.expect(&state, &["validate"], 0);
    let out = a.expect(&state, &["apply", "--auto-approve"], 0);
    assert!(out.contains(" 0 failed, 0 skipped"), "{out}");
    assert!(duplicates(&a.dump()).is_empty());
    a.expect(&state, &["plan", "--detailed-exitcode"], 0);

    // The lookalike and the ad set targeting it were made in that one apply.
    let sets = a.graph(
        "GET",
        "act_2010000002/adsets",
        &[("fields", "name,targeting".into()), ("limit", "100".into())],
    );
    let lookalikes = a.graph(
        "GET",
        "act_2010000002/customaudiences",
        &[("fields", "id,name,subtype".into())],
    );
    let lal = lookalikes["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["subtype"] == "LOOKALIKE")
        .expect("the lookalike was made");
    let targets = sets["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["targeting"].to_string().contains(lal["id"].as_str().unwrap()));
    assert!(
        targets,
        "an ad set targets the lookalike made in the same apply: {sets}"
    );
    // So was TikTok's, and the ad group targeting it.
    let tiktok = a.dump()["tiktok"].clone();
    let lal = tiktok["audiences"]
        .as_object()
        .into_iter()
        .flat_map(|o| o.values())
        .find(|x| x["lookalike"] == true && x["deleted"] != true)
        .unwrap_or_else(|| panic!("the TikTok lookalike was made: {}", tiktok["audiences"]))["id"]
        .clone();
    let targets = tiktok["objects"]
        .as_object()
        .into_iter()
        .flat_map(|o| o.values())
        .any(|o| o["kind"] == "Adgroup" && o["fields"]["audience_ids"].as_array().is_some_and(|l| l.contains(&lal)));
    assert!(
        targets,
        "a TikTok ad group targets the lookalike made in the same apply"
    );
    // X's line items target and exclude the custom audience made in the same apply, by its id.
    let x = a.dump()["x"].clone();
    let objects: Vec<&Value> = x["objects"].as_object().into_iter().flat_map(|o| o.values()).collect();
    let audience = objects
        .iter()
        .find(|o| o["kind"] == "custom_audience" && o["account"] == X[0].1 && o["deleted"] != true)
        .unwrap_or_else(|| panic!("the X custom audience was made: {x}"))["id"]
        .clone();
    let mut operators: Vec<&str> = objects
        .iter()
        .filter(|o| {
            o["kind"] == "targeting_criterion"
                && o["fields"]["targeting_type"] == "CUSTOM_AUDIENCE"
                && o["fields"]["targeting_value"] == audience
        })
        .filter_map(|o| o["fields"]["operator_type"].as_str())
        .collect();
    operators.sort();
    assert_eq!(
        operators,
        ["EQ", "NE"],
        "X line items target and exclude the custom audience made in the same apply"
    );

    // A runner without state: nothing to do, nothing written.
    let fresh = a.fresh_state();
    let plan = a.expect(&fresh, &["plan", "--detailed-exitcode"], 0);
    assert!(plan.contains("645 unchanged"), "{plan}");
    a.h().counters().reset();
    let out = a.expect(&fresh, &["apply", "--auto-approve"], 0);
    assert!(out.contains("No changes"), "{out}");
    assert!(a.writes().is_empty(), "a fresh runner wrote: {:?}", a.writes());
}

/// Objects another client made in every container adsctl manages.
struct Foreign {
    /// (customer, resource name) of Google objects.
    google: Vec<(String, String)>,
    /// Meta object ids and the fields to read back.
    meta: Vec<(String, &'static str)>,
    /// (kind: `adgroup` or `ad`, id, name) of TikTok objects.
    tiktok: Vec<(&'static str, String, String)>,
    /// Ids and names of LinkedIn objects (a campaign and a creative, made in Campaign Manager).
    linkedin: Vec<(String, String)>,
    /// Ids of X objects made in X Ads Manager (a line item, a promoted tweet and a targeting criterion), with the
    /// field that says what they are (name, post, value).
    x: Vec<(String, &'static str, String)>,
}

/// Where another client adds objects in the TikTok account: (campaign, ad group).
const TIKTOK_FOREIGN_HOME: (&str, &str) = ("Fabrikam - Hiking Boots - TikTok", "US 18-34");
/// Where another client adds objects in the LinkedIn account: (campaign group, campaign).
const LINKEDIN_FOREIGN_HOME: (&str, &str) = ("Tailspin - Drones - LinkedIn", "Drone professionals - DE");
/// Where another client adds objects in the X account: (campaign, ad group, i.e. line item).
const X_FOREIGN_HOME: (&str, &str) = ("Fabrikam - Hiking Boots - X", "US hikers");

/// The campaign (and its first ad group) of each Google account where another client adds objects: the one the
/// removal part of the test takes out of the YAML for Fabrikam.
const FOREIGN_HOMES: [(&str, &str); 3] = [
    ("Fabrikam - Hiking Boots", "Hiking Boots - Core"),
    ("Tailspin - Drones", "Drones - Core"),
    ("Woodgrove - Savings Accounts", "Savings Accounts - Core"),
];

fn make_foreign(a: &Agency) -> Foreign {
    let mut google = Vec::new();
    for ((_, cid, _), (campaign, ad_group)) in GOOGLE.into_iter().zip(FOREIGN_HOMES) {
        let camp = a.gaql(
            cid,
            &format!("SELECT campaign.resource_name FROM campaign WHERE campaign.name = '{campaign}'"),
        )[0]["campaign"]["resourceName"]
            .as_str()
            .unwrap()
            .to_string();
        let group = a.gaql(
            cid,
            &format!(
                "SELECT ad_group.resource_name FROM ad_group WHERE ad_group.campaign = '{camp}' AND \
                 ad_group.name = '{ad_group}'"
            ),
        )[0]["adGroup"]["resourceName"]
            .as_str()
            .unwrap()
            .to_string();
        let r = a.google(
            cid,
            "googleAds:mutate",
            json!({"mutateOperations": [
                {"adGroupCriterionOperation": {"create": {"adGroup": group, "status": "ENABLED",
                    "keyword": {"text": "client added term", "matchType": "EXACT"}}}},
                {"adGroupCriterionOperation": {"create": {"adGroup": group, "negative": true,
                    "keyword": {"text": "client negative", "matchType": "BROAD"}}}},
                {"campaignCriterionOperation": {"create": {"campaign": camp, "negative": true,
                    "keyword": {"text": "client campaign negative", "matchType": "PHRASE"}}}},
                {"adGroupAdOperation": {"create": {"adGroup": group, "status": "ENABLED", "ad": {
                    "finalUrls": ["https://client.example/added"],
                    "responsiveSearchAd": {"headlines": [{"text": "Client ad one"}, {"text": "Client ad two"},
                        {"text": "Client ad three"}], "descriptions": [{"text": "Made in the web interface."},
                        {"text": "Not by adsctl."}]}}}}},
                {"adGroupOperation": {"create": {"campaign": camp, "name": "Client ad group", "status": "ENABLED",
                    "type": "SEARCH_STANDARD"}}},
                {"userListOperation": {"create": {"name": "Client CRM list", "description": "theirs",
                    "membershipLifeSpan": "30", "integrationCode": "crm-7",
                    "crmBasedUserList": {"uploadKeyType": "CONTACT_INFO", "dataSourceType": "FIRST_PARTY"}}}},
            ]}),
        );
        for x in r["mutateOperationResponses"].as_array().unwrap() {
            let rn = x.as_object().unwrap().values().next().unwrap()["resourceName"]
                .as_str()
                .unwrap();
            google.push((cid.to_string(), rn.to_string()));
        }
    }
    let mut meta = Vec::new();
    for (_, act, _) in META {
        let campaigns = a.graph(
            "GET",
            &format!("{act}/campaigns"),
            &[("fields", "id,name,daily_budget".into())],
        );
        // One without a campaign budget: its ad sets carry their own.
        let camp = campaigns["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["daily_budget"].is_null())
            .expect("a campaign without a campaign budget")["id"]
            .as_str()
            .unwrap()
            .to_string();
        let sets = a.graph("GET", &format!("{act}/adsets"), &[("fields", "id,campaign_id".into())]);
        let set = sets["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["campaign_id"] == camp.as_str())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let new_set = a.graph(
            "POST",
            &format!("{act}/adsets"),
            &[
                ("name", "Client ad set".into()),
                ("campaign_id", camp.clone()),
                ("daily_budget", "1500".into()),
                ("billing_event", "IMPRESSIONS".into()),
                ("optimization_goal", "LINK_CLICKS".into()),
                ("bid_strategy", "LOWEST_COST_WITHOUT_CAP".into()),
                ("status", "ACTIVE".into()),
                ("targeting", json!({"geo_locations": {"countries": ["US"]}}).to_string()),
            ],
        );
        meta.push((new_set["id"].as_str().unwrap().to_string(), "id,name,status,adlabels"));
        let creative = a.graph(
            "POST",
            &format!("{act}/adcreatives"),
            &[
                ("name", "Client creative".into()),
                (
                    "object_story_spec",
                    json!({"page_id": "5599999999", "link_data": {"link": "https://client.example/", "message": "Theirs"}})
                        .to_string(),
                ),
            ],
        );
        let ad = a.graph(
            "POST",
            &format!("{act}/ads"),
            &[
                ("name", "Client ad".into()),
                ("adset_id", set.clone()),
                ("creative", json!({"creative_id": creative["id"]}).to_string()),
                ("status", "ACTIVE".into()),
            ],
        );
        meta.push((ad["id"].as_str().unwrap().to_string(), "id,name,status,adlabels"));
        let aud = a.graph(
            "POST",
            &format!("{act}/customaudiences"),
            &[
                ("name", "Client CRM audience".into()),
                ("subtype", "CUSTOM".into()),
                ("customer_file_source", "USER_PROVIDED_ONLY".into()),
                ("description", "theirs".into()),
            ],
        );
        meta.push((aud["id"].as_str().unwrap().to_string(), "id,name,description"));
    }
    let mut tiktok = Vec::new();
    for (_, adv, _) in TIKTOK {
        let (campaign, ad_group) = TIKTOK_FOREIGN_HOME;
        let campaign = a.tiktok_id(adv, "campaign", campaign);
        let group = a.tiktok_id(adv, "adgroup", ad_group);
        let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
        let made = a.tiktok(
            "POST",
            "adgroup/create/",
            json!({"advertiser_id": adv, "campaign_id": campaign, "adgroup_name": "Client ad group",
                "placement_type": "PLACEMENT_TYPE_AUTOMATIC", "location_ids": ["6252001"],
                "billing_event": "CPC", "optimization_goal": "CLICK", "bid_type": "BID_TYPE_NO_BID",
                "budget_mode": "BUDGET_MODE_DAY", "budget": 20, "pacing": "PACING_MODE_SMOOTH",
                "schedule_type": "SCHEDULE_FROM_NOW", "schedule_start_time": now}),
        );
        tiktok.push((
            "adgroup",
            made["adgroup_id"].as_str().unwrap().to_string(),
            "Client ad group".to_string(),
        ));
        let made = a.tiktok(
            "POST",
            "ad/create/",
            json!({"advertiser_id": adv, "adgroup_id": group, "creatives": [{
                "ad_name": "Client ad", "ad_format": "SINGLE_IMAGE", "ad_text": "Theirs",
                "identity_type": "CUSTOMIZED_USER", "identity_id": "7100000000000000999",
                "image_ids": ["ad-site-i18n-sg/client"]}]}),
        );
        tiktok.push((
            "ad",
            made["ad_ids"][0].as_str().unwrap().to_string(),
            "Client ad".to_string(),
        ));
    }
    let mut linkedin = Vec::new();
    for (_, account, cur) in LINKEDIN {
        let (group, campaign) = LINKEDIN_FOREIGN_HOME;
        let group = a.linkedin_id(account, "CampaignGroup", group);
        let campaign = a.linkedin_id(account, "Campaign", campaign);
        for (kind, name, fields) in [
            (
                "campaign",
                "Client campaign",
                json!({"campaignGroup": format!("urn:li:sponsoredCampaignGroup:{group}"), "name": "Client campaign",
                    "status": "ACTIVE", "type": "SPONSORED_UPDATES", "costType": "CPM",
                    "objectiveType": "BRAND_AWARENESS", "optimizationTargetType": "MAX_IMPRESSION",
                    "dailyBudget": {"amount": "15", "currencyCode": cur},
                    "runSchedule": {"start": chrono::Utc::now().timestamp() * 1000},
                    "targetingCriteria": {"include": {"and": [
                        {"or": {"urn:li:adTargetingFacet:locations": ["urn:li:geo:101282230"]}}]}},
                    "locale": {"country": "DE", "language": "de"}}),
            ),
            (
                "creative",
                "Client creative",
                json!({"campaign": format!("urn:li:sponsoredCampaign:{campaign}"), "name": "Client creative",
                    "intendedStatus": "ACTIVE", "content": {"reference": "urn:li:share:7000000000000000999"}}),
            ),
        ] {
            let made = a.linkedin_admin(
                "POST",
                "objects",
                json!({"kind": kind, "account": account, "fields": fields}),
            );
            let id = match &made["ids"][0] {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            linkedin.push((id, name.to_string()));
        }
    }
    let mut x = Vec::new();
    for (_, account, _) in X {
        let (campaign, line_item) = X_FOREIGN_HOME;
        let campaign = a.x_id(account, "campaign", campaign, None);
        let line_item = a.x_id(account, "line_item", line_item, Some(&campaign));
        let made = a.x_make(
            account,
            "line_item",
            json!({"campaign_id": campaign, "name": "Client line item", "entity_status": "ACTIVE",
                "objective": "WEBSITE_CLICKS", "product_type": "PROMOTED_TWEETS", "placements": ["ALL_ON_TWITTER"],
                "bid_strategy": "AUTO", "start_time": "2026-01-01T00:00:00Z", "end_time": null}),
        );
        x.push((made, "name", "Client line item".to_string()));
        let made = a.x_make(
            account,
            "promoted_tweet",
            json!({"line_item_id": line_item, "tweet_id": "1590000000000000999", "entity_status": "ACTIVE",
                "approval_status": "ACCEPTED"}),
        );
        x.push((made, "tweet_id", "1590000000000000999".to_string()));
        let made = a.x_make(
            account,
            "targeting_criterion",
            json!({"line_item_id": line_item, "targeting_type": "BROAD_KEYWORD", "targeting_value": "client term",
                "operator_type": "EQ", "name": "client term"}),
        );
        x.push((made, "targeting_value", "client term".to_string()));
    }
    Foreign {
        google,
        meta,
        tiktok,
        linkedin,
        x,
    }
}

/// Every foreign object still exists, unchanged (status as made, no adsctl label or marker).
fn untouched(a: &Agency, f: &Foreign) {
    for (cid, rn) in &f.google {
        let kind = rn.split('/').nth(2).unwrap();
        let (table, field) = match kind {
            "adGroupCriteria" => ("ad_group_criterion", "adGroupCriterion"),
            "campaignCriteria" => ("campaign_criterion", "campaignCriterion"),
            "adGroupAds" => ("ad_group_ad", "adGroupAd"),
            "adGroups" => ("ad_group", "adGroup"),
            "userLists" => ("user_list", "userList"),
            other => panic!("{other}"),
        };
        let extra = match table {
            "ad_group_criterion" | "ad_group" | "ad_group_ad" => format!(", {table}.labels"),
            "user_list" => ", user_list.integration_code".into(),
            _ => String::new(),
        };
        let status = if table == "user_list" {
            "membership_status"
        } else {
            "status"
        };
        let rows = a.gaql(
            cid,
            &format!("SELECT {table}.resource_name, {table}.{status}{extra} FROM {table} WHERE {table}.resource_name = '{rn}'"),
        );
        let row = rows.first().unwrap_or_else(|| panic!("{rn} is gone"))[field].clone();
        let st = row[if table == "user_list" {
            "membershipStatus"
        } else {
            "status"
        }]
        .as_str()
        .unwrap_or("");
        assert!(st == "ENABLED" || st == "OPEN", "{rn} was changed: {row}");
        assert!(
            row["labels"].as_array().is_none_or(|l| l.is_empty()),
            "{rn} was labelled: {row}"
        );
        assert_ne!(
            row["integrationCode"].as_str().unwrap_or(""),
            "adsctl-managed",
            "{rn} was marked: {row}"
        );
    }
    for (id, fields) in &f.meta {
        let o = a.graph("GET", id, &[("fields", fields.to_string())]);
        if let Some(s) = o["status"].as_str() {
            assert_eq!(s, "ACTIVE", "{id} was changed: {o}");
        }
        assert!(o["adlabels"].is_null(), "{id} was labelled: {o}");
        assert_eq!(
            o["description"].as_str().unwrap_or("theirs"),
            "theirs",
            "{id} was marked: {o}"
        );
    }
    for (kind, id, name) in &f.tiktok {
        let adv = TIKTOK[0].1;
        let data = a.tiktok(
            "GET",
            &format!("{kind}/get/"),
            json!({"advertiser_id": adv,
                "filtering": json!({format!("{kind}_ids"): [id], "primary_status": "STATUS_ALL"}).to_string()}),
        );
        let row = data["list"]
            .as_array()
            .and_then(|l| l.first())
            .unwrap_or_else(|| panic!("TikTok {kind} {id} is gone: {data}"));
        assert_eq!(
            row[format!("{kind}_name")],
            name.as_str(),
            "{id} was renamed or marked: {row}"
        );
        assert_eq!(row["operation_status"], "ENABLE", "{id} was changed: {row}");
    }
    for (id, name) in &f.linkedin {
        let id = id.rsplit(':').next().unwrap_or(id);
        let o = a.linkedin_admin("GET", &format!("objects/{id}"), Value::Null);
        assert_ne!(o["_emulator"]["deleted"], true, "LinkedIn {id} was deleted: {o}");
        assert_eq!(o["name"], name.as_str(), "{id} was renamed or marked: {o}");
        let status = o["status"].as_str().or(o["intendedStatus"].as_str());
        assert_eq!(status, Some("ACTIVE"), "{id} was changed: {o}");
    }
    for (id, field, value) in &f.x {
        let o = a.x_admin("GET", &format!("objects/{id}"), Value::Null);
        assert_ne!(o["_emulator"]["deleted"], true, "X {id} was deleted: {o}");
        assert_eq!(o[*field], value.as_str(), "{id} was renamed or marked: {o}");
        assert_eq!(o["entity_status"], "ACTIVE", "{id} was changed: {o}");
    }
}

#[test]
fn objects_other_clients_made_inside_managed_containers_are_never_touched() {
    for policy in ["pause", "remove", "orphan"] {
        let a = Agency::new();
        a.set_policy(Some(policy));
        let state = a.fresh_state();
        a.expect(&state, &["apply", "--auto-approve"], 0);
        let foreign = make_foreign(&a);
        for runner in [state.clone(), a.fresh_state()] {
            let plan = a.expect(&runner, &["plan", "--detailed-exitcode"], 0);
            assert!(plan.contains("Not managed"), "{policy}: {plan}");
            assert!(plan.contains("client added term:exact"), "{policy}: {plan}");
            a.expect(&runner, &["apply", "--auto-approve"], 0);
            untouched(&a, &foreign);
        }
        // A campaign leaves the YAML (on TikTok and X too, and a campaign group on LinkedIn): what adsctl owns goes
        // by the policy, what someone else made below it stays.
        let mut kept = Vec::new();
        for (file, first, next, _, _) in LEAVING {
            let path = a.dir.join(file);
            let yaml = std::fs::read_to_string(&path).unwrap();
            let start = yaml.find(first).unwrap();
            let end = yaml.find(next).unwrap();
            std::fs::write(&path, format!("{}{}", &yaml[..start], &yaml[end..])).unwrap();
            kept.push((path, yaml));
        }
        for (n, runner) in [state.clone(), a.fresh_state()].into_iter().enumerate() {
            let plan = a.plan_json(&runner);
            for (_, _, _, campaign, core) in LEAVING {
                let core = format!("{campaign}/{core}");
                let acted: BTreeMap<String, String> = changes(&plan)
                    .into_iter()
                    .filter(|(addr, _)| addr.starts_with(campaign))
                    .collect();
                // Objects adsctl does not manage live below the campaign and its container: with `remove` they
                // are paused, never removed (that would delete the other client's objects with them).
                assert_ne!(
                    acted.get(campaign).map(String::as_str),
                    Some("remove"),
                    "{policy}: {acted:?}"
                );
                assert_ne!(
                    acted.get(&core).map(String::as_str),
                    Some("remove"),
                    "{policy}: {acted:?}"
                );
                match (policy, n) {
                    ("orphan", _) => assert!(acted.is_empty(), "{policy}: {acted:?}"),
                    // the first runner pauses it; the second finds it paused
                    (_, 0) => assert_eq!(
                        acted.get(campaign).map(String::as_str),
                        Some("pause"),
                        "{policy}: {acted:?}"
                    ),
                    _ => assert!(acted.is_empty(), "{policy}: {acted:?}"),
                }
            }
            a.expect(&runner, &["apply", "--auto-approve"], 0);
            untouched(&a, &foreign);
        }
        for (path, yaml) in kept {
            std::fs::write(&path, yaml).unwrap();
        }
    }
}

/// The campaigns holding other clients' objects that the removal part of the test takes out of the YAML: (file,
/// its first line, the next campaign's first line, its address, the container below it that holds other clients'
/// objects too).
const LEAVING: [(&str, &str, &str, &str, &str); 4] = [
    (
        "fabrikam/search.yaml",
        "  - name: Fabrikam - Hiking Boots\n",
        "  - name: Fabrikam - Rain Jackets\n",
        "fabrikam-search/campaign/Fabrikam - Hiking Boots",
        "ad_group/Hiking Boots - Core",
    ),
    (
        "fabrikam/tiktok.yaml",
        "  - name: Fabrikam - Hiking Boots - TikTok\n",
        "  - name: Fabrikam - Rain Jackets - TikTok\n",
        "fabrikam-tiktok/campaign/Fabrikam - Hiking Boots - TikTok",
        "ad_group/US 18-34",
    ),
    (
        "tailspin/linkedin.yaml",
        "  - name: Tailspin - Drones - LinkedIn\n",
        "  - name: Tailspin - Camera Gimbals and Action Cameras - LinkedIn\n",
        "tailspin-linkedin/campaign_group/Tailspin - Drones - LinkedIn",
        "campaign/Drone professionals - DE",
    ),
    (
        "fabrikam/x.yaml",
        "  - name: Fabrikam - Hiking Boots - X\n",
        "  - name: Fabrikam - Rain Jackets - X\n",
        "fabrikam-x/campaign/Fabrikam - Hiking Boots - X",
        "ad_group/US hikers",
    ),
];

#[test]
fn an_account_built_on_the_platform_is_imported_and_plans_nothing_here_and_on_a_fresh_runner() {
    let a = Agency::new();
    // Built by hand: one campaign tree of each platform (a campaign group's on LinkedIn).
    let cid = "2030000005";
    a.google(
        cid,
        "googleAds:mutate",
        json!({"mutateOperations": [
            {"campaignBudgetOperation": {"create": {"resourceName": format!("customers/{cid}/campaignBudgets/-1"),
                "name": "Hand budget", "amountMicros": "25000000", "explicitlyShared": false}}},
            {"campaignOperation": {"create": {"resourceName": format!("customers/{cid}/campaigns/-2"),
                "name": "Hand made", "status": "ENABLED", "advertisingChannelType": "SEARCH",
                "campaignBudget": format!("customers/{cid}/campaignBudgets/-1"), "manualCpc": {"enhancedCpcEnabled": false},
                "containsEuPoliticalAdvertising": "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING"}}},
            {"campaignCriterionOperation": {"create": {"campaign": format!("customers/{cid}/campaigns/-2"),
                "negative": true, "keyword": {"text": "cheap", "matchType": "PHRASE"}}}},
            {"adGroupOperation": {"create": {"resourceName": format!("customers/{cid}/adGroups/-3"),
                "campaign": format!("customers/{cid}/campaigns/-2"), "name": "Hand group", "status": "ENABLED",
                "type": "SEARCH_STANDARD", "cpcBidMicros": "900000"}}},
            {"adGroupCriterionOperation": {"create": {"adGroup": format!("customers/{cid}/adGroups/-3"),
                "status": "ENABLED", "keyword": {"text": "hand made", "matchType": "PHRASE"}}}},
            {"adGroupAdOperation": {"create": {"adGroup": format!("customers/{cid}/adGroups/-3"), "status": "ENABLED",
                "ad": {"finalUrls": ["https://hand.example/"], "responsiveSearchAd": {"headlines": [{"text": "Hand one"},
                {"text": "Hand two"}, {"text": "Hand three"}], "descriptions": [{"text": "Made by hand."},
                {"text": "Imported later."}]}}}}},
        ]}),
    );
    let act = "act_2020000004";
    let camp = a.graph(
        "POST",
        &format!("{act}/campaigns"),
        &[
            ("name", "Hand social".into()),
            ("objective", "OUTCOME_TRAFFIC".into()),
            ("special_ad_categories", "[]".into()),
            ("status", "ACTIVE".into()),
            ("daily_budget", "2500".into()),
            ("bid_strategy", "LOWEST_COST_WITHOUT_CAP".into()),
        ],
    );
    let set = a.graph(
        "POST",
        &format!("{act}/adsets"),
        &[
            ("name", "Hand set".into()),
            ("campaign_id", camp["id"].as_str().unwrap().into()),
            ("billing_event", "IMPRESSIONS".into()),
            ("optimization_goal", "LINK_CLICKS".into()),
            ("status", "ACTIVE".into()),
            (
                "targeting",
                json!({"geo_locations": {"countries": ["DE"]}, "age_min": 30}).to_string(),
            ),
        ],
    );
    let creative = a.graph(
        "POST",
        &format!("{act}/adcreatives"),
        &[
            ("name", "Hand creative".into()),
            (
                "object_story_spec",
                json!({"page_id": "5500000009", "link_data": {"link": "https://hand.example/", "message": "By hand"}})
                    .to_string(),
            ),
        ],
    );
    a.graph(
        "POST",
        &format!("{act}/ads"),
        &[
            ("name", "Hand ad".into()),
            ("adset_id", set["id"].as_str().unwrap().into()),
            ("creative", json!({"creative_id": creative["id"]}).to_string()),
            ("status", "ACTIVE".into()),
        ],
    );
    // One TikTok campaign tree, made through the API.
    let adv = TIKTOK[0].1;
    let camp = a.tiktok(
        "POST",
        "campaign/create/",
        json!({"advertiser_id": adv, "campaign_name": "Hand made TikTok", "objective_type": "TRAFFIC",
            "budget_mode": "BUDGET_MODE_DAY", "budget": 60}),
    );
    let now = chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string();
    let group = a.tiktok(
        "POST",
        "adgroup/create/",
        json!({"advertiser_id": adv, "campaign_id": camp["campaign_id"], "adgroup_name": "Hand group",
            "placement_type": "PLACEMENT_TYPE_AUTOMATIC", "location_ids": ["6252001"],
            "billing_event": "CPC", "optimization_goal": "CLICK", "bid_type": "BID_TYPE_NO_BID",
            "budget_mode": "BUDGET_MODE_DAY", "budget": 20, "pacing": "PACING_MODE_SMOOTH",
            "schedule_type": "SCHEDULE_FROM_NOW", "schedule_start_time": now}),
    );
    a.tiktok(
        "POST",
        "ad/create/",
        json!({"advertiser_id": adv, "adgroup_id": group["adgroup_id"], "creatives": [{
            "ad_name": "Hand ad", "ad_format": "SINGLE_IMAGE", "ad_text": "Made by hand",
            "identity_type": "CUSTOMIZED_USER", "identity_id": "7100000000000000999",
            "image_ids": ["ad-site-i18n-sg/hand"]}]}),
    );
    // One LinkedIn campaign group tree, made in Campaign Manager.
    let (_, li, cur) = LINKEDIN[0];
    let urn = format!("urn:li:sponsoredAccount:{li}");
    let made = |kind: &str, fields: Value| -> String {
        let r = a.linkedin_admin(
            "POST",
            "objects",
            json!({"kind": kind, "account": li, "fields": fields}),
        );
        match &r["ids"][0] {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        }
    };
    let group = made(
        "campaign_group",
        json!({"account": urn, "name": "Hand made LinkedIn", "status": "ACTIVE"}),
    );
    let campaign = made(
        "campaign",
        json!({"account": urn, "campaignGroup": format!("urn:li:sponsoredCampaignGroup:{group}"),
            "name": "Hand campaign", "status": "ACTIVE", "type": "SPONSORED_UPDATES", "costType": "CPM",
            "objectiveType": "BRAND_AWARENESS", "optimizationTargetType": "MAX_IMPRESSION",
            "dailyBudget": {"amount": "25", "currencyCode": cur},
            "runSchedule": {"start": chrono::Utc::now().timestamp() * 1000},
            "targetingCriteria": {"include": {"and": [
                {"or": {"urn:li:adTargetingFacet:locations": ["urn:li:geo:101282230"]}}]}},
            "locale": {"country": "DE", "language": "de"}}),
    );
    made(
        "creative",
        json!({"campaign": format!("urn:li:sponsoredCampaign:{campaign}"), "name": "Hand creative",
            "intendedStatus": "ACTIVE", "content": {"reference": "urn:li:share:7000000000000000888"}}),
    );
    // One X campaign tree, made in X Ads Manager: a campaign, a line item, a promoted post and a criterion.
    let (_, xa, _) = X[0];
    // the emulator's funding instrument of an account: `f` and the account id's first eight characters
    let funding = format!("f{}", &xa[..8]);
    let campaign = a.x_make(
        xa,
        "campaign",
        json!({"name": "Hand made X", "funding_instrument_id": funding, "entity_status": "ACTIVE",
            "daily_budget_amount_local_micro": 30_000_000, "total_budget_amount_local_micro": null,
            "budget_optimization": "LINE_ITEM", "standard_delivery": true, "purchase_order_number": null}),
    );
    let line_item = a.x_make(
        xa,
        "line_item",
        json!({"campaign_id": campaign, "name": "Hand line item", "entity_status": "ACTIVE",
            "objective": "WEBSITE_CLICKS", "product_type": "PROMOTED_TWEETS", "placements": ["ALL_ON_TWITTER"],
            "bid_strategy": "MAX", "bid_amount_local_micro": 1_200_000, "goal": "LINK_CLICKS",
            "pay_by": "LINK_CLICK", "start_time": "2026-01-01T00:00:00Z", "end_time": null}),
    );
    a.x_make(
        xa,
        "promoted_tweet",
        json!({"line_item_id": line_item, "tweet_id": "1590000000000000888", "entity_status": "ACTIVE",
            "approval_status": "ACCEPTED"}),
    );
    a.x_make(
        xa,
        "targeting_criterion",
        json!({"line_item_id": line_item, "targeting_type": "LOCATION", "targeting_value": "96683cc9126741d1",
            "operator_type": "EQ", "name": "United States"}),
    );
    // (account, the names its import must hold: the hand-made tree, top to bottom)
    for (account, names) in [
        ("woodgrove-search", &["Hand made", "Hand group", "hand made"][..]),
        ("tailspin-social", &["Hand social", "Hand set", "Hand ad"][..]),
        ("fabrikam-tiktok", &["Hand made TikTok", "Hand group", "Hand ad"][..]),
        (
            "tailspin-linkedin",
            &["Hand made LinkedIn", "Hand campaign", "Hand creative"][..],
        ),
        (
            "fabrikam-x",
            &[
                "Hand made X",
                "Hand line item",
                "1590000000000000888",
                "96683cc9126741d1",
            ][..],
        ),
    ] {
        let state = a.fresh_state();
        let out = a.tmp.path().join(format!("import-{account}"));
        let o = a
            .cmd(&state)
            .args(["import", account, "--dir"])
            .arg(&a.dir)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let imported: String = common::files_below(&out)
            .iter()
            .map(|f| std::fs::read_to_string(out.join(f)).unwrap())
            .collect();
        for name in names {
            assert!(
                imported.contains(name),
                "{account}: `{name}` was not imported:\n{imported}"
            );
        }
        // The import was made against the real endpoint in adsctl.yaml: the output says the same.
        for runner in [state.clone(), a.fresh_state()] {
            let o = a
                .cmd(&runner)
                .args(["plan", "--detailed-exitcode"])
                .arg(&out)
                .output()
                .unwrap();
            assert_eq!(
                o.status.code(),
                Some(0),
                "{account}: the imported project plans changes:\n{}",
                text(&o)
            );
        }
    }
}

#[test]
fn two_runners_at_once_from_fresh_states_never_duplicate() {
    // The objects one apply makes (leases left out).
    let reference = {
        let a = Agency::new();
        a.expect(&a.fresh_state(), &["apply", "--auto-approve"], 0);
        live_per_kind(&a.dump())
    };
    // Every platform's objects are counted (the fixture's TikTok, LinkedIn and X trees, as the YAML declares them).
    for (kind, n) in [
        ("tiktok Campaign", 3),
        ("tiktok Adgroup", 7),
        ("tiktok Ad", 15),
        ("tiktok Audience", 1),
        ("tiktok Lookalike", 1),
        ("linkedin CampaignGroup", 2),
        ("linkedin Campaign", 5),
        ("linkedin Creative", 12),
        ("linkedin DmpSegment", 2),
        ("x campaign", 3),
        ("x line_item", 7),
        ("x promoted_tweet", 13),
        ("x targeting_criterion", 28),
        ("x custom_audience", 1),
    ] {
        assert_eq!(reference.get(kind), Some(&n), "{kind}: {reference:#?}");
    }
    let rounds = if std::env::var("ADSCTL_LONG_TESTS").is_ok_and(|v| v == "1") {
        20
    } else {
        10
    };
    for round in 0..rounds {
        let a = Agency::new();
        let (s1, s2) = (a.fresh_state(), a.fresh_state());
        let spawn = |s: &Path| {
            a.cmd(s)
                .args(["apply", "--auto-approve", "--lock-timeout", "5m"])
                .arg(&a.dir)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        // Both read at once (a runner blocked on a full pipe would hold its lease).
        let (c1, c2) = (spawn(&s1), spawn(&s2));
        let t1 = std::thread::spawn(move || c1.wait_with_output().unwrap());
        let t2 = std::thread::spawn(move || c2.wait_with_output().unwrap());
        let (o1, o2) = (t1.join().unwrap(), t2.join().unwrap());
        assert!(o1.status.success(), "round {round}, runner 1:\n{}", text(&o1));
        assert!(o2.status.success(), "round {round}, runner 2:\n{}", text(&o2));
        let dump = a.dump();
        let dups = duplicates(&dump);
        assert!(dups.is_empty(), "round {round}: duplicates {dups:#?}");
        assert_eq!(live_per_kind(&dump), reference, "round {round}");
        // One of them applied; the other waited for its lease and then found nothing to do.
        let said: Vec<String> = [&o1, &o2].iter().map(|o| text(o)).collect();
        assert!(
            said.iter().any(|t| t.contains("No changes")),
            "round {round}: {said:#?}"
        );
    }
}

#[test]
fn campaign_negatives_come_and_go() {
    let a = Agency::new();
    let state = a.fresh_state();
    a.expect(&state, &["apply", "--auto-approve"], 0);
    let cid = "2020000003";
    let negatives = |a: &Agency| -> Vec<String> {
        a.gaql(
            cid,
            "SELECT campaign_criterion.keyword.text, campaign_criterion.status FROM campaign_criterion \
             WHERE campaign_criterion.negative = TRUE AND campaign_criterion.status != 'REMOVED'",
        )
        .iter()
        .map(|r| {
            r["campaignCriterion"]["keyword"]["text"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
    };
    let before = negatives(&a);
    assert_eq!(before.iter().filter(|t| *t == "free drones").count(), 1, "{before:?}");
    // tailspin-search prunes with `remove`: a negative that leaves the YAML goes, on a fresh runner too (it is
    // identity only: the YAML naming it is what makes it adsctl's; the runner that made it remembers it).
    let f = a.dir.join("tailspin/search.yaml");
    let yaml = std::fs::read_to_string(&f).unwrap();
    std::fs::write(
        &f,
        yaml.replacen("      - { text: free drones, match: phrase }\n", "", 1),
    )
    .unwrap();
    let plan = a.plan_json(&state);
    assert_eq!(
        changes(&plan),
        vec![(
            "tailspin-search/campaign/Tailspin - Drones/negative_keyword/free drones:phrase".to_string(),
            "remove".to_string()
        )]
    );
    a.expect(&state, &["apply", "--auto-approve"], 0);
    assert!(!negatives(&a).contains(&"free drones".to_string()));
    std::fs::write(&f, yaml).unwrap();
    a.expect(&a.fresh_state(), &["apply", "--auto-approve"], 0);
    assert_eq!(negatives(&a).len(), before.len());
    a.expect(&a.fresh_state(), &["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_membership_change_seen_by_a_fresh_runner_is_exactly_that_change() {
    let a = Agency::new();
    a.expect(&a.fresh_state(), &["apply", "--auto-approve"], 0);
    let csv = a.dir.join("data/fabrikam-customers.csv");
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str("new.customer@fabrikam.example,1\n");
    std::fs::write(&csv, text).unwrap();
    let fresh = a.fresh_state();
    let plan = a.plan_json(&fresh);
    let mut got = changes(&plan);
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "fabrikam-search/audience/Fabrikam customers".to_string(),
                "update".to_string()
            ),
            (
                "fabrikam-social/audience/Fabrikam customers".to_string(),
                "update".to_string()
            ),
            (
                "fabrikam-tiktok/audience/Fabrikam customers".to_string(),
                "update".to_string()
            ),
            (
                "fabrikam-x/audience/Fabrikam customers".to_string(),
                "update".to_string()
            ),
        ]
    );
    for account in plan["accounts"].as_array().unwrap() {
        for c in account["changes"].as_array().unwrap() {
            if c["action"] == "update" {
                let fields: Vec<&str> = c["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["field"].as_str().unwrap())
                    .collect();
                assert_eq!(fields, ["members"], "{c}");
            }
        }
    }
    a.expect(&fresh, &["apply", "--auto-approve"], 0);
    a.expect(&a.fresh_state(), &["plan", "--detailed-exitcode"], 0);
    // Without the change, a fresh runner plans nothing again after a change made by another runner.
    a.expect(&fresh, &["plan", "--detailed-exitcode"], 0);
}
