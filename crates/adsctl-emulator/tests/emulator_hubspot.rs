//! The HubSpot emulator over real HTTP (started in-process with `Emulator::start` on 127.0.0.1:0). Each rule row
//! of the HubSpot section of docs/wire-rules.md names a test here.

use std::collections::BTreeMap;

use adsctl_emulator::config::{HubSpotContactSeed, HubSpotListSeed, HubSpotPortalSeed};
use adsctl_emulator::platform::defaults::{
    HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET, HUBSPOT_PORTAL_ID, HUBSPOT_PRIVATE_APP_TOKEN, HUBSPOT_REFRESH_TOKEN,
};
use adsctl_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::{json, Value};

const C: &str = "/marketing/campaigns/2026-09";
const C3: &str = "/marketing/v3/campaigns";
const K: &str = "/crm/objects/2026-09/contacts";
const K3: &str = "/crm/v3/objects/contacts";
const L: &str = "/crm/lists/2026-09";
const L3: &str = "/crm/v3/lists";
const OTHER_PORTAL: &str = "20000002";
const OTHER_TOKEN: &str = "pat-na1-other-portal";

struct Env {
    handle: EmulatorHandle,
    http: reqwest::Client,
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
    body: Value,
}

impl Resp {
    fn is(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        &self.body
    }
    fn ok(&self) -> &Value {
        self.is(200)
    }
    fn no_content(&self) {
        assert_eq!(self.status, 204, "{}", self.text);
        assert!(self.text.is_empty(), "a 204 has no body: {}", self.text);
    }
    /// HubSpot's error envelope of this status and category.
    fn err(&self, status: u16, category: &str) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.body["status"], "error", "{}", self.text);
        assert_eq!(self.body["category"], category, "{}", self.text);
        assert!(self.body["message"].is_string(), "{}", self.text);
        assert_eq!(
            self.body["correlationId"].as_str().map(str::len),
            Some(36),
            "{}",
            self.text
        );
        &self.body
    }
    /// A 429 of this policy.
    fn limited(&self, policy: &str) -> &Value {
        assert_eq!(self.status, 429, "{}", self.text);
        assert_eq!(self.body["policyName"], policy, "{}", self.text);
        assert_eq!(self.body["errorType"], "RATE_LIMIT");
        assert_eq!(self.body["status"], "error");
        assert!(self.body["correlationId"].is_string() && self.body["requestId"].is_string());
        &self.body
    }
    fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).and_then(|v| v.to_str().ok())
    }
    fn sub_code(&self) -> &str {
        self.body["errors"][0]["code"].as_str().unwrap_or("?")
    }
}

async fn to_resp(r: reqwest::Response) -> Resp {
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

fn seeded() -> EmulatorConfig {
    let mut cfg = EmulatorConfig::default();
    cfg.seed.hubspot.search_lag_ms = Some(0);
    cfg.seed.hubspot.contacts = vec![HubSpotContactSeed {
        email: "seed@acme.org".into(),
        properties: BTreeMap::from([("firstname".to_string(), "Seed".to_string())]),
    }];
    cfg.seed.hubspot.lists = vec![HubSpotListSeed {
        name: "Seeded".into(),
        processing_type: "MANUAL".into(),
        members: vec!["seed@acme.org".into()],
    }];
    cfg.seed.hubspot.portals = vec![HubSpotPortalSeed {
        portal_id: OTHER_PORTAL.into(),
        private_app_tokens: vec![OTHER_TOKEN.into()],
        contacts: vec![],
        lists: vec![],
    }];
    cfg
}

async fn start_with(cfg: EmulatorConfig) -> Env {
    let handle = Emulator::start(cfg).await.expect("emulator starts");
    Env {
        handle,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

async fn start() -> Env {
    start_with(seeded()).await
}

impl Env {
    fn base(&self, path: &str) -> String {
        format!("{}{path}", self.handle.url())
    }
    async fn call_auth(&self, method: &str, path: &str, body: Option<Value>, token: Option<&str>) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self.http.request(m, self.base(path));
        if let Some(t) = token {
            rb = rb.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        to_resp(rb.send().await.unwrap()).await
    }
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.call_auth(method, path, body, Some(HUBSPOT_PRIVATE_APP_TOKEN))
            .await
    }
    async fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> Resp {
        self.call("POST", path, Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> Resp {
        self.call("PUT", path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call("PATCH", path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> Resp {
        self.call("DELETE", path, None).await
    }
    async fn raw(&self, method: &str, path: &str, body: &str) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let rb = self
            .http
            .request(m, self.base(path))
            .header("authorization", format!("Bearer {HUBSPOT_PRIVATE_APP_TOKEN}"))
            .header("content-type", "application/json")
            .body(body.to_string());
        to_resp(rb.send().await.unwrap()).await
    }
    async fn form(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        to_resp(self.http.post(self.base(path)).form(fields).send().await.unwrap()).await
    }
    async fn admin(&self, path: &str, body: Value) -> Value {
        self.http
            .post(self.base(path))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
    async fn admin_get(&self, path: &str) -> Value {
        self.http
            .get(self.base(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
    async fn campaign(&self, name: &str) -> String {
        let r = self.post(C, json!({"properties": {"hs_name": name}})).await;
        r.is(201)["id"].as_str().unwrap().to_string()
    }
    async fn contact(&self, email: &str) -> String {
        let r = self.post(K, json!({"properties": {"email": email}})).await;
        r.is(201)["id"].as_str().unwrap().to_string()
    }
    async fn list(&self, name: &str, processing_type: &str) -> String {
        let mut body = json!({"name": name, "objectTypeId": "0-1", "processingType": processing_type});
        if processing_type != "MANUAL" {
            body["filterBranch"] = json!({"filterBranchType": "OR", "filterBranches": [], "filters": []});
        }
        let r = self.post(L, body).await;
        r.ok()["list"]["listId"].as_str().unwrap().to_string()
    }
    /// An OAuth access token through the code flow with these scopes.
    async fn oauth(&self, scope: &str) -> Value {
        let r = self
            .http
            .get(self.base("/oauth/authorize"))
            .query(&[
                ("client_id", HUBSPOT_CLIENT_ID),
                ("redirect_uri", "http://localhost:9/cb"),
                ("scope", scope),
                ("state", "s1"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 302);
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        assert!(loc.starts_with("http://localhost:9/cb?code="), "{loc}");
        assert!(loc.ends_with("&state=s1"), "{loc}");
        let code = loc
            .split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_string();
        let t = self
            .form(
                "/oauth/v1/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", HUBSPOT_CLIENT_ID),
                    ("client_secret", HUBSPOT_CLIENT_SECRET),
                    ("redirect_uri", "http://localhost:9/cb"),
                    ("code", &code),
                ],
            )
            .await;
        t.ok().clone()
    }
}

fn ids(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

mod auth {
    use super::*;

    #[tokio::test]
    async fn private_app_token_is_bearer_and_never_expires() {
        let env = start().await;
        env.get(C).await.ok();
        env.admin("/_emulator/hubspot/clock", json!({"advance_secs": 400 * 86_400}))
            .await;
        env.get(C).await.ok();
    }

    #[tokio::test]
    async fn missing_or_unknown_token_is_401_invalid_authentication() {
        let env = start().await;
        env.call_auth("GET", C, None, None)
            .await
            .err(401, "INVALID_AUTHENTICATION");
        env.call_auth("GET", K, None, Some("pat-na1-nope"))
            .await
            .err(401, "INVALID_AUTHENTICATION");
    }

    #[tokio::test]
    async fn access_token_expires_after_30_minutes_as_expired_authentication() {
        let env = start().await;
        let t = env.oauth("oauth marketing.campaigns.read").await;
        assert_eq!(t["expires_in"], 1800);
        let token = t["access_token"].as_str().unwrap();
        env.call_auth("GET", C, None, Some(token)).await.ok();
        env.admin("/_emulator/hubspot/clock", json!({"advance_secs": 1799}))
            .await;
        env.call_auth("GET", C, None, Some(token)).await.ok();
        env.admin("/_emulator/hubspot/clock", json!({"advance_secs": 2})).await;
        env.call_auth("GET", C, None, Some(token))
            .await
            .err(401, "EXPIRED_AUTHENTICATION");
    }

    #[tokio::test]
    async fn missing_scope_is_403_missing_scopes_naming_it() {
        let env = start().await;
        let t = env.oauth("oauth marketing.campaigns.read crm.lists.read").await;
        let token = t["access_token"].as_str().unwrap();
        env.call_auth("GET", C, None, Some(token)).await.ok();
        let r = env
            .call_auth("POST", C, Some(json!({"properties": {"hs_name": "x"}})), Some(token))
            .await;
        let b = r.err(403, "MISSING_SCOPES");
        assert_eq!(
            b["errors"][0]["context"]["requiredGranularScopes"],
            json!(["marketing.campaigns.write"])
        );
        env.call_auth("GET", K, None, Some(token))
            .await
            .err(403, "MISSING_SCOPES");
        // search is a read
        env.call_auth("POST", L3, None, Some(token))
            .await
            .err(403, "MISSING_SCOPES");
        env.call_auth("POST", &format!("{L}/search"), Some(json!({})), Some(token))
            .await
            .ok();
    }

    #[tokio::test]
    async fn a_token_reaches_only_its_own_portal() {
        let env = start().await;
        let id = env.campaign("Mine").await;
        env.call_auth("GET", &format!("{C}/{id}"), None, Some(OTHER_TOKEN))
            .await
            .err(404, "OBJECT_NOT_FOUND");
        let r = env.call_auth("GET", C, None, Some(OTHER_TOKEN)).await;
        assert_eq!(r.ok()["total"], 0);
    }
}

mod errors {
    use super::*;

    #[tokio::test]
    async fn errors_carry_status_message_correlation_id_and_category() {
        let env = start().await;
        let r = env.get(&format!("{C}/00000000-0000-4000-8000-000000000000")).await;
        r.err(404, "OBJECT_NOT_FOUND");
        let r2 = env.get(&format!("{C}/00000000-0000-4000-8000-000000000000")).await;
        assert_ne!(r.body["correlationId"], r2.body["correlationId"], "one id per error");
    }

    #[tokio::test]
    async fn unknown_paths_and_versions_are_404() {
        let env = start().await;
        env.get("/marketing/campaigns/2026-09-beta")
            .await
            .err(404, "OBJECT_NOT_FOUND");
        env.get("/crm/v4/objects/contacts").await.err(404, "OBJECT_NOT_FOUND");
        env.get("/crm/objects/2026-09/deals").await.err(404, "OBJECT_NOT_FOUND");
    }

    #[tokio::test]
    async fn malformed_json_is_400_validation_error() {
        let env = start().await;
        env.raw("POST", C, "{not json").await.err(400, "VALIDATION_ERROR");
    }

    #[tokio::test]
    async fn date_and_legacy_paths_reach_the_same_objects() {
        let env = start().await;
        let id = env.campaign("Both").await;
        let r = env.get(&format!("{C3}/{id}?properties=hs_name")).await;
        assert_eq!(r.ok()["properties"]["hs_name"], "Both");
        let cid = env.contact("both@acme.org").await;
        env.get(&format!("{K3}/{cid}")).await.ok();
        env.get(&format!("/crm/objects/2026-09/0-1/{cid}")).await.ok();
        env.get(&format!("/crm/v3/objects/0-1/{cid}")).await.ok();
        let lid = env.list("Both", "MANUAL").await;
        env.get(&format!("{L3}/{lid}")).await.ok();
        env.get(&format!("/crm/lists/2026-03/{lid}")).await.ok();
    }
}

mod campaigns {
    use super::*;

    #[tokio::test]
    async fn create_needs_hs_name_and_answers_201() {
        let env = start().await;
        let r = env.post(C, json!({"properties": {"hs_notes": "no name"}})).await;
        r.err(400, "VALIDATION_ERROR");
        assert_eq!(r.sub_code(), "REQUIRED_PROPERTY");
        let r = env
            .post(
                C,
                json!({"properties": {"hs_name": "Spring", "hs_start_date": "2026-03-01"}}),
            )
            .await;
        let b = r.is(201);
        assert_eq!(b["id"].as_str().unwrap().len(), 36, "a GUID");
        assert_eq!(b["properties"]["hs_name"], "Spring");
        assert!(b["createdAt"].as_str().unwrap().ends_with('Z'));
        assert!(b["businessUnits"].is_array());
    }

    #[tokio::test]
    async fn properties_come_back_only_when_asked() {
        let env = start().await;
        let id = env.campaign("Asked").await;
        let r = env.get(&format!("{C}/{id}")).await;
        assert_eq!(r.ok()["properties"], json!({}));
        assert!(r.body["assets"].is_object());
        let r = env.get(&format!("{C}/{id}?properties=hs_name,hs_notes")).await;
        assert_eq!(r.ok()["properties"], json!({"hs_name": "Asked", "hs_notes": null}));
    }

    #[tokio::test]
    async fn property_values_are_strings_both_ways() {
        let env = start().await;
        let r = env
            .post(C, json!({"properties": {"hs_name": "N", "hs_owner": 42}}))
            .await;
        r.err(400, "VALIDATION_ERROR");
        assert_eq!(r.sub_code(), "INVALID_TYPE");
        assert!(r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Property values were not valid"));
        let id = env.campaign("S").await;
        let r = env
            .patch(
                &format!("{C}/{id}?properties=hs_owner"),
                json!({"properties": {"hs_owner": "42"}}),
            )
            .await;
        assert_eq!(r.ok()["properties"]["hs_owner"], "42");
        let r = env
            .get(&format!("{C}/{id}?properties=hs_budget_items_sum_amount"))
            .await;
        assert_eq!(r.ok()["properties"]["hs_budget_items_sum_amount"], "0");
    }

    #[tokio::test]
    async fn empty_string_clears_a_property() {
        let env = start().await;
        let r = env
            .post(
                C,
                json!({"properties": {"hs_name": "Clear", "hs_notes": "adsctl:key=1"}}),
            )
            .await;
        let id = r.is(201)["id"].as_str().unwrap().to_string();
        env.patch(&format!("{C}/{id}"), json!({"properties": {"hs_notes": ""}}))
            .await
            .ok();
        let r = env.get(&format!("{C}/{id}?properties=hs_notes,hs_name")).await;
        assert_eq!(r.ok()["properties"]["hs_notes"], Value::Null);
        assert_eq!(r.body["properties"]["hs_name"], "Clear");
    }

    #[tokio::test]
    async fn unknown_and_read_only_properties_are_400() {
        let env = start().await;
        let r = env
            .post(C, json!({"properties": {"hs_name": "N", "hs_nope": "x"}}))
            .await;
        r.err(400, "VALIDATION_ERROR");
        assert_eq!(r.sub_code(), "PROPERTY_DOESNT_EXIST");
        assert_eq!(r.body["errors"][0]["context"]["propertyName"], json!(["hs_nope"]));
        let r = env
            .post(
                C,
                json!({"properties": {"hs_name": "N", "hs_spend_items_sum_amount": "5"}}),
            )
            .await;
        r.err(400, "VALIDATION_ERROR");
        assert_eq!(r.sub_code(), "READ_ONLY_VALUE");
    }

    #[tokio::test]
    async fn dates_currency_and_colour_are_checked() {
        let env = start().await;
        for (k, v) in [
            ("hs_start_date", "01/03/2026"),
            ("hs_end_date", "2026-02-30"),
            ("hs_currency_code", "usd"),
            ("hs_color_hex", "red"),
        ] {
            let r = env.post(C, json!({"properties": {"hs_name": "N", k: v}})).await;
            r.err(400, "VALIDATION_ERROR");
        }
        let r = env
            .post(
                C,
                json!({"properties": {"hs_name": "N", "hs_start_date": "2026-03-01", "hs_end_date": "2026-03-31",
                       "hs_currency_code": "EUR", "hs_color_hex": "#1A2b3C", "hs_audience": "Devs", "hs_utm": "spring"}}),
            )
            .await;
        r.is(201);
    }

    #[tokio::test]
    async fn hs_goal_is_ignored() {
        let env = start().await;
        let r = env
            .post(C, json!({"properties": {"hs_name": "G", "hs_goal": "1000 leads"}}))
            .await;
        let id = r.is(201)["id"].as_str().unwrap().to_string();
        let r = env.get(&format!("{C}/{id}?properties=hs_goal")).await;
        assert_eq!(r.ok()["properties"]["hs_goal"], Value::Null);
    }

    #[tokio::test]
    async fn delete_is_204_even_for_unknown_guids() {
        let env = start().await;
        let id = env.campaign("Gone").await;
        env.delete(&format!("{C}/{id}")).await.no_content();
        env.delete(&format!("{C}/{id}")).await.no_content();
        env.delete(&format!("{C3}/11111111-1111-4111-8111-111111111111"))
            .await
            .no_content();
        env.get(&format!("{C}/{id}")).await.err(404, "OBJECT_NOT_FOUND");
    }

    #[tokio::test]
    async fn list_pages_by_after_cursor_and_filters_by_name() {
        let env = start().await;
        for i in 0..5 {
            env.campaign(&format!("Page {i}")).await;
        }
        env.campaign("Other").await;
        let r = env.get(&format!("{C}?limit=2&name=page&properties=hs_name")).await;
        let b = r.ok().clone();
        assert_eq!(b["total"], 5);
        assert_eq!(b["results"].as_array().unwrap().len(), 2);
        let mut seen = ids(&b);
        let mut after = b["paging"]["next"]["after"].as_str().map(str::to_string);
        while let Some(a) = after {
            let r = env.get(&format!("{C}?limit=2&name=page&after={a}")).await;
            seen.extend(ids(r.ok()));
            after = r.body["paging"]["next"]["after"].as_str().map(str::to_string);
        }
        assert_eq!(seen.len(), 5);
        env.get(&format!("{C}?limit=101")).await.err(400, "VALIDATION_ERROR");
    }

    #[tokio::test]
    async fn batches_take_at_most_50_inputs() {
        let env = start().await;
        let inputs: Vec<Value> = (0..51)
            .map(|i| json!({"properties": {"hs_name": format!("B{i}")}}))
            .collect();
        env.post(&format!("{C}/batch/create"), json!({"inputs": inputs}))
            .await
            .err(400, "VALIDATION_ERROR");
        let r = env.get(C).await;
        assert_eq!(r.ok()["total"], 0, "nothing was created");
        let inputs: Vec<Value> = (0..51).map(|i| json!({"id": format!("x{i}")})).collect();
        env.post(&format!("{C}/batch/read"), json!({"inputs": inputs}))
            .await
            .err(400, "VALIDATION_ERROR");
        let inputs: Vec<Value> = (0..50)
            .map(|i| json!({"properties": {"hs_name": format!("B{i}")}}))
            .collect();
        let r = env.post(&format!("{C3}/batch/create"), json!({"inputs": inputs})).await;
        assert_eq!(r.is(201)["results"].as_array().unwrap().len(), 50);
        assert_eq!(r.body["status"], "COMPLETE");
    }

    #[tokio::test]
    async fn batch_results_are_not_in_input_order() {
        let env = start().await;
        let inputs: Vec<Value> = (0..6)
            .map(|i| json!({"properties": {"hs_name": format!("O{i}")}}))
            .collect();
        let r = env.post(&format!("{C}/batch/create"), json!({"inputs": inputs})).await;
        let names: Vec<String> = r.is(201)["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["properties"]["hs_name"].as_str().unwrap().to_string())
            .collect();
        let input: Vec<String> = (0..6).map(|i| format!("O{i}")).collect();
        assert_ne!(names, input, "match on ids, not positions");
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(sorted, input);
        let created = ids(&r.body);
        let inputs: Vec<Value> = created
            .iter()
            .map(|i| json!({"id": i, "properties": {"hs_notes": "n"}}))
            .collect();
        let r = env.post(&format!("{C}/batch/update"), json!({"inputs": inputs})).await;
        assert_ne!(ids(r.ok()), created);
    }

    #[tokio::test]
    async fn batch_read_collapses_duplicates_and_reports_missing_with_207() {
        let env = start().await;
        let a = env.campaign("A").await;
        let r = env
            .post(
                &format!("{C}/batch/read?properties=hs_name"),
                json!({"inputs": [{"id": a}, {"id": a}]}),
            )
            .await;
        assert_eq!(r.ok()["results"].as_array().unwrap().len(), 1);
        assert_eq!(r.body["results"][0]["properties"]["hs_name"], "A");
        let r = env
            .post(
                &format!("{C3}/batch/read"),
                json!({"inputs": [{"id": a}, {"id": "11111111-1111-4111-8111-111111111111"}]}),
            )
            .await;
        let b = r.is(207);
        assert_eq!(b["numErrors"], 1);
        assert_eq!(b["errors"][0]["category"], "OBJECT_NOT_FOUND");
        assert_eq!(b["errors"][0]["status"], "404");
        assert_eq!(
            b["errors"][0]["context"]["ids"],
            json!(["11111111-1111-4111-8111-111111111111"])
        );
    }

    #[tokio::test]
    async fn batch_archive_is_204_always() {
        let env = start().await;
        let a = env.campaign("A").await;
        env.post(
            &format!("{C}/batch/archive"),
            json!({"inputs": [{"id": a}, {"id": "11111111-1111-4111-8111-111111111111"}]}),
        )
        .await
        .no_content();
        env.get(&format!("{C}/{a}")).await.err(404, "OBJECT_NOT_FOUND");
    }

    #[tokio::test]
    async fn only_some_asset_types_can_be_associated() {
        let env = start().await;
        let id = env.campaign("Assets").await;
        let lid = env.list("Audience", "MANUAL").await;
        env.put(&format!("{C}/{id}/assets/OBJECT_LIST/{lid}"), json!({}))
            .await
            .no_content();
        let r = env.get(&format!("{C}/{id}/assets/OBJECT_LIST")).await;
        assert_eq!(r.ok()["results"][0]["id"], lid.as_str());
        env.put(&format!("{C}/{id}/assets/AD_CAMPAIGN/1"), json!({}))
            .await
            .err(400, "VALIDATION_ERROR");
        env.put(&format!("{C}/{id}/assets/OBJECT_LIST/999999"), json!({}))
            .await
            .err(404, "OBJECT_NOT_FOUND");
        env.delete(&format!("{C}/{id}/assets/OBJECT_LIST/{lid}"))
            .await
            .no_content();
        let r = env.get(&format!("{C}/{id}/assets/OBJECT_LIST")).await;
        assert_eq!(r.ok()["results"], json!([]));
    }

    #[tokio::test]
    async fn reports_take_dates_and_attribution_models() {
        let env = start().await;
        let id = env.campaign("R").await;
        let r = env
            .get(&format!(
                "{C}/{id}/reports/metrics?startDate=2026-01-01&endDate=2026-01-31"
            ))
            .await;
        assert_eq!(r.ok()["sessions"], 0);
        env.get(&format!("{C}/{id}/reports/metrics?startDate=2026/01/01"))
            .await
            .err(400, "VALIDATION_ERROR");
        env.get(&format!("{C}/{id}/reports/revenue?attributionModel=LINEAR"))
            .await
            .ok();
        env.get(&format!("{C}/{id}/reports/revenue?attributionModel=LAST"))
            .await
            .err(400, "VALIDATION_ERROR");
    }
}

mod money {
    use super::*;

    #[tokio::test]
    async fn budget_and_spend_items_keep_exact_totals() {
        let env = start().await;
        let r = env
            .post(
                C,
                json!({"properties": {"hs_name": "Money", "hs_currency_code": "EUR"}}),
            )
            .await;
        let id = r.is(201)["id"].as_str().unwrap().to_string();
        let b1 = env
            .post(
                &format!("{C}/{id}/budget"),
                json!({"amount": 0.1, "name": "Q1", "order": 0}),
            )
            .await;
        let item = b1.is(201).clone();
        assert!(
            item["createdAt"].is_i64() && item["updatedAt"].is_i64(),
            "epoch ms ints"
        );
        assert!(item["id"].is_string());
        env.post(
            &format!("{C}/{id}/budget"),
            json!({"amount": 0.2, "name": "Q2", "order": 1}),
        )
        .await
        .is(201);
        env.post(
            &format!("{C}/{id}/spend"),
            json!({"amount": 0.05, "name": "W1", "order": 0}),
        )
        .await
        .is(201);
        let t = env.get(&format!("{C}/{id}/budget/totals")).await;
        let t = t.ok();
        assert_eq!(t["budgetTotal"], json!(0.3));
        assert_eq!(t["spendTotal"], json!(0.05));
        assert_eq!(t["remainingBudget"], json!(0.25));
        assert_eq!(t["currencyCode"], "EUR");
        assert_eq!(t["budgetItems"][0]["name"], "Q1");
        let bid = item["id"].as_str().unwrap();
        let r = env
            .put(
                &format!("{C}/{id}/budget/{bid}"),
                json!({"amount": 1000.5, "name": "Q1b", "order": 0}),
            )
            .await;
        assert_eq!(r.ok()["amount"], json!(1000.5));
        env.get(&format!("{C}/{id}/budget/{bid}")).await.ok();
        env.delete(&format!("{C}/{id}/budget/{bid}")).await.no_content();
        env.delete(&format!("{C}/{id}/budget/{bid}")).await.no_content();
        env.get(&format!("{C}/{id}/budget/{bid}"))
            .await
            .err(404, "OBJECT_NOT_FOUND");
        let r = env
            .get(&format!(
                "{C}/{id}?properties=hs_budget_items_sum_amount,hs_spend_items_sum_amount"
            ))
            .await;
        assert_eq!(r.ok()["properties"]["hs_budget_items_sum_amount"], "0.2");
        assert_eq!(r.body["properties"]["hs_spend_items_sum_amount"], "0.05");
    }

    #[tokio::test]
    async fn money_items_need_amount_name_and_order() {
        let env = start().await;
        let id = env.campaign("M").await;
        for body in [
            json!({"name": "x", "order": 0}),
            json!({"amount": "10", "name": "x", "order": 0}),
            json!({"amount": 10, "order": 0}),
            json!({"amount": 10, "name": "x"}),
        ] {
            env.post(&format!("{C}/{id}/spend"), body)
                .await
                .err(400, "VALIDATION_ERROR");
        }
        env.post(
            &format!("{C}/11111111-1111-4111-8111-111111111111/budget"),
            json!({"amount": 1, "name": "x", "order": 0}),
        )
        .await
        .err(404, "OBJECT_NOT_FOUND");
    }
}

mod contacts {
    use super::*;

    #[tokio::test]
    async fn create_is_201_and_a_duplicate_email_is_409_conflict() {
        let env = start().await;
        let r = env
            .post(K, json!({"properties": {"email": "Ada@Acme.org", "firstname": "Ada"}}))
            .await;
        let b = r.is(201).clone();
        let id = b["id"].as_str().unwrap();
        assert_eq!(b["properties"]["email"], "ada@acme.org");
        assert_eq!(b["properties"]["hs_object_id"], id);
        assert_eq!(b["archived"], false);
        let r = env.post(K, json!({"properties": {"email": "ada@acme.org"}})).await;
        r.err(409, "CONFLICT");
        assert_eq!(r.body["message"], format!("Contact already exists. Existing ID: {id}"));
    }

    #[tokio::test]
    async fn read_by_email_with_id_property_and_update() {
        let env = start().await;
        let id = env.contact("read@acme.org").await;
        let r = env
            .get(&format!(
                "{K}/read@acme.org?idProperty=email&properties=email,firstname"
            ))
            .await;
        assert_eq!(r.ok()["id"], id.as_str());
        assert_eq!(
            r.body["properties"],
            json!({"email": "read@acme.org", "firstname": null})
        );
        let r = env
            .patch(
                &format!("{K}/read@acme.org?idProperty=email"),
                json!({"properties": {"firstname": "Rea"}}),
            )
            .await;
        assert_eq!(r.ok()["properties"]["firstname"], "Rea");
        env.patch(&format!("{K}/{id}"), json!({"properties": {"firstname": ""}}))
            .await
            .ok();
        let r = env.get(&format!("{K}/{id}?properties=firstname")).await;
        assert_eq!(r.ok()["properties"]["firstname"], Value::Null, "\"\" clears");
        env.get(&format!("{K}/999999")).await.err(404, "OBJECT_NOT_FOUND");
    }

    #[tokio::test]
    async fn property_values_are_strings_and_of_their_type() {
        let env = start().await;
        let r = env
            .post(K, json!({"properties": {"email": "t@acme.org", "phone": 5551234}}))
            .await;
        r.err(400, "VALIDATION_ERROR");
        assert_eq!(r.sub_code(), "INVALID_TYPE");
        let r = env.post(K, json!({"properties": {"email": "not-an-email"}})).await;
        assert_eq!(r.err(400, "VALIDATION_ERROR")["errors"][0]["code"], "INVALID_EMAIL");
        let r = env
            .post(
                K,
                json!({"properties": {"email": "t@acme.org", "lifecyclestage": "vip"}}),
            )
            .await;
        assert_eq!(r.err(400, "VALIDATION_ERROR")["errors"][0]["code"], "INVALID_OPTION");
        let r = env
            .post(
                K,
                json!({"properties": {"email": "t@acme.org", "createdate": "2020-01-01"}}),
            )
            .await;
        assert_eq!(r.err(400, "VALIDATION_ERROR")["errors"][0]["code"], "READ_ONLY_VALUE");
        let r = env
            .post(K, json!({"properties": {"email": "t@acme.org", "adsctl_owner": "x"}}))
            .await;
        assert_eq!(
            r.err(400, "VALIDATION_ERROR")["errors"][0]["code"],
            "PROPERTY_DOESNT_EXIST"
        );
    }

    #[tokio::test]
    async fn custom_properties_become_writable_once_created() {
        let env = start().await;
        let p = "/crm/properties/2026-09/contacts";
        env.post(p, json!({"name": "adsctl_owner", "label": "adsctl owner"}))
            .await
            .err(400, "VALIDATION_ERROR");
        let r = env
            .post(
                p,
                json!({"name": "adsctl_owner", "label": "adsctl owner", "type": "string", "fieldType": "text",
                       "groupName": "contactinformation"}),
            )
            .await;
        assert_eq!(r.is(201)["name"], "adsctl_owner");
        env.post(
            p,
            json!({"name": "adsctl_owner", "label": "again", "type": "string", "fieldType": "text",
                   "groupName": "contactinformation"}),
        )
        .await
        .err(409, "OBJECT_ALREADY_EXISTS");
        env.post(
            p,
            json!({"name": "adsctl_score", "label": "s", "type": "number", "fieldType": "number",
                   "groupName": "contactinformation"}),
        )
        .await
        .is(201);
        env.post(
            K,
            json!({"properties": {"email": "c@acme.org", "adsctl_owner": "adsctl"}}),
        )
        .await
        .is(201);
        env.post(
            K,
            json!({"properties": {"email": "d@acme.org", "adsctl_score": "high"}}),
        )
        .await
        .err(400, "VALIDATION_ERROR");
        env.get(&format!("{p}/adsctl_owner")).await.ok();
        env.get("/crm/v3/properties/contacts/email").await.ok();
        env.get("/crm/properties/2026-09/campaigns/hs_campaign_status")
            .await
            .ok();
        env.get("/crm/properties/2026-09/0-35/hs_name").await.ok();
        // a property's group must exist first
        let prop =
            json!({"name": "adsctl_key", "label": "k", "type": "string", "fieldType": "text", "groupName": "adsctl"});
        env.post(p, prop.clone()).await.err(400, "VALIDATION_ERROR");
        env.post(&format!("{p}/groups"), json!({"name": "adsctl", "label": "adsctl"}))
            .await
            .is(201);
        env.post(&format!("{p}/groups"), json!({"name": "adsctl", "label": "again"}))
            .await
            .err(409, "OBJECT_ALREADY_EXISTS");
        env.get(&format!("{p}/groups/adsctl")).await.ok();
        env.post(p, prop).await.is(201);
    }

    #[tokio::test]
    async fn list_limit_is_at_most_100_with_cursor_paging() {
        let env = start().await;
        for i in 0..4 {
            env.contact(&format!("p{i}@acme.org")).await;
        }
        let r = env.get(&format!("{K}?limit=2")).await;
        let b = r.ok().clone();
        assert_eq!(b["results"].as_array().unwrap().len(), 2);
        let after = b["paging"]["next"]["after"].as_str().unwrap();
        assert!(after.parse::<u64>().is_err(), "an opaque cursor");
        let r = env.get(&format!("{K}?limit=100&after={after}")).await;
        assert_eq!(
            r.ok()["results"].as_array().unwrap().len(),
            3,
            "5 contacts with the seeded one"
        );
        assert!(r.body.get("paging").is_none(), "no paging.next on the last page");
        env.get(&format!("{K}?limit=101")).await.err(400, "VALIDATION_ERROR");
    }

    #[tokio::test]
    async fn batches_take_at_most_100_inputs() {
        let env = start().await;
        let inputs: Vec<Value> = (0..101)
            .map(|i| json!({"properties": {"email": format!("b{i}@acme.org")}}))
            .collect();
        env.post(&format!("{K}/batch/create"), json!({"inputs": inputs}))
            .await
            .err(400, "VALIDATION_ERROR");
        let inputs: Vec<Value> = (0..100)
            .map(|i| json!({"properties": {"email": format!("b{i}@acme.org")}}))
            .collect();
        let r = env.post(&format!("{K}/batch/create"), json!({"inputs": inputs})).await;
        assert_eq!(r.is(201)["results"].as_array().unwrap().len(), 100);
        let inputs: Vec<Value> = (0..101).map(|i| json!({"id": i.to_string()})).collect();
        env.post(&format!("{K}/batch/read"), json!({"inputs": inputs}))
            .await
            .err(400, "VALIDATION_ERROR");
    }

    #[tokio::test]
    async fn batch_upsert_by_email_marks_new_records() {
        let env = start().await;
        let existing = env.contact("up1@acme.org").await;
        let r = env
            .post(
                &format!("{K}/batch/upsert"),
                json!({"inputs": [
                    {"id": "UP1@acme.org", "idProperty": "email", "properties": {"firstname": "One"}},
                    {"id": "up2@acme.org", "idProperty": "email", "properties": {"firstname": "Two"}}
                ]}),
            )
            .await;
        let b = r.ok();
        let results = b["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        let one = results.iter().find(|x| x["id"] == existing.as_str()).unwrap();
        assert_eq!(one["new"], false);
        assert_eq!(one["properties"]["firstname"], "One");
        let two = results.iter().find(|x| x["id"] != existing.as_str()).unwrap();
        assert_eq!(two["new"], true);
        assert_eq!(two["properties"]["email"], "up2@acme.org");
        env.post(
            &format!("{K}/batch/upsert"),
            json!({"inputs": [{"id": "x@acme.org", "properties": {}}]}),
        )
        .await
        .err(400, "VALIDATION_ERROR");
        let r = env
            .post(
                &format!("{K}/batch/read"),
                json!({"idProperty": "email", "properties": ["firstname"],
                       "inputs": [{"id": "up2@acme.org"}, {"id": "none@acme.org"}]}),
            )
            .await;
        assert_eq!(r.is(207)["results"][0]["properties"]["firstname"], "Two");
        assert_eq!(r.body["errors"][0]["context"]["ids"], json!(["none@acme.org"]));
    }

    #[tokio::test]
    async fn delete_is_204_even_for_unknown_ids() {
        let env = start().await;
        let id = env.contact("del@acme.org").await;
        env.delete(&format!("{K}/{id}")).await.no_content();
        env.delete(&format!("{K}/{id}")).await.no_content();
        env.delete(&format!("{K3}/987654")).await.no_content();
        env.get(&format!("{K}/{id}")).await.err(404, "OBJECT_NOT_FOUND");
        let r = env.get(&format!("{K}/{id}?archived=true")).await;
        assert_eq!(r.ok()["archived"], true);
        env.post(&format!("{K}/batch/archive"), json!({"inputs": [{"id": "424242"}]}))
            .await
            .no_content();
        // the email is free again
        env.contact("del@acme.org").await;
    }
}

mod search {
    use super::*;

    fn eq(prop: &str, v: &str) -> Value {
        json!({"filterGroups": [{"filters": [{"propertyName": prop, "operator": "EQ", "value": v}]}],
               "properties": ["email", "firstname"]})
    }

    #[tokio::test]
    async fn search_is_eventually_consistent() {
        let mut cfg = seeded();
        cfg.seed.hubspot.search_lag_ms = Some(400);
        let env = start_with(cfg).await;
        let id = env.contact("lag@acme.org").await;
        let r = env.post(&format!("{K}/search"), eq("email", "lag@acme.org")).await;
        assert_eq!(r.ok()["total"], 0, "a just-created contact is not searchable yet");
        env.get(&format!("{K}/{id}")).await.ok();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let r = env.post(&format!("{K}/search"), eq("email", "lag@acme.org")).await;
        assert_eq!(r.ok()["total"], 1);
        env.patch(&format!("{K}/{id}"), json!({"properties": {"firstname": "Late"}}))
            .await
            .ok();
        let r = env.post(&format!("{K}/search"), eq("email", "lag@acme.org")).await;
        assert_eq!(
            r.ok()["results"][0]["properties"]["firstname"],
            Value::Null,
            "the previous version"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let r = env.post(&format!("{K}/search"), eq("firstname", "Late")).await;
        assert_eq!(r.ok()["total"], 1);
    }

    #[tokio::test]
    async fn filter_groups_filters_and_limit_are_bounded() {
        let env = start().await;
        env.admin("/_emulator/hubspot/config", json!({"search_per_second": 100}))
            .await;
        let f = json!({"propertyName": "email", "operator": "HAS_PROPERTY"});
        let groups = |n: usize, per: usize| -> Value {
            json!({"filterGroups": (0..n).map(|_| json!({"filters": vec![f.clone(); per]})).collect::<Vec<_>>()})
        };
        env.post(&format!("{K}/search"), groups(5, 5)).await.ok();
        env.post(&format!("{K}/search"), groups(6, 1))
            .await
            .err(400, "VALIDATION_ERROR");
        env.post(&format!("{K}/search"), groups(1, 11))
            .await
            .err(400, "VALIDATION_ERROR");
        env.post(&format!("{K}/search"), groups(3, 9))
            .await
            .err(400, "VALIDATION_ERROR");
        env.post(&format!("{K}/search"), json!({"limit": 201}))
            .await
            .err(400, "VALIDATION_ERROR");
        env.post(&format!("{K}/search"), json!({"limit": 200})).await.ok();
        env.post(&format!("{K}/search"), json!({"limit": 100, "after": "9950"}))
            .await
            .err(400, "VALIDATION_ERROR");
        let bad = json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "LIKE", "value": "x"}]}]});
        env.post(&format!("{K}/search"), bad).await.err(400, "VALIDATION_ERROR");
    }

    #[tokio::test]
    async fn groups_are_or_ed_and_filters_and_ed() {
        let env = start().await;
        for (e, f) in [("a@x.org", "Ann"), ("b@x.org", "Bob"), ("c@y.org", "Ann")] {
            env.post(K, json!({"properties": {"email": e, "firstname": f}}))
                .await
                .is(201);
        }
        let body = json!({"filterGroups": [
            {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "Ann"},
                         {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@y.org"}]},
            {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "Bob"}]}],
            "sorts": [{"propertyName": "email", "direction": "ASCENDING"}], "properties": ["email"], "limit": 1});
        let r = env.post(&format!("{K}/search"), body.clone()).await;
        let b = r.ok().clone();
        assert_eq!(b["total"], 2);
        assert_eq!(b["results"][0]["properties"]["email"], "b@x.org");
        let mut body2 = body;
        body2["after"] = b["paging"]["next"]["after"].clone();
        let r = env.post(&format!("{K}/search"), body2).await;
        assert_eq!(r.ok()["results"][0]["properties"]["email"], "c@y.org");
        assert!(r.body.get("paging").is_none());
    }

    #[tokio::test]
    async fn search_has_its_own_secondly_limit_without_headers() {
        let env = start().await;
        for _ in 0..5 {
            let r = env.post(&format!("{K}/search"), json!({})).await;
            r.ok();
            assert!(r.header("x-hubspot-ratelimit-remaining").is_none());
        }
        let r = env.post(&format!("{K}/search"), json!({})).await;
        r.limited("SECONDLY");
        assert_eq!(r.body["message"], "You have reached your secondly limit.");
        // other calls are not held back by it
        env.get(K).await.ok();
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        env.post(&format!("{K}/search"), json!({})).await.ok();
    }
}

mod lists {
    use super::*;

    #[tokio::test]
    async fn create_answers_200_with_list_and_names_are_unique() {
        let env = start().await;
        let r = env
            .post(
                L,
                json!({"name": "Buyers", "objectTypeId": "0-1", "processingType": "MANUAL"}),
            )
            .await;
        let l = r.ok()["list"].clone();
        assert!(l["listId"].as_str().unwrap().parse::<u64>().is_ok(), "a numeric string");
        assert_eq!(l["processingType"], "MANUAL");
        assert_eq!(l["objectTypeId"], "0-1");
        assert!(l["listVersion"].is_i64() && l["processingStatus"].is_string());
        let r = env
            .post(
                L3,
                json!({"name": "Buyers", "objectTypeId": "0-1", "processingType": "MANUAL"}),
            )
            .await;
        assert_eq!(
            r.err(400, "VALIDATION_ERROR")["subCategory"],
            "ILS.DUPLICATE_LIST_NAMES"
        );
        let other = env.list("Other", "MANUAL").await;
        env.call("PUT", &format!("{L}/{other}/update-list-name?listName=Buyers"), None)
            .await
            .err(400, "VALIDATION_ERROR");
        let r = env
            .call("PUT", &format!("{L}/{other}/update-list-name?listName=Sellers"), None)
            .await;
        assert_eq!(r.ok()["updatedList"]["name"], "Sellers");
    }

    #[tokio::test]
    async fn create_requires_fields_and_filters_for_dynamic_and_snapshot() {
        let env = start().await;
        let r = env.post(L, json!({"name": "X"})).await;
        assert_eq!(r.err(400, "VALIDATION_ERROR")["errors"].as_array().unwrap().len(), 2);
        env.post(
            L,
            json!({"name": "X", "objectTypeId": "0-1", "processingType": "STATIC"}),
        )
        .await
        .err(400, "VALIDATION_ERROR");
        env.post(
            L,
            json!({"name": "X", "objectTypeId": "0-1", "processingType": "DYNAMIC"}),
        )
        .await
        .err(400, "VALIDATION_ERROR");
        env.list("Dyn", "DYNAMIC").await;
        env.list("Snap", "SNAPSHOT").await;
    }

    #[tokio::test]
    async fn read_by_id_name_and_ids_with_include_filters() {
        let env = start().await;
        let d = env.list("Dyn list", "DYNAMIC").await;
        let r = env.get(&format!("{L}/{d}")).await;
        assert!(r.ok()["list"].get("filterBranch").is_none());
        let r = env.get(&format!("{L}/{d}?includeFilters=true")).await;
        assert_eq!(r.ok()["list"]["filterBranch"]["filterBranchType"], "OR");
        let r = env.get(&format!("{L}/object-type-id/0-1/name/Dyn%20list")).await;
        assert_eq!(r.ok()["list"]["listId"], d.as_str());
        env.get(&format!("{L}/object-type-id/0-1/name/Nope"))
            .await
            .err(404, "OBJECT_NOT_FOUND");
        let m = env.list("Man", "MANUAL").await;
        let r = env.get(&format!("{L}?listIds={d}&listIds={m}&listIds=999999")).await;
        assert_eq!(r.ok()["lists"].as_array().unwrap().len(), 2);
        env.get(&format!("{L}/999999")).await.err(404, "OBJECT_NOT_FOUND");
    }

    #[tokio::test]
    async fn search_uses_offset_paging_with_count_at_most_500() {
        let env = start().await;
        for i in 0..3 {
            env.list(&format!("Seg {i}"), "MANUAL").await;
        }
        env.list("Seg dyn", "DYNAMIC").await;
        let r = env
            .post(
                &format!("{L}/search"),
                json!({"query": "seg", "processingTypes": ["MANUAL"], "count": 2}),
            )
            .await;
        let b = r.ok().clone();
        assert_eq!(b["total"], 3);
        assert_eq!(b["lists"].as_array().unwrap().len(), 2);
        assert_eq!(b["hasMore"], true);
        assert_eq!(b["offset"], 2);
        assert!(b["lists"][0]["additionalProperties"].is_object());
        let r = env
            .post(
                &format!("{L}/search"),
                json!({"query": "seg", "processingTypes": ["MANUAL"], "count": 2,
                                                 "offset": 2}),
            )
            .await;
        assert_eq!(r.ok()["hasMore"], false);
        assert_eq!(r.body["lists"].as_array().unwrap().len(), 1);
        env.post(&format!("{L}/search"), json!({"count": 501}))
            .await
            .err(400, "VALIDATION_ERROR");
        let r = env.post(&format!("{L}/search"), json!({})).await;
        assert_eq!(r.ok()["total"], 5, "an empty query is every list (with the seeded one)");
    }

    #[tokio::test]
    async fn delete_is_204_and_restore_brings_it_back() {
        let env = start().await;
        let id = env.list("Temp", "MANUAL").await;
        env.delete(&format!("{L}/{id}")).await.no_content();
        env.delete(&format!("{L}/{id}")).await.no_content();
        env.delete(&format!("{L}/999999")).await.no_content();
        env.get(&format!("{L}/{id}")).await.err(404, "OBJECT_NOT_FOUND");
        env.put(&format!("{L}/{id}/restore"), json!({})).await.no_content();
        env.get(&format!("{L}/{id}")).await.ok();
        env.delete(&format!("{L}/{id}")).await.no_content();
        env.admin("/_emulator/hubspot/clock", json!({"advance_secs": 91 * 86_400}))
            .await;
        env.put(&format!("{L}/{id}/restore"), json!({}))
            .await
            .err(404, "OBJECT_NOT_FOUND");
    }
}

mod memberships {
    use super::*;

    #[tokio::test]
    async fn add_and_remove_take_bare_arrays_and_answer_records_ids_added() {
        let env = start().await;
        let lid = env.list("M", "MANUAL").await;
        let a = env.contact("m1@acme.org").await;
        let b = env.contact("m2@acme.org").await;
        let r = env
            .put(&format!("{L}/{lid}/memberships/add"), json!([a, b, "999999"]))
            .await;
        let body = r.ok();
        let mut added: Vec<String> = serde_json::from_value(body["recordsIdsAdded"].clone()).unwrap();
        added.sort();
        let mut want = vec![a.clone(), b.clone()];
        want.sort();
        assert_eq!(added, want);
        assert_eq!(body["recordIdsMissing"], json!(["999999"]));
        assert!(
            body.get("recordIdsAdded").is_none(),
            "the wire spelling is recordsIdsAdded"
        );
        let r = env.put(&format!("{L}/{lid}/memberships/add"), json!([a])).await;
        assert_eq!(r.ok()["recordsIdsAdded"], json!([]), "already a member: ignored");
        env.put(&format!("{L}/{lid}/memberships/add"), json!({"recordIds": [a]}))
            .await
            .err(400, "VALIDATION_ERROR");
        env.put(&format!("{L}/{lid}/memberships/add"), json!([101]))
            .await
            .err(400, "VALIDATION_ERROR");
        let r = env.put(&format!("{L}/{lid}/memberships/remove"), json!([a])).await;
        assert_eq!(r.ok()["recordIdsRemoved"], json!([a]));
        let m = env.admin_get(&format!("/_emulator/hubspot/lists/{lid}/members")).await;
        assert_eq!(m["members"], json!([b]));
        let r = env.get(&format!("{L}/{lid}")).await;
        assert_eq!(r.ok()["list"]["size"], 1);
    }

    #[tokio::test]
    async fn only_manual_and_snapshot_lists_take_membership_edits() {
        let env = start().await;
        let a = env.contact("d1@acme.org").await;
        let d = env.list("D", "DYNAMIC").await;
        let r = env.put(&format!("{L}/{d}/memberships/add"), json!([a])).await;
        r.err(400, "VALIDATION_ERROR");
        env.put(&format!("{L}/{d}/memberships/remove"), json!([a]))
            .await
            .err(400, "VALIDATION_ERROR");
        env.put(
            &format!("{L}/{d}/memberships/add-and-remove"),
            json!({"recordIdsToAdd": [a], "recordIdsToRemove": []}),
        )
        .await
        .err(400, "VALIDATION_ERROR");
        let s = env.list("S", "SNAPSHOT").await;
        let r = env.put(&format!("{L}/{s}/memberships/add"), json!([a])).await;
        assert_eq!(r.ok()["recordsIdsAdded"], json!([a]));
    }

    #[tokio::test]
    async fn membership_reads_page_by_cursor_with_limit_at_most_250() {
        let env = start().await;
        let lid = env.list("P", "MANUAL").await;
        let mut all = Vec::new();
        for i in 0..5 {
            all.push(env.contact(&format!("pg{i}@acme.org")).await);
        }
        env.put(
            &format!("{L}/{lid}/memberships/add"),
            json!(all.iter().rev().collect::<Vec<_>>()),
        )
        .await
        .ok();
        let r = env.get(&format!("{L}/{lid}/memberships?limit=2")).await;
        let b = r.ok().clone();
        let page: Vec<&str> = b["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["recordId"].as_str().unwrap())
            .collect();
        assert_eq!(page, vec![all[0].as_str(), all[1].as_str()], "by record id ascending");
        assert!(b["results"][0]["membershipTimestamp"].is_string());
        let after = b["paging"]["next"]["after"].as_str().unwrap().to_string();
        let r = env.get(&format!("{L}/{lid}/memberships?limit=250&after={after}")).await;
        assert_eq!(r.ok()["results"].as_array().unwrap().len(), 3);
        assert!(r.body["paging"].get("next").is_none());
        let before = r.body["paging"]["prev"]["before"].as_str().unwrap().to_string();
        let r = env.get(&format!("{L}/{lid}/memberships?before={before}")).await;
        let back: Vec<&str> = r.ok()["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["recordId"].as_str().unwrap())
            .collect();
        assert_eq!(
            back,
            vec![all[1].as_str(), all[0].as_str()],
            "descending with only before"
        );
        env.get(&format!("{L}/{lid}/memberships?limit=251"))
            .await
            .err(400, "VALIDATION_ERROR");
        let r = env.get(&format!("{L}/{lid}/memberships/join-order?limit=1")).await;
        assert_eq!(r.ok()["results"].as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn add_and_remove_together_and_record_memberships() {
        let env = start().await;
        let lid = env.list("AR", "MANUAL").await;
        let a = env.contact("ar1@acme.org").await;
        let b = env.contact("ar2@acme.org").await;
        env.put(&format!("{L}/{lid}/memberships/add"), json!([a])).await.ok();
        let r = env
            .put(
                &format!("{L}/{lid}/memberships/add-and-remove"),
                json!({"recordIdsToAdd": [b], "recordIdsToRemove": [a]}),
            )
            .await;
        assert_eq!(r.ok()["recordsIdsAdded"], json!([b]));
        assert_eq!(r.body["recordIdsRemoved"], json!([a]));
        env.put(
            &format!("{L}/{lid}/memberships/add-and-remove"),
            json!({"recordIdsToAdd": [b]}),
        )
        .await
        .err(400, "VALIDATION_ERROR");
        let r = env.get(&format!("{L}/records/0-1/{b}/memberships")).await;
        assert_eq!(r.ok()["results"][0]["listId"], lid.as_str());
        let r = env
            .post(
                &format!("{L}/records/memberships/batch/read"),
                json!({"inputs": [{"objectTypeId": "0-1", "recordId": b}, {"objectTypeId": "0-1", "recordId": a}]}),
            )
            .await;
        let res = r.ok()["results"].as_array().unwrap().clone();
        let of = |id: &str| res.iter().find(|x| x["recordId"] == id).unwrap()["recordListMemberships"].clone();
        assert_eq!(of(&b)[0]["listId"], lid.as_str());
        assert_eq!(of(&a), json!([]));
        // archiving a contact takes it out of its lists
        env.delete(&format!("{K}/{b}")).await.no_content();
        let r = env.get(&format!("{L}/{lid}/memberships")).await;
        assert_eq!(r.ok()["results"], json!([]));
    }

    #[tokio::test]
    async fn membership_cap_is_configurable() {
        let env = start().await;
        let lid = env.list("Cap", "MANUAL").await;
        let a = env.contact("cap1@acme.org").await;
        let b = env.contact("cap2@acme.org").await;
        env.admin("/_emulator/hubspot/config", json!({"max_membership_ids": 1}))
            .await;
        env.put(&format!("{L}/{lid}/memberships/add"), json!([a, b]))
            .await
            .err(400, "VALIDATION_ERROR");
        env.put(&format!("{L}/{lid}/memberships/add"), json!([a])).await.ok();
    }

    #[tokio::test]
    async fn remove_all_and_add_from_need_lists_below_100000() {
        let env = start().await;
        let big = env.list("Big", "MANUAL").await;
        let small = env.list("Small", "MANUAL").await;
        let a = env.contact("s1@acme.org").await;
        env.put(&format!("{L}/{small}/memberships/add"), json!([a])).await.ok();
        let target = env.list("Target", "MANUAL").await;
        env.call("PUT", &format!("{L}/{target}/memberships/add-from/{small}"), None)
            .await
            .no_content();
        let m = env
            .admin_get(&format!("/_emulator/hubspot/lists/{target}/members"))
            .await;
        assert_eq!(m["members"], json!([a]));
        let ids: Vec<u64> = (1_000_000..1_100_000).collect();
        env.admin(
            &format!("/_emulator/hubspot/lists/{big}/members"),
            json!({"record_ids": ids}),
        )
        .await;
        env.call("PUT", &format!("{L}/{target}/memberships/add-from/{big}"), None)
            .await
            .err(400, "VALIDATION_ERROR");
        env.delete(&format!("{L}/{big}/memberships"))
            .await
            .err(400, "VALIDATION_ERROR");
        env.delete(&format!("{L}/{small}/memberships")).await.no_content();
        let r = env.get(&format!("{L}/{small}")).await;
        assert_eq!(r.ok()["list"]["size"], 0);
    }
}

mod oauth {
    use super::*;

    #[tokio::test]
    async fn code_exchange_gives_a_30_minute_token_and_a_refresh_token() {
        let env = start().await;
        let t = env.oauth("oauth crm.objects.contacts.read").await;
        assert_eq!(t["expires_in"], 1800);
        assert_eq!(t["token_type"], "bearer");
        assert_eq!(t["token_use"], "access_token");
        assert_eq!(t["hub_id"].as_i64().unwrap().to_string(), HUBSPOT_PORTAL_ID);
        assert!(t["refresh_token"].is_string());
        assert!(
            t["access_token"].as_str().unwrap().len() >= 300,
            "allow ≥300 characters"
        );
        env.call_auth("GET", K, None, t["access_token"].as_str()).await.ok();
    }

    #[tokio::test]
    async fn refresh_issues_a_new_access_token_and_keeps_the_refresh_token() {
        let env = start().await;
        for path in ["/oauth/v1/token", "/oauth/2026-09/token"] {
            let r = env
                .form(
                    path,
                    &[
                        ("grant_type", "refresh_token"),
                        ("client_id", HUBSPOT_CLIENT_ID),
                        ("client_secret", HUBSPOT_CLIENT_SECRET),
                        ("refresh_token", HUBSPOT_REFRESH_TOKEN),
                    ],
                )
                .await;
            let b = r.ok();
            assert_eq!(b["refresh_token"], HUBSPOT_REFRESH_TOKEN);
            assert_eq!(b["expires_in"], 1800);
            env.call_auth("GET", C, None, b["access_token"].as_str()).await.ok();
        }
    }

    #[tokio::test]
    async fn token_errors_name_the_bad_field() {
        let env = start().await;
        let refresh = |secret: &'static str, token: &'static str| {
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", HUBSPOT_CLIENT_ID),
                ("client_secret", secret),
                ("refresh_token", token),
            ]
        };
        let r = env
            .form("/oauth/v1/token", &refresh("wrong", HUBSPOT_REFRESH_TOKEN))
            .await;
        assert_eq!(r.is(400)["status"], "BAD_CLIENT_SECRET");
        assert!(r.body["correlationId"].is_string());
        let r = env
            .form("/oauth/v1/token", &refresh(HUBSPOT_CLIENT_SECRET, "na1-nope"))
            .await;
        assert_eq!(r.is(400)["status"], "BAD_REFRESH_TOKEN");
        let r = env
            .form(
                "/oauth/v1/token",
                &[("grant_type", "password"), ("client_id", HUBSPOT_CLIENT_ID)],
            )
            .await;
        assert_eq!(r.is(400)["status"], "BAD_GRANT_TYPE");
        let r = env
            .form(
                "/oauth/v1/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", "nope"),
                    ("client_secret", "x"),
                    ("code", "x"),
                ],
            )
            .await;
        assert_eq!(r.is(400)["status"], "BAD_CLIENT_ID");
    }

    #[tokio::test]
    async fn codes_are_used_once_with_the_same_redirect_uri() {
        let env = start().await;
        let get_code = || async {
            let r = env
                .http
                .get(env.base(&format!("/oauth/{HUBSPOT_PORTAL_ID}/authorize")))
                .query(&[
                    ("client_id", HUBSPOT_CLIENT_ID),
                    ("redirect_uri", "http://localhost:9/cb"),
                    ("scope", "oauth crm.lists.read"),
                ])
                .send()
                .await
                .unwrap();
            let loc = r.headers()["location"].to_str().unwrap().to_string();
            loc.split("code=").nth(1).unwrap().to_string()
        };
        let code = get_code().await;
        let exchange = |code: String, redirect: &'static str| {
            let env = &env;
            async move {
                env.form(
                    "/oauth/2026-09/token",
                    &[
                        ("grant_type", "authorization_code"),
                        ("client_id", HUBSPOT_CLIENT_ID),
                        ("client_secret", HUBSPOT_CLIENT_SECRET),
                        ("redirect_uri", redirect),
                        ("code", &code),
                    ],
                )
                .await
            }
        };
        let r = exchange(code.clone(), "http://localhost:9/other").await;
        assert_eq!(r.is(400)["status"], "BAD_REDIRECT_URI");
        exchange(code.clone(), "http://localhost:9/cb").await.ok();
        let r = exchange(code, "http://localhost:9/cb").await;
        assert_eq!(r.is(400)["status"], "BAD_AUTH_CODE");
        let r = env
            .http
            .get(env.base("/oauth/authorize"))
            .query(&[
                ("client_id", "nope"),
                ("redirect_uri", "http://x/cb"),
                ("scope", "oauth"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
    }

    #[tokio::test]
    async fn the_date_version_takes_fields_in_the_body_only() {
        let env = start().await;
        let q = format!("?client_secret={HUBSPOT_CLIENT_SECRET}&refresh_token={HUBSPOT_REFRESH_TOKEN}");
        let fields = [("grant_type", "refresh_token"), ("client_id", HUBSPOT_CLIENT_ID)];
        env.form(&format!("/oauth/v1/token{q}"), &fields).await.ok();
        let r = env.form(&format!("/oauth/2026-09/token{q}"), &fields).await;
        assert_eq!(r.is(400)["status"], "BAD_CLIENT_SECRET");
    }

    #[tokio::test]
    async fn metadata_and_introspection_describe_tokens() {
        let env = start().await;
        let t = env.oauth("oauth crm.lists.read").await;
        let access = t["access_token"].as_str().unwrap();
        let r = env.get(&format!("/oauth/v1/access-tokens/{access}")).await;
        let b = r.ok();
        assert_eq!(b["hub_id"].as_i64().unwrap().to_string(), HUBSPOT_PORTAL_ID);
        assert_eq!(b["scopes"], json!(["oauth", "crm.lists.read"]));
        assert!(b["app_id"].is_i64() && b["user_id"].is_i64() && b["hub_domain"].is_string());
        assert!(b["expires_in"].as_i64().unwrap() <= 1800);
        let r = env
            .get(&format!("/oauth/v1/refresh-tokens/{HUBSPOT_REFRESH_TOKEN}"))
            .await;
        assert_eq!(r.ok()["client_id"], HUBSPOT_CLIENT_ID);
        let intro = |tok: String| {
            let env = &env;
            async move {
                env.form(
                    "/oauth/2026-09/token/introspect",
                    &[
                        ("token", &tok),
                        ("client_id", HUBSPOT_CLIENT_ID),
                        ("client_secret", HUBSPOT_CLIENT_SECRET),
                    ],
                )
                .await
            }
        };
        assert_eq!(intro(access.to_string()).await.ok()["active"], true);
        assert_eq!(intro("nope".into()).await.ok()["active"], false);
        env.admin("/_emulator/hubspot/clock", json!({"advance_secs": 1801}))
            .await;
        assert_eq!(intro(access.to_string()).await.ok()["active"], false);
        env.get(&format!("/oauth/v1/access-tokens/{access}"))
            .await
            .err(404, "OBJECT_NOT_FOUND");
    }

    #[tokio::test]
    async fn revoked_refresh_tokens_stop_working() {
        let env = start().await;
        let t = env.oauth("oauth crm.lists.read").await;
        let rt = t["refresh_token"].as_str().unwrap().to_string();
        env.delete(&format!("/oauth/v1/refresh-tokens/{rt}")).await.no_content();
        let fields = [
            ("grant_type", "refresh_token"),
            ("client_id", HUBSPOT_CLIENT_ID),
            ("client_secret", HUBSPOT_CLIENT_SECRET),
            ("refresh_token", rt.as_str()),
        ];
        assert_eq!(
            env.form("/oauth/v1/token", &fields).await.is(400)["status"],
            "BAD_REFRESH_TOKEN"
        );
        let r = env
            .form(
                "/oauth/2026-09/token/revoke",
                &[
                    ("token", HUBSPOT_REFRESH_TOKEN),
                    ("client_id", HUBSPOT_CLIENT_ID),
                    ("client_secret", HUBSPOT_CLIENT_SECRET),
                ],
            )
            .await;
        r.no_content();
        env.get(&format!("/oauth/v1/refresh-tokens/{HUBSPOT_REFRESH_TOKEN}"))
            .await
            .err(404, "OBJECT_NOT_FOUND");
    }
}

mod limits {
    use super::*;

    #[tokio::test]
    async fn ten_secondly_limit_is_429_with_policy_name_and_headers() {
        let env = start().await;
        env.admin("/_emulator/hubspot/config", json!({"ten_secondly": 3})).await;
        for left in [2, 1, 0] {
            let r = env.get(C).await;
            r.ok();
            assert_eq!(r.header("x-hubspot-ratelimit-interval-milliseconds"), Some("10000"));
            assert_eq!(r.header("x-hubspot-ratelimit-max"), Some("3"));
            assert_eq!(
                r.header("x-hubspot-ratelimit-remaining"),
                Some(left.to_string().as_str())
            );
            assert!(r.header("x-hubspot-ratelimit-daily").is_some());
            assert!(r.header("x-hubspot-ratelimit-daily-remaining").is_some());
        }
        let r = env.get(C).await;
        r.limited("TEN_SECONDLY_ROLLING");
        assert_eq!(r.body["message"], "You have reached your ten_secondly_rolling limit.");
        // another token (another app) has its own window
        env.call_auth("GET", C, None, Some(OTHER_TOKEN)).await.ok();
    }

    #[tokio::test]
    async fn daily_limit_is_429_daily_and_resets_the_next_day() {
        let env = start().await;
        env.admin("/_emulator/hubspot/config", json!({"daily": 2})).await;
        env.get(K).await.ok();
        let r = env.get(K).await;
        assert_eq!(r.header("x-hubspot-ratelimit-daily-remaining"), Some("0"));
        env.get(K).await.limited("DAILY");
        env.admin("/_emulator/hubspot/clock", json!({"advance_secs": 86_400}))
            .await;
        env.get(K).await.ok();
    }

    #[tokio::test]
    async fn oauth_calls_have_a_burst_limit_and_no_daily_cap() {
        let env = start().await;
        env.admin(
            "/_emulator/hubspot/config",
            json!({"daily": 1, "oauth_ten_secondly": 2}),
        )
        .await;
        let t = env.oauth("oauth marketing.campaigns.read").await;
        let token = t["access_token"].as_str().unwrap();
        let r = env.call_auth("GET", C, None, Some(token)).await;
        r.ok();
        assert_eq!(r.header("x-hubspot-ratelimit-max"), Some("2"));
        assert!(r.header("x-hubspot-ratelimit-daily").is_none());
        env.call_auth("GET", C, None, Some(token)).await.ok();
        env.call_auth("GET", C, None, Some(token))
            .await
            .limited("TEN_SECONDLY_ROLLING");
    }

    #[tokio::test]
    async fn a_batch_counts_as_one_request() {
        let env = start().await;
        let inputs: Vec<Value> = (0..10)
            .map(|i| json!({"properties": {"hs_name": format!("n{i}")}}))
            .collect();
        let r = env.post(&format!("{C}/batch/create"), json!({"inputs": inputs})).await;
        r.is(201);
        let before: u32 = r.header("x-hubspot-ratelimit-remaining").unwrap().parse().unwrap();
        let r = env.get(C).await;
        let after: u32 = r.header("x-hubspot-ratelimit-remaining").unwrap().parse().unwrap();
        assert_eq!(before - after, 1);
        let snap = env.handle.counters().snapshot();
        let e = &snap.endpoints["POST /marketing/campaigns/2026-09/batch/create"];
        assert_eq!((e.requests, e.operations), (1, 10));
    }

    #[tokio::test]
    async fn injected_faults_use_the_error_envelope() {
        let env = start().await;
        env.http
            .post(env.base("/_emulator/faults"))
            .json(&json!({"spec": "5xx=1.0"}))
            .send()
            .await
            .unwrap();
        env.get(C).await.err(500, "INTERNAL_ERROR");
        env.http
            .post(env.base("/_emulator/faults"))
            .json(&json!({"spec": "429=1.0"}))
            .send()
            .await
            .unwrap();
        env.get(C).await.limited("TEN_SECONDLY_ROLLING");
    }

    #[tokio::test]
    async fn read_lag_fault_shows_contacts_before_their_last_write() {
        let env = start().await;
        let id = env.contact("lag1@acme.org").await;
        env.admin("/_emulator/hubspot/config", json!({"read_lag_ms": 60_000}))
            .await;
        env.patch(&format!("{K}/{id}"), json!({"properties": {"firstname": "After"}}))
            .await
            .ok();
        env.http
            .post(env.base("/_emulator/faults"))
            .json(&json!({"spec": "lag=1.0"}))
            .send()
            .await
            .unwrap();
        let r = env.get(&format!("{K}/{id}?properties=firstname")).await;
        assert_eq!(
            r.ok()["properties"]["firstname"],
            Value::Null,
            "the version before the write"
        );
        env.http
            .post(env.base("/_emulator/faults"))
            .json(&json!({"spec": "lag=0"}))
            .send()
            .await
            .unwrap();
        let r = env.get(&format!("{K}/{id}?properties=firstname")).await;
        assert_eq!(r.ok()["properties"]["firstname"], "After");
    }

    #[tokio::test]
    async fn requests_are_counted_per_endpoint_template() {
        let env = start().await;
        let id = env.campaign("Count").await;
        env.get(&format!("{C}/{id}")).await.ok();
        let lid = env.list("Count", "MANUAL").await;
        env.put(&format!("{L}/{lid}/memberships/add"), json!([])).await.ok();
        let snap = env.handle.counters().snapshot();
        assert_eq!(
            snap.endpoints["GET /marketing/campaigns/2026-09/{campaignGuid}"].requests,
            1
        );
        assert_eq!(
            snap.endpoints["PUT /crm/lists/2026-09/{listId}/memberships/add"].requests,
            1
        );
    }
}

mod admin {
    use super::*;

    #[tokio::test]
    async fn admin_api_shows_objects_and_makes_foreign_ones() {
        let env = start().await;
        let id = env.campaign("Seen").await;
        let o = env.admin_get(&format!("/_emulator/hubspot/objects/{id}")).await;
        assert_eq!(o["kind"], "campaign");
        assert_eq!(o["object"]["properties"]["hs_name"], "Seen");
        let f = env
            .admin(
                "/_emulator/hubspot/objects",
                json!({"kind": "contact", "properties": {"email": "foreign@acme.org"}}),
            )
            .await;
        let fid = f["id"].as_str().unwrap();
        let r = env.post(K, json!({"properties": {"email": "foreign@acme.org"}})).await;
        assert_eq!(r.err(409, "CONFLICT")["context"]["existingObjectId"], json!([fid]));
        let fl = env
            .admin(
                "/_emulator/hubspot/objects",
                json!({"kind": "list", "name": "Theirs", "processing_type": "DYNAMIC"}),
            )
            .await;
        env.put(
            &format!("{L}/{}/memberships/add", fl["id"].as_str().unwrap()),
            json!([fid]),
        )
        .await
        .err(400, "VALIDATION_ERROR");
        let fc = env
            .admin(
                "/_emulator/hubspot/objects",
                json!({"kind": "campaign", "properties": {"hs_name": "Theirs"}}),
            )
            .await;
        let r = env
            .get(&format!("{C}/{}?properties=hs_name", fc["id"].as_str().unwrap()))
            .await;
        assert_eq!(r.ok()["properties"]["hs_name"], "Theirs");
        let store = env.admin_get("/_emulator/hubspot/store").await;
        assert!(store["campaigns"].as_object().unwrap().len() >= 2);
        let seeded = store["lists"]
            .as_object()
            .unwrap()
            .values()
            .find(|l| l["name"] == "Seeded")
            .unwrap();
        assert_eq!(seeded["members"].as_object().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn state_survives_dump_and_restore() {
        let env = start().await;
        let id = env.campaign("Keep").await;
        let cid = env.contact("keep@acme.org").await;
        let p = env.handle.platforms().by_name("hubspot").unwrap();
        let dump = p.dump();
        p.reset();
        env.get(&format!("{C}/{id}")).await.err(404, "OBJECT_NOT_FOUND");
        p.restore(dump).unwrap();
        env.get(&format!("{C}/{id}")).await.ok();
        env.get(&format!("{K}/{cid}")).await.ok();
    }
}
