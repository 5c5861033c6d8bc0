//! Wire tests of the Salesforce connector: end to end against this repository's Salesforce emulator
//! (`adsctl-emulator`, written apart from the same pack) started in-process on 127.0.0.1, and two small stubs on
//! loopback for what the emulator cannot be made to answer (an allOrNone rollback, an instance moved to another
//! host). No test prints an address or a token; the JWT key is the emulator's published test key, written to a
//! temporary file outside the checkout.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adsctl_emulator::platform::defaults::{
    SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET, SALESFORCE_JWT_PRIVATE_KEY_PEM, SALESFORCE_ORG_ID,
    SALESFORCE_REFRESH_TOKEN, SALESFORCE_USERNAME,
};
use adsctl_emulator::{Emulator, EmulatorConfig};
use serde_json::{json, Map, Value as Json};

use super::{SalesforceConfig, SalesforceConnector, SalesforceCredentials};
use crate::connectors::clear::{self, ClearMember};
use crate::connectors::{ApplyBatch, Connector, IdRef, LeaseOutcome, OpAction, OpOutcome, Operation, ReadRequest};
use crate::model::{
    fingerprint_key, value_fingerprint, Account, Address, Currency, Guardrails, Kind, Money, Platform, RemovalPolicy,
    Resource, Value,
};

fn account(name: &str, url: &str) -> Account {
    Account {
        name: name.into(),
        platform: Platform::Salesforce,
        platform_id: SALESFORCE_ORG_ID.into(),
        login_customer_id: None,
        currency: Currency::from_code("USD").unwrap(),
        time_zone: None,
        on_removed: RemovalPolicy::Pause,
        guardrails: Guardrails::default(),
        endpoint: Some(url.into()),
    }
}

fn cfg(url: &str) -> SalesforceConfig {
    SalesforceConfig {
        retry_min_delay: Duration::from_millis(1),
        retry_max_delay: Duration::from_millis(2),
        lease_settle: Duration::from_millis(1),
        ..SalesforceConfig::for_endpoint(url).unwrap()
    }
}

fn refreshable() -> SalesforceCredentials {
    SalesforceCredentials::refreshable(
        SALESFORCE_REFRESH_TOKEN,
        SALESFORCE_CLIENT_ID,
        Some(SALESFORCE_CLIENT_SECRET),
    )
}

fn connector(name: &str, url: &str) -> SalesforceConnector {
    SalesforceConnector::with(&account(name, url), cfg(url), refreshable()).unwrap()
}

async fn emulator(seed: serde_json::Value) -> (adsctl_emulator::EmulatorHandle, String) {
    let mut config = EmulatorConfig::default();
    config.seed.salesforce = serde_json::from_value(seed).unwrap();
    let emu = Emulator::start(config).await.expect("emulator");
    let url = emu.url();
    (emu, url)
}

async fn admin(url: &str, path: &str, body: Json) {
    let r = reqwest::Client::new()
        .post(format!("{url}/_emulator/salesforce/{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "admin {path}: {}", r.status());
}

/// The live records of a type in the emulator's store.
async fn stored(url: &str, sobject: &str) -> Vec<Map<String, Json>> {
    let v: Json = reqwest::get(format!("{url}/_emulator/salesforce/store"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = Vec::new();
    for org in v["orgs"].as_object().unwrap().values() {
        for r in org["records"].as_object().unwrap().values() {
            if r["sobject"] == sobject && r["deleted"] != json!(true) {
                let mut f = r["fields"].as_object().cloned().unwrap_or_default();
                f.insert("Id".into(), r["id"].clone());
                out.push(f);
            }
        }
    }
    out
}

fn op(address: Address, kind: Kind, action: OpAction) -> Operation {
    Operation {
        address,
        kind,
        action,
        parent: None,
        refs: BTreeMap::new(),
    }
}

fn create(fields: &[(&str, Value)]) -> OpAction {
    OpAction::Create {
        fields: fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
    }
}

fn update(id: &str, set: &[(&str, Value)]) -> OpAction {
    OpAction::Update {
        id: id.into(),
        set: set.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        before: BTreeMap::new(),
    }
}

fn units(n: i64) -> Value {
    Value::Money(Money::from_micros(n * 1_000_000))
}

fn applied(out: &[OpOutcome]) -> Vec<String> {
    out.iter()
        .map(|o| match o {
            OpOutcome::Applied { id } => id.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

async fn read(c: &SalesforceConnector, acct: &Account) -> Vec<Resource> {
    c.read(acct, &ReadRequest::default()).await.unwrap().resources
}

fn find<'a>(rs: &'a [Resource], a: &Address) -> &'a Resource {
    rs.iter()
        .find(|r| &r.address == a)
        .unwrap_or_else(|| panic!("{a} not read"))
}

fn h(e: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(e.trim().to_ascii_lowercase()))
}

#[tokio::test]
async fn an_empty_org_reads_nothing_and_limit_info_is_kept() {
    let (_emu, url) = emulator(json!({})).await;
    let acct = account("sf-empty", &url);
    let c = connector("sf-empty", &url);
    assert!(read(&c, &acct).await.is_empty());
    let (used, max) = c.client().api_usage().expect("Sforce-Limit-Info read");
    assert!(used >= 1 && max == 15_000, "{used}/{max}");
    assert!(c.health(&acct).await.unwrap().ok);
    assert!(c
        .metrics(
            &acct,
            crate::connectors::MetricsLevel::Campaign,
            crate::connectors::DateRange {
                since: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
                until: chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            }
        )
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn campaigns_are_upserted_by_key_read_back_updated_renamed_paused_and_deleted() {
    let (_emu, url) = emulator(json!({"campaigns": [{"Name": "Theirs"}]})).await;
    let acct = account("acme-sf", &url);
    let c = connector("acme-sf", &url);
    let root = Address::account("acme-sf");
    let parent = root.child(Kind::Campaign, "Spring");
    let child = root.child(Kind::Campaign, "Spring / Email");
    let mut child_op = op(
        child.clone(),
        Kind::Campaign,
        create(&[
            ("parent", Value::reference(parent.clone())),
            ("type", Value::str("Email")),
        ]),
    );
    child_op.refs.insert(parent.clone(), IdRef::Pending(1));
    // the child first in the batch: the connector still writes the parent first
    let ops = vec![
        child_op,
        op(
            parent.clone(),
            Kind::Campaign,
            create(&[
                ("status", Value::str("active")),
                ("campaign_status", Value::str("In Progress")),
                ("type", Value::str("Advertisement")),
                ("start_date", Value::str("2027-03-01")),
                ("end_date", Value::str("2027-03-31")),
                ("budgeted_cost", units(1500)),
                ("actual_cost", units(20)),
                ("description", Value::str("spring push")),
            ]),
        ),
    ];
    let batch = ApplyBatch { ops };
    let ids = applied(&c.apply(&acct, &batch).await.unwrap());
    // the same upsert again (a killed apply run twice) makes no second record
    let again = applied(&c.apply(&acct, &batch).await.unwrap());
    assert_eq!(ids, again);
    let camps = stored(&url, "Campaign").await;
    assert_eq!(camps.len(), 3, "two of adsctl's and the foreign one");
    let key_of = |id: &str| {
        camps
            .iter()
            .find(|r| r["Id"].as_str().unwrap().eq_ignore_ascii_case(id))
            .unwrap()["Adsctl_Key__c"]
            .clone()
    };
    assert_eq!(key_of(&ids[1]), json!("adsctl:acme-sf/campaign/Spring"));
    assert_eq!(key_of(&ids[0]), json!("adsctl:acme-sf/campaign/Spring %2F Email"));

    let live = read(&c, &acct).await;
    let p = find(&live, &parent);
    assert!(p.owned);
    assert_eq!(p.fields.get("status"), Some(&Value::str("active")));
    assert_eq!(p.fields.get("campaign_status"), Some(&Value::str("In Progress")));
    assert_eq!(p.fields.get("type"), Some(&Value::str("Advertisement")));
    assert_eq!(p.fields.get("start_date"), Some(&Value::str("2027-03-01")));
    assert_eq!(p.fields.get("end_date"), Some(&Value::str("2027-03-31")));
    assert_eq!(p.fields.get("budgeted_cost"), Some(&units(1500)));
    assert_eq!(p.fields.get("actual_cost"), Some(&units(20)));
    assert_eq!(p.fields.get("description"), Some(&Value::str("spring push")));
    let ch = find(&live, &child);
    assert_eq!(ch.fields.get("parent"), Some(&Value::reference(parent.clone())));
    assert_eq!(ch.fields.get("status"), Some(&Value::str("inactive")));
    let theirs = find(&live, &root.child(Kind::Campaign, "Theirs"));
    assert!(!theirs.owned, "a campaign without the key is someone else's");

    // update, rename, pause
    let renamed = root.child(Kind::Campaign, "Summer");
    let ops = vec![
        op(
            renamed.clone(),
            Kind::Campaign,
            update(
                &ids[1],
                &[
                    ("name", Value::str("Summer")),
                    ("campaign_status", Value::str("Completed")),
                    ("end_date", Value::Null),
                    ("budgeted_cost", units(2000)),
                    ("actual_cost", units(1234)),
                ],
            ),
        ),
        op(child.clone(), Kind::Campaign, OpAction::Pause { id: ids[0].clone() }),
    ];
    applied(&c.apply(&acct, &ApplyBatch { ops }).await.unwrap());
    let live = read(&c, &acct).await;
    let s = find(&live, &renamed);
    assert_eq!(
        s.observed.get("key").map(String::as_str),
        Some("adsctl:acme-sf/campaign/Summer")
    );
    assert_eq!(s.fields.get("campaign_status"), Some(&Value::str("Completed")));
    assert_eq!(s.fields.get("end_date"), None);
    assert_eq!(s.fields.get("budgeted_cost"), Some(&units(2000)));
    assert_eq!(s.fields.get("actual_cost"), Some(&units(1234)));
    assert_eq!(
        find(&live, &child).fields.get("parent"),
        Some(&Value::reference(renamed.clone()))
    );
    assert_eq!(find(&live, &child).fields.get("status"), Some(&Value::str("inactive")));
    // a fraction of a unit is refused before sending
    let out = c
        .apply(
            &acct,
            &ApplyBatch {
                ops: vec![op(
                    renamed.clone(),
                    Kind::Campaign,
                    update(
                        &ids[1],
                        &[("budgeted_cost", Value::Money(Money::from_micros(3_000_000)))],
                    ),
                )],
            },
        )
        .await
        .unwrap();
    assert!(matches!(&out[0], OpOutcome::Applied { .. }), "3 units: {out:?}");
    let out = c
        .apply(
            &acct,
            &ApplyBatch {
                ops: vec![op(
                    renamed.clone(),
                    Kind::Campaign,
                    update(
                        &ids[1],
                        &[("budgeted_cost", Value::Money(Money::from_micros(1_500_001)))],
                    ),
                )],
            },
        )
        .await
        .unwrap();
    assert!(matches!(&out[0], OpOutcome::Failed(e) if e.field.as_deref() == Some("budgeted_cost")));

    // delete, twice: the second finds it gone
    let del = ApplyBatch {
        ops: vec![op(
            child.clone(),
            Kind::Campaign,
            OpAction::Remove { id: ids[0].clone() },
        )],
    };
    applied(&c.apply(&acct, &del).await.unwrap());
    applied(&c.apply(&acct, &del).await.unwrap());
    let live = read(&c, &acct).await;
    assert!(live.iter().all(|r| r.address != child));
}

#[tokio::test]
async fn two_hundred_and_five_creates_go_in_two_collections_and_record_errors_stay_with_their_operation() {
    let (_emu, url) = emulator(json!({})).await;
    let acct = account("bulk-sf", &url);
    let c = connector("bulk-sf", &url);
    let root = Address::account("bulk-sf");
    let mut ops: Vec<Operation> = (0..205)
        .map(|i| {
            op(
                root.child(Kind::Campaign, format!("C{i:03}")),
                Kind::Campaign,
                create(&[]),
            )
        })
        .collect();
    // Type holds 40 characters: Salesforce refuses this one record (STRING_TOO_LONG), the others go in
    ops[7] = op(
        root.child(Kind::Campaign, "C007"),
        Kind::Campaign,
        create(&[("type", Value::str("x".repeat(41)))]),
    );
    let before = c.client().requests_sent();
    let out = c.apply(&acct, &ApplyBatch { ops }).await.unwrap();
    assert_eq!(c.client().requests_sent() - before, 2, "205 upserts: 200 + 5");
    for (i, o) in out.iter().enumerate() {
        if i == 7 {
            assert!(
                matches!(o, OpOutcome::Failed(e) if e.code == "STRING_TOO_LONG"),
                "{o:?}"
            );
        } else {
            assert!(matches!(o, OpOutcome::Applied { .. }), "{i}: {o:?}");
        }
    }
    assert_eq!(stored(&url, "Campaign").await.len(), 204);
}

fn file(address: &Address, emails: &[&str]) -> Value {
    let mut book = HashMap::new();
    for e in emails {
        book.insert(
            h(e),
            ClearMember {
                email: e.to_string(),
                ..ClearMember::default()
            },
        );
    }
    clear::file(&address.to_string(), book);
    Value::Set(emails.iter().map(|e| Value::Str(h(e))).collect())
}

#[tokio::test]
async fn audience_members_are_contacts_then_leads_with_the_fingerprint_in_the_description() {
    let (_emu, url) = emulator(json!({
        "contacts": [{"LastName": "One", "Email": "one@example.com"},
                     {"LastName": "Two", "Email": "Two@Example.com"},
                     {"LastName": "Three", "Email": "three@example.com"}],
        "leads": [{"LastName": "Lee", "Company": "Acme", "Email": "lead@example.com"},
                  {"LastName": "Dup", "Company": "Acme", "Email": "one@example.com"}]
    }))
    .await;
    let acct = account("aud-sf", &url);
    let c = connector("aud-sf", &url);
    let aud = Address::account("aud-sf").child(Kind::Audience, "VIPs");
    let members = file(
        &aud,
        &[
            "one@example.com",
            "two@example.com",
            "lead@example.com",
            "nobody@example.com",
        ],
    );
    let ops = vec![op(
        aud.clone(),
        Kind::Audience,
        create(&[
            ("description", Value::str("best buyers")),
            ("member_status", Value::str("responded")),
            ("members", members.clone()),
        ]),
    )];
    let ids = applied(&c.apply(&acct, &ApplyBatch { ops }).await.unwrap());
    let cms: Vec<_> = stored(&url, "CampaignMember").await;
    assert_eq!(
        cms.len(),
        3,
        "two contacts and a lead; the unknown address is not created"
    );
    assert_eq!(cms.iter().filter(|m| m["ContactId"].is_string()).count(), 2);
    assert!(cms.iter().all(|m| m["Status"] == json!("Responded")));
    assert_eq!(stored(&url, "Lead").await.len(), 2, "no lead is ever made");

    let live = read(&c, &acct).await;
    let a = find(&live, &aud);
    assert!(a.owned);
    assert_eq!(a.kind, Kind::Audience);
    assert_eq!(a.fields.get("description"), Some(&Value::str("best buyers")));
    assert_eq!(
        a.fields.get("member_status"),
        None,
        "not a field: the members' status is the file's"
    );
    assert_eq!(
        a.observed.get(fingerprint_key("members").as_str()),
        Some(&value_fingerprint(&members))
    );
    assert!(a.fields.get("members").is_none(), "members are write-only");

    // members leave: only the lead stays
    let fewer = file(&aud, &["lead@example.com"]);
    let ops = vec![op(
        aud.clone(),
        Kind::Audience,
        update(&ids[0], &[("members", fewer.clone())]),
    )];
    applied(&c.apply(&acct, &ApplyBatch { ops }).await.unwrap());
    let cms = stored(&url, "CampaignMember").await;
    assert_eq!(cms.len(), 1);
    assert!(cms[0]["LeadId"].is_string());
    let live = read(&c, &acct).await;
    let a = find(&live, &aud);
    assert_eq!(a.observed.get("fingerprint.members"), Some(&value_fingerprint(&fewer)));
    assert_eq!(a.fields.get("description"), Some(&Value::str("best buyers")));

    // the source of another platform's audience: its members' e-mails
    let emails = c.source_emails(&acct, Some("VIPs")).await.unwrap();
    assert_eq!(emails.len(), 1);
    assert!(c.source_emails(&acct, None).await.is_err());
    assert!(c.source_emails(&acct, Some("No such")).await.is_err());
}

#[tokio::test]
async fn an_unknown_member_status_is_refused_before_any_member_is_written() {
    let (_emu, url) = emulator(json!({"contacts": [{"LastName": "One", "Email": "solo@example.com"}]})).await;
    let acct = account("st-sf", &url);
    let c = connector("st-sf", &url);
    let aud = Address::account("st-sf").child(Kind::Audience, "Statusless");
    let members = file(&aud, &["solo@example.com"]);
    let ops = vec![op(
        aud.clone(),
        Kind::Audience,
        create(&[("member_status", Value::str("Attended")), ("members", members)]),
    )];
    let out = c.apply(&acct, &ApplyBatch { ops }).await.unwrap();
    match &out[0] {
        OpOutcome::Failed(e) => {
            assert_eq!(e.code, "unknown_member_status");
            assert!(
                e.message.contains("Sent") && e.message.contains("Responded"),
                "{}",
                e.message
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(stored(&url, "CampaignMember").await.is_empty());
    // a hash whose address was never filed fails before anything is sent
    let other = Address::account("st-sf").child(Kind::Audience, "Unfiled");
    let ops = vec![op(
        other,
        Kind::Audience,
        create(&[("members", Value::Set([Value::Str(h("ghost@example.com"))].into()))]),
    )];
    let before = c.client().requests_sent();
    let out = c.apply(&acct, &ApplyBatch { ops }).await.unwrap();
    assert!(
        matches!(&out[0], OpOutcome::Failed(e) if e.code == "member_not_filed"),
        "{out:?}"
    );
    assert_eq!(c.client().requests_sent(), before);
}

#[tokio::test]
async fn an_expired_session_is_renewed_and_the_call_sent_again() {
    let (_emu, url) = emulator(json!({})).await;
    let acct = account("sess-sf", &url);
    let c = connector("sess-sf", &url);
    assert!(read(&c, &acct).await.is_empty());
    admin(&url, "clock", json!({"advance_secs": 7300})).await;
    assert!(
        read(&c, &acct).await.is_empty(),
        "401 INVALID_SESSION_ID → refresh → retry"
    );
    // an access token alone cannot be renewed: an auth error with a hint
    let c2 = SalesforceConnector::with(
        &acct,
        cfg(&url),
        SalesforceCredentials::token("00Dstale-token-000", &url),
    )
    .unwrap();
    let e = c2.read(&acct, &ReadRequest::default()).await.unwrap_err();
    assert!(matches!(e, crate::connectors::ConnectorError::Auth { .. }), "{e}");
    assert!(!e.to_string().contains("00Dstale-token-000"));
}

#[tokio::test]
async fn the_jwt_bearer_flow_signs_with_the_published_test_key() {
    let (_emu, url) = emulator(json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("sf-test-key.pem");
    std::fs::write(&key, SALESFORCE_JWT_PRIVATE_KEY_PEM).unwrap();
    let acct = account("jwt-sf", &url);
    let creds = SalesforceCredentials::jwt(SALESFORCE_USERNAME, key.to_str().unwrap(), SALESFORCE_CLIENT_ID);
    let c = SalesforceConnector::with(&acct, cfg(&url), creds).unwrap();
    assert!(read(&c, &acct).await.is_empty());
    // an unknown user is refused by the token endpoint: an auth error
    let creds = SalesforceCredentials::jwt(
        "nobody@adsctl-emulator.example",
        key.to_str().unwrap(),
        SALESFORCE_CLIENT_ID,
    );
    let c = SalesforceConnector::with(&account("jwt-sf2", &url), cfg(&url), creds).unwrap();
    assert!(c.read(&acct, &ReadRequest::default()).await.is_err());
}

#[tokio::test]
async fn past_ninety_percent_of_the_allocation_the_connector_stops() {
    let (_emu, url) = emulator(json!({"daily_api_limit": 10})).await;
    let acct = account("lim-sf", &url);
    let c = connector("lim-sf", &url);
    let mut stopped = None;
    for _ in 0..12 {
        if let Err(e) = c.read(&acct, &ReadRequest::default()).await {
            stopped = Some(e);
            break;
        }
    }
    let e = stopped.expect("stopped before the allocation ran out");
    assert!(matches!(e, crate::connectors::ConnectorError::Quota { .. }), "{e}");
    let (used, max) = c.client().api_usage().unwrap();
    assert_eq!(max, 10);
    assert!((9..=10).contains(&used), "{used}");
}

#[tokio::test]
async fn the_describe_check_names_the_missing_key_field() {
    let (_emu, url) = emulator(json!({"adsctl_key_field": false})).await;
    let acct = account("desc-sf", &url);
    let c = connector("desc-sf", &url);
    let h = c.health(&acct).await.unwrap();
    assert!(!h.ok);
    assert!(
        h.detail.contains("Adsctl_Key__c") && h.detail.contains("External ID"),
        "{}",
        h.detail
    );
}

#[tokio::test]
async fn leases_are_acquired_held_renewed_and_released() {
    let (_emu, url) = emulator(json!({})).await;
    let acct = account("lease-sf", &url);
    let c = connector("lease-sf", &url);
    let until = chrono::Utc::now() + chrono::Duration::minutes(10);
    let l = match c.acquire_lease(&acct, "runner-1", until, None).await.unwrap() {
        LeaseOutcome::Acquired(l) => l,
        other => panic!("{other:?}"),
    };
    match c.acquire_lease(&acct, "runner-2", until, None).await.unwrap() {
        LeaseOutcome::Held { holder, .. } => assert_eq!(holder, "runner-1"),
        other => panic!("{other:?}"),
    }
    c.renew_lease(&acct, &l, until + chrono::Duration::minutes(5))
        .await
        .unwrap();
    assert!(read(&c, &acct).await.is_empty(), "reads leave lease campaigns out");
    c.release_lease(&acct, &l).await.unwrap();
    assert!(stored(&url, "Campaign").await.is_empty());
    match c.acquire_lease(&acct, "runner-2", until, None).await.unwrap() {
        LeaseOutcome::Acquired(l2) => c.release_lease(&acct, &l2).await.unwrap(),
        other => panic!("{other:?}"),
    }
    // a killed holder's lease is taken over
    let l3 = match c.acquire_lease(&acct, "runner-3", until, None).await.unwrap() {
        LeaseOutcome::Acquired(l) => l,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        c.acquire_lease(&acct, "runner-4", until, Some("runner-3"))
            .await
            .unwrap(),
        LeaseOutcome::Acquired(_)
    ));
    let _ = l3;
}

// ------------------------------------------------------------------------------------------------ stubs

type Seen = Arc<Mutex<Vec<String>>>;
type Handler = Arc<dyn Fn(&str, &str, &str, &str) -> (u16, String) + Send + Sync>;

/// A stub on 127.0.0.1: `handler(method, path, authorization, body)`; every request recorded as `METHOD path`.
async fn stub(handler: Handler) -> (String, Seen) {
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (log, handler) = (log.clone(), handler.clone());
        async move {
            let method = req.method().to_string();
            let path = req.uri().path().to_string();
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|h| h.to_str().ok())
                .unwrap_or("")
                .to_string();
            let body = axum::body::to_bytes(req.into_body(), 1 << 24).await.unwrap_or_default();
            log.lock().unwrap().push(format!("{method} {path}"));
            let (status, text) = handler(&method, &path, &auth, &String::from_utf8_lossy(&body));
            let mut resp = axum::response::Response::new(axum::body::Body::from(text));
            *resp.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
            resp.headers_mut()
                .insert("sforce-limit-info", "api-usage=3/15000".parse().unwrap());
            resp
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[tokio::test]
async fn a_rolled_back_record_is_sent_again_and_a_failed_one_keeps_its_error() {
    let rounds = Arc::new(Mutex::new(0));
    let r2 = rounds.clone();
    let (url, seen) = stub(Arc::new(move |_m, _p, _a, body| {
        let mut n = r2.lock().unwrap();
        *n += 1;
        let recs: Json = serde_json::from_str(body).unwrap();
        let count = recs["records"].as_array().unwrap().len();
        if *n == 1 {
            assert_eq!(count, 2);
            (200, json!([
                {"id": "7015g0000000001AAA", "success": false, "errors": [{"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                  "message": "Record rolled back because not all records were valid and the request was using AllOrNone header", "fields": []}]},
                {"success": false, "errors": [{"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "no", "fields": ["Type"]}]}
            ]).to_string())
        } else {
            assert_eq!(count, 1, "only the rolled-back record again");
            (200, json!([{"id": "7015g0000000001AAA", "success": true, "errors": [], "created": true}]).to_string())
        }
    }))
    .await;
    let acct = account("stub-sf", &url);
    let c = SalesforceConnector::with(
        &acct,
        cfg(&url),
        SalesforceCredentials::token("stub-token-123456", &url),
    )
    .unwrap();
    let root = Address::account("stub-sf");
    let ops = vec![
        op(root.child(Kind::Campaign, "A"), Kind::Campaign, create(&[])),
        op(root.child(Kind::Campaign, "B"), Kind::Campaign, create(&[])),
    ];
    let out = c.apply(&acct, &ApplyBatch { ops }).await.unwrap();
    assert_eq!(
        out[0],
        OpOutcome::Applied {
            id: "7015g0000000001AAA".into()
        }
    );
    assert!(
        matches!(&out[1], OpOutcome::Failed(e) if e.code == "FIELD_CUSTOM_VALIDATION_EXCEPTION" && e.field.as_deref() == Some("Type"))
    );
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .all(|s| s == "PATCH /services/data/v68.0/composite/sobjects/Campaign/Adsctl_Key__c"),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_401_renews_the_session_and_retries_on_the_new_instance() {
    // the new instance: answers only the fresh token
    let (new_url, new_seen) = stub(Arc::new(|_m, path, auth, _b| {
        if auth == "Bearer fresh-token-after-refresh" && path.ends_with("/query") {
            (200, json!({"totalSize": 0, "done": true, "records": []}).to_string())
        } else {
            (
                401,
                json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]).to_string(),
            )
        }
    }))
    .await;
    let target = new_url.clone();
    let (old_url, old_seen) = stub(Arc::new(move |_m, path, _a, body| {
        if path == "/services/oauth2/token" {
            assert!(body.contains("grant_type=refresh_token"));
            (
                200,
                json!({"access_token": "fresh-token-after-refresh", "instance_url": target,
                "id": "x", "token_type": "Bearer", "issued_at": "1"})
                .to_string(),
            )
        } else {
            (
                401,
                json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]).to_string(),
            )
        }
    }))
    .await;
    let acct = account("move-sf", &old_url);
    let creds = SalesforceCredentials {
        access_token: Some(crate::secret::Secret::new("old-token-before-move")),
        instance_url: Some(old_url.clone()),
        ..refreshable()
    };
    let c = SalesforceConnector::with(&acct, cfg(&old_url), creds).unwrap();
    assert!(read(&c, &acct).await.is_empty());
    assert_eq!(c.client().instance_url().as_deref(), Some(new_url.as_str()));
    assert_eq!(
        *old_seen.lock().unwrap(),
        vec!["GET /services/data/v68.0/query", "POST /services/oauth2/token"]
    );
    assert_eq!(*new_seen.lock().unwrap(), vec!["GET /services/data/v68.0/query"]);
}

#[test]
fn org_ids_take_their_18_character_form_and_capabilities_follow_the_contract() {
    assert_eq!(super::org_id("00D5g00000EMu01"), SALESFORCE_ORG_ID);
    assert_eq!(super::org_id(SALESFORCE_ORG_ID), SALESFORCE_ORG_ID);
    let caps = super::capabilities();
    assert_eq!(caps.paused_status, "inactive");
    assert!(caps.settled_statuses.is_empty());
    assert!(caps.marked(Kind::Campaign) && caps.marked(Kind::Audience));
    assert!(caps.renamable(Kind::Campaign) && caps.renamable(Kind::Audience));
    assert_eq!(caps.write_only_fields.get(&Kind::Audience), Some(&vec!["members"]));
    assert!(caps.immutable_fields.is_empty());
    let url = "http://127.0.0.1:9";
    let mut a = account("x", url);
    a.platform_id = "001notanorg".into();
    assert!(SalesforceConnector::with(&a, cfg(url), refreshable()).is_err());
}

/// `auth login` end to end: the authorize URL (PKCE S256) the emulator approves at once, the code exchanged for a
/// refresh token and an instance, then `auth validate` (describe) and `auth refresh` with what was stored.
#[tokio::test]
async fn the_web_server_flow_with_pkce_then_validate_and_refresh() {
    use crate::auth::platform::{LoginRequest, PlatformAuth};
    let (_emu, url) = emulator(json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    let env_url = url.clone();
    let auth = crate::auth::Auth::with_env(
        dir.path(),
        Arc::new(move |k: &str| match k {
            "ADSCTL_SALESFORCE_CLIENT_ID" => Some(SALESFORCE_CLIENT_ID.to_string()),
            "ADSCTL_SALESFORCE_CLIENT_SECRET" => Some(SALESFORCE_CLIENT_SECRET.to_string()),
            "ADSCTL_SALESFORCE_LOGIN_URL" => Some(env_url.clone()),
            "ADSCTL_STATE_DIR" => None,
            _ => None,
        }),
    );
    let acct = account("web-sf", &url);
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let redirect = "http://127.0.0.1:8765/callback".to_string();
    let u = super::SalesforceAuth
        .authorize_url(
            &auth,
            &acct,
            None,
            LoginRequest {
                redirect: redirect.clone(),
                state: crate::secret::Secret::new("state-1234567890"),
                challenge,
            },
        )
        .unwrap();
    assert!(u.as_str().starts_with(&format!("{url}/services/oauth2/authorize?")));
    assert!(u
        .query_pairs()
        .any(|(k, v)| k == "code_challenge_method" && v == "S256"));
    assert!(u.query_pairs().any(|(k, v)| k == "scope" && v == "api refresh_token"));
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(u.as_str())
        .send()
        .await
        .unwrap();
    let loc = resp.headers().get("location").unwrap().to_str().unwrap().to_string();
    let back = url::Url::parse(&loc).unwrap();
    assert!(back.query_pairs().any(|(k, v)| k == "state" && v == "state-1234567890"));
    let code = back.query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
    let kind = super::SalesforceAuth
        .exchange(
            &auth,
            &acct,
            None,
            crate::secret::Secret::new(code),
            verifier,
            &redirect,
        )
        .await
        .unwrap();
    let c = kind.get::<SalesforceCredentials>().unwrap().clone();
    assert!(c.refresh_token.is_some() && c.access_token.is_some());
    assert_eq!(c.instance_url.as_deref(), Some(url.as_str()));
    let mut v = crate::auth::Validation::default();
    super::SalesforceAuth
        .validate(&auth, &acct, &kind, &mut v)
        .await
        .unwrap();
    let mut kind2 = kind.clone();
    assert!(super::SalesforceAuth.refresh(&auth, &acct, &mut kind2).await.unwrap());
    assert_ne!(
        kind2.get::<SalesforceCredentials>().unwrap().access_token,
        c.access_token,
        "a new session"
    );
    // the connector works with what was stored
    let conn = SalesforceConnector::with(&acct, cfg(&url), c).unwrap();
    assert!(read(&conn, &acct).await.is_empty());
}

/// `auth validate` of an org without the key field fails with the steps to create it.
#[tokio::test]
async fn auth_validate_says_how_to_create_the_key_field() {
    use crate::auth::platform::{CredentialKind, PlatformAuth};
    let (_emu, url) = emulator(json!({"adsctl_key_field": false})).await;
    let dir = tempfile::tempdir().unwrap();
    let auth = crate::auth::Auth::with_env(dir.path(), Arc::new(|_: &str| None));
    let acct = account("val-sf", &url);
    let mut creds = refreshable();
    creds.login_url = Some(url.clone());
    let kind = CredentialKind::new(creds);
    let mut v = crate::auth::Validation::default();
    let e = super::SalesforceAuth
        .validate(&auth, &acct, &kind, &mut v)
        .await
        .unwrap_err();
    let text = format!("{e} {}", e.hint());
    assert!(
        text.contains("Object Manager") && text.contains("Adsctl_Key__c"),
        "{text}"
    );
    assert!(!text.contains(SALESFORCE_REFRESH_TOKEN));
}

#[tokio::test]
async fn an_audience_is_renamed_with_its_key_and_keeps_its_description_and_fingerprint() {
    let (_emu, url) = emulator(json!({})).await;
    let acct = account("ren-sf", &url);
    let c = connector("ren-sf", &url);
    let old = Address::account("ren-sf").child(Kind::Audience, "Old list");
    let members = file(&old, &[]);
    let ops = vec![op(
        old.clone(),
        Kind::Audience,
        create(&[("description", Value::str("kept")), ("members", members.clone())]),
    )];
    let ids = applied(&c.apply(&acct, &ApplyBatch { ops }).await.unwrap());
    read(&c, &acct).await;
    let new = Address::account("ren-sf").child(Kind::Audience, "New list");
    let ops = vec![op(
        new.clone(),
        Kind::Audience,
        update(&ids[0], &[("name", Value::str("New list"))]),
    )];
    applied(&c.apply(&acct, &ApplyBatch { ops }).await.unwrap());
    let live = read(&c, &acct).await;
    let a = find(&live, &new);
    assert_eq!(
        a.observed.get("key").map(String::as_str),
        Some("adsctl:ren-sf/audience/New list")
    );
    assert_eq!(a.fields.get("description"), Some(&Value::str("kept")));
    assert_eq!(
        a.observed.get("fingerprint.members"),
        Some(&value_fingerprint(&members))
    );
    assert!(live.iter().all(|r| r.address != old));
}
