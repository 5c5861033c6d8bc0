//! The LinkedIn Marketing API emulator over real HTTP (started in-process with `Emulator::start` on 127.0.0.1:0).
//! Each rule row of the LinkedIn section of docs/wire-rules.md names a test here.

use std::sync::Arc;
use std::time::Duration;

use adsctl_emulator::linkedin::LinkedInEmulator;
use adsctl_emulator::platform::defaults::{
    LINKEDIN_ACCESS_TOKEN, LINKEDIN_AD_ACCOUNT_ID, LINKEDIN_CLIENT_ID, LINKEDIN_CLIENT_SECRET, LINKEDIN_REFRESH_TOKEN,
};
use adsctl_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::{json, Value};

const ACCT: &str = LINKEDIN_AD_ACCOUNT_ID;
const ACCT_URN: &str = "urn:li:sponsoredAccount:510000001";
const VERSION: &str = "202608";

struct Env {
    handle: EmulatorHandle,
    http: reqwest::Client,
    li: Arc<LinkedInEmulator>,
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
    body: Value,
}

impl Resp {
    fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).and_then(|v| v.to_str().ok())
    }
    fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "{}", self.text);
        &self.body
    }
    /// A 201 with an empty body: the new key from x-restli-id.
    fn created(&self) -> String {
        assert_eq!(self.status, 201, "{}", self.text);
        assert!(self.text.is_empty(), "a create answers an empty body: {}", self.text);
        self.header("x-restli-id").expect("x-restli-id").to_string()
    }
    fn no_content(&self) {
        assert_eq!(self.status, 204, "{}", self.text);
        assert!(self.text.is_empty());
    }
    /// An error of this status: its `code` (new envelope) or "" (classic).
    fn err(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.body["status"], json!(status), "{}", self.text);
        assert!(self.body["message"].is_string(), "{}", self.text);
        self.body["code"].as_str().unwrap_or("").to_string()
    }
    fn msg(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }
}

async fn start_with(cfg: EmulatorConfig) -> Env {
    let handle = Emulator::start(cfg).await.expect("emulator starts");
    let li = handle
        .platforms()
        .get::<LinkedInEmulator>()
        .expect("linkedin registered");
    li.configure(|c| c.segment_user_wait = Duration::from_millis(0));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Env { handle, http, li }
}

async fn start() -> Env {
    start_with(EmulatorConfig::default()).await
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn sha(i: usize) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(format!("user{i}@example.com").as_bytes()))
}

fn enc(s: &str) -> String {
    s.replace(':', "%3A")
}

fn usd(a: &str) -> Value {
    json!({"amount": a, "currencyCode": "USD"})
}

fn group_urn(id: &str) -> String {
    format!("urn:li:sponsoredCampaignGroup:{id}")
}

fn campaign_urn(id: &str) -> String {
    format!("urn:li:sponsoredCampaign:{id}")
}

fn campaign_body(group: &str, name: &str, status: &str) -> Value {
    json!({
        "account": ACCT_URN,
        "campaignGroup": group_urn(group),
        "name": name,
        "type": "SPONSORED_UPDATES",
        "costType": "CPM",
        "unitCost": usd("5.00"),
        "dailyBudget": usd("50"),
        "runSchedule": {"start": now_ms() + 86_400_000},
        "locale": {"country": "US", "language": "en"},
        "targetingCriteria": {"include": {"and": [{"or": {"urn:li:adTargetingFacet:locations": ["urn:li:geo:103644278"]}}]}},
        "objectiveType": "WEBSITE_VISIT",
        "status": status,
    })
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.url())
    }

    /// A request with every required header.
    fn rb(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.rb_as(method, path, VERSION, LINKEDIN_ACCESS_TOKEN)
    }

    /// A request with this version and token (reqwest's `header` adds a value, it does not replace one).
    fn rb_as(&self, method: reqwest::Method, path: &str, version: &str, token: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("LinkedIn-Version", version)
            .header("X-Restli-Protocol-Version", "2.0.0")
            .header("Authorization", format!("Bearer {token}"))
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            body,
        }
    }

    async fn get(&self, path: &str) -> Resp {
        self.send(self.rb(reqwest::Method::GET, path)).await
    }

    async fn post(&self, path: &str, method: Option<&str>, body: Value) -> Resp {
        let mut rb = self
            .rb(reqwest::Method::POST, path)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some(m) = method {
            rb = rb.header("X-RestLi-Method", m);
        }
        self.send(rb).await
    }

    async fn delete(&self, path: &str) -> Resp {
        self.send(self.rb(reqwest::Method::DELETE, path)).await
    }

    async fn admin(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(self.url(&format!("/_emulator/linkedin/{path}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "admin {path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn admin_get(&self, path: &str) -> Value {
        self.http
            .get(self.url(&format!("/_emulator/{path}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn groups(&self) -> String {
        format!("/rest/adAccounts/{ACCT}/adCampaignGroups")
    }
    fn campaigns(&self) -> String {
        format!("/rest/adAccounts/{ACCT}/adCampaigns")
    }
    fn creatives(&self) -> String {
        format!("/rest/adAccounts/{ACCT}/creatives")
    }

    async fn group(&self, name: &str, status: &str) -> String {
        self.post(
            &self.groups(),
            Some("CREATE"),
            json!({"account": ACCT_URN, "name": name, "status": status}),
        )
        .await
        .created()
    }

    async fn campaign(&self, group: &str, name: &str, status: &str) -> String {
        self.post(&self.campaigns(), Some("CREATE"), campaign_body(group, name, status))
            .await
            .created()
    }

    async fn creative(&self, campaign: &str, status: &str) -> String {
        self.post(
            &self.creatives(),
            Some("CREATE"),
            json!({"campaign": campaign_urn(campaign), "content": {"reference": "urn:li:share:7001"},
                   "intendedStatus": status, "name": "Creative [adsctl-managed]"}),
        )
        .await
        .created()
    }

    async fn segment(&self, name: &str) -> String {
        self.post(
            "/rest/dmpSegments",
            Some("CREATE"),
            json!({"account": ACCT_URN, "name": name, "description": "list [adsctl-managed]",
                   "destinations": [{"destination": "LINKEDIN"}], "sourcePlatform": "LIST_UPLOAD",
                   "type": "USER", "accessPolicy": "PRIVATE"}),
        )
        .await
        .created()
    }

    /// A group (ACTIVE) with one ACTIVE campaign.
    async fn tree(&self) -> (String, String) {
        let g = self.group("G [adsctl-managed]", "ACTIVE").await;
        let c = self.campaign(&g, "C [adsctl-managed]", "ACTIVE").await;
        (g, c)
    }
}

mod headers {
    use super::*;

    #[tokio::test]
    async fn linkedin_version_is_required_and_sunset_or_unknown_versions_get_426() {
        let env = start().await;
        let path = format!("/rest/adAccounts/{ACCT}");
        let no_version = env
            .http
            .get(env.url(&path))
            .header("X-Restli-Protocol-Version", "2.0.0")
            .header("Authorization", format!("Bearer {LINKEDIN_ACCESS_TOKEN}"));
        let r = env.send(no_version).await;
        assert_eq!(r.err(400), "VERSION_MISSING");
        for (v, code) in [
            ("202510", "VERSION_SUNSET"),
            ("202401", "VERSION_SUNSET"),
            ("202609", "NONEXISTENT_VERSION"),
            ("202512", "NONEXISTENT_VERSION"),
            ("2026-08", "NONEXISTENT_VERSION"),
            ("202613", "NONEXISTENT_VERSION"),
        ] {
            let r = env
                .send(env.rb_as(reqwest::Method::GET, &path, v, LINKEDIN_ACCESS_TOKEN))
                .await;
            assert_eq!(r.err(426), code, "{v}");
        }
        for v in ["202511", "202601", "202608"] {
            let r = env
                .send(env.rb_as(reqwest::Method::GET, &path, v, LINKEDIN_ACCESS_TOKEN))
                .await;
            assert_eq!(r.ok()["currency"], "USD", "{v}");
        }
    }

    #[tokio::test]
    async fn restli_protocol_version_2_is_required() {
        let env = start().await;
        let path = format!("{}/rest/adAccounts/{ACCT}", env.handle.url());
        let base = || {
            env.http
                .get(&path)
                .header("LinkedIn-Version", VERSION)
                .header("Authorization", format!("Bearer {LINKEDIN_ACCESS_TOKEN}"))
        };
        let r = env.send(base()).await;
        assert_eq!(r.err(400), "");
        assert_eq!(r.body["serviceErrorCode"], 100);
        let r = env.send(base().header("X-Restli-Protocol-Version", "1.0.0")).await;
        r.err(400);
        env.send(base().header("X-Restli-Protocol-Version", "2.0.0")).await.ok();
    }

    #[tokio::test]
    async fn bearer_token_is_required_and_checked() {
        let env = start().await;
        let path = format!("{}/rest/adAccounts/{ACCT}", env.handle.url());
        let base = || {
            env.http
                .get(&path)
                .header("LinkedIn-Version", VERSION)
                .header("X-Restli-Protocol-Version", "2.0.0")
        };
        let r = env.send(base()).await;
        assert_eq!(
            r.body,
            json!({"message": "Empty oauth2_access_token", "serviceErrorCode": 401, "status": 401})
        );
        let r = env.send(base().header("Authorization", "Bearer nope")).await;
        r.err(401);
        assert_eq!(r.body["serviceErrorCode"], 65600);
        let r = env
            .send(base().header("Authorization", format!("Token {LINKEDIN_ACCESS_TOKEN}")))
            .await;
        assert_eq!(r.msg(), "Empty oauth2_access_token");
    }

    #[tokio::test]
    async fn restli_method_is_required_for_batch_create_batch_partial_update_and_partial_update() {
        let env = start().await;
        let g = env.group("G", "DRAFT").await;
        let r = env
            .post(
                &env.groups(),
                None,
                json!({"elements": [{"account": ACCT_URN, "name": "x", "status": "DRAFT"}]}),
            )
            .await;
        r.err(400);
        assert!(r.msg().contains("BATCH_CREATE"), "{}", r.text);
        let r = env
            .post(
                &format!("{}?ids=List({g})", env.groups()),
                None,
                json!({"entities": {g.clone(): {"patch": {"$set": {"name": "y"}}}}}),
            )
            .await;
        assert!(env_msg(&r).contains("BATCH_PARTIAL_UPDATE"), "{}", r.text);
        let r = env
            .post(
                &format!("{}/{g}", env.groups()),
                None,
                json!({"patch": {"$set": {"name": "y"}}}),
            )
            .await;
        r.err(400);
        assert!(r.msg().contains("PARTIAL_UPDATE"), "{}", r.text);
        // a header that contradicts the request
        let r = env
            .post(
                &format!("{}/{g}", env.groups()),
                Some("BATCH_CREATE"),
                json!({"patch": {}}),
            )
            .await;
        r.err(400);
        // CREATE may be inferred
        env.post(
            &env.groups(),
            None,
            json!({"account": ACCT_URN, "name": "z", "status": "DRAFT"}),
        )
        .await
        .created();
    }

    fn env_msg(r: &Resp) -> &str {
        assert_eq!(r.status, 400, "{}", r.text);
        r.msg()
    }

    #[tokio::test]
    async fn a_post_without_content_length_is_411() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let env = start().await;
        let mut s = tokio::net::TcpStream::connect(env.handle.addr()).await.unwrap();
        let req = format!(
            "POST /rest/adAccounts/{ACCT}/adCampaignGroups HTTP/1.1\r\nHost: x\r\nLinkedIn-Version: 202608\r\n\
             X-Restli-Protocol-Version: 2.0.0\r\nAuthorization: Bearer {LINKEDIN_ACCESS_TOKEN}\r\n\
             Connection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert!(out.starts_with("HTTP/1.1 411"), "{out}");
        // with Content-Length: 0 the request reaches the API (and fails on its empty body)
        let r = env
            .send(
                env.rb(reqwest::Method::POST, &env.groups())
                    .header("Content-Length", "0"),
            )
            .await;
        r.err(400);
    }

    #[tokio::test]
    async fn responses_carry_li_request_headers() {
        let env = start().await;
        let ok = env.get(&format!("/rest/adAccounts/{ACCT}")).await;
        let err = env.get("/rest/adAccounts/nope/adCampaigns/1").await;
        for r in [&ok, &err] {
            assert!(r.header("x-li-uuid").is_some_and(|v| !v.is_empty()), "{:?}", r.headers);
            assert!(r.header("x-li-request-id").is_some());
            assert!(r.header("x-li-fabric").is_some());
        }
        assert_ne!(ok.header("x-li-uuid"), err.header("x-li-uuid"));
        // a path no resource serves
        let r = env.get("/rest/adCampaignsV2").await;
        assert_eq!(r.err(404), "");
        assert_eq!(r.msg(), "No virtual resource found");
        assert!(r.header("x-li-uuid").is_some());
    }

    #[tokio::test]
    async fn scopes_and_member_roles_are_checked() {
        let env = start().await;
        let t = env.admin("tokens", json!({"scope": "r_ads"})).await;
        let token = t["access_token"].as_str().unwrap().to_string();
        let as_reader = |m: reqwest::Method, path: &str| env.rb_as(m, path, VERSION, &token);
        let r = env
            .send(as_reader(reqwest::Method::GET, &format!("/rest/adAccounts/{ACCT}")))
            .await;
        r.ok();
        let r = env
            .send(
                as_reader(reqwest::Method::POST, &env.groups())
                    .header("Content-Type", "application/json")
                    .body(json!({"account": ACCT_URN, "name": "x", "status": "DRAFT"}).to_string()),
            )
            .await;
        r.err(403);
        assert!(r.msg().starts_with("Not enough permissions to access"), "{}", r.text);
        let r = env
            .send(as_reader(
                reqwest::Method::GET,
                &format!("/rest/dmpSegments?q=account&account={}", enc(ACCT_URN)),
            ))
            .await;
        r.err(403);
        // a VIEWER reads but does not write; no role: nothing
        env.admin("ad_accounts", json!({"id": "510000077", "role": "VIEWER"}))
            .await;
        env.admin("ad_accounts", json!({"id": "510000078", "role": ""})).await;
        env.get("/rest/adAccounts/510000077").await.ok();
        let r = env
            .post(
                "/rest/adAccounts/510000077/adCampaignGroups",
                None,
                json!({"account": "urn:li:sponsoredAccount:510000077", "name": "x", "status": "DRAFT"}),
            )
            .await;
        assert_eq!(r.err(403), "NO_PERMISSION_ON_ENTITY");
        assert_eq!(
            env.get("/rest/adAccounts/510000078").await.err(403),
            "NO_PERMISSION_ON_ENTITY"
        );
    }
}

mod restli {
    use super::*;

    #[tokio::test]
    async fn lists_objects_and_percent_encoded_urns_are_decoded() {
        let env = start().await;
        let (g, c) = env.tree().await;
        let g2 = env.group("Other", "ACTIVE").await;
        env.campaign(&g2, "Elsewhere", "PAUSED").await;
        let r = env
            .get(&format!(
                "{}?q=search&search=(campaignGroup:(values:List({})),status:(values:List(ACTIVE,PAUSED)))",
                env.campaigns(),
                enc(&group_urn(&g))
            ))
            .await;
        let els = r.ok()["elements"].as_array().unwrap().clone();
        assert_eq!(els.len(), 1, "{}", r.text);
        assert_eq!(els[0]["id"].to_string(), c);
        // an empty List() matches nothing
        let r = env
            .get(&format!("{}?q=search&search=(status:(values:List()))", env.campaigns()))
            .await;
        assert_eq!(r.ok()["elements"], json!([]));
    }

    #[tokio::test]
    async fn malformed_restli_syntax_is_400() {
        let env = start().await;
        env.tree().await;
        for q in [
            "q=search&search=(status:(values:List(ACTIVE))",
            // an HTTP client that re-encodes the structure breaks every Rest.li value
            "q=search&search=%28status%3A%28values%3AList%28ACTIVE%29%29%29",
            "q=search&search=(campaignGroup:(values:List(urn:li:sponsoredCampaignGroup:1)))",
            "q=search&search=status:ACTIVE",
            "q=search&search=(status:(values:ACTIVE))",
            "q=search&search=(bogus:(values:List(A)))",
            "q=search&q=search",
            "q=search&pageSize=0",
            "q=search&pageToken=garbage",
            "q=nope",
        ] {
            let r = env.get(&format!("{}?{q}", env.campaigns())).await;
            assert_eq!(r.status, 400, "{q}: {}", r.text);
        }
    }

    #[tokio::test]
    async fn fields_projection_is_a_plain_comma_list() {
        let env = start().await;
        let (g, _) = env.tree().await;
        let r = env.get(&format!("{}/{g}?fields=id,name", env.groups())).await;
        let mut keys: Vec<&String> = r.ok().as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, vec!["id", "name"], "{}", r.text);
    }

    #[tokio::test]
    async fn long_urls_are_414_and_query_tunneling_serves_them() {
        let env = start().await;
        let (g, _) = env.tree().await;
        let many: Vec<String> = (0..400)
            .map(|i| (700_000_000u64 + i).to_string())
            .chain([g.clone()])
            .collect();
        let _ = many.len();
        let query = format!("q=search&search=(id:(values:List({})))", many.join(","));
        let long = format!("{}?{query}", env.groups());
        assert!(long.len() > 4000);
        let r = env.get(&long).await;
        assert_eq!(r.status, 414, "{}", r.text);
        let r = env
            .send(
                env.rb(reqwest::Method::POST, &env.groups())
                    .header("X-HTTP-Method-Override", "GET")
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(query),
            )
            .await;
        let els = r.ok()["elements"].as_array().unwrap().clone();
        assert_eq!(els.len(), 1);
        assert_eq!(els[0]["id"].to_string(), g);
        // a tunneled query must be a form body
        let r = env
            .send(
                env.rb(reqwest::Method::POST, &env.groups())
                    .header("X-HTTP-Method-Override", "GET")
                    .header("Content-Type", "application/json")
                    .body("q=search"),
            )
            .await;
        r.err(400);
    }
}

mod accounts {
    use super::*;

    #[tokio::test]
    async fn seeded_account_get_search_and_batch_get() {
        let env = start().await;
        let a = env.get(&format!("/rest/adAccounts/{ACCT}")).await;
        let a = a.ok();
        assert_eq!(a["id"], json!(510000001u64));
        assert_eq!(a["currency"], "USD");
        let r = env
            .get("/rest/adAccounts?q=search&search=(status:(values:List(ACTIVE)),test:false)")
            .await;
        let els = r.ok()["elements"].as_array().unwrap().clone();
        assert_eq!(els.len(), 1);
        assert!(r.body["metadata"].get("nextPageToken").is_none());
        let r = env.get(&format!("/rest/adAccounts?ids=List({ACCT},999)")).await;
        assert_eq!(r.ok()["results"][ACCT]["currency"], "USD");
        assert_eq!(r.body["errors"]["999"]["status"], 404);
        // unknown account with auto-create off: 404 in the new envelope
        env.admin("config", json!({"auto_create_accounts": false})).await;
        assert_eq!(env.get("/rest/adAccounts/123456").await.err(404), "NOT_FOUND");
        assert_eq!(
            env.delete(&format!("/rest/adAccounts/{ACCT}")).await.err(400),
            "DELETE_NOT_ALLOWED"
        );
    }
}

mod groups {
    use super::*;

    #[tokio::test]
    async fn create_is_201_with_an_empty_body_and_the_id_in_x_restli_id() {
        let env = start().await;
        let id = env.group("G [adsctl-managed]", "ACTIVE").await;
        assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
        let r = env.get(&format!("{}/{id}", env.groups())).await;
        let g = r.ok();
        assert_eq!(g["id"].to_string(), id);
        assert_eq!(g["name"], "G [adsctl-managed]");
        assert_eq!(g["account"], ACCT_URN);
        assert_eq!(g["backfilled"], false);
        assert!(g["changeAuditStamps"]["created"]["time"].is_i64());
    }

    #[tokio::test]
    async fn batch_create_answers_by_index_with_partial_success() {
        let env = start().await;
        let r = env
            .post(
                &env.groups(),
                Some("BATCH_CREATE"),
                json!({"elements": [
                    {"account": ACCT_URN, "name": "a", "status": "DRAFT"},
                    {"account": ACCT_URN, "status": "DRAFT"},
                    {"account": ACCT_URN, "name": "c", "status": "ACTIVE"},
                ]}),
            )
            .await;
        let els = r.ok()["elements"].as_array().unwrap().clone();
        assert_eq!(els.len(), 3);
        assert_eq!(els[0]["status"], 201);
        assert!(els[0]["id"].is_string());
        assert_eq!(els[1]["status"], 400);
        assert_eq!(els[1]["error"]["code"], "MISSING_FIELD");
        assert_eq!(els[2]["status"], 201);
        let r = env
            .post(
                &env.groups(),
                Some("BATCH_CREATE"),
                json!({"elements": [
                    {"account": ACCT_URN, "name": "a", "status": "DRAFT"},
                    {"account": "urn:li:sponsoredAccount:42", "name": "b", "status": "DRAFT"},
                ]}),
            )
            .await;
        assert_eq!(r.err(400), "MULTIPLE_ACCOUNTS_UNSUPPORTED");
        let too_many: Vec<Value> = (0..101)
            .map(|i| json!({"account": ACCT_URN, "name": format!("n{i}"), "status": "DRAFT"}))
            .collect();
        env.post(&env.groups(), Some("BATCH_CREATE"), json!({ "elements": too_many }))
            .await
            .err(400);
    }

    #[tokio::test]
    async fn batch_get_and_search_with_cursor_paging() {
        let env = start().await;
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(
                env.group(&format!("g{i}"), if i % 2 == 0 { "ACTIVE" } else { "DRAFT" })
                    .await,
            );
        }
        let r = env
            .get(&format!("{}?ids=List({},{},1)", env.groups(), ids[0], ids[1]))
            .await;
        let b = r.ok();
        assert_eq!(b["results"][&ids[0]]["name"], "g0");
        assert_eq!(b["statuses"][&ids[1]], 200);
        assert_eq!(b["errors"]["1"]["status"], 404);
        // 6 groups with the default one; pages of 4
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = format!("{}?q=search&pageSize=4", env.groups());
            if let Some(t) = &token {
                q.push_str(&format!("&pageToken={t}"));
            }
            let r = env.get(&q).await;
            for e in r.ok()["elements"].as_array().unwrap() {
                seen.push(e["id"].to_string());
            }
            match r.body["metadata"]["nextPageToken"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 6);
        let r = env
            .get(&format!(
                "{}?q=search&search=(status:(values:List(DRAFT)))",
                env.groups()
            ))
            .await;
        assert_eq!(r.ok()["elements"].as_array().unwrap().len(), 2);
        env.get(&format!("{}?q=search&pageSize=1001", env.groups()))
            .await
            .err(400);
    }

    #[tokio::test]
    async fn partial_update_is_204_and_delete_works_on_drafts_only() {
        let env = start().await;
        let g = env.group("adsctl-lease|runner-1|2026-12-06T10:00:00Z", "DRAFT").await;
        let path = format!("{}/{g}", env.groups());
        env.post(
            &path,
            Some("PARTIAL_UPDATE"),
            json!({"patch": {"$set": {"name": "adsctl-lease|runner-1|2026-12-06T10:10:00Z",
                                      "runSchedule": {"start": now_ms()}, "totalBudget": usd("100")}}}),
        )
        .await
        .no_content();
        let r = env.get(&path).await;
        assert_eq!(r.ok()["name"], "adsctl-lease|runner-1|2026-12-06T10:10:00Z");
        assert_eq!(r.body["totalBudget"], usd("100"));
        env.post(
            &path,
            Some("PARTIAL_UPDATE"),
            json!({"patch": {"$delete": ["totalBudget"]}}),
        )
        .await
        .no_content();
        assert!(env.get(&path).await.ok().get("totalBudget").is_none());
        // nested patches are refused
        env.post(
            &path,
            Some("PARTIAL_UPDATE"),
            json!({"patch": {"runSchedule": {"$set": {"end": 1}}}}),
        )
        .await
        .err(400);
        env.delete(&path).await.no_content();
        assert_eq!(env.get(&path).await.err(404), "NOT_FOUND");
        let active = env.group("A", "ACTIVE").await;
        let r = env.delete(&format!("{}/{active}", env.groups())).await;
        assert_eq!(r.err(400), "DELETE_ALLOWED_ONLY_FOR_DRAFT_STATUS");
        // archived instead
        env.post(
            &format!("{}/{active}", env.groups()),
            Some("PARTIAL_UPDATE"),
            json!({"patch": {"$set": {"status": "ARCHIVED"}}}),
        )
        .await
        .no_content();
    }

    #[tokio::test]
    async fn batch_partial_update_answers_results_and_errors() {
        let env = start().await;
        let a = env.group("a", "ACTIVE").await;
        let b = env.group("b", "ACTIVE").await;
        let r = env
            .post(
                &format!("{}?ids=List({a},{b})", env.groups()),
                Some("BATCH_PARTIAL_UPDATE"),
                json!({"entities": {
                    a.clone(): {"patch": {"$set": {"status": "PAUSED"}}},
                    b.clone(): {"patch": {"$set": {"status": "BOGUS"}}},
                }}),
            )
            .await;
        let body = r.ok();
        assert_eq!(body["results"][&a]["status"], 204);
        assert_eq!(body["errors"][&b]["status"], 400);
        assert_eq!(body["errors"][&b]["code"], "INVALID_ENUM_VALUE");
        assert_eq!(env.get(&format!("{}/{a}", env.groups())).await.ok()["status"], "PAUSED");
        // ids and entities must agree
        env.post(
            &format!("{}?ids=List({a})", env.groups()),
            Some("BATCH_PARTIAL_UPDATE"),
            json!({"entities": {b.clone(): {"patch": {"$set": {"name": "x"}}}}}),
        )
        .await
        .err(400);
    }

    #[tokio::test]
    async fn the_default_group_is_backfilled_and_cannot_be_updated() {
        let env = start().await;
        let r = env
            .get(&format!(
                "{}?q=search&search=(status:(values:List(ACTIVE)))",
                env.groups()
            ))
            .await;
        let els = r.ok()["elements"].as_array().unwrap().clone();
        assert_eq!(els.len(), 1);
        assert_eq!(els[0]["backfilled"], true);
        let id = els[0]["id"].to_string();
        let r = env
            .post(
                &format!("{}/{id}", env.groups()),
                Some("PARTIAL_UPDATE"),
                json!({"patch": {"$set": {"name": "mine"}}}),
            )
            .await;
        assert_eq!(r.err(400), "CANNOT_UPDATE_BACKFILLED_CAMPAIGN_GROUPS");
    }

    #[tokio::test]
    async fn validation_errors_use_the_new_envelope() {
        let env = start().await;
        let r = env
            .post(
                &env.groups(),
                Some("CREATE"),
                json!({"account": ACCT_URN, "status": "DRAFT"}),
            )
            .await;
        assert_eq!(r.err(400), "MISSING_FIELD");
        assert_eq!(r.body["errorDetailType"], "com.linkedin.common.error.BadRequest");
        assert_eq!(
            r.body["errorDetails"]["inputErrors"][0]["input"]["inputPath"]["fieldPath"],
            "name"
        );
        assert_eq!(r.body["errorDetails"]["inputErrors"][0]["code"], "MISSING_FIELD");
        assert!(r.body.get("serviceErrorCode").is_none());
        let r = env
            .post(
                &env.groups(),
                Some("CREATE"),
                json!({"account": ACCT_URN, "status": "PAUSED", "id": 5, "totalBudget": usd("10")}),
            )
            .await;
        assert_eq!(r.err(400), "MULTIPLE_VALIDATIONS_FAILED");
        let codes: Vec<String> = r.body["errorDetails"]["inputErrors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["code"].as_str().unwrap().to_string())
            .collect();
        for c in ["MISSING_FIELD", "READ_ONLY_FIELD", "INVALID_STATUS"] {
            assert!(codes.contains(&c.to_string()), "{codes:?}");
        }
        let r = env
            .post(
                &env.groups(),
                Some("CREATE"),
                json!({"account": ACCT_URN, "name": "x", "status": "DRAFT", "foo": 1}),
            )
            .await;
        assert_eq!(r.err(400), "UNRECOGNIZED_FIELD");
        let long = "x".repeat(256);
        let r = env
            .post(
                &env.groups(),
                Some("CREATE"),
                json!({"account": ACCT_URN, "name": long, "status": "DRAFT"}),
            )
            .await;
        assert_eq!(r.err(400), "FIELD_LENGTH_TOO_LONG");
        assert_eq!(env.get(&format!("{}/1", env.groups())).await.err(404), "NOT_FOUND");
    }
}

mod campaigns {
    use super::*;

    #[tokio::test]
    async fn required_fields_and_campaign_group_when_the_account_has_several_groups() {
        let env = start().await;
        // only the default group: campaignGroup may be left out
        let mut body = campaign_body("0", "c", "PAUSED");
        body.as_object_mut().unwrap().remove("campaignGroup");
        let id = env.post(&env.campaigns(), Some("CREATE"), body.clone()).await.created();
        let c = env.get(&format!("{}/{id}", env.campaigns())).await;
        assert!(c.ok()["campaignGroup"]
            .as_str()
            .unwrap()
            .starts_with("urn:li:sponsoredCampaignGroup:"));
        env.group("second", "ACTIVE").await;
        let r = env.post(&env.campaigns(), Some("CREATE"), body).await;
        assert_eq!(r.err(400), "MISSING_FIELD");
        assert_eq!(
            r.body["errorDetails"]["inputErrors"][0]["input"]["inputPath"]["fieldPath"],
            "campaignGroup"
        );
        for f in [
            "name",
            "type",
            "costType",
            "runSchedule",
            "locale",
            "targetingCriteria",
            "status",
        ] {
            let mut b = campaign_body("0", "c", "PAUSED");
            b.as_object_mut().unwrap().remove(f);
            let r = env.post(&env.campaigns(), Some("CREATE"), b).await;
            r.err(400);
            let paths: Vec<&Value> = r.body["errorDetails"]["inputErrors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| &e["input"]["inputPath"]["fieldPath"])
                .collect();
            assert!(paths.contains(&&json!(f)), "{f}: {}", r.text);
        }
        let mut b = campaign_body("0", "c", "PAUSED");
        b["type"] = json!("BANNER");
        let r = env.post(&env.campaigns(), Some("CREATE"), b).await;
        r.err(400);
        assert!(r.text.contains("INVALID_ENUM_VALUE"));
    }

    #[tokio::test]
    async fn money_is_a_string_amount_in_the_account_currency() {
        let env = start().await;
        let g = env.group("g", "ACTIVE").await;
        let mut b = campaign_body(&g, "c", "PAUSED");
        b["dailyBudget"] = json!({"amount": "50", "currencyCode": "EUR"});
        assert_eq!(env.post(&env.campaigns(), None, b).await.err(400), "CURRENCY_MISMATCH");
        let mut b = campaign_body(&g, "c", "PAUSED");
        b["dailyBudget"] = json!({"amount": 50, "currencyCode": "USD"});
        assert_eq!(
            env.post(&env.campaigns(), None, b).await.err(400),
            "INVALID_FIELD_VALUE"
        );
        let mut b = campaign_body(&g, "c", "PAUSED");
        b["totalBudget"] = usd("20");
        assert_eq!(
            env.post(&env.campaigns(), None, b).await.err(400),
            "FIELD_VALUE_CONDITIONAL_TOO_LOW"
        );
        let mut b = campaign_body(&g, "c", "PAUSED");
        b.as_object_mut().unwrap().remove("dailyBudget");
        assert_eq!(env.post(&env.campaigns(), None, b).await.err(400), "MISSING_FIELD");
        let mut b = campaign_body(&g, "c", "PAUSED");
        b["unitCost"] = usd("0");
        assert_eq!(
            env.post(&env.campaigns(), None, b).await.err(400),
            "FIELD_VALUE_TOO_LOW"
        );
        let mut b = campaign_body(&g, "c", "PAUSED");
        b["dailyBudget"] = usd("12.34");
        let id = env.post(&env.campaigns(), None, b).await.created();
        let c = env.get(&format!("{}/{id}", env.campaigns())).await;
        assert_eq!(c.ok()["dailyBudget"], usd("12.34"));
        // an account in EUR
        env.admin("ad_accounts", json!({"id": "510000010", "currency": "EUR"}))
            .await;
        let mut b = campaign_body("0", "c", "PAUSED");
        b["account"] = json!("urn:li:sponsoredAccount:510000010");
        b.as_object_mut().unwrap().remove("campaignGroup");
        let r = env.post("/rest/adAccounts/510000010/adCampaigns", None, b).await;
        assert_eq!(r.err(400), "MULTIPLE_VALIDATIONS_FAILED");
        assert!(r.text.contains("CURRENCY_MISMATCH"));
    }

    #[tokio::test]
    async fn run_schedule_is_epoch_ms_with_end_after_start() {
        let env = start().await;
        let g = env.group("g", "ACTIVE").await;
        let mut b = campaign_body(&g, "c", "PAUSED");
        let s = now_ms() + 86_400_000;
        b["runSchedule"] = json!({"start": s, "end": s - 1});
        assert_eq!(
            env.post(&env.campaigns(), None, b).await.err(400),
            "START_DATE_AFTER_END_DATE"
        );
        let mut b = campaign_body(&g, "c", "PAUSED");
        b["runSchedule"] = json!({"start": "2026-01-01T00:00:00Z"});
        assert_eq!(
            env.post(&env.campaigns(), None, b).await.err(400),
            "INVALID_FIELD_VALUE"
        );
        let mut b = campaign_body(&g, "c", "PAUSED");
        b["runSchedule"] = json!({"start": s, "end": s + 1000});
        env.post(&env.campaigns(), None, b).await.created();
    }

    #[tokio::test]
    async fn objective_type_is_immutable_and_canceled_is_terminal() {
        let env = start().await;
        let (_, c) = env.tree().await;
        let path = format!("{}/{c}", env.campaigns());
        let r = env
            .post(
                &path,
                Some("PARTIAL_UPDATE"),
                json!({"patch": {"$set": {"objectiveType": "ENGAGEMENT"}}}),
            )
            .await;
        assert_eq!(r.err(400), "IMMUTABLE_CAMPAIGN_OBJECTIVE_TYPE");
        env.post(
            &path,
            Some("PARTIAL_UPDATE"),
            json!({"patch": {"$set": {"name": "renamed [adsctl-managed]", "status": "PAUSED"}}}),
        )
        .await
        .no_content();
        let r = env
            .post(
                &path,
                Some("PARTIAL_UPDATE"),
                json!({"patch": {"$set": {"status": "DRAFT"}}}),
            )
            .await;
        assert_eq!(r.err(400), "INVALID_STATUS");
        env.post(
            &path,
            Some("PARTIAL_UPDATE"),
            json!({"patch": {"$set": {"status": "CANCELED"}}}),
        )
        .await
        .no_content();
        let r = env
            .post(
                &path,
                Some("PARTIAL_UPDATE"),
                json!({"patch": {"$set": {"status": "ACTIVE"}}}),
            )
            .await;
        assert_eq!(r.err(400), "ACTION_NOT_ALLOWED_FOR_CANCELLED_STATUS");
        let r = env
            .post(
                &path,
                Some("PARTIAL_UPDATE"),
                json!({"patch": {"$set": {"status": "COMPLETED"}}}),
            )
            .await;
        assert_eq!(r.err(400), "ACTION_NOT_ALLOWED_FOR_CANCELLED_STATUS");
    }

    #[tokio::test]
    async fn draft_groups_hold_only_draft_campaigns() {
        let env = start().await;
        let g = env.group("d", "DRAFT").await;
        let r = env.post(&env.campaigns(), None, campaign_body(&g, "c", "ACTIVE")).await;
        assert_eq!(r.err(400), "ONLY_DRAFT_CAMPAIGNS_ALLOWED_IN_DRAFT_CAMPAIGN_GROUPS");
        let c = env.campaign(&g, "c", "DRAFT").await;
        let r = env
            .post(
                &format!("{}/{c}", env.campaigns()),
                Some("PARTIAL_UPDATE"),
                json!({"patch": {"$set": {"status": "PAUSED"}}}),
            )
            .await;
        assert_eq!(r.err(400), "ONLY_DRAFT_CAMPAIGNS_ALLOWED_IN_DRAFT_CAMPAIGN_GROUPS");
        // groups are created ACTIVE or DRAFT
        let r = env
            .post(
                &env.groups(),
                None,
                json!({"account": ACCT_URN, "name": "p", "status": "PAUSED"}),
            )
            .await;
        assert_eq!(r.err(400), "INVALID_STATUS");
        // launching the group lets its campaigns go live; deleting a draft group takes its drafts with it
        let g2 = env.group("d2", "DRAFT").await;
        let c2 = env.campaign(&g2, "c2", "DRAFT").await;
        env.delete(&format!("{}/{g2}", env.groups())).await.no_content();
        env.get(&format!("{}/{c2}", env.campaigns())).await.err(404);
        env.post(
            &format!("{}/{g}", env.groups()),
            Some("PARTIAL_UPDATE"),
            json!({"patch": {"$set": {"status": "ACTIVE"}}}),
        )
        .await
        .no_content();
        env.post(
            &format!("{}/{c}", env.campaigns()),
            Some("PARTIAL_UPDATE"),
            json!({"patch": {"$set": {"status": "ACTIVE"}}}),
        )
        .await
        .no_content();
    }

    #[tokio::test]
    async fn campaign_limits_per_account_active_and_group() {
        let env = start().await;
        let g = env.group("g", "ACTIVE").await;
        env.admin(
            "objects",
            json!({"kind": "campaign", "count": 1000, "fields": {"status": "ACTIVE"}}),
        )
        .await;
        let r = env.post(&env.campaigns(), None, campaign_body(&g, "c", "ACTIVE")).await;
        assert_eq!(r.err(400), "MAX_ACTIVE_CAMPAIGNS_PER_ACCOUNT_EXCEEDED");
        let paused = env.campaign(&g, "p", "PAUSED").await;
        let r = env
            .post(
                &format!("{}/{paused}", env.campaigns()),
                Some("PARTIAL_UPDATE"),
                json!({"patch": {"$set": {"status": "ACTIVE"}}}),
            )
            .await;
        assert_eq!(r.err(400), "MAX_ACTIVE_CAMPAIGNS_PER_ACCOUNT_EXCEEDED");
        env.admin(
            "objects",
            json!({"kind": "campaign", "count": 1999, "fields": {"campaignGroup": group_urn(&g)}}),
        )
        .await;
        let r = env.post(&env.campaigns(), None, campaign_body(&g, "c", "PAUSED")).await;
        assert_eq!(r.err(400), "MAX_CAMPAIGNS_PER_CAMPAIGN_GROUP_EXCEEDED");
        // 3000 campaigns so far; 2000 more in the default group reach 5000
        env.admin("objects", json!({"kind": "campaign", "count": 2000})).await;
        let g2 = env.group("g2", "ACTIVE").await;
        let r = env
            .post(&env.campaigns(), None, campaign_body(&g2, "c", "PAUSED"))
            .await;
        assert_eq!(r.err(400), "MAX_CAMPAIGNS_PER_ACCOUNT_EXCEEDED");
    }

    #[tokio::test]
    async fn search_filters_group_status_and_type() {
        let env = start().await;
        let g = env.group("g", "ACTIVE").await;
        let a = env.campaign(&g, "a", "ACTIVE").await;
        let p = env.campaign(&g, "p", "PAUSED").await;
        let mut t = campaign_body(&g, "t", "PAUSED");
        t["type"] = json!("TEXT_AD");
        let t = env.post(&env.campaigns(), None, t).await.created();
        let q = |s: &str| format!("{}?q=search&search={s}", env.campaigns());
        let ids = |r: &Resp| -> Vec<String> {
            r.ok()["elements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].to_string())
                .collect()
        };
        let r = env.get(&q("(status:(values:List(ACTIVE)))")).await;
        assert_eq!(ids(&r), vec![a.clone()]);
        let r = env.get(&q("(type:(values:List(TEXT_AD)))")).await;
        assert_eq!(ids(&r), vec![t.clone()]);
        let r = env
            .get(&q(&format!(
                "(campaignGroup:(values:List({})),status:(values:List(PAUSED)))",
                enc(&group_urn(&g))
            )))
            .await;
        assert_eq!(ids(&r), vec![p, t]);
        let r = env.get(&format!("{}?ids=List({a})", env.campaigns())).await;
        assert_eq!(r.ok()["results"][&a]["name"], "a");
    }

    #[tokio::test]
    async fn campaigns_are_deleted_in_draft_only() {
        let env = start().await;
        let g = env.group("g", "DRAFT").await;
        let d = env.campaign(&g, "d", "DRAFT").await;
        env.delete(&format!("{}/{d}", env.campaigns())).await.no_content();
        let (_, c) = env.tree().await;
        let r = env.delete(&format!("{}/{c}", env.campaigns())).await;
        assert_eq!(r.err(400), "DELETE_ALLOWED_ONLY_FOR_DRAFT_STATUS");
    }
}

mod creatives {
    use super::*;

    #[tokio::test]
    async fn creative_keys_are_urns_percent_encoded_in_paths() {
        let env = start().await;
        let (_, c) = env.tree().await;
        let urn = env.creative(&c, "ACTIVE").await;
        assert!(urn.starts_with("urn:li:sponsoredCreative:"), "{urn}");
        let r = env.get(&format!("{}/{}", env.creatives(), enc(&urn))).await;
        let cr = r.ok();
        assert_eq!(cr["id"], json!(urn));
        assert_eq!(cr["name"], "Creative [adsctl-managed]");
        assert_eq!(cr["account"], ACCT_URN);
        assert_eq!(cr["campaign"], json!(campaign_urn(&c)));
        assert_eq!(cr["isServing"], true);
        assert_eq!(cr["review"]["status"], "APPROVED");
        // unencoded URN or a bare number: not a key
        env.get(&format!("{}/{urn}", env.creatives())).await.err(400);
        let n = urn.rsplit(':').next().unwrap();
        env.get(&format!("{}/{n}", env.creatives())).await.err(400);
        // creatives answer in the classic envelope
        let r = env
            .get(&format!("{}/{}", env.creatives(), enc("urn:li:sponsoredCreative:1")))
            .await;
        assert_eq!(r.err(404), "");
        assert_eq!(r.body["serviceErrorCode"], 404);
    }

    #[tokio::test]
    async fn batch_create_and_the_criteria_finder() {
        let env = start().await;
        let (_, c) = env.tree().await;
        let (_, c2) = env.tree().await;
        let r = env
            .post(
                &env.creatives(),
                Some("BATCH_CREATE"),
                json!({"elements": [
                    {"campaign": campaign_urn(&c), "content": {"reference": "urn:li:share:1"}, "intendedStatus": "ACTIVE"},
                    {"campaign": campaign_urn(&c), "content": {"reference": "urn:li:share:2"}, "intendedStatus": "PAUSED"},
                    {"campaign": campaign_urn(&c2), "content": {"reference": "urn:li:share:3"}, "intendedStatus": "ACTIVE"},
                    {"campaign": campaign_urn(&c2), "content": {}, "intendedStatus": "ACTIVE"},
                ]}),
            )
            .await;
        let els = r.ok()["elements"].as_array().unwrap().clone();
        assert_eq!(
            els.iter().map(|e| e["status"].as_i64().unwrap()).collect::<Vec<_>>(),
            vec![201, 201, 201, 400]
        );
        assert!(els[0]["id"].as_str().unwrap().starts_with("urn:li:sponsoredCreative:"));
        assert!(els[3]["error"].get("code").is_none(), "classic envelope: {}", els[3]);
        let r = env
            .send(
                env.rb(
                    reqwest::Method::GET,
                    &format!(
                        "{}?q=criteria&campaigns=List({})&intendedStatuses=List(ACTIVE)&pageSize=10",
                        env.creatives(),
                        enc(&campaign_urn(&c))
                    ),
                )
                .header("X-RestLi-Method", "FINDER"),
            )
            .await;
        let els = r.ok()["elements"].as_array().unwrap().clone();
        assert_eq!(els.len(), 1);
        let r = env
            .get(&format!(
                "{}?q=criteria&campaigns=List({},{})&pageSize=2",
                env.creatives(),
                enc(&campaign_urn(&c)),
                enc(&campaign_urn(&c2))
            ))
            .await;
        assert_eq!(r.ok()["elements"].as_array().unwrap().len(), 2);
        let t = r.body["metadata"]["nextPageToken"].as_str().unwrap().to_string();
        let r = env
            .get(&format!(
                "{}?q=criteria&campaigns=List({},{})&pageSize=2&pageToken={t}",
                env.creatives(),
                enc(&campaign_urn(&c)),
                enc(&campaign_urn(&c2))
            ))
            .await;
        assert_eq!(r.ok()["elements"].as_array().unwrap().len(), 1);
        assert!(r.body["metadata"].get("nextPageToken").is_none());
        env.get(&format!("{}?q=search", env.creatives())).await.err(400);
    }

    #[tokio::test]
    async fn partial_update_takes_status_name_and_call_to_action_only() {
        let env = start().await;
        let (_, c) = env.tree().await;
        let urn = env.creative(&c, "ACTIVE").await;
        let path = format!("{}/{}", env.creatives(), enc(&urn));
        env.post(
            &path,
            Some("PARTIAL_UPDATE"),
            json!({"patch": {"$set": {"intendedStatus": "PAUSED", "name": "New [adsctl-managed]",
                   "leadgenCallToAction": {"destination": "urn:li:adForm:1", "label": "SIGN_UP"}}}}),
        )
        .await
        .no_content();
        let r = env.get(&path).await;
        assert_eq!(r.ok()["intendedStatus"], "PAUSED");
        assert_eq!(r.body["name"], "New [adsctl-managed]");
        assert_eq!(r.body["isServing"], false);
        let r = env
            .post(
                &path,
                Some("PARTIAL_UPDATE"),
                json!({"patch": {"$set": {"content": {"reference": "urn:li:share:9"}}}}),
            )
            .await;
        r.err(400);
        assert!(r.msg().contains("content"), "{}", r.text);
        let r = env
            .post(
                &path,
                Some("PARTIAL_UPDATE"),
                json!({"patch": {"$set": {"isServing": true}}}),
            )
            .await;
        r.err(400);
    }

    #[tokio::test]
    async fn creative_limits_per_campaign_and_account() {
        let env = start().await;
        let (_, c) = env.tree().await;
        env.admin(
            "objects",
            json!({"kind": "creative", "count": 15, "fields": {"campaign": campaign_urn(&c), "intendedStatus": "ACTIVE"}}),
        )
        .await;
        let r = env
            .post(&env.creatives(), None, json!({"campaign": campaign_urn(&c), "content": {"reference": "urn:li:share:1"}, "intendedStatus": "ACTIVE"}))
            .await;
        r.err(400);
        assert!(r.msg().contains("15 active"), "{}", r.text);
        env.admin(
            "objects",
            json!({"kind": "creative", "count": 85, "fields": {"campaign": campaign_urn(&c), "intendedStatus": "PAUSED"}}),
        )
        .await;
        let r = env
            .post(&env.creatives(), None, json!({"campaign": campaign_urn(&c), "content": {"reference": "urn:li:share:1"}, "intendedStatus": "PAUSED"}))
            .await;
        r.err(400);
        assert!(r.msg().contains("85 inactive"), "{}", r.text);
        // 15,000 per account (100 so far)
        env.admin("objects", json!({"kind": "creative", "count": 14_900})).await;
        let (_, c2) = env.tree().await;
        let r = env
            .post(
                &env.creatives(),
                None,
                json!({"campaign": campaign_urn(&c2), "content": {"reference": "urn:li:share:1"}, "intendedStatus": "PAUSED"}),
            )
            .await;
        r.err(400);
        assert!(r.msg().contains("15000 creatives"), "{}", r.text);
    }

    #[tokio::test]
    async fn creatives_are_deleted_in_draft_only() {
        let env = start().await;
        let (_, c) = env.tree().await;
        let d = env.creative(&c, "DRAFT").await;
        env.delete(&format!("{}/{}", env.creatives(), enc(&d)))
            .await
            .no_content();
        let a = env.creative(&c, "ACTIVE").await;
        let r = env.delete(&format!("{}/{}", env.creatives(), enc(&a))).await;
        r.err(400);
        assert!(r.msg().starts_with("Only DRAFT"), "{}", r.text);
    }
}

mod dmp {
    use super::*;

    #[tokio::test]
    async fn segments_create_find_get_update_delete() {
        let env = start().await;
        let id = env.segment("Customers").await;
        let r = env.get(&format!("/rest/dmpSegments/{id}")).await;
        let s = r.ok();
        assert_eq!(s["destinations"][0]["destination"], "LINKEDIN");
        assert_eq!(
            s["destinations"][0]["destinationSegmentId"],
            json!(format!("urn:li:adSegment:{id}"))
        );
        assert_eq!(s["description"], "list [adsctl-managed]");
        let r = env
            .get(&format!(
                "/rest/dmpSegments?q=account&account={}&start=0&count=5",
                enc(ACCT_URN)
            ))
            .await;
        assert_eq!(r.ok()["elements"].as_array().unwrap().len(), 1);
        assert_eq!(r.body["paging"]["total"], 1);
        env.post(
            &format!("/rest/dmpSegments/{id}"),
            Some("PARTIAL_UPDATE"),
            json!({"patch": {"$set": {"description": "list [adsctl-managed:0123456789abcdef]"}}}),
        )
        .await
        .no_content();
        let r = env
            .post(
                &format!("/rest/dmpSegments/{id}"),
                Some("PARTIAL_UPDATE"),
                json!({"patch": {"$set": {"type": "COMPANY"}}}),
            )
            .await;
        assert_eq!(r.err(400), "");
        let r = env
            .post(
                "/rest/dmpSegments",
                None,
                json!({"account": ACCT_URN, "name": "x", "sourcePlatform": "LIST_UPLOAD", "type": "USER"}),
            )
            .await;
        r.err(400);
        env.delete(&format!("/rest/dmpSegments/{id}")).await.no_content();
        env.get(&format!("/rest/dmpSegments/{id}")).await.err(404);
    }

    #[tokio::test]
    async fn companies_go_to_company_segments_and_users_to_user_segments() {
        let env = start().await;
        env.admin("config", json!({"segment_user_wait_ms": 0})).await;
        let users_id = env.segment("Customers").await;
        let id = env
            .post(
                "/rest/dmpSegments",
                Some("CREATE"),
                json!({"account": ACCT_URN, "name": "Target accounts", "destinations": [{"destination": "LINKEDIN"}],
                       "sourcePlatform": "LIST_UPLOAD", "type": "COMPANY", "accessPolicy": "PRIVATE"}),
            )
            .await
            .created();
        let companies = format!("/rest/dmpSegments/{id}/companies");
        // the sub-resource of the other kind is refused
        let r = env
            .post(
                &format!("/rest/dmpSegments/{users_id}/companies"),
                Some("BATCH_CREATE"),
                json!({"elements": [{"action": "ADD", "companyName": "Contoso"}]}),
            )
            .await;
        r.err(400);
        assert!(r.msg().contains("is a user segment"), "{}", r.text);
        let r = env
            .post(
                &format!("/rest/dmpSegments/{id}/users"),
                Some("BATCH_CREATE"),
                json!({"elements": [{"action": "ADD", "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha(1)}]}]}),
            )
            .await;
        r.err(400);
        assert!(r.msg().contains("is a company segment"), "{}", r.text);
        env.post(&companies, None, json!({"elements": []})).await.err(400);
        let r = env
            .post(
                &companies,
                Some("BATCH_CREATE"),
                json!({"elements": [
                    {"action": "ADD", "companyName": "Contoso", "companyWebsiteDomain": "contoso.com"},
                    {"action": "ADD", "companyWebsiteDomain": "fabrikam.com"},
                    {"action": "ADD"},
                    {"action": "ADD", "companyName": "X", "ticker": "X"},
                ]}),
            )
            .await;
        let els = r.ok()["elements"].as_array().unwrap().clone();
        assert_eq!(els[0]["status"], 201);
        assert_eq!(els[1]["status"], 201);
        assert_eq!(els[2]["status"], 400, "names no company");
        assert_eq!(els[3]["status"], 400, "an unknown field");
        let m = env.admin_get(&format!("linkedin/dmp_segments/{id}/members")).await;
        assert_eq!(m["count"], 2, "{m}");
        env.post(
            &companies,
            Some("BATCH_CREATE"),
            json!({"elements": [{"action": "REMOVE", "companyWebsiteDomain": "fabrikam.com"}]}),
        )
        .await
        .ok();
        let m = env.admin_get(&format!("linkedin/dmp_segments/{id}/members")).await;
        assert_eq!(m["count"], 1, "{m}");
    }

    #[tokio::test]
    async fn users_wait_after_create_hashes_are_checked_and_members_are_kept() {
        let env = start().await;
        env.admin("config", json!({"segment_user_wait_ms": 300})).await;
        let id = env.segment("Customers").await;
        let users = format!("/rest/dmpSegments/{id}/users");
        let add = |hashes: Vec<String>, action: &str| json!({"elements": [{"action": action, "userIds": hashes.into_iter().map(|h| json!({"idType": "SHA256_EMAIL", "idValue": h})).collect::<Vec<_>>()}]});
        let r = env.post(&users, Some("BATCH_CREATE"), add(vec![sha(1)], "ADD")).await;
        r.err(404);
        assert!(r.msg().contains("wait"), "{}", r.text);
        tokio::time::sleep(Duration::from_millis(350)).await;
        env.post(&users, None, add(vec![sha(1)], "ADD")).await.err(400);
        let r = env
            .post(&users, Some("BATCH_CREATE"), add(vec![sha(1), sha(2), sha(3)], "ADD"))
            .await;
        assert_eq!(r.ok()["elements"][0]["status"], 201);
        let r = env
            .post(
                &users,
                Some("BATCH_CREATE"),
                json!({"elements": [
                    {"action": "REMOVE", "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha(2)}]},
                    {"action": "ADD", "userIds": [{"idType": "SHA256_EMAIL", "idValue": "alice@example.com"}]},
                    {"action": "UPSERT", "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha(4)}]},
                ]}),
            )
            .await;
        let els = r.ok()["elements"].as_array().unwrap().clone();
        assert_eq!(els[0]["status"], 201);
        assert_eq!(els[1]["status"], 400);
        assert_eq!(els[2]["status"], 400);
        let m = env.admin_get(&format!("linkedin/dmp_segments/{id}/members")).await;
        assert_eq!(m["count"], 2);
        assert_eq!(
            m["members"],
            json!([sha(1), sha(3)]
                .iter()
                .cloned()
                .collect::<std::collections::BTreeSet<_>>())
        );
        assert_eq!(env.li.segment_members(id.parse().unwrap()).unwrap().len(), 2);
        let r = env.get(&format!("/rest/dmpSegments/{id}")).await;
        assert_eq!(r.ok()["matchedCount"], 2);
    }

    #[tokio::test]
    async fn a_thousand_segments_per_account_then_429_segment_limit_exceeded() {
        let env = start().await;
        env.admin("objects", json!({"kind": "dmp_segment", "count": 1000}))
            .await;
        let r = env
            .post(
                "/rest/dmpSegments",
                None,
                json!({"account": ACCT_URN, "name": "one more", "destinations": [{"destination": "LINKEDIN"}],
                       "sourcePlatform": "LIST_UPLOAD", "type": "USER"}),
            )
            .await;
        assert_eq!(r.err(429), "SEGMENT_LIMIT_EXCEEDED");
        assert!(r.header("retry-after").is_none());
    }
}

mod analytics {
    use super::*;

    fn today() -> (i32, u32, u32) {
        use chrono::Datelike;
        let d = chrono::Utc::now().date_naive();
        (d.year(), d.month(), d.day())
    }

    fn range() -> String {
        let (y, m, d) = today();
        let s = chrono::Utc::now().date_naive() - chrono::Duration::days(3);
        use chrono::Datelike;
        format!(
            "(start:(year:{},month:{},day:{}),end:(year:{y},month:{m},day:{d}))",
            s.year(),
            s.month(),
            s.day()
        )
    }

    #[tokio::test]
    async fn rows_are_deterministic_with_counts_as_numbers_and_money_as_strings() {
        let env = start().await;
        let (_, c) = env.tree().await;
        env.creative(&c, "ACTIVE").await;
        env.creative(&c, "ACTIVE").await;
        // a creative made "3 days ago" through the admin API shows days of activity
        let url = |pivot: &str, gran: &str| {
            format!(
                "/rest/adAnalytics?q=analytics&pivot={pivot}&timeGranularity={gran}&dateRange={}&campaigns=List({})&fields=dateRange,pivotValues,impressions,clicks,costInLocalCurrency",
                range(),
                enc(&campaign_urn(&c))
            )
        };
        let r = env.get(&url("CAMPAIGN", "DAILY")).await;
        let els = r.ok()["elements"].as_array().unwrap().clone();
        assert_eq!(els.len(), 1, "created today: one day: {}", r.text);
        let row = &els[0];
        assert_eq!(row["pivotValues"], json!([campaign_urn(&c)]));
        assert!(row["impressions"].is_u64());
        assert!(row["clicks"].is_u64());
        assert!(row["costInLocalCurrency"].is_string());
        // the bare and the (value:…) forms are the same query; the same numbers every time
        let again = env.get(&url("(value:CAMPAIGN)", "(value:DAILY)")).await;
        assert_eq!(again.ok()["elements"], r.body["elements"]);
        // per creative, the campaign is the sum
        let r = env.get(&url("CREATIVE", "ALL")).await;
        let els = r.ok()["elements"].as_array().unwrap().clone();
        assert_eq!(els.len(), 2);
        let sum: u64 = els.iter().map(|e| e["impressions"].as_u64().unwrap()).sum();
        assert_eq!(sum, row["impressions"].as_u64().unwrap());
        assert!(r.body["paging"].is_object());
        // no activity: empty elements
        let r = env
            .get(&format!(
                "/rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&dateRange=(start:(year:2020,month:1,day:1),end:(year:2020,month:1,day:31))&campaigns=List({})&fields=impressions",
                enc(&campaign_urn(&c))
            ))
            .await;
        assert_eq!(r.ok()["elements"], json!([]));
        let r = env
            .get(&format!(
                "/rest/adAnalytics?q=analytics&pivot=ACCOUNT&timeGranularity=ALL&dateRange={}&accounts=List({})&fields=impressions,pivotValues",
                range(),
                enc(ACCT_URN)
            ))
            .await;
        assert_eq!(r.ok()["elements"][0]["impressions"], row["impressions"]);
    }

    #[tokio::test]
    async fn analytics_parameters_are_checked() {
        let env = start().await;
        let (_, c) = env.tree().await;
        let facet = format!("campaigns=List({})", enc(&campaign_urn(&c)));
        let base = format!("q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&dateRange={}", range());
        let many: Vec<String> = (0..21)
            .map(|i| ["impressions", "clicks", "likes"][i % 3].to_string())
            .collect();
        for q in [
            format!("{base}&{facet}&fields={}", many.join(",")),
            format!("{base}&fields=impressions"),
            format!("{base}&{facet}"),
            format!("{base}&{facet}&fields=bogus"),
            format!("q=analytics&pivot=MEMBER_INDUSTRY&timeGranularity=DAILY&dateRange={}&{facet}&fields=impressions", range()),
            format!("q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&{facet}&fields=impressions"),
            format!("q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&dateRange=(start:(year:2026,month:2,day:30))&{facet}&fields=impressions"),
            format!("q=statistics&pivots=List(CAMPAIGN)&timeGranularity=DAILY&dateRange={}&{facet}&fields=impressions", range()),
            format!("{base}&campaigns=List(urn:li:sponsoredCampaign:1)&fields=impressions"),
        ] {
            let r = env.get(&format!("/rest/adAnalytics?{q}")).await;
            assert_eq!(r.status, 400, "{q}: {}", r.text);
        }
        // 20 fields is fine
        let r = env
            .get(&format!(
                "/rest/adAnalytics?{base}&{facet}&fields={}",
                many[..20].join(",")
            ))
            .await;
        r.ok();
        // reporting needs r_ads_reporting
        let t = env.admin("tokens", json!({"scope": "r_ads rw_ads"})).await;
        let r = env
            .send(env.rb_as(
                reqwest::Method::GET,
                &format!("/rest/adAnalytics?{base}&{facet}&fields=impressions"),
                VERSION,
                t["access_token"].as_str().unwrap(),
            ))
            .await;
        r.err(403);
    }
}

mod oauth {
    use super::*;

    async fn token(env: &Env, form: &[(&str, &str)]) -> Resp {
        env.send(env.http.post(env.url("/oauth/v2/accessToken")).form(form))
            .await
    }

    #[tokio::test]
    async fn authorization_code_flow_and_refresh_tokens_that_keep_their_expiry() {
        let env = start().await;
        let redirect = "http://127.0.0.1:9/cb";
        let r = env
            .http
            .get(env.url("/oauth/v2/authorization"))
            .query(&[
                ("response_type", "code"),
                ("client_id", LINKEDIN_CLIENT_ID),
                ("redirect_uri", redirect),
                ("state", "xyz"),
                ("scope", "r_ads rw_ads r_ads_reporting rw_dmp_segments"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 302);
        let loc = reqwest::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        let q: std::collections::HashMap<String, String> = loc.query_pairs().into_owned().collect();
        assert_eq!(q["state"], "xyz");
        let code = q["code"].clone();
        let r = token(
            &env,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", LINKEDIN_CLIENT_ID),
                ("client_secret", LINKEDIN_CLIENT_SECRET),
                ("redirect_uri", redirect),
            ],
        )
        .await;
        let t = r.ok().clone();
        assert_eq!(t["expires_in"], 5_184_000);
        assert_eq!(t["refresh_token_expires_in"], 31_536_000);
        let access = t["access_token"].as_str().unwrap().to_string();
        let refresh = t["refresh_token"].as_str().unwrap().to_string();
        // the code is single use
        let r = token(
            &env,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", LINKEDIN_CLIENT_ID),
                ("client_secret", LINKEDIN_CLIENT_SECRET),
                ("redirect_uri", redirect),
            ],
        )
        .await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body["error"], "invalid_grant");
        // the token works on the API
        let r = env
            .send(env.rb_as(
                reqwest::Method::GET,
                &format!("/rest/adAccounts/{ACCT}"),
                VERSION,
                &access,
            ))
            .await;
        r.ok();
        // 100 days later the access token is dead; a refresh gives a new one, the refresh token keeps its expiry
        env.admin("clock", json!({"advance_secs": 100 * 86_400})).await;
        let r = env
            .send(env.rb_as(
                reqwest::Method::GET,
                &format!("/rest/adAccounts/{ACCT}"),
                VERSION,
                &access,
            ))
            .await;
        r.err(401);
        let refresh_form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", LINKEDIN_CLIENT_ID),
            ("client_secret", LINKEDIN_CLIENT_SECRET),
        ];
        let r = token(&env, &refresh_form).await;
        let t2 = r.ok().clone();
        let left = t2["refresh_token_expires_in"].as_i64().unwrap();
        assert!(
            (31_536_000 - 100 * 86_400 - 5..=31_536_000 - 100 * 86_400).contains(&left),
            "{left}"
        );
        assert_eq!(t2["expires_in"], 5_184_000);
        // on day 360 the access token lives only as long as the refresh token
        env.admin("clock", json!({"advance_secs": 260 * 86_400})).await;
        let t3 = token(&env, &refresh_form).await.ok().clone();
        let e = t3["expires_in"].as_i64().unwrap();
        assert!((5 * 86_400 - 5..=5 * 86_400).contains(&e), "{e}");
        env.admin("clock", json!({"advance_secs": 6 * 86_400})).await;
        let r = token(&env, &refresh_form).await;
        assert_eq!(r.body["error"], "invalid_grant");
        // wrong secret
        let r = token(
            &env,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", LINKEDIN_REFRESH_TOKEN),
                ("client_id", LINKEDIN_CLIENT_ID),
                ("client_secret", "wrong"),
            ],
        )
        .await;
        assert_eq!(r.status, 401);
        assert_eq!(r.body["error"], "invalid_client");
    }

    #[tokio::test]
    async fn the_well_known_refresh_token_and_introspection() {
        let env = start().await;
        let r = token(
            &env,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", LINKEDIN_REFRESH_TOKEN),
                ("client_id", LINKEDIN_CLIENT_ID),
                ("client_secret", LINKEDIN_CLIENT_SECRET),
            ],
        )
        .await;
        let access = r.ok()["access_token"].as_str().unwrap().to_string();
        assert_eq!(r.body["refresh_token"], LINKEDIN_REFRESH_TOKEN);
        let intro = |tok: String| {
            env.http.post(env.url("/oauth/v2/introspectToken")).form(&[
                ("client_id", LINKEDIN_CLIENT_ID.to_string()),
                ("client_secret", LINKEDIN_CLIENT_SECRET.to_string()),
                ("token", tok),
            ])
        };
        let r = env.send(intro(access)).await;
        let b = r.ok();
        assert_eq!(b["active"], true);
        assert_eq!(b["status"], "active");
        assert_eq!(b["auth_type"], "3L");
        assert!(b["expires_at"].is_i64());
        let r = env.send(intro("nope".into())).await;
        assert_eq!(r.ok()["active"], false);
        // an unknown scope comes back as an error on the redirect
        let r = env
            .http
            .get(env.url("/oauth/v2/authorization"))
            .query(&[
                ("response_type", "code"),
                ("client_id", LINKEDIN_CLIENT_ID),
                ("redirect_uri", "http://localhost:9/cb"),
                ("scope", "w_everything"),
            ])
            .send()
            .await
            .unwrap();
        assert!(r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=invalid_scope"));
    }
}

mod limits_and_faults {
    use super::*;

    #[tokio::test]
    async fn daily_calls_per_endpoint_then_429_without_retry_after() {
        let mut cfg = EmulatorConfig::default();
        cfg.rate_limits.linkedin.daily_calls_per_app_endpoint = Some(3);
        let env = start_with(cfg).await;
        for _ in 0..3 {
            env.get(&format!("/rest/adAccounts/{ACCT}")).await.ok();
        }
        let r = env.get(&format!("/rest/adAccounts/{ACCT}")).await;
        r.err(429);
        assert_eq!(
            r.msg(),
            "Resource level throttle limit for calls to this resource is reached"
        );
        assert!(r.header("retry-after").is_none());
        // another endpoint has its own counter; the next UTC day starts over
        env.get(&format!("{}?q=search", env.groups())).await.ok();
        env.admin("clock", json!({"advance_secs": 86_400})).await;
        env.get(&format!("/rest/adAccounts/{ACCT}")).await.ok();
        // the member counter, set at run time
        env.admin(
            "config",
            json!({"daily_calls_per_app_endpoint": 0, "daily_calls_per_member_endpoint": 1}),
        )
        .await;
        env.get(&format!("{}?q=search", env.campaigns())).await.ok();
        env.get(&format!("{}?q=search", env.campaigns())).await.err(429);
    }

    #[tokio::test]
    async fn injected_faults_are_linkedin_errors_and_lost_responses_commit() {
        let env = start().await;
        let set = |spec: Value| {
            let http = env.http.clone();
            let url = env.url("/_emulator/faults");
            async move { http.post(url).json(&spec).send().await.unwrap() }
        };
        set(json!({"5xx": 1.0})).await;
        let r = env.get(&format!("/rest/adAccounts/{ACCT}")).await;
        assert_eq!(
            r.body,
            json!({"status": 500, "serviceErrorCode": 500, "message": "Internal Server Error"})
        );
        set(json!({"429": 1.0})).await;
        let r = env.get(&format!("/rest/adAccounts/{ACCT}")).await;
        r.err(429);
        assert!(r.header("retry-after").is_none());
        set(json!({"lost": 1.0})).await;
        let lost = env
            .rb(reqwest::Method::POST, &env.groups())
            .header("Content-Type", "application/json")
            .body(json!({"account": ACCT_URN, "name": "lost one", "status": "DRAFT"}).to_string())
            .send()
            .await;
        assert!(lost.is_err());
        set(json!({})).await;
        let r = env
            .get(&format!(
                "{}?q=search&search=(name:(values:List(lost%20one)))",
                env.groups()
            ))
            .await;
        assert_eq!(r.ok()["elements"].as_array().unwrap().len(), 1, "the write committed");
        // read lag: a fresh write is seen in its previous version
        let g = env.group("before", "DRAFT").await;
        env.admin("config", json!({"read_lag_ms": 60_000})).await;
        env.post(
            &format!("{}/{g}", env.groups()),
            Some("PARTIAL_UPDATE"),
            json!({"patch": {"$set": {"name": "after"}}}),
        )
        .await
        .no_content();
        set(json!({"lag": 1.0})).await;
        assert_eq!(env.get(&format!("{}/{g}", env.groups())).await.ok()["name"], "before");
        set(json!({})).await;
        assert_eq!(env.get(&format!("{}/{g}", env.groups())).await.ok()["name"], "after");
    }

    #[tokio::test]
    async fn requests_are_counted_per_endpoint_and_restli_method() {
        let env = start().await;
        env.post(
            &env.groups(),
            Some("BATCH_CREATE"),
            json!({"elements": [{"account": ACCT_URN, "name": "a", "status": "DRAFT"}, {"account": ACCT_URN, "name": "b", "status": "DRAFT"}]}),
        )
        .await
        .ok();
        env.get(&format!("{}?q=search", env.groups())).await.ok();
        env.get(&format!("{}?q=search", env.groups())).await.ok();
        let c = env.admin_get("requests").await;
        let e = &c["endpoints"];
        let bc = &e["POST /rest/adAccounts/{accountId}/adCampaignGroups BATCH_CREATE"];
        assert_eq!(bc["requests"], 1, "{c}");
        assert_eq!(bc["operations"], 2);
        assert_eq!(
            e["GET /rest/adAccounts/{accountId}/adCampaignGroups FINDER"]["requests"], 2,
            "{c}"
        );
    }
}

mod admin {
    use super::*;

    #[tokio::test]
    async fn foreign_objects_are_made_and_read_through_the_admin_api() {
        let env = start().await;
        let r = env
            .admin(
                "objects",
                json!({"kind": "campaign_group", "fields": {"name": "Theirs", "status": "ACTIVE"}}),
            )
            .await;
        let id = r["ids"][0].as_str().unwrap().to_string();
        let g = env.get(&format!("{}/{id}", env.groups())).await;
        assert_eq!(g.ok()["name"], "Theirs");
        let o = env.admin_get(&format!("linkedin/objects/{id}")).await;
        assert_eq!(o["_emulator"]["foreign"], true);
        env.admin(&format!("objects/{id}"), json!({"name": "Changed behind your back"}))
            .await;
        assert_eq!(
            env.get(&format!("{}/{id}", env.groups())).await.ok()["name"],
            "Changed behind your back"
        );
        let (_, c) = env.tree().await;
        let cr = env
            .admin(
                "objects",
                json!({"kind": "creative", "fields": {"campaign": campaign_urn(&c)}}),
            )
            .await;
        let urn = cr["ids"][0].as_str().unwrap().to_string();
        assert!(urn.starts_with("urn:li:sponsoredCreative:"));
        let o = env.admin_get(&format!("linkedin/objects/{}", enc(&urn))).await;
        assert_eq!(o["intendedStatus"], "PAUSED");
        env.admin(&format!("objects/{}", enc(&urn)), json!({"review": "REJECTED"}))
            .await;
        let r = env.get(&format!("{}/{}", env.creatives(), enc(&urn))).await;
        assert_eq!(r.ok()["review"]["status"], "REJECTED");
        let store = env.admin_get("linkedin/store").await;
        assert!(store["entities"].as_object().unwrap().len() >= 4);
        // the state survives a dump and a restore (persistence)
        {
            use adsctl_emulator::PlatformEmulator as _;
            let dump = env.li.dump();
            env.li.reset();
            env.get(&format!("{}/{id}", env.groups())).await.err(404);
            env.li.restore(dump).unwrap();
            assert_eq!(
                env.get(&format!("{}/{id}", env.groups())).await.ok()["name"],
                "Changed behind your back"
            );
        }
        // reset forgets everything but the seeded account
        env.http.post(env.url("/_emulator/reset")).send().await.unwrap();
        env.get(&format!("{}/{id}", env.groups())).await.err(404);
        env.get(&format!("/rest/adAccounts/{ACCT}")).await.ok();
    }

    #[tokio::test]
    async fn seed_file_accounts_tokens_and_segment_wait() {
        let seed: adsctl_emulator::SeedFile = serde_yaml_like(
            r#"{"linkedin": {"ad_accounts": [{"id": "510000042", "currency": "GBP", "name": "Seeded"}],
                "access_tokens": ["seeded-token"], "segment_user_wait_ms": 1}}"#,
        );
        let cfg = EmulatorConfig {
            seed,
            ..EmulatorConfig::default()
        };
        let handle = Emulator::start(cfg).await.unwrap();
        let li = handle.platforms().get::<LinkedInEmulator>().unwrap();
        assert_eq!(li.config().segment_user_wait, Duration::from_millis(1));
        let http = reqwest::Client::new();
        let r = http
            .get(format!("{}/rest/adAccounts/510000042", handle.url()))
            .header("LinkedIn-Version", VERSION)
            .header("X-Restli-Protocol-Version", "2.0.0")
            .header("Authorization", "Bearer seeded-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["currency"], "GBP");
        assert_eq!(v["name"], "Seeded");
    }

    fn serde_yaml_like(json: &str) -> adsctl_emulator::SeedFile {
        serde_json::from_str(json).unwrap()
    }
}
