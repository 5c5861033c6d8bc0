//! The TikTok API for Business v1.3 emulator over real HTTP (started in-process with `Emulator::start` on
//! 127.0.0.1:0). Each rule row of the TikTok section of docs/wire-rules.md names a test here.

use std::sync::Arc;
use std::time::Duration;

use adsctl_emulator::platform::defaults::{
    TIKTOK_ACCESS_TOKEN, TIKTOK_ADVERTISER_ID, TIKTOK_APP_ID, TIKTOK_APP_SECRET,
};
use adsctl_emulator::tiktok::TikTokEmulator;
use adsctl_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::{json, Value};

const ADV: &str = "7000000000000000001";

struct Env {
    handle: EmulatorHandle,
    http: reqwest::Client,
    tt: Arc<TikTokEmulator>,
}

struct Resp {
    status: u16,
    text: String,
    body: Value,
}

impl Resp {
    fn code(&self) -> i64 {
        assert_eq!(self.status, 200, "{}", self.text);
        self.body["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("no code: {}", self.text))
    }
    /// data of a code-0 answer.
    fn ok(&self) -> &Value {
        assert_eq!(self.code(), 0, "{}", self.text);
        assert_eq!(self.body["message"], "OK");
        &self.body["data"]
    }
    /// An error: its code (data must be {}).
    fn err(&self) -> i64 {
        let c = self.code();
        assert_ne!(c, 0, "expected an error: {}", self.text);
        assert_eq!(self.body["data"], json!({}), "{}", self.text);
        c
    }
    fn msg(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }
}

async fn start_with(cfg: EmulatorConfig) -> Env {
    let handle = Emulator::start(cfg).await.expect("emulator starts");
    let tt = handle.platforms().get::<TikTokEmulator>().expect("tiktok registered");
    tt.configure(|c| {
        // long enough that a loaded machine never sees them pass by themselves: tests move the clock
        c.review_delay = Duration::from_secs(600);
        c.audience_processing_delay = Duration::from_secs(600);
        c.report_task_duration = Duration::from_secs(600);
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Env { handle, http, tt }
}

async fn start() -> Env {
    start_with(EmulatorConfig::default()).await
}

fn enc(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn in_hours(h: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(h))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn sha(i: usize) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(format!("user{i}@example.com").as_bytes()))
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}/open_api/v1.3/{path}", self.handle.url())
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, text, body }
    }

    /// GET with the well-known token; values that are not strings are sent JSON-encoded.
    async fn get(&self, path: &str, q: &[(&str, Value)]) -> Resp {
        let q: Vec<(String, String)> = q.iter().map(|(k, v)| (k.to_string(), enc(v))).collect();
        self.send(
            self.http
                .get(self.url(path))
                .header("Access-Token", TIKTOK_ACCESS_TOKEN)
                .query(&q),
        )
        .await
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        self.post_raw(path, body.to_string()).await
    }

    async fn post_raw(&self, path: &str, body: String) -> Resp {
        self.send(
            self.http
                .post(self.url(path))
                .header("Access-Token", TIKTOK_ACCESS_TOKEN)
                .header("Content-Type", "application/json")
                .body(body),
        )
        .await
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/_emulator/tiktok/{path}", self.handle.url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "admin {path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn campaign(&self, name: &str) -> String {
        let r = self
            .post(
                "campaign/create/",
                json!({"advertiser_id": ADV, "campaign_name": name, "objective_type": "TRAFFIC",
                       "budget_mode": "BUDGET_MODE_DAY", "budget": 100}),
            )
            .await;
        r.ok()["campaign_id"].as_str().unwrap().to_string()
    }

    async fn adgroup(&self, campaign: &str, name: &str) -> String {
        let r = self.post("adgroup/create/", adgroup_body(campaign, name)).await;
        r.ok()["adgroup_id"].as_str().unwrap().to_string()
    }

    async fn ad(&self, adgroup: &str, name: &str) -> String {
        let r = self
            .post(
                "ad/create/",
                json!({"advertiser_id": ADV, "adgroup_id": adgroup, "creatives": [creative(name)]}),
            )
            .await;
        r.ok()["ad_ids"][0].as_str().unwrap().to_string()
    }

    async fn upload(&self, calculate_type: &str, lines: &[String], signature: Option<&str>) -> Resp {
        use md5::Digest as _;
        let data = lines.join("\n");
        let sig = signature
            .map(str::to_string)
            .unwrap_or_else(|| hex::encode(md5::Md5::digest(data.as_bytes())));
        let form = reqwest::multipart::Form::new()
            .text("advertiser_id", ADV)
            .text("calculate_type", calculate_type.to_string())
            .text("file_signature", sig)
            .part(
                "file",
                reqwest::multipart::Part::bytes(data.into_bytes()).file_name("users.txt"),
            );
        self.send(
            self.http
                .post(self.url("dmp/custom_audience/file/upload/"))
                .header("Access-Token", TIKTOK_ACCESS_TOKEN)
                .multipart(form),
        )
        .await
    }

    /// A ready customer-file audience of `n` users.
    async fn audience(&self, name: &str, n: usize) -> String {
        let lines: Vec<String> = (0..n).map(sha).collect();
        let path = self.upload("EMAIL_SHA256", &lines, None).await.ok()["file_path"]
            .as_str()
            .unwrap()
            .to_string();
        let r = self
            .post(
                "dmp/custom_audience/create/",
                json!({"advertiser_id": ADV, "custom_audience_name": name, "calculate_type": "EMAIL_SHA256",
                       "file_paths": [path]}),
            )
            .await;
        let id = r.ok()["custom_audience_id"].as_str().unwrap().to_string();
        self.admin(&format!("audiences/{id}/ready"), json!({})).await;
        id
    }
}

fn adgroup_body(campaign: &str, name: &str) -> Value {
    json!({"advertiser_id": ADV, "campaign_id": campaign, "adgroup_name": name, "billing_event": "CPC",
           "budget_mode": "BUDGET_MODE_DAY", "budget": 50, "optimization_goal": "CLICK",
           "pacing": "PACING_MODE_SMOOTH", "schedule_type": "SCHEDULE_FROM_NOW",
           "schedule_start_time": in_hours(-1), "placement_type": "PLACEMENT_TYPE_NORMAL",
           "placements": ["PLACEMENT_TIKTOK"]})
}

fn creative(name: &str) -> Value {
    json!({"ad_name": name, "ad_format": "SINGLE_VIDEO", "ad_text": "Hello there", "video_id": "v1",
           "identity_type": "CUSTOMIZED_USER", "identity_id": "i1", "display_name": "Acme",
           "call_to_action": "LEARN_MORE", "landing_page_url": "https://example.com/"})
}

mod wire {
    use super::*;

    #[tokio::test]
    async fn paths_end_with_a_slash_and_answers_are_envelopes() {
        let env = start().await;
        let r = env
            .send(
                env.http
                    .get(format!("{}/open_api/v1.3/campaign/get", env.handle.url()))
                    .header("Access-Token", TIKTOK_ACCESS_TOKEN),
            )
            .await;
        assert_eq!(r.status, 404);
        assert_eq!(r.text, "404 page not found");
        assert!(r.body.is_null(), "not JSON");
        let r = env.get("campaign/get/", &[("advertiser_id", json!(ADV))]).await;
        let keys: Vec<&str> = r.body.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["code", "message", "request_id", "data"]);
        assert!(!r.body["request_id"].as_str().unwrap().is_empty());
        r.ok();
        // an error: HTTP 200, a code, data {}
        let r = env.get("campaign/get/", &[]).await;
        assert_eq!(r.err(), 40002);
        assert!(r.msg().contains("advertiser_id"), "{}", r.msg());
        // the wrong method never reaches the API
        let r = env.send(env.http.get(env.url("campaign/create/"))).await;
        assert_eq!(r.status, 405);
    }

    #[tokio::test]
    async fn query_objects_are_one_json_string() {
        let env = start().await;
        let c = env.campaign("C").await;
        let r = env
            .get(
                "campaign/get/",
                &[
                    ("advertiser_id", json!(ADV)),
                    ("filtering", json!({"campaign_ids": [c]})),
                    ("fields", json!(["campaign_id", "budget"])),
                ],
            )
            .await;
        assert_eq!(r.ok()["list"][0], json!({"campaign_id": c, "budget": 100}));
        // repeated keys (the form-style list) are refused
        let q = [("advertiser_id", ADV), ("fields", "campaign_id"), ("fields", "budget")];
        let r = env
            .send(
                env.http
                    .get(env.url("campaign/get/"))
                    .header("Access-Token", TIKTOK_ACCESS_TOKEN)
                    .query(&q),
            )
            .await;
        assert_eq!(r.err(), 40002);
        assert!(r.msg().starts_with("fields:"), "{}", r.msg());
        // not JSON
        let r = env
            .get(
                "campaign/get/",
                &[("advertiser_id", json!(ADV)), ("filtering", json!("campaign_ids=1"))],
            )
            .await;
        assert_eq!(r.err(), 40002);
        assert!(r.msg().contains("filtering"), "{}", r.msg());
        // advertiser/info takes a JSON list too
        let r = env.get("advertiser/info/", &[("advertiser_ids", json!([ADV]))]).await;
        let a = &r.ok()["list"][0];
        assert_eq!(a["currency"], "USD");
        assert_eq!(a["advertiser_id"], ADV);
        assert!(a["timezone"].is_string() && a["name"].is_string() && a["status"].is_string());
        let r = env.get("advertiser/info/", &[("advertiser_ids", json!(ADV))]).await;
        assert_eq!(r.err(), 40002);
    }

    #[tokio::test]
    async fn advertiser_id_goes_in_the_body_of_writes_and_the_query_of_reads() {
        let env = start().await;
        let r = env
            .send(
                env.http
                    .post(env.url("campaign/create/"))
                    .header("Access-Token", TIKTOK_ACCESS_TOKEN)
                    .query(&[("advertiser_id", ADV)])
                    .json(&json!({"campaign_name": "C", "objective_type": "TRAFFIC"})),
            )
            .await;
        assert_eq!(r.err(), 40002);
        assert!(
            r.msg().starts_with("advertiser_id:") && r.msg().contains("query string"),
            "{}",
            r.msg()
        );
        let r = env
            .send(
                env.http
                    .get(env.url("campaign/get/"))
                    .header("Access-Token", TIKTOK_ACCESS_TOKEN)
                    .header("Content-Type", "application/json")
                    .body(json!({"advertiser_id": ADV}).to_string()),
            )
            .await;
        assert_eq!(r.err(), 40002);
        assert!(
            r.msg().starts_with("advertiser_id:") && r.msg().contains("body"),
            "{}",
            r.msg()
        );
    }

    #[tokio::test]
    async fn fields_are_checked_against_the_sdk_models() {
        let env = start().await;
        let base = json!({"advertiser_id": ADV, "campaign_name": "C", "objective_type": "TRAFFIC"});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            b
        };
        for (body, field) in [
            (with("colour", json!("red")), "colour"),
            (with("objective_type", json!("SALES")), "objective_type"),
            (with("budget_mode", json!("BUDGET_MODE_WEEK")), "budget_mode"),
            (with("budget_optimize_on", json!("true")), "budget_optimize_on"),
            (with("campaign_name", json!(null)), "campaign_name"),
            (with("campaign_name", json!("")), "campaign_name"),
            (with("campaign_name", json!("x".repeat(513))), "campaign_name"),
            (with("campaign_name", json!("日".repeat(257))), "campaign_name"),
            (with("campaign_name", json!("Launch 🚀")), "campaign_name"),
            (with("special_industries", json!(["GAMBLING"])), "special_industries"),
            (
                json!({"advertiser_id": ADV, "objective_type": "TRAFFIC"}),
                "campaign_name",
            ),
        ] {
            let r = env.post("campaign/create/", body.clone()).await;
            assert_eq!(r.err(), 40002, "{body}");
            assert!(r.msg().starts_with(field), "{body}: {}", r.msg());
        }
        // 512 wide: 256 CJK characters fit, as do 512 letters
        env.post("campaign/create/", with("campaign_name", json!("日".repeat(256))))
            .await
            .ok();
        env.post("campaign/create/", with("campaign_name", json!("x".repeat(512))))
            .await
            .ok();
        // ids may come as numbers and are answered as strings
        let r = env
            .post(
                "campaign/create/",
                json!({"advertiser_id": 7000000000000000001u64, "campaign_name": "N",
                                             "objective_type": "REACH"}),
            )
            .await;
        assert_eq!(r.ok()["advertiser_id"], ADV);
        assert!(r.ok()["campaign_id"].is_string());
        // a body that is not a JSON object
        assert_eq!(env.post_raw("campaign/create/", "[1]".into()).await.err(), 40002);
        assert_eq!(env.post_raw("campaign/create/", "{".into()).await.err(), 40002);
    }

    #[tokio::test]
    async fn unknown_ids_are_40007() {
        let env = start().await;
        let r = env
            .post(
                "campaign/update/",
                json!({"advertiser_id": ADV, "campaign_id": "1800000000000999999",
                                             "campaign_name": "x"}),
            )
            .await;
        assert_eq!(r.err(), 40007);
        let r = env
            .post("adgroup/create/", adgroup_body("1800000000000999999", "G"))
            .await;
        assert_eq!(r.err(), 40007);
        let r = env
            .post(
                "ad/create/",
                json!({"advertiser_id": ADV, "adgroup_id": "1800000000000999999",
                                       "creatives": [creative("A")]}),
            )
            .await;
        assert_eq!(r.err(), 40007);
        let r = env
            .post(
                "campaign/status/update/",
                json!({"advertiser_id": ADV, "campaign_ids": ["1800000000000999999"],
                                                    "operation_status": "DISABLE"}),
            )
            .await;
        assert_eq!(r.err(), 40007);
        // an object of another advertiser does not exist for this one
        let c = env.campaign("Mine").await;
        let r = env
            .post(
                "campaign/update/",
                json!({"advertiser_id": "7000000000000000002", "campaign_id": c,
                                             "campaign_name": "x"}),
            )
            .await;
        assert_eq!(r.err(), 40007);
    }
}

mod auth {
    use super::*;

    #[tokio::test]
    async fn the_access_token_header_is_required_and_checked() {
        let env = start().await;
        let url = env.url("campaign/get/");
        let q = [("advertiser_id", ADV)];
        let r = env.send(env.http.get(&url).query(&q)).await;
        assert_eq!(r.err(), 40104);
        assert_eq!(
            r.msg(),
            "Access token is null, you should set it in http header with key Access-Token."
        );
        let r = env
            .send(env.http.get(&url).query(&q).bearer_auth(TIKTOK_ACCESS_TOKEN))
            .await;
        assert_eq!(r.err(), 40104, "Authorization: Bearer is not the Access-Token header");
        let r = env
            .send(env.http.get(&url).query(&q).header("Access-Token", "nope"))
            .await;
        assert_eq!(r.err(), 40105);
        let r = env
            .send(env.http.get(&url).query(&q).header("Access-Token", TIKTOK_ACCESS_TOKEN))
            .await;
        r.ok();
    }

    async fn exchange(env: &Env, app: &str, secret: &str, code: &str) -> Resp {
        env.send(
            env.http
                .post(env.url("oauth2/access_token/"))
                .json(&json!({"app_id": app, "secret": secret, "auth_code": code})),
        )
        .await
    }

    #[tokio::test]
    async fn auth_codes_are_single_use_and_tokens_reach_their_advertisers() {
        let env = start().await;
        // the authorization page redirects to a loopback redirect_uri with auth_code and state
        let r = env
            .http
            .get(format!("{}/portal/auth", env.handle.url()))
            .query(&[
                ("app_id", TIKTOK_APP_ID),
                ("state", "s1"),
                ("redirect_uri", "http://127.0.0.1:9/cb"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 302);
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        assert!(loc.starts_with("http://127.0.0.1:9/cb?auth_code="), "{loc}");
        assert!(loc.ends_with("&state=s1"), "{loc}");
        let code = loc
            .split("auth_code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_string();
        let r = exchange(&env, TIKTOK_APP_ID, "wrong", &code).await;
        assert_eq!(r.err(), 40101);
        let r = exchange(&env, TIKTOK_APP_ID, TIKTOK_APP_SECRET, &code).await;
        let d = r.ok().clone();
        let token = d["access_token"].as_str().unwrap().to_string();
        assert_eq!(d["advertiser_ids"], json!([TIKTOK_ADVERTISER_ID]));
        assert!(d["scope"].is_array());
        // single use
        assert_eq!(
            exchange(&env, TIKTOK_APP_ID, TIKTOK_APP_SECRET, &code).await.err(),
            40110
        );
        assert_eq!(
            exchange(&env, TIKTOK_APP_ID, TIKTOK_APP_SECRET, "made-up").await.err(),
            40110
        );
        // the token works (no expiry: a year later still), for its advertiser only
        env.tt.advance_clock(Duration::from_secs(366 * 86_400));
        let get = |t: String, adv: &'static str| {
            env.http
                .get(env.url("campaign/get/"))
                .header("Access-Token", t)
                .query(&[("advertiser_id", adv)])
        };
        env.send(get(token.clone(), TIKTOK_ADVERTISER_ID)).await.ok();
        assert_eq!(env.send(get(token.clone(), "7000000000000000009")).await.err(), 40001);
        // the advertisers it reaches
        let r = env
            .send(
                env.http
                    .get(env.url("oauth2/advertiser/get/"))
                    .header("Access-Token", &token)
                    .query(&[("app_id", TIKTOK_APP_ID), ("secret", TIKTOK_APP_SECRET)]),
            )
            .await;
        assert_eq!(r.ok()["list"][0]["advertiser_id"], TIKTOK_ADVERTISER_ID);
        // revoked: it stops working
        let r = env
            .send(
                env.http
                    .post(env.url("oauth2/revoke_token/"))
                    .json(&json!({"app_id": TIKTOK_APP_ID, "secret": TIKTOK_APP_SECRET, "access_token": token})),
            )
            .await;
        r.ok();
        assert_eq!(env.send(get(token, TIKTOK_ADVERTISER_ID)).await.err(), 40105);
        // an admin-minted code for chosen advertisers
        let code = env
            .admin("auth_codes", json!({"advertiser_ids": ["7000000000000000005"]}))
            .await["auth_code"]
            .as_str()
            .unwrap()
            .to_string();
        let r = exchange(&env, TIKTOK_APP_ID, TIKTOK_APP_SECRET, &code).await;
        assert_eq!(r.ok()["advertiser_ids"], json!(["7000000000000000005"]));
        // an expired code
        let code = env.admin("auth_codes", json!({})).await["auth_code"]
            .as_str()
            .unwrap()
            .to_string();
        env.tt.advance_clock(Duration::from_secs(3601));
        assert_eq!(
            exchange(&env, TIKTOK_APP_ID, TIKTOK_APP_SECRET, &code).await.err(),
            40110
        );
    }

    #[tokio::test]
    async fn seed_file_advertisers_and_auto_create() {
        let cfg = EmulatorConfig {
            seed: serde_yaml::from_str(
            "tiktok:\n  advertisers:\n    - { advertiser_id: \"7000000000000000042\", currency: JPY, timezone: Asia/Tokyo, name: Tokyo }\n  access_tokens: [seeded-token]\n  apps:\n    - { app_id: \"7100000000000000009\", secret: app-9 }\n",
        )
        .unwrap(),
            auto_create_accounts: false,
            ..Default::default()
        };
        let env = start_with(cfg).await;
        let r = env
            .send(
                env.http
                    .get(env.url("advertiser/info/"))
                    .header("Access-Token", "seeded-token")
                    .query(&[("advertiser_ids", "[\"7000000000000000042\"]")]),
            )
            .await;
        let a = &r.ok()["list"][0];
        assert_eq!(
            (a["currency"].as_str(), a["timezone"].as_str(), a["name"].as_str()),
            (Some("JPY"), Some("Asia/Tokyo"), Some("Tokyo"))
        );
        // auto_create_accounts off: an unknown advertiser does not exist
        let r = env.get("campaign/get/", &[("advertiser_id", json!(ADV))]).await;
        assert_eq!(r.err(), 40300);
        // the seeded app can exchange codes
        let code = env.admin("auth_codes", json!({"app_id": "7100000000000000009"})).await["auth_code"]
            .as_str()
            .unwrap()
            .to_string();
        let r = exchange(&env, "7100000000000000009", "app-9", &code).await;
        assert_eq!(r.ok()["advertiser_ids"], json!(["7000000000000000042"]));
    }
}

mod campaigns {
    use super::*;

    #[tokio::test]
    async fn money_round_trips_exactly_and_every_written_field_is_read_back() {
        let env = start().await;
        let r = env
            .post_raw(
                "campaign/create/",
                format!(
                    r#"{{"advertiser_id":"{ADV}","campaign_name":"Exact","objective_type":"TRAFFIC","budget_mode":"BUDGET_MODE_DAY","budget":1234567890123.45,"special_industries":["HOUSING"],"operation_status":"DISABLE"}}"#
                ),
            )
            .await;
        assert!(r.text.contains("\"budget\":1234567890123.45"), "{}", r.text);
        let id = r.ok()["campaign_id"].as_str().unwrap().to_string();
        let r = env
            .get(
                "campaign/get/",
                &[
                    ("advertiser_id", json!(ADV)),
                    ("filtering", json!({"campaign_ids": [id]})),
                ],
            )
            .await;
        assert!(r.text.contains("\"budget\":1234567890123.45"), "{}", r.text);
        let c = &r.ok()["list"][0];
        for (k, v) in [
            ("campaign_name", json!("Exact")),
            ("objective_type", json!("TRAFFIC")),
            ("budget_mode", json!("BUDGET_MODE_DAY")),
            ("special_industries", json!(["HOUSING"])),
            ("operation_status", json!("DISABLE")),
            ("primary_status", json!("STATUS_DISABLE")),
            ("secondary_status", json!("CAMPAIGN_STATUS_DISABLE")),
        ] {
            assert_eq!(c[k], v, "{k}");
        }
        let t = c["create_time"].as_str().unwrap();
        assert_eq!(t.len(), 19, "{t}");
        assert!(chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").is_ok());
        assert!(c["modify_time"].is_string());
        // update: the new budget, exactly
        let r = env
            .post_raw(
                "campaign/update/",
                format!(r#"{{"advertiser_id":"{ADV}","campaign_id":"{id}","budget":50.10}}"#),
            )
            .await;
        assert!(r.text.contains("\"budget\":50.10"), "{}", r.text);
        // an object made through the admin route reads like any other
        env.admin(&format!("objects/{id}"), json!({"campaign_name": "Renamed in the UI"}))
            .await;
        let r = env.get("campaign/get/", &[("advertiser_id", json!(ADV))]).await;
        assert_eq!(r.ok()["list"][0]["campaign_name"], "Renamed in the UI");
    }

    #[tokio::test]
    async fn budget_rules() {
        let env = start().await;
        let create = |extra: Value| {
            let mut b =
                json!({"advertiser_id": ADV, "campaign_name": format!("C{}", extra), "objective_type": "TRAFFIC"});
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            env.post("campaign/create/", b)
        };
        for (extra, field) in [
            (json!({"budget_mode": "BUDGET_MODE_DAY"}), "budget"),
            (json!({"budget_mode": "BUDGET_MODE_TOTAL"}), "budget"),
            (json!({"budget": 100}), "budget_mode"),
            (json!({"budget_mode": "BUDGET_MODE_DAY", "budget": 49.99}), "budget"),
            (json!({"budget_mode": "BUDGET_MODE_DAY", "budget": 100.001}), "budget"),
            (json!({"budget_mode": "BUDGET_MODE_DAY", "budget": "100"}), "budget"),
            (json!({"budget_mode": "BUDGET_MODE_INFINITE", "budget": 100}), "budget"),
            (
                json!({"budget_optimize_on": true, "budget_mode": "BUDGET_MODE_TOTAL", "budget": 100, "optimization_goal": "CONVERT"}),
                "budget_mode",
            ),
            (
                json!({"budget_optimize_on": true, "budget_mode": "BUDGET_MODE_DAY", "budget": 100}),
                "optimization_goal",
            ),
        ] {
            let r = create(extra.clone()).await;
            assert_eq!(r.err(), 40002, "{extra}");
            assert!(r.msg().starts_with(&format!("{field}:")), "{extra}: {}", r.msg());
        }
        create(json!({"budget_mode": "BUDGET_MODE_DAY", "budget": 50}))
            .await
            .ok();
        create(json!({"budget_optimize_on": true, "budget_mode": "BUDGET_MODE_DAY", "budget": 50, "optimization_goal": "CONVERT"}))
            .await
            .ok();
        let r = create(json!({})).await;
        assert_eq!(r.ok()["budget_mode"], "BUDGET_MODE_INFINITE");
        // per currency: JPY's minimum is 5000
        env.admin(
            "advertisers",
            json!({"advertiser_id": "7000000000000000077", "currency": "JPY"}),
        )
        .await;
        let r = env
            .post(
                "campaign/create/",
                json!({"advertiser_id": "7000000000000000077", "campaign_name": "J",
                   "objective_type": "TRAFFIC", "budget_mode": "BUDGET_MODE_DAY", "budget": 4999}),
            )
            .await;
        assert_eq!(r.err(), 40002);
    }

    #[tokio::test]
    async fn budget_mode_and_objective_are_fixed_after_create() {
        let env = start().await;
        let id = env.campaign("Fixed").await;
        for (k, v) in [
            ("budget_mode", json!("BUDGET_MODE_TOTAL")),
            ("objective_type", json!("REACH")),
        ] {
            let mut b = json!({"advertiser_id": ADV, "campaign_id": id});
            b[k] = v;
            let r = env.post("campaign/update/", b).await;
            assert_eq!(r.err(), 40002);
            assert!(r.msg().starts_with(&format!("{k}:")), "{}", r.msg());
        }
        let r = env
            .post(
                "campaign/update/",
                json!({"advertiser_id": ADV, "campaign_id": id, "special_industries": ["CREDIT"]}),
            )
            .await;
        assert_eq!(r.err(), 40002);
        let r = env
            .post(
                "campaign/update/",
                json!({"advertiser_id": ADV, "campaign_id": id, "budget": 10}),
            )
            .await;
        assert_eq!(r.err(), 40002, "below the minimum");
    }

    #[tokio::test]
    async fn request_id_makes_creates_idempotent_and_allows_duplicate_names() {
        let env = start().await;
        let body = json!({"advertiser_id": ADV, "campaign_name": "Twice", "objective_type": "TRAFFIC",
                          "request_id": "9001"});
        let a = env.post("campaign/create/", body.clone()).await.ok().clone();
        let b = env.post("campaign/create/", body.clone()).await.ok().clone();
        assert_eq!(a["campaign_id"], b["campaign_id"]);
        let r = env.get("campaign/get/", &[("advertiser_id", json!(ADV))]).await;
        assert_eq!(r.ok()["page_info"]["total_number"], 1);
        // without request_id a duplicate name is refused; with a new one it is allowed
        let r = env
            .post(
                "campaign/create/",
                json!({"advertiser_id": ADV, "campaign_name": "Twice", "objective_type": "TRAFFIC"}),
            )
            .await;
        assert_eq!(r.err(), 40002);
        let mut other = body.clone();
        other["request_id"] = json!("9002");
        let c = env.post("campaign/create/", other).await.ok().clone();
        assert_ne!(c["campaign_id"], a["campaign_id"]);
        // ad groups too
        let camp = a["campaign_id"].as_str().unwrap();
        let mut g = adgroup_body(camp, "G");
        g["request_id"] = json!("77");
        let g1 = env.post("adgroup/create/", g.clone()).await.ok().clone();
        let g2 = env.post("adgroup/create/", g.clone()).await.ok().clone();
        assert_eq!(g1["adgroup_id"], g2["adgroup_id"]);
        let r = env.post("adgroup/create/", adgroup_body(camp, "G")).await;
        assert_eq!(r.err(), 40002, "a duplicate ad group name without request_id");
    }
}

mod status {
    use super::*;

    #[tokio::test]
    async fn one_to_twenty_ids_and_delete_is_terminal() {
        let env = start().await;
        let id = env.campaign("S").await;
        let ids: Vec<String> = (0..21).map(|i| format!("18000000000000{i:05}")).collect();
        let r = env
            .post(
                "campaign/status/update/",
                json!({"advertiser_id": ADV, "campaign_ids": ids, "operation_status": "DISABLE"}),
            )
            .await;
        assert_eq!(r.err(), 40011);
        let r = env
            .post(
                "campaign/status/update/",
                json!({"advertiser_id": ADV, "campaign_ids": [], "operation_status": "DISABLE"}),
            )
            .await;
        assert_eq!(r.err(), 40002);
        let r = env
            .post(
                "campaign/status/update/",
                json!({"advertiser_id": ADV, "campaign_ids": [id], "operation_status": "PAUSE"}),
            )
            .await;
        assert_eq!(r.err(), 40002);
        let r = env
            .post(
                "campaign/status/update/",
                json!({"advertiser_id": ADV, "campaign_ids": [id], "operation_status": "DISABLE"}),
            )
            .await;
        assert_eq!(r.ok()["campaign_ids"], json!([id]));
        let r = env
            .post(
                "campaign/status/update/",
                json!({"advertiser_id": ADV, "campaign_ids": [id], "operation_status": "DELETE"}),
            )
            .await;
        r.ok();
        for op in ["ENABLE", "DELETE"] {
            let r = env
                .post(
                    "campaign/status/update/",
                    json!({"advertiser_id": ADV, "campaign_ids": [id], "operation_status": op}),
                )
                .await;
            assert_eq!(r.err(), 40002, "{op} on a deleted campaign");
        }
        let r = env
            .post(
                "campaign/update/",
                json!({"advertiser_id": ADV, "campaign_id": id, "campaign_name": "x"}),
            )
            .await;
        assert_eq!(r.err(), 40002);
        // ad ids: 21 → 40011
        let r = env
            .post("ad/status/update/", json!({"advertiser_id": ADV, "ad_ids": (0..21).map(|i| i.to_string()).collect::<Vec<_>>(), "operation_status": "DISABLE"}))
            .await;
        assert_eq!(r.err(), 40011);
        let r = env
            .post("adgroup/status/update/", json!({"advertiser_id": ADV, "adgroup_ids": (0..21).map(|i| i.to_string()).collect::<Vec<_>>(), "operation_status": "DISABLE"}))
            .await;
        assert_eq!(r.err(), 40011);
    }

    #[tokio::test]
    async fn deleted_objects_are_hidden_unless_filtered_for() {
        let env = start().await;
        let keep = env.campaign("Keep").await;
        let gone = env.campaign("Gone").await;
        let g = env.adgroup(&gone, "G").await;
        let ad = env.ad(&g, "A").await;
        env.post(
            "campaign/status/update/",
            json!({"advertiser_id": ADV, "campaign_ids": [gone], "operation_status": "DELETE"}),
        )
        .await
        .ok();
        let ids = |r: &Resp, k: &str| -> Vec<String> {
            r.ok()["list"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c[k].as_str().unwrap().to_string())
                .collect()
        };
        let r = env.get("campaign/get/", &[("advertiser_id", json!(ADV))]).await;
        assert_eq!(ids(&r, "campaign_id"), vec![keep.clone()]);
        let r = env
            .get(
                "campaign/get/",
                &[
                    ("advertiser_id", json!(ADV)),
                    ("filtering", json!({"primary_status": "STATUS_ALL"})),
                ],
            )
            .await;
        assert_eq!(ids(&r, "campaign_id"), vec![keep.clone(), gone.clone()]);
        let r = env
            .get(
                "campaign/get/",
                &[
                    ("advertiser_id", json!(ADV)),
                    ("filtering", json!({"secondary_status": "CAMPAIGN_STATUS_ALL"})),
                ],
            )
            .await;
        assert_eq!(ids(&r, "campaign_id").len(), 2);
        let r = env
            .get(
                "campaign/get/",
                &[
                    ("advertiser_id", json!(ADV)),
                    ("filtering", json!({"secondary_status": "CAMPAIGN_STATUS_DELETE"})),
                ],
            )
            .await;
        assert_eq!(ids(&r, "campaign_id"), vec![gone.clone()]);
        assert_eq!(r.ok()["list"][0]["primary_status"], "STATUS_DELETE");
        // the campaign's ad groups and ads go with it
        let r = env.get("adgroup/get/", &[("advertiser_id", json!(ADV))]).await;
        assert!(ids(&r, "adgroup_id").is_empty());
        let r = env
            .get(
                "ad/get/",
                &[
                    ("advertiser_id", json!(ADV)),
                    ("filtering", json!({"primary_status": "STATUS_ALL"})),
                ],
            )
            .await;
        assert_eq!(ids(&r, "ad_id"), vec![ad.clone()]);
        assert_eq!(r.ok()["list"][0]["secondary_status"], "AD_STATUS_CAMPAIGN_DELETE");
        let r = env
            .post(
                "ad/status/update/",
                json!({"advertiser_id": ADV, "ad_ids": [ad], "operation_status": "ENABLE"}),
            )
            .await;
        assert_eq!(r.err(), 40002);
    }

    #[tokio::test]
    async fn adgroup_partial_success_is_20001() {
        let env = start().await;
        let c = env.campaign("P").await;
        let g = env.adgroup(&c, "G").await;
        let r = env
            .post(
                "adgroup/status/update/",
                json!({"advertiser_id": ADV, "adgroup_ids": [g, "1800000000000999999"],
                   "operation_status": "DISABLE", "allow_partial_success": true}),
            )
            .await;
        assert_eq!(r.code(), 20001, "{}", r.text);
        assert_eq!(r.body["data"]["adgroup_ids"], json!([g]));
        assert_eq!(r.body["data"]["errors"][0]["code"], 40007);
        // without allow_partial_success the whole call fails and nothing changes
        let r = env
            .post(
                "adgroup/status/update/",
                json!({"advertiser_id": ADV, "adgroup_ids": [g, "1800000000000999999"],
                   "operation_status": "ENABLE"}),
            )
            .await;
        assert_eq!(r.err(), 40007);
        let r = env.get("adgroup/get/", &[("advertiser_id", json!(ADV))]).await;
        assert_eq!(r.ok()["list"][0]["operation_status"], "DISABLE");
    }
}

mod adgroups {
    use super::*;

    #[tokio::test]
    async fn budget_schedule_bid_and_dayparting_rules() {
        let env = start().await;
        let c = env.campaign("AG").await;
        let with = |changes: Value| {
            let mut b = adgroup_body(&c, &format!("G{changes}"));
            for (k, v) in changes.as_object().unwrap() {
                if v.is_null() {
                    b.as_object_mut().unwrap().remove(k);
                } else {
                    b[k] = v.clone();
                }
            }
            b
        };
        for (changes, field) in [
            (json!({"budget_mode": "BUDGET_MODE_TOTAL"}), "schedule_type"),
            (
                json!({"budget_mode": "BUDGET_MODE_TOTAL", "schedule_type": "SCHEDULE_START_END"}),
                "schedule_end_time",
            ),
            (json!({"budget": null}), "budget"),
            (json!({"budget": 19.99}), "budget"),
            (json!({"pacing": null}), "pacing"),
            (json!({"bid_price": 1.5}), "bid_price"),
            (json!({"bid_type": "BID_TYPE_CUSTOM"}), "bid_price"),
            (json!({"bid_type": "BID_TYPE_CUSTOM", "bid_price": 50}), "bid_price"),
            (json!({"schedule_start_time": in_hours(-13)}), "schedule_start_time"),
            (
                json!({"schedule_start_time": "2026/01/01 00:00"}),
                "schedule_start_time",
            ),
            (
                json!({"schedule_type": "SCHEDULE_START_END", "schedule_end_time": in_hours(-1)}),
                "schedule_end_time",
            ),
            (json!({"dayparting": "1".repeat(335)}), "dayparting"),
            (json!({"dayparting": "2".repeat(336)}), "dayparting"),
            (json!({"billing_event": "CPX"}), "billing_event"),
            (json!({"placements": ["PLACEMENT_MARS"]}), "placements"),
            (json!({"audience_ids": ["1800000000000999999"]}), "audience_ids"),
        ] {
            let r = env.post("adgroup/create/", with(changes.clone())).await;
            let code = r.err();
            if field == "audience_ids" {
                assert_eq!(code, 40007, "{changes}");
                continue;
            }
            assert_eq!(code, 40002, "{changes}: {}", r.msg());
            assert!(r.msg().starts_with(field), "{changes}: {}", r.msg());
        }
        // good ones
        let r = env
            .post(
                "adgroup/create/",
                with(
                    json!({"schedule_start_time": in_hours(-11), "bid_type": "BID_TYPE_CUSTOM",
                   "bid_price": 1.25, "dayparting": "1".repeat(336)}),
                ),
            )
            .await;
        let g = r.ok().clone();
        assert_eq!(g["bid_price"], json!(1.25));
        // SCHEDULE_FROM_NOW: the end is ten years after the start
        let start = g["schedule_start_time"].as_str().unwrap();
        let end = g["schedule_end_time"].as_str().unwrap();
        assert_eq!(
            end[..4].parse::<i32>().unwrap() - start[..4].parse::<i32>().unwrap(),
            10
        );
        env.post(
            "adgroup/create/",
            with(
                json!({"budget_mode": "BUDGET_MODE_TOTAL", "schedule_type": "SCHEDULE_START_END",
                  "schedule_end_time": in_hours(48)}),
            ),
        )
        .await
        .ok();
        // an update keeps the rules: a bid as high as the budget is refused
        let id = g["adgroup_id"].as_str().unwrap();
        let r = env
            .post(
                "adgroup/update/",
                json!({"advertiser_id": ADV, "adgroup_id": id, "bid_price": 60}),
            )
            .await;
        assert_eq!(r.err(), 40002);
        let r = env
            .post(
                "adgroup/update/",
                json!({"advertiser_id": ADV, "adgroup_id": id, "budget_mode": "BUDGET_MODE_TOTAL"}),
            )
            .await;
        assert_eq!(r.err(), 40002);
        let r = env
            .post(
                "adgroup/update/",
                json!({"advertiser_id": ADV, "adgroup_id": id, "budget": 75.5, "adgroup_name": "Renamed"}),
            )
            .await;
        assert_eq!(r.ok()["budget"], json!(75.5));
        assert_eq!(r.ok()["adgroup_name"], "Renamed");
    }

    #[tokio::test]
    async fn campaign_budget_optimization_moves_the_budget_up() {
        let env = start().await;
        let r = env
            .post("campaign/create/", json!({"advertiser_id": ADV, "campaign_name": "CBO", "objective_type": "TRAFFIC",
                   "budget_optimize_on": true, "budget_mode": "BUDGET_MODE_DAY", "budget": 200, "optimization_goal": "CONVERT"}))
            .await;
        let c = r.ok()["campaign_id"].as_str().unwrap().to_string();
        let mut b = adgroup_body(&c, "G");
        let m = b.as_object_mut().unwrap();
        m.remove("budget");
        m.remove("budget_mode");
        m.remove("pacing");
        let r = env.post("adgroup/create/", b.clone()).await;
        assert_eq!(r.err(), 40002, "bid_type is required under CBO");
        assert!(r.msg().starts_with("bid_type:"), "{}", r.msg());
        b["bid_type"] = json!("BID_TYPE_NO_BID");
        let r = env.post("adgroup/create/", b).await;
        assert_eq!(r.ok()["pacing"], "PACING_MODE_SMOOTH");
    }
}

mod ads {
    use super::*;

    #[tokio::test]
    async fn several_creatives_per_call_and_creative_limits() {
        let env = start().await;
        let c = env.campaign("Ads").await;
        let g = env.adgroup(&c, "G").await;
        let r = env
            .post("ad/create/", json!({"advertiser_id": ADV, "adgroup_id": g, "creatives": [creative("A1"), creative("A2"), creative(" ")]}))
            .await;
        let d = r.ok().clone();
        assert_eq!(d["ad_ids"].as_array().unwrap().len(), 3);
        assert!(d["creatives"][2]["ad_name"].as_str().unwrap().starts_with("adcreative"));
        let bad = |k: &str, v: Value| {
            let mut cr = creative("B");
            if v.is_null() {
                cr.as_object_mut().unwrap().remove(k);
            } else {
                cr[k] = v;
            }
            json!({"advertiser_id": ADV, "adgroup_id": g, "creatives": [cr]})
        };
        for (k, v) in [
            ("ad_text", json!("")),
            ("ad_text", json!("x".repeat(101))),
            ("display_name", json!("x".repeat(41))),
            ("display_name", json!("名".repeat(21))),
            ("ad_format", json!("HOLOGRAM")),
            ("call_to_action", json!("CLICK_HERE")),
            ("video_id", Value::Null),
            ("ad_text", Value::Null),
            ("identity_id", Value::Null),
        ] {
            let r = env.post("ad/create/", bad(k, v.clone())).await;
            assert_eq!(r.err(), 40002, "{k}={v}");
            assert!(r.msg().contains(k), "{k}: {}", r.msg());
        }
        env.post("ad/create/", bad("display_name", json!("名".repeat(20))))
            .await
            .ok();
        env.post("ad/create/", bad("ad_text", json!("x".repeat(100))))
            .await
            .ok();
    }

    #[tokio::test]
    async fn at_most_twenty_ads_per_ad_group() {
        let env = start().await;
        let c = env.campaign("Twenty").await;
        let g = env.adgroup(&c, "G").await;
        let creatives: Vec<Value> = (0..20).map(|i| creative(&format!("A{i}"))).collect();
        env.post(
            "ad/create/",
            json!({"advertiser_id": ADV, "adgroup_id": g, "creatives": creatives}),
        )
        .await
        .ok();
        let r = env
            .post(
                "ad/create/",
                json!({"advertiser_id": ADV, "adgroup_id": g, "creatives": [creative("A21")]}),
            )
            .await;
        assert_eq!(r.err(), 40502);
        // a deleted ad frees its place
        let r = env
            .get("ad/get/", &[("advertiser_id", json!(ADV)), ("page_size", json!(1))])
            .await;
        let first = r.ok()["list"][0]["ad_id"].as_str().unwrap().to_string();
        assert_eq!(r.ok()["page_info"]["total_number"], 20);
        env.post(
            "ad/status/update/",
            json!({"advertiser_id": ADV, "ad_ids": [first], "operation_status": "DELETE"}),
        )
        .await
        .ok();
        env.post(
            "ad/create/",
            json!({"advertiser_id": ADV, "adgroup_id": g, "creatives": [creative("A21")]}),
        )
        .await
        .ok();
    }

    #[tokio::test]
    async fn review_and_update_overwrite_or_patch() {
        let env = start().await;
        let c = env.campaign("Rev").await;
        let g = env.adgroup(&c, "G").await;
        let ad = env.ad(&g, "A").await;
        let status = || async {
            let r = env
                .get(
                    "ad/get/",
                    &[("advertiser_id", json!(ADV)), ("filtering", json!({"ad_ids": [ad]}))],
                )
                .await;
            r.ok()["list"][0].clone()
        };
        assert_eq!(status().await["secondary_status"], "AD_STATUS_AUDIT");
        env.admin(&format!("review/{ad}"), json!({"outcome": "REJECTED"})).await;
        assert_eq!(status().await["secondary_status"], "AD_STATUS_AUDIT_DENY");
        env.admin(&format!("review/{ad}"), json!({"outcome": "APPROVED"})).await;
        assert_eq!(status().await["secondary_status"], "AD_STATUS_DELIVERY_OK");
        // patch: only what is sent changes
        let r = env
            .post(
                "ad/update/",
                json!({"advertiser_id": ADV, "adgroup_id": g, "patch_update": true,
                   "creatives": [{"ad_id": ad, "ad_text": "New text"}]}),
            )
            .await;
        assert_eq!(r.ok()["creatives"][0]["video_id"], "v1");
        assert_eq!(
            status().await["secondary_status"],
            "AD_STATUS_AUDIT",
            "a new text is reviewed again"
        );
        // without patch_update the creative is what is sent: a missing required field is refused
        let r = env
            .post(
                "ad/update/",
                json!({"advertiser_id": ADV, "adgroup_id": g, "creatives": [{"ad_id": ad, "ad_text": "Only"}]}),
            )
            .await;
        assert_eq!(r.err(), 40002);
        let mut full = creative("A2");
        full["ad_id"] = json!(ad);
        full.as_object_mut().unwrap().remove("landing_page_url");
        let r = env
            .post(
                "ad/update/",
                json!({"advertiser_id": ADV, "adgroup_id": g, "creatives": [full]}),
            )
            .await;
        assert!(r.ok()["creatives"][0].get("landing_page_url").is_none());
        // the review delay passes by itself on the emulated clock; a trigger word is rejected
        env.tt.configure(|c| c.review_delay = Duration::from_secs(5));
        let bad = env.ad(&g, "DISAPPROVE_ME please").await;
        env.admin("clock", json!({"advance_secs": 10})).await;
        let r = env
            .get(
                "ad/get/",
                &[("advertiser_id", json!(ADV)), ("filtering", json!({"ad_ids": [bad]}))],
            )
            .await;
        assert_eq!(r.ok()["list"][0]["secondary_status"], "AD_STATUS_AUDIT_DENY");
        // an ad of another ad group
        let g2 = env.adgroup(&c, "G2").await;
        let r = env
            .post(
                "ad/update/",
                json!({"advertiser_id": ADV, "adgroup_id": g2, "patch_update": true,
                   "creatives": [{"ad_id": ad, "ad_text": "x"}]}),
            )
            .await;
        assert_eq!(r.err(), 40002);
    }
}

mod paging {
    use super::*;

    #[tokio::test]
    async fn page_and_page_size_bounds() {
        let env = start().await;
        for i in 0..3 {
            env.campaign(&format!("P{i}")).await;
        }
        let r = env
            .get(
                "campaign/get/",
                &[
                    ("advertiser_id", json!(ADV)),
                    ("page", json!(2)),
                    ("page_size", json!(2)),
                ],
            )
            .await;
        let d = r.ok();
        assert_eq!(d["list"].as_array().unwrap().len(), 1);
        assert_eq!(
            d["page_info"],
            json!({"page": 2, "page_size": 2, "total_number": 3, "total_page": 2})
        );
        let r = env.get("campaign/get/", &[("advertiser_id", json!(ADV))]).await;
        assert_eq!(r.ok()["page_info"]["page_size"], 10);
        env.get(
            "campaign/get/",
            &[("advertiser_id", json!(ADV)), ("page_size", json!(1000))],
        )
        .await
        .ok();
        for (k, v) in [("page_size", 1001), ("page_size", 0), ("page", 0)] {
            let r = env
                .get("campaign/get/", &[("advertiser_id", json!(ADV)), (k, json!(v))])
                .await;
            assert_eq!(r.err(), 40002, "{k}={v}");
        }
        for path in ["adgroup/get/", "ad/get/"] {
            let r = env
                .get(path, &[("advertiser_id", json!(ADV)), ("page_size", json!(1001))])
                .await;
            assert_eq!(r.err(), 40002, "{path}");
        }
        // ad/get: the Smart+ sibling's 100 (unverified reading, docs/wire-rules.md)
        let r = env
            .get("ad/get/", &[("advertiser_id", json!(ADV)), ("page_size", json!(101))])
            .await;
        assert_eq!(r.err(), 40002);
        env.get("ad/get/", &[("advertiser_id", json!(ADV)), ("page_size", json!(100))])
            .await
            .ok();
        let r = env
            .get(
                "dmp/custom_audience/list/",
                &[("advertiser_id", json!(ADV)), ("page_size", json!(101))],
            )
            .await;
        assert_eq!(r.err(), 40002);
        env.get(
            "dmp/custom_audience/list/",
            &[("advertiser_id", json!(ADV)), ("page_size", json!(100))],
        )
        .await
        .ok();
        // the fields a read returns
        let r = env
            .get(
                "campaign/get/",
                &[
                    ("advertiser_id", json!(ADV)),
                    ("fields", json!(["campaign_id", "no_such_field"])),
                ],
            )
            .await;
        assert_eq!(r.err(), 40002);
    }
}

mod audiences {
    use super::*;

    #[tokio::test]
    async fn uploads_are_signed_and_hashed() {
        let env = start().await;
        let lines: Vec<String> = (0..3).map(sha).collect();
        let r = env
            .upload("EMAIL_SHA256", &lines, Some("00000000000000000000000000000000"))
            .await;
        assert_eq!(r.err(), 40002);
        assert!(r.msg().starts_with("file_signature:"), "{}", r.msg());
        let r = env.upload("EMAIL_SHA256", &["not-a-hash".to_string()], None).await;
        assert_eq!(r.err(), 40002);
        let r = env.upload("EMAIL_SHA256", &[sha(1)[..32].to_string()], None).await;
        assert_eq!(r.err(), 40002, "an MD5-length line for a SHA256 type");
        let r = env.upload("PHONE_SHA256", &lines, None).await;
        let path = r.ok()["file_path"].as_str().unwrap().to_string();
        assert_eq!(path.len(), 16);
        let r = env.upload("EMAIL_PLAIN", &lines, None).await;
        assert_eq!(r.err(), 40002);
    }

    #[tokio::test]
    async fn create_processing_update_and_floor() {
        let env = start().await;
        let lines: Vec<String> = (0..1500).map(sha).collect();
        let path = env.upload("EMAIL_SHA256", &lines, None).await.ok()["file_path"]
            .as_str()
            .unwrap()
            .to_string();
        for (body, field) in [
            (
                json!({"custom_audience_name": "", "calculate_type": "EMAIL_SHA256", "file_paths": [path]}),
                "custom_audience_name",
            ),
            (
                json!({"custom_audience_name": "x".repeat(129), "calculate_type": "EMAIL_SHA256", "file_paths": [path]}),
                "custom_audience_name",
            ),
            (
                json!({"custom_audience_name": "A", "calculate_type": "EMAIL_SHA256", "file_paths": []}),
                "file_paths",
            ),
            (
                json!({"custom_audience_name": "A", "calculate_type": "EMAIL_SHA256", "file_paths": [path], "retention_in_days": 366}),
                "retention_in_days",
            ),
            (
                json!({"custom_audience_name": "A", "calculate_type": "PHONE_SHA256", "file_paths": [path]}),
                "file_paths",
            ),
        ] {
            let mut b = body.clone();
            b["advertiser_id"] = json!(ADV);
            let r = env.post("dmp/custom_audience/create/", b).await;
            assert_eq!(r.err(), 40002, "{body}");
            assert!(r.msg().starts_with(&format!("{field}:")), "{body}: {}", r.msg());
        }
        let r = env
            .post(
                "dmp/custom_audience/create/",
                json!({"advertiser_id": ADV, "custom_audience_name": "Buyers",
                   "calculate_type": "EMAIL_SHA256", "file_paths": [path], "retention_in_days": 180}),
            )
            .await;
        let id = r.ok()["custom_audience_id"].as_str().unwrap().to_string();
        let list = env
            .get("dmp/custom_audience/list/", &[("advertiser_id", json!(ADV))])
            .await;
        let row = list.ok()["list"][0].clone();
        assert_eq!(
            (row["is_valid"].clone(), row["cover_num"].clone()),
            (json!(false), json!(0)),
            "processing"
        );
        // an update while processing is refused
        let r = env
            .post(
                "dmp/custom_audience/update/",
                json!({"advertiser_id": ADV, "custom_audience_id": id, "custom_audience_name": "B"}),
            )
            .await;
        assert_eq!(r.err(), 40002);
        // the processing time passes on the emulated clock
        env.admin("clock", json!({"advance_secs": 601})).await;
        let r = env
            .get(
                "dmp/custom_audience/get/",
                &[("advertiser_id", json!(ADV)), ("custom_audience_ids", json!([id]))],
            )
            .await;
        let d = &r.ok()["list"][0]["audience_details"];
        assert_eq!(
            (d["is_valid"].clone(), d["cover_num"].clone()),
            (json!(true), json!(1500))
        );
        // REMOVE that would leave 500 users is refused (floor 1,000)
        let small: Vec<String> = (0..1000).map(sha).collect();
        let p2 = env.upload("EMAIL_SHA256", &small, None).await.ok()["file_path"]
            .as_str()
            .unwrap()
            .to_string();
        let r = env
            .post(
                "dmp/custom_audience/update/",
                json!({"advertiser_id": ADV, "custom_audience_id": id, "file_paths": [p2], "action": "REMOVE"}),
            )
            .await;
        assert_eq!(r.err(), 40002);
        let r = env
            .post(
                "dmp/custom_audience/update/",
                json!({"advertiser_id": ADV, "custom_audience_id": id, "file_paths": [p2], "action": "MERGE"}),
            )
            .await;
        assert_eq!(r.err(), 40002);
        let more: Vec<String> = (1500..1600).map(sha).collect();
        let p3 = env.upload("EMAIL_SHA256", &more, None).await.ok()["file_path"]
            .as_str()
            .unwrap()
            .to_string();
        env.post(
            "dmp/custom_audience/update/",
            json!({"advertiser_id": ADV, "custom_audience_id": id, "file_paths": [p3], "action": "APPEND"}),
        )
        .await
        .ok();
        env.admin(&format!("audiences/{id}/ready"), json!({})).await;
        let r = env
            .get(
                "dmp/custom_audience/get/",
                &[("advertiser_id", json!(ADV)), ("custom_audience_ids", json!([id]))],
            )
            .await;
        assert_eq!(r.ok()["list"][0]["audience_details"]["cover_num"], 1600);
        // rename
        env.post(
            "dmp/custom_audience/update/",
            json!({"advertiser_id": ADV, "custom_audience_id": id, "custom_audience_name": "Renamed"}),
        )
        .await
        .ok();
        // unknown ids
        let r = env
            .get(
                "dmp/custom_audience/get/",
                &[
                    ("advertiser_id", json!(ADV)),
                    ("custom_audience_ids", json!(["1800000000000999999"])),
                ],
            )
            .await;
        assert_eq!(r.err(), 40007);
    }

    #[tokio::test]
    async fn delete_get_limits_and_lookalikes() {
        let env = start().await;
        let seed = env.audience("Seed", 150).await;
        let tiny = env.audience("Tiny", 50).await;
        let ids: Vec<String> = (0..101).map(|i| format!("18000000000000{i:05}")).collect();
        let r = env
            .post(
                "dmp/custom_audience/delete/",
                json!({"advertiser_id": ADV, "custom_audience_ids": ids}),
            )
            .await;
        assert_eq!(r.err(), 40011);
        let r = env
            .post(
                "dmp/custom_audience/delete/",
                json!({"advertiser_id": ADV, "custom_audience_ids": []}),
            )
            .await;
        assert_eq!(r.err(), 40002);
        let r = env
            .get(
                "dmp/custom_audience/get/",
                &[("advertiser_id", json!(ADV)), ("custom_audience_ids", json!(ids))],
            )
            .await;
        assert_eq!(r.err(), 40011);
        let spec = |src: &str| {
            json!({"advertiser_id": ADV, "custom_audience_name": "LAL", "lookalike_spec": {"source_audience_id": src,
                   "audience_size": "BALANCED", "include_source": false, "location_ids": ["6252001"], "mobile_os": "ALL",
                   "placements": ["PLACEMENT_TIKTOK"]}})
        };
        let r = env.post("dmp/custom_audience/lookalike/create/", spec(&tiny)).await;
        assert_eq!(r.err(), 40002, "a seed below 100 users");
        let lal = env
            .post("dmp/custom_audience/lookalike/create/", spec(&seed))
            .await
            .ok()["custom_audience_id"]
            .as_str()
            .unwrap()
            .to_string();
        env.admin(&format!("audiences/{lal}/ready"), json!({})).await;
        let r = env.post("dmp/custom_audience/lookalike/create/", spec(&lal)).await;
        assert_eq!(r.err(), 40002, "a lookalike cannot seed a lookalike");
        let mut missing = spec(&seed);
        missing["lookalike_spec"]
            .as_object_mut()
            .unwrap()
            .remove("location_ids");
        let r = env.post("dmp/custom_audience/lookalike/create/", missing).await;
        assert_eq!(r.err(), 40002);
        env.post(
            "dmp/custom_audience/delete/",
            json!({"advertiser_id": ADV, "custom_audience_ids": [tiny]}),
        )
        .await
        .ok();
        let r = env
            .get("dmp/custom_audience/list/", &[("advertiser_id", json!(ADV))])
            .await;
        assert_eq!(r.ok()["page_info"]["total_number"], 2, "the deleted one is gone");
        // an ad group can target the audience
        let c = env.campaign("Aud").await;
        let mut g = adgroup_body(&c, "G");
        g["audience_ids"] = json!([seed]);
        env.post("adgroup/create/", g).await.ok();
    }
}

mod reports {
    use super::*;

    async fn tree(env: &Env) -> (String, String, String) {
        let c = env.campaign("R").await;
        let g = env.adgroup(&c, "G").await;
        let a = env.ad(&g, "A").await;
        (c, g, a)
    }

    fn today() -> String {
        chrono::Utc::now().format("%Y-%m-%d").to_string()
    }

    #[tokio::test]
    async fn integrated_report_rows_are_strings_and_deterministic() {
        let env = start().await;
        let (c, _, _) = tree(&env).await;
        let q = |level: &str, dims: Value| {
            vec![
                ("advertiser_id", json!(ADV)),
                ("report_type", json!("BASIC")),
                ("data_level", json!(level)),
                ("dimensions", dims),
                (
                    "metrics",
                    json!([
                        "spend",
                        "impressions",
                        "clicks",
                        "cpc",
                        "conversion",
                        "cost_per_conversion",
                        "campaign_name"
                    ]),
                ),
                ("start_date", json!(today())),
                ("end_date", json!(today())),
            ]
        };
        let r = env
            .get(
                "report/integrated/get/",
                &q("AUCTION_CAMPAIGN", json!(["campaign_id", "stat_time_day"])),
            )
            .await;
        let row = r.ok()["list"][0].clone();
        assert_eq!(row["dimensions"]["campaign_id"], c);
        assert_eq!(row["dimensions"]["stat_time_day"], format!("{} 00:00:00", today()));
        for (_, v) in row["metrics"].as_object().unwrap() {
            assert!(v.is_string(), "{v}");
        }
        assert_eq!(row["metrics"]["campaign_name"], "R");
        let again = env
            .get(
                "report/integrated/get/",
                &q("AUCTION_CAMPAIGN", json!(["campaign_id", "stat_time_day"])),
            )
            .await;
        assert_eq!(again.ok()["list"][0], row, "deterministic");
        // "-" for an empty value: the campaign name at advertiser level
        let r = env
            .get(
                "report/integrated/get/",
                &q("AUCTION_ADVERTISER", json!(["advertiser_id"])),
            )
            .await;
        assert_eq!(r.ok()["list"][0]["metrics"]["campaign_name"], "-");
        assert_eq!(
            r.ok()["list"][0]["metrics"]["spend"],
            row["metrics"]["spend"],
            "levels add up"
        );
        // another metric seed, other numbers
        let cfg = EmulatorConfig {
            metric_seed: 99,
            ..Default::default()
        };
        let other = start_with(cfg).await;
        let (c2, _, _) = tree(&other).await;
        let r2 = other
            .get(
                "report/integrated/get/",
                &q("AUCTION_CAMPAIGN", json!(["campaign_id", "stat_time_day"])),
            )
            .await;
        assert_eq!(r2.ok()["list"][0]["dimensions"]["campaign_id"], c2);
        assert_ne!(
            r2.ok()["list"][0]["metrics"]["impressions"],
            row["metrics"]["impressions"]
        );
    }

    #[tokio::test]
    async fn report_parameters_are_checked() {
        let env = start().await;
        let (c, _, _) = tree(&env).await;
        let base = || {
            vec![
                ("advertiser_id", json!(ADV)),
                ("report_type", json!("BASIC")),
                ("data_level", json!("AUCTION_CAMPAIGN")),
                ("dimensions", json!(["campaign_id", "stat_time_day"])),
                ("metrics", json!(["spend"])),
                ("start_date", json!("2026-01-01")),
                ("end_date", json!("2026-01-30")),
            ]
        };
        env.get("report/integrated/get/", &base()).await.ok();
        let set = |k: &'static str, v: Value| {
            let mut q = base();
            q.retain(|(n, _)| *n != k);
            if !v.is_null() {
                q.push((k, v));
            }
            q
        };
        for (q, why) in [
            (set("end_date", json!("2026-01-31")), "31 days of daily rows"),
            (
                set("dimensions", json!(["campaign_id", "stat_time_hour"])),
                "30 days of hourly rows",
            ),
            (set("dimensions", json!(["adgroup_id"])), "a dimension of another level"),
            (set("metrics", json!(["spend", "happiness"])), "an unknown metric"),
            (set("dimensions", json!("campaign_id")), "not a JSON list"),
            (set("start_date", Value::Null), "no dates and no query_lifetime"),
            (set("page_size", json!(1001)), "page_size above 1000"),
            (set("report_type", json!("WEEKLY")), "an unknown report type"),
            (
                set(
                    "filtering",
                    json!([{"field_name": "campaign_ids", "filter_type": "IN", "filter_value": [c.clone()]}]),
                ),
                "filter_value not a JSON string",
            ),
        ] {
            let r = env.get("report/integrated/get/", &q).await;
            assert_eq!(r.err(), 40002, "{why}: {}", r.msg());
        }
        let ids: Vec<String> = (0..101).map(|i| i.to_string()).collect();
        let r = env
            .get(
                "report/integrated/get/",
                &set(
                    "filtering",
                    json!([{"field_name": "campaign_ids", "filter_type": "IN",
                   "filter_value": serde_json::to_string(&ids).unwrap()}]),
                ),
            )
            .await;
        assert_eq!(r.err(), 40011);
        let r = env
            .get(
                "report/integrated/get/",
                &set(
                    "filtering",
                    json!([{"field_name": "campaign_ids", "filter_type": "IN",
                   "filter_value": serde_json::to_string(&[&c]).unwrap()}]),
                ),
            )
            .await;
        r.ok();
        let mut lifetime = set("start_date", Value::Null);
        lifetime.retain(|(n, _)| *n != "end_date");
        lifetime.retain(|(n, _)| *n != "dimensions");
        lifetime.push(("dimensions", json!(["campaign_id"])));
        lifetime.push(("query_lifetime", json!(true)));
        let r = env.get("report/integrated/get/", &lifetime).await;
        assert_eq!(r.ok()["list"][0]["dimensions"]["campaign_id"], c);
    }

    #[tokio::test]
    async fn async_tasks_are_not_ready_until_done() {
        let env = start().await;
        tree(&env).await;
        let r = env
            .post("report/task/create/", json!({"advertiser_id": ADV, "report_type": "BASIC", "data_level": "AUCTION_AD",
                   "dimensions": ["ad_id"], "metrics": ["spend", "impressions"], "start_date": today(), "end_date": today()}))
            .await;
        let task = r.ok()["task_id"].as_str().unwrap().to_string();
        let q = [("advertiser_id", json!(ADV)), ("task_id", json!(task))];
        assert_eq!(env.get("report/task/check/", &q).await.err(), 40201);
        env.admin("clock", json!({"advance_secs": 601})).await;
        let r = env.get("report/task/check/", &q).await;
        let csv = r.ok()["report"].as_str().unwrap().to_string();
        assert!(csv.starts_with("ad_id,spend,impressions\n"), "{csv}");
        assert_eq!(csv.lines().count(), 2);
        let r = env
            .get(
                "report/task/check/",
                &[("advertiser_id", json!(ADV)), ("task_id", json!("1"))],
            )
            .await;
        assert_eq!(r.err(), 40007);
    }
}

mod limits_and_faults {
    use super::*;

    #[tokio::test]
    async fn rate_limits_per_endpoint_and_per_advertiser() {
        let mut cfg = EmulatorConfig::default();
        cfg.rate_limits.tiktok.requests_per_second_per_endpoint = Some(3);
        let env = start_with(cfg).await;
        let mut codes = Vec::new();
        for _ in 0..5 {
            let r = env.get("campaign/get/", &[("advertiser_id", json!(ADV))]).await;
            assert_eq!(r.status, 200);
            codes.push(r.code());
        }
        assert_eq!(codes.iter().filter(|c| **c == 40100).count(), 2, "{codes:?}");
        // another endpoint has its own budget
        env.get("adgroup/get/", &[("advertiser_id", json!(ADV))]).await.ok();
        // per advertiser
        env.admin("config", json!({"endpoint_qps": 0, "advertiser_qps": 2}))
            .await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let mut codes = Vec::new();
        for path in ["campaign/get/", "adgroup/get/", "ad/get/"] {
            codes.push(env.get(path, &[("advertiser_id", json!(ADV))]).await.code());
        }
        assert_eq!(codes, vec![0, 0, 40133]);
        env.get("ad/get/", &[("advertiser_id", json!("7000000000000000002"))])
            .await
            .ok();
        // off by default
        let env = start().await;
        for _ in 0..30 {
            env.get("campaign/get/", &[("advertiser_id", json!(ADV))]).await.ok();
        }
    }

    #[tokio::test]
    async fn injected_faults_and_read_lag() {
        let env = start().await;
        env.handle.faults().set(adsctl_emulator::FaultSpec {
            server_error: 1.0,
            ..Default::default()
        });
        let r = env.get("campaign/get/", &[("advertiser_id", json!(ADV))]).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.err(), 50000);
        env.handle.faults().set(adsctl_emulator::FaultSpec {
            rate_limit: 1.0,
            ..Default::default()
        });
        let r = env.get("campaign/get/", &[("advertiser_id", json!(ADV))]).await;
        assert_eq!(r.err(), 40100);
        env.handle.faults().set(adsctl_emulator::FaultSpec::default());
        // read lag: a campaign written just now is not seen yet, an update shows its previous version
        let id = env.campaign("Lag").await;
        env.handle.faults().set(adsctl_emulator::FaultSpec {
            lag: 1.0,
            ..Default::default()
        });
        let r = env.get("campaign/get/", &[("advertiser_id", json!(ADV))]).await;
        assert_eq!(r.ok()["page_info"]["total_number"], 0);
        env.handle.faults().set(adsctl_emulator::FaultSpec::default());
        env.tt.advance_clock(Duration::from_secs(5));
        env.post(
            "campaign/update/",
            json!({"advertiser_id": ADV, "campaign_id": id, "campaign_name": "Lag 2"}),
        )
        .await
        .ok();
        env.handle.faults().set(adsctl_emulator::FaultSpec {
            lag: 1.0,
            ..Default::default()
        });
        let r = env.get("campaign/get/", &[("advertiser_id", json!(ADV))]).await;
        assert_eq!(r.ok()["list"][0]["campaign_name"], "Lag");
    }

    #[tokio::test]
    async fn requests_are_counted_per_endpoint_with_their_operations() {
        let env = start().await;
        let c = env.campaign("Count").await;
        let g = env.adgroup(&c, "G").await;
        env.post(
            "ad/create/",
            json!({"advertiser_id": ADV, "adgroup_id": g, "creatives": [creative("A"), creative("B")]}),
        )
        .await
        .ok();
        let r = env
            .http
            .get(format!("{}/_emulator/requests", env.handle.url()))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        let ads = &v["endpoints"]["POST /open_api/v1.3/ad/create/"];
        assert_eq!(ads["requests"], 1);
        assert_eq!(ads["operations"], 2);
        assert_eq!(v["endpoints"]["POST /open_api/v1.3/campaign/create/"]["operations"], 1);
    }
}

mod state {
    use super::*;

    #[tokio::test]
    async fn dump_restore_and_reset() {
        let env = start().await;
        let id = env.campaign("Kept").await;
        let dump = adsctl_emulator::PlatformEmulator::dump(&*env.tt);
        assert!(dump.to_string().contains(&id));
        assert!(!dump.to_string().contains(TIKTOK_ACCESS_TOKEN));
        adsctl_emulator::PlatformEmulator::reset(&*env.tt);
        let r = env.get("campaign/get/", &[("advertiser_id", json!(ADV))]).await;
        assert_eq!(r.ok()["page_info"]["total_number"], 0);
        adsctl_emulator::PlatformEmulator::restore(&*env.tt, dump).unwrap();
        let r = env.get("campaign/get/", &[("advertiser_id", json!(ADV))]).await;
        assert_eq!(r.ok()["list"][0]["budget"], json!(100));
        // the core's reset reaches TikTok too
        env.http
            .post(format!("{}/_emulator/reset", env.handle.url()))
            .send()
            .await
            .unwrap();
        let r = env.get("campaign/get/", &[("advertiser_id", json!(ADV))]).await;
        assert_eq!(r.ok()["page_info"]["total_number"], 0);
    }
}

mod fields_table {
    /// Where the reference lives next to a development checkout (a user's clone has none: then nothing to do).
    fn reference() -> Option<std::path::PathBuf> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        [root.join("../../../shared"), root.join("../../../../shared")]
            .into_iter()
            .map(|p| p.join("reference/tiktok-business/fields.json"))
            .find(|p| p.is_file())
    }

    #[test]
    fn committed_table_is_what_the_script_makes_from_the_reference() {
        let Some(pack) = reference() else {
            eprintln!("no ../shared/reference/tiktok-business here: nothing to compare");
            return;
        };
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = std::env::temp_dir().join(format!("tiktok-fields-{}.json", std::process::id()));
        let status = std::process::Command::new("python3")
            .arg(root.join("../../scripts/gen-tiktok-fields.py"))
            .arg(&pack)
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .status();
        match status {
            Ok(s) if s.success() => {
                let fresh = std::fs::read_to_string(&out).unwrap();
                let _ = std::fs::remove_file(&out);
                assert!(
                    fresh == include_str!("../src/tiktok/fields.json"),
                    "crates/adsctl-emulator/src/tiktok/fields.json is stale: run scripts/gen-tiktok-fields.py"
                );
            }
            _ => eprintln!("python3 is not available: nothing to compare"),
        }
    }
}
