//! The status server: health, readiness, Prometheus metrics, JSON status and plan, and the HTML status page.
//!
//! Connections are capped, and slow or idle clients dropped ([`crate::serve`]): a flood of connections cannot
//! take the file descriptors the daemon needs to reload its config and call the platforms.
//!
//! Loopback by default. Bound to any other address it requires `Authorization: Bearer $ADSCTL_STATUS_TOKEN` on
//! every route but `/healthz` (which says only "ok"), and refuses to start without the variable.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio_util::sync::CancellationToken;

use super::status::StatusHub;
use crate::secret::Secret;
pub use crate::serve::Limits;

/// The environment variable holding the bearer token for a non-loopback status server.
pub const TOKEN_ENV: &str = "ADSCTL_STATUS_TOKEN";

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Required when `listen` is not a loopback address.
    pub token: Option<Secret>,
    /// Connection cap, header-read and idle timeouts.
    pub limits: Limits,
}

/// The status server's limits: a handful of scrapers and browsers need far fewer connections than a process
/// has file descriptors, so a flood of idle connections never starves the daemon's config reloads or API calls.
pub const DEFAULT_LIMITS: Limits = Limits {
    max_connections: 256,
    header_read_timeout: Duration::from_secs(10),
    idle_timeout: Duration::from_secs(60),
};

impl ServerConfig {
    /// `listen`, with the token from [`TOKEN_ENV`] when set and not empty, and the limits from
    /// `ADSCTL_STATUS_MAX_CONNECTIONS`, `ADSCTL_STATUS_HEADER_TIMEOUT_MS`, `ADSCTL_STATUS_IDLE_TIMEOUT_MS`.
    pub fn from_env(listen: SocketAddr) -> ServerConfig {
        let token = std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty()).map(Secret::new);
        ServerConfig {
            listen,
            token,
            limits: Limits::from_env("ADSCTL_STATUS", DEFAULT_LIMITS),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("the status server would listen on {addr}, which is not a loopback address, without a token")]
    TokenRequired { addr: SocketAddr },
    #[error("cannot listen on {addr}: {message}")]
    Bind { addr: SocketAddr, message: String },
}

impl ServerError {
    pub fn hint(&self) -> String {
        match self {
            ServerError::TokenRequired { .. } => format!(
                "set {TOKEN_ENV} to a long random string (clients send `Authorization: Bearer <token>`), or keep the default --listen 127.0.0.1:9464"
            ),
            ServerError::Bind { .. } => "pick another port with --listen, or stop whatever is using it".into(),
        }
    }
}

#[derive(Clone)]
struct AppState {
    hub: Arc<StatusHub>,
    token: Option<Secret>,
}

/// A bound, not yet serving, status server.
pub struct StatusServer {
    listener: tokio::net::TcpListener,
    router: Router,
    local_addr: SocketAddr,
    limits: Limits,
}

/// The routes, with the token check when `token` is set.
pub fn router(hub: Arc<StatusHub>, token: Option<Secret>) -> Router {
    let state = AppState { hub, token };
    let protected = Router::new()
        .route("/", get(page))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(status))
        .route("/api/v1/plan", get(plan))
        .layer(axum::middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(protected)
        .with_state(state)
}

impl StatusServer {
    pub async fn bind(config: ServerConfig, hub: Arc<StatusHub>) -> Result<StatusServer, ServerError> {
        let token = if config.listen.ip().is_loopback() {
            None
        } else {
            match config.token {
                Some(t) => Some(t),
                None => return Err(ServerError::TokenRequired { addr: config.listen }),
            }
        };
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| ServerError::Bind {
                addr: config.listen,
                message: e.to_string(),
            })?;
        let local_addr = listener.local_addr().map_err(|e| ServerError::Bind {
            addr: config.listen,
            message: e.to_string(),
        })?;
        Ok(StatusServer {
            listener,
            router: router(hub, token),
            local_addr,
            limits: config.limits,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serve until `shutdown` is cancelled, within the connection limits (see [`crate::serve`]).
    pub async fn serve(self, shutdown: CancellationToken) -> std::io::Result<()> {
        crate::serve::serve_http1(self.listener, self.router, self.limits, shutdown).await
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn require_token(State(st): State<AppState>, headers: HeaderMap, req: Request, next: Next) -> Response {
    if let Some(token) = &st.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let ok = given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.expose().as_bytes()));
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                format!("missing or wrong bearer token (see {TOKEN_ENV})\n"),
            )
                .into_response();
        }
    }
    next.run(req).await
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(st): State<AppState>) -> Response {
    match st.hub.ready() {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}\n")).into_response(),
    }
}

/// OpenMetrics when the scraper asks for it (Prometheus does), the Prometheus text format otherwise (`curl`,
/// older scrapers).
async fn metrics(State(st): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let body = st.hub.encode_metrics();
    if super::metrics::wants_openmetrics(accept) {
        ([(header::CONTENT_TYPE, super::metrics::CONTENT_TYPE)], body).into_response()
    } else {
        (
            [(header::CONTENT_TYPE, super::metrics::TEXT_CONTENT_TYPE)],
            super::metrics::prometheus_text(&body),
        )
            .into_response()
    }
}

async fn status(State(st): State<AppState>) -> Json<super::status::Snapshot> {
    Json(st.hub.snapshot())
}

async fn plan(State(st): State<AppState>) -> Json<serde_json::Value> {
    Json(st.hub.plans())
}

async fn page(State(st): State<AppState>) -> Html<String> {
    Html(super::page::render(&st.hub.snapshot(), chrono::Utc::now()))
}
