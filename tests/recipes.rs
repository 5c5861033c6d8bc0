//! The recipes in `examples/` run as written, against the emulator.
//!
//! - The CI workflow (`examples/ci/adsctl.yml`) is parsed and its jobs run step by step the way GitHub Actions
//!   runs them: its `env:` blocks (with `${{ secrets.* }}`, `${{ vars.* }}`, `${{ runner.* }}` … evaluated, a
//!   missing secret being empty as on GitHub), `if:` conditions, `$GITHUB_OUTPUT` / `$GITHUB_PATH` /
//!   `$GITHUB_STEP_SUMMARY`, each `run:` in `bash -eo pipefail`. The secrets hold the emulator's credentials
//!   under the names adsctl reads (each home's `auth::env_names`), so a variable the recipe names differently is
//!   empty and the job fails. `actions/checkout` is a copy of the quickstart; `docker` and `gh`, which cannot run
//!   here, are stand-ins: `docker` hands out the test's adsctl binary only from the path the Dockerfile installs
//!   it to, `gh` records the comment it would post.
//! - The systemd unit (`examples/systemd/adsctl-watch.service`) is parsed: its `EnvironmentFile=` is the
//!   recipe's `watch.env` filled in by name the way a user would, its `Environment=` lines and its `ExecStart=`
//!   run with paths under a temporary root (and `--listen` on a free port), and it is stopped with its
//!   `KillSignal=` within its `TimeoutStopSec=`.
//! - The Dockerfile's structural promises (it cannot be built here: no container engine).
//!
//! What only the test adds: where the platforms are (`ADSCTL_GOOGLE_ADS_ENDPOINT`, `ADSCTL_META_ENDPOINT`: the
//! emulator on 127.0.0.1), `PATH` and `HOME`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use adsctl::emulator::config::{GoogleCustomerSeed, MetaAdAccountSeed};
use adsctl::emulator::platform::defaults;
use adsctl::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use adsctl::model::Platform;
use adsctl::platforms::google_ads::auth::env_names as google_env;
use adsctl::platforms::meta::auth::env_names as meta_env;
use serde_json::{json, Value as Json};
use serde_yaml::Value as Yaml;

/// The repository secrets / credential file values a user creates, by the names adsctl documents.
fn secrets() -> BTreeMap<String, String> {
    [
        (google_env::GOOGLE_DEVELOPER_TOKEN, defaults::GOOGLE_DEVELOPER_TOKEN),
        (google_env::GOOGLE_CLIENT_ID, defaults::GOOGLE_CLIENT_ID),
        (google_env::GOOGLE_CLIENT_SECRET, defaults::GOOGLE_CLIENT_SECRET),
        (google_env::GOOGLE_REFRESH_TOKEN, defaults::GOOGLE_REFRESH_TOKEN),
        (meta_env::META_ACCESS_TOKEN, defaults::META_ACCESS_TOKEN),
        (meta_env::META_APP_ID, defaults::META_APP_ID),
        (meta_env::META_APP_SECRET, defaults::META_APP_SECRET),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The emulator seeded with the quickstart's accounts, Meta's app requiring `appsecret_proof` (the "Require App
/// Secret" setting a server-side app should have, so that the app secret's variable matters too).
struct World {
    emu: EmulatorHandle,
    rt: tokio::runtime::Runtime,
    tmp: tempfile::TempDir,
}

impl World {
    fn start() -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let project = adsctl::spec::load(&common::repo().join("examples/quickstart")).expect("the quickstart loads");
        let mut config = EmulatorConfig {
            auto_create_accounts: false,
            ..EmulatorConfig::default()
        };
        for a in project.accounts.values() {
            match a.platform {
                Platform::GoogleAds => config.seed.google_ads.customers.push(GoogleCustomerSeed {
                    customer_id: a.platform_id.clone(),
                    currency: a.currency.code().into(),
                    time_zone: "America/New_York".into(),
                    descriptive_name: Some(a.name.clone()),
                    manager: false,
                    clients: vec![],
                }),
                Platform::Meta => config.seed.meta.ad_accounts.push(MetaAdAccountSeed {
                    id: a.platform_id.clone(),
                    currency: a.currency.code().into(),
                    timezone_name: "America/New_York".into(),
                    name: Some(a.name.clone()),
                }),
                other => panic!("the quickstart has a {other} account"),
            }
        }
        let emu = rt.block_on(Emulator::start(config)).expect("the emulator starts");
        let url = emu.url();
        rt.block_on(async {
            let r = reqwest::Client::new()
                .post(format!("{url}/_emulator/meta/config"))
                .json(&json!({ "require_appsecret_proof": true }))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        });
        World {
            emu,
            rt,
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    /// Where the platforms are: the only variables the test adds to a recipe's environment.
    fn network(&self) -> Vec<(String, String)> {
        vec![
            ("ADSCTL_GOOGLE_ADS_ENDPOINT".into(), self.emu.url()),
            ("ADSCTL_META_ENDPOINT".into(), self.emu.url()),
        ]
    }

    /// A new directory under the world's temporary directory.
    fn dir(&self, name: &str) -> PathBuf {
        let d = self.tmp.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d.canonicalize().unwrap()
    }
}

/// A minimal environment for a process: a fixed PATH (stand-ins first) and a HOME of its own.
fn base_env(path_dirs: &[PathBuf], home: &Path) -> Vec<(String, String)> {
    let mut path: Vec<String> = path_dirs.iter().map(|p| p.display().to_string()).collect();
    path.extend(["/usr/bin".to_string(), "/bin".to_string()]);
    vec![
        ("PATH".into(), path.join(":")),
        ("HOME".into(), home.display().to_string()),
        ("LANG".into(), "C.UTF-8".into()),
    ]
}

// ------------------------------------------------------------------------------------------------------------
// The Dockerfile

/// The Dockerfile's stages: (the `FROM` line, the instructions of the stage), with continuation lines joined.
fn dockerfile_stages() -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(common::repo().join("Dockerfile")).expect("a Dockerfile");
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if current.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if t.starts_with('#') {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(t);
                instructions.push(std::mem::take(&mut current));
            }
        }
    }
    let mut stages: Vec<(String, Vec<String>)> = Vec::new();
    for i in instructions {
        if i.to_ascii_uppercase().starts_with("FROM ") {
            stages.push((i, Vec::new()));
        } else {
            stages.last_mut().expect("FROM first").1.push(i);
        }
    }
    stages
}

/// Where the final image holds adsctl: the destination of the final stage's `COPY --from=…` of the binary.
fn image_binary_path() -> String {
    let stages = dockerfile_stages();
    let (_, last) = stages.last().expect("a stage");
    let copy = last
        .iter()
        .find(|i| i.starts_with("COPY --from="))
        .expect("the final stage copies the binary from the build stage");
    copy.split_whitespace().last().unwrap().to_string()
}

#[test]
fn the_dockerfile_is_multi_stage_small_non_root_and_self_contained() {
    let stages = dockerfile_stages();
    assert!(stages.len() >= 2, "multi-stage: {stages:#?}");
    let (from_build, build) = &stages[0];
    let build_name = from_build.split_whitespace().last().unwrap();
    assert!(from_build.contains(" AS "), "the build stage is named: {from_build}");
    assert!(
        build
            .iter()
            .any(|i| i.starts_with("RUN ") && i.contains("cargo build --release --locked")),
        "built from the lock file: {build:#?}"
    );
    let (from_runtime, runtime) = stages.last().unwrap();
    assert!(
        from_runtime.contains("distroless") || from_runtime.contains("-slim") || from_runtime.contains("scratch"),
        "a small runtime base: {from_runtime}"
    );
    // Nothing is installed or fetched in the runtime image; it only receives the binary.
    assert!(!runtime.iter().any(|i| i.starts_with("RUN ")), "{runtime:#?}");
    let copy = runtime.iter().find(|i| i.starts_with("COPY ")).unwrap();
    assert!(copy.starts_with(&format!("COPY --from={build_name} ")), "{copy}");
    let bin = image_binary_path();
    assert_eq!(bin, "/usr/local/bin/adsctl");
    let entry = runtime.iter().find(|i| i.starts_with("ENTRYPOINT")).unwrap();
    assert_eq!(
        entry,
        &format!("ENTRYPOINT [\"{bin}\"]"),
        "adsctl itself, no wrapper script"
    );
    // Runs as a user other than root.
    let user = runtime
        .iter()
        .rev()
        .find_map(|i| i.strip_prefix("USER "))
        .expect("a USER in the runtime stage");
    let uid = user.split(':').next().unwrap().trim();
    assert!(!["root", "0", ""].contains(&uid), "non-root: USER {user}");

    // Built from the repository alone: everything the build stage copies exists in the repository and is not
    // left out of the build context; build output and local state are.
    let ignore = std::fs::read_to_string(common::repo().join(".dockerignore")).expect("a .dockerignore");
    let ignored: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for must in ["target/", "**/.adsctl/", ".git/"] {
        assert!(ignored.contains(&must), ".dockerignore leaves out {must}: {ignored:?}");
    }
    for copy in build.iter().filter(|i| i.starts_with("COPY ")) {
        let parts: Vec<&str> = copy
            .split_whitespace()
            .skip(1)
            .filter(|p| !p.starts_with("--"))
            .collect();
        for src in &parts[..parts.len() - 1] {
            assert!(common::repo().join(src).exists(), "{copy}: {src} is in the repository");
            let top = format!("{}/", src.trim_end_matches('/'));
            assert!(
                !ignored.contains(&top.as_str()),
                "{copy}: {src} is in the build context"
            );
        }
    }
    // Cargo.toml's targets and the workspace's members are all in the context (cargo refuses a manifest whose
    // targets or members are missing).
    let manifest: toml_lite::Manifest = toml_lite::parse(&common::repo().join("Cargo.toml"));
    for path in manifest.target_dirs {
        assert!(
            build
                .iter()
                .any(|i| i.starts_with("COPY ") && i.contains(&format!(" {path} "))),
            "the build stage copies {path}/ (a target or workspace member of Cargo.toml)"
        );
    }
}

/// Just enough of Cargo.toml for the Dockerfile test: the directories its targets and workspace members live in.
mod toml_lite {
    use std::path::Path;

    pub struct Manifest {
        pub target_dirs: Vec<String>,
    }

    pub fn parse(path: &Path) -> Manifest {
        let text = std::fs::read_to_string(path).unwrap();
        let mut dirs = vec!["src".to_string()];
        for line in text.lines() {
            if line.trim() == "[[bench]]" && !dirs.contains(&"benches".to_string()) {
                dirs.push("benches".into());
            }
            let mut paths: Vec<&str> = Vec::new();
            if let Some(p) = line.trim().strip_prefix("path = \"") {
                paths.push(p);
            }
            // `members = ["crates/a", "crates/b"]` (on one line)
            if let Some(list) = line.trim().strip_prefix("members = [") {
                paths.extend(list.split('"').skip(1).step_by(2));
            }
            for p in paths {
                let dir = p.split('/').next().unwrap_or_default().to_string();
                if !dirs.contains(&dir) && dir != "." {
                    dirs.push(dir);
                }
            }
        }
        Manifest { target_dirs: dirs }
    }
}

// ------------------------------------------------------------------------------------------------------------
// GitHub Actions expressions: just what workflows use (contexts, literals, ==, !=, !, &&, ||, parentheses,
// format(), startsWith(), contains(), success(), always(), failure()). Anything else fails the test loudly.

mod expr {
    use serde_json::Value as Json;

    #[derive(Clone, Debug, PartialEq)]
    pub enum V {
        Null,
        Bool(bool),
        Num(f64),
        Str(String),
    }

    impl V {
        pub fn truthy(&self) -> bool {
            match self {
                V::Null => false,
                V::Bool(b) => *b,
                V::Num(n) => *n != 0.0 && !n.is_nan(),
                V::Str(s) => !s.is_empty(),
            }
        }
        pub fn text(&self) -> String {
            match self {
                V::Null => String::new(),
                V::Bool(b) => b.to_string(),
                V::Num(n) if n.fract() == 0.0 => format!("{}", *n as i64),
                V::Num(n) => n.to_string(),
                V::Str(s) => s.clone(),
            }
        }
        fn num(&self) -> f64 {
            match self {
                V::Null => 0.0,
                V::Bool(b) => f64::from(u8::from(*b)),
                V::Num(n) => *n,
                V::Str(s) if s.trim().is_empty() => 0.0,
                V::Str(s) => s.trim().parse().unwrap_or(f64::NAN),
            }
        }
        fn from_json(j: &Json) -> V {
            match j {
                Json::Null => V::Null,
                Json::Bool(b) => V::Bool(*b),
                Json::Number(n) => V::Num(n.as_f64().unwrap_or(f64::NAN)),
                Json::String(s) => V::Str(s.clone()),
                other => V::Str(other.to_string()),
            }
        }
    }

    /// GitHub's loose equality: strings case-insensitively, other mixes as numbers.
    fn equal(a: &V, b: &V) -> bool {
        match (a, b) {
            (V::Str(x), V::Str(y)) => x.eq_ignore_ascii_case(y),
            (V::Null, V::Null) => true,
            (V::Bool(x), V::Bool(y)) => x == y,
            _ => a.num() == b.num(),
        }
    }

    #[derive(Clone, Debug, PartialEq)]
    enum Tok {
        Ident(String),
        Str(String),
        Num(f64),
        Op(&'static str),
    }

    fn lex(s: &str) -> Vec<Tok> {
        let c: Vec<char> = s.chars().collect();
        let mut i = 0;
        let mut out = Vec::new();
        while i < c.len() {
            let ch = c[i];
            if ch.is_whitespace() {
                i += 1;
            } else if ch == '\'' {
                let mut t = String::new();
                i += 1;
                loop {
                    assert!(i < c.len(), "unterminated string in {s:?}");
                    if c[i] == '\'' {
                        if c.get(i + 1) == Some(&'\'') {
                            t.push('\'');
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    t.push(c[i]);
                    i += 1;
                }
                out.push(Tok::Str(t));
            } else if ch.is_ascii_digit() {
                let start = i;
                while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.') {
                    i += 1;
                }
                out.push(Tok::Num(c[start..i].iter().collect::<String>().parse().unwrap()));
            } else if ch.is_alphabetic() || ch == '_' {
                let start = i;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || c[i] == '-') {
                    i += 1;
                }
                out.push(Tok::Ident(c[start..i].iter().collect()));
            } else {
                let two: String = c[i..(i + 2).min(c.len())].iter().collect();
                let op = match two.as_str() {
                    "==" => "==",
                    "!=" => "!=",
                    "&&" => "&&",
                    "||" => "||",
                    _ => match ch {
                        '!' => "!",
                        '(' => "(",
                        ')' => ")",
                        ',' => ",",
                        '.' => ".",
                        _ => panic!("unsupported character {ch:?} in expression {s:?}"),
                    },
                };
                i += op.len();
                out.push(Tok::Op(op));
            }
        }
        out
    }

    pub struct Eval<'a> {
        pub ctx: &'a Json,
        /// Whether every step so far succeeded (for `success()` / `failure()`).
        pub ok: bool,
    }

    struct P<'a, 'b> {
        t: Vec<Tok>,
        i: usize,
        e: &'b Eval<'a>,
        src: String,
    }

    impl P<'_, '_> {
        fn peek(&self) -> Option<&Tok> {
            self.t.get(self.i)
        }
        fn eat(&mut self, op: &str) -> bool {
            if self.peek()
                == Some(&Tok::Op(match op {
                    "==" => "==",
                    "!=" => "!=",
                    "&&" => "&&",
                    "||" => "||",
                    "!" => "!",
                    "(" => "(",
                    ")" => ")",
                    "," => ",",
                    "." => ".",
                    _ => unreachable!(),
                }))
            {
                self.i += 1;
                true
            } else {
                false
            }
        }
        fn or(&mut self) -> V {
            let mut l = self.and();
            while self.eat("||") {
                let r = self.and();
                l = if l.truthy() { l } else { r };
            }
            l
        }
        fn and(&mut self) -> V {
            let mut l = self.cmp();
            while self.eat("&&") {
                let r = self.cmp();
                l = if l.truthy() { r } else { l };
            }
            l
        }
        fn cmp(&mut self) -> V {
            let l = self.unary();
            if self.eat("==") {
                let r = self.unary();
                return V::Bool(equal(&l, &r));
            }
            if self.eat("!=") {
                let r = self.unary();
                return V::Bool(!equal(&l, &r));
            }
            l
        }
        fn unary(&mut self) -> V {
            if self.eat("!") {
                return V::Bool(!self.unary().truthy());
            }
            self.primary()
        }
        fn primary(&mut self) -> V {
            if self.eat("(") {
                let v = self.or();
                assert!(self.eat(")"), "missing ) in {:?}", self.src);
                return v;
            }
            let tok = self.t.get(self.i).cloned();
            self.i += 1;
            match tok {
                Some(Tok::Str(s)) => V::Str(s),
                Some(Tok::Num(n)) => V::Num(n),
                Some(Tok::Ident(id)) if id == "true" => V::Bool(true),
                Some(Tok::Ident(id)) if id == "false" => V::Bool(false),
                Some(Tok::Ident(id)) if id == "null" => V::Null,
                Some(Tok::Ident(id)) if self.eat("(") => {
                    let mut args = Vec::new();
                    if !self.eat(")") {
                        loop {
                            args.push(self.or());
                            if self.eat(")") {
                                break;
                            }
                            assert!(self.eat(","), "bad call in {:?}", self.src);
                        }
                    }
                    self.call(&id, args)
                }
                Some(Tok::Ident(id)) => {
                    let mut j = self.e.ctx.get(&id).cloned().unwrap_or(Json::Null);
                    while self.eat(".") {
                        match self.t.get(self.i).cloned() {
                            Some(Tok::Ident(k)) => {
                                self.i += 1;
                                j = j.get(&k).cloned().unwrap_or(Json::Null);
                            }
                            other => panic!("bad property {other:?} in {:?}", self.src),
                        }
                    }
                    V::from_json(&j)
                }
                other => panic!("unexpected {other:?} in {:?}", self.src),
            }
        }
        fn call(&self, f: &str, args: Vec<V>) -> V {
            match (f, args.as_slice()) {
                ("format", [fmt, rest @ ..]) => {
                    let mut s = fmt.text();
                    for (k, a) in rest.iter().enumerate() {
                        s = s.replace(&format!("{{{k}}}"), &a.text());
                    }
                    V::Str(s)
                }
                ("startsWith", [a, b]) => V::Bool(a.text().to_lowercase().starts_with(&b.text().to_lowercase())),
                ("contains", [a, b]) => V::Bool(a.text().to_lowercase().contains(&b.text().to_lowercase())),
                ("success", []) => V::Bool(self.e.ok),
                ("failure", []) => V::Bool(!self.e.ok),
                ("always", []) => V::Bool(true),
                ("cancelled", []) => V::Bool(false),
                _ => panic!("unsupported function {f}({args:?}) in {:?}", self.src),
            }
        }
    }

    impl Eval<'_> {
        pub fn eval(&self, src: &str) -> V {
            let mut p = P {
                t: lex(src),
                i: 0,
                e: self,
                src: src.to_string(),
            };
            let v = p.or();
            assert_eq!(p.i, p.t.len(), "trailing tokens in {src:?}");
            v
        }

        /// A string with `${{ … }}` expressions substituted.
        pub fn template(&self, s: &str) -> String {
            let mut out = String::new();
            let mut rest = s;
            while let Some(start) = rest.find("${{") {
                out.push_str(&rest[..start]);
                let end = rest[start..].find("}}").expect("closed ${{ }}") + start;
                out.push_str(&self.eval(&rest[start + 3..end]).text());
                rest = &rest[end + 2..];
            }
            out.push_str(rest);
            out
        }

        /// An `if:` value: a bare expression or one in `${{ }}`.
        pub fn condition(&self, s: &str) -> bool {
            let t = s.trim();
            match t.strip_prefix("${{").and_then(|x| x.strip_suffix("}}")) {
                Some(inner) => self.eval(inner).truthy(),
                None => self.eval(t).truthy(),
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------------------
// The CI workflow

fn workflow() -> Yaml {
    let path = common::repo().join("examples/ci/adsctl.yml");
    serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).expect("the workflow is YAML")
}

/// A string, a number or a boolean of the workflow as text.
fn scalar(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Null => String::new(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// The `env:` of a workflow, job or step, evaluated in order.
fn env_block(node: &Yaml, ev: &expr::Eval) -> Vec<(String, String)> {
    match node.get("env") {
        None => Vec::new(),
        Some(Yaml::Mapping(m)) => m.iter().map(|(k, v)| (scalar(k), ev.template(&scalar(v)))).collect(),
        Some(other) => panic!("env is not a mapping: {other:?}"),
    }
}

/// The event that triggers a run.
struct Event {
    name: &'static str,
    git_ref: String,
    payload: Json,
}

impl Event {
    fn pull_request(number: u64) -> Event {
        Event {
            name: "pull_request",
            git_ref: format!("refs/pull/{number}/merge"),
            payload: json!({ "pull_request": { "number": number } }),
        }
    }
    fn push_to_main() -> Event {
        Event {
            name: "push",
            git_ref: "refs/heads/main".into(),
            payload: json!({}),
        }
    }
}

/// What one job did.
#[derive(Debug)]
struct JobRun {
    ran: bool,
    ok: bool,
    /// Every step's name, outcome and output.
    log: String,
    workspace: PathBuf,
    summary: String,
    gh_calls: String,
    gh_bodies: String,
}

/// The stand-ins for `docker` and `gh` in `dir`.
fn stand_ins(dir: &Path, image: &str, log: &Path) {
    let bin = env!("CARGO_BIN_EXE_adsctl");
    let path_in_image = image_binary_path();
    let docker = format!(
        r#"#!/bin/bash
# Stand-in for the docker CLI: the image {image} holds the adsctl under test at {path_in_image}.
set -euo pipefail
case "${{1:-}}" in
  create)
    [ "${{2:-}}" = "{image}" ] || {{ echo "Unable to find image '${{2:-}}' locally" >&2; exit 125; }}
    echo 3f1c0ffee ;;
  cp)
    [ "${{2:-}}" = "3f1c0ffee:{path_in_image}" ] || {{ echo "Error response from daemon: Could not find the file in container: ${{2:-}}" >&2; exit 1; }}
    cp "{bin}" "$3" ;;
  rm)
    echo "${{2:-}}" ;;
  *)
    echo "docker stand-in: unsupported: $*" >&2; exit 1 ;;
esac
"#
    );
    let gh = format!(
        r#"#!/bin/bash
# Stand-in for the GitHub CLI: records what would be posted.
set -euo pipefail
[ -n "${{GH_TOKEN:-}}" ] || {{ echo "gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable." >&2; exit 4; }}
echo "$*" >> "{log}/gh-calls"
while [ $# -gt 0 ]; do
  if [ "$1" = "--body-file" ]; then cat "$2" >> "{log}/gh-bodies"; fi
  shift
done
"#,
        log = log.display()
    );
    for (name, text) in [("docker", docker), ("gh", gh)] {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

const IMAGE: &str = "ghcr.io/example/adsctl:test";

/// Run every job of `wf` for `event` on fresh runners, the way GitHub Actions does.
fn run_workflow(world: &World, wf: &Yaml, event: &Event, run_id: &str) -> BTreeMap<String, JobRun> {
    let secrets = secrets();
    let vars = json!({ "ADSCTL_IMAGE": IMAGE });
    let github = json!({
        "event_name": event.name,
        "ref": event.git_ref,
        "repository": "example/campaigns",
        "repository_owner": "example",
        "actor": "octocat",
        "token": "ghs_test-token",
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "event": event.payload,
        "workspace": "",
    });
    let mut ctx = json!({ "secrets": secrets, "vars": vars, "github": github });
    let workflow_env = env_block(wf, &expr::Eval { ctx: &ctx, ok: true });
    ctx["env"] = json!(workflow_env.iter().cloned().collect::<BTreeMap<_, _>>());

    let jobs = wf.get("jobs").and_then(Yaml::as_mapping).expect("jobs");
    let mut out = BTreeMap::new();
    for (name, job) in jobs {
        let name = scalar(name);
        assert!(
            job.get("needs").is_none(),
            "job {name}: `needs` is not supported by this test"
        );
        let root = world.dir(&format!("{run_id}-{name}"));
        let (runner_temp, workspace, home, bin, log) = (
            root.join("runner-temp"),
            root.join("workspace"),
            root.join("home"),
            root.join("stand-ins"),
            root.join("log"),
        );
        for d in [&runner_temp, &workspace, &home, &bin, &log] {
            std::fs::create_dir_all(d).unwrap();
        }
        let mut jctx = ctx.clone();
        jctx["runner"] = json!({ "temp": runner_temp, "os": "Linux", "arch": "X64" });
        jctx["github"]["workspace"] = json!(workspace);
        jctx["steps"] = json!({});
        let cond = job.get("if").map(scalar).unwrap_or_else(|| "success()".into());
        if !(expr::Eval { ctx: &jctx, ok: true }).condition(&cond) {
            out.insert(
                name,
                JobRun {
                    ran: false,
                    ok: true,
                    log: String::new(),
                    workspace,
                    summary: String::new(),
                    gh_calls: String::new(),
                    gh_bodies: String::new(),
                },
            );
            continue;
        }
        stand_ins(&bin, IMAGE, &log);
        let files = [
            ("GITHUB_OUTPUT", runner_temp.join("_output")),
            ("GITHUB_PATH", runner_temp.join("_path")),
            ("GITHUB_ENV", runner_temp.join("_env")),
            ("GITHUB_STEP_SUMMARY", runner_temp.join("_summary")),
        ];
        for (_, f) in &files {
            std::fs::write(f, "").unwrap();
        }
        let job_env = env_block(job, &expr::Eval { ctx: &jctx, ok: true });
        let mut ok = true;
        let mut text = String::new();
        let mut extra_path: Vec<PathBuf> = Vec::new();
        let mut extra_env: Vec<(String, String)> = Vec::new();
        let steps = job.get("steps").and_then(Yaml::as_sequence).expect("steps");
        for (n, step) in steps.iter().enumerate() {
            let label = step
                .get("name")
                .or_else(|| step.get("uses"))
                .or_else(|| step.get("run"))
                .map(scalar)
                .unwrap_or_default();
            let ev = expr::Eval { ctx: &jctx, ok };
            let cond = step.get("if").map(scalar).unwrap_or_else(|| "success()".into());
            if !ev.condition(&cond) {
                text.push_str(&format!("--- step {n} `{label}`: skipped ({cond})\n"));
                continue;
            }
            if let Some(uses) = step.get("uses").map(scalar) {
                assert!(
                    uses.starts_with("actions/checkout@"),
                    "job {name}: this test cannot run `uses: {uses}`"
                );
                // The campaigns repository: the quickstart, without any state.
                common::copy_fixture(&common::repo().join("examples/quickstart"), &workspace);
                text.push_str(&format!("--- step {n} `{label}`: checked out the quickstart\n"));
                continue;
            }
            let script = ev.template(&scalar(step.get("run").expect("run or uses")));
            let step_env = env_block(step, &ev);
            let mut path_dirs: Vec<PathBuf> = extra_path.iter().rev().cloned().collect();
            path_dirs.push(bin.clone());
            let mut cmd = Command::new("bash");
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
                .current_dir(&workspace)
                .env_clear()
                .envs(base_env(&path_dirs, &home))
                .envs(world.network())
                .env("CI", "true")
                .env("GITHUB_ACTIONS", "true")
                .env("RUNNER_TEMP", &runner_temp)
                .env("GITHUB_WORKSPACE", &workspace)
                .env("GITHUB_SHA", jctx["github"]["sha"].as_str().unwrap())
                .env("GITHUB_REF", &event.git_ref)
                .env("GITHUB_EVENT_NAME", event.name)
                .envs(files.iter().map(|(k, v)| (*k, v.as_os_str())))
                .envs(workflow_env.iter().cloned())
                .envs(job_env.iter().cloned())
                .envs(extra_env.iter().cloned())
                .envs(step_env);
            let output = run_with_timeout(cmd, Duration::from_secs(180));
            let code = output.status.code().unwrap_or(-1);
            text.push_str(&format!(
                "--- step {n} `{label}`: exit {code}\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
            if code != 0 {
                ok = false;
            }
            if let Some(id) = step.get("id").map(scalar) {
                let outputs: BTreeMap<String, String> = std::fs::read_to_string(&files[0].1)
                    .unwrap()
                    .lines()
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                jctx["steps"][id.as_str()] =
                    json!({ "outputs": outputs, "outcome": if code == 0 { "success" } else { "failure" } });
            }
            std::fs::write(&files[0].1, "").unwrap();
            for l in std::fs::read_to_string(&files[1].1).unwrap().lines() {
                if !l.trim().is_empty() && !extra_path.contains(&PathBuf::from(l.trim())) {
                    extra_path.push(PathBuf::from(l.trim()));
                }
            }
            std::fs::write(&files[1].1, "").unwrap();
            for l in std::fs::read_to_string(&files[2].1).unwrap().lines() {
                if let Some((k, v)) = l.split_once('=') {
                    extra_env.push((k.to_string(), v.to_string()));
                }
            }
            std::fs::write(&files[2].1, "").unwrap();
        }
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        out.insert(
            name,
            JobRun {
                ran: true,
                ok,
                log: text,
                summary: read(files[3].1.clone()),
                gh_calls: read(log.join("gh-calls")),
                gh_bodies: read(log.join("gh-bodies")),
                workspace,
            },
        );
    }
    out
}

fn run_with_timeout(mut cmd: Command, timeout: Duration) -> std::process::Output {
    use std::process::Stdio;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + timeout;
            while std::time::Instant::now() < deadline {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        })
    };
    let out = child.wait_with_output().expect("the step finishes");
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = watchdog.join();
    out
}

fn job<'a>(runs: &'a BTreeMap<String, JobRun>, name: &str) -> &'a JobRun {
    runs.get(name)
        .unwrap_or_else(|| panic!("no job {name}: {:?}", runs.keys()))
}

#[test]
fn the_ci_recipe_plans_on_a_pull_request_and_applies_on_merge() {
    let world = World::start();
    let wf = workflow();
    let on = wf.get("on").expect("on:");
    assert!(on.get("pull_request").is_some() && on.get("push").is_some(), "{on:?}");

    // A pull request: the plan job plans, comments and publishes the plan; nothing is applied.
    let runs = run_workflow(&world, &wf, &Event::pull_request(7), "pr7");
    let plan = job(&runs, "plan");
    assert!(plan.ran && plan.ok, "the plan job failed:\n{}", plan.log);
    assert!(!job(&runs, "apply").ran, "no apply on a pull request");
    let md = std::fs::read_to_string(plan.workspace.join("plan.md")).unwrap();
    assert!(
        md.contains("**Plan: 10 to create, 0 to update, 0 to replace, 0 to pause, 0 to remove, 0 unchanged.**"),
        "{md}\n{}",
        plan.log
    );
    assert!(plan.summary.contains(&md), "the plan is in the job summary");
    assert!(
        plan.gh_calls.starts_with("pr comment 7 --body-file comment.md"),
        "{}",
        plan.gh_calls
    );
    assert!(
        plan.gh_bodies.starts_with("<!-- adsctl-plan -->\n### adsctl plan"),
        "{}",
        plan.gh_bodies
    );
    assert!(
        plan.log.contains("step 5 `Fail on plan errors`: skipped"),
        "{}",
        plan.log
    );
    for s in secrets().values() {
        assert!(
            !plan.log.contains(s.as_str()) && !md.contains(s.as_str()),
            "a secret was printed"
        );
    }

    // The merge: the apply job applies exactly the plan it made.
    let runs = run_workflow(&world, &wf, &Event::push_to_main(), "push");
    let apply = job(&runs, "apply");
    assert!(apply.ran && apply.ok, "the apply job failed:\n{}", apply.log);
    assert!(!job(&runs, "plan").ran);
    assert!(
        apply.log.contains("Apply complete: 10 succeeded, 0 failed, 0 skipped."),
        "{}",
        apply.log
    );
    assert!(apply.summary.contains("**Plan: 10 to create"), "{}", apply.summary);

    // The next pull request, on a fresh runner with no state: nothing is created twice, removed or paused.
    let runs = run_workflow(&world, &wf, &Event::pull_request(8), "pr8");
    let plan = job(&runs, "plan");
    assert!(plan.ran && plan.ok, "{}", plan.log);
    let md = std::fs::read_to_string(plan.workspace.join("plan.md")).unwrap();
    assert!(md.contains("**Plan: 0 to create, "), "{md}");
    assert!(md.contains(" 0 to replace, 0 to pause, 0 to remove, "), "{md}");
    // A fresh runner on an applied repository plans nothing: ownership and the audiences' member fingerprints
    // live on the platforms.
    let changed: Vec<&str> = md
        .lines()
        .filter(|l| l.starts_with('!') || l.starts_with('+') || l.starts_with('-') || l.starts_with('‖'))
        .collect();
    assert!(
        changed.is_empty(),
        "a fresh runner plans changes on an applied repository: {md}"
    );
    assert!(md.contains("0 to update"), "{md}");
}

/// The credential variables the workflow sets from secrets.
fn secret_variables(wf: &Yaml) -> Vec<String> {
    let env = wf.get("env").and_then(Yaml::as_mapping).expect("a workflow-level env");
    env.iter()
        .filter(|(_, v)| scalar(v).contains("secrets."))
        .map(|(k, _)| scalar(k))
        .collect()
}

#[test]
fn the_ci_recipe_fails_when_a_credential_variable_has_another_name() {
    let world = World::start();
    let wf = workflow();
    let names = secret_variables(&wf);
    assert!(names.len() >= 5, "{names:?}");
    for name in &names {
        // The same recipe with one variable named the way the old recipe named it.
        let mut bad = wf.clone();
        let env = bad.get_mut("env").and_then(Yaml::as_mapping_mut).unwrap();
        let value = env.remove(name.as_str()).unwrap();
        env.insert(Yaml::String(format!("ADSCTL_{name}")), value);
        let runs = run_workflow(&world, &bad, &Event::pull_request(9), &format!("bad-{name}"));
        let plan = job(&runs, "plan");
        assert!(plan.ran, "{name}");
        assert!(!plan.ok, "renaming {name} must fail the plan job:\n{}", plan.log);
        assert!(
            plan.log.contains("step 5 `Fail on plan errors`: exit 1"),
            "{name}: the job fails on the plan's error:\n{}",
            plan.log
        );
    }
}

#[test]
fn the_ci_recipe_applies_once_per_repository_and_never_compiles_adsctl() {
    let wf = workflow();
    let jobs = wf.get("jobs").and_then(Yaml::as_mapping).unwrap();
    let apply = jobs.get("apply").expect("an apply job");
    let c = apply.get("concurrency").expect("the apply job has a concurrency group");
    let group = scalar(c.get("group").expect("group"));
    assert!(group.contains("github.repository"), "one apply per repository: {group}");
    assert!(!group.contains("github.ref"), "not per branch: {group}");
    assert_eq!(
        c.get("cancel-in-progress").map(scalar).as_deref(),
        Some("false"),
        "an apply is never cancelled"
    );
    for (name, job) in jobs {
        for step in job.get("steps").and_then(Yaml::as_sequence).unwrap() {
            let run = step.get("run").map(scalar).unwrap_or_default();
            assert!(
                !run.contains("cargo install") && !run.contains("cargo build"),
                "job {}: no job compiles adsctl: {run}",
                scalar(name)
            );
        }
    }
}

// ------------------------------------------------------------------------------------------------------------
// The systemd unit

/// `[Service]` settings of the unit, in order (a key may repeat).
fn unit_service() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(common::repo().join("examples/systemd/adsctl-watch.service")).unwrap();
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        if section == "[Service]" {
            let (k, v) = line.split_once('=').expect("key=value");
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// systemd's word splitting (double and single quotes, no variable expansion).
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// An environment file as systemd reads it (`KEY=value` lines, `#` comments).
fn env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

/// The unit's daemon, started the way systemd would start it, with its filesystem under `root`.
struct Unit {
    daemon: common::Daemon,
    kill_signal: String,
    stop_timeout: Duration,
}

/// Start the unit with its environment file filled in from `secrets` by name. `rename` renames one variable of
/// the recipe's file first (to show that the test notices).
fn start_unit(world: &World, root: &Path, rename: Option<&str>) -> Unit {
    let service = unit_service();
    let get = |k: &str| service.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let remap = |s: &str| -> String {
        s.replace("/usr/local/bin/adsctl", env!("CARGO_BIN_EXE_adsctl"))
            .replace("/var/lib/adsctl", &root.join("var/lib/adsctl").display().to_string())
            .replace("/etc/adsctl", &root.join("etc/adsctl").display().to_string())
    };
    // adsctl where the Dockerfile installs it (the image is how the README gets it onto a server).
    let exec = words(&get("ExecStart").expect("ExecStart"));
    assert_eq!(
        exec[0],
        image_binary_path(),
        "the unit runs adsctl from where the image has it"
    );
    // The deployment: the campaigns repository in WorkingDirectory, the state directory.
    let workdir = PathBuf::from(remap(&get("WorkingDirectory").expect("WorkingDirectory")));
    common::copy_fixture(&common::repo().join("examples/quickstart"), &workdir);
    // The credentials file, from the recipe's template, filled in by name.
    let env_path = get("EnvironmentFile").expect("EnvironmentFile");
    let env_path = env_path.trim_start_matches('-');
    let template_name = Path::new(env_path).file_name().unwrap();
    let template = std::fs::read_to_string(common::repo().join("examples/systemd").join(template_name))
        .unwrap_or_else(|e| panic!("the recipe ships its EnvironmentFile as examples/systemd/{template_name:?}: {e}"));
    let secrets = secrets();
    let mut filled = String::new();
    for line in template.lines() {
        let mut line = line.to_string();
        if let Some(old) = rename {
            if line.starts_with(&format!("{old}=")) {
                line = format!("ADSCTL_{line}");
            }
        }
        match line.split_once('=') {
            Some((k, "")) if !k.trim_start().starts_with('#') => {
                let v = secrets.get(k.trim()).cloned().unwrap_or_default();
                filled.push_str(&format!("{k}={v}\n"));
            }
            _ => filled.push_str(&format!("{line}\n")),
        }
    }
    let env_path = PathBuf::from(remap(env_path));
    std::fs::create_dir_all(env_path.parent().unwrap()).unwrap();
    std::fs::write(&env_path, &filled).unwrap();
    let mut env = env_file(&std::fs::read_to_string(&env_path).unwrap());
    for e in service.iter().filter(|(k, _)| k == "Environment") {
        for w in words(&e.1) {
            let (k, v) = w.split_once('=').expect("Environment=KEY=value");
            env.push((k.to_string(), remap(v)));
        }
    }
    for (_, v) in env.iter().filter(|(k, _)| k == "ADSCTL_STATE_DIR") {
        std::fs::create_dir_all(v).unwrap();
    }
    // ExecStart, with a free port instead of the fixed one (tests run side by side).
    let mut args: Vec<String> = exec[1..].iter().map(|a| remap(a)).collect();
    if let Some(i) = args.iter().position(|a| a == "--listen") {
        args[i + 1] = "127.0.0.1:0".into();
    }
    let home = root.join("var/lib/adsctl");
    let mut cmd = Command::new(remap(&exec[0]));
    cmd.args(&args)
        .current_dir(&workdir)
        .env_clear()
        .envs(base_env(&[], &home))
        .envs(world.network())
        .envs(env);
    let daemon = common::Daemon::spawn(cmd);
    Unit {
        daemon,
        kill_signal: get("KillSignal")
            .unwrap_or_else(|| "SIGTERM".into())
            .trim_start_matches("SIG")
            .to_string(),
        stop_timeout: Duration::from_secs(
            get("TimeoutStopSec")
                .map(|s| s.trim_end_matches('s').parse().unwrap())
                .unwrap_or(90),
        ),
    }
}

#[test]
fn the_systemd_unit_keeps_the_quickstart_converged_and_stops_cleanly() {
    let world = World::start();
    let root = world.dir("systemd");
    let mut unit = start_unit(&world, &root, None);
    let addr = unit.daemon.addr.clone();
    let status = world.rt.block_on(common::wait_status(
        &addr,
        Duration::from_secs(90),
        "both accounts in sync",
        |a| a.len() == 2 && a.iter().all(|x| x["status"] == "in_sync"),
    ));
    for a in status["accounts"].as_array().unwrap() {
        let applied = &a["last_applied"];
        assert!(applied["create"].as_u64().unwrap_or(0) > 0, "{a:#}");
    }
    world.rt.block_on(async {
        assert_eq!(common::get(&format!("http://{addr}/healthz")).await.0, 200);
        let (code, page) = common::get(&format!("http://{addr}/")).await;
        assert_eq!(code, 200);
        assert!(page.contains("acme-search") && page.contains("acme-social"), "{page}");
    });
    // The state is where the unit says, not in the (read-only) repository.
    let state = root.join("var/lib/adsctl/state");
    assert!(state.join("db").exists(), "state in ADSCTL_STATE_DIR");
    assert!(
        !root.join("var/lib/adsctl/repo/.adsctl").exists(),
        "nothing written into the repository"
    );
    let log = unit.daemon.log().join("\n");
    for s in secrets().values() {
        assert!(!log.contains(s.as_str()), "a secret was logged");
    }
    let (exit, log) = unit.daemon.stop(&unit.kill_signal, unit.stop_timeout);
    assert!(exit.success(), "{exit:?}: {log:#?}");
}

#[test]
fn the_systemd_unit_fails_when_a_credential_variable_has_another_name() {
    let world = World::start();
    let template = std::fs::read_to_string(common::repo().join("examples/systemd/watch.env")).unwrap();
    let names: Vec<String> = env_file(&template).into_iter().map(|(k, _)| k).collect();
    assert!(names.len() >= 5, "{names:?}");
    for name in &names {
        let platform = if name.starts_with("GOOGLE_ADS_") {
            "google_ads"
        } else {
            "meta"
        };
        let root = world.dir(&format!("systemd-bad-{name}"));
        let mut unit = start_unit(&world, &root, Some(name));
        let status = world.rt.block_on(common::wait_status(
            &unit.daemon.addr,
            Duration::from_secs(60),
            &format!("{name} renamed: the {platform} account fails"),
            |a| {
                a.iter()
                    .any(|x| x["platform"] == platform && x["status"] == "failing" && !x["last_error"].is_null())
            },
        ));
        let failing: Vec<&Json> = status["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["status"] == "failing")
            .collect();
        assert!(failing.iter().all(|x| x["platform"] == platform), "{status:#}");
        let _ = unit.daemon.log();
        let (exit, log) = unit.daemon.stop(&unit.kill_signal, unit.stop_timeout);
        assert!(exit.success(), "{exit:?}: {log:#?}");
    }
}
