//! Wire tests of the X connector: a small stub on loopback that checks every request's OAuth 1.0a signature with
//! the connector's own signer and records `METHOD path?query body`, and an end-to-end run against the X emulator
//! of this repository (`adsctl-emulator`, written by someone else from the same pack).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value as Json};

use super::client::{base_string, parse_authorization, percent_decode, signature};
use super::{XConfig, XConnector, XCredentials};
use crate::connectors::{ApplyBatch, Connector, IdRef, OpAction, OpOutcome, Operation, ReadRequest};
use crate::model::{
    value_fingerprint, Account, Address, Currency, Guardrails, Kind, Money, Platform, RemovalPolicy, Value,
};

const ACCT: &str = "18ce54d4x5t";
const CK: &str = "stubConsumerKey";
const CS: &str = "stub-consumer-secret";
const AT: &str = "1-stubAccessToken";
const TS: &str = "stub-token-secret";

type Answer = (u16, Vec<(&'static str, String)>, String);
type Route = Arc<dyn Fn(&str, &str, &BTreeMap<String, String>, &str) -> Answer + Send + Sync>;

/// The decoded query pairs of a raw query string.
fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// A stub X on loopback: `route(method, path, query, body)` answers; every request is recorded as
/// `METHOD path?query body` after its signature was verified (an unsigned or badly signed request is a 401).
async fn stub(route: Route) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let log = log.clone();
        let route = route.clone();
        async move {
            let method = req.method().to_string();
            let host = req
                .headers()
                .get("host")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_ascii_lowercase();
            let path = req.uri().path().to_string();
            let raw_query = req.uri().query().unwrap_or("").to_string();
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_string();
            let body = axum::body::to_bytes(req.into_body(), 1 << 24).await.unwrap_or_default();
            let body = String::from_utf8_lossy(&body).into_owned();
            let pairs = query_pairs(&raw_query);
            // verify the signature the way X does: decoded query + oauth_* (JSON bodies are not signed)
            let signed_ok = parse_authorization(&auth).is_some_and(|oauth| {
                let sig = oauth
                    .iter()
                    .find(|(k, _)| k == "oauth_signature")
                    .map(|(_, v)| v.clone());
                let key_ok = oauth.iter().any(|(k, v)| k == "oauth_consumer_key" && v == CK)
                    && oauth.iter().any(|(k, v)| k == "oauth_token" && v == AT);
                let mut all = pairs.clone();
                all.extend(oauth.into_iter().filter(|(k, _)| k != "oauth_signature"));
                let base = base_string(&method, &format!("http://{host}{path}"), &all);
                key_ok && sig == Some(signature(&base, CS, TS))
            });
            log.lock().unwrap().push(format!("{method} {path}?{raw_query} {body}"));
            let (status, headers, text) = if signed_ok {
                let q: BTreeMap<String, String> = pairs.into_iter().collect();
                route(&method, &path, &q, &body)
            } else {
                (
                    401,
                    Vec::new(),
                    json!({"errors":[{"code":"UNAUTHORIZED_ACCESS","message":"bad signature"}]}).to_string(),
                )
            };
            let mut resp = axum::response::Response::new(axum::body::Body::from(text));
            *resp.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
            for (k, v) in headers {
                resp.headers_mut().insert(k, v.parse().unwrap());
            }
            resp
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

fn account(url: &str) -> Account {
    Account {
        name: "xa".into(),
        platform: Platform::X,
        platform_id: ACCT.into(),
        login_customer_id: None,
        currency: Currency::from_code("USD").unwrap(),
        time_zone: Some("America/Los_Angeles".into()),
        on_removed: RemovalPolicy::Pause,
        guardrails: Guardrails::default(),
        endpoint: Some(url.into()),
    }
}

fn connector_with(url: &str, creds: XCredentials) -> XConnector {
    let cfg = XConfig {
        retry_min_delay: Duration::from_millis(1),
        retry_max_delay: Duration::from_millis(2),
        lease_settle: Duration::from_millis(1),
        job_poll: Duration::from_millis(5),
        ..XConfig::for_endpoint(url).unwrap()
    };
    XConnector::with(&account(url), cfg, creds).unwrap()
}

fn connector(url: &str) -> XConnector {
    connector_with(url, XCredentials::new(CK, CS, AT, TS))
}

fn ok(data: Json) -> Answer {
    (
        200,
        Vec::new(),
        json!({"data": data, "request": {"params": {}}}).to_string(),
    )
}

fn page(data: Json, next: Option<&str>) -> Answer {
    (
        200,
        Vec::new(),
        json!({"data": data, "next_cursor": next, "request": {"params": {}}}).to_string(),
    )
}

fn root() -> Address {
    Address::account("xa")
}

fn op(address: Address, kind: Kind, action: OpAction, parent: Option<IdRef>) -> Operation {
    Operation {
        address,
        kind,
        action,
        parent,
        refs: BTreeMap::new(),
    }
}

fn create(fields: &[(&str, Value)]) -> OpAction {
    OpAction::Create {
        fields: fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
    }
}

fn money(m: i64) -> Value {
    Value::Money(Money::from_micros(m))
}

#[tokio::test]
async fn reads_page_with_drafts_and_filter_children_by_line_item() {
    let route: Route = Arc::new(|_m, path, q, _b| {
        let p = path.trim_start_matches(&format!("/12/accounts/{ACCT}/"));
        match p {
            "campaigns" if q.get("cursor").is_none() => page(
                json!([{"id": "8wku2", "name": "Spring [adsctl-managed]", "entity_status": "DRAFT",
                        "funding_instrument_id": "lygyi", "daily_budget_amount_local_micro": 5500000}]),
                Some("c1"),
            ),
            "campaigns" => page(
                json!([{"id": "9aaaa", "name": "adsctl-lease|h|9999999999", "entity_status": "DRAFT"},
                       {"id": "9bbbb", "name": "Theirs", "entity_status": "ACTIVE"}]),
                None,
            ),
            "line_items" => page(
                json!([{"id": "itttx", "campaign_id": "8wku2", "name": "G [adsctl-managed]",
                        "entity_status": "ACTIVE", "objective": "WEBSITE_CLICKS", "product_type": "PROMOTED_TWEETS",
                        "placements": ["ALL_ON_TWITTER"], "bid_amount_local_micro": 1250000,
                        "start_time": "2026-01-01T00:00:00Z"},
                       {"id": "ileas", "campaign_id": "9aaaa", "name": "under the lease"}]),
                None,
            ),
            "custom_audiences" => page(
                json!([{"id": "1nmth", "name": "VIPs", "description": "best [adsctl-managed:0123456789abcdef]"}]),
                None,
            ),
            "promoted_tweets" => page(
                json!([{"id": "1e8i2k", "line_item_id": "itttx", "tweet_id": "1166476031668015104",
                        "entity_status": "ACTIVE", "approval_status": "ACCEPTED"}]),
                None,
            ),
            "targeting_criteria" => page(
                json!([{"id": "dpl3a6", "line_item_id": "itttx", "targeting_type": "CUSTOM_AUDIENCE",
                        "targeting_value": "1nmth", "operator_type": "EQ"},
                       {"id": "dpl3a7", "line_item_id": "itttx", "targeting_type": "BROAD_KEYWORD",
                        "targeting_value": "cheap shoes", "operator_type": "NE"}]),
                None,
            ),
            _ => (
                404,
                Vec::new(),
                json!({"errors":[{"code":"ROUTE_NOT_FOUND","message":p}]}).to_string(),
            ),
        }
    });
    let (url, seen) = stub(route).await;
    let c = connector(&url);
    let snap = c.read(&account(&url), &ReadRequest::default()).await.unwrap();
    let addrs: Vec<String> = snap.resources.iter().map(|r| r.address.to_string()).collect();
    assert!(addrs.contains(&"xa/campaign/Spring".to_string()), "{addrs:?}");
    assert!(addrs.contains(&"xa/campaign/Theirs".to_string()));
    assert!(
        !addrs
            .iter()
            .any(|a| a.contains("adsctl-lease") || a.contains("under the lease")),
        "{addrs:?}"
    );
    assert!(addrs.contains(&"xa/campaign/Spring/ad_group/G/promoted_post/1166476031668015104".to_string()));
    assert!(addrs.contains(&"xa/campaign/Spring/ad_group/G/targeting_criterion/custom_audience:VIPs".to_string()));
    assert!(
        addrs.contains(&"xa/campaign/Spring/ad_group/G/targeting_criterion/not broad_keyword:cheap shoes".to_string())
    );
    let aud = snap.resources.iter().find(|r| r.kind == Kind::Audience).unwrap();
    assert!(aud.owned);
    assert_eq!(
        aud.observed.get("fingerprint.members").map(String::as_str),
        Some("0123456789abcdef")
    );
    let spring = snap
        .resources
        .iter()
        .find(|r| r.address.name() == Some("Spring"))
        .unwrap();
    assert_eq!(spring.fields.get("status"), Some(&Value::str("draft")));
    assert_eq!(spring.fields.get("budget.daily"), Some(&money(5_500_000)));
    let log = seen.lock().unwrap().clone();
    let gets = |p: &str| {
        log.iter()
            .filter(|l| l.contains(&format!("/{p}?")))
            .cloned()
            .collect::<Vec<_>>()
    };
    let camps = gets("campaigns");
    assert_eq!(camps.len(), 2, "{camps:?}");
    assert!(camps
        .iter()
        .all(|l| l.contains("with_draft=true") && l.contains("count=1000")));
    assert!(camps[1].contains("cursor=c1"));
    assert!(gets("line_items")[0].contains("with_draft=true"));
    for child in ["promoted_tweets", "targeting_criteria"] {
        let l = gets(child);
        assert_eq!(l.len(), 1);
        assert!(l[0].contains("line_item_ids=itttx"), "{l:?}");
        assert!(!l[0].contains("ileas"), "line items under a lease are not asked for");
    }
    assert!(log.iter().all(|l| l.starts_with("GET ")));
}

#[tokio::test]
async fn batches_hold_at_most_40_and_item_errors_fail_only_their_operation() {
    let calls = Arc::new(Mutex::new(0u32));
    let n = calls.clone();
    let route: Route = Arc::new(move |m, path, _q, body| {
        assert_eq!((m, path), ("POST", "/12/batch/accounts/18ce54d4x5t/campaigns"));
        let items: Vec<Json> = serde_json::from_str(body).unwrap();
        assert!(items.len() <= 40, "{}", items.len());
        let mut k = n.lock().unwrap();
        *k += 1;
        if *k == 1 {
            // item 3 is refused: nothing of the batch is applied
            let errs: Vec<Json> = (0..items.len())
                .map(|i| {
                    if i == 3 {
                        json!([{"code":"INVALID_PARAMETER","message":"bad budget","parameter":"daily_budget_amount_local_micro"}])
                    } else {
                        json!([])
                    }
                })
                .collect();
            return (
                400,
                Vec::new(),
                json!({"operation_errors": errs, "request": []}).to_string(),
            );
        }
        let data: Vec<Json> = items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                assert_eq!(it["operation_type"], "Create");
                assert_eq!(it["params"]["funding_instrument_id"], "lygyi");
                assert!(it["params"]["daily_budget_amount_local_micro"].is_i64());
                json!({"id": format!("c{k}x{i}"), "name": it["params"]["name"]})
            })
            .collect();
        ok(Json::Array(data))
    });
    let (url, seen) = stub(route).await;
    let c = connector(&url);
    let ops: Vec<Operation> = (0..41)
        .map(|i| {
            op(
                root().child(Kind::Campaign, format!("C{i}")),
                Kind::Campaign,
                create(&[
                    ("funding_instrument", Value::str("lygyi")),
                    ("budget.daily", money(5_000_000)),
                ]),
                None,
            )
        })
        .collect();
    let out = c.apply(&account(&url), &ApplyBatch { ops }).await.unwrap();
    assert_eq!(out.len(), 41);
    match &out[3] {
        OpOutcome::Failed(e) => {
            assert_eq!(e.code, "INVALID_PARAMETER");
            assert_eq!(e.field.as_deref(), Some("daily_budget_amount_local_micro"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(out[0], OpOutcome::Applied { id: "c2x0".into() });
    assert_eq!(
        out[4],
        OpOutcome::Applied { id: "c2x3".into() },
        "ids follow the input order of the resent batch"
    );
    assert_eq!(out[40], OpOutcome::Applied { id: "c3x0".into() });
    let log = seen.lock().unwrap();
    assert_eq!(log.len(), 3, "40 refused as a whole, 39 again, then 1");
    assert!(log.iter().all(|l| l.contains("[adsctl-managed]")));
}

#[tokio::test]
async fn criteria_batches_hold_500_and_promoted_tweets_50() {
    let route: Route = Arc::new(|m, path, q, body| match (m, path) {
        ("POST", "/12/batch/accounts/18ce54d4x5t/targeting_criteria") => {
            let items: Vec<Json> = serde_json::from_str(body).unwrap();
            assert!(items.len() <= 500);
            let data: Vec<Json> = items
                .iter()
                .enumerate()
                .map(|(i, it)| {
                    assert_eq!(it["params"]["line_item_id"], "itttx");
                    json!({"id": format!("t{i}"), "targeting_type": it["params"]["targeting_type"]})
                })
                .collect();
            (
                200,
                Vec::new(),
                json!({"data": data, "data_type": "targeting_criterion", "request": []}).to_string(),
            )
        }
        ("POST", "/12/accounts/18ce54d4x5t/promoted_tweets") => {
            assert_eq!(q.get("line_item_id").map(String::as_str), Some("itttx"));
            let ids: Vec<&str> = q["tweet_ids"].split(',').collect();
            assert!(ids.len() <= 50);
            ok(Json::Array(
                ids.iter()
                    .map(|t| json!({"id": format!("p{t}"), "tweet_id": t, "line_item_id": "itttx"}))
                    .collect(),
            ))
        }
        _ => (404, Vec::new(), "{}".into()),
    });
    let (url, seen) = stub(route).await;
    let c = connector(&url);
    let li = root().child(Kind::Campaign, "C").child(Kind::AdGroup, "G");
    let mut ops: Vec<Operation> = (0..501)
        .map(|i| {
            op(
                li.child(Kind::TargetingCriterion, format!("broad_keyword:word {i}")),
                Kind::TargetingCriterion,
                create(&[]),
                Some(IdRef::Known("itttx".into())),
            )
        })
        .collect();
    ops.extend((0..51).map(|i| {
        op(
            li.child(Kind::PromotedPost, format!("{}", 1_000_000 + i)),
            Kind::PromotedPost,
            create(&[]),
            Some(IdRef::Known("itttx".into())),
        )
    }));
    let out = c.apply(&account(&url), &ApplyBatch { ops }).await.unwrap();
    assert!(
        out.iter().all(|o| matches!(o, OpOutcome::Applied { .. })),
        "{:?}",
        out.iter().find(|o| !matches!(o, OpOutcome::Applied { .. }))
    );
    assert_eq!(out[501], OpOutcome::Applied { id: "p1000000".into() });
    let log = seen.lock().unwrap();
    assert_eq!(log.iter().filter(|l| l.contains("/batch/")).count(), 2);
    assert_eq!(log.iter().filter(|l| l.contains("/promoted_tweets?")).count(), 2);
}

#[tokio::test]
async fn a_lost_create_is_looked_up_not_sent_twice_and_429_waits_for_the_reset() {
    let posts = Arc::new(Mutex::new(0u32));
    let gets = Arc::new(Mutex::new(0u32));
    let (p, g) = (posts.clone(), gets.clone());
    let route: Route = Arc::new(move |m, path, _q, body| match (m, path) {
        ("POST", "/12/batch/accounts/18ce54d4x5t/campaigns") => {
            *p.lock().unwrap() += 1;
            assert!(body.contains("\"Create\""));
            // the write commits, the answer is a server error
            (
                503,
                Vec::new(),
                json!({"errors":[{"code":"SERVICE_UNAVAILABLE","message":"busy"}]}).to_string(),
            )
        }
        ("GET", "/12/accounts/18ce54d4x5t/campaigns") => {
            let mut k = g.lock().unwrap();
            *k += 1;
            if *k == 1 {
                let reset = (chrono::Utc::now().timestamp() + 1).to_string();
                return (
                    429,
                    vec![
                        ("x-account-rate-limit-reset", reset),
                        ("x-rate-limit-reset", "1".into()),
                    ],
                    json!({"errors":[{"code":"TOO_MANY_REQUESTS","message":"slow down"}]}).to_string(),
                );
            }
            page(
                json!([{"id": "8wku2", "name": "Lost [adsctl-managed]", "entity_status": "PAUSED"}]),
                None,
            )
        }
        ("DELETE", _) => (404, Vec::new(), "<html>gone</html>".into()),
        ("POST", "/12/batch/accounts/18ce54d4x5t/line_items") => (
            400,
            Vec::new(),
            json!({"operation_errors": [[{"code":"LINE_ITEM_NOT_FOUND","message":"deleted"}]], "request": []})
                .to_string(),
        ),
        _ => (404, Vec::new(), "{}".into()),
    });
    let (url, _seen) = stub(route).await;
    let c = connector(&url);
    let li = root().child(Kind::Campaign, "Lost").child(Kind::AdGroup, "G");
    let ops = vec![
        op(
            root().child(Kind::Campaign, "Lost"),
            Kind::Campaign,
            create(&[
                ("funding_instrument", Value::str("lygyi")),
                ("status", Value::str("paused")),
            ]),
            None,
        ),
        op(
            li.child(Kind::PromotedPost, "123"),
            Kind::PromotedPost,
            OpAction::Remove { id: "1e8i2k".into() },
            Some(IdRef::Known("itttx".into())),
        ),
        op(
            li.clone(),
            Kind::AdGroup,
            OpAction::Remove { id: "itttx".into() },
            Some(IdRef::Known("8wku2".into())),
        ),
    ];
    let t = std::time::Instant::now();
    let out = c.apply(&account(&url), &ApplyBatch { ops }).await.unwrap();
    assert_eq!(out[0], OpOutcome::Applied { id: "8wku2".into() });
    assert_eq!(
        out[1],
        OpOutcome::Applied { id: "1e8i2k".into() },
        "a DELETE answered 404 is done"
    );
    assert_eq!(
        out[2],
        OpOutcome::Applied { id: "itttx".into() },
        "a batch Delete of a gone item is done"
    );
    assert_eq!(*posts.lock().unwrap(), 1, "the create was not sent again");
    assert_eq!(*gets.lock().unwrap(), 2);
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "waited for the account reset header"
    );
}

/// A 500 on an attach that made nothing (X answered; the listing does not show the post): attached again once.
/// A lost audience create that X lists by name is adopted, not made twice.
#[tokio::test]
async fn answered_server_errors_on_creates_are_listed_then_sent_again() {
    let attaches = Arc::new(Mutex::new(0u32));
    let a = attaches.clone();
    let route: Route = Arc::new(move |m, path, q, _b| match (m, path) {
        ("POST", "/12/accounts/18ce54d4x5t/promoted_tweets") => {
            let mut k = a.lock().unwrap();
            *k += 1;
            if *k == 1 {
                return (
                    500,
                    Vec::new(),
                    json!({"errors":[{"code":"INTERNAL_ERROR","message":"oops"}]}).to_string(),
                );
            }
            ok(json!([{"id": "1e8i2k", "tweet_id": q["tweet_ids"], "line_item_id": "itttx"}]))
        }
        ("GET", "/12/accounts/18ce54d4x5t/promoted_tweets") => page(json!([]), None),
        ("POST", "/12/accounts/18ce54d4x5t/custom_audiences") => {
            assert_eq!(q["name"], "VIPs");
            assert_eq!(q["description"], "[adsctl-managed]");
            (
                503,
                Vec::new(),
                json!({"errors":[{"code":"OVER_CAPACITY","message":"busy"}]}).to_string(),
            )
        }
        ("GET", "/12/accounts/18ce54d4x5t/custom_audiences") => page(
            json!([{"id": "1nmth", "name": "VIPs", "description": "[adsctl-managed]"}]),
            None,
        ),
        _ => (404, Vec::new(), "{}".into()),
    });
    let (url, seen) = stub(route).await;
    let c = connector(&url);
    let li = root().child(Kind::Campaign, "C").child(Kind::AdGroup, "G");
    let ops = vec![
        op(root().child(Kind::Audience, "VIPs"), Kind::Audience, create(&[]), None),
        op(
            li.child(Kind::PromotedPost, "1166476031668015104"),
            Kind::PromotedPost,
            create(&[]),
            Some(IdRef::Known("itttx".into())),
        ),
    ];
    let out = c.apply(&account(&url), &ApplyBatch { ops }).await.unwrap();
    assert_eq!(out[0], OpOutcome::Applied { id: "1nmth".into() });
    assert_eq!(out[1], OpOutcome::Applied { id: "1e8i2k".into() });
    assert_eq!(*attaches.lock().unwrap(), 2);
    let log = seen.lock().unwrap();
    assert_eq!(
        log.iter()
            .filter(|l| l.starts_with("POST /12/accounts/18ce54d4x5t/custom_audiences"))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_bad_signature_is_an_auth_error_with_the_four_credentials_hint() {
    let route: Route = Arc::new(|_m, _p, _q, _b| ok(json!([])));
    let (url, _seen) = stub(route).await;
    let c = connector_with(&url, XCredentials::new(CK, "wrong-secret", AT, TS));
    let e = c.read(&account(&url), &ReadRequest::default()).await.unwrap_err();
    let text = format!("{e} {}", e.hint().unwrap_or(""));
    assert!(text.contains("four credentials"), "{text}");
    assert!(!text.contains("wrong-secret"));
}

#[tokio::test]
async fn validate_checks_locally_and_sends_nothing() {
    let route: Route = Arc::new(|_m, _p, _q, _b| ok(json!([])));
    let (url, seen) = stub(route).await;
    let c = connector(&url);
    let li = root().child(Kind::Campaign, "C").child(Kind::AdGroup, "G");
    let ops = vec![
        op(
            root().child(Kind::Campaign, "C"),
            Kind::Campaign,
            create(&[("funding_instrument", Value::str("lygyi"))]),
            None,
        ),
        op(
            li.clone(),
            Kind::AdGroup,
            create(&[("objective", Value::str("reach"))]),
            Some(IdRef::Pending(0)),
        ),
        op(
            li.child(Kind::PromotedPost, "not-a-tweet"),
            Kind::PromotedPost,
            create(&[]),
            Some(IdRef::Pending(1)),
        ),
        op(
            li.child(Kind::TargetingCriterion, "language:en"),
            Kind::TargetingCriterion,
            create(&[]),
            Some(IdRef::Pending(1)),
        ),
    ];
    let out = c.validate(&account(&url), &ApplyBatch { ops }).await.unwrap();
    assert_eq!(out[0], OpOutcome::Valid);
    assert!(
        matches!(&out[1], OpOutcome::Failed(e) if e.field.as_deref() == Some("product_type")),
        "{:?}",
        out[1]
    );
    assert!(
        matches!(&out[2], OpOutcome::Failed(_) | OpOutcome::Skipped { .. }),
        "{:?}",
        out[2]
    );
    assert_eq!(seen.lock().unwrap().len(), 0);
}

/// Stats: entity ids by 20, days at midnight in the account's time zone (exclusive end), DAY / ALL_ON_TWITTER /
/// ENGAGEMENT,BILLING; a range over 7 days goes through an async job polled by `id_str` (the numeric id passes
/// 2^53) whose gzip result is downloaded unsigned.
#[tokio::test]
async fn metrics_ask_for_account_days_and_read_jobs_by_id_str() {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(
        json!({"data": [{"id": "c0", "id_data": [{"segment": null, "metrics": {
            "impressions": [5, null], "clicks": null, "billed_charge_local_micro": [1500000, 7]}}]}]})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let gz = gz.finish().unwrap();
    let files = axum::Router::new().route(
        "/result.json.gz",
        axum::routing::get(move || {
            let gz = gz.clone();
            async move { gz }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let files_url = format!("http://{}/result.json.gz", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, files).await });
    let polls = Arc::new(Mutex::new(0u32));
    let p = polls.clone();
    let route: Route = Arc::new(move |m, path, q, _b| match (m, path) {
        ("GET", "/12/accounts/18ce54d4x5t/campaigns") => {
            assert_eq!(q.get("with_deleted").map(String::as_str), Some("true"));
            let rows: Vec<Json> = (0..21)
                .map(|i| json!({"id": format!("c{i}"), "name": format!("C{i} [adsctl-managed]")}))
                .collect();
            page(Json::Array(rows), None)
        }
        ("GET", "/12/stats/accounts/18ce54d4x5t") => {
            assert_eq!(q["entity"], "CAMPAIGN");
            assert!(q["entity_ids"].split(',').count() <= 20);
            assert_eq!(q["start_time"], "2026-05-19T07:00:00Z");
            assert_eq!(q["end_time"], "2026-05-22T07:00:00Z");
            assert_eq!(q["granularity"], "DAY");
            assert_eq!(q["placement"], "ALL_ON_TWITTER");
            assert_eq!(q["metric_groups"], "ENGAGEMENT,BILLING");
            let data: Vec<Json> = q["entity_ids"]
                .split(',')
                .map(|id| {
                    json!({"id": id, "id_data": [{"segment": null, "metrics": {
                    "impressions": [1, 0, 0], "clicks": [1, 0, 0], "billed_charge_local_micro": null}}]})
                })
                .collect();
            (
                200,
                Vec::new(),
                json!({"data_type": "stats", "time_series_length": 3, "data": data}).to_string(),
            )
        }
        ("POST", "/12/stats/jobs/accounts/18ce54d4x5t") => {
            assert_eq!(q["start_time"], "2026-04-01T07:00:00Z");
            assert_eq!(q["end_time"], "2026-04-21T07:00:00Z");
            (
                200,
                Vec::new(),
                r#"{"data":{"id":1234567890123456789,"id_str":"1234567890123456789","status":"PROCESSING","url":null},"request":{}}"#.into(),
            )
        }
        ("GET", "/12/stats/jobs/accounts/18ce54d4x5t") => {
            assert_eq!(
                q["job_ids"], "1234567890123456789",
                "the string id, never the rounded number"
            );
            let mut k = p.lock().unwrap();
            *k += 1;
            let done = *k >= 2;
            ok(json!([{"id_str": "1234567890123456789",
                        "status": if done { "SUCCESS" } else { "PROCESSING" },
                        "url": if done { Json::String(files_url.clone()) } else { Json::Null }}]))
        }
        _ => (404, Vec::new(), "{}".into()),
    });
    let (url, seen) = stub(route).await;
    let c = connector(&url);
    let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let level = crate::connectors::MetricsLevel::Campaign;
    let range = |a: &str, b: &str| crate::connectors::DateRange {
        since: d(a),
        until: d(b),
    };
    let rows = c
        .metrics(&account(&url), level, range("2026-05-19", "2026-05-21"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 21, "one day with numbers per campaign");
    assert!(rows
        .iter()
        .all(|r| r.date == d("2026-05-19") && r.impressions == 1 && r.cost == Money::ZERO));
    assert_eq!(rows.iter().find(|r| r.id == "c3").unwrap().name, "C3");
    assert_eq!(
        seen.lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("GET /12/stats/"))
            .count(),
        2
    );
    let rows = c
        .metrics(&account(&url), level, range("2026-04-01", "2026-04-20"))
        .await
        .unwrap();
    // the stub's job answers the same result for both chunks of ids
    assert!(rows.iter().all(|r| r.id == "c0"));
    let first = rows.iter().find(|r| r.date == d("2026-04-01")).unwrap();
    assert_eq!((first.impressions, first.cost), (5, Money::from_micros(1_500_000)));
    let second = rows.iter().find(|r| r.date == d("2026-04-02")).unwrap();
    assert_eq!((second.impressions, second.cost), (0, Money::from_micros(7)));
}

// ------------------------------------------------------------------------------------------------ emulator

/// A lease create whose answer is a 503 although X made the campaign: the runner finds its own campaign by its
/// name and holds the lease, without a second create (X has no idempotency key).
#[tokio::test]
async fn a_lease_create_answered_503_is_found_not_made_twice() {
    let made: Arc<Mutex<Vec<Json>>> = Arc::new(Mutex::new(Vec::new()));
    let store = made.clone();
    let (url, seen) = stub(Arc::new(move |method, path, q, _body| {
        let mut made = store.lock().unwrap();
        match (method, path.rsplit('/').next().unwrap_or("")) {
            ("GET", "funding_instruments") => page(json!([{"id": "fi1", "deleted": false}]), None),
            ("GET", "campaigns") => page(Json::Array(made.clone()), None),
            ("POST", "campaigns") => {
                let first = made.is_empty();
                let id = format!("c{}", made.len() + 1);
                made.push(json!({"id": id, "name": q["name"],
                    "entity_status": "DRAFT", "funding_instrument_id": "fi1"}));
                if first {
                    // the write committed; its answer is a server error
                    (
                        503,
                        vec![("retry-after", "0".into())],
                        json!({"errors": [{"code": "SERVICE_UNAVAILABLE",
                        "message": "Service unavailable"}], "request": {"params": {}}})
                        .to_string(),
                    )
                } else {
                    ok(made.last().cloned().unwrap_or_default())
                }
            }
            _ => (
                404,
                Vec::new(),
                json!({"errors": [{"code": "ROUTE_NOT_FOUND", "message": "no"}]}).to_string(),
            ),
        }
    }))
    .await;
    let c = connector(&url);
    let until = chrono::Utc::now() + chrono::Duration::minutes(5);
    let acct = account(&url);
    match c.acquire_lease(&acct, "runner-1", until, None).await.unwrap() {
        crate::connectors::LeaseOutcome::Acquired(l) => assert_eq!(l.token, "c1"),
        other => panic!("the lease is this runner's: {other:?}"),
    }
    let creates = seen.lock().unwrap().iter().filter(|r| r.starts_with("POST ")).count();
    assert_eq!(creates, 1, "one create: {:?}", seen.lock().unwrap());
    assert_eq!(made.lock().unwrap().len(), 1, "one lease campaign");
}

mod emulator {
    use super::*;
    use adsctl_emulator::platform::defaults::{
        X_ACCESS_TOKEN, X_ACCOUNT_ID, X_CONSUMER_KEY, X_CONSUMER_SECRET, X_FUNDING_INSTRUMENT_ID, X_TOKEN_SECRET,
    };
    use adsctl_emulator::{Emulator, EmulatorConfig};

    fn h(i: u32) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(format!("user{i}@example.com")))
    }

    fn members(r: std::ops::Range<u32>) -> Value {
        Value::Set(r.map(|i| Value::Str(h(i))).collect())
    }

    async fn held(url: &str, id: &str) -> Vec<String> {
        let v: Json = reqwest::get(format!("{url}/_emulator/x/custom_audiences/{id}/members"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut m: Vec<String> = v["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().trim_start_matches("email:").to_string())
            .collect();
        m.sort();
        m
    }

    fn applied(out: &[OpOutcome]) -> Vec<String> {
        out.iter()
            .map(|o| match o {
                OpOutcome::Applied { id } => id.clone(),
                other => panic!("{other:?} in {out:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn read_and_apply_against_the_emulator() {
        let emu = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
        let url = emu.url();
        let mut acct = account(&url);
        acct.platform_id = X_ACCOUNT_ID.into();
        let cfg = XConfig {
            retry_min_delay: Duration::from_millis(1),
            retry_max_delay: Duration::from_millis(2),
            ..XConfig::for_endpoint(&url).unwrap()
        };
        let c = XConnector::with(
            &acct,
            cfg,
            XCredentials::new(X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN, X_TOKEN_SECRET),
        )
        .unwrap();
        assert!(c.health(&acct).await.unwrap().ok);
        let before = c.read(&acct, &ReadRequest::default()).await.unwrap();
        assert!(before.resources.is_empty(), "{:?}", before.resources);

        let camp = root().child(Kind::Campaign, "Launch");
        let li = camp.child(Kind::AdGroup, "Clicks");
        let aud = root().child(Kind::Audience, "VIPs");
        let ca = li.child(Kind::TargetingCriterion, "custom_audience:VIPs");
        let mut ca_op = op(
            ca.clone(),
            Kind::TargetingCriterion,
            create(&[("audience", Value::reference(aud.clone()))]),
            Some(IdRef::Pending(2)),
        );
        ca_op.refs.insert(aud.clone(), IdRef::Pending(0));
        let ops = vec![
            op(
                aud.clone(),
                Kind::Audience,
                create(&[
                    ("description", Value::str("best customers")),
                    ("members", members(0..3)),
                ]),
                None,
            ),
            op(
                camp.clone(),
                Kind::Campaign,
                create(&[
                    ("status", Value::str("paused")),
                    ("funding_instrument", Value::str(X_FUNDING_INSTRUMENT_ID)),
                    ("budget.daily", money(5_500_000)),
                    ("budget.lifetime", money(100_000_000)),
                ]),
                None,
            ),
            op(
                li.clone(),
                Kind::AdGroup,
                create(&[
                    ("status", Value::str("paused")),
                    ("objective", Value::str("website_clicks")),
                    ("product_type", Value::str("promoted_tweets")),
                    ("placements", Value::Set([Value::str("all_on_twitter")].into())),
                    ("bid_strategy", Value::str("max")),
                    ("bid", money(1_250_000)),
                    ("start_time", Value::str("2030-01-01T00:00:00Z")),
                    ("end_time", Value::str("2030-02-01T00:00:00Z")),
                ]),
                Some(IdRef::Pending(1)),
            ),
            op(
                li.child(Kind::TargetingCriterion, "location:96683cc9126741d1"),
                Kind::TargetingCriterion,
                create(&[]),
                Some(IdRef::Pending(2)),
            ),
            op(
                li.child(Kind::TargetingCriterion, "not broad_keyword:cheap shoes"),
                Kind::TargetingCriterion,
                create(&[]),
                Some(IdRef::Pending(2)),
            ),
            ca_op,
            op(
                li.child(Kind::PromotedPost, "1166476031668015104"),
                Kind::PromotedPost,
                create(&[]),
                Some(IdRef::Pending(2)),
            ),
        ];
        let out = c.apply(&acct, &ApplyBatch { ops }).await.unwrap();
        let ids = applied(&out);
        assert_eq!(held(&url, &ids[0]).await, {
            let mut v: Vec<String> = (0..3).map(h).collect();
            v.sort();
            v
        });

        let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
        let find = |a: &Address| snap.resources.iter().find(|r| &r.address == a).cloned();
        let rc = find(&camp).expect("campaign read back");
        assert!(rc.owned);
        assert_eq!(rc.id.as_deref(), Some(ids[1].as_str()));
        assert_eq!(rc.fields.get("budget.daily"), Some(&money(5_500_000)));
        assert_eq!(rc.fields.get("status"), Some(&Value::str("paused")));
        let rl = find(&li).expect("line item read back");
        assert_eq!(rl.fields.get("bid"), Some(&money(1_250_000)));
        assert_eq!(
            rl.fields.get("placements"),
            Some(&Value::Set([Value::str("all_on_twitter")].into()))
        );
        assert_eq!(rl.fields.get("start_time"), Some(&Value::str("2030-01-01T00:00:00Z")));
        let rca = find(&ca).expect("custom audience criterion named by the audience");
        assert_eq!(rca.fields.get("audience"), Some(&Value::reference(aud.clone())));
        assert!(find(&li.child(Kind::TargetingCriterion, "not broad_keyword:cheap shoes")).is_some());
        assert!(find(&li.child(Kind::TargetingCriterion, "location:96683cc9126741d1")).is_some());
        let rp = find(&li.child(Kind::PromotedPost, "1166476031668015104")).expect("promoted post");
        assert_eq!(rp.id.as_deref(), Some(ids[6].as_str()));
        let ra = find(&aud).expect("audience");
        assert!(ra.owned);
        assert_eq!(ra.fields.get("description"), Some(&Value::str("best customers")));
        assert_eq!(
            ra.observed.get("fingerprint.members"),
            Some(&value_fingerprint(&members(0..3)))
        );

        // update: a renamed campaign with a new budget, a paused line item, new members
        let renamed = root().child(Kind::Campaign, "Launch 2");
        let ops = vec![
            op(
                renamed.clone(),
                Kind::Campaign,
                OpAction::Update {
                    id: ids[1].clone(),
                    set: [
                        ("budget.daily".to_string(), money(7_000_000)),
                        ("name".to_string(), Value::str("Launch 2")),
                    ]
                    .into(),
                    before: [("budget.daily".to_string(), money(5_500_000))].into(),
                },
                None,
            ),
            op(
                li.clone(),
                Kind::AdGroup,
                OpAction::Update {
                    id: ids[2].clone(),
                    set: [
                        ("status".to_string(), Value::str("active")),
                        ("end_time".to_string(), Value::Null),
                    ]
                    .into(),
                    before: BTreeMap::new(),
                },
                Some(IdRef::Known(ids[1].clone())),
            ),
            op(
                aud.clone(),
                Kind::Audience,
                OpAction::Update {
                    id: ids[0].clone(),
                    set: [("members".to_string(), members(1..5))].into(),
                    before: [("members".to_string(), members(0..3))].into(),
                },
                None,
            ),
        ];
        let out = c.apply(&acct, &ApplyBatch { ops }).await.unwrap();
        applied(&out);
        assert_eq!(held(&url, &ids[0]).await, {
            let mut v: Vec<String> = (1..5).map(h).collect();
            v.sort();
            v
        });
        let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
        let rc = snap.resources.iter().find(|r| r.address == renamed).expect("renamed");
        assert_eq!(rc.fields.get("budget.daily"), Some(&money(7_000_000)));
        let li2 = renamed.child(Kind::AdGroup, "Clicks");
        let rl = snap.resources.iter().find(|r| r.address == li2).unwrap();
        assert_eq!(rl.fields.get("status"), Some(&Value::str("active")));
        assert_eq!(rl.fields.get("end_time"), None, "cleared");
        let ra = snap.resources.iter().find(|r| r.address == aud).unwrap();
        assert_eq!(
            ra.observed.get("fingerprint.members"),
            Some(&value_fingerprint(&members(1..5)))
        );

        // remove everything, children first; a second removal is done too (404 on delete)
        let remove = |a: Address, k: Kind, id: &str| op(a, k, OpAction::Remove { id: id.to_string() }, None);
        let all = vec![
            remove(
                li2.child(Kind::PromotedPost, "1166476031668015104"),
                Kind::PromotedPost,
                &ids[6],
            ),
            remove(
                li2.child(Kind::TargetingCriterion, "location:96683cc9126741d1"),
                Kind::TargetingCriterion,
                &ids[3],
            ),
            remove(
                li2.child(Kind::TargetingCriterion, "not broad_keyword:cheap shoes"),
                Kind::TargetingCriterion,
                &ids[4],
            ),
            remove(
                li2.child(Kind::TargetingCriterion, "custom_audience:VIPs"),
                Kind::TargetingCriterion,
                &ids[5],
            ),
            remove(li2.clone(), Kind::AdGroup, &ids[2]),
            remove(renamed.clone(), Kind::Campaign, &ids[1]),
            remove(aud.clone(), Kind::Audience, &ids[0]),
        ];
        applied(&c.apply(&acct, &ApplyBatch { ops: all.clone() }).await.unwrap());
        let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
        assert!(snap.resources.is_empty(), "{:?}", snap.resources);
        applied(&c.apply(&acct, &ApplyBatch { ops: all }).await.unwrap());

        // a lease: DRAFT campaign, left out of reads
        let until = chrono::Utc::now() + chrono::Duration::minutes(5);
        let l = match c.acquire_lease(&acct, "runner-1", until, None).await.unwrap() {
            crate::connectors::LeaseOutcome::Acquired(l) => l,
            other => panic!("{other:?}"),
        };
        assert!(matches!(
            c.acquire_lease(&acct, "runner-2", until, None).await.unwrap(),
            crate::connectors::LeaseOutcome::Held { .. }
        ));
        assert!(c
            .read(&acct, &ReadRequest::default())
            .await
            .unwrap()
            .resources
            .is_empty());
        c.renew_lease(&acct, &l, until + chrono::Duration::minutes(1))
            .await
            .unwrap();
        c.release_lease(&acct, &l).await.unwrap();
    }

    /// `auth validate` with the environment's four values: the account and the user's permissions.
    #[tokio::test]
    async fn auth_validate_reports_the_permissions() {
        use crate::auth::platform::PlatformAuth;
        let emu = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
        let url = emu.url();
        let mut acct = account(&url);
        acct.platform_id = X_ACCOUNT_ID.into();
        let vars: BTreeMap<&str, &str> = [
            ("ADSCTL_X_CONSUMER_KEY", X_CONSUMER_KEY),
            ("ADSCTL_X_CONSUMER_SECRET", X_CONSUMER_SECRET),
            ("ADSCTL_X_ACCESS_TOKEN", X_ACCESS_TOKEN),
            ("ADSCTL_X_TOKEN_SECRET", X_TOKEN_SECRET),
        ]
        .into();
        let env: crate::auth::EnvFn = Arc::new(move |k: &str| vars.get(k).map(|v| v.to_string()));
        let dir = tempfile::tempdir().unwrap();
        let auth = crate::auth::Auth::with_env(dir.path(), env);
        let kind = super::super::XAuth.env_credentials(&auth, &acct).expect("all four set");
        let mut v = crate::auth::Validation::default();
        super::super::XAuth.validate(&auth, &acct, &kind, &mut v).await.unwrap();
        assert!(v.scopes.iter().any(|s| s == "ACCOUNT_ADMIN"), "{v:?}");
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
        assert!(v.time_zone.is_some());
        // a wrong secret is refused as invalid credentials, and the secret is in no message
        let bad = crate::auth::platform::CredentialKind::new(XCredentials::new(
            X_CONSUMER_KEY,
            "not-the-secret",
            X_ACCESS_TOKEN,
            X_TOKEN_SECRET,
        ));
        let e = super::super::XAuth
            .validate(&auth, &acct, &bad, &mut crate::auth::Validation::default())
            .await
            .unwrap_err();
        assert!(matches!(e, crate::auth::AuthError::Invalid { .. }), "{e:?}");
        assert!(!format!("{e:?}").contains("not-the-secret"));
    }

    /// The emulator's lost-response fault: the create commits, the answer never arrives, and the look-up that
    /// follows is lost too — the create is not sent again, and the next read finds the campaign, marked. Drafts
    /// are read (`with_draft=true`).
    #[tokio::test]
    async fn a_lost_create_is_not_sent_twice_and_the_next_read_finds_it() {
        let emu = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
        let url = emu.url();
        let mut acct = account(&url);
        acct.platform_id = X_ACCOUNT_ID.into();
        let cfg = XConfig {
            retry_min_delay: Duration::from_millis(1),
            retry_max_delay: Duration::from_millis(2),
            max_retries: 1,
            ..XConfig::for_endpoint(&url).unwrap()
        };
        let c = XConnector::with(
            &acct,
            cfg,
            XCredentials::new(X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN, X_TOKEN_SECRET),
        )
        .unwrap();
        let faults = |spec: &'static str| {
            let url = url.clone();
            async move {
                reqwest::Client::new()
                    .post(format!("{url}/_emulator/faults"))
                    .json(&json!({ "spec": spec }))
                    .send()
                    .await
                    .unwrap();
            }
        };
        let ops = |name: &str, status: &str| ApplyBatch {
            ops: vec![op(
                root().child(Kind::Campaign, name),
                Kind::Campaign,
                create(&[
                    ("status", Value::str(status)),
                    ("funding_instrument", Value::str(X_FUNDING_INSTRUMENT_ID)),
                    ("budget.daily", money(5_000_000)),
                ]),
                None,
            )],
        };
        faults("lost=1.0").await;
        let out = c.apply(&acct, &ops("Lost", "paused")).await.unwrap();
        faults("").await;
        match &out[0] {
            OpOutcome::Failed(e) => assert_eq!(e.code, "outcome_unknown", "{e:?}"),
            other => panic!("{other:?}"),
        }
        applied(&c.apply(&acct, &ops("Later", "draft")).await.unwrap());
        let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
        let names: Vec<&str> = snap.resources.iter().filter_map(|r| r.address.name()).collect();
        assert_eq!(
            names.iter().filter(|n| **n == "Lost").count(),
            1,
            "made once: {names:?}"
        );
        assert!(snap.resources.iter().all(|r| r.owned));
        let later = snap
            .resources
            .iter()
            .find(|r| r.address.name() == Some("Later"))
            .expect("drafts are read");
        assert_eq!(later.fields.get("status"), Some(&Value::str("draft")));
        // the emulator hides drafts from a list without with_draft=true, as the pack says
        let plain = c
            .client()
            .list_all(&c.path("campaigns"), super::super::client::Query::new())
            .await
            .unwrap();
        assert!(plain.iter().all(|r| r["entity_status"] != "DRAFT"), "{plain:?}");
        // a foreign account is 403 ACCOUNT_NOT_FOUND: an auth error whose hint names the account id
        let mut foreign = acct.clone();
        foreign.platform_id = "zzzzz".into();
        let f = XConnector::with(
            &foreign,
            XConfig::for_endpoint(&url).unwrap(),
            XCredentials::new(X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN, X_TOKEN_SECRET),
        )
        .unwrap();
        let e = f.read(&foreign, &ReadRequest::default()).await.unwrap_err();
        assert!(matches!(e, crate::connectors::ConnectorError::Auth { .. }), "{e:?}");
        assert!(e.to_string().contains("ACCOUNT_NOT_FOUND"), "{e}");
        assert!(e.hint().unwrap_or("").contains("account id"), "{:?}", e.hint());
    }

    #[tokio::test]
    async fn metrics_from_the_emulator_sync_and_async() {
        let emu = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
        let url = emu.url();
        let mut acct = account(&url);
        acct.platform_id = X_ACCOUNT_ID.into();
        let cfg = XConfig {
            job_poll: Duration::from_millis(5),
            ..XConfig::for_endpoint(&url).unwrap()
        };
        let c = XConnector::with(
            &acct,
            cfg,
            XCredentials::new(X_CONSUMER_KEY, X_CONSUMER_SECRET, X_ACCESS_TOKEN, X_TOKEN_SECRET),
        )
        .unwrap();
        let camp = root().child(Kind::Campaign, "M");
        let out = c
            .apply(
                &acct,
                &ApplyBatch {
                    ops: vec![op(
                        camp,
                        Kind::Campaign,
                        create(&[
                            ("funding_instrument", Value::str(X_FUNDING_INSTRUMENT_ID)),
                            ("budget.daily", money(5_000_000)),
                        ]),
                        None,
                    )],
                },
            )
            .await
            .unwrap();
        let id = applied(&out).remove(0);
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let sync = c
            .metrics(
                &acct,
                crate::connectors::MetricsLevel::Campaign,
                crate::connectors::DateRange {
                    since: d("2026-05-19"),
                    until: d("2026-05-21"),
                },
            )
            .await
            .unwrap();
        assert!(!sync.is_empty(), "the emulator's synthetic stats give rows");
        assert!(sync.iter().all(|r| r.id == id && r.name == "M"), "{sync:?}");
        let long = c
            .metrics(
                &acct,
                crate::connectors::MetricsLevel::Campaign,
                crate::connectors::DateRange {
                    since: d("2026-04-01"),
                    until: d("2026-04-20"),
                },
            )
            .await
            .unwrap();
        assert!(!long.is_empty(), "the async job gives rows");
        assert!(long.iter().all(|r| r.id == id), "{long:?}");
        assert!(long
            .iter()
            .all(|r| r.date >= d("2026-04-01") && r.date <= d("2026-04-20")));
    }
}
