//! The plan as pull-request reviewers read it (`adsctl plan --format markdown`) and the marks of every action in
//! the terminal form: plans made by the real planner against the in-memory platform, rendered and snapshotted.

use std::collections::BTreeMap;
use std::sync::Arc;

use adsctl::apply::{self, ExecOptions, Target};
use adsctl::connectors::Connector;
use adsctl::model::{Account, Address, Currency, Guardrails, Money, Platform, RemovalPolicy, Resource, Value};
use adsctl::plan::live::ReadMode;
use adsctl::plan::{self, render, Plan, PlanOptions};
use adsctl::platforms::memory::MemoryConnector;
use adsctl::spec::Project;
use adsctl::state::SledStore;

fn usd() -> Currency {
    Currency::from_code("USD").unwrap()
}

fn money(s: &str) -> Value {
    Value::Money(Money::parse(s, usd()).unwrap())
}

fn account(name: &str, on_removed: RemovalPolicy) -> Account {
    Account {
        name: name.into(),
        platform: Platform::GoogleAds,
        platform_id: "1234567890".into(),
        login_customer_id: None,
        currency: usd(),
        time_zone: None,
        on_removed,
        guardrails: Guardrails::default(),
        endpoint: None,
    }
}

fn res(address: &str) -> Resource {
    let a: Address = address.parse().unwrap();
    let kind = a.kind().unwrap();
    Resource::new(a, kind)
}

/// One account on the in-memory platform, with its state in a temporary directory.
struct Env {
    dir: tempfile::TempDir,
    store: SledStore,
    mem: Arc<MemoryConnector>,
    account: Account,
    rt: tokio::runtime::Runtime,
}

impl Env {
    fn new(on_removed: RemovalPolicy) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(&dir.path().join("state")).unwrap();
        Env {
            dir,
            store,
            mem: Arc::new(MemoryConnector::new(Platform::GoogleAds)),
            account: account("acme", on_removed),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    fn plan(&self, desired: &[Resource]) -> Plan {
        let project = Project {
            root: self.dir.path().to_path_buf(),
            accounts: BTreeMap::from([(self.account.name.clone(), self.account.clone())]),
            resources: desired.to_vec(),
            moved: Vec::new(),
        };
        let connectors: BTreeMap<String, Arc<dyn Connector>> =
            BTreeMap::from([(self.account.name.clone(), self.mem.clone() as Arc<dyn Connector>)]);
        self.rt
            .block_on(plan::plan_project(
                &project,
                &self.store,
                &connectors,
                &PlanOptions::default(),
                ReadMode::Full,
            ))
            .unwrap()
    }

    fn converge(&self, desired: &[Resource]) {
        let p = self.plan(desired);
        assert!(!p.is_blocked(), "{:?}", p.blockers);
        let targets = BTreeMap::from([(
            self.account.name.clone(),
            Target {
                account: self.account.clone(),
                connector: self.mem.clone(),
            },
        )]);
        let report = self
            .rt
            .block_on(apply::execute(&p, &targets, &self.store, &ExecOptions::default()))
            .unwrap();
        assert!(report.ok(), "{report:?}");
        assert!(!self.plan(desired).has_changes());
    }
}

/// A search campaign with one ad group and two keywords.
fn shop() -> Vec<Resource> {
    vec![
        res("acme/campaign/Spring Sale")
            .with("status", Value::str("enabled"))
            .with("channel", Value::str("search"))
            .with("budget.daily", money("50")),
        res("acme/campaign/Spring Sale/ad_group/Shoes")
            .with("status", Value::str("enabled"))
            .with("default_cpc", money("1.20")),
        res("acme/campaign/Spring Sale/ad_group/Shoes/keyword/running shoes:phrase")
            .with("status", Value::str("enabled")),
        res("acme/campaign/Spring Sale/ad_group/Shoes/keyword/trail shoes:exact")
            .with("status", Value::str("enabled"))
            .with("cpc_bid", money("0.80")),
    ]
}

fn text(t: &str, pinned: Option<&str>) -> Value {
    let mut m = BTreeMap::from([("text".to_string(), Value::str(t))]);
    if let Some(p) = pinned {
        m.insert("pinned".to_string(), Value::str(p));
    }
    Value::Map(m.into_iter().collect())
}

/// A responsive search ad.
fn rsa() -> Resource {
    res("acme/campaign/Spring Sale/ad_group/Shoes/ad/1")
        .with("status", Value::str("enabled"))
        .with(
            "headlines",
            Value::List(vec![
                text("Spring Sale on Shoes", Some("headline_1")),
                text("Free Returns on Every Order", None),
                text("Shop Trail Runners Today", None),
                text("-40% on Running Shoes", None),
            ]),
        )
        .with(
            "descriptions",
            Value::List(vec![
                text("Up to 40% off running and trail shoes until April 30.", None),
                text("- Free shipping over $50 - easy 60-day returns.", None),
            ]),
        )
        .with("final_url", Value::Url("https://www.example.com/shoes".into()))
        .with("path1", Value::str("shoes"))
}

/// The lines of the `diff` blocks of a Markdown plan.
fn diff_lines(md: &str) -> Vec<&str> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in md.lines() {
        if line.starts_with("```") {
            inside = line == "```diff";
            continue;
        }
        if inside {
            out.push(line);
        }
    }
    out
}

/// `<details>` and fences balanced: what GitHub needs to render the rest of the comment.
fn assert_well_formed(md: &str) {
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count(),
        "{md}"
    );
    assert_eq!(md.lines().filter(|l| l.starts_with("```")).count() % 2, 0, "{md}");
}

#[test]
fn a_new_responsive_search_ad_shows_its_headlines_as_additions() {
    let env = Env::new(RemovalPolicy::Pause);
    env.converge(&shop());
    let mut d = shop();
    d.push(rsa());
    let p = env.plan(&d);
    let md = render::markdown(&p);
    insta::assert_snapshot!("new_rsa", md);
    insta::assert_snapshot!("new_rsa_human", render::human(&p, false));
    assert_well_formed(&md);
    // Nothing is removed: no line of the diff block is coloured as a removal, although texts start with `-`.
    let lines = diff_lines(&md);
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| !l.starts_with('-')), "{md}");
    for h in [
        "Spring Sale on Shoes",
        "-40% on Running Shoes",
        "- Free shipping over $50",
    ] {
        let line = lines
            .iter()
            .find(|l| l.contains(h))
            .unwrap_or_else(|| panic!("{h} in {md}"));
        assert!(line.starts_with('+'), "an added item is an addition: {line:?}");
    }
    assert!(!md.contains("[!WARNING]"), "nothing to call out: {md}");
    // The account's own summary is visible while its details are folded.
    assert!(
        md.contains("<details><summary><b>acme</b> (google_ads, USD) · 1 to create</summary>"),
        "{md}"
    );
}

#[test]
fn a_pause_has_its_own_mark_and_is_called_out_above_the_fold() {
    let env = Env::new(RemovalPolicy::Pause);
    let mut d = shop();
    d.push(rsa());
    env.converge(&d);
    let kept: Vec<Resource> = vec![res("acme/campaign/Brand")
        .with("status", Value::str("enabled"))
        .with("channel", Value::str("search"))
        .with("budget.daily", money("20"))];
    let p = env.plan(&kept);
    let md = render::markdown(&p);
    insta::assert_snapshot!("pause", md);
    assert_well_formed(&md);
    let human = render::human(&p, false);
    assert!(human.contains("‖ campaign \"Spring Sale\" (pause)"), "{human}");
    assert!(!human.lines().any(|l| l.trim_start().starts_with("- ")), "{human}");
    let fold = md.find("<details>").unwrap();
    let warning = md.find("> [!WARNING]").expect("called out");
    assert!(warning < fold, "above the fold: {md}");
    assert!(
        md[..fold].contains("> - `‖` **pause** `acme/campaign/Spring Sale`"),
        "{md}"
    );
    // In the diff block a pause is a change (`!`), never a removal (`-`).
    let lines = diff_lines(&md);
    let pause = lines.iter().find(|l| l.contains("campaign \"Spring Sale\"")).unwrap();
    assert!(pause.starts_with('!') && pause.contains("‖"), "{pause:?}");
    assert!(lines.iter().all(|l| !l.starts_with('-')), "{md}");
}

#[test]
fn a_removal_is_called_out_above_the_fold() {
    let env = Env::new(RemovalPolicy::Remove);
    env.converge(&shop());
    let p = env.plan(&shop()[..3]);
    let md = render::markdown(&p);
    insta::assert_snapshot!("removal", md);
    assert_well_formed(&md);
    let fold = md.find("<details>").unwrap();
    assert!(
        md[..fold].contains("> [!WARNING]\n> This plan removes 1 live resource:"),
        "{md}"
    );
    assert!(
        md[..fold].contains("**remove** `acme/campaign/Spring Sale/ad_group/Shoes/keyword/trail shoes:exact`"),
        "{md}"
    );
    let lines = diff_lines(&md);
    let removal = lines.iter().find(|l| l.contains("trail shoes:exact")).unwrap();
    assert!(removal.starts_with("-"), "{removal:?}");
}

/// A plan with `n` new keywords in one ad group.
fn many_keywords(n: usize) -> Vec<Resource> {
    let mut d = shop();
    for i in 0..n {
        d.push(
            res(&format!(
                "acme/campaign/Spring Sale/ad_group/Shoes/keyword/shoe model {i:05}:exact"
            ))
            .with("status", Value::str("enabled"))
            .with("cpc_bid", money("0.95")),
        );
    }
    d
}

#[test]
fn a_plan_over_the_size_cap_is_cut_with_a_notice() {
    let env = Env::new(RemovalPolicy::Pause);
    env.converge(&shop());
    let p = env.plan(&many_keywords(60));
    // A small cap keeps the snapshot readable; the default cap is checked below.
    let md = render::markdown_with_limit(&p, 3_000);
    insta::assert_snapshot!("over_the_cap", md);
    assert!(md.len() <= 3_000, "{}", md.len());
    assert_well_formed(&md);
    assert!(
        md.contains("**Plan: 60 to create"),
        "the summary keeps every change: {md}"
    );
    let fold = md.find("<details>").unwrap();
    assert!(
        md[..fold].contains("> [!NOTE]\n> This plan is cut to fit a pull-request comment"),
        "{md}"
    );
    assert!(md.contains("more lines cut here"), "{md}");

    // The default cap: below GitHub's 65,536 characters, for a plan far over it.
    let p = env.plan(&many_keywords(2_000));
    let full = render::markdown_with_limit(&p, usize::MAX);
    assert!(full.chars().count() > 65_536, "the test plan must be over the limit");
    let md = render::markdown(&p);
    assert!(md.len() <= render::MARKDOWN_LIMIT, "{}", md.len());
    assert!(md.chars().count() < 65_536);
    assert_well_formed(&md);
    assert!(md.contains("This plan is cut to fit a pull-request comment"));
    // Cut at line boundaries: every keyword shown is shown whole.
    let shown = diff_lines(&md)
        .iter()
        .filter(|l| l.contains("+ keyword \"shoe model"))
        .count();
    assert!(shown > 100, "as much as fits is shown: {shown}");
    // A plan under the cap is not cut.
    let small = render::markdown(&env.plan(&many_keywords(3)));
    assert!(!small.contains("cut to fit"), "{small}");
}

/// Names come from the YAML: in the comment's HTML and text they are escaped (GitHub renders what the comment
/// holds), in code spans and diff blocks they are shown as they are.
#[test]
fn a_script_in_a_campaign_name_is_escaped() {
    const NAME: &str = "<script>alert(1)</script> \"&' Co";
    // as an address writes it: `/` in a name is percent-encoded
    let address = format!("acme/campaign/{}", NAME.replace('/', "%2F"));
    let env = Env::new(RemovalPolicy::Remove);
    let mut guarded = res(&address)
        .with("status", Value::str("enabled"))
        .with("channel", Value::str("search"))
        .with("budget.daily", money("10"));
    guarded.lifecycle.prevent_destroy = true;
    let mut desired = shop();
    desired.push(guarded);
    env.converge(&desired);
    // Its YAML block deleted: prevent_destroy blocks the plan, and the blocker names it.
    let p = env.plan(&shop());
    assert!(p.is_blocked(), "{:?}", p.blockers);
    let md = render::markdown(&p);
    assert_well_formed(&md);
    let fold = md.find("<details>").unwrap();
    let above = &md[..fold];
    assert!(above.contains("> [!CAUTION]"), "{md}");
    assert!(
        above.contains("acme/campaign/&lt;script&gt;alert(1)&lt;%2Fscript&gt; &quot;&amp;' Co was deleted"),
        "the blocker's message is escaped: {md}"
    );
    for line in above.lines() {
        // outside code spans nothing opens an element
        let outside: String = line.split('`').step_by(2).collect();
        assert!(!outside.contains("<script"), "{line}");
    }
    // in a code span the name is shown as it is (GitHub shows code as text)
    assert!(above.contains(&format!("`{address}`")), "{md}");
}
