//! The Google Ads connector against the in-process emulator (which was written independently from the same
//! reference): through the `Connector` trait, then end to end through the `adsctl` binary.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use adsctl::connectors::{ApplyBatch, Connector, IdRef, OpAction, OpOutcome, Operation, ReadRequest};
use adsctl::emulator::platform::defaults;
use adsctl::emulator::{Emulator, EmulatorConfig, EmulatorHandle, FaultSpec};
use adsctl::platforms::google_ads::config::{Credentials, Settings, StaticCredentials};
use adsctl::platforms::google_ads::GoogleAdsConnector;

use adsctl::model::{Account, Address, Currency, Guardrails, Kind, Money, Platform, RemovalPolicy, Resource, Value};
use adsctl::secret::Secret;

const CUSTOMER: &str = "1234567890";

async fn emulator(config: EmulatorConfig) -> EmulatorHandle {
    Emulator::start(config).await.expect("emulator starts")
}

fn account(url: &str) -> Account {
    Account {
        name: "acme".into(),
        platform: Platform::GoogleAds,
        platform_id: CUSTOMER.into(),
        login_customer_id: None,
        currency: Currency::from_code("USD").unwrap(),
        time_zone: None,
        on_removed: RemovalPolicy::Pause,
        guardrails: Guardrails::default(),
        endpoint: Some(url.to_string()),
    }
}

fn creds() -> Credentials {
    Credentials {
        client_id: defaults::GOOGLE_CLIENT_ID.into(),
        client_secret: Secret::new(defaults::GOOGLE_CLIENT_SECRET),
        developer_token: Secret::new(defaults::GOOGLE_DEVELOPER_TOKEN),
        refresh_token: Secret::new(defaults::GOOGLE_REFRESH_TOKEN),
        login_customer_id: None,
    }
}

/// Fast retries so that fault tests stay quick.
fn settings(acct: &Account) -> Settings {
    let mut s = Settings::from_lookup(acct, |_| None);
    s.retry_min_delay = Duration::from_millis(10);
    s.retry_max_delay = Duration::from_millis(100);
    s.max_retries = 8;
    s.max_retry_delay = Duration::from_secs(5);
    s.timeout = Duration::from_secs(10);
    s.poll_interval = Duration::from_millis(20);
    s
}

fn connector(acct: &Account, s: Settings) -> GoogleAdsConnector {
    GoogleAdsConnector::with_settings(acct, Arc::new(StaticCredentials(creds())), s).expect("connector")
}

fn money(units: i64) -> Value {
    Value::Money(Money::from_micros(units * 1_000_000))
}

fn fields(xs: Vec<(&str, Value)>) -> BTreeMap<String, Value> {
    xs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn texts(prefix: &str, n: usize) -> Value {
    Value::List(
        (1..=n)
            .map(|i| Value::Map([("text".to_string(), Value::str(format!("{prefix} {i}")))].into()))
            .collect(),
    )
}

fn create(addr: &Address, kind: Kind, parent: Option<IdRef>, f: BTreeMap<String, Value>) -> Operation {
    Operation {
        address: addr.clone(),
        kind,
        action: OpAction::Create { fields: f },
        parent,
        refs: BTreeMap::new(),
    }
}

/// budget + campaign + `groups` ad groups × (2 ads + 10 keywords).
fn tree(name: &str, groups: usize) -> Vec<Operation> {
    let acct = Address::account("acme");
    let c = acct.child(Kind::Campaign, name);
    let mut ops = vec![create(
        &c,
        Kind::Campaign,
        None,
        fields(vec![
            ("status", Value::str("enabled")),
            ("channel", Value::str("search")),
            ("budget.daily", money(50)),
            ("bidding.strategy", Value::str("maximize_conversions")),
            ("bidding.target_cpa", Value::Money(Money::from_micros(12_500_000))),
            ("network.google_search", Value::Bool(true)),
            ("network.search_network", Value::Bool(false)),
            ("eu_political_advertising", Value::Bool(false)),
        ]),
    )];
    for g in 0..groups {
        let ga = c.child(Kind::AdGroup, format!("Group {g}"));
        let gi = ops.len();
        ops.push(create(
            &ga,
            Kind::AdGroup,
            Some(IdRef::Pending(0)),
            fields(vec![
                ("status", Value::str("enabled")),
                ("default_cpc", Value::Money(Money::from_micros(1_200_000))),
            ]),
        ));
        for a in 1..=2 {
            ops.push(create(
                &ga.child(Kind::Ad, a.to_string()),
                Kind::Ad,
                Some(IdRef::Pending(gi)),
                fields(vec![
                    ("status", Value::str("enabled")),
                    ("headlines", texts(&format!("Headline {g}{a}"), 3)),
                    ("descriptions", texts(&format!("Description {g}{a}"), 2)),
                    ("final_url", Value::Url("https://www.example.com/shoes".into())),
                    ("path1", Value::str("shoes")),
                ]),
            ));
        }
        for k in 0..10 {
            ops.push(create(
                &ga.child(Kind::Keyword, format!("shoe {g} {k}:phrase")),
                Kind::Keyword,
                Some(IdRef::Pending(gi)),
                fields(vec![("status", Value::str("enabled"))]),
            ));
        }
    }
    ops
}

fn endpoint_requests(h: &EmulatorHandle, needle: &str) -> u64 {
    h.counters()
        .snapshot()
        .endpoints
        .iter()
        .filter(|(k, _)| k.contains(needle))
        .map(|(_, v)| v.requests)
        .sum()
}

fn by_address(rs: &[Resource]) -> BTreeMap<String, Resource> {
    rs.iter().map(|r| (r.address.to_string(), r.clone())).collect()
}

fn all_applied(outcomes: &[OpOutcome]) {
    for (i, o) in outcomes.iter().enumerate() {
        assert!(matches!(o, OpOutcome::Applied { .. }), "operation {i}: {o:?}");
    }
}

mod connector {
    use super::*;

    #[tokio::test]
    async fn a_new_tree_is_one_mutate_and_a_full_read_one_search_per_kind() {
        let h = emulator(EmulatorConfig::default()).await;
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        let ops = tree("Spring", 3);
        assert_eq!(ops.len(), 1 + 3 * 13);
        h.counters().reset();
        let outcomes = c.apply(&acct, &ApplyBatch { ops: ops.clone() }).await.unwrap();
        all_applied(&outcomes);
        assert_eq!(
            endpoint_requests(&h, "googleAds:mutate"),
            1,
            "{:#?}",
            h.counters().snapshot()
        );
        assert_eq!(endpoint_requests(&h, ":mutate"), 1);
        // 40 objects + the own budget + the label + 40 label links (campaign, 3 ad groups, 6 ads, 30 keywords).
        let ops_sent: u64 = h
            .counters()
            .snapshot()
            .endpoints
            .iter()
            .filter(|(k, _)| k.contains("googleAds:mutate"))
            .map(|(_, v)| v.operations)
            .sum();
        assert_eq!(ops_sent, 82);
        assert_eq!(
            adsctl::platforms::google_ads::operation_cost(&ops),
            81,
            "the label is a one-off"
        );

        h.counters().reset();
        let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
        assert!(snap.complete);
        let searches = endpoint_requests(&h, "googleAds:searchStream");
        // labels, budgets, campaigns, ad groups, ads, keywords, campaign negative keywords, user lists, conversion
        // actions, custom conversion goals, campaigns' goal configs, Performance Max asset groups and their listing
        // group filters, experiments, experiment arms (campaigns, ad groups, ads and keywords bring their labels
        // along), change_status: one request per kind, whatever the number of objects.
        assert_eq!(searches, 16, "{:#?}", h.counters().snapshot());
        assert_eq!(endpoint_requests(&h, ":mutate"), 0);

        let live = by_address(&snap.resources);
        for op in &ops {
            let r = live
                .get(&op.address.to_string())
                .unwrap_or_else(|| panic!("{} not read back: {:#?}", op.address, live.keys().collect::<Vec<_>>()));
            assert_eq!(r.kind, op.kind);
            let OpAction::Create { fields } = &op.action else {
                unreachable!()
            };
            for (k, v) in fields {
                assert_eq!(r.fields.get(k), Some(v), "{} field {k}", op.address);
            }
            if matches!(op.kind, Kind::Campaign | Kind::AdGroup | Kind::Ad | Kind::Keyword) {
                assert!(r.owned, "{} carries the ownership label", op.address);
            }
        }
        assert_eq!(live.values().filter(|r| r.kind == Kind::Keyword).count(), 30);
        let health = c.health(&acct).await.unwrap();
        assert!(health.ok, "{}", health.detail);
        assert_eq!(live.values().filter(|r| r.kind == Kind::Ad).count(), 6);
        h.shutdown().await.unwrap();
    }
}

/// A request straight to the emulated REST API, behind adsctl's back; the response body.
async fn ads_post(h: &EmulatorHandle, path: &str, body: serde_json::Value) -> serde_json::Value {
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(format!("{}/token", h.url()))
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
    let resp = http
        .post(format!("{}/v25/customers/{CUSTOMER}/{path}", h.url()))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .header("developer-token", defaults::GOOGLE_DEVELOPER_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(status.is_success(), "{path}: {body}");
    body
}

mod labels {
    use super::*;
    use serde_json::json;

    /// Ownership and user labels come from `campaign.labels`, `ad_group.labels` and `ad_group_ad.labels`: a
    /// full read is one query per kind of resource plus change_status, with no query for the label links.
    #[tokio::test]
    async fn a_full_read_is_one_search_per_kind_and_takes_labels_from_the_objects() {
        let h = emulator(EmulatorConfig::default()).await;
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        let mut ops = tree("Spring", 2);
        if let OpAction::Create { fields } = &mut ops[0].action {
            fields.insert(
                "labels".into(),
                Value::Set([Value::str("brand"), Value::str("q3")].into()),
            );
        }
        all_applied(&c.apply(&acct, &ApplyBatch { ops }).await.unwrap());

        // Behind adsctl's back: Group 1 loses the owner label; a hand-made campaign carries only "brand".
        let rows = ads_post(
            &h,
            "googleAds:searchStream",
            json!({"query": "SELECT label.id, label.name FROM label"}),
        )
        .await;
        let label_id = |name: &str| {
            rows[0]["results"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["label"]["name"] == name)
                .and_then(|r| r["label"]["id"].as_str())
                .unwrap()
                .to_string()
        };
        let (owner, brand) = (label_id("adsctl-managed"), label_id("brand"));
        let rows = ads_post(
            &h,
            "googleAds:searchStream",
            json!({"query": "SELECT ad_group.id FROM ad_group WHERE ad_group.name = 'Group 1'"}),
        )
        .await;
        let group1 = rows[0]["results"][0]["adGroup"]["id"].as_str().unwrap().to_string();
        ads_post(
            &h,
            "adGroupLabels:mutate",
            json!({"operations": [{"remove": format!("customers/{CUSTOMER}/adGroupLabels/{group1}~{owner}")}]}),
        )
        .await;
        let b = format!("customers/{CUSTOMER}/campaignBudgets/-1");
        let m = format!("customers/{CUSTOMER}/campaigns/-2");
        ads_post(
            &h,
            "googleAds:mutate",
            json!({"mutateOperations": [
                {"campaignBudgetOperation": {"create": {"resourceName": b, "name": "Manual budget", "amountMicros": "10000000", "explicitlyShared": false}}},
                {"campaignOperation": {"create": {"resourceName": m, "name": "Manual", "status": "PAUSED", "advertisingChannelType": "SEARCH", "campaignBudget": b, "manualCpc": {"enhancedCpcEnabled": false}, "containsEuPoliticalAdvertising": "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING"}}},
                {"campaignLabelOperation": {"create": {"campaign": m, "label": format!("customers/{CUSTOMER}/labels/{brand}")}}}
            ]}),
        )
        .await;

        h.counters().reset();
        let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
        // (with the asset groups and listing group filters of Performance Max campaigns, experiments and their arms)
        assert_eq!(
            endpoint_requests(&h, "googleAds:searchStream"),
            16,
            "{:#?}",
            h.counters().snapshot()
        );
        assert_eq!(
            h.counters().snapshot().total_requests,
            16,
            "{:#?}",
            h.counters().snapshot()
        );
        let live = by_address(&snap.resources);
        let spring = &live["acme/campaign/Spring"];
        assert!(spring.owned);
        assert_eq!(
            spring.fields["labels"],
            Value::Set([Value::str("brand"), Value::str("q3")].into()),
            "user labels, without the owner label"
        );
        let manual = &live["acme/campaign/Manual"];
        assert!(!manual.owned, "a label, but not the owner label");
        assert_eq!(manual.fields["labels"], Value::Set([Value::str("brand")].into()));
        assert!(live["acme/campaign/Spring/ad_group/Group 0"].owned);
        assert!(!live["acme/campaign/Spring/ad_group/Group 1"].owned);
        assert!(
            live["acme/campaign/Spring/ad_group/Group 1/ad/1"].owned,
            "ads carry their own label"
        );
        assert!(
            live["acme/campaign/Spring/ad_group/Group 1/keyword/shoe 1 0:phrase"].owned,
            "keywords carry their own label, whoever owns their ad group"
        );
        assert!(live["acme/campaign/Spring/ad_group/Group 0/keyword/shoe 0 0:phrase"].owned);
        h.shutdown().await.unwrap();
    }
}

mod lifecycle {
    use super::*;

    fn update(r: &Resource, set: Vec<(&str, Value)>) -> Operation {
        let set = fields(set);
        let before = set
            .keys()
            .filter_map(|k| r.fields.get(k).map(|v| (k.clone(), v.clone())))
            .collect();
        Operation {
            address: r.address.clone(),
            kind: r.kind,
            action: OpAction::Update {
                id: r.id.clone().unwrap(),
                set,
                before,
            },
            parent: None,
            refs: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn updates_pause_remove_drift_and_incremental_reads() {
        let h = emulator(EmulatorConfig::default()).await;
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        all_applied(&c.apply(&acct, &ApplyBatch { ops: tree("Spring", 1) }).await.unwrap());
        all_applied(&c.apply(&acct, &ApplyBatch { ops: tree("Autumn", 1) }).await.unwrap());
        let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
        let live = by_address(&snap.resources);
        let spring = &live["acme/campaign/Spring"];
        let ad = &live["acme/campaign/Spring/ad_group/Group 0/ad/1"];

        // The budget: one update of the campaign's own budget.
        h.counters().reset();
        let ops = vec![update(spring, vec![("budget.daily", money(75))])];
        all_applied(&c.apply(&acct, &ApplyBatch { ops }).await.unwrap());
        assert_eq!(endpoint_requests(&h, "googleAds:mutate"), 1);
        let live = by_address(&c.read(&acct, &ReadRequest::default()).await.unwrap().resources);
        assert_eq!(live["acme/campaign/Spring"].fields["budget.daily"], money(75));
        let _ = ad;

        // Nothing changed since the last read: an incremental read is change_status, plus the user lists that
        // change_status does not cover (ChangeStatusResourceType has no USER_LIST).
        let marker = c.read(&acct, &ReadRequest::default()).await.unwrap().marker;
        assert!(marker.is_some(), "a full read records a change_status marker");
        h.counters().reset();
        let delta = c
            .read(
                &acct,
                &ReadRequest {
                    since: marker.clone(),
                    pinned_ids: vec![],
                },
            )
            .await
            .unwrap();
        // change_status, then the user lists, conversion actions, custom goals, goal configs, listing group filters,
        // experiments and their arms (change_status lists none of them; the goals, filters and experiments only to
        // compare with the marker's fingerprints)
        assert!(
            !delta.complete
                && delta
                    .resources
                    .iter()
                    .all(|r| matches!(r.kind, Kind::Audience | Kind::Conversion)),
            "{delta:?}"
        );
        assert_eq!(h.counters().snapshot().total_requests, 8);

        // Drift behind adsctl's back, seen by the next read.
        let rn = format!("customers/{CUSTOMER}/campaigns/{}", spring.id.as_deref().unwrap());
        let resp = reqwest::Client::new()
            .post(format!("{}/_emulator/google_ads/drift", h.url()))
            .json(&serde_json::json!({"resourceName": rn, "set": {"status": "PAUSED"}}))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{:?}", resp.text().await);
        let delta = c
            .read(
                &acct,
                &ReadRequest {
                    since: marker,
                    pinned_ids: vec![],
                },
            )
            .await
            .unwrap();
        assert!(delta.complete, "a change since the marker answers with a full read");
        let live = by_address(&delta.resources);
        assert_eq!(live["acme/campaign/Spring"].fields["status"], Value::str("paused"));

        // Pause (removal policy) and remove.
        let autumn = &live["acme/campaign/Autumn"];
        let kw = live
            .values()
            .find(|r| r.kind == Kind::Keyword && r.address.to_string().starts_with("acme/campaign/Spring/"))
            .unwrap()
            .clone();
        let ops = vec![
            Operation {
                address: autumn.address.clone(),
                kind: Kind::Campaign,
                action: OpAction::Pause {
                    id: autumn.id.clone().unwrap(),
                },
                parent: None,
                refs: BTreeMap::new(),
            },
            Operation {
                address: kw.address.clone(),
                kind: Kind::Keyword,
                action: OpAction::Remove {
                    id: kw.id.clone().unwrap(),
                },
                parent: None,
                refs: BTreeMap::new(),
            },
        ];
        all_applied(&c.apply(&acct, &ApplyBatch { ops }).await.unwrap());
        let live = by_address(&c.read(&acct, &ReadRequest::default()).await.unwrap().resources);
        assert_eq!(live["acme/campaign/Autumn"].fields["status"], Value::str("paused"));
        assert!(
            !live.contains_key(&kw.address.to_string()),
            "removed objects are not read"
        );
        // ...unless pinned.
        let pinned = c
            .read(
                &acct,
                &ReadRequest {
                    since: None,
                    pinned_ids: vec![kw.id.clone().unwrap()],
                },
            )
            .await
            .unwrap();
        assert!(pinned.resources.iter().any(|r| r.id == kw.id));
        h.shutdown().await.unwrap();
    }

    /// With a small batch limit the tree spans several requests: temporary names resolved by an earlier request
    /// are substituted in the later ones, and a rejected operation fails alone (partial failure).
    #[tokio::test]
    async fn small_batches_and_partial_failure() {
        let h = emulator(EmulatorConfig::default()).await;
        let acct = account(&h.url());
        all_applied(
            &connector(&acct, settings(&acct))
                .apply(&acct, &ApplyBatch { ops: tree("Taken", 0) })
                .await
                .unwrap(),
        );
        let mut s = settings(&acct);
        s.max_ops_per_request = 4;
        let c = connector(&acct, s);
        // the executor hands over many more; the connector cuts them into mutates of 4
        assert!(c.capabilities().max_ops_per_request >= 4);
        let mut ops = tree("Taken", 0);
        let offset = ops.len();
        ops.extend(tree("Split", 2).into_iter().map(|mut o| {
            if let Some(IdRef::Pending(i)) = &mut o.parent {
                *i += offset;
            }
            o
        }));
        h.counters().reset();
        let out = c.apply(&acct, &ApplyBatch { ops: ops.clone() }).await.unwrap();
        assert!(
            matches!(&out[0], OpOutcome::Failed(e) if e.code.contains("DUPLICATE")),
            "{:?}",
            out[0]
        );
        all_applied(&out[1..]);
        let mutates = h
            .counters()
            .snapshot()
            .endpoints
            .iter()
            .filter(|(k, _)| k.contains(":mutate"))
            .map(|(_, v)| (v.requests, v.max_operations_per_request))
            .next()
            .unwrap();
        assert!(mutates.0 > 1 && mutates.1 <= 4, "{mutates:?}");
        let live = by_address(&c.read(&acct, &ReadRequest::default()).await.unwrap().resources);
        for op in &ops[1..] {
            let r = &live[&op.address.to_string()];
            if matches!(op.kind, Kind::Campaign | Kind::AdGroup | Kind::Ad) {
                assert!(r.owned, "{}", op.address);
            }
        }
        h.shutdown().await.unwrap();
    }

    /// A validation cut into several mutates makes nothing, so an operation whose parent was validated in an
    /// earlier request is reported as not checked, not sent to fail on an unknown temporary name.
    #[tokio::test]
    async fn a_validation_spanning_requests_reports_what_it_could_not_check() {
        let h = emulator(EmulatorConfig::default()).await;
        let acct = account(&h.url());
        let mut s = settings(&acct);
        s.max_ops_per_request = 4;
        let c = connector(&acct, s);
        let ops = tree("Split", 3);
        let out = c.validate(&acct, &ApplyBatch { ops: ops.clone() }).await.unwrap();
        assert_eq!(out.len(), ops.len());
        assert!(
            out.iter().all(|o| !matches!(o, OpOutcome::Failed(_))),
            "a valid tree failed its validation: {out:?}"
        );
        assert!(
            out.iter()
                .any(|o| matches!(o, OpOutcome::Skipped { reason } if reason.contains("not checked"))),
            "{out:?}"
        );
        // nothing was made
        let live = c.read(&acct, &ReadRequest::default()).await.unwrap().resources;
        assert!(live.iter().all(|r| r.address.to_string() != "acme/campaign/Split"));
        h.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn shared_budgets_and_campaign_labels() {
        let h = emulator(EmulatorConfig::default()).await;
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        let pool = Address::account("acme").child(Kind::Budget, "Pool");
        let mut camp = tree("Pooled", 0).remove(0);
        if let OpAction::Create { fields } = &mut camp.action {
            fields.remove("budget.daily");
            fields.insert("budget.shared".into(), Value::reference(pool.clone()));
            fields.insert(
                "labels".into(),
                Value::Set([Value::str("brand"), Value::str("q3")].into()),
            );
        }
        camp.refs.insert(pool.clone(), IdRef::Pending(0));
        let ops = vec![
            create(
                &pool,
                Kind::Budget,
                None,
                fields(vec![("amount", money(90)), ("delivery_method", Value::str("standard"))]),
            ),
            camp,
        ];
        all_applied(&c.apply(&acct, &ApplyBatch { ops }).await.unwrap());
        let live = by_address(&c.read(&acct, &ReadRequest::default()).await.unwrap().resources);
        let budget = &live["acme/budget/Pool"];
        assert_eq!(budget.fields["amount"], money(90));
        let campaign = &live["acme/campaign/Pooled"];
        assert_eq!(campaign.fields["budget.shared"], Value::reference(pool.clone()));
        assert!(!campaign.fields.contains_key("budget.daily"));
        assert_eq!(
            campaign.fields["labels"],
            Value::Set([Value::str("brand"), Value::str("q3")].into())
        );
        assert!(campaign.owned);

        // Change the pool's amount and swap one label.
        let ops = vec![
            Operation {
                address: budget.address.clone(),
                kind: Kind::Budget,
                action: OpAction::Update {
                    id: budget.id.clone().unwrap(),
                    set: fields(vec![("amount", money(120))]),
                    before: fields(vec![("amount", money(90))]),
                },
                parent: None,
                refs: BTreeMap::new(),
            },
            Operation {
                address: campaign.address.clone(),
                kind: Kind::Campaign,
                action: OpAction::Update {
                    id: campaign.id.clone().unwrap(),
                    set: fields(vec![(
                        "labels",
                        Value::Set([Value::str("brand"), Value::str("q4")].into()),
                    )]),
                    before: fields(vec![("labels", campaign.fields["labels"].clone())]),
                },
                parent: None,
                refs: BTreeMap::new(),
            },
        ];
        all_applied(&c.apply(&acct, &ApplyBatch { ops }).await.unwrap());
        let live = by_address(&c.read(&acct, &ReadRequest::default()).await.unwrap().resources);
        assert_eq!(live["acme/budget/Pool"].fields["amount"], money(120));
        assert_eq!(
            live["acme/campaign/Pooled"].fields["labels"],
            Value::Set([Value::str("brand"), Value::str("q4")].into())
        );
        assert!(live["acme/campaign/Pooled"].owned);
        h.shutdown().await.unwrap();
    }

    /// A removed campaign takes its own budget along, so the name can be used again (a replace).
    #[tokio::test]
    async fn a_removed_campaign_can_be_created_again() {
        let h = emulator(EmulatorConfig::default()).await;
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        all_applied(&c.apply(&acct, &ApplyBatch { ops: tree("Again", 1) }).await.unwrap());
        let live = by_address(&c.read(&acct, &ReadRequest::default()).await.unwrap().resources);
        let camp = &live["acme/campaign/Again"];
        let remove = Operation {
            address: camp.address.clone(),
            kind: Kind::Campaign,
            action: OpAction::Remove {
                id: camp.id.clone().unwrap(),
            },
            parent: None,
            refs: BTreeMap::new(),
        };
        all_applied(&c.apply(&acct, &ApplyBatch { ops: vec![remove] }).await.unwrap());
        all_applied(&c.apply(&acct, &ApplyBatch { ops: tree("Again", 1) }).await.unwrap());
        let live = by_address(&c.read(&acct, &ReadRequest::default()).await.unwrap().resources);
        assert_ne!(live["acme/campaign/Again"].id, camp.id);
        h.shutdown().await.unwrap();
    }

    /// The reference: `AdGroupAd.ad` is IMMUTABLE; responsive search ad text changes go through AdService
    /// (`adOperation` in googleAds:mutate, `ads:mutate`).
    #[tokio::test]
    async fn a_headline_is_edited_in_place() {
        let h = emulator(EmulatorConfig::default()).await;
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        all_applied(&c.apply(&acct, &ApplyBatch { ops: tree("Spring", 1) }).await.unwrap());
        let live = by_address(&c.read(&acct, &ReadRequest::default()).await.unwrap().resources);
        let ad = &live["acme/campaign/Spring/ad_group/Group 0/ad/1"];
        let mut headlines = match &ad.fields["headlines"] {
            Value::List(h) => h.clone(),
            other => panic!("{other:?}"),
        };
        headlines[1] = Value::Map([("text".to_string(), Value::str("Free Returns Always"))].into());
        let ops = vec![update(ad, vec![("headlines", Value::List(headlines.clone()))])];
        all_applied(&c.apply(&acct, &ApplyBatch { ops }).await.unwrap());
        let live = by_address(&c.read(&acct, &ReadRequest::default()).await.unwrap().resources);
        let ad2 = &live["acme/campaign/Spring/ad_group/Group 0/ad/1"];
        assert_eq!(ad2.fields["headlines"], Value::List(headlines));
        assert_eq!(ad2.id, ad.id, "the ad was updated in place");
        h.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn validate_gives_a_verdict_per_operation_and_changes_nothing() {
        let h = emulator(EmulatorConfig::default()).await;
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        all_applied(&c.apply(&acct, &ApplyBatch { ops: tree("Taken", 1) }).await.unwrap());
        let before = c.read(&acct, &ReadRequest::default()).await.unwrap().resources.len();
        // A second campaign named "Taken" is refused; the rest of the batch is fine.
        let mut ops = tree("Taken", 0);
        let fresh = tree("Fresh", 1);
        let offset = ops.len();
        ops.extend(fresh.into_iter().map(|mut o| {
            if let Some(IdRef::Pending(i)) = &mut o.parent {
                *i += offset;
            }
            o
        }));
        h.counters().reset();
        let verdicts = c.validate(&acct, &ApplyBatch { ops: ops.clone() }).await.unwrap();
        assert_eq!(verdicts.len(), ops.len());
        match &verdicts[0] {
            OpOutcome::Failed(e) => {
                assert!(e.code.contains("DUPLICATE"), "{e:?}");
                assert!(e.hint.is_some(), "{e:?}");
            }
            other => panic!("{other:?}"),
        }
        for v in &verdicts[1..] {
            assert!(matches!(v, OpOutcome::Valid), "{v:?}");
        }
        assert_eq!(endpoint_requests(&h, "googleAds:mutate"), 1);
        let after = c.read(&acct, &ReadRequest::default()).await.unwrap().resources.len();
        assert_eq!(before, after, "validate created nothing");
        h.shutdown().await.unwrap();
    }
}

mod resilience {
    use super::*;

    fn count_names(rs: &[Resource], kind: Kind) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for r in rs.iter().filter(|r| r.kind == kind) {
            *m.entry(r.address.to_string()).or_insert(0) += 1;
        }
        m
    }

    #[tokio::test]
    async fn rate_limits_and_server_errors_are_retried_without_duplicates() {
        let config = EmulatorConfig {
            faults: FaultSpec::parse("429=0.25,5xx=0.25,seed=11").unwrap(),
            ..Default::default()
        };
        let h = emulator(config).await;
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        for name in ["One", "Two", "Three"] {
            all_applied(&c.apply(&acct, &ApplyBatch { ops: tree(name, 1) }).await.unwrap());
        }
        let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
        let faults = h.faults().injected();
        assert!(faults.values().sum::<u64>() >= 2, "faults were injected: {faults:?}");
        h.faults().set(FaultSpec::default());
        let clean = c.read(&acct, &ReadRequest::default()).await.unwrap();
        assert_eq!(snap.resources.len(), clean.resources.len());
        for kind in [Kind::Campaign, Kind::AdGroup, Kind::Ad, Kind::Keyword] {
            assert!(
                count_names(&clean.resources, kind).values().all(|n| *n == 1),
                "{kind} duplicated"
            );
        }
        assert_eq!(clean.resources.iter().filter(|r| r.kind == Kind::Campaign).count(), 3);
        h.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn a_lost_create_response_is_reported_and_the_objects_are_found_again() {
        let h = emulator(EmulatorConfig::default()).await;
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        // The label exists already, so the next request is the tree's single mutate.
        all_applied(&c.apply(&acct, &ApplyBatch { ops: tree("First", 0) }).await.unwrap());
        h.faults().set(FaultSpec::parse("lost=1").unwrap());
        let err = c.apply(&acct, &ApplyBatch { ops: tree("Lost", 1) }).await.unwrap_err();
        h.faults().set(FaultSpec::default());
        let msg = err.to_string();
        assert!(msg.contains("may have been applied"), "{msg}");
        // The write was committed: a read finds every object exactly once, so the next plan creates nothing.
        let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
        let live = by_address(&snap.resources);
        for op in tree("Lost", 1) {
            assert!(live.contains_key(&op.address.to_string()), "{}", op.address);
        }
        assert_eq!(count_names(&snap.resources, Kind::Keyword).len(), 10);
        h.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn an_exhausted_daily_quota_stops_with_its_name() {
        let mut config = EmulatorConfig::default();
        config.rate_limits.google_ads.daily_operations = Some(5);
        let h = emulator(config).await;
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        let started = std::time::Instant::now();
        let err = c.apply(&acct, &ApplyBatch { ops: tree("Big", 1) }).await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("Number of operations for basic access"), "{msg}");
        assert!(err.hint().is_some());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "it did not sleep until tomorrow"
        );
        h.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn an_expired_access_token_is_refreshed_transparently() {
        let h = emulator(EmulatorConfig::default()).await;
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        c.read(&acct, &ReadRequest::default()).await.unwrap();
        let tokens_before = endpoint_requests(&h, "/token");
        let resp = reqwest::Client::new()
            .post(format!("{}/_emulator/google_ads/expire_tokens", h.url()))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
        c.read(&acct, &ReadRequest::default()).await.unwrap();
        assert_eq!(
            endpoint_requests(&h, "/token"),
            tokens_before + 1,
            "{:#?}",
            h.counters().snapshot()
        );
        h.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn wrong_credentials_give_typed_errors_without_secrets() {
        let h = emulator(EmulatorConfig::default()).await;
        let acct = account(&h.url());
        let mut bad = creds();
        bad.developer_token = Secret::new("not-a-real-developer-token-xyz");
        let c = GoogleAdsConnector::with_settings(&acct, Arc::new(StaticCredentials(bad)), settings(&acct)).unwrap();
        let err = c.read(&acct, &ReadRequest::default()).await.unwrap_err();
        let shown = format!("{err} {err:?} {}", err.hint().unwrap_or_default());
        assert!(!shown.contains("not-a-real-developer-token-xyz"), "{shown}");
        assert!(!shown.contains(defaults::GOOGLE_REFRESH_TOKEN), "{shown}");
        assert!(err.hint().is_some(), "{shown}");

        let mut bad = creds();
        bad.refresh_token = Secret::new("1//revoked-refresh-token-xyz");
        let c = GoogleAdsConnector::with_settings(&acct, Arc::new(StaticCredentials(bad)), settings(&acct)).unwrap();
        let err = c.read(&acct, &ReadRequest::default()).await.unwrap_err();
        let shown = format!("{err} {err:?} {}", err.hint().unwrap_or_default());
        assert!(
            matches!(err, adsctl::connectors::ConnectorError::Auth { .. }),
            "{shown}"
        );
        assert!(!shown.contains("revoked-refresh-token-xyz"), "{shown}");
        h.shutdown().await.unwrap();
    }
}

mod audiences_and_metrics {
    use super::*;
    use adsctl::connectors::{DateRange, MetricsLevel};
    use sha2::{Digest, Sha256};

    fn hashes(emails: &[&str]) -> Value {
        Value::Set(
            emails
                .iter()
                .map(|e| Value::str(hex::encode(Sha256::digest(e.as_bytes()))))
                .collect(),
        )
    }

    #[tokio::test]
    async fn customer_match_membership_goes_through_offline_user_data_jobs() {
        let h = emulator(EmulatorConfig::default()).await;
        let acct = account(&h.url());
        let mut s = settings(&acct);
        s.upload_chunk = 2;
        let c = connector(&acct, s);
        let addr = Address::account("acme").child(Kind::Audience, "Subscribers");
        let members = hashes(&["a@example.com", "b@example.com", "c@example.com"]);
        let op = create(
            &addr,
            Kind::Audience,
            None,
            fields(vec![
                ("description", Value::str("Newsletter")),
                ("membership_life_span_days", Value::Int(540)),
                ("members", members.clone()),
            ]),
        );
        let out = c.apply(&acct, &ApplyBatch { ops: vec![op] }).await.unwrap();
        all_applied(&out);
        assert_eq!(endpoint_requests(&h, "offlineUserDataJobs:create"), 1);
        assert_eq!(
            endpoint_requests(&h, ":addOperations"),
            2,
            "3 identifiers in chunks of 2"
        );
        assert_eq!(endpoint_requests(&h, ":run"), 1);
        let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
        let live = by_address(&snap.resources);
        let list = &live["acme/audience/Subscribers"];
        assert_eq!(list.fields["membership_life_span_days"], Value::Int(540));
        assert!(list.owned, "adsctl marks the lists it creates");
        assert!(!list.fields.contains_key("members"), "members are write-only");

        // One added, one removed: one job each.
        h.counters().reset();
        let op = Operation {
            address: addr.clone(),
            kind: Kind::Audience,
            action: OpAction::Update {
                id: list.id.clone().unwrap(),
                set: fields(vec![(
                    "members",
                    hashes(&["a@example.com", "b@example.com", "d@example.com"]),
                )]),
                before: fields(vec![("members", members)]),
            },
            parent: None,
            refs: BTreeMap::new(),
        };
        all_applied(&c.apply(&acct, &ApplyBatch { ops: vec![op] }).await.unwrap());
        assert_eq!(endpoint_requests(&h, "offlineUserDataJobs:create"), 2);
        // The list's marker loses its members' fingerprint before the jobs and gets the new one after them.
        assert_eq!(endpoint_requests(&h, ":mutate"), 2);
        let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
        let list = by_address(&snap.resources)["acme/audience/Subscribers"].clone();
        assert_eq!(
            list.observed.get("fingerprint.members").map(String::as_str),
            Some(
                adsctl::model::value_fingerprint(&hashes(&["a@example.com", "b@example.com", "d@example.com"]))
                    .as_str()
            )
        );
        h.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn metrics_by_campaign_and_day_are_exact() {
        let h = emulator(EmulatorConfig::default()).await;
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        all_applied(&c.apply(&acct, &ApplyBatch { ops: tree("Spring", 1) }).await.unwrap());
        let today = chrono::Utc::now().date_naive();
        let range = DateRange {
            since: today - chrono::Duration::days(6),
            until: today,
        };
        let rows = c.metrics(&acct, MetricsLevel::Campaign, range).await.unwrap();
        assert!(!rows.is_empty());
        for r in &rows {
            assert_eq!(r.kind, Kind::Campaign);
            assert!(r.date >= range.since && r.date <= range.until);
            assert!(r.clicks <= r.impressions);
            assert_eq!(r.name, "Spring");
        }
        // Same seed, same numbers.
        assert_eq!(rows, c.metrics(&acct, MetricsLevel::Campaign, range).await.unwrap());
        let groups = c.metrics(&acct, MetricsLevel::AdGroup, range).await.unwrap();
        assert!(
            groups.iter().all(|r| r.kind == Kind::AdGroup && r.name == "Group 0"),
            "{groups:?}"
        );
        let ads = c.metrics(&acct, MetricsLevel::Ad, range).await.unwrap();
        assert!(
            !ads.is_empty() && ads.iter().all(|r| r.kind == Kind::Ad && r.id.contains('~')),
            "{ads:?}"
        );
        h.shutdown().await.unwrap();
    }
}

/// The `adsctl` binary against an in-process emulator, as a user runs it.
mod end_to_end {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};

    use super::*;

    const SPRING: &str = "campaigns:
  - name: Spring Sale
    account: acme
    channel: search
    status: enabled
    budget: { daily: BUDGET }
    bidding:
      maximize_conversions: { target_cpa: 12.50 }
    network: { google_search: true, search_network: false }
    ad_groups:
      - name: Running Shoes
        status: enabled
        default_cpc: 1.20
        keywords:
          - { text: running shoes, match: phrase }
          - { text: trail running shoes, match: exact, cpc_bid: 1.45 }
        ads:
          - status: enabled
            responsive_search:
              headlines:
                - { text: Spring Sale on Shoes, pin: 1 }
                - HEADLINE
                - Shop Trail Runners Today
              descriptions:
                - Up to 40% off running and trail shoes.
                - Free shipping on orders over $50.
              final_url: https://www.example.com/shoes
              path1: shoes
";

    const AUTUMN: &str = "campaigns:
  - name: Autumn
    account: acme
    channel: search
    budget: { daily: 20 }
    bidding: { manual_cpc: {} }
    ad_groups:
      - name: Boots
        keywords:
          - { text: winter boots, match: broad }
";

    struct Project {
        dir: tempfile::TempDir,
        url: String,
        outputs: std::cell::RefCell<String>,
    }

    impl Project {
        fn new(url: &str) -> Project {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(
                dir.path().join("adsctl.yaml"),
                format!(
                    "accounts:\n  acme:\n    platform: google_ads\n    customer_id: 123-456-7890\n    currency: USD\n    \
                     on_removed: pause\n    endpoint: {url}\n"
                ),
            )
            .unwrap();
            std::fs::create_dir(dir.path().join("campaigns")).unwrap();
            let p = Project {
                dir,
                url: url.to_string(),
                outputs: Default::default(),
            };
            p.spring("50", "Free Returns on Every Order");
            std::fs::write(p.path().join("campaigns/autumn.yaml"), AUTUMN).unwrap();
            std::fs::create_dir(p.path().join("data")).unwrap();
            std::fs::write(
                p.path().join("data/subs.csv"),
                "email\nAnn@Example.com\nbob@example.com\n",
            )
            .unwrap();
            std::fs::write(
                p.path().join("audiences.yaml"),
                "audiences:\n  - name: Subscribers\n    accounts: [acme]\n    description: Newsletter\n    \
                 customer_file: { path: data/subs.csv, column: email }\n    membership_life_span_days: 30\n",
            )
            .unwrap();
            p
        }
        fn path(&self) -> &Path {
            self.dir.path()
        }
        fn spring(&self, budget: &str, headline: &str) {
            std::fs::write(
                self.path().join("campaigns/spring.yaml"),
                SPRING.replace("BUDGET", budget).replace("HEADLINE", headline),
            )
            .unwrap();
        }
        fn run_in(&self, dir: &Path, args: &[&str]) -> Output {
            let o = Command::new(env!("CARGO_BIN_EXE_adsctl"))
                .env("ADSCTL_CONFIRM_READ_DELAY_MS", "20")
                .args(args)
                .current_dir(dir)
                .env_remove("ADSCTL_BACKEND")
                .env_remove("ADSCTL_GOOGLE_ADS_ENDPOINT")
                .env_remove("ADSCTL_GOOGLE_OAUTH_TOKEN_URL")
                .env_remove("GOOGLE_ADS_LOGIN_CUSTOMER_ID")
                .env("GOOGLE_ADS_CLIENT_ID", defaults::GOOGLE_CLIENT_ID)
                .env("GOOGLE_ADS_CLIENT_SECRET", defaults::GOOGLE_CLIENT_SECRET)
                .env("GOOGLE_ADS_DEVELOPER_TOKEN", defaults::GOOGLE_DEVELOPER_TOKEN)
                .env("GOOGLE_ADS_REFRESH_TOKEN", defaults::GOOGLE_REFRESH_TOKEN)
                .env("ADSCTL_GOOGLE_ADS_RETRY_MIN_MS", "10")
                .env("ADSCTL_GOOGLE_ADS_RETRY_MAX_MS", "100")
                .env("ADSCTL_GOOGLE_ADS_MAX_RETRIES", "8")
                .env("ADSCTL_GOOGLE_ADS_MAX_RETRY_DELAY_SECS", "5")
                .env("ADSCTL_GOOGLE_ADS_POLL_MS", "20")
                .env("RUST_LOG", "debug")
                .env("NO_COLOR", "1")
                .output()
                .unwrap();
            self.outputs.borrow_mut().push_str(&format!(
                "$ adsctl {}\n{}{}\n",
                args.join(" "),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ));
            o
        }
        fn run(&self, args: &[&str]) -> Output {
            let dir = self.path().to_path_buf();
            let mut full: Vec<&str> = args.to_vec();
            let d = dir.display().to_string();
            if matches!(args.first(), Some(&"plan") | Some(&"apply") | Some(&"validate")) {
                full.push(&d);
                return self.run_in(&dir, &full);
            }
            self.run_in(&dir, args)
        }
        fn plan_json(&self) -> serde_json::Value {
            let o = self.run(&["plan", "--json"]);
            assert!(o.status.success(), "{}", self.outputs.borrow());
            serde_json::from_slice(&o.stdout).unwrap()
        }
    }

    fn code(o: &Output) -> i32 {
        o.status.code().unwrap_or(-1)
    }

    /// (address, action) of every change that is not a no-op.
    fn changes(plan: &serde_json::Value) -> Vec<(String, String)> {
        plan["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|a| a["changes"].as_array().unwrap().iter())
            .filter(|c| c["action"] != "no_op")
            .map(|c| {
                (
                    c["address"].as_str().unwrap().to_string(),
                    c["action"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn changed_fields(plan: &serde_json::Value, address: &str) -> Vec<String> {
        plan["accounts"][0]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] == address)
            .map(|c| {
                c["fields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f["field"].as_str().or_else(|| f["name"].as_str()).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Everything the emulator knows that must never be printed: the credentials and every access token it
    /// issued.
    fn secrets(h: &EmulatorHandle) -> Vec<String> {
        let mut out = vec![
            defaults::GOOGLE_CLIENT_SECRET.to_string(),
            defaults::GOOGLE_DEVELOPER_TOKEN.to_string(),
            defaults::GOOGLE_REFRESH_TOKEN.to_string(),
        ];
        let dump = h.platforms().by_name("google_ads").unwrap().dump();
        if let Some(tokens) = dump.get("access_tokens").and_then(|t| t.as_object()) {
            out.extend(tokens.keys().cloned());
        }
        assert!(
            out.len() > 3,
            "the emulator issued access tokens: {:?}",
            dump.as_object().map(|o| o.keys().collect::<Vec<_>>())
        );
        out
    }

    fn assert_no_secrets(h: &EmulatorHandle, p: &Project, extra: &[&Path]) {
        let mut text = p.outputs.borrow().clone();
        for dir in std::iter::once(p.path()).chain(extra.iter().copied()) {
            for entry in walk(dir) {
                if let Ok(s) = std::fs::read(&entry) {
                    text.push_str(&String::from_utf8_lossy(&s));
                }
            }
        }
        for s in secrets(h) {
            assert!(!text.contains(&s), "a secret leaked into the output or the state");
        }
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    out.extend(walk(&p));
                } else {
                    out.push(p);
                }
            }
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn validate_plan_apply_edit_drift_remove_import() {
        let h = emulator(EmulatorConfig::default()).await;
        let p = Project::new(&h.url());

        let o = p.run(&["validate"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());

        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 2, "{}", p.outputs.borrow());
        let shown = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(
            shown.contains("Spring Sale") && shown.contains("running shoes"),
            "{shown}"
        );
        // The plan says what the apply costs against the developer token's daily operations.
        let quota = shown.lines().find(|l| l.contains("Quota:")).unwrap_or_default();
        assert!(
            quota.contains("operations of the 15,000 a day of Google Ads basic access"),
            "{shown}"
        );

        let o = p.run(&["plan", "--validate"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());

        h.counters().reset();
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 0, "no changes after apply:\n{}", p.outputs.borrow());

        // Budget and a headline.
        p.spring("60", "Free Returns, Always");
        let plan = p.plan_json();
        let ch = changes(&plan);
        assert_eq!(
            ch,
            vec![
                ("acme/campaign/Spring Sale".to_string(), "update".to_string()),
                (
                    "acme/campaign/Spring Sale/ad_group/Running Shoes/ad/1".to_string(),
                    "update".to_string()
                ),
            ],
            "{}",
            p.outputs.borrow()
        );
        assert_eq!(changed_fields(&plan, "acme/campaign/Spring Sale"), ["budget.daily"]);
        assert_eq!(
            changed_fields(&plan, "acme/campaign/Spring Sale/ad_group/Running Shoes/ad/1"),
            ["headlines"]
        );
        // Both go out: the budget through the campaign's own budget, the headline through AdService.
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());

        // Drift behind adsctl's back is shown and repaired.
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        let live = by_address(&c.read(&acct, &ReadRequest::default()).await.unwrap().resources);
        let spring_id = live["acme/campaign/Spring Sale"].id.clone().unwrap();
        let resp = reqwest::Client::new()
            .post(format!("{}/_emulator/google_ads/drift", h.url()))
            .json(&serde_json::json!({
                "resourceName": format!("customers/{CUSTOMER}/campaigns/{spring_id}"),
                "set": {"status": "PAUSED"}
            }))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 2, "drift shows:\n{}", p.outputs.borrow());
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let live = by_address(&c.read(&acct, &ReadRequest::default()).await.unwrap().resources);
        assert_eq!(
            live["acme/campaign/Spring Sale"].fields["status"],
            Value::str("enabled")
        );

        // A campaign removed from the YAML is paused (on_removed: pause).
        std::fs::remove_file(p.path().join("campaigns/autumn.yaml")).unwrap();
        let plan = p.plan_json();
        assert!(
            changes(&plan).contains(&("acme/campaign/Autumn".to_string(), "pause".to_string())),
            "{plan}"
        );
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let live = by_address(&c.read(&acct, &ReadRequest::default()).await.unwrap().resources);
        assert_eq!(live["acme/campaign/Autumn"].fields["status"], Value::str("paused"));

        // Import into a new directory: its plan shows no changes.
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("imported");
        let o = p.run(&[
            "import",
            "acme",
            "--dir",
            &p.path().display().to_string(),
            "--out",
            &target.display().to_string(),
        ]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        assert!(target.join("campaigns/spring-sale.yaml").exists());
        assert!(target.join("campaigns/autumn.yaml").exists());
        assert!(target.join("audiences.yaml").exists());
        let o = p.run_in(&target, &["plan", "--detailed-exitcode", &target.display().to_string()]);
        assert_eq!(
            code(&o),
            0,
            "the imported project plans no changes:\n{}",
            p.outputs.borrow()
        );

        assert_no_secrets(&h, &p, &[&target]);
        let _ = &p.url;
        h.shutdown().await.unwrap();
    }
    const CONVERSIONS: &str = "conversions:
  - name: Purchase
    account: acme
    type: webpage
    category: purchase
    counting: many_per_click
    value: { default: 25.50 }
    attribution_model: data_driven
    click_through_days: 30
    view_through_days: 1
  - name: Offline lead
    account: acme
    type: upload_clicks
    category: CATEGORY
    counting: one_per_click
    primary_for_goal: PRIMARY
";

    /// Conversion actions, the whole lifecycle through the binary: plan → apply → empty plan → edit → drift →
    /// removal policy (pause leaves it, remove sets REMOVED) → import → empty plan → a fresh runner: empty plan.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conversion_actions_lifecycle() {
        let h = emulator(EmulatorConfig::default()).await;
        let p = Project::new(&h.url());
        let write = |category: &str, primary: &str| {
            std::fs::write(
                p.path().join("conversions.yaml"),
                CONVERSIONS.replace("CATEGORY", category).replace("PRIMARY", primary),
            )
            .unwrap();
        };
        write("imported_lead", "true");
        let plan = p.plan_json();
        let ch = changes(&plan);
        for a in ["acme/conversion/Purchase", "acme/conversion/Offline lead"] {
            assert!(ch.contains(&(a.to_string(), "create".to_string())), "{ch:?}");
        }
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 0, "no changes after apply:\n{}", p.outputs.borrow());
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        let live = by_address(&c.read(&acct, &ReadRequest::default()).await.unwrap().resources);
        let purchase = &live["acme/conversion/Purchase"];
        assert_eq!(
            purchase.fields["value.default"],
            Value::Money(Money::from_micros(25_500_000))
        );
        assert_eq!(purchase.fields["attribution_model"], Value::str("data_driven"));
        assert_eq!(purchase.fields["primary_for_goal"], Value::Bool(true));

        // An edit: one update with exactly its fields.
        write("qualified_lead", "false");
        let plan = p.plan_json();
        assert_eq!(
            changes(&plan),
            vec![("acme/conversion/Offline lead".to_string(), "update".to_string())],
            "{plan}"
        );
        let mut fields = changed_fields(&plan, "acme/conversion/Offline lead");
        fields.sort();
        assert_eq!(fields, ["category", "primary_for_goal"]);
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());

        // Drift made in the platform's UI is shown and repaired.
        let id = live["acme/conversion/Purchase"].id.clone().unwrap();
        let resp = reqwest::Client::new()
            .post(format!("{}/_emulator/google_ads/drift", h.url()))
            .json(&serde_json::json!({
                "resourceName": format!("customers/{CUSTOMER}/conversionActions/{id}"),
                "set": {"countingType": "ONE_PER_CLICK"}
            }))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
        let plan = p.plan_json();
        assert_eq!(
            changed_fields(&plan, "acme/conversion/Purchase"),
            ["counting"],
            "{plan}"
        );
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let live = by_address(&c.read(&acct, &ReadRequest::default()).await.unwrap().resources);
        assert_eq!(
            live["acme/conversion/Purchase"].fields["counting"],
            Value::str("many_per_click")
        );

        // Removal policy: a conversion action has no paused state (ENABLED, REMOVED, HIDDEN), so `pause` leaves
        // it as it is; `remove` sets REMOVED.
        write("qualified_lead", "false");
        std::fs::write(
            p.path().join("conversions.yaml"),
            CONVERSIONS
                .replace("CATEGORY", "qualified_lead")
                .replace("PRIMARY", "false")
                .split("  - name: Offline lead")
                .next()
                .unwrap(),
        )
        .unwrap();
        let plan = p.plan_json();
        assert!(
            !changes(&plan).iter().any(|(a, _)| a == "acme/conversion/Offline lead"),
            "pause leaves it: {plan}"
        );
        let yaml = std::fs::read_to_string(p.path().join("adsctl.yaml")).unwrap();
        std::fs::write(
            p.path().join("adsctl.yaml"),
            yaml.replace("on_removed: pause", "on_removed: remove"),
        )
        .unwrap();
        let plan = p.plan_json();
        assert!(
            changes(&plan).contains(&("acme/conversion/Offline lead".to_string(), "remove".to_string())),
            "{plan}"
        );
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let rows = ads_post(
            &h,
            "googleAds:searchStream",
            serde_json::json!({"query": "SELECT conversion_action.name, conversion_action.status FROM conversion_action"}),
        )
        .await;
        let statuses: Vec<(String, String)> = rows[0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["conversionAction"]["name"].as_str().unwrap().to_string(),
                    r["conversionAction"]["status"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(
            statuses.contains(&("Offline lead".into(), "REMOVED".into())),
            "{statuses:?}"
        );
        assert!(
            statuses.contains(&("Purchase".into(), "ENABLED".into())),
            "{statuses:?}"
        );
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());

        // Import: the conversion is written back, and the imported project plans nothing.
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("imported");
        let o = p.run(&[
            "import",
            "acme",
            "--dir",
            &p.path().display().to_string(),
            "--out",
            &target.display().to_string(),
        ]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let imported = std::fs::read_to_string(target.join("conversions.yaml")).unwrap();
        assert!(
            imported.contains("name: Purchase") && !imported.contains("Offline lead"),
            "{imported}"
        );
        let o = p.run_in(&target, &["plan", "--detailed-exitcode", &target.display().to_string()]);
        assert_eq!(
            code(&o),
            0,
            "the imported project plans no changes:\n{}",
            p.outputs.borrow()
        );

        // A fresh runner (the same YAML, no state directory) plans nothing either.
        let fresh = tempfile::tempdir().unwrap();
        for f in walk(p.path()) {
            let rel = f.strip_prefix(p.path()).unwrap();
            if rel.starts_with(".adsctl") {
                continue;
            }
            let to = fresh.path().join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&f, &to).unwrap();
        }
        let o = p.run_in(
            fresh.path(),
            &["plan", "--detailed-exitcode", &fresh.path().display().to_string()],
        );
        assert_eq!(code(&o), 0, "a fresh runner plans no changes:\n{}", p.outputs.borrow());

        assert_no_secrets(&h, &p, &[&target]);
        h.shutdown().await.unwrap();
    }

    const BIDDING_CONVERSIONS: &str = "conversions:
  - name: Purchase
    account: acme
    type: webpage
    category: purchase
  - name: Lead form
    account: acme
    type: webpage
    category: submit_lead_form
";

    /// Live custom conversion goals (ENABLED): name → their conversion actions' names, and each campaign's
    /// config: campaign name → (level, the goal's name).
    async fn goals_of(h: &EmulatorHandle) -> (BTreeMap<String, Vec<String>>, BTreeMap<String, (String, String)>) {
        let rows = |v: serde_json::Value| -> Vec<serde_json::Value> {
            v[0]["results"].as_array().cloned().unwrap_or_default()
        };
        let actions: BTreeMap<String, String> = rows(
            ads_post(
                h,
                "googleAds:searchStream",
                serde_json::json!({"query": "SELECT conversion_action.resource_name, conversion_action.name FROM conversion_action"}),
            )
            .await,
        )
        .iter()
        .map(|r| {
            (
                r["conversionAction"]["resourceName"].as_str().unwrap().to_string(),
                r["conversionAction"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
        let mut names = BTreeMap::new();
        let mut goals = BTreeMap::new();
        for r in rows(
            ads_post(
                h,
                "googleAds:searchStream",
                serde_json::json!({"query": "SELECT custom_conversion_goal.resource_name, custom_conversion_goal.name, \
                    custom_conversion_goal.conversion_actions, custom_conversion_goal.status FROM custom_conversion_goal"}),
            )
            .await,
        ) {
            let g = &r["customConversionGoal"];
            let name = g["name"].as_str().unwrap().to_string();
            names.insert(g["resourceName"].as_str().unwrap().to_string(), name.clone());
            if g["status"] != "ENABLED" {
                continue;
            }
            let mut list: Vec<String> = g["conversionActions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| actions[a.as_str().unwrap()].clone())
                .collect();
            list.sort();
            goals.insert(name, list);
        }
        let configs = rows(
            ads_post(
                h,
                "googleAds:searchStream",
                serde_json::json!({"query": "SELECT campaign.name, conversion_goal_campaign_config.goal_config_level, \
                    conversion_goal_campaign_config.custom_conversion_goal FROM conversion_goal_campaign_config"}),
            )
            .await,
        )
        .iter()
        .map(|r| {
            let c = &r["conversionGoalCampaignConfig"];
            let goal = c["customConversionGoal"]
                .as_str()
                .map(|g| names[g].clone())
                .unwrap_or_default();
            (
                r["campaign"]["name"].as_str().unwrap().to_string(),
                (c["goalConfigLevel"].as_str().unwrap().to_string(), goal),
            )
        })
        .collect();
        (goals, configs)
    }

    /// A campaign bidding on declared conversions, the whole lifecycle through the binary: plan → apply (a custom
    /// goal of adsctl's, the campaign's config pointing at it) → empty plan → edit the list → exact plan → drift
    /// made on the platform → repaired → a fresh runner: empty plan → import → empty plan → `[]`: back at the
    /// account's goals, adsctl's goal removed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn campaign_conversion_goals_lifecycle() {
        let h = emulator(EmulatorConfig::default()).await;
        let p = Project::new(&h.url());
        std::fs::write(p.path().join("conversions.yaml"), BIDDING_CONVERSIONS).unwrap();
        let goals = |list: &str| {
            let spring = std::fs::read_to_string(p.path().join("campaigns/spring.yaml")).unwrap();
            let kept: Vec<&str> = spring.lines().filter(|l| !l.contains("conversion_goals")).collect();
            let edited = kept.join("\n").replace(
                "      maximize_conversions: { target_cpa: 12.50 }\n",
                &format!("      maximize_conversions: {{ target_cpa: 12.50 }}\n    conversion_goals: {list}\n"),
            );
            std::fs::write(p.path().join("campaigns/spring.yaml"), edited + "\n").unwrap();
        };
        goals("[Purchase, Lead form]");
        let plan = p.plan_json();
        let ch = changes(&plan);
        for a in [
            "acme/conversion/Purchase",
            "acme/conversion/Lead form",
            "acme/campaign/Spring Sale",
        ] {
            assert!(ch.contains(&(a.to_string(), "create".to_string())), "{ch:?}");
        }
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let (live, configs) = goals_of(&h).await;
        let both = "adsctl: Lead form, Purchase".to_string();
        assert_eq!(
            live.get(&both),
            Some(&vec!["Lead form".to_string(), "Purchase".to_string()]),
            "{live:?}"
        );
        assert_eq!(configs["Spring Sale"], ("CAMPAIGN".to_string(), both.clone()));
        assert_eq!(configs["Autumn"], ("CUSTOMER".to_string(), String::new()));
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 0, "no changes after apply:\n{}", p.outputs.borrow());

        // An edit of the list: exactly that field; the goal of the old list is adsctl's and unused: removed.
        goals("[Purchase]");
        let plan = p.plan_json();
        assert_eq!(
            changes(&plan),
            vec![("acme/campaign/Spring Sale".to_string(), "update".to_string())],
            "{plan}"
        );
        assert_eq!(changed_fields(&plan, "acme/campaign/Spring Sale"), ["conversion_goals"]);
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let (live, configs) = goals_of(&h).await;
        let one = "adsctl: Purchase".to_string();
        assert_eq!(live.keys().cloned().collect::<Vec<_>>(), vec![one.clone()], "{live:?}");
        assert_eq!(configs["Spring Sale"], ("CAMPAIGN".to_string(), one.clone()));
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());

        // Drift made on the platform (the campaign back at the account's goals) is shown and repaired.
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        let read = by_address(&c.read(&acct, &ReadRequest::default()).await.unwrap().resources);
        let id = read["acme/campaign/Spring Sale"].id.clone().unwrap();
        let resp = reqwest::Client::new()
            .post(format!("{}/_emulator/google_ads/drift", h.url()))
            .json(&serde_json::json!({
                "resourceName": format!("customers/{CUSTOMER}/conversionGoalCampaignConfigs/{id}"),
                "set": {"goalConfigLevel": "CUSTOMER"}
            }))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
        let plan = p.plan_json();
        assert_eq!(
            changed_fields(&plan, "acme/campaign/Spring Sale"),
            ["conversion_goals"],
            "{plan}"
        );
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let (live, configs) = goals_of(&h).await;
        assert_eq!(
            live.keys().cloned().collect::<Vec<_>>(),
            vec![one.clone()],
            "the goal is reused: {live:?}"
        );
        assert_eq!(configs["Spring Sale"], ("CAMPAIGN".to_string(), one.clone()));
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());

        // A fresh runner (the same YAML, no state directory) plans nothing.
        let fresh = tempfile::tempdir().unwrap();
        for f in walk(p.path()) {
            let rel = f.strip_prefix(p.path()).unwrap();
            if rel.starts_with(".adsctl") {
                continue;
            }
            let to = fresh.path().join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&f, &to).unwrap();
        }
        let o = p.run_in(
            fresh.path(),
            &["plan", "--detailed-exitcode", &fresh.path().display().to_string()],
        );
        assert_eq!(code(&o), 0, "a fresh runner plans no changes:\n{}", p.outputs.borrow());

        // Import writes the list back by name, and the imported project plans nothing.
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("imported");
        let o = p.run(&[
            "import",
            "acme",
            "--dir",
            &p.path().display().to_string(),
            "--out",
            &target.display().to_string(),
        ]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let imported: String = walk(&target)
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect();
        assert!(imported.contains("conversion_goals:"), "{imported}");
        let o = p.run_in(&target, &["plan", "--detailed-exitcode", &target.display().to_string()]);
        assert_eq!(
            code(&o),
            0,
            "the imported project plans no changes:\n{}",
            p.outputs.borrow()
        );

        // `[]`: back at the account's goals, and adsctl's goal, now unused, removed.
        goals("[]");
        let plan = p.plan_json();
        assert_eq!(
            changed_fields(&plan, "acme/campaign/Spring Sale"),
            ["conversion_goals"],
            "{plan}"
        );
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let (live, configs) = goals_of(&h).await;
        assert!(live.is_empty(), "{live:?}");
        assert_eq!(configs["Spring Sale"], ("CUSTOMER".to_string(), String::new()));
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());

        // A campaign removed (on_removed: remove) while it bids on adsctl's goal: its config is set back first, in
        // the same mutate, so that the goal, unused now, is removed too rather than left behind.
        goals("[Purchase]");
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        assert_eq!(goals_of(&h).await.0.len(), 1);
        let yaml = std::fs::read_to_string(p.path().join("adsctl.yaml")).unwrap();
        std::fs::write(
            p.path().join("adsctl.yaml"),
            yaml.replace("on_removed: pause", "on_removed: remove"),
        )
        .unwrap();
        std::fs::remove_file(p.path().join("campaigns/spring.yaml")).unwrap();
        let plan = p.plan_json();
        assert!(
            changes(&plan).contains(&("acme/campaign/Spring Sale".to_string(), "remove".to_string())),
            "{plan}"
        );
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let (live, configs) = goals_of(&h).await;
        assert!(live.is_empty(), "the removed campaign's goal is left behind: {live:?}");
        assert_eq!(
            configs.get("Spring Sale"),
            Some(&("CUSTOMER".to_string(), String::new()))
        );
        assert_eq!(configs["Autumn"], ("CUSTOMER".to_string(), String::new()));
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());

        assert_no_secrets(&h, &p, &[&target]);
        h.shutdown().await.unwrap();
    }

    fn day(offset: i64) -> String {
        (chrono::Utc::now().date_naive() + chrono::Duration::days(offset))
            .format("%Y-%m-%d")
            .to_string()
    }

    const EXPERIMENTS: &str = "experiments:
  - name: Bid test
    account: acme
    base_campaign: Spring Sale
    traffic_split: 30
    start_date: START
    end_date: END
    description: Does maximize clicks beat the CPA target?
    trial:
      bidding:
        target_spend: { cpc_bid_ceiling: CEILING }
    action: BID_ACTION
  - name: Network test
    account: acme
    base_campaign: Autumn
    traffic_split: 50
    trial:
      network: { google_search: true, search_network: true }
    action: NETWORK_ACTION
";

    /// The experiments as GAQL reads them: name → (status, end date, trial campaign's bidding strategy type).
    async fn experiments_of(h: &EmulatorHandle) -> BTreeMap<String, (String, String, String)> {
        let rows = ads_post(
            h,
            "googleAds:searchStream",
            serde_json::json!({"query": "SELECT experiment.name, experiment.status, experiment.end_date FROM experiment"}),
        )
        .await;
        let arms = ads_post(
            h,
            "googleAds:searchStream",
            serde_json::json!({"query": "SELECT experiment_arm.experiment, experiment_arm.control, experiment_arm.traffic_split, experiment_arm.campaigns FROM experiment_arm"}),
        )
        .await;
        let campaigns = ads_post(
            h,
            "googleAds:searchStream",
            serde_json::json!({"query": "SELECT campaign.name, campaign.bidding_strategy_type FROM campaign"}),
        )
        .await;
        let rows_of = |v: &serde_json::Value| -> Vec<serde_json::Value> {
            v.as_array()
                .unwrap()
                .iter()
                .flat_map(|c| c["results"].as_array().cloned().unwrap_or_default())
                .collect()
        };
        let campaigns = rows_of(&campaigns);
        let mut out = BTreeMap::new();
        for r in rows_of(&rows) {
            let e = &r["experiment"];
            let rn = e["resourceName"].as_str().unwrap();
            let trial = rows_of(&arms)
                .into_iter()
                .find(|a| a["experimentArm"]["experiment"] == rn && a["experimentArm"]["control"] != true)
                .and_then(|a| a["experimentArm"]["campaigns"][0].as_str().map(str::to_string))
                .unwrap_or_default();
            let strategy = campaigns
                .iter()
                .find(|c| c["campaign"]["resourceName"] == trial.as_str())
                .and_then(|c| c["campaign"]["biddingStrategyType"].as_str())
                .unwrap_or_default()
                .to_string();
            out.insert(
                e["name"].as_str().unwrap().to_string(),
                (
                    e["status"].as_str().unwrap_or_default().to_string(),
                    e["endDate"].as_str().unwrap_or_default().to_string(),
                    strategy,
                ),
            );
        }
        out
    }

    /// Experiments, the whole lifecycle through the binary: plan (arms, split, trial spend, action) → apply (made,
    /// armed, the trial changed, scheduled) → empty plan → edit (end date, the trial's bid ceiling) → drift on the
    /// trial campaign → end one (`action: end`) and promote the other (`action: promote`, the base campaign's YAML
    /// taking the trial's bidding) → removal policy (pause leaves an experiment, remove removes it) → import →
    /// empty plan → a fresh runner: empty plan.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn experiments_lifecycle() {
        let h = emulator(EmulatorConfig {
            review_delay: Duration::from_millis(100),
            ..EmulatorConfig::default()
        })
        .await;
        let p = Project::new(&h.url());
        let write = |end: &str, ceiling: &str, bid: &str, network: &str| {
            std::fs::write(
                p.path().join("experiments.yaml"),
                EXPERIMENTS
                    .replace("START", &day(1))
                    .replace("END", end)
                    .replace("CEILING", ceiling)
                    .replace("BID_ACTION", bid)
                    .replace("NETWORK_ACTION", network),
            )
            .unwrap();
        };
        write(&day(30), "2.00", "run", "run");
        let plan = p.plan_json();
        let ch = changes(&plan);
        for a in ["acme/experiment/Bid test", "acme/experiment/Network test"] {
            assert!(ch.contains(&(a.to_string(), "create".to_string())), "{ch:?}");
        }
        let o = p.run(&["plan"]);
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(text.contains("arms: control `Spring Sale` 70%, trial"), "{text}");
        assert!(
            text.contains("trial spend: 30% of `Spring Sale`'s daily budget $50.00 ≈ $15.00 a day"),
            "{text}"
        );
        assert!(text.contains("action: RUN"), "{text}");
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let live = experiments_of(&h).await;
        assert_eq!(
            live["Bid test"],
            ("ENABLED".into(), day(30), "TARGET_SPEND".into()),
            "{live:?}"
        );
        assert_eq!(live["Network test"].0, "ENABLED", "{live:?}");
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 0, "no changes after apply:\n{}", p.outputs.borrow());
        // the trial campaigns are the experiments', not campaigns of their own
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        let snapshot = c.read(&acct, &ReadRequest::default()).await.unwrap().resources;
        assert!(
            !snapshot
                .iter()
                .any(|r| r.address.name().is_some_and(|n| n.contains('['))),
            "{snapshot:?}"
        );
        let live_r = by_address(&snapshot);
        let bid = &live_r["acme/experiment/Bid test"];
        assert!(bid.owned);
        assert_eq!(bid.fields["traffic_split"], Value::Int(30));
        assert_eq!(bid.fields["trial.bidding.strategy"], Value::str("target_spend"));

        // An edit: one update with exactly its fields.
        write(&day(40), "2.50", "run", "run");
        let plan = p.plan_json();
        assert_eq!(
            changes(&plan),
            vec![("acme/experiment/Bid test".to_string(), "update".to_string())],
            "{plan}"
        );
        let mut fields = changed_fields(&plan, "acme/experiment/Bid test");
        fields.sort();
        assert_eq!(fields, ["end_date", "trial.bidding.cpc_bid_ceiling"]);
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());

        // Drift on the trial campaign, made in the UI, is shown and repaired.
        let arms = ads_post(
            &h,
            "googleAds:searchStream",
            serde_json::json!({"query": "SELECT experiment_arm.control, experiment_arm.campaigns FROM experiment_arm"}),
        )
        .await;
        let bid_id = bid.id.clone().unwrap();
        let trial = arms[0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["experimentArm"])
            .find(|a| a["control"] != true && a["resourceName"].as_str().unwrap().contains(&format!("/{bid_id}~")))
            .and_then(|a| a["campaigns"][0].as_str())
            .expect("trial campaign")
            .to_string();
        let resp = reqwest::Client::new()
            .post(format!("{}/_emulator/google_ads/drift", h.url()))
            .json(
                &serde_json::json!({"resourceName": trial, "set": {"targetSpend": {"cpcBidCeilingMicros": "9000000"}}}),
            )
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
        let plan = p.plan_json();
        assert_eq!(
            changed_fields(&plan, "acme/experiment/Bid test"),
            ["trial.bidding.cpc_bid_ceiling"],
            "{plan}"
        );
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());

        // The split cannot change once the experiment runs: a new split replaces the experiment.
        let yaml = std::fs::read_to_string(p.path().join("experiments.yaml")).unwrap();
        std::fs::write(
            p.path().join("experiments.yaml"),
            yaml.replacen("traffic_split: 30", "traffic_split: 40", 1),
        )
        .unwrap();
        let o = p.run(&["plan", "--json"]);
        assert_ne!(code(&o), 0, "a replace is blocked without --allow-replace");
        let o = p.run(&["plan", "--json", "--allow-replace"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(
            changes(&plan),
            vec![("acme/experiment/Bid test".to_string(), "replace".to_string())],
            "{plan}"
        );
        let o = p.run(&["apply", "--auto-approve", "--allow-replace"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let live_r = by_address(&c.read(&acct, &ReadRequest::default()).await.unwrap().resources);
        assert_eq!(
            live_r["acme/experiment/Bid test"].fields["traffic_split"],
            Value::Int(40)
        );
        assert_ne!(live_r["acme/experiment/Bid test"].id, bid.id, "a new experiment");
        std::fs::write(p.path().join("experiments.yaml"), yaml).unwrap();
        let o = p.run(&["apply", "--auto-approve", "--allow-replace"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());

        // End one; promote the other, the base campaign's YAML taking the trial's bidding.
        write(&day(40), "2.50", "promote", "end");
        let spring = std::fs::read_to_string(p.path().join("campaigns/spring.yaml")).unwrap();
        std::fs::write(
            p.path().join("campaigns/spring.yaml"),
            spring.replace(
                "maximize_conversions: { target_cpa: 12.50 }",
                "target_spend: { cpc_bid_ceiling: 2.50 }",
            ),
        )
        .unwrap();
        let o = p.run(&["plan"]);
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(text.contains("action: PROMOTE"), "{text}");
        assert!(text.contains("action: END"), "{text}");
        let plan = p.plan_json();
        assert_eq!(
            changed_fields(&plan, "acme/experiment/Network test"),
            ["action"],
            "{plan}"
        );
        assert_eq!(changed_fields(&plan, "acme/experiment/Bid test"), ["action"], "{plan}");
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let live = experiments_of(&h).await;
        assert_eq!(live["Bid test"].0, "PROMOTED", "{live:?}");
        assert_eq!(
            live["Network test"],
            ("HALTED".into(), day(0), "MANUAL_CPC".into()),
            "{live:?}"
        );
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(
            code(&o),
            0,
            "an ended experiment plans nothing:\n{}",
            p.outputs.borrow()
        );

        // Metrics per arm: the control arm is the base campaign, the trial arm the trial campaign's rows.
        let today = day(0);
        let dir = p.path().display().to_string();
        let o = p.run(&["metrics", &dir, "--since", &today, "--until", &today, "--format", "csv"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let csv = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(csv.contains("acme/experiment/Bid test [trial arm]"), "{csv}");
        assert!(csv.contains("acme/experiment/Network test [trial arm]"), "{csv}");
        assert!(csv.contains("acme/campaign/Spring Sale"), "{csv}");

        // Removal policy: an experiment has no paused state, so `pause` leaves it; `remove` removes it.
        std::fs::write(
            p.path().join("experiments.yaml"),
            std::fs::read_to_string(p.path().join("experiments.yaml"))
                .unwrap()
                .split("  - name: Network test")
                .next()
                .unwrap(),
        )
        .unwrap();
        let plan = p.plan_json();
        assert!(
            !changes(&plan).iter().any(|(a, _)| a == "acme/experiment/Network test"),
            "pause leaves it: {plan}"
        );
        let yaml = std::fs::read_to_string(p.path().join("adsctl.yaml")).unwrap();
        std::fs::write(
            p.path().join("adsctl.yaml"),
            yaml.replace("on_removed: pause", "on_removed: remove"),
        )
        .unwrap();
        let plan = p.plan_json();
        assert!(
            changes(&plan).contains(&("acme/experiment/Network test".to_string(), "remove".to_string())),
            "{plan}"
        );
        let o = p.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let live = experiments_of(&h).await;
        assert_eq!(live["Network test"].0, "REMOVED", "{live:?}");
        let o = p.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());

        // Import: the experiment is written back, and the imported project plans nothing.
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("imported");
        let o = p.run(&[
            "import",
            "acme",
            "--dir",
            &p.path().display().to_string(),
            "--out",
            &target.display().to_string(),
        ]);
        assert_eq!(code(&o), 0, "{}", p.outputs.borrow());
        let imported = std::fs::read_to_string(target.join("experiments.yaml")).unwrap();
        assert!(
            imported.contains("name: Bid test")
                && imported.contains("action: promote")
                && !imported.contains("Network test"),
            "{imported}"
        );
        let o = p.run_in(&target, &["plan", "--detailed-exitcode", &target.display().to_string()]);
        assert_eq!(
            code(&o),
            0,
            "the imported project plans no changes:\n{}",
            p.outputs.borrow()
        );

        // A fresh runner (the same YAML, no state directory) plans nothing either.
        let fresh = tempfile::tempdir().unwrap();
        for f in walk(p.path()) {
            let rel = f.strip_prefix(p.path()).unwrap();
            if rel.starts_with(".adsctl") {
                continue;
            }
            let to = fresh.path().join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&f, &to).unwrap();
        }
        let o = p.run_in(
            fresh.path(),
            &["plan", "--detailed-exitcode", &fresh.path().display().to_string()],
        );
        assert_eq!(code(&o), 0, "a fresh runner plans no changes:\n{}", p.outputs.borrow());

        assert_no_secrets(&h, &p, &[&target]);
        h.shutdown().await.unwrap();
    }
}

mod end_to_end_faults {
    use std::process::{Command, Output};

    use super::*;

    /// 3 ad groups × (2 ads + 10 keywords) under one campaign with its own budget.
    fn big_campaign(name: &str) -> String {
        let mut s = format!(
            "campaigns:\n  - name: {name}\n    account: acme\n    channel: search\n    budget: {{ daily: 40 }}\n    \
             bidding: {{ manual_cpc: {{}} }}\n    ad_groups:\n"
        );
        for g in 0..3 {
            s.push_str(&format!("      - name: Group {g}\n        keywords:\n"));
            for k in 0..10 {
                s.push_str(&format!("          - {{ text: shoe {g} {k}, match: phrase }}\n"));
            }
            s.push_str("        ads:\n");
            for a in 0..2 {
                s.push_str(&format!(
                    "          - responsive_search:\n              headlines: [Head {g}{a} one, Head {g}{a} two, Head {g}{a} three]\n              \
                     descriptions: [Description {g}{a} one., Description {g}{a} two.]\n              final_url: https://www.example.com/{g}/{a}\n"
                ));
            }
        }
        s
    }

    struct Dir {
        dir: tempfile::TempDir,
        log: std::cell::RefCell<String>,
    }

    impl Dir {
        fn new(url: &str, campaigns: &str) -> Dir {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(
                dir.path().join("adsctl.yaml"),
                format!(
                    "accounts:\n  acme:\n    platform: google_ads\n    customer_id: 1234567890\n    currency: USD\n    endpoint: {url}\n"
                ),
            )
            .unwrap();
            std::fs::write(dir.path().join("campaigns.yaml"), campaigns).unwrap();
            Dir {
                dir,
                log: Default::default(),
            }
        }
        fn run(&self, args: &[&str]) -> Output {
            let d = self.dir.path().display().to_string();
            let mut full = args.to_vec();
            full.push(&d);
            let o = Command::new(env!("CARGO_BIN_EXE_adsctl"))
                .env("ADSCTL_CONFIRM_READ_DELAY_MS", "20")
                .args(&full)
                .env_remove("ADSCTL_BACKEND")
                .env_remove("ADSCTL_GOOGLE_ADS_ENDPOINT")
                .env_remove("ADSCTL_GOOGLE_OAUTH_TOKEN_URL")
                .env("GOOGLE_ADS_CLIENT_ID", defaults::GOOGLE_CLIENT_ID)
                .env("GOOGLE_ADS_CLIENT_SECRET", defaults::GOOGLE_CLIENT_SECRET)
                .env("GOOGLE_ADS_DEVELOPER_TOKEN", defaults::GOOGLE_DEVELOPER_TOKEN)
                .env("GOOGLE_ADS_REFRESH_TOKEN", defaults::GOOGLE_REFRESH_TOKEN)
                .env("ADSCTL_GOOGLE_ADS_RETRY_MIN_MS", "10")
                .env("ADSCTL_GOOGLE_ADS_RETRY_MAX_MS", "100")
                .env("ADSCTL_GOOGLE_ADS_MAX_RETRIES", "8")
                .env("ADSCTL_GOOGLE_ADS_MAX_RETRY_DELAY_SECS", "5")
                .env("ADSCTL_GOOGLE_ADS_TIMEOUT_MS", "5000")
                .env("NO_COLOR", "1")
                .output()
                .unwrap();
            self.log.borrow_mut().push_str(&format!(
                "$ adsctl {}\n{}{}\n",
                full.join(" "),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ));
            o
        }
    }

    async fn live_counts(h: &EmulatorHandle) -> BTreeMap<Kind, usize> {
        let acct = account(&h.url());
        let c = connector(&acct, settings(&acct));
        let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
        let mut m = BTreeMap::new();
        for r in &snap.resources {
            *m.entry(r.kind).or_insert(0) += 1;
        }
        m
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_campaign_tree_is_one_mutate_request() {
        let h = emulator(EmulatorConfig::default()).await;
        let d = Dir::new(&h.url(), &big_campaign("Big"));
        h.counters().reset();
        let o = d.run(&["apply", "--auto-approve"]);
        assert!(o.status.success(), "{}", d.log.borrow());
        assert_eq!(
            endpoint_requests(&h, "googleAds:mutate"),
            1,
            "{:#?}",
            h.counters().snapshot()
        );
        // The account's lease: taken, then given back (renamed, removed).
        assert_eq!(
            endpoint_requests(&h, "labels:mutate"),
            3,
            "{:#?}",
            h.counters().snapshot()
        );
        let counts = live_counts(&h).await;
        assert_eq!(counts.get(&Kind::AdGroup), Some(&3));
        assert_eq!(counts.get(&Kind::Ad), Some(&6));
        assert_eq!(counts.get(&Kind::Keyword), Some(&30));
        h.shutdown().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rate_limits_server_errors_and_lost_responses_converge_without_duplicates() {
        let h = emulator(EmulatorConfig::default()).await;
        let d = Dir::new(&h.url(), &big_campaign("Faulty"));
        h.faults()
            .set(FaultSpec::parse("429=0.15,5xx=0.15,lost=0.15,seed=3").unwrap());
        let mut converged = false;
        for _ in 0..6 {
            if d.run(&["apply", "--auto-approve"]).status.success() {
                converged = true;
                break;
            }
        }
        let injected = h.faults().injected();
        h.faults().set(FaultSpec::default());
        assert!(converged, "{}", d.log.borrow());
        assert!(injected.values().sum::<u64>() > 0, "{injected:?}");
        let o = d.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(o.status.code(), Some(0), "{}", d.log.borrow());
        let counts = live_counts(&h).await;
        assert_eq!(counts.get(&Kind::Campaign), Some(&1), "{counts:?}");
        assert_eq!(counts.get(&Kind::AdGroup), Some(&3), "{counts:?}");
        assert_eq!(counts.get(&Kind::Ad), Some(&6), "no duplicate ads: {counts:?}");
        assert_eq!(counts.get(&Kind::Keyword), Some(&30), "{counts:?}");
        h.shutdown().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_exhausted_daily_quota_stops_with_the_quota_named() {
        let mut config = EmulatorConfig::default();
        config.rate_limits.google_ads.daily_operations = Some(10);
        let h = emulator(config).await;
        let d = Dir::new(&h.url(), &big_campaign("Over"));
        let started = std::time::Instant::now();
        let o = d.run(&["apply", "--auto-approve"]);
        assert_eq!(o.status.code(), Some(1), "{}", d.log.borrow());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("Number of operations for basic access"),
            "{}",
            d.log.borrow()
        );
        // it says when to run again
        assert!(err.contains("run the same command again after"), "{}", d.log.borrow());
        assert!(started.elapsed() < Duration::from_secs(20));
        h.shutdown().await.unwrap();
    }
}
