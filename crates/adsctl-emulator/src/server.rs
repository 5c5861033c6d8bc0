//! The HTTP server: accept loop (with per-connection control for injected resets), the admin API under
//! `/_emulator/`, and persistence of the state to `--data`.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use adsctl_serve::{Limits, Slot, Slots};
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt;

use super::counters::{count_middleware, Counters};
use super::faults::{fault_middleware, FaultLayerState, FaultSpec, FaultState};
use super::{EmulatorError, Platforms};

/// Request extension set by the accept loop: lets the fault middleware drop the connection a request came on.
#[derive(Clone, Debug)]
pub struct ConnControl(Arc<Notify>);

impl ConnControl {
    /// Drop the connection (with a TCP reset) without sending anything more.
    pub fn kill(&self) {
        self.0.notify_one();
    }
}

/// Shared state of the admin API.
pub(crate) struct Core {
    pub platforms: Platforms,
    pub counters: Arc<Counters>,
    pub faults: Arc<FaultState>,
}

/// The whole app: admin routes plus each platform's routes wrapped in counting (inner) and faults (outer).
pub(crate) fn app(core: Arc<Core>) -> Router {
    let mut app = Router::new()
        .route("/_emulator/health", get(health))
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/dump", get(dump))
        .route("/_emulator/requests", get(requests).delete(requests_reset))
        .route("/_emulator/requests/reset", post(requests_reset))
        .route("/_emulator/faults", get(faults_get).post(faults_set))
        .with_state(core.clone());
    for p in core.platforms.all() {
        let router = p
            .router()
            .layer(axum::middleware::from_fn_with_state(
                core.counters.clone(),
                count_middleware,
            ))
            .layer(axum::middleware::from_fn_with_state(
                FaultLayerState {
                    faults: core.faults.clone(),
                    platform: p.clone(),
                },
                fault_middleware,
            ));
        app = app.merge(router);
    }
    app.fallback(|| async {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}})),
        )
    })
}

async fn health(State(core): State<Arc<Core>>) -> Json<Value> {
    let names: Vec<&str> = core.platforms.all().map(|p| p.name()).collect();
    Json(json!({"status": "ok", "platforms": names}))
}

async fn reset(State(core): State<Arc<Core>>) -> Json<Value> {
    for p in core.platforms.all() {
        p.reset();
    }
    core.counters.reset();
    Json(json!({"reset": true}))
}

async fn dump(State(core): State<Arc<Core>>) -> Json<Value> {
    Json(dump_all(&core.platforms))
}

async fn requests(State(core): State<Arc<Core>>) -> Json<Value> {
    Json(serde_json::to_value(core.counters.snapshot()).unwrap_or(Value::Null))
}

async fn requests_reset(State(core): State<Arc<Core>>) -> Json<Value> {
    core.counters.reset();
    Json(json!({"reset": true}))
}

async fn faults_get(State(core): State<Arc<Core>>) -> Json<Value> {
    Json(json!({"spec": core.faults.spec(), "injected": core.faults.injected()}))
}

/// Body: the spec as JSON (`{"5xx":0.05,"latency":"20ms","seed":7}`), or `{"spec":"5xx=0.05,…"}`.
async fn faults_set(State(core): State<Arc<Core>>, body: axum::body::Bytes) -> Response {
    let parsed = match serde_json::from_slice::<Value>(&body) {
        Err(e) => Err(format!("body is not JSON: {e}")),
        Ok(Value::Object(m)) if m.len() == 1 && m.get("spec").is_some_and(Value::is_string) => {
            FaultSpec::parse(m.get("spec").and_then(Value::as_str).unwrap_or_default()).map_err(|e| e.to_string())
        }
        Ok(v) => serde_json::from_value::<FaultSpec>(v)
            .map_err(|e| e.to_string())
            .and_then(|s| s.check().map(|_| s).map_err(|e| e.to_string())),
    };
    match parsed {
        Ok(spec) => {
            core.faults.set(spec.clone());
            Json(json!({"spec": spec})).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response(),
    }
}

pub(crate) fn dump_all(platforms: &Platforms) -> Value {
    let mut m = serde_json::Map::new();
    for p in platforms.all() {
        m.insert(p.name().to_string(), p.dump());
    }
    json!({"version": 1, "platforms": m})
}

/// Write the state atomically (temporary file, then rename).
pub(crate) fn persist(platforms: &Platforms, path: &Path) -> Result<(), EmulatorError> {
    let err = |e: std::io::Error| EmulatorError::Data {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let text = serde_json::to_vec(&dump_all(platforms)).map_err(|e| EmulatorError::Data {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// Restore the state from `path` when it exists.
pub(crate) fn restore(platforms: &Platforms, path: &Path) -> Result<(), EmulatorError> {
    let err = |message: String| EmulatorError::Data {
        path: path.to_path_buf(),
        message,
    };
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(err(e.to_string())),
    };
    let v: Value = serde_json::from_slice(&text).map_err(|e| err(e.to_string()))?;
    let Some(ps) = v.get("platforms").and_then(Value::as_object) else {
        return Err(err("no `platforms` object".into()));
    };
    for p in platforms.all() {
        if let Some(d) = ps.get(p.name()) {
            p.restore(d.clone()).map_err(|m| err(format!("{}: {m}", p.name())))?;
        }
    }
    Ok(())
}

/// The emulator's connection limits (overridden by `ADSCTL_EMULATOR_MAX_CONNECTIONS`,
/// `ADSCTL_EMULATOR_HEADER_TIMEOUT_MS`, `ADSCTL_EMULATOR_IDLE_TIMEOUT_MS`; see [`adsctl_serve`]). Generous, its
/// clients being test harnesses with connection pools, but bounded. The header-read timeout is also how long a
/// kept-alive connection may wait for its next request, so it outlasts clients' pool idle timeouts (reqwest:
/// 90 s): a shorter one would race a client reusing the connection as it is closed.
pub const LIMITS: Limits = Limits {
    max_connections: 1024,
    header_read_timeout: Duration::from_secs(120),
    idle_timeout: Duration::from_secs(300),
};

/// Accept connections until `stop` is notified. Each connection runs in a task of a JoinSet owned here, so
/// they all end with this loop. At most [`LIMITS`] connections at once: one more closes the longest idle.
pub(crate) async fn accept_loop(listener: TcpListener, app: Router, stop: Arc<Notify>) {
    let limits = Limits::from_env("ADSCTL_EMULATOR", LIMITS);
    let slots = Slots::new(limits.max_connections);
    let mut conns = tokio::task::JoinSet::new();
    let mut logged = None;
    loop {
        let accepted = tokio::select! {
            _ = stop.notified() => break,
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            // Too many open files and the like: pause instead of spinning.
            Err(e) => {
                adsctl_serve::accept_failed(&e, &mut logged).await;
                continue;
            }
        };
        let Some(slot) = slots.admit().await else {
            // every connection has a request in flight: refuse rather than queue without bound
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        conns.spawn(serve_connection(stream, app, slot, limits));
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, app: Router, slot: Slot, limits: Limits) {
    // A second handle on the socket, to set SO_LINGER=0 (reset) when a fault kills the connection.
    let Ok(std_stream) = stream.into_std() else {
        return;
    };
    let Ok(dup) = std_stream.try_clone() else {
        return;
    };
    let Ok(stream) = tokio::net::TcpStream::from_std(std_stream) else {
        return;
    };
    let kill = Arc::new(Notify::new());
    let control = ConnControl(kill.clone());
    let activity = slot.activity.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(control.clone());
        let app = app.clone();
        let activity = activity.clone();
        async move {
            let resp = activity.request(app.oneshot(req.map(Body::new))).await;
            Ok::<_, Infallible>(match resp {
                Ok(r) => r,
                Err(never) => match never {},
            })
        }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {
            let _ = socket2::SockRef::from(&dup).set_linger(Some(Duration::ZERO));
        }
        _ = slot.evict.cancelled() => {}
        _ = adsctl_serve::idle_timeout(&slot.activity, limits.idle_timeout) => {}
    }
}
