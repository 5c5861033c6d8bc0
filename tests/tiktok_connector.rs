//! The TikTok connector against the in-process TikTok emulator, over real HTTP, through the `Connector` trait.
//! The emulator is written independently from the same reference pack; only its public entry points are used
//! (`Emulator::start`, `platform::defaults`, the admin routes of its module doc and `docs/wire-rules.md`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adsctl::connectors::{
    ApplyBatch, Connector, ConnectorError, DateRange, IdRef, LeaseOutcome, MetricsLevel, OpAction, OpOutcome,
    Operation, ReadRequest,
};
use adsctl::emulator::platform::defaults;
use adsctl::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use adsctl::model::{
    value_fingerprint, Account, Address, Currency, Guardrails, Kind, Money, Platform, RemovalPolicy, Resource, Value,
};
use adsctl::platforms::tiktok::{TikTokConfig, TikTokConnector, TikTokCredentials};
use serde_json::{json, Value as Json};

struct Env {
    emu: EmulatorHandle,
    http: reqwest::Client,
}

impl Env {
    async fn start() -> Env {
        let emu = Emulator::start(EmulatorConfig::default())
            .await
            .expect("emulator starts");
        let env = Env {
            emu,
            http: reqwest::Client::new(),
        };
        env.admin(
            "/_emulator/tiktok/config",
            json!({"review_delay_ms": 0, "audience_processing_delay_ms": 0, "report_task_duration_ms": 0}),
        )
        .await;
        env
    }

    fn url(&self) -> String {
        self.emu.url()
    }

    async fn admin(&self, path: &str, body: Json) -> Json {
        let r = self
            .http
            .post(format!("{}{path}", self.url()))
            .json(&body)
            .send()
            .await
            .expect("admin call");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Json::Null)
    }

    async fn admin_get(&self, path: &str) -> Json {
        self.http
            .get(format!("{}{path}", self.url()))
            .send()
            .await
            .expect("admin call")
            .json()
            .await
            .expect("json")
    }

    /// Requests to `METHOD /open_api/v1.3/<path>` since the last reset.
    async fn requests(&self, method: &str, path: &str) -> u64 {
        let c = self.admin_get("/_emulator/requests").await;
        c["endpoints"][format!("{method} /open_api/v1.3/{path}")]["requests"]
            .as_u64()
            .unwrap_or(0)
    }

    async fn total_requests(&self) -> u64 {
        let c = self.admin_get("/_emulator/requests").await;
        c["total_requests"].as_u64().unwrap_or(0)
    }

    fn reset_counters(&self) {
        self.emu.counters().reset();
    }

    async fn add_advertiser(&self, id: &str, currency: &str) {
        self.admin(
            "/_emulator/tiktok/advertisers",
            json!({"advertiser_id": id, "currency": currency, "timezone": "UTC", "name": "Test"}),
        )
        .await;
    }

    /// A raw API call with the emulator's token (objects "someone else" made).
    async fn raw_post(&self, path: &str, body: Json) -> Json {
        let r: Json = self
            .http
            .post(format!("{}/open_api/v1.3/{path}", self.url()))
            .header("Access-Token", defaults::TIKTOK_ACCESS_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("api call")
            .json()
            .await
            .expect("json");
        assert_eq!(r["code"], 0, "{path}: {r}");
        r["data"].clone()
    }

    fn account(&self, name: &str, adv: &str) -> Account {
        Account {
            name: name.into(),
            platform: Platform::Tiktok,
            platform_id: adv.into(),
            login_customer_id: None,
            currency: Currency::from_code("USD").unwrap(),
            time_zone: Some("UTC".into()),
            on_removed: RemovalPolicy::Pause,
            guardrails: Guardrails::default(),
            endpoint: Some(self.url()),
        }
    }

    fn config(&self) -> TikTokConfig {
        TikTokConfig {
            retry_min_delay: Duration::from_millis(5),
            retry_max_delay: Duration::from_millis(40),
            rate_limit_wait: Duration::from_millis(5),
            rate_limit_long_wait: Duration::from_millis(40),
            lookup_delay: Duration::from_millis(10),
            requests_per_second: 1_000_000,
            ad_create_per_second: 1_000_000,
            report_poll: Duration::from_millis(10),
            request_timeout: Duration::from_secs(10),
            ..TikTokConfig::for_endpoint(&self.url()).unwrap()
        }
    }

    fn connector(&self, account: &Account) -> TikTokConnector {
        TikTokConnector::with(account, self.config(), creds()).expect("connector")
    }
}

fn creds() -> TikTokCredentials {
    TikTokCredentials::token(defaults::TIKTOK_ACCESS_TOKEN)
}

fn usd(s: &str) -> Value {
    Value::Money(Money::parse(s, Currency::from_code("USD").unwrap()).unwrap())
}

fn fields(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn set(items: &[&str]) -> Value {
    Value::Set(items.iter().map(|s| Value::str(*s)).collect())
}

fn create(address: Address, parent: Option<IdRef>, f: BTreeMap<String, Value>) -> Operation {
    Operation {
        kind: address.kind().unwrap(),
        address,
        action: OpAction::Create { fields: f },
        parent,
        refs: BTreeMap::new(),
    }
}

fn op(address: Address, action: OpAction, parent: Option<IdRef>) -> Operation {
    Operation {
        kind: address.kind().unwrap(),
        address,
        action,
        parent,
        refs: BTreeMap::new(),
    }
}

fn campaign_fields() -> BTreeMap<String, Value> {
    fields(&[
        ("status", Value::str("enable")),
        ("objective_type", Value::str("traffic")),
        ("budget_mode", Value::str("budget_mode_day")),
        ("budget.daily", usd("75.25")),
        ("special_industries", set(&[])),
    ])
}

fn adgroup_fields() -> BTreeMap<String, Value> {
    fields(&[
        ("status", Value::str("enable")),
        ("placement_type", Value::str("placement_type_normal")),
        ("placements", set(&["placement_tiktok"])),
        ("targeting.location_ids", set(&["6252001"])),
        ("targeting.age_groups", set(&["age_18_24", "age_25_34"])),
        ("targeting.gender", Value::str("gender_unlimited")),
        ("schedule_type", Value::str("schedule_from_now")),
        ("optimization_goal", Value::str("click")),
        ("billing_event", Value::str("cpc")),
        ("bid_type", Value::str("bid_type_custom")),
        ("bid_price", usd("1.37")),
        ("pacing", Value::str("pacing_mode_smooth")),
        ("budget_mode", Value::str("budget_mode_day")),
        ("budget.daily", usd("30.10")),
    ])
}

fn ad_fields(text: &str) -> BTreeMap<String, Value> {
    fields(&[
        ("status", Value::str("enable")),
        ("ad_format", Value::str("single_video")),
        ("ad_text", Value::str(text)),
        ("call_to_action", Value::str("learn_more")),
        ("landing_page_url", Value::Url("https://shop.example/spring".into())),
        ("display_name", Value::str("Shop")),
        ("identity_type", Value::str("customized_user")),
        ("identity_id", Value::str("7100000000000000777")),
        ("video_id", Value::str("v10033g50000c")),
    ])
}

/// A campaign, an ad group and `ads` ads, as one hand-over (children refer to pending creates).
fn tree(account: &str, name: &str, ads: usize) -> ApplyBatch {
    let root = Address::account(account);
    let c = root.child(Kind::Campaign, name);
    let g = c.child(Kind::AdGroup, "Group");
    let mut ops = vec![
        create(c.clone(), None, campaign_fields()),
        create(g.clone(), Some(IdRef::Pending(0)), adgroup_fields()),
    ];
    for k in 0..ads {
        ops.push(create(
            g.child(Kind::Ad, format!("Ad {k}")),
            Some(IdRef::Pending(1)),
            ad_fields(&format!("Spring sale {k}")),
        ));
    }
    ApplyBatch { ops }
}

fn applied(out: &[OpOutcome]) -> Vec<String> {
    out.iter()
        .map(|o| match o {
            OpOutcome::Applied { id } => id.clone(),
            other => panic!("not applied: {other:?} in {out:?}"),
        })
        .collect()
}

fn find<'a>(res: &'a [Resource], address: &str) -> &'a Resource {
    res.iter()
        .find(|r| r.address.to_string() == address)
        .unwrap_or_else(|| {
            panic!(
                "{address} not read: {:?}",
                res.iter().map(|r| r.address.to_string()).collect::<Vec<_>>()
            )
        })
}

fn members(n: usize, salt: u32) -> Value {
    Value::Set((0..n).map(|i| Value::str(format!("{salt:08x}{i:056x}"))).collect())
}

#[tokio::test]
async fn a_campaign_tree_is_created_read_back_and_costs_one_request_per_level() {
    let env = Env::start().await;
    env.add_advertiser("7000000000000000101", "USD").await;
    let account = env.account("tt", "7000000000000000101");
    let conn = env.connector(&account);
    // a first read learns what the emulator allows (its ad/get page size, see the connector's client)
    conn.read(&account, &ReadRequest::default()).await.unwrap();
    env.reset_counters();
    let out = conn.apply(&account, &tree("tt", "Spring", 3)).await.unwrap();
    let ids = applied(&out);
    assert_eq!(env.requests("POST", "campaign/create/").await, 1);
    assert_eq!(env.requests("POST", "adgroup/create/").await, 1);
    assert_eq!(env.requests("POST", "ad/create/").await, 1, "three ads, one call");
    assert_eq!(env.total_requests().await, 3, "a routine apply reads nothing");

    env.reset_counters();
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    assert_eq!(
        env.total_requests().await,
        4,
        "audiences, campaigns, ad groups, ads: one request each"
    );
    for path in ["campaign/get/", "adgroup/get/", "ad/get/", "dmp/custom_audience/list/"] {
        assert_eq!(env.requests("GET", path).await, 1, "{path}");
    }
    let c = find(&snap.resources, "tt/campaign/Spring");
    assert!(c.owned, "the marker makes it adsctl's");
    assert_eq!(c.id.as_deref(), Some(ids[0].as_str()));
    for (k, v) in campaign_fields() {
        assert_eq!(c.fields.get(&k), Some(&v), "campaign {k}");
    }
    let g = find(&snap.resources, "tt/campaign/Spring/ad_group/Group");
    assert!(g.owned);
    for (k, v) in adgroup_fields() {
        assert_eq!(g.fields.get(&k), Some(&v), "ad group {k}");
    }
    for k in 0..3 {
        let a = find(&snap.resources, &format!("tt/campaign/Spring/ad_group/Group/ad/Ad {k}"));
        assert!(a.owned);
        assert_eq!(a.id.as_deref(), Some(ids[2 + k].as_str()));
        for (f, v) in ad_fields(&format!("Spring sale {k}")) {
            assert_eq!(a.fields.get(&f), Some(&v), "ad {k} {f}");
        }
        assert!(a.observed.get("secondary_status").is_some());
    }
    // the emulator holds the marked names and exact money
    let raw = env.admin_get(&format!("/_emulator/tiktok/objects/{}", ids[0])).await;
    assert_eq!(raw["fields"]["campaign_name"], "Spring [adsctl-managed]", "{raw}");
    assert_eq!(raw["fields"]["budget"], "75.25", "{raw}");
}

#[tokio::test]
async fn foreign_objects_are_reported_unmarked_and_adoption_marks_them() {
    let env = Env::start().await;
    env.add_advertiser("7000000000000000102", "USD").await;
    let account = env.account("tt", "7000000000000000102");
    let conn = env.connector(&account);
    let made = env
        .raw_post(
            "campaign/create/",
            json!({"advertiser_id": "7000000000000000102", "campaign_name": "Colleague", "objective_type": "REACH"}),
        )
        .await;
    let id = made["campaign_id"].as_str().unwrap().to_string();
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    let c = find(&snap.resources, "tt/campaign/Colleague");
    assert!(!c.owned, "no marker: someone else's");
    assert_eq!(c.fields.get("objective_type"), Some(&Value::str("reach")));

    let addr = Address::account("tt").child(Kind::Campaign, "Colleague");
    let out = conn
        .apply(
            &account,
            &ApplyBatch {
                ops: vec![op(addr, OpAction::Adopt { id: id.clone() }, None)],
            },
        )
        .await
        .unwrap();
    applied(&out);
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    assert!(find(&snap.resources, "tt/campaign/Colleague").owned);
}

#[tokio::test]
async fn updates_pauses_and_removals() {
    let env = Env::start().await;
    env.add_advertiser("7000000000000000103", "USD").await;
    let account = env.account("tt", "7000000000000000103");
    let conn = env.connector(&account);
    let ids = applied(&conn.apply(&account, &tree("tt", "Summer", 2)).await.unwrap());
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    let root = Address::account("tt");
    let c = root.child(Kind::Campaign, "Summer");
    let g = c.child(Kind::AdGroup, "Group");
    let a0 = g.child(Kind::Ad, "Ad 0");
    let before = |addr: &Address, k: &str| -> BTreeMap<String, Value> {
        let r = find(&snap.resources, &addr.to_string());
        fields(&[(k, r.fields.get(k).cloned().unwrap_or(Value::Null))])
    };
    env.reset_counters();
    let batch = ApplyBatch {
        ops: vec![
            op(
                c.clone(),
                OpAction::Update {
                    id: ids[0].clone(),
                    set: fields(&[("budget.daily", usd("99.99")), ("status", Value::str("disable"))]),
                    before: before(&c, "budget.daily"),
                },
                None,
            ),
            op(
                g.clone(),
                OpAction::Update {
                    id: ids[1].clone(),
                    set: fields(&[
                        ("targeting.age_groups", set(&["age_35_44"])),
                        ("bid_price", usd("2.05")),
                    ]),
                    before: before(&g, "bid_price"),
                },
                Some(IdRef::Known(ids[0].clone())),
            ),
            op(
                a0.clone(),
                OpAction::Update {
                    id: ids[2].clone(),
                    set: fields(&[("ad_text", Value::str("Summer is here"))]),
                    before: before(&a0, "ad_text"),
                },
                Some(IdRef::Known(ids[1].clone())),
            ),
            op(
                g.child(Kind::Ad, "Ad 1"),
                OpAction::Pause { id: ids[3].clone() },
                Some(IdRef::Known(ids[1].clone())),
            ),
        ],
    };
    applied(&conn.apply(&account, &batch).await.unwrap());
    assert_eq!(env.requests("POST", "campaign/update/").await, 1);
    assert_eq!(env.requests("POST", "adgroup/update/").await, 1);
    assert_eq!(env.requests("POST", "ad/update/").await, 1);
    assert_eq!(env.requests("POST", "campaign/status/update/").await, 1);
    assert_eq!(env.requests("POST", "ad/status/update/").await, 1);
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    let cr = find(&snap.resources, "tt/campaign/Summer");
    assert_eq!(cr.fields.get("budget.daily"), Some(&usd("99.99")));
    assert_eq!(cr.fields.get("status"), Some(&Value::str("disable")));
    let gr = find(&snap.resources, "tt/campaign/Summer/ad_group/Group");
    assert_eq!(gr.fields.get("targeting.age_groups"), Some(&set(&["age_35_44"])));
    assert_eq!(gr.fields.get("bid_price"), Some(&usd("2.05")));
    let ar = find(&snap.resources, "tt/campaign/Summer/ad_group/Group/ad/Ad 0");
    assert_eq!(ar.fields.get("ad_text"), Some(&Value::str("Summer is here")));
    assert_eq!(
        ar.fields.get("video_id"),
        Some(&Value::str("v10033g50000c")),
        "the rest of the creative kept"
    );
    assert!(ar.owned, "the marker survives the update");
    let paused = find(&snap.resources, "tt/campaign/Summer/ad_group/Group/ad/Ad 1");
    assert_eq!(paused.fields.get("status"), Some(&Value::str("disable")));

    // remove (DELETE) the second ad: gone from reads
    let out = conn
        .apply(
            &account,
            &ApplyBatch {
                ops: vec![op(
                    g.child(Kind::Ad, "Ad 1"),
                    OpAction::Remove { id: ids[3].clone() },
                    Some(IdRef::Known(ids[1].clone())),
                )],
            },
        )
        .await
        .unwrap();
    applied(&out);
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    assert!(snap.resources.iter().all(|r| r.id.as_deref() != Some(ids[3].as_str())));
    // pinned: read even though deleted
    let snap = conn
        .read(
            &account,
            &ReadRequest {
                since: None,
                pinned_ids: vec![ids[3].clone()],
            },
        )
        .await
        .unwrap();
    assert!(snap.resources.iter().any(|r| r.id.as_deref() == Some(ids[3].as_str())));
}

#[tokio::test]
async fn forty_five_status_changes_go_out_as_three_calls_and_paging_takes_the_fewest_requests() {
    let env = Env::start().await;
    let adv = "7000000000000000104";
    env.add_advertiser(adv, "USD").await;
    let account = env.account("tt", adv);
    let conn = env.connector(&account);
    let root = Address::account("tt");
    let mut ops = Vec::new();
    for k in 0..45 {
        ops.push(create(
            root.child(Kind::Campaign, format!("C{k:02}")),
            None,
            fields(&[("objective_type", Value::str("traffic"))]),
        ));
    }
    let ids = applied(&conn.apply(&account, &ApplyBatch { ops }).await.unwrap());
    env.reset_counters();
    let pauses: Vec<Operation> = ids
        .iter()
        .enumerate()
        .map(|(k, id)| {
            op(
                root.child(Kind::Campaign, format!("C{k:02}")),
                OpAction::Pause { id: id.clone() },
                None,
            )
        })
        .collect();
    applied(&conn.apply(&account, &ApplyBatch { ops: pauses }).await.unwrap());
    assert_eq!(
        env.requests("POST", "campaign/status/update/").await,
        3,
        "45 ids: 20 + 20 + 5"
    );
    assert_eq!(env.total_requests().await, 3);

    // more than 1,000 campaigns (made by someone else): two pages of 1,000
    for k in 0..960 {
        env.raw_post(
            "campaign/create/",
            json!({"advertiser_id": adv, "campaign_name": format!("Other {k}"), "objective_type": "REACH"}),
        )
        .await;
    }
    env.reset_counters();
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    assert_eq!(snap.resources.iter().filter(|r| r.kind == Kind::Campaign).count(), 1005);
    assert_eq!(
        env.requests("GET", "campaign/get/").await,
        2,
        "1,005 campaigns at 1,000 a page"
    );
    let paused = snap
        .resources
        .iter()
        .filter(|r| r.owned && r.fields.get("status") == Some(&Value::str("disable")))
        .count();
    assert_eq!(paused, 45);
}

#[tokio::test]
async fn a_lost_answer_on_create_does_not_duplicate() {
    let env = Env::start().await;
    let adv = "7000000000000000105";
    env.add_advertiser(adv, "USD").await;
    let account = env.account("tt", adv);
    let conn = env.connector(&account);
    // Every request loses its answer after the write commits, until the faults are lifted.
    env.admin("/_emulator/faults", json!({"lost": 1.0})).await;
    let lost = tree("tt", "Lost", 2);
    let apply = conn.apply(&account, &lost);
    let lift = async {
        tokio::time::sleep(Duration::from_millis(60)).await;
        env.admin("/_emulator/faults", json!({})).await;
    };
    let (out, _) = tokio::join!(apply, lift);
    let out = out.unwrap();
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    let count = |k: Kind| snap.resources.iter().filter(|r| r.kind == k).count();
    assert_eq!(count(Kind::Campaign), 1, "{out:?}");
    assert_eq!(count(Kind::AdGroup), 1, "{out:?}");
    assert_eq!(count(Kind::Ad), 2, "{out:?}");
    // what was applied is what is there
    for (o, r) in out.iter().zip(["tt/campaign/Lost", "tt/campaign/Lost/ad_group/Group"]) {
        if let OpOutcome::Applied { id } = o {
            assert_eq!(find(&snap.resources, r).id.as_deref(), Some(id.as_str()));
        }
    }
    // and a second apply of the same creates (the next run) finds them through request_id, not a duplicate
    let again = conn
        .apply(
            &account,
            &ApplyBatch {
                ops: tree("tt", "Lost", 0).ops[..1].to_vec(),
            },
        )
        .await
        .unwrap();
    let snap2 = conn.read(&account, &ReadRequest::default()).await.unwrap();
    assert_eq!(
        snap2.resources.iter().filter(|r| r.kind == Kind::Campaign).count(),
        1,
        "{again:?}"
    );
}

#[tokio::test]
async fn a_campaign_removed_and_wanted_again_the_same_day_is_made_anew() {
    let env = Env::start().await;
    let adv = "7000000000000000112";
    env.add_advertiser(adv, "USD").await;
    let account = env.account("tt", adv);
    let conn = env.connector(&account);
    let one = ApplyBatch {
        ops: tree("tt", "Again", 0).ops[..1].to_vec(),
    };
    let first = applied(&conn.apply(&account, &one).await.unwrap());
    let addr = Address::account("tt").child(Kind::Campaign, "Again");
    applied(
        &conn
            .apply(
                &account,
                &ApplyBatch {
                    ops: vec![op(addr, OpAction::Remove { id: first[0].clone() }, None)],
                },
            )
            .await
            .unwrap(),
    );
    // removing it again (a resend after a lost answer, someone else's deletion) is done, not an error
    let addr = Address::account("tt").child(Kind::Campaign, "Again");
    applied(
        &conn
            .apply(
                &account,
                &ApplyBatch {
                    ops: vec![op(addr, OpAction::Remove { id: first[0].clone() }, None)],
                },
            )
            .await
            .unwrap(),
    );
    // the same create, the same day: its request_id answers the deleted campaign, so a fresh one is sent
    let second = applied(&conn.apply(&account, &one).await.unwrap());
    assert_ne!(first, second);
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    assert_eq!(
        find(&snap.resources, "tt/campaign/Again").id.as_deref(),
        Some(second[0].as_str())
    );
}

/// An ad renamed in place (issue 25): one `ad/update/` with its whole creative and the new marked name; the same ad
/// is read back under the new name.
#[tokio::test]
async fn an_ad_is_renamed_in_place() {
    let env = Env::start().await;
    let adv = "7000000000000000116";
    env.add_advertiser(adv, "USD").await;
    let account = env.account("tt", adv);
    let conn = env.connector(&account);
    let ids = applied(&conn.apply(&account, &tree("tt", "Renames", 1)).await.unwrap());
    let _ = conn.read(&account, &ReadRequest::default()).await.unwrap();
    let renamed = Address::account("tt")
        .child(Kind::Campaign, "Renames")
        .child(Kind::AdGroup, "Group")
        .child(Kind::Ad, "Ad 0, renamed");
    env.reset_counters();
    let out = conn
        .apply(
            &account,
            &ApplyBatch {
                ops: vec![op(
                    renamed,
                    OpAction::Update {
                        id: ids[2].clone(),
                        set: fields(&[("name", Value::str("Ad 0, renamed"))]),
                        before: fields(&[("name", Value::str("Ad 0"))]),
                    },
                    None,
                )],
            },
        )
        .await
        .unwrap();
    assert_eq!(applied(&out), vec![ids[2].clone()]);
    assert_eq!(env.requests("POST", "ad/update/").await, 1);
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    let ad = find(&snap.resources, "tt/campaign/Renames/ad_group/Group/ad/Ad 0, renamed");
    assert_eq!(ad.id.as_deref(), Some(ids[2].as_str()));
    assert!(ad.owned, "still marked");
}

#[tokio::test]
async fn audiences_and_lookalikes_are_renamed_in_place_keeping_the_members_fingerprint() {
    let env = Env::start().await;
    let adv = "7000000000000000117";
    env.add_advertiser(adv, "USD").await;
    let account = env.account("tt", adv);
    let conn = env.connector(&account);
    let root = Address::account("tt");
    let aud = root.child(Kind::Audience, "Buyers");
    let lal = root.child(Kind::LookalikeAudience, "Buyers alike");
    let m1 = members(1200, 7);
    let mut lookalike = create(
        lal.clone(),
        None,
        fields(&[
            ("origin", Value::reference(aud.clone())),
            ("audience_size", Value::str("narrow")),
            ("location_ids", set(&["6252001"])),
        ]),
    );
    lookalike.refs.insert(aud.clone(), IdRef::Pending(0));
    let batch = ApplyBatch {
        ops: vec![
            create(
                aud.clone(),
                None,
                fields(&[("calculate_type", Value::str("email_sha256")), ("members", m1.clone())]),
            ),
            lookalike,
        ],
    };
    let ids = applied(&conn.apply(&account, &batch).await.unwrap());
    let _ = conn.read(&account, &ReadRequest::default()).await.unwrap();
    env.reset_counters();
    let rename = |to: Address, id: &str, from: &str| {
        op(
            to.clone(),
            OpAction::Update {
                id: id.to_string(),
                set: fields(&[("name", Value::str(to.name().unwrap()))]),
                before: fields(&[("name", Value::str(from))]),
            },
            None,
        )
    };
    let out = conn
        .apply(
            &account,
            &ApplyBatch {
                ops: vec![
                    rename(root.child(Kind::Audience, "Best buyers"), &ids[0], "Buyers"),
                    rename(
                        root.child(Kind::LookalikeAudience, "Best buyers alike"),
                        &ids[1],
                        "Buyers alike",
                    ),
                ],
            },
        )
        .await
        .unwrap();
    assert_eq!(applied(&out), ids);
    assert_eq!(
        env.requests("POST", "dmp/custom_audience/update/").await,
        2,
        "one name update each, no file"
    );
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    let a = find(&snap.resources, "tt/audience/Best buyers");
    assert_eq!(a.id.as_deref(), Some(ids[0].as_str()));
    assert!(a.owned, "still marked");
    assert_eq!(
        a.observed.get("fingerprint.members"),
        Some(&value_fingerprint(&m1)),
        "the members' fingerprint is kept: nothing to upload again"
    );
    let l = find(&snap.resources, "tt/lookalike_audience/Best buyers alike");
    assert_eq!(l.id.as_deref(), Some(ids[1].as_str()));
    assert!(l.owned);
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_other_codes_are_surfaced_with_hints() {
    let env = Env::start().await;
    let adv = "7000000000000000106";
    env.add_advertiser(adv, "USD").await;
    let account = env.account("tt", adv);
    let conn = env.connector(&account);
    // half the requests are refused with TikTok's rate-limit code (HTTP 200, code 40100)
    env.admin("/_emulator/faults", json!({"429": 0.5, "seed": 3})).await;
    env.reset_counters();
    let out = conn.apply(&account, &tree("tt", "Busy", 1)).await.unwrap();
    applied(&out);
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    assert_eq!(snap.resources.len(), 3);
    // (refused requests never reach the platform's counters: the fault injector counts them)
    let refused = env.emu.faults().injected().get("429").copied().unwrap_or(0);
    assert!(refused > 0, "some requests were refused and sent again");
    assert_eq!(
        env.total_requests().await,
        7,
        "then each went through once: 3 creates, 4 reads"
    );
    env.admin("/_emulator/faults", json!({})).await;

    // a budget below TikTok's minimum: 40002, not retried, with the field and a hint
    env.reset_counters();
    let bad = ApplyBatch {
        ops: vec![create(
            Address::account("tt").child(Kind::Campaign, "Cheap"),
            None,
            fields(&[
                ("objective_type", Value::str("traffic")),
                ("budget_mode", Value::str("budget_mode_day")),
                ("budget.daily", usd("1")),
            ]),
        )],
    };
    let out = conn.apply(&account, &bad).await.unwrap();
    let OpOutcome::Failed(e) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(e.code, "40002", "{e:?}");
    assert_eq!(e.field.as_deref(), Some("budget"), "{e:?}");
    assert!(e.hint.is_some(), "{e:?}");
    assert!(e.message.contains("request_id"), "{e:?}");
    assert_eq!(
        env.requests("POST", "campaign/create/").await,
        1,
        "a 40002 is never sent again"
    );

    // children of a failed create are skipped, not sent
    let mut t = tree("tt", "Cheap2", 1);
    if let OpAction::Create { fields } = &mut t.ops[0].action {
        fields.insert("budget.daily".into(), usd("1"));
    }
    let out = conn.apply(&account, &t).await.unwrap();
    assert!(matches!(out[0], OpOutcome::Failed(_)));
    assert!(matches!(out[1], OpOutcome::Skipped { .. }), "{out:?}");
    assert!(matches!(out[2], OpOutcome::Skipped { .. }), "{out:?}");
}

/// Log lines of this test, to check no secret is ever written.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_token_or_secret_in_errors_or_logs() {
    let env = Env::start().await;
    let adv = "7000000000000000107";
    env.add_advertiser(adv, "USD").await;
    let account = env.account("tt", adv);
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let token = "tt-wrong-token-0123456789abcdef";
    let secret = "tt-app-secret-9876543210";
    let creds = TikTokCredentials {
        access_token: adsctl::secret::Secret::new(token),
        app_id: Some(defaults::TIKTOK_APP_ID.into()),
        app_secret: Some(adsctl::secret::Secret::new(secret)),
        advertiser_ids: Vec::new(),
    };
    let conn = TikTokConnector::with(&account, env.config(), creds).unwrap();
    let err = conn.read(&account, &ReadRequest::default()).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err:?}");
    assert!(err.hint().unwrap().contains("adsctl auth login tt"), "{err:?}");
    let out = conn.apply(&account, &tree("tt", "X", 1)).await;
    let shown = format!("{err} {err:?} {:?} {out:?}", err.hint());
    // good credentials, with a failing call, for the logs
    let good = env.connector(&account);
    let _ = good.read(&account, &ReadRequest::default()).await.unwrap();
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("tiktok"), "the requests were logged: {logs}");
    for s in [token, secret, defaults::TIKTOK_ACCESS_TOKEN] {
        assert!(!shown.contains(s), "{s} in {shown}");
        assert!(!logs.contains(s), "{s} in the logs");
    }
}

#[tokio::test]
async fn audiences_carry_their_members_fingerprint_and_lookalikes_their_origin() {
    let env = Env::start().await;
    let adv = "7000000000000000108";
    env.add_advertiser(adv, "USD").await;
    let account = env.account("tt", adv);
    let conn = env.connector(&account);
    let root = Address::account("tt");
    let aud = root.child(Kind::Audience, "Buyers");
    let lal = root.child(Kind::LookalikeAudience, "Buyers alike");
    let m1 = members(1200, 1);
    let mut lookalike = create(
        lal.clone(),
        None,
        fields(&[
            ("origin", Value::reference(aud.clone())),
            ("audience_size", Value::str("narrow")),
            ("location_ids", set(&["6252001"])),
            ("include_source", Value::Bool(true)),
        ]),
    );
    lookalike.refs.insert(aud.clone(), IdRef::Pending(0));
    let batch = ApplyBatch {
        ops: vec![
            create(
                aud.clone(),
                None,
                fields(&[
                    ("calculate_type", Value::str("email_sha256")),
                    ("retention_in_days", Value::Int(90)),
                    ("members", m1.clone()),
                ]),
            ),
            lookalike,
        ],
    };
    let out = conn.apply(&account, &batch).await.unwrap();
    let ids = applied(&out);
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    let a = find(&snap.resources, "tt/audience/Buyers");
    assert!(a.owned);
    assert_eq!(a.fields.get("retention_in_days"), Some(&Value::Int(90)));
    assert_eq!(a.fields.get("calculate_type"), Some(&Value::str("email_sha256")));
    assert_eq!(
        a.observed.get("fingerprint.members"),
        Some(&value_fingerprint(&m1)),
        "the marker records what was uploaded"
    );
    assert!(a.fields.get("members").is_none(), "members are write-only");
    let l = find(&snap.resources, "tt/lookalike_audience/Buyers alike");
    assert!(l.owned);
    assert_eq!(l.fields.get("origin"), Some(&Value::reference(aud.clone())));
    assert_eq!(l.fields.get("audience_size"), Some(&Value::str("narrow")));
    assert_eq!(l.fields.get("location_ids"), Some(&set(&["6252001"])));
    assert_eq!(l.fields.get("include_source"), Some(&Value::Bool(true)));

    // new members, what the audience holds unknown (a runner without state): replaced, new fingerprint
    let m2 = members(1500, 2);
    env.reset_counters();
    let out = conn
        .apply(
            &account,
            &ApplyBatch {
                ops: vec![op(
                    aud.clone(),
                    OpAction::Update {
                        id: ids[0].clone(),
                        set: fields(&[("members", m2.clone())]),
                        before: BTreeMap::new(),
                    },
                    None,
                )],
            },
        )
        .await
        .unwrap();
    applied(&out);
    assert_eq!(env.requests("POST", "dmp/custom_audience/file/upload/").await, 1);
    assert_eq!(
        env.requests("POST", "dmp/custom_audience/update/").await,
        1,
        "members and marker at once"
    );
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    let a = find(&snap.resources, "tt/audience/Buyers");
    assert_eq!(a.observed.get("fingerprint.members"), Some(&value_fingerprint(&m2)));

    // an ad group targeting both
    let c = root.child(Kind::Campaign, "Aud");
    let g = c.child(Kind::AdGroup, "Group");
    let mut gf = adgroup_fields();
    gf.insert(
        "targeting.audiences".into(),
        Value::Set(BTreeSet::from([
            Value::reference(aud.clone()),
            Value::reference(lal.clone()),
        ])),
    );
    let mut gop = create(g, Some(IdRef::Pending(0)), gf.clone());
    gop.refs.insert(aud.clone(), IdRef::Known(ids[0].clone()));
    gop.refs.insert(lal.clone(), IdRef::Known(ids[1].clone()));
    applied(
        &conn
            .apply(
                &account,
                &ApplyBatch {
                    ops: vec![create(c, None, campaign_fields()), gop],
                },
            )
            .await
            .unwrap(),
    );
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    let gr = find(&snap.resources, "tt/campaign/Aud/ad_group/Group");
    assert_eq!(gr.fields.get("targeting.audiences"), gf.get("targeting.audiences"));

    // removal: one delete call for both
    env.reset_counters();
    let out = conn
        .apply(
            &account,
            &ApplyBatch {
                ops: vec![
                    op(lal, OpAction::Remove { id: ids[1].clone() }, None),
                    op(aud, OpAction::Remove { id: ids[0].clone() }, None),
                ],
            },
        )
        .await
        .unwrap();
    applied(&out);
    assert_eq!(env.requests("POST", "dmp/custom_audience/delete/").await, 1);
}

#[tokio::test]
async fn metrics_rows_are_exact_and_long_ranges_use_report_tasks() {
    let env = Env::start().await;
    let adv = "7000000000000000109";
    env.add_advertiser(adv, "USD").await;
    let account = env.account("tt", adv);
    let conn = env.connector(&account);
    let ids = applied(&conn.apply(&account, &tree("tt", "Report", 1)).await.unwrap());
    conn.read(&account, &ReadRequest::default()).await.unwrap();
    let today = chrono::Utc::now().date_naive();
    env.reset_counters();
    let rows = conn
        .metrics(
            &account,
            MetricsLevel::Campaign,
            DateRange {
                since: today - chrono::Duration::days(3),
                until: today,
            },
        )
        .await
        .unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r.kind == Kind::Campaign && r.id == ids[0]),
        "{rows:?}"
    );
    assert!(
        rows.iter().all(|r| r.name == "Report"),
        "names without the marker: {rows:?}"
    );
    assert!(
        rows.iter().any(|r| r.cost.micros() > 0 && r.impressions > 0),
        "{rows:?}"
    );
    assert!(env.requests("GET", "report/integrated/get/").await <= 2);
    assert_eq!(env.requests("POST", "report/task/create/").await, 0);
    let ads = conn
        .metrics(
            &account,
            MetricsLevel::Ad,
            DateRange {
                since: today - chrono::Duration::days(1),
                until: today,
            },
        )
        .await
        .unwrap();
    assert!(ads.iter().all(|r| r.kind == Kind::Ad && r.id == ids[2]), "{ads:?}");

    // 45 days: beyond the sync limit, two report tasks of at most 30 days
    env.reset_counters();
    let long = conn
        .metrics(
            &account,
            MetricsLevel::Campaign,
            DateRange {
                since: today - chrono::Duration::days(44),
                until: today,
            },
        )
        .await
        .unwrap();
    assert_eq!(env.requests("POST", "report/task/create/").await, 2);
    assert_eq!(env.requests("GET", "report/integrated/get/").await, 0);
    let same: Vec<_> = long
        .iter()
        .filter(|r| r.date >= today - chrono::Duration::days(3))
        .cloned()
        .collect();
    assert_eq!(same, rows, "the same rows through a task");
}

#[tokio::test]
async fn leases_are_held_by_one_runner_and_never_read_as_campaigns() {
    let env = Env::start().await;
    let adv = "7000000000000000110";
    env.add_advertiser(adv, "USD").await;
    let account = env.account("tt", adv);
    let conn = env.connector(&account);
    std::env::set_var("ADSCTL_LEASE_SETTLE_MS", "10");
    let until = chrono::Utc::now() + chrono::Duration::minutes(10);
    let LeaseOutcome::Acquired(lease) = conn.acquire_lease(&account, "ci/1/a", until, None).await.unwrap() else {
        panic!("the first runner gets the lease")
    };
    match conn.acquire_lease(&account, "ci/2/b", until, None).await.unwrap() {
        LeaseOutcome::Held { holder, .. } => assert_eq!(holder, "ci/1/a"),
        other => panic!("{other:?}"),
    }
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    assert!(
        snap.resources.is_empty(),
        "lease campaigns are not campaigns: {:?}",
        snap.resources
    );
    conn.renew_lease(&account, &lease, until + chrono::Duration::minutes(5))
        .await
        .unwrap();
    conn.release_lease(&account, &lease).await.unwrap();
    assert!(matches!(
        conn.acquire_lease(&account, "ci/2/b", until, None).await.unwrap(),
        LeaseOutcome::Acquired(_)
    ));
    // a holder known to be gone is taken over
    assert!(matches!(
        conn.acquire_lease(&account, "ci/3/c", until, Some("ci/2/b"))
            .await
            .unwrap(),
        LeaseOutcome::Acquired(_)
    ));
}

#[tokio::test]
async fn validate_sends_nothing_and_health_reads_the_advertiser() {
    let env = Env::start().await;
    let adv = "7000000000000000111";
    env.add_advertiser(adv, "USD").await;
    let account = env.account("tt", adv);
    let conn = env.connector(&account);
    env.reset_counters();
    let out = conn.validate(&account, &tree("tt", "Dry", 2)).await.unwrap();
    assert!(out.iter().all(|o| matches!(o, OpOutcome::Valid)), "{out:?}");
    let mut bad = tree("tt", "Dry", 0);
    if let OpAction::Create { fields } = &mut bad.ops[0].action {
        fields.insert("colour".into(), Value::str("red"));
    }
    let out = conn.validate(&account, &bad).await.unwrap();
    assert!(
        matches!(&out[0], OpOutcome::Failed(e) if e.field.as_deref() == Some("colour")),
        "{out:?}"
    );
    assert_eq!(
        env.total_requests().await,
        0,
        "validation is local: TikTok has no dry run"
    );
    let h = conn.health(&account).await.unwrap();
    assert!(h.ok, "{h:?}");
}

#[tokio::test]
async fn a_cbo_campaign_takes_its_ad_groups_optimization_goal() {
    let env = Env::start().await;
    let adv = "7000000000000000113";
    env.add_advertiser(adv, "USD").await;
    let account = env.account("tt", adv);
    let conn = env.connector(&account);
    let mut t = tree("tt", "Optimised", 1);
    if let OpAction::Create { fields } = &mut t.ops[0].action {
        fields.insert("budget_optimize_on".into(), Value::Bool(true));
        fields.insert("objective_type".into(), Value::str("web_conversions"));
    }
    if let OpAction::Create { fields } = &mut t.ops[1].action {
        for k in ["budget.daily", "budget_mode", "pacing", "bid_price"] {
            fields.remove(k);
        }
        fields.insert("optimization_goal".into(), Value::str("convert"));
        fields.insert("billing_event".into(), Value::str("ocpm"));
        fields.insert("bid_type".into(), Value::str("bid_type_no_bid"));
    }
    let out = conn.apply(&account, &t).await.unwrap();
    applied(&out);
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    let c = find(&snap.resources, "tt/campaign/Optimised");
    assert_eq!(c.fields.get("budget_optimize_on"), Some(&Value::Bool(true)));
    assert_eq!(c.fields.get("budget.daily"), Some(&usd("75.25")));
}

mod auth_flows {
    use super::*;
    use adsctl::auth::{Auth, LoginRequest, PlatformAuth, Validation};
    use adsctl::platforms::tiktok::TikTokAuth;
    use adsctl::secret::Secret;

    fn auth(dir: &std::path::Path, vars: &[(&str, String)]) -> Auth {
        let vars: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        Auth::with_env(dir, Arc::new(move |k: &str| vars.get(k).cloned()))
    }

    /// Advertiser tokens stay valid until revoked: `auth status` says `never`, and there is nothing to refresh.
    #[tokio::test]
    async fn advertiser_tokens_never_expire() {
        let env = Env::start().await;
        let account = env.account("tt", "7000000000000000115");
        let dir = tempfile::tempdir().unwrap();
        let a = auth(
            dir.path(),
            &[("TIKTOK_ACCESS_TOKEN", defaults::TIKTOK_ACCESS_TOKEN.to_string())],
        );
        let rows = a.status(std::slice::from_ref(&account));
        assert_eq!(rows[0].status, adsctl::auth::TokenStatus::Active, "{rows:?}");
        assert!(rows[0].never_expires && rows[0].expires_at.is_none(), "{rows:?}");
        let creds = a.credentials(&account).unwrap();
        assert!(!adsctl::auth::refresh::is_due(
            &creds.kind,
            chrono::Utc::now() + chrono::Duration::days(3650)
        ));
    }

    #[tokio::test]
    async fn login_exchange_and_validate_against_the_emulator() {
        let env = Env::start().await;
        let adv = "7000000000000000114";
        env.add_advertiser(adv, "USD").await;
        let account = env.account("tt", adv);
        let dir = tempfile::tempdir().unwrap();
        let a = auth(
            dir.path(),
            &[
                ("TIKTOK_APP_ID", defaults::TIKTOK_APP_ID.to_string()),
                ("TIKTOK_APP_SECRET", defaults::TIKTOK_APP_SECRET.to_string()),
            ],
        );
        let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
        let url = TikTokAuth
            .authorize_url(
                &a,
                &account,
                None,
                LoginRequest {
                    redirect: "http://127.0.0.1:9/callback".into(),
                    state: Secret::new("state-0123456789"),
                    challenge,
                },
            )
            .unwrap();
        assert_eq!(url.path(), "/portal/auth");
        let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q.get("app_id").map(String::as_str), Some(defaults::TIKTOK_APP_ID));
        assert_eq!(q.get("state").map(String::as_str), Some("state-0123456789"));
        assert!(!q.contains_key("code_challenge"), "no PKCE: {url}");
        assert_eq!(TikTokAuth.code_param(), "auth_code");

        let code = env
            .admin(
                "/_emulator/tiktok/auth_codes",
                json!({"app_id": defaults::TIKTOK_APP_ID, "advertiser_ids": [adv]}),
            )
            .await["auth_code"]
            .as_str()
            .unwrap()
            .to_string();
        let kind = TikTokAuth
            .exchange(
                &a,
                &account,
                None,
                Secret::new(code.clone()),
                verifier,
                "http://127.0.0.1:9/callback",
            )
            .await
            .unwrap();
        let creds = kind.get::<TikTokCredentials>().unwrap();
        assert_eq!(creds.advertiser_ids, vec![adv.to_string()]);
        assert_eq!(kind.expires_at(), None, "advertiser tokens do not expire");
        // the code works once
        let (_, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
        let again = TikTokAuth
            .exchange(
                &a,
                &account,
                None,
                Secret::new(code.clone()),
                verifier,
                "http://127.0.0.1:9/callback",
            )
            .await
            .unwrap_err();
        assert!(!again.to_string().contains(&code), "{again}");
        let mut kind2 = kind.clone();
        assert!(
            !TikTokAuth.refresh(&a, &account, &mut kind2).await.unwrap(),
            "nothing to refresh"
        );
        let mut v = Validation::default();
        TikTokAuth.validate(&a, &account, &kind, &mut v).await.unwrap();
        assert_eq!(v.currency.as_deref(), Some("USD"));
        assert_eq!(v.time_zone.as_deref(), Some("UTC"));
        // the token works for the connector
        let conn = TikTokConnector::with(&account, env.config(), creds.clone()).unwrap();
        conn.read(&account, &ReadRequest::default()).await.unwrap();
        // a revoked token is invalid, said without the token
        env.raw_post(
            "oauth2/revoke_token/",
            json!({"app_id": defaults::TIKTOK_APP_ID, "secret": defaults::TIKTOK_APP_SECRET, "access_token": creds.access_token.expose()}),
        )
        .await;
        let e = TikTokAuth
            .validate(&a, &account, &kind, &mut Validation::default())
            .await
            .unwrap_err();
        assert!(e.is_invalid_grant(), "{e:?}");
        assert!(!format!("{e} {e:?}").contains(creds.access_token.expose()));
    }
}

#[tokio::test]
async fn an_ad_create_whose_answer_never_comes_is_not_sent_again() {
    let env = Env::start().await;
    let adv = "7000000000000000115";
    env.add_advertiser(adv, "USD").await;
    let account = env.account("tt", adv);
    let conn = env.connector(&account);
    let t = tree("tt", "Silent", 2);
    let ids = applied(
        &conn
            .apply(
                &account,
                &ApplyBatch {
                    ops: t.ops[..2].to_vec(),
                },
            )
            .await
            .unwrap(),
    );
    let ads: Vec<Operation> = t.ops[2..]
        .iter()
        .cloned()
        .map(|mut o| {
            o.parent = Some(IdRef::Known(ids[1].clone()));
            o
        })
        .collect();
    // every answer is lost (the writes commit), look-ups included
    env.admin("/_emulator/faults", json!({"lost": 1.0})).await;
    env.reset_counters();
    let out = conn.apply(&account, &ApplyBatch { ops: ads }).await.unwrap();
    env.admin("/_emulator/faults", json!({})).await;
    assert_eq!(
        env.requests("POST", "ad/create/").await,
        1,
        "never sent a second time: {out:?}"
    );
    for o in &out {
        let OpOutcome::Failed(e) = o else { panic!("{out:?}") };
        assert_eq!(e.code, "outcome_unknown", "{e:?}");
        assert!(
            e.hint.as_deref().is_some_and(|h| h.contains("run apply again")),
            "{e:?}"
        );
    }
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    assert_eq!(
        snap.resources.iter().filter(|r| r.kind == Kind::Ad).count(),
        2,
        "made once each"
    );
}

#[tokio::test]
async fn advertiser_rate_limits_are_waited_out() {
    let env = Env::start().await;
    let adv = "7000000000000000116";
    env.add_advertiser(adv, "USD").await;
    let account = env.account("tt", adv);
    let conn = TikTokConnector::with(
        &account,
        TikTokConfig {
            rate_limit_wait: Duration::from_millis(100),
            rate_limit_long_wait: Duration::from_millis(1_000),
            ..env.config()
        },
        creds(),
    )
    .unwrap();
    env.admin("/_emulator/tiktok/config", json!({"advertiser_qps": 2}))
        .await;
    env.reset_counters();
    let out = conn.apply(&account, &tree("tt", "Throttled", 1)).await.unwrap();
    applied(&out);
    let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
    env.admin("/_emulator/tiktok/config", json!({"advertiser_qps": 0}))
        .await;
    assert_eq!(snap.resources.len(), 3);
    let c = env.admin_get("/_emulator/requests").await;
    let refused: u64 = c["endpoints"]
        .as_object()
        .unwrap()
        .values()
        .map(|e| e["requests"].as_u64().unwrap_or(0))
        .sum::<u64>();
    assert!(
        refused > 7,
        "some requests met 40133 and were sent again ({refused} requests for 7 calls)"
    );
}
