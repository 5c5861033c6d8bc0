//! OpenTelemetry trace export (docs/tracing.md): the real binary, pointed at an in-process OTLP/HTTP receiver on
//! loopback by the standard `OTEL_EXPORTER_OTLP_*` variables, sends its span tree (plan and apply, each account,
//! the apply's batches, every platform request with the platform's request id) and no secret; without an
//! endpoint, or with a dead one, nothing is sent and nothing fails.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adsctl::emulator::platform::defaults;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;

/// One exported span, flattened.
#[derive(Clone, Debug)]
struct Span {
    name: String,
    trace: Vec<u8>,
    id: Vec<u8>,
    parent: Vec<u8>,
    attrs: HashMap<String, Any>,
    /// The `service.name` of its resource.
    service: Option<String>,
}

impl Span {
    fn str(&self, key: &str) -> Option<&str> {
        match self.attrs.get(key) {
            Some(Any::StringValue(s)) => Some(s),
            _ => None,
        }
    }
}

#[derive(Default)]
struct Received {
    spans: Vec<Span>,
    /// The headers of each export request.
    headers: Vec<HeaderMap>,
    /// Bodies that did not decode as an ExportTraceServiceRequest.
    undecodable: usize,
}

fn attrs(kvs: &[KeyValue]) -> HashMap<String, Any> {
    kvs.iter()
        .filter_map(|kv| Some((kv.key.clone(), kv.value.as_ref()?.value.clone()?)))
        .collect()
}

async fn export(State(rx): State<Arc<Mutex<Received>>>, headers: HeaderMap, body: Bytes) -> &'static str {
    let mut rx = rx.lock().unwrap();
    rx.headers.push(headers);
    let Ok(req) = ExportTraceServiceRequest::decode(body) else {
        rx.undecodable += 1;
        return "";
    };
    for rs in req.resource_spans {
        let service = rs
            .resource
            .as_ref()
            .map(|r| attrs(&r.attributes))
            .and_then(|a| match a.get("service.name") {
                Some(Any::StringValue(s)) => Some(s.clone()),
                _ => None,
            });
        for ss in rs.scope_spans {
            for s in ss.spans {
                rx.spans.push(Span {
                    name: s.name.clone(),
                    trace: s.trace_id.clone(),
                    id: s.span_id.clone(),
                    parent: s.parent_span_id.clone(),
                    attrs: attrs(&s.attributes),
                    service: service.clone(),
                });
            }
        }
    }
    // an empty ExportTraceServiceResponse
    ""
}

/// An OTLP/HTTP receiver on 127.0.0.1 (`POST /v1/traces`, protobuf), on a runtime of its own (the server stops
/// with it).
struct Receiver {
    _rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    got: Arc<Mutex<Received>>,
}

impl Receiver {
    fn start() -> Receiver {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let got = Arc::new(Mutex::new(Received::default()));
        let app = axum::Router::new()
            .route("/v1/traces", axum::routing::post(export))
            .with_state(got.clone());
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move { axum::serve(listener, app).await });
        Receiver { _rt: rt, addr, got }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn spans(&self) -> Vec<Span> {
        self.got.lock().unwrap().spans.clone()
    }
}

/// The binary with a clean environment for the trace export (none of the caller's `OTEL_*`) and no state
/// directory or backend from outside.
fn adsctl() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_adsctl"));
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| k.starts_with("OTEL_")) {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("ADSCTL_STATE_DIR")
        .env_remove("ADSCTL_BACKEND")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    cmd
}

fn apply(dir: &Path, env: &[(&str, &str)]) -> Output {
    let out = adsctl()
        .args(["apply", "--emulator", "--auto-approve"])
        .arg(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "apply failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Apply complete"),
        "{out:?}"
    );
    out
}

/// The names of a span's ancestors, nearest first; panics when a parent was not received (a broken tree).
fn ancestors<'a>(spans: &'a [Span], span: &'a Span) -> Vec<&'a str> {
    let by_id: HashMap<&[u8], &Span> = spans.iter().map(|s| (s.id.as_slice(), s)).collect();
    let mut out = Vec::new();
    let mut cur = span;
    while !cur.parent.is_empty() {
        let parent = by_id
            .get(cur.parent.as_slice())
            .unwrap_or_else(|| panic!("the parent of {} ({:?}) was not exported", cur.name, cur.attrs));
        assert_eq!(parent.trace, cur.trace, "a child in another trace than its parent");
        out.push(parent.name.as_str());
        cur = parent;
    }
    out
}

/// Every string the emulator's credentials or tokens could show up as, and the markers of a query or a header.
fn forbidden() -> Vec<&'static str> {
    vec![
        defaults::GOOGLE_CLIENT_SECRET,
        defaults::GOOGLE_DEVELOPER_TOKEN,
        defaults::GOOGLE_REFRESH_TOKEN,
        defaults::META_ACCESS_TOKEN,
        defaults::META_APP_SECRET,
        defaults::TIKTOK_ACCESS_TOKEN,
        defaults::TIKTOK_APP_SECRET,
        defaults::LINKEDIN_ACCESS_TOKEN,
        defaults::LINKEDIN_REFRESH_TOKEN,
        defaults::LINKEDIN_CLIENT_SECRET,
        defaults::X_ACCESS_TOKEN,
        defaults::X_TOKEN_SECRET,
        defaults::X_CONSUMER_SECRET,
        defaults::MAILCHIMP_API_KEY,
        defaults::MAILCHIMP_OAUTH_TOKEN,
        defaults::MAILCHIMP_CLIENT_SECRET,
        defaults::HUBSPOT_PRIVATE_APP_TOKEN,
        defaults::HUBSPOT_CLIENT_SECRET,
        defaults::HUBSPOT_REFRESH_TOKEN,
        defaults::SALESFORCE_CLIENT_SECRET,
        defaults::SALESFORCE_REFRESH_TOKEN,
        "PRIVATE KEY",
        // the Google access tokens the emulator issues
        "ya29.",
        "access_token",
        "appsecret_proof",
        "Bearer",
        "?",
    ]
}

fn assert_no_secret(spans: &[Span]) {
    let bad = forbidden();
    for s in spans {
        for (k, v) in &s.attrs {
            let text = match v {
                Any::StringValue(t) => t.clone(),
                other => format!("{other:?}"),
            };
            assert!(
                !bad.iter().any(|b| text.contains(b)),
                "span {} attribute {k} may hold a secret: {text}",
                s.name
            );
        }
    }
}

#[test]
fn apply_exports_the_span_tree_with_request_ids_and_no_secret() {
    let rx = Receiver::start();
    let endpoint = rx.endpoint();
    // (example, its platforms with whether their responses carry a request id): the wire notes of X, HubSpot
    // (a `correlationId` in error bodies only) and Salesforce name no request id header and their emulators send
    // none; the connectors record one (`x-transaction-id`, `x-hubspot-correlation-id`, `sforce-request-id`) when
    // there is one.
    let cases: [(&str, &[(&str, bool)]); 7] = [
        ("quickstart", &[("google_ads", true), ("meta", true)]),
        ("tiktok", &[("tiktok", true)]),
        ("linkedin", &[("linkedin", true)]),
        ("x", &[("x", false)]),
        ("mailchimp", &[("mailchimp", true)]),
        ("hubspot", &[("google_ads", true), ("hubspot", false)]),
        ("salesforce", &[("meta", true), ("salesforce", false)]),
    ];
    for (example, platforms) in cases {
        rx.got.lock().unwrap().spans.clear();
        let (_tmp, dir) = common::example(example);
        apply(
            &dir,
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                ("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-key=k-123"),
            ],
        );
        // flushed before the process exited: everything is here now
        let spans = rx.spans();
        assert!(!spans.is_empty(), "{example}: no span exported");
        assert!(
            spans.iter().all(|s| s.service.as_deref() == Some("adsctl")),
            "{example}: service.name is not adsctl"
        );
        let requests: Vec<&Span> = spans.iter().filter(|s| s.name == "request").collect();
        for &(platform, request_ids) in platforms {
            let mine: Vec<&&Span> = requests
                .iter()
                .filter(|s| s.str("platform") == Some(platform))
                .collect();
            assert!(!mine.is_empty(), "{example}: no request span of {platform}");
            for r in &mine {
                assert!(r.str("account").is_some(), "{example}: {r:?}");
                assert!(r.str("method").is_some(), "{example}: {r:?}");
                assert!(r.str("path").is_some(), "{example}: {r:?}");
            }
            // reads under a plan, writes under an apply batch, each in its account
            let read = mine
                .iter()
                .find(|r| ancestors(&spans, r).starts_with(&["account", "plan"]))
                .unwrap_or_else(|| panic!("{example}: no {platform} request under plan → account"));
            assert!(matches!(read.attrs.get("status"), Some(Any::IntValue(200))), "{read:?}");
            assert!(
                mine.iter()
                    .any(|r| ancestors(&spans, r).starts_with(&["batch", "account", "apply"])),
                "{example}: no {platform} request under apply → account → batch: {mine:#?}"
            );
            // the platform's request id (a header, or TikTok's envelope)
            assert_eq!(
                mine.iter()
                    .any(|r| r.str("request_id").is_some_and(|id| !id.is_empty())),
                request_ids,
                "{example}: a request id on a {platform} request: {mine:#?}"
            );
        }
        // one trace for the command: its plan and its apply under `adsctl apply`
        let root = spans
            .iter()
            .find(|s| s.name == "adsctl apply")
            .unwrap_or_else(|| panic!("{example}: no root span"));
        assert!(
            root.parent.is_empty() && root.str("command") == Some("apply"),
            "{root:?}"
        );
        for phase in ["plan", "apply"] {
            let s = spans
                .iter()
                .find(|s| s.name == phase)
                .unwrap_or_else(|| panic!("{example}: no {phase} span"));
            assert_eq!(ancestors(&spans, s), ["adsctl apply"], "{example}: {phase}");
        }
        assert!(
            spans.iter().all(|s| s.trace == root.trace),
            "{example}: more than one trace"
        );
        let batch = spans
            .iter()
            .find(|s| s.name == "batch")
            .unwrap_or_else(|| panic!("{example}: no batch span"));
        assert!(
            matches!(batch.attrs.get("size"), Some(Any::IntValue(n)) if *n > 0),
            "{batch:?}"
        );
        // every parent arrived (the tree is whole) and nothing carries a secret
        for s in &spans {
            ancestors(&spans, s);
        }
        assert_no_secret(&spans);
    }
    let got = rx.got.lock().unwrap();
    assert_eq!(got.undecodable, 0);
    assert!(
        got.headers
            .iter()
            .all(|h| h.get("x-collector-key").is_some_and(|v| v == "k-123")),
        "OTEL_EXPORTER_OTLP_HEADERS not sent"
    );
}

#[test]
fn watch_exports_each_reconcile_while_it_runs() {
    let rx = Receiver::start();
    let (_tmp, dir) = common::example("quickstart");
    let child = adsctl()
        .args([
            "watch",
            "--emulator",
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "1h",
            "--no-file-watch",
        ])
        .arg(&dir)
        .env(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("{}/v1/traces", rx.endpoint()),
        )
        .env("OTEL_SERVICE_NAME", "adsctl-watch")
        // export every 200 ms (the default is 5 s)
        .env("OTEL_BSP_SCHEDULE_DELAY", "200")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            if let Ok(None) = self.0.try_wait() {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
    let mut child = KillOnDrop(child);
    let stderr = child.0.stderr.take().unwrap();
    let reader = std::thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).collect::<Vec<_>>());

    // Exported while the daemon runs: a reconcile of each account, holding its plan and its apply.
    let deadline = Instant::now() + Duration::from_secs(90);
    let reconciles = loop {
        let spans = rx.spans();
        let done: Vec<Span> = spans.iter().filter(|s| s.name == "reconcile").cloned().collect();
        if done.len() >= 2 {
            break done;
        }
        assert!(
            Instant::now() < deadline,
            "no reconcile spans exported while watch runs ({} spans)",
            spans.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.0.wait().unwrap();
    let log = reader.join().unwrap();
    assert!(exit.success(), "exit {exit:?}: {log:#?}");

    let spans = rx.spans();
    let mut accounts: Vec<&str> = reconciles.iter().filter_map(|r| r.str("account")).collect();
    accounts.sort();
    assert_eq!(accounts, ["acme-search", "acme-social"]);
    for r in &reconciles {
        assert!(r.parent.is_empty(), "a reconcile is a root: {r:?}");
        assert_eq!(r.service.as_deref(), Some("adsctl-watch"));
        let platform = r.str("platform").unwrap();
        let under = |chain: &[&str]| {
            spans.iter().any(|s| {
                s.name == "request"
                    && s.str("platform") == Some(platform)
                    && s.trace == r.trace
                    && ancestors(&spans, s) == chain
            })
        };
        assert!(
            under(&["account", "plan", "reconcile"]),
            "{platform}: no read under reconcile → plan → account"
        );
        assert!(
            under(&["batch", "account", "apply", "reconcile"]),
            "{platform}: no write under reconcile → apply → account → batch"
        );
    }
    assert_no_secret(&spans);
}

#[test]
fn nothing_is_sent_without_an_endpoint_or_when_disabled() {
    let rx = Receiver::start();
    let (_tmp, dir) = common::example("quickstart");
    // other OTEL_ variables without an endpoint
    let out = apply(
        &dir,
        &[("OTEL_SERVICE_NAME", "adsctl"), ("OTEL_BSP_SCHEDULE_DELAY", "10")],
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("OpenTelemetry"),
        "{out:?}"
    );
    let (_tmp2, dir) = common::example("quickstart");
    let endpoint = rx.endpoint();
    apply(
        &dir,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_SDK_DISABLED", "true"),
        ],
    );
    let (_tmp3, dir) = common::example("quickstart");
    apply(
        &dir,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_TRACES_EXPORTER", "none"),
        ],
    );
    let got = rx.got.lock().unwrap();
    assert_eq!(got.headers.len(), 0, "an export was sent");
}

#[test]
fn a_dead_collector_fails_nothing_and_is_said_once() {
    // a port nothing listens on any more
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (_tmp, dir) = common::example("quickstart");
    let endpoint = format!("http://{dead}");
    let out = apply(&dir, &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("cannot export traces").count(),
        1,
        "the failed export is said exactly once: {stderr}"
    );
    // the warning names neither the endpoint nor a header
    assert!(!stderr.contains(&dead.port().to_string()), "{stderr}");
}
