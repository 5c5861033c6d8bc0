//! Shared by the integration tests (`mod common;`): copying fixtures out of the checkout.
//!
//! Tests never read state from, or write into, the checkout. A config directory under `examples/` may hold the
//! state a user's own run left there (`adsctl apply examples/quickstart --emulator` writes
//! `examples/quickstart/.adsctl/`: the emulator's accounts, the id map, the audit log), so a fixture is always
//! copied to a temporary directory first, and the copy leaves out every hidden entry (`.adsctl/`, any other
//! state directory, editor and VCS files) and anything that is neither a plain file nor a directory.
#![allow(dead_code)]

pub mod browser;
pub mod emulated;
pub mod fleet;
pub mod pg;

use std::path::{Path, PathBuf};

/// The checkout (read-only for tests).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether a directory entry is state or local clutter rather than part of a fixture: hidden names (`.adsctl`,
/// `.git`, `.DS_Store`, editor swap files).
pub fn is_state(name: &str) -> bool {
    name.starts_with('.')
}

/// Copy the fixture directory `from` into `to` (created if missing), without state (see [`is_state`]) and
/// without the top-level entries named in `except`. Symlinks are not followed (nor copied).
pub fn copy_fixture_except(from: &Path, to: &Path, except: &[&str]) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    let entries = std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
    for e in entries {
        let e = e.unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
        let name = e.file_name();
        let Some(name) = name.to_str() else {
            panic!("{}: a fixture file name that is not UTF-8", e.path().display())
        };
        if is_state(name) || except.contains(&name) {
            continue;
        }
        let kind = e
            .file_type()
            .unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
        let target = to.join(name);
        if kind.is_dir() {
            copy_fixture_except(&e.path(), &target, &[]);
        } else if kind.is_file() {
            std::fs::copy(e.path(), &target).unwrap_or_else(|err| panic!("copy {}: {err}", e.path().display()));
        }
    }
}

/// [`copy_fixture_except`] with nothing excepted.
pub fn copy_fixture(from: &Path, to: &Path) {
    copy_fixture_except(from, to, &[]);
}

/// A fresh copy of `examples/<name>` in a temporary directory: (the guard, the copy's path). The path is
/// canonical (the daemon and the state store compare paths).
pub fn example(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let dir = tmp.path().canonicalize().expect("canonical temp dir").join(name);
    copy_fixture(&repo().join("examples").join(name), &dir);
    (tmp, dir)
}

/// Every file below `dir`, relative to it, sorted.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
            let p = e.expect("a directory entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).expect("below the root").to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A child process killed when dropped: a failing test never leaves a daemon behind.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `adsctl <args>` with `home` as its home and none of the caller's adsctl variables (state, status token,
/// backend, log filter): what the daemon API tests start.
pub fn adsctl_at_home(home: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_adsctl"));
    cmd.args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env_remove("ADSCTL_STATE_DIR")
        .env_remove("ADSCTL_STATE_URL")
        .env_remove("ADSCTL_STATUS_TOKEN")
        .env_remove("ADSCTL_BACKEND")
        .env_remove("RUST_LOG");
    cmd
}

/// A running `adsctl watch --log-format json`: the status server's address and the log lines read so far.
pub struct Daemon {
    child: KillOnDrop,
    pub addr: String,
    lines: std::sync::mpsc::Receiver<String>,
    reader: Option<std::thread::JoinHandle<()>>,
    pub log: Vec<String>,
}

impl Daemon {
    /// Start `cmd` (stderr is taken over) and wait for its status server (`"status server listening"`).
    pub fn spawn(mut cmd: std::process::Command) -> Daemon {
        use std::io::{BufRead, BufReader};
        use std::process::Stdio;
        let mut child = KillOnDrop(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("adsctl watch starts"),
        );
        let stderr = child.0.stderr.take().expect("stderr");
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut log = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut addr = None;
        while addr.is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "no status server after 60 s; log: {log:#?}"
            );
            if let Ok(Some(status)) = child.0.try_wait() {
                log.extend(lines.try_iter());
                panic!("adsctl watch exited with {status}; log: {log:#?}");
            }
            if let Ok(line) = lines.recv_timeout(std::time::Duration::from_millis(100)) {
                let v: serde_json::Value =
                    serde_json::from_str(&line).unwrap_or_else(|_| panic!("a JSON log line: {line}"));
                if v["message"] == "status server listening" {
                    addr = v["listen"].as_str().map(str::to_string);
                }
                log.push(line);
            }
        }
        Daemon {
            child,
            addr: addr.unwrap_or_default(),
            lines,
            reader: Some(reader),
            log,
        }
    }

    /// The log lines so far.
    pub fn log(&mut self) -> &[String] {
        self.log.extend(self.lines.try_iter());
        &self.log
    }

    /// Send `signal` (`TERM`, `INT`) and wait at most `timeout` for the exit: (exit status, whole log).
    pub fn stop(mut self, signal: &str, timeout: std::time::Duration) -> (std::process::ExitStatus, Vec<String>) {
        let ok = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.0.id().to_string())
            .status()
            .expect("kill runs");
        assert!(ok.success(), "kill -{signal}");
        let deadline = std::time::Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.child.0.try_wait().expect("wait") {
                break s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no exit {timeout:?} after SIG{signal}; log: {:#?}",
                self.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.log.extend(self.lines.try_iter());
        (status, std::mem::take(&mut self.log))
    }
}

/// GET `url`: (status code, body). Panics if the server cannot be reached.
pub async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

/// Poll `GET http://{addr}/api/v1/status` until `done(accounts)` holds (at most `timeout`); returns the status.
pub async fn wait_status(
    addr: &str,
    timeout: std::time::Duration,
    what: &str,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = serde_json::Value::Null;
    loop {
        if let Ok(r) = reqwest::get(format!("http://{addr}/api/v1/status")).await {
            if let Ok(v) = r.json::<serde_json::Value>().await {
                if v["accounts"].as_array().is_some_and(|a| done(a)) {
                    return v;
                }
                last = v;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not after {timeout:?}; last status: {last:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
