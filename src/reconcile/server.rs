//! The status server: health, readiness, Prometheus metrics, the versioned API and the HTML dashboard.
//!
//! Connections are capped, and slow or idle clients dropped ([`crate::serve`]): a flood of connections cannot
//! take the file descriptors the daemon needs to reload its config and call the platforms.
//!
//! Loopback by default. Bound to any other address it requires a bearer token on every route but `/healthz`
//! (which says only "ok"), `/readyz` (ready, or the kind of reason why not) and the dashboard's script, and
//! refuses to start without one: `$ADSCTL_STATUS_TOKEN` (reads only) or an API token
//! of `adsctl api-token` ([`crate::apitoken`]).
//!
//! The versioned API's routes are one table, [`ROUTES`], which the router is built from and `tests/openapi.rs`
//! checks against `docs/openapi.yaml`; the integration and metrics handlers are in `super::api`.
//!
//! API tokens: once one exists, every `/api/v1/*` request needs `Authorization: Bearer <token>`, wherever the
//! server listens (but the OAuth callback, which only a live `connect` makes do anything); a viewer reads, an
//! operator also acts (every `POST`). The token
//! file is read on every request, so tokens created or revoked by the CLI count at once. No cookie is ever set
//! or read (no CSRF through ambient credentials); the one request served without a token that acts — an action
//! on loopback while no token exists, as before tokens — is refused unless its `Host` is loopback and it does
//! not come from a cross-site page (`Origin`, `Sec-Fetch-Site`), against CSRF and DNS rebinding.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio_util::sync::CancellationToken;

use super::daemon::Command;
use super::status::StatusHub;
use crate::apitoken::{Role, TokenStore};
use crate::audit::{AuditEntry, AuditLog};
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
                "create an API token (`adsctl api-token create NAME --role viewer`) or set {TOKEN_ENV} to a long random string (clients send `Authorization: Bearer <token>`), or keep the default --listen 127.0.0.1:9464"
            ),
            ServerError::Bind { .. } => "pick another port with --listen, or stop whatever is using it".into(),
        }
    }
}

/// What the HTTP API needs beyond the status: the token file, the daemon's command channel (actions), the
/// state directory (the audit log), the auth stage (integrations) and the reconciler (its metrics store). The
/// default has neither tokens nor actions.
#[derive(Clone, Default)]
pub struct Api {
    /// The state directory holding `api-tokens.json` and `audit.jsonl`.
    pub state_dir: Option<std::path::PathBuf>,
    /// The running daemon's commands (`None`: actions answer 503).
    pub commands: Option<tokio::sync::mpsc::Sender<Command>>,
    /// The auth stage of the daemon's project: token status, validate, refresh, connect, disconnect (`None`:
    /// those answer 503).
    pub auth: Option<crate::auth::Auth>,
    /// The reconciler, for reports from its metrics store (`None`: metrics answer 503, integrations show no
    /// usage).
    pub reconciler: Option<Arc<dyn super::Reconciler>>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("state_dir", &self.state_dir)
            .field("actions", &self.commands.is_some())
            .field("auth", &self.auth)
            .field("metrics", &self.reconciler.is_some())
            .finish()
    }
}

#[derive(Clone)]
pub(super) struct AppState {
    pub(super) hub: Arc<StatusHub>,
    token: Option<Secret>,
    /// Bound to loopback: requests without a token are served (while no API token exists).
    loopback: bool,
    tokens: Option<TokenStore>,
    pub(super) api: Api,
    /// Logins begun through `connect`, waiting for their callback.
    pub(super) logins: Arc<super::api::Logins>,
    /// `http://<listen address>/api/v1/oauth/callback`, once bound.
    pub(super) callback_url: Option<String>,
}

/// Who a request comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Access {
    /// No token (loopback, no API token exists).
    Anonymous,
    /// `$ADSCTL_STATUS_TOKEN`: reads only.
    StatusToken,
    /// An API token, by name.
    Token { name: String, role: Role },
}

/// A bound, not yet serving, status server.
pub struct StatusServer {
    listener: tokio::net::TcpListener,
    router: Router,
    local_addr: SocketAddr,
    limits: Limits,
}

/// The routes, with the token check when `token` is set (as off loopback), without API tokens or actions.
pub fn router(hub: Arc<StatusHub>, token: Option<Secret>) -> Router {
    let loopback = token.is_none();
    router_with(hub, token, loopback, Api::default())
}

/// Who may call a route of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allowed {
    /// Anyone (the OAuth callback: the browser is redirected there; only a live `state` makes it do anything).
    Public,
    /// Readers: a viewer or operator token, `$ADSCTL_STATUS_TOKEN`, or nobody on loopback while no token exists.
    Read,
    /// Actions: an operator token (or, on loopback while no token exists, a request from this machine).
    Operate,
}

/// One route of the versioned API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The path, with `{name}` parameters as axum and OpenAPI write them.
    pub path: &'static str,
    pub allowed: Allowed,
}

const fn route(method: &'static str, path: &'static str, allowed: Allowed) -> Route {
    Route { method, path, allowed }
}

/// Every route of `/api/v1`: the router is built from this table, and `tests/openapi.rs` checks it against
/// `docs/openapi.yaml`.
pub const ROUTES: &[Route] = &[
    route("GET", "/api/v1/status", Allowed::Read),
    route("GET", "/api/v1/plan", Allowed::Read),
    route("POST", "/api/v1/accounts/{name}/reconcile", Allowed::Operate),
    route("GET", "/api/v1/runs/{id}", Allowed::Read),
    route("GET", "/api/v1/integrations", Allowed::Read),
    route("GET", "/api/v1/integrations/{id}", Allowed::Read),
    route("POST", "/api/v1/integrations/{id}/validate", Allowed::Operate),
    route("POST", "/api/v1/integrations/{id}/refresh", Allowed::Operate),
    route("POST", "/api/v1/integrations/{id}/connect", Allowed::Operate),
    route("POST", "/api/v1/integrations/{id}/disconnect", Allowed::Operate),
    route("GET", "/api/v1/oauth/callback", Allowed::Public),
    route("GET", "/api/v1/accounts/{name}/metrics", Allowed::Read),
    route("GET", "/api/v1/metrics", Allowed::Read),
];

/// The handler of a route of [`ROUTES`].
fn handler(r: &Route) -> Option<axum::routing::MethodRouter<AppState>> {
    use super::api;
    Some(match (r.method, r.path) {
        ("GET", "/api/v1/status") => get(status),
        ("GET", "/api/v1/plan") => get(plan),
        ("POST", "/api/v1/accounts/{name}/reconcile") => post(reconcile_now),
        ("GET", "/api/v1/runs/{id}") => get(run),
        ("GET", "/api/v1/integrations") => get(api::list_integrations),
        ("GET", "/api/v1/integrations/{id}") => get(api::get_integration),
        ("POST", "/api/v1/integrations/{id}/validate") => post(api::validate),
        ("POST", "/api/v1/integrations/{id}/refresh") => post(api::refresh),
        ("POST", "/api/v1/integrations/{id}/connect") => post(api::connect),
        ("POST", "/api/v1/integrations/{id}/disconnect") => post(api::disconnect),
        ("GET", "/api/v1/oauth/callback") => get(api::oauth_callback),
        ("GET", "/api/v1/accounts/{name}/metrics") => get(api::account_metrics),
        ("GET", "/api/v1/metrics") => get(api::bulk_metrics),
        _ => return None,
    })
}

/// The routes: `loopback` serves requests without a token while no API token exists.
pub fn router_with(hub: Arc<StatusHub>, token: Option<Secret>, loopback: bool, api: Api) -> Router {
    router_at(hub, token, loopback, api, None)
}

fn router_at(
    hub: Arc<StatusHub>,
    token: Option<Secret>,
    loopback: bool,
    api: Api,
    callback_url: Option<String>,
) -> Router {
    let tokens = api.state_dir.as_deref().map(TokenStore::at_state_dir);
    let state = AppState {
        hub,
        token,
        loopback,
        tokens,
        api,
        logins: Arc::new(super::api::Logins::default()),
        callback_url,
    };
    let mut protected = Router::new().route("/", get(page)).route("/metrics", get(metrics));
    // Probes and the dashboard's script need no token: `/healthz` says only "ok", `/readyz` only whether the
    // daemon is ready and why not (a Kubernetes probe cannot send a Secret as a header), the script holds no data.
    let mut public = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route(super::page::SCRIPT_PATH, get(script));
    for r in ROUTES {
        let Some(h) = handler(r) else {
            tracing::error!(path = r.path, "no handler for an API route");
            continue;
        };
        if r.allowed == Allowed::Public {
            public = public.route(r.path, h);
        } else {
            protected = protected.route(r.path, h);
        }
    }
    let protected = protected.layer(axum::middleware::from_fn_with_state(state.clone(), require_token));
    public.merge(protected).with_state(state)
}

impl StatusServer {
    pub async fn bind(config: ServerConfig, hub: Arc<StatusHub>) -> Result<StatusServer, ServerError> {
        StatusServer::bind_with(config, hub, Api::default()).await
    }

    /// Bind with the HTTP API's tokens and actions. Off loopback it needs `$ADSCTL_STATUS_TOKEN` or an API token.
    pub async fn bind_with(config: ServerConfig, hub: Arc<StatusHub>, api: Api) -> Result<StatusServer, ServerError> {
        let loopback = config.listen.ip().is_loopback();
        let has_api_tokens = api
            .state_dir
            .as_deref()
            .is_some_and(|d| TokenStore::at_state_dir(d).any());
        if !loopback && config.token.is_none() && !has_api_tokens {
            return Err(ServerError::TokenRequired { addr: config.listen });
        }
        // On loopback the status token is not required, but still accepted (for reads) when sent.
        let token = config.token;
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
        // The OAuth redirect comes back to the address the server listens on (loopback when it listens on every
        // address: the platforms accept a plain-HTTP redirect to loopback only).
        let callback_ip = if local_addr.ip().is_unspecified() {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        } else {
            local_addr.ip()
        };
        let callback_url = format!(
            "http://{}/api/v1/oauth/callback",
            SocketAddr::new(callback_ip, local_addr.port())
        );
        Ok(StatusServer {
            listener,
            router: router_at(hub, token, loopback, api, Some(callback_url)),
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

fn unauthorized(why: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        format!("{why} (send `Authorization: Bearer <token>`; see `adsctl api-token` or {TOKEN_ENV})\n"),
    )
        .into_response()
}

/// Who sent the request, or the refusal: a token is needed off loopback, and on `/api/v1/*` once any API token
/// exists. None, a wrong and a revoked token are one answer (401), which never repeats what was sent.
/// Why a request is refused before its route runs.
enum Refused {
    Unauthorized(&'static str),
    TokensUnreadable,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Unauthorized(why) => unauthorized(why),
            Refused::TokensUnreadable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot read the API tokens (their file, or the PostgreSQL state); see the daemon's log\n",
            )
                .into_response(),
        }
    }
}

fn authenticate(st: &AppState, headers: &HeaderMap, path: &str) -> Result<Access, Refused> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    // Tokens that cannot be read (a damaged file, the PostgreSQL state out of reach) count as existing: the API
    // fails closed, and says why rather than asking for a token it could not check.
    let tokens_exist = match st.tokens.as_ref().map(TokenStore::read) {
        None => false,
        Some(Ok(t)) => !t.is_empty(),
        Some(Err(e)) => {
            if path.starts_with("/api/") || !st.loopback {
                tracing::error!(error = %e, "cannot read the API tokens: refusing API requests");
                return Err(Refused::TokensUnreadable);
            }
            true
        }
    };
    let needed = !st.loopback || (tokens_exist && path.starts_with("/api/"));
    let Some(given) = presented else {
        return if needed {
            Err(Refused::Unauthorized("a bearer token is required"))
        } else {
            Ok(Access::Anonymous)
        };
    };
    if let Some(t) = &st.token {
        if constant_time_eq(given.as_bytes(), t.expose().as_bytes()) {
            return Ok(Access::StatusToken);
        }
    }
    if let Some(store) = &st.tokens {
        match store.authenticate(given) {
            Ok(Some(c)) => {
                return Ok(Access::Token {
                    name: c.name,
                    role: c.role,
                })
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "cannot read the API tokens: refusing requests with a token");
                return Err(Refused::TokensUnreadable);
            }
        }
    }
    if needed {
        Err(Refused::Unauthorized("unknown or revoked bearer token"))
    } else {
        // On loopback while no token exists, as before tokens: a stray header changes nothing.
        Ok(Access::Anonymous)
    }
}

async fn require_token(State(st): State<AppState>, headers: HeaderMap, mut req: Request, next: Next) -> Response {
    match authenticate(&st, &headers, req.uri().path()) {
        Ok(access) => {
            req.extensions_mut().insert(access);
            next.run(req).await
        }
        Err(refused) => refused.into_response(),
    }
}

/// `localhost`, `127.0.0.1`, `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// An action without a token (loopback, no API token exists) from a program on this machine, not from a web
/// page: a loopback `Host` (no DNS rebinding), no cross-site `Origin` or `Sec-Fetch-Site`.
fn same_machine_request(headers: &HeaderMap) -> bool {
    let text = |h: header::HeaderName| headers.get(h).map(|v| v.to_str().unwrap_or("\u{0}"));
    let host_ok = text(header::HOST).is_some_and(is_loopback_host);
    let origin_ok = match text(header::ORIGIN) {
        None => true,
        Some(o) => url::Url::parse(o)
            .ok()
            .and_then(|u| u.host_str().map(is_loopback_host))
            .unwrap_or(false),
    };
    let fetch_ok = !matches!(
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
        Some("cross-site")
    );
    host_ok && origin_ok && fetch_ok
}

pub(super) fn json_error(code: StatusCode, message: impl Into<String>, hint: &str) -> Response {
    (code, Json(serde_json::json!({"error": message.into(), "hint": hint}))).into_response()
}

/// A route's refusal or failure, already rendered (boxed: a response is large, and most results are not errors).
pub(super) struct ApiError(Box<Response>);

impl From<Response> for ApiError {
    fn from(r: Response) -> ApiError {
        ApiError(Box::new(r))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// [`json_error`] as an [`ApiError`].
pub(super) fn api_error(code: StatusCode, message: impl Into<String>, hint: &str) -> ApiError {
    json_error(code, message, hint).into()
}

/// Who may act: the operator token's name (or `loopback` for a token-less action from this machine), or the
/// refusal (403). Nothing is done for a refused request.
pub(super) fn operator(access: &Access, headers: &HeaderMap, target: &str) -> Result<String, ApiError> {
    match access {
        Access::Token {
            name,
            role: Role::Operator,
        } => Ok(name.clone()),
        Access::Token { name: token, .. } => {
            tracing::warn!(token = %token, target = %target, "action refused: the token is a viewer's");
            Err(api_error(
                StatusCode::FORBIDDEN,
                "this token may only read",
                "actions need an operator token: adsctl api-token create NAME --role operator",
            ))
        }
        Access::StatusToken => Err(api_error(
            StatusCode::FORBIDDEN,
            format!("{TOKEN_ENV} may only read"),
            "actions need an operator token: adsctl api-token create NAME --role operator",
        )),
        Access::Anonymous => {
            if !same_machine_request(headers) {
                tracing::warn!(target = %target, "action without a token refused: not from loopback, or from a web page");
                return Err(api_error(
                    StatusCode::FORBIDDEN,
                    "an action without a token must come from this machine, not from a web page",
                    "send it with curl to 127.0.0.1, or create an operator token: adsctl api-token create NAME --role operator",
                ));
            }
            Ok("loopback".to_string())
        }
    }
}

/// Write the audit entry of an action before it is taken: an action that cannot be audited is not taken (500).
pub(super) async fn audit_before(st: &AppState, access: &Access, by: &str, entry: AuditEntry) -> Result<(), ApiError> {
    let mut entry = entry;
    if matches!(access, Access::Token { .. }) {
        entry = entry.api_token(by);
    }
    let audited = match st.api.state_dir.clone() {
        Some(dir) => tokio::task::spawn_blocking(move || AuditLog::at_state_dir(&dir).append(entry))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string())),
        None => Ok(()),
    };
    audited.map_err(|e| {
        tracing::error!(error = %e, "cannot write the audit log: action refused");
        api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the audit log cannot be written: nothing was done",
            "check the state directory's permissions and free space",
        )
    })
}

/// `POST /api/v1/accounts/{name}/reconcile`: reconcile one account now (towards what the YAML says; the API
/// never edits the desired state). 202 with the run's id; an operator token is required once tokens exist.
async fn reconcile_now(
    State(st): State<AppState>,
    axum::Extension(access): axum::Extension<Access>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let by = match operator(&access, &headers, &name) {
        Ok(by) => by,
        Err(refused) => return refused.into_response(),
    };
    if st.hub.account(&name).is_none() {
        return json_error(
            StatusCode::NOT_FOUND,
            format!("no account named {name:?} in the daemon's config"),
            "see the accounts at /api/v1/status",
        );
    }
    let Some(commands) = st.api.commands.clone() else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this server takes no actions",
            "actions are served by `adsctl watch`",
        );
    };
    let run = st.hub.queue_run(&name, &by);
    // The audit entry is written before anything happens: an action that cannot be audited is not taken.
    let entry = AuditEntry::new("api.reconcile")
        .account(&name)
        .detail(&format!("run {}", run.id));
    if let Err(refused) = audit_before(&st, &access, &by, entry).await {
        st.hub.fail_run(&run.id, "not audited: the audit log cannot be written");
        return refused.into_response();
    }
    if commands.try_send(Command::ReconcileNow(Some(name.clone()))).is_err() {
        st.hub.fail_run(&run.id, "the daemon is busy or stopping");
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the daemon is busy or stopping: nothing was done",
            "try again in a moment",
        );
    }
    tracing::info!(account = %name, run = %run.id, by = %by, "reconcile requested through the API");
    let href = format!("/api/v1/runs/{}", run.id);
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, href.clone())],
        Json(serde_json::json!({"run": run.id, "account": name, "status": run.status, "href": href})),
    )
        .into_response()
}

/// `GET /api/v1/runs/{id}`: where a reconcile asked for through the API is.
async fn run(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    match st.hub.run(&id) {
        Some(r) => Json(r).into_response(),
        None => json_error(
            StatusCode::NOT_FOUND,
            "no such run",
            "runs are kept in memory for the daemon's life (the newest 1000)",
        ),
    }
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

/// The dashboard, with its Content-Security-Policy (its own script and requests only) and no framing.
async fn page(State(st): State<AppState>) -> Response {
    let integrations = super::api::gather(&st).await;
    let html = super::page::render(&st.hub.snapshot(), &integrations, chrono::Utc::now());
    (page_headers(), Html(html)).into_response()
}

fn page_headers() -> [(header::HeaderName, &'static str); 4] {
    [
        (header::CONTENT_SECURITY_POLICY, super::page::CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ]
}

/// The dashboard's script (public: it holds no data).
async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        super::page::SCRIPT,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_and_same_site_requests_act_without_a_token() {
        for h in ["127.0.0.1:9464", "localhost", "LOCALHOST:1", "[::1]:9464", "127.0.0.2"] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in ["evil.example", "10.0.0.1:9464", "localhost.evil.example", "[::2]:1", ""] {
            assert!(!is_loopback_host(h), "{h}");
        }
        let mut h = HeaderMap::new();
        assert!(!same_machine_request(&h), "no Host");
        h.insert(header::HOST, "127.0.0.1:9464".parse().unwrap());
        assert!(same_machine_request(&h));
        h.insert(header::ORIGIN, "http://localhost:3000".parse().unwrap());
        assert!(same_machine_request(&h));
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!same_machine_request(&h), "an opaque origin is a page");
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(!same_machine_request(&h));
    }
}
