//! The Mailchimp Marketing API 3.0 emulator over real HTTP (started in-process with `Emulator::start` on
//! 127.0.0.1:0). Each rule row of the Mailchimp section of docs/wire-rules.md names a test here.

use std::io::Read as _;

use adsctl_emulator::config::{MailchimpAccountSeed, MailchimpListSeed};
use adsctl_emulator::platform::defaults::{
    MAILCHIMP_API_KEY, MAILCHIMP_CLIENT_ID, MAILCHIMP_CLIENT_SECRET, MAILCHIMP_LIST_ID, MAILCHIMP_OAUTH_TOKEN,
};
use adsctl_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use base64::Engine;
use serde_json::{json, Value};

const LIST: &str = MAILCHIMP_LIST_ID;

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
    fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "{}", self.text);
        assert!(self.header("x-request-id").is_some());
        &self.body
    }
    fn no_content(&self) {
        assert_eq!(self.status, 204, "{}", self.text);
        assert!(self.text.is_empty(), "a 204 has no body: {}", self.text);
    }
    /// A problem document of this status and title.
    fn err(&self, status: u16, title: &str) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.body["title"], title, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json; charset=utf-8"),
            "{}",
            self.text
        );
        assert_eq!(self.body["status"], status);
        assert!(self.body["detail"].is_string() && self.body["type"].is_string());
        assert_eq!(self.body["instance"].as_str(), self.header("x-request-id"));
        &self.body
    }
    /// The first `errors[]` entry's field.
    fn field(&self) -> &str {
        self.body["errors"][0]["field"].as_str().unwrap_or("?")
    }
    fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).and_then(|v| v.to_str().ok())
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

fn basic(key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("anystring:{key}"))
    )
}

fn md5_hex(s: &str) -> String {
    adsctl_emulator::mailchimp::subscriber_hash(s)
}

async fn start_with(cfg: EmulatorConfig) -> Env {
    let handle = Emulator::start(cfg).await.expect("emulator starts");
    Env {
        handle,
        http: reqwest::Client::new(),
    }
}

async fn start() -> Env {
    start_with(EmulatorConfig::default()).await
}

impl Env {
    fn base(&self, path: &str) -> String {
        format!("{}{path}", self.handle.url())
    }
    async fn call_auth(&self, method: &str, path: &str, body: Option<Value>, auth: Option<&str>) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self.http.request(m, self.base(&format!("/3.0{path}")));
        if let Some(a) = auth {
            rb = rb.header("authorization", a);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        to_resp(rb.send().await.unwrap()).await
    }
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.call_auth(method, path, body, Some(&basic(MAILCHIMP_API_KEY)))
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
    async fn raw(&self, method: &str, path: &str, body: &str, headers: &[(&str, &str)]) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self
            .http
            .request(m, self.base(&format!("/3.0{path}")))
            .header("authorization", basic(MAILCHIMP_API_KEY))
            .body(body.to_string());
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        to_resp(rb.send().await.unwrap()).await
    }
    async fn subscribe(&self, email: &str) -> Value {
        let r = self
            .post(
                &format!("/lists/{LIST}/members"),
                json!({"email_address": email, "status": "subscribed"}),
            )
            .await;
        r.ok().clone()
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
    /// A regular campaign to LIST with everything the checklist wants.
    async fn ready_campaign(&self) -> String {
        let c = self
            .post(
                "/campaigns",
                json!({"type": "regular", "recipients": {"list_id": LIST},
                       "settings": {"subject_line": "Hello", "preview_text": "pre", "title": "T1",
                                    "from_name": "Acme", "reply_to": "news@acme.org"}}),
            )
            .await;
        let id = c.ok()["id"].as_str().unwrap().to_string();
        self.put(
            &format!("/campaigns/{id}/content"),
            json!({"html": "<p>Hi <a href=\"https://acme.org/a\">a</a> <a href=\"https://acme.org/b\">b</a></p>"}),
        )
        .await
        .ok();
        id
    }
}

fn list_body() -> Value {
    json!({
        "name": "Newsletter",
        "contact": {"company": "Acme", "address1": "1 Main St", "city": "Atlanta", "state": "GA", "zip": "30308",
                    "country": "US"},
        "permission_reminder": "You signed up at acme.org",
        "campaign_defaults": {"from_name": "Acme", "from_email": "news@acme.org", "subject": "", "language": "en"},
        "email_type_option": false
    })
}

mod auth {
    use super::*;

    #[tokio::test]
    async fn basic_with_any_user_bearer_and_oauth_headers_are_served() {
        let env = start().await;
        let r = env.get("/").await;
        assert_eq!(
            r.ok()["account_id"],
            adsctl_emulator::platform::defaults::MAILCHIMP_ACCOUNT_ID
        );
        assert_eq!(r.header("content-type"), Some("application/json; charset=utf-8"));
        let other_user = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("someone-else:{MAILCHIMP_API_KEY}"))
        );
        env.call_auth("GET", "/ping", None, Some(&other_user)).await.ok();
        let bearer = format!("Bearer {MAILCHIMP_API_KEY}");
        let r = env.call_auth("GET", "/ping", None, Some(&bearer)).await;
        assert_eq!(r.ok()["health_status"], "Everything's Chimpy!");
        let oauth = format!("OAuth {MAILCHIMP_OAUTH_TOKEN}");
        env.call_auth("GET", "/lists", None, Some(&oauth)).await.ok();
        env.call_auth("GET", "/lists", None, Some(&basic(MAILCHIMP_OAUTH_TOKEN)))
            .await
            .ok();
    }

    #[tokio::test]
    async fn missing_credentials_is_401_api_key_missing() {
        let env = start().await;
        env.call_auth("GET", "/lists", None, None)
            .await
            .err(401, "API Key Missing");
    }

    #[tokio::test]
    async fn unknown_key_is_401_api_key_invalid() {
        let env = start().await;
        let r = env
            .call_auth(
                "GET",
                "/lists",
                None,
                Some(&basic("ffffffffffffffffffffffffffffffff-us6")),
            )
            .await;
        r.err(401, "API Key Invalid");
    }

    #[tokio::test]
    async fn key_of_another_data_center_is_401_api_key_invalid() {
        let env = start().await;
        let other_dc = MAILCHIMP_API_KEY.replace("-us6", "-us19");
        let r = env.call_auth("GET", "/lists", None, Some(&basic(&other_dc))).await;
        let b = r.err(401, "API Key Invalid");
        assert!(b["detail"].as_str().unwrap().contains("wrong datacenter"));
        // a seeded key of the other dc on an emulator configured for it is served
        let mut cfg = EmulatorConfig::default();
        cfg.seed.mailchimp.dc = Some("us19".into());
        cfg.seed.mailchimp.api_keys = vec![other_dc.clone()];
        let env19 = start_with(cfg).await;
        env19
            .call_auth("GET", "/lists", None, Some(&basic(&other_dc)))
            .await
            .ok();
        env19.get("/lists").await.err(401, "API Key Invalid");
    }

    #[tokio::test]
    async fn apikey_query_parameter_on_get_must_agree_with_the_header() {
        let env = start().await;
        let url = env.base(&format!("/3.0/lists?apikey={MAILCHIMP_API_KEY}"));
        let r = to_resp(env.http.get(&url).send().await.unwrap()).await;
        r.ok();
        let r = to_resp(
            env.http
                .get(&url)
                .header("authorization", basic("00000000000000000000000000000000-us6"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let b = r.err(401, "API Key Invalid");
        assert!(b["detail"].as_str().unwrap().contains("not consistent"));
        // only GET takes it
        let r = to_resp(env.http.post(&url).json(&list_body()).send().await.unwrap()).await;
        r.err(401, "API Key Missing");
    }

    #[tokio::test]
    async fn seeded_accounts_reach_only_their_own_audiences() {
        let mut cfg = EmulatorConfig::default();
        cfg.seed.mailchimp.accounts = vec![MailchimpAccountSeed {
            account_id: "other1".into(),
            name: Some("Other".into()),
            api_keys: vec!["abcdefabcdefabcdefabcdefabcdefab-us6".into()],
            oauth_tokens: vec![],
            lists: vec![MailchimpListSeed {
                id: Some("aaaaaaaaaa".into()),
                name: "Theirs".into(),
                members: vec!["x@other.org".into()],
            }],
        }];
        let env = start_with(cfg).await;
        let theirs = basic("abcdefabcdefabcdefabcdefabcdefab-us6");
        let r = env.call_auth("GET", "/lists", None, Some(&theirs)).await;
        assert_eq!(r.ok()["total_items"], 1);
        assert_eq!(r.body["lists"][0]["stats"]["member_count"], 1);
        env.get("/lists/aaaaaaaaaa").await.err(404, "Resource Not Found");
        env.call_auth("GET", &format!("/lists/{LIST}"), None, Some(&theirs))
            .await
            .err(404, "Resource Not Found");
    }
}

mod errors {
    use super::*;

    #[tokio::test]
    async fn errors_are_problem_documents_with_request_id_and_link() {
        let env = start().await;
        let r = env.get("/lists/0000000000").await;
        r.err(404, "Resource Not Found");
        assert!(r.header("link").unwrap().contains("rel=\"describedBy\""));
        env.get("/nothing/here").await.err(404, "Resource Not Found");
    }

    #[tokio::test]
    async fn unsupported_method_is_405_with_allow() {
        let env = start().await;
        let r = env.put(&format!("/lists/{LIST}"), list_body()).await;
        r.err(405, "Method Not Allowed");
        assert_eq!(r.header("allow"), Some("GET, POST, PATCH, DELETE"));
    }

    #[tokio::test]
    async fn method_override_only_on_post_else_422() {
        let env = start().await;
        let id = env.post("/lists", list_body()).await.ok()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = env
            .raw(
                "POST",
                &format!("/lists/{id}"),
                "",
                &[("x-http-method-override", "DELETE")],
            )
            .await;
        r.no_content();
        let r = env
            .raw("GET", "/lists", "", &[("x-http-method-override", "DELETE")])
            .await;
        r.err(422, "Invalid Method Override");
    }

    #[tokio::test]
    async fn malformed_json_is_json_parse_exception() {
        let env = start().await;
        let r = env
            .raw("POST", "/lists", "{\"name\": ", &[("content-type", "application/json")])
            .await;
        r.err(400, "JSON Parse Exception");
    }

    #[tokio::test]
    async fn trigger_error_header_answers_the_named_error() {
        let env = start().await;
        env.raw("GET", "/ping", "", &[("x-trigger-error", "APIKeyMissing")])
            .await
            .err(401, "API Key Missing");
        env.raw("GET", "/ping", "", &[("x-trigger-error", "TooManyRequests")])
            .await
            .err(429, "Too Many Requests");
        env.raw("GET", "/ping", "", &[("x-trigger-error", "InternalServerError")])
            .await
            .err(500, "Internal Server Error");
    }

    #[tokio::test]
    async fn count_default_10_at_most_1000_with_total_items() {
        let env = start().await;
        for i in 0..12 {
            env.subscribe(&format!("p{i}@acme.org")).await;
        }
        let r = env.get(&format!("/lists/{LIST}/members")).await;
        assert_eq!(r.ok()["members"].as_array().unwrap().len(), 10);
        assert_eq!(r.body["total_items"], 12);
        let r = env.get(&format!("/lists/{LIST}/members?count=5&offset=10")).await;
        assert_eq!(r.ok()["members"].as_array().unwrap().len(), 2);
        env.get(&format!("/lists/{LIST}/members?count=1000")).await.ok();
        let r = env.get(&format!("/lists/{LIST}/members?count=1001")).await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "count");
    }

    #[tokio::test]
    async fn fields_and_exclude_fields_shape_the_response() {
        let env = start().await;
        let r = env.get("/lists?fields=lists.id,lists.name,total_items").await;
        let l = &r.ok()["lists"][0];
        assert_eq!(l.as_object().unwrap().len(), 2, "{l}");
        assert!(r.body.get("_links").is_none());
        let r = env.get(&format!("/lists/{LIST}?exclude_fields=stats,contact")).await;
        assert!(r.ok().get("stats").is_none() && r.body.get("name").is_some());
        env.get("/lists?fields=lists.id&exclude_fields=total_items")
            .await
            .err(400, "Bad Request");
        env.get("/lists?fields=lists.nope").await.err(400, "Bad Request");
    }

    #[tokio::test]
    async fn boolean_query_parameters_take_true_or_1() {
        let env = start().await;
        let r = env.get(&format!("/lists/{LIST}?include_total_contacts=1")).await;
        assert!(r.ok()["stats"].get("total_contacts").is_some());
        let r = env.get(&format!("/lists/{LIST}?include_total_contacts=TRUE")).await;
        assert!(r.ok()["stats"].get("total_contacts").is_some());
        let r = env.get(&format!("/lists/{LIST}?include_total_contacts=yes")).await;
        assert!(r.ok()["stats"].get("total_contacts").is_none());
    }
}

mod lists {
    use super::*;

    #[tokio::test]
    async fn create_requires_name_contact_reminder_defaults_and_email_type_option() {
        let env = start().await;
        let r = env.post("/lists", list_body()).await;
        let l = r.ok();
        assert_eq!(l["id"].as_str().unwrap().len(), 10);
        assert_eq!(l["stats"]["member_count"], 0);
        assert_eq!(l["stats"]["last_sub_date"], "");
        let mut b = list_body();
        b.as_object_mut().unwrap().remove("permission_reminder");
        b.as_object_mut().unwrap().remove("email_type_option");
        let r = env.post("/lists", b).await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "");
        assert_eq!(
            r.body["errors"][0]["message"],
            "Required fields were not provided: permission_reminder, email_type_option"
        );
        let mut b = list_body();
        b["contact"].as_object_mut().unwrap().remove("city");
        let r = env.post("/lists", b).await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "contact");
        let mut b = list_body();
        b["campaign_defaults"].as_object_mut().unwrap().remove("language");
        assert_eq!(env.post("/lists", b).await.field(), "campaign_defaults");
    }

    #[tokio::test]
    async fn wrong_json_type_is_a_schema_error() {
        let env = start().await;
        let mut b = list_body();
        b["email_type_option"] = json!("no");
        let r = env.post("/lists", b).await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "email_type_option");
        assert_eq!(
            r.body["errors"][0]["message"],
            "Schema describes boolean, string found instead"
        );
    }

    #[tokio::test]
    async fn patch_needs_the_full_settings_object() {
        let env = start().await;
        let id = env.post("/lists", list_body()).await.ok()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = env.patch(&format!("/lists/{id}"), json!({"name": "Renamed"})).await;
        r.err(400, "Invalid Resource");
        let mut b = list_body();
        b["contact"].as_object_mut().unwrap().remove("zip");
        let r = env.patch(&format!("/lists/{id}"), b).await;
        assert_eq!(
            r.err(400, "Invalid Resource")["errors"][0]["message"],
            "Required fields were not provided: zip"
        );
        let mut b = list_body();
        b["name"] = json!("Renamed");
        b["double_optin"] = json!(true);
        let r = env.patch(&format!("/lists/{id}"), b).await;
        assert_eq!(r.ok()["name"], "Renamed");
        assert_eq!(r.body["double_optin"], true);
    }

    #[tokio::test]
    async fn delete_removes_the_audience_and_its_contacts() {
        let env = start().await;
        let id = env.post("/lists", list_body()).await.ok()["id"]
            .as_str()
            .unwrap()
            .to_string();
        env.post(
            &format!("/lists/{id}/members"),
            json!({"email_address": "a@acme.org", "status": "subscribed"}),
        )
        .await
        .ok();
        env.delete(&format!("/lists/{id}")).await.no_content();
        env.get(&format!("/lists/{id}")).await.err(404, "Resource Not Found");
        env.get(&format!("/lists/{id}/members"))
            .await
            .err(404, "Resource Not Found");
    }

    #[tokio::test]
    async fn a_new_audience_has_the_default_merge_fields() {
        let env = start().await;
        let id = env.post("/lists", list_body()).await.ok()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = env.get(&format!("/lists/{id}/merge-fields")).await;
        let tags: Vec<&str> = r.ok()["merge_fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["tag"].as_str().unwrap())
            .collect();
        assert_eq!(tags, vec!["FNAME", "LNAME", "ADDRESS", "PHONE"]);
    }
}

mod merge_fields {
    use super::*;

    #[tokio::test]
    async fn create_needs_name_and_a_known_type() {
        let env = start().await;
        let p = format!("/lists/{LIST}/merge-fields");
        env.post(&p, json!({"name": "LTV"})).await.err(400, "Invalid Resource");
        let r = env.post(&p, json!({"name": "LTV", "type": "money"})).await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "type");
        let r = env.post(&p, json!({"name": "Lifetime value", "type": "number"})).await;
        assert_eq!(r.ok()["tag"], "LIFETIMEVA");
        assert!(r.body["merge_id"].as_i64().unwrap() > 4);
        assert_eq!(r.body["list_id"], LIST);
    }

    #[tokio::test]
    async fn a_taken_tag_is_invalid_resource() {
        let env = start().await;
        let p = format!("/lists/{LIST}/merge-fields");
        let r = env
            .post(&p, json!({"name": "First", "type": "text", "tag": "FNAME"}))
            .await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "tag");
    }

    #[tokio::test]
    async fn type_is_immutable_and_name_required_on_patch() {
        let env = start().await;
        let p = format!("/lists/{LIST}/merge-fields/1");
        env.patch(&p, json!({"required": true}))
            .await
            .err(400, "Invalid Resource");
        let r = env.patch(&p, json!({"name": "Given name", "type": "number"})).await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "type");
        let r = env.patch(&p, json!({"name": "Given name", "help_text": "h"})).await;
        assert_eq!(r.ok()["name"], "Given name");
        env.delete(&format!("/lists/{LIST}/merge-fields/4")).await.no_content();
        env.get(&format!("/lists/{LIST}/merge-fields/4"))
            .await
            .err(404, "Resource Not Found");
    }

    #[tokio::test]
    async fn required_merge_field_is_enforced_unless_skip_merge_validation() {
        let env = start().await;
        env.post(
            &format!("/lists/{LIST}/merge-fields"),
            json!({"name": "Company", "type": "text", "tag": "COMPANY", "required": true}),
        )
        .await
        .ok();
        let p = format!("/lists/{LIST}/members");
        let r = env
            .post(&p, json!({"email_address": "r@acme.org", "status": "subscribed"}))
            .await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "COMPANY");
        env.post(
            &p,
            json!({"email_address": "r@acme.org", "status": "subscribed", "merge_fields": {"COMPANY": "Acme"}}),
        )
        .await
        .ok();
        env.post(
            &format!("{p}?skip_merge_validation=true"),
            json!({"email_address": "s@acme.org", "status": "subscribed"}),
        )
        .await
        .ok();
    }

    #[tokio::test]
    async fn values_are_checked_per_type() {
        let env = start().await;
        let mf = format!("/lists/{LIST}/merge-fields");
        env.post(&mf, json!({"name": "Score", "type": "number", "tag": "SCORE"}))
            .await
            .ok();
        env.post(
            &mf,
            json!({"name": "Plan", "type": "dropdown", "tag": "PLAN", "options": {"choices": ["free", "pro"]}}),
        )
        .await
        .ok();
        env.post(&mf, json!({"name": "Zip", "type": "zip", "tag": "ZIP"}))
            .await
            .ok();
        let p = format!("/lists/{LIST}/members");
        let post = |mf: Value| {
            let env = &env;
            let p = p.clone();
            async move {
                env.post(
                    &p,
                    json!({"email_address": "v@acme.org", "status": "subscribed", "merge_fields": mf}),
                )
                .await
            }
        };
        let r = post(json!({"SCORE": "lots"})).await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.body["errors"][0]["message"], "Please enter a number");
        assert_eq!(post(json!({"PLAN": "gold"})).await.field(), "PLAN");
        assert_eq!(post(json!({"ZIP": "1234"})).await.field(), "ZIP");
        assert_eq!(post(json!({"NOPE": "x"})).await.field(), "NOPE");
        assert_eq!(post(json!({"ADDRESS": {"addr1": "1 Main"}})).await.field(), "ADDRESS");
        post(json!({"SCORE": 12, "PLAN": "pro", "ZIP": "30308"})).await.ok();
    }
}

mod members {
    use super::*;

    #[tokio::test]
    async fn subscriber_hash_is_the_md5_of_the_lower_cased_address() {
        let env = start().await;
        let m = env.subscribe("Mixed.Case@Acme.org").await;
        assert_eq!(m["id"], md5_hex("mixed.case@acme.org"));
        assert_eq!(m["status"], "subscribed");
        assert_eq!(m["list_id"], LIST);
        let h = md5_hex("mixed.case@acme.org");
        env.get(&format!("/lists/{LIST}/members/{h}")).await.ok();
        // the address itself is accepted in place of the hash
        let r = env.get(&format!("/lists/{LIST}/members/mixed.case@acme.org")).await;
        assert_eq!(r.ok()["id"], h);
        env.get(&format!("/lists/{LIST}/members/{}", md5_hex("nobody@acme.org")))
            .await
            .err(404, "Resource Not Found");
    }

    #[tokio::test]
    async fn post_requires_email_address_and_a_known_status() {
        let env = start().await;
        let p = format!("/lists/{LIST}/members");
        let r = env.post(&p, json!({"email_address": "a@acme.org"})).await;
        assert_eq!(
            r.err(400, "Invalid Resource")["errors"][0]["message"],
            "Required fields were not provided: status"
        );
        let r = env
            .post(&p, json!({"email_address": "a@acme.org", "status": "archived"}))
            .await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "status");
        for s in ["subscribed", "unsubscribed", "cleaned", "pending", "transactional"] {
            let r = env
                .post(&p, json!({"email_address": format!("{s}@acme.org"), "status": s}))
                .await;
            assert_eq!(r.ok()["status"], s);
        }
    }

    #[tokio::test]
    async fn post_of_an_existing_address_is_member_exists() {
        let env = start().await;
        env.subscribe("dup@acme.org").await;
        let r = env
            .post(
                &format!("/lists/{LIST}/members"),
                json!({"email_address": "DUP@acme.org", "status": "subscribed"}),
            )
            .await;
        let b = r.err(400, "Member Exists");
        assert!(b["detail"].as_str().unwrap().contains("Use PUT"));
    }

    #[tokio::test]
    async fn an_address_that_looks_fake_is_invalid_resource() {
        let env = start().await;
        let r = env
            .post(
                &format!("/lists/{LIST}/members"),
                json!({"email_address": "not-an-address", "status": "subscribed"}),
            )
            .await;
        let b = r.err(400, "Invalid Resource");
        assert!(b["detail"].as_str().unwrap().contains("looks fake or invalid"));
    }

    #[tokio::test]
    async fn put_upserts_and_needs_status_if_new() {
        let env = start().await;
        let h = md5_hex("up@acme.org");
        let p = format!("/lists/{LIST}/members/{h}");
        let r = env.put(&p, json!({"email_address": "up@acme.org"})).await;
        assert_eq!(
            r.err(400, "Invalid Resource")["errors"][0]["message"],
            "Required fields were not provided: status_if_new"
        );
        let r = env
            .put(
                &p,
                json!({"email_address": "up@acme.org", "status_if_new": "pending",
                             "merge_fields": {"FNAME": "Up"}}),
            )
            .await;
        assert_eq!(r.ok()["status"], "pending");
        // existing: status_if_new is ignored, status changes it
        let r = env
            .put(
                &p,
                json!({"email_address": "up@acme.org", "status_if_new": "unsubscribed", "status": "subscribed"}),
            )
            .await;
        assert_eq!(r.ok()["status"], "subscribed");
        assert_eq!(r.body["merge_fields"]["FNAME"], "Up");
    }

    #[tokio::test]
    async fn put_of_a_new_member_needs_the_hash_of_its_address() {
        let env = start().await;
        let r = env
            .put(
                &format!("/lists/{LIST}/members/{}", md5_hex("one@acme.org")),
                json!({"email_address": "two@acme.org", "status_if_new": "subscribed"}),
            )
            .await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "email_address");
    }

    #[tokio::test]
    async fn put_and_patch_do_not_set_tags() {
        let env = start().await;
        let h = md5_hex("t@acme.org");
        let p = format!("/lists/{LIST}/members/{h}");
        let r = env
            .put(
                &p,
                json!({"email_address": "t@acme.org", "status_if_new": "subscribed", "tags": ["VIP"]}),
            )
            .await;
        assert_eq!(r.ok()["tags_count"], 0);
        let r = env.patch(&p, json!({"tags": ["VIP"], "vip": true})).await;
        assert_eq!(r.ok()["tags"], json!([]));
        assert_eq!(r.body["vip"], true);
    }

    #[tokio::test]
    async fn patch_is_partial_and_its_status_has_no_transactional() {
        let env = start().await;
        env.subscribe("pa@acme.org").await;
        let p = format!("/lists/{LIST}/members/{}", md5_hex("pa@acme.org"));
        let r = env.patch(&p, json!({"status": "transactional"})).await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "status");
        let r = env.patch(&p, json!({"status": "unsubscribed"})).await;
        assert_eq!(r.ok()["status"], "unsubscribed");
        assert_eq!(r.body["email_address"], "pa@acme.org");
        env.patch(
            &format!("/lists/{LIST}/members/{}", md5_hex("none@acme.org")),
            json!({}),
        )
        .await
        .err(404, "Resource Not Found");
    }

    #[tokio::test]
    async fn delete_archives_and_an_archived_member_is_405_with_allow() {
        let env = start().await;
        env.subscribe("ar@acme.org").await;
        let p = format!("/lists/{LIST}/members/{}", md5_hex("ar@acme.org"));
        env.delete(&p).await.no_content();
        assert_eq!(env.get(&p).await.ok()["status"], "archived");
        let r = env.delete(&p).await;
        r.err(405, "Method Not Allowed");
        assert_eq!(r.header("allow"), Some("GET, PUT"));
        env.patch(&p, json!({"vip": true})).await.err(405, "Method Not Allowed");
        // filtered lists
        let r = env.get(&format!("/lists/{LIST}/members?status=archived")).await;
        assert_eq!(r.ok()["total_items"], 1);
        // PUT brings it back
        let r = env
            .put(
                &p,
                json!({"email_address": "ar@acme.org", "status_if_new": "subscribed"}),
            )
            .await;
        assert_eq!(r.ok()["status"], "subscribed");
        // pending and cleaned members cannot be archived either
        env.post(
            &format!("/lists/{LIST}/members"),
            json!({"email_address": "pe@acme.org", "status": "pending"}),
        )
        .await
        .ok();
        env.delete(&format!("/lists/{LIST}/members/{}", md5_hex("pe@acme.org")))
            .await
            .err(405, "Method Not Allowed");
    }

    #[tokio::test]
    async fn delete_permanent_is_irreversible() {
        let env = start().await;
        env.subscribe("gone@acme.org").await;
        let h = md5_hex("gone@acme.org");
        env.post(
            &format!("/lists/{LIST}/members/{h}/actions/delete-permanent"),
            json!({}),
        )
        .await
        .no_content();
        env.get(&format!("/lists/{LIST}/members/{h}"))
            .await
            .err(404, "Resource Not Found");
        let r = env
            .post(
                &format!("/lists/{LIST}/members"),
                json!({"email_address": "gone@acme.org", "status": "subscribed"}),
            )
            .await;
        r.err(400, "Forgotten Email Not Subscribed");
        env.put(
            &format!("/lists/{LIST}/members/{h}"),
            json!({"email_address": "gone@acme.org", "status_if_new": "subscribed"}),
        )
        .await
        .err(400, "Forgotten Email Not Subscribed");
        let r = env
            .post(
                &format!("/lists/{LIST}"),
                json!({"members": [{"email_address": "gone@acme.org", "status": "subscribed"}]}),
            )
            .await;
        assert_eq!(r.ok()["error_count"], 1);
        let admin = env
            .admin_get(&format!("/_emulator/mailchimp/lists/{LIST}/members"))
            .await;
        assert_eq!(admin["forgotten"], json!([h]));
    }

    #[tokio::test]
    async fn batch_subscribe_takes_at_most_500_and_reports_partial_errors() {
        let env = start().await;
        env.subscribe("old@acme.org").await;
        let p = format!("/lists/{LIST}");
        let many: Vec<Value> = (0..501)
            .map(|i| json!({"email_address": format!("m{i}@acme.org"), "status": "subscribed"}))
            .collect();
        let r = env.post(&p, json!({"members": many})).await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "members");
        let r = env
            .post(
                &p,
                json!({"members": [
                    {"email_address": "new@acme.org", "status": "subscribed"},
                    {"email_address": "old@acme.org", "status": "unsubscribed"},
                    {"email_address": "bad", "status": "subscribed"}]}),
            )
            .await;
        let b = r.ok();
        assert_eq!(b["total_created"], 1);
        assert_eq!(b["error_count"], 2);
        assert_eq!(b["errors"][0]["error_code"], "ERROR_CONTACT_EXISTS");
        assert_eq!(b["errors"][1]["error_code"], "ERROR_GENERIC");
        let r = env
            .post(
                &p,
                json!({"update_existing": true,
                       "members": [{"email_address": "old@acme.org", "status": "unsubscribed"}]}),
            )
            .await;
        assert_eq!(r.ok()["total_updated"], 1);
        assert_eq!(r.body["updated_members"][0]["status"], "unsubscribed");
    }
}

mod tags {
    use super::*;

    #[tokio::test]
    async fn post_member_accepts_tags_as_static_segments() {
        let env = start().await;
        let r = env
            .post(
                &format!("/lists/{LIST}/members"),
                json!({"email_address": "tg@acme.org", "status": "subscribed", "tags": ["VIP", "Beta"]}),
            )
            .await;
        assert_eq!(r.ok()["tags_count"], 2);
        let r = env.get(&format!("/lists/{LIST}/segments?type=static")).await;
        let segs = r.ok()["segments"].as_array().unwrap().clone();
        assert_eq!(segs.len(), 2);
        let vip = segs.iter().find(|s| s["name"] == "VIP").unwrap();
        assert_eq!(vip["member_count"], 1);
        let tag_id = r.body["segments"][0]["id"].clone();
        let tags = env
            .get(&format!("/lists/{LIST}/members/{}/tags", md5_hex("tg@acme.org")))
            .await;
        assert!(tags.ok()["tags"].as_array().unwrap().iter().any(|t| t["id"] == tag_id));
    }

    #[tokio::test]
    async fn the_tags_endpoint_activates_and_deactivates_by_name() {
        let env = start().await;
        env.subscribe("tt@acme.org").await;
        let p = format!("/lists/{LIST}/members/{}/tags", md5_hex("tt@acme.org"));
        env.post(
            &p,
            json!({"tags": [{"name": "VIP", "status": "active"}, {"name": "X", "status": "active"}]}),
        )
        .await
        .no_content();
        assert_eq!(env.get(&p).await.ok()["total_items"], 2);
        env.post(
            &p,
            json!({"tags": [{"name": "VIP", "status": "inactive"}], "is_syncing": true}),
        )
        .await
        .no_content();
        let r = env.get(&p).await;
        assert_eq!(r.ok()["tags"][0]["name"], "X");
        assert_eq!(r.body["total_items"], 1);
        let r = env.post(&p, json!({"tags": [{"name": "VIP", "status": "on"}]})).await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "tags.0.status");
        env.post(&p, json!({"tags": [{"name": "VIP"}]}))
            .await
            .err(400, "Invalid Resource");
    }

    #[tokio::test]
    async fn tag_search_finds_tags_by_name() {
        let env = start().await;
        env.post(
            &format!("/lists/{LIST}/members"),
            json!({"email_address": "ts@acme.org", "status": "subscribed", "tags": ["Spring Sale", "VIP"]}),
        )
        .await
        .ok();
        let r = env.get(&format!("/lists/{LIST}/tag-search?name=spring")).await;
        assert_eq!(r.ok()["total_items"], 1);
        assert_eq!(r.body["tags"][0]["name"], "Spring Sale");
    }

    #[tokio::test]
    async fn deleting_the_segment_deletes_the_tag() {
        let env = start().await;
        let m = env
            .post(
                &format!("/lists/{LIST}/members"),
                json!({"email_address": "dt@acme.org", "status": "subscribed", "tags": ["Old"]}),
            )
            .await;
        let tag = m.ok()["tags"][0]["id"].as_i64().unwrap();
        env.delete(&format!("/lists/{LIST}/segments/{tag}")).await.no_content();
        let r = env
            .get(&format!("/lists/{LIST}/members/{}", md5_hex("dt@acme.org")))
            .await;
        assert_eq!(r.ok()["tags_count"], 0);
    }
}

mod segments {
    use super::*;

    #[tokio::test]
    async fn static_segment_and_options_are_exclusive() {
        let env = start().await;
        let p = format!("/lists/{LIST}/segments");
        let r = env
            .post(
                &p,
                json!({"name": "Both", "static_segment": [], "options": {"match": "any", "conditions": []}}),
            )
            .await;
        r.err(400, "Invalid Resource");
        env.post(&p, json!({"static_segment": []}))
            .await
            .err(400, "Invalid Resource");
        let r = env.post(&p, json!({"name": "Empty", "static_segment": []})).await;
        assert_eq!(r.ok()["type"], "static");
        assert_eq!(r.body["member_count"], 0);
        let r = env
            .post(
                &p,
                json!({"name": "Saved", "options": {"match": "all", "conditions": [
                {"condition_type": "EmailAddress", "field": "EMAIL", "op": "contains", "value": "acme"}]}}),
            )
            .await;
        assert_eq!(r.ok()["type"], "saved");
    }

    #[tokio::test]
    async fn a_saved_segment_has_at_most_10_conditions() {
        let env = start().await;
        let cond = json!({"condition_type": "EmailAddress", "field": "EMAIL", "op": "contains", "value": "a"});
        let r = env
            .post(
                &format!("/lists/{LIST}/segments"),
                json!({"name": "Big", "options": {"match": "any", "conditions": vec![cond; 11]}}),
            )
            .await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "options.conditions");
    }

    #[tokio::test]
    async fn members_to_add_and_remove_at_most_500_each() {
        let env = start().await;
        env.subscribe("s1@acme.org").await;
        env.subscribe("s2@acme.org").await;
        let seg = env
            .post(
                &format!("/lists/{LIST}/segments"),
                json!({"name": "Batch", "static_segment": ["s1@acme.org"]}),
            )
            .await;
        let id = seg.ok()["id"].as_i64().unwrap();
        assert_eq!(seg.body["member_count"], 1);
        let p = format!("/lists/{LIST}/segments/{id}");
        let too_many: Vec<String> = (0..501).map(|i| format!("x{i}@acme.org")).collect();
        let r = env.post(&p, json!({"members_to_add": too_many})).await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "members_to_add");
        let r = env
            .post(
                &p,
                json!({"members_to_add": ["s2@acme.org", "stranger@acme.org"], "members_to_remove": ["s1@acme.org"]}),
            )
            .await;
        let b = r.ok();
        assert_eq!(b["total_added"], 1);
        assert_eq!(b["total_removed"], 1);
        assert_eq!(b["error_count"], 1);
        assert_eq!(b["errors"][0]["email_addresses"], json!(["stranger@acme.org"]));
        let r = env.get(&format!("{p}/members")).await;
        assert_eq!(r.ok()["members"][0]["email_address"], "s2@acme.org");
    }

    #[tokio::test]
    async fn single_members_are_added_and_removed() {
        let env = start().await;
        env.subscribe("one@acme.org").await;
        let id = env
            .post(
                &format!("/lists/{LIST}/segments"),
                json!({"name": "One", "static_segment": []}),
            )
            .await
            .ok()["id"]
            .as_i64()
            .unwrap();
        let p = format!("/lists/{LIST}/segments/{id}/members");
        env.post(&p, json!({"email_address": "one@acme.org"})).await.ok();
        env.post(&p, json!({"email_address": "two@acme.org"}))
            .await
            .err(400, "Invalid Resource");
        env.delete(&format!("{p}/{}", md5_hex("one@acme.org")))
            .await
            .no_content();
        env.delete(&format!("{p}/{}", md5_hex("one@acme.org")))
            .await
            .err(404, "Resource Not Found");
        // PATCH with [] resets, the name is required
        env.patch(&format!("/lists/{LIST}/segments/{id}"), json!({"static_segment": []}))
            .await
            .err(400, "Invalid Resource");
        let r = env
            .patch(
                &format!("/lists/{LIST}/segments/{id}"),
                json!({"name": "Renamed", "static_segment": ["one@acme.org"]}),
            )
            .await;
        assert_eq!(r.ok()["member_count"], 1);
    }
}

mod campaigns {
    use super::*;

    #[tokio::test]
    async fn create_needs_a_type_and_an_audience_of_the_account() {
        let env = start().await;
        env.post("/campaigns", json!({"recipients": {"list_id": LIST}}))
            .await
            .err(400, "Invalid Resource");
        let r = env.post("/campaigns", json!({"type": "fancy"})).await;
        assert_eq!(r.field(), "type");
        let r = env
            .post(
                "/campaigns",
                json!({"type": "regular", "recipients": {"list_id": "0000000000"}}),
            )
            .await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "recipients.list_id");
        let r = env
            .post("/campaigns", json!({"type": "regular", "recipients": {"list_id": LIST, "segment_opts": {"saved_segment_id": 999999}}}))
            .await;
        assert_eq!(r.field(), "recipients.segment_opts.saved_segment_id");
        let r = env
            .post(
                "/campaigns",
                json!({"type": "regular", "recipients": {"list_id": LIST},
                                       "settings": {"subject_line": "S", "title": "T"}}),
            )
            .await;
        let c = r.ok();
        assert_eq!(c["status"], "save");
        assert_eq!(c["settings"]["subject_line"], "S");
        assert_eq!(c["recipients"]["list_name"], "Emulator audience");
    }

    #[tokio::test]
    async fn patch_requires_subject_line_from_name_and_reply_to() {
        let env = start().await;
        let id = env.ready_campaign().await;
        let p = format!("/campaigns/{id}");
        let r = env.patch(&p, json!({"settings": {"title": "only"}})).await;
        assert_eq!(
            r.err(400, "Invalid Resource")["errors"][0]["message"],
            "Required fields were not provided: subject_line, from_name, reply_to"
        );
        assert_eq!(r.field(), "settings");
        let r = env
            .patch(
                &p,
                json!({"settings": {"subject_line": "New", "from_name": "A", "reply_to": "a@acme.org"}}),
            )
            .await;
        assert_eq!(r.ok()["settings"]["subject_line"], "New");
        assert_eq!(r.body["settings"]["title"], "T1");
    }

    #[tokio::test]
    async fn content_is_put_and_read_back() {
        let env = start().await;
        let id = env.ready_campaign().await;
        let r = env.get(&format!("/campaigns/{id}/content")).await;
        assert!(r.ok()["html"].as_str().unwrap().contains("acme.org/a"));
        assert_eq!(r.body["plain_text"], "Hi a b");
        env.put(&format!("/campaigns/{id}/content"), json!({"template": {}}))
            .await
            .err(400, "Invalid Resource");
    }

    #[tokio::test]
    async fn send_needs_a_ready_checklist() {
        let env = start().await;
        let c = env
            .post(
                "/campaigns",
                json!({"type": "regular", "recipients": {"list_id": LIST},
                                       "settings": {"subject_line": "S", "from_name": "A"}}),
            )
            .await;
        let id = c.ok()["id"].as_str().unwrap().to_string();
        let r = env.get(&format!("/campaigns/{id}/send-checklist")).await;
        assert_eq!(r.ok()["is_ready"], false);
        let r = env.post(&format!("/campaigns/{id}/actions/send"), json!({})).await;
        assert_eq!(
            r.err(400, "Bad Request")["detail"],
            "Your Campaign is not ready to send."
        );
        let id = env.ready_campaign().await;
        assert_eq!(
            env.get(&format!("/campaigns/{id}/send-checklist")).await.ok()["is_ready"],
            true
        );
        env.subscribe("reader@acme.org").await;
        env.post(&format!("/campaigns/{id}/actions/send"), json!({}))
            .await
            .no_content();
        let r = env.get(&format!("/campaigns/{id}")).await;
        assert_eq!(r.ok()["status"], "sent");
        assert_eq!(r.body["emails_sent"], 1);
    }

    #[tokio::test]
    async fn schedule_time_is_on_the_quarter_hour_and_in_the_future() {
        let env = start().await;
        let id = env.ready_campaign().await;
        let p = format!("/campaigns/{id}/actions/schedule");
        env.post(&p, json!({})).await.err(400, "Invalid Resource");
        let r = env
            .post(&p, json!({"schedule_time": "2099-01-01T10:20:00+00:00"}))
            .await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "schedule_time");
        let r = env
            .post(&p, json!({"schedule_time": "2001-01-01T10:15:00+00:00"}))
            .await;
        assert_eq!(r.field(), "schedule_time");
        let r = env
            .post(
                &p,
                json!({"schedule_time": "2099-01-01T10:15:00+00:00", "timewarp": true,
                             "batch_delivery": {"batch_delay": 1, "batch_count": 2}}),
            )
            .await;
        assert_eq!(r.field(), "batch_delivery");
        env.post(&p, json!({"schedule_time": "2099-01-01T10:15:00+00:00"}))
            .await
            .no_content();
        let r = env.get(&format!("/campaigns/{id}")).await;
        assert_eq!(r.ok()["status"], "schedule");
        assert_eq!(r.body["send_time"], "2099-01-01T10:15:00+00:00");
    }

    #[tokio::test]
    async fn a_scheduled_campaign_is_not_edited_until_unscheduled() {
        let env = start().await;
        let id = env.ready_campaign().await;
        env.post(&format!("/campaigns/{id}/actions/unschedule"), json!({}))
            .await
            .err(400, "Invalid Action");
        env.post(
            &format!("/campaigns/{id}/actions/schedule"),
            json!({"schedule_time": "2099-01-01T10:00:00Z"}),
        )
        .await
        .no_content();
        let settings = json!({"settings": {"subject_line": "N", "from_name": "A", "reply_to": "a@acme.org"}});
        env.patch(&format!("/campaigns/{id}"), settings.clone())
            .await
            .err(400, "Invalid Action");
        env.put(&format!("/campaigns/{id}/content"), json!({"html": "<p>x</p>"}))
            .await
            .err(400, "Invalid Action");
        env.post(&format!("/campaigns/{id}/actions/unschedule"), json!({}))
            .await
            .no_content();
        env.patch(&format!("/campaigns/{id}"), settings).await.ok();
    }

    #[tokio::test]
    async fn a_sent_campaign_cannot_be_edited_or_sent_again() {
        let env = start().await;
        let id = env.ready_campaign().await;
        env.post(&format!("/campaigns/{id}/actions/send"), json!({}))
            .await
            .no_content();
        env.post(&format!("/campaigns/{id}/actions/send"), json!({}))
            .await
            .err(400, "Invalid Action");
        env.post(
            &format!("/campaigns/{id}/actions/schedule"),
            json!({"schedule_time": "2099-01-01T10:00:00Z"}),
        )
        .await
        .err(400, "Invalid Action");
        env.patch(
            &format!("/campaigns/{id}"),
            json!({"settings": {"subject_line": "N", "from_name": "A", "reply_to": "a@acme.org"}}),
        )
        .await
        .err(400, "Invalid Action");
        env.put(&format!("/campaigns/{id}/content"), json!({"html": "<p>x</p>"}))
            .await
            .err(400, "Invalid Action");
        // a sent campaign can be deleted
        env.delete(&format!("/campaigns/{id}")).await.no_content();
    }

    #[tokio::test]
    async fn a_scheduled_campaign_is_sent_when_the_clock_passes_its_time() {
        let env = start().await;
        env.subscribe("sched@acme.org").await;
        let id = env.ready_campaign().await;
        let now = chrono::Utc::now().timestamp();
        let at = (now / 900 + 2) * 900;
        let t = chrono::DateTime::from_timestamp(at, 0).unwrap().to_rfc3339();
        env.post(
            &format!("/campaigns/{id}/actions/schedule"),
            json!({"schedule_time": t}),
        )
        .await
        .no_content();
        env.get(&format!("/reports/{id}")).await.err(404, "Resource Not Found");
        env.admin("/_emulator/mailchimp/clock", json!({"advance_secs": 1900}))
            .await;
        let r = env.get(&format!("/campaigns/{id}")).await;
        assert_eq!(r.ok()["status"], "sent");
        assert_eq!(r.body["emails_sent"], 1);
        env.get(&format!("/reports/{id}")).await.ok();
    }

    #[tokio::test]
    async fn delete_while_sending_is_405() {
        let env = start().await;
        env.admin("/_emulator/mailchimp/config", json!({"send_duration_secs": 600}))
            .await;
        let id = env.ready_campaign().await;
        env.post(&format!("/campaigns/{id}/actions/send"), json!({}))
            .await
            .no_content();
        assert_eq!(env.get(&format!("/campaigns/{id}")).await.ok()["status"], "sending");
        env.delete(&format!("/campaigns/{id}"))
            .await
            .err(405, "Method Not Allowed");
        env.admin("/_emulator/mailchimp/clock", json!({"advance_secs": 601}))
            .await;
        assert_eq!(env.get(&format!("/campaigns/{id}")).await.ok()["status"], "sent");
        env.delete(&format!("/campaigns/{id}")).await.no_content();
    }

    #[tokio::test]
    async fn replicate_answers_200_with_a_new_draft() {
        let env = start().await;
        let id = env.ready_campaign().await;
        env.post(&format!("/campaigns/{id}/actions/send"), json!({}))
            .await
            .no_content();
        let r = env.post(&format!("/campaigns/{id}/actions/replicate"), json!({})).await;
        let c = r.ok();
        assert_ne!(c["id"], json!(id));
        assert_eq!(c["status"], "save");
        assert_eq!(c["parent_campaign_id"], json!(id));
        let list = env.get("/campaigns?status=save").await;
        assert_eq!(list.ok()["total_items"], 1);
    }
}

mod reports {
    use super::*;

    #[tokio::test]
    async fn an_unsent_campaign_has_no_report() {
        let env = start().await;
        let id = env.ready_campaign().await;
        env.get(&format!("/reports/{id}")).await.err(404, "Resource Not Found");
        env.get(&format!("/reports/{id}/sent-to"))
            .await
            .err(404, "Resource Not Found");
    }

    #[tokio::test]
    async fn a_sent_campaign_has_deterministic_consistent_numbers() {
        async fn run() -> (Value, Value, Value) {
            let env = start().await;
            let emails: Vec<Value> = (0..300)
                .map(|i| json!({"email_address": format!("r{i}@acme.org"), "status": "subscribed"}))
                .collect();
            env.post(&format!("/lists/{LIST}"), json!({"members": emails}))
                .await
                .ok();
            let id = env.ready_campaign().await;
            env.post(&format!("/campaigns/{id}/actions/send"), json!({}))
                .await
                .no_content();
            let r = env.get(&format!("/reports/{id}")).await.ok().clone();
            let sent = env.get(&format!("/reports/{id}/sent-to?count=1000")).await.ok().clone();
            let clicks = env.get(&format!("/reports/{id}/click-details")).await.ok().clone();
            (r, sent, clicks)
        }
        let (a, sent, clicks) = run().await;
        let (b, ..) = run().await;
        // (last_open / last_click follow the send time, which may fall in another second)
        for k in [
            "/opens/opens_total",
            "/opens/unique_opens",
            "/opens/open_rate",
            "/clicks/clicks_total",
            "/clicks/unique_clicks",
            "/clicks/click_rate",
            "/bounces",
            "/unsubscribed",
            "/emails_sent",
        ] {
            assert_eq!(a.pointer(k), b.pointer(k), "{k}");
        }
        assert_eq!(a["emails_sent"], 300);
        let opens = a["opens"]["unique_opens"].as_u64().unwrap();
        assert!(opens > 0 && opens <= 300);
        let rate = a["opens"]["open_rate"].as_f64().unwrap();
        assert!(rate > 0.0 && rate < 1.0);
        assert!(a["clicks"]["unique_clicks"].as_u64().unwrap() <= opens);
        assert_eq!(sent["total_items"], 300);
        let bounced = sent["sent_to"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["status"] != "sent")
            .count() as u64;
        assert_eq!(
            bounced,
            a["bounces"]["hard_bounces"].as_u64().unwrap() + a["bounces"]["soft_bounces"].as_u64().unwrap()
        );
        assert_eq!(clicks["total_items"], 2);
    }
}

mod batches {
    use super::*;

    fn untar(gz: &[u8]) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(gz));
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().to_string();
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            out.push((name, serde_json::from_str(&s).unwrap()));
        }
        out
    }

    async fn finish(env: &Env, id: &str) -> Value {
        assert_eq!(env.get(&format!("/batches/{id}")).await.ok()["status"], "started");
        env.get(&format!("/batches/{id}")).await.ok().clone()
    }

    #[tokio::test]
    async fn an_operation_body_must_be_a_json_string() {
        let env = start().await;
        let r = env
            .post(
                "/batches",
                json!({"operations": [{"method": "POST", "path": format!("/lists/{LIST}/members"),
                                       "body": {"email_address": "b@acme.org", "status": "subscribed"}}]}),
            )
            .await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "operations.0.body");
        assert_eq!(
            r.body["errors"][0]["message"],
            "Schema describes string, object found instead"
        );
        let r = env
            .post(
                "/batches",
                json!({"operations": [{"method": "FETCH", "path": "/lists"}]}),
            )
            .await;
        assert_eq!(r.field(), "operations.0.method");
        env.post("/batches", json!({"operations": [{"method": "GET"}]}))
            .await
            .err(400, "Invalid Resource");
    }

    #[tokio::test]
    async fn pending_started_finished_with_a_tar_gz_of_json_string_responses() {
        let env = start().await;
        let mut ops: Vec<Value> = (0..12)
            .map(|i| json!({"method": "POST", "path": format!("/lists/{LIST}/members"), "operation_id": format!("op{i}"),
                            "body": json!({"email_address": format!("b{i}@acme.org"), "status": "subscribed"}).to_string()}))
            .collect();
        ops.push(json!({"method": "GET", "path": "/lists/0000000000", "operation_id": "missing"}));
        let r = env.post("/batches", json!({"operations": ops})).await;
        let b = r.ok();
        assert_eq!(b["status"], "pending");
        assert_eq!(b["total_operations"], 13);
        assert_eq!(b["response_body_url"], "");
        let id = b["id"].as_str().unwrap().to_string();
        // nothing ran yet
        let admin = env
            .admin_get(&format!("/_emulator/mailchimp/lists/{LIST}/members"))
            .await;
        assert_eq!(admin["count"], 0);
        let done = finish(&env, &id).await;
        assert_eq!(done["status"], "finished");
        assert_eq!(done["finished_operations"], 13);
        assert_eq!(done["errored_operations"], 1);
        let url = done["response_body_url"].as_str().unwrap();
        let gz = env.http.get(url).send().await.unwrap().bytes().await.unwrap();
        let files = untar(&gz);
        assert_eq!(files.len(), 2, "at most 10 responses per file");
        let all: Vec<Value> = files.iter().flat_map(|(_, v)| v.as_array().unwrap().clone()).collect();
        assert_eq!(all.len(), 13);
        let ids: Vec<&str> = all.iter().map(|r| r["operation_id"].as_str().unwrap()).collect();
        assert_ne!(
            ids[..12],
            (0..12).map(|i| format!("op{i}")).collect::<Vec<_>>()[..],
            "unordered"
        );
        let missing = all.iter().find(|r| r["operation_id"] == "missing").unwrap();
        assert_eq!(missing["status_code"], 404);
        let inner: Value = serde_json::from_str(missing["response"].as_str().unwrap()).unwrap();
        assert_eq!(inner["title"], "Resource Not Found");
        let op0 = all.iter().find(|r| r["operation_id"] == "op0").unwrap();
        let inner: Value = serde_json::from_str(op0["response"].as_str().unwrap()).unwrap();
        assert_eq!(inner["email_address"], "b0@acme.org");
        let admin = env
            .admin_get(&format!("/_emulator/mailchimp/lists/{LIST}/members"))
            .await;
        assert_eq!(admin["count"], 12);
        let r = env.get("/batches").await;
        assert_eq!(r.ok()["total_items"], 1);
        env.delete(&format!("/batches/{id}")).await.no_content();
        env.get(&format!("/batches/{id}")).await.err(404, "Resource Not Found");
    }

    #[tokio::test]
    async fn the_results_url_expires_after_10_minutes() {
        let env = start().await;
        let r = env
            .post("/batches", json!({"operations": [{"method": "GET", "path": "/ping"}]}))
            .await;
        let id = r.ok()["id"].as_str().unwrap().to_string();
        let url = finish(&env, &id).await["response_body_url"]
            .as_str()
            .unwrap()
            .to_string();
        env.admin("/_emulator/mailchimp/clock", json!({"advance_secs": 599}))
            .await;
        assert_eq!(env.http.get(&url).send().await.unwrap().status(), 200);
        env.admin("/_emulator/mailchimp/clock", json!({"advance_secs": 2}))
            .await;
        let r = env.http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert!(r.text().await.unwrap().contains("Request has expired"));
        // a fresh GET of the batch signs a fresh URL
        let fresh = env.get(&format!("/batches/{id}")).await.ok()["response_body_url"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(env.http.get(&fresh).send().await.unwrap().status(), 200);
        let tampered = url.replace("signature=", "signature=0");
        assert_eq!(env.http.get(&tampered).send().await.unwrap().status(), 403);
    }

    #[tokio::test]
    async fn pending_batches_are_limited() {
        let env = start().await;
        env.admin("/_emulator/mailchimp/config", json!({"max_pending_batches": 2}))
            .await;
        for _ in 0..2 {
            env.post("/batches", json!({"operations": []})).await.ok();
        }
        env.post("/batches", json!({"operations": []}))
            .await
            .err(429, "Too Many Requests");
    }

    #[tokio::test]
    async fn a_get_operation_without_count_returns_the_whole_collection() {
        let env = start().await;
        for i in 0..15 {
            env.subscribe(&format!("g{i}@acme.org")).await;
        }
        let ops = json!([
            {"method": "GET", "path": format!("/lists/{LIST}/members"), "operation_id": "all"},
            {"method": "GET", "path": format!("/lists/{LIST}/members"), "operation_id": "five", "params": {"count": 5}},
            {"method": "DELETE", "path": format!("/lists/{LIST}/members/{}", md5_hex("g0@acme.org")), "operation_id": "del"}
        ]);
        let id = env.post("/batches", json!({"operations": ops})).await.ok()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let done = finish(&env, &id).await;
        // the pack counts every non-200 as errored, a 204 too
        assert_eq!(done["errored_operations"], 1);
        let gz = env
            .http
            .get(done["response_body_url"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let all: Vec<Value> = untar(&gz)
            .into_iter()
            .flat_map(|(_, v)| v.as_array().unwrap().clone())
            .collect();
        let body = |op: &str| -> Value {
            let r = all.iter().find(|r| r["operation_id"] == op).unwrap();
            serde_json::from_str(r["response"].as_str().unwrap()).unwrap_or(Value::Null)
        };
        assert_eq!(body("all")["members"].as_array().unwrap().len(), 15);
        assert_eq!(body("five")["members"].as_array().unwrap().len(), 5);
        let del = all.iter().find(|r| r["operation_id"] == "del").unwrap();
        assert_eq!(del["status_code"], 204);
        assert_eq!(del["response"], "");
    }
}

mod batch_webhooks {
    use super::*;

    #[tokio::test]
    async fn at_most_20_batch_webhooks_each_with_a_url() {
        let env = start().await;
        env.post("/batch-webhooks", json!({"enabled": true}))
            .await
            .err(400, "Invalid Resource");
        let r = env.post("/batch-webhooks", json!({"url": "not a url"})).await;
        r.err(400, "Invalid Resource");
        assert_eq!(r.field(), "url");
        let first = env
            .post("/batch-webhooks", json!({"url": "https://hooks.acme.org/0"}))
            .await;
        assert_eq!(first.ok()["enabled"], true);
        let id = first.body["id"].as_str().unwrap().to_string();
        for i in 1..20 {
            env.post("/batch-webhooks", json!({"url": format!("https://hooks.acme.org/{i}")}))
                .await
                .ok();
        }
        env.post("/batch-webhooks", json!({"url": "https://hooks.acme.org/21"}))
            .await
            .err(400, "Invalid Resource");
        assert_eq!(env.get("/batch-webhooks").await.ok()["total_items"], 20);
        let r = env
            .patch(&format!("/batch-webhooks/{id}"), json!({"enabled": false}))
            .await;
        assert_eq!(r.ok()["enabled"], false);
        env.delete(&format!("/batch-webhooks/{id}")).await.no_content();
        env.get(&format!("/batch-webhooks/{id}"))
            .await
            .err(404, "Resource Not Found");
        env.post("/batch-webhooks", json!({"url": "https://hooks.acme.org/again"}))
            .await
            .ok();
    }
}

mod oauth {
    use super::*;

    async fn code(env: &Env, redirect: &str) -> String {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = http
            .get(env.base("/oauth2/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", MAILCHIMP_CLIENT_ID),
                ("redirect_uri", redirect),
                ("state", "s1"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        assert!(loc.starts_with(redirect) && loc.contains("state=s1"), "{loc}");
        loc.split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_string()
    }

    async fn exchange(env: &Env, code: &str, secret: &str, redirect: &str) -> reqwest::Response {
        env.http
            .post(env.base("/oauth2/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", MAILCHIMP_CLIENT_ID),
                ("client_secret", secret),
                ("redirect_uri", redirect),
                ("code", code),
            ])
            .send()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn code_flow_gives_a_token_that_never_expires_and_metadata_gives_the_dc() {
        let env = start().await;
        let redirect = "http://127.0.0.1:9/callback";
        let c = code(&env, redirect).await;
        let r = exchange(&env, &c, MAILCHIMP_CLIENT_SECRET, redirect).await;
        assert_eq!(r.status(), 200);
        let t: Value = r.json().await.unwrap();
        assert_eq!(t["expires_in"], 0);
        assert!(t.get("refresh_token").is_none());
        let token = t["access_token"].as_str().unwrap().to_string();
        let m: Value = env
            .http
            .get(env.base("/oauth2/metadata"))
            .header("authorization", format!("OAuth {token}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(m["dc"], "us6");
        assert_eq!(m["api_endpoint"], env.handle.url());
        assert_eq!(m["accountname"], "Emulator Mailchimp account");
        // the api_endpoint serves /3.0 with the token, also after a long time
        env.admin("/_emulator/mailchimp/clock", json!({"advance_secs": 400 * 86_400}))
            .await;
        let r = to_resp(
            env.http
                .get(format!("{}/3.0/lists", m["api_endpoint"].as_str().unwrap()))
                .header("authorization", format!("Bearer {token}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        r.ok();
        // a code is used once
        let again = exchange(&env, &c, MAILCHIMP_CLIENT_SECRET, redirect).await;
        assert_eq!(again.status(), 400);
        assert_eq!(again.json::<Value>().await.unwrap()["error"], "invalid_grant");
    }

    #[tokio::test]
    async fn a_wrong_client_secret_is_401_invalid_client() {
        let env = start().await;
        let redirect = "http://127.0.0.1:9/cb";
        let c = code(&env, redirect).await;
        let r = exchange(&env, &c, "rotated-away", redirect).await;
        assert_eq!(r.status(), 401);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
        let r = exchange(&env, &c, MAILCHIMP_CLIENT_SECRET, "http://127.0.0.1:9/other").await;
        assert_eq!(r.status(), 400);
    }

    #[tokio::test]
    async fn metadata_with_a_bad_token_is_200_invalid_token() {
        let env = start().await;
        let r = env
            .http
            .get(env.base("/oauth2/metadata"))
            .header("authorization", "OAuth nope")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"error": "invalid_token"}));
    }
}

mod limits {
    use super::*;

    #[tokio::test]
    async fn the_eleventh_simultaneous_request_is_429() {
        let env = start().await;
        env.admin("/_emulator/mailchimp/config", json!({"request_delay_ms": 1500}))
            .await;
        let mut tasks = Vec::new();
        for _ in 0..11 {
            let http = env.http.clone();
            let url = env.base("/3.0/ping");
            tasks.push(tokio::spawn(async move {
                let r = http
                    .get(url)
                    .header("authorization", basic(MAILCHIMP_API_KEY))
                    .send()
                    .await
                    .unwrap();
                to_resp(r).await
            }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            let r = t.await.unwrap();
            if r.status == 429 {
                r.err(429, "Too Many Requests");
                assert!(r.headers.keys().all(|k| !k.as_str().contains("ratelimit")));
            }
            statuses.push(r.status);
        }
        statuses.sort();
        assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 10, "{statuses:?}");
        assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 1, "{statuses:?}");
        // the slots are free again
        env.admin("/_emulator/mailchimp/config", json!({"request_delay_ms": 0}))
            .await;
        env.get("/ping").await.ok();
    }

    #[tokio::test]
    async fn injected_faults_are_problem_documents() {
        let env = start().await;
        env.http
            .post(env.base("/_emulator/faults"))
            .json(&json!({"spec": "5xx=1.0"}))
            .send()
            .await
            .unwrap();
        env.get("/ping").await.err(500, "Internal Server Error");
        env.http
            .post(env.base("/_emulator/faults"))
            .json(&json!({"spec": "429=1.0"}))
            .send()
            .await
            .unwrap();
        env.get("/ping").await.err(429, "Too Many Requests");
    }

    #[tokio::test]
    async fn requests_are_counted_per_endpoint_template() {
        let env = start().await;
        env.subscribe("c@acme.org").await;
        let snap = env.handle.counters().snapshot();
        assert_eq!(snap.endpoints["POST /3.0/lists/{list_id}/members"].requests, 1);
    }
}

mod admin {
    use super::*;

    #[tokio::test]
    async fn admin_api_shows_objects_members_and_the_store() {
        let env = start().await;
        env.post(
            &format!("/lists/{LIST}/members"),
            json!({"email_address": "adm@acme.org", "status": "subscribed", "tags": ["VIP"]}),
        )
        .await
        .ok();
        let m = env
            .admin_get(&format!("/_emulator/mailchimp/lists/{LIST}/members"))
            .await;
        assert_eq!(m["members"][0]["tags"], json!(["VIP"]));
        assert_eq!(m["members"][0]["hash"], md5_hex("adm@acme.org"));
        let o = env.admin_get(&format!("/_emulator/mailchimp/objects/{LIST}")).await;
        assert_eq!(o["kind"], "list");
        let store = env.admin_get("/_emulator/mailchimp/store").await;
        assert!(store["lists"][LIST]["members"].is_object());
    }

    #[tokio::test]
    async fn state_survives_dump_and_restore() {
        let env = start().await;
        env.subscribe("keep@acme.org").await;
        let id = env.ready_campaign().await;
        let p = env.handle.platforms().by_name("mailchimp").unwrap();
        let dump = p.dump();
        p.reset();
        env.get(&format!("/campaigns/{id}"))
            .await
            .err(404, "Resource Not Found");
        p.restore(dump).unwrap();
        env.get(&format!("/campaigns/{id}")).await.ok();
        env.get(&format!("/lists/{LIST}/members/{}", md5_hex("keep@acme.org")))
            .await
            .ok();
        let merge = env.get(&format!("/lists/{LIST}/merge-fields/1")).await;
        assert_eq!(merge.ok()["tag"], "FNAME");
    }
}
