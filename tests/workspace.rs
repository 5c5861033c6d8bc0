//! The workspace's rules (docs/architecture.md, "Workspace"), checked on the manifests as Cargo resolves them:
//!
//! - the emulator (`crates/adsctl-emulator`) is written apart from the connectors, so the `adsctl` crate (which
//!   holds them) is nowhere in its dependency tree, and its sources name no `adsctl::` path;
//! - the engine (`crates/adsctl-core`: model, plan, apply, state, the Connector trait) depends on no other crate of
//!   the workspace, so nothing in it can reach a connector, the spec loader or the CLI; its sources name no
//!   `adsctl::` path;
//! - `crates/adsctl-serve` depends on neither;
//! - the database driver is in `crates/adsctl-state-pg` (which depends on the engine alone), never in the engine;
//! - every member is a default member, so the README's `cargo test` (and CI's fmt and clippy) covers them all.
//!
//! Runs `cargo tree` and `cargo metadata` offline (the lock file's packages are already there for the build).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `cargo ARGS` in the checkout (the cargo running the tests, or the one on the PATH); its stdout.
fn cargo(args: &[&str]) -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(&cargo)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("{cargo:?} {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{cargo:?} {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The packages of `package`'s dependency tree along `edges`, one `name vX.Y.Z (…)` line each, itself included.
fn tree(package: &str, edges: &str) -> Vec<String> {
    cargo(&["tree", "-p", package, "--edges", edges, "--prefix", "none", "--offline"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// The lines of `tree` that are the package `name` (any version).
fn packages_named<'a>(tree: &'a [String], name: &str) -> Vec<&'a String> {
    tree.iter().filter(|l| l.starts_with(&format!("{name} v"))).collect()
}

#[test]
fn the_emulator_does_not_depend_on_the_crate_with_the_connectors() {
    let shipped = tree("adsctl-emulator", "normal,build");
    assert!(
        shipped.first().is_some_and(|l| l.starts_with("adsctl-emulator v")),
        "cargo tree printed the emulator's tree: {shipped:?}"
    );
    assert!(
        !packages_named(&shipped, "adsctl-serve").is_empty(),
        "the emulator serves through adsctl-serve, so the tree lists it (the check sees the workspace's crates)"
    );
    assert_eq!(
        packages_named(&shipped, "adsctl"),
        Vec::<&String>::new(),
        "adsctl (the connectors) is in adsctl-emulator's dependency tree: the emulator must be written apart from \
         them (crates/adsctl-emulator/Cargo.toml, and the crates it depends on)"
    );
    // Nor any other crate of this workspace but adsctl-serve (should the connectors move to a crate of their own).
    let root = format!("({}", repo().display());
    let ours: Vec<&String> = shipped
        .iter()
        .filter(|l| l.contains(&root) && !l.starts_with("adsctl-emulator v") && !l.starts_with("adsctl-serve v"))
        .collect();
    assert_eq!(
        ours,
        Vec::<&String>::new(),
        "the emulator depends on crates of this workspace besides adsctl-serve"
    );
    // Its own tests neither: a dev-dependency on adsctl would let them use the connectors.
    let tests = tree("adsctl-emulator", "normal,build,dev");
    assert_eq!(
        packages_named(&tests, "adsctl"),
        Vec::<&String>::new(),
        "adsctl is a dev-dependency of adsctl-emulator (or of a crate in its tree)"
    );
}

#[test]
fn serving_depends_on_neither_the_emulator_nor_the_connectors() {
    let t = tree("adsctl-serve", "normal,build,dev");
    for name in ["adsctl", "adsctl-emulator"] {
        assert_eq!(
            packages_named(&t, name),
            Vec::<&String>::new(),
            "{name} is in adsctl-serve's tree"
        );
    }
}

/// `adsctl` followed by `::` as a path (`adsctl::x`, `::adsctl::x`), or `extern crate adsctl`: not `adsctl_serve`,
/// not the word in a string or a comment line.
fn names_the_main_crate(line: &str) -> bool {
    let code = line.trim_start();
    if code.starts_with("//") {
        return false;
    }
    if code.contains("extern crate adsctl;") || code.contains("extern crate adsctl as") {
        return true;
    }
    code.match_indices("adsctl").any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        before.is_none_or(|c| !ident(c) && c != '"' && c != '`')
            && code[i + "adsctl".len()..].trim_start().starts_with("::")
    })
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn the_emulator_sources_name_no_adsctl_path() {
    assert!(names_the_main_crate("use adsctl::connectors::Connector;"));
    assert!(names_the_main_crate("    let c = ::adsctl::model::Kind::Campaign;"));
    assert!(names_the_main_crate("extern crate adsctl;"));
    assert!(!names_the_main_crate("use adsctl_serve::{Limits, Slot, Slots};"));
    assert!(!names_the_main_crate("//! re-exported as `adsctl::emulator`"));

    let (files, found) = lines_naming_the_main_crate("crates/adsctl-emulator");
    assert!(files > 10, "the emulator's sources: {files}");
    assert!(
        found.is_empty(),
        "the emulator names the adsctl crate (the connectors):\n{}",
        found.join("\n")
    );
}

/// Every line of the Rust sources under `dir` that names the `adsctl` crate.
fn lines_naming_the_main_crate(dir: &str) -> (usize, Vec<String>) {
    let mut files = Vec::new();
    rust_files(&repo().join(dir), &mut files);
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            if names_the_main_crate(line) {
                found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    (files.len(), found)
}

#[test]
fn the_engine_depends_on_no_other_crate_of_the_workspace() {
    let root = format!("({}", repo().display());
    for edges in ["normal,build", "normal,build,dev"] {
        let t = tree("adsctl-core", edges);
        assert!(
            t.first().is_some_and(|l| l.starts_with("adsctl-core v")),
            "cargo tree printed the engine's tree: {t:?}"
        );
        let ours: Vec<&String> = t
            .iter()
            .filter(|l| l.contains(&root) && !l.starts_with("adsctl-core v"))
            .collect();
        assert_eq!(
            ours,
            Vec::<&String>::new(),
            "adsctl-core ({edges}) depends on crates of this workspace: the engine must not reach the connectors, the \
             spec loader or the emulator"
        );
    }
    let (files, found) = lines_naming_the_main_crate("crates/adsctl-core");
    assert!(files > 20, "the engine's sources: {files}");
    assert!(
        found.is_empty(),
        "the engine names the adsctl crate:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_database_driver_stays_in_the_postgres_backend() {
    // The engine holds no database driver: the PostgreSQL backend is a crate of its own.
    let engine = tree("adsctl-core", "normal,build");
    assert_eq!(
        packages_named(&engine, "postgres"),
        Vec::<&String>::new(),
        "adsctl-core depends on the postgres driver: it belongs in crates/adsctl-state-pg"
    );
    // The backend depends on the engine (the trait it implements) and on no other crate of the workspace.
    let backend = tree("adsctl-state-pg", "normal,build");
    assert!(!packages_named(&backend, "postgres").is_empty(), "{backend:?}");
    let root = format!("({}", repo().display());
    let ours: Vec<&String> = backend
        .iter()
        .filter(|l| l.contains(&root) && !l.starts_with("adsctl-state-pg v") && !l.starts_with("adsctl-core v"))
        .collect();
    assert_eq!(
        ours,
        Vec::<&String>::new(),
        "adsctl-state-pg depends on crates of this workspace besides adsctl-core"
    );
}

#[test]
fn every_member_is_a_default_member() {
    let meta: serde_json::Value =
        serde_json::from_str(&cargo(&["metadata", "--format-version", "1", "--no-deps", "--offline"])).unwrap();
    let ids = |k: &str| {
        let mut v: Vec<String> = meta[k]
            .as_array()
            .unwrap_or_else(|| panic!("cargo metadata has no {k}"))
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let members = ids("workspace_members");
    for crate_name in ["adsctl-emulator", "adsctl-core"] {
        assert!(
            members.iter().any(|m| m.contains(crate_name)),
            "{crate_name} is a member: {members:?}"
        );
    }
    assert_eq!(
        ids("workspace_default_members"),
        members,
        "a member left out of [workspace] default-members: `cargo test` at the root would not run its tests"
    );
}
