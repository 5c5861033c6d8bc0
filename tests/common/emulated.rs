//! A project in a temporary directory and the in-process emulator, with the real binary pointed at it (every
//! platform's endpoint and well-known credentials): what tests that drive several platforms at once share.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use adsctl::emulator::platform::defaults;
use adsctl::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::Value;

pub struct Emulated {
    pub rt: tokio::runtime::Runtime,
    em: Option<EmulatorHandle>,
    _tmp: tempfile::TempDir,
    /// The project (config directory).
    pub dir: PathBuf,
    /// A state directory; `with_extension` gives others (fresh runners).
    pub state: PathBuf,
}

impl Drop for Emulated {
    fn drop(&mut self) {
        if let Some(h) = self.em.take() {
            let _ = self.rt.block_on(h.shutdown());
        }
    }
}

impl Emulated {
    /// The emulator started, and the project's files (path relative to the project, text) written.
    pub fn new(files: &[(&str, &str)]) -> Emulated {
        Self::with_config(files, |_| {})
    }

    /// [`Emulated::new`], the emulator's configuration changed by `tweak` first (its seed, its faults).
    #[allow(dead_code)]
    pub fn with_config(files: &[(&str, &str)], tweak: impl FnOnce(&mut EmulatorConfig)) -> Emulated {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut config = EmulatorConfig {
            review_delay: std::time::Duration::ZERO,
            ..Default::default()
        };
        tweak(&mut config);
        let em = rt.block_on(Emulator::start(config)).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo");
        for (f, text) in files {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let state = tmp.path().join("state");
        Emulated {
            rt,
            em: Some(em),
            _tmp: tmp,
            dir,
            state,
        }
    }

    pub fn url(&self) -> String {
        self.em.as_ref().unwrap().url()
    }

    /// The requests the emulator answered (every platform) and how many were refused for a rate limit (429).
    #[allow(dead_code)]
    pub fn requests(&self) -> (u64, u64) {
        let c = self.em.as_ref().unwrap().counters().snapshot();
        let limited = c.endpoints.values().filter_map(|e| e.statuses.get(&429)).sum();
        (c.total_requests, limited)
    }

    /// A platform's emulator state (`hubspot`, `salesforce`, …).
    pub fn dump(&self, platform: &str) -> Value {
        self.em
            .as_ref()
            .unwrap()
            .platforms()
            .all()
            .into_iter()
            .find(|p| p.name() == platform)
            .map(|p| p.dump())
            .unwrap()
    }

    /// The binary with `state` as its state directory and every platform pointed at the emulator.
    pub fn cmd(&self, state: &Path) -> Command {
        let url = self.url();
        let mut c = Command::new(env!("CARGO_BIN_EXE_adsctl"));
        c.env("ADSCTL_STATE_DIR", state)
            .env("NO_COLOR", "1")
            .env("ADSCTL_LEASE_SETTLE_MS", "50")
            .env("ADSCTL_CONFIRM_READ_DELAY_MS", "20")
            .env("ADSCTL_GOOGLE_ADS_ENDPOINT", &url)
            .env("GOOGLE_ADS_CLIENT_ID", defaults::GOOGLE_CLIENT_ID)
            .env("GOOGLE_ADS_CLIENT_SECRET", defaults::GOOGLE_CLIENT_SECRET)
            .env("GOOGLE_ADS_DEVELOPER_TOKEN", defaults::GOOGLE_DEVELOPER_TOKEN)
            .env("GOOGLE_ADS_REFRESH_TOKEN", defaults::GOOGLE_REFRESH_TOKEN)
            .env("ADSCTL_GOOGLE_ADS_POLL_MS", "20")
            .env("ADSCTL_META_ENDPOINT", &url)
            .env("FACEBOOK_APP_ID", defaults::META_APP_ID)
            .env("FACEBOOK_APP_SECRET", defaults::META_APP_SECRET)
            .env("FACEBOOK_ACCESS_TOKEN", defaults::META_ACCESS_TOKEN)
            .env("ADSCTL_MAILCHIMP_ENDPOINT", &url)
            .env("ADSCTL_MAILCHIMP_API_KEY", defaults::MAILCHIMP_API_KEY)
            .env("ADSCTL_HUBSPOT_ENDPOINT", &url)
            .env("ADSCTL_HUBSPOT_ACCESS_TOKEN", defaults::HUBSPOT_PRIVATE_APP_TOKEN)
            .env("ADSCTL_SALESFORCE_INSTANCE_URL", &url)
            .env("ADSCTL_SALESFORCE_LOGIN_URL", &url)
            .env("ADSCTL_SALESFORCE_CLIENT_ID", defaults::SALESFORCE_CLIENT_ID)
            .env("ADSCTL_SALESFORCE_CLIENT_SECRET", defaults::SALESFORCE_CLIENT_SECRET)
            .env("ADSCTL_SALESFORCE_REFRESH_TOKEN", defaults::SALESFORCE_REFRESH_TOKEN)
            .env_remove("ADSCTL_BACKEND")
            .env_remove("RUST_LOG");
        c
    }

    /// Run in the project and require the exit code; stdout and stderr.
    pub fn run(&self, state: &Path, args: &[&str], code: i32) -> String {
        let o = self.cmd(state).args(args).arg(&self.dir).output().unwrap();
        let text = text(&o);
        assert_eq!(o.status.code(), Some(code), "adsctl {args:?}:\n{text}");
        text
    }

    pub fn plan(&self, state: &Path) -> Value {
        let o = self
            .cmd(state)
            .args(["plan", "--json"])
            .arg(&self.dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// Two runners from fresh states apply at once (two CI jobs after two quick merges); both must succeed.
    pub fn apply_twice_at_once(&self, round: usize) {
        let (s1, s2) = (self.state.with_extension("one"), self.state.with_extension("two"));
        let spawn = |s: &Path| {
            self.cmd(s)
                .args(["apply", "--auto-approve", "--lock-timeout", "2m"])
                .arg(&self.dir)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (c1, c2) = (spawn(&s1), spawn(&s2));
        let (o1, o2) = (c1.wait_with_output().unwrap(), c2.wait_with_output().unwrap());
        for (n, o) in [(1, &o1), (2, &o2)] {
            assert!(o.status.success(), "round {round}, runner {n}: {}", text(o));
        }
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
