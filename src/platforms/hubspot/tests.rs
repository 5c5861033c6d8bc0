//! Wire tests of the HubSpot connector against the HubSpot emulator of this repository (`adsctl-emulator`, written
//! by someone else from the same pack), started in-process on 127.0.0.1. Member addresses are made up
//! (`example.com`), kept in memory and never printed (assertions compare without showing them).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::time::Duration;

use adsctl_emulator::platform::defaults::{
    HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET, HUBSPOT_PORTAL_ID, HUBSPOT_PRIVATE_APP_TOKEN, HUBSPOT_REFRESH_TOKEN,
};
use adsctl_emulator::{Emulator, EmulatorConfig};
use serde_json::{json, Value as Json};

use super::client::{Api, Query};
use super::mapping::member_hash;
use super::{HubSpotConfig, HubSpotConnector, HubSpotCredentials};
use crate::connectors::clear::{self, ClearMember};
use crate::connectors::{
    ApplyBatch, Connector, ConnectorError, DateRange, LeaseOutcome, MetricsLevel, OpAction, OpOutcome, Operation,
    ReadRequest,
};
use crate::model::{Account, Address, Currency, Guardrails, Kind, Money, Platform, RemovalPolicy, Resource, Value};

fn account(url: &str, name: &str) -> Account {
    Account {
        name: name.into(),
        platform: Platform::Hubspot,
        platform_id: HUBSPOT_PORTAL_ID.into(),
        login_customer_id: None,
        currency: Currency::from_code("USD").unwrap(),
        time_zone: None,
        on_removed: RemovalPolicy::Pause,
        guardrails: Guardrails::default(),
        endpoint: Some(url.into()),
    }
}

fn cfg(url: &str) -> HubSpotConfig {
    HubSpotConfig {
        retry_min_delay: Duration::from_millis(1),
        retry_max_delay: Duration::from_millis(2),
        ten_secondly_wait: Duration::from_millis(20),
        secondly_wait: Duration::from_millis(5),
        lookup_delay: Duration::from_millis(20),
        lease_settle: Duration::from_millis(1),
        ..HubSpotConfig::for_endpoint(url).unwrap()
    }
}

/// A fresh emulator and a connector with the well-known private-app token. Each test names its own account, so
/// the per-account cache is not shared between tests.
async fn setup(name: &str) -> (adsctl_emulator::EmulatorHandle, Account, HubSpotConnector) {
    let emu = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    let url = emu.url();
    let acct = account(&url, name);
    let c = HubSpotConnector::with(&acct, cfg(&url), HubSpotCredentials::token(HUBSPOT_PRIVATE_APP_TOKEN)).unwrap();
    (emu, acct, c)
}

async fn admin(url: &str, path: &str, body: Json) -> Json {
    reqwest::Client::new()
        .post(format!("{url}/_emulator/{path}"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or(Json::Null)
}

async fn admin_get(url: &str, path: &str) -> Json {
    reqwest::get(format!("{url}/_emulator/hubspot/{path}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn root(a: &Account) -> Address {
    Address::account(a.name.clone())
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

fn fields(f: &[(&str, Value)]) -> BTreeMap<String, Value> {
    f.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn update(id: &str, set: &[(&str, Value)], before: &[(&str, Value)]) -> OpAction {
    OpAction::Update {
        id: id.into(),
        set: fields(set),
        before: fields(before),
    }
}

fn usd(units: &str) -> Value {
    Value::Money(Money::parse(units, Currency::from_code("USD").unwrap()).unwrap())
}

fn item(name: &str, units: &str) -> Value {
    let mut m = crate::model::SmallMap::new();
    m.insert("name", Value::str(name));
    m.insert("amount", usd(units));
    Value::Map(m)
}

fn applied(out: &[OpOutcome]) -> Vec<String> {
    out.iter()
        .map(|o| match o {
            OpOutcome::Applied { id } => id.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

async fn read(c: &HubSpotConnector, a: &Account) -> Vec<Resource> {
    c.read(a, &ReadRequest::default()).await.unwrap().resources
}

fn find<'a>(rs: &'a [Resource], kind: Kind, name: &str) -> Option<&'a Resource> {
    rs.iter().find(|r| r.kind == kind && r.address.name() == Some(name))
}

fn email(i: u32) -> String {
    format!("member{i}@example.com")
}

fn hashes(r: std::ops::Range<u32>) -> Value {
    Value::Set(r.map(|i| Value::str(member_hash(&email(i)))).collect())
}

/// Files members `r` for the audience at `address`, as the spec loader does.
fn file(address: &Address, r: std::ops::Range<u32>) {
    let m: HashMap<String, ClearMember> = r
        .map(|i| {
            (
                member_hash(&email(i)),
                ClearMember {
                    email: email(i),
                    status: None,
                    fields: BTreeMap::new(),
                },
            )
        })
        .collect();
    clear::file(&address.to_string(), m);
}

#[tokio::test]
async fn an_empty_portal_reads_empty_and_is_healthy() {
    let (_emu, a, c) = setup("hs-empty").await;
    assert!(c.health(&a).await.unwrap().ok);
    let rs = read(&c, &a).await;
    assert!(rs.iter().all(|r| !r.owned), "{rs:?}");
    assert!(rs.iter().all(|r| r.kind != Kind::Campaign), "{rs:?}");
}

#[tokio::test]
async fn a_campaign_is_created_updated_renamed_paused_and_deleted() {
    let (emu, a, c) = setup("hs-camp").await;
    let url = emu.url();
    let addr = root(&a).child(Kind::Campaign, "Spring launch");
    let create = fields(&[
        ("start_date", Value::str("2026-03-01")),
        ("end_date", Value::str("2026-03-31")),
        ("notes", Value::str("Mirrors the Google campaign")),
        ("color", Value::str("#ff8800")),
        ("audience", Value::str("SMB owners")),
        (
            "budget_items",
            Value::List(vec![item("Search", "100"), item("Social", "50.55")]),
        ),
        ("spend", usd("12.34")),
    ]);
    let out = c
        .apply(
            &a,
            &ApplyBatch {
                ops: vec![op(
                    addr.clone(),
                    Kind::Campaign,
                    OpAction::Create { fields: create.clone() },
                )],
            },
        )
        .await
        .unwrap();
    let id = applied(&out).remove(0);
    // on the wire: the marker ends hs_notes, the colour is upper case
    let stored = admin_get(&url, &format!("objects/{id}")).await;
    let text = stored.to_string();
    assert!(text.contains("Mirrors the Google campaign [adsctl-managed]"), "{text}");
    assert!(text.contains("#FF8800"), "{text}");

    let rs = read(&c, &a).await;
    let r = find(&rs, Kind::Campaign, "Spring launch").expect("read back");
    assert!(r.owned);
    assert_eq!(r.id.as_deref(), Some(id.as_str()));
    for (k, v) in &create {
        let want = if k == "color" { Value::str("#FF8800") } else { v.clone() };
        assert_eq!(r.fields.get(k), Some(&want), "{k}");
    }

    // dates, a budget item changed and one removed, spend changed
    let set = [
        ("start_date", Value::str("2026-04-01")),
        ("end_date", Value::str("")),
        ("budget_items", Value::List(vec![item("Search", "120.5")])),
        ("spend", usd("20")),
    ];
    let out = c
        .apply(
            &a,
            &ApplyBatch {
                ops: vec![op(addr.clone(), Kind::Campaign, update(&id, &set, &[]))],
            },
        )
        .await
        .unwrap();
    applied(&out);
    let rs = read(&c, &a).await;
    let r = find(&rs, Kind::Campaign, "Spring launch").unwrap();
    for (k, v) in &set {
        assert_eq!(r.fields.get(k), Some(v), "{k}");
    }
    assert_eq!(r.fields.get("notes"), Some(&Value::str("Mirrors the Google campaign")));

    // rename
    let renamed = root(&a).child(Kind::Campaign, "Spring launch 2");
    applied(
        &c.apply(
            &a,
            &ApplyBatch {
                ops: vec![op(
                    renamed.clone(),
                    Kind::Campaign,
                    update(
                        &id,
                        &[("name", Value::str("Spring launch 2"))],
                        &[("name", Value::str("Spring launch"))],
                    ),
                )],
            },
        )
        .await
        .unwrap(),
    );
    // pause
    applied(
        &c.apply(
            &a,
            &ApplyBatch {
                ops: vec![op(renamed.clone(), Kind::Campaign, OpAction::Pause { id: id.clone() })],
            },
        )
        .await
        .unwrap(),
    );
    let rs = read(&c, &a).await;
    assert!(find(&rs, Kind::Campaign, "Spring launch").is_none());
    let r = find(&rs, Kind::Campaign, "Spring launch 2").unwrap();
    assert_eq!(r.fields.get("status"), Some(&Value::str("paused")));
    assert!(r.owned);

    // delete, then again (already gone is success)
    for _ in 0..2 {
        applied(
            &c.apply(
                &a,
                &ApplyBatch {
                    ops: vec![op(renamed.clone(), Kind::Campaign, OpAction::Remove { id: id.clone() })],
                },
            )
            .await
            .unwrap(),
        );
    }
    assert!(read(&c, &a).await.iter().all(|r| r.kind != Kind::Campaign));
}

#[tokio::test]
async fn a_foreign_campaign_is_read_as_not_owned_and_adopted_on_request() {
    let (emu, a, c) = setup("hs-foreign").await;
    let url = emu.url();
    let made = admin(
        &url,
        "hubspot/objects",
        json!({"kind": "campaign", "properties": {"hs_name": "Theirs", "hs_notes": "by hand"}}),
    )
    .await;
    let id = made["id"].as_str().unwrap().to_string();
    let rs = read(&c, &a).await;
    let r = find(&rs, Kind::Campaign, "Theirs").unwrap();
    assert!(!r.owned);
    assert!(r.fields.get("budget_items").is_none());
    assert_eq!(r.fields.get("notes"), Some(&Value::str("by hand")));
    applied(
        &c.apply(
            &a,
            &ApplyBatch {
                ops: vec![op(
                    root(&a).child(Kind::Campaign, "Theirs"),
                    Kind::Campaign,
                    OpAction::Adopt { id: id.clone() },
                )],
            },
        )
        .await
        .unwrap(),
    );
    let rs = read(&c, &a).await;
    let r = find(&rs, Kind::Campaign, "Theirs").unwrap();
    assert!(r.owned);
    assert_eq!(r.fields.get("notes"), Some(&Value::str("by hand")));
}

#[tokio::test]
async fn an_audience_gets_members_loses_some_is_renamed_and_deleted() {
    let (emu, a, c) = setup("hs-aud").await;
    let url = emu.url();
    let addr = root(&a).child(Kind::Audience, "VIPs");
    file(&addr, 0..4);
    let out = c
        .apply(
            &a,
            &ApplyBatch {
                ops: vec![op(
                    addr.clone(),
                    Kind::Audience,
                    OpAction::Create {
                        fields: fields(&[("members", hashes(0..3))]),
                    },
                )],
            },
        )
        .await
        .unwrap();
    let id = applied(&out).remove(0);
    let held = admin_get(&url, &format!("lists/{id}/members")).await;
    assert_eq!(held["count"], 3);
    let rs = read(&c, &a).await;
    let r = find(&rs, Kind::Audience, "VIPs").expect("read back");
    assert!(r.owned);
    assert!(r.fields.get("members") == Some(&hashes(0..3)));

    // member 0 leaves, member 3 joins
    let out = c
        .apply(
            &a,
            &ApplyBatch {
                ops: vec![op(
                    addr.clone(),
                    Kind::Audience,
                    update(&id, &[("members", hashes(1..4))], &[("members", hashes(0..3))]),
                )],
            },
        )
        .await
        .unwrap();
    applied(&out);
    let rs = read(&c, &a).await;
    assert!(find(&rs, Kind::Audience, "VIPs").unwrap().fields.get("members") == Some(&hashes(1..4)));

    // the source of another platform's audience: the members' addresses
    let mut got = c.source_emails(&a, Some("VIPs")).await.unwrap();
    got.sort();
    let want: Vec<String> = (1..4).map(email).collect();
    assert!(got == want, "the list's addresses differ ({} read)", got.len());
    assert!(c.source_emails(&a, None).await.is_err());

    // a member with no address filed fails the operation, and nothing is sent
    let stray = Value::Set(BTreeSet::from([Value::str(member_hash("nobody@example.com"))]));
    let before = c.client().sent.load(Ordering::Relaxed);
    let out = c
        .apply(
            &a,
            &ApplyBatch {
                ops: vec![op(
                    addr.clone(),
                    Kind::Audience,
                    update(&id, &[("members", stray)], &[]),
                )],
            },
        )
        .await
        .unwrap();
    match &out[0] {
        OpOutcome::Failed(e) => {
            assert_eq!(e.code, "NO_ADDRESS");
            assert!(!e.message.contains('@'));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.client().sent.load(Ordering::Relaxed), before);

    // rename
    let renamed = root(&a).child(Kind::Audience, "VIP customers");
    applied(
        &c.apply(
            &a,
            &ApplyBatch {
                ops: vec![op(
                    renamed.clone(),
                    Kind::Audience,
                    update(
                        &id,
                        &[("name", Value::str("VIP customers"))],
                        &[("name", Value::str("VIPs"))],
                    ),
                )],
            },
        )
        .await
        .unwrap(),
    );
    let rs = read(&c, &a).await;
    assert!(find(&rs, Kind::Audience, "VIPs").is_none());
    assert!(find(&rs, Kind::Audience, "VIP customers").unwrap().owned);
    // pause leaves it; delete removes it
    applied(
        &c.apply(
            &a,
            &ApplyBatch {
                ops: vec![
                    op(renamed.clone(), Kind::Audience, OpAction::Pause { id: id.clone() }),
                    op(renamed.clone(), Kind::Audience, OpAction::Remove { id: id.clone() }),
                ],
            },
        )
        .await
        .unwrap(),
    );
    assert!(find(&read(&c, &a).await, Kind::Audience, "VIP customers").is_none());
    clear::file(&addr.to_string(), HashMap::new());
}

/// 60 creates go out as two batch calls (≤ 50 each); the emulator answers in another order than the inputs, and
/// every outcome still carries its own campaign's id.
#[tokio::test]
async fn batches_are_split_and_their_results_matched_by_name_and_id() {
    let (_emu, a, c) = setup("hs-batch").await;
    let names: Vec<String> = (0..60).map(|i| format!("Campaign {i:02}")).collect();
    let ops: Vec<Operation> = names
        .iter()
        .map(|n| {
            op(
                root(&a).child(Kind::Campaign, n.clone()),
                Kind::Campaign,
                OpAction::Create {
                    fields: fields(&[("notes", Value::str(format!("note of {n}")))]),
                },
            )
        })
        .collect();
    let before = c.client().sent.load(Ordering::Relaxed);
    let ids = applied(&c.apply(&a, &ApplyBatch { ops }).await.unwrap());
    assert_eq!(c.client().sent.load(Ordering::Relaxed) - before, 2, "two batch calls");
    let rs = read(&c, &a).await;
    for (n, id) in names.iter().zip(&ids) {
        let r = find(&rs, Kind::Campaign, n).unwrap();
        assert_eq!(r.id.as_ref(), Some(id), "{n}");
        assert_eq!(r.fields.get("notes"), Some(&Value::str(format!("note of {n}"))));
    }
    // updates: 60 again, matched by id
    let ops: Vec<Operation> = names
        .iter()
        .zip(&ids)
        .map(|(n, id)| {
            op(
                root(&a).child(Kind::Campaign, n.clone()),
                Kind::Campaign,
                update(id, &[("audience", Value::str(format!("aud {n}")))], &[]),
            )
        })
        .collect();
    let before = c.client().sent.load(Ordering::Relaxed);
    assert_eq!(applied(&c.apply(&a, &ApplyBatch { ops }).await.unwrap()), ids);
    assert_eq!(c.client().sent.load(Ordering::Relaxed) - before, 2);
    let rs = read(&c, &a).await;
    for n in &names {
        assert_eq!(
            find(&rs, Kind::Campaign, n).unwrap().fields.get("audience"),
            Some(&Value::str(format!("aud {n}")))
        );
    }
}

/// A 429 TEN_SECONDLY_ROLLING waits and is sent again; a 429 DAILY stops at once with a hint.
#[tokio::test]
async fn ten_secondly_429s_are_retried_and_daily_ones_are_not() {
    let (emu, a, c) = setup("hs-429").await;
    let url = emu.url();
    admin(&url, "hubspot/config", json!({"ten_secondly": 1})).await;
    let q = Query::new().set("limit", "1");
    c.client().get(Api::Campaigns, "", &q).await.unwrap();
    // the window frees up while the connector waits (the emulator's window is wall-clock time: raising the
    // limit stands in for ten seconds passing)
    let u = url.clone();
    let freer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        admin(&u, "hubspot/config", json!({"ten_secondly": 190})).await;
    });
    let before = c.client().sent.load(Ordering::Relaxed);
    c.client()
        .get(Api::Campaigns, "", &q)
        .await
        .expect("retried after the window");
    assert!(c.client().sent.load(Ordering::Relaxed) - before >= 2);
    freer.await.unwrap();

    admin(&url, "hubspot/config", json!({"ten_secondly": 190, "daily": 1})).await;
    let before = c.client().sent.load(Ordering::Relaxed);
    let e = c.read(&a, &ReadRequest::default()).await.unwrap_err();
    assert_eq!(c.client().sent.load(Ordering::Relaxed) - before, 1, "not retried");
    assert!(matches!(e, ConnectorError::Quota { .. }), "{e:?}");
    assert!(e.hint().unwrap_or("").contains("midnight"), "{:?}", e.hint());
}

/// OAuth: the connector fetches an access token first, and refreshes it ahead of its end (not after a 401).
#[tokio::test]
async fn oauth_tokens_are_refreshed_ahead_of_expiry() {
    let emu = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    let url = emu.url();
    let a = account(&url, "hs-oauth");
    let c = HubSpotConnector::with(
        &a,
        cfg(&url),
        HubSpotCredentials::oauth(HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET, HUBSPOT_REFRESH_TOKEN),
    )
    .unwrap();
    let q = Query::new().set("limit", "1");
    c.client().get(Api::Campaigns, "", &q).await.unwrap();
    assert_eq!(c.client().refreshes.load(Ordering::Relaxed), 1);
    let first = c.client().with_creds(|k| k.access_token.clone());
    // 29 minutes later (both clocks): inside the refresh-ahead window, the token still valid for HubSpot
    c.client().with_creds(|k| {
        k.access_token_expires_at = Some(chrono::Utc::now() + chrono::Duration::seconds(60));
    });
    admin(&url, "hubspot/clock", json!({"advance_secs": 1740})).await;
    c.client().get(Api::Campaigns, "", &q).await.unwrap();
    assert_eq!(c.client().refreshes.load(Ordering::Relaxed), 2);
    assert_ne!(c.client().with_creds(|k| k.access_token.clone()), first);
    // the old token has ended for HubSpot: the new one works, no refresh needed
    admin(&url, "hubspot/clock", json!({"advance_secs": 120})).await;
    c.client().get(Api::Campaigns, "", &q).await.unwrap();
    assert_eq!(c.client().refreshes.load(Ordering::Relaxed), 2);
}

/// `auth validate` with OAuth credentials from the environment: portal and scopes checked.
#[tokio::test]
async fn auth_validate_checks_the_portal_and_the_scopes() {
    use crate::auth::platform::PlatformAuth;
    let emu = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    let url = emu.url();
    let a = account(&url, "hs-validate");
    let vars: BTreeMap<&str, &str> = [
        ("ADSCTL_HUBSPOT_CLIENT_ID", HUBSPOT_CLIENT_ID),
        ("ADSCTL_HUBSPOT_CLIENT_SECRET", HUBSPOT_CLIENT_SECRET),
        ("ADSCTL_HUBSPOT_REFRESH_TOKEN", HUBSPOT_REFRESH_TOKEN),
    ]
    .into();
    let env: crate::auth::EnvFn = std::sync::Arc::new(move |k: &str| vars.get(k).map(|v| v.to_string()));
    let dir = tempfile::tempdir().unwrap();
    let auth = crate::auth::Auth::with_env(dir.path(), env);
    let kind = super::HubSpotAuth.env_credentials(&auth, &a).expect("complete");
    assert!(super::HubSpotAuth.refresh_due(&kind, chrono::Utc::now()));
    let mut v = crate::auth::Validation::default();
    super::HubSpotAuth.validate(&auth, &a, &kind, &mut v).await.unwrap();
    assert!(v.scopes.iter().any(|s| s == "crm.lists.write"), "{v:?}");
    assert!(v.warnings.is_empty(), "{:?}", v.warnings);
    // a wrong portal id is refused
    let mut other = a.clone();
    other.platform_id = "20000999".into();
    let e = super::HubSpotAuth
        .validate(&auth, &other, &kind, &mut crate::auth::Validation::default())
        .await
        .unwrap_err();
    assert!(matches!(e, crate::auth::AuthError::Invalid { .. }), "{e:?}");
    assert!(!format!("{e:?}").contains(HUBSPOT_CLIENT_SECRET));
}

/// The emulator's lost-response fault: the create commits, the answer never arrives; the connector looks for the
/// campaign by name (the first look-ups are lost too) and finds it — one campaign, not two.
#[tokio::test]
async fn a_lost_create_is_found_by_name_and_not_duplicated() {
    let emu = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    let url = emu.url();
    let a = account(&url, "hs-lost");
    let conf = HubSpotConfig {
        max_retries: 0,
        lookup_attempts: 6,
        lookup_delay: Duration::from_millis(60),
        ..cfg(&url)
    };
    let c = HubSpotConnector::with(&a, conf, HubSpotCredentials::token(HUBSPOT_PRIVATE_APP_TOKEN)).unwrap();
    admin(&url, "faults", json!({"spec": "lost=1.0"})).await;
    let u = url.clone();
    let healer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        admin(&u, "faults", json!({"spec": ""})).await;
    });
    let out = c
        .apply(
            &a,
            &ApplyBatch {
                ops: vec![op(
                    root(&a).child(Kind::Campaign, "Lost"),
                    Kind::Campaign,
                    OpAction::Create {
                        fields: fields(&[("notes", Value::str("n"))]),
                    },
                )],
            },
        )
        .await
        .unwrap();
    healer.await.unwrap();
    let id = applied(&out).remove(0);
    // the create, then at least one look-up
    assert!(c.client().sent.load(Ordering::Relaxed) >= 2);
    let rs = read(&c, &a).await;
    let lost: Vec<&Resource> = rs.iter().filter(|r| r.address.name() == Some("Lost")).collect();
    assert_eq!(lost.len(), 1, "made once");
    assert_eq!(lost[0].id.as_ref(), Some(&id));
    assert!(lost[0].owned);
}

#[tokio::test]
async fn the_lease_is_acquired_held_renewed_and_released() {
    let (_emu, a, c) = setup("hs-lease").await;
    let until = chrono::Utc::now() + chrono::Duration::minutes(10);
    let LeaseOutcome::Acquired(l) = c.acquire_lease(&a, "host/1/aa", until, None).await.unwrap() else {
        panic!("not acquired");
    };
    match c.acquire_lease(&a, "host/2/bb", until, None).await.unwrap() {
        LeaseOutcome::Held { holder, .. } => assert_eq!(holder, "host/1/aa"),
        other => panic!("{other:?}"),
    }
    // the same holder again (a run that did not give it back): its older lease is kept and moved on
    match c.acquire_lease(&a, "host/1/aa", until, None).await.unwrap() {
        LeaseOutcome::Acquired(again) => assert_eq!(again.token, l.token),
        other => panic!("{other:?}"),
    }
    // lease lists are not audiences
    assert!(read(&c, &a).await.is_empty());
    c.renew_lease(&a, &l, until + chrono::Duration::minutes(5))
        .await
        .unwrap();
    match c.acquire_lease(&a, "host/2/bb", until, None).await.unwrap() {
        LeaseOutcome::Held { expires_at, .. } => assert!(expires_at > until),
        other => panic!("{other:?}"),
    }
    c.release_lease(&a, &l).await.unwrap();
    let LeaseOutcome::Acquired(l2) = c.acquire_lease(&a, "host/2/bb", until, None).await.unwrap() else {
        panic!("not acquired after release");
    };
    // a holder known to be gone is taken over
    let LeaseOutcome::Acquired(l3) = c
        .acquire_lease(&a, "host/3/cc", until, Some("host/2/bb"))
        .await
        .unwrap()
    else {
        panic!("not taken over");
    };
    c.release_lease(&a, &l3).await.unwrap();
    c.release_lease(&a, &l2).await.unwrap();
}

#[tokio::test]
async fn metrics_are_one_row_per_campaign_and_day() {
    let (_emu, a, c) = setup("hs-metrics").await;
    let id = applied(
        &c.apply(
            &a,
            &ApplyBatch {
                ops: vec![op(
                    root(&a).child(Kind::Campaign, "Measured"),
                    Kind::Campaign,
                    OpAction::Create {
                        fields: BTreeMap::new(),
                    },
                )],
            },
        )
        .await
        .unwrap(),
    )
    .remove(0);
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let rows = c
        .metrics(
            &a,
            MetricsLevel::Campaign,
            DateRange {
                since: day(1),
                until: day(3),
            },
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows
        .iter()
        .all(|r| r.id == id && r.name == "Measured" && r.kind == Kind::Campaign));
    assert_eq!(rows[0].date, day(1));
    assert_eq!(rows[2].date, day(3));
    assert!(c
        .metrics(
            &a,
            MetricsLevel::Ad,
            DateRange {
                since: day(1),
                until: day(3)
            }
        )
        .await
        .unwrap()
        .is_empty());
}

#[test]
fn capabilities_follow_the_contract() {
    let caps = super::capabilities();
    assert_eq!(caps.marked_kinds, vec![Kind::Campaign, Kind::Audience]);
    assert!(caps.renamable(Kind::Campaign) && caps.renamable(Kind::Audience));
    assert_eq!(caps.paused_status, "paused");
    assert_eq!(caps.settled_statuses, &["completed"]);
    assert!(caps.write_only_fields.is_empty() && caps.immutable_fields.is_empty());
}

/// A refused token: an auth error whose text carries neither the token nor anything of the request.
#[tokio::test]
async fn a_refused_token_is_an_auth_error_without_the_token() {
    let emu = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    let url = emu.url();
    let a = account(&url, "hs-badtoken");
    let c = HubSpotConnector::with(&a, cfg(&url), HubSpotCredentials::token("pat-na1-not-a-real-token-123")).unwrap();
    let e = c.read(&a, &ReadRequest::default()).await.unwrap_err();
    assert!(matches!(e, ConnectorError::Auth { .. }), "{e:?}");
    assert!(!format!("{e:?} {e}").contains("not-a-real-token"));
    assert!(e.hint().unwrap_or("").contains("auth login"));
}

/// A gateway without the date version answers a bare 404: the API's `v3` path is used from then on.
#[tokio::test]
async fn a_bare_404_falls_back_to_the_v3_path() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let log = log.clone();
        async move {
            let path = req.uri().path().to_string();
            log.lock().unwrap().push(path.clone());
            let (status, body) = if path == "/marketing/v3/campaigns" {
                (200, json!({"total": 0, "results": []}).to_string())
            } else {
                (404, "Not Found".to_string())
            };
            let mut resp = axum::response::Response::new(axum::body::Body::from(body));
            *resp.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
            resp
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let a = account(&url, "hs-v3");
    let c = HubSpotConnector::with(&a, cfg(&url), HubSpotCredentials::token("pat-stub")).unwrap();
    let q = Query::new().set("limit", "1");
    c.client().get(Api::Campaigns, "", &q).await.unwrap();
    c.client().get(Api::Campaigns, "", &q).await.unwrap();
    let paths = seen.lock().unwrap().clone();
    assert_eq!(
        paths,
        vec![
            "/marketing/campaigns/2026-09".to_string(),
            "/marketing/v3/campaigns".to_string(),
            "/marketing/v3/campaigns".to_string()
        ]
    );
}

/// A 207 from `batch/update`: the campaign HubSpot does not know fails (its id named in `errors[].context.ids`),
/// the other is applied.
#[tokio::test]
async fn a_partial_batch_update_fails_only_the_unknown_campaign() {
    let (_emu, a, c) = setup("hs-207").await;
    let addr = root(&a).child(Kind::Campaign, "Known");
    let id = applied(
        &c.apply(
            &a,
            &ApplyBatch {
                ops: vec![op(
                    addr.clone(),
                    Kind::Campaign,
                    OpAction::Create {
                        fields: BTreeMap::new(),
                    },
                )],
            },
        )
        .await
        .unwrap(),
    )
    .remove(0);
    let gone = "00000000-0000-4000-8000-00000000dead";
    let out = c
        .apply(
            &a,
            &ApplyBatch {
                ops: vec![
                    op(
                        root(&a).child(Kind::Campaign, "Gone"),
                        Kind::Campaign,
                        update(gone, &[("owner", Value::str("7"))], &[]),
                    ),
                    op(addr, Kind::Campaign, update(&id, &[("owner", Value::str("7"))], &[])),
                ],
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(&out[0], OpOutcome::Failed(e) if e.code == "OBJECT_NOT_FOUND"),
        "{out:?}"
    );
    assert_eq!(out[1], OpOutcome::Applied { id: id.clone() });
    let rs = read(&c, &a).await;
    assert_eq!(
        find(&rs, Kind::Campaign, "Known").unwrap().fields.get("owner"),
        Some(&Value::str("7"))
    );
}

/// A list create whose answer was lost is found by its marked name: one list, not two.
#[tokio::test]
async fn a_lost_list_create_is_found_by_name() {
    let emu = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    let url = emu.url();
    let a = account(&url, "hs-lost-list");
    let conf = HubSpotConfig {
        max_retries: 0,
        lookup_attempts: 6,
        lookup_delay: Duration::from_millis(60),
        ..cfg(&url)
    };
    let c = HubSpotConnector::with(&a, conf, HubSpotCredentials::token(HUBSPOT_PRIVATE_APP_TOKEN)).unwrap();
    admin(&url, "faults", json!({"spec": "lost=1.0"})).await;
    let u = url.clone();
    let healer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        admin(&u, "faults", json!({"spec": ""})).await;
    });
    let out = c
        .apply(
            &a,
            &ApplyBatch {
                ops: vec![op(
                    root(&a).child(Kind::Audience, "Lost list"),
                    Kind::Audience,
                    OpAction::Create {
                        fields: BTreeMap::new(),
                    },
                )],
            },
        )
        .await
        .unwrap();
    healer.await.unwrap();
    let id = applied(&out).remove(0);
    let rs = read(&c, &a).await;
    let lists: Vec<&Resource> = rs.iter().filter(|r| r.kind == Kind::Audience).collect();
    assert_eq!(lists.len(), 1, "made once");
    assert_eq!(lists[0].id.as_ref(), Some(&id));
    assert!(lists[0].owned);
}

/// `validate` checks locally and sends nothing: HubSpot has no dry run.
#[tokio::test]
async fn validate_checks_locally_and_sends_nothing() {
    let (_emu, a, c) = setup("hs-validate-ops").await;
    let ok = op(
        root(&a).child(Kind::Campaign, "Fine"),
        Kind::Campaign,
        OpAction::Create {
            fields: fields(&[
                ("start_date", Value::str("2026-05-01")),
                ("color", Value::str("#00aa00")),
            ]),
        },
    );
    let bad = op(
        root(&a).child(Kind::Campaign, "Bad"),
        Kind::Campaign,
        OpAction::Create {
            fields: fields(&[("start_date", Value::str("May 1st"))]),
        },
    );
    let unknown = op(
        root(&a).child(Kind::Campaign, "Odd"),
        Kind::Campaign,
        OpAction::Create {
            fields: fields(&[("goal", Value::str("x"))]),
        },
    );
    let before = c.client().sent.load(Ordering::Relaxed);
    let out = c
        .validate(
            &a,
            &ApplyBatch {
                ops: vec![ok, bad, unknown],
            },
        )
        .await
        .unwrap();
    assert_eq!(out[0], OpOutcome::Valid);
    assert!(
        matches!(&out[1], OpOutcome::Failed(e) if e.field.as_deref() == Some("start_date")),
        "{out:?}"
    );
    assert!(
        matches!(&out[2], OpOutcome::Failed(e) if e.field.as_deref() == Some("goal")),
        "{out:?}"
    );
    assert_eq!(c.client().sent.load(Ordering::Relaxed), before);
}

/// 423 (locked) and 5xx on a read wait and are sent again; a 5xx on a create is not re-sent blindly.
#[tokio::test]
async fn locked_and_server_errors_are_retried_for_reads_only_blindly() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let n = calls.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let n = n.clone();
        async move {
            let k = n.fetch_add(1, Ordering::Relaxed);
            let post = req.method() == axum::http::Method::POST;
            let (status, body) = match (post, k) {
                (false, 0) => (
                    423,
                    json!({"status": "error", "message": "locked", "category": "LOCKED"}),
                ),
                (false, 1) => (502, json!({"status": "error", "message": "bad gateway"})),
                (false, _) => (200, json!({"total": 0, "results": []})),
                (true, _) => (
                    500,
                    json!({"status": "error", "message": "oops", "category": "INTERNAL_ERROR"}),
                ),
            };
            let mut resp = axum::response::Response::new(axum::body::Body::from(body.to_string()));
            *resp.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
            resp
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let a = account(&url, "hs-retry");
    let conf = HubSpotConfig {
        locked_wait: Duration::from_millis(5),
        ..cfg(&url)
    };
    let c = HubSpotConnector::with(&a, conf, HubSpotCredentials::token("pat-stub")).unwrap();
    c.client()
        .get(Api::Campaigns, "", &Query::new().set("limit", "1"))
        .await
        .expect("retried");
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    let e = c
        .client()
        .send_json(
            super::client::Verb::Post,
            Api::Campaigns,
            "",
            &Query::new(),
            "{}",
            super::client::Retry::Refused,
        )
        .await
        .unwrap_err();
    assert!(e.outcome_unknown());
    assert_eq!(calls.load(Ordering::Relaxed), 4, "sent once");
}

/// `auth login`: the consent URL (on the login host), the code of the redirect exchanged for a refresh token and a
/// 30-minute access token, which the connector then uses.
#[tokio::test]
async fn login_exchanges_the_code_for_refreshable_credentials() {
    use crate::auth::platform::{LoginRequest, PlatformAuth};
    let emu = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    let url = emu.url();
    let a = account(&url, "hs-login");
    let login = url.clone();
    let vars: BTreeMap<&str, String> = [
        ("ADSCTL_HUBSPOT_CLIENT_ID", HUBSPOT_CLIENT_ID.to_string()),
        ("ADSCTL_HUBSPOT_CLIENT_SECRET", HUBSPOT_CLIENT_SECRET.to_string()),
        ("ADSCTL_HUBSPOT_LOGIN_ENDPOINT", login),
    ]
    .into();
    let env: crate::auth::EnvFn = std::sync::Arc::new(move |k: &str| vars.get(k).cloned());
    let dir = tempfile::tempdir().unwrap();
    let auth = crate::auth::Auth::with_env(dir.path(), env);
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let redirect = "http://127.0.0.1:9/callback";
    let u = super::HubSpotAuth
        .authorize_url(
            &auth,
            &a,
            None,
            LoginRequest {
                redirect: redirect.into(),
                state: crate::secret::Secret::new("st4te"),
                challenge,
            },
        )
        .unwrap();
    assert!(u.as_str().starts_with(&format!("{url}/oauth/authorize?")), "{u}");
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(u)
        .send()
        .await
        .unwrap();
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let back = url::Url::parse(&loc).unwrap();
    let q: BTreeMap<String, String> = back.query_pairs().into_owned().collect();
    assert_eq!(q.get("state").map(String::as_str), Some("st4te"));
    let code = crate::secret::Secret::new(q["code"].clone());
    let kind = super::HubSpotAuth
        .exchange(&auth, &a, None, code, verifier, redirect)
        .await
        .unwrap();
    let creds = kind.get::<HubSpotCredentials>().unwrap().clone();
    assert!(creds.refreshable());
    let left = creds.access_token_expires_at.unwrap() - chrono::Utc::now();
    assert!(left > chrono::Duration::minutes(29) && left <= chrono::Duration::minutes(30));
    assert!(!super::HubSpotAuth.refresh_due(&kind, chrono::Utc::now()));
    let c = HubSpotConnector::with(&a, cfg(&url), creds.clone()).unwrap();
    assert!(c.health(&a).await.unwrap().ok);
    assert_eq!(c.client().refreshes.load(Ordering::Relaxed), 0);
    // A disconnect revokes the refresh token: refreshing with it is refused afterwards.
    assert!(super::HubSpotAuth.revoke(&auth, &a, &kind).await.unwrap());
    let mut after = creds.clone();
    let refused = super::auth::refresh_in_place(auth.http(), &a.name, &url, &mut after).await;
    assert!(
        matches!(refused, Err(crate::auth::AuthError::Invalid { .. })),
        "{refused:?}"
    );
    // Static tokens have no revocation.
    let static_kind = crate::auth::CredentialKind::new(HubSpotCredentials::token("pat-na1-static-token-0000"));
    assert!(!super::HubSpotAuth.revoke(&auth, &a, &static_kind).await.unwrap());
}
