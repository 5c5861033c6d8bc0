//! `adsctl watch`: run the reconciler daemon with its status server until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{CommandError, CommandResult, GlobalArgs};
use crate::reconcile::{BackoffPolicy, Daemon, DaemonConfig, Mode, Reconciler, ServerConfig, StatusServer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config directory (holding adsctl.yaml).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Reconcile every account at least this often (`90s`, `5m`, `1h`).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub interval: Duration,
    /// `apply` keeps the accounts converged (within the guardrails); `observe` only reports drift.
    #[arg(long, value_enum, default_value_t = Mode::Apply)]
    pub mode: Mode,
    /// Address of the status server. Any non-loopback address requires an API token (`adsctl api-token`) or
    /// ADSCTL_STATUS_TOKEN.
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub listen: SocketAddr,
    /// Log as human-readable text or as JSON lines.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Quiet period after a file change before reloading.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pub debounce: Duration,
    /// Longest wait between retries of a failing account (backoff starts at 5s and doubles, with jitter).
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub max_backoff: Duration,
    /// On SIGINT/SIGTERM, how long a reconcile in flight may take to finish.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
    /// Do not watch the directory; reconcile on the interval only.
    #[arg(long)]
    pub no_file_watch: bool,
    /// Use the emulator (started in this process, its state kept in the state directory) instead of the real
    /// platforms, with its well-known credentials.
    #[arg(long)]
    pub emulator: bool,
    /// Longest single wait for a platform's rate limit (`90s`, `5m`, `unlimited`): a longer one fails that
    /// account's reconcile, which is retried when the platform allows.
    #[arg(long, default_value = "unlimited", value_parser = parse_max_wait, value_name = "DURATION")]
    pub max_wait: MaxWait,
    /// With the state on PostgreSQL (ADSCTL_STATE_URL), how long an account's lease lasts: the replicas sharing
    /// the database renew theirs every third of it, and take over a dead replica's accounts once it runs out.
    #[arg(long, default_value = "30s", value_parser = parse_lease, value_name = "DURATION")]
    pub lease: Duration,
    /// At most this many accounts reconciled at once (0: no limit). The others wait their turn; a platform's
    /// request budget then goes to reconciles that finish instead of being spread over many that wait.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub max_concurrent: usize,
}

/// `--lease`: a duration of at least one second (renewed every third of it).
fn parse_lease(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(1) {
        return Err("the lease must last at least 1s".into());
    }
    Ok(d)
}

/// `--max-wait`: the longest single wait for a platform's rate limit; `None` waits as long as the platform asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxWait(pub Option<Duration>);

/// A duration (see [`parse_duration`]), `0` (never wait) or `unlimited`.
pub fn parse_max_wait(s: &str) -> Result<MaxWait, String> {
    match s.trim() {
        "unlimited" | "none" => Ok(MaxWait(None)),
        "0" | "0s" | "0ms" => Ok(MaxWait(Some(Duration::ZERO))),
        other => parse_duration(other)
            .map(|d| MaxWait(Some(d)))
            .map_err(|e| format!("{e} (or `unlimited`)")),
    }
}

/// `500ms`, `90s`, `5m`, `1h`, `1h30m`, or a bare number of seconds; more than zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration_or_zero(s)?;
    if d.is_zero() {
        return Err("the duration must be positive".into());
    }
    Ok(d)
}

/// Like [`parse_duration`], zero allowed (`0s`: do not wait).
pub fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("invalid duration {s:?}: expected a number (e.g. 5m, 90s, 1h)"));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "d" => Duration::from_secs(n.saturating_mul(86_400)),
            _ => return Err(format!("invalid duration {s:?}: unit must be ms, s, m, h or d")),
        };
        total = total.saturating_add(d);
    }
    Ok(total)
}

/// The daemon's logger: stderr, every event scrubbed of secrets, info by default (`-v` debug, `-vv` trace,
/// `--quiet` errors only; a non-empty `RUST_LOG` wins), as text or JSON lines; and the trace export when the
/// environment configures one (`crate::otel`).
fn init_logging(global: &GlobalArgs, format: LogFormat) {
    use crate::secret::RedactingMakeWriter;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let default = if global.quiet {
        "error"
    } else {
        match global.verbose {
            0 => "info",
            1 => "adsctl=debug,info",
            _ => "adsctl=trace,debug",
        }
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt::layer().with_writer(RedactingMakeWriter(std::io::stderr));
    let log = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => builder
            .with_ansi(global.use_color(std::io::IsTerminal::is_terminal(&std::io::stderr())))
            .with_filter(filter)
            .boxed(),
    };
    // Another subscriber may already be set (tests): keep it. The trace export (when configured) takes adsctl's
    // spans whatever the log level, and sends them every few seconds (`OTEL_BSP_SCHEDULE_DELAY`, 5 s).
    let _ = tracing_subscriber::registry()
        .with(crate::otel::layer(true))
        .with(log)
        .try_init();
}

/// Resolves on the first SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}

fn daemon_config(args: &Args) -> DaemonConfig {
    let mut cfg = DaemonConfig::new(&args.dir);
    cfg.interval = args.interval;
    cfg.mode = args.mode;
    cfg.debounce = args.debounce;
    cfg.backoff = BackoffPolicy {
        max: args.max_backoff.max(BackoffPolicy::default().base),
        ..BackoffPolicy::default()
    };
    cfg.shutdown_grace = args.shutdown_grace;
    cfg.watch_files = !args.no_file_watch;
    cfg.concurrency = (args.max_concurrent > 0).then(|| Arc::new(tokio::sync::Semaphore::new(args.max_concurrent)));
    cfg
}

/// Serve the status server and run the daemon with `reconciler` until a signal; exit 0 after a clean stop.
pub async fn serve<R: Reconciler>(args: &Args, reconciler: Arc<R>) -> CommandResult {
    let mut config = daemon_config(args);
    if let crate::store::Location::Postgres(url) = crate::store::Location::of_project(&args.dir)? {
        config.leases = Some(leases(&url, args.lease).await?);
    }
    let daemon = Daemon::new(reconciler.clone(), config);
    // The integrations' credentials: the project's vault then the environment; under --emulator the emulator's
    // well-known credentials (the vault is not read, as for every --emulator command), while connect and
    // disconnect still write and delete the vault's entry.
    let auth = if args.emulator {
        crate::auth::Auth::with_env(&args.dir, super::emulated::auth_env())
    } else {
        crate::auth::Auth::for_project(&args.dir)
    };
    let api = crate::reconcile::server::Api {
        state_dir: Some(crate::auth::state_dir(&args.dir, &crate::auth::process_env())),
        commands: Some(daemon.handle().commands),
        auth: Some(auth),
        reconciler: Some(reconciler.clone() as Arc<dyn Reconciler>),
    };
    let server = StatusServer::bind_with(ServerConfig::from_env(args.listen), daemon.hub(), api).await?;
    let shutdown = CancellationToken::new();
    tracing::info!(listen = %server.local_addr(), "status server listening");
    let server_stop = CancellationToken::new();
    let server_task = tokio::spawn(server.serve(server_stop.clone()));
    let signal_token = shutdown.clone();
    let signals = tokio::spawn(async move {
        shutdown_signal().await;
        signal_token.cancel();
    });
    let result = daemon.run(shutdown).await;
    signals.abort();
    // The status server answers until the daemon has stopped (readyz says "shutting down" meanwhile).
    server_stop.cancel();
    match tokio::time::timeout(Duration::from_secs(5), server_task).await {
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "status server error"),
        Ok(Err(e)) => tracing::warn!(error = %e, "status server task failed"),
        Err(_) => tracing::warn!("status server did not stop in time"),
        Ok(Ok(Ok(()))) => {}
    }
    result?;
    Ok(ExitCode::SUCCESS)
}

/// The leases of this replica, over a connection of their own.
async fn leases(url: &str, lease: Duration) -> Result<Arc<crate::reconcile::Leases>, CommandError> {
    let url = url.to_string();
    // a round that cannot reach the database fails within a round, and the connection is made again after
    let io_timeout = (lease / 3).max(Duration::from_secs(1));
    let db = tokio::task::spawn_blocking(move || crate::store::PgStore::open_resilient(&url, io_timeout))
        .await
        .map_err(|e| CommandError::new(format!("cannot connect to the state: {e}")))??;
    let replica = crate::reconcile::lease::replica_id();
    tracing::info!(replica = %replica, state = %db.target(), lease = ?lease, "replica of the daemon on the PostgreSQL state");
    Ok(crate::reconcile::Leases::new(db, replica, lease))
}

pub fn run(global: &GlobalArgs, args: &Args) -> CommandResult {
    init_logging(global, args.log_format);
    if !args.dir.join("adsctl.yaml").is_file() {
        return Err(CommandError::new(format!("{} has no adsctl.yaml", args.dir.display()))
            .with_hint("pass the config directory: adsctl watch path/to/repo"));
    }
    if let crate::store::Location::Postgres(_) = crate::store::Location::of_project(&args.dir)? {
        // One of several replicas: the platform lease an apply takes (against CI runners) lives as long as the
        // account's lease, so that a replica killed on another host holds up the one taking its accounts over
        // for that long, not the 10 minutes a CI runner's lease lasts. Before any thread starts.
        if std::env::var_os("ADSCTL_LEASE_TTL_SECS").is_none() {
            std::env::set_var("ADSCTL_LEASE_TTL_SECS", args.lease.as_secs().max(1).to_string());
        }
    }
    if args.emulator {
        // Before any thread starts: the daemon's own auth (token refresh ahead of expiry, the status page's
        // expiry) reads the environment only, so a vault's real tokens are never sent to the emulator.
        std::env::set_var(crate::auth::env_names::AUTH_SOURCE, "env");
    }
    crate::auth::install(crate::auth::Auth::for_project(&args.dir));
    crate::connectors::wait::set_max_wait(args.max_wait.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CommandError::new(format!("cannot start the async runtime: {e}")))?;
    if args.emulator {
        return run_emulated(global, args, &runtime);
    }
    runtime.block_on(async {
        let reconciler = crate::reconcile::engine::EngineReconciler::open(&args.dir).await?;
        serve(args, Arc::new(reconciler)).await
    })
}

/// `watch --emulator`: the daemon over the in-process emulator. The state lock is taken first (one daemon or
/// apply per state), then the emulator starts from the state directory's `emulator.json` and saves it after
/// every reconcile and at exit.
fn run_emulated(global: &GlobalArgs, args: &Args, runtime: &tokio::runtime::Runtime) -> CommandResult {
    let mut project = super::plan::load_project(global, &args.dir)?;
    let reconciler = runtime.block_on(crate::reconcile::engine::EngineReconciler::open_with(
        &args.dir,
        Box::new(super::emulated::connector),
    ))?;
    let emulated = super::emulated::Emulated::for_project(runtime, &mut project, super::emulated::Persist::Yes)?;
    let reconciler = Arc::new(EmulatedReconciler {
        inner: reconciler,
        emulated,
    });
    runtime.block_on(serve(args, reconciler))
}

/// The engine's reconciler with every account pointed at the in-process emulator.
struct EmulatedReconciler {
    inner: crate::reconcile::engine::EngineReconciler,
    emulated: super::emulated::Emulated,
}

#[async_trait::async_trait]
impl Reconciler for EmulatedReconciler {
    async fn load(&self) -> Result<crate::spec::Project, crate::reconcile::LoadError> {
        let mut project = self.inner.load().await?;
        self.emulated.seed_new(project.accounts.values());
        super::emulated::point_at(project.accounts.values_mut(), self.emulated.url());
        Ok(project)
    }

    async fn reconcile(
        &self,
        project: &crate::spec::Project,
        account: &crate::model::Account,
        mode: Mode,
    ) -> Result<crate::reconcile::ReconcileOutcome, crate::reconcile::ReconcileError> {
        let outcome = self.inner.reconcile(project, account, mode).await;
        self.emulated.persist();
        outcome
    }

    async fn reconcile_leased(
        &self,
        project: &crate::spec::Project,
        account: &crate::model::Account,
        mode: Mode,
        lease: &crate::reconcile::AccountLease,
    ) -> Result<crate::reconcile::ReconcileOutcome, crate::reconcile::ReconcileError> {
        let outcome = self.inner.reconcile_leased(project, account, mode, lease).await;
        self.emulated.persist();
        outcome
    }

    fn take_api_calls(&self, account: &str) -> Vec<crate::reconcile::ApiCalls> {
        self.inner.take_api_calls(account)
    }

    fn state_ready(&self) -> bool {
        self.inner.state_ready()
    }

    async fn metrics_report(
        &self,
        project: &crate::spec::Project,
        accounts: &[String],
        query: &crate::reconcile::MetricsQuery,
    ) -> Result<crate::metrics::Report, crate::metrics::MetricsError> {
        self.inner.metrics_report(project, accounts, query).await
    }

    async fn shutdown(&self) {
        self.emulated.finish();
        self.inner.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(parse_max_wait("unlimited"), Ok(MaxWait(None)));
        assert_eq!(parse_max_wait("0"), Ok(MaxWait(Some(Duration::ZERO))));
        assert_eq!(parse_max_wait("2m"), Ok(MaxWait(Some(Duration::from_secs(120)))));
        assert!(parse_max_wait("soon").is_err());
    }
}
