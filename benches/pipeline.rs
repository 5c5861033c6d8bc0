//! Pipeline benchmark (not a test): a synthetic repository of N campaigns × M ad groups × K ads and K keywords on
//! both platforms, at 1k, 10k and 100k resources: validate; apply from empty against the in-process emulator;
//! full refresh; plan from the local cache (in a child process, for its own peak RSS). Request counts are shown
//! next to the platform minimum.
//!
//!     cargo bench --bench pipeline                 # 1000, 10000 and 100000 resources
//!     cargo bench --bench pipeline -- 1000 10000   # chosen sizes
//!     cargo bench --bench pipeline -- tiktok=1000   # only the TikTok section, at chosen sizes
//!
//! Figures and the machine they came from: benches/README.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use adsctl::apply::{self, ExecOptions, Target};
use adsctl::cli::emulated;
use adsctl::connectors::Connector;
use adsctl::emulator::config::{GoogleCustomerSeed, MetaAdAccountSeed};
use adsctl::emulator::{Emulator, EmulatorConfig};
use adsctl::plan::live::ReadMode;
use adsctl::plan::{plan_project, PlanOptions};
use adsctl::spec::{self, Project};
use adsctl::state::SledStore;

const GOOGLE_CID: &str = "1234567890";
const META_ACT: &str = "act_1234567890";
/// Ad groups (ad sets) per campaign and ads (and keywords) per ad group.
const M: usize = 10;
const K: usize = 4;
const GOOGLE_MAX_OPS: u64 = 10_000;
const META_BATCH: u64 = 50;
/// Google read minimum: one GAQL query per kind of resource the read needs — label, campaign_budget, campaign,
/// ad_group, ad_group_ad, ad_group_criterion, campaign_criterion (campaign negatives), user_list (8; the label
/// links, i.e. the ownership marker, come with campaign, ad_group, ad_group_ad and ad_group_criterion in their
/// `labels` field) — plus the change_status query that dates the read (1): 8 + 1 = 9.
const GOOGLE_READ_RESOURCE_QUERIES: u64 = 8;
const GOOGLE_READ_QUERIES: u64 = GOOGLE_READ_RESOURCE_QUERIES + 1;

/// Resources of one Google campaign: the campaign, M ad groups, each with K ads and K keywords.
const GOOGLE_PER_CAMPAIGN: usize = 1 + M * (1 + 2 * K);
/// Resources of one Meta campaign: the campaign, M ad sets, each with K ads.
const META_PER_CAMPAIGN: usize = 1 + M * (1 + K);

/// Write the synthetic repository; returns (google campaigns, meta campaigns, resources).
fn generate(dir: &Path, total: usize) -> (usize, usize, usize) {
    std::fs::create_dir_all(dir.join("campaigns")).expect("mkdir");
    std::fs::write(
        dir.join("adsctl.yaml"),
        format!(
            "accounts:\n  bench-search:\n    platform: google_ads\n    customer_id: {GOOGLE_CID}\n    currency: USD\n    \
             time_zone: America/New_York\n  bench-social:\n    platform: meta\n    ad_account_id: {META_ACT}\n    \
             currency: USD\n    time_zone: America/New_York\n"
        ),
    )
    .expect("write adsctl.yaml");
    let g = (total / 2).div_ceil(GOOGLE_PER_CAMPAIGN).max(1);
    let m = (total - (g * GOOGLE_PER_CAMPAIGN).min(total))
        .div_ceil(META_PER_CAMPAIGN)
        .max(1);
    for c in 0..g {
        let mut y = String::from("campaigns:\n");
        let _ = write!(
            y,
            "  - name: Search {c:06}\n    account: bench-search\n    channel: search\n    status: enabled\n    \
             budget: {{ daily: {}.00 }}\n    bidding: {{ manual_cpc: {{}} }}\n    \
             network: {{ google_search: true, search_network: false, content_network: false }}\n    \
             eu_political_advertising: false\n    ad_groups:\n",
            1 + c % 50
        );
        for a in 0..M {
            let _ = write!(
                y,
                "      - name: Group {a:02}\n        status: enabled\n        type: search_standard\n        \
                 default_cpc: 1.{a:02}\n        keywords:\n"
            );
            for k in 0..K {
                let _ = writeln!(y, "          - {{ text: word{c} group{a} kw{k}, match: phrase }}");
            }
            y.push_str("        ads:\n");
            for k in 0..K {
                let _ = write!(
                    y,
                    "          - status: enabled\n            responsive_search:\n              headlines: \
                     [Headline {c} {a} {k}, Second headline {k}, Third headline {a}]\n              descriptions: \
                     [Description one for {c} {a} {k}., Description two for {c}.]\n              \
                     final_url: https://www.example.com/c{c}/g{a}/a{k}\n"
                );
            }
        }
        std::fs::write(dir.join(format!("campaigns/search-{c:06}.yaml")), y).expect("write");
    }
    for c in 0..m {
        let mut y = String::from("campaigns:\n");
        let _ = write!(
            y,
            "  - name: Social {c:06}\n    account: bench-social\n    objective: traffic\n    special_ad_categories: []\n    \
             status: active\n    budget: {{ daily: {} }}\n    bid_strategy: lowest_cost_without_cap\n    ad_sets:\n",
            1 + c % 50
        );
        for a in 0..M {
            let _ = write!(
                y,
                "      - name: Set {a:02}\n        status: active\n        optimization_goal: link_clicks\n        \
                 billing_event: impressions\n        targeting: {{ countries: [US], age: {{ min: {}, max: 65 }} }}\n        \
                 ads:\n",
                18 + a
            );
            for k in 0..K {
                let _ = write!(
                    y,
                    "          - name: Ad {k}\n            status: active\n            creative:\n              \
                     page_id: \"1122334455\"\n              link: https://www.example.com/s{c}/{a}/{k}\n              \
                     message: Message {c} {a} {k}\n              headline: Headline {k}\n              \
                     call_to_action: shop_now\n"
                );
            }
        }
        std::fs::write(dir.join(format!("campaigns/social-{c:06}.yaml")), y).expect("write");
    }
    (g, m, g * GOOGLE_PER_CAMPAIGN + m * META_PER_CAMPAIGN)
}

/// A figure of `/proc/self/status` (`VmRSS`, `VmHWM`), in MB.
fn status_mb(field: &str) -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn rss_mb() -> f64 {
    status_mb("VmRSS")
}

fn peak_rss_mb() -> f64 {
    status_mb("VmHWM")
}

fn connectors(project: &Project) -> BTreeMap<String, Arc<dyn Connector>> {
    project
        .accounts
        .values()
        .map(|a| (a.name.clone(), emulated::connector(a).expect("connector")))
        .collect()
}

/// The apply targets of a project's accounts, with their connectors.
fn targets(project: &Project, conns: &BTreeMap<String, Arc<dyn Connector>>) -> BTreeMap<String, Target> {
    project
        .accounts
        .values()
        .map(|a| {
            let t = Target {
                account: a.clone(),
                connector: conns[&a.name].clone(),
            };
            (a.name.clone(), t)
        })
        .collect()
}

fn point_at(project: &mut Project, url: &str) {
    for a in project.accounts.values_mut() {
        a.endpoint = Some(url.to_string());
    }
}

/// Child mode: plan from the cache only, print "<seconds> <peak RSS MB> <changes>".
fn child_plan_cache(dir: &Path, url: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let debug = std::env::var_os("BENCH_DEBUG").is_some();
    let phase = |what: &str, t: Instant| {
        if debug {
            eprintln!(
                "    child: {what}: {:.3} s, RSS {:.0} MB",
                t.elapsed().as_secs_f64(),
                rss_mb()
            );
        }
    };
    let t = Instant::now();
    let mut project = spec::load(dir).expect("load");
    phase("spec loaded", t);
    point_at(&mut project, url);
    let store = SledStore::open(&dir.join(".adsctl")).expect("store");
    phase("state opened", t);
    if debug {
        for a in project.accounts.keys() {
            let c = adsctl::state::StateStore::cache_get(&store, a).expect("cache");
            phase(
                &format!("cache of {a} read ({} resources)", c.map_or(0, |c| c.resources.len())),
                t,
            );
        }
    }
    let conns = connectors(&project);
    let plan = rt
        .block_on(plan_project(
            &project,
            &store,
            &conns,
            &PlanOptions::default(),
            ReadMode::CacheOnly,
        ))
        .expect("plan");
    phase("planned", t);
    println!(
        "{} {} {}",
        t.elapsed().as_secs_f64(),
        peak_rss_mb(),
        plan.change_count()
    );
}

#[derive(Default)]
struct Counts {
    google_search: u64,
    google_mutate: u64,
    google_ops: u64,
    google_other: u64,
    meta_get: u64,
    meta_batch: u64,
    meta_batch_entries: u64,
    meta_other: u64,
    total: u64,
}

fn counts(s: &adsctl::emulator::counters::CountersSnapshot) -> Counts {
    if std::env::var_os("BENCH_DEBUG").is_some() {
        for (ep, st) in &s.endpoints {
            eprintln!("    {ep}: {} requests, {} operations", st.requests, st.operations);
        }
    }
    let mut c = Counts {
        total: s.total_requests,
        ..Counts::default()
    };
    for (ep, st) in &s.endpoints {
        if ep.contains("googleAds:search") {
            c.google_search += st.requests;
        } else if ep.contains(":mutate") {
            c.google_mutate += st.requests;
            c.google_ops += st.operations;
        } else if ep.contains("/v25/") && !ep.contains("v25.0") {
            c.google_other += st.requests;
        } else if ep == "POST /v25.0/ (batch)" {
            c.meta_batch += st.requests;
            c.meta_batch_entries += st.operations;
        } else if ep.starts_with("GET /v25.0") {
            c.meta_get += st.requests;
        } else {
            c.meta_other += st.requests;
        }
    }
    c
}

/// Requests per endpoint as the emulator counts them (`POST /open_api/v1.3/campaign/create/` → n).
fn by_endpoint(em: &adsctl::emulator::EmulatorHandle) -> BTreeMap<String, u64> {
    em.counters()
        .snapshot()
        .endpoints
        .into_iter()
        .map(|(e, s)| (e, s.requests))
        .collect()
}

/// The requests of the endpoints `f` takes.
fn sum(c: &BTreeMap<String, u64>, f: impl Fn(&str) -> bool) -> u64 {
    c.iter().filter(|(e, _)| f(e)).map(|(_, n)| n).sum()
}

fn ratio(actual: u64, min: u64) -> String {
    if min == 0 {
        format!("{actual} / 0")
    } else {
        format!("{actual} / {min} = {:.2}", actual as f64 / min as f64)
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.first().map(String::as_str) == Some("--child-plan-cache") {
        child_plan_cache(Path::new(&args[1]), &args[2]);
        return;
    }
    let sizes: Vec<usize> = {
        let v: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
        if v.is_empty() {
            vec![1_000, 10_000, 100_000]
        } else {
            v
        }
    };
    // The connectors' own client-side rate limits are the real platforms'; the emulator is not throttled here.
    std::env::set_var("ADSCTL_META_CALLS_PER_MINUTE", "1000000");
    std::env::set_var("ADSCTL_META_CALLS_PER_HOUR", "100000000");
    // At 100k resources the Meta account's simulated usage passes 75 % of the emulator's nominal hourly quota
    // (one call per batch entry, as Meta counts them), and the connector then paces itself as it would against
    // the real API (up to 10 s per request). That is quota pacing, not adsctl's speed: off here.
    std::env::set_var("ADSCTL_META_SLOW_DOWN_MAX_MS", "0");
    std::env::set_var("ADSCTL_TIKTOK_QPS", "100000");
    std::env::set_var("ADSCTL_TIKTOK_AD_CREATE_QPS", "100000");
    std::env::set_var("ADSCTL_GOOGLE_ADS_RATE_PER_MINUTE", "1000000");
    std::env::set_var("ADSCTL_GOOGLE_ADS_RATE_PER_HOUR", "100000000");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("rt");
    let agency_only = args.iter().any(|a| a == "agency");
    let tiktok_only = args.iter().any(|a| a == "tiktok" || a.starts_with("tiktok="));
    let linkedin_only = args.iter().any(|a| a == "linkedin" || a.starts_with("linkedin="));
    let x_only = args.iter().any(|a| a == "x" || a.starts_with("x="));
    let mailchimp_only = ["mailchimp", "hubspot", "salesforce"]
        .iter()
        .any(|p| args.iter().any(|a| a == p || a.starts_with(&format!("{p}="))));
    let tiktok_only = tiktok_only || linkedin_only || x_only || mailchimp_only;
    let mut rows = Vec::new();
    for n in sizes.into_iter().filter(|_| !agency_only && !tiktok_only) {
        let tmp = std::env::temp_dir().join(format!("adsctl-bench-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let (g, m, total) = generate(&tmp, n);
        eprintln!(
            "== {total} resources ({g} Google campaigns, {m} Meta campaigns) in {}",
            tmp.display()
        );

        let t = Instant::now();
        let mut project = spec::load(&tmp).unwrap_or_else(|e| panic!("{}", e.render(false)));
        let validate = t.elapsed();
        assert_eq!(project.resources.len(), total, "generator and loader disagree");

        let mut config = EmulatorConfig {
            review_delay: Duration::ZERO,
            ..EmulatorConfig::default()
        };
        config.seed.google_ads.customers.push(GoogleCustomerSeed {
            customer_id: GOOGLE_CID.into(),
            currency: "USD".into(),
            time_zone: "America/New_York".into(),
            descriptive_name: None,
            manager: false,
            clients: vec![],
        });
        config.seed.meta.ad_accounts.push(MetaAdAccountSeed {
            id: META_ACT.into(),
            currency: "USD".into(),
            timezone_name: "America/New_York".into(),
            name: None,
        });
        let em = rt.block_on(Emulator::start(config)).expect("emulator");
        point_at(&mut project, &em.url());
        let store = SledStore::open(&tmp.join(".adsctl")).expect("store");
        let conns = connectors(&project);
        let targets = targets(&project, &conns);

        // apply from empty (its plan reads the empty accounts first)
        let t = Instant::now();
        let plan = rt
            .block_on(plan_project(
                &project,
                &store,
                &conns,
                &PlanOptions::default(),
                ReadMode::Full,
            ))
            .unwrap_or_else(|e| panic!("plan: {:?}", e.0.iter().map(|e| e.to_string()).collect::<Vec<_>>()));
        assert!(!plan.is_blocked(), "blocked plan");
        em.counters().reset();
        let report = rt
            .block_on(apply::execute(&plan, &targets, &store, &ExecOptions::default()))
            .expect("apply");
        let apply_time = t.elapsed();
        assert!(
            report.ok(),
            "apply failed: {} failed, {} skipped",
            report.failed(),
            report.skipped()
        );
        let ac = counts(&em.counters().snapshot());

        // full refresh: every object read back; the plan must be empty
        em.counters().reset();
        let t = Instant::now();
        let plan = rt
            .block_on(plan_project(
                &project,
                &store,
                &conns,
                &PlanOptions::default(),
                ReadMode::Full,
            ))
            .expect("refresh");
        let refresh_time = t.elapsed();
        let rc = counts(&em.counters().snapshot());
        let refresh_changes = plan.change_count();

        // plan from cache, in a child process (its own peak RSS); nothing may reach the emulator
        drop(store);
        em.counters().reset();
        let exe = std::env::current_exe().expect("exe");
        let out = std::process::Command::new(exe)
            .args(["--child-plan-cache", &tmp.display().to_string(), &em.url()])
            .output()
            .expect("child");
        let child = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "child: {}", String::from_utf8_lossy(&out.stderr));
        let f: Vec<&str> = child.split_whitespace().collect();
        let cache_requests = em.counters().snapshot().total_requests;
        drop(em);

        let google_objects = (g * GOOGLE_PER_CAMPAIGN) as u64;
        let meta_objects = (m * META_PER_CAMPAIGN) as u64;
        let page = u64::from(adsctl::platforms::meta::config::MetaConfig::default().page_size);
        // Meta refresh minimum: every edge the read needs, listed by page: campaigns, ad sets, ads, ad creatives
        // (one per ad), and one page each of ad labels and custom audiences
        let meta_pages =
            (m as u64).div_ceil(page) + ((m * M) as u64).div_ceil(page) + 2 * ((m * M * K) as u64).div_ceil(page) + 2;
        let cache_time = f
            .first()
            .and_then(|v| v.parse::<f64>().ok())
            .map_or("?".into(), |v| format!("{v:.2} s"));
        let cache_rss = f
            .get(1)
            .and_then(|v| v.parse::<f64>().ok())
            .map_or("?".into(), |v| format!("{v:.0} MB"));
        rows.push(format!(
            "| {total} | {} | {} | {} | {} | {} | {} (changes {}) | G search {} · M pages {} · other {} | {} | \
             G mutate {} · M batch {} · other {} | G {google_objects} · M {meta_objects} |",
            secs(validate),
            cache_time,
            cache_rss,
            cache_requests,
            secs(refresh_time),
            rc.total,
            refresh_changes,
            ratio(rc.google_search, GOOGLE_READ_QUERIES),
            ratio(rc.meta_get, meta_pages),
            rc.google_mutate + rc.google_other + rc.meta_batch + rc.meta_other,
            secs(apply_time),
            ratio(ac.google_mutate, ac.google_ops.div_ceil(GOOGLE_MAX_OPS)),
            // A batch holds at most 50 calls and at most one ad set of a campaign (each campaign has M).
            ratio(ac.meta_batch, ac.meta_batch_entries.div_ceil(META_BATCH).max(M as u64)),
            ac.google_other + ac.google_search + ac.meta_get + ac.meta_other,
        ));
        eprintln!("{}", rows.last().expect("row"));
        if std::env::var_os("BENCH_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    if !rows.is_empty() {
        println!(
            "| resources | validate | plan from cache | its peak RSS | its requests | full refresh | refresh requests | \
             refresh: actual / minimum | apply | apply: actual / minimum | apply: other requests | objects |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
        for r in rows {
            println!("{r}");
        }
    }
    // the platform sections: all of them, or those named (`tiktok`, `linkedin`, `x`, `mailchimp`, with `=N,…`)
    let named = |p: &str| args.iter().any(|a| a == p || a.starts_with(&format!("{p}=")));
    let run = |p: &str| !agency_only && (!tiktok_only || named(p));
    if run("tiktok") {
        section(&rt, &tiktok_sizes(&args), &tiktok::SECTION);
    }
    if run("linkedin") {
        section(&rt, &sizes_of(&args, "linkedin="), &linkedin::SECTION);
    }
    if run("x") {
        // X caps an account at 256 active line items (paused ones count): about 1,300 resources of this shape,
        // so one account is measured at 1,000 unless asked (`x=N`)
        let sizes = match sizes_of(&args, "x=") {
            s if named("x") && args.iter().any(|a| a.starts_with("x=")) => s,
            _ => vec![1_000],
        };
        section(&rt, &sizes, &x::SECTION);
    }
    if run("hubspot") {
        let sizes = match sizes_of(&args, "hubspot=") {
            s if args.iter().any(|a| a.starts_with("hubspot=")) => s,
            _ => vec![1_000],
        };
        section(&rt, &sizes, &hubspot::SECTION);
    }
    if run("salesforce") {
        let sizes = match sizes_of(&args, "salesforce=") {
            s if args.iter().any(|a| a.starts_with("salesforce=")) => s,
            _ => vec![1_000],
        };
        section(&rt, &sizes, &salesforce::SECTION);
    }
    if run("mailchimp") {
        // a Mailchimp audience with 1,000 campaigns is years of newsletters: measured at 1,000 unless asked
        let sizes = match sizes_of(&args, "mailchimp=") {
            s if args.iter().any(|a| a.starts_with("mailchimp=")) => s,
            _ => vec![1_000],
        };
        section(&rt, &sizes, &mailchimp::SECTION);
    }
    if !tiktok_only {
        agency::run(&rt);
    }
}

/// The sizes of the TikTok section: `tiktok=N[,N…]`, else 1k and 10k resources.
fn tiktok_sizes(args: &[String]) -> Vec<usize> {
    sizes_of(args, "tiktok=")
}

/// The sizes of a platform's section: `<prefix>N[,N…]`, else 1k and 10k resources.
fn sizes_of(args: &[String], prefix: &str) -> Vec<usize> {
    args.iter()
        .find_map(|a| a.strip_prefix(prefix))
        .map(|v| v.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000])
}

/// One platform's section of the bench: a repository of N tops (campaigns, campaign groups) in one account of the
/// in-process emulator — apply from empty, a full refresh and a routine edit of two updates, each request counted
/// against the minimum the platform's API allows.
struct Section {
    /// The platform's name in messages (`TikTok`), and its name in paths (`tiktok`: the temporary directory,
    /// `campaigns/<dir>-000000.yaml`, the file the edit changes).
    title: &'static str,
    dir: &'static str,
    /// What a top of the repository is (`campaigns`), and the table's caption.
    tops: &'static str,
    caption: &'static str,
    config: fn() -> EmulatorConfig,
    /// After the emulator starts (its limits for a bench).
    started: fn(&adsctl::emulator::EmulatorHandle),
    /// Writes the repository of about `total` resources; returns its number of tops.
    generate: fn(&Path, usize) -> usize,
    /// The create requests of the apply (by endpoint), and their minimum for `tops`.
    creates: fn(&str) -> bool,
    create_min: fn(u64) -> u64,
    /// The minimum reads of a full refresh for `tops`.
    read_min: fn(u64) -> u64,
    /// The routine edit of the first file (two updates), and its write requests.
    edit: fn(String) -> String,
    edit_writes: fn(&str) -> bool,
    /// The fewest write requests of that edit (2: one update each; 1 where one batch takes both).
    edit_min: u64,
    /// Which requests read (GETs; HubSpot also reads with POST: searches and batch reads).
    is_read: fn(&str) -> bool,
}

fn section(rt: &tokio::runtime::Runtime, sizes: &[usize], sec: &Section) {
    let mut rows = Vec::new();
    for &n in sizes {
        let tmp = std::env::temp_dir().join(format!("adsctl-bench-{}-{}-{n}", sec.dir, std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let tops = (sec.generate)(&tmp, n) as u64;
        let mut project = spec::load(&tmp).unwrap_or_else(|e| panic!("{}", e.render(false)));
        let total = project.resources.len();
        eprintln!(
            "== {}: {total} resources ({tops} {}) in {}",
            sec.title,
            sec.tops,
            tmp.display()
        );
        let em = rt.block_on(Emulator::start((sec.config)())).expect("emulator");
        (sec.started)(&em);
        point_at(&mut project, &em.url());
        let store = SledStore::open(&tmp.join(".adsctl")).expect("store");
        let conns = connectors(&project);
        let targets = targets(&project, &conns);
        let plan = |project: &Project| {
            rt.block_on(plan_project(
                project,
                &store,
                &conns,
                &PlanOptions::default(),
                ReadMode::Full,
            ))
            .unwrap_or_else(|e| panic!("plan: {:?}", e.0.iter().map(|e| e.to_string()).collect::<Vec<_>>()))
        };
        let debug = |what: &str, c: &BTreeMap<String, u64>| {
            if std::env::var_os("BENCH_DEBUG").is_some() {
                eprintln!("{what} requests: {c:?}");
            }
        };

        // apply from empty
        let p = plan(&project);
        em.counters().reset();
        let t = Instant::now();
        let report = rt
            .block_on(apply::execute(&p, &targets, &store, &ExecOptions::default()))
            .expect("apply");
        let apply_time = t.elapsed();
        assert!(report.ok(), "apply failed: {} failed", report.failed());
        let ac = by_endpoint(&em);
        debug("apply", &ac);
        let creates = sum(&ac, sec.creates);
        let apply_other = sum(&ac, |_| true) - creates;

        // full refresh: everything read back, nothing to do
        em.counters().reset();
        let t = Instant::now();
        let p = plan(&project);
        let refresh_time = t.elapsed();
        assert_eq!(p.change_count(), 0, "a refresh after the apply plans nothing");
        let rc = by_endpoint(&em);
        debug("refresh", &rc);
        let reads = sum(&rc, sec.is_read);

        // a routine edit: two updates in the first file
        let first = tmp.join(format!("campaigns/{}-000000.yaml", sec.dir));
        let text = std::fs::read_to_string(&first).expect("read");
        std::fs::write(&first, (sec.edit)(text)).expect("write");
        let mut project = spec::load(&tmp).unwrap_or_else(|e| panic!("{}", e.render(false)));
        point_at(&mut project, &em.url());
        let p = plan(&project);
        assert_eq!(p.change_count(), 2, "the edit: two updates");
        em.counters().reset();
        let report = rt
            .block_on(apply::execute(&p, &targets, &store, &ExecOptions::default()))
            .expect("apply");
        assert!(report.ok(), "edit failed");
        let ec = by_endpoint(&em);
        let edit_writes = sum(&ec, sec.edit_writes);
        let edit_reads = sum(&ec, sec.is_read);
        drop(store);
        drop(em);

        rows.push(format!(
            "| {total} | {} | creates {} | {apply_other} | {} | {} | edit {} · reads {} |",
            secs(apply_time),
            ratio(creates, (sec.create_min)(tops)),
            secs(refresh_time),
            ratio(reads, (sec.read_min)(tops)),
            ratio(edit_writes, sec.edit_min),
            ratio(edit_reads, 0),
        ));
        eprintln!("{}", rows.last().expect("row"));
        if std::env::var_os("BENCH_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    if !rows.is_empty() {
        println!("\n{}", sec.caption);
        println!(
            "| resources | apply from empty | apply: actual / minimum | apply: other requests | full refresh | \
             refresh: actual / minimum | routine edit (2 updates): actual / minimum |"
        );
        println!("|---|---|---|---|---|---|---|");
        for r in rows {
            println!("{r}");
        }
    }
}

/// TikTok (issue 19): a repository of N campaigns × 10 ad groups × 4 ads in one advertiser: apply from empty, a
/// full refresh and a routine edit, each request counted against the minimum the API allows: creates one request
/// per campaign, per ad group and per ad group's ads (`ad/create/` takes up to 20 creatives); a read one page of
/// 1,000 campaigns or ad groups, of 100 ads, and the audience list; the edit (a campaign budget, an ad's text) one
/// update each.
mod tiktok {
    use super::*;
    use adsctl::emulator::config::TikTokAdvertiserSeed;

    const ADVERTISER: &str = "3020000001";
    const GROUPS: usize = 10;
    const ADS: usize = 4;
    const PER_CAMPAIGN: usize = 1 + GROUPS * (1 + ADS);
    const PAGE: u64 = 1_000;
    /// `ad/get/` pages hold 100 (`platforms::tiktok::config::MAX_AD_PAGE_SIZE`: the pack's only figure).
    const AD_PAGE: u64 = 100;

    fn generate(dir: &Path, total: usize) -> usize {
        std::fs::create_dir_all(dir.join("campaigns")).expect("mkdir");
        std::fs::write(
            dir.join("adsctl.yaml"),
            format!(
                "accounts:\n  bench-tiktok:\n    platform: tiktok\n    advertiser_id: \"{ADVERTISER}\"\n    \
                 currency: USD\n    time_zone: America/New_York\n"
            ),
        )
        .expect("write adsctl.yaml");
        let n = total.div_ceil(PER_CAMPAIGN).max(1);
        for c in 0..n {
            let mut y = String::from("campaigns:\n");
            let _ = write!(
                y,
                "  - name: TikTok {c:06}\n    account: bench-tiktok\n    objective: traffic\n    status: enabled\n    \
                 budget: {{ daily: {} }}\n    ad_groups:\n",
                100 + c % 50
            );
            for a in 0..GROUPS {
                let _ = write!(
                    y,
                    "      - name: Group {a:02}\n        status: enabled\n        placements: [tiktok]\n        \
                     targeting: {{ locations: [\"6252001\"], age_groups: [age_18_24] }}\n        \
                     optimization_goal: click\n        billing_event: cpc\n        budget: {{ daily: 20 }}\n        \
                     ads:\n"
                );
                for k in 0..ADS {
                    let _ = write!(
                        y,
                        "          - name: Ad {k}\n            format: single_image\n            \
                         text: Ad {c} {a} {k}\n            identity: {{ type: customized_user, id: \"7100000000000000777\" }}\n            \
                         image_ids: [\"ad-site-i18n-sg/bench{k}\"]\n"
                    );
                }
            }
            std::fs::write(dir.join(format!("campaigns/tiktok-{c:06}.yaml")), y).expect("write");
        }
        n
    }

    pub const SECTION: Section = Section {
        title: "TikTok",
        dir: "tiktok",
        tops: "campaigns",
        caption: "TikTok (one advertiser; campaigns × 10 ad groups × 4 ads):",
        config: || {
            let mut config = EmulatorConfig {
                review_delay: Duration::ZERO,
                ..EmulatorConfig::default()
            };
            config.seed.tiktok.advertisers.push(TikTokAdvertiserSeed {
                advertiser_id: ADVERTISER.into(),
                currency: "USD".into(),
                timezone: "America/New_York".into(),
                name: None,
            });
            config
        },
        started: |_| {},
        generate,
        creates: |e| e.ends_with("/create/"),
        create_min: |campaigns| {
            let groups = campaigns * GROUPS as u64;
            campaigns + groups + groups * (ADS as u64).div_ceil(20)
        },
        read_min: |campaigns| {
            let groups = campaigns * GROUPS as u64;
            let ads = groups * ADS as u64;
            1 + campaigns.div_ceil(PAGE) + groups.div_ceil(PAGE) + ads.div_ceil(AD_PAGE)
        },
        // one campaign's budget and one ad's text
        edit: |text| {
            text.replacen("budget: { daily: 100 }", "budget: { daily: 110 }", 1)
                .replacen("text: Ad 0 0 0", "text: Ad 0 0 0, edited", 1)
        },
        edit_writes: |e| e.starts_with("POST "),
        edit_min: 2,
        is_read: |e| e.starts_with("GET "),
    };
}

/// LinkedIn (issue 20): a repository of N campaign groups × 10 campaigns × 4 creatives in one ad account (the
/// campaigns paused: an account runs at most 1,000 active ones): apply from empty, a full refresh and a routine
/// edit, each request counted against the minimum the API allows. Creates: BATCH_CREATE of 100 groups or
/// campaigns (the project's reading of the unconfirmed batch cap) and one CREATE per creative (creative batches
/// are unverified in the pack). A read: the search finders' pages (500 groups or campaigns, 100 creatives: the
/// sizes the pack saw in real traffic) and the DMP segment list. The edit (a campaign's budget, a creative's
/// status): one BATCH_PARTIAL_UPDATE of campaigns, one PARTIAL_UPDATE of the creative.
mod linkedin {
    use super::*;
    use adsctl::emulator::config::LinkedInAccountSeed;

    const ACCOUNT: &str = "3020000002";
    const CAMPAIGNS: usize = 10;
    const CREATIVES: usize = 4;
    const PER_GROUP: usize = 1 + CAMPAIGNS * (1 + CREATIVES);
    const BATCH: u64 = 100;
    const SEARCH_PAGE: u64 = 500;
    const CREATIVE_PAGE: u64 = 100;

    fn generate(dir: &Path, total: usize) -> usize {
        std::fs::create_dir_all(dir.join("campaigns")).expect("mkdir");
        std::fs::write(
            dir.join("adsctl.yaml"),
            format!(
                "accounts:\n  bench-linkedin:\n    platform: linkedin\n    account_id: \"{ACCOUNT}\"\n    \
                 currency: USD\n    time_zone: America/New_York\n"
            ),
        )
        .expect("write adsctl.yaml");
        let n = total.div_ceil(PER_GROUP).max(1);
        for g in 0..n {
            let mut y = String::from("campaigns:\n");
            let _ = write!(
                y,
                "  - name: LinkedIn {g:06}\n    account: bench-linkedin\n    status: active\n    campaigns:\n"
            );
            for c in 0..CAMPAIGNS {
                let _ = write!(
                    y,
                    "      - name: Campaign {c:02}\n        status: paused\n        type: sponsored_updates\n        \
                     objective: website_visit\n        cost_type: cpc\n        bid: 5.00\n        \
                     optimization_target: none\n        budget: {{ daily: {} }}\n        \
                     schedule: {{ start: \"2027-01-01T00:00:00Z\" }}\n        \
                     locale: {{ country: US, language: en }}\n        \
                     targeting: {{ include: [{{ locations: [\"urn:li:geo:103644278\"] }}] }}\n        creatives:\n",
                    50 + (g + c) % 50
                );
                for k in 0..CREATIVES {
                    let _ = write!(
                        y,
                        "          - name: Post {k}\n            status: active\n            \
                         post: \"urn:li:share:7{g:06}{c:02}{k}\"\n"
                    );
                }
            }
            std::fs::write(dir.join(format!("campaigns/linkedin-{g:06}.yaml")), y).expect("write");
        }
        n
    }

    pub const SECTION: Section = Section {
        title: "LinkedIn",
        dir: "linkedin",
        tops: "campaign groups",
        caption: "LinkedIn (one ad account; campaign groups × 10 campaigns × 4 creatives):",
        config: || {
            let mut config = EmulatorConfig::default();
            config.seed.linkedin.ad_accounts.push(LinkedInAccountSeed {
                id: ACCOUNT.into(),
                currency: "USD".into(),
                name: None,
                role: None,
                reference: None,
            });
            config
        },
        started: |_| {},
        generate,
        // the lease's own draft group (one CREATE of a group) is not a create of the repository
        creates: |e| e.ends_with(" BATCH_CREATE") || e.contains("/creatives CREATE"),
        create_min: |groups| {
            let campaigns = groups * CAMPAIGNS as u64;
            groups.div_ceil(BATCH) + campaigns.div_ceil(BATCH) + campaigns * CREATIVES as u64
        },
        read_min: |groups| {
            let campaigns = groups * CAMPAIGNS as u64;
            let creatives = campaigns * CREATIVES as u64;
            1 + groups.div_ceil(SEARCH_PAGE) + campaigns.div_ceil(SEARCH_PAGE) + creatives.div_ceil(CREATIVE_PAGE)
        },
        // one campaign's budget and one creative's status
        edit: |text| {
            text.replacen("budget: { daily: 50 }", "budget: { daily: 75 }", 1)
                .replacen(
                    "          - name: Post 0\n            status: active",
                    "          - name: Post 0\n            status: paused",
                    1,
                )
        },
        edit_writes: |e| e.ends_with("PARTIAL_UPDATE") && !e.contains("adCampaignGroups/{id}"),
        edit_min: 2,
        is_read: |e| e.starts_with("GET "),
    };
}

mod x {
    use super::*;

    const ACCOUNT: &str = "3030000002x";
    const FUNDING: &str = "fbench";
    const AD_GROUPS: usize = 10;
    const CRITERIA: usize = 2;
    const POSTS: usize = 2;
    const PER_CAMPAIGN: usize = 1 + AD_GROUPS * (1 + CRITERIA + POSTS);
    /// X's batch maxima (campaigns and line items 40, targeting criteria 500) and list pages (1,000; the
    /// per-line-item lists take 200 line item ids a call).
    const BATCH: u64 = 40;
    const CRITERIA_BATCH: u64 = 500;
    const PAGE: u64 = 1000;
    const IDS: u64 = 200;

    fn generate(dir: &Path, total: usize) -> usize {
        std::fs::create_dir_all(dir.join("campaigns")).expect("mkdir");
        std::fs::write(
            dir.join("adsctl.yaml"),
            format!(
                "accounts:\n  bench-x:\n    platform: x\n    account_id: {ACCOUNT}\n    currency: USD\n    \
                 time_zone: America/New_York\n"
            ),
        )
        .expect("write adsctl.yaml");
        let n = total.div_ceil(PER_CAMPAIGN).max(1);
        for c in 0..n {
            let mut y = String::from("campaigns:\n");
            let _ = write!(
                y,
                "  - name: X {c:06}\n    account: bench-x\n    status: active\n    funding_instrument: {FUNDING}\n    \
                 budget: {{ daily: {} }}\n    ad_groups:\n",
                50 + c % 50
            );
            for g in 0..AD_GROUPS {
                let _ = write!(
                    y,
                    "      - name: Ad group {g:02}\n        status: paused\n        objective: website_clicks\n        \
                     product_type: promoted_tweets\n        placements: [all_on_twitter]\n        bid_strategy: max\n        \
                     bid: 1.50\n        schedule: {{ start: \"2027-01-01T00:00:00Z\" }}\n        targeting:\n          \
                     - {{ type: location, value: 96683cc9126741d1 }}\n          \
                     - {{ type: broad_keyword, value: keyword {c} {g} }}\n        promoted_posts: [\"1{c:09}{g:02}01\", \"1{c:09}{g:02}02\"]\n"
                );
            }
            std::fs::write(dir.join(format!("campaigns/x-{c:06}.yaml")), y).expect("write");
        }
        n
    }

    pub const SECTION: Section = Section {
        title: "X",
        dir: "x",
        tops: "campaigns",
        caption: "X (one ads account; campaigns × 10 ad groups × (2 criteria + 2 promoted posts)):",
        config: || {
            let mut config = EmulatorConfig::default();
            config.seed.x.accounts.push(adsctl::emulator::config::XAccountSeed {
                id: ACCOUNT.into(),
                name: None,
                timezone: "America/New_York".into(),
                currency: "USD".into(),
                funding_instrument_id: Some(FUNDING.into()),
                funding_instrument_type: None,
            });
            config
        },
        started: |em| {
            if let Some(x) = em.platforms().get::<adsctl::emulator::x::XEmulator>() {
                x.configure(|c| {
                    c.writes_per_minute = None;
                    c.account_reads_per_15_min = None;
                });
            }
        },
        generate,
        // the lease's own draft campaign (a single POST …/campaigns) is not a create of the repository
        creates: |e| e.starts_with("POST /12/batch/") || e == "POST /12/accounts/{account_id}/promoted_tweets",
        // promoted tweets: one POST per line item (≤ 50 post ids each)
        create_min: |campaigns| {
            let line_items = campaigns * AD_GROUPS as u64;
            let criteria = line_items * CRITERIA as u64;
            campaigns.div_ceil(BATCH) + line_items.div_ceil(BATCH) + criteria.div_ceil(CRITERIA_BATCH) + line_items
        },
        // campaigns and line items by pages of 1,000; promoted tweets and criteria by 200 line items a call (their
        // results fit a page); the custom audiences
        read_min: |campaigns| {
            let line_items = campaigns * AD_GROUPS as u64;
            campaigns.div_ceil(PAGE) + line_items.div_ceil(PAGE) + 2 * line_items.div_ceil(IDS) + 1
        },
        // one campaign's budget and one ad group's bid
        edit: |text| {
            text.replacen("budget: { daily: 50 }", "budget: { daily: 75 }", 1)
                .replacen("bid: 1.50", "bid: 1.75", 1)
        },
        edit_writes: |e| e.starts_with("POST /12/batch/"),
        edit_min: 2,
        is_read: |e| e.starts_with("GET "),
    };
}

/// Mailchimp (issue 22): one audience with N e-mail campaigns (drafts, ten to a file) and a tag per hundred
/// campaigns, each of the same 200 contacts: apply from empty, a full refresh and a routine edit (two subject lines).
/// Minimum: a campaign is three writes (the create, its content, the title's fingerprint once the content is in); a
/// tag is one, its contacts one batch subscribe and one segment update per 500; a read is the tags, each tag's
/// members by 1,000 and the campaigns by 1,000; the edit one PATCH per campaign.
mod mailchimp {
    use super::*;

    const LIST: &str = "b3c4d5e6f7";
    const PER_FILE: usize = 10;
    const PER_TAG: usize = 100;
    const MEMBERS: u64 = 200;

    fn generate(dir: &Path, total: usize) -> usize {
        std::fs::create_dir_all(dir.join("campaigns")).expect("mkdir");
        std::fs::create_dir_all(dir.join("data")).expect("mkdir");
        std::fs::create_dir_all(dir.join("content")).expect("mkdir");
        std::fs::write(
            dir.join("adsctl.yaml"),
            format!("accounts:\n  bench-mail:\n    platform: mailchimp\n    list_id: {LIST}\n    currency: USD\n"),
        )
        .expect("write adsctl.yaml");
        let mut csv = String::from("email\n");
        for m in 0..MEMBERS {
            let _ = writeln!(csv, "member{m:04}@bench.example");
        }
        std::fs::write(dir.join("data/members.csv"), csv).expect("write csv");
        std::fs::write(
            dir.join("content/newsletter.html"),
            "<html><body><p>News</p></body></html>\n",
        )
        .expect("html");
        // campaigns + tags = total, a tag per hundred campaigns
        let campaigns = (total * PER_TAG / (PER_TAG + 1)).max(1);
        let tags = campaigns.div_ceil(PER_TAG);
        let mut y = String::from("audiences:\n");
        for t in 0..tags {
            let _ = write!(
                y,
                "  - name: Tag {t:04}\n    accounts: [bench-mail]\n    customer_file: {{ path: data/members.csv, column: email }}\n"
            );
        }
        std::fs::write(dir.join("audiences.yaml"), y).expect("write");
        for f in 0..campaigns.div_ceil(PER_FILE) {
            let mut y = String::from("campaigns:\n");
            for c in f * PER_FILE..((f + 1) * PER_FILE).min(campaigns) {
                let _ = write!(
                    y,
                    "  - name: Newsletter {c:06}\n    account: bench-mail\n    subject: News {c}\n    from_name: Bench\n    \
                     reply_to: news@bench.example\n    recipients: Tag {:04}\n    html: content/newsletter.html\n",
                    c / PER_TAG
                );
            }
            std::fs::write(dir.join(format!("campaigns/mailchimp-{f:06}.yaml")), y).expect("write");
        }
        campaigns
    }

    pub const SECTION: Section = Section {
        title: "Mailchimp",
        dir: "mailchimp",
        tops: "campaigns",
        caption: "Mailchimp (one audience; draft campaigns, a tag of 200 contacts per hundred campaigns):",
        config: || {
            let mut config = EmulatorConfig::default();
            config
                .seed
                .mailchimp
                .lists
                .push(adsctl::emulator::config::MailchimpListSeed {
                    id: Some(LIST.into()),
                    name: "Bench audience".into(),
                    members: Vec::new(),
                });
            config
        },
        started: |_| {},
        generate,
        creates: |e| !e.starts_with("GET "),
        create_min: |campaigns| {
            let tags = campaigns.div_ceil(PER_TAG as u64);
            3 * campaigns + tags * (1 + 2 * MEMBERS.div_ceil(500))
        },
        read_min: |campaigns| {
            let tags = campaigns.div_ceil(PER_TAG as u64);
            // the segments, each tag's members, the campaigns, the audience's settings and its merge fields
            1 + tags * MEMBERS.div_ceil(1000) + campaigns.div_ceil(1000) + 2
        },
        edit: |text| {
            text.replacen("subject: News 0\n", "subject: News 0 (updated)\n", 1)
                .replacen("subject: News 1\n", "subject: News 1 (updated)\n", 1)
        },
        edit_writes: |e| e == "PATCH /3.0/campaigns/{campaign_id}",
        edit_min: 2,
        is_read: |e| e.starts_with("GET "),
    };
}

/// HubSpot (issue 23): one portal with N marketing campaigns (ten to a file, two budget items each) and a static list
/// of 200 contacts per hundred campaigns. Minimum: campaigns by batches of 50, a budget item one request each (HubSpot
/// has no batch for them); a list one create, its contacts upserted by 100 and added by one membership call; a read
/// the campaigns by pages of 100, each campaign's budget totals, the lists (one search) and each list's members (by
/// 250) with their e-mails (by 100); the edit (two campaigns' notes) one batch update.
mod hubspot {
    use super::*;

    const PER_FILE: usize = 10;
    const PER_LIST: usize = 100;
    const MEMBERS: u64 = 200;

    fn generate(dir: &Path, total: usize) -> usize {
        for d in ["campaigns", "data"] {
            std::fs::create_dir_all(dir.join(d)).expect("mkdir");
        }
        std::fs::write(
            dir.join("adsctl.yaml"),
            "accounts:\n  bench-hubspot:\n    platform: hubspot\n    portal_id: \"20000001\"\n    currency: USD\n",
        )
        .expect("write adsctl.yaml");
        let mut csv = String::from("email\n");
        for m in 0..MEMBERS {
            let _ = writeln!(csv, "contact{m:04}@bench.example");
        }
        std::fs::write(dir.join("data/contacts.csv"), csv).expect("write csv");
        let campaigns = (total * PER_LIST / (PER_LIST + 1)).max(1);
        let mut y = String::from("audiences:\n");
        for l in 0..campaigns.div_ceil(PER_LIST) {
            let _ = write!(
                y,
                "  - name: List {l:04}\n    accounts: [bench-hubspot]\n    customer_file: {{ path: data/contacts.csv, column: email }}\n"
            );
        }
        std::fs::write(dir.join("audiences.yaml"), y).expect("write");
        for f in 0..campaigns.div_ceil(PER_FILE) {
            let mut y = String::from("campaigns:\n");
            for c in f * PER_FILE..((f + 1) * PER_FILE).min(campaigns) {
                let _ = write!(
                    y,
                    "  - name: Campaign {c:06}\n    account: bench-hubspot\n    notes: Campaign {c}\n    \
                     start_date: 2027-01-01\n    budget_items:\n      - {{ name: Search, amount: 100 }}\n      \
                     - {{ name: Social, amount: 50 }}\n"
                );
            }
            std::fs::write(dir.join(format!("campaigns/hubspot-{f:06}.yaml")), y).expect("write");
        }
        campaigns
    }

    fn is_read(e: &str) -> bool {
        e.starts_with("GET ") || e.ends_with("/search") || e.ends_with("/batch/read")
    }

    pub const SECTION: Section = Section {
        title: "HubSpot",
        dir: "hubspot",
        tops: "campaigns",
        caption: "HubSpot (one portal; campaigns with two budget items, a list of 200 contacts per hundred campaigns):",
        config: || {
            let mut config = EmulatorConfig::default();
            config.seed.hubspot.rate_limits.ten_secondly = Some(u32::MAX);
            config.seed.hubspot.rate_limits.daily = Some(u64::MAX);
            config.seed.hubspot.rate_limits.search_per_second = Some(u32::MAX);
            config
        },
        started: |_| {},
        generate,
        creates: |e| !is_read(e),
        create_min: |campaigns| {
            let lists = campaigns.div_ceil(PER_LIST as u64);
            campaigns.div_ceil(50) + 2 * campaigns + lists * (1 + MEMBERS.div_ceil(100) + MEMBERS.div_ceil(1000))
        },
        read_min: |campaigns| {
            let lists = campaigns.div_ceil(PER_LIST as u64);
            campaigns.div_ceil(100) + campaigns + 1 + lists * (MEMBERS.div_ceil(250) + MEMBERS.div_ceil(100))
        },
        edit: |text| {
            text.replacen("notes: Campaign 0\n", "notes: Campaign 0 (updated)\n", 1)
                .replacen("notes: Campaign 1\n", "notes: Campaign 1 (updated)\n", 1)
        },
        edit_writes: |e| !is_read(e),
        edit_min: 1,
        is_read,
    };
}

/// Salesforce (issue 24): one org with N Campaign records (ten to a file), a parent every hundred. Minimum: the
/// parents' upsert collections then the children's (200 records each); a read one SOQL query paged by 2,000 rows; the
/// edit (two campaigns' budgeted cost) one collection update.
mod salesforce {
    use super::*;

    const PER_FILE: usize = 10;
    const PER_PARENT: usize = 100;

    fn generate(dir: &Path, total: usize) -> usize {
        std::fs::create_dir_all(dir.join("campaigns")).expect("mkdir");
        std::fs::write(
            dir.join("adsctl.yaml"),
            "accounts:\n  bench-salesforce:\n    platform: salesforce\n    org_id: 00D5g00000EMu01EAD\n    currency: USD\n",
        )
        .expect("write adsctl.yaml");
        let parents = total.div_ceil(PER_PARENT + 1).max(1);
        let children = total.saturating_sub(parents).max(1);
        let mut y = String::from("campaigns:\n");
        for p in 0..parents {
            let _ = write!(
                y,
                "  - name: Parent {p:04}\n    account: bench-salesforce\n    type: Advertisement\n    status: active\n"
            );
        }
        std::fs::write(dir.join("campaigns/parents.yaml"), y).expect("write");
        for f in 0..children.div_ceil(PER_FILE) {
            let mut y = String::from("campaigns:\n");
            for c in f * PER_FILE..((f + 1) * PER_FILE).min(children) {
                let _ = write!(
                    y,
                    "  - name: Campaign {c:06}\n    account: bench-salesforce\n    type: Advertisement\n    \
                     status: active\n    budgeted_cost: {}\n    parent: Parent {:04}\n",
                    100 + c % 50,
                    c / PER_PARENT
                );
            }
            std::fs::write(dir.join(format!("campaigns/salesforce-{f:06}.yaml")), y).expect("write");
        }
        parents + children
    }

    fn is_read(e: &str) -> bool {
        e.starts_with("GET ") || e.contains("/query") || e.contains("/oauth2/")
    }

    pub const SECTION: Section = Section {
        title: "Salesforce",
        dir: "salesforce",
        tops: "campaigns",
        caption: "Salesforce (one org; campaigns under a parent every hundred):",
        config: || {
            let mut config = EmulatorConfig::default();
            config.seed.salesforce.daily_api_limit = Some(u64::MAX / 2);
            config
        },
        started: |_| {},
        generate,
        creates: |e| !is_read(e),
        // parents, then children: each level by collections of 200
        create_min: |tops| {
            let parents = tops.div_ceil(PER_PARENT as u64 + 1);
            parents.div_ceil(200) + (tops - parents).div_ceil(200)
        },
        read_min: |tops| tops.div_ceil(2000),
        edit: |text| {
            text.replacen("budgeted_cost: 100\n", "budgeted_cost: 110\n", 1)
                .replacen("budgeted_cost: 101\n", "budgeted_cost: 111\n", 1)
        },
        edit_writes: |e| !is_read(e),
        edit_min: 1,
        is_read,
    };
}

/// The agency fixture (`tests/fixtures/agency`: 8 accounts, 645 resources): its first apply, a routine edit
/// (11 edits over its 5 Google and Meta accounts) planned and applied with every request counted against the minimum, and 20
/// seeded applies under `5xx=0.2` counting how many needed a second apply.
mod agency {
    use super::*;
    use adsctl::emulator::config::{LinkedInAccountSeed, TikTokAdvertiserSeed, XAccountSeed};
    use adsctl::emulator::FaultSpec;

    const GOOGLE: [(&str, &str); 3] = [
        ("fabrikam-search", "2010000001"),
        ("tailspin-search", "2020000003"),
        ("woodgrove-search", "2030000005"),
    ];
    const META: [(&str, &str); 2] = [
        ("fabrikam-social", "act_2010000002"),
        ("tailspin-social", "act_2020000004"),
    ];

    /// (file, from, to): the routine edit.
    const EDITS: [(&str, &str, &str); 11] = [
        // fabrikam-search: a campaign's own budget; a keyword added; a keyword removed (paused: on_removed pause)
        ("fabrikam/search.yaml", "budget: { daily: 35.00 }", "budget: { daily: 45.00 }"),
        (
            "fabrikam/search.yaml",
            "          - { text: tents, match: phrase }\n",
            "          - { text: tents, match: phrase }\n          - { text: tents for four, match: phrase }\n",
        ),
        ("fabrikam/search.yaml", "          - { text: deals tents, match: broad }\n", ""),
        // tailspin-search: a campaign paused; an RSA headline
        (
            "tailspin/search.yaml",
            "  - name: Tailspin - Camera Gimbals\n    account: tailspin-search\n    channel: search\n    status: enabled",
            "  - name: Tailspin - Camera Gimbals\n    account: tailspin-search\n    channel: search\n    status: paused",
        ),
        ("tailspin/search.yaml", "[Drones Core, Shop Drones Online, Free Returns, Ad 1 Offer]", "[Drones Core, Shop Drones Online, Free Returns, Ad 1 Winter Offer]"),
        // woodgrove-search: a shared budget; a campaign negative
        ("woodgrove/search.yaml", "amount: 60\n", "amount: 70\n"),
        (
            "woodgrove/search.yaml",
            "      - { text: free savings accounts, match: phrase }\n",
            "      - { text: free savings accounts, match: phrase }\n      - { text: savings calculator, match: broad }\n",
        ),
        // fabrikam-social: an ad set's budget; an ad paused
        ("fabrikam/social.yaml", "        budget: { daily: 12 }\n", "        budget: { daily: 14 }\n"),
        (
            "fabrikam/social.yaml",
            "          - name: Hiking Boots US 25-44 ad 2\n            status: active",
            "          - name: Hiking Boots US 25-44 ad 2\n            status: paused",
        ),
        // tailspin-social: a campaign budget (CBO); an ad's creative message
        ("tailspin/social.yaml", "budget: { daily: 40 }", "budget: { daily: 55 }"),
        ("tailspin/social.yaml", "message: Drones for every season. Ad 1.", "message: Drones for the holidays. Ad 1."),
    ];

    fn seed_config() -> EmulatorConfig {
        let mut config = EmulatorConfig {
            review_delay: Duration::ZERO,
            ..EmulatorConfig::default()
        };
        for (_, cid) in GOOGLE {
            config.seed.google_ads.customers.push(GoogleCustomerSeed {
                customer_id: cid.into(),
                currency: "USD".into(),
                time_zone: "America/New_York".into(),
                descriptive_name: None,
                manager: false,
                clients: vec![],
            });
        }
        for (_, act) in META {
            config.seed.meta.ad_accounts.push(MetaAdAccountSeed {
                id: act.into(),
                currency: "USD".into(),
                timezone_name: "America/New_York".into(),
                name: None,
            });
        }
        // fabrikam-tiktok and tailspin-linkedin; a new customer file is ready at once (TikTok takes hours before
        // a lookalike can be built from it) and takes users at once (LinkedIn asks for 5 s), as under `--emulator`
        config.seed.tiktok.advertisers.push(TikTokAdvertiserSeed {
            advertiser_id: "2010000006".into(),
            currency: "USD".into(),
            timezone: "America/New_York".into(),
            name: None,
        });
        config.seed.tiktok.audience_processing_delay_ms = Some(0);
        config.seed.linkedin.ad_accounts.push(LinkedInAccountSeed {
            id: "2020000007".into(),
            currency: "EUR".into(),
            name: None,
            role: None,
            reference: None,
        });
        config.seed.linkedin.segment_user_wait_ms = Some(0);
        // fabrikam-x, with the funding instrument its campaigns name (`f` and the account id's first eight
        // characters, as under `--emulator`)
        config.seed.x.accounts.push(XAccountSeed {
            id: "2010000008x".into(),
            name: None,
            timezone: "America/New_York".into(),
            currency: "USD".into(),
            funding_instrument_id: None,
            funding_instrument_type: None,
        });
        config
    }

    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for e in std::fs::read_dir(from).expect("read fixture") {
            let e = e.expect("entry");
            let t = to.join(e.file_name());
            if e.file_type().expect("type").is_dir() {
                copy(&e.path(), &t);
            } else {
                std::fs::copy(e.path(), &t).expect("copy");
            }
        }
    }

    struct Run {
        tmp: PathBuf,
        project: Project,
        conns: BTreeMap<String, Arc<dyn Connector>>,
        targets: BTreeMap<String, Target>,
        store: SledStore,
    }

    fn setup(rt: &tokio::runtime::Runtime, em: &adsctl::emulator::EmulatorHandle, tag: &str) -> Run {
        let tmp = std::env::temp_dir().join(format!("adsctl-bench-agency-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        copy(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/agency"),
            &tmp,
        );
        let _ = rt;
        let mut project = spec::load(&tmp).unwrap_or_else(|e| panic!("{}", e.render(false)));
        point_at(&mut project, &em.url());
        let conns = connectors(&project);
        let targets = project
            .accounts
            .values()
            .map(|a| {
                (
                    a.name.clone(),
                    Target {
                        account: a.clone(),
                        connector: conns[&a.name].clone(),
                    },
                )
            })
            .collect();
        let store = SledStore::open(&tmp.join(".adsctl")).expect("store");
        Run {
            tmp,
            project,
            conns,
            targets,
            store,
        }
    }

    fn plan(rt: &tokio::runtime::Runtime, r: &Run) -> adsctl::plan::Plan {
        rt.block_on(plan_project(
            &r.project,
            &r.store,
            &r.conns,
            &PlanOptions::default(),
            ReadMode::Full,
        ))
        .unwrap_or_else(|e| panic!("plan: {:?}", e.0.iter().map(|e| e.to_string()).collect::<Vec<_>>()))
    }

    fn apply(rt: &tokio::runtime::Runtime, r: &Run, p: &adsctl::plan::Plan) -> apply::ApplyReport {
        rt.block_on(apply::execute(p, &r.targets, &r.store, &ExecOptions::default()))
            .expect("apply")
    }

    pub fn run(rt: &tokio::runtime::Runtime) {
        // Retries and confirmation reads at test speed: the faults section measures requests and convergence, not
        // the platforms' recommended back-off (Google's is 5 s and up).
        for (k, v) in [
            ("ADSCTL_GOOGLE_ADS_RETRY_MIN_MS", "10"),
            ("ADSCTL_GOOGLE_ADS_RETRY_MAX_MS", "100"),
            ("ADSCTL_GOOGLE_ADS_MAX_RETRIES", "10"),
            ("ADSCTL_GOOGLE_ADS_POLL_MS", "20"),
            ("ADSCTL_META_RETRY_MIN_MS", "10"),
            ("ADSCTL_META_RETRY_MAX_MS", "100"),
            ("ADSCTL_META_MAX_RETRIES", "10"),
            ("ADSCTL_TIKTOK_RETRY_MIN_MS", "10"),
            ("ADSCTL_TIKTOK_RETRY_MAX_MS", "100"),
            ("ADSCTL_TIKTOK_MAX_RETRIES", "10"),
            ("ADSCTL_LINKEDIN_RETRY_MIN_MS", "10"),
            ("ADSCTL_LINKEDIN_RETRY_MAX_MS", "100"),
            ("ADSCTL_LINKEDIN_MAX_RETRIES", "10"),
            ("ADSCTL_X_RETRY_MIN_MS", "10"),
            ("ADSCTL_X_RETRY_MAX_MS", "100"),
            ("ADSCTL_X_MAX_RETRIES", "10"),
            ("ADSCTL_CONFIRM_READ_DELAY_MS", "20"),
        ] {
            std::env::set_var(k, v);
        }
        eprintln!("== agency fixture: first apply, routine edit");
        let em = rt.block_on(Emulator::start(seed_config())).expect("emulator");
        let mut r = setup(rt, &em, "edit");
        // first apply
        let p = plan(rt, &r);
        assert!(!p.is_blocked(), "blocked: {:?}", p.blockers);
        em.counters().reset();
        let t = Instant::now();
        let report = apply(rt, &r, &p);
        let first_time = t.elapsed();
        let first = counts(&em.counters().snapshot());
        assert!(report.ok(), "the agency's first apply: {} failed", report.failed());
        // Meta minimum under the rules: per account, ⌈calls / 50⌉ and at least the most ad sets one campaign has
        // (3 in the fixture), and one more batch for the lookalike and the ad set targeting it, which wait for the
        // seed audience's members (a lookalike needs ≥ 100).
        let per_account = first.meta_batch_entries.div_ceil(META.len() as u64);
        let meta_min = META.len() as u64 * (per_account.div_ceil(META_BATCH).max(3) + 1);
        // Google minimum: one mutate per account, and one more per account whose audience members were uploaded
        // (the list's marker records their fingerprint only after the upload jobs: a run killed between the two
        // leaves no claim that they were uploaded).
        let google_min = GOOGLE.len() as u64 + 2;

        // the routine edit
        for (file, from, to) in EDITS {
            let path = r.tmp.join(file);
            let text = std::fs::read_to_string(&path).expect("read");
            assert!(text.contains(from), "{file}: `{from}` not found");
            std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
        }
        r.project = spec::load(&r.tmp).unwrap_or_else(|e| panic!("{}", e.render(false)));
        point_at(&mut r.project, &em.url());
        em.counters().reset();
        let t = Instant::now();
        let p = plan(rt, &r);
        let plan_time = t.elapsed();
        let pc = counts(&em.counters().snapshot());
        let changed: Vec<&str> = p
            .accounts
            .iter()
            .filter(|a| a.changes.iter().any(|c| c.action.is_change()))
            .map(|a| a.account.as_str())
            .collect();
        let google_changed = changed.iter().filter(|a| a.ends_with("-search")).count() as u64;
        let meta_changed = changed.iter().filter(|a| a.ends_with("-social")).count() as u64;
        em.counters().reset();
        let t = Instant::now();
        let report = apply(rt, &r, &p);
        let apply_time = t.elapsed();
        let ec = counts(&em.counters().snapshot());
        assert!(report.ok(), "the edit: {} failed", report.failed());
        let after = plan(rt, &r);
        assert!(!after.has_changes(), "the edit did not converge");
        drop(em);
        let _ = std::fs::remove_dir_all(&r.tmp);

        // faults: 20 seeded applies of the whole fixture under 5xx=0.2
        let mut second = 0;
        let mut failed_runs = Vec::new();
        for seed in 0..20u64 {
            eprintln!("== agency fixture under 5xx=0.2, seed {}", 1000 + seed);
            let em = rt.block_on(Emulator::start(seed_config())).expect("emulator");
            let r = setup(rt, &em, &format!("faults-{seed}"));
            em.faults()
                .set(FaultSpec::parse(&format!("5xx=0.2,seed={}", 1000 + seed)).expect("faults"));
            let p = plan(rt, &r);
            let first = apply(rt, &r, &p);
            if !first.ok() {
                second += 1;
                failed_runs.push(format!("seed {}: {} failed", 1000 + seed, first.failed()));
                let p = plan(rt, &r);
                let again = apply(rt, &r, &p);
                assert!(again.ok(), "seed {}: a second apply did not converge", 1000 + seed);
            }
            em.faults().set(FaultSpec::default());
            assert!(!plan(rt, &r).has_changes(), "seed {}: not converged", 1000 + seed);
            drop(em);
            let _ = std::fs::remove_dir_all(&r.tmp);
        }

        println!();
        println!("Agency fixture (8 accounts, 645 resources):");
        println!("| workload | time | requests | actual / minimum |");
        println!("|---|---|---|---|");
        println!(
            "| first apply | {} | {} | G mutate {} · M batch {} |",
            secs(first_time),
            first.total,
            ratio(first.google_mutate, google_min),
            ratio(first.meta_batch, meta_min),
        );
        println!(
            "| edit: plan (full read) | {} | {} | G search {} · M pages {} |",
            secs(plan_time),
            pc.total,
            ratio(pc.google_search, GOOGLE.len() as u64 * GOOGLE_READ_QUERIES),
            ratio(pc.meta_get, META.len() as u64 * 6),
        );
        println!(
            "| edit: apply (11 edits, 5 accounts) | {} | {} | G mutate {} · M batch {} · reads {} |",
            secs(apply_time),
            ec.total,
            ratio(ec.google_mutate, google_changed),
            ratio(ec.meta_batch, meta_changed),
            ratio(ec.google_search + ec.meta_get, 0),
        );
        println!("| 20 applies under 5xx=0.2 | | | needed a second apply: {second} of 20 {failed_runs:?} |");
    }
}
