//! Performance Max catalog campaigns through the `adsctl` binary against the in-process emulator (issue 28,
//! "Catalog ads", Google side): a campaign linked to a Merchant Center account, its asset groups and their listing
//! group trees — plan, apply, an empty plan, an edit, drift made on the platform, the removal policy, a fresh
//! runner, import.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use adsctl::emulator::google_ads::pmax::LINKED_MERCHANT_ID;
use adsctl::emulator::platform::defaults;
use adsctl::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::{json, Value};

const CUSTOMER: &str = "1234567890";

const CAMPAIGN: &str = "campaigns:
  - name: Catalog
    account: acme
    channel: performance_max
    status: paused
    budget: { daily: 80 }
    bidding:
      maximize_conversion_value: { target_roas: 4 }
    merchant_center_id: MERCHANT
    feed_label: US
    asset_groups:
      - name: Acme brand
        status: enabled
        final_urls: [https://shop.example.com/acme]
        listing_groups:
          brand:
            Acme:
              condition:
                new: included
                else: excluded
            else: excluded
      - name: Clearance
        final_urls: [https://shop.example.com/sale]
        listing_groups:
          custom_label_0:
            clearance: included
            else: excluded
";

struct Project {
    dir: tempfile::TempDir,
    log: std::cell::RefCell<String>,
}

impl Project {
    fn new(url: &str, on_removed: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let p = Project {
            dir,
            log: Default::default(),
        };
        p.account(url, on_removed);
        std::fs::create_dir(p.path().join("campaigns")).unwrap();
        p.campaign(&CAMPAIGN.replace("MERCHANT", LINKED_MERCHANT_ID));
        p
    }
    fn account(&self, url: &str, on_removed: &str) {
        std::fs::write(
            self.path().join("adsctl.yaml"),
            format!(
                "accounts:\n  acme:\n    platform: google_ads\n    customer_id: 123-456-7890\n    currency: USD\n    \
                 on_removed: {on_removed}\n    endpoint: {url}\n"
            ),
        )
        .unwrap();
    }
    fn campaign(&self, text: &str) {
        std::fs::write(self.path().join("campaigns/catalog.yaml"), text).unwrap();
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn run_in(&self, dir: &Path, args: &[&str]) -> Output {
        let o = Command::new(env!("CARGO_BIN_EXE_adsctl"))
            .env("ADSCTL_CONFIRM_READ_DELAY_MS", "20")
            .args(args)
            .current_dir(dir)
            .env_remove("ADSCTL_BACKEND")
            .env_remove("ADSCTL_GOOGLE_ADS_ENDPOINT")
            .env_remove("ADSCTL_GOOGLE_OAUTH_TOKEN_URL")
            .env_remove("GOOGLE_ADS_LOGIN_CUSTOMER_ID")
            .env("GOOGLE_ADS_CLIENT_ID", defaults::GOOGLE_CLIENT_ID)
            .env("GOOGLE_ADS_CLIENT_SECRET", defaults::GOOGLE_CLIENT_SECRET)
            .env("GOOGLE_ADS_DEVELOPER_TOKEN", defaults::GOOGLE_DEVELOPER_TOKEN)
            .env("GOOGLE_ADS_REFRESH_TOKEN", defaults::GOOGLE_REFRESH_TOKEN)
            .env("ADSCTL_GOOGLE_ADS_RETRY_MIN_MS", "10")
            .env("ADSCTL_GOOGLE_ADS_RETRY_MAX_MS", "100")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        self.log.borrow_mut().push_str(&format!(
            "$ adsctl {}\n{}{}\n",
            args.join(" "),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ));
        o
    }
    fn run(&self, args: &[&str]) -> Output {
        let d = self.path().display().to_string();
        let mut full = args.to_vec();
        full.push(&d);
        self.run_in(self.path(), &full)
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(o.status.code(), Some(0), "{}", self.log.borrow());
        String::from_utf8_lossy(&o.stdout).to_string()
    }
    fn no_changes(&self, dir: &Path) {
        let o = self.run_in(dir, &["plan", "--detailed-exitcode", &dir.display().to_string()]);
        assert_eq!(o.status.code(), Some(0), "no changes expected:\n{}", self.log.borrow());
    }
    fn plan_json(&self) -> Value {
        serde_json::from_str(&self.ok(&["plan", "--json"])).unwrap()
    }
}

/// (address, action) of every change that is not a no-op.
fn changes(plan: &Value) -> Vec<(String, String)> {
    plan["accounts"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no_op")
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn changed_fields(plan: &Value, address: &str) -> Vec<String> {
    plan["accounts"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == address)
        .map(|c| {
            c["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["field"].as_str().or_else(|| f["name"].as_str()).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn search(h: &EmulatorHandle, query: &str) -> Vec<Value> {
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/token", h.url()))
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
    let v: Value = http
        .post(format!("{}/v25/customers/{CUSTOMER}/googleAds:search", h.url()))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .header("developer-token", defaults::GOOGLE_DEVELOPER_TOKEN)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["results"].as_array().cloned().unwrap_or_default()
}

/// Live asset groups: name → (status, final URLs).
async fn groups(h: &EmulatorHandle) -> BTreeMap<String, (String, Vec<String>)> {
    search(
        h,
        "SELECT asset_group.name, asset_group.status, asset_group.final_urls FROM asset_group",
    )
    .await
    .iter()
    .map(|r| {
        let g = &r["assetGroup"];
        (
            g["name"].as_str().unwrap().to_string(),
            (
                g["status"].as_str().unwrap().to_string(),
                g["finalUrls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|u| u.as_str().unwrap().to_string())
                    .collect(),
            ),
        )
    })
    .collect()
}

/// Live listing group filters of one asset group: (type, case value) of each node.
async fn tree(h: &EmulatorHandle, group: &str) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = search(
        h,
        "SELECT asset_group_listing_group_filter.type, asset_group_listing_group_filter.case_value, \
         asset_group.name FROM asset_group_listing_group_filter",
    )
    .await
    .iter()
    .filter(|r| r["assetGroup"]["name"] == group)
    .map(|r| {
        let f = &r["assetGroupListingGroupFilter"];
        (
            f["type"].as_str().unwrap().to_string(),
            f.get("caseValue").cloned().unwrap_or(Value::Null),
        )
    })
    .collect();
    out.sort_by_key(|(t, c)| format!("{t}{c}"));
    out
}

async fn drift(h: &EmulatorHandle, resource_name: &str, set: Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/_emulator/google_ads/drift", h.url()))
        .json(&json!({"resourceName": resource_name, "set": set}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_campaign_with_asset_groups_and_listing_trees_lifecycle() {
    let h = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    let p = Project::new(&h.url(), "pause");

    // plan: the campaign with its merchant link, two asset groups with their trees, shown leaf by leaf
    let text = p.ok(&["plan"]);
    for want in [
        "+ campaign \"Catalog\"",
        "shopping.merchant_id: \"1234567\"",
        "+ asset_group \"Acme brand\"",
        "brand='Acme' / condition=new: included",
        "brand='Acme' / condition=*: excluded",
        "brand=*: excluded",
        "custom_label_0='clearance': included",
    ] {
        assert!(text.contains(want), "{want}:\n{text}");
    }
    let plan = p.plan_json();
    let mut ch = changes(&plan);
    ch.sort();
    assert_eq!(
        ch,
        vec![
            ("acme/campaign/Catalog".to_string(), "create".to_string()),
            (
                "acme/campaign/Catalog/asset_group/Acme brand".to_string(),
                "create".to_string()
            ),
            (
                "acme/campaign/Catalog/asset_group/Clearance".to_string(),
                "create".to_string()
            ),
        ]
    );

    // apply: one request builds the campaign, its groups and their trees
    p.ok(&["apply", "--auto-approve"]);
    let live = groups(&h).await;
    assert_eq!(
        live["Acme brand"],
        ("ENABLED".to_string(), vec!["https://shop.example.com/acme".to_string()])
    );
    let acme = tree(&h, "Acme brand").await;
    assert_eq!(acme.len(), 5, "{acme:?}");
    assert_eq!(acme.iter().filter(|(t, _)| t == "SUBDIVISION").count(), 2);
    assert!(acme.contains(&(
        "UNIT_INCLUDED".to_string(),
        json!({"productCondition": {"condition": "NEW"}})
    )));
    let campaign = search(
        &h,
        "SELECT campaign.shopping_setting.merchant_id, campaign.advertising_channel_type FROM campaign",
    )
    .await;
    assert_eq!(
        campaign[0]["campaign"]["shoppingSetting"]["merchantId"],
        LINKED_MERCHANT_ID
    );
    assert_eq!(campaign[0]["campaign"]["advertisingChannelType"], "PERFORMANCE_MAX");
    p.no_changes(p.path());

    // an edit: a second brand in the tree, another final URL — the tree is replaced, the group updated in place
    p.campaign(
        &CAMPAIGN
            .replace("MERCHANT", LINKED_MERCHANT_ID)
            .replace("https://shop.example.com/acme", "https://shop.example.com/brands/acme")
            .replace(
                "            else: excluded\n      - name: Clearance",
                "            Globex: included\n            else: excluded\n      - name: Clearance",
            ),
    );
    let plan = p.plan_json();
    assert_eq!(
        changes(&plan),
        vec![(
            "acme/campaign/Catalog/asset_group/Acme brand".to_string(),
            "update".to_string()
        )],
        "{plan}"
    );
    let mut f = changed_fields(&plan, "acme/campaign/Catalog/asset_group/Acme brand");
    f.sort();
    assert_eq!(f, ["final_urls", "listing_groups"]);
    p.ok(&["apply", "--auto-approve"]);
    let acme = tree(&h, "Acme brand").await;
    assert_eq!(acme.len(), 6, "{acme:?}");
    assert!(acme.contains(&(
        "UNIT_INCLUDED".to_string(),
        json!({"productBrand": {"value": "Globex"}})
    )));
    assert_eq!(
        groups(&h).await["Acme brand"].1,
        vec!["https://shop.example.com/brands/acme".to_string()]
    );
    p.no_changes(p.path());

    // drift on the platform: the group paused and a leaf of its tree flipped, behind adsctl's back
    let rows = search(
        &h,
        "SELECT asset_group.resource_name, asset_group.name, asset_group_listing_group_filter.resource_name, \
         asset_group_listing_group_filter.case_value FROM asset_group_listing_group_filter",
    )
    .await;
    let globex = rows
        .iter()
        .find(|r| r["assetGroupListingGroupFilter"]["caseValue"]["productBrand"]["value"] == "Globex")
        .unwrap();
    let group_rn = globex["assetGroup"]["resourceName"].as_str().unwrap().to_string();
    drift(&h, &group_rn, json!({"status": "PAUSED"})).await;
    drift(
        &h,
        globex["assetGroupListingGroupFilter"]["resourceName"].as_str().unwrap(),
        json!({"type": "UNIT_EXCLUDED"}),
    )
    .await;
    let plan = p.plan_json();
    let mut f = changed_fields(&plan, "acme/campaign/Catalog/asset_group/Acme brand");
    f.sort();
    assert_eq!(f, ["listing_groups", "status"], "{plan}");
    p.ok(&["apply", "--auto-approve"]);
    assert_eq!(groups(&h).await["Acme brand"].0, "ENABLED");
    assert!(tree(&h, "Acme brand").await.contains(&(
        "UNIT_INCLUDED".to_string(),
        json!({"productBrand": {"value": "Globex"}})
    )));
    p.no_changes(p.path());

    // a fresh runner (the same YAML, no state directory) plans nothing: asset groups are recognised by the YAML
    // naming them under adsctl's campaign
    let fresh = tempfile::tempdir().unwrap();
    for f in walk(p.path()) {
        let rel = f.strip_prefix(p.path()).unwrap();
        if rel.starts_with(".adsctl") {
            continue;
        }
        let to = fresh.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&f, &to).unwrap();
    }
    p.no_changes(fresh.path());

    // import writes the groups and their trees back; the imported project plans nothing
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("imported");
    let o = p.run_in(
        p.path(),
        &[
            "import",
            "acme",
            "--dir",
            &p.path().display().to_string(),
            "--out",
            &target.display().to_string(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", p.log.borrow());
    let imported: String = walk(&target)
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    for want in [
        "merchant_center_id:",
        "asset_groups:",
        "listing_groups:",
        "custom_label_0:",
        "Globex: included",
    ] {
        assert!(imported.contains(want), "{want}:\n{imported}");
    }
    p.no_changes(&target);

    // the removal policy: a group the YAML drops is paused (`on_removed: pause`), then removed (`remove`)
    let without_clearance = CAMPAIGN
        .replace("MERCHANT", LINKED_MERCHANT_ID)
        .replace("https://shop.example.com/acme", "https://shop.example.com/brands/acme")
        .replace(
            "            else: excluded\n      - name: Clearance",
            "            Globex: included\n            else: excluded\n      - name: Clearance",
        );
    let cut = without_clearance.find("      - name: Clearance").unwrap();
    p.campaign(&without_clearance[..cut]);
    let plan = p.plan_json();
    assert_eq!(
        changes(&plan),
        vec![(
            "acme/campaign/Catalog/asset_group/Clearance".to_string(),
            "pause".to_string()
        )],
        "{plan}"
    );
    p.ok(&["apply", "--auto-approve"]);
    assert_eq!(groups(&h).await["Clearance"].0, "PAUSED");
    p.no_changes(p.path());
    p.account(&h.url(), "remove");
    let plan = p.plan_json();
    assert_eq!(
        changes(&plan),
        vec![(
            "acme/campaign/Catalog/asset_group/Clearance".to_string(),
            "remove".to_string()
        )],
        "{plan}"
    );
    p.ok(&["apply", "--auto-approve"]);
    assert_eq!(groups(&h).await["Clearance"].0, "REMOVED");
    p.no_changes(p.path());

    // the whole campaign goes: its last asset group with it, in one request
    std::fs::remove_file(p.path().join("campaigns/catalog.yaml")).unwrap();
    let plan = p.plan_json();
    let mut ch = changes(&plan);
    ch.sort();
    assert_eq!(
        ch,
        vec![
            ("acme/campaign/Catalog".to_string(), "remove".to_string()),
            (
                "acme/campaign/Catalog/asset_group/Acme brand".to_string(),
                "remove".to_string()
            ),
        ],
        "{plan}"
    );
    p.ok(&["apply", "--auto-approve"]);
    let c = search(&h, "SELECT campaign.status FROM campaign").await;
    assert_eq!(c[0]["campaign"]["status"], "REMOVED");
    p.no_changes(p.path());
    h.shutdown().await.unwrap();
}

/// The platform's refusals reach the user: a Merchant Center account not linked to the customer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlinked_merchant_is_the_platform_s_error_with_a_hint() {
    let h = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    let p = Project::new(&h.url(), "pause");
    p.campaign(&CAMPAIGN.replace("MERCHANT", "7654321"));
    let o = p.run(&["apply", "--auto-approve"]);
    assert_ne!(o.status.code(), Some(0), "{}", p.log.borrow());
    let log = p.log.borrow().clone();
    assert!(log.contains("MERCHANT_ID_CANNOT_BE_ACCESSED"), "{log}");
    assert!(log.contains("merchant_center_id"), "{log}");
    assert!(search(&h, "SELECT campaign.id FROM campaign").await.is_empty());
    h.shutdown().await.unwrap();
}

/// A standard Shopping campaign links its merchant too, and has a priority (0 when the YAML says none: Google
/// requires one); an edit of the priority is an update in place; import writes both back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopping_campaign_names_its_merchant_and_priority() {
    let h = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    let p = Project::new(&h.url(), "pause");
    let shopping = |extra: &str| {
        format!(
            "campaigns:\n  - name: Shop\n    account: acme\n    channel: shopping\n    status: paused\n    budget: {{ daily: 20 }}\n    \
             bidding: {{ manual_cpc: {{}} }}\n    merchant_center_id: {LINKED_MERCHANT_ID}\n{extra}"
        )
    };
    p.campaign(&shopping(""));
    p.ok(&["apply", "--auto-approve"]);
    let c = search(
        &h,
        "SELECT campaign.shopping_setting.campaign_priority, campaign.shopping_setting.merchant_id FROM campaign",
    )
    .await;
    assert_eq!(c[0]["campaign"]["shoppingSetting"]["campaignPriority"], 0, "{c:?}");
    p.no_changes(p.path());
    p.campaign(&shopping("    campaign_priority: 2\n"));
    let plan = p.plan_json();
    assert_eq!(
        changed_fields(&plan, "acme/campaign/Shop"),
        ["shopping.campaign_priority"],
        "{plan}"
    );
    p.ok(&["apply", "--auto-approve"]);
    let c = search(&h, "SELECT campaign.shopping_setting.campaign_priority FROM campaign").await;
    assert_eq!(c[0]["campaign"]["shoppingSetting"]["campaignPriority"], 2, "{c:?}");
    p.no_changes(p.path());
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("imported");
    let o = p.run_in(
        p.path(),
        &[
            "import",
            "acme",
            "--dir",
            &p.path().display().to_string(),
            "--out",
            &target.display().to_string(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", p.log.borrow());
    p.no_changes(&target);
    h.shutdown().await.unwrap();
}
