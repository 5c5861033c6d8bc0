//! Access control of the daemon's HTTP API (issue 26): `adsctl api-token create|list|revoke` and the real
//! `adsctl watch --emulator`, every API endpoint for no token, a wrong, a revoked, a viewer's and an operator's
//! token; a viewer's action is refused and nothing happens; no token appears in a response, a log line or the
//! audit log.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;

fn adsctl(home: &Path, args: &[&str]) -> Command {
    common::adsctl_at_home(home, args)
}

/// `adsctl api-token …`: (exit code, stdout, stderr).
fn api_token(home: &Path, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let o = adsctl(home, &[&["api-token"][..], args].concat())
        .arg("--dir")
        .arg(dir)
        .output()
        .expect("adsctl runs");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn create(home: &Path, dir: &Path, name: &str, role: &str) -> String {
    let (code, out, err) = api_token(home, dir, &["create", name, "--role", role]);
    assert_eq!(code, 0, "{err}");
    let token = out.trim().to_string();
    assert!(token.starts_with("adsctl_") && token.len() > 40, "{out}");
    assert!(!err.contains(&token), "the token is printed on stdout only");
    token
}

struct Answer {
    code: u16,
    www_authenticate: Option<String>,
    body: String,
}

async fn call(http: &reqwest::Client, method: &str, url: &str, token: Option<&str>) -> Answer {
    let mut req = match method {
        "POST" => http.post(url),
        _ => http.get(url),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    assert!(r.headers().get("set-cookie").is_none(), "no cookies: {method} {url}");
    Answer {
        code: r.status().as_u16(),
        www_authenticate: r
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: r.text().await.unwrap_or_default(),
    }
}

async fn account(http: &reqwest::Client, addr: &str, token: &str, name: &str) -> serde_json::Value {
    let a = call(http, "GET", &format!("http://{addr}/api/v1/status"), Some(token)).await;
    assert_eq!(a.code, 200, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).expect("JSON status");
    v["accounts"]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["account"] == name).cloned())
        .unwrap_or_else(|| panic!("no {name} in {v:#}"))
}

async fn wait_run(http: &reqwest::Client, addr: &str, token: Option<&str>, id: &str) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let a = call(http, "GET", &format!("http://{addr}/api/v1/runs/{id}"), token).await;
        assert_eq!(a.code, 200, "{}", a.body);
        let v: serde_json::Value = serde_json::from_str(&a.body).expect("JSON run");
        if v["finished_at"].is_string() {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "run {id} not finished: {v:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn every_endpoint_for_every_kind_of_caller_and_no_token_anywhere() {
    let (tmp, dir) = common::example("quickstart");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let state = dir.join(".adsctl");

    // No token yet: `list` says so.
    let (code, out, _) = api_token(&home, &dir, &["list"]);
    assert_eq!(code, 0);
    assert!(out.contains("No API token"), "{out}");

    let mut cmd = adsctl(&home, &["watch", "--emulator", "--interval", "1h"]);
    cmd.arg(&dir).args(["--listen", "127.0.0.1:0", "--log-format", "json"]);
    let daemon = common::Daemon::spawn(cmd);
    let addr = daemon.addr.clone();
    let base = format!("http://{addr}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::new();
    let mut bodies: Vec<String> = Vec::new();

    // Before any token: loopback serves without one, as before tokens; an action without a token is taken only
    // from this machine, not from a web page (cross-site Origin) nor through a foreign Host (DNS rebinding).
    let anonymous_run = rt.block_on(async {
        common::wait_status(&addr, Duration::from_secs(90), "the quickstart in sync", |a| {
            a.len() == 2 && a.iter().all(|x| x["status"] == "in_sync")
        })
        .await;
        let url = format!("{base}/api/v1/accounts/acme-search/reconcile");
        for (h, v) in [
            ("origin", "https://evil.example"),
            ("host", "evil.example"),
            ("sec-fetch-site", "cross-site"),
        ] {
            let r = http.post(&url).header(h, v).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 403, "{h}: {v}");
        }
        let a = call(&http, "POST", &url, None).await;
        assert_eq!(a.code, 202, "{}", a.body);
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        let id = v["run"].as_str().unwrap().to_string();
        let run = wait_run(&http, &addr, None, &id).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        assert_eq!(run["requested_by"], "loopback");
        id
    });

    // Tokens created while the daemon runs count at once.
    let viewer = create(&home, &dir, "dashboard", "viewer");
    let operator = create(&home, &dir, "ops-bot", "operator");
    let revoked = create(&home, &dir, "old-laptop", "operator");
    let (code, _, err) = api_token(&home, &dir, &["revoke", "old-laptop"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = api_token(&home, &dir, &["revoke", "old-laptop"]);
    assert_eq!(code, 1, "revoking twice fails");
    assert!(err.contains("api-token list"), "a hint: {err}");
    let (code, _, err) = api_token(&home, &dir, &["create", "ops-bot", "--role", "viewer"]);
    assert_eq!(code, 1, "a name is taken once: {err}");
    let tokens = [viewer.clone(), operator.clone(), revoked.clone()];

    let (code, list, _) = api_token(&home, &dir, &["list"]);
    assert_eq!(code, 0);
    assert!(list.contains("dashboard") && list.contains("viewer") && list.contains("ops-bot"));
    assert!(!list.contains("old-laptop"), "{list}");
    let (code, json, _) = api_token(&home, &dir, &["list", "--json"]);
    assert_eq!(code, 0);
    let listed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{json}");
    for t in &tokens {
        assert!(
            !list.contains(t.as_str()) && !json.contains(t.as_str()),
            "list never shows a token"
        );
    }

    rt.block_on(async {
        let before = account(&http, &addr, &operator, "acme-search").await["reconciles"]
            .as_u64()
            .unwrap();
        let reconcile = format!("{base}/api/v1/accounts/acme-search/reconcile");
        let reads = [
            format!("{base}/api/v1/status"),
            format!("{base}/api/v1/plan"),
            format!("{base}/api/v1/runs/{anonymous_run}"),
        ];
        // No token, a wrong one and a revoked one: 401 with the challenge, on every endpoint.
        let wrong = "adsctl_this-is-not-a-token-at-all-0123456789abcdef";
        for (who, token) in [
            ("none", None),
            ("wrong", Some(wrong)),
            ("revoked", Some(revoked.as_str())),
        ] {
            for url in &reads {
                let a = call(&http, "GET", url, token).await;
                assert_eq!(a.code, 401, "{who} GET {url}: {}", a.body);
                assert_eq!(a.www_authenticate.as_deref(), Some("Bearer"), "{who} GET {url}");
                bodies.push(a.body);
            }
            let a = call(&http, "POST", &reconcile, token).await;
            assert_eq!(a.code, 401, "{who} POST: {}", a.body);
            assert_eq!(a.www_authenticate.as_deref(), Some("Bearer"));
            bodies.push(a.body);
        }
        // A viewer reads, and may not act.
        for url in &reads {
            let a = call(&http, "GET", url, Some(&viewer)).await;
            assert_eq!(a.code, 200, "viewer GET {url}: {}", a.body);
            bodies.push(a.body);
        }
        let a = call(&http, "POST", &reconcile, Some(&viewer)).await;
        assert_eq!(a.code, 403, "viewer POST: {}", a.body);
        assert!(
            a.body.contains("operator"),
            "the refusal says what is needed: {}",
            a.body
        );
        bodies.push(a.body);
        // An operator reads and acts.
        for url in &reads {
            let a = call(&http, "GET", url, Some(&operator)).await;
            assert_eq!(a.code, 200, "operator GET {url}: {}", a.body);
            bodies.push(a.body);
        }
        let a = call(&http, "POST", &reconcile, Some(&operator)).await;
        assert_eq!(a.code, 202, "operator POST: {}", a.body);
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        bodies.push(a.body);
        let id = v["run"].as_str().unwrap().to_string();
        let run = wait_run(&http, &addr, Some(&viewer), &id).await;
        assert_eq!(run["status"], "succeeded", "{run:#}");
        assert_eq!(run["requested_by"], "ops-bot");
        assert_eq!(run["account"], "acme-search");
        bodies.push(run.to_string());
        // Only the operator's request reconciled (the interval is an hour): the refused ones did nothing.
        let after = account(&http, &addr, &operator, "acme-search").await["reconciles"]
            .as_u64()
            .unwrap();
        assert_eq!(after, before + 1, "exactly one reconcile, the operator's");
        // An unknown account and an unknown run: 404.
        let a = call(
            &http,
            "POST",
            &format!("{base}/api/v1/accounts/nope/reconcile"),
            Some(&operator),
        )
        .await;
        assert_eq!(a.code, 404, "{}", a.body);
        let a = call(&http, "GET", &format!("{base}/api/v1/runs/ffff"), Some(&viewer)).await;
        assert_eq!(a.code, 404, "{}", a.body);
        // The status page, metrics and readiness stay as they were on loopback (the page has no token to send).
        for path in ["/", "/metrics", "/readyz", "/healthz"] {
            let a = call(&http, "GET", &format!("{base}{path}"), None).await;
            assert_eq!(a.code, 200, "{path}");
        }
    });

    // Revoking the viewer's token while the daemon runs: refused from the next request on.
    let (code, _, err) = api_token(&home, &dir, &["revoke", "dashboard"]);
    assert_eq!(code, 0, "{err}");
    rt.block_on(async {
        let a = call(&http, "GET", &format!("{base}/api/v1/status"), Some(&viewer)).await;
        assert_eq!(a.code, 401, "{}", a.body);
        bodies.push(a.body);
    });

    let (status, log) = daemon.stop("TERM", Duration::from_secs(30));
    assert!(status.success(), "{log:#?}");

    // The audit log: two actions, the anonymous one and the operator's by name; the token changes by name.
    let audit = std::fs::read_to_string(state.join("audit.jsonl")).expect("an audit log");
    let entries: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let actions: Vec<&serde_json::Value> = entries.iter().filter(|e| e["action"] == "api.reconcile").collect();
    assert_eq!(actions.len(), 2, "{audit}");
    assert!(actions[0].get("api_token").is_none(), "{:#}", actions[0]);
    assert_eq!(actions[1]["api_token"], "ops-bot");
    assert_eq!(actions[1]["account"], "acme-search");
    let created = entries.iter().filter(|e| e["action"] == "api_token.create").count();
    let revokes = entries.iter().filter(|e| e["action"] == "api_token.revoke").count();
    assert_eq!((created, revokes), (3, 2), "{audit}");

    // No token anywhere: responses, the daemon's log, the audit log, the token file.
    let stored = std::fs::read_to_string(state.join("api-tokens.json")).unwrap();
    assert!(
        log.iter().any(|l| l.contains("reconcile requested through the API")),
        "{log:#?}"
    );
    for t in &tokens {
        let secret_half = &t[t.len() - 20..];
        for b in &bodies {
            assert!(!b.contains(secret_half), "a response shows a token: {b}");
        }
        for l in &log {
            assert!(!l.contains(secret_half), "the log shows a token: {l}");
        }
        assert!(!audit.contains(secret_half), "the audit log shows a token");
        assert!(!stored.contains(secret_half), "the token file holds only hashes");
    }
    assert!(
        !log.iter().any(|l| l.contains("Bearer ")),
        "no Authorization header in the log"
    );
}

/// Off loopback the server refuses to start without any token; with an API token, every route but `/healthz`
/// needs one (served here on loopback through the router as it runs off loopback).
#[test]
fn off_loopback_needs_a_token_and_an_api_token_is_one() {
    use std::sync::Arc;

    use adsctl::apitoken::{Role, TokenStore};
    use adsctl::reconcile::server::{router_with, Api, ServerConfig, DEFAULT_LIMITS};
    use adsctl::reconcile::{Mode, StatusHub, StatusServer};

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let tmp = tempfile::tempdir().unwrap();
        let hub = Arc::new(StatusHub::new(Mode::Apply, Duration::from_secs(60)));
        let api = Api {
            state_dir: Some(tmp.path().to_path_buf()),
            commands: None,
            ..Api::default()
        };
        let config = ServerConfig {
            listen: "0.0.0.0:0".parse().unwrap(),
            token: None,
            limits: DEFAULT_LIMITS,
        };
        let err = StatusServer::bind_with(config, hub.clone(), api.clone())
            .await
            .err()
            .expect("refused without a token");
        assert!(err.hint().contains("api-token create"), "{}", err.hint());

        let store = TokenStore::at_state_dir(tmp.path());
        let viewer = store.create("grafana", Role::Viewer).unwrap();
        let app = router_with(hub, None, false, api);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let http = reqwest::Client::new();
        for path in ["/", "/metrics", "/api/v1/status", "/api/v1/plan"] {
            let a = call(&http, "GET", &format!("{base}{path}"), None).await;
            assert_eq!(a.code, 401, "{path}");
            let a = call(&http, "GET", &format!("{base}{path}"), Some(viewer.expose())).await;
            assert_eq!(a.code, 200, "{path}");
        }
        // The probes answer without a token (a Kubernetes probe cannot send a Secret): ready or not, and why.
        let a = call(&http, "GET", &format!("{base}/readyz"), None).await;
        assert_eq!((a.code, a.body.as_str()), (503, "not ready: state store not open\n"));
        // A viewer may not act.
        let a = call(
            &http,
            "POST",
            &format!("{base}/api/v1/accounts/x/reconcile"),
            Some(viewer.expose()),
        )
        .await;
        assert_eq!(a.code, 403);
        assert_eq!(call(&http, "GET", &format!("{base}/healthz"), None).await.code, 200);
        server.abort();
    });
}
