//! docs/wire-rules.md stays true: every row of a table with a Test column names at least one test, and every
//! test it names exists (`file::module::function`, in the module of that file). The files are compiled in, so
//! nothing is read from the checkout at run time.

const TABLE: &str = include_str!("../docs/wire-rules.md");

const FILES: &[(&str, &str)] = &[
    ("emulator_google.rs", include_str!("emulator_google.rs")),
    ("emulator_meta.rs", include_str!("emulator_meta.rs")),
    (
        "crates/adsctl-emulator/src/google_ads/gaql.rs",
        include_str!("../crates/adsctl-emulator/src/google_ads/gaql.rs"),
    ),
    (
        "crates/adsctl-emulator/tests/emulator_tiktok.rs",
        include_str!("../crates/adsctl-emulator/tests/emulator_tiktok.rs"),
    ),
    (
        "crates/adsctl-emulator/tests/emulator_linkedin.rs",
        include_str!("../crates/adsctl-emulator/tests/emulator_linkedin.rs"),
    ),
    (
        "crates/adsctl-emulator/src/linkedin/restli.rs",
        include_str!("../crates/adsctl-emulator/src/linkedin/restli.rs"),
    ),
    (
        "crates/adsctl-emulator/tests/emulator_x.rs",
        include_str!("../crates/adsctl-emulator/tests/emulator_x.rs"),
    ),
    (
        "crates/adsctl-emulator/src/x/oauth.rs",
        include_str!("../crates/adsctl-emulator/src/x/oauth.rs"),
    ),
    (
        "crates/adsctl-emulator/src/x/mod.rs",
        include_str!("../crates/adsctl-emulator/src/x/mod.rs"),
    ),
    (
        "crates/adsctl-emulator/tests/emulator_mailchimp.rs",
        include_str!("../crates/adsctl-emulator/tests/emulator_mailchimp.rs"),
    ),
    (
        "crates/adsctl-emulator/src/mailchimp/mod.rs",
        include_str!("../crates/adsctl-emulator/src/mailchimp/mod.rs"),
    ),
    (
        "crates/adsctl-emulator/tests/emulator_hubspot.rs",
        include_str!("../crates/adsctl-emulator/tests/emulator_hubspot.rs"),
    ),
    (
        "crates/adsctl-emulator/src/hubspot/mod.rs",
        include_str!("../crates/adsctl-emulator/src/hubspot/mod.rs"),
    ),
    (
        "crates/adsctl-emulator/src/hubspot/campaigns.rs",
        include_str!("../crates/adsctl-emulator/src/hubspot/campaigns.rs"),
    ),
    (
        "crates/adsctl-emulator/src/hubspot/contacts.rs",
        include_str!("../crates/adsctl-emulator/src/hubspot/contacts.rs"),
    ),
    (
        "crates/adsctl-emulator/tests/emulator_salesforce.rs",
        include_str!("../crates/adsctl-emulator/tests/emulator_salesforce.rs"),
    ),
    (
        "crates/adsctl-emulator/src/salesforce/mod.rs",
        include_str!("../crates/adsctl-emulator/src/salesforce/mod.rs"),
    ),
    (
        "crates/adsctl-emulator/src/salesforce/soql.rs",
        include_str!("../crates/adsctl-emulator/src/salesforce/soql.rs"),
    ),
];

/// The body of `mod name {` at the top level of a file (up to the next top-level `mod`).
fn module<'a>(src: &'a str, name: &str) -> Option<&'a str> {
    let start = src.find(&format!("\nmod {name} {{"))?;
    let rest = &src[start + 1..];
    let end = rest[1..].find("\nmod ").map_or(rest.len(), |e| e + 1);
    Some(&rest[..end])
}

fn exists(reference: &str) -> Result<(), String> {
    let (file, path) = FILES
        .iter()
        .find_map(|(f, src)| reference.strip_prefix(&format!("{f}::")).map(|p| ((f, src), p)))
        .ok_or_else(|| format!("{reference}: not a file this test knows"))?;
    let (module_name, function) = path
        .split_once("::")
        .ok_or_else(|| format!("{reference}: expected file::module::function"))?;
    let body = module(file.1, module_name).ok_or_else(|| format!("{reference}: no mod {module_name} in {}", file.0))?;
    if body.contains(&format!("fn {function}(")) {
        Ok(())
    } else {
        Err(format!(
            "{reference}: no fn {function} in mod {module_name} of {}",
            file.0
        ))
    }
}

#[test]
fn every_row_names_tests_that_exist() {
    let mut rows = 0;
    let mut problems = Vec::new();
    let mut test_col: Option<usize> = None;
    for line in TABLE.lines() {
        let line = line.trim();
        if !line.starts_with('|') {
            test_col = None;
            continue;
        }
        // split on unescaped pipes
        let cells: Vec<String> = {
            let mut out = vec![String::new()];
            let mut prev = ' ';
            for c in line.trim_matches('|').chars() {
                if c == '|' && prev != '\\' {
                    out.push(String::new());
                } else {
                    out.last_mut().unwrap().push(c);
                }
                prev = c;
            }
            out.into_iter().map(|c| c.trim().to_string()).collect()
        };
        if cells.iter().all(|c| c.chars().all(|x| x == '-' || x == ':')) {
            continue;
        }
        match test_col {
            None => test_col = Some(cells.iter().position(|c| c == "Test").unwrap_or(usize::MAX)),
            Some(usize::MAX) => {}
            Some(i) => {
                rows += 1;
                let cell = cells.get(i).cloned().unwrap_or_default();
                let refs: Vec<&str> = cell.split(',').map(str::trim).filter(|r| !r.is_empty()).collect();
                if refs.is_empty() {
                    problems.push(format!("a row without a test: {line}"));
                }
                for r in refs {
                    if let Err(e) = exists(r) {
                        problems.push(e);
                    }
                }
            }
        }
    }
    assert!(rows > 80, "only {rows} rows found: has the table's layout changed?");
    assert!(problems.is_empty(), "docs/wire-rules.md:\n{}", problems.join("\n"));
}

#[test]
fn the_table_asks_for_itself_to_be_kept() {
    assert!(TABLE.contains("a new wire fact goes into the emulator and this table in the same change"));
}
