//! The newcomer's path, as the README writes it: the quickstart apply, then the test suite; the daemon and the
//! metrics report in one command each; `--emulator` on every command that talks to a platform; the hint when
//! credentials are missing. Every command runs in a temporary copy of the example (as it would sit in a clone),
//! never in the checkout, with a clean environment and platform endpoints that lead nowhere.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value as Json;

/// Every line of the README's shell blocks.
fn readme_commands() -> Vec<String> {
    let text = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if in_sh {
            out.push(line.split(" #").next().unwrap_or_default().trim().to_string());
        }
    }
    out
}

/// The two commands of the Quickstart section.
fn quickstart_commands() -> (String, String) {
    let text = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let section = &text[text.find("## Quickstart").expect("a Quickstart section")..];
    let block = &section[section.find("```sh\n").expect("a sh block") + 6..];
    let block = &block[..block.find("```").unwrap()];
    let lines: Vec<&str> = block.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "two commands: {lines:?}");
    (lines[0].to_string(), lines[1].to_string())
}

/// The adsctl arguments of a README line `cargo run --release -- ARGS`.
fn adsctl_args(line: &str) -> Vec<String> {
    let args = line
        .strip_prefix("cargo run --release -- ")
        .unwrap_or_else(|| panic!("not a `cargo run --release --` line: {line}"));
    args.split_whitespace().map(str::to_string).collect()
}

/// The README line that runs `adsctl <subcommand>` on the quickstart.
fn readme_line(subcommand: &str) -> String {
    readme_commands()
        .into_iter()
        .find(|l| l.starts_with(&format!("cargo run --release -- {subcommand} examples/quickstart")))
        .unwrap_or_else(|| panic!("the README shows `{subcommand}` on the quickstart in one command"))
}

/// A clone as a newcomer has it: `examples/quickstart` (without any state) under a temporary directory.
struct Clone {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
}

impl Clone {
    fn new() -> Clone {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap().join("adsctl");
        common::copy_fixture(
            &common::repo().join("examples/quickstart"),
            &root.join("examples/quickstart"),
        );
        let home = tmp.path().canonicalize().unwrap().join("home");
        std::fs::create_dir_all(&home).unwrap();
        Clone { _tmp: tmp, root, home }
    }

    fn example(&self) -> PathBuf {
        self.root.join("examples/quickstart")
    }

    /// adsctl with a newcomer's environment: no credentials, no state directory override, and (should anything
    /// try) platform endpoints on a closed loopback port.
    fn cmd<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_adsctl"));
        c.args(args)
            .current_dir(&self.root)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &self.home)
            .env("ADSCTL_GOOGLE_ADS_ENDPOINT", "http://127.0.0.1:9")
            .env("ADSCTL_GOOGLE_OAUTH_ENDPOINT", "http://127.0.0.1:9")
            .env("ADSCTL_META_ENDPOINT", "http://127.0.0.1:9")
            .env("ADSCTL_META_DIALOG_ENDPOINT", "http://127.0.0.1:9");
        c
    }

    fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        self.cmd(args).output().expect("adsctl runs")
    }
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", text(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The actions of the audit log of the project at `dir` (`adsctl history --json`).
fn audit_log(clone: &Clone, dir: &Path) -> Vec<String> {
    let out = ok(&clone.run(&["history".as_ref(), "--json".as_ref(), dir.as_os_str()]));
    let v: Json = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// README command 1 leaves state in the example; the fixtures the tests copy from it carry none of it, so README
/// command 2 starts from the same place as on a fresh clone. (The failure this reproduces: tests/auth.rs's
/// no-secret scan read the audit log of command 1's two applies from the copied `.adsctl/`.)
#[test]
fn the_quickstart_apply_leaves_state_that_no_test_fixture_inherits() {
    let (first, second) = quickstart_commands();
    assert_eq!(second, "cargo test");
    let clone = Clone::new();

    // README command 1, in the clone.
    let o = clone.run(&adsctl_args(&first));
    let out = ok(&o);
    assert!(out.contains("Plan: 10 to create, 0 to update"), "{}", text(&o));
    assert!(
        out.contains("Apply complete: 10 succeeded, 0 failed, 0 skipped."),
        "{}",
        text(&o)
    );
    let state = clone.example().join(".adsctl");
    assert!(
        state.join("emulator.json").is_file(),
        "the emulator's accounts are kept in the example's state"
    );
    let actions = audit_log(&clone, &clone.example());
    assert!(
        actions.iter().any(|a| a.starts_with("apply")),
        "the audit log has the apply: {actions:?}"
    );

    // What every test does with an example: copy it. Nothing of the state comes along.
    let fixture = clone.root.join("fixture");
    common::copy_fixture(&clone.example(), &fixture);
    assert!(!fixture.join(".adsctl").exists());
    assert_eq!(
        common::files_below(&fixture),
        common::files_below(&common::repo().join("examples/quickstart"))
            .into_iter()
            .filter(|p| !p
                .components()
                .any(|c| common::is_state(&c.as_os_str().to_string_lossy())))
            .collect::<Vec<_>>(),
        "the copy is the example as committed"
    );
    // The check that failed: the copy's audit log is empty, and its accounts start empty.
    assert_eq!(audit_log(&clone, &fixture), Vec::<String>::new());
    let o = clone.run(&["plan".as_ref(), fixture.as_os_str(), "--emulator".as_ref()]);
    assert!(ok(&o).contains("Plan: 10 to create"), "{}", text(&o));
    // And the example's own state is untouched by the copy.
    assert!(audit_log(&clone, &clone.example())
        .iter()
        .any(|a| a.starts_with("apply")));
}

#[test]
fn the_daemon_and_the_metrics_report_in_one_command_each() {
    let clone = Clone::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // `adsctl watch examples/quickstart --emulator`, on a free port and with JSON logs to read its address.
    let mut args = adsctl_args(&readme_line("watch"));
    assert_eq!(args, ["watch", "examples/quickstart", "--emulator"]);
    args.extend(["--listen", "127.0.0.1:0", "--log-format", "json"].map(String::from));
    let daemon = common::Daemon::spawn(clone.cmd(&args));
    let addr = daemon.addr.clone();
    rt.block_on(async {
        let status = common::wait_status(&addr, Duration::from_secs(90), "the quickstart applied", |a| {
            a.len() == 2 && a.iter().all(|x| x["status"] == "in_sync")
        })
        .await;
        let created: u64 = status["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["last_applied"]["create"].as_u64().unwrap_or(0))
            .sum();
        assert_eq!(created, 10, "{status:#}");
        let (code, body) = common::get(&format!("http://{addr}/healthz")).await;
        assert_eq!((code, body.trim()), (200, "ok"));
        assert_eq!(common::get(&format!("http://{addr}/readyz")).await.0, 200);
        let (code, page) = common::get(&format!("http://{addr}/")).await;
        assert_eq!(code, 200);
        assert!(page.contains("<html") && page.contains("acme-search") && page.contains("acme-social"));
        let (code, metrics) = common::get(&format!("http://{addr}/metrics")).await;
        assert_eq!(code, 200);
        assert!(metrics.contains("adsctl_"), "{metrics}");
    });
    // Ctrl-C, as the README says.
    let (exit, log) = daemon.stop("INT", Duration::from_secs(60));
    assert!(exit.success(), "{exit:?}: {log:#?}");
    // The daemon's applies are in the emulator's saved state: a plan sees them.
    let o = clone.run(&["plan", "examples/quickstart", "--emulator"]);
    assert!(ok(&o).contains("Plan: 0 to create, 0 to update"), "{}", text(&o));

    // `adsctl metrics examples/quickstart --emulator --format html` writes the report in the current directory.
    let args = adsctl_args(&readme_line("metrics"));
    assert_eq!(
        args,
        ["metrics", "examples/quickstart", "--emulator", "--format", "html"]
    );
    let o = clone.run(&args);
    ok(&o);
    let reports: Vec<PathBuf> = std::fs::read_dir(&clone.root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("metrics-"))
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}\n{}", text(&o));
    let name = reports[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!("Wrote {name}")),
        "{}",
        text(&o)
    );
    let html = std::fs::read_to_string(&reports[0]).unwrap();
    assert!(
        html.to_ascii_lowercase().starts_with("<!doctype html>"),
        "{}",
        &html[..200.min(html.len())]
    );
    for want in [
        "acme-search",
        "acme-social",
        "Spring Sale - Search",
        "Spring Sale - Social",
    ] {
        assert!(html.contains(want), "the report shows {want}");
    }
    // Read-only: the report changed nothing in the accounts.
    let o = clone.run(&["plan", "examples/quickstart", "--emulator"]);
    assert!(ok(&o).contains("Plan: 0 to create, 0 to update"), "{}", text(&o));
}

#[test]
fn emulator_works_on_every_command_that_talks_to_a_platform() {
    let clone = Clone::new();
    let dir = "examples/quickstart";
    // The platforms' dry run first: validate-only goes where a platform has it (not to Meta custom audiences,
    // which refuse the option), and everything checkable is valid.
    let o = clone.run(&["plan", dir, "--emulator", "--validate"]);
    ok(&o);
    let validated = text(&o);
    assert!(!validated.contains('✗'), "{validated}");
    assert!(
        validated.contains("acme-social/audience/Newsletter subscribers: not checked: Meta has no dry run"),
        "{validated}"
    );
    ok(&clone.run(&["apply", dir, "--emulator", "--auto-approve"]));

    // auth validate: the emulator's credentials, checked against the emulator.
    for account in ["acme-search", "acme-social"] {
        let o = clone.run(&["auth", "validate", account, "--dir", dir, "--emulator", "--json"]);
        let v: Json = serde_json::from_str(&ok(&o)).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
        assert_eq!(v["account"], account);
        assert_eq!(v["name"], account, "the emulator's account, seeded from adsctl.yaml");
        assert_eq!(v["currency"], "USD");
        assert_eq!(v["warnings"], serde_json::json!([]), "{v:#}");
    }
    // Without --emulator there are no credentials: validation fails (nothing reachable, nothing printed).
    let o = clone.run(&["auth", "validate", "acme-search", "--dir", dir]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    // auth status: the source is the emulator, every account active, the validations above recorded.
    let o = clone.run(&["auth", "status", dir, "--emulator", "--json"]);
    let rows: Json = serde_json::from_str(&ok(&o)).unwrap();
    for row in rows.as_array().unwrap() {
        assert_eq!(row["source"], "emulator", "{row:#}");
        assert_eq!(row["status"], "active", "{row:#}");
        assert!(!row["last_validation"].is_null(), "{row:#}");
    }
    let table = ok(&clone.run(&["auth", "status", dir, "--emulator"]));
    assert!(table.lines().skip(1).all(|l| l.contains(" emulator ")), "{table}");
    let o = clone.run(&["auth", "status", dir]);
    assert!(
        ok(&o).contains("missing"),
        "without --emulator: no credentials: {}",
        text(&o)
    );

    // import: the live campaigns as YAML, which plan against the same emulator without changes.
    let out = clone.root.join("imported");
    let o = clone.run(&[
        "import".as_ref(),
        "acme-social".as_ref(),
        "--dir".as_ref(),
        dir.as_ref(),
        "--emulator".as_ref(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    let said = ok(&o);
    assert!(
        said.contains("ADSCTL_STATE_DIR="),
        "the next step names the state: {said}"
    );
    let yaml = std::fs::read_to_string(out.join("adsctl.yaml")).unwrap();
    assert!(
        !yaml.contains("127.0.0.1"),
        "the emulator's address is not written: {yaml}"
    );
    assert!(yaml.contains("act_1234567890") || yaml.contains("1234567890"), "{yaml}");
    let o = clone
        .cmd(&["plan".as_ref(), out.as_os_str(), "--emulator".as_ref()])
        .env("ADSCTL_STATE_DIR", clone.example().join(".adsctl"))
        .output()
        .unwrap();
    let plan = ok(&o);
    assert!(plan.contains("Plan: 0 to create, 0 to update"), "{}", text(&o));

    // metrics (table), read-only.
    let o = clone.run(&["metrics", dir, "--emulator", "--last", "3d"]);
    let table = ok(&o);
    assert!(
        table.contains("acme-search") && table.contains("acme-social"),
        "{table}"
    );
}

#[test]
fn missing_credentials_name_the_account_to_log_in() {
    let clone = Clone::new();
    let o = clone
        .cmd(&["plan", "examples/quickstart"])
        .env("ADSCTL_AUTH_SOURCE", "env")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("credentials are missing"), "{err}");
    assert!(
        err.contains("adsctl auth login acme-search"),
        "the hint names the account: {err}"
    );
    assert!(!err.contains("auth login google"), "{err}");
    assert!(err.contains("--emulator"), "{err}");
}
