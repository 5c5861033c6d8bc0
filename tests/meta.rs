//! The Meta connector against the in-process emulator: through the `Connector` trait (`connector::…`), and
//! end to end through the real binary (`e2e::…`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use adsctl::connectors::{ApplyBatch, Connector, IdRef, OpAction, OpOutcome, Operation, ReadRequest};
use adsctl::emulator::platform::defaults;
use adsctl::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use adsctl::model::{Account, Address, Currency, Guardrails, Kind, Money, Platform, RemovalPolicy, Resource, Value};
use adsctl::platforms::meta::config::{MetaConfig, MetaCredentials};
use adsctl::platforms::meta::MetaConnector;
use adsctl::secret::Secret;
use serde_json::{json, Value as Json};

struct Env {
    emu: EmulatorHandle,
    http: reqwest::Client,
}

impl Env {
    async fn start() -> Env {
        Env::start_with(EmulatorConfig::default()).await
    }

    async fn start_with(mut config: EmulatorConfig) -> Env {
        config.review_delay = Duration::from_millis(0);
        let emu = Emulator::start(config).await.expect("emulator starts");
        Env {
            emu,
            http: reqwest::Client::new(),
        }
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

    /// A Graph write made outside adsctl (as in the platform's UI), with the emulator's token.
    async fn admin_graph_post(&self, path: &str, params: &[(&str, &str)]) -> Json {
        let mut p: Vec<(&str, &str)> = params.to_vec();
        p.push(("access_token", defaults::META_ACCESS_TOKEN));
        let r = self
            .http
            .post(format!("{}/v25.0/{path}", self.url()))
            .form(&p)
            .send()
            .await
            .expect("graph call");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.expect("json")
    }

    async fn admin_graph_delete(&self, id: &str) {
        let r = self
            .http
            .delete(format!("{}/v25.0/{id}", self.url()))
            .query(&[("access_token", defaults::META_ACCESS_TOKEN)])
            .send()
            .await
            .expect("graph call");
        assert!(r.status().is_success(), "DELETE {id}: {}", r.status());
    }

    async fn add_account(&self, act: &str, currency: &str) {
        self.admin("/_emulator/meta/accounts", json!({ "id": act, "currency": currency }))
            .await;
    }

    /// Requests to one endpoint label (`POST /v25.0/ (batch)`, …) since the last reset.
    async fn requests(&self, endpoint: &str) -> u64 {
        let c = self.admin_get("/_emulator/requests").await;
        c["endpoints"][endpoint]["requests"].as_u64().unwrap_or(0)
    }

    async fn reset_counters(&self) {
        self.emu.counters().reset();
    }

    async fn object(&self, id: &str) -> Json {
        self.admin_get(&format!("/_emulator/meta/objects/{id}")).await
    }

    fn account(&self, name: &str, act: &str, currency: &str) -> Account {
        Account {
            name: name.into(),
            platform: Platform::Meta,
            platform_id: act.into(),
            login_customer_id: None,
            currency: Currency::from_code(currency).unwrap(),
            time_zone: None,
            on_removed: RemovalPolicy::Pause,
            guardrails: Guardrails::default(),
            endpoint: Some(self.url()),
        }
    }

    fn connector(&self, account: &Account) -> MetaConnector {
        let cfg = MetaConfig {
            base_url: self.url(),
            retry_min_delay: Duration::from_millis(20),
            retry_max_delay: Duration::from_millis(200),
            regain_minute: Duration::from_millis(10),
            slow_down_max_delay: Duration::from_millis(50),
            calls_per_minute: 100_000,
            calls_per_hour: 1_000_000,
            request_timeout: Duration::from_secs(5),
            max_retries: 8,
            ..MetaConfig::default()
        };
        MetaConnector::with(account, cfg, creds()).expect("connector")
    }
}

fn creds() -> MetaCredentials {
    MetaCredentials {
        app_id: Some(defaults::META_APP_ID.into()),
        app_secret: Some(Secret::new(defaults::META_APP_SECRET)),
        access_token: Secret::new(defaults::META_ACCESS_TOKEN),
    }
}

fn usd(s: &str) -> Value {
    Value::Money(Money::parse(s, Currency::USD).unwrap())
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

fn campaign_fields(budget: Value) -> BTreeMap<String, Value> {
    fields(&[
        ("status", Value::str("paused")),
        ("objective", Value::str("outcome_traffic")),
        ("special_ad_categories", Value::Set(BTreeSet::new())),
        ("budget.daily", budget),
        ("bid_strategy", Value::str("lowest_cost_without_cap")),
    ])
}

fn adset_fields() -> BTreeMap<String, Value> {
    fields(&[
        ("status", Value::str("active")),
        ("optimization_goal", Value::str("link_clicks")),
        ("billing_event", Value::str("impressions")),
        ("targeting.countries", set(&["US"])),
        ("targeting.age_min", Value::Int(25)),
        ("targeting.age_max", Value::Int(45)),
        ("targeting.publisher_platforms", set(&["facebook", "instagram"])),
    ])
}

fn ad_fields(headline: &str) -> BTreeMap<String, Value> {
    fields(&[
        ("status", Value::str("active")),
        ("creative.page_id", Value::str("1122334455")),
        ("creative.link", Value::Url("https://example.com/shoes".into())),
        ("creative.message", Value::str("Spring is here.")),
        ("creative.headline", Value::str(headline)),
        ("creative.call_to_action", Value::str("learn_more")),
    ])
}

/// A campaign with `sets` ad sets of `ads` ads each, as one batch in dependency order.
fn campaign_tree(acct: &str, name: &str, sets: usize, ads: usize) -> ApplyBatch {
    let c = Address::account(acct).child(Kind::Campaign, name);
    let mut ops = vec![create(c.clone(), None, campaign_fields(usd("50.00")))];
    for s in 0..sets {
        let sa = c.child(Kind::AdSet, format!("Set {s}"));
        let si = ops.len();
        ops.push(create(sa.clone(), Some(IdRef::Pending(0)), adset_fields()));
        for a in 0..ads {
            ops.push(create(
                sa.child(Kind::Ad, format!("Ad {s}.{a}")),
                Some(IdRef::Pending(si)),
                ad_fields(&format!("Shoes {s}.{a}")),
            ));
        }
    }
    ApplyBatch { ops }
}

fn applied_ids(outcomes: &[OpOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .map(|o| match o {
            OpOutcome::Applied { id } => id.clone(),
            other => panic!("not applied: {other:?} in {outcomes:?}"),
        })
        .collect()
}

fn find<'a>(rs: &'a [Resource], addr: &str) -> &'a Resource {
    rs.iter().find(|r| r.address.to_string() == addr).unwrap_or_else(|| {
        panic!(
            "{addr} not in {:?}",
            rs.iter().map(|r| r.address.to_string()).collect::<Vec<_>>()
        )
    })
}

mod connector {
    use super::*;

    #[tokio::test]
    async fn creates_a_tree_in_one_batch_and_reads_it_back() {
        let env = Env::start().await;
        env.add_account("act_1001", "USD").await;
        let account = env.account("social", "act_1001", "USD");
        let conn = env.connector(&account);
        env.reset_counters().await;
        let batch = campaign_tree("social", "Spring Sale", 3, 2);
        let out = conn.apply(&account, &batch).await.unwrap();
        let ids = applied_ids(&out);
        assert_eq!(ids.len(), 10);
        // 1 label + 1 campaign + 3 ad sets + 6 × (creative + ad) = 17 calls would fit ⌈17/50⌉ = 1 batch, but a batch
        // may not hold two ad sets of one campaign: 3 batches, one per ad set (its ads with it).
        assert_eq!(env.requests("POST /v25.0/ (batch)").await, 3);

        let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
        assert!(snap.complete);
        let c = find(&snap.resources, "social/campaign/Spring Sale");
        assert_eq!(c.id.as_deref(), Some(ids[0].as_str()));
        assert!(c.owned, "the ownership ad label is on the campaign");
        assert_eq!(c.fields["budget.daily"], usd("50.00"));
        assert_eq!(c.fields["objective"], Value::str("outcome_traffic"));
        assert_eq!(c.fields["status"], Value::str("paused"));
        let s = find(&snap.resources, "social/campaign/Spring Sale/ad_set/Set 1");
        assert!(s.owned);
        for (k, v) in adset_fields() {
            assert_eq!(s.fields.get(&k), Some(&v), "{k}");
        }
        let a = find(&snap.resources, "social/campaign/Spring Sale/ad_set/Set 2/ad/Ad 2.1");
        assert!(a.owned);
        for (k, v) in ad_fields("Shoes 2.1") {
            assert_eq!(a.fields.get(&k), Some(&v), "{k}");
        }
        assert!(a.observed.contains_key("effective_status"));
        let h = conn.health(&account).await.unwrap();
        assert!(h.ok, "{}", h.detail);
        let wrong = Account {
            currency: Currency::from_code("EUR").unwrap(),
            ..account.clone()
        };
        let h = conn.health(&wrong).await.unwrap();
        assert!(!h.ok && h.detail.contains("currency"), "{}", h.detail);
        // The stored budget is in minor units: $50.00 → 5000.
        assert_eq!(
            env.object(&ids[0]).await["fields"]["daily_budget"]
                .to_string()
                .trim_matches('"'),
            "5000"
        );
    }

    #[tokio::test]
    async fn yen_budgets_have_no_minor_units() {
        let env = Env::start().await;
        env.add_account("act_2002", "JPY").await;
        let account = env.account("tokyo", "act_2002", "JPY");
        let conn = env.connector(&account);
        let yen = Value::Money(Money::parse("5000", Currency::from_code("JPY").unwrap()).unwrap());
        let batch = ApplyBatch {
            ops: vec![create(
                Address::account("tokyo").child(Kind::Campaign, "Yen"),
                None,
                campaign_fields(yen.clone()),
            )],
        };
        let ids = applied_ids(&conn.apply(&account, &batch).await.unwrap());
        assert_eq!(
            env.object(&ids[0]).await["fields"]["daily_budget"]
                .to_string()
                .trim_matches('"'),
            "5000"
        );
        let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
        assert_eq!(find(&snap.resources, "tokyo/campaign/Yen").fields["budget.daily"], yen);
    }

    #[tokio::test]
    async fn precision_beyond_the_offset_fails_that_operation_only() {
        let env = Env::start().await;
        env.add_account("act_3003", "COP").await;
        let account = env.account("bogota", "act_3003", "COP");
        let conn = env.connector(&account);
        let cop = Currency::from_code("COP").unwrap();
        let batch = ApplyBatch {
            ops: vec![
                create(
                    Address::account("bogota").child(Kind::Campaign, "Cents"),
                    None,
                    campaign_fields(Value::Money(Money::parse("5000.50", cop).unwrap())),
                ),
                create(
                    Address::account("bogota").child(Kind::Campaign, "Whole"),
                    None,
                    campaign_fields(Value::Money(Money::parse("5000", cop).unwrap())),
                ),
            ],
        };
        let out = conn.apply(&account, &batch).await.unwrap();
        match &out[0] {
            OpOutcome::Failed(e) => {
                assert_eq!(e.code, "adsctl.mapping");
                assert!(e.message.contains("more precision"), "{}", e.message);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(out[1], OpOutcome::Applied { .. }));
    }
}

mod lifecycle {
    use super::*;

    fn update(address: Address, id: &str, set: BTreeMap<String, Value>, before: BTreeMap<String, Value>) -> Operation {
        Operation {
            kind: address.kind().unwrap(),
            address,
            action: OpAction::Update {
                id: id.into(),
                set,
                before,
            },
            parent: None,
            refs: BTreeMap::new(),
        }
    }

    fn simple(address: Address, action: OpAction) -> Operation {
        Operation {
            kind: address.kind().unwrap(),
            address,
            action,
            parent: None,
            refs: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn updates_swaps_creatives_pauses_removes_and_adopts() {
        let env = Env::start().await;
        env.add_account("act_4004", "USD").await;
        let account = env.account("social", "act_4004", "USD");
        let conn = env.connector(&account);
        let ids = applied_ids(
            &conn
                .apply(&account, &campaign_tree("social", "Summer", 1, 2))
                .await
                .unwrap(),
        );
        let (cid, sid, ad0, ad1) = (&ids[0], &ids[1], &ids[2], &ids[3]);
        let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
        let ad0_addr = "social/campaign/Summer/ad_set/Set 0/ad/Ad 0.0";
        assert!(find(&snap.resources, ad0_addr).owned);
        let old_creative = env.object(ad0).await["fields"]["creative"]["id"].clone();

        let c = Address::account("social").child(Kind::Campaign, "Summer");
        let s = c.child(Kind::AdSet, "Set 0");
        let batch = ApplyBatch {
            ops: vec![
                update(
                    c.clone(),
                    cid,
                    fields(&[("budget.daily", usd("60.00")), ("status", Value::str("active"))]),
                    fields(&[("budget.daily", usd("50.00")), ("status", Value::str("paused"))]),
                ),
                update(
                    s.clone(),
                    sid,
                    fields(&[
                        ("targeting.countries", set(&["US", "CA"])),
                        ("targeting.age_max", Value::Int(55)),
                    ]),
                    fields(&[
                        ("targeting.countries", set(&["US"])),
                        ("targeting.age_max", Value::Int(45)),
                    ]),
                ),
                update(
                    s.child(Kind::Ad, "Ad 0.0"),
                    ad0,
                    fields(&[("creative.headline", Value::str("Summer shoes"))]),
                    fields(&[("creative.headline", Value::str("Shoes 0.0"))]),
                ),
                simple(s.child(Kind::Ad, "Ad 0.1"), OpAction::Pause { id: ad1.clone() }),
            ],
        };
        let out = conn.apply(&account, &batch).await.unwrap();
        applied_ids(&out);
        let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
        let rc = find(&snap.resources, "social/campaign/Summer");
        assert_eq!(rc.fields["budget.daily"], usd("60.00"));
        assert_eq!(rc.fields["status"], Value::str("active"));
        let rs = find(&snap.resources, "social/campaign/Summer/ad_set/Set 0");
        assert_eq!(rs.fields["targeting.countries"], set(&["CA", "US"]));
        assert_eq!(rs.fields["targeting.age_max"], Value::Int(55));
        // Untouched targeting survives the whole-spec update.
        assert_eq!(rs.fields["targeting.age_min"], Value::Int(25));
        assert_eq!(
            rs.fields["targeting.publisher_platforms"],
            set(&["facebook", "instagram"])
        );
        let ra = find(&snap.resources, ad0_addr);
        assert_eq!(
            ra.id.as_deref(),
            Some(ad0.as_str()),
            "the ad is kept, its creative swapped"
        );
        assert_eq!(ra.fields["creative.headline"], Value::str("Summer shoes"));
        assert_eq!(
            ra.fields["creative.message"],
            Value::str("Spring is here."),
            "the rest of the creative is kept"
        );
        let new_creative = env.object(ad0).await["fields"]["creative"]["id"].clone();
        assert!(new_creative.is_string() && old_creative.is_string());
        assert_ne!(new_creative, old_creative, "a new creative was made and swapped in");
        let paused = find(&snap.resources, "social/campaign/Summer/ad_set/Set 0/ad/Ad 0.1");
        assert_eq!(paused.fields["status"], Value::str("paused"));

        // Remove (DELETED): gone from a normal read, still there when pinned.
        let out = conn
            .apply(
                &account,
                &ApplyBatch {
                    ops: vec![simple(
                        s.child(Kind::Ad, "Ad 0.1"),
                        OpAction::Remove { id: ad1.clone() },
                    )],
                },
            )
            .await
            .unwrap();
        applied_ids(&out);
        let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
        assert!(!snap.resources.iter().any(|r| r.id.as_deref() == Some(ad1.as_str())));
        let pinned = conn
            .read(
                &account,
                &ReadRequest {
                    since: None,
                    pinned_ids: vec![ad1.clone()],
                },
            )
            .await
            .unwrap();
        let gone = pinned
            .resources
            .iter()
            .find(|r| r.id.as_deref() == Some(ad1.as_str()))
            .expect("pinned");
        assert_eq!(gone.fields["status"], Value::str("deleted"));

        // An object made in the UI is not owned until adopted.
        let ui = env
            .http
            .post(format!("{}/v25.0/act_4004/campaigns", env.url()))
            .form(&[
                ("name", "Made in the UI"),
                ("objective", "OUTCOME_TRAFFIC"),
                ("special_ad_categories", "[]"),
                ("status", "PAUSED"),
                ("access_token", defaults::META_ACCESS_TOKEN),
            ])
            .send()
            .await
            .unwrap()
            .json::<Json>()
            .await
            .unwrap();
        let ui_id = ui["id"].as_str().unwrap().to_string();
        let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
        assert!(!find(&snap.resources, "social/campaign/Made in the UI").owned);
        let out = conn
            .apply(
                &account,
                &ApplyBatch {
                    ops: vec![simple(
                        Address::account("social").child(Kind::Campaign, "Made in the UI"),
                        OpAction::Adopt { id: ui_id.clone() },
                    )],
                },
            )
            .await
            .unwrap();
        assert_eq!(applied_ids(&out), vec![ui_id]);
        let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
        assert!(find(&snap.resources, "social/campaign/Made in the UI").owned);
    }

    #[tokio::test]
    async fn a_disapproved_ad_is_reported_with_its_feedback() {
        let env = Env::start().await;
        env.add_account("act_5005", "USD").await;
        let account = env.account("social", "act_5005", "USD");
        let conn = env.connector(&account);
        let ids = applied_ids(
            &conn
                .apply(&account, &campaign_tree("social", "Review", 1, 1))
                .await
                .unwrap(),
        );
        env.admin(
            &format!("/_emulator/meta/review/{}", ids[2]),
            json!({"outcome": "DISAPPROVED", "feedback": "Ads may not promote weapons."}),
        )
        .await;
        let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
        let ad = find(&snap.resources, "social/campaign/Review/ad_set/Set 0/ad/Ad 0.0");
        assert_eq!(ad.observed["effective_status"], "disapproved");
        assert!(ad.observed["review_feedback"].contains("weapons"), "{:?}", ad.observed);
    }

    #[tokio::test]
    async fn incremental_reads_return_what_changed() {
        let env = Env::start().await;
        env.add_account("act_6006", "USD").await;
        let account = env.account("social", "act_6006", "USD");
        let conn = env.connector(&account);
        let ids = applied_ids(
            &conn
                .apply(&account, &campaign_tree("social", "Inc", 1, 2))
                .await
                .unwrap(),
        );
        let full = conn.read(&account, &ReadRequest::default()).await.unwrap();
        let marker = full.marker.clone().expect("marker");
        // Two seconds later (emulated), one ad is deleted.
        env.admin("/_emulator/meta/clock", json!({"advance_secs": 5})).await;
        let s = Address::account("social")
            .child(Kind::Campaign, "Inc")
            .child(Kind::AdSet, "Set 0");
        applied_ids(
            &conn
                .apply(
                    &account,
                    &ApplyBatch {
                        ops: vec![simple(
                            s.child(Kind::Ad, "Ad 0.1"),
                            OpAction::Remove { id: ids[3].clone() },
                        )],
                    },
                )
                .await
                .unwrap(),
        );
        let delta = conn
            .read(
                &account,
                &ReadRequest {
                    since: Some(marker.clone()),
                    pinned_ids: Vec::new(),
                },
            )
            .await
            .unwrap();
        assert!(!delta.complete);
        assert!(delta.removed_ids.contains(&ids[3]), "{:?}", delta.removed_ids);
        let time = |m: &str| m.split_once(':').unwrap().0.parse::<i64>().unwrap();
        assert!(time(&delta.marker.unwrap()) >= time(&marker));

        // A custom conversion deleted in the UI just leaves the list: an incremental read whose marker remembers
        // another set of custom conversions is made a full one, so the deletion is seen.
        let before = conn
            .read(&account, &ReadRequest::default())
            .await
            .unwrap()
            .marker
            .unwrap();
        let cc = env
            .admin_graph_post(
                "act_6006/customconversions",
                &[
                    ("name", "Thanks"),
                    ("event_source_id", "123"),
                    ("rule", r#"{"url":{"i_contains":"thanks"}}"#),
                ],
            )
            .await;
        let after_create = conn
            .read(
                &account,
                &ReadRequest {
                    since: Some(before),
                    pinned_ids: Vec::new(),
                },
            )
            .await
            .unwrap();
        assert!(after_create.complete, "another set of custom conversions: a full read");
        assert!(after_create.resources.iter().any(|r| r.kind == Kind::CustomConversion));
        let same = conn
            .read(
                &account,
                &ReadRequest {
                    since: after_create.marker.clone(),
                    pinned_ids: Vec::new(),
                },
            )
            .await
            .unwrap();
        assert!(!same.complete, "the same set: incremental");
        env.admin_graph_delete(cc["id"].as_str().unwrap()).await;
        let after_delete = conn
            .read(
                &account,
                &ReadRequest {
                    since: same.marker,
                    pinned_ids: Vec::new(),
                },
            )
            .await
            .unwrap();
        assert!(after_delete.complete);
        assert!(after_delete.resources.iter().all(|r| r.kind != Kind::CustomConversion));
    }

    /// Split tests are read whole on every read and their ids join the marker: one made or deleted in Ads
    /// Manager makes the next incremental read a full one, so a deletion is seen; adopting one writes its marker.
    #[tokio::test]
    async fn incremental_reads_see_split_tests_come_and_go() {
        let env = Env::start().await;
        env.add_account("act_6016", "USD").await;
        let account = env.account("social", "act_6016", "USD");
        let conn = env.connector(&account);
        let campaign = env
            .admin_graph_post(
                "act_6016/campaigns",
                &[
                    ("name", "C"),
                    ("objective", "OUTCOME_TRAFFIC"),
                    ("status", "ACTIVE"),
                    ("special_ad_categories", "[]"),
                    ("daily_budget", "3000"),
                ],
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut sets = Vec::new();
        for name in ["A", "B"] {
            let r = env
                .admin_graph_post(
                    "act_6016/adsets",
                    &[
                        ("name", name),
                        ("campaign_id", &campaign),
                        ("optimization_goal", "LINK_CLICKS"),
                        ("billing_event", "IMPRESSIONS"),
                        ("targeting", r#"{"geo_locations":{"countries":["US"]}}"#),
                        ("status", "ACTIVE"),
                    ],
                )
                .await;
            sets.push(r["id"].as_str().unwrap().to_string());
        }
        let before = conn.read(&account, &ReadRequest::default()).await.unwrap().marker;
        let start = (chrono::Utc::now().timestamp() + 86_400).to_string();
        let end = (chrono::Utc::now().timestamp() + 10 * 86_400).to_string();
        let cells = json!([
            {"name": "A", "treatment_percentage": 50, "adsets": [sets[0]]},
            {"name": "B", "treatment_percentage": 50, "adsets": [sets[1]]},
        ])
        .to_string();
        let study = env
            .admin_graph_post(
                "5550001/ad_studies",
                &[
                    ("name", "Made in Ads Manager"),
                    ("type", "SPLIT_TEST"),
                    ("start_time", &start),
                    ("end_time", &end),
                    ("cells", &cells),
                ],
            )
            .await;
        let req = |since: Option<String>| ReadRequest {
            since,
            pinned_ids: Vec::new(),
        };
        let after_create = conn.read(&account, &req(before)).await.unwrap();
        assert!(after_create.complete, "another set of split tests: a full read");
        let st = find(&after_create.resources, "social/split_test/Made in Ads Manager");
        assert!(!st.owned, "no marker: someone else's");
        let same = conn.read(&account, &req(after_create.marker.clone())).await.unwrap();
        assert!(!same.complete, "the same set: incremental");
        assert!(
            same.resources.iter().any(|r| r.kind == Kind::SplitTest),
            "read whole each time"
        );

        // Adopting it (`lifecycle: { adopt: true }`) writes the marker at the end of its description.
        let id = study["id"].as_str().unwrap().to_string();
        let out = conn
            .apply(
                &account,
                &ApplyBatch {
                    ops: vec![simple(
                        Address::account("social").child(Kind::SplitTest, "Made in Ads Manager"),
                        OpAction::Adopt { id: id.clone() },
                    )],
                },
            )
            .await
            .unwrap();
        assert_eq!(applied_ids(&out), vec![id]);
        let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
        assert!(find(&snap.resources, "social/split_test/Made in Ads Manager").owned);
        let same = conn.read(&account, &req(snap.marker.clone())).await.unwrap();
        env.admin_graph_delete(study["id"].as_str().unwrap()).await;
        let after_delete = conn.read(&account, &req(same.marker)).await.unwrap();
        assert!(after_delete.complete);
        assert!(after_delete.resources.iter().all(|r| r.kind != Kind::SplitTest));
    }
}

/// Catalog ads through the `Connector` trait: a product set made on its catalog with the marker in its name,
/// renamed and refiltered in place, not paused, adopted by writing the marker, and a deletion made in Commerce
/// Manager seen by an incremental read.
mod catalog_connector {
    use super::*;

    #[tokio::test]
    async fn product_sets_are_made_renamed_adopted_and_followed_incrementally() {
        let env = Env::start().await;
        env.add_account("act_6106", "USD").await;
        env.admin("/_emulator/meta/catalogs", json!({"id": "7788", "name": "Shop"}))
            .await;
        adsctl::platforms::meta::catalog::declare("act_6106", "7788");
        let account = env.account("shop", "act_6106", "USD");
        let conn = env.connector(&account);
        let addr = Address::account("shop").child(Kind::ProductSet, "Shoes");
        let f = fields(&[
            ("catalog_id", Value::str("7788")),
            ("filter", Value::str(r#"{"brand":{"eq":"Acme"}}"#)),
        ]);
        let out = conn
            .apply(
                &account,
                &ApplyBatch {
                    ops: vec![create(addr.clone(), None, f)],
                },
            )
            .await
            .unwrap();
        let id = applied_ids(&out).remove(0);
        let stored = env.admin_get(&format!("/_emulator/meta/objects/{id}")).await;
        assert_eq!(stored["fields"]["name"], json!("Shoes [adsctl-managed]"));
        assert_eq!(stored["fields"]["product_catalog_id"], json!("7788"));

        // renamed and refiltered in place
        let renamed = Address::account("shop").child(Kind::ProductSet, "Trail shoes");
        let update = Operation {
            kind: Kind::ProductSet,
            address: renamed.clone(),
            action: OpAction::Update {
                id: id.clone(),
                set: fields(&[
                    ("name", Value::str("Trail shoes")),
                    ("filter", Value::str(r#"{"brand":{"eq":"Trail"}}"#)),
                ]),
                before: BTreeMap::new(),
            },
            parent: None,
            refs: BTreeMap::new(),
        };
        let out = conn.apply(&account, &ApplyBatch { ops: vec![update] }).await.unwrap();
        assert_eq!(applied_ids(&out), vec![id.clone()]);
        let rs = conn.read(&account, &ReadRequest::default()).await.unwrap();
        let r = find(&rs.resources, "shop/product_set/Trail shoes");
        assert!(r.owned);
        assert_eq!(r.id.as_deref(), Some(id.as_str()));
        assert_eq!(r.fields["filter"], Value::str(r#"{"brand":{"eq":"Trail"}}"#));

        // nothing to pause
        let pause = Operation {
            kind: Kind::ProductSet,
            address: renamed.clone(),
            action: OpAction::Pause { id: id.clone() },
            parent: None,
            refs: BTreeMap::new(),
        };
        let out = conn.apply(&account, &ApplyBatch { ops: vec![pause] }).await.unwrap();
        assert!(matches!(out[0], OpOutcome::Skipped { .. }), "{out:?}");

        // one made in Commerce Manager is not adsctl's until adopted (the marker goes into its name)
        let foreign = env
            .admin_graph_post(
                "7788/product_sets",
                &[("name", "Sale"), ("filter", r#"{"price":{"lt":10}}"#)],
            )
            .await;
        let foreign_id = foreign["id"].as_str().unwrap().to_string();
        let rs = conn.read(&account, &ReadRequest::default()).await.unwrap();
        assert!(!find(&rs.resources, "shop/product_set/Sale").owned);
        let adopt = Operation {
            kind: Kind::ProductSet,
            address: Address::account("shop").child(Kind::ProductSet, "Sale"),
            action: OpAction::Adopt { id: foreign_id.clone() },
            parent: None,
            refs: BTreeMap::new(),
        };
        let out = conn.apply(&account, &ApplyBatch { ops: vec![adopt] }).await.unwrap();
        assert!(matches!(out[0], OpOutcome::Applied { .. }), "{out:?}");
        let full = conn.read(&account, &ReadRequest::default()).await.unwrap();
        assert!(find(&full.resources, "shop/product_set/Sale").owned);

        // a product set deleted in Commerce Manager just leaves the list: the next incremental read is a full one
        env.admin_graph_delete(&foreign_id).await;
        let after = conn
            .read(
                &account,
                &ReadRequest {
                    since: full.marker.clone(),
                    pinned_ids: Vec::new(),
                },
            )
            .await
            .unwrap();
        assert!(after.complete, "another set of product sets: a full read");
        assert!(after.resources.iter().all(|r| r.address.name() != Some("Sale")));
    }
}

fn sha(s: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(s.as_bytes()))
}

mod audiences {
    use super::*;

    fn members(range: std::ops::Range<usize>) -> Value {
        Value::Set(
            range
                .map(|i| Value::Str(sha(&format!("user{i}@example.com"))))
                .collect(),
        )
    }

    async fn emulator_members(env: &Env, id: &str) -> usize {
        let dump = env.admin_get("/_emulator/dump").await;
        dump["platforms"]["meta"]["members"][id].as_array().map_or(0, Vec::len)
    }

    #[tokio::test]
    async fn customer_files_upload_in_sessions_and_lookalikes_follow() {
        let env = Env::start().await;
        env.add_account("act_8008", "USD").await;
        let account = env.account("social", "act_8008", "USD");
        let conn = env.connector(&account);
        let aud = Address::account("social").child(Kind::Audience, "Subscribers");
        let lal = Address::account("social").child(Kind::LookalikeAudience, "Subscribers LAL 1%");
        let mut lal_op = create(
            lal.clone(),
            None,
            fields(&[
                ("origin", Value::reference(aud.clone())),
                ("country", Value::str("US")),
                ("ratio", Value::Decimal(rust_decimal::Decimal::new(1, 2))),
            ]),
        );
        lal_op.refs.insert(aud.clone(), IdRef::Pending(0));
        env.reset_counters().await;
        let batch = ApplyBatch {
            ops: vec![
                create(
                    aud.clone(),
                    None,
                    fields(&[
                        ("description", Value::str("Newsletter subscribers")),
                        ("customer_file_source", Value::str("user_provided_only")),
                        ("members", members(0..10_001)),
                    ]),
                ),
                lal_op,
            ],
        };
        let ids = applied_ids(&conn.apply(&account, &batch).await.unwrap());
        // 10,001 members: two uploads of at most 10,000, in one session.
        assert_eq!(env.requests("POST /v25.0/{id}/users").await, 2);
        assert_eq!(emulator_members(&env, &ids[0]).await, 10_001);

        let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
        let a = find(&snap.resources, "social/audience/Subscribers");
        assert_eq!(a.fields["customer_file_source"], Value::str("user_provided_only"));
        assert!(!a.fields.contains_key("members"), "members are write-only");
        let l = find(&snap.resources, "social/lookalike_audience/Subscribers LAL 1%25");
        assert_eq!(l.fields["origin"], Value::reference(aud.clone()));
        assert_eq!(l.fields["ratio"], Value::Decimal(rust_decimal::Decimal::new(1, 2)));
        assert_eq!(l.fields["country"], Value::str("US"));

        // Membership follows the file: two new, three gone.
        let out = conn
            .apply(
                &account,
                &ApplyBatch {
                    ops: vec![Operation {
                        kind: Kind::Audience,
                        address: aud.clone(),
                        action: OpAction::Update {
                            id: ids[0].clone(),
                            set: fields(&[("members", members(3..10_003))]),
                            before: fields(&[("members", members(0..10_001))]),
                        },
                        parent: None,
                        refs: BTreeMap::new(),
                    }],
                },
            )
            .await
            .unwrap();
        applied_ids(&out);
        assert_eq!(env.requests("DELETE /v25.0/{id}/users").await, 1);
        assert_eq!(emulator_members(&env, &ids[0]).await, 10_000);
    }
}

mod insights {
    use super::*;
    use adsctl::connectors::{DateRange, MetricsLevel};
    use chrono::NaiveDate;

    #[tokio::test]
    async fn short_ranges_read_directly_long_ranges_run_a_report() {
        let env = Env::start().await;
        env.admin("/_emulator/meta/config", json!({"report_run_duration_ms": 300}))
            .await;
        env.add_account("act_9009", "USD").await;
        let account = env.account("social", "act_9009", "USD");
        let conn = env.connector(&account);
        let ids = applied_ids(
            &conn
                .apply(&account, &campaign_tree("social", "Perf", 1, 1))
                .await
                .unwrap(),
        );
        env.reset_counters().await;
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        let week = conn
            .metrics(
                &account,
                MetricsLevel::Campaign,
                DateRange {
                    since: d(3, 1),
                    until: d(3, 7),
                },
            )
            .await
            .unwrap();
        assert_eq!(env.requests("POST /v25.0/act_{ad_account_id}/insights").await, 0);
        assert!(week.iter().all(|r| r.id == ids[0] && r.kind == Kind::Campaign));
        assert!(week.iter().all(|r| r.date >= d(3, 1) && r.date <= d(3, 7)));
        let long = conn
            .metrics(
                &account,
                MetricsLevel::Campaign,
                DateRange {
                    since: d(1, 1),
                    until: d(3, 31),
                },
            )
            .await
            .unwrap();
        assert_eq!(env.requests("POST /v25.0/act_{ad_account_id}/insights").await, 1);
        assert!(env.requests("GET /v25.0/{id}").await >= 1, "the report run was polled");
        // Same synthetic data either way: the week inside the long range matches.
        let in_long: Vec<_> = long
            .iter()
            .filter(|r| r.date >= d(3, 1) && r.date <= d(3, 7))
            .cloned()
            .collect();
        assert_eq!(in_long, week);
        if let Some(r) = week.first() {
            assert!(r.cost.micros() % 10_000 == 0, "spend is exact cents: {:?}", r.cost);
        }
    }
}

mod failures {
    use super::*;
    use adsctl::connectors::ConnectorError;

    #[tokio::test]
    async fn rate_limits_slow_wait_and_converge_without_duplicates() {
        let mut config = EmulatorConfig::default();
        config.rate_limits.meta.calls_per_window = Some(12);
        config.rate_limits.meta.window_secs = 1;
        let env = Env::start_with(config).await;
        env.add_account("act_1111", "USD").await;
        let account = env.account("social", "act_1111", "USD");
        // One "minute" of estimated_time_to_regain_access lasts 300 ms here (the window is one second).
        let conn = MetaConnector::with(
            &account,
            MetaConfig {
                regain_minute: Duration::from_millis(300),
                ..env.connector(&account).client().cfg.clone()
            },
            creds(),
        )
        .unwrap();
        let out = conn
            .apply(&account, &campaign_tree("social", "Limited", 2, 3))
            .await
            .unwrap();
        // The usage headers were learned: past 75 % requests were slowed, at 100 % the client waited.
        let (slowed, waited) = conn.client().throttle.stats();
        assert!(slowed > 0 && waited > 0, "slowed {slowed}, waited {waited}");
        let ids = applied_ids(&out);
        assert_eq!(ids.len(), 9);
        let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
        let ads = snap.resources.iter().filter(|r| r.kind == Kind::Ad).count();
        let campaigns = snap.resources.iter().filter(|r| r.kind == Kind::Campaign).count();
        assert_eq!((campaigns, ads), (1, 6), "no duplicates");
        let c = env.admin_get("/_emulator/requests").await;
        let limited: u64 = c["endpoints"]
            .as_object()
            .unwrap()
            .values()
            .map(|e| e["statuses"]["400"].as_u64().unwrap_or(0))
            .sum();
        let batches = env.requests("POST /v25.0/ (batch)").await;
        assert!(
            batches >= 2,
            "the calls over the limit were retried in later batches ({batches}, {limited})"
        );
    }

    #[tokio::test]
    async fn lost_responses_are_looked_up_not_recreated() {
        let env = Env::start().await;
        env.add_account("act_2222", "USD").await;
        let account = env.account("social", "act_2222", "USD");
        let conn = env.connector(&account);
        // Every faultable request loses its response after the write commits, until the faults are lifted.
        env.admin("/_emulator/faults", json!({"lost": 1.0})).await;
        let tree = campaign_tree("social", "Lost", 1, 2);
        let apply = conn.apply(&account, &tree);
        let lift = async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            env.admin("/_emulator/faults", json!({})).await;
        };
        let (out, _) = tokio::join!(apply, lift);
        let ids = applied_ids(&out.unwrap());
        let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
        let mut found: Vec<String> = snap.resources.iter().filter_map(|r| r.id.clone()).collect();
        found.sort();
        let mut want = ids.clone();
        want.sort();
        assert_eq!(found, want, "exactly the objects of the plan, once each");
    }

    /// A batch of creates whose response is lost after it committed, and whose look-ups read lagging state (the
    /// new objects are not visible yet): the creates are reported as "outcome unknown", never sent a second time.
    #[tokio::test]
    async fn a_lost_create_not_found_by_lagging_reads_fails_and_is_not_resent() {
        let env = Env::start().await;
        env.add_account("act_3333", "USD").await;
        let account = env.account("social", "act_3333", "USD");
        let conn = env.connector(&account);
        // Every request either loses its response after committing or reads the state from before the writes;
        // with this seed the batch's response is lost and the look-ups keep reading lagging state.
        env.admin("/_emulator/faults", json!({"lost": 0.5, "lag": 0.5, "seed": 7}))
            .await;
        let out = conn
            .apply(&account, &campaign_tree("social", "Unseen", 1, 1))
            .await
            .unwrap();
        env.admin("/_emulator/faults", json!({})).await;
        let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
        let campaigns = snap.resources.iter().filter(|r| r.kind == Kind::Campaign).count();
        let unknown = out
            .iter()
            .filter(|o| matches!(o, OpOutcome::Failed(e) if e.code == "meta.outcome_unknown"))
            .count();
        assert_eq!(campaigns, 1, "created once, never re-sent: {out:?}");
        assert!(
            unknown > 0,
            "the lost creates were reported as outcome unknown: {out:?}"
        );
        let OpOutcome::Failed(e) = &out[0] else {
            panic!("the campaign's create was not confirmed: {out:?}")
        };
        assert!(e.message.contains("outcome unknown"), "{e:?}");
        assert!(
            e.hint.as_deref().is_some_and(|h| h.contains("run apply again")),
            "{e:?}"
        );
        // The ad set and ad were in the same lost batch: looked up, not found either, never re-sent.
        let sets = snap.resources.iter().filter(|r| r.kind == Kind::AdSet).count();
        let ads = snap.resources.iter().filter(|r| r.kind == Kind::Ad).count();
        assert_eq!((sets, ads), (1, 1), "{out:?}");
    }

    #[tokio::test]
    async fn an_expired_token_says_how_to_log_in_again() {
        let env = Env::start().await;
        env.add_account("act_3333", "USD").await;
        let token = env.admin("/_emulator/meta/tokens", json!({"ttl_secs": 60})).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        env.admin("/_emulator/meta/clock", json!({"advance_secs": 120})).await;
        let account = env.account("social", "act_3333", "USD");
        let cfg = MetaConfig {
            base_url: env.url(),
            ..MetaConfig::default()
        };
        let conn = MetaConnector::with(
            &account,
            cfg,
            MetaCredentials {
                access_token: Secret::new(token.clone()),
                ..creds()
            },
        )
        .unwrap();
        let err = conn.read(&account, &ReadRequest::default()).await.unwrap_err();
        assert!(matches!(err, ConnectorError::Auth { .. }), "{err:?}");
        let hint = err.hint().unwrap().to_string();
        assert!(
            hint.contains("adsctl auth login social") && hint.contains("FACEBOOK_ACCESS_TOKEN"),
            "{hint}"
        );
        let shown = format!("{err} {err:?} {hint}");
        assert!(!shown.contains(&token), "the token never shows");
    }

    #[tokio::test]
    async fn validate_checks_without_changing_anything() {
        let env = Env::start().await;
        env.add_account("act_4444", "USD").await;
        let account = env.account("social", "act_4444", "USD");
        let conn = env.connector(&account);
        let batch = campaign_tree("social", "Dry", 1, 1);
        let out = conn.validate(&account, &batch).await.unwrap();
        assert_eq!(out[0], OpOutcome::Valid);
        assert!(matches!(out[1], OpOutcome::Skipped { .. }), "{:?}", out[1]);
        let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
        assert!(snap.resources.is_empty(), "{:?}", snap.resources);
        // A rejected value is reported on its operation.
        let mut bad = campaign_fields(usd("50.00"));
        bad.insert("objective".into(), Value::str("not_an_objective"));
        let out = conn
            .validate(
                &account,
                &ApplyBatch {
                    ops: vec![create(
                        Address::account("social").child(Kind::Campaign, "Bad"),
                        None,
                        bad,
                    )],
                },
            )
            .await
            .unwrap();
        match &out[0] {
            OpOutcome::Failed(e) => assert!(e.code.starts_with("100"), "{e:?}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn full_reads_page_at_the_largest_size() {
        let env = Env::start().await;
        // The emulator clamps `limit` to its maximum: asking for less than it would show as more pages.
        env.admin("/_emulator/meta/config", json!({"max_page_limit": 4})).await;
        env.add_account("act_5555", "USD").await;
        let account = env.account("social", "act_5555", "USD");
        let conn = env.connector(&account);
        let ops = (0..9)
            .map(|i| {
                create(
                    Address::account("social").child(Kind::Campaign, format!("C{i}")),
                    None,
                    campaign_fields(usd("5")),
                )
            })
            .collect();
        applied_ids(&conn.apply(&account, &ApplyBatch { ops }).await.unwrap());
        env.reset_counters().await;
        let snap = conn.read(&account, &ReadRequest::default()).await.unwrap();
        assert_eq!(snap.resources.iter().filter(|r| r.kind == Kind::Campaign).count(), 9);
        assert_eq!(env.requests("GET /v25.0/act_{ad_account_id}/campaigns").await, 3);
    }

    #[tokio::test]
    async fn appsecret_proof_is_sent_and_checked() {
        let env = Env::start().await;
        env.admin("/_emulator/meta/config", json!({"require_appsecret_proof": true}))
            .await;
        env.add_account("act_6666", "USD").await;
        let account = env.account("social", "act_6666", "USD");
        let conn = env.connector(&account);
        conn.read(&account, &ReadRequest::default())
            .await
            .expect("the proof is accepted");
        let no_secret = MetaConnector::with(
            &account,
            MetaConfig {
                base_url: env.url(),
                ..MetaConfig::default()
            },
            MetaCredentials {
                app_secret: None,
                ..creds()
            },
        )
        .unwrap();
        assert!(no_secret.read(&account, &ReadRequest::default()).await.is_err());
    }
}

mod e2e {
    use super::*;
    use std::path::Path;
    use std::process::{Command, Output};

    const CAMPAIGN: &str = r#"campaigns:
  - name: Spring Sale - Social
    account: social
    objective: traffic
    special_ad_categories: []
    status: active
    budget: { daily: BUDGET }
    bid_strategy: lowest_cost_without_cap
    ad_sets:
      - name: US 25-45
        status: active
        optimization_goal: link_clicks
        billing_event: impressions
        targeting:
          countries: [US]
          age: { min: 25, max: 45 }
          publisher_platforms: [facebook, instagram]
        ads:
          - name: Shoes
            status: active
            creative:
              page_id: "1122334455"
              link: https://www.example.com/shoes
              message: MESSAGE
              headline: HEADLINE
              call_to_action: shop_now
EXTRA
"#;

    const SECOND_AD: &str = r#"          - name: Boots
            status: active
            creative:
              page_id: "1122334455"
              link: https://www.example.com/boots
              message: Boots for the trail.
              headline: Trail boots
              call_to_action: shop_now"#;

    struct Sandbox {
        dir: tempfile::TempDir,
        url: String,
        outputs: std::cell::RefCell<String>,
    }

    impl Sandbox {
        fn new(env: &Env, act: &str, currency: &str, on_removed: &str) -> Sandbox {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(
                dir.path().join("adsctl.yaml"),
                format!(
                    "accounts:\n  social:\n    platform: meta\n    ad_account_id: {act}\n    currency: {currency}\n    on_removed: {on_removed}\n"
                ),
            )
            .unwrap();
            Sandbox {
                dir,
                url: env.url(),
                outputs: Default::default(),
            }
        }

        fn write(&self, budget: &str, headline: &str, message: &str, second_ad: bool) {
            let y = CAMPAIGN
                .replace("BUDGET", budget)
                .replace("HEADLINE", headline)
                .replace("MESSAGE", message)
                .replace("EXTRA", if second_ad { SECOND_AD } else { "" });
            std::fs::write(self.dir.path().join("campaigns.yaml"), y).unwrap();
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        fn run(&self, args: &[&str]) -> Output {
            let o = Command::new(env!("CARGO_BIN_EXE_adsctl"))
                .env("ADSCTL_CONFIRM_READ_DELAY_MS", "20")
                .args(args)
                .arg("-vv")
                .current_dir(self.path())
                .env_remove("ADSCTL_BACKEND")
                .env_remove("ADSCTL_STATE_DIR")
                .env("ADSCTL_META_ENDPOINT", &self.url)
                .env("FACEBOOK_APP_ID", defaults::META_APP_ID)
                .env("FACEBOOK_APP_SECRET", defaults::META_APP_SECRET)
                .env("FACEBOOK_ACCESS_TOKEN", defaults::META_ACCESS_TOKEN)
                .env("ADSCTL_META_RETRY_MIN_MS", "20")
                .env("ADSCTL_META_RETRY_MAX_MS", "200")
                .env("ADSCTL_META_REGAIN_MINUTE_MS", "100")
                .env("ADSCTL_META_SLOW_DOWN_MAX_MS", "50")
                .env("RUST_LOG", "trace")
                .env("NO_COLOR", "1")
                .output()
                .unwrap();
            let mut all = self.outputs.borrow_mut();
            all.push_str(&String::from_utf8_lossy(&o.stdout));
            all.push_str(&String::from_utf8_lossy(&o.stderr));
            o
        }

        /// Run, expect an exit code, return stdout + stderr.
        fn expect(&self, args: &[&str], code: i32) -> String {
            let o = self.run(args);
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            assert_eq!(o.status.code(), Some(code), "adsctl {args:?}:\n{text}");
            text
        }

        /// Nothing secret in anything the binary printed so far.
        fn assert_no_secrets(&self) {
            let all = self.outputs.borrow();
            let proof = MetaCredentials {
                app_id: None,
                app_secret: Some(Secret::new(defaults::META_APP_SECRET)),
                access_token: Secret::new(defaults::META_ACCESS_TOKEN),
            }
            .appsecret_proof()
            .unwrap();
            for (what, s) in [
                ("access token", defaults::META_ACCESS_TOKEN),
                ("app secret", defaults::META_APP_SECRET),
                ("appsecret_proof", proof.expose()),
            ] {
                assert!(!all.contains(s), "the {what} was printed");
            }
            assert!(!all.is_empty());
        }
    }

    fn live(env: &Env, act: &str, rt: &tokio::runtime::Handle) -> Vec<Resource> {
        let account = env.account("social", act, "USD");
        let conn = env.connector(&account);
        rt.block_on(conn.read(&account, &ReadRequest::default()))
            .unwrap()
            .resources
    }

    /// The ad set's promoted object (pixel and standard event) through the binary: plan → apply → empty plan →
    /// edit → drift → a fresh runner (no state directory): empty plan.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn promoted_object_lifecycle() {
        let env = Env::start().await;
        env.add_account("act_7778", "USD").await;
        let rt = tokio::runtime::Handle::current();
        let s = Sandbox::new(&env, "act_7778", "USD", "pause");
        let write = |event: &str| {
            let y = CAMPAIGN
                .replace("objective: traffic", "objective: sales")
                .replace(
                    "optimization_goal: link_clicks",
                    &format!("optimization_goal: offsite_conversions\n        promoted_object: {{ pixel_id: \"123456789012345\", event: {event} }}"),
                )
                .replace("BUDGET", "30")
                .replace("HEADLINE", "Spring Sale")
                .replace("MESSAGE", "Spring is here.")
                .replace("EXTRA", "");
            std::fs::write(s.path().join("campaigns.yaml"), y).unwrap();
        };
        write("purchase");
        tokio::task::block_in_place(|| {
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("promoted_object"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);
            let rs = live(&env, "act_7778", &rt);
            let set = find(&rs, "social/campaign/Spring Sale - Social/ad_set/US 25-45");
            let po = &set.fields["promoted_object"];
            assert_eq!(
                po,
                &Value::Map(
                    [
                        ("custom_event_type".to_string(), Value::str("purchase")),
                        ("pixel_id".to_string(), Value::str("123456789012345")),
                    ]
                    .into()
                )
            );

            // An edit: the event.
            write("lead");
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("promoted_object"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);

            // Drift made in the UI is shown and repaired.
            let id = set.id.clone().unwrap();
            rt.block_on(env.admin(
                &format!("/_emulator/meta/objects/{id}"),
                json!({"promoted_object": {"pixel_id": "123456789012345", "custom_event_type": "ADD_TO_CART"}}),
            ));
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("promoted_object"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);

            // A fresh runner: the same YAML without the state directory.
            std::fs::remove_dir_all(s.path().join(".adsctl")).unwrap();
            s.expect(&["plan", "--detailed-exitcode"], 0);
        });
        s.assert_no_secrets();
    }

    /// A custom conversion and an ad set optimising for it, through the binary: plan → apply → empty plan → edit →
    /// drift made in the UI, repaired → import → empty plan → a fresh runner: empty plan → a rule change is a
    /// replacement held back without `--allow-replace` → removal (`on_removed: remove`) deletes it once no ad set
    /// promotes it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn custom_conversion_lifecycle() {
        let env = Env::start().await;
        env.add_account("act_7779", "USD").await;
        let rt = tokio::runtime::Handle::current();
        let s = Sandbox::new(&env, "act_7779", "USD", "remove");
        let conversions = |value: &str, description: &str, rule: &str| {
            format!(
                "custom_conversions:\n  - name: Thank-you page\n    account: social\n    pixel_id: \"123456789012345\"\n    \
                 rule: {rule}\n    event_type: purchase\n    default_conversion_value: {value}\n    description: {description}\n"
            )
        };
        let rule = "{ url: { i_contains: thank-you } }";
        let campaign = |promoted: bool| {
            let po = if promoted {
                "optimization_goal: offsite_conversions\n        promoted_object: { pixel_id: \"123456789012345\", event: purchase, custom_conversion: Thank-you page }"
            } else {
                "optimization_goal: offsite_conversions\n        promoted_object: { pixel_id: \"123456789012345\", event: purchase }"
            };
            CAMPAIGN
                .replace("objective: traffic", "objective: sales")
                .replace("optimization_goal: link_clicks", po)
                .replace("BUDGET", "30")
                .replace("HEADLINE", "Spring Sale")
                .replace("MESSAGE", "Spring is here.")
                .replace("EXTRA", "")
        };
        std::fs::write(s.path().join("conversions.yaml"), conversions("25", "Orders", rule)).unwrap();
        std::fs::write(s.path().join("campaigns.yaml"), campaign(true)).unwrap();
        tokio::task::block_in_place(|| {
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("custom_conversion/Thank-you page"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);
            let rs = live(&env, "act_7779", &rt);
            let cc = find(&rs, "social/custom_conversion/Thank-you page");
            assert!(cc.owned, "the marker at the end of its description makes it adsctl's");
            assert_eq!(cc.fields["pixel_id"], Value::str("123456789012345"));
            assert_eq!(cc.fields["rule"], Value::str(r#"{"url":{"i_contains":"thank-you"}}"#));
            assert_eq!(cc.fields["event_type"], Value::str("purchase"));
            assert_eq!(cc.fields["default_conversion_value"], usd("25"));
            assert_eq!(cc.fields["description"], Value::str("Orders"));
            let cc_id = cc.id.clone().unwrap();
            let set = find(&rs, "social/campaign/Spring Sale - Social/ad_set/US 25-45");
            let Value::Map(po) = &set.fields["promoted_object"] else {
                panic!("{:?}", set.fields)
            };
            assert_eq!(
                po.get("custom_conversion"),
                Some(&Value::reference(
                    "social/custom_conversion/Thank-you page".parse().unwrap()
                ))
            );
            let stored = rt.block_on(env.admin_get(&format!("/_emulator/meta/objects/{}", set.id.clone().unwrap())));
            assert_eq!(
                stored["fields"]["promoted_object"]["custom_conversion_id"],
                json!(cc_id)
            );

            // An edit of what Meta lets change in place: the default value and the description.
            std::fs::write(s.path().join("conversions.yaml"), conversions("30", "All orders", rule)).unwrap();
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("default_conversion_value"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);
            let rs = live(&env, "act_7779", &rt);
            let cc = find(&rs, "social/custom_conversion/Thank-you page");
            assert_eq!(cc.fields["default_conversion_value"], usd("30"));
            assert_eq!(cc.id.as_deref(), Some(cc_id.as_str()), "changed in place");

            // Drift made in the UI is shown and repaired.
            rt.block_on(env.admin(
                &format!("/_emulator/meta/objects/{cc_id}"),
                json!({"default_conversion_value": 99}),
            ));
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("default_conversion_value"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);

            // Import writes it back as YAML that plans nothing (outside the project, which would read it too).
            let elsewhere = tempfile::tempdir().unwrap();
            let out = elsewhere.path().join("imported");
            s.expect(&["import", "social", "--out", out.to_str().unwrap()], 0);
            let imported = std::fs::read_to_string(out.join("custom-conversions.yaml")).unwrap();
            assert!(imported.contains("custom_conversions:"), "{imported}");
            let o = Command::new(env!("CARGO_BIN_EXE_adsctl"))
                .env("ADSCTL_CONFIRM_READ_DELAY_MS", "20")
                .args(["plan", "--detailed-exitcode"])
                .current_dir(&out)
                .env_remove("ADSCTL_BACKEND")
                .env_remove("ADSCTL_STATE_DIR")
                .env("ADSCTL_META_ENDPOINT", &s.url)
                .env("FACEBOOK_ACCESS_TOKEN", defaults::META_ACCESS_TOKEN)
                .env("NO_COLOR", "1")
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            s.outputs.borrow_mut().push_str(&text);
            assert_eq!(
                o.status.code(),
                Some(0),
                "the imported project plans no changes:\n{imported}\n{text}"
            );

            // A fresh runner: the same YAML without the state directory.
            std::fs::remove_dir_all(s.path().join(".adsctl")).unwrap();
            s.expect(&["plan", "--detailed-exitcode"], 0);

            // The rule is fixed at creation: a new rule replaces the custom conversion, held back without the flag.
            std::fs::write(
                s.path().join("conversions.yaml"),
                conversions("30", "All orders", "'{\"url\": {\"i_contains\": \"order-done\"}}'"),
            )
            .unwrap();
            let out = s.expect(&["apply", "--auto-approve"], 1);
            assert!(out.contains("--allow-replace"), "{out}");
            std::fs::write(s.path().join("conversions.yaml"), conversions("30", "All orders", rule)).unwrap();
            s.expect(&["plan", "--detailed-exitcode"], 0);

            // Removal: the ad set stops promoting it and it leaves the YAML; `on_removed: remove` deletes it.
            std::fs::write(s.path().join("campaigns.yaml"), campaign(false)).unwrap();
            std::fs::remove_file(s.path().join("conversions.yaml")).unwrap();
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("custom_conversion/Thank-you page"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);
            let rs = live(&env, "act_7779", &rt);
            assert!(rs.iter().all(|r| r.kind != Kind::CustomConversion), "deleted");
        });
        s.assert_no_secrets();
    }

    /// Catalog ads through the binary: a product set on a seeded catalog, a catalog sales campaign, an ad set
    /// promoting the product set and a dynamic creative; plan → apply → empty plan → edit (filter, template text)
    /// → drift made in the UI (the filter), repaired → import → empty plan → a fresh runner: empty plan → removal
    /// (`on_removed: remove`) deletes the product set once no ad set promotes it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn catalog_ads_lifecycle() {
        let env = Env::start().await;
        env.add_account("act_7780", "USD").await;
        env.admin("/_emulator/meta/catalogs", json!({"id": "4455667788", "name": "Shop"}))
            .await;
        let rt = tokio::runtime::Handle::current();
        let s = Sandbox::new(&env, "act_7780", "USD", "remove");
        let catalogs = |filter: &str| {
            format!(
                "product_catalogs:\n  - name: Shop\n    account: social\n    catalog_id: \"4455667788\"\n    product_sets:\n      \
                 - name: Running shoes\n        filter: {filter}\n"
            )
        };
        let campaign = |with_set: bool, message: &str| {
            let dpa = if with_set {
                "optimization_goal: link_clicks\n        product_set: Running shoes".to_string()
            } else {
                "optimization_goal: link_clicks".to_string()
            };
            let c = CAMPAIGN
                .replace("objective: traffic", "objective: sales\n    catalog: Shop")
                .replace("optimization_goal: link_clicks", &dpa)
                .replace("BUDGET", "30")
                .replace(
                    "HEADLINE",
                    if with_set {
                        "\"{{product.name}}\""
                    } else {
                        "Spring Sale"
                    },
                )
                .replace("EXTRA", "");
            if with_set {
                c.replace("MESSAGE", &format!("\"{message}\"\n              dynamic: true"))
            } else {
                c.replace("MESSAGE", "Spring is here.")
            }
        };
        let filter = "{ retailer_id: { is_any: [SKU-1, SKU-2] } }";
        std::fs::write(s.path().join("catalogs.yaml"), catalogs(filter)).unwrap();
        std::fs::write(
            s.path().join("campaigns.yaml"),
            campaign(true, "Get {{product.name | titleize}} for {{product.price}}"),
        )
        .unwrap();
        adsctl::platforms::meta::catalog::declare("act_7780", "4455667788");
        tokio::task::block_in_place(|| {
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("product_set/Running shoes"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);
            let rs = live(&env, "act_7780", &rt);
            let ps = find(&rs, "social/product_set/Running shoes");
            assert!(ps.owned, "the marker at the end of its name makes it adsctl's");
            assert_eq!(ps.fields["catalog_id"], Value::str("4455667788"));
            assert_eq!(
                ps.fields["filter"],
                Value::str(r#"{"retailer_id":{"is_any":["SKU-1","SKU-2"]}}"#)
            );
            let ps_id = ps.id.clone().unwrap();
            let stored = rt.block_on(env.admin_get(&format!("/_emulator/meta/objects/{ps_id}")));
            assert_eq!(stored["fields"]["name"], json!("Running shoes [adsctl-managed]"));
            let cp = find(&rs, "social/campaign/Spring Sale - Social");
            assert_eq!(cp.fields["catalog_id"], Value::str("4455667788"));
            let set = find(&rs, "social/campaign/Spring Sale - Social/ad_set/US 25-45");
            let Value::Map(po) = &set.fields["promoted_object"] else {
                panic!("{:?}", set.fields)
            };
            let set_ref = Value::reference("social/product_set/Running shoes".parse().unwrap());
            assert_eq!(po.get("product_set"), Some(&set_ref));
            let ad = find(&rs, "social/campaign/Spring Sale - Social/ad_set/US 25-45/ad/Shoes");
            assert_eq!(ad.fields["creative.dynamic"], Value::Bool(true));
            assert_eq!(ad.fields["creative.product_set"], set_ref);
            assert_eq!(
                ad.fields["creative.message"],
                Value::str("Get {{product.name | titleize}} for {{product.price}}")
            );

            // Edits: the filter changes in place, the template text swaps the creative.
            let other = "{ and: [ { product_type: { i_contains: shoes } }, { price: { lt: 10000 } } ] }";
            std::fs::write(s.path().join("catalogs.yaml"), catalogs(other)).unwrap();
            std::fs::write(
                s.path().join("campaigns.yaml"),
                campaign(true, "{{product.brand}}: {{product.current_price}}"),
            )
            .unwrap();
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("filter"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);
            let rs = live(&env, "act_7780", &rt);
            let ps = find(&rs, "social/product_set/Running shoes");
            assert_eq!(ps.id.as_deref(), Some(ps_id.as_str()), "changed in place");

            // Drift made in the UI is shown and repaired.
            rt.block_on(env.admin(
                &format!("/_emulator/meta/objects/{ps_id}"),
                json!({"filter": "{\"brand\":{\"eq\":\"Other\"}}"}),
            ));
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("filter"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);

            // Import writes it back as YAML that plans nothing (outside the project).
            let elsewhere = tempfile::tempdir().unwrap();
            let out = elsewhere.path().join("imported");
            s.expect(&["import", "social", "--out", out.to_str().unwrap()], 0);
            let imported = std::fs::read_to_string(out.join("product-catalogs.yaml")).unwrap();
            assert!(imported.contains("product_catalogs:"), "{imported}");
            let o = Command::new(env!("CARGO_BIN_EXE_adsctl"))
                .env("ADSCTL_CONFIRM_READ_DELAY_MS", "20")
                .args(["plan", "--detailed-exitcode"])
                .current_dir(&out)
                .env_remove("ADSCTL_BACKEND")
                .env_remove("ADSCTL_STATE_DIR")
                .env("ADSCTL_META_ENDPOINT", &s.url)
                .env("FACEBOOK_ACCESS_TOKEN", defaults::META_ACCESS_TOKEN)
                .env("NO_COLOR", "1")
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            s.outputs.borrow_mut().push_str(&text);
            let campaigns = std::fs::read_to_string(out.join("campaigns")).unwrap_or_default();
            assert_eq!(
                o.status.code(),
                Some(0),
                "the imported project plans no changes:\n{imported}\n{campaigns}\n{text}"
            );

            // A fresh runner: the same YAML without the state directory.
            std::fs::remove_dir_all(s.path().join(".adsctl")).unwrap();
            s.expect(&["plan", "--detailed-exitcode"], 0);

            // Removal: the campaign and the catalog leave the YAML; `on_removed: remove` deletes the campaign (its ad
            // set with it) first, then the product set no ad set promotes any more.
            std::fs::remove_file(s.path().join("campaigns.yaml")).unwrap();
            std::fs::remove_file(s.path().join("catalogs.yaml")).unwrap();
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("product_set \"Running shoes\" (remove)"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);
            let rs = live(&env, "act_7780", &rt);
            assert!(rs.iter().all(|r| r.kind != Kind::ProductSet), "deleted");
        });
        s.assert_no_secrets();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn plan_apply_drift_swap_review_and_removal() {
        let env = Env::start().await;
        env.add_account("act_7777", "USD").await;
        let rt = tokio::runtime::Handle::current();
        let s = Sandbox::new(&env, "act_7777", "USD", "pause");
        s.write("30", "Spring Sale", "Spring is here.", true);
        tokio::task::block_in_place(|| {
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("to create"), "{plan}");
            // A dry run through execution_options=["validate_only"] changes nothing.
            let checked = s.expect(&["plan", "--validate"], 0);
            assert!(checked.contains("Spring Sale - Social: valid"), "{checked}");
            assert!(checked.contains("its creative is valid"), "{checked}");
            assert!(live(&env, "act_7777", &rt).is_empty());
            s.expect(&["apply", "--auto-approve"], 0);
            let plan = s.expect(&["plan", "--detailed-exitcode"], 0);
            assert!(plan.contains("no changes"), "{plan}");

            // An edit: the budget.
            s.write("40", "Spring Sale", "Spring is here.", true);
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("budget.daily"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);

            // Drift made in the UI is repaired.
            let rs = live(&env, "act_7777", &rt);
            let c = find(&rs, "social/campaign/Spring Sale - Social");
            assert_eq!(c.fields["budget.daily"], usd("40"));
            let cid = c.id.clone().unwrap();
            rt.block_on(env.admin(
                &format!("/_emulator/meta/objects/{cid}"),
                json!({"daily_budget": "9900"}),
            ));
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("budget.daily"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);
            assert_eq!(
                find(&live(&env, "act_7777", &rt), "social/campaign/Spring Sale - Social").fields["budget.daily"],
                usd("40")
            );

            // A creative change is a swap, and the plan says so.
            s.write("40", "Spring Sale - now 40% off", "Spring is here.", true);
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("swap"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);

            // A disapproved ad is reported, not silently converged.
            s.write("40", "Spring Sale - now 40% off", "DISAPPROVE_ME please", true);
            s.expect(&["apply", "--auto-approve"], 0);
            let plan = s.expect(&["plan"], 0);
            assert!(plan.contains("disapproved"), "{plan}");

            // Removal policy `pause`: the ad that left the YAML is paused, not deleted.
            s.write("40", "Spring Sale - now 40% off", "DISAPPROVE_ME please", false);
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("Boots"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            let rs = live(&env, "act_7777", &rt);
            let boots = find(&rs, "social/campaign/Spring Sale - Social/ad_set/US 25-45/ad/Boots");
            assert_eq!(boots.fields["status"], Value::str("paused"));
            let plan = s.expect(&["plan", "--detailed-exitcode"], 0);
            assert!(plan.contains("no changes"), "{plan}");
            s.assert_no_secrets();
        });
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn import_then_plan_has_no_changes() {
        let env = Env::start().await;
        env.add_account("act_5151", "USD").await;
        let s = Sandbox::new(&env, "act_5151", "USD", "pause");
        s.write("30", "Import me", "Imported.", true);
        // An audience and a lookalike too (members are write-only: imported with an empty file).
        let mut csv = String::from("email\n");
        for i in 0..150 {
            csv.push_str(&format!("user{i}@example.com\n"));
        }
        std::fs::write(s.path().join("subscribers.csv"), csv).unwrap();
        std::fs::write(
            s.path().join("audiences.yaml"),
            "audiences:\n  - name: Subscribers\n    accounts: [social]\n    description: Newsletter\n    \
             customer_file: { path: subscribers.csv, column: email }\nlookalike_audiences:\n  - name: Subscribers LAL\n    \
             account: social\n    origin: Subscribers\n    country: US\n    ratio: 0.02\n",
        )
        .unwrap();
        tokio::task::block_in_place(|| {
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);
            let out = s.path().join("imported");
            s.expect(&["import", "social", "--out", out.to_str().unwrap()], 0);
            let plan_imported = |args: &[&str]| {
                let o = Command::new(env!("CARGO_BIN_EXE_adsctl"))
                    .env("ADSCTL_CONFIRM_READ_DELAY_MS", "20")
                    .args(args)
                    .arg(out.to_str().unwrap())
                    .current_dir(&out)
                    .env_remove("ADSCTL_BACKEND")
                    .env_remove("ADSCTL_STATE_DIR")
                    .env("ADSCTL_META_ENDPOINT", &s.url)
                    .env("FACEBOOK_ACCESS_TOKEN", defaults::META_ACCESS_TOKEN)
                    .env("NO_COLOR", "1")
                    .output()
                    .unwrap();
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                s.outputs.borrow_mut().push_str(&text);
                (o.status.code(), text)
            };
            // Campaigns, ad sets and ads carry the ownership ad label, audiences the marker at the end of their
            // description: a repository without adsctl's state sees them all as adsctl's, unchanged.
            let (code, text) = plan_imported(&["plan", "--detailed-exitcode"]);
            assert_eq!(code, Some(0), "{text}");
            assert!(text.contains("6 unchanged"), "{text}");
            let (code, text) = plan_imported(&["apply", "--auto-approve"]);
            assert_eq!(code, Some(0), "{text}");
            let (code, text) = plan_imported(&["plan", "--detailed-exitcode"]);
            assert_eq!(code, Some(0), "the imported project plans no changes:\n{text}");
            s.assert_no_secrets();
        });
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn credential_errors_say_how_to_fix_them() {
        let env = Env::start().await;
        env.add_account("act_6161", "USD").await;
        let s = Sandbox::new(&env, "act_6161", "USD", "pause");
        s.write("30", "Creds", "Hello.", false);
        let expired = env.admin("/_emulator/meta/tokens", json!({"ttl_secs": 60})).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        env.admin("/_emulator/meta/clock", json!({"advance_secs": 600})).await;
        tokio::task::block_in_place(|| {
            let run = |token: Option<&str>| {
                let mut c = Command::new(env!("CARGO_BIN_EXE_adsctl"));
                c.env("ADSCTL_CONFIRM_READ_DELAY_MS", "20");
                c.args(["plan"])
                    .current_dir(s.path())
                    .env_remove("ADSCTL_BACKEND")
                    .env_remove("ADSCTL_STATE_DIR")
                    .env_remove("FACEBOOK_ACCESS_TOKEN")
                    .env("ADSCTL_META_ENDPOINT", &s.url)
                    .env("NO_COLOR", "1");
                if let Some(t) = token {
                    c.env("FACEBOOK_ACCESS_TOKEN", t);
                }
                let o = c.output().unwrap();
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                s.outputs.borrow_mut().push_str(&text);
                (o.status.code(), text)
            };
            let (code, text) = run(None);
            assert_ne!(code, Some(0), "{text}");
            assert!(
                text.contains("adsctl auth login social") && text.contains("FACEBOOK_ACCESS_TOKEN"),
                "{text}"
            );
            let (code, text) = run(Some(&expired));
            assert_ne!(code, Some(0), "{text}");
            assert!(text.contains("adsctl auth login social"), "{text}");
            assert!(!text.contains(&expired), "the expired token is not printed");
            s.assert_no_secrets();
        });
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn removal_policy_remove_deletes_and_yen_budgets_are_whole() {
        let env = Env::start().await;
        env.add_account("act_8888", "JPY").await;
        let rt = tokio::runtime::Handle::current();
        let s = Sandbox::new(&env, "act_8888", "JPY", "remove");
        s.write("5000", "Tokyo", "Hello.", true);
        tokio::task::block_in_place(|| {
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);
            let account = env.account("social", "act_8888", "JPY");
            let conn = env.connector(&account);
            let rs = rt
                .block_on(conn.read(&account, &ReadRequest::default()))
                .unwrap()
                .resources;
            let c = find(&rs, "social/campaign/Spring Sale - Social");
            let stored = rt.block_on(env.object(c.id.as_deref().unwrap()));
            assert_eq!(stored["fields"]["daily_budget"].to_string().trim_matches('"'), "5000");
            s.write("5000", "Tokyo", "Hello.", false);
            s.expect(&["apply", "--auto-approve"], 0);
            let rs = rt
                .block_on(conn.read(&account, &ReadRequest::default()))
                .unwrap()
                .resources;
            assert!(
                !rs.iter().any(|r| r.address.name() == Some("Boots")),
                "deleted, so not read"
            );
            s.expect(&["plan", "--detailed-exitcode"], 0);
            s.assert_no_secrets();
        });
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rate_limited_apply_converges_without_duplicates() {
        let mut config = EmulatorConfig::default();
        config.rate_limits.meta.calls_per_window = Some(6);
        config.rate_limits.meta.window_secs = 1;
        let env = Env::start_with(config).await;
        env.add_account("act_9999", "USD").await;
        let rt = tokio::runtime::Handle::current();
        let s = Sandbox::new(&env, "act_9999", "USD", "pause");
        s.write("30", "Limited", "Slow down.", true);
        tokio::task::block_in_place(|| {
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);
            let rs = live(&env, "act_9999", &rt);
            assert_eq!(rs.iter().filter(|r| r.kind == Kind::Ad).count(), 2, "no duplicates");
            assert_eq!(rs.iter().filter(|r| r.kind == Kind::Campaign).count(), 1);
            s.assert_no_secrets();
        });
    }

    /// A split test of two ad sets, through the binary: plan → apply → empty plan → an edit Meta takes in place
    /// (description, end) → drift made behind adsctl's back, repaired → new shares are a replacement held back
    /// without `--allow-replace`, made with it → import → empty plan → a fresh runner: empty plan → removal
    /// (`on_removed: remove`) deletes the study, not its ad sets.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn split_test_lifecycle() {
        let env = Env::start().await;
        env.add_account("act_7781", "USD").await;
        let rt = tokio::runtime::Handle::current();
        let s = Sandbox::new(&env, "act_7781", "USD", "remove");
        let project = std::fs::read_to_string(s.path().join("adsctl.yaml")).unwrap();
        std::fs::write(
            s.path().join("adsctl.yaml"),
            project.replace(
                "    currency: USD\n",
                "    currency: USD\n    business_id: \"5550001\"\n",
            ),
        )
        .unwrap();
        let second = r#"      - name: US 46-65
        status: active
        optimization_goal: link_clicks
        billing_event: impressions
        targeting:
          countries: [US]
          age: { min: 46, max: 65 }
        ads:
          - name: Shoes older
            status: active
            creative:
              page_id: "1122334455"
              link: https://www.example.com/shoes
              message: Comfort first.
              headline: Comfort shoes
              call_to_action: shop_now"#;
        let campaigns = CAMPAIGN
            .replace("BUDGET", "40")
            .replace("HEADLINE", "Spring Sale")
            .replace("MESSAGE", "Spring is here.")
            .replace("EXTRA", second);
        std::fs::write(s.path().join("campaigns.yaml"), campaigns).unwrap();
        let day = 86_400;
        let now = chrono::Utc::now().timestamp();
        let t = |secs: i64| {
            chrono::DateTime::from_timestamp(secs - secs % 3600, 0)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        let (start, end, sooner) = (t(now + 10 * day), t(now + 24 * day), t(now + 20 * day));
        let test = |a: u32, b: u32, end: &str, description: &str| {
            format!(
                "split_tests:\n  - name: Age test\n    account: social\n    description: {description}\n    \
                 start_time: {start}\n    end_time: {end}\n    objective: conversions\n    cells:\n      \
                 - name: Younger\n        percent: {a}\n        ad_sets: [US 25-45]\n      \
                 - name: Older\n        percent: {b}\n        ad_sets: [US 46-65]\n"
            )
        };
        std::fs::write(s.path().join("split-tests.yaml"), test(60, 40, &end, "Which age buys")).unwrap();
        tokio::task::block_in_place(|| {
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("split_test \"Age test\""), "{plan}");
            assert!(
                plan.contains("name: \"Younger\", percent: 60"),
                "the arms and their shares:\n{plan}"
            );
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);
            let rs = live(&env, "act_7781", &rt);
            let st = find(&rs, "social/split_test/Age test");
            assert!(st.owned, "the marker at the end of its description makes it adsctl's");
            assert_eq!(st.fields["business_id"], Value::str("5550001"));
            assert_eq!(st.fields["objective"], Value::str("conversions"));
            assert_eq!(st.fields["description"], Value::str("Which age buys"));
            let Value::List(cells) = &st.fields["cells"] else {
                panic!("{:?}", st.fields)
            };
            let Value::Map(first) = &cells[0] else {
                panic!("{cells:?}")
            };
            assert_eq!(first.get("percent"), Some(&Value::Int(60)));
            assert_eq!(
                first.get("ad_sets"),
                Some(&Value::List(vec![Value::reference(
                    "social/campaign/Spring Sale - Social/ad_set/US 25-45".parse().unwrap()
                )]))
            );
            let id = st.id.clone().unwrap();
            let stored = rt.block_on(env.admin_get(&format!("/_emulator/meta/objects/{id}")));
            assert_eq!(stored["fields"]["business"]["id"], json!("5550001"));

            // What Meta changes in place: the description and the end.
            std::fs::write(
                s.path().join("split-tests.yaml"),
                test(60, 40, &sooner, "Which age buys more"),
            )
            .unwrap();
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("end_time"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);
            let rs = live(&env, "act_7781", &rt);
            let st = find(&rs, "social/split_test/Age test");
            assert_eq!(st.id.as_deref(), Some(id.as_str()), "changed in place");
            assert_eq!(st.fields["end_time"], Value::str(&sooner));

            // Drift made behind adsctl's back (the end moved in Ads Manager) is shown and repaired.
            rt.block_on(env.admin(
                &format!("/_emulator/meta/objects/{id}"),
                json!({"end_time": "2031-01-01T00:00:00+0000"}),
            ));
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("end_time"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);

            // New shares: the cells are fixed once the study exists (adsctl replaces it, before it starts).
            std::fs::write(
                s.path().join("split-tests.yaml"),
                test(50, 50, &sooner, "Which age buys more"),
            )
            .unwrap();
            let out = s.expect(&["apply", "--auto-approve"], 1);
            assert!(out.contains("--allow-replace"), "{out}");
            s.expect(&["apply", "--auto-approve", "--allow-replace"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);
            let rs = live(&env, "act_7781", &rt);
            let st = find(&rs, "social/split_test/Age test");
            assert_ne!(st.id.as_deref(), Some(id.as_str()), "replaced");
            assert_eq!(rs.iter().filter(|r| r.kind == Kind::SplitTest).count(), 1);

            // Once a study has started (here: its start moved into the past behind adsctl's back), Meta fixes its
            // start and cells: adsctl neither deletes nor replaces a running test.
            let id2 = st.id.clone().unwrap();
            rt.block_on(env.admin(
                &format!("/_emulator/meta/objects/{id2}"),
                json!({"start_time": "2020-01-01T00:00:00+0000"}),
            ));
            let plan = s.expect(&["plan", "--detailed-exitcode"], 1);
            assert!(
                plan.contains("start_time") && plan.contains("--allow-replace"),
                "{plan}"
            );
            let out = s.expect(&["apply", "--auto-approve", "--allow-replace"], 1);
            assert!(out.contains("has started and has not ended"), "{out}");
            let rs = live(&env, "act_7781", &rt);
            assert_eq!(
                find(&rs, "social/split_test/Age test").id.as_deref(),
                Some(id2.as_str()),
                "kept"
            );
            rt.block_on(env.admin(
                &format!("/_emulator/meta/objects/{id2}"),
                json!({"start_time": start.replace('Z', "+0000")}),
            ));
            s.expect(&["plan", "--detailed-exitcode"], 0);

            // Import writes it back as YAML that plans nothing (outside the project, which would read it too).
            let elsewhere = tempfile::tempdir().unwrap();
            let out = elsewhere.path().join("imported");
            s.expect(&["import", "social", "--out", out.to_str().unwrap()], 0);
            let imported = std::fs::read_to_string(out.join("split-tests.yaml")).unwrap();
            assert!(
                imported.contains("split_tests:") && imported.contains("US 46-65"),
                "{imported}"
            );
            let project = std::fs::read_to_string(out.join("adsctl.yaml")).unwrap();
            assert!(project.contains("business_id"), "{project}");
            let o = Command::new(env!("CARGO_BIN_EXE_adsctl"))
                .env("ADSCTL_CONFIRM_READ_DELAY_MS", "20")
                .args(["plan", "--detailed-exitcode"])
                .current_dir(&out)
                .env_remove("ADSCTL_BACKEND")
                .env_remove("ADSCTL_STATE_DIR")
                .env("ADSCTL_META_ENDPOINT", &s.url)
                .env("FACEBOOK_ACCESS_TOKEN", defaults::META_ACCESS_TOKEN)
                .env("NO_COLOR", "1")
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            s.outputs.borrow_mut().push_str(&text);
            assert_eq!(
                o.status.code(),
                Some(0),
                "the imported project plans no changes:\n{imported}\n{text}"
            );

            // A fresh runner: the same YAML without the state directory.
            std::fs::remove_dir_all(s.path().join(".adsctl")).unwrap();
            s.expect(&["plan", "--detailed-exitcode"], 0);

            // Its results per arm: the cells' ad sets' insights summed per cell.
            let report = s.expect(&["metrics", "--level", "arm", "--last", "7d", "--format", "csv"], 0);
            assert!(
                report.contains("social/split_test/Age test [Younger]")
                    && report.contains("social/split_test/Age test [Older]"),
                "{report}"
            );
            assert!(
                !report.contains("ad_set/US 25-45"),
                "ad sets are reported by their arm:\n{report}"
            );

            // Removal: the test leaves the YAML; `on_removed: remove` deletes it and leaves its ad sets.
            std::fs::remove_file(s.path().join("split-tests.yaml")).unwrap();
            let plan = s.expect(&["plan", "--detailed-exitcode"], 2);
            assert!(plan.contains("Age test"), "{plan}");
            s.expect(&["apply", "--auto-approve"], 0);
            s.expect(&["plan", "--detailed-exitcode"], 0);
            let rs = live(&env, "act_7781", &rt);
            assert!(rs.iter().all(|r| r.kind != Kind::SplitTest), "deleted");
            assert_eq!(rs.iter().filter(|r| r.kind == Kind::AdSet).count(), 2);
        });
        s.assert_no_secrets();
    }
}

mod secrets {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Every log line at TRACE (ours, reqwest's, hyper's), every outcome and error, while applying, reading,
    /// failing on a rate limit, losing responses and using a rejected token: no secret anywhere.
    #[tokio::test]
    async fn no_secret_in_logs_outcomes_or_errors() {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        // Process-wide (a thread-scoped subscriber can miss callsites cached by concurrent tests); the other
        // tests' logs land in the buffer too, which only widens the check.
        tracing::subscriber::set_global_default(subscriber).expect("only this test installs a subscriber");

        let env = Env::start().await;
        env.add_account("act_1212", "USD").await;
        let account = env.account("social", "act_1212", "USD");
        let conn = env.connector(&account);
        let mut seen = String::new();
        let out = conn.apply(&account, &campaign_tree("social", "Quiet", 1, 1)).await;
        seen.push_str(&format!("{out:?}"));
        env.admin("/_emulator/faults", json!({"lost": 0.4, "429": 0.3, "seed": 3}))
            .await;
        let out = conn.apply(&account, &campaign_tree("social", "Noisy", 1, 2)).await;
        seen.push_str(&format!("{out:?}"));
        env.admin("/_emulator/faults", json!({})).await;
        let snap = conn.read(&account, &ReadRequest::default()).await;
        seen.push_str(&format!("{snap:?}"));
        let bad = MetaConnector::with(
            &account,
            MetaConfig {
                base_url: env.url(),
                ..MetaConfig::default()
            },
            MetaCredentials {
                access_token: Secret::new("EAAnot-a-real-token-0123456789"),
                ..creds()
            },
        )
        .unwrap();
        let err = bad.read(&account, &ReadRequest::default()).await.unwrap_err();
        seen.push_str(&format!("{err} {err:?} {:?}", err.hint()));
        let logs = String::from_utf8_lossy(&buf.0.lock().unwrap()).into_owned();
        assert!(logs.contains("meta request"), "logging was captured");
        assert!(
            logs.contains("retrying") || logs.contains("looking up"),
            "the faults were met (rate limits retried, lost responses looked up)"
        );
        let all = format!("{logs}\n{seen}");
        let proof = creds().appsecret_proof().unwrap();
        for (what, s) in [
            ("access token", defaults::META_ACCESS_TOKEN),
            ("rejected token", "EAAnot-a-real-token-0123456789"),
            ("app secret", defaults::META_APP_SECRET),
            ("appsecret_proof", proof.expose()),
        ] {
            assert!(!all.contains(s), "the {what} was printed");
        }
    }
}
