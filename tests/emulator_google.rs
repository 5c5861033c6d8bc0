//! The Google Ads emulator over real HTTP: each endpoint family, accepted shapes from WIRE-NOTES round-trip,
//! wrong shapes get the real error bodies; plus the core (faults, counters, persistence, CLI).

use std::time::Duration;

use adsctl::emulator::config::GoogleCustomerSeed;
use adsctl::emulator::platform::defaults;
use adsctl::emulator::{Emulator, EmulatorConfig, EmulatorHandle, FaultSpec};
use serde_json::{json, Value};

const CID: &str = "1234567890";

struct Env {
    em: EmulatorHandle,
    http: reqwest::Client,
    token: String,
}

async fn start_with(mut cfg: EmulatorConfig) -> Env {
    cfg.review_delay = Duration::ZERO;
    cfg.seed.google_ads.customers.push(GoogleCustomerSeed {
        customer_id: "999-000-1111".into(),
        currency: "EUR".into(),
        time_zone: "Europe/Paris".into(),
        descriptive_name: Some("Manager".into()),
        manager: true,
        clients: vec![CID.into()],
    });
    let em = Emulator::start(cfg).await.expect("start");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut env = Env {
        em,
        http,
        token: String::new(),
    };
    env.token = env.refresh().await;
    env
}

async fn start() -> Env {
    start_with(EmulatorConfig::default()).await
}

impl Env {
    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.em.url())
    }

    async fn refresh(&self) -> String {
        let r: Value = self
            .http
            .post(self.url("/token"))
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
        r["access_token"].as_str().unwrap().to_string()
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_h(path, body, &[]).await
    }

    async fn post_h(&self, path: &str, body: Value, extra: &[(&str, &str)]) -> (u16, Value) {
        let mut rb = self
            .http
            .post(self.url(&format!("/v25/customers/{CID}/{path}")))
            .bearer_auth(&self.token)
            .header("developer-token", defaults::GOOGLE_DEVELOPER_TOKEN)
            .json(&body);
        for (k, v) in extra {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().await.unwrap();
        let s = r.status().as_u16();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    async fn search(&self, q: &str) -> Vec<Value> {
        let (s, b) = self.post("googleAds:searchStream", json!({"query": q})).await;
        assert_eq!(s, 200, "{b}");
        b.as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["results"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    async fn budget(&self, name: &str, shared: bool) -> String {
        let (s, b) = self
            .post(
                "campaignBudgets:mutate",
                json!({"operations":[{"create":{"name":name,"amountMicros":"50000000","explicitlyShared":shared}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        b["results"][0]["resourceName"].as_str().unwrap().to_string()
    }

    async fn campaign(&self, name: &str, budget: &str) -> (u16, Value) {
        self.post(
            "campaigns:mutate",
            json!({"operations":[{"create": campaign_body(name, budget)}]}),
        )
        .await
    }
}

fn campaign_body(name: &str, budget: &str) -> Value {
    json!({
        "name": name, "status": "PAUSED", "advertisingChannelType": "SEARCH", "campaignBudget": budget,
        "networkSettings": {"targetGoogleSearch": true, "targetSearchNetwork": true, "targetContentNetwork": false},
        "maximizeConversions": {"targetCpaMicros": "12500000"},
        "containsEuPoliticalAdvertising": "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING",
        "startDateTime": "2026-12-01 00:00:00"
    })
}

fn first_error(b: &Value) -> &Value {
    &b["error"]["details"][0]["errors"][0]
}

fn error_code(b: &Value) -> (String, String) {
    let ec = first_error(b)["errorCode"].as_object().unwrap();
    let (k, v) = ec.iter().next().unwrap();
    (k.clone(), v.as_str().unwrap().to_string())
}

fn assert_ads_failure(status: u16, b: &Value, http: u16, rpc: &str, code: (&str, &str)) {
    assert_eq!(status, http, "{b}");
    assert_eq!(b["error"]["status"], rpc, "{b}");
    assert_eq!(
        b["error"]["details"][0]["@type"],
        "type.googleapis.com/google.ads.googleads.v25.errors.GoogleAdsFailure"
    );
    assert_eq!(error_code(b), (code.0.to_string(), code.1.to_string()), "{b}");
}

fn assert_bad_request(status: u16, b: &Value, contains: &str) {
    assert_eq!(status, 400, "{b}");
    assert_eq!(b["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        b["error"]["details"][0]["@type"],
        "type.googleapis.com/google.rpc.BadRequest"
    );
    let msg = b["error"]["message"].as_str().unwrap();
    assert!(msg.contains(contains), "{msg}");
    assert!(b["error"]["details"][0]["fieldViolations"][0]["description"].is_string());
}

mod oauth {
    use super::*;

    #[tokio::test]
    async fn refresh_grant_and_its_errors() {
        let env = start().await;
        assert!(env.token.starts_with("ya29."));
        let r = env
            .http
            .post(env.url("/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", defaults::GOOGLE_CLIENT_ID),
                ("client_secret", defaults::GOOGLE_CLIENT_SECRET),
                ("refresh_token", "1//wrong"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"], "invalid_grant");
        let r = env
            .http
            .post(env.url("/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", defaults::GOOGLE_CLIENT_ID),
                ("client_secret", "nope"),
                ("refresh_token", defaults::GOOGLE_REFRESH_TOKEN),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    }

    #[tokio::test]
    async fn authorization_code_with_pkce() {
        use base64::Engine;
        use sha2::Digest;
        let env = start().await;
        let verifier = "a-verifier-that-is-long-enough-0123456789-abcdefghijklmnop";
        let challenge =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        let redirect = "http://127.0.0.1:45678/callback";
        let r = env
            .http
            .get(env.url("/o/oauth2/v2/auth"))
            .query(&[
                ("client_id", defaults::GOOGLE_CLIENT_ID),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("scope", "https://www.googleapis.com/auth/adwords"),
                ("state", "xyz"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("access_type", "offline"),
                ("prompt", "consent"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        assert!(loc.starts_with(redirect), "{loc}");
        let q: std::collections::HashMap<String, String> =
            serde_urlencoded::from_str(loc.split_once('?').unwrap().1).unwrap();
        assert_eq!(q["state"], "xyz");
        let exchange = |v: &'static str, code: String| {
            env.http.post(env.url("/token")).form(&[
                ("grant_type", "authorization_code".to_string()),
                ("client_id", defaults::GOOGLE_CLIENT_ID.to_string()),
                ("client_secret", defaults::GOOGLE_CLIENT_SECRET.to_string()),
                ("code", code),
                ("redirect_uri", redirect.to_string()),
                ("code_verifier", v.to_string()),
            ])
        };
        // a wrong verifier burns the code, like the real server
        let bad = exchange("wrong-verifier", q["code"].clone()).send().await.unwrap();
        assert_eq!(bad.status(), 400);
        assert_eq!(bad.json::<Value>().await.unwrap()["error"], "invalid_grant");
        let r = env
            .http
            .get(env.url("/o/oauth2/v2/auth"))
            .query(&[
                ("client_id", defaults::GOOGLE_CLIENT_ID),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .await
            .unwrap();
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        let q: std::collections::HashMap<String, String> =
            serde_urlencoded::from_str(loc.split_once('?').unwrap().1).unwrap();
        let ok: Value = exchange(verifier, q["code"].clone())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(ok["access_token"].as_str().unwrap().starts_with("ya29."));
        let rt = ok["refresh_token"].as_str().unwrap();
        let again = env
            .http
            .post(env.url("/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", defaults::GOOGLE_CLIENT_ID),
                ("client_secret", defaults::GOOGLE_CLIENT_SECRET),
                ("refresh_token", rt),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 200);
        // only loopback redirects
        let r = env
            .http
            .get(env.url("/o/oauth2/v2/auth"))
            .query(&[
                ("client_id", defaults::GOOGLE_CLIENT_ID),
                ("redirect_uri", "https://example.com/cb"),
                ("response_type", "code"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    }
}

mod auth {
    use super::*;

    #[tokio::test]
    async fn headers_and_tokens_are_checked() {
        let env = start().await;
        let q = json!({"query": "SELECT customer.id FROM customer"});
        // missing developer-token
        let r = env
            .http
            .post(env.url(&format!("/v25/customers/{CID}/googleAds:search")))
            .bearer_auth(&env.token)
            .json(&q)
            .send()
            .await
            .unwrap();
        let (s, b) = (r.status().as_u16(), r.json::<Value>().await.unwrap());
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("requestError", "DEVELOPER_TOKEN_PARAMETER_MISSING"),
        );
        assert!(b["error"]["details"][0]["requestId"].is_string());
        // wrong token
        let r = env
            .http
            .post(env.url(&format!("/v25/customers/{CID}/googleAds:search")))
            .bearer_auth("ya29.not-a-token")
            .header("developer-token", defaults::GOOGLE_DEVELOPER_TOKEN)
            .json(&q)
            .send()
            .await
            .unwrap();
        assert!(r.headers().contains_key("request-id"));
        let (s, b) = (r.status().as_u16(), r.json::<Value>().await.unwrap());
        assert_ads_failure(
            s,
            &b,
            401,
            "UNAUTHENTICATED",
            ("authenticationError", "OAUTH_TOKEN_INVALID"),
        );
        // login-customer-id: a manager of the customer passes, anyone else is denied
        let (s, _) = env
            .post_h("googleAds:search", q.clone(), &[("login-customer-id", "9990001111")])
            .await;
        assert_eq!(s, 200);
        let (s, b) = env
            .post_h("googleAds:search", q.clone(), &[("login-customer-id", "999-000-1111")])
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("headerError", "INVALID_LOGIN_CUSTOMER_ID"),
        );
        env.em.google_ads().unwrap().add_customer(&GoogleCustomerSeed {
            customer_id: "5550001111".into(),
            currency: "USD".into(),
            time_zone: "UTC".into(),
            descriptive_name: None,
            manager: false,
            clients: vec![],
        });
        let (s, b) = env
            .post_h("googleAds:search", q.clone(), &[("login-customer-id", "5550001111")])
            .await;
        assert_ads_failure(
            s,
            &b,
            403,
            "PERMISSION_DENIED",
            ("authorizationError", "USER_PERMISSION_DENIED"),
        );
        // bad customer id
        let r = env
            .http
            .post(env.url("/v25/customers/123/googleAds:search"))
            .bearer_auth(&env.token)
            .header("developer-token", defaults::GOOGLE_DEVELOPER_TOKEN)
            .json(&q)
            .send()
            .await
            .unwrap();
        let (s, b) = (r.status().as_u16(), r.json::<Value>().await.unwrap());
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("requestError", "INVALID_CUSTOMER_ID"));
        // every issued token expires
        env.http
            .post(env.url("/_emulator/google_ads/expire_tokens"))
            .send()
            .await
            .unwrap();
        let (s, b) = env.post("googleAds:search", q).await;
        assert_ads_failure(
            s,
            &b,
            401,
            "UNAUTHENTICATED",
            ("authenticationError", "OAUTH_TOKEN_EXPIRED"),
        );
    }

    #[tokio::test]
    async fn tokens_expire_after_the_configured_ttl() {
        let env = start_with(EmulatorConfig {
            token_ttl: Duration::ZERO,
            ..EmulatorConfig::default()
        })
        .await;
        let (s, b) = env
            .post("googleAds:search", json!({"query": "SELECT customer.id FROM customer"}))
            .await;
        assert_ads_failure(
            s,
            &b,
            401,
            "UNAUTHENTICATED",
            ("authenticationError", "OAUTH_TOKEN_EXPIRED"),
        );
    }

    #[tokio::test]
    async fn list_accessible_customers() {
        let env = start().await;
        let r: Value = env
            .http
            .get(env.url("/v25/customers:listAccessibleCustomers"))
            .bearer_auth(&env.token)
            .header("developer-token", defaults::GOOGLE_DEVELOPER_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["resourceNames"], json!(["customers/9990001111"]));
    }
}

mod mutate {
    use super::*;

    #[tokio::test]
    async fn every_service_round_trips() {
        let env = start().await;
        let budget = env.budget("Spring budget", false).await;
        let (s, b) = env.campaign("Spring Sale - Search", &budget).await;
        assert_eq!(s, 200, "{b}");
        let campaign = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let (s, b) = env
            .post(
                "adGroups:mutate",
                json!({"operations":[{"create":{"name":"Running Shoes","status":"ENABLED","type":"SEARCH_STANDARD","campaign":campaign,"cpcBidMicros":"1200000"}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let ad_group = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let (s, b) = env
            .post(
                "adGroupAds:mutate",
                json!({"operations":[{"create":{"adGroup":ad_group,"status":"PAUSED","ad":{"finalUrls":["https://example.com/shoes"],
                    "responsiveSearchAd":{"headlines":[{"text":"Spring Sale on Shoes","pinnedField":"HEADLINE_1"},{"text":"Free Returns"},{"text":"Shop Trail Runners"}],
                    "descriptions":[{"text":"Up to 40% off running shoes."},{"text":"Free shipping over $50."}],"path1":"shoes","path2":"sale"}}}}],
                    "responseContentType":"MUTABLE_RESOURCE"}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let ad = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        assert!(ad.contains('~'), "{ad}");
        assert_eq!(b["results"][0]["adGroupAd"]["ad"]["type"], "RESPONSIVE_SEARCH_AD");
        let (s, b) = env
            .post(
                "adGroupCriteria:mutate",
                json!({"operations":[{"create":{"adGroup":ad_group,"status":"ENABLED","negative":false,"cpcBidMicros":"1500000","keyword":{"text":"running shoes","matchType":"PHRASE"}}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = env
            .post(
                "labels:mutate",
                json!({"operations":[{"create":{"name":"adsctl-managed"}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let label = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        for (svc, field, target) in [
            ("campaignLabels", "campaign", &campaign),
            ("adGroupLabels", "adGroup", &ad_group),
            ("adGroupAdLabels", "adGroupAd", &ad),
        ] {
            let (s, b) = env
                .post(
                    &format!("{svc}:mutate"),
                    json!({"operations":[{"create":{field: target, "label": label}}]}),
                )
                .await;
            assert_eq!(s, 200, "{svc}: {b}");
        }
        let (s, b) = env
            .post(
                "userLists:mutate",
                json!({"operations":[{"create":{"name":"Newsletter subscribers","description":"from adsctl","membershipLifeSpan":"30",
                    "crmBasedUserList":{"uploadKeyType":"CONTACT_INFO","dataSourceType":"FIRST_PARTY"}}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");

        let rows = env
            .search("SELECT campaign.id, campaign.name, campaign.status, campaign.advertising_channel_type, campaign.bidding_strategy_type, campaign.maximize_conversions.target_cpa_micros, campaign.network_settings.target_google_search, campaign_budget.amount_micros, campaign_budget.explicitly_shared FROM campaign")
            .await;
        assert_eq!(rows.len(), 1);
        let c = &rows[0];
        assert_eq!(c["campaign"]["name"], "Spring Sale - Search");
        assert_eq!(c["campaign"]["status"], "PAUSED");
        assert_eq!(c["campaign"]["biddingStrategyType"], "MAXIMIZE_CONVERSIONS");
        assert_eq!(c["campaign"]["maximizeConversions"]["targetCpaMicros"], "12500000");
        assert_eq!(c["campaign"]["networkSettings"]["targetGoogleSearch"], true);
        assert_eq!(c["campaignBudget"]["amountMicros"], "50000000");
        assert_eq!(c["campaignBudget"]["explicitlyShared"], false);
        assert!(c["campaign"]["id"].is_string());
        let rows = env
            .search("SELECT ad_group_criterion.keyword.text, ad_group_criterion.keyword.match_type, ad_group.name, campaign.name FROM ad_group_criterion")
            .await;
        assert_eq!(rows[0]["adGroupCriterion"]["keyword"]["matchType"], "PHRASE");
        assert_eq!(rows[0]["adGroup"]["name"], "Running Shoes");
        let rows = env
            .search("SELECT ad_group_ad.ad.responsive_search_ad.headlines, ad_group_ad.status FROM ad_group_ad")
            .await;
        assert_eq!(
            rows[0]["adGroupAd"]["ad"]["responsiveSearchAd"]["headlines"][0]["pinnedField"],
            "HEADLINE_1"
        );
        for (q, n) in [
            ("SELECT campaign_label.campaign, label.name FROM campaign_label", 1),
            ("SELECT ad_group_label.ad_group FROM ad_group_label", 1),
            ("SELECT ad_group_ad_label.ad_group_ad FROM ad_group_ad_label", 1),
            (
                "SELECT user_list.name, user_list.type, user_list.size_for_search FROM user_list",
                1,
            ),
            (
                "SELECT customer.id, customer.currency_code, customer.time_zone FROM customer",
                1,
            ),
        ] {
            assert_eq!(env.search(q).await.len(), n, "{q}");
        }
        // update with a mask, then remove
        let (s, b) = env
            .post(
                "campaigns:mutate",
                json!({"operations":[{"update":{"resourceName":campaign,"status":"ENABLED","name":"Renamed"},"updateMask":"status,name"}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let (s, _) = env.post("campaignLabels:mutate", json!({"operations":[{"remove": format!("{}~{}", campaign.replace("/campaigns/", "/campaignLabels/"), label.rsplit('/').next().unwrap())}]})).await;
        assert_eq!(s, 200);
        let (s, _) = env
            .post("campaigns:mutate", json!({"operations":[{"remove": campaign}]}))
            .await;
        assert_eq!(s, 200);
        let rows = env
            .search("SELECT campaign.name, campaign.status FROM campaign WHERE campaign.status = 'REMOVED'")
            .await;
        assert_eq!(rows[0]["campaign"]["name"], "Renamed");
        assert!(env
            .search("SELECT campaign_label.campaign FROM campaign_label")
            .await
            .is_empty());

        // everything the emulator stored (including the fields it computes) is valid v25 JSON of its resource
        use adsctl::emulator::google_ads::schema::{schema, Violations};
        let dump: Value = env
            .http
            .get(env.url("/_emulator/dump"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let cust = &dump["platforms"]["google_ads"]["customers"][CID];
        let tables = cust["tables"].as_object().unwrap();
        // (with each campaign's ConversionGoalCampaignConfig, which the emulator makes with it)
        assert_eq!(tables.len(), 11);
        for (res, objects) in tables {
            for (key, o) in objects.as_object().unwrap() {
                let mut v = Violations::default();
                schema().check(&format!("resources.{res}"), &o["v"], "", &mut v);
                assert!(v.is_empty(), "{res} {key}: {v:?}");
            }
        }
        for row in cust["change_status"].as_object().unwrap().values() {
            let mut v = Violations::default();
            schema().check("resources.ChangeStatus", &row["v"], "", &mut v);
            assert!(v.is_empty(), "change_status: {v:?}");
        }
    }

    #[tokio::test]
    async fn ads_are_updated_in_place() {
        let env = start().await;
        let shared = env.budget("shared", true).await;
        let (_, b) = env.campaign("Ads", &shared).await;
        let campaign = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let (_, b) = env
            .post(
                "adGroups:mutate",
                json!({"operations":[{"create":{"name":"AG","campaign":campaign}}]}),
            )
            .await;
        let ad_group = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let rsa = |h: &str| json!({"headlines":[{"text":h},{"text":"Two"},{"text":"Three"}],"descriptions":[{"text":"D1"},{"text":"D2"}]});
        let (s, b) = env
            .post("adGroupAds:mutate", json!({"operations":[{"create":{"adGroup":ad_group,"ad":{"finalUrls":["https://example.com"],"responsiveSearchAd":rsa("One")}}}]}))
            .await;
        assert_eq!(s, 200, "{b}");
        let aga = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let ad_rn = format!("customers/{CID}/ads/{}", aga.rsplit('~').next().unwrap());
        let (s, b) = env
            .post("ads:mutate", json!({"operations":[{"update":{"resourceName":ad_rn,"responsiveSearchAd":rsa("Uno")},"updateMask":"responsiveSearchAd.headlines"}]}))
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["results"][0]["resourceName"], ad_rn);
        let (s, b) = env
            .post("googleAds:mutate", json!({"mutateOperations":[{"adOperation":{"update":{"resourceName":ad_rn,"finalUrls":["https://example.com/new"]},"updateMask":"finalUrls"}}]}))
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["mutateOperationResponses"][0]["adResult"]["resourceName"], ad_rn);
        let rows = env.search("SELECT ad_group_ad.ad.final_urls, ad_group_ad.ad.responsive_search_ad.headlines, ad_group_ad.ad.id FROM ad_group_ad").await;
        assert_eq!(rows.len(), 1, "updated in place, not replaced");
        assert_eq!(
            rows[0]["adGroupAd"]["ad"]["responsiveSearchAd"]["headlines"][0]["text"],
            "Uno"
        );
        assert_eq!(rows[0]["adGroupAd"]["ad"]["finalUrls"][0], "https://example.com/new");
        let (s, b) = env
            .post(
                "ads:mutate",
                json!({"operations":[{"update":{"resourceName":ad_rn,"type":"TEXT_AD"},"updateMask":"type"}]}),
            )
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("fieldError", "IMMUTABLE_FIELD"));
        // AdService has no create
        let (s, b) = env
            .post(
                "ads:mutate",
                json!({"operations":[{"create":{"finalUrls":["https://x"]}}]}),
            )
            .await;
        assert_bad_request(s, &b, "Unknown name \"create\"");
    }

    #[tokio::test]
    async fn wrong_shapes_get_the_front_end_error() {
        let env = start().await;
        let budget = env.budget("b", true).await;
        // snake_case key
        let (s, b) = env
            .post(
                "campaignBudgets:mutate",
                json!({"operations":[{"create":{"name":"x","amount_micros":"1000000"}}]}),
            )
            .await;
        assert_bad_request(
            s,
            &b,
            "Unknown name \"amount_micros\" at 'operations[0].create': Cannot find field.",
        );
        assert_eq!(
            b["error"]["details"][0]["fieldViolations"][0]["field"],
            "operations[0].create"
        );
        // unknown field, top level
        let (s, b) = env
            .post("campaigns:mutate", json!({"operations":[], "dryRun": true}))
            .await;
        assert_bad_request(
            s,
            &b,
            "Invalid JSON payload received. Unknown name \"dryRun\": Cannot find field.",
        );
        // bad enum
        let mut body = campaign_body("c", &budget);
        body["advertisingChannelType"] = json!("BILLBOARD");
        let (s, b) = env
            .post("campaigns:mutate", json!({"operations":[{"create": body}]}))
            .await;
        assert_bad_request(s, &b, "Invalid value at 'operations[0].create.advertising_channel_type' (type.googleapis.com/google.ads.googleads.v25.enums.AdvertisingChannelTypeEnum.AdvertisingChannelType), \"BILLBOARD\"");
        // int64 must be a string
        let (s, b) = env
            .post(
                "campaignBudgets:mutate",
                json!({"operations":[{"create":{"name":"y","amountMicros":10.5}}]}),
            )
            .await;
        assert_bad_request(
            s,
            &b,
            "Invalid value at 'operations[0].create.amount_micros' (TYPE_INT64), 10.5",
        );
        // two bidding strategies
        let mut body = campaign_body("c", &budget);
        body["manualCpc"] = json!({});
        let (s, b) = env
            .post("campaigns:mutate", json!({"operations":[{"create": body}]}))
            .await;
        assert_bad_request(s, &b, "Oneof field 'campaign_bidding_strategy' is already set");
        // no bidding strategy: the backend says so
        let mut body = campaign_body("c", &budget);
        body.as_object_mut().unwrap().remove("maximizeConversions");
        let (s, b) = env
            .post("campaigns:mutate", json!({"operations":[{"create": body}]}))
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("fieldError", "REQUIRED"));
        // 10,001 operations
        let ops: Vec<Value> = (0..10_001)
            .map(|i| json!({"create":{"name": format!("l{i}")}}))
            .collect();
        let (s, b) = env.post("labels:mutate", json!({"operations": ops})).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("requestError", "TOO_MANY_MUTATE_OPERATIONS"),
        );
        // a budget not on a cent boundary
        let (s, b) = env
            .post(
                "campaignBudgets:mutate",
                json!({"operations":[{"create":{"name":"z","amountMicros":"1000001"}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("campaignBudgetError", "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT"),
        );
    }

    #[tokio::test]
    async fn platform_rules() {
        let env = start().await;
        let own = env.budget("own", false).await;
        let (s, b) = env.campaign("Same", &own).await;
        assert_eq!(s, 200, "{b}");
        let campaign = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        // a non-shared budget serves one campaign
        let (s, b) = env.campaign("Other", &own).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            (
                "campaignBudgetError",
                "CANNOT_USE_IMPLICITLY_SHARED_CAMPAIGN_BUDGET_WITH_MULTIPLE_CAMPAIGNS",
            ),
        );
        // unique names per customer
        let shared = env.budget("shared", true).await;
        let (s, b) = env.campaign("Same", &shared).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("campaignError", "DUPLICATE_CAMPAIGN_NAME"),
        );
        let loc = &first_error(&b)["location"]["fieldPathElements"];
        assert_eq!(
            loc,
            &json!([{"fieldName":"operations","index":0},{"fieldName":"create"},{"fieldName":"name"}])
        );
        // immutable channel type
        let (s, b) = env
            .post("campaigns:mutate", json!({"operations":[{"update":{"resourceName":campaign,"advertisingChannelType":"DISPLAY"},"updateMask":"advertisingChannelType"}]}))
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("fieldError", "IMMUTABLE_FIELD"));
        // updateMask paths must exist
        let (s, b) = env
            .post(
                "campaigns:mutate",
                json!({"operations":[{"update":{"resourceName":campaign},"updateMask":"status,colour"}]}),
            )
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("fieldMaskError", "FIELD_NOT_FOUND"));
        // a budget in use cannot be removed
        let (s, b) = env
            .post("campaignBudgets:mutate", json!({"operations":[{"remove": own}]}))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("campaignBudgetError", "CAMPAIGN_BUDGET_IN_USE"),
        );
        // removed objects cannot be modified
        let (s, _) = env
            .post("campaigns:mutate", json!({"operations":[{"remove": campaign}]}))
            .await;
        assert_eq!(s, 200);
        let (s, b) = env
            .post(
                "campaigns:mutate",
                json!({"operations":[{"update":{"resourceName":campaign,"status":"PAUSED"},"updateMask":"status"}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            (
                "operationAccessDeniedError",
                "OPERATION_NOT_PERMITTED_FOR_REMOVED_RESOURCE",
            ),
        );
        // the name of a removed campaign is free again
        let (s, b) = env.campaign("Same", &shared).await;
        assert_eq!(s, 200, "{b}");
        // unknown resource
        let (s, b) = env
            .post("campaigns:mutate", json!({"operations":[{"update":{"resourceName":format!("customers/{CID}/campaigns/42"),"status":"PAUSED"},"updateMask":"status"}]}))
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("mutateError", "RESOURCE_NOT_FOUND"));
    }

    #[tokio::test]
    async fn partial_failure_and_validate_only() {
        let env = start().await;
        let ops = json!([
            {"create":{"name":"ok-1"}},
            {"create":{"name":"ok-1"}},
            {"create":{"name":"ok-2"}}
        ]);
        // atomic by default: nothing is written
        let (s, b) = env.post("labels:mutate", json!({"operations": ops})).await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("labelError", "DUPLICATE_NAME"));
        assert!(env.search("SELECT label.name FROM label").await.is_empty());
        // validateOnly: errors only, nothing written
        let (s, b) = env
            .post(
                "labels:mutate",
                json!({"operations":[{"create":{"name":"v"}}], "validateOnly": true}),
            )
            .await;
        assert_eq!((s, &b), (200, &json!({})));
        assert!(env.search("SELECT label.name FROM label").await.is_empty());
        // partialFailure: the good ones stay, results keep their positions
        let (s, b) = env
            .post("labels:mutate", json!({"operations": ops, "partialFailure": true}))
            .await;
        assert_eq!(s, 200, "{b}");
        let r = b["results"].as_array().unwrap();
        assert_eq!(r.len(), 3);
        assert!(r[0]["resourceName"].is_string() && r[2]["resourceName"].is_string());
        assert_eq!(r[1], json!({}));
        let pf = &b["partialFailureError"];
        assert_eq!(pf["code"], 3);
        assert_eq!(
            pf["details"][0]["errors"][0]["location"]["fieldPathElements"][0],
            json!({"fieldName":"operations","index":1})
        );
        assert_eq!(env.search("SELECT label.name FROM label").await.len(), 2);
    }

    #[tokio::test]
    async fn google_ads_mutate_with_temporary_ids() {
        let env = start().await;
        let b1 = format!("customers/{CID}/campaignBudgets/-1");
        let c1 = format!("customers/{CID}/campaigns/-2");
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[
                    {"campaignBudgetOperation":{"create":{"resourceName":b1,"name":"tmp","amountMicros":"20000000","explicitlyShared":false}}},
                    {"campaignOperation":{"create":{"resourceName":c1,"name":"Temp","advertisingChannelType":"SEARCH","campaignBudget":b1,"manualCpc":{"enhancedCpcEnabled":false},"containsEuPoliticalAdvertising":"DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING"}}},
                    {"adGroupOperation":{"create":{"name":"AG","campaign":c1,"cpcBidMicros":"1000000"}}}
                ]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let r = b["mutateOperationResponses"].as_array().unwrap();
        assert!(r[0]["campaignBudgetResult"]["resourceName"]
            .as_str()
            .unwrap()
            .ends_with(|c: char| c.is_ascii_digit()));
        assert!(r[1]["campaignResult"]["resourceName"].is_string());
        assert!(r[2]["adGroupResult"]["resourceName"].is_string());
        let rows = env
            .search("SELECT ad_group.name, campaign.name, campaign.bidding_strategy_type FROM ad_group")
            .await;
        assert_eq!(rows[0]["campaign"]["name"], "Temp");
        assert_eq!(rows[0]["campaign"]["biddingStrategyType"], "MANUAL_CPC");
        // a temporary id that was never created
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[{"adGroupOperation":{"create":{"name":"AG2","campaign":format!("customers/{CID}/campaigns/-9")}}}]}),
            )
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("mutateError", "RESOURCE_NOT_FOUND"));
        assert_eq!(
            first_error(&b)["location"]["fieldPathElements"][0],
            json!({"fieldName":"mutate_operations","index":0})
        );
    }
}

mod search {
    use super::*;

    #[tokio::test]
    async fn pages_of_ten_thousand_and_streams() {
        let env = start().await;
        for chunk in 0..2 {
            let ops: Vec<Value> = (0..5_001)
                .map(|i| json!({"create":{"name": format!("l{chunk}-{i}")}}))
                .collect();
            let (s, b) = env.post("labels:mutate", json!({"operations": ops})).await;
            assert_eq!(s, 200, "{b}");
        }
        let (s, p1) = env
            .post(
                "googleAds:search",
                json!({"query":"SELECT label.id, label.name FROM label","searchSettings":{"returnTotalResultsCount":true}}),
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(p1["results"].as_array().unwrap().len(), 10_000);
        assert_eq!(p1["totalResultsCount"], "10002");
        assert_eq!(p1["fieldMask"], "label.id,label.name");
        let tok = p1["nextPageToken"].as_str().unwrap();
        let (_, p2) = env
            .post(
                "googleAds:search",
                json!({"query":"SELECT label.id, label.name FROM label","pageToken":tok}),
            )
            .await;
        assert_eq!(p2["results"].as_array().unwrap().len(), 2);
        assert!(p2.get("nextPageToken").is_none());
        // the first page asked for the total: a later one may too
        let (s, b) = env
            .post(
                "googleAds:search",
                json!({"query":"SELECT label.id, label.name FROM label","pageToken":tok,"searchSettings":{"returnTotalResultsCount":true}}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["totalResultsCount"], "10002");
        // a first page without it: a later page cannot ask for it (requestError)
        let (_, p1) = env
            .post("googleAds:search", json!({"query":"SELECT label.id FROM label"}))
            .await;
        let tok = p1["nextPageToken"].as_str().unwrap();
        let (s, b) = env
            .post(
                "googleAds:search",
                json!({"query":"SELECT label.id FROM label","pageToken":tok,"searchSettings":{"returnTotalResultsCount":true}}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("requestError", "TOTAL_RESULTS_COUNT_NOT_ORIGINALLY_REQUESTED"),
        );
        let (s, b) = env
            .post(
                "googleAds:search",
                json!({"query":"SELECT label.id FROM label","pageToken":"bm9wZQ"}),
            )
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("requestError", "INVALID_PAGE_TOKEN"));
        let (s, b) = env
            .post(
                "googleAds:search",
                json!({"query":"SELECT label.id FROM label","pageSize":100}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("requestError", "PAGE_SIZE_NOT_SUPPORTED"),
        );
        // int32 may travel as a JSON string: refused the same way
        let (s, b) = env
            .post(
                "googleAds:search",
                json!({"query":"SELECT label.id FROM label","pageSize":"100"}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("requestError", "PAGE_SIZE_NOT_SUPPORTED"),
        );
        let (s, chunks) = env
            .post("googleAds:searchStream", json!({"query":"SELECT label.id FROM label"}))
            .await;
        assert_eq!(s, 200);
        let chunks = chunks.as_array().unwrap();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[1]["results"].as_array().unwrap().len(), 2);
        assert!(chunks[0]["requestId"].is_string());
        // searchStream has no pageSize field at all: the front end rejects it
        let (s, b) = env
            .post(
                "googleAds:searchStream",
                json!({"query":"SELECT label.id FROM label","pageSize":1}),
            )
            .await;
        assert_bad_request(s, &b, "Unknown name \"pageSize\"");
    }

    /// `campaign.labels`, `ad_group.labels` and `ad_group_ad.labels` (output only, repeated label resource
    /// names) list the labels linked through CampaignLabel / AdGroupLabel / AdGroupAdLabel, by ascending label
    /// id; an object without labels omits the field (proto3 JSON drops empty repeated fields).
    #[tokio::test]
    async fn labels_fields_list_the_linked_labels() {
        let env = start().await;
        let budget = env.budget("Spring budget", false).await;
        let (s, b) = env.campaign("A", &budget).await;
        assert_eq!(s, 200, "{b}");
        let a = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let other = env.budget("Other budget", false).await;
        let (s, b) = env.campaign("B", &other).await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = env
            .post(
                "labels:mutate",
                json!({"operations":[{"create":{"name":"first"}},{"create":{"name":"second"}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let l1 = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let l2 = b["results"][1]["resourceName"].as_str().unwrap().to_string();
        // a new ad group with its label link through googleAds:mutate (temporary id), the second label first
        let tmp = format!("customers/{CID}/adGroups/-1");
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[
                    {"adGroupOperation":{"create":{"resourceName":tmp,"name":"AG","status":"ENABLED","type":"SEARCH_STANDARD","campaign":a,"cpcBidMicros":"1000000"}}},
                    {"adGroupLabelOperation":{"create":{"adGroup":tmp,"label":l2}}},
                    {"campaignLabelOperation":{"create":{"campaign":a,"label":l2}}},
                    {"campaignLabelOperation":{"create":{"campaign":a,"label":l1}}}
                ]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let ad_group = b["mutateOperationResponses"][0]["adGroupResult"]["resourceName"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, b) = env
            .post(
                "adGroupAds:mutate",
                json!({"operations":[{"create":{"adGroup":ad_group,"status":"PAUSED","ad":{"finalUrls":["https://example.com/shoes"],
                    "responsiveSearchAd":{"headlines":[{"text":"One"},{"text":"Two"},{"text":"Three"}],
                    "descriptions":[{"text":"Desc one."},{"text":"Desc two."}]}}}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let ad = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let (s, b) = env
            .post(
                "adGroupAdLabels:mutate",
                json!({"operations":[{"create":{"adGroupAd":ad,"label":l1}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");

        let (s, chunks) = env
            .post(
                "googleAds:searchStream",
                json!({"query":"SELECT campaign.name, campaign.labels FROM campaign ORDER BY campaign.name"}),
            )
            .await;
        assert_eq!(s, 200, "{chunks}");
        assert_eq!(chunks[0]["fieldMask"], "campaign.name,campaign.labels");
        let rows = chunks[0]["results"].as_array().unwrap();
        assert_eq!(rows[0]["campaign"]["labels"], json!([l1, l2]), "by ascending label id");
        assert_eq!(rows[1]["campaign"]["name"], "B");
        assert!(
            rows[1]["campaign"].get("labels").is_none(),
            "an empty repeated field is omitted: {}",
            rows[1]
        );
        // attributed: the campaign's labels next to the ad group's
        let rows = env
            .search("SELECT ad_group.labels, campaign.labels FROM ad_group")
            .await;
        assert_eq!(rows[0]["adGroup"]["labels"], json!([l2]));
        assert_eq!(rows[0]["campaign"]["labels"], json!([l1, l2]));
        let rows = env.search("SELECT ad_group_ad.labels FROM ad_group_ad").await;
        assert_eq!(rows[0]["adGroupAd"]["labels"], json!([l1]));
        assert_eq!(rows[0]["adGroupAd"]["resourceName"], json!(ad));
        // not selected, not served
        let rows = env.search("SELECT campaign.name FROM campaign").await;
        assert!(rows.iter().all(|r| r["campaign"].get("labels").is_none()));

        // unlinking shows at once; the last one gone, the field goes
        let link = |target: &str, coll: &str, label: &str| {
            let (head, id) = target.rsplit_once('/').unwrap();
            let head = head.rsplit_once('/').unwrap().0;
            format!("{head}/{coll}/{id}~{}", label.rsplit('/').next().unwrap())
        };
        let (s, b) = env
            .post(
                "campaignLabels:mutate",
                json!({"operations":[{"remove": link(&a, "campaignLabels", &l1)}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let rows = env
            .search("SELECT campaign.labels FROM campaign WHERE campaign.name = 'A'")
            .await;
        assert_eq!(rows[0]["campaign"]["labels"], json!([l2]));
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[{"campaignLabelOperation":{"remove": link(&a, "campaignLabels", &l2)}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let rows = env
            .search("SELECT campaign.labels FROM campaign WHERE campaign.name = 'A'")
            .await;
        assert!(rows[0]["campaign"].get("labels").is_none(), "{}", rows[0]);
    }

    #[tokio::test]
    async fn gaql_filters_order_limit_and_metrics() {
        let env = start().await;
        let shared = env.budget("shared", true).await;
        for n in ["Alpha Sale", "Beta", "Gamma Sale"] {
            let (s, b) = env.campaign(n, &shared).await;
            assert_eq!(s, 200, "{b}");
        }
        let names = |rows: Vec<Value>| -> Vec<String> {
            rows.iter()
                .map(|r| r["campaign"]["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            names(
                env.search(
                    "SELECT campaign.name FROM campaign WHERE campaign.name LIKE '%Sale' ORDER BY campaign.name DESC"
                )
                .await
            ),
            ["Gamma Sale", "Alpha Sale"]
        );
        assert_eq!(names(env.search("SELECT campaign.name FROM campaign WHERE campaign.name IN ('Beta', 'Nope') AND campaign.status != 'REMOVED'").await), ["Beta"]);
        assert_eq!(
            names(
                env.search("SELECT campaign.name FROM campaign ORDER BY campaign.name LIMIT 1")
                    .await
            ),
            ["Alpha Sale"]
        );
        assert_eq!(
            env.search("SELECT campaign.name FROM campaign WHERE campaign.status = 'ENABLED'")
                .await
                .len(),
            0
        );
        let q = "SELECT campaign.id, segments.date, metrics.impressions, metrics.clicks, metrics.cost_micros, metrics.conversions FROM campaign WHERE segments.date DURING LAST_7_DAYS";
        let a = env.search(q).await;
        assert_eq!(a.len(), 3 * 7);
        assert_eq!(a, env.search(q).await, "metrics are deterministic");
        for r in &a {
            let imp: u64 = r["metrics"]["impressions"].as_str().unwrap().parse().unwrap();
            let clicks: u64 = r["metrics"]["clicks"].as_str().unwrap().parse().unwrap();
            let cost: u64 = r["metrics"]["costMicros"].as_str().unwrap().parse().unwrap();
            assert!(clicks <= imp);
            assert!(cost <= 50_000_000);
            assert!(r["metrics"]["conversions"].is_number());
        }
        let b = env
            .search("SELECT campaign.id, segments.date, metrics.clicks FROM campaign WHERE segments.date BETWEEN '2026-01-01' AND '2026-01-31' AND campaign.name = 'Beta'")
            .await;
        assert_eq!(b.len(), 31);
        let (s, b) = env
            .post(
                "googleAds:search",
                json!({"query":"SELECT campaign.colour FROM campaign"}),
            )
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("queryError", "UNRECOGNIZED_FIELD"));
        let (s, b) = env
            .post(
                "googleAds:search",
                json!({"query":"SELECT segments.date, metrics.clicks FROM campaign"}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("queryError", "EXPECTED_FILTERS_ON_DATE_RANGE"),
        );
    }

    #[tokio::test]
    async fn change_status_and_drift() {
        let env = start().await;
        let shared = env.budget("shared", true).await;
        let (_, b) = env.campaign("Tracked", &shared).await;
        let campaign = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let rows = env
            .search("SELECT change_status.resource_type, change_status.resource_status, change_status.campaign, change_status.last_change_date_time FROM change_status WHERE change_status.resource_type = 'CAMPAIGN'")
            .await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["changeStatus"]["resourceStatus"], "ADDED");
        let since = rows[0]["changeStatus"]["lastChangeDateTime"]
            .as_str()
            .unwrap()
            .to_string();
        // somebody pauses it in the web UI
        let r = env
            .http
            .post(env.url("/_emulator/google_ads/drift"))
            .json(&json!({"resourceName": campaign, "set": {"status": "ENABLED"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let rows = env
            .search(&format!("SELECT change_status.campaign, change_status.resource_status FROM change_status WHERE change_status.last_change_date_time > '{since}'"))
            .await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["changeStatus"]["campaign"], campaign);
        assert_eq!(
            env.search("SELECT campaign.status FROM campaign").await[0]["campaign"]["status"],
            "ENABLED"
        );
    }
}

mod jobs {
    use super::*;

    #[tokio::test]
    async fn customer_match_upload() {
        let env = start().await;
        let (_, b) = env
            .post("userLists:mutate", json!({"operations":[{"create":{"name":"CM","crmBasedUserList":{"uploadKeyType":"CONTACT_INFO","dataSourceType":"FIRST_PARTY"}}}]}))
            .await;
        let ul = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let (s, b) = env
            .post(
                "offlineUserDataJobs:create",
                json!({"job":{"type":"CUSTOMER_MATCH_USER_LIST","customerMatchUserListMetadata":{"userList":ul,"consent":{"adUserData":"GRANTED","adPersonalization":"GRANTED"}}}}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let job = b["resourceName"].as_str().unwrap().to_string();
        let tail = job.split_once(&format!("customers/{CID}/")).unwrap().1.to_string();
        let h = |s: &str| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(s.as_bytes()));
        let (s, b) = env
            .post(
                &format!("{tail}:addOperations"),
                json!({"enablePartialFailure": true, "operations":[
                    {"create":{"userIdentifiers":[{"hashedEmail": h("a@example.com")}]}},
                    {"create":{"userIdentifiers":[{"hashedEmail": "NOT-A-HASH"}]}},
                    {"create":{"userIdentifiers":[{"hashedEmail": h("b@example.com")}]}}
                ]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(
            b["partialFailureError"]["details"][0]["errors"][0]["errorCode"],
            json!({"offlineUserDataJobError":"INVALID_SHA256_FORMAT"})
        );
        // creates and removes cannot be mixed in one job
        let (s, b) = env
            .post(
                &format!("{tail}:addOperations"),
                json!({"operations":[{"remove":{"userIdentifiers":[{"hashedEmail": h("a@example.com")}]}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("offlineUserDataJobError", "CONFLICTING_OPERATION"),
        );
        let (s, op) = env.post(&format!("{tail}:run"), json!({})).await;
        assert_eq!(s, 200, "{op}");
        let name = op["name"].as_str().unwrap().to_string();
        let done: Value = env
            .http
            .get(env.url(&format!("/v25/{name}")))
            .bearer_auth(&env.token)
            .header("developer-token", defaults::GOOGLE_DEVELOPER_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(done["done"], true, "{done}");
        let rows = env.search("SELECT user_list.size_for_search FROM user_list").await;
        assert_eq!(rows[0]["userList"]["sizeForSearch"], "2");
        let (s, b) = env.post(&format!("{tail}:run"), json!({})).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("offlineUserDataJobError", "JOB_ALREADY_STARTED"),
        );
    }
}

mod core {
    use super::*;

    async fn set_faults(env: &Env, spec: &str) {
        let r = env
            .http
            .post(env.url("/_emulator/faults"))
            .json(&json!({"spec": spec}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    #[tokio::test]
    async fn faults_counters_and_admin() {
        let env = start().await;
        let q = json!({"query":"SELECT label.name FROM label"});
        set_faults(&env, "5xx=1").await;
        let (s, b) = env.post("googleAds:search", q.clone()).await;
        assert_ads_failure(s, &b, 503, "UNAVAILABLE", ("internalError", "TRANSIENT_ERROR"));
        // admin routes are never faulted
        let r = env.http.get(env.url("/_emulator/dump")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        set_faults(&env, "429=1").await;
        let (s, b) = env.post("googleAds:search", q.clone()).await;
        assert_ads_failure(
            s,
            &b,
            429,
            "RESOURCE_EXHAUSTED",
            ("quotaError", "RESOURCE_TEMPORARILY_EXHAUSTED"),
        );
        assert_eq!(first_error(&b)["details"]["quotaErrorDetails"]["retryDelay"], "1s");
        set_faults(&env, "reset=1").await;
        let r = env
            .http
            .post(env.url(&format!("/v25/customers/{CID}/googleAds:search")))
            .json(&q)
            .send()
            .await;
        assert!(r.is_err(), "the connection was dropped");
        // lost response: the write commits, the client never hears
        set_faults(&env, "lost=1").await;
        let r = env
            .http
            .post(env.url(&format!("/v25/customers/{CID}/labels:mutate")))
            .bearer_auth(&env.token)
            .header("developer-token", defaults::GOOGLE_DEVELOPER_TOKEN)
            .json(&json!({"operations":[{"create":{"name":"lost"}}]}))
            .send()
            .await;
        assert!(r.is_err());
        set_faults(&env, "").await;
        assert_eq!(env.search("SELECT label.name FROM label").await.len(), 1);
        // read lag: a read right after a write does not see it
        let (s, _) = env
            .post("labels:mutate", json!({"operations":[{"create":{"name":"fresh"}}]}))
            .await;
        assert_eq!(s, 200);
        set_faults(&env, "lag=1").await;
        assert_eq!(env.search("SELECT label.name FROM label").await.len(), 1);
        set_faults(&env, "").await;
        assert_eq!(env.search("SELECT label.name FROM label").await.len(), 2);
        // timeouts hang (then drop)
        set_faults(&env, "timeout=1").await;
        let r = env
            .http
            .post(env.url(&format!("/v25/customers/{CID}/googleAds:search")))
            .timeout(Duration::from_millis(300))
            .json(&q)
            .send()
            .await;
        assert!(r.unwrap_err().is_timeout());
        set_faults(&env, "").await;
        // counters
        let c: Value = env
            .http
            .get(env.url("/_emulator/requests"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let m = &c["endpoints"]["POST /v25/customers/{customerId}/labels:mutate"];
        assert_eq!(m["requests"], 2, "{c}");
        assert_eq!(m["operations"], 2);
        let f: Value = env
            .http
            .get(env.url("/_emulator/faults"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(f["spec"]["5xx"], 0.0);
        env.http.delete(env.url("/_emulator/requests")).send().await.unwrap();
        let c: Value = env
            .http
            .get(env.url("/_emulator/requests"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(c["total_requests"], 0);
        // reset
        env.http.post(env.url("/_emulator/reset")).send().await.unwrap();
        let d: Value = env
            .http
            .get(env.url("/_emulator/dump"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            d["platforms"]["google_ads"]["customers"][CID].is_null(),
            "{}",
            d["platforms"]["google_ads"]["customers"]
        );
        let bad = env
            .http
            .post(env.url("/_emulator/faults"))
            .json(&json!({"5xx": 3}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
    }

    #[tokio::test]
    async fn fault_sequence_is_reproducible_from_the_seed() {
        let run = || async {
            let env = start_with(EmulatorConfig {
                faults: FaultSpec::parse("5xx=0.3,seed=11").unwrap(),
                ..EmulatorConfig::default()
            })
            .await;
            let mut v = Vec::new();
            for _ in 0..20 {
                v.push(
                    env.post("googleAds:search", json!({"query":"SELECT label.name FROM label"}))
                        .await
                        .0,
                );
            }
            v
        };
        let a = run().await;
        assert_eq!(a, run().await);
        assert!(a.contains(&503) && a.contains(&200), "{a:?}");
    }

    #[tokio::test]
    async fn rate_limits() {
        let mut cfg = EmulatorConfig::default();
        cfg.rate_limits.google_ads.daily_operations = Some(3);
        let env = start_with(cfg).await;
        let ops: Vec<Value> = (0..4).map(|i| json!({"create":{"name": format!("l{i}")}})).collect();
        let (s, b) = env.post("labels:mutate", json!({"operations": ops})).await;
        assert_ads_failure(s, &b, 429, "RESOURCE_EXHAUSTED", ("quotaError", "RESOURCE_EXHAUSTED"));
        let d = &first_error(&b)["details"]["quotaErrorDetails"];
        assert_eq!(d["rateScope"], "DEVELOPER");
        assert!(d["retryDelay"].as_str().unwrap().ends_with('s'));
        let mut cfg = EmulatorConfig::default();
        cfg.rate_limits.google_ads.requests_per_second = Some(1);
        let env = start_with(cfg).await;
        let mut statuses = Vec::new();
        for _ in 0..5 {
            statuses.push(
                env.post("googleAds:search", json!({"query":"SELECT label.name FROM label"}))
                    .await
                    .0,
            );
        }
        assert!(statuses.contains(&429), "{statuses:?}");
    }

    #[tokio::test]
    async fn state_persists_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("state.json");
        let cfg = || EmulatorConfig {
            data: Some(data.clone()),
            ..EmulatorConfig::default()
        };
        let env = start_with(cfg()).await;
        let (s, _) = env
            .post("labels:mutate", json!({"operations":[{"create":{"name":"kept"}}]}))
            .await;
        assert_eq!(s, 200);
        env.em.shutdown().await.unwrap();
        let env = start_with(cfg()).await;
        let rows = env.search("SELECT label.name FROM label").await;
        assert_eq!(rows[0]["label"]["name"], "kept");
        // names stay unique after a restore (indexes rebuilt)
        let (s, b) = env
            .post("labels:mutate", json!({"operations":[{"create":{"name":"kept"}}]}))
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("labelError", "DUPLICATE_NAME"));
    }

    #[test]
    fn cli_prints_the_url_first_and_saves_on_sigterm() {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("cli.json");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_adsctl"))
            .args(["emulator", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        let rt = tokio::runtime::Runtime::new().unwrap();
        let health: Value = rt.block_on(async {
            reqwest::get(format!("{url}/_emulator/health"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        assert_eq!(health["status"], "ok");
        let st = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let exit = child.wait().unwrap();
        assert!(exit.success(), "{exit:?}");
        let saved: Value = serde_json::from_slice(&std::fs::read(&data).unwrap()).unwrap();
        assert!(saved["platforms"]["google_ads"].is_object());
    }
}

mod fields_table {
    /// The committed table is what the script derives from the reference protos (checked when the reference
    /// is around; a user's clone has no ../shared and relies on the committed file).
    #[test]
    fn committed_table_matches_the_protos() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let candidates = [
            root.join("../shared/reference/google-ads/protos"),
            root.join("../../shared/reference/google-ads/protos"),
        ];
        let Some(protos) = candidates.iter().find(|p| p.is_dir()) else {
            eprintln!("reference protos not found: skipping the regeneration check");
            return;
        };
        let out = tempfile::NamedTempFile::new().unwrap();
        let st = std::process::Command::new("python3")
            .arg(root.join("scripts/gen-google-ads-fields.py"))
            .arg(protos)
            .arg(out.path())
            .stdout(std::process::Stdio::null())
            .status();
        let Ok(st) = st else {
            eprintln!("python3 not available: skipping the regeneration check");
            return;
        };
        assert!(st.success());
        let fresh = std::fs::read_to_string(out.path()).unwrap();
        let committed =
            std::fs::read_to_string(root.join("crates/adsctl-emulator/src/google_ads/fields.json")).unwrap();
        assert!(
            fresh == committed,
            "crates/adsctl-emulator/src/google_ads/fields.json is stale: rerun scripts/gen-google-ads-fields.py"
        );
    }
}

/// A campaign (own budget), an ad group, a keyword and a negative keyword in it; returns their resource names
/// (campaign, ad group, keyword, negative keyword).
async fn keyword_tree(env: &Env, name: &str) -> (String, String, String, String) {
    let budget = env.budget(&format!("{name} budget"), false).await;
    let (s, b) = env.campaign(name, &budget).await;
    assert_eq!(s, 200, "{b}");
    let campaign = rn(&b, 0);
    let (s, b) = env
        .post(
            "adGroups:mutate",
            json!({"operations":[{"create":{"name":"AG","campaign":campaign}}]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let ad_group = rn(&b, 0);
    let (s, b) = env
        .post(
            "adGroupCriteria:mutate",
            json!({"operations":[
                {"create":{"adGroup":ad_group,"keyword":{"text":"running shoes","matchType":"PHRASE"}}},
                {"create":{"adGroup":ad_group,"negative":true,"keyword":{"text":"free","matchType":"BROAD"}}}
            ]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    (campaign, ad_group, rn(&b, 0), rn(&b, 1))
}

fn rn(b: &Value, i: usize) -> String {
    b["results"][i]["resourceName"].as_str().unwrap().to_string()
}

/// Everything the emulator stored (with the fields it computes) is valid v25 JSON of its resource.
async fn assert_store_is_v25(env: &Env) {
    use adsctl::emulator::google_ads::schema::{schema, Violations};
    let dump: Value = env
        .http
        .get(env.url("/_emulator/dump"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cust = &dump["platforms"]["google_ads"]["customers"][CID];
    for (res, objects) in cust["tables"].as_object().unwrap() {
        for (key, o) in objects.as_object().unwrap() {
            let mut v = Violations::default();
            schema().check(&format!("resources.{res}"), &o["v"], "", &mut v);
            assert!(v.is_empty(), "{res} {key}: {v:?}");
        }
    }
    for row in cust["change_status"].as_object().unwrap().values() {
        let mut v = Violations::default();
        schema().check("resources.ChangeStatus", &row["v"], "", &mut v);
        assert!(v.is_empty(), "change_status: {v:?}");
    }
}

async fn label(env: &Env, name: &str) -> String {
    let (s, b) = env
        .post("labels:mutate", json!({"operations":[{"create":{"name":name}}]}))
        .await;
    assert_eq!(s, 200, "{b}");
    rn(&b, 0)
}

/// The resources adsctl's ownership work needs (issue 15), each from the v25 protos.
mod trust_support {
    use super::*;

    /// AdGroupCriterionLabel (resources/ad_group_criterion_label.proto): per-service and googleAds:mutate,
    /// temporary ids, `ad_group_criterion.labels` and the `ad_group_criterion_label` resource in GAQL, and the
    /// label errors that apply to criteria.
    #[tokio::test]
    async fn ad_group_criterion_labels() {
        let env = start().await;
        let (_, ad_group, keyword, negative) = keyword_tree(&env, "Crit").await;
        let managed = label(&env, "adsctl-managed").await;
        let (s, b) = env
            .post(
                "adGroupCriterionLabels:mutate",
                json!({"operations":[{"create":{"adGroupCriterion":keyword,"label":managed}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let link = rn(&b, 0);
        let ag_id = ad_group.rsplit('/').next().unwrap();
        let crit_id = keyword.rsplit('~').next().unwrap();
        let label_id = managed.rsplit('/').next().unwrap();
        assert_eq!(
            link,
            format!("customers/{CID}/adGroupCriterionLabels/{ag_id}~{crit_id}~{label_id}")
        );
        let rows = env
            .search("SELECT ad_group_criterion.keyword.text, ad_group_criterion.labels FROM ad_group_criterion WHERE ad_group_criterion.negative = FALSE")
            .await;
        assert_eq!(rows[0]["adGroupCriterion"]["labels"], json!([managed]));
        let rows = env
            .search("SELECT ad_group_criterion_label.ad_group_criterion, ad_group_criterion_label.label, label.name, ad_group_criterion.keyword.text, ad_group.name FROM ad_group_criterion_label")
            .await;
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(r["adGroupCriterionLabel"]["resourceName"], link);
        assert_eq!(r["adGroupCriterionLabel"]["adGroupCriterion"], keyword);
        assert_eq!(r["adGroupCriterionLabel"]["label"], managed);
        assert_eq!(r["label"]["name"], "adsctl-managed");
        assert_eq!(r["adGroupCriterion"]["keyword"]["text"], "running shoes");
        assert_eq!(r["adGroup"]["name"], "AG");
        // the same link twice
        let (s, b) = env
            .post(
                "adGroupCriterionLabels:mutate",
                json!({"operations":[{"create":{"adGroupCriterion":keyword,"label":managed}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("adGroupCriterionError", "AD_GROUP_CRITERION_LABEL_ALREADY_EXISTS"),
        );
        // labels cannot be applied to negative ad group criteria
        let (s, b) = env
            .post(
                "adGroupCriterionLabels:mutate",
                json!({"operations":[{"create":{"adGroupCriterion":negative,"label":managed}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("labelError", "CANNOT_APPLY_LABEL_TO_NEGATIVE_AD_GROUP_CRITERION"),
        );
        assert_eq!(
            first_error(&b)["location"]["fieldPathElements"],
            json!([{"fieldName":"operations","index":0},{"fieldName":"create"},{"fieldName":"ad_group_criterion"}])
        );
        // nor to a removed one (read as "disabled")
        let (s, b) = env
            .post(
                "adGroupCriteria:mutate",
                json!({"operations":[{"create":{"adGroup":ad_group,"keyword":{"text":"gone","matchType":"EXACT"}}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let gone = rn(&b, 0);
        let (s, _) = env
            .post("adGroupCriteria:mutate", json!({"operations":[{"remove": gone}]}))
            .await;
        assert_eq!(s, 200);
        let (s, b) = env
            .post(
                "adGroupCriterionLabels:mutate",
                json!({"operations":[{"create":{"adGroupCriterion":gone,"label":managed}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("labelError", "CANNOT_APPLY_LABEL_TO_DISABLED_AD_GROUP_CRITERION"),
        );
        // an unknown criterion
        let (s, b) = env
            .post(
                "adGroupCriterionLabels:mutate",
                json!({"operations":[{"create":{"adGroupCriterion":format!("customers/{CID}/adGroupCriteria/{ag_id}~42"),"label":managed}}]}),
            )
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("mutateError", "RESOURCE_NOT_FOUND"));
        // links are created and removed, never updated
        let (s, b) = env
            .post(
                "adGroupCriterionLabels:mutate",
                json!({"operations":[{"update":{"resourceName":link}}]}),
            )
            .await;
        assert_bad_request(s, &b, "Unknown name \"update\"");
        // remove by resource name
        let (s, b) = env
            .post(
                "adGroupCriterionLabels:mutate",
                json!({"operations":[{"remove": link}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert!(env
            .search("SELECT ad_group_criterion_label.label FROM ad_group_criterion_label")
            .await
            .is_empty());
        let rows = env
            .search(
                "SELECT ad_group_criterion.labels FROM ad_group_criterion WHERE ad_group_criterion.negative = FALSE",
            )
            .await;
        assert!(rows[0]["adGroupCriterion"].get("labels").is_none(), "{}", rows[0]);

        // googleAds:mutate: a new label, a new keyword and their link in one request, through temporary ids
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[
                    {"labelOperation":{"create":{"resourceName":format!("customers/{CID}/labels/-1"),"name":"tmp-label"}}},
                    {"adGroupCriterionOperation":{"create":{"resourceName":format!("customers/{CID}/adGroupCriteria/{ag_id}~-2"),"adGroup":ad_group,"keyword":{"text":"trail shoes","matchType":"EXACT"}}}},
                    {"adGroupCriterionLabelOperation":{"create":{"adGroupCriterion":format!("customers/{CID}/adGroupCriteria/{ag_id}~-2"),"label":format!("customers/{CID}/labels/-1")}}}
                ]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let r = b["mutateOperationResponses"].as_array().unwrap();
        let new_label = r[0]["labelResult"]["resourceName"].as_str().unwrap();
        let new_kw = r[1]["adGroupCriterionResult"]["resourceName"].as_str().unwrap();
        let new_link = r[2]["adGroupCriterionLabelResult"]["resourceName"].as_str().unwrap();
        assert_eq!(
            new_link,
            format!(
                "customers/{CID}/adGroupCriterionLabels/{ag_id}~{}~{}",
                new_kw.rsplit('~').next().unwrap(),
                new_label.rsplit('/').next().unwrap()
            )
        );
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[{"adGroupCriterionLabelOperation":{"remove": new_link}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert!(b["mutateOperationResponses"][0]["adGroupCriterionLabelResult"]["resourceName"].is_string());
        assert_store_is_v25(&env).await;
    }

    /// errors/label_error.proto EXCEEDED_LABEL_LIMIT_PER_TYPE: "Cannot apply more than 50 labels per resource."
    #[tokio::test]
    async fn at_most_fifty_labels_per_resource() {
        let env = start().await;
        let (campaign, _, keyword, _) = keyword_tree(&env, "Many").await;
        let ops: Vec<Value> = (0..51).map(|i| json!({"create":{"name": format!("l{i}")}})).collect();
        let (s, b) = env.post("labels:mutate", json!({"operations": ops})).await;
        assert_eq!(s, 200, "{b}");
        let labels: Vec<String> = (0..51).map(|i| rn(&b, i)).collect();
        for (svc, field, target) in [
            ("campaignLabels", "campaign", &campaign),
            ("adGroupCriterionLabels", "adGroupCriterion", &keyword),
        ] {
            let ops: Vec<Value> = labels
                .iter()
                .map(|l| json!({"create":{field: target, "label": l}}))
                .collect();
            let (s, b) = env.post(&format!("{svc}:mutate"), json!({"operations": ops})).await;
            assert_ads_failure(
                s,
                &b,
                400,
                "INVALID_ARGUMENT",
                ("labelError", "EXCEEDED_LABEL_LIMIT_PER_TYPE"),
            );
            assert_eq!(
                first_error(&b)["location"]["fieldPathElements"][0],
                json!({"fieldName":"operations","index":50}),
                "{svc}"
            );
            let ops: Vec<Value> = labels[..50]
                .iter()
                .map(|l| json!({"create":{field: target, "label": l}}))
                .collect();
            let (s, b) = env.post(&format!("{svc}:mutate"), json!({"operations": ops})).await;
            assert_eq!(s, 200, "{svc}: {b}");
        }
    }

    /// Label (resources/label.proto, common/text_label.proto, errors/label_error.proto): name rules,
    /// `text_label.description` (at most 200 characters) written on create and update and read through GAQL,
    /// update and remove through labels:mutate and labelOperation; a removed label's name is free again and it
    /// cannot be applied any more.
    #[tokio::test]
    async fn labels_names_descriptions_update_and_remove() {
        let env = start().await;
        let long_desc = "d".repeat(200);
        let (s, b) = env
            .post(
                "labels:mutate",
                json!({"operations":[{"create":{"name":"adsctl","textLabel":{"description": long_desc,"backgroundColor":"#1A2b3c"}}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let l = rn(&b, 0);
        let rows = env
            .search("SELECT label.name, label.status, label.text_label.description, label.text_label.background_color FROM label")
            .await;
        assert_eq!(rows[0]["label"]["status"], "ENABLED");
        assert_eq!(rows[0]["label"]["textLabel"]["description"], long_desc.as_str());
        assert_eq!(rows[0]["label"]["textLabel"]["backgroundColor"], "#1A2b3c");
        for (create, code) in [
            (json!({"name":""}), ("labelError", "INVALID_LABEL_NAME")),
            (json!({"name":"   "}), ("labelError", "INVALID_LABEL_NAME")),
            (
                json!({"textLabel":{"description":"no name"}}),
                ("labelError", "INVALID_LABEL_NAME"),
            ),
            (json!({"name":"n".repeat(81)}), ("stringLengthError", "TOO_LONG")),
            (
                json!({"name":"x","textLabel":{"description":"d".repeat(201)}}),
                ("stringLengthError", "TOO_LONG"),
            ),
            (
                json!({"name":"x","textLabel":{"backgroundColor":"red"}}),
                ("fieldError", "INVALID_VALUE"),
            ),
            (json!({"name":"adsctl"}), ("labelError", "DUPLICATE_NAME")),
        ] {
            let (s, b) = env
                .post("labels:mutate", json!({"operations":[{"create": create}]}))
                .await;
            assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", code);
        }
        assert_eq!(env.search("SELECT label.id FROM label").await.len(), 1);
        let (s, b) = env
            .post(
                "labels:mutate",
                json!({"operations":[{"create":{"name":"n".repeat(80)}}]}),
            )
            .await;
        assert_eq!(s, 200, "80 characters are fine: {b}");
        let other = rn(&b, 0);
        // update: name and description through the mask
        let (s, b) = env
            .post(
                "labels:mutate",
                json!({"operations":[{"update":{"resourceName":l,"name":"adsctl:managed","textLabel":{"description":"owned by adsctl"}},"updateMask":"name,textLabel.description"}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let rows = env
            .search(&format!("SELECT label.name, label.text_label.description, label.text_label.background_color FROM label WHERE label.resource_name = '{l}'"))
            .await;
        assert_eq!(rows[0]["label"]["name"], "adsctl:managed");
        assert_eq!(rows[0]["label"]["textLabel"]["description"], "owned by adsctl");
        assert_eq!(rows[0]["label"]["textLabel"]["backgroundColor"], "#1A2b3c");
        for (update, mask, code) in [
            (
                json!({"resourceName":l,"name":""}),
                "name",
                ("labelError", "INVALID_LABEL_NAME"),
            ),
            (json!({"resourceName":l}), "name", ("labelError", "INVALID_LABEL_NAME")),
            (
                json!({"resourceName":l,"textLabel":{"description":"d".repeat(201)}}),
                "textLabel.description",
                ("stringLengthError", "TOO_LONG"),
            ),
            (
                json!({"resourceName":l,"name":"n".repeat(80)}),
                "name",
                ("labelError", "DUPLICATE_NAME"),
            ),
            (
                json!({"resourceName":l,"status":"REMOVED"}),
                "status",
                ("fieldError", "IMMUTABLE_FIELD"),
            ),
        ] {
            let (s, b) = env
                .post(
                    "labels:mutate",
                    json!({"operations":[{"update": update, "updateMask": mask}]}),
                )
                .await;
            assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", code);
        }
        // labelOperation in googleAds:mutate
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[{"labelOperation":{"update":{"resourceName":l,"textLabel":{"description":"v2"}},"updateMask":"textLabel.description"}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["mutateOperationResponses"][0]["labelResult"]["resourceName"], l);
        // remove: status REMOVED, its name free again (reading), and it cannot be applied
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[{"labelOperation":{"remove": other}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let rows = env
            .search(&format!(
                "SELECT label.status FROM label WHERE label.resource_name = '{other}'"
            ))
            .await;
        assert_eq!(rows[0]["label"]["status"], "REMOVED");
        let (s, b) = env
            .post(
                "labels:mutate",
                json!({"operations":[{"create":{"name":"n".repeat(80)}}]}),
            )
            .await;
        assert_eq!(s, 200, "a removed label's name can be used again: {b}");
        let (campaign, _, _, _) = keyword_tree(&env, "Apply").await;
        let (s, b) = env
            .post(
                "campaignLabels:mutate",
                json!({"operations":[{"create":{"campaign":campaign,"label":other}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("labelError", "CANNOT_APPLY_INACTIVE_LABEL"),
        );
        let (s, b) = env
            .post(
                "labels:mutate",
                json!({"operations":[{"update":{"resourceName":other,"name":"back"},"updateMask":"name"}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            (
                "operationAccessDeniedError",
                "OPERATION_NOT_PERMITTED_FOR_REMOVED_RESOURCE",
            ),
        );
        assert_store_is_v25(&env).await;
    }

    /// CampaignCriterion keywords (resources/campaign_criterion.proto, errors/campaign_criterion_error.proto):
    /// campaignCriteria:mutate and campaignCriterionOperation, the campaign_criterion GAQL resource, its
    /// change_status rows, and the rules that apply to keywords.
    #[tokio::test]
    async fn campaign_negative_keywords() {
        let env = start().await;
        let (campaign, _, _, _) = keyword_tree(&env, "Negatives").await;
        let campaign_id = campaign.rsplit('/').next().unwrap().to_string();
        let (s, b) = env
            .post(
                "campaignCriteria:mutate",
                json!({"operations":[{"create":{"campaign":campaign,"negative":true,"keyword":{"text":"cheap","matchType":"BROAD"}}}],
                       "responseContentType":"MUTABLE_RESOURCE"}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let neg = rn(&b, 0);
        let crit_id = b["results"][0]["campaignCriterion"]["criterionId"].as_str().unwrap();
        assert_eq!(neg, format!("customers/{CID}/campaignCriteria/{campaign_id}~{crit_id}"));
        let rows = env
            .search("SELECT campaign_criterion.resource_name, campaign_criterion.criterion_id, campaign_criterion.campaign, campaign_criterion.negative, campaign_criterion.status, campaign_criterion.type, campaign_criterion.keyword.text, campaign_criterion.keyword.match_type, campaign.name FROM campaign_criterion")
            .await;
        assert_eq!(rows.len(), 1);
        let c = &rows[0]["campaignCriterion"];
        assert_eq!(c["resourceName"], neg);
        assert_eq!(c["criterionId"], crit_id);
        assert_eq!(c["campaign"], campaign);
        assert_eq!(c["negative"], true);
        assert_eq!(c["status"], "ENABLED");
        assert_eq!(c["type"], "KEYWORD");
        assert_eq!(c["keyword"], json!({"text":"cheap","matchType":"BROAD"}));
        assert_eq!(rows[0]["campaign"]["name"], "Negatives");
        let rows = env
            .search("SELECT change_status.resource_type, change_status.resource_status, change_status.campaign_criterion, change_status.campaign FROM change_status WHERE change_status.resource_type = 'CAMPAIGN_CRITERION'")
            .await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["changeStatus"]["campaignCriterion"], neg);
        assert_eq!(rows[0]["changeStatus"]["campaign"], campaign);
        assert_eq!(rows[0]["changeStatus"]["resourceStatus"], "ADDED");

        let err = |s, b: &Value, code: &str| {
            assert_ads_failure(s, b, 400, "INVALID_ARGUMENT", ("campaignCriterionError", code));
        };
        // negative criteria are immutable
        let (s, b) = env
            .post(
                "campaignCriteria:mutate",
                json!({"operations":[{"update":{"resourceName":neg,"bidModifier":1.5},"updateMask":"bidModifier"}]}),
            )
            .await;
        err(s, &b, "CANNOT_UPDATE_NEGATIVE_CRITERION");
        // no status on an excluded criterion
        let (s, b) = env
            .post(
                "campaignCriteria:mutate",
                json!({"operations":[{"create":{"campaign":campaign,"negative":true,"status":"PAUSED","keyword":{"text":"used","matchType":"BROAD"}}}]}),
            )
            .await;
        err(s, &b, "CANNOT_SET_STATUS_FOR_EXCLUDED_CRITERIA");
        // a criterion needs its concrete type
        let (s, b) = env
            .post(
                "campaignCriteria:mutate",
                json!({"operations":[{"create":{"campaign":campaign,"negative":true}}]}),
            )
            .await;
        err(s, &b, "CONCRETE_TYPE_REQUIRED");
        // the same keyword cannot be targeted and excluded
        let (s, b) = env
            .post(
                "campaignCriteria:mutate",
                json!({"operations":[{"create":{"campaign":campaign,"keyword":{"text":"cheap","matchType":"BROAD"}}}]}),
            )
            .await;
        err(s, &b, "CANNOT_TARGET_AND_EXCLUDE");
        // keyword text rules (criterionError), on campaign and ad group criteria alike
        for (text, code) in [
            ("", "INVALID_KEYWORD_TEXT"),
            (&*"k".repeat(81), "KEYWORD_TEXT_TOO_LONG"),
        ] {
            let (s, b) = env
                .post(
                    "campaignCriteria:mutate",
                    json!({"operations":[{"create":{"campaign":campaign,"negative":true,"keyword":{"text":text,"matchType":"EXACT"}}}]}),
                )
                .await;
            assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("criterionError", code));
        }
        // an unknown campaign
        let (s, b) = env
            .post(
                "campaignCriteria:mutate",
                json!({"operations":[{"create":{"campaign":format!("customers/{CID}/campaigns/42"),"negative":true,"keyword":{"text":"x","matchType":"EXACT"}}}]}),
            )
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("mutateError", "RESOURCE_NOT_FOUND"));
        // a positive criterion: negative is immutable, status may change
        let (s, b) = env
            .post(
                "campaignCriteria:mutate",
                json!({"operations":[{"create":{"campaign":campaign,"keyword":{"text":"shoes","matchType":"EXACT"}}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let pos = rn(&b, 0);
        let (s, b) = env
            .post(
                "campaignCriteria:mutate",
                json!({"operations":[{"update":{"resourceName":pos,"negative":true},"updateMask":"negative"}]}),
            )
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("fieldError", "IMMUTABLE_FIELD"));
        let (s, b) = env
            .post(
                "campaignCriteria:mutate",
                json!({"operations":[{"update":{"resourceName":pos,"status":"PAUSED"},"updateMask":"status"}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        // campaignCriterionOperation in googleAds:mutate, with a new campaign named by a temporary id
        let shared = env.budget("shared", true).await;
        let mut body = campaign_body("New with negatives", &shared);
        body["resourceName"] = json!(format!("customers/{CID}/campaigns/-1"));
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[
                    {"campaignOperation":{"create": body}},
                    {"campaignCriterionOperation":{"create":{"campaign":format!("customers/{CID}/campaigns/-1"),"negative":true,"keyword":{"text":"jobs","matchType":"PHRASE"}}}},
                    {"campaignCriterionOperation":{"remove": neg}}
                ]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let r = b["mutateOperationResponses"].as_array().unwrap();
        let new_campaign = r[0]["campaignResult"]["resourceName"].as_str().unwrap();
        let new_neg = r[1]["campaignCriterionResult"]["resourceName"].as_str().unwrap();
        assert!(new_neg.starts_with(&format!(
            "customers/{CID}/campaignCriteria/{}~",
            new_campaign.rsplit('/').next().unwrap()
        )));
        assert_eq!(r[2]["campaignCriterionResult"]["resourceName"], neg);
        let rows = env
            .search(
                "SELECT campaign_criterion.status FROM campaign_criterion WHERE campaign_criterion.status = 'REMOVED'",
            )
            .await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["campaignCriterion"]["resourceName"], neg);
        let rows = env
            .search(&format!("SELECT change_status.resource_status FROM change_status WHERE change_status.campaign_criterion = '{neg}'"))
            .await;
        assert_eq!(rows[0]["changeStatus"]["resourceStatus"], "REMOVED");
        assert_store_is_v25(&env).await;
    }

    /// Objects made "as another client" are made through the emulator's own API with the demo credentials;
    /// the emulator itself never attaches a label to anything: labels exist only where a request linked them.
    #[tokio::test]
    async fn the_emulator_never_labels_anything_by_itself() {
        let env = start().await;
        keyword_tree(&env, "Foreign").await;
        for q in [
            "SELECT label.id FROM label",
            "SELECT campaign_label.label FROM campaign_label",
            "SELECT ad_group_label.label FROM ad_group_label",
            "SELECT ad_group_ad_label.label FROM ad_group_ad_label",
            "SELECT ad_group_criterion_label.label FROM ad_group_criterion_label",
        ] {
            assert!(env.search(q).await.is_empty(), "{q}");
        }
        for row in env
            .search("SELECT campaign.labels, ad_group.labels, ad_group_criterion.labels FROM ad_group_criterion")
            .await
        {
            assert!(row["campaign"].get("labels").is_none(), "{row}");
            assert!(row["adGroup"].get("labels").is_none(), "{row}");
            assert!(row["adGroupCriterion"].get("labels").is_none(), "{row}");
        }
    }
}

/// The rules of WIRE-NOTES.md and the error protos that the other modules do not already show.
mod wire_rules {
    use super::*;

    /// WIRE-NOTES "Temporary resource names": create must precede use, unique negative numbers across types, not
    /// remembered across requests, googleAds:mutate only.
    #[tokio::test]
    async fn temporary_ids() {
        let env = start().await;
        let budget_body =
            |rn: &str| json!({"resourceName": rn, "name": "t", "amountMicros": "10000000", "explicitlyShared": false});
        let b1 = format!("customers/{CID}/campaignBudgets/-1");
        let c1 = format!("customers/{CID}/campaigns/-1");
        // -1 names one new object, whatever its type
        let mut campaign = campaign_body("T", &b1);
        campaign["resourceName"] = json!(c1);
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[
                    {"campaignBudgetOperation":{"create": budget_body(&b1)}},
                    {"campaignOperation":{"create": campaign}}
                ]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("newResourceCreationError", "DUPLICATE_TEMP_IDS"),
        );
        assert_eq!(
            first_error(&b)["location"]["fieldPathElements"][0],
            json!({"fieldName":"mutate_operations","index":1})
        );
        // the same temporary name twice
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[
                    {"campaignBudgetOperation":{"create": budget_body(&b1)}},
                    {"campaignBudgetOperation":{"create": budget_body(&b1)}}
                ]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("newResourceCreationError", "DUPLICATE_TEMP_IDS"),
        );
        // use before create
        let b2 = format!("customers/{CID}/campaignBudgets/-2");
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[
                    {"campaignOperation":{"create": campaign_body("Early", &b2)}},
                    {"campaignBudgetOperation":{"create": budget_body(&b2)}}
                ]}),
            )
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("mutateError", "RESOURCE_NOT_FOUND"));
        assert_eq!(
            first_error(&b)["location"]["fieldPathElements"][0],
            json!({"fieldName":"mutate_operations","index":0})
        );
        // a create whose temporary parent failed
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[
                    {"campaignBudgetOperation":{"create": {"resourceName": b2, "name": "bad", "amountMicros": "1"}}},
                    {"campaignOperation":{"create": campaign_body("Child", &b2)}}
                ], "partialFailure": true}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let errs = b["partialFailureError"]["details"][0]["errors"].as_array().unwrap();
        assert_eq!(
            errs[1]["errorCode"],
            json!({"newResourceCreationError":"TEMP_ID_RESOURCE_HAD_ERRORS"})
        );
        // a good request defines -3 …
        let b3 = format!("customers/{CID}/campaignBudgets/-3");
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[{"campaignBudgetOperation":{"create": budget_body(&b3)}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        // … which the next request does not know
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[{"campaignOperation":{"create": campaign_body("Later", &b3)}}]}),
            )
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("mutateError", "RESOURCE_NOT_FOUND"));
        // per-service mutates know no temporary ids
        let (s, b) = env
            .post(
                "campaigns:mutate",
                json!({"operations":[{"create": campaign_body("Svc", &b3)}]}),
            )
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("mutateError", "RESOURCE_NOT_FOUND"));
    }

    /// errors/mutate_error.proto ID_EXISTS_IN_MULTIPLE_MUTATES: "Cannot mutate the same resource twice in one
    /// request."
    #[tokio::test]
    async fn one_resource_is_mutated_once_per_request() {
        let env = start().await;
        let shared = env.budget("shared", true).await;
        let (_, b) = env.campaign("Once", &shared).await;
        let c = rn(&b, 0);
        let upd = |status: &str| json!({"update":{"resourceName":c,"status":status},"updateMask":"status"});
        let (s, b) = env
            .post(
                "campaigns:mutate",
                json!({"operations":[upd("ENABLED"), upd("PAUSED")]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("mutateError", "ID_EXISTS_IN_MULTIPLE_MUTATES"),
        );
        assert_eq!(
            first_error(&b)["location"]["fieldPathElements"],
            json!([{"fieldName":"operations","index":1},{"fieldName":"update"},{"fieldName":"resource_name"}])
        );
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[{"campaignOperation": upd("ENABLED")},{"campaignOperation":{"remove": c}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("mutateError", "ID_EXISTS_IN_MULTIPLE_MUTATES"),
        );
        // a create and a change of the object it made, in one request
        let mut body = campaign_body("Fresh", &shared);
        body["resourceName"] = json!(format!("customers/{CID}/campaigns/-5"));
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[
                    {"campaignOperation":{"create": body}},
                    {"campaignOperation":{"update":{"resourceName":format!("customers/{CID}/campaigns/-5"),"status":"ENABLED"},"updateMask":"status"}}
                ]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("mutateError", "ID_EXISTS_IN_MULTIPLE_MUTATES"),
        );
        // one operation per resource is fine, and nothing of the refused requests was written
        let (s, b) = env
            .post("campaigns:mutate", json!({"operations":[upd("ENABLED")]}))
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(env.search("SELECT campaign.id FROM campaign").await.len(), 1);
    }

    /// Backend rules of the v25 error protos that no other test shows: authentication headers, operations
    /// present, required fields, update masks, unique names, budget amounts, label links once, validate-only
    /// searches without a page token, the query required, Customer Match jobs on a CRM list only.
    #[tokio::test]
    async fn backend_rules() {
        let env = start().await;
        let q = json!({"query": "SELECT customer.id FROM customer"});
        let search_url = env.url(&format!("/v25/customers/{CID}/googleAds:search"));
        // no Authorization header; a developer token that is not known
        let r = env
            .http
            .post(&search_url)
            .header("developer-token", defaults::GOOGLE_DEVELOPER_TOKEN)
            .json(&q)
            .send()
            .await
            .unwrap();
        let (s, b) = (r.status().as_u16(), r.json::<Value>().await.unwrap());
        assert_ads_failure(
            s,
            &b,
            401,
            "UNAUTHENTICATED",
            ("authenticationError", "OAUTH_TOKEN_HEADER_INVALID"),
        );
        let r = env
            .http
            .post(&search_url)
            .bearer_auth(&env.token)
            .header("developer-token", "not-a-developer-token")
            .json(&q)
            .send()
            .await
            .unwrap();
        let (s, b) = (r.status().as_u16(), r.json::<Value>().await.unwrap());
        assert_ads_failure(
            s,
            &b,
            401,
            "UNAUTHENTICATED",
            ("authenticationError", "DEVELOPER_TOKEN_INVALID"),
        );
        // operations: at least one, and each names create, update or remove
        let (s, b) = env.post("labels:mutate", json!({"operations": []})).await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("requestError", "OPERATION_REQUIRED"));
        let (s, b) = env.post("labels:mutate", json!({"operations": [{}]})).await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("requestError", "OPERATION_REQUIRED"));
        let (s, b) = env.post("googleAds:mutate", json!({"mutateOperations": [{}]})).await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("requestError", "OPERATION_REQUIRED"));
        // CUSTOM_PERIOD budgets carry totalAmountMicros
        let (s, b) = env
            .post(
                "campaignBudgets:mutate",
                json!({"operations":[{"create":{"name":"p","period":"CUSTOM_PERIOD","amountMicros":"10000000"}}]}),
            )
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("fieldError", "REQUIRED"));
        assert_eq!(
            first_error(&b)["location"]["fieldPathElements"][2],
            json!({"fieldName":"total_amount_micros"})
        );
        // budget amounts
        let (s, b) = env
            .post(
                "campaignBudgets:mutate",
                json!({"operations":[{"create":{"name":"neg","amountMicros":"-10000"}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("campaignBudgetError", "NEGATIVE_MONEY_AMOUNT"),
        );
        // unique names: budgets, user lists, ad groups within their campaign
        let shared = env.budget("Shared", true).await;
        let (s, b) = env
            .post(
                "campaignBudgets:mutate",
                json!({"operations":[{"create":{"name":"Shared","amountMicros":"10000000"}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("campaignBudgetError", "DUPLICATE_NAME"),
        );
        let list = json!({"operations":[{"create":{"name":"CM","crmBasedUserList":{"uploadKeyType":"CONTACT_INFO","dataSourceType":"FIRST_PARTY"}}}]});
        let (s, b) = env.post("userLists:mutate", list.clone()).await;
        assert_eq!(s, 200, "{b}");
        let crm = rn(&b, 0);
        let (s, b) = env.post("userLists:mutate", list).await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("userListError", "NAME_ALREADY_USED"));
        let (campaign, ad_group, _, _) = keyword_tree(&env, "Names").await;
        let (s, b) = env
            .post(
                "adGroups:mutate",
                json!({"operations":[{"create":{"name":"AG","campaign":campaign}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("adGroupError", "DUPLICATE_ADGROUP_NAME"),
        );
        let (_, b) = env.campaign("Names 2", &shared).await;
        let (s, b) = env
            .post(
                "adGroups:mutate",
                json!({"operations":[{"create":{"name":"AG","campaign":rn(&b, 0)}}]}),
            )
            .await;
        assert_eq!(s, 200, "the same ad group name in another campaign: {b}");
        // a campaign declares whether it contains EU political advertising
        let mut body = campaign_body("Undeclared", &shared);
        body.as_object_mut().unwrap().remove("containsEuPoliticalAdvertising");
        let (s, b) = env
            .post("campaigns:mutate", json!({"operations":[{"create": body}]}))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("mutateError", "EU_POLITICAL_ADVERTISING_DECLARATION_REQUIRED"),
        );
        // keyword text rules hold for ad group criteria too
        for (text, code) in [
            (" ", "INVALID_KEYWORD_TEXT"),
            (&*"k".repeat(81), "KEYWORD_TEXT_TOO_LONG"),
        ] {
            let (s, b) = env
                .post(
                    "adGroupCriteria:mutate",
                    json!({"operations":[{"create":{"adGroup":ad_group,"keyword":{"text":text,"matchType":"EXACT"}}}]}),
                )
                .await;
            assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("criterionError", code));
        }
        let (s, b) = env
            .post(
                "adGroupCriteria:mutate",
                json!({"operations":[{"create":{"adGroup":ad_group,"keyword":{"text":"k".repeat(80),"matchType":"EXACT"}}}]}),
            )
            .await;
        assert_eq!(s, 200, "80 characters are fine: {b}");
        // an update carries its mask
        let (s, b) = env
            .post(
                "campaigns:mutate",
                json!({"operations":[{"update":{"resourceName":campaign,"status":"PAUSED"}}]}),
            )
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("fieldMaskError", "FIELD_MASK_MISSING"));
        // a label is linked once per object
        let l = label(&env, "once").await;
        let (s, b) = env
            .post(
                "adGroupAds:mutate",
                json!({"operations":[{"create":{"adGroup":ad_group,"ad":{"finalUrls":["https://example.com"],"responsiveSearchAd":{"headlines":[{"text":"a"},{"text":"b"},{"text":"c"}],"descriptions":[{"text":"d"},{"text":"e"}]}}}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let ad = rn(&b, 0);
        for (svc, field, target, code) in [
            (
                "campaignLabels",
                "campaign",
                &campaign,
                ("campaignError", "CAMPAIGN_LABEL_ALREADY_EXISTS"),
            ),
            (
                "adGroupLabels",
                "adGroup",
                &ad_group,
                ("adGroupError", "ADGROUP_LABEL_ALREADY_EXISTS"),
            ),
            (
                "adGroupAdLabels",
                "adGroupAd",
                &ad,
                ("adGroupAdError", "AD_GROUP_AD_LABEL_ALREADY_EXISTS"),
            ),
        ] {
            let op = json!({"create":{field: target, "label": l}});
            let (s, b) = env.post(&format!("{svc}:mutate"), json!({"operations":[op]})).await;
            assert_eq!(s, 200, "{svc}: {b}");
            let (s, b) = env.post(&format!("{svc}:mutate"), json!({"operations":[op]})).await;
            assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", code);
        }
        // a removed budget cannot be given to a campaign
        let spare = env.budget("Spare", true).await;
        let (s, _) = env
            .post("campaignBudgets:mutate", json!({"operations":[{"remove": spare}]}))
            .await;
        assert_eq!(s, 200);
        let (s, b) = env.campaign("On a removed budget", &spare).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("campaignBudgetError", "CAMPAIGN_BUDGET_REMOVED"),
        );
        // GAQL names fields in snake_case
        let (s, b) = env
            .post(
                "googleAds:search",
                json!({"query": "SELECT campaign.advertisingChannelType FROM campaign"}),
            )
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("queryError", "UNRECOGNIZED_FIELD"));
        // searches: the query is required; a validate-only search has no page token
        let (s, b) = env.post("googleAds:search", json!({"query": "  "})).await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("fieldError", "REQUIRED"));
        let (s, b) = env
            .post(
                "googleAds:search",
                json!({"query": "SELECT label.id FROM label", "validateOnly": true, "pageToken": "x"}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("requestError", "VALIDATE_ONLY_REQUEST_HAS_PAGE_TOKEN"),
        );
        // Customer Match jobs: an existing, CRM-based user list
        let job = |ul: &str| json!({"job":{"type":"CUSTOMER_MATCH_USER_LIST","customerMatchUserListMetadata":{"userList":ul}}});
        let (s, b) = env
            .post(
                "offlineUserDataJobs:create",
                job(&format!("customers/{CID}/userLists/42")),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("offlineUserDataJobError", "INVALID_USER_LIST_ID"),
        );
        let (s, b) = env
            .post(
                "userLists:mutate",
                json!({"operations":[{"create":{"name":"Visitors","basicUserList":{}}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = env.post("offlineUserDataJobs:create", job(&rn(&b, 0))).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("offlineUserDataJobError", "INVALID_USER_LIST_TYPE"),
        );
        let (s, b) = env.post("offlineUserDataJobs:create", job(&crm)).await;
        assert_eq!(s, 200, "{b}");
    }

    /// errors/offline_user_data_job_error.proto: removeAll first (INVALID_OPERATION_ORDER), creates and removes
    /// not mixed (CONFLICTING_OPERATION), at most 20 identifiers per operation and 100,000 per request
    /// (TOO_MANY_USER_IDENTIFIERS).
    #[tokio::test]
    async fn offline_user_data_job_operation_rules() {
        let env = start().await;
        let (_, b) = env
            .post("userLists:mutate", json!({"operations":[{"create":{"name":"CM","crmBasedUserList":{"uploadKeyType":"CONTACT_INFO","dataSourceType":"FIRST_PARTY"}}}]}))
            .await;
        let ul = rn(&b, 0);
        let new_job = || async {
            let (s, b) = env
                .post(
                    "offlineUserDataJobs:create",
                    json!({"job":{"type":"CUSTOMER_MATCH_USER_LIST","customerMatchUserListMetadata":{"userList":ul}}}),
                )
                .await;
            assert_eq!(s, 200, "{b}");
            let job = b["resourceName"].as_str().unwrap().to_string();
            format!(
                "{}:addOperations",
                job.split_once(&format!("customers/{CID}/")).unwrap().1
            )
        };
        let h = |i: usize| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(format!("u{i}@example.com")));
        let one = |i: usize| json!({"userIdentifiers":[{"hashedEmail": h(i)}]});
        let jobs_err = |s, b: &Value, code: &str| {
            assert_ads_failure(s, b, 400, "INVALID_ARGUMENT", ("offlineUserDataJobError", code));
        };
        // removeAll after another operation, in the same request and in a later one
        let add = new_job().await;
        let (s, b) = env
            .post(&add, json!({"operations":[{"create": one(1)},{"removeAll": true}]}))
            .await;
        jobs_err(s, &b, "INVALID_OPERATION_ORDER");
        let (s, b) = env.post(&add, json!({"operations":[{"create": one(1)}]})).await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = env.post(&add, json!({"operations":[{"removeAll": true}]})).await;
        jobs_err(s, &b, "INVALID_OPERATION_ORDER");
        // removeAll first, then creates: fine
        let add = new_job().await;
        let (s, b) = env
            .post(&add, json!({"operations":[{"removeAll": true},{"create": one(2)}]}))
            .await;
        assert_eq!(s, 200, "{b}");
        // creates and removes in one request
        let add = new_job().await;
        let (s, b) = env
            .post(&add, json!({"operations":[{"create": one(1)},{"remove": one(2)}]}))
            .await;
        jobs_err(s, &b, "CONFLICTING_OPERATION");
        // 21 identifiers in one operation
        let ids: Vec<Value> = (0..21).map(|i| json!({"hashedEmail": h(i)})).collect();
        let (s, b) = env
            .post(&add, json!({"operations":[{"create":{"userIdentifiers": ids}}]}))
            .await;
        jobs_err(s, &b, "TOO_MANY_USER_IDENTIFIERS");
        let ids: Vec<Value> = (0..20).map(|i| json!({"hashedEmail": h(i)})).collect();
        let (s, b) = env
            .post(&add, json!({"operations":[{"create":{"userIdentifiers": ids}}]}))
            .await;
        assert_eq!(s, 200, "20 identifiers are fine: {b}");
        // 100,001 identifiers in one request
        let x = h(0);
        let ops: Vec<Value> = (0..5_001)
            .map(|_| json!({"create":{"userIdentifiers": vec![json!({"hashedEmail": x}); 20]}}))
            .collect();
        let (s, b) = env.post(&add, json!({"operations": ops})).await;
        jobs_err(s, &b, "TOO_MANY_USER_IDENTIFIERS");
    }
}

mod conversion_actions {
    use super::*;

    fn webpage(name: &str) -> Value {
        json!({
            "name": name, "type": "WEBPAGE", "category": "PURCHASE", "countingType": "MANY_PER_CLICK",
            "valueSettings": {"defaultValue": 25.0, "defaultCurrencyCode": "USD", "alwaysUseDefaultValue": false},
            "attributionModelSettings": {"attributionModel": "GOOGLE_SEARCH_ATTRIBUTION_DATA_DRIVEN"},
            "clickThroughLookbackWindowDays": "30"
        })
    }

    /// ConversionActionService: create (defaults: ENABLED, primary for goal), read through GAQL, update, remove
    /// (status REMOVED, the history kept; the name is free again).
    #[tokio::test]
    async fn create_read_update_remove() {
        let env = start().await;
        let (s, b) = env
            .post(
                "conversionActions:mutate",
                json!({"operations":[{"create": webpage("Purchase")}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let rn = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        assert!(rn.starts_with(&format!("customers/{CID}/conversionActions/")), "{rn}");
        let rows = env
            .search(
                "SELECT conversion_action.name, conversion_action.status, conversion_action.type, \
                 conversion_action.primary_for_goal, conversion_action.value_settings.default_value, \
                 conversion_action.origin, conversion_action.click_through_lookback_window_days \
                 FROM conversion_action WHERE conversion_action.status != 'REMOVED'",
            )
            .await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        let ca = &rows[0]["conversionAction"];
        assert_eq!(ca["status"], "ENABLED");
        assert_eq!(ca["primaryForGoal"], true);
        assert_eq!(ca["type"], "WEBPAGE");
        assert_eq!(ca["origin"], "WEBSITE");
        assert_eq!(ca["valueSettings"]["defaultValue"], 25.0);
        assert_eq!(ca["clickThroughLookbackWindowDays"], "30");
        // update through the googleAds:mutate service too
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[{"conversionActionOperation":{"update":{"resourceName": rn, "primaryForGoal": false, "category": "SIGNUP"},"updateMask":"primaryForGoal,category"}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let rows = env
            .search("SELECT conversion_action.primary_for_goal, conversion_action.category FROM conversion_action")
            .await;
        assert_eq!(rows[0]["conversionAction"]["primaryForGoal"], false);
        assert_eq!(rows[0]["conversionAction"]["category"], "SIGNUP");
        let (s, b) = env
            .post("conversionActions:mutate", json!({"operations":[{"remove": rn}]}))
            .await;
        assert_eq!(s, 200, "{b}");
        let rows = env
            .search("SELECT conversion_action.status FROM conversion_action")
            .await;
        assert_eq!(rows[0]["conversionAction"]["status"], "REMOVED");
        let (s, b) = env
            .post(
                "conversionActions:mutate",
                json!({"operations":[{"create": webpage("Purchase")}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }

    /// What the platform refuses of a conversion action (errors/conversion_action_error.proto, the resource's
    /// field behaviours).
    #[tokio::test]
    async fn refusals() {
        let env = start().await;
        let (s, b) = env
            .post(
                "conversionActions:mutate",
                json!({"operations":[{"create": webpage("Lead")}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let rn = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        // names are unique per customer
        let (s, b) = env
            .post(
                "conversionActions:mutate",
                json!({"operations":[{"create": webpage("Lead")}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("conversionActionError", "DUPLICATE_NAME"),
        );
        // types a linked product makes cannot be created through the API
        let mut ga4 = webpage("From GA4");
        ga4["type"] = json!("GOOGLE_ANALYTICS_4_PURCHASE");
        let (s, b) = env
            .post("conversionActions:mutate", json!({"operations":[{"create": ga4}]}))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("conversionActionError", "CREATION_NOT_SUPPORTED"),
        );
        // rule-based attribution models are deprecated
        let mut linear = webpage("Linear");
        linear["attributionModelSettings"]["attributionModel"] = json!("GOOGLE_SEARCH_ATTRIBUTION_LINEAR");
        let (s, b) = env
            .post("conversionActions:mutate", json!({"operations":[{"create": linear}]}))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("conversionActionError", "CANNOT_SET_RULE_BASED_ATTRIBUTION_MODELS"),
        );
        let (s, b) = env
            .post("conversionActions:mutate", json!({"operations":[{"update":{"resourceName": rn, "attributionModelSettings": {"attributionModel": "GOOGLE_SEARCH_ATTRIBUTION_TIME_DECAY"}},"updateMask":"attributionModelSettings.attributionModel"}]}))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("conversionActionError", "CANNOT_SET_RULE_BASED_ATTRIBUTION_MODELS"),
        );
        // the name is required, the type immutable, the origin output only
        let (s, b) = env
            .post(
                "conversionActions:mutate",
                json!({"operations":[{"create": {"type": "WEBPAGE"}}]}),
            )
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("fieldError", "REQUIRED"));
        let (s, b) = env
            .post(
                "conversionActions:mutate",
                json!({"operations":[{"update":{"resourceName": rn, "type": "UPLOAD_CLICKS"},"updateMask":"type"}]}),
            )
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("fieldError", "IMMUTABLE_FIELD"));
        // an unknown enum name is the front end's
        let mut bad = webpage("Bad");
        bad["countingType"] = json!("TWICE_PER_CLICK");
        let (s, b) = env
            .post("conversionActions:mutate", json!({"operations":[{"create": bad}]}))
            .await;
        assert_bad_request(s, &b, "TWICE_PER_CLICK");
    }

    /// Bidding on conversion actions: a custom conversion goal lists them, a campaign's
    /// ConversionGoalCampaignConfig (made with the campaign, update only) points at it. The goal's actions must
    /// exist and be enabled; a non-primary action is accepted ("custom conversion goals do not respect
    /// primary_for_goal"); a linked goal cannot be removed.
    #[tokio::test]
    async fn custom_goals_and_campaign_configs() {
        let env = start().await;
        let mut secondary = webpage("Secondary");
        secondary["primaryForGoal"] = json!(false);
        let (s, b) = env
            .post(
                "conversionActions:mutate",
                json!({"operations":[{"create": webpage("Primary")}, {"create": secondary}, {"create": webpage("Gone")}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let primary = rn(&b, 0);
        let secondary = rn(&b, 1);
        let gone = rn(&b, 2);
        let (s, b) = env
            .post("conversionActions:mutate", json!({"operations":[{"remove": gone}]}))
            .await;
        assert_eq!(s, 200, "{b}");
        // a non-primary action is biddable in a custom goal
        let (s, b) = env
            .post(
                "customConversionGoals:mutate",
                json!({"operations":[{"create": {"name": "Sales", "conversionActions": [primary, secondary]}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let goal = rn(&b, 0);
        let (s, b) = env
            .post(
                "customConversionGoals:mutate",
                json!({"operations":[{"create": {"name": "Removed one", "conversionActions": [gone]}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("customConversionGoalError", "CONVERSION_ACTION_NOT_ENABLED"),
        );
        let (s, b) = env
            .post(
                "customConversionGoals:mutate",
                json!({"operations":[{"create": {"name": "Unknown", "conversionActions": [format!("customers/{CID}/conversionActions/999")]}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("customConversionGoalError", "INVALID_CONVERSION_ACTION"),
        );
        let (s, b) = env
            .post(
                "customConversionGoals:mutate",
                json!({"operations":[{"create": {"name": "Sales", "conversionActions": [primary]}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("customConversionGoalError", "CUSTOM_GOAL_DUPLICATE_NAME"),
        );
        let (s, b) = env
            .post(
                "customConversionGoals:mutate",
                json!({"operations":[{"create": {"name": "Same list", "conversionActions": [secondary, primary]}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("customConversionGoalError", "DUPLICATE_CONVERSION_ACTION_LIST"),
        );
        // the campaign's config exists with the campaign, and is only updated
        let budget = env.budget("b", false).await;
        let (s, b) = env.campaign("C", &budget).await;
        assert_eq!(s, 200, "{b}");
        let campaign = rn(&b, 0);
        let id = campaign.rsplit('/').next().unwrap();
        let config = format!("customers/{CID}/conversionGoalCampaignConfigs/{id}");
        let rows = env
            .search("SELECT conversion_goal_campaign_config.goal_config_level, campaign.name FROM conversion_goal_campaign_config")
            .await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["conversionGoalCampaignConfig"]["goalConfigLevel"], "CUSTOMER");
        assert_eq!(rows[0]["campaign"]["name"], "C");
        let (s, b) = env
            .post(
                "conversionGoalCampaignConfigs:mutate",
                json!({"operations":[{"create": {"campaign": campaign}}]}),
            )
            .await;
        assert_bad_request(s, &b, "create");
        let (s, b) = env
            .post(
                "conversionGoalCampaignConfigs:mutate",
                json!({"operations":[{"update": {"resourceName": config, "goalConfigLevel": "CAMPAIGN", "customConversionGoal": goal}, "updateMask": "goalConfigLevel,customConversionGoal"}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let rows = env
            .search(
                "SELECT conversion_goal_campaign_config.custom_conversion_goal FROM conversion_goal_campaign_config",
            )
            .await;
        assert_eq!(rows[0]["conversionGoalCampaignConfig"]["customConversionGoal"], goal);
        // a linked goal stays
        let (s, b) = env
            .post("customConversionGoals:mutate", json!({"operations":[{"remove": goal}]}))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            (
                "customConversionGoalError",
                "CANNOT_REMOVE_LINKED_CUSTOM_CONVERSION_GOAL",
            ),
        );
    }
}

/// Performance Max and Shopping catalog campaigns: the Merchant Center link, PMax's budget and bidding, asset
/// groups and their listing group filter trees (crates/adsctl-emulator/src/google_ads/pmax.rs).
mod catalog {
    use super::*;

    const MERCHANT: &str = adsctl::emulator::google_ads::pmax::LINKED_MERCHANT_ID;

    fn pmax_body(name: &str, budget: &str, merchant: Option<&str>) -> Value {
        let mut c = campaign_body(name, budget);
        c["advertisingChannelType"] = json!("PERFORMANCE_MAX");
        c.as_object_mut().unwrap().remove("networkSettings");
        if let Some(m) = merchant {
            c["shoppingSetting"] = json!({"merchantId": m, "feedLabel": "US"});
        }
        c
    }

    fn code(b: &Value) -> String {
        error_code(b).1
    }

    /// A retail PMax campaign (own budget, linked merchant); returns its resource name.
    async fn retail(env: &Env, name: &str) -> String {
        let budget = env.budget(&format!("{name} budget"), false).await;
        let (s, b) = env
            .post(
                "campaigns:mutate",
                json!({"operations":[{"create": pmax_body(name, &budget, Some(MERCHANT))}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        rn(&b, 0)
    }

    fn group(t: &str, campaign: &str, name: &str) -> Value {
        json!({"assetGroupOperation": {"create": {"resourceName": t, "campaign": campaign, "name": name,
            "finalUrls": ["https://shop.example.com"], "status": "PAUSED"}}})
    }

    fn node(t: &str, group: &str, kind: &str, parent: Option<&str>, case: Option<Value>) -> Value {
        let mut n = json!({"resourceName": t, "assetGroup": group, "type": kind, "listingSource": "SHOPPING"});
        if let Some(p) = parent {
            n["parentListingGroupFilter"] = json!(p);
        }
        if let Some(c) = case {
            n["caseValue"] = c;
        }
        json!({"assetGroupListingGroupFilterOperation": {"create": n}})
    }

    fn brand(v: Option<&str>) -> Value {
        match v {
            Some(v) => json!({"productBrand": {"value": v}}),
            None => json!({"productBrand": {}}),
        }
    }

    #[tokio::test]
    async fn catalog_campaigns_need_a_linked_merchant_their_own_budget_and_maximize_bidding() {
        let env = start().await;
        let own = env.budget("own", false).await;
        let shared = env.budget("shared", true).await;
        // a Shopping campaign without its merchant link
        let mut shopping = campaign_body("Shop", &own);
        shopping["advertisingChannelType"] = json!("SHOPPING");
        let (s, b) = env
            .post("campaigns:mutate", json!({"operations":[{"create": shopping.clone()}]}))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("campaignError", "MISSING_SHOPPING_SETTING"),
        );
        // ... and its priority, 0 to 2
        shopping["shoppingSetting"] = json!({"merchantId": MERCHANT});
        let (s, b) = env
            .post("campaigns:mutate", json!({"operations":[{"create": shopping.clone()}]}))
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("fieldError", "REQUIRED"));
        shopping["shoppingSetting"]["campaignPriority"] = json!(3);
        let (s, b) = env
            .post("campaigns:mutate", json!({"operations":[{"create": shopping.clone()}]}))
            .await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("rangeError", "TOO_HIGH"));
        shopping["shoppingSetting"]["campaignPriority"] = json!(1);
        let (s, b) = env
            .post("campaigns:mutate", json!({"operations":[{"create": shopping}]}))
            .await;
        assert_eq!(s, 200, "{b}");
        let own = env.budget("own 2", false).await;
        // a merchant not linked to the customer
        let (s, b) = env
            .post(
                "campaigns:mutate",
                json!({"operations":[{"create": pmax_body("P", &own, Some("7654321"))}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("merchantCenterError", "MERCHANT_ID_CANNOT_BE_ACCESSED"),
        );
        assert_eq!(first_error(&b)["trigger"]["stringValue"], "7654321", "{b}");
        // another merchant, linked through the admin endpoint (as accepting the link in Merchant Center does)
        let linked = env
            .http
            .post(env.url("/_emulator/google_ads/merchant_links"))
            .json(&json!({"customerId": CID, "merchantId": "5550001"}))
            .send()
            .await
            .unwrap();
        assert!(linked.status().is_success());
        let (s, b) = env
            .post(
                "campaigns:mutate",
                json!({"operations":[{"create": pmax_body("Linked", &own, Some("5550001"))}], "validateOnly": true}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        // PMax on a shared budget
        let (s, b) = env
            .post(
                "campaigns:mutate",
                json!({"operations":[{"create": pmax_body("P", &shared, Some(MERCHANT))}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("campaignBudgetError", "CAMPAIGN_BUDGET_CANNOT_BE_SHARED"),
        );
        // PMax with manual CPC
        let mut manual = pmax_body("P", &own, Some(MERCHANT));
        manual.as_object_mut().unwrap().remove("maximizeConversions");
        manual["manualCpc"] = json!({});
        let (s, b) = env
            .post("campaigns:mutate", json!({"operations":[{"create": manual}]}))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("biddingError", "INVALID_ANONYMOUS_BIDDING_STRATEGY_TYPE"),
        );
        // the same campaign done right, read back with its feed
        let (s, b) = env
            .post(
                "campaigns:mutate",
                json!({"operations":[{"create": pmax_body("P", &own, Some(MERCHANT))}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let rows = env
            .search("SELECT campaign.shopping_setting.merchant_id, campaign.shopping_setting.feed_label FROM campaign WHERE campaign.name = 'P'")
            .await;
        assert_eq!(
            rows[0]["campaign"]["shoppingSetting"]["merchantId"], MERCHANT,
            "{rows:?}"
        );
        assert_eq!(rows[0]["campaign"]["shoppingSetting"]["feedLabel"], "US");
        // a Shopping campaign's merchant cannot change; a PMax campaign's must stay linked
        let p = rn(&b, 0);
        let (s, b) = env
            .post(
                "campaigns:mutate",
                json!({"operations":[{"update": {"resourceName": p, "shoppingSetting": {"merchantId": "7654321"}},
                    "updateMask": "shoppingSetting.merchantId"}]}),
            )
            .await;
        assert_eq!(
            (s, code(&b)),
            (400, "MERCHANT_ID_CANNOT_BE_ACCESSED".to_string()),
            "{b}"
        );
    }

    #[tokio::test]
    async fn asset_groups_belong_to_pmax_campaigns_with_final_urls_and_enough_assets() {
        let env = start().await;
        let budget = env.budget("s", false).await;
        let (_, b) = env.campaign("Search", &budget).await;
        let search = rn(&b, 0);
        let c = retail(&env, "Retail").await;
        let ag = |campaign: &str, name: &str| json!({"operations":[{"create": {"campaign": campaign, "name": name, "finalUrls": ["https://shop.example.com"]}}]});
        let (s, b) = env.post("assetGroups:mutate", ag(&search, "G")).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("assetGroupError", "CANNOT_ADD_ASSET_GROUP_FOR_CAMPAIGN_TYPE"),
        );
        let (s, b) = env
            .post(
                "assetGroups:mutate",
                json!({"operations":[{"create": {"campaign": c, "name": "G"}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("assetGroupError", "FINAL_URL_REQUIRED"),
        );
        let (s, b) = env
            .post(
                "assetGroups:mutate",
                json!({"operations":[{"create": {"campaign": c, "name": "G", "finalUrls": ["https://shop.example.com"], "path2": "x"}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("assetGroupError", "PATH1_REQUIRED_WHEN_PATH2_IS_SET"),
        );
        // a retail campaign's asset group may have no assets (listing-only)
        let (s, b) = env.post("assetGroups:mutate", ag(&c, "G")).await;
        assert_eq!(s, 200, "{b}");
        let g = rn(&b, 0);
        let (s, b) = env.post("assetGroups:mutate", ag(&c, "G")).await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("assetGroupError", "DUPLICATE_NAME"));
        // the last asset group of a campaign stays
        let (s, b) = env
            .post("assetGroups:mutate", json!({"operations":[{"remove": g}]}))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("assetGroupError", "CANNOT_REMOVE_ALL_ASSET_GROUPS_FROM_CAMPAIGN"),
        );
        // ... unless the campaign goes with it
        let (s, b) = env
            .post(
                "googleAds:mutate",
                json!({"mutateOperations":[{"assetGroupOperation": {"remove": g}}, {"campaignOperation": {"remove": c}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        // a campaign without a product feed needs the assets of an asset group in the same request
        let own = env.budget("o", false).await;
        let (s, b) = env
            .post(
                "campaigns:mutate",
                json!({"operations":[{"create": pmax_body("Online", &own, None)}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let online = rn(&b, 0);
        let (s, b) = env.post("assetGroups:mutate", ag(&online, "G")).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("assetGroupError", "NOT_ENOUGH_HEADLINE_ASSET"),
        );
        let text = |t: &str, n: i64| json!({"assetOperation": {"create": {"resourceName": format!("customers/{CID}/assets/{n}"), "textAsset": {"text": t}}}});
        let link = |n: i64, field: &str| json!({"assetGroupAssetOperation": {"create": {"assetGroup": format!("customers/{CID}/assetGroups/-1"), "asset": format!("customers/{CID}/assets/{n}"), "fieldType": field}}});
        let mut ops = vec![group(&format!("customers/{CID}/assetGroups/-1"), &online, "G")];
        for (i, f) in [
            "HEADLINE",
            "HEADLINE",
            "HEADLINE",
            "LONG_HEADLINE",
            "DESCRIPTION",
            "DESCRIPTION",
            "BUSINESS_NAME",
        ]
        .iter()
        .enumerate()
        {
            let n = -2 - i as i64;
            ops.push(text(&format!("Text {i}"), n));
            ops.push(link(n, f));
        }
        let (s, b) = env.post("googleAds:mutate", json!({"mutateOperations": ops})).await;
        // text assets alone are not enough without a product feed: images and a logo too
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("assetGroupError", "NOT_ENOUGH_MARKETING_IMAGE_ASSET"),
        );
        assert_eq!(first_error(&b)["location"]["fieldPathElements"][0]["index"], 0, "{b}");
        // nothing of the request was kept
        assert!(env.search("SELECT asset.id FROM asset").await.is_empty());
    }

    #[tokio::test]
    async fn a_listing_group_tree_is_built_in_one_request_and_checked_when_it_ends() {
        let env = start().await;
        let c = retail(&env, "Retail").await;
        let g = format!("customers/{CID}/assetGroups/-1");
        let f = |n: i64| format!("customers/{CID}/assetGroupListingGroupFilters/-1~{n}");
        // root: brand; Acme subdivided by condition; everything else excluded
        let good = vec![
            group(&g, &c, "All"),
            node(&f(-2), &g, "SUBDIVISION", None, None),
            node(&f(-3), &g, "SUBDIVISION", Some(&f(-2)), Some(brand(Some("Acme")))),
            node(
                &f(-4),
                &g,
                "UNIT_INCLUDED",
                Some(&f(-3)),
                Some(json!({"productCondition": {"condition": "NEW"}})),
            ),
            node(
                &f(-5),
                &g,
                "UNIT_EXCLUDED",
                Some(&f(-3)),
                Some(json!({"productCondition": {}})),
            ),
            node(&f(-6), &g, "UNIT_EXCLUDED", Some(&f(-2)), Some(brand(None))),
        ];
        let expect = |ops: Vec<Value>, want: &'static str| {
            let env = &env;
            async move {
                let (s, b) = env.post("googleAds:mutate", json!({"mutateOperations": ops})).await;
                assert_eq!((s, code(&b)), (400, want.to_string()), "{b}");
                assert_eq!(error_code(&b).0, "assetGroupListingGroupFilterError", "{b}");
            }
        };
        // no everything-else child
        let mut ops = good.clone();
        ops.remove(5);
        expect(ops, "SUBDIVISION_MUST_HAVE_EVERYTHING_ELSE_CHILD").await;
        // a unit with a child (in the same request: the shape is checked at the end)
        let mut ops = good.clone();
        ops[3] = node(
            &f(-4),
            &g,
            "UNIT_INCLUDED",
            Some(&f(-3)),
            Some(json!({"productCondition": {"condition": "NEW"}})),
        );
        ops.push(node(
            &f(-7),
            &g,
            "UNIT_INCLUDED",
            Some(&f(-6)),
            Some(json!({"productChannel": {"channel": "ONLINE"}})),
        ));
        ops[5] = node(&f(-6), &g, "UNIT_EXCLUDED", Some(&f(-2)), Some(brand(None)));
        let (s, b) = env.post("googleAds:mutate", json!({"mutateOperations": ops})).await;
        assert_eq!((s, code(&b)), (400, "UNIT_CANNOT_HAVE_CHILDREN".to_string()), "{b}");
        // two roots
        let mut ops = good.clone();
        ops.push(node(&f(-7), &g, "UNIT_INCLUDED", None, None));
        expect(ops, "MULTIPLE_ROOTS").await;
        // siblings with the same value (brands compare without case)
        let mut ops = good.clone();
        ops.push(node(
            &f(-7),
            &g,
            "UNIT_INCLUDED",
            Some(&f(-2)),
            Some(brand(Some("ACME"))),
        ));
        expect(ops, "SAME_DIMENSION_VALUE_BETWEEN_SIBLINGS").await;
        // siblings of two dimension types
        let mut ops = good.clone();
        ops.push(node(
            &f(-7),
            &g,
            "UNIT_INCLUDED",
            Some(&f(-2)),
            Some(json!({"productItemId": {"value": "sku-1"}})),
        ));
        expect(ops, "DIFFERENT_DIMENSION_TYPE_BETWEEN_SIBLINGS").await;
        // brand below brand
        let mut ops = good.clone();
        ops[3] = node(
            &f(-4),
            &g,
            "UNIT_INCLUDED",
            Some(&f(-3)),
            Some(brand(Some("Acme Kids"))),
        );
        ops[4] = node(&f(-5), &g, "UNIT_EXCLUDED", Some(&f(-3)), Some(brand(None)));
        expect(ops, "SAME_DIMENSION_TYPE_BETWEEN_ANCESTORS").await;
        // a level-2 category directly under the root, and under an everything-else level-1 node
        let cat = |id: Option<&str>, l: u8| match id {
            Some(id) => json!({"productCategory": {"categoryId": id, "level": format!("LEVEL{l}")}}),
            None => json!({"productCategory": {"level": format!("LEVEL{l}")}}),
        };
        let ops = vec![
            group(&g, &c, "All"),
            node(&f(-2), &g, "SUBDIVISION", None, None),
            node(&f(-3), &g, "UNIT_INCLUDED", Some(&f(-2)), Some(cat(Some("1604"), 2))),
            node(&f(-4), &g, "UNIT_EXCLUDED", Some(&f(-2)), Some(cat(None, 2))),
        ];
        expect(ops, "MUST_REFINE_HIERARCHICAL_PARENT_TYPE").await;
        let ops = vec![
            group(&g, &c, "All"),
            node(&f(-2), &g, "SUBDIVISION", None, None),
            node(&f(-3), &g, "UNIT_INCLUDED", Some(&f(-2)), Some(cat(Some("166"), 1))),
            node(&f(-4), &g, "SUBDIVISION", Some(&f(-2)), Some(cat(None, 1))),
            node(&f(-5), &g, "UNIT_INCLUDED", Some(&f(-4)), Some(cat(Some("1604"), 2))),
            node(&f(-6), &g, "UNIT_EXCLUDED", Some(&f(-4)), Some(cat(None, 2))),
        ];
        expect(ops, "CANNOT_REFINE_HIERARCHICAL_EVERYTHING_ELSE").await;
        // the good tree, read back through GAQL with its asset group and campaign
        let (s, b) = env.post("googleAds:mutate", json!({"mutateOperations": good})).await;
        assert_eq!(s, 200, "{b}");
        let rows = env
            .search("SELECT asset_group_listing_group_filter.type, asset_group_listing_group_filter.case_value.product_brand.value, asset_group_listing_group_filter.parent_listing_group_filter, asset_group.name, campaign.name FROM asset_group_listing_group_filter")
            .await;
        assert_eq!(rows.len(), 5, "{rows:?}");
        assert!(rows
            .iter()
            .all(|r| r["assetGroup"]["name"] == "All" && r["campaign"]["name"] == "Retail"));
        let root = rows
            .iter()
            .find(|r| {
                r["assetGroupListingGroupFilter"]
                    .get("parentListingGroupFilter")
                    .is_none()
            })
            .unwrap()["assetGroupListingGroupFilter"]["resourceName"]
            .as_str()
            .unwrap()
            .to_string();
        let acme = rows
            .iter()
            .find(|r| r["assetGroupListingGroupFilter"]["caseValue"]["productBrand"]["value"] == "Acme")
            .unwrap()["assetGroupListingGroupFilter"]["resourceName"]
            .as_str()
            .unwrap()
            .to_string();
        // a subdivision with children cannot go first
        let (s, b) = env
            .post(
                "assetGroupListingGroupFilters:mutate",
                json!({"operations":[{"remove": acme}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("assetGroupListingGroupFilterError", "SUBDIVISION_HAS_CHILDREN"),
        );
        // one operation per node and request
        let (s, b) = env
            .post(
                "assetGroupListingGroupFilters:mutate",
                json!({"operations":[{"update": {"resourceName": root, "caseValue": {}}, "updateMask": "caseValue"}, {"remove": root}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("assetGroupListingGroupFilterError", "MULTIPLE_OPERATIONS_ON_ONE_NODE"),
        );
        // a tree under a campaign without a product feed: SHOPPING listings are not allowed there
        let own = env.budget("o", false).await;
        let (_, b) = env
            .post(
                "campaigns:mutate",
                json!({"operations":[{"create": pmax_body("Online", &own, None)}]}),
            )
            .await;
        let online = rn(&b, 0);
        let ops = vec![group(&g, &online, "G"), node(&f(-2), &g, "UNIT_INCLUDED", None, None)];
        let (s, b) = env.post("googleAds:mutate", json!({"mutateOperations": ops})).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("assetGroupListingGroupFilterError", "LISTING_SOURCE_NOT_ALLOWED"),
        );
    }
}

/// Experiments (ExperimentService, ExperimentArmService and their custom methods), `docs/wire-rules.md`
/// § Experiments.
mod experiments {
    use super::*;

    fn day(offset: i64) -> String {
        (chrono::Utc::now().date_naive() + chrono::Duration::days(offset))
            .format("%Y-%m-%d")
            .to_string()
    }

    fn experiment(name: &str) -> Value {
        json!({"name": name, "type": "SEARCH_CUSTOM", "suffix": " [trial]", "description": "d",
            "startDate": day(1), "endDate": day(30)})
    }

    /// A base campaign with its own budget; returns its resource name.
    async fn base(env: &Env, name: &str) -> String {
        let b = env.budget(&format!("{name} budget"), false).await;
        let (s, r) = env.campaign(name, &b).await;
        assert_eq!(s, 200, "{r}");
        r["results"][0]["resourceName"].as_str().unwrap().to_string()
    }

    async fn create_experiment(env: &Env, body: Value) -> (u16, Value) {
        env.post("experiments:mutate", json!({"operations":[{"create": body}]}))
            .await
    }

    /// Create an experiment with its two arms (control on `campaign`, treatment at `split`); returns the
    /// experiment's resource name and the arms' mutate answer.
    async fn with_arms(env: &Env, name: &str, campaign: &str, control: i64, treatment: i64) -> (String, u16, Value) {
        let (s, b) = create_experiment(env, experiment(name)).await;
        assert_eq!(s, 200, "{b}");
        let exp = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let (s, b) = env
            .post(
                "experimentArms:mutate",
                json!({"operations":[
                    {"create": {"experiment": exp, "name": "control", "control": true, "trafficSplit": control.to_string(), "campaigns": [campaign]}},
                    {"create": {"experiment": exp, "name": "treatment", "control": false, "trafficSplit": treatment.to_string()}}
                ], "responseContentType": "MUTABLE_RESOURCE"}),
            )
            .await;
        (exp, s, b)
    }

    async fn verb(env: &Env, exp: &str, verb: &str, body: Value) -> (u16, Value) {
        let tail = exp.split_once(&format!("customers/{CID}/")).unwrap().1;
        env.post(&format!("{tail}:{verb}"), body).await
    }

    /// The whole flow: create, two arms (the treatment's in-design campaign is a copy of the base named with the
    /// suffix), change the in-design campaign, schedule (a long-running operation: the experiment ENABLED, the
    /// trial an EXPERIMENT campaign listed in the arm), promote (the trial's bidding copied onto the base), read
    /// through GAQL.
    #[tokio::test]
    async fn create_schedule_promote() {
        let env = start().await;
        let base_rn = base(&env, "Search").await;
        let (exp, s, b) = with_arms(&env, "Bid test", &base_rn, 50, 50).await;
        assert_eq!(s, 200, "{b}");
        let treatment = &b["results"][1]["experimentArm"];
        let trial = treatment["inDesignCampaigns"][0].as_str().unwrap().to_string();
        let rows = env
            .search("SELECT campaign.name, campaign.experiment_type, campaign.base_campaign FROM campaign")
            .await;
        let t = rows
            .iter()
            .find(|r| r["campaign"]["resourceName"] == trial.as_str())
            .unwrap_or_else(|| panic!("{rows:?}"));
        assert_eq!(t["campaign"]["name"], "Search [trial]");
        assert_eq!(t["campaign"]["experimentType"], "DRAFT");
        assert_eq!(t["campaign"]["baseCampaign"], base_rn.as_str());
        let b = rows
            .iter()
            .find(|r| r["campaign"]["resourceName"] == base_rn.as_str())
            .unwrap();
        assert_eq!(b["campaign"]["experimentType"], "BASE");
        assert_eq!(b["campaign"]["baseCampaign"], base_rn.as_str());
        // the changed setting: bidding
        let (s, b) = env
            .post(
                "campaigns:mutate",
                json!({"operations":[{"update": {"resourceName": trial, "targetSpend": {}}, "updateMask": "targetSpend"}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = verb(&env, &exp, "scheduleExperiment", json!({"resourceName": exp})).await;
        assert_eq!(s, 200, "{b}");
        assert!(b["name"].as_str().unwrap().contains("/operations/"), "{b}");
        assert_eq!(b["metadata"]["experiment"], exp.as_str());
        let rows = env
            .search(
                "SELECT experiment.name, experiment.status, experiment.start_date, experiment.end_date, \
                 experiment.suffix, experiment.type FROM experiment",
            )
            .await;
        assert_eq!(rows[0]["experiment"]["status"], "ENABLED", "{rows:?}");
        assert_eq!(rows[0]["experiment"]["type"], "SEARCH_CUSTOM");
        let rows = env
            .search(
                "SELECT experiment_arm.name, experiment_arm.control, experiment_arm.traffic_split, \
                 experiment_arm.campaigns, experiment_arm.in_design_campaigns, experiment_arm.experiment \
                 FROM experiment_arm",
            )
            .await;
        assert_eq!(rows.len(), 2, "{rows:?}");
        let arm = rows.iter().find(|r| r["experimentArm"]["control"] != true).unwrap();
        assert_eq!(arm["experimentArm"]["campaigns"][0], trial.as_str());
        assert_eq!(arm["experimentArm"]["trafficSplit"], "50");
        let rows = env
            .search("SELECT campaign.experiment_type, campaign.bidding_strategy_type FROM campaign")
            .await;
        let t = rows
            .iter()
            .find(|r| r["campaign"]["resourceName"] == trial.as_str())
            .unwrap();
        assert_eq!(t["campaign"]["experimentType"], "EXPERIMENT");
        // promote: the base campaign takes the trial's bidding
        let (s, b) = verb(&env, &exp, "promoteExperiment", json!({"resourceName": exp})).await;
        assert_eq!(s, 200, "{b}");
        let rows = env
            .search("SELECT experiment.status, experiment.promote_status FROM experiment")
            .await;
        assert_eq!(rows[0]["experiment"]["status"], "PROMOTED");
        assert_eq!(rows[0]["experiment"]["promoteStatus"], "COMPLETED");
        let rows = env.search("SELECT campaign.bidding_strategy_type FROM campaign").await;
        let b = rows
            .iter()
            .find(|r| r["campaign"]["resourceName"] == base_rn.as_str())
            .unwrap();
        assert_eq!(b["campaign"]["biddingStrategyType"], "TARGET_SPEND", "{rows:?}");
        // a promoted experiment cannot be ended
        let (s, b) = verb(&env, &exp, "endExperiment", json!({"experiment": exp})).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "STATUS_TRANSITION_INVALID"),
        );
    }

    /// End: the end date becomes today, the experiment HALTED, the experiment campaign stops serving; graduate:
    /// the experiment campaign becomes a campaign of its own with the budget given.
    #[tokio::test]
    async fn end_and_graduate() {
        let env = start().await;
        let base_rn = base(&env, "Search").await;
        let (exp, s, b) = with_arms(&env, "End test", &base_rn, 70, 30).await;
        assert_eq!(s, 200, "{b}");
        let trial = b["results"][1]["experimentArm"]["inDesignCampaigns"][0]
            .as_str()
            .unwrap()
            .to_string();
        // ending before it starts
        let (s, b) = verb(&env, &exp, "endExperiment", json!({"experiment": exp})).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "EXPERIMENT_NOT_YET_STARTED"),
        );
        let (s, b) = verb(&env, &exp, "scheduleExperiment", json!({"resourceName": exp})).await;
        assert_eq!(s, 200, "{b}");
        // scheduling twice
        let (s, b) = verb(&env, &exp, "scheduleExperiment", json!({"resourceName": exp})).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "STATUS_TRANSITION_INVALID"),
        );
        // the split cannot change once started
        let arm = format!("customers/{CID}/experimentArms/{}~", exp.rsplit('/').next().unwrap());
        let rows = env
            .search("SELECT experiment_arm.resource_name, experiment_arm.control FROM experiment_arm")
            .await;
        let control = rows
            .iter()
            .map(|r| r["experimentArm"]["resourceName"].as_str().unwrap().to_string())
            .find(|rn| rn.starts_with(&arm))
            .unwrap();
        let (s, b) = env
            .post(
                "experimentArms:mutate",
                json!({"operations":[{"update": {"resourceName": control, "trafficSplit": "60"}, "updateMask": "trafficSplit"}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentArmError", "CANNOT_MUTATE_TRAFFIC_SPLIT_AFTER_START"),
        );
        let (s, b) = verb(&env, &exp, "endExperiment", json!({"experiment": exp})).await;
        assert_eq!(s, 200, "{b}");
        let rows = env
            .search("SELECT experiment.status, experiment.end_date FROM experiment")
            .await;
        assert_eq!(rows[0]["experiment"]["status"], "HALTED");
        assert_eq!(rows[0]["experiment"]["endDate"], day(0));
        let rows = env.search("SELECT campaign.serving_status FROM campaign").await;
        let t = rows
            .iter()
            .find(|r| r["campaign"]["resourceName"] == trial.as_str())
            .unwrap();
        assert_eq!(t["campaign"]["servingStatus"], "ENDED");
        // graduate needs a budget for the campaign
        let (s, b) = verb(&env, &exp, "graduateExperiment", json!({"experiment": exp})).await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("fieldError", "REQUIRED"));
        let budget = env.budget("Graduated budget", false).await;
        let (s, b) = verb(
            &env,
            &exp,
            "graduateExperiment",
            json!({"experiment": exp, "campaignBudgetMappings": [{"experimentCampaign": trial, "campaignBudget": budget}]}),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let rows = env.search("SELECT experiment.status FROM experiment").await;
        assert_eq!(rows[0]["experiment"]["status"], "GRADUATED");
        let rows = env
            .search("SELECT campaign.experiment_type, campaign.campaign_budget FROM campaign")
            .await;
        let t = rows
            .iter()
            .find(|r| r["campaign"]["resourceName"] == trial.as_str())
            .unwrap();
        assert_eq!(t["campaign"]["experimentType"], "BASE");
        assert_eq!(t["campaign"]["campaignBudget"], budget.as_str());
    }

    /// What the platform refuses of an experiment (errors/experiment_error.proto).
    #[tokio::test]
    async fn experiment_refusals() {
        let env = start().await;
        let base_rn = base(&env, "Search").await;
        let mut e = experiment("Past");
        e["startDate"] = json!(day(-1));
        let (s, b) = create_experiment(&env, e).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "CANNOT_SET_START_DATE_IN_PAST"),
        );
        let mut e = experiment("Far");
        e["startDate"] = json!(day(400));
        e["endDate"] = json!(day(420));
        let (s, b) = create_experiment(&env, e).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "START_DATE_TOO_FAR_IN_FUTURE"),
        );
        let mut e = experiment("Backwards");
        e["endDate"] = json!(day(0));
        e["startDate"] = json!(day(2));
        let (s, b) = create_experiment(&env, e).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "END_DATE_BEFORE_START_DATE"),
        );
        let mut e = experiment("Ended");
        e["startDate"] = json!(day(-3));
        e.as_object_mut().unwrap().remove("startDate");
        e["endDate"] = json!(day(-2));
        let (s, b) = create_experiment(&env, e).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "CANNOT_SET_END_DATE_IN_PAST"),
        );
        let mut e = experiment("Removed");
        e["status"] = json!("REMOVED");
        let (s, b) = create_experiment(&env, e).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "CANNOT_SET_STATUS_TO_REMOVED"),
        );
        let mut e = experiment("Graduated");
        e["status"] = json!("GRADUATED");
        let (s, b) = create_experiment(&env, e).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "CANNOT_SET_STATUS_TO_GRADUATED"),
        );
        let mut e = experiment("Sync");
        e["type"] = json!("YOUTUBE_CUSTOM");
        e["syncEnabled"] = json!(true);
        let (s, b) = create_experiment(&env, e).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "CANNOT_ENABLE_SYNC_FOR_UNSUPPORTED_EXPERIMENT_TYPE"),
        );
        let mut e = experiment("No type");
        e.as_object_mut().unwrap().remove("type");
        let (s, b) = create_experiment(&env, e).await;
        assert_ads_failure(s, &b, 400, "INVALID_ARGUMENT", ("fieldError", "REQUIRED"));
        let (s, b) = create_experiment(&env, experiment("Twice")).await;
        assert_eq!(s, 200, "{b}");
        let twice = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let (s, b) = create_experiment(&env, experiment("Twice")).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "DUPLICATE_EXPERIMENT_NAME"),
        );
        // scheduling without arms
        let (s, b) = verb(&env, &twice, "scheduleExperiment", json!({"resourceName": twice})).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "MISSING_EXPERIMENT_ARMS"),
        );
        // a status write other than ENABLED → HALTED
        let (s, b) = env
            .post(
                "experiments:mutate",
                json!({"operations":[{"update": {"resourceName": twice, "status": "ENABLED"}, "updateMask": "status"}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "STATUS_TRANSITION_INVALID"),
        );
        // a removed experiment cannot be changed, and its name is free again
        let (s, b) = env
            .post("experiments:mutate", json!({"operations":[{"remove": twice}]}))
            .await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = env
            .post(
                "experiments:mutate",
                json!({"operations":[{"update": {"resourceName": twice, "description": "x"}, "updateMask": "description"}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "CANNOT_MODIFY_REMOVED_EXPERIMENT"),
        );
        let (s, b) = verb(&env, &twice, "promoteExperiment", json!({"resourceName": twice})).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "EXPERIMENT_NOT_FOUND"),
        );
        let (s, b) = create_experiment(&env, experiment("Twice")).await;
        assert_eq!(s, 200, "{b}");
        // a split that does not total 100, on the second arm and at schedule
        let (_, s, b) = with_arms(&env, "Split", &base_rn, 50, 40).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            (
                "experimentError",
                "SUM_TRIAL_ARM_TRAFFIC_UNEQUALS_TO_TRIAL_TRAFFIC_SPLIT_DENOMINATOR",
            ),
        );
        // a treatment arm alone: no in-design campaign, and no 100 either
        let (s, b) = create_experiment(&env, experiment("Alone")).await;
        assert_eq!(s, 200, "{b}");
        let alone = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let (s, b) = env
            .post(
                "experimentArms:mutate",
                json!({"operations":[{"create": {"experiment": alone, "name": "t", "trafficSplit": "100"}}]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = verb(&env, &alone, "scheduleExperiment", json!({"resourceName": alone})).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "IN_DESIGN_CAMPAIGNS_NOT_SET"),
        );
    }

    /// What the platform refuses of an experiment arm (errors/experiment_arm_error.proto, experiment_error.proto).
    #[tokio::test]
    async fn arm_refusals() {
        let env = start().await;
        let base_rn = base(&env, "Search").await;
        let (s, b) = create_experiment(&env, experiment("Arms")).await;
        assert_eq!(s, 200, "{b}");
        let exp = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let arm = |name: &str, control: bool, split: &str, campaigns: Vec<&str>| {
            json!({"operations":[{"create": {"experiment": exp, "name": name, "control": control,
                "trafficSplit": split, "campaigns": campaigns}}]})
        };
        let (s, b) = env
            .post("experimentArms:mutate", arm("c", true, "0", vec![&base_rn]))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "INVALID_TRIAL_ARM_TRAFFIC_SPLIT"),
        );
        let (s, b) = env
            .post("experimentArms:mutate", arm("c", true, "101", vec![&base_rn]))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "INVALID_TRIAL_ARM_TRAFFIC_SPLIT"),
        );
        let (s, b) = env
            .post("experimentArms:mutate", arm("t", false, "50", vec![&base_rn]))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentArmError", "CANNOT_SET_TREATMENT_ARM_CAMPAIGN"),
        );
        let (s, b) = env
            .post("experimentArms:mutate", arm("c", true, "50", vec![&base_rn, &base_rn]))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentArmError", "TOO_MANY_CAMPAIGNS_IN_EXPERIMENT_ARM"),
        );
        // a base campaign on a shared budget, of another channel
        let shared = env.budget("Shared", true).await;
        let (s, b) = env.campaign("On shared", &shared).await;
        assert_eq!(s, 200, "{b}");
        let on_shared = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let (s, b) = env
            .post("experimentArms:mutate", arm("c", true, "50", vec![&on_shared]))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentArmError", "CANNOT_ADD_CAMPAIGN_WITH_SHARED_BUDGET"),
        );
        let own = env.budget("Display budget", false).await;
        let mut display = campaign_body("Display", &own);
        display["advertisingChannelType"] = json!("DISPLAY");
        let (s, b) = env
            .post("campaigns:mutate", json!({"operations":[{"create": display}]}))
            .await;
        assert_eq!(s, 200, "{b}");
        let display = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let (s, b) = env
            .post("experimentArms:mutate", arm("c", true, "50", vec![&display]))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "INVALID_CAMPAIGN_CHANNEL_TYPE"),
        );
        // no suffix on the experiment
        let mut e = experiment("No suffix");
        e.as_object_mut().unwrap().remove("suffix");
        let (s, b) = create_experiment(&env, e).await;
        assert_eq!(s, 200, "{b}");
        let nosuffix = b["results"][0]["resourceName"].as_str().unwrap().to_string();
        let (s, b) = env
            .post(
                "experimentArms:mutate",
                json!({"operations":[{"create": {"experiment": nosuffix, "name": "c", "control": true, "trafficSplit": "50", "campaigns": [base_rn]}}]}),
            )
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentArmError", "CANNOT_MODIFY_CAMPAIGN_WITHOUT_SUFFIX_SET"),
        );
        // one control, unique names, two arms at most
        let (s, b) = env
            .post("experimentArms:mutate", arm("c", true, "50", vec![&base_rn]))
            .await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = env
            .post("experimentArms:mutate", arm("c2", true, "50", vec![&base_rn]))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "CANNOT_HAVE_MULTIPLE_CONTROL_ARMS"),
        );
        let (s, b) = env.post("experimentArms:mutate", arm("c", false, "50", vec![])).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentArmError", "DUPLICATE_EXPERIMENT_ARM_NAME"),
        );
        let (s, b) = env.post("experimentArms:mutate", arm("t", false, "50", vec![])).await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = env.post("experimentArms:mutate", arm("t2", false, "50", vec![])).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentArmError", "EXPERIMENT_ARM_COUNT_LIMIT_EXCEEDED"),
        );
        // a second experiment whose trial campaign would take the same name
        let (_, s, b) = with_arms(&env, "Same suffix", &base_rn, 50, 50).await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "DUPLICATE_EXPERIMENT_CAMPAIGN_NAME"),
        );
        // removing an arm once started; removing the experiment takes its trial campaign along
        let (s, b) = verb(&env, &exp, "scheduleExperiment", json!({"resourceName": exp})).await;
        assert_eq!(s, 200, "{b}");
        let rows = env
            .search("SELECT experiment_arm.resource_name FROM experiment_arm")
            .await;
        let any_arm = rows[0]["experimentArm"]["resourceName"].as_str().unwrap().to_string();
        let (s, b) = env
            .post("experimentArms:mutate", json!({"operations":[{"remove": any_arm}]}))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentArmError", "CANNOT_MODIFY_CAMPAIGN_IDS"),
        );
        let (s, b) = env
            .post("experiments:mutate", json!({"operations":[{"remove": exp}]}))
            .await;
        assert_eq!(s, 200, "{b}");
        let rows = env.search("SELECT campaign.name, campaign.status FROM campaign").await;
        let t = rows.iter().find(|r| r["campaign"]["name"] == "Search [trial]").unwrap();
        assert_eq!(t["campaign"]["status"], "REMOVED");
    }

    /// With a job delay, scheduling answers an operation not yet done, the experiment INITIATED (it cannot be
    /// removed then); polling the operation after the delay finishes it.
    #[tokio::test]
    async fn schedule_is_a_long_running_operation() {
        let cfg = EmulatorConfig {
            review_delay: Duration::from_millis(300),
            ..EmulatorConfig::default()
        };
        let em = Emulator::start(cfg).await.expect("start");
        let mut env = Env {
            em,
            http: reqwest::Client::new(),
            token: String::new(),
        };
        env.token = env.refresh().await;
        let base_rn = base(&env, "Search").await;
        let (exp, s, b) = with_arms(&env, "Slow", &base_rn, 50, 50).await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = verb(&env, &exp, "scheduleExperiment", json!({"resourceName": exp})).await;
        assert_eq!(s, 200, "{b}");
        assert!(b.get("done").is_none(), "{b}");
        let op = b["name"].as_str().unwrap().to_string();
        let rows = env.search("SELECT experiment.status FROM experiment").await;
        assert_eq!(rows[0]["experiment"]["status"], "INITIATED");
        let (s, b) = env
            .post("experiments:mutate", json!({"operations":[{"remove": exp}]}))
            .await;
        assert_ads_failure(
            s,
            &b,
            400,
            "INVALID_ARGUMENT",
            ("experimentError", "CANNOT_REMOVE_IN_CREATION_EXPERIMENT"),
        );
        tokio::time::sleep(Duration::from_millis(350)).await;
        let r = env
            .http
            .get(env.url(&format!("/v25/{op}")))
            .bearer_auth(&env.token)
            .header("developer-token", defaults::GOOGLE_DEVELOPER_TOKEN)
            .send()
            .await
            .unwrap();
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["done"], true, "{b}");
        assert_eq!(b["metadata"]["experiment"], exp.as_str());
        let rows = env.search("SELECT experiment.status FROM experiment").await;
        assert_eq!(rows[0]["experiment"]["status"], "ENABLED");
    }
}
