//! OpenTelemetry trace export: the `tracing` spans adsctl already has (a daemon's `reconcile`, each `account`,
//! its `plan` and `apply`, the apply's `batch`es, each platform `request` and `token` request) sent over OTLP
//! (HTTP/protobuf) to the collector the standard `OTEL_EXPORTER_OTLP_*` variables name. Off unless an endpoint is
//! set: without one no exporter, no thread and no client is built (docs/tracing.md).
//!
//! Only spans are exported, never log events: the log lines are scrubbed of secrets on their way to stderr
//! (`secret::RedactingMakeWriter`), and an export would bypass that. The spans' fields are the ones that are safe
//! to print (`connectors::trace`: no query string, no body, no header but the platform's request id).
//!
//! Spans are batched on the SDK's own thread and posted with a blocking client there, so a slow or dead
//! collector never holds up a command: each post has a bounded timeout, a failure is said once as a warning, and
//! [`shutdown`] (the end of every command) waits for the last batch only that long.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, RetryPolicy, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::{Layer, Registry};

/// The service name when `OTEL_SERVICE_NAME` is not set.
pub const DEFAULT_SERVICE_NAME: &str = "adsctl";
/// How long one export may take when `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` / `OTEL_EXPORTER_OTLP_TIMEOUT` (ms) do
/// not say (the specification's 10 s would hold a command's exit that long on a collector that never answers).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest wait for a TCP connection to the collector.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The provider of the running export, kept for [`shutdown`].
static PROVIDER: Mutex<Option<(SdkTracerProvider, Duration)>> = Mutex::new(None);

/// What the environment asks of the export; `None` from [`Settings::from_env`] when it is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `OTEL_SERVICE_NAME`, else the `service.name` of `OTEL_RESOURCE_ATTRIBUTES`, else `adsctl`.
    pub service_name: String,
    /// The bound of one export (and of the flush at exit).
    pub timeout: Duration,
}

impl Settings {
    /// The settings from the environment (`var` reads one variable; empty counts as unset): off when
    /// `OTEL_SDK_DISABLED=true`, when `OTEL_TRACES_EXPORTER=none`, or when neither
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` nor `OTEL_EXPORTER_OTLP_ENDPOINT` is set. The endpoint and the headers
    /// (`OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`) are read by the exporter itself.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Option<Settings> {
        let get = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        if get("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return None;
        }
        if get("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none")) {
            return None;
        }
        get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| get("OTEL_EXPORTER_OTLP_ENDPOINT"))?;
        let timeout = get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
            .or_else(|| get("OTEL_EXPORTER_OTLP_TIMEOUT"))
            .and_then(|ms| ms.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_TIMEOUT);
        // OTEL_SERVICE_NAME, else a `service.name` among OTEL_RESOURCE_ATTRIBUTES, else adsctl's own
        let from_attributes = get("OTEL_RESOURCE_ATTRIBUTES").and_then(|attrs| {
            attrs.split(',').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k.trim() == "service.name" && !v.trim().is_empty()).then(|| v.trim().to_string())
            })
        });
        Some(Settings {
            service_name: get("OTEL_SERVICE_NAME")
                .or(from_attributes)
                .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_string()),
            timeout,
        })
    }
}

/// The root span of a CLI command (`adsctl apply`: its plan and its apply in one trace), exported but never
/// printed in logs (see [`not_for_logs`]). `adsctl watch` has none: each reconcile is a trace of its own.
pub fn command_span(command: &'static str) -> tracing::Span {
    tracing::info_span!(target: "adsctl::command", "command", otel.name = format!("adsctl {command}"), command)
}

/// The log lines' filter of what is only for the trace export ([`command_span`]).
pub fn not_for_logs() -> tracing_subscriber::filter::FilterFn<impl Fn(&tracing::Metadata<'_>) -> bool> {
    filter_fn(|m| m.target() != "adsctl::command")
}

/// The layer that exports adsctl's spans, when the environment configures an endpoint (see
/// [`Settings::from_env`]); `None` otherwise, and when the exporter cannot be built (said as a warning on
/// stderr: the logger is not installed yet). The daemon's (`daemon`) failed exports are tried again three times
/// (100 ms, doubling); a command's are not, so that a refused connection costs its exit nothing.
pub fn layer(daemon: bool) -> Option<Box<dyn Layer<Registry> + Send + Sync>> {
    let settings = Settings::from_env(|name| std::env::var(name).ok())?;
    if let Some(asked) = unsupported_protocol(|name| std::env::var(name).ok()) {
        eprintln!("warning: {asked} is not spoken: traces are sent as http/protobuf");
    }
    match provider(&settings, daemon) {
        Ok(provider) => {
            let tracer = provider.tracer("adsctl");
            *PROVIDER.lock().unwrap_or_else(PoisonError::into_inner) = Some((provider, settings.timeout));
            let layer = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_location(false)
                .with_threads(false)
                .with_level(false)
                .with_target(false)
                .with_tracked_inactivity(false)
                // adsctl's spans at info and above (the level the daemon logs at), whatever the log level; no
                // events (see the module's doc) and nothing of other crates
                .with_filter(
                    filter_fn(|m| {
                        m.is_span() && m.target().starts_with("adsctl") && *m.level() <= tracing::Level::INFO
                    })
                    .with_max_level_hint(tracing::Level::INFO),
                );
            Some(Box::new(layer))
        }
        Err(e) => {
            eprintln!("warning: OpenTelemetry trace export is off: {e}");
            None
        }
    }
}

/// `VAR=value` when the protocol the environment asks for (`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else
/// `OTEL_EXPORTER_OTLP_PROTOCOL`) is not http/protobuf, the only one adsctl sends.
fn unsupported_protocol(var: impl Fn(&str) -> Option<String>) -> Option<String> {
    ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"]
        .into_iter()
        .find_map(|name| Some((name, var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())?)))
        .filter(|(_, v)| v != "http/protobuf")
        .map(|(name, v)| format!("{name}={v}"))
}

/// Export what is still queued and stop the exporter, waiting at most the export timeout (and a little more).
/// Called at the end of every command; does nothing when the export is off.
pub fn shutdown() {
    let taken = PROVIDER.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some((provider, timeout)) = taken {
        // an export that fails has been said already (once, by the client)
        let _ = provider.shutdown_with_timeout(timeout + Duration::from_millis(500));
    }
}

fn provider(settings: &Settings, daemon: bool) -> Result<SdkTracerProvider, String> {
    let client = BlockingClient::new(settings.timeout)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_timeout(settings.timeout)
        .with_retry_policy(if daemon {
            RetryPolicy::recommended()
        } else {
            RetryPolicy::disabled()
        })
        .with_http_client(client)
        .build()
        .map_err(|e| e.to_string())?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(settings.service_name.clone())
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The exporter's HTTP client: reqwest's blocking client (the SDK exports from a thread of its own), with a
/// bounded timeout; a failed export is said once, without the endpoint's URL or headers (they may carry a key).
#[derive(Debug)]
struct BlockingClient {
    http: reqwest::blocking::Client,
    warned: AtomicBool,
}

impl BlockingClient {
    fn new(timeout: Duration) -> Result<BlockingClient, String> {
        // Built on a thread of its own: the blocking client starts a runtime, which cannot be done from within
        // one.
        let http = std::thread::Builder::new()
            .name("otel-client".into())
            .spawn(move || {
                reqwest::blocking::Client::builder()
                    .timeout(timeout)
                    .connect_timeout(CONNECT_TIMEOUT.min(timeout))
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?
            .join()
            .map_err(|_| "the HTTP client could not be built".to_string())?
            .map_err(|e| format!("the HTTP client could not be built: {}", e.without_url()))?;
        Ok(BlockingClient {
            http,
            warned: AtomicBool::new(false),
        })
    }

    fn warn_once(&self, what: &str) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "cannot export traces to the OpenTelemetry collector ({what}); adsctl goes on without them \
                 (check OTEL_EXPORTER_OTLP_ENDPOINT; this is said once)"
            );
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for BlockingClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let sent = self
            .http
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body.to_vec())
            .send()
            .and_then(|resp| {
                let status = resp.status();
                let body = resp.bytes()?;
                Ok((status, body))
            });
        match sent {
            Ok((status, body)) => {
                if !status.is_success() {
                    self.warn_once(&format!("HTTP {}", status.as_u16()));
                }
                let mut response = Response::new(body);
                *response.status_mut() = status;
                Ok(response)
            }
            Err(e) => {
                let e = e.without_url();
                self.warn_once(&e.to_string());
                Err(Box::new(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Option<Settings> {
        Settings::from_env(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn off_without_an_endpoint_or_when_disabled() {
        assert_eq!(settings(&[]), None);
        assert_eq!(settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]), None);
        assert_eq!(settings(&[("OTEL_SERVICE_NAME", "x")]), None);
        let on = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")];
        assert!(settings(&on).is_some());
        assert_eq!(settings(&[on[0], ("OTEL_SDK_DISABLED", "TRUE")]), None);
        assert_eq!(settings(&[on[0], ("OTEL_TRACES_EXPORTER", "none")]), None);
        assert!(settings(&[on[0], ("OTEL_SDK_DISABLED", "false")]).is_some());
        assert!(settings(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces")]).is_some());
    }

    #[test]
    fn only_http_protobuf_is_spoken() {
        let ask = |vars: &[(&str, &str)]| {
            unsupported_protocol(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
        };
        assert_eq!(ask(&[]), None);
        assert_eq!(ask(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]), None);
        assert_eq!(
            ask(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).as_deref(),
            Some("OTEL_EXPORTER_OTLP_PROTOCOL=grpc")
        );
        assert_eq!(
            ask(&[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
            ]),
            None
        );
    }

    #[test]
    fn service_name_and_timeout() {
        let on = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318");
        let s = settings(&[on]).unwrap();
        assert_eq!(s.service_name, "adsctl");
        assert_eq!(s.timeout, DEFAULT_TIMEOUT);
        let s = settings(&[
            on,
            ("OTEL_SERVICE_NAME", "ads-ci"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "5000"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "250"),
        ])
        .unwrap();
        assert_eq!(s.service_name, "ads-ci");
        assert_eq!(s.timeout, Duration::from_millis(250));
        assert_eq!(
            settings(&[on, ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")]).unwrap().timeout,
            DEFAULT_TIMEOUT
        );
        let attrs = (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment=prod, service.name=ads-prod",
        );
        assert_eq!(settings(&[on, attrs]).unwrap().service_name, "ads-prod");
        assert_eq!(
            settings(&[on, attrs, ("OTEL_SERVICE_NAME", "x")]).unwrap().service_name,
            "x"
        );
    }
}
