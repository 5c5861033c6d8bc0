//! The deploy examples (`examples/deploy/`: Kubernetes manifests and a compose file) cannot run here: they are
//! parsed (every YAML document) and their structure checked against the binary — the kinds, more than one replica,
//! the probes on `/healthz` and `/readyz` at the port `adsctl watch --listen` serves, the Secret's keys feeding the
//! variables adsctl reads, and every flag given to adsctl existing in its `--help`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_yaml::Value;

/// Every YAML document of the file.
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| <Value as serde::Deserialize>::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|v| !v.is_null())
        .collect()
}

fn get<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| {
        v.get(k)
            .unwrap_or_else(|| panic!("no `{k}` on the way to `{path}` in {v:?}"))
    })
}

fn text(v: &Value, path: &str) -> String {
    match get(v, path) {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("`{path}` is not a scalar: {other:?}"),
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("not a list: {v:?}"))
        .iter()
        .map(|s| {
            s.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| panic!("not a string: {s:?}"))
        })
        .collect()
}

/// The long flags `adsctl <command> --help` lists.
fn flags_of(command: &[&str]) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_adsctl"))
        .args(command)
        .arg("--help")
        .output()
        .expect("run adsctl --help");
    assert!(out.status.success(), "{command:?} --help");
    String::from_utf8_lossy(&out.stdout)
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']' || c == '=' || c == '<')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(str::to_string)
        .collect()
}

/// `adsctl` arguments: the subcommand path exists, each `--flag` it is given is one the subcommand has; returns
/// the value of `--listen`, if given.
fn check_args(what: &str, args: &[String]) -> Option<String> {
    let words: Vec<&str> = args
        .iter()
        .take_while(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    // the subcommand path: the leading words that are subcommands (the rest are positional arguments)
    let path: Vec<&str> = match words.as_slice() {
        ["watch", ..] => vec!["watch"],
        ["state", "migrate", ..] => vec!["state", "migrate"],
        other => panic!("{what}: an adsctl command this test does not know: {other:?}"),
    };
    let known = flags_of(&path);
    let mut listen = None;
    for (i, a) in args.iter().enumerate() {
        if let Some(flag) = a
            .strip_prefix("--")
            .map(|f| format!("--{}", f.split('=').next().unwrap_or(f)))
        {
            assert!(
                known.contains(&flag),
                "{what}: `adsctl {}` has no {flag} ({known:?})",
                path.join(" ")
            );
            if flag == "--listen" {
                listen = Some(match a.split_once('=') {
                    Some((_, v)) => v.to_string(),
                    None => args.get(i + 1).cloned().expect("--listen's value"),
                });
            }
        }
    }
    listen
}

fn port_of(listen: &str) -> u64 {
    let addr: std::net::SocketAddr = listen.parse().unwrap_or_else(|e| panic!("--listen {listen}: {e}"));
    assert!(
        !addr.ip().is_loopback(),
        "--listen {listen}: on loopback the kubelet and the Service cannot reach it"
    );
    u64::from(addr.port())
}

/// The environment variables adsctl reads that may come from the Secret.
fn secret_variables() -> BTreeSet<&'static str> {
    [
        adsctl::store::STATE_URL_ENV,
        adsctl::auth::key::ENV_MASTER_KEY,
        "ADSCTL_STATUS_TOKEN",
    ]
    .into_iter()
    .collect()
}

#[test]
fn kubernetes_manifests_run_replicas_of_watch_with_probes_and_a_secret_adsctl_reads() {
    let dir = common::repo().join("examples/deploy/kubernetes");
    let mut by_kind: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().and_then(|x| x.to_str()) != Some("yaml") {
            continue;
        }
        for doc in documents(&path) {
            assert!(doc.get("apiVersion").is_some(), "{}: no apiVersion", path.display());
            by_kind.entry(text(&doc, "kind")).or_default().push(doc);
        }
    }
    let kinds: Vec<&str> = by_kind.keys().map(String::as_str).collect();
    assert_eq!(kinds, ["Deployment", "Job", "Secret", "Service"]);

    // the Secret: the database URL and the master key, under the names adsctl reads
    let secret = &by_kind["Secret"][0];
    let secret_name = text(secret, "metadata.name");
    let secret_keys: BTreeSet<String> = get(secret, "stringData")
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    for var in [adsctl::store::STATE_URL_ENV, adsctl::auth::key::ENV_MASTER_KEY] {
        assert!(secret_keys.contains(var), "the Secret has no {var}: {secret_keys:?}");
    }

    // every variable taken from a secret: from this Secret, a key it has, and a variable adsctl reads
    let check_env = |what: &str, container: &Value| -> BTreeSet<String> {
        let mut from_secret = BTreeSet::new();
        for e in get(container, "env").as_sequence().unwrap() {
            let name = text(e, "name");
            if let Some(r) = e.get("valueFrom").and_then(|v| v.get("secretKeyRef")) {
                assert_eq!(text(r, "name"), secret_name, "{what}: {name}");
                let key = text(r, "key");
                assert!(
                    secret_keys.contains(&key),
                    "{what}: {name} takes {key}, not in the Secret"
                );
                assert!(
                    secret_variables().contains(name.as_str()),
                    "{what}: adsctl does not read {name}"
                );
                from_secret.insert(name);
            }
        }
        from_secret
    };

    // the Deployment: replicas of `adsctl watch`, reachable, probed at the port it listens on
    let deployment = &by_kind["Deployment"][0];
    let replicas = get(deployment, "spec.replicas").as_u64().unwrap();
    assert!(replicas > 1, "replicas: {replicas}");
    let pod = get(deployment, "spec.template");
    let labels = get(pod, "metadata.labels");
    assert_eq!(get(deployment, "spec.selector.matchLabels"), labels);
    let containers = get(pod, "spec.containers").as_sequence().unwrap();
    let watch = containers
        .iter()
        .find(|c| {
            c.get("args")
                .is_some_and(|a| strings(a).first().map(String::as_str) == Some("watch"))
        })
        .expect("a container running `adsctl watch`");
    let listen = check_args("the Deployment", &strings(get(watch, "args"))).expect("watch is given --listen");
    let port = port_of(&listen);
    let from_secret = check_env("the Deployment", watch);
    for var in [adsctl::store::STATE_URL_ENV, adsctl::auth::key::ENV_MASTER_KEY] {
        assert!(
            from_secret.contains(var),
            "the watch container does not take {var} from the Secret"
        );
    }
    let ports: BTreeMap<String, u64> = get(watch, "ports")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| (text(p, "name"), get(p, "containerPort").as_u64().unwrap()))
        .collect();
    let resolve = |p: &Value| -> u64 {
        match p {
            Value::Number(n) => n.as_u64().unwrap(),
            Value::String(name) => *ports
                .get(name)
                .unwrap_or_else(|| panic!("no container port named {name}")),
            other => panic!("a port: {other:?}"),
        }
    };
    assert!(
        ports.values().any(|p| *p == port),
        "no containerPort {port} ({ports:?})"
    );
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get_ = get(watch, &format!("{probe}.httpGet"));
        assert_eq!(text(get_, "path"), path, "{probe}");
        assert_eq!(
            resolve(get(get_, "port")),
            port,
            "{probe} probes another port than --listen {listen}"
        );
    }
    // the repository is in a volume the watch container reads, at the directory it is given
    let dir_arg = strings(get(watch, "args"))[1].clone();
    let mounted = get(watch, "volumeMounts")
        .as_sequence()
        .unwrap()
        .iter()
        .any(|m| dir_arg.starts_with(&text(m, "mountPath")));
    assert!(mounted, "watch reads {dir_arg}, which no volume holds");

    // the Service: the status port of the pods the Deployment makes
    let service = &by_kind["Service"][0];
    for (k, v) in get(service, "spec.selector").as_mapping().unwrap() {
        assert_eq!(
            labels.get(k),
            Some(v),
            "the Service selects pods the Deployment does not make"
        );
    }
    let service_ports = get(service, "spec.ports").as_sequence().unwrap();
    assert!(service_ports.iter().any(|p| resolve(get(p, "targetPort")) == port));

    // the Job: `adsctl state migrate` with the database URL
    let job = &by_kind["Job"][0];
    let migrate = &get(job, "spec.template.spec.containers").as_sequence().unwrap()[0];
    let args = strings(get(migrate, "args"));
    assert_eq!(args, ["state", "migrate"]);
    check_args("the Job", &args);
    assert!(check_env("the Job", migrate).contains(adsctl::store::STATE_URL_ENV));
}

#[test]
fn compose_runs_postgres_a_migration_and_two_replicas_of_watch() {
    let path = common::repo().join("examples/deploy/compose.yaml");
    let docs = documents(&path);
    assert_eq!(docs.len(), 1);
    let services = get(&docs[0], "services");
    assert!(text(services, "postgres.image").starts_with("postgres:"));

    let migrate = get(services, "migrate");
    let args = strings(get(migrate, "command"));
    assert_eq!(args, ["state", "migrate"]);
    check_args("compose's migrate", &args);
    assert_eq!(text(migrate, "depends_on.postgres.condition"), "service_healthy");

    let watch = get(services, "watch");
    let args = strings(get(watch, "command"));
    let listen = check_args("compose's watch", &args).expect("watch is given --listen");
    let port = port_of(&listen);
    let replicas = get(watch, "deploy.replicas").as_u64().unwrap();
    assert!(replicas >= 2, "replicas: {replicas}");
    assert_eq!(
        text(watch, "depends_on.migrate.condition"),
        "service_completed_successfully"
    );
    let published: Vec<String> = strings(get(watch, "ports"));
    assert!(
        published.iter().all(|p| p.ends_with(&format!(":{port}"))),
        "the published port is not --listen's {port}: {published:?}"
    );
    let env = get(watch, "environment").as_mapping().unwrap();
    for var in [adsctl::store::STATE_URL_ENV, adsctl::auth::key::ENV_MASTER_KEY] {
        let value = env
            .get(var)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("watch has no {var}"));
        assert!(
            value.contains("${"),
            "{var} is written in compose.yaml instead of coming from .env: {value}"
        );
    }
    // the repository: the directory watch is given is mounted
    let dir_arg = &args[1];
    let mounted = strings(get(watch, "volumes"))
        .iter()
        .any(|v| v.split(':').nth(1) == Some(dir_arg.as_str()));
    assert!(mounted, "watch reads {dir_arg}, which no volume holds");
    // every variable the example's .env must set is in its template
    let template = std::fs::read_to_string(common::repo().join("examples/deploy/compose.env.example")).unwrap();
    let text_all = std::fs::read_to_string(&path).unwrap();
    for var in [
        "POSTGRES_PASSWORD",
        adsctl::auth::key::ENV_MASTER_KEY,
        "ADSCTL_STATUS_TOKEN",
    ] {
        assert!(
            text_all.contains(&format!("${{{var}")),
            "compose.yaml does not use {var}"
        );
        assert!(
            template.contains(&format!("{var}=")),
            "compose.env.example does not list {var}"
        );
    }
}
