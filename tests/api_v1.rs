//! The daemon's integrations and metrics API (issue 26) on a real `adsctl watch --emulator`: every endpoint for
//! no token, a wrong, a revoked, a viewer's and an operator's token (a refused action changes nothing: not the
//! vault, not the integration's health, not the audit log); connect through the daemon's OAuth callback against
//! the emulator's OAuth server, then `adsctl auth status` shows the integration active; validate, refresh;
//! disconnect, then `auth status` shows it missing; metrics of one account and many; no token, authorization
//! code or verifier in any response body, log line or audit entry.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

mod common;

/// [`common::adsctl_at_home`], with no credentials of the caller's either: the vault is the test's.
fn adsctl(home: &Path, args: &[&str]) -> Command {
    let mut cmd = common::adsctl_at_home(home, args);
    for var in [
        "ADSCTL_MASTER_KEY",
        "ADSCTL_AUTH_SOURCE",
        "GOOGLE_ADS_CLIENT_ID",
        "GOOGLE_ADS_CLIENT_SECRET",
        "GOOGLE_ADS_DEVELOPER_TOKEN",
        "GOOGLE_ADS_REFRESH_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn run(home: &Path, dir: &Path, args: &[&str]) -> String {
    let o = adsctl(home, args).arg("--dir").arg(dir).output().expect("adsctl runs");
    assert!(
        o.status.success(),
        "adsctl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn token(home: &Path, dir: &Path, name: &str, role: &str) -> String {
    run(home, dir, &["api-token", "create", name, "--role", role])
        .trim()
        .to_string()
}

/// `adsctl auth status --json`: the row of `account`.
fn auth_status(home: &Path, dir: &Path, account: &str) -> Value {
    let out = run(home, dir, &["auth", "status", "--json"]);
    let rows: Value = serde_json::from_str(&out).expect("JSON rows");
    rows.as_array()
        .and_then(|r| r.iter().find(|x| x["account"] == account).cloned())
        .unwrap_or_else(|| panic!("no {account} in {out}"))
}

struct Answer {
    code: u16,
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
        body: r.text().await.unwrap_or_default(),
    }
}

fn json(a: &Answer) -> Value {
    serde_json::from_str(&a.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", a.body))
}

/// What a refused action must leave alone.
fn footprint(state: &Path) -> (Vec<u8>, Vec<u8>, usize) {
    let read = |f: &str| std::fs::read(state.join(f)).unwrap_or_default();
    let audit_lines = String::from_utf8_lossy(&read("audit.jsonl")).lines().count();
    (read("vault.json"), read("auth-health.json"), audit_lines)
}

#[test]
fn integrations_and_metrics_for_every_caller_connect_to_disconnect_and_no_secret_anywhere() {
    let (tmp, dir) = common::example("quickstart");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let state = dir.join(".adsctl");

    let mut cmd = adsctl(&home, &["watch", "--emulator", "--interval", "1h"]);
    cmd.arg(&dir).args(["--listen", "127.0.0.1:0", "--log-format", "json"]);
    // The read-only status token, beside the API tokens.
    let status_token = "status-token-of-the-api-test-0123456789";
    cmd.env("ADSCTL_STATUS_TOKEN", status_token);
    let mut daemon = common::Daemon::spawn(cmd);
    let addr = daemon.addr.clone();
    let base = format!("http://{addr}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    rt.block_on(common::wait_status(
        &addr,
        Duration::from_secs(90),
        "the quickstart in sync",
        |a| a.len() == 2 && a.iter().all(|x| x["status"] == "in_sync"),
    ));
    // The daemon's in-process emulator counts the requests it serves: a refused action must add none.
    let emulator = daemon
        .log()
        .iter()
        .find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            let m = v["message"].as_str()?.strip_prefix("emulator listening on ")?;
            Some(m.split(',').next()?.to_string())
        })
        .expect("the emulator's address in the log");
    let emulator_requests = || {
        let (http, url) = (http.clone(), format!("{emulator}/_emulator/requests"));
        async move { http.get(url).send().await.unwrap().json::<Value>().await.unwrap() }
    };

    let viewer = token(&home, &dir, "dashboard", "viewer");
    let operator = token(&home, &dir, "ops-bot", "operator");
    let revoked = token(&home, &dir, "old-laptop", "operator");
    run(&home, &dir, &["api-token", "revoke", "old-laptop"]);
    let wrong = "adsctl_this-is-not-a-token-at-all-0123456789abcdef";
    let mut bodies: Vec<String> = Vec::new();
    let mut secrets: Vec<String> = vec![
        viewer.clone(),
        operator.clone(),
        revoked.clone(),
        status_token.to_string(),
    ];

    let reads = [
        "/api/v1/integrations",
        "/api/v1/integrations/acme-search",
        "/api/v1/accounts/acme-search/metrics",
        "/api/v1/metrics?accounts=acme-search,acme-social",
    ];
    let actions = ["validate", "refresh", "connect", "disconnect"];

    rt.block_on(async {
        let seen = emulator_requests().await;
        // No token, a wrong one and a revoked one: 401 on every endpoint, actions included.
        for (who, t) in [
            ("none", None),
            ("wrong", Some(wrong)),
            ("revoked", Some(revoked.as_str())),
        ] {
            let before = footprint(&state);
            for path in reads {
                let a = call(&http, "GET", &format!("{base}{path}"), t).await;
                assert_eq!(a.code, 401, "{who} GET {path}: {}", a.body);
                bodies.push(a.body);
            }
            for action in actions {
                let a = call(
                    &http,
                    "POST",
                    &format!("{base}/api/v1/integrations/acme-search/{action}"),
                    t,
                )
                .await;
                assert_eq!(a.code, 401, "{who} POST {action}: {}", a.body);
                bodies.push(a.body);
            }
            assert!(footprint(&state) == before, "{who}: a refused action changed something");
        }

        // A viewer and the status token read everything and may do nothing.
        for (who, t) in [("viewer", viewer.as_str()), ("status token", status_token)] {
            for path in reads {
                let a = call(&http, "GET", &format!("{base}{path}"), Some(t)).await;
                assert_eq!(a.code, 200, "{who} GET {path}: {}", a.body);
                bodies.push(a.body);
            }
            let before = footprint(&state);
            for action in actions {
                let url = format!("{base}/api/v1/integrations/acme-search/{action}");
                let a = call(&http, "POST", &url, Some(t)).await;
                assert_eq!(a.code, 403, "{who} POST {action}: {}", a.body);
                bodies.push(a.body);
            }
            assert!(footprint(&state) == before, "{who}: a refused action changed something");
        }
        // An operator reads too (its actions are below).
        for path in reads {
            let a = call(&http, "GET", &format!("{base}{path}"), Some(&operator)).await;
            assert_eq!(a.code, 200, "operator GET {path}: {}", a.body);
            bodies.push(a.body);
        }
        let before = footprint(&state);
        for action in actions {
            let a = call(
                &http,
                "POST",
                &format!("{base}/api/v1/integrations/acme-search/{action}"),
                Some(&viewer),
            )
            .await;
            assert_eq!(a.code, 403, "viewer POST {action}: {}", a.body);
            assert!(
                json(&a)["hint"].as_str().unwrap_or("").contains("operator"),
                "{}",
                a.body
            );
            bodies.push(a.body);
        }
        assert!(
            footprint(&state) == before,
            "a viewer's refused action changed something"
        );
        assert_eq!(emulator_requests().await, seen, "the emulator saw a refused action");

        // The integrations: one per account, with usage from the metrics store and the daemon's reads.
        let a = call(&http, "GET", &format!("{base}/api/v1/integrations"), Some(&viewer)).await;
        let list = json(&a);
        let list = list["integrations"].as_array().expect("a list").clone();
        assert_eq!(
            list.iter().map(|i| i["id"].as_str().unwrap()).collect::<Vec<_>>(),
            ["acme-search", "acme-social"]
        );
        for i in &list {
            assert_eq!(i["id"], i["account"]);
            assert_eq!(i["sync_status"], "in_sync", "{i:#}");
            assert!(i["last_read_at"].is_string(), "{i:#}");
            assert!(i["campaigns"].as_u64().is_some_and(|n| n >= 1), "{i:#}");
            assert!(i["impressions"].as_u64().is_some_and(|n| n > 0), "{i:#}");
            let spend = i["spend"]["USD"].as_str().expect("USD spend");
            assert!(
                spend.parse::<f64>().is_ok() && spend.split('.').nth(1).is_none_or(|d| d.len() <= 6),
                "an exact decimal: {spend}"
            );
            // Under --emulator the daemon reaches the emulator with its well-known credentials.
            assert_eq!(i["token"]["status"], "active", "{i:#}");
        }
        assert_eq!(
            call(&http, "GET", &format!("{base}/api/v1/integrations/nope"), Some(&viewer))
                .await
                .code,
            404
        );
        let a = call(
            &http,
            "POST",
            &format!("{base}/api/v1/integrations/nope/validate"),
            Some(&operator),
        )
        .await;
        assert_eq!(a.code, 404, "{}", a.body);
    });

    // Connect through the daemon: the authorization URL, the emulator's consent (approved at once, redirected
    // to the daemon's callback), the code exchanged, the tokens in the vault.
    assert_eq!(auth_status(&home, &dir, "acme-search")["status"], "missing");
    let callback = rt.block_on(async {
        let a = call(
            &http,
            "POST",
            &format!("{base}/api/v1/integrations/acme-search/connect"),
            Some(&operator),
        )
        .await;
        assert_eq!(a.code, 200, "{}", a.body);
        let started = json(&a);
        bodies.push(a.body.clone());
        assert_eq!(started["redirect_uri"], format!("http://{addr}/api/v1/oauth/callback"));
        assert!(started["expires_at"].is_string());
        let url = started["authorization_url"].as_str().expect("a URL").to_string();
        assert!(url.contains("code_challenge_method=S256"), "PKCE: {url}");
        let consent = http.get(&url).send().await.expect("the emulator's consent page");
        assert!(consent.status().is_redirection(), "{}", consent.status());
        let location = consent.headers()["location"].to_str().unwrap().to_string();
        assert!(
            location.starts_with(&format!("http://{addr}/api/v1/oauth/callback?")),
            "{location}"
        );
        let query: Vec<(String, String)> = url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let code = query
            .iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.clone())
            .expect("a code");
        secrets.push(code);
        // The callback needs no bearer token: the browser is redirected there.
        let a = call(&http, "GET", &location, None).await;
        assert_eq!(a.code, 200, "{}", a.body);
        assert!(a.body.contains("acme-search is connected"), "{}", a.body);
        bodies.push(a.body);
        location
    });
    let row = auth_status(&home, &dir, "acme-search");
    assert_eq!(row["status"], "active", "{row:#}");
    assert_eq!(row["source"], "vault", "{row:#}");

    rt.block_on(async {
        // One use: the same redirect again, a forged state, no state.
        let a = call(&http, "GET", &callback, None).await;
        assert_eq!(a.code, 400, "a used state: {}", a.body);
        bodies.push(a.body);
        for q in ["?state=forged-state-0123456789&code=4/0Aforged", "", "?code=abc"] {
            let a = call(&http, "GET", &format!("{base}/api/v1/oauth/callback{q}"), None).await;
            assert_eq!(a.code, 400, "{q}: {}", a.body);
            bodies.push(a.body);
        }

        // Validate and refresh: the operator's, against the emulator (which counts them).
        let seen = emulator_requests().await;
        let a = call(
            &http,
            "POST",
            &format!("{base}/api/v1/integrations/acme-search/validate"),
            Some(&operator),
        )
        .await;
        assert_eq!(a.code, 200, "{}", a.body);
        let v = json(&a);
        assert_eq!(v["ok"], true, "{v:#}");
        assert_eq!(v["token"]["status"], "active");
        assert_eq!(v["validation"]["currency"], "USD", "{v:#}");
        assert_ne!(emulator_requests().await, seen, "validate asks the platform");
        bodies.push(a.body);
        let a = call(
            &http,
            "POST",
            &format!("{base}/api/v1/integrations/acme-search/refresh"),
            Some(&operator),
        )
        .await;
        assert_eq!(a.code, 200, "{}", a.body);
        assert_eq!(json(&a)["ok"], true, "{}", a.body);
        bodies.push(a.body);

        // Metrics: one account, and many at once; the same rows as `adsctl metrics --format json`.
        let a = call(
            &http,
            "GET",
            &format!("{base}/api/v1/accounts/acme-search/metrics?level=campaign&by=day"),
            Some(&viewer),
        )
        .await;
        assert_eq!(a.code, 200, "{}", a.body);
        let one = json(&a);
        assert_eq!(one["level"], "campaign");
        let rows = one["rows"].as_array().expect("rows");
        assert!(
            !rows.is_empty() && rows.iter().all(|r| r["account"] == "acme-search"),
            "{one:#}"
        );
        bodies.push(a.body);
        let a = call(
            &http,
            "GET",
            &format!("{base}/api/v1/metrics?accounts=acme-search,acme-social&level=account"),
            Some(&viewer),
        )
        .await;
        assert_eq!(a.code, 200, "{}", a.body);
        let many = json(&a);
        let accounts: std::collections::BTreeSet<&str> = many["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["account"].as_str().unwrap())
            .collect();
        assert_eq!(accounts.into_iter().collect::<Vec<_>>(), ["acme-search", "acme-social"]);
        assert_eq!(many["totals"]["accounts"].as_array().map(Vec::len), Some(2), "{many:#}");
        bodies.push(a.body);
        for bad in [
            "/api/v1/metrics?from=2026-01-02",
            "/api/v1/metrics?from=2026-02-01&to=2026-01-01",
            "/api/v1/metrics?level=keyword",
        ] {
            let a = call(&http, "GET", &format!("{base}{bad}"), Some(&viewer)).await;
            assert_eq!(a.code, 400, "{bad}: {}", a.body);
        }
        let a = call(
            &http,
            "GET",
            &format!("{base}/api/v1/metrics?accounts=acme-search,nope"),
            Some(&viewer),
        )
        .await;
        assert_eq!(a.code, 404, "{}", a.body);

        // Disconnect: the vault's entry is gone.
        let a = call(
            &http,
            "POST",
            &format!("{base}/api/v1/integrations/acme-search/disconnect"),
            Some(&operator),
        )
        .await;
        assert_eq!(a.code, 200, "{}", a.body);
        let d = json(&a);
        assert_eq!(d["removed"], true, "{d:#}");
        bodies.push(a.body);
    });
    assert_eq!(auth_status(&home, &dir, "acme-search")["status"], "missing");

    let (status, log) = daemon.stop("TERM", Duration::from_secs(30));
    assert!(status.success(), "{log:#?}");

    // The audit log: every action before it was taken, with the operator token's name; nothing for refusals.
    let audit = std::fs::read_to_string(state.join("audit.jsonl")).expect("an audit log");
    let entries: Vec<Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let by_action = |action: &str| -> Vec<&Value> { entries.iter().filter(|e| e["action"] == action).collect() };
    for action in [
        "api.connect",
        "api.oauth_callback",
        "api.validate",
        "api.refresh",
        "api.disconnect",
    ] {
        let found = by_action(action);
        assert_eq!(found.len(), 1, "{action}: {audit}");
        assert_eq!(found[0]["api_token"], "ops-bot", "{action}");
        assert_eq!(found[0]["account"], "acme-search", "{action}");
    }
    let logins = by_action("auth.login");
    assert_eq!(logins.len(), 1, "{audit}");
    assert_eq!(
        (&logins[0]["result"], &logins[0]["api_token"]),
        (&Value::from("ok"), &Value::from("ops-bot"))
    );
    let position = |a: &str| entries.iter().position(|e| e["action"] == a).unwrap();
    assert!(
        position("api.validate") < position("auth.validate"),
        "audited before acting"
    );
    assert!(
        position("api.disconnect") < position("auth.logout"),
        "audited before acting"
    );

    // No token, code or verifier anywhere: the responses, the daemon's log, the audit log.
    assert!(log.iter().any(|l| l.contains("connected through the API")), "{log:#?}");
    let everything = [bodies.join("\n"), log.join("\n"), audit.clone()];
    for text in &everything {
        for s in &secrets {
            let tail = &s[s.len().saturating_sub(16)..];
            assert!(!text.contains(tail), "a secret ({tail}…) leaked:\n{text}");
        }
        // The emulator's refresh and access tokens, and the PKCE verifier's parameter.
        for marker in ["1//", "ya29.", "code_verifier", "refresh_token\":\""] {
            assert!(!text.contains(marker), "{marker} leaked:\n{text}");
        }
        assert!(!text.contains("Bearer adsctl_"), "an Authorization header leaked");
    }
}

/// TikTok says how to revoke an advertiser token (`/oauth2/revoke_token/`): a disconnect revokes it at the
/// platform (the emulator accepts a revocation of a token it issued only), then forgets it. Without any API
/// token, from this machine, as on loopback before tokens.
#[test]
fn disconnect_revokes_where_the_platform_can() {
    let (tmp, dir) = common::example("tiktok");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let state = dir.join(".adsctl");
    let mut cmd = adsctl(&home, &["watch", "--emulator", "--interval", "1h"]);
    cmd.arg(&dir).args(["--listen", "127.0.0.1:0", "--log-format", "json"]);
    let daemon = common::Daemon::spawn(cmd);
    let base = format!("http://{}", daemon.addr);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut bodies = Vec::new();
    rt.block_on(common::wait_status(
        &daemon.addr,
        Duration::from_secs(90),
        "the account reconciled",
        |a| a.len() == 1 && a[0]["status"] == "in_sync",
    ));
    rt.block_on(async {
        let a = call(
            &http,
            "POST",
            &format!("{base}/api/v1/integrations/acme-tiktok/connect"),
            None,
        )
        .await;
        assert_eq!(a.code, 200, "{}", a.body);
        let url = json(&a)["authorization_url"].as_str().unwrap().to_string();
        let consent = http.get(&url).send().await.unwrap();
        assert!(consent.status().is_redirection(), "{}", consent.status());
        let location = consent.headers()["location"].to_str().unwrap().to_string();
        let a = call(&http, "GET", &location, None).await;
        assert_eq!(a.code, 200, "{}", a.body);
        bodies.push(a.body);
    });
    let row = auth_status(&home, &dir, "acme-tiktok");
    assert_eq!(
        (&row["status"], &row["source"]),
        (&Value::from("active"), &Value::from("vault")),
        "{row:#}"
    );
    rt.block_on(async {
        let a = call(
            &http,
            "POST",
            &format!("{base}/api/v1/integrations/acme-tiktok/disconnect"),
            None,
        )
        .await;
        assert_eq!(a.code, 200, "{}", a.body);
        let d = json(&a);
        assert_eq!(d["revoked"], true, "{d:#}");
        assert_eq!(d["removed"], true, "{d:#}");
        bodies.push(a.body);
        // Nothing stored any more: a second disconnect revokes nothing.
        let a = call(
            &http,
            "POST",
            &format!("{base}/api/v1/integrations/acme-tiktok/disconnect"),
            None,
        )
        .await;
        let d = json(&a);
        assert_eq!(
            (&d["revoked"], &d["removed"]),
            (&Value::Null, &Value::from(false)),
            "{d:#}"
        );
    });
    assert_eq!(auth_status(&home, &dir, "acme-tiktok")["status"], "missing");
    let (status, log) = daemon.stop("TERM", Duration::from_secs(30));
    assert!(status.success(), "{log:#?}");
    let audit = std::fs::read_to_string(state.join("audit.jsonl")).unwrap();
    let revokes: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["action"] == "auth.revoke")
        .collect();
    assert_eq!(revokes.len(), 1, "{audit}");
    assert_eq!(revokes[0]["result"], "ok");
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"api.disconnect\"") && !l.contains("api_token")),
        "a token-less action is audited without a token name: {audit}"
    );
    for text in [bodies.join("\n"), log.join("\n"), audit] {
        assert!(!text.contains("auth_code="), "the code leaked:\n{text}");
    }
}
