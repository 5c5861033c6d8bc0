//! The desired-state language: examples load and lower, the invalid corpus fails with the right positions,
//! the committed schemas are current.

use std::path::PathBuf;

use adsctl::model::{Kind, Value};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

mod examples {
    use super::*;

    #[test]
    fn quickstart_lowers_to_the_resource_model() {
        let p = adsctl::spec::load(&repo().join("examples/quickstart")).unwrap();
        assert_eq!(p.accounts.len(), 2);
        assert_eq!(p.accounts["acme-search"].platform_id, "1234567890");
        let by = |a: &str| {
            p.resources
                .iter()
                .find(|r| r.address.to_string() == a)
                .unwrap_or_else(|| panic!("no {a}"))
        };
        let c = by("acme-search/campaign/Spring Sale - Search");
        assert_eq!(c.kind, Kind::Campaign);
        assert_eq!(c.fields["budget.daily"].as_money().unwrap().micros(), 50_000_000);
        assert_eq!(c.fields["bidding.strategy"], Value::str("maximize_conversions"));
        assert_eq!(c.fields["bidding.target_cpa"].as_money().unwrap().micros(), 12_500_000);
        assert_eq!(c.fields["channel"], Value::str("search"));
        let src = c.source.as_ref().unwrap();
        assert!(src.file.ends_with("spring-sale-search.yaml"), "{src}");
        assert_eq!((src.line, src.column), (3, 11));
        let kw =
            by("acme-search/campaign/Spring Sale - Search/ad_group/Running Shoes/keyword/trail running shoes:exact");
        assert_eq!(kw.fields["cpc_bid"].as_money().unwrap().micros(), 1_450_000);
        let ad = by("acme-search/campaign/Spring Sale - Search/ad_group/Running Shoes/ad/1");
        let Value::List(h) = &ad.fields["headlines"] else {
            panic!()
        };
        assert_eq!(h.len(), 4);
        let Value::Map(first) = &h[0] else { panic!() };
        assert_eq!(first["pinned"], Value::str("headline_1"));
        let m = by("acme-social/campaign/Spring Sale - Social");
        assert_eq!(m.fields["objective"], Value::str("outcome_traffic"));
        assert_eq!(m.fields["status"], Value::str("active"));
        assert_eq!(m.fields["special_ad_categories"], Value::Set(Default::default()));
        let s = by("acme-social/campaign/Spring Sale - Social/ad_set/US 25-45");
        let Value::Set(aud) = &s.fields["targeting.custom_audiences"] else {
            panic!()
        };
        assert_eq!(
            aud.iter().next().unwrap(),
            &Value::reference("acme-social/audience/Newsletter subscribers".parse().unwrap())
        );
        let g = by("acme-search/audience/Newsletter subscribers");
        let Value::Set(members) = &g.fields["members"] else {
            panic!()
        };
        assert_eq!(members.len(), 5);
        // Google drops the dots of gmail local parts; Meta does not: the hashed sets differ.
        let f = by("acme-social/audience/Newsletter subscribers");
        assert_ne!(g.fields["members"], f.fields["members"]);
        assert!(members.iter().all(|m| m.as_str().is_some_and(|h| h.len() == 64)));
    }

    #[test]
    fn agency_lowers_references_decimals_and_lifecycle() {
        let p = adsctl::spec::load(&repo().join("examples/agency")).unwrap();
        assert_eq!(p.accounts.len(), 3);
        assert_eq!(
            p.accounts["contoso-search"].login_customer_id.as_deref(),
            Some("9998887777")
        );
        assert_eq!(p.accounts["contoso-search"].platform_id, "3456789012");
        assert_eq!(
            p.accounts["contoso-search"].on_removed,
            adsctl::model::RemovalPolicy::Orphan
        );
        let g = &p.accounts["northwind-search"].guardrails;
        assert_eq!(g.max_daily_budget.unwrap().micros(), 1_200_000_000);
        assert_eq!((g.max_increase_pct, g.max_changes), (Some(25), Some(200)));
        let by = |a: &str| {
            p.resources
                .iter()
                .find(|r| r.address.to_string() == a)
                .unwrap_or_else(|| panic!("no {a}"))
        };
        let budget = by("northwind-search/budget/Northwind - Generic");
        assert_eq!(budget.fields["amount"].as_money().unwrap().micros(), 480_500_000);
        assert!(budget.lifecycle.prevent_destroy);
        let c = by("northwind-search/campaign/Northwind - Generic Coffee");
        assert_eq!(
            c.fields["budget.shared"],
            Value::reference("northwind-search/budget/Northwind - Generic".parse().unwrap())
        );
        assert_eq!(c.fields["bidding.target_roas"], Value::Decimal("4.5".parse().unwrap()));
        assert_eq!(c.lifecycle.ignore_changes, vec!["status".to_string()]);
        assert!(c.refs().iter().any(|r| r.kind() == Some(Kind::Budget)));
        let adopted = by("contoso-search/campaign/Contoso - Running");
        assert_eq!(adopted.id.as_deref(), Some("17283940"));
        assert!(
            !adopted.fields.contains_key("channel"),
            "a field not written is not managed"
        );
        let lal = by("northwind-social/lookalike_audience/Northwind buyers - lookalike DE 1%25");
        assert_eq!(lal.fields["ratio"], Value::Decimal("0.01".parse().unwrap()));
        assert_eq!(
            lal.fields["origin"],
            Value::reference("northwind-social/audience/Northwind customers".parse().unwrap())
        );
        let retargeting = by("northwind-social/campaign/Northwind - Retargeting");
        assert_eq!(retargeting.fields["start_time"], Value::str("2026-01-31T23:00:00Z"));
        assert_eq!(retargeting.fields["objective"], Value::str("outcome_sales"));
        let set = by("northwind-social/campaign/Northwind - Retargeting/ad_set/Site visitors 30d");
        assert_eq!(
            set.fields["budget.lifetime"].as_money().unwrap().micros(),
            3_000_000_000
        );
        let neg = by("northwind-search/campaign/Northwind - Brand/negative_keyword/jobs:broad");
        assert_eq!(neg.kind, Kind::NegativeKeyword);
        assert_eq!(neg.fields["match_type"], Value::str("broad"));
        // Every address parses back, every reference resolves to a declared resource, every parent exists.
        let all: std::collections::BTreeSet<String> = p.resources.iter().map(|r| r.address.to_string()).collect();
        for r in &p.resources {
            assert_eq!(
                r.address.to_string().parse::<adsctl::model::Address>().unwrap(),
                r.address
            );
            assert!(r.source.is_some());
            for x in r.refs() {
                assert!(all.contains(&x.to_string()), "{} refers to missing {x}", r.address);
            }
            if let Some(parent) = r.parent() {
                assert!(all.contains(&parent.to_string()), "{} has no parent", r.address);
            }
            let known = adsctl::spec::managed_fields(p.accounts[&r.address.account].platform, r.kind);
            for f in r.fields.keys() {
                assert!(
                    known.contains(&f.as_str()),
                    "{}: field {f} not in the resource model",
                    r.address
                );
            }
        }
    }

    #[test]
    fn examples_validate_with_the_binary() {
        let examples: &[&str] = &["examples/quickstart", "examples/agency"];
        for ex in examples {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_adsctl"))
                .args(["validate", ex])
                .current_dir(repo())
                .output()
                .unwrap();
            assert!(out.status.success(), "{ex}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

mod schemas {
    use super::*;

    #[test]
    fn committed_schemas_are_current() {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_adsctl"))
            .args(["schema", "--quiet", "--out"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        for name in ["adsctl.schema.json", "resources.schema.json"] {
            let fresh = std::fs::read_to_string(dir.path().join(name)).unwrap();
            let committed = std::fs::read_to_string(repo().join("schemas").join(name)).unwrap_or_default();
            assert!(
                fresh == committed,
                "schemas/{name} is stale: run `cargo run -- schema --out schemas` and commit the result"
            );
        }
    }

    #[test]
    fn every_example_file_names_its_schema() {
        fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                    out.push(p);
                }
            }
        }
        // Every config directory under examples/ (those holding an adsctl.yaml); examples/ also holds a CI
        // workflow and a systemd unit, which are not adsctl files.
        let mut files = Vec::new();
        for e in std::fs::read_dir(repo().join("examples")).unwrap() {
            let dir = e.unwrap().path();
            if dir.join("adsctl.yaml").is_file() {
                walk(&dir, &mut files);
            }
        }
        assert!(files.len() >= 8);
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let first = text.lines().next().unwrap_or("");
            let want = if f.file_name().unwrap() == "adsctl.yaml" {
                "adsctl.schema.json"
            } else {
                "resources.schema.json"
            };
            let rel = first
                .strip_prefix("# yaml-language-server: $schema=")
                .unwrap_or_else(|| panic!("{}: first line is {first:?}", f.display()));
            assert!(rel.ends_with(want), "{}: {rel}", f.display());
            let target = f.parent().unwrap().join(rel);
            assert!(target.exists(), "{}: {rel} does not resolve", f.display());
        }
    }
}

mod corpus {
    use std::process::Command;

    use super::*;

    fn run(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_adsctl"))
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    /// `file:line:col code` of every error, from `--json`.
    fn locations(json: &[u8]) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_slice(json).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{}:{}:{} {}",
                    e["file"].as_str().unwrap(),
                    e["line"],
                    e["column"],
                    e["code"].as_str().unwrap()
                )
            })
            .collect()
    }

    /// Copy `from` to `to`, keeping symbolic links as links (the corpus holds links out of the directory).
    pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let (src, dst) = (e.path(), to.join(e.file_name()));
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                #[cfg(unix)]
                std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
            } else if ft.is_dir() {
                copy_tree(&src, &dst);
            } else {
                std::fs::copy(&src, &dst).unwrap();
            }
        }
    }

    /// The invalid corpus, copied to a temporary directory (tests never read a case in the checkout itself).
    pub fn corpus_copy() -> (tempfile::TempDir, Vec<String>) {
        let root = repo().join("tests/invalid");
        let mut cases: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        cases.sort();
        let tmp = tempfile::tempdir().unwrap();
        for case in &cases {
            copy_tree(&root.join(case), &tmp.path().join(case));
        }
        (tmp, cases)
    }

    /// Every directory under tests/invalid is one invalid input: `adsctl validate` exits 1, prints nothing on
    /// stdout, reports exactly the positions in its `expected.txt`, and its human and JSON output are
    /// snapshotted. No output line is longer than a snippet window and its frame, whatever the input.
    #[test]
    fn every_invalid_input_fails_at_the_right_place() {
        let root = repo().join("tests/invalid");
        let (tmp, cases) = corpus_copy();
        assert!(cases.len() >= 200, "only {} invalid inputs", cases.len());
        let mut failures = Vec::new();
        for case in &cases {
            let human = run(tmp.path(), &["validate", "--color", "never", case]);
            if human.status.code() != Some(1) {
                failures.push(format!("{case}: exit {:?}: {}", human.status.code(), String::from_utf8_lossy(&human.stderr)));
                continue;
            }
            assert!(human.stdout.is_empty(), "{case}: stdout not empty");
            let text = String::from_utf8(human.stderr).unwrap();
            assert!(!text.contains("panicked"), "{case}: {text}");
            let longest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
            assert!(longest <= 200, "{case}: an output line of {longest} characters");
            insta::assert_snapshot!(format!("invalid-{case}"), text);

            let json = run(tmp.path(), &["validate", "--json", case]);
            assert_eq!(json.status.code(), Some(1), "{case}");
            let json_text = String::from_utf8(json.stdout.clone()).unwrap();
            insta::assert_snapshot!(format!("invalid-{case}-json"), json_text);
            let got = locations(&json.stdout);
            let want: Vec<String> = std::fs::read_to_string(root.join(case).join("expected.txt"))
                .unwrap_or_else(|_| panic!("{case}: no expected.txt"))
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect();
            if got != want {
                failures.push(format!("{case}: error positions\n  got:  {got:?}\n  want: {want:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// A generated file full of mistakes yields a bounded list, quickly.
    #[test]
    fn error_flood_is_capped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("adsctl.yaml"),
            "accounts:\n  a:\n    platform: meta\n    ad_account_id: act_1\n    currency: USD\n",
        )
        .unwrap();
        let mut body = String::from("campaigns:\n  - name: A\n    account: a\n");
        for i in 0..5000 {
            body.push_str(&format!("    k{i}: {i}\n"));
        }
        std::fs::write(dir.path().join("r.yaml"), body).unwrap();
        let e = adsctl::spec::load(dir.path()).unwrap_err();
        assert_eq!(e.errors.len(), adsctl::spec::MAX_ERRORS + 1);
        assert!(e.render(false).contains("more (`--json` lists them all)"));
    }

    /// A 50 MB file is refused by its size, before it is read.
    #[test]
    fn huge_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("adsctl.yaml"),
            "accounts:\n  a:\n    platform: meta\n    ad_account_id: act_1\n    currency: USD\n",
        )
        .unwrap();
        let f = std::fs::File::create(dir.path().join("big.yaml")).unwrap();
        f.set_len(50 * 1024 * 1024).unwrap();
        let started = std::time::Instant::now();
        let out = run(dir.path(), &["validate", "--json", "."]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            locations(&out.stdout),
            vec!["./big.yaml:1:1 file-too-large".to_string()]
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        let human = run(dir.path(), &["validate", "--color", "never", "."]);
        insta::assert_snapshot!("huge-file", String::from_utf8(human.stderr).unwrap());
    }
}

mod props {
    use proptest::prelude::*;

    const PROJECT: &str = "accounts:\n  g:\n    platform: google_ads\n    customer_id: 123-456-7890\n    currency: USD\n  j:\n    platform: google_ads\n    customer_id: 222-333-4444\n    currency: JPY\n";

    fn load_campaign(account: &str, daily: &str) -> Result<i64, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("adsctl.yaml"), PROJECT).unwrap();
        let r = format!(
            "campaigns:\n  - name: C\n    account: {account}\n    channel: search\n    budget: {{ daily: {daily} }}\n    bidding: {{ manual_cpc: {{}} }}\n"
        );
        std::fs::write(dir.path().join("r.yaml"), r).unwrap();
        match adsctl::spec::load(dir.path()) {
            Ok(p) => Ok(p.resources[0].fields["budget.daily"].as_money().unwrap().micros()),
            Err(e) => Err(e.to_string()),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// A YAML number (plain or quoted) becomes exactly its value in micros: no f64 on the way.
        #[test]
        fn yaml_amounts_are_exact(units in 1u64..100_000_000, cents in 0u64..100, quoted in any::<bool>()) {
            let text = format!("{units}.{cents:02}");
            let written = if quoted { format!("\"{text}\"") } else { text };
            let micros = load_campaign("g", &written).unwrap();
            prop_assert_eq!(micros as u64, units * 1_000_000 + cents * 10_000);
        }

        /// More decimals than the currency has is an error, never a rounding.
        #[test]
        fn excess_precision_in_yaml_is_an_error(units in 0u64..1_000_000, digit in 1u8..10, jpy in any::<bool>()) {
            let (account, text) = if jpy { ("j", format!("{units}.{digit}")) } else { ("g", format!("{units}.00{digit}")) };
            let err = load_campaign(account, &text).unwrap_err();
            prop_assert!(err.contains("more decimals"), "{}", err);
        }

        /// Arbitrary text in a resource file never panics the loader: it is valid or it is reported.
        #[test]
        fn arbitrary_resource_files_never_panic(body in "[ -~\n\t]{0,300}") {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("adsctl.yaml"), PROJECT).unwrap();
            std::fs::write(dir.path().join("r.yaml"), &body).unwrap();
            if let Err(e) = adsctl::spec::load(dir.path()) {
                prop_assert!(!e.errors.is_empty());
                for x in &e.errors {
                    prop_assert!(x.line >= 1 && x.column >= 1);
                }
            }
        }

        /// Removing any line of a valid example yields a valid project or positioned errors, never a panic.
        #[test]
        fn truncated_examples_never_panic(drop in 0usize..40) {
            let src = std::fs::read_to_string(super::repo().join("examples/quickstart/campaigns/spring-sale-search.yaml")).unwrap();
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("adsctl.yaml"), std::fs::read_to_string(super::repo().join("examples/quickstart/adsctl.yaml")).unwrap()).unwrap();
            let body: Vec<&str> = src.lines().enumerate().filter(|(i, _)| *i != drop).map(|(_, l)| l).collect();
            std::fs::write(dir.path().join("c.yaml"), body.join("\n")).unwrap();
            let _ = adsctl::spec::load(dir.path());
        }
    }
}

mod parallel_load {
    use super::*;

    /// Enough files for the reader threads: every file's errors still point into that file at the right line,
    /// in file order, and a file that cannot be read keeps the numbering of those after it right.
    #[test]
    fn errors_point_into_the_right_file_when_files_are_read_in_parallel() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            repo().join("examples/quickstart/adsctl.yaml"),
            dir.path().join("adsctl.yaml"),
        )
        .unwrap();
        let campaigns = dir.path().join("campaigns");
        std::fs::create_dir(&campaigns).unwrap();
        let good =
            std::fs::read_to_string(repo().join("examples/quickstart/campaigns/spring-sale-search.yaml")).unwrap();
        for i in 0..40 {
            let name = campaigns.join(format!("c{i:02}.yaml"));
            if i == 7 {
                // not UTF-8: a file-level error, and no source text
                std::fs::write(&name, b"campaigns:\n  - name: \xff\xfe\n").unwrap();
            } else if i % 10 == 3 {
                // an unknown field on line 1 + i / 10 of the campaign (after i / 10 comment lines)
                let pad = "# pad\n".repeat(i / 10);
                std::fs::write(&name, format!("{pad}campaigns:\n  - name: C{i}\n    bogus_field: 1\n")).unwrap();
            } else {
                std::fs::write(&name, good.replace("Spring Sale - Search", &format!("Search {i}"))).unwrap();
            }
        }
        let errors = adsctl::spec::load(dir.path()).unwrap_err();
        let at: Vec<(String, usize)> = errors
            .errors
            .iter()
            .filter(|e| e.message.contains("bogus_field") || e.message.contains("UTF-8"))
            .map(|e| {
                let file = PathBuf::from(&e.file)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                (file, e.line)
            })
            .collect();
        assert_eq!(
            at,
            vec![
                ("c03.yaml".to_string(), 3),
                ("c07.yaml".to_string(), 2),
                ("c13.yaml".to_string(), 4),
                ("c23.yaml".to_string(), 5),
                ("c33.yaml".to_string(), 6),
            ],
            "{:#?}",
            errors.errors
        );
        // the snippets come from the files the errors are in
        let rendered = errors.render(false);
        assert!(rendered.contains("bogus_field: 1"), "{rendered}");
    }
}
