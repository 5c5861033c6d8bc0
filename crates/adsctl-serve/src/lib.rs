//! Serving HTTP without letting clients exhaust the process: a connection cap, a header-read timeout and an
//! idle timeout, for the status server of `adsctl watch` and for the emulator.
//!
//! - **Cap**: at most [`Limits::max_connections`] connections are served at once. Accepting one more closes
//!   the connection that has been idle longest (no request in flight), so a flood of idle connections can
//!   neither exhaust file descriptors nor keep `/healthz` from answering. When every connection is busy, the new
//!   one is closed at once.
//! - **Header-read timeout**: a client must send a request's headers within [`Limits::header_read_timeout`]
//!   of starting it (or of connecting): slow-header clients are dropped.
//! - **Idle timeout**: a connection without a request in flight for [`Limits::idle_timeout`] is closed.
//!
//! The accept loop never stops on an accept error (out of file descriptors): it pauses and goes on.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// How many connections, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Limits {
    /// The defaults, overridden by `{prefix}_MAX_CONNECTIONS`, `{prefix}_HEADER_TIMEOUT_MS` and
    /// `{prefix}_IDLE_TIMEOUT_MS` (`ADSCTL_STATUS`, `ADSCTL_EMULATOR`).
    pub fn from_env(prefix: &str, defaults: Limits) -> Limits {
        let num = |k: &str| {
            std::env::var(format!("{prefix}_{k}"))
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|n| *n > 0)
        };
        Limits {
            max_connections: num("MAX_CONNECTIONS").map_or(defaults.max_connections, |n| n as usize),
            header_read_timeout: num("HEADER_TIMEOUT_MS").map_or(defaults.header_read_timeout, Duration::from_millis),
            idle_timeout: num("IDLE_TIMEOUT_MS").map_or(defaults.idle_timeout, Duration::from_millis),
        }
    }
}

/// What one connection is doing, for eviction and the idle timeout.
#[derive(Debug)]
pub struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds since the server started, at the last request's start or end.
    last: AtomicU64,
    epoch: Instant,
}

impl Activity {
    fn new(epoch: Instant) -> Activity {
        let a = Activity {
            in_flight: AtomicUsize::new(0),
            last: AtomicU64::new(0),
            epoch,
        };
        a.touch();
        a
    }
    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }
    fn idle_since(&self) -> Option<Instant> {
        (self.in_flight.load(Ordering::Relaxed) == 0)
            .then(|| self.epoch + Duration::from_millis(self.last.load(Ordering::Relaxed)))
    }

    /// Run `fut` (one request) counted as in flight on this connection.
    pub async fn request<F: Future>(&self, fut: F) -> F::Output {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
        let out = fut.await;
        self.touch();
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        out
    }
}

struct Entry {
    evict: CancellationToken,
    activity: Arc<Activity>,
}

/// The connections being served.
pub struct Slots {
    epoch: Instant,
    next: AtomicU64,
    conns: parking_lot::Mutex<HashMap<u64, Entry>>,
    /// One per connection, held until its socket is closed: evicting a connection frees its descriptor
    /// before the next one is served, so the descriptors in use never exceed the cap (plus the one accepted).
    permits: Arc<tokio::sync::Semaphore>,
    evicted: AtomicU64,
}

/// One admitted connection; leaves its slot when dropped (drop it after the socket).
pub struct Slot {
    id: u64,
    slots: Arc<Slots>,
    /// Cancelled when the connection is evicted to make room.
    pub evict: CancellationToken,
    pub activity: Arc<Activity>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.conns.lock().remove(&self.id);
    }
}

impl Slots {
    pub fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            epoch: Instant::now(),
            next: AtomicU64::new(0),
            conns: parking_lot::Mutex::new(HashMap::new()),
            permits: Arc::new(tokio::sync::Semaphore::new(max.max(1))),
            evicted: AtomicU64::new(0),
        })
    }

    /// Close the connection idle longest; false when every one has a request in flight.
    fn evict_idlest(&self) -> bool {
        let mut conns = self.conns.lock();
        let victim = conns
            .iter()
            .filter_map(|(id, e)| e.activity.idle_since().map(|t| (t, *id)))
            .min()
            .map(|(_, id)| id);
        match victim.and_then(|id| conns.remove(&id)) {
            Some(e) => {
                e.evict.cancel();
                self.evicted.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Admit a new connection. When full, the longest-idle one is closed first (and its descriptor freed);
    /// `None` when every connection has a request in flight.
    pub async fn admit(self: &Arc<Self>) -> Option<Slot> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => loop {
                if !self.evict_idlest() {
                    return None;
                }
                // the evicted connection's task closes its socket and gives its permit back
                match tokio::time::timeout(Duration::from_secs(1), self.permits.clone().acquire_owned()).await {
                    Ok(Ok(p)) => break p,
                    Ok(Err(_)) => return None,
                    Err(_) => continue,
                }
            },
        };
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let evict = CancellationToken::new();
        let activity = Arc::new(Activity::new(self.epoch));
        self.conns.lock().insert(
            id,
            Entry {
                evict: evict.clone(),
                activity: activity.clone(),
            },
        );
        Some(Slot {
            id,
            slots: self.clone(),
            evict,
            activity,
            _permit: permit,
        })
    }

    /// Connections served now.
    pub fn len(&self) -> usize {
        self.conns.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Connections closed to make room so far.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }
}

/// Resolves when `activity` has had no request in flight for `idle`.
pub async fn idle_timeout(activity: &Activity, idle: Duration) {
    loop {
        let deadline = match activity.idle_since() {
            Some(since) => since + idle,
            None => Instant::now() + idle,
        };
        tokio::time::sleep_until(deadline.into()).await;
        if activity.idle_since().is_some_and(|since| since.elapsed() >= idle) {
            return;
        }
    }
}

/// Pause after a failed accept (out of file descriptors): log it at most once a second.
pub async fn accept_failed(e: &std::io::Error, last_logged: &mut Option<Instant>) {
    if last_logged.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
        tracing::warn!(error = %e, "cannot accept a connection; pausing");
        *last_logged = Some(Instant::now());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Serve `router` on `listener` over HTTP/1.1 within `limits` until `stop` is cancelled; then let requests in
/// flight finish (for up to 5 s).
pub async fn serve_http1(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limits: Limits,
    stop: CancellationToken,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt;

    let slots = Slots::new(limits.max_connections);
    let mut conns = tokio::task::JoinSet::new();
    let mut logged = None;
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            a = listener.accept() => a,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                accept_failed(&e, &mut logged).await;
                continue;
            }
        };
        let Some(slot) = slots.admit().await else {
            // every connection has a request in flight: refuse this one rather than queue without bound
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let stop = stop.clone();
        conns.spawn(async move {
            let activity = slot.activity.clone();
            let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let router = router.clone();
                let activity = activity.clone();
                async move {
                    let resp = activity.request(router.oneshot(req.map(axum::body::Body::new))).await;
                    Ok::<_, std::convert::Infallible>(match resp {
                        Ok(r) => r,
                        Err(never) => match never {},
                    })
                }
            });
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()).http1_only();
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = slot.evict.cancelled() => {}
                _ = idle_timeout(&slot.activity, limits.idle_timeout) => {}
                // idle connections (and half-sent requests) close at once; requests in flight finish
                _ = stop.cancelled() => {
                    if slot.activity.idle_since().is_none() {
                        conn.as_mut().graceful_shutdown();
                        let _ = tokio::time::timeout(Duration::from_secs(5), conn.as_mut()).await;
                    }
                }
            }
        });
    }
    drop(listener);
    // requests in flight finish (each connection shuts down gracefully on `stop`)
    let _ = tokio::time::timeout(Duration::from_secs(6), async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_house_evicts_the_longest_idle_connection_and_refuses_when_all_are_busy() {
        let slots = Slots::new(2);
        let a = slots.admit().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let b = slots.admit().await.unwrap();
        // a is the longest idle: it is told to go, and the newcomer waits for its descriptor
        let (watch_a, a_evicted) = (
            a.evict.clone(),
            tokio::spawn(async move {
                a.evict.cancelled().await;
                drop(a)
            }),
        );
        let c = slots.admit().await.unwrap();
        a_evicted.await.unwrap();
        assert!(watch_a.is_cancelled() && !b.evict.is_cancelled());
        assert_eq!(slots.len(), 2);
        // both busy: refused
        b.activity.in_flight.fetch_add(1, Ordering::Relaxed);
        c.activity.in_flight.fetch_add(1, Ordering::Relaxed);
        assert!(slots.admit().await.is_none());
        c.activity.in_flight.fetch_sub(1, Ordering::Relaxed);
        let c_evict = c.evict.clone();
        let c_gone = tokio::spawn(async move {
            c.evict.cancelled().await;
            drop(c)
        });
        let _d = slots.admit().await.unwrap();
        c_gone.await.unwrap();
        assert!(c_evict.is_cancelled() && !b.evict.is_cancelled());
        assert_eq!(slots.evicted(), 2);
    }

    #[tokio::test]
    async fn idle_connections_time_out_and_busy_ones_do_not() {
        let slots = Slots::new(4);
        let s = slots.admit().await.unwrap();
        let t = Instant::now();
        idle_timeout(&s.activity, Duration::from_millis(50)).await;
        assert!(t.elapsed() >= Duration::from_millis(50));
        s.activity.in_flight.fetch_add(1, Ordering::Relaxed);
        let r = tokio::time::timeout(
            Duration::from_millis(150),
            idle_timeout(&s.activity, Duration::from_millis(50)),
        )
        .await;
        assert!(r.is_err(), "a request in flight is not idle");
    }
}
