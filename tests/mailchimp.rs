//! Mailchimp through the real binary against the in-process emulator, beyond the conformance suite: what another
//! client made in the audience is never touched, a tag is the source of Google and Meta audiences, addresses never
//! leave memory, and a sent campaign is settled.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use adsctl::emulator::platform::defaults;
use adsctl::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use serde_json::{json, Value};

struct Env {
    rt: tokio::runtime::Runtime,
    em: Option<EmulatorHandle>,
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    state: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(h) = self.em.take() {
            let _ = self.rt.block_on(h.shutdown());
        }
    }
}

const PROJECT: &str = "accounts:
  acme-mail:
    platform: mailchimp
    list_id: 57afe96172
    currency: USD
    on_removed: remove
  acme-search:
    platform: google_ads
    customer_id: 123-456-7890
    currency: USD
  acme-social:
    platform: meta
    ad_account_id: act_1234567890
    currency: USD
";

const AUDIENCES: &str = "audiences:
  - name: Newsletter
    accounts: [acme-mail]
    customer_file: { path: data/subscribers.csv, column: email }
    status_column: consent
    merge_fields: { FNAME: first_name }
  - name: Newsletter seed
    accounts: [acme-search, acme-social]
    source: { account: acme-mail, audience: Newsletter }
";

const CSV: &str = "email,first_name,consent
alice@mailchimp-test.example,Alice,subscribed
Bob.Smith@Mailchimp-Test.example,Bob,subscribed
carol@mailchimp-test.example,Carol,pending
";

const CAMPAIGNS: &str = "campaigns:
  - name: Spring newsletter
    account: acme-mail
    subject: Spring is here
    from_name: Acme Outdoor
    reply_to: news@acme.example
    recipients: Newsletter
    html: content/spring.html
";

impl Env {
    fn new() -> Env {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let em = rt
            .block_on(Emulator::start(EmulatorConfig {
                review_delay: std::time::Duration::ZERO,
                ..Default::default()
            }))
            .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("repo");
        for (f, text) in [
            ("adsctl.yaml", PROJECT),
            ("audiences.yaml", AUDIENCES),
            ("campaigns.yaml", CAMPAIGNS),
            ("data/subscribers.csv", CSV),
            (
                "content/spring.html",
                "<html><body><p>Hello *|FNAME|*</p></body></html>\n",
            ),
        ] {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let state = tmp.path().join("state");
        Env {
            rt,
            em: Some(em),
            _tmp: tmp,
            dir,
            state,
        }
    }

    fn url(&self) -> String {
        self.em.as_ref().unwrap().url()
    }

    fn cmd(&self, state: &Path) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_adsctl"));
        c.env("ADSCTL_STATE_DIR", state)
            .env("NO_COLOR", "1")
            .env("ADSCTL_LEASE_SETTLE_MS", "50")
            .env("ADSCTL_CONFIRM_READ_DELAY_MS", "20")
            .env("ADSCTL_MAILCHIMP_ENDPOINT", self.url())
            .env("ADSCTL_MAILCHIMP_API_KEY", defaults::MAILCHIMP_API_KEY)
            .env("ADSCTL_GOOGLE_ADS_ENDPOINT", self.url())
            .env("GOOGLE_ADS_CLIENT_ID", defaults::GOOGLE_CLIENT_ID)
            .env("GOOGLE_ADS_CLIENT_SECRET", defaults::GOOGLE_CLIENT_SECRET)
            .env("GOOGLE_ADS_DEVELOPER_TOKEN", defaults::GOOGLE_DEVELOPER_TOKEN)
            .env("GOOGLE_ADS_REFRESH_TOKEN", defaults::GOOGLE_REFRESH_TOKEN)
            .env("ADSCTL_GOOGLE_ADS_POLL_MS", "20")
            .env("ADSCTL_META_ENDPOINT", self.url())
            .env("FACEBOOK_APP_ID", defaults::META_APP_ID)
            .env("FACEBOOK_APP_SECRET", defaults::META_APP_SECRET)
            .env("FACEBOOK_ACCESS_TOKEN", defaults::META_ACCESS_TOKEN)
            .env_remove("ADSCTL_BACKEND")
            .env_remove("RUST_LOG");
        c
    }

    /// Run in the project and require the exit code; stdout and stderr.
    fn run(&self, state: &Path, args: &[&str], code: i32) -> String {
        let o = self.cmd(state).args(args).arg(&self.dir).output().unwrap();
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(o.status.code(), Some(code), "adsctl {args:?}:\n{text}");
        text
    }

    fn plan(&self, state: &Path) -> Value {
        let o = self
            .cmd(state)
            .args(["plan", "--json"])
            .arg(&self.dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    /// Mailchimp's API as another client (the web interface, a colleague's script).
    fn api(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/3.0{path}", self.url());
        self.rt.block_on(async {
            let http = reqwest::Client::new();
            let req = match method {
                "GET" => http.get(&url),
                "PATCH" => http.patch(&url).json(&body),
                _ => http.post(&url).json(&body),
            };
            let resp = req.bearer_auth(defaults::MAILCHIMP_API_KEY).send().await.unwrap();
            assert!(resp.status().is_success(), "{method} {path}: {}", resp.status());
            if resp.status().as_u16() == 204 {
                Value::Null
            } else {
                resp.json().await.unwrap()
            }
        })
    }
}

/// Actions other than no-ops, by address.
fn acted(plan: &Value) -> Vec<(String, String)> {
    plan["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["changes"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["action"] != "no_op")
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_string(),
                c["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_tag_feeds_google_and_meta_audiences_and_addresses_never_leave_memory() {
    let e = Env::new();
    let s = e.state.clone();
    // the first apply makes the tag; the audiences it feeds are made without members (it did not exist yet) …
    e.run(&s, &["apply", "--auto-approve"], 0);
    // … and the next plan knows them: the tag's two subscribed contacts (the pending one is not a subscriber)
    let plan = e.plan(&s);
    let changed: Vec<(String, String)> = acted(&plan);
    assert_eq!(
        changed,
        vec![
            ("acme-search/audience/Newsletter seed".to_string(), "update".to_string()),
            ("acme-social/audience/Newsletter seed".to_string(), "update".to_string()),
        ],
        "{plan}"
    );
    e.run(&s, &["apply", "--auto-approve"], 0);
    e.run(&s, &["plan", "--detailed-exitcode"], 0);

    // a new subscriber in the file: the tag gains them, then the audiences it feeds
    let csv = e.dir.join("data/subscribers.csv");
    let mut text = std::fs::read_to_string(&csv).unwrap();
    text.push_str("dmitri@mailchimp-test.example,Dmitri,subscribed\n");
    std::fs::write(&csv, text).unwrap();
    e.run(&s, &["apply", "--auto-approve"], 0);
    let plan = e.plan(&s);
    assert_eq!(acted(&plan).len(), 2, "the fed audiences follow the tag: {plan}");
    e.run(&s, &["apply", "--auto-approve"], 0);
    e.run(&s, &["plan", "--detailed-exitcode"], 0);

    // the new contact got the file's consent status and merge field
    let hash = adsctl::platforms::mailchimp::lower::subscriber_hash("dmitri@mailchimp-test.example");
    let m = e.api("GET", &format!("/lists/57afe96172/members/{hash}"), Value::Null);
    assert_eq!(m["status"], "subscribed");
    assert_eq!(m["merge_fields"]["FNAME"], "Dmitri");
    let m = e.api(
        "GET",
        &format!(
            "/lists/57afe96172/members/{}",
            adsctl::platforms::mailchimp::lower::subscriber_hash("carol@mailchimp-test.example")
        ),
        Value::Null,
    );
    assert_eq!(m["status"], "pending", "the file's consent status");

    // no address in any output or state file
    let out = e.run(&s, &["plan", "--json"], 0);
    let mut texts = vec![out];
    for f in common::files_below(&s) {
        texts.push(String::from_utf8_lossy(&std::fs::read(s.join(f)).unwrap()).into_owned());
    }
    for t in &texts {
        for a in ["alice@", "bob.smith@", "carol@", "dmitri@"] {
            assert!(
                !t.to_lowercase().contains(a),
                "an address ({a}) in an output or state file"
            );
        }
    }
}

#[test]
fn a_colleagues_tag_and_campaign_are_never_touched_and_a_sent_campaign_is_settled() {
    let e = Env::new();
    let s = e.state.clone();
    e.run(&s, &["apply", "--auto-approve"], 0);
    // a colleague's tag and campaign in the same audience (no marker)
    e.api(
        "POST",
        "/lists/57afe96172/segments",
        json!({"name": "Colleague's tag", "static_segment": []}),
    );
    let theirs = e.api(
        "POST",
        "/campaigns",
        json!({"type": "regular", "recipients": {"list_id": "57afe96172"},
               "settings": {"title": "Colleague's campaign", "subject_line": "Hi", "from_name": "Col",
                            "reply_to": "col@acme.example"}}),
    );
    let id = theirs["id"].as_str().unwrap().to_string();
    let before = e.api("GET", &format!("/campaigns/{id}"), Value::Null);
    for state in [s.clone(), e.state.with_extension("fresh")] {
        let plan = e.plan(&state);
        assert!(
            acted(&plan).iter().all(|(a, _)| !a.contains("Colleague")),
            "someone else's objects are not adsctl's: {plan}"
        );
        e.run(&state, &["apply", "--auto-approve"], 0);
    }
    let after = e.api("GET", &format!("/campaigns/{id}"), Value::Null);
    assert_eq!(before["settings"], after["settings"], "their campaign was changed");
    let tags = e.api("GET", "/lists/57afe96172/segments?type=static&count=1000", Value::Null);
    assert!(
        tags["segments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "Colleague's tag"),
        "their tag is still there"
    );

    // our campaign is sent (from Mailchimp's interface): it cannot change any more, and leaving the YAML under
    // `on_removed: pause` leaves it as it is
    let ours = e.api("GET", "/campaigns?count=1000", Value::Null)["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["settings"]["title"]
                .as_str()
                .unwrap_or("")
                .starts_with("Spring newsletter")
        })
        .and_then(|c| c["id"].as_str().map(str::to_string))
        .unwrap();
    e.api("POST", &format!("/campaigns/{ours}/actions/send"), json!({}));
    e.run(&s, &["plan", "--detailed-exitcode"], 0);
    let yaml = std::fs::read_to_string(e.dir.join("adsctl.yaml")).unwrap();
    std::fs::write(
        e.dir.join("adsctl.yaml"),
        yaml.replace("on_removed: remove", "on_removed: pause"),
    )
    .unwrap();
    std::fs::write(e.dir.join("campaigns.yaml"), "campaigns: []\n").unwrap();
    let plan = e.plan(&s);
    assert_eq!(
        acted(&plan),
        Vec::<(String, String)>::new(),
        "a sent campaign is settled: {plan}"
    );
}

/// Two runners from fresh states apply at once: one applies, the other waits for its lease (a static segment) and
/// finds nothing to do; no tag or campaign is made twice.
#[test]
fn two_runners_at_once_never_duplicate() {
    for round in 0..3 {
        let e = Env::new();
        let (s1, s2) = (e.state.with_extension("one"), e.state.with_extension("two"));
        let spawn = |s: &Path| {
            e.cmd(s)
                .args(["apply", "--auto-approve", "--lock-timeout", "2m"])
                .arg(&e.dir)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (c1, c2) = (spawn(&s1), spawn(&s2));
        let (o1, o2) = (c1.wait_with_output().unwrap(), c2.wait_with_output().unwrap());
        for (n, o) in [(1, &o1), (2, &o2)] {
            assert!(
                o.status.success(),
                "round {round}, runner {n}: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let tags = e.api("GET", "/lists/57afe96172/segments?type=static&count=1000", Value::Null);
        let ours: Vec<&Value> = tags["segments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["name"].as_str().unwrap_or("").starts_with("Newsletter "))
            .collect();
        assert_eq!(ours.len(), 1, "round {round}: tags {ours:#?}");
        let campaigns = e.api("GET", "/campaigns?count=1000", Value::Null);
        let ours: Vec<&Value> = campaigns["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                c["settings"]["title"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("Spring newsletter")
            })
            .collect();
        assert_eq!(ours.len(), 1, "round {round}: campaigns {ours:#?}");
    }
}
