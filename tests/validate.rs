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
            &Value::Ref("acme-social/audience/Newsletter subscribers".parse().unwrap())
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
        let mut files = Vec::new();
        walk(&repo().join("examples"), &mut files);
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
