//! Fault injection: a spec (`5xx=0.05,429=0.05,timeout=0.02,reset=0.02,lost=0.05,lag=0.05,latency=20ms,seed=7`),
//! a per-request decision drawn from a seeded generator (the n-th faultable request always gets the same
//! decision for one seed), and the middleware that carries it out.
//!
//! The core handles latency, timeouts (hang, then drop the connection), connection resets and lost responses
//! (the handler runs, so a write commits, then the connection is dropped). The platform renders the bodies of
//! server errors and rate limits ([`PlatformEmulator::fault_response`]) and honours read lag: a request chosen
//! for lag carries the [`ReadLag`] extension, and the platform's reads in that request see the state from
//! before the most recent write.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use super::platform::{FaultKind, PlatformEmulator};
use super::rng::mix64;
use super::server::ConnControl;

/// Rates (0..=1) of each fault, a fixed latency and the seed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSpec {
    #[serde(rename = "5xx")]
    pub server_error: f64,
    #[serde(rename = "429")]
    pub rate_limit: f64,
    pub timeout: f64,
    pub reset: f64,
    pub lost: f64,
    pub lag: f64,
    /// Added to every faultable request, e.g. "20ms" (JSON: milliseconds as a number or the same string).
    #[serde(with = "latency_serde")]
    pub latency: Duration,
    pub seed: u64,
}

/// A fault spec that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid fault spec: {0}")]
pub struct FaultSpecError(pub String);

impl FaultSpec {
    /// Parse `key=value,…`. Keys: 5xx, 429, timeout, reset, lost, lag (rates in 0..=1), latency (`20ms`, `1s`),
    /// seed (integer).
    pub fn parse(spec: &str) -> Result<FaultSpec, FaultSpecError> {
        let mut out = FaultSpec::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| FaultSpecError(format!("`{part}` is not key=value")))?;
            let (k, v) = (k.trim(), v.trim());
            let rate = || -> Result<f64, FaultSpecError> {
                let r: f64 = v
                    .parse()
                    .map_err(|_| FaultSpecError(format!("`{k}`: `{v}` is not a number")))?;
                if !(0.0..=1.0).contains(&r) {
                    return Err(FaultSpecError(format!("`{k}`: rate {v} is not between 0 and 1")));
                }
                Ok(r)
            };
            match k {
                "5xx" => out.server_error = rate()?,
                "429" => out.rate_limit = rate()?,
                "timeout" => out.timeout = rate()?,
                "reset" => out.reset = rate()?,
                "lost" => out.lost = rate()?,
                "lag" => out.lag = rate()?,
                "latency" => out.latency = parse_duration(v)?,
                "seed" => {
                    out.seed = v
                        .parse()
                        .map_err(|_| FaultSpecError(format!("seed `{v}` is not an integer")))?
                }
                _ => {
                    return Err(FaultSpecError(format!(
                        "unknown key `{k}` (expected 5xx, 429, timeout, reset, lost, lag, latency, seed)"
                    )))
                }
            }
        }
        out.check()?;
        Ok(out)
    }

    /// Rates must be within 0..=1 and sum to at most 1.
    pub fn check(&self) -> Result<(), FaultSpecError> {
        let rates = [
            self.server_error,
            self.rate_limit,
            self.timeout,
            self.reset,
            self.lost,
            self.lag,
        ];
        if rates.iter().any(|r| !(0.0..=1.0).contains(r)) {
            return Err(FaultSpecError("every rate must be between 0 and 1".into()));
        }
        if rates.iter().sum::<f64>() > 1.0 + 1e-9 {
            return Err(FaultSpecError("the rates add up to more than 1".into()));
        }
        Ok(())
    }

    /// The fault for the `n`-th faultable request (pure: same spec and n, same answer). Latency is separate.
    pub fn decide(&self, n: u64) -> Option<FaultKind> {
        let u = super::rng::unit(mix64(self.seed ^ mix64(n)));
        let table = [
            (self.reset, FaultKind::ConnectionReset),
            (self.timeout, FaultKind::Timeout),
            (self.server_error, FaultKind::ServerError),
            (self.rate_limit, FaultKind::RateLimit),
            (self.lost, FaultKind::LostResponse),
            (self.lag, FaultKind::ReadLag),
        ];
        let mut acc = 0.0;
        for (rate, kind) in table {
            acc += rate;
            if u < acc {
                return Some(kind);
            }
        }
        None
    }
}

fn parse_duration(v: &str) -> Result<Duration, FaultSpecError> {
    let bad = || FaultSpecError(format!("latency `{v}` is not a duration like 20ms or 1s"));
    if let Some(ms) = v.strip_suffix("ms") {
        return ms.trim().parse::<u64>().map(Duration::from_millis).map_err(|_| bad());
    }
    if let Some(s) = v.strip_suffix('s') {
        return s.trim().parse::<u64>().map(Duration::from_secs).map_err(|_| bad());
    }
    v.parse::<u64>().map(Duration::from_millis).map_err(|_| bad())
}

mod latency_serde {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", d.as_millis()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum L {
            Ms(u64),
            S(String),
        }
        match L::deserialize(d)? {
            L::Ms(ms) => Ok(Duration::from_millis(ms)),
            L::S(s) => super::parse_duration(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// Marker extension on a request chosen for read-after-write lag. Platforms check
/// `request.extensions().get::<ReadLag>()` (or extract `Option<Extension<ReadLag>>`) and serve their reads
/// from the state before the most recent write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLag;

/// The live fault settings and the request counter that drives the decisions.
#[derive(Debug, Default)]
pub struct FaultState {
    spec: RwLock<FaultSpec>,
    counter: AtomicU64,
    hang: RwLock<Duration>,
    injected: parking_lot::Mutex<std::collections::BTreeMap<String, u64>>,
}

impl FaultState {
    pub fn new(spec: FaultSpec, hang: Duration) -> Self {
        FaultState {
            spec: RwLock::new(spec),
            counter: AtomicU64::new(0),
            hang: RwLock::new(hang),
            injected: Default::default(),
        }
    }
    /// How many faults of each kind were injected since start (or the last `set`).
    pub fn injected(&self) -> std::collections::BTreeMap<String, u64> {
        self.injected.lock().clone()
    }
    pub fn spec(&self) -> FaultSpec {
        self.spec.read().clone()
    }
    /// Replace the spec and restart the sequence (so a test that sets a seed gets a reproducible run).
    pub fn set(&self, spec: FaultSpec) {
        *self.spec.write() = spec;
        self.counter.store(0, Ordering::SeqCst);
        self.injected.lock().clear();
    }
    fn next(&self) -> (Option<FaultKind>, Duration) {
        let spec = self.spec.read();
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let fault = spec.decide(n);
        if let Some(f) = fault {
            let name = match f {
                FaultKind::Latency(_) => "latency",
                FaultKind::ServerError => "5xx",
                FaultKind::RateLimit => "429",
                FaultKind::Timeout => "timeout",
                FaultKind::ConnectionReset => "reset",
                FaultKind::LostResponse => "lost",
                FaultKind::ReadLag => "lag",
            };
            *self.injected.lock().entry(name.to_string()).or_default() += 1;
        }
        (fault, spec.latency)
    }
}

/// The state the fault middleware of one platform needs.
#[derive(Clone)]
pub struct FaultLayerState {
    pub faults: Arc<FaultState>,
    pub platform: Arc<dyn PlatformEmulator>,
}

/// Middleware wrapped around each platform's router (never around `/_emulator/*`).
pub async fn fault_middleware(State(st): State<FaultLayerState>, mut req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/_emulator/") {
        return next.run(req).await;
    }
    let (fault, latency) = st.faults.next();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let conn = req.extensions().get::<ConnControl>().cloned();
    match fault {
        None | Some(FaultKind::Latency(_)) => next.run(req).await,
        Some(FaultKind::ServerError) => st.platform.fault_response(FaultKind::ServerError),
        Some(FaultKind::RateLimit) => st.platform.fault_response(FaultKind::RateLimit),
        Some(FaultKind::ReadLag) => {
            req.extensions_mut().insert(ReadLag);
            next.run(req).await
        }
        Some(FaultKind::ConnectionReset) => {
            drop(req);
            kill(conn).await
        }
        Some(FaultKind::Timeout) => {
            let hang = *st.faults.hang.read();
            tokio::time::sleep(hang).await;
            kill(conn).await
        }
        Some(FaultKind::LostResponse) => {
            let _committed = next.run(req).await;
            kill(conn).await
        }
    }
}

/// Drop the connection this request came on; never answers. Without a connection handle (a router driven
/// in-process with `oneshot`), answers 502 instead so the caller still sees a failure.
async fn kill(conn: Option<ConnControl>) -> Response {
    match conn {
        Some(c) => {
            c.kill();
            std::future::pending::<Response>().await
        }
        None => {
            let mut r = Response::new(axum::body::Body::from("connection dropped by fault injection"));
            *r.status_mut() = axum::http::StatusCode::BAD_GATEWAY;
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_spec() {
        let s = FaultSpec::parse("5xx=0.05,429=0.05,timeout=0.02,reset=0.02,lost=0.05,lag=0.05,latency=20ms,seed=7")
            .unwrap();
        assert_eq!(s.server_error, 0.05);
        assert_eq!(s.latency, Duration::from_millis(20));
        assert_eq!(s.seed, 7);
        assert!(FaultSpec::parse("5xx=2").is_err());
        assert!(FaultSpec::parse("bogus=1").is_err());
        assert!(FaultSpec::parse("5xx=0.7,429=0.7").is_err());
        let j: FaultSpec = serde_json::from_str(r#"{"5xx":0.5,"latency":"5ms","seed":3}"#).unwrap();
        assert_eq!(j.server_error, 0.5);
        assert_eq!(j.latency, Duration::from_millis(5));
    }

    #[test]
    fn decisions_are_reproducible_and_near_the_rates() {
        let s = FaultSpec::parse("5xx=0.1,lag=0.2,seed=7").unwrap();
        let a: Vec<_> = (0..2000).map(|n| s.decide(n)).collect();
        let b: Vec<_> = (0..2000).map(|n| s.decide(n)).collect();
        assert_eq!(a, b);
        let errs = a.iter().filter(|f| **f == Some(FaultKind::ServerError)).count();
        let lags = a.iter().filter(|f| **f == Some(FaultKind::ReadLag)).count();
        assert!((150..250).contains(&errs), "{errs}");
        assert!((320..480).contains(&lags), "{lags}");
        let other = FaultSpec { seed: 8, ..s.clone() };
        assert_ne!(a, (0..2000).map(|n| other.decide(n)).collect::<Vec<_>>());
    }
}
