//! Trust on a real repository: the agency fixture (`tests/fixtures/agency`, five accounts over both platforms,
//! 545 resources) through the adsctl binary against the emulator.
//!
//! - it applies in one run, and a runner without state (every CI job) plans nothing and writes nothing;
//! - objects other clients made inside managed containers are never touched, whatever `on_removed` says, on a
//!   runner with state and on one without;
//! - an account built directly on the platform, imported, plans nothing (here and on a fresh runner);
//! - two applies at once from two fresh state directories never duplicate anything;
//! - campaign negatives come and go, a lookalike and the ad set targeting it are made in one apply;
//! - a membership change seen by a fresh runner is planned as exactly that change.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use adsctl::emulator::config::{GoogleCustomerSeed, MetaAdAccountSeed};
use adsctl::emulator::platform::defaults;
use adsctl::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
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
        for (_, id, cur) in GOOGLE {
            config.seed.google_ads.customers.push(GoogleCustomerSeed {
                customer_id: id.into(),
                currency: cur.into(),
                time_zone: "Europe/London".into(),
                descriptive_name: None,
                manager: false,
                clients: Vec::new(),
            });
        }
        for (_, id, cur) in META {
            config.seed.meta.ad_accounts.push(MetaAdAccountSeed {
                id: id.into(),
                currency: cur.into(),
                timezone_name: "Europe/London".into(),
                name: None,
            });
        }
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
    /// `POST act_…/adlabels` and the `DELETE /{label id}` that gives each Meta lease back (one per Meta account).
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
                    || e.starts_with("DELETE"))
                    && !e.contains("labels:mutate")
                    && !e.contains("adlabels")
            })
            .map(|(e, s)| {
                let leases = if e == "DELETE /v25.0/{id}" {
                    META.len() as u64
                } else {
                    0
                };
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
    out
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

    // A runner without state: nothing to do, nothing written.
    let fresh = a.fresh_state();
    let plan = a.expect(&fresh, &["plan", "--detailed-exitcode"], 0);
    assert!(plan.contains("545 unchanged"), "{plan}");
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
}

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
    Foreign { google, meta }
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
        // A campaign leaves the YAML: what adsctl owns goes by the policy, what someone else made below it stays.
        let search = a.dir.join("fabrikam/search.yaml");
        let yaml = std::fs::read_to_string(&search).unwrap();
        let start = yaml.find("  - name: Fabrikam - Hiking Boots\n").unwrap();
        let end = yaml.find("  - name: Fabrikam - Rain Jackets\n").unwrap();
        std::fs::write(&search, format!("{}{}", &yaml[..start], &yaml[end..])).unwrap();
        let campaign = "fabrikam-search/campaign/Fabrikam - Hiking Boots";
        let core = format!("{campaign}/ad_group/Hiking Boots - Core");
        for (n, runner) in [state.clone(), a.fresh_state()].into_iter().enumerate() {
            let plan = a.plan_json(&runner);
            let acted: BTreeMap<String, String> = changes(&plan)
                .into_iter()
                .filter(|(addr, _)| addr.starts_with(campaign))
                .collect();
            // Objects adsctl does not manage live below the campaign and its Core ad group: with `remove` they
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
            a.expect(&runner, &["apply", "--auto-approve"], 0);
            untouched(&a, &foreign);
        }
        std::fs::write(&search, yaml).unwrap();
    }
}

#[test]
fn an_account_built_on_the_platform_is_imported_and_plans_nothing_here_and_on_a_fresh_runner() {
    let a = Agency::new();
    // Built by hand: one Google campaign tree and one Meta campaign tree.
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
    for account in ["woodgrove-search", "tailspin-social"] {
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
