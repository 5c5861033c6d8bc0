//! The X Ads API v12 emulator over real HTTP (started in-process with `Emulator::start` on 127.0.0.1:0).
//! Each rule row of the X section of docs/wire-rules.md names a test here.
//!
//! Requests are signed by the small OAuth 1.0a signer below (its own percent-encoding, parameter collection and
//! base string); only the HMAC-SHA1 primitive is the crate's, itself checked against RFC 2202 and both pack vectors.

use std::sync::atomic::{AtomicU64, Ordering};

use adsctl_emulator::platform::defaults::{
    X_ACCESS_TOKEN, X_ACCOUNT_ID, X_CONSUMER_KEY, X_CONSUMER_SECRET, X_FUNDING_INSTRUMENT_ID, X_TOKEN_SECRET,
};
use adsctl_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use base64::Engine;
use serde_json::{json, Value};

const ACCT: &str = X_ACCOUNT_ID;
const FI: &str = X_FUNDING_INSTRUMENT_ID;

static NONCE: AtomicU64 = AtomicU64::new(1);

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

struct Creds {
    consumer_key: String,
    consumer_secret: String,
    token: String,
    token_secret: String,
}

fn default_creds() -> Creds {
    Creds {
        consumer_key: X_CONSUMER_KEY.into(),
        consumer_secret: X_CONSUMER_SECRET.into(),
        token: X_ACCESS_TOKEN.into(),
        token_secret: X_TOKEN_SECRET.into(),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The Authorization header for a request whose signed parameters are `params` (decoded).
fn auth_header(method: &str, url: &str, params: &[(String, String)], c: &Creds, nonce: &str, ts: i64) -> String {
    let oauth = [
        ("oauth_consumer_key".to_string(), c.consumer_key.clone()),
        ("oauth_nonce".to_string(), nonce.to_string()),
        ("oauth_signature_method".to_string(), "HMAC-SHA1".to_string()),
        ("oauth_timestamp".to_string(), ts.to_string()),
        ("oauth_token".to_string(), c.token.clone()),
        ("oauth_version".to_string(), "1.0".to_string()),
    ];
    let mut all: Vec<(String, String)> = params
        .iter()
        .chain(oauth.iter())
        .map(|(k, v)| (enc(k), enc(v)))
        .collect();
    all.sort();
    let ps = all
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let base = format!("{method}&{}&{}", enc(url), enc(&ps));
    let key = format!("{}&{}", enc(&c.consumer_secret), enc(&c.token_secret));
    let sig = base64::engine::general_purpose::STANDARD
        .encode(adsctl_emulator::x::oauth::hmac_sha1(key.as_bytes(), base.as_bytes()));
    let mut parts: Vec<String> = oauth
        .iter()
        .map(|(k, v)| format!("{}=\"{}\"", enc(k), enc(v)))
        .collect();
    parts.push(format!("oauth_signature=\"{}\"", enc(&sig)));
    format!("OAuth {}", parts.join(", "))
}

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
        assert!(
            self.body["request"]["params"].is_object() || self.body["request"].is_array(),
            "{}",
            self.text
        );
        &self.body["data"]
    }
    /// An error of this status: the first error's code.
    fn err(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{}", self.text);
        assert!(self.body["errors"][0]["message"].is_string(), "{}", self.text);
        assert!(self.body["request"].is_object(), "{}", self.text);
        self.body["errors"][0]["code"].as_str().unwrap_or("").to_string()
    }
    fn param(&self) -> &str {
        self.body["errors"][0]["parameter"].as_str().unwrap_or("")
    }
    fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).and_then(|v| v.to_str().ok())
    }
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
    /// A signed request: `query` goes in the URL (encoded with enc), signed decoded.
    async fn call_with(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        c: &Creds,
        ts: i64,
        nonce: Option<&str>,
    ) -> Resp {
        let url = self.base(path);
        let params: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let n = nonce
            .map(str::to_string)
            .unwrap_or_else(|| format!("n{}x{}", NONCE.fetch_add(1, Ordering::SeqCst), now()));
        let auth = auth_header(method, &url, &params, c, &n, ts);
        let qs = params
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let full = if qs.is_empty() { url } else { format!("{url}?{qs}") };
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = self
            .http
            .request(m, full)
            .header("authorization", auth)
            .send()
            .await
            .unwrap();
        to_resp(r).await
    }
    async fn call(&self, method: &str, path: &str, query: &[(&str, &str)]) -> Resp {
        self.call_with(method, path, query, &default_creds(), now(), None).await
    }
    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Resp {
        self.call("GET", path, query).await
    }
    async fn post(&self, path: &str, query: &[(&str, &str)]) -> Resp {
        self.call("POST", path, query).await
    }
    async fn put(&self, path: &str, query: &[(&str, &str)]) -> Resp {
        self.call("PUT", path, query).await
    }
    async fn delete(&self, path: &str) -> Resp {
        self.call("DELETE", path, &[]).await
    }
    /// A signed POST with a JSON body (not part of the signature).
    async fn post_json(&self, path: &str, body: Value) -> Resp {
        let url = self.base(path);
        let n = format!("j{}", NONCE.fetch_add(1, Ordering::SeqCst));
        let auth = auth_header("POST", &url, &[], &default_creds(), &n, now());
        let r = self
            .http
            .post(url)
            .header("authorization", auth)
            .json(&body)
            .send()
            .await
            .unwrap();
        to_resp(r).await
    }
    async fn campaign(&self, name: &str) -> String {
        let r = self
            .post(
                &format!("/12/accounts/{ACCT}/campaigns"),
                &[
                    ("funding_instrument_id", FI),
                    ("name", name),
                    ("daily_budget_amount_local_micro", "5500000"),
                ],
            )
            .await;
        r.ok()["id"].as_str().unwrap().to_string()
    }
    async fn line_item(&self, campaign: &str, extra: &[(&str, &str)]) -> Resp {
        let mut q = vec![
            ("campaign_id", campaign),
            ("objective", "ENGAGEMENTS"),
            ("placements", "ALL_ON_TWITTER"),
            ("product_type", "PROMOTED_TWEETS"),
            ("start_time", "2030-01-01T00:00:00Z"),
            ("end_time", "2030-02-01T00:00:00Z"),
        ];
        q.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        q.extend_from_slice(extra);
        self.post(&format!("/12/accounts/{ACCT}/line_items"), &q).await
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

mod auth {
    use super::*;

    #[tokio::test]
    async fn signed_request_is_served_with_version_header() {
        let env = start().await;
        let r = env.get(&format!("/12/accounts/{ACCT}"), &[]).await;
        assert_eq!(r.ok()["id"], json!(ACCT));
        assert_eq!(r.header("x-current-api-version"), Some("12"));
        assert_eq!(r.body["request"]["params"]["account_id"], json!(ACCT));
    }

    #[tokio::test]
    async fn missing_header_is_401_unauthorized_access() {
        let env = start().await;
        let r = to_resp(env.http.get(env.base("/12/accounts")).send().await.unwrap()).await;
        assert_eq!(r.err(401), "UNAUTHORIZED_ACCESS");
    }

    #[tokio::test]
    async fn bad_signature_is_401() {
        let env = start().await;
        let mut c = default_creds();
        c.consumer_secret = "wrong".into();
        let r = env.call_with("GET", "/12/accounts", &[], &c, now(), None).await;
        assert_eq!(r.err(401), "UNAUTHORIZED_ACCESS");
    }

    #[tokio::test]
    async fn unknown_consumer_or_token_is_401() {
        let env = start().await;
        let mut c = default_creds();
        c.consumer_key = "nobody".into();
        assert_eq!(
            env.call_with("GET", "/12/accounts", &[], &c, now(), None)
                .await
                .err(401),
            "UNAUTHORIZED_ACCESS"
        );
        let mut c = default_creds();
        c.token = "1-nobody".into();
        assert_eq!(
            env.call_with("GET", "/12/accounts", &[], &c, now(), None)
                .await
                .err(401),
            "UNAUTHORIZED_ACCESS"
        );
    }

    #[tokio::test]
    async fn stale_timestamp_is_401() {
        let env = start().await;
        let r = env
            .call_with("GET", "/12/accounts", &[], &default_creds(), now() - 301, None)
            .await;
        assert_eq!(r.err(401), "UNAUTHORIZED_ACCESS");
        let r = env
            .call_with("GET", "/12/accounts", &[], &default_creds(), now() - 200, None)
            .await;
        r.ok();
    }

    #[tokio::test]
    async fn reused_nonce_is_401() {
        let env = start().await;
        let ts = now();
        env.call_with("GET", "/12/accounts", &[], &default_creds(), ts, Some("samenonce1"))
            .await
            .ok();
        let r = env
            .call_with("GET", "/12/accounts", &[], &default_creds(), ts, Some("samenonce1"))
            .await;
        assert_eq!(r.err(401), "UNAUTHORIZED_ACCESS");
    }

    #[tokio::test]
    async fn query_params_are_signed_and_plus_means_space() {
        let env = start().await;
        let url = env.base("/12/accounts");
        // signed as "a b" with ',' and ':' — sent with '+' and raw reserved characters
        let params = vec![("q".to_string(), "Emulator X,a:b".to_string())];
        let auth = auth_header("GET", &url, &params, &default_creds(), "plusnonce1", now());
        let r = to_resp(
            env.http
                .get(format!("{url}?q=Emulator+X,a:b"))
                .header("authorization", auth)
                .send()
                .await
                .unwrap(),
        )
        .await;
        r.ok();
        // a tampered query no longer verifies
        let auth = auth_header("GET", &url, &params, &default_creds(), "plusnonce2", now());
        let r = to_resp(
            env.http
                .get(format!("{url}?q=other"))
                .header("authorization", auth)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.err(401), "UNAUTHORIZED_ACCESS");
    }

    #[tokio::test]
    async fn form_body_is_signed_json_body_is_not() {
        let env = start().await;
        let path = format!("/12/accounts/{ACCT}");
        let url = env.base(&path);
        let params = vec![("name".to_string(), "Renamed via form".to_string())];
        let auth = auth_header("PUT", &url, &params, &default_creds(), "formnonce1", now());
        let r = to_resp(
            env.http
                .put(&url)
                .header("authorization", auth)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("name=Renamed+via+form")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.ok()["name"], json!("Renamed via form"));
        let r = env
            .post_json(&format!("/12/batch/accounts/{ACCT}/campaigns"), json!([{"operation_type":"Create","params":{"funding_instrument_id":FI,"name":"json","daily_budget_amount_local_micro":1000000}}]))
            .await;
        r.ok();
    }

    #[tokio::test]
    async fn seeded_credentials_are_accepted() {
        let seed = serde_yaml::from_str(
            "x:\n  consumers:\n    - { consumer_key: k2, consumer_secret: s2 }\n  tokens:\n    - { access_token: t2, token_secret: ts2 }\n  accounts:\n    - { id: abc12, currency: EUR }\n",
        )
        .unwrap();
        let env = start_with(EmulatorConfig {
            seed,
            ..EmulatorConfig::default()
        })
        .await;
        let c = Creds {
            consumer_key: "k2".into(),
            consumer_secret: "s2".into(),
            token: "t2".into(),
            token_secret: "ts2".into(),
        };
        let r = env
            .call_with("GET", "/12/accounts/abc12/funding_instruments", &[], &c, now(), None)
            .await;
        assert_eq!(r.ok()[0]["currency"], json!("EUR"));
    }
}

mod accounts {
    use super::*;

    #[tokio::test]
    async fn unknown_account_is_403_account_not_found() {
        let env = start().await;
        let r = env.get("/12/accounts/zzzzz9/campaigns", &[]).await;
        assert_eq!(r.err(403), "ACCOUNT_NOT_FOUND");
    }

    #[tokio::test]
    async fn funding_instruments_are_read_only() {
        let env = start().await;
        let r = env
            .get(&format!("/12/accounts/{ACCT}/funding_instruments/{FI}"), &[])
            .await;
        assert_eq!(r.ok()["currency"], json!("USD"));
        let r = env
            .post(
                &format!("/12/accounts/{ACCT}/funding_instruments"),
                &[("currency", "USD")],
            )
            .await;
        assert_eq!(r.err(405), "METHOD_NOT_ALLOWED");
        let r = env
            .get(&format!("/12/accounts/{ACCT}/funding_instruments/abcde"), &[])
            .await;
        assert_eq!(r.err(404), "FUNDING_INSTRUMENT_NOT_FOUND");
    }

    #[tokio::test]
    async fn authenticated_user_access_lists_permissions() {
        let env = start().await;
        let r = env
            .get(&format!("/12/accounts/{ACCT}/authenticated_user_access"), &[])
            .await;
        assert!(r.ok()["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("ACCOUNT_ADMIN")));
    }

    #[tokio::test]
    async fn unknown_route_is_404_route_not_found() {
        let env = start().await;
        assert_eq!(env.get("/12/nothing", &[]).await.err(404), "ROUTE_NOT_FOUND");
    }
}

mod campaigns {
    use super::*;

    fn path() -> String {
        format!("/12/accounts/{ACCT}/campaigns")
    }

    #[tokio::test]
    async fn create_takes_query_params_and_returns_envelope() {
        let env = start().await;
        let r = env
            .post(
                &path(),
                &[
                    ("funding_instrument_id", FI),
                    ("name", "C 1"),
                    ("daily_budget_amount_local_micro", "5500000"),
                    ("total_budget_amount_local_micro", "10000000"),
                ],
            )
            .await;
        let d = r.ok();
        assert_eq!(d["daily_budget_amount_local_micro"], json!(5500000));
        assert_eq!(d["currency"], json!("USD"));
        assert_eq!(d["entity_status"], json!("ACTIVE"));
        assert_eq!(d["deleted"], json!(false));
        assert!(adsctl_emulator::x::is_base36(d["id"].as_str().unwrap()));
        assert_eq!(
            r.body["request"]["params"]["daily_budget_amount_local_micro"],
            json!(5500000)
        );
    }

    #[tokio::test]
    async fn missing_required_is_missing_parameter() {
        let env = start().await;
        let r = env
            .post(
                &path(),
                &[("funding_instrument_id", FI), ("daily_budget_amount_local_micro", "1")],
            )
            .await;
        assert_eq!(r.err(400), "MISSING_PARAMETER");
        assert_eq!(r.param(), "name");
        let r = env.post(&path(), &[("funding_instrument_id", FI), ("name", "x")]).await;
        assert_eq!(r.err(400), "MISSING_PARAMETER");
        assert_eq!(r.param(), "daily_budget_amount_local_micro");
    }

    #[tokio::test]
    async fn enum_length_and_money_are_checked() {
        let env = start().await;
        let base = [
            ("funding_instrument_id", FI),
            ("daily_budget_amount_local_micro", "1000000"),
        ];
        let long = "n".repeat(256);
        for (k, v) in [
            ("entity_status", "RUNNING"),
            ("name", long.as_str()),
            ("daily_budget_amount_local_micro", "5.5"),
            ("purchase_order_number", &"p".repeat(51)),
        ] {
            let mut q: Vec<(&str, &str)> = base.iter().copied().filter(|(b, _)| *b != k).collect();
            if k != "name" {
                q.push(("name", "ok"));
            }
            q.push((k, v));
            let r = env.post(&path(), &q).await;
            assert_eq!(r.err(400), "INVALID_PARAMETER", "{k}");
            assert_eq!(r.param(), k);
        }
    }

    #[tokio::test]
    async fn daily_above_total_is_refused() {
        let env = start().await;
        let r = env
            .post(
                &path(),
                &[
                    ("funding_instrument_id", FI),
                    ("name", "x"),
                    ("daily_budget_amount_local_micro", "2000000"),
                    ("total_budget_amount_local_micro", "1000000"),
                ],
            )
            .await;
        assert_eq!(r.err(400), "INVALID_PARAMETER");
        assert_eq!(r.param(), "daily_budget_amount_local_micro");
    }

    #[tokio::test]
    async fn funding_instrument_must_be_base36_and_the_accounts() {
        let env = start().await;
        let r = env
            .post(
                &path(),
                &[
                    ("funding_instrument_id", "ABC!"),
                    ("name", "x"),
                    ("daily_budget_amount_local_micro", "1"),
                ],
            )
            .await;
        assert_eq!(r.err(400), "INVALID_FUNDING_INSTRUMENT");
        let r = env
            .post(
                &path(),
                &[
                    ("funding_instrument_id", "zzzzz"),
                    ("name", "x"),
                    ("daily_budget_amount_local_micro", "1"),
                ],
            )
            .await;
        assert_eq!(r.err(400), "INVALID_FUNDING_INSTRUMENT");
    }

    #[tokio::test]
    async fn update_is_partial_and_empty_clears() {
        let env = start().await;
        let id = env.campaign("P").await;
        let r = env
            .put(
                &format!("{}/{id}", path()),
                &[("total_budget_amount_local_micro", "9000000")],
            )
            .await;
        assert_eq!(r.ok()["total_budget_amount_local_micro"], json!(9000000));
        assert_eq!(r.ok()["name"], json!("P"));
        let r = env
            .put(&format!("{}/{id}", path()), &[("total_budget_amount_local_micro", "")])
            .await;
        assert_eq!(r.ok()["total_budget_amount_local_micro"], Value::Null);
        let r = env
            .put(&format!("{}/{id}", path()), &[("funding_instrument_id", FI)])
            .await;
        assert_eq!(r.err(400), "INVALID_PARAMETER");
    }

    #[tokio::test]
    async fn update_cannot_return_to_draft() {
        let env = start().await;
        let id = env.campaign("D").await;
        let r = env
            .put(&format!("{}/{id}", path()), &[("entity_status", "DRAFT")])
            .await;
        assert_eq!(r.err(400), "INVALID_PARAMETER");
        let r = env
            .put(&format!("{}/{id}", path()), &[("entity_status", "PAUSED")])
            .await;
        assert_eq!(r.ok()["entity_status"], json!("PAUSED"));
    }

    #[tokio::test]
    async fn delete_is_soft_and_second_delete_is_404() {
        let env = start().await;
        let id = env.campaign("Del").await;
        let one = format!("{}/{id}", path());
        let r = env.delete(&one).await;
        assert_eq!(r.ok()["deleted"], json!(true));
        assert_eq!(env.get(&one, &[]).await.err(404), "CAMPAIGN_NOT_FOUND");
        assert_eq!(
            env.get(&one, &[("with_deleted", "true")]).await.ok()["deleted"],
            json!(true)
        );
        assert_eq!(env.delete(&one).await.err(404), "CAMPAIGN_NOT_FOUND");
        let l = env.get(&path(), &[]).await;
        assert!(l.ok().as_array().unwrap().is_empty());
        let l = env.get(&path(), &[("with_deleted", "true")]).await;
        assert_eq!(l.ok().as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn drafts_are_listed_only_with_with_draft() {
        let env = start().await;
        env.post(
            &path(),
            &[
                ("funding_instrument_id", FI),
                ("name", "dr"),
                ("daily_budget_amount_local_micro", "1"),
                ("entity_status", "DRAFT"),
            ],
        )
        .await
        .ok();
        assert!(env.get(&path(), &[]).await.ok().as_array().unwrap().is_empty());
        assert_eq!(
            env.get(&path(), &[("with_draft", "true")])
                .await
                .ok()
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn list_pages_with_cursor_and_count_limits() {
        let env = start().await;
        for i in 0..5 {
            env.campaign(&format!("c{i}")).await;
        }
        let r = env.get(&path(), &[("count", "2")]).await;
        assert_eq!(r.ok().as_array().unwrap().len(), 2);
        let mut cursor = r.body["next_cursor"].as_str().unwrap().to_string();
        let mut seen = 2;
        loop {
            let r = env.get(&path(), &[("count", "2"), ("cursor", &cursor)]).await;
            seen += r.ok().as_array().unwrap().len();
            match r.body["next_cursor"].as_str() {
                Some(c) => cursor = c.to_string(),
                None => break,
            }
        }
        assert_eq!(seen, 5);
        assert_eq!(
            env.get(&path(), &[("count", "1001")]).await.err(400),
            "INVALID_PARAMETER"
        );
        assert_eq!(env.get(&path(), &[("count", "0")]).await.err(400), "INVALID_PARAMETER");
        let r = env.get(&path(), &[("with_total_count", "true")]).await;
        assert_eq!(r.body["total_count"], json!(5));
        let r = env
            .get(&path(), &[("with_total_count", "true"), ("cursor", "c1")])
            .await;
        assert_eq!(r.err(400), "EXCLUSIVE_PARAMETERS");
    }

    #[tokio::test]
    async fn ids_filter_at_most_200() {
        let env = start().await;
        let id = env.campaign("f").await;
        env.campaign("g").await;
        let r = env.get(&path(), &[("campaign_ids", &id)]).await;
        assert_eq!(r.ok().as_array().unwrap().len(), 1);
        assert_eq!(r.body["request"]["params"]["campaign_ids"], json!([id]));
        let many = (0..201).map(|i| format!("a{i}")).collect::<Vec<_>>().join(",");
        assert_eq!(
            env.get(&path(), &[("campaign_ids", &many)]).await.err(400),
            "INVALID_PARAMETER"
        );
    }

    #[tokio::test]
    async fn active_campaign_limit() {
        let env = start().await;
        env.admin("/_emulator/x/config", json!({"max_active_campaigns": 2}))
            .await;
        env.campaign("a").await;
        env.campaign("b").await;
        let r = env
            .post(
                &path(),
                &[
                    ("funding_instrument_id", FI),
                    ("name", "c"),
                    ("daily_budget_amount_local_micro", "1"),
                ],
            )
            .await;
        assert_eq!(r.err(400), "TOO_MANY_CAMPAIGNS");
        env.post(
            &path(),
            &[
                ("funding_instrument_id", FI),
                ("name", "d"),
                ("daily_budget_amount_local_micro", "1"),
                ("entity_status", "DRAFT"),
            ],
        )
        .await
        .ok();
    }

    #[tokio::test]
    async fn foreign_objects_are_listed() {
        let env = start().await;
        let v = env
            .admin(
                "/_emulator/x/objects",
                json!({"kind": "campaign", "account": ACCT, "fields": {"name": "theirs", "funding_instrument_id": FI}}),
            )
            .await;
        let id = v["ids"][0].as_str().unwrap().to_string();
        let r = env.get(&format!("{}/{id}", path()), &[]).await;
        assert_eq!(r.ok()["name"], json!("theirs"));
        let s: Value = env
            .http
            .get(env.base(&format!("/_emulator/x/objects/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(s["_emulator"]["foreign"], json!(true));
        // another client pauses it (X Ads Manager): the API shows the change
        let v = env
            .admin(
                &format!("/_emulator/x/objects/{id}"),
                json!({"entity_status": "PAUSED"}),
            )
            .await;
        assert_eq!(v["entity_status"], json!("PAUSED"));
        let r = env.get(&format!("{}/{id}", path()), &[]).await;
        assert_eq!(r.ok()["entity_status"], json!("PAUSED"));
    }
}

mod line_items {
    use super::*;

    #[tokio::test]
    async fn create_requires_the_v12_required_set() {
        let env = start().await;
        let c = env.campaign("li").await;
        let r = env
            .post(
                &format!("/12/accounts/{ACCT}/line_items"),
                &[("campaign_id", &c), ("objective", "ENGAGEMENTS")],
            )
            .await;
        assert_eq!(r.err(400), "MISSING_PARAMETER");
        // end_time must be sent; sent empty, the line item has no end (nullable on read)
        let path = format!("/12/accounts/{ACCT}/line_items");
        let r = env
            .post(
                &path,
                &[
                    ("campaign_id", c.as_str()),
                    ("objective", "ENGAGEMENTS"),
                    ("placements", "ALL_ON_TWITTER"),
                    ("product_type", "PROMOTED_TWEETS"),
                    ("start_time", "2030-01-01T00:00:00Z"),
                ],
            )
            .await;
        assert_eq!(r.err(400), "MISSING_PARAMETER");
        assert_eq!(r.param(), "end_time");
        let r = env.line_item(&c, &[("end_time", "")]).await;
        assert_eq!(r.ok()["end_time"], Value::Null);
        let r = env.line_item(&c, &[]).await;
        let d = r.ok();
        assert_eq!(d["placements"], json!(["ALL_ON_TWITTER"]));
        assert_eq!(d["bid_strategy"], json!("AUTO"));
        assert_eq!(d["currency"], json!("USD"));
        assert_eq!(d["funding_instrument_id"], json!(FI));
    }

    #[tokio::test]
    async fn enums_and_times_are_checked() {
        let env = start().await;
        let c = env.campaign("li").await;
        for (k, v) in [
            ("objective", "SALES"),
            ("placements", "ALL_ON_TWITTER,NOWHERE"),
            ("product_type", "X"),
            ("start_time", "tomorrow"),
            ("goal", "NOPE"),
        ] {
            let r = env.line_item(&c, &[(k, v)]).await;
            assert_eq!(r.err(400), "INVALID_PARAMETER", "{k}");
            assert_eq!(r.param(), k);
        }
        let r = env.line_item(&c, &[("end_time", "2029-01-01T00:00:00Z")]).await;
        assert_eq!(r.param(), "end_time");
    }

    #[tokio::test]
    async fn bid_amount_required_for_max_and_target() {
        let env = start().await;
        let c = env.campaign("li").await;
        let r = env.line_item(&c, &[("bid_strategy", "MAX")]).await;
        assert_eq!(r.err(400), "MISSING_PARAMETER");
        assert_eq!(r.param(), "bid_amount_local_micro");
        env.line_item(&c, &[("bid_strategy", "MAX"), ("bid_amount_local_micro", "1500000")])
            .await
            .ok();
        let r = env
            .line_item(&c, &[("bid_strategy", "TARGET"), ("bid_amount_local_micro", "1")])
            .await;
        assert_eq!(r.param(), "bid_strategy");
    }

    #[tokio::test]
    async fn publisher_network_and_app_objectives_need_their_fields() {
        let env = start().await;
        let c = env.campaign("pn").await;
        let r = env.line_item(&c, &[("placements", "PUBLISHER_NETWORK")]).await;
        assert_eq!(r.err(400), "MISSING_PARAMETER");
        let c2 = env.campaign("app").await;
        let r = env.line_item(&c2, &[("objective", "APP_INSTALLS")]).await;
        assert_eq!(r.err(400), "MISSING_PARAMETER");
        env.line_item(
            &c2,
            &[("objective", "APP_INSTALLS"), ("ios_app_store_identifier", "333903271")],
        )
        .await
        .ok();
    }

    #[tokio::test]
    async fn one_objective_and_product_type_per_campaign() {
        let env = start().await;
        let c = env.campaign("one").await;
        env.line_item(&c, &[]).await.ok();
        let r = env.line_item(&c, &[("objective", "REACH")]).await;
        assert_eq!(r.err(400), "INVALID_PARAMETER");
        assert_eq!(r.param(), "objective");
        let r = env.line_item(&c, &[("product_type", "MEDIA")]).await;
        assert_eq!(r.param(), "product_type");
    }

    #[tokio::test]
    async fn at_most_100_per_campaign() {
        let env = start().await;
        let c = env.campaign("full").await;
        env.admin("/_emulator/x/objects", json!({"kind":"line_item","account":ACCT,"count":100,"fields":{"campaign_id":c,"objective":"ENGAGEMENTS","product_type":"PROMOTED_TWEETS","entity_status":"DRAFT"}}))
            .await;
        let r = env.line_item(&c, &[]).await;
        assert_eq!(r.err(400), "TOO_MANY_LINE_ITEMS");
    }

    #[tokio::test]
    async fn put_refuses_create_only_fields_and_soft_deletes() {
        let env = start().await;
        let c = env.campaign("u").await;
        let id = env.line_item(&c, &[]).await.ok()["id"].as_str().unwrap().to_string();
        let one = format!("/12/accounts/{ACCT}/line_items/{id}");
        assert_eq!(
            env.put(&one, &[("objective", "REACH")]).await.err(400),
            "INVALID_PARAMETER"
        );
        let r = env.put(&one, &[("name", "renamed"), ("end_time", "")]).await;
        assert_eq!(r.ok()["name"], json!("renamed"));
        assert_eq!(r.ok()["end_time"], Value::Null);
        assert_eq!(env.delete(&one).await.ok()["deleted"], json!(true));
        assert_eq!(env.get(&one, &[]).await.err(404), "LINE_ITEM_NOT_FOUND");
        assert_eq!(env.delete(&one).await.err(404), "LINE_ITEM_NOT_FOUND");
    }

    #[tokio::test]
    async fn list_filters_by_campaign_ids() {
        let env = start().await;
        let a = env.campaign("a").await;
        let b = env.campaign("b").await;
        env.line_item(&a, &[]).await.ok();
        env.line_item(&b, &[]).await.ok();
        let r = env
            .get(&format!("/12/accounts/{ACCT}/line_items"), &[("campaign_ids", &a)])
            .await;
        assert_eq!(r.ok().as_array().unwrap().len(), 1);
    }
}

mod batch {
    use super::*;

    #[tokio::test]
    async fn creates_in_order_with_request_echo() {
        let env = start().await;
        let ops: Vec<Value> = (0..3)
            .map(|i| json!({"operation_type":"Create","params":{"funding_instrument_id":FI,"name":format!("b{i}"),"daily_budget_amount_local_micro":1000000}}))
            .collect();
        let r = env
            .post_json(&format!("/12/batch/accounts/{ACCT}/campaigns"), json!(ops))
            .await;
        let d = r.ok().as_array().unwrap().clone();
        assert_eq!(
            d.iter().map(|c| c["name"].clone()).collect::<Vec<_>>(),
            vec![json!("b0"), json!("b1"), json!("b2")]
        );
        assert_eq!(r.body["request"][0]["operation_type"], json!("Create"));
    }

    #[tokio::test]
    async fn more_than_40_is_a_request_error() {
        let env = start().await;
        let ops: Vec<Value> = (0..41)
            .map(|i| json!({"operation_type":"Create","params":{"funding_instrument_id":FI,"name":format!("b{i}"),"daily_budget_amount_local_micro":1}}))
            .collect();
        let r = env
            .post_json(&format!("/12/batch/accounts/{ACCT}/line_items"), json!(ops))
            .await;
        assert_eq!(r.status, 400);
        assert!(r.body["errors"].is_array(), "{}", r.text);
    }

    #[tokio::test]
    async fn all_or_nothing_with_operation_errors() {
        let env = start().await;
        let id = env.campaign("keep").await;
        let ops = json!([
            {"operation_type":"Create","params":{"funding_instrument_id":FI,"name":"new","daily_budget_amount_local_micro":1}},
            {"operation_type":"Update","params":{"campaign_id":id,"name":"changed"}},
            {"operation_type":"Create","params":{"funding_instrument_id":FI}},
        ]);
        let r = env
            .post_json(&format!("/12/batch/accounts/{ACCT}/campaigns"), ops)
            .await;
        assert_eq!(r.status, 400);
        let oe = r.body["operation_errors"].as_array().unwrap();
        assert_eq!(oe.len(), 3);
        assert!(oe[0].as_array().unwrap().is_empty());
        assert_eq!(oe[2][0]["code"], json!("MISSING_PARAMETER"));
        let l = env.get(&format!("/12/accounts/{ACCT}/campaigns"), &[]).await;
        let names: Vec<Value> = l.ok().as_array().unwrap().iter().map(|c| c["name"].clone()).collect();
        assert_eq!(names, vec![json!("keep")]);
    }

    #[tokio::test]
    async fn update_and_delete_name_the_id_in_params() {
        let env = start().await;
        let id = env.campaign("x").await;
        let ops = json!([{"operation_type":"Update","params":{"campaign_id":id,"name":"y"}},{"operation_type":"Delete","params":{"campaign_id":id}}]);
        let r = env
            .post_json(&format!("/12/batch/accounts/{ACCT}/campaigns"), ops)
            .await;
        let d = r.ok();
        assert_eq!(d[0]["name"], json!("y"));
        assert_eq!(d[1]["deleted"], json!(true));
    }
}

mod limits {
    use super::*;

    #[tokio::test]
    async fn account_read_headers_and_429_when_configured() {
        let env = start().await;
        let path = format!("/12/accounts/{ACCT}/campaigns");
        assert!(env.get(&path, &[]).await.header("x-account-rate-limit-limit").is_none());
        env.admin("/_emulator/x/config", json!({"account_reads_per_15_min": 2}))
            .await;
        let r = env.get(&path, &[]).await;
        assert_eq!(r.header("x-account-rate-limit-limit"), Some("2"));
        assert_eq!(r.header("x-account-rate-limit-remaining"), Some("1"));
        let reset: i64 = r.header("x-account-rate-limit-reset").unwrap().parse().unwrap();
        assert!(reset > now() && reset <= now() + 900);
        env.get(&path, &[]).await.ok();
        assert_eq!(env.get(&path, &[]).await.err(429), "TOO_MANY_REQUESTS");
    }

    #[tokio::test]
    async fn write_headers_when_configured() {
        let env = start().await;
        env.admin("/_emulator/x/config", json!({"writes_per_minute": 1})).await;
        env.campaign("w").await;
        let r = env
            .post(&format!("/12/accounts/{ACCT}/campaigns"), &[("name", "w2")])
            .await;
        assert_eq!(r.err(429), "TOO_MANY_REQUESTS");
        assert_eq!(r.header("x-rate-limit-remaining"), Some("0"));
    }

    #[tokio::test]
    async fn injected_faults_use_the_x_error_shape() {
        let env = start().await;
        env.http
            .post(env.base("/_emulator/faults"))
            .json(&json!({"spec": "5xx=1.0"}))
            .send()
            .await
            .unwrap();
        let r = env.get("/12/accounts", &[]).await;
        assert_eq!(r.err(503), "SERVICE_UNAVAILABLE");
        env.http
            .post(env.base("/_emulator/faults"))
            .json(&json!({"spec": "429=1.0"}))
            .send()
            .await
            .unwrap();
        let r = env.get("/12/accounts", &[]).await;
        assert_eq!(r.err(429), "TOO_MANY_REQUESTS");
        assert!(r.header("x-rate-limit-reset").is_some());
    }

    #[tokio::test]
    async fn lost_response_commits_the_write() {
        let env = start().await;
        env.http
            .post(env.base("/_emulator/faults"))
            .json(&json!({"spec": "lost=1.0"}))
            .send()
            .await
            .unwrap();
        let url = env.base(&format!("/12/accounts/{ACCT}/campaigns"));
        let params: Vec<(String, String)> = [
            ("funding_instrument_id", FI),
            ("name", "lost"),
            ("daily_budget_amount_local_micro", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let auth = auth_header("POST", &url, &params, &default_creds(), "lostnonce1", now());
        let qs = params
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let sent = env
            .http
            .post(format!("{url}?{qs}"))
            .header("authorization", auth)
            .send()
            .await;
        let failed = match sent {
            Err(_) => true,
            Ok(r) => r.bytes().await.is_err(),
        };
        assert!(failed, "the response is lost");
        env.http
            .post(env.base("/_emulator/faults"))
            .json(&json!({"spec": ""}))
            .send()
            .await
            .unwrap();
        let l = env
            .get(&format!("/12/accounts/{ACCT}/campaigns"), &[("q", "lost")])
            .await;
        assert_eq!(l.ok().as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn requests_are_counted_per_endpoint_template() {
        let env = start().await;
        env.campaign("counted").await;
        let snap = env.handle.counters().snapshot();
        assert_eq!(snap.endpoints["POST /12/accounts/{account_id}/campaigns"].requests, 1);
    }
}

mod promoted_tweets {
    use super::*;

    async fn line_item(env: &Env) -> String {
        let c = env.campaign("pt").await;
        env.line_item(&c, &[]).await.ok()["id"].as_str().unwrap().to_string()
    }

    #[tokio::test]
    async fn create_answers_an_array_with_total_count() {
        let env = start().await;
        let li = line_item(&env).await;
        let path = format!("/12/accounts/{ACCT}/promoted_tweets");
        let r = env
            .post(&path, &[("line_item_id", &li), ("tweet_ids", "1166476031668015104")])
            .await;
        let d = r.ok().as_array().unwrap().clone();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0]["tweet_id"], json!("1166476031668015104"));
        assert_eq!(r.body["total_count"], json!(1));
        let l = env.get(&path, &[("line_item_ids", &li)]).await;
        assert_eq!(l.ok().as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn at_most_50_tweet_ids() {
        let env = start().await;
        let li = line_item(&env).await;
        let ids = (0..51).map(|i| (1000 + i).to_string()).collect::<Vec<_>>().join(",");
        let r = env
            .post(
                &format!("/12/accounts/{ACCT}/promoted_tweets"),
                &[("line_item_id", &li), ("tweet_ids", &ids)],
            )
            .await;
        assert_eq!(r.err(400), "INVALID_PARAMETER");
        assert_eq!(r.param(), "tweet_ids");
    }

    #[tokio::test]
    async fn no_put_and_delete_is_soft() {
        let env = start().await;
        let li = line_item(&env).await;
        let r = env
            .post(
                &format!("/12/accounts/{ACCT}/promoted_tweets"),
                &[("line_item_id", &li), ("tweet_ids", "42")],
            )
            .await;
        let id = r.ok()[0]["id"].as_str().unwrap().to_string();
        let one = format!("/12/accounts/{ACCT}/promoted_tweets/{id}");
        assert_eq!(
            env.put(&one, &[("entity_status", "PAUSED")]).await.err(405),
            "METHOD_NOT_ALLOWED"
        );
        assert_eq!(env.delete(&one).await.ok()["deleted"], json!(true));
        assert_eq!(env.delete(&one).await.err(404), "PROMOTED_TWEET_NOT_FOUND");
    }

    #[tokio::test]
    async fn deleting_the_line_item_does_not_cascade() {
        let env = start().await;
        let li = line_item(&env).await;
        let r = env
            .post(
                &format!("/12/accounts/{ACCT}/promoted_tweets"),
                &[("line_item_id", &li), ("tweet_ids", "43")],
            )
            .await;
        let id = r.ok()[0]["id"].as_str().unwrap().to_string();
        env.delete(&format!("/12/accounts/{ACCT}/line_items/{li}")).await.ok();
        let r = env.get(&format!("/12/accounts/{ACCT}/promoted_tweets/{id}"), &[]).await;
        assert_eq!(r.ok()["deleted"], json!(false));
    }
}

mod targeting {
    use super::*;

    async fn line_item(env: &Env) -> String {
        let c = env.campaign("tc").await;
        env.line_item(&c, &[]).await.ok()["id"].as_str().unwrap().to_string()
    }

    async fn add(env: &Env, li: &str, ty: &str, value: &str, op: Option<&str>) -> Resp {
        let mut q = vec![("line_item_id", li), ("targeting_type", ty), ("targeting_value", value)];
        if let Some(op) = op {
            q.push(("operator_type", op));
        }
        env.post(&format!("/12/accounts/{ACCT}/targeting_criteria"), &q).await
    }

    #[tokio::test]
    async fn list_requires_line_item_ids() {
        let env = start().await;
        let li = line_item(&env).await;
        let path = format!("/12/accounts/{ACCT}/targeting_criteria");
        let r = env.get(&path, &[]).await;
        assert_eq!(r.err(400), "MISSING_PARAMETER");
        assert_eq!(r.param(), "line_item_ids");
        add(&env, &li, "LOCATION", "96683cc9126741d1", None).await.ok();
        assert_eq!(
            env.get(&path, &[("line_item_ids", &li)])
                .await
                .ok()
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn unknown_type_and_operator_rules() {
        let env = start().await;
        let li = line_item(&env).await;
        assert_eq!(
            add(&env, &li, "HOROSCOPE", "x", None).await.err(400),
            "UNKNOWN_CRITERIA_TYPE"
        );
        assert_eq!(
            add(&env, &li, "APP_LIST", "x", Some("EQ")).await.param(),
            "operator_type"
        );
        assert_eq!(
            add(&env, &li, "LOCATION", "x", Some("GTE")).await.param(),
            "operator_type"
        );
        assert_eq!(add(&env, &li, "GENDER", "3", None).await.param(), "targeting_value");
        let r = add(&env, &li, "GENDER", "2", Some("NE")).await;
        assert_eq!(r.ok()["operator_type"], json!("NE"));
    }

    #[tokio::test]
    async fn one_age_bucket_and_tv_needs_location() {
        let env = start().await;
        let li = line_item(&env).await;
        add(&env, &li, "AGE", "AGE_13_TO_24", None).await.ok();
        assert_eq!(
            add(&env, &li, "AGE", "AGE_OVER_50", None).await.err(400),
            "INVALID_PARAMETER"
        );
        assert_eq!(
            add(&env, &li, "TV_SHOW", "10027243420", None).await.err(400),
            "INVALID_TV_SHOW_LOCATIONS"
        );
    }

    #[tokio::test]
    async fn no_put_delete_is_soft() {
        let env = start().await;
        let li = line_item(&env).await;
        let id = add(&env, &li, "LANGUAGE", "en", None).await.ok()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let one = format!("/12/accounts/{ACCT}/targeting_criteria/{id}");
        assert_eq!(
            env.put(&one, &[("targeting_value", "fr")]).await.err(405),
            "METHOD_NOT_ALLOWED"
        );
        assert_eq!(env.delete(&one).await.ok()["deleted"], json!(true));
        assert_eq!(env.delete(&one).await.err(404), "TARGETING_CRITERION_NOT_FOUND");
    }

    #[tokio::test]
    async fn batch_up_to_500_create_and_delete_only() {
        let env = start().await;
        let li = line_item(&env).await;
        let path = format!("/12/batch/accounts/{ACCT}/targeting_criteria");
        let ops: Vec<Value> = (0..3)
            .map(|i| json!({"operation_type":"Create","params":{"line_item_id":li,"targeting_type":"BROAD_KEYWORD","targeting_value":format!("kw{i}")}}))
            .collect();
        let r = env.post_json(&path, json!(ops)).await;
        assert_eq!(r.ok().as_array().unwrap().len(), 3);
        assert_eq!(r.body["data_type"], json!("targeting_criterion"));
        let ops: Vec<Value> = (0..501)
            .map(|i| json!({"operation_type":"Create","params":{"line_item_id":li,"targeting_type":"BROAD_KEYWORD","targeting_value":format!("k{i}")}}))
            .collect();
        assert_eq!(env.post_json(&path, json!(ops)).await.status, 400);
        let id = r.body["data"][0]["id"].clone();
        let r = env
            .post_json(
                &path,
                json!([{"operation_type":"Update","params":{"targeting_criterion_id":id,"targeting_value":"x"}}]),
            )
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body["operation_errors"][0][0]["parameter"], json!("operation_type"));
    }
}

mod audiences {
    use super::*;

    fn path() -> String {
        format!("/12/accounts/{ACCT}/custom_audiences")
    }

    fn hex(i: usize) -> String {
        format!("{i:064x}")
    }

    async fn audience(env: &Env, name: &str) -> String {
        env.post(&path(), &[("name", name)]).await.ok()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn create_is_an_empty_shell_not_targetable() {
        let env = start().await;
        let r = env.post(&path(), &[("name", "CRM list"), ("description", "d")]).await;
        let d = r.ok();
        assert_eq!(d["audience_size"], Value::Null);
        assert_eq!(d["targetable"], json!(false));
        assert_eq!(d["reasons_not_targetable"], json!(["PROCESSING", "TOO_SMALL"]));
        assert_eq!(d["audience_type"], json!("CRM"));
    }

    #[tokio::test]
    async fn name_is_required_and_unique_per_account() {
        let env = start().await;
        assert_eq!(
            env.post(&path(), &[("description", "d")]).await.err(400),
            "MISSING_PARAMETER"
        );
        audience(&env, "same").await;
        let r = env.post(&path(), &[("name", "same")]).await;
        assert_eq!(r.err(400), "INVALID_PARAMETER");
        assert_eq!(r.param(), "name");
    }

    #[tokio::test]
    async fn update_renames_and_delete_is_soft() {
        let env = start().await;
        let id = audience(&env, "a").await;
        let one = format!("{}/{id}", path());
        assert_eq!(env.put(&one, &[("name", "b")]).await.ok()["name"], json!("b"));
        assert_eq!(env.delete(&one).await.ok()["deleted"], json!(true));
        assert_eq!(env.get(&one, &[]).await.err(404), "TAILORED_AUDIENCE_NOT_FOUND");
    }

    #[tokio::test]
    async fn users_upload_counts_and_makes_targetable_at_100() {
        let env = start().await;
        let id = audience(&env, "u").await;
        let users: Vec<Value> = (0..100).map(|i| json!({"email": [hex(i)]})).collect();
        let r = env
            .post_json(
                &format!("{}/{id}/users", path()),
                json!([{"operation_type": "Update", "params": {"users": users}}]),
            )
            .await;
        assert_eq!(r.ok(), &json!({"success_count": 100, "total_count": 100}));
        let m: Value = env
            .http
            .get(env.base(&format!("/_emulator/x/custom_audiences/{id}/members")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(m["count"], json!(100));
        let a = env.get(&format!("{}/{id}", path()), &[]).await;
        assert_eq!(a.ok()["targetable"], json!(true));
        assert_eq!(a.ok()["audience_size"], json!(100));
        let r = env
            .post_json(
                &format!("{}/{id}/users", path()),
                json!([{"operation_type": "Delete", "params": {"users": [{"email": [hex(0)]}]}}]),
            )
            .await;
        assert_eq!(r.ok()["success_count"], json!(1));
        assert_eq!(
            env.get(&format!("{}/{id}", path()), &[]).await.ok()["targetable"],
            json!(false)
        );
    }

    #[tokio::test]
    async fn users_must_be_sha256_hex_and_all_or_nothing() {
        let env = start().await;
        let id = audience(&env, "h").await;
        let r = env
            .post_json(
                &format!("{}/{id}/users", path()),
                json!([
                    {"operation_type": "Update", "params": {"users": [{"email": [hex(1)]}]}},
                    {"operation_type": "Update", "params": {"users": [{"email": ["someone@example.com"]}]}}
                ]),
            )
            .await;
        assert_eq!(r.err(400), "INVALID_PARAMETER");
        let dump: Value = env
            .http
            .get(env.base("/_emulator/x/store"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(dump["audience_members"].get(&id).is_none(), "nothing applied: {dump}");
    }

    #[tokio::test]
    async fn at_most_2500_operations_and_expiry_after_effective() {
        let env = start().await;
        let id = audience(&env, "m").await;
        let ops: Vec<Value> = (0..2501)
            .map(|i| json!({"operation_type": "Update", "params": {"users": [{"email": [hex(i)]}]}}))
            .collect();
        let r = env.post_json(&format!("{}/{id}/users", path()), json!(ops)).await;
        assert_eq!(r.err(400), "INVALID_PARAMETER");
        let r = env
            .post_json(
                &format!("{}/{id}/users", path()),
                json!([{"operation_type": "Update", "params": {"users": [{"email": [hex(1)]}], "effective_at": "2030-01-02T00:00:00Z", "expires_at": "2030-01-01T00:00:00Z"}}]),
            )
            .await;
        assert_eq!(r.param(), "expires_at");
    }
}

mod stats {
    use super::*;

    fn path() -> String {
        format!("/12/stats/accounts/{ACCT}")
    }

    async fn query(env: &Env, extra: &[(&str, &str)]) -> Resp {
        let c = env.campaign("s").await;
        let mut q = vec![
            ("entity", "CAMPAIGN"),
            ("entity_ids", c.as_str()),
            ("start_time", "2030-01-01T08:00:00Z"),
            ("end_time", "2030-01-03T08:00:00Z"),
            ("granularity", "DAY"),
            ("placement", "ALL_ON_TWITTER"),
            ("metric_groups", "ENGAGEMENT,BILLING"),
        ];
        q.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
        q.extend_from_slice(extra);
        env.get(&path(), &q).await
    }

    #[tokio::test]
    async fn sync_stats_arrays_of_time_series_length() {
        let env = start().await;
        let r = query(&env, &[]).await;
        let d = r.ok().clone();
        assert_eq!(r.body["data_type"], json!("stats"));
        assert_eq!(r.body["time_series_length"], json!(2));
        assert_eq!(d[0]["id_data"][0]["segment"], Value::Null);
        assert_eq!(
            d[0]["id_data"][0]["metrics"]["impressions"].as_array().unwrap().len(),
            2
        );
        assert!(d[0]["id_data"][0]["metrics"]["billed_charge_local_micro"].is_array());
        let again = query(&env, &[]).await;
        assert_eq!(again.body["time_series_length"], json!(2));
    }

    #[tokio::test]
    async fn window_at_most_7_days_whole_hours_exclusive_end() {
        let env = start().await;
        let r = query(&env, &[("end_time", "2030-01-09T09:00:00Z")]).await;
        assert_eq!(r.err(400), "INVALID_TIME_WINDOW");
        let r = query(&env, &[("start_time", "2030-01-01T08:30:00Z")]).await;
        assert_eq!(r.err(400), "INVALID_PARAMETER");
        assert_eq!(r.param(), "start_time");
        let r = query(&env, &[("end_time", "2030-01-01T08:00:00Z")]).await;
        assert_eq!(r.param(), "end_time");
    }

    #[tokio::test]
    async fn at_most_20_ids_one_placement_mobile_conversion_alone() {
        let env = start().await;
        let ids = (0..21).map(|i| format!("a{i}")).collect::<Vec<_>>().join(",");
        assert_eq!(query(&env, &[("entity_ids", &ids)]).await.param(), "entity_ids");
        assert_eq!(
            query(&env, &[("placement", "ALL_ON_TWITTER,PUBLISHER_NETWORK")])
                .await
                .param(),
            "placement"
        );
        assert_eq!(
            query(&env, &[("metric_groups", "MOBILE_CONVERSION,ENGAGEMENT")])
                .await
                .param(),
            "metric_groups"
        );
        assert_eq!(query(&env, &[("entity", "AD")]).await.param(), "entity");
    }
}

mod stats_jobs {
    use super::*;

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut out).unwrap();
        out
    }

    #[tokio::test]
    async fn job_lifecycle_id_str_poll_and_gzip_result() {
        let env = start().await;
        let c = env.campaign("j").await;
        let path = format!("/12/stats/jobs/accounts/{ACCT}");
        let q = [
            ("entity", "CAMPAIGN"),
            ("entity_ids", c.as_str()),
            ("start_time", "2030-01-01T00:00:00Z"),
            ("end_time", "2030-02-15T00:00:00Z"),
            ("granularity", "DAY"),
            ("placement", "ALL_ON_TWITTER"),
            ("metric_groups", "ENGAGEMENT"),
        ];
        let r = env.post(&path, &q).await;
        let job = r.ok().clone();
        assert_eq!(job["status"], json!("PROCESSING"));
        assert_eq!(job["url"], Value::Null);
        let id_str = job["id_str"].as_str().unwrap().to_string();
        assert!(id_str.parse::<u64>().unwrap() > (1u64 << 53));
        assert!(job["id"].is_u64());
        let r = env.get(&path, &[("job_ids", &id_str)]).await;
        assert!(r.header("x-concurrent-job-limit").is_some());
        assert_eq!(r.ok()[0]["status"], json!("PROCESSING"));
        let r = env.get(&path, &[("job_ids", &id_str)]).await;
        assert_eq!(r.ok()[0]["status"], json!("SUCCESS"));
        let url = r.ok()[0]["url"].as_str().unwrap().to_string();
        let gz = env.http.get(url).send().await.unwrap().bytes().await.unwrap();
        let body: Value = serde_json::from_slice(&gunzip(&gz)).unwrap();
        assert_eq!(body["time_series_length"], json!(45));
    }

    #[tokio::test]
    async fn range_90_days_unsegmented_45_segmented() {
        let env = start().await;
        let c = env.campaign("j").await;
        let path = format!("/12/stats/jobs/accounts/{ACCT}");
        let mut q = vec![
            ("entity", "CAMPAIGN"),
            ("entity_ids", c.as_str()),
            ("start_time", "2030-01-01T00:00:00Z"),
            ("end_time", "2030-04-02T00:00:00Z"),
            ("granularity", "DAY"),
            ("placement", "ALL_ON_TWITTER"),
            ("metric_groups", "ENGAGEMENT"),
        ];
        assert_eq!(env.post(&path, &q).await.err(400), "INVALID_TIME_WINDOW");
        q[3] = ("end_time", "2030-02-16T00:00:00Z");
        q.push(("segmentation_type", "GENDER"));
        assert_eq!(env.post(&path, &q).await.err(400), "INVALID_TIME_WINDOW");
    }
}
