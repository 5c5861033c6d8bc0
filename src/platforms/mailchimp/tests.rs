//! Wire tests of the Mailchimp connector against the Mailchimp emulator of this repository (`adsctl-emulator`,
//! written by someone else from the same pack), started in-process on 127.0.0.1. Addresses are synthetic
//! (`…@example.com`) and no assertion prints one: comparisons of addresses say only that they differ.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use adsctl_emulator::platform::defaults::{
    MAILCHIMP_API_KEY, MAILCHIMP_CLIENT_ID, MAILCHIMP_CLIENT_SECRET, MAILCHIMP_LIST_ID, MAILCHIMP_OAUTH_TOKEN,
};
use adsctl_emulator::{Emulator, EmulatorConfig};
use chrono::{Duration as Days, TimeZone, Timelike, Utc};
use serde_json::{json, Value as Json};

use super::mapping::{html_fingerprint, subscriber_hash};
use super::{MailchimpConnector, MailchimpCredentials, McConfig};
use crate::connectors::clear::{self, ClearMember};
use crate::connectors::{
    ApplyBatch, Connector, ConnectorError, DateRange, IdRef, LeaseOutcome, MetricsLevel, OpAction, OpOutcome,
    Operation, ReadRequest,
};
use crate::model::{fingerprint_key, Account, Address, Currency, Guardrails, Kind, Platform, RemovalPolicy, Value};

fn account(name: &str, url: &str) -> Account {
    Account {
        name: name.into(),
        platform: Platform::Mailchimp,
        platform_id: MAILCHIMP_LIST_ID.into(),
        login_customer_id: None,
        currency: Currency::from_code("USD").unwrap(),
        time_zone: None,
        on_removed: RemovalPolicy::Pause,
        guardrails: Guardrails::default(),
        endpoint: Some(url.into()),
    }
}

fn cfg(url: &str) -> McConfig {
    McConfig {
        retry_min_delay: Duration::from_millis(1),
        retry_max_delay: Duration::from_millis(2),
        lease_settle: Duration::from_millis(1),
        ..McConfig::for_endpoint(url).unwrap()
    }
}

fn key() -> MailchimpCredentials {
    MailchimpCredentials::api_key(MAILCHIMP_API_KEY).unwrap()
}

async fn start(name: &str) -> (adsctl_emulator::EmulatorHandle, String, Account, MailchimpConnector) {
    let emu = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    let url = emu.url();
    let acct = account(name, &url);
    let c = MailchimpConnector::with(&acct, cfg(&url), key()).unwrap();
    (emu, url, acct, c)
}

fn email(tag: &str, i: u32) -> String {
    format!("{tag}.user{i}@example.com")
}

/// Files members `range` of the audience at `address` in clear (statuses: `unsubscribed` for those in `unsub`).
fn file(address: &Address, tag: &str, range: std::ops::Range<u32>, unsub: &[u32]) -> Vec<String> {
    let mut book = HashMap::new();
    let mut hashes = Vec::new();
    for i in range {
        let e = email(tag, i);
        let h = subscriber_hash(&e);
        hashes.push(h.clone());
        book.insert(
            h,
            ClearMember {
                email: e,
                status: unsub.contains(&i).then(|| "unsubscribed".to_string()),
                fields: BTreeMap::from([("FNAME".to_string(), format!("User{i}"))]),
            },
        );
    }
    clear::file(&address.to_string(), book);
    hashes
}

fn set(hashes: &[String]) -> Value {
    Value::Set(hashes.iter().cloned().map(Value::Str).collect())
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

fn update(id: &str, set: &[(&str, Value)], before: &[(&str, Value)]) -> OpAction {
    let m = |f: &[(&str, Value)]| f.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    OpAction::Update {
        id: id.into(),
        set: m(set),
        before: m(before),
    }
}

fn applied(out: &[OpOutcome]) -> Vec<String> {
    out.iter()
        .map(|o| match o {
            OpOutcome::Applied { id } => id.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

async fn counts(url: &str) -> Json {
    reqwest::get(format!("{url}/_emulator/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn reset_counts(url: &str) {
    reqwest::Client::new()
        .post(format!("{url}/_emulator/requests/reset"))
        .send()
        .await
        .unwrap();
}

/// Requests counted by endpoint label, whatever the label's prefix (`POST /3.0/lists/{list_id}`).
fn requests(c: &Json, method: &str, template: &str) -> u64 {
    c["endpoints"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with(method) && k.ends_with(template))
        .map(|(_, v)| v["requests"].as_u64().unwrap_or(0))
        .sum()
}

async fn faults(url: &str, spec: &str) {
    let r = reqwest::Client::new()
        .post(format!("{url}/_emulator/faults"))
        .json(&json!({ "spec": spec }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

fn find<'a>(snap: &'a [crate::model::Resource], kind: Kind, name: &str) -> Option<&'a crate::model::Resource> {
    snap.iter().find(|r| r.kind == kind && r.address.name() == Some(name))
}

/// The next quarter hour at least a day ahead, RFC 3339 UTC.
fn quarter_hour_tomorrow() -> String {
    let t = Utc::now() + Days::days(1);
    let t = t.with_second(0).unwrap().with_nanosecond(0).unwrap();
    let t = t + Days::minutes(i64::from(15 - t.minute() % 15));
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The tags and campaigns of a read (not the audience's own settings and merge fields).
fn objects(snap: &crate::connectors::LiveSnapshot) -> Vec<&crate::model::Resource> {
    snap.resources
        .iter()
        .filter(|r| matches!(r.kind, Kind::Audience | Kind::Campaign))
        .collect()
}

#[tokio::test]
async fn an_empty_audience_reads_empty() {
    let (_emu, _url, acct, c) = start("mc_empty").await;
    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    assert!(snap.complete);
    // an audience always has its settings and, new, Mailchimp's four default merge fields
    let kinds: Vec<(Kind, &str)> = snap
        .resources
        .iter()
        .map(|r| (r.kind, r.address.name().unwrap_or("")))
        .collect();
    assert_eq!(
        kinds,
        [
            (Kind::List, "settings"),
            (Kind::MergeField, "ADDRESS"),
            (Kind::MergeField, "FNAME"),
            (Kind::MergeField, "LNAME"),
            (Kind::MergeField, "PHONE"),
        ]
    );
    assert_eq!(snap.resources[0].id.as_deref(), Some(MAILCHIMP_LIST_ID));
    assert!(c.health(&acct).await.unwrap().ok);
}

#[tokio::test]
async fn tags_are_created_filled_changed_renamed_and_deleted_in_few_requests() {
    let (_emu, url, acct, c) = start("mc_tags").await;
    let addr = Address::account("mc_tags").child(Kind::Audience, "VIPs");
    let all = file(&addr, "tags", 0..6, &[]);
    reset_counts(&url).await;
    let out = c
        .apply(
            &acct,
            &ApplyBatch {
                ops: vec![op(
                    addr.clone(),
                    Kind::Audience,
                    create(&[("members", set(&all[0..3]))]),
                )],
            },
        )
        .await
        .unwrap();
    let id = applied(&out).remove(0);
    let n = counts(&url).await;
    assert_eq!(n["total_requests"], 3, "{n}");
    assert_eq!(requests(&n, "POST", "/segments"), 1, "{n}");
    assert_eq!(requests(&n, "POST", "/lists/{list_id}"), 1, "{n}");
    assert_eq!(requests(&n, "POST", "/segments/{segment_id}"), 1, "{n}");

    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    let tag = find(&snap.resources, Kind::Audience, "VIPs").expect("tag read back");
    assert!(tag.owned);
    assert_eq!(tag.id.as_deref(), Some(id.as_str()));
    assert_eq!(tag.fields.get("members"), Some(&set(&all[0..3])));

    // add 3 and 4, remove 0: one batch subscribe and one segment request
    reset_counts(&url).await;
    let out = c
        .apply(
            &acct,
            &ApplyBatch {
                ops: vec![op(
                    addr.clone(),
                    Kind::Audience,
                    update(&id, &[("members", set(&all[1..5]))], &[("members", set(&all[0..3]))]),
                )],
            },
        )
        .await
        .unwrap();
    applied(&out);
    let n = counts(&url).await;
    assert_eq!(n["total_requests"], 2, "{n}");
    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    let tag = find(&snap.resources, Kind::Audience, "VIPs").unwrap();
    assert_eq!(tag.fields.get("members"), Some(&set(&all[1..5])));

    // rename
    let renamed = Address::account("mc_tags").child(Kind::Audience, "Best");
    applied(
        &c.apply(
            &acct,
            &ApplyBatch {
                ops: vec![op(
                    renamed,
                    Kind::Audience,
                    update(&id, &[("name", Value::str("Best"))], &[]),
                )],
            },
        )
        .await
        .unwrap(),
    );
    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    assert!(find(&snap.resources, Kind::Audience, "VIPs").is_none());
    assert!(find(&snap.resources, Kind::Audience, "Best").unwrap().owned);

    // a pause leaves it; a removal deletes the tag, the contacts stay
    let best = Address::account("mc_tags").child(Kind::Audience, "Best");
    applied(
        &c.apply(
            &acct,
            &ApplyBatch {
                ops: vec![
                    op(best.clone(), Kind::Audience, OpAction::Pause { id: id.clone() }),
                    op(best.clone(), Kind::Audience, OpAction::Remove { id: id.clone() }),
                    op(best, Kind::Audience, OpAction::Remove { id: id.clone() }),
                ],
            },
        )
        .await
        .unwrap(),
    );
    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    assert!(objects(&snap).is_empty());
    let m: Json = reqwest::get(format!("{url}/_emulator/mailchimp/lists/{MAILCHIMP_LIST_ID}/members"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["count"], 5, "the contacts stay in the audience");
}

#[tokio::test]
async fn members_without_an_address_in_clear_fail_before_anything_is_sent() {
    let (_emu, url, acct, c) = start("mc_noclear").await;
    let addr = Address::account("mc_noclear").child(Kind::Audience, "Ghosts");
    let hashes = vec![subscriber_hash("nobody@example.com")];
    reset_counts(&url).await;
    let batch = ApplyBatch {
        ops: vec![op(addr, Kind::Audience, create(&[("members", set(&hashes))]))],
    };
    for out in [
        c.validate(&acct, &batch).await.unwrap(),
        c.apply(&acct, &batch).await.unwrap(),
    ] {
        match &out[0] {
            OpOutcome::Failed(e) => {
                assert_eq!(e.code, "members_not_in_clear");
                assert!(e.message.contains("1 member"), "{}", e.message);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(counts(&url).await["total_requests"], 0);
}

#[tokio::test]
async fn campaigns_are_created_scheduled_changed_unscheduled_and_deleted() {
    let (_emu, url, acct, c) = start("mc_camp").await;
    let tag = Address::account("mc_camp").child(Kind::Audience, "Buyers");
    let all = file(&tag, "camp", 0..2, &[]);
    let camp = Address::account("mc_camp").child(Kind::Campaign, "Spring sale");
    let when = quarter_hour_tomorrow();
    let html = "<html><body><p>Spring is here</p></body></html>";
    let mut c_op = op(
        camp.clone(),
        Kind::Campaign,
        create(&[
            ("subject", Value::str("Spring")),
            ("preview_text", Value::str("Sale inside")),
            ("from_name", Value::str("Shop")),
            ("reply_to", Value::str("shop@example.com")),
            ("recipients", Value::Ref(Box::new(tag.clone()))),
            ("html", Value::str(html)),
            ("schedule_time", Value::str(when.clone())),
        ]),
    );
    c_op.refs.insert(tag.clone(), IdRef::Pending(0));
    reset_counts(&url).await;
    let out = c
        .apply(
            &acct,
            &ApplyBatch {
                ops: vec![op(tag.clone(), Kind::Audience, create(&[("members", set(&all))])), c_op],
            },
        )
        .await
        .unwrap();
    let ids = applied(&out);
    let (tag_id, id) = (ids[0].clone(), ids[1].clone());
    let n = counts(&url).await;
    assert_eq!(requests(&n, "POST", "/campaigns"), 1, "{n}");
    assert_eq!(requests(&n, "PUT", "/content"), 1, "{n}");
    assert_eq!(requests(&n, "PATCH", "/campaigns/{campaign_id}"), 1, "{n}");
    assert_eq!(requests(&n, "POST", "/actions/schedule"), 1, "{n}");

    let stored: Json = reqwest::get(format!("{url}/_emulator/mailchimp/objects/{id}"))
        .await
        .unwrap()
        .json::<Json>()
        .await
        .unwrap()["object"]
        .clone();
    let fp = html_fingerprint(html);
    assert_eq!(
        stored["settings"]["title"].as_str(),
        Some(format!("Spring sale [adsctl-managed:{fp}]").as_str()),
        "{stored}"
    );
    assert_eq!(
        stored["recipients"]["segment_opts"]["saved_segment_id"].to_string(),
        tag_id
    );

    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    let r = find(&snap.resources, Kind::Campaign, "Spring sale").expect("campaign read back");
    assert!(r.owned);
    assert_eq!(r.fields.get("subject"), Some(&Value::str("Spring")));
    assert_eq!(r.fields.get("preview_text"), Some(&Value::str("Sale inside")));
    assert_eq!(r.fields.get("recipients"), Some(&Value::Ref(Box::new(tag.clone()))));
    assert_eq!(r.fields.get("status"), Some(&Value::str("scheduled")));
    assert_eq!(r.fields.get("schedule_time"), Some(&Value::str(when.clone())));
    assert_eq!(r.observed.get(fingerprint_key("html").as_str()), Some(&fp));
    assert!(r.fields.get("html").is_none(), "html is write-only");

    // subject and html change: unschedule, PATCH (claim cleared), content, PATCH (new claim), schedule again
    let html2 = "<html><body><p>Spring is nearly over</p></body></html>";
    let before = [
        ("subject", Value::str("Spring")),
        ("preview_text", Value::str("Sale inside")),
        ("from_name", Value::str("Shop")),
        ("reply_to", Value::str("shop@example.com")),
        ("schedule_time", Value::str(when.clone())),
        ("status", Value::str("scheduled")),
    ];
    applied(
        &c.apply(
            &acct,
            &ApplyBatch {
                ops: vec![op(
                    camp.clone(),
                    Kind::Campaign,
                    update(
                        &id,
                        &[("subject", Value::str("Last days")), ("html", Value::str(html2))],
                        &before,
                    ),
                )],
            },
        )
        .await
        .unwrap(),
    );
    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    let r = find(&snap.resources, Kind::Campaign, "Spring sale").unwrap();
    assert_eq!(r.fields.get("subject"), Some(&Value::str("Last days")));
    assert_eq!(r.fields.get("status"), Some(&Value::str("scheduled")));
    assert_eq!(
        r.observed.get(fingerprint_key("html").as_str()),
        Some(&html_fingerprint(html2))
    );
    let content: Json = reqwest::Client::new()
        .get(format!("{url}/3.0/campaigns/{id}/content"))
        .bearer_auth(MAILCHIMP_API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(content["html"].as_str().unwrap_or("").contains("nearly over"));

    // the pause of on_removed: pause is status draft: unscheduled
    applied(
        &c.apply(
            &acct,
            &ApplyBatch {
                ops: vec![op(
                    camp.clone(),
                    Kind::Campaign,
                    update(&id, &[("status", Value::str("draft"))], &before),
                )],
            },
        )
        .await
        .unwrap(),
    );
    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    let r = find(&snap.resources, Kind::Campaign, "Spring sale").unwrap();
    assert_eq!(r.fields.get("status"), Some(&Value::str("draft")));
    assert_eq!(r.fields.get("schedule_time"), Some(&Value::str("")));

    // delete (twice: the second finds it gone)
    applied(
        &c.apply(
            &acct,
            &ApplyBatch {
                ops: vec![
                    op(camp.clone(), Kind::Campaign, OpAction::Remove { id: id.clone() }),
                    op(camp, Kind::Campaign, OpAction::Remove { id }),
                ],
            },
        )
        .await
        .unwrap(),
    );
    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    assert!(find(&snap.resources, Kind::Campaign, "Spring sale").is_none());
}

/// Creates a campaign to the whole audience and sends it (through the API, as a person in the UI would).
async fn sent_campaign(url: &str, acct: &Account, c: &MailchimpConnector, name: &str) -> String {
    let camp = Address::account(acct.name.clone()).child(Kind::Campaign, name);
    let out = c
        .apply(
            acct,
            &ApplyBatch {
                ops: vec![op(
                    camp,
                    Kind::Campaign,
                    create(&[
                        ("subject", Value::str("Hello")),
                        ("preview_text", Value::str("")),
                        ("from_name", Value::str("Shop")),
                        ("reply_to", Value::str("shop@example.com")),
                        ("recipients", Value::str("all")),
                        ("html", Value::str("<p>Hello</p>")),
                        ("schedule_time", Value::str("")),
                    ]),
                )],
            },
        )
        .await
        .unwrap();
    let id = applied(&out).remove(0);
    let r = reqwest::Client::new()
        .post(format!("{url}/3.0/campaigns/{id}/actions/send"))
        .bearer_auth(MAILCHIMP_API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    id
}

#[tokio::test]
async fn a_sent_campaign_is_settled_and_reports_its_figures() {
    let (_emu, url, acct, c) = start("mc_sent").await;
    let tag = Address::account("mc_sent").child(Kind::Audience, "All");
    let all = file(&tag, "sent", 0..4, &[]);
    applied(
        &c.apply(
            &acct,
            &ApplyBatch {
                ops: vec![op(tag, Kind::Audience, create(&[("members", set(&all))]))],
            },
        )
        .await
        .unwrap(),
    );
    let id = sent_campaign(&url, &acct, &c, "Hello").await;
    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    let r = find(&snap.resources, Kind::Campaign, "Hello").unwrap();
    assert_eq!(r.fields.get("status"), Some(&Value::str("sent")));
    assert!(super::capabilities().settled_statuses.contains(&"sent"));
    // a change of a sent campaign fails locally, a pause leaves it
    let out = c
        .apply(
            &acct,
            &ApplyBatch {
                ops: vec![
                    op(
                        r.address.clone(),
                        Kind::Campaign,
                        update(&id, &[("subject", Value::str("x"))], &[("status", Value::str("sent"))]),
                    ),
                    op(r.address.clone(), Kind::Campaign, OpAction::Pause { id: id.clone() }),
                ],
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(&out[0], OpOutcome::Failed(e) if e.code == "settled"),
        "{out:?}"
    );
    assert!(matches!(&out[1], OpOutcome::Applied { .. }));

    let today = Utc::now().date_naive();
    let rows = c
        .metrics(
            &acct,
            MetricsLevel::Campaign,
            DateRange {
                since: today - Days::days(1),
                until: today,
            },
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row.id, id);
    assert_eq!(row.name, "Hello");
    assert_eq!(row.date, today);
    assert_eq!(row.impressions, 0);
    let report: Json = reqwest::Client::new()
        .get(format!("{url}/3.0/reports/{id}"))
        .bearer_auth(MAILCHIMP_API_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let email = row.email.expect("e-mail figures");
    assert_eq!(email.sent, report["emails_sent"].as_u64().unwrap());
    assert_eq!(email.opens, report["opens"]["unique_opens"].as_u64().unwrap());
    assert_eq!(
        email.bounces,
        report["bounces"]["hard_bounces"].as_u64().unwrap() + report["bounces"]["soft_bounces"].as_u64().unwrap()
    );
    assert_eq!(email.unsubscribes, report["unsubscribed"].as_u64().unwrap());
    assert_eq!(row.clicks, report["clicks"]["clicks_total"].as_u64().unwrap());
    assert_eq!(
        row.conversion_value.micros(),
        super::metrics::exact_micros(&report["ecommerce"]["total_revenue"]).unwrap()
    );
    // a range before the send has nothing
    let none = c
        .metrics(
            &acct,
            MetricsLevel::Campaign,
            DateRange {
                since: today - Days::days(9),
                until: today - Days::days(2),
            },
        )
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[test]
fn report_rows_take_revenue_exactly_in_the_account_currency_only() {
    let acct = account("mc_rows", "http://127.0.0.1:9");
    let mut r = json!({"id": "abc", "campaign_title": "Hi [adsctl-managed]", "send_time": "2026-03-01T10:00:00+00:00",
        "emails_sent": 10, "unsubscribed": 1, "bounces": {"hard_bounces": 1, "soft_bounces": 2},
        "opens": {"unique_opens": 4}, "clicks": {"clicks_total": 5},
        "ecommerce": {"total_revenue": 1234.56, "currency_code": "USD"}});
    let row = super::metrics::row_of(&acct, &r).unwrap();
    assert_eq!(row.conversion_value.micros(), 1_234_560_000);
    assert_eq!(row.name, "Hi");
    assert_eq!(row.email.unwrap().bounces, 3);
    r["ecommerce"]["currency_code"] = json!("EUR");
    assert_eq!(super::metrics::row_of(&acct, &r).unwrap().conversion_value.micros(), 0);
}

#[tokio::test]
async fn a_lost_create_is_not_sent_twice_and_the_next_read_finds_it() {
    let (_emu, url, acct, c) = start("mc_lost").await;
    let camp = Address::account("mc_lost").child(Kind::Campaign, "Lost");
    let batch = ApplyBatch {
        ops: vec![op(
            camp,
            Kind::Campaign,
            create(&[
                ("subject", Value::str("s")),
                ("from_name", Value::str("f")),
                ("reply_to", Value::str("r@example.com")),
                ("recipients", Value::str("all")),
            ]),
        )],
    };
    reset_counts(&url).await;
    faults(&url, "lost=1.0").await;
    let out = c.apply(&acct, &batch).await.unwrap();
    faults(&url, "").await;
    match &out[0] {
        OpOutcome::Failed(e) => assert_eq!(e.code, "outcome_unknown", "{e:?}"),
        other => panic!("{other:?}"),
    }
    let n = counts(&url).await;
    assert_eq!(requests(&n, "POST", "/campaigns"), 1, "the create went once: {n}");
    assert!(requests(&n, "GET", "/campaigns") >= 1, "it was looked for: {n}");
    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    let found: Vec<_> = snap.resources.iter().filter(|r| r.kind == Kind::Campaign).collect();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].address.name(), Some("Lost"));
    assert!(found[0].owned);
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried() {
    let (_emu, url, acct, c) = start("mc_429").await;
    let injected = |url: String, k: &'static str| async move {
        let f: Json = reqwest::get(format!("{url}/_emulator/faults"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        f["injected"][k].as_u64().unwrap_or(0)
    };
    faults(&url, "429=0.5,seed=3").await;
    for _ in 0..3 {
        c.read(&acct, &ReadRequest::default()).await.unwrap();
    }
    assert!(injected(url.clone(), "429").await > 0);
    faults(&url, "5xx=0.5,seed=5").await;
    for _ in 0..3 {
        c.read(&acct, &ReadRequest::default()).await.unwrap();
    }
    assert!(injected(url.clone(), "5xx").await > 0);
    faults(&url, "").await;
    assert!(c.client().requests_sent() > 6);
}

#[tokio::test]
async fn problem_documents_become_errors_with_their_title() {
    let (_emu, url, acct, c) = start("mc_err").await;
    // an operation refused: 400 Invalid Resource on the reply_to
    let camp = Address::account("mc_err").child(Kind::Campaign, "Bad");
    let out = c
        .apply(
            &acct,
            &ApplyBatch {
                ops: vec![op(
                    camp,
                    Kind::Campaign,
                    create(&[
                        ("subject", Value::str("s")),
                        ("from_name", Value::str("f")),
                        ("reply_to", Value::str("not an address")),
                        ("recipients", Value::str("all")),
                    ]),
                )],
            },
        )
        .await
        .unwrap();
    match &out[0] {
        OpOutcome::Failed(e) => {
            assert_eq!(e.code, "400 Invalid Resource", "{e:?}");
            assert_eq!(e.field.as_deref(), Some("settings.reply_to"));
        }
        other => panic!("{other:?}"),
    }
    // a whole call refused: an audience that is not there
    let mut other = account("mc_err2", &url);
    other.platform_id = "0000000000".into();
    let c2 = MailchimpConnector::with(&other, cfg(&url), key()).unwrap();
    let e = c2.read(&other, &ReadRequest::default()).await.unwrap_err();
    assert!(e.to_string().contains("Resource Not Found"), "{e}");
    // a key the API does not know: an auth error, and the key is in no message
    let bad = MailchimpCredentials::api_key("ffffffffffffffffffffffffffffffff-us6").unwrap();
    let c3 = MailchimpConnector::with(&acct, cfg(&url), bad).unwrap();
    let e = c3.read(&acct, &ReadRequest::default()).await.unwrap_err();
    assert!(matches!(e, ConnectorError::Auth { .. }), "{e:?}");
    assert!(e.to_string().contains("API Key Invalid"), "{e}");
    assert!(!format!("{e:?}").contains("ffffffffffff"));
}

#[tokio::test]
async fn leases_are_taken_held_renewed_and_given_back() {
    let (_emu, _url, acct, c) = start("mc_lease").await;
    let until = Utc::now() + Days::minutes(10);
    let l = match c.acquire_lease(&acct, "host/1/a", until, None).await.unwrap() {
        LeaseOutcome::Acquired(l) => l,
        other => panic!("{other:?}"),
    };
    match c.acquire_lease(&acct, "host/2/b", until, None).await.unwrap() {
        LeaseOutcome::Held { holder, .. } => assert_eq!(holder, "host/1/a"),
        other => panic!("{other:?}"),
    }
    let later = until + Days::minutes(5);
    c.renew_lease(&acct, &l, later).await.unwrap();
    match c.acquire_lease(&acct, "host/2/b", until, None).await.unwrap() {
        LeaseOutcome::Held { expires_at, .. } => assert_eq!(expires_at.timestamp(), later.timestamp()),
        other => panic!("{other:?}"),
    }
    // reads leave lease segments out
    assert!(objects(&c.read(&acct, &ReadRequest::default()).await.unwrap()).is_empty());
    c.release_lease(&acct, &l).await.unwrap();
    match c.acquire_lease(&acct, "host/2/b", until, None).await.unwrap() {
        LeaseOutcome::Acquired(l2) => c.release_lease(&acct, &l2).await.unwrap(),
        other => panic!("{other:?}"),
    }
    // a killed holder's lease is taken over at once
    let LeaseOutcome::Acquired(_) = c.acquire_lease(&acct, "host/3/c", until, None).await.unwrap() else {
        panic!("free")
    };
    assert!(matches!(
        c.acquire_lease(&acct, "host/4/d", until, Some("host/3/c"))
            .await
            .unwrap(),
        LeaseOutcome::Acquired(_)
    ));
}

#[tokio::test]
async fn source_emails_are_the_subscribed_members_of_a_tag_or_of_the_audience() {
    let (_emu, _url, acct, c) = start("mc_src").await;
    let a = Address::account("mc_src").child(Kind::Audience, "Fans");
    let b = Address::account("mc_src").child(Kind::Audience, "Others");
    let fans = file(&a, "src", 0..4, &[1]);
    let others = file(&b, "src", 10..12, &[]);
    applied(
        &c.apply(
            &acct,
            &ApplyBatch {
                ops: vec![
                    op(a, Kind::Audience, create(&[("members", set(&fans))])),
                    op(b, Kind::Audience, create(&[("members", set(&others))])),
                ],
            },
        )
        .await
        .unwrap(),
    );
    let got: BTreeSet<String> = c
        .source_emails(&acct, Some("Fans"))
        .await
        .unwrap()
        .into_iter()
        .collect();
    let want: BTreeSet<String> = [0, 2, 3].iter().map(|i| email("src", *i)).collect();
    assert!(got == want, "the tag's subscribed members differ");
    let got: BTreeSet<String> = c.source_emails(&acct, None).await.unwrap().into_iter().collect();
    let want: BTreeSet<String> = [0, 2, 3, 10, 11].iter().map(|i| email("src", *i)).collect();
    assert!(got == want, "the audience's subscribed members differ");
    // but the tag's members are all read (an unsubscribed contact stays in its tag)
    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    assert_eq!(
        find(&snap.resources, Kind::Audience, "Fans")
            .unwrap()
            .fields
            .get("members"),
        Some(&set(&fans))
    );
    assert!(c.source_emails(&acct, Some("Nope")).await.is_err());
}

#[tokio::test]
async fn oauth_login_finds_the_data_center_and_validate_reads_the_account() {
    use crate::auth::platform::PlatformAuth;
    let emu = Emulator::start(EmulatorConfig::default()).await.expect("emulator");
    let url = emu.url();
    let acct = account("mc_auth", &url);
    let vars: BTreeMap<&str, String> = [
        ("ADSCTL_MAILCHIMP_CLIENT_ID", MAILCHIMP_CLIENT_ID.to_string()),
        ("ADSCTL_MAILCHIMP_CLIENT_SECRET", MAILCHIMP_CLIENT_SECRET.to_string()),
        ("ADSCTL_MAILCHIMP_LOGIN_ENDPOINT", url.clone()),
    ]
    .into();
    let env: crate::auth::EnvFn = Arc::new(move |k: &str| vars.get(k).cloned());
    let dir = tempfile::tempdir().unwrap();
    let auth = crate::auth::Auth::with_env(dir.path(), env);
    // the authorize redirect carries a code
    let redirect = "http://127.0.0.1:1/callback";
    let (_, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let u = super::MailchimpAuth
        .authorize_url(
            &auth,
            &acct,
            None,
            crate::auth::platform::LoginRequest {
                redirect: redirect.into(),
                state: crate::secret::Secret::new("st"),
                challenge: oauth2::PkceCodeChallenge::new_random_sha256().0,
            },
        )
        .unwrap();
    assert!(u
        .as_str()
        .starts_with(&format!("{url}/oauth2/authorize?response_type=code")));
    let r = auth.http().get(u.as_str()).send().await.unwrap();
    let loc = r.headers().get("location").unwrap().to_str().unwrap().to_string();
    let code = url::Url::parse(&loc)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.to_string())
        .unwrap();
    let kind = super::MailchimpAuth
        .exchange(&auth, &acct, None, crate::secret::Secret::new(code), verifier, redirect)
        .await
        .unwrap();
    let creds = kind.get::<MailchimpCredentials>().unwrap();
    assert_eq!(creds.dc, "us6");
    assert_eq!(creds.kind, "oauth");
    // a bad token: 200 {"error": "invalid_token"} is a refusal
    let e = super::auth::metadata(auth.http(), &url, &crate::secret::Secret::new("nope"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("invalid_token"), "{e}");
    assert_eq!(
        super::auth::metadata(auth.http(), &url, &crate::secret::Secret::new(MAILCHIMP_OAUTH_TOKEN))
            .await
            .unwrap(),
        "us6"
    );
    // validate with the token: the account answers, the role is a scope
    let mut v = crate::auth::Validation::default();
    super::MailchimpAuth
        .validate(&auth, &acct, &kind, &mut v)
        .await
        .unwrap();
    assert_eq!(v.scopes, vec!["owner".to_string()]);
    assert!(v.name.is_some());
    // the connector works with it too
    let c = MailchimpConnector::with(&acct, cfg(&url), creds.clone()).unwrap();
    c.read(&acct, &ReadRequest::default()).await.unwrap();
    // and an environment API key gives its dc
    let vars: BTreeMap<&str, &str> = [("ADSCTL_MAILCHIMP_API_KEY", MAILCHIMP_API_KEY)].into();
    let env: crate::auth::EnvFn = Arc::new(move |k: &str| vars.get(k).map(|v| v.to_string()));
    let auth2 = crate::auth::Auth::with_env(dir.path(), env);
    let k = super::MailchimpAuth.env_credentials(&auth2, &acct).unwrap();
    assert_eq!(k.get::<MailchimpCredentials>().unwrap().dc, "us6");
    let _ = Utc.timestamp_opt(0, 0);
}

/// A create whose answer is lost while the look-up that follows is answered: found by its marked title, applied,
/// and not sent a second time (seeds tried in order until one loses exactly the create's answer).
#[tokio::test]
async fn a_lost_create_found_by_its_title_is_applied_once() {
    let (_emu, url, acct, c) = start("mc_found").await;
    for seed in 1..=64u32 {
        let name = format!("Found {seed}");
        let camp = Address::account("mc_found").child(Kind::Campaign, name.clone());
        let batch = ApplyBatch {
            ops: vec![op(
                camp,
                Kind::Campaign,
                create(&[
                    ("subject", Value::str("s")),
                    ("from_name", Value::str("f")),
                    ("reply_to", Value::str("r@example.com")),
                    ("recipients", Value::str("all")),
                ]),
            )],
        };
        reset_counts(&url).await;
        faults(&url, &format!("lost=0.5,seed={seed}")).await;
        let out = c.apply(&acct, &batch).await.unwrap();
        let f: Json = reqwest::get(format!("{url}/_emulator/faults"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        faults(&url, "").await;
        let n = counts(&url).await;
        let lost = f["injected"]["lost"].as_u64().unwrap_or(0);
        let posts = requests(&n, "POST", "/campaigns");
        if lost == 1 && posts == 1 && matches!(out[0], OpOutcome::Applied { .. }) {
            let id = applied(&out).remove(0);
            let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
            let same: Vec<_> = snap
                .resources
                .iter()
                .filter(|r| r.address.name() == Some(name.as_str()))
                .collect();
            assert_eq!(same.len(), 1, "one campaign, not two");
            assert_eq!(same[0].id.as_deref(), Some(id.as_str()));
            assert!(requests(&n, "GET", "/campaigns") >= 1, "it was looked for: {n}");
            return;
        }
    }
    panic!("no seed lost exactly the create's answer");
}

#[tokio::test]
async fn refused_contacts_fail_the_operation_without_their_address() {
    let (_emu, _url, acct, c) = start("mc_refused").await;
    let addr = Address::account("mc_refused").child(Kind::Audience, "Odd");
    let bad = "not-really@@example";
    let h = subscriber_hash(bad);
    clear::file(
        &addr.to_string(),
        HashMap::from([(
            h.clone(),
            ClearMember {
                email: bad.into(),
                status: None,
                fields: BTreeMap::new(),
            },
        )]),
    );
    let out = c
        .apply(
            &acct,
            &ApplyBatch {
                ops: vec![op(addr, Kind::Audience, create(&[("members", set(&[h]))]))],
            },
        )
        .await
        .unwrap();
    match &out[0] {
        OpOutcome::Failed(e) => {
            assert_eq!(e.code, "batch_subscribe");
            assert!(!format!("{e:?}").contains("not-really"), "an address reached a message");
        }
        other => panic!("{other:?}"),
    }
}

/// Reads of many tags go side by side, never more than 10 in flight: the emulator (10 connections, each request
/// held 40 ms) answers none with 429.
#[tokio::test]
async fn never_more_than_ten_requests_in_flight() {
    let (_emu, url, acct, c) = start("mc_gate").await;
    let ops = (0..14)
        .map(|i| {
            op(
                Address::account("mc_gate").child(Kind::Audience, format!("T{i}")),
                Kind::Audience,
                create(&[("members", Value::Set(Default::default()))]),
            )
        })
        .collect();
    applied(&c.apply(&acct, &ApplyBatch { ops }).await.unwrap());
    let r = reqwest::Client::new()
        .post(format!("{url}/_emulator/mailchimp/config"))
        .json(&json!({"request_delay_ms": 40}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    reset_counts(&url).await;
    let started = std::time::Instant::now();
    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    assert_eq!(objects(&snap).len(), 14);
    let n = counts(&url).await;
    let throttled: u64 = n["endpoints"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v["statuses"]["429"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(throttled, 0, "{n}");
    assert_eq!(
        n["total_requests"], 18,
        "segments, 14 member lists, campaigns, the audience's settings and merge fields: {n}"
    );
    // side by side: far less than 18 × 40 ms
    assert!(
        started.elapsed() < Duration::from_millis(18 * 40),
        "{:?}",
        started.elapsed()
    );
}

/// The audience's settings are patched whole (the PATCH's required set, the read's values under the change) and
/// never created or deleted; merge fields are created by tag, updated with their options sent whole, and deleted.
#[tokio::test]
async fn audience_settings_and_merge_fields_are_written_as_mailchimp_needs() {
    let (_emu, url, acct, c) = start("mc_list").await;
    let list = Address::account("mc_list").child(Kind::List, "settings");
    let plan_tag = Address::account("mc_list").child(Kind::MergeField, "PLAN");
    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    let before = find(&snap.resources, Kind::List, "settings").unwrap().clone();
    assert_eq!(before.fields.get("double_optin"), Some(&Value::Bool(false)));
    reset_counts(&url).await;
    let out = c
        .apply(
            &acct,
            &ApplyBatch {
                ops: vec![
                    op(
                        list.clone(),
                        Kind::List,
                        update(
                            MAILCHIMP_LIST_ID,
                            &[
                                ("double_optin", Value::Bool(true)),
                                ("contact.city", Value::str("Springfield")),
                                ("audience_name", Value::str("Acme news")),
                            ],
                            &[],
                        ),
                    ),
                    op(
                        plan_tag.clone(),
                        Kind::MergeField,
                        create(&[
                            ("label", Value::str("Plan")),
                            ("type", Value::str("dropdown")),
                            ("choices", Value::List(vec![Value::str("free"), Value::str("pro")])),
                            ("default_value", Value::str("free")),
                        ]),
                    ),
                ],
            },
        )
        .await
        .unwrap();
    let ids = applied(&out);
    assert_eq!(ids[0], MAILCHIMP_LIST_ID);
    let n = counts(&url).await;
    assert_eq!(
        requests(&n, "PATCH", "/lists/{list_id}"),
        1,
        "one PATCH, no read: the read's settings are used"
    );
    assert_eq!(requests(&n, "GET", "/lists/{list_id}"), 0);
    assert_eq!(requests(&n, "POST", "/lists/{list_id}/merge-fields"), 1);
    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    let after = find(&snap.resources, Kind::List, "settings").unwrap();
    assert_eq!(after.fields.get("double_optin"), Some(&Value::Bool(true)));
    assert_eq!(after.fields.get("contact.city"), Some(&Value::str("Springfield")));
    assert_eq!(after.fields.get("audience_name"), Some(&Value::str("Acme news")));
    // what the change did not name is as it was (the PATCH carried the read's values)
    for k in [
        "permission_reminder",
        "contact.company",
        "campaign_defaults.from_email",
        "email_type_option",
    ] {
        assert_eq!(after.fields.get(k), before.fields.get(k), "{k}");
    }
    let plan = find(&snap.resources, Kind::MergeField, "PLAN").unwrap();
    assert_eq!(plan.id.as_deref(), Some(ids[1].as_str()));
    assert_eq!(plan.fields.get("type"), Some(&Value::str("dropdown")));
    assert_eq!(plan.fields.get("default_value"), Some(&Value::str("free")));

    // a label change keeps the choices (options go whole); a help text is added
    let out = c
        .apply(
            &acct,
            &ApplyBatch {
                ops: vec![op(
                    plan_tag.clone(),
                    Kind::MergeField,
                    update(
                        &ids[1],
                        &[
                            ("label", Value::str("Plan name")),
                            ("help_text", Value::str("Your plan")),
                        ],
                        &[],
                    ),
                )],
            },
        )
        .await
        .unwrap();
    applied(&out);
    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    let plan = find(&snap.resources, Kind::MergeField, "PLAN").unwrap();
    assert_eq!(plan.fields.get("label"), Some(&Value::str("Plan name")));
    assert_eq!(plan.fields.get("help_text"), Some(&Value::str("Your plan")));
    assert_eq!(
        plan.fields.get("choices"),
        Some(&Value::List(vec![Value::str("free"), Value::str("pro")]))
    );

    // the audience is never created nor deleted by the connector, whatever it is handed
    let out = c
        .apply(
            &acct,
            &ApplyBatch {
                ops: vec![
                    op(list.clone(), Kind::List, create(&[("audience_name", Value::str("x"))])),
                    op(
                        list.clone(),
                        Kind::List,
                        OpAction::Remove {
                            id: MAILCHIMP_LIST_ID.into(),
                        },
                    ),
                    op(
                        plan_tag.clone(),
                        Kind::MergeField,
                        OpAction::Remove { id: ids[1].clone() },
                    ),
                ],
            },
        )
        .await
        .unwrap();
    assert!(
        matches!(&out[0], OpOutcome::Failed(e) if e.code == "audience_not_found"),
        "{:?}",
        out[0]
    );
    assert!(
        matches!(&out[1], OpOutcome::Failed(e) if e.code == "audience_not_removed"),
        "{:?}",
        out[1]
    );
    assert!(matches!(&out[2], OpOutcome::Applied { .. }), "{:?}", out[2]);
    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    assert!(find(&snap.resources, Kind::MergeField, "PLAN").is_none());
    assert!(find(&snap.resources, Kind::List, "settings").is_some());
}

/// A merge field whose create got no answer is not sent twice: the outcome is unknown, and the next read finds it
/// by its tag (the plan then matches it instead of creating it).
#[tokio::test]
async fn a_merge_field_whose_create_was_lost_is_not_sent_twice() {
    let (_emu, url, acct, c) = start("mc_lost_mf").await;
    let tag = Address::account("mc_lost_mf").child(Kind::MergeField, "SHOE");
    let batch = ApplyBatch {
        ops: vec![op(
            tag,
            Kind::MergeField,
            create(&[("label", Value::str("Shoe size")), ("type", Value::str("number"))]),
        )],
    };
    reset_counts(&url).await;
    faults(&url, "lost=1.0").await;
    let out = c.apply(&acct, &batch).await.unwrap();
    faults(&url, "").await;
    match &out[0] {
        OpOutcome::Failed(e) => assert_eq!(e.code, "outcome_unknown", "{e:?}"),
        other => panic!("{other:?}"),
    }
    let n = counts(&url).await;
    assert_eq!(
        requests(&n, "POST", "/lists/{list_id}/merge-fields"),
        1,
        "the create went once: {n}"
    );
    let snap = c.read(&acct, &ReadRequest::default()).await.unwrap();
    let shoe = find(&snap.resources, Kind::MergeField, "SHOE").unwrap();
    assert_eq!(shoe.fields.get("label"), Some(&Value::str("Shoe size")));
    assert_eq!(shoe.fields.get("type"), Some(&Value::str("number")));
}
