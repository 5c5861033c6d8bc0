//! `adsctl metrics` against the in-process emulator: incremental pulls into the daily series, totals checked against
//! an independent computation from the emulator's admin dump, currencies kept apart, the output formats.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use adsctl::connectors::{ApplyBatch, Connector, DateRange, IdRef, MetricsLevel, OpAction, OpOutcome, Operation};
use adsctl::emulator::config::{GoogleCustomerSeed, MetaAdAccountSeed};
use adsctl::emulator::platform::defaults;
use adsctl::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use adsctl::metrics::report::{AccountInput, Row};
use adsctl::metrics::{self, render, Bucket, Level, Report, SeriesStore, SyncOptions};
use adsctl::model::{Account, Address, Currency, Guardrails, Kind, Money, Platform, RemovalPolicy, Value};
use adsctl::platforms::google_ads::config::{Credentials, Settings, StaticCredentials};
use adsctl::platforms::google_ads::GoogleAdsConnector;
use adsctl::platforms::meta::config::{MetaConfig, MetaCredentials};
use adsctl::platforms::meta::MetaConnector;
use adsctl::secret::Secret;
use adsctl::state::{SledStore, StateEntry, StateStore};
use chrono::{Duration as Days, NaiveDate, Utc};
use rust_decimal::prelude::FromPrimitive;
use rust_decimal::Decimal;
use serde_json::Value as Json;

/// (local name, platform, platform id, currency)
const ACCOUNTS: [(&str, Platform, &str, &str); 4] = [
    ("g_usd", Platform::GoogleAds, "1111111111", "USD"),
    ("g_jpy", Platform::GoogleAds, "2222222222", "JPY"),
    ("m_usd", Platform::Meta, "act_3003", "USD"),
    ("m_jpy", Platform::Meta, "act_4004", "JPY"),
];

struct World {
    emu: EmulatorHandle,
    accounts: Vec<Account>,
    connectors: Vec<Arc<dyn Connector>>,
}

fn fields(xs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    xs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
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

fn units(n: i64) -> Value {
    Value::Money(Money::from_micros(n * 1_000_000))
}

/// Google: two campaigns (each with one ad group), budgets in the account currency.
fn google_batch(acct: &str, budget: i64) -> ApplyBatch {
    let mut ops = Vec::new();
    for (i, name) in ["Spring", "Autumn"].iter().enumerate() {
        let c = Address::account(acct).child(Kind::Campaign, *name);
        let ci = ops.len();
        ops.push(create(
            c.clone(),
            None,
            fields(&[
                ("status", Value::str("enabled")),
                ("channel", Value::str("search")),
                ("budget.daily", units(budget * (i as i64 + 1))),
                ("bidding.strategy", Value::str("maximize_conversions")),
                ("network.google_search", Value::Bool(true)),
                ("network.search_network", Value::Bool(false)),
                ("eu_political_advertising", Value::Bool(false)),
            ]),
        ));
        ops.push(create(
            c.child(Kind::AdGroup, "Group"),
            Some(IdRef::Pending(ci)),
            fields(&[("status", Value::str("enabled"))]),
        ));
    }
    ApplyBatch { ops }
}

/// Meta: two campaigns, one ad set with two ads each, budgets on the campaigns.
fn meta_batch(acct: &str, budget: i64) -> ApplyBatch {
    let mut ops = Vec::new();
    for (i, name) in ["Spring", "Autumn"].iter().enumerate() {
        let c = Address::account(acct).child(Kind::Campaign, *name);
        let ci = ops.len();
        ops.push(create(
            c.clone(),
            None,
            fields(&[
                ("status", Value::str("active")),
                ("objective", Value::str("outcome_traffic")),
                ("special_ad_categories", Value::Set(BTreeSet::new())),
                ("budget.daily", units(budget * (i as i64 + 1))),
                ("bid_strategy", Value::str("lowest_cost_without_cap")),
            ]),
        ));
        let s = c.child(Kind::AdSet, "Set");
        let si = ops.len();
        ops.push(create(
            s.clone(),
            Some(IdRef::Pending(ci)),
            fields(&[
                ("status", Value::str("active")),
                ("optimization_goal", Value::str("link_clicks")),
                ("billing_event", Value::str("impressions")),
                ("targeting.countries", Value::Set([Value::str("US")].into())),
            ]),
        ));
        for a in 0..2 {
            ops.push(create(
                s.child(Kind::Ad, format!("Ad {a}")),
                Some(IdRef::Pending(si)),
                fields(&[
                    ("status", Value::str("active")),
                    ("creative.page_id", Value::str("1122334455")),
                    ("creative.link", Value::Url("https://example.com/shoes".into())),
                    ("creative.message", Value::str("Spring is here.")),
                    ("creative.headline", Value::str(format!("Shoes {a}"))),
                    ("creative.call_to_action", Value::str("learn_more")),
                ]),
            ));
        }
    }
    ApplyBatch { ops }
}

fn account(name: &str, platform: Platform, id: &str, currency: &str, url: &str) -> Account {
    Account {
        name: name.into(),
        platform,
        platform_id: id.into(),
        login_customer_id: None,
        currency: Currency::from_code(currency).unwrap(),
        time_zone: None,
        on_removed: RemovalPolicy::Pause,
        guardrails: Guardrails::default(),
        endpoint: Some(url.to_string()),
    }
}

fn connector(acct: &Account, url: &str) -> Arc<dyn Connector> {
    match acct.platform {
        Platform::GoogleAds => {
            let creds = Credentials {
                client_id: defaults::GOOGLE_CLIENT_ID.into(),
                client_secret: Secret::new(defaults::GOOGLE_CLIENT_SECRET),
                developer_token: Secret::new(defaults::GOOGLE_DEVELOPER_TOKEN),
                refresh_token: Secret::new(defaults::GOOGLE_REFRESH_TOKEN),
                login_customer_id: None,
            };
            let mut s = Settings::from_lookup(acct, |_| None);
            s.retry_min_delay = Duration::from_millis(10);
            s.retry_max_delay = Duration::from_millis(100);
            s.poll_interval = Duration::from_millis(20);
            Arc::new(GoogleAdsConnector::with_settings(acct, Arc::new(StaticCredentials(creds)), s).unwrap())
        }
        _ => {
            let cfg = MetaConfig {
                base_url: url.to_string(),
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
            let creds = MetaCredentials {
                app_id: Some(defaults::META_APP_ID.into()),
                app_secret: Some(Secret::new(defaults::META_APP_SECRET)),
                access_token: Secret::new(defaults::META_ACCESS_TOKEN),
            };
            Arc::new(MetaConnector::with(acct, cfg, creds).unwrap())
        }
    }
}

impl World {
    async fn start() -> World {
        let mut config = EmulatorConfig {
            review_delay: Duration::from_millis(0),
            auto_create_accounts: false,
            ..EmulatorConfig::default()
        };
        for (name, platform, id, currency) in ACCOUNTS {
            match platform {
                Platform::GoogleAds => config.seed.google_ads.customers.push(GoogleCustomerSeed {
                    customer_id: id.into(),
                    currency: currency.into(),
                    time_zone: "UTC".into(),
                    descriptive_name: Some(name.into()),
                    manager: false,
                    clients: vec![],
                }),
                _ => config.seed.meta.ad_accounts.push(MetaAdAccountSeed {
                    id: id.into(),
                    currency: currency.into(),
                    timezone_name: "UTC".into(),
                    name: Some(name.into()),
                }),
            }
        }
        let emu = Emulator::start(config).await.expect("emulator starts");
        let url = emu.url();
        let mut accounts = Vec::new();
        let mut connectors = Vec::new();
        for (name, platform, id, currency) in ACCOUNTS {
            let a = account(name, platform, id, currency, &url);
            let c = connector(&a, &url);
            let budget = if currency == "JPY" { 5_000 } else { 50 };
            let batch = match platform {
                Platform::GoogleAds => google_batch(name, budget),
                _ => meta_batch(name, budget),
            };
            for o in c.apply(&a, &batch).await.unwrap() {
                assert!(matches!(o, OpOutcome::Applied { .. }), "{o:?}");
            }
            accounts.push(a);
            connectors.push(c);
        }
        World {
            emu,
            accounts,
            connectors,
        }
    }

    async fn dump(&self) -> Json {
        reqwest::get(format!("{}/_emulator/dump", self.emu.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// Exact sums the test computes on its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Expected {
    impressions: u64,
    clicks: u64,
    cost_micros: i64,
    conversions: Decimal,
    value_micros: i64,
}

impl Expected {
    fn add(&mut self, o: &Expected) {
        self.impressions += o.impressions;
        self.clicks += o.clicks;
        self.cost_micros += o.cost_micros;
        self.conversions += o.conversions;
        self.value_micros += o.value_micros;
    }
    fn of(s: &metrics::Sums) -> Expected {
        Expected {
            impressions: s.impressions,
            clicks: s.clicks,
            cost_micros: s.cost.micros(),
            conversions: s.conversions,
            value_micros: s.conversion_value.micros(),
        }
    }
}

fn days(range: DateRange) -> impl Iterator<Item = NaiveDate> {
    let mut d = range.since;
    std::iter::from_fn(move || {
        let out = (d <= range.until).then_some(d)?;
        d += Days::days(1);
        Some(out)
    })
}

/// The independent computation, from the emulator's admin dump: campaign platform id → sums over `range`.
///
/// Google: the campaigns and their budgets are read from the dump, and the emulator's public deterministic
/// function `emulator::google_ads::metrics::day` is called for each (resource name, day) — the same function the
/// GAQL endpoint uses, but none of the GAQL, connector, series or aggregation code is involved.
/// Meta: the ads, their campaigns and budgets are read from the dump and the emulator's per-ad daily formula is
/// re-derived here (its function is private), using its public hash.
fn expected_from_dump(dump: &Json, range: DateRange, today: NaiveDate) -> BTreeMap<String, Expected> {
    let mut out: BTreeMap<String, Expected> = BTreeMap::new();
    let g = &dump["platforms"]["google_ads"]["customers"];
    for (_, _, id, _) in ACCOUNTS.iter().filter(|a| a.1 == Platform::GoogleAds) {
        let t = &g[*id]["tables"];
        for c in t["Campaign"].as_object().unwrap().values() {
            let rn = c["v"]["resourceName"].as_str().unwrap();
            let budget_rn = c["v"]["campaignBudget"].as_str().unwrap();
            let budget_id = budget_rn.rsplit('/').next().unwrap();
            let budget: u64 = t["CampaignBudget"][budget_id]["v"]["amountMicros"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            let e = out.entry(c["v"]["id"].as_str().unwrap().to_string()).or_default();
            for d in days(range) {
                let m = adsctl::emulator::google_ads::metrics::day(0, rn, d, today, budget);
                e.add(&Expected {
                    impressions: m.impressions,
                    clicks: m.clicks,
                    cost_micros: m.cost_micros as i64,
                    conversions: Decimal::from_f64(m.conversions).unwrap().round_dp(2),
                    value_micros: (Decimal::from_f64(m.conversions_value).unwrap().round_dp(2)
                        * Decimal::from(1_000_000))
                    .try_into()
                    .unwrap(),
                });
            }
        }
    }
    let meta = &dump["platforms"]["meta"];
    let objects = meta["objects"].as_object().unwrap();
    let live_ads: Vec<&Json> = objects
        .values()
        .filter(|o| o["kind"] == "Ad" && o["fields"]["status"] != "DELETED")
        .collect();
    for ad in &live_ads {
        let account = ad["account"].as_str().unwrap();
        let currency = meta["accounts"][account]["currency"].as_str().unwrap();
        let to_micros = 10_i64.pow(6 - Currency::from_code(currency).unwrap().minor_units());
        let campaign_id = ad["fields"]["campaign_id"].as_str().unwrap();
        let adset = &objects[ad["fields"]["adset_id"].as_str().unwrap()];
        assert!(
            adset["fields"]["daily_budget"].is_null(),
            "budgets are on the campaigns"
        );
        let siblings = live_ads
            .iter()
            .filter(|a| a["fields"]["campaign_id"] == campaign_id)
            .count() as i64;
        let share = objects[campaign_id]["fields"]["daily_budget"].as_i64().unwrap() / siblings;
        let e = out.entry(campaign_id.to_string()).or_default();
        for d in days(range) {
            let h = adsctl::emulator::meta::util::hash64(&[
                ad["id"].as_str().unwrap(),
                &d.format("%Y-%m-%d").to_string(),
                "0",
            ]);
            let spend = share * (85 + (h % 16) as i64) / 100;
            let impressions = spend * 1000 / (300 + ((h >> 8) % 1200) as i64);
            let clicks = impressions * (50 + ((h >> 20) % 250) as i64) / 10_000;
            let maturity = match (today - d).num_days() {
                i64::MIN..=0 => 40,
                1 => 70,
                2 => 90,
                _ => 100,
            };
            let purchases = clicks * (2 + ((h >> 48) % 7) as i64) / 100 * maturity / 100;
            let value = purchases * share * (20 + ((h >> 56) % 41) as i64) / 100;
            e.add(&Expected {
                impressions: impressions as u64,
                clicks: clicks as u64,
                cost_micros: spend * to_micros,
                conversions: Decimal::from(purchases),
                value_micros: value * to_micros,
            });
        }
    }
    out
}

fn last_days(today: NaiveDate, n: i64) -> DateRange {
    DateRange {
        since: today - Days::days(n),
        until: today - Days::days(1),
    }
}

fn requests(h: &EmulatorHandle, needle: &str) -> u64 {
    h.counters()
        .snapshot()
        .endpoints
        .iter()
        .filter(|(k, _)| k.contains(needle))
        .map(|(_, v)| v.requests)
        .sum()
}

impl World {
    async fn sync(&self, store: &dyn SeriesStore, range: DateRange, opts: &SyncOptions) -> Vec<metrics::SyncReport> {
        let mut out = Vec::new();
        for (a, c) in self.accounts.iter().zip(&self.connectors) {
            out.push(
                metrics::sync_account(c.as_ref(), a, store, MetricsLevel::Campaign, range, opts)
                    .await
                    .unwrap(),
            );
        }
        out
    }

    fn report(&self, store: &SledStore, range: DateRange, by: Bucket) -> Report {
        let inputs: Vec<AccountInput> = self
            .accounts
            .iter()
            .map(|a| AccountInput {
                account: a,
                addresses: metrics::addresses(store, &[], &a.name).unwrap(),
                days: store
                    .days(&a.name, MetricsLevel::Campaign, range.since, range.until)
                    .unwrap(),
            })
            .collect();
        Report::build(&inputs, range, Level::Campaign, by)
    }
}

mod pull {
    use super::*;

    #[tokio::test]
    async fn totals_equal_an_independent_computation_and_currencies_stay_apart() {
        let w = World::start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let today = Utc::now().date_naive();
        let range = last_days(today, 20);
        w.sync(&store, range, &SyncOptions::new(today)).await;
        let expected = expected_from_dump(&w.dump().await, range, today);
        assert_eq!(expected.len(), 8, "2 campaigns in each of 4 accounts");

        let report = w.report(&store, range, Bucket::Total);
        assert_eq!(report.rows.len(), 8);
        for row in &report.rows {
            assert_eq!(
                Expected::of(&row.sums),
                expected[&row.id],
                "{} {}",
                row.account,
                row.object
            );
            assert!(row.sums.clicks > 0 && row.sums.conversions > Decimal::ZERO);
        }
        // by day, the same sums
        let daily = w.report(&store, range, Bucket::Day);
        assert_eq!(daily.rows.len(), 8 * 20);
        let mut per_campaign: BTreeMap<String, Expected> = BTreeMap::new();
        for row in &daily.rows {
            per_campaign
                .entry(row.id.clone())
                .or_default()
                .add(&Expected::of(&row.sums));
        }
        assert_eq!(per_campaign, expected);

        // account totals: each the sum of its own campaigns
        let campaigns_of = |account: &str| -> Expected {
            let mut e = Expected::default();
            for row in report.rows.iter().filter(|r| r.account == account) {
                e.add(&expected[&row.id]);
            }
            e
        };
        assert_eq!(report.account_totals.len(), 4);
        for t in &report.account_totals {
            let name = t.account.as_deref().unwrap();
            assert_eq!(Expected::of(&t.sums), campaigns_of(name), "{name}");
        }
        // platform totals are per currency: google USD and google JPY are two totals, never one
        let keys: Vec<(Platform, &str)> = report
            .platform_totals
            .iter()
            .map(|t| (t.platform.unwrap(), t.currency.code()))
            .collect();
        assert_eq!(
            keys,
            vec![
                (Platform::GoogleAds, "JPY"),
                (Platform::GoogleAds, "USD"),
                (Platform::Meta, "JPY"),
                (Platform::Meta, "USD")
            ]
        );
        for t in &report.platform_totals {
            let (p, c) = (t.platform.unwrap(), t.currency.code());
            let (name, ..) = ACCOUNTS.iter().find(|a| a.1 == p && a.3 == c).unwrap();
            assert_eq!(Expected::of(&t.sums), campaigns_of(name));
        }
        // currency totals: USD = the two USD accounts; JPY = the two JPY accounts
        assert_eq!(report.currency_totals.len(), 2);
        for t in &report.currency_totals {
            let mut e = Expected::default();
            for (name, .., c) in ACCOUNTS {
                if c == t.currency.code() {
                    e.add(&campaigns_of(name));
                }
            }
            assert_eq!(Expected::of(&t.sums), e, "{}", t.currency);
        }
        // ratios from the exact sums
        let t = &report.currency_totals[0];
        assert_eq!(
            t.sums.ctr().unwrap(),
            (Decimal::from(t.sums.clicks) / Decimal::from(t.sums.impressions))
                .round_dp(6)
                .normalize()
        );
        w.emu.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn a_second_pull_asks_only_for_the_lookback_window() {
        let w = World::start().await;
        reqwest::Client::new()
            .post(format!("{}/_emulator/meta/config", w.emu.url()))
            .json(&serde_json::json!({"report_run_duration_ms": 50}))
            .send()
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let today = Utc::now().date_naive();
        // 40 days: Meta answers that with an async report run
        let range = last_days(today, 40);
        let opts = SyncOptions::new(today);
        w.emu.counters().reset();
        let first = w.sync(&store, range, &opts).await;
        assert!(first.iter().all(|r| r.pulled == vec![range] && r.days_stored == 40));
        assert_eq!(requests(&w.emu, "googleAds:searchStream"), 2);
        assert_eq!(
            requests(&w.emu, "POST /v25.0/act_{ad_account_id}/insights"),
            2,
            "{:#?}",
            w.emu.counters().snapshot()
        );
        let before = w.report(&store, range, Bucket::Total);

        w.emu.counters().reset();
        let second = w.sync(&store, range, &opts).await;
        // days pulled while younger than 7 days: today-6 ..= yesterday
        let window = DateRange {
            since: today - Days::days(6),
            until: today - Days::days(1),
        };
        for r in &second {
            assert_eq!(r.pulled, vec![window]);
        }
        let counts = w.emu.counters().snapshot();
        assert_eq!(requests(&w.emu, "googleAds:searchStream"), 2, "{counts:#?}");
        assert_eq!(
            requests(&w.emu, "insights"),
            2,
            "one short, direct insights read per Meta account: {counts:#?}"
        );
        assert_eq!(requests(&w.emu, "/v25.0/{id}"), 0, "no report run: {counts:#?}");
        assert_eq!(
            counts.total_requests, 4,
            "nothing but the four lookback reads: {counts:#?}"
        );
        // same numbers (same day, same emulator)
        let after = w.report(&store, range, Bucket::Total);
        assert_eq!(before.rows, after.rows);

        // a shorter lookback asks for less; none at all asks for nothing
        w.emu.counters().reset();
        let none = SyncOptions {
            today,
            lookback_days: 0,
        };
        for r in w.sync(&store, range, &none).await {
            assert!(r.pulled.is_empty());
        }
        assert_eq!(w.emu.counters().snapshot().total_requests, 0);
        // a wider range asks only for the new days (and the window)
        let wider = last_days(today, 45);
        for r in w.sync(&store, wider, &opts).await {
            assert_eq!(
                r.pulled,
                vec![
                    DateRange {
                        since: wider.since,
                        until: range.since - Days::days(1)
                    },
                    window
                ]
            );
        }
        w.emu.shutdown().await.unwrap();
    }
}

/// The `adsctl metrics` binary, as a user runs it, against the same emulator.
mod cli {
    use std::path::Path;
    use std::process::{Command, Output};

    use super::*;

    pub(super) fn project(dir: &Path, url: &str) {
        let mut y = String::from("accounts:\n");
        for (name, platform, id, currency) in ACCOUNTS {
            let idline = match platform {
                Platform::GoogleAds => format!("customer_id: {}-{}-{}", &id[..3], &id[3..6], &id[6..]),
                _ => format!("ad_account_id: {id}"),
            };
            y.push_str(&format!(
                "  {name}:\n    platform: {}\n    {idline}\n    currency: {currency}\n    endpoint: {url}\n",
                platform.as_str()
            ));
        }
        std::fs::write(dir.join("adsctl.yaml"), y).unwrap();
    }

    fn run(dir: &Path, url: &str, args: &[&str]) -> Output {
        let o = Command::new(env!("CARGO_BIN_EXE_adsctl"))
            .arg("metrics")
            .arg(dir)
            .args(args)
            .current_dir(dir)
            .env_remove("ADSCTL_BACKEND")
            .env_remove("ADSCTL_GOOGLE_ADS_ENDPOINT")
            .env_remove("ADSCTL_GOOGLE_OAUTH_TOKEN_URL")
            .env_remove("GOOGLE_ADS_LOGIN_CUSTOMER_ID")
            .env_remove("ADSCTL_METRICS_LOOKBACK_DAYS")
            .env("ADSCTL_STATE_DIR", dir.join("state"))
            .env("GOOGLE_ADS_CLIENT_ID", defaults::GOOGLE_CLIENT_ID)
            .env("GOOGLE_ADS_CLIENT_SECRET", defaults::GOOGLE_CLIENT_SECRET)
            .env("GOOGLE_ADS_DEVELOPER_TOKEN", defaults::GOOGLE_DEVELOPER_TOKEN)
            .env("GOOGLE_ADS_REFRESH_TOKEN", defaults::GOOGLE_REFRESH_TOKEN)
            .env("ADSCTL_META_ENDPOINT", url)
            .env("FACEBOOK_APP_ID", defaults::META_APP_ID)
            .env("FACEBOOK_APP_SECRET", defaults::META_APP_SECRET)
            .env("FACEBOOK_ACCESS_TOKEN", defaults::META_ACCESS_TOKEN)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "adsctl metrics {args:?}\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn formats_round_trip_and_the_html_report_is_self_contained() {
        let w = World::start().await;
        let url = w.emu.url();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        project(&dir, &url);
        // the id map knows one campaign: it is shown by its address, the others by their platform names
        let dump = w.dump().await;
        let spring_id = dump["platforms"]["google_ads"]["customers"]["1111111111"]["tables"]["Campaign"]
            .as_object()
            .unwrap()
            .values()
            .find(|c| c["v"]["name"] == "Spring")
            .unwrap()["v"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        {
            let store = SledStore::open(&dir.join("state")).unwrap();
            store
                .put_entry(&StateEntry {
                    address: "g_usd/campaign/Spring".parse().unwrap(),
                    kind: Kind::Campaign,
                    id: spring_id.clone(),
                    prevent_destroy: false,
                    applied: Default::default(),
                    updated_at: Utc::now(),
                })
                .unwrap();
        }
        let today = Utc::now().date_naive();
        let range = last_days(today, 14);
        let (since, until) = (range.since.to_string(), range.until.to_string());
        let span = ["--since", since.as_str(), "--until", until.as_str(), "--by", "day"];

        w.emu.counters().reset();
        let json_out = {
            let dir = dir.clone();
            let url = url.clone();
            let args: Vec<&str> = span.iter().copied().chain(["--format", "json"]).collect();
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            tokio::task::spawn_blocking(move || {
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                run(&dir, &url, &a)
            })
            .await
            .unwrap()
        };
        assert_eq!(requests(&w.emu, "googleAds:searchStream"), 2);
        let json_text = String::from_utf8(json_out.stdout).unwrap();
        let rows = render::parse_json(&json_text).unwrap();
        assert_eq!(rows.len(), 8 * 14);
        // JSON round trip: the rows read back render to the same rows
        let doc: Json = serde_json::from_str(&json_text).unwrap();
        let again: Vec<Json> = rows
            .iter()
            .map(|r| serde_json::to_value(r.to_flat()).unwrap())
            .collect();
        assert_eq!(doc["rows"].as_array().unwrap(), &again);
        // totals agree with the independent computation, per currency
        let expected = expected_from_dump(&dump, range, today);
        for t in doc["totals"]["accounts"].as_array().unwrap() {
            let name = t["account"].as_str().unwrap();
            let mut e = Expected::default();
            for r in rows.iter().filter(|r| r.account == name) {
                e.add(&Expected::of(&r.sums));
            }
            let ids: BTreeSet<&str> = rows
                .iter()
                .filter(|r| r.account == name)
                .map(|r| r.id.as_str())
                .collect();
            let mut x = Expected::default();
            for id in ids {
                x.add(&expected[id]);
            }
            assert_eq!(e, x, "{name}");
            let cost = metrics::report::parse_money(t["cost"].as_str().unwrap()).unwrap();
            assert_eq!(cost.micros(), x.cost_micros, "{name}");
        }
        let currencies: Vec<&str> = doc["totals"]["currencies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["currency"].as_str().unwrap())
            .collect();
        assert_eq!(currencies, vec!["JPY", "USD"]);
        // the mapped campaign by address, the others by name
        assert!(rows
            .iter()
            .any(|r| r.id == spring_id && r.object == "g_usd/campaign/Spring" && r.in_yaml));
        assert!(rows
            .iter()
            .any(|r| r.account == "m_usd" && r.object == "Autumn" && !r.in_yaml));

        // CSV, second run of the same range: only the lookback window is asked for
        w.emu.counters().reset();
        let csv_out = {
            let dir = dir.clone();
            let url = url.clone();
            let args: Vec<String> = span
                .iter()
                .copied()
                .chain(["--format", "csv"])
                .map(String::from)
                .collect();
            tokio::task::spawn_blocking(move || {
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                run(&dir, &url, &a)
            })
            .await
            .unwrap()
        };
        let counts = w.emu.counters().snapshot();
        assert_eq!(requests(&w.emu, "googleAds:searchStream"), 2, "{counts:#?}");
        assert_eq!(requests(&w.emu, "insights"), 2, "{counts:#?}");
        let csv_text = String::from_utf8(csv_out.stdout).unwrap();
        let csv_rows: Vec<Row> = render::parse_csv(&csv_text).unwrap();
        assert_eq!(csv_rows, rows, "CSV and JSON carry the same exact rows");
        assert_eq!(render::csv_rows(&csv_rows).unwrap(), csv_text, "CSV round trip");

        // table and HTML from the series alone: no requests
        w.emu.counters().reset();
        let html_path = dir.join("report.html");
        let table = {
            let dir = dir.clone();
            let url = url.clone();
            let html = html_path.display().to_string();
            let (s, u) = (since.clone(), until.clone());
            tokio::task::spawn_blocking(move || {
                run(
                    &dir,
                    &url,
                    &[
                        "--since",
                        &s,
                        "--until",
                        &u,
                        "--by",
                        "week",
                        "--format",
                        "html",
                        "--out",
                        &html,
                        "--refresh=false",
                    ],
                );
                run(&dir, &url, &["--since", &s, "--until", &u, "--refresh=false"])
            })
            .await
            .unwrap()
        };
        assert_eq!(w.emu.counters().snapshot().total_requests, 0);
        let table = String::from_utf8(table.stdout).unwrap();
        assert!(table.contains("g_usd/campaign/Spring"), "{table}");
        assert!(table.contains("Totals (never summed across currencies)"), "{table}");
        assert!(table.contains("¥"), "{table}");
        let html = std::fs::read_to_string(&html_path).unwrap();
        for needle in [
            "http:", "https:", "//", "src=", "href=", "url(", "@import", "<script", "<link",
        ] {
            assert!(!html.contains(needle), "the report must open offline, found `{needle}`");
        }
        for p in ["google_ads", "meta"] {
            assert_eq!(
                html.matches(&format!("<svg class=\"chart\" data-platform=\"{p}\""))
                    .count(),
                2,
                "a chart per platform and currency ({p})"
            );
        }
        assert_eq!(html.matches("<h3 class=\"object\">").count(), 8, "a table per campaign");
        assert!(html.contains("g_usd/campaign/Spring"));
        w.emu.shutdown().await.unwrap();
    }
}

/// The watch daemon's metrics sync: its own interval, today's spend and clicks on `/metrics` and the status page.
mod daemon {
    use adsctl::reconcile::engine::EngineReconciler;
    use adsctl::reconcile::{Mode, Reconciler, StatusHub};
    use tower::ServiceExt;

    use super::*;

    async fn get(router: &axum::Router, path: &str) -> String {
        let resp = router
            .clone()
            .oneshot(axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn todays_spend_and_clicks_reach_the_metrics_and_the_status_page() {
        let w = World::start().await;
        let url = w.emu.url();
        let tmp = tempfile::tempdir().unwrap();
        super::cli::project(tmp.path(), &url);
        let u = url.clone();
        let rec = EngineReconciler::open_with(tmp.path(), Box::new(move |a: &Account| Ok(connector(a, &u))))
            .await
            .unwrap();
        let project = rec.load().await.unwrap();
        let hub = Arc::new(StatusHub::new(Mode::Observe, Duration::from_secs(300)));
        let today = Utc::now().date_naive();
        let dump = w.dump().await;
        let expected = expected_from_dump(
            &dump,
            DateRange {
                since: today,
                until: today,
            },
            today,
        );
        for name in ["m_usd", "g_jpy"] {
            let account = &project.accounts[name];
            hub.register_account(account);
            w.emu.counters().reset();
            let outcome = rec.reconcile(&project, account, Mode::Observe).await.unwrap();
            if name == "m_usd" {
                assert_eq!(requests(&w.emu, "insights"), 1, "the lookback window, once");
            }
            // today's sums, as the independent computation says
            let mut e = Expected::default();
            let report_ids: Vec<&String> = expected
                .keys()
                .filter(|id| campaign_account(&dump, id) == name)
                .collect();
            for id in &report_ids {
                e.add(&expected[*id]);
            }
            assert_eq!(report_ids.len(), 2);
            assert!(e.clicks > 0, "{name} has traffic today");
            assert_eq!(outcome.spend_today.map(|m| m.micros()), Some(e.cost_micros), "{name}");
            assert_eq!(outcome.clicks_today, Some(e.clicks), "{name}");
            hub.succeeded(account, Mode::Observe, &outcome, Duration::from_millis(5));

            // within the interval, a second reconcile reads today from the series: no metrics request
            w.emu.counters().reset();
            let again = rec.reconcile(&project, account, Mode::Observe).await.unwrap();
            if name == "m_usd" {
                assert_eq!(requests(&w.emu, "insights"), 0);
            }
            assert_eq!(again.clicks_today, outcome.clicks_today);
        }
        let router = adsctl::reconcile::server::router(hub.clone(), None);
        let exposition = get(&router, "/metrics").await;
        assert!(
            exposition.contains("adsctl_spend_today{account=\"m_usd\",currency=\"USD\"}"),
            "{exposition}"
        );
        assert!(
            exposition.contains("adsctl_clicks_today{account=\"g_jpy\"}"),
            "{exposition}"
        );
        let page = get(&router, "/").await;
        assert!(page.contains("Clicks today"), "{page}");
        let clicks = hub.account("m_usd").unwrap().clicks_today.unwrap();
        assert!(
            page.contains(&format!("<dt>Clicks today</dt><dd>{clicks}</dd>")),
            "{page}"
        );
        let spend = hub.account("g_jpy").unwrap().spend_today.unwrap();
        assert!(spend.starts_with('¥'), "{spend}");
        assert!(
            page.contains(&format!("<dt>Spend today</dt><dd>{spend}</dd>")),
            "{page}"
        );
        rec.shutdown().await;
        w.emu.shutdown().await.unwrap();
    }

    /// The account (local name) a campaign id belongs to, from the dump.
    fn campaign_account(dump: &Json, id: &str) -> &'static str {
        for (name, platform, pid, _) in ACCOUNTS {
            let found = match platform {
                Platform::GoogleAds => dump["platforms"]["google_ads"]["customers"][pid]["tables"]["Campaign"]
                    .get(id)
                    .is_some(),
                _ => dump["platforms"]["meta"]["objects"][id]["account"] == pid.trim_start_matches("act_"),
            };
            if found {
                return name;
            }
        }
        panic!("campaign {id} in no account")
    }
}
