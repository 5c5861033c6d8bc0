//! The plan/apply engine against the in-memory connector: identity, diff, ordering, executor, journal,
//! state, rendering snapshots, and (in `binary`) the `adsctl` binary itself.

use std::collections::BTreeMap;
use std::sync::Arc;

use adsctl::apply::{self, ApplyReport, ExecOptions, Target};
use adsctl::connectors::Connector;
use adsctl::model::{Account, Address, Currency, Guardrails, Kind, Money, Platform, RemovalPolicy, Resource, Value};
use adsctl::plan::live::ReadMode;
use adsctl::plan::{self, Action, Plan, PlanErrors, PlanOptions};
use adsctl::platforms::memory::{CrashPoint, Faults, MemoryCaps, MemoryConnector};
use adsctl::spec::Project;
use adsctl::state::{SledStore, StateStore};

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

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

fn res(address: &str) -> Resource {
    let a = addr(address);
    let kind = a.kind().unwrap();
    Resource::new(a, kind)
}

/// A project, a memory platform and a state store in a temporary directory.
struct Env {
    _dir: tempfile::TempDir,
    store: SledStore,
    mem: Arc<MemoryConnector>,
    accounts: BTreeMap<String, Account>,
    rt: tokio::runtime::Runtime,
}

impl Env {
    fn new(accounts: &[Account]) -> Env {
        Env::on(Platform::GoogleAds, accounts)
    }

    /// An environment whose accounts are served by the memory backend standing in for `platform` (with that
    /// platform's capabilities, from the registry).
    fn on(platform: Platform, accounts: &[Account]) -> Env {
        // journaled creates missing from a read are read again after a pause: keep it short in tests (the value is
        // the same for every test of this process)
        std::env::set_var("ADSCTL_CONFIRM_READ_DELAY_MS", "20");
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(&dir.path().join("state")).unwrap();
        Env {
            _dir: dir,
            store,
            mem: Arc::new(MemoryConnector::new(platform)),
            accounts: accounts.iter().map(|a| (a.name.clone(), a.clone())).collect(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    fn project(&self, desired: &[Resource]) -> Project {
        Project {
            root: self._dir.path().to_path_buf(),
            accounts: self.accounts.clone(),
            resources: desired.to_vec(),
            moved: Vec::new(),
        }
    }

    fn try_plan(&self, desired: &[Resource], opts: &PlanOptions) -> Result<Plan, PlanErrors> {
        let connectors: BTreeMap<String, Arc<dyn Connector>> = self
            .accounts
            .keys()
            .map(|k| (k.clone(), self.mem.clone() as Arc<dyn Connector>))
            .collect();
        self.rt.block_on(plan::plan_project(
            &self.project(desired),
            &self.store,
            &connectors,
            opts,
            ReadMode::Full,
        ))
    }

    fn plan(&self, desired: &[Resource]) -> Plan {
        self.try_plan(desired, &PlanOptions::default()).unwrap()
    }

    fn apply(&self, plan: &Plan) -> ApplyReport {
        let targets: BTreeMap<String, Target> = self
            .accounts
            .values()
            .map(|a| {
                (
                    a.name.clone(),
                    Target {
                        account: a.clone(),
                        connector: self.mem.clone(),
                    },
                )
            })
            .collect();
        self.rt
            .block_on(apply::execute(plan, &targets, &self.store, &ExecOptions::default()))
            .unwrap()
    }

    /// Plan and apply; returns the report.
    fn converge(&self, desired: &[Resource]) -> ApplyReport {
        let p = self.plan(desired);
        assert!(!p.is_blocked(), "blocked: {:?}", p.blockers);
        self.apply(&p)
    }

    fn live(&self, account: &str) -> Vec<Resource> {
        self.mem.snapshot(account)
    }

    /// Whether the executor would apply this plan (a blocked plan is refused).
    fn apply_allowed(&self, plan: &Plan) -> bool {
        let targets: BTreeMap<String, Target> = self
            .accounts
            .values()
            .map(|a| {
                (
                    a.name.clone(),
                    Target {
                        account: a.clone(),
                        connector: self.mem.clone(),
                    },
                )
            })
            .collect();
        self.rt
            .block_on(apply::execute(plan, &targets, &self.store, &ExecOptions::default()))
            .is_ok()
    }
}

/// Kinds the memory platform marks (like Google Ads, it has no marker for budgets and negative keywords).
fn marked(kind: Kind) -> bool {
    !matches!(kind, Kind::Budget | Kind::NegativeKeyword)
}

fn actions(plan: &Plan) -> Vec<(String, Action)> {
    plan.accounts
        .iter()
        .flat_map(|a| &a.changes)
        .filter(|c| c.action.is_change())
        .map(|c| (c.address.to_string(), c.action))
        .collect()
}

/// A small search account: a campaign, an ad group, two keywords, a shared budget, an audience.
fn shop(daily: &str) -> Vec<Resource> {
    vec![
        res("acme/budget/Shared")
            .with("amount", money("20"))
            .with("delivery_method", Value::str("standard")),
        res("acme/campaign/Spring Sale")
            .with("status", Value::str("enabled"))
            .with("channel", Value::str("search"))
            .with("budget.daily", money(daily)),
        res("acme/campaign/Brand")
            .with("status", Value::str("enabled"))
            .with("channel", Value::str("search"))
            .with("budget.shared", Value::reference(addr("acme/budget/Shared"))),
        res("acme/campaign/Spring Sale/ad_group/Shoes")
            .with("status", Value::str("enabled"))
            .with("default_cpc", money("1.20")),
        res("acme/campaign/Spring Sale/ad_group/Shoes/keyword/running shoes:phrase")
            .with("status", Value::str("enabled")),
        res("acme/campaign/Spring Sale/ad_group/Shoes/keyword/trail shoes:exact")
            .with("status", Value::str("enabled"))
            .with("cpc_bid", money("0.80")),
        res("acme/audience/Subscribers")
            .with("description", Value::str("newsletter"))
            .with(
                "members",
                Value::Set([Value::str("aa11"), Value::str("bb22")].into_iter().collect()),
            ),
    ]
}

/// Ownership as a runner without state sees it: the platform's marker, never the parent's, never a name alone.
mod ownership {
    use super::*;

    impl Env {
        /// A plan of `desired` by a runner with an empty state directory, against the same platform.
        fn fresh_plan(&self, desired: &[Resource]) -> Plan {
            let dir = tempfile::tempdir().unwrap();
            let store = SledStore::open(&dir.path().join("state")).unwrap();
            let connectors: BTreeMap<String, Arc<dyn Connector>> = self
                .accounts
                .keys()
                .map(|k| (k.clone(), self.mem.clone() as Arc<dyn Connector>))
                .collect();
            self.rt
                .block_on(plan::plan_project(
                    &self.project(desired),
                    &store,
                    &connectors,
                    &PlanOptions::default(),
                    ReadMode::Full,
                ))
                .unwrap()
        }
        fn id_of(&self, address: &str) -> String {
            self.live("acme")
                .into_iter()
                .find(|r| r.address.to_string() == address)
                .and_then(|r| r.id)
                .unwrap_or_else(|| panic!("{address} is not live"))
        }
    }

    #[test]
    fn a_fresh_runner_plans_nothing_on_an_applied_repository() {
        let env = Env::new(&[account("acme", RemovalPolicy::Remove)]);
        assert!(env.converge(&shop("50")).ok());
        let p = env.fresh_plan(&shop("50"));
        assert!(!p.has_changes(), "{:?}", actions(&p));
        assert!(!p.is_blocked());
    }

    #[test]
    fn a_missing_marker_is_put_back_by_the_runner_that_remembers_the_object() {
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        assert!(env.converge(&shop("50")).ok());
        let id = env.id_of("acme/campaign/Brand");
        assert!(env.mem.unmark("acme", &id));
        // A runner without state cannot tell it from someone else's campaign of that name: it refuses.
        assert!(env.fresh_plan(&shop("50")).is_blocked());
        // The runner that made it (its id map remembers) puts the marker back, visibly.
        let p = env.plan(&shop("50"));
        let c = p.accounts[0]
            .changes
            .iter()
            .find(|c| c.address == addr("acme/campaign/Brand"))
            .unwrap();
        assert_eq!(c.action, Action::Adopt);
        assert!(c.notes.iter().any(|n| n.contains("marker is missing")), "{:?}", c.notes);
        assert!(env.apply(&p).ok());
        assert!(!env.fresh_plan(&shop("50")).has_changes());
    }

    #[test]
    fn objects_someone_else_added_under_managed_parents_are_listed_and_never_touched() {
        for policy in [RemovalPolicy::Pause, RemovalPolicy::Remove, RemovalPolicy::Orphan] {
            let env = Env::new(&[account("acme", policy)]);
            assert!(env.converge(&shop("50")).ok());
            let theirs = env.mem.insert(
                "acme",
                res("acme/campaign/Spring Sale/ad_group/Shoes/keyword/client term:exact")
                    .with("status", Value::str("enabled")),
            );
            for p in [env.plan(&shop("50")), env.fresh_plan(&shop("50"))] {
                assert!(!p.has_changes(), "{policy:?}: {:?}", actions(&p));
                assert_eq!(p.accounts[0].unmanaged_count, 1);
                assert_eq!(
                    p.accounts[0].unmanaged,
                    vec![addr(
                        "acme/campaign/Spring Sale/ad_group/Shoes/keyword/client term:exact"
                    )]
                );
            }
            // The ad group leaves the YAML: adsctl's objects go by the policy, the other client's keyword stays,
            // and an ad group with someone else's objects below it is never removed.
            let without: Vec<Resource> = shop("50")
                .into_iter()
                .filter(|r| !r.address.to_string().contains("/ad_group/Shoes"))
                .collect();
            let p = env.plan(&without);
            let group: Vec<Action> = actions(&p)
                .into_iter()
                .filter(|(a, _)| a == "acme/campaign/Spring Sale/ad_group/Shoes")
                .map(|(_, x)| x)
                .collect();
            let expected = match policy {
                RemovalPolicy::Orphan => vec![],
                _ => vec![Action::Pause],
            };
            assert_eq!(group, expected, "{policy:?}");
            assert!(env.apply(&p).ok());
            let kw = env
                .live("acme")
                .into_iter()
                .find(|r| r.id.as_deref() == Some(theirs.as_str()));
            let kw = kw.unwrap_or_else(|| panic!("{policy:?}: the other client's keyword was removed"));
            assert_eq!(kw.fields["status"], Value::str("enabled"), "{policy:?}");
        }
    }

    #[test]
    fn a_name_alone_never_makes_someone_elses_object_adsctls() {
        let env = Env::new(&[account("acme", RemovalPolicy::Remove)]);
        // A keyword someone added, that the YAML then names: the YAML must ask to take it over.
        assert!(env.converge(&shop("50")).ok());
        env.mem.insert(
            "acme",
            res("acme/campaign/Spring Sale/ad_group/Shoes/keyword/client term:exact")
                .with("status", Value::str("enabled")),
        );
        let mut desired = shop("50");
        desired.push(
            res("acme/campaign/Spring Sale/ad_group/Shoes/keyword/client term:exact")
                .with("status", Value::str("paused")),
        );
        let p = env.plan(&desired);
        assert!(p.is_blocked());
        assert!(!env.apply_allowed(&p));
        desired.last_mut().unwrap().lifecycle.adopt = true;
        let p = env.plan(&desired);
        assert!(!p.is_blocked());
        assert!(env.apply(&p).ok());
        // adopted and marked: a runner without state, and a YAML without `adopt: true`, see it as adsctl's
        desired.last_mut().unwrap().lifecycle.adopt = false;
        assert!(!env.fresh_plan(&desired).has_changes());
    }

    #[test]
    fn members_are_compared_by_the_platforms_fingerprint_on_a_fresh_runner() {
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        assert!(env.converge(&shop("50")).ok());
        assert!(!env.fresh_plan(&shop("50")).has_changes());
        let mut changed = shop("50");
        let audience = changed
            .iter_mut()
            .find(|r| r.address == addr("acme/audience/Subscribers"))
            .unwrap();
        audience.fields.insert(
            "members",
            Value::Set(
                [Value::str("aa11"), Value::str("bb22"), Value::str("cc33")]
                    .into_iter()
                    .collect(),
            ),
        );
        let p = env.fresh_plan(&changed);
        let ch: Vec<&plan::Change> = p.accounts[0].changes.iter().filter(|c| c.action.is_change()).collect();
        assert_eq!(ch.len(), 1, "{:?}", actions(&p));
        assert_eq!(ch[0].address, addr("acme/audience/Subscribers"));
        assert_eq!(ch[0].fields.len(), 1);
        assert_eq!(ch[0].fields[0].field, "members");
        // what the audience holds is not known to this runner: no `before`, the whole list is sent
        assert_eq!(ch[0].fields[0].before, None);
    }
}

mod parts_of_a_parent {
    //! X's targeting criteria and promoted posts: the platform can neither pause nor change one.
    use super::*;

    fn x_account(on_removed: RemovalPolicy) -> Account {
        Account {
            platform: Platform::X,
            platform_id: "18ce54d4x5t".into(),
            ..account("xa", on_removed)
        }
    }

    fn tree(keyword: &str) -> Vec<Resource> {
        let c = "xa/campaign/Spring";
        let g = format!("{c}/ad_group/US");
        let mut camp = res(c);
        camp.fields.insert("status", Value::str("active"));
        let mut group = res(&g);
        group.fields.insert("status", Value::str("active"));
        vec![
            camp,
            group,
            res(&format!("{g}/targeting_criterion/location:96683cc9126741d1")),
            res(&format!("{g}/targeting_criterion/broad_keyword:{keyword}")),
            res(&format!("{g}/promoted_post/1580000000000000001")),
        ]
    }

    #[test]
    fn an_edited_criterion_is_removed_and_made_again_whatever_on_removed_says() {
        for policy in [RemovalPolicy::Pause, RemovalPolicy::Remove] {
            let env = Env::on(Platform::X, &[x_account(policy)]);
            env.converge(&tree("trail running"));
            let plan = env.plan(&tree("trail runners"));
            let g = "xa/campaign/Spring/ad_group/US/targeting_criterion";
            let got: std::collections::BTreeSet<(String, Action)> = actions(&plan).into_iter().collect();
            let want: std::collections::BTreeSet<(String, Action)> = [
                (format!("{g}/broad_keyword:trail running"), Action::Remove),
                (format!("{g}/broad_keyword:trail runners"), Action::Create),
            ]
            .into_iter()
            .collect();
            assert_eq!(got, want, "{policy:?}");
        }
    }

    #[test]
    fn a_google_negative_keyword_the_yaml_drops_goes_under_pause_too() {
        let env = Env::new(&[account("g", RemovalPolicy::Pause)]);
        let mut camp = res("g/campaign/Search");
        camp.fields.insert("status", Value::str("enabled"));
        let keep = res("g/campaign/Search/negative_keyword/cheap:broad");
        let gone = res("g/campaign/Search/negative_keyword/free:broad");
        env.converge(&[camp.clone(), keep.clone(), gone]);
        let plan = env.plan(&[camp, keep]);
        assert_eq!(
            actions(&plan),
            vec![(
                "g/campaign/Search/negative_keyword/free:broad".to_string(),
                Action::Remove
            )]
        );
    }

    #[test]
    fn under_a_paused_parent_they_stay_adsctls_and_go_with_it_on_remove() {
        let env = Env::on(Platform::X, &[x_account(RemovalPolicy::Pause)]);
        let full = tree("trail running");
        env.converge(&full);
        // the ad group leaves the YAML: it is paused; what is under it stays as it is (nothing to pause)
        let without: Vec<Resource> = full[..1].to_vec();
        let plan = env.plan(&without);
        assert_eq!(
            actions(&plan),
            vec![("xa/campaign/Spring/ad_group/US".to_string(), Action::Pause)]
        );
        let report = env.apply(&plan);
        assert!(report.ok());
        assert!(env.plan(&without).accounts[0].unmanaged.is_empty(), "still adsctl's");
        // `on_removed: remove` later: the ad group and everything under it go (nothing shields it)
        let env2 = Env {
            accounts: [("xa".to_string(), x_account(RemovalPolicy::Remove))].into(),
            ..env
        };
        let plan = env2.plan(&without);
        let removed: Vec<(String, Action)> = actions(&plan);
        assert_eq!(removed.len(), 4, "{removed:?}");
        assert!(removed.iter().all(|(_, a)| *a == Action::Remove), "{removed:?}");
    }
}

mod identity_and_diff {
    use super::*;

    #[test]
    fn create_then_nothing_to_do() {
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        let p = env.plan(&shop("50"));
        assert_eq!(p.summary().create, 7);
        // parents before children, shared budget before the campaign that refers to it
        let order: Vec<String> = actions(&p).into_iter().map(|(a, _)| a).collect();
        let pos = |s: &str| order.iter().position(|x| x == s).unwrap();
        assert!(pos("acme/budget/Shared") < pos("acme/campaign/Brand"));
        assert!(pos("acme/campaign/Spring Sale") < pos("acme/campaign/Spring Sale/ad_group/Shoes"));
        let r = env.apply(&p);
        assert!(r.ok(), "{r:?}");
        let again = env.plan(&shop("50"));
        assert!(!again.has_changes(), "{:?}", actions(&again));
        // write-only members are compared with what the last apply wrote
        let mut more = shop("50");
        more[6].fields.insert(
            "members",
            Value::Set([Value::str("aa11"), Value::str("cc33")].into_iter().collect()),
        );
        let p = env.plan(&more);
        let c = &p.accounts[0]
            .changes
            .iter()
            .find(|c| c.action == Action::Update)
            .unwrap();
        assert_eq!(c.address, addr("acme/audience/Subscribers"));
        assert!(c.fields[0].write_only);
    }

    #[test]
    fn works_with_an_empty_state() {
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        env.converge(&shop("50"));
        // a fresh CI runner: same platform, no state
        let fresh = Env {
            mem: env.mem.clone(),
            ..Env::new(&[account("acme", RemovalPolicy::Pause)])
        };
        let p = fresh.plan(&shop("50"));
        // Everything is recognised by its marker, and the write-only audience members by the fingerprint the
        // platform keeps of them: nothing to do.
        assert_eq!(actions(&p), vec![]);
    }

    #[test]
    fn two_live_candidates_are_an_error_naming_both() {
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        let a = env
            .mem
            .insert("acme", res("acme/campaign/Brand").with("status", Value::str("enabled")));
        let b = env
            .mem
            .insert("acme", res("acme/campaign/Brand").with("status", Value::str("paused")));
        let err = env
            .try_plan(
                &[res("acme/campaign/Brand").with("status", Value::str("enabled"))],
                &PlanOptions::default(),
            )
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&a) && msg.contains(&b), "{msg}");
        assert!(err.0[0].hint().unwrap().contains("id:"));
        // an id pin settles it
        let mut pinned = res("acme/campaign/Brand").with("status", Value::str("enabled"));
        pinned.id = Some(b.clone());
        let p = env.plan(&[pinned]);
        let c = &p.accounts[0].changes[0];
        assert_eq!((c.action, c.id.as_deref()), (Action::Adopt, Some(b.as_str())));
    }

    #[test]
    fn a_pinned_object_renamed_on_the_platform_keeps_its_subtree() {
        let env = Env::new(&[account("acme", RemovalPolicy::Remove)]);
        let mut old = res("acme/campaign/Old name").with("status", Value::str("enabled"));
        old.owned = true;
        let id = env.mem.insert("acme", old);
        let mut g = res("acme/campaign/Old name/ad_group/G").with("status", Value::str("enabled"));
        g.owned = true;
        env.mem.insert("acme", g);
        let mut pinned = res("acme/campaign/New name").with("status", Value::str("paused"));
        pinned.id = Some(id.clone());
        let desired = vec![
            pinned,
            res("acme/campaign/New name/ad_group/G").with("status", Value::str("enabled")),
        ];
        let p = env.plan(&desired);
        // the ad group is found under its renamed parent: nothing is created or removed
        assert_eq!(
            actions(&p),
            vec![("acme/campaign/New name".to_string(), Action::Update)]
        );
        let c = &p.accounts[0]
            .changes
            .iter()
            .find(|c| c.action == Action::Update)
            .unwrap();
        assert!(c.notes.iter().any(|n| n.contains("\"Old name\"")), "{:?}", c.notes);
        // the platform's name follows the YAML (issue 25): `name` is one of the update's fields
        let name = c.fields.iter().find(|f| f.field == "name").expect("a name change");
        assert_eq!(
            (name.before.clone(), name.after.clone()),
            (Some(Value::str("Old name")), Some(Value::str("New name")))
        );
        assert!(env.apply(&p).ok());
        let live: Vec<String> = env.live("acme").iter().map(|r| r.address.to_string()).collect();
        assert!(
            live.contains(&"acme/campaign/New name/ad_group/G".to_string())
                && !live.iter().any(|a| a.contains("Old name")),
            "{live:?}"
        );
        assert!(!env.plan(&desired).has_changes());
        // and the id map forgot the old name
        let entries: Vec<String> = env
            .store
            .entries(None)
            .unwrap()
            .into_iter()
            .map(|e| e.address.to_string())
            .collect();
        assert!(!entries.iter().any(|a| a.contains("Old name")), "{entries:?}");
    }

    /// A rename written without the id: a new object is made and the old one leaves; the plan says so on both,
    /// with the id that would make it a rename in place.
    #[test]
    fn an_unpinned_rename_is_called_out() {
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        let before = vec![res("acme/campaign/Spring").with("status", Value::str("enabled"))];
        assert!(env.converge(&before).ok());
        let id = env.live("acme")[0].id.clone().unwrap();
        let p = env.plan(&[res("acme/campaign/Spring 2027").with("status", Value::str("enabled"))]);
        let changes = &p.accounts[0].changes;
        let create = changes.iter().find(|c| c.action == Action::Create).unwrap();
        let pause = changes.iter().find(|c| c.action == Action::Pause).unwrap();
        assert!(
            create
                .notes
                .iter()
                .any(|n| n.contains("\"Spring\" renamed") && n.contains(&format!("id: \"{id}\""))),
            "{:?}",
            create.notes
        );
        assert!(
            pause
                .notes
                .iter()
                .any(|n| n.contains("\"Spring 2027\" is this renamed")),
            "{:?}",
            pause.notes
        );
    }

    #[test]
    fn unowned_objects_are_adopted_explicitly_and_never_removed() {
        let env = Env::new(&[account("acme", RemovalPolicy::Remove)]);
        env.mem
            .insert("acme", res("acme/campaign/Brand").with("status", Value::str("enabled")));
        env.mem.insert(
            "acme",
            res("acme/campaign/Manual").with("status", Value::str("enabled")),
        );
        // Named in the YAML but made by someone else: refused until the YAML asks to adopt it.
        let named = [res("acme/campaign/Brand").with("status", Value::str("paused"))];
        let p = env.plan(&named);
        assert!(p.is_blocked());
        assert!(
            matches!(&p.blockers[..], [b] if b.kind == plan::BlockerKind::Unmanaged
                && b.address == Some(addr("acme/campaign/Brand"))),
            "{:?}",
            p.blockers
        );
        let text = plan::render::human(&p, false);
        assert!(text.contains("adopt: true"), "{text}");
        let mut asked = named[0].clone();
        asked.lifecycle.adopt = true;
        let desired = [asked];
        let p = env.plan(&desired);
        assert!(!p.is_blocked(), "{:?}", p.blockers);
        assert_eq!(actions(&p), vec![("acme/campaign/Brand".to_string(), Action::Adopt)]);
        assert!(env.apply(&p).ok());
        // Marked now: a YAML without `adopt: true` and a runner without state see it as adsctl's.
        assert!(!env.plan(&named).has_changes());
        assert!(!env.plan(&desired).has_changes());
        let live = env.live("acme");
        assert!(
            live.iter()
                .find(|r| r.address == addr("acme/campaign/Brand"))
                .unwrap()
                .owned
        );
        let manual = live.iter().find(|r| r.address == addr("acme/campaign/Manual")).unwrap();
        assert!(!manual.owned);
        assert_eq!(manual.fields["status"], Value::str("enabled"));
    }

    #[test]
    fn removal_policies() {
        for (policy, expect) in [
            (RemovalPolicy::Pause, Some(Action::Pause)),
            (RemovalPolicy::Remove, Some(Action::Remove)),
            (RemovalPolicy::Orphan, None),
        ] {
            let env = Env::new(&[account("acme", policy)]);
            env.converge(&shop("50"));
            let without: Vec<Resource> = shop("50")
                .into_iter()
                .filter(|r| r.address.name() != Some("Brand"))
                .collect();
            let p = env.plan(&without);
            let brand: Vec<Action> = actions(&p)
                .into_iter()
                .filter(|(a, _)| a == "acme/campaign/Brand")
                .map(|(_, x)| x)
                .collect();
            assert_eq!(brand.first().copied(), expect, "{policy:?}");
            if policy == RemovalPolicy::Orphan {
                let text = plan::render::human(&p, false);
                assert!(
                    text.contains("Left alone") && text.contains("acme/campaign/Brand"),
                    "{text}"
                );
            }
            assert!(env.apply(&p).ok());
            assert!(!env.plan(&without).has_changes(), "{policy:?} did not converge");
        }
    }

    #[test]
    fn prevent_destroy_is_remembered_after_the_block_is_deleted() {
        let env = Env::new(&[account("acme", RemovalPolicy::Remove)]);
        let mut d = shop("50");
        d[2].lifecycle.prevent_destroy = true;
        env.converge(&d);
        let without: Vec<Resource> = d.into_iter().filter(|r| r.address.name() != Some("Brand")).collect();
        let p = env.plan(&without);
        assert!(p.is_blocked());
        assert!(p.blockers[0].message.contains("acme/campaign/Brand"));
        assert!(apply_refused(&env, &p));
    }

    fn apply_refused(env: &Env, p: &Plan) -> bool {
        let targets: BTreeMap<String, Target> = BTreeMap::new();
        env.rt
            .block_on(apply::execute(p, &targets, &env.store, &ExecOptions::default()))
            .is_err()
    }

    #[test]
    fn immutable_change_is_a_replace_refused_without_allow_replace() {
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        env.converge(&shop("50"));
        let mut d = shop("50");
        d[1].fields.insert("channel", Value::str("display"));
        let p = env.plan(&d);
        assert!(p.is_blocked());
        let opts = PlanOptions {
            allow_replace: true,
            ..Default::default()
        };
        let p = env.try_plan(&d, &opts).unwrap();
        assert!(!p.is_blocked());
        let acts = actions(&p);
        assert!(acts.contains(&("acme/campaign/Spring Sale".into(), Action::Replace)));
        // its children go with it and are created again
        assert!(acts.contains(&("acme/campaign/Spring Sale/ad_group/Shoes".into(), Action::Create)));
        assert!(env.apply(&p).ok());
        assert!(!env.plan(&d).has_changes());
        assert_eq!(env.live("acme").len(), 7);
    }

    #[test]
    fn ignore_changes_and_semantic_equality() {
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        let c = res("acme/campaign/C")
            .with("status", Value::str("enabled"))
            .with("final_url", Value::Url("https://Example.com".into()))
            .with(
                "labels",
                Value::Set([Value::str("a"), Value::str("b")].into_iter().collect()),
            );
        env.converge(std::slice::from_ref(&c));
        // the same URL written differently, the same set in another order: no change
        let mut same = c.clone();
        same.fields
            .insert("final_url", Value::Url("https://example.com/".into()));
        same.fields
            .insert("labels", Value::List(vec![Value::str("b"), Value::str("a")]));
        assert!(!env.plan(&[same]).has_changes());
        // someone pauses it in the UI: drift; unless ignored
        let id = env.live("acme")[0].id.clone().unwrap();
        let mut edited = env.live("acme")[0].clone();
        edited.fields.insert("status", Value::str("paused"));
        env.mem.set_faults(Faults::default());
        replace_live(&env, "acme", &id, edited);
        let p = env.plan(std::slice::from_ref(&c));
        let f = &p.accounts[0].changes[0].fields[0];
        assert!(f.drift, "{f:?}");
        let mut ignoring = c.clone();
        ignoring.lifecycle.ignore_changes = vec!["status".into()];
        assert!(!env.plan(&[ignoring]).has_changes());
    }

    pub(crate) fn replace_live(env: &Env, account: &str, id: &str, r: Resource) {
        for (k, v) in r.fields {
            assert!(env.mem.edit(account, id, &k, v));
        }
    }

    #[test]
    fn targets_limit_the_plan_but_keep_needed_parents() {
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        let opts = PlanOptions {
            targets: vec![addr("acme/campaign/Spring Sale/ad_group/Shoes")],
            ..Default::default()
        };
        let p = env.try_plan(&shop("50"), &opts).unwrap();
        let acts: Vec<String> = actions(&p).into_iter().map(|(a, _)| a).collect();
        assert!(acts.contains(&"acme/campaign/Spring Sale".to_string()));
        assert!(
            acts.iter().all(|a| a.starts_with("acme/campaign/Spring Sale")),
            "{acts:?}"
        );
        assert_eq!(acts.len(), 4);
    }

    #[test]
    fn guardrails_name_each_violating_resource_unless_allowed() {
        let mut a = account("acme", RemovalPolicy::Pause);
        a.guardrails = Guardrails {
            max_daily_budget: Some(Money::parse("100", usd()).unwrap()),
            max_increase_pct: Some(30),
            max_changes: Some(50),
        };
        let env = Env::new(&[a]);
        env.converge(&shop("50"));
        let p = env.plan(&shop("75"));
        let names: Vec<String> = p
            .active_blockers()
            .map(|b| {
                format!(
                    "{:?} {}",
                    b.kind,
                    b.address.as_ref().map(|a| a.to_string()).unwrap_or_default()
                )
            })
            .collect();
        assert_eq!(
            names,
            vec!["Guardrail { name: \"max_increase_pct\" } acme/campaign/Spring Sale".to_string()]
        );
        let opts = PlanOptions {
            allow_guardrails: ["max_increase_pct".to_string()].into_iter().collect(),
            ..Default::default()
        };
        assert!(!env.try_plan(&shop("75"), &opts).unwrap().is_blocked());
        let p = env.plan(&shop("90"));
        assert!(
            p.active_blockers().any(|b| b.message.contains("max_daily_budget")),
            "{:?}",
            p.blockers
        );
    }
}

mod executor {
    use super::*;

    #[test]
    fn batches_respect_the_connector_maximum_without_temporary_ids() {
        for (max, one_request) in [(1, false), (2, false), (3, true), (100, true)] {
            let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
            env.mem.set_capabilities(MemoryCaps {
                max_ops_per_request: max,
                creates_children_in_one_request: one_request,
            });
            let r = env.converge(&shop("50"));
            assert!(r.ok(), "max {max}: {r:?}");
            assert_eq!(env.live("acme").len(), 7);
            assert!(!env.plan(&shop("50")).has_changes());
        }
    }

    #[test]
    fn dependents_of_a_failure_are_skipped_and_independent_work_continues() {
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        env.mem.set_faults(Faults {
            fail_addresses: vec!["acme/campaign/Spring Sale".into()],
            ..Default::default()
        });
        let r = env.converge(&shop("50"));
        assert_eq!(r.failed(), 1);
        assert_eq!(r.skipped(), 3, "{r:?}"); // the ad group and its two keywords
        assert_eq!(r.succeeded(), 3);
        let skipped: Vec<String> = r
            .results
            .iter()
            .filter(|x| matches!(x.outcome, apply::ChangeOutcome::Skipped { .. }))
            .map(|x| x.address.to_string())
            .collect();
        assert!(skipped.iter().all(|s| s.starts_with("acme/campaign/Spring Sale/")));
        env.mem.set_faults(Faults::default());
        assert!(env.converge(&shop("50")).ok());
        assert!(!env.plan(&shop("50")).has_changes());
    }

    #[test]
    fn accounts_apply_in_parallel_and_each_apply_is_recorded() {
        let env = Env::new(&[
            account("acme", RemovalPolicy::Pause),
            account("beta", RemovalPolicy::Pause),
        ]);
        let mut d = shop("50");
        d.extend(shop("10").into_iter().map(|mut r| {
            r.address.account = "beta".into();
            if let Some(Value::Ref(a)) = r.fields.get_mut("budget.shared") {
                a.account = "beta".into();
            }
            r
        }));
        let r = env.converge(&d);
        assert!(r.ok());
        assert_eq!((env.live("acme").len(), env.live("beta").len()), (7, 7));
        let h = env.store.apply_records().unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!((h[0].result.as_str(), h[0].succeeded), ("succeeded", 14));
    }

    /// One account on a platform that takes 3 operations per request and loses the response of operation `k`.
    fn losing_response_at(k: u64) -> Env {
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        env.mem.set_capabilities(MemoryCaps {
            max_ops_per_request: 3,
            creates_children_in_one_request: true,
        });
        env.mem.set_faults(Faults {
            lose_response_at_op: Some(k),
            ..Default::default()
        });
        env
    }

    /// A request whose response is lost: the apply looks for what it made and keeps what it finds. What it does
    /// not find may still have been made (a read can lag), so it is not sent again: its intent stays for the next
    /// run, which resolves it. Nothing is created twice.
    #[test]
    fn lost_responses_keep_what_was_made_and_leave_the_rest_to_the_next_run() {
        for k in 0..7 {
            let env = losing_response_at(k);
            let first = env.converge(&shop("50"));
            if !first.ok() {
                assert!(!env.store.journal_pending(Some("acme")).unwrap().is_empty(), "k={k}");
            }
            let r = env.converge(&shop("50"));
            assert!(r.ok(), "k={k}: {r:?}");
            assert_eq!(env.live("acme").len(), 7, "k={k}: duplicates");
            assert!(env.store.journal_pending(None).unwrap().is_empty(), "k={k}");
            assert!(!env.plan(&shop("50")).has_changes(), "k={k}");
        }
    }

    /// After a lost response, the look-up's first read lags: the objects the lost request made are not in it.
    /// The apply reads again before it believes a create is missing, so nothing is created twice.
    #[test]
    fn a_lagging_read_after_a_lost_response_creates_nothing_twice() {
        for k in 0..7 {
            let env = losing_response_at(k);
            env.mem.set_faults(Faults {
                lose_response_at_op: Some(k),
                lag_after_lost_response: true,
                ..Default::default()
            });
            env.converge(&shop("50"));
            let r = env.converge(&shop("50"));
            assert!(r.ok(), "k={k}: {r:?}");
            let live = env.live("acme");
            assert_eq!(live.len(), 7, "k={k}: duplicates");
            assert!(!env.plan(&shop("50")).has_changes());
        }
    }

    /// A request answered with a server error: what the look-ups do not find was not made, and is sent again in
    /// the same apply, which converges.
    #[test]
    fn a_server_error_is_resolved_within_the_apply() {
        for k in 0..7 {
            let env = losing_response_at(k);
            env.mem.set_faults(Faults {
                server_error_at_op: Some(k),
                ..Default::default()
            });
            let r = env.converge(&shop("50"));
            assert!(r.ok(), "k={k}: {r:?}");
            assert_eq!(env.live("acme").len(), 7, "k={k}: duplicates");
            assert!(env.store.journal_pending(None).unwrap().is_empty(), "k={k}");
            assert!(!env.plan(&shop("50")).has_changes(), "k={k}");
        }
    }

    /// The memory platform crashes at operation k (before committing, after committing with the response lost,
    /// or between a create and its ownership marker); a new run converges, with no duplicates.
    #[test]
    fn crash_at_every_operation_converges_without_duplicates() {
        crash_test(2, false);
        crash_test(3, true);
    }

    fn crash_test(max_ops_per_request: usize, creates_children_in_one_request: bool) {
        let caps = MemoryCaps {
            max_ops_per_request,
            creates_children_in_one_request,
        };
        // how many operations a clean apply takes
        let probe = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        probe.mem.set_capabilities(caps.clone());
        probe.converge(&shop("50"));
        let total = probe.mem.ops_seen();
        assert!(total >= 7);
        let mut runs = 0;
        for point in [
            CrashPoint::BeforeCommit,
            CrashPoint::AfterCommit,
            CrashPoint::BeforeMarker,
        ] {
            for k in 0..total {
                let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
                env.mem.set_capabilities(caps.clone());
                env.mem.set_faults(Faults {
                    crash_at_op: Some(k),
                    crash_point: point,
                    ..Default::default()
                });
                let p = env.plan(&shop("50"));
                let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| env.apply(&p)));
                assert!(crashed.is_err(), "no crash at {k} ({point:?})");
                if point != CrashPoint::BeforeCommit {
                    // the interrupted create is still journaled
                    assert!(!env.store.journal_pending(Some("acme")).unwrap().is_empty());
                }
                let again = env.plan(&shop("50"));
                if point == CrashPoint::BeforeMarker {
                    // The object made without its marker is adopted (kinds without a marker need nothing).
                    for l in env.live("acme").iter().filter(|r| !r.owned && marked(r.kind)) {
                        assert!(
                            again.accounts[0].changes.iter().any(|c| c.address == l.address
                                && c.action == Action::Adopt
                                && c.notes.iter().any(|n| n.contains("interrupted apply"))),
                            "k={k}: {} {:?}",
                            l.address,
                            actions(&again)
                        );
                    }
                }
                let r = env.apply(&again);
                assert!(r.ok(), "k={k} {point:?}: {r:?}");
                let live = env.live("acme");
                let mut addrs: Vec<String> = live.iter().map(|r| r.address.to_string()).collect();
                addrs.sort();
                addrs.dedup();
                assert_eq!((addrs.len(), live.len()), (7, 7), "k={k} {point:?}: duplicates");
                assert!(live.iter().filter(|r| marked(r.kind)).all(|r| r.owned));
                assert!(!env.plan(&shop("50")).has_changes(), "k={k} {point:?}");
                assert!(env.store.journal_pending(None).unwrap().is_empty());
                runs += 1;
            }
        }
        assert_eq!(runs, 3 * total);
    }
}

mod property {
    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug)]
    struct Props {
        status: bool,
        budget: Option<u8>,
        channel: bool,
        owned: bool,
    }

    fn props() -> impl Strategy<Value = Props> {
        (
            any::<bool>(),
            proptest::option::of(0u8..3),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(status, budget, channel, owned)| Props {
                status,
                budget,
                channel,
                owned,
            })
    }

    /// A tree: campaigns → ad groups → keywords, each node present or not, with random fields.
    type Tree = Vec<Option<(Props, Vec<Option<(Props, Vec<Option<Props>>)>>)>>;

    fn tree() -> impl Strategy<Value = Tree> {
        let kw = proptest::option::of(props());
        let ag = proptest::option::of((props(), proptest::collection::vec(kw, 2)));
        let camp = proptest::option::of((props(), proptest::collection::vec(ag, 2)));
        proptest::collection::vec(camp, 3)
    }

    fn resources(t: &Tree, live: bool) -> Vec<Resource> {
        let status = |p: &Props| Value::str(if p.status { "enabled" } else { "paused" });
        let mut out = Vec::new();
        let mk = |a: &str, p: &Props, extra: &dyn Fn(Resource) -> Resource| {
            let mut r = res(a).with("status", status(p));
            if live {
                r.owned = p.owned;
                r = r.with("serving_status", Value::str("serving"));
            }
            extra(r)
        };
        for (ci, c) in t.iter().enumerate() {
            let Some((cp, groups)) = c else { continue };
            let ca = format!("acme/campaign/C{ci}");
            out.push(mk(&ca, cp, &|r| {
                let r = r.with(
                    "channel",
                    Value::str(if cp.channel || live { "search" } else { "display" }),
                );
                match cp.budget {
                    Some(b) => r.with("budget.daily", money(["10", "20", "50"][b as usize])),
                    None if live => r.with("budget.daily", money("5")),
                    None => r,
                }
            }));
            for (gi, g) in groups.iter().enumerate() {
                let Some((gp, kws)) = g else { continue };
                let ga = format!("{ca}/ad_group/G{gi}");
                out.push(mk(&ga, gp, &|r| match gp.budget {
                    Some(b) => r.with("default_cpc", money(["0.10", "0.20", "1"][b as usize])),
                    None => r,
                }));
                for (ki, k) in kws.iter().enumerate() {
                    let Some(kp) = k else { continue };
                    out.push(mk(&format!("{ga}/keyword/kw{ki}:exact"), kp, &|r| r));
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, max_global_rejects: 4096, ..ProptestConfig::default() })]

        /// apply(plan) followed by a new plan yields no changes, and nothing unowned is ever touched.
        #[test]
        fn apply_then_plan_is_empty_and_unowned_is_untouched(
            desired in tree(),
            live in tree(),
            policy in prop_oneof![Just(RemovalPolicy::Pause), Just(RemovalPolicy::Remove), Just(RemovalPolicy::Orphan)],
            members in proptest::option::of(proptest::collection::btree_set("[a-f0-9]{4}", 0..3)),
            batch in 1usize..4,
            one_request in any::<bool>(),
        ) {
            let env = Env::new(&[account("acme", policy)]);
            env.mem.set_capabilities(MemoryCaps { max_ops_per_request: batch, creates_children_in_one_request: one_request });
            for r in resources(&live, true) {
                env.mem.insert("acme", r);
            }
            let mut want = resources(&desired, false);
            if let Some(m) = members {
                want.push(res("acme/audience/A").with("members", Value::Set(m.into_iter().map(Value::Str).collect())));
            }
            let opts = PlanOptions { allow_replace: true, ..Default::default() };
            let p = env.try_plan(&want, &opts).unwrap();
            // replacing would delete objects adsctl does not manage: refused, nothing to check
            prop_assume!(!p.is_blocked());
            let desired_addrs: Vec<Address> = want.iter().map(|r| r.address.clone()).collect();
            let untouchable: Vec<Resource> = env
                .live("acme")
                .into_iter()
                .filter(|r| !r.owned && !desired_addrs.contains(&r.address))
                .collect();
            let report = env.apply(&p);
            prop_assert!(report.ok(), "{:?}", report);
            let again = env.try_plan(&want, &opts).unwrap();
            prop_assert!(!again.has_changes(), "{:?}", actions(&again));
            let after = env.live("acme");
            for u in &untouchable {
                prop_assert!(after.contains(u), "unowned {} was touched", u.address);
            }
            // every desired resource exists exactly once
            for a in &desired_addrs {
                prop_assert_eq!(after.iter().filter(|r| &r.address == a).count(), 1);
            }
        }
    }
}

mod rendering {
    use adsctl::plan::render;

    use super::*;

    fn ad(text: &str) -> Resource {
        res("acme/campaign/Spring Sale/ad_group/Shoes/ad/1")
            .with("status", Value::str("enabled"))
            .with(
                "headlines",
                Value::List(vec![
                    Value::str("Spring Sale on Shoes"),
                    Value::str("Free Returns"),
                    Value::str("Shop Trail"),
                ]),
            )
            .with("final_url", Value::Url("https://example.com/shoes".into()))
            .with("path1", Value::str(text))
    }

    /// A Meta ad with its creative's message: creatives cannot change in place, so a new one is swapped in.
    #[test]
    fn swapped_creative_and_long_text() {
        let mut a = account("social", RemovalPolicy::Pause);
        a.platform = Platform::Meta;
        a.platform_id = "act_1234567890".into();
        let env = Env::on(Platform::Meta, &[a]);
        let desired = |text: &str| {
            vec![
                res("social/campaign/Spring")
                    .with("status", Value::str("active"))
                    .with("objective", Value::str("outcome_traffic")),
                res("social/campaign/Spring/ad_set/Runners")
                    .with("status", Value::str("active"))
                    .with("budget.daily", money("20")),
                res("social/campaign/Spring/ad_set/Runners/ad/Trail")
                    .with("status", Value::str("active"))
                    .with("creative.page_id", Value::str("1000"))
                    .with("creative.link", Value::Url("https://example.com/shoes".into()))
                    .with("creative.message", Value::str(text)),
            ]
        };
        env.converge(&desired(
            "Spring is here. Up to 40% off running shoes, free returns for thirty days.",
        ));
        let p = env.plan(&desired(
            "Spring is here. Up to 50% off trail shoes, free returns for thirty days.",
        ));
        insta::assert_snapshot!("swapped_creative", render::human(&p, false));
    }

    #[test]
    fn creates() {
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        insta::assert_snapshot!("creates", render::human(&env.plan(&shop("50")), false));
    }

    #[test]
    fn updates_drift_and_long_text() {
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        let mut d = shop("50");
        d.push(ad("running"));
        env.converge(&d);
        // someone lowers the ad group bid in the UI (drift); the YAML raises a budget and rewrites the ad
        let g = env
            .live("acme")
            .into_iter()
            .find(|r| r.kind == adsctl::model::Kind::AdGroup)
            .unwrap();
        let mut edited = g.clone();
        edited.fields.insert("default_cpc", money("0.90"));
        identity_and_diff::replace_live(&env, "acme", g.id.as_deref().unwrap(), edited);
        let mut d2 = shop("75");
        let mut new_ad = ad("trail");
        new_ad.fields.insert(
            "headlines",
            Value::List(vec![
                Value::str("Spring Sale on Shoes"),
                Value::str("Shop Trail Runners"),
                Value::str("Shop Trail"),
            ]),
        );
        d2.push(new_ad);
        let p = env.plan(&d2);
        insta::assert_snapshot!("updates", render::human(&p, false));
        insta::assert_snapshot!("updates_markdown", render::markdown(&p));
        let colored = render::human(&p, true);
        assert!(colored.contains("\x1b[33m~"), "updates are yellow");
    }

    #[test]
    fn drift() {
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        env.converge(&shop("50"));
        // edits made in the platform's UI; the YAML did not change
        let live = env.live("acme");
        let id = |a: &str| live.iter().find(|r| r.address == addr(a)).unwrap().id.clone().unwrap();
        assert!(env
            .mem
            .edit("acme", &id("acme/campaign/Spring Sale"), "status", Value::str("paused")));
        assert!(env.mem.edit(
            "acme",
            &id("acme/campaign/Spring Sale/ad_group/Shoes"),
            "default_cpc",
            money("2.50")
        ));
        let p = env.plan(&shop("50"));
        assert_eq!(p.summary().drifted, 2);
        insta::assert_snapshot!("drift", render::human(&p, false));
    }

    #[test]
    fn replaces() {
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        env.converge(&shop("50"));
        let mut d = shop("50");
        d[1].fields.insert("channel", Value::str("display"));
        insta::assert_snapshot!("replace_refused", render::human(&env.plan(&d), false));
        let opts = PlanOptions {
            allow_replace: true,
            ..Default::default()
        };
        insta::assert_snapshot!(
            "replace_allowed",
            render::human(&env.try_plan(&d, &opts).unwrap(), false)
        );
    }

    #[test]
    fn removals() {
        let env = Env::new(&[account("acme", RemovalPolicy::Remove)]);
        env.converge(&shop("50"));
        let d: Vec<Resource> = shop("50")
            .into_iter()
            .filter(|r| !r.address.to_string().contains("Spring Sale"))
            .collect();
        insta::assert_snapshot!("removals", render::human(&env.plan(&d), false));
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        env.converge(&shop("50"));
        insta::assert_snapshot!("pauses", render::human(&env.plan(&d), false));
    }

    #[test]
    fn guardrail_failures() {
        let mut env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        env.converge(&shop("50"));
        env.accounts.get_mut("acme").unwrap().guardrails = Guardrails {
            max_daily_budget: Some(Money::parse("100", usd()).unwrap()),
            max_increase_pct: Some(30),
            max_changes: Some(1),
        };
        let mut d = shop("120");
        d[0].fields.insert("amount", money("30"));
        let p = env.plan(&d);
        insta::assert_snapshot!("guardrails", render::human(&p, false));
        let opts = PlanOptions {
            allow_guardrails: ["max_changes".to_string()].into_iter().collect(),
            ..Default::default()
        };
        let p = env.try_plan(&d, &opts).unwrap();
        assert!(p.blockers.iter().any(|b| b.overridden));
        assert!(render::human(&p, false).contains("Overridden guardrails:"));
    }

    #[test]
    fn json_round_trips_through_a_plan_file() {
        let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
        let p = env.plan(&shop("50"));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("plan.json");
        plan::file::save(&p, &f).unwrap();
        let back = plan::file::load(&f).unwrap();
        assert_eq!(back, p);
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        assert_eq!(v["format_version"], 1);
        assert_eq!(v["accounts"][0]["changes"][0]["action"], "create");
        std::fs::write(&f, r#"{"format_version": 99}"#).unwrap();
        assert!(plan::file::load(&f).unwrap_err().to_string().contains("version 99"));
    }
}

/// The `adsctl` binary against the memory sandbox backend (`ADSCTL_BACKEND=memory:FILE`).
mod binary {
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output};

    use adsctl::platforms::memory::MemoryData;
    use adsctl::state::ApplyLock;

    use super::*;

    const CAMPAIGNS: &str = "campaigns:
  - name: Brand
    account: acme
    channel: search
    status: enabled
    budget: { daily: BUDGET }
    bidding: { manual_cpc: {} }
    ad_groups:
      - name: Shoes
        default_cpc: 1.20
        keywords:
          - { text: running shoes, match: phrase }
          - { text: trail shoes, match: exact }
";

    struct Sandbox {
        dir: tempfile::TempDir,
    }

    impl Sandbox {
        fn new(budget: &str) -> Sandbox {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(
                dir.path().join("adsctl.yaml"),
                "accounts:\n  acme:\n    platform: google_ads\n    customer_id: 123-456-7890\n    currency: USD\n",
            )
            .unwrap();
            let s = Sandbox { dir };
            s.budget(budget);
            s
        }
        fn budget(&self, b: &str) {
            std::fs::write(self.dir.path().join("campaigns.yaml"), CAMPAIGNS.replace("BUDGET", b)).unwrap();
        }
        fn mem(&self) -> PathBuf {
            self.dir.path().join("platform.json")
        }
        fn state(&self) -> PathBuf {
            self.dir.path().join(".adsctl")
        }
        fn run(&self, args: &[&str]) -> Output {
            Command::new(env!("CARGO_BIN_EXE_adsctl"))
                .env("ADSCTL_CONFIRM_READ_DELAY_MS", "20")
                .args(args)
                .current_dir(self.dir.path())
                .env("ADSCTL_BACKEND", format!("memory:{}", self.mem().display()))
                .env_remove("ADSCTL_STATE_DIR")
                .env("NO_COLOR", "1")
                .output()
                .unwrap()
        }
        fn data(&self) -> MemoryData {
            serde_json::from_str(&std::fs::read_to_string(self.mem()).unwrap()).unwrap()
        }
        fn write_data(&self, d: &MemoryData) {
            std::fs::write(self.mem(), serde_json::to_string(d).unwrap()).unwrap();
        }
    }

    fn code(o: &Output) -> i32 {
        o.status.code().unwrap_or(-1)
    }
    fn stderr(o: &Output) -> String {
        String::from_utf8_lossy(&o.stderr).into_owned()
    }
    fn stdout(o: &Output) -> String {
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    #[test]
    fn detailed_exitcode_is_0_2_1() {
        let s = Sandbox::new("50");
        let o = s.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(stdout(&o).contains("Plan: 4 to create"));
        let o = s.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
        let o = s.run(&["plan", "--detailed-exitcode"]);
        assert_eq!(code(&o), 0, "{}", stdout(&o));
        // without the flag, changes still exit 0
        s.budget("60");
        assert_eq!(code(&s.run(&["plan"])), 0);
        assert_eq!(code(&s.run(&["plan", "--detailed-exitcode"])), 2);
        // errors: bad YAML, and a backend that cannot be used
        std::fs::write(s.dir.path().join("campaigns.yaml"), "campaigns: [ {name: 1").unwrap();
        assert_eq!(code(&s.run(&["plan", "--detailed-exitcode"])), 1);
        s.budget("60");
        let o = Command::new(env!("CARGO_BIN_EXE_adsctl"))
            .env("ADSCTL_CONFIRM_READ_DELAY_MS", "20")
            .args(["plan", "--detailed-exitcode"])
            .current_dir(s.dir.path())
            .env("ADSCTL_BACKEND", "nonsense")
            .output()
            .unwrap();
        assert_eq!(code(&o), 1);
        assert!(stderr(&o).contains("ADSCTL_BACKEND"));
    }

    #[test]
    fn stale_saved_plan_is_refused() {
        let s = Sandbox::new("50");
        assert_eq!(code(&s.run(&["apply", "--auto-approve"])), 0);
        s.budget("60");
        let o = s.run(&["plan", "--out", "plan.json"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        // someone edits the campaign in the platform's UI after the plan was reviewed
        let mut d = s.data();
        let c = d
            .accounts
            .get_mut("acme")
            .unwrap()
            .iter_mut()
            .find(|r| r.kind == adsctl::model::Kind::Campaign)
            .unwrap();
        c.fields.insert("status", Value::str("paused"));
        s.write_data(&d);
        let o = s.run(&["apply", "plan.json"]);
        assert_eq!(code(&o), 1);
        assert!(
            stderr(&o).contains("changed since this plan was made"),
            "{}",
            stderr(&o)
        );
        let c = s.data().accounts["acme"]
            .iter()
            .find(|r| r.kind == adsctl::model::Kind::Campaign)
            .unwrap()
            .clone();
        assert_eq!(c.fields["budget.daily"], money("50"), "nothing was applied");
        // a fresh plan applies exactly
        assert_eq!(code(&s.run(&["plan", "--out", "plan.json"])), 0);
        let o = s.run(&["apply", "plan.json"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let c = s.data().accounts["acme"]
            .iter()
            .find(|r| r.kind == adsctl::model::Kind::Campaign)
            .unwrap()
            .clone();
        assert_eq!(
            (c.fields["budget.daily"].clone(), c.fields["status"].clone()),
            (money("60"), Value::str("enabled"))
        );
        assert_eq!(code(&s.run(&["plan", "--detailed-exitcode"])), 0);
    }

    #[test]
    fn concurrent_apply_is_refused_and_a_stale_lock_is_taken_over() {
        let s = Sandbox::new("50");
        let held = ApplyLock::acquire(&s.state()).unwrap();
        let o = s.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 1);
        let err = stderr(&o);
        assert!(err.contains("another adsctl apply holds the lock"), "{err}");
        assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
        assert!(
            !s.mem().exists() || s.data().accounts.values().all(Vec::is_empty),
            "nothing applied"
        );
        drop(held);
        // a lock file left by a process that died: detected, taken over
        let dead = Command::new("true").spawn().unwrap();
        let pid = dead.id();
        let mut dead = dead;
        dead.wait().unwrap();
        std::fs::write(
            s.state().join("apply.lock"),
            format!("pid {pid} since 2026-01-01T00:00:00Z\n"),
        )
        .unwrap();
        let o = s.run(&["apply", "--auto-approve"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(stderr(&o).contains("stale apply lock"), "{}", stderr(&o));
    }

    #[test]
    fn a_killed_apply_is_resolved_without_duplicates() {
        for k in 0..4 {
            let s = Sandbox::new("50");
            let mut d = MemoryData::default();
            d.faults.crash_at_op = Some(k);
            d.faults.crash_point = CrashPoint::AfterCommit;
            d.faults.crash_style = adsctl::platforms::memory::CrashStyle::Abort;
            d.capabilities.max_ops_per_request = 1;
            s.write_data(&d);
            let o = s.run(&["apply", "--auto-approve"]);
            assert_ne!(code(&o), 0, "k={k}: the process was aborted");
            let o = s.run(&["apply", "--auto-approve"]);
            assert_eq!(code(&o), 0, "k={k}: {}", stderr(&o));
            let live = &s.data().accounts["acme"];
            assert_eq!(live.len(), 4, "k={k}: duplicates: {live:?}");
            assert_eq!(code(&s.run(&["plan", "--detailed-exitcode"])), 0);
        }
    }

    #[test]
    fn formats_targets_cache_and_state_commands() {
        let s = Sandbox::new("50");
        let o = s.run(&["plan", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["format_version"], 1);
        // beside each typed value, a plain one for jq: money as an exact decimal string in the account currency
        let fields: Vec<&serde_json::Value> = v["accounts"][0]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["fields"].as_array())
            .flatten()
            .collect();
        let daily = fields.iter().find(|f| f["field"] == "budget.daily").unwrap();
        assert_eq!(daily["after"]["type"], "money", "{daily}");
        assert_eq!(daily["after_plain"], "50.00", "{daily}");
        let status = fields.iter().find(|f| f["field"] == "status").unwrap();
        assert_eq!(status["after_plain"], "enabled", "{status}");
        let o = s.run(&["plan", "--format", "markdown"]);
        assert!(stdout(&o).starts_with("### adsctl plan"));
        let o = s.run(&[
            "plan",
            "--target",
            "acme/campaign/Brand/ad_group/Shoes/keyword/trail shoes:exact",
        ]);
        assert!(stdout(&o).contains("Plan: 3 to create"), "{}", stdout(&o));
        // `show` prints a saved plan exactly as `plan` printed it, in each format
        for format in ["human", "markdown", "json"] {
            let file = s.dir.path().join(format!("plan-{format}.json"));
            let file = file.to_str().unwrap();
            let planned = s.run(&["plan", "--format", format, "--out", file]);
            assert_eq!(code(&planned), 0, "{}", stderr(&planned));
            let shown = s.run(&["show", file, "--format", format]);
            assert_eq!(code(&shown), 0, "{}", stderr(&shown));
            assert_eq!(stdout(&shown), stdout(&planned), "show --format {format}");
            assert!(!stdout(&shown).is_empty());
            assert_eq!(code(&s.run(&["show", file, "--detailed-exitcode"])), 2);
        }
        let o = s.run(&["show", "no-such-plan.json"]);
        assert_eq!(code(&o), 1);
        assert!(stderr(&o).contains("could not read the plan"), "{}", stderr(&o));
        // a target that matches nothing (a typo) is an error, not "no changes"
        let o = s.run(&["plan", "--target", "acme/campaign/Brnad"]);
        assert_eq!(code(&o), 1, "{}", stdout(&o));
        assert!(
            stderr(&o).contains("--target acme/campaign/Brnad matches nothing"),
            "{}",
            stderr(&o)
        );
        let o = s.run(&["apply", "--auto-approve", "--target", "acme/campaign/Brnad"]);
        assert_eq!(code(&o), 1, "{}", stdout(&o));
        assert!(
            s.data().accounts.get("acme").is_none_or(Vec::is_empty),
            "nothing applied"
        );
        let o = s.run(&["plan", "--validate"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert!(stderr(&o).contains("✓ acme/campaign/Brand: valid"), "{}", stderr(&o));
        assert_eq!(code(&s.run(&["apply", "--auto-approve"])), 0);
        // --refresh=false plans from the cache: an edit on the platform is not seen until refreshed
        let mut d = s.data();
        d.accounts
            .get_mut("acme")
            .unwrap()
            .retain(|r| r.kind != adsctl::model::Kind::Keyword);
        s.write_data(&d);
        assert_eq!(code(&s.run(&["plan", "--refresh=false", "--detailed-exitcode"])), 0);
        assert_eq!(code(&s.run(&["plan", "--detailed-exitcode"])), 2);
        let o = s.run(&["state", "list"]);
        assert!(
            stdout(&o).contains("acme/campaign/Brand  campaign  id"),
            "{}",
            stdout(&o)
        );
        let o = s.run(&["state", "show", "acme/campaign/Brand"]);
        assert!(
            stdout(&o).starts_with("acme/campaign/Brand\n  kind:            campaign\n"),
            "{}",
            stdout(&o)
        );
        assert!(stdout(&o).contains("  last applied:\n"), "{}", stdout(&o));
        assert!(
            stdout(&o).contains("    budget.shared: acme/budget/Shared") || stdout(&o).contains("    status: "),
            "{}",
            stdout(&o)
        );
        let o = s.run(&["state", "show", "acme/campaign/Brand", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["entry"]["kind"], "campaign");
        assert_eq!(code(&s.run(&["state", "rm", "acme/campaign/Brand"])), 0);
        assert_eq!(code(&s.run(&["state", "rm", "acme/campaign/Brand"])), 1);
        assert!(stdout(&s.run(&["state", "history"])).contains("succeeded"));
        let _ = Path::new(".");
    }
}

/// Timing of a large account (run with `cargo test --test engine -- --ignored --nocapture large`).
#[test]
#[ignore]
fn large_account_timing() {
    let env = Env::new(&[account("acme", RemovalPolicy::Pause)]);
    env.mem.set_capabilities(MemoryCaps {
        max_ops_per_request: 1000,
        creates_children_in_one_request: true,
    });
    let mut d = Vec::new();
    for c in 0..10 {
        let ca = format!("acme/campaign/C{c}");
        d.push(
            res(&ca)
                .with("status", Value::str("enabled"))
                .with("budget.daily", money("10")),
        );
        for g in 0..20 {
            let ga = format!("{ca}/ad_group/G{g}");
            d.push(res(&ga).with("default_cpc", money("1")));
            for k in 0..50 {
                d.push(res(&format!("{ga}/keyword/kw{k}:exact")).with("status", Value::str("enabled")));
            }
        }
    }
    let t = std::time::Instant::now();
    let p = env.plan(&d);
    let t_plan = t.elapsed();
    let t = std::time::Instant::now();
    assert!(env.apply(&p).ok());
    let t_apply = t.elapsed();
    let t = std::time::Instant::now();
    assert!(!env.plan(&d).has_changes());
    eprintln!(
        "{} resources: plan {:?}, apply {:?}, re-plan {:?}",
        d.len(),
        t_plan,
        t_apply,
        t.elapsed()
    );
}

/// Removals in rank order for a connector whose requests do not run in order (Meta's batches): an object at the
/// account's level (a product set) is handed over only after the ad set that promotes it is removed.
mod removal_ranks {
    use super::*;
    use adsctl::connectors::{
        ApplyBatch, Capabilities, ConnectorError, DateRange, Health, Lease, LeaseOutcome, LiveSnapshot, MetricRow,
        MetricsLevel, OpOutcome, ReadRequest,
    };
    use std::sync::Mutex;

    /// The memory connector, recording the addresses of every hand-over.
    struct Recording {
        inner: Arc<MemoryConnector>,
        handed: Mutex<Vec<Vec<String>>>,
    }

    #[async_trait::async_trait]
    impl Connector for Recording {
        fn platform(&self) -> Platform {
            self.inner.platform()
        }
        fn capabilities(&self) -> Capabilities {
            // as Meta's: the calls of one request may run in any order
            Capabilities {
                ordered_requests: false,
                ..self.inner.capabilities()
            }
        }
        async fn read(&self, account: &Account, req: &ReadRequest) -> Result<LiveSnapshot, ConnectorError> {
            self.inner.read(account, req).await
        }
        async fn apply(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
            self.handed
                .lock()
                .unwrap()
                .push(batch.ops.iter().map(|o| o.address.to_string()).collect());
            self.inner.apply(account, batch).await
        }
        async fn validate(&self, account: &Account, batch: &ApplyBatch) -> Result<Vec<OpOutcome>, ConnectorError> {
            self.inner.validate(account, batch).await
        }
        async fn health(&self, account: &Account) -> Result<Health, ConnectorError> {
            self.inner.health(account).await
        }
        async fn acquire_lease(
            &self,
            account: &Account,
            holder: &str,
            expires_at: chrono::DateTime<chrono::Utc>,
            take_over: Option<&str>,
        ) -> Result<LeaseOutcome, ConnectorError> {
            self.inner.acquire_lease(account, holder, expires_at, take_over).await
        }
        async fn renew_lease(
            &self,
            account: &Account,
            lease: &Lease,
            expires_at: chrono::DateTime<chrono::Utc>,
        ) -> Result<(), ConnectorError> {
            self.inner.renew_lease(account, lease, expires_at).await
        }
        async fn release_lease(&self, account: &Account, lease: &Lease) -> Result<(), ConnectorError> {
            self.inner.release_lease(account, lease).await
        }
        async fn metrics(
            &self,
            account: &Account,
            level: MetricsLevel,
            range: DateRange,
        ) -> Result<Vec<MetricRow>, ConnectorError> {
            self.inner.metrics(account, level, range).await
        }
    }

    #[test]
    fn an_account_level_object_is_removed_after_what_uses_it() {
        let mut acct = account("shop", RemovalPolicy::Remove);
        acct.platform = Platform::Meta;
        acct.platform_id = "act_1".into();
        let env = Env::on(Platform::Meta, &[acct.clone()]);
        let set = res("shop/product_set/Shoes")
            .with("catalog_id", Value::str("55"))
            .with("filter", Value::str(r#"{"brand":{"eq":"Acme"}}"#));
        let campaign = res("shop/campaign/Sales")
            .with("objective", Value::str("outcome_sales"))
            .with("catalog_id", Value::str("55"));
        let ad_set = res("shop/campaign/Sales/ad_set/Retargeting").with(
            "promoted_object",
            Value::Map(
                [(
                    "product_set".to_string(),
                    Value::reference(addr("shop/product_set/Shoes")),
                )]
                .into(),
            ),
        );
        assert!(env.converge(&[set, campaign, ad_set]).ok());
        let p = env.plan(&[]);
        assert_eq!(
            p.accounts[0]
                .changes
                .iter()
                .filter(|c| c.action == Action::Remove)
                .count(),
            3
        );
        let rec = Arc::new(Recording {
            inner: env.mem.clone(),
            handed: Mutex::new(Vec::new()),
        });
        let targets: BTreeMap<String, Target> = [(
            "shop".to_string(),
            Target {
                account: acct,
                connector: rec.clone(),
            },
        )]
        .into();
        let r = env
            .rt
            .block_on(apply::execute(&p, &targets, &env.store, &ExecOptions::default()))
            .unwrap();
        assert!(r.ok(), "{r:?}");
        let handed = rec.handed.lock().unwrap().clone();
        let when = |a: &str| handed.iter().position(|b| b.iter().any(|x| x == a)).unwrap();
        assert!(
            when("shop/product_set/Shoes") > when("shop/campaign/Sales/ad_set/Retargeting"),
            "{handed:?}"
        );
        assert!(env.live("shop").is_empty());
    }
}
