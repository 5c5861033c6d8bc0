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

mod pinned_ids {
    //! `id:` pins are checked with each platform's own id form (most are digits; a LinkedIn creative's is its URN;
    //! X ids are base 36).
    use super::*;

    fn load(files: &[(&str, &str)]) -> Result<adsctl::spec::Project, String> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        adsctl::spec::load(dir.path()).map_err(|e| e.render(false))
    }

    const LINKEDIN: &str =
        "accounts:\n  li:\n    platform: linkedin\n    account_id: \"507404993\"\n    currency: USD\n";
    const LINKEDIN_CAMPAIGN: &str = "campaigns:
  - name: Group
    account: li
    id: \"612345678\"
    campaigns:
      - name: US
        id: \"712345678\"
        creatives:
          - name: Post
            id: CREATIVE_ID
";

    #[test]
    fn a_linkedin_creative_is_pinned_by_its_urn() {
        let c = LINKEDIN_CAMPAIGN.replace("CREATIVE_ID", "\"urn:li:sponsoredCreative:123456\"");
        let p = load(&[("adsctl.yaml", LINKEDIN), ("r.yaml", &c)]).unwrap();
        let creative = p
            .resources
            .iter()
            .find(|r| r.kind == Kind::Creative)
            .expect("the creative");
        assert_eq!(creative.id.as_deref(), Some("urn:li:sponsoredCreative:123456"));
        let c = LINKEDIN_CAMPAIGN.replace("CREATIVE_ID", "\"123456\"");
        let e = load(&[("adsctl.yaml", LINKEDIN), ("r.yaml", &c)]).unwrap_err();
        assert!(e.contains("urn:li:sponsoredCreative:"), "{e}");
    }

    #[test]
    fn x_ids_are_base_36() {
        let acct = "accounts:\n  xa:\n    platform: x\n    account_id: 18ce54d4x5t\n    currency: USD\n";
        let c = "campaigns:\n  - name: Spring\n    account: xa\n    id: 8wku2\n    ad_groups:\n      - name: US\n        id: itttx\n";
        let p = load(&[("adsctl.yaml", acct), ("r.yaml", c)]).unwrap();
        let ids: Vec<_> = p.resources.iter().map(|r| (r.kind, r.id.clone())).collect();
        assert!(ids.contains(&(Kind::Campaign, Some("8wku2".into()))), "{ids:?}");
        assert!(ids.contains(&(Kind::AdGroup, Some("itttx".into()))), "{ids:?}");
        let e = load(&[("adsctl.yaml", acct), ("r.yaml", &c.replace("8wku2", "8WKU-2"))]).unwrap_err();
        assert!(e.contains("base 36"), "{e}");
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
                failures.push(format!(
                    "{case}: exit {:?}: {}",
                    human.status.code(),
                    String::from_utf8_lossy(&human.stderr)
                ));
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
                // an unknown field on line 4 + i / 10 (after i / 10 comment lines)
                let pad = "# pad\n".repeat(i / 10);
                std::fs::write(
                    &name,
                    format!("{pad}campaigns:\n  - name: C{i}\n    account: acme-search\n    bogus_field: 1\n"),
                )
                .unwrap();
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
                ("c03.yaml".to_string(), 4),
                ("c07.yaml".to_string(), 2),
                ("c13.yaml".to_string(), 5),
                ("c23.yaml".to_string(), 6),
                ("c33.yaml".to_string(), 7),
            ],
            "{:#?}",
            errors.errors
        );
        // the snippets come from the files the errors are in
        let rendered = errors.render(false);
        assert!(rendered.contains("bogus_field: 1"), "{rendered}");
    }
}

/// Hostile trees: arbitrary bytes in arbitrary file trees, with symlinks in and out of the directory, links to
/// devices and `/proc`, FIFOs, directories named like files and huge lines. `validate` must exit 0 or 1 (never
/// crash, never hang), print nothing of a file outside the directory or of a CSV (customer data), draw snippets
/// of bounded width, and never read past the size limit (its memory stays bounded).
#[cfg(unix)]
mod hostile_trees {
    use std::io::Read;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    /// Written into every file outside the config directory, into every CSV and into the environment: it must
    /// never appear in the output.
    const MARKER: &str = "OUTSIDE-SECRET-93b1e";
    const ACCOUNTS: &str = "accounts:\n  search:\n    platform: google_ads\n    customer_id: 1234567890\n    \
                            currency: USD\n  social:\n    platform: meta\n    ad_account_id: act_1234567890\n    \
                            currency: USD\n";

    fn long_mode() -> bool {
        std::env::var("ADSCTL_LONG_TESTS").is_ok_and(|v| v == "1")
    }

    #[derive(Debug, Clone)]
    enum Entry {
        /// A regular file with these bytes.
        File(Vec<u8>),
        /// One line of `n` times `c` (with a YAML key before it), past a snippet's width or the 65,535 columns
        /// miette can draw.
        HugeLine(usize, u8),
        /// A symlink to another entry of the tree (by index, relative).
        LinkIn(usize),
        /// A symlink out of the directory: to a file of `outside/` (relative or absolute), or to a device or
        /// `/proc` file.
        LinkOut(u8),
        Fifo,
        Dir,
    }

    const NAMES: &[&str] = &[
        "a.yaml",
        "b.yml",
        "c/d.yaml",
        "c/e/f.yaml",
        "data/list.csv",
        "data/other.csv",
        "Summer.YAML",
        "adsctl.yml",
        "g.yaml",
        "c/h.yml",
    ];

    fn yamlish() -> impl Strategy<Value = Vec<u8>> {
        let token = prop_oneof![
            Just(b"campaigns:\n".to_vec()),
            Just(b"  - name: Spring\n    account: search\n    channel: search\n".to_vec()),
            Just(b"    budget: { daily: 12,50 }\n    bidding: { manual_cpc: {} }\n".to_vec()),
            Just(b"audiences:\n  - name: L\n    accounts: [search, social]\n".to_vec()),
            Just(b"    customer_file: { path: data/list.csv, column: email }\n".to_vec()),
            Just(b"    customer_file: { path: ../outside/secret.csv, column: email }\n".to_vec()),
            Just(b"    customer_file: { path: data, column: email }\n".to_vec()),
            Just(b"ad_groups:\n".to_vec()),
            Just(b"\t".to_vec()),
            Just(b"\0".to_vec()),
            Just(b"\x1b[2J".to_vec()),
            Just("\u{202e}".as_bytes().to_vec()),
            Just(b"\"\\e\\0\"".to_vec()),
            Just(b"- # c\n".to_vec()),
            Just(b"[".to_vec()),
            Just(b"{".to_vec()),
            Just(b"'".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\xff\xfe".to_vec()),
            prop::collection::vec(any::<u8>(), 0..16),
        ];
        prop::collection::vec(token, 0..24).prop_map(|v| v.concat())
    }

    fn entry() -> impl Strategy<Value = Entry> {
        prop_oneof![
            4 => prop_oneof![prop::collection::vec(any::<u8>(), 0..400), yamlish()].prop_map(Entry::File),
            1 => (60_000usize..140_000, prop::sample::select(vec![b'x', b' ', b'[', b'a'])).prop_map(|(n, c)| Entry::HugeLine(n, c)),
            1 => (0usize..10).prop_map(Entry::LinkIn),
            2 => any::<u8>().prop_map(Entry::LinkOut),
            1 => Just(Entry::Fifo),
            1 => Just(Entry::Dir),
        ]
    }

    #[derive(Debug, Clone)]
    enum ProjectFile {
        Valid,
        Garbage(Vec<u8>),
        Out(u8),
        Fifo,
    }

    fn project() -> impl Strategy<Value = ProjectFile> {
        prop_oneof![
            6 => Just(ProjectFile::Valid),
            2 => yamlish().prop_map(ProjectFile::Garbage),
            1 => any::<u8>().prop_map(ProjectFile::Out),
            1 => Just(ProjectFile::Fifo),
        ]
    }

    fn tree() -> impl Strategy<Value = (ProjectFile, Vec<(usize, Entry)>)> {
        (project(), prop::collection::vec((0usize..NAMES.len(), entry()), 0..8))
    }

    /// The files outside every case directory (made once): a secret, a CSV, a file past the YAML size limit.
    fn outside(root: &Path) -> PathBuf {
        let out = root.join("outside");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(
            out.join("secret.yaml"),
            format!("campaigns:\n  - {MARKER}: [{MARKER}\n"),
        )
        .unwrap();
        std::fs::write(out.join("secret.csv"), format!("email\n{MARKER}@example.com\n")).unwrap();
        let line = format!("# {MARKER}\n");
        std::fs::write(out.join("big.yaml"), line.repeat(5 * 1024 * 1024 / line.len() + 1)).unwrap();
        out
    }

    fn fifo(p: &Path) {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file system node.
        let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
        assert_eq!(rc, 0, "mkfifo {}", p.display());
    }

    fn link_out_target(which: u8, outside: &Path, depth: usize) -> PathBuf {
        let rel = |name: &str| {
            let mut p = PathBuf::from("../".repeat(depth + 1));
            p.push("outside");
            p.push(name);
            p
        };
        match which % 10 {
            0 => rel("secret.yaml"),
            1 => outside.join("secret.yaml"),
            2 => rel("secret.csv"),
            3 => rel("big.yaml"),
            4 => PathBuf::from("/dev/zero"),
            5 => PathBuf::from("/dev/urandom"),
            6 => PathBuf::from("/proc/self/environ"),
            7 => outside.to_path_buf(),
            8 => PathBuf::from("/etc/passwd"),
            _ => rel("missing.yaml"),
        }
    }

    fn build(dir: &Path, outside: &Path, project: &ProjectFile, entries: &[(usize, Entry)]) {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        let p = dir.join("adsctl.yaml");
        match project {
            ProjectFile::Valid => std::fs::write(&p, ACCOUNTS).unwrap(),
            ProjectFile::Garbage(g) => std::fs::write(&p, g).unwrap(),
            ProjectFile::Out(w) => std::os::unix::fs::symlink(link_out_target(*w, outside, 0), &p).unwrap(),
            ProjectFile::Fifo => fifo(&p),
        }
        for (name, e) in entries {
            let rel = NAMES[*name];
            let path = dir.join(rel);
            if std::fs::symlink_metadata(&path).is_ok() {
                continue;
            }
            let depth = rel.matches('/').count();
            if let Some(parent) = path.parent() {
                if std::fs::create_dir_all(parent).is_err() {
                    continue; // a file of the tree is where a directory would be
                }
            }
            match e {
                Entry::File(bytes) => {
                    let mut bytes = bytes.clone();
                    if rel.ends_with(".csv") {
                        // customer data: never printed
                        bytes.extend_from_slice(format!("\n{MARKER}@example.com\n").as_bytes());
                    }
                    std::fs::write(&path, bytes).unwrap();
                }
                Entry::HugeLine(n, c) => {
                    let mut bytes = b"campaigns: ".to_vec();
                    bytes.extend(std::iter::repeat_n(*c, *n));
                    bytes.extend_from_slice(b" bogus: 1\n");
                    std::fs::write(&path, bytes).unwrap();
                }
                Entry::LinkIn(i) => {
                    let target = NAMES[*i % NAMES.len()];
                    let up = "../".repeat(depth);
                    std::os::unix::fs::symlink(format!("{up}{target}"), &path).unwrap();
                }
                Entry::LinkOut(w) => std::os::unix::fs::symlink(link_out_target(*w, outside, depth), &path).unwrap(),
                Entry::Fifo => fifo(&path),
                Entry::Dir => {
                    let _ = std::fs::create_dir_all(&path);
                }
            }
        }
    }

    /// Run `adsctl validate` with a deadline (a read that blocks, on a FIFO or a device, would hang it).
    fn validate(dir: &Path, json: bool) -> (Option<i32>, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_adsctl"));
        cmd.arg("validate");
        if json {
            cmd.arg("--json");
        } else {
            cmd.args(["--color", "never"]);
        }
        let mut child = cmd
            .arg(dir)
            .env("NO_COLOR", "1")
            .env("ADSCTL_TEST_SECRET", MARKER)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = stdout.read_to_end(&mut s);
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = stderr.read_to_end(&mut s);
            s
        });
        let started = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "adsctl validate {} did not finish in 60 s (a blocking read?)",
                    dir.display()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let mut text = String::from_utf8_lossy(&out.join().unwrap()).into_owned();
        text.push_str(&String::from_utf8_lossy(&err.join().unwrap()));
        (status.code(), text)
    }

    /// The largest resident set of any child waited for so far, in bytes.
    fn children_max_rss() -> u64 {
        // SAFETY: getrusage writes into the struct it is given.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
        u.ru_maxrss as u64 * 1024
    }

    #[test]
    fn validate_on_hostile_trees_exits_0_or_1_and_leaks_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = outside(tmp.path());
        let cases = if long_mode() { 2000 } else { 200 };
        let mut runner = proptest::test_runner::TestRunner::new_with_rng(
            ProptestConfig {
                cases,
                failure_persistence: None,
                ..ProptestConfig::default()
            },
            proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
        );
        let strategy = tree();
        let (mut valid, mut invalid) = (0, 0);
        for i in 0..cases {
            let (project, entries) = strategy.new_tree(&mut runner).unwrap().current();
            let dir = tmp.path().join(format!("case{}", i % 4));
            build(&dir, &outside, &project, &entries);
            for json in [false, true] {
                let (code, text) = validate(&dir, json);
                let what = || format!("{project:?} {entries:?}\n{text}");
                match code {
                    Some(0) => valid += 1,
                    Some(1) => invalid += 1,
                    other => panic!("exit {other:?}: {}", what()),
                }
                assert!(!text.contains("panicked"), "{}", what());
                assert!(
                    !text.contains(MARKER),
                    "content from outside the directory or a CSV: {}",
                    what()
                );
                let longest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
                if !json {
                    assert!(longest <= 200, "an output line of {longest} characters: {}", what());
                }
            }
        }
        assert!(
            valid > 0 && invalid > 0,
            "{valid} valid, {invalid} invalid runs: the generator is too narrow"
        );
        // A YAML file is read up to 4 MiB, a huge line or a 5 MiB file out of the directory never whole into
        // memory several times over, /dev/zero never.
        let rss = children_max_rss();
        assert!(
            rss < 400 * 1024 * 1024,
            "a validate run peaked at {} MiB",
            rss / (1024 * 1024)
        );
    }

    /// A FIFO named like a YAML file: refused without opening it (opening would block until a writer comes).
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("adsctl.yaml"), ACCOUNTS).unwrap();
        fifo(&tmp.path().join("pipe.yaml"));
        std::fs::create_dir(tmp.path().join("data")).unwrap();
        fifo(&tmp.path().join("data/list.csv"));
        std::fs::write(
            tmp.path().join("a.yaml"),
            "audiences:\n  - name: L\n    accounts: [search]\n    customer_file: { path: data/list.csv, column: email }\n",
        )
        .unwrap();
        let (code, text) = validate(tmp.path(), true);
        assert_eq!(code, Some(1), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let got: Vec<(String, String)> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["code"].as_str().unwrap().to_string(),
                    e["message"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert!(
            got.contains(&(
                "not-a-file".into(),
                "file is a named pipe (FIFO), not a regular file".into()
            )),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|(c, m)| c == "csv" && m.starts_with("customer file is a named pipe (FIFO)")),
            "{got:?}"
        );
    }
}

/// `plan` and `apply` refuse every invalid case of the corpus before any request: the emulator they point at
/// counts none. The same setup on a valid project does reach it (so the count can tell).
mod nothing_sent {
    use std::path::Path;
    use std::process::Command;

    use adsctl::emulator::platform::defaults;
    use adsctl::emulator::{Emulator, EmulatorConfig};

    fn adsctl(url: &str, state: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_adsctl"));
        for k in [
            "ADSCTL_BACKEND",
            "ADSCTL_GOOGLE_OAUTH_TOKEN_URL",
            "GOOGLE_ADS_LOGIN_CUSTOMER_ID",
            "RUST_LOG",
        ] {
            c.env_remove(k);
        }
        c.env("ADSCTL_STATE_DIR", state)
            .env("ADSCTL_GOOGLE_ADS_ENDPOINT", url)
            .env("ADSCTL_META_ENDPOINT", url)
            .env("GOOGLE_ADS_CLIENT_ID", defaults::GOOGLE_CLIENT_ID)
            .env("GOOGLE_ADS_CLIENT_SECRET", defaults::GOOGLE_CLIENT_SECRET)
            .env("GOOGLE_ADS_DEVELOPER_TOKEN", defaults::GOOGLE_DEVELOPER_TOKEN)
            .env("GOOGLE_ADS_REFRESH_TOKEN", defaults::GOOGLE_REFRESH_TOKEN)
            .env("FACEBOOK_APP_ID", defaults::META_APP_ID)
            .env("FACEBOOK_APP_SECRET", defaults::META_APP_SECRET)
            .env("FACEBOOK_ACCESS_TOKEN", defaults::META_ACCESS_TOKEN)
            .env("ADSCTL_GOOGLE_ADS_TIMEOUT_MS", "2000")
            .env("ADSCTL_META_TIMEOUT_MS", "2000")
            .env("NO_COLOR", "1");
        c
    }

    #[test]
    fn plan_and_apply_send_nothing_for_any_invalid_case() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let emu = rt.block_on(Emulator::start(EmulatorConfig::default())).unwrap();
        let url = emu.url();
        let (tmp, cases) = super::corpus::corpus_copy();
        let state = tmp.path().join(".state");
        let mut failures = Vec::new();
        for case in &cases {
            for args in [&["plan"][..], &["apply", "--auto-approve"][..]] {
                let o = adsctl(&url, &state)
                    .args(args)
                    .arg(case)
                    .current_dir(tmp.path())
                    .output()
                    .unwrap();
                let sent = emu.counters().snapshot().total_requests;
                if o.status.code() != Some(1) || sent != 0 {
                    failures.push(format!(
                        "{case} ({}): exit {:?}, {sent} requests: {}",
                        args[0],
                        o.status.code(),
                        String::from_utf8_lossy(&o.stderr)
                    ));
                    emu.counters().reset();
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(cases.len() >= 200);
        // the control: a valid project through the same setup reaches the emulator
        let valid = tmp.path().join("valid");
        super::corpus::copy_tree(&super::repo().join("examples/quickstart"), &valid);
        let o = adsctl(&url, &state).arg("plan").arg(&valid).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(
            emu.counters().snapshot().total_requests > 0,
            "the valid plan sent nothing: the count proves nothing"
        );
        rt.block_on(emu.shutdown()).unwrap();
    }
}
