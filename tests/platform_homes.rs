//! Each platform lives in one home (`src/platforms/<platform>/`, and its side of the emulator in the emulator's
//! `<platform>/` folder). This test lists the source files outside a platform's home that still name it, and
//! holds the list to the one `docs/adding-a-platform.md` gives: a platform that spreads into another file, or a
//! file that stops naming it, is a change to that document too.
//!
//! It reads the project's sources (read only): what it checks is the tree itself.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

struct Platform {
    /// Its heading in `docs/adding-a-platform.md`.
    name: &'static str,
    /// Its homes, relative to the repository root.
    homes: &'static [&'static str],
    /// What naming it looks like in code (not in comments, not in unit tests).
    names: &'static [&'static str],
    /// Words that look like a name but are not (another platform's wire value): left out before matching.
    unless: &'static [&'static str],
}

const PLATFORMS: &[Platform] = &[
    Platform {
        name: "google_ads",
        homes: &["src/platforms/google_ads/", "crates/adsctl-emulator/src/google_ads/"],
        names: &["google_ads", "GoogleAds", "Google Ads", "GOOGLE_"],
        // LinkedIn's matched-audience id type for Google advertising ids
        unless: &["GOOGLE_AID"],
    },
    Platform {
        name: "meta",
        homes: &["src/platforms/meta/", "crates/adsctl-emulator/src/meta/"],
        names: &[
            "::Meta",
            "META_",
            "MetaCredentials",
            "MetaEmulator",
            "meta::",
            "Meta ",
            "\"Meta",
        ],
        // the Salesforce emulator's describe metadata types
        unless: &["FieldMeta", "ObjMeta"],
    },
    Platform {
        name: "tiktok",
        homes: &[
            "src/platforms/tiktok/",
            "crates/adsctl-emulator/src/tiktok/",
            "crates/adsctl-emulator/tests/emulator_tiktok.rs",
        ],
        names: &["tiktok::", "::Tiktok", "TikTok", "TIKTOK_", "\"tiktok\""],
        unless: &[],
    },
    Platform {
        name: "linkedin",
        homes: &[
            "src/platforms/linkedin/",
            "crates/adsctl-emulator/src/linkedin/",
            "crates/adsctl-emulator/tests/emulator_linkedin.rs",
        ],
        names: &["linkedin::", "::Linkedin", "LinkedIn", "LINKEDIN_", "\"linkedin\""],
        unless: &[],
    },
    Platform {
        name: "x",
        homes: &[
            "src/platforms/x/",
            "crates/adsctl-emulator/src/x/",
            "crates/adsctl-emulator/tests/emulator_x.rs",
        ],
        names: &[
            "platforms::x::",
            "emulator::x::",
            "Platform::X",
            "XEmulator",
            "XCredentials",
            "XAccountSeed",
            "XSeed",
            "X_CONSUMER_",
            "X_ACCESS_TOKEN",
            "X_TOKEN_SECRET",
            "X_ACCOUNT_ID",
            "X_FUNDING_",
            "XHome",
        ],
        unless: &[],
    },
    Platform {
        name: "mailchimp",
        homes: &[
            "src/platforms/mailchimp/",
            "crates/adsctl-emulator/src/mailchimp/",
            "crates/adsctl-emulator/tests/emulator_mailchimp.rs",
        ],
        names: &["mailchimp::", "Mailchimp", "MAILCHIMP_", "\"mailchimp\""],
        unless: &[],
    },
    Platform {
        name: "hubspot",
        homes: &[
            "src/platforms/hubspot/",
            "crates/adsctl-emulator/src/hubspot/",
            "crates/adsctl-emulator/tests/emulator_hubspot.rs",
        ],
        names: &["hubspot::", "HubSpot", "Hubspot", "HUBSPOT_", "\"hubspot\""],
        unless: &[],
    },
    Platform {
        name: "salesforce",
        homes: &[
            "src/platforms/salesforce/",
            "crates/adsctl-emulator/src/salesforce/",
            "crates/adsctl-emulator/tests/emulator_salesforce.rs",
        ],
        names: &["salesforce::", "Salesforce", "SALESFORCE_", "\"salesforce\""],
        unless: &[],
    },
    Platform {
        name: "memory",
        homes: &["src/platforms/memory/"],
        names: &[
            "MemoryConnector",
            "MemoryData",
            "MemoryCaps",
            "platforms::memory",
            "memory::",
        ],
        unless: &[],
    },
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file: without comments and without its unit tests (`#[cfg(test)]` to the end of the file, where
/// this project keeps them).
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        let line = match line.find(" //") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Whether `code` holds `name` as a whole word at its end (`::Meta` but not `::Metadata`).
fn mentions(code: &str, name: &str) -> bool {
    let word_end = name.ends_with(|c: char| c.is_alphanumeric());
    code.match_indices(name).any(|(i, _)| {
        !word_end
            || !code[i + name.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

fn naming(p: &Platform) -> BTreeSet<String> {
    let root = root();
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("crates"), &mut files);
    let mut out = BTreeSet::new();
    for f in files {
        let rel = f.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        if p.homes.iter().any(|h| rel.starts_with(h)) {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let mut code = code(&text);
        for u in p.unless {
            code = code.replace(u, "");
        }
        if p.names.iter().any(|n| mentions(&code, n)) {
            out.insert(rel);
        }
    }
    out
}

/// The files `docs/adding-a-platform.md` lists under `### <platform>` (lines starting "- `path`").
fn documented(name: &str) -> BTreeSet<String> {
    let doc = std::fs::read_to_string(root().join("docs/adding-a-platform.md")).unwrap();
    let heading = format!("### {name}");
    let mut out = BTreeSet::new();
    let mut inside = false;
    for line in doc.lines() {
        if line.starts_with("### ") || line.starts_with("## ") {
            inside = line.trim() == heading;
            continue;
        }
        if inside {
            if let Some(rest) = line.strip_prefix("- `") {
                if let Some(end) = rest.find('`') {
                    out.insert(rest[..end].to_string());
                }
            }
        }
    }
    out
}

#[test]
fn files_outside_each_home_are_the_documented_ones() {
    let mut wrong = Vec::new();
    for p in PLATFORMS {
        let found = naming(p);
        let listed = documented(p.name);
        let undocumented: Vec<_> = found.difference(&listed).collect();
        let stale: Vec<_> = listed.difference(&found).collect();
        if !undocumented.is_empty() || !stale.is_empty() {
            wrong.push(format!(
                "{}: named outside its home but not listed: {undocumented:?}; listed but no longer naming it: {stale:?}",
                p.name
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/adding-a-platform.md is out of date:\n{}",
        wrong.join("\n")
    );
}

/// The memory platform, moved into the new shape first, is named by the registry only.
#[test]
fn the_memory_platform_is_named_by_the_registry_only() {
    let memory = PLATFORMS.iter().find(|p| p.name == "memory").unwrap();
    assert_eq!(naming(memory), BTreeSet::from(["src/platforms/mod.rs".to_string()]));
}

/// Every registered platform has a section in the document.
#[test]
fn every_registered_platform_is_documented() {
    for home in adsctl::platforms::HOMES {
        let name = home.platform().as_str();
        assert!(
            PLATFORMS.iter().any(|p| p.name == name),
            "platform {name} is registered but this test does not know its home"
        );
        assert!(
            !documented(name).is_empty() || name == "memory",
            "docs/adding-a-platform.md has no `### {name}`"
        );
    }
}
