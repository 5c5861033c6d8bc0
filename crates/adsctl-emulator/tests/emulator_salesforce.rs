//! The Salesforce REST API v68.0 emulator over real HTTP (started in-process with `Emulator::start` on
//! 127.0.0.1:0). Each rule row of the Salesforce section of docs/wire-rules.md names a test here.

use adsctl_emulator::platform::defaults::{
    SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET, SALESFORCE_JWT_PRIVATE_KEY_PEM, SALESFORCE_ORG_ID,
    SALESFORCE_PLAIN_USERNAME, SALESFORCE_REFRESH_TOKEN, SALESFORCE_USERNAME,
};
use adsctl_emulator::salesforce::seed::{SalesforceSeed, SalesforceUserSeed};
use adsctl_emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use base64::Engine;
use serde_json::{json, Value};

const V: &str = "/services/data/v68.0";

struct Env {
    handle: EmulatorHandle,
    http: reqwest::Client,
    instance: String,
    token: String,
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
        &self.body
    }
    fn created(&self) -> String {
        assert_eq!(self.status, 201, "{}", self.text);
        assert_eq!(self.body["success"], true);
        assert_eq!(self.body["errors"], json!([]));
        self.body["id"].as_str().unwrap().to_string()
    }
    fn no_content(&self) {
        assert_eq!(self.status, 204, "{}", self.text);
        assert!(self.text.is_empty(), "a 204 has no body: {}", self.text);
    }
    /// An error array whose first entry has this code.
    fn err(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        assert!(self.body.is_array(), "errors are arrays: {}", self.text);
        assert_eq!(self.body[0]["errorCode"], code, "{}", self.text);
        assert!(self.body[0]["message"].is_string());
        &self.body[0]
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

async fn start_with(seed: SalesforceSeed) -> Env {
    let mut cfg = EmulatorConfig::default();
    cfg.seed.salesforce = seed;
    let handle = Emulator::start(cfg).await.expect("emulator starts");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut env = Env {
        handle,
        http,
        instance: String::new(),
        token: String::new(),
    };
    let t = env.refresh(SALESFORCE_REFRESH_TOKEN).await;
    env.instance = t.ok()["instance_url"].as_str().unwrap().to_string();
    env.token = t.body["access_token"].as_str().unwrap().to_string();
    env
}

async fn start() -> Env {
    start_with(SalesforceSeed::default()).await
}

impl Env {
    fn base(&self, path: &str) -> String {
        format!("{}{path}", self.handle.url())
    }
    async fn token_form(&self, form: &[(&str, &str)]) -> Resp {
        to_resp(
            self.http
                .post(self.base("/services/oauth2/token"))
                .form(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
    async fn refresh(&self, rt: &str) -> Resp {
        self.token_form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", SALESFORCE_CLIENT_ID),
            ("client_secret", SALESFORCE_CLIENT_SECRET),
        ])
        .await
    }
    async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: &str,
        hdr: &[(&str, &str)],
    ) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self
            .http
            .request(m, format!("{}{path}", self.instance))
            .header("authorization", format!("Bearer {token}"));
        for (k, v) in hdr {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        to_resp(rb.send().await.unwrap()).await
    }
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.call_with(method, &format!("{V}{path}"), body, &self.token, &[])
            .await
    }
    async fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> Resp {
        self.call("POST", path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call("PATCH", path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> Resp {
        self.call("DELETE", path, None).await
    }
    async fn query(&self, soql: &str) -> Resp {
        let q = serde_urlencoded::to_string([("q", soql)]).unwrap();
        self.get(&format!("/query?{q}")).await
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
        self.post("/sobjects/Campaign", json!({"Name": name})).await.created()
    }
    async fn contact(&self, last: &str) -> String {
        self.post(
            "/sobjects/Contact",
            json!({"LastName": last, "Email": format!("{}@acme.example", last.to_lowercase())}),
        )
        .await
        .created()
    }
    async fn lead(&self, last: &str) -> String {
        self.post("/sobjects/Lead", json!({"LastName": last, "Company": "Acme"}))
            .await
            .created()
    }
    async fn jwt_grant(&self, a: &str) -> Resp {
        self.token_form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", a),
        ])
        .await
    }
    /// A token of the user without the Marketing User flag (JWT bearer).
    async fn plain_token(&self) -> String {
        let host = self.handle.url();
        let a = jwt(
            &json!({"iss": SALESFORCE_CLIENT_ID, "sub": SALESFORCE_PLAIN_USERNAME, "aud": host,
                            "exp": now() + 120}),
        );
        let r = self
            .token_form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", &a),
            ])
            .await;
        r.ok()["access_token"].as_str().unwrap().to_string()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// An RS256 JWT signed with the well-known private key.
fn jwt(claims: &Value) -> String {
    let pem: String = SALESFORCE_JWT_PRIVATE_KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(pem).unwrap();
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    let input = format!(
        "{}.{}",
        b64url(br#"{"alg":"RS256"}"#),
        b64url(claims.to_string().as_bytes())
    );
    let mut sig = vec![0u8; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut sig,
    )
    .unwrap();
    format!("{input}.{}", b64url(&sig))
}

mod auth {
    use super::*;

    #[tokio::test]
    async fn web_server_flow_issues_tokens_without_expires_in() {
        let env = start().await;
        let r = env
            .http
            .get(env.base("/services/oauth2/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", SALESFORCE_CLIENT_ID),
                ("redirect_uri", "http://127.0.0.1:9999/cb"),
                ("scope", "api refresh_token"),
                ("state", "xyz"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 302);
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        assert!(
            loc.starts_with("http://127.0.0.1:9999/cb?code=") && loc.ends_with("&state=xyz"),
            "{loc}"
        );
        let code = loc
            .split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_string();
        let code = percent(&code);
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", SALESFORCE_CLIENT_ID),
            ("client_secret", SALESFORCE_CLIENT_SECRET),
            ("redirect_uri", "http://127.0.0.1:9999/cb"),
        ];
        let t = env.token_form(&form).await;
        let b = t.ok();
        for k in [
            "access_token",
            "refresh_token",
            "signature",
            "scope",
            "instance_url",
            "id",
            "token_type",
            "issued_at",
        ] {
            assert!(b[k].is_string(), "{k}: {b}");
        }
        assert!(b.get("expires_in").is_none());
        assert_eq!(
            b["id"],
            format!("{}/id/{SALESFORCE_ORG_ID}/{}", env.handle.url(), "0055g00000EMu01AAD")
        );
        // signature = Base64(HMAC-SHA256(secret, id + issued_at))
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SALESFORCE_CLIENT_SECRET.as_bytes()).unwrap();
        mac.update(format!("{}{}", b["id"].as_str().unwrap(), b["issued_at"].as_str().unwrap()).as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(b["signature"], sig);
        // A code is single-use.
        let again = env.token_form(&form).await;
        assert_eq!(again.status, 400);
        assert_eq!(again.body["error"], "invalid_grant");
        // The new refresh token works; the identity URL names the user.
        env.refresh(b["refresh_token"].as_str().unwrap()).await.ok();
        let me: Value = env
            .http
            .get(b["id"].as_str().unwrap())
            .bearer_auth(b["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["username"], SALESFORCE_USERNAME);
        assert_eq!(me["organization_id"], SALESFORCE_ORG_ID);
    }

    fn percent(s: &str) -> String {
        serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("x={s}")).unwrap()[0]
            .1
            .clone()
    }

    #[tokio::test]
    async fn pkce_verifier_must_match_the_challenge() {
        let env = start().await;
        let verifier = "a-very-long-code-verifier-of-forty-three-chars-xx";
        let challenge = b64url(&<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
        let fresh_code = || async {
            let r = env
                .http
                .get(env.base("/services/oauth2/authorize"))
                .query(&[
                    ("response_type", "code"),
                    ("client_id", SALESFORCE_CLIENT_ID),
                    ("redirect_uri", "http://localhost:7777/cb"),
                    ("code_challenge", challenge.as_str()),
                    ("code_challenge_method", "S256"),
                ])
                .send()
                .await
                .unwrap();
            let loc = r.headers()["location"].to_str().unwrap().to_string();
            percent(loc.split("code=").nth(1).unwrap())
        };
        let exchange = |code: String, v: &'static str, secret: Option<&'static str>| {
            let env = &env;
            async move {
                let mut form = vec![
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("client_id", SALESFORCE_CLIENT_ID),
                    ("redirect_uri", "http://localhost:7777/cb"),
                    ("code_verifier", v),
                ];
                if let Some(s) = secret {
                    form.push(("client_secret", s));
                }
                env.token_form(&form).await
            }
        };
        let bad = exchange(fresh_code().await, "wrong-verifier", None).await;
        assert_eq!(bad.body["error"], "invalid_grant");
        let wrong_secret = exchange(fresh_code().await, verifier, Some("wrong")).await;
        assert_eq!(wrong_secret.body["error"], "invalid_client");
        // a public client: the right verifier without a secret
        let good = exchange(fresh_code().await, verifier, None).await;
        assert!(good.ok()["access_token"].is_string());
    }

    #[tokio::test]
    async fn the_username_password_flow_is_not_offered() {
        let env = start().await;
        let r = env
            .token_form(&[
                ("grant_type", "password"),
                ("username", SALESFORCE_USERNAME),
                ("password", "x"),
            ])
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body["error"], "unsupported_grant_type");
    }

    #[tokio::test]
    async fn a_user_without_api_enabled_is_refused() {
        let env = start_with(SalesforceSeed {
            users: vec![SalesforceUserSeed {
                username: "noapi@acme.example".into(),
                user_id: None,
                marketing_user: true,
                api_enabled: false,
                jwt_preauthorized: true,
                view_all_data: false,
                refresh_tokens: vec!["rt-noapi".into()],
            }],
            ..Default::default()
        })
        .await;
        let t = env.refresh("rt-noapi").await;
        let tok = t.ok()["access_token"].as_str().unwrap();
        env.call_with("GET", &format!("{V}/limits"), None, tok, &[])
            .await
            .err(403, "API_CURRENTLY_DISABLED");
        // the versions list needs no session
        let v: Value = env
            .http
            .get(env.base("/services/data/"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v.as_array().unwrap().last().unwrap()["version"], "68.0");
    }

    #[tokio::test]
    async fn authorize_refuses_unknown_clients_and_foreign_redirects() {
        let env = start().await;
        let r = env
            .http
            .get(env.base("/services/oauth2/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", "nope"),
                ("redirect_uri", "http://127.0.0.1/cb"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        let r = env
            .http
            .get(env.base("/services/oauth2/authorize"))
            .query(&[
                ("response_type", "code"),
                ("client_id", SALESFORCE_CLIENT_ID),
                ("redirect_uri", "https://evil.example/cb"),
            ])
            .send()
            .await
            .unwrap();
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"], "redirect_uri_mismatch");
    }

    #[tokio::test]
    async fn refresh_answers_without_refresh_token_and_refuses_unknown_ones() {
        let env = start().await;
        let t = env.refresh(SALESFORCE_REFRESH_TOKEN).await;
        assert!(t.ok().get("refresh_token").is_none());
        assert!(t.body.get("expires_in").is_none());
        let bad = env.refresh("5Aep861nope").await;
        assert_eq!(bad.status, 400);
        assert_eq!(
            bad.body,
            json!({"error": "invalid_grant", "error_description": "expired access/refresh token"})
        );
    }

    #[tokio::test]
    async fn refresh_token_rotation_invalidates_the_old_token() {
        let env = start().await;
        env.admin("/_emulator/salesforce/config", json!({"refresh_token_rotation": true}))
            .await;
        let t = env.refresh(SALESFORCE_REFRESH_TOKEN).await;
        let new = t.ok()["refresh_token"].as_str().unwrap().to_string();
        assert_eq!(
            env.refresh(SALESFORCE_REFRESH_TOKEN).await.body["error"],
            "invalid_grant"
        );
        env.refresh(&new).await.ok();
    }

    #[tokio::test]
    async fn jwt_bearer_verifies_the_rs256_signature_and_claims() {
        let env = start().await;
        let host = env.handle.url();
        let good = json!({"iss": SALESFORCE_CLIENT_ID, "sub": SALESFORCE_USERNAME, "aud": host, "exp": now() + 120});
        let t = env.jwt_grant(&jwt(&good)).await;
        assert!(t.ok()["access_token"].is_string());
        assert!(
            t.body.get("refresh_token").is_none(),
            "no refresh token in the JWT flow"
        );
        let tok = t.body["access_token"].as_str().unwrap();
        env.call_with("GET", &format!("{V}/limits"), None, tok, &[]).await.ok();
        // aud = login.salesforce.com is accepted too
        let mut c = good.clone();
        c["aud"] = json!("https://login.salesforce.com");
        env.jwt_grant(&jwt(&c)).await.ok();
        // tampered signature
        let mut a = jwt(&good).into_bytes();
        let i = a.len() - 10;
        a[i] = if a[i] == b'A' { b'B' } else { b'A' };
        let a = String::from_utf8(a).unwrap();
        let r = env.jwt_grant(&a).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.body["error"], "invalid_grant");
        // wrong audience, exp too far or past, unknown user, unknown client
        for (k, v, err) in [
            ("aud", json!("https://elsewhere.example"), "invalid_grant"),
            ("exp", json!(now() + 3600), "invalid_grant"),
            ("exp", json!(now() - 10), "invalid_grant"),
            ("sub", json!("nobody@acme.example"), "invalid_grant"),
            ("iss", json!("unknown-client"), "invalid_client_id"),
        ] {
            let mut c = good.clone();
            c[k] = v;
            let r = env.jwt_grant(&jwt(&c)).await;
            assert_eq!(r.status, 400, "{k}");
            assert_eq!(r.body["error"], err, "{k}: {}", r.text);
        }
    }

    #[tokio::test]
    async fn jwt_bearer_needs_a_preauthorized_user() {
        let env = start_with(SalesforceSeed {
            users: vec![SalesforceUserSeed {
                username: "outsider@acme.example".into(),
                user_id: None,
                marketing_user: true,
                api_enabled: true,
                jwt_preauthorized: false,
                view_all_data: false,
                refresh_tokens: vec![],
            }],
            ..Default::default()
        })
        .await;
        let a = jwt(&json!({"iss": SALESFORCE_CLIENT_ID, "sub": "outsider@acme.example",
                            "aud": env.handle.url(), "exp": now() + 60}));
        let r = env
            .token_form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", &a),
            ])
            .await;
        assert_eq!(r.body["error_description"], "user hasn't approved this consumer");
    }

    #[tokio::test]
    async fn missing_unknown_or_expired_sessions_are_401_invalid_session_id() {
        let env = start().await;
        let r = env.call_with("GET", &format!("{V}/limits"), None, "00Dnope", &[]).await;
        r.err(401, "INVALID_SESSION_ID");
        assert_eq!(r.body[0]["message"], "Session expired or invalid");
        env.get("/limits").await.ok();
        env.admin("/_emulator/salesforce/clock", json!({"advance_secs": 7201}))
            .await;
        env.get("/limits").await.err(401, "INVALID_SESSION_ID");
        // a refresh gives a working session again
        let t = env.refresh(SALESFORCE_REFRESH_TOKEN).await;
        let tok = t.ok()["access_token"].as_str().unwrap();
        env.call_with("GET", &format!("{V}/limits"), None, tok, &[]).await.ok();
    }

    #[tokio::test]
    async fn session_lifetime_is_configurable() {
        let env = start_with(SalesforceSeed {
            session_timeout_secs: Some(60),
            ..Default::default()
        })
        .await;
        env.admin("/_emulator/salesforce/clock", json!({"advance_secs": 61}))
            .await;
        env.get("/limits").await.err(401, "INVALID_SESSION_ID");
    }

    #[tokio::test]
    async fn refresh_can_move_the_instance_and_the_old_host_stops_answering() {
        let env = start().await;
        env.admin("/_emulator/salesforce/config", json!({"move_instance_to": "localhost"}))
            .await;
        let t = env.refresh(SALESFORCE_REFRESH_TOKEN).await;
        let inst = t.ok()["instance_url"].as_str().unwrap().to_string();
        let port = env.handle.addr().port();
        assert_eq!(inst, format!("http://localhost:{port}"));
        let tok = t.body["access_token"].as_str().unwrap().to_string();
        // the old instance URL refuses sessions now
        env.get("/limits").await.err(401, "INVALID_SESSION_ID");
        let r = env
            .http
            .get(format!("{inst}{V}/limits"))
            .header("authorization", format!("Bearer {tok}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        // the move is one-shot: the next refresh keeps the new instance
        assert_eq!(env.refresh(SALESFORCE_REFRESH_TOKEN).await.ok()["instance_url"], inst);
    }

    #[tokio::test]
    async fn a_seeded_move_happens_at_the_first_refresh_after_the_org_has_an_instance() {
        let env = start_with(SalesforceSeed {
            move_instance_to: Some("localhost".into()),
            ..Default::default()
        })
        .await;
        assert!(env.instance.contains("127.0.0.1"), "{}", env.instance);
        let t = env.refresh(SALESFORCE_REFRESH_TOKEN).await;
        assert!(t.ok()["instance_url"]
            .as_str()
            .unwrap()
            .starts_with("http://localhost:"));
        env.get("/limits").await.err(401, "INVALID_SESSION_ID");
    }
}

mod describe {
    use super::*;

    #[tokio::test]
    async fn describe_answers_from_the_pack_with_the_key_field_when_seeded() {
        let env = start().await;
        for o in ["Campaign", "CampaignMember", "CampaignMemberStatus", "Contact", "Lead"] {
            let d = env.get(&format!("/sobjects/{o}/describe")).await;
            assert_eq!(d.ok()["name"], o);
            assert!(d.body["fields"].as_array().unwrap().len() > 5);
        }
        let d = env.get("/sobjects/Campaign/describe").await;
        let key = d.body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "Adsctl_Key__c")
            .cloned()
            .unwrap();
        assert_eq!(key["externalId"], true);
        assert_eq!(key["unique"], true);
        assert!(key.get("_src").is_none());
        assert_eq!(d.body["createable"], true);
        let g = env.get("/sobjects").await;
        assert_eq!(g.ok()["maxBatchSize"], 200);
        let without = start_with(SalesforceSeed {
            adsctl_key_field: Some(false),
            ..Default::default()
        })
        .await;
        let d = without.get("/sobjects/Campaign/describe").await;
        assert!(!d.ok()["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "Adsctl_Key__c"));
        without
            .post("/sobjects/Campaign", json!({"Name": "x", "Adsctl_Key__c": "k"}))
            .await
            .err(400, "INVALID_FIELD");
    }

    #[tokio::test]
    async fn campaign_is_read_only_without_marketing_user() {
        let env = start().await;
        let tok = env.plain_token().await;
        let d = env
            .call_with("GET", &format!("{V}/sobjects/Campaign/describe"), None, &tok, &[])
            .await;
        assert_eq!(d.ok()["createable"], false);
        assert_eq!(d.body["updateable"], false);
        let name = d.body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "Name")
            .cloned()
            .unwrap();
        assert_eq!(name["createable"], false);
        let r = env
            .call_with(
                "POST",
                &format!("{V}/sobjects/Campaign"),
                Some(json!({"Name": "x"})),
                &tok,
                &[],
            )
            .await;
        r.err(403, "INSUFFICIENT_ACCESS_OR_READONLY");
        // a member only needs read access to the campaign
        let c = env.campaign("Readable").await;
        let p = env.contact("Reader").await;
        let r = env
            .call_with(
                "POST",
                &format!("{V}/sobjects/CampaignMember"),
                Some(json!({"CampaignId": c, "ContactId": p})),
                &tok,
                &[],
            )
            .await;
        r.created();
    }
}

mod records {
    use super::*;

    #[tokio::test]
    async fn create_read_update_delete_have_the_documented_shapes() {
        let env = start().await;
        let id = env.campaign("Spring").await;
        assert_eq!(id.len(), 18);
        assert!(id.starts_with("701"));
        let r = env.get(&format!("/sobjects/Campaign/{id}")).await;
        let b = r.ok();
        assert_eq!(
            b["attributes"],
            json!({"type": "Campaign", "url": format!("{V}/sobjects/Campaign/{id}")})
        );
        assert_eq!(b["Status"], "Planned");
        assert_eq!(b["IsActive"], false);
        assert!(b["Description"].is_null() && b.as_object().unwrap().contains_key("Description"));
        assert_eq!(b["OwnerId"], "0055g00000EMu01AAD");
        assert!(b["CreatedDate"].as_str().unwrap().ends_with(".000+0000"));
        // the 15-character id works too; ?fields= narrows
        let r = env.get(&format!("/sobjects/Campaign/{}?fields=Name", &id[..15])).await;
        assert_eq!(r.ok().as_object().unwrap().len(), 2);
        env.patch(
            &format!("/sobjects/Campaign/{id}"),
            json!({"Description": "d", "StartDate": "2026-12-01"}),
        )
        .await
        .no_content();
        env.patch(&format!("/sobjects/Campaign/{id}"), json!({"Description": null}))
            .await
            .no_content();
        assert!(env.get(&format!("/sobjects/Campaign/{id}")).await.ok()["Description"].is_null());
        env.delete(&format!("/sobjects/Campaign/{id}")).await.no_content();
        env.get(&format!("/sobjects/Campaign/{id}"))
            .await
            .err(404, "ENTITY_IS_DELETED");
        env.get("/sobjects/Campaign/7015g000009zzzzAAA")
            .await
            .err(404, "NOT_FOUND");
    }

    #[tokio::test]
    async fn conditional_requests_use_etags_and_dates() {
        let env = start().await;
        let id = env.campaign("Cond").await;
        let path = format!("{V}/sobjects/Campaign/{id}");
        let g = env.get(&format!("/sobjects/Campaign/{id}")).await;
        let tag = g.header("etag").unwrap().to_string();
        assert!(g.header("last-modified").unwrap().ends_with(" GMT"));
        let patch = |hdr: Vec<(&'static str, String)>, d: &'static str| {
            let (env, path) = (&env, path.clone());
            async move {
                let h: Vec<(&str, &str)> = hdr.iter().map(|(k, v)| (*k, v.as_str())).collect();
                env.call_with("PATCH", &path, Some(json!({"Description": d})), &env.token, &h)
                    .await
            }
        };
        patch(vec![("if-match", "\"0000\"".into())], "a")
            .await
            .err(412, "PRECONDITION_FAILED");
        patch(vec![("if-match", tag.clone())], "b").await.no_content();
        patch(vec![("if-match", tag.clone())], "c")
            .await
            .err(412, "PRECONDITION_FAILED");
        let past = chrono::Utc::now() - chrono::Duration::hours(1);
        let future = chrono::Utc::now() + chrono::Duration::hours(1);
        let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        patch(vec![("if-unmodified-since", fmt(past))], "d")
            .await
            .err(412, "PRECONDITION_FAILED");
        patch(vec![("if-unmodified-since", fmt(future))], "e")
            .await
            .no_content();
        // describe answers 304 when nothing changed since the given date
        let d = env.get("/sobjects/Campaign/describe").await;
        let lm = d.header("last-modified").unwrap().to_string();
        let r = env
            .call_with(
                "GET",
                &format!("{V}/sobjects/Campaign/describe"),
                None,
                &env.token,
                &[("if-modified-since", &lm)],
            )
            .await;
        assert_eq!(r.status, 304);
        let r = env
            .call_with(
                "GET",
                &format!("{V}/sobjects/Campaign/describe"),
                None,
                &env.token,
                &[(
                    "if-modified-since",
                    &fmt(chrono::Utc::now() - chrono::Duration::days(400)),
                )],
            )
            .await;
        r.ok();
    }

    #[tokio::test]
    async fn errors_are_arrays_with_error_code_and_fields() {
        let env = start().await;
        let e = env.post("/sobjects/Campaign", json!({"Nope__c": 1})).await;
        e.err(400, "INVALID_FIELD");
        let e = env.post("/sobjects/Campaign", json!({"Type": "Email"})).await;
        assert_eq!(e.err(400, "REQUIRED_FIELD_MISSING")["fields"], json!(["Name"]));
        let e = env.post("/sobjects/Campaign", json!({"Name": "x".repeat(81)})).await;
        assert_eq!(e.err(400, "STRING_TOO_LONG")["fields"], json!(["Name"]));
        let e = env
            .post("/sobjects/Campaign", json!({"Name": "x", "NumberOfLeads": 3}))
            .await;
        assert_eq!(
            e.err(400, "INVALID_FIELD_FOR_INSERT_UPDATE")["fields"],
            json!(["NumberOfLeads"])
        );
        env.post("/sobjects/Campaign", json!({"Name": "x", "StartDate": "tomorrow"}))
            .await
            .err(400, "JSON_PARSER_ERROR");
        env.post("/sobjects/Campaign", json!({"Name": "x", "IsActive": "maybe"}))
            .await
            .err(400, "JSON_PARSER_ERROR");
        let e = env
            .post("/sobjects/Contact", json!({"LastName": "x", "Email": "not-an-address"}))
            .await;
        e.err(400, "INVALID_EMAIL_ADDRESS");
        env.post("/sobjects/Lead", json!({"LastName": "x"}))
            .await
            .err(400, "REQUIRED_FIELD_MISSING");
        env.get("/sobjects/Opportunity/describe").await.err(404, "NOT_FOUND");
        env.call("PUT", "/sobjects/Campaign", None)
            .await
            .err(405, "METHOD_NOT_ALLOWED");
        env.call_with("GET", "/services/data/v61.0/limits", None, &env.token, &[])
            .await
            .err(404, "NOT_FOUND");
        let mut r = env
            .call_with("POST", &format!("{V}/sobjects/Campaign"), None, &env.token, &[])
            .await;
        r.err(400, "JSON_PARSER_ERROR");
        r = env
            .post("/sobjects/Campaign", json!({"Name": "x", "Id": "7015g000009zzzzAAA"}))
            .await;
        r.err(400, "INVALID_FIELD");
    }

    #[tokio::test]
    async fn currency_fields_hold_whole_units() {
        let env = start().await;
        let id = env
            .post(
                "/sobjects/Campaign",
                json!({"Name": "Money", "BudgetedCost": 1234.5, "ActualCost": "99.4", "ExpectedResponse": 12.345}),
            )
            .await
            .created();
        let b = env.get(&format!("/sobjects/Campaign/{id}")).await;
        assert_eq!(b.ok()["BudgetedCost"], json!(1235.0));
        assert_eq!(b.body["ActualCost"], json!(99.0));
        assert_eq!(b.body["ExpectedResponse"], json!(12.35));
        env.patch(&format!("/sobjects/Campaign/{id}"), json!({"ExpectedRevenue": 1e19}))
            .await
            .err(400, "NUMBER_OUTSIDE_VALID_RANGE");
    }

    #[tokio::test]
    async fn unknown_picklist_values_are_kept_unless_restricted() {
        let env = start().await;
        let id = env
            .post(
                "/sobjects/Campaign",
                json!({"Name": "P", "Type": "Podcast", "Status": "Dreaming"}),
            )
            .await
            .created();
        assert_eq!(
            env.get(&format!("/sobjects/Campaign/{id}")).await.ok()["Type"],
            "Podcast"
        );
        env.admin("/_emulator/salesforce/config", json!({"restricted_picklists": true}))
            .await;
        let e = env
            .post("/sobjects/Campaign", json!({"Name": "P", "Type": "Podcast"}))
            .await;
        assert_eq!(
            e.err(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST")["fields"],
            json!(["Type"])
        );
        env.post("/sobjects/Campaign", json!({"Name": "P", "Type": "Webinar"}))
            .await
            .created();
    }

    #[tokio::test]
    async fn parent_must_exist_without_cycles_and_within_five_levels() {
        let env = start().await;
        let a = env.campaign("L1").await;
        env.post("/sobjects/Campaign", json!({"Name": "x", "ParentId": "not an id"}))
            .await
            .err(400, "MALFORMED_ID");
        let c = env.contact("NotACampaign").await;
        let e = env
            .post("/sobjects/Campaign", json!({"Name": "x", "ParentId": c}))
            .await;
        assert_eq!(e.err(400, "INVALID_CROSS_REFERENCE_KEY")["fields"], json!(["ParentId"]));
        let mut chain = vec![a.clone()];
        for n in 2..=5 {
            let id = env
                .post(
                    "/sobjects/Campaign",
                    json!({"Name": format!("L{n}"), "ParentId": chain.last().unwrap()}),
                )
                .await
                .created();
            chain.push(id);
        }
        let e = env
            .post("/sobjects/Campaign", json!({"Name": "L6", "ParentId": chain[4]}))
            .await;
        assert_eq!(e.err(400, "FIELD_INTEGRITY_EXCEPTION")["fields"], json!(["ParentId"]));
        // a cycle: the root under its own grandchild
        env.patch(&format!("/sobjects/Campaign/{a}"), json!({"ParentId": chain[2]}))
            .await
            .err(400, "FIELD_INTEGRITY_EXCEPTION");
        env.patch(&format!("/sobjects/Campaign/{a}"), json!({"ParentId": a}))
            .await
            .err(400, "FIELD_INTEGRITY_EXCEPTION");
        // the parent's hierarchy roll-ups count the children
        env.patch(&format!("/sobjects/Campaign/{}", chain[1]), json!({"BudgetedCost": 10}))
            .await
            .no_content();
        env.patch(&format!("/sobjects/Campaign/{}", chain[4]), json!({"BudgetedCost": 5}))
            .await
            .no_content();
        let root = env.get(&format!("/sobjects/Campaign/{a}")).await;
        assert_eq!(root.ok()["HierarchyBudgetedCost"], json!(15.0));
    }

    #[tokio::test]
    async fn roll_ups_follow_members() {
        let env = start().await;
        let c = env.campaign("Roll").await;
        let p1 = env.contact("One").await;
        let p2 = env.contact("Two").await;
        let l1 = env.lead("Three").await;
        for (k, v, s) in [
            ("ContactId", &p1, "Sent"),
            ("ContactId", &p2, "Responded"),
            ("LeadId", &l1, "Sent"),
        ] {
            env.post("/sobjects/CampaignMember", json!({"CampaignId": c, k: v, "Status": s}))
                .await
                .created();
        }
        let b = env.get(&format!("/sobjects/Campaign/{c}")).await;
        let b = b.ok();
        assert_eq!(b["NumberOfContacts"], 2);
        assert_eq!(b["NumberOfLeads"], 1);
        assert_eq!(b["NumberOfResponses"], 1);
        assert_eq!(b["NumberOfOpportunities"], 0);
        assert_eq!(b["HierarchyNumberOfContacts"], 2);
    }
}

mod upsert {
    use super::*;

    #[tokio::test]
    async fn upsert_by_external_id_is_201_created_then_200_updated() {
        let env = start().await;
        let r = env
            .patch(
                "/sobjects/Campaign/Adsctl_Key__c/spring%2F26",
                json!({"Name": "Spring"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["created"], true);
        let id = r.body["id"].as_str().unwrap().to_string();
        let r = env
            .patch(
                "/sobjects/Campaign/Adsctl_Key__c/SPRING%2F26",
                json!({"Name": "Spring 2"}),
            )
            .await;
        assert_eq!(r.ok()["created"], false);
        assert_eq!(r.body["id"], id);
        let b = env.get(&format!("/sobjects/Campaign/{id}")).await;
        assert_eq!(b.ok()["Adsctl_Key__c"], "spring/26");
        assert_eq!(b.body["Name"], "Spring 2");
        // the key goes in the URL only
        let e = env
            .patch(
                "/sobjects/Campaign/Adsctl_Key__c/k2",
                json!({"Name": "x", "Adsctl_Key__c": "k2"}),
            )
            .await;
        assert_eq!(e.err(400, "INVALID_FIELD")["fields"], json!(["Adsctl_Key__c"]));
        env.patch(
            "/sobjects/Campaign/Adsctl_Key__c/k3?updateOnly=true",
            json!({"Name": "x"}),
        )
        .await
        .err(404, "NOT_FOUND");
        // unique: a second record cannot take the same key
        let e = env
            .post(
                "/sobjects/Campaign",
                json!({"Name": "dup", "Adsctl_Key__c": "Spring/26"}),
            )
            .await;
        e.err(400, "DUPLICATE_VALUE");
        // GET by external id
        assert_eq!(
            env.get("/sobjects/Campaign/Adsctl_Key__c/spring%2F26").await.ok()["Id"],
            id
        );
    }

    #[tokio::test]
    async fn post_to_the_id_field_creates_through_upsert() {
        let env = start().await;
        let r = env.post("/sobjects/Campaign/Id", json!({"Name": "Via Id"})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["created"], true);
        let id = r.body["id"].as_str().unwrap();
        assert_eq!(
            env.get(&format!("/sobjects/Campaign/{id}")).await.ok()["Name"],
            "Via Id"
        );
        env.post("/sobjects/Campaign/Id", json!({"Type": "Email"}))
            .await
            .err(400, "REQUIRED_FIELD_MISSING");
    }

    #[tokio::test]
    async fn upsert_needs_an_external_id_field() {
        let env = start_with(SalesforceSeed {
            adsctl_key_field: Some(false),
            ..Default::default()
        })
        .await;
        env.patch("/sobjects/Campaign/Adsctl_Key__c/k", json!({"Name": "x"}))
            .await
            .err(404, "NOT_FOUND");
        env.patch("/sobjects/Campaign/Name/k", json!({"Description": "x"}))
            .await
            .err(404, "NOT_FOUND");
    }

    #[tokio::test]
    async fn a_non_unique_key_needs_view_all_data_and_answers_300_on_many() {
        use adsctl_emulator::salesforce::seed::SalesforceOrgSeed;
        let org = "00D5g00000EMu09EAD";
        let env = start_with(SalesforceSeed {
            orgs: vec![SalesforceOrgSeed {
                org_id: org.into(),
                adsctl_key_field: true,
                adsctl_key_unique: false,
                daily_api_limit: None,
                users: vec![
                    SalesforceUserSeed {
                        username: "all@acme.example".into(),
                        user_id: None,
                        marketing_user: true,
                        api_enabled: true,
                        jwt_preauthorized: true,
                        view_all_data: true,
                        refresh_tokens: vec!["rt-all".into()],
                    },
                    SalesforceUserSeed {
                        username: "some@acme.example".into(),
                        user_id: None,
                        marketing_user: true,
                        api_enabled: true,
                        jwt_preauthorized: true,
                        view_all_data: false,
                        refresh_tokens: vec!["rt-some".into()],
                    },
                ],
                contacts: vec![],
                leads: vec![],
                campaigns: vec![],
            }],
            ..Default::default()
        })
        .await;
        let all = env.refresh("rt-all").await.ok()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let some = env.refresh("rt-some").await.ok()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        for n in ["a", "b"] {
            env.call_with(
                "POST",
                &format!("{V}/sobjects/Campaign"),
                Some(json!({"Name": n, "Adsctl_Key__c": "same"})),
                &all,
                &[],
            )
            .await
            .created();
        }
        let r = env
            .call_with(
                "PATCH",
                &format!("{V}/sobjects/Campaign/Adsctl_Key__c/same"),
                Some(json!({"Name": "c"})),
                &all,
                &[],
            )
            .await;
        assert_eq!(r.status, 300, "{}", r.text);
        assert_eq!(r.body.as_array().unwrap().len(), 2);
        env.call_with(
            "PATCH",
            &format!("{V}/sobjects/Campaign/Adsctl_Key__c/other"),
            Some(json!({"Name": "c"})),
            &some,
            &[],
        )
        .await
        .err(403, "INSUFFICIENT_ACCESS_OR_READONLY");
    }
}

mod members {
    use super::*;

    #[tokio::test]
    async fn a_member_needs_one_person_and_contact_wins_over_lead() {
        let env = start().await;
        let c = env.campaign("M").await;
        let p = env.contact("Person").await;
        let l = env.lead("Lead").await;
        env.post("/sobjects/CampaignMember", json!({"CampaignId": c}))
            .await
            .err(400, "REQUIRED_FIELD_MISSING");
        env.post("/sobjects/CampaignMember", json!({"ContactId": p}))
            .await
            .err(400, "REQUIRED_FIELD_MISSING");
        let e = env
            .post(
                "/sobjects/CampaignMember",
                json!({"CampaignId": c, "ContactId": "003000000000000"}),
            )
            .await;
        assert_eq!(
            e.err(400, "INVALID_CROSS_REFERENCE_KEY")["fields"],
            json!(["ContactId"])
        );
        let m = env
            .post(
                "/sobjects/CampaignMember",
                json!({"CampaignId": c, "ContactId": p, "LeadId": l}),
            )
            .await
            .created();
        let b = env.get(&format!("/sobjects/CampaignMember/{m}")).await;
        assert_eq!(b.ok()["ContactId"], p);
        assert!(b.body["LeadId"].is_null());
        assert_eq!(b.body["Type"], "Contact");
        assert_eq!(b.body["LastName"], "Person");
        assert_eq!(b.body["Email"], "person@acme.example");
    }

    #[tokio::test]
    async fn campaign_and_person_ids_are_create_only() {
        let env = start().await;
        let c = env.campaign("M").await;
        let c2 = env.campaign("M2").await;
        let p = env.contact("P").await;
        let m = env
            .post("/sobjects/CampaignMember", json!({"CampaignId": c, "ContactId": p}))
            .await
            .created();
        for (k, v) in [("CampaignId", &c2), ("ContactId", &p)] {
            let e = env.patch(&format!("/sobjects/CampaignMember/{m}"), json!({k: v})).await;
            assert_eq!(e.err(400, "INVALID_FIELD_FOR_INSERT_UPDATE")["fields"], json!([k]));
        }
        env.patch(&format!("/sobjects/CampaignMember/{m}"), json!({"Status": "Responded"}))
            .await
            .no_content();
        let b = env.get(&format!("/sobjects/CampaignMember/{m}")).await;
        assert_eq!(b.ok()["HasResponded"], true);
        assert!(b.body["FirstRespondedDate"].is_string());
    }

    #[tokio::test]
    async fn an_unknown_status_becomes_the_campaign_default() {
        let env = start().await;
        let c = env.campaign("S").await;
        let p = env.contact("P").await;
        let m = env
            .post(
                "/sobjects/CampaignMember",
                json!({"CampaignId": c, "ContactId": p, "Status": "Clicked"}),
            )
            .await
            .created();
        let b = env.get(&format!("/sobjects/CampaignMember/{m}")).await;
        assert_eq!(b.ok()["Status"], "Sent");
        assert_eq!(b.body["HasResponded"], false);
        env.patch(&format!("/sobjects/CampaignMember/{m}"), json!({"Status": "responded"}))
            .await
            .no_content();
        assert_eq!(
            env.get(&format!("/sobjects/CampaignMember/{m}")).await.ok()["Status"],
            "Responded"
        );
    }

    #[tokio::test]
    async fn a_second_membership_is_duplicate_value() {
        let env = start().await;
        let c = env.campaign("D").await;
        let l = env.lead("L").await;
        env.post("/sobjects/CampaignMember", json!({"CampaignId": c, "LeadId": l}))
            .await
            .created();
        let e = env
            .post("/sobjects/CampaignMember", json!({"CampaignId": c, "LeadId": l}))
            .await;
        assert_eq!(e.err(400, "DUPLICATE_VALUE")["message"], "Already a campaign member.");
    }

    #[tokio::test]
    async fn deleting_a_campaign_or_person_deletes_its_members() {
        let env = start().await;
        let c = env.campaign("Gone").await;
        let p = env.contact("P").await;
        let m = env
            .post("/sobjects/CampaignMember", json!({"CampaignId": c, "ContactId": p}))
            .await
            .created();
        env.delete(&format!("/sobjects/Campaign/{c}")).await.no_content();
        env.get(&format!("/sobjects/CampaignMember/{m}"))
            .await
            .err(404, "ENTITY_IS_DELETED");
        let c2 = env.campaign("Stay").await;
        let m2 = env
            .post("/sobjects/CampaignMember", json!({"CampaignId": c2, "ContactId": p}))
            .await
            .created();
        env.delete(&format!("/sobjects/Contact/{p}")).await.no_content();
        env.get(&format!("/sobjects/CampaignMember/{m2}"))
            .await
            .err(404, "ENTITY_IS_DELETED");
    }
}

mod statuses {
    use super::*;

    async fn statuses(env: &Env, c: &str) -> Vec<Value> {
        let r = env
            .query(&format!(
                "SELECT Id, Label, SortOrder, IsDefault, HasResponded FROM CampaignMemberStatus WHERE CampaignId = '{c}' ORDER BY SortOrder"
            ))
            .await;
        r.ok()["records"].as_array().unwrap().clone()
    }

    #[tokio::test]
    async fn a_new_campaign_gets_sent_and_responded() {
        let env = start().await;
        let c = env.campaign("New").await;
        let s = statuses(&env, &c).await;
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0]["Label"].clone(), s[0]["IsDefault"].clone()),
            (json!("Sent"), json!(true))
        );
        assert_eq!(
            (s[1]["Label"].clone(), s[1]["HasResponded"].clone()),
            (json!("Responded"), json!(true))
        );
    }

    #[tokio::test]
    async fn one_default_one_responded_unique_sort_order_and_label() {
        let env = start().await;
        let c = env.campaign("St").await;
        let s = statuses(&env, &c).await;
        let (sent, resp) = (
            s[0]["Id"].as_str().unwrap().to_string(),
            s[1]["Id"].as_str().unwrap().to_string(),
        );
        let e = env
            .post(
                "/sobjects/CampaignMemberStatus",
                json!({"CampaignId": c, "Label": "Opened", "SortOrder": 1}),
            )
            .await;
        assert_eq!(e.err(400, "DUPLICATE_VALUE")["fields"], json!(["SortOrder"]));
        env.post(
            "/sobjects/CampaignMemberStatus",
            json!({"CampaignId": c, "Label": "sent"}),
        )
        .await
        .err(400, "DUPLICATE_VALUE");
        env.patch(
            &format!("/sobjects/CampaignMemberStatus/{sent}"),
            json!({"IsDefault": false}),
        )
        .await
        .err(400, "FIELD_INTEGRITY_EXCEPTION");
        env.patch(
            &format!("/sobjects/CampaignMemberStatus/{resp}"),
            json!({"HasResponded": false}),
        )
        .await
        .err(400, "FIELD_INTEGRITY_EXCEPTION");
        env.delete(&format!("/sobjects/CampaignMemberStatus/{sent}"))
            .await
            .err(400, "FIELD_INTEGRITY_EXCEPTION");
        env.delete(&format!("/sobjects/CampaignMemberStatus/{resp}"))
            .await
            .err(400, "FIELD_INTEGRITY_EXCEPTION");
        // a new default takes over
        let opened = env
            .post(
                "/sobjects/CampaignMemberStatus",
                json!({"CampaignId": c, "Label": "Opened", "IsDefault": true}),
            )
            .await
            .created();
        let s = statuses(&env, &c).await;
        assert_eq!(s.iter().filter(|x| x["IsDefault"] == true).count(), 1);
        assert_eq!(s[2]["Id"], opened);
        assert_eq!(s[2]["SortOrder"], 3);
        // CampaignId is create-only; an in-use status cannot be deleted
        env.patch(
            &format!("/sobjects/CampaignMemberStatus/{opened}"),
            json!({"CampaignId": c}),
        )
        .await
        .err(400, "INVALID_FIELD_FOR_INSERT_UPDATE");
        let p = env.contact("P").await;
        env.post(
            "/sobjects/CampaignMember",
            json!({"CampaignId": c, "ContactId": p, "Status": "Sent"}),
        )
        .await
        .created();
        env.delete(&format!("/sobjects/CampaignMemberStatus/{sent}"))
            .await
            .err(400, "FIELD_INTEGRITY_EXCEPTION");
    }
}

mod collections {
    use super::*;

    #[tokio::test]
    async fn create_answers_200_with_per_record_status_codes() {
        let env = start().await;
        let r = env
            .post(
                "/composite/sobjects",
                json!({"allOrNone": false, "records": [
                    {"attributes": {"type": "Campaign"}, "Name": "A"},
                    {"attributes": {"type": "Campaign"}, "Type": "Email"},
                    {"attributes": {"type": "Contact"}, "LastName": "C"}]}),
            )
            .await;
        let b = r.ok().as_array().unwrap().clone();
        assert_eq!(b[0]["success"], true);
        assert!(b[0]["id"].as_str().unwrap().starts_with("701"));
        assert_eq!(b[1]["success"], false);
        assert_eq!(b[1]["errors"][0]["statusCode"], "REQUIRED_FIELD_MISSING");
        assert_eq!(b[1]["errors"][0]["fields"], json!(["Name"]));
        assert!(b[1]["errors"][0].get("errorCode").is_none());
        assert_eq!(b[2]["success"], true);
        let e = env
            .post(
                "/composite/sobjects",
                json!({"records": [{"attributes": {"type": "Campaign"}, "Name": "A", "Id": "7015g000009zzzzAAA"}]}),
            )
            .await;
        assert_eq!(e.ok()[0]["errors"][0]["statusCode"], "INVALID_FIELD");
    }

    #[tokio::test]
    async fn all_or_none_rolls_back_with_the_marker() {
        let env = start().await;
        let r = env
            .post(
                "/composite/sobjects",
                json!({"allOrNone": true, "records": [
                    {"attributes": {"type": "Campaign"}, "Name": "Kept?", "Adsctl_Key__c": "aon-1"},
                    {"attributes": {"type": "Campaign"}, "Description": "no name"}]}),
            )
            .await;
        let b = r.ok().as_array().unwrap().clone();
        assert_eq!(b[0]["success"], false);
        assert_eq!(b[0]["errors"][0]["statusCode"], "ALL_OR_NONE_OPERATION_ROLLED_BACK");
        assert_eq!(
            b[0]["errors"][0]["message"],
            "Record rolled back because not all records were valid and the request was using AllOrNone header"
        );
        assert_eq!(b[1]["errors"][0]["statusCode"], "REQUIRED_FIELD_MISSING");
        let q = env.query("SELECT Id FROM Campaign WHERE Adsctl_Key__c = 'aon-1'").await;
        assert_eq!(q.ok()["totalSize"], 0);
    }

    #[tokio::test]
    async fn at_most_200_records_and_10_chunks() {
        let env = start().await;
        let recs: Vec<Value> = (0..201)
            .map(|i| json!({"attributes": {"type": "Campaign"}, "Name": format!("c{i}")}))
            .collect();
        env.post("/composite/sobjects", json!({"records": recs}))
            .await
            .err(400, "EXCEEDED_ID_LIMIT");
        let ids: Vec<String> = (0..201).map(|_| "7015g000009zzzzAAA".to_string()).collect();
        env.delete(&format!("/composite/sobjects?ids={}", ids.join(",")))
            .await
            .err(400, "EXCEEDED_ID_LIMIT");
        let recs: Vec<Value> = (0..200)
            .map(|i| json!({"attributes": {"type": "Campaign"}, "Name": format!("c{i}")}))
            .collect();
        assert_eq!(
            env.post("/composite/sobjects", json!({"records": recs}))
                .await
                .ok()
                .as_array()
                .unwrap()
                .len(),
            200
        );
        let alternating: Vec<Value> = (0..11)
            .map(|i| {
                if i % 2 == 0 {
                    json!({"attributes": {"type": "Campaign"}, "Name": "x"})
                } else {
                    json!({"attributes": {"type": "Contact"}, "LastName": "x"})
                }
            })
            .collect();
        env.post("/composite/sobjects", json!({"records": alternating}))
            .await
            .err(400, "EXCEEDED_MAX_TYPES_LIMIT");
    }

    #[tokio::test]
    async fn update_upsert_delete_and_retrieve() {
        let env = start().await;
        let a = env.campaign("A").await;
        let r = env
            .patch(
                "/composite/sobjects",
                json!({"records": [{"attributes": {"type": "Campaign"}, "id": a, "Description": "u"},
                                   {"attributes": {"type": "Campaign"}, "Description": "no id"}]}),
            )
            .await;
        let b = r.ok();
        assert_eq!(b[0]["success"], true);
        assert_eq!(b[1]["errors"][0]["statusCode"], "MISSING_ARGUMENT");
        let r = env
            .patch(
                "/composite/sobjects/Campaign/Adsctl_Key__c",
                json!({"allOrNone": false, "records": [
                    {"attributes": {"type": "Campaign"}, "Adsctl_Key__c": "u1", "Name": "U1"},
                    {"attributes": {"type": "Campaign"}, "Name": "no key"}]}),
            )
            .await;
        let b = r.ok().clone();
        assert_eq!(b[0]["created"], true);
        assert_eq!(b[1]["errors"][0]["statusCode"], "MISSING_ARGUMENT");
        let r = env
            .patch(
                "/composite/sobjects/Campaign/Adsctl_Key__c",
                json!({"records": [{"attributes": {"type": "Campaign"}, "Adsctl_Key__c": "U1", "Name": "U1b"}]}),
            )
            .await;
        assert_eq!(r.ok()[0]["created"], false);
        let got = env
            .get(&format!(
                "/composite/sobjects/Campaign?ids={a},{}&fields=Name,Description",
                b[0]["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(got.ok()[0]["Description"], "u");
        assert_eq!(got.body[1]["Name"], "U1b");
        let r = env
            .delete(&format!(
                "/composite/sobjects?ids={a},7015g000009zzzzAAA&allOrNone=false"
            ))
            .await;
        let b = r.ok();
        assert_eq!(b[0]["success"], true);
        assert_eq!(b[1]["success"], false);
        env.get(&format!("/sobjects/Campaign/{a}"))
            .await
            .err(404, "ENTITY_IS_DELETED");
    }
}

mod query {
    use super::*;

    #[tokio::test]
    async fn the_soql_subset_filters_orders_and_limits() {
        let env = start().await;
        for (n, k, s) in [
            ("Alpha", "k1", "Planned"),
            ("Beta", "k2", "Completed"),
            ("Gamma", "", "Planned"),
        ] {
            let mut b = json!({"Name": n, "Status": s});
            if !k.is_empty() {
                b["Adsctl_Key__c"] = json!(k);
            }
            env.post("/sobjects/Campaign", b).await.created();
        }
        let r = env
            .query("SELECT Id, Name, adsctl_key__c FROM Campaign WHERE Adsctl_Key__c != null ORDER BY Name DESC")
            .await;
        let b = r.ok();
        assert_eq!(b["totalSize"], 2);
        assert_eq!(b["done"], true);
        assert_eq!(b["records"][0]["Name"], "Beta");
        assert_eq!(b["records"][0]["Adsctl_Key__c"], "k2");
        assert_eq!(b["records"][0]["attributes"]["type"], "Campaign");
        let r = env
            .query("SELECT Name FROM Campaign WHERE Status IN ('planned') AND Name LIKE '%a' ORDER BY Name LIMIT 1")
            .await;
        assert_eq!(
            r.ok()["records"],
            json!([{"attributes": r.body["records"][0]["attributes"], "Name": "Alpha"}])
        );
        let c = env.contact("Mail").await;
        let r = env
            .query("SELECT Id, Email FROM Contact WHERE Email IN ('mail@acme.example', 'x@y.z')")
            .await;
        assert_eq!(r.ok()["records"][0]["Id"], c);
    }

    #[tokio::test]
    async fn locators_can_be_refetched_expire_when_idle_and_are_capped_per_user() {
        let env = start().await;
        for chunk in 0..3 {
            let recs: Vec<Value> = (0..150)
                .map(|i| json!({"attributes": {"type": "Lead"}, "LastName": format!("L{chunk}-{i}"), "Company": "A"}))
                .collect();
            env.post("/composite/sobjects", json!({"records": recs})).await.ok();
        }
        let open = || async {
            let q = serde_urlencoded::to_string([("q", "SELECT Id FROM Lead ORDER BY LastName")]).unwrap();
            let r = env
                .call_with(
                    "GET",
                    &format!("{V}/query?{q}"),
                    None,
                    &env.token,
                    &[("Sforce-Query-Options", "batchSize=200")],
                )
                .await;
            r.ok()["nextRecordsUrl"].as_str().unwrap().to_string()
        };
        let env = &env;
        let fetch = |url: String| async move { env.call_with("GET", &url, None, &env.token, &[]).await };
        // a page can be fetched again (a retry), then the last page closes the locator
        let next = open().await;
        let a = fetch(next.clone()).await;
        let b = fetch(next.clone()).await;
        assert_eq!(a.ok()["records"], b.ok()["records"]);
        let last = a.body["nextRecordsUrl"].as_str().unwrap().to_string();
        assert_eq!(fetch(last.clone()).await.ok()["done"], true);
        fetch(last).await.err(400, "INVALID_QUERY_LOCATOR");
        // idle for more than 15 minutes
        let next = open().await;
        env.admin("/_emulator/salesforce/clock", json!({"advance_secs": 901}))
            .await;
        fetch(next).await.err(400, "INVALID_QUERY_LOCATOR");
        // the 11th open locator closes the least recently used
        let mut urls = Vec::new();
        for _ in 0..11 {
            urls.push(open().await);
        }
        fetch(urls[0].clone()).await.err(400, "INVALID_QUERY_LOCATOR");
        fetch(urls[10].clone()).await.ok();
    }

    #[tokio::test]
    async fn query_all_also_returns_deleted_rows() {
        let env = start().await;
        let c = env.campaign("Binned").await;
        env.delete(&format!("/sobjects/Campaign/{c}")).await.no_content();
        let r = env.query("SELECT Id FROM Campaign WHERE Name = 'Binned'").await;
        assert_eq!(r.ok()["totalSize"], 0);
        let q =
            serde_urlencoded::to_string([("q", "SELECT Id, IsDeleted FROM Campaign WHERE Name = 'Binned'")]).unwrap();
        let r = env.get(&format!("/queryAll?{q}")).await;
        assert_eq!(r.ok()["records"][0]["IsDeleted"], true);
    }

    #[tokio::test]
    async fn unsupported_or_wrong_queries_are_refused() {
        let env = start().await;
        env.query("SELECT Id FROM Campaign WHERE Name = 'a' OR Name = 'b'")
            .await
            .err(400, "MALFORMED_QUERY");
        env.query("SELEC Id FROM Campaign").await.err(400, "MALFORMED_QUERY");
        env.query("SELECT Nope FROM Campaign").await.err(400, "INVALID_FIELD");
        env.query("SELECT Id FROM Opportunity").await.err(400, "INVALID_TYPE");
        let without = start_with(SalesforceSeed {
            adsctl_key_field: Some(false),
            ..Default::default()
        })
        .await;
        without
            .query("SELECT Adsctl_Key__c FROM Campaign")
            .await
            .err(400, "INVALID_FIELD");
    }

    #[tokio::test]
    async fn results_page_by_next_records_url() {
        let env = start().await;
        for chunk in 0..2 {
            let recs: Vec<Value> = (0..150)
                .map(|i| json!({"attributes": {"type": "Lead"}, "LastName": format!("L{chunk}-{i}"), "Company": "A"}))
                .collect();
            env.post("/composite/sobjects", json!({"records": recs})).await.ok();
        }
        let q = serde_urlencoded::to_string([("q", "SELECT Id FROM Lead")]).unwrap();
        let r = env
            .call_with(
                "GET",
                &format!("{V}/query?{q}"),
                None,
                &env.token,
                &[("Sforce-Query-Options", "batchSize=200")],
            )
            .await;
        let b = r.ok();
        assert_eq!(b["totalSize"], 300);
        assert_eq!(b["done"], false);
        assert_eq!(b["records"].as_array().unwrap().len(), 200);
        let next = b["nextRecordsUrl"].as_str().unwrap().to_string();
        assert!(next.starts_with(&format!("{V}/query/01g")), "{next}");
        let r2 = env.call_with("GET", &next, None, &env.token, &[]).await;
        assert_eq!(r2.ok()["done"], true);
        assert_eq!(r2.body["records"].as_array().unwrap().len(), 100);
        assert!(r2.body.get("nextRecordsUrl").is_none());
        // without the header the batch is 2000
        let r = env.query("SELECT Id FROM Lead").await;
        assert_eq!(r.ok()["records"].as_array().unwrap().len(), 300);
    }
}

mod limits {
    use super::*;

    #[tokio::test]
    async fn every_answer_carries_sforce_limit_info_until_the_allocation_is_spent() {
        let env = start_with(SalesforceSeed {
            daily_api_limit: Some(3),
            ..Default::default()
        })
        .await;
        let r = env.get("/limits").await;
        assert_eq!(r.header("sforce-limit-info"), Some("api-usage=1/3"));
        assert_eq!(r.ok()["DailyApiRequests"], json!({"Max": 3, "Remaining": 2}));
        let e = env.get("/sobjects/Campaign/7015g000009zzzzAAA").await;
        e.err(404, "NOT_FOUND");
        assert_eq!(e.header("sforce-limit-info"), Some("api-usage=2/3"));
        env.get("/limits").await.ok();
        let r = env.get("/limits").await;
        assert_eq!(
            r.err(403, "REQUEST_LIMIT_EXCEEDED")["message"],
            "TotalRequests Limit exceeded."
        );
        assert_eq!(r.header("sforce-limit-info"), Some("api-usage=3/3"));
        // the rolling 24 h window frees calls
        env.admin("/_emulator/salesforce/clock", json!({"advance_secs": 86_401}))
            .await;
        let t = env.refresh(SALESFORCE_REFRESH_TOKEN).await;
        let tok = t.ok()["access_token"].as_str().unwrap();
        env.call_with("GET", &format!("{V}/limits"), None, tok, &[]).await.ok();
    }

    #[tokio::test]
    async fn injected_faults_use_salesforce_errors() {
        let env = start().await;
        env.http
            .post(env.base("/_emulator/faults"))
            .json(&json!({"spec": "5xx=1.0"}))
            .send()
            .await
            .unwrap();
        env.get("/limits").await.err(503, "SERVER_UNAVAILABLE");
        env.http
            .post(env.base("/_emulator/faults"))
            .json(&json!({"spec": "429=1.0"}))
            .send()
            .await
            .unwrap();
        env.get("/limits").await.err(403, "REQUEST_LIMIT_EXCEEDED");
    }

    #[tokio::test]
    async fn requests_are_counted_per_endpoint_template() {
        let env = start().await;
        let c = env.campaign("Count").await;
        env.get(&format!("/sobjects/Campaign/{c}")).await.ok();
        let snap = env.handle.counters().snapshot();
        assert_eq!(
            snap.endpoints["GET /services/data/v68.0/sobjects/{sobject}/{id}"].requests,
            1
        );
        assert_eq!(
            snap.endpoints["POST /services/data/v68.0/sobjects/{sobject}"].requests,
            1
        );
    }
}

mod admin {
    use super::*;

    #[tokio::test]
    async fn admin_api_makes_foreign_records_and_shows_the_store() {
        let env = start().await;
        let r = env
            .admin(
                &format!("/_emulator/salesforce/orgs/{SALESFORCE_ORG_ID}/records"),
                json!({"sobject": "Campaign", "fields": {"Name": "Foreign", "Adsctl_Key__c": "theirs"},
                       "username": SALESFORCE_PLAIN_USERNAME}),
            )
            .await;
        let id = r["id"].as_str().unwrap().to_string();
        let b = env.get(&format!("/sobjects/Campaign/{id}")).await;
        assert_eq!(b.ok()["CreatedById"], "0055g00000EMu02AAD");
        // the admin call was not counted
        assert_eq!(b.header("sforce-limit-info"), Some("api-usage=1/15000"));
        let rec = env.admin_get(&format!("/_emulator/salesforce/records/{id}")).await;
        assert_eq!(rec["record"]["fields"]["Name"], "Foreign");
        let store = env.admin_get("/_emulator/salesforce/store").await;
        assert!(store["orgs"][SALESFORCE_ORG_ID]["records"].is_object());
        // the same rules apply to foreign records
        let e = env
            .admin(
                &format!("/_emulator/salesforce/orgs/{SALESFORCE_ORG_ID}/records"),
                json!({"sobject": "Campaign", "fields": {"Name": "Again", "Adsctl_Key__c": "THEIRS"}}),
            )
            .await;
        assert_eq!(e[0]["errorCode"], "DUPLICATE_VALUE");
    }

    #[tokio::test]
    async fn seeded_records_and_state_survive_dump_and_restore() {
        let mut contact = serde_json::Map::new();
        contact.insert("LastName".into(), json!("Seeded"));
        contact.insert("Email".into(), json!("seeded@acme.example"));
        let env = start_with(SalesforceSeed {
            contacts: vec![contact],
            ..Default::default()
        })
        .await;
        let r = env
            .query("SELECT Id FROM Contact WHERE Email = 'seeded@acme.example'")
            .await;
        assert_eq!(r.ok()["totalSize"], 1);
        let c = env.campaign("Keep").await;
        let p = env.handle.platforms().by_name("salesforce").unwrap();
        let dump = p.dump();
        p.reset();
        let t = env.refresh(SALESFORCE_REFRESH_TOKEN).await;
        let tok = t.ok()["access_token"].as_str().unwrap().to_string();
        env.call_with("GET", &format!("{V}/sobjects/Campaign/{c}"), None, &tok, &[])
            .await
            .err(404, "NOT_FOUND");
        p.restore(dump).unwrap();
        env.get(&format!("/sobjects/Campaign/{c}")).await.ok();
    }
}

mod derived {
    //! The describe metadata is derived from the reference pack (`scripts/gen-salesforce-sobjects.py`); on a clone
    //! without the pack there is nothing to compare (said, not silent).

    fn reference() -> Option<std::path::PathBuf> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        [root.join("../../../shared"), root.join("../../../../shared")]
            .into_iter()
            .map(|p| p.join("reference/salesforce/sobjects.json"))
            .find(|p| p.is_file())
    }

    #[test]
    fn committed_describe_metadata_is_what_the_script_makes_from_the_reference() {
        let Some(pack) = reference() else {
            eprintln!("no ../shared/reference/salesforce here: nothing to compare");
            return;
        };
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = std::env::temp_dir().join(format!("salesforce-sobjects-{}.json", std::process::id()));
        let status = std::process::Command::new("python3")
            .arg(root.join("../../scripts/gen-salesforce-sobjects.py"))
            .arg(&pack)
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .status();
        match status {
            Ok(s) if s.success() => {
                let fresh = std::fs::read_to_string(&out).unwrap();
                let _ = std::fs::remove_file(&out);
                assert!(
                    fresh == include_str!("../src/salesforce/sobjects.json"),
                    "crates/adsctl-emulator/src/salesforce/sobjects.json is stale: run scripts/gen-salesforce-sobjects.py"
                );
            }
            _ => eprintln!("python3 is not available: nothing to compare"),
        }
    }
}
