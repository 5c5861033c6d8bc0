//! Emulator benchmark (not a test): mutate throughput and search latency with 100k objects in one customer,
//! over real HTTP on loopback, end to end (client serialisation included).
//!
//!     cargo bench --bench emulator
//!
//! Figures and the machine they came from: benches/README.md.

use std::time::{Duration, Instant};

use adsctl::emulator::platform::defaults;
use adsctl::emulator::{Emulator, EmulatorConfig};
use serde_json::{json, Value};

const CID: &str = "1234567890";
const CAMPAIGNS: usize = 100;
const AD_GROUPS_PER_CAMPAIGN: usize = 10;
const TARGET_OBJECTS: usize = 100_000;
const BATCH: usize = 10_000;

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn post(&self, path: &str, body: &Value) -> Value {
        let r = self
            .http
            .post(format!("{}/v25/customers/{CID}/{path}", self.base))
            .bearer_auth(&self.token)
            .header("developer-token", defaults::GOOGLE_DEVELOPER_TOKEN)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = r.status();
        let v: Value = r.json().await.expect("json");
        assert!(status.is_success(), "{path}: {status} {v}");
        v
    }
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

/// CPU seconds used by this process so far (client and emulator together), from /proc (Linux, 100 Hz ticks).
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / 100.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average at start: {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    let em = Emulator::start(EmulatorConfig::default()).await.expect("start");
    let token = em.google_ads().expect("google").issue_access_token();
    let c = Client {
        http: reqwest::Client::new(),
        base: em.url(),
        token,
    };

    // structure: budgets, campaigns, ad groups (one googleAds:mutate with temporary ids per campaign)
    let t0 = Instant::now();
    let mut ad_groups = Vec::new();
    for i in 0..CAMPAIGNS {
        let b = format!("customers/{CID}/campaignBudgets/-1");
        let cp = format!("customers/{CID}/campaigns/-2");
        let mut ops = vec![
            json!({"campaignBudgetOperation":{"create":{"resourceName":b,"name":format!("budget {i}"),"amountMicros":"50000000","explicitlyShared":false}}}),
            json!({"campaignOperation":{"create":{"resourceName":cp,"name":format!("campaign {i}"),"advertisingChannelType":"SEARCH","campaignBudget":b,"manualCpc":{},"containsEuPoliticalAdvertising":"DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING"}}}),
        ];
        for g in 0..AD_GROUPS_PER_CAMPAIGN {
            ops.push(json!({"adGroupOperation":{"create":{"name":format!("ad group {g}"),"campaign":cp,"cpcBidMicros":"1000000"}}}));
        }
        let r = c.post("googleAds:mutate", &json!({"mutateOperations": ops})).await;
        for x in r["mutateOperationResponses"]
            .as_array()
            .expect("responses")
            .iter()
            .skip(2)
        {
            ad_groups.push(x["adGroupResult"]["resourceName"].as_str().expect("rn").to_string());
        }
    }
    let structure = CAMPAIGNS * (2 + AD_GROUPS_PER_CAMPAIGN);
    println!(
        "setup: {structure} budgets/campaigns/ad groups in {:.0} ms",
        ms(t0.elapsed())
    );

    // mutate throughput: keyword creates in batches of 10,000 until 100k objects
    let keywords = TARGET_OBJECTS - structure;
    let mut created = 0;
    let mut batch_times = Vec::new();
    let t = Instant::now();
    let cpu0 = cpu_secs();
    while created < keywords {
        let n = BATCH.min(keywords - created);
        let ops: Vec<Value> = (0..n)
            .map(|k| {
                let i = created + k;
                json!({"create":{"adGroup": ad_groups[i % ad_groups.len()], "status":"ENABLED",
                    "keyword":{"text": format!("keyword {i}"), "matchType":"PHRASE"}, "cpcBidMicros":"1500000"}})
            })
            .collect();
        let bt = Instant::now();
        c.post("adGroupCriteria:mutate", &json!({"operations": ops})).await;
        batch_times.push(bt.elapsed());
        created += n;
    }
    let create_secs = t.elapsed().as_secs_f64();
    let create_cpu = cpu_secs() - cpu0;
    let objects = em.google_ads().expect("google").object_count();
    println!(
        "mutate create: {created} keywords in {} requests, {:.2} s wall → {:.0} ops/s; {:.2} CPU s → {:.0} ops per CPU-second (objects now: {objects})",
        batch_times.len(),
        create_secs,
        created as f64 / create_secs,
        create_cpu,
        created as f64 / create_cpu
    );

    // mutate throughput at 100k objects: updates with a mask
    let rows = c
        .post(
            "googleAds:searchStream",
            &json!({"query":"SELECT ad_group_criterion.resource_name FROM ad_group_criterion LIMIT 10000"}),
        )
        .await;
    let rns: Vec<String> = rows[0]["results"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["adGroupCriterion"]["resourceName"].as_str().expect("rn").to_string())
        .collect();
    let mut updated = 0;
    let t = Instant::now();
    let cpu0 = cpu_secs();
    for round in 0..3 {
        let ops: Vec<Value> = rns
            .iter()
            .map(|rn| json!({"update":{"resourceName": rn, "cpcBidMicros": format!("{}", 1_000_000 + round * 10_000)},"updateMask":"cpcBidMicros"}))
            .collect();
        c.post("adGroupCriteria:mutate", &json!({"operations": ops})).await;
        updated += rns.len();
    }
    let upd_secs = t.elapsed().as_secs_f64();
    let upd_cpu = cpu_secs() - cpu0;
    println!(
        "mutate update: {updated} ops in 3 requests, {:.2} s wall → {:.0} ops/s; {:.2} CPU s → {:.0} ops per CPU-second",
        upd_secs,
        updated as f64 / upd_secs,
        upd_cpu,
        updated as f64 / upd_cpu
    );

    // search latency at 100k objects
    let queries = [
        (
            "one page of keywords (10,000 rows)",
            json!({"query":"SELECT ad_group_criterion.criterion_id, ad_group_criterion.keyword.text, ad_group_criterion.keyword.match_type FROM ad_group_criterion"}),
            "googleAds:search",
        ),
        (
            "filtered: one campaign's keywords",
            json!({"query":"SELECT ad_group_criterion.keyword.text, campaign.name FROM ad_group_criterion WHERE campaign.name = 'campaign 7'"}),
            "googleAds:search",
        ),
        (
            "campaigns with LAST_30_DAYS metrics",
            json!({"query":"SELECT campaign.id, metrics.impressions, metrics.clicks, metrics.cost_micros FROM campaign WHERE segments.date DURING LAST_30_DAYS"}),
            "googleAds:search",
        ),
        (
            "full read via searchStream (all keywords)",
            json!({"query":"SELECT ad_group_criterion.criterion_id, ad_group_criterion.keyword.text, ad_group_criterion.status FROM ad_group_criterion"}),
            "googleAds:searchStream",
        ),
    ];
    for (name, body, path) in queries {
        let mut times = Vec::new();
        let runs = if path.ends_with("Stream") { 5 } else { 20 };
        let cpu0 = cpu_secs();
        for _ in 0..runs {
            let t = Instant::now();
            c.post(path, &body).await;
            times.push(t.elapsed());
        }
        let cpu_ms = (cpu_secs() - cpu0) * 1000.0 / runs as f64;
        println!(
            "search {name}: p50 {:.1} ms, p95 {:.1} ms wall, {:.1} CPU ms per request ({runs} runs)",
            ms(percentile(&mut times, 0.5)),
            ms(percentile(&mut times, 0.95)),
            cpu_ms
        );
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average at end: {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    em.shutdown().await.expect("shutdown");
}
