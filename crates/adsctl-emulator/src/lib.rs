//! `adsctl emulator`: a wire-faithful local emulator of the ad platforms' APIs (LocalStack for ad platforms).
//!
//! Shares no wire types or mapping code with the connectors (in `src/platforms/` of the `adsctl` crate): each side
//! is written from `../shared/reference` on its own, so a misreading in one is caught by the other. That is why
//! this is a crate of its own: it cannot depend on `adsctl`, whose connectors it must not see (`tests/workspace.rs`
//! fails if it does). The `adsctl` crate depends on it (`adsctl emulator`, `--emulator`) and re-exports it as
//! `adsctl::emulator`.
//!
//! The emulator refuses what the platforms refuse. Every rule it enforces is a row of `docs/wire-rules.md` (rule,
//! where the pack states it, the error, the test); a new wire fact goes into the emulator and that table in the
//! same change.
//!
//! Layout: this crate's root owns the server ([`server`]), configuration and the seed file ([`config`]), persistence,
//! fault injection ([`faults`]), request counting ([`counters`]) and the admin API under `/_emulator/`; each
//! platform lives in its own folder and implements [`PlatformEmulator`].
//!
//! Admin API (never subject to faults, never counted):
//! - `GET /_emulator/health`, `POST /_emulator/reset`, `GET /_emulator/dump`
//! - `GET /_emulator/requests` (per endpoint: requests, operations, statuses), `DELETE /_emulator/requests`
//!   or `POST /_emulator/requests/reset`
//! - `GET|POST /_emulator/faults` (`{"5xx":0.05,"latency":"20ms","seed":7}` or `{"spec":"5xx=0.05,…"}`)
//! - platform routes under `/_emulator/<platform>/…` (see each platform)
//!
//! Writing a platform: implement [`PlatformEmulator`] and add one line to [`build_platforms`]. Its router
//! must use paths no other platform uses (Google: `/v25/…`, `/token`, `/o/oauth2/…`; TikTok: `/open_api/…`,
//! `/portal/auth`; LinkedIn: `/rest/…`, `/oauth/v2/…`; X: `/12/…`; Mailchimp: `/3.0/…`, `/oauth2/…`; HubSpot:
//! `/marketing/…`, `/crm/…`, `/oauth/authorize`, `/oauth/{v}/…`; Salesforce: `/services/…`, `/id/…`); the core wraps it in
//! fault injection and request counting. Per request, the platform may set the response extensions
//! [`OperationCount`] (operations carried) and [`EndpointLabel`] (`"POST /v25/customers/{customerId}/…"`,
//! when it matches with a catch-all), and must honour [`ReadLag`] on reads. Shared settings (token TTL, review
//! delay, rate limits, metric seed, seed accounts) come from [`EmulatorConfig`].

pub mod config;
pub mod counters;
pub mod faults;
pub mod google_ads;
pub mod hubspot;
pub mod linkedin;
pub mod mailchimp;
pub mod meta;
pub mod platform;
pub mod rng;
pub mod salesforce;
pub mod server;
pub mod tiktok;
pub mod x;

use std::any::Any;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use config::{EmulatorConfig, RateLimits, SeedFile};
pub use counters::{Counters, EndpointLabel, OperationCount};
pub use faults::{FaultSpec, FaultState, ReadLag};
pub use platform::{FaultKind, PlatformEmulator};

/// Errors starting or persisting the emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot listen on {addr}: {message}")]
    Bind { addr: SocketAddr, message: String },
    #[error("refusing to listen on {0}: the emulator binds loopback addresses only (127.0.0.1 or ::1)")]
    NotLoopback(SocketAddr),
    #[error("seed file {path}: {message}")]
    Seed { path: PathBuf, message: String },
    #[error("data file {path}: {message}")]
    Data { path: PathBuf, message: String },
}

impl EmulatorError {
    /// A hint for the user.
    pub fn hint(&self) -> &'static str {
        match self {
            EmulatorError::Bind { .. } => "pick another port, or --listen 127.0.0.1:0 for a free one",
            EmulatorError::NotLoopback(_) => "use --listen 127.0.0.1:PORT",
            EmulatorError::Seed { .. } => "see `adsctl emulator --help` for the seed file format",
            EmulatorError::Data { .. } => "move the file away to start from an empty state",
        }
    }
}

/// The emulated platforms, each reachable as a trait object (for the core) and by its concrete type.
#[derive(Default, Clone)]
pub struct Platforms {
    list: Vec<(Arc<dyn PlatformEmulator>, Arc<dyn Any + Send + Sync>)>,
}

impl Platforms {
    /// Register one platform.
    pub fn add<P: PlatformEmulator>(&mut self, p: Arc<P>) {
        self.list.push((p.clone(), p));
    }
    /// Every platform.
    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn PlatformEmulator>> {
        self.list.iter().map(|(p, _)| p)
    }
    /// A platform by its concrete type, e.g. `platforms.get::<google_ads::GoogleAdsEmulator>()`.
    pub fn get<P: PlatformEmulator>(&self) -> Option<Arc<P>> {
        self.list.iter().find_map(|(_, any)| any.clone().downcast::<P>().ok())
    }
    /// A platform by name (`google_ads`, `meta`, `tiktok`, `linkedin`, `x`, `mailchimp`, `hubspot`, `salesforce`).
    pub fn by_name(&self, name: &str) -> Option<Arc<dyn PlatformEmulator>> {
        self.all().find(|p| p.name() == name).cloned()
    }
}

/// Build every platform from the config.
pub fn build_platforms(config: &EmulatorConfig) -> Platforms {
    let mut p = Platforms::default();
    p.add(Arc::new(google_ads::GoogleAdsEmulator::new(config)));
    p.add(Arc::new(meta::MetaEmulator::new(config)));
    p.add(Arc::new(tiktok::TikTokEmulator::new(config)));
    p.add(Arc::new(linkedin::LinkedInEmulator::new(config)));
    p.add(Arc::new(x::XEmulator::new(config)));
    p.add(Arc::new(mailchimp::MailchimpEmulator::new(config)));
    p.add(Arc::new(hubspot::HubSpotEmulator::new(config)));
    p.add(Arc::new(salesforce::SalesforceEmulator::new(config)));
    p
}

/// Entry point: `Emulator::start(config).await`.
pub struct Emulator;

impl Emulator {
    /// Bind, restore `--data` if present, and serve in the background of the current tokio runtime.
    pub async fn start(config: EmulatorConfig) -> Result<EmulatorHandle, EmulatorError> {
        if !config.listen.ip().is_loopback() {
            return Err(EmulatorError::NotLoopback(config.listen));
        }
        let platforms = build_platforms(&config);
        if let Some(path) = &config.data {
            server::restore(&platforms, path)?;
        }
        let core = Arc::new(server::Core {
            platforms: platforms.clone(),
            counters: Arc::new(Counters::default()),
            faults: Arc::new(FaultState::new(config.faults.clone(), config.fault_hang)),
        });
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| EmulatorError::Bind {
                addr: config.listen,
                message: e.to_string(),
            })?;
        let addr = listener.local_addr().map_err(|e| EmulatorError::Bind {
            addr: config.listen,
            message: e.to_string(),
        })?;
        let stop = Arc::new(Notify::new());
        let app = server::app(core.clone());
        let accept = tokio::spawn(server::accept_loop(listener, app, stop.clone()));
        let persister = config.data.clone().map(|path| {
            let platforms = platforms.clone();
            let every = config.persist_interval;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let (ps, p) = (platforms.clone(), path.clone());
                    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || server::persist(&ps, &p)).await {
                        tracing::warn!("emulator: {e}");
                    }
                }
            })
        });
        Ok(EmulatorHandle {
            addr,
            core,
            data: config.data,
            stop,
            accept: Some(accept),
            persister,
        })
    }
}

/// A running emulator. Dropping it stops the server (without the final save; call [`EmulatorHandle::shutdown`]).
pub struct EmulatorHandle {
    addr: SocketAddr,
    core: Arc<server::Core>,
    data: Option<PathBuf>,
    stop: Arc<Notify>,
    accept: Option<JoinHandle<()>>,
    persister: Option<JoinHandle<()>>,
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn platforms(&self) -> &Platforms {
        &self.core.platforms
    }
    /// The Google Ads emulator (for in-process setup and inspection).
    pub fn google_ads(&self) -> Option<Arc<google_ads::GoogleAdsEmulator>> {
        self.core.platforms.get()
    }
    pub fn counters(&self) -> &Counters {
        &self.core.counters
    }
    pub fn faults(&self) -> &FaultState {
        &self.core.faults
    }
    /// Save the state to `--data` now.
    pub fn persist(&self) -> Result<(), EmulatorError> {
        match &self.data {
            Some(p) => server::persist(&self.core.platforms, p),
            None => Ok(()),
        }
    }
    /// Stop serving, then save the state to `--data`.
    pub async fn shutdown(mut self) -> Result<(), EmulatorError> {
        self.stop.notify_one();
        if let Some(a) = self.accept.take() {
            let _ = a.await;
        }
        if let Some(p) = self.persister.take() {
            p.abort();
        }
        self.persist()
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(a) = self.accept.take() {
            a.abort();
        }
        if let Some(p) = self.persister.take() {
            p.abort();
        }
    }
}
