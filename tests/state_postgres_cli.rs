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
    assert!(out.contains(&format!("schema version {latest} (applied 1, ")), "{out}");
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
    assert_eq!(view(&c, &["history"]), view(&d, &["history"]));
    assert_eq!(view(&c, &["list"]), listed, "the copy lists what PostgreSQL did");
    assert_eq!(view(&d, &["history"]), history);
    // and a plan from the copied sled state agrees with the platform
    let mut plan = emu.cmd(&d);
    plan.env_remove("ADSCTL_STATE_URL")
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
