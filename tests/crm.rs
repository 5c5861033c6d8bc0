//! CRM campaigns that mirror an ad campaign, through the real binary against the in-process emulator: a HubSpot
//! marketing campaign and a Salesforce Campaign named after a Google Ads campaign, whose spend (HubSpot's spend item,
//! Salesforce's ActualCost) is the Google campaign's cost in `adsctl metrics` once the metrics are pulled — and
//! nothing on a runner without them.

mod common;

use adsctl::emulator::platform::defaults;
use common::emulated::Emulated;
use serde_json::Value;

const PROJECT: &str = "accounts:
  acme-search:
    platform: google_ads
    customer_id: 123-456-7890
    currency: USD
  acme-hubspot:
    platform: hubspot
    portal_id: \"20000001\"
    currency: USD
  acme-salesforce:
    platform: salesforce
    org_id: 00D5g00000EMu01EAD
    currency: USD
";

const CAMPAIGNS: &str = "campaigns:
  - name: Spring Sale
    account: acme-search
    channel: search
    status: enabled
    budget: { daily: 50 }
    bidding: { manual_cpc: {} }
  - account: acme-hubspot
    mirrors: acme-search/campaign/Spring Sale
    notes: Paid search for the spring collection
  - account: acme-salesforce
    mirrors: acme-search/campaign/Spring Sale
    type: Advertisement
    status: active
";

/// The project: a Google Ads campaign and its HubSpot and Salesforce mirrors.
fn project() -> Emulated {
    Emulated::new(&[("adsctl.yaml", PROJECT), ("campaigns.yaml", CAMPAIGNS)])
}

#[test]
fn a_mirror_takes_its_ad_campaigns_spend_from_the_metrics() {
    let e = project();
    let s = e.state.clone();
    let out = e.run(&s, &["apply", "--auto-approve"], 0);
    assert!(out.contains("3 succeeded"), "{out}");
    assert_eq!(
        out.matches("+ campaign \"Spring Sale\"").count(),
        3,
        "the mirrors are named after the ad campaign: {out}"
    );
    e.run(&s, &["plan", "--detailed-exitcode"], 0);

    // the Google campaign's metrics, pulled into the state
    let today = chrono::Utc::now().date_naive();
    let since = (today - chrono::Days::new(7)).to_string();
    let until = (today + chrono::Days::new(1)).to_string();
    let out = e.run(
        &s,
        &["metrics", "--since", &since, "--until", &until, "--format", "json"],
        0,
    );
    let json = &out[out.find('{').expect("a JSON document")..];
    let v: Value = serde_json::Deserializer::from_str(json)
        .into_iter::<Value>()
        .next()
        .and_then(Result::ok)
        .expect("the metrics document");
    let row = v["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["object"] == "acme-search/campaign/Spring Sale")
        .unwrap_or_else(|| panic!("no row for the Google campaign: {v}"));
    let cost: rust_decimal::Decimal = row["cost"].as_str().unwrap().parse().unwrap();
    assert!(cost > rust_decimal::Decimal::ZERO, "{row}");

    // the mirrors' spend follows: HubSpot exact, Salesforce in whole units
    let plan = e.plan(&s);
    let changes: Vec<(String, Vec<String>)> = plan["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["changes"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["action"] != "no_op")
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["fields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| f["field"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            (
                "acme-hubspot/campaign/Spring Sale".to_string(),
                vec!["spend".to_string()]
            ),
            (
                "acme-salesforce/campaign/Spring Sale".to_string(),
                vec!["actual_cost".to_string()]
            ),
        ],
        "{plan}"
    );
    e.run(&s, &["apply", "--auto-approve"], 0);
    e.run(&s, &["plan", "--detailed-exitcode"], 0);

    // a runner without the metrics plans nothing (the spend is left as it is)
    let fresh = e.state.with_extension("fresh");
    e.run(&fresh, &["plan", "--detailed-exitcode"], 0);
}

/// A colleague's campaign in the portal and in the org (no marker, no key) is never touched, even under
/// `on_removed: remove`, on this runner and a fresh one.
#[test]
fn a_colleagues_campaigns_are_never_touched() {
    let e = project();
    let yaml = std::fs::read_to_string(e.dir.join("adsctl.yaml")).unwrap();
    let yaml = yaml.replace("    currency: USD\n", "    currency: USD\n    on_removed: remove\n");
    std::fs::write(e.dir.join("adsctl.yaml"), yaml).unwrap();
    let admin = |method: &str, path: &str, body: Value| -> Value {
        let url = format!("{}/_emulator/{path}", e.url());
        e.rt.block_on(async {
            let http = reqwest::Client::new();
            let req = match method {
                "GET" => http.get(&url),
                _ => http.post(&url).json(&body),
            };
            let resp = req.send().await.unwrap();
            assert!(resp.status().is_success(), "{method} {path}: {}", resp.status());
            resp.json().await.unwrap()
        })
    };
    let hs = admin(
        "POST",
        "hubspot/objects",
        serde_json::json!({"kind": "campaign", "properties": {"hs_name": "Colleague's campaign", "hs_notes": "theirs"}}),
    );
    let hs_id = hs["id"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| hs["id"].to_string());
    let sf = admin(
        "POST",
        &format!("salesforce/orgs/{}/records", defaults::SALESFORCE_ORG_ID),
        serde_json::json!({"sobject": "Campaign", "fields": {"Name": "Colleague's campaign", "IsActive": true}}),
    );
    let sf_id = sf["id"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| sf["Id"].to_string());
    let before = (
        admin("GET", &format!("hubspot/objects/{hs_id}"), Value::Null),
        admin("GET", &format!("salesforce/records/{sf_id}"), Value::Null),
    );
    for state in [e.state.clone(), e.state.with_extension("fresh")] {
        e.run(&state, &["apply", "--auto-approve"], 0);
        let plan = e.plan(&state);
        let touched: Vec<Value> = plan["accounts"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|a| a["changes"].as_array().cloned().unwrap_or_default())
            .filter(|c| c["address"].as_str().unwrap_or("").contains("Colleague"))
            .collect();
        assert!(
            touched.is_empty(),
            "someone else's campaigns are not adsctl's: {touched:?}"
        );
    }
    let after = (
        admin("GET", &format!("hubspot/objects/{hs_id}"), Value::Null),
        admin("GET", &format!("salesforce/records/{sf_id}"), Value::Null),
    );
    assert_eq!(
        before.0["properties"], after.0["properties"],
        "their HubSpot campaign changed"
    );
    assert_eq!(
        before.1["fields"], after.1["fields"],
        "their Salesforce campaign changed"
    );
    assert_ne!(after.1["deleted"], true);
}

/// Two runners from fresh states apply at once (two CI jobs after two quick merges): one applies, the other waits
/// for its lease and finds nothing to do; no campaign is made twice in the portal or the org.
#[test]
fn two_runners_at_once_never_duplicate() {
    for round in 0..3 {
        let e = project();
        e.apply_twice_at_once(round);
        let hubspot = e.dump("hubspot");
        let hs: Vec<&Value> = hubspot["campaigns"]
            .as_object()
            .into_iter()
            .flat_map(|o| o.values())
            .filter(|c| c["properties"]["hs_name"] == "Spring Sale")
            .collect();
        assert_eq!(hs.len(), 1, "round {round}: HubSpot campaigns {hs:#?}");
        let salesforce = e.dump("salesforce");
        let sf: Vec<&Value> = salesforce["orgs"][defaults::SALESFORCE_ORG_ID]["records"]
            .as_object()
            .into_iter()
            .flat_map(|o| o.values())
            .filter(|r| r["sobject"] == "Campaign" && r["deleted"] != true && r["fields"]["Name"] == "Spring Sale")
            .collect();
        assert_eq!(sf.len(), 1, "round {round}: Salesforce campaigns {sf:#?}");
        e.run(&e.state.with_extension("three"), &["plan", "--detailed-exitcode"], 0);
    }
}
