//! The real binary on a PostgreSQL state (a real server, `common::pg`) and the emulator (`common::emulated`):
//! a schema that is behind is refused with the hint to migrate; `state migrate`; plan → apply from one runner,
//! then a fresh runner with only the URL plans nothing and lists what the first applied; the apply lock is the
//! database's, across runners; `state copy` moves a state sled → PostgreSQL → sled unchanged. The URL carries a
//! password (the test server trusts loopback, so any is accepted) that no output may show.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::emulated::Emulated;
use common::pg::Postgres;

const PASSWORD: &str = "hunter2-not-shown";
/// The master key every run uses (never the user's key file), and a refresh token stored with `set-token`:
/// neither may show in any output.
const MASTER_KEY: &str = "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2";
const VAULTED: &str = "1//vaulted-refresh-SECRET";

fn with_password(url: &str) -> String {
    url.replacen("postgres://postgres@", &format!("postgres://postgres:{PASSWORD}@"), 1)
}

fn quickstart() -> Emulated {
    let (_tmp, dir) = common::example("quickstart");
    let files: Vec<(String, String)> = common::files_below(&dir)
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(dir.join(&f)).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            (f.to_string_lossy().into_owned(), text)
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(f, t)| (f.as_str(), t.as_str())).collect();
    Emulated::new(&borrowed)
}

/// The binary with a state directory (for what stays per machine: the emulator's OAuth, the audit log) and,
/// when given, the PostgreSQL URL.
fn adsctl(emu: &Emulated, state: &Path, url: Option<&str>, args: &[&str]) -> Output {
    let mut c: Command = emu.cmd(state);
    c.env("ADSCTL_MASTER_KEY", MASTER_KEY);
    match url {
        Some(u) => c.env("ADSCTL_STATE_URL", u),
        None => c.env_remove("ADSCTL_STATE_URL"),
    };
    c.args(args).output().expect("run adsctl")
}

fn ok(o: &Output, what: &str) -> String {
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{what}: {}\n{text}", o.status);
    assert!(!text.contains(PASSWORD), "{what} showed the URL's password:\n{text}");
    assert!(
        !text.contains(MASTER_KEY) && !text.contains(VAULTED),
        "{what} showed a secret:\n{text}"
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn failed(o: &Output, what: &str) -> String {
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.status.code(), Some(1), "{what}:\n{text}");
    assert!(!text.contains(PASSWORD), "{what} showed the URL's password:\n{text}");
    assert!(
        !text.contains(MASTER_KEY) && !text.contains(VAULTED),
        "{what} showed a secret:\n{text}"
    );
    text
}

#[test]
fn plan_apply_and_state_run_on_postgres_from_any_runner_and_copy_round_trips() {
    let pg = Postgres::start();
    let url = with_password(&pg.database());
    let emu = quickstart();
    let dir = emu.dir.to_str().unwrap().to_string();
    let runner_a = emu.state.with_extension("a");
    let runner_b = emu.state.with_extension("b");

    // a database without the schema: refused, with the command that migrates it
    let text = failed(
        &adsctl(&emu, &runner_a, Some(&url), &["plan", &dir]),
        "plan before migrate",
    );
    assert!(text.contains("schema version 0"), "{text}");
    assert!(text.contains("adsctl state migrate"), "{text}");
    let out = ok(&adsctl(&emu, &runner_a, Some(&url), &["state", "migrate"]), "migrate");
    let latest = adsctl_state_pg::latest_version();
    assert!(out.contains("schema version 3 (applied 1, 2, 3)"), "{out}");
    assert_eq!(latest, 3, "a new migration: say so here");
    let out = ok(
        &adsctl(&emu, &runner_a, Some(&url), &["state", "migrate"]),
        "migrate again",
    );
    assert!(out.contains("up to date"), "{out}");

    // runner A plans and applies
    let out = ok(&adsctl(&emu, &runner_a, Some(&url), &["plan", &dir]), "plan");
    assert!(out.contains("10 to create"), "{out}");
    ok(
        &adsctl(&emu, &runner_a, Some(&url), &["apply", "--auto-approve", &dir]),
        "apply",
    );

    // runner B: a fresh working directory with only the URL
    let o = adsctl(&emu, &runner_b, Some(&url), &["plan", "--detailed-exitcode", &dir]);
    ok(&o, "plan from a fresh runner: no changes (--detailed-exitcode)");
    let listed = ok(
        &adsctl(&emu, &runner_b, Some(&url), &["state", "list", "--dir", &dir]),
        "state list",
    );
    assert_eq!(listed.lines().count(), 10, "{listed}");
    assert!(listed.contains("acme-search/campaign/Spring Sale - Search"), "{listed}");
    let history = ok(
        &adsctl(&emu, &runner_b, Some(&url), &["state", "history", "--dir", &dir]),
        "history",
    );
    assert_eq!(history.lines().count(), 1, "{history}");
    assert!(history.contains("succeeded"), "{history}");
    assert!(
        !runner_b.join("db").exists(),
        "runner B made a sled database beside PostgreSQL"
    );
    assert!(
        !runner_a.join("db").exists(),
        "runner A made a sled database beside PostgreSQL"
    );

    // metrics: pulled into the database by one runner, reported from it by another without a pull
    let pulled = ok(
        &adsctl(&emu, &runner_a, Some(&url), &["metrics", "--format", "json", &dir]),
        "metrics pull",
    );
    let reported = ok(
        &adsctl(
            &emu,
            &runner_b,
            Some(&url),
            &["metrics", "--format", "json", "--refresh=false", &dir],
        ),
        "metrics from the database",
    );
    assert_eq!(pulled, reported, "runner B reports what runner A pulled");
    let check = adsctl_state_pg::PgStore::open(&url).unwrap();
    let today = chrono::Utc::now().date_naive();
    let days = check
        .days("acme-search", "campaign", today - chrono::Duration::days(30), today)
        .unwrap();
    assert!(!days.is_empty(), "the series is in PostgreSQL");
    drop(check);

    // the apply lock is the database's: held elsewhere, an apply waits, then stops naming the holder
    let holder = adsctl_state_pg::PgStore::open(&url).unwrap();
    holder.lock_apply(Duration::ZERO, &mut |_| {}).unwrap();
    let text = failed(
        &adsctl(
            &emu,
            &runner_b,
            Some(&url),
            &["apply", "--auto-approve", "--lock-timeout", "1s", &dir],
        ),
        "apply while another holds the lock",
    );
    assert!(text.contains("in use by another adsctl process"), "{text}");
    assert!(
        text.contains(&format!("pid {}", std::process::id())),
        "names the holder: {text}"
    );
    drop(holder);

    // what the state directory kept beside the state is in the database too: a token sealed into the vault, the
    // audit log, an API token
    let mut set = emu.cmd(&runner_a);
    set.env("ADSCTL_MASTER_KEY", MASTER_KEY)
        .env("ADSCTL_STATE_URL", &url)
        .args(["auth", "set-token", "acme-search", "--dir", &dir])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = set.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), format!("{VAULTED}\n").as_bytes()).unwrap();
    ok(&child.wait_with_output().unwrap(), "auth set-token");
    let created = ok(
        &adsctl(
            &emu,
            &runner_a,
            Some(&url),
            &["api-token", "create", "ci", "--role", "viewer", "--dir", &dir],
        ),
        "api-token create",
    );
    let api_token = created.trim().to_string();
    for f in ["vault.json", "audit.jsonl", "api-tokens.json"] {
        assert!(!runner_a.join(f).exists(), "{f} written beside PostgreSQL");
    }
    let audit = ok(
        &adsctl(&emu, &runner_b, Some(&url), &["history", "--json", &dir]),
        "history from another runner",
    );
    let audit: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"apply"), "{actions:?}");
    assert!(
        actions.ends_with(&["auth.set_token", "api_token.create"]),
        "{actions:?}"
    );

    // state copy: PostgreSQL → sled (C) → a second database → sled (D); C and D hold the same
    let tmp = tempfile::tempdir().unwrap();
    let (c, d) = (tmp.path().join("c"), tmp.path().join("d"));
    let (c_s, d_s) = (c.to_str().unwrap(), d.to_str().unwrap());
    let url2 = with_password(&pg.database());
    let copy = |from: &str, to: &str| {
        ok(
            &adsctl(&emu, &runner_b, None, &["state", "copy", "--from", from, "--to", to]),
            &format!("copy {from} → {to}"),
        )
    };
    let out = copy(&url, c_s);
    assert!(out.contains("Copied 10 id map entries"), "{out}");
    assert!(
        out.contains("1 sealed vault entries") && out.contains("1 API tokens"),
        "{out}"
    );
    assert!(!out.contains(" 0 days of metrics"), "{out}");
    let text = failed(
        &adsctl(&emu, &runner_b, None, &["state", "copy", "--from", c_s, "--to", &url2]),
        "copy into an unmigrated database",
    );
    assert!(text.contains("adsctl state migrate"), "{text}");
    ok(
        &adsctl(&emu, &runner_b, Some(&url2), &["state", "migrate"]),
        "migrate the second database",
    );
    copy(c_s, &url2);
    let text = failed(
        &adsctl(&emu, &runner_b, None, &["state", "copy", "--from", c_s, "--to", &url2]),
        "copy into a state that is not empty",
    );
    assert!(text.contains("not empty"), "{text}");
    copy(&url2, d_s);
    let view = |state: &Path, what: &[&str]| {
        let mut args = vec!["state"];
        args.extend_from_slice(what);
        args.extend_from_slice(&["--dir", &dir]);
        ok(&adsctl(&emu, state, None, &args), "view a copy")
    };
    assert_eq!(view(&c, &["list", "--json"]), view(&d, &["list", "--json"]));
    // the vault as it was sealed, the audit log line for line (its chain intact), the tokens' hashes
    for f in ["vault.json", "audit.jsonl", "api-tokens.json"] {
        let (in_c, in_d) = (std::fs::read(c.join(f)).unwrap(), std::fs::read(d.join(f)).unwrap());
        assert_eq!(in_c, in_d, "{f} differs after PostgreSQL and back");
        let text = String::from_utf8(in_d).unwrap();
        assert!(
            !text.contains(VAULTED) && !text.contains(&api_token),
            "{f} holds a secret"
        );
    }
    let verified = ok(
        &adsctl(&emu, &d, None, &["history", "--verify", &dir]),
        "history --verify of the copy",
    );
    assert!(
        verified.contains(&format!("{} entries, chain intact", audit.len())),
        "{verified}"
    );
    let status = ok(
        &adsctl(&emu, &d, None, &["auth", "status", "--json", "--dir", &dir]),
        "auth status of the copy",
    );
    assert!(
        status.contains("\"vault\""),
        "the copied vault opens with the same key: {status}"
    );
    let copied_metrics = ok(
        &adsctl(
            &emu,
            &d,
            None,
            &["metrics", "--format", "json", "--refresh=false", &dir],
        ),
        "metrics of the copy",
    );
    assert_eq!(copied_metrics, reported, "the series came along");
    assert_eq!(view(&c, &["history"]), view(&d, &["history"]));
    assert_eq!(view(&c, &["list"]), listed, "the copy lists what PostgreSQL did");
    assert_eq!(view(&d, &["history"]), history);
    // and a plan from the copied sled state agrees with the platform
    let mut plan = emu.cmd(&d);
    // (the environment's credentials: the vault holds a refresh token the emulator never issued)
    plan.env_remove("ADSCTL_STATE_URL")
        .env("ADSCTL_AUTH_SOURCE", "env")
        .args(["plan", "--refresh=false", "--detailed-exitcode", &dir]);
    ok(&plan.output().unwrap(), "plan from the copied cache: no changes");

    // state rm on PostgreSQL: forgotten for every runner
    let address = "acme-search/campaign/Spring Sale - Search";
    ok(
        &adsctl(&emu, &runner_a, Some(&url), &["state", "rm", address, "--dir", &dir]),
        "state rm",
    );
    let listed = ok(
        &adsctl(&emu, &runner_b, Some(&url), &["state", "list", "--dir", &dir]),
        "state list",
    );
    assert_eq!(listed.lines().count(), 9, "{listed}");
    assert!(!listed.contains(&format!("{address}  ")), "{listed}");
}

/// The binary with the state chosen by `adsctl.yaml` (`state: { backend: postgres, url_env: TEAM_STATE_URL }`),
/// `stdin` written to it.
fn team(emu: &Emulated, state: &Path, url: &str, key: &str, args: &[&str], stdin: &str) -> Output {
    let mut c = emu.cmd(state);
    c.env("ADSCTL_MASTER_KEY", key)
        .env("TEAM_STATE_URL", url)
        .env_remove("ADSCTL_STATE_URL")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().expect("run adsctl");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
    child.wait_with_output().expect("run adsctl")
}

#[test]
fn auth_history_and_api_tokens_use_the_postgres_state_that_adsctl_yaml_names() {
    let pg = Postgres::start();
    let url = with_password(&pg.database());
    let emu = quickstart();
    let dir = emu.dir.to_str().unwrap().to_string();
    let yaml = emu.dir.join("adsctl.yaml");
    let project = std::fs::read_to_string(&yaml).unwrap();
    std::fs::write(
        &yaml,
        format!("{project}state:\n  backend: postgres\n  url_env: TEAM_STATE_URL\n"),
    )
    .unwrap();
    let (runner_a, runner_b) = (emu.state.with_extension("a"), emu.state.with_extension("b"));
    let new_key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    // migrated through the variable adsctl.yaml names
    let out = ok(
        &team(
            &emu,
            &runner_a,
            &url,
            MASTER_KEY,
            &["state", "migrate", "--dir", &dir],
            "",
        ),
        "migrate",
    );
    assert!(out.contains("schema version 3"), "{out}");

    // a token stored from one runner is seen by another, and by nothing on disk
    ok(
        &team(
            &emu,
            &runner_a,
            &url,
            MASTER_KEY,
            &["auth", "set-token", "acme-search", "--dir", &dir],
            &format!("{VAULTED}\n"),
        ),
        "set-token",
    );
    let status = |key: &str, what: &str| {
        let out = ok(
            &team(
                &emu,
                &runner_b,
                &url,
                key,
                &["auth", "status", "--json", "--dir", &dir],
                "",
            ),
            what,
        );
        let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        rows.into_iter()
            .find(|r| r["account"] == "acme-search")
            .expect("a row for acme-search")
    };
    assert_eq!(status(MASTER_KEY, "status")["source"], "vault");
    let db = adsctl_state_pg::PgStore::open(&url).unwrap();
    let rows = db.vault_rows().unwrap();
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].sealed.contains(VAULTED), "a token in clear in the database");

    // rotate-key re-seals the rows; logout deletes them
    ok(
        &team(
            &emu,
            &runner_a,
            &url,
            MASTER_KEY,
            &["auth", "rotate-key", "--new-key-stdin", "--dir", &dir],
            &format!("{new_key}\n"),
        ),
        "rotate-key",
    );
    let rotated = db.vault_rows().unwrap();
    assert_ne!(rotated[0].key_id, rows[0].key_id);
    assert_ne!(rotated[0].sealed, rows[0].sealed);
    assert_eq!(status(new_key, "status under the new key")["source"], "vault");
    let o = team(
        &emu,
        &runner_b,
        &url,
        MASTER_KEY,
        &["auth", "status", "--dir", &dir],
        "",
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("was sealed with master key"), "{text}");
    assert!(
        text.contains("in the PostgreSQL state at postgres://postgres@127.0.0.1"),
        "{text}"
    );
    assert!(!text.contains(PASSWORD) && !text.contains(VAULTED), "{text}");
    ok(
        &team(
            &emu,
            &runner_b,
            &url,
            new_key,
            &["auth", "logout", "acme-search", "--dir", &dir],
            "",
        ),
        "logout",
    );
    assert!(db.vault_rows().unwrap().is_empty());

    // API tokens: created on one runner, listed on another, hashes only in the database
    let token = ok(
        &team(
            &emu,
            &runner_a,
            &url,
            new_key,
            &["api-token", "create", "deploy", "--role", "operator", "--dir", &dir],
            "",
        ),
        "api-token create",
    );
    let listed = ok(
        &team(
            &emu,
            &runner_b,
            &url,
            new_key,
            &["api-token", "list", "--dir", &dir],
            "",
        ),
        "api-token list",
    );
    assert!(listed.contains("deploy") && listed.contains("operator"), "{listed}");
    let stored = db.api_tokens().unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!format!("{stored:?}").contains(token.trim()));

    // the audit log: every event from every runner, in one chain
    let history = ok(&team(&emu, &runner_b, &url, new_key, &["history", &dir], ""), "history");
    for action in ["auth.set_token", "auth.rotate_key", "auth.logout", "api_token.create"] {
        assert!(history.contains(action), "{action}: {history}");
    }
    let verified = ok(
        &team(&emu, &runner_a, &url, new_key, &["history", "--verify", &dir], ""),
        "history --verify",
    );
    assert!(verified.contains("4 entries, chain intact"), "{verified}");
    for runner in [&runner_a, &runner_b] {
        for f in ["vault.json", "audit.jsonl", "api-tokens.json"] {
            assert!(!runner.join(f).exists(), "{f} written beside PostgreSQL");
        }
    }

    // a password written in adsctl.yaml is refused where it is, and never shown; ADSCTL_STATE_URL still wins
    let in_git = with_password(&pg.url("elsewhere"));
    std::fs::write(
        &yaml,
        format!("{project}state:\n  backend: postgres\n  url: {in_git}\n"),
    )
    .unwrap();
    let line = project.lines().count() + 3;
    for args in [
        vec!["state", "list", "--dir", &dir],
        vec!["history", &dir],
        vec!["validate", &dir],
    ] {
        let text = failed(
            &team(&emu, &runner_a, &url, new_key, &args, ""),
            &format!("{args:?} with a password in adsctl.yaml"),
        );
        assert!(text.contains(&format!("adsctl.yaml:{line}:8")), "{args:?}: {text}");
        assert!(text.contains("PGPASSWORD"), "{args:?}: {text}");
    }
    let o = adsctl(&emu, &runner_a, Some(&url), &["state", "list", "--dir", &dir]);
    ok(&o, "ADSCTL_STATE_URL wins over adsctl.yaml");
}
