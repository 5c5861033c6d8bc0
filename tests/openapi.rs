//! `docs/openapi.yaml` against the server (issue 26): every route of `/api/v1` the router serves
//! (`adsctl::reconcile::server::ROUTES`, the table the router is built from) is in the file with its method, and
//! every path of the file is one of them; a real `adsctl watch --emulator` serves every path of the file (no
//! 404 or 405 from the router), and its responses validate against the file's schemas.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use adsctl::reconcile::server::{Allowed, ROUTES};
use serde_json::Value;

mod common;

fn spec() -> Value {
    let text = std::fs::read_to_string(common::repo().join("docs/openapi.yaml")).expect("docs/openapi.yaml");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("docs/openapi.yaml is YAML");
    serde_json::to_value(yaml).expect("as JSON")
}

/// (METHOD, path) of every operation in the file.
fn operations(spec: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("a path item") {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn the_file_and_the_route_table_name_the_same_routes() {
    let spec = spec();
    assert!(
        spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")),
        "OpenAPI 3.1"
    );
    let in_file = operations(&spec);
    let served: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let missing: Vec<_> = served.difference(&in_file).collect();
    let extra: Vec<_> = in_file.difference(&served).collect();
    assert!(missing.is_empty(), "served, not in docs/openapi.yaml: {missing:?}");
    assert!(extra.is_empty(), "in docs/openapi.yaml, not served: {extra:?}");
    assert!(
        in_file.iter().all(|(_, p)| p.starts_with("/api/v1/")),
        "the file documents the versioned API only"
    );
    // Security as the table says: the callback is public, everything else needs the bearer scheme; actions
    // document their refusal.
    assert_eq!(spec["security"][0]["bearer"], serde_json::json!([]));
    assert_eq!(spec["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    for r in ROUTES {
        let op = &spec["paths"][r.path][r.method.to_lowercase()];
        let public = op["security"].as_array().is_some_and(Vec::is_empty);
        assert_eq!(
            public,
            r.allowed == Allowed::Public,
            "{} {}: security",
            r.method,
            r.path
        );
        if r.allowed != Allowed::Public {
            assert!(op["responses"]["401"].is_object(), "{} {}: 401", r.method, r.path);
        }
        if r.allowed == Allowed::Operate {
            assert!(op["responses"]["403"].is_object(), "{} {}: 403", r.method, r.path);
        }
        // Every path parameter is declared.
        for name in r.path.split('{').skip(1).filter_map(|s| s.split('}').next()) {
            let declared = op["parameters"].as_array().is_some_and(|ps| {
                ps.iter().any(|p| {
                    let p = match p["$ref"].as_str() {
                        Some(r) => &spec["components"]["parameters"][r.rsplit('/').next().unwrap_or("")],
                        None => p,
                    };
                    p["name"] == name && p["in"] == "path"
                })
            });
            assert!(declared, "{} {}: path parameter {name}", r.method, r.path);
        }
    }
}

/// A validator of the file's `#/components/schemas/{name}` (the whole file is the root, for its `$ref`s).
fn validator(spec: &Value, name: &str) -> jsonschema::Validator {
    let mut root = spec.clone();
    root["$ref"] = Value::String(format!("#/components/schemas/{name}"));
    jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("schema {name}: {e}"))
}

fn check(spec: &Value, name: &str, body: &str) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {body}"));
    let errors: Vec<String> = validator(spec, name)
        .iter_errors(&v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name} does not match the file: {errors:#?}\n{v:#}");
}

fn adsctl(home: &Path, args: &[&str]) -> Command {
    common::adsctl_at_home(home, args)
}

#[test]
fn a_real_daemon_serves_every_path_of_the_file_in_its_shapes() {
    let spec = spec();
    let (tmp, dir) = common::example("quickstart");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut cmd = adsctl(&home, &["watch", "--emulator", "--interval", "1h"]);
    cmd.arg(&dir).args(["--listen", "127.0.0.1:0", "--log-format", "json"]);
    let daemon = common::Daemon::spawn(cmd);
    let base = format!("http://{}", daemon.addr);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        common::wait_status(&daemon.addr, Duration::from_secs(90), "the quickstart in sync", |a| {
            a.len() == 2 && a.iter().all(|x| x["status"] == "in_sync")
        })
        .await;
    });
    // A viewer: every action is refused (403, nothing done), every read answers.
    let out = adsctl(
        &home,
        &["api-token", "create", "openapi-test", "--role", "viewer", "--dir"],
    )
    .arg(&dir)
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let viewer = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let http = reqwest::Client::new();
    rt.block_on(async {
        let get = |path: String| {
            let (http, viewer, base) = (http.clone(), viewer.clone(), base.clone());
            async move {
                let r = http
                    .get(format!("{base}{path}"))
                    .bearer_auth(&viewer)
                    .send()
                    .await
                    .unwrap();
                let code = r.status().as_u16();
                (code, r.text().await.unwrap_or_default())
            }
        };
        // Every path of the file is served: no 404 with an empty body (the router's own), no 405.
        for (method, path) in operations(&spec) {
            let concrete = path.replace("{name}", "acme-search").replace(
                "{id}",
                if path.starts_with("/api/v1/runs") {
                    "ffff"
                } else {
                    "acme-search"
                },
            );
            let req = match method.as_str() {
                "POST" => http.post(format!("{base}{concrete}")),
                _ => http.get(format!("{base}{concrete}")),
            };
            let r = req.bearer_auth(&viewer).send().await.unwrap();
            let code = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            assert_ne!(code, 405, "{method} {path}: not served with this method");
            assert!(!(code == 404 && body.is_empty()), "{method} {path}: not routed");
            let documented = &spec["paths"][&path][method.to_lowercase()]["responses"][code.to_string()];
            assert!(
                documented.is_object(),
                "{method} {path}: {code} is not documented: {body}"
            );
            if method == "POST" {
                assert_eq!(code, 403, "a viewer's {method} {path}");
                check(&spec, "Error", &body);
            }
        }
        // Real responses in the file's shapes.
        let (code, body) = get("/api/v1/status".into()).await;
        assert_eq!(code, 200);
        check(&spec, "Status", &body);
        let (code, body) = get("/api/v1/plan".into()).await;
        assert_eq!(code, 200);
        check(&spec, "Plans", &body);
        let (code, body) = get("/api/v1/integrations".into()).await;
        assert_eq!(code, 200);
        let list: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(list["integrations"].as_array().map(Vec::len), Some(2), "{list:#}");
        for i in list["integrations"].as_array().unwrap() {
            check(&spec, "Integration", &i.to_string());
        }
        // The schemas do check: an integration without its id, or with spend as a number, is refused.
        let mut broken = list["integrations"][0].clone();
        broken.as_object_mut().unwrap().remove("id");
        assert!(!validator(&spec, "Integration").is_valid(&broken));
        let mut broken = list["integrations"][0].clone();
        broken["spend"]["USD"] = serde_json::json!(1.5);
        assert!(!validator(&spec, "Integration").is_valid(&broken));
        let (code, body) = get("/api/v1/integrations/acme-social".into()).await;
        assert_eq!(code, 200);
        check(&spec, "Integration", &body);
        let (code, body) = get("/api/v1/integrations/nope".into()).await;
        assert_eq!(code, 404);
        check(&spec, "Error", &body);
        let (code, body) = get("/api/v1/accounts/acme-search/metrics?level=campaign&by=day".into()).await;
        assert_eq!(code, 200, "{body}");
        check(&spec, "MetricsReport", &body);
        let (code, body) = get("/api/v1/metrics?accounts=acme-search,acme-social&level=account".into()).await;
        assert_eq!(code, 200, "{body}");
        check(&spec, "MetricsReport", &body);
        let (code, body) = get("/api/v1/metrics?from=2026-13-01&to=2026-12-01".into()).await;
        assert_eq!(code, 400);
        check(&spec, "Error", &body);
    });
    let (status, log) = daemon.stop("TERM", Duration::from_secs(30));
    assert!(status.success(), "{log:#?}");
}
